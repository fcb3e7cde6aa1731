//! The Alipay login's first part: `my.getAuthCode` and `alipay.system.oauth.token` at
//! `/gateway.do`, proven with the official npm `alipay-sdk` (its own `exec`, signing with the
//! app's key pair and, with `validateSign`, verifying the gateway's answer), and the gateway's
//! refusals: a request signed with another key gets `isv.invalid-signature` with the string the
//! gateway signed; a used code `isv.code-invalid`, in a signed `error_response`.

use std::process::Command;

use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::common::{interop_dir, run_json, set_up_sdks};

/// The Node SDK's login with `code`, signing with `private_key`.
fn node_login(
    sim: &alipay_sim::Simulator,
    app_id: &str,
    private_key: &str,
    code: &str,
    validate_sign: bool,
) -> Value {
    set_up_sdks();
    let keys: Value = Client::new()
        .get(format!("{}/api/v1/apps/{app_id}/keys", sim.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("login.json");
    let config = json!({
        "gateway": format!("{}/gateway.do", sim.uri()),
        "appId": app_id,
        "privateKey": private_key,
        "alipayPublicKey": keys["alipay_public_key"],
        "code": code,
        "validateSign": validate_sign,
    });
    std::fs::write(&file, config.to_string()).unwrap();
    run_json(
        Command::new("node")
            .arg(interop_dir().join("node/gateway_login.mjs"))
            .arg(&file),
    )
}

fn auth_code(sim: &alipay_sim::Simulator, app_id: &str) -> String {
    let answer: Value = Client::new()
        .post(format!("{}/api/v1/apps/{app_id}/my.getAuthCode", sim.uri()))
        .body(r#"{"scopes": "auth_base"}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        answer["authSuccessScopes"],
        json!(["auth_base"]),
        "{answer}"
    );
    answer["authCode"].as_str().unwrap().to_string()
}

fn app_key_pair(sim: &alipay_sim::Simulator, app_id: &str) -> Value {
    Client::new()
        .get(format!("{}/api/v1/apps/{app_id}/app-key-pair", sim.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn the_node_sdk_logs_in_and_verifies_the_gateways_answer() {
    let sim = alipay_sim::Simulator::start_blocking();
    let app = sim.create_app();
    let pair = app_key_pair(&sim, app.app_id());
    let private_key = pair["app_private_key_pkcs1_pem"].as_str().unwrap();
    assert!(private_key.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert_ne!(
        pair["app_public_key"],
        app.alipay_public_key(),
        "the app's pair is its own"
    );

    let code = auth_code(&sim, app.app_id());
    let login = node_login(&sim, app.app_id(), private_key, &code, true);
    let result = &login["ok"];
    assert!(
        result["openId"].as_str().is_some_and(|id| id.len() == 46),
        "{login}"
    );
    assert!(
        result["accessToken"]
            .as_str()
            .unwrap()
            .starts_with("authusrB"),
        "{login}"
    );
    assert_eq!(result["expiresIn"], 1_296_000);

    // The code worked once: the second use is isv.code-invalid, in a signed error_response.
    let again = node_login(&sim, app.app_id(), private_key, &code, false);
    assert_eq!(again["ok"]["code"], "40002", "{again}");
    assert_eq!(again["ok"]["subCode"], "isv.code-invalid", "{again}");
    // Known behaviour of the Node SDK: with validateSign it looks for the sign string under the
    // method's root only, so a correctly signed error_response fails its verification.
    let verified = node_login(&sim, app.app_id(), private_key, &code, true);
    assert!(
        verified["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("验签失败"),
        "{verified}"
    );
}

#[test]
fn a_request_signed_with_another_key_gets_the_string_the_gateway_signed() {
    let sim = alipay_sim::Simulator::start_blocking();
    let app = sim.create_app();
    // Signed with the Alipay key instead of the app's: the classic mix-up.
    let other = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .output()
        .unwrap();
    let other = String::from_utf8(other.stdout).unwrap();
    assert!(other.contains("BEGIN RSA PRIVATE KEY"), "{other}");
    let code = auth_code(&sim, app.app_id());
    let answer = node_login(&sim, app.app_id(), &other, &code, false);
    let result = &answer["ok"];
    assert_eq!(result["code"], "40002", "{answer}");
    assert_eq!(result["subCode"], "isv.invalid-signature", "{answer}");
    let sub_msg = result["subMsg"].as_str().unwrap();
    assert!(sub_msg.contains("网关生成的验签字符串为："), "{sub_msg}");
    let signed = sub_msg
        .split("网关生成的验签字符串为：")
        .nth(1)
        .unwrap()
        .replace("&amp;", "&");
    assert!(signed.starts_with(&format!("app_id={}&charset=utf-8&code={code}&grant_type=authorization_code&method=alipay.system.oauth.token&sign_type=RSA2&timestamp=", app.app_id())), "{signed}");
    assert!(signed.ends_with("&version=1.0"), "{signed}");
    // The refused request did not use the code: the right key still logs in with it.
    let pair = app_key_pair(&sim, app.app_id());
    let login = node_login(
        &sim,
        app.app_id(),
        pair["app_private_key_pkcs1_pem"].as_str().unwrap(),
        &code,
        true,
    );
    assert!(login["ok"]["openId"].is_string(), "{login}");

    // An uploaded app public key replaces the made pair: the other key now signs right.
    let public = std::process::Command::new("bash")
        .args(["-c", "openssl rsa -pubout 2>/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(other.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let public = String::from_utf8(public.stdout).unwrap();
    let set: Value = Client::new()
        .put(format!(
            "{}/api/v1/apps/{}/app-public-key",
            sim.uri(),
            app.app_id()
        ))
        .json(&json!({"app_public_key": public}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(set["uploaded"], true, "{set}");
    assert!(set["app_private_key_pkcs1_pem"].is_null());
    let code = auth_code(&sim, app.app_id());
    let login = node_login(&sim, app.app_id(), &other, &code, true);
    assert!(login["ok"]["openId"].is_string(), "{login}");
    // The Alipay public key is refused as the app's.
    let refused = Client::new()
        .put(format!(
            "{}/api/v1/apps/{}/app-public-key",
            sim.uri(),
            app.app_id()
        ))
        .json(&json!({"app_public_key": app.alipay_public_key()}))
        .send()
        .unwrap();
    assert_eq!(refused.status(), 422);
}

#[test]
fn the_gateway_refuses_incomplete_requests_in_its_own_shape() {
    let sim = alipay_sim::Simulator::start_blocking();
    let app = sim.create_app();
    let post = |query: &str| -> Value {
        let response = Client::new()
            .post(format!("{}/gateway.do?{query}", sim.uri()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=authorization_code&code=x")
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/json;charset=utf-8"
        );
        response.json().unwrap()
    };
    let id = app.app_id();
    for (query, sub_code) in [
        ("method=alipay.system.oauth.token".to_string(), "isv.missing-app-id"),
        (format!("app_id={id}"), "isv.missing-method"),
        (format!("app_id={id}&method=alipay.system.oauth.token"), "isv.missing-signature"),
        (format!("app_id={id}&method=alipay.system.oauth.token&sign=x"), "isv.missing-signature-type"),
        (format!("app_id={id}&method=alipay.system.oauth.token&sign=x&sign_type=RSA2"), "isv.missing-timestamp"),
        ("app_id=2021000000000000&method=alipay.system.oauth.token&sign=x&sign_type=RSA2&timestamp=2026-01-01+00:00:00".to_string(), "isv.invalid-app-id"),
        (format!("app_id={id}&method=alipay.nope&sign=x&sign_type=RSA2&timestamp=2026-01-01+00:00:00"), "isv.invalid-method"),
        (format!("app_id={id}&method=alipay.system.oauth.token&sign=eA%3D%3D&sign_type=RSA2&timestamp=2026-01-01+00:00:00"), "isv.invalid-signature"),
    ] {
        let answer = post(&query);
        assert_eq!(answer["error_response"]["sub_code"], sub_code, "{query}: {answer}");
        let code = answer["error_response"]["code"].as_str().unwrap();
        assert!(code == "40001" || code == "40002", "{answer}");
        // Signed for a known app; an unknown app has no Alipay key to sign with.
        assert_eq!(answer["sign"].is_string(), !query.starts_with("app_id=2021000000000000") && query.contains("app_id="), "{query}: {answer}");
    }
}
