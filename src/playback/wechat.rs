//! WeChat suites: a backend's login and phone-number routes played against the simulator's
//! WeChat endpoints. Each step is a catalogue scenario: the runner plays the page (wx.login, the
//! tap, the clock, the console) on a served WeChat app, sends the backend what the page would
//! (the login code, the phone code, the legacy payload), checks each answer against the
//! oracle, and then checks from the journal what the backend asked WeChat: that it exchanged
//! the code it was given with the app's appid and secret, never sent a phone code again, and
//! reused its access token.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::backend::{self, RequestShape, SendError};
use crate::oracle::{Expect, Verdict};
use crate::playback::report::{StepReport, StepStatus, SuiteReport};
use crate::playback::suite::{ExpectKind, Mismatch, SuiteError};
use crate::sim::exchange::Exchange;
use crate::sim::state::{SimState, WechatJournalEntry};
use crate::sim::store::BodyShape;
use crate::wechat::keys::WechatKeys;
use crate::wechat::scenario::{scenario, CodeRef, Scenario, Step};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/wechat_suite_files.rs"));
}

crate::wire::wire_enum! {
    "kebab-case",
    /// What the runner checks in the journal after each step.
    pub enum Check {
        /// Every code the page gave was exchanged at jscode2session exactly once, with the
        /// app's appid and secret (and every token fetched with them).
        Credentials,
        /// No phone code was sent to getuserphonenumber again after an answer that used or
        /// refused it (a token error uses none).
        PhoneCodeOnce,
        /// The backend fetched a token once, and again only after WeChat refused the one it had
        /// (40001, 40014, 42001).
        TokenReused,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// What a step's last request must get, when it is not what the oracle of the scenario's
    /// last call says (a token refreshed and retried turns a 42001 into a success).
    pub enum StepExpect {
        Success,
        Refusal,
    }
}

/// The backend's routes, under `url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatBackend {
    pub url: Option<String>,
    /// `POST {"code"}` with a wx.login code; a success holds the openid.
    #[serde(default = "login_path")]
    pub login: String,
    /// `POST {"code"}` with the button's code; a success holds purePhoneNumber.
    #[serde(default = "phone_path")]
    pub phone: String,
    /// `POST {"openid", "encryptedData", "iv"}`; a success holds purePhoneNumber.
    #[serde(default = "legacy_path")]
    pub legacy: String,
}

fn login_path() -> String {
    "/wx/login".into()
}
fn phone_path() -> String {
    "/wx/phone".into()
}
fn legacy_path() -> String {
    "/wx/phone/legacy".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSuiteStep {
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<StepExpect>,
}

/// A WeChat suite file: `"platform": "wechat"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSuite {
    pub name: String,
    pub platform: String,
    #[serde(default)]
    pub description: String,
    pub backend: WechatBackend,
    #[serde(default)]
    pub checks: Vec<Check>,
    pub steps: Vec<WechatSuiteStep>,
}

/// A WeChat suite and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedWechatSuite {
    pub file: String,
    pub suite: WechatSuite,
}

/// The names of the built-in WeChat suites.
pub fn builtin_names() -> Vec<&'static str> {
    embedded::FILES
        .iter()
        .filter_map(|(file, _)| file.strip_suffix(".json"))
        .collect()
}

impl LoadedWechatSuite {
    /// The WeChat suite `argument` names (a file, or a built-in name); `None` when it names
    /// no WeChat suite (an Alipay one, or nothing: the Alipay loader says which).
    pub fn load(argument: &str) -> Result<Option<LoadedWechatSuite>, SuiteError> {
        let path = std::path::Path::new(argument);
        let (file, text) = if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| SuiteError::File {
                file: argument.into(),
                message: format!("cannot read it: {e}"),
            })?;
            (argument.to_string(), text)
        } else if let Some((_, text)) = embedded::FILES.iter().find(|(file, _)| {
            file.strip_suffix(".json") == Some(argument.trim_start_matches("built-in:"))
        }) {
            (format!("built-in:{argument}"), text.to_string())
        } else {
            return Ok(None);
        };
        let is_wechat = serde_json::from_str::<Value>(&text)
            .ok()
            .is_some_and(|v| v["platform"] == "wechat");
        if !is_wechat {
            return Ok(None);
        }
        let suite: WechatSuite = serde_json::from_str(&text).map_err(|e| SuiteError::File {
            file: file.clone(),
            message: e.to_string(),
        })?;
        for (n, step) in suite.steps.iter().enumerate() {
            if scenario(&step.scenario).is_none() {
                return Err(SuiteError::At {
                    file,
                    at: format!("steps[{n}].scenario"),
                    message: format!("{:?} is not a WeChat scenario (alipay-sim scenarios --platform wechat lists them)", step.scenario),
                });
            }
        }
        Ok(Some(LoadedWechatSuite { file, suite }))
    }
}

/// What one step sent and got, and what was wrong.
struct Played {
    exchange: Option<Exchange>,
    mismatches: Vec<Mismatch>,
    sent_anything: bool,
    /// The codes sent to the backend's login and phone routes.
    sent_codes: Vec<String>,
}

/// Plays `suite` against the backend at `url`, on the WeChat app `app_id` of `state` (whose
/// endpoints the backend calls). Only an unreachable backend is an error.
pub async fn play_suite(
    loaded: &LoadedWechatSuite,
    url: &str,
    state: &SimState,
    app_id: &str,
    on_step: &mut dyn FnMut(&StepReport),
) -> Result<SuiteReport, SendError> {
    let started = std::time::Instant::now();
    let view = state.wechat_app(app_id).expect("the runner's app");
    let keys = WechatKeys::for_seed(view.seed);
    let mut steps = Vec::new();
    let mut seen_journal = 0;
    let mut sent_codes = Vec::new();
    for (index, step) in loaded.suite.steps.iter().enumerate() {
        let scenario = scenario(&step.scenario).expect("checked when loaded");
        let oracle_run = scenario.run(&keys);
        let step_started = std::time::Instant::now();
        let played = play_step(
            loaded,
            scenario,
            &oracle_run,
            step.expect,
            url,
            state,
            app_id,
        )
        .await?;
        let mut mismatches = played.mismatches;
        sent_codes.extend(played.sent_codes);
        let journal: Vec<WechatJournalEntry> = state
            .wechat_journal(Some(app_id), usize::MAX)
            .into_iter()
            .rev()
            .collect();
        for check in &loaded.suite.checks {
            let seen = JournalView {
                journal: &journal,
                from: seen_journal,
                sent_codes: &sent_codes,
            };
            mismatches.extend(check_journal(*check, &seen, &view.appid, &view.secret));
        }
        seen_journal = journal.len();
        let status = if !played.sent_anything {
            StepStatus::Skipped
        } else if mismatches.is_empty() {
            StepStatus::Passed
        } else {
            StepStatus::Failed
        };
        let kind = match (
            played.sent_anything,
            final_expect(&oracle_run.expect, step.expect),
        ) {
            (false, _) => ExpectKind::Skip,
            (true, StepExpect::Success) => ExpectKind::Success,
            (true, StepExpect::Refusal) => ExpectKind::Refusal,
        };
        let report = StepReport {
            index,
            name: scenario.name.clone(),
            scenario: Some(scenario.name.clone()),
            status,
            oracle: oracle_run.expect.clone(),
            expected_kind: kind,
            refusal_class: None,
            expected: match kind {
                ExpectKind::Success => "a success: status 2xx holding what WeChat gave".into(),
                ExpectKind::Refusal => "a refusal: status 4xx".into(),
                _ => "nothing: no request is made".into(),
            },
            body_shape: BodyShape::RawJson,
            transport_note: None,
            exchange: played.exchange,
            mismatches,
            skip_reason: (!played.sent_anything)
                .then(|| format!("nothing reaches the backend: {}", oracle_run.expect.reason)),
            elapsed_ms: step_started.elapsed().as_millis() as u64,
        };
        on_step(&report);
        steps.push(report);
    }
    Ok(SuiteReport {
        name: loaded.suite.name.clone(),
        file: loaded.file.clone(),
        backend: url.to_string(),
        elapsed_ms: started.elapsed().as_millis() as u64,
        steps,
    })
}

fn final_expect(oracle: &Expect, declared: Option<StepExpect>) -> StepExpect {
    declared.unwrap_or(if oracle.verdict == Verdict::Accept {
        StepExpect::Success
    } else {
        StepExpect::Refusal
    })
}

#[allow(clippy::too_many_arguments)]
async fn play_step(
    loaded: &LoadedWechatSuite,
    scenario: &Scenario,
    oracle_run: &crate::wechat::scenario::Run,
    declared: Option<StepExpect>,
    url: &str,
    state: &SimState,
    app_id: &str,
) -> Result<Played, SendError> {
    let refuse_state = |e: crate::sim::state::StateError| Mismatch {
        at: "simulator".into(),
        expected: "the page's call to succeed".into(),
        got: e.to_string(),
    };
    let mut played = Played {
        exchange: None,
        mismatches: Vec::new(),
        sent_anything: false,
        sent_codes: Vec::new(),
    };
    if let Err(e) = state
        .apply_wechat_scenario(app_id, &scenario.name)
        .and_then(|_| state.wechat_new_device(app_id))
    {
        played.mismatches.push(refuse_state(e));
        return Ok(played);
    }
    let openid = state
        .wechat_app(app_id)
        .map(|v| v.openid)
        .unwrap_or_default();
    let backend = &loaded.suite.backend;
    let (mut login_code, mut phone_code, mut payload) = (None::<String>, None::<String>, None);
    let last_send = scenario.steps.iter().rposition(|s| {
        matches!(
            s,
            Step::Jscode2session { .. } | Step::GetPhoneNumber { .. } | Step::Decrypt { .. }
        )
    });
    for (i, step) in scenario.steps.iter().enumerate() {
        let page = match step {
            Step::Login => state.wechat_login(app_id).map(|r| {
                login_code = r["code"].as_str().map(String::from);
            }),
            Step::CheckSession => state.wechat_check_session(app_id).map(|_| ()),
            Step::Tap { tap } => state.wechat_tap(app_id, tap.clone()).map(|r| {
                phone_code = r.detail["code"].as_str().map(String::from);
                if let Some(code) = &r.login_code_after {
                    login_code = Some(code.clone());
                }
                payload = r.detail["encryptedData"]
                    .as_str()
                    .zip(r.detail["iv"].as_str())
                    .map(|(d, iv)| (d.to_string(), iv.to_string()));
            }),
            Step::Advance { seconds } => state.advance_clock(*seconds).map(|_| ()),
            Step::Console { set } => state
                .patch_wechat_app(app_id, json!({"console": set}))
                .map(|_| ()),
            Step::Token | Step::StableToken { .. } | Step::Checksession { .. } => Ok(()),
            Step::Jscode2session { .. } | Step::GetPhoneNumber { .. } | Step::Decrypt { .. } => {
                let code_of = |reference: &CodeRef| match reference {
                    CodeRef::Login => login_code.clone(),
                    CodeRef::Phone => phone_code.clone(),
                    CodeRef::Bogus => Some("061Bogus0nEverIssued0000000000ab".into()),
                };
                let (path, body, holds) = match step {
                    Step::Jscode2session { code } => (
                        &backend.login,
                        json!({"code": code_of(code)}),
                        openid.clone(),
                    ),
                    Step::GetPhoneNumber { code, .. } => (
                        &backend.phone,
                        json!({"code": code_of(code)}),
                        oracle_phone(oracle_run, i),
                    ),
                    _ => {
                        let Some((data, iv)) = &payload else { continue };
                        (
                            &backend.legacy,
                            json!({"openid": openid, "encryptedData": data, "iv": iv}),
                            oracle_phone(oracle_run, i),
                        )
                    }
                };
                if let Some(code) = body["code"].as_str() {
                    played.sent_codes.push(code.to_string());
                }
                let shape = RequestShape {
                    body: BodyShape::RawJson,
                    ..RequestShape::default()
                };
                let target = format!("{}{}", url.trim_end_matches('/'), path);
                let (exchange, error) = backend::send(&target, &shape, &body.to_string()).await;
                match error {
                    Some(error @ SendError::Unreachable { .. }) => return Err(error),
                    Some(error) => played.mismatches.push(Mismatch {
                        at: format!("POST {path}"),
                        expected: "an answer".into(),
                        got: error.to_string(),
                    }),
                    None => {
                        let step_oracle = &oracle_run.steps[i];
                        let accepted = is_accept(step_oracle);
                        let want = if Some(i) == last_send {
                            final_expect(&oracle_run.expect, declared)
                        } else if accepted {
                            StepExpect::Success
                        } else {
                            StepExpect::Refusal
                        };
                        played.mismatches.extend(check_answer(
                            path,
                            &exchange,
                            want,
                            &holds,
                            step_oracle,
                        ));
                    }
                }
                played.sent_anything = true;
                played.exchange = Some(exchange);
                Ok(())
            }
        };
        if let Err(e) = page {
            played.mismatches.push(refuse_state(e));
        }
    }
    Ok(played)
}

fn is_accept(step: &crate::wechat::scenario::StepTrace) -> bool {
    let errcode = step.answer["errcode"].as_i64().unwrap_or(0);
    let refused = step.answer["verdict"]
        .as_str()
        .is_some_and(|v| v != "accept");
    errcode == 0 && !refused
}

/// The number a correct backend answers with at step `i`: the oracle's purePhoneNumber.
fn oracle_phone(run: &crate::wechat::scenario::Run, i: usize) -> String {
    let answer = &run.steps[i].answer;
    answer["phone_info"]["purePhoneNumber"]
        .as_str()
        .or(answer["plaintext"]["purePhoneNumber"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn check_answer(
    path: &str,
    exchange: &Exchange,
    want: StepExpect,
    holds: &str,
    oracle: &crate::wechat::scenario::StepTrace,
) -> Vec<Mismatch> {
    let status = exchange.status.unwrap_or(0);
    let at = format!("POST {path}");
    match want {
        StepExpect::Success if !(200..300).contains(&status) => vec![Mismatch {
            at: format!("{at} status"),
            expected: format!(
                "2xx: WeChat answered {} ({})",
                compact(&oracle.answer),
                oracle.rule
            ),
            got: format!("{status} {}", exchange.body),
        }],
        StepExpect::Success if !holds.is_empty() && !exchange.body.contains(holds) => {
            vec![Mismatch {
                at: format!("{at} body"),
                expected: format!("to hold {holds}"),
                got: exchange.body.clone(),
            }]
        }
        StepExpect::Refusal if !(400..500).contains(&status) => vec![Mismatch {
            at: format!("{at} status"),
            expected: format!(
                "4xx: a correct backend refuses ({}: {})",
                oracle.rule,
                oracle.rule.described().map_or("", |r| r.summary)
            ),
            got: format!("{status} {}", exchange.body),
        }],
        _ => Vec::new(),
    }
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The query parameters of a journal entry's request.
fn query_of(entry: &WechatJournalEntry) -> Vec<(String, String)> {
    let query = entry.request["query"].as_str().unwrap_or_default();
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|url| {
            url.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The journal as a check reads it: every WeChat call of the app so far (oldest first), where
/// this step's start, and every code the runner sent the backend so far.
struct JournalView<'a> {
    journal: &'a [WechatJournalEntry],
    from: usize,
    sent_codes: &'a [String],
}

/// The mismatches `check` finds in the journal.
fn check_journal(check: Check, view: &JournalView, appid: &str, secret: &str) -> Vec<Mismatch> {
    let journal = view.journal;
    let step = &journal[view.from.min(journal.len())..];
    let sent = |code: &str| view.sent_codes.iter().filter(|c| *c == code).count();
    let mut found = Vec::new();
    match check {
        Check::Credentials => {
            for entry in step
                .iter()
                .filter(|e| matches!(e.call.as_str(), "jscode2session" | "token"))
            {
                let query = query_of(entry);
                if param(&query, "appid") != Some(appid) || param(&query, "secret") != Some(secret)
                {
                    found.push(Mismatch {
                        at: format!("journal: {} #{}", entry.call, entry.id),
                        expected: format!("appid={appid} and the app's secret"),
                        got: format!(
                            "appid={:?}, secret {}",
                            param(&query, "appid"),
                            if param(&query, "secret") == Some(secret) {
                                "right"
                            } else {
                                "wrong"
                            }
                        ),
                    });
                }
            }
            let exchanged: Vec<&str> = journal
                .iter()
                .filter(|e| e.call == "jscode2session")
                .filter_map(|e| e.request["js_code"].as_str())
                .collect();
            for entry in step.iter().filter(|e| e.call == "jscode2session") {
                let code = entry.request["js_code"].as_str().unwrap_or_default();
                let times = exchanged.iter().filter(|c| **c == code).count();
                if sent(code) == 0 {
                    found.push(Mismatch {
                        at: format!("journal: jscode2session #{}", entry.id),
                        expected: "the login code the page sent the backend".into(),
                        got: format!("js_code={code}, which the page never sent"),
                    });
                } else if times > sent(code) {
                    found.push(Mismatch {
                        at: format!("journal: jscode2session #{}", entry.id),
                        expected: format!(
                            "each login code exchanged once per time the page sent it ({})",
                            sent(code)
                        ),
                        got: format!("{code} exchanged {times} times"),
                    });
                }
            }
        }
        Check::PhoneCodeOnce => {
            // Answers that used or refused a code; a token error uses none.
            let settled = |code: &str, upto: u64| {
                journal
                    .iter()
                    .filter(|e| e.call == "getuserphonenumber" && e.id <= upto)
                    .filter(|e| e.request["body"]["code"].as_str() == Some(code))
                    .filter(|e| {
                        !matches!(
                            e.answer["errcode"].as_i64(),
                            Some(40001 | 40014 | 42001 | 41001)
                        )
                    })
                    .count()
            };
            for entry in step.iter().filter(|e| e.call == "getuserphonenumber") {
                let code = entry.request["body"]["code"].as_str().unwrap_or_default();
                let times = settled(code, entry.id);
                if times > sent(code).max(1) {
                    found.push(Mismatch {
                        at: format!("journal: getuserphonenumber #{}", entry.id),
                        expected: format!("a phone code sent to WeChat once per time the page sent it ({}), never again after WeChat answered it", sent(code)),
                        got: format!("{code} answered {times} times (the last: {})", compact(&entry.answer)),
                    });
                    break;
                }
            }
        }
        Check::TokenReused => {
            let fetched = journal
                .iter()
                .filter(|e| matches!(e.call.as_str(), "token" | "stable_token"))
                .count();
            let refused = journal
                .iter()
                .filter(|e| matches!(e.answer["errcode"].as_i64(), Some(40001 | 40014 | 42001)))
                .count();
            let in_step = step
                .iter()
                .filter(|e| matches!(e.call.as_str(), "token" | "stable_token"))
                .count();
            if in_step > 0 && fetched > 1 + refused {
                found.push(Mismatch {
                    at: "journal: /cgi-bin/token".into(),
                    expected: format!(
                        "one access token, fetched again only after WeChat refused it ({refused} refused so far): at most {} fetches",
                        1 + refused
                    ),
                    got: format!("{fetched} fetched"),
                });
            }
        }
    }
    found
}
