//! The platforms' own endpoints, emulated at their real paths, as a developer's backend calls
//! them (`/gateway.do`, `/sns/jscode2session`, `/cgi-bin/token`, `/wxa/...`).
//!
//! Alipay's `my.getPhoneNumber` has none: the backend decrypts and checks the envelope itself;
//! its login's gateway (`/gateway.do`) is in [`alipay`], WeChat's endpoints in [`wechat`]. Each platform that has some gets a file here with a `routes()` of its
//! own, `nest`ed under its paths with a fallback in that platform's error shape (WeChat answers
//! 200 `{errcode, errmsg}`, Alipay's gateway a signed `error_response`), never the admin API's
//! `{"error": ...}`, and merged in [`routes`].

use axum::Router;

use crate::sim::state::SimState;

pub(crate) mod alipay;
pub(crate) mod wechat;

/// Every platform's endpoints.
pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .merge(alipay::routes())
        .merge(wechat::routes())
}
