// BROKEN on purpose: never checks the signature, so forged or unsigned envelopes pass as long as they decrypt.
import { main } from '../reference.mjs';

await main({ verifySignature: () => {} });
