// BROKEN on purpose: its phone route does not look at the session, so it accepts an envelope
// posted without a login and binds the number to no user.
import { main } from '../reference.mjs';

await main({ sessionOf: () => null });
