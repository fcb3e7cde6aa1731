//! Conditions on a backend's answer, as a suite file gives them: statuses, JSON, text, a regular
//! expression, latency.

use super::*;

/// Conditions on a backend's answer. Strings may use `{{mobile}}` and `{{code}}`: the mobile
/// and code of the plaintext a correct backend reads from the step's envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct AnswerSpec {
    /// `200`, `"2xx"`, `"400-499"`, or a list of those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSpec>,
    /// A JSON value the body must contain: objects may have more keys than given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// A regular expression (Rust `regex` syntax) that must match somewhere in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_matches: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
}

impl AnswerSpec {
    /// A 2xx answer whose body holds the mobile.
    pub fn default_success() -> Self {
        AnswerSpec {
            status: Some(StatusSpec(vec![(200, 299)])),
            body_contains: Some("{{mobile}}".into()),
            ..Default::default()
        }
    }

    /// A 4xx answer.
    pub fn default_refusal() -> Self {
        AnswerSpec {
            status: Some(StatusSpec(vec![(400, 499)])),
            ..Default::default()
        }
    }
}

/// Accepted status codes, as inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSpec(pub Vec<(u16, u16)>);

impl StatusSpec {
    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
    }

    fn parse_one(text: &str) -> Result<(u16, u16), String> {
        let code = |s: &str| -> Result<u16, String> {
            s.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| format!("{s:?} is not an HTTP status (100 to 599)"))
        };
        let text = text.trim();
        if let Some(class) = text.strip_suffix("xx").or_else(|| text.strip_suffix("XX")) {
            let first = code(&format!("{class}00"))?;
            return Ok((first, first + 99));
        }
        if let Some((low, high)) = text.split_once('-') {
            let (low, high) = (code(low)?, code(high)?);
            if low > high {
                return Err(format!("{text:?}: the range is empty"));
            }
            return Ok((low, high));
        }
        code(text).map(|c| (c, c))
    }
}

impl std::fmt::Display for StatusSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|&(low, high)| match (low, high) {
                (l, h) if l == h => l.to_string(),
                (l, h) if l % 100 == 0 && h == l + 99 => format!("{}xx", l / 100),
                (l, h) => format!("{l}-{h}"),
            })
            .collect();
        f.write_str(&parts.join(" or "))
    }
}

impl Serialize for StatusSpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [(low, high)] if low == high => serializer.serialize_u16(*low),
            [(low, high)] => serializer.serialize_str(&format!("{low}-{high}")),
            ranges => serializer.collect_seq(ranges.iter().map(|(low, high)| {
                if low == high {
                    low.to_string()
                } else {
                    format!("{low}-{high}")
                }
            })),
        }
    }
}

impl<'de> Deserialize<'de> for StatusSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let one = |value: &Value| -> Result<(u16, u16), String> {
            match value {
                Value::Number(n) => StatusSpec::parse_one(&n.to_string()),
                Value::String(s) => StatusSpec::parse_one(s),
                other => Err(format!(
                    "{other} is not a status: give 200, \"2xx\" or \"400-499\""
                )),
            }
        };
        let ranges = match Value::deserialize(deserializer)? {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(one)
                .collect::<Result<Vec<_>, _>>()
                .map_err(D::Error::custom)?,
            Value::Array(_) => return Err(D::Error::custom("an empty list of statuses")),
            value => vec![one(&value).map_err(D::Error::custom)?],
        };
        Ok(StatusSpec(ranges))
    }
}

/// A regular expression's error on one line: the pattern, what is wrong, and where.
pub(super) fn regex_error(pattern: &str, error: &regex::Error) -> String {
    let text = error.to_string();
    let what = text
        .lines()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().last().unwrap_or_default());
    // The parser shows the pattern indented by four spaces, with a caret line under the fault.
    let at = text
        .lines()
        .find(|line| line.trim_start().starts_with('^') && line.trim().chars().all(|c| c == '^'))
        .filter(|_| !pattern.contains('\n'))
        .and_then(|caret| (caret.len() - caret.trim_start().len()).checked_sub(4))
        .map(|column| format!(" at character {}", column + 1))
        .unwrap_or_default();
    format!("{pattern:?} is not a valid regular expression: {what}{at}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse() {
        let spec: StatusSpec = serde_json::from_str(r#"["2xx", 302, "400-403"]"#).unwrap();
        assert!(spec.contains(204) && spec.contains(302) && spec.contains(403));
        assert!(!spec.contains(404) && !spec.contains(301));
        assert_eq!(spec.to_string(), "2xx or 302 or 400-403");
        assert!(serde_json::from_str::<StatusSpec>(r#""4xx-5""#).is_err());
        assert!(serde_json::from_str::<StatusSpec>(r#""499-400""#).is_err());
    }
}
