//! The router in-process (axum's `oneshot`): the OpenAPI document describes exactly the routes
//! the router serves, and each answer matches it (`common::read_checked`).

use std::collections::BTreeSet;

use alipay_sim::server::api::{self, OPENAPI};
use alipay_sim::state::{SimState, StateConfig};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::read_checked;

fn documented() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(OPENAPI).expect("the OpenAPI document is JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_openapi_document_lists_exactly_the_served_routes() {
    let served: BTreeSet<(String, String)> = api::route_list().into_iter().collect();
    assert_eq!(documented(), served);
}

#[tokio::test]
async fn every_documented_route_is_answered_by_its_handler() {
    let state = SimState::open(StateConfig {
        seed: Some(1),
        data_dir: None,
    })
    .unwrap();
    let app_id = state.list_apps()[0].app_id.clone();
    // In certificate mode, so that its certificate files are there.
    state
        .patch_app(
            &app_id,
            serde_json::json!({"console": {"signing_key_mode": "certificate"}}),
        )
        .unwrap();
    let wechat = state.create_wechat_app(Default::default()).unwrap().app_id;
    // Deleting comes last, so that every other route still finds the app.
    let mut routes: Vec<_> = documented().into_iter().collect();
    routes.sort_by_key(|(method, _)| method == "DELETE");
    for (method, path) in routes {
        let app_id = if path.starts_with("/api/v1/wechat/") {
            &wechat
        } else {
            &app_id
        };
        let uri = path
            .replace("{app_id}", app_id)
            .replace("{file}", "alipayRootCert.crt");
        if method == "DELETE" && path.contains("{app_id}") {
            state.create_app(Default::default()).unwrap(); // the last app stays
        }
        if path.ends_with("/isv/aes-set") {
            // Only an ISV's merchant has its AES key set by the ISV.
            let patch = serde_json::json!({"console": {"isv": {"isv_app_id": "2021004100000001"}}});
            state.patch_app(app_id, patch).unwrap();
        }
        let body = match path.as_str() {
            // The state's own snapshot, loaded back: a success that changes nothing.
            "/api/v1/snapshot" if method == "PUT" => state.export_snapshot().to_string(),
            path => match path {
            "/api/v1/apps/{app_id}/scenario" => r#"{"name": "success"}"#,
            "/api/v1/verify" => r#"{"envelope": "{}", "app_id": "APP"}"#,
            "/api/v1/wechat/apps/{app_id}/scenario" => r#"{"name": "code-ok"}"#,
            "/api/v1/wechat/verify" => {
                r#"{"appid": "APP", "session_key": "qDAlT7rY5bVVTQpJTfRVow==", "iv": "+nhktnss2Uaek8dwSn9gIQ==", "encryptedData": "AAAAAAAAAAAAAAAAAAAAAA=="}"#
            }
            "/api/v1/clock/advance" => r#"{"seconds": 1}"#,
            "/api/v1/apps/{app_id}/app-public-key" => r#"{"app_public_key": null}"#,
            "/api/v1/apps/{app_id}/gateway-fault" => r#"{"fault": null}"#,
            "/api/v1/apps/{app_id}/login-settings" => r#"{"id_mode": "openid"}"#,
            _ if method == "PATCH" => "{}",
            _ => "",
        }
        .replace("APP", app_id),
        };
        let request = Request::builder()
            .method(method.as_str())
            .uri(&uri)
            .body(Body::from(body))
            .unwrap();
        let response = alipay_sim::server::app(state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let (status, _, bytes) = read_checked(&method, &uri, response).await;
        assert!(
            status.is_success(),
            "{method} {uri}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        if path.ends_with("openapi.json") {
            assert_eq!(bytes, OPENAPI.as_bytes());
        }
    }
    let (status, _, _) = crate::common::get_checked(&state, "/api/v1/undocumented").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_scenario_listing_gives_authenticity_and_business_result_side_by_side() {
    let state = SimState::open(StateConfig {
        seed: Some(1),
        data_dir: None,
    })
    .unwrap();
    let (_, _, bytes) = crate::common::get_checked(&state, "/api/v1/scenarios").await;
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    let entry = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()
            .clone()
    };
    for (name, verdict, business_result) in [
        ("success", "accept", Value::from("phone-number")),
        (
            "phone-application-pending",
            "accept",
            Value::from("40006 isv.insufficient-isv-permissions"),
        ),
        ("flip-signature-byte", "reject-signature", Value::Null),
    ] {
        assert_eq!(entry(name)["verdict"], verdict, "{name}");
        assert_eq!(entry(name)["business_result"], business_result, "{name}");
    }
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let fields = doc["components"]["schemas"]["Scenario"]["properties"]
        .as_object()
        .unwrap();
    let served = entry("success");
    let served: Vec<&String> = served.as_object().unwrap().keys().collect();
    assert_eq!(fields.keys().collect::<Vec<_>>(), served);
}
