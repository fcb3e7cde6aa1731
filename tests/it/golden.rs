//! Today's behaviour, pinned: every catalogue scenario's result for seeds 7 and 2026 (the keys
//! published, the callback, the payload's exact bytes, the oracle's expectation) compared with
//! the files under `tests/golden/SEED/NAME.json`.
//!
//! A change of behaviour made on purpose rewrites them in the same commit, so that its diff
//! shows what changed: `UPDATE_GOLDEN=1 cargo test --test it golden`, then say in the commit
//! message which scenarios changed and why.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use alipay_sim::{catalogue, AppKeys};

const SEEDS: [u64; 2] = [7, 2026];

fn golden_dir(seed: u64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(seed.to_string())
}

#[test]
fn every_scenario_gives_exactly_its_pinned_result() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut changed = Vec::new();
    for seed in SEEDS {
        let dir = golden_dir(seed);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
        }
        let keys = AppKeys::for_seed(seed).unwrap();
        let mut expected_files = BTreeSet::new();
        for scenario in catalogue().iter() {
            let fixture = scenario.run(&keys, None).unwrap();
            let text = serde_json::to_string_pretty(&fixture).unwrap() + "\n";
            let file = dir.join(format!("{}.json", scenario.name));
            expected_files.insert(file.file_name().unwrap().to_os_string());
            if update {
                std::fs::write(&file, &text).unwrap();
            } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                changed.push(format!("{seed}/{}", scenario.name));
            }
        }
        // No pinned result of a scenario that is gone.
        let present: BTreeSet<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1", dir.display()))
            .map(|entry| entry.unwrap().file_name())
            .collect();
        for extra in present.difference(&expected_files) {
            changed.push(format!(
                "{seed}/{} (no such scenario)",
                extra.to_string_lossy()
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "results differ from tests/golden for {changed:?}: if the change is meant, rerun with \
         UPDATE_GOLDEN=1 and say in the commit which scenarios changed and why"
    );
}
