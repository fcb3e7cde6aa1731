//! The simulator server, through the real binary and a real socket: every endpoint, bad input,
//! durability across SIGKILL, a corrupt state file, concurrent partial updates, and an envelope
//! the official Node SDK accepts with the keys the API returned. Every answer is checked
//! against the OpenAPI document (`common::checked`).

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::StatusCode;
use serde_json::{json, Value};

use common::{sdk_verdicts, Server, BIN};

/// Starts a server on `data_dir` that must refuse to start; its stderr.
fn refused_start(data_dir: &Path) -> String {
    let output = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(!output.status.success(), "the server started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A 4xx with the documented error body, naming `needle`.
fn assert_error(response: Response, status: StatusCode, code: &str, needle: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{message:?} does not name {needle:?}"
    );
}

#[test]
fn the_banner_gives_the_url_and_each_apps_keys() {
    let server = Server::start(&["--ephemeral", "--seed", "11"]);
    let keys = common::run_json(Command::new(BIN).args(["keys", "--json", "--seed", "11"]));
    for field in ["app_id", "alipay_public_key", "aes_key"] {
        assert!(
            server.banner.contains(keys[field].as_str().unwrap()),
            "banner lacks {field}:\n{}",
            server.banner
        );
    }
    assert!(server.url.starts_with("http://127.0.0.1:"));
    assert_eq!(
        server.json("GET", "/healthz", None),
        json!({"status": "ok"})
    );
}

#[test]
fn the_served_openapi_document_is_the_committed_file() {
    let server = Server::ephemeral();
    let response = server.get("/api/v1/openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/openapi.json"),
    )
    .unwrap();
    assert!(
        response.text().unwrap() == committed,
        "the binary serves another document than src/http/openapi.json"
    );
}

#[test]
fn apps_can_be_created_read_changed_reset_and_deleted() {
    let server = Server::start(&["serve", "--ephemeral"]);
    let created = server.json(
        "POST",
        "/api/v1/apps",
        Some(json!({"app_id": "2021000000000042", "seed": 42, "console": {"gateway": false}})),
    );
    assert_eq!(created["app_id"], "2021000000000042");
    assert_eq!(created["console"]["gateway"], false);
    assert_eq!(created["next_outcome"]["rule"], "success");
    let keys = common::run_json(Command::new(BIN).args(["keys", "--json", "--seed", "42"]));
    assert_eq!(
        created["keys"]["alipay_public_key"],
        keys["alipay_public_key"]
    );

    let app = "/api/v1/apps/2021000000000042";
    assert_eq!(server.json("GET", app, None)["console"]["gateway"], false);
    let list = server.json("GET", "/api/v1/apps", None);
    assert_eq!(list.as_array().unwrap().len(), 2);

    let patched = server.json(
        "PATCH",
        app,
        Some(json!({"console": {"phone_application": "rejected"}, "user": {"mobile": "1-1234432112"}})),
    );
    assert_eq!(patched["console"]["phone_application"], "rejected");
    assert_eq!(
        patched["console"]["gateway"], false,
        "untouched fields stay"
    );
    assert_eq!(patched["user"]["mobile"], "1-1234432112");
    assert_eq!(
        patched["next_outcome"]["rule"],
        "console.phone-application-not-approved"
    );

    let reset = server.json("POST", &format!("{app}/reset"), None);
    assert_eq!(reset["console"]["gateway"], true);
    assert_eq!(reset["keys"], created["keys"], "reset keeps the keys");

    let response = server.send("DELETE", app, None);
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(
        server.get(app),
        StatusCode::NOT_FOUND,
        "app_not_found",
        "2021000000000042",
    );
    let empty = server.json("POST", "/api/v1/apps", None);
    assert!(empty["app_id"].as_str().unwrap().starts_with("2021"));
}

#[test]
fn keys_can_be_read_and_rotated() {
    let server = Server::start(&["--ephemeral"]);
    let app = server.first_app();
    let keys = server.json("GET", &format!("/api/v1/apps/{app}/keys"), None);
    assert!(keys["alipay_public_key"]
        .as_str()
        .unwrap()
        .starts_with("MIIBIjAN"));
    assert!(keys["alipay_public_key_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(keys["sign_type"], "RSA2");
    let call = format!("/api/v1/apps/{app}/getPhoneNumber");
    let before = server.json("POST", &call, None);
    assert_eq!(
        server.json("POST", &call, None)["payload"],
        before["payload"],
        "identical calls, identical envelopes"
    );
    let rotated = server.json("POST", &format!("/api/v1/apps/{app}/keys/rotate"), None);
    assert_ne!(rotated["alipay_public_key"], keys["alipay_public_key"]);
    assert_ne!(rotated["aes_key"], keys["aes_key"]);
    let after = server.json("POST", &call, None);
    assert_eq!(after["alipay_public_key"], rotated["alipay_public_key"]);
    assert_ne!(
        after["payload"], before["payload"],
        "no envelope of the old keys is reused"
    );
    let verdict = server.json(
        "POST",
        "/api/v1/verify",
        Some(json!({"envelope": after["payload"]["response"], "app_id": app})),
    );
    assert_eq!(verdict["verdict"], "accept");
}

#[test]
fn scenarios_are_listed_applied_and_used_for_one_call() {
    let server = Server::start(&["--ephemeral"]);
    let app = server.first_app();
    let scenarios = server.json("GET", "/api/v1/scenarios", None);
    let listed = common::run_json(Command::new(BIN).args(["scenarios", "--json"]));
    assert_eq!(
        scenarios.as_array().unwrap().len(),
        listed.as_array().unwrap().len()
    );

    let applied = server.json(
        "POST",
        &format!("/api/v1/apps/{app}/scenario"),
        Some(json!({"name": "user-refused"})),
    );
    assert_eq!(applied["action"]["kind"], "refuse");
    let call = server.json("POST", &format!("/api/v1/apps/{app}/getPhoneNumber"), None);
    assert_eq!(call["callback"], "onError");
    assert_eq!(call["expect"]["verdict"], "front-end");

    // The header applies a scenario to one call only.
    let response = server.send_with_headers(
        "POST",
        &format!("/api/v1/apps/{app}/getPhoneNumber"),
        None,
        &[("X-Alipay-Sim-Scenario", "no-user-consent")],
    );
    let call: Value = response.json().unwrap();
    assert_eq!(call["scenario"], "no-user-consent");
    assert_eq!(call["expect"]["plaintext"]["code"], "40003");
    let next = server.json("POST", &format!("/api/v1/apps/{app}/getPhoneNumber"), None);
    assert_eq!(
        next["callback"], "onError",
        "the app's own settings are unchanged"
    );
}

#[test]
fn get_phone_number_takes_action_isv_app_id_mobile_and_fault() {
    let server = Server::start(&["--ephemeral"]);
    let app = server.first_app();
    let path = format!("/api/v1/apps/{app}/getPhoneNumber");
    let call = server.json("POST", &path, Some(json!({"mobile": "13912345678"})));
    let fields: Vec<&str> = call
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(fields, common::FIXTURE_FIELDS);
    assert_eq!(call["expect"]["plaintext"]["mobile"], "13912345678");
    // The allow lasts: no sheet to refuse on, and a direct call succeeds, until revoked.
    let setting = server.json("GET", &format!("/api/v1/apps/{app}/getSetting"), None);
    assert_eq!(setting["authSetting"]["phoneNumber"], true);
    let no_sheet = server.json("POST", &path, Some(json!({"action": "refuse"})));
    assert_eq!(no_sheet["expect"]["rule"], "success");
    let direct = server.json("POST", &path, Some(json!({"action": "no-consent"})));
    assert_eq!(direct["expect"]["rule"], "success");
    let revoked = server.json(
        "POST",
        &format!("/api/v1/apps/{app}/authorisation/revoke"),
        None,
    );
    assert_eq!(revoked["authSetting"]["phoneNumber"], false);
    let direct = server.json("POST", &path, Some(json!({"action": "no-consent"})));
    assert_eq!(direct["expect"]["rule"], "user.no-consent");
    let refused = server.json("POST", &path, Some(json!({"action": "refuse"})));
    assert_eq!(refused["callback"], "onError");
    let faulty = server.json("POST", &path, Some(json!({"fault": "flip-signature-byte"})));
    assert_eq!(faulty["expect"]["verdict"], "reject-signature");

    server.json(
        "PATCH",
        &format!("/api/v1/apps/{app}"),
        Some(json!({"console": {"isv": {"isv_app_id": "2021004100000001"}}})),
    );
    let without = server.json("POST", &path, None);
    assert_eq!(without["expect"]["rule"], "isv.isv-app-id-missing");
    let with = server.json(
        "POST",
        &path,
        Some(json!({"protocols": {"isvAppId": "2021004100000001"}})),
    );
    assert_eq!(with["expect"]["rule"], "success");
}

#[test]
fn verify_and_the_journal_work_per_app() {
    let server = Server::start(&["--ephemeral"]);
    let a = server.first_app();
    let b = server.json("POST", "/api/v1/apps", None)["app_id"]
        .as_str()
        .unwrap()
        .to_string();
    let call = server.json("POST", &format!("/api/v1/apps/{a}/getPhoneNumber"), None);
    server.json(
        "POST",
        &format!("/api/v1/apps/{b}/getPhoneNumber"),
        Some(json!({"fault": "wrong-aes-key"})),
    );
    let envelope = call["payload"]["response"].as_str().unwrap();

    let by_app = server.json(
        "POST",
        "/api/v1/verify",
        Some(json!({"envelope": envelope, "app_id": a})),
    );
    assert_eq!(by_app["verdict"], "accept");
    assert_eq!(by_app["plaintext"], call["expect"]["plaintext"]);
    let by_keys = server.json(
        "POST",
        "/api/v1/verify",
        Some(json!({"envelope": envelope, "alipay_public_key": call["alipay_public_key"], "aes_key": call["aes_key"]})),
    );
    assert_eq!(by_keys["verdict"], "accept");
    let wrong_app = server.json(
        "POST",
        "/api/v1/verify",
        Some(json!({"envelope": envelope, "app_id": b})),
    );
    assert_eq!(wrong_app["verdict"], "reject-signature");

    let journal = server.json("GET", "/api/v1/journal", None);
    assert_eq!(journal.as_array().unwrap().len(), 2);
    assert_eq!(journal[0]["app_id"], b, "newest first");
    assert_eq!(journal[0]["verdict"], "reject-decrypt");
    for field in ["time", "app_id", "scenario", "rule", "payload", "verdict"] {
        assert!(journal[1].get(field).is_some(), "journal lacks {field}");
    }
    let only_a = server.json("GET", &format!("/api/v1/journal?app_id={a}"), None);
    assert_eq!(only_a.as_array().unwrap().len(), 1);
    assert_eq!(only_a[0]["payload"], call["payload"]);
    assert_eq!(
        server
            .json("GET", "/api/v1/journal?limit=1", None)
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let response = server.send("DELETE", &format!("/api/v1/journal?app_id={a}"), None);
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server
            .json("GET", "/api/v1/journal", None)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.send("DELETE", "/api/v1/journal", None);
    assert_eq!(server.json("GET", "/api/v1/journal", None), json!([]));
}

#[test]
fn reset_brings_back_the_first_start_state() {
    let server = Server::start(&["--ephemeral", "--seed", "11"]);
    let first = server.json("GET", "/api/v1/apps", None);
    server.json("POST", "/api/v1/apps", None);
    server.json(
        "PATCH",
        &format!("/api/v1/apps/{}", first[0]["app_id"].as_str().unwrap()),
        Some(json!({"console": {"gateway": false}})),
    );
    let after = server.json("POST", "/api/v1/reset", None);
    assert_eq!(after.as_array().unwrap().len(), 1);
    assert_eq!(after[0]["app_id"], first[0]["app_id"]);
    assert_eq!(after[0]["keys"], first[0]["keys"]);
    assert_eq!(after[0]["console"], first[0]["console"]);
}

#[test]
fn bad_input_gets_a_clear_4xx() {
    let server = Server::start(&["--ephemeral"]);
    let app = server.first_app();
    let app_path = format!("/api/v1/apps/{app}");
    use StatusCode as S;
    assert_error(
        server.send("POST", "/api/v1/apps", Some("{\"app_id\":")),
        S::BAD_REQUEST,
        "malformed_json",
        "not valid JSON",
    );
    assert_error(
        server.send(
            "PATCH",
            &app_path,
            Some(r#"{"console": {"gatway": false}}"#),
        ),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "console.gatway",
    );
    assert_error(
        server.send("PATCH", &app_path, Some(r#"{"consol": {}}"#)),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "consol",
    );
    assert_error(
        server.send(
            "PATCH",
            &app_path,
            Some(r#"{"console": {"signing": "RSA256"}}"#),
        ),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "RSA256",
    );
    assert_error(
        server.send(
            "PATCH",
            &app_path,
            Some(r#"{"user": {"mobile": "+86 138"}}"#),
        ),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "user.mobile",
    );
    assert_error(
        server.send(
            "PATCH",
            &app_path,
            Some(r#"{"platform": {"busy": {"probability": 2}}}"#),
        ),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "probability",
    );
    assert_error(
        server.send("PATCH", &app_path, Some("[1]")),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "JSON object",
    );
    assert_error(
        server.send("POST", "/api/v1/apps", Some(r#"{"app_id": "a/b"}"#)),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "a/b",
    );
    assert_error(
        server.send(
            "POST",
            "/api/v1/apps",
            Some(&format!(r#"{{"app_id": "{app}"}}"#)),
        ),
        S::CONFLICT,
        "app_exists",
        &app,
    );
    assert_error(
        server.send(
            "POST",
            "/api/v1/apps",
            Some(&format!(
                r#"{{"app_id": "x", "pad": "{}"}}"#,
                "a".repeat(70_000)
            )),
        ),
        S::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "64 KiB",
    );
    assert_error(
        server.get("/api/v1/apps/nope"),
        S::NOT_FOUND,
        "app_not_found",
        "nope",
    );
    assert_error(
        server.send(
            "POST",
            &format!("{app_path}/scenario"),
            Some(r#"{"name": "sucess"}"#),
        ),
        S::NOT_FOUND,
        "scenario_not_found",
        "sucess",
    );
    let response = server.send_with_headers(
        "POST",
        &format!("{app_path}/getPhoneNumber"),
        None,
        &[("X-Alipay-Sim-Scenario", "nope")],
    );
    assert_error(response, S::NOT_FOUND, "scenario_not_found", "nope");
    assert_error(
        server.send(
            "POST",
            &format!("{app_path}/getPhoneNumber"),
            Some(r#"{"fault": "reorder-plain-object"}"#),
        ),
        S::UNPROCESSABLE_ENTITY,
        "fault_not_applicable",
        "reorder-plain-object",
    );
    assert_error(
        server.send(
            "POST",
            &format!("{app_path}/getPhoneNumber"),
            Some(r#"{"fault": "flip"}"#),
        ),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "fault",
    );
    assert_error(
        server.send(
            "POST",
            "/api/v1/verify",
            Some(r#"{"envelope": "{}", "alipay_public_key": "MIIBCgKCAQEA"}"#),
        ),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "alipay_public_key",
    );
    assert_error(
        server.send("POST", "/api/v1/verify", Some(r#"{"envelope": "{}"}"#)),
        S::UNPROCESSABLE_ENTITY,
        "invalid_request",
        "app_id",
    );
    assert_error(
        server.send("POST", "/api/v1/verify", None),
        S::BAD_REQUEST,
        "malformed_json",
        "JSON body",
    );
    assert_error(
        server.get("/api/v1/journal?limit=many"),
        S::BAD_REQUEST,
        "invalid_query",
        "limit",
    );
    assert_error(
        server.get("/api/v1/nothing"),
        S::NOT_FOUND,
        "route_not_found",
        "/api/v1/nothing",
    );
    assert_error(
        server.send("PUT", &app_path, Some("{}")),
        S::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "PUT",
    );
    // The app survived all of that unchanged.
    assert_eq!(
        server.json("GET", &app_path, None)["next_outcome"]["rule"],
        "success"
    );
}

#[test]
fn state_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (app, keys) = {
        let mut server = Server::persistent(dir.path());
        let app = server.first_app();
        server.json(
            "PATCH",
            &format!("/api/v1/apps/{app}"),
            Some(json!({"console": {"aes_key": "broken"}, "fault": "reorder-plain-object"})),
        );
        server.json("POST", "/api/v1/apps", Some(json!({"app_id": "second"})));
        let keys = server.json("POST", &format!("/api/v1/apps/{app}/keys/rotate"), None);
        server.child.kill().unwrap(); // SIGKILL: no chance to flush anything
        server.child.wait().unwrap();
        (app, keys)
    };
    let server = Server::persistent(dir.path());
    let after = server.json("GET", &format!("/api/v1/apps/{app}"), None);
    assert_eq!(after["console"]["aes_key"], "broken");
    assert_eq!(after["fault"], "reorder-plain-object");
    assert_eq!(
        after["keys"]["alipay_public_key"],
        keys["alipay_public_key"]
    );
    assert_eq!(after["keys"]["aes_key"], keys["aes_key"]);
    server.json("GET", "/api/v1/apps/second", None);
    assert!(server.banner.contains(keys["aes_key"].as_str().unwrap()));
}

#[test]
fn a_corrupt_state_file_stops_the_server_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let corrupt = "{\"format_version\": 1, \"apps_created\": 1, \"apps\": [{\"app_id\": ";
    std::fs::write(&file, corrupt).unwrap();
    let stderr = refused_start(dir.path());
    assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("not valid"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), corrupt);
}

#[test]
fn concurrent_partial_updates_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::persistent(dir.path());
    let app = server.first_app();
    let path = format!("/api/v1/apps/{app}");
    // 16 different fields, each patched by two of 32 concurrent requests.
    let patches: Vec<Value> = vec![
        json!({"console": {"account": "personal"}}),
        json!({"console": {"phone_number_package": false}}),
        json!({"console": {"phone_application": "pending"}}),
        json!({"console": {"jsapi_base_package": false}}),
        json!({"console": {"signing": "RSA"}}),
        json!({"console": {"aes_key": "broken"}}),
        json!({"console": {"gateway": false}}),
        json!({"console": {"isv": {"isv_app_id": "2021004100000001"}}}),
        json!({"platform": {"busy": "always"}}),
        json!({"platform": {"error_form": "encrypted"}}),
        json!({"platform": {"unsigned_without_gateway": false}}),
        json!({"platform": {"refusal_message": "cancelled"}}),
        json!({"user": {"mobile": "1-1234432112"}}),
        json!({"user": {"environment": "ide-simulator"}}),
        json!({"action": {"kind": "no-consent"}}),
        json!({"fault": "missing-sign"}),
    ];
    std::thread::scope(|scope| {
        for patch in patches.iter().chain(patches.iter()) {
            let (server, path) = (&server, &path);
            scope.spawn(move || server.json("PATCH", path, Some(patch.clone())));
        }
    });
    let check = |app: &Value| {
        assert_eq!(app["console"]["account"], "personal");
        assert_eq!(app["console"]["phone_number_package"], false);
        assert_eq!(app["console"]["phone_application"], "pending");
        assert_eq!(app["console"]["jsapi_base_package"], false);
        assert_eq!(app["console"]["signing"], "RSA");
        assert_eq!(app["console"]["aes_key"], "broken");
        assert_eq!(app["console"]["gateway"], false);
        assert_eq!(app["console"]["isv"]["isv_app_id"], "2021004100000001");
        assert_eq!(app["platform"]["busy"], "always");
        assert_eq!(app["platform"]["error_form"], "encrypted");
        assert_eq!(app["platform"]["unsigned_without_gateway"], false);
        assert_eq!(app["platform"]["refusal_message"], "cancelled");
        assert_eq!(app["user"]["mobile"], "1-1234432112");
        assert_eq!(app["user"]["environment"], "ide-simulator");
        assert_eq!(app["action"]["kind"], "no-consent");
        assert_eq!(app["fault"], "missing-sign");
    };
    check(&server.json("GET", &path, None));
    drop(server);
    check(&Server::persistent(dir.path()).json("GET", &path, None));
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut server = Server::start(&["--ephemeral"]);
    let (status, _) = server.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status}");
}

#[test]
fn the_node_sdk_accepts_the_envelope_with_the_keys_the_api_returned() {
    let server = Server::start(&["--ephemeral"]);
    let app = server.json("POST", "/api/v1/apps", None)["app_id"]
        .as_str()
        .unwrap()
        .to_string();
    let keys = server.json("GET", &format!("/api/v1/apps/{app}/keys"), None);
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for (name, body) in [
        ("success", json!({"mobile": "13700000001"})),
        ("overseas", json!({"mobile": "852-61234567"})),
        ("tampered", json!({"fault": "flip-ciphertext-byte"})),
    ] {
        let call = server.json(
            "POST",
            &format!("/api/v1/apps/{app}/getPhoneNumber"),
            Some(body),
        );
        // The checker is given the keys from the keys endpoint, not the call's own copy.
        let fixture = json!({
            "scenario": name,
            "app_id": app,
            "alipay_public_key": keys["alipay_public_key"],
            "aes_key": keys["aes_key"],
            "sign_type": keys["sign_type"],
            "callback": call["callback"],
            "payload": call["payload"],
        });
        std::fs::write(dir.path().join(format!("{name}.json")), fixture.to_string()).unwrap();
        expected.push((name, call["expect"].clone()));
    }
    let verdicts = sdk_verdicts("node", dir.path());
    for (name, expect) in expected {
        let node = &verdicts[name];
        assert_eq!(
            node["verdict"], expect["verdict"],
            "{name}: {}",
            node["detail"]
        );
        assert_eq!(node["plaintext"], expect["plaintext"], "{name}");
    }
    assert_eq!(verdicts["success"]["verdict"], "accept");
    assert_eq!(verdicts["success"]["plaintext"]["mobile"], "13700000001");
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Server::persistent(dir.path());
    let stderr = refused_start(dir.path());
    assert!(
        stderr.contains("another alipay-sim is using the data directory"),
        "{stderr}"
    );
}

#[test]
fn serve_takes_a_port_and_host_names_and_answers_its_own_host() {
    let server = Server::start_exactly(&[
        "serve",
        "--ephemeral",
        "--addr",
        "localhost:8086",
        "--port",
        "0",
    ]);
    let port = server.url.rsplit(':').next().unwrap().to_string();
    assert_ne!(port, "8086");
    let by_name = common::checked(
        "GET",
        "/healthz",
        Client::new()
            .get(format!("http://localhost:{port}/healthz"))
            .send()
            .unwrap(),
    );
    assert_eq!(by_name.status(), StatusCode::OK);
    // Another name for the same address is refused, and allowed with --allowed-host.
    let renamed = |server: &Server| {
        let response = Client::new()
            .get(server.url("/healthz"))
            .header("host", format!("sim.team.test:{port}"))
            .send()
            .unwrap();
        common::checked("GET", "/healthz", response)
    };
    assert_error(
        renamed(&server),
        StatusCode::FORBIDDEN,
        "host_not_allowed",
        "--allowed-host sim.team.test",
    );
    let server = Server::start(&["serve", "--ephemeral", "--allowed-host", "sim.team.test"]);
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let answer = common::checked(
        "GET",
        "/healthz",
        Client::new()
            .get(server.url("/healthz"))
            .header("host", format!("sim.team.test:{port}"))
            .send()
            .unwrap(),
    );
    assert_eq!(answer.status(), StatusCode::OK);
}

#[test]
fn bad_addresses_and_a_port_in_use_get_a_way_out() {
    let server = Server::start(&["serve", "--ephemeral"]);
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let output = Command::new(BIN)
        .args(["serve", "--ephemeral", "--port", &port])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let next = port.parse::<u16>().unwrap() + 1;
    assert!(
        stderr.contains("in use") && stderr.contains(&format!("--port {next}")),
        "{stderr}"
    );
    for (addr, needle) in [
        ("localhost", "has no port"),
        ("localhost:80x", "is not a port"),
        ("no-such-host.invalid:8086", "cannot resolve"),
    ] {
        let output = Command::new(BIN)
            .args(["serve", "--ephemeral", "--addr", addr])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{addr}: {stderr}");
        assert!(
            stderr.contains(needle) && stderr.contains("such as 127.0.0.1:8086"),
            "{addr}: {stderr}"
        );
    }
}

#[test]
fn an_unusable_data_directory_says_how_to_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let stderr = refused_start(&file.join("data"));
    assert!(
        stderr.contains("--data-dir") && stderr.contains("--ephemeral"),
        "{stderr}"
    );
    assert!(!stderr.contains(".lock"), "{stderr}");
}

#[test]
fn the_server_and_the_key_commands_agree_by_default() {
    let server = Server::start(&["serve", "--ephemeral"]);
    let keys = common::run_json(Command::new(BIN).args(["keys", "--json"]));
    let app = &server.json("GET", "/api/v1/apps", None)[0];
    assert_eq!(app["app_id"], keys["app_id"]);
    assert_eq!(app["keys"]["alipay_public_key"], keys["alipay_public_key"]);
    assert_eq!(app["keys"]["aes_key"], keys["aes_key"]);
    let random = Server::start(&["serve", "--ephemeral", "--random-keys"]);
    let app = &random.json("GET", "/api/v1/apps", None)[0];
    assert_ne!(app["keys"]["aes_key"], keys["aes_key"]);
}

#[test]
fn sigterm_does_not_wait_for_a_client_that_never_finishes() {
    use std::io::Write;
    let mut server = Server::start(&["serve", "--ephemeral"]);
    let address = server.url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .write_all(b"POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (status, took) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
    // The shutdown deadline (5 s), not the body timeout (10 s), ended it.
    assert!(took < Duration::from_secs(9), "{took:?}");
    drop(stream);
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_closes_idle_connections_at_once() {
    use std::io::{Read, Write};
    let mut server = Server::start(&["serve", "--ephemeral"]);
    let address = server.url.trim_start_matches("http://").to_string();
    // A keep-alive connection, answered once and left idle.
    let mut idle = std::net::TcpStream::connect(&address).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 512];
    let read = idle.read(&mut answer).unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    // A request whose body is still on its way when the signal comes.
    let mut in_flight = std::net::TcpStream::connect(&address).unwrap();
    in_flight
        .write_all(b"POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let finisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        in_flight.write_all(b"}").unwrap();
        let mut text = String::new();
        in_flight.read_to_string(&mut text).unwrap();
        text
    });
    let (status, took) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "exit status {status}");
    let text = finisher.join().unwrap();
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    // The idle connection was told to close, not waited for until the deadline (5 s).
    assert!(took < Duration::from_secs(3), "{took:?}");
    idle.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    assert_eq!(
        idle.read(&mut answer).unwrap(),
        0,
        "the idle connection is closed"
    );
}

/// The README's `RUST_LOG=...,tower_http=debug` logs every request; by default none is.
#[test]
fn requests_are_logged_when_rust_log_asks_for_them() {
    for (rust_log, logged) in [
        (Some("alipay_sim=info,tower_http=debug"), true),
        (None, false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.txt");
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--ephemeral", "--addr", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .stderr(std::fs::File::create(&log).unwrap());
        if let Some(rust_log) = rust_log {
            command.env("RUST_LOG", rust_log);
        }
        let (mut child, url) = common::start_listening(command, "alipay-sim listening on ");
        let health = Client::new().get(format!("{url}/healthz")).send().unwrap();
        assert_eq!(health.status(), 200);
        // The log line follows the answer: give it a moment.
        let mut text = String::new();
        for _ in 0..50 {
            text = std::fs::read_to_string(&log).unwrap();
            if text.contains("finished processing request") {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            text.contains("finished processing request") && text.contains("/healthz"),
            logged,
            "RUST_LOG={rust_log:?}: {text}"
        );
    }
}
