// A login against the simulator's v3 gateway through Alipay's official Java v3 SDK (Maven
// com.alipay.sdk:alipay-sdk-java-v3 3.1.15.ALL, package com.alipay.v3): an ApiClient given an
// AlipayConfig (appId, app private key, Alipay public key) and setBasePath(the simulator), then
// AlipaySystemOauthApi.token({grant_type: authorization_code, code}) and, with the access token,
// AlipayUserInfoApi.share(authToken), which puts auth_token in the query. All signing (the
// `authorization: ALIPAY-SHA256withRSA ...` header, AlipayConfigUtil.sign) and verifying (the
// answer's alipay-signature over `timestamp\nnonce\nbody\n`, ApiClient.verifyResponse) are the
// SDK's.
// Usage: java -cp target/classes:target/lib/* GatewayLoginV3 FILE, FILE being
//   {"gateway" (the base URL, no path), "appId", "privateKeyPkcs8" (PKCS#8 PEM),
//    "alipayPublicKey" (PEM), "code"}
// Prints {"ok": {"token": {...}, "share": {...}}} (the SDK's models' fields, camelCase as it
// names them, with "status" the HTTP status and "signed" whether the answer had an
// alipay-signature) or {"error": {"step", "name", "message", "status", "code", "error_object",
// "body", "headers"}} on stdout: an ApiException from the SDK at step "token" or "share".
// "status" is ApiException.getCode(): the HTTP status of an answer >= 400, the 400 the SDK puts
// on its own "sign check fail" (ApiClient.verifyResponse, whatever the HTTP status was), 0 when
// there was no answer; "code" the code of the SDK's typed error object (getErrorObject(), which
// tokenWithHttpInfo/shareWithHttpInfo fill from the body), null when the SDK could not type the
// body; "error_object" that object's class, or null; "body" the body the SDK kept
// (getResponseBody()) and "headers" the answer's (names lowercased, first values).

import com.alipay.v3.ApiClient;
import com.alipay.v3.ApiException;
import com.alipay.v3.ApiResponse;
import com.alipay.v3.api.AlipaySystemOauthApi;
import com.alipay.v3.api.AlipayUserInfoApi;
import com.alipay.v3.model.AlipaySystemOauthTokenModel;
import com.alipay.v3.model.AlipaySystemOauthTokenResponseModel;
import com.alipay.v3.model.AlipayUserInfoShareResponseModel;
import com.alipay.v3.util.model.AlipayConfig;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

public final class GatewayLoginV3 {
    /** The bare base64 the SDK takes (AlipayConfigUtil base64-decodes the string as given, so
     * PEM armour would corrupt the key): the PEM's body, header, footer and line breaks dropped. */
    private static String pemBody(String pem) {
        return pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    }

    private static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }

    private static boolean signed(ApiResponse<?> r) {
        for (Map.Entry<String, List<String>> h : r.getHeaders().entrySet()) {
            if ("alipay-signature".equalsIgnoreCase(h.getKey()) && !h.getValue().isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /** The code of the SDK's typed error object: every generated error model
     * (AlipaySystemOauthTokenErrorResponseModel, AlipayUserInfoShareErrorResponseModel,
     * CommonErrorType) has getCode() returning its CodeEnum, whose toString() is the wire value. */
    private static String typedCode(Object instance) {
        if (instance == null) {
            return null;
        }
        try {
            Object code = instance.getClass().getMethod("getCode").invoke(instance);
            return code == null ? null : code.toString();
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    private static Map<String, Object> error(String step, ApiException e) {
        Object instance = e.getErrorObject() == null ? null : e.getErrorObject().getActualInstance();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        m.put("name", e.getClass().getSimpleName());
        m.put("message", e.getMessage());
        m.put("status", e.getCode());
        m.put("code", typedCode(instance));
        m.put("error_object", instance == null ? null : instance.getClass().getSimpleName());
        m.put("body", e.getResponseBody());
        Map<String, String> headers = new TreeMap<>();
        if (e.getResponseHeaders() != null) {
            for (Map.Entry<String, List<String>> h : e.getResponseHeaders().entrySet()) {
                if (h.getKey() != null && !h.getValue().isEmpty()) {
                    headers.put(h.getKey().toLowerCase(Locale.ROOT), h.getValue().get(0));
                }
            }
        }
        m.put("headers", headers);
        return m;
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        if (args.length != 1) {
            System.err.println("usage: java GatewayLoginV3 FILE");
            System.exit(2);
        }
        JsonObject c = JsonParser.parseString(
                new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8)).getAsJsonObject();
        if (!c.has("privateKeyPkcs8")) {
            System.err.println("GatewayLoginV3: FILE has no privateKeyPkcs8");
            System.exit(2);
        }

        // As Alipay's v3 samples do, less the server URL, set by setBasePath (§7): key mode.
        AlipayConfig config = new AlipayConfig();
        config.setAppId(c.get("appId").getAsString());
        config.setPrivateKey(pemBody(c.get("privateKeyPkcs8").getAsString()));
        config.setAlipayPublicKey(pemBody(c.get("alipayPublicKey").getAsString()));
        ApiClient client = new ApiClient();
        client.setAlipayConfig(config);
        client.setBasePath(c.get("gateway").getAsString());

        Map<String, Object> result = new LinkedHashMap<>();
        String step = "token";
        try {
            AlipaySystemOauthTokenModel model = new AlipaySystemOauthTokenModel();
            model.setGrantType("authorization_code");
            model.setCode(c.get("code").getAsString());
            ApiResponse<AlipaySystemOauthTokenResponseModel> tr =
                    new AlipaySystemOauthApi(client).tokenWithHttpInfo(model, null);
            AlipaySystemOauthTokenResponseModel t = tr.getData();
            Map<String, Object> token = new LinkedHashMap<>();
            token.put("status", tr.getStatusCode());
            token.put("signed", signed(tr));
            put(token, "accessToken", t.getAccessToken());
            put(token, "alipayUserId", t.getAlipayUserId());
            put(token, "authStart", t.getAuthStart());
            put(token, "authTokenType", t.getAuthTokenType());
            put(token, "expiresIn", t.getExpiresIn());
            put(token, "openId", t.getOpenId());
            put(token, "reExpiresIn", t.getReExpiresIn());
            put(token, "refreshToken", t.getRefreshToken());
            put(token, "unionId", t.getUnionId());
            put(token, "userId", t.getUserId());

            step = "share";
            ApiResponse<AlipayUserInfoShareResponseModel> sr =
                    new AlipayUserInfoApi(client).shareWithHttpInfo(t.getAccessToken(), null);
            AlipayUserInfoShareResponseModel s = sr.getData();
            Map<String, Object> share = new LinkedHashMap<>();
            share.put("status", sr.getStatusCode());
            share.put("signed", signed(sr));
            put(share, "avatar", s.getAvatar());
            put(share, "nickName", s.getNickName());
            put(share, "openId", s.getOpenId());
            put(share, "userId", s.getUserId());

            Map<String, Object> ok = new LinkedHashMap<>();
            ok.put("token", token);
            ok.put("share", share);
            result.put("ok", ok);
        } catch (ApiException e) {
            // Refused by the gateway (HTTP >= 400) or by the SDK itself ("sign check fail").
            result.put("error", error(step, e));
        }
        out.println(new GsonBuilder().serializeNulls().disableHtmlEscaping().create().toJson(result));
    }
}
