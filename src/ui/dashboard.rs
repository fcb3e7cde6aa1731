//! The dashboard (`/`): every app with what its next call would do.

use super::*;

struct AppRow {
    app_id: String,
    summary: String,
    rule: String,
    verdict: String,
    calls: u64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    apps: Vec<AppRow>,
}

pub(super) async fn dashboard(State(state): State<SimState>) -> PageResult {
    let mut apps = Vec::new();
    for app in state.list_apps() {
        let outcome = OutcomeView::next(&state, &app.app_id)?;
        apps.push(AppRow {
            app_id: app.app_id,
            summary: outcome.summary,
            rule: outcome.rule,
            verdict: outcome.verdict,
            calls: app.calls,
        });
    }
    page(Dashboard { apps })
}

pub(super) async fn create_app(State(state): State<SimState>) -> PageResult {
    let app = blocking::<_, PageError>(move || state.create_app(Default::default())).await?;
    back_to(format!("/apps/{}", app.app_id))
}
