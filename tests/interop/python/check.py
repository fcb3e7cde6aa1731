"""Verdicts on simulator fixtures, computed the way a backend built on the official
PyPI `alipay-sdk-python` would: verify_with_rsa and decrypt_content do all the crypto.

Usage: python check.py DIR   -> prints a JSON array of verdicts on stdout.
"""
import json
import os
import sys

from Crypto.Cipher import AES
from alipay.aop.api.util import EncryptUtils
from alipay.aop.api.util.EncryptUtils import decrypt_content
from alipay.aop.api.util.SignatureUtils import verify_with_rsa


class _AESWithBytesIV:
    """The SDK passes a str IV, which current pycryptodome refuses. Alipay's own decrypt doc
    fixes it with iv.encode("utf8"); this shim applies just that and delegates the rest, so
    base64 decoding, unpadding and charset decoding stay the SDK's own code."""

    def __getattr__(self, name):
        return getattr(AES, name)

    @staticmethod
    def new(key, mode, iv, *args, **kwargs):
        if isinstance(iv, str):
            iv = iv.encode("utf8")
        return AES.new(key, mode, iv, *args, **kwargs)


EncryptUtils.AES = _AESWithBytesIV()



def raw_member(text, name):
    """The raw text of the top-level member `name`: the span the gateway signed, `\\/` escapes
    included (Alipay's Java sample keeps it with fastjson OrderedField). Not crypto: json's own
    raw_decode finds where each value ends."""
    decoder = json.JSONDecoder()
    ws = lambda j: len(text) - len(text[j:].lstrip())
    i = ws(0)
    if text[i:i + 1] != "{":
        return None
    i += 1
    while True:
        i = ws(i)
        key, i = decoder.raw_decode(text, i)
        i = ws(i)
        if text[i:i + 1] != ":":
            return None
        start = ws(i + 1)
        _, end = decoder.raw_decode(text, start)
        if key == name:
            return text[start:end]
        i = ws(end)
        if text[i:i + 1] != ",":
            return None
        i += 1

def judge(fx):
    def v(verdict, detail, plaintext=None):
        return {"verdict": verdict, "plaintext": plaintext, "detail": detail}

    if fx.get("callback") != "success":
        return v("front-end", "callback %s: nothing reached the backend" % fx.get("callback"))
    payload = fx.get("payload")
    text = payload.get("response") if isinstance(payload, dict) else None
    if not isinstance(text, str):
        return v("reject-parse", "payload.response is not a string")
    try:
        env = json.loads(text)
    except ValueError as e:
        return v("reject-parse", "json.loads: %s" % e)
    if not isinstance(env, dict) or "response" not in env:
        return v("reject-parse", 'envelope is not an object with a "response" key')
    if "sign" not in env:
        return v("unsigned", 'envelope has no "sign"')

    response, sign = env["response"], env["sign"]
    # Which bytes were signed: the quoted ciphertext token, or the object's raw text as sent.
    if isinstance(response, str):
        signed = '"' + response + '"'
    elif isinstance(response, dict):
        signed = raw_member(text, "response")
    else:
        return v("reject-parse", '"response" is neither a string nor an object (%s)' % type(response).__name__)

    # verify_with_rsa follows the hash named inside the signature and ignores sign_type:
    # that is the SDK's real behaviour, kept on purpose.
    try:
        ok = verify_with_rsa(fx.get("alipay_public_key"), signed.encode("utf-8"), sign)
    except Exception as e:
        return v("reject-signature", "verify_with_rsa raised %s: %s" % (type(e).__name__, e))
    if not ok:
        return v("reject-signature", "verify_with_rsa returned False")
    if isinstance(response, dict):
        return v("accept", "plain content, signature ok", response)

    try:
        plain = decrypt_content(response, "AES", fx.get("aes_key"), "utf-8")
    except Exception as e:
        return v("reject-decrypt", "decrypt_content raised %s: %s" % (type(e).__name__, e))
    try:
        obj = json.loads(plain)
    except ValueError as e:
        return v("reject-decrypt", "decrypted text is not JSON (%r): %s" % (plain[:40], e))
    if not isinstance(obj, dict):
        return v("reject-decrypt", "decrypted JSON is not an object")
    return v("accept", "encrypted content, signature ok, decrypted", obj)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) != 2:
        fail("usage: python check.py DIR")
    d = sys.argv[1]
    try:
        names = sorted(n for n in os.listdir(d) if n.endswith(".json") and n not in ("index.json", "keys.json"))
    except OSError as e:
        fail("cannot read fixture directory %s: %s" % (d, e))
    out = []
    for n in names:
        try:
            with open(os.path.join(d, n), encoding="utf-8") as f:
                fx = json.load(f)
        except (OSError, ValueError) as e:
            fail("cannot read fixture %s: %s" % (n, e))
        if not isinstance(fx, dict):
            fail("fixture %s is not a JSON object" % n)
        row = {"scenario": fx.get("scenario") or n[: -len(".json")], "sdk": "python"}
        row.update(judge(fx))
        out.append(row)
    out.sort(key=lambda r: r["scenario"])
    # One verdict per line, in UTF-8 whatever the locale says, like the Node checker.
    text = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in out) + "\n]\n" if out else "[]\n"
    sys.stdout.buffer.write(text.encode("utf-8"))


if __name__ == "__main__":
    main()
