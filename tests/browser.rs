//! The web UI in a real browser: Debian's headless Chromium driven by playwright-core
//! (`tests/browser/run.mjs`), against the real binary. `tests/browser/setup.sh` installs
//! Chromium (as root) and the npm packages.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn the_web_ui_works_in_headless_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let status = Command::new("bash")
        .arg(dir.join("setup.sh"))
        .status()
        .unwrap();
    assert!(status.success(), "tests/browser/setup.sh failed");

    let mut server = Command::new(common::BIN)
        .args(["serve", "--ephemeral", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let base = first_line
        .trim()
        .strip_prefix("alipay-sim listening on ")
        .expect("the banner's URL")
        .to_string();

    let output = Command::new("node")
        .arg(dir.join("run.mjs"))
        .arg(&base)
        .output()
        .expect("node runs");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("5 passed, 0 failed"), "{stdout}");
}
