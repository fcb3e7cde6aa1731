//! The `alipay-sim` binary, run as a user runs it.

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::BIN;
use serde_json::{json, Value};

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The binary may reject its arguments before reading stdin: a broken pipe is fine then.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A failure a user can act on: non-zero exit, exactly one line on stderr naming `needle`.
fn assert_clear_error(output: &Output, needle: &str) {
    assert!(!output.status.success());
    let err = stderr(output);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "{err:?} does not name {needle:?}");
}

#[test]
fn every_command_has_help() {
    for command in ["scenarios", "envelope", "keys", "fixtures", "verify"] {
        let output = run(&[command, "--help"]);
        assert!(output.status.success(), "{command} --help");
        assert!(stdout(&output).contains("Usage: alipay-sim"), "{command}");
    }
    let top = stdout(&run(&["--help"]));
    for command in ["scenarios", "envelope", "keys", "fixtures", "verify"] {
        assert!(top.contains(command), "--help does not list {command}");
    }
}

#[test]
fn scenarios_lists_the_catalogue_as_text_and_json() {
    let list = json(&run(&["scenarios", "--json"]));
    let list = list.as_array().unwrap();
    assert!(list.len() >= 25);
    for entry in list {
        for field in ["name", "title", "verdict"] {
            assert!(entry[field].is_string(), "{entry} lacks {field}");
        }
    }
    let text = stdout(&run(&["scenarios"]));
    assert_eq!(text.lines().count(), list.len());
    // Authenticity and what the plaintext says, side by side: an authentic 40006 is no login.
    let entry = |name: &str| list.iter().find(|e| e["name"] == name).unwrap().clone();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap()
            .to_string()
    };
    for (name, verdict, business_result, column) in [
        (
            "success",
            "accept",
            json!("phone-number"),
            "authentic · phone number",
        ),
        (
            "phone-application-pending",
            "accept",
            json!("40006 isv.insufficient-isv-permissions"),
            "authentic · 40006, no phone number",
        ),
        (
            "no-user-consent",
            "accept",
            json!("40003 isv.invalid-auth-relations"),
            "authentic · 40003, no phone number",
        ),
        (
            "success-no-mobile",
            "accept",
            json!("10000 no-mobile"),
            "authentic · 10000, no mobile",
        ),
        (
            "wrong-signing-key",
            "reject-signature",
            Value::Null,
            "reject-signature",
        ),
        ("ide-simulator", "front-end", Value::Null, "front-end"),
    ] {
        assert_eq!(entry(name)["verdict"], verdict, "{name}");
        assert_eq!(entry(name)["business_result"], business_result, "{name}");
        assert!(
            line(name).contains(&format!("  {column}  ")),
            "{}",
            line(name)
        );
    }
}

#[test]
fn envelope_prints_the_documented_object_and_repeats_with_the_seed() {
    let a = json(&run(&["envelope", "--scenario", "success", "--seed", "42"]));
    let fields: Vec<&str> = a.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(fields, common::FIXTURE_FIELDS);
    assert_eq!(a["callback"], "success");
    assert!(a["payload"]["response"]
        .as_str()
        .unwrap()
        .starts_with("{\"response\":\""));
    let expect_fields: Vec<&str> = a["expect"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(expect_fields, ["verdict", "plaintext", "rule", "reason"]);
    assert_eq!(
        run(&["envelope", "--scenario", "success", "--seed", "42"]).stdout,
        serde_json::to_string_pretty(&a)
            .unwrap()
            .into_bytes()
            .into_iter()
            .chain(*b"\n")
            .collect::<Vec<u8>>()
    );
    let other = json(&run(&["envelope", "--scenario", "success", "--seed", "43"]));
    assert_ne!(a["payload"], other["payload"]);

    let front_end = json(&run(&["envelope", "--scenario", "ide-simulator"]));
    assert_eq!(front_end["callback"], "fail");
    assert_eq!(
        front_end["payload"],
        serde_json::json!({"error": 1, "errorMessage": "该接口暂不支持"})
    );
    assert_eq!(front_end["expect"]["verdict"], "front-end");

    let no_aes = json(&run(&["envelope", "--scenario", "aes-key-not-set"]));
    assert!(no_aes["aes_key"].is_null());
}

#[test]
fn envelope_takes_another_mobile() {
    let overseas = json(&run(&[
        "envelope",
        "--scenario",
        "success",
        "--mobile",
        "852-61234567",
    ]));
    assert_eq!(overseas["expect"]["plaintext"]["mobile"], "852-61234567");
    let output = run(&[
        "envelope",
        "--scenario",
        "success",
        "--mobile",
        "+8613800000000",
    ]);
    assert_usage_error(&output, &["+8613800000000", "11 mainland digits"]);
}

/// A mistake on the command line: exit code 2 and clap's whole message, which names what is
/// wrong and points to `--help`.
fn assert_usage_error(output: &Output, needles: &[&str]) {
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(output);
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("alipay-sim: "), "{err}");
    for needle in needles.iter().chain(&["--help"]) {
        assert!(err.contains(needle), "{err:?} does not name {needle:?}");
    }
}

#[test]
fn command_line_mistakes_get_clap_whole_message() {
    // The missing argument's name, not only "the following required arguments were not provided:".
    assert_usage_error(
        &run(&["fixtures"]),
        &["--out <OUT>", "Usage: alipay-sim fixtures --out <OUT>"],
    );
    // The tip names the argument meant.
    assert_usage_error(
        &run(&["envelope", "--scenaro", "success"]),
        &[
            "unexpected argument '--scenaro'",
            "tip: a similar argument exists: '--scenario'",
            "Usage: alipay-sim envelope --scenario <SCENARIO>",
        ],
    );
}

#[test]
fn verify_without_a_key_names_the_option() {
    let output = Command::new(BIN)
        .arg("verify")
        .env_remove("ALIPAY_SIM_ALIPAY_PUBLIC_KEY")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_usage_error(
        &output,
        &[
            "--alipay-public-key <ALIPAY_PUBLIC_KEY>",
            "Usage: alipay-sim verify --alipay-public-key <ALIPAY_PUBLIC_KEY>",
        ],
    );
}

#[test]
fn seeds_are_whole_numbers_and_every_option_says_what_it_takes() {
    let seed_commands: [&[&str]; 5] = [
        &["serve", "--ephemeral"],
        &["envelope", "--scenario", "success"],
        &["keys"],
        &["fixtures", "--out", "unused"],
        &["play", "conformance", "--backend", "http://127.0.0.1:1/"],
    ];
    for command in seed_commands {
        for seed in ["-1", "--seed=-1", "1.5", "18446744073709551616"] {
            let mut args = command.to_vec();
            if !seed.starts_with("--") {
                args.push("--seed");
            }
            args.push(seed);
            let output = Command::new(BIN)
                .args(&args)
                .env_remove("ALIPAY_SIM_SEED")
                .output()
                .unwrap();
            assert_usage_error(
                &output,
                &["the seed must be a whole number from 0 to 18446744073709551615"],
            );
        }
        let help = stdout(&run(&[command[0], "--help"]));
        let seed_line = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("--seed <SEED>"))
            .take(2)
            .collect::<String>();
        assert!(
            seed_line.contains("Seed of the app's keys")
                || seed_line.contains("Seed of the keys of new apps"),
            "{} --help: {seed_line:?}",
            command[0]
        );
    }
    let help = stdout(&run(&["verify", "--help"]));
    assert!(help.contains("[possible values: RSA2, RSA]"), "{help}");
    let keys = json(&run(&["keys", "--json"]));
    let public_key = keys["alipay_public_key"].as_str().unwrap();
    assert_usage_error(
        &run_with_stdin(
            &[
                "verify",
                "--alipay-public-key",
                public_key,
                "--sign-type",
                "SHA256",
            ],
            "{}",
        ),
        &["'SHA256'", "RSA2", "RSA"],
    );
}

#[test]
fn bad_input_gets_one_clear_line() {
    assert_clear_error(&run(&["envelope", "--scenario", "sucess"]), "sucess");
    assert_clear_error(
        &run_with_stdin(&["verify", "--alipay-public-key", "not-a-key"], "{}"),
        "--alipay-public-key",
    );
    let keys = json(&run(&["keys", "--json"]));
    let public_key = keys["alipay_public_key"].as_str().unwrap();
    assert_clear_error(
        &run_with_stdin(
            &[
                "verify",
                "--alipay-public-key",
                public_key,
                "--aes-key",
                "AAAA",
            ],
            "{}",
        ),
        "AES key must decode to 16, 24 or 32 bytes",
    );
    assert_clear_error(
        &run_with_stdin(&["verify", "--alipay-public-key", public_key], " \n"),
        "no envelope",
    );
}

/// Throwaway public keys of other algorithms (`openssl genpkey`, then `openssl pkey -pubout`).
const EC_P256_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsH4Xy3WRP0dA8jPVu+riFUl8Hx4u
di/T5xvtssGOTO+8WzGPR4wybXvxy8C08iEYS6CdGT+6U4uz6hXkmOr6aA==
-----END PUBLIC KEY-----
";
const ED25519_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAZ9dP5fVAtPP9Pe/UV3TAOkjpmeIDXy1mjntrNKM6yPc=
-----END PUBLIC KEY-----
";

#[test]
fn verify_says_what_kind_of_key_it_was_given() {
    let keys = json(&run(&["keys", "--json"]));
    let field = |name: &str| keys[name].as_str().unwrap().to_string();
    let one_line = |pem: &str| -> String {
        pem.lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>()
    };
    let pkcs1_public = {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        rsa::RsaPublicKey::from_public_key_pem(&field("alipay_public_key_pem"))
            .unwrap()
            .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
    };
    let cases: Vec<(String, &[&str])> = vec![
        (
            EC_P256_PUBLIC_KEY.into(),
            &["this is an EC (P-256) public key; Alipay keys are RSA"],
        ),
        (
            one_line(EC_P256_PUBLIC_KEY),
            &["this is an EC (P-256) public key; Alipay keys are RSA"],
        ),
        (
            ED25519_PUBLIC_KEY.into(),
            &["this is an Ed25519 public key; Alipay keys are RSA"],
        ),
        (
            field("alipay_private_key_pkcs8_pem"),
            &["a private key (PKCS#8 `PRIVATE KEY`)", "alipay-sim keys"],
        ),
        (
            one_line(&field("alipay_private_key_pkcs8_pem")),
            &["a private key (PKCS#8", "alipay-sim keys"],
        ),
        (
            field("alipay_private_key_pkcs1_pem"),
            &[
                "a private key (PKCS#1 `RSA PRIVATE KEY`)",
                "alipay-sim keys",
            ],
        ),
        (
            pkcs1_public.clone(),
            &["PKCS#1 `RSA PUBLIC KEY`", "`BEGIN PUBLIC KEY`"],
        ),
        (
            one_line(&pkcs1_public),
            &["PKCS#1 `RSA PUBLIC KEY`", "`BEGIN PUBLIC KEY`"],
        ),
    ];
    for (key, needles) in cases {
        let output = run_with_stdin(&["verify", "--alipay-public-key", &key], "{}");
        assert_clear_error(&output, "--alipay-public-key");
        for needle in needles {
            assert!(
                stderr(&output).contains(needle),
                "{key}: {} lacks {needle:?}",
                stderr(&output)
            );
        }
    }
}

#[test]
fn verify_says_what_is_wrong_with_an_aes_key() {
    let keys = json(&run(&["keys", "--json"]));
    let public_key = keys["alipay_public_key"].as_str().unwrap();
    for (aes_key, needles) in [
        (
            "00112233445566778899aabbccddeeff",
            &[
                "this looks like a hex key (32 hex characters, 128 bits)",
                "the console's AES key is base64 (24 characters for 128 bits",
                "ABEiM0RVZneImaq7zN3u/w==",
            ][..],
        ),
        (
            "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
            &["this looks like a hex key (64 hex characters, 256 bits)"][..],
        ),
        (
            "not base64!",
            &[
                "AES key is not valid standard base64",
                "the console's AES key is base64 (24 characters for 128 bits",
            ][..],
        ),
    ] {
        let output = run_with_stdin(
            &[
                "verify",
                "--alipay-public-key",
                public_key,
                "--aes-key",
                aes_key,
            ],
            "{}",
        );
        assert_clear_error(&output, "--aes-key");
        for needle in needles {
            assert!(
                stderr(&output).contains(needle),
                "{aes_key}: {} lacks {needle:?}",
                stderr(&output)
            );
        }
    }
}

#[test]
fn keys_prints_what_a_backend_needs_and_matches_the_envelopes() {
    let keys = json(&run(&["keys", "--seed", "42", "--json"]));
    for field in [
        "app_id",
        "alipay_public_key",
        "alipay_public_key_pem",
        "alipay_private_key_pkcs8_pem",
        "aes_key",
    ] {
        assert!(keys[field].is_string(), "keys lacks {field}");
    }
    assert!(keys["alipay_public_key"]
        .as_str()
        .unwrap()
        .starts_with("MIIBIjAN"));
    assert!(keys["alipay_private_key_pkcs8_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let envelope = json(&run(&["envelope", "--scenario", "success", "--seed", "42"]));
    assert_eq!(envelope["alipay_public_key"], keys["alipay_public_key"]);
    assert_eq!(envelope["aes_key"], keys["aes_key"]);
    assert_eq!(envelope["app_id"], keys["app_id"]);

    // The text has every key the JSON has, in the same forms (the README promises both PEMs).
    let text = stdout(&run(&["keys", "--seed", "42"]));
    for field in [
        "app_id",
        "alipay_public_key",
        "alipay_public_key_pem",
        "alipay_private_key_pkcs8_pem",
        "alipay_private_key_pkcs1_pem",
        "aes_key",
    ] {
        assert!(
            text.contains(keys[field].as_str().unwrap()),
            "the text lacks {field}"
        );
    }
    assert!(text.contains("-----BEGIN RSA PRIVATE KEY-----"));
}

#[test]
fn fixtures_writes_every_scenario_an_index_and_the_keys() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&[
        "fixtures",
        "--seed",
        "42",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(name)).unwrap()).unwrap()
    };
    let index = read("index.json");
    let listed = json(&run(&["scenarios", "--json"]));
    assert_eq!(
        index.as_array().unwrap().len(),
        listed.as_array().unwrap().len()
    );
    for (entry, listed) in index
        .as_array()
        .unwrap()
        .iter()
        .zip(listed.as_array().unwrap())
    {
        let fixture = read(entry["file"].as_str().unwrap());
        assert_eq!(fixture["scenario"], entry["name"]);
        assert_eq!(fixture["expect"]["verdict"], entry["verdict"]);
        // The business result is what the fixture's plaintext says.
        let plaintext = &fixture["expect"]["plaintext"];
        let business_result = match plaintext["code"].as_str() {
            None => Value::Null,
            Some("10000") if plaintext["mobile"].as_str().is_some_and(|m| !m.is_empty()) => {
                json!("phone-number")
            }
            Some("10000") => json!("10000 no-mobile"),
            Some(code) => json!(format!("{code} {}", plaintext["subCode"].as_str().unwrap())),
        };
        assert_eq!(
            entry["business_result"], business_result,
            "{}",
            entry["name"]
        );
        assert_eq!(
            listed["business_result"], business_result,
            "{}",
            entry["name"]
        );
    }
    assert_eq!(
        read("keys.json"),
        json(&run(&["keys", "--seed", "42", "--json"]))
    );
    // A fixture file holds the same object `envelope` prints.
    for name in ["success", "no-user-consent", "user-refused"] {
        let printed = json(&run(&["envelope", "--scenario", name, "--seed", "42"]));
        assert_eq!(read(&format!("{name}.json")), printed, "{name}");
    }
}

#[test]
fn fixtures_reports_an_unwritable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    assert_clear_error(
        &run(&["fixtures", "--out", file.to_str().unwrap()]),
        "a-file",
    );
}

#[test]
fn verify_finds_the_envelope_in_a_request_body_and_in_envelope_output() {
    let fixture = |name: &str| json(&run(&["envelope", "--scenario", name, "--seed", "5"]));
    let ok = fixture("success");
    let args = [
        "verify",
        "--alipay-public-key",
        ok["alipay_public_key"].as_str().unwrap(),
        "--aes-key",
        ok["aes_key"].as_str().unwrap(),
    ];
    let request_body_note = "note: this is the request body my.request sends ({\"response\": \"<envelope>\"}); verifying the envelope inside it";
    let output_note = "note: this is `alipay-sim envelope` output; verifying its payload.response";

    // What the page posts to its backend: {"response": "<envelope text>"}.
    let request_body = ok["payload"].to_string();
    let output = run_with_stdin(&args, &request_body);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("accept: "),
        "{}",
        stdout(&output)
    );
    assert_eq!(stderr(&output).trim_end(), request_body_note);

    // The whole object `envelope` prints, as text and with --json.
    let output = run_with_stdin(&args, &ok.to_string());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("accept: "),
        "{}",
        stdout(&output)
    );
    assert_eq!(stderr(&output).trim_end(), output_note);
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let conclusion: Value =
        serde_json::from_slice(&run_with_stdin(&json_args, &ok.to_string()).stdout).unwrap();
    assert_eq!(conclusion["verdict"], "accept");

    // The inner envelope gets its own verdict.
    let forged = fixture("flip-signature-byte");
    let output = run_with_stdin(&args, &forged["payload"].to_string());
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("reject-signature: "));
    assert!(stderr(&output).contains(request_body_note));

    // An envelope whose response is a ciphertext string, and one without sign, are envelopes.
    for name in ["success", "missing-sign"] {
        let output = run_with_stdin(
            &args,
            fixture(name)["payload"]["response"].as_str().unwrap(),
        );
        assert_eq!(stderr(&output), "", "{name}");
    }

    // Output for a call where nothing reaches the backend has nothing to verify.
    let output = run_with_stdin(&args, &fixture("ide-simulator").to_string());
    assert_eq!(output.status.code(), Some(2));
    assert_clear_error(&output, "no envelope reaches the backend (callback fail)");
}

#[test]
fn an_error_says_its_cause_once() {
    // The state file cannot be written under a regular file: the I/O error is part of the
    // message, and must not be printed a second time as its cause.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(file.join("sub"))
        .env("ALIPAY_SIM_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("serve started with an unwritable data directory");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert_clear_error(&output, "a-file");
    let err = stderr(&output);
    assert_eq!(err.matches("Not a directory").count(), 1, "{err}");
}

#[test]
fn verify_explains_what_a_backend_concludes() {
    let fixture = |name: &str| json(&run(&["envelope", "--scenario", name, "--seed", "5"]));
    let ok = fixture("success");
    let public_key = ok["alipay_public_key"].as_str().unwrap();
    let aes_key = ok["aes_key"].as_str().unwrap();
    let args = [
        "verify",
        "--alipay-public-key",
        public_key,
        "--aes-key",
        aes_key,
    ];
    let envelope = |f: &Value| f["payload"]["response"].as_str().unwrap().to_string();

    let accepted = run_with_stdin(&args, &envelope(&ok));
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    assert!(stdout(&accepted).starts_with("accept: "));
    assert!(stdout(&accepted).contains("\"mobile\":\"13800000000\""));

    for (scenario, verdict, hint) in [
        ("flip-ciphertext-byte", "reject-signature", "altered"),
        (
            "sign-bare-ciphertext",
            "reject-signature",
            "bare ciphertext",
        ),
        ("sha1-under-rsa2", "reject-signature", "SHA-1"),
        ("url-safe-base64", "reject-decrypt", "URL-safe"),
        ("wrong-aes-key", "reject-decrypt", "AES key"),
        ("missing-sign", "unsigned", "no \"sign\""),
    ] {
        let output = run_with_stdin(&args, &envelope(&fixture(scenario)));
        assert_eq!(output.status.code(), Some(1), "{scenario}");
        let text = stdout(&output);
        assert!(
            text.starts_with(&format!("{verdict}: ")),
            "{scenario}: {text}"
        );
        assert!(text.contains(hint), "{scenario}: {text} lacks {hint:?}");
    }

    // Text that is not an envelope at all is bad input: one line on stderr, exit 1.
    let output = run_with_stdin(&args, &envelope(&fixture("non-json-text")));
    assert_eq!(output.status.code(), Some(1));
    assert_clear_error(&output, "reject-parse");
    assert!(stderr(&output).contains("res.response"));

    // The PEM form of the key works too, and --json gives the conclusion as data.
    let keys = json(&run(&["keys", "--seed", "5", "--json"]));
    let pem = keys["alipay_public_key_pem"].as_str().unwrap();
    let output = run_with_stdin(
        &[
            "verify",
            "--json",
            "--alipay-public-key",
            pem,
            "--aes-key",
            aes_key,
        ],
        &envelope(&ok),
    );
    let conclusion = json(&output);
    assert_eq!(conclusion["verdict"], "accept");
    assert_eq!(conclusion["plaintext"], ok["expect"]["plaintext"]);

    // Verifying an RSA2 envelope as RSA names the mismatch.
    let output = run_with_stdin(
        &[
            "verify",
            "--alipay-public-key",
            public_key,
            "--aes-key",
            aes_key,
            "--sign-type",
            "RSA",
        ],
        &envelope(&ok),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("SHA-256 (RSA2)"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_reader_that_stops_early_gets_no_error() {
    // `alipay-sim scenarios | head -1`: the reader has gone before the output is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(BIN)
        .arg("scenarios")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(stderr(&output), "");
    assert!(output.status.success(), "{:?}", output.status);
}
