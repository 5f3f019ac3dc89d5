//! `dtcost`: exports Dynatrace subscription cost and Managed license usage as business events.
//! The logic runs in the embedded WebAssembly component; this binary reads the configuration,
//! sandboxes one instance per account and cluster, and reports.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use dtcost::config::{Config, ProcessEnvironment, TargetAuth};
use dtcost::demo;
use dtcost::render;
use dtcost::run::{self, RunOptions};
use dtcost::runtime::Runtime;
use dtcost::scrub::{self, Scrubber};
use dtcost::state::StateLock;

/// Exit code when an export (account or cluster) failed or an event was not accepted; also when
/// another run holds the state file's lock (nothing was sent: try again later).
const EXIT_EXPORT_FAILED: u8 = 1;
/// Exit code for a configuration or usage error (nothing was exported).
const EXIT_CONFIG: u8 = 2;

#[derive(Parser)]
#[command(
    name = "dtcost",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 every export succeeded and every event was accepted; 1 an account or cluster \
                  failed, or events were not sent or refused (the summary says which), or another run holds the \
                  state file; 2 the configuration or the command line is wrong (nothing was exported)."
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log lines as text for people or JSON for machines (stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read cost and license usage and ingest them as business events.
    Run {
        /// TOML configuration (see README). Without it, the DT_* environment variables configure
        /// a single account, target and cluster.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the exact events as NDJSON on stdout and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Keep running: export now and then at this interval (e.g. `1h`, `30m`), until SIGTERM
        /// or Ctrl-C, which end the wait (never a run in progress). The exit code is the last run's.
        #[arg(long, value_name = "INTERVAL", value_parser = parse_interval, conflicts_with = "dry_run")]
        every: Option<std::time::Duration>,
    },
    /// Authenticate every account and cluster and list what a run would export; sends nothing.
    Check {
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Write a self-contained HTML report (burn-up and forecast per subscription, daily cost per
    /// account, license usage) from what a run would read now; sends nothing.
    Report {
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Where to write the page.
        #[arg(short, long, value_name = "FILE", default_value = "report.html")]
        out: PathBuf,
    },
    /// Start a simulated Dynatrace on loopback with generated data, export into it, and summarise.
    Demo {
        #[command(flatten)]
        data: DataArgs,
        /// Also write the HTML report of what was exported to this file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Serve the simulated Dynatrace until interrupted, and write a config (and secret files)
    /// that points at it, for `dtcost run` or another component runtime.
    Simulate {
        #[command(flatten)]
        data: DataArgs,
        /// Where to write dtcost.toml and the secrets/ folder.
        #[arg(long, value_name = "DIR", default_value = "dtcost-sim")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The simulator's generated data.
#[derive(clap::Args)]
struct DataArgs {
    /// Accounts booking against one shared (DPS for Hybrid) subscription.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=1000))]
    accounts: u16,
    /// Days of booked cost per account.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u16).range(1..=366))]
    days: u16,
    /// Managed clusters on classic licensing.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(0..=100))]
    clusters: u16,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Milliseconds every answer waits, as a wide-area round trip adds to each request.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    latency_ms: u64,
    /// Milliseconds more the first answer on a new connection waits, as TCP and TLS
    /// handshakes add to each new connection.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    connect_latency_ms: u64,
}

impl From<DataArgs> for demo::DemoOptions {
    fn from(data: DataArgs) -> Self {
        demo::DemoOptions {
            accounts: data.accounts.into(),
            days: data.days.into(),
            clusters: data.clusters.into(),
            seed: data.seed,
            latency: std::time::Duration::from_millis(data.latency_ms),
            connect_latency: std::time::Duration::from_millis(data.connect_latency_ms),
        }
    }
}

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
            return ExitCode::from(EXIT_EXPORT_FAILED);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("dtcost: {}", scrub::redact_known(&format!("{error:#}")));
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { config, dry_run, every } => {
            let (config, scrubber) = load(config)?;
            // One run at a time writes a state file; a dry run only reads it.
            let _lock = match &config.state_file {
                Some(path) if !dry_run => match StateLock::acquire(path) {
                    Ok(lock) => Some(lock),
                    Err(error) => {
                        eprintln!("dtcost: {error}");
                        return Ok(ExitCode::from(EXIT_EXPORT_FAILED));
                    }
                },
                _ => None,
            };
            let runtime = start_runtime().await?;
            let mut shutdown = std::pin::pin!(demo::wait_for_shutdown());
            loop {
                let outcome =
                    run::export_all(&config, runtime.clone(), RunOptions { dry_run, summary_event: true }).await?;
                if dry_run {
                    let mut stdout = std::io::stdout().lock();
                    for event in outcome.events() {
                        use std::io::Write as _;
                        writeln!(stdout, "{}", scrubber.json_line(event))?;
                    }
                }
                eprint!("{}", scrubber.redact(&render::run_summary(&outcome)));
                let Some(interval) = every else { return Ok(exit_code(&outcome)) };
                tracing::info!("next run in {}", humantime::format_duration(interval));
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = &mut shutdown => {
                        eprintln!("dtcost: stopping (signal received between runs)");
                        return Ok(exit_code(&outcome));
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
            let run = run::export_all(&config, start_runtime().await?, options).await?;
            // What a server said is in these lines: printed redacted.
            print!("{}", scrubber.redact(&render::check(&run)));
            Ok(exit_code(&run))
        }
        Command::Report { config, out } => {
            let (mut config, scrubber) = load(config)?;
            // The report shows every day, not only those a run would still send.
            config.state_file = None;
            let options = RunOptions { dry_run: true, summary_event: false };
            let run = run::export_all(&config, start_runtime().await?, options).await?;
            let events: Vec<serde_json::Value> = run.events().filter_map(|e| serde_json::from_str(e).ok()).collect();
            std::fs::write(&out, dtcost::report::render(&events, &run::now_rfc3339()))?;
            eprint!("{}", scrubber.redact(&render::run_summary(&run)));
            eprintln!("report written to {}", out.display());
            Ok(exit_code(&run))
        }
        Command::Demo { data, report } => {
            let ok = demo::demo(data.into(), report.as_deref()).await?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(EXIT_EXPORT_FAILED) })
        }
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(shell, &mut Cli::command(), "dtcost", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate { data, out } => {
            demo::simulate(data.into(), &out).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--every`: a human interval of at least a minute (the data changes daily; the API is shared).
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e} (e.g. 1h, 30m)"))?;
    if interval < std::time::Duration::from_secs(60) {
        return Err(format!("{text:?}: at least 1m"));
    }
    Ok(interval)
}

/// The configuration, and the scrubber of its secrets (which from then on also redacts the logs).
fn load(path: Option<PathBuf>) -> anyhow::Result<(Config, Scrubber)> {
    let path = path.or_else(|| Some(PathBuf::from("dtcost.toml")).filter(|p| p.exists()));
    let config = Config::load(path.as_deref(), &ProcessEnvironment)?;
    let scrubber = Scrubber::new(config.secrets());
    scrub::redact_logs(scrubber.clone());
    Ok((config, scrubber))
}

async fn start_runtime() -> anyhow::Result<Arc<Runtime>> {
    // Compiling the component is CPU work: keep it off the async workers.
    Ok(Arc::new(tokio::task::spawn_blocking(Runtime::new).await??))
}

fn exit_code(run: &run::RunOutcome) -> ExitCode {
    if run.succeeded() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_EXPORT_FAILED) }
}
