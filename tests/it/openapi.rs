//! The OpenAPI document is generated from the handlers and the types they take and give
//! (`api::openapi_document`), and committed as `src/http/openapi.json`, which the server serves: a
//! change of the API shows in the document's diff. After a change on purpose, regenerate it
//! with `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it with the change.

use std::path::Path;

use alipay_sim::server::api;
use alipay_sim::state::{SimState, StateConfig};
use serde_json::Value;

use crate::common::{self, check_response};

#[test]
fn the_committed_openapi_document_is_the_generated_one() {
    let generated = api::openapi_json();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(generated.lines().count()));
        panic!(
            "src/http/openapi.json is not what the code generates (first difference at line {}: \
             committed {:?}, generated {:?}); regenerate it with \
             `UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end>"),
            generated.lines().nth(line).unwrap_or("<end>"),
        );
    }
    assert_eq!(
        api::OPENAPI,
        committed,
        "the binary serves the file as it was when it was built"
    );
}

/// The check the API's tests make of every answer: a field the document omits, a required one
/// missing, or a value outside its schema all fail it.
#[tokio::test]
async fn answers_are_checked_field_by_field_against_the_document() {
    let state = SimState::open(StateConfig {
        seed: Some(1),
        data_dir: None,
    })
    .unwrap();
    let app = state.list_apps()[0].app_id.clone();
    state
        .get_phone_number(&app, None, Default::default())
        .unwrap();
    let (_, _, bytes) = common::get_checked(&state, "/api/v1/journal").await;
    let journal: Value = serde_json::from_slice(&bytes).unwrap();
    type Change = (&'static str, fn(&mut Value));
    let changes: [Change; 4] = [
        ("a field the document omits", |entry| {
            entry["extra"] = Value::from(1);
        }),
        ("a required field missing", |entry| {
            entry.as_object_mut().unwrap().remove("backend");
        }),
        ("a value outside its enum", |entry| {
            entry["callback"] = Value::from("onSuccess");
        }),
        ("a nested object without its required fields", |entry| {
            entry["backend"] = serde_json::json!({"url": "http://127.0.0.1:1/"});
        }),
    ];
    for (change, apply) in changes {
        let mut changed = journal.clone();
        apply(&mut changed[0]);
        let body = serde_json::to_vec(&changed).unwrap();
        let checked = std::panic::catch_unwind(|| {
            check_response(
                "GET",
                "/api/v1/journal",
                200,
                Some("application/json"),
                &body,
            )
        });
        assert!(checked.is_err(), "{change} passed the check");
    }
}
