//! The dashboard (`/`): every Alipay app with what its next call would do, and the WeChat apps.

use super::*;

struct AppRow {
    app_id: String,
    name: Option<String>,
    /// Whether the device page is recording this app's calls.
    recording: bool,
    summary: String,
    rule: String,
    facts: Facts,
    calls: u64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    apps: Vec<AppRow>,
    wechat_apps: Vec<super::wechat::WechatRow>,
}

pub(super) async fn dashboard(State(state): State<SimState>) -> PageResult {
    let mut apps = Vec::new();
    for app in state.list_apps() {
        let outcome = OutcomeView::next(&state, &app.app_id)?;
        apps.push(AppRow {
            recording: state.recording(&app.app_id).is_some_and(|r| r.active),
            name: app.name,
            app_id: app.app_id,
            summary: outcome.summary,
            rule: outcome.rule,
            facts: outcome.facts,
            calls: app.calls,
        });
    }
    page(Dashboard {
        apps,
        wechat_apps: super::wechat::dashboard_rows(&state),
    })
}

#[derive(Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    name: String,
}

pub(super) async fn create_app(
    State(state): State<SimState>,
    Form(form): Form<CreateForm>,
) -> PageResult {
    let new = crate::sim::state::NewApp {
        name: Some(form.name).filter(|name| !name.trim().is_empty()),
        ..Default::default()
    };
    let app = blocking::<_, PageError>(move || state.create_app(new)).await?;
    back_to(format!("/apps/{}", app.app_id))
}
