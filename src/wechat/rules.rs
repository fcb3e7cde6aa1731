//! Every WeChat behaviour the engine reproduces, by id, with the section of
//! `docs/wechat-getphonenumber.md` that documents it. A result's `rule` is one of these.

use crate::oracle::{Cause, Rule};

macro_rules! rules {
    ($($name:ident = $id:literal, $summary:literal, $source:literal;)*) => {
        $(pub static $name: Rule = Rule { id: $id, summary: $summary, source: $source };)*
        /// Every rule, in the order of the docs.
        pub static RULES: &[&Rule] = &[$(&$name),*];
    };
}

rules! {
    // The front end (§2).
    PHONE_OK = "wechat.phone-ok", "the user allows: the page gets encryptedData and iv, and a code from base library 2.21.2", "docs/wechat-getphonenumber.md §1, §2.2";
    REALTIME_OK = "wechat.realtime-ok", "the real-time button: the number is verified again and the page gets a code", "docs/wechat-getphonenumber.md §1 C, §2.2";
    OLD_BASE_LIBRARY = "wechat.old-base-library", "base library older than 2.21.2: no code, only the legacy encryptedData", "docs/wechat-getphonenumber.md §2.2";
    REALTIME_UNSUPPORTED = "wechat.realtime-unsupported", "base library older than 2.24.4: the real-time button is a plain button and no event comes (chosen)", "docs/wechat-getphonenumber.md §2.3";
    NO_PERMISSION = "wechat.no-permission", "a personal, unverified or overseas subject, or a revoked permission: fail no permission", "docs/wechat-getphonenumber.md §2.3, §5";
    PRIVACY_NOT_DECLARED = "wechat.privacy-not-declared", "the privacy guide does not declare the phone number: errno 112", "docs/wechat-getphonenumber.md §2.3";
    PRIVACY_DISAGREE = "wechat.privacy-disagree", "the user declines the privacy sheet: errno 104", "docs/wechat-getphonenumber.md §2.3";
    QUOTA_EXHAUSTED = "wechat.quota-exhausted", "no paid calls left: no sheet, errno 1400001 (errMsg chosen)", "docs/wechat-getphonenumber.md §2.3, §5";
    USER_DENY = "wechat.user-deny", "the user refuses: fail:user deny on a phone, fail user deny in DevTools", "docs/wechat-getphonenumber.md §2.3";
    LOGIN_OK = "wechat.login-ok", "wx.login gives a code valid 5 minutes, once", "docs/wechat-getphonenumber.md §2.4";
    LOGIN_IN_CALLBACK = "wechat.login-in-callback", "wx.login inside the callback rotated the session key: the data was encrypted under the old one", "docs/wechat-getphonenumber.md §2.4, §7.1";
    CHECK_SESSION_OK = "wechat.check-session-ok", "wx.checkSession: the key of the last code is current", "docs/wechat-getphonenumber.md §2.4";
    CHECK_SESSION_FAIL = "wechat.check-session-fail", "wx.checkSession: the key of the last code was rotated or expired (text chosen)", "docs/wechat-getphonenumber.md §2.4";
    // The endpoints (§3).
    SYSTEM_BUSY = "wechat.system-busy", "-1 system error: retry with back-off", "docs/wechat-getphonenumber.md §3.1";
    PARAMETER_MISSING = "wechat.parameter-missing", "a required parameter is missing (41001, 41002, 41004, 41008)", "docs/wechat-getphonenumber.md §3.2, §3.3";
    INVALID_GRANT_TYPE = "wechat.invalid-grant-type", "40002 invalid grant_type", "docs/wechat-getphonenumber.md §3.2";
    INVALID_APPID = "wechat.invalid-appid", "40013 invalid appid", "docs/wechat-getphonenumber.md §3.2";
    INVALID_SECRET = "wechat.invalid-secret", "40125 invalid appsecret", "docs/wechat-getphonenumber.md §3.2";
    SECRET_FROZEN = "wechat.secret-frozen", "40243: the AppSecret is frozen (text chosen)", "docs/wechat-getphonenumber.md §3.2, §5";
    IP_NOT_ALLOWED = "wechat.ip-not-allowed", "40164: the caller's IP is not on the allow-list", "docs/wechat-getphonenumber.md §3.2";
    TOKEN_ISSUED = "wechat.token-issued", "a new access_token; the previous one works 300 s more", "docs/wechat-getphonenumber.md §3.2";
    STABLE_TOKEN = "wechat.stable-token", "the stable token: the same one until 300 s before expiry", "docs/wechat-getphonenumber.md §3.3";
    STABLE_FORCE_LIMITED = "wechat.stable-force-limited", "force_refresh more than 20 times a day or within 30 s: the current token unchanged (chosen)", "docs/wechat-getphonenumber.md §3.3";
    TOKEN_INVALID = "wechat.token-invalid", "40001: the token was never issued or was superseded more than 300 s ago", "docs/wechat-getphonenumber.md §3.3";
    TOKEN_EXPIRED = "wechat.token-expired", "42001 access_token expired: fetch a new one and retry once", "docs/wechat-getphonenumber.md §3.3";
    SESSION_OK = "wechat.session-ok", "jscode2session: openid and the session key of the code", "docs/wechat-getphonenumber.md §3.4";
    CODE_USED = "wechat.code-used", "40163 code been used: a login code works once", "docs/wechat-getphonenumber.md §3.4";
    LOGIN_RATE_LIMITED = "wechat.login-rate-limited", "45011: more than 100 logins per user per minute", "docs/wechat-getphonenumber.md §3.4";
    CODE_BLOCKED = "wechat.code-blocked", "40226 code blocked: a high-risk user", "docs/wechat-getphonenumber.md §3.4";
    INVALID_CODE = "wechat.invalid-code", "40029 invalid code: unknown, expired, used (phone), of the other kind, or of another user", "docs/wechat-getphonenumber.md §3.4, §3.5";
    PHONE_INFO = "wechat.phone-info", "getuserphonenumber: phone_info of the code", "docs/wechat-getphonenumber.md §3.5";
    API_UNAUTHORIZED = "wechat.api-unauthorized", "48001 api unauthorized: the phone permission is revoked", "docs/wechat-getphonenumber.md §3.5, §5";
    DATA_FORMAT = "wechat.data-format", "47001 data format error: the body is not the JSON the endpoint takes (chosen by analogy)", "docs/wechat-getphonenumber.md §3.5";
    REQUIRE_POST = "wechat.require-post", "43002 require POST method", "docs/wechat-getphonenumber.md §3.3";
    REQUIRE_GET = "wechat.require-get", "43001 require GET method: a GET endpoint called otherwise (chosen, the twin of 43002)", "docs/wechat-getphonenumber.md §10";
    CHECKSESSION_OK = "wechat.checksession-ok", "/wxa/checksession: the signature is made with the user's current key", "docs/wechat-getphonenumber.md §3.6";
    INVALID_SIGNATURE = "wechat.invalid-signature", "87009 invalid signature: wrong, rotated or expired key (not distinguished)", "docs/wechat-getphonenumber.md §3.6";
    INVALID_URL = "wechat.invalid-url", "an unknown path under /sns, /cgi-bin or /wxa: 40066 invalid url (chosen)", "docs/wechat-getphonenumber.md §10";
    // What a backend concludes from a legacy payload (§4).
    DECRYPTED = "wechat.decrypted", "decrypts under the session key with strict PKCS#7 and carries this app's watermark", "docs/wechat-getphonenumber.md §4";
    WRONG_KEY = "wechat.wrong-key", "does not decrypt under the session key the backend holds (padding, UTF-8 or JSON fails)", "docs/wechat-getphonenumber.md §4, §7.1";
    WATERMARK_OTHER_APP = "wechat.watermark-other-app", "decrypts, but watermark.appid is another app's", "docs/wechat-getphonenumber.md §4, §7.7";
    NOT_BASE64 = "wechat.not-base64", "encryptedData or iv is not standard base64 of whole blocks ('+' turned into ' ' on the way)", "docs/wechat-getphonenumber.md §4, §7.2";
    NONSTANDARD_PADDING = "wechat.nonstandard-padding", "padding longer than a block: lenient unpadders accept it, strict PKCS#7 refuses", "docs/wechat-getphonenumber.md §4";
}

/// The rule of an id, for results read back from files.
pub fn cause(id: &str) -> Option<Cause> {
    RULES
        .iter()
        .find(|rule| rule.id == id)
        .map(|rule| Cause::Rule(rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_cite_the_docs() {
        let mut ids: Vec<_> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for rule in RULES {
            assert!(rule.id.starts_with("wechat."), "{}", rule.id);
            assert!(
                rule.source.starts_with("docs/wechat-getphonenumber.md §"),
                "{}",
                rule.id
            );
        }
    }
}
