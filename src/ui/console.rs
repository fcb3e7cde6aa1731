//! An app's console (`/apps/{app_id}`): every setting of the model, the scenario picker, the
//! keys, and the outcome the next call returns, or would return once the form is saved (the
//! preview, `POST /apps/{app_id}/console/preview`).

use super::form::{control_id, field, FieldError, Fields, FormState, SelectView, SummaryItem};
use super::form::{CheckView, TextView};
use super::*;
use crate::alipay::model::{
    AccountKind, AesKeySetting, Application, Authorisation, Busy, Environment, ErrorForm,
    ForeignIsvAppId, IsvAppIdMissing, IsvKind, PersonalAccount, Signing, SigningKeyMode,
    WithoutSigning,
};
use crate::alipay::model::{Call, Isv};
use crate::sim::state::AppView;

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    app_id: String,
    notice: Option<String>,
    summary: Vec<SummaryItem>,
    outcome: OutcomeView,
    /// Whether saving the form would change the settings (a refused form would).
    unsaved: bool,
    /// The labels of the fields whose values differ from the saved settings.
    unsaved_fields: Vec<&'static str>,
    /// The names of those fields.
    changed: Vec<&'static str>,
    preview_note: &'static str,
    console_selects: Vec<SelectView>,
    console_checks: Vec<CheckView>,
    isv_texts: Vec<TextView>,
    isv_selects: Vec<SelectView>,
    isv_checks: Vec<CheckView>,
    isv_key_texts: Vec<TextView>,
    user_texts: Vec<TextView>,
    user_selects: Vec<SelectView>,
    user_checks: Vec<CheckView>,
    call_texts: Vec<TextView>,
    fault_selects: Vec<SelectView>,
    platform_selects: Vec<SelectView>,
    busy_texts: Vec<TextView>,
    platform_checks: Vec<CheckView>,
    platform_texts: Vec<TextView>,
    scenarios: Vec<Choice>,
    /// The picker's first option when no catalogue scenario applies.
    scenario_note: Option<&'static str>,
    scenario_chosen: String,
    scenario_chosen_long: bool,
    keys: KeysView,
}

/// The outcome panel alone: what the preview answers, rendered as on the page.
#[derive(Template)]
#[template(path = "outcome.html")]
struct OutcomePartial<'a> {
    outcome: &'a OutcomeView,
}

/// The summary of a refused form alone, rendered as on the page.
#[derive(Template)]
#[template(path = "error_summary.html")]
struct SummaryPartial<'a> {
    summary: &'a [SummaryItem],
}

/// Every field of the console form and the setting it sets, by its path in the API's terms
/// (what `serde_path_to_error` and [`Call::validate`] name). A path's first field wins.
const FIELD_PATHS: &[(&str, &str)] = &[
    ("account", "console.account"),
    ("phone_number_package", "console.phone_number_package"),
    ("phone_application", "console.phone_application"),
    ("jsapi_base_package", "console.jsapi_base_package"),
    ("signing", "console.signing"),
    ("signing_key_mode", "console.signing_key_mode"),
    ("aes_key", "console.aes_key"),
    ("gateway", "console.gateway"),
    ("isv_app_id", "console.isv.isv_app_id"),
    ("isv_app_id", "console.isv"),
    ("isv_kind", "console.isv.kind"),
    (
        "isv_phone_number_package",
        "console.isv.phone_number_package",
    ),
    ("isv_jsapi_base_package", "console.isv.jsapi_base_package"),
    ("isv_aes_key_sets", "console.isv.aes_key_sets"),
    ("mobile", "user.mobile"),
    ("client_version", "user.client_version"),
    ("base_library_version", "user.base_library_version"),
    ("environment", "user.environment"),
    ("on_home_page", "user.on_home_page"),
    ("authorisation", "user.authorisation"),
    ("granted_under", "user.granted_under"),
    ("action_kind", "action.kind"),
    ("call_isv_app_id", "action.isv_app_id"),
    ("fault", "fault"),
    ("busy", "platform.busy"),
    ("busy_probability", "platform.busy.probability"),
    ("error_form", "platform.error_form"),
    ("without_signing", "platform.without_signing"),
    (
        "unsigned_without_aes_key",
        "platform.unsigned_without_aes_key",
    ),
    (
        "unsigned_without_gateway",
        "platform.unsigned_without_gateway",
    ),
    ("refusal_message", "platform.refusal_message"),
    ("personal_account", "platform.personal_account"),
    ("isv_app_id_missing", "platform.isv_app_id_missing"),
    ("foreign_isv_app_id", "platform.foreign_isv_app_id"),
    ("escape_slashes", "platform.escape_slashes"),
    ("rpc_trace_id", "platform.rpc_trace_id"),
    ("stale_authorisation", "platform.stale_authorisation"),
];

/// The form field of a setting's path, or of the nearest setting containing it.
fn field_of_path(path: &str) -> Option<&'static str> {
    let mut path = path;
    loop {
        if let Some((name, _)) = FIELD_PATHS.iter().find(|(_, p)| *p == path) {
            return Some(name);
        }
        path = &path[..path.rfind('.')?];
    }
}

/// Why a state operation refused a configuration, at its field.
fn error_of_state(error: &StateError) -> FieldError {
    let (path, message) = match error {
        StateError::Invalid { field, message } => (field.clone(), message.clone()),
        StateError::Engine(crate::alipay::error::Error::Invalid { field, message }) => {
            (field.to_string(), message.clone())
        }
        other => (String::new(), other.to_string()),
    };
    FieldError {
        field: field_of_path(&path),
        path,
        message,
    }
}

/// The saved settings as the console form sends them.
fn form_of_config(config: &Call) -> Fields {
    fn name<E: Into<&'static str>>(variant: E) -> String {
        variant.into().to_string()
    }
    let json = serde_json::to_value(config).expect("config serialises");
    let text = |section: &str, field: &str| json[section][field].as_str().unwrap_or_default();
    let Call {
        console,
        platform,
        user,
        action,
        fault,
    } = config;
    // The form shows a template ISV's defaults while the app has none.
    let isv = console.isv.clone().unwrap_or_else(|| Isv::template(""));
    let busy_probability = match platform.busy {
        Busy::Probability(_) => json["platform"]["busy"]["probability"].to_string(),
        _ => "0.5".to_string(),
    };
    let pairs: Vec<(&str, Option<String>)> = vec![
        ("account", Some(name(console.account))),
        ("phone_number_package", on(console.phone_number_package)),
        ("phone_application", Some(name(console.phone_application))),
        ("jsapi_base_package", on(console.jsapi_base_package)),
        ("signing", Some(name(console.signing))),
        ("signing_key_mode", Some(name(console.signing_key_mode))),
        ("aes_key", Some(name(console.aes_key))),
        ("gateway", on(console.gateway)),
        ("isv_app_id", Some(isv.isv_app_id.clone())),
        ("isv_kind", Some(name(isv.kind))),
        ("isv_phone_number_package", on(isv.phone_number_package)),
        ("isv_jsapi_base_package", on(isv.jsapi_base_package)),
        ("isv_aes_key_sets", Some(isv.aes_key_sets.to_string())),
        ("mobile", Some(text("user", "mobile").into())),
        (
            "client_version",
            Some(text("user", "client_version").into()),
        ),
        (
            "base_library_version",
            Some(text("user", "base_library_version").into()),
        ),
        ("environment", Some(name(user.environment))),
        ("action_kind", Some(name(action.kind))),
        ("authorisation", Some(name(user.authorisation))),
        ("on_home_page", on(user.on_home_page)),
        (
            "granted_under",
            Some(user.granted_under.clone().unwrap_or_default()),
        ),
        (
            "call_isv_app_id",
            Some(action.isv_app_id.clone().unwrap_or_default()),
        ),
        (
            "fault",
            Some(fault.map_or_else(String::new, |f| f.name().to_string())),
        ),
        ("busy", Some(name(platform.busy))),
        ("busy_probability", Some(busy_probability)),
        ("error_form", Some(name(platform.error_form))),
        ("without_signing", Some(name(platform.without_signing))),
        ("personal_account", Some(name(platform.personal_account))),
        (
            "isv_app_id_missing",
            Some(name(platform.isv_app_id_missing)),
        ),
        (
            "foreign_isv_app_id",
            Some(name(platform.foreign_isv_app_id)),
        ),
        (
            "unsigned_without_aes_key",
            on(platform.unsigned_without_aes_key),
        ),
        (
            "unsigned_without_gateway",
            on(platform.unsigned_without_gateway),
        ),
        ("escape_slashes", on(platform.escape_slashes)),
        ("stale_authorisation", on(platform.stale_authorisation)),
        ("rpc_trace_id", on(platform.rpc_trace_id)),
        (
            "refusal_message",
            Some(text("platform", "refusal_message").into()),
        ),
    ];
    pairs
        .into_iter()
        .filter_map(|(name, value)| Some((name.to_string(), value?)))
        .collect()
}

/// A checkbox's value: sent when checked, absent otherwise.
fn on(checked: bool) -> Option<String> {
    checked.then(|| "on".to_string())
}

/// The page of `app`, its form showing `form`.
fn console_page(
    state: &SimState,
    app: AppView,
    form: &FormState,
    outcome: OutcomeView,
    notice: Option<String>,
) -> Result<ConsolePage, PageError> {
    let select = |name, label, gloss, choices| form.select(name, label, gloss, choices);
    let check = |name, label, gloss| form.check(name, label, gloss);
    let text = |name, label, gloss| form.text(name, label, gloss, "");
    let mut faults = vec![(String::new(), "none".to_string())];
    faults.extend(Fault::iter().map(|f| {
        (
            f.name().to_string(),
            format!("{}: {}", f.name(), f.description()),
        )
    }));
    let applied = state
        .applied_scenario(&app.app_id)?
        .filter(|name| catalogue().get(name).is_ok());
    let scenario_note = match &applied {
        Some(_) => None,
        None if app.config == Call::default() => Some("(none: fully configured, the default)"),
        None => Some("(custom settings: no catalogue scenario)"),
    };
    let scenarios: Vec<Choice> = catalogue()
        .iter()
        .map(|s| Choice {
            value: s.name.clone(),
            label: format!("{}: {}", s.name, s.title),
            selected: applied.as_deref() == Some(s.name.as_str()),
        })
        .collect();
    let scenario_chosen = scenarios
        .iter()
        .find(|s| s.selected)
        .map(|s| s.label.clone())
        .or(scenario_note.map(str::to_string))
        .unwrap_or_default();
    let mut page = ConsolePage {
        app_id: app.app_id.clone(),
        notice,
        summary: Vec::new(),
        outcome,
        unsaved: false,
        unsaved_fields: Vec::new(),
        changed: Vec::new(),
        preview_note: "",
        console_selects: vec![
            select(
                "account",
                "账号主体 · Account",
                "the API is for enterprise accounts",
                choices::<AccountKind>(),
            ),
            select(
                "phone_application",
                "用户信息申请 · Phone-number application",
                "the review of the 获取会员手机号 request",
                choices::<Application>(),
            ),
            select(
                "signing",
                "接口加签方式 · Signing method",
                "sets the Alipay public key",
                choices::<Signing>(),
            ),
            select(
                "signing_key_mode",
                "接口加签方式 · 加签模式 · Key mode",
                "公钥证书: the key comes in certificates",
                choices::<SigningKeyMode>(),
            ),
            select(
                "aes_key",
                "AES 密钥 · AES key",
                "内容加密方式: content encryption",
                choices::<AesKeySetting>(),
            ),
        ],
        console_checks: vec![
            check(
                "phone_number_package",
                "获取会员手机号 · Phone-number package",
                "feature package added",
            ),
            check(
                "jsapi_base_package",
                "JSAPI 基础包",
                "JSAPI base package added",
            ),
            check("gateway", "应用网关", "application gateway set"),
        ],
        isv_texts: vec![form.text(
            "isv_app_id",
            "服务商代商家 · ISV app id",
            "empty: no ISV",
            r#"placeholder="2021004100000001""#,
        )],
        isv_selects: vec![select(
            "isv_kind",
            "三方应用 · How the third party calls",
            "a plugin's calls need 1.22.0 / 10.1.75",
            choices::<IsvKind>(),
        )],
        isv_checks: vec![
            check(
                "isv_phone_number_package",
                "三方应用 获取会员手机号 · Third party's phone-number package",
                "the third party's feature package",
            ),
            check(
                "isv_jsapi_base_package",
                "三方应用 JSAPI 基础包",
                "the third party's JSAPI base package",
            ),
        ],
        isv_key_texts: vec![form.text(
            "isv_aes_key_sets",
            "alipay.open.auth.app.aes.set calls",
            "each replaces the merchant's AES key",
            r#"type="number" min="1""#,
        )],
        user_texts: vec![
            text(
                "mobile",
                "绑定手机号 · Bound mobile",
                "11 digits, 国家码-号码, or empty",
            ),
            text("client_version", "支付宝客户端 · Client version", ""),
            text("base_library_version", "基础库 · Base library version", ""),
        ],
        user_selects: vec![
            select(
                "environment",
                "运行环境 · Environment",
                "",
                choices::<Environment>(),
            ),
            select(
                "action_kind",
                "用户操作 · What the user does",
                "",
                choices::<ActionKind>(),
            ),
            select(
                "authorisation",
                "授权 · The user's authorisation",
                "my.getSetting authSetting.phoneNumber",
                choices::<Authorisation>(),
            ),
        ],
        user_checks: vec![check(
            "on_home_page",
            "首页 · On the home page",
            "a phone shows no sheet there",
        )],
        call_texts: vec![
            text(
                "granted_under",
                "Granted while the console gave",
                "a rule id, e.g. console.aes-key-not-set; empty: a clean grant",
            ),
            text(
                "call_isv_app_id",
                "protocols.isvAppId passed by the call",
                "empty: not passed",
            ),
        ],
        fault_selects: vec![select("fault", "故障 · Deliberate fault", "", faults)],
        platform_selects: vec![
            select(
                "busy",
                "系统繁忙 · Platform busy (20000)",
                "",
                choices::<Busy>(),
            ),
            select(
                "error_form",
                "Form of 20000 / 40001 / 40002",
                "undocumented for getPhoneNumber",
                choices::<ErrorForm>(),
            ),
            select(
                "without_signing",
                "Without a signing method",
                "newest doc: no sign",
                choices::<WithoutSigning>(),
            ),
            select(
                "personal_account",
                "个人主体 · A personal account gets",
                "",
                choices::<PersonalAccount>(),
            ),
            select(
                "isv_app_id_missing",
                "ISV call without isvAppId: 40001 sub-code",
                "both 40001 pages list it",
                choices::<IsvAppIdMissing>(),
            ),
            select(
                "foreign_isv_app_id",
                "isvAppId not the ISV's",
                "inferred",
                choices::<ForeignIsvAppId>(),
            ),
        ],
        busy_texts: vec![form.text(
            "busy_probability",
            "20000 probability when busy is \"with a probability\"",
            "0 to 1",
            r#"type="number" min="0" max="1" step="0.01""#,
        )],
        platform_checks: vec![
            check("unsigned_without_aes_key", "No AES key drops sign", "FAQ"),
            check("unsigned_without_gateway", "No gateway drops sign", "FAQ"),
            check(
                "escape_slashes",
                "Escape / as \\/",
                "as the doc prints 40006",
            ),
            check(
                "stale_authorisation",
                "Stale grants keep failing",
                "until the user revokes and allows again (解除授权后重新授权)",
            ),
            check(
                "rpc_trace_id",
                "ariverRpcTraceId",
                "beside response, undocumented",
            ),
        ],
        platform_texts: vec![text("refusal_message", "Refusal message (onError)", "")],
        scenarios,
        scenario_note,
        scenario_chosen_long: super::form::text_width(&scenario_chosen) > 30,
        scenario_chosen,
        keys: app.keys.clone(),
    };
    // Every field is rendered now: the summary and the changes can name them.
    page.summary = form.summary();
    let (changed, unsaved) = changes(form, &app.config);
    page.unsaved = unsaved;
    page.changed = changed.clone();
    page.unsaved_fields = form.labels_of(&changed);
    page.preview_note = match (form.errors().is_empty(), unsaved) {
        (false, _) => "The outcome shown is not of this form: fix the marked fields to see it.",
        (true, true) => "The outcome shown is of this form, once saved.",
        (true, false) => "",
    };
    Ok(page)
}

/// The fields of `form` whose values differ from the saved `config`'s, and whether saving
/// the form would change anything (a form equal to `config` once read changes nothing, even
/// if written differently; a refused one is not `config`).
fn changes(form: &FormState, config: &Call) -> (Vec<&'static str>, bool) {
    let submitted = config_from_form(form.fields()).ok();
    if submitted.as_ref() == Some(config) {
        return (Vec::new(), false);
    }
    let saved = form_of_config(config);
    let mut names: Vec<&'static str> = Vec::new();
    for (name, _) in FIELD_PATHS {
        if !names.contains(name) && form.value(name).trim() != field(&saved, name).trim() {
            names.push(name);
        }
    }
    (names, true)
}

/// Every variant of `E`, as the form's choices: its name, and its words.
fn choices<E: Labelled>() -> Vec<(String, String)> {
    E::iter()
        .map(|variant| {
            let value: &'static str = variant.into();
            (value.to_string(), variant.label().to_string())
        })
        .collect()
}

impl Labelled for AccountKind {
    fn label(self) -> &'static str {
        match self {
            AccountKind::Enterprise => "企业 · enterprise",
            AccountKind::Personal => "个人 · personal",
        }
    }
}

impl Labelled for Application {
    fn label(self) -> &'static str {
        match self {
            Application::Approved => "已通过 · approved",
            Application::Pending => "审核中 · pending",
            Application::Rejected => "已驳回 · rejected",
            Application::None => "未申请 · none",
        }
    }
}

impl Labelled for Signing {
    fn label(self) -> &'static str {
        match self {
            Signing::Rsa2 => "RSA2 (SHA-256)",
            Signing::Rsa => "RSA (SHA-1)",
            Signing::None => "未设置 · none",
        }
    }
}

impl Labelled for SigningKeyMode {
    fn label(self) -> &'static str {
        match self {
            SigningKeyMode::PublicKey => "公钥 · public key",
            SigningKeyMode::Certificate => "公钥证书 · certificates",
        }
    }
}

impl Labelled for AesKeySetting {
    fn label(self) -> &'static str {
        match self {
            AesKeySetting::Set => "已设置 · set",
            AesKeySetting::NotSet => "未设置 · not set",
            AesKeySetting::Broken => "异常 · broken",
        }
    }
}

impl Labelled for Environment {
    fn label(self) -> &'static str {
        match self {
            Environment::Device => "真机 · phone",
            Environment::IdeSimulator => "IDE 模拟器 · IDE simulator",
            Environment::IotWithoutPaymentPassword => {
                "IoT 设备, 无支付密码 · IoT device, no payment password"
            }
        }
    }
}

impl Labelled for ActionKind {
    fn label(self) -> &'static str {
        match self {
            ActionKind::Consent => "允许 · consents",
            ActionKind::Refuse => "拒绝 · refuses",
            ActionKind::NoConsent => "no button: my.getPhoneNumber called directly",
        }
    }
}

impl Labelled for Busy {
    fn label(self) -> &'static str {
        match self {
            Busy::Never => "never",
            Busy::Always => "always",
            Busy::Probability(_) => "with a probability",
        }
    }
}

impl Labelled for ErrorForm {
    fn label(self) -> &'static str {
        match self {
            ErrorForm::Plain => "plain (default)",
            ErrorForm::Encrypted => "encrypted",
            ErrorForm::Object => "res.response is the error object",
        }
    }
}

impl Labelled for WithoutSigning {
    fn label(self) -> &'static str {
        match self {
            WithoutSigning::MissingDefaultSignatureType => "40001 missing-default-signature-type",
            WithoutSigning::DropSign => "normal answer without sign",
        }
    }
}

impl Labelled for PersonalAccount {
    fn label(self) -> &'static str {
        match self {
            PersonalAccount::Fail4 => "fail 4 无权调用 N22104",
            PersonalAccount::InsufficientPermissions => "40006 encrypted",
        }
    }
}

impl Labelled for IsvAppIdMissing {
    fn label(self) -> &'static str {
        match self {
            IsvAppIdMissing::MissingDefaultSignatureType => "isv.missing-default-signature-type",
            IsvAppIdMissing::MissingEncryptKey => "isv.missing-encrypt-key",
        }
    }
}

impl Labelled for ForeignIsvAppId {
    fn label(self) -> &'static str {
        match self {
            ForeignIsvAppId::AsMissing => "40001, as if missing",
            ForeignIsvAppId::Accepted => "accepted",
        }
    }
}

impl Labelled for Authorisation {
    fn label(self) -> &'static str {
        match self {
            Authorisation::None => "未授权 · never authorised",
            Authorisation::Granted => "已授权 · authorised (no sheet)",
            Authorisation::Revoked => "已取消 · revoked",
        }
    }
}

impl Labelled for IsvKind {
    fn label(self) -> &'static str {
        match self {
            IsvKind::Template => "三方模板 · template",
            IsvKind::Plugin => "插件 · plugin",
        }
    }
}

/// The notices a page shows after an action, by the name its redirect gives
/// (`?notice=keys-rotated`): a fixed set, never text from the request.
fn notice(state: &SimState, app_id: &str, query: &[(String, String)]) -> Option<String> {
    let name = query.iter().find(|(k, _)| k == "notice")?.1.as_str();
    Some(match name {
        "saved" => "Saved: the next call uses these settings.".to_string(),
        "scenario-applied" => match state.applied_scenario(app_id).ok().flatten() {
            Some(scenario) => {
                format!("Scenario applied: {scenario}. Every setting is the scenario's.")
            }
            None => "Scenario applied.".to_string(),
        },
        "reset" => {
            "Reset: the console is fully configured again; keys and journal are kept.".to_string()
        }
        "keys-rotated" => {
            "Keys rotated: give your backend the new Alipay public key and AES key.".to_string()
        }
        _ => return None,
    })
}

pub(super) async fn console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> PageResult {
    let app = state.app(&app_id)?;
    let form = FormState::new(form_of_config(&app.config), Vec::new());
    let outcome = OutcomeView::next(&state, &app_id)?;
    let notice = notice(&state, &app_id, &query);
    page(console_page(&state, app, &form, outcome, notice)?)
}

/// The configuration the console form describes, or what is wrong with each of its fields.
fn config_from_form(fields: &Fields) -> Result<Call, Vec<FieldError>> {
    let f = |name| field(fields, name).trim().to_string();
    let checked = |name| fields.iter().any(|(k, _)| k == name);
    let optional = |name| Some(f(name)).filter(|v| !v.is_empty());
    let mut errors = Vec::new();
    let busy = match f("busy").parse::<Busy>() {
        Ok(Busy::Probability(_)) => match f("busy_probability").parse::<f64>() {
            Ok(p) => json!({ "probability": p }),
            Err(_) => {
                errors.push(FieldError {
                    field: Some("busy_probability"),
                    path: "platform.busy.probability".into(),
                    message: format!("{:?} is not a number", f("busy_probability")),
                });
                json!("never")
            }
        },
        _ => json!(f("busy")),
    };
    let mut value = json!({
        "console": {
            "account": f("account"),
            "phone_number_package": checked("phone_number_package"),
            "phone_application": f("phone_application"),
            "jsapi_base_package": checked("jsapi_base_package"),
            "signing": f("signing"),
            // A form of an older page has no key mode: public key, the default.
            "signing_key_mode": optional("signing_key_mode").unwrap_or_else(|| "public-key".into()),
            "aes_key": f("aes_key"),
            "gateway": checked("gateway"),
            "isv": optional("isv_app_id").map(|id| {
                // A form without the ISV's own fields (an older page) keeps their defaults.
                let has_isv_fields = fields.iter().any(|(k, _)| k == "isv_kind");
                let package = |name| !has_isv_fields || checked(name);
                json!({
                    "isv_app_id": id,
                    "kind": optional("isv_kind").unwrap_or_else(|| "template".into()),
                    "phone_number_package": package("isv_phone_number_package"),
                    "jsapi_base_package": package("isv_jsapi_base_package"),
                    // A number, or the text as typed, for serde to name the field.
                    "aes_key_sets": optional("isv_aes_key_sets")
                        .map_or(json!(1), |v| v.parse::<u32>().map_or(json!(v), |n| json!(n))),
                })
            }),
        },
        "platform": {
            "busy": busy,
            "error_form": f("error_form"),
            "without_signing": f("without_signing"),
            "unsigned_without_aes_key": checked("unsigned_without_aes_key"),
            "unsigned_without_gateway": checked("unsigned_without_gateway"),
            "refusal_message": field(fields, "refusal_message"),
            "personal_account": f("personal_account"),
            "isv_app_id_missing": f("isv_app_id_missing"),
            "foreign_isv_app_id": f("foreign_isv_app_id"),
            "escape_slashes": checked("escape_slashes"),
            "rpc_trace_id": checked("rpc_trace_id"),
            "stale_authorisation": checked("stale_authorisation"),
        },
        "user": {
            "mobile": f("mobile"),
            "client_version": f("client_version"),
            "base_library_version": f("base_library_version"),
            "environment": f("environment"),
            "on_home_page": checked("on_home_page"),
            "authorisation": optional("authorisation").unwrap_or_else(|| "none".into()),
            "granted_under": optional("granted_under"),
        },
        "action": { "kind": f("action_kind"), "isv_app_id": optional("call_isv_app_id") },
        "fault": optional("fault"),
    });
    // serde stops at the first bad field: each one found is set to its default and the rest
    // read again, so that every bad field is named at once.
    let mut defaults = Call::default();
    defaults.console.isv = Some(Isv::template(""));
    let defaults = serde_json::to_value(defaults).expect("config serialises");
    for _ in 0..FIELD_PATHS.len() {
        match serde_path_to_error::deserialize::<_, Call>(value.clone()) {
            Ok(config) => {
                if let Err(error) = config.validate() {
                    let error = error_of_state(&StateError::Engine(error));
                    if !errors.iter().any(|e: &FieldError| e.path == error.path) {
                        errors.push(error);
                    }
                }
                return if errors.is_empty() {
                    Ok(config)
                } else {
                    Err(errors)
                };
            }
            Err(error) => {
                let path = error.path().to_string();
                let path = if path == "." { String::new() } else { path };
                if errors.iter().any(|e| e.path == path) {
                    break;
                }
                errors.push(FieldError {
                    field: field_of_path(&path),
                    message: error.inner().to_string(),
                    path: path.clone(),
                });
                if !set_to_default(&mut value, &defaults, &path) {
                    break;
                }
            }
        }
    }
    Err(errors)
}

/// Sets the setting at `path` (or the nearest one containing it that `defaults` has) to its
/// value in `defaults`; false when there is none.
fn set_to_default(value: &mut Value, defaults: &Value, path: &str) -> bool {
    let segments: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    for len in (1..=segments.len()).rev() {
        let pointer = format!("/{}", segments[..len].join("/"));
        if let (Some(default), Some(slot)) =
            (defaults.pointer(&pointer), value.pointer_mut(&pointer))
        {
            *slot = default.clone();
            return true;
        }
    }
    false
}

pub(super) async fn save_console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(fields): Form<Fields>,
) -> PageResult {
    let errors = match config_from_form(&fields) {
        Ok(config) => match state.set_config(&app_id, config) {
            Ok(_) => return back_to(format!("/apps/{app_id}?notice=saved")),
            Err(StateError::AppNotFound(id)) => return Err(StateError::AppNotFound(id).into()),
            Err(error) => vec![error_of_state(&error)],
        },
        Err(errors) => errors,
    };
    // The form again, exactly as submitted, its bad fields marked; nothing was changed.
    let app = state.app(&app_id)?;
    let outcome = OutcomeView::next(&state, &app_id)?;
    let form = FormState::new(fields, errors);
    let body = console_page(&state, app, &form, outcome, None)?.render()?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
}

/// The outcome of the unsaved form, and its errors, without saving it: the panel and the
/// summary as the page renders them, each bad field (its name, control and message) and the
/// fields that differ from the saved settings.
pub(super) async fn preview_console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(fields): Form<Fields>,
) -> PageResult {
    // A preview in certificate mode may issue the certificates: not on the async threads.
    tokio::task::spawn_blocking(move || preview(&state, &app_id, fields)).await?
}

fn preview(state: &SimState, app_id: &str, fields: Fields) -> PageResult {
    let app = state.app(app_id)?;
    let (outcome, errors) = match config_from_form(&fields) {
        // Validated as saving would: the engine only refuses a fault that cannot apply.
        Ok(config) => (
            Some(OutcomeView::preview(state, app_id, &config)?),
            Vec::new(),
        ),
        Err(errors) => (None, errors),
    };
    let shown = match &outcome {
        Some(outcome) => outcome.clone(),
        None => OutcomeView::next(state, app_id)?,
    };
    let form = FormState::new(fields, errors);
    let page = console_page(state, app, &form, shown, None)?;
    let body = json!({
        "outcome": outcome.as_ref().map(|outcome| OutcomePartial { outcome }.render()).transpose()?,
        "summary": SummaryPartial { summary: &page.summary }.render()?,
        "errors": form.errors().iter().map(|e| json!({
            "field": e.field,
            "target": e.field.map(control_id),
            "path": e.path,
            "message": e.message,
        })).collect::<Vec<_>>(),
        "unsaved": page.unsaved,
        "changed": page.changed,
        "changed_labels": page.unsaved_fields,
        "note": page.preview_note,
    });
    Ok(axum::Json(body).into_response())
}

#[derive(Deserialize)]
pub(super) struct ScenarioForm {
    #[serde(default)]
    name: String,
}

pub(super) async fn apply_scenario(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<ScenarioForm>,
) -> PageResult {
    if form.name.is_empty() {
        // "(custom settings)" is no scenario to apply.
        return back_to(format!("/apps/{app_id}"));
    }
    state.apply_scenario(&app_id, &form.name)?;
    back_to(format!("/apps/{app_id}?notice=scenario-applied"))
}

pub(super) async fn reset_app(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    state.reset_app(&app_id)?;
    back_to(format!("/apps/{app_id}?notice=reset"))
}

pub(super) async fn rotate_keys(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    let id = app_id.clone();
    blocking::<_, PageError>(move || state.rotate_keys(&id)).await?;
    back_to(format!("/apps/{app_id}?notice=keys-rotated"))
}
pub(super) async fn download_key(
    State(state): State<SimState>,
    Path((app_id, file)): Path<(String, String)>,
) -> PageResult {
    let keys = state.keys(&app_id)?;
    let content = match file.as_str() {
        "alipay_public_key.txt" => format!("{}\n", keys.alipay_public_key),
        "alipay_public_key.pem" => keys.alipay_public_key_pem,
        "aes_key.txt" => format!("{}\n", keys.aes_key),
        other => {
            return Err(PageError(
                StatusCode::NOT_FOUND,
                format!("no key file {other:?}"),
            ))
        }
    };
    download(
        "text/plain; charset=utf-8",
        &format!("{app_id}-{file}"),
        content,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_everything() -> Call {
        let mut config = Call::default();
        config.console.isv = Some(Isv::template("2021004100000001"));
        config.platform.busy = Busy::Probability(0.25);
        config.user.granted_under = Some("console.no-signing".into());
        config.action.isv_app_id = Some("2021004100000001".into());
        config.fault = Fault::iter().next();
        config
    }

    #[test]
    fn the_form_of_a_configuration_reads_back_as_it() {
        let mut configs: Vec<Call> = catalogue().iter().map(|s| s.call()).collect();
        configs.push(with_everything());
        for config in configs {
            assert_eq!(config_from_form(&form_of_config(&config)), Ok(config));
        }
    }

    #[test]
    fn every_form_field_has_a_setting_and_every_setting_a_field() {
        let json = serde_json::to_value(with_everything()).unwrap();
        for (name, path) in FIELD_PATHS {
            let pointer = format!("/{}", path.replace('.', "/"));
            assert!(json.pointer(&pointer).is_some(), "{name}: no {path}");
        }
        for (name, _) in form_of_config(&with_everything()) {
            assert!(
                FIELD_PATHS.iter().any(|(n, _)| *n == name),
                "{name} sets no setting"
            );
        }
        assert_eq!(field_of_path("console.isv.kind.whatever"), Some("isv_kind"));
        assert_eq!(field_of_path("nonsense"), None);
    }
}
