//! The web UI's pages and forms, in-process (axum's `oneshot`): every console setting can be
//! changed from the console page, and the outcome it shows is what the next call returns.

use alipay_sim::catalogue;
use alipay_sim::server;
use alipay_sim::state::{PhoneNumberRequest, SimState};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tower::ServiceExt;

fn state() -> (SimState, String) {
    crate::common::in_memory_state(5)
}

pub(crate) async fn send(
    state: &SimState,
    method: &str,
    uri: &str,
    form: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = Request::builder().method(method).uri(uri);
    if form.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let request = request
        .body(Body::from(form.unwrap_or("").to_string()))
        .unwrap();
    let response = server::app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), location)
}

/// The text inside the element with this id.
fn by_id(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let open = start + html[start..].find('>').unwrap() + 1;
    let close = open + html[open..].find('<').unwrap();
    html[open..close].trim().to_string()
}

const EVERY_SETTING_CHANGED: &str = "account=personal&phone_application=rejected&signing=RSA\
&signing_key_mode=certificate&aes_key=broken\
&isv_app_id=2021004100000001&mobile=1-1234432112&client_version=10.2.0&base_library_version=2.0.1\
&environment=ide-simulator&action_kind=no-consent&call_isv_app_id=2021004100000001&fault=missing-sign\
&busy=probability&busy_probability=0.25&error_form=encrypted&without_signing=missing-default-signature-type\
&refusal_message=%E6%8B%92%E7%BB%9D&personal_account=insufficient-permissions\
&isv_app_id_missing=missing-encrypt-key&foreign_isv_app_id=accepted&rpc_trace_id=on&on_home_page=on\
&isv_kind=plugin&isv_jsapi_base_package=on&isv_aes_key_sets=3&authorisation=revoked\
&granted_under=console.no-signing";

#[tokio::test]
async fn every_console_setting_can_be_changed_from_the_console_page() {
    let (state, app) = state();
    let (status, _, location) = send(
        &state,
        "POST",
        &format!("/apps/{app}/console"),
        Some(EVERY_SETTING_CHANGED),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, format!("/apps/{app}?notice=saved"));
    let config = serde_json::to_value(state.app(&app).unwrap().config).unwrap();
    let expected = serde_json::json!({
        "console": {"account": "personal", "phone_number_package": false, "phone_application": "rejected",
                    "jsapi_base_package": false, "signing": "RSA", "signing_key_mode": "certificate",
                    "aes_key": "broken", "gateway": false,
                    "isv": {"isv_app_id": "2021004100000001", "kind": "plugin", "phone_number_package": false,
                            "jsapi_base_package": true, "aes_key_sets": 3}},
        "platform": {"busy": {"probability": 0.25}, "error_form": "encrypted",
                     "without_signing": "missing-default-signature-type",
                     "unsigned_without_aes_key": false, "unsigned_without_gateway": false,
                     "refusal_message": "拒绝", "personal_account": "insufficient-permissions",
                     "isv_app_id_missing": "missing-encrypt-key", "foreign_isv_app_id": "accepted",
                     "escape_slashes": false, "rpc_trace_id": true, "stale_authorisation": false},
        "user": {"mobile": "1-1234432112", "client_version": "10.2.0", "base_library_version": "2.0.1",
                 "environment": "ide-simulator", "on_home_page": true, "authorisation": "revoked",
                 "granted_under": "console.no-signing"},
        "action": {"kind": "no-consent", "isv_app_id": "2021004100000001"},
        "fault": "missing-sign",
    });
    assert_eq!(config, expected);

    // The page shows what was saved, and saving it back unchanged changes nothing.
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(page.contains(r#"<option value="rejected" selected>"#));
    assert!(page.contains(r#"value="1-1234432112""#));
    assert!(!page.contains(r#"name="gateway" value="on" checked"#));
    // A fault that cannot apply to these settings: the page says what the next call will say.
    let refused = state
        .get_phone_number(&app, None, PhoneNumberRequest::default())
        .unwrap_err();
    assert_eq!(by_id(&page, "outcome-reason"), refused.to_string());
}

/// The opening tag of the element with this id.
/// A tap on the device page (`consent`, `refuse`, `no-consent`): where it redirects.
async fn tap(state: &SimState, app: &str, action: &str) -> String {
    let (status, body, location) = send(
        state,
        "POST",
        &format!("/apps/{app}/device/tap"),
        Some(&format!("action={action}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    location
}

fn tag_of(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    html[start..=end].to_string()
}

#[tokio::test]
async fn a_bad_console_value_keeps_every_edit_marks_the_field_and_changes_nothing() {
    let (state, app) = state();
    let form = EVERY_SETTING_CHANGED.replace("mobile=1-1234432112", "mobile=%2B86138");
    let (status, page, _) =
        send(&state, "POST", &format!("/apps/{app}/console"), Some(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(state.app(&app).unwrap().config, alipay_sim::Call::default());
    // The field is marked, its message beside it, and the summary links to it.
    let mobile = tag_of(&page, "f-mobile");
    assert!(mobile.contains(r#"value="+86138""#), "{mobile}");
    assert!(mobile.contains(r#"aria-invalid="true""#), "{mobile}");
    assert!(
        mobile.contains(r#"aria-describedby="f-mobile-error""#),
        "{mobile}"
    );
    assert!(by_id(&page, "f-mobile-error").contains("+86138"));
    let summary = &page[page.find(r#"id="error-summary""#).unwrap()..];
    let summary = &summary[..summary.find("</div>").unwrap()];
    assert!(summary.contains(r##"<a href="#f-mobile">"##), "{summary}");
    assert!(summary.contains("<code>user.mobile</code>"), "{summary}");
    // No other field is marked, and every other edit is shown as it was submitted.
    assert_eq!(page.matches(r#"aria-invalid="true""#).count(), 1);
    for kept in [
        r#"<option value="personal" selected>"#,
        r#"<option value="rejected" selected>"#,
        r#"<option value="certificate" selected>"#,
        r#"<option value="no-consent" selected>"#,
        r#"<option value="missing-sign" selected>"#,
        r#"<option value="probability" selected>"#,
        r#"<option value="revoked" selected>"#,
        r#"<option value="plugin" selected>"#,
        r#"value="0.25""#,
        r#"value="拒绝""#,
        r#"value="console.no-signing""#,
        r#"value="10.2.0""#,
    ] {
        assert!(page.contains(kept), "{kept} was not kept");
    }
    assert!(tag_of(&page, "f-rpc_trace_id").contains(" checked"));
    assert!(!tag_of(&page, "f-gateway").contains(" checked"));
    assert!(tag_of(&page, "f-isv_aes_key_sets").contains(r#"value="3""#));
    // The page says the form is not saved.
    assert!(!tag_of(&page, "unsaved").contains("hidden"));
    assert!(by_id(&page, "unsaved-fields").contains("Bound mobile"));

    let (status, _, _) = send(&state, "GET", "/apps/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_bad_field_of_a_form_is_named_at_once() {
    let (state, app) = state();
    let form = EVERY_SETTING_CHANGED
        .replace("mobile=1-1234432112", "mobile=abc")
        .replace("busy_probability=0.25", "busy_probability=lots")
        .replace("isv_aes_key_sets=3", "isv_aes_key_sets=-1")
        .replace("environment=ide-simulator", "environment=moon");
    let (status, page, _) =
        send(&state, "POST", &format!("/apps/{app}/console"), Some(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in [
        "mobile",
        "busy_probability",
        "isv_aes_key_sets",
        "environment",
    ] {
        assert!(
            tag_of(&page, &format!("f-{field}")).contains(r#"aria-invalid="true""#),
            "{field} is not marked"
        );
        assert!(page.contains(&format!(r##"<a href="#f-{field}">"##)));
    }
    assert_eq!(page.matches(r#"aria-invalid="true""#).count(), 4);
    // A value only the state refuses (validate) is marked too.
    let form = EVERY_SETTING_CHANGED.replace(
        "granted_under=console.no-signing",
        "granted_under=console.nonsense",
    );
    let (status, page, _) =
        send(&state, "POST", &format!("/apps/{app}/console"), Some(&form)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(tag_of(&page, "f-granted_under").contains(r#"aria-invalid="true""#));
    assert!(by_id(&page, "f-granted_under-error").contains("console.nonsense"));
    assert_eq!(state.app(&app).unwrap().config, alipay_sim::Call::default());
}

#[tokio::test]
async fn every_form_action_url_loads_a_page() {
    let (state, app) = state();
    for (path, page) in [
        ("/apps".to_string(), "/".to_string()),
        (format!("/apps/{app}/console"), format!("/apps/{app}")),
        (
            format!("/apps/{app}/console/preview"),
            format!("/apps/{app}"),
        ),
        (format!("/apps/{app}/scenario"), format!("/apps/{app}")),
        (format!("/apps/{app}/reset"), format!("/apps/{app}")),
        (format!("/apps/{app}/keys/rotate"), format!("/apps/{app}")),
        (
            format!("/apps/{app}/device/tap"),
            format!("/apps/{app}/device"),
        ),
        (
            format!("/apps/{app}/device/revoke"),
            format!("/apps/{app}/device"),
        ),
        (
            format!("/apps/{app}/device/send"),
            format!("/apps/{app}/device"),
        ),
        (
            format!("/apps/{app}/device/auth-code"),
            format!("/apps/{app}/device"),
        ),
        (
            format!("/apps/{app}/device/session"),
            format!("/apps/{app}/device"),
        ),
        (
            format!("/apps/{app}/recording/start"),
            format!("/apps/{app}/device"),
        ),
        (
            format!("/apps/{app}/recording/stop"),
            format!("/apps/{app}/device"),
        ),
    ] {
        let (status, _, location) = send(&state, "GET", &path, None).await;
        assert!(status.is_redirection(), "GET {path}: {status}");
        assert_eq!(location, page, "GET {path}");
        let (status, _, _) = send(&state, "GET", &location, None).await;
        assert_eq!(status, StatusCode::OK, "GET {location}");
    }
    // Nothing was done by those GETs.
    assert_eq!(state.app(&app).unwrap().config, alipay_sim::Call::default());
    assert!(state.recording(&app).is_none());
    // An id no app can have goes to the list of apps.
    let (_, _, location) = send(&state, "GET", "/apps/a%0D%0Ab/console", None).await;
    assert_eq!(location, "/");
    // The API keeps its own answers.
    let (status, _, _) = send(&state, "GET", &format!("/api/v1/apps/{app}/reset"), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_preview_answers_the_outcome_of_the_unsaved_form_and_saves_nothing() {
    let (state, app) = state();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(tag_of(&page, "unsaved").contains("hidden"));
    let form = EVERY_SETTING_CHANGED.replace("fault=missing-sign", "fault=");
    let preview = |form: String| {
        let state = state.clone();
        let app = app.clone();
        async move {
            let (status, body, _) = send(
                &state,
                "POST",
                &format!("/apps/{app}/console/preview"),
                Some(&form),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            serde_json::from_str::<serde_json::Value>(&body).unwrap()
        }
    };
    let answer = preview(form.clone()).await;
    assert_eq!(state.app(&app).unwrap().config, alipay_sim::Call::default());
    // The panel, as the page renders it, of the form's settings once saved.
    let outcome = answer["outcome"].as_str().unwrap();
    send(&state, "POST", &format!("/apps/{app}/console"), Some(&form)).await;
    let (_, saved, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    for id in ["outcome-rule", "outcome-summary", "outcome-reason"] {
        assert_eq!(by_id(outcome, id), by_id(&saved, id), "{id}");
    }
    assert!(
        saved.contains(outcome.trim()),
        "the page renders the same panel"
    );
    assert_eq!(answer["unsaved"], true);
    assert!(answer["changed"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("account")));
    // Saved, the same form has no changes.
    let answer = preview(form.clone()).await;
    assert_eq!(answer["unsaved"], false);
    assert_eq!(answer["changed"], serde_json::json!([]));
    // A bad value: its field and message, no outcome, and nothing saved.
    let before = state.app(&app).unwrap().config;
    let answer = preview(form.replace("mobile=1-1234432112", "mobile=abc")).await;
    assert_eq!(answer["outcome"], serde_json::Value::Null);
    assert_eq!(answer["errors"][0]["field"], "mobile");
    assert_eq!(answer["errors"][0]["target"], "f-mobile");
    assert!(answer["summary"].as_str().unwrap().contains("#f-mobile"));
    assert_eq!(state.app(&app).unwrap().config, before);
}

#[tokio::test]
async fn the_scenario_picker_shows_the_applied_scenario_until_the_console_is_edited() {
    let (state, app) = state();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(page.contains(r#"<option value="" selected>(none: fully configured"#));
    let (_, _, location) = send(
        &state,
        "POST",
        &format!("/apps/{app}/scenario"),
        Some("name=phone-application-pending"),
    )
    .await;
    assert_eq!(location, format!("/apps/{app}?notice=scenario-applied"));
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert!(page.contains(r#"<option value="phone-application-pending" selected>"#));
    assert!(by_id(&page, "notice").contains("phone-application-pending"));
    // The same settings saved again keep it (the console's Save without a change); a change
    // by hand shows that none applies.
    let config = state.app(&app).unwrap().config;
    state.set_config(&app, config.clone()).unwrap();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(page.contains(r#"<option value="phone-application-pending" selected>"#));
    state
        .patch_app(&app, serde_json::json!({"user": {"mobile": "13900000000"}}))
        .unwrap();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(page.contains(r#"<option value="" selected>(custom settings"#));
    assert!(!page.contains(r#"<option value="phone-application-pending" selected>"#));
}

#[tokio::test]
async fn actions_end_on_the_console_with_a_fixed_notice() {
    let (state, app) = state();
    let (_, _, location) = send(
        &state,
        "POST",
        &format!("/apps/{app}/keys/rotate"),
        Some(""),
    )
    .await;
    assert_eq!(location, format!("/apps/{app}?notice=keys-rotated"));
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert_eq!(
        by_id(&page, "notice"),
        "Keys rotated: give your backend the new Alipay public key and AES key."
    );
    let (_, _, location) = send(&state, "POST", &format!("/apps/{app}/reset"), Some("")).await;
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert!(by_id(&page, "notice").starts_with("Reset"));
    // Only the fixed notices: nothing of the request is echoed.
    let (status, page, _) = send(
        &state,
        "GET",
        &format!("/apps/{app}?notice=%3Cb%3Ehello"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains(r#"id="notice""#) && !page.contains("hello"));
}

#[tokio::test]
async fn the_shown_outcome_is_what_the_next_call_returns_for_every_scenario() {
    let (state, app) = state();
    for scenario in catalogue().iter() {
        let form = format!("name={}", scenario.name);
        let (status, _, _) = send(
            &state,
            "POST",
            &format!("/apps/{app}/scenario"),
            Some(&form),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{}", scenario.name);
        let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
        let shown_rule = by_id(&page, "outcome-rule");
        let facts = &page[page.find("id=\"outcome-facts\"").unwrap()..];
        let shown_verdict = facts
            .split("data-verdict=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_string();

        let next = state
            .get_phone_number(&app, None, PhoneNumberRequest::default())
            .unwrap();
        // Only a phone number is shown as one: an authentic 40006 is not.
        let expect = &next.delivery.expect;
        let is_phone = expect.verdict == alipay_sim::Verdict::Accept
            && expect.plaintext.as_ref().is_some_and(|p| {
                p["code"] == "10000" && p["mobile"].as_str().is_some_and(|m| !m.is_empty())
            });
        assert_eq!(
            facts.contains("data-gets=\"phone\""),
            is_phone,
            "{}: {:?}",
            scenario.name,
            expect.plaintext
        );
        assert_eq!(
            shown_rule,
            next.delivery.expect.cause.id(),
            "{}",
            scenario.name
        );
        assert_eq!(
            shown_verdict,
            next.delivery.expect.verdict.as_str(),
            "{}",
            scenario.name
        );
        assert_eq!(shown_rule, scenario.expect.cause.id(), "{}", scenario.name);
    }
}

#[tokio::test]
async fn the_dashboard_says_what_each_app_would_do_next() {
    let (state, app) = state();
    state
        .patch_app(
            &app,
            serde_json::json!({"console": {"phone_application": "pending"}}),
        )
        .unwrap();
    let (status, page, _) = send(&state, "GET", "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("40006: phone-number application not approved"));
    assert!(page.contains(&format!("/apps/{app}/device")));
    let (status, _, location) = send(&state, "POST", "/apps", Some("")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(location.starts_with("/apps/2021"));
}

#[tokio::test]
async fn keys_can_be_downloaded_and_rotated_from_the_console_page() {
    let (state, app) = state();
    let keys = state.keys(&app).unwrap();
    let (status, body, _) = send(
        &state,
        "GET",
        &format!("/apps/{app}/keys/alipay_public_key.txt"),
        None,
    )
    .await;
    assert_eq!(
        (status, body.trim()),
        (StatusCode::OK, keys.alipay_public_key.as_str())
    );
    let (_, body, _) = send(
        &state,
        "GET",
        &format!("/apps/{app}/keys/alipay_public_key.pem"),
        None,
    )
    .await;
    assert_eq!(body, keys.alipay_public_key_pem);
    let (_, body, _) = send(
        &state,
        "GET",
        &format!("/apps/{app}/keys/aes_key.txt"),
        None,
    )
    .await;
    assert_eq!(body.trim(), keys.aes_key);
    let (status, _, _) = send(
        &state,
        "GET",
        &format!("/apps/{app}/keys/private.pem"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(page.contains(&keys.aes_key));
    send(
        &state,
        "POST",
        &format!("/apps/{app}/keys/rotate"),
        Some(""),
    )
    .await;
    assert_ne!(state.keys(&app).unwrap().aes_key, keys.aes_key);
}

#[tokio::test]
async fn the_device_page_shows_a_call_and_the_journal_lists_it() {
    let (state, app) = state();
    let location = tap(&state, &app, "no-consent").await;
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert!(by_id(&page, "plaintext").contains("40003"));
    // Without the button the page calls my.getPhoneNumber itself: no onGetAuthorize.
    let sequence = by_id(&page, "callback-sequence");
    assert!(
        sequence.starts_with("my.getPhoneNumber success(res)")
            && !sequence.contains("onGetAuthorize(e)"),
        "{sequence}"
    );
    assert_eq!(by_id(&page, "verdict"), "accept");
    let (_, journal, _) = send(
        &state,
        "GET",
        &format!("/journal?app_id={app}&verdict=accept"),
        None,
    )
    .await;
    assert!(journal.contains("user.no-consent"));
    let (_, entries, _) = send(
        &state,
        "GET",
        &format!("/journal/entries?app_id={app}&verdict=front-end"),
        None,
    )
    .await;
    assert!(entries.contains("No call matches these filters"));
    let (_, script, _) = send(&state, "GET", "/sdk/my.js", None).await;
    assert!(script.contains("getPhoneNumber"));
}

#[tokio::test]
async fn form_posts_from_another_site_are_refused() {
    let (state, app) = state();
    let request = Request::builder()
        .method("POST")
        .uri(format!("/apps/{app}/console"))
        .header(header::HOST, "127.0.0.1:8086")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(EVERY_SETTING_CHANGED))
        .unwrap();
    let response = server::app(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(state.app(&app).unwrap().config, alipay_sim::Call::default());
    // The simulator's own pages post with their own origin.
    let request = Request::builder()
        .method("POST")
        .uri(format!("/apps/{app}/console"))
        .header(header::HOST, "127.0.0.1:8086")
        .header(header::ORIGIN, "http://127.0.0.1:8086")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(EVERY_SETTING_CHANGED))
        .unwrap();
    let response = server::app(state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_device_page_offers_every_transport_shape_and_refuses_a_split_it_cannot_make() {
    use strum::IntoEnumIterator;
    let (state, app) = state();
    let prepared = state
        .prepare_call(&app, Some("non-json-text"), PhoneNumberRequest::default())
        .unwrap();
    let (call, _) = state.complete_recorded_call(prepared).unwrap();
    let (_, page, _) = send(
        &state,
        "GET",
        &format!("/apps/{app}/device?call={call}"),
        None,
    )
    .await;
    for shape in alipay_sim::state::BodyShape::iter() {
        assert!(
            page.contains(&format!("<option value=\"{shape}\"")),
            "{shape} is not offered"
        );
    }
    // "[object Object]" is no envelope: it has no response and sign to hand over split.
    let (status, body, _) = send(
        &state,
        "POST",
        &format!("/apps/{app}/device/send"),
        Some(&format!(
            "call={call}&url=http%3A%2F%2F127.0.0.1%3A9%2Fapi%2Fphone&body_shape=split-json"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("body_shape split-json: the envelope is not a JSON object"),
        "{body}"
    );
    assert!(
        state.backend_target(&app).is_none(),
        "nothing was sent, nothing remembered"
    );
}

#[tokio::test]
async fn the_device_page_shows_the_authorisation_revokes_it_and_each_front_ends_event() {
    let (state, app) = state();
    let location = tap(&state, &app, "consent").await;
    // The redirect lands on the call's result.
    let location = location
        .strip_suffix("#call")
        .unwrap_or_else(|| panic!("{location} does not land on #call"))
        .to_string();
    let (_, page, _) = send(&state, "GET", &location, None).await;
    assert_eq!(
        by_id(&page, "auth-setting"),
        "authSetting.phoneNumber = true"
    );
    assert!(
        page.contains(r#"id="authorised-note""#),
        "no sheet once authorised"
    );

    let (_, page, _) = send(&state, "GET", &format!("{location}&front_end=button"), None).await;
    assert_eq!(by_id(&page, "page-handler"), "onGetPhoneNumber");
    assert!(by_id(&page, "page-event").contains("encryptedData"));
    let (_, page, _) = send(
        &state,
        "GET",
        &format!("{location}&front_end=uni-app"),
        None,
    )
    .await;
    assert!(by_id(&page, "page-event").contains("getPhoneNumber:ok"));

    let (status, _, _) = send(
        &state,
        "POST",
        &format!("/apps/{app}/device/revoke"),
        Some(""),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}/device"), None).await;
    assert_eq!(
        by_id(&page, "auth-setting"),
        "authSetting.phoneNumber = false"
    );
    assert!(!page.contains(r#"id="authorised-note""#));
}

#[tokio::test]
async fn the_console_page_links_the_certificates_in_certificate_mode() {
    let (state, app) = state();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(page.contains(r#"<option value="public-key" selected>公钥 · public key</option>"#));
    assert!(!page.contains(r#"id="certificates""#));

    state.apply_scenario(&app, "cert-mode").unwrap();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}"), None).await;
    assert!(
        page.contains(r#"<option value="certificate" selected>公钥证书 · certificates</option>"#)
    );
    let certificates = state.keys(&app).unwrap().certificates.unwrap();
    assert_eq!(
        by_id(&page, "alipay-root-cert-sn"),
        certificates.alipay_root_cert_sn
    );
    assert_eq!(by_id(&page, "alipay-cert-sn"), certificates.alipay_cert_sn);
    assert_eq!(by_id(&page, "app-cert-sn"), certificates.app_cert_sn);
    for (id, file) in [
        ("app-cert", format!("appCertPublicKey_{app}.crt")),
        ("alipay-cert", "alipayCertPublicKey_RSA2.crt".to_string()),
        ("alipay-root-cert", "alipayRootCert.crt".to_string()),
    ] {
        let href = format!("/api/v1/apps/{app}/certs/{file}");
        assert!(
            page.contains(&format!(
                r#"<a id="{id}" href="{href}" download>{file}</a>"#
            )),
            "{id}"
        );
        let (status, pem, _) = send(&state, "GET", &href, None).await;
        assert_eq!(status, StatusCode::OK, "{href}");
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{href}");
    }
}

#[tokio::test]
async fn apps_are_listed_oldest_first_with_the_names_they_were_given() {
    let (state, first) = state();
    let (status, _, location) = send(&state, "POST", "/apps", Some("name=Checkout+team")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let named = location.trim_start_matches("/apps/").to_string();
    assert_eq!(
        state.app(&named).unwrap().name.as_deref(),
        Some("Checkout team")
    );
    let listed: Vec<String> = state.list_apps().into_iter().map(|a| a.app_id).collect();
    assert_eq!(listed, [first.clone(), named.clone()], "oldest first");
    let (_, page, _) = send(&state, "GET", "/", None).await;
    let (at_first, at_named) = (page.find(&first).unwrap(), page.find(&named).unwrap());
    assert!(at_first < at_named && page.contains("<strong>Checkout team</strong>"));
    // A name that is not one is refused, naming the field.
    let (status, page, _) = send(&state, "POST", "/apps", Some("name=a%07b")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    assert!(page.contains("name"), "{page}");
    assert_eq!(state.list_apps().len(), 2);
}

#[tokio::test]
async fn an_unknown_page_is_a_page_for_a_browser_and_json_for_the_api() {
    let (state, _) = state();
    let request = |uri: &str, accept: &str| {
        Request::builder()
            .uri(uri)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .unwrap()
    };
    let html = "text/html,application/xhtml+xml,*/*;q=0.8";
    let response = server::app(state.clone())
        .oneshot(request("/no/such/page", html))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let page = String::from_utf8(body.to_vec()).unwrap();
    for part in [
        "<html lang=\"en\">",
        "<title>404 Not Found",
        "<h1>404 Not Found</h1>",
        "href=\"/journal\"",
        "/no/such/page",
    ] {
        assert!(page.contains(part), "{part} in {page}");
    }
    let response = server::app(state.clone())
        .oneshot(request("/api/v1/nothing", html))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "route_not_found", "{json}");
    let (status, icon, _) = send(&state, "GET", "/favicon.ico", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(icon.starts_with("<svg"));
}

#[tokio::test]
async fn the_consent_sheet_is_a_modal_dialog_built_on_the_shared_script() {
    let (state, app) = state();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}/device"), None).await;
    for needle in [
        r#"role="dialog""#,
        r#"aria-modal="true""#,
        r#"aria-labelledby="sheet-title""#,
        r#"<script src="/assets/dialog.js"></script>"#,
    ] {
        assert!(page.contains(needle), "the device page lacks {needle}");
    }
    assert_eq!(by_id(&page, "sheet-title"), "授权提示");
    assert_eq!(by_id(&page, "sheet-mobile"), "138****0000");
    let (status, dialog, _) = send(&state, "GET", "/assets/dialog.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(dialog.contains("var alipaySimDialog"));
    // my.js is one script for pages of other origins: the dialog is inside it, in one function.
    let (_, script, _) = send(&state, "GET", "/sdk/my.js", None).await;
    assert!(script.starts_with("(function () {") && script.trim_end().ends_with("})();"));
    assert!(script.contains(dialog.trim()), "my.js bundles dialog.js");
    assert!(
        script.contains("/consent-sheet"),
        "my.js reads what the sheet shows"
    );
}

#[tokio::test]
async fn each_send_is_kept_and_an_unreachable_backend_is_shown_as_a_failure() {
    let (state, app) = state();
    let location = tap(&state, &app, "consent").await;
    let call: u64 = location
        .split("call=")
        .nth(1)
        .and_then(|rest| rest.split('#').next())
        .unwrap()
        .parse()
        .unwrap();
    // Port 1 on loopback: nothing listens, the connection is refused.
    let form = format!("call={call}&url=http%3A%2F%2F127.0.0.1%3A1%2Fapi%2Fphone&body_shape=json");
    let mut landing = String::new();
    for _ in 0..2 {
        let (status, _, location) = send(
            &state,
            "POST",
            &format!("/apps/{app}/device/send"),
            Some(&form),
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        landing = location;
    }
    assert_eq!(
        landing,
        format!("/apps/{app}/device?call={call}#backend-answer"),
        "the redirect lands on the newest exchange"
    );
    let (_, page, _) = send(&state, "GET", &landing, None).await;
    assert!(by_id(&page, "backend-answer").contains("2 exchanges, newest first"));
    assert_eq!(page.matches("Your backend did not answer").count(), 2);
    assert!(
        !page.contains("Your backend answered"),
        "a failure is no answer"
    );
    assert!(by_id(&page, "backend-error").contains("127.0.0.1:1"));
    assert!(page.contains(r#"id="exchange-2""#) && page.contains(r#"id="exchange-1""#));
    assert!(
        page.find(r#"id="exchange-2""#) < page.find(r#"id="exchange-1""#),
        "newest first"
    );
    // The request that was sent: method, URL, content type, and its JSON body pretty-printed.
    let request_line = by_id(&page, "backend-request-line");
    assert!(
        request_line.starts_with("POST http://127.0.0.1:1/api/phone")
            && request_line.contains("Content-Type: application/json"),
        "{request_line}"
    );
    assert!(
        by_id(&page, "backend-request").starts_with("{\n  &#34;response&#34;: &#34;{"),
        "{}",
        by_id(&page, "backend-request")
    );
    assert!(page.contains("Request body (JSON, pretty-printed here;"));
    // The journal keeps both, the last as `backend`, and its page lists both.
    let entry = state.journal_entry(call).unwrap();
    assert_eq!(entry.exchanges.len(), 2);
    assert_eq!(entry.backend.as_ref(), entry.exchanges.last());
    let (_, entries, _) = send(
        &state,
        "GET",
        &format!("/journal/entries?app_id={app}"),
        None,
    )
    .await;
    assert!(
        entries.contains("Backend exchange 1 of 2") && entries.contains("Backend exchange 2 of 2")
    );
    assert!(entries.contains("did not answer: cannot reach"));
}

#[tokio::test]
async fn without_javascript_the_open_sheet_can_be_closed_without_a_call() {
    let (state, app) = state();
    let (status, page, _) = send(
        &state,
        "GET",
        &format!("/apps/{app}/device?sheet=open"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sheet = tag_of(&page, "sheet");
    assert!(!sheet.contains("hidden"), "{sheet}");
    let close = page
        .split("<noscript>")
        .nth(1)
        .and_then(|rest| rest.split("</noscript>").next())
        .expect("a noscript close control");
    assert!(
        close.contains(&format!("href=\"/apps/{app}/device\"")),
        "{close}"
    );
    let calls_before = state.journal(Some(&app), usize::MAX).len();
    let (status, _, _) = send(&state, "GET", &format!("/apps/{app}/device"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        state.journal(Some(&app), usize::MAX).len(),
        calls_before,
        "closing calls nothing"
    );
}

/// The device page's my.getAuthCode, without JavaScript: a silent login gives a code, a denied
/// sheet fail 11, and another phone is another device session with another user.
#[tokio::test]
async fn the_device_page_gets_an_auth_code_and_starts_another_device_session() {
    let (state, app) = state();
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}/device"), None).await;
    assert_eq!(by_id(&page, "device-session"), "1");
    let first_user = by_id(&page, "session-user");
    let get = |form: &'static str| {
        let state = state.clone();
        let app = app.clone();
        async move {
            let (status, body, location) = send(
                &state,
                "POST",
                &format!("/apps/{app}/device/auth-code"),
                Some(form),
            )
            .await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
            let (_, page, _) = send(&state, "GET", &location, None).await;
            let shown = page
                .split("id=\"auth-code-result\">")
                .nth(1)
                .and_then(|rest| rest.split("</pre>").next())
                .unwrap_or_else(|| panic!("no result on {location}"))
                .replace("&quot;", "\"")
                .replace("&#34;", "\"");
            serde_json::from_str::<serde_json::Value>(&shown)
                .unwrap_or_else(|e| panic!("{e}: {shown}"))
        }
    };
    let silent = get("scopes=auth_base&action=allow").await;
    assert_eq!(silent["authCode"].as_str().unwrap().len(), 32, "{silent}");
    let denied = get("scopes=auth_user&action=deny").await;
    assert_eq!(denied["error"], 11, "{denied}");
    let (status, _, _) = send(
        &state,
        "POST",
        &format!("/apps/{app}/device/session"),
        Some(""),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = send(&state, "GET", &format!("/apps/{app}/device"), None).await;
    assert_eq!(by_id(&page, "device-session"), "2");
    assert_ne!(by_id(&page, "session-user"), first_user);
}
