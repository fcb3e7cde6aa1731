//! Serving the simulator over a socket: its options, the accept loop, the start banner.

use std::time::Duration;

use crate::http::access::Access;
use crate::sim::state::SimState;

/// How the server treats its clients.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Hosts and origins allowed beyond loopback.
    pub access: Access,
    /// A connection that has not sent a whole request head within this time is closed.
    pub header_timeout: Duration,
    /// A request whose body has not arrived within this time is answered 408.
    pub body_timeout: Duration,
    /// After the shutdown signal, requests in flight get this long to finish.
    pub shutdown_deadline: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            access: Access::default(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            shutdown_deadline: Duration::from_secs(5),
        }
    }
}

/// The server's async runtime. Signing has a thread per core of its own (see `api`); one
/// async worker fewer leaves the cores to it under load, and one worker moves tens of
/// thousands of requests a second.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_sub(1).max(1))
        .enable_all()
        .build()
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight, for at most the options' shutdown deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SimState,
    options: ServerOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;

    // A span and two events per request cost the request path a tenth of its time: traced
    // only when asked for (`RUST_LOG=tower_http=debug`). 5xx answers are logged either way
    // (http/error.rs).
    let traced = tracing::enabled!(target: "tower_http::trace", tracing::Level::DEBUG);
    let app = tower::Layer::layer(
        &tower::util::option_layer(traced.then(|| {
            (
                tower::util::MapResponseLayer::new(|answer: axum::http::Response<_>| {
                    answer.map(axum::body::Body::new)
                }),
                tower_http::trace::TraceLayer::new_for_http(),
            )
        })),
        crate::http::FrontDoor::new(state, options.access.clone(), Some(options.body_timeout)),
    );
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    // Each connection is told to finish through a watch channel, and the flag says when to look
    // at it (see `until_told_to_finish`).
    let (tell_connections, _) = tokio::sync::watch::channel(());
    let closing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait rather than spin or stop.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let told = tell_connections.subscribe();
        let closing = closing.clone();
        tokio::spawn(until_told_to_finish(
            connection,
            |connection| connection.graceful_shutdown(),
            told,
            closing,
        ));
    }
    drop(listener);
    closing.store(true, std::sync::atomic::Ordering::Release);
    tell_connections.send_replace(());
    tokio::select! {
        // Every connection's receiver gone: every connection finished.
        () = tell_connections.closed() => {}
        () = tokio::time::sleep(options.shutdown_deadline) => {
            tracing::warn!(
                "requests still in flight after {:?}; stopping anyway",
                options.shutdown_deadline
            );
        }
    }
    Ok(())
}

/// Serves `connection` until it closes; once `closing` is up and `told` has changed, `finish`
/// has it finish its request in flight and take no more. `told` is held until the connection
/// is done: the server waits for every receiver to go. The signal is polled once, to leave its
/// waker, and then only once the flag is up, where hyper-util's GracefulShutdown polls its
/// watch (a lock) on every poll of every connection, about 1% of a /healthz's time.
async fn until_told_to_finish<C: std::future::Future>(
    connection: C,
    mut finish: impl FnMut(std::pin::Pin<&mut C>),
    mut told: tokio::sync::watch::Receiver<()>,
    closing: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::future::Future;
    use std::sync::atomic::Ordering;
    let mut connection = std::pin::pin!(connection);
    let mut signal = std::pin::pin!(async move {
        let _ = told.changed().await;
        told
    });
    let mut held = None;
    let mut waiting = false;
    let _ = std::future::poll_fn(|cx| {
        if held.is_none() && (!waiting || closing.load(Ordering::Acquire)) {
            waiting = true;
            if let std::task::Poll::Ready(receiver) = signal.as_mut().poll(cx) {
                held = Some(receiver);
                finish(connection.as_mut());
            }
        }
        connection.as_mut().poll(cx)
    })
    .await;
    drop(held);
}

/// What a developer needs at once, printed when the server starts: the URL, and each app's id
/// and keys to paste into a backend.
pub fn banner(url: &str, state: &SimState) -> String {
    let mut text = format!("alipay-sim listening on {url}\n");
    match state.data_dir() {
        Some(dir) => text.push_str(&format!("state: {}\n", dir.join("state.json").display())),
        None => text.push_str("state: in memory only (--ephemeral)\n"),
    }
    for app in state.list_apps() {
        text.push_str(&format!(
            "\napp {}\n  alipay_public_key: {}\n  aes_key: {}\n  sign_type: {}\n",
            app.app_id,
            app.keys.alipay_public_key,
            app.keys.aes_key,
            app.keys.sign_type.map_or("none", |t| t.as_str()),
        ));
    }
    text.push_str(&format!(
        "\nAPI: {url}/api/v1/openapi.json\nThrowaway keys only: never load real Alipay or merchant keys into alipay-sim.\n"
    ));
    text
}
