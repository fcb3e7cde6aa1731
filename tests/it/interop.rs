//! Proof against the official SDKs: every catalogue envelope is fed to npm `alipay-sdk` 4.x
//! (`rsaCheck` on the quoted content, `aesDecrypt`) and to PyPI `alipay-sdk-python`
//! (`verify_with_rsa`, `decrypt_content`), and each must reach the oracle's verdict. The only
//! allowed difference is the Python SDK's documented leniency: it accepts a SHA-1 signature
//! where RSA2 is expected.
//!
//! The checkers live in `tests/interop/`; `tests/interop/setup.sh` installs the pinned SDKs
//! into ignored folders there (run here, so plain `cargo test` works too).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{run_json, sdk_verdicts, BIN};
use serde_json::Value;

/// Compares both SDKs with the oracle on every fixture in `dir`.
fn assert_sdks_agree(dir: &Path, fixtures: &BTreeMap<String, Value>) {
    let node = sdk_verdicts("node", dir);
    let python = sdk_verdicts("python", dir);
    assert_eq!(node.len(), fixtures.len());
    assert_eq!(python.len(), fixtures.len());
    let mut python_sha1_leniency_seen = false;
    for (name, fixture) in fixtures {
        let expect = &fixture["expect"];
        let n = &node[name];
        assert_eq!(
            (&n["verdict"], &n["plaintext"]),
            (&expect["verdict"], &expect["plaintext"]),
            "{name}: the Node SDK disagrees with the oracle ({})",
            n["detail"]
        );
        let p = &python[name];
        if expect["rule"] == "fault.sha1-under-rsa2" {
            // Documented leniency: python-rsa follows the hash named in the signature.
            assert_eq!(expect["verdict"], "reject-signature");
            assert_eq!(p["verdict"], "accept", "{name}: {}", p["detail"]);
            assert_eq!(p["plaintext"]["code"], "10000");
            python_sha1_leniency_seen = true;
            continue;
        }
        assert_eq!(
            (&p["verdict"], &p["plaintext"]),
            (&expect["verdict"], &expect["plaintext"]),
            "{name}: the Python SDK disagrees with the oracle ({})",
            p["detail"]
        );
    }
    assert!(
        python_sha1_leniency_seen,
        "the catalogue lost its sha1-under-rsa2 scenario"
    );
    assert_go_agrees(dir, fixtures);
}

/// The Go library github.com/smartwalle/alipay/v3 (`DecodePhoneNumber` on the whole envelope)
/// against the oracle. Its one deviation: it verifies every response with SHA-256 (RSA2) and has
/// no setting for an app that signs RSA (SHA-1), so the `success` scenario of an RSA app
/// (`success-rsa-sha1`) is rejected there.
fn assert_go_agrees(dir: &Path, fixtures: &BTreeMap<String, Value>) {
    let go = sdk_verdicts("go", dir);
    assert_eq!(go.len(), fixtures.len());
    let mut go_sha256_only_seen = false;
    for (name, fixture) in fixtures {
        let expect = &fixture["expect"];
        let g = &go[name];
        if expect["rule"] == "success" && fixture["sign_type"] == "RSA" {
            assert_eq!(expect["verdict"], "accept");
            assert_eq!(g["verdict"], "reject-signature", "{name}: {}", g["detail"]);
            go_sha256_only_seen = true;
            continue;
        }
        assert_eq!(
            (&g["verdict"], &g["plaintext"]),
            (&expect["verdict"], &expect["plaintext"]),
            "{name}: the Go library disagrees with the oracle ({})",
            g["detail"]
        );
    }
    assert!(
        go_sha256_only_seen,
        "the catalogue lost its success scenario of an RSA (SHA-1) app"
    );
}

#[test]
fn both_sdks_agree_with_every_envelope_command_output() {
    let listed = run_json(Command::new(BIN).args(["scenarios", "--json"]));
    let names: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.len() >= 25);
    let dir = tempfile::tempdir().unwrap();
    // One process per scenario, all at once: each generates the seed's keys itself.
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            let child = Command::new(BIN)
                .args(["envelope", "--scenario", name, "--seed", "0"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (name, child)
        })
        .collect();
    let mut fixtures = BTreeMap::new();
    for (name, child) in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "envelope --scenario {name} failed");
        let fixture: Value = serde_json::from_slice(&output.stdout).unwrap();
        std::fs::write(dir.path().join(format!("{name}.json")), fixture.to_string()).unwrap();
        fixtures.insert(name.clone(), fixture);
    }
    assert_sdks_agree(dir.path(), &fixtures);
}

#[test]
fn both_sdks_agree_with_the_fixture_files_of_another_seed() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args(["fixtures", "--seed", "424242", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut fixtures = BTreeMap::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        if name == "index" || name == "keys" {
            continue;
        }
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        fixtures.insert(name, fixture);
    }
    assert_sdks_agree(dir.path(), &fixtures);
}
