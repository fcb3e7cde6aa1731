//! Recording: what a person does on an app's device page (console settings, taps, the backend's
//! answers) kept as it happens, and written out as a suite that `alipay-sim play` replays.

use serde_json::Value;

use crate::backend::BackendExchange;
use crate::keys::AppKeys;
use crate::simulate::Call;
use crate::store::BackendTarget;
use crate::suite::{AnswerSpec, BackendSpec, StatusSpec, Step, StepExpect, Suite, SuiteKeys};
use crate::Verdict;

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
    pub rule: String,
    pub verdict: Verdict,
    pub exchange: Option<BackendExchange>,
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

    /// The suite file: every call inline with the settings it was made with; a call sent to the
    /// backend expects the same status (and JSON body, when it was JSON); the others expect
    /// what the oracle calls for. It carries the app's keys, since the backend under test was
    /// configured with them.
    pub fn to_suite(&self, keys: &AppKeys, remembered: Option<&BackendTarget>) -> Suite {
        let last_sent = self.steps.iter().rev().find_map(|s| s.exchange.as_ref());
        let mut backend = BackendSpec::default();
        if let Some(exchange) = last_sent {
            backend.url = Some(exchange.url.clone());
            backend.body = exchange.body_shape;
        } else if let Some(target) = remembered {
            backend.url = Some(target.url.clone());
            backend.body = target.body_shape;
        }
        let steps = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, recorded)| step_of(i, recorded))
            .collect();
        Suite {
            name: format!("recorded-{}", self.app_id),
            description: format!(
                "Recorded on the device page of app {} from {}: each step is a call with the settings it was made with and the answer the backend gave then.",
                self.app_id, self.started
            ),
            backend,
            success: AnswerSpec::default_success(),
            refusal: AnswerSpec::default_refusal(),
            keys: Some(SuiteKeys::of(keys)),
            steps,
        }
    }
}

fn step_of(index: usize, recorded: &RecordedCall) -> Step {
    let call = &recorded.call;
    let default = Call::default();
    let expect = match recorded
        .exchange
        .as_ref()
        .and_then(|e| e.status.map(|s| (s, e)))
    {
        Some((status, exchange)) => StepExpect::Answer(AnswerSpec {
            status: Some(StatusSpec(vec![(status, status)])),
            json: serde_json::from_str::<Value>(&exchange.body).ok(),
            ..Default::default()
        }),
        None => StepExpect::Oracle,
    };
    Step {
        name: Some(format!(
            "{}. call #{}: {} ({}, {})",
            index + 1,
            recorded.call_id,
            call.action.kind.as_str(),
            recorded.rule,
            recorded.verdict
        )),
        scenario: None,
        mobile: None,
        console: (call.console != default.console).then(|| call.console.clone()),
        platform: (call.platform != default.platform).then(|| call.platform.clone()),
        user: (call.user != default.user).then(|| call.user.clone()),
        action: (call.action != default.action).then(|| call.action.clone()),
        fault: call.fault,
        expect,
    }
}
