//! Suites from device-page recordings: each recorded call a step, with the answer the backend
//! gave then, in the transport shape it was sent in.

use super::*;

impl Suite {
    /// The suite file: every call inline with the settings it was made with; a call sent to the
    /// backend expects the same status (and JSON body, when it was JSON); the others expect
    /// what the oracle calls for. It carries the app's keys, since the backend under test was
    /// configured with them.
    pub fn from_recording(
        recording: &Recording,
        keys: &AppKeys,
        remembered: Option<&BackendTarget>,
    ) -> Suite {
        let last_sent = recording
            .steps
            .iter()
            .rev()
            .find_map(|s| s.exchange.as_ref());
        let mut backend = BackendSpec::default();
        if let Some(exchange) = last_sent {
            backend.url = Some(exchange.url.clone());
            backend.body = exchange.body_shape;
        } else if let Some(target) = remembered {
            backend.url = Some(target.url.clone());
            backend.body = target.body_shape;
        }
        let steps = recording
            .steps
            .iter()
            .enumerate()
            .map(|(i, recorded)| recorded_step(i, recorded, backend.body))
            .collect();
        Suite {
            name: format!("recorded-{}", recording.app_id),
            description: format!(
                "Recorded on the device page of app {} from {}: each step is a call with the settings it was made with and the answer the backend gave then.",
                recording.app_id, recording.started
            ),
            backend,
            success: AnswerSpec::default_success(),
            refusal: AnswerSpec::default_refusal(),
            refusals: RefusalSpecs::default(),
            policy: Default::default(),
            keys: Some(SuiteKeys::of(keys)),
            steps,
        }
    }
}

/// A recorded call as a step; a call sent in another shape than the suite's (`body`, the
/// shape of the last call sent) keeps its own.
fn recorded_step(index: usize, recorded: &RecordedCall, body: BodyShape) -> Step {
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
    Step::AlipayPhone(AlipayPhoneStep {
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
        body: recorded
            .exchange
            .as_ref()
            .map(|e| e.body_shape)
            .filter(|shape| *shape != body),
        expect,
    })
}
