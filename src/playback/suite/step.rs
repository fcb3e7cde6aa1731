//! One step of a suite: the call it makes and what its answer must show.

use super::*;

/// One step: a catalogue scenario, or a call given inline, and what the answer must show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Step {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The bound mobile, instead of the scenario's or the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Mobile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<Console>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Quirks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    #[serde(default, skip_serializing_if = "StepExpect::is_oracle")]
    pub expect: StepExpect,
}

/// What a step's answer must show.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StepExpect {
    /// Derived from the oracle: the suite's `success` for an envelope whose plaintext is code
    /// 10000 with a mobile, its `refusal` for everything else.
    #[default]
    Oracle,
    Success,
    Refusal,
    Answer(AnswerSpec),
}

impl StepExpect {
    fn is_oracle(&self) -> bool {
        *self == StepExpect::Oracle
    }
}

impl Serialize for StepExpect {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StepExpect::Oracle => serializer.serialize_str("oracle"),
            StepExpect::Success => serializer.serialize_str("success"),
            StepExpect::Refusal => serializer.serialize_str("refusal"),
            StepExpect::Answer(spec) => spec.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for StepExpect {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => match s.as_str() {
                "oracle" => Ok(StepExpect::Oracle),
                "success" => Ok(StepExpect::Success),
                "refusal" => Ok(StepExpect::Refusal),
                other => Err(D::Error::custom(format!(
                    "unknown expectation {other:?}: expected \"oracle\", \"success\", \"refusal\" or an object"
                ))),
            },
            object @ Value::Object(_) => AnswerSpec::deserialize(object)
                .map(StepExpect::Answer)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected \"oracle\", \"success\", \"refusal\" or an object, got {other}"
            ))),
        }
    }
}
