//! Alipay login suites: a backend's login and phone-binding routes played against the
//! simulator's gateway. Each step is a case: the runner plays the page on a new device session
//! (another Alipay account) of a served app (`my.getAuthCode`, `my.getPhoneNumber`, the clock,
//! a gateway fault), sends the backend what the page would (the code, then the envelope on the
//! session the login gave), checks each answer against the oracle, and then checks from the
//! journal what the backend asked the gateway: that it logged in with the code it was given,
//! and sent each code no more often than the page sent it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::alipay::gateway::GatewayFault;
use crate::http::backend::{self, RequestShape, SendError};
use crate::oracle::{Cause, Expect, Rule, Verdict};
use crate::playback::report::{StepReport, StepStatus, SuiteReport};
use crate::playback::suite::{ExpectKind, Mismatch, SuiteError};
use crate::sim::exchange::Exchange;
use crate::sim::state::{AlipayLoginJournalEntry, PhoneNumberRequest, SimState};
use crate::sim::store::BodyShape;

/// The built-in login suite.
const BUILT_IN: (&str, &str) = (
    "alipay-login",
    include_str!("../../scenarios/alipay-login/alipay-login.json"),
);

crate::wire::wire_enum! {
    "kebab-case",
    /// One step of a login suite: what the page and the gateway do, and what a correct backend
    /// answers.
    pub enum LoginCase {
        /// `my.getAuthCode` (auth_base), the code to the login route: a success naming the
        /// session's user.
        Login,
        /// A login, then `my.getPhoneNumber` on the same device session, its envelope to the
        /// phone route with the session the login gave: a success holding the number and the
        /// session's user.
        LoginThenPhone,
        /// An envelope to the phone route with no login: refused, since it names no user.
        PhoneWithoutLogin,
        /// A login, then the same code sent again: refused (the gateway answers
        /// isv.code-invalid to a used code).
        CodeReplayed,
        /// A code sent after 181 s of the simulator's clock: refused (isv.code-invalid).
        CodeExpired,
        /// A code another app's page got: refused (isv.code-invalid).
        CodeOfAnotherApp,
        /// The gateway's answer altered after signing: refused.
        TamperedBody,
        /// The answer signed by another key than the app's Alipay key: refused.
        OtherKey,
        /// The answer without `sign`: refused.
        NoSign,
        /// The response object twice, the first a forgery: refused.
        RepeatedRoot,
        /// `/` not escaped as `\/`, and signed so: a success.
        SlashesUnescaped,
        /// The gateway busy (a signed 20000): no login (4xx or 502/503/504, not 500).
        SystemBusy,
    }
}

impl LoginCase {
    /// The gateway fault the step's login is answered with.
    fn fault(self) -> Option<GatewayFault> {
        Some(match self {
            LoginCase::TamperedBody => GatewayFault::TamperedBody,
            LoginCase::OtherKey => GatewayFault::OtherKey,
            LoginCase::NoSign => GatewayFault::NoSign,
            LoginCase::RepeatedRoot => GatewayFault::RepeatedRoot,
            LoginCase::SlashesUnescaped => GatewayFault::SlashesUnescaped,
            LoginCase::SystemBusy => GatewayFault::SystemBusy,
            _ => return None,
        })
    }

    /// What a correct backend concludes from the step's last answer, and why.
    pub fn oracle(self) -> Expect {
        let rule = self.rule();
        let verdict = match self {
            LoginCase::Login | LoginCase::LoginThenPhone => Verdict::Accept,
            LoginCase::PhoneWithoutLogin => Verdict::RejectForeign,
            LoginCase::CodeReplayed
            | LoginCase::CodeExpired
            | LoginCase::CodeOfAnotherApp
            | LoginCase::SystemBusy => Verdict::PlatformRefused,
            case => case.fault().expect("a fault case").conclusion().0,
        };
        Expect {
            verdict,
            plaintext: None,
            cause: if self.fault().is_some() {
                Cause::Fault(rule)
            } else {
                Cause::Rule(rule)
            },
            reason: rule.summary.to_string(),
            doc_policy: None,
        }
    }

    /// The documented behaviour the step's oracle rests on.
    fn rule(self) -> &'static Rule {
        macro_rules! rule {
            ($id:literal, $summary:literal, $section:literal) => {{
                static RULE: Rule = Rule {
                    id: $id,
                    summary: $summary,
                    source: concat!("docs/alipay-gateway-login.md ", $section),
                };
                &RULE
            }};
        }
        match self {
            LoginCase::Login => rule!("login.code-exchanged", "a fresh code of this app: the gateway logs the session's user in", "§1.2"),
            LoginCase::LoginThenPhone => rule!("login.phone-bound", "an authentic envelope posted on a logged-in session: bind its number to that session's user", "§1.4"),
            LoginCase::PhoneWithoutLogin => rule!("login.phone-without-session", "the envelope names no user, app or time: without a login there is no one to bind it to", "§1.4"),
            LoginCase::CodeReplayed => rule!("login.code-used", "a code is single-use: the gateway answers isv.code-invalid to it again", "§1.1"),
            LoginCase::CodeExpired => rule!("login.code-expired", "a code lasts 180 s (the simulator's choice in 3 min to 24 h): then isv.code-invalid", "§1.1, §9"),
            LoginCase::CodeOfAnotherApp => rule!("login.code-of-another-app", "a code belongs to the app whose page got it: another app's is isv.code-invalid", "§1.1"),
            LoginCase::TamperedBody => rule!("gateway-fault.tampered-body", "the signature does not cover the bytes received: refuse the login", "§3, §10"),
            LoginCase::OtherKey => rule!("gateway-fault.other-key", "signed by another key than the app's Alipay key: refuse the login", "§3, §10"),
            LoginCase::NoSign => rule!("gateway-fault.no-sign", "no sign: nothing proves Alipay sent it; refuse the login", "§3, §10"),
            LoginCase::RepeatedRoot => rule!("gateway-fault.repeated-root", "the response object twice: which one is signed is ambiguous; refuse the login", "§7, §10"),
            LoginCase::SlashesUnescaped => rule!("gateway-fault.slashes-unescaped", "/ left unescaped and signed so: the signature holds over the bytes received; log in", "§3, §10"),
            LoginCase::SystemBusy => rule!("gateway-fault.system-busy", "isp.unknow-error: the gateway did nothing; no login, try again later", "§6, §10"),
        }
    }

    fn wants_success(self) -> bool {
        self.oracle().verdict == Verdict::Accept
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// What the runner checks in the login journal after each step.
    pub enum LoginCheck {
        /// Every `alipay.system.oauth.token` with an authorization code carried a code the
        /// page gave the backend, and the app's id.
        CodeGiven,
        /// No code went to the gateway more often than the page sent it to the backend.
        CodeOnce,
    }
}

/// The backend's routes, under `url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBackend {
    pub url: Option<String>,
    /// `POST {"authCode"}`: logs the user in; a success names the user (its open_id or
    /// user_id) and sets a session cookie.
    #[serde(default = "login_path")]
    pub login: String,
    /// `POST {"response": <envelope>}` with the session cookie: binds the number to the
    /// session's user; a success holds the number and the user.
    #[serde(default = "phone_path")]
    pub phone: String,
}

fn login_path() -> String {
    "/api/login".into()
}
fn phone_path() -> String {
    "/api/me/phone".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSuiteStep {
    pub case: LoginCase,
}

/// A login suite file: `"platform": "alipay-login"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSuite {
    pub name: String,
    pub platform: String,
    #[serde(default)]
    pub description: String,
    pub backend: LoginBackend,
    #[serde(default)]
    pub checks: Vec<LoginCheck>,
    pub steps: Vec<LoginSuiteStep>,
}

/// A login suite and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedLoginSuite {
    pub file: String,
    pub suite: LoginSuite,
}

/// The names of the built-in login suites.
pub fn builtin_names() -> Vec<&'static str> {
    vec![BUILT_IN.0]
}

impl LoadedLoginSuite {
    /// The login suite `argument` names (a file, or a built-in name); `None` when it names
    /// no login suite.
    pub fn load(argument: &str) -> Result<Option<LoadedLoginSuite>, SuiteError> {
        let path = std::path::Path::new(argument);
        let (file, text) = if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| SuiteError::File {
                file: argument.into(),
                message: format!("cannot read it: {e}"),
            })?;
            (argument.to_string(), text)
        } else if argument.trim_start_matches("built-in:") == BUILT_IN.0 {
            (format!("built-in:{}", BUILT_IN.0), BUILT_IN.1.to_string())
        } else {
            return Ok(None);
        };
        let is_login = serde_json::from_str::<Value>(&text)
            .ok()
            .is_some_and(|v| v["platform"] == "alipay-login");
        if !is_login {
            return Ok(None);
        }
        let suite: LoginSuite = serde_json::from_str(&text).map_err(|e| SuiteError::File {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Ok(Some(LoadedLoginSuite { file, suite }))
    }
}

/// The apps a login suite plays on: the backend's (of `play --seed`), and another app whose
/// codes the backend must refuse.
pub struct LoginApps<'a> {
    pub app_id: &'a str,
    pub other_app_id: &'a str,
}

/// What one step sent and got, and what was wrong.
#[derive(Default)]
struct Played {
    exchange: Option<Exchange>,
    mismatches: Vec<Mismatch>,
    /// The codes sent to the backend's login route.
    sent_codes: Vec<String>,
}

/// Plays `suite` against the backend at `url`, on the apps of `state` (whose gateway the
/// backend calls). Only an unreachable backend is an error.
pub async fn play_suite(
    loaded: &LoadedLoginSuite,
    url: &str,
    state: &SimState,
    apps: &LoginApps<'_>,
    on_step: &mut dyn FnMut(&StepReport),
) -> Result<SuiteReport, SendError> {
    let started = std::time::Instant::now();
    let mut steps = Vec::new();
    let mut sent_codes = Vec::new();
    for (index, step) in loaded.suite.steps.iter().enumerate() {
        let step_started = std::time::Instant::now();
        let seen = state
            .alipay_login_journal(Some(apps.app_id), None, 1)
            .first()
            .map_or(0, |e| e.id);
        let played = play_step(&loaded.suite.backend, step.case, url, state, apps).await;
        // The gateway answers rightly again, whatever the step did.
        let _ = state.set_gateway_fault(apps.app_id, None);
        let played = played?;
        let mut mismatches = played.mismatches;
        sent_codes.extend(played.sent_codes);
        let journal: Vec<AlipayLoginJournalEntry> = state
            .alipay_login_journal(Some(apps.app_id), None, usize::MAX)
            .into_iter()
            .rev()
            .collect();
        for check in &loaded.suite.checks {
            mismatches.extend(check_journal(
                *check,
                &journal,
                seen,
                &sent_codes,
                apps.app_id,
            ));
        }
        let oracle = step.case.oracle();
        let kind = if step.case.wants_success() {
            ExpectKind::Success
        } else {
            ExpectKind::Refusal
        };
        let report = StepReport {
            index,
            name: step.case.to_string(),
            scenario: Some(step.case.to_string()),
            status: if mismatches.is_empty() {
                StepStatus::Passed
            } else {
                StepStatus::Failed
            },
            oracle,
            expected_kind: kind,
            refusal_class: None,
            expected: match (kind, step.case) {
                (ExpectKind::Success, _) => {
                    "a success: status 2xx naming the session's user".into()
                }
                (_, LoginCase::SystemBusy) => "no login: status 4xx or 502/503/504".into(),
                _ => "a refusal: status 4xx".into(),
            },
            body_shape: BodyShape::RawJson,
            transport_note: None,
            exchange: played.exchange,
            mismatches,
            skip_reason: None,
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

/// What the backend must answer to one request.
#[derive(Clone, Copy, PartialEq)]
enum Want {
    Success,
    Refusal,
    /// No login for now: 4xx, or 502/503/504.
    Unavailable,
}

async fn play_step(
    backend: &LoginBackend,
    case: LoginCase,
    url: &str,
    state: &SimState,
    apps: &LoginApps<'_>,
) -> Result<Played, SendError> {
    let mut played = Played::default();
    let simulator = |e: crate::sim::state::StateError| Mismatch {
        at: "simulator".into(),
        expected: "the page's call to succeed".into(),
        got: e.to_string(),
    };
    let session = match state.alipay_new_device_session(apps.app_id) {
        Ok(session) => session,
        Err(e) => {
            played.mismatches.push(simulator(e));
            return Ok(played);
        }
    };
    let user = session["user"].as_str().unwrap_or_default().to_string();
    let app_of_code = if case == LoginCase::CodeOfAnotherApp {
        apps.other_app_id
    } else {
        apps.app_id
    };
    let code = match state.alipay_get_auth_code(
        app_of_code,
        vec!["auth_base".into()],
        crate::alipay::front_end::AuthAction::Allow,
    ) {
        Ok(answer) => answer["authCode"].as_str().unwrap_or_default().to_string(),
        Err(e) => {
            played.mismatches.push(simulator(e));
            return Ok(played);
        }
    };
    if let Some(fault) = case.fault() {
        if let Err(e) = state.set_gateway_fault(apps.app_id, Some(fault)) {
            played.mismatches.push(simulator(e));
            return Ok(played);
        }
    }
    if case == LoginCase::CodeExpired {
        if let Err(e) = state.advance_clock(181) {
            played.mismatches.push(simulator(e));
            return Ok(played);
        }
    }
    if case == LoginCase::PhoneWithoutLogin {
        return phone(
            backend,
            url,
            state,
            apps.app_id,
            None,
            &user,
            Want::Refusal,
            played,
        )
        .await;
    }
    let want = match case {
        LoginCase::SystemBusy => Want::Unavailable,
        LoginCase::CodeReplayed | LoginCase::LoginThenPhone => Want::Success,
        case if case.wants_success() => Want::Success,
        _ => Want::Refusal,
    };
    let body = json!({ "authCode": code }).to_string();
    played.sent_codes.push(code.clone());
    let exchange = send(url, &backend.login, &body, None).await?;
    let holds: &[&str] = if want == Want::Success { &[&user] } else { &[] };
    played
        .mismatches
        .extend(check_answer(&backend.login, &exchange, want, holds));
    let cookie = session_cookie(&exchange);
    played.exchange = Some(exchange);
    match case {
        LoginCase::CodeReplayed => {
            played.sent_codes.push(code);
            let again = send(url, &backend.login, &body, None).await?;
            played
                .mismatches
                .extend(check_answer(&backend.login, &again, Want::Refusal, &[]));
            played.exchange = Some(again);
            Ok(played)
        }
        LoginCase::LoginThenPhone => {
            phone(
                backend,
                url,
                state,
                apps.app_id,
                cookie,
                &user,
                Want::Success,
                played,
            )
            .await
        }
        _ => Ok(played),
    }
}

/// The page's `my.getPhoneNumber` on the current device session, and its envelope posted to
/// the phone route (with the login's cookie, if any).
#[allow(clippy::too_many_arguments)]
async fn phone(
    backend: &LoginBackend,
    url: &str,
    state: &SimState,
    app_id: &str,
    cookie: Option<String>,
    user: &str,
    want: Want,
    mut played: Played,
) -> Result<Played, SendError> {
    let request = PhoneNumberRequest {
        action: Some(crate::alipay::model::ActionKind::Consent),
        ..PhoneNumberRequest::default()
    };
    let fixture = match state.get_phone_number(app_id, None, request) {
        Ok(fixture) => fixture,
        Err(e) => {
            played.mismatches.push(Mismatch {
                at: "simulator".into(),
                expected: "my.getPhoneNumber to give an envelope".into(),
                got: e.to_string(),
            });
            return Ok(played);
        }
    };
    let (Some(envelope), Some(mobile)) = (
        fixture.delivery.envelope(),
        fixture
            .delivery
            .expect
            .plaintext
            .as_ref()
            .and_then(|p| p["mobile"].as_str()),
    ) else {
        played.mismatches.push(Mismatch {
            at: "simulator".into(),
            expected: "the app's console to give a phone number (reset the app)".into(),
            got: fixture.delivery.expect.reason.clone(),
        });
        return Ok(played);
    };
    let body = json!({ "response": envelope }).to_string();
    let exchange = send(url, &backend.phone, &body, cookie).await?;
    let holds: Vec<&str> = if want == Want::Success {
        vec![mobile, user]
    } else {
        Vec::new()
    };
    played
        .mismatches
        .extend(check_answer(&backend.phone, &exchange, want, &holds));
    played.exchange = Some(exchange);
    Ok(played)
}

async fn send(
    url: &str,
    path: &str,
    body: &str,
    cookie: Option<String>,
) -> Result<Exchange, SendError> {
    let shape = RequestShape {
        body: BodyShape::RawJson,
        headers: cookie
            .map(|c| ("cookie".to_string(), c))
            .into_iter()
            .collect(),
        ..RequestShape::default()
    };
    let target = format!("{}{}", url.trim_end_matches('/'), path);
    let (exchange, error) = backend::send(&target, &shape, body).await;
    match error {
        Some(error @ SendError::Unreachable { .. }) => Err(error),
        _ => Ok(exchange),
    }
}

/// The cookies an answer set, as a `Cookie` header sends them back.
fn session_cookie(exchange: &Exchange) -> Option<String> {
    let cookies: Vec<&str> = exchange
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.split(';').next())
        .map(str::trim)
        .filter(|pair| pair.contains('='))
        .collect();
    (!cookies.is_empty()).then(|| cookies.join("; "))
}

fn check_answer(path: &str, exchange: &Exchange, want: Want, holds: &[&str]) -> Vec<Mismatch> {
    let at = format!("POST {path}");
    let Some(status) = exchange.status else {
        return vec![Mismatch {
            at,
            expected: "an answer".into(),
            got: exchange.error.clone().unwrap_or_default(),
        }];
    };
    let got = || format!("{status} {}", exchange.body);
    let fine = match want {
        Want::Success => (200..300).contains(&status),
        Want::Refusal => (400..500).contains(&status),
        Want::Unavailable => (400..500).contains(&status) || matches!(status, 502..=504),
    };
    if !fine {
        let expected = match want {
            Want::Success => "2xx",
            Want::Refusal => "4xx: a correct backend refuses",
            Want::Unavailable => "4xx or 502/503/504: no login while the gateway is busy",
        };
        return vec![Mismatch {
            at: format!("{at} status"),
            expected: expected.into(),
            got: got(),
        }];
    }
    holds
        .iter()
        .filter(|wanted| !wanted.is_empty() && !exchange.body.contains(**wanted))
        .map(|wanted| Mismatch {
            at: format!("{at} body"),
            expected: format!("to hold {wanted}"),
            got: exchange.body.clone(),
        })
        .collect()
}

/// The mismatches `check` finds in the login journal (oldest first) after entry `seen`.
fn check_journal(
    check: LoginCheck,
    journal: &[AlipayLoginJournalEntry],
    seen: u64,
    sent_codes: &[String],
    app_id: &str,
) -> Vec<Mismatch> {
    let exchanges = |entry: &&AlipayLoginJournalEntry| {
        entry.call == crate::alipay::gateway::OAUTH_TOKEN
            && entry.request["grant_type"] == "authorization_code"
    };
    let code_of = |entry: &AlipayLoginJournalEntry| {
        entry.request["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let sent = |code: &str| sent_codes.iter().filter(|c| *c == code).count();
    let in_step = journal.iter().filter(|e| e.id > seen).filter(exchanges);
    let mut found = Vec::new();
    match check {
        LoginCheck::CodeGiven => {
            for entry in in_step {
                let code = code_of(entry);
                if sent(&code) == 0 {
                    found.push(Mismatch {
                        at: format!("journal: {} #{}", entry.call, entry.id),
                        expected: "the code the page sent the backend".into(),
                        got: format!("code={code:?}, which the page never sent"),
                    });
                } else if entry.request["app_id"] != app_id {
                    found.push(Mismatch {
                        at: format!("journal: {} #{}", entry.call, entry.id),
                        expected: format!("app_id={app_id}"),
                        got: format!("app_id={}", entry.request["app_id"]),
                    });
                }
            }
        }
        LoginCheck::CodeOnce => {
            for entry in in_step {
                let code = code_of(entry);
                let times = journal
                    .iter()
                    .filter(exchanges)
                    .filter(|e| e.id <= entry.id && code_of(e) == code)
                    .count();
                if times > sent(&code).max(1) {
                    found.push(Mismatch {
                        at: format!("journal: {} #{}", entry.call, entry.id),
                        expected: format!(
                            "each code sent to the gateway once per time the page sent it ({})",
                            sent(&code)
                        ),
                        got: format!("{code} sent {times} times"),
                    });
                    break;
                }
            }
        }
    }
    found
}
