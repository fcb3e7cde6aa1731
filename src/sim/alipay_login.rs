//! The Alipay login in the shell: what the gateway remembers of an app's login (its
//! authorization codes and tokens, in memory only), and how the app's own key pair is shown.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One `my.getAuthCode` code.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) issued_at: u64,
    pub(crate) scopes: Vec<String>,
    pub(crate) used: bool,
    /// The device session the code was given in: the user it logs in.
    pub(crate) device_session: u64,
}

/// An access token or a refresh token the gateway issued.
#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub(crate) issued_at: u64,
    /// The scopes of the code the login started with: `alipay.user.info.share` wants auth_user.
    pub(crate) scopes: Vec<String>,
    pub(crate) used: bool,
    /// The device session of the code the login started with.
    pub(crate) device_session: u64,
}

/// An access token's life (`expires_in`, 15 days) and a refresh token's (`re_expires_in`, 30).
pub(crate) const ACCESS_TOKEN_TTL: u64 = 1_296_000;
pub(crate) const REFRESH_TOKEN_TTL: u64 = 2_592_000;

/// What the gateway remembers of an app's login.
#[derive(Debug, Default)]
pub(crate) struct LoginMemory {
    pub(crate) codes: BTreeMap<String, AuthCode>,
    pub(crate) access_tokens: BTreeMap<String, IssuedToken>,
    pub(crate) refresh_tokens: BTreeMap<String, IssuedToken>,
    /// How many codes and tokens were drawn, for the next one's value.
    pub(crate) drawn: u64,
    /// Device sessions started after the first (`POST .../device-session`): the current one
    /// is `1 + sessions_started`.
    pub(crate) sessions_started: u64,
}

impl LoginMemory {
    /// The device session page calls belong to now: 1 until a new one is started.
    pub(crate) fn device_session(&self) -> u64 {
        1 + self.sessions_started
    }

    /// The device session a gateway request belongs to, found through its code, its
    /// `auth_token` or its `refresh_token` (without using any of them).
    pub(crate) fn session_of(&self, params: &BTreeMap<String, String>) -> Option<u64> {
        let param = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        self.codes
            .get(param("code"))
            .map(|c| c.device_session)
            .or_else(|| {
                self.access_tokens
                    .get(param("auth_token"))
                    .map(|t| t.device_session)
            })
            .or_else(|| {
                self.refresh_tokens
                    .get(param("refresh_token"))
                    .map(|t| t.device_session)
            })
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// Which ids a login answers with (openid配置管理, gateway spec §1.2).
    #[derive(Default)]
    pub enum IdMode {
        /// Only `open_id`, per app (new apps, §9's default).
        #[default]
        Openid,
        /// Only `user_id` (2088…, the Alipay account's, the same in every app).
        Userid,
        /// Both: the verification phase of the migration.
        Both,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// How `expires_in` and `re_expires_in` are written (gateway spec §1.2, §9).
    #[derive(Default)]
    pub enum NumberForm {
        /// JSON numbers, as captured answers have them (§9's default).
        #[default]
        Number,
        /// Strings, as the docs and the Java v3 model say.
        String,
    }
}

/// The login's console settings, and the points the sources leave open (gateway spec §9),
/// each a switch with the spec's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoginSettings {
    /// `openid` (default), `userid` or `both`.
    #[schema(required)]
    pub id_mode: IdMode,
    /// The app group (应用分组) the app is in, if any: logins then carry `union_id`, the same
    /// for one Alipay account in every app of the group.
    #[schema(required)]
    pub union_group: Option<String>,
    /// How long a `my.getAuthCode` code works, in seconds of the simulator's clock (the docs
    /// say 3 minutes to 24 hours; default 180).
    #[schema(required, minimum = 1)]
    pub auth_code_ttl: u64,
    /// `expires_in` / `re_expires_in` as `number` (default) or `string`.
    #[schema(required)]
    pub expires_in: NumberForm,
    /// Each refresh gives a new refresh token and the old one answers
    /// `isv.refreshed-token-invalid` (default true); false keeps it valid until
    /// `re_expires_in`.
    #[schema(required)]
    pub refresh_token_rotation: bool,
    /// The `mobile` field applied for (用户信息申请): `alipay.user.info.share` then answers the
    /// user's number to an `auth_user` login (default false).
    #[schema(required)]
    pub mobile_field: bool,
}

impl Default for LoginSettings {
    fn default() -> Self {
        LoginSettings {
            id_mode: IdMode::default(),
            union_group: None,
            auth_code_ttl: AUTH_CODE_TTL,
            expires_in: NumberForm::default(),
            refresh_token_rotation: true,
            mobile_field: false,
        }
    }
}

impl LoginSettings {
    pub(crate) fn is_default(&self) -> bool {
        *self == LoginSettings::default()
    }
}

/// One login call as the journal keeps it: the page's `my.getAuthCode` or a backend's gateway
/// request, with the device session it belongs to (the session whose code or token it
/// carries), so that one user's login and phone-number calls can be read together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AlipayLoginJournalEntry {
    pub id: u64,
    #[schema(format = DateTime)]
    pub time: String,
    pub app_id: String,
    /// The device session; null when the request named no code or token the gateway issued.
    #[schema(required)]
    pub device_session: Option<u64>,
    /// `my.getAuthCode`, or the gateway method: `alipay.system.oauth.token`,
    /// `alipay.user.info.share` (v2 and v3 alike), or the method a refused request named.
    pub call: String,
    /// `page`, `v2` (`/gateway.do`) or `v3`.
    pub api: String,
    /// What was asked: the page's scopes, or the request's parameters less `sign` (v3: its
    /// path, query and body).
    #[schema(value_type = Object)]
    pub request: Value,
    /// What was answered: the page's result, or the response object (`error_response`'s for
    /// an error; v3: the body).
    #[schema(value_type = Object)]
    pub answer: Value,
    /// The gateway fault the answer was made with, if any.
    #[schema(value_type = Option<String>, required)]
    pub gateway_fault: Option<crate::alipay::gateway::GatewayFault>,
    /// The user the call logged in or read: its open_id (or user_id).
    #[schema(required)]
    pub user: Option<String>,
}

impl AlipayLoginJournalEntry {
    /// About what the entry takes, for the journal's byte bound.
    pub(crate) fn size(&self) -> usize {
        256 + self.request.to_string().len() + self.answer.to_string().len()
    }
}

/// How long a code works (3 minutes to 24 hours per the docs; chosen 180 s).
pub(crate) const AUTH_CODE_TTL: u64 = 180;

/// The app's own key pair, for its requests to the gateway: what the developer configures
/// their SDK with (`privateKey`), and the public key the gateway verifies with.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AppKeyPairView {
    /// The app public key (应用公钥) the gateway verifies requests with, one-line base64.
    pub app_public_key: String,
    /// Whether `app_public_key` is one the developer uploaded (then no private key is shown).
    pub uploaded: bool,
    /// The app private key the simulator made, PKCS#1 PEM (the Node and Python SDKs), or null
    /// once the developer uploaded a key of their own.
    #[schema(required)]
    pub app_private_key_pkcs1_pem: Option<String>,
    /// The same, PKCS#8 PEM (the Java SDK).
    #[schema(required)]
    pub app_private_key_pkcs8_pem: Option<String>,
}
