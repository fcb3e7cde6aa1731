//! Alipay's open-platform gateway at its real path, `POST /gateway.do` (v2), as the official
//! SDKs call it: common parameters in the query, business ones in a form body, every answer a
//! JSON body signed with the app's Alipay key (docs/alipay-gateway-login.md §2, §3); and v3's
//! `POST /v3/alipay/system/oauth/token` and `/v3/alipay/user/info/share` (§4), signed in
//! headers.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Uri};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;

use crate::sim::state::SimState;

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/gateway.do", any(gateway))
        .route("/v3/alipay/system/oauth/token", post(v3))
        .route("/v3/alipay/user/info/share", post(v3))
        // Any other v3 path answers in v3's shape (the method, chosen as v2's isv.invalid-method).
        .route("/v3/{*rest}", any(v3_unknown))
}

async fn v3_unknown() -> Response {
    let body = "{\"code\":\"isv.invalid-method\",\"message\":\"不存在的方法名\",\"links\":[]}";
    let mut response = (StatusCode::BAD_REQUEST, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// The parameters of a query string or form body, `+` read as a space (form decoding).
fn form_params(text: &str) -> BTreeMap<String, String> {
    let uri: Uri = format!("/?{text}").parse().unwrap_or_default();
    Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|Query(pairs)| pairs.into_iter().collect())
        .unwrap_or_default()
}

async fn gateway(
    State(state): State<SimState>,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut params = form_params(uri.query().unwrap_or_default());
    if let Ok(body) = body {
        // The query's common parameters win over a body that repeats them.
        for (key, value) in form_params(&String::from_utf8_lossy(&body)) {
            params.entry(key).or_insert(value);
        }
    }
    // Generating the app's key pair on first use is an RSA key: off the async workers.
    let answer = tokio::task::spawn_blocking(move || state.alipay_gateway(&params))
        .await
        .unwrap_or_else(|_| "{\"error_response\":{\"code\":\"20000\",\"msg\":\"Service Currently Unavailable\",\"sub_code\":\"isp.unknow-error\",\"sub_msg\":\"系统繁忙\"}}".into());
    let mut response = answer.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

async fn v3(
    State(state): State<SimState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (authorization, app_auth_token) = (text("authorization"), text("alipay-app-auth-token"));
    let root_cert_sn = text("alipay-root-cert-sn");
    let body = body
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let query = form_params(uri.query().unwrap_or_default());
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let path = uri.path().to_string();
    let method = method.as_str().to_string();
    let answered = tokio::task::spawn_blocking(move || {
        state.alipay_gateway_v3(crate::sim::state::V3Request {
            method: &method,
            path: &path,
            path_and_query: &path_and_query,
            query: &query,
            body: &body,
            authorization: authorization.as_deref(),
            app_auth_token: app_auth_token.as_deref(),
            root_cert_sn: root_cert_sn.as_deref(),
        })
    })
    .await;
    let Ok((status, signed, body)) = answered else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "{\"code\":\"isp.unknow-error\",\"message\":\"系统繁忙\",\"links\":[]}",
        )
            .into_response();
    };
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
        .into_response();
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    for (name, value) in signed {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::try_from(name),
            HeaderValue::try_from(value),
        ) {
            out.insert(name, value);
        }
    }
    response
}
