// BROKEN on purpose: fetches a new access token from /cgi-bin/token for every phone call instead of caching one (spec §7.5): each fetch supersedes the previous token, so several such servers invalidate each other's tokens (40001 storms) and the daily token quota runs out.
import { start } from '../reference.mjs';

await start({ cacheToken: false });
