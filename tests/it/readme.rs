//! The README works as written: its curl session runs, twice, against one server, and its Rust
//! examples are tests of this suite, word for word.

use crate::common;

use std::process::Command;

const README: &str = include_str!("../../README.md");

/// Every fenced block of `language`.
fn blocks(language: &str) -> Vec<&'static str> {
    let fence = format!("```{language}\n");
    README
        .split(&fence)
        .skip(1)
        .map(|rest| &rest[..rest.find("```").expect("a closed block")])
        .collect()
}

#[test]
fn the_curl_session_works_as_written() {
    let marker =
        "<!-- curl-session: tests/it/readme.rs runs this block twice against one server -->\n```sh\n";
    let start = README
        .find(marker)
        .expect("the README marks its curl session")
        + marker.len();
    let session = &README[start..start + README[start..].find("```").unwrap()];
    assert!(session.starts_with("BASE=http://127.0.0.1:8086\n"));

    let server = common::Server::ephemeral();
    let base = &server.url;

    let script = session.replacen("BASE=http://127.0.0.1:8086", &format!("BASE={base}"), 1);
    // Twice against the same server: a reader runs the session again, and must get the same.
    for run in ["first", "second"] {
        let output = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .output()
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "the {run} session failed (it needs curl and jq): {}\n{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        for expected in [
            "\"app_id\": \"demo-app\"",
            "40006: phone-number application not approved",
            "\"verdict\": \"accept\"",
            "\"mobile\": \"13912345678\"",
            "\"sign_type\": \"RSA2\"",
            "\"rule\": \"console.phone-application-not-approved\"",
        ] {
            assert!(
                stdout.contains(expected),
                "the {run} session's output lacks {expected}:\n{stdout}"
            );
        }
        assert!(
            !stdout.lines().any(|line| line.trim() == "null"),
            "the {run} session printed null:\n{stdout}"
        );
    }
    drop(server);
}

#[test]
fn the_wechat_curl_session_works_as_written() {
    let marker = "<!-- wechat-curl-session: tests/it/readme.rs runs this block against a server -->\n```sh\n";
    let start = README
        .find(marker)
        .expect("the README marks its WeChat curl session")
        + marker.len();
    let session = &README[start..start + README[start..].find("```").unwrap()];
    let server = common::Server::ephemeral();
    let script = session.replacen(
        "BASE=http://127.0.0.1:8086",
        &format!("BASE={}", server.url),
        1,
    );
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The session key, then 40163 for the code used again, the tap, the number, 42001.
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    for expected in [
        "\"openid\": \"o",
        "\"errMsg\": \"getPhoneNumber:ok\",",
        "\"verdict\": \"accept\"",
        "\"12066600001\"",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(expected)),
            "no {expected} in:\n{stdout}"
        );
    }
    assert!(
        lines.contains(&"40163") && lines.contains(&"42001"),
        "{stdout}"
    );
}

#[test]
fn the_rust_examples_are_tests_of_this_suite() {
    let files = [
        include_str!("readme_example_simulator.rs"),
        include_str!("readme_example_wechat.rs"),
        include_str!("readme_example_library.rs"),
    ];
    let examples = blocks("rust");
    assert_eq!(examples.len(), files.len());
    for (example, file) in examples.into_iter().zip(files) {
        let code = file.split_once("\n\n").expect("a header, then the code").1;
        assert_eq!(
            example, code,
            "the README example differs from its test file"
        );
    }
}

#[test]
fn the_example_suite_is_valid() {
    let suite = blocks("json")
        .into_iter()
        .find(|block| block.contains("\"name\": \"checkout-login\""))
        .expect("the README shows an example suite");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checkout-login.json");
    std::fs::write(&path, suite).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Every step prepares; the run then stops only because nothing listens there.
    let output = Command::new(common::BIN)
        .args(["play", path.to_str().unwrap(), "--backend"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .env("TEST_USER_TOKEN", "t")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("cannot reach"), "{stderr}");
}

#[test]
fn the_files_the_readme_steps_write_are_ignored_by_git() {
    // The playback steps run in this repository (they start tests/backend/reference.mjs): what
    // they write must not show up as untracked files.
    let mut written = Vec::new();
    for block in blocks("sh") {
        for line in block.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(2) {
                if (pair[0] == ">" || pair[0] == "--junit") && !pair[1].starts_with("/dev/") {
                    written.push(pair[1].to_string());
                }
            }
        }
    }
    assert!(
        written.iter().any(|f| f == "keys.json"),
        "the README no longer writes keys.json: {written:?}"
    );
    for file in written {
        let status = Command::new("git")
            .args(["check-ignore", "--quiet", "--no-index", &file])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("git runs");
        assert!(
            status.success(),
            "the README's steps write {file}, which git does not ignore"
        );
    }
}
