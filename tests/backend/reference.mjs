// A reference backend for Alipay's my.getPhoneNumber, built on the official npm `alipay-sdk`.
// Copy it as a starting point. It turns the envelope the mini program received into a phone
// number, or into a clear refusal. All the crypto is the SDK's: sdk.rsaCheck and sdk.aesDecrypt.
//
// Run it against the simulator's keys:
//   alipay-sim keys --seed 7 --json > keys.json
//   (cd tests/backend && npm ci)
//   KEYS_FILE=keys.json node tests/backend/reference.mjs
//
// Configuration (environment):
//   ALIPAY_PUBLIC_KEY  the Alipay public key from the console: one-line base64, or a PEM
//   AES_KEY            the content-encryption (AES) key, base64. Optional: without it only
//                      unencrypted (plain) answers can be read
//   SIGN_TYPE          RSA2 (default) or RSA (SHA-1, legacy apps)
//   APP_ID             optional; the SDK's constructor wants one, verifying never uses it
//   KEYS_FILE          instead of the above: the JSON of `alipay-sim keys --seed N --json`
//                      (app_id, alipay_public_key, aes_key, optional sign_type). The variables
//                      above, when set, win over the file
//   HOST, PORT         where to listen: 127.0.0.1 and 3000 by default; PORT=0 picks a free port
//   CORS_ORIGIN        optional, e.g. `*`: allow browser pages of that origin to call the API
//                      (for H5 previews with the simulator's /sdk/my.js; a real mini program's
//                      my.request needs no CORS)
// On start it prints one line, `listening on http://HOST:PORT`.
//
// API: /api/phone with the envelope (`res.response` of my.getPhoneNumber) in any of the ways a
// mini program sends it (alipay-sim's transport shapes, README "Transport shapes"):
//   POST application/json {"response": "<envelope>"}      json: the envelope text in a field
//   POST application/json <envelope>                      raw-json: the body is the envelope
//   POST application/json {"encryptedData", "sign"?}      split-json: onGetPhoneNumber, uni-app
//   POST form response=<envelope>                         form: the envelope in a form field
//   POST form encryptedData=...&sign=...                  split-form
//   POST form <envelope>, not encoded                     raw-form: old my.httpRequest; the RAW
//                                                         body is read, never form-decoded
//   POST text/plain <envelope>                            raw
//   GET ?response=<envelope> (or ?encryptedData=&sign=)   query: my.request's default method
// A JSON body is the envelope itself when its "response" is an object or a string of base64
// characters (a ciphertext); a "response" holding other text is the envelope text in a field.
// A form body with neither a response nor an encryptedData field is the raw envelope text.
// A split envelope gets its quotes back: {"response":"<encryptedData>","sign":"<sign>"}.
//
// Answers, one status per class of refusal:
//   200 {"mobile": "..."}                                  a verified answer carrying a phone number
//   401 {"error", "refusal": "forged"}                     unsigned, bad signature, undecryptable
//   422 {"error", "refusal": "not-a-phone-number", "code", ...}
//                                                          authentic, but not a phone number (40006...)
//   400 {"error", "refusal": "unparseable"}                not an envelope
//   404 / 405 / 413 / 415                                  other paths, methods, bodies over 64 KiB, media types
//
// The steps (parseEnvelope, verifySignature, decryptContent, judgePlaintext) are exported
// separately, and main() takes replacements for them; tests/backend/broken/ uses that to build
// deliberately wrong backends.

import { createServer } from 'node:http';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { AlipaySdk } from 'alipay-sdk';

export const MAX_BODY_BYTES = 64 * 1024;

/** A refusal to answer with a phone number: an HTTP status, a one-sentence reason, extra fields. */
export class Refusal extends Error {
  constructor(status, message, details = {}) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

/** The three classes of refusal, each with its own status (alipay-sim suites' `refusals`). */
export const unparseable = (message) => new Refusal(400, message, { refusal: 'unparseable' });
export const forged = (message) => new Refusal(401, message, { refusal: 'forged' });
export const notAPhoneNumber = (message, details) =>
  new Refusal(422, message, { refusal: 'not-a-phone-number', ...details });

/** A configuration problem: reported on stderr at start-up, then exit. */
export class ConfigError extends Error {}

const isPlainObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const messageOf = (e) => (e && e.message) || String(e);

// ---------------------------------------------------------------------------------------------
// Configuration

/** Reads the configuration from the environment (and KEYS_FILE). Throws ConfigError. */
export function loadConfig(env = process.env) {
  let file = {};
  if (env.KEYS_FILE) {
    try {
      file = JSON.parse(readFileSync(env.KEYS_FILE, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read KEYS_FILE ${env.KEYS_FILE}: ${messageOf(e)}`);
    }
    if (!isPlainObject(file)) throw new ConfigError(`KEYS_FILE ${env.KEYS_FILE} is not a JSON object`);
  }
  const pick = (name, field) => (env[name] ? env[name] : typeof file[field] === 'string' ? file[field] : '');

  // Keys pasted into .env files often carry literal "\n" for the PEM's line breaks.
  const alipayPublicKey = pick('ALIPAY_PUBLIC_KEY', 'alipay_public_key').replace(/\\n/g, '\n').trim();
  if (!alipayPublicKey) {
    throw new ConfigError(
      'no Alipay public key: set ALIPAY_PUBLIC_KEY (and AES_KEY), or KEYS_FILE=keys.json ' +
        'written by `alipay-sim keys --seed N --json > keys.json`',
    );
  }

  const aesKey = pick('AES_KEY', 'aes_key').trim();
  if (aesKey) {
    const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(aesKey) ? Buffer.from(aesKey, 'base64').length : 0;
    if (![16, 24, 32].includes(bytes)) {
      throw new ConfigError('AES_KEY must be the base64 of a 16-, 24- or 32-byte key, as the console shows it');
    }
  }

  const signType = pick('SIGN_TYPE', 'sign_type') || 'RSA2';
  if (signType !== 'RSA2' && signType !== 'RSA') throw new ConfigError(`SIGN_TYPE must be RSA2 or RSA, not ${signType}`);

  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`PORT must be 0..65535, not ${env.PORT}`);

  return {
    appId: pick('APP_ID', 'app_id'),
    alipayPublicKey,
    aesKey: aesKey || null,
    signType,
    host: env.HOST || '127.0.0.1',
    port,
    corsOrigin: env.CORS_ORIGIN || null,
  };
}

/** The SDK instance that verifies and decrypts. Throws ConfigError on an unusable public key. */
export function createSdk({ appId, alipayPublicKey, aesKey }) {
  // The constructor insists on an app private key (for calling Alipay's gateway); checking an
  // envelope never uses it, so a throwaway one will do.
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const sdk = new AlipaySdk({
    appId: appId || '2021000000000000', // required by the constructor, unused here
    privateKey,
    alipayPublicKey, // one-line base64 or PEM: the SDK formats either into a PEM
    encryptKey: aesKey ?? undefined,
  });
  try {
    createPublicKey(sdk.config.alipayPublicKey);
  } catch (e) {
    throw new ConfigError(`ALIPAY_PUBLIC_KEY is not a usable RSA public key: ${messageOf(e)}`);
  }
  return sdk;
}

// ---------------------------------------------------------------------------------------------
// The steps

/**
 * The exact text of the member `name` of the JSON object `text` (already known to parse), as it
 * was written: JSON.parse keeps no such thing, and a plain object's signature covers those very
 * bytes (key order, `\/` escapes). The last of duplicate keys wins, as with JSON.parse.
 */
export function rawMember(text, name) {
  let i = text.indexOf('{') + 1;
  const skipSpace = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i += 1;
  };
  const skipString = () => {
    for (i += 1; i < text.length; i += 1) {
      if (text[i] === '\\') i += 1;
      else if (text[i] === '"') return void (i += 1);
    }
  };
  const skipValue = () => {
    let depth = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        skipString();
        if (depth === 0) return;
        continue;
      }
      if (c === '{' || c === '[') depth += 1;
      else if (c === '}' || c === ']') {
        if (depth === 0) return;
        depth -= 1;
        if (depth === 0) return void (i += 1);
      } else if (c === ',' && depth === 0) return;
      i += 1;
    }
  };
  let found;
  for (;;) {
    skipSpace();
    if (text[i] !== '"') return found;
    const keyStart = i;
    skipString();
    const key = JSON.parse(text.slice(keyStart, i));
    skipSpace();
    i += 1; // the colon
    skipSpace();
    const valueStart = i;
    skipValue();
    if (key === name) found = text.slice(valueStart, i).trimEnd();
    skipSpace();
    if (text[i] !== ',') return found;
    i += 1;
  }
}

/** The raw text of the envelope's "response", kept by parseEnvelope beside the parsed value. */
export const RAW_RESPONSE = Symbol('raw response text');

/** Step 1: the envelope text must be a JSON object with a "response" (a string or an object). */
export function parseEnvelope(text) {
  if (typeof text !== 'string' || text.trim() === '') throw unparseable('the envelope is empty');
  let envelope;
  try {
    envelope = JSON.parse(text);
  } catch {
    throw unparseable('the envelope is not JSON, so it is not what my.getPhoneNumber returns');
  }
  if (!isPlainObject(envelope)) throw unparseable('the envelope is not a JSON object');
  if (!('response' in envelope)) throw unparseable('the envelope has no "response" field');
  const content = envelope.response;
  if (typeof content !== 'string' && !isPlainObject(content)) {
    throw unparseable('the envelope\'s "response" is neither a string (ciphertext) nor an object');
  }
  Object.defineProperty(envelope, RAW_RESPONSE, { value: rawMember(text, 'response') });
  return envelope;
}

/**
 * The exact text Alipay signed: for a ciphertext, the JSON string token INCLUDING its double
 * quotes ("<base64>"); for an unencrypted answer, the object's text exactly as the envelope has
 * it (`raw`; serialising the parsed object again loses Alipay's `\/` escapes).
 */
export function signedContent(content, raw) {
  if (typeof content === 'string') return `"${content}"`;
  return raw ?? JSON.stringify(content);
}

/** Step 2: the envelope must carry a "sign" that verifies with the Alipay public key. */
export function verifySignature(envelope, sdk, signType, signedText = signedContent) {
  if (!('sign' in envelope)) {
    throw forged('the envelope has no "sign", so nothing proves it comes from Alipay');
  }
  const { sign } = envelope;
  if (typeof sign !== 'string' || sign === '') throw forged('the envelope\'s "sign" is not a base64 string');
  let ok;
  try {
    ok = sdk.rsaCheck(signedText(envelope.response, envelope[RAW_RESPONSE]), sign, signType);
  } catch (e) {
    throw forged(`the signature could not be checked: ${messageOf(e)}`);
  }
  if (!ok) throw forged(`the ${signType} signature does not verify with the Alipay public key`);
}

/** Step 3: the content as an object: decrypted with the AES key, or as is when unencrypted. */
export function decryptContent(envelope, sdk) {
  const content = envelope.response;
  if (isPlainObject(content)) return content; // an unencrypted answer, e.g. an error code
  if (!sdk.config.encryptKey) {
    throw forged('the content is encrypted but this backend has no AES key (set AES_KEY)');
  }
  let text;
  try {
    text = sdk.aesDecrypt(content);
  } catch (e) {
    throw forged(`the content does not decrypt with the AES key (wrong key or damaged ciphertext): ${messageOf(e)}`);
  }
  let plaintext;
  try {
    plaintext = JSON.parse(text);
  } catch {
    throw forged('the content does not decrypt with the AES key to JSON (wrong key or damaged ciphertext)');
  }
  if (!isPlainObject(plaintext)) throw forged('the decrypted content is not a JSON object');
  return plaintext;
}

/** Step 4: only code "10000" with a non-empty mobile is a phone number; other codes are refusals. */
export function judgePlaintext(plaintext) {
  const { code, msg, subCode, subMsg, mobile } = plaintext;
  const details = { code: code ?? null };
  if (msg !== undefined) details.msg = msg;
  if (subCode !== undefined) details.subCode = subCode;
  if (subMsg !== undefined) details.subMsg = subMsg;
  if (code === '10000') {
    if (typeof mobile === 'string' && mobile !== '') return { mobile };
    throw notAPhoneNumber('Alipay answered 10000 Success but without a mobile', details);
  }
  const what = [code, msg, subCode].filter((x) => x !== undefined && x !== null).join(' ');
  throw notAPhoneNumber(`Alipay answered ${what || 'without a code'}, not a phone number`, details);
}

export const steps = { parseEnvelope, verifySignature, decryptContent, judgePlaintext };

/** The four steps in order: envelope text -> { status, body }. */
export function conclude(envelopeText, { sdk, signType }, use = steps) {
  try {
    const envelope = use.parseEnvelope(envelopeText);
    use.verifySignature(envelope, sdk, signType);
    const plaintext = use.decryptContent(envelope, sdk);
    return { status: 200, body: use.judgePlaintext(plaintext) };
  } catch (e) {
    if (e instanceof Refusal) return { status: e.status, body: { error: e.message, ...e.details } };
    throw e;
  }
}

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
      if (size > limit) return; // already refused; let the rest drain
      size += chunk.length;
      if (size > limit) return resolve(null);
      chunks.push(chunk);
    });
    req.on('end', () => size <= limit && resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

/** A JSON string that can only be a ciphertext (base64, standard or URL-safe), not envelope text. */
const looksLikeCiphertext = (text) => text.trim() !== '' && /^[A-Za-z0-9+/=_\-\s]+$/.test(text);

/**
 * A split envelope (`{encryptedData, sign}` from onGetPhoneNumber or uni-app) made whole again:
 * the quotes re-added around a ciphertext, an object's text kept. `encryptedData` is a string
 * (a ciphertext, or an object's JSON text from a form) or an object (from a JSON body).
 */
export function joinSplit(encryptedData, sign) {
  let content;
  if (typeof encryptedData === 'string') {
    content = encryptedData.trimStart().startsWith('{') ? encryptedData : JSON.stringify(encryptedData);
  } else if (isPlainObject(encryptedData)) {
    content = JSON.stringify(encryptedData);
  } else {
    throw unparseable('"encryptedData" must be the envelope\'s response: a ciphertext string or an object');
  }
  const signPart = sign === undefined || sign === null ? '' : `,"sign":${JSON.stringify(sign)}`;
  return `{"response":${content}${signPart}}`;
}

/** The envelope text from decoded fields (a form, a query, a JSON object); null when none holds it. */
function envelopeFromFields(get) {
  const encryptedData = get('encryptedData');
  if (encryptedData !== undefined && encryptedData !== null) return joinSplit(encryptedData, get('sign'));
  const response = get('response');
  return response === undefined ? null : response;
}

/** The envelope text from the request's query string (a GET). Throws Refusal. */
export function envelopeFromQuery(url) {
  const params = new URL(url, 'http://backend.invalid').searchParams;
  const envelope = envelopeFromFields((name) => (params.has(name) ? params.get(name) : undefined));
  if (envelope === null) throw unparseable('the query has no "response" (or "encryptedData") parameter');
  return envelope;
}

/** The envelope text from the request body, by media type. Throws Refusal. */
export function envelopeFromBody(contentType, body) {
  const type = (contentType || 'text/plain').split(';')[0].trim().toLowerCase();
  const text = body.toString('utf8');
  if (type === 'application/json' || type.endsWith('+json')) {
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw unparseable('the request body is not valid JSON');
    }
    if (!isPlainObject(json)) throw unparseable('the request body is not a JSON object');
    if ('encryptedData' in json) {
      // An object keeps its own text, as the envelope had it.
      const data = isPlainObject(json.encryptedData) ? rawMember(text, 'encryptedData') : json.encryptedData;
      return joinSplit(data, json.sign);
    }
    if (!('response' in json)) {
      throw unparseable('the request body has no "response" field; send {"response": <res.response>} or the envelope itself');
    }
    // The envelope itself (raw-json): verify its own text, never an object serialised again.
    if (isPlainObject(json.response) || (typeof json.response === 'string' && looksLikeCiphertext(json.response))) {
      return text;
    }
    if (typeof json.response !== 'string') {
      throw unparseable('"response" must be the envelope text (a string) exactly as my.getPhoneNumber gave it');
    }
    return json.response;
  }
  if (type === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(text);
    const envelope = envelopeFromFields((name) => (form.has(name) ? form.get(name) : undefined));
    // Neither field: the envelope text itself, sent unencoded (raw-form). Read raw, since a
    // form decoder would turn its + into spaces and split it at = and &.
    return envelope === null ? text : envelope;
  }
  if (type === 'text/plain') return text;
  throw new Refusal(415, `unsupported content type ${type}: use application/json, a form, or text/plain`);
}

/** Starts the HTTP server; resolves once it listens. `conclude(text)` returns { status, body }. */
export function startServer({ conclude: judge, host = '127.0.0.1', port = 3000, corsOrigin = null, maxBody = MAX_BODY_BYTES }) {
  const cors = corsOrigin ? { 'Access-Control-Allow-Origin': corsOrigin } : {};
  const server = createServer(async (req, res) => {
    try {
      const pathname = req.url.split('?')[0];
      if (pathname !== '/api/phone') return send(res, 404, { error: 'not found: this backend serves /api/phone only' }, cors);
      if (req.method === 'OPTIONS' && corsOrigin) {
        res.writeHead(204, { ...cors, 'Access-Control-Allow-Methods': 'GET, POST', 'Access-Control-Allow-Headers': 'Content-Type', 'Access-Control-Max-Age': '600' });
        return res.end();
      }
      if (req.method === 'GET') {
        let answer;
        try {
          answer = judge(envelopeFromQuery(req.url));
        } catch (e) {
          if (!(e instanceof Refusal)) throw e;
          answer = { status: e.status, body: { error: e.message, ...e.details } };
        }
        return send(res, answer.status, answer.body, cors);
      }
      if (req.method !== 'POST') return send(res, 405, { error: `method ${req.method} not allowed: use POST (or GET with a query)` }, { ...cors, Allow: 'GET, POST' });

      const body = await readBody(req, maxBody);
      if (body === undefined) return; // the client hung up mid-request
      if (body === null) {
        req.resume();
        return send(res, 413, { error: `the request body is over ${maxBody} bytes` }, { ...cors, Connection: 'close' });
      }
      let answer;
      try {
        answer = judge(envelopeFromBody(req.headers['content-type'], body));
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        answer = { status: e.status, body: { error: e.message, ...e.details } };
      }
      send(res, answer.status, answer.body, cors);
    } catch (e) {
      // A bug, not bad input: answer 500 and keep serving.
      console.error(`internal error: ${e && e.stack ? e.stack : e}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' }, cors);
      else res.destroy();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * Loads the configuration, starts the server and prints `listening on http://HOST:PORT`.
 * `overrides` replaces some of the steps (see tests/backend/broken/).
 */
export async function main(overrides = {}) {
  let config, sdk;
  try {
    config = loadConfig(process.env);
    sdk = createSdk(config);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`backend: ${e.message}`);
    process.exit(2);
  }
  const use = { ...steps, ...overrides };
  const { signType } = config;
  let server;
  try {
    server = await startServer({ ...config, conclude: (text) => conclude(text, { sdk, signType }, use) });
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
    return false; // no script path (node -e, a REPL)
  }
}
if (runDirectly()) await main();
