//! The durable journal: every journal event is also kept in SQLite (`journal.sqlite` in the
//! data directory), so that what happened outlives a restart, a crash or a SIGKILL.
//!
//! A writer thread of its own takes the events from a channel. It appends each batch it
//! finds there to a log (`journal.sqlite-log`, one `write` per batch: once it returns the
//! events survive the process being killed) and moves the log into SQLite at most every
//! [`INGEST_EVERY`], in one transaction, emptying the log; opening the journal moves in
//! whatever a killed run left in it. The request path only sends; a caller that must not
//! answer before its events are safe awaits [`JournalDb::durable`], which waits for the
//! write holding them (a group commit: under load one write serves many requests). Readers
//! ask the writer to move the log in first, so they see every event sent before them. The
//! journal keeps at most `retention` entries, the oldest dropped.
//!
//! An entry is stored as a small row (id, time, what the filters read) and its body, the rest
//! of its JSON, once per distinct body (in the log: once per body between two emptyings): a
//! scenario called again and again writes one body and many rows of a hundred bytes. The
//! writer counts each body's rows and drops a body with its last row.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many entries the durable journal keeps by default.
pub const DEFAULT_RETENTION: u64 = 50_000;
const FILE_NAME: &str = "journal.sqlite";
/// The log of events not yet in SQLite, beside it.
const LOG_NAME: &str = "journal.sqlite-log";
/// How long an event stays in the log at most before it is moved into SQLite.
pub(crate) const INGEST_EVERY: Duration = Duration::from_millis(100);
/// How many events the log holds at most before they are moved into SQLite.
const INGEST_ROWS: usize = 16_384;

/// One entry as stored: what the filters read, its time as shown, and the rest of its JSON.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: u64,
    pub(crate) time_ms: i64,
    /// The entry's `time`, as the API shows it.
    pub(crate) time: String,
    pub(crate) app_id: String,
    /// `alipay-phone`, `alipay-login` or `wechat`.
    pub(crate) flow: &'static str,
    pub(crate) verdict: Option<String>,
    /// The entry's JSON object less `id` and `time`, written once on the writer thread.
    pub(crate) body: String,
}

impl Row {
    /// The entry as the API shows it: `id` and `time` first, then the body's fields.
    pub(crate) fn entry(&self) -> Result<Value, String> {
        entry_of(self.id, &self.time, &self.body)
    }
}

fn entry_of(id: u64, time: &str, body: &str) -> Result<Value, String> {
    let body: serde_json::Map<String, Value> =
        serde_json::from_str(body).map_err(|e| format!("a journal body: {e}"))?;
    let mut entry = serde_json::Map::with_capacity(body.len() + 2);
    entry.insert("id".into(), id.into());
    entry.insert("time".into(), time.into());
    entry.extend(body);
    Ok(Value::Object(entry))
}

/// The body's key in the `bodies` table: a 64-bit hash of its text (SipHash with fixed keys,
/// the same in every run).
fn body_key(body: &str) -> i64 {
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish() as i64
}

enum Write {
    /// A new entry, or a newer version of one (a backend exchange attached).
    Put(Box<dyn FnOnce() -> Row + Send>),
    Clear(Option<String>),
    /// Move the log into SQLite now, then say so.
    Flush(std::sync::mpsc::Sender<()>),
}

/// An event as the log keeps it, one JSON line each: written from the event's own fields,
/// read back owned.
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
enum Logged<'a> {
    Put {
        id: u64,
        time_ms: i64,
        time: Cow<'a, str>,
        app_id: Cow<'a, str>,
        flow: Cow<'a, str>,
        verdict: Option<Cow<'a, str>>,
        key: i64,
        /// The body, the first time the log holds it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<Cow<'a, str>>,
    },
    Clear {
        app_id: Option<Cow<'a, str>>,
    },
}

impl Logged<'_> {
    /// Appends the event's line to `lines`.
    fn write_to(&self, lines: &mut Vec<u8>) {
        let _ = serde_json::to_writer(&mut *lines, self);
        lines.push(b'\n');
    }
}

/// An event on its way into SQLite.
enum Pending {
    /// A row, and its body's key.
    Put(Row, i64),
    Clear(Option<String>),
}

/// The flow names rows carry.
fn flow_named(name: &str) -> Option<&'static str> {
    ["alipay-phone", "alipay-login", "wechat"]
        .into_iter()
        .find(|flow| *flow == name)
}

/// How often the writer looks in its inbox while events come: at most, and at least.
const POLL: Duration = Duration::from_micros(100);
const POLL_AT_MOST: Duration = Duration::from_micros(1600);
/// How long no event comes before the writer sleeps until one does.
const IDLE: Duration = Duration::from_millis(20);

/// The writer's inbox. Events wait here without waking the writer, which looks every
/// [`POLL`] to [`POLL_AT_MOST`] while they come: waking a thread per event costs the request path more than
/// writing the event does. After [`IDLE`] without one it sleeps, and the next event wakes it.
#[derive(Default)]
struct Inbox {
    state: std::sync::Mutex<InboxState>,
    arrived: std::sync::Condvar,
}

#[derive(Default)]
struct InboxState {
    writes: Vec<Write>,
    writer_asleep: bool,
    /// The journal is dropped: the writer moves in what it has and stops.
    closed: bool,
}

impl Inbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Leaves `write` for the writer, waking it if it sleeps or `now`. False if the writer
    /// has stopped.
    fn send(&self, write: Write, now: bool) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.writes.push(write);
        if state.writer_asleep || now {
            state.writer_asleep = false;
            self.arrived.notify_one();
        }
        true
    }
}

/// The durable journal's writer and its readers.
pub(crate) struct JournalDb {
    path: PathBuf,
    inbox: Arc<Inbox>,
    /// The writer thread, joined on drop: a journal opened again finds its log moved in.
    writer: Option<std::thread::JoinHandle<()>>,
    /// Writes sent so far, and writes committed (or given up on) so far.
    enqueued: AtomicU64,
    committed: Arc<tokio::sync::watch::Sender<u64>>,
}

/// What `GET /api/v1/journal/history` filters by.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub app_id: Option<String>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
    pub verdict: Option<String>,
    pub flow: Option<String>,
    pub limit: u64,
    /// Oldest first (the export), instead of newest first.
    pub oldest_first: bool,
}

impl JournalDb {
    /// Opens (or creates) the durable journal in `dir`, private to its owner, and starts its
    /// writer. Gives the highest id it holds, for the live journal to go on from.
    pub(crate) fn open(dir: &Path, retention: u64) -> Result<(JournalDb, u64), String> {
        let path = dir.join(FILE_NAME);
        let mut connection = connect(&path)?;
        create_tables(&mut connection).map_err(|e| format!("{}: {e}", path.display()))?;
        #[cfg(unix)]
        for file in [
            path.clone(),
            dir.join(LOG_NAME),
            dir.join(format!("{FILE_NAME}-wal")),
            dir.join(format!("{FILE_NAME}-shm")),
        ] {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
        let last: u64 = connection
            .query_row("SELECT COALESCE(MAX(id), 0) FROM calls", [], |row| {
                row.get(0)
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let log_path = dir.join(LOG_NAME);
        let mut writer = Writer::new(connection, retention, last, &log_path)?;
        let last = writer
            .move_in_left_over(&log_path)
            .map_err(|e| format!("{}: {e}", log_path.display()))?
            .max(last);
        let inbox = Arc::new(Inbox::default());
        let writer_inbox = inbox.clone();
        let committed = Arc::new(tokio::sync::watch::Sender::new(0u64));
        let done = committed.clone();
        let shown = path.display().to_string();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(&writer_inbox, &done, &shown))
            .map_err(|e| format!("starting the journal writer: {e}"))?;
        Ok((
            JournalDb {
                path,
                inbox,
                writer: Some(writer),
                enqueued: AtomicU64::new(0),
                committed,
            },
            last,
        ))
    }

    /// Writes an entry (made on the writer thread: formatting stays off the request path).
    pub(crate) fn put(&self, make: impl FnOnce() -> Row + Send + 'static) {
        self.send(Write::Put(Box::new(make)));
    }

    /// Clears the durable journal, or one app's entries.
    pub(crate) fn clear(&self, app_id: Option<&str>) {
        self.send(Write::Clear(app_id.map(String::from)));
    }

    fn send(&self, write: Write) {
        self.enqueued.fetch_add(1, Ordering::SeqCst);
        if !self.inbox.send(write, false) {
            // The writer is gone (it logged why): nobody must wait for it.
            self.committed.send_modify(|c| *c += 1);
        }
    }

    /// Waits until everything sent so far is committed.
    pub(crate) async fn durable(&self) {
        let target = self.enqueued.load(Ordering::SeqCst);
        if *self.committed.borrow() >= target {
            return;
        }
        let mut watcher = self.committed.subscribe();
        let _ = watcher.wait_for(|done| *done >= target).await;
    }

    /// Entries matching `query`, as the API shows them. Blocking: call it off the async
    /// workers.
    pub(crate) fn history(&self, query: &HistoryQuery) -> Result<Vec<Value>, String> {
        let (moved_in, wait) = std::sync::mpsc::channel();
        if self.inbox.send(Write::Flush(moved_in), true) {
            // An error means the writer is gone: SQLite holds what it could write.
            let _ = wait.recv();
        }
        let connection = connect(&self.path)?;
        let order = if query.oldest_first { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT c.id, c.time, b.body FROM calls c JOIN bodies b ON b.key = c.body \
             WHERE (?1 IS NULL OR c.app_id = ?1) AND (?2 IS NULL OR c.time_ms >= ?2) \
             AND (?3 IS NULL OR c.time_ms < ?3) AND (?4 IS NULL OR c.verdict = ?4) AND (?5 IS NULL OR c.flow = ?5) \
             ORDER BY c.id {order} LIMIT ?6"
        );
        let mut statement = connection.prepare(&sql).map_err(|e| e.to_string())?;
        let rows = statement
            .query_map(
                rusqlite::params![
                    query.app_id,
                    query.since_ms,
                    query.until_ms,
                    query.verdict,
                    query.flow,
                    query.limit as i64
                ],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                },
            )
            .map_err(|e| e.to_string())?;
        rows.map(|row| {
            let (id, time, body) = row.map_err(|e| e.to_string())?;
            entry_of(id as u64, &time, &body)
        })
        .collect()
    }
}

impl Drop for JournalDb {
    fn drop(&mut self) {
        self.inbox.lock().closed = true;
        self.inbox.arrived.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl HistoryQuery {
    /// Whether `row` passes the filters.
    pub(crate) fn admits(&self, row: &Row) -> bool {
        self.app_id.as_ref().is_none_or(|a| *a == row.app_id)
            && self.since_ms.is_none_or(|t| row.time_ms >= t)
            && self.until_ms.is_none_or(|t| row.time_ms < t)
            && self
                .verdict
                .as_ref()
                .is_none_or(|v| row.verdict.as_ref() == Some(v))
            && self.flow.as_ref().is_none_or(|f| f == row.flow)
    }
}

fn connect(path: &Path) -> Result<rusqlite::Connection, String> {
    let connection =
        rusqlite::Connection::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // WAL with synchronous=NORMAL: a commit survives the process being killed (the OS has the
    // pages), without an fsync per commit.
    connection
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(connection)
}

/// Creates the tables, and moves the entries of an older journal (one table holding each
/// entry's whole JSON) into them.
fn create_tables(connection: &mut rusqlite::Connection) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    transaction.execute_batch(
        "CREATE TABLE IF NOT EXISTS bodies (
            key INTEGER PRIMARY KEY,
            body TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS calls (
            id INTEGER PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            time TEXT NOT NULL,
            app_id TEXT NOT NULL,
            flow TEXT NOT NULL,
            verdict TEXT,
            body INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS calls_app_time ON calls (app_id, time_ms);",
    )?;
    let older: bool = transaction.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal')",
        [],
        |row| row.get(0),
    )?;
    if older {
        let moved: Vec<(i64, i64, String, String, Option<String>, String)> = transaction
            .prepare("SELECT id, time_ms, app_id, flow, verdict, entry FROM journal")?
            .query_map([], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (id, time_ms, app_id, flow, verdict, entry) in moved {
            let Ok(Value::Object(mut fields)) = serde_json::from_str::<Value>(&entry) else {
                continue;
            };
            let time = fields
                .shift_remove("time")
                .and_then(|t| t.as_str().map(String::from))
                .unwrap_or_default();
            fields.shift_remove("id");
            let body = Value::Object(fields).to_string();
            let key = body_key(&body);
            transaction.execute(
                "INSERT OR IGNORE INTO bodies (key, body) VALUES (?1, ?2)",
                rusqlite::params![key, body],
            )?;
            transaction.execute(
                "INSERT OR REPLACE INTO calls (id, time_ms, time, app_id, flow, verdict, body) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![id, time_ms, time, app_id, flow, verdict, key],
            )?;
        }
        transaction.execute_batch("DROP TABLE journal")?;
    }
    transaction.commit()
}

fn count_rows_per_body(connection: &rusqlite::Connection) -> rusqlite::Result<HashMap<i64, u64>> {
    connection
        .prepare("SELECT body, COUNT(*) FROM calls GROUP BY body")?
        .query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)? as u64))
        })?
        .collect()
}

/// The writer thread's side: its connection, its log, and how many rows hold each body.
struct Writer {
    connection: rusqlite::Connection,
    retention: u64,
    /// Rows per body key, exactly as the tables hold them.
    rows_per_body: HashMap<i64, u64>,
    /// The highest id written: a put at or below it replaces a row.
    newest: u64,
    log: std::fs::File,
    /// The bodies the log holds since it was last emptied.
    logged_bodies: HashSet<i64>,
    /// What the log holds and SQLite does not yet.
    pending: Vec<Pending>,
}

impl Writer {
    fn new(
        connection: rusqlite::Connection,
        retention: u64,
        newest: u64,
        log_path: &Path,
    ) -> Result<Writer, String> {
        let shown = |e: &dyn std::fmt::Display| format!("{}: {e}", log_path.display());
        let rows_per_body = count_rows_per_body(&connection).map_err(|e| shown(&e))?;
        // Bodies no row holds (left by a crash between the two deletes of an earlier run).
        connection
            .execute(
                "DELETE FROM bodies WHERE key NOT IN (SELECT body FROM calls)",
                [],
            )
            .map_err(|e| shown(&e))?;
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let log = options.open(log_path).map_err(|e| shown(&e))?;
        Ok(Writer {
            connection,
            retention,
            rows_per_body,
            newest,
            log,
            logged_bodies: HashSet::new(),
            pending: Vec::new(),
        })
    }

    /// Moves into SQLite what the log holds (a run killed before moving it in); gives the
    /// highest id it held.
    fn move_in_left_over(&mut self, log_path: &Path) -> Result<u64, String> {
        let file = std::fs::File::open(log_path).map_err(|e| e.to_string())?;
        let mut bodies: HashMap<i64, String> = HashMap::new();
        let mut highest = 0;
        for line in std::io::BufReader::new(file).lines() {
            let Ok(line) = line else { break };
            // A line cut short by the kill is the last one: what it held was never answered.
            let Ok(logged) = serde_json::from_str::<Logged>(&line) else {
                continue;
            };
            match logged {
                Logged::Put {
                    id,
                    time_ms,
                    time,
                    app_id,
                    flow,
                    verdict,
                    key,
                    body,
                } => {
                    if let Some(body) = body {
                        bodies.insert(key, body.into_owned());
                    }
                    let (Some(flow), Some(body)) = (flow_named(&flow), bodies.get(&key)) else {
                        continue;
                    };
                    highest = highest.max(id);
                    let row = Row {
                        id,
                        time_ms,
                        time: time.into_owned(),
                        app_id: app_id.into_owned(),
                        flow,
                        verdict: verdict.map(Cow::into_owned),
                        body: body.clone(),
                    };
                    self.pending.push(Pending::Put(row, key));
                }
                Logged::Clear { app_id } => self
                    .pending
                    .push(Pending::Clear(app_id.map(Cow::into_owned))),
            }
        }
        self.move_in().map_err(|e| e.to_string())?;
        Ok(highest)
    }

    fn run(mut self, inbox: &Inbox, committed: &tokio::sync::watch::Sender<u64>, path: &str) {
        let mut deadline: Option<Instant> = None;
        let mut last_event = Instant::now();
        let mut poll = POLL;
        let mut line = Vec::new();
        loop {
            let writes = {
                let mut state = inbox.lock();
                if state.writes.is_empty() && !state.closed {
                    if last_event.elapsed() < IDLE {
                        drop(state);
                        std::thread::sleep(poll);
                    } else {
                        state.writer_asleep = true;
                        let sleep = deadline.map_or(Duration::MAX, |d| {
                            d.saturating_duration_since(Instant::now())
                        });
                        let (mut state, _) = inbox
                            .arrived
                            .wait_timeout_while(state, sleep, |s| s.writes.is_empty() && !s.closed)
                            .unwrap_or_else(|p| p.into_inner());
                        state.writer_asleep = false;
                    }
                    inbox.lock()
                } else {
                    state
                }
                .writes
                .split_off(0)
            };
            if writes.is_empty() && inbox.lock().closed {
                break;
            }
            // Looking more often while events come, less often while they do not: an empty
            // look costs a context switch and finds nothing.
            if writes.is_empty() {
                poll = (poll * 2).min(POLL_AT_MOST);
            } else {
                last_event = Instant::now();
                poll = (poll / 2).max(POLL);
            }
            let mut count = 0u64;
            let mut flushes = Vec::new();
            line.clear();
            for write in writes {
                match write {
                    Write::Put(make) => {
                        count += 1;
                        let row = make();
                        let key = body_key(&row.body);
                        Logged::Put {
                            id: row.id,
                            time_ms: row.time_ms,
                            time: Cow::Borrowed(&row.time),
                            app_id: Cow::Borrowed(&row.app_id),
                            flow: Cow::Borrowed(row.flow),
                            verdict: row.verdict.as_deref().map(Cow::Borrowed),
                            key,
                            body: self
                                .logged_bodies
                                .insert(key)
                                .then_some(Cow::Borrowed(row.body.as_str())),
                        }
                        .write_to(&mut line);
                        self.pending.push(Pending::Put(row, key));
                    }
                    Write::Clear(app_id) => {
                        count += 1;
                        Logged::Clear {
                            app_id: app_id.as_deref().map(Cow::Borrowed),
                        }
                        .write_to(&mut line);
                        self.pending.push(Pending::Clear(app_id));
                    }
                    Write::Flush(reply) => flushes.push(reply),
                }
            }
            if !line.is_empty() {
                if let Err(error) = self.log.write_all(&line) {
                    tracing::warn!(%error, path, "the durable journal could not write its log");
                }
            }
            if count > 0 {
                committed.send_modify(|done| *done += count);
            }
            let due = deadline.is_some_and(|d| Instant::now() >= d);
            if !flushes.is_empty() || due || self.pending.len() >= INGEST_ROWS {
                if let Err(error) = self.move_in() {
                    tracing::warn!(%error, path, "the durable journal could not write a batch");
                }
                deadline = None;
                for reply in flushes {
                    let _ = reply.send(());
                }
            } else if deadline.is_none() && !self.pending.is_empty() {
                deadline = Some(Instant::now() + INGEST_EVERY);
            }
        }
        if let Err(error) = self.move_in() {
            tracing::warn!(%error, path, "the durable journal could not write a batch");
        }
    }

    /// Moves what the log holds into SQLite, in one transaction, and empties the log.
    fn move_in(&mut self) -> rusqlite::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        match self.commit(pending) {
            Ok(()) => {
                // Kept in SQLite now: the log starts again.
                if let Err(error) = self.log.set_len(0) {
                    tracing::warn!(%error, "the durable journal could not empty its log");
                }
                self.logged_bodies.clear();
                Ok(())
            }
            Err(error) => {
                // The transaction rolled back: count the rows again. The log keeps the events
                // until the next emptying.
                if let Ok(counts) = count_rows_per_body(&self.connection) {
                    self.rows_per_body = counts;
                }
                Err(error)
            }
        }
    }

    fn commit(&mut self, batch: Vec<Pending>) -> rusqlite::Result<()> {
        let transaction = self.connection.transaction()?;
        // Bodies whose count went to zero in this batch: deleted once, at the end.
        let mut released = Vec::new();
        let mut release = |counts: &mut HashMap<i64, u64>, key: i64| {
            if let Some(count) = counts.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&key);
                    released.push(key);
                }
            }
        };
        for write in batch {
            match write {
                Pending::Put(row, key) => {
                    if row.id <= self.newest {
                        let replaced = transaction
                            .prepare_cached("DELETE FROM calls WHERE id = ?1 RETURNING body")?
                            .query_map([row.id as i64], |r| r.get::<_, i64>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        for key in replaced {
                            release(&mut self.rows_per_body, key);
                        }
                    }
                    self.newest = self.newest.max(row.id);
                    let count = self.rows_per_body.entry(key).or_insert(0);
                    if *count == 0 {
                        transaction
                            .prepare_cached(
                                "INSERT OR REPLACE INTO bodies (key, body) VALUES (?1, ?2)",
                            )?
                            .execute(rusqlite::params![key, row.body])?;
                    }
                    *count += 1;
                    transaction
                        .prepare_cached(
                            "INSERT INTO calls (id, time_ms, time, app_id, flow, verdict, body) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        )?
                        .execute(rusqlite::params![
                            row.id as i64,
                            row.time_ms,
                            row.time,
                            row.app_id,
                            row.flow,
                            row.verdict,
                            key
                        ])?;
                }
                Pending::Clear(app_id) => {
                    let cleared = transaction
                        .prepare_cached(
                            "DELETE FROM calls WHERE ?1 IS NULL OR app_id = ?1 RETURNING body",
                        )?
                        .query_map([app_id], |r| r.get::<_, i64>(0))?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    for key in cleared {
                        release(&mut self.rows_per_body, key);
                    }
                }
            }
        }
        if self.newest > self.retention {
            let dropped = transaction
                .prepare_cached("DELETE FROM calls WHERE id <= ?1 RETURNING body")?
                .query_map([(self.newest - self.retention) as i64], |r| {
                    r.get::<_, i64>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for key in dropped {
                release(&mut self.rows_per_body, key);
            }
        }
        {
            let mut delete = transaction.prepare_cached("DELETE FROM bodies WHERE key = ?1")?;
            for key in released {
                // A body released and then taken again in the same batch stays.
                if !self.rows_per_body.contains_key(&key) {
                    delete.execute([key])?;
                }
            }
        }
        transaction.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, app_id: &str, body: &str) -> Row {
        Row {
            id,
            time_ms: 1_700_000_000_000 + id as i64,
            time: format!("2023-11-14T22:13:20.{id:03}Z"),
            app_id: app_id.into(),
            flow: "alipay-phone",
            verdict: Some("accept".into()),
            body: body.into(),
        }
    }

    fn all(db: &JournalDb) -> Vec<Value> {
        db.history(&HistoryQuery {
            limit: 1000,
            oldest_first: true,
            ..Default::default()
        })
        .unwrap()
    }

    /// How many bodies SQLite holds, once the log is moved in.
    fn bodies(db: &JournalDb, dir: &Path) -> i64 {
        all(db);
        connect(&dir.join(FILE_NAME))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM bodies", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_body_is_stored_once_and_goes_with_its_last_row() {
        let dir = tempfile::tempdir().unwrap();
        let (db, last) = JournalDb::open(dir.path(), 3).unwrap();
        assert_eq!(last, 0);
        for id in 1..=4 {
            db.put(move || row(id, "a", r#"{"app_id":"a","n":1}"#));
        }
        db.put(|| row(5, "a", r#"{"app_id":"a","n":2}"#));
        db.durable().await;
        // Retention 3: calls 3, 4 and 5, two bodies.
        let kept = all(&db);
        assert_eq!(
            kept.iter()
                .map(|e| e["id"].as_u64().unwrap())
                .collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(
            serde_json::to_string(&kept[0]).unwrap(),
            r#"{"id":3,"time":"2023-11-14T22:13:20.003Z","app_id":"a","n":1}"#
        );
        assert_eq!(bodies(&db, dir.path()), 2);
        // Call 3 replaced (a backend exchange attached): its old body still has call 4.
        db.put(|| row(3, "a", r#"{"app_id":"a","n":3}"#));
        db.durable().await;
        assert_eq!(all(&db)[0]["n"], 3);
        assert_eq!(bodies(&db, dir.path()), 3);
        // Past the retention the first body's last row goes, and the body with it.
        db.put(|| row(6, "b", r#"{"app_id":"b","n":2}"#));
        db.put(|| row(7, "b", r#"{"app_id":"b","n":2}"#));
        db.durable().await;
        assert_eq!(bodies(&db, dir.path()), 2);
        db.clear(Some("b"));
        db.durable().await;
        assert_eq!(all(&db).len(), 1);
        assert_eq!(bodies(&db, dir.path()), 1);
        drop(db);
        // A restart counts the rows again, and goes on from the last id kept.
        let (db, last) = JournalDb::open(dir.path(), 3).unwrap();
        assert_eq!(last, 5);
        db.put(|| row(6, "a", r#"{"app_id":"a","n":2}"#));
        db.clear(None);
        db.durable().await;
        assert!(all(&db).is_empty());
        assert_eq!(bodies(&db, dir.path()), 0);
    }

    #[tokio::test]
    async fn an_older_journal_is_moved_into_calls_and_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let older = connect(&dir.path().join(FILE_NAME)).unwrap();
        older
            .execute_batch(
                "CREATE TABLE journal (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,
                    app_id TEXT NOT NULL, flow TEXT NOT NULL, verdict TEXT, entry TEXT NOT NULL);
                 INSERT INTO journal VALUES
                    (1, 10, 'a', 'wechat', 'accept', '{\"id\":1,\"time\":\"t1\",\"app_id\":\"a\",\"x\":[1]}'),
                    (2, 20, 'a', 'wechat', 'reject', '{\"id\":2,\"time\":\"t2\",\"app_id\":\"a\",\"x\":[1]}');",
            )
            .unwrap();
        drop(older);
        let (db, last) = JournalDb::open(dir.path(), 10).unwrap();
        assert_eq!(last, 2);
        let kept = all(&db);
        assert_eq!(
            serde_json::to_string(&kept).unwrap(),
            r#"[{"id":1,"time":"t1","app_id":"a","x":[1]},{"id":2,"time":"t2","app_id":"a","x":[1]}]"#
        );
        assert_eq!(bodies(&db, dir.path()), 1);
        let verdicts = db
            .history(&HistoryQuery {
                verdict: Some("reject".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(verdicts.len(), 1);
    }

    #[tokio::test]
    async fn what_a_killed_run_left_in_the_log_is_moved_in_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = JournalDb::open(dir.path(), 10).unwrap();
        db.put(|| row(1, "a", r#"{"app_id":"a","n":1}"#));
        db.durable().await;
        assert_eq!(all(&db).len(), 1);
        drop(db);
        let key = body_key(r#"{"app_id":"a","n":2}"#);
        std::fs::write(
            dir.path().join(LOG_NAME),
            format!(
                concat!(
                    r#"{{"op":"put","id":2,"time_ms":2,"time":"t2","app_id":"a","flow":"wechat","verdict":null,"key":{k},"body":"{{\"app_id\":\"a\",\"n\":2}}"}}"#,
                    "\n",
                    r#"{{"op":"put","id":3,"time_ms":3,"time":"t3","app_id":"b","flow":"wechat","verdict":null,"key":{k}}}"#,
                    "\n",
                    r#"{{"op":"clear","app_id":"b"}}"#,
                    "\n",
                    r#"{{"op":"put","id":4,"time_ms":4,"time":"t4","app_id":"a","flow":"wechat","verdict":null,"key":{k}}}"#,
                    "\n",
                    r#"{{"op":"put","id":5,"time_"#
                ),
                k = key
            ),
        )
        .unwrap();
        let (db, last) = JournalDb::open(dir.path(), 10).unwrap();
        assert_eq!(last, 4);
        let kept = all(&db);
        assert_eq!(
            serde_json::to_string(&kept).unwrap(),
            concat!(
                r#"[{"id":1,"time":"2023-11-14T22:13:20.001Z","app_id":"a","n":1},"#,
                r#"{"id":2,"time":"t2","app_id":"a","n":2},{"id":4,"time":"t4","app_id":"a","n":2}]"#
            )
        );
        assert_eq!(bodies(&db, dir.path()), 2);
        assert_eq!(
            std::fs::metadata(dir.path().join(LOG_NAME)).unwrap().len(),
            0,
            "moved in, the log starts again"
        );
    }
}
