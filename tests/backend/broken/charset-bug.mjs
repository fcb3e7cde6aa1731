// BROKEN on purpose: a charset bug. It takes the decrypted content for damaged unless it is plain ASCII (as a backend decoding it in a single-byte charset and checking the result does), so a genuine 40003 or 40006, whose subMsg is Chinese, is refused as undecryptable: 401 "forged", the answer a forgery gets. A suite with one `refusal` for every class cannot tell; one that declares `refusals` can.
import { main, decryptContent, forged } from '../reference.mjs';

await main({
  decryptContent: (envelope, sdk) => {
    const plaintext = decryptContent(envelope, sdk);
    if (typeof envelope.response === 'string' && /[^\x00-\x7f]/.test(JSON.stringify(plaintext))) {
      throw forged('the content does not decrypt with the AES key to ASCII text (wrong key or damaged ciphertext)');
    }
    return plaintext;
  },
});
