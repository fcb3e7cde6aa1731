//! A WeChat app's pages: its console (`/wechat/apps/{appid}`: the console, the user, the
//! switches, a catalogue scenario, the clock and the app's WeChat journal), its device
//! (`/wechat/apps/{appid}/device`: `wx.login`, `wx.checkSession` and the phone button with
//! WeChat's half-screen sheet) and `/sdk/wx.js`, the twin of `/sdk/my.js` for previews of a
//! WeChat mini program. Every action is a form post that works without JavaScript; with it,
//! the device page calls the JSON API in place.

use super::form::TextView;
use super::form::{field, CheckView, FieldError, Fields, FormState, SelectView, SummaryItem};
use super::*;
use crate::sim::state::{NewWechatApp, WechatAppView, WechatJournalEntry};
use crate::wechat::model::{Button, Choice as SheetChoice, Console, Subject, Switches, Tap, User};
use crate::wechat::scenario::PayloadFault;

/// The WeChat pages' routes.
pub(super) fn routes() -> Router<SimState> {
    Router::new()
        .route("/wechat/apps", get(to_dashboard).post(create_app))
        .route("/wechat/apps/{app_id}", get(console))
        .route(
            "/wechat/apps/{app_id}/console",
            get(to_console).post(save_console),
        )
        .route(
            "/wechat/apps/{app_id}/scenario",
            get(to_console).post(apply_scenario),
        )
        .route(
            "/wechat/apps/{app_id}/clock",
            get(to_console).post(advance_clock),
        )
        .route("/wechat/apps/{app_id}/device", get(device))
        .route(
            "/wechat/apps/{app_id}/device/login",
            get(to_device).post(device_login),
        )
        .route(
            "/wechat/apps/{app_id}/device/check-session",
            get(to_device).post(device_check_session),
        )
        .route(
            "/wechat/apps/{app_id}/device/tap",
            get(to_device).post(device_tap),
        )
        .route("/sdk/wx.js", get(wx_js))
}

async fn to_console(Path(app_id): Path<String>) -> Redirect {
    to_wechat_page(&app_id, "")
}

async fn to_device(Path(app_id): Path<String>) -> Redirect {
    to_wechat_page(&app_id, "/device")
}

/// `/wechat/apps/{app_id}{page}`, for an id an app can have (anything else: `/`).
fn to_wechat_page(app_id: &str, page: &str) -> Redirect {
    let possible = !app_id.is_empty()
        && app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match possible {
        true => Redirect::to(&format!("/wechat/apps/{app_id}{page}")),
        false => Redirect::to("/"),
    }
}

// ---------------------------------------------------------------------------------------------
// The dashboard's part

/// A WeChat app as the dashboard lists it.
pub(super) struct WechatRow {
    pub app_id: String,
    pub name: Option<String>,
    pub created_at: String,
}

pub(super) fn dashboard_rows(state: &SimState) -> Vec<WechatRow> {
    state
        .list_wechat_apps()
        .into_iter()
        .map(|app| WechatRow {
            app_id: app.app_id,
            name: app.name,
            created_at: app.created_at,
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    name: String,
}

async fn create_app(State(state): State<SimState>, Form(form): Form<CreateForm>) -> PageResult {
    let new = NewWechatApp {
        name: Some(form.name).filter(|name| !name.trim().is_empty()),
        ..Default::default()
    };
    let app = blocking::<_, PageError>(move || state.create_wechat_app(new)).await?;
    back_to(format!("/wechat/apps/{}", app.app_id))
}

// ---------------------------------------------------------------------------------------------
// The console

/// Every field of the console form: its name (the setting's own) and its section.
const FIELDS: &[(&str, &str)] = &[
    ("name", ""),
    ("subject", "console"),
    ("verified", "console"),
    ("quota_left", "console"),
    ("privacy_declares_phone", "console"),
    ("ip_allow_list", "console"),
    ("secret_frozen", "console"),
    ("phone_permission_revoked", "console"),
    ("open_platform_bound", "console"),
    ("phone", "user"),
    ("country_code", "user"),
    ("risky", "user"),
    ("rotation_min_period", "switches"),
    ("session_key_ttl", "switches"),
    ("token_expires_in", "switches"),
    ("token_overlap", "switches"),
    ("code_ttl", "switches"),
    ("country_code_as_number", "switches"),
    ("unknown_token_40014", "switches"),
    ("login_rate_per_minute", "switches"),
    ("system_busy", "switches"),
    ("fault", ""),
];

/// The form field of a setting's path (`console.quota_left`, `switches.code_ttl`, `name`).
fn field_of_path(path: &str) -> Option<&'static str> {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    FIELDS.iter().find(|(n, _)| *n == last).map(|(n, _)| *n)
}

/// The saved settings as the console form sends them.
fn form_of(app: &WechatAppView) -> Fields {
    let mut fields = Vec::new();
    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            fields.push((name.to_string(), value));
        }
    };
    let on = |b: bool| b.then(|| "on".to_string());
    let c = &app.console;
    let subject: &'static str = c.subject.into();
    put("name", Some(app.name.clone().unwrap_or_default()));
    put("subject", Some(subject.to_string()));
    put("verified", on(c.verified));
    put("quota_left", Some(c.quota_left.to_string()));
    put("privacy_declares_phone", on(c.privacy_declares_phone));
    put(
        "ip_allow_list",
        Some(
            c.ip_allow_list
                .as_ref()
                .map(|l| l.join(", "))
                .unwrap_or_default(),
        ),
    );
    put("secret_frozen", on(c.secret_frozen));
    put("phone_permission_revoked", on(c.phone_permission_revoked));
    put("open_platform_bound", on(c.open_platform_bound));
    let u = &app.user;
    put("phone", Some(u.phone.clone()));
    put("country_code", Some(u.country_code.clone()));
    put("risky", on(u.risky));
    let s = &app.switches;
    let optional = |v: Option<u64>| Some(v.map(|v| v.to_string()).unwrap_or_default());
    put("rotation_min_period", optional(s.rotation_min_period));
    put("session_key_ttl", optional(s.session_key_ttl));
    put("token_expires_in", Some(s.token_expires_in.to_string()));
    put("token_overlap", Some(s.token_overlap.to_string()));
    put("code_ttl", Some(s.code_ttl.to_string()));
    put("country_code_as_number", on(s.country_code_as_number));
    put("unknown_token_40014", on(s.unknown_token_40014));
    put(
        "login_rate_per_minute",
        Some(s.login_rate_per_minute.to_string()),
    );
    put("system_busy", on(s.system_busy));
    let fault: Option<&'static str> = app.fault.map(Into::into);
    put("fault", Some(fault.unwrap_or_default().to_string()));
    fields
}

/// A number as typed: a JSON number when it is one, else the text (for serde to refuse, naming
/// the setting); empty is `null` where `optional`.
fn number(text: &str, optional: bool) -> Value {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(n) => json!(n),
        Err(_) if optional && text.is_empty() => Value::Null,
        Err(_) => json!(text),
    }
}

/// Reads `section` as a `T`, each bad setting named (then set to its default, and read again).
fn check_section<T: serde::de::DeserializeOwned + serde::Serialize + Default>(
    name: &str,
    value: &mut Value,
    errors: &mut Vec<FieldError>,
) {
    let defaults = serde_json::to_value(T::default()).expect("settings serialise");
    for _ in 0..FIELDS.len() {
        match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(_) => return,
            Err(error) => {
                let inner = error.path().to_string();
                let key = inner.split(['.', '[']).next().unwrap_or("").to_string();
                let path = format!("{name}.{inner}");
                errors.push(FieldError {
                    field: field_of_path(&path),
                    message: error.inner().to_string(),
                    path,
                });
                match (defaults.get(&key), value.get_mut(&key)) {
                    (Some(default), Some(slot)) if !key.is_empty() => *slot = default.clone(),
                    _ => return,
                }
            }
        }
    }
}

/// The merge patch the console form describes, or what is wrong with each of its fields.
fn patch_of_form(fields: &Fields) -> Result<Value, Vec<FieldError>> {
    let f = |name| field(fields, name).trim().to_string();
    let checked = |name| fields.iter().any(|(k, _)| k == name);
    let ips: Vec<String> = f("ip_allow_list")
        .split([',', ' ', '\n', '\r', '\t'])
        .filter(|ip| !ip.is_empty())
        .map(str::to_string)
        .collect();
    let mut console = json!({
        "subject": f("subject"),
        "verified": checked("verified"),
        "quota_left": number(&f("quota_left"), false),
        "privacy_declares_phone": checked("privacy_declares_phone"),
        "ip_allow_list": (!ips.is_empty()).then_some(ips),
        "secret_frozen": checked("secret_frozen"),
        "phone_permission_revoked": checked("phone_permission_revoked"),
        "open_platform_bound": checked("open_platform_bound"),
    });
    let mut user = json!({
        "phone": f("phone"),
        "country_code": f("country_code"),
        "risky": checked("risky"),
    });
    let mut switches = json!({
        "rotation_min_period": number(&f("rotation_min_period"), true),
        "session_key_ttl": number(&f("session_key_ttl"), true),
        "token_expires_in": number(&f("token_expires_in"), false),
        "token_overlap": number(&f("token_overlap"), false),
        "code_ttl": number(&f("code_ttl"), false),
        "country_code_as_number": checked("country_code_as_number"),
        "unknown_token_40014": checked("unknown_token_40014"),
        "login_rate_per_minute": number(&f("login_rate_per_minute"), false),
        "system_busy": checked("system_busy"),
    });
    let mut errors = Vec::new();
    check_section::<Console>("console", &mut console, &mut errors);
    check_section::<User>("user", &mut user, &mut errors);
    check_section::<Switches>("switches", &mut switches, &mut errors);
    let fault = Some(f("fault")).filter(|v| !v.is_empty());
    if let Some(fault) = &fault {
        if serde_json::from_value::<PayloadFault>(json!(fault)).is_err() {
            errors.push(FieldError {
                field: Some("fault"),
                path: "fault".into(),
                message: format!("{fault:?} is not a payload fault"),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // A merge patch: `null` removes, so the optional settings are sent whole in their section.
    Ok(json!({
        "name": Some(f("name")).filter(|n| !n.is_empty()),
        "console": console,
        "user": user,
        "switches": switches,
        "fault": fault,
    }))
}

/// Why the state refused a patch, at its field where it names one.
fn error_of_state(error: StateError) -> Result<FieldError, PageError> {
    match error {
        StateError::Invalid { field, message } => Ok(FieldError {
            field: field_of_path(&field),
            path: field,
            message,
        }),
        other => Err(other.into()),
    }
}

struct JournalRow {
    id: u64,
    at: String,
    call: String,
    session: String,
    rule: String,
    verdict: String,
    errcode: String,
    errmsg: String,
}

impl JournalRow {
    fn of(entry: &WechatJournalEntry) -> Self {
        let answer = &entry.answer;
        let errcode = match (&answer["errcode"], &answer["errno"]) {
            (Value::Number(code), _) => code.to_string(),
            (_, Value::Number(errno)) => format!("errno {errno}"),
            _ => String::new(),
        };
        let errmsg = answer["errmsg"]
            .as_str()
            .or(answer["errMsg"].as_str())
            .unwrap_or_default()
            .to_string();
        JournalRow {
            id: entry.id,
            at: entry.time.clone(),
            call: entry.call.clone(),
            session: entry
                .session
                .map_or_else(|| "–".to_string(), |s| format!("#{s}")),
            rule: entry.rule.to_string(),
            verdict: entry.verdict.to_string(),
            errcode,
            errmsg,
        }
    }
}

#[derive(Template)]
#[template(path = "wechat_console.html")]
struct ConsolePage {
    app: WechatAppView,
    notice: Option<String>,
    summary: Vec<SummaryItem>,
    name_texts: Vec<TextView>,
    console_selects: Vec<SelectView>,
    console_checks: Vec<CheckView>,
    console_texts: Vec<TextView>,
    user_texts: Vec<TextView>,
    user_checks: Vec<CheckView>,
    switch_texts: Vec<TextView>,
    switch_checks: Vec<CheckView>,
    fault_selects: Vec<SelectView>,
    scenarios: Vec<Choice>,
    scenario_note: Option<&'static str>,
    clock_now: u64,
    clock_utc: String,
    clock_offset: u64,
    clock_texts: Vec<TextView>,
    journal: Vec<JournalRow>,
}

fn label_of_subject(subject: Subject) -> &'static str {
    match subject {
        Subject::Enterprise => "企业 · Enterprise",
        Subject::Government => "政府 · Government",
        Subject::Personal => "个人 · Personal (no phone numbers)",
        Subject::Overseas => "海外 · Overseas (no phone numbers)",
    }
}

fn label_of_fault(fault: PayloadFault) -> &'static str {
    match fault {
        PayloadFault::PlusToSpace => "plus-to-space: + arrives as a space",
        PayloadFault::NonstandardPadding => "nonstandard-padding: 30 bytes of 0x1e",
        PayloadFault::WatermarkOtherApp => "watermark-other-app: another app's appid",
    }
}

/// The console page of `app`, its form showing `form`, the clock form `clock`.
fn console_page(
    state: &SimState,
    app: WechatAppView,
    form: &FormState,
    clock: FormState,
    notice: Option<String>,
) -> ConsolePage {
    let text = |name, label, gloss, attributes| form.text(name, label, gloss, attributes);
    let check = |name, label, gloss| form.check(name, label, gloss);
    let numeric = r#"inputmode="numeric""#;
    let subjects = Subject::iter()
        .map(|s| {
            let value: &'static str = s.into();
            (value.to_string(), label_of_subject(s).to_string())
        })
        .collect();
    let mut faults = vec![(String::new(), "none".to_string())];
    faults.extend(PayloadFault::iter().map(|f| {
        let value: &'static str = f.into();
        (value.to_string(), label_of_fault(f).to_string())
    }));
    let applied = app.scenario.clone();
    let defaults = app.console == Console::default()
        && app.user == User::default()
        && app.switches == Switches::default()
        && app.fault.is_none();
    let scenario_note = match &applied {
        Some(_) => None,
        None if defaults => Some("(none: the defaults)"),
        None => Some("(custom settings: no catalogue scenario)"),
    };
    let scenarios = crate::wechat::scenario::catalogue()
        .iter()
        .map(|s| Choice {
            value: s.name.clone(),
            label: format!("{}: {}", s.name, s.title),
            selected: applied.as_deref() == Some(s.name.as_str()),
        })
        .collect();
    let now = state.clock();
    let clock_utc = time::OffsetDateTime::from_unix_timestamp(now.now as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let clock_texts = vec![clock.text(
        "seconds",
        "Advance by (seconds)",
        "1 to 315360000; 300 expires a code, 7200 a token",
        r#"inputmode="numeric""#,
    )];
    let journal = state
        .wechat_journal(Some(&app.app_id), 50)
        .iter()
        .map(JournalRow::of)
        .collect();
    let mut page = ConsolePage {
        notice,
        summary: Vec::new(),
        name_texts: vec![text(
            "name",
            "Name",
            "for you; empty: none",
            r#"maxlength="64""#,
        )],
        console_selects: vec![form.select(
            "subject",
            "主体类型 · Subject",
            "only non-personal, mainland subjects get numbers",
            subjects,
        )],
        console_checks: vec![
            check("verified", "微信认证 · Verified", "else fail no permission"),
            check(
                "privacy_declares_phone",
                "《用户隐私保护指引》 declares the phone number",
                "else errno 112",
            ),
            check("secret_frozen", "AppSecret 冻结 · Secret frozen", "40243"),
            check(
                "phone_permission_revoked",
                "Phone-number permission withdrawn",
                "48001; the button: fail no permission",
            ),
            check(
                "open_platform_bound",
                "绑定开放平台 · Open Platform bound",
                "jscode2session adds unionid",
            ),
        ],
        console_texts: vec![
            text(
                "quota_left",
                "Quota left · 剩余次数",
                "paid phone-number calls; 0: errno 1400001",
                numeric,
            ),
            text(
                "ip_allow_list",
                "IP 白名单 · IP allow-list",
                "optional, comma-separated; empty: off",
                r#"placeholder="127.0.0.1, ::1""#,
            ),
        ],
        user_texts: vec![
            text(
                "phone",
                "绑定手机号 · Phone",
                "without the country code",
                "",
            ),
            text("country_code", "国家码 · Country code", "86", ""),
        ],
        user_checks: vec![check(
            "risky",
            "风险用户 · Risky user",
            "jscode2session answers 40226",
        )],
        switch_texts: vec![
            text(
                "rotation_min_period",
                "Session-key rotation min period (s)",
                "0: every wx.login rotates; empty: never",
                numeric,
            ),
            text(
                "session_key_ttl",
                "Session-key lifetime (s)",
                "empty: never expires",
                numeric,
            ),
            text(
                "token_expires_in",
                "access_token expires_in (s)",
                "7200",
                numeric,
            ),
            text(
                "token_overlap",
                "Superseded token overlap (s)",
                "300",
                numeric,
            ),
            text("code_ttl", "Code lifetime (s)", "300", numeric),
            text(
                "login_rate_per_minute",
                "jscode2session per minute",
                "then 45011",
                numeric,
            ),
        ],
        switch_checks: vec![
            check(
                "country_code_as_number",
                "countryCode as a number",
                "86, as the doc example",
            ),
            check(
                "unknown_token_40014",
                "Unknown token: 40014",
                "rather than 40001",
            ),
            check(
                "system_busy",
                "系统繁忙 · System busy",
                "every endpoint: -1",
            ),
        ],
        fault_selects: vec![form.select(
            "fault",
            "故障 · Payload fault",
            "on each tap's legacy payload, on its way",
            faults,
        )],
        scenarios,
        scenario_note,
        clock_now: now.now,
        clock_utc,
        clock_offset: now.offset,
        clock_texts,
        journal,
        app,
    };
    page.summary = form.summary();
    page
}

#[derive(Deserialize)]
pub(super) struct NoticeQuery {
    notice: Option<String>,
}

async fn console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> PageResult {
    let app = state.wechat_app(&app_id)?;
    let notice = match query.notice.as_deref() {
        Some("saved") => Some("Saved.".to_string()),
        Some("scenario-applied") => Some(format!(
            "Scenario {} applied: the console, the user and the switches are its.",
            app.scenario.as_deref().unwrap_or("?")
        )),
        Some("clock") => Some("The clock moved forward.".to_string()),
        _ => None,
    };
    let form = FormState::new(form_of(&app), Vec::new());
    let clock = FormState::new(vec![("seconds".into(), "300".into())], Vec::new());
    page(console_page(&state, app, &form, clock, notice))
}

async fn save_console(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(fields): Form<Fields>,
) -> PageResult {
    let errors = match patch_of_form(&fields) {
        Ok(patch) => match state.patch_wechat_app(&app_id, patch) {
            Ok(_) => return back_to(format!("/wechat/apps/{app_id}?notice=saved")),
            Err(error) => vec![error_of_state(error)?],
        },
        Err(errors) => errors,
    };
    // The form again, as submitted, its bad fields marked; nothing was changed.
    let app = state.wechat_app(&app_id)?;
    let form = FormState::new(fields, errors);
    let clock = FormState::new(vec![("seconds".into(), "300".into())], Vec::new());
    let body = console_page(&state, app, &form, clock, None).render()?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
}

#[derive(Deserialize)]
pub(super) struct ScenarioForm {
    #[serde(default)]
    name: String,
}

async fn apply_scenario(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<ScenarioForm>,
) -> PageResult {
    if form.name.is_empty() {
        return back_to(format!("/wechat/apps/{app_id}"));
    }
    state.apply_wechat_scenario(&app_id, &form.name)?;
    back_to(format!("/wechat/apps/{app_id}?notice=scenario-applied"))
}

async fn advance_clock(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(fields): Form<Fields>,
) -> PageResult {
    let app = state.wechat_app(&app_id)?;
    let text = field(&fields, "seconds").trim().to_string();
    let result = match text.parse::<u64>() {
        Ok(seconds) => state.advance_clock(seconds).map(|_| ()),
        Err(_) => Err(StateError::Invalid {
            field: "seconds".into(),
            message: format!("{text:?} is not a whole number of seconds"),
        }),
    };
    let message = match result {
        Ok(()) => return back_to(format!("/wechat/apps/{app_id}?notice=clock")),
        Err(StateError::Invalid { message, .. }) => message,
        Err(other) => return Err(other.into()),
    };
    let error = FieldError {
        field: Some("seconds"),
        path: "seconds".into(),
        message,
    };
    let form = FormState::new(form_of(&app), Vec::new());
    let clock = FormState::new(fields, vec![error]);
    let body = console_page(&state, app, &form, clock, None).render()?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
}

// ---------------------------------------------------------------------------------------------
// The device

/// The tap's options, as the device page's form sends them (the sheet's form carries them on).
#[derive(Deserialize, Default)]
pub(super) struct DeviceQuery {
    /// A journal entry to show: the page's last call.
    entry: Option<u64>,
    /// `open`: the sheet is shown (the phone button without JavaScript).
    sheet: Option<String>,
    button: Option<Button>,
    base_library: Option<String>,
    devtools: Option<String>,
    login_in_callback: Option<String>,
}

/// The last call, as the device page shows it.
struct ResultView {
    /// `bindgetphonenumber(e)`, `wx.login success(res)`, ...
    handler: String,
    /// `e.detail` (or the callback's result), pretty-printed; `null`: no event fired.
    detail: String,
    fired: bool,
    rule: String,
    verdict: String,
    reason: String,
    plaintext: Option<String>,
}

impl ResultView {
    fn of(entry: &WechatJournalEntry) -> Self {
        let handler = match entry.call.as_str() {
            "wx.login" => "wx.login success(res)".to_string(),
            "wx.checkSession" => {
                if entry.answer["errMsg"] == "checkSession:ok" {
                    "wx.checkSession success(res)".to_string()
                } else {
                    "wx.checkSession fail(err)".to_string()
                }
            }
            _ => match entry.request["button"].as_str() {
                Some("realtime") => "bindgetrealtimephonenumber(e): e.detail".to_string(),
                _ => "bindgetphonenumber(e): e.detail".to_string(),
            },
        };
        ResultView {
            handler,
            fired: !entry.answer.is_null(),
            detail: pretty(&entry.answer),
            rule: entry.rule.to_string(),
            verdict: entry.verdict.to_string(),
            reason: entry.reason.clone(),
            plaintext: entry.plaintext.as_ref().map(pretty),
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("values serialise")
}

#[derive(Template)]
#[template(path = "wechat_device.html")]
struct DevicePage {
    app: WechatAppView,
    masked: String,
    sheet_open: bool,
    realtime: bool,
    base_library: String,
    base_library_error: Option<String>,
    devtools: bool,
    login_in_callback: bool,
    result: Option<ResultView>,
    has_plaintext: bool,
}

/// `12066600001` → `120****0001`, as WeChat's sheet shows a number.
pub(super) fn masked(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return phone.to_string();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

fn device_page(
    state: &SimState,
    app_id: &str,
    query: &DeviceQuery,
    base_library_error: Option<String>,
) -> Result<DevicePage, PageError> {
    let app = state.wechat_app(app_id)?;
    let result = query.entry.and_then(|id| {
        state
            .wechat_journal(Some(app_id), 1000)
            .into_iter()
            .find(|e| e.id == id)
            .map(|e| ResultView::of(&e))
    });
    let defaults = Tap::default();
    Ok(DevicePage {
        masked: masked(&app.user.phone),
        app,
        sheet_open: query.sheet.as_deref() == Some("open"),
        realtime: query.button == Some(Button::Realtime),
        base_library: query.base_library.clone().unwrap_or(defaults.base_library),
        base_library_error,
        devtools: query.devtools.is_some(),
        login_in_callback: query.login_in_callback.is_some(),
        has_plaintext: result.as_ref().is_some_and(|r| r.plaintext.is_some()),
        result,
    })
}

async fn device(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Query(query): Query<DeviceQuery>,
) -> PageResult {
    page(device_page(&state, &app_id, &query, None)?)
}

/// The newest journal entry of the app: the call just made.
fn newest_entry(state: &SimState, app_id: &str) -> Option<u64> {
    state.wechat_journal(Some(app_id), 1).first().map(|e| e.id)
}

fn to_entry(state: &SimState, app_id: &str, options: &str) -> PageResult {
    let entry = newest_entry(state, app_id).map_or_else(String::new, |id| format!("entry={id}"));
    let joint = if options.is_empty() || entry.is_empty() {
        ""
    } else {
        "&"
    };
    back_to(format!(
        "/wechat/apps/{app_id}/device?{entry}{joint}{options}#result"
    ))
}

async fn device_login(State(state): State<SimState>, Path(app_id): Path<String>) -> PageResult {
    state.wechat_login(&app_id)?;
    to_entry(&state, &app_id, "")
}

async fn device_check_session(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
) -> PageResult {
    state.wechat_check_session(&app_id)?;
    to_entry(&state, &app_id, "")
}

/// What the sheet's form sends: the tap's options, the privacy answer and 允许 / 拒绝.
#[derive(Deserialize)]
pub(super) struct TapForm {
    #[serde(default)]
    button: Button,
    choice: SheetChoice,
    #[serde(default)]
    base_library: String,
    devtools: Option<String>,
    login_in_callback: Option<String>,
    /// `agree` (default) or `disagree`.
    privacy: Option<String>,
}

async fn device_tap(
    State(state): State<SimState>,
    Path(app_id): Path<String>,
    Form(form): Form<TapForm>,
) -> PageResult {
    let base_library = match form.base_library.trim() {
        "" => Tap::default().base_library,
        text => text.to_string(),
    };
    let tap = Tap {
        button: form.button,
        choice: form.choice,
        base_library: base_library.clone(),
        devtools: form.devtools.is_some(),
        privacy_disagree: form.privacy.as_deref() == Some("disagree"),
        login_in_callback: form.login_in_callback.is_some(),
    };
    // The options stay as chosen for the next tap.
    let button: &'static str = form.button.into();
    let mut options = format!(
        "button={button}&base_library={}",
        base_library.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "")
    );
    if tap.devtools {
        options.push_str("&devtools=on");
    }
    if tap.login_in_callback {
        options.push_str("&login_in_callback=on");
    }
    let worker = state.clone();
    let id = app_id.clone();
    match blocking::<_, PageError>(move || worker.wechat_tap(&id, tap)).await {
        Ok(_) => to_entry(&state, &app_id, &options),
        Err(PageError(StatusCode::UNPROCESSABLE_ENTITY, message)) => {
            let query = DeviceQuery {
                button: Some(form.button),
                base_library: Some(base_library),
                devtools: form.devtools,
                login_in_callback: form.login_in_callback,
                ..Default::default()
            };
            let body = device_page(&state, &app_id, &query, Some(message))?.render()?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(body)).into_response())
        }
        Err(other) => Err(other),
    }
}

// ---------------------------------------------------------------------------------------------
// /sdk/wx.js

const WX_JS: &str = concat!(
    include_str!("../../templates/dialog.js"),
    "\n",
    include_str!("../../templates/wx.js"),
    "})();\n"
);

#[derive(Deserialize)]
pub(super) struct SdkQuery {
    app_id: Option<String>,
}

/// The script, with the masked number of the app its `?app_id=` names for the sheet to show
/// (as `/api/v1/apps/{app_id}/consent-sheet` gives my.js its masked number; nothing else).
async fn wx_js(State(state): State<SimState>, Query(query): Query<SdkQuery>) -> Response {
    let masked = query
        .app_id
        .and_then(|id| state.wechat_app(&id).ok())
        .map(|app| masked(&app.user.phone));
    let prelude = format!(
        "(function () {{\nvar wxSimSheet = {};\n",
        json!({ "masked": masked })
    );
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        prelude + WX_JS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SimState {
        SimState::open(crate::sim::state::StateConfig {
            seed: Some(1),
            data_dir: None,
        })
        .unwrap()
    }

    #[test]
    fn the_form_of_the_settings_reads_back_as_them() {
        let state = state();
        let app = state.create_wechat_app(NewWechatApp::default()).unwrap();
        let patch = patch_of_form(&form_of(&app)).unwrap();
        let again = state.patch_wechat_app(&app.app_id, patch).unwrap();
        assert_eq!(
            (again.console, again.user, again.switches),
            (app.console.clone(), app.user.clone(), app.switches.clone())
        );
        for (name, _) in form_of(&app) {
            assert!(field_of_path(&name).is_some(), "{name}");
        }
    }

    #[test]
    fn a_bad_number_is_named_at_its_field() {
        let mut fields = form_of(&state().create_wechat_app(NewWechatApp::default()).unwrap());
        fields.retain(|(k, _)| k != "quota_left" && k != "code_ttl");
        fields.push(("quota_left".into(), "lots".into()));
        fields.push(("code_ttl".into(), "-1".into()));
        let errors = patch_of_form(&fields).unwrap_err();
        let named: Vec<_> = errors.iter().map(|e| (e.field, e.path.as_str())).collect();
        assert_eq!(
            named,
            [
                (Some("quota_left"), "console.quota_left"),
                (Some("code_ttl"), "switches.code_ttl")
            ]
        );
        assert!(errors[0].message.contains("lots"), "{}", errors[0].message);
        assert_eq!(masked("12066600001"), "120****0001");
    }
}
