//! Snapshots: the set-up of one instance (apps, consoles, keys, call counts, the clock),
//! exported and loaded into a fresh instance, gives byte-identical envelopes for every
//! catalogue scenario; a snapshot that is not one is refused, naming the field, and changes
//! nothing.

use alipay_sim::catalogue;
use alipay_sim::server;
use alipay_sim::state::{NewApp, NewWechatApp, PhoneNumberRequest, SimState, StateConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

fn fresh(seed: u64) -> SimState {
    SimState::open(StateConfig {
        seed: Some(seed),
        data_dir: None,
    })
    .unwrap()
}

async fn call(state: &SimState, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = server::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_loaded_snapshot_gives_byte_identical_envelopes_for_every_scenario() {
    let source = fresh(11);
    let second = source
        .create_app(NewApp {
            name: Some("rsa1".into()),
            ..NewApp::default()
        })
        .unwrap();
    source
        .patch_app(&second.app_id, json!({"console": {"signing": "RSA"}}))
        .unwrap();
    source.create_wechat_app(NewWechatApp::default()).unwrap();
    let apps: Vec<String> = source.list_apps().into_iter().map(|a| a.app_id).collect();
    // Some calls first: the snapshot keeps each app's place in its sequence.
    for _ in 0..3 {
        source
            .get_phone_number(&apps[0], None, PhoneNumberRequest::default())
            .unwrap();
    }
    source.advance_clock(600).unwrap();

    let (status, snapshot) = call(&source, "GET", "/api/v1/snapshot", "").await;
    assert_eq!(status, StatusCode::OK);
    let target = fresh(99);
    assert_ne!(target.list_apps()[0].app_id, apps[0]);
    let (status, loaded) = call(&target, "PUT", "/api/v1/snapshot", &snapshot).await;
    assert_eq!(status, StatusCode::OK, "{loaded}");
    let loaded: Vec<Value> = serde_json::from_str(&loaded).unwrap();
    let loaded: Vec<&str> = loaded
        .iter()
        .map(|a| a["app_id"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, apps);
    assert_eq!(target.list_wechat_apps().len(), 1);
    assert_eq!(target.clock().offset, 600);

    let mut compared = 0;
    for scenario in catalogue().iter() {
        for app in &apps {
            let made = |state: &SimState| {
                let fixture = state
                    .get_phone_number(app, Some(&scenario.name), PhoneNumberRequest::default())
                    .unwrap();
                serde_json::to_string(&fixture.delivery.payload).unwrap()
            };
            assert_eq!(made(&source), made(&target), "{} on {app}", scenario.name);
            compared += 1;
        }
    }
    assert!(compared >= 80, "{compared}");
    // And the plain calls go on from the same place.
    let plain = |state: &SimState| {
        serde_json::to_string(
            &state
                .get_phone_number(&apps[0], None, PhoneNumberRequest::default())
                .unwrap()
                .delivery
                .payload,
        )
        .unwrap()
    };
    assert_eq!(plain(&source), plain(&target));
}

#[tokio::test]
async fn a_snapshot_that_is_not_one_is_refused_and_changes_nothing() {
    let target = fresh(5);
    let before = target.list_apps();
    let (_, snapshot) = call(&fresh(6), "GET", "/api/v1/snapshot", "").await;
    let mut snapshot: Value = serde_json::from_str(&snapshot).unwrap();
    for (change, field) in [
        (json!({"snapshot_version": 2}), "snapshot_version"),
        (
            json!({"state": {"format_version": 2, "apps_created": 0, "apps": []}}),
            "state",
        ),
        (json!({"calls": {"no-such-app": 1}}), "calls.no-such-app"),
        (json!({"clock_offset": -1}), "clock_offset"),
        (json!({"extra": true}), "extra"),
    ] {
        let mut bad = snapshot.clone();
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        let (status, answer) = call(&target, "PUT", "/api/v1/snapshot", &bad.to_string()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {answer}"
        );
        assert!(answer.contains(field), "{field}: {answer}");
        assert_eq!(target.list_apps(), before, "{field}: nothing changed");
    }
    snapshot["state"]["apps"][0]["aes_key"] = json!("not base64!");
    let (status, answer) = call(&target, "PUT", "/api/v1/snapshot", &snapshot.to_string()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(answer.contains("apps[0]"), "{answer}");
}
