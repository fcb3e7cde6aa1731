//! The WeChat conformance suites (`wechat-code`, `wechat-legacy`, built in) played by
//! `alipay-sim play` against the WeChat reference backend (`tests/backend/wechat/reference.mjs`)
//! and its broken variants: the reference passes every step, and each variant fails at the
//! step that shows its bug, named in the report, with the journal's evidence where the bug is
//! in what it asked WeChat.

use std::process::{Child, Command};

use serde_json::Value;

use crate::common::{run_json, start_listening, BIN};

const SEED: u64 = 3;

/// A WeChat backend on a free port, configured for the app of `SEED` and WeChat at `wechat`.
struct WechatBackend {
    child: Child,
    url: String,
}

impl WechatBackend {
    fn start(script: &str, wechat: &str) -> WechatBackend {
        let keys = run_json(Command::new(BIN).args([
            "keys",
            "--platform",
            "wechat",
            "--json",
            "--seed",
            &SEED.to_string(),
        ]));
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backend/wechat");
        let mut command = Command::new("node");
        command
            .arg(dir.join(script))
            .env("WECHAT_API", wechat)
            .env("WECHAT_APPID", keys["appid"].as_str().unwrap())
            .env("WECHAT_SECRET", keys["secret"].as_str().unwrap())
            .env("PORT", "0");
        let (child, url) = start_listening(command, "listening on ");
        WechatBackend { child, url }
    }
}

impl Drop for WechatBackend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `alipay-sim play --json` of both suites against `script`: (exit code, report).
fn play(script: &str) -> (i32, Value) {
    let port = free_port();
    let wechat = format!("127.0.0.1:{port}");
    let backend = WechatBackend::start(script, &format!("http://{wechat}"));
    let output = Command::new(BIN)
        .args([
            "play",
            "wechat-code",
            "wechat-legacy",
            "--json",
            "--seed",
            &SEED.to_string(),
        ])
        .args(["--backend", &backend.url, "--wechat-addr", &wechat])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap(), report)
}

fn failed_steps(report: &Value) -> Vec<(String, String, Vec<String>)> {
    report["suites"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|suite| {
            suite["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["status"] == "failed")
                .map(|s| {
                    let at = s["mismatches"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m["at"].as_str().unwrap().to_string())
                        .collect();
                    (
                        suite["name"].as_str().unwrap().to_string(),
                        s["name"].as_str().unwrap().to_string(),
                        at,
                    )
                })
        })
        .collect()
}

#[test]
fn the_reference_backend_passes_both_wechat_suites() {
    let (code, report) = play("reference.mjs");
    assert_eq!(
        failed_steps(&report),
        Vec::<(String, String, Vec<String>)>::new(),
        "{report:#}"
    );
    assert_eq!(code, 0);
    assert!(
        report["passed"].as_u64().unwrap() >= 20,
        "{}",
        report["passed"]
    );
    // Steps where nothing reaches the backend are skipped, saying why.
    let skipped: Vec<_> = report["suites"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "skipped")
        .collect();
    assert!(skipped.iter().all(|s| s["skip_reason"]
        .as_str()
        .unwrap()
        .starts_with("nothing reaches the backend")));
}

#[test]
fn each_broken_backend_fails_at_the_step_that_shows_its_bug() {
    let cases: [(&str, &str, &str, &str); 3] = [
        // Accepts data watermarked for another app.
        (
            "broken/no-watermark-check.mjs",
            "wechat-legacy",
            "watermark-other-app",
            "POST /wx/phone/legacy status",
        ),
        // Sends a phone code again after WeChat refused it: the journal shows it.
        (
            "broken/retries-used-code.mjs",
            "wechat-code",
            "phone-code-reused",
            "journal: getuserphonenumber",
        ),
        // A new token per call: the journal shows the second fetch.
        (
            "broken/token-per-call.mjs",
            "wechat-code",
            "realtime-ok",
            "journal: /cgi-bin/token",
        ),
    ];
    for (script, suite, step, at) in cases {
        let (code, report) = play(script);
        assert_eq!(code, 1, "{script}");
        let failed = failed_steps(&report);
        let first = failed
            .first()
            .unwrap_or_else(|| panic!("{script}: no step failed"));
        assert_eq!(
            (first.0.as_str(), first.1.as_str()),
            (suite, step),
            "{script}: {failed:?}"
        );
        assert!(
            first.2.iter().any(|a| a.starts_with(at)),
            "{script}: {:?}",
            first.2
        );
    }
}
