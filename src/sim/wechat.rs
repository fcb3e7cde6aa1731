//! WeChat apps in the shell: what the API takes to create one, how it is shown, how the state
//! file keeps it, and what the journal records of its calls. WeChat's servers' memory (codes,
//! tokens, session keys) lives with the running app, in memory only: a restart forgets it, as
//! a backend whose token then answers 40001 would see after WeChat revoked it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::oracle::{Cause, Expect, Verdict};
use crate::wechat::keys::WechatKeys;
use crate::wechat::model::{Console, Switches, User};
use crate::wechat::platform::{AppRef, Platform};
use crate::wechat::scenario::PayloadFault;

/// A new WeChat app; everything is optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWechatApp {
    /// A name for people, shown beside the appid.
    #[schema(max_length = 64)]
    pub name: Option<String>,
    /// The seed of the appid, secret and the user's keys; by default one from the server's
    /// seed and the app's number, or a random one.
    pub seed: Option<u64>,
    pub console: Option<Console>,
    pub user: Option<User>,
    pub switches: Option<Switches>,
    /// A change to every tap's legacy payload on its way (`plus-to-space`,
    /// `nonstandard-padding`, `watermark-other-app`).
    pub fault: Option<PayloadFault>,
}

/// A WeChat app as the state file keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredWechatApp {
    /// The appid (`wx…`), which is also the app's id in the API.
    pub app_id: String,
    pub seed: u64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub console: Console,
    #[serde(default)]
    pub user: User,
    #[serde(default)]
    pub switches: Switches,
    /// The catalogue scenario last applied, while nothing was changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// A change to every tap's legacy payload on its way to the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<PayloadFault>,
}

/// A running WeChat app.
#[derive(Debug, Clone)]
pub struct WechatApp {
    pub stored: StoredWechatApp,
    pub keys: WechatKeys,
    pub platform: Platform,
}

impl WechatApp {
    pub(crate) fn build(new: NewWechatApp, seed: u64, created_at: String) -> WechatApp {
        let keys = WechatKeys::for_seed(seed);
        WechatApp {
            stored: StoredWechatApp {
                app_id: keys.appid.clone(),
                seed,
                created_at,
                name: new.name,
                console: new.console.unwrap_or_default(),
                user: new.user.unwrap_or_default(),
                switches: new.switches.unwrap_or_default(),
                scenario: None,
                fault: new.fault,
            },
            keys,
            platform: Platform::default(),
        }
    }

    pub(crate) fn from_stored(stored: StoredWechatApp) -> Result<WechatApp, String> {
        let keys = WechatKeys::for_seed(stored.seed);
        if keys.appid != stored.app_id {
            return Err(format!(
                "app_id {:?} is not the appid of seed {} ({})",
                stored.app_id, stored.seed, keys.appid
            ));
        }
        Ok(WechatApp {
            stored,
            keys,
            platform: Platform::default(),
        })
    }

    /// The parts the engine reads, with the platform's memory beside them.
    pub(crate) fn parts(&mut self) -> (&mut Platform, AppRef<'_>) {
        (
            &mut self.platform,
            AppRef {
                keys: &self.keys,
                console: &self.stored.console,
                user: &self.stored.user,
                switches: &self.stored.switches,
            },
        )
    }

    pub(crate) fn view(&self) -> WechatAppView {
        let session = self.platform.session.as_ref();
        WechatAppView {
            platform: "wechat",
            app_id: self.stored.app_id.clone(),
            appid: self.keys.appid.clone(),
            secret: self.keys.secret.clone(),
            name: self.stored.name.clone(),
            seed: self.stored.seed,
            created_at: self.stored.created_at.clone(),
            openid: self.keys.openid(),
            unionid: self
                .stored
                .console
                .open_platform_bound
                .then(|| self.keys.unionid()),
            session_key: session.map(|s| self.keys.session_key(s.generation)),
            session_generation: session.map(|s| s.generation),
            quota_used: self.platform.quota_used,
            console: self.stored.console.clone(),
            user: self.stored.user.clone(),
            switches: self.stored.switches.clone(),
            scenario: self.stored.scenario.clone(),
            fault: self.stored.fault,
        }
    }
}

/// A WeChat app as the API shows it: what a backend is configured with (appid, secret), the
/// user's openid and current session key, and the console.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WechatAppView {
    /// Always `wechat`.
    pub platform: &'static str,
    /// The app's id in the API: its appid.
    pub app_id: String,
    pub appid: String,
    /// AppSecret: a throwaway, like every key here.
    pub secret: String,
    #[schema(required)]
    pub name: Option<String>,
    pub seed: u64,
    pub created_at: String,
    /// The user's openid in this app.
    pub openid: String,
    /// Present when the app is bound to an Open Platform account.
    #[schema(required)]
    pub unionid: Option<String>,
    /// The user's current session key, once there is one.
    #[schema(required)]
    pub session_key: Option<String>,
    #[schema(required)]
    pub session_generation: Option<u64>,
    /// Phone numbers delivered, counted against `console.quota_left`.
    pub quota_used: u64,
    pub console: Console,
    pub user: User,
    pub switches: Switches,
    #[schema(required)]
    pub scenario: Option<String>,
    #[schema(required)]
    pub fault: Option<PayloadFault>,
}

/// One WeChat call the simulator answered: a page's call (`wx.login`, the button) or a
/// backend's call to an endpoint, with what a correct backend concludes from its answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WechatJournalEntry {
    pub id: u64,
    #[schema(format = DateTime)]
    pub time: String,
    pub app_id: String,
    /// `wx.login`, `wx.checkSession`, `tap`, `jscode2session`, `token`, `stable_token`,
    /// `getuserphonenumber`, `checksession`.
    pub call: String,
    /// The session-key generation of the device session the call belongs to, where one is
    /// known (a login, a tap, a code exchanged, a checksession).
    #[schema(required)]
    pub session: Option<u64>,
    /// The simulator's clock at the call (Unix seconds).
    pub at: u64,
    #[schema(value_type = Object)]
    pub request: Value,
    #[schema(value_type = Object)]
    pub answer: Value,
    #[schema(value_type = String)]
    pub rule: Cause,
    pub verdict: Verdict,
    pub reason: String,
    #[schema(value_type = Option<Object>, required)]
    pub plaintext: Option<Value>,
}

impl WechatJournalEntry {
    /// An entry to record (`id` and `time` are set by the journal).
    pub(crate) fn new(
        app_id: &str,
        call: &str,
        session: Option<u64>,
        at: u64,
        request: Value,
        answer: Value,
        expect: Expect,
    ) -> WechatJournalEntry {
        WechatJournalEntry {
            id: 0,
            time: String::new(),
            app_id: app_id.to_string(),
            call: call.to_string(),
            session,
            at,
            request,
            answer,
            rule: expect.cause,
            verdict: expect.verdict,
            reason: expect.reason,
            plaintext: expect.plaintext,
        }
    }

    pub(crate) fn size(&self) -> usize {
        512 + self.request.to_string().len() + self.answer.to_string().len()
    }
}
