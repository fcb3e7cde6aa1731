//! Playing prepared suites: each step's request sent to the backend, its answer checked, and
//! the results gathered into a [`Report`].

use std::time::Instant;

use crate::http::backend::{self, SendError};
use crate::playback::report::{Report, StepReport, StepStatus, SuiteReport};
use crate::playback::suite::{ExpectKind, Mismatch, PreparedStep, PreparedSuite};
use crate::sim::exchange::Exchange;

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
            any_answer |= result.exchange.as_ref().is_some_and(Exchange::answered);
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
            let answer = step.exchange.as_ref().filter(|e| e.answered());
            let speaks_of_signature = answer.is_some_and(|answer| {
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
        refusal_class: step.refusal_class,
        expected: describe_expectation(step),
        body_shape: step.body,
        transport_note: step.transport_note.clone(),
        exchange: None,
        mismatches: Vec::new(),
        skip_reason: step.skip_reason.clone(),
        elapsed_ms: 0,
    }
}

fn describe_expectation(step: &PreparedStep) -> String {
    let Some(expect) = &step.expect else {
        return "nothing: no request is made".into();
    };
    let what = match (step.kind, step.refusal_class) {
        (ExpectKind::Success, _) => "a success: ".to_string(),
        (ExpectKind::Refusal, Some(class)) => format!("a refusal ({class}): "),
        (ExpectKind::Refusal, None) => "a refusal: ".to_string(),
        (ExpectKind::Custom | ExpectKind::Skip, _) => String::new(),
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
    let (exchange, error) = backend::send(url, &suite.request_for(step), envelope).await;
    match error {
        None => {
            result.mismatches = expect.check(&exchange);
            result.elapsed_ms = exchange.elapsed_ms;
        }
        Some(error @ SendError::Unreachable { .. }) => return Err(error),
        Some(error) => result.mismatches.push(Mismatch {
            at: "answer".into(),
            expected: "an answer".into(),
            got: error.to_string(),
        }),
    }
    result.exchange = Some(exchange);
    result.status = if result.mismatches.is_empty() {
        StepStatus::Passed
    } else {
        StepStatus::Failed
    };
    Ok(result)
}
