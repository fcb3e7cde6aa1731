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
//! use alipay_sim::model::Application;
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
//! The source stands in layers, as folders, and an import only points down
//! (`tests/it/layers.rs` holds the rule, and no two modules import each other):
//!
//! ```text
//! leaves    crypto/ keys oracle seed de schema wire   AES, RSA, key formats; seeded keys; verdicts
//!             certs                                  the certificate mode's files and SNs
//! engine    alipay/                          pure: (call, keys, index) -> delivery + oracle
//!             model/ rules outcome fault envelope simulate scenario keys error
//! shell     sim/                             state (SimState), apps (one variant per
//!             platform), alipay, journal (tagged events), recording, exchange, store, error
//! adapters  http/  ui/  playback/            http: app() = api/ + ui + endpoints, error (the
//!             one status table), access, server; ui: pages; playback: suite/, run, report
//! entries   fixture.rs (the Simulator), src/main.rs and src/cli/ (one file per subcommand)
//! ```
//!
//! A new platform is a set of new files at known places: an engine folder (`wechat/`), a
//! variant of each closed enum (`sim::apps::App`, the stored app, `sim::journal::Event`, the
//! suite `Step`), an admin routes file (`http/api/<platform>.rs`), its endpoints beside
//! `http/endpoints.rs`, pages in `ui/`; every `match` the compiler then flags is what is left.
//!
//! The layers are private; the crate's surface is what follows, by what its users do:
//!
//! - the [`Simulator`] fixture, and one call: [`get_phone_number`], [`catalogue`], [`AppKeys`],
//!   [`Expect`] and [`Verdict`]; [`model`] holds the inputs of a [`Call`];
//! - [`oracle`] (verdicts, and the strict backend that reaches them), [`crypto`] (AES-CBC,
//!   RSA signatures, key formats, base64) and [`seed`] (seeded generators): platform-neutral
//!   leaves;
//! - [`engine`]: the rules, outcomes and envelopes one by one;
//! - [`state`], [`server`] and [`playback`]: the shared state, the HTTP server over it, and
//!   suites replayed against a backend; what the `alipay-sim` binary is made of.

// The layers, private: what a user of the crate needs is re-exported below, by what they do.
mod alipay;
mod certs;
pub mod crypto;
mod de;
mod fixture;
mod http;
mod keys;
pub mod oracle;
pub mod playback;
mod schema;
pub mod seed;
mod sim;
mod ui;
pub mod wechat;
mod wire;

// A simulator in your tests.
pub use fixture::{AppHandle, Simulator, SimulatorBuilder, WechatAppHandle};

// One call, the catalogue, and the keys they are made with.
pub use alipay::error::Error;
pub use alipay::fault::Fault;
pub use alipay::model::Call;
pub use alipay::scenario::{catalogue, Catalogue, Fixture, Scenario};
pub use alipay::simulate::{get_phone_number, Delivery};
pub use certs::Certificates;
pub use crypto::{CryptoError, SignType};
pub use keys::{AppKeys, PublishedKeys};
pub use oracle::{Cause, Expect, Verdict};

/// The inputs of a [`Call`]: the console, the platform's quirks, the user and device, and
/// what the user does.
pub mod model {
    pub use crate::alipay::front_end::{page_event, FrontEnd, PageEvent};
    pub use crate::alipay::model::*;
}

/// The engine's steps, for checking them one by one: the documented rules in order, the
/// outcome they decide, the envelope made of it, and the Alipay-specific parts of the keys.
pub mod engine {
    pub use crate::alipay::envelope::{produce, EnvelopeCache, ALIPAY_IV};
    pub use crate::alipay::keys::{parse_aes_key, parse_alipay_public_key, KeyError};
    pub use crate::alipay::outcome::*;
    pub use crate::alipay::rules::{cause, evaluate, RULES, SUCCESS};
    pub use crate::keys::app_id_for_seed;
}

/// The shared state behind the server: apps, the journal, recordings, the state file.
pub mod state {
    pub use crate::sim::exchange::Exchange;
    pub use crate::sim::recording::{RecordedCall, Recording};
    pub use crate::sim::state::*;
    pub use crate::sim::store::{BackendTarget, BodyShape, Store, StoreError};
}

/// The HTTP server over the state: the one router, serving it, who may reach it, and
/// requests to a developer's backend.
pub mod server {
    pub use crate::http::access::{Access, AdminToken};
    pub use crate::http::backend::{exchange, form_encode, send, SendError, ANSWER_LIMIT};
    pub use crate::http::server::{banner, runtime, serve, ServerOptions};
    pub use crate::http::{app, app_with};

    /// The JSON API's contract: its OpenAPI document and the limits it states.
    pub mod api {
        pub use crate::http::api::{
            openapi_document, openapi_json, route_list, BODY_LIMIT, OPENAPI, SCENARIO_HEADER,
        };
        pub use crate::http::error::{ErrorBody, ErrorCode};
    }
}
