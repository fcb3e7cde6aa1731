//! The scenario catalogue: one JSON file per scenario in `scenarios/`, embedded at build time.
//!
//! A scenario names a situation (console, platform, user, action, fault, each defaulting to a
//! fully configured app and a consenting user) and declares the verdict and rule it must produce.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

use crate::alipay::error::Error;
use crate::alipay::fault::Fault;
use crate::alipay::model::{Action, Console, Mobile, Quirks, User};
use crate::alipay::outcome::Outcome;
use crate::alipay::simulate::{get_phone_number, Call, Delivery};
use crate::keys::AppKeys;
use crate::oracle::{BusinessResult, Cause, Verdict};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/scenario_files.rs"));
}

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique kebab-case name; also the file's name without `.json`.
    pub name: String,
    /// One line for listings.
    pub title: String,
    /// What the scenario shows and what a backend should do with it.
    pub description: String,
    /// Where the behaviour is documented (sections of the spec).
    pub source: String,
    #[serde(default)]
    pub console: Console,
    #[serde(default)]
    pub platform: Quirks,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub action: Action,
    #[serde(default)]
    pub fault: Option<Fault>,
    /// What the scenario must produce.
    pub expect: DeclaredExpect,
}

/// The verdict and rule a scenario file declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredExpect {
    pub verdict: Verdict,
    /// The rule or fault, as its id under the name `rule`.
    #[serde(rename = "rule", deserialize_with = "crate::alipay::rules::read_cause")]
    pub cause: Cause,
    /// The verdict of a backend that follows the doc's "no sign: skip verification", where it
    /// differs from `verdict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_policy: Option<Verdict>,
}

impl Scenario {
    /// The call this scenario describes.
    pub fn call(&self) -> Call {
        Call {
            console: self.console.clone(),
            platform: self.platform.clone(),
            user: self.user.clone(),
            action: self.action.clone(),
            fault: self.fault,
        }
    }

    /// What the plaintext of an authentic envelope says (a phone number, or an error code);
    /// `None` when the scenario's verdict is not `accept`. Decided by the rules alone, without
    /// keys: catalogue scenarios do not depend on a busy probability's draw.
    pub fn business_result(&self) -> Option<BusinessResult> {
        if self.expect.verdict != Verdict::Accept {
            return None;
        }
        match crate::alipay::rules::evaluate(&self.call(), 0.0) {
            Outcome::Envelope(plan) => BusinessResult::of(&plan.plaintext.to_value()),
            Outcome::FrontEnd(_) => None,
        }
    }

    /// `authentic · phone number`, `authentic · 40006, no phone number`, or the verdict
    /// (`reject-signature`): what a listing shows beside the scenario's name.
    pub fn verdict_summary(&self) -> String {
        match self.business_result() {
            Some(result) => format!("authentic · {}", result.summary()),
            None => self.expect.verdict.to_string(),
        }
    }

    /// Runs the scenario with `keys` (the first call of the app), optionally with another mobile.
    pub fn run(&self, keys: &AppKeys, mobile: Option<&Mobile>) -> Result<Fixture, Error> {
        let mut call = self.call();
        if let Some(mobile) = mobile {
            call.user.mobile = mobile.clone();
        }
        Ok(Fixture {
            scenario: Some(self.name.clone()),
            delivery: get_phone_number(&call, keys, 0)?,
        })
    }
}

/// One scenario's result as `alipay-sim envelope` prints it and `fixtures` writes it:
/// `{scenario, app_id, alipay_public_key, aes_key, sign_type, callback, payload, expect}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fixture {
    /// The catalogue scenario, when one decided the call.
    pub scenario: Option<String>,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// One object: `scenario`, then the delivery's fields (see `crate::schema`).
impl utoipa::PartialSchema for Fixture {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        fixture_fields().build()
    }
}

impl utoipa::ToSchema for Fixture {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.extend(fixture_fields().schemas);
    }
}

fn fixture_fields() -> crate::schema::Fields {
    crate::schema::Fields::new(
        "What my.getPhoneNumber gives the page (the callback and its payload), with the keys a \
         backend needs and the oracle: the object `alipay-sim envelope` prints",
    )
    .inline(
        "scenario",
        crate::schema::described(
            utoipa::schema!(Option<String>),
            "The catalogue scenario, when one decided the call",
        ),
    )
    .flatten::<Delivery>()
}

/// The embedded scenarios, sorted by name.
#[derive(Debug)]
pub struct Catalogue {
    scenarios: Vec<Scenario>,
}

impl Catalogue {
    /// Parses scenario files given as (file name, contents). Each error names the file.
    pub fn parse<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Error> {
        let mut scenarios = Vec::new();
        for (file, text) in files {
            let scenario: Scenario =
                serde_json::from_str(text).map_err(|e| Error::ScenarioFile {
                    file: file.to_string(),
                    message: e.to_string(),
                })?;
            if file.strip_suffix(".json") != Some(scenario.name.as_str()) {
                return Err(Error::ScenarioFile {
                    file: file.to_string(),
                    message: format!("name {:?} does not match the file name", scenario.name),
                });
            }
            scenario
                .call()
                .validate()
                .map_err(|e| Error::ScenarioFile {
                    file: file.to_string(),
                    message: e.to_string(),
                })?;
            scenarios.push(scenario);
        }
        scenarios.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Catalogue { scenarios })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scenario> {
        self.scenarios.iter()
    }

    pub fn len(&self) -> usize {
        self.scenarios.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scenarios.is_empty()
    }

    /// The scenario called `name`, or an error listing what exists.
    pub fn get(&self, name: &str) -> Result<&Scenario, Error> {
        self.scenarios
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::UnknownScenario(name.to_string()))
    }
}

/// The catalogue embedded in this build.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        // The embedded files are checked by the test suite; a broken one is a build defect.
        Catalogue::parse(embedded::FILES.iter().copied())
            .unwrap_or_else(|e| panic!("embedded scenario catalogue is invalid: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_parse() {
        assert!(Catalogue::parse(embedded::FILES.iter().copied()).is_ok());
        assert!(catalogue().len() >= 25);
    }

    #[test]
    fn bad_files_are_named() {
        let err = Catalogue::parse([("x.json", "{")]).unwrap_err().to_string();
        assert!(err.contains("x.json"), "{err}");
        let file = r#"{"name":"y","title":"","description":"","source":"","expect":{"verdict":"accept","rule":"success"},"fualt":"missing-sign"}"#;
        let err = Catalogue::parse([("y.json", file)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("y.json") && err.contains("fualt"), "{err}");
        let err = Catalogue::parse([(
            "z.json",
            file.replace(",\"fualt\":\"missing-sign\"", "").as_str(),
        )])
        .unwrap_err()
        .to_string();
        assert!(err.contains("does not match the file name"), "{err}");
    }

    #[test]
    fn unknown_scenarios_are_reported() {
        let err = catalogue().get("no-such").unwrap_err().to_string();
        assert!(err.contains("no-such"), "{err}");
    }
}
