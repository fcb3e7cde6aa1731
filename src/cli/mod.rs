//! The command line: one file per subcommand, each with its arguments and what it does.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

mod envelope;
mod fixtures;
mod keys;
mod play;
mod scenarios;
mod serve;
mod verify;

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
    serve: serve::ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the simulator server (what a bare `alipay-sim` does).
    Serve(serve::ServeArgs),
    /// List the scenario catalogue.
    Scenarios(scenarios::ScenariosArgs),
    /// Print what the front end receives for one scenario, with the keys and the oracle.
    Envelope(envelope::EnvelopeArgs),
    /// Print the app's keys for a seed, to configure a backend.
    Keys(keys::KeysArgs),
    /// Write every scenario as DIR/NAME.json, plus DIR/index.json and DIR/keys.json.
    Fixtures(fixtures::FixturesArgs),
    /// Read an envelope on stdin and say what a strict backend concludes, and why.
    /// Exits 0 when it accepts, 1 when it does not.
    Verify(verify::VerifyArgs),
    /// Replay suites against a backend and check its answers: `alipay-sim play conformance
    /// --backend URL --seed N`, with the backend configured with `alipay-sim keys --seed N`.
    /// Exits 0 when every step passes, 1 when one fails, 2 when the run cannot start.
    Play(play::PlayArgs),
    /// Ask a running simulator's /healthz (a container's health check: the image has no curl).
    /// Exits 0 when it answers ok, 1 otherwise.
    Healthcheck(HealthcheckArgs),
}

#[derive(clap::Args)]
struct HealthcheckArgs {
    /// The simulator's address, HOST:PORT [default: the port of ALIPAY_SIM_ADDR on 127.0.0.1].
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
}

/// `GET /healthz` over a plain TCP connection: 200 and `"ok"`, within 3 seconds.
fn healthcheck(args: HealthcheckArgs) -> ExitCode {
    use std::io::{Read, Write};
    let addr = args.addr.unwrap_or_else(|| {
        let port = std::env::var("ALIPAY_SIM_ADDR")
            .ok()
            .and_then(|a| a.rsplit_once(':').map(|(_, p)| p.to_string()))
            .unwrap_or_else(|| "8086".into());
        format!("127.0.0.1:{port}")
    });
    let timeout = std::time::Duration::from_secs(3);
    let answer = (|| -> std::io::Result<String> {
        use std::net::ToSocketAddrs;
        let target = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let mut stream = std::net::TcpStream::connect_timeout(&target, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        write!(
            stream,
            "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    })();
    match answer {
        Ok(text) if text.starts_with("HTTP/1.1 200") && text.contains("\"ok\"") => {
            ExitCode::SUCCESS
        }
        Ok(text) => {
            eprintln!(
                "alipay-sim healthcheck: {addr} answered {:?}",
                text.lines().next().unwrap_or("")
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("alipay-sim healthcheck: {addr}: {e}");
            ExitCode::from(1)
        }
    }
}

/// A seed: a u64, with a message that says so (clap's default says "invalid digit").
fn parse_seed(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("the seed must be a whole number from 0 to {}", u64::MAX))
}

pub fn main() -> ExitCode {
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

fn run(command: Command) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Serve(args) => {
            drop(out);
            serve::run(args)?;
        }
        Command::Scenarios(args) => scenarios::run(args, &mut out)?,
        Command::Envelope(args) => envelope::run(args, &mut out)?,
        Command::Keys(args) => keys::run(args, &mut out)?,
        Command::Fixtures(args) => fixtures::run(args, &mut out)?,
        Command::Verify(args) => return verify::run(args, &mut out),
        Command::Play(args) => {
            drop(out);
            return play::run(args);
        }
        Command::Healthcheck(args) => return Ok(healthcheck(args)),
    }
    Ok(ExitCode::SUCCESS)
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
