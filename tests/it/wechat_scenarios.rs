//! The WeChat catalogue (`scenarios/wechat/`): every scenario reaches the verdict and rule its
//! file declares, and its whole run (each step's request and answer, the conclusion) is pinned
//! for seeds 7 and 2026 under `tests/golden/wechat/SEED/NAME.json`. A change made on purpose
//! rewrites them with `UPDATE_GOLDEN=1 cargo test --test it wechat_scenarios`, and the commit
//! says which scenarios changed and why.

use std::collections::BTreeSet;
use std::path::Path;

use alipay_sim::wechat::keys::WechatKeys;
use alipay_sim::wechat::scenario::catalogue;

#[test]
fn every_scenario_reaches_its_declared_conclusion() {
    let keys = WechatKeys::for_seed(7);
    assert!(catalogue().len() >= 38, "the spec's catalogue has 38 rows");
    let mut wrong = Vec::new();
    for scenario in catalogue() {
        let run = scenario.run(&keys);
        let got = (run.expect.verdict, run.expect.cause.id().to_string());
        if got != (scenario.expect.verdict, scenario.expect.rule.clone()) {
            wrong.push(format!(
                "{}: got {got:?} ({})",
                scenario.name, run.expect.reason
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn every_declared_rule_is_one_the_engine_knows() {
    for scenario in catalogue() {
        assert!(
            alipay_sim::wechat::rules::cause(&scenario.expect.rule).is_some(),
            "{}: {}",
            scenario.name,
            scenario.expect.rule
        );
    }
}

#[test]
fn every_scenario_gives_exactly_its_pinned_run() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut changed = Vec::new();
    for seed in [7u64, 2026] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/wechat/{seed}"));
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
        }
        let keys = WechatKeys::for_seed(seed);
        let mut names = BTreeSet::new();
        for scenario in catalogue() {
            let text = serde_json::to_string_pretty(&scenario.run(&keys)).unwrap() + "\n";
            let file = dir.join(format!("{}.json", scenario.name));
            names.insert(file.file_name().unwrap().to_os_string());
            if update {
                std::fs::write(&file, &text).unwrap();
            } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
                changed.push(format!("{seed}/{}", scenario.name));
            }
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name();
            if !names.contains(&name) {
                changed.push(format!(
                    "{seed}/{} (no such scenario)",
                    name.to_string_lossy()
                ));
            }
        }
    }
    assert!(
        changed.is_empty(),
        "runs differ from tests/golden/wechat for {changed:?}: if meant, rerun with UPDATE_GOLDEN=1 and say which changed and why"
    );
}

#[test]
fn the_catalogue_reaches_every_verdict_a_wechat_backend_can() {
    use alipay_sim::Verdict::*;
    let keys = WechatKeys::for_seed(0);
    let reached: BTreeSet<String> = catalogue()
        .iter()
        .map(|s| s.run(&keys).expect.verdict.to_string())
        .collect();
    for verdict in [
        Accept,
        RejectDecrypt,
        RejectParse,
        RejectForeign,
        FrontEnd,
        PlatformRefused,
    ] {
        assert!(
            reached.contains(verdict.as_str()),
            "no scenario reaches {verdict}"
        );
    }
}
