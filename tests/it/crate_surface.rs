//! What a Rust test that depends on the library gets: without the default `cli` feature, none
//! of the binary's dependencies.

use std::process::Command;

#[test]
fn the_library_alone_brings_none_of_the_command_lines_dependencies() {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "-e",
            "normal",
            "--no-default-features",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(tree.contains("axum v"), "{tree}");
    for binary_only in ["clap", "anyhow", "mimalloc", "tracing-subscriber", "dirs"] {
        let found: Vec<_> = tree
            .lines()
            .filter(|line| line.split(' ').next() == Some(binary_only))
            .collect();
        assert!(
            found.is_empty(),
            "{binary_only} is a dependency of the library: {found:?}"
        );
    }
}

/// The crate's surface is chosen in `lib.rs`: its layers are private modules, and only the
/// platform-neutral leaves, `playback` (whose `mod.rs` curates its own surface) and the
/// facades of `lib.rs` are public. A new public module is a decision: add it here.
#[test]
fn only_the_chosen_modules_are_public() {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let public: Vec<&str> = lib
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches([';', '{', ' ']))
        .collect();
    assert_eq!(
        public,
        // `wechat` is the WeChat engine, public as a whole (its types are its API).
        ["crypto", "oracle", "playback", "seed", "wechat", "model", "engine", "state", "server"]
    );
    for private in [
        "alipay", "de", "fixture", "http", "keys", "schema", "sim", "ui",
    ] {
        assert!(
            lib.lines().any(|line| line == format!("mod {private};")),
            "{private} is not a private module of lib.rs"
        );
    }
}
