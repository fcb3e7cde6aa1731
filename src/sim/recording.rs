//! Recording: what a person does on an app's device page (console settings, taps, the backend's
//! answers) kept as it happens; `suite::Suite::from_recording` writes it out as a suite that
//! `alipay-sim play` replays.

use crate::alipay::simulate::Call;
use crate::oracle::Cause;
use crate::oracle::Verdict;
use crate::sim::exchange::Exchange;

/// One app's recording.
#[derive(Debug, Clone)]
pub struct Recording {
    pub app_id: String,
    /// When it started, RFC 3339.
    pub started: String,
    pub active: bool,
    pub steps: Vec<RecordedCall>,
}

/// A call made while recording, with the settings in force and the backend's answer.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    pub call_id: u64,
    pub call: Call,
    pub rule: Cause,
    pub verdict: Verdict,
    pub exchange: Option<Exchange>,
}

impl Recording {
    pub fn new(app_id: &str, started: String) -> Recording {
        Recording {
            app_id: app_id.to_string(),
            started,
            active: true,
            steps: Vec::new(),
        }
    }
}
