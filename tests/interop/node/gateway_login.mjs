// A login against the simulator's gateway through the official npm `alipay-sdk` (4.14.0):
// `exec('alipay.system.oauth.token', {grant_type, code}, {validateSign})` on a client whose
// `gateway` is the simulator's /gateway.do. All signing and verifying are the SDK's.
// Usage: node gateway_login.mjs FILE, FILE being
//   {"gateway", "appId", "privateKey" (PKCS#1 PEM), "alipayPublicKey", "validateSign",
//    "code"} for a login with an authorization code, or "method" and "params" for another call
//   (e.g. alipay.user.info.share with {"auth_token"}, oauth.token with a refresh_token).
//   Or "v3": {"path", "body", "query"} for a v3 call through `curl`; "certificates": {"app",
//   "alipay", "root"} (PEM texts) for certificate mode.
// Prints {"ok": <the SDK's result>} or {"error": {"name", "message"}} on stdout.
import { readFileSync } from 'node:fs';
import { AlipaySdk } from 'alipay-sdk';

const file = process.argv[2];
if (!file) {
  console.error('usage: node gateway_login.mjs FILE');
  process.exit(2);
}
const c = JSON.parse(readFileSync(file, 'utf8'));
// Certificate mode: the three files' contents instead of the Alipay public key (the SDK then
// sends app_cert_sn and alipay_root_cert_sn, and verifies with the Alipay certificate's key).
const keys = c.certificates
  ? {
      appCertContent: c.certificates.app,
      alipayPublicCertContent: c.certificates.alipay,
      alipayRootCertContent: c.certificates.root,
    }
  : { alipayPublicKey: c.alipayPublicKey };
const sdk = new AlipaySdk({
  appId: c.appId,
  privateKey: c.privateKey,
  ...keys,
  gateway: c.gateway,
  // v3's base URL: the gateway's origin.
  endpoint: new URL(c.gateway).origin,
  signType: 'RSA2',
});
try {
  if (c.v3) {
    // v3 (`curl`): the SDK signs the authorization header and always verifies the answer's
    // alipay-signature on a success.
    const result = await sdk.curl('POST', c.v3.path, { body: c.v3.body, query: c.v3.query });
    console.log(JSON.stringify({ ok: result }));
    process.exit(0);
  }
  const [method, params] = c.method
    ? [c.method, c.params ?? {}]
    : ['alipay.system.oauth.token', { grant_type: 'authorization_code', code: c.code }];
  const result = await sdk.exec(method, params, { validateSign: c.validateSign });
  console.log(JSON.stringify({ ok: result }));
} catch (e) {
  console.log(JSON.stringify({ error: { name: e.name, message: e.message, code: e.code ?? null } }));
}
