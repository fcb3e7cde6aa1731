//! The keys of one simulated app, all derived from a seed.
//!
//! A seed fixes the app id, the Alipay key pair (whose public half a backend verifies with) and
//! the AES key, so `alipay-sim keys --seed 7` always prints what a backend needs to check every
//! envelope produced with `--seed 7`. Faults that need another key (a wrong signing key, a wrong
//! or 256-bit AES key) derive it from the same seed under another purpose, and it is never
//! published as the app's.
//!
//! RSA key generation takes 0.1 to 2 seconds, so keys are made before they are needed, and each
//! seed's at most once: [`AppKeys::for_seed`] keeps the keys of the most recently used seeds; the
//! keys of the default seed (0) and of its first apps are built in, precomputed (a test checks them
//! against generation); and a
//! bounded pool, filled by a background thread that runs only while it has work, makes the keys
//! of the seeds the caller says come next ([`make_ahead`]) and keeps a few keys of random seeds
//! ready ([`random`]). Nobody waits for another seed's keys: a seed being made in the background
//! is waited for only by those who want that seed, and a wanted seed not yet started is made at
//! once by the one who wants it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rand_chacha::rand_core::{OsRng, RngCore};
use serde::Serialize;

use crate::certs::Certificates;
use crate::crypto::{AesKey, CryptoError, SigningKey};
use crate::seed::seeded_rng;

/// The keys of one app.
pub struct AppKeys {
    app_id: String,
    // Shared by the copies made under another app id.
    alipay: Arc<SigningKey>,
    aes: AesKey,
    // Encoded once: every envelope's fixture carries them.
    public_key_base64: String,
    aes_key_base64: String,
    fault_seed: u64,
    wrong_signing: Arc<OnceLock<Result<SigningKey, CryptoError>>>,
    /// A third-party app's (ISV's) Alipay key pair and its public key's console text.
    isv_signing: Arc<OnceLock<Result<(SigningKey, String), CryptoError>>>,
    /// The app's own key pair (应用公钥 and its private key), for its gateway requests.
    app_signing: Arc<OnceLock<Result<SigningKey, CryptoError>>>,
    /// Depends on the app id: never shared by `with_app_id`.
    certificates: OnceLock<Result<Arc<Certificates>, CryptoError>>,
}

impl AppKeys {
    /// The keys for `seed`, shared: made once and kept while the seed is among the 64 most
    /// recently used (the default seed's, 0, are built in).
    pub fn for_seed(seed: u64) -> Result<Arc<AppKeys>, CryptoError> {
        let slot = lock(seed_cache()).slot(seed);
        // Made outside the cache's lock, so that other seeds are not held up.
        slot.get_or_init(|| {
            Self::precomputed(seed)
                .unwrap_or_else(|| Self::generate(seed))
                .map(Arc::new)
        })
        .clone()
    }

    /// Fresh keys for `seed`, bypassing the cache.
    pub fn generate(seed: u64) -> Result<AppKeys, CryptoError> {
        let alipay = SigningKey::generate(&mut seeded_rng(seed, "alipay-key"))?;
        Ok(Self::from_seed_and_key(seed, alipay))
    }

    /// The built-in keys of `seed`, if it has some.
    fn precomputed(seed: u64) -> Option<Result<AppKeys, CryptoError>> {
        let seed_text = seed.to_string();
        BUILT_IN
            .lines()
            .filter_map(|line| line.split_once(' '))
            .find(|(known, _)| *known == seed_text)
            .map(|(_, pkcs8)| {
                SigningKey::from_pem_or_base64(pkcs8)
                    .map(|alipay| Self::from_seed_and_key(seed, alipay))
            })
    }

    fn from_seed_and_key(seed: u64, alipay: SigningKey) -> AppKeys {
        let aes = AesKey::from_rng(&mut seeded_rng(seed, "aes-key"), 16);
        Self::from_parts(app_id_for_seed(seed), alipay, aes, seed)
    }

    /// Keys given explicitly, e.g. the known-answer vectors' or keys a user imported.
    /// `fault_seed` derives the keys that faults use.
    pub fn from_parts(app_id: String, alipay: SigningKey, aes: AesKey, fault_seed: u64) -> Self {
        AppKeys {
            app_id,
            public_key_base64: alipay.public_key().to_base64(),
            aes_key_base64: aes.to_base64(),
            alipay: Arc::new(alipay),
            aes,
            fault_seed,
            wrong_signing: Arc::default(),
            isv_signing: Arc::default(),
            app_signing: Arc::default(),
            certificates: OnceLock::new(),
        }
    }

    /// The same keys under another app id (an app given its own id, or another seed's keys on
    /// rotation), without copying the key.
    pub(crate) fn with_app_id(self: &Arc<Self>, app_id: &str) -> Arc<AppKeys> {
        if self.app_id == app_id {
            return self.clone();
        }
        Arc::new(AppKeys {
            app_id: app_id.to_string(),
            alipay: self.alipay.clone(),
            aes: self.aes.clone(),
            public_key_base64: self.public_key_base64.clone(),
            aes_key_base64: self.aes_key_base64.clone(),
            fault_seed: self.fault_seed,
            wrong_signing: self.wrong_signing.clone(),
            isv_signing: self.isv_signing.clone(),
            app_signing: self.app_signing.clone(),
            certificates: OnceLock::new(),
        })
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The key the simulated platform signs with. Its public half is the "Alipay public key".
    pub fn alipay_key(&self) -> &SigningKey {
        &self.alipay
    }

    /// The app's AES key, as the console shows it after 设置 AES 密钥.
    pub fn aes_key(&self) -> &AesKey {
        &self.aes
    }

    /// The Alipay public key as the console shows it: one line of base64 SubjectPublicKeyInfo.
    pub fn alipay_public_key_base64(&self) -> &str {
        &self.public_key_base64
    }

    /// The AES key as the console shows it: base64.
    pub fn aes_key_base64(&self) -> &str {
        &self.aes_key_base64
    }

    /// Another RSA key, for the "signed with the wrong key" fault. Generated on first use.
    pub fn wrong_signing_key(&self) -> Result<&SigningKey, CryptoError> {
        self.wrong_signing
            .get_or_init(|| {
                SigningKey::generate(&mut seeded_rng(self.fault_seed, "wrong-signing-key"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The Alipay key pair of the third-party app (ISV) this app may be authorised to: it signs
    /// that app's envelopes (spec §4.1). Generated on first use.
    pub fn isv_alipay_key(&self) -> Result<&SigningKey, CryptoError> {
        self.isv_signing().map(|(key, _)| key)
    }

    /// The third-party app's Alipay public key as its console shows it.
    pub fn isv_alipay_public_key_base64(&self) -> Result<&str, CryptoError> {
        self.isv_signing().map(|(_, text)| text.as_str())
    }

    /// The app's own key pair, which signs its requests to the gateway: distinct from the
    /// Alipay key (the Java SDK refuses a pair of the two). Generated on first use.
    pub fn app_key(&self) -> Result<&SigningKey, CryptoError> {
        self.app_signing
            .get_or_init(|| SigningKey::generate(&mut seeded_rng(self.fault_seed, "app-key")))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn isv_signing(&self) -> Result<&(SigningKey, String), CryptoError> {
        self.isv_signing
            .get_or_init(|| {
                let key = SigningKey::generate(&mut seeded_rng(self.fault_seed, "isv-alipay-key"))?;
                let text = key.public_key().to_base64();
                Ok((key, text))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The merchant's AES key after the `generation`-th `alipay.open.auth.app.aes.set` (each
    /// replaces the last); the first is the app's own key.
    pub fn merchant_aes_key(&self, generation: u32) -> AesKey {
        if generation <= 1 {
            return self.aes.clone();
        }
        AesKey::from_rng(
            &mut seeded_rng(self.fault_seed, &format!("merchant-aes-key/{generation}")),
            16,
        )
    }

    /// The certificate mode's files (公钥证书): the root file, the Alipay public-key certificate
    /// (holding [`AppKeys::alipay_key`]'s public half) and the app certificate, with their
    /// SNs. Issued on first use (an RSA key generation, derived from the seed) and kept.
    pub fn certificates(&self) -> Result<Arc<Certificates>, CryptoError> {
        self.certificates
            .get_or_init(|| {
                let app_key = self.app_key()?;
                crate::certs::issue(
                    &self.app_id,
                    self.alipay.public_key(),
                    app_key.public_key(),
                    self.fault_seed,
                )
                .map(Arc::new)
            })
            .clone()
    }

    /// Another AES-128 key, for the "encrypted with the wrong AES key" fault.
    pub fn wrong_aes_key(&self) -> AesKey {
        AesKey::from_rng(&mut seeded_rng(self.fault_seed, "wrong-aes-key"), 16)
    }

    /// A 256-bit AES key, for the AES-256 fault (published in that envelope's fixture, since a
    /// backend needs it to decrypt).
    pub fn aes256_key(&self) -> AesKey {
        AesKey::from_rng(&mut seeded_rng(self.fault_seed, "aes-256-key"), 32)
    }

    /// What a backend needs, in the formats the console and SDKs use.
    pub fn published(&self) -> PublishedKeys {
        let public = self.alipay.public_key();
        PublishedKeys {
            app_id: self.app_id.clone(),
            alipay_public_key: self.public_key_base64.clone(),
            alipay_public_key_pem: public.to_pem(),
            alipay_private_key_pkcs8_pem: self.alipay.to_pkcs8_pem(),
            alipay_private_key_pkcs1_pem: self.alipay.to_pkcs1_pem(),
            aes_key: self.aes_key_base64.clone(),
        }
    }
}

impl std::fmt::Debug for AppKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppKeys")
            .field("app_id", &self.app_id)
            .field("alipay", &self.alipay)
            .finish_non_exhaustive()
    }
}

/// The app's keys as `alipay-sim keys` prints them. The Alipay *private* key is included because
/// these are throwaway keys and some SDK constructors insist on a private key.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PublishedKeys {
    pub app_id: String,
    /// One-line base64 SubjectPublicKeyInfo: paste into `alipayPublicKey`.
    pub alipay_public_key: String,
    pub alipay_public_key_pem: String,
    pub alipay_private_key_pkcs8_pem: String,
    pub alipay_private_key_pkcs1_pem: String,
    /// Base64 AES-128 key: paste into `encryptKey`.
    pub aes_key: String,
}

/// A 16-digit app id in Alipay's style (`2021` and twelve digits), fixed by the seed.
pub fn app_id_for_seed(seed: u64) -> String {
    let n = seeded_rng(seed, "app-id").next_u64() % 1_000_000_000_000;
    format!("2021{n:012}")
}

/// How many seeds' keys [`AppKeys::for_seed`] keeps: the most recently used.
pub const SEED_CACHE: usize = 64;

/// How many seeds [`make_ahead`] holds, waiting for the background thread; older wishes are
/// dropped first.
pub const AHEAD_QUEUE: usize = 4;

/// How many keys of random seeds [`random`] keeps ready, at most.
pub const RANDOM_READY: usize = 4;

/// The built-in Alipay keys of the default seed (0) and of the 32 apps a seed-0 state creates
/// after its first, as it numbers them: `alipay-sim serve` and the other commands start, and
/// create a suite's first apps even back to back, without generating a key. One line per key
/// seed, `seed PKCS#8-DER-base64`. `AppKeys::generate` makes exactly these keys (a test checks
/// them; `UPDATE_BUILT_IN_KEYS=1 cargo test --lib built_in` rewrites the file).
const BUILT_IN: &str = include_str!("keys_built_in.txt");

/// A lock whose holder panicked still guards whole data: every change is made before it ends.
fn lock<T>(mutex: &'static Mutex<T>) -> MutexGuard<'static, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

type Slot = Arc<OnceLock<Result<Arc<AppKeys>, CryptoError>>>;

/// The keys of the most recently used seeds, each made once (or being made).
#[derive(Default)]
struct SeedCache {
    /// Each seed's slot, and when it was last used.
    slots: HashMap<u64, (Slot, u64)>,
    clock: u64,
}

impl SeedCache {
    /// The seed's slot, made (and the least recently used one dropped) if it has none.
    fn slot(&mut self, seed: u64) -> Slot {
        self.clock += 1;
        if !self.slots.contains_key(&seed) && self.slots.len() >= SEED_CACHE {
            let oldest = self.slots.iter().min_by_key(|(_, (_, used))| *used);
            if let Some(oldest) = oldest.map(|(seed, _)| *seed) {
                self.slots.remove(&oldest);
            }
        }
        let (slot, used) = self.slots.entry(seed).or_default();
        *used = self.clock;
        slot.clone()
    }

    /// Whether the seed's keys are made or being made.
    fn has(&self, seed: u64) -> bool {
        self.slots.contains_key(&seed)
    }
}

fn seed_cache() -> &'static Mutex<SeedCache> {
    static CACHE: OnceLock<Mutex<SeedCache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// What the background thread has to do, and the random keys it made.
#[derive(Default)]
struct Pool {
    /// Seeds whose keys are wanted soon, the soonest first; not started.
    ahead: VecDeque<u64>,
    /// Keys of random seeds, ready to hand out, oldest first.
    random: VecDeque<(u64, Arc<AppKeys>)>,
    /// How many random keys to keep ready.
    random_wanted: usize,
    /// Whether the background thread runs.
    working: bool,
}

enum Job {
    Seed(u64),
    Random,
}

impl Pool {
    /// Adds `seeds` after those already waiting, skipping any that are waiting or `known`;
    /// beyond [`AHEAD_QUEUE`], the oldest wishes go.
    fn want(&mut self, seeds: impl IntoIterator<Item = u64>, known: impl Fn(u64) -> bool) {
        for seed in seeds {
            if !self.ahead.contains(&seed) && !known(seed) {
                self.ahead.push_back(seed);
            }
        }
        while self.ahead.len() > AHEAD_QUEUE {
            self.ahead.pop_front();
        }
    }

    fn want_random(&mut self, count: usize) {
        self.random_wanted = self.random_wanted.max(count.min(RANDOM_READY));
    }

    /// The next thing to make: wanted seeds first, then random keys up to the number wanted.
    fn next_job(&mut self) -> Option<Job> {
        if let Some(seed) = self.ahead.pop_front() {
            Some(Job::Seed(seed))
        } else if self.random.len() < self.random_wanted {
            Some(Job::Random)
        } else {
            None
        }
    }

    /// Starts the background thread if there is work and it does not run. Without a thread
    /// (none could be started), keys are made when they are asked for, as without a pool.
    fn wake(&mut self) {
        let has_work = !self.ahead.is_empty() || self.random.len() < self.random_wanted;
        if self.working || !has_work {
            return;
        }
        self.working = std::thread::Builder::new()
            .name("alipay-sim keys".into())
            .spawn(make_in_background)
            .is_ok();
    }
}

fn pool() -> &'static Mutex<Pool> {
    static POOL: OnceLock<Mutex<Pool>> = OnceLock::new();
    POOL.get_or_init(Default::default)
}

/// The background thread: makes keys until there is nothing left to make, then ends.
fn make_in_background() {
    loop {
        let job = {
            let mut pool = lock(pool());
            let job = pool.next_job();
            pool.working = job.is_some();
            job
        };
        match job {
            None => return,
            // Into the seed cache, where `for_seed` finds them, or waits for them.
            Some(Job::Seed(seed)) => {
                let _ = AppKeys::for_seed(seed);
            }
            Some(Job::Random) => {
                let seed = OsRng.next_u64();
                let made = AppKeys::generate(seed);
                let mut pool = lock(pool());
                match made {
                    Ok(keys) => pool.random.push_back((seed, Arc::new(keys))),
                    // Never expected; stop rather than try again and again.
                    Err(_) => {
                        pool.random_wanted = 0;
                    }
                }
            }
        }
    }
}

/// Has the keys of `seeds` made in the background, the first first, so that
/// [`AppKeys::for_seed`] finds them made. Seeds already cached are skipped; at most
/// [`AHEAD_QUEUE`] wait, the most recent wishes.
pub fn make_ahead(seeds: impl IntoIterator<Item = u64>) {
    let mut pool = lock(pool());
    pool.want(seeds, |seed| lock(seed_cache()).has(seed));
    pool.wake();
}

/// Whether [`AppKeys::for_seed`] has the seed's keys made (not only being made).
#[cfg(test)]
pub(crate) fn is_made(seed: u64) -> bool {
    let slot = lock(seed_cache())
        .slots
        .get(&seed)
        .map(|(slot, _)| slot.clone());
    slot.is_some_and(|slot| slot.get().is_some())
}

/// Keeps `count` keys of random seeds ready (at most [`RANDOM_READY`]), for [`random`].
pub fn keep_random_ready(count: usize) {
    let mut pool = lock(pool());
    pool.want_random(count);
    pool.wake();
}

/// Keys of a seed drawn from the operating system: ones the pool made, when it has some (it then
/// makes another), else made now. They are not cached: nobody asks for that seed again.
pub fn random() -> Result<(u64, Arc<AppKeys>), CryptoError> {
    let ready = {
        let mut pool = lock(pool());
        let ready = pool.random.pop_front();
        pool.wake();
        ready
    };
    match ready {
        Some(ready) => Ok(ready),
        None => {
            let seed = OsRng.next_u64();
            Ok((seed, Arc::new(AppKeys::generate(seed)?)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_look_like_alipay_ids_and_follow_the_seed() {
        let id = app_id_for_seed(3);
        assert_eq!(id.len(), 16);
        assert!(id.starts_with("2021") && id.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(id, app_id_for_seed(3));
        assert_ne!(id, app_id_for_seed(4));
    }

    #[test]
    fn fault_keys_differ_from_the_apps() {
        let keys = AppKeys::for_seed(11).unwrap();
        assert_ne!(keys.wrong_aes_key(), *keys.aes_key());
        assert_eq!(keys.aes256_key().as_bytes().len(), 32);
        assert_ne!(
            keys.wrong_signing_key().unwrap().public_key(),
            keys.alipay_key().public_key()
        );
    }

    #[test]
    fn same_seed_same_keys() {
        let a = AppKeys::generate(5).unwrap().published();
        let b = AppKeys::for_seed(5).unwrap().published();
        assert_eq!(a, b);
        assert!(a
            .alipay_public_key
            .starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"));
        assert_eq!(a.aes_key.len(), 24);
    }

    #[test]
    fn the_built_in_keys_are_the_default_seeds_apps_keys_as_generated() {
        let seeds: Vec<u64> = std::iter::once(0)
            .chain((1..33).map(|number| crate::seed::derive_seed(0, "app", number)))
            .collect();
        if std::env::var_os("UPDATE_BUILT_IN_KEYS").is_some() {
            let lines: String = seeds
                .iter()
                .map(|&seed| {
                    let key = AppKeys::generate(seed).unwrap().alipay.to_pkcs8_pem();
                    let base64: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
                    format!("{seed} {base64}\n")
                })
                .collect();
            let file = concat!(env!("CARGO_MANIFEST_DIR"), "/src/keys_built_in.txt");
            std::fs::write(file, lines).unwrap();
            return;
        }
        let listed: Vec<u64> = BUILT_IN
            .lines()
            .map(|line| line.split_once(' ').unwrap().0.parse().unwrap())
            .collect();
        assert_eq!(
            listed, seeds,
            "the file lists the default seed's first apps, in order"
        );
        // Generating all 33 takes seconds; the first, the second and the last stand for them.
        for seed in [seeds[0], seeds[1], seeds[seeds.len() - 1]] {
            let built_in = AppKeys::precomputed(seed).expect("built in").unwrap();
            assert_eq!(
                built_in.published(),
                AppKeys::generate(seed).unwrap().published(),
                "seed {seed}"
            );
        }
        assert!(AppKeys::precomputed(1).is_none());
    }

    #[test]
    fn keys_under_another_app_id_share_the_key() {
        let keys = AppKeys::for_seed(0).unwrap();
        assert!(Arc::ptr_eq(&keys, &keys.with_app_id(keys.app_id())));
        let renamed = keys.with_app_id("my-app");
        assert_eq!(renamed.app_id(), "my-app");
        assert!(Arc::ptr_eq(&renamed.alipay, &keys.alipay));
        assert_eq!(
            PublishedKeys {
                app_id: keys.app_id().to_string(),
                ..renamed.published()
            },
            keys.published()
        );
    }

    #[test]
    fn the_seed_cache_keeps_the_most_recently_used_seeds() {
        let mut cache = SeedCache::default();
        for seed in 0..SEED_CACHE as u64 {
            cache.slot(seed);
        }
        cache.slot(0); // used again: now the most recent
        cache.slot(1000);
        assert_eq!(cache.slots.len(), SEED_CACHE);
        assert!(cache.has(0) && cache.has(1000));
        assert!(!cache.has(1), "the least recently used seed goes");
    }

    #[test]
    fn the_pool_is_bounded_and_makes_wanted_seeds_first() {
        let mut pool = Pool::default();
        pool.want(0..20, |seed| seed == 19);
        assert_eq!(
            pool.ahead,
            [15, 16, 17, 18],
            "the most recent wishes, known seeds skipped"
        );
        pool.want([16, 30], |_| false);
        assert_eq!(pool.ahead, [16, 17, 18, 30]);
        pool.want_random(100);
        assert_eq!(pool.random_wanted, RANDOM_READY);
        assert!(matches!(pool.next_job(), Some(Job::Seed(16))));
        pool.ahead.clear();
        assert!(matches!(pool.next_job(), Some(Job::Random)));
        let keys = AppKeys::for_seed(0).unwrap();
        pool.random = std::iter::repeat_n((0, keys), RANDOM_READY).collect();
        assert!(
            pool.next_job().is_none(),
            "nothing to make: the thread ends"
        );
    }

    /// Waits for the background thread, with a bound so that a broken pool fails rather than
    /// hangs (a bound on progress, not a timing assertion).
    fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: never happened"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn seeds_made_ahead_are_served_made_and_equal_generated_keys() {
        let seed = 0x5eed_a4ead;
        wait_for("the seed's keys made in the background", || {
            make_ahead([seed]); // again, in case other tests' wishes pushed it out
            is_made(seed)
        });
        let made = AppKeys::for_seed(seed).unwrap();
        assert!(Arc::ptr_eq(&made, &AppKeys::for_seed(seed).unwrap()));
        assert_eq!(
            made.published(),
            AppKeys::generate(seed).unwrap().published()
        );
    }

    #[test]
    fn random_keys_come_ready_from_the_pool() {
        keep_random_ready(1);
        wait_for("a random key made in the background", || {
            !lock(pool()).random.is_empty()
        });
        assert!(lock(pool()).random.len() <= RANDOM_READY);
        let (seed, keys) = random().unwrap();
        assert_eq!(
            keys.published(),
            AppKeys::generate(seed).unwrap().published()
        );
    }
}
