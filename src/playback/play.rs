//! Playback: prepared suites sent to a backend step by step, the answers checked, and the
//! result reported as text, JSON or JUnit XML.

use std::time::Instant;

use serde::Serialize;

use crate::http::backend::{self, Answer, SendError};
use crate::oracle::Expect;
use crate::playback::suite::{ExpectKind, Mismatch, PreparedStep, PreparedSuite};
use crate::Verdict;

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct PlayOptions {
    /// Overrides every suite's `backend.url`.
    pub backend_url: Option<String>,
    /// Stop at the first failing step.
    pub fail_fast: bool,
    /// The seed the keys come from (`--seed`), to name in a hint.
    pub seed: Option<u64>,
}

/// Why a run stopped before it finished.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("{file}: no backend URL: give --backend URL or set backend.url in the suite")]
    NoUrl { file: String },
    #[error("{file}: backend URL {url:?}: {message}")]
    BadUrl {
        file: String,
        url: String,
        message: String,
    },
    #[error("{0}: is the backend running? No step was played")]
    Unreachable(SendError),
    #[error("the backend stopped answering at {suite} › {step}: {error}")]
    WentAway {
        suite: String,
        step: String,
        error: SendError,
    },
}

/// Progress, reported as the run goes.
pub enum Event<'a> {
    Started {
        suite: &'a str,
        step: &'a str,
        /// 1-based position among all steps of the run.
        position: usize,
        total: usize,
    },
    Finished {
        suite: &'a str,
        step: &'a StepReport,
    },
}

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
    /// The expectation in words, e.g. `a refusal: status 4xx`.
    pub expected: String,
    pub sent: Option<Sent>,
    pub answer: Option<Answer>,
    /// Why the step failed (empty when it passed) or was skipped.
    pub mismatches: Vec<Mismatch>,
    pub skip_reason: Option<String>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sent {
    pub method: String,
    pub url: String,
    pub content_type: String,
    pub body: String,
}

/// Plays `suites` in order. Stops with one error when the backend cannot be reached.
pub async fn play(
    suites: &[PreparedSuite],
    options: &PlayOptions,
    progress: &mut dyn FnMut(Event<'_>),
) -> Result<Report, PlayError> {
    let urls = suites
        .iter()
        .map(|suite| {
            options
                .backend_url
                .clone()
                .or_else(|| suite.url.clone())
                .ok_or_else(|| PlayError::NoUrl {
                    file: suite.file.clone(),
                })
                .and_then(|url| check_url(&suite.file, url))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    // Whole seconds: JUnit's schema has no fractions.
    let timestamp = time::OffsetDateTime::now_utc()
        .truncate_to_second()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let total: usize = suites.iter().map(|s| s.steps.len()).sum();
    let mut report = Report {
        passed: 0,
        failed: 0,
        skipped: 0,
        not_run: 0,
        elapsed_ms: 0,
        timestamp,
        hint: None,
        suites: Vec::new(),
    };
    let mut position = 0;
    let mut any_answer = false;
    let mut stop = false;
    for (suite, url) in suites.iter().zip(urls) {
        if stop {
            report.not_run += suite.steps.len();
            continue;
        }
        let suite_started = Instant::now();
        let mut steps = Vec::new();
        for (i, step) in suite.steps.iter().enumerate() {
            position += 1;
            progress(Event::Started {
                suite: &suite.name,
                step: &step.name,
                position,
                total,
            });
            let result = match run_step(suite, step, &url).await {
                Ok(result) => result,
                Err(error) if !any_answer => return Err(PlayError::Unreachable(error)),
                Err(error) => {
                    return Err(PlayError::WentAway {
                        suite: suite.name.clone(),
                        step: step.name.clone(),
                        error,
                    })
                }
            };
            any_answer |= result.answer.is_some();
            match result.status {
                StepStatus::Passed => report.passed += 1,
                StepStatus::Failed => report.failed += 1,
                StepStatus::Skipped => report.skipped += 1,
            }
            progress(Event::Finished {
                suite: &suite.name,
                step: &result,
            });
            let failed = result.status == StepStatus::Failed;
            steps.push(result);
            if failed && options.fail_fast {
                report.not_run += suite.steps.len() - i - 1;
                stop = true;
                break;
            }
        }
        report.suites.push(SuiteReport {
            name: suite.name.clone(),
            file: suite.file.clone(),
            backend: url,
            elapsed_ms: suite_started.elapsed().as_millis() as u64,
            steps,
        });
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report.hint = keys_hint(suites, &report, options.seed);
    Ok(report)
}

/// A hint when the backend probably holds other keys: at least half of the steps that expect
/// a phone number failed with an answer that speaks of the signature, and no step that expects
/// a refusal failed (a backend that verifies the wrong bytes accepts some forgery).
fn keys_hint(suites: &[PreparedSuite], report: &Report, seed: Option<u64>) -> Option<String> {
    let mut wanted = 0;
    let mut refused_at_signature = 0;
    let mut own_keys = Vec::new();
    for (suite, played) in suites.iter().zip(&report.suites) {
        for step in &played.steps {
            let failed = step.status == StepStatus::Failed;
            match step.expected_kind {
                ExpectKind::Success => wanted += 1,
                ExpectKind::Refusal if failed => return None,
                _ => continue,
            }
            let speaks_of_signature = step.answer.as_ref().is_some_and(|answer| {
                let body = answer.body.to_lowercase();
                body.contains("sign") || body.contains("签")
            });
            if failed && speaks_of_signature {
                refused_at_signature += 1;
                if suite.own_keys && !own_keys.contains(&suite.file) {
                    own_keys.push(suite.file.clone());
                }
            }
        }
    }
    if refused_at_signature == 0 || refused_at_signature * 2 < wanted {
        return None;
    }
    let question = match (own_keys.first(), seed) {
        (Some(file), _) => format!("Is it configured with the keys in {file}?"),
        (None, Some(seed)) => format!(
            "Is it configured with `alipay-sim keys --seed {seed}`? (play used seed {seed})"
        ),
        (None, None) => "Is it configured with the keys play signs with?".to_string(),
    };
    Some(format!(
        "{refused_at_signature} of {wanted} steps that expect a phone number were refused at the signature: the backend's keys probably belong to another seed or app. {question}"
    ))
}

/// A plain-HTTP URL, or why not: the client has no TLS, as backends under test are local.
fn check_url(file: &str, url: String) -> Result<String, PlayError> {
    let bad = |message: &str| PlayError::BadUrl {
        file: file.to_string(),
        url: url.clone(),
        message: message.to_string(),
    };
    match reqwest::Url::parse(&url) {
        Ok(parsed) if parsed.scheme() == "http" && parsed.host().is_some() => Ok(url),
        Ok(parsed) if parsed.scheme() == "https" => Err(bad(
            "https is not supported (no TLS client): play against the backend's plain-HTTP address",
        )),
        Ok(_) => Err(bad("expected an http:// URL")),
        Err(e) => Err(bad(&e.to_string())),
    }
}

fn base_report(step: &PreparedStep) -> StepReport {
    StepReport {
        index: step.index,
        name: step.name.clone(),
        scenario: step.scenario.clone(),
        status: StepStatus::Skipped,
        oracle: step.oracle.clone(),
        expected_kind: step.kind,
        expected: describe_expectation(step),
        sent: None,
        answer: None,
        mismatches: Vec::new(),
        skip_reason: step.skip_reason.clone(),
        elapsed_ms: 0,
    }
}

fn describe_expectation(step: &PreparedStep) -> String {
    let Some(expect) = &step.expect else {
        return "nothing: no request is made".into();
    };
    let what = match step.kind {
        ExpectKind::Success => "a success: ",
        ExpectKind::Refusal => "a refusal: ",
        ExpectKind::Custom | ExpectKind::Skip => "",
    };
    format!("{what}{}", expect.describe())
}

/// Plays one step. Only an unreachable backend is an error: any other failure to get an
/// answer (a timeout, a broken connection) fails the step.
async fn run_step(
    suite: &PreparedSuite,
    step: &PreparedStep,
    url: &str,
) -> Result<StepReport, SendError> {
    let mut result = base_report(step);
    let (Some(envelope), Some(expect)) = (&step.envelope, &step.expect) else {
        return Ok(result);
    };
    let (content_type, body) = suite.request.body_for(envelope);
    result.sent = Some(Sent {
        method: suite.request.method.to_string(),
        url: url.to_string(),
        content_type: content_type.to_string(),
        body: body.clone(),
    });
    match backend::send(url, &suite.request, content_type, body).await {
        Ok(answer) => {
            result.mismatches = expect.check(&answer);
            result.elapsed_ms = answer.elapsed_ms;
            result.answer = Some(answer);
        }
        Err(error @ SendError::Unreachable { .. }) => return Err(error),
        Err(error) => result.mismatches.push(Mismatch {
            at: "answer".into(),
            expected: "an answer".into(),
            got: error.to_string(),
        }),
    }
    result.status = if result.mismatches.is_empty() {
        StepStatus::Passed
    } else {
        StepStatus::Failed
    };
    Ok(result)
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
                short_kind(step.expected_kind),
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
            if let Some(sent) = &step.sent {
                out.push_str(&format!(
                    "{pad}sent:     {} {} ({})\n{pad}          {}\n",
                    sent.method,
                    sent.url,
                    sent.content_type,
                    clip(&sent.body, 400)
                ));
            }
            match &step.answer {
                Some(answer) => {
                    let kind = answer
                        .headers
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                        .map(|(_, v)| format!(", {v}"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "{pad}got:      {} in {} ms{kind}\n{pad}          {}\n",
                        answer.status,
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

fn short_kind(kind: ExpectKind) -> &'static str {
    match kind {
        ExpectKind::Success => "accepted as it must be",
        ExpectKind::Refusal => "refused as it must be",
        ExpectKind::Custom | ExpectKind::Skip => "as expected",
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
                        escape(match step.expected_kind {
                            ExpectKind::Success => "not accepted",
                            ExpectKind::Refusal => "not refused",
                            _ => "unexpected answer",
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
