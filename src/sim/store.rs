//! Durable state: one JSON file in the data directory, replaced atomically on every change.
//!
//! A change is written to a temporary file in the same directory, flushed to disk, then renamed
//! over `state.json` (and the directory flushed), so a crash at any moment leaves either the old
//! or the new file, never a torn one. A file that cannot be read is reported with its path and
//! left untouched.
//!
//! The file has a `format_version`. Version 2 tags each app with its `platform` (a closed set:
//! today `alipay`); version 1, written by every release before it (up to 51a9c3f), had only
//! Alipay apps and no tag, and is read as if each app said `"platform": "alipay"`. The next save writes
//! version 2.
//!
//! Over 500 lines with its tests: reading, writing and guarding one file (lock, private modes,
//! stale temporary files) are one concern.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alipay::simulate::Call;

/// The state file's current format.
pub const FORMAT_VERSION: u32 = 2;
/// The first format: Alipay apps only, untagged.
const FORMAT_VERSION_UNTAGGED: u32 = 1;
const FILE_NAME: &str = "state.json";

crate::de::object_only!(deserialize: Header);
crate::de::object_only!(serialize and deserialize: StoredAlipayApp, BackendTarget);

/// Everything that survives a restart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredState {
    pub format_version: u32,
    /// Apps created so far, to derive the next app's seed when the server has one.
    pub apps_created: u64,
    pub apps: Vec<StoredApp>,
}

/// The state file without its apps, which are read one by one (see [`StoredApp::read`]).
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct Header {
    format_version: u32,
    apps_created: u64,
}

/// One app, tagged with its platform: a closed set, so a new platform is a new variant and
/// every `match` over apps says what is left to do for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "platform", rename_all = "kebab-case")]
// A handful of apps, read and written whole with the state file: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum StoredApp {
    Alipay(StoredAlipayApp),
    Wechat(crate::sim::wechat::StoredWechatApp),
}

/// The platform tags, in the file's spelling.
const PLATFORMS: &[&str] = &["alipay", "wechat"];

impl StoredApp {
    pub fn app_id(&self) -> &str {
        match self {
            StoredApp::Alipay(app) => &app.app_id,
            StoredApp::Wechat(app) => &app.app_id,
        }
    }

    /// Reads `apps[n]` of a state file. Done by hand rather than by serde's internally tagged
    /// enums, which buffer the content and so lose the path of a bad field inside the app
    /// (`apps[0].backend: ...`).
    fn read(n: usize, value: Value) -> Result<StoredApp, String> {
        let Value::Object(mut fields) = value else {
            return Err(match value {
                Value::Array(_) => format!("apps[{n}]: {}", crate::de::ARRAY_FOR_OBJECT),
                other => format!("apps[{n}]: expected an object, found {}", kind_of(&other)),
            });
        };
        let platform = match fields.remove("platform") {
            Some(Value::String(platform)) => platform,
            Some(other) => {
                return Err(format!(
                    "apps[{n}].platform: expected one of {PLATFORMS:?}, found {}",
                    kind_of(&other)
                ))
            }
            None => {
                return Err(format!(
                    "apps[{n}]: missing field `platform` (one of {PLATFORMS:?})"
                ))
            }
        };
        let at = |error: serde_path_to_error::Error<serde_json::Error>| match error
            .path()
            .to_string()
            .as_str()
        {
            "." => format!("apps[{n}]: {}", error.inner()),
            path => format!("apps[{n}].{path}: {}", error.inner()),
        };
        match platform.as_str() {
            "alipay" => serde_path_to_error::deserialize(Value::Object(fields))
                .map(StoredApp::Alipay)
                .map_err(at),
            "wechat" => serde_path_to_error::deserialize(Value::Object(fields))
                .map(StoredApp::Wechat)
                .map_err(at),
            other => Err(format!(
                "apps[{n}].platform: {other:?} is not a platform this alipay-sim knows; it knows {PLATFORMS:?}"
            )),
        }
    }
}

/// One Alipay app: its configuration and its key material (throwaway keys, stored in the clear).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct StoredAlipayApp {
    pub app_id: String,
    /// The seed the keys were derived from, for reference.
    pub key_seed: u64,
    pub alipay_private_key_pkcs8_pem: String,
    pub aes_key: String,
    /// Seed of the keys faults use.
    pub fault_seed: u64,
    pub config: Call,
    pub created_at: String,
    /// A name for people, shown beside the app id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the device page last sent an envelope.
    #[serde(default)]
    pub backend: Option<BackendTarget>,
    /// The catalogue scenario last applied, while the console has not been edited since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The app public key (应用公钥) the developer uploaded, one-line base64; without one the
    /// gateway verifies with the public half of the app key pair the simulator made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_public_key: Option<String>,
    /// A deliberate mistake in the gateway's answers to this app, while set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_fault: Option<crate::alipay::gateway::GatewayFault>,
    /// The console's openid配置管理 and app grouping, as the login sees them.
    #[serde(
        default,
        skip_serializing_if = "crate::sim::alipay_login::LoginSettings::is_default"
    )]
    pub login: crate::sim::alipay_login::LoginSettings,
}

/// A developer's backend, as the device page's "send to my backend" form gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct BackendTarget {
    pub url: String,
    pub body_shape: BodyShape,
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

crate::wire::wire_enum! {
    "kebab-case",
    /// How the envelope reaches a backend: one of the transport shapes of spec §1.4 (README,
    /// "Transport shapes"). The field `response` below is a suite's `backend.field`.
    pub enum BodyShape {
        /// `{"response": "<envelope text>"}` as `application/json`, as
        /// `my.request({method: 'POST', data: {response: res.response}})` sends it.
        Json,
        /// `response=<envelope text>`, form-encoded (`+` as `%2B`).
        Form,
        /// The envelope text itself as `text/plain`.
        Raw,
        /// The envelope text itself as `application/json`: the doc's own sample
        /// `my.request({method: 'POST', data: res.response})`.
        RawJson,
        /// The envelope text itself, not encoded, as `application/x-www-form-urlencoded`: old
        /// samples' `my.httpRequest({data: encryptedData})`. A form decoder turns each `+` into
        /// a space and splits at `=` and `&`: a backend must read the raw body.
        RawForm,
        /// A GET with `?response=<envelope text>` percent-encoded in the query string, as
        /// `my.request({data: {response: res.response}})` (GET is my.request's default method).
        Query,
        /// `{"encryptedData": <the envelope's response>, "sign": "<its sign>"}` as
        /// `application/json`: the envelope split, as the button's `onGetPhoneNumber` and uni-app
        /// hand it to the page; `sign` only when the envelope has one. The backend must re-add
        /// the quotes around `encryptedData` before verifying.
        SplitJson,
        /// The same two fields form-encoded: `encryptedData=...&sign=...`.
        SplitForm,
    }
}

impl BodyShape {
    /// `json`, `form`, `raw`, `raw-json`, `raw-form`, `query`, `split-json` or `split-form`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The content type of a request body of this shape; `None` for `query`, which has no body.
    pub fn content_type(self) -> Option<&'static str> {
        match self {
            BodyShape::Json | BodyShape::RawJson | BodyShape::SplitJson => Some("application/json"),
            BodyShape::Form | BodyShape::RawForm | BodyShape::SplitForm => {
                Some("application/x-www-form-urlencoded")
            }
            BodyShape::Raw => Some("text/plain; charset=utf-8"),
            BodyShape::Query => None,
        }
    }

    /// Whether the request carries nothing but the envelope (so no `values` beside it).
    pub fn envelope_only(self) -> bool {
        matches!(
            self,
            BodyShape::Raw | BodyShape::RawJson | BodyShape::RawForm
        )
    }

    /// Whether the envelope is sent split into `encryptedData` and `sign`.
    pub fn is_split(self) -> bool {
        matches!(self, BodyShape::SplitJson | BodyShape::SplitForm)
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
        // A lock held for a moment is no other alipay-sim: a process forked elsewhere in this
        // one holds a copy of the descriptor until it execs. Only one held for half a second is.
        let mut attempts = 0;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if attempts < 10 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::InUse { dir }),
                Err(std::fs::TryLockError::Error(source)) => return Err(write_error(source)),
            }
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
        read_state(&text).map(Some).map_err(corrupt)
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

/// A state file's text, of the current format or the untagged first one.
pub(crate) fn read_state(text: &str) -> Result<StoredState, String> {
    let mut value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let apps = match value.as_object_mut() {
        Some(fields) => fields.remove("apps"),
        None => return Err(format!("expected an object, found {}", kind_of(&value))),
    };
    let header: Header = serde_path_to_error::deserialize(value).map_err(|e| {
        match e.path().to_string().as_str() {
            "." => e.inner().to_string(),
            path => format!("{path}: {}", e.inner()),
        }
    })?;
    let tag_missing = match header.format_version {
        FORMAT_VERSION => false,
        FORMAT_VERSION_UNTAGGED => true,
        other => {
            return Err(format!(
                "format_version {other} is not one this alipay-sim reads ({FORMAT_VERSION_UNTAGGED} or {FORMAT_VERSION}); a newer alipay-sim wrote it?"
            ))
        }
    };
    let apps = match apps {
        Some(Value::Array(apps)) => apps,
        Some(other) => {
            return Err(format!(
                "apps: expected an array, found {}",
                kind_of(&other)
            ))
        }
        None => return Err("missing field `apps`".into()),
    };
    let apps = apps
        .into_iter()
        .enumerate()
        .map(|(n, mut app)| {
            if let (true, Some(fields)) = (tag_missing, app.as_object_mut()) {
                fields.insert("platform".into(), Value::from("alipay"));
            }
            StoredApp::read(n, app)
        })
        .collect::<Result<_, _>>()?;
    Ok(StoredState {
        format_version: FORMAT_VERSION,
        apps_created: header.apps_created,
        apps,
    })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
            entry.file_name().to_str().is_some_and(|name| {
                name == FILE_NAME
                        || name == ".lock"
                        || is_temporary(name)
                        // The durable journal (sim/journal_db.rs), its WAL files and its log.
                        || name.starts_with("journal.sqlite")
            })
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
