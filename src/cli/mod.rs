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
