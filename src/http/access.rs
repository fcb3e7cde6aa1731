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

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
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
}

impl Access {
    /// Whether a request with this `Host` header value is answered.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        if name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
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

    /// Refuses what the module doc describes, before any handler runs.
    pub async fn guard(self: Arc<Self>, request: Request, next: Next) -> Response {
        match self.refusal(&request) {
            Some(refusal) => refusal.into_response(),
            None => next.run(request).await,
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
