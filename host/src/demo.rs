//! `dtcost demo`: the whole export against the simulator, with generated data, and a summary a
//! newcomer can read. No tenant, no network beyond loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use dtcost_sim::{Generate, Scenario, Simulator};
use serde_json::Value;

use crate::config::Config;
use crate::exit::{Exit, Failure, OrExit as _};
use crate::run::{self, RunOptions};
use crate::runtime::Runtime;

pub struct DemoOptions {
    pub accounts: usize,
    pub days: usize,
    pub clusters: usize,
    pub seed: u64,
    /// [`Scenario::latency`]: added to every answer.
    pub latency: std::time::Duration,
    /// [`Scenario::connect_latency`]: added to the first answer on each new connection.
    pub connect_latency: std::time::Duration,
}

impl DemoOptions {
    fn scenario(&self) -> Scenario {
        let mut scenario = Scenario::generate(&Generate {
            accounts: self.accounts,
            days: self.days,
            clusters: self.clusters,
            shared_subscription: true,
            last_day: dtcost_sim::yesterday(),
            seed: self.seed,
        });
        scenario.latency = self.latency;
        scenario.connect_latency = self.connect_latency;
        scenario
    }
}

/// Runs the demo; `Ok(true)` when every generated event was accepted.
pub async fn demo(options: DemoOptions, report: Option<&Path>) -> Result<bool, Failure> {
    let started = Instant::now();
    let scenario = options.scenario();
    let simulator = Simulator::start(scenario.clone()).await.or_exit(Exit::Output)?;
    // The demo's config is written and read as any user's is; it keeps no state (every demo
    // starts from fresh data) and reads cost per environment.
    let folder = tempfile::tempdir().context("creating a folder for the demo's config").or_exit(Exit::Output)?;
    let path = write_config(&scenario, &simulator, folder.path(), "state-file = \"\"", true).or_exit(Exit::Output)?;
    // No DT_* variable of the user's may add to it: the demo talks to the simulator only.
    let config = Config::load(Some(&path), &std::collections::HashMap::new()).or_exit(Exit::Usage)?;
    println!("dtcost demo: a simulated Dynatrace on loopback");
    println!("  SSO          {}", simulator.sso_url);
    println!("  account API  {}", simulator.api_url);
    println!("  environment  {}", simulator.environment_url);
    for (cluster, url) in config.clusters.iter().zip(&simulator.cluster_urls) {
        println!("  cluster      {url} ({})", cluster.name);
    }
    println!(
        "  data         {} accounts booking against one DPS for Hybrid subscription, {} days, {} Managed clusters\n",
        options.accounts, options.days, options.clusters
    );

    let scrubber = crate::scrub::Scrubber::new(config.secrets()).or_exit(Exit::Usage)?;
    let runtime = Arc::new(Runtime::start(config.concurrency, scrubber).await.or_exit(Exit::Component)?);
    let run = run::export_all(&config, runtime, RunOptions { dry_run: false, summary_event: true })
        .await
        .or_exit(Exit::State)?;
    print!("{}", crate::render::run_summary(&run));

    let accepted = simulator.accepted_events();
    println!();
    print_cost(&accepted);
    print_licenses(&accepted);
    let built: u32 = run.outcomes.iter().filter_map(|o| o.result.as_ref().ok()).map(|r| r.events_built).sum();
    let requests = simulator.requests().len();
    println!(
        "\nevents: {built} built, {} accepted by the simulated ingest API; {requests} HTTP requests over {} connections; {:.2} s",
        accepted.len(),
        simulator.connection_count(),
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = report {
        std::fs::write(path, crate::report::render(&accepted, &run::now_rfc3339()))
            .with_context(|| format!("writing {}", path.display()))
            .or_exit(Exit::Output)?;
        println!("report written to {}", path.display());
    }
    let everything_accepted = run.succeeded() && accepted.len() == built as usize;
    if everything_accepted {
        println!("every generated event was accepted.");
    }
    Ok(everything_accepted)
}

/// Serves the simulator until Ctrl-C or SIGTERM, with a config for it in `out`.
/// How many accepted events (and logged requests) `dtcost simulate` keeps: a few runs of the
/// largest generated data, a few tens of MB.
const SIMULATE_RECORDED_EVENTS: usize = 100_000;

pub async fn simulate(options: DemoOptions, out: &Path) -> anyhow::Result<()> {
    // Listening from the start: a signal while the data is generated stops it too.
    let shutdown = Shutdown::listen()?;
    let mut scenario = options.scenario();
    // A long session keeps the newest events and requests only (it counts them all): memory
    // stays bounded however long it serves.
    scenario.max_recorded_events = Some(SIMULATE_RECORDED_EVENTS);
    let simulator = Simulator::start(scenario.clone()).await?;
    let config = write_config(&scenario, &simulator, out, "", true)?;
    println!("simulated Dynatrace on loopback; config written to {}", config.display());
    println!(
        "  SSO {}  account API {}  environment {}",
        simulator.sso_url, simulator.api_url, simulator.environment_url
    );
    if !(scenario.latency.is_zero() && scenario.connect_latency.is_zero()) {
        println!(
            "  every answer waits {} ms, the first on a new connection {} ms more",
            scenario.latency.as_millis(),
            scenario.connect_latency.as_millis()
        );
    }
    println!("  try: dtcost run --config {}", config.display());
    println!("stop with Ctrl-C");
    shutdown.wait().await;
    // A count, not a copy of every event the simulator holds: stopping stays prompt.
    let accepted = simulator.accepted_count();
    println!("simulator stopped; it accepted {accepted} events over {} connections", simulator.connection_count());
    Ok(())
}

/// Writes `out/dtcost.toml` for the simulator, with its secrets in files under `out/secrets/`
/// (never inline), each account naming the subscription it books against (and reading its cost
/// per environment when `environment_cost`); `extra` is added to the top-level settings.
pub fn write_config(
    scenario: &Scenario,
    simulator: &Simulator,
    out: &Path,
    extra: &str,
    environment_cost: bool,
) -> anyhow::Result<PathBuf> {
    let secrets = out.join("secrets");
    std::fs::create_dir_all(&secrets).with_context(|| format!("creating {}", secrets.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private", secrets.display()))?;
    }
    let write_secret = |name: &str, value: &str| -> anyhow::Result<String> {
        write_private(&secrets.join(name), value)?;
        Ok(format!("secrets/{name}"))
    };
    let mut toml = format!(
        "# Written by dtcost for a simulated Dynatrace on loopback. Its secrets are in secrets/.\n\
         token-url = \"{}\"\napi-url = \"{}\"\n{extra}\n\n[target]\nurl = \"{}\"\napi-token-file = \"{}\"\n",
        simulator.sso_url,
        simulator.api_url,
        simulator.environment_url,
        write_secret("ingest-api-token", &scenario.ingest.api_token)?
    );
    for (index, account) in scenario.accounts.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[accounts]]\nname = \"{}\"\nuuid = \"{}\"\nclient-id = \"{}\"\nclient-secret-file = \"{}\"\nsubscription = \"{}\"\nenvironment-cost = {environment_cost}\n",
            account.name,
            account.uuid,
            account.client_id,
            write_secret(&format!("account-{}-client-secret", index + 1), &account.client_secret)?,
            account.subscriptions[0],
        ));
    }
    for (index, (cluster, url)) in scenario.clusters.iter().zip(&simulator.cluster_urls).enumerate() {
        toml.push_str(&format!(
            "\n[[clusters]]\nname = \"{}\"\nurl = \"{url}\"\napi-token-file = \"{}\"\n",
            cluster.name,
            write_secret(&format!("cluster-{}-api-token", index + 1), &cluster.api_token)?
        ));
    }
    let config = out.join("dtcost.toml");
    write_private(&config, &toml)?;
    Ok(config)
}

/// Writes a file that only its owner may read (0600 on Unix, whatever was there before): a
/// temporary file, created so, renamed over it.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(folder).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    file.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Ctrl-C and SIGTERM, listened to from the moment it is made (not from the first wait).
pub struct Shutdown {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Shutdown {
    pub fn listen() -> std::io::Result<Shutdown> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Shutdown { terminate: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        Ok(Shutdown {})
    }

    /// Resolves on the first Ctrl-C or SIGTERM since [`Shutdown::listen`].
    pub async fn wait(mut self) {
        self.requested().await
    }

    /// Resolves on the next Ctrl-C or SIGTERM (one that came since [`Shutdown::listen`] or the
    /// last call, and was not yet waited for, included).
    pub async fn requested(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn of_type<'a>(events: &'a [Value], event_type: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    events.iter().filter(move |e| e["event.type"] == event_type)
}

fn print_cost(events: &[Value]) {
    let mut accounts: std::collections::BTreeMap<String, (usize, f64, String)> = Default::default();
    for event in of_type(events, "dps.cost2.booked") {
        let entry = accounts.entry(event["accountName"].as_str().unwrap_or("?").to_owned()).or_default();
        entry.0 += 1;
        entry.1 = entry.1.max(event["costToDate"].as_f64().unwrap_or(0.0));
        entry.2 = event["currency"].as_str().unwrap_or("").to_owned();
    }
    println!("{:<14} {:>5} {:>16}", "account", "days", "cost to date");
    let mut total = 0.0;
    for (name, (days, cost, currency)) in &accounts {
        println!("{name:<14} {days:>5} {cost:>12.2} {currency}");
        total += cost;
    }
    for status in of_type(events, "dps.subscription.status") {
        let budget = status["budget"].as_f64().unwrap_or(0.0);
        let currency = status["currency"].as_str().unwrap_or("");
        println!(
            "\nsubscription {:?}: {total:.2} of {budget:.2} {currency} booked to date ({:.1} % of budget), {} days remaining",
            status["name"].as_str().unwrap_or("?"),
            if budget > 0.0 { total * 100.0 / budget } else { 0.0 },
            status["daysRemaining"]
        );
    }
}

fn print_licenses(events: &[Value]) {
    let quotas: Vec<&Value> = of_type(events, "cluster.license.quota").collect();
    if quotas.is_empty() {
        return;
    }
    println!("\n{:<12} {:<11} {:>8} {:<22} overage", "cluster", "unit", "used", "status");
    for event in quotas {
        let overage = match (event["overageUsage"].as_f64(), event["overageQuota"].as_f64()) {
            (Some(used), Some(quota)) => format!("{used} of {quota}"),
            (Some(used), None) => format!("{used} (no limit set)"),
            _ => String::new(),
        };
        println!(
            "{:<12} {:<11} {:>7.1}% {:<22} {overage}",
            event["clusterName"].as_str().unwrap_or("?"),
            event["unit"].as_str().unwrap_or("?"),
            event["usagePercent"].as_f64().unwrap_or(0.0),
            event["usageStatus"].as_str().unwrap_or("")
        );
    }
}
