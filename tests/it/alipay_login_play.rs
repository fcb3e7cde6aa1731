//! The login-then-phone suite (`alipay-login`, built in) played by `alipay-sim play` against
//! the login reference backend (`tests/backend/login/reference.mjs`, on the official Node SDK)
//! and its broken variants: the reference passes every step, and each variant fails first at
//! the step that shows its bug, named in the report.

use std::process::{Child, Command};

use serde_json::Value;

use crate::common::{start_listening, BIN};

const SEED: u64 = 5;

/// A login backend on a free port, configured with the app of `SEED` and the gateway at
/// `gateway`.
struct LoginBackend {
    child: Child,
    url: String,
    _keys: tempfile::TempDir,
}

impl LoginBackend {
    fn start(script: &str, gateway: &str) -> LoginBackend {
        let keys = Command::new(BIN)
            .args(["keys", "--login", "--json", "--seed", &SEED.to_string()])
            .output()
            .unwrap();
        assert!(keys.status.success());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.json");
        std::fs::write(&file, &keys.stdout).unwrap();
        let backend = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/backend/login");
        let mut command = Command::new("node");
        command
            .arg(backend.join(script))
            .env("KEYS_FILE", &file)
            .env("GATEWAY", format!("http://{gateway}/gateway.do"))
            .env("PORT", "0");
        let (child, url) = start_listening(command, "listening on ");
        LoginBackend {
            child,
            url,
            _keys: dir,
        }
    }
}

impl Drop for LoginBackend {
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

/// `alipay-sim play alipay-login --json` against `script`: (exit code, report).
fn play(script: &str) -> (i32, Value) {
    let gateway = format!("127.0.0.1:{}", free_port());
    let backend = LoginBackend::start(script, &gateway);
    let output = Command::new(BIN)
        .args([
            "play",
            "alipay-login",
            "--json",
            "--seed",
            &SEED.to_string(),
        ])
        .args(["--backend", &backend.url, "--alipay-addr", &gateway])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap(), report)
}

/// Each failed step: its name and where its mismatches are.
fn failed_steps(report: &Value) -> Vec<(String, Vec<String>)> {
    report["suites"][0]["steps"]
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
            (s["name"].as_str().unwrap().to_string(), at)
        })
        .collect()
}

#[test]
fn the_reference_backend_passes_the_login_then_phone_suite() {
    let (code, report) = play("reference.mjs");
    assert_eq!(
        failed_steps(&report),
        Vec::<(String, Vec<String>)>::new(),
        "{report:#}"
    );
    assert_eq!(code, 0);
    assert_eq!(report["passed"], 12, "{report:#}");
    let steps = report["suites"][0]["steps"].as_array().unwrap();
    // The phone step's answer names the number and the user its device session logged in.
    let bound = steps
        .iter()
        .find(|s| s["name"] == "login-then-phone")
        .unwrap();
    let body: Value = serde_json::from_str(bound["answer"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["mobile"], "13800000000", "{body}");
    assert_eq!(body["user"].as_str().unwrap().len(), 46, "{body}");
    // Each step is another Alipay account: the users of the two logins differ.
    let login: Value = serde_json::from_str(steps[0]["answer"]["body"].as_str().unwrap()).unwrap();
    assert_ne!(login["user"], body["user"]);
    // Every oracle names its documented rule.
    assert!(steps.iter().all(|s| s["oracle"]["rule"]
        .as_str()
        .is_some_and(|r| r.starts_with("login.") || r.starts_with("gateway-fault."))));
}

#[test]
fn each_broken_login_backend_fails_at_the_step_that_shows_its_bug() {
    let cases: [(&str, &str, &str); 4] = [
        // exec without validateSign: a tampered answer logs someone in.
        (
            "broken/no-response-check.mjs",
            "tampered-body",
            "POST /api/login status",
        ),
        // A replayed code answered from memory, not refused.
        (
            "broken/reuses-code.mjs",
            "code-replayed",
            "POST /api/login status",
        ),
        // The number bound to no user: the answer names none.
        (
            "broken/phone-to-no-user.mjs",
            "login-then-phone",
            "POST /api/me/phone body",
        ),
        // The code sent to the gateway twice: only the journal shows it.
        (
            "broken/exchanges-code-twice.mjs",
            "login",
            "journal: alipay.system.oauth.token",
        ),
    ];
    for (script, step, at) in cases {
        let (code, report) = play(script);
        assert_eq!(code, 1, "{script}");
        let failed = failed_steps(&report);
        let first = failed
            .first()
            .unwrap_or_else(|| panic!("{script}: no step failed"));
        assert_eq!(first.0, step, "{script}: {failed:?}");
        assert!(
            first.1.iter().any(|a| a.starts_with(at)),
            "{script}: {:?}",
            first.1
        );
    }
}
