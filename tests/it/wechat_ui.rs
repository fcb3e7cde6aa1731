//! The WeChat pages of the web UI, in-process (axum's `oneshot`), without JavaScript: the
//! dashboard creates a WeChat app, its console saves through the state (a refused value is shown
//! at its field), the scenario and clock forms, the device's forms tap and show what the page
//! received, every form's action URL loads a page, and `/sdk/wx.js` names the app's number.

use alipay_sim::state::SimState;
use axum::http::StatusCode;

use crate::ui::send;

/// A state with one WeChat app, made by the dashboard's form.
async fn wechat_app() -> (SimState, String) {
    let (state, _) = crate::common::in_memory_state(7);
    let (status, _, location) = send(&state, "POST", "/wechat/apps", Some("name=Shop")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let app = location.strip_prefix("/wechat/apps/").unwrap().to_string();
    assert!(app.starts_with("wx"), "{location}");
    (state, app)
}

/// The console form as the page sends it with the saved settings, one field changed.
const FORM: &str =
    "name=Shop&subject=enterprise&verified=on&quota_left=1000&privacy_declares_phone=on\
&ip_allow_list=&phone=12066600001&country_code=86&rotation_min_period=0&session_key_ttl=\
&token_expires_in=7200&token_overlap=300&code_ttl=300&login_rate_per_minute=100&fault=";

#[tokio::test]
async fn the_dashboard_lists_wechat_apps_and_their_console_shows_the_keys() {
    let (state, app) = wechat_app().await;
    let (_, dashboard, _) = send(&state, "GET", "/", None).await;
    assert!(dashboard.contains(&format!("href=\"/wechat/apps/{app}\"")));
    assert!(dashboard.contains("Shop"));
    let view = state.wechat_app(&app).unwrap();
    let (status, console, _) = send(&state, "GET", &format!("/wechat/apps/{app}"), None).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [&view.appid, &view.secret, &view.openid] {
        assert!(console.contains(shown.as_str()), "{shown}");
    }
    // A wx.login makes a session key, which the console then shows.
    state.wechat_login(&app).unwrap();
    let key = state.wechat_app(&app).unwrap().session_key.unwrap();
    let (_, console, _) = send(&state, "GET", &format!("/wechat/apps/{app}"), None).await;
    assert!(console.contains(&key));
    assert!(
        console.contains("<code>wx.login</code>"),
        "the journal lists it"
    );
}

#[tokio::test]
async fn the_console_saves_every_setting_and_refuses_a_bad_one_at_its_field() {
    let (state, app) = wechat_app().await;
    let changed = FORM
        .replace("subject=enterprise", "subject=personal")
        .replace("verified=on&", "")
        .replace("quota_left=1000", "quota_left=3")
        .replace("ip_allow_list=", "ip_allow_list=127.0.0.1%2C+%3A%3A1")
        .replace("phone=12066600001", "phone=12066600002")
        .replace("session_key_ttl=", "session_key_ttl=600")
        .replace("rotation_min_period=0", "rotation_min_period=")
        .replace(
            "fault=",
            "fault=plus-to-space&risky=on&system_busy=on&secret_frozen=on",
        );
    let (status, _, location) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/console"),
        Some(&changed),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/wechat/apps/{app}?notice=saved"));
    let view = state.wechat_app(&app).unwrap();
    let console = serde_json::to_value(&view.console).unwrap();
    assert_eq!(console["subject"], "personal");
    assert_eq!(console["verified"], false);
    assert_eq!(console["quota_left"], 3);
    assert_eq!(console["secret_frozen"], true);
    assert_eq!(
        console["ip_allow_list"],
        serde_json::json!(["127.0.0.1", "::1"])
    );
    assert_eq!(view.user.phone, "12066600002");
    assert!(view.user.risky);
    assert_eq!(view.switches.session_key_ttl, Some(600));
    assert_eq!(view.switches.rotation_min_period, None);
    assert!(view.switches.system_busy);
    assert!(view.fault.is_some());

    // A bad value: 422, the form as typed, the message at the field, nothing saved.
    let bad = FORM.replace("code_ttl=300", "code_ttl=soon");
    let (status, page, _) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/console"),
        Some(&bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"id="f-code_ttl" value="soon" aria-invalid="true""#));
    assert!(page.contains(r#"<p class="field-error" id="f-code_ttl-error">"#));
    assert!(page.contains("href=\"#f-code_ttl\""));
    assert_eq!(state.wechat_app(&app).unwrap().console, view.console);
}

#[tokio::test]
async fn the_scenario_and_clock_forms_change_the_app_and_the_clock() {
    let (state, app) = wechat_app().await;
    let scenario = &alipay_sim::wechat::scenario::catalogue()[0];
    let (status, _, location) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/scenario"),
        Some(&format!("name={}", scenario.name)),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(
        state.wechat_app(&app).unwrap().scenario.as_deref(),
        Some(scenario.name.as_str())
    );
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert!(page.contains(&format!("value=\"{}\" selected", scenario.name)));

    let before = state.clock().offset;
    let (status, _, _) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/clock"),
        Some("seconds=300"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(state.clock().offset, before + 300);
    let (status, page, _) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/clock"),
        Some("seconds=0"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"id="f-seconds-error""#));
    assert_eq!(state.clock().offset, before + 300);
}

#[tokio::test]
async fn without_javascript_the_device_taps_and_shows_what_the_page_received() {
    let (state, app) = wechat_app().await;
    let (_, page, _) = send(
        &state,
        "GET",
        &format!(
            "/wechat/apps/{app}/device?sheet=open&button=realtime&base_library=2.30.0&devtools=on"
        ),
        None,
    )
    .await;
    assert!(
        page.contains(r#"<div class="sheet-backdrop" id="sheet">"#),
        "the sheet is open"
    );
    assert!(page.contains("120****0001"));
    assert!(page.contains(r#"name="button" value="realtime""#));
    assert!(page.contains(r#"name="devtools" value="on" id="sheet-devtools""#));
    let (status, _, location) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/device/tap"),
        Some("button=phone&base_library=3.4.0&devtools=on&privacy=agree&choice=deny"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        location.contains("entry=") && location.contains("devtools=on"),
        "{location}"
    );
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert!(
        page.contains("getPhoneNumber:fail user deny"),
        "DevTools' deny"
    );
    assert!(page.contains(r#"<code id="verdict">front-end</code>"#));

    let (_, _, location) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/device/tap"),
        Some("button=phone&base_library=3.4.0&privacy=agree&choice=allow"),
    )
    .await;
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert!(page.contains("getPhoneNumber:ok") && page.contains("&#34;code&#34;"));
    assert!(page.contains(r#"<code id="verdict">accept</code>"#));

    // wx.login inside the handler: the backend's key is no longer the payload's.
    let (_, _, location) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/device/tap"),
        Some("button=phone&base_library=3.4.0&privacy=agree&choice=allow&login_in_callback=on"),
    )
    .await;
    assert!(location.contains("login_in_callback=on"), "{location}");
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert!(page.contains(r#"<code id="verdict">reject-decrypt</code>"#));
    assert!(page.contains(r#"<code id="rule">wechat.login-in-callback</code>"#));

    // A base library that is no version: 422, the message at the field.
    let (status, page, _) = send(
        &state,
        "POST",
        &format!("/wechat/apps/{app}/device/tap"),
        Some("button=phone&base_library=new&choice=allow"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"aria-invalid="true" aria-describedby="tap-base-library-error""#));

    for (path, shown) in [("login", "login:ok"), ("check-session", "checkSession:")] {
        let (_, _, location) = send(
            &state,
            "POST",
            &format!("/wechat/apps/{app}/device/{path}"),
            Some(""),
        )
        .await;
        let (_, page, _) = send(&state, "GET", &location, None).await;
        assert!(page.contains(shown), "{path}");
    }
}

#[tokio::test]
async fn every_wechat_form_action_url_loads_a_page() {
    let (state, app) = wechat_app().await;
    let console = format!("/wechat/apps/{app}");
    let device = format!("/wechat/apps/{app}/device");
    for (path, page) in [
        ("/wechat/apps".to_string(), "/".to_string()),
        (format!("{console}/console"), console.clone()),
        (format!("{console}/scenario"), console.clone()),
        (format!("{console}/clock"), console.clone()),
        (format!("{device}/tap"), device.clone()),
        (format!("{device}/login"), device.clone()),
        (format!("{device}/check-session"), device.clone()),
    ] {
        let (status, _, location) = send(&state, "GET", &path, None).await;
        assert!(status.is_redirection(), "GET {path}: {status}");
        assert_eq!(location, page, "GET {path}");
        let (status, _, _) = send(&state, "GET", &location, None).await;
        assert_eq!(status, StatusCode::OK, "GET {location}");
    }
    assert!(
        state.wechat_journal(Some(&app), 10).is_empty(),
        "no call made"
    );
    // An Alipay app has no WeChat page.
    let alipay = state.list_apps()[0].app_id.clone();
    let (status, _, _) = send(&state, "GET", &format!("/wechat/apps/{alipay}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn wx_js_is_one_script_that_shows_the_apps_masked_number() {
    let (state, app) = wechat_app().await;
    let (status, script, _) = send(&state, "GET", &format!("/sdk/wx.js?app_id={app}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(script.contains(r#"var wxSimSheet = {"masked":"120****0001"};"#));
    assert!(script.contains("window.wx = {") && script.contains("alipaySimDialog"));
    assert!(script.trim_end().ends_with("})();"));
    let (_, script, _) = send(&state, "GET", "/sdk/wx.js?app_id=wxnosuchapp", None).await;
    assert!(script.contains(r#"var wxSimSheet = {"masked":null};"#));
}
