//! What a hostile web page, a crash or a careless client could do to the simulator, and what
//! it does instead: hosts and origins it refuses, state that survives, bounds that hold.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use alipay_sim::server;
use alipay_sim::server::Access;
use alipay_sim::server::ServerOptions;
use alipay_sim::state::Store;
use alipay_sim::state::{SimState, StateConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

fn state() -> (SimState, String) {
    crate::common::in_memory_state(5)
}

/// A state kept in `dir`, with seed 1.
fn persisted(dir: &Path) -> Result<SimState, alipay_sim::state::StateError> {
    SimState::open(StateConfig {
        seed: Some(1),
        data_dir: Some(dir.to_path_buf()),
    })
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(router: axum::Router, request: Request<Body>) -> Answer {
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. DNS rebinding: only the hosts the simulator is reached by

#[tokio::test]
async fn a_rebinding_page_cannot_post_forms_or_read_the_journal() {
    let (state, app) = state();
    let evil = [
        ("host", "rebind.evil.example:8086"),
        ("origin", "http://rebind.evil.example:8086"),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let form = "call=1&url=http%3A%2F%2F127.0.0.1%3A9%2F&body_shape=json";
    let answer = send(
        server::app(state.clone()),
        request("POST", &format!("/apps/{app}/device/send"), &evil, form),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["error"]["code"], "host_not_allowed");
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("--allowed-host rebind.evil.example"),
        "{message}"
    );

    let answer = send(
        server::app(state.clone()),
        request("GET", "/api/v1/journal", &evil[..1], ""),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // Loopback names and addresses, and hosts allowed on purpose, are answered.
    for host in ["127.0.0.1:8086", "localhost:8086", "[::1]:8086"] {
        let answer = send(
            server::app(state.clone()),
            request("GET", "/api/v1/journal", &[("host", host)], ""),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{host}");
    }
    let access = Access {
        allowed_hosts: vec!["sim.team.test".into()],
        ..Access::default()
    };
    let answer = send(
        server::app_with(state.clone(), access),
        request(
            "GET",
            "/api/v1/journal",
            &[("host", "sim.team.test:8086")],
            "",
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// A backend on a free port answering every request with `status`, `headers` and `body`;
/// counts the requests it gets.
fn fake_backend(
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let mut response = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
            for (name, value) in &headers {
                response.push_str(&format!("{name}: {value}\r\n"));
            }
            response.push_str("Connection: close\r\n\r\n");
            let _ = stream.write_all(response.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_redirect_from_the_backend_is_shown_not_followed() {
    let (second, second_hits) = fake_backend(200, vec![], b"second local URL".to_vec());
    let (first, _) = fake_backend(
        302,
        vec![("Location".into(), format!("{second}/internal"))],
        vec![],
    );
    let (state, app) = state();
    let (call, _) = state
        .complete_recorded_call(state.prepare_call(&app, None, Default::default()).unwrap())
        .unwrap();
    let own = [
        ("host", "127.0.0.1:8086"),
        ("origin", "http://127.0.0.1:8086"),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let form = format!(
        "call={call}&url={}&body_shape=json",
        alipay_sim::server::form_encode(&format!("{first}/api/phone"))
    );
    let answer = send(
        server::app(state.clone()),
        request("POST", &format!("/apps/{app}/device/send"), &own, &form),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let exchange = state.journal_entry(call).unwrap().backend.unwrap();
    assert_eq!(exchange.status, Some(302));
    let note = exchange.note.unwrap();
    assert!(
        note.contains(&format!("{second}/internal")) && note.contains("does not follow"),
        "{note}"
    );
    assert_eq!(second_hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------------
// 2. CORS: only the front-end call, unless opened on purpose

#[tokio::test]
async fn another_site_cannot_change_or_read_the_state() {
    let (state, app) = state();
    let cross = [
        ("host", "127.0.0.1:8086"),
        ("origin", "https://evil.example"),
        ("content-type", "text/plain"),
    ];
    // A "simple" request, which browsers send without a preflight.
    let answer = send(
        server::app(state.clone()),
        request("POST", "/api/v1/apps", &cross, r#"{"app_id":"planted"}"#),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["error"]["code"], "cross_origin_refused");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--cors-origin https://evil.example"),
        "{}",
        answer.body
    );
    assert_eq!(state.list_apps().len(), 1);

    // The preflight of a JSON request is not granted.
    let preflight = [
        ("host", "127.0.0.1:8086"),
        ("origin", "https://evil.example"),
        ("access-control-request-method", "PATCH"),
        ("access-control-request-headers", "content-type"),
    ];
    let answer = send(
        server::app(state.clone()),
        request("OPTIONS", &format!("/api/v1/apps/{app}"), &preflight, ""),
    )
    .await;
    assert!(!answer
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    // A suite with the app's private key is not readable from another origin.
    state.start_recording(&app).unwrap();
    for path in [
        format!("/apps/{app}/recording/suite.json"),
        format!("/api/v1/apps/{app}/keys"),
        "/api/v1/journal".to_string(),
    ] {
        let answer = send(
            server::app(state.clone()),
            request("GET", &path, &cross[..2], ""),
        )
        .await;
        assert!(
            !answer
                .headers
                .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN),
            "{path}"
        );
    }
}

#[tokio::test]
async fn my_js_previews_may_make_the_front_end_call_from_their_own_origin() {
    let (state, app) = state();
    let path = format!("/api/v1/apps/{app}/getPhoneNumber");
    let preview = "http://localhost:5173";
    let answer = send(
        server::app(state.clone()),
        request(
            "OPTIONS",
            &path,
            &[
                ("host", "127.0.0.1:8086"),
                ("origin", preview),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type"),
            ],
            "",
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], preview);
    let json_call = [
        ("host", "127.0.0.1:8086"),
        ("origin", preview),
        ("content-type", "application/json"),
    ];
    let answer = send(
        server::app(state.clone()),
        request("POST", &path, &json_call, r#"{"action":"consent"}"#),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["callback"], "success");
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], preview);
    // The same call as text/plain would skip the preflight: refused before it counts.
    let calls = state.app(&app).unwrap().calls;
    let answer = send(
        server::app(state.clone()),
        request(
            "POST",
            &path,
            &[json_call[0], json_call[1], ("content-type", "text/plain")],
            r#"{"action":"consent"}"#,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(answer.body["error"]["code"], "preflight_required");
    assert_eq!(state.app(&app).unwrap().calls, calls);
}

#[tokio::test]
async fn my_js_previews_may_read_what_the_consent_sheet_shows_and_no_more() {
    let (state, app) = state();
    let preview = "http://localhost:5173";
    let cross = [("host", "127.0.0.1:8086"), ("origin", preview)];
    let answer = send(
        server::app(state.clone()),
        request(
            "GET",
            &format!("/api/v1/apps/{app}/consent-sheet"),
            &cross,
            "",
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], preview);
    assert_eq!(
        answer.body,
        serde_json::json!({"app_id": app, "mobile": "138****0000", "authorised": false}),
        "the masked number, no key"
    );
    // An unknown app is said so, readably, for my.js to fail before any sheet.
    let answer = send(
        server::app(state.clone()),
        request("GET", "/api/v1/apps/no-such-app/consent-sheet", &cross, ""),
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["error"]["code"], "app_not_found");
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], preview);
    // The app itself (with its full number and keys) stays closed to that page.
    let answer = send(
        server::app(state.clone()),
        request("GET", &format!("/api/v1/apps/{app}"), &cross, ""),
    )
    .await;
    assert!(!answer
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn wider_cors_is_an_explicit_list_of_origins() {
    let (state, _) = state();
    let access = Access {
        cors_origins: vec!["http://localhost:5173".into()],
        ..Access::default()
    };
    let headers = [
        ("host", "127.0.0.1:8086"),
        ("origin", "http://localhost:5173"),
        ("content-type", "application/json"),
    ];
    let answer = send(
        server::app_with(state.clone(), access.clone()),
        request(
            "POST",
            "/api/v1/apps",
            &headers,
            r#"{"app_id":"from-the-page"}"#,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://localhost:5173"
    );
    let answer = send(
        server::app_with(state.clone(), access),
        request(
            "POST",
            "/api/v1/apps",
            &[headers[0], ("origin", "http://localhost:5174"), headers[2]],
            r#"{"app_id":"from-another-page"}"#,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(state.list_apps().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 3. reset is atomic

fn apps_in_file(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("state.json")).ok()?;
    let state: Value = serde_json::from_str(&text).ok()?;
    Some(state["apps"].as_array()?.len())
}

#[test]
fn reset_never_leaves_a_state_file_without_apps() {
    let dir = tempfile::tempdir().unwrap();
    let state = SimState::open(StateConfig {
        seed: None, // random keys: generating them takes a while
        data_dir: Some(dir.path().to_path_buf()),
    })
    .unwrap();
    state.create_app(Default::default()).unwrap();
    for _ in 0..3 {
        let resetting = {
            let state = state.clone();
            std::thread::spawn(move || state.reset_all().unwrap())
        };
        let mut seen = Vec::new();
        while !resetting.is_finished() {
            if let Some(apps) = apps_in_file(dir.path()) {
                seen.push(apps);
            }
        }
        assert_eq!(resetting.join().unwrap().len(), 1);
        assert!(
            seen.iter().all(|&apps| apps >= 1),
            "a crash during reset would have left {seen:?} apps"
        );
        assert_eq!(apps_in_file(dir.path()), Some(1));
    }
}

// ---------------------------------------------------------------------------------------------
// 4. backend answers and the journal are bounded

#[tokio::test]
async fn a_huge_backend_answer_is_cut_and_said_so() {
    let (url, _) = fake_backend(200, vec![], vec![b'x'; 5 * 1024 * 1024]);
    let exchange = alipay_sim::server::exchange(
        &format!("{url}/api/phone"),
        alipay_sim::state::BodyShape::Json,
        "{}",
    )
    .await;
    assert_eq!(exchange.status, Some(200));
    assert_eq!(exchange.body.len(), alipay_sim::server::ANSWER_LIMIT);
    assert!(exchange.note.unwrap().contains("first 64 KiB"));
}

#[test]
fn the_journal_is_bounded_by_size_as_well_as_count() {
    let (state, app) = state();
    let big = alipay_sim::state::Exchange {
        method: "POST".into(),
        url: "http://127.0.0.1:1/".into(),
        body_shape: alipay_sim::state::BodyShape::Json,
        request_body: String::new(),
        status: Some(200),
        headers: vec![],
        body: "x".repeat(alipay_sim::server::ANSWER_LIMIT),
        truncated: false,
        error: None,
        note: None,
        elapsed_ms: 1,
    };
    for _ in 0..400 {
        let prepared = state.prepare_call(&app, None, Default::default()).unwrap();
        let (id, _) = state.complete_recorded_call(prepared).unwrap();
        state.record_backend_exchange(id, big.clone());
    }
    let kept: usize = state
        .journal(None, usize::MAX)
        .iter()
        .map(|e| e.backend.as_ref().map_or(0, |b| b.body.len()))
        .sum();
    assert!(
        kept <= alipay_sim::state::JOURNAL_BYTES,
        "the journal keeps {kept} bytes of answers"
    );
    assert!(
        state.journal(None, usize::MAX).len() > 10,
        "it still keeps recent calls"
    );
}

// ---------------------------------------------------------------------------------------------
// 5, 6. key files are private; crashed writes leave nothing behind

#[cfg(unix)]
#[test]
fn the_data_directory_and_state_file_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("alipay-sim");
    let state = SimState::open(StateConfig {
        seed: Some(1),
        data_dir: Some(dir.clone()),
    })
    .unwrap();
    state.create_app(Default::default()).unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("state.json")), 0o600);
    drop(state);

    // A directory and file an older version left open are narrowed.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.join("state.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    drop(Store::open(&dir).unwrap());
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("state.json")), 0o600);
}

#[test]
fn temporary_files_of_interrupted_writes_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    drop(persisted(dir.path()).unwrap());
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    for n in 0..12 {
        std::fs::write(dir.path().join(format!(".state.json.999{n}.0.tmp")), &state).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    drop(Store::open(dir.path()).unwrap());
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    // The durable journal stays (its WAL files come and go with its connection); only the
    // temporary files of state.json go.
    assert!(names.iter().any(|n| n == "journal.sqlite"), "{names:?}");
    names.retain(|n| !n.starts_with("journal.sqlite"));
    assert_eq!(names, [".lock", "notes.txt", "state.json"]);
}

// ---------------------------------------------------------------------------------------------
// 8. slow clients

/// A server with short timeouts on a free port, in this process; stops with the runtime.
fn quick_server(runtime: &tokio::runtime::Runtime) -> std::net::SocketAddr {
    let (state, _) = state();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap();
    let options = ServerOptions {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..ServerOptions::default()
    };
    runtime.spawn(alipay_sim::server::serve(
        listener,
        state,
        options,
        std::future::pending(),
    ));
    address
}

/// Reads until the server closes the connection; what it sent, and how long that took.
fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let _ = stream.read_to_end(&mut received);
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn a_client_that_never_finishes_its_headers_is_dropped() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let address = quick_server(&runtime);
    let mut streams: Vec<_> = (0..20)
        .map(|_| {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            stream
        })
        .collect();
    for stream in &mut streams {
        let (_, waited) = read_until_closed(stream);
        assert!(waited < Duration::from_secs(10), "held for {waited:?}");
    }
}

#[test]
fn a_body_that_never_arrives_is_answered_408() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let address = quick_server(&runtime);
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(
            b"POST /api/v1/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"app_",
        )
        .unwrap();
    let (answer, waited) = read_until_closed(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(waited < Duration::from_secs(10), "held for {waited:?}");
}

// ---------------------------------------------------------------------------------------------
// 9. the state file is checked on load

#[test]
fn a_state_file_is_checked_as_the_api_checks_input() {
    let dir = tempfile::tempdir().unwrap();
    drop(persisted(dir.path()).unwrap());
    let file = dir.path().join("state.json");
    let good: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let app = good["apps"][0].clone();
    let with_apps = |apps: Vec<Value>| {
        let mut state = good.clone();
        state["apps_created"] = json!(apps.len().max(1));
        state["apps"] = Value::Array(apps);
        state
    };
    let with = |change: &dyn Fn(&mut Value)| {
        let mut app = app.clone();
        change(&mut app);
        with_apps(vec![app])
    };
    let cases: Vec<(Value, &str)> = vec![
        (with_apps(vec![app.clone(), app.clone()]), "appears twice"),
        (
            with(&|a| a["app_id"] = json!("../../etc/x y<script>")),
            "apps[0] (app_id \"../../etc/x y<script>\")",
        ),
        (
            with(&|a| a["config"]["platform"]["busy"] = json!({"probability": 7.0})),
            "not between 0 and 1",
        ),
        (with_apps(vec![]), "apps is empty"),
        (
            with(&|a| a["backend"] = json!({"url": "file:///etc/passwd", "body_shape": "json"})),
            "backend.url",
        ),
        (
            with(&|a| a["created_at"] = json!("yesterday")),
            "created_at",
        ),
        (
            with_apps(vec![Value::Array(
                app.as_object().unwrap().values().cloned().collect(),
            )]),
            "apps[0]: expected an object, found an array",
        ),
        (
            with(&|a| a["backend"] = json!(["http://127.0.0.1:3000/", "json"])),
            "apps[0].backend: expected an object",
        ),
    ];
    for (state, needle) in cases {
        let text = serde_json::to_string_pretty(&state).unwrap();
        std::fs::write(&file, &text).unwrap();
        let error = persisted(dir.path())
            .err()
            .unwrap_or_else(|| panic!("accepted a state file with {needle}"))
            .to_string();
        assert!(
            error.contains(file.to_str().unwrap()) && error.contains(needle),
            "{error:?} should name the file and {needle:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            text,
            "left as it was"
        );
    }
}

#[test]
fn the_last_app_is_reset_rather_than_deleted() {
    let (state, app) = state();
    let error = state.delete_app(&app).unwrap_err().to_string();
    assert!(error.contains("reset it"), "{error}");
    assert_eq!(state.list_apps().len(), 1);
    state.create_app(Default::default()).unwrap();
    state.delete_app(&app).unwrap();
}
