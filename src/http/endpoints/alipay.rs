//! Alipay's open-platform gateway at its real path, `POST /gateway.do` (v2), as the official
//! SDKs call it: common parameters in the query, business ones in a form body, every answer a
//! JSON body signed with the app's Alipay key (docs/alipay-gateway-login.md §2, §3).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use crate::sim::state::SimState;

pub(crate) fn routes() -> Router<SimState> {
    Router::new().route("/gateway.do", any(gateway))
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
