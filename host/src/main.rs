//! `dtcost`: exports Dynatrace subscription cost and Managed license usage as business events.
//! The logic runs in the embedded WebAssembly component; this binary reads the configuration,
//! sandboxes one instance per account and cluster, and reports. Each command ends with a typed
//! exit code (exit.rs).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser as _;

use cli::{Cli, Command, LogFormat};
use dtcost::config::{Config, ProcessEnvironment, TargetAuth};
use dtcost::demo;
use dtcost::exit::{Exit, Failure, OrExit as _};
use dtcost::render;
use dtcost::run::{self, RunOptions};
use dtcost::runtime::Runtime;
use dtcost::scrub::{self, Scrubber};
use dtcost::state::{StateError, StateLock};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        // Our own logs; other crates' debug output (wasmtime's) is not for users.
        (false, 1) => "dtcost=info,warn",
        (false, _) => "dtcost=debug,warn",
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("DTCOST_LOG").unwrap_or_else(|_| level.into()))
        // Every log line is redacted (the secrets, once the configuration is read; token shapes).
        .with_writer(scrub::LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("dtcost: cannot start the async runtime: {error}");
            return Exit::Component.into();
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(exit) => exit.into(),
        Err(Failure { exit, error }) => {
            eprintln!("dtcost: {}", scrub::redact_known(&format!("{error:#}")));
            exit.into()
        }
    }
}

async fn dispatch(command: Command) -> Result<Exit, Failure> {
    match command {
        Command::Run { config, dry_run, every } => {
            let (config, scrubber) = load(config)?;
            // One run at a time writes a state file; a dry run only reads it.
            let _lock = match &config.state_file {
                Some(path) if !dry_run => match StateLock::acquire(path) {
                    Ok(lock) => Some(lock),
                    // Another run holds it: this one sends nothing (the next run will).
                    Err(error @ StateError::Locked { .. }) => {
                        eprintln!("dtcost: {error}");
                        return Ok(Exit::ExportFailed);
                    }
                    Err(error) => return Err(error).or_exit(Exit::State),
                },
                _ => None,
            };
            // Listened to before the first run: a signal during any run lets it finish (within
            // STOP_GRACE), so that what it sent is recorded in the state file; one between runs
            // ends the wait.
            let mut shutdown =
                demo::Shutdown::listen().context("cannot listen for SIGTERM and Ctrl-C").or_exit(Exit::Component)?;
            let runtime = start_runtime(&config, &scrubber).await?;
            loop {
                let options = RunOptions { dry_run, summary_event: true };
                let (outcome, stop) =
                    match unless_stopped(run::export_all(&config, runtime.clone(), options), &mut shutdown).await {
                        Some((outcome, stop)) => (outcome.or_exit(Exit::State)?, stop),
                        None => {
                            eprintln!(
                                "dtcost: stopped before the run finished (a second signal, or {} s after the first): \
                             the accounts it had not yet recorded in the state file are sent again by the next run",
                                STOP_GRACE.as_secs()
                            );
                            return Ok(Exit::ExportFailed);
                        }
                    };
                if dry_run {
                    let mut stdout = std::io::stdout().lock();
                    for event in outcome.events() {
                        use std::io::Write as _;
                        writeln!(stdout, "{}", scrubber.json_line(event)).or_exit(Exit::Output)?;
                    }
                }
                eprint!("{}", scrubber.redact(&render::run_summary(&outcome)));
                if stop {
                    eprintln!("dtcost: stopping (signal received during the run, which finished)");
                    return Ok(exit_of(&outcome));
                }
                let Some(interval) = every else { return Ok(exit_of(&outcome)) };
                tracing::info!("next run in {}", humantime::format_duration(interval));
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = shutdown.requested() => {
                        eprintln!("dtcost: stopping (signal received between runs)");
                        return Ok(exit_of(&outcome));
                    }
                }
            }
        }
        Command::Check { config } => {
            let (config, scrubber) = load(config)?;
            // What a server said is in these lines: printed redacted.
            let say = |line: String| println!("{}", scrubber.redact(&line));
            say(format!(
                "configuration {}: {} accounts, {} clusters",
                config.source_name,
                config.accounts.len(),
                config.clusters.len()
            ));
            match &config.target.auth {
                TargetAuth::ApiToken(token) => {
                    say(format!("target {} (API token {})", config.target.url, token.identifier()))
                }
                TargetAuth::OAuth { client_id, .. } => {
                    say(format!("target {} (OAuth client {client_id})", config.target.url))
                }
            }
            let options = RunOptions { dry_run: true, summary_event: false };
            let run = run::export_all(&config, start_runtime(&config, &scrubber).await?, options)
                .await
                .or_exit(Exit::State)?;
            print!("{}", scrubber.redact(&render::check(&run)));
            Ok(exit_of(&run))
        }
        Command::Report { config, out } => {
            let (mut config, scrubber) = load(config)?;
            // The report shows every day, not only those a run would still send.
            config.state_file = None;
            let options = RunOptions { dry_run: true, summary_event: false };
            let run = run::export_all(&config, start_runtime(&config, &scrubber).await?, options)
                .await
                .or_exit(Exit::State)?;
            // The page shows the events as the run's scrubber leaves them (every secret and
            // access token of the run known by now).
            let events: Vec<serde_json::Value> =
                run.events().filter_map(|e| serde_json::from_str(&scrubber.redact_json(e)).ok()).collect();
            std::fs::write(&out, dtcost::report::render(&events, &run::now_rfc3339()))
                .map_err(|error| anyhow::anyhow!("cannot write the report to {}: {error}", out.display()))
                .or_exit(Exit::Output)?;
            eprint!("{}", scrubber.redact(&render::run_summary(&run)));
            eprintln!("report written to {}", out.display());
            Ok(exit_of(&run))
        }
        Command::Demo { data, report } => {
            let ok = demo::demo(data.into(), report.as_deref()).await?;
            Ok(if ok { Exit::Success } else { Exit::ExportFailed })
        }
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "dtcost", &mut std::io::stdout());
            Ok(Exit::Success)
        }
        Command::Simulate { data, out } => {
            demo::simulate(data.into(), &out).await.or_exit(Exit::Output)?;
            Ok(Exit::Success)
        }
    }
}

/// The configuration, and the run's one scrubber: its secrets now, the access tokens as the
/// instances' requests carry them (it redacts the logs, the events and every output).
fn load(path: Option<PathBuf>) -> Result<(Config, Scrubber), Failure> {
    let path = path.or_else(|| Some(PathBuf::from("dtcost.toml")).filter(|p| p.exists()));
    let config = Config::load(path.as_deref(), &ProcessEnvironment).or_exit(Exit::Usage)?;
    let scrubber = Scrubber::new(config.secrets()).or_exit(Exit::Usage)?;
    scrub::redact_logs(scrubber.clone());
    Ok((config, scrubber))
}

/// The runtime for a run of `config`: at most its `concurrency` connections to each origin, the
/// run's scrubber in every instance.
async fn start_runtime(config: &Config, scrubber: &Scrubber) -> Result<Arc<Runtime>, Failure> {
    Ok(Arc::new(Runtime::start(config.concurrency, scrubber.clone()).await.or_exit(Exit::Component)?))
}

/// How long a run may go on after a SIGTERM or Ctrl-C: under Kubernetes' default grace period
/// (30 s) before its SIGKILL, and ample for a run of a hundred accounts (about 2 s; BENCHMARKS.md).
pub(crate) const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(25);

/// `run` to its end, and whether a signal came meanwhile (the command then stops after it);
/// `None` when a second signal came, or the first is [`STOP_GRACE`] old: the run is dropped.
async fn unless_stopped<T>(run: impl Future<Output = T>, shutdown: &mut demo::Shutdown) -> Option<(T, bool)> {
    let mut run = std::pin::pin!(run);
    tokio::select! {
        finished = &mut run => return Some((finished, false)),
        () = shutdown.requested() => {}
    }
    eprintln!(
        "dtcost: signal received: stopping after the run in progress (at most {} s more; a second signal stops it now)",
        STOP_GRACE.as_secs()
    );
    tokio::select! {
        finished = &mut run => Some((finished, true)),
        () = shutdown.requested() => None,
        () = tokio::time::sleep(STOP_GRACE) => None,
    }
}

fn exit_of(run: &run::RunOutcome) -> Exit {
    if run.succeeded() { Exit::Success } else { Exit::ExportFailed }
}
