// A reference backend for the Alipay login, then the phone number, on the official npm
// `alipay-sdk`: it logs the user in with my.getAuthCode's code (alipay.system.oauth.token,
// its answer verified), keeps a session for that user, and binds the getPhoneNumber envelope
// posted on the session to that user. All signing, verifying and decrypting are the SDK's.
// Copy it as a starting point.
//
// Run it against the simulator:
//   alipay-sim keys --seed 7 --login --json > keys.json
//   (cd tests/backend && npm ci)
//   KEYS_FILE=keys.json GATEWAY=http://127.0.0.1:8088/gateway.do node tests/backend/login/reference.mjs
//   alipay-sim play alipay-login --seed 7 --backend http://127.0.0.1:3000
//
// Configuration (environment):
//   KEYS_FILE   the JSON of `alipay-sim keys --seed N --login --json`: app_id, the app private
//               key (app_private_key_pkcs1_pem), alipay_public_key and aes_key
//   GATEWAY     the gateway's URL: http://127.0.0.1:8088/gateway.do (play's --alipay-addr) by
//               default; Alipay's own is https://openapi.alipay.com/gateway.do
//   HOST, PORT  where to listen: 127.0.0.1 and 3000 by default; PORT=0 picks a free port
// On start it prints one line, `listening on http://HOST:PORT`.
//
// API:
//   POST /api/login    {"authCode"}: 200 {"user", "session"} and a `sid` cookie; 401 when the
//                      gateway refuses the code or its answer does not verify; 503 when busy
//   POST /api/me/phone the envelope, in any of the reference phone backend's shapes, with the
//                      `sid` cookie: 200 {"user", "mobile"}; 401 without a session; else the
//                      phone backend's refusal (401 forged, 422 not a phone number, 400)
//
// The steps (`logIn`, `sessionOf`) are exported, and main() takes replacements for them;
// tests/backend/login/broken/ uses that to build deliberately wrong backends.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { AlipaySdk } from 'alipay-sdk';
import { conclude, createSdk, envelopeFromBody, MAX_BODY_BYTES } from '../reference.mjs';

/** Reads KEYS_FILE and the environment; exits with a message when something is missing. */
export function loadConfig(env = process.env) {
  const fail = (message) => {
    console.error(`login backend: ${message}`);
    process.exit(2);
  };
  if (!env.KEYS_FILE) fail('set KEYS_FILE to the JSON of `alipay-sim keys --seed N --login --json`');
  let keys;
  try {
    keys = JSON.parse(readFileSync(env.KEYS_FILE, 'utf8'));
  } catch (e) {
    fail(`cannot read KEYS_FILE ${env.KEYS_FILE}: ${e.message}`);
  }
  for (const field of ['app_id', 'app_private_key_pkcs1_pem', 'alipay_public_key']) {
    if (typeof keys[field] !== 'string') fail(`KEYS_FILE has no ${field}: write it with \`alipay-sim keys --seed N --login --json\``);
  }
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be 0..65535, not ${env.PORT}`);
  return {
    keys,
    gateway: env.GATEWAY || 'http://127.0.0.1:8088/gateway.do',
    host: env.HOST || '127.0.0.1',
    port,
  };
}

class HttpError extends Error {
  constructor(status, message, details = {}) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

/**
 * The code to a user id, through the gateway: `exec` with validateSign, so that an answer whose
 * signature does not hold is refused. Throws HttpError.
 */
export async function logIn(sdk, code, { validateSign = true } = {}) {
  if (typeof code !== 'string' || code === '') throw new HttpError(400, 'send {"authCode": "<my.getAuthCode\'s authCode>"}');
  let result;
  try {
    result = await sdk.exec('alipay.system.oauth.token', { grant_type: 'authorization_code', code }, { validateSign });
  } catch (e) {
    // The SDK throws on an answer that does not verify; a signed error_response too (it looks
    // for the method's root only), so the gateway's refusals land here as well.
    throw new HttpError(401, `no login: ${e.message}`);
  }
  if (result.subCode === 'isp.unknow-error' || result.code === '20000') throw new HttpError(503, 'Alipay is busy: try again later');
  const user = result.openId || result.userId;
  if (!user) throw new HttpError(401, `no login: the gateway answered ${result.subCode || result.code || 'no user'}`, { sub_code: result.subCode });
  return { user, accessToken: result.accessToken };
}

/** The session the request's `sid` cookie names, or an HttpError 401. */
export function sessionOf(sessions, req) {
  const sid = (req.headers.cookie || '')
    .split(';')
    .map((part) => part.trim().split('='))
    .find(([name]) => name === 'sid')?.[1];
  const session = sid && sessions.get(sid);
  if (!session) throw new HttpError(401, 'not logged in: log in at /api/login first; an envelope names no user');
  return session;
}

export const steps = { logIn, sessionOf };

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

export async function main(overrides = {}) {
  const use = { ...steps, ...overrides };
  const config = loadConfig();
  const { keys } = config;
  const gatewaySdk = new AlipaySdk({
    appId: keys.app_id,
    privateKey: keys.app_private_key_pkcs1_pem,
    alipayPublicKey: keys.alipay_public_key,
    gateway: config.gateway,
    signType: 'RSA2',
  });
  const phoneSdk = createSdk({ appId: keys.app_id, alipayPublicKey: keys.alipay_public_key, aesKey: keys.aes_key });
  const sessions = new Map();
  const server = createServer(async (req, res) => {
    try {
      const path = req.url.split('?')[0];
      if (path !== '/api/login' && path !== '/api/me/phone') return send(res, 404, { error: 'not found: this backend serves /api/login and /api/me/phone' });
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { Allow: 'POST' });
      const body = await readBody(req);
      if (body === undefined) return;
      if (body === null) return send(res, 413, { error: `the body is over ${MAX_BODY_BYTES} bytes` });
      if (path === '/api/login') {
        let code;
        try {
          code = JSON.parse(body.toString('utf8')).authCode;
        } catch {
          throw new HttpError(400, 'the body is not JSON');
        }
        const login = await use.logIn(gatewaySdk, code);
        const sid = randomBytes(18).toString('base64url');
        sessions.set(sid, { user: login.user, mobile: null });
        return send(res, 200, { user: login.user, session: sid }, { 'Set-Cookie': `sid=${sid}; HttpOnly; Path=/; SameSite=Lax` });
      }
      const session = use.sessionOf(sessions, req);
      const answer = conclude(envelopeFromBody(req.headers['content-type'], body), { sdk: phoneSdk, signType: keys.sign_type || 'RSA2' });
      if (answer.status !== 200) return send(res, answer.status, answer.body);
      if (session) session.mobile = answer.body.mobile;
      return send(res, 200, { user: session ? session.user : null, mobile: answer.body.mobile });
    } catch (e) {
      if (e instanceof HttpError) return send(res, e.status, { error: e.message, ...e.details });
      if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) return send(res, e.status, { error: e.message, ...(e.details || {}) });
      console.error(`internal error: ${e && e.stack ? e.stack : e}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  }).catch((e) => {
    console.error(`login backend: cannot listen on ${config.host}:${config.port}: ${e.message}`);
    process.exit(1);
  });
  console.log(`listening on http://${config.host}:${server.address().port}`);
  return server;
}

function runDirectly() {
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
if (runDirectly()) await main();
