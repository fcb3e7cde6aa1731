//! Why an operation on the state failed; the adapters map each kind to an HTTP status
//! (`http::error`).

use crate::crypto::CryptoError;
use crate::sim::store::StoreError;

/// Why an operation failed; the API maps each kind to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("no app {0:?}")]
    AppNotFound(String),
    #[error("an app {0:?} exists already")]
    AppExists(String),
    #[error("app {0:?} is the only app and stays: reset it (POST /api/v1/apps/{0}/reset), or create another app first")]
    LastApp(String),
    #[error("app {app_id:?} is a {platform} app; this is for {wanted} apps")]
    WrongPlatform {
        app_id: String,
        platform: &'static str,
        wanted: &'static str,
    },
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    /// A certificate file that the app does not have (public-key mode, or an unknown name).
    #[error("{0}")]
    NoCertificate(String),
    #[error(transparent)]
    Engine(#[from] crate::alipay::error::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CryptoError> for StateError {
    fn from(e: CryptoError) -> Self {
        StateError::Engine(e.into())
    }
}

/// A name for people: 1 to 64 characters, no control characters.
pub(crate) fn check_name(name: &str) -> Result<(), StateError> {
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(StateError::Invalid {
            field: "name".into(),
            message: format!("{name:?} is not a name: 1 to 64 characters, no control characters"),
        });
    }
    Ok(())
}
