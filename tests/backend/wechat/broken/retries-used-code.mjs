// BROKEN on purpose: on any getuserphonenumber errcode other than the token errors (40029, 48001, -1...), it sends the same phone code once more before answering (a "retry after timeout" bug, spec §7.4): the code is single-use, so the retry can only get 40029 and WeChat's journal shows the code twice.
import { start } from '../reference.mjs';

await start({ retryUsedCode: true });
