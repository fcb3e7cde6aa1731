// Verdicts on simulator fixtures, computed the way a backend built on the
// official npm `alipay-sdk` would: all crypto goes through sdk.rsaCheck and
// sdk.aesDecrypt, nothing is reimplemented here. A fixture with `certificates`
// configures the SDK in certificate mode (appCertContent, alipayPublicCertContent,
// alipayRootCertContent) instead of with alipayPublicKey.
// Usage: node check.mjs DIR   -> prints a JSON array of verdicts on stdout.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node check.mjs DIR');
  process.exit(2);
}

// The constructor insists on an app private key although verify/decrypt never use it.
const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

const sdks = new Map();
// A fixture of an app in certificate mode (公钥证书) carries the three files: the SDK is then
// configured with them alone, as a backend in that mode is, and verifies with the key it takes
// from the Alipay certificate.
function sdkFor(fx) {
  const certs = fx.certificates;
  const key = JSON.stringify([fx.app_id, fx.alipay_public_key, fx.aes_key, certs ?? null]);
  if (!sdks.has(key)) {
    const config = {
      appId: fx.app_id || '2021000000000000', // required by the constructor, unused by verify/decrypt
      privateKey,
      encryptKey: fx.aes_key ?? undefined,
    };
    if (certs) {
      config.appCertContent = certs.app_cert;
      config.alipayPublicCertContent = certs.alipay_cert;
      config.alipayRootCertContent = certs.alipay_root_cert;
    } else {
      config.alipayPublicKey = fx.alipay_public_key ?? undefined;
    }
    sdks.set(key, new AlipaySdk(config));
  }
  return sdks.get(key);
}

// The raw text of the top-level "response" member, as Alipay's samples take the signed span
// (Java: fastjson OrderedField; the gateway signs the bytes it wrote, `\/` escapes included).
// A scanner, not crypto: it only finds where the member's value starts and ends.
function rawMember(text, name) {
  let i = 0;
  const ws = () => { while (/\s/.test(text[i] ?? '')) i++; };
  const skipString = () => { i++; while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1; i++; };
  const skipValue = () => {
    if (text[i] === '"') return skipString();
    if (text[i] === '{' || text[i] === '[') {
      let depth = 0;
      do {
        if (text[i] === '"') { skipString(); continue; }
        if (text[i] === '{' || text[i] === '[') depth++;
        if (text[i] === '}' || text[i] === ']') depth--;
        i++;
      } while (depth > 0 && i < text.length);
      return;
    }
    while (i < text.length && !/[,}\s]/.test(text[i])) i++;
  };
  ws();
  if (text[i] !== '{') return null;
  i++;
  for (;;) {
    ws();
    if (text[i] !== '"') return null;
    const keyStart = i;
    skipString();
    const key = JSON.parse(text.slice(keyStart, i));
    ws();
    if (text[i] !== ':') return null;
    i++;
    ws();
    const start = i;
    skipValue();
    if (key === name) return text.slice(start, i);
    ws();
    if (text[i] !== ',') return null;
    i++;
  }
}

const isPlainObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const msg = (e) => (e && e.message) || String(e);

function judge(fx) {
  const v = (verdict, detail, plaintext = null) => ({ verdict, plaintext, detail });
  if (fx.callback !== 'success') return v('front-end', `callback ${fx.callback}: nothing reached the backend`);

  // The split envelope of the 2.8.0+ button's onGetPhoneNumber and of uni-app:
  // {encryptedData, sign?}, the quotes for a backend to re-add.
  if (isPlainObject(fx.payload) && 'encryptedData' in fx.payload) {
    const { encryptedData, sign } = fx.payload;
    if (typeof encryptedData !== 'string') return v('reject-parse', 'encryptedData is not a ciphertext string');
    if (sign === undefined) return v('unsigned', 'the split envelope has no "sign"');
    return judgeContent(fx, encryptedData, sign, `"${encryptedData}"`);
  }
  const text = fx.payload?.response;
  if (typeof text !== 'string') return v('reject-parse', 'payload.response is not a string');
  let env;
  try {
    env = JSON.parse(text);
  } catch (e) {
    return v('reject-parse', `JSON.parse: ${msg(e)}`);
  }
  if (!isPlainObject(env) || !('response' in env)) return v('reject-parse', 'envelope is not an object with a "response" key');
  if (!('sign' in env)) return v('unsigned', 'envelope has no "sign"');

  const { response, sign } = env;
  // Which bytes were signed: the quoted ciphertext token, or the object's raw text.
  let signed;
  if (typeof response === 'string') signed = `"${response}"`;
  else if (isPlainObject(response)) signed = rawMember(text, 'response');
  else return v('reject-parse', `"response" is neither a string nor an object (${response === null ? 'null' : typeof response})`);
  return judgeContent(fx, response, sign, signed);
}

function judgeContent(fx, response, sign, signed) {
  const v = (verdict, detail, plaintext = null) => ({ verdict, plaintext, detail });
  const signType = fx.sign_type ?? 'RSA2';
  let sdk;
  try {
    sdk = sdkFor(fx);
  } catch (e) {
    return v('reject-signature', `AlipaySdk constructor: ${msg(e)}`);
  }
  let ok;
  try {
    ok = sdk.rsaCheck(signed, sign, signType);
  } catch (e) {
    return v('reject-signature', `rsaCheck threw: ${msg(e)}`);
  }
  const mode = fx.certificates ? ' (certificate mode)' : '';
  if (!ok) return v('reject-signature', `rsaCheck(${signType})${mode} returned false`);
  if (typeof response !== 'string') return v('accept', `plain content, ${signType} signature ok${mode}`, response);

  let plain;
  try {
    plain = sdk.aesDecrypt(response);
  } catch (e) {
    return v('reject-decrypt', `aesDecrypt threw: ${msg(e)}`);
  }
  let obj;
  try {
    obj = JSON.parse(plain);
  } catch (e) {
    return v('reject-decrypt', `decrypted text is not JSON (${JSON.stringify(plain.slice(0, 40))}): ${msg(e)}`);
  }
  if (!isPlainObject(obj)) return v('reject-decrypt', 'decrypted JSON is not an object');
  return v('accept', `encrypted content, ${signType} signature ok${mode}, decrypted`, obj);
}

let files;
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'index.json' && f !== 'keys.json').sort();
} catch (e) {
  console.error(`cannot read fixture directory ${dir}: ${msg(e)}`);
  process.exit(2);
}

const out = [];
for (const f of files) {
  let fx;
  try {
    fx = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  } catch (e) {
    console.error(`cannot read fixture ${f}: ${msg(e)}`);
    process.exit(2);
  }
  if (!isPlainObject(fx)) {
    console.error(`fixture ${f} is not a JSON object`);
    process.exit(2);
  }
  out.push({ scenario: fx.scenario || f.replace(/\.json$/, ''), sdk: 'node', ...judge(fx) });
}
// Plain code-unit order, not localeCompare, so both checkers sort alike.
out.sort((a, b) => (a.scenario < b.scenario ? -1 : a.scenario > b.scenario ? 1 : 0));
// One verdict per line: valid JSON that still diffs and reads well.
process.stdout.write(out.length ? '[\n' + out.map((r) => JSON.stringify(r)).join(',\n') + '\n]\n' : '[]\n');
