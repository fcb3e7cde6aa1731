//! The v3 login (`POST /v3/alipay/system/oauth/token`, then `/v3/alipay/user/info/share`)
//! through Alipay's official Java v3 SDK: Maven `com.alipay.sdk:alipay-sdk-java-v3`
//! 3.1.15.ALL (package `com.alipay.v3`; the v2 `alipay-sdk-java` 4.40.734.ALL has none of it),
//! driven by `tests/interop/java-v3/GatewayLoginV3.java` with the SDK's own
//! `AlipaySystemOauthApi.tokenWithHttpInfo` and `AlipayUserInfoApi.shareWithHttpInfo`. The SDK
//! signs the `authorization` header, and verifies every 2xx answer's `alipay-signature`
//! (`ApiClient.deserialize` → `verifyResponse(respBody, response, false)`), an answer of 400 and
//! over only when it carries one (`handleResponse` → `verifyResponse(.., true)`).

use std::process::Command;

use alipay_sim::crypto::{PublicKey, SignatureHash};
use serde_json::{json, Value};

use crate::alipay_login::{app_key_pair, app_keys, scoped_auth_code};
use crate::common::{interop_dir, run_json, set_up_sdks};

/// GatewayLoginV3 on `code`, the SDK configured with the app `app_id`'s own private key and
/// `alipay_public_key` as the Alipay public key.
fn java_v3_login(
    sim: &alipay_sim::Simulator,
    app_id: &str,
    alipay_public_key: &Value,
    code: &str,
) -> Value {
    set_up_sdks();
    let pair = app_key_pair(sim, app_id);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v3.json");
    let config = json!({
        "gateway": sim.uri(),
        "appId": app_id,
        "privateKeyPkcs8": pair["app_private_key_pkcs8_pem"],
        "alipayPublicKey": alipay_public_key,
        "code": code,
    });
    std::fs::write(&file, config.to_string()).unwrap();
    let target = interop_dir().join("java-v3/target");
    run_json(
        Command::new("java")
            .args([
                "-cp",
                &format!(
                    "{}:{}/lib/*",
                    target.join("classes").display(),
                    target.display()
                ),
                "GatewayLoginV3",
            ])
            .arg(&file),
    )
}

/// A good login and user.info.share, then the same SDK given another app's Alipay public key:
/// it refuses the answer, which it still hands over with its headers. That answer is the
/// simulator's own: its open_id is the one the SDK logged in with (fixed per app, docs §10),
/// and its `alipay-signature` does verify with the app's real Alipay key, so the refusal is the
/// key's doing, not the answer's.
#[test]
fn the_java_v3_sdk_logs_in_reads_the_user_and_refuses_an_answer_under_another_apps_key() {
    let sim = alipay_sim::Simulator::start_blocking();
    let app = sim.create_app();
    let keys = app_keys(&sim, app.app_id());
    let code = scoped_auth_code(&sim, app.app_id(), "auth_user");
    let login = java_v3_login(&sim, app.app_id(), &keys["alipay_public_key"], &code);
    let token = &login["ok"]["token"];
    assert_eq!(token["status"], 200, "{login}");
    assert_eq!(token["signed"], true, "{login}");
    let open_id = token["openId"].as_str().unwrap_or_default();
    assert_eq!(open_id.len(), 46, "{login}");
    assert!(
        token["accessToken"].as_str().is_some_and(|t| !t.is_empty()),
        "{login}"
    );
    let share = &login["ok"]["share"];
    assert_eq!(share["status"], 200, "{login}");
    assert_eq!(share["signed"], true, "{login}");
    assert_eq!(share["openId"], open_id, "{login}");
    assert_eq!(share["nickName"], "alipay-sim 用户", "{login}");

    // Another app's Alipay public key: "sign check fail", with the 400 the SDK puts on it
    // itself (ApiClient.verifyResponse), the gateway having answered 200.
    let other = sim.create_app();
    let other_key = &app_keys(&sim, other.app_id())["alipay_public_key"];
    let code = scoped_auth_code(&sim, app.app_id(), "auth_user");
    let refused = java_v3_login(&sim, app.app_id(), other_key, &code);
    let error = &refused["error"];
    assert_eq!(error["step"], "token", "{refused}");
    assert_eq!(error["name"], "ApiException", "{refused}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Message: sign check fail: check Sign and Data Fail!")),
        "{refused}"
    );
    assert_eq!(error["status"], 400, "{refused}");
    // tokenWithHttpInfo reads any refused body as its error model: the token object, having
    // none of `code`, `links`, `message` (none required), passes as one, with no code.
    assert_eq!(
        error["error_object"], "AlipaySystemOauthTokenErrorResponseModel",
        "{refused}"
    );
    assert_eq!(error["code"], Value::Null, "{refused}");
    let body = error["body"].as_str().unwrap();
    let answer: Value = serde_json::from_str(body).unwrap();
    assert_eq!(answer["open_id"], open_id, "{refused}");
    let headers = &error["headers"];
    let signed = format!(
        "{}\n{}\n{body}\n",
        headers["alipay-timestamp"].as_str().unwrap(),
        headers["alipay-nonce"].as_str().unwrap()
    );
    let signature = headers["alipay-signature"].as_str().unwrap();
    let verifies = |key: &Value| {
        PublicKey::parse(key.as_str().unwrap()).unwrap().verify(
            SignatureHash::Sha256,
            signed.as_bytes(),
            signature,
        )
    };
    assert!(verifies(&keys["alipay_public_key"]), "{refused}");
    assert!(!verifies(other_key), "{refused}");
}

/// A code used twice: the second gets the gateway's v3 error, HTTP 400 `{code:
/// "isv.code-invalid", message, links: []}`, unsigned, which the SDK raises as an ApiException
/// with status 400 and the body.
///
/// Deviation, asserted by name: **the SDK cannot type the error body**, so
/// `ApiException.getErrorObject()` stays null and the code is only in `getResponseBody()`. Its
/// generated models have `links` as a string: `AlipaySystemOauthTokenErrorResponseModel` (and
/// its fallback `CommonErrorType`) `validateJsonObject` throws "Expected the field `links` to
/// be a primitive type" on the simulator's array, `AlipaySystemOauthTokenDefaultResponse`'s
/// reader then finds no schema, and `tokenWithHttpInfo` only logs that (`catch (Exception ex)
/// { AlipayLogger.logBizWarn(ex); }`). The Node SDK types `links` as an array of `{link, desc}`
/// (`AlipayRequestErrorSupportLink[]`), which is what the simulator follows (docs §4).
#[test]
fn the_java_v3_sdk_raises_a_used_codes_v3_error_with_its_body_but_untyped() {
    let sim = alipay_sim::Simulator::start_blocking();
    let app = sim.create_app();
    let keys = app_keys(&sim, app.app_id());
    let code = scoped_auth_code(&sim, app.app_id(), "auth_user");
    let first = java_v3_login(&sim, app.app_id(), &keys["alipay_public_key"], &code);
    assert_eq!(first["ok"]["token"]["status"], 200, "{first}");

    let again = java_v3_login(&sim, app.app_id(), &keys["alipay_public_key"], &code);
    let error = &again["error"];
    assert_eq!(error["step"], "token", "{again}");
    assert_eq!(error["name"], "ApiException", "{again}");
    assert_eq!(error["status"], 400, "{again}");
    let body: Value = serde_json::from_str(error["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["code"], "isv.code-invalid", "{again}");
    assert!(
        error["headers"].get("alipay-signature").is_none(),
        "{again}"
    );
    // The deviation: no typed error object, so no code from the SDK's own model.
    assert_eq!(body["links"], json!([]), "{again}");
    assert_eq!(error["error_object"], Value::Null, "{again}");
    assert_eq!(error["code"], Value::Null, "{again}");
}
