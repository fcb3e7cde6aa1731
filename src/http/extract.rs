//! What the API's handlers take from a request: the app id of the path, and a JSON body read
//! whatever its content type, refusing unknown fields and bad values by name.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::error::{ApiError, ErrorCode};
use crate::sim::state::{NewApp, PhoneNumberRequest, VerifyRequest};

/// The `{app_id}` of a route. One that does not decode is a 400 naming it.
pub(crate) struct AppId(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for AppId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(app_id) = Path::<String>::from_request_parts(parts, state).await?;
        Ok(AppId(app_id))
    }
}

/// A JSON request body of any content type (so `curl -d` works). An empty body is `T::default()`
/// where the route allows one. Malformed JSON is 400; unknown fields and bad values are 422.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + EmptyBody> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return T::empty().map(Body).ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::MalformedJson,
                    "the request needs a JSON body",
                )
            });
        }
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(deserializer) {
            Ok(value) => Ok(Body(value)),
            Err(e) if e.inner().classify() == serde_json::error::Category::Data => {
                Err(invalid_field(e.path(), e.inner()))
            }
            // serde_json's reader reports some bad values as syntax: an enum (`sign_type`,
            // `fault`, `platform.busy`...) given a number, `null` or an array is "expected
            // value". JSON that parses is never malformed: read from the parsed value, every
            // error is one of type or value, naming the field.
            Err(_) => {
                let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::MalformedJson,
                        format!("request body is not valid JSON: {e}"),
                    )
                })?;
                serde_path_to_error::deserialize(value)
                    .map(Body)
                    .map_err(|e| invalid_field(e.path(), e.inner()))
            }
        }
    }
}

/// A body already read as JSON, as [`Body`] reads it: a 422 naming the field on a bad value.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| invalid_field(e.path(), e.inner()))
}

/// A 422 naming the field by its path, e.g. `console.gatway: unknown field ...`, or the
/// request body when the body itself is wrong.
fn invalid_field(path: &serde_path_to_error::Path, error: impl std::fmt::Display) -> ApiError {
    let path = path.to_string();
    let message = if path == "." {
        format!("request body: {error}")
    } else {
        format!("{path}: {error}")
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::InvalidRequest,
        message,
    )
}

/// What an empty body means for a request type, if anything.
pub trait EmptyBody: Sized {
    fn empty() -> Option<Self> {
        None
    }
}

impl EmptyBody for NewApp {
    fn empty() -> Option<Self> {
        Some(NewApp::default())
    }
}
impl EmptyBody for PhoneNumberRequest {
    fn empty() -> Option<Self> {
        Some(PhoneNumberRequest::default())
    }
}
impl EmptyBody for Value {}
impl EmptyBody for crate::sim::state::NewWechatApp {
    fn empty() -> Option<Self> {
        Some(Default::default())
    }
}
impl EmptyBody for crate::wechat::model::Tap {
    fn empty() -> Option<Self> {
        Some(Default::default())
    }
}
impl EmptyBody for VerifyRequest {}
