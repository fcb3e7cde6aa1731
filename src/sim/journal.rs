//! The journal: every call the simulator answered, newest last, bounded in count and bytes.
//!
//! An entry keeps its [`Event`], a closed, tagged set of what can happen (today one kind: an
//! Alipay `my.getPhoneNumber` call, with what backends answered to its envelope), and is
//! formatted for readers only when read.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alipay::model::ActionKind;
use crate::alipay::scenario::Fixture;
use crate::sim::exchange::Exchange;
use crate::sim::journal_db::RowCache;

/// How many calls the journal keeps, all apps together; older ones are dropped.
pub const JOURNAL_CAPACITY: usize = 1000;
/// About how many bytes the journal keeps, all apps together; older calls are dropped.
pub const JOURNAL_BYTES: usize = 8 * 1024 * 1024;
/// How many backend exchanges the journal keeps for one call (its envelope sent again and
/// again): the latest ones, older ones are dropped.
pub const EXCHANGES_PER_CALL: usize = 20;

/// One call, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JournalEntry {
    pub id: u64,
    #[schema(format = DateTime)]
    pub time: String,
    pub app_id: String,
    /// The catalogue scenario, when one decided the call.
    #[schema(required)]
    pub scenario: Option<String>,
    #[serde(deserialize_with = "crate::alipay::rules::read_cause")]
    #[schema(value_type = String)]
    pub rule: crate::oracle::Cause,
    pub verdict: crate::oracle::Verdict,
    pub callback: crate::alipay::outcome::Callback,
    /// What the user or the page did: `consent` (tapped the button and allowed), `refuse`
    /// (tapped and refused) or `no-consent` (`my.getPhoneNumber` called without the button).
    pub action: crate::alipay::model::ActionKind,
    /// Exactly what the callback received.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// The decrypted content a backend reads, on `accept`; else null.
    #[schema(value_type = Option<Object>, required)]
    pub plaintext: Option<Value>,
    /// What the envelope's backend answered the last time the device page sent it there
    /// (the last of `exchanges`).
    #[schema(required)]
    pub backend: Option<Exchange>,
    /// Every time the device page sent the envelope to a backend, oldest first: the last
    /// `EXCHANGES_PER_CALL` (20).
    pub exchanges: Vec<Exchange>,
    /// The device session the call was made in (`POST /api/v1/apps/{app_id}/device-session`
    /// starts a new one): the login journal's entries of the same session are that user's.
    #[serde(default = "first_session")]
    pub device_session: u64,
}

fn first_session() -> u64 {
    1
}

/// What happened, as the journal keeps it: a closed set, one variant per platform flow.
#[derive(Clone)]
pub(crate) enum Event {
    /// A `my.getPhoneNumber` call: its fixture (shared with the answer that carried it), what
    /// the user or the page did, and what a developer's backend answered to its envelope each
    /// time the device page sent it (oldest first, at most [`EXCHANGES_PER_CALL`]).
    AlipayPhone {
        fixture: Arc<Fixture>,
        action: ActionKind,
        exchanges: VecDeque<Exchange>,
        device_session: u64,
    },
    /// An Alipay login call: the page's `my.getAuthCode` or a backend's gateway request.
    AlipayLogin(Box<crate::sim::alipay_login::AlipayLoginJournalEntry>),
    /// A WeChat call: a page's or a backend's (the entry as it is shown, less id and time).
    Wechat(Box<crate::sim::wechat::WechatJournalEntry>),
}

impl Event {
    /// About what the event takes, cheaply: the envelope, what a backend exchange holds, and
    /// a fixed allowance for the rest.
    fn size(&self) -> usize {
        match self {
            Event::AlipayPhone {
                fixture, exchanges, ..
            } => {
                let envelope = fixture.delivery.envelope().map_or(0, str::len);
                let exchanges: usize = exchanges
                    .iter()
                    .map(|e| {
                        e.url.len()
                            + e.request_body.len()
                            + e.body.len()
                            + e.headers
                                .iter()
                                .map(|(k, v)| k.len() + v.len())
                                .sum::<usize>()
                    })
                    .sum();
                512 + envelope + exchanges
            }
            Event::Wechat(entry) => entry.size(),
            Event::AlipayLogin(entry) => entry.size(),
        }
    }
}

/// The journal of all apps, oldest first, within [`JOURNAL_CAPACITY`] and [`JOURNAL_BYTES`].
#[derive(Default)]
pub(crate) struct Journal {
    entries: VecDeque<Recorded>,
    next_id: u64,
    /// The sum of the entries' sizes.
    bytes: usize,
    /// The durable journal every entry is also written to, when the state has a data
    /// directory.
    durable: Option<Arc<crate::sim::journal_db::JournalDb>>,
}

impl Journal {
    /// Writes every entry to `durable` too, going on from the ids it holds.
    pub(crate) fn keep_in(
        &mut self,
        durable: Arc<crate::sim::journal_db::JournalDb>,
        last_id: u64,
    ) {
        self.next_id = self.next_id.max(last_id);
        self.durable = Some(durable);
    }

    /// Every entry kept in memory, as the durable journal would store it, oldest first.
    pub(crate) fn rows(&self) -> Vec<crate::sim::journal_db::Row> {
        let mut cache = None;
        self.entries.iter().map(|r| r.row(&mut cache)).collect()
    }

    /// The durable journal, if any.
    pub(crate) fn durable(&self) -> Option<&Arc<crate::sim::journal_db::JournalDb>> {
        self.durable.as_ref()
    }

    fn write_durably(&self, record: &Recorded) {
        if let Some(durable) = &self.durable {
            let record = record.clone();
            durable.put(move |cache| record.row(cache));
        }
    }

    /// Records an event; gives its id.
    pub(crate) fn push(&mut self, app_id: &str, event: Event) -> u64 {
        self.next_id += 1;
        let record = Recorded {
            id: self.next_id,
            time: std::time::SystemTime::now(),
            app_id: app_id.to_string(),
            size: event.size(),
            event,
        };
        self.bytes += record.size;
        self.write_durably(&record);
        self.entries.push_back(record);
        self.trim();
        self.next_id
    }

    /// One entry, if it is still kept.
    pub(crate) fn entry(&self, id: u64) -> Option<JournalEntry> {
        self.entries
            .iter()
            .find(|r| r.id == id)
            .and_then(Recorded::entry)
    }

    /// Entries, newest first, optionally of one app, at most `limit`.
    pub(crate) fn entries(&self, app_id: Option<&str>, limit: usize) -> Vec<JournalEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|r| app_id.is_none_or(|id| r.app_id == id))
            .filter_map(Recorded::entry)
            .take(limit)
            .collect()
    }

    /// WeChat entries, newest first, optionally of one app, at most `limit`.
    pub(crate) fn wechat_entries(
        &self,
        app_id: Option<&str>,
        limit: usize,
    ) -> Vec<crate::sim::wechat::WechatJournalEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|r| app_id.is_none_or(|id| r.app_id == id))
            .filter_map(|r| match &r.event {
                Event::Wechat(entry) => Some(crate::sim::wechat::WechatJournalEntry {
                    id: r.id,
                    time: rfc3339(r.time.into()),
                    ..(**entry).clone()
                }),
                Event::AlipayPhone { .. } | Event::AlipayLogin(_) => None,
            })
            .take(limit)
            .collect()
    }

    /// Alipay login entries, newest first, optionally of one app and one device session, at
    /// most `limit`.
    pub(crate) fn login_entries(
        &self,
        app_id: Option<&str>,
        device_session: Option<u64>,
        limit: usize,
    ) -> Vec<crate::sim::alipay_login::AlipayLoginJournalEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|r| app_id.is_none_or(|id| r.app_id == id))
            .filter_map(|r| match &r.event {
                Event::AlipayLogin(entry) => {
                    Some(crate::sim::alipay_login::AlipayLoginJournalEntry {
                        id: r.id,
                        time: rfc3339(r.time.into()),
                        app_id: r.app_id.clone(),
                        ..(**entry).clone()
                    })
                }
                _ => None,
            })
            .filter(|e| device_session.is_none_or(|n| e.device_session == Some(n)))
            .take(limit)
            .collect()
    }

    /// Adds what a backend answered to the call whose envelope it was sent, after the earlier
    /// exchanges of that call (the oldest dropped past [`EXCHANGES_PER_CALL`]).
    pub(crate) fn attach_backend_exchange(&mut self, id: u64, exchange: Exchange) {
        if let Some(record) = self.entries.iter_mut().find(|r| r.id == id) {
            match &mut record.event {
                Event::AlipayPhone { exchanges, .. } => {
                    exchanges.push_back(exchange);
                    while exchanges.len() > EXCHANGES_PER_CALL {
                        exchanges.pop_front();
                    }
                }
                Event::Wechat(_) | Event::AlipayLogin(_) => {}
            }
            self.bytes -= record.size;
            record.size = record.event.size();
            self.bytes += record.size;
            let record = record.clone();
            self.write_durably(&record);
        }
        self.trim();
    }

    /// Clears the journal, or one app's entries.
    pub(crate) fn clear(&mut self, app_id: Option<&str>) {
        if let Some(durable) = &self.durable {
            durable.clear(app_id);
        }
        match app_id {
            Some(id) => self.entries.retain(|r| r.app_id != id),
            None => self.entries.clear(),
        }
        self.bytes = self.entries.iter().map(|r| r.size).sum();
    }

    /// Drops the oldest entries while over either bound.
    fn trim(&mut self) {
        while self.entries.len() > JOURNAL_CAPACITY || self.bytes > JOURNAL_BYTES {
            match self.entries.pop_front() {
                Some(dropped) => self.bytes -= dropped.size,
                None => break,
            }
        }
    }
}

/// A journal entry as kept: formats on reading.
#[derive(Clone)]
struct Recorded {
    id: u64,
    time: std::time::SystemTime,
    app_id: String,
    event: Event,
    /// [`Event::size`], kept so that the byte count stays exact as events change.
    size: usize,
}

impl Recorded {
    /// The entry as the durable journal stores it: its flow, its verdict, its time and the
    /// rest of its JSON (the body `cache` holds, when it was made from the same call).
    fn row(&self, cache: &mut RowCache) -> crate::sim::journal_db::Row {
        let time = time::OffsetDateTime::from(self.time);
        let time_ms = (time.unix_timestamp_nanos() / 1_000_000) as i64;
        let row = |verdict, body| crate::sim::journal_db::Row {
            id: self.id,
            time_ms,
            time: rfc3339(time),
            app_id: self.app_id.clone(),
            flow: "alipay-phone",
            verdict,
            body,
        };
        if let Some(last) = PhoneCallBody::like(cache, self) {
            return row(last.verdict.clone(), last.body.clone());
        }
        let verdict_of = |verdict: &crate::oracle::Verdict| {
            serde_json::to_value(verdict)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
        };
        // Formatted with a blank id and time, which the body leaves out.
        let (flow, verdict, entry) = match &self.event {
            Event::AlipayPhone { .. } => {
                let entry = self
                    .entry_as(0, String::new())
                    .expect("an Alipay phone call");
                (
                    "alipay-phone",
                    verdict_of(&entry.verdict),
                    serde_json::to_string(&entry),
                )
            }
            Event::Wechat(entry) => {
                let entry = crate::sim::wechat::WechatJournalEntry {
                    id: 0,
                    time: String::new(),
                    ..(**entry).clone()
                };
                (
                    "wechat",
                    verdict_of(&entry.verdict),
                    serde_json::to_string(&entry),
                )
            }
            Event::AlipayLogin(entry) => {
                let entry = crate::sim::alipay_login::AlipayLoginJournalEntry {
                    id: 0,
                    time: String::new(),
                    app_id: self.app_id.clone(),
                    ..(**entry).clone()
                };
                ("alipay-login", None, serde_json::to_string(&entry))
            }
        };
        let body: Arc<str> = entry.map_or_else(|_| "{}".into(), |entry| body_of(&entry).into());
        PhoneCallBody::keep(cache, self, &verdict, &body);
        crate::sim::journal_db::Row {
            flow,
            ..row(verdict, body)
        }
    }

    /// The entry of an Alipay call; WeChat calls have their own shape.
    fn entry(&self) -> Option<JournalEntry> {
        self.entry_as(self.id, rfc3339(self.time.into()))
    }

    fn entry_as(&self, id: u64, time: String) -> Option<JournalEntry> {
        match &self.event {
            Event::AlipayPhone {
                fixture,
                action,
                exchanges,
                device_session,
            } => {
                let delivery = &fixture.delivery;
                Some(JournalEntry {
                    id,
                    time,
                    app_id: self.app_id.clone(),
                    scenario: fixture.scenario.clone(),
                    rule: delivery.expect.cause.clone(),
                    verdict: delivery.expect.verdict,
                    callback: delivery.callback,
                    action: *action,
                    payload: delivery.payload.clone(),
                    plaintext: delivery.expect.plaintext.clone(),
                    backend: exchanges.back().cloned(),
                    exchanges: exchanges.iter().cloned().collect(),
                    device_session: *device_session,
                })
            }
            Event::Wechat(_) | Event::AlipayLogin(_) => None,
        }
    }
}

/// The body of the last Alipay phone call formatted, and what it was made from, kept in the
/// durable journal's [`RowCache`]. A call answered with the same fixture (shared by
/// [`crate::sim::alipay::LastAnswer`]), by the same action, app and device session and with
/// no backend exchange yet, has the same body: a scenario called again and again is
/// formatted once.
struct PhoneCallBody {
    fixture: Arc<Fixture>,
    action: ActionKind,
    device_session: u64,
    app_id: String,
    verdict: Option<String>,
    body: Arc<str>,
}

impl PhoneCallBody {
    /// The body `cache` holds, if `record` would be formatted to it.
    fn like<'a>(cache: &'a RowCache, record: &Recorded) -> Option<&'a PhoneCallBody> {
        let last = cache.as_ref()?.downcast_ref::<PhoneCallBody>()?;
        let Event::AlipayPhone {
            fixture,
            action,
            exchanges,
            device_session,
        } = &record.event
        else {
            return None;
        };
        (Arc::ptr_eq(fixture, &last.fixture)
            && *action == last.action
            && exchanges.is_empty()
            && *device_session == last.device_session
            && record.app_id == last.app_id)
            .then_some(last)
    }

    /// Keeps `record`'s body in `cache`, when a later call can share it.
    fn keep(
        cache: &mut crate::sim::journal_db::RowCache,
        record: &Recorded,
        verdict: &Option<String>,
        body: &Arc<str>,
    ) {
        if let Event::AlipayPhone {
            fixture,
            action,
            exchanges,
            device_session,
        } = &record.event
        {
            if exchanges.is_empty() {
                *cache = Some(Box::new(PhoneCallBody {
                    fixture: fixture.clone(),
                    action: *action,
                    device_session: *device_session,
                    app_id: record.app_id.clone(),
                    verdict: verdict.clone(),
                    body: body.clone(),
                }));
            }
        }
    }
}

/// An entry's JSON, formatted with id 0 and an empty time, less those two fields.
fn body_of(entry: &str) -> String {
    const BLANK: &str = r#"{"id":0,"time":"","#;
    match entry.strip_prefix(BLANK) {
        Some(rest) => format!("{{{rest}"),
        // Every entry type begins with id and time; should one not, drop them by name.
        None => match serde_json::from_str::<Value>(entry) {
            Ok(Value::Object(mut fields)) => {
                fields.shift_remove("id");
                fields.shift_remove("time");
                Value::Object(fields).to_string()
            }
            _ => "{}".into(),
        },
    }
}

pub(crate) fn rfc3339(time: time::OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}
