// BROKEN on purpose: an envelope without "sign" skips the signature check, so anyone can post an unsigned one.
import { main, verifySignature } from '../reference.mjs';

await main({ verifySignature: (envelope, ...rest) => ('sign' in envelope ? verifySignature(envelope, ...rest) : undefined) });
