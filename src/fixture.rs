//! The in-process fixture: a whole simulator server for a Rust test, on its own thread and a
//! free port, stopped when the value is dropped. An entry, like the CLI: it uses the shell and
//! the server as their users do.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::alipay::scenario::Fixture;
use crate::http::server::{serve, ServerOptions};
use crate::sim::state::{
    AppView, JournalEntry, KeysView, NewApp, PhoneNumberRequest, SimState, StateConfig, StateError,
};

/// A simulator server for tests, on its own thread and a free port of 127.0.0.1, in memory only.
/// It stops when the value is dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), alipay_sim::state::StateError> {
/// let sim = alipay_sim::Simulator::start().await;
/// let app = sim.create_app();
/// app.apply_scenario("gateway-not-set")?;
/// let result = app.get_phone_number(Default::default())?;
/// assert_eq!(result.delivery.expect.verdict, alipay_sim::Verdict::Unsigned);
/// # Ok(()) }
/// ```
pub struct Simulator {
    state: SimState,
    address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Options for a [`Simulator`].
#[derive(Debug, Default, Clone)]
pub struct SimulatorBuilder {
    seed: Option<u64>,
}

impl SimulatorBuilder {
    /// Deterministic keys: the first app gets exactly the keys of `alipay-sim keys --seed N`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Starts the server; for `#[tokio::test]` and other async code.
    pub async fn start(self) -> Simulator {
        tokio::task::spawn_blocking(move || self.start_blocking())
            .await
            .expect("the simulator starts")
    }

    /// Starts the server; for plain `#[test]` and other synchronous code.
    pub fn start_blocking(self) -> Simulator {
        let state = SimState::open(StateConfig {
            seed: self.seed,
            data_dir: None,
        })
        .expect("an in-memory state always opens");
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        let address = listener.local_addr().expect("a bound address");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking socket");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let served = state.clone();
        let options = ServerOptions::default();
        let thread = std::thread::Builder::new()
            .name(format!("alipay-sim {address}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a tokio runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    let _ = serve(listener, served, options, async {
                        let _ = stopped.await;
                    })
                    .await;
                });
            })
            .expect("a server thread");
        Simulator {
            state,
            address,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }
}

impl Simulator {
    /// A simulator with random keys; see [`Simulator::builder`] for a seed.
    pub async fn start() -> Simulator {
        Self::builder().start().await
    }

    /// The blocking twin of [`Simulator::start`], for synchronous tests.
    pub fn start_blocking() -> Simulator {
        Self::builder().start_blocking()
    }

    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    /// The base URL, such as `http://127.0.0.1:41234`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The shared state the server answers from.
    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// A new, fully configured app of its own, so parallel tests never see each other's state.
    /// Its keys were made ahead, in the background, while any were: creating it generates none.
    pub fn create_app(&self) -> AppHandle {
        self.try_create_app(NewApp::default())
            .expect("creating an app with default settings")
    }

    /// A new app with the given settings.
    pub fn try_create_app(&self, new: NewApp) -> Result<AppHandle, StateError> {
        let view = self.state.create_app(new)?;
        Ok(AppHandle {
            state: self.state.clone(),
            app_id: view.app_id,
        })
    }

    /// The app created at start (with the builder's seed, if any).
    pub fn first_app(&self) -> AppHandle {
        let app_id = self.state.list_apps()[0].app_id.clone();
        AppHandle {
            state: self.state.clone(),
            app_id,
        }
    }

    /// Every call so far, newest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.state.journal(None, usize::MAX)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One app of a [`Simulator`].
#[derive(Clone)]
pub struct AppHandle {
    state: SimState,
    app_id: String,
}

impl AppHandle {
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The app's keys now (rotation changes them).
    pub fn keys(&self) -> KeysView {
        self.state
            .keys(&self.app_id)
            .expect("the app exists while its handle does")
    }

    /// The Alipay public key as the console shows it: one line of base64.
    pub fn alipay_public_key(&self) -> String {
        self.keys().alipay_public_key
    }

    /// The AES key, base64.
    pub fn aes_key(&self) -> String {
        self.keys().aes_key
    }

    /// Sets the app's console, platform, user, action and fault to a catalogue scenario's.
    pub fn apply_scenario(&self, name: &str) -> Result<AppView, StateError> {
        self.state.apply_scenario(&self.app_id, name)
    }

    /// Changes only the given fields, as `PATCH /api/v1/apps/{app_id}` does.
    pub fn patch(&self, patch: Value) -> Result<AppView, StateError> {
        self.state.patch_app(&self.app_id, patch)
    }

    /// The emulated front-end call.
    pub fn get_phone_number(&self, request: PhoneNumberRequest) -> Result<Fixture, StateError> {
        self.state.get_phone_number(&self.app_id, None, request)
    }

    /// This app's calls, newest first.
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.state.journal(Some(&self.app_id), usize::MAX)
    }
}
