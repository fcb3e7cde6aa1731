// BROKEN on purpose: verifies the signature over the bare ciphertext, without its quotes, so genuine envelopes fail and ones signed that wrong way pass.
import { main, verifySignature } from '../reference.mjs';

const unquoted = (content) => (typeof content === 'string' ? content : JSON.stringify(content));
await main({ verifySignature: (envelope, sdk, signType) => verifySignature(envelope, sdk, signType, unquoted) });
