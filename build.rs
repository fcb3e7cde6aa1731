//! Embeds every `scenarios/*.json` file (the catalogue) and `scenarios/suites/*.json` file (the
//! built-in suites) in the library, so the binary carries them.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not when it is compiled: one compiled script may serve several
    // checkouts sharing a target directory.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let scenarios = Path::new(&manifest_dir).join("scenarios");
    // A directory here is scanned recursively, so this covers scenarios/suites/ too.
    println!("cargo:rerun-if-changed={}", scenarios.display());
    embed(&scenarios, "scenario_files.rs");
    embed(&scenarios.join("suites"), "suite_files.rs");
    embed(&scenarios.join("wechat"), "wechat_scenario_files.rs");
    embed(&scenarios.join("wechat/suites"), "wechat_suite_files.rs");
}

/// Writes OUT_DIR/`out` with `FILES: &[(file name, contents)]` for each `*.json` in `dir`.
fn embed(dir: &Path, out: &str) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    let mut code = String::from(
        "/// Every embedded file: (file name, contents).\npub static FILES: &[(&str, &str)] = &[\n",
    );
    for path in &files {
        let name = path.file_name().unwrap().to_str().expect("UTF-8 file name");
        writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join(out);
    std::fs::write(out, code).expect("OUT_DIR is writable");
}
