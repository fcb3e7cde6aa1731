//! The engine's errors, a module of their own so that the engine does not import the guide.

use crate::alipay::fault::Fault;
use crate::crypto::CryptoError;

/// Everything that can go wrong. Messages name the bad value and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("fault {fault} cannot apply: it needs {needs}, but this call produces {got}")]
    FaultNotApplicable {
        fault: Fault,
        needs: &'static str,
        got: String,
    },
    #[error("unknown scenario {0:?}; `alipay-sim scenarios` lists the catalogue")]
    UnknownScenario(String),
    #[error("scenario file {file}: {message}")]
    ScenarioFile { file: String, message: String },
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}
