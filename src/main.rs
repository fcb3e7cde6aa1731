//! The `alipay-sim` command line: the catalogue, envelopes, keys, fixture files, and a verifier.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;

use alipay_sim::crypto::{AesKey, PublicKey};
use alipay_sim::model::Mobile;
use alipay_sim::oracle::{self, BackendKeys, BusinessResult};
use alipay_sim::{catalogue, AppKeys, SignType, Verdict};

// The server allocates small objects on every request; mimalloc serves those faster than glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A simulator of Alipay's my.getPhoneNumber flow: envelopes for every documented outcome,
/// each with the verdict a correct backend must reach. Throwaway keys only.
#[derive(Parser)]
#[command(name = "alipay-sim", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a command, alipay-sim serves (the options of `serve`).
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
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
}

#[derive(Subcommand)]
enum Command {
    /// Run the simulator server (what a bare `alipay-sim` does).
    Serve(ServeArgs),
    /// List the scenario catalogue.
    Scenarios {
        /// Print a JSON array of {name, title, verdict, business_result, rule} instead of one
        /// line each.
        #[arg(long)]
        json: bool,
    },
    /// Print what the front end receives for one scenario, with the keys and the oracle.
    Envelope {
        /// Scenario name, as `alipay-sim scenarios` lists it.
        #[arg(long)]
        scenario: String,
        /// Seed of the app's keys; the same seed gives the same output.
        #[arg(long, default_value_t = 0, env = "ALIPAY_SIM_SEED", allow_negative_numbers = true, value_parser = parse_seed)]
        seed: u64,
        /// Bound mobile instead of the scenario's: 11 mainland digits, `国家码-号码`, or "".
        #[arg(long)]
        mobile: Option<Mobile>,
    },
    /// Print the app's keys for a seed, to configure a backend.
    Keys {
        /// Seed of the app's keys; the same seed gives the same keys.
        #[arg(long, default_value_t = 0, env = "ALIPAY_SIM_SEED", allow_negative_numbers = true, value_parser = parse_seed)]
        seed: u64,
        /// Print JSON instead of labelled text.
        #[arg(long)]
        json: bool,
    },
    /// Write every scenario as DIR/NAME.json, plus DIR/index.json and DIR/keys.json.
    Fixtures {
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the app's keys (those of `alipay-sim keys --seed N`).
        #[arg(long, default_value_t = 0, env = "ALIPAY_SIM_SEED", allow_negative_numbers = true, value_parser = parse_seed)]
        seed: u64,
    },
    /// Read an envelope on stdin and say what a strict backend concludes, and why.
    /// Exits 0 when it accepts, 1 when it does not.
    Verify {
        /// Alipay public key: the console's one-line base64, or a PEM `BEGIN PUBLIC KEY` block.
        #[arg(long, env = "ALIPAY_SIM_ALIPAY_PUBLIC_KEY", allow_hyphen_values = true)]
        alipay_public_key: String,
        /// AES key, base64 (needed for encrypted content).
        #[arg(long, env = "ALIPAY_SIM_AES_KEY")]
        aes_key: Option<String>,
        /// The app's sign type: RSA2 (SHA-256) or RSA (SHA-1).
        #[arg(long, default_value = "RSA2", value_parser = sign_type_parser())]
        sign_type: SignType,
        /// Print the conclusion as JSON {verdict, plaintext, reason}.
        #[arg(long)]
        json: bool,
    },
    /// Replay suites against a backend and check its answers: `alipay-sim play conformance
    /// --backend URL --seed N`, with the backend configured with `alipay-sim keys --seed N`.
    /// Exits 0 when every step passes, 1 when one fails, 2 when the run cannot start.
    Play(PlayArgs),
}

#[derive(clap::Args)]
struct PlayArgs {
    /// Suite files, or names of built-in suites (`conformance`).
    #[arg(required = true, value_name = "SUITE")]
    suites: Vec<String>,
    /// The backend's URL, instead of each suite's backend.url.
    #[arg(long, env = "ALIPAY_SIM_BACKEND")]
    backend: Option<String>,
    /// Seed of the app's keys (those of `alipay-sim keys --seed N`), unless a suite carries keys.
    #[arg(long, default_value_t = 0, env = "ALIPAY_SIM_SEED", allow_negative_numbers = true, value_parser = parse_seed)]
    seed: u64,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Print the results as one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Stop at the first failing step.
    #[arg(long)]
    fail_fast: bool,
}

/// A seed: a u64, with a message that says so (clap's default says "invalid digit").
fn parse_seed(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("the seed must be a whole number from 0 to {}", u64::MAX))
}

/// `RSA2` or `RSA`, listed in `--help` and in the error for anything else.
fn sign_type_parser() -> impl clap::builder::TypedValueParser<Value = SignType> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(["RSA2", "RSA"]).map(|name| match name.as_str() {
        "RSA" => SignType::Rsa,
        _ => SignType::Rsa2,
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(), // --help, --version
        Err(error) => {
            // clap's whole message: what is wrong, the argument meant ("tip: ..."), the usage.
            let rendered = error.render().to_string();
            let message = rendered.strip_prefix("error: ").unwrap_or(&rendered);
            eprint!("alipay-sim: {message}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve(cli.serve));
    match run(command) {
        Ok(code) => code,
        // `alipay-sim scenarios | head`: the reader has what it wanted.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("alipay-sim: {}", describe(&error));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, `a: b: c`, leaving out a cause that the text already
/// holds (many errors put their source in their own message).
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(command: Command) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Serve(args) => {
            drop(out);
            serve(args)?;
        }
        Command::Scenarios { json } => {
            let catalogue = catalogue();
            if json {
                let list: Vec<_> = catalogue
                    .iter()
                    .map(|s| {
                        json!({
                            "name": s.name,
                            "title": s.title,
                            "verdict": s.expect.verdict,
                            "business_result": s.business_result(),
                            "rule": s.expect.rule,
                        })
                    })
                    .collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
            } else {
                let width = catalogue.iter().map(|s| s.name.len()).max().unwrap_or(0);
                let summaries: Vec<String> =
                    catalogue.iter().map(|s| s.verdict_summary()).collect();
                let summary_width = summaries
                    .iter()
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0);
                for (s, summary) in catalogue.iter().zip(&summaries) {
                    writeln!(
                        out,
                        "{:width$}  {summary:summary_width$}  {}",
                        s.name, s.title
                    )?;
                }
            }
        }
        Command::Envelope {
            scenario,
            seed,
            mobile,
        } => {
            let scenario = catalogue().get(&scenario)?;
            let keys = AppKeys::for_seed(seed)?;
            let fixture = scenario.run(&keys, mobile.as_ref())?;
            writeln!(out, "{}", serde_json::to_string_pretty(&fixture)?)?;
        }
        Command::Keys { seed, json } => {
            let keys = AppKeys::for_seed(seed)?.published();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&keys)?)?;
            } else {
                writeln!(
                    out,
                    "# Throwaway keys for seed {seed}. Never use real keys with alipay-sim."
                )?;
                writeln!(out, "app_id: {}", keys.app_id)?;
                writeln!(
                    out,
                    "alipay_public_key (one line, as the console shows it):\n{}\n",
                    keys.alipay_public_key
                )?;
                writeln!(
                    out,
                    "alipay_public_key (PEM):\n{}",
                    keys.alipay_public_key_pem
                )?;
                writeln!(
                    out,
                    "alipay_private_key (PKCS#8 PEM; the simulator signs with it):\n{}",
                    keys.alipay_private_key_pkcs8_pem
                )?;
                writeln!(
                    out,
                    "alipay_private_key (PKCS#1 PEM, the same key, for SDKs that want this form):\n{}",
                    keys.alipay_private_key_pkcs1_pem
                )?;
                writeln!(out, "aes_key (base64): {}", keys.aes_key)?;
            }
        }
        Command::Fixtures { out: dir, seed } => {
            let written = write_fixtures(&dir, seed)?;
            writeln!(
                out,
                "wrote {written} scenario fixtures, index.json and keys.json to {}",
                dir.display()
            )?;
        }
        Command::Verify {
            alipay_public_key,
            aes_key,
            sign_type,
            json,
        } => {
            let keys = BackendKeys {
                alipay_public_key: PublicKey::parse(&alipay_public_key)
                    .context("--alipay-public-key")?,
                aes_key: aes_key
                    .map(|k| AesKey::from_base64(&k))
                    .transpose()
                    .context("--aes-key")?,
                sign_type,
            };
            let mut envelope = String::new();
            std::io::stdin()
                .read_to_string(&mut envelope)
                .context("reading the envelope from stdin (it must be UTF-8 text)")?;
            if envelope.trim().is_empty() {
                bail!("no envelope on stdin: pipe in the text of res.response");
            }
            let (note, envelope) = find_envelope(envelope)?;
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            let conclusion = oracle::verify(&envelope, &keys);
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&conclusion)?)?;
            } else if conclusion.verdict == Verdict::RejectParse {
                // Not an envelope at all: bad input, reported like every other.
                eprintln!("alipay-sim: {}: {}", conclusion.verdict, conclusion.reason);
            } else {
                writeln!(out, "{}: {}", conclusion.verdict, conclusion.reason)?;
                if let Some(plaintext) = &conclusion.plaintext {
                    writeln!(out, "plaintext: {plaintext}")?;
                }
            }
            if conclusion.verdict != Verdict::Accept {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Play(args) => {
            drop(out);
            return play(args);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The envelope in what was piped into `verify`, with a note when it was wrapped: the body
/// `my.request` posts (`{"response": "<envelope>"}`), or the whole object `alipay-sim
/// envelope` prints. Anything else is taken as the envelope, for the oracle to judge.
fn find_envelope(input: String) -> Result<(Option<&'static str>, String)> {
    let Ok(serde_json::Value::Object(outer)) = serde_json::from_str(&input) else {
        return Ok((None, input));
    };
    if let (Some(payload), None) = (outer.get("payload"), outer.get("response")) {
        return match payload.get("response").and_then(|r| r.as_str()) {
            Some(envelope) => Ok((
                Some("this is `alipay-sim envelope` output; verifying its payload.response"),
                envelope.to_string(),
            )),
            None => bail!(
                "this is `alipay-sim envelope` output for a call where no envelope reaches the backend (callback {}): nothing to verify",
                outer.get("callback").and_then(|c| c.as_str()).unwrap_or("unknown")
            ),
        };
    }
    // An envelope's own `response` may be a string too (the ciphertext), but never one that
    // holds a JSON object with a `response` of its own.
    if let Some(serde_json::Value::String(inner)) = outer.get("response") {
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(inner) {
            if fields.contains_key("response") {
                return Ok((
                    Some("this is the request body my.request sends ({\"response\": \"<envelope>\"}); verifying the envelope inside it"),
                    inner.clone(),
                ));
            }
        }
    }
    Ok((None, input))
}

fn write_fixtures(dir: &Path, seed: u64) -> Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let keys = AppKeys::for_seed(seed)?;
    let write = |name: &str, value: &serde_json::Value| -> Result<()> {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value)? + "\n";
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    let mut index = Vec::new();
    for scenario in catalogue().iter() {
        let fixture = scenario
            .run(&keys, None)
            .with_context(|| format!("scenario {}", scenario.name))?;
        let file = format!("{}.json", scenario.name);
        index.push(json!({
            "name": scenario.name,
            "title": scenario.title,
            "verdict": fixture.delivery.expect.verdict,
            "business_result": fixture.delivery.expect.plaintext.as_ref().and_then(BusinessResult::of),
            "rule": fixture.delivery.expect.rule,
            "callback": fixture.delivery.callback,
            "file": file,
        }));
        write(&file, &serde_json::to_value(&fixture)?)?;
    }
    write("index.json", &serde_json::Value::Array(index.clone()))?;
    write("keys.json", &serde_json::to_value(keys.published())?)?;
    Ok(index.len())
}

fn play(args: PlayArgs) -> Result<ExitCode> {
    use alipay_sim::play::{self, Event, PlayOptions};
    use alipay_sim::suite::LoadedSuite;
    use std::io::IsTerminal;

    let keys = AppKeys::for_seed(args.seed)?;
    let mut suites = Vec::new();
    for argument in &args.suites {
        suites.push(LoadedSuite::load(argument)?.prepare(keys.clone())?);
    }
    let options = PlayOptions {
        backend_url: args.backend,
        fail_fast: args.fail_fast,
        seed: Some(args.seed),
    };
    let live = std::io::stderr().is_terminal();
    let json = args.json;
    let mut stdout = std::io::stdout();
    let mut progress = |event: Event<'_>| match event {
        Event::Started {
            suite,
            step,
            position,
            total,
        } if live => {
            eprint!("\r\x1b[2K[{position}/{total}] {suite} › {step}");
        }
        Event::Started { .. } => {}
        Event::Finished { suite, step } => {
            if live {
                eprint!("\r\x1b[2K");
            }
            if !json {
                let _ = write!(stdout, "{}", play::render_step(suite, step));
                let _ = stdout.flush();
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(play::play(&suites, &options, &mut progress))?;
    if let Some(path) = &args.junit {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, play::junit_xml(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(stdout, "{}", play::render_summary(&report))?;
    }
    Ok(if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn serve(args: ServeArgs) -> Result<()> {
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
    let state = alipay_sim::state::SimState::open(alipay_sim::state::StateConfig {
        seed: (!args.random_keys).then_some(args.seed),
        data_dir,
    })?;
    let (host, addresses) = listen_addresses(&args.addr, args.port)?;
    let mut access = alipay_sim::access::Access {
        allowed_hosts: args.allowed_host,
        cors_origins: args.cors_origin,
    };
    access.allowed_hosts.push(host);
    let options = alipay_sim::server::ServerOptions {
        access,
        ..Default::default()
    };
    // Signing has a thread per core of its own (see `api`); one async worker fewer leaves
    // the cores to it under load, and one worker moves tens of thousands of requests a second.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.saturating_sub(1).max(1))
        .enable_all()
        .build()
        .context("starting the async runtime")?;
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
