//! The durable journal: every journal event is also kept in SQLite (`journal.sqlite` in the
//! data directory), so that what happened outlives a restart, a crash or a SIGKILL.
//!
//! A writer thread of its own takes the events from a channel and commits them in batches
//! (one transaction per batch, WAL mode): the request path only sends. A caller that must not
//! answer before its events are on disk awaits [`JournalDb::durable`], which waits for the
//! batch holding them (a group commit: under load one commit serves many requests). The
//! journal keeps at most `retention` entries, the oldest dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;

/// How many entries the durable journal keeps by default.
pub const DEFAULT_RETENTION: u64 = 50_000;
const FILE_NAME: &str = "journal.sqlite";
/// The most events one transaction takes.
const BATCH: usize = 512;

/// One entry as stored: what the filters read, and the entry's JSON as the API shows it.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: u64,
    pub(crate) time_ms: i64,
    pub(crate) app_id: String,
    /// `alipay-phone`, `alipay-login` or `wechat`.
    pub(crate) flow: &'static str,
    pub(crate) verdict: Option<String>,
    /// The entry's JSON text, written once on the writer thread.
    pub(crate) entry: String,
}

enum Write {
    /// A new entry, or a newer version of one (a backend exchange attached).
    Put(Box<dyn FnOnce() -> Row + Send>),
    Clear(Option<String>),
}

/// The durable journal's writer and its readers.
pub(crate) struct JournalDb {
    path: PathBuf,
    sender: std::sync::Mutex<std::sync::mpsc::Sender<Write>>,
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
        let connection = connect(&path)?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS journal (
                    id INTEGER PRIMARY KEY,
                    time_ms INTEGER NOT NULL,
                    app_id TEXT NOT NULL,
                    flow TEXT NOT NULL,
                    verdict TEXT,
                    entry TEXT NOT NULL
                );
                CREATE INDEX IF NOT EXISTS journal_app_time ON journal (app_id, time_ms);",
            )
            .map_err(|e| format!("{}: {e}", path.display()))?;
        #[cfg(unix)]
        for file in [
            path.clone(),
            dir.join(format!("{FILE_NAME}-wal")),
            dir.join(format!("{FILE_NAME}-shm")),
        ] {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
        }
        let last: u64 = connection
            .query_row("SELECT COALESCE(MAX(id), 0) FROM journal", [], |row| {
                row.get(0)
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let (sender, receiver) = std::sync::mpsc::channel();
        let committed = Arc::new(tokio::sync::watch::Sender::new(0u64));
        let done = committed.clone();
        let shown = path.display().to_string();
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || write_loop(connection, receiver, &done, retention, &shown))
            .map_err(|e| format!("starting the journal writer: {e}"))?;
        Ok((
            JournalDb {
                path,
                sender: std::sync::Mutex::new(sender),
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
        let sent = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(write);
        if sent.is_err() {
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
        let connection = connect(&self.path)?;
        let order = if query.oldest_first { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT entry FROM journal WHERE (?1 IS NULL OR app_id = ?1) AND (?2 IS NULL OR time_ms >= ?2) \
             AND (?3 IS NULL OR time_ms < ?3) AND (?4 IS NULL OR verdict = ?4) AND (?5 IS NULL OR flow = ?5) \
             ORDER BY id {order} LIMIT ?6"
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
                |row| row.get::<_, String>(0),
            )
            .map_err(|e| e.to_string())?;
        rows.map(|row| {
            let text = row.map_err(|e| e.to_string())?;
            serde_json::from_str(&text).map_err(|e| e.to_string())
        })
        .collect()
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

fn write_loop(
    mut connection: rusqlite::Connection,
    receiver: std::sync::mpsc::Receiver<Write>,
    committed: &tokio::sync::watch::Sender<u64>,
    retention: u64,
    path: &str,
) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match receiver.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        let count = batch.len() as u64;
        if let Err(error) = commit(&mut connection, batch, retention) {
            tracing::warn!(%error, path, "the durable journal could not write a batch");
        }
        committed.send_modify(|done| *done += count);
    }
}

fn commit(
    connection: &mut rusqlite::Connection,
    batch: Vec<Write>,
    retention: u64,
) -> rusqlite::Result<()> {
    let transaction = connection.transaction()?;
    let mut newest = 0;
    {
        let mut put = transaction.prepare_cached(
            "INSERT OR REPLACE INTO journal (id, time_ms, app_id, flow, verdict, entry) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for write in batch {
            match write {
                Write::Put(make) => {
                    let row = make();
                    newest = newest.max(row.id);
                    put.execute(rusqlite::params![
                        row.id as i64,
                        row.time_ms,
                        row.app_id,
                        row.flow,
                        row.verdict,
                        row.entry
                    ])?;
                }
                Write::Clear(None) => {
                    transaction.execute("DELETE FROM journal", [])?;
                }
                Write::Clear(Some(app_id)) => {
                    transaction.execute("DELETE FROM journal WHERE app_id = ?1", [app_id])?;
                }
            }
        }
    }
    if newest > retention {
        transaction
            .prepare_cached("DELETE FROM journal WHERE id <= ?1")?
            .execute([(newest - retention) as i64])?;
    }
    transaction.commit()
}
