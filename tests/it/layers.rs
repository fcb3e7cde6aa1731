//! The dependency rule, held: every source file's `crate::` paths point down the layers, and no
//! two modules import each other.
//!
//! ```text
//! leaves    crypto  de  keys  oracle  schema        know no platform, no HTTP, no state
//! engine    error  model  rules  outcome  fault     pure: (call, keys, index) -> delivery + oracle
//!           envelope  simulate  scenario
//! shell     store  recording  state                 apps, journal, persistence; no HTTP
//! adapters  access  api  ui  backend  suite  play   HTTP, pages, playback over the shell
//!           server
//! entries   main.rs (the CLI; it uses the library by its name, not crate::)
//! ```
//!
//! `lib.rs` is the guide and only re-exports; a path through one of its re-exports
//! (`crate::Error`) counts as a path to the module that defines the item. A new module must be
//! given its layer here: the test fails on a module it does not know.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LAYERS: [(&str, &[&str]); 4] = [
    ("leaves", &["crypto", "de", "keys", "oracle", "schema"]),
    (
        "engine",
        &[
            "error", "model", "rules", "outcome", "fault", "envelope", "simulate", "scenario",
        ],
    ),
    ("shell", &["store", "recording", "state"]),
    (
        "adapters",
        &["access", "api", "ui", "backend", "suite", "play", "server"],
    ),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
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

/// The first segment of every path after `crate::`, groups included:
/// `crate::{a::b, c}` gives `a` and `c`.
fn first_segments(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            found.extend(ident(rest));
            continue;
        };
        // The items of the group, split at its own commas, not those of nested groups.
        let (mut depth, mut start) = (0, 0);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    found.extend(ident(group[start..i].trim()));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    found.extend(ident(group[start..i].trim()));
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    found
}

fn ident(text: &str) -> Option<String> {
    let name: String = text
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// What `lib.rs` re-exports, by the name used after `crate::`: `Error` -> `error`.
fn re_exports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in code_of(lib).lines() {
        let Some(path) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let path = path.trim_end_matches(';');
        let (module, items) = path.split_once("::").unwrap_or((path, ""));
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = item.rsplit(" as ").next().unwrap_or(item).trim();
            let name = name.rsplit("::").next().unwrap_or(name);
            if !name.is_empty() {
                map.insert(name.to_string(), module.to_string());
            }
        }
    }
    map
}

#[test]
fn every_import_points_down_the_layers_and_none_goes_both_ways() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let exported = re_exports(&lib);
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let Some(module) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == "rs"))
        else {
            continue;
        };
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(layer) = layer_of(module) else {
            problems.push(format!(
                "src/{module}.rs has no layer: give it one in tests/it/layers.rs"
            ));
            continue;
        };
        let code = code_of(&std::fs::read_to_string(&path).unwrap());
        for segment in first_segments(&code) {
            let target = exported.get(&segment).cloned().unwrap_or(segment.clone());
            if target == module || target == "self" {
                continue;
            }
            match layer_of(&target) {
                Some(target_layer) if target_layer > layer => problems.push(format!(
                    "src/{module}.rs ({}) imports crate::{segment} ({}): a lower layer may not \
                     use a higher one",
                    LAYERS[layer].0, LAYERS[target_layer].0
                )),
                Some(_) => {
                    edges.insert((module.to_string(), target));
                }
                None => problems.push(format!(
                    "src/{module}.rs imports crate::{segment}, which is in no layer"
                )),
            }
        }
    }
    for (from, to) in &edges {
        if from < to && edges.contains(&(to.clone(), from.clone())) {
            problems.push(format!(
                "src/{from}.rs and src/{to}.rs import each other: one of them must not"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_parser_reads_grouped_and_nested_imports() {
    let code = "use crate::{a::b, c::{d, e}, F};\nlet x = crate::g::h();\n// crate::ignored\n";
    assert_eq!(first_segments(&code_of(code)), ["a", "c", "F", "g"]);
}
