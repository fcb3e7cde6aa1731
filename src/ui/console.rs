//! An app's console (`/apps/{app_id}`): every setting of the model, the scenario picker, the
//! keys, and the outcome the next call returns.

use super::*;

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    app_id: String,
    outcome: OutcomeView,
    error: Option<String>,
    console_selects: Vec<SelectView>,
    console_checks: Vec<CheckView>,
    isv_app_id: String,
    mobile: String,
    client_version: String,
    base_library_version: String,
    user_selects: Vec<SelectView>,
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
    let select = |name, label, gloss, current: String, options: &[(&str, &str)]| SelectView {
        name,
        label,
        gloss,
        options: choices(&current, options),
    };
    let (busy, busy_probability) = match &config["platform"]["busy"] {
        Value::String(kind) => (kind.clone(), "0.5".to_string()),
        other => ("probability".to_string(), other["probability"].to_string()),
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
    Ok(ConsolePage {
        app_id: app.app_id.clone(),
        outcome,
        error,
        console_selects: vec![
            select(
                "account",
                "账号主体 · Account",
                "the API is for enterprise accounts",
                text("console", "account"),
                &[
                    ("enterprise", "企业 · enterprise"),
                    ("personal", "个人 · personal"),
                ],
            ),
            select(
                "phone_application",
                "用户信息申请 · Phone-number application",
                "获取会员手机号",
                text("console", "phone_application"),
                &[
                    ("approved", "已通过 · approved"),
                    ("pending", "审核中 · pending"),
                    ("rejected", "已驳回 · rejected"),
                    ("none", "未申请 · none"),
                ],
            ),
            select(
                "signing",
                "接口加签方式 · Signing method",
                "sets the Alipay public key",
                text("console", "signing"),
                &[
                    ("RSA2", "RSA2 (SHA-256)"),
                    ("RSA", "RSA (SHA-1)"),
                    ("none", "未设置 · none"),
                ],
            ),
            select(
                "aes_key",
                "AES 密钥 · AES key",
                "内容加密方式",
                text("console", "aes_key"),
                &[
                    ("set", "已设置 · set"),
                    ("not-set", "未设置 · not set"),
                    ("broken", "异常 · broken"),
                ],
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
        isv_app_id: app
            .config
            .console
            .isv
            .as_ref()
            .map(|i| i.isv_app_id.clone())
            .unwrap_or_default(),
        mobile: text("user", "mobile"),
        client_version: text("user", "client_version"),
        base_library_version: text("user", "base_library_version"),
        user_selects: vec![
            select(
                "environment",
                "运行环境 · Environment",
                "",
                text("user", "environment"),
                &[
                    ("device", "真机 · phone"),
                    ("ide-simulator", "IDE 模拟器 · IDE simulator"),
                ],
            ),
            select(
                "action_kind",
                "用户操作 · What the user does",
                "",
                text("action", "kind"),
                &[
                    ("consent", "允许 · consents"),
                    ("refuse", "拒绝 · refuses"),
                    ("no-consent", "no button: my.getPhoneNumber called directly"),
                ],
            ),
        ],
        call_isv_app_id: app.config.action.isv_app_id.clone().unwrap_or_default(),
        faults,
        platform_selects: vec![
            select(
                "busy",
                "系统繁忙 · Platform busy (20000)",
                "",
                busy,
                &[
                    ("never", "never"),
                    ("always", "always"),
                    ("probability", "with a probability"),
                ],
            ),
            select(
                "error_form",
                "Form of 20000 / 40001",
                "undocumented for getPhoneNumber",
                text("platform", "error_form"),
                &[("plain", "plain (default)"), ("encrypted", "encrypted")],
            ),
            select(
                "without_signing",
                "Without a signing method",
                "",
                text("platform", "without_signing"),
                &[
                    (
                        "missing-default-signature-type",
                        "40001 missing-default-signature-type",
                    ),
                    ("drop-sign", "normal answer without sign"),
                ],
            ),
            select(
                "version_thresholds",
                "Minimum versions",
                "",
                text("platform", "version_thresholds"),
                &[
                    ("current", "current docs: 1.16.4 / 10.1.35"),
                    ("older-docs", "older docs: 1.22.0 / 10.1.75"),
                ],
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

fn config_from_form(fields: &Fields) -> Result<crate::Call, String> {
    let f = |name| field(fields, name).trim().to_string();
    let checked = |name| fields.iter().any(|(k, _)| k == name);
    let optional = |name| Some(f(name)).filter(|v| !v.is_empty());
    let busy = match f("busy").as_str() {
        "probability" => {
            let p: f64 = f("busy_probability").parse().map_err(|_| {
                format!(
                    "platform.busy.probability: {:?} is not a number",
                    f("busy_probability")
                )
            })?;
            json!({ "probability": p })
        }
        other => json!(other),
    };
    let value = json!({
        "console": {
            "account": f("account"),
            "phone_number_package": checked("phone_number_package"),
            "phone_application": f("phone_application"),
            "jsapi_base_package": checked("jsapi_base_package"),
            "signing": f("signing"),
            "aes_key": f("aes_key"),
            "gateway": checked("gateway"),
            "isv": optional("isv_app_id").map(|id| json!({ "isv_app_id": id })),
        },
        "platform": {
            "busy": busy,
            "error_form": f("error_form"),
            "without_signing": f("without_signing"),
            "unsigned_without_aes_key": checked("unsigned_without_aes_key"),
            "unsigned_without_gateway": checked("unsigned_without_gateway"),
            "version_thresholds": f("version_thresholds"),
            "refusal_message": field(fields, "refusal_message"),
        },
        "user": {
            "mobile": f("mobile"),
            "client_version": f("client_version"),
            "base_library_version": f("base_library_version"),
            "environment": f("environment"),
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
