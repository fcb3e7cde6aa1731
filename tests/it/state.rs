//! The shared state: apps as namespaces, partial updates, the journal's bounds; and the state
//! file across versions: a file written by an earlier release loads as it was, and is written
//! back in the current format, with each app tagged by its platform.

use std::path::Path;

use alipay_sim::state::{NewApp, PhoneNumberRequest, SimState, StateConfig, JOURNAL_CAPACITY};
use alipay_sim::AppKeys;
use serde_json::{json, Value};

/// Written by alipay-sim at 51a9c3f (format 1, before apps were tagged): two apps made with the
/// API, one with a fault, one with a different console and a remembered backend.
const VERSION_1: &str = include_str!("data/state-v1.json");

fn open(dir: &Path) -> Result<SimState, String> {
    SimState::open(StateConfig {
        seed: Some(1),
        data_dir: Some(dir.to_path_buf()),
    })
    .map_err(|e| e.to_string())
}

fn stored(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).unwrap()).unwrap()
}

#[test]
fn a_state_file_of_format_1_loads_as_it_was_and_is_saved_as_format_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("state.json"), VERSION_1).unwrap();
    let old: Value = serde_json::from_str(VERSION_1).unwrap();

    let state = open(dir.path()).unwrap();
    let apps = state.list_apps();
    assert_eq!(apps.len(), 2);
    let first = state.app("2021887493235157").unwrap();
    assert_eq!(
        first.config.fault.map(|f| f.to_string()).as_deref(),
        Some("flip-ciphertext-byte")
    );
    let second = state.app("second").unwrap();
    // Every setting the file holds is kept; the removed `version_thresholds` ("current") is
    // dropped, and settings added since take their defaults.
    let loaded = serde_json::to_value(&second.config).unwrap();
    for (section, value) in old["apps"][1]["config"].as_object().unwrap() {
        let Some(fields) = value.as_object() else {
            assert_eq!(&loaded[section], value, "{section}");
            continue;
        };
        for (field, value) in fields {
            if field == "version_thresholds" {
                assert!(loaded[section].get(field).is_none());
            } else {
                assert_eq!(&loaded[section][field], value, "{section}.{field}");
            }
        }
    }
    assert_eq!(second.keys.aes_key, old["apps"][1]["aes_key"]);
    let backend = state.backend_target("second").unwrap();
    assert_eq!(backend.url, "http://127.0.0.1:9/phone");
    // The keys are the file's: the first app's are those of `alipay-sim keys --seed 7`.
    let seed_7 = alipay_sim::AppKeys::for_seed(7).unwrap().published();
    assert_eq!(first.keys.alipay_public_key, seed_7.alipay_public_key);
    // Loading alone rewrites nothing.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("state.json")).unwrap(),
        VERSION_1
    );
    let call = state
        .get_phone_number(
            "second",
            None,
            // Without the button: an allow would record a grant, and save.
            PhoneNumberRequest {
                action: Some(alipay_sim::model::ActionKind::NoConsent),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(call.delivery.expect.plaintext.unwrap()["code"], "40006");

    // The next change writes format 2: the same apps, each tagged, nothing else changed but
    // the settings added since.
    state
        .patch_app("second", json!({"console": {"gateway": false}}))
        .unwrap();
    let new = stored(dir.path());
    assert_eq!(new["format_version"], 2);
    assert_eq!(new["apps_created"], old["apps_created"]);
    let mut expected = old["apps"].clone();
    expected[1]["config"]["console"]["gateway"] = json!(false);
    // Saved again: without the removed `version_thresholds`, with the settings added since.
    let defaults = serde_json::to_value(alipay_sim::Call::default()).unwrap();
    for app in expected.as_array_mut().unwrap() {
        for section in ["console", "platform", "user"] {
            let fields = app["config"][section].as_object_mut().unwrap();
            fields.remove("version_thresholds");
            for (field, value) in defaults[section].as_object().unwrap() {
                fields.entry(field.clone()).or_insert(value.clone());
            }
        }
    }
    for (n, app) in new["apps"].as_array().unwrap().iter().enumerate() {
        let mut app = app.clone();
        assert_eq!(
            app.as_object_mut().unwrap().remove("platform"),
            Some(json!("alipay"))
        );
        assert_eq!(app, expected[n], "apps[{n}]");
    }
    let before = state.list_apps();
    drop(state);
    let after = open(dir.path()).unwrap().list_apps();
    let settings = |apps: &[alipay_sim::state::AppView]| -> Vec<_> {
        apps.iter()
            .map(|a| {
                (
                    a.app_id.clone(),
                    a.config.clone(),
                    a.keys.clone(),
                    a.created_at.clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        settings(&after),
        settings(&before),
        "format 2 reads back what it wrote"
    );
}

#[test]
fn format_2_names_each_app_platform_and_refuses_what_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()).unwrap());
    let good = stored(dir.path());
    assert_eq!(good["format_version"], 2);
    assert_eq!(good["apps"][0]["platform"], "alipay");

    let cases = [
        (
            "/apps/0/platform",
            json!("douyin"),
            "apps[0].platform: \"douyin\" is not a platform",
        ),
        (
            "/apps/0/platform",
            json!(7),
            "apps[0].platform: expected one of [\"alipay\", \"wechat\"]",
        ),
        (
            "/format_version",
            json!(3),
            "format_version 3 is not one this alipay-sim reads (1 or 2)",
        ),
        (
            "/apps/0/config/console/account",
            json!("shop"),
            "apps[0].config.console.account: unknown variant `shop`",
        ),
    ];
    for (pointer, value, message) in cases {
        let mut state = good.clone();
        *state.pointer_mut(pointer).unwrap() = value;
        let text = serde_json::to_string(&state).unwrap();
        std::fs::write(dir.path().join("state.json"), &text).unwrap();
        let error = open(dir.path()).err().expect("refused");
        assert!(error.contains(message), "{pointer}: {error}");
        assert!(error.contains("state.json"), "{error}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("state.json")).unwrap(),
            text
        );
    }

    let mut untagged = good.clone();
    untagged["apps"][0]
        .as_object_mut()
        .unwrap()
        .remove("platform");
    std::fs::write(dir.path().join("state.json"), untagged.to_string()).unwrap();
    let error = open(dir.path()).err().expect("refused");
    assert!(
        error.contains("apps[0]: missing field `platform`"),
        "{error}"
    );
}

fn state() -> SimState {
    SimState::open(StateConfig {
        seed: Some(3),
        data_dir: None,
    })
    .unwrap()
}

#[test]
fn starts_with_one_app_whose_keys_are_the_seeds() {
    let state = state();
    let apps = state.list_apps();
    assert_eq!(apps.len(), 1);
    assert_eq!(
        apps[0].keys.alipay_public_key,
        AppKeys::for_seed(3).unwrap().published().alipay_public_key
    );
    assert_eq!(apps[0].next_outcome.rule, "success");
}

#[test]
fn patches_change_only_what_they_name() {
    let state = state();
    let id = state.list_apps()[0].app_id.clone();
    let view = state
        .patch_app(&id, json!({"console": {"gateway": false}}))
        .unwrap();
    assert!(!view.config.console.gateway);
    assert_eq!(
        view.config.console.signing,
        alipay_sim::model::Signing::Rsa2
    );
    assert_eq!(view.next_outcome.rule, "success");
    let view = state
        .patch_app(
            &id,
            json!({"console": {"isv": {"isv_app_id": "2021"}}, "fault": "missing-sign"}),
        )
        .unwrap();
    assert!(view.config.console.isv.is_some() && !view.config.console.gateway);
    let view = state
        .patch_app(&id, json!({"console": {"isv": null}, "fault": null}))
        .unwrap();
    assert!(view.config.console.isv.is_none() && view.config.fault.is_none());
    let err = state
        .patch_app(&id, json!({"console": {"gatway": true}}))
        .unwrap_err();
    assert!(err.to_string().contains("gatway"), "{err}");
    assert!(
        !state.app(&id).unwrap().config.console.gateway,
        "a refused patch changes nothing"
    );
}

#[test]
fn apps_are_isolated() {
    let state = state();
    let a = state.create_app(NewApp::default()).unwrap().app_id;
    let b = state.create_app(NewApp::default()).unwrap().app_id;
    assert_ne!(a, b);
    state
        .patch_app(&a, json!({"console": {"phone_application": "pending"}}))
        .unwrap();
    state
        .get_phone_number(&a, None, PhoneNumberRequest::default())
        .unwrap();
    let fixture = state
        .get_phone_number(&b, None, PhoneNumberRequest::default())
        .unwrap();
    assert_eq!(fixture.delivery.expect.cause, "success");
    assert_eq!(state.journal(Some(&a), 10).len(), 1);
    state.reset_app(&a).unwrap();
    assert_eq!(state.journal(Some(&b), 10).len(), 1);
    assert_eq!(state.app(&a).unwrap().next_outcome.rule, "success");
}

#[test]
fn the_journal_is_bounded_and_newest_first() {
    let state = state();
    let id = state.list_apps()[0].app_id.clone();
    for _ in 0..JOURNAL_CAPACITY + 5 {
        state
            .get_phone_number(&id, Some("ide-simulator"), PhoneNumberRequest::default())
            .unwrap();
    }
    let entries = state.journal(None, usize::MAX);
    assert_eq!(entries.len(), JOURNAL_CAPACITY);
    assert!(entries[0].id > entries[1].id);
}

#[test]
fn the_applied_scenario_is_remembered_until_the_settings_are_changed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).unwrap();
    let id = state.list_apps()[0].app_id.clone();
    assert_eq!(state.applied_scenario(&id).unwrap(), None);
    state
        .apply_scenario(&id, "phone-application-pending")
        .unwrap();
    // Kept across a restart, and by the user's allow on the sheet.
    drop(state);
    let state = open(dir.path()).unwrap();
    let named = Some("phone-application-pending".to_string());
    assert_eq!(state.applied_scenario(&id).unwrap(), named);
    state
        .get_phone_number(&id, None, PhoneNumberRequest::default())
        .unwrap();
    assert_eq!(state.applied_scenario(&id).unwrap(), named);
    // The same settings saved again keep it; a change forgets it.
    let config = state.app(&id).unwrap().config;
    state.set_config(&id, config.clone()).unwrap();
    assert_eq!(state.applied_scenario(&id).unwrap(), named);
    state
        .patch_app(&id, json!({"user": {"mobile": "13900000000"}}))
        .unwrap();
    assert_eq!(state.applied_scenario(&id).unwrap(), None);
    state.apply_scenario(&id, "success").unwrap();
    state.reset_app(&id).unwrap();
    assert_eq!(state.applied_scenario(&id).unwrap(), None);
    // A file without the field (an app that never had a scenario) has none.
    assert!(stored(dir.path())["apps"][0].get("scenario").is_none());
}

#[test]
fn a_dry_run_of_other_settings_saves_nothing_and_counts_no_call() {
    let state = state();
    let id = state.list_apps()[0].app_id.clone();
    let mut config = state.app(&id).unwrap().config;
    config.console.phone_application = alipay_sim::model::Application::Pending;
    let fixture = state.dry_run_of(&id, &config).unwrap();
    assert_eq!(
        fixture.delivery.expect.cause.id(),
        "console.phone-application-not-approved"
    );
    let app = state.app(&id).unwrap();
    assert_eq!(app.calls, 0);
    assert_eq!(app.config, alipay_sim::Call::default());
    config.platform.busy = alipay_sim::model::Busy::Probability(2.0);
    let error = state.dry_run_of(&id, &config).unwrap_err().to_string();
    assert!(error.contains("platform.busy.probability"), "{error}");
}
