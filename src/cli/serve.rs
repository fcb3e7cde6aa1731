//! `alipay-sim serve` (and a bare `alipay-sim`): the simulator server.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::parse_seed;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, HOST:PORT (127.0.0.1:8086, localhost:8087, [::1]:8086). Keep it on
    /// loopback unless you mean to share the simulator.
    #[arg(long, env = "ALIPAY_SIM_ADDR", default_value = "127.0.0.1:8086")]
    addr: String,
    /// Port to listen on, instead of the one in --addr; 0 picks a free one.
    #[arg(long, env = "ALIPAY_SIM_PORT")]
    port: Option<u16>,
    /// Where apps, console settings and keys are kept [default: the user data directory,
    /// e.g. ~/.local/share/alipay-sim].
    #[arg(long, env = "ALIPAY_SIM_DATA_DIR", conflicts_with = "ephemeral")]
    data_dir: Option<PathBuf>,
    /// Keep everything in memory only; nothing is read or written.
    #[arg(long)]
    ephemeral: bool,
    /// Seed of the keys of new apps: the first app gets the keys of `alipay-sim keys --seed N`,
    /// the seed `keys`, `envelope`, `fixtures` and `play` use too.
    #[arg(
        long,
        env = "ALIPAY_SIM_SEED",
        default_value_t = 0,
        conflicts_with = "random_keys",
        allow_negative_numbers = true,
        value_parser = parse_seed
    )]
    seed: u64,
    /// Give new apps random keys instead of keys derived from --seed.
    #[arg(long)]
    random_keys: bool,
    /// Also answer requests for this host name (the server answers loopback names, IP
    /// addresses and the --addr host only, against DNS rebinding). `.example.com` allows the
    /// domain and its subdomains; `*` allows any host. Repeat, or separate with commas.
    #[arg(
        long,
        env = "ALIPAY_SIM_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    allowed_host: Vec<String>,
    /// Let pages at this origin (http://localhost:5173) call the whole API from a browser;
    /// `*` for any. Without it only the front-end call `getPhoneNumber` is open to other
    /// origins. Repeat, or separate with commas.
    #[arg(
        long,
        env = "ALIPAY_SIM_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    cors_origin: Vec<String>,
    /// The admin token of a shared instance: with one, the API and the web UI want it (a
    /// bearer header, or the UI's login), and only the emulated platform endpoints stay open.
    /// Required to listen beyond loopback. Prefer the environment variable: a command line
    /// shows in `ps`.
    #[arg(
        long,
        env = "ALIPAY_SIM_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    admin_token: Option<String>,
    /// How many calls the durable journal (journal.sqlite in the data directory) keeps; older
    /// ones are dropped.
    #[arg(long, env = "ALIPAY_SIM_JOURNAL_RETENTION", default_value_t = 50_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    journal_retention: u64,
}

pub fn run(args: ServeArgs) -> Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("alipay_sim=info,tower_http=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let data_dir = if args.ephemeral {
        None
    } else {
        match args.data_dir {
            Some(dir) => Some(dir),
            None => Some(
                dirs::data_dir()
                    .context(
                        "no user data directory on this system: give --data-dir or --ephemeral",
                    )?
                    .join("alipay-sim"),
            ),
        }
    };
    let state = alipay_sim::state::SimState::open_with(
        alipay_sim::state::StateConfig {
            seed: (!args.random_keys).then_some(args.seed),
            data_dir,
        },
        args.journal_retention,
    )?;
    let (host, addresses) = listen_addresses(&args.addr, args.port)?;
    let admin_token = args
        .admin_token
        .as_deref()
        .map(alipay_sim::server::AdminToken::new)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--admin-token: {e}"))?;
    if admin_token.is_none() {
        if let Some(shared) = addresses.iter().find(|a| !a.ip().is_loopback()) {
            bail!(
                "--addr {}: {shared} is reachable beyond this machine, so anyone who reaches it could change the simulator; \
                 give an admin token (ALIPAY_SIM_ADMIN_TOKEN, or --admin-token) that the team sends as \
                 `Authorization: Bearer <token>`, or listen on 127.0.0.1",
                args.addr
            );
        }
    }
    let mut access = alipay_sim::server::Access {
        allowed_hosts: args.allowed_host,
        cors_origins: args.cors_origin,
        admin_token,
    };
    access.allowed_hosts.push(host);
    let options = alipay_sim::server::ServerOptions {
        access,
        ..Default::default()
    };
    let runtime = alipay_sim::server::runtime().context("starting the async runtime")?;
    runtime.block_on(async {
        let listener = bind(&addresses).await?;
        // Handlers first: a signal that arrives once the banner is out must stop us gracefully.
        let shutdown = shutdown_signal()?;
        let url = format!("http://{}", listener.local_addr()?);
        let mut stdout = std::io::stdout();
        write!(stdout, "{}", alipay_sim::server::banner(&url, &state))?;
        stdout.flush()?;
        tracing::info!(%url, "ready");
        alipay_sim::server::serve(listener, state, options, shutdown).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The host of `--addr` and the addresses it resolves to, with `--port` applied.
fn listen_addresses(addr: &str, port: Option<u16>) -> Result<(String, Vec<std::net::SocketAddr>)> {
    use std::net::ToSocketAddrs;
    let example = "give HOST:PORT, such as 127.0.0.1:8086, localhost:8087 or [::1]:8086";
    let (host, given_port) = match addr.rsplit_once(':') {
        Some((host, p)) if !host.is_empty() && !host.ends_with(':') => (
            host,
            p.parse::<u16>().with_context(|| {
                format!("--addr {addr:?}: {p:?} is not a port (0 to 65535); {example}")
            })?,
        ),
        _ if port.is_some() => (addr, 0),
        _ => bail!("--addr {addr:?} has no port: {example}, or add --port"),
    };
    let port = port.unwrap_or(given_port);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<_> = (bare, port)
        .to_socket_addrs()
        .with_context(|| format!("--addr {addr:?}: cannot resolve {bare:?}; {example}"))?
        .collect();
    if addresses.is_empty() {
        bail!("--addr {addr:?}: {bare:?} resolves to no address; {example}");
    }
    Ok((bare.to_string(), addresses))
}

/// Listens on the first address that binds; a port in use gets a hint.
async fn bind(addresses: &[std::net::SocketAddr]) -> Result<tokio::net::TcpListener> {
    let mut last = None;
    for address in addresses {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return Ok(listener),
            Err(error) => last = Some((*address, error)),
        }
    }
    let (address, error) = last.expect("at least one address");
    if error.kind() == std::io::ErrorKind::AddrInUse {
        let next = address.port().checked_add(1).unwrap_or(8087);
        bail!(
            "cannot listen on {address}: the port is in use (another alipay-sim?); \
             give another port, such as --port {next}, or --port 0 for any free one"
        );
    }
    Err(anyhow::Error::new(error).context(format!("cannot listen on {address}")))
}

/// Ctrl-C or SIGTERM, with the handlers installed now rather than on first poll.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt =
            signal(SignalKind::interrupt()).context("installing the Ctrl-C handler")?;
        let mut terminate =
            signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}
