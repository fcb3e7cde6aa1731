//! The journal: every call the simulator answered, newest last, bounded in count and bytes.
//!
//! An entry keeps its [`Event`], a closed, tagged set of what can happen (today one kind: an
//! Alipay `my.getPhoneNumber` call, with what a backend answered to its envelope), and is
//! formatted for readers only when read.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alipay::scenario::Fixture;
use crate::sim::exchange::Exchange;

/// How many calls the journal keeps, all apps together; older ones are dropped.
pub const JOURNAL_CAPACITY: usize = 1000;
/// About how many bytes the journal keeps, all apps together; older calls are dropped.
pub const JOURNAL_BYTES: usize = 8 * 1024 * 1024;

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
    /// Exactly what the callback received.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// The decrypted content a backend reads, on `accept`; else null.
    #[schema(value_type = Option<Object>, required)]
    pub plaintext: Option<Value>,
    /// What the envelope's backend answered, when the device page sent it there.
    #[schema(required)]
    pub backend: Option<Exchange>,
}

/// What happened, as the journal keeps it: a closed set, one variant per platform flow.
pub(crate) enum Event {
    /// A `my.getPhoneNumber` call: its fixture (shared with the answer that carried it) and
    /// what a developer's backend answered to its envelope, once the device page sent it.
    AlipayPhone {
        fixture: Arc<Fixture>,
        backend: Option<Exchange>,
    },
}

impl Event {
    /// About what the event takes, cheaply: the envelope, what a backend exchange holds, and
    /// a fixed allowance for the rest.
    fn size(&self) -> usize {
        match self {
            Event::AlipayPhone { fixture, backend } => {
                let envelope = fixture.delivery.envelope().map_or(0, str::len);
                let exchange = backend.as_ref().map_or(0, |e| {
                    e.url.len()
                        + e.request_body.len()
                        + e.body.len()
                        + e.headers
                            .iter()
                            .map(|(k, v)| k.len() + v.len())
                            .sum::<usize>()
                });
                512 + envelope + exchange
            }
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
}

impl Journal {
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
        self.entries.push_back(record);
        self.trim();
        self.next_id
    }

    /// One entry, if it is still kept.
    pub(crate) fn entry(&self, id: u64) -> Option<JournalEntry> {
        self.entries
            .iter()
            .find(|r| r.id == id)
            .map(Recorded::entry)
    }

    /// Entries, newest first, optionally of one app, at most `limit`.
    pub(crate) fn entries(&self, app_id: Option<&str>, limit: usize) -> Vec<JournalEntry> {
        self.entries
            .iter()
            .rev()
            .filter(|r| app_id.is_none_or(|id| r.app_id == id))
            .take(limit)
            .map(Recorded::entry)
            .collect()
    }

    /// Attaches what a backend answered to the call whose envelope it was sent.
    pub(crate) fn attach_backend_exchange(&mut self, id: u64, exchange: Exchange) {
        if let Some(record) = self.entries.iter_mut().find(|r| r.id == id) {
            match &mut record.event {
                Event::AlipayPhone { backend, .. } => *backend = Some(exchange),
            }
            self.bytes -= record.size;
            record.size = record.event.size();
            self.bytes += record.size;
        }
        self.trim();
    }

    /// Clears the journal, or one app's entries.
    pub(crate) fn clear(&mut self, app_id: Option<&str>) {
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
struct Recorded {
    id: u64,
    time: std::time::SystemTime,
    app_id: String,
    event: Event,
    /// [`Event::size`], kept so that the byte count stays exact as events change.
    size: usize,
}

impl Recorded {
    fn entry(&self) -> JournalEntry {
        match &self.event {
            Event::AlipayPhone { fixture, backend } => {
                let delivery = &fixture.delivery;
                JournalEntry {
                    id: self.id,
                    time: rfc3339(self.time.into()),
                    app_id: self.app_id.clone(),
                    scenario: fixture.scenario.clone(),
                    rule: delivery.expect.cause.clone(),
                    verdict: delivery.expect.verdict,
                    callback: delivery.callback,
                    payload: delivery.payload.clone(),
                    plaintext: delivery.expect.plaintext.clone(),
                    backend: backend.clone(),
                }
            }
        }
    }
}

pub(crate) fn rfc3339(time: time::OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}
