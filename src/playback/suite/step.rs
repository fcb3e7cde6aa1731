//! One step of a suite: the flow it plays, the call it makes and what its answer must show.
//!
//! A step names its flow in `flow`; a step without one plays the Alipay phone flow, so that
//! the suites written before there were flows load as they are. The step is a closed enum,
//! one variant per flow: a new flow makes every `match` on it (and `let Step::AlipayPhone(..)`)
//! a compile error until it is handled.

use std::fmt;

use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Serializer;

use super::*;

/// One step of a suite, by the flow it plays.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `"flow": "alipay-phone"`, or no `flow`: a `my.getPhoneNumber` call.
    AlipayPhone(AlipayPhoneStep),
}

/// The flows a step can play, by their names in `flow` (serde's and strum's, the same).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Flow {
    /// Alipay's `my.getPhoneNumber`: the flow of a step without `flow`.
    #[default]
    AlipayPhone,
}

impl Step {
    /// The flow it plays.
    pub fn flow(&self) -> Flow {
        match self {
            Step::AlipayPhone(_) => Flow::AlipayPhone,
        }
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // The default flow is written without `flow`, as suites were before there were flows.
            Step::AlipayPhone(step) => step.serialize(serializer),
        }
    }
}

/// The keys of an Alipay phone step, in the order its errors list them (a test holds them to
/// the struct's fields).
const ALIPAY_PHONE_KEYS: &[&str] = &[
    "name", "scenario", "mobile", "console", "platform", "user", "action", "fault", "body",
    "expect",
];

/// The tag `flow`, read as the step streams: `#[serde(tag = "flow")]` would buffer the object
/// first, losing the path and position of every error inside it (`steps[1].expect: unknown
/// field ... at line 3 column 40`), and has no default for a step without a tag. The flow is
/// known from the first key: `flow` when it comes first, else the default; a `flow` given later
/// must name that same flow.
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("Step", ALIPAY_PHONE_KEYS, StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("struct Step")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Step, A::Error> {
        Err(A::Error::custom(crate::de::ARRAY_FOR_OBJECT))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let (flow, first, flow_given) = match map.next_key_seed(FirstKey)? {
            Some(First::Flow) => (map.next_value::<Flow>()?, None, true),
            Some(First::Key(key)) => (Flow::default(), Some(key), false),
            None => (Flow::default(), None, false),
        };
        let fields = StepFields {
            map,
            first,
            flow,
            flow_given,
        };
        match flow {
            Flow::AlipayPhone => AlipayPhoneStep::deserialize(MapAccessDeserializer::new(fields))
                .map(Step::AlipayPhone),
        }
    }
}

/// A step's first key: `flow`, or one of the default flow's keys (another is refused as the
/// struct's own visitor would refuse it, while the path still ends in the key).
struct FirstKey;

enum First {
    Flow,
    Key(String),
}

impl<'de> DeserializeSeed<'de> for FirstKey {
    type Value = First;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<First, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for FirstKey {
    type Value = First;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("field identifier")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<First, E> {
        match key {
            "flow" => Ok(First::Flow),
            key if ALIPAY_PHONE_KEYS.contains(&key) => Ok(First::Key(key.to_string())),
            key => Err(E::unknown_field(key, ALIPAY_PHONE_KEYS)),
        }
    }
}

/// The step's object without its `flow`, for the flow's struct to read: the first key again
/// when it was not `flow`, then the others, a later `flow` taken out.
struct StepFields<A> {
    map: A,
    first: Option<String>,
    flow: Flow,
    flow_given: bool,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StepFields<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some(key) = self.first.take() {
            return seed.deserialize(StrDeserializer::new(&key)).map(Some);
        }
        let mut seed = seed;
        loop {
            match self.map.next_key_seed(KeyOrFlow(seed))? {
                None => return Ok(None),
                Some(Key::Other(key)) => return Ok(Some(key)),
                Some(Key::Flow(_)) if self.flow_given => {
                    return Err(A::Error::duplicate_field("flow"))
                }
                Some(Key::Flow(unused)) => {
                    self.map.next_value_seed(SameFlow(self.flow))?;
                    self.flow_given = true;
                    seed = unused;
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A key after the first: `flow` (the seed given back, unused), or another for `K`.
struct KeyOrFlow<K>(K);

enum Key<V, K> {
    Flow(K),
    Other(V),
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeyOrFlow<K> {
    type Value = Key<K::Value, K>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de, K: DeserializeSeed<'de>> Visitor<'de> for KeyOrFlow<K> {
    type Value = Key<K::Value, K>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("field identifier")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        match key {
            "flow" => Ok(Key::Flow(self.0)),
            key => self
                .0
                .deserialize(StrDeserializer::new(key))
                .map(Key::Other),
        }
    }
}

/// A `flow` after other keys: it must name the flow those were read as.
struct SameFlow(Flow);

impl<'de> DeserializeSeed<'de> for SameFlow {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let flow = Flow::deserialize(deserializer)?;
        if flow != self.0 {
            return Err(D::Error::custom(format!(
                "a step of the {flow} flow gives `flow` first: the keys before it were read as a step of the {} flow",
                self.0
            )));
        }
        Ok(())
    }
}

/// A step of the Alipay phone flow: a catalogue scenario, or a call given inline, and what the
/// answer must show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct AlipayPhoneStep {
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
    /// The transport shape of this step's request, instead of the suite's `backend.body`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyShape>,
    #[serde(default, skip_serializing_if = "StepExpect::is_oracle")]
    pub expect: StepExpect,
}

/// What a step's answer must show.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum StepExpect {
    /// Derived from the oracle: the suite's `success` for an envelope whose plaintext is code
    /// 10000 with a mobile, else the refusal of the envelope's class (`refusals`, falling back
    /// to `refusal`).
    #[default]
    Oracle,
    Success,
    /// A refusal, of the class the oracle gives (the plain `refusal` when it gives none).
    Refusal,
    /// A refusal of this class, whatever the oracle says: `"forged"`, say, for a backend that
    /// reads a raw-form body through a form decoder.
    RefusalOf(RefusalClass),
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
            StepExpect::RefusalOf(class) => serializer.serialize_str(class.as_str()),
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
                other => match <RefusalClass as strum::IntoEnumIterator>::iter()
                    .find(|class| class.as_str() == other)
                {
                    Some(class) => Ok(StepExpect::RefusalOf(class)),
                    None => Err(D::Error::custom(format!(
                        "unknown expectation {other:?}: expected \"oracle\", \"success\", \"refusal\", \"not-a-phone-number\", \"forged\", \"unparseable\" or an object"
                    ))),
                },
            },
            object @ Value::Object(_) => AnswerSpec::deserialize(object)
                .map(StepExpect::Answer)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected \"oracle\", \"success\", \"refusal\", a refusal class or an object, got {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text))
            .map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn the_keys_are_the_struct_fields_in_order() {
        let step = AlipayPhoneStep {
            name: Some("n".into()),
            scenario: Some("success".into()),
            mobile: Some("13912345678".parse().unwrap()),
            console: Some(Console::default()),
            platform: Some(Quirks::default()),
            user: Some(User::default()),
            action: Some(Action::default()),
            fault: Some(Fault::MissingSign),
            body: Some(BodyShape::SplitJson),
            expect: StepExpect::Success,
        };
        let value = serde_json::to_value(Step::AlipayPhone(step)).unwrap();
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ALIPAY_PHONE_KEYS);
    }

    /// Without `flow`, a step reads exactly as the Alipay phone step's own struct reads it:
    /// the same value, or the same error at the same path and position.
    #[test]
    fn a_step_without_flow_reads_as_an_alipay_phone_step() {
        for step in [
            r#"{}"#,
            r#"{"scenario":"success","mobile":"13912345678","expect":"refusal"}"#,
            r#"{"scenario":"success","body":"raw-form","expect":"forged"}"#,
            r#"{"scenario":"success","body":"xml"}"#,
            r#"{"scenario":"success","expect":"forgd"}"#,
            r#"{"name":"a","console":{"signing":"RSA"},"fault":"missing-sign"}"#,
            r#"{"scenari":"success"}"#,
            r#"{"scenario":"success","nope":1}"#,
            r#"{"scenario":"success","scenario":"success"}"#,
            r#"{"scenario":"success","expect":{"statsu":200}}"#,
            r#"{"expect":{"status":"600"}}"#,
            r#"{"console":{"signing":["RSA2"]}}"#,
            r#"{"fault":3}"#,
            r#"{"mobile":5}"#,
            r#"[1]"#,
            r#""a""#,
            r#"null"#,
        ] {
            let text = format!("[{step}]");
            let as_step = read::<Vec<Step>>(&text).map(|steps| {
                steps
                    .into_iter()
                    .map(|Step::AlipayPhone(s)| s)
                    .collect::<Vec<_>>()
            });
            // serde names the struct by its Rust name in "expected struct ...".
            let as_struct = read::<Vec<AlipayPhoneStep>>(&text)
                .map_err(|e| e.replace("struct AlipayPhoneStep", "struct Step"));
            assert_eq!(as_step, as_struct, "{step}");
        }
    }

    #[test]
    fn a_step_names_its_transport_and_a_refusal_class() {
        let step: Step = serde_json::from_str(
            r#"{"scenario":"success","body":"split-json","expect":"not-a-phone-number"}"#,
        )
        .unwrap();
        let Step::AlipayPhone(phone) = &step;
        assert_eq!(phone.body, Some(BodyShape::SplitJson));
        assert_eq!(
            phone.expect,
            StepExpect::RefusalOf(RefusalClass::NotAPhoneNumber)
        );
        assert_eq!(
            serde_json::to_string(&step).unwrap(),
            r#"{"scenario":"success","body":"split-json","expect":"not-a-phone-number"}"#
        );
        let err = read::<Step>(r#"{"expect":"forgd"}"#).unwrap_err();
        assert!(
            err.contains(r#"unknown expectation "forgd": expected "oracle", "success", "refusal", "not-a-phone-number", "forged", "unparseable" or an object"#),
            "{err}"
        );
    }

    #[test]
    fn flow_names_the_alipay_phone_flow_first_or_later() {
        let plain: Step = serde_json::from_str(r#"{"scenario":"success"}"#).unwrap();
        assert_eq!(plain.flow(), Flow::AlipayPhone);
        for text in [
            r#"{"flow":"alipay-phone","scenario":"success"}"#,
            r#"{"scenario":"success","flow":"alipay-phone"}"#,
        ] {
            assert_eq!(serde_json::from_str::<Step>(text).unwrap(), plain, "{text}");
        }
        // Written back without `flow`, as before.
        assert_eq!(
            serde_json::to_string(&plain).unwrap(),
            r#"{"scenario":"success"}"#
        );
        // strum's names are serde's.
        for flow in <Flow as strum::IntoEnumIterator>::iter() {
            assert_eq!(serde_json::to_value(flow).unwrap(), flow.to_string());
        }
        assert_eq!(Flow::AlipayPhone.to_string(), "alipay-phone");
    }

    #[test]
    fn an_unknown_flow_is_refused_naming_the_file_the_step_and_the_flows() {
        for text in [
            r#"{"name":"x","steps":[{"scenario":"success"},{"flow":"wechat-phone","scenario":"success"}]}"#,
            r#"{"name":"x","steps":[{"scenario":"success"},{"scenario":"success","flow":"wechat-phone"}]}"#,
        ] {
            let err = LoadedSuite::parse("my-suite.json", text)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(
                    "my-suite.json: steps[1].flow: unknown variant `wechat-phone`, expected `alipay-phone`"
                ),
                "{err}"
            );
        }
        let err = LoadedSuite::parse("my-suite.json", r#"{"name":"x","steps":[{"flow":1}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "my-suite.json: steps[0].flow: expected `alipay-phone`, got 1"
        );
        let err =
            read::<Step>(r#"{"flow":"alipay-phone","scenario":"success","flow":"alipay-phone"}"#)
                .unwrap_err();
        assert_eq!(err, ".: duplicate field `flow` at line 1 column 50");
    }
}
