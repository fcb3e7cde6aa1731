//! `alipay-sim play`: suites replayed against a backend, with text, JSON and JUnit reports.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use alipay_sim::AppKeys;

use super::parse_seed;

#[derive(clap::Args)]
pub struct PlayArgs {
    /// Suite files, or names of built-in suites (`conformance`, `transports`, `wechat-code`,
    /// `wechat-legacy`, `alipay-login`).
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
    /// The transport shape of every suite's requests, instead of its backend.body (steps that
    /// give their own `body` keep it): json, form, raw, raw-json, raw-form, query, split-json
    /// or split-form.
    #[arg(long, value_name = "SHAPE", value_parser = parse_body_shape)]
    body: Option<alipay_sim::state::BodyShape>,
    /// Where WeChat suites serve WeChat's endpoints while they play: point the backend's WeChat
    /// base URL (instead of https://api.weixin.qq.com) at http://ADDR, with the appid and
    /// secret of `alipay-sim keys --platform wechat --seed N`.
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8087",
        env = "ALIPAY_SIM_WECHAT_ADDR"
    )]
    wechat_addr: std::net::SocketAddr,
    /// Where login suites (`alipay-login`) serve Alipay's gateway while they play: point the
    /// backend's Alipay gateway (instead of https://openapi.alipay.com/gateway.do) at
    /// http://ADDR/gateway.do, with the keys of `alipay-sim keys --seed N --login`.
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8088",
        env = "ALIPAY_SIM_ALIPAY_ADDR"
    )]
    alipay_addr: std::net::SocketAddr,
}

fn parse_body_shape(text: &str) -> Result<alipay_sim::state::BodyShape, String> {
    use strum::IntoEnumIterator;
    alipay_sim::state::BodyShape::iter()
        .find(|shape| shape.as_str() == text)
        .ok_or_else(|| {
            let names: Vec<&str> = alipay_sim::state::BodyShape::iter()
                .map(|s| s.as_str())
                .collect();
            format!(
                "{text:?} is not a transport shape: use one of {}",
                names.join(", ")
            )
        })
}

pub fn run(args: PlayArgs) -> Result<ExitCode> {
    use alipay_sim::playback::play::{self, Event, PlayOptions};
    use alipay_sim::playback::suite::LoadedSuite;
    use std::io::IsTerminal;

    let keys = AppKeys::for_seed(args.seed)?;
    let mut suites = Vec::new();
    let mut wechat_suites = Vec::new();
    let mut login_suites = Vec::new();
    for argument in &args.suites {
        if let Some(loaded) = alipay_sim::playback::alipay_login::LoadedLoginSuite::load(argument)?
        {
            login_suites.push(loaded);
            continue;
        }
        if let Some(loaded) = alipay_sim::playback::wechat::LoadedWechatSuite::load(argument)? {
            wechat_suites.push(loaded);
            continue;
        }
        let mut loaded = LoadedSuite::load(argument)?;
        if let Some(body) = args.body {
            loaded.suite.backend.body = body;
        }
        suites.push(loaded.prepare(keys.clone())?);
    }
    let options = PlayOptions {
        backend_url: args.backend.clone(),
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
    // Several threads: WeChat suites serve the endpoints their backend calls while they play.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut report = runtime.block_on(play::play(&suites, &options, &mut progress))?;
    if !wechat_suites.is_empty() {
        let render = |suite: &str, step: &play::StepReport| {
            if !json {
                print!("{}", play::render_step(suite, step));
                let _ = std::io::stdout().flush();
            }
        };
        runtime.block_on(play_wechat(&wechat_suites, &args, &mut report, &render))?;
    }
    if !login_suites.is_empty() {
        let render = |suite: &str, step: &play::StepReport| {
            if !json {
                print!("{}", play::render_step(suite, step));
                let _ = std::io::stdout().flush();
            }
        };
        runtime.block_on(play_login(&login_suites, &args, &mut report, &render))?;
    }
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

/// Plays the WeChat suites against the backend, serving WeChat's endpoints at `--wechat-addr`
/// for the app of `--seed`, and adds their results to `report`.
async fn play_wechat(
    suites: &[alipay_sim::playback::wechat::LoadedWechatSuite],
    args: &PlayArgs,
    report: &mut alipay_sim::playback::play::Report,
    render: &dyn Fn(&str, &alipay_sim::playback::play::StepReport),
) -> Result<()> {
    use alipay_sim::state::{NewWechatApp, SimState, StateConfig};

    let state = SimState::open(StateConfig {
        seed: Some(args.seed),
        data_dir: None,
    })?;
    let app = state.create_wechat_app(NewWechatApp {
        seed: Some(args.seed),
        name: Some("play".into()),
        ..Default::default()
    })?;
    let (stop, server) = serve_while_playing(
        &state,
        args.wechat_addr,
        "WeChat suites serve WeChat's endpoints at --wechat-addr",
    )
    .await?;
    eprintln!(
        "WeChat endpoints at http://{} for appid {} (alipay-sim keys --platform wechat --seed {})",
        args.wechat_addr, app.appid, args.seed
    );
    let started = std::time::Instant::now();
    for loaded in suites {
        let url = args
            .backend
            .clone()
            .or_else(|| loaded.suite.backend.url.clone())
            .with_context(|| {
                format!(
                    "{}: no backend URL: give --backend URL or set backend.url in the suite",
                    loaded.file
                )
            })?;
        let suite = alipay_sim::playback::wechat::play_suite(
            loaded,
            &url,
            &state,
            &app.app_id,
            &mut |step| render(&loaded.suite.name, step),
        )
        .await
        .with_context(|| format!("{}: is the backend running? ", loaded.file))?;
        add_suite(report, suite);
        if args.fail_fast && report.failed > 0 {
            break;
        }
    }
    report.elapsed_ms += started.elapsed().as_millis() as u64;
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

/// Plays the login suites against the backend, serving Alipay's gateway at `--alipay-addr` for
/// the app of `--seed` (and another app, whose codes the backend must refuse), and adds their
/// results to `report`.
async fn play_login(
    suites: &[alipay_sim::playback::alipay_login::LoadedLoginSuite],
    args: &PlayArgs,
    report: &mut alipay_sim::playback::play::Report,
    render: &dyn Fn(&str, &alipay_sim::playback::play::StepReport),
) -> Result<()> {
    use alipay_sim::playback::alipay_login::{play_suite, LoginApps};
    use alipay_sim::state::{NewApp, SimState, StateConfig};

    let state = SimState::open(StateConfig {
        seed: Some(args.seed),
        data_dir: None,
    })?;
    // The state of a seed opens with the seed's app.
    let app_id = AppKeys::for_seed(args.seed)?.app_id().to_string();
    let app = match state.app(&app_id) {
        Ok(app) => app,
        Err(_) => state.create_app(NewApp {
            seed: Some(args.seed),
            name: Some("play".into()),
            ..Default::default()
        })?,
    };
    let other = state.create_app(NewApp {
        seed: Some(alipay_sim::seed::derive_seed(
            args.seed,
            "play/another-app",
            1,
        )),
        name: Some("another app".into()),
        ..Default::default()
    })?;
    let (stop, server) = serve_while_playing(
        &state,
        args.alipay_addr,
        "login suites serve Alipay's gateway at --alipay-addr",
    )
    .await?;
    eprintln!(
        "Alipay gateway at http://{}/gateway.do for app {} (alipay-sim keys --seed {} --login)",
        args.alipay_addr, app.app_id, args.seed
    );
    let apps = LoginApps {
        app_id: &app.app_id,
        other_app_id: &other.app_id,
    };
    let started = std::time::Instant::now();
    let result = async {
        for loaded in suites {
            let url = args
                .backend
                .clone()
                .or_else(|| loaded.suite.backend.url.clone())
                .with_context(|| {
                    format!(
                        "{}: no backend URL: give --backend URL or set backend.url in the suite",
                        loaded.file
                    )
                })?;
            let suite = play_suite(loaded, &url, &state, &apps, &mut |step| {
                render(&loaded.suite.name, step)
            })
            .await
            .with_context(|| format!("{}: is the backend running? ", loaded.file))?;
            add_suite(report, suite);
            if args.fail_fast && report.failed > 0 {
                break;
            }
        }
        anyhow::Ok(())
    }
    .await;
    report.elapsed_ms += started.elapsed().as_millis() as u64;
    let _ = stop.send(());
    let _ = server.await;
    result
}

/// Adds a played suite's steps to the run's counts and the suite to its report.
fn add_suite(
    report: &mut alipay_sim::playback::play::Report,
    suite: alipay_sim::playback::play::SuiteReport,
) {
    use alipay_sim::playback::play::StepStatus;
    for step in &suite.steps {
        match step.status {
            StepStatus::Passed => report.passed += 1,
            StepStatus::Failed => report.failed += 1,
            StepStatus::Skipped => report.skipped += 1,
        }
    }
    report.suites.push(suite);
}

/// Serves `state` at `addr` while suites play (the platform endpoints their backend calls);
/// `what` says why, in the error when the address cannot be listened on. Send on the sender
/// to stop, then await the handle.
async fn serve_while_playing(
    state: &alipay_sim::state::SimState,
    addr: std::net::SocketAddr,
    what: &str,
) -> Result<(
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("{what} {addr}: cannot listen there"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alipay_sim::server::serve(
        listener,
        state.clone(),
        Default::default(),
        async {
            let _ = stopped.await;
        },
    ));
    Ok((stop, server))
}
