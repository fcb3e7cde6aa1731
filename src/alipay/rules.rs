//! The console rules: how the configuration, the platform, the user and the action decide what
//! `my.getPhoneNumber` gives the front end.
//!
//! [`evaluate`] walks two tables: the content rules, in order, until the first that applies
//! decides the content; then the signing rules, whose first that applies drops `sign`.
//! [`RULES`] lists both tables' rules in that order (a test holds them equal). The order among the
//! permission checks is not documented by Alipay; ours is front end first (nothing reaches the
//! platform), then a transient failure, then account and app permissions, then the user's
//! authorization, then the ISV and the keys, as a gateway checks a call from the outside in.
//! Each rule names its source in `docs/alipay-getphonenumber.md` (the "spec"; gathered from the
//! steering repository's `shared/spec/`).
//!
//! Over 500 lines with its tests (about 380 without): the two tables and the one function that
//! walks them are one concern, read together.

use serde::{Deserialize, Deserializer};
use serde_json::json;

use crate::alipay::fault::Fault;
use crate::alipay::model::Call;
use crate::alipay::model::{
    AccountKind, ActionKind, AesKeySetting, Application, Busy, Environment, ErrorForm, Signing,
    WithoutSigning,
};
pub use crate::alipay::outcome::Rule;
use crate::alipay::outcome::{Callback, EnvelopePlan, FrontEndFailure, Outcome, Plaintext};
use crate::oracle::{Cause, Expect};

macro_rules! rules {
    ($($name:ident = $id:literal, $summary:literal, $source:literal;)*) => {
        $(pub static $name: Rule = Rule { id: $id, summary: $summary, source: $source };)*
        /// Every rule, in evaluation order.
        pub static RULES: &[&Rule] = &[$(&$name),*];
    };
}

rules! {
    UNSUPPORTED_VERSION = "fe.unsupported-version",
        "canIUse false: base library or client too old for my.getPhoneNumber",
        "spec §1.1: base library 1.16.4+ and client 10.1.35+ (older docs: 1.22.0 / 10.1.75); the button needs 1.11.0+";
    USER_REFUSED = "fe.user-refused",
        "onError: the user refused on the consent sheet",
        "spec §1.2: refuse -> onError(e), e.detail = {type: \"getAuthorize\", errorMessage}";
    IDE_SIMULATOR = "fe.ide-simulator",
        "fail 1: 该接口暂不支持 (the IDE simulator does not support this API)",
        "spec §1.3: fail(err), the only documented code 1 \"该接口暂不支持\"";
    JSAPI_BASE_PACKAGE_MISSING = "fe.jsapi-base-package-missing",
        "fail: no permission (JSAPI base package not added)",
        "spec §4: JSAPI base package not added -> the front-end call fails with \"no permission\"";
    PLATFORM_BUSY = "platform.busy",
        "20000: system busy, retry later",
        "spec §3 system busy; §4 transient platform failure -> 20000";
    PERSONAL_ACCOUNT = "console.personal-account",
        "40006: personal account (the API is for enterprise accounts)",
        "spec §1 (enterprise accounts only); §4 personal account -> modelled as 40006";
    FEATURE_PACKAGE_MISSING = "console.feature-package-missing",
        "40006: feature package 获取会员手机号 not added",
        "spec §3 feature package missing; §4 row 1";
    PHONE_APPLICATION_NOT_APPROVED = "console.phone-application-not-approved",
        "40006: phone-number application not approved",
        "spec §3; §4 row 1: 用户信息申请 not approved -> 40006";
    NO_USER_CONSENT = "user.no-consent",
        "40003: no user authorization (called without the button's consent)",
        "spec §1 (without consent -> 40003); §3 no user authorization; §4";
    ISV_APP_ID_MISSING = "isv.isv-app-id-missing",
        "40001: ISV plugin call without protocols.isvAppId",
        "spec §3 missing-default-signature-type (also seen when an ISV plugin omits protocols.isvAppId); §4 ISV row";
    NO_SIGNING = "console.no-signing",
        "40001: no signing method (接口加签方式) set",
        "spec §3 isv.missing-default-signature-type; §4 no signing method";
    AES_KEY_NOT_SET = "console.aes-key-not-set",
        "40001: AES key not set",
        "spec §3 isv.missing-encrypt-key; §4 AES key not set";
    AES_KEY_BROKEN = "console.aes-key-broken",
        "40002: AES key broken, encryption failed",
        "spec §3 isv.invalid-encrypt (fix: set the AES key again); §4 AES key broken";
    SUCCESS = "success",
        "Success: the member's mobile",
        "spec §3 success; §2 the envelope";
    UNSIGNED_NO_SIGNING = "sign.dropped-no-signing",
        "no sign: no signing method, so nothing to sign with",
        "spec §2 Missing sign (FAQ 获取用户手机号为何没有返回 sign); §4 no signing method -> envelope without sign";
    UNSIGNED_NO_AES_KEY = "sign.dropped-no-aes-key",
        "no sign: AES key not set",
        "spec §2 Missing sign; §4 AES key not set -> envelope without sign (which setting alone suffices is undocumented: platform.unsigned_without_aes_key)";
    UNSIGNED_NO_GATEWAY = "sign.dropped-no-gateway",
        "no sign: application gateway (应用网关) not set",
        "spec §2 Missing sign; §4 gateway not set -> envelope without sign (platform.unsigned_without_gateway)";
}

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.id == id)
}

/// What an id read back from a file names: a rule of the tables, or a fault (`fault.<name>`).
fn known_cause(id: &str) -> Option<Cause> {
    if let Some(rule) = rule(id) {
        return Some(Cause::Rule(rule));
    }
    let fault: Fault = id.strip_prefix("fault.")?.parse().ok()?;
    Some(fault.cause())
}

/// The cause an id names; one neither the rules nor the faults know stays recorded as read.
pub fn cause(id: &str) -> Cause {
    Cause::Recorded(id.to_string()).resolve(known_cause)
}

/// For `#[serde(deserialize_with)]`: a cause read back from a file, resolved by [`cause`].
pub fn read_cause<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Cause, D::Error> {
    Ok(Cause::deserialize(deserializer)?.resolve(known_cause))
}

/// For `#[serde(deserialize_with)]`: an oracle read back from a file, its cause resolved by
/// [`cause`].
pub fn read_expect<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Expect, D::Error> {
    let mut expect = Expect::deserialize(deserializer)?;
    expect.cause = expect.cause.resolve(known_cause);
    Ok(expect)
}

/// What the rules look at, worked out once per call.
struct Context<'a> {
    call: &'a Call,
    /// Whether this call meets a busy platform (`platform.busy` against the draw).
    busy: bool,
    /// Whether the app's AES key can encrypt.
    aes_usable: bool,
    /// Whether errors that follow `platform.error_form` come back encrypted.
    errors_encrypted: bool,
}

/// What a content rule decides.
enum Decision {
    /// The front end fails; nothing reaches the platform.
    FrontEnd(Callback, serde_json::Value),
    /// An envelope with this plaintext, encrypted or not.
    Content(Plaintext, bool),
}

/// A rule of [`CONTENT_RULES`]: when it applies, and what it decides.
struct ContentRule {
    rule: &'static Rule,
    applies: fn(&Context) -> bool,
    decides: fn(&Context) -> Decision,
}

/// The rules that decide the content, tried in this order; the first that applies decides.
static CONTENT_RULES: [ContentRule; 14] = [
    // Front end: nothing reaches the platform.
    ContentRule {
        rule: &UNSUPPORTED_VERSION,
        applies: |c| {
            let (min_base, min_client) = c.call.platform.version_thresholds.minimums();
            c.call.user.base_library_version < min_base || c.call.user.client_version < min_client
        },
        decides: |c| {
            let button =
                c.call.user.base_library_version >= "1.11.0".parse().expect("valid version");
            let api = if button {
                "getPhoneNumber"
            } else {
                "button.open-type.getAuthorize"
            };
            Decision::FrontEnd(
                Callback::Unsupported,
                json!({ "api": api, "canIUse": false }),
            )
        },
    },
    ContentRule {
        rule: &USER_REFUSED,
        applies: |c| c.call.action.kind == ActionKind::Refuse,
        decides: |c| {
            Decision::FrontEnd(
                Callback::OnError,
                json!({ "detail": { "type": "getAuthorize", "errorMessage": c.call.platform.refusal_message } }),
            )
        },
    },
    ContentRule {
        rule: &IDE_SIMULATOR,
        applies: |c| c.call.user.environment == Environment::IdeSimulator,
        decides: |_| {
            Decision::FrontEnd(
                Callback::Fail,
                json!({ "error": 1, "errorMessage": "该接口暂不支持" }),
            )
        },
    },
    ContentRule {
        rule: &JSAPI_BASE_PACKAGE_MISSING,
        applies: |c| !c.call.console.jsapi_base_package,
        // The docs give the message but no error code, so none is invented.
        decides: |_| Decision::FrontEnd(Callback::Fail, json!({ "errorMessage": "no permission" })),
    },
    // Platform: the content of the envelope.
    ContentRule {
        rule: &PLATFORM_BUSY,
        applies: |c| c.busy,
        decides: |c| Decision::Content(busy_plaintext(), c.errors_encrypted),
    },
    ContentRule {
        rule: &PERSONAL_ACCOUNT,
        applies: |c| c.call.console.account == AccountKind::Personal,
        decides: |c| Decision::Content(insufficient_permissions(), c.aes_usable),
    },
    ContentRule {
        rule: &FEATURE_PACKAGE_MISSING,
        applies: |c| !c.call.console.phone_number_package,
        decides: |c| Decision::Content(insufficient_permissions(), c.aes_usable),
    },
    ContentRule {
        rule: &PHONE_APPLICATION_NOT_APPROVED,
        applies: |c| c.call.console.phone_application != Application::Approved,
        decides: |c| Decision::Content(insufficient_permissions(), c.aes_usable),
    },
    ContentRule {
        rule: &NO_USER_CONSENT,
        applies: |c| c.call.action.kind == ActionKind::NoConsent,
        decides: |c| Decision::Content(invalid_auth_relations(), c.aes_usable),
    },
    ContentRule {
        rule: &ISV_APP_ID_MISSING,
        applies: |c| c.call.console.isv.is_some() && c.call.action.isv_app_id.is_none(),
        decides: |c| Decision::Content(missing_default_signature_type(), c.errors_encrypted),
    },
    ContentRule {
        rule: &NO_SIGNING,
        applies: |c| {
            c.call.console.signing == Signing::None
                && c.call.platform.without_signing == WithoutSigning::MissingDefaultSignatureType
        },
        decides: |c| Decision::Content(missing_default_signature_type(), c.errors_encrypted),
    },
    ContentRule {
        rule: &AES_KEY_NOT_SET,
        applies: |c| c.call.console.aes_key == AesKeySetting::NotSet,
        // Never encrypted: there is no key to encrypt with.
        decides: |_| Decision::Content(missing_encrypt_key(), false),
    },
    ContentRule {
        rule: &AES_KEY_BROKEN,
        applies: |c| c.call.console.aes_key == AesKeySetting::Broken,
        // Never encrypted: encryption is what failed.
        decides: |_| Decision::Content(invalid_encrypt(), false),
    },
    ContentRule {
        rule: &SUCCESS,
        applies: |_| true,
        decides: |c| Decision::Content(Plaintext::success(c.call.user.mobile.as_str()), true),
    },
];

/// A rule of [`SIGNING_RULES`]: when it drops `sign`.
struct SigningRule {
    rule: &'static Rule,
    drops_sign: fn(&Call) -> bool,
}

/// Then these decide whether the envelope carries `sign`, in this order.
static SIGNING_RULES: [SigningRule; 3] = [
    SigningRule {
        rule: &UNSIGNED_NO_SIGNING,
        drops_sign: |c| c.console.signing == Signing::None,
    },
    SigningRule {
        rule: &UNSIGNED_NO_AES_KEY,
        drops_sign: |c| {
            c.console.aes_key == AesKeySetting::NotSet && c.platform.unsigned_without_aes_key
        },
    },
    SigningRule {
        rule: &UNSIGNED_NO_GATEWAY,
        drops_sign: |c| !c.console.gateway && c.platform.unsigned_without_gateway,
    },
];

/// Decides the outcome of one call. `draw` is a number in `[0, 1)` fixed by the seed and the
/// call's index, compared with `platform.busy`'s probability.
pub fn evaluate(call: &Call, draw: f64) -> Outcome {
    let aes_usable = call.console.aes_key == AesKeySetting::Set;
    let context = Context {
        call,
        busy: match call.platform.busy {
            Busy::Never => false,
            Busy::Always => true,
            Busy::Probability(p) => draw < p,
        },
        aes_usable,
        errors_encrypted: call.platform.error_form == ErrorForm::Encrypted && aes_usable,
    };
    let content = CONTENT_RULES
        .iter()
        .find(|rule| (rule.applies)(&context))
        .expect("the last content rule always applies");
    let (plaintext, encrypted) = match (content.decides)(&context) {
        Decision::FrontEnd(callback, payload) => return front_end(callback, payload, content.rule),
        Decision::Content(plaintext, encrypted) => (plaintext, encrypted),
    };
    let unsigned_by = SIGNING_RULES
        .iter()
        .find(|rule| (rule.drops_sign)(call))
        .map(|rule| rule.rule);
    Outcome::Envelope(EnvelopePlan {
        plaintext,
        encrypted,
        signing: if unsigned_by.is_some() {
            None
        } else {
            call.console.signing.sign_type()
        },
        rule: content.rule,
        unsigned_by,
    })
}

fn front_end(callback: Callback, payload: serde_json::Value, rule: &'static Rule) -> Outcome {
    Outcome::FrontEnd(FrontEndFailure {
        callback,
        payload,
        rule,
    })
}

fn busy_plaintext() -> Plaintext {
    Plaintext::error(
        "20000",
        "Service Currently Unavailable",
        "aop.unknow-error",
        "系统繁忙",
    )
}

fn missing_default_signature_type() -> Plaintext {
    Plaintext::error(
        "40001",
        "Missing Required Arguments",
        "isv.missing-default-signature-type",
        "应用未设置默认签名类型",
    )
}

fn missing_encrypt_key() -> Plaintext {
    Plaintext::error(
        "40001",
        "Missing Required Arguments",
        "isv.missing-encrypt-key",
        "缺少加密配置",
    )
}

fn invalid_encrypt() -> Plaintext {
    Plaintext::error(
        "40002",
        "Invalid Arguments",
        "isv.invalid-encrypt",
        "加密异常",
    )
}

fn invalid_auth_relations() -> Plaintext {
    Plaintext::error(
        "40003",
        "Insufficient Conditions",
        "isv.invalid-auth-relations",
        "无效的授权关系",
    )
}

fn insufficient_permissions() -> Plaintext {
    Plaintext::error(
        "40006",
        "Insufficient Permissions",
        "isv.insufficient-isv-permissions",
        "ISV权限不足，建议在开发者中心检查对应功能是否已经添加，解决办法详见：https://docs.open.alipay.com/common/isverror",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alipay::model::*;

    fn call() -> Call {
        Call::default()
    }

    #[test]
    fn the_tables_evaluate_every_rule_in_the_documented_order() {
        let evaluated: Vec<&str> = CONTENT_RULES
            .iter()
            .map(|r| r.rule.id)
            .chain(SIGNING_RULES.iter().map(|r| r.rule.id))
            .collect();
        let listed: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        assert_eq!(evaluated, listed);
    }

    fn plan(outcome: Outcome) -> EnvelopePlan {
        match outcome {
            Outcome::Envelope(plan) => plan,
            other => panic!("expected an envelope, got {other:?}"),
        }
    }

    #[test]
    fn rule_ids_are_unique_and_sourced() {
        for (i, a) in RULES.iter().enumerate() {
            assert!(
                a.source.starts_with("spec §"),
                "{} has no spec source",
                a.id
            );
            for b in &RULES[i + 1..] {
                assert_ne!(a.id, b.id);
            }
        }
        assert_eq!(rule("success").unwrap().id, "success");
    }

    #[test]
    fn ids_read_back_resolve_to_rules_and_faults() {
        assert!(matches!(cause("success"), Cause::Rule(r) if std::ptr::eq(r, &SUCCESS)));
        assert!(matches!(
            cause("fault.missing-sign"),
            Cause::Fault(r) if r.summary == Fault::MissingSign.description()
        ));
        for unknown in ["fault.nope", "console.gone", "missing-sign"] {
            assert!(matches!(cause(unknown), Cause::Recorded(id) if id == unknown));
        }
    }

    #[test]
    fn fully_configured_consent_gives_the_signed_encrypted_mobile() {
        let plan = plan(evaluate(&call(), 0.5));
        assert_eq!(plan.rule.id, "success");
        assert_eq!(
            plan.plaintext.to_json(),
            r#"{"code":"10000","msg":"Success","mobile":"13800000000"}"#
        );
        assert!(plan.encrypted);
        assert_eq!(plan.signing, Some(crate::crypto::SignType::Rsa2));
    }

    #[test]
    fn permissions_come_before_the_users_consent() {
        let mut c = call();
        c.action.kind = ActionKind::NoConsent;
        assert_eq!(evaluate(&c, 0.5).rule().id, "user.no-consent");
        c.console.phone_application = Application::Rejected;
        assert_eq!(
            evaluate(&c, 0.5).rule().id,
            "console.phone-application-not-approved"
        );
    }

    #[test]
    fn the_front_end_fails_before_the_platform_is_asked() {
        let mut c = call();
        c.console.phone_number_package = false;
        c.user.environment = Environment::IdeSimulator;
        assert_eq!(evaluate(&c, 0.5).rule().id, "fe.ide-simulator");
        c.action.kind = ActionKind::Refuse;
        assert_eq!(evaluate(&c, 0.5).rule().id, "fe.user-refused");
    }

    #[test]
    fn version_thresholds_follow_the_switch() {
        let mut c = call();
        c.user.base_library_version = "1.20.0".parse().unwrap();
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
        c.platform.version_thresholds = VersionThresholds::OlderDocs;
        let Outcome::FrontEnd(f) = evaluate(&c, 0.5) else {
            panic!("expected a front-end failure")
        };
        assert_eq!(f.callback, Callback::Unsupported);
        assert_eq!(f.payload["api"], "getPhoneNumber");
        c.user.base_library_version = "1.10.0".parse().unwrap();
        let Outcome::FrontEnd(f) = evaluate(&c, 0.5) else {
            panic!("expected a front-end failure")
        };
        assert_eq!(f.payload["api"], "button.open-type.getAuthorize");
    }

    #[test]
    fn busy_probability_compares_with_the_draw() {
        let mut c = call();
        c.platform.busy = Busy::Probability(0.3);
        assert_eq!(evaluate(&c, 0.29).rule().id, "platform.busy");
        assert_eq!(evaluate(&c, 0.31).rule().id, "success");
    }

    #[test]
    fn error_form_switch_encrypts_only_where_a_key_exists() {
        let mut c = call();
        c.platform.busy = Busy::Always;
        assert!(!plan(evaluate(&c, 0.0)).encrypted);
        c.platform.error_form = ErrorForm::Encrypted;
        assert!(plan(evaluate(&c, 0.0)).encrypted);
        c.platform.busy = Busy::Never;
        c.console.aes_key = AesKeySetting::NotSet;
        let p = plan(evaluate(&c, 0.0));
        assert_eq!(p.rule.id, "console.aes-key-not-set");
        assert!(!p.encrypted);
    }

    #[test]
    fn missing_settings_drop_sign_as_switched() {
        let mut c = call();
        c.console.gateway = false;
        let p = plan(evaluate(&c, 0.5));
        assert_eq!((p.rule.id, p.signing), ("success", None));
        assert_eq!(p.unsigned_by.unwrap().id, "sign.dropped-no-gateway");
        c.platform.unsigned_without_gateway = false;
        assert!(plan(evaluate(&c, 0.5)).signing.is_some());

        let mut c = call();
        c.console.signing = Signing::None;
        let p = plan(evaluate(&c, 0.5));
        assert_eq!(p.rule.id, "console.no-signing");
        assert_eq!(p.unsigned_by.unwrap().id, "sign.dropped-no-signing");
        c.platform.without_signing = WithoutSigning::DropSign;
        assert_eq!(plan(evaluate(&c, 0.5)).rule.id, "success");
    }

    #[test]
    fn isv_needs_its_app_id_in_the_call() {
        let mut c = call();
        c.console.isv = Some(Isv {
            isv_app_id: "2021004100000001".into(),
        });
        assert_eq!(evaluate(&c, 0.5).rule().id, "isv.isv-app-id-missing");
        c.action.isv_app_id = Some("2021004100000001".into());
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
    }
}
