//! Alipay apps in the shell: what the API takes to create and call one, how it is shown, and
//! the running app (its stored form, keys, call counter and envelope cache).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::alipay::envelope::EnvelopeCache;
use crate::alipay::fault::Fault;
use crate::alipay::front_end::FrontEnd;
use crate::alipay::model::{
    ActionKind, Console, Mobile, PartialConsole, PartialQuirks, PartialUser, Quirks,
    SigningKeyMode, User,
};
use crate::alipay::scenario::{catalogue, Fixture};
use crate::alipay::simulate::{self, Call};
use crate::certs::{app_cert_file, Certificates, ALIPAY_CERT_FILE, ROOT_CERT_FILE};
use crate::crypto::{AesKey, CryptoError, SignType, SigningKey};
use crate::keys::{app_id_for_seed, AppKeys};
use crate::oracle::BackendKeys;
use crate::sim::error::StateError;
use crate::sim::store::StoredAlipayApp;

/// A new app's settings; everything is optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct NewApp {
    /// 1 to 64 letters, digits, `-` or `_`; by default, one made from the key seed.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub app_id: Option<String>,
    /// A name for people, shown beside the app id: 1 to 64 characters, no control characters.
    #[schema(max_length = 64)]
    pub name: Option<String>,
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
    /// The front end the page is written with: the answer adds `page_event`, what that
    /// page's handler receives (`button`: onGetPhoneNumber's split envelope; `uni-app`;
    /// `taro`). Default `native`.
    pub front_end: Option<FrontEnd>,
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
    /// Base64, 16 bytes: the merchant's current key (for an ISV's merchant, the one the last
    /// `alipay.open.auth.app.aes.set` gave).
    pub aes_key: String,
    /// The console's signing method; `null` when none is set.
    #[schema(required)]
    pub sign_type: Option<SignType>,
    /// The third-party app the merchant is authorised to, with the Alipay public key its
    /// envelopes verify with (not the merchant's own above); `null` without an ISV.
    #[schema(required)]
    pub isv: Option<IsvKeysView>,
    /// In certificate mode (`console.signing_key_mode: certificate`, 公钥证书), the SNs of the
    /// app's certificates and the names of their files; `null` in public-key mode.
    #[schema(required)]
    pub certificates: Option<CertificatesView>,
}

/// A third-party app's keys, as its console shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IsvKeysView {
    pub isv_app_id: String,
    /// One-line base64 SubjectPublicKeyInfo of the third-party app's Alipay key pair.
    pub alipay_public_key: String,
    pub alipay_public_key_pem: String,
    /// How many times `alipay.open.auth.app.aes.set` has set the merchant's AES key.
    pub aes_key_sets: u32,
}

/// The certificate mode's SNs, as the SDKs compute them, and the files' names: each is served
/// at `/api/v1/apps/{app_id}/certs/{file}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CertificatesView {
    /// The app certificate's SN (`app_cert_sn`).
    pub app_cert_sn: String,
    /// The Alipay public-key certificate's SN (`alipay_cert_sn`).
    pub alipay_cert_sn: String,
    /// The root file's SN: its RSA-signed certificates' SNs joined with `_`
    /// (`alipay_root_cert_sn`).
    pub alipay_root_cert_sn: String,
    /// `appCertPublicKey_<app_id>.crt`.
    pub app_cert_file: String,
    /// `alipayCertPublicKey_RSA2.crt`.
    pub alipay_cert_file: String,
    /// `alipayRootCert.crt`.
    pub alipay_root_cert_file: String,
}

impl CertificatesView {
    fn of(app_id: &str, certificates: &Certificates) -> CertificatesView {
        CertificatesView {
            app_cert_sn: certificates.app_cert_sn.clone(),
            alipay_cert_sn: certificates.alipay_cert_sn.clone(),
            alipay_root_cert_sn: certificates.alipay_root_cert_sn.clone(),
            app_cert_file: app_cert_file(app_id),
            alipay_cert_file: ALIPAY_CERT_FILE.to_string(),
            alipay_root_cert_file: ROOT_CERT_FILE.to_string(),
        }
    }
}

/// An app as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppView {
    pub app_id: String,
    pub name: Option<String>,
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
    .inline(
        "name",
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                utoipa::openapi::Type::String,
                utoipa::openapi::Type::Null,
            ]))
            .description(Some("A name for people, shown beside the app id")),
    )
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

#[derive(Clone)]
pub(crate) struct AlipayApp {
    pub(crate) stored: StoredAlipayApp,
    pub(crate) keys: Arc<AppKeys>,
    /// The app's calls so far: the next call's index in its sequence of draws.
    pub(crate) calls: Arc<AtomicU64>,
    pub(crate) cache: Arc<EnvelopeCache>,
    /// The app's last answer, shared by the calls that give it again.
    pub(crate) last_answer: Arc<LastAnswer>,
    /// The gateway's memory of the app's login: codes and tokens (in memory only).
    pub(crate) login: Arc<std::sync::Mutex<crate::sim::alipay_login::LoginMemory>>,
}

impl AlipayApp {
    pub(crate) fn from_stored(stored: StoredAlipayApp) -> Result<AlipayApp, CryptoError> {
        let keys = AppKeys::from_parts(
            stored.app_id.clone(),
            SigningKey::from_pem_or_base64(&stored.alipay_private_key_pkcs8_pem)?,
            AesKey::from_base64(&stored.aes_key)?,
            stored.fault_seed,
        );
        Ok(AlipayApp {
            stored,
            keys: Arc::new(keys),
            calls: Arc::default(),
            cache: Arc::default(),
            last_answer: Arc::default(),
            login: Arc::default(),
        })
    }

    /// The merchant's current AES key.
    pub(crate) fn merchant_aes_key(&self) -> AesKey {
        let generation = self
            .stored
            .config
            .console
            .isv
            .as_ref()
            .map_or(1, |isv| isv.aes_key_sets);
        self.keys.merchant_aes_key(generation)
    }

    fn isv_keys(&self) -> Option<IsvKeysView> {
        let isv = self.stored.config.console.isv.as_ref()?;
        let key = self.keys.isv_alipay_key().ok()?;
        Some(IsvKeysView {
            isv_app_id: isv.isv_app_id.clone(),
            alipay_public_key: key.public_key().to_base64(),
            alipay_public_key_pem: key.public_key().to_pem(),
            aes_key_sets: isv.aes_key_sets,
        })
    }

    pub(crate) fn view(&self) -> AppView {
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
                aes_key: self.merchant_aes_key().to_base64(),
                sign_type: self.stored.config.console.signing.sign_type(),
                isv: self.isv_keys(),
                certificates: self
                    .certificates()
                    .map(|certificates| CertificatesView::of(&self.stored.app_id, &certificates)),
            },
            next_outcome: NextOutcome {
                rule: rule.id.to_string(),
                summary: rule.summary.to_string(),
                source: rule.source.to_string(),
            },
            calls,
            created_at: self.stored.created_at.clone(),
            name: self.stored.name.clone(),
        }
    }
}

impl AlipayApp {
    /// The app's certificates when it is in certificate mode (公钥证书). Issued on first use
    /// and kept with the keys.
    pub(crate) fn certificates(&self) -> Option<Arc<Certificates>> {
        if self.stored.config.console.signing_key_mode != SigningKeyMode::Certificate {
            return None;
        }
        match self.keys.certificates() {
            Ok(certificates) => Some(certificates),
            Err(e) => {
                tracing::error!(app_id = %self.stored.app_id, "cannot issue certificates: {e}");
                None
            }
        }
    }

    /// One of the certificate files, by its name (`appCertPublicKey_<app_id>.crt`,
    /// `alipayCertPublicKey_RSA2.crt`, `alipayRootCert.crt`): the PEM text.
    pub(crate) fn certificate_file(&self, file: &str) -> Result<String, StateError> {
        let app_id = &self.stored.app_id;
        if self.stored.config.console.signing_key_mode != SigningKeyMode::Certificate {
            return Err(StateError::NoCertificate(format!(
                "app {app_id:?} signs in public-key mode (公钥) and has no certificates: set \
                 console.signing_key_mode to certificate (公钥证书)"
            )));
        }
        let certificates = self.keys.certificates()?;
        let pem = match file {
            ALIPAY_CERT_FILE => &certificates.alipay_cert,
            ROOT_CERT_FILE => &certificates.alipay_root_cert,
            _ if file == app_cert_file(app_id) => &certificates.app_cert,
            _ => {
                return Err(StateError::NoCertificate(format!(
                    "no certificate file {file:?}: app {app_id:?} has {}, {ALIPAY_CERT_FILE} and \
                     {ROOT_CERT_FILE}",
                    app_cert_file(app_id)
                )))
            }
        };
        Ok(pem.clone())
    }
}

impl AlipayApp {
    /// A new app from the API's settings, with `keys`, made from `key_seed`.
    pub(crate) fn build(
        new: NewApp,
        key_seed: u64,
        keys: Arc<AppKeys>,
        created_at: String,
    ) -> Result<AlipayApp, StateError> {
        let app_id = new.app_id.unwrap_or_else(|| app_id_for_seed(key_seed));
        let name = new.name.map(|name| name.trim().to_string());
        if let Some(name) = &name {
            crate::sim::error::check_name(name)?;
        }
        let config = Call {
            console: new.console.unwrap_or_default(),
            platform: new.platform.unwrap_or_default(),
            user: new.user.unwrap_or_default(),
            ..Call::default()
        };
        config.validate()?;
        let keys = keys.with_app_id(&app_id);
        if config.console.signing_key_mode == SigningKeyMode::Certificate {
            // Issued now, while the caller holds no lock (it generates a key).
            keys.certificates()?;
        }
        let stored = StoredAlipayApp {
            app_id,
            key_seed,
            alipay_private_key_pkcs8_pem: keys.alipay_key().to_pkcs8_pem(),
            aes_key: keys.aes_key().to_base64(),
            fault_seed: key_seed,
            config,
            created_at,
            name,
            backend: None,
            scenario: None,
            app_public_key: None,
            gateway_fault: None,
            login: Default::default(),
        };
        Ok(AlipayApp {
            stored,
            keys,
            calls: Arc::default(),
            cache: Arc::default(),
            last_answer: Arc::default(),
            login: Arc::default(),
        })
    }

    /// A configuration given by hand (the console's form, a patch): a change forgets the
    /// scenario applied before.
    pub(crate) fn set_config_by_hand(&mut self, config: Call) {
        if config != self.stored.config {
            self.stored.scenario = None;
        }
        self.stored.config = config;
    }

    /// The app with `fresh` keys, made from `key_seed`; its settings and call count are kept.
    pub(crate) fn with_keys(&self, key_seed: u64, fresh: &Arc<AppKeys>) -> AlipayApp {
        let mut stored = self.stored.clone();
        stored.key_seed = key_seed;
        stored.fault_seed = key_seed;
        stored.alipay_private_key_pkcs8_pem = fresh.alipay_key().to_pkcs8_pem();
        stored.aes_key = fresh.aes_key().to_base64();
        AlipayApp {
            keys: fresh.with_app_id(&stored.app_id),
            stored,
            calls: self.calls.clone(),
            cache: Arc::default(),
            last_answer: Arc::default(),
            login: self.login.clone(),
        }
    }

    /// The first half of a call: the app's settings, with a scenario's in their place when
    /// one is named and the request's fields on top, and the call's place in the sequence.
    pub(crate) fn prepare(
        &self,
        scenario: Option<&str>,
        request: PhoneNumberRequest,
    ) -> Result<PreparedCall, StateError> {
        let index = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut call = match scenario {
            Some(name) => catalogue().get(name)?.call(),
            None => self.stored.config.clone(),
        };
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
        let mut prepared = PreparedCall {
            app_id: self.stored.app_id.clone(),
            scenario: scenario.map(str::to_string),
            call,
            keys: self.keys.clone(),
            cache: self.cache.clone(),
            last_answer: self.last_answer.clone(),
            shared_answer: None,
            index,
            front_end: request.front_end.unwrap_or_default(),
        };
        prepared.shared_answer = self.last_answer.for_call(&prepared);
        Ok(prepared)
    }

    /// The keys a backend configured from this app's console holds; `aes_key` and
    /// `sign_type` of the request, when given, instead of the app's.
    pub(crate) fn backend_keys(&self, request: &VerifyRequest) -> Result<BackendKeys, StateError> {
        Ok(BackendKeys {
            alipay_public_key: self.keys.alipay_key().public_key().clone(),
            aes_key: Some(match &request.aes_key {
                Some(text) => parse_aes_key(text)?,
                None => self.keys.aes_key().clone(),
            }),
            sign_type: request
                .sign_type
                .or(self.stored.config.console.signing.sign_type())
                .unwrap_or(SignType::Rsa2),
        })
    }
}

impl VerifyRequest {
    /// The keys the request gives itself, without an app.
    pub(crate) fn explicit_keys(&self, public_key: &str) -> Result<BackendKeys, StateError> {
        Ok(BackendKeys {
            alipay_public_key: crate::alipay::keys::parse_alipay_public_key(public_key).map_err(
                |e| StateError::Invalid {
                    field: "alipay_public_key".into(),
                    message: e.to_string(),
                },
            )?,
            aes_key: self.aes_key.as_deref().map(parse_aes_key).transpose()?,
            sign_type: self.sign_type.unwrap_or(SignType::Rsa2),
        })
    }
}

fn parse_aes_key(text: &str) -> Result<AesKey, StateError> {
    crate::alipay::keys::parse_aes_key(text).map_err(|e| StateError::Invalid {
        field: "aes_key".into(),
        message: e.to_string(),
    })
}

/// A call between [`SimState::prepare_call`](crate::sim::state::SimState::prepare_call) and
/// [`SimState::complete_call`](crate::sim::state::SimState::complete_call).
pub struct PreparedCall {
    pub(crate) app_id: String,
    pub(crate) scenario: Option<String>,
    pub(crate) call: Call,
    pub(crate) keys: Arc<AppKeys>,
    pub(crate) cache: Arc<EnvelopeCache>,
    pub(crate) last_answer: Arc<LastAnswer>,
    /// The app's last answer, when this call is answered the same way.
    pub(crate) shared_answer: Option<PhoneAnswer>,
    pub(crate) index: u64,
    pub(crate) front_end: FrontEnd,
}

impl PreparedCall {
    /// Whether completing the call will sign (about half a millisecond of CPU), rather than
    /// reuse an envelope made before.
    pub fn needs_signing(&self) -> bool {
        self.shared_answer.is_none()
            && !simulate::is_cached(&self.call, &self.keys, self.index, &self.cache)
    }
}

/// What a call gives the page: its fixture and that fixture's JSON, as the API sends it.
#[derive(Clone)]
pub struct PhoneAnswer {
    pub fixture: Arc<Fixture>,
    /// `fixture` as compact JSON; none in the unlikely case it does not serialise.
    pub json: Option<Arc<str>>,
}

/// An app's last answer, and the call it answered. A call that is answered the same way (the
/// same scenario, settings and front end, and an answer that does not vary by call: see
/// [`simulate::varies_by_call_index`]) shares it without being run again; a call whose
/// fixture equals it shares its fixture and JSON instead of formatting the same text again.
/// The journal then formats a shared fixture's entry once too.
#[derive(Default)]
pub(crate) struct LastAnswer(std::sync::Mutex<Option<Remembered>>);

struct Remembered {
    answer: PhoneAnswer,
    /// The call it answers, when every call like it gets the same answer.
    answers: Option<CallInputs>,
}

/// What decides a call's answer, besides the app's keys.
#[derive(PartialEq)]
struct CallInputs {
    scenario: Option<String>,
    call: Call,
    front_end: FrontEnd,
}

impl CallInputs {
    fn of(prepared: &PreparedCall) -> Option<CallInputs> {
        (!simulate::varies_by_call_index(&prepared.call)).then(|| CallInputs {
            scenario: prepared.scenario.clone(),
            call: prepared.call.clone(),
            front_end: prepared.front_end,
        })
    }

    fn are_of(&self, prepared: &PreparedCall) -> bool {
        self.scenario == prepared.scenario
            && self.front_end == prepared.front_end
            && self.call == prepared.call
            && !simulate::varies_by_call_index(&prepared.call)
    }
}

impl LastAnswer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Remembered>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last answer, if `prepared` is answered the same way.
    pub(crate) fn for_call(&self, prepared: &PreparedCall) -> Option<PhoneAnswer> {
        let last = self.lock();
        let last = last.as_ref()?;
        last.answers
            .as_ref()
            .is_some_and(|inputs| inputs.are_of(prepared))
            .then(|| last.answer.clone())
    }

    /// The answer for `fixture`, made for `prepared`: the last one if they are equal, else a
    /// new one, kept.
    pub(crate) fn share(&self, fixture: Fixture, prepared: &PreparedCall) -> PhoneAnswer {
        let mut last = self.lock();
        let answers = CallInputs::of(prepared);
        if let Some(remembered) = last.as_mut().filter(|r| *r.answer.fixture == fixture) {
            remembered.answers = answers;
            return remembered.answer.clone();
        }
        let json = serde_json::to_string(&fixture).ok().map(Arc::from);
        let answer = PhoneAnswer {
            fixture: Arc::new(fixture),
            json,
        };
        *last = Some(Remembered {
            answer: answer.clone(),
            answers,
        });
        answer
    }
}
