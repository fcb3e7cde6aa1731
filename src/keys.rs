//! The keys of one simulated app, all derived from a seed.
//!
//! A seed fixes the app id, the Alipay key pair (whose public half a backend verifies with) and
//! the AES key, so `alipay-sim keys --seed 7` always prints what a backend needs to check every
//! envelope produced with `--seed 7`. Faults that need another key (a wrong signing key, a wrong
//! or 256-bit AES key) derive it from the same seed under another purpose, and it is never
//! published as the app's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand_chacha::rand_core::RngCore;
use serde::Serialize;

use crate::certs::Certificates;
use crate::crypto::{AesKey, CryptoError, SigningKey};
use crate::seed::seeded_rng;

/// The keys of one app.
pub struct AppKeys {
    app_id: String,
    alipay: SigningKey,
    aes: AesKey,
    // Encoded once: every envelope's fixture carries them.
    public_key_base64: String,
    aes_key_base64: String,
    fault_seed: u64,
    wrong_signing: OnceLock<Result<SigningKey, CryptoError>>,
    /// A third-party app's (ISV's) Alipay key pair and its public key's console text.
    isv_signing: OnceLock<Result<(SigningKey, String), CryptoError>>,
    certificates: OnceLock<Result<Arc<Certificates>, CryptoError>>,
}

impl AppKeys {
    /// The keys for `seed`, generated once per process and shared (RSA key generation takes a
    /// fraction of a second).
    pub fn for_seed(seed: u64) -> Result<Arc<AppKeys>, CryptoError> {
        type Slot = Arc<OnceLock<Result<Arc<AppKeys>, CryptoError>>>;
        static CACHE: OnceLock<Mutex<HashMap<u64, Slot>>> = OnceLock::new();
        let slot = CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(seed)
            .or_default()
            .clone();
        // Generate outside the map's lock so that other seeds are not held up.
        slot.get_or_init(|| Self::generate(seed).map(Arc::new))
            .clone()
    }

    /// Fresh keys for `seed`, bypassing the cache.
    pub fn generate(seed: u64) -> Result<AppKeys, CryptoError> {
        let alipay = SigningKey::generate(&mut seeded_rng(seed, "alipay-key"))?;
        let aes = AesKey::from_rng(&mut seeded_rng(seed, "aes-key"), 16);
        Ok(Self::from_parts(app_id_for_seed(seed), alipay, aes, seed))
    }

    /// Keys given explicitly, e.g. the known-answer vectors' or keys a user imported.
    /// `fault_seed` derives the keys that faults use.
    pub fn from_parts(app_id: String, alipay: SigningKey, aes: AesKey, fault_seed: u64) -> Self {
        AppKeys {
            app_id,
            public_key_base64: alipay.public_key().to_base64(),
            aes_key_base64: aes.to_base64(),
            alipay,
            aes,
            fault_seed,
            wrong_signing: OnceLock::new(),
            isv_signing: OnceLock::new(),
            certificates: OnceLock::new(),
        }
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
                crate::certs::issue(&self.app_id, self.alipay.public_key(), self.fault_seed)
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
}
