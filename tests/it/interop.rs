//! Proof against the official SDKs: every catalogue envelope is fed to npm `alipay-sdk` 4.x
//! (`rsaCheck` on the quoted content, `aesDecrypt`), to PyPI `alipay-sdk-python`
//! (`verify_with_rsa`, `decrypt_content`) and to Maven `alipay-sdk-java` (`AlipaySignature.rsaCheck`,
//! `AlipayEncrypt.decryptContent`, the envelope parsed as Alipay's Java sample does), and each must
//! reach the oracle's verdict. The only allowed difference is the Python SDK's documented
//! leniency: it accepts a SHA-1 signature where RSA2 is expected. The Java SDK has none: its strict
//! padding, its Base64 that drops non-alphabet characters and its SHA-256-only RSA2 all land on the
//! oracle's verdicts.
//!
//! The checkers live in `tests/interop/`; `tests/interop/setup.sh` installs the pinned SDKs
//! into ignored folders there (run here, so plain `cargo test` works too).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::{run_json, sdk_verdicts, BIN};
use serde_json::Value;

/// Compares every SDK with the oracle on every fixture in `dir`.
fn assert_sdks_agree(dir: &Path, fixtures: &BTreeMap<String, Value>) {
    let node = sdk_verdicts("node", dir);
    let python = sdk_verdicts("python", dir);
    let java = sdk_verdicts("java", dir);
    assert_eq!(node.len(), fixtures.len());
    assert_eq!(python.len(), fixtures.len());
    assert_eq!(java.len(), fixtures.len());
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
    let mut java_reserialised_plain_object_seen = false;
    for (name, fixture) in fixtures {
        let expect = &fixture["expect"];
        let j = &java[name];
        let envelope = fixture["payload"]["response"].as_str().unwrap_or("");
        if envelope.starts_with(r#"{"response":{"#) && envelope.contains(r"\/") {
            // Known behaviour of Alipay's Java sample: fastjson parses the envelope into a
            // Map<String, String>, so a plain `response` object is written out again, and
            // without Alipay's `\/` escapes; the signature over the raw span no longer matches.
            assert_eq!(expect["verdict"], "accept", "{name}");
            assert_eq!(j["verdict"], "reject-signature", "{name}: {}", j["detail"]);
            java_reserialised_plain_object_seen = true;
            continue;
        }
        assert_eq!(
            (&j["verdict"], &j["plaintext"]),
            (&expect["verdict"], &expect["plaintext"]),
            "{name}: the Java SDK disagrees with the oracle ({})",
            j["detail"]
        );
    }
    assert!(
        python_sha1_leniency_seen,
        "the catalogue lost its sha1-under-rsa2 scenario"
    );
    assert!(
        java_reserialised_plain_object_seen,
        "the catalogue lost its plain-40006-signed scenario"
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
fn every_sdk_agrees_with_every_envelope_command_output() {
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
fn every_sdk_agrees_with_the_fixture_files_of_another_seed() {
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

/// An ISV's envelope verifies with the third-party app's Alipay public key and decrypts with the
/// merchant's AES key, in the official Node SDK; the merchant's own Alipay key refuses it.
#[test]
fn the_node_sdk_accepts_an_isv_envelope_only_with_the_third_partys_key() {
    let fixture = run_json(Command::new(BIN).args([
        "envelope",
        "--scenario",
        "isv-aes-key-set-again",
        "--seed",
        "0",
    ]));
    let merchant = run_json(Command::new(BIN).args(["keys", "--seed", "0", "--json"]));
    let merchant_key = merchant["alipay_public_key"].as_str().unwrap();
    assert_ne!(fixture["alipay_public_key"], merchant_key);
    // The merchant's key after the second aes.set, not the app's first one.
    assert_ne!(fixture["aes_key"], merchant["aes_key"]);

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, fixture: &Value| {
        std::fs::write(dir.path().join(format!("{name}.json")), fixture.to_string()).unwrap()
    };
    let mut with_merchant_key = fixture.clone();
    with_merchant_key["scenario"] = "with-merchant-key".into();
    with_merchant_key["alipay_public_key"] = merchant_key.into();
    write("with-isv-key", &{
        let mut f = fixture.clone();
        f["scenario"] = "with-isv-key".into();
        f
    });
    write("with-merchant-key", &with_merchant_key);

    let node = sdk_verdicts("node", dir.path());
    assert_eq!(
        node["with-isv-key"]["verdict"], "accept",
        "{}",
        node["with-isv-key"]
    );
    assert_eq!(node["with-isv-key"]["plaintext"]["mobile"], "13800000000");
    assert_eq!(node["with-merchant-key"]["verdict"], "reject-signature");
}

/// The 2.8.0+ button's onGetPhoneNumber, Taro's pass-through and uni-app hand the page the
/// envelope split: the official Node SDK verifies `encryptedData` once the backend re-adds the
/// quotes, and decrypts it; an unsigned app's split has no `sign`.
#[test]
fn the_node_sdk_verifies_the_split_envelope_of_each_front_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeMap::new();
    for (scenario, front_end) in [
        ("success", "button"),
        ("success-overseas-mobile", "taro"),
        ("success", "uni-app"),
        ("no-signing", "button"),
    ] {
        let mut fixture = run_json(Command::new(BIN).args([
            "envelope",
            "--scenario",
            scenario,
            "--front-end",
            front_end,
        ]));
        let detail = fixture["page_event"]["event"]["detail"].clone();
        assert!(detail["encryptedData"].is_string(), "{front_end}: {detail}");
        if front_end == "uni-app" {
            assert_eq!(detail["errMsg"], "getPhoneNumber:ok");
        }
        // The backend receives the split fields, as the page forwards them.
        let name = format!("{scenario}-{front_end}");
        fixture["scenario"] = name.clone().into();
        fixture["payload"] = serde_json::json!({
            "encryptedData": detail["encryptedData"],
            "sign": detail.get("sign"),
        });
        if detail.get("sign").is_none() {
            fixture["payload"].as_object_mut().unwrap().remove("sign");
        }
        std::fs::write(dir.path().join(format!("{name}.json")), fixture.to_string()).unwrap();
        expected.insert(name, fixture["expect"]["verdict"].clone());
    }
    let node = sdk_verdicts("node", dir.path());
    for (name, verdict) in expected {
        assert_eq!(node[&name]["verdict"], verdict, "{name}: {}", node[&name]);
    }
    assert_eq!(node["success-button"]["plaintext"]["mobile"], "13800000000");
    assert_eq!(node["no-signing-button"]["verdict"], "unsigned");
}
