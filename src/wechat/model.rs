//! The inputs of the WeChat engine: the app's console (§5), its user, the switches for what the
//! docs leave open (§9, each with its chosen default), and what the user does at the button.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::wire::wire_enum! {
    "kebab-case",
    /// 主体类型: only non-personal, verified, mainland subjects get phone numbers (§5).
    pub enum Subject {
        Enterprise,
        Government,
        Personal,
        Overseas,
    }
}

/// The mini program's state in the WeChat console (mp.weixin.qq.com), §5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(default, as = WechatConsole)]
pub struct Console {
    #[schema(required)]
    pub subject: Subject,
    /// 微信认证 done.
    #[schema(required)]
    pub verified: bool,
    /// Paid phone-number calls left (the 1,000 trial calls by default); each success uses one.
    #[schema(required)]
    pub quota_left: u64,
    /// 《用户隐私保护指引》 declares the phone number (else errno 112).
    #[schema(required)]
    pub privacy_declares_phone: bool,
    /// The IP allow-list for `/cgi-bin/token`; `null` = off (the default, §3.2).
    #[schema(required)]
    pub ip_allow_list: Option<Vec<String>>,
    /// AppSecret frozen (40243, §5).
    #[schema(required)]
    pub secret_frozen: bool,
    /// The phone-number API's permission withdrawn (48001, §5).
    #[schema(required)]
    pub phone_permission_revoked: bool,
    /// Bound to an Open Platform account: jscode2session adds `unionid` (§3.4).
    #[schema(required)]
    pub open_platform_bound: bool,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            subject: Subject::Enterprise,
            verified: true,
            quota_left: 1000,
            privacy_declares_phone: true,
            ip_allow_list: None,
            secret_frozen: false,
            phone_permission_revoked: false,
            open_platform_bound: false,
        }
    }
}

/// The WeChat user of the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(default, as = WechatUser)]
pub struct User {
    /// The bound number without country code; default the first virtual test number (§2.5).
    #[schema(required)]
    pub phone: String,
    #[schema(required)]
    pub country_code: String,
    /// WeChat's risk control flags the user: jscode2session answers 40226 (§3.4).
    #[schema(required)]
    pub risky: bool,
}

impl Default for User {
    fn default() -> Self {
        User {
            phone: "12066600001".into(),
            country_code: "86".into(),
            risky: false,
        }
    }
}

/// The points WeChat's docs leave open or that a tester wants to move (§9), each with its
/// chosen default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(default, as = WechatSwitches)]
pub struct Switches {
    /// `wx.login` rotates the session key when the current one is at least this old, in
    /// seconds; `null` = never. Default 0: every `wx.login` rotates, so the callback bug
    /// reproduces every time (§2.4).
    #[schema(required)]
    pub rotation_min_period: Option<u64>,
    /// Session keys expire this many seconds after issue; `null` (default) = never (§2.4).
    #[schema(required)]
    pub session_key_ttl: Option<u64>,
    /// Access tokens' `expires_in` (default 7200, §3.2).
    #[schema(required)]
    pub token_expires_in: u64,
    /// How long a superseded token keeps working (default 300 s, §3.2).
    #[schema(required)]
    pub token_overlap: u64,
    /// Login and phone codes' lifetime (default 300 s, §3.7).
    #[schema(required)]
    pub code_ttl: u64,
    /// `phone_info.countryCode` as the number `86` (the doc example) rather than the string.
    #[schema(required)]
    pub country_code_as_number: bool,
    /// A token never issued answers 40014 rather than 40001 (§3.3).
    #[schema(required)]
    pub unknown_token_40014: bool,
    /// jscode2session calls per user per minute before 45011 (default 100, §3.4).
    #[schema(required)]
    pub login_rate_per_minute: u32,
    /// Every endpoint answers `-1 system error` (§3.1).
    #[schema(required)]
    pub system_busy: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            rotation_min_period: Some(0),
            session_key_ttl: None,
            token_expires_in: 7200,
            token_overlap: 300,
            code_ttl: 300,
            country_code_as_number: false,
            unknown_token_40014: false,
            login_rate_per_minute: 100,
            system_busy: false,
        }
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// Which button the user taps.
    #[derive(Default)]
    pub enum Button {
        /// `open-type="getPhoneNumber"` (快速验证, §1 A/B).
        #[default]
        Phone,
        /// `open-type="getRealtimePhoneNumber"` (实时验证, §1 C).
        Realtime,
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// What the user answers on the sheet.
    #[derive(Default)]
    pub enum Choice {
        #[default]
        Allow,
        Deny,
    }
}

/// One tap on the phone button, and what surrounds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(default, as = WechatTap)]
pub struct Tap {
    #[schema(required)]
    pub button: Button,
    #[schema(required)]
    pub choice: Choice,
    /// 基础库 version, e.g. `3.4.0`: the code arrives from 2.21.2, the real-time button from
    /// 2.24.4 (§2.2).
    #[schema(required)]
    pub base_library: String,
    /// In WeChat DevTools rather than on a phone (the deny text differs, §2.3).
    #[schema(required)]
    pub devtools: bool,
    /// The user declines the privacy sheet (errno 104, §2.3).
    #[schema(required)]
    pub privacy_disagree: bool,
    /// The page calls `wx.login` inside the callback (the pitfall of §2.4 and §7.1).
    #[schema(required)]
    pub login_in_callback: bool,
}

impl Default for Tap {
    fn default() -> Self {
        Tap {
            button: Button::Phone,
            choice: Choice::Allow,
            base_library: "3.4.0".into(),
            devtools: false,
            privacy_disagree: false,
            login_in_callback: false,
        }
    }
}

/// A base-library version compared by its numbers; `None` if it is not `a.b.c`.
pub fn version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
    let v = (
        parts.next()??,
        parts.next()??,
        parts.next().unwrap_or(Some(0))?,
    );
    parts.next().is_none().then_some(v)
}
