"""What a backend built on PyPI wechatpy 1.8.18 gets: its own WeChatWxaCrypto does the crypto,
its own WeChatClient does the HTTP (token cache, retries). Nothing is re-implemented here.

Usage: check.py decrypt FILE | check.py live FILE   -> one JSON array on stdout (see ../README.md).
Exit status is non-zero only for harness errors (bad arguments or input file).
"""
import json
import re
import signal
import sys
import urllib.error
import urllib.request

from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient
from wechatpy.crypto import WeChatWxaCrypto
from wechatpy.exceptions import WeChatClientException

WECHAT = "https://api.weixin.qq.com"
OP_TIMEOUT = 20      # seconds per live op: wechatpy retries 40001/40014/42001 without a bound
MAX_REQUESTS = 100   # per live op, the same guard counted in requests


def compact(obj):
    # The library returns the parsed dict; write it back compactly, in the order it was decoded.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def detail(e):
    return "%s: %s" % (type(e).__name__, e)


def decrypt_calls(appid, session_key, iv, encrypted_data):
    """[(call, outcome, plaintext-or-None, detail)] for every decrypt function wechatpy has."""
    try:
        # WeChatWxaCrypto checks watermark.appid itself (InvalidAppIdException, -40005).
        plain = WeChatWxaCrypto(session_key, iv, appid).decrypt_message(encrypted_data)
        return [("wechatpy WeChatWxaCrypto.decrypt_message", "ok", compact(plain), "")]
    except Exception as e:  # any refusal is a result, not a harness error
        return [("wechatpy WeChatWxaCrypto.decrypt_message", "error", None, detail(e))]


def decrypt_mode(cases):
    out = []
    for c in cases:
        for call, outcome, plain, det in decrypt_calls(c["appid"], c["session_key"], c["iv"], c["encryptedData"]):
            row = {"name": c["name"], "call": call, "outcome": outcome, "detail": det}
            if plain is not None:
                row["plaintext"] = plain
            out.append(row)
    return sorted(out, key=lambda r: (r["name"], r["call"]))


class Redirect(HTTPAdapter):
    """wechatpy hard-codes https://api.weixin.qq.com (class constants and the token URL), but
    every request goes through the client's requests.Session: this adapter, mounted on it, swaps
    the origin for the simulator's and counts requests."""

    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.count = 0
        self.last = ""

    def send(self, request, **kwargs):
        self.count += 1
        if self.count > MAX_REQUESTS:
            raise GuardError("more than %d requests in one op (library retry loop); last answer %s"
                             % (MAX_REQUESTS, self.last))
        request.url = self.base_url + request.url[len(WECHAT):]
        resp = super().send(request, **kwargs)
        if "/cgi-bin/token" not in request.url:  # the business answer, named if the guard trips
            self.last = resp.content[:300].decode("utf-8", "replace")
        return resp


class GuardError(Exception):
    """Raised by the harness, never by the library: an op ran away (time or request count)."""


class HarnessError(Exception):
    """A malformed FILE found while running it (unknown placeholder, bad method): exit 2."""


PAGE_METHODS = {"page": ("GET", "POST", "PATCH"), "http": ("GET", "POST")}


def with_credentials(value, appid, secret):
    """$APPID / $SECRET replaced inside a path or the string values of a JSON body."""
    if isinstance(value, str):
        return value.replace("$APPID", appid).replace("$SECRET", secret)
    if isinstance(value, list):
        return [with_credentials(v, appid, secret) for v in value]
    if isinstance(value, dict):
        return {k: with_credentials(v, appid, secret) for k, v in value.items()}
    return value


def plain_http(method, url, body):
    """A request not made through the library: the parsed JSON answer (None if empty); an HTTP
    status >= 400 raises with the answer in the message."""
    data = None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    req = urllib.request.Request(url, method=method, data=data,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=OP_TIMEOUT) as r:
            text = r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        raise RuntimeError("HTTP %d: %s" % (e.code, e.read().decode("utf-8", "replace")))
    return json.loads(text) if text.strip() else None


def remember(memory, path, value):
    """What a page answer gives later ops: $login from wx.login, $phone/$encryptedData/$iv (and a
    new $login from login_code_after) from tap. Only fields present (strings) are taken; a tap
    forgets the previous tap's $phone/$encryptedData/$iv first (a deny has none of them)."""
    path = path.split("?", 1)[0].rstrip("/")
    if not isinstance(value, dict):
        return
    def take(name, v):
        if isinstance(v, str):
            memory[name] = v
    if path.endswith("/wx.login"):
        take("$login", value.get("code"))
    elif path.endswith("/tap"):
        for name in ("$phone", "$encryptedData", "$iv"):  # one tap's answer, not an older one's
            memory.pop(name, None)
        d = value.get("detail")
        if isinstance(d, dict):
            take("$phone", d.get("code"))
            take("$encryptedData", d.get("encryptedData"))
            take("$iv", d.get("iv"))
        take("$login", value.get("login_code_after"))


def resolve(memory, index, value):
    """A value starting with $ is a placeholder for something a page op remembered."""
    if isinstance(value, str) and value.startswith("$"):
        if value not in memory:
            raise HarnessError("op %d: unknown placeholder %s (remembered: %s)"
                               % (index, value, ", ".join(sorted(memory)) or "none"))
        return memory[value]
    return value


def on_alarm(signum, frame):
    raise GuardError("op still running after %d s" % OP_TIMEOUT)


def errcode_of(e):
    if isinstance(e, WeChatClientException) and e.errcode is not None:
        return int(e.errcode)
    m = re.search(r'errcode["\']?\s*[:=]\s*(-?\d+)', str(e))
    return int(m.group(1)) if m else None


def live_mode(spec):
    base, appid = spec["base_url"].rstrip("/"), spec["appid"]
    client = WeChatClient(appid, spec["secret"])  # MemoryStorage token cache, auto_retry=True
    adapter = Redirect(base)
    client._http.mount(WECHAT, adapter)
    last_session_key = None
    memory = {}  # placeholder -> value, filled by page ops
    out = []
    signal.signal(signal.SIGALRM, on_alarm)

    def run(index, op, call, fn):
        adapter.count = 0
        row = {"index": index, "op": op["op"], "call": call}
        signal.alarm(OP_TIMEOUT)
        try:
            value = fn()
            row.update(outcome="ok", value=value, errcode=None, detail="")
        except BaseException as e:  # RecursionError and GuardError included: both are outcomes
            if isinstance(e, KeyboardInterrupt):
                raise
            row.update(outcome="error", errcode=errcode_of(e), detail=detail(e))
        finally:
            signal.alarm(0)
        row["requests"] = adapter.count
        out.append(row)
        return row

    for index, op in enumerate(spec["ops"]):
        kind = op["op"]
        if kind == "token":
            # The cached token while wechatpy thinks it fresh (until 60 s before expires_in).
            run(index, op, "wechatpy WeChatClient.access_token", lambda: client.access_token)
        elif kind == "login":
            def login(code=resolve(memory, index, op["code"])):
                r = client.wxa.code_to_session(code)  # also sends access_token=
                return {k: r[k] for k in ("openid", "session_key", "unionid") if k in r}
            row = run(index, op, "wechatpy WeChatWxa.code_to_session", login)
            if row["outcome"] == "ok":
                last_session_key = row["value"].get("session_key")
        elif kind == "phone":
            # wechatpy 1.8.18 has no helper: a backend posts the documented body itself.
            def phone(code=resolve(memory, index, op["code"])):
                r = client.post(WECHAT + "/wxa/business/getuserphonenumber", data={"code": code})
                return r["phone_info"]
            run(index, op, "wechatpy WeChatClient.post wxa/business/getuserphonenumber", phone)
        elif kind == "decrypt":
            sk = op.get("session_key") or last_session_key
            iv, ed = resolve(memory, index, op["iv"]), resolve(memory, index, op["encryptedData"])
            for call, outcome, plain, det in (
                decrypt_calls(appid, sk, iv, ed) if sk else
                [("wechatpy WeChatWxaCrypto.decrypt_message", "error", None,
                  "NoSessionKey: session_key is null and no login op succeeded before")]):
                row = {"index": index, "op": kind, "call": call, "outcome": outcome,
                       "errcode": None, "detail": det, "requests": 0}
                if plain is not None:
                    row["value"] = plain
                out.append(row)
        elif kind == "advance":
            def advance(seconds=op["seconds"]):
                req = urllib.request.Request(base + "/api/v1/clock/advance", method="POST",
                                             data=json.dumps({"seconds": seconds}).encode(),
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=OP_TIMEOUT) as r:
                    body = r.read().decode()
                return json.loads(body) if body.strip() else None
            run(index, op, "http POST /api/v1/clock/advance", advance)
        elif kind in ("page", "http"):
            # Plain HTTP, not through the library: a page's API call (page) or another server of
            # the same backend (http, e.g. a token fetched behind the library's back).
            method = op["method"]
            if method not in PAGE_METHODS[kind]:
                raise HarnessError("op %d: %s method must be one of %s, not %r"
                                   % (index, kind, "/".join(PAGE_METHODS[kind]), method))
            if method == "GET" and op.get("body") is not None:
                raise HarnessError("op %d: %s GET takes no body" % (index, kind))
            path = with_credentials(op["path"], appid, spec["secret"])
            body = with_credentials(op.get("body"), appid, spec["secret"])
            row = run(index, op, kind, lambda: plain_http(method, base + path, body))
            if kind == "page" and row["outcome"] == "ok":
                remember(memory, path, row["value"])
        else:
            raise ValueError("op %d: unknown op %r" % (index, kind))
    return out


def main(argv):
    if len(argv) != 3 or argv[1] not in ("decrypt", "live"):
        print("usage: check.py decrypt|live FILE", file=sys.stderr)
        sys.exit(2)
    try:
        with open(argv[2], encoding="utf-8") as f:
            data = json.load(f)
        result = decrypt_mode(data) if argv[1] == "decrypt" else live_mode(data)
    except (OSError, ValueError, KeyError, TypeError, HarnessError) as e:
        print("check.py: bad input %s: %s" % (argv[2], detail(e)), file=sys.stderr)
        sys.exit(2)  # a harness error, as in the other checkers (sys.exit(str) would be 1)
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main(sys.argv)
