//! Reading a suite: from a file or the built-in ones, with errors that name the file, the step
//! and the key.

use super::*;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/suite_files.rs"));
}

/// Why a suite cannot be played. Messages name the file, and the step and key when there is one.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{file}: {at}: {message}")]
    At {
        file: String,
        at: String,
        message: String,
    },
    #[error("no suite {0:?}: not a file, nor a built-in suite ({builtins})", builtins = builtin_names().join(", "))]
    NotFound(String),
}

/// A suite read from a file or the built-in ones.
#[derive(Debug, Clone)]
pub struct LoadedSuite {
    /// The path, or `built-in:NAME`.
    pub file: String,
    pub suite: Suite,
}

impl LoadedSuite {
    /// Parses suite text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<LoadedSuite, SuiteError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let suite: Suite = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let at = error.path().to_string();
            let message =
                wrong_type_for_choice(text, &error).unwrap_or_else(|| error.inner().to_string());
            if at == "." || at.is_empty() {
                SuiteError::File {
                    file: file.to_string(),
                    message,
                }
            } else {
                SuiteError::At {
                    file: file.to_string(),
                    at,
                    message,
                }
            }
        })?;
        if suite.steps.is_empty() {
            return Err(SuiteError::At {
                file: file.into(),
                at: "steps".into(),
                message: "the suite has no steps".into(),
            });
        }
        Ok(LoadedSuite {
            file: file.to_string(),
            suite,
        })
    }

    /// A path to a suite file, or the name of a built-in suite.
    pub fn load(argument: &str) -> Result<LoadedSuite, SuiteError> {
        let path = std::path::Path::new(argument);
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| SuiteError::File {
                file: argument.to_string(),
                message: format!("cannot read it: {e}"),
            })?;
            return LoadedSuite::parse(argument, &text);
        }
        if let Some((_, text)) = builtin(argument) {
            return LoadedSuite::parse(&format!("built-in:{argument}"), text);
        }
        if path.exists() {
            return Err(SuiteError::File {
                file: argument.to_string(),
                message: "not a file".into(),
            });
        }
        Err(SuiteError::NotFound(argument.to_string()))
    }
}

/// serde_json reports a number, list or `true` where one of a few names (an enum) is expected
/// as a syntax error, "expected value", without naming the choices. When the text is valid JSON,
/// that is what happened: the names are found by putting a name that is none of them there.
fn wrong_type_for_choice(
    text: &str,
    error: &serde_path_to_error::Error<serde_json::Error>,
) -> Option<String> {
    if !error.inner().is_syntax() {
        return None;
    }
    let mut value: Value = serde_json::from_str(text).ok()?;
    let slot = value_at(&mut value, error.path())?;
    let given = std::mem::replace(slot, Value::String("\u{1}".into()));
    let probe = serde_path_to_error::deserialize::<_, Suite>(&value).err()?;
    if probe.path().to_string() != error.path().to_string() {
        return None;
    }
    let message = probe.inner().to_string();
    let (_, choices) = message.split_once(", expected ")?;
    Some(format!("expected {choices}, got {given}"))
}

/// The value a serde path points to.
fn value_at<'v>(value: &'v mut Value, path: &serde_path_to_error::Path) -> Option<&'v mut Value> {
    use serde_path_to_error::Segment;
    let mut here = value;
    for segment in path.iter() {
        here = match segment {
            Segment::Seq { index } => here.get_mut(*index)?,
            Segment::Map { key } => here.get_mut(key.as_str())?,
            Segment::Enum { .. } | Segment::Unknown => return None,
        };
    }
    Some(here)
}

/// The built-in suites' names.
pub fn builtin_names() -> Vec<&'static str> {
    embedded::FILES
        .iter()
        .filter_map(|(file, _)| file.strip_suffix(".json"))
        .collect()
}

fn builtin(name: &str) -> Option<(&'static str, &'static str)> {
    let name = name.strip_prefix("built-in:").unwrap_or(name);
    embedded::FILES
        .iter()
        .copied()
        .find(|(file, _)| file.strip_suffix(".json") == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadedSuite, SuiteError> {
        LoadedSuite::parse("my-suite.json", text)
    }

    #[test]
    fn builtin_suites_parse_and_prepare() {
        assert!(builtin_names().iter().any(|n| n.contains("conformance")));
        for name in builtin_names() {
            let loaded = LoadedSuite::load(name).unwrap();
            loaded.prepare(AppKeys::for_seed(0).unwrap()).unwrap();
        }
    }

    #[test]
    fn errors_name_file_step_and_key() {
        let err = parse(r#"{"name":"x","steps":[{"scenario":"success"},{"scenario":"success","expect":{"statsu":200}}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("my-suite.json: steps[1].expect"), "{err}");
        assert!(err.contains("statsu"), "{err}");

        let err = parse(r#"{"name":"x","steps":[{"scenario":"nope"}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("my-suite.json: steps[0] (nope).scenario") && err.contains("\"nope\""),
            "{err}"
        );

        let err = parse(r#"{"name":"x","steps":[{"name":"a","fault":"missing-sign","action":{"kind":"refuse"}}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("steps[0] (a)") && err.contains("missing-sign"),
            "{err}"
        );

        let err =
            parse(r#"{"name":"x","steps":[{"scenario":"success","expect":{"body_matches":"("}}]}"#)
                .unwrap()
                .prepare(AppKeys::for_seed(0).unwrap())
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("steps[0] (success).expect.body_matches"),
            "{err}"
        );

        let err = parse(r#"{"name":"x","steps":[{"scenario":"wrong-signing-key","expect":{"json":{"m":"{{mobile}}"}}}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("expect.json") && err.contains("{{mobile}}"),
            "{err}"
        );

        let err =
            parse(r#"{"name":"x","refusal":{"status":"600"},"steps":[{"scenario":"success"}]}"#)
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("refusal.status") && err.contains("600"),
            "{err}"
        );

        let err = parse(r#"{"name":"x","backend":{"body":"raw","values":{"t":"1"}},"steps":[{"scenario":"success"}]}"#)
            .unwrap()
            .prepare(AppKeys::for_seed(0).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("backend.values"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_field_and_what_it_takes() {
        let err = parse(r#"{"name":"x","backend":{"body":1},"steps":[{"scenario":"success"}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "my-suite.json: backend.body: expected one of `json`, `form`, `raw`, `raw-json`, `raw-form`, `query`, `split-json`, `split-form`, got 1"
        );
        let err = parse(r#"{"name":"x","steps":[{"console":{"signing":["RSA2"]}}]}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "my-suite.json: steps[0].console.signing: expected one of `none`, `RSA2`, `RSA`, got [\"RSA2\"]"
        );
        // Text that is not JSON still gets the parser's position.
        let err = parse(r#"{"name": "x", "steps": [}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected value at line 1 column 25"), "{err}");
    }

    #[test]
    fn conformance_plays_every_catalogue_scenario_once() {
        let suite = LoadedSuite::load("conformance").unwrap().suite;
        let steps: Vec<&str> = suite
            .steps
            .iter()
            .map(|Step::AlipayPhone(s)| s.scenario.as_deref().unwrap())
            .collect();
        let catalogue: Vec<&str> = catalogue().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(steps, catalogue);
        assert!(suite
            .steps
            .iter()
            .all(|Step::AlipayPhone(s)| s.expect == StepExpect::Oracle));
    }

    #[test]
    fn suites_round_trip() {
        let text = builtin("conformance").unwrap().1;
        let suite: Suite = serde_json::from_str(text).unwrap();
        let again: Suite = serde_json::from_str(&serde_json::to_string(&suite).unwrap()).unwrap();
        assert_eq!(suite, again);
    }
}
