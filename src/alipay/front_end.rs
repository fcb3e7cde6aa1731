//! What the page's own handler receives, per front end in use today (spec §1 step 4, §1.1): the
//! native callbacks, the button's `onGetPhoneNumber` (base library 2.8.0+), uni-app's
//! `@getphonenumber`, and Taro 3 (which passes the native button's events through).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::alipay::model::Version;
use crate::alipay::outcome::Callback;

crate::wire::wire_enum! {
    "kebab-case",
    /// The front end a page is written with.
    #[derive(Default)]
    pub enum FrontEnd {
        /// `onGetAuthorize`, then `my.getPhoneNumber({success, fail})`; `onError` on refusal.
        #[default]
        Native,
        /// The button's `onGetPhoneNumber(event)`, `event.detail = {encryptedData, sign?}`
        /// (base library 2.8.0+): the envelope split, the quotes to re-add.
        Button,
        /// uni-app's `open-type="getPhoneNumber" @getphonenumber`, mapped onto getAuthorize by
        /// its runtime: `detail = {errMsg, encryptedData, sign}`.
        UniApp,
        /// Taro 3 passes `onGetPhoneNumber` through to the native button: as `button`.
        Taro,
    }
}

/// The handler that runs and the event it receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PageEvent {
    pub front_end: FrontEnd,
    /// `success`, `fail`, `onError`, `onGetPhoneNumber`, `getphonenumber` …, or `none`.
    pub handler: String,
    #[schema(value_type = Object)]
    pub event: Value,
    /// Where the sources leave the shape open, what this one assumes.
    pub note: String,
}

/// Base library 2.8.0, from which the button fires `onGetPhoneNumber`.
fn fires_on_get_phone_number(base_library: &Version) -> bool {
    *base_library >= Version::new(&[2, 8, 0])
}

/// The envelope split as `onGetPhoneNumber` and uni-app hand it over: `encryptedData` is the
/// envelope's `response` value as is, `sign` only when the envelope has one.
fn split(payload: &Value) -> Map<String, Value> {
    let envelope: Option<Map<String, Value>> = payload["response"]
        .as_str()
        .and_then(|text| serde_json::from_str(text).ok());
    let mut detail = Map::new();
    match envelope {
        Some(envelope) => {
            detail.insert(
                "encryptedData".into(),
                envelope.get("response").cloned().unwrap_or(Value::Null),
            );
            if let Some(sign) = envelope.get("sign") {
                detail.insert("sign".into(), sign.clone());
            }
        }
        // Not an envelope (an error object, or broken text): handed over as it came.
        None => {
            detail.insert("encryptedData".into(), payload["response"].clone());
        }
    }
    detail
}

/// What the page's handler receives for a call whose native result is `callback` with
/// `payload`, on `front_end` with this base library.
pub fn page_event(
    callback: Callback,
    payload: &Value,
    front_end: FrontEnd,
    base_library: &Version,
) -> PageEvent {
    let native = |note: &str| PageEvent {
        front_end,
        handler: callback.as_str().to_string(),
        event: payload.clone(),
        note: note.to_string(),
    };
    match front_end {
        FrontEnd::Native => native("the native callbacks"),
        FrontEnd::Button | FrontEnd::Taro => match callback {
            Callback::Success if fires_on_get_phone_number(base_library) => PageEvent {
                front_end,
                handler: "onGetPhoneNumber".into(),
                event: json!({ "detail": split(payload) }),
                note: "base library 2.8.0+: onGetPhoneNumber fires after onGetAuthorize (the \
                       order is undocumented); re-add the double quotes around encryptedData \
                       before verifying"
                    .into(),
            },
            Callback::Success => native(
                "below base library 2.8.0 the button fires no onGetPhoneNumber: only \
                 onGetAuthorize, then my.getPhoneNumber's success",
            ),
            _ => native("failures reach the native callbacks"),
        },
        FrontEnd::UniApp => {
            let (handler, detail) = match callback {
                Callback::Success => {
                    let mut detail = Map::new();
                    detail.insert("errMsg".into(), "getPhoneNumber:ok".into());
                    detail.extend(split(payload));
                    ("getphonenumber", Value::Object(detail))
                }
                Callback::Fail => (
                    "getphonenumber",
                    json!({ "errMsg": format!("getPhoneNumber:fail Error: {payload}") }),
                ),
                Callback::OnError => {
                    let message = payload["detail"]["errorMessage"].as_str().unwrap_or("");
                    (
                        "getphonenumber",
                        json!({ "errMsg": format!("getPhoneNumber:fail Error: {message}") }),
                    )
                }
                Callback::Unsupported | Callback::None => return native("nothing is mapped"),
            };
            PageEvent {
                front_end,
                handler: handler.into(),
                event: json!({ "detail": detail }),
                note: "uni-app's Alipay runtime (parseAppOptions.ts): on onGetAuthorize it calls \
                       my.getPhoneNumber and emits getphonenumber"
                    .into(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(sign: bool) -> Value {
        let text = if sign {
            r#"{"response":"Y2lwaGVy","sign":"c2ln"}"#
        } else {
            r#"{"response":"Y2lwaGVy"}"#
        };
        json!({ "response": text })
    }

    #[test]
    fn the_button_splits_the_envelope_from_2_8_0() {
        let recent: Version = "2.8.0".parse().unwrap();
        let event = page_event(
            Callback::Success,
            &envelope(true),
            FrontEnd::Button,
            &recent,
        );
        assert_eq!(event.handler, "onGetPhoneNumber");
        assert_eq!(
            event.event,
            json!({"detail": {"encryptedData": "Y2lwaGVy", "sign": "c2ln"}})
        );
        let unsigned = page_event(Callback::Success, &envelope(false), FrontEnd::Taro, &recent);
        assert_eq!(
            unsigned.event,
            json!({"detail": {"encryptedData": "Y2lwaGVy"}})
        );
        let old: Version = "2.7.9".parse().unwrap();
        let event = page_event(Callback::Success, &envelope(true), FrontEnd::Button, &old);
        assert_eq!(event.handler, "success");
    }

    #[test]
    fn uni_app_reports_ok_and_failures_in_err_msg() {
        let v: Version = "2.9.21".parse().unwrap();
        let ok = page_event(Callback::Success, &envelope(true), FrontEnd::UniApp, &v);
        assert_eq!(ok.event["detail"]["errMsg"], "getPhoneNumber:ok");
        assert_eq!(ok.event["detail"]["encryptedData"], "Y2lwaGVy");
        let fail = json!({"error": 1, "errorMessage": "该接口暂不支持"});
        let failed = page_event(Callback::Fail, &fail, FrontEnd::UniApp, &v);
        assert_eq!(
            failed.event["detail"]["errMsg"],
            format!("getPhoneNumber:fail Error: {fail}")
        );
        let refused = json!({"detail": {"type": "getAuthorize", "errorMessage": "用户取消授权"}});
        let refused = page_event(Callback::OnError, &refused, FrontEnd::UniApp, &v);
        assert_eq!(
            refused.event["detail"]["errMsg"],
            "getPhoneNumber:fail Error: 用户取消授权"
        );
    }
}

crate::wire::wire_enum! {
    "kebab-case",
    /// What the user (or the phone) does with `my.getAuthCode`'s authorisation sheet
    /// (`auth_user`; `auth_base` is silent and shows none).
    #[derive(Default)]
    pub enum AuthAction {
        /// Taps 同意: success.
        #[default]
        Allow,
        /// Taps 拒绝: fail 11.
        Deny,
        /// Closes the sheet (Android back too): fail 3.
        Close,
        /// The sheet dismissed as the app goes to the background: fail 10 "Empty Data".
        Background,
        /// The phone is offline: fail 12 "Network Error" (silent logins too).
        NetworkError,
    }
}

/// The scopes `my.getAuthCode` knows.
pub const AUTH_SCOPES: [&str; 3] = ["auth_base", "auth_user", "auth_zhima"];

/// `my.getAuthCode`'s fail object for a call, or `None` when it succeeds (gateway spec §1.1):
/// 4 without the JSAPI base product, 3 for a scope it does not know (after a "服务正忙" popup),
/// 12 offline, and for a sheet (`auth_user`, `auth_zhima`) 11 on deny, 3 on close, 10 when
/// backgrounded. A silent `auth_base` shows no sheet, so only 4, 3 and 12 reach it.
pub fn auth_code_failure(
    scopes: &[String],
    action: AuthAction,
    jsapi_base_package: bool,
) -> Option<Value> {
    let fail = |error: u32, message: &str| json!({"error": error, "errorMessage": message});
    if !jsapi_base_package {
        return Some(
            json!({"error": 4, "errorMessage": "无权调用", "message": "无权调用", "signature": "N22104"}),
        );
    }
    if scopes.iter().any(|s| !AUTH_SCOPES.contains(&s.as_str())) {
        return Some(fail(3, "未找到授权结果"));
    }
    let sheet = scopes.iter().any(|s| s != "auth_base");
    match action {
        AuthAction::NetworkError => Some(fail(12, "Network Error")),
        AuthAction::Allow => None,
        _ if !sheet => None,
        AuthAction::Deny => Some(fail(11, "用户点击拒绝授权")),
        AuthAction::Close => Some(fail(3, "未找到授权结果")),
        AuthAction::Background => Some(fail(10, "Empty Data")),
    }
}

#[cfg(test)]
mod auth_code_tests {
    use super::*;

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_documented_fail_code_comes_from_its_cause() {
        let user = scopes(&["auth_user"]);
        let code =
            |s: &[String], a, jsapi| auth_code_failure(s, a, jsapi).map(|v| v["error"].clone());
        assert_eq!(code(&user, AuthAction::Allow, true), None);
        assert_eq!(code(&user, AuthAction::Deny, true), Some(json!(11)));
        assert_eq!(code(&user, AuthAction::Close, true), Some(json!(3)));
        assert_eq!(code(&user, AuthAction::Background, true), Some(json!(10)));
        assert_eq!(code(&user, AuthAction::NetworkError, true), Some(json!(12)));
        assert_eq!(code(&user, AuthAction::Allow, false), Some(json!(4)));
        assert_eq!(
            code(&scopes(&["auth_admin"]), AuthAction::Allow, true),
            Some(json!(3))
        );
        // A silent login shows no sheet: nothing to deny or close.
        let base = scopes(&["auth_base"]);
        assert_eq!(code(&base, AuthAction::Deny, true), None);
        assert_eq!(code(&base, AuthAction::NetworkError, true), Some(json!(12)));
    }
}
