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
    AppView, Clock, JournalEntry, KeysView, NewApp, NewWechatApp, PhoneNumberRequest, SimState,
    StateConfig, StateError, WechatAppView, WechatJournalEntry,
};
use crate::wechat::front_end::TapResult;
use crate::wechat::model::Tap;

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

impl Simulator {
    /// A new WeChat app of its own: its appid and secret are what the backend under test is
    /// configured with, and the simulator's base URL ([`Simulator::uri`]) replaces
    /// `https://api.weixin.qq.com`.
    pub fn create_wechat_app(&self) -> WechatAppHandle {
        self.try_create_wechat_app(NewWechatApp::default())
            .expect("creating a WeChat app with default settings")
    }

    /// A new WeChat app with the given settings.
    pub fn try_create_wechat_app(&self, new: NewWechatApp) -> Result<WechatAppHandle, StateError> {
        let view = self.state.create_wechat_app(new)?;
        Ok(WechatAppHandle {
            state: self.state.clone(),
            app_id: view.app_id,
        })
    }

    /// Moves the simulator's clock forward, so codes and tokens expire at once (as
    /// `POST /api/v1/clock/advance` does). Panics on 0 or more than ten years.
    pub fn advance_clock(&self, seconds: u64) -> Clock {
        self.state
            .advance_clock(seconds)
            .expect("1 second to ten years")
    }
}

/// One WeChat app of a [`Simulator`]: the page's calls, and what the platform remembers.
#[derive(Clone)]
pub struct WechatAppHandle {
    state: SimState,
    app_id: String,
}

impl WechatAppHandle {
    /// The app as the API shows it: appid, secret, openid, current session key, console.
    pub fn view(&self) -> WechatAppView {
        self.state
            .wechat_app(&self.app_id)
            .expect("the app exists while its handle does")
    }

    pub fn appid(&self) -> &str {
        &self.app_id
    }

    pub fn secret(&self) -> String {
        self.view().secret
    }

    /// `wx.login()`: the login code the page sends its backend.
    pub fn login(&self) -> String {
        let result = self
            .state
            .wechat_login(&self.app_id)
            .expect("the app exists while its handle does");
        result["code"].as_str().unwrap_or_default().to_string()
    }

    /// A tap on the phone button: `detail` is what the page's handler receives.
    pub fn tap(&self, tap: Tap) -> Result<TapResult, StateError> {
        self.state.wechat_tap(&self.app_id, tap)
    }

    /// Sets the console, user and switches to a WeChat catalogue scenario's.
    pub fn apply_scenario(&self, name: &str) -> Result<WechatAppView, StateError> {
        self.state.apply_wechat_scenario(&self.app_id, name)
    }

    /// Changes `name`, `console`, `user` or `switches` by a JSON merge patch.
    pub fn patch(&self, patch: Value) -> Result<WechatAppView, StateError> {
        self.state.patch_wechat_app(&self.app_id, patch)
    }

    /// This app's WeChat calls, the page's and the backend's, newest first.
    pub fn journal(&self) -> Vec<WechatJournalEntry> {
        self.state.wechat_journal(Some(&self.app_id), usize::MAX)
    }
}
