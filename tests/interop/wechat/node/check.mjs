// What a backend built on npm wechat-oauth 1.5.0 (lib/wx_biz_data_crypt.js, the port of WeChat's
// official WXBizDataCrypt Node demo) or node-easywechat 3.6.2 (MiniApp) gets. The libraries do all
// the crypto and HTTP; this file only feeds them cases and writes down what came back.
//
// Usage: node check.mjs decrypt|live FILE   -> one JSON array on stdout (see ../README.md).
// Exit status is non-zero only for harness errors (bad arguments or input file).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const WXBizDataCrypt = require('wechat-oauth/lib/wx_biz_data_crypt.js');
const { MiniApp, CacheInterface } = require('node-easywechat');

const OP_TIMEOUT_MS = 20000; // per live op, so a library stuck in a retry loop becomes an outcome

const detail = (e) => `${e?.constructor?.name ?? typeof e}: ${e?.message ?? e}`;
// Both libraries return the parsed object, not the text: written back compactly, in parse order.
const compact = (obj) => JSON.stringify(obj);

// Every decrypt function the two libraries have, as [call, fn].
function decryptCalls(app, appid) {
  return [
    // Checks watermark.appid itself ("Invalid Watermark, Be Sure to Check Again").
    ['wechat-oauth WXBizDataCrypt.decryptData',
      (sk, iv, ed) => new WXBizDataCrypt(appid, sk).decryptData(ed, iv)],
    // No watermark check; note the argument order (sessionKey, iv, ciphertext).
    ['node-easywechat decryptSession', (sk, iv, ed) => app.getUtils().decryptSession(sk, iv, ed)],
  ];
}

function runDecrypt(app, appid, sk, iv, ed) {
  return decryptCalls(app, appid).map(([call, fn]) => {
    try {
      return { call, outcome: 'ok', plaintext: compact(fn(sk, iv, ed)), detail: '' };
    } catch (e) {
      return { call, outcome: 'error', detail: detail(e) };
    }
  });
}

// In-memory token cache (the library's CacheInterface; its default is a file cache in cwd).
class MemoryCache extends CacheInterface {
  constructor() { super(); this.m = new Map(); }
  async get(k) { const e = this.m.get(k); return e && (!e.until || e.until > Date.now()) ? e.v : null; }
  async has(k) { return (await this.get(k)) !== null; }
  async set(k, v, lifetime) { this.m.set(k, { v, until: lifetime > 0 ? Date.now() + lifetime * 1000 : 0 }); return true; }
  async delete(k) { return this.m.delete(k); }
}

function makeApp(appid, secret, baseURL) {
  // The library's own setting: http options are merged over its default baseURL.
  const app = new MiniApp({ app_id: appid, secret, http: { baseURL: baseURL.replace(/\/*$/, '/') } });
  app.setCache(new MemoryCache());
  return app;
}

function decryptMode(cases) {
  const out = [];
  for (const c of cases) {
    const app = makeApp(c.appid, 'unused', 'http://127.0.0.1:9/');
    for (const r of runDecrypt(app, c.appid, c.session_key, c.iv, c.encryptedData)) out.push({ name: c.name, ...r });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.call < b.call ? -1 : a.call > b.call ? 1 : 0));
}

function errcodeOf(e) {
  const m = /errcode"?\s*[:=]\s*(-?\d+)/.exec(String(e?.message ?? e));
  return m ? Number(m[1]) : null;
}

class GuardError extends Error {} // raised by the harness, never by a library
class HarnessError extends Error {} // a malformed FILE found while running it: exit 2

const PAGE_METHODS = { page: ['GET', 'POST', 'PATCH'], http: ['GET', 'POST'] };

// $APPID / $SECRET replaced inside a path or the string values of a JSON body.
function withCredentials(v, appid, secret) {
  if (typeof v === 'string') return v.split('$APPID').join(appid).split('$SECRET').join(secret);
  if (Array.isArray(v)) return v.map((x) => withCredentials(x, appid, secret));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withCredentials(x, appid, secret)]));
  return v;
}

// A request not made through the library: the parsed JSON answer (null if empty); an HTTP status
// >= 400 throws with the answer in the message.
async function plainHttp(method, url, body) {
  const init = { method };
  if (body != null) Object.assign(init, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status >= 400) throw new Error(`HTTP ${res.status}: ${text}`);
  return text.trim() ? JSON.parse(text) : null;
}

// What a page answer gives later ops: $login from wx.login, $phone/$encryptedData/$iv (and a new
// $login from login_code_after) from tap. Only fields present (strings) are taken; a tap forgets the
// previous tap's $phone/$encryptedData/$iv first (a deny has none of them).
function remember(memory, path, value) {
  const p = path.split('?')[0].replace(/\/+$/, '');
  if (!value || typeof value !== 'object') return;
  const take = (name, v) => { if (typeof v === 'string') memory.set(name, v); };
  if (p.endsWith('/wx.login')) take('$login', value.code);
  else if (p.endsWith('/tap')) {
    for (const name of ['$phone', '$encryptedData', '$iv']) memory.delete(name); // this tap's, not an older one's
    const d = value.detail;
    if (d && typeof d === 'object') {
      take('$phone', d.code);
      take('$encryptedData', d.encryptedData);
      take('$iv', d.iv);
    }
    take('$login', value.login_code_after);
  }
}

// A value starting with $ is a placeholder for something a page op remembered.
function resolve(memory, index, v) {
  if (typeof v === 'string' && v.startsWith('$')) {
    if (!memory.has(v)) throw new HarnessError(`op ${index}: unknown placeholder ${v} (remembered: ${[...memory.keys()].sort().join(', ') || 'none'})`);
    return memory.get(v);
  }
  return v;
}

function withTimeout(promise) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new GuardError(`op still running after ${OP_TIMEOUT_MS / 1000} s`)), OP_TIMEOUT_MS);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

async function liveMode(spec) {
  const base = spec.base_url.replace(/\/+$/, '');
  const app = makeApp(spec.appid, spec.secret, base);
  let requests = 0; // every library request (token fetches included) goes through this axios instance
  app.getHttpClient().getInstance().interceptors.request.use((cfg) => { requests += 1; return cfg; });
  let lastSessionKey = null;
  const memory = new Map(); // placeholder -> value, filled by page ops
  const out = [];

  async function run(index, op, call, fn) {
    requests = 0;
    const row = { index, op: op.op, call };
    try {
      row.value = await withTimeout(Promise.resolve().then(fn));
      Object.assign(row, { outcome: 'ok', errcode: null, detail: '' });
    } catch (e) {
      Object.assign(row, { outcome: 'error', errcode: errcodeOf(e), detail: detail(e) });
    }
    row.requests = requests;
    out.push(row);
    return row;
  }

  for (const [index, op] of spec.ops.entries()) {
    switch (op.op) {
      case 'token':
        // The cached token (cached for the full expires_in), fetched on a miss.
        await run(index, op, 'node-easywechat getAccessToken().getToken', () => app.getAccessToken().getToken());
        break;
      case 'login': {
        const code = resolve(memory, index, op.code);
        // Throws `code2Session error: {...}` unless the answer has an openid; sends no access_token.
        const row = await run(index, op, 'node-easywechat getUtils().codeToSession', async () => {
          const r = await app.getUtils().codeToSession(code);
          return Object.fromEntries(['openid', 'session_key', 'unionid'].filter((k) => k in r).map((k) => [k, r[k]]));
        });
        if (row.outcome === 'ok') lastSessionKey = row.value.session_key;
        break;
      }
      case 'phone': {
        const code = resolve(memory, index, op.code);
        // No phone helper in 3.6.2: the README's generic client call. postJson does not throw on an
        // errcode (HTTP 200), so the errcode test below is the one every backend must write itself.
        await run(index, op, 'node-easywechat getClient().postJson wxa/business/getuserphonenumber', async () => {
          const r = (await app.getClient().postJson('wxa/business/getuserphonenumber', { code })).toObject();
          if (!r || r.errcode || !r.phone_info) throw new Error(`getuserphonenumber failed (backend check): ${JSON.stringify(r)}`);
          return r.phone_info;
        });
        break;
      }
      case 'decrypt': {
        const sk = op.session_key ?? lastSessionKey;
        const iv = resolve(memory, index, op.iv);
        const ed = resolve(memory, index, op.encryptedData);
        const rows = sk
          ? runDecrypt(app, spec.appid, sk, iv, ed)
          : decryptCalls(app, spec.appid).map(([call]) => ({ call, outcome: 'error', detail: 'NoSessionKey: session_key is null and no login op succeeded before' }));
        for (const r of rows) {
          const row = { index, op: op.op, call: r.call, outcome: r.outcome, errcode: null, detail: r.detail, requests: 0 };
          if (r.outcome === 'ok') row.value = r.plaintext;
          out.push(row);
        }
        break;
      }
      case 'advance':
        // Plain HTTP, not through the library: moves the simulator's clock.
        await run(index, op, 'http POST /api/v1/clock/advance', async () => {
          const res = await fetch(`${base}/api/v1/clock/advance`, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ seconds: op.seconds }),
          });
          const text = await res.text();
          if (!res.ok) throw new Error(`HTTP ${res.status}: ${text}`);
          return text.trim() ? JSON.parse(text) : null;
        });
        break;
      case 'page':
      case 'http': {
        // Plain HTTP, not through the library: a page's API call (page) or another server of the
        // same backend (http, e.g. a token fetched behind the library's back).
        if (!PAGE_METHODS[op.op].includes(op.method)) {
          throw new HarnessError(`op ${index}: ${op.op} method must be one of ${PAGE_METHODS[op.op].join('/')}, not ${JSON.stringify(op.method)}`);
        }
        if (op.method === 'GET' && op.body != null) throw new HarnessError(`op ${index}: ${op.op} GET takes no body`);
        if (typeof op.path !== 'string') throw new HarnessError(`op ${index}: ${op.op} needs a "path"`);
        const path = withCredentials(op.path, spec.appid, spec.secret);
        const body = withCredentials(op.body, spec.appid, spec.secret);
        const row = await run(index, op, op.op, () => plainHttp(op.method, base + path, body));
        if (op.op === 'page' && row.outcome === 'ok') remember(memory, path, row.value);
        break;
      }
      default:
        throw new Error(`op ${index}: unknown op ${JSON.stringify(op.op)}`);
    }
  }
  return out;
}

const [mode, file] = process.argv.slice(2);
if (!['decrypt', 'live'].includes(mode) || !file) {
  console.error('usage: node check.mjs decrypt|live FILE');
  process.exit(2);
}
let input;
try {
  input = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.error(`check.mjs: bad input ${file}: ${detail(e)}`);
  process.exit(2);
}
try {
  const result = mode === 'decrypt' ? decryptMode(input) : await liveMode(input);
  process.stdout.write(JSON.stringify(result, null, 1) + '\n');
  process.exit(0); // do not wait for sockets a timed-out op may have left open
} catch (e) {
  console.error(`check.mjs: harness error: ${detail(e)}`);
  process.exit(2);
}
