//! The simulator's shared state: apps (each a namespace with its own console, keys and call
//! counter), the journal of calls, and their persistence. The HTTP API, the in-process
//! fixture and (later) the web UI are thin layers over this one type.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rand_chacha::rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alipay::envelope::EnvelopeCache;
use crate::alipay::fault::Fault;
use crate::alipay::model::{
    ActionKind, Console, Mobile, PartialConsole, PartialQuirks, PartialUser, Quirks, User,
};
use crate::alipay::scenario::{catalogue, Fixture};
use crate::alipay::simulate::{self, Call};
use crate::crypto::{AesKey, CryptoError, SignType, SigningKey};
use crate::keys::{app_id_for_seed, AppKeys};
use crate::oracle::{self, BackendKeys, Conclusion};
use crate::seed::derive_seed;
use crate::sim::recording::{RecordedCall, Recording};
use crate::sim::store::{BackendTarget, Store, StoreError, StoredApp, StoredState, FORMAT_VERSION};

/// How many calls the journal keeps, all apps together; older ones are dropped.
pub const JOURNAL_CAPACITY: usize = 1000;
/// About how many bytes the journal keeps, all apps together; older calls are dropped.
pub const JOURNAL_BYTES: usize = 8 * 1024 * 1024;

/// Why an operation failed; the API maps each kind to an HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("no app {0:?}")]
    AppNotFound(String),
    #[error("an app {0:?} exists already")]
    AppExists(String),
    #[error("app {0:?} is the only app and stays: reset it (POST /api/v1/apps/{0}/reset), or create another app first")]
    LastApp(String),
    #[error("invalid {field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Engine(#[from] crate::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CryptoError> for StateError {
    fn from(e: CryptoError) -> Self {
        StateError::Engine(e.into())
    }
}

/// How the state starts.
#[derive(Debug, Clone, Default)]
pub struct StateConfig {
    /// Makes new apps' keys deterministic: the first app gets exactly the keys of
    /// `alipay-sim keys --seed N`, later ones keys derived from N and their number.
    pub seed: Option<u64>,
    /// Where to persist; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
}

/// A new app's settings; everything is optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewApp {
    /// 1 to 64 letters, digits, `-` or `_`; by default, one made from the key seed.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub app_id: Option<String>,
    /// The seed of the app's keys; by default, one from the server's seed, or a random one.
    pub seed: Option<u64>,
    #[schema(value_type = Option<PartialConsole>)]
    pub console: Option<Console>,
    #[schema(value_type = Option<PartialQuirks>)]
    pub platform: Option<Quirks>,
    #[schema(value_type = Option<PartialUser>)]
    pub user: Option<User>,
}

/// What a `getPhoneNumber` call may set, over the app's configuration.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct PhoneNumberRequest {
    /// What the user does, instead of the app's action.
    pub action: Option<ActionKind>,
    /// `protocols.isvAppId`, instead of the app's `action.isv_app_id`.
    pub protocols: Option<Protocols>,
    /// The bound mobile, instead of the app's `user.mobile`.
    pub mobile: Option<Mobile>,
    /// A one-off fault, instead of the app's.
    pub fault: Option<Fault>,
}

/// `my.getPhoneNumber`'s `protocols` option.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Protocols {
    #[serde(rename = "isvAppId")]
    pub isv_app_id: Option<String>,
}

/// What a backend needs, as the console shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeysView {
    pub app_id: String,
    /// One-line base64 SubjectPublicKeyInfo.
    pub alipay_public_key: String,
    pub alipay_public_key_pem: String,
    /// Base64, 16 bytes.
    pub aes_key: String,
    /// The console's signing method; `null` when none is set.
    #[schema(required)]
    pub sign_type: Option<SignType>,
}

/// An app as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppView {
    pub app_id: String,
    #[serde(flatten)]
    pub config: Call,
    pub keys: KeysView,
    /// The rule the next call would hit with the configured action.
    pub next_outcome: NextOutcome,
    pub calls: u64,
    pub created_at: String,
}

/// An app as the API shows it, in one object (see `crate::schema`).
impl utoipa::PartialSchema for AppView {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        app_view_fields().build()
    }
}

impl utoipa::ToSchema for AppView {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.extend(app_view_fields().schemas);
    }
}

fn app_view_fields() -> crate::schema::Fields {
    use utoipa::PartialSchema;
    crate::schema::Fields::new(
        "An app: its settings (console, platform, user, action, fault), keys, what the next \
         call would hit, and how many calls it took",
    )
    .inline("app_id", String::schema())
    .flatten::<Call>()
    .field::<KeysView>("keys")
    .field::<NextOutcome>("next_outcome")
    .inline("calls", u64::schema())
    .inline(
        "created_at",
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            ))),
    )
}

/// The rule the next call would hit with the configured action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NextOutcome {
    pub rule: String,
    pub summary: String,
    pub source: String,
}

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
    pub rule: String,
    pub verdict: crate::Verdict,
    pub callback: crate::alipay::outcome::Callback,
    /// Exactly what the callback received.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// The decrypted content a backend reads, on `accept`; else null.
    #[schema(value_type = Option<Object>, required)]
    pub plaintext: Option<Value>,
    /// What the envelope's backend answered, when the device page sent it there.
    #[schema(required)]
    pub backend: Option<BackendExchange>,
}

pub use crate::sim::store::BackendExchange;

/// Verification request: an envelope and an app id, or explicit keys.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct VerifyRequest {
    /// The envelope text, as the front end got it.
    pub envelope: String,
    /// Check with this app's keys; or give `alipay_public_key`, not both.
    pub app_id: Option<String>,
    /// Base64 or PEM; with `aes_key` for an encrypted envelope.
    pub alipay_public_key: Option<String>,
    /// Base64; by default the app's, when `app_id` is given.
    pub aes_key: Option<String>,
    /// By default the app's signing method, else RSA2.
    pub sign_type: Option<SignType>,
}

// Request bodies refuse an array in place of their object.
crate::de::object_only!(deserialize: NewApp, PhoneNumberRequest, Protocols, VerifyRequest);

struct App {
    stored: StoredApp,
    keys: Arc<AppKeys>,
    calls: Arc<AtomicU64>,
    cache: Arc<EnvelopeCache>,
}

impl App {
    fn from_stored(stored: StoredApp) -> Result<App, CryptoError> {
        let keys = AppKeys::from_parts(
            stored.app_id.clone(),
            SigningKey::from_pem_or_base64(&stored.alipay_private_key_pkcs8_pem)?,
            AesKey::from_base64(&stored.aes_key)?,
            stored.fault_seed,
        );
        Ok(App {
            stored,
            keys: Arc::new(keys),
            calls: Arc::default(),
            cache: Arc::default(),
        })
    }

    fn view(&self) -> AppView {
        let published = self.keys.published();
        let calls = self.calls.load(Ordering::Relaxed);
        let rule = simulate::preview(&self.stored.config, &self.keys, calls).rule();
        AppView {
            app_id: self.stored.app_id.clone(),
            config: self.stored.config.clone(),
            keys: KeysView {
                app_id: published.app_id,
                alipay_public_key: published.alipay_public_key,
                alipay_public_key_pem: published.alipay_public_key_pem,
                aes_key: published.aes_key,
                sign_type: self.stored.config.console.signing.sign_type(),
            },
            next_outcome: NextOutcome {
                rule: rule.id.to_string(),
                summary: rule.summary.to_string(),
                source: rule.source.to_string(),
            },
            calls,
            created_at: self.stored.created_at.clone(),
        }
    }
}

struct Inner {
    apps: BTreeMap<String, App>,
    apps_created: u64,
}

impl Inner {
    fn app(&self, app_id: &str) -> Result<&App, StateError> {
        self.apps
            .get(app_id)
            .ok_or_else(|| StateError::AppNotFound(app_id.to_string()))
    }

    fn app_mut(&mut self, app_id: &str) -> Result<&mut App, StateError> {
        self.apps
            .get_mut(app_id)
            .ok_or_else(|| StateError::AppNotFound(app_id.to_string()))
    }
}

/// The simulator's state, shared by every layer. Cheap to clone: one reference count.
#[derive(Clone)]
pub struct SimState {
    shared: Arc<Shared>,
}

struct Shared {
    inner: Mutex<Inner>,
    journal: Mutex<Journal>,
    /// Device-page recordings by app id, in memory only.
    recordings: Mutex<std::collections::HashMap<String, Recording>>,
    config: StateConfig,
    store: Option<Store>,
}

#[derive(Default)]
struct Journal {
    entries: VecDeque<Recorded>,
    next_id: u64,
    /// The sum of the entries' sizes.
    bytes: usize,
}

impl Journal {
    fn push(&mut self, record: Recorded) {
        self.bytes += record.size();
        self.entries.push_back(record);
        self.trim();
    }

    /// Drops the oldest entries while over either bound.
    fn trim(&mut self) {
        while self.entries.len() > JOURNAL_CAPACITY || self.bytes > JOURNAL_BYTES {
            match self.entries.pop_front() {
                Some(dropped) => self.bytes -= dropped.size(),
                None => break,
            }
        }
    }
}

/// A journal entry as kept: shares the fixture with the response, formats on reading.
struct Recorded {
    id: u64,
    time: std::time::SystemTime,
    app_id: String,
    fixture: Arc<Fixture>,
    backend: Option<BackendExchange>,
}

impl Recorded {
    /// About what the entry takes, cheaply: the envelope, what a backend exchange holds, and
    /// a fixed allowance for the rest.
    fn size(&self) -> usize {
        let envelope = self.fixture.delivery.envelope().map_or(0, str::len);
        let exchange = self.backend.as_ref().map_or(0, |e| {
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

    fn entry(&self) -> JournalEntry {
        let delivery = &self.fixture.delivery;
        JournalEntry {
            id: self.id,
            time: rfc3339(self.time.into()),
            app_id: self.app_id.clone(),
            scenario: self.fixture.scenario.clone(),
            rule: delivery.expect.rule.clone(),
            verdict: delivery.expect.verdict,
            callback: delivery.callback,
            payload: delivery.payload.clone(),
            plaintext: delivery.expect.plaintext.clone(),
            backend: self.backend.clone(),
        }
    }
}

/// A call between [`SimState::prepare_call`] and [`SimState::complete_call`].
pub struct PreparedCall {
    app_id: String,
    scenario: Option<String>,
    call: Call,
    keys: Arc<AppKeys>,
    cache: Arc<EnvelopeCache>,
    index: u64,
}

impl PreparedCall {
    /// Whether completing the call will sign (about half a millisecond of CPU), rather than
    /// reuse an envelope made before.
    pub fn needs_signing(&self) -> bool {
        !simulate::is_cached(&self.call, &self.keys, self.index, &self.cache)
    }
}

impl SimState {
    /// Opens the state: loads the data directory's state file, or creates the first app when
    /// there is none (and saves it). A state file that cannot be read is an error, untouched.
    pub fn open(config: StateConfig) -> Result<SimState, StateError> {
        let store = config.data_dir.as_ref().map(Store::open).transpose()?;
        let state = SimState {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    apps: BTreeMap::new(),
                    apps_created: 0,
                }),
                journal: Mutex::default(),
                recordings: Mutex::default(),
                config,
                store,
            }),
        };
        match state
            .shared
            .store
            .as_ref()
            .map(Store::load)
            .transpose()?
            .flatten()
        {
            Some(stored) => {
                let path = state
                    .shared
                    .store
                    .as_ref()
                    .expect("loaded from a store")
                    .path();
                let apps = load_apps(stored.apps, stored.apps_created).map_err(|problem| {
                    StoreError::Corrupt {
                        path: path.clone(),
                        problem,
                    }
                })?;
                let mut inner = state.lock();
                inner.apps_created = stored.apps_created;
                inner.apps = apps;
            }
            None => state.create_first_app()?,
        }
        Ok(state)
    }

    /// The persistence directory, if any.
    pub fn data_dir(&self) -> Option<&PathBuf> {
        self.shared.config.data_dir.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_journal(&self) -> MutexGuard<'_, Journal> {
        self.shared
            .journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn create_first_app(&self) -> Result<(), StateError> {
        self.create_app(NewApp {
            seed: self.shared.config.seed,
            ..NewApp::default()
        })?;
        Ok(())
    }

    /// Saves while the caller holds the lock, so that saves happen in the order of changes.
    fn save(&self, inner: &Inner) -> Result<(), StateError> {
        if let Some(store) = &self.shared.store {
            store.save(&StoredState {
                format_version: FORMAT_VERSION,
                apps_created: inner.apps_created,
                apps: inner.apps.values().map(|app| app.stored.clone()).collect(),
            })?;
        }
        Ok(())
    }

    /// Runs `change` on the app and saves; on a failed save the change is undone.
    fn change_app(
        &self,
        app_id: &str,
        change: impl FnOnce(&mut App) -> Result<(), StateError>,
    ) -> Result<AppView, StateError> {
        let mut inner = self.lock();
        let app = inner.app_mut(app_id)?;
        let before = (app.stored.clone(), app.keys.clone(), app.cache.clone());
        change(app)?;
        let view = app.view();
        if let Err(e) = self.save(&inner) {
            let app = inner.apps.get_mut(app_id).expect("still there");
            (app.stored, app.keys, app.cache) = before;
            return Err(e);
        }
        Ok(view)
    }

    pub fn list_apps(&self) -> Vec<AppView> {
        self.lock().apps.values().map(App::view).collect()
    }

    pub fn app(&self, app_id: &str) -> Result<AppView, StateError> {
        self.lock().app(app_id).map(App::view)
    }

    /// Creates an app. Keys come from `seed`, else from the server's seed and the app's
    /// number, else from the OS; the app id from `app_id`, else from the key seed.
    pub fn create_app(&self, new: NewApp) -> Result<AppView, StateError> {
        let number = self.lock().apps_created;
        let app = self.build_app(new, number)?;
        let view = app.view();
        let app_id = view.app_id.clone();

        let mut inner = self.lock();
        if inner.apps.contains_key(&app_id) {
            return Err(StateError::AppExists(app_id));
        }
        inner.apps.insert(app_id.clone(), app);
        inner.apps_created += 1;
        if let Err(e) = self.save(&inner) {
            inner.apps.remove(&app_id);
            inner.apps_created -= 1;
            return Err(e);
        }
        Ok(view)
    }

    /// A new app, not yet added: the app number `number` of this state. Key generation takes
    /// a while, so callers hold no lock.
    fn build_app(&self, new: NewApp, number: u64) -> Result<App, StateError> {
        if let Some(app_id) = &new.app_id {
            validate_app_id(app_id)?;
        }
        let key_seed = new.seed.unwrap_or_else(|| match self.shared.config.seed {
            Some(seed) if number == 0 => seed,
            Some(seed) => derive_seed(seed, "app", number),
            None => OsRng.next_u64(),
        });
        let keys = AppKeys::for_seed(key_seed)?;
        let app_id = new.app_id.unwrap_or_else(|| app_id_for_seed(key_seed));
        let config = Call {
            console: new.console.unwrap_or_default(),
            platform: new.platform.unwrap_or_default(),
            user: new.user.unwrap_or_default(),
            ..Call::default()
        };
        config.validate()?;
        let stored = StoredApp {
            app_id,
            key_seed,
            alipay_private_key_pkcs8_pem: keys.alipay_key().to_pkcs8_pem(),
            aes_key: keys.aes_key().to_base64(),
            fault_seed: key_seed,
            config,
            created_at: now(),
            backend: None,
        };
        Ok(App::from_stored(stored)?)
    }

    /// Changes only the fields present in `patch` (a JSON merge patch over the app's
    /// `console`, `platform`, `user`, `action` and `fault`). Unknown fields are refused.
    pub fn patch_app(&self, app_id: &str, patch: Value) -> Result<AppView, StateError> {
        if !patch.is_object() {
            return Err(StateError::Invalid {
                field: "body".into(),
                message: "expected a JSON object such as {\"console\": {\"gateway\": false}}"
                    .into(),
            });
        }
        self.change_app(app_id, |app| {
            let mut merged = serde_json::to_value(&app.stored.config).expect("config serialises");
            merge_patch(&mut merged, &patch);
            let config: Call =
                serde_path_to_error::deserialize(merged).map_err(|e| StateError::Invalid {
                    field: e.path().to_string(),
                    message: e.inner().to_string(),
                })?;
            config.validate()?;
            app.stored.config = config;
            Ok(())
        })
    }

    /// Deletes an app; the last one stays (reset it instead), so a state always has an app.
    pub fn delete_app(&self, app_id: &str) -> Result<(), StateError> {
        let mut inner = self.lock();
        if inner.apps.len() == 1 && inner.apps.contains_key(app_id) {
            return Err(StateError::LastApp(app_id.to_string()));
        }
        let app = inner
            .apps
            .remove(app_id)
            .ok_or_else(|| StateError::AppNotFound(app_id.to_string()))?;
        if let Err(e) = self.save(&inner) {
            inner.apps.insert(app_id.to_string(), app);
            return Err(e);
        }
        drop(inner);
        self.clear_journal(Some(app_id));
        self.lock_recordings().remove(app_id);
        Ok(())
    }

    /// Back to the fully configured default; keys and journal are kept.
    pub fn reset_app(&self, app_id: &str) -> Result<AppView, StateError> {
        self.change_app(app_id, |app| {
            app.stored.config = Call::default();
            Ok(())
        })
    }

    /// Sets the app's configuration to a catalogue scenario's.
    pub fn apply_scenario(&self, app_id: &str, name: &str) -> Result<AppView, StateError> {
        let config = catalogue().get(name)?.call();
        self.change_app(app_id, |app| {
            app.stored.config = config;
            Ok(())
        })
    }

    /// New keys for the app: a new Alipay key pair and AES key.
    pub fn rotate_keys(&self, app_id: &str) -> Result<KeysView, StateError> {
        let current_seed = self.lock().app(app_id)?.stored.key_seed;
        // Seeded servers rotate deterministically too: each seed leads to the next.
        let key_seed = match self.shared.config.seed {
            Some(seed) => derive_seed(seed, &format!("rotate/{app_id}"), current_seed),
            None => OsRng.next_u64(),
        };
        let fresh = AppKeys::generate(key_seed)?;
        let view = self.change_app(app_id, |app| {
            app.stored.key_seed = key_seed;
            app.stored.fault_seed = key_seed;
            app.stored.alipay_private_key_pkcs8_pem = fresh.alipay_key().to_pkcs8_pem();
            app.stored.aes_key = fresh.aes_key().to_base64();
            *app = App {
                calls: app.calls.clone(),
                ..App::from_stored(app.stored.clone())?
            };
            Ok(())
        })?;
        Ok(view.keys)
    }

    pub fn keys(&self, app_id: &str) -> Result<KeysView, StateError> {
        Ok(self.app(app_id)?.keys)
    }

    /// The emulated front-end call. `scenario`, when given, replaces the app's configuration
    /// for this call only; the request's fields then apply on top.
    pub fn get_phone_number(
        &self,
        app_id: &str,
        scenario: Option<&str>,
        request: PhoneNumberRequest,
    ) -> Result<Fixture, StateError> {
        let prepared = self.prepare_call(app_id, scenario, request)?;
        Ok(Fixture::clone(&*self.complete_call(prepared)?))
    }

    /// The first half of a call: what it is, and its place in the app's sequence of calls.
    /// Cheap; [`PreparedCall::needs_signing`] tells whether completing it will be.
    pub fn prepare_call(
        &self,
        app_id: &str,
        scenario: Option<&str>,
        request: PhoneNumberRequest,
    ) -> Result<PreparedCall, StateError> {
        let (mut call, keys, cache, index) = {
            let inner = self.lock();
            let app = inner.app(app_id)?;
            let index = app.calls.fetch_add(1, Ordering::Relaxed);
            (
                app.stored.config.clone(),
                app.keys.clone(),
                app.cache.clone(),
                index,
            )
        };
        if let Some(name) = scenario {
            call = catalogue().get(name)?.call();
        }
        if let Some(kind) = request.action {
            call.action.kind = kind;
        }
        if let Some(protocols) = request.protocols {
            call.action.isv_app_id = protocols.isv_app_id;
        }
        if let Some(mobile) = request.mobile {
            call.user.mobile = mobile;
        }
        if request.fault.is_some() {
            call.fault = request.fault;
        }
        Ok(PreparedCall {
            app_id: app_id.to_string(),
            scenario: scenario.map(str::to_string),
            call,
            keys,
            cache,
            index,
        })
    }

    /// The second half: makes (or reuses) the envelope and records the call in the journal.
    pub fn complete_call(&self, prepared: PreparedCall) -> Result<Arc<Fixture>, StateError> {
        Ok(self.complete_recorded_call(prepared)?.1)
    }

    /// [`SimState::complete_call`], also giving the call's journal id.
    pub fn complete_recorded_call(
        &self,
        prepared: PreparedCall,
    ) -> Result<(u64, Arc<Fixture>), StateError> {
        let delivery = simulate::get_phone_number_cached(
            &prepared.call,
            &prepared.keys,
            prepared.index,
            &prepared.cache,
        )?;
        let fixture = Arc::new(Fixture {
            scenario: prepared.scenario,
            delivery,
        });
        let id = {
            let mut journal = self.lock_journal();
            journal.next_id += 1;
            let id = journal.next_id;
            journal.push(Recorded {
                id,
                time: std::time::SystemTime::now(),
                app_id: prepared.app_id.clone(),
                fixture: fixture.clone(),
                backend: None,
            });
            id
        };
        if let Some(recording) = self
            .lock_recordings()
            .get_mut(&prepared.app_id)
            .filter(|r| r.active)
        {
            recording.steps.push(RecordedCall {
                call_id: id,
                call: prepared.call,
                rule: fixture.delivery.expect.rule.clone(),
                verdict: fixture.delivery.expect.verdict,
                exchange: None,
            });
        }
        Ok((id, fixture))
    }

    /// One journal entry, if it is still kept.
    pub fn journal_entry(&self, id: u64) -> Option<JournalEntry> {
        let journal = self.lock_journal();
        journal
            .entries
            .iter()
            .find(|r| r.id == id)
            .map(Recorded::entry)
    }

    /// Attaches what a backend answered to the call it was sent.
    pub fn record_backend_exchange(&self, id: u64, exchange: BackendExchange) {
        for recording in self.lock_recordings().values_mut() {
            if let Some(step) = recording.steps.iter_mut().find(|s| s.call_id == id) {
                step.exchange = Some(exchange.clone());
            }
        }
        let mut journal = self.lock_journal();
        let journal = &mut *journal;
        if let Some(record) = journal.entries.iter_mut().find(|r| r.id == id) {
            journal.bytes -= record.size();
            record.backend = Some(exchange);
            journal.bytes += record.size();
        }
        journal.trim();
    }

    fn lock_recordings(&self) -> MutexGuard<'_, std::collections::HashMap<String, Recording>> {
        self.shared
            .recordings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts recording the app's calls and backend answers, dropping any earlier recording.
    pub fn start_recording(&self, app_id: &str) -> Result<(), StateError> {
        self.app(app_id)?;
        let started = rfc3339(time::OffsetDateTime::now_utc().truncate_to_second());
        self.lock_recordings()
            .insert(app_id.to_string(), Recording::new(app_id, started));
        Ok(())
    }

    /// Stops recording; what was recorded stays available until the next start.
    pub fn stop_recording(&self, app_id: &str) {
        if let Some(recording) = self.lock_recordings().get_mut(app_id) {
            recording.active = false;
        }
    }

    /// The app's recording, if one was started.
    pub fn recording(&self, app_id: &str) -> Option<Recording> {
        self.lock_recordings().get(app_id).cloned()
    }

    /// The app's keys, and the backend the device page last sent to: what a suite recorded on
    /// the device page carries.
    pub fn keys_and_backend(
        &self,
        app_id: &str,
    ) -> Result<(Arc<AppKeys>, Option<BackendTarget>), StateError> {
        let inner = self.lock();
        let app = inner.app(app_id)?;
        Ok((app.keys.clone(), app.stored.backend.clone()))
    }

    /// The backend the device page last sent to, for this app.
    pub fn backend_target(&self, app_id: &str) -> Option<BackendTarget> {
        self.lock().apps.get(app_id)?.stored.backend.clone()
    }

    /// Remembers the backend the device page sends to, for this app.
    pub fn remember_backend(&self, app_id: &str, target: BackendTarget) -> Result<(), StateError> {
        self.change_app(app_id, |app| {
            app.stored.backend = Some(target);
            Ok(())
        })
        .map(|_| ())
    }

    /// What the app's next call will return, without making it: the console page's outcome.
    pub fn dry_run(&self, app_id: &str) -> Result<Fixture, StateError> {
        let (call, keys, cache, index) = {
            let inner = self.lock();
            let app = inner.app(app_id)?;
            (
                app.stored.config.clone(),
                app.keys.clone(),
                app.cache.clone(),
                app.calls.load(Ordering::Relaxed),
            )
        };
        Ok(Fixture {
            scenario: None,
            delivery: simulate::get_phone_number_cached(&call, &keys, index, &cache)?,
        })
    }

    /// Replaces the app's whole configuration (the console page's form).
    pub fn set_config(&self, app_id: &str, config: Call) -> Result<AppView, StateError> {
        config.validate()?;
        self.change_app(app_id, |app| {
            app.stored.config = config;
            Ok(())
        })
    }

    /// Calls, newest first, optionally of one app, at most `limit`.
    pub fn journal(&self, app_id: Option<&str>, limit: usize) -> Vec<JournalEntry> {
        self.lock_journal()
            .entries
            .iter()
            .rev()
            .filter(|r| app_id.is_none_or(|id| r.app_id == id))
            .take(limit)
            .map(Recorded::entry)
            .collect()
    }

    /// Clears the journal, or one app's entries.
    pub fn clear_journal(&self, app_id: Option<&str>) {
        let mut journal = self.lock_journal();
        match app_id {
            Some(id) => journal.entries.retain(|r| r.app_id != id),
            None => journal.entries.clear(),
        }
        journal.bytes = journal.entries.iter().map(Recorded::size).sum();
    }

    /// What a strict backend concludes, with an app's keys or explicit ones.
    pub fn verify(&self, request: VerifyRequest) -> Result<Conclusion, StateError> {
        let invalid = |field: &str, message: String| StateError::Invalid {
            field: field.into(),
            message,
        };
        let keys =
            match (&request.app_id, &request.alipay_public_key) {
                (Some(app_id), None) => {
                    let inner = self.lock();
                    let app = inner.app(app_id)?;
                    BackendKeys {
                        alipay_public_key: app.keys.alipay_key().public_key().clone(),
                        aes_key: Some(
                            request
                                .aes_key
                                .as_deref()
                                .map(crate::alipay::keys::parse_aes_key)
                                .transpose()
                                .map_err(|e| invalid("aes_key", e.to_string()))?
                                .unwrap_or_else(|| app.keys.aes_key().clone()),
                        ),
                        sign_type: request
                            .sign_type
                            .or(app.stored.config.console.signing.sign_type())
                            .unwrap_or(SignType::Rsa2),
                    }
                }
                (None, Some(public_key)) => BackendKeys {
                    alipay_public_key: crate::alipay::keys::parse_alipay_public_key(public_key)
                        .map_err(|e| invalid("alipay_public_key", e.to_string()))?,
                    aes_key: request
                        .aes_key
                        .as_deref()
                        .map(crate::alipay::keys::parse_aes_key)
                        .transpose()
                        .map_err(|e| invalid("aes_key", e.to_string()))?,
                    sign_type: request.sign_type.unwrap_or(SignType::Rsa2),
                },
                _ => return Err(invalid(
                    "body",
                    "give either app_id or alipay_public_key (with aes_key), not both or neither"
                        .into(),
                )),
            };
        Ok(oracle::verify(&request.envelope, &keys))
    }

    /// Everything back to the first-start state: one fully configured app, empty journal. The
    /// new app is made first and the state replaced once, so a crash leaves the old state or
    /// the new one.
    pub fn reset_all(&self) -> Result<Vec<AppView>, StateError> {
        let first = self.build_app(
            NewApp {
                seed: self.shared.config.seed,
                ..NewApp::default()
            },
            0,
        )?;
        {
            let mut inner = self.lock();
            let fresh = BTreeMap::from([(first.stored.app_id.clone(), first)]);
            let saved = std::mem::replace(&mut inner.apps, fresh);
            let created = std::mem::replace(&mut inner.apps_created, 1);
            if let Err(e) = self.save(&inner) {
                inner.apps = saved;
                inner.apps_created = created;
                return Err(e);
            }
        }
        self.clear_journal(None);
        self.lock_recordings().clear();
        Ok(self.list_apps())
    }
}

/// The apps of a state file, checked as the API checks them. The message names the entry.
fn load_apps(stored: Vec<StoredApp>, apps_created: u64) -> Result<BTreeMap<String, App>, String> {
    if stored.is_empty() {
        return Err(
            "apps is empty, and a state always has an app: delete the file to start afresh".into(),
        );
    }
    if apps_created < stored.len() as u64 {
        return Err(format!(
            "apps_created is {apps_created}, fewer than the {} apps listed",
            stored.len()
        ));
    }
    let mut apps = BTreeMap::new();
    for (n, app) in stored.into_iter().enumerate() {
        let entry = format!("apps[{n}] (app_id {:?})", app.app_id);
        let check = || -> Result<(), String> {
            validate_app_id(&app.app_id).map_err(|e| e.to_string())?;
            app.config.validate().map_err(|e| e.to_string())?;
            time::OffsetDateTime::parse(
                &app.created_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|e| {
                format!(
                    "created_at {:?} is not an RFC 3339 time: {e}",
                    app.created_at
                )
            })?;
            if let Some(backend) = &app.backend {
                crate::sim::store::check_url(&backend.url)
                    .map_err(|e| format!("backend.url: {e}"))?;
            }
            if apps.contains_key(&app.app_id) {
                return Err("this app id appears twice".into());
            }
            Ok(())
        };
        check().map_err(|problem| format!("{entry}: {problem}"))?;
        let app_id = app.app_id.clone();
        let app = App::from_stored(app).map_err(|e| format!("{entry}: {e}"))?;
        apps.insert(app_id, app);
    }
    Ok(apps)
}

/// JSON merge patch (RFC 7386): objects merge recursively, anything else replaces. Unlike the
/// RFC, `null` is kept rather than removing the key, so it clears optional settings (`isv`,
/// `fault`) and is refused, by name, for required ones.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                match target.get_mut(key) {
                    Some(existing) if value.is_object() && existing.is_object() => {
                        merge_patch(existing, value)
                    }
                    _ => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn validate_app_id(app_id: &str) -> Result<(), StateError> {
    let ok = (1..=64).contains(&app_id.len())
        && app_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StateError::Invalid {
            field: "app_id".into(),
            message: format!("{app_id:?} must be 1 to 64 letters, digits, '-' or '_'"),
        })
    }
}

fn now() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

fn rfc3339(time: time::OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .expect("UTC times format")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> SimState {
        SimState::open(StateConfig {
            seed: Some(3),
            data_dir: None,
        })
        .unwrap()
    }

    #[test]
    fn starts_with_one_app_whose_keys_are_the_seeds() {
        let state = state();
        let apps = state.list_apps();
        assert_eq!(apps.len(), 1);
        assert_eq!(
            apps[0].keys.alipay_public_key,
            AppKeys::for_seed(3).unwrap().published().alipay_public_key
        );
        assert_eq!(apps[0].next_outcome.rule, "success");
    }

    #[test]
    fn patches_change_only_what_they_name() {
        let state = state();
        let id = state.list_apps()[0].app_id.clone();
        let view = state
            .patch_app(&id, json!({"console": {"gateway": false}}))
            .unwrap();
        assert!(!view.config.console.gateway);
        assert_eq!(
            view.config.console.signing,
            crate::alipay::model::Signing::Rsa2
        );
        assert_eq!(view.next_outcome.rule, "success");
        let view = state
            .patch_app(
                &id,
                json!({"console": {"isv": {"isv_app_id": "2021"}}, "fault": "missing-sign"}),
            )
            .unwrap();
        assert!(view.config.console.isv.is_some() && !view.config.console.gateway);
        let view = state
            .patch_app(&id, json!({"console": {"isv": null}, "fault": null}))
            .unwrap();
        assert!(view.config.console.isv.is_none() && view.config.fault.is_none());
        let err = state
            .patch_app(&id, json!({"console": {"gatway": true}}))
            .unwrap_err();
        assert!(err.to_string().contains("gatway"), "{err}");
        assert!(
            !state.app(&id).unwrap().config.console.gateway,
            "a refused patch changes nothing"
        );
    }

    #[test]
    fn apps_are_isolated() {
        let state = state();
        let a = state.create_app(NewApp::default()).unwrap().app_id;
        let b = state.create_app(NewApp::default()).unwrap().app_id;
        assert_ne!(a, b);
        state
            .patch_app(&a, json!({"console": {"phone_application": "pending"}}))
            .unwrap();
        state
            .get_phone_number(&a, None, PhoneNumberRequest::default())
            .unwrap();
        let fixture = state
            .get_phone_number(&b, None, PhoneNumberRequest::default())
            .unwrap();
        assert_eq!(fixture.delivery.expect.rule, "success");
        assert_eq!(state.journal(Some(&a), 10).len(), 1);
        state.reset_app(&a).unwrap();
        assert_eq!(state.journal(Some(&b), 10).len(), 1);
        assert_eq!(state.app(&a).unwrap().next_outcome.rule, "success");
    }

    #[test]
    fn the_journal_is_bounded_and_newest_first() {
        let state = state();
        let id = state.list_apps()[0].app_id.clone();
        for _ in 0..JOURNAL_CAPACITY + 5 {
            state
                .get_phone_number(&id, Some("ide-simulator"), PhoneNumberRequest::default())
                .unwrap();
        }
        let entries = state.journal(None, usize::MAX);
        assert_eq!(entries.len(), JOURNAL_CAPACITY);
        assert!(entries[0].id > entries[1].id);
    }

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": {"b": 1, "c": 2}, "d": 3});
        merge_patch(&mut target, &json!({"a": {"b": 9}, "d": null}));
        assert_eq!(target, json!({"a": {"b": 9, "c": 2}, "d": null}));
    }
}
