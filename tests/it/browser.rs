//! The web UI in a real browser: Debian's headless Chromium driven by playwright-core
//! (`tests/browser/run.mjs`), against the real binary. `tests/browser/setup.sh` installs
//! Chromium (as root) and the npm packages.

use crate::common;

use std::path::Path;
use std::process::Command;

#[test]
fn the_web_ui_works_in_headless_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let status = Command::new("bash")
        .arg(dir.join("setup.sh"))
        .status()
        .unwrap();
    assert!(status.success(), "tests/browser/setup.sh failed");

    let server = common::Server::ephemeral();
    let output = Command::new("node")
        .arg(dir.join("run.mjs"))
        .arg(&server.url)
        .output()
        .expect("node runs");
    drop(server);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every test the file defines ran and passed (one line per test, `  async 'name'(page) {`).
    let defined = std::fs::read_to_string(dir.join("run.mjs"))
        .unwrap()
        .lines()
        .filter(|line| line.trim_start().starts_with("async '"))
        .count();
    assert!(defined >= 30, "run.mjs defines {defined} tests");
    assert!(
        stdout.contains(&format!("{defined} passed, 0 failed")),
        "{defined} tests defined:\n{stdout}"
    );
}
