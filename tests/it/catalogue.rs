//! The scenario catalogue: every scenario produces the verdict and rule its file declares, the
//! strict verifier reaches the same verdict from the bytes alone, and the catalogue covers every
//! rule, fault, code and sub-code of the spec.

use std::collections::BTreeSet;

use alipay_sim::crypto::{AesKey, PublicKey};
use alipay_sim::engine::Callback;
use alipay_sim::engine::RULES;
use alipay_sim::oracle::{verify, BackendKeys};
use alipay_sim::{catalogue, AppKeys, Fault, Verdict};
use strum::IntoEnumIterator;

const SEEDS: [u64; 3] = [0, 1, 2026];

#[test]
fn every_scenario_produces_its_declared_verdict_and_rule() {
    for seed in SEEDS {
        let keys = AppKeys::for_seed(seed).unwrap();
        for scenario in catalogue().iter() {
            let fixture = scenario
                .run(&keys, None)
                .unwrap_or_else(|e| panic!("{}: {e}", scenario.name));
            let expect = &fixture.delivery.expect;
            assert_eq!(
                (expect.verdict, expect.cause.id()),
                (scenario.expect.verdict, scenario.expect.cause.id()),
                "seed {seed}, scenario {}: {}",
                scenario.name,
                expect.reason
            );
            assert_eq!(
                expect.doc_policy.as_ref().map(|view| view.verdict),
                scenario.expect.doc_policy,
                "seed {seed}, scenario {}: the doc-following backend's verdict",
                scenario.name
            );
            assert_eq!(
                expect.plaintext.is_some(),
                expect.verdict == Verdict::Accept
            );
            assert_eq!(
                fixture.delivery.callback == Callback::Success,
                expect.verdict != Verdict::FrontEnd,
                "{}",
                scenario.name
            );
        }
    }
}

#[test]
fn the_strict_verifier_agrees_with_every_prediction() {
    for seed in SEEDS {
        let keys = AppKeys::for_seed(seed).unwrap();
        for scenario in catalogue().iter() {
            let delivery = scenario.run(&keys, None).unwrap().delivery;
            let Some(envelope) = delivery.envelope() else {
                continue;
            };
            // The backend is configured with what the fixture publishes; an app without a
            // signing method still has the simulator's key, which must not matter.
            let backend = BackendKeys {
                alipay_public_key: PublicKey::parse(
                    delivery
                        .alipay_public_key
                        .as_deref()
                        .unwrap_or(&keys.published().alipay_public_key),
                )
                .unwrap(),
                aes_key: delivery
                    .aes_key
                    .as_deref()
                    .map(|k| AesKey::from_base64(k).unwrap()),
                sign_type: delivery.sign_type.unwrap_or(alipay_sim::SignType::Rsa2),
            };
            let conclusion = verify(envelope, &backend);
            assert_eq!(
                conclusion.verdict, delivery.expect.verdict,
                "seed {seed}, {}: verifier says {}",
                scenario.name, conclusion.reason
            );
            assert_eq!(
                conclusion.plaintext, delivery.expect.plaintext,
                "{}",
                scenario.name
            );
        }
    }
}

#[test]
fn the_catalogue_covers_every_rule_fault_and_verdict() {
    let scenarios: Vec<_> = catalogue().iter().collect();
    assert!(scenarios.len() >= 25);
    let keys = AppKeys::for_seed(0).unwrap();
    let fixtures: Vec<_> = scenarios
        .iter()
        .map(|s| s.run(&keys, None).unwrap())
        .collect();

    let content_rules: BTreeSet<String> = scenarios
        .iter()
        .map(|s| {
            alipay_sim::engine::evaluate(&s.call(), 0.5)
                .rule()
                .id
                .to_string()
        })
        .collect();
    let declared_rules: BTreeSet<&str> = scenarios.iter().map(|s| s.expect.cause.id()).collect();
    for rule in RULES {
        assert!(
            content_rules.contains(rule.id) || declared_rules.contains(rule.id),
            "no scenario exercises rule {}",
            rule.id
        );
    }
    for fault in Fault::iter() {
        assert!(
            scenarios.iter().any(|s| s.fault == Some(fault)),
            "no scenario for fault {fault}"
        );
    }
    // reject-foreign and platform-refused are WeChat's (tests/it/wechat_scenarios.rs).
    for verdict in
        Verdict::iter().filter(|v| !matches!(v, Verdict::RejectForeign | Verdict::PlatformRefused))
    {
        assert!(
            fixtures
                .iter()
                .any(|f| f.delivery.expect.verdict == verdict),
            "no {verdict}"
        );
    }
    for callback in [
        Callback::Success,
        Callback::Fail,
        Callback::OnError,
        Callback::Unsupported,
    ] {
        assert!(
            fixtures.iter().any(|f| f.delivery.callback == callback),
            "no {callback:?}"
        );
    }

    // Every code and sub-code of spec §3, as it reaches a backend (accepted, or inside an
    // unsigned envelope).
    let plaintexts: BTreeSet<(String, String)> = scenarios
        .iter()
        .filter_map(|s| match alipay_sim::engine::evaluate(&s.call(), 0.5) {
            alipay_sim::engine::Outcome::Envelope(plan) => Some((
                plan.plaintext.code.clone(),
                plan.plaintext.sub_code.clone().unwrap_or_default(),
            )),
            _ => None,
        })
        .collect();
    for (code, sub_code) in [
        ("10000", ""),
        ("20000", "aop.unknow-error"),
        ("40001", "isv.missing-default-signature-type"),
        ("40001", "isv.missing-encrypt-key"),
        ("40002", "isv.invalid-encrypt"),
        ("40003", "isv.invalid-auth-relations"),
        ("40006", "isv.insufficient-isv-permissions"),
    ] {
        assert!(
            plaintexts.contains(&(code.to_string(), sub_code.to_string())),
            "no scenario yields {code} {sub_code}"
        );
    }
    // Mobiles of every kind, an RSA (SHA-1) app, ISV with and without isvAppId.
    let mobiles: BTreeSet<_> = fixtures
        .iter()
        .filter_map(|f| {
            f.delivery
                .expect
                .plaintext
                .as_ref()?
                .get("mobile")?
                .as_str()
                .map(String::from)
        })
        .collect();
    for mobile in ["13800000000", "1-1234432112", ""] {
        assert!(mobiles.contains(mobile), "no mobile {mobile:?}");
    }
    assert!(fixtures
        .iter()
        .any(|f| f.delivery.sign_type == Some(alipay_sim::SignType::Rsa)
            && f.delivery.expect.verdict == Verdict::Accept));
    assert!(scenarios
        .iter()
        .any(|s| s.console.isv.is_some() && s.action.isv_app_id.is_some()));
    assert!(scenarios
        .iter()
        .any(|s| s.console.isv.is_some() && s.action.isv_app_id.is_none()));
}

#[test]
fn the_same_seed_gives_identical_fixtures_and_other_seeds_differ() {
    let a = AppKeys::generate(9).unwrap();
    let b = AppKeys::generate(9).unwrap();
    let c = AppKeys::for_seed(10).unwrap();
    for scenario in catalogue().iter() {
        let fa = scenario.run(&a, None).unwrap();
        assert_eq!(fa, scenario.run(&b, None).unwrap(), "{}", scenario.name);
        // Only signed or encrypted envelopes depend on the keys.
        let keyed = fa
            .delivery
            .envelope()
            .is_some_and(|e| e.contains("\"sign\"") || e.starts_with("{\"response\":\""));
        if keyed {
            assert_ne!(
                fa.delivery.payload,
                scenario.run(&c, None).unwrap().delivery.payload,
                "{}",
                scenario.name
            );
        }
    }
}

#[test]
fn published_keys_never_include_the_wrong_signing_key() {
    let keys = AppKeys::for_seed(0).unwrap();
    let wrong = keys.wrong_signing_key().unwrap().public_key().to_base64();
    let fixture = catalogue()
        .get("wrong-signing-key")
        .unwrap()
        .run(&keys, None)
        .unwrap();
    assert_eq!(
        fixture.delivery.alipay_public_key.as_deref(),
        Some(keys.published().alipay_public_key.as_str())
    );
    assert!(!serde_json::to_string(&fixture).unwrap().contains(&wrong));
}

#[test]
fn busy_probability_is_repeatable_and_roughly_right() {
    let keys = AppKeys::for_seed(0).unwrap();
    let mut call = alipay_sim::Call::default();
    call.platform.busy = alipay_sim::model::Busy::Probability(0.25);
    let run = || -> Vec<String> {
        (0..400)
            .map(|i| {
                alipay_sim::get_phone_number(&call, &keys, i)
                    .unwrap()
                    .expect
                    .cause
                    .to_string()
            })
            .collect()
    };
    let first = run();
    assert_eq!(first, run());
    let busy = first.iter().filter(|r| *r == "platform.busy").count();
    assert!((60..=140).contains(&busy), "{busy} of 400 busy at p = 0.25");

    call.platform.busy = alipay_sim::model::Busy::Probability(1.5);
    let err = alipay_sim::get_phone_number(&call, &keys, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("platform.busy.probability"), "{err}");
}

#[test]
fn faults_that_cannot_apply_say_why() {
    let keys = AppKeys::for_seed(0).unwrap();
    let mut call = alipay_sim::Call {
        fault: Some(Fault::ReorderPlainObject),
        ..Default::default()
    };
    let err = alipay_sim::get_phone_number(&call, &keys, 0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reorder-plain-object") && err.contains("plain"),
        "{err}"
    );
    call.fault = Some(Fault::MissingSign);
    call.user.environment = alipay_sim::model::Environment::IdeSimulator;
    let err = alipay_sim::get_phone_number(&call, &keys, 0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("front-end"), "{err}");
}
