//! WeChat's flows through the simulator's HTTP server, as a backend and a page meet them: the
//! legacy flow (wx.login, jscode2session, the tap's encryptedData decrypted by `openssl`, not by
//! this crate), the code flow (token, getuserphonenumber), codes used once, tokens aged by the
//! simulator's clock, every endpoint's answer to bad input in WeChat's own shape, the journal
//! of the backend's calls, and the admin API's refusals across platforms.

use alipay_sim::wechat::model::Tap;
use alipay_sim::Simulator;
use reqwest::blocking::Client;
use serde_json::{json, Value};

fn get(sim: &Simulator, path_and_query: &str) -> (reqwest::StatusCode, String, Value) {
    let response = Client::new()
        .get(format!("{}{path_and_query}", sim.uri()))
        .send()
        .unwrap();
    let status = response.status();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (status, content_type, response.json().unwrap())
}

fn post(sim: &Simulator, path_and_query: &str, body: &str) -> Value {
    let response = Client::new()
        .post(format!("{}{path_and_query}", sim.uri()))
        .body(body.to_string())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{path_and_query}");
    response.json().unwrap()
}

fn token(sim: &Simulator, appid: &str, secret: &str) -> String {
    let (_, _, body) = get(
        sim,
        &format!("/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"),
    );
    assert_eq!(body["expires_in"], 7200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// Decrypts with the openssl command line: AES-128-CBC, PKCS#7, key and IV from base64.
fn openssl_decrypt(session_key: &str, iv: &str, encrypted_data: &str) -> Option<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let hex = |text: &str| -> String {
        b64.decode(text)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(&input, b64.decode(encrypted_data).unwrap()).unwrap();
    let output = std::process::Command::new("openssl")
        .args([
            "enc",
            "-d",
            "-aes-128-cbc",
            "-K",
            &hex(session_key),
            "-iv",
            &hex(iv),
            "-in",
        ])
        .arg(&input)
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).unwrap())
}

#[test]
fn the_legacy_flow_decrypts_with_the_session_key_of_the_login_code() {
    let sim = Simulator::start_blocking();
    let app = sim.create_wechat_app();
    let (appid, secret) = (app.appid().to_string(), app.secret());
    let code = app.login();
    let (status, content_type, session) = get(
        &sim,
        &format!("/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code"),
    );
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json; encoding=utf-8");
    // A success carries no errcode (docs §3.1), and keys in WeChat's order.
    let keys: Vec<_> = session.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["session_key", "openid"], "{session}");
    assert_eq!(session["openid"], app.view().openid);

    let tapped = app.tap(Tap::default()).unwrap();
    let detail = &tapped.detail;
    assert_eq!(detail["errMsg"], "getPhoneNumber:ok");
    let plain = openssl_decrypt(
        session["session_key"].as_str().unwrap(),
        detail["iv"].as_str().unwrap(),
        detail["encryptedData"].as_str().unwrap(),
    )
    .expect("openssl decrypts the payload with the session key");
    let plain: Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(plain["purePhoneNumber"], "12066600001");
    assert_eq!(plain["countryCode"], "86");
    assert_eq!(plain["watermark"]["appid"], appid);
    assert_eq!(tapped.expect.verdict, alipay_sim::Verdict::Accept);
    assert_eq!(tapped.expect.plaintext.as_ref(), Some(&plain));

    // The login code works once.
    let (_, _, again) = get(
        &sim,
        &format!("/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code"),
    );
    assert_eq!(again["errcode"], 40163);
    assert!(
        again["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("code been used, rid: "),
        "{again}"
    );
}

#[test]
fn a_login_inside_the_callback_gives_a_key_that_does_not_decrypt_the_data() {
    let sim = Simulator::start_blocking();
    let app = sim.create_wechat_app();
    let (appid, secret) = (app.appid().to_string(), app.secret());
    app.login();
    let tapped = app
        .tap(Tap {
            login_in_callback: true,
            ..Tap::default()
        })
        .unwrap();
    let code = tapped.login_code_after.clone().unwrap();
    let (_, _, session) = get(
        &sim,
        &format!("/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}"),
    );
    let key = session["session_key"].as_str().unwrap();
    assert!(
        openssl_decrypt(
            key,
            tapped.detail["iv"].as_str().unwrap(),
            tapped.detail["encryptedData"].as_str().unwrap()
        )
        .is_none_or(|text| serde_json::from_str::<Value>(&text).is_err()),
        "the rotated key must not decrypt the payload"
    );
    assert_eq!(tapped.expect.verdict, alipay_sim::Verdict::RejectDecrypt);
    assert_eq!(tapped.expect.cause, "wechat.login-in-callback");
}

#[test]
fn the_code_flow_gives_phone_info_once_and_tokens_age_by_the_simulators_clock() {
    let sim = Simulator::start_blocking();
    let app = sim.create_wechat_app();
    let (appid, secret) = (app.appid().to_string(), app.secret());
    let access_token = token(&sim, &appid, &secret);
    let code = app.tap(Tap::default()).unwrap().detail["code"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"code": code}).to_string();
    let path = format!("/wxa/business/getuserphonenumber?access_token={access_token}");
    let answer = post(&sim, &path, &body);
    assert_eq!(answer["errcode"], 0);
    assert_eq!(answer["errmsg"], "ok");
    assert_eq!(answer["phone_info"]["purePhoneNumber"], "12066600001");
    assert_eq!(answer["phone_info"]["watermark"]["appid"], appid);

    // Used once: the second answer is 40029 with WeChat's hint and rid.
    let again = post(&sim, &path, &body);
    assert_eq!(again["errcode"], 40029);
    let errmsg = again["errmsg"].as_str().unwrap();
    assert!(errmsg.starts_with("invalid code hint: ["), "{errmsg}");
    let rid = errmsg.rsplit("rid: ").next().unwrap();
    let groups: Vec<_> = rid.split('-').collect();
    assert_eq!(groups.len(), 3, "{rid}");
    let time = u64::from_str_radix(groups[0], 16).unwrap();
    assert!(
        time.abs_diff(sim.state().clock().now) < 5,
        "the rid starts with the time in hex"
    );

    // The clock moved 7200 s: the token has expired.
    sim.advance_clock(7200);
    let code = app.tap(Tap::default()).unwrap().detail["code"]
        .as_str()
        .unwrap()
        .to_string();
    let expired = post(&sim, &path, &json!({"code": code}).to_string());
    assert_eq!(expired["errcode"], 42001);
    assert!(expired["errmsg"]
        .as_str()
        .unwrap()
        .starts_with("access_token expired rid: "));
    // A fresh token works, and the first one is superseded.
    let fresh = token(&sim, &appid, &secret);
    let path = format!("/wxa/business/getuserphonenumber?access_token={fresh}");
    assert_eq!(
        post(&sim, &path, &json!({"code": code}).to_string())["errcode"],
        0
    );
}

#[test]
fn a_new_token_supersedes_the_old_one_after_five_minutes() {
    let sim = Simulator::start_blocking();
    let app = sim.create_wechat_app();
    let (appid, secret) = (app.appid().to_string(), app.secret());
    let first = token(&sim, &appid, &secret);
    let _second = token(&sim, &appid, &secret);
    let check = |token: &str| {
        let code = app.tap(Tap::default()).unwrap().detail["code"]
            .as_str()
            .unwrap()
            .to_string();
        post(
            &sim,
            &format!("/wxa/business/getuserphonenumber?access_token={token}"),
            &json!({"code": code}).to_string(),
        )["errcode"]
            .clone()
    };
    assert_eq!(check(&first), 0, "within the overlap, the old token works");
    sim.advance_clock(301);
    assert_eq!(check(&first), 40001);
}

#[test]
fn every_endpoint_answers_bad_input_with_wechats_errcode_never_the_admin_shape() {
    let sim = Simulator::start_blocking();
    let app = sim.create_wechat_app();
    let appid = app.appid().to_string();
    let client = Client::new();
    let big = "x".repeat(70_000); // over the 64 KiB limit, within what a socket buffers
    let cases: Vec<(&str, String, Option<String>, i64)> = vec![
        ("GET", "/sns/jscode2session".into(), None, 41002),
        ("GET", "/sns/jscode2session?appid=wx0000000000000000".into(), None, 40013),
        ("GET", format!("/sns/jscode2session?appid={appid}"), None, 41004),
        ("GET", format!("/sns/jscode2session?appid={appid}&secret=nope"), None, 40125),
        ("GET", format!("/sns/jscode2session?appid={appid}&secret={}", app.secret()), None, 41008),
        ("GET", format!("/sns/jscode2session?appid={appid}&secret={}&js_code=x", app.secret()), None, 40029),
        ("GET", "/sns/jscode2session?appid=%ZZ".into(), None, 40013),
        ("GET", "/sns/jscode2session?appid=%FF%FE".into(), None, 40013),
        ("POST", format!("/sns/jscode2session?appid={appid}"), None, 43001),
        ("GET", "/cgi-bin/token?appid=x".into(), None, 40013),
        ("GET", format!("/cgi-bin/token?appid={appid}"), None, 40002),
        ("GET", format!("/cgi-bin/token?grant_type=client_credential&appid={appid}"), None, 41004),
        ("DELETE", "/cgi-bin/token".into(), None, 43001),
        ("GET", "/cgi-bin/stable_token".into(), None, 43002),
        ("POST", "/cgi-bin/stable_token".into(), Some("{not json".into()), 47001),
        ("POST", "/cgi-bin/stable_token".into(), Some("[]".into()), 47001),
        ("POST", "/cgi-bin/stable_token".into(), Some(format!("{{\"grant_type\":\"client_credential\",\"appid\":\"{appid}\",\"secret\":\"{}\",\"force_refresh\":\"yes\"}}", app.secret())), 47001),
        ("POST", "/cgi-bin/stable_token".into(), Some(big.clone()), 47001),
        ("POST", "/cgi-bin/stable_token".into(), Some("{}".into()), 41002),
        ("POST", "/cgi-bin/stable_token".into(), Some(format!("{{\"appid\":\"{appid}\"}}")), 40002),
        ("POST", "/wxa/business/getuserphonenumber".into(), Some("{}".into()), 41001),
        ("POST", "/wxa/business/getuserphonenumber?access_token=nope".into(), Some("{\"code\":\"x\"}".into()), 40001),
        ("GET", "/wxa/business/getuserphonenumber?access_token=nope".into(), None, 43002),
        ("POST", "/wxa/business/getuserphonenumber?access_token=nope".into(), Some(big), 47001),
        ("GET", "/wxa/checksession".into(), None, 41001),
        ("GET", "/wxa/checksession?access_token=nope".into(), None, 40001),
        ("GET", "/wxa/nope".into(), None, 40066),
        ("POST", "/cgi-bin/nope/deeper".into(), None, 40066),
        ("GET", "/sns/".into(), None, 40066),
    ];
    for (method, path, body, errcode) in cases {
        let mut request = client.request(method.parse().unwrap(), format!("{}{path}", sim.uri()));
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().unwrap();
        assert_eq!(response.status(), 200, "{method} {path}");
        let answer: Value = response.json().unwrap();
        assert_eq!(answer["errcode"], errcode, "{method} {path}: {answer}");
        assert!(
            answer["errmsg"].as_str().unwrap().contains(" rid: "),
            "{answer}"
        );
        assert!(answer.get("error").is_none());
    }
    // A token of the app with a malformed body is the body's error.
    let access_token = token(&sim, &appid, &app.secret());
    let answer = post(
        &sim,
        &format!("/wxa/business/getuserphonenumber?access_token={access_token}"),
        "{\"code\": 5}",
    );
    assert_eq!(answer["errcode"], 47001, "{answer}");
}

#[test]
fn the_journal_links_the_backends_calls_to_the_device_session() {
    let sim = Simulator::start_blocking();
    let app = sim.create_wechat_app();
    let (appid, secret) = (app.appid().to_string(), app.secret());
    let code = app.login();
    get(
        &sim,
        &format!("/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}"),
    );
    app.tap(Tap::default()).unwrap();
    let code2 = app.login(); // rotates the key: a new device session
    get(
        &sim,
        &format!("/sns/jscode2session?appid={appid}&secret={secret}&js_code={code2}"),
    );
    let journal = app.journal();
    let calls: Vec<(&str, Option<u64>)> = journal
        .iter()
        .rev()
        .map(|e| (e.call.as_str(), e.session))
        .collect();
    assert_eq!(
        calls,
        [
            ("wx.login", Some(0)),
            ("jscode2session", Some(0)),
            ("tap", Some(0)),
            ("wx.login", Some(1)),
            ("jscode2session", Some(1)),
        ]
    );
    assert_eq!(journal[0].rule, "wechat.session-ok");
    assert_eq!(
        journal[0].answer["session_key"],
        app.view().session_key.unwrap()
    );

    // The API shows the same journal.
    let listed: Value = Client::new()
        .get(format!(
            "{}/api/v1/wechat/journal?app_id={appid}",
            sim.uri()
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 5);
    // An unknown appid's call is answered, but belongs to no app's journal.
    get(
        &sim,
        "/sns/jscode2session?appid=wx0000000000000000&secret=x&js_code=y",
    );
    assert_eq!(app.journal().len(), 5);
}

#[test]
fn the_admin_api_refuses_a_platforms_route_for_the_other_platforms_app() {
    let sim = Simulator::start_blocking();
    let wechat = sim.create_wechat_app();
    let alipay = sim.first_app();
    let client = Client::new();
    let check = |method: &str, path: String| {
        let response = client
            .request(method.parse().unwrap(), format!("{}{path}", sim.uri()))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .unwrap();
        assert_eq!(response.status(), 409, "{method} {path}");
        let body: Value = response.json().unwrap();
        assert_eq!(body["error"]["code"], "wrong_platform", "{body}");
    };
    check(
        "POST",
        format!("/api/v1/apps/{}/getPhoneNumber", wechat.appid()),
    );
    check("GET", format!("/api/v1/apps/{}", wechat.appid()));
    check(
        "POST",
        format!("/api/v1/wechat/apps/{}/wx.login", alipay.app_id()),
    );
    check("GET", format!("/api/v1/wechat/apps/{}", alipay.app_id()));
    // The Alipay list shows Alipay apps only, the WeChat list WeChat apps only.
    let alipay_list: Value = client
        .get(format!("{}/api/v1/apps", sim.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(alipay_list
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["app_id"] != wechat.appid()));
    let wechat_list: Value = client
        .get(format!("{}/api/v1/wechat/apps", sim.uri()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(wechat_list.as_array().unwrap().len(), 1);
    // The last Alipay app stays, even beside a WeChat app.
    let response = client
        .delete(format!("{}/api/v1/apps/{}", sim.uri(), alipay.app_id()))
        .send()
        .unwrap();
    assert_eq!(response.status(), 409);
}

#[test]
fn clock_advance_refuses_zero_and_absurd_values_by_name() {
    let sim = Simulator::start_blocking();
    let client = Client::new();
    for body in [
        r#"{"seconds":0}"#,
        r#"{"seconds":999999999999}"#,
        r#"{"seconds":-1}"#,
        r#"{}"#,
    ] {
        let response = client
            .post(format!("{}/api/v1/clock/advance", sim.uri()))
            .body(body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 422, "{body}");
        let answer: Value = response.json().unwrap();
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("seconds"),
            "{answer}"
        );
    }
    let before = sim.state().clock();
    let moved: Value = client
        .post(format!("{}/api/v1/clock/advance", sim.uri()))
        .body(r#"{"seconds":60}"#)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(moved["offset"], before.offset + 60);
}

#[test]
fn a_scenario_with_a_payload_fault_changes_what_the_served_apps_taps_hand_the_page() {
    let sim = Simulator::start_blocking();
    let app = sim.create_wechat_app();
    app.login();
    for (scenario, verdict, rule) in [
        (
            "watermark-other-app",
            alipay_sim::Verdict::RejectForeign,
            "wechat.watermark-other-app",
        ),
        (
            "plus-to-space",
            alipay_sim::Verdict::RejectParse,
            "wechat.not-base64",
        ),
        (
            "nonstandard-padding",
            alipay_sim::Verdict::RejectDecrypt,
            "wechat.nonstandard-padding",
        ),
        ("legacy-ok", alipay_sim::Verdict::Accept, "wechat.decrypted"),
    ] {
        let view = app.apply_scenario(scenario).unwrap();
        assert_eq!(view.scenario.as_deref(), Some(scenario));
        let tapped = app.tap(Tap::default()).unwrap();
        assert_eq!(
            (tapped.expect.verdict, tapped.expect.cause.id()),
            (verdict, rule),
            "{scenario}"
        );
        let data = tapped.detail["encryptedData"].as_str().unwrap();
        assert_eq!(
            data.contains(' '),
            scenario == "plus-to-space",
            "{scenario}: {data}"
        );
        assert_eq!(
            app.journal()[0].verdict,
            verdict,
            "{scenario}: the journal says it too"
        );
    }
    // A patch can set and clear the fault by hand.
    let view = app.patch(json!({"fault": "plus-to-space"})).unwrap();
    assert_eq!(view.scenario, None);
    assert!(app
        .patch(json!({"fault": "flip-a-byte"}))
        .unwrap_err()
        .to_string()
        .contains("fault"));
    app.patch(json!({"fault": null})).unwrap();
    assert_eq!(
        app.tap(Tap::default()).unwrap().expect.verdict,
        alipay_sim::Verdict::Accept
    );
}

#[test]
fn a_wechat_app_survives_a_restart_in_the_state_file() {
    use alipay_sim::state::{NewWechatApp, SimState, StateConfig};
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        SimState::open(StateConfig {
            seed: Some(5),
            data_dir: Some(dir.path().to_path_buf()),
        })
        .unwrap()
    };
    let state = open();
    let created = state
        .create_wechat_app(NewWechatApp {
            name: Some("mine".into()),
            ..Default::default()
        })
        .unwrap();
    state
        .patch_wechat_app(
            &created.app_id,
            json!({"console": {"quota_left": 7}, "fault": "plus-to-space"}),
        )
        .unwrap();
    drop(state);
    let reopened = open().wechat_app(&created.app_id).unwrap();
    assert_eq!(
        (reopened.appid, reopened.secret),
        (created.appid, created.secret)
    );
    assert_eq!(reopened.name.as_deref(), Some("mine"));
    assert_eq!(reopened.console.quota_left, 7);
    assert_eq!(
        reopened.fault,
        Some(alipay_sim::wechat::scenario::PayloadFault::PlusToSpace)
    );
    // A state file whose WeChat app does not match its seed is refused, naming the entry.
    let file = dir.path().join("state.json");
    let mut stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let apps = stored["apps"].as_array_mut().unwrap();
    let wechat = apps.iter_mut().find(|a| a["platform"] == "wechat").unwrap();
    wechat["seed"] = (wechat["seed"].as_u64().unwrap() ^ 1).into();
    std::fs::write(&file, stored.to_string()).unwrap();
    let error = SimState::open(StateConfig {
        seed: Some(5),
        data_dir: Some(dir.path().to_path_buf()),
    })
    .err()
    .expect("refused")
    .to_string();
    assert!(error.contains("is not the appid of seed"), "{error}");
}
