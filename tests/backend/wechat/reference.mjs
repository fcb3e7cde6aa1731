// A reference backend for WeChat mini-program phone numbers (spec: wechat-getphonenumber.md).
// Copy it as a starting point. It does what a correct WeChat backend must, with Node 20's
// standard library only (node:http, node:crypto, the global fetch): no npm packages.
//
// Run it against the simulator:
//   alipay-sim serve --ephemeral --port 8087
//   curl -s -XPOST localhost:8087/api/v1/wechat/apps -d '{}'      # -> appid, secret
//   WECHAT_API=http://127.0.0.1:8087 WECHAT_APPID=wx... WECHAT_SECRET=... \
//     node tests/backend/wechat/reference.mjs
//
// Configuration (environment):
//   WECHAT_APPID       the mini program's AppID (wx...). Required
//   WECHAT_SECRET      its AppSecret. Required; never logged, never answered
//   WECHAT_API         base URL that replaces https://api.weixin.qq.com (the default), e.g.
//                      http://127.0.0.1:8087 for alipay-sim (Node's fetch refuses a few
//                      "bad ports", e.g. 1, 9, 6000: pick another)
//   WECHAT_TIMEOUT_MS  how long one call to WeChat may take, 10000 by default
//   HOST, PORT         where to listen: 127.0.0.1 and 3000 by default; PORT=0 picks a free port
// On start it prints one line, `listening on http://HOST:PORT`.
//
// API (all POST with a JSON body; every answer is JSON):
//   POST /wx/login {"code"}        the wx.login code. Calls /sns/jscode2session once (never
//                                  retried: a code is single-use), keeps the session_key by openid
//                                  in memory, answers 200 {"openid"} (never the session_key).
//                                  WeChat's errcode: 400 {"error":"login failed","errcode"};
//                                  -1 system error: 503; WeChat unreachable or not JSON: 502.
//                                  A success is an answer WITHOUT errcode (spec §3.1, §7.8).
//   POST /wx/phone {"code"}        the code flow: e.detail.code of the getPhoneNumber button.
//                                  Posts it to /wxa/business/getuserphonenumber with ONE cached
//                                  access token (/cgi-bin/token, reused until expires_in minus a
//                                  margin; one fetch at a time). On 40001, 42001 or 40014 (token
//                                  errors, which consume no code) it drops the token, fetches one
//                                  new token and retries ONCE; after any other answer the code is
//                                  never sent again (§7.4). 200 {"phoneNumber","purePhoneNumber",
//                                  "countryCode"} (countryCode always a string, §7.9); WeChat's
//                                  errcode (40029 used/expired/foreign code...): 400 {"error",
//                                  "errcode"}; -1: 503; token endpoint refusing, or the new token
//                                  rejected too: 502 {"error","errcode"}.
//   POST /wx/phone/legacy {"openid","encryptedData","iv"}
//                                  the legacy flow: decrypts with the session_key of that openid
//                                  (unknown openid: 401 {"error":"log in first"}). Strict: standard
//                                  base64 only (a '+' turned into ' ' is a 400 naming the field),
//                                  AES-128-CBC with PKCS#7 padding (node:crypto), UTF-8 JSON, and
//                                  watermark.appid must be WECHAT_APPID, else 400 {"error":
//                                  "watermark of another app"}. Any decryption failure (wrong or
//                                  rotated key, damaged data): 400 {"error":"cannot decrypt: log in
//                                  again"}. Success: 200 {"phoneNumber","purePhoneNumber","countryCode"}.
//   A body that is not a JSON object or lacks a field: 400 naming the field; other paths: 404;
//   other methods: 405; bodies over 64 KiB: 413. Client input never causes a 500.
//
// Nothing secret is logged (no secret, token, session_key, code or ciphertext).
//
// start(options) is the factory: options override the configuration (appid, secret, api, host,
// port, timeoutMs) and the behaviours below; tests/backend/wechat/broken/ uses them to build
// deliberately wrong backends. Run directly (`node reference.mjs`), it calls start().
//   checkWatermark   true: refuse legacy data whose watermark.appid is another app's
//   cacheToken       true: one cached access token; false: a new /cgi-bin/token per phone call
//   retryUsedCode    false: never resend a phone code after a non-token answer; true: resend it
//                    once (the "retry after timeout" bug)

import { createServer } from 'node:http';
import { createDecipheriv } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const MAX_BODY_BYTES = 64 * 1024;
export const DEFAULT_API = 'https://api.weixin.qq.com';
/** Token errors on business APIs (§3.3): the token is stale; the phone code was not consumed. */
export const TOKEN_ERRORS = new Set([40001, 42001, 40014]);
/** Refresh a token this long before WeChat says it expires (at most half its lifetime). */
export const TOKEN_MARGIN_SECONDS = 300;

export const DEFAULT_BEHAVIOUR = { checkWatermark: true, cacheToken: true, retryUsedCode: false };

/** An answer to the client: an HTTP status and a JSON body. */
export class Answer extends Error {
  constructor(status, body) {
    super(body.error);
    this.status = status;
    this.body = body;
  }
}
const refuse = (status, error, extra = {}) => new Answer(status, { error, ...extra });

/** A configuration problem: reported on stderr at start-up, then exit. */
export class ConfigError extends Error {}

const isPlainObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const messageOf = (e) => (e && e.message) || String(e);

/** The configuration from the environment. Throws ConfigError. */
export function configFromEnv(env) {
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT ${env.PORT} is not a port number`);
  const timeoutMs = env.WECHAT_TIMEOUT_MS ? Number(env.WECHAT_TIMEOUT_MS) : 10000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ConfigError('WECHAT_TIMEOUT_MS must be a positive number');
  return {
    appid: env.WECHAT_APPID,
    secret: env.WECHAT_SECRET,
    api: env.WECHAT_API || DEFAULT_API,
    host: env.HOST || '127.0.0.1',
    port,
    timeoutMs,
  };
}

function checkConfig(config) {
  if (!config.appid) throw new ConfigError('WECHAT_APPID is not set');
  if (!config.secret) throw new ConfigError('WECHAT_SECRET is not set');
  let url;
  try {
    url = new URL(config.api);
  } catch {
    throw new ConfigError(`WECHAT_API ${config.api} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('WECHAT_API must be http(s)');
  return { ...config, api: config.api.replace(/\/+$/, '') };
}

// ---------------------------------------------------------------------------------------------
// Calling WeChat

/**
 * One call to WeChat: the parsed JSON object it answered. Throws Answer 502 when WeChat cannot be
 * reached, times out, or answers something that is not a JSON object. Never retries.
 */
async function callWeChat(config, method, path, query, body) {
  const url = new URL(config.api + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  let text;
  try {
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    text = await res.text();
  } catch (e) {
    // The message names no URL: the query holds the secret or a token.
    const why = e?.name === 'TimeoutError' ? 'timed out' : e?.cause?.code || e?.cause?.errors?.[0]?.code || e?.cause?.message || e?.name || 'error';
    console.error(`backend: WeChat ${path} unreachable: ${why}`);
    throw refuse(502, `WeChat is unreachable (${path})`);
  }
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw refuse(502, `WeChat answered ${path} with something that is not JSON`);
  }
  if (!isPlainObject(json)) throw refuse(502, `WeChat answered ${path} with JSON that is not an object`);
  return json;
}

/** The errcode of a WeChat answer as a number, or undefined when it has none. */
function errcodeOf(json) {
  if (!('errcode' in json) || json.errcode === null) return undefined;
  const n = Number(json.errcode);
  return Number.isFinite(n) ? n : NaN;
}

/** The access tokens: one cached token (or none with cacheToken: false), one fetch at a time. */
function tokenStore(config, { cacheToken }) {
  let cached = null; // { token, freshUntil }
  let inFlight = null;

  async function fetchToken() {
    const json = await callWeChat(config, 'GET', '/cgi-bin/token', {
      grant_type: 'client_credential',
      appid: config.appid,
      secret: config.secret,
    });
    const errcode = errcodeOf(json);
    if (errcode !== undefined && errcode !== 0) {
      if (errcode === -1) throw refuse(503, 'WeChat system error: try again', { errcode });
      // 40125 secret, 40164 IP allow-list, 40243 frozen secret...: this server's configuration.
      throw refuse(502, 'cannot get an access token from WeChat', { errcode });
    }
    if (typeof json.access_token !== 'string' || json.access_token === '') {
      throw refuse(502, 'WeChat answered /cgi-bin/token without an access_token');
    }
    const expiresIn = Number(json.expires_in);
    const lifetime = Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 7200;
    const margin = Math.min(TOKEN_MARGIN_SECONDS, lifetime / 2);
    return { token: json.access_token, freshUntil: Date.now() + (lifetime - margin) * 1000 };
  }

  return {
    /** A token: the cached one while fresh, else one new fetch shared by concurrent callers. */
    async get() {
      if (!cacheToken) return (await fetchToken()).token;
      if (cached && Date.now() < cached.freshUntil) return cached.token;
      if (!inFlight) {
        inFlight = fetchToken()
          .then((t) => (cached = t))
          .finally(() => (inFlight = null));
      }
      return (await inFlight).token;
    },
    /** WeChat rejected `token`: forget it (unless another call already replaced it). */
    drop(token) {
      if (cached && cached.token === token) cached = null;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The three routes

/** A required non-empty string field of the request body. Throws Answer 400 naming it. */
function field(body, name, max = 8192) {
  const v = body[name];
  if (v === undefined || v === null) throw refuse(400, `"${name}" is missing`);
  if (typeof v !== 'string' || v === '') throw refuse(400, `"${name}" must be a non-empty string`);
  if (v.length > max) throw refuse(400, `"${name}" is too long`);
  return v;
}

/** WeChat's answer to a client: -1 is "try again", anything else a refusal. */
function weChatRefusal(error, errcode) {
  if (errcode === -1) return refuse(503, 'WeChat system error: try again', { errcode });
  return refuse(400, error, { errcode: Number.isNaN(errcode) ? null : errcode });
}

async function login(ctx, body) {
  const code = field(body, 'code', 512);
  // Once per code: a wx.login code is single-use (40163 on reuse), so never retry.
  const json = await callWeChat(ctx.config, 'GET', '/sns/jscode2session', {
    appid: ctx.config.appid,
    secret: ctx.config.secret,
    js_code: code,
    grant_type: 'authorization_code',
  });
  const errcode = errcodeOf(json);
  // Success has no errcode (§3.1, §7.8); an errcode 0 beside an openid (the doc example) is one too.
  if (errcode !== undefined && errcode !== 0) throw weChatRefusal('login failed', errcode);
  const { openid, session_key: sessionKey } = json;
  if (typeof openid !== 'string' || openid === '' || typeof sessionKey !== 'string' || sessionKey === '') {
    throw refuse(502, 'WeChat answered /sns/jscode2session without an openid and a session_key');
  }
  ctx.sessions.set(openid, sessionKey);
  return { status: 200, body: { openid } };
}

/** phone_info (or the decrypted legacy data) as the client gets it; null when it is not one. */
function phoneOf(info) {
  if (!isPlainObject(info)) return null;
  const { phoneNumber, purePhoneNumber, countryCode } = info;
  if (typeof phoneNumber !== 'string' || phoneNumber === '') return null;
  if (typeof purePhoneNumber !== 'string' || purePhoneNumber === '') return null;
  // countryCode is typed string but the doc example prints the number 86 (§3.5, §7.9).
  if (typeof countryCode !== 'string' && !(typeof countryCode === 'number' && Number.isFinite(countryCode))) return null;
  return { phoneNumber, purePhoneNumber, countryCode: String(countryCode) };
}

async function phone(ctx, body) {
  const code = field(body, 'code', 512);
  const send = (token) =>
    callWeChat(ctx.config, 'POST', '/wxa/business/getuserphonenumber', { access_token: token }, { code });

  let token = await ctx.tokens.get();
  let json = await send(token);
  let errcode = errcodeOf(json);
  if (TOKEN_ERRORS.has(errcode)) {
    // The token was stale (superseded, expired, garbage): WeChat consumed no code. One new token, one retry.
    ctx.tokens.drop(token);
    token = await ctx.tokens.get();
    json = await send(token);
    errcode = errcodeOf(json);
    if (TOKEN_ERRORS.has(errcode)) {
      ctx.tokens.drop(token);
      throw refuse(502, 'WeChat rejected a fresh access token too', { errcode });
    }
  }
  if (ctx.behaviour.retryUsedCode && errcode !== 0 && !TOKEN_ERRORS.has(errcode)) {
    // BROKEN when enabled: the code may have been consumed; sending it again can only get 40029.
    json = await send(token);
    errcode = errcodeOf(json);
  }
  if (errcode !== 0) throw weChatRefusal('WeChat refused the phone code: tap the button again', errcode);
  const result = phoneOf(json.phone_info);
  if (!result) throw refuse(502, 'WeChat answered getuserphonenumber without a usable phone_info');
  return { status: 200, body: result };
}

/** Strict standard base64 (RFC 4648 §4, with padding, canonical). Throws Answer 400 naming the field. */
function strictBase64(value, name) {
  const ok =
    value.length % 4 === 0 &&
    /^[A-Za-z0-9+/]*={0,2}$/.test(value) &&
    Buffer.from(value, 'base64').toString('base64') === value;
  if (!ok) {
    const hint = /\s/.test(value) ? ": it holds spaces (a '+' turned into ' '? send it in a JSON body)" : '';
    throw refuse(400, `"${name}" is not standard base64${hint}`);
  }
  return Buffer.from(value, 'base64');
}

const cannotDecrypt = () => refuse(400, 'cannot decrypt: log in again');

async function legacy(ctx, body) {
  const openid = field(body, 'openid', 128);
  const encryptedData = field(body, 'encryptedData', 16384);
  const ivText = field(body, 'iv', 64);
  const data = strictBase64(encryptedData, 'encryptedData');
  const iv = strictBase64(ivText, 'iv');
  if (iv.length !== 16) throw refuse(400, '"iv" must be 16 bytes of base64');
  if (data.length === 0 || data.length % 16 !== 0) throw refuse(400, '"encryptedData" is not a whole number of AES blocks');
  const sessionKey = ctx.sessions.get(openid);
  if (sessionKey === undefined) throw refuse(401, 'log in first');
  const key = Buffer.from(sessionKey, 'base64');
  if (key.length !== 16) throw cannotDecrypt();

  let plaintext;
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv); // PKCS#7, auto padding: strict
    const bytes = Buffer.concat([decipher.update(data), decipher.final()]);
    plaintext = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw cannotDecrypt(); // wrong or rotated session_key, damaged data
  }
  if (!isPlainObject(plaintext)) throw cannotDecrypt();
  if (ctx.behaviour.checkWatermark) {
    const appid = isPlainObject(plaintext.watermark) ? plaintext.watermark.appid : undefined;
    if (appid !== ctx.config.appid) throw refuse(400, 'watermark of another app');
  }
  const result = phoneOf(plaintext);
  if (!result) throw cannotDecrypt();
  return { status: 200, body: result };
}

export const ROUTES = { '/wx/login': login, '/wx/phone': phone, '/wx/phone/legacy': legacy };

// ---------------------------------------------------------------------------------------------
// HTTP

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** The body as a Buffer; null when it exceeds the limit; undefined when the client went away. */
function readBody(req, limit) {
  return new Promise((resolve) => {
    if (Number(req.headers['content-length']) > limit) return resolve(null);
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      if (size > limit) return;
      size += chunk.length;
      if (size > limit) return resolve(null);
      chunks.push(chunk);
    });
    req.on('end', () => size <= limit && resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

/** The request body as a JSON object. Throws Answer 400. */
function parseJsonBody(buffer) {
  let json;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buffer));
  } catch {
    throw refuse(400, 'the request body is not JSON: send a JSON object');
  }
  if (!isPlainObject(json)) throw refuse(400, 'the request body is not a JSON object');
  return json;
}

/** The request handler of a backend with `config` and `behaviour`. */
export function handler(config, behaviour) {
  const ctx = { config, behaviour, sessions: new Map(), tokens: tokenStore(config, behaviour) };
  return async (req, res) => {
    try {
      const pathname = req.url.split('?')[0];
      const route = Object.hasOwn(ROUTES, pathname) ? ROUTES[pathname] : undefined;
      if (!route) return send(res, 404, { error: `not found: this backend serves ${Object.keys(ROUTES).join(', ')}` });
      if (req.method !== 'POST') return send(res, 405, { error: `method ${req.method} not allowed: use POST` }, { Allow: 'POST' });
      const buffer = await readBody(req, MAX_BODY_BYTES);
      if (buffer === undefined) return; // the client hung up
      if (buffer === null) {
        req.resume();
        return send(res, 413, { error: `the request body is over ${MAX_BODY_BYTES} bytes` }, { Connection: 'close' });
      }
      let answer;
      try {
        answer = await route(ctx, parseJsonBody(buffer));
      } catch (e) {
        if (!(e instanceof Answer)) throw e;
        answer = e;
      }
      send(res, answer.status, answer.body);
    } catch (e) {
      // A bug, not bad input: answer 500 and keep serving. The stack holds no request data.
      console.error(`backend: internal error: ${e && e.stack ? e.stack : e}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  };
}

/**
 * Starts a backend and prints `listening on http://HOST:PORT`. `options` override the
 * configuration from the environment (appid, secret, api, host, port, timeoutMs) and the
 * behaviours of DEFAULT_BEHAVIOUR. Resolves to the http.Server. Exits on a configuration error.
 */
export async function start(options = {}) {
  const { checkWatermark, cacheToken, retryUsedCode, env = process.env, ...overrides } = options;
  const behaviour = { ...DEFAULT_BEHAVIOUR };
  for (const [k, v] of Object.entries({ checkWatermark, cacheToken, retryUsedCode })) if (v !== undefined) behaviour[k] = v;
  let config;
  try {
    config = checkConfig({ ...configFromEnv(env), ...overrides });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`backend: ${e.message}`);
    process.exit(2);
  }
  const server = createServer(handler(config, behaviour));
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    console.error(`backend: cannot listen on ${config.host}:${config.port}: ${messageOf(e)}`);
    process.exit(1);
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  console.log(`listening on http://${host}:${server.address().port}`);
  return server;
}

// Start only when run directly (`node reference.mjs`), not when imported.
function runDirectly() {
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}
if (runDirectly()) await start();
