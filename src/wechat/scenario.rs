//! The WeChat scenario catalogue: one JSON file per scenario in `scenarios/wechat/`, embedded at
//! build time. A scenario is a console, a user, switches and a few steps (the page's calls, the
//! backend's calls to the endpoints, the clock moving); running it gives each step's answer and
//! what a correct backend concludes at the end, which the file declares too.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::oracle::{Cause, Expect, Verdict};
use crate::wechat::crypto::{decrypt, encrypt, Padding};
use crate::wechat::front_end::{tap, wx_check_session, wx_login};
use crate::wechat::judge::judge_legacy;
use crate::wechat::keys::WechatKeys;
use crate::wechat::model::{Console, Switches, Tap, User};
use crate::wechat::platform::{Answer, AppRef, Params, Platform};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/wechat_scenario_files.rs"));
}

/// The simulated time a scenario starts at (2023-11-14T22:13:20Z), so its answers never depend
/// on the day it runs.
pub const SCENARIO_START: u64 = 1_700_000_000;

crate::wire::wire_enum! {
    "kebab-case",
    /// Which code a step sends.
    #[derive(Default)]
    pub enum CodeRef {
        /// The last `wx.login` code.
        #[default]
        Login,
        /// The phone button's last code.
        Phone,
        /// A code WeChat never issued.
        Bogus,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// Which access token a step sends.
    #[derive(Default)]
    pub enum TokenRef {
        /// The last one the backend fetched (either kind).
        #[default]
        Latest,
        /// The first one it fetched.
        First,
        /// One never issued.
        Bogus,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// Which session key the backend uses.
    #[derive(Default)]
    pub enum KeyRef {
        /// The last one jscode2session gave it.
        #[default]
        Latest,
        /// The first one it got.
        First,
        /// The latest, but the HMAC keyed with its decoded bytes (the mistake of §7.12).
        DecodedBytes,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// A deliberate change to the legacy payload on its way to the backend.
    pub enum PayloadFault {
        /// `+` arrives as a space (form encoding without encodeURIComponent, §7.2).
        PlusToSpace,
        /// The plaintext padded with 30 bytes of 0x1e (never made by WeChat, §4).
        NonstandardPadding,
        /// Encrypted with this app's key but watermarked with another app's appid (§7.7).
        WatermarkOtherApp,
    }
}

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// The page calls `wx.login`.
    Login,
    /// The page calls `wx.checkSession`.
    CheckSession,
    /// The user taps the phone button.
    Tap {
        #[serde(default)]
        tap: Tap,
    },
    /// The backend calls `/sns/jscode2session`.
    Jscode2session {
        #[serde(default)]
        code: CodeRef,
    },
    /// The backend calls `/cgi-bin/token`.
    Token,
    /// The backend calls `/cgi-bin/stable_token`.
    StableToken {
        #[serde(default)]
        force_refresh: bool,
    },
    /// The backend calls `/wxa/business/getuserphonenumber`.
    GetPhoneNumber {
        #[serde(default = "phone_code")]
        code: CodeRef,
        #[serde(default)]
        token: TokenRef,
    },
    /// The backend calls `/wxa/checksession`.
    Checksession {
        #[serde(default)]
        key: KeyRef,
        #[serde(default)]
        token: TokenRef,
    },
    /// The backend decrypts the last tap's legacy payload.
    Decrypt {
        #[serde(default)]
        key: KeyRef,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fault: Option<PayloadFault>,
    },
    /// Time passes.
    Advance { seconds: u64 },
    /// The developer changes the console (its fields, as in the scenario's `console`).
    Console { set: serde_json::Map<String, Value> },
}

fn phone_code() -> CodeRef {
    CodeRef::Phone
}

/// The verdict and rule a scenario file declares for its last step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredExpect {
    pub verdict: Verdict,
    pub rule: String,
}

/// One scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub title: String,
    /// What a correct backend does, in one or two sentences.
    pub description: String,
    pub source: String,
    #[serde(default)]
    pub console: Console,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub switches: Switches,
    pub steps: Vec<Step>,
    pub expect: DeclaredExpect,
}

/// One step as it ran: what was sent and what came back.
#[derive(Debug, Clone, Serialize)]
pub struct StepTrace {
    pub step: Step,
    pub at: u64,
    /// What the step sent (parameters and body), where it sent something.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub request: Value,
    /// What came back: the endpoint's JSON, the page's result, or the backend's decryption.
    pub answer: Value,
    pub rule: Cause,
}

/// A scenario run: every step, and what a correct backend concludes from the last.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub scenario: String,
    pub appid: String,
    pub steps: Vec<StepTrace>,
    pub expect: Expect,
}

/// What a correct backend concludes from an endpoint's answer.
pub fn conclusion_of(answer: &Answer) -> Expect {
    if answer.errcode() == 0 {
        let plaintext = answer
            .body
            .get("phone_info")
            .cloned()
            .unwrap_or_else(|| answer.body.clone());
        Expect {
            verdict: Verdict::Accept,
            plaintext: Some(plaintext),
            cause: Cause::Rule(answer.rule),
            reason: answer.rule.summary.to_string(),
            doc_policy: None,
        }
    } else {
        Expect {
            verdict: Verdict::PlatformRefused,
            plaintext: None,
            cause: Cause::Rule(answer.rule),
            reason: format!("errcode {}: {}", answer.errcode(), answer.rule.summary),
            doc_policy: None,
        }
    }
}

/// What the backend remembers between steps.
#[derive(Default)]
struct Backend {
    login_code: Option<String>,
    phone_code: Option<String>,
    tokens: Vec<String>,
    session_keys: Vec<String>,
    /// The last tap's payload and the key that encrypted it.
    payload: Option<(String, String, String)>,
}

impl Scenario {
    /// Runs the scenario for the app of `keys`, from [`SCENARIO_START`].
    pub fn run(&self, keys: &WechatKeys) -> Run {
        let mut console = self.console.clone();
        let mut platform = Platform::default();
        let mut backend = Backend::default();
        let mut now = SCENARIO_START;
        let mut steps = Vec::new();
        let mut last = None;
        for step in &self.steps {
            if let Step::Console { set } = step {
                let mut value = serde_json::to_value(&console).expect("serialises");
                for (key, field) in set {
                    value[key] = field.clone();
                }
                console = serde_json::from_value(value)
                    .unwrap_or_else(|e| panic!("scenario {}: console step: {e}", self.name));
            }
            let app = AppRef {
                keys,
                console: &console,
                user: &self.user,
                switches: &self.switches,
            };
            let (request, answer, expect) =
                run_step(step, app, &mut platform, &mut backend, &mut now);
            steps.push(StepTrace {
                step: step.clone(),
                at: now,
                request,
                answer,
                rule: expect.cause.clone(),
            });
            last = Some(expect);
        }
        Run {
            scenario: self.name.clone(),
            appid: keys.appid.clone(),
            steps,
            expect: last.expect("a scenario has steps (checked as it is read)"),
        }
    }
}

fn code_of(reference: CodeRef, backend: &Backend) -> String {
    match reference {
        CodeRef::Login => backend.login_code.clone(),
        CodeRef::Phone => backend.phone_code.clone(),
        CodeRef::Bogus => None,
    }
    .unwrap_or_else(|| "061Bogus0nEverIssued0000000000ab".into())
}

fn token_of(reference: TokenRef, backend: &Backend) -> String {
    match reference {
        TokenRef::Latest => backend.tokens.last().cloned(),
        TokenRef::First => backend.tokens.first().cloned(),
        TokenRef::Bogus => None,
    }
    .unwrap_or_else(|| "80_NeverIssuedByWeChat".into())
}

fn session_key_of(reference: KeyRef, backend: &Backend) -> Option<String> {
    match reference {
        KeyRef::Latest | KeyRef::DecodedBytes => backend.session_keys.last().cloned(),
        KeyRef::First => backend.session_keys.first().cloned(),
    }
}

fn front_end(
    rule: &'static crate::oracle::Rule,
    verdict: Verdict,
    plaintext: Option<Value>,
) -> Expect {
    Expect {
        verdict,
        plaintext,
        cause: Cause::Rule(rule),
        reason: rule.summary.to_string(),
        doc_policy: None,
    }
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run_step(
    step: &Step,
    app: AppRef,
    platform: &mut Platform,
    backend: &mut Backend,
    now: &mut u64,
) -> (Value, Value, Expect) {
    let keys = app.keys;
    let endpoint = |answer: Answer| {
        let expect = conclusion_of(&answer);
        (answer.body, expect)
    };
    match step {
        Step::Login => {
            let result = wx_login(platform, app, *now);
            backend.login_code = result["code"].as_str().map(String::from);
            let expect = front_end(
                &crate::wechat::rules::LOGIN_OK,
                Verdict::Accept,
                Some(result.clone()),
            );
            (Value::Null, result, expect)
        }
        Step::CheckSession => {
            let (result, rule) = wx_check_session(platform, app, *now);
            let verdict = if rule.id.ends_with("-ok") {
                Verdict::Accept
            } else {
                Verdict::FrontEnd
            };
            (Value::Null, result, front_end(rule, verdict, None))
        }
        Step::Tap { tap: action } => {
            let result = tap(platform, app, action, *now);
            if let Some(code) = result.detail["code"].as_str() {
                backend.phone_code = Some(code.into());
            }
            if let Some(code) = &result.login_code_after {
                backend.login_code = Some(code.clone());
            }
            if let (Some(data), Some(iv)) = (
                result.detail["encryptedData"].as_str(),
                result.detail["iv"].as_str(),
            ) {
                let generation = platform.current_session(*now);
                // The key current at confirm time; a wx.login in the callback may rotate it after.
                let used = result
                    .encrypted_with
                    .clone()
                    .unwrap_or_else(|| keys.session_key(generation));
                backend.payload = Some((data.into(), iv.into(), used));
            }
            (Value::Null, result.detail, result.expect)
        }
        Step::Jscode2session { code } => {
            let code = code_of(*code, backend);
            let request = params(&[
                ("appid", &keys.appid),
                ("secret", &keys.secret),
                ("js_code", &code),
                ("grant_type", "authorization_code"),
            ]);
            let answer = platform.jscode2session(app, &request, *now);
            if let Some(key) = answer.body["session_key"].as_str() {
                backend.session_keys.push(key.into());
            }
            let (body, expect) = endpoint(answer);
            (json!(request), body, expect)
        }
        Step::Token => {
            let request = params(&[
                ("grant_type", "client_credential"),
                ("appid", &keys.appid),
                ("secret", &keys.secret),
            ]);
            let answer = platform.token(app, &request, Some("127.0.0.1"), *now);
            if let Some(token) = answer.body["access_token"].as_str() {
                backend.tokens.push(token.into());
            }
            let (body, expect) = endpoint(answer);
            (json!(request), body, expect)
        }
        Step::StableToken { force_refresh } => {
            let request = params(&[
                ("grant_type", "client_credential"),
                ("appid", &keys.appid),
                ("secret", &keys.secret),
            ]);
            let answer =
                platform.stable_token(app, &request, *force_refresh, Some("127.0.0.1"), *now);
            if let Some(token) = answer.body["access_token"].as_str() {
                backend.tokens.push(token.into());
            }
            let (body, expect) = endpoint(answer);
            let mut request = json!(request);
            request["force_refresh"] = (*force_refresh).into();
            (request, body, expect)
        }
        Step::GetPhoneNumber { code, token } => {
            let token = token_of(*token, backend);
            let body = json!({"code": code_of(*code, backend)});
            let answer = platform.get_phone_number(app, &token, Some(&body), *now);
            let (answer, expect) = endpoint(answer);
            (json!({"access_token": token, "body": body}), answer, expect)
        }
        Step::Checksession { key, token } => {
            let token = token_of(*token, backend);
            let session_key = session_key_of(*key, backend).unwrap_or_default();
            let signature = if *key == KeyRef::DecodedBytes {
                let decoded = crate::crypto::unb64("session_key", &session_key).unwrap_or_default();
                crate::crypto::hmac_sha256_hex(&decoded, b"")
            } else {
                crate::wechat::crypto::checksession_signature(&session_key, "")
            };
            let request = params(&[
                ("access_token", &token),
                ("openid", &keys.openid()),
                ("signature", &signature),
                ("sig_method", "hmac_sha256"),
            ]);
            let answer = platform.checksession(app, &token, &request, *now);
            let (body, expect) = endpoint(answer);
            (json!(request), body, expect)
        }
        Step::Decrypt { key, fault } => {
            let Some((data, iv, used)) = backend.payload.clone() else {
                let expect = front_end(&crate::wechat::rules::USER_DENY, Verdict::FrontEnd, None);
                return (
                    Value::Null,
                    json!({"error": "no legacy payload to decrypt"}),
                    expect,
                );
            };
            let (data, iv) = apply_fault(*fault, keys, &used, data, iv);
            let held = session_key_of(*key, backend).unwrap_or_default();
            let expect = judge_legacy(&keys.appid, &held, &iv, &data);
            let request = json!({"session_key": held, "iv": iv, "encryptedData": data});
            let answer = json!({"verdict": expect.verdict, "plaintext": expect.plaintext});
            (request, answer, expect)
        }
        Step::Console { set } => {
            let expect = front_end(&crate::wechat::rules::LOGIN_OK, Verdict::FrontEnd, None);
            (
                json!(set),
                json!({"console": app.console}),
                Expect {
                    reason: "the console changes".into(),
                    ..expect
                },
            )
        }
        Step::Advance { seconds } => {
            *now += seconds;
            let expect = front_end(&crate::wechat::rules::LOGIN_OK, Verdict::FrontEnd, None);
            (
                Value::Null,
                json!({"now": *now}),
                Expect {
                    reason: "time passes".into(),
                    ..expect
                },
            )
        }
    }
}

/// The payload as `fault` changes it on the way; `key` is the one that encrypted it.
pub fn apply_fault(
    fault: Option<PayloadFault>,
    keys: &WechatKeys,
    key: &str,
    data: String,
    iv: String,
) -> (String, String) {
    let reencrypt = |change: &dyn Fn(&mut Value), padding: Padding| {
        let plain = decrypt(key, &iv, &data).expect("the engine's own payload decrypts");
        let mut parsed: Value = serde_json::from_slice(&plain).expect("the engine's own JSON");
        change(&mut parsed);
        let text = serde_json::to_string(&parsed).expect("serialises");
        encrypt(key, &iv, text.as_bytes(), padding).expect("valid key and iv")
    };
    match fault {
        None => (data, iv),
        Some(PayloadFault::PlusToSpace) => {
            // The fault is a `+` read as a space: `encryptedData` with no `+` would pass
            // unchanged, so its JSON is given trailing whitespace until its Base64 has one.
            let mut data = data;
            let mut plain = decrypt(key, &iv, &data).expect("the engine's own payload decrypts");
            while !data.contains('+') && plain.len() < 4096 {
                plain.push(b' ');
                data = encrypt(key, &iv, &plain, Padding::Pkcs7).expect("valid key and iv");
            }
            (data.replace('+', " "), iv.replace('+', " "))
        }
        Some(PayloadFault::NonstandardPadding) => {
            (reencrypt(&|_| {}, Padding::Custom(30)), iv.clone())
        }
        Some(PayloadFault::WatermarkOtherApp) => {
            let other = WechatKeys::for_seed(keys.seed.wrapping_add(1)).appid;
            (
                reencrypt(
                    &|v| v["watermark"]["appid"] = other.clone().into(),
                    Padding::Pkcs7,
                ),
                iv.clone(),
            )
        }
    }
}

/// Every scenario of the catalogue, by name, read once.
pub fn catalogue() -> &'static [Scenario] {
    static CATALOGUE: std::sync::OnceLock<Vec<Scenario>> = std::sync::OnceLock::new();
    CATALOGUE.get_or_init(|| {
        embedded::FILES
            .iter()
            .map(|(file, text)| {
                let scenario: Scenario = serde_json::from_str(text)
                    .unwrap_or_else(|e| panic!("scenarios/wechat/{file}: {e}"));
                assert_eq!(
                    format!("{}.json", scenario.name),
                    *file,
                    "scenarios/wechat/{file}: name"
                );
                assert!(
                    !scenario.steps.is_empty(),
                    "scenarios/wechat/{file}: no steps"
                );
                scenario
            })
            .collect()
    })
}

/// The scenario called `name`.
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    catalogue().iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_to_space_always_leaves_a_space_in_encrypted_data() {
        // About one payload in 25 has no `+`; a fault that passed those unchanged would
        // leave the oracle saying accept.
        let keys = WechatKeys::for_seed(7);
        let key = "tiihtNczf5v6AKRyjwEUhQ==";
        let iv = "r7BXXKkLb8qrSNn05n0qiA==";
        let mut without_plus = 0;
        for n in 0..400 {
            let plain =
                format!(r#"{{"n":{n},"phoneNumber":"138{n:08}","watermark":{{"appid":"wx"}}}}"#);
            let data = encrypt(key, iv, plain.as_bytes(), Padding::Pkcs7).unwrap();
            without_plus += usize::from(!data.contains('+'));
            let (faulty, _) =
                apply_fault(Some(PayloadFault::PlusToSpace), &keys, key, data, iv.into());
            assert!(faulty.contains(' '), "{plain}: {faulty}");
            assert!(!faulty.contains('+'), "{plain}: {faulty}");
        }
        assert!(without_plus > 0, "the sample has payloads with no +");
    }
}
