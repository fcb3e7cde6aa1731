//! Bad input to the JSON API, in-process (axum's `oneshot`): every refusal is a 4xx with the
//! documented `{"error": {"code", "message"}}` JSON body naming the field or part, never a
//! panic, a 500, a text/plain answer, or a changed app; and each is checked against the OpenAPI
//! document (`common::check_response`).

use alipay_sim::server::api;
use alipay_sim::state::{SimState, StateConfig};
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

struct Api {
    state: SimState,
    app: String,
}

impl Api {
    fn new() -> Api {
        let state = SimState::open(StateConfig {
            seed: Some(5),
            data_dir: None,
        })
        .unwrap();
        let app = state.list_apps()[0].app_id.clone();
        Api { state, app }
    }

    /// `uri` with `APP` replaced by the app's id.
    fn uri(&self, uri: &str) -> String {
        uri.replace("APP", &self.app)
    }

    /// Sends one request; the status and the JSON body, which every answer must have.
    async fn send(
        &self,
        method: &str,
        uri: &str,
        body: &str,
        scenario: Option<HeaderValue>,
    ) -> (StatusCode, Value) {
        let uri = self.uri(uri);
        let mut request = Request::builder().method(method).uri(&uri);
        if let Some(value) = scenario {
            request = request.header(api::SCENARIO_HEADER, value);
        }
        let request = request
            .body(Body::from(body.replace("APP", &self.app)))
            .unwrap();
        let response = alipay_sim::server::app(self.state.clone())
            .oneshot(request)
            .await
            .unwrap();
        let (status, content_type, bytes) =
            crate::common::read_checked(method, &uri, response).await;
        let text = String::from_utf8_lossy(&bytes);
        if status == StatusCode::NO_CONTENT {
            return (status, Value::Null);
        }
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{method} {uri}: {status} answered {content_type:?}: {text}"
        );
        let json = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{method} {uri}: {status}: not JSON ({e}): {text}"));
        (status, json)
    }

    /// Asserts that the request is refused with `status` and `code`, with a message that
    /// contains every one of `needles`.
    async fn refused(
        &self,
        method: &str,
        uri: &str,
        body: &str,
        status: StatusCode,
        code: &str,
        needles: &[&str],
    ) {
        self.refused_with(method, uri, body, None, status, code, needles)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn refused_with(
        &self,
        method: &str,
        uri: &str,
        body: &str,
        scenario: Option<HeaderValue>,
        status: StatusCode,
        code: &str,
        needles: &[&str],
    ) {
        let (got, json) = self.send(method, uri, body, scenario).await;
        let what = format!("{method} {uri} {body}");
        assert_eq!(got, status, "{what}: {json}");
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
        let message = json["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no message: {json}"));
        for needle in needles {
            assert!(
                message.contains(needle),
                "{what}: {message:?} does not name {needle:?}"
            );
        }
    }

    /// The app as `GET /api/v1/apps/{id}` shows it.
    async fn app_view(&self) -> Value {
        let (status, view) = self.send("GET", "/api/v1/apps/APP", "", None).await;
        assert_eq!(status, StatusCode::OK);
        view
    }
}

const UNPROCESSABLE: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

#[tokio::test]
async fn enum_fields_given_a_non_string_are_a_422_naming_the_field() {
    let api = Api::new();
    let before = api.app_view().await;
    let (verify, call, create, patch) = (
        "POST /api/v1/verify",
        "POST /api/v1/apps/APP/getPhoneNumber",
        "POST /api/v1/apps",
        "PATCH /api/v1/apps/APP",
    );
    let cases = [
        (verify, r#"{"envelope": "x", "sign_type": 5}"#, "sign_type"),
        (
            verify,
            r#"{"envelope": "x", "app_id": "APP", "sign_type": true}"#,
            "sign_type",
        ),
        (call, r#"{"action": 5}"#, "action"),
        (call, r#"{"fault": true}"#, "fault"),
        (call, r#"{"fault": ["missing-sign"]}"#, "fault"),
        (create, r#"{"console": {"account": 5}}"#, "console.account"),
        (
            create,
            r#"{"console": {"signing": null}}"#,
            "console.signing",
        ),
        (
            create,
            r#"{"console": {"phone_application": 1.5}}"#,
            "console.phone_application",
        ),
        (create, r#"{"platform": {"busy": 5}}"#, "platform.busy"),
        (create, r#"{"platform": {"busy": {}}}"#, "platform.busy"),
        (
            create,
            r#"{"platform": {"busy": {"probability": 0.5, "x": 1}}}"#,
            "platform.busy",
        ),
        (
            create,
            r#"{"user": {"environment": 0}}"#,
            "user.environment",
        ),
        (
            patch,
            r#"{"console": {"aes_key": false}}"#,
            "console.aes_key",
        ),
        (patch, r#"{"platform": {"busy": 1}}"#, "platform.busy"),
    ];
    for (route, body, field) in cases {
        let (method, uri) = route.split_once(' ').unwrap();
        api.refused(
            method,
            uri,
            body,
            UNPROCESSABLE,
            "invalid_request",
            &[field],
        )
        .await;
    }
    // Still valid JSON with a bad value is never "malformed"; broken JSON still is.
    api.refused(
        "POST",
        "/api/v1/verify",
        r#"{"envelope": "x", "sign_type": 5"#,
        StatusCode::BAD_REQUEST,
        "malformed_json",
        &["not valid JSON"],
    )
    .await;
    assert_eq!(api.state.list_apps().len(), 1, "no app was created");
    assert_eq!(api.app_view().await, before, "the app is unchanged");
}

#[tokio::test]
async fn arrays_in_place_of_objects_are_refused_naming_the_field() {
    let api = Api::new();
    let before = api.app_view().await;
    let array = "expected an object, found an array";
    let (create, patch, call) = (
        "POST /api/v1/apps",
        "PATCH /api/v1/apps/APP",
        "POST /api/v1/apps/APP/getPhoneNumber",
    );
    let cases = [
        // Filled by position, this made a personal account without a signing method.
        (
            patch,
            r#"{"console": ["personal", false, "none"]}"#,
            "console",
        ),
        (patch, r#"{"platform": []}"#, "platform"),
        (patch, r#"{"console": {"isv": ["2021"]}}"#, "console.isv"),
        (patch, r#"{"action": ["refuse"]}"#, "action"),
        (patch, r#"{"user": ["13800000001"]}"#, "user"),
        (create, r#"{"console": ["personal"]}"#, "console"),
        (create, r#"{"user": []}"#, "user"),
        (create, r#"["an-app"]"#, "request body"),
        (call, r#"{"protocols": ["2021"]}"#, "protocols"),
        (call, r#"["refuse"]"#, "request body"),
        ("POST /api/v1/verify", r#"["{}", "APP"]"#, "request body"),
        (
            "POST /api/v1/apps/APP/scenario",
            r#"["no-user-consent"]"#,
            "request body",
        ),
    ];
    for (route, body, field) in cases {
        let (method, uri) = route.split_once(' ').unwrap();
        api.refused(
            method,
            uri,
            body,
            UNPROCESSABLE,
            "invalid_request",
            &[field, array],
        )
        .await;
    }
    assert_eq!(api.state.list_apps().len(), 1, "no app was created");
    assert!(api.state.journal(None, 10).is_empty(), "no call was made");
    assert_eq!(api.app_view().await, before, "the app is unchanged");
}

#[tokio::test]
async fn a_path_that_does_not_decode_is_a_json_400_naming_the_app_id() {
    let api = Api::new();
    let routes = [
        ("GET", "/api/v1/apps/%FF"),
        ("PATCH", "/api/v1/apps/%FF"),
        ("DELETE", "/api/v1/apps/%FF"),
        ("POST", "/api/v1/apps/%FF/reset"),
        ("GET", "/api/v1/apps/%FF/keys"),
        ("POST", "/api/v1/apps/a%FFb/keys/rotate"),
        ("POST", "/api/v1/apps/%FF/scenario"),
        ("POST", "/api/v1/apps/%C3%28/getPhoneNumber"),
    ];
    for (method, uri) in routes {
        api.refused(
            method,
            uri,
            "{}",
            StatusCode::BAD_REQUEST,
            "invalid_path",
            &["app_id", "UTF-8"],
        )
        .await;
    }
    assert_eq!(api.state.list_apps().len(), 1);
}

#[tokio::test]
async fn every_other_refusal_is_json_naming_what_was_wrong() {
    let api = Api::new();
    let before = api.app_view().await;
    let not_ascii = HeaderValue::from_bytes(b"succ\xffss").unwrap();
    api.refused_with(
        "POST",
        "/api/v1/apps/APP/getPhoneNumber",
        "",
        Some(not_ascii),
        StatusCode::BAD_REQUEST,
        "invalid_header",
        &["X-Alipay-Sim-Scenario"],
    )
    .await;
    let long = format!("/api/v1/apps/{}", "a".repeat(30_000));
    api.refused(
        "GET",
        &long,
        "",
        StatusCode::NOT_FOUND,
        "app_not_found",
        &["aaaa"],
    )
    .await;
    let long = format!("/api/v1/{}", "b".repeat(30_000));
    api.refused(
        "GET",
        &long,
        "",
        StatusCode::NOT_FOUND,
        "route_not_found",
        &["bbbb"],
    )
    .await;
    api.refused(
        "GET",
        "/api/v1/apps/%FF/nothing",
        "",
        StatusCode::NOT_FOUND,
        "route_not_found",
        &["/api/v1/apps/%FF/nothing"],
    )
    .await;
    api.refused(
        "PUT",
        "/api/v1/journal",
        "",
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &["PUT"],
    )
    .await;
    api.refused(
        "DELETE",
        "/api/v1/journal?app=APP",
        "",
        StatusCode::BAD_REQUEST,
        "invalid_query",
        &["app"],
    )
    .await;
    api.refused(
        "GET",
        "/api/v1/journal?limit=-1",
        "",
        StatusCode::BAD_REQUEST,
        "invalid_query",
        &["limit"],
    )
    .await;
    api.refused(
        "PATCH",
        "/api/v1/apps/APP",
        "",
        StatusCode::BAD_REQUEST,
        "malformed_json",
        &["JSON body"],
    )
    .await;
    api.refused(
        "PATCH",
        "/api/v1/apps/APP",
        "{\"console\": {\"gateway\": \"\\ud800\"}}",
        StatusCode::BAD_REQUEST,
        "malformed_json",
        &["not valid JSON"],
    )
    .await;
    // A body on a route that takes none is ignored, not misread.
    let (status, _) = api.send("DELETE", "/api/v1/journal", "[1, 2]", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.app_view().await, before, "the app is unchanged");
}

/// The state file and suite files share the request's types: an array in place of an object
/// is refused there too, rather than read by position.
#[test]
fn state_and_suite_files_refuse_an_array_for_an_object() {
    use alipay_sim::playback::suite::LoadedSuite;
    use alipay_sim::state::Store;

    let dir = tempfile::tempdir().unwrap();
    drop(
        SimState::open(StateConfig {
            seed: Some(5),
            data_dir: Some(dir.path().to_path_buf()),
        })
        .unwrap(),
    );
    let path = dir.path().join("state.json");
    let mut state: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state["apps"][0]["config"]["console"] = serde_json::json!(["personal", false, "none"]);
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    let error = Store::open(dir.path())
        .unwrap()
        .load()
        .unwrap_err()
        .to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(
        error.contains("expected an object, found an array"),
        "{error}"
    );

    let suite = r#"{"steps": [{"console": ["personal", false, "none"]}]}"#;
    let error = LoadedSuite::parse("mine.json", suite)
        .unwrap_err()
        .to_string();
    assert!(error.contains("mine.json"), "{error}");
    assert!(error.contains("steps[0].console"), "{error}");
    assert!(
        error.contains("expected an object, found an array"),
        "{error}"
    );
    let error = LoadedSuite::parse("mine.json", r#"{"steps": [["success"]]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("steps[0]: expected an object, found an array"),
        "{error}"
    );
}
