//! `alipay-sim play` against real backends: the reference backend on the official npm
//! `alipay-sdk` (tests/backend/reference.mjs), its deliberately broken variants, an echo server
//! for the request shape, and a suite recorded on the device page.

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Output};

use common::{read_junit, NodeBackend, Server, BIN};
use serde_json::Value;

const SEED: u64 = 7;

fn play(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("play")
        .args(args)
        .env_remove("ALIPAY_SIM_BACKEND")
        .env_remove("ALIPAY_SIM_SEED")
        .output()
        .expect("the binary runs")
}

/// `play conformance` against `backend` with the seed's keys, and `options`.
fn play_conformance(backend: &str, options: &[&str]) -> Output {
    let seed = SEED.to_string();
    let mut args = vec!["conformance", "--backend", backend, "--seed", &seed];
    args.extend_from_slice(options);
    play(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The steps listed under `failed:` in the summary.
fn failed_steps(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .skip_while(|line| *line != "failed:")
        .skip(1)
        .filter_map(|line| {
            line.trim()
                .split_once(" › ")
                .map(|(_, step)| step.to_string())
        })
        .collect()
}

fn catalogue_names() -> Vec<String> {
    alipay_sim::catalogue()
        .iter()
        .map(|s| s.name.clone())
        .collect()
}

fn front_end_scenarios() -> usize {
    alipay_sim::catalogue()
        .iter()
        .filter(|s| s.expect.verdict == alipay_sim::Verdict::FrontEnd)
        .count()
}

#[test]
fn conformance_passes_on_the_reference_backend() {
    let backend = NodeBackend::start("reference.mjs", SEED);
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("reports/conformance.xml");
    let output = play_conformance(&backend.url, &["--junit", junit.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let skipped = front_end_scenarios();
    let played = catalogue_names().len() - skipped;
    assert!(
        stdout.contains(&format!("{played} passed, 0 failed, {skipped} skipped")),
        "{stdout}"
    );
    assert!(stdout.contains("ok    conformance › success  (accepted as it must be"));
    assert!(stdout.contains("ok    conformance › wrong-signing-key  (refused as it must be"));
    assert!(stdout.contains("skip  conformance › user-refused  (nothing reaches the backend"));
    assert!(!stdout.contains("hint:"), "{stdout}");

    // A CI system's reader finds one test case per step, named after its scenario.
    let report = read_junit(&junit);
    assert_eq!(report["tests"], catalogue_names().len());
    assert_eq!(report["failures"], 0);
    let suite = &report["suites"][0];
    assert_eq!(suite["name"], "conformance");
    assert_eq!(suite["tests"], catalogue_names().len());
    assert_eq!(suite["skipped"], skipped);
    let cases: Vec<&str> = suite["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cases, catalogue_names());
    let skip = suite["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "user-refused")
        .unwrap();
    assert_eq!(skip["result"], "skipped");
    assert!(skip["message"]
        .as_str()
        .unwrap()
        .contains("fe.user-refused"));
}

#[test]
fn conformance_names_the_scenarios_that_expose_each_broken_backend() {
    // Each variant, and scenarios that must expose its mistake.
    let variants: [(&str, &[&str]); 4] = [
        (
            // Accepts anything that decrypts: forged, tampered and unsigned envelopes.
            "broken/no-signature-check.mjs",
            &[
                "wrong-signing-key",
                "flip-signature-byte",
                "sign-bare-ciphertext",
                "missing-sign",
            ],
        ),
        (
            // Refuses every genuine envelope, and accepts one signed over the bare ciphertext.
            "broken/unquoted-signature.mjs",
            &[
                "success",
                "success-overseas-mobile",
                "rpc-trace-id",
                "sign-bare-ciphertext",
            ],
        ),
        (
            // Takes authentic error codes and an empty mobile for a phone number.
            "broken/any-decrypted-success.mjs",
            &[
                "success-no-mobile",
                "phone-application-pending",
                "personal-account-40006",
                "platform-busy-encrypted",
            ],
        ),
        (
            "broken/accepts-unsigned.mjs",
            &["missing-sign", "gateway-not-set", "no-signing"],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (script, exposing) in variants {
        let backend = NodeBackend::start(script, SEED);
        let junit = dir.path().join(script.replace('/', "-") + ".xml");
        let output = play_conformance(&backend.url, &["--junit", junit.to_str().unwrap()]);
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{script}: {stdout}");
        let failed = failed_steps(&stdout);
        for scenario in exposing {
            assert!(
                failed.contains(*scenario),
                "{script}: {scenario} should expose it; failed: {failed:?}"
            );
        }
        let summary = format!("{} failed", failed.len());
        assert!(stdout.contains(&summary), "{script}: {stdout}");
        // Their keys are right: no hint blames them, not even when every genuine envelope
        // is refused at the signature (unquoted-signature).
        assert!(!stdout.contains("hint:"), "{script}: {stdout}");

        // Each failure shows what was sent, what came back, what was expected, and the diff.
        let first = failed.iter().next().unwrap();
        let details: String = stdout
            .split(&format!("FAIL  conformance › {first}\n"))
            .nth(1)
            .unwrap()
            .lines()
            .take_while(|line| line.starts_with("        "))
            .collect::<Vec<_>>()
            .join("\n");
        for part in [
            "oracle:",
            "expected:",
            "sent:     POST",
            "got:",
            "diff:",
            "    - ",
            "    + ",
        ] {
            assert!(
                details.contains(part),
                "{script}: no {part:?} in\n{details}"
            );
        }

        // The JUnit report fails the same steps.
        let report = read_junit(&junit);
        let junit_failed: BTreeSet<String> = report["suites"][0]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["result"] == "failure")
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(junit_failed, failed, "{script}");
        assert_eq!(report["tests"], catalogue_names().len());
    }
}

#[test]
fn fail_fast_stops_at_the_first_failure_and_json_reports_the_run() {
    let backend = NodeBackend::start("broken/unquoted-signature.mjs", SEED);
    let output = play_conformance(&backend.url, &["--fail-fast"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.matches("FAIL  ").count(), 1, "{stdout}");
    assert!(stdout.contains("not run (--fail-fast)"), "{stdout}");

    let output = play_conformance(&backend.url, &["--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("--json prints JSON only");
    let steps = report["suites"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), catalogue_names().len());
    let success = steps.iter().find(|s| s["name"] == "success").unwrap();
    assert_eq!(success["status"], "failed");
    assert_eq!(success["oracle"]["verdict"], "accept");
    // The reference backend's answer to a forgery, which this broken one takes it for.
    assert_eq!(success["answer"]["status"], 401);
    assert_eq!(success["refusal_class"], Value::Null);
    assert_eq!(success["mismatches"][0]["at"], "status");
    assert_eq!(
        report["failed"].as_u64().unwrap() as usize,
        steps.iter().filter(|s| s["status"] == "failed").count()
    );
}

#[test]
fn a_backend_with_another_seeds_keys_gets_a_hint() {
    let backend = NodeBackend::start("reference.mjs", SEED);
    // Every genuine envelope is refused at the signature: the backend holds seed 7's keys.
    let hint = "were refused at the signature: the backend's keys probably belong to another seed or app. Is it configured with `alipay-sim keys --seed 0`? (play used seed 0)";

    let output = play(&["conformance", "--backend", &backend.url, "--seed", "0"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint in {stdout}"));
    assert!(line.ends_with(hint), "{line}");

    let output = play(&[
        "conformance",
        "--backend",
        &backend.url,
        "--seed",
        "0",
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let wanted = report["suites"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["expected_kind"] == "success")
        .count();
    assert!(wanted >= 5, "{wanted}");
    assert!(
        line.starts_with(&format!(
            "hint: {wanted} of {wanted} steps that expect a phone number "
        )),
        "{line}"
    );
    assert_eq!(report["hint"].as_str(), line.strip_prefix("hint: "));

    // With the backend's seed, no hint.
    let output = play_conformance(&backend.url, &["--json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["hint"].is_null(), "{}", report["hint"]);
}

#[test]
fn an_unreachable_backend_is_one_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/api/phone");
    let output = play(&["conformance", "--backend", &url]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stdout), "", "no step is reported");
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach {url}"))
            && stderr.contains("is the backend running?"),
        "{stderr}"
    );

    // So is a suite without a URL, or with one the client cannot use.
    let output = play(&["conformance", "--backend", "https://example.test/api"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("https is not supported"));
}

#[test]
fn suite_mistakes_name_the_file_the_step_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    };
    let cases = [
        (
            r#"{"name": "s", "steps": [{"scenario": "success"}, {"scenario": "success", "expect": {"stauts": 200}}]}"#,
            &["steps[1].expect", "unknown field `stauts`"][..],
        ),
        (
            r#"{"name": "s", "steps": [{"scenario": "succes"}]}"#,
            &["steps[0] (succes).scenario", "unknown scenario \"succes\""][..],
        ),
        (
            r#"{"name": "s", "backend": {"url": "http://127.0.0.1:1/", "headers": {"X-Token": "{{env.ALIPAY_SIM_TEST_UNSET}}"}}, "steps": [{"scenario": "success"}]}"#,
            &["backend.headers", "ALIPAY_SIM_TEST_UNSET is not set"][..],
        ),
        (
            r#"{"name": "s", "steps": [{"name": "late", "scenario": "wrong-aes-key", "expect": {"json": {"code": "{{code}}"}}}]}"#,
            &["steps[0] (late).expect.json", "{{code}}"][..],
        ),
        (r#"{"name": "s", "steps": [}"#, &["expected value"][..]),
    ];
    for (i, (content, parts)) in cases.iter().enumerate() {
        let file = write(&format!("suite-{i}.json"), content);
        let output = play(&[&file, "--backend", "http://127.0.0.1:1/"]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&file), "{stderr}");
        for part in *parts {
            assert!(stderr.contains(part), "no {part:?} in {stderr}");
        }
    }
    let output = play(&["no-such-suite"]);
    assert!(text(&output.stderr).contains("no suite \"no-such-suite\""));
}

/// An echo backend: answers 200 with the method, two headers and the body it received.
fn echo_server() -> (String, std::thread::JoinHandle<()>) {
    use axum::http::{HeaderMap, Method};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/echo", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let app = axum::Router::new().route(
                "/echo",
                axum::routing::any(
                    |method: Method, headers: HeaderMap, body: String| async move {
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string()
                        };
                        axum::Json(serde_json::json!({
                            "method": method.as_str(),
                            "token": header("x-token"),
                            "content_type": header("content-type"),
                            "body": body,
                        }))
                    },
                ),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, handle)
}

#[test]
fn a_users_suite_sets_the_request_and_checks_json_regex_and_status() {
    let (url, _server) = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let suite = serde_json::json!({
        "name": "echo",
        "backend": {
            "url": url,
            "method": "PUT",
            "headers": {"X-Token": "{{env.ALIPAY_SIM_TEST_TOKEN}}"},
            "body": "form",
            "field": "envelope",
            "values": {"userToken": "u-1"}
        },
        "steps": [
            {
                "name": "request shape",
                "scenario": "success",
                "mobile": "13912345678",
                "expect": {
                    "status": "2xx",
                    "json": {"method": "PUT", "token": "s3cret", "content_type": "application/x-www-form-urlencoded"},
                    "body_matches": "envelope=%7B%22response%22.*&userToken=u-1",
                    "max_latency_ms": 5000
                }
            },
            {
                "name": "inline call refused",
                "console": {"phone_application": "pending"},
                "expect": {"status": "400-499", "json": {"method": "POST", "token": "s3cret"}}
            }
        ]
    });
    let path = dir.path().join("echo.json");
    std::fs::write(&path, serde_json::to_string_pretty(&suite).unwrap()).unwrap();
    let output = Command::new(BIN)
        .args(["play", path.to_str().unwrap()])
        .env("ALIPAY_SIM_TEST_TOKEN", "s3cret")
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("ok    echo › request shape [success]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  echo › inline call refused"),
        "{stdout}"
    );
    // The diff names each difference with the expected (-) and received (+) value.
    assert!(
        stdout.contains("          status\n            - 4xx\n            + 200\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("          $.method\n            - \"POST\"\n            + \"PUT\"\n"),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
}

/// Posts a UI form as the simulator's own page would, and gives the redirect target.
fn post_form(http: &reqwest::blocking::Client, server: &str, path: &str, form: &str) -> String {
    let response = http
        .post(format!("{server}{path}"))
        .header("origin", server)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_string())
        .send()
        .unwrap();
    assert_eq!(
        response.status(),
        303,
        "{path}: {}",
        response.text().unwrap()
    );
    response.headers()["location"].to_str().unwrap().to_string()
}

#[test]
fn a_recorded_session_replays_with_play() {
    let sim = Server::ephemeral();
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let apps: Value = http
        .get(format!("{}/api/v1/apps", sim.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let app = apps[0]["app_id"].as_str().unwrap().to_string();

    // The app's keys are random (not a seed's): the backend is configured with them, as a
    // person does from the console page, and the recorded suite carries them.
    let keys: Value = http
        .get(format!("{}/api/v1/apps/{app}/keys", sim.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let backend = app_backend("reference.mjs", &keys);

    post_form(&http, &sim.url, &format!("/apps/{app}/recording/start"), "");
    // `/apps/{app}/device?call=7#call`: the call's id.
    let device = |location: &str| {
        let call = location.rsplit_once("call=").unwrap().1;
        call.split('#').next().unwrap().to_string()
    };
    let tap = |action: &str| {
        device(&post_form(
            &http,
            &sim.url,
            &format!("/apps/{app}/device/tap"),
            &format!("action={action}"),
        ))
    };
    let send = |call: &str, shape: &str| {
        post_form(
            &http,
            &sim.url,
            &format!("/apps/{app}/device/send"),
            &format!(
                "call={call}&url={}&body_shape={shape}",
                alipay_sim::server::form_encode(&backend.url)
            ),
        )
    };
    // The first call sent split, as onGetPhoneNumber hands it; the second as JSON.
    let first = tap("consent");
    send(&first, "split-form");
    let page = http
        .get(format!("{}/apps/{app}/device?call={first}", sim.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("Request sent as <span id=\"backend-sent\">split-form</span>")
            && page.contains("Content-Type: application/x-www-form-urlencoded"),
        "{page}"
    );
    assert!(page.contains("re-add the double quotes"), "{page}");
    assert!(page.contains("id=\"backend-status\">200<"), "{page}");
    let patched = http
        .patch(format!("{}/api/v1/apps/{app}", sim.url))
        .header("content-type", "application/json")
        .body(r#"{"console": {"phone_application": "pending"}}"#)
        .send()
        .unwrap();
    assert!(patched.status().is_success());
    send(&tap("consent"), "json");
    // The allows authorised the user: revoke, so that the refusal gets its sheet again.
    let revoked = http
        .post(format!(
            "{}/api/v1/apps/{app}/authorisation/revoke",
            sim.url
        ))
        .send()
        .unwrap();
    assert!(revoked.status().is_success());
    tap("refuse");
    post_form(&http, &sim.url, &format!("/apps/{app}/recording/stop"), "");
    let page = http
        .get(format!("{}/apps/{app}/device", sim.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("3 calls recorded, 2 sent to the backend"),
        "{page}"
    );

    let suite = http
        .get(format!("{}/apps/{app}/recording/suite.json", sim.url))
        .send()
        .unwrap();
    assert!(suite.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recorded.json");
    let suite = suite.text().unwrap();
    // The suite's shape is the last one sent; the first step keeps its own.
    let parsed: Value = serde_json::from_str(&suite).unwrap();
    assert_eq!(parsed["backend"]["body"], "json");
    assert_eq!(parsed["steps"][0]["body"], "split-form");
    assert!(parsed["steps"][1].get("body").is_none(), "{parsed:#}");
    std::fs::write(&path, suite).unwrap();

    // Replayed against the same backend: the same answers.
    let output = play(&[path.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("2 passed, 0 failed, 1 skipped"), "{stdout}");

    // Replayed against a backend that takes 40006 for a phone number: the second call fails.
    drop(backend);
    let broken = app_backend("broken/any-decrypted-success.mjs", &keys);
    let output = play(&[path.to_str().unwrap(), "--backend", &broken.url]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("1 passed, 1 failed"), "{stdout}");
    assert!(
        stdout.contains("console.phone-application-not-approved"),
        "{stdout}"
    );
}

/// A tests/backend server configured with an app's keys as the API shows them.
fn app_backend(script: &str, keys: &Value) -> NodeBackend {
    NodeBackend::start_with_keys(
        script,
        keys["alipay_public_key"].as_str().unwrap(),
        keys["aes_key"].as_str().unwrap(),
    )
}

#[test]
fn recording_a_missing_app_is_not_found() {
    let sim = Server::ephemeral();
    let response =
        reqwest::blocking::get(format!("{}/apps/nope/recording/suite.json", sim.url)).unwrap();
    assert_eq!(response.status(), 404);
}

/// Every transport shape's name, as `--body` and suites take it.
fn shapes() -> Vec<&'static str> {
    use strum::IntoEnumIterator;
    alipay_sim::state::BodyShape::iter()
        .map(|shape| shape.as_str())
        .collect()
}

#[test]
fn the_reference_backend_reads_the_envelope_in_every_transport_shape() {
    let backend = NodeBackend::start("reference.mjs", SEED);
    assert_eq!(
        shapes(),
        [
            "json",
            "form",
            "raw",
            "raw-json",
            "raw-form",
            "query",
            "split-json",
            "split-form"
        ]
    );
    for shape in shapes() {
        // The whole conformance run, every request in this shape.
        let output = play_conformance(&backend.url, &["--body", shape, "--json"]);
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{shape}: {}", text(&output.stderr)));
        let steps = report["suites"][0]["steps"].as_array().unwrap();
        let failed: Vec<&Value> = steps.iter().filter(|s| s["status"] == "failed").collect();
        assert!(
            output.status.success() && failed.is_empty(),
            "{shape}: {failed:#?}"
        );
        for step in steps {
            assert_eq!(step["body_shape"], shape, "{step}");
            let Some(sent) = step["sent"].as_object() else {
                continue;
            };
            let (method, content_type) = match shape {
                "json" | "raw-json" | "split-json" => ("POST", Value::from("application/json")),
                "form" | "raw-form" | "split-form" => {
                    ("POST", Value::from("application/x-www-form-urlencoded"))
                }
                "raw" => ("POST", Value::from("text/plain; charset=utf-8")),
                "query" => ("GET", Value::Null),
                other => panic!("a shape this test does not know: {other}"),
            };
            assert_eq!(sent["method"], method, "{shape}");
            assert_eq!(sent["content_type"], content_type, "{shape}");
        }
        let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
        let success = step("success");
        let sent = success["sent"]["body"].as_str().unwrap();
        match shape {
            // The envelope itself, unencoded, `+` and all: only a backend reading the raw body
            // gets it whole, and the report says so.
            "raw-json" | "raw-form" => {
                assert!(sent.starts_with("{\"response\":\""), "{sent}");
                assert!(success["transport_note"]
                    .as_str()
                    .unwrap()
                    .contains("raw body"));
            }
            "query" => assert!(sent.starts_with("response=%7B%22response%22"), "{sent}"),
            "split-json" => assert!(sent.starts_with("{\"encryptedData\":\""), "{sent}"),
            "split-form" => assert!(sent.starts_with("encryptedData="), "{sent}"),
            _ => assert!(success["transport_note"].is_null()),
        }
        if shape == "raw-form" {
            // What a backend that unescapes the form would conclude instead.
            let note = success["transport_note"].as_str().unwrap();
            assert!(
                note.contains("unescaped as a form, this envelope would be reject-"),
                "{note}"
            );
        }
        // Text that is not an envelope cannot be split: nothing reaches the backend then.
        let not_json = step("non-json-text");
        if shape.starts_with("split-") {
            assert_eq!(not_json["status"], "skipped", "{shape}");
            assert!(not_json["skip_reason"]
                .as_str()
                .unwrap()
                .contains(&format!("nothing reaches the backend as {shape}")));
        } else {
            assert_eq!(not_json["status"], "passed", "{shape}");
            assert_eq!(not_json["refusal_class"], "unparseable");
        }
    }

    // The built-in suite of a few scenarios in each shape, step by step.
    let seed = SEED.to_string();
    let output = play(&["transports", "--backend", &backend.url, "--seed", &seed]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.contains("ok    transports › raw-form: success [success]  (accepted as it must be"),
        "{stdout}"
    );
    assert!(stdout.contains("ok    transports › query: phone-application-pending [phone-application-pending]  (refused as it must be: not-a-phone-number"), "{stdout}");
    assert!(
        stdout.contains("skip  transports › split-json: non-json-text"),
        "{stdout}"
    );
}

/// The conformance suite's steps, with an answer declared for each class of refusal: the
/// reference backend's 422 (with the code), 401 and 400.
fn conformance_with_refusal_classes(dir: &std::path::Path) -> String {
    let mut suite: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios/suites/conformance.json"),
        )
        .unwrap(),
    )
    .unwrap();
    suite["name"] = "classes".into();
    suite["refusals"] = serde_json::json!({
        "not-a-phone-number": {"status": 422, "json": {"refusal": "not-a-phone-number", "code": "{{code}}"}},
        "forged": {"status": 401, "json": {"refusal": "forged"}},
        "unparseable": {"status": 400}
    });
    let path = dir.join("classes.json");
    std::fs::write(&path, serde_json::to_string_pretty(&suite).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn refusal_classes_tell_a_charset_bug_from_a_refused_forgery() {
    let dir = tempfile::tempdir().unwrap();
    let classes = conformance_with_refusal_classes(dir.path());
    let seed = SEED.to_string();

    // The reference backend answers each class as the suite declares.
    let reference = NodeBackend::start("reference.mjs", SEED);
    let output = play(&[
        &classes,
        "--backend",
        &reference.url,
        "--seed",
        &seed,
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(output.status.success(), "{report:#}");
    let steps = report["suites"][0]["steps"].as_array().unwrap();
    let class_of =
        |name: &str| steps.iter().find(|s| s["name"] == name).unwrap()["refusal_class"].clone();
    assert_eq!(class_of("phone-application-pending"), "not-a-phone-number");
    assert_eq!(class_of("success-no-mobile"), "not-a-phone-number");
    // A plain 40006 signed with Alipay's `\/` escapes: authentic, so the reference backend,
    // verifying the object's own text, answers 422 and not 401.
    assert_eq!(class_of("plain-40006-signed"), "not-a-phone-number");
    assert_eq!(class_of("wrong-signing-key"), "forged");
    assert_eq!(class_of("missing-sign"), "forged");
    assert_eq!(class_of("wrong-aes-key"), "forged");
    assert_eq!(class_of("non-json-text"), "unparseable");
    assert_eq!(class_of("success"), Value::Null);
    let pending = steps
        .iter()
        .find(|s| s["name"] == "phone-application-pending")
        .unwrap();
    assert_eq!(
        pending["expected"],
        "a refusal (not-a-phone-number): status 422, JSON body containing {\"refusal\":\"not-a-phone-number\",\"code\":\"40006\"}"
    );
    drop(reference);

    // A backend with a charset bug refuses every genuine 40003 and 40006 as undecryptable. The
    // default conformance run, one `refusal` for all, cannot tell it from a correct one...
    let broken = NodeBackend::start("broken/charset-bug.mjs", SEED);
    let output = play_conformance(&broken.url, &[]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("ok    conformance › phone-application-pending  (refused as it must be: not-a-phone-number"),
        "{stdout}"
    );

    // ...the suite that declares the classes can: the authentic errors fail, the forgeries pass.
    let junit = dir.path().join("classes.xml");
    let output = play(&[
        &classes,
        "--backend",
        &broken.url,
        "--seed",
        &seed,
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    let failed = failed_steps(&stdout);
    for scenario in [
        "phone-application-pending",
        "phone-application-none",
        "feature-package-missing",
        "no-user-consent",
    ] {
        assert!(failed.contains(scenario), "{scenario}: {failed:?}");
    }
    for scenario in [
        "success",
        "wrong-signing-key",
        "flip-signature-byte",
        "non-json-text",
    ] {
        assert!(!failed.contains(scenario), "{scenario}: {failed:?}");
    }
    assert!(
        stdout.contains("        expected: a refusal (not-a-phone-number): status 422"),
        "{stdout}"
    );
    let report = read_junit(&junit);
    let case = report["suites"][0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "phone-application-pending")
        .unwrap()
        .clone();
    assert_eq!(case["result"], "failure", "{case}");
    assert!(
        case["message"]
            .as_str()
            .unwrap()
            .contains("status: expected 422, got 401"),
        "{case}"
    );
}

#[test]
fn a_step_sets_its_own_transport_and_refusal_class() {
    let (url, _server) = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let suite = serde_json::json!({
        "name": "shapes",
        "backend": {"url": url, "values": {"scene": "login"}},
        "refusals": {"forged": {"status": 200, "json": {"method": "GET"}}},
        "steps": [
            {"name": "split", "scenario": "success", "body": "split-form",
             "expect": {"status": 200, "json": {"method": "POST", "content_type": "application/x-www-form-urlencoded"},
                        "body_matches": "^\\{.*\"body\":\"encryptedData=[^&]+&sign=[^&]+&scene=login\""}},
            {"name": "get", "scenario": "flip-signature-byte", "body": "query", "expect": "forged"},
            {"name": "oracle class", "scenario": "missing-sign", "body": "query"}
        ]
    });
    let path = dir.path().join("shapes.json");
    std::fs::write(&path, serde_json::to_string_pretty(&suite).unwrap()).unwrap();
    let output = play(&[path.to_str().unwrap(), "--json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(output.status.success(), "{report:#}");
    let steps = report["suites"][0]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["body_shape"], "split-form");
    assert_eq!(steps[1]["sent"]["method"], "GET");
    assert!(steps[1]["sent"]["body"]
        .as_str()
        .unwrap()
        .ends_with("&scene=login"));
    assert_eq!(steps[1]["refusal_class"], "forged");
    // A class the oracle gives, answered as the suite's `refusals` say.
    assert_eq!(steps[2]["refusal_class"], "forged");
    assert_eq!(steps[2]["status"], "passed");

    // A raw shape carries nothing beside the envelope: a step that picks one with values is
    // refused before anything is sent.
    let suite = serde_json::json!({
        "name": "bad",
        "backend": {"url": url, "values": {"scene": "login"}},
        "steps": [{"scenario": "success"}, {"scenario": "success", "body": "raw-form"}]
    });
    std::fs::write(&path, suite.to_string()).unwrap();
    let output = play(&[path.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("steps[1] (success).body: with backend.values: a raw-form body carries only the envelope"),
        "{stderr}"
    );
    let output = play(&["conformance", "--body", "xml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("\"xml\" is not a transport shape"));
}

/// A suite says which reading of an unsigned answer its backend follows: under `policy: doc` an
/// app without a signing method must get its mobile (the doc's "skip verification"), while a
/// `sign` stripped on the way must still be refused.
#[test]
fn a_suite_declares_the_doc_policy_for_unsigned_answers() {
    let backend = NodeBackend::start("broken/accepts-unsigned.mjs", SEED);
    let dir = tempfile::tempdir().unwrap();
    let suite = |policy: &str| {
        let path = dir.path().join(format!("{policy}.json"));
        let body = serde_json::json!({
            "name": format!("unsigned-{policy}"),
            "policy": policy,
            "steps": [{"scenario": "no-signing"}, {"scenario": "missing-sign"}],
        });
        std::fs::write(&path, body.to_string()).unwrap();
        path
    };
    let seed = SEED.to_string();
    let run = |path: &std::path::Path| {
        let output = play(&[
            path.to_str().unwrap(),
            "--backend",
            &backend.url,
            "--seed",
            &seed,
        ]);
        (output.status.code(), text(&output.stdout))
    };
    // Strict: the unsigned mobile must be refused, and this backend takes it.
    let (code, stdout) = run(&suite("strict"));
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        failed_steps(&stdout),
        BTreeSet::from(["no-signing".to_string(), "missing-sign".to_string()]),
        "{stdout}"
    );
    // Doc: the unsigned mobile is what the backend must take; the stripped sign still fails it.
    let (code, stdout) = run(&suite("doc"));
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        failed_steps(&stdout),
        BTreeSet::from(["missing-sign".to_string()]),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok    unsigned-doc › no-signing  (accepted as it must be"),
        "{stdout}"
    );
}
