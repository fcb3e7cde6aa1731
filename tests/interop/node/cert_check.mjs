// A backend in certificate mode (公钥证书) on the official npm `alipay-sdk`, configured with
// nothing but certificate files downloaded from the simulator, as a developer configures it
// from the console's downloads: appCertPath, alipayPublicCertPath and alipayRootCertPath.
//
// Usage: node cert_check.mjs DIR APP_ID < envelope
//   DIR holds appCertPublicKey_<APP_ID>.crt, alipayCertPublicKey_RSA2.crt and alipayRootCert.crt;
//   AES_KEY (environment) is the app's AES key, to decrypt.
// Prints one JSON object: {verdict, plaintext, detail, config_sns, get_sns, alipay_public_key},
// where config_sns are the SNs the SDK's constructor computed (sdk.config), get_sns those its
// antcertutil's getSNFromPath gives for each file, and alipay_public_key the key (PEM) the SDK
// took from the Alipay certificate: the SDK's own code, nothing reimplemented here. With an
// empty stdin, only the last three.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { AlipaySdk } from 'alipay-sdk';
// Not exported by the package's entry point: the SDK's own file, by its path.
import { getSNFromPath } from './node_modules/alipay-sdk/dist/esm/antcertutil.js';

const [dir, appId] = process.argv.slice(2);
if (!dir || !appId) {
  console.error('usage: node cert_check.mjs DIR APP_ID < envelope');
  process.exit(2);
}
const files = {
  app: join(dir, `appCertPublicKey_${appId}.crt`),
  alipay: join(dir, 'alipayCertPublicKey_RSA2.crt'),
  root: join(dir, 'alipayRootCert.crt'),
};

// The constructor insists on an app private key although verify/decrypt never use it.
const { privateKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

const out = (fields) => {
  process.stdout.write(JSON.stringify(fields) + '\n');
  process.exit(0);
};
const msg = (e) => (e && e.message) || String(e);

let sdk;
try {
  sdk = new AlipaySdk({
    appId,
    privateKey,
    appCertPath: files.app,
    alipayPublicCertPath: files.alipay,
    alipayRootCertPath: files.root,
    encryptKey: process.env.AES_KEY || undefined,
  });
} catch (e) {
  out({ verdict: 'error', detail: `AlipaySdk constructor: ${msg(e)}` });
}
const config_sns = {
  app_cert_sn: sdk.config.appCertSn,
  alipay_cert_sn: sdk.config.alipayCertSn,
  alipay_root_cert_sn: sdk.config.alipayRootCertSn,
};
const get_sns = {
  app_cert_sn: getSNFromPath(files.app, false),
  alipay_cert_sn: getSNFromPath(files.alipay, false),
  alipay_root_cert_sn: getSNFromPath(files.root, true),
};
// The Alipay public key the SDK took from alipayCertPublicKey_RSA2.crt (PEM).
const alipay_public_key = sdk.config.alipayPublicKey;
const v = (verdict, detail, plaintext = null) =>
  out({ verdict, plaintext, detail, config_sns, get_sns, alipay_public_key });

const text = readFileSync(0, 'utf8');
// No envelope: what the SDK read from the files, only.
if (!text.trim()) out({ config_sns, get_sns, alipay_public_key });
let env;
try {
  env = JSON.parse(text);
} catch (e) {
  v('reject-parse', `JSON.parse: ${msg(e)}`);
}
if (typeof env !== 'object' || env === null || !('response' in env)) v('reject-parse', 'not an envelope');
if (!('sign' in env)) v('unsigned', 'envelope has no "sign"');
const { response, sign } = env;
if (typeof response !== 'string') v('reject-parse', 'this checker takes encrypted envelopes only');
let ok;
try {
  ok = sdk.rsaCheck(`"${response}"`, sign, 'RSA2');
} catch (e) {
  v('reject-signature', `rsaCheck threw: ${msg(e)}`);
}
if (!ok) v('reject-signature', 'rsaCheck(RSA2) with the key of alipayCertPublicKey_RSA2.crt returned false');
let plaintext;
try {
  plaintext = JSON.parse(sdk.aesDecrypt(response));
} catch (e) {
  v('reject-decrypt', `aesDecrypt or JSON.parse: ${msg(e)}`);
}
v('accept', 'RSA2 signature ok with the key of alipayCertPublicKey_RSA2.crt, decrypted', plaintext);
