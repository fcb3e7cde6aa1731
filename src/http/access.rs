//! Who may reach the simulator: the hosts it answers, the origins that may call it from a
//! browser, and the cross-origin requests it refuses.
//!
//! A web page the developer happens to open must not drive the simulator. Two attacks are
//! closed here:
//! - **DNS rebinding**: a page at `http://evil.example:8086` whose name is made to resolve to
//!   127.0.0.1 is same-origin with the simulator as far as the browser knows, so only the
//!   `Host` header tells. Requests are answered only for loopback names, IP addresses (a
//!   rebinding page has a name, never an address), the `--addr` host and `--allowed-host`s,
//!   as Vite's and webpack-dev-server's `allowedHosts` do.
//! - **Cross-site requests**: CORS headers are sent only for the emulated front-end call
//!   (`POST /api/v1/apps/{app_id}/getPhoneNumber`, what `/sdk/my.js` previews use, and the
//!   masked number its consent sheet shows, `GET .../consent-sheet`) and for the
//!   `--cors-origin`s; a state change from another origin is refused unless that origin
//!   may use the route, and always when its content type would have skipped the browser's
//!   preflight (`text/plain`, forms), since the browser sends those before asking.
//!
//! A shared instance (one listening beyond loopback) has an admin token: then everything of
//! the simulator's own, its API and its web UI, wants it (`Authorization: Bearer`, or the UI's
//! session cookie from `/login`), and only the emulated platform endpoints, `/healthz`, the
//! OpenAPI document and the static assets stay open, since the platforms' own credentials
//! guard the endpoints.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::http::error::{ErrorBody, ErrorCode};

/// Which hosts and origins the server accepts beyond its defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Host names answered besides loopback names and IP addresses: `name`, `.domain` for the
    /// domain and every name under it, or `*` for any host (which gives up the rebinding guard).
    pub allowed_hosts: Vec<String>,
    /// Origins (`http://localhost:5173`) whose pages may call the whole API, or `*` for any.
    pub cors_origins: Vec<String>,
    /// The admin token of a shared instance; `None` on loopback.
    pub admin_token: Option<AdminToken>,
}

/// The token a shared instance's API and UI want. Compared in constant time and never
/// printed: its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(hidden)")
    }
}

/// The UI's session cookie.
const SESSION_COOKIE: &str = "alipay_sim_session";

impl AdminToken {
    /// A token of at least 16 visible ASCII characters, or why not.
    pub fn new(token: &str) -> Result<AdminToken, String> {
        if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the admin token must be at least 16 visible ASCII characters (no spaces): make one with `openssl rand -base64 24`".into());
        }
        Ok(AdminToken(token.to_string()))
    }

    /// Whether `given` is the token, in time that does not depend on where they differ.
    fn admits(&self, given: &str) -> bool {
        use sha2::Digest;
        use subtle::ConstantTimeEq;
        // Hashes first, so that the length of the token does not show either.
        let given = sha2::Sha256::digest(given.as_bytes());
        let token = sha2::Sha256::digest(self.0.as_bytes());
        given.ct_eq(&token).into()
    }

    /// The UI session cookie's value: derived from the token, so the cookie never holds it.
    fn session_value(&self) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("alipay-sim ui session\0{}", self.0));
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether the request carries the token as a bearer or the UI's session cookie.
    fn admits_request(&self, headers: &axum::http::HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| self.admits(given.trim()));
        bearer || {
            let session = self.session_value();
            headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|pair| pair.trim().split_once('='))
                .any(|(name, value)| {
                    use subtle::ConstantTimeEq;
                    name == SESSION_COOKIE && bool::from(value.as_bytes().ct_eq(session.as_bytes()))
                })
        }
    }
}

/// What stays open on a shared instance: the emulated platform endpoints (guarded by the
/// platforms' own credentials), the health check, the API's description, the static assets
/// and the login form.
fn open_without_token(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/login" | "/api/v1/openapi.json" | "/favicon.ico" | "/gateway.do"
    ) || ["/assets/", "/sdk/", "/v3/", "/sns/", "/cgi-bin/", "/wxa/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

impl Access {
    /// Whether a request with this `Host` header value is answered.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host).trim_end_matches('.');
        // The loopback names and IP addresses first, without a lowercase copy: every request
        // asks.
        if name.parse::<IpAddr>().is_ok()
            || name.eq_ignore_ascii_case("localhost")
            || name
                .len()
                .checked_sub(".localhost".len())
                .and_then(|at| name.get(at..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(".localhost"))
        {
            return true;
        }
        let name = name.to_ascii_lowercase();
        let name = name.as_str();
        self.allowed_hosts.iter().any(|allowed| {
            let allowed = allowed.to_ascii_lowercase();
            match allowed.strip_prefix('.') {
                _ if allowed == "*" => true,
                Some(domain) => name == domain || name.ends_with(&format!(".{domain}")),
                None => name == allowed,
            }
        })
    }

    /// Whether a page at `origin` may call `path` across origins.
    pub fn cors_allowed(&self, path: &str, origin: &str) -> bool {
        is_front_end_call(path)
            || self
                .cors_origins
                .iter()
                .any(|allowed| allowed == "*" || allowed.trim_end_matches('/') == origin)
    }

    /// The CORS layer: headers only for the origins and routes allowed above.
    pub fn cors_layer(self: &Arc<Self>) -> CorsLayer {
        let access = self.clone();
        CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, parts| {
                origin
                    .to_str()
                    .is_ok_and(|origin| access.cors_allowed(parts.uri.path(), origin))
            }))
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(std::time::Duration::from_secs(600))
    }

    /// Refuses what the module doc describes, before any handler runs: a request is answered
    /// here, is the login form's, or goes on to the routes. Decided without awaiting, so that
    /// a request's future holds only what its way needs.
    pub fn admit(&self, request: Request) -> Admission {
        if let Some(refusal) = self.refusal(&request) {
            return Admission::Answered(refusal.into_response());
        }
        let Some(token) = &self.admin_token else {
            return Admission::Routed(request);
        };
        let path = request.uri().path();
        if path == "/login" {
            return Admission::LogIn(request);
        }
        // A browser's preflight carries no credentials; the request it asks about does.
        let preflight = request.method() == Method::OPTIONS;
        if preflight || open_without_token(path) || token.admits_request(request.headers()) {
            return Admission::Routed(request);
        }
        Admission::Answered(unauthorized(
            path,
            request.uri().path_and_query().map_or("/", |p| p.as_str()),
        ))
    }

    /// `/login`, as [`Admission::LogIn`] sends it: the form, or the token checked.
    pub async fn log_in(&self, request: Request) -> Response {
        match &self.admin_token {
            Some(token) => login(token, request).await,
            // Only a shared instance has a login form.
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }

    fn refusal(&self, request: &Request) -> Option<Refusal> {
        let headers = request.headers();
        // HTTP/2 carries the host in the URI; HTTP/1.0 clients may send none, a browser always does.
        let host = headers
            .get(header::HOST)
            .map(|h| h.to_str().unwrap_or(""))
            .or_else(|| request.uri().authority().map(|a| a.as_str()));
        if let Some(host) = host {
            if !self.host_allowed(host) {
                return Some(Refusal {
                    code: ErrorCode::HostNotAllowed,
                    message: format!(
                        "requests for host {host:?} are refused (a guard against DNS rebinding); \
                         if you reach the simulator by this name on purpose, start it with \
                         --allowed-host {}",
                        host_name(host)
                    ),
                });
            }
        }
        let changes_state = !matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        );
        let origin = headers
            .get(header::ORIGIN)
            .map(|o| o.to_str().unwrap_or(""));
        let (true, Some(origin)) = (changes_state, origin) else {
            return None;
        };
        if host.is_some_and(|host| origin_authority(origin) == Some(host)) {
            return None; // the simulator's own pages
        }
        let path = request.uri().path();
        if !self.cors_allowed(path, origin) {
            return Some(Refusal {
                code: ErrorCode::CrossOriginRefused,
                message: format!(
                    "{} {path} from a page at {origin} is refused: only the simulator's own \
                     pages may change its state; start it with --cors-origin {origin} to allow \
                     that page",
                    request.method()
                ),
            });
        }
        let content_type = headers.get(header::CONTENT_TYPE);
        if skips_preflight(content_type) {
            return Some(Refusal {
                code: ErrorCode::PreflightRequired,
                message: format!(
                    "{} {path} from {origin} with content type {:?} is refused: a browser sends \
                     such a request without asking first; send Content-Type: application/json",
                    request.method(),
                    content_type.map_or("none", |c| c.to_str().unwrap_or("?"))
                ),
            });
        }
        None
    }
}

/// `POST /api/v1/apps/{app_id}/getPhoneNumber`: the call a mini program's page makes, and
/// `GET /api/v1/apps/{app_id}/consent-sheet`: what its consent sheet shows (no key in it).
/// And a WeChat page's calls, `POST /api/v1/wechat/apps/{app_id}/wx.login`, `.../wx.checkSession`
/// and `.../tap` (what `/sdk/wx.js` previews use).
fn is_front_end_call(path: &str) -> bool {
    let alipay = path.strip_prefix("/api/v1/apps/").and_then(|rest| {
        rest.strip_suffix("/getPhoneNumber")
            .or_else(|| rest.strip_suffix("/consent-sheet"))
            .or_else(|| rest.strip_suffix("/my.getAuthCode"))
    });
    let wechat = path.strip_prefix("/api/v1/wechat/apps/").and_then(|rest| {
        rest.strip_suffix("/wx.login")
            .or_else(|| rest.strip_suffix("/wx.checkSession"))
            .or_else(|| rest.strip_suffix("/tap"))
    });
    alipay
        .or(wechat)
        .is_some_and(|app_id| !app_id.is_empty() && !app_id.contains('/'))
}

/// The host of a `Host` header value, without its port: `[::1]:8086` → `::1`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `http://127.0.0.1:8086` → `127.0.0.1:8086`, to compare with a `Host` header.
fn origin_authority(origin: &str) -> Option<&str> {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
}

/// The content types of a CORS "simple request", which browsers send without a preflight.
fn skips_preflight(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|c| c.to_str().ok()) else {
        return true;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ]
    .iter()
    .any(|simple| essence.eq_ignore_ascii_case(simple))
}

/// 401: the API's error shape with a `WWW-Authenticate` challenge, or the UI's login form.
fn unauthorized(path: &str, next: &str) -> Response {
    if path.starts_with("/api/") {
        let body = ErrorBody::new(
            ErrorCode::Unauthorized,
            "this alipay-sim is shared: send Authorization: Bearer <its admin token> (--admin-token, ALIPAY_SIM_ADMIN_TOKEN)".to_string(),
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"alipay-sim\"")],
            axum::Json(body),
        )
            .into_response();
    }
    login_page(StatusCode::UNAUTHORIZED, next, None)
}

/// The UI's login form, posting the token to `/login`.
fn login_page(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    fn escape(text: &str) -> String {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let error = error.map_or(String::new(), |e| {
        format!(
            "<p class=\"error\" id=\"login-error\" role=\"alert\">{}</p>",
            escape(e)
        )
    });
    let html = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Log in · alipay-sim</title>\
         <link rel=\"stylesheet\" href=\"/assets/style.css\"><main><h1>alipay-sim</h1>\
         <p>This simulator is shared: its team's admin token opens its pages.</p>{error}\
         <form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label>Admin token <input type=\"password\" name=\"token\" id=\"admin-token\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\" id=\"log-in\">Log in</button></form></main></html>",
        escape(next)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

/// `GET /login`: the form; `POST /login`: the token, then the session cookie and the page it
/// was asked for (a path of this server only).
async fn login(token: &AdminToken, request: Request) -> Response {
    use axum::extract::FromRequest;
    if request.method() != Method::POST {
        let next = request
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("next="))
            .unwrap_or("/")
            .to_string();
        return login_page(StatusCode::OK, &next, None);
    }
    let Ok(axum::Form(form)) = axum::Form::<LoginForm>::from_request(request, &()).await else {
        return login_page(
            StatusCode::BAD_REQUEST,
            "/",
            Some("send the form: token and next"),
        );
    };
    let next = if form.next.starts_with('/') && !form.next.starts_with("//") {
        form.next
    } else {
        "/".to_string()
    };
    if !token.admits(form.token.trim()) {
        tracing::warn!("a login with a wrong admin token");
        return login_page(
            StatusCode::UNAUTHORIZED,
            &next,
            Some("That is not the admin token."),
        );
    }
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        token.session_value()
    );
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, next)],
    )
        .into_response()
}

/// Where [`Access::admit`] sends a request.
pub enum Admission {
    /// Refused, or asked for the admin token: this is the answer.
    Answered(Response),
    /// The login form's: [`Access::log_in`] answers it.
    LogIn(Request),
    /// On to the routes.
    Routed(Request),
}

struct Refusal {
    code: ErrorCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        tracing::warn!(code = self.code.as_str(), "{}", self.message);
        let body = ErrorBody::new(self.code, self.message);
        (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_addresses_are_answered_and_other_names_are_not() {
        let access = Access::default();
        for host in [
            "127.0.0.1:8086",
            "localhost:8086",
            "LOCALHOST",
            "app.localhost:1",
            "[::1]:8086",
            "192.168.1.20:8086",
        ] {
            assert!(access.host_allowed(host), "{host}");
        }
        for host in [
            "rebind.evil.example:8086",
            "localhost.evil.example",
            "",
            "example",
        ] {
            assert!(!access.host_allowed(host), "{host}");
        }
        let access = Access {
            allowed_hosts: vec!["sim.internal".into(), ".team.example".into()],
            ..Access::default()
        };
        assert!(access.host_allowed("sim.internal:8086"));
        assert!(access.host_allowed("team.example"));
        assert!(access.host_allowed("a.team.example:80"));
        assert!(!access.host_allowed("evilteam.example"));
    }

    #[test]
    fn only_the_front_end_call_is_open_to_other_origins_by_default() {
        let access = Access::default();
        assert!(access.cors_allowed("/api/v1/apps/2021/getPhoneNumber", "http://x"));
        assert!(access.cors_allowed("/api/v1/apps/2021/consent-sheet", "http://x"));
        assert!(!access.cors_allowed("/api/v1/apps/2021/keys", "http://x"));
        assert!(!access.cors_allowed("/api/v1/apps", "http://x"));
        assert!(!access.cors_allowed("/api/v1/apps/a/b/getPhoneNumber", "http://x"));
        let access = Access {
            cors_origins: vec!["http://localhost:5173/".into()],
            ..Access::default()
        };
        assert!(access.cors_allowed("/api/v1/apps", "http://localhost:5173"));
        assert!(!access.cors_allowed("/api/v1/apps", "http://localhost:5174"));
    }
}
