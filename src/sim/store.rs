//! Durable state: one JSON file in the data directory, replaced atomically on every change.
//!
//! A change is written to a temporary file in the same directory, flushed to disk, then renamed
//! over `state.json` (and the directory flushed), so a crash at any moment leaves either the old
//! or the new file, never a torn one. A file that cannot be read is reported with its path and
//! left untouched.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::alipay::simulate::Call;

/// The state file's current format.
pub const FORMAT_VERSION: u32 = 1;
const FILE_NAME: &str = "state.json";

crate::de::object_only!(serialize and deserialize: StoredState, StoredApp, BackendTarget);

/// Everything that survives a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct StoredState {
    pub format_version: u32,
    /// Apps created so far, to derive the next app's seed when the server has one.
    pub apps_created: u64,
    pub apps: Vec<StoredApp>,
}

/// One app: its configuration and its key material (throwaway keys, stored in the clear).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct StoredApp {
    pub app_id: String,
    /// The seed the keys were derived from, for reference.
    pub key_seed: u64,
    pub alipay_private_key_pkcs8_pem: String,
    pub aes_key: String,
    /// Seed of the keys faults use.
    pub fault_seed: u64,
    pub config: Call,
    pub created_at: String,
    /// Where the device page last sent an envelope.
    #[serde(default)]
    pub backend: Option<BackendTarget>,
}

/// A developer's backend, as the device page's "send to my backend" form gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct BackendTarget {
    pub url: String,
    pub body_shape: BodyShape,
}

/// One request to a developer's backend and its answer (or why there was none), as the
/// journal keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackendExchange {
    pub url: String,
    pub body_shape: BodyShape,
    pub request_body: String,
    /// The answer's HTTP status; null when there was no answer.
    #[schema(required)]
    pub status: Option<u16>,
    /// The answer's headers, each `[name, value]`.
    pub headers: Vec<(String, String)>,
    /// The answer's body, or its first `backend::ANSWER_LIMIT` bytes.
    pub body: String,
    /// Why there was no answer; null when there was one.
    #[schema(required)]
    pub error: Option<String>,
    /// Said of the answer where it is shown: a cut body, a redirect not followed.
    #[serde(default)]
    #[schema(required)]
    pub note: Option<String>,
    pub elapsed_ms: u64,
}

/// Whether `url` is one a backend can be reached at: absolute http or https.
pub fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        Ok(parsed) => Err(format!(
            "{url:?} is a {} URL; give an http:// or https:// one",
            parsed.scheme()
        )),
        Err(error) => Err(format!(
            "{url:?} is not a URL ({error}); give one such as http://127.0.0.1:3000/api/phone"
        )),
    }
}

/// How the envelope is placed in the request to a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BodyShape {
    /// `{"response": "<envelope text>"}`, as `my.request({data: {response: res.response}})`.
    Json,
    /// `response=<envelope text>`, form-encoded.
    Form,
    /// The envelope text itself.
    Raw,
}

impl BodyShape {
    pub fn as_str(self) -> &'static str {
        match self {
            BodyShape::Json => "json",
            BodyShape::Form => "form",
            BodyShape::Raw => "raw",
        }
    }
}

impl std::fmt::Display for BodyShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the state could not be read or written. Messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is not valid alipay-sim state ({problem}); it was left as it is: fix or move it, or start with another --data-dir")]
    Corrupt { path: PathBuf, problem: String },
    #[error("another alipay-sim is using the data directory {dir}; stop it, or give this one another --data-dir or --ephemeral")]
    InUse { dir: PathBuf },
    #[error("cannot use {dir} as the data directory ({source}): give another --data-dir, or --ephemeral to keep nothing")]
    Unusable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write state to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The state file of one data directory, locked against a second server using it at once.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    _lock: std::sync::Arc<std::fs::File>,
}

impl Store {
    /// Opens (creating it if needed, private to its owner) and locks the data directory, then
    /// removes the temporary files of writes that a crash interrupted.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let dir = dir.into();
        let path = dir.join(".lock");
        let write_error = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        create_private_dir(&dir).map_err(|source| StoreError::Unusable {
            dir: dir.clone(),
            source,
        })?;
        let lock = private_file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Unusable {
                dir: dir.clone(),
                source,
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::InUse { dir }),
            Err(std::fs::TryLockError::Error(source)) => return Err(write_error(source)),
        }
        remove_stale_temporary_files(&dir);
        make_private(&dir.join(FILE_NAME));
        Ok(Store {
            dir,
            _lock: std::sync::Arc::new(lock),
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The stored state, or `None` on first start (no file yet).
    pub fn load(&self) -> Result<Option<StoredState>, StoreError> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        let corrupt = |problem: String| StoreError::Corrupt {
            path: path.clone(),
            problem,
        };
        let deserializer = &mut serde_json::Deserializer::from_str(&text);
        let state: StoredState =
            serde_path_to_error::deserialize(deserializer).map_err(|e| {
                match e.path().to_string().as_str() {
                    "." => corrupt(e.inner().to_string()),
                    path => corrupt(format!("{path}: {}", e.inner())),
                }
            })?;
        if state.format_version != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format_version {} is not {FORMAT_VERSION}",
                state.format_version
            )));
        }
        Ok(Some(state))
    }

    /// Replaces the state file atomically.
    pub fn save(&self, state: &StoredState) -> Result<(), StoreError> {
        let path = self.path();
        let write_error = |source| StoreError::Write {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_vec_pretty(state).expect("state serialises");
        let mut temp = tempfile_in(&self.dir).map_err(write_error)?;
        let result = (|| {
            temp.1.write_all(&text)?;
            temp.1.sync_all()?;
            std::fs::rename(&temp.0, &path)?;
            sync_dir(&self.dir)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp.0);
        }
        result.map_err(write_error)
    }
}

/// A new file beside the state file, named so that concurrent writers never collide.
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        ".{FILE_NAME}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(name);
    let file = private_file_options()
        .write(true)
        .create_new(true)
        .open(&path)?;
    Ok((path, file))
}

/// Whether `name` is one of [`tempfile_in`]'s files.
fn is_temporary(name: &str) -> bool {
    name.starts_with(&format!(".{FILE_NAME}.")) && name.ends_with(".tmp")
}

/// Writes a crash interrupted leave full copies of the state (keys included) behind; with the
/// lock held, no other writer can own one.
fn remove_stale_temporary_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_str().is_some_and(is_temporary) {
            if let Err(error) = std::fs::remove_file(entry.path()) {
                tracing::warn!(path = %entry.path().display(), %error, "cannot remove a stale temporary file");
            }
        }
    }
}

/// Files that hold private keys are readable by their owner only.
fn private_file_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates the directory (and its parents) with mode 0700. An existing directory that holds
/// nothing but alipay-sim's files is narrowed to 0700 too; any other is left as it is.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            return std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir);
        }
        let ours = std::fs::read_dir(dir)?.flatten().all(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|name| name == FILE_NAME || name == ".lock" || is_temporary(name))
        });
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if ours && mode & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// A state file written by an older version may be world-readable.
fn make_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            if metadata.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Makes the rename itself durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredState {
        StoredState {
            format_version: FORMAT_VERSION,
            apps_created: 1,
            apps: vec![],
        }
    }

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("nested")).unwrap();
        assert!(store.load().unwrap().is_none());
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap(), Some(sample()));
        // No temporary files are left behind.
        let mut names: Vec<_> = std::fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".lock", "state.json"]);
    }

    #[test]
    fn a_data_directory_serves_one_store_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path()).unwrap();
        let err = Store::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another alipay-sim"), "{err}");
        drop(first);
        assert!(Store::open(dir.path()).is_ok());
    }

    #[test]
    fn corrupt_files_are_named_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        std::fs::write(store.path(), "{\"format_version\": 1, \"apps\": [").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(
            err.contains("state.json") && err.contains("not valid"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(store.path()).unwrap(),
            "{\"format_version\": 1, \"apps\": ["
        );
        std::fs::write(
            store.path(),
            "{\"format_version\": 9, \"apps_created\": 0, \"apps\": []}",
        )
        .unwrap();
        assert!(store
            .load()
            .unwrap_err()
            .to_string()
            .contains("format_version 9"));
    }
}
