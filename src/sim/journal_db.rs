//! The durable journal: every journal event is also kept in SQLite (`journal.sqlite` in the
//! data directory), so that what happened outlives a restart, a crash or a SIGKILL.
//!
//! An event is appended, as one JSON line, to a buffer in memory where it is recorded; a
//! caller that must not answer before its events are safe awaits [`JournalDb::durable`],
//! which writes what the buffer holds to a log (`journal.sqlite-log`, one `write`: once it
//! returns the events survive the process being killed). The write runs on the caller's
//! async worker after the tasks ready there have had their turn, so under load one write
//! serves every request answered in that turn (a group commit), and no other thread has to
//! be woken for it. A writer thread moves the log into SQLite at most every
//! [`INGEST_EVERY`], in one transaction: it sets the log aside (`journal.sqlite-log.moving`,
//! a new log taking its place), commits its events, and deletes it. Opening the journal moves
//! in whatever a killed run left in either file. Readers move the log in first, so they see
//! every event recorded before them. The journal keeps at most `retention` entries, the
//! oldest dropped.
//!
//! An entry is stored as a small row (id, time, what the filters read) and its body, the rest
//! of its JSON, once per distinct body (in the log: once per body per log file): a scenario
//! called again and again writes one body and many rows of a hundred bytes. The writer
//! counts each body's rows and drops a body with its last row.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the code making rows keeps what it made last, for the next row to share (the
/// journal keeps the last body formatted): the writer does not look inside.
pub(crate) type RowCache = Option<Box<dyn std::any::Any + Send>>;

/// How many entries the durable journal keeps by default.
pub const DEFAULT_RETENTION: u64 = 50_000;
const FILE_NAME: &str = "journal.sqlite";
/// The log of events not yet in SQLite, beside it.
const LOG_NAME: &str = "journal.sqlite-log";
/// The log set aside while its events are moved into SQLite.
const MOVING_NAME: &str = "journal.sqlite-log.moving";
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
    /// The entry's JSON object less `id` and `time`, written on the writer thread (once for
    /// calls that share it, see [`RowCache`]).
    pub(crate) body: Arc<str>,
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

/// A body's hash: 64 bits of its text (SipHash with fixed keys, the same in every run), how
/// the log names a body and how the writer finds one it already stores. The `bodies` table
/// keys its rows in the order they came, not by this: a body added at the end of the table
/// and dropped from its start writes a page in a few bodies, where one placed by its hash
/// wrote a page of its own (21 KB written per call, `benches/request_path.sh`).
fn body_hash(body: &str) -> i64 {
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish() as i64
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
    /// A row, and its body's hash (the writer gives the body its key).
    Put(Row, i64),
    Clear(Option<String>),
}

/// The flow names rows carry.
fn flow_named(name: &str) -> Option<&'static str> {
    ["alipay-phone", "alipay-login", "wechat"]
        .into_iter()
        .find(|flow| *flow == name)
}

/// What is recorded and not yet in SQLite.
struct Log {
    /// Lines appended and not yet written to the log file.
    unwritten: Vec<u8>,
    /// Events appended so far: the last one's sequence number.
    appended: u64,
    /// Events in the log (written or not) and not yet in SQLite, in order.
    pending: Vec<Pending>,
    /// The bodies the log file holds, or will once `unwritten` is written.
    logged_bodies: HashSet<i64>,
    /// The last body formatted, for the rows that share it.
    row_cache: RowCache,
    /// The last body's key, for the rows that share its text.
    last_key: Option<(Arc<str>, i64)>,
    /// The journal is dropped: the writer moves in what is left and stops.
    closed: bool,
}

impl Log {
    /// `body`'s key, hashed once for the rows that share its text.
    fn key_of(&mut self, body: &Arc<str>) -> i64 {
        match &self.last_key {
            Some((last, key)) if Arc::ptr_eq(last, body) => *key,
            _ => {
                let key = body_hash(body);
                self.last_key = Some((body.clone(), key));
                key
            }
        }
    }

    /// Appends an event, its line to the buffer and the event to what SQLite has to take.
    fn append(&mut self, logged: &Logged, event: Pending) {
        logged.write_to(&mut self.unwritten);
        self.pending.push(event);
        self.appended += 1;
    }
}

/// The log file, and a buffer kept between writes.
struct LogFile {
    file: std::fs::File,
    writing: Vec<u8>,
}

/// What the journal's callers, its flushes and its writer thread share.
struct Shared {
    log: std::sync::Mutex<Log>,
    /// Wakes the writer thread: the first event since it last moved the log in, too many
    /// events, or the journal closing.
    wake: std::sync::Condvar,
    /// Held while writing to the log file and while setting it aside (taken before `log`).
    file: std::sync::Mutex<LogFile>,
    /// The SQLite side (taken before `file`).
    store: std::sync::Mutex<Writer>,
    /// [`Log::appended`], read without the lock.
    appended: AtomicU64,
    /// Events written to the log file (or given up on) so far.
    written: tokio::sync::watch::Sender<u64>,
    /// A flush is on its way and has not taken the buffer yet.
    flush_scheduled: AtomicBool,
    log_path: PathBuf,
    moving_path: PathBuf,
    shown: String,
}

fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// The durable journal, its writer thread and its readers.
pub(crate) struct JournalDb {
    path: PathBuf,
    shared: Arc<Shared>,
    /// The writer thread, joined on drop: a journal opened again finds its log moved in.
    writer: Option<std::thread::JoinHandle<()>>,
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
        let log_path = dir.join(LOG_NAME);
        let moving_path = dir.join(MOVING_NAME);
        #[cfg(unix)]
        for file in [
            path.clone(),
            log_path.clone(),
            moving_path.clone(),
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
        let mut writer = Writer::new(connection, retention, last, &log_path)?;
        // A killed run's events: the log it set aside first, then the log.
        let left_over = writer.move_in_left_over(&[&moving_path, &log_path])?;
        let file = open_log(&log_path)?;
        let (written, _) = tokio::sync::watch::channel(0u64);
        let shared = Arc::new(Shared {
            log: std::sync::Mutex::new(Log {
                unwritten: Vec::new(),
                appended: 0,
                pending: Vec::new(),
                logged_bodies: HashSet::new(),
                row_cache: None,
                last_key: None,
                closed: false,
            }),
            wake: std::sync::Condvar::new(),
            file: std::sync::Mutex::new(LogFile {
                file,
                writing: Vec::new(),
            }),
            store: std::sync::Mutex::new(writer),
            appended: AtomicU64::new(0),
            written,
            flush_scheduled: AtomicBool::new(false),
            log_path,
            moving_path,
            shown: path.display().to_string(),
        });
        let thread_shared = shared.clone();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || thread_shared.run_writer())
            .map_err(|e| format!("starting the journal writer: {e}"))?;
        Ok((
            JournalDb {
                path,
                shared,
                writer: Some(writer),
            },
            left_over.max(last),
        ))
    }

    /// Records an entry, made by `make` where it is recorded (under the journal's lock: the
    /// order of the log is the order of the calls).
    pub(crate) fn put(&self, make: impl FnOnce(&mut RowCache) -> Row) {
        let mut log = locked(&self.shared.log);
        let log = &mut *log;
        let row = make(&mut log.row_cache);
        let key = log.key_of(&row.body);
        let first_in_file = log.logged_bodies.insert(key);
        let logged = Logged::Put {
            id: row.id,
            time_ms: row.time_ms,
            time: Cow::Borrowed(&row.time),
            app_id: Cow::Borrowed(&row.app_id),
            flow: Cow::Borrowed(row.flow),
            verdict: row.verdict.as_deref().map(Cow::Borrowed),
            key,
            body: first_in_file.then_some(Cow::Borrowed(&*row.body)),
        };
        logged.write_to(&mut log.unwritten);
        log.pending.push(Pending::Put(row, key));
        log.appended += 1;
        self.appended(log);
    }

    /// Clears the durable journal, or one app's entries.
    pub(crate) fn clear(&self, app_id: Option<&str>) {
        let mut log = locked(&self.shared.log);
        log.append(
            &Logged::Clear {
                app_id: app_id.map(Cow::Borrowed),
            },
            Pending::Clear(app_id.map(String::from)),
        );
        self.appended(&log);
    }

    fn appended(&self, log: &Log) {
        self.shared.appended.store(log.appended, Ordering::Release);
        // Once per move-in, not once per event: the writer waits out the interval itself.
        if log.pending.len() == 1 || log.pending.len() == INGEST_ROWS {
            self.shared.wake.notify_one();
        }
    }

    /// Waits until every event recorded so far is written to the log. Under a tokio
    /// runtime: the write is spawned there, after the tasks that are ready have run.
    pub(crate) async fn durable(&self) {
        let target = self.shared.appended.load(Ordering::Acquire);
        if *self.shared.written.borrow() >= target {
            return;
        }
        let mut written = self.shared.written.subscribe();
        if !self.shared.flush_scheduled.swap(true, Ordering::AcqRel) {
            let flush = Flush(self.shared.clone());
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        // The other requests ready on this worker record theirs first: one
                        // write for all.
                        tokio::task::yield_now().await;
                        drop(flush);
                    });
                }
                Err(_) => drop(flush),
            }
        }
        let _ = written.wait_for(|done| *done >= target).await;
    }

    /// Entries matching `query`, as the API shows them. Blocking: call it off the async
    /// workers.
    pub(crate) fn history(&self, query: &HistoryQuery) -> Result<Vec<Value>, String> {
        if let Err(error) = self.shared.move_in() {
            // SQLite holds what it could take; the log keeps the rest.
            tracing::warn!(%error, path = self.shared.shown, "the durable journal could not move its log in");
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
        locked(&self.shared.log).closed = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// A flush on its way: made when dropped, so that one whose task never runs (its runtime
/// shutting down) still writes, and the next caller can schedule another.
struct Flush(Arc<Shared>);

impl Drop for Flush {
    fn drop(&mut self) {
        self.0.flush();
    }
}

impl Shared {
    /// Writes what the buffer holds to the log file, and says so.
    fn flush(&self) {
        // Before taking the buffer: whatever is appended after this needs a flush of its own.
        self.flush_scheduled.store(false, Ordering::Release);
        let mut file = locked(&self.file);
        let file = &mut *file;
        let upto = {
            let mut log = locked(&self.log);
            std::mem::swap(&mut log.unwritten, &mut file.writing);
            log.appended
        };
        self.write_out(file);
        self.written_upto(upto);
    }

    fn write_out(&self, file: &mut LogFile) {
        if !file.writing.is_empty() {
            if let Err(error) = file.file.write_all(&file.writing) {
                tracing::warn!(%error, path = self.shown, "the durable journal could not write its log");
            }
            file.writing.clear();
        }
    }

    fn written_upto(&self, upto: u64) {
        self.written.send_if_modified(|written| {
            let newer = upto > *written;
            if newer {
                *written = upto;
            }
            newer
        });
    }

    /// The writer thread: waits for an event, lets [`INGEST_EVERY`] pass (or
    /// [`INGEST_ROWS`] events come), moves the log in; until the journal closes.
    fn run_writer(&self) {
        loop {
            let mut log = locked(&self.log);
            while log.pending.is_empty() && !log.closed {
                log = self.wake.wait(log).unwrap_or_else(|p| p.into_inner());
            }
            let due = Instant::now() + INGEST_EVERY;
            while !log.closed && log.pending.len() < INGEST_ROWS {
                let left = due.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                log = self
                    .wake
                    .wait_timeout(log, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let closed = log.closed;
            drop(log);
            if let Err(error) = self.move_in() {
                tracing::warn!(%error, path = self.shown, "the durable journal could not write a batch");
            }
            if closed {
                return;
            }
        }
    }

    /// Moves what the log holds into SQLite: sets the log aside (a new one takes its place),
    /// commits its events in one transaction, and deletes it.
    fn move_in(&self) -> Result<(), String> {
        let mut store = locked(&self.store);
        // A batch that failed before is committed first; until it is, the log stays.
        if !store.retry.is_empty() {
            let mut retry = std::mem::take(&mut store.retry);
            let committed = store.commit_all(&mut retry);
            if committed.is_err() {
                store.retry = retry;
                return committed;
            }
            let _ = std::fs::remove_file(&self.moving_path);
        }
        let mut batch = std::mem::take(&mut store.spare);
        {
            let mut file = locked(&self.file);
            let file = &mut *file;
            let mut log = locked(&self.log);
            if log.pending.is_empty() {
                store.spare = batch;
                return Ok(());
            }
            // What was appended and not written goes to the file being set aside.
            std::mem::swap(&mut log.unwritten, &mut file.writing);
            let upto = log.appended;
            self.write_out(file);
            std::mem::swap(&mut log.pending, &mut batch);
            log.logged_bodies.clear();
            std::fs::rename(&self.log_path, &self.moving_path)
                .map_err(|e| format!("{}: {e}", self.log_path.display()))
                .and_then(|()| {
                    file.file = open_log(&self.log_path)?;
                    Ok(())
                })
                .inspect_err(|_| {
                    // The events stay where they are (nothing was appended meanwhile: the log
                    // is locked), for the next try.
                    std::mem::swap(&mut log.pending, &mut batch);
                })?;
            drop(log);
            self.written_upto(upto);
        }
        let committed = store.commit_all(&mut batch);
        if committed.is_err() {
            store.retry = batch;
            return committed;
        }
        store.spare = batch;
        let _ = std::fs::remove_file(&self.moving_path);
        Ok(())
    }
}

fn open_log(path: &Path) -> Result<std::fs::File, String> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
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
            hash INTEGER NOT NULL,
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
        -- No index besides the id: keeping one cost the writer a third of its time, and a
        -- query reads the rows newest (or oldest) first, by id, until it has its limit.
        DROP INDEX IF EXISTS calls_app_time;",
    )?;
    let older: bool = transaction.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'journal')",
        [],
        |row| row.get(0),
    )?;
    let keyed_by_hash: bool = transaction.query_row(
        "SELECT NOT EXISTS (SELECT 1 FROM pragma_table_info('bodies') WHERE name = 'hash')",
        [],
        |row| row.get(0),
    )?;
    if keyed_by_hash {
        // A journal of an earlier build, its bodies keyed by their hash: numbered in order.
        transaction.execute_batch(
            "ALTER TABLE bodies RENAME TO bodies_by_hash;
            CREATE TABLE bodies (
                key INTEGER PRIMARY KEY,
                hash INTEGER NOT NULL,
                body TEXT NOT NULL
            );
            DELETE FROM calls WHERE body NOT IN (SELECT key FROM bodies_by_hash);
            INSERT INTO bodies (hash, body)
                SELECT b.key, b.body FROM bodies_by_hash b
                ORDER BY (SELECT MIN(c.id) FROM calls c WHERE c.body = b.key);
            CREATE INDEX bodies_hash ON bodies (hash);
            UPDATE calls SET body = (SELECT b.key FROM bodies b WHERE b.hash = calls.body);
            DROP INDEX bodies_hash;
            DROP TABLE bodies_by_hash;",
        )?;
    }
    if older {
        let mut numbered: HashMap<i64, i64> = HashMap::new();
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
            let hash = body_hash(&body);
            let key = match numbered.get(&hash) {
                Some(&key) => key,
                None => {
                    transaction.execute(
                        "INSERT INTO bodies (hash, body) VALUES (?1, ?2)",
                        rusqlite::params![hash, body],
                    )?;
                    let key = transaction.last_insert_rowid();
                    numbered.insert(hash, key);
                    key
                }
            };
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

/// The bodies the tables hold, as [`Writer`] keeps them.
#[derive(Default)]
struct Bodies {
    /// Per body key: its hash, and how many rows hold it.
    rows: HashMap<i64, (i64, u64)>,
    /// The key of the body with this hash.
    by_hash: HashMap<i64, i64>,
    /// The key the next body gets: one past every key used.
    next_key: i64,
}

impl Bodies {
    /// Counted again from the tables.
    fn counted(connection: &rusqlite::Connection) -> rusqlite::Result<Bodies> {
        let mut bodies = Bodies {
            next_key: connection.query_row(
                "SELECT COALESCE(MAX(key), 0) + 1 FROM bodies",
                [],
                |r| r.get(0),
            )?,
            ..Bodies::default()
        };
        let mut statement = connection.prepare(
            "SELECT b.key, b.hash, COUNT(*) FROM calls c JOIN bodies b ON b.key = c.body GROUP BY b.key",
        )?;
        let counts = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)? as u64,
            ))
        })?;
        for count in counts {
            let (key, hash, rows) = count?;
            bodies.rows.insert(key, (hash, rows));
            bodies.by_hash.insert(hash, key);
        }
        Ok(bodies)
    }

    /// One row more for the body with `hash`: its key, and whether it is new (to be inserted).
    fn take(&mut self, hash: i64) -> (i64, bool) {
        let (key, new) = match self.by_hash.get(&hash) {
            Some(&key) => (key, false),
            None => {
                let key = self.next_key;
                self.next_key += 1;
                self.by_hash.insert(hash, key);
                (key, true)
            }
        };
        self.rows.entry(key).or_insert((hash, 0)).1 += 1;
        (key, new)
    }

    /// One row fewer for the body `key`; a body losing its last row goes into `released`.
    fn release(&mut self, key: i64, released: &mut Vec<i64>) {
        let Some((hash, rows)) = self.rows.get_mut(&key) else {
            return;
        };
        *rows -= 1;
        if *rows > 0 {
            return;
        }
        let hash = *hash;
        self.rows.remove(&key);
        if self.by_hash.get(&hash) == Some(&key) {
            self.by_hash.remove(&hash);
        }
        released.push(key);
    }
}

/// The SQLite side: the connection, and how many rows hold each body.
struct Writer {
    connection: rusqlite::Connection,
    retention: u64,
    /// The bodies stored, exactly as the tables hold them.
    bodies: Bodies,
    /// The highest id written: a put at or below it replaces a row.
    newest: u64,
    /// A batch whose commit failed, with the log it came from still set aside.
    retry: Vec<Pending>,
    /// An emptied batch, kept with its capacity: growing one each time costs fresh pages.
    spare: Vec<Pending>,
}

impl Writer {
    fn new(
        connection: rusqlite::Connection,
        retention: u64,
        newest: u64,
        log_path: &Path,
    ) -> Result<Writer, String> {
        let shown = |e: &dyn std::fmt::Display| format!("{}: {e}", log_path.display());
        let bodies = Bodies::counted(&connection).map_err(|e| shown(&e))?;
        // Bodies no row holds (left by a crash between the two deletes of an earlier run).
        connection
            .execute(
                "DELETE FROM bodies WHERE key NOT IN (SELECT body FROM calls)",
                [],
            )
            .map_err(|e| shown(&e))?;
        Ok(Writer {
            connection,
            retention,
            bodies,
            newest,
            retry: Vec::new(),
            spare: Vec::new(),
        })
    }

    /// Moves into SQLite what the logs hold (a run killed before moving them in), oldest
    /// first, and empties them; gives the highest id they held.
    fn move_in_left_over(&mut self, logs: &[&Path]) -> Result<u64, String> {
        let mut batch = Vec::new();
        let mut highest = 0;
        for path in logs {
            let file = match std::fs::File::open(path) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            };
            // Each log names a body once, with its first row.
            let mut bodies: HashMap<i64, Arc<str>> = HashMap::new();
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
                            bodies.insert(key, body.into());
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
                        batch.push(Pending::Put(row, key));
                    }
                    Logged::Clear { app_id } => {
                        batch.push(Pending::Clear(app_id.map(Cow::into_owned)))
                    }
                }
            }
        }
        self.commit_all(&mut batch)?;
        for path in logs {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        Ok(highest)
    }

    /// Commits `batch` in one transaction, emptying it (its capacity kept).
    fn commit_all(&mut self, batch: &mut Vec<Pending>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        match self.commit(batch.iter()) {
            Ok(()) => {
                batch.clear();
                Ok(())
            }
            Err(error) => {
                // The transaction rolled back: count the rows again.
                if let Ok(bodies) = Bodies::counted(&self.connection) {
                    // Keys stay unique: one a failed batch used is not given again.
                    let next_key = self.bodies.next_key.max(bodies.next_key);
                    self.bodies = Bodies { next_key, ..bodies };
                }
                Err(error.to_string())
            }
        }
    }

    fn commit<'a>(&mut self, batch: impl Iterator<Item = &'a Pending>) -> rusqlite::Result<()> {
        let transaction = self.connection.transaction()?;
        let bodies = &mut self.bodies;
        // Bodies whose last row went in this batch: deleted once, at the end.
        let mut released = Vec::new();
        // Prepared once for the batch, not once per row.
        let mut replace_call =
            transaction.prepare_cached("DELETE FROM calls WHERE id = ?1 RETURNING body")?;
        let mut insert_body = transaction
            .prepare_cached("INSERT INTO bodies (key, hash, body) VALUES (?1, ?2, ?3)")?;
        let mut insert_call = transaction.prepare_cached(
            "INSERT INTO calls (id, time_ms, time, app_id, flow, verdict, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for write in batch {
            match write {
                Pending::Put(row, hash) => {
                    if row.id <= self.newest {
                        let replaced = replace_call
                            .query_map([row.id as i64], |r| r.get::<_, i64>(0))?
                            .collect::<rusqlite::Result<Vec<_>>>()?;
                        for key in replaced {
                            bodies.release(key, &mut released);
                        }
                    }
                    self.newest = self.newest.max(row.id);
                    let (key, new) = bodies.take(*hash);
                    if new {
                        insert_body.execute(rusqlite::params![key, hash, &*row.body])?;
                    }
                    insert_call.execute(rusqlite::params![
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
                        bodies.release(key, &mut released);
                    }
                }
            }
        }
        drop((replace_call, insert_body, insert_call));
        if self.newest > self.retention {
            let dropped = transaction
                .prepare_cached("DELETE FROM calls WHERE id <= ?1 RETURNING body")?
                .query_map([(self.newest - self.retention) as i64], |r| {
                    r.get::<_, i64>(0)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for key in dropped {
                bodies.release(key, &mut released);
            }
        }
        {
            // A body taken again after its last row went gets a new key: these have no rows.
            let mut delete = transaction.prepare_cached("DELETE FROM bodies WHERE key = ?1")?;
            for key in released {
                delete.execute([key])?;
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
            db.put(move |_| row(id, "a", r#"{"app_id":"a","n":1}"#));
        }
        db.put(|_| row(5, "a", r#"{"app_id":"a","n":2}"#));
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
        db.put(|_| row(3, "a", r#"{"app_id":"a","n":3}"#));
        db.durable().await;
        assert_eq!(all(&db)[0]["n"], 3);
        assert_eq!(bodies(&db, dir.path()), 3);
        // Past the retention the first body's last row goes, and the body with it.
        db.put(|_| row(6, "b", r#"{"app_id":"b","n":2}"#));
        db.put(|_| row(7, "b", r#"{"app_id":"b","n":2}"#));
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
        db.put(|_| row(6, "a", r#"{"app_id":"a","n":2}"#));
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
    async fn bodies_keyed_by_their_hash_are_numbered_in_the_order_of_their_calls() {
        let dir = tempfile::tempdir().unwrap();
        let older = connect(&dir.path().join(FILE_NAME)).unwrap();
        let (first, second) = (r#"{"app_id":"a","n":1}"#, r#"{"app_id":"a","n":2}"#);
        older
            .execute_batch(&format!(
                "CREATE TABLE bodies (key INTEGER PRIMARY KEY, body TEXT NOT NULL);
                 CREATE TABLE calls (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,
                    time TEXT NOT NULL, app_id TEXT NOT NULL, flow TEXT NOT NULL, verdict TEXT,
                    body INTEGER NOT NULL);
                 INSERT INTO bodies VALUES ({}, '{first}'), ({}, '{second}');
                 INSERT INTO calls VALUES
                    (1, 1, 't1', 'a', 'wechat', 'accept', {1}),
                    (2, 2, 't2', 'a', 'wechat', 'accept', {0}),
                    (3, 3, 't3', 'a', 'wechat', 'accept', {1});",
                body_hash(first),
                body_hash(second),
            ))
            .unwrap();
        drop(older);
        let (db, last) = JournalDb::open(dir.path(), 10).unwrap();
        assert_eq!(last, 3);
        let ns: Vec<_> = all(&db).iter().map(|e| e["n"].as_u64().unwrap()).collect();
        assert_eq!(ns, [2, 1, 2]);
        let connection = connect(&dir.path().join(FILE_NAME)).unwrap();
        let keys: Vec<(i64, String)> = connection
            .prepare("SELECT key, body FROM bodies ORDER BY key")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(keys, [(1, second.to_string()), (2, first.to_string())]);
        // A body already stored is found by its hash, after the move as after a restart.
        db.put(|_| row(4, "a", first));
        db.durable().await;
        assert_eq!(bodies(&db, dir.path()), 2);
        drop(db);
        let (db, _) = JournalDb::open(dir.path(), 10).unwrap();
        db.put(|_| row(5, "a", second));
        db.put(|_| row(6, "a", r#"{"app_id":"a","n":3}"#));
        db.durable().await;
        assert_eq!(bodies(&db, dir.path()), 3);
        assert_eq!(all(&db).len(), 6);
    }

    #[tokio::test]
    async fn what_a_killed_run_left_in_the_log_is_moved_in_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = JournalDb::open(dir.path(), 10).unwrap();
        db.put(|_| row(1, "a", r#"{"app_id":"a","n":1}"#));
        db.durable().await;
        assert_eq!(all(&db).len(), 1);
        drop(db);
        let key = body_hash(r#"{"app_id":"a","n":2}"#);
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
