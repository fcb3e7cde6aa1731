//! WeChat's known-answer vectors (`tests/wechat-vectors.json`, a copy of the shared vectors made
//! independently of this project) reproduced byte for byte: every `encryptedData`, the plaintext
//! the engine writes for each phone vector, the `+`-to-space fault, and every checksession
//! signature; and the oracle's conclusion on each vector is the one the file states.

use alipay_sim::wechat::crypto::{checksession_signature, encrypt, Padding, PhoneInfo};
use alipay_sim::wechat::judge::judge_legacy;
use alipay_sim::Verdict;
use serde_json::Value;

fn vectors() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/wechat-vectors.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn every_encrypted_data_is_reproduced_byte_for_byte() {
    let file = vectors();
    let official = &file["official"];
    let mut cases: Vec<&Value> = vec![official];
    cases.extend(file["vectors"].as_array().unwrap());
    assert_eq!(cases.len(), 7);
    for v in cases {
        let padding = match text(v, "padding") {
            "custom:30" => Padding::Custom(30),
            other => {
                assert!(other.starts_with("pkcs7-16"), "{other}");
                Padding::Pkcs7
            }
        };
        // A rotated-key vector is encrypted with the key the phone held.
        let key = v["session_key_used_to_encrypt"]
            .as_str()
            .unwrap_or_else(|| text(v, "session_key"));
        let made = encrypt(key, text(v, "iv"), text(v, "plaintext").as_bytes(), padding).unwrap();
        assert_eq!(made, text(v, "encryptedData"), "{}", v["name"]);
    }
}

#[test]
fn the_engines_plaintext_is_the_vectors_for_every_phone_vector() {
    for v in vectors()["vectors"].as_array().unwrap() {
        let plain: Value = serde_json::from_str(text(v, "plaintext")).unwrap();
        let info = PhoneInfo::new(
            text(&plain, "purePhoneNumber"),
            text(&plain, "countryCode"),
            plain["watermark"]["timestamp"].as_u64().unwrap(),
            text(&plain["watermark"], "appid"),
        );
        assert_eq!(info.plaintext(), text(v, "plaintext"), "{}", v["name"]);
        assert_eq!(
            info.plaintext().len() as u64,
            v["plaintext_len"].as_u64().unwrap()
        );
    }
}

#[test]
fn the_plus_to_space_fault_is_the_vectors() {
    let file = vectors();
    let fault = &file["faults"][0];
    assert_eq!(text(fault, "name"), "plus_to_space");
    let of = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == fault["of"])
        .unwrap();
    let keys = alipay_sim::wechat::keys::WechatKeys::for_seed(0);
    let (data, _) = alipay_sim::wechat::scenario::apply_fault(
        Some(alipay_sim::wechat::scenario::PayloadFault::PlusToSpace),
        &keys,
        text(of, "session_key"),
        text(of, "encryptedData").into(),
        text(of, "iv").into(),
    );
    assert_eq!(data, text(fault, "encryptedData"));
    let verdict = judge_legacy(
        text(of, "appid"),
        text(of, "session_key"),
        text(of, "iv"),
        &data,
    );
    assert_eq!(verdict.verdict, Verdict::RejectParse);
    assert_eq!(verdict.cause, "wechat.not-base64");
}

#[test]
fn every_checksession_signature_is_reproduced() {
    let file = vectors();
    let cases = file["checksession_signature"]["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for (name, case) in cases {
        let made = if name == "wrong_key_bytes_variant" {
            // The documented mistake: the HMAC keyed with the decoded bytes.
            let decoded =
                alipay_sim::crypto::unb64("session_key", text(case, "session_key")).unwrap();
            alipay_sim::crypto::hmac_sha256_hex(&decoded, text(case, "body").as_bytes())
        } else {
            checksession_signature(text(case, "session_key"), text(case, "body"))
        };
        assert_eq!(made, text(case, "signature"), "{name}");
        if let Some(doc) = case["expected_per_doc"].as_str() {
            assert_eq!(made, doc, "{name}: the official example");
        }
    }
}

#[test]
fn the_oracle_concludes_what_each_vector_expects() {
    let expected = [
        ("legacy_ok_cn", Verdict::Accept, "wechat.decrypted"),
        ("legacy_ok_hk", Verdict::Accept, "wechat.decrypted"),
        (
            "legacy_ok_virtual_test_account",
            Verdict::Accept,
            "wechat.decrypted",
        ),
        (
            "legacy_watermark_other_appid",
            Verdict::RejectForeign,
            "wechat.watermark-other-app",
        ),
        (
            "legacy_encrypted_with_rotated_key",
            Verdict::RejectDecrypt,
            "wechat.wrong-key",
        ),
        (
            "legacy_nonstandard_pad_30",
            Verdict::RejectDecrypt,
            "wechat.nonstandard-padding",
        ),
    ];
    let file = vectors();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), expected.len());
    for (v, (name, verdict, rule)) in vectors.iter().zip(expected) {
        assert_eq!(v["name"], name);
        let held = v["session_key_backend_holds"]
            .as_str()
            .unwrap_or_else(|| text(v, "session_key"));
        let expect = judge_legacy(
            text(v, "appid"),
            held,
            text(v, "iv"),
            text(v, "encryptedData"),
        );
        assert_eq!(
            (expect.verdict, expect.cause.id()),
            (verdict, rule),
            "{name}: {}",
            expect.reason
        );
        let says_accept = text(&v["expected"], "correct_backend").starts_with("accept");
        assert_eq!(says_accept, verdict == Verdict::Accept, "{name}");
        if verdict == Verdict::Accept {
            let plain: Value = serde_json::from_str(text(v, "plaintext")).unwrap();
            assert_eq!(expect.plaintext, Some(plain));
        }
    }
}

/// `alipay-sim verify --session-key K --appid A` and `POST /api/v1/verify` judge each vector as
/// the oracle does: the CLI exits 0 on accept only.
#[test]
fn verify_and_the_api_judge_wechat_payloads() {
    use std::io::Write;
    let sim = alipay_sim::Simulator::start_blocking();
    for v in vectors()["vectors"].as_array().unwrap() {
        let held = v["session_key_backend_holds"]
            .as_str()
            .unwrap_or_else(|| text(v, "session_key"));
        let expect = judge_legacy(
            text(v, "appid"),
            held,
            text(v, "iv"),
            text(v, "encryptedData"),
        );
        let mut child = std::process::Command::new(crate::common::BIN)
            .args([
                "verify",
                "--json",
                "--session-key",
                held,
                "--appid",
                text(v, "appid"),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let detail = serde_json::json!({"encryptedData": v["encryptedData"], "iv": v["iv"]});
        child
            .stdin
            .take()
            .unwrap()
            .write_all(detail.to_string().as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(printed["verdict"], expect.verdict.as_str(), "{}", v["name"]);
        assert_eq!(
            output.status.success(),
            expect.verdict == Verdict::Accept,
            "{}",
            v["name"]
        );

        let answer: Value = reqwest::blocking::Client::new()
            .post(format!("{}/api/v1/verify", sim.uri()))
            .json(&serde_json::json!({"appid": v["appid"], "session_key": held, "iv": v["iv"], "encryptedData": v["encryptedData"]}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            answer["verdict"],
            expect.verdict.as_str(),
            "{}: {answer}",
            v["name"]
        );
    }
}
