//! # alipay-sim
//!
//! A simulator of the Alipay open platform's "get the member's phone number" flow
//! (`my.getPhoneNumber`). It plays the console's configuration, the platform and the user, and
//! produces exactly what the mini program's front end receives: an envelope signed and
//! encrypted correctly, or deliberately wrongly, for every documented outcome. Each result
//! carries its oracle: what a strict, correct backend must conclude from it, and why.
//!
//! Use only throwaway keys with it: never load real Alipay or merchant keys.
//!
//! ## A simulator in your tests
//!
//! [`Simulator`] runs the simulator's HTTP server on its own thread, on a free port of
//! 127.0.0.1, for as long as the value lives. Each test creates its own app, so tests running in
//! parallel never see each other's state. Point the code under test at [`Simulator::uri`], or
//! use the app handle directly:
//!
//! ```
//! use alipay_sim::{Simulator, Verdict};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::builder().seed(7).start().await; // or Simulator::start_blocking()
//! let app = sim.create_app();
//!
//! // Configure your backend with these, as you would with the console's.
//! let (alipay_public_key, aes_key) = (app.alipay_public_key(), app.aes_key());
//! assert!(alipay_public_key.starts_with("MIIBIjAN") && aes_key.ends_with("=="));
//!
//! // What the mini program's `my.getPhoneNumber` success callback would receive:
//! let result = app.get_phone_number(Default::default())?;
//! let envelope = result.delivery.envelope().expect("a success callback");
//! assert!(envelope.starts_with(r#"{"response":""#));
//! // ...post `envelope` to your backend here; it must conclude what the oracle says:
//! assert_eq!(result.delivery.expect.verdict, Verdict::Accept);
//! assert_eq!(result.delivery.expect.plaintext.unwrap()["mobile"], "13800000000");
//!
//! // Any catalogue scenario: the backend must refuse this one.
//! app.apply_scenario("flip-signature-byte")?;
//! let tampered = app.get_phone_number(Default::default())?;
//! assert_eq!(tampered.delivery.expect.verdict, Verdict::RejectSignature);
//! assert_eq!(app.journal().len(), 2);
//!
//! // The same server speaks HTTP, for backends and front ends in other processes.
//! assert!(sim.uri().starts_with("http://127.0.0.1:"));
//! # Ok(()) }
//! ```
//!
//! ## A scenario from the catalogue
//!
//! ```
//! use alipay_sim::{catalogue, AppKeys, Verdict};
//!
//! // All keys of an app follow from a seed: a backend configured with
//! // `alipay-sim keys --seed 7` can check every envelope made with seed 7.
//! let keys = AppKeys::for_seed(7)?;
//! let fixture = catalogue().get("success")?.run(&keys, None)?;
//!
//! assert_eq!(fixture.delivery.callback.as_str(), "success");
//! let envelope = fixture.delivery.envelope().unwrap();
//! assert!(envelope.starts_with(r#"{"response":""#));
//! assert_eq!(fixture.delivery.expect.verdict, Verdict::Accept);
//! assert_eq!(fixture.delivery.expect.plaintext.unwrap()["mobile"], "13800000000");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Your own situation, checked as a backend would
//!
//! ```
//! use alipay_sim::alipay::model::Application;
//! use alipay_sim::oracle::{verify, BackendKeys};
//! use alipay_sim::{get_phone_number, AppKeys, Call, Fault, Verdict};
//!
//! let keys = AppKeys::for_seed(7)?;
//! let mut call = Call::default();
//! call.console.phone_application = Application::Pending;
//! let delivery = get_phone_number(&call, &keys, 0)?;
//! assert_eq!(delivery.expect.cause, "console.phone-application-not-approved");
//! assert_eq!(delivery.expect.plaintext.as_ref().unwrap()["code"], "40006");
//!
//! // The same call with a deliberate mistake: the oracle says the backend must refuse it.
//! call.fault = Some(Fault::FlipCiphertextByte);
//! call.console.phone_application = Application::Approved;
//! let tampered = get_phone_number(&call, &keys, 0)?;
//! assert_eq!(tampered.expect.verdict, Verdict::RejectSignature);
//!
//! // `oracle::verify` is that strict backend, and explains its conclusion.
//! let backend = BackendKeys {
//!     alipay_public_key: keys.alipay_key().public_key().clone(),
//!     aes_key: Some(keys.aes_key().clone()),
//!     sign_type: alipay_sim::SignType::Rsa2,
//! };
//! let conclusion = verify(tampered.envelope().unwrap(), &backend);
//! assert_eq!(conclusion.verdict, Verdict::RejectSignature);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## How it is organised
//!
//! Data flows one way:
//!
//! ```text
//! model (console, platform, user, action) --rules--> outcome --envelope + fault--> Delivery
//!                                                                       \--> oracle::Expect
//! ```
//!
//! The modules stand in layers, as folders, and an import only points down
//! (`tests/it/layers.rs` holds the rule, and no two modules import each other):
//!
//! ```text
//! leaves    crypto/  keys  oracle  seed      AES, RSA, key formats; seeded keys; verdicts; seeds
//! engine    alipay/                          pure: (call, keys, index) -> delivery + oracle
//! shell     sim/                             apps, journal, recording, the state file; no HTTP
//! adapters  http/  ui/  playback/            the API and serving, the pages, suites and playback
//! entries   src/main.rs and src/cli/ (one file per subcommand); the Simulator fixture
//! ```
//!
//! - [`crypto`]: AES-CBC, RSA signatures, key formats, base64 (`aes`, `rsa`, `encoding`);
//!   nothing else.
//! - [`keys`]: the keys of an app, derived from a seed.
//! - [`seed`]: seeded generators and derived seeds, the source of every deterministic value.
//! - [`oracle`]: verdicts, and the strict backend that reaches them.
//! - [`alipay`]: the `my.getPhoneNumber` engine: [`alipay::model`] (the inputs of a [`Call`]),
//!   [`alipay::rules`] (the documented rules, in order, each with its source),
//!   [`alipay::outcome`], [`alipay::fault`] and [`alipay::envelope`] (the envelope's bytes,
//!   correct or deliberately wrong), [`alipay::simulate`] (one call end to end) and
//!   [`alipay::scenario`] (the embedded catalogue); [`alipay::keys`] reads the keys a backend
//!   is configured with, with errors in the console's terms.
//! - [`sim`]: [`sim::store`] (durable storage), [`sim::recording`] (device-page recordings),
//!   [`sim::state`] (the shared state of apps and journal) and [`sim::exchange`] (an exchange
//!   with a developer's backend, as the journal and playback keep it).
//! - [`http`]: [`http::access`] (who may reach the server), [`http::api`] (the JSON API),
//!   [`http::server`] (serving it, with the [`Simulator`] fixture) and [`http::backend`]
//!   (requests to a developer's backend, as `my.request` makes them).
//! - [`ui`]: the web UI's pages.
//! - [`playback`]: [`playback::suite`] (suites of calls with the answers a backend must give,
//!   recorded ones included) and [`playback::play`] (their playback and reports).

pub mod alipay;
pub mod crypto;
mod de;
pub mod http;
pub mod keys;
pub mod oracle;
pub mod playback;
mod schema;
pub mod seed;
pub mod sim;
pub mod ui;

pub use alipay::error::Error;
pub use alipay::fault::Fault;
pub use alipay::model::Call;
pub use alipay::scenario::{catalogue, Catalogue, Fixture, Scenario};
pub use alipay::simulate::{get_phone_number, Delivery};
pub use crypto::{CryptoError, SignType};
pub use http::server::{AppHandle, Simulator, SimulatorBuilder};
pub use keys::{AppKeys, PublishedKeys};
pub use oracle::{Expect, Verdict};
