//! The journal (`/journal`): every call, newest first, filterable, refreshed by polling.

use super::*;

#[derive(Deserialize)]
pub(super) struct JournalFilter {
    app_id: Option<String>,
    verdict: Option<String>,
}

#[derive(Template)]
#[template(path = "journal.html")]
struct JournalPage {
    apps: Vec<Choice>,
    verdicts: Vec<Choice>,
    entries: JournalEntries,
}

#[derive(Template)]
#[template(path = "journal_entries.html")]
struct JournalEntries {
    entries: Vec<JournalRow>,
    /// Whether a filter is set: an empty list then says no call matches, not that none was made.
    filtered: bool,
}

/// One call as the journal lists it.
struct JournalRow {
    entry: JournalEntry,
    facts: Facts,
    /// UTC to the second, until the page's script shows local time (the exact time is kept in
    /// `entry.time`, the tooltip).
    time_utc: String,
}

fn filtered(state: &SimState, filter: &JournalFilter) -> JournalEntries {
    let app = filter.app_id.as_deref().filter(|a| !a.is_empty());
    let verdict = filter.verdict.as_deref().filter(|v| !v.is_empty());
    let entries = state
        .journal(app, usize::MAX)
        .into_iter()
        .filter(|e| verdict.is_none_or(|v| e.verdict.as_str() == v))
        .take(200)
        .map(|entry| JournalRow {
            facts: Facts::of(
                entry.verdict,
                entry.callback,
                &entry.payload,
                entry.plaintext.as_ref(),
            ),
            time_utc: format!("{} UTC", entry.time.get(..19).unwrap_or(&entry.time))
                .replace('T', " "),
            entry,
        })
        .collect();
    JournalEntries {
        entries,
        filtered: app.is_some() || verdict.is_some(),
    }
}

pub(super) async fn journal(
    State(state): State<SimState>,
    Query(filter): Query<JournalFilter>,
) -> PageResult {
    let current_app = filter.app_id.clone().unwrap_or_default();
    let mut apps = vec![Choice {
        value: String::new(),
        label: "all apps".into(),
        selected: current_app.is_empty(),
    }];
    apps.extend(state.list_apps().into_iter().map(|a| Choice {
        selected: a.app_id == current_app,
        label: a.app_id.clone(),
        value: a.app_id,
    }));
    let current_verdict = filter.verdict.clone().unwrap_or_default();
    let mut verdicts = vec![Choice {
        value: String::new(),
        label: "all verdicts".into(),
        selected: current_verdict.is_empty(),
    }];
    verdicts.extend(Verdict::iter().map(|v| Choice {
        value: v.as_str().into(),
        label: v.as_str().into(),
        selected: v.as_str() == current_verdict,
    }));
    page(JournalPage {
        apps,
        verdicts,
        entries: filtered(&state, &filter),
    })
}

pub(super) async fn journal_entries(
    State(state): State<SimState>,
    Query(filter): Query<JournalFilter>,
) -> PageResult {
    page(filtered(&state, &filter))
}
