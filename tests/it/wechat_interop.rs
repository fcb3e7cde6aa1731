//! Proof against the libraries WeChat backends run (`tests/interop/wechat/`, installed by
//! `tests/interop/setup.sh`): PyPI wechatpy 1.8.18, npm wechat-oauth 1.5.0 (WeChat's official
//! Node demo) and node-easywechat 3.6.2, Maven weixin-java-miniapp 4.7.9.B (WxJava) and Go
//! github.com/silenceper/wechat/v2 v2.1.10, each through its own functions.
//!
//! - On the shared known-answer vectors, each library gives exactly the verdict the vectors
//!   file recorded for it.
//! - On every legacy payload of the catalogue, each decrypt call reaches the oracle's verdict,
//!   or one of the deviations named below, each asserted to still happen.
//! - Against the running simulator (base URL instead of api.weixin.qq.com), each library logs
//!   in, gets the phone number by code and decrypts the tap's legacy payload (`live` below).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use alipay_sim::wechat::keys::WechatKeys;
use alipay_sim::wechat::scenario::{catalogue, Step};
use alipay_sim::Verdict;
use serde_json::{json, Value};

use crate::common::{interop_dir, run_json, set_up_sdks};

/// The checkers, by language.
const CHECKERS: [&str; 4] = ["python", "node", "java", "go"];

fn checker(language: &str) -> Command {
    let dir = interop_dir().join("wechat");
    match language {
        "python" => {
            let mut c = Command::new(dir.join("python/.venv/bin/python"));
            c.arg(dir.join("python/check.py"));
            c
        }
        "node" => {
            let mut c = Command::new("node");
            c.arg(dir.join("node/check.mjs"));
            c
        }
        "java" => {
            let target = dir.join("java/target");
            let classpath = format!(
                "{}:{}/lib/*",
                target.join("classes").display(),
                target.display()
            );
            let mut c = Command::new("java");
            c.args(["-cp", &classpath, "Check"]);
            c
        }
        "go" => Command::new(dir.join("go/bin/check")),
        other => panic!("no checker {other}"),
    }
}

/// Every library's results on `cases` (`decrypt` mode), as (case name, call) -> result.
fn decrypt_results(cases: &[Value]) -> BTreeMap<(String, String), Value> {
    set_up_sdks();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_string(cases).unwrap()).unwrap();
    let mut results = BTreeMap::new();
    for language in CHECKERS {
        let rows = run_json(checker(language).arg("decrypt").arg(&file));
        for row in rows.as_array().unwrap() {
            let key = (
                row["name"].as_str().unwrap().to_string(),
                row["call"].as_str().unwrap().to_string(),
            );
            results.insert(key, row.clone());
        }
    }
    results
}

fn vectors() -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/wechat-vectors.json"]
        .iter()
        .collect();
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The vectors file's library names, as the checkers name their calls (the official Python
/// demo is a re-statement, not a library, and has no checker).
const VECTOR_LIBRARIES: [(&str, &str); 5] = [
    (
        "wechatpy-1.8.18",
        "wechatpy WeChatWxaCrypto.decrypt_message",
    ),
    (
        "wechat-oauth-1.5.0 (official WXBizDataCrypt port)",
        "wechat-oauth WXBizDataCrypt.decryptData",
    ),
    (
        "node-easywechat-3.6.2 decryptSession",
        "node-easywechat decryptSession",
    ),
    (
        "WxJava WxMaCryptUtils.decrypt",
        "WxJava WxMaCryptUtils.decrypt",
    ),
    (
        "WxJava WxMaCryptUtils.decryptAnotherWay",
        "WxJava WxMaCryptUtils.decryptAnotherWay",
    ),
];

#[test]
fn every_library_gives_the_vectors_recorded_verdict() {
    let file = vectors();
    let mut cases = Vec::new();
    let mut recorded = Vec::new();
    let mut push = |name: &str, v: &Value, encrypted: &str, verdicts: &Value| {
        let session_key = v["session_key_backend_holds"]
            .as_str()
            .or(v["session_key"].as_str())
            .unwrap();
        cases.push(json!({"name": name, "appid": v["appid"], "session_key": session_key, "iv": v["iv"], "encryptedData": encrypted}));
        recorded.push((name.to_string(), verdicts.clone()));
    };
    push(
        "official",
        &file["official"],
        file["official"]["encryptedData"].as_str().unwrap(),
        &file["official"]["library_verdicts"],
    );
    for v in file["vectors"].as_array().unwrap() {
        push(
            v["name"].as_str().unwrap(),
            v,
            v["encryptedData"].as_str().unwrap(),
            &v["library_verdicts"],
        );
    }
    for fault in file["faults"].as_array().unwrap() {
        let of = file["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == fault["of"])
            .unwrap();
        push(
            fault["name"].as_str().unwrap(),
            of,
            fault["encryptedData"].as_str().unwrap(),
            &fault["library_verdicts"],
        );
    }
    let results = decrypt_results(&cases);
    let mut compared = 0;
    for (name, verdicts) in recorded {
        for (library, call) in VECTOR_LIBRARIES {
            let want = verdicts[library].as_str().unwrap();
            let got = &results[&(name.clone(), call.to_string())];
            let plaintext = got["plaintext"].as_str().unwrap_or_default();
            if let Some(prefix) = want.strip_prefix("OK ") {
                assert_eq!(got["outcome"], "ok", "{name} {call}: {got}");
                assert!(plaintext.starts_with(prefix), "{name} {call}: {plaintext}");
            } else if let Some(message) = want.strip_prefix("ERR ") {
                assert_eq!(got["outcome"], "error", "{name} {call}: {got}");
                // The recorded text is the exception's message, with its class for Python.
                let message = message
                    .split_once(": ")
                    .filter(|_| {
                        message.contains("Exception:")
                            || message.contains("Error:") && !message.starts_with("Fail")
                    })
                    .map_or(message, |(_, m)| m);
                assert!(
                    got["detail"].as_str().unwrap().contains(message),
                    "{name} {call}: {} lacks {message:?}",
                    got["detail"]
                );
            } else {
                assert!(want.starts_with("GARBAGE"), "{want}");
                assert_eq!(got["outcome"], "ok", "{name} {call}: {got}");
                assert!(
                    serde_json::from_str::<Value>(plaintext).is_err(),
                    "{name} {call}: {plaintext}"
                );
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 8 * 5);
}

/// Calls that do not check `watermark.appid`: a payload made for another app passes them.
const NO_WATERMARK_CHECK: [&str; 5] = [
    "WxJava WxMaCryptUtils.decrypt",
    "WxJava WxMaCryptUtils.decryptAnotherWay",
    "WxJava getPhoneNoInfo",
    "silenceper GetCipherText",
    "node-easywechat decryptSession",
];
/// Calls that strip any padding up to 32 bytes: the 30-byte padding passes them.
const LENIENT_PADDING: [&str; 5] = [
    "wechatpy WeChatWxaCrypto.decrypt_message",
    "WxJava WxMaCryptUtils.decrypt",
    "WxJava getPhoneNoInfo",
    "silenceper Encryptor.Decrypt",
    "silenceper GetCipherText",
];

/// What a backend built on one call concludes: the phone fields it read, or `None` (refused).
fn phone_read(result: &Value) -> Option<Value> {
    if result["outcome"] != "ok" {
        return None;
    }
    let parsed: Value = serde_json::from_str(result["plaintext"].as_str()?).ok()?;
    let phone = parsed["purePhoneNumber"]
        .as_str()
        .filter(|p| !p.is_empty())?;
    Some(
        json!({"purePhoneNumber": phone, "countryCode": parsed["countryCode"], "phoneNumber": parsed["phoneNumber"]}),
    )
}

#[test]
fn every_legacy_payload_of_the_catalogue_gets_the_oracles_verdict_or_a_named_deviation() {
    let keys = WechatKeys::for_seed(7);
    let mut cases = Vec::new();
    let mut oracle = BTreeMap::new();
    for scenario in catalogue() {
        if !matches!(scenario.steps.last(), Some(Step::Decrypt { .. })) {
            continue;
        }
        let run = scenario.run(&keys);
        let request = &run.steps.last().unwrap().request;
        cases.push(json!({"name": scenario.name, "appid": keys.appid, "session_key": request["session_key"], "iv": request["iv"], "encryptedData": request["encryptedData"]}));
        oracle.insert(scenario.name.clone(), run.expect);
    }
    assert!(cases.len() >= 7, "{}", cases.len());
    let results = decrypt_results(&cases);
    let calls: BTreeSet<&str> = results.keys().map(|(_, call)| call.as_str()).collect();
    assert_eq!(calls.len(), 8, "{calls:?}");
    let mut deviations_seen = BTreeSet::new();
    for ((name, call), result) in &results {
        let expect = &oracle[name];
        let read = phone_read(result);
        let want = expect.plaintext.as_ref().map(|p| json!({"purePhoneNumber": p["purePhoneNumber"], "countryCode": p["countryCode"], "phoneNumber": p["phoneNumber"]}));
        let deviation = match expect.verdict {
            Verdict::RejectForeign if NO_WATERMARK_CHECK.contains(&call.as_str()) => {
                Some("no watermark check")
            }
            Verdict::RejectDecrypt
                if expect.cause == "wechat.nonstandard-padding"
                    && LENIENT_PADDING.contains(&call.as_str()) =>
            {
                Some("lenient padding")
            }
            _ => None,
        };
        match deviation {
            Some(kind) => {
                // Known behaviour: the library accepts what a correct backend refuses.
                assert!(
                    read.is_some(),
                    "{name} {call}: {kind} no longer happens: {result}"
                );
                deviations_seen.insert((kind, call.clone()));
            }
            None => assert_eq!(
                read, want,
                "{name} {call}: the oracle says {:?} ({}); the library gave {result}",
                expect.verdict, expect.reason
            ),
        }
        if call == "WxJava WxMaCryptUtils.decrypt" && expect.cause == "wechat.wrong-key" {
            // Known behaviour: garbage rather than an error (refused only once parsed).
            assert_eq!(result["outcome"], "ok", "{name}: {result}");
            deviations_seen.insert(("garbage on a wrong key", call.clone()));
        }
    }
    for call in NO_WATERMARK_CHECK {
        assert!(
            deviations_seen.contains(&("no watermark check", call.to_string())),
            "{call}"
        );
    }
    for call in LENIENT_PADDING {
        assert!(
            deviations_seen.contains(&("lenient padding", call.to_string())),
            "{call}"
        );
    }
    assert!(deviations_seen.contains(&(
        "garbage on a wrong key",
        "WxJava WxMaCryptUtils.decrypt".to_string()
    )));
}
