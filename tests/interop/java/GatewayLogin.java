// A login against the simulator's gateway through the official Java SDK (Maven
// com.alipay.sdk:alipay-sdk-java 4.40.734.ALL, v2 API): DefaultAlipayClient(serverUrl, appId,
// privateKey, "json", "UTF-8", alipayPublicKey, "RSA2") with serverUrl = the simulator's
// /gateway.do, then execute(AlipaySystemOauthTokenRequest) with grant_type/code, as Alipay's
// own sample does. All signing and verifying are the SDK's (AbstractAlipayClient checks the
// answer's sign when the call succeeded or a sign is present, docs/alipay-gateway-login.md §7).
// Usage: java -cp target/classes:target/lib/* GatewayLogin FILE, FILE being
//   {"gateway", "appId", "privateKeyPkcs8" (PKCS#8 PEM), "alipayPublicKey", "code"}, or with
//   "certificatePaths": {"app", "alipay", "root"} (files) for certificate mode instead of the key
// Prints {"ok": {...the response's fields, camelCase as the SDK names them...}} or
// {"error": {"name", "message", "code", "sub_code", "sub_msg"}} on stdout. A failed response
// (isSuccess() false: the SDK returns it rather than throwing) is an "error" named
// "AlipayResponse" carrying its code/msg/subCode/subMsg.

import com.alibaba.fastjson.JSON;
import com.alibaba.fastjson.JSONObject;
import com.alibaba.fastjson.serializer.SerializerFeature;
import com.alipay.api.AlipayApiException;
import com.alipay.api.DefaultAlipayClient;
import com.alipay.api.request.AlipaySystemOauthTokenRequest;
import com.alipay.api.response.AlipaySystemOauthTokenResponse;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.text.SimpleDateFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TimeZone;

public final class GatewayLogin {
    /** The bare base64 the SDK takes (it base64-decodes the string as given, so PEM armour
     * would corrupt the key): the PEM's body, header, footer and line breaks dropped. */
    private static String pemBody(String pem) {
        return pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    }

    private static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }

    private static Map<String, Object> error(String name, String message, String code, String subCode,
                                             String subMsg) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("name", name);
        e.put("message", message);
        e.put("code", code);
        e.put("sub_code", subCode);
        e.put("sub_msg", subMsg);
        return e;
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        if (args.length != 1) {
            System.err.println("usage: java GatewayLogin FILE");
            System.exit(2);
        }
        JSONObject c = JSON.parseObject(new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8));
        String privateKey = c.getString("privateKeyPkcs8");
        if (privateKey == null) {
            System.err.println("GatewayLogin: FILE has no privateKeyPkcs8");
            System.exit(2);
        }

        Map<String, Object> result = new LinkedHashMap<>();
        try {
            JSONObject certPaths = c.getJSONObject("certificatePaths");
            AlipaySystemOauthTokenRequest request = new AlipaySystemOauthTokenRequest();
            request.setGrantType("authorization_code");
            request.setCode(c.getString("code"));
            AlipaySystemOauthTokenResponse r;
            if (certPaths != null) {
                // Certificate mode: the SDK's own cert client, configured with the three files'
                // paths, and certificateExecute (execute refuses a cert-mode client).
                com.alipay.api.CertAlipayRequest cert = new com.alipay.api.CertAlipayRequest();
                cert.setServerUrl(c.getString("gateway"));
                cert.setAppId(c.getString("appId"));
                cert.setPrivateKey(pemBody(privateKey));
                cert.setFormat("json");
                cert.setCharset("UTF-8");
                cert.setSignType("RSA2");
                cert.setCertPath(certPaths.getString("app"));
                cert.setAlipayPublicCertPath(certPaths.getString("alipay"));
                cert.setRootCertPath(certPaths.getString("root"));
                r = new DefaultAlipayClient(cert).certificateExecute(request);
            } else {
                DefaultAlipayClient client = new DefaultAlipayClient(c.getString("gateway"), c.getString("appId"),
                        pemBody(privateKey), "json", "UTF-8", pemBody(c.getString("alipayPublicKey")), "RSA2");
                r = client.execute(request);
            }
            if (r.isSuccess()) {
                Map<String, Object> ok = new LinkedHashMap<>();
                put(ok, "accessToken", r.getAccessToken());
                put(ok, "alipayUserId", r.getAlipayUserId());
                if (r.getAuthStart() != null) {
                    // A java.util.Date: written back in Beijing time, the SDK's own zone
                    // (AlipayConstants.DATE_TIMEZONE), to show what it parsed.
                    SimpleDateFormat f = new SimpleDateFormat("yyyy-MM-dd HH:mm:ss");
                    f.setTimeZone(TimeZone.getTimeZone("GMT+8"));
                    ok.put("authStart", f.format(r.getAuthStart()));
                }
                put(ok, "authTokenType", r.getAuthTokenType());
                put(ok, "expiresIn", r.getExpiresIn());
                put(ok, "openId", r.getOpenId());
                put(ok, "reExpiresIn", r.getReExpiresIn());
                put(ok, "refreshToken", r.getRefreshToken());
                put(ok, "unionId", r.getUnionId());
                put(ok, "userId", r.getUserId());
                result.put("ok", ok);
            } else {
                result.put("error", error("AlipayResponse", r.getMsg(), r.getCode(), r.getSubCode(), r.getSubMsg()));
            }
        } catch (AlipayApiException e) {
            // Request or answer refused by the SDK itself (e.g. "sign check fail").
            result.put("error", error(e.getClass().getSimpleName(), e.getMessage(), e.getErrCode(), null, null));
        } catch (RuntimeException e) {
            // An answer without sign surfaces as a RuntimeException around the SDK's exception.
            result.put("error", error(e.getClass().getSimpleName(), e.getMessage(), null, null, null));
        }
        out.println(JSON.toJSONString(result, SerializerFeature.WriteMapNullValue));
    }
}
