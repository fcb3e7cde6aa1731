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
pub(crate) mod body_timeout;
pub mod endpoints;
pub mod error;
pub(crate) mod extract;
pub mod server;
pub(crate) mod worker;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::Router;
use tower_http::cors::CorsLayer;

use crate::http::access::{Access, Admission};
use crate::sim::state::SimState;

/// The simulator's whole router over `state`: the JSON API, the web UI and the emulated
/// platform endpoints, answering loopback hosts only, with CORS for the front-end call alone.
pub fn app(state: SimState) -> Router {
    app_with(state, Access::default())
}

/// [`app`], with the hosts and origins of `access` allowed besides.
pub fn app_with(state: SimState, access: Access) -> Router {
    Router::new().fallback_service(FrontDoor::new(state, access, None))
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

/// The one service every request goes through, in this order: the access guard (hosts,
/// cross-origin state changes, the admin token), CORS, the routes; then the answer waits
/// for the durable journal's commit, so that an answered call is a journaled call.
///
/// One hand-made service rather than a stack of middleware layers on the router: those are
/// cloned, each with the layers under it, on every request, which cost a third of a bare
/// `/healthz` (`benches/request_path.sh`). Cloning this is one `Arc`.
#[derive(Clone)]
pub struct FrontDoor {
    inner: Arc<FrontDoorInner>,
}

struct FrontDoorInner {
    access: Arc<Access>,
    state: SimState,
    routes: Router,
    /// tower-http's CORS, for the requests it acts on: preflights, and requests with an
    /// `Origin`. Every other answer only gets the `Vary` header it would add.
    cors: CorsLayer,
    body_timeout: Option<std::time::Duration>,
}

/// What tower-http's CORS layer, as [`Access::cors_layer`] configures it, puts on every answer.
const CORS_VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

impl FrontDoor {
    /// The service over `state`; a request body that has not arrived within `body_timeout`
    /// is answered 408.
    pub fn new(
        state: SimState,
        access: Access,
        body_timeout: Option<std::time::Duration>,
    ) -> FrontDoor {
        let access = Arc::new(access);
        let routes = api::routes()
            .merge(crate::ui::routes())
            .merge(endpoints::routes())
            // The admin API's shape; each platform's endpoints have their own fallback.
            .fallback(not_found)
            .method_not_allowed_fallback(error::method_not_allowed)
            .with_state(state.clone());
        FrontDoor {
            inner: Arc::new(FrontDoorInner {
                cors: access.cors_layer(),
                access,
                state,
                routes,
                body_timeout,
            }),
        }
    }
}

impl FrontDoorInner {
    /// The routes' answer, then the wait for the durable journal's commit.
    async fn answer(self: Arc<Self>, request: Request) -> Response {
        let response = self.route(request).await;
        self.state.journal_durable().await;
        response
    }

    async fn route(&self, request: Request) -> Response {
        use tower::{Service, ServiceExt};
        // Browsers send an Origin on every cross-origin request and on same-origin POSTs;
        // preflights are OPTIONS.
        let cross_origin = request.method() == axum::http::Method::OPTIONS
            || request.headers().contains_key(header::ORIGIN);
        if cross_origin {
            // Boxed, as the login form is: CORS's future is large, and every request's
            // future would carry its room (moved, not used).
            let routes = self.routes_for(&request);
            let result = Box::pin(tower::Layer::layer(&self.cors, routes).oneshot(request)).await;
            return match result {
                Ok(response) => response,
                Err(never) => match never {},
            };
        }
        // The router is always ready: called, not `oneshot` (whose future holds the router
        // and the request besides the route's).
        let mut routes = self.routes_for(&request);
        let mut response = match routes.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        response.headers_mut().insert(header::VARY, CORS_VARY);
        response
    }

    /// The router, with the body limit for a request that has a body: once around the router,
    /// not as a layer on it (axum wraps each route in a router's layer, a box cloned per
    /// request). A route's own limit (the snapshot's) is set inside, and wins. A request
    /// without a body needs none (and its extensions one entry fewer).
    fn routes_for(&self, request: &Request) -> tower::util::Either<Router, LimitedRouter> {
        use axum::body::HttpBody;
        if request.body().is_end_stream() {
            tower::util::Either::Left(self.routes.clone())
        } else {
            tower::util::Either::Right(tower::Layer::layer(
                &DefaultBodyLimit::max(error::BODY_LIMIT),
                self.routes.clone(),
            ))
        }
    }
}

/// The router under the body limit.
type LimitedRouter = <DefaultBodyLimit as tower::Layer<Router>>::Service;

impl<B> tower::Service<axum::http::Request<B>> for FrontDoor
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + Unpin + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        // Only a body still to come can time out; GETs have none.
        let request = match self.inner.body_timeout {
            Some(timeout) if !request.body().is_end_stream() => {
                request.map(|body| Body::new(body_timeout::ArrivalTimeout::new(timeout, body)))
            }
            _ => request.map(Body::new),
        };
        match self.inner.access.admit(request) {
            // A refusal records nothing: no journal to wait for.
            Admission::Answered(response) => Box::pin(std::future::ready(Ok(response))),
            Admission::LogIn(request) => {
                let inner = self.inner.clone();
                Box::pin(async move { Ok(inner.access.log_in(request).await) })
            }
            Admission::Routed(request) => {
                let inner = self.inner.clone();
                Box::pin(async move { Ok(inner.answer(request).await) })
            }
        }
    }
}
