//! An app's console (`/apps/{app_id}`): every setting of the model, the scenario picker, the
//! keys, and the outcome the next call returns.

use super::*;
use crate::alipay::model::{
    AccountKind, AesKeySetting, Application, Authorisation, Busy, Environment, ErrorForm,
    ForeignIsvAppId, IsvAppIdMissing, IsvKind, PersonalAccount, Signing, SigningKeyMode,
    WithoutSigning,
};
use crate::alipay::model::{Call, Isv};

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    app_id: String,
    outcome: OutcomeView,
    error: Option<String>,
    console_selects: Vec<SelectView>,
    console_checks: Vec<CheckView>,
    isv_app_id: String,
    isv_selects: Vec<SelectView>,
    isv_checks: Vec<CheckView>,
    isv_aes_key_sets: u32,
    mobile: String,
    client_version: String,
    base_library_version: String,
    user_selects: Vec<SelectView>,
    user_checks: Vec<CheckView>,
    granted_under: String,
    call_isv_app_id: String,
    faults: Vec<Choice>,
    platform_selects: Vec<SelectView>,
    busy_probability: String,
    platform_checks: Vec<CheckView>,
    refusal_message: String,
    scenarios: Vec<Choice>,
    keys: KeysView,
}

fn console_page(
    state: &SimState,
    app_id: &str,
    error: Option<String>,
) -> Result<ConsolePage, PageError> {
    let app = state.app(app_id)?;
    let outcome = OutcomeView::next(state, app_id)?;
    let config = serde_json::to_value(&app.config).expect("config serialises");
    let text = |section: &str, field: &str| {
        config[section][field]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let flag = |section: &str, field: &str| config[section][field].as_bool().unwrap_or(false);
    let select = |name, label, gloss, options| SelectView {
        name,
        label,
        gloss,
        options,
    };
    let busy_probability = match app.config.platform.busy {
        Busy::Probability(_) => config["platform"]["busy"]["probability"].to_string(),
        _ => "0.5".to_string(),
    };
    let mut faults = vec![Choice {
        value: String::new(),
        label: "none".into(),
        selected: app.config.fault.is_none(),
    }];
    faults.extend(Fault::iter().map(|f| Choice {
        value: f.name().into(),
        label: format!("{}: {}", f.name(), f.description()),
        selected: app.config.fault == Some(f),
    }));
    let Call {
        console,
        platform,
        user,
        action,
        ..
    } = &app.config;
    // The form shows a template ISV's defaults while the app has none.
    let isv = console.isv.clone().unwrap_or_else(|| Isv::template(""));
    Ok(ConsolePage {
        app_id: app.app_id.clone(),
        outcome,
        error,
        console_selects: vec![
            select(
                "account",
                "账号主体 · Account",
                "the API is for enterprise accounts",
                options(console.account),
            ),
            select(
                "phone_application",
                "用户信息申请 · Phone-number application",
                "获取会员手机号",
                options(console.phone_application),
            ),
            select(
                "signing",
                "接口加签方式 · Signing method",
                "sets the Alipay public key",
                options(console.signing),
            ),
            select(
                "signing_key_mode",
                "接口加签方式 · 加签模式 · Key mode",
                "公钥证书: the key comes in certificates",
                options(console.signing_key_mode),
            ),
            select(
                "aes_key",
                "AES 密钥 · AES key",
                "内容加密方式",
                options(console.aes_key),
            ),
        ],
        console_checks: vec![
            CheckView {
                name: "phone_number_package",
                label: "获取会员手机号",
                gloss: "feature package added",
                checked: flag("console", "phone_number_package"),
            },
            CheckView {
                name: "jsapi_base_package",
                label: "JSAPI 基础包",
                gloss: "JSAPI base package added",
                checked: flag("console", "jsapi_base_package"),
            },
            CheckView {
                name: "gateway",
                label: "应用网关",
                gloss: "application gateway set",
                checked: flag("console", "gateway"),
            },
        ],
        isv_app_id: isv.isv_app_id.clone(),
        isv_selects: vec![select(
            "isv_kind",
            "三方应用 · How the third party calls",
            "a plugin's calls need 1.22.0 / 10.1.75",
            options(isv.kind),
        )],
        isv_checks: vec![
            CheckView {
                name: "isv_phone_number_package",
                label: "三方应用 获取会员手机号",
                gloss: "the third party's feature package",
                checked: isv.phone_number_package,
            },
            CheckView {
                name: "isv_jsapi_base_package",
                label: "三方应用 JSAPI 基础包",
                gloss: "the third party's JSAPI base package",
                checked: isv.jsapi_base_package,
            },
        ],
        isv_aes_key_sets: isv.aes_key_sets,
        mobile: text("user", "mobile"),
        client_version: text("user", "client_version"),
        base_library_version: text("user", "base_library_version"),
        user_selects: vec![
            select(
                "environment",
                "运行环境 · Environment",
                "",
                options(user.environment),
            ),
            select(
                "action_kind",
                "用户操作 · What the user does",
                "",
                options(action.kind),
            ),
            select(
                "authorisation",
                "授权 · The user's authorisation",
                "my.getSetting authSetting.phoneNumber",
                options(user.authorisation),
            ),
        ],
        granted_under: user.granted_under.clone().unwrap_or_default(),
        user_checks: vec![CheckView {
            name: "on_home_page",
            label: "首页 · On the home page",
            gloss: "a phone shows no sheet there",
            checked: user.on_home_page,
        }],
        call_isv_app_id: app.config.action.isv_app_id.clone().unwrap_or_default(),
        faults,
        platform_selects: vec![
            select(
                "busy",
                "系统繁忙 · Platform busy (20000)",
                "",
                options(platform.busy),
            ),
            select(
                "error_form",
                "Form of 20000 / 40001 / 40002",
                "undocumented for getPhoneNumber",
                options(platform.error_form),
            ),
            select(
                "without_signing",
                "Without a signing method",
                "newest doc: no sign",
                options(platform.without_signing),
            ),
            select(
                "personal_account",
                "个人主体 · A personal account gets",
                "",
                options(platform.personal_account),
            ),
            select(
                "isv_app_id_missing",
                "ISV call without isvAppId: 40001 sub-code",
                "both 40001 pages list it",
                options(platform.isv_app_id_missing),
            ),
            select(
                "foreign_isv_app_id",
                "isvAppId not the ISV's",
                "inferred",
                options(platform.foreign_isv_app_id),
            ),
        ],
        busy_probability,
        platform_checks: vec![
            CheckView {
                name: "unsigned_without_aes_key",
                label: "No AES key drops sign",
                gloss: "FAQ",
                checked: flag("platform", "unsigned_without_aes_key"),
            },
            CheckView {
                name: "unsigned_without_gateway",
                label: "No gateway drops sign",
                gloss: "FAQ",
                checked: flag("platform", "unsigned_without_gateway"),
            },
            CheckView {
                name: "escape_slashes",
                label: "Escape / as \\/",
                gloss: "as the doc prints 40006",
                checked: platform.escape_slashes,
            },
            CheckView {
                name: "stale_authorisation",
                label: "Stale grants keep failing",
                gloss: "解除授权后重新授权",
                checked: platform.stale_authorisation,
            },
            CheckView {
                name: "rpc_trace_id",
                label: "ariverRpcTraceId",
                gloss: "beside response, undocumented",
                checked: platform.rpc_trace_id,
            },
        ],
        refusal_message: text("platform", "refusal_message"),
        scenarios: catalogue()
            .iter()
            .map(|s| Choice {
                value: s.name.clone(),
                label: format!("{}: {}", s.name, s.title),
                selected: false,
            })
            .collect(),
        keys: app.keys,
    })
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

pub(super) async fn console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    page(console_page(&state, &app_id, None)?)
}

/// The console form, as name/value pairs; an unchecked checkbox is simply absent.
type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

fn config_from_form(fields: &Fields) -> Result<Call, String> {
    let f = |name| field(fields, name).trim().to_string();
    let checked = |name| fields.iter().any(|(k, _)| k == name);
    let optional = |name| Some(f(name)).filter(|v| !v.is_empty());
    let busy = match f("busy").parse::<Busy>() {
        Ok(Busy::Probability(_)) => {
            let p: f64 = f("busy_probability").parse().map_err(|_| {
                format!(
                    "platform.busy.probability: {:?} is not a number",
                    f("busy_probability")
                )
            })?;
            json!({ "probability": p })
        }
        _ => json!(f("busy")),
    };
    let value = json!({
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
    serde_path_to_error::deserialize(value).map_err(|e| format!("{}: {}", e.path(), e.inner()))
}

pub(super) async fn save_console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(fields): Form<Fields>,
) -> PageResult {
    let saved = config_from_form(&fields)
        .map_err(|message| StateError::Invalid {
            field: "form".into(),
            message,
        })
        .and_then(|config| state.set_config(&app_id, config));
    match saved {
        Ok(_) => back_to(format!("/apps/{app_id}")),
        Err(StateError::AppNotFound(id)) => Err(StateError::AppNotFound(id).into()),
        Err(error) => {
            // Show the form again, with the message; nothing was changed.
            let body = console_page(&state, &app_id, Some(error.to_string()))?.render()?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ScenarioForm {
    name: String,
}

pub(super) async fn apply_scenario(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<ScenarioForm>,
) -> PageResult {
    state.apply_scenario(&app_id, &form.name)?;
    back_to(format!("/apps/{app_id}"))
}

pub(super) async fn reset_app(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    state.reset_app(&app_id)?;
    back_to(format!("/apps/{app_id}"))
}

pub(super) async fn rotate_keys(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    let id = app_id.clone();
    blocking::<_, PageError>(move || state.rotate_keys(&id)).await?;
    back_to(format!("/apps/{app_id}"))
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
