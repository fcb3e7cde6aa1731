//! The simulator's shared state: apps (each a namespace with its own console, keys and call
//! counter), the journal of calls, device-page recordings, and their persistence. The HTTP
//! API, the in-process fixture and the web UI are thin layers over this one type.
//!
//! One type's methods, each short, Alipay's first and WeChat's after them (the types they take
//! and give live in `sim/alipay.rs` and `sim/wechat.rs`), the journal in `sim/journal.rs`, the
//! apps in `sim/apps.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;

use crate::alipay::model::{ActionKind, Authorisation};
use crate::alipay::outcome::Callback;
use crate::alipay::rules::GRANTABLE_ERRORS;
use crate::alipay::scenario::{catalogue, Fixture};
use crate::alipay::simulate::{self, Call};
use crate::keys::{self, AppKeys};
use crate::oracle::{self, Conclusion};
use crate::seed::derive_seed;
use crate::sim::alipay::{AlipayApp, PhoneAnswer};
use crate::sim::apps::{load_apps, merge_patch, validate_app_id, App};
use crate::sim::error::check_name;
use crate::sim::journal::{rfc3339, Event, Journal};
use crate::sim::recording::{RecordedCall, Recording};
use crate::sim::store::{BackendTarget, Store, StoreError, StoredState, FORMAT_VERSION};

// The types of `SimState`'s methods, where its callers look for them.
pub use crate::sim::alipay::{
    AppView, CertificatesView, KeysView, NewApp, NextOutcome, PhoneNumberRequest, PreparedCall,
    Protocols, VerifyRequest,
};
pub use crate::sim::alipay_login::AlipayLoginJournalEntry;
pub use crate::sim::error::StateError;
pub use crate::sim::exchange::Exchange;
pub use crate::sim::journal::{JournalEntry, EXCHANGES_PER_CALL, JOURNAL_BYTES, JOURNAL_CAPACITY};
pub use crate::sim::wechat::{NewWechatApp, WechatAppView, WechatJournalEntry};

use crate::oracle::{Expect, Verdict};
use crate::sim::wechat::{StoredWechatApp, WechatApp};
use crate::wechat::front_end::TapResult;
use crate::wechat::model::Tap;
use crate::wechat::platform::{anonymous_error, Answer, AppRef, Platform};

/// How many of the next apps' keys are made ahead, in the background: once the state is open,
/// and once apps are being created (a test suite that gives each test an app).
const KEYS_AHEAD_AT_OPEN: u64 = 1;
const KEYS_AHEAD_WHEN_CREATING: u64 = 4;

/// How the state starts.
#[derive(Debug, Clone, Default)]
pub struct StateConfig {
    /// Makes new apps' keys deterministic: the first app gets exactly the keys of
    /// `alipay-sim keys --seed N`, later ones keys derived from N and their number.
    pub seed: Option<u64>,
    /// Where to persist; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
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

    fn alipay(&self, app_id: &str) -> Result<&AlipayApp, StateError> {
        self.app(app_id)?.alipay()
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
    recordings: Mutex<HashMap<String, Recording>>,
    config: StateConfig,
    store: Option<Store>,
    /// Seconds the simulator's clock is ahead of the system's (`POST /api/v1/clock/advance`).
    clock_offset: std::sync::atomic::AtomicU64,
    /// The durable journal (also the live journal's), reached here without the journal's
    /// lock, since every answer waits on it.
    durable_journal: Option<Arc<crate::sim::journal_db::JournalDb>>,
}

/// A lock whose holder panicked still guards consistent data: every change is made whole
/// before its guard is dropped.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SimState {
    /// Opens the state: loads the data directory's state file, or creates the first app when
    /// there is none (and saves it). A state file that cannot be read is an error, untouched.
    pub fn open(config: StateConfig) -> Result<SimState, StateError> {
        SimState::open_with(config, crate::sim::journal_db::DEFAULT_RETENTION)
    }

    /// [`SimState::open`], the durable journal (kept in the data directory) holding at most
    /// `journal_retention` entries.
    pub fn open_with(config: StateConfig, journal_retention: u64) -> Result<SimState, StateError> {
        let store = config.data_dir.as_ref().map(Store::open).transpose()?;
        let durable = match &config.data_dir {
            Some(dir) => Some(
                crate::sim::journal_db::JournalDb::open(dir, journal_retention.max(1)).map_err(
                    |problem| StateError::Invalid {
                        field: "journal".into(),
                        message: format!("the durable journal cannot be opened: {problem}"),
                    },
                )?,
            ),
            None => None,
        }
        .map(|(durable, last_id)| (Arc::new(durable), last_id));
        let loaded = store.as_ref().map(Store::load).transpose()?.flatten();
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
                clock_offset: Default::default(),
                durable_journal: durable.as_ref().map(|(durable, _)| durable.clone()),
            }),
        };
        match loaded {
            Some(stored) => {
                let apps = load_apps(stored.apps, stored.apps_created).map_err(|problem| {
                    StoreError::Corrupt {
                        path: state.shared.store.as_ref().expect("loaded").path(),
                        problem,
                    }
                })?;
                let mut inner = state.lock();
                inner.apps_created = stored.apps_created;
                inner.apps = apps;
            }
            None => state.create_first_app()?,
        }
        if let Some((durable, last_id)) = durable {
            state.lock_journal().keep_in(durable, last_id);
        }
        let next = state.lock().apps_created;
        state.make_keys_ahead(next, KEYS_AHEAD_AT_OPEN);
        Ok(state)
    }

    /// The persistence directory, if any.
    pub fn data_dir(&self) -> Option<&PathBuf> {
        self.shared.config.data_dir.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.shared.inner)
    }

    fn lock_journal(&self) -> MutexGuard<'_, Journal> {
        lock(&self.shared.journal)
    }

    fn lock_recordings(&self) -> MutexGuard<'_, HashMap<String, Recording>> {
        lock(&self.shared.recordings)
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
                apps: inner.apps.values().map(App::stored).collect(),
            })?;
        }
        Ok(())
    }

    /// Runs `change` on the Alipay app and saves; on a failed save the change is undone.
    fn change_alipay_app(
        &self,
        app_id: &str,
        change: impl FnOnce(&mut AlipayApp) -> Result<(), StateError>,
    ) -> Result<AppView, StateError> {
        let mut inner = self.lock();
        let app = inner.app_mut(app_id)?.alipay_mut()?;
        let before = (app.stored.clone(), app.keys.clone(), app.cache.clone());
        change(app)?;
        let changed = app.clone();
        if let Err(e) = self.save(&inner) {
            let app = inner.app_mut(app_id)?.alipay_mut()?;
            (app.stored, app.keys, app.cache) = before;
            return Err(e);
        }
        drop(inner);
        // A view may make an ISV key or certificates the first time (an RSA key): not under
        // the lock, which every other request waits for.
        Ok(changed.view())
    }

    /// Every app, oldest first.
    pub fn list_apps(&self) -> Vec<AppView> {
        let apps: Vec<App> = self.lock().apps.values().cloned().collect();
        let mut views: Vec<AppView> = apps.iter().filter_map(App::alipay_view).collect();
        views.sort_by(|a, b| (&a.created_at, &a.app_id).cmp(&(&b.created_at, &b.app_id)));
        views
    }

    pub fn app(&self, app_id: &str) -> Result<AppView, StateError> {
        let app = self.lock().alipay(app_id)?.clone();
        Ok(app.view())
    }

    /// Creates an app. Keys come from `seed`, else from the server's seed and the app's
    /// number, else from the OS; the app id from `app_id`, else from the key seed.
    pub fn create_app(&self, new: NewApp) -> Result<AppView, StateError> {
        let number = self.lock().apps_created;
        let app = self.build_app(new, number)?;
        let view = app.alipay_view().expect("build_app makes an Alipay app");
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
        let next = inner.apps_created;
        drop(inner);
        self.make_keys_ahead(next, KEYS_AHEAD_WHEN_CREATING);
        Ok(view)
    }

    /// A new app, not yet added: the app number `number` of this state. Keys made now take a
    /// while, so callers hold no lock.
    fn build_app(&self, new: NewApp, number: u64) -> Result<App, StateError> {
        if let Some(app_id) = &new.app_id {
            validate_app_id(app_id)?;
        }
        let (key_seed, keys) = match new.seed.or_else(|| self.key_seed_of_app(number)) {
            Some(seed) => (seed, AppKeys::for_seed(seed)?),
            None => keys::random()?,
        };
        Ok(App::Alipay(AlipayApp::build(new, key_seed, keys, now())?))
    }

    /// The key seed of the app number `number`, on a seeded state: the seed itself for the
    /// first app, then one derived from it and the number. `None`: random keys.
    fn key_seed_of_app(&self, number: u64) -> Option<u64> {
        let seed = self.shared.config.seed?;
        Some(match number {
            0 => seed,
            number => derive_seed(seed, "app", number),
        })
    }

    /// Has the keys of the apps numbered `next` and after (`ahead` of them) made in the
    /// background, or random keys kept ready, so that creating them makes none.
    fn make_keys_ahead(&self, next: u64, ahead: u64) {
        match self.shared.config.seed {
            Some(_) => {
                keys::make_ahead((next..next + ahead).filter_map(|n| self.key_seed_of_app(n)))
            }
            None => keys::keep_random_ready(ahead as usize),
        }
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
        self.change_alipay_app(app_id, |app| {
            let mut merged = serde_json::to_value(&app.stored.config).expect("config serialises");
            merge_patch(&mut merged, &patch);
            let config: Call =
                serde_path_to_error::deserialize(merged).map_err(|e| StateError::Invalid {
                    field: e.path().to_string(),
                    message: e.inner().to_string(),
                })?;
            config.validate()?;
            app.set_config_by_hand(config);
            Ok(())
        })
    }

    /// Deletes an app; the last one stays (reset it instead), so a state always has an app.
    pub fn delete_app(&self, app_id: &str) -> Result<(), StateError> {
        let mut inner = self.lock();
        // The last Alipay app stays: the fixture, the banner and the UI start from one.
        let alipay_apps = inner.apps.values().filter(|a| a.alipay().is_ok()).count();
        if alipay_apps == 1 && inner.alipay(app_id).is_ok() {
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
        self.replace_config(app_id, Call::default(), None)
    }

    /// Sets the app's configuration to a catalogue scenario's, and remembers its name
    /// ([`SimState::applied_scenario`]).
    pub fn apply_scenario(&self, app_id: &str, name: &str) -> Result<AppView, StateError> {
        let scenario = catalogue().get(name)?;
        self.replace_config(app_id, scenario.call(), Some(scenario.name.clone()))
    }

    /// Replaces the app's whole configuration (the console page's form). A change forgets the
    /// scenario applied before; the same configuration saved again keeps it.
    pub fn set_config(&self, app_id: &str, config: Call) -> Result<AppView, StateError> {
        config.validate()?;
        self.change_alipay_app(app_id, |app| {
            app.set_config_by_hand(config);
            Ok(())
        })
    }

    fn replace_config(
        &self,
        app_id: &str,
        config: Call,
        scenario: Option<String>,
    ) -> Result<AppView, StateError> {
        self.change_alipay_app(app_id, |app| {
            app.stored.config = config;
            app.stored.scenario = scenario;
            Ok(())
        })
    }

    /// The catalogue scenario last applied to the app, unless its settings were changed by
    /// hand since (the console's form, a patch); the user's grants and revocations keep it.
    pub fn applied_scenario(&self, app_id: &str) -> Result<Option<String>, StateError> {
        Ok(self.lock().alipay(app_id)?.stored.scenario.clone())
    }

    /// New keys for the app: a new Alipay key pair and AES key.
    pub fn rotate_keys(&self, app_id: &str) -> Result<KeysView, StateError> {
        let current_seed = self.lock().alipay(app_id)?.stored.key_seed;
        // Seeded servers rotate deterministically too: each seed leads to the next. Keys made
        // now take a while: not under the lock.
        let (key_seed, fresh) = match self.shared.config.seed {
            Some(seed) => {
                let key_seed = derive_seed(seed, &format!("rotate/{app_id}"), current_seed);
                (key_seed, AppKeys::for_seed(key_seed)?)
            }
            None => keys::random()?,
        };
        let view = self.change_alipay_app(app_id, |app| {
            *app = app.with_keys(key_seed, &fresh);
            Ok(())
        })?;
        Ok(view.keys)
    }

    /// `my.getSetting`'s `authSetting.phoneNumber` for the app's user.
    pub fn phone_number_authorised(&self, app_id: &str) -> Result<bool, StateError> {
        Ok(self.app(app_id)?.config.user.authorisation == Authorisation::Granted)
    }

    /// The user revokes the phone-number authorisation (··· › 设置 › 用户信息): the next call
    /// without the button gets 40003, the button shows the sheet again, and a stale grant's
    /// error is gone once the user allows again.
    pub fn revoke_authorisation(&self, app_id: &str) -> Result<AppView, StateError> {
        self.change_alipay_app(app_id, |app| {
            let user = &mut app.stored.config.user;
            if user.authorisation == Authorisation::Granted {
                user.authorisation = Authorisation::Revoked;
            }
            user.granted_under = None;
            Ok(())
        })
    }

    /// The ISV's `alipay.open.auth.app.aes.set` for this merchant: a new AES key replaces the
    /// last one (spec §4.1), so a backend still holding the old key fails to decrypt.
    pub fn isv_set_aes_key(&self, app_id: &str) -> Result<KeysView, StateError> {
        let view = self.change_alipay_app(app_id, |app| {
            let Some(isv) = app.stored.config.console.isv.as_mut() else {
                return Err(StateError::Invalid {
                    field: "console.isv".into(),
                    message: "this app is not authorised to a third-party app, so no ISV sets \
                              its AES key: set console.isv first"
                        .into(),
                });
            };
            isv.aes_key_sets = isv.aes_key_sets.saturating_add(1);
            Ok(())
        })?;
        Ok(view.keys)
    }

    pub fn keys(&self, app_id: &str) -> Result<KeysView, StateError> {
        Ok(self.app(app_id)?.keys)
    }

    /// One of the app's certificate files (certificate mode, 公钥证书), by the name the SDKs'
    /// samples give it: its PEM text.
    pub fn certificate_file(&self, app_id: &str, file: &str) -> Result<String, StateError> {
        let app = self.lock().alipay(app_id)?.clone();
        app.certificate_file(file)
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
        self.lock().alipay(app_id)?.prepare(scenario, request)
    }

    /// The second half: makes (or reuses) the envelope and records the call in the journal.
    pub fn complete_call(&self, prepared: PreparedCall) -> Result<Arc<Fixture>, StateError> {
        Ok(self.complete_recorded_call(prepared)?.1)
    }

    /// [`SimState::complete_call`], with the fixture's JSON.
    pub fn complete_call_answer(&self, prepared: PreparedCall) -> Result<PhoneAnswer, StateError> {
        Ok(self.complete_answered_call(prepared)?.1)
    }

    /// [`SimState::complete_call`], also giving the call's journal id.
    pub fn complete_recorded_call(
        &self,
        prepared: PreparedCall,
    ) -> Result<(u64, Arc<Fixture>), StateError> {
        let (id, answer) = self.complete_answered_call(prepared)?;
        Ok((id, answer.fixture))
    }

    fn complete_answered_call(
        &self,
        mut prepared: PreparedCall,
    ) -> Result<(u64, PhoneAnswer), StateError> {
        let answer = match prepared.shared_answer.take() {
            Some(answer) => answer,
            None => {
                let delivery = simulate::get_phone_number_cached(
                    &prepared.call,
                    &prepared.keys,
                    prepared.index,
                    &prepared.cache,
                )?
                .with_front_end(prepared.front_end, &prepared.call.user.base_library_version);
                let fixture = Fixture {
                    scenario: prepared.scenario.clone(),
                    delivery,
                };
                prepared.last_answer.share(fixture, &prepared)
            }
        };
        let fixture = answer.fixture.clone();
        let delivery = &fixture.delivery;
        // An allow on the sheet lasts (spec §4.2): the app's user is authorised from now on,
        // remembering a console error in force at the time (a stale grant keeps it).
        let grant = (prepared.scenario.is_none()
            && prepared.call.action.kind == ActionKind::Consent
            && prepared.call.user.authorisation != Authorisation::Granted
            && delivery.callback == Callback::Success)
            .then(|| {
                let rule = delivery.expect.cause.id();
                GRANTABLE_ERRORS
                    .iter()
                    .any(|known| known.id == rule)
                    .then(|| rule.to_string())
            });
        if let Some(granted_under) = grant {
            self.change_alipay_app(&prepared.app_id, |app| {
                let user = &mut app.stored.config.user;
                user.authorisation = Authorisation::Granted;
                user.granted_under = granted_under;
                Ok(())
            })?;
        }
        let device_session = self
            .lock()
            .alipay(&prepared.app_id)
            .map_or(1, |app| lock(&app.login).device_session());
        let event = Event::AlipayPhone {
            fixture: fixture.clone(),
            action: prepared.call.action.kind,
            exchanges: Default::default(),
            device_session,
        };
        let id = self.lock_journal().push(&prepared.app_id, event);
        if let Some(recording) = self
            .lock_recordings()
            .get_mut(&prepared.app_id)
            .filter(|r| r.active)
        {
            recording.steps.push(RecordedCall {
                call_id: id,
                call: prepared.call,
                rule: fixture.delivery.expect.cause.clone(),
                verdict: fixture.delivery.expect.verdict,
                exchange: None,
            });
        }
        Ok((id, answer))
    }

    /// Waits until every journal entry so far is in the durable journal (a no-op without a
    /// data directory): the HTTP layer awaits it before answering, so that an answered call
    /// survives a kill.
    pub async fn journal_durable(&self) {
        if let Some(durable) = &self.shared.durable_journal {
            durable.durable().await;
        }
    }

    /// The durable journal's entries matching `query` (blocking: call it off the async
    /// workers); without a data directory, the live journal's.
    pub fn journal_history(
        &self,
        query: &crate::sim::journal_db::HistoryQuery,
    ) -> Result<Vec<Value>, StateError> {
        let durable = self.lock_journal().durable().cloned();
        let Some(durable) = durable else {
            // In memory only: the live journal, filtered alike.
            let rows = self.lock_journal().rows();
            let matching = rows.into_iter().filter(|row| query.admits(row));
            let mut entries: Vec<Value> = matching.filter_map(|row| row.entry().ok()).collect();
            if !query.oldest_first {
                entries.reverse();
            }
            entries.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
            return Ok(entries);
        };
        durable
            .history(query)
            .map_err(|problem| StateError::Invalid {
                field: "journal".into(),
                message: problem,
            })
    }

    /// One journal entry, if it is still kept.
    pub fn journal_entry(&self, id: u64) -> Option<JournalEntry> {
        self.lock_journal().entry(id)
    }

    /// Adds what a backend answered to the call it was sent (the journal keeps the last
    /// [`EXCHANGES_PER_CALL`] of a call; a recording, the last one).
    pub fn record_backend_exchange(&self, id: u64, exchange: Exchange) {
        for recording in self.lock_recordings().values_mut() {
            if let Some(step) = recording.steps.iter_mut().find(|s| s.call_id == id) {
                step.exchange = Some(exchange.clone());
            }
        }
        self.lock_journal().attach_backend_exchange(id, exchange);
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
    ) -> Result<(Arc<crate::keys::AppKeys>, Option<BackendTarget>), StateError> {
        let inner = self.lock();
        let app = inner.alipay(app_id)?;
        Ok((app.keys.clone(), app.stored.backend.clone()))
    }

    /// The backend the device page last sent to, for this app.
    pub fn backend_target(&self, app_id: &str) -> Option<BackendTarget> {
        self.lock().alipay(app_id).ok()?.stored.backend.clone()
    }

    /// Remembers the backend the device page sends to, for this app.
    pub fn remember_backend(&self, app_id: &str, target: BackendTarget) -> Result<(), StateError> {
        self.change_alipay_app(app_id, |app| {
            app.stored.backend = Some(target);
            Ok(())
        })
        .map(|_| ())
    }

    /// What the app's next call will return, without making it: the console page's outcome.
    pub fn dry_run(&self, app_id: &str) -> Result<Fixture, StateError> {
        self.dry_run_with(app_id, None)
    }

    /// What the app's next call would return were its configuration `config`, without saving
    /// `config` or making the call: the console page's preview of an unsaved form. `config`
    /// is validated as [`SimState::set_config`] does.
    pub fn dry_run_of(&self, app_id: &str, config: &Call) -> Result<Fixture, StateError> {
        config.validate()?;
        self.dry_run_with(app_id, Some(config))
    }

    fn dry_run_with(&self, app_id: &str, config: Option<&Call>) -> Result<Fixture, StateError> {
        let (call, keys, cache, index) = {
            let inner = self.lock();
            let app = inner.alipay(app_id)?;
            (
                config.unwrap_or(&app.stored.config).clone(),
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

    /// Calls, newest first, optionally of one app, at most `limit`.
    pub fn journal(&self, app_id: Option<&str>, limit: usize) -> Vec<JournalEntry> {
        self.lock_journal().entries(app_id, limit)
    }

    /// Clears the journal, or one app's entries.
    pub fn clear_journal(&self, app_id: Option<&str>) {
        self.lock_journal().clear(app_id);
    }

    /// What a strict backend concludes, with an app's keys or explicit ones.
    pub fn verify(&self, request: VerifyRequest) -> Result<Conclusion, StateError> {
        let keys = match (&request.app_id, &request.alipay_public_key) {
            (Some(app_id), None) => self.lock().alipay(app_id)?.backend_keys(&request)?,
            (None, Some(public_key)) => request.explicit_keys(public_key)?,
            _ => {
                return Err(StateError::Invalid {
                    field: "body".into(),
                    message: "give either app_id or alipay_public_key (with aes_key), not both \
                              or neither"
                        .into(),
                })
            }
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
            let fresh = BTreeMap::from([(first.app_id().to_string(), first)]);
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
        self.make_keys_ahead(1, KEYS_AHEAD_AT_OPEN);
        Ok(self.list_apps())
    }
}

/// The format of `GET /api/v1/snapshot`.
pub const SNAPSHOT_VERSION: u32 = 1;

// Snapshots: the whole set-up, to hand to a colleague or load into a fresh instance.
impl SimState {
    /// Everything that makes the next answers what they will be: the state file's content
    /// (apps, consoles, keys), each Alipay app's call count (its next envelope's place in the
    /// sequence of draws), and the clock's offset. The journal and recordings are left out.
    pub fn export_snapshot(&self) -> Value {
        let inner = self.lock();
        let state = StoredState {
            format_version: FORMAT_VERSION,
            apps_created: inner.apps_created,
            apps: inner.apps.values().map(App::stored).collect(),
        };
        let calls: serde_json::Map<String, Value> = inner
            .apps
            .iter()
            .filter_map(|(id, app)| {
                app.alipay()
                    .ok()
                    .map(|a| (id.clone(), a.calls.load(Ordering::Relaxed).into()))
            })
            .collect();
        serde_json::json!({
            "snapshot_version": SNAPSHOT_VERSION,
            "exported_at": now(),
            "state": state,
            "calls": calls,
            "clock_offset": self.shared.clock_offset.load(Ordering::Relaxed),
        })
    }

    /// Replaces every app with a snapshot's, checked as the state file is (nothing changes on
    /// a refusal); the journal and recordings are cleared.
    pub fn load_snapshot(&self, snapshot: &Value) -> Result<Vec<AppView>, StateError> {
        let invalid = |field: &str, message: String| StateError::Invalid {
            field: field.into(),
            message,
        };
        let Some(fields) = snapshot.as_object() else {
            return Err(invalid(
                "snapshot",
                "expected the object GET /api/v1/snapshot gives".into(),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| {
            ![
                "snapshot_version",
                "exported_at",
                "state",
                "calls",
                "clock_offset",
            ]
            .contains(&k.as_str())
        }) {
            return Err(invalid(unknown, "not a field of a snapshot".into()));
        }
        if fields.get("snapshot_version").and_then(Value::as_u64) != Some(SNAPSHOT_VERSION as u64) {
            return Err(invalid(
                "snapshot_version",
                format!(
                    "expected {SNAPSHOT_VERSION}, found {}",
                    fields.get("snapshot_version").unwrap_or(&Value::Null)
                ),
            ));
        }
        let state = fields
            .get("state")
            .ok_or_else(|| invalid("state", "missing: the apps to load".into()))?;
        let stored = crate::sim::store::read_state(&state.to_string())
            .map_err(|problem| invalid("state", problem))?;
        let mut apps = load_apps(stored.apps, stored.apps_created)
            .map_err(|problem| invalid("state", problem))?;
        let calls = match fields.get("calls") {
            None => serde_json::Map::new(),
            Some(Value::Object(calls)) => calls.clone(),
            Some(_) => {
                return Err(invalid(
                    "calls",
                    "expected an object of app ids and counts".into(),
                ))
            }
        };
        for (app_id, count) in &calls {
            let count = count
                .as_u64()
                .ok_or_else(|| invalid(&format!("calls.{app_id}"), "expected a count".into()))?;
            let app = apps.get_mut(app_id).ok_or_else(|| {
                invalid(&format!("calls.{app_id}"), "no such app in state".into())
            })?;
            if let Ok(app) = app.alipay_mut() {
                app.calls.store(count, Ordering::Relaxed);
            }
        }
        let offset = match fields.get("clock_offset") {
            None => 0,
            Some(offset) => offset
                .as_u64()
                .filter(|o| *o <= CLOCK_ADVANCE_LIMIT)
                .ok_or_else(|| {
                    invalid(
                        "clock_offset",
                        format!("expected 0 to {CLOCK_ADVANCE_LIMIT} seconds"),
                    )
                })?,
        };
        {
            let mut inner = self.lock();
            let saved = std::mem::replace(&mut inner.apps, apps);
            let created = std::mem::replace(&mut inner.apps_created, stored.apps_created);
            if let Err(e) = self.save(&inner) {
                inner.apps = saved;
                inner.apps_created = created;
                return Err(e);
            }
        }
        self.shared.clock_offset.store(offset, Ordering::Relaxed);
        self.clear_journal(None);
        self.lock_recordings().clear();
        Ok(self.list_apps())
    }
}

fn now() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_memory(seed: Option<u64>) -> SimState {
        SimState::open(StateConfig {
            seed,
            data_dir: None,
        })
        .unwrap()
    }

    #[test]
    fn a_seeded_states_next_apps_keys_are_made_ahead_and_served() {
        // Seed 0's first apps have built-in keys; seed 7's are made. Opening wishes for app 1.
        let state = in_memory(Some(7));
        let second = derive_seed(7, "app", 1);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        while !keys::is_made(second) {
            assert!(
                std::time::Instant::now() < deadline,
                "app 1's keys never made"
            );
            keys::make_ahead([second]); // again, in case other tests' wishes pushed it out
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let cached = AppKeys::for_seed(second).unwrap();
        let view = state.create_app(NewApp::default()).unwrap();
        let inner = state.lock();
        let app = inner.alipay(&view.app_id).unwrap();
        assert!(
            Arc::ptr_eq(&app.keys, &cached),
            "the made keys, not new ones"
        );
        assert_eq!(app.stored.key_seed, second);
        assert_eq!(view.app_id, crate::keys::app_id_for_seed(second));
    }

    /// Calls that share the app's last answer get exactly what running them afresh gives:
    /// every catalogue scenario, three times in a row and alternating with another one, at
    /// each call's own index (a busy draw or a trace id is per call).
    #[test]
    fn a_shared_answer_is_what_the_call_run_afresh_gives() {
        let state = in_memory(Some(0));
        let app = state.list_apps()[0].app_id.clone();
        let keys = state.lock().alipay(&app).unwrap().keys.clone();
        let mut index = 0;
        let scenarios: Vec<_> = crate::alipay::scenario::catalogue().iter().collect();
        for (n, scenario) in scenarios.iter().enumerate() {
            let other = scenarios[(n + 1) % scenarios.len()];
            for name in [&scenario.name, &scenario.name, &scenario.name, &other.name] {
                let call = crate::alipay::scenario::catalogue()
                    .get(name)
                    .unwrap()
                    .call();
                let afresh = simulate::get_phone_number(&call, &keys, index)
                    .map(|d| d.with_front_end(Default::default(), &call.user.base_library_version));
                let answered = state.get_phone_number(&app, Some(name), Default::default());
                index += 1;
                match (afresh, answered) {
                    (Ok(afresh), Ok(answered)) => {
                        assert_eq!(answered.delivery, afresh, "{name}, call {index}")
                    }
                    (Err(afresh), Err(answered)) => {
                        assert_eq!(answered.to_string(), afresh.to_string(), "{name}")
                    }
                    (afresh, answered) => panic!("{name}: {afresh:?} against {answered:?}"),
                }
            }
            if !simulate::varies_by_call_index(&scenario.call()) {
                let first = simulate::get_phone_number(&scenario.call(), &keys, 0);
                let later = simulate::get_phone_number(&scenario.call(), &keys, 41);
                assert_eq!(
                    first.ok(),
                    later.ok(),
                    "{}: said not to vary by call index",
                    scenario.name
                );
            }
        }
    }

    #[test]
    fn every_exchange_of_a_call_is_kept_in_order_up_to_the_bound() {
        let state = in_memory(Some(0));
        let app = state.list_apps()[0].app_id.clone();
        let prepared = state.prepare_call(&app, None, Default::default()).unwrap();
        let (id, _) = state.complete_recorded_call(prepared).unwrap();
        let exchange = |n: u64| Exchange {
            method: "POST".into(),
            url: format!("http://127.0.0.1:1/{n}"),
            body_shape: crate::sim::store::BodyShape::Json,
            request_body: String::new(),
            status: None,
            headers: Vec::new(),
            body: String::new(),
            truncated: false,
            error: Some("cannot reach".into()),
            note: None,
            elapsed_ms: n,
        };
        let entry = state.journal_entry(id).unwrap();
        assert_eq!((entry.backend, entry.exchanges.len()), (None, 0));
        assert_eq!(entry.action, ActionKind::Consent);
        for n in 1..=EXCHANGES_PER_CALL as u64 + 5 {
            state.record_backend_exchange(id, exchange(n));
        }
        let entry = state.journal_entry(id).unwrap();
        let kept: Vec<u64> = entry.exchanges.iter().map(|e| e.elapsed_ms).collect();
        let expected: Vec<u64> = (6..=EXCHANGES_PER_CALL as u64 + 5).collect();
        assert_eq!(kept, expected, "the last ones, oldest first");
        assert_eq!(
            entry.backend.as_ref(),
            entry.exchanges.last(),
            "backend is the last"
        );
    }

    #[test]
    fn an_app_given_its_own_id_and_seed_has_that_seeds_keys() {
        let state = in_memory(None);
        let view = state
            .create_app(NewApp {
                app_id: Some("mine".into()),
                seed: Some(0),
                ..NewApp::default()
            })
            .unwrap();
        let seed_0 = AppKeys::for_seed(0).unwrap().published();
        assert_eq!(view.keys.app_id, "mine");
        assert_eq!(view.keys.alipay_public_key, seed_0.alipay_public_key);
        assert_eq!(view.keys.aes_key, seed_0.aes_key);
        let inner = state.lock();
        let app = inner.alipay("mine").unwrap();
        assert_eq!(
            app.stored.alipay_private_key_pkcs8_pem,
            seed_0.alipay_private_key_pkcs8_pem
        );
    }
}

/// The simulator's clock: the system's, moved forward by `offset` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Clock {
    /// Unix seconds, as the WeChat endpoints see them.
    pub now: u64,
    /// How far ahead of the system clock it is.
    pub offset: u64,
}

/// How many seconds the clock may be moved in one call (ten years): beyond that, times
/// overflow nothing but mean nothing either.
pub const CLOCK_ADVANCE_LIMIT: u64 = 10 * 365 * 86_400;

// WeChat apps: their console, the page's calls and the endpoints' answers.
impl SimState {
    pub fn clock(&self) -> Clock {
        let offset = self.shared.clock_offset.load(Ordering::Relaxed);
        let system = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Clock {
            now: system + offset,
            offset,
        }
    }

    /// Moves the clock forward, so that codes and tokens expire without waiting.
    pub fn advance_clock(&self, seconds: u64) -> Result<Clock, StateError> {
        if seconds == 0 || seconds > CLOCK_ADVANCE_LIMIT {
            return Err(StateError::Invalid {
                field: "seconds".into(),
                message: format!("{seconds} is not 1 to {CLOCK_ADVANCE_LIMIT} (ten years)"),
            });
        }
        self.shared
            .clock_offset
            .fetch_add(seconds, Ordering::Relaxed);
        Ok(self.clock())
    }

    /// Creates a WeChat app. Its seed comes from `new.seed`, else from the server's seed and
    /// the app's number, else from the OS.
    pub fn create_wechat_app(&self, new: NewWechatApp) -> Result<WechatAppView, StateError> {
        if let Some(name) = &new.name {
            check_name(name)?;
        }
        let mut inner = self.lock();
        let number = inner.apps_created;
        let seed = new
            .seed
            .or_else(|| {
                let seed = self.shared.config.seed?;
                Some(derive_seed(seed, "wechat-app", number))
            })
            .unwrap_or_else(rand::random);
        let app = WechatApp::build(new, seed, now());
        let app_id = app.stored.app_id.clone();
        if inner.apps.contains_key(&app_id) {
            return Err(StateError::AppExists(app_id));
        }
        let view = app.view();
        inner.apps.insert(app_id.clone(), App::Wechat(app));
        inner.apps_created += 1;
        if let Err(e) = self.save(&inner) {
            inner.apps.remove(&app_id);
            inner.apps_created -= 1;
            return Err(e);
        }
        Ok(view)
    }

    /// Every WeChat app, oldest first.
    pub fn list_wechat_apps(&self) -> Vec<WechatAppView> {
        let inner = self.lock();
        let mut views: Vec<WechatAppView> = inner
            .apps
            .values()
            .filter_map(|app| app.wechat().ok().map(WechatApp::view))
            .collect();
        views.sort_by(|a, b| (&a.created_at, &a.app_id).cmp(&(&b.created_at, &b.app_id)));
        views
    }

    pub fn wechat_app(&self, app_id: &str) -> Result<WechatAppView, StateError> {
        Ok(self.lock().app(app_id)?.wechat()?.view())
    }

    /// Runs `change` on the WeChat app's stored settings and saves; a failed save undoes it.
    fn change_wechat_app(
        &self,
        app_id: &str,
        change: impl FnOnce(&mut StoredWechatApp) -> Result<(), StateError>,
    ) -> Result<WechatAppView, StateError> {
        let mut inner = self.lock();
        let app = inner.app_mut(app_id)?.wechat_mut()?;
        let before = app.stored.clone();
        change(&mut app.stored)?;
        let view = app.view();
        if let Err(e) = self.save(&inner) {
            inner.app_mut(app_id)?.wechat_mut()?.stored = before;
            return Err(e);
        }
        Ok(view)
    }

    /// Changes a WeChat app's `name`, `console`, `user` or `switches` by a JSON merge patch.
    pub fn patch_wechat_app(
        &self,
        app_id: &str,
        patch: Value,
    ) -> Result<WechatAppView, StateError> {
        let Value::Object(fields) = &patch else {
            return Err(StateError::Invalid {
                field: "body".into(),
                message: "a patch is a JSON object of name, console, user, switches".into(),
            });
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["name", "console", "user", "switches", "fault"].contains(&k.as_str()))
        {
            return Err(StateError::Invalid {
                field: unknown.clone(),
                message: "not a setting of a WeChat app (name, console, user, switches, fault)"
                    .into(),
            });
        }
        self.change_wechat_app(app_id, |stored| {
            let mut current = serde_json::json!({
                "name": stored.name, "console": stored.console,
                "user": stored.user, "switches": stored.switches, "fault": stored.fault,
            });
            merge_patch(&mut current, &patch);
            let field = |name: &str, e: serde_json::Error| StateError::Invalid {
                field: name.into(),
                message: e.to_string(),
            };
            let name: Option<String> =
                serde_json::from_value(current["name"].take()).map_err(|e| field("name", e))?;
            if let Some(name) = &name {
                check_name(name)?;
            }
            stored.console = serde_json::from_value(current["console"].take())
                .map_err(|e| field("console", e))?;
            stored.user =
                serde_json::from_value(current["user"].take()).map_err(|e| field("user", e))?;
            stored.switches = serde_json::from_value(current["switches"].take())
                .map_err(|e| field("switches", e))?;
            stored.fault =
                serde_json::from_value(current["fault"].take()).map_err(|e| field("fault", e))?;
            stored.name = name;
            stored.scenario = None;
            Ok(())
        })
    }

    /// Sets the app's console, user and switches to a WeChat catalogue scenario's.
    pub fn apply_wechat_scenario(
        &self,
        app_id: &str,
        name: &str,
    ) -> Result<WechatAppView, StateError> {
        let scenario =
            crate::wechat::scenario::scenario(name).ok_or_else(|| StateError::Invalid {
                field: "name".into(),
                message: format!(
                    "{name:?} is not a WeChat scenario (GET /api/v1/wechat/scenarios lists them)"
                ),
            })?;
        self.change_wechat_app(app_id, |stored| {
            stored.console = scenario.console.clone();
            stored.user = scenario.user.clone();
            stored.switches = scenario.switches.clone();
            stored.scenario = Some(scenario.name.clone());
            // A fault on the way to the backend, as the scenario's decrypt step makes it.
            stored.fault = scenario.steps.iter().find_map(|step| match step {
                crate::wechat::scenario::Step::Decrypt { fault, .. } => *fault,
                _ => None,
            });
            Ok(())
        })
    }

    /// Runs a page's call on the app and journals it.
    fn wechat_page_call<R>(
        &self,
        app_id: &str,
        call: &str,
        run: impl FnOnce(&mut Platform, AppRef, u64) -> (R, Value, Value, Expect),
    ) -> Result<R, StateError> {
        let now = self.clock().now;
        let mut inner = self.lock();
        let app = inner.app_mut(app_id)?.wechat_mut()?;
        let (platform, app_ref) = app.parts();
        let (result, request, answer, expect) = run(platform, app_ref, now);
        let session = platform.session.as_ref().map(|s| s.generation);
        let entry = WechatJournalEntry::new(app_id, call, session, now, request, answer, expect);
        drop(inner);
        lock(&self.shared.journal).push(app_id, Event::Wechat(Box::new(entry)));
        Ok(result)
    }

    /// `wx.login()` on the app's page.
    pub fn wechat_login(&self, app_id: &str) -> Result<Value, StateError> {
        self.wechat_page_call(app_id, "wx.login", |platform, app, now| {
            let result = crate::wechat::front_end::wx_login(platform, app, now);
            let expect = page_expect(&crate::wechat::rules::LOGIN_OK, Verdict::Accept);
            (result.clone(), Value::Null, result, expect)
        })
    }

    /// `wx.checkSession()` on the app's page.
    pub fn wechat_check_session(&self, app_id: &str) -> Result<Value, StateError> {
        self.wechat_page_call(app_id, "wx.checkSession", |platform, app, now| {
            let (result, rule) = crate::wechat::front_end::wx_check_session(platform, app, now);
            let verdict = if rule.id.ends_with("-ok") {
                Verdict::Accept
            } else {
                Verdict::FrontEnd
            };
            (
                result.clone(),
                Value::Null,
                result,
                page_expect(rule, verdict),
            )
        })
    }

    /// A tap on the app's phone button.
    pub fn wechat_tap(&self, app_id: &str, tap: Tap) -> Result<TapResult, StateError> {
        crate::wechat::model::version(&tap.base_library).ok_or_else(|| StateError::Invalid {
            field: "base_library".into(),
            message: format!("{:?} is not a version such as 3.4.0", tap.base_library),
        })?;
        let fault = self.lock().app(app_id)?.wechat()?.stored.fault;
        self.wechat_page_call(app_id, "tap", |platform, app, now| {
            let mut result = crate::wechat::front_end::tap(platform, app, &tap, now);
            if let (Some(fault), Some(key), Some(held)) = (
                fault,
                result.encrypted_with.clone(),
                result.held_key.clone(),
            ) {
                if let (Some(data), Some(iv)) = (
                    result.detail["encryptedData"].as_str(),
                    result.detail["iv"].as_str(),
                ) {
                    let (data, iv) = crate::wechat::scenario::apply_fault(
                        Some(fault),
                        app.keys,
                        &key,
                        data.to_string(),
                        iv.to_string(),
                    );
                    result.expect =
                        crate::wechat::judge::judge_legacy(&app.keys.appid, &held, &iv, &data);
                    result.detail["encryptedData"] = data.into();
                    result.detail["iv"] = iv.into();
                }
            }
            let request = serde_json::to_value(&tap).expect("serialises");
            let (answer, expect) = (result.detail.clone(), result.expect.clone());
            (result, request, answer, expect)
        })
    }

    /// A backend's call to an endpoint that names its app by `appid` (jscode2session, the
    /// token endpoints). Unknown or missing appids get WeChat's answer, from no app.
    pub fn wechat_endpoint_by_appid(
        &self,
        appid: Option<&str>,
        call: &str,
        request: Value,
        run: impl FnOnce(&mut Platform, AppRef, u64) -> Answer,
    ) -> Answer {
        let now = self.clock().now;
        let Some(appid) = appid.filter(|a| !a.is_empty()) else {
            return anonymous_error(
                41002,
                "appid missing",
                &crate::wechat::rules::PARAMETER_MISSING,
                now,
            );
        };
        self.wechat_endpoint(appid, call, request, now, run)
            .unwrap_or_else(|| {
                anonymous_error(
                    40013,
                    "invalid appid",
                    &crate::wechat::rules::INVALID_APPID,
                    now,
                )
            })
    }

    /// A backend's call to an endpoint that names its app by access token (getuserphonenumber,
    /// checksession). A token no app issued is 40001.
    pub fn wechat_endpoint_by_token(
        &self,
        token: Option<&str>,
        call: &str,
        request: Value,
        run: impl FnOnce(&mut Platform, AppRef, u64) -> Answer,
    ) -> Answer {
        let now = self.clock().now;
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return anonymous_error(
                41001,
                "access_token missing",
                &crate::wechat::rules::PARAMETER_MISSING,
                now,
            );
        };
        let owner = self.lock().apps.values().find_map(|app| {
            app.wechat()
                .ok()
                .filter(|app| app.platform.knows_token(token))
                .map(|app| app.stored.app_id.clone())
        });
        owner
            .and_then(|appid| self.wechat_endpoint(&appid, call, request, now, run))
            .unwrap_or_else(|| {
                anonymous_error(
                    40001,
                    "invalid credential, access_token is invalid or not latest",
                    &crate::wechat::rules::TOKEN_INVALID,
                    now,
                )
            })
    }

    fn wechat_endpoint(
        &self,
        appid: &str,
        call: &str,
        request: Value,
        now: u64,
        run: impl FnOnce(&mut Platform, AppRef, u64) -> Answer,
    ) -> Option<Answer> {
        let mut inner = self.lock();
        let app = inner.apps.get_mut(appid)?.wechat_mut().ok()?;
        let (platform, app_ref) = app.parts();
        let answer = run(platform, app_ref, now);
        // The device session a call belongs to: the code's key, else the current one.
        let code = request["js_code"].as_str().unwrap_or_default();
        let session = platform
            .login_codes
            .get(code)
            .and_then(|c| c.session_generation)
            .or(platform.session.as_ref().map(|s| s.generation));
        drop(inner);
        let expect = crate::wechat::scenario::conclusion_of(&answer);
        let entry = WechatJournalEntry::new(
            appid,
            call,
            session,
            now,
            request,
            answer.body.clone(),
            expect,
        );
        lock(&self.shared.journal).push(appid, Event::Wechat(Box::new(entry)));
        Some(answer)
    }

    /// The WeChat calls of the journal, newest first.
    pub fn wechat_journal(&self, app_id: Option<&str>, limit: usize) -> Vec<WechatJournalEntry> {
        lock(&self.shared.journal).wechat_entries(app_id, limit)
    }
}

fn page_expect(rule: &'static crate::oracle::Rule, verdict: Verdict) -> Expect {
    Expect {
        verdict,
        plaintext: None,
        cause: crate::oracle::Cause::Rule(rule),
        reason: rule.summary.to_string(),
        doc_policy: None,
    }
}

impl SimState {
    /// A new device session on the app: WeChat forgets its codes, session key and per-minute
    /// counts, and keeps the tokens it issued (a backend's cached token stays valid). Playback
    /// starts each step so, as a new user would.
    pub fn wechat_new_device(&self, app_id: &str) -> Result<(), StateError> {
        let mut inner = self.lock();
        let app = inner.app_mut(app_id)?.wechat_mut()?;
        let old = std::mem::take(&mut app.platform);
        app.platform.tokens = old.tokens;
        app.platform.stable_tokens = old.stable_tokens;
        app.platform.forced_refreshes = old.forced_refreshes;
        app.platform.drawn = old.drawn;
        Ok(())
    }
}

// The Alipay login: my.getAuthCode, the app's own key pair, and the gateway.
impl SimState {
    /// `my.getAuthCode({scopes})`: a code for the gateway's `alipay.system.oauth.token`,
    /// single-use, for 180 s of the simulator's clock.
    pub fn alipay_get_auth_code(
        &self,
        app_id: &str,
        scopes: Vec<String>,
        action: crate::alipay::front_end::AuthAction,
    ) -> Result<Value, StateError> {
        use crate::sim::alipay_login::AuthCode;
        let scopes = if scopes.is_empty() {
            vec!["auth_base".to_string()]
        } else {
            scopes
        };
        let jsapi = self
            .lock()
            .alipay(app_id)?
            .stored
            .config
            .console
            .jsapi_base_package;
        if let Some(failure) = crate::alipay::front_end::auth_code_failure(&scopes, action, jsapi) {
            let app = self.lock().alipay(app_id)?.clone();
            let device_session = lock(&app.login).device_session();
            self.journal_login(
                app_id,
                AlipayLoginJournalEntry {
                    device_session: Some(device_session),
                    call: "my.getAuthCode".into(),
                    api: "page".into(),
                    request: serde_json::json!({ "scopes": scopes, "action": action }),
                    answer: failure.clone(),
                    ..AlipayLoginJournalEntry::default()
                },
            );
            return Ok(failure);
        }
        let now = self.clock().now;
        let app = self.lock().alipay(app_id)?.clone();
        let mut memory = lock(&app.login);
        memory.drawn += 1;
        let code = login_value(app.stored.key_seed, "auth-code", memory.drawn, 32);
        let device_session = memory.device_session();
        memory.codes.insert(
            code.clone(),
            AuthCode {
                issued_at: now,
                scopes: scopes.clone(),
                used: false,
                device_session,
            },
        );
        drop(memory);
        let answer = serde_json::json!({
            "authCode": code,
            "authSuccessScopes": scopes,
            "authErrorScopes": {},
        });
        self.journal_login(
            app_id,
            AlipayLoginJournalEntry {
                device_session: Some(device_session),
                call: "my.getAuthCode".into(),
                api: "page".into(),
                request: serde_json::json!({ "scopes": scopes, "action": action }),
                answer: answer.clone(),
                gateway_fault: None,
                user: Some(session_user(&app, device_session).id().to_string()),
                ..AlipayLoginJournalEntry::default()
            },
        );
        Ok(answer)
    }

    /// Starts a new device session on the app: another Alipay account on another phone. Its
    /// codes log in another user; its phone-number calls are journaled with its number.
    pub fn alipay_new_device_session(&self, app_id: &str) -> Result<Value, StateError> {
        let app = self.lock().alipay(app_id)?.clone();
        let mut memory = lock(&app.login);
        memory.sessions_started += 1;
        let device_session = memory.device_session();
        let user = session_user(&app, device_session);
        Ok(serde_json::json!({ "device_session": device_session, "user": user.id() }))
    }

    /// The app's device session now, and its user.
    pub fn alipay_device_session(&self, app_id: &str) -> Result<Value, StateError> {
        let app = self.lock().alipay(app_id)?.clone();
        let device_session = lock(&app.login).device_session();
        let user = session_user(&app, device_session);
        Ok(serde_json::json!({ "device_session": device_session, "user": user.id() }))
    }

    /// The login journal (page and gateway calls), newest first, of one app or all, of one
    /// device session or all, at most `limit`.
    pub fn alipay_login_journal(
        &self,
        app_id: Option<&str>,
        device_session: Option<u64>,
        limit: usize,
    ) -> Vec<AlipayLoginJournalEntry> {
        self.lock_journal()
            .login_entries(app_id, device_session, limit)
    }

    fn journal_login(&self, app_id: &str, entry: AlipayLoginJournalEntry) {
        self.lock_journal()
            .push(app_id, Event::AlipayLogin(Box::new(entry)));
    }

    /// The app's own key pair: the one the simulator made (its private key in both PEM forms),
    /// or the public key the developer uploaded. The first read of a made pair generates it
    /// (an RSA key): call it off the async workers.
    pub fn app_key_pair(
        &self,
        app_id: &str,
    ) -> Result<crate::sim::alipay_login::AppKeyPairView, StateError> {
        let app = self.lock().alipay(app_id)?.clone();
        Ok(match &app.stored.app_public_key {
            Some(uploaded) => crate::sim::alipay_login::AppKeyPairView {
                app_public_key: uploaded.clone(),
                uploaded: true,
                app_private_key_pkcs1_pem: None,
                app_private_key_pkcs8_pem: None,
            },
            None => {
                let key = app.keys.app_key()?;
                crate::sim::alipay_login::AppKeyPairView {
                    app_public_key: key.public_key().to_base64(),
                    uploaded: false,
                    app_private_key_pkcs1_pem: Some(key.to_pkcs1_pem()),
                    app_private_key_pkcs8_pem: Some(key.to_pkcs8_pem()),
                }
            }
        })
    }

    /// Sets the app public key (应用公钥) the gateway verifies with, as the console's upload
    /// does; `None` goes back to the pair the simulator made. The Alipay public key is refused:
    /// the app's pair must be its own.
    pub fn set_app_public_key(
        &self,
        app_id: &str,
        key: Option<String>,
    ) -> Result<crate::sim::alipay_login::AppKeyPairView, StateError> {
        let key = match key {
            Some(text) => {
                let parsed = crate::crypto::PublicKey::parse(text.trim()).map_err(|e| {
                    StateError::Invalid {
                        field: "app_public_key".into(),
                        message: e.to_string(),
                    }
                })?;
                Some(parsed.to_base64())
            }
            None => None,
        };
        self.change_alipay_app(app_id, |app| {
            if key.as_deref() == Some(app.keys.alipay_key().public_key().to_base64().as_str()) {
                return Err(StateError::Invalid {
                    field: "app_public_key".into(),
                    message: "this is the Alipay public key; the app's key pair must be its own (the Java SDK refuses an Alipay key that pairs with the app key)".into(),
                });
            }
            app.stored.app_public_key = key.clone();
            Ok(())
        })?;
        self.app_key_pair(app_id)
    }

    /// The app's login settings: its id mode and app group.
    pub fn login_settings(
        &self,
        app_id: &str,
    ) -> Result<crate::sim::alipay_login::LoginSettings, StateError> {
        Ok(self.lock().alipay(app_id)?.stored.login.clone())
    }

    /// Sets the app's id mode (openid配置管理) and app group (`union_id`).
    pub fn set_login_settings(
        &self,
        app_id: &str,
        settings: crate::sim::alipay_login::LoginSettings,
    ) -> Result<crate::sim::alipay_login::LoginSettings, StateError> {
        if settings.auth_code_ttl == 0 {
            return Err(StateError::Invalid {
                field: "auth_code_ttl".into(),
                message: "a code must work for at least 1 second".into(),
            });
        }
        if let Some(group) = &settings.union_group {
            check_name(group).map_err(|_| StateError::Invalid {
                field: "union_group".into(),
                message: format!(
                    "{group:?} is not a group name: 1 to 64 characters, no control characters"
                ),
            })?;
        }
        self.change_alipay_app(app_id, |app| {
            app.stored.login = settings.clone();
            Ok(())
        })?;
        self.login_settings(app_id)
    }

    /// Sets (or clears) the app's gateway fault; gives what a correct client concludes.
    pub fn set_gateway_fault(
        &self,
        app_id: &str,
        fault: Option<crate::alipay::gateway::GatewayFault>,
    ) -> Result<Value, StateError> {
        self.change_alipay_app(app_id, |app| {
            app.stored.gateway_fault = fault;
            Ok(())
        })?;
        Ok(match fault {
            Some(fault) => {
                let (verdict, reason) = fault.conclusion();
                serde_json::json!({"fault": fault, "expect": {"verdict": verdict, "reason": reason}})
            }
            None => serde_json::json!({"fault": null, "expect": null}),
        })
    }

    /// `POST /gateway.do`: the answer's body to a v2 request of `params` (query and form
    /// together). Errors are a signed `error_response` (unsigned for an unknown app, which has
    /// no Alipay key).
    pub fn alipay_gateway(&self, params: &BTreeMap<String, String>) -> String {
        let body = self.gateway_v2_answer(params);
        let app = params
            .get("app_id")
            .and_then(|id| self.lock().alipay(id).ok().cloned());
        if let Some(app) = app {
            let device_session = lock(&app.login).session_of(params);
            let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let answer = parsed
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.ends_with("_response")))
                .map_or_else(|| Value::String(body.clone()), |(_, v)| v.clone());
            let mut request: serde_json::Map<String, Value> = params
                .iter()
                .filter(|(k, _)| k.as_str() != "sign")
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            request.remove("sign");
            self.journal_login(
                &app.stored.app_id,
                AlipayLoginJournalEntry {
                    device_session,
                    call: params.get("method").cloned().unwrap_or_default(),
                    api: "v2".into(),
                    request: Value::Object(request),
                    user: logged_in_user(&app, &answer, device_session),
                    answer,
                    gateway_fault: app.stored.gateway_fault,
                    ..AlipayLoginJournalEntry::default()
                },
            );
        }
        body
    }

    fn gateway_v2_answer(&self, params: &BTreeMap<String, String>) -> String {
        use crate::alipay::gateway::{self, GatewayError};
        use crate::crypto::SignType;
        let now = self.clock().now;
        let app = params
            .get("app_id")
            .and_then(|id| self.lock().alipay(id).ok().cloned());
        let public_key = app.as_ref().map(app_public_key);
        let checked = gateway::check_request(params, public_key.as_ref().map(Option::as_ref));
        // Certificate mode: the SNs a request must carry, and the one its answer carries.
        let certificates = app
            .as_ref()
            .filter(|app| {
                app.stored.config.console.signing_key_mode
                    == crate::alipay::model::SigningKeyMode::Certificate
            })
            .and_then(|app| app.keys.certificates().ok());
        let cert_sn = certificates.as_ref().map(|c| c.alipay_cert_sn.clone());
        let answer = |root: &str, inner: Value, sign_type: SignType| {
            gateway_answer(app.as_ref(), root, &inner, sign_type, cert_sn.as_deref())
        };
        let request_sign_type = params
            .get("sign_type")
            .and_then(|t| t.parse().ok())
            .unwrap_or(SignType::Rsa2);
        let (sign_type, app) = match (checked, app.as_ref()) {
            (Ok(sign_type), Some(app)) => (sign_type, app),
            // An unknown app never passes the check; refused as one all the same.
            (Ok(_), None) => {
                let error = GatewayError::invalid_app_id();
                return answer("error_response", error.to_value(), request_sign_type);
            }
            (Err(error), _) => {
                return answer("error_response", error.to_value(), request_sign_type)
            }
        };
        if let Some(certificates) = &certificates {
            let sns = gateway::check_cert_sns(
                params,
                &certificates.app_cert_sn,
                &certificates.alipay_root_cert_sn,
            );
            if let Err(error) = sns {
                return answer("error_response", error.to_value(), sign_type);
            }
        }
        let method = params.get("method").map(String::as_str).unwrap_or_default();
        if method == gateway::CERT_DOWNLOAD {
            return match &certificates {
                Some(c) => gateway::cert_download_answer(params, &c.alipay_cert_sn, &c.alipay_cert),
                None => answer(
                    "error_response",
                    GatewayError::invalid(
                        "isv.invalid-method",
                        "公钥模式的应用没有支付宝公钥证书: 开发设置 › 接口加签方式 为公钥证书时才可下载",
                    )
                    .to_value(),
                    sign_type,
                ),
            };
        }
        if app.stored.gateway_fault == Some(gateway::GatewayFault::SystemBusy) {
            // A busy gateway did nothing: the code stays unused.
            return answer("error_response", Value::Null, sign_type);
        }
        match login_call(app, method, params, now) {
            Ok(inner) => answer(&gateway::response_root(method), inner, sign_type),
            Err(error) => answer("error_response", error.to_value(), sign_type),
        }
    }

    /// A v3 request (§4): `POST /v3/alipay/system/oauth/token` (a JSON body) or
    /// `/v3/alipay/user/info/share?auth_token=`. The answer: its status, the headers that sign
    /// a success (`alipay-timestamp`, `alipay-nonce`, `alipay-signature`), and its body.
    pub fn alipay_gateway_v3(
        &self,
        request: V3Request<'_>,
    ) -> (u16, Vec<(String, String)>, String) {
        let (status, headers, body, called) = self.gateway_v3_answer(request);
        if let Some((app, method, params)) = called {
            let device_session = lock(&app.login).session_of(&params);
            let answer: Value =
                serde_json::from_str(&body).unwrap_or_else(|_| Value::String(body.clone()));
            self.journal_login(
                &app.stored.app_id,
                AlipayLoginJournalEntry {
                    device_session,
                    call: method.to_string(),
                    api: "v3".into(),
                    request: serde_json::json!({
                        "path": request.path_and_query,
                        "body": request.body,
                    }),
                    user: logged_in_user(&app, &answer, device_session).filter(|_| status == 200),
                    answer,
                    gateway_fault: None,
                    ..AlipayLoginJournalEntry::default()
                },
            );
        }
        (status, headers, body)
    }

    /// A v3 answer, and the app, method and parameters of a request that reached the app
    /// (the journal's).
    #[allow(clippy::type_complexity)]
    fn gateway_v3_answer(
        &self,
        request: V3Request<'_>,
    ) -> (
        u16,
        Vec<(String, String)>,
        String,
        Option<(AlipayApp, &'static str, BTreeMap<String, String>)>,
    ) {
        use crate::alipay::gateway::{self, GatewayError};
        let now = self.clock().now;
        let refuse =
            |error: GatewayError| (400, Vec::new(), gateway::v3_error_body(&error).to_string());
        let authorization = match gateway::parse_v3_authorization(request.authorization) {
            Ok(authorization) => authorization,
            Err(error) => {
                let (status, headers, body) = refuse(error);
                return (status, headers, body, None);
            }
        };
        let Some(app) = self.lock().alipay(&authorization.app_id).ok().cloned() else {
            let (status, headers, body) = refuse(GatewayError::invalid_app_id());
            return (status, headers, body, None);
        };
        let (method, mut params) = match request.path {
            "/v3/alipay/system/oauth/token" => {
                let body: Value = serde_json::from_str(request.body).unwrap_or(Value::Null);
                let params: BTreeMap<String, String> = body
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect();
                (gateway::OAUTH_TOKEN, params)
            }
            _ => (gateway::USER_INFO_SHARE, request.query.clone()),
        };
        params.insert("app_id".into(), authorization.app_id.clone());
        let (status, headers, body) =
            self.v3_call(&app, &authorization, request, method, &params, now);
        (status, headers, body, Some((app, method, params)))
    }

    /// A v3 request of a known app: its signature checked, then the method.
    fn v3_call(
        &self,
        app: &AlipayApp,
        authorization: &crate::alipay::gateway::V3Authorization,
        request: V3Request<'_>,
        method: &str,
        params: &BTreeMap<String, String>,
        now: u64,
    ) -> (u16, Vec<(String, String)>, String) {
        use crate::alipay::gateway::{self, GatewayError};
        let refuse =
            |error: GatewayError| (400, Vec::new(), gateway::v3_error_body(&error).to_string());
        let signed = gateway::v3_sign_string(
            &authorization.auth_string,
            request.method,
            request.path_and_query,
            request.body,
            request.app_auth_token,
        );
        let verified = app_public_key(app).is_some_and(|key| {
            key.verify(
                crate::crypto::SignatureHash::Sha256,
                signed.as_bytes(),
                &authorization.sign,
            )
        });
        if !verified {
            return refuse(GatewayError::invalid_signature_v3(&signed));
        }
        // Certificate mode: the app certificate's SN in the header, the root file's SN beside
        // it; answers name the Alipay certificate in alipay-sn.
        let certificates = (app.stored.config.console.signing_key_mode
            == crate::alipay::model::SigningKeyMode::Certificate)
            .then(|| app.keys.certificates().ok())
            .flatten();
        if let Some(certificates) = &certificates {
            let sent: BTreeMap<String, String> = [
                ("app_cert_sn", authorization.app_cert_sn.as_deref()),
                ("alipay_root_cert_sn", request.root_cert_sn),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
            .collect();
            let checked = gateway::check_cert_sns(
                &sent,
                &certificates.app_cert_sn,
                &certificates.alipay_root_cert_sn,
            );
            if let Err(error) = checked {
                return refuse(error);
            }
        }
        let fault = app.stored.gateway_fault;
        if fault == Some(gateway::GatewayFault::SystemBusy) {
            // A busy gateway did nothing: the code stays unused.
            return refuse(GatewayError {
                code: "20000",
                msg: "Service Currently Unavailable",
                sub_code: "isp.unknow-error",
                sub_msg: "系统繁忙".into(),
            });
        }
        let mut inner = match login_call(app, method, params, now) {
            Ok(inner) => inner,
            Err(error) => return refuse(error),
        };
        // v3 answers carry no code/msg: the status says it.
        if let Some(object) = inner.as_object_mut() {
            object.remove("code");
            object.remove("msg");
        }
        let body = inner.to_string();
        let nonce = login_value(app.stored.key_seed, "v3-nonce", now ^ body.len() as u64, 32);
        let timestamp = (now * 1000).to_string();
        let sign_string = gateway::v3_response_sign_string(&timestamp, &nonce, &body);
        // Faults of v3 answers: the body changed after signing, another key, no signature.
        // A repeated root and unescaped slashes have no v3 counterpart (a bare JSON body).
        let signer = match fault {
            Some(gateway::GatewayFault::OtherKey) => app.keys.wrong_signing_key(),
            _ => Ok(app.keys.alipay_key()),
        };
        let Ok(signature) = signer
            .and_then(|key| key.sign(crate::crypto::SignatureHash::Sha256, sign_string.as_bytes()))
        else {
            return refuse(GatewayError::invalid_app_id());
        };
        let mut headers = vec![
            ("alipay-timestamp".to_string(), timestamp),
            ("alipay-nonce".to_string(), nonce.clone()),
        ];
        if fault != Some(gateway::GatewayFault::NoSign) {
            headers.push(("alipay-signature".to_string(), signature));
        }
        headers.push(("alipay-trace-id".to_string(), nonce));
        if let Some(certificates) = &certificates {
            headers.push(("alipay-sn".to_string(), certificates.alipay_cert_sn.clone()));
        }
        let body = match fault {
            Some(gateway::GatewayFault::TamperedBody) => gateway::tamper(&body),
            _ => body,
        };
        (200, headers, body)
    }
}

/// The body of a v2 answer: signed with the app's Alipay key (its gateway fault made, when it
/// has one), or unsigned for an unknown app, which has no Alipay key.
fn gateway_answer(
    app: Option<&AlipayApp>,
    root: &str,
    inner: &Value,
    sign_type: crate::crypto::SignType,
    cert_sn: Option<&str>,
) -> String {
    use crate::alipay::gateway;
    let Some(app) = app else {
        return format!("{{\"{root}\":{}}}", gateway::alipay_json(inner));
    };
    let key = app.keys.alipay_key();
    let made = match app.stored.gateway_fault {
        Some(fault) => app.keys.wrong_signing_key().and_then(|other| {
            gateway::faulted_answer(root, inner, (key, other), sign_type, cert_sn, fault)
        }),
        None => gateway::signed_answer(root, inner, key, sign_type, cert_sn),
    };
    made.unwrap_or_else(|e| {
        let busy = serde_json::json!({"code": "20000", "msg": "Service Currently Unavailable",
            "sub_code": "isp.unknow-error", "sub_msg": e.to_string()});
        format!("{{\"error_response\":{}}}", gateway::alipay_json(&busy))
    })
}

/// A v3 request as the gateway reads it.
#[derive(Debug, Clone, Copy)]
pub struct V3Request<'a> {
    pub method: &'a str,
    /// The path alone, and with its query as sent (what the signature covers).
    pub path: &'a str,
    pub path_and_query: &'a str,
    pub query: &'a BTreeMap<String, String>,
    pub body: &'a str,
    pub authorization: Option<&'a str>,
    pub app_auth_token: Option<&'a str>,
    /// Certificate mode's `alipay-root-cert-sn` header (§5).
    pub root_cert_sn: Option<&'a str>,
}

/// The app public key the gateway verifies with: the uploaded one, else the made pair's.
fn app_public_key(app: &AlipayApp) -> Option<crate::crypto::PublicKey> {
    match &app.stored.app_public_key {
        Some(text) => crate::crypto::PublicKey::parse(text).ok(),
        None => app.keys.app_key().ok().map(|k| k.public_key().clone()),
    }
}

/// One login method on a checked request: its answer's object, or why not.
fn login_call(
    app: &AlipayApp,
    method: &str,
    params: &BTreeMap<String, String>,
    now: u64,
) -> Result<Value, crate::alipay::gateway::GatewayError> {
    use crate::alipay::gateway::{self, GatewayError};
    use crate::sim::alipay_login::{IssuedToken, NumberForm, ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL};
    let settings = &app.stored.login;
    let seed = app.stored.key_seed;
    let alive = |issued_at: u64, ttl: u64| now < issued_at + ttl;
    let mut memory = lock(&app.login);
    let device_session = memory.session_of(params).unwrap_or(1);
    let user = session_user(app, device_session);
    if method == gateway::USER_INFO_SHARE {
        let token = params.get("auth_token").cloned().unwrap_or_default();
        match memory.access_tokens.get(&token) {
            None => return Err(gateway::invalid_auth_token("")),
            Some(t) if !alive(t.issued_at, ACCESS_TOKEN_TTL) => {
                return Err(gateway::auth_token_time_out())
            }
            Some(t) if !t.scopes.iter().any(|s| s == "auth_user") => {
                return Err(gateway::invalid_auth_token(
                    "：auth_base 授权的令牌不能获取用户信息",
                ))
            }
            Some(_) => {}
        }
        let avatar = format!(
            "https://tfs.alipayobjects.com/images/partner/{}",
            login_value(seed, "avatar", 0, 24)
        );
        let mut info = gateway::user_info_success(&user, "alipay-sim 用户", &avatar);
        let mobile = app.stored.config.user.mobile.as_str();
        if settings.mobile_field && !mobile.is_empty() {
            info["mobile"] = mobile.into();
        }
        return Ok(info);
    }
    let scopes = match params.get("grant_type").map(String::as_str).unwrap_or("") {
        "authorization_code" => {
            let code = params.get("code").cloned().unwrap_or_default();
            let issued = memory
                .codes
                .get_mut(&code)
                .filter(|c| !c.used && alive(c.issued_at, settings.auth_code_ttl))
                .ok_or_else(gateway::code_invalid)?;
            issued.used = true;
            issued.scopes.clone()
        }
        "refresh_token" => {
            let token = params.get("refresh_token").cloned().unwrap_or_default();
            let issued = memory
                .refresh_tokens
                .get_mut(&token)
                .ok_or_else(|| gateway::refresh_token_invalid(false))?;
            if issued.used {
                return Err(gateway::refresh_token_invalid(true));
            }
            if !alive(issued.issued_at, REFRESH_TOKEN_TTL) {
                return Err(GatewayError::refresh_token_time_out());
            }
            issued.used = settings.refresh_token_rotation;
            issued.scopes.clone()
        }
        other => return Err(gateway::grant_type_invalid(other)),
    };
    memory.drawn += 1;
    let n = memory.drawn;
    let access_token = format!("authusrB{}", login_value(seed, "access-token", n, 40));
    let refresh_token = format!("authusrB{}", login_value(seed, "refresh-token", n, 40));
    let token = IssuedToken {
        issued_at: now,
        scopes,
        used: false,
        device_session,
    };
    memory
        .access_tokens
        .insert(access_token.clone(), token.clone());
    memory.refresh_tokens.insert(refresh_token.clone(), token);
    drop(memory);
    let beijing = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(time::UtcOffset::from_hms(8, 0, 0).expect("a valid offset"));
    let auth_start = beijing
        .format(
            &time::format_description::parse_borrowed::<2>(
                "[year]-[month]-[day] [hour]:[minute]:[second]",
            )
            .expect("a valid format"),
        )
        .unwrap_or_default();
    let mut answer =
        gateway::oauth_token_success(&user, &access_token, &refresh_token, &auth_start);
    if settings.expires_in == NumberForm::String {
        for field in ["expires_in", "re_expires_in"] {
            answer[field] = answer[field].to_string().into();
        }
    }
    Ok(answer)
}

/// The Alipay account of an app's device session: session `n` is the simulator's account
/// `n`, whose `user_id` is the same in every app, whose `open_id` is the app's own, and whose
/// `union_id` is its group's. Which ids a login carries is the app's id mode (§9's default:
/// only `open_id`).
fn session_user(app: &AlipayApp, device_session: u64) -> crate::alipay::gateway::LoginUser {
    use crate::sim::alipay_login::IdMode;
    let account = device_session.saturating_sub(1);
    let settings = &app.stored.login;
    let user_id = {
        use rand::Rng;
        let mut rng = crate::seed::seeded_rng(account, "alipay-login/user-id");
        let digits: String = (0..12)
            .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
            .collect();
        format!("2088{digits}")
    };
    let open_id = login_value(app.stored.key_seed, "open-id", account, 46);
    crate::alipay::gateway::LoginUser {
        user_id: (settings.id_mode != IdMode::Openid).then_some(user_id),
        open_id: (settings.id_mode != IdMode::Userid).then_some(open_id),
        union_id: settings.union_group.as_ref().map(|group| {
            let group_seed = crate::seed::derive_seed(0, &format!("union-group/{group}"), 0);
            login_value(group_seed, "union-id", account, 46)
        }),
    }
}

/// The user a gateway answer logged in or read: the session's, when the answer is not an
/// error (a faulted answer's body may name another).
fn logged_in_user(app: &AlipayApp, answer: &Value, device_session: Option<u64>) -> Option<String> {
    let succeeded = answer.is_object() && answer.get("sub_code").is_none();
    device_session
        .filter(|_| succeeded)
        .map(|n| session_user(app, n).id().to_string())
}

/// A login value of an app: `len` letters and digits from its seed, for `purpose` and `n`.
fn login_value(seed: u64, purpose: &str, n: u64, len: usize) -> String {
    use rand::Rng;
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = crate::seed::seeded_rng(seed, &format!("alipay-login/{purpose}/{n}"));
    (0..len)
        .map(|_| ALNUM[rng.gen_range(0..ALNUM.len())] as char)
        .collect()
}
