//! The dependency rule, held: every source file's `crate::` paths point down the layers, and no
//! two modules import each other.
//!
//! ```text
//! leaves    certs crypto/ de keys oracle/ schema seed wire  know no platform, no HTTP, no state
//! engine    alipay/                              pure: (call, keys, index) -> delivery + oracle
//! shell     sim/                                 apps, journal, recording, store; no HTTP
//! adapters  http/  ui/  playback/                HTTP, pages, playback over the shell
//! entries   fixture                              the Simulator: uses the shell and the server
//!           main.rs, cli/                        use the library by its name, not crate::
//! ```
//!
//! A module is a top-level file (`keys`), a file of a layer's folder (`alipay/rules`,
//! `crypto/aes`) or a folder's `mod.rs` (`crypto/`, which defines `crate::crypto::CryptoError`).
//! `lib.rs` is the guide and only re-exports; a path through one of its re-exports
//! (`crate::Error`), or through a re-export of a folder's `mod.rs` (`crate::crypto::AesKey`),
//! counts as a path to the module that defines the item. A new top-level file or folder must be
//! given its layer here: the test fails on one it does not know.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, bottom first: top-level files by name, folders with a trailing `/`.
const LAYERS: [(&str, &[&str]); 5] = [
    (
        "leaves",
        &[
            "certs", "crypto/", "de", "keys", "oracle/", "schema", "seed", "wire",
        ],
    ),
    ("engine", &["alipay/", "wechat/"]),
    ("shell", &["sim/"]),
    ("adapters", &["http/", "ui/", "playback/"]),
    ("entries", &["fixture"]),
];

/// Folders whose files are modules of their own.
fn is_folder(name: &str) -> bool {
    LAYERS
        .iter()
        .any(|(_, members)| members.contains(&format!("{name}/").as_str()))
}

fn layer_of(module: &str) -> Option<usize> {
    let folder = module
        .split_once('/')
        .map(|(folder, _)| format!("{folder}/"));
    LAYERS.iter().position(|(_, members)| {
        members.contains(&module) || folder.as_deref().is_some_and(|f| members.contains(&f))
    })
}

/// The module a path after `crate::` names: `alipay::rules::RULES` -> `alipay/rules`; an item
/// of a folder's `mod.rs` names the folder: `crypto::CryptoError` -> `crypto`.
fn module_of(path: &[String]) -> String {
    match path {
        [folder, file, ..] if is_folder(folder) && is_file_of(folder, file) => {
            format!("{folder}/{file}")
        }
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// Whether `src/{folder}/{name}` is a module of its own (a file or a folder of files).
fn is_file_of(folder: &str, name: &str) -> bool {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(folder);
    dir.join(format!("{name}.rs")).is_file() || dir.join(name).is_dir()
}

/// The module an import names, through the re-exports: `Error` -> `alipay/error`,
/// `crypto::AesKey` -> `crypto/aes`, else as [`module_of`] reads it.
fn target_of(import: &[String], exported: &BTreeMap<String, String>) -> String {
    let through = match import {
        [name] => exported.get(name),
        [folder, name, ..] => exported.get(&format!("{folder}::{name}")),
        [] => None,
    };
    through.cloned().unwrap_or_else(|| module_of(import))
}

/// The text without comments, so that prose naming a path is not an import.
fn code_of(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path after `crate::`, groups expanded: `crate::a::{b, c::{d}}` gives `a::b`, `a::c::d`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        expand(rest, Vec::new(), &mut paths);
    }
    paths
}

/// Reads one path (and its groups) at the start of `text`, below `prefix`.
fn expand(text: &str, prefix: Vec<String>, paths: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    let mut text = text;
    loop {
        if let Some(group) = text.strip_prefix('{') {
            return expand_group(group, &path, paths);
        }
        let name: String = text
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        text = &text[name.len()..];
        if !name.is_empty() {
            path.push(name);
        }
        match text.strip_prefix("::") {
            Some(after) => text = after,
            None => {
                if !path.is_empty() {
                    paths.push(path);
                }
                return;
            }
        }
    }
}

/// The items of a `{...}` group (its text after the brace), split at its own commas; the empty
/// item after a trailing comma is none.
fn expand_group(group: &str, prefix: &[String], paths: &mut Vec<Vec<String>>) {
    let (mut depth, mut start) = (0, 0);
    let mut item = |text: &str| {
        if !text.trim().is_empty() {
            expand(text.trim(), prefix.to_vec(), paths);
        }
    };
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                item(&group[start..i]);
                return;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                item(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
}

/// The paths of a source's `pub use` statements, groups expanded.
fn pub_uses(source: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for statement in code_of(source).split(';') {
        let statement = statement
            .trim()
            .lines()
            .skip_while(|line| line.trim().starts_with("#["))
            .collect::<Vec<_>>()
            .join("\n");
        if let Some(rest) = statement.strip_prefix("pub use ") {
            expand(rest.trim(), Vec::new(), &mut paths);
        }
    }
    paths
}

/// What the folders' `mod.rs` and `lib.rs` re-export, by the path used after `crate::`:
/// `crypto::AesKey` -> `crypto/aes` (for `pub use self::aes::AesKey` in `crypto/mod.rs`),
/// `Error` -> `alipay/error`.
fn re_exports(src: &Path) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let folders = LAYERS
        .iter()
        .flat_map(|(_, members)| members.iter())
        .filter_map(|member| member.strip_suffix('/'));
    // The folders first: `lib.rs` may re-export what a folder re-exports.
    for folder in folders {
        let Ok(source) = std::fs::read_to_string(src.join(folder).join("mod.rs")) else {
            continue;
        };
        for path in pub_uses(&source) {
            let path = match path.first().map(String::as_str) {
                Some("crate") => path[1..].to_vec(),
                Some("self") => [vec![folder.to_string()], path[1..].to_vec()].concat(),
                _ => [vec![folder.to_string()], path].concat(),
            };
            if let Some(name) = path.last() {
                let module = target_of(&path, &map);
                map.insert(format!("{folder}::{name}"), module);
            }
        }
    }
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for path in pub_uses(&lib) {
        if let Some(name) = path.last() {
            let module = target_of(&path, &map);
            map.insert(name.clone(), module);
        }
    }
    map
}

/// Every source file of the library, as (module, path); the entries and `mod.rs` files that only
/// declare modules are left out.
fn library_files(src: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            if name == "cli" {
                continue;
            }
            for inner in std::fs::read_dir(&path).unwrap() {
                let inner = inner.unwrap().path();
                if inner.is_dir() {
                    // A module with files of its own (`playback/suite/`): they are that module.
                    let sub = inner.file_name().unwrap().to_string_lossy().to_string();
                    for file in std::fs::read_dir(&inner).unwrap() {
                        files.push((format!("{name}/{sub}"), file.unwrap().path()));
                    }
                } else if inner.extension().is_some_and(|e| e == "rs") {
                    let file = inner.file_stem().unwrap().to_string_lossy().to_string();
                    let module = if file == "mod" {
                        format!("{name}/")
                    } else {
                        format!("{name}/{file}")
                    };
                    files.push((module, inner));
                }
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            files.push((name, path));
        }
    }
    files
}

#[test]
fn every_import_points_down_the_layers_and_none_goes_both_ways() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let exported = re_exports(&src);
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    let mut problems = Vec::new();
    let files = library_files(&src);
    assert!(files.len() > 20, "read only {files:?}");
    for (module, path) in files {
        let shown = path.strip_prefix(&src).unwrap().display().to_string();
        let Some(layer) = layer_of(&module) else {
            problems.push(format!(
                "src/{shown} has no layer: give it one in tests/it/layers.rs"
            ));
            continue;
        };
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        for import in crate_paths(&code) {
            let target = target_of(&import, &exported);
            // A folder's own `mod.rs` (`ui/`) is the module `ui`.
            let target = if is_folder(&target) {
                format!("{target}/")
            } else {
                target
            };
            if target == module || import[0] == "self" {
                continue;
            }
            match layer_of(&target) {
                Some(target_layer) if target_layer > layer => problems.push(format!(
                    "src/{shown} ({}) imports crate::{} ({}): a lower layer may not use a \
                     higher one",
                    LAYERS[layer].0,
                    import.join("::"),
                    LAYERS[target_layer].0
                )),
                Some(_) => {
                    edges.insert((module.clone(), target));
                }
                None => problems.push(format!(
                    "src/{shown} imports crate::{}, which is in no layer",
                    import.join("::")
                )),
            }
        }
    }
    for (from, to) in &edges {
        if from < to && edges.contains(&(to.clone(), from.clone())) {
            problems.push(format!(
                "{from} and {to} import each other: one of them must not"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_parser_reads_grouped_and_nested_imports() {
    let code = "use crate::{a::b, alipay::{rules::X, model}, F};\nlet x = crate::g::h();\n// crate::ignored\n";
    let paths: Vec<String> = crate_paths(&code_of(code))
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        paths,
        ["a::b", "alipay::rules::X", "alipay::model", "F", "g::h"]
    );
    assert_eq!(
        module_of(&["alipay".into(), "rules".into(), "X".into()]),
        "alipay/rules"
    );
    assert_eq!(
        module_of(&["crypto".into(), "CryptoError".into()]),
        "crypto"
    );
    let re_exported: Vec<String> =
        pub_uses("mod aes;\n#[doc(hidden)]\npub use self::aes::{\n    AesKey,\n    BLOCK,\n};\n")
            .iter()
            .map(|p| p.join("::"))
            .collect();
    assert_eq!(re_exported, ["self::aes::AesKey", "self::aes::BLOCK"]);
    let exported = re_exports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert_eq!(exported["crypto::AesKey"], "crypto/aes");
    assert_eq!(exported["SignType"], "crypto/rsa");
    assert_eq!(exported["Error"], "alipay/error");
}
