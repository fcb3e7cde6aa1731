//! WeChat's servers for one app (§3): what they remember (codes, tokens, the user's session key)
//! and each endpoint as a function over that memory and the time it is given. The HTTP adapter
//! finds the app (by appid or by token) and calls these; nothing here knows HTTP.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::oracle::Rule;
use crate::wechat::crypto::{checksession_signature, PhoneInfo};
use crate::wechat::keys::WechatKeys;
use crate::wechat::model::{Console, Switches, User};
use crate::wechat::rules::*;

/// An app as the endpoints see it: its credentials, console, user and switches.
#[derive(Debug, Clone, Copy)]
pub struct AppRef<'a> {
    pub keys: &'a WechatKeys,
    pub console: &'a Console,
    pub user: &'a User,
    pub switches: &'a Switches,
}

/// The user's session key with WeChat: one at a time (§2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Which of [`WechatKeys::session_key`] is current.
    pub generation: u64,
    pub issued_at: u64,
}

/// A code the platform issued and remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedCode {
    pub issued_at: u64,
    pub used: bool,
    /// Login codes: the session key generation they map to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_generation: Option<u64>,
    /// Phone codes: the number they give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_info: Option<PhoneInfo>,
}

/// An access token and its life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub value: String,
    pub issued_at: u64,
    pub expires_at: u64,
    /// When a newer token of the same kind replaced it; it works `token_overlap` more seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<u64>,
}

/// What WeChat's servers remember of one app. Kept in the state file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Platform {
    pub session: Option<Session>,
    /// The last login code `wx.login` gave: `wx.checkSession` checks its key (§2.4).
    pub last_login_code: Option<String>,
    pub login_codes: BTreeMap<String, IssuedCode>,
    pub phone_codes: BTreeMap<String, IssuedCode>,
    /// `/cgi-bin/token`'s tokens, oldest first.
    pub tokens: Vec<Token>,
    /// `/cgi-bin/stable_token`'s, independent of those (§3.3).
    pub stable_tokens: Vec<Token>,
    pub forced_refreshes: Vec<u64>,
    /// When jscode2session was called, for the per-minute limit.
    pub logins_at: Vec<u64>,
    /// Successful phone-number deliveries, charged against the console's quota.
    pub quota_used: u64,
    /// How many of each drawn value were made: codes, tokens, IVs, error ids.
    pub drawn: BTreeMap<String, u64>,
}

/// One endpoint's answer: the JSON WeChat sends (always with HTTP 200) and the rule behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub body: Value,
    pub rule: &'static Rule,
}

impl Answer {
    /// The `errcode`; successes of token and jscode2session carry none and count as 0.
    pub fn errcode(&self) -> i64 {
        self.body["errcode"].as_i64().unwrap_or(0)
    }
}

/// How an error's text joins its `rid:` (§3.1: each errcode has its own template).
#[derive(Clone, Copy)]
enum Rid {
    /// `invalid code, rid: …`
    Comma,
    /// `api unauthorized rid: …`
    Space,
    /// `invalid code hint: [xxxxxxxxxxxxxxxx] rid: …` (getuserphonenumber's 40029)
    Hint,
}

/// The `rid` of an error at `now`: the time in hex, then two random groups (§3.1).
pub fn rid(now: u64, a: u32, b: u32) -> String {
    format!("{:08x}-{a:08x}-{b:08x}", now as u32)
}

/// An error answered before any app is known (unknown appid or token): its ids come from the
/// time alone.
pub fn anonymous_error(errcode: i64, text: &str, rule: &'static Rule, now: u64) -> Answer {
    let (a, b, _) = WechatKeys::for_seed(now).error_nonce(0);
    Answer {
        body: json!({"errcode": errcode, "errmsg": format!("{text} rid: {}", rid(now, a, b))}),
        rule,
    }
}

/// Query parameters or a JSON body's string fields, by name.
pub type Params = BTreeMap<String, String>;

impl Platform {
    fn next(&mut self, what: &str) -> u64 {
        let n = self.drawn.entry(what.to_string()).or_default();
        *n += 1;
        *n - 1
    }

    fn error(
        &mut self,
        app: AppRef,
        now: u64,
        errcode: i64,
        text: &str,
        join: Rid,
        rule: &'static Rule,
    ) -> Answer {
        let (a, b, hint) = app.keys.error_nonce(self.next("error"));
        let rid = rid(now, a, b);
        let errmsg = match join {
            Rid::Comma => format!("{text}, rid: {rid}"),
            Rid::Space => format!("{text} rid: {rid}"),
            Rid::Hint => format!("{text} hint: [{hint}] rid: {rid}"),
        };
        Answer {
            body: json!({"errcode": errcode, "errmsg": errmsg}),
            rule,
        }
    }

    /// The session key generation current at `now`, making the first one if none was.
    pub fn current_session(&mut self, now: u64) -> u64 {
        self.session
            .get_or_insert(Session {
                generation: 0,
                issued_at: now,
            })
            .generation
    }

    fn session_expired(&self, app: AppRef, now: u64) -> bool {
        match (&self.session, app.switches.session_key_ttl) {
            (Some(session), Some(ttl)) => now >= session.issued_at + ttl,
            _ => false,
        }
    }

    /// `wx.login`: a new login code, rotating the session key when the switches say so (§2.4).
    pub fn login(&mut self, app: AppRef, now: u64) -> String {
        let rotate = match &self.session {
            None => false,
            Some(session) => {
                self.session_expired(app, now)
                    || app
                        .switches
                        .rotation_min_period
                        .is_some_and(|period| now >= session.issued_at + period)
            }
        };
        let generation = if rotate {
            let next = self.session.as_ref().map_or(0, |s| s.generation + 1);
            self.session = Some(Session {
                generation: next,
                issued_at: now,
            });
            next
        } else {
            self.current_session(now)
        };
        let code = app.keys.code("login", self.next("login-code"));
        self.login_codes.insert(
            code.clone(),
            IssuedCode {
                issued_at: now,
                used: false,
                session_generation: Some(generation),
                phone_info: None,
            },
        );
        self.last_login_code = Some(code.clone());
        code
    }

    /// `wx.checkSession`: whether the key of the last login code is current and unexpired.
    pub fn check_session(&self, app: AppRef, now: u64) -> bool {
        let current = self.session.as_ref().map(|s| s.generation);
        let of_last = self
            .last_login_code
            .as_ref()
            .and_then(|code| self.login_codes.get(code))
            .and_then(|code| code.session_generation);
        of_last.is_some() && of_last == current && !self.session_expired(app, now)
    }

    /// A phone code for `info`, as the button hands the page (§1 B).
    pub fn issue_phone_code(&mut self, app: AppRef, info: PhoneInfo, now: u64) -> String {
        let code = app.keys.code("phone", self.next("phone-code"));
        self.phone_codes.insert(
            code.clone(),
            IssuedCode {
                issued_at: now,
                used: false,
                session_generation: None,
                phone_info: Some(info),
            },
        );
        code
    }

    /// The IV of the next legacy payload.
    pub fn next_iv(&mut self, app: AppRef) -> String {
        app.keys.iv(self.next("iv"))
    }

    fn check_credentials(&mut self, app: AppRef, params: &Params, now: u64) -> Option<Answer> {
        match params.get("secret").map(String::as_str) {
            None | Some("") => Some(self.error(
                app,
                now,
                41004,
                "appsecret missing",
                Rid::Space,
                &PARAMETER_MISSING,
            )),
            Some(secret) if secret != app.keys.secret => Some(self.error(
                app,
                now,
                40125,
                "invalid appsecret",
                Rid::Comma,
                &INVALID_SECRET,
            )),
            Some(_) if app.console.secret_frozen => Some(self.error(
                app,
                now,
                40243,
                "AppSecret is frozen",
                Rid::Space,
                &SECRET_FROZEN,
            )),
            Some(_) => None,
        }
    }

    /// `GET /sns/jscode2session` (§3.4). Precedence (chosen): busy, appid, secret, frozen,
    /// grant_type, code missing, used (40163), rate (45011), risk (40226), unknown or expired
    /// (40029).
    pub fn jscode2session(&mut self, app: AppRef, params: &Params, now: u64) -> Answer {
        if app.switches.system_busy {
            return self.error(app, now, -1, "system error", Rid::Space, &SYSTEM_BUSY);
        }
        if let Some(refusal) = self.check_credentials(app, params, now) {
            return refusal;
        }
        if let Some(grant) = params.get("grant_type") {
            if grant != "authorization_code" {
                return self.error(
                    app,
                    now,
                    40002,
                    "invalid grant_type",
                    Rid::Space,
                    &INVALID_GRANT_TYPE,
                );
            }
        }
        let Some(code) = params.get("js_code").filter(|c| !c.is_empty()) else {
            return self.error(
                app,
                now,
                41008,
                "missing code",
                Rid::Space,
                &PARAMETER_MISSING,
            );
        };
        let issued = self.login_codes.get(code).cloned();
        if issued.as_ref().is_some_and(|c| c.used) {
            return self.error(app, now, 40163, "code been used", Rid::Comma, &CODE_USED);
        }
        self.logins_at.retain(|&at| now < at + 60);
        if self.logins_at.len() >= app.switches.login_rate_per_minute as usize {
            return self.error(
                app,
                now,
                45011,
                "api minute-quota reach limit, must slower, retry next minute",
                Rid::Comma,
                &LOGIN_RATE_LIMITED,
            );
        }
        self.logins_at.push(now);
        if app.user.risky {
            return self.error(app, now, 40226, "code blocked", Rid::Comma, &CODE_BLOCKED);
        }
        let Some(issued) = issued.filter(|c| now < c.issued_at + app.switches.code_ttl) else {
            return self.error(app, now, 40029, "invalid code", Rid::Comma, &INVALID_CODE);
        };
        self.login_codes.get_mut(code).expect("found above").used = true;
        let generation = issued.session_generation.unwrap_or(0);
        let mut body = json!({
            "session_key": app.keys.session_key(generation),
            "openid": app.keys.openid(),
        });
        if app.console.open_platform_bound {
            body["unionid"] = app.keys.unionid().into();
        }
        Answer {
            body,
            rule: &SESSION_OK,
        }
    }

    fn token_refusal(
        &mut self,
        app: AppRef,
        params: &Params,
        client_ip: Option<&str>,
        now: u64,
    ) -> Option<Answer> {
        if app.switches.system_busy {
            return Some(self.error(app, now, -1, "system error", Rid::Space, &SYSTEM_BUSY));
        }
        if params.get("grant_type").map(String::as_str) != Some("client_credential") {
            return Some(self.error(
                app,
                now,
                40002,
                "invalid grant_type",
                Rid::Space,
                &INVALID_GRANT_TYPE,
            ));
        }
        if let Some(refusal) = self.check_credentials(app, params, now) {
            return Some(refusal);
        }
        if let (Some(list), Some(ip)) = (&app.console.ip_allow_list, client_ip) {
            if !list.iter().any(|allowed| allowed == ip) {
                let text = format!("invalid ip {ip} ipv6 ::ffff:{ip}, not in whitelist");
                return Some(self.error(app, now, 40164, &text, Rid::Space, &IP_NOT_ALLOWED));
            }
        }
        None
    }

    fn issue_token(&mut self, app: AppRef, kind: &str, now: u64) -> Token {
        let value = app.keys.access_token(kind, self.next(kind));
        let token = Token {
            value,
            issued_at: now,
            expires_at: now + app.switches.token_expires_in,
            superseded_at: None,
        };
        let tokens = if kind == "stable" {
            &mut self.stable_tokens
        } else {
            &mut self.tokens
        };
        for old in tokens.iter_mut().filter(|t| t.superseded_at.is_none()) {
            old.superseded_at = Some(now);
        }
        tokens.push(token.clone());
        // Only the last few can still matter.
        if tokens.len() > 8 {
            tokens.remove(0);
        }
        token
    }

    /// `GET /cgi-bin/token` (§3.2): a new token each call; the previous one works 300 s more.
    pub fn token(
        &mut self,
        app: AppRef,
        params: &Params,
        client_ip: Option<&str>,
        now: u64,
    ) -> Answer {
        if let Some(refusal) = self.token_refusal(app, params, client_ip, now) {
            return refusal;
        }
        let token = self.issue_token(app, "token", now);
        Answer {
            body: json!({"access_token": token.value, "expires_in": token.expires_at - now}),
            rule: &TOKEN_ISSUED,
        }
    }

    /// `POST /cgi-bin/stable_token` (§3.3): the same token until 300 s before expiry;
    /// `force_refresh` makes a new one at most 20 times a day, 30 s apart.
    pub fn stable_token(
        &mut self,
        app: AppRef,
        params: &Params,
        force_refresh: bool,
        client_ip: Option<&str>,
        now: u64,
    ) -> Answer {
        if let Some(refusal) = self.token_refusal(app, params, client_ip, now) {
            return refusal;
        }
        let overlap = app.switches.token_overlap;
        let current = self
            .stable_tokens
            .iter()
            .rev()
            .find(|t| t.superseded_at.is_none() && now < t.expires_at)
            .cloned();
        self.forced_refreshes.retain(|&at| now < at + 86_400);
        let may_force = self.forced_refreshes.len() < 20
            && self
                .forced_refreshes
                .last()
                .is_none_or(|&at| now >= at + 30);
        let (token, rule) = match current {
            Some(token) if force_refresh && !may_force => (token, &STABLE_FORCE_LIMITED),
            Some(token) if !force_refresh && now + overlap < token.expires_at => {
                (token, &STABLE_TOKEN)
            }
            _ => {
                if force_refresh {
                    self.forced_refreshes.push(now);
                }
                (self.issue_token(app, "stable", now), &STABLE_TOKEN)
            }
        };
        Answer {
            body: json!({"access_token": token.value, "expires_in": token.expires_at - now}),
            rule,
        }
    }

    /// Whether this app issued `token` (of either kind).
    pub fn knows_token(&self, token: &str) -> bool {
        self.tokens
            .iter()
            .chain(&self.stable_tokens)
            .any(|t| t.value == token)
    }

    /// Refuses a token that is expired (42001) or superseded more than the overlap ago
    /// (40001), §3.3.
    fn token_problem(&mut self, app: AppRef, token: &str, now: u64) -> Option<Answer> {
        let found = self
            .tokens
            .iter()
            .chain(&self.stable_tokens)
            .find(|t| t.value == token)
            .cloned();
        match found {
            None => Some(self.unknown_token(app, now)),
            Some(t) if now >= t.expires_at => Some(self.error(
                app,
                now,
                42001,
                "access_token expired",
                Rid::Space,
                &TOKEN_EXPIRED,
            )),
            Some(t)
                if t.superseded_at
                    .is_some_and(|at| now >= at + app.switches.token_overlap) =>
            {
                Some(self.stale_token(app, now))
            }
            Some(_) => None,
        }
    }

    fn stale_token(&mut self, app: AppRef, now: u64) -> Answer {
        self.error(
            app,
            now,
            40001,
            "invalid credential, access_token is invalid or not latest",
            Rid::Space,
            &TOKEN_INVALID,
        )
    }

    fn unknown_token(&mut self, app: AppRef, now: u64) -> Answer {
        if app.switches.unknown_token_40014 {
            self.error(
                app,
                now,
                40014,
                "invalid access_token",
                Rid::Space,
                &TOKEN_INVALID,
            )
        } else {
            self.stale_token(app, now)
        }
    }

    /// `POST /wxa/business/getuserphonenumber?access_token=` (§3.5). `body` is the parsed
    /// JSON body, or `None` when it is not JSON. Phone codes work once, 5 minutes; any other
    /// code (a login code, a used or foreign one) is 40029.
    pub fn get_phone_number(
        &mut self,
        app: AppRef,
        token: &str,
        body: Option<&Value>,
        now: u64,
    ) -> Answer {
        if app.switches.system_busy {
            return self.error(app, now, -1, "system error", Rid::Space, &SYSTEM_BUSY);
        }
        if let Some(problem) = self.token_problem(app, token, now) {
            return problem;
        }
        let code = body
            .and_then(|b| b.get("code"))
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty());
        let Some(code) = code else {
            return self.error(
                app,
                now,
                47001,
                "data format error",
                Rid::Space,
                &DATA_FORMAT,
            );
        };
        if app.console.phone_permission_revoked {
            return self.error(
                app,
                now,
                48001,
                "api unauthorized",
                Rid::Space,
                &API_UNAUTHORIZED,
            );
        }
        let openid_matches = body
            .and_then(|b| b.get("openid"))
            .and_then(Value::as_str)
            .is_none_or(|openid| openid == app.keys.openid());
        let usable = self
            .phone_codes
            .get(code)
            .filter(|c| !c.used && now < c.issued_at + app.switches.code_ttl && openid_matches)
            .and_then(|c| c.phone_info.clone());
        let Some(info) = usable else {
            return self.error(app, now, 40029, "invalid code", Rid::Hint, &INVALID_CODE);
        };
        self.phone_codes.get_mut(code).expect("found above").used = true;
        let mut phone_info = serde_json::to_value(&info).expect("serialises");
        if app.switches.country_code_as_number {
            if let Ok(number) = info.country_code.parse::<u64>() {
                phone_info["countryCode"] = number.into();
            }
        }
        Answer {
            body: json!({"errcode": 0, "errmsg": "ok", "phone_info": phone_info}),
            rule: &PHONE_INFO,
        }
    }

    /// `GET /wxa/checksession` (§3.6): 0 when `signature` is the HMAC of the user's current,
    /// unexpired key over the empty body; 87009 otherwise, whatever the reason.
    pub fn checksession(&mut self, app: AppRef, token: &str, params: &Params, now: u64) -> Answer {
        if app.switches.system_busy {
            return self.error(app, now, -1, "system error", Rid::Space, &SYSTEM_BUSY);
        }
        if let Some(problem) = self.token_problem(app, token, now) {
            return problem;
        }
        let current = self
            .session
            .as_ref()
            .filter(|_| !self.session_expired(app, now))
            .map(|s| app.keys.session_key(s.generation));
        let valid = current.is_some_and(|key| {
            params.get("openid") == Some(&app.keys.openid())
                && params.get("sig_method").map(String::as_str) == Some("hmac_sha256")
                && params.get("signature") == Some(&checksession_signature(&key, ""))
        });
        if valid {
            Answer {
                body: json!({"errcode": 0, "errmsg": "ok"}),
                rule: &CHECKSESSION_OK,
            }
        } else {
            self.error(
                app,
                now,
                87009,
                "invalid signature",
                Rid::Space,
                &INVALID_SIGNATURE,
            )
        }
    }

    /// The answer for a method the endpoint does not take (`stable_token` and
    /// `getuserphonenumber` are POST-only, §3.3).
    pub fn require_post(&mut self, app: AppRef, now: u64) -> Answer {
        self.error(
            app,
            now,
            43002,
            "require POST method",
            Rid::Space,
            &REQUIRE_POST,
        )
    }
}
