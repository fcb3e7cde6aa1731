"""A login against the simulator's gateway through the official PyPI `alipay-sdk-python`
(3.7.1411): DefaultAlipayClient.execute(AlipaySystemOauthTokenRequest) with grant_type/code on a
client whose AlipayClientConfig.server_url is the simulator's /gateway.do, then
AlipaySystemOauthTokenResponse.parse_response_content, as the SDK's own samples do. All signing
and verifying are the SDK's (it always verifies the answer: skip_sign stays False).

Usage: python gateway_login.py FILE, FILE being
  {"gateway", "appId", "privateKey" (PKCS#1 PEM), "alipayPublicKey", "code"}
Prints {"ok": {...the response model's fields...}} or
{"error": {"name", "message", "code", "sub_code", "sub_msg"}} on stdout. A failed response
(is_success() false: the SDK returns it rather than raising) is an "error" named
"AlipayResponse" carrying its code/msg/sub_code/sub_msg.
"""
import json
import sys

try:
    import http.client as httplib
    import urllib.parse as urlparse
except ImportError:  # pragma: no cover (Python 2)
    import httplib
    import urlparse

from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
from alipay.aop.api.request.AlipaySystemOauthTokenRequest import AlipaySystemOauthTokenRequest
from alipay.aop.api.response.AlipaySystemOauthTokenResponse import AlipaySystemOauthTokenResponse
from alipay.aop.api.util import WebUtils


def _get_http_connection(url, query_string, timeout):
    """The SDK's WebUtils.get_http_connection always connects to port 80 (443 for https) and
    then does `url += url_parse_result.port`, an int, so any URL with an explicit port raises
    TypeError (docs/alipay-gateway-login.md §7). This replacement differs only in that it
    connects to the URL's port and writes it as ":PORT"; the request target stays the SDK's
    absolute form (`POST http://host:port/gateway.do?<query> HTTP/1.1`). do_post looks the
    function up in WebUtils' globals, so patching the module attribute is enough."""
    parsed = urlparse.urlparse(url)
    host = parsed.hostname
    if url.find("https") == 0:
        connection = httplib.HTTPSConnection(host=host, port=parsed.port or 443, timeout=timeout)
    else:
        connection = httplib.HTTPConnection(host=host, port=parsed.port or 80, timeout=timeout)
    url = parsed.scheme + "://" + parsed.hostname
    if parsed.port:
        url += ":" + str(parsed.port)
    url += parsed.path
    url += "?" + query_string
    return url, connection


WebUtils.get_http_connection = _get_http_connection

_FIELDS = ("access_token", "alipay_user_id", "auth_start", "auth_token_type", "expires_in",
           "open_id", "re_expires_in", "refresh_token", "union_id", "user_id")


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python gateway_login.py FILE\n")
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        c = json.load(f)

    config = AlipayClientConfig()
    config.server_url = c["gateway"]
    config.app_id = c["appId"]
    config.app_private_key = c["privateKey"]
    config.alipay_public_key = c["alipayPublicKey"]
    config.sign_type = "RSA2"
    client = DefaultAlipayClient(alipay_client_config=config)

    request = AlipaySystemOauthTokenRequest()
    request.grant_type = "authorization_code"
    request.code = c["code"]
    try:
        content = client.execute(request)
    except Exception as e:  # RequestException / ResponseException (e.g. sign verify failed)
        out = {"error": {"name": type(e).__name__, "message": str(e),
                         "code": None, "sub_code": None, "sub_msg": None}}
    else:
        response = AlipaySystemOauthTokenResponse()
        response.parse_response_content(content)
        if response.is_success():
            out = {"ok": {k: getattr(response, k) for k in _FIELDS
                          if getattr(response, k) is not None}}
        else:
            out = {"error": {"name": "AlipayResponse", "message": response.msg,
                             "code": response.code, "sub_code": response.sub_code,
                             "sub_msg": response.sub_msg}}
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
