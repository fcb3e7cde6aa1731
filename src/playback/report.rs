//! What a run reports, and its renderings: text as the run goes and at its end, JSON (the
//! types' serde form), JUnit XML.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::oracle::Expect;
use crate::oracle::Verdict;
use crate::playback::suite::{ExpectKind, Mismatch, RefusalClass};
use crate::sim::exchange::Exchange;
use crate::sim::store::BodyShape;

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Steps left when `--fail-fast` stopped the run.
    pub not_run: usize,
    pub elapsed_ms: u64,
    /// When the run started, RFC 3339.
    pub timestamp: String,
    /// What the failures suggest, when they follow a pattern: most envelopes that should give
    /// a phone number refused at the signature means the backend holds other keys.
    pub hint: Option<String>,
    pub suites: Vec<SuiteReport>,
}

impl Report {
    pub fn success(&self) -> bool {
        self.failed == 0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SuiteReport {
    pub name: String,
    pub file: String,
    pub backend: String,
    pub elapsed_ms: u64,
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
}

/// One step's result, with everything needed to see why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub index: usize,
    pub name: String,
    pub scenario: Option<String>,
    pub status: StepStatus,
    /// What a correct backend concludes from the envelope, and the rule behind it.
    pub oracle: Expect,
    pub expected_kind: ExpectKind,
    /// For a step that expects a refusal: its class (`not-a-phone-number`, `forged`,
    /// `unparseable`), from the oracle or the step's `expect`; else null.
    pub refusal_class: Option<RefusalClass>,
    /// The expectation in words, e.g. `a refusal (forged): status 4xx`.
    pub expected: String,
    /// The transport shape the step's request was made in.
    pub body_shape: BodyShape,
    /// What the backend must do to read the envelope in that shape, when it is more than
    /// taking one field (e.g. `raw-form`: read the raw body).
    pub transport_note: Option<String>,
    /// The request sent and its answer, or why there was none. The JSON report shows it as
    /// `sent` and `answer` (null when there was none).
    #[serde(flatten, serialize_with = "sent_and_answer")]
    pub exchange: Option<Exchange>,
    /// Why the step failed (empty when it passed) or was skipped.
    pub mismatches: Vec<Mismatch>,
    pub skip_reason: Option<String>,
    pub elapsed_ms: u64,
}

/// A step's exchange in the JSON report: `sent`, the request, and `answer`.
fn sent_and_answer<S: Serializer>(
    exchange: &Option<Exchange>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Sent<'a> {
        method: &'a str,
        url: &'a str,
        /// Null for a GET with the envelope in the query.
        content_type: Option<&'a str>,
        /// The body, or the query string of a GET.
        body: &'a str,
    }
    #[derive(Serialize)]
    struct Answer<'a> {
        status: u16,
        headers: &'a [(String, String)],
        body: &'a str,
        truncated: bool,
        elapsed_ms: u64,
    }
    let sent = exchange.as_ref().map(|e| Sent {
        method: &e.method,
        url: &e.url,
        content_type: e.content_type(),
        body: &e.request_body,
    });
    let answer = exchange.as_ref().and_then(|e| {
        Some(Answer {
            status: e.status?,
            headers: &e.headers,
            body: &e.body,
            truncated: e.truncated,
            elapsed_ms: e.elapsed_ms,
        })
    });
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("sent", &sent)?;
    map.serialize_entry("answer", &answer)?;
    map.end()
}

/// `ok`/`FAIL`/`skip` and the step, with the details of a failure: what was sent, what came
/// back, what was expected, and the differences as `-` expected / `+` got lines.
pub fn render_step(suite: &str, step: &StepReport) -> String {
    let mut out = String::new();
    let scenario = match &step.scenario {
        Some(s) if *s != step.name => format!(" [{s}]"),
        _ => String::new(),
    };
    match step.status {
        StepStatus::Passed => {
            out.push_str(&format!(
                "ok    {suite} › {}{scenario}  ({}, {} ms)\n",
                step.name,
                short_kind(step),
                step.elapsed_ms
            ));
        }
        StepStatus::Skipped => {
            out.push_str(&format!(
                "skip  {suite} › {}{scenario}  ({})\n",
                step.name,
                step.skip_reason.as_deref().unwrap_or("skipped")
            ));
        }
        StepStatus::Failed => {
            out.push_str(&format!("FAIL  {suite} › {}{scenario}\n", step.name));
            let pad = "        ";
            out.push_str(&format!(
                "{pad}oracle:   {} ({}): {}\n",
                step.oracle.verdict, step.oracle.cause, step.oracle.reason
            ));
            if let Some(plaintext) = step
                .oracle
                .plaintext
                .as_ref()
                .filter(|_| step.oracle.verdict == Verdict::Accept)
            {
                out.push_str(&format!("{pad}          plaintext {plaintext}\n"));
            }
            out.push_str(&format!("{pad}expected: {}\n", step.expected));
            if let Some(note) = &step.transport_note {
                out.push_str(&format!("{pad}transport: {}\n", clip(note, 600)));
            }
            if let Some(sent) = &step.exchange {
                let how = match sent.content_type() {
                    Some(content_type) => format!("{}, {content_type}", sent.body_shape),
                    None => format!("{}, no body; the query string", sent.body_shape),
                };
                out.push_str(&format!(
                    "{pad}sent:     {} {} ({how})\n{pad}          {}\n",
                    sent.method,
                    sent.url,
                    clip(&sent.request_body, 400)
                ));
            }
            match step.exchange.as_ref().and_then(|e| Some((e.status?, e))) {
                Some((status, answer)) => {
                    let kind = answer
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                        .map(|(_, v)| format!(", {v}"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "{pad}got:      {} in {} ms{kind}\n{pad}          {}\n",
                        status,
                        answer.elapsed_ms,
                        if answer.body.is_empty() {
                            "(empty body)".to_string()
                        } else {
                            clip(&answer.body, 400)
                        }
                    ));
                }
                None => out.push_str(&format!("{pad}got:      no answer\n")),
            }
            out.push_str(&format!("{pad}diff:\n"));
            for mismatch in &step.mismatches {
                out.push_str(&format!(
                    "{pad}  {}\n{pad}    - {}\n{pad}    + {}\n",
                    mismatch.at, mismatch.expected, mismatch.got
                ));
            }
        }
    }
    out
}

fn short_kind(step: &StepReport) -> String {
    match (step.expected_kind, step.refusal_class) {
        (ExpectKind::Success, _) => "accepted as it must be".into(),
        (ExpectKind::Refusal, Some(class)) => format!("refused as it must be: {class}"),
        (ExpectKind::Refusal, None) => "refused as it must be".into(),
        (ExpectKind::Custom | ExpectKind::Skip, _) => "as expected".into(),
    }
}

/// The text on one line, cut at `max` characters.
fn clip(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &one_line[..cut], text.len()),
        None => one_line,
    }
}

/// `N passed, N failed` and what else the run needs to say, then the failing steps by name.
pub fn render_summary(report: &Report) -> String {
    let mut line = format!("{} passed, {} failed", report.passed, report.failed);
    if report.skipped > 0 {
        line.push_str(&format!(
            ", {} skipped (nothing reaches the backend)",
            report.skipped
        ));
    }
    if report.not_run > 0 {
        line.push_str(&format!(", {} not run (--fail-fast)", report.not_run));
    }
    line.push_str(&format!(" in {:.1} s\n", report.elapsed_ms as f64 / 1000.0));
    let failing: Vec<String> = report
        .suites
        .iter()
        .flat_map(|suite| {
            suite
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::Failed)
                .map(move |s| format!("  {} › {}", suite.name, s.name))
        })
        .collect();
    if !failing.is_empty() {
        line.push_str("failed:\n");
        line.push_str(&failing.join("\n"));
        line.push('\n');
    }
    if let Some(hint) = &report.hint {
        line.push_str(&format!("hint: {hint}\n"));
    }
    line
}

/// The report as JUnit XML: one `<testsuite>` per suite, one `<testcase>` per step, with
/// `<failure>` holding the rendered details and `<skipped>` its reason.
pub fn junit_xml(report: &Report) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let tests: usize = report.suites.iter().map(|s| s.steps.len()).sum();
    // The root takes only the attributes that every reader's schema allows (Jenkins' is strict);
    // skips and timestamps are on each <testsuite>.
    xml.push_str(&format!(
        "<testsuites name=\"alipay-sim play\" tests=\"{tests}\" failures=\"{}\" errors=\"0\" time=\"{}\">\n",
        report.failed,
        seconds(report.elapsed_ms),
    ));
    for suite in &report.suites {
        let count = |status| suite.steps.iter().filter(|s| s.status == status).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\" timestamp=\"{}\">\n",
            escape(&suite.name),
            suite.steps.len(),
            count(StepStatus::Failed),
            count(StepStatus::Skipped),
            seconds(suite.elapsed_ms),
            escape(report.timestamp.trim_end_matches('Z')),
        ));
        xml.push_str(&format!(
            "    <properties>\n      <property name=\"file\" value=\"{}\"/>\n      <property name=\"backend\" value=\"{}\"/>\n    </properties>\n",
            escape(&suite.file),
            escape(&suite.backend)
        ));
        for step in &suite.steps {
            xml.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"alipay-sim.{}\" time=\"{}\"",
                escape(&step.name),
                escape(&suite.name),
                seconds(step.elapsed_ms)
            ));
            match step.status {
                StepStatus::Passed => xml.push_str("/>\n"),
                StepStatus::Skipped => xml.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    escape(step.skip_reason.as_deref().unwrap_or("skipped"))
                )),
                StepStatus::Failed => {
                    let message: Vec<String> = step
                        .mismatches
                        .iter()
                        .map(|m| format!("{}: expected {}, got {}", m.at, m.expected, m.got))
                        .collect();
                    xml.push_str(&format!(
                        ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                        escape(&message.join("; ")),
                        escape(&match (step.expected_kind, step.refusal_class) {
                            (ExpectKind::Success, _) => "not accepted".to_string(),
                            (ExpectKind::Refusal, Some(class)) => format!("not refused as {class}"),
                            (ExpectKind::Refusal, None) => "not refused".to_string(),
                            _ => "unexpected answer".to_string(),
                        }),
                        escape(&render_step(&suite.name, step))
                    ));
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Escapes text for XML attributes and content, dropping characters XML 1.0 cannot hold.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            escape("a<b & \"c\"\u{1}"),
            "a&lt;b &amp; &quot;c&quot;\u{FFFD}"
        );
    }

    #[test]
    fn long_bodies_are_clipped() {
        let clipped = clip(&"x".repeat(500), 10);
        assert!(clipped.starts_with("xxxxxxxxxx…") && clipped.contains("500 bytes"));
        assert_eq!(clip("a\nb", 10), "a b");
    }
}
