//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_alipay-sim");

pub fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Installs the pinned official SDKs into ignored folders (quick when already done).
pub fn set_up_sdks() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let status = Command::new("bash")
            .arg(interop_dir().join("setup.sh"))
            .status()
            .expect("bash runs");
        assert!(
            status.success(),
            "tests/interop/setup.sh failed: it needs node, npm and python3 with venv"
        );
    });
}

/// Runs a command that prints JSON, and parses it.
pub fn run_json(command: &mut Command) -> Value {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{command:?} printed no JSON: {e}"))
}

/// The verdicts an official SDK reaches on a directory of fixture files, by scenario.
/// `sdk` is `node` (npm alipay-sdk) or `python` (PyPI alipay-sdk-python).
pub fn sdk_verdicts(sdk: &str, dir: &Path) -> BTreeMap<String, Value> {
    set_up_sdks();
    let mut command = match sdk {
        "node" => {
            let mut c = Command::new("node");
            c.arg(interop_dir().join("node/check.mjs"));
            c
        }
        "python" => {
            let mut c = Command::new(interop_dir().join("python/.venv/bin/python"));
            c.arg(interop_dir().join("python/check.py"));
            c
        }
        other => panic!("no SDK checker {other}"),
    };
    let rows = run_json(command.arg(dir));
    rows.as_array()
        .expect("an array")
        .iter()
        .map(|row| (row["scenario"].as_str().unwrap().to_string(), row.clone()))
        .collect()
}

/// An ephemeral `alipay-sim serve` on a free port, killed when dropped.
pub struct EphemeralServer {
    child: Child,
    pub url: String,
}

impl EphemeralServer {
    pub fn start() -> EphemeralServer {
        let mut child = Command::new(BIN)
            .args(["serve", "--ephemeral", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first_line)
            .unwrap();
        let url = first_line
            .trim()
            .strip_prefix("alipay-sim listening on ")
            .unwrap_or_else(|| panic!("no URL in the banner's first line: {first_line:?}"))
            .to_string();
        EphemeralServer { child, url }
    }
}

impl Drop for EphemeralServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
