//! What the mini program's page gets (§2): `wx.login`'s result, `wx.checkSession`'s, and the
//! `e.detail` the phone button hands `bindgetphonenumber` / `bindgetrealtimephonenumber`.

use serde::Serialize;
use serde_json::{json, Value};

use crate::oracle::{Cause, Expect, Rule, Verdict};
use crate::wechat::crypto::{encrypt, Padding, PhoneInfo};
use crate::wechat::judge::judge_legacy;
use crate::wechat::model::{version, Button, Choice, Subject, Tap};
use crate::wechat::platform::{AppRef, Platform};
use crate::wechat::rules::*;

/// What one tap gave the page, and what a correct backend concludes from it.
#[derive(Debug, Clone, Serialize)]
pub struct TapResult {
    /// `e.detail`, or `null` when no event fires (a button the base library does not know).
    pub detail: Value,
    /// The rule that decided what the page got.
    pub rule: Cause,
    /// For the legacy payload: what a backend holding the session key of the last `wx.login`
    /// code concludes. On a failure, `front-end`: nothing to send.
    pub expect: Expect,
    /// The login code of the `wx.login` the page called inside the callback, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_code_after: Option<String>,
    /// The session key the payload was encrypted with (the journal says which key it was).
    #[serde(skip)]
    pub encrypted_with: Option<String>,
    /// The session key a backend holds: that of the last `wx.login` code.
    #[serde(skip)]
    pub held_key: Option<String>,
}

fn front_end_only(rule: &'static Rule, reason: &str) -> Expect {
    Expect {
        verdict: Verdict::FrontEnd,
        plaintext: None,
        cause: Cause::Rule(rule),
        reason: reason.into(),
        doc_policy: None,
    }
}

fn failure(
    event: &str,
    text: &str,
    errno: Option<u64>,
    rule: &'static Rule,
    reason: &str,
) -> TapResult {
    let mut detail = json!({"errMsg": format!("{event}:{text}")});
    if let Some(errno) = errno {
        detail["errno"] = errno.into();
    }
    TapResult {
        detail,
        rule: Cause::Rule(rule),
        expect: front_end_only(rule, reason),
        login_code_after: None,
        encrypted_with: None,
        held_key: None,
    }
}

/// `wx.login()`'s success result.
pub fn wx_login(platform: &mut Platform, app: AppRef, now: u64) -> Value {
    let code = platform.login(app, now);
    json!({"errMsg": "login:ok", "code": code})
}

/// `wx.checkSession()`: success, or the failure text apps report (chosen, §2.4).
pub fn wx_check_session(platform: &Platform, app: AppRef, now: u64) -> (Value, &'static Rule) {
    if platform.check_session(app, now) {
        (json!({"errMsg": "checkSession:ok"}), &CHECK_SESSION_OK)
    } else {
        (
            json!({"errMsg": "checkSession:fail session time out, need relogin"}),
            &CHECK_SESSION_FAIL,
        )
    }
}

/// One tap on the phone button. Precedence (chosen where the docs are silent): the button's
/// support, the account, the permission, the privacy declaration, the privacy sheet, quota,
/// the user's choice.
pub fn tap(platform: &mut Platform, app: AppRef, tap: &Tap, now: u64) -> TapResult {
    let base = version(&tap.base_library).unwrap_or((0, 0, 0));
    let event = match tap.button {
        Button::Phone => "getPhoneNumber",
        Button::Realtime => "getRealtimePhoneNumber",
    };
    if tap.button == Button::Realtime && base < (2, 24, 4) {
        return TapResult {
            detail: Value::Null,
            rule: Cause::Rule(&REALTIME_UNSUPPORTED),
            expect: front_end_only(&REALTIME_UNSUPPORTED, "no event: check wx.canIUse('button.open-type.getRealtimePhoneNumber') and hide the button"),
            login_code_after: None,
            encrypted_with: None,
            held_key: None,
        };
    }
    let console = app.console;
    if matches!(console.subject, Subject::Personal | Subject::Overseas)
        || !console.verified
        || console.phone_permission_revoked
    {
        return failure(
            event,
            "fail no permission",
            None,
            &NO_PERMISSION,
            "the feature is unavailable to this app: a console matter, not the user's",
        );
    }
    if !console.privacy_declares_phone {
        return failure(
            event,
            "fail api scope is not declared in the privacy agreement",
            Some(112),
            &PRIVACY_NOT_DECLARED,
            "a configuration error (declare the phone number in the privacy guide), not a refusal",
        );
    }
    if tap.privacy_disagree {
        return failure(
            event,
            "fail privacy permission is not authorized",
            Some(104),
            &PRIVACY_DISAGREE,
            "the user declined the privacy sheet: ask again later",
        );
    }
    if console.quota_left <= platform.quota_used {
        return failure(
            event,
            "fail no quota",
            Some(1400001),
            &QUOTA_EXHAUSTED,
            "no paid calls left: fall back (SMS), do not retry in a loop",
        );
    }
    if tap.choice == Choice::Deny {
        let text = if tap.devtools {
            "fail user deny"
        } else {
            "fail:user deny"
        };
        return failure(
            event,
            text,
            None,
            &USER_DENY,
            "no phone number and no charge: offer to try again; match both deny spellings",
        );
    }

    // Success: encrypted under the key current when the sheet is confirmed (§2.4).
    platform.quota_used += 1;
    let info = PhoneInfo::new(
        &app.user.phone,
        &app.user.country_code,
        now,
        &app.keys.appid,
    );
    let generation = platform.current_session(now);
    let session_key = app.keys.session_key(generation);
    let iv = platform.next_iv(app);
    let encrypted_data = encrypt(
        &session_key,
        &iv,
        info.plaintext().as_bytes(),
        Padding::Pkcs7,
    )
    .expect("the keys are made well-formed");
    let mut detail = json!({"errMsg": format!("{event}:ok")});
    let rule: &'static Rule = if tap.button == Button::Realtime {
        &REALTIME_OK
    } else if base < (2, 21, 2) {
        &OLD_BASE_LIBRARY
    } else {
        &PHONE_OK
    };
    if base >= (2, 21, 2) {
        detail["code"] = platform.issue_phone_code(app, info, now).into();
    }
    if tap.button == Button::Phone {
        detail["encryptedData"] = encrypted_data.clone().into();
        detail["iv"] = iv.clone().into();
    }
    let login_code_after = tap.login_in_callback.then(|| platform.login(app, now));
    let held = platform
        .last_login_code
        .as_ref()
        .and_then(|code| platform.login_codes.get(code))
        .and_then(|code| code.session_generation)
        .unwrap_or(generation);
    let mut expect = if tap.button == Button::Phone {
        judge_legacy(
            &app.keys.appid,
            &app.keys.session_key(held),
            &iv,
            &encrypted_data,
        )
    } else {
        Expect {
            verdict: Verdict::Accept,
            plaintext: None,
            cause: Cause::Rule(rule),
            reason: "exchange the code at getuserphonenumber; its phone_info is the number".into(),
            doc_policy: None,
        }
    };
    if login_code_after.is_some() && expect.verdict != Verdict::Accept {
        expect.cause = Cause::Rule(&LOGIN_IN_CALLBACK);
        expect.reason = format!(
            "{}; the wx.login in the callback rotated the key after the data was encrypted",
            expect.reason
        );
    }
    TapResult {
        detail,
        rule: Cause::Rule(rule),
        expect,
        login_code_after,
        encrypted_with: Some(session_key),
        held_key: Some(app.keys.session_key(held)),
    }
}
