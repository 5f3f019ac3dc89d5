//! The command line: `run`, `check`, `report`, `demo`, `completions`, `simulate` and the global
//! logging flags (clap), with the exit codes in `--help`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use dtcost::demo;
use dtcost::exit::Exit;

#[derive(Parser)]
#[command(
    name = "dtcost",
    version,
    about,
    long_about = None,
    after_help = Exit::help()
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log lines as text for people or JSON for machines (stderr).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Read cost and license usage and ingest them as business events.
    Run {
        /// TOML configuration (see README). Without it, the DT_* environment variables configure
        /// a single account, target and cluster.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the exact events as NDJSON on stdout and send nothing.
        #[arg(long)]
        dry_run: bool,
        // Keep running at this interval; its help (every_help) says what a signal does.
        #[arg(long, value_name = "INTERVAL", value_parser = parse_interval, conflicts_with = "dry_run", help = every_help())]
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
pub enum LogFormat {
    Text,
    Json,
}

/// The simulator's generated data.
#[derive(clap::Args)]
pub struct DataArgs {
    /// Accounts booking against one shared (DPS for Hybrid) subscription.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub accounts: u16,
    /// Days of booked cost per account.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u16).range(1..=366))]
    pub days: u16,
    /// Managed clusters on classic licensing.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(0..=100))]
    pub clusters: u16,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Milliseconds every answer waits, as a wide-area round trip adds to each request.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub latency_ms: u64,
    /// Milliseconds more the first answer on a new connection waits, as TCP and TLS
    /// handshakes add to each new connection.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub connect_latency_ms: u64,
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

/// `--every`'s help: what SIGTERM and Ctrl-C do, with the grace a run has after one.
fn every_help() -> String {
    format!(
        "Keep running: export now and then at this interval (e.g. `1h`, `30m`), until SIGTERM or Ctrl-C. Between \
         runs they end the wait; during a run (the first one too, and a run without --every) the run finishes \
         first, for at most {} s more (a second signal stops it at once, exit 1). The exit code is the last \
         finished run's.",
        crate::STOP_GRACE.as_secs()
    )
}

/// `--every`: a human interval of at least a minute (the data changes daily; the API is shared).
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let interval = humantime::parse_duration(text).map_err(|e| format!("{text:?}: {e} (e.g. 1h, 30m)"))?;
    if interval < std::time::Duration::from_secs(60) {
        return Err(format!("{text:?}: at least 1m"));
    }
    Ok(interval)
}
