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
    minimum_versions, AccountKind, ActionKind, AesKeySetting, Application, Authorisation, Busy,
    Environment, ErrorForm, ForeignIsvAppId, Isv, IsvAppIdMissing, IsvKind, PersonalAccount,
    Signing, WithoutSigning,
};
pub use crate::alipay::outcome::Rule;
use crate::alipay::outcome::{
    Callback, EnvelopePlan, FrontEndFailure, KeyChoice, Outcome, Plaintext,
};
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
        "canIUse false: base library or client too old for my.getPhoneNumber on this path",
        "spec §1.1: direct call 1.16.4 / 10.1.35; plugin path (插件代商户获取) 1.22.0 / 10.1.75 [PLUGIN]; the button needs 1.11.0+";
    HOME_PAGE = "fe.home-page",
        "nothing fires: a device shows no consent sheet on the home page",
        "spec §1.2: 首页不会触发弹框 [IDE]; what fires is undocumented, default none";
    SYSTEM_FAILURE = "fe.system-failure",
        "onError: the sheet failed with Network Error (IoT account without a payment password)",
        "spec §1.2: onError covers refusal and system failure (包括用户拒绝和系统异常 [BTN]); IoT Network Error";
    USER_REFUSED = "fe.user-refused",
        "onError: the user refused on the consent sheet",
        "spec §1.2: refuse -> onError(e), e.detail = {type: \"getAuthorize\", errorMessage}";
    IDE_SIMULATOR = "fe.ide-simulator",
        "fail 1: 该接口暂不支持 (the IDE simulator does not support this API)",
        "spec §1.3: fail(err), {error: 1, errorMessage: \"该接口暂不支持\"} [MAIN], [E1]";
    JSAPI_BASE_PACKAGE_MISSING = "fe.jsapi-base-package-missing",
        "fail 4: 无权调用 N22104 (JSAPI base package missing, on the app or its third party)",
        "spec §1.3 fail [E4]; §4 JSAPI base package row; §4.1 the third party's packages count";
    PERSONAL_ACCOUNT_FAIL = "fe.personal-account",
        "fail 4: 无权调用 N22104 (a personal mini program calling an enterprise-only API)",
        "spec §1.3 fail [E4]; §4 personal row (switch platform.personal_account, default fail-4)";
    PLATFORM_BUSY = "platform.busy",
        "20000: system busy, retry later",
        "spec §3 system busy; §4 transient platform failure -> 20000";
    PERSONAL_ACCOUNT = "console.personal-account",
        "40006: personal account (the API is for enterprise accounts)",
        "spec §4 personal row: platform.personal_account = insufficient-permissions -> 40006";
    FEATURE_PACKAGE_MISSING = "console.feature-package-missing",
        "40006: feature package 获取会员手机号 not added (on the app or its third party)",
        "spec §3 feature package missing; §4 row 1; §4.1 the third party's packages count";
    PHONE_APPLICATION_NOT_APPROVED = "console.phone-application-not-approved",
        "40006: phone-number application not approved",
        "spec §3; §4 row 1: 用户信息申请 not approved -> 40006; §4.1 the ISV applies for the merchant";
    NO_USER_CONSENT = "user.no-consent",
        "40003: no user authorization (called without the button's consent, or after a revocation)",
        "spec §1 (without consent -> 40003); §3 no user authorization; §4; §4.2 revocation";
    STALE_AUTHORISATION = "user.stale-authorisation",
        "the error of the grant's time: authorised while the console was broken, not re-authorised since",
        "spec §4.2: after a console fix, 解除授权后重新授权 [40001S], [40001E] (platform.stale_authorisation)";
    ISV_APP_ID_MISSING = "isv.isv-app-id-missing",
        "40001: ISV call without protocols.isvAppId",
        "spec §4 ISV row [40001S], [40001E] (sub-code: platform.isv_app_id_missing)";
    ISV_APP_ID_FOREIGN = "isv.isv-app-id-foreign",
        "40001: protocols.isvAppId is not the ISV's app id",
        "spec §4 isvAppId not the ISV's: undocumented, inferred as if missing (platform.foreign_isv_app_id)";
    NO_SIGNING = "console.no-signing",
        "40001: no signing method (接口加签方式) set",
        "spec §2 Missing sign (platform.without_signing = missing-default-signature-type); §3; §4 no signing method";
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
        "spec §2 Missing sign ([MAIN] 请跳过验签步骤); §4 no signing method -> envelope without sign";
    UNSIGNED_NO_AES_KEY = "sign.dropped-no-aes-key",
        "no sign: AES key not set",
        "spec §2 Missing sign (三者缺失其一); §4 AES key not set (platform.unsigned_without_aes_key)";
    UNSIGNED_NO_GATEWAY = "sign.dropped-no-gateway",
        "no sign: application gateway (应用网关) not set",
        "spec §2 Missing sign (三者缺失其一); §4 gateway not set (platform.unsigned_without_gateway)";
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
    /// The form of errors that follow `platform.error_form`.
    error_form: Form,
    /// The third party the app is authorised to, if any.
    isv: Option<&'a Isv>,
    /// A plugin's call carrying `protocols.isvAppId`: the plugin path's version floors.
    plugin_call: bool,
}

impl Context<'_> {
    /// Whether the feature package 获取会员手机号 is there: the third party's when there is one.
    fn phone_number_package(&self) -> bool {
        self.isv
            .map_or(self.call.console.phone_number_package, |isv| {
                isv.phone_number_package
            })
    }

    /// Likewise the JSAPI base package.
    fn jsapi_base_package(&self) -> bool {
        self.isv
            .map_or(self.call.console.jsapi_base_package, |isv| {
                isv.jsapi_base_package
            })
    }

    /// Whether the user taps the button (which shows the sheet).
    fn taps_button(&self) -> bool {
        self.call.action.kind != ActionKind::NoConsent
    }

    /// Whether the user's authorisation lasts from an earlier allow: no sheet then.
    fn authorised(&self) -> bool {
        self.call.user.authorisation == Authorisation::Granted
    }

    /// Whether the sheet is shown: the button is tapped and the user has not authorised yet.
    fn shows_sheet(&self) -> bool {
        self.taps_button() && !self.authorised()
    }

    /// The error a stale grant keeps giving, when there is one.
    fn stale_error(&self) -> Option<Decision> {
        if !(self.authorised() && self.call.platform.stale_authorisation) {
            return None;
        }
        console_error(self.call.user.granted_under.as_deref()?, self)
    }

    /// The 40001 an ISV call gets without a usable `protocols.isvAppId`.
    fn isv_app_id_error(&self) -> Decision {
        let plaintext = match self.call.platform.isv_app_id_missing {
            IsvAppIdMissing::MissingDefaultSignatureType => missing_default_signature_type(),
            IsvAppIdMissing::MissingEncryptKey => missing_encrypt_key(),
        };
        Decision::Content(plaintext, self.error_form)
    }
}

/// How the content of an envelope travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Encrypted,
    /// A plain object inside the envelope, signed.
    Plain,
    /// The plain error object as `res.response` itself.
    Object,
}

/// What a content rule decides.
enum Decision {
    /// The front end fails; nothing reaches the platform.
    FrontEnd(Callback, serde_json::Value),
    /// An envelope with this plaintext, in this form.
    Content(Plaintext, Form),
}

/// The console rules whose error a grant can keep (`user.granted_under`).
pub static GRANTABLE_ERRORS: &[&Rule] = &[
    // The 40001 pages advise 解除授权后重新授权 after the fix; no page says so of 40006 or 40002.
    &ISV_APP_ID_MISSING,
    &ISV_APP_ID_FOREIGN,
    &NO_SIGNING,
    &AES_KEY_NOT_SET,
];

/// What the console rule `id` answers, for a grant made under it: what that rule decides when
/// it applies.
fn console_error(id: &str, c: &Context) -> Option<Decision> {
    GRANTABLE_ERRORS.iter().find(|r| r.id == id)?;
    let rule = CONTENT_RULES.iter().find(|r| r.rule.id == id)?;
    Some((rule.decides)(c))
}

/// The device's documented permission failure, exactly as [E4] prints it.
fn no_permission() -> Decision {
    Decision::FrontEnd(
        Callback::Fail,
        json!({ "error": 4, "errorMessage": "无权调用", "message": "无权调用", "signature": "N22104" }),
    )
}

/// A rule of [`CONTENT_RULES`]: when it applies, and what it decides.
struct ContentRule {
    rule: &'static Rule,
    applies: fn(&Context) -> bool,
    decides: fn(&Context) -> Decision,
}

/// The rules that decide the content, tried in this order; the first that applies decides.
static CONTENT_RULES: [ContentRule; 19] = [
    // Front end: nothing reaches the platform.
    ContentRule {
        rule: &UNSUPPORTED_VERSION,
        applies: |c| {
            let (min_base, min_client) = minimum_versions(c.plugin_call);
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
        rule: &HOME_PAGE,
        applies: |c| {
            c.shows_sheet()
                && c.call.user.on_home_page
                && c.call.user.environment != Environment::IdeSimulator
        },
        decides: |_| Decision::FrontEnd(Callback::None, serde_json::Value::Null),
    },
    ContentRule {
        rule: &SYSTEM_FAILURE,
        applies: |c| {
            c.shows_sheet() && c.call.user.environment == Environment::IotWithoutPaymentPassword
        },
        decides: |_| {
            Decision::FrontEnd(
                Callback::OnError,
                json!({ "detail": { "type": "getAuthorize", "errorMessage": "Network Error" } }),
            )
        },
    },
    ContentRule {
        rule: &USER_REFUSED,
        // An authorised user sees no sheet, so cannot refuse on it.
        applies: |c| c.call.action.kind == ActionKind::Refuse && !c.authorised(),
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
        applies: |c| !c.jsapi_base_package(),
        decides: |_| no_permission(),
    },
    ContentRule {
        rule: &PERSONAL_ACCOUNT_FAIL,
        applies: |c| {
            c.call.console.account == AccountKind::Personal
                && c.call.platform.personal_account == PersonalAccount::Fail4
        },
        decides: |_| no_permission(),
    },
    // Platform: the content of the envelope.
    ContentRule {
        rule: &PLATFORM_BUSY,
        applies: |c| c.busy,
        decides: |c| Decision::Content(busy_plaintext(), c.error_form),
    },
    ContentRule {
        rule: &PERSONAL_ACCOUNT,
        applies: |c| c.call.console.account == AccountKind::Personal,
        decides: |c| Decision::Content(insufficient_permissions(), encrypted_if(c.aes_usable)),
    },
    ContentRule {
        rule: &FEATURE_PACKAGE_MISSING,
        applies: |c| !c.phone_number_package(),
        decides: |c| Decision::Content(insufficient_permissions(), encrypted_if(c.aes_usable)),
    },
    ContentRule {
        rule: &PHONE_APPLICATION_NOT_APPROVED,
        applies: |c| c.call.console.phone_application != Application::Approved,
        decides: |c| Decision::Content(insufficient_permissions(), encrypted_if(c.aes_usable)),
    },
    ContentRule {
        rule: &NO_USER_CONSENT,
        applies: |c| c.call.action.kind == ActionKind::NoConsent && !c.authorised(),
        decides: |c| Decision::Content(invalid_auth_relations(), encrypted_if(c.aes_usable)),
    },
    ContentRule {
        rule: &STALE_AUTHORISATION,
        applies: |c| c.stale_error().is_some(),
        decides: |c| c.stale_error().expect("applies"),
    },
    ContentRule {
        rule: &ISV_APP_ID_MISSING,
        applies: |c| c.isv.is_some() && c.call.action.isv_app_id.is_none(),
        decides: |c| c.isv_app_id_error(),
    },
    ContentRule {
        rule: &ISV_APP_ID_FOREIGN,
        applies: |c| match (c.isv, &c.call.action.isv_app_id) {
            (Some(isv), Some(passed)) => {
                *passed != isv.isv_app_id
                    && c.call.platform.foreign_isv_app_id == ForeignIsvAppId::AsMissing
            }
            _ => false,
        },
        decides: |c| c.isv_app_id_error(),
    },
    ContentRule {
        rule: &NO_SIGNING,
        applies: |c| {
            c.call.console.signing == Signing::None
                && c.call.platform.without_signing == WithoutSigning::MissingDefaultSignatureType
        },
        decides: |c| Decision::Content(missing_default_signature_type(), c.error_form),
    },
    ContentRule {
        rule: &AES_KEY_NOT_SET,
        applies: |c| c.call.console.aes_key == AesKeySetting::NotSet,
        // Never encrypted: there is no key to encrypt with.
        decides: |c| Decision::Content(missing_encrypt_key(), plain_or_object(c.error_form)),
    },
    ContentRule {
        rule: &AES_KEY_BROKEN,
        applies: |c| c.call.console.aes_key == AesKeySetting::Broken,
        // Never encrypted: encryption is what failed.
        decides: |c| Decision::Content(invalid_encrypt(), plain_or_object(c.error_form)),
    },
    ContentRule {
        rule: &SUCCESS,
        applies: |_| true,
        decides: |c| {
            Decision::Content(
                Plaintext::success(c.call.user.mobile.as_str()),
                Form::Encrypted,
            )
        },
    },
];

fn encrypted_if(aes_usable: bool) -> Form {
    if aes_usable {
        Form::Encrypted
    } else {
        Form::Plain
    }
}

/// The error form where encryption is impossible.
fn plain_or_object(form: Form) -> Form {
    if form == Form::Object {
        Form::Object
    } else {
        Form::Plain
    }
}

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
    let isv = call.console.isv.as_ref();
    let context = Context {
        call,
        busy: match call.platform.busy {
            Busy::Never => false,
            Busy::Always => true,
            Busy::Probability(p) => draw < p,
        },
        aes_usable,
        error_form: match call.platform.error_form {
            ErrorForm::Encrypted if aes_usable => Form::Encrypted,
            ErrorForm::Object => Form::Object,
            _ => Form::Plain,
        },
        isv,
        plugin_call: isv.is_some_and(|isv| isv.kind == IsvKind::Plugin)
            && call.action.isv_app_id.is_some(),
    };
    let content = CONTENT_RULES
        .iter()
        .find(|rule| (rule.applies)(&context))
        .expect("the last content rule always applies");
    let (plaintext, form) = match (content.decides)(&context) {
        Decision::FrontEnd(callback, payload) => return front_end(callback, payload, content.rule),
        Decision::Content(plaintext, form) => (plaintext, form),
    };
    let object_form = form == Form::Object;
    // An error object handed over as is carries no signature to drop.
    let unsigned_by = (!object_form)
        .then(|| SIGNING_RULES.iter().find(|rule| (rule.drops_sign)(call)))
        .flatten()
        .map(|rule| rule.rule);
    Outcome::Envelope(EnvelopePlan {
        plaintext,
        encrypted: form == Form::Encrypted,
        signing: if unsigned_by.is_some() || object_form {
            None
        } else {
            call.console.signing.sign_type()
        },
        rule: content.rule,
        unsigned_by,
        object_form,
        keys: KeyChoice {
            isv_signs: isv.is_some(),
            aes_generation: isv.map_or(1, |isv| isv.aes_key_sets.max(1)),
        },
        escape_slashes: call.platform.escape_slashes,
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
    fn version_floors_follow_the_path() {
        let mut c = call();
        c.user.base_library_version = "1.20.0".parse().unwrap();
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
        c.console.isv = Some(Isv {
            kind: IsvKind::Plugin,
            ..Isv::template("2021004100000001")
        });
        c.action.isv_app_id = Some("2021004100000001".into());
        let Outcome::FrontEnd(f) = evaluate(&c, 0.5) else {
            panic!("expected a front-end failure")
        };
        assert_eq!(f.callback, Callback::Unsupported);
        assert_eq!(f.payload["api"], "getPhoneNumber");
        // A template's call keeps the direct floors.
        c.console.isv = Some(Isv::template("2021004100000001"));
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
        c.user.base_library_version = "1.10.0".parse().unwrap();
        let Outcome::FrontEnd(f) = evaluate(&c, 0.5) else {
            panic!("expected a front-end failure")
        };
        assert_eq!(f.payload["api"], "button.open-type.getAuthorize");
    }

    #[test]
    fn a_third_partys_packages_count_and_it_signs() {
        let mut c = call();
        c.console.phone_number_package = false;
        c.console.isv = Some(Isv {
            aes_key_sets: 3,
            ..Isv::template("2021004100000001")
        });
        c.action.isv_app_id = Some("2021004100000001".into());
        let p = plan(evaluate(&c, 0.5));
        assert_eq!(p.rule.id, "success");
        assert_eq!(
            p.keys,
            KeyChoice {
                isv_signs: true,
                aes_generation: 3
            }
        );
        c.console.isv.as_mut().unwrap().jsapi_base_package = false;
        let Outcome::FrontEnd(f) = evaluate(&c, 0.5) else {
            panic!("expected a front-end failure")
        };
        assert_eq!(f.payload["signature"], "N22104");
        assert_eq!(f.payload["error"], 4);
    }

    #[test]
    fn a_foreign_isv_app_id_fails_as_switched() {
        let mut c = call();
        c.console.isv = Some(Isv::template("2021004100000001"));
        c.action.isv_app_id = Some("2021004199999999".into());
        let p = plan(evaluate(&c, 0.5));
        assert_eq!(p.rule.id, "isv.isv-app-id-foreign");
        assert_eq!(
            p.plaintext.sub_code.as_deref(),
            Some("isv.missing-default-signature-type")
        );
        c.platform.isv_app_id_missing = IsvAppIdMissing::MissingEncryptKey;
        assert_eq!(
            plan(evaluate(&c, 0.5)).plaintext.sub_code.as_deref(),
            Some("isv.missing-encrypt-key")
        );
        c.platform.foreign_isv_app_id = ForeignIsvAppId::Accepted;
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
    }

    #[test]
    fn personal_accounts_fail_on_the_device_unless_switched() {
        let mut c = call();
        c.console.account = AccountKind::Personal;
        assert_eq!(evaluate(&c, 0.5).rule().id, "fe.personal-account");
        c.platform.personal_account = PersonalAccount::InsufficientPermissions;
        assert_eq!(evaluate(&c, 0.5).rule().id, "console.personal-account");
    }

    #[test]
    fn the_home_page_shows_no_sheet_but_a_direct_call_gets_40003() {
        let mut c = call();
        c.user.on_home_page = true;
        let Outcome::FrontEnd(f) = evaluate(&c, 0.5) else {
            panic!("expected nothing to fire")
        };
        assert_eq!((f.callback, f.rule.id), (Callback::None, "fe.home-page"));
        c.action.kind = ActionKind::NoConsent;
        assert_eq!(evaluate(&c, 0.5).rule().id, "user.no-consent");
    }

    #[test]
    fn the_model_names_the_grantable_errors_as_the_rules_do() {
        let ids: Vec<&str> = GRANTABLE_ERRORS.iter().map(|r| r.id).collect();
        assert_eq!(ids, GRANTABLE_ERROR_IDS);
        // Each is a content rule, whose decision a grant made under it keeps.
        for id in ids {
            assert!(CONTENT_RULES.iter().any(|r| r.rule.id == id), "{id}");
        }
    }

    #[test]
    fn an_authorisation_lasts_until_revoked_and_a_stale_one_keeps_its_error() {
        let mut c = call();
        c.action.kind = ActionKind::NoConsent;
        c.user.authorisation = Authorisation::Granted;
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
        c.action.kind = ActionKind::Refuse; // no sheet to refuse on
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
        c.user.granted_under = Some("console.aes-key-not-set".into());
        let p = plan(evaluate(&c, 0.5));
        assert_eq!(p.rule.id, "user.stale-authorisation");
        assert_eq!(
            p.plaintext.sub_code.as_deref(),
            Some("isv.missing-encrypt-key")
        );
        assert!(!p.encrypted);
        c.platform.stale_authorisation = false;
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
        c.user.authorisation = Authorisation::Revoked;
        c.action.kind = ActionKind::NoConsent;
        assert_eq!(evaluate(&c, 0.5).rule().id, "user.no-consent");
    }

    #[test]
    fn the_object_error_form_hands_over_the_error_unsigned() {
        let mut c = call();
        c.platform.error_form = ErrorForm::Object;
        c.console.aes_key = AesKeySetting::Broken;
        let p = plan(evaluate(&c, 0.5));
        assert!(p.object_form && !p.encrypted);
        assert_eq!((p.signing, p.unsigned_by), (None, None));
        // Encrypted content is not affected.
        c.console.aes_key = AesKeySetting::Set;
        assert!(!plan(evaluate(&c, 0.5)).object_form);
    }

    #[test]
    fn slashes_are_escaped_as_the_doc_prints_them() {
        let mut c = call();
        c.console.phone_application = Application::Pending;
        let p = plan(evaluate(&c, 0.5));
        assert!(p
            .plaintext_text()
            .contains(r"https:\/\/docs.open.alipay.com\/common\/isverror"));
        c.platform.escape_slashes = false;
        assert!(plan(evaluate(&c, 0.5))
            .plaintext_text()
            .contains("https://docs.open.alipay.com/common/isverror"));
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
        assert_eq!(p.rule.id, "success");
        assert_eq!(p.unsigned_by.unwrap().id, "sign.dropped-no-signing");
        c.platform.without_signing = WithoutSigning::MissingDefaultSignatureType;
        assert_eq!(plan(evaluate(&c, 0.5)).rule.id, "console.no-signing");
    }

    #[test]
    fn isv_needs_its_app_id_in_the_call() {
        let mut c = call();
        c.console.isv = Some(Isv::template("2021004100000001"));
        assert_eq!(evaluate(&c, 0.5).rule().id, "isv.isv-app-id-missing");
        c.action.isv_app_id = Some("2021004100000001".into());
        assert_eq!(evaluate(&c, 0.5).rule().id, "success");
    }
}
