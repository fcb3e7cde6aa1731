// BROKEN on purpose: treats any authentic content as a phone number, so error codes (40003, 40006, 20000...) and an empty or missing mobile answer 200.
import { main } from '../reference.mjs';

await main({ judgePlaintext: (plaintext) => ({ mobile: plaintext.mobile }) });
