//! One error shape, `{"error": {"code", "message"}}`, and one table from the shell's errors to
//! HTTP statuses ([`status_of`]), used by the API and the UI alike; the rejections of axum's
//! extractors convert to the same shape, naming what was wrong.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::alipay::error::Error;
use crate::sim::state::StateError;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;
macro_rules! error_codes {
    ($($code:ident = $name:tt,)+) => {
        /// What kind of mistake an error is; its message says more.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
        pub enum ErrorCode {
            $(#[serde(rename = $name)] $code,)+
        }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => $name,)+
                }
            }
        }
    };
}

error_codes! {
    MalformedJson = "malformed_json",
    InvalidRequest = "invalid_request",
    InvalidQuery = "invalid_query",
    InvalidHeader = "invalid_header",
    InvalidPath = "invalid_path",
    HostNotAllowed = "host_not_allowed",
    CrossOriginRefused = "cross_origin_refused",
    PreflightRequired = "preflight_required",
    Unauthorized = "unauthorized",
    AppNotFound = "app_not_found",
    ScenarioNotFound = "scenario_not_found",
    CertificateNotFound = "certificate_not_found",
    RouteNotFound = "route_not_found",
    MethodNotAllowed = "method_not_allowed",
    BodyTimeout = "body_timeout",
    AppExists = "app_exists",
    LastApp = "last_app",
    WrongPlatform = "wrong_platform",
    BodyTooLarge = "body_too_large",
    BadBody = "bad_body",
    FaultNotApplicable = "fault_not_applicable",
    StorageError = "storage_error",
    InternalError = "internal_error",
}

/// Every error's body: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What was wrong, naming the field, value or part.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: String) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code, message },
        }
    }
}

/// An error response: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code.as_str(), "{}", self.message);
        }
        (self.status, Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}

/// The one table from a state error to its HTTP status and error code, for the API and the UI.
pub(crate) fn status_of(error: &StateError) -> (StatusCode, ErrorCode) {
    match error {
        StateError::AppNotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::AppNotFound),
        StateError::AppExists(_) => (StatusCode::CONFLICT, ErrorCode::AppExists),
        StateError::LastApp(_) => (StatusCode::CONFLICT, ErrorCode::LastApp),
        StateError::WrongPlatform { .. } => (StatusCode::CONFLICT, ErrorCode::WrongPlatform),
        StateError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRequest),
        StateError::NoCertificate(_) => (StatusCode::NOT_FOUND, ErrorCode::CertificateNotFound),
        StateError::Engine(Error::UnknownScenario(_)) => {
            (StatusCode::NOT_FOUND, ErrorCode::ScenarioNotFound)
        }
        StateError::Engine(Error::FaultNotApplicable { .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::FaultNotApplicable,
        ),
        StateError::Engine(Error::Invalid { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRequest)
        }
        StateError::Engine(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError),
        StateError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::StorageError),
    }
}

impl From<StateError> for ApiError {
    fn from(error: StateError) -> Self {
        let (status, code) = status_of(&error);
        ApiError::new(status, code, error.to_string())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        let status = rejection.status();
        if timed_out(&rejection) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::BodyTimeout,
                "the request body did not arrive in time",
            )
        } else if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                ErrorCode::BodyTooLarge,
                format!("request body is over the {} KiB limit", BODY_LIMIT / 1024),
            )
        } else {
            ApiError::new(status, ErrorCode::BadBody, rejection.body_text())
        }
    }
}

/// Whether reading the body stopped at the server's body timeout.
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<crate::http::body_timeout::BodyTimedOut>() {
            return true;
        }
        cause = error.source();
    }
    false
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidQuery,
            rejection.body_text(),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        use axum::extract::path::ErrorKind;
        let status = rejection.status();
        let message = match &rejection {
            PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                ErrorKind::InvalidUtf8InPathParam { key } => {
                    format!("{key} in the path is not UTF-8 once percent-decoded")
                }
                _ => format!("path: {}", e.body_text()),
            },
            _ => format!("path: {}", rejection.body_text()),
        };
        let code = if status.is_server_error() {
            ErrorCode::InternalError
        } else {
            ErrorCode::InvalidPath
        };
        ApiError::new(status, code, message)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            error.to_string(),
        )
    }
}

pub(crate) async fn route_not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::RouteNotFound,
        format!("no route {method} {}; see /api/v1/openapi.json", uri.path()),
    )
}

pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!(
            "{} does not take {method}; see /api/v1/openapi.json",
            uri.path()
        ),
    )
}
