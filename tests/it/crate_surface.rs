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
