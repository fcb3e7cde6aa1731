// BROKEN on purpose: it does not verify the gateway's answer (the Node SDK's `exec` without
// `validateSign: true`, its default), so a tampered or forged login answer logs someone in.
import { main, logIn } from '../reference.mjs';

await main({ logIn: (sdk, code) => logIn(sdk, code, { validateSign: false }) });
