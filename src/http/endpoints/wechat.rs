//! WeChat's server endpoints at their real paths (docs §3): `GET /sns/jscode2session`,
//! `GET /cgi-bin/token`, `POST /cgi-bin/stable_token`,
//! `POST /wxa/business/getuserphonenumber?access_token=…` and `GET /wxa/checksession`. Every
//! answer is HTTP 200 JSON, as WeChat's: `{errcode, errmsg}` with the `rid:` suffix on errors,
//! never the admin API's error shape, whatever the input (a wrong method, a query or body that
//! does not decode, a body over the limit, an unknown path under `/sns`, `/cgi-bin`, `/wxa`).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Value};

use crate::oracle::Rule;
use crate::sim::state::SimState;
use crate::wechat::platform::{anonymous_error, Answer, Params};
use crate::wechat::rules::{DATA_FORMAT, INVALID_URL, REQUIRE_GET, REQUIRE_POST};

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/sns/jscode2session", any(jscode2session))
        .route("/cgi-bin/token", any(token))
        .route("/cgi-bin/stable_token", any(stable_token))
        .route("/wxa/business/getuserphonenumber", any(get_phone_number))
        .route("/wxa/checksession", any(checksession))
        .route("/sns/{*rest}", any(invalid_url))
        .route("/cgi-bin/{*rest}", any(invalid_url))
        .route("/wxa/{*rest}", any(invalid_url))
        .route("/sns/", any(invalid_url))
        .route("/cgi-bin/", any(invalid_url))
        .route("/wxa/", any(invalid_url))
}

/// WeChat's answer: 200, JSON, and the content type WeChat sends (sic, docs §3.1).
fn reply(answer: Answer) -> Response {
    let mut response = axum::Json(answer.body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; encoding=utf-8"),
    );
    response
}

fn refuse(state: &SimState, errcode: i64, text: &str, rule: &'static Rule) -> Answer {
    anonymous_error(errcode, text, rule, state.clock().now)
}

/// The query's parameters; `Err` is WeChat's answer to one that does not decode.
fn params(state: &SimState, uri: &Uri) -> Result<Params, Answer> {
    Query::<BTreeMap<String, String>>::try_from_uri(uri)
        .map(|Query(params)| params)
        .map_err(|_| refuse(state, 47001, "data format error", &DATA_FORMAT))
}

/// The caller's address for the IP allow-list: `X-Forwarded-For`'s first, else loopback (the
/// server listens there unless told otherwise).
fn client_ip(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1".into())
}

/// GET-only endpoints answer other methods 43001 (chosen, docs §10).
fn require_get(state: &SimState, method: &Method) -> Result<(), Answer> {
    if method == Method::GET || method == Method::HEAD {
        Ok(())
    } else {
        Err(refuse(state, 43001, "require GET method", &REQUIRE_GET))
    }
}

/// The JSON object body of a POST endpoint: `Err` is 43002 for another method, 47001 for a
/// body that is not a JSON object or is over the limit.
fn json_body(
    state: &SimState,
    method: &Method,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, Answer> {
    if method != Method::POST {
        return Err(refuse(state, 43002, "require POST method", &REQUIRE_POST));
    }
    body.ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(Value::is_object)
        .ok_or_else(|| refuse(state, 47001, "data format error", &DATA_FORMAT))
}

fn request_record(method: &Method, uri: &Uri, body: Option<&Value>) -> Value {
    let mut record = json!({"method": method.as_str(), "path": uri.path(), "query": uri.query()});
    if let Some(body) = body {
        record["body"] = body.clone();
    }
    record
}

async fn jscode2session(State(state): State<SimState>, method: Method, uri: Uri) -> Response {
    if let Err(refusal) = require_get(&state, &method) {
        return reply(refusal);
    }
    let params = match params(&state, &uri) {
        Ok(params) => params,
        Err(refusal) => return reply(refusal),
    };
    let mut request = request_record(&method, &uri, None);
    request["js_code"] = params.get("js_code").cloned().into();
    reply(state.wechat_endpoint_by_appid(
        params.get("appid").map(String::as_str),
        "jscode2session",
        request,
        |platform, app, now| platform.jscode2session(app, &params, now),
    ))
}

async fn token(
    State(state): State<SimState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = require_get(&state, &method) {
        return reply(refusal);
    }
    let params = match params(&state, &uri) {
        Ok(params) => params,
        Err(refusal) => return reply(refusal),
    };
    let ip = client_ip(&headers);
    reply(state.wechat_endpoint_by_appid(
        params.get("appid").map(String::as_str),
        "token",
        request_record(&method, &uri, None),
        |platform, app, now| platform.token(app, &params, Some(&ip), now),
    ))
}

async fn stable_token(
    State(state): State<SimState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match json_body(&state, &method, body) {
        Ok(body) => body,
        Err(refusal) => return reply(refusal),
    };
    // The body's string fields are the parameters; force_refresh is a boolean.
    let params: Params = body
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    let force_refresh = match body.get("force_refresh") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return reply(refuse(&state, 47001, "data format error", &DATA_FORMAT)),
    };
    let ip = client_ip(&headers);
    reply(state.wechat_endpoint_by_appid(
        params.get("appid").map(String::as_str),
        "stable_token",
        request_record(&method, &uri, Some(&body)),
        |platform, app, now| platform.stable_token(app, &params, force_refresh, Some(&ip), now),
    ))
}

async fn get_phone_number(
    State(state): State<SimState>,
    method: Method,
    uri: Uri,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let params = match params(&state, &uri) {
        Ok(params) => params,
        Err(refusal) => return reply(refusal),
    };
    let body = match json_body(&state, &method, body) {
        Ok(body) => body,
        Err(refusal) => return reply(refusal),
    };
    let token = params.get("access_token").cloned();
    reply(state.wechat_endpoint_by_token(
        token.as_deref(),
        "getuserphonenumber",
        request_record(&method, &uri, Some(&body)),
        |platform, app, now| {
            platform.get_phone_number(app, token.as_deref().unwrap_or_default(), Some(&body), now)
        },
    ))
}

async fn checksession(State(state): State<SimState>, method: Method, uri: Uri) -> Response {
    if let Err(refusal) = require_get(&state, &method) {
        return reply(refusal);
    }
    let params = match params(&state, &uri) {
        Ok(params) => params,
        Err(refusal) => return reply(refusal),
    };
    let token = params.get("access_token").cloned();
    reply(state.wechat_endpoint_by_token(
        token.as_deref(),
        "checksession",
        request_record(&method, &uri, None),
        |platform, app, now| {
            platform.checksession(app, token.as_deref().unwrap_or_default(), &params, now)
        },
    ))
}

async fn invalid_url(State(state): State<SimState>) -> Response {
    reply(refuse(&state, 40066, "invalid url", &INVALID_URL))
}
