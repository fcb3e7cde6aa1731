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
