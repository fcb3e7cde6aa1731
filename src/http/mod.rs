//! The HTTP adapters over the shell: who may reach the server ([`access`]), the JSON API under
//! `/api/v1` ([`api`]) with its one error shape and status table ([`error`]), request
//! extraction ([`extract`]) and slow operations off the async workers ([`worker`]), the
//! emulated platform endpoints at their real paths ([`endpoints`]), serving it all with the web
//! UI ([`server`]), and requests to a developer's backend, as
//! `my.request` makes them ([`backend`]).
//!
//! [`app`] composes the one router: the API, the UI and the platform endpoints, with the
//! guards and limits every route shares.

pub mod access;
pub mod api;
pub mod backend;
pub mod endpoints;
pub mod error;
pub(crate) mod extract;
pub mod server;
pub(crate) mod worker;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::http::access::Access;
use crate::sim::state::SimState;

/// The simulator's whole router over `state`: the JSON API, the web UI and the emulated
/// platform endpoints, answering loopback hosts only, with CORS for the front-end call alone.
pub fn app(state: SimState) -> Router {
    app_with(state, Access::default())
}

/// The API's JSON 404; a browser asking for a page outside the API gets the UI's page.
async fn not_found(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let wants_page = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page && !uri.path().starts_with("/api/") {
        return crate::ui::not_found_page(uri.path());
    }
    error::route_not_found(method, uri).await.into_response()
}

/// [`app`], with the hosts and origins of `access` allowed besides.
pub fn app_with(state: SimState, access: Access) -> Router {
    let access = std::sync::Arc::new(access);
    let guard = access.clone();
    api::routes()
        .merge(crate::ui::routes())
        .merge(endpoints::routes())
        // The admin API's shape; each platform's endpoints have their own fallback.
        .fallback(not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(error::BODY_LIMIT))
        // Browser previews of a mini program (my.js) call the API from their own origin; the
        // layer answers their preflight requests before routing.
        .layer(access.cors_layer())
        .layer(axum::middleware::from_fn(move |request, next| {
            guard.clone().guard(request, next)
        }))
        // An answered call is a journaled call: answers wait for the durable journal's commit.
        .layer(axum::middleware::from_fn_with_state(state.clone(), durable))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Answers once the journal entries made so far are committed (at once without a data
/// directory).
async fn durable(
    axum::extract::State(state): axum::extract::State<SimState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    state.journal_durable().await;
    response
}
