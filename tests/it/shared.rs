//! A shared instance: with an admin token, the simulator's own API and web UI refuse (401)
//! whoever does not send it, the emulated platform endpoints still answer, the token is never
//! printed, and without a token the server refuses to listen beyond loopback.

use std::process::{Command, Stdio};

use alipay_sim::server::{self, Access, AdminToken};
use alipay_sim::state::SimState;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

use crate::common::BIN;

const TOKEN: &str = "team-secret-0123456789";

fn shared() -> (SimState, String, axum::Router) {
    let (state, app) = crate::common::in_memory_state(9);
    let access = Access {
        admin_token: Some(AdminToken::new(TOKEN).unwrap()),
        ..Access::default()
    };
    let router = server::app_with(state.clone(), access);
    (state, app, router)
}

/// (status, headers, body) of one request.
async fn send(
    router: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1:8086");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn without_the_token_the_api_refuses_state_changes_and_key_reads() {
    let (state, app, router) = shared();
    let bearer = format!("Bearer {TOKEN}");
    let json = ("content-type", "application/json");
    for (method, uri, body) in [
        ("GET", format!("/api/v1/apps/{app}/keys"), ""),
        ("GET", format!("/api/v1/apps/{app}/app-key-pair"), ""),
        ("GET", "/api/v1/apps".to_string(), ""),
        ("POST", "/api/v1/apps".to_string(), "{}"),
        (
            "PATCH",
            format!("/api/v1/apps/{app}"),
            r#"{"console": {"gateway": false}}"#,
        ),
        ("POST", format!("/api/v1/apps/{app}/getPhoneNumber"), "{}"),
        ("POST", "/api/v1/reset".to_string(), ""),
    ] {
        let (status, headers, text) = send(&router, method, &uri, &[json], body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri}: {text}");
        assert!(text.contains("\"unauthorized\""), "{text}");
        assert!(headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        // A wrong token is no better.
        let wrong = send(
            &router,
            method,
            &uri,
            &[json, ("authorization", "Bearer team-secret-0123456780")],
            body,
        )
        .await;
        assert_eq!(wrong.0, StatusCode::UNAUTHORIZED, "{method} {uri}");
    }
    // Nothing changed.
    assert_eq!(state.list_apps().len(), 1);
    assert!(state.app(&app).unwrap().config.console.gateway);
    assert!(state.journal(None, 10).is_empty());
    // With the token, the same calls work.
    let (status, _, keys) = send(
        &router,
        "GET",
        &format!("/api/v1/apps/{app}/keys"),
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{keys}");
    let (status, _, _) = send(
        &router,
        "PATCH",
        &format!("/api/v1/apps/{app}"),
        &[json, ("authorization", &bearer)],
        r#"{"console": {"gateway": false}}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!state.app(&app).unwrap().config.console.gateway);
}

#[tokio::test]
async fn the_emulated_endpoints_and_the_health_check_stay_open() {
    let (_, app, router) = shared();
    let (status, _, body) = send(&router, "GET", "/healthz", &[], "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Alipay's gateway answers in its own shape: an unsigned request is refused by the gateway.
    let form = ("content-type", "application/x-www-form-urlencoded");
    let (status, _, body) = send(
        &router,
        "POST",
        "/gateway.do",
        &[form],
        &format!("app_id={app}&method=alipay.system.oauth.token"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("isv.missing-signature"), "{body}");
    let (status, _, body) = send(
        &router,
        "POST",
        "/v3/alipay/system/oauth/token",
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("isv.missing-signature"), "{body}");
    // WeChat's too.
    let (status, _, body) = send(
        &router,
        "GET",
        "/sns/jscode2session?appid=wx0&secret=x&js_code=y&grant_type=authorization_code",
        &[],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("errcode"), "{body}");
    // The static scripts and the API's description.
    for path in ["/sdk/my.js", "/api/v1/openapi.json", "/assets/style.css"] {
        let (status, _, _) = send(&router, "GET", path, &[], "").await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn the_web_ui_asks_for_the_token_then_keeps_a_session() {
    let (state, app, router) = shared();
    let form = ("content-type", "application/x-www-form-urlencoded");
    // A page: the login form instead, 401.
    let (status, _, page) = send(&router, "GET", &format!("/apps/{app}"), &[], "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("id=\"admin-token\""), "{page}");
    assert!(
        !page.contains(&state.app(&app).unwrap().keys.aes_key),
        "no key on the login page"
    );
    // A form: refused, nothing done.
    let (status, _, _) = send(
        &router,
        "POST",
        &format!("/apps/{app}/keys/rotate"),
        &[form],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let before = state.app(&app).unwrap().keys.aes_key;
    // A wrong token: the form again, saying so.
    let (status, headers, page) =
        send(&router, "POST", "/login", &[form], "token=nope&next=%2F").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("id=\"login-error\""));
    assert!(headers.get(header::SET_COOKIE).is_none());
    // The token: a session cookie (not the token itself), and back to the page asked for.
    let next = format!("/apps/{app}");
    let (status, headers, _) = send(
        &router,
        "POST",
        "/login",
        &[form],
        &format!("token={TOKEN}&next={}", next.replace('/', "%2F")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], next.as_str());
    let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains(TOKEN));
    let session = cookie.split(';').next().unwrap().to_string();
    let (status, _, page) = send(&router, "GET", &next, &[("cookie", &session)], "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&before), "the console shows the keys");
    let (status, _, _) = send(
        &router,
        "POST",
        &format!("/apps/{app}/keys/rotate"),
        &[form, ("cookie", &session)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_ne!(state.app(&app).unwrap().keys.aes_key, before);
    // A next that leaves the server is not followed.
    let (_, headers, _) = send(
        &router,
        "POST",
        "/login",
        &[form],
        &format!("token={TOKEN}&next=%2F%2Fevil.example"),
    )
    .await;
    assert_eq!(headers[header::LOCATION], "/");
}

#[test]
fn a_shared_address_needs_a_token_and_the_token_is_never_printed() {
    let refused = Command::new(BIN)
        .args(["serve", "--ephemeral", "--addr", "0.0.0.0:0"])
        .env_remove("ALIPAY_SIM_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("admin token") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );

    let short = Command::new(BIN)
        .args(["serve", "--ephemeral", "--addr", "0.0.0.0:0"])
        .env("ALIPAY_SIM_ADMIN_TOKEN", "short")
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 16"));

    let mut child = Command::new(BIN)
        .args(["serve", "--ephemeral", "--addr", "0.0.0.0:0"])
        .env("ALIPAY_SIM_ADMIN_TOKEN", TOKEN)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut banner = String::new();
    let mut buf = [0u8; 4096];
    let started = std::time::Instant::now();
    while !banner.contains("Throwaway keys only") && started.elapsed().as_secs() < 20 {
        use std::io::Read;
        let n = stdout.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        banner.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let port: u16 = banner
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{banner}"));
    let client = reqwest::blocking::Client::new();
    let api = format!("http://127.0.0.1:{port}/api/v1/apps");
    assert_eq!(client.get(&api).send().unwrap().status(), 401);
    assert_eq!(
        client.get(&api).bearer_auth(TOKEN).send().unwrap().status(),
        200
    );
    let _ = client
        .get(&api)
        .bearer_auth("a-wrong-token-of-some-length")
        .send();
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(!banner.contains(TOKEN), "{banner}");
    assert!(!logs.contains(TOKEN), "{logs}");
}
