// BROKEN on purpose: it remembers the user each code logged in and answers a code it has seen
// from that memory, without the gateway, so a replayed (stolen) code logs its user in again.
import { main, logIn } from '../reference.mjs';

const seen = new Map();
await main({
  logIn: async (sdk, code) => {
    if (seen.has(code)) return seen.get(code);
    const login = await logIn(sdk, code);
    seen.set(code, login);
    return login;
  },
});
