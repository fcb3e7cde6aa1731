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
