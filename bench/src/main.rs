//! The benchmarks behind BENCHMARKS.md: see bench/README.md. Everything talks to loopback only.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use dtcost_guest::http::{Method, Request, Response, Transport, TransportError};
use dtcost_guest::wit::{
    AccountPlan, AnomalyPlan, BudgetAlerting, ClusterPlan, CostRecord, EventContext, FailureKind, IngestTarget,
    OauthClient, RetryPolicy, TargetAuth,
};
use dtcost_sim::{Generate, Scenario, Simulator};

const ACCOUNTS: usize = 100;
const DAYS: usize = 365;
const CLUSTERS: usize = 5;
const ROUNDS: usize = 3;
/// The native pipeline's account exports at once: as many as dtcost starts with.
const CONCURRENCY: usize = dtcost::concurrency::INITIAL;

/// The simulated wide-area network of the latency cases: every answer waits this long, the
/// first on a new connection this much more (TCP and TLS handshakes).
const LATENCY: Duration = Duration::from_millis(25);
const CONNECT_LATENCY: Duration = Duration::from_millis(50);

/// Which parts run: all by default; `scale` or `latency` alone; `--compare PATH` runs another
/// dtcost binary (e.g. 0.2.0) side by side with this one in the scale and latency cases.
struct Args {
    parts: Vec<String>,
    compare: Option<PathBuf>,
}

impl Args {
    fn parse() -> anyhow::Result<Args> {
        let mut args = Args { parts: Vec::new(), compare: None };
        let mut raw = std::env::args().skip(1);
        while let Some(arg) = raw.next() {
            match arg.as_str() {
                "--compare" => args.compare = Some(raw.next().context("--compare needs a path")?.into()),
                "scale" | "latency" | "transforms" | "start-up" => args.parts.push(arg),
                other => {
                    bail!("unknown argument {other:?} (parts: scale, latency, transforms, start-up; --compare PATH)")
                }
            }
        }
        Ok(args)
    }

    fn runs(&self, part: &str) -> bool {
        self.parts.is_empty() || self.parts.iter().any(|p| p == part)
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(benchmarks(args))
}

async fn benchmarks(args: Args) -> anyhow::Result<()> {
    let mut binaries = vec![("dtcost (this build)".to_owned(), sibling_binary("dtcost")?)];
    if let Some(other) = &args.compare {
        let version = std::process::Command::new(other).arg("--version").output()?;
        let name = String::from_utf8_lossy(&version.stdout).trim().to_owned();
        binaries.insert(0, (format!("{name} (--compare)"), other.clone()));
    }
    if args.runs("scale") {
        scale(&binaries).await?;
    }
    if args.runs("latency") {
        latency(&binaries).await?;
    }
    if args.runs("transforms") {
        transforms().await?;
    }
    if args.runs("start-up") {
        start_up()?;
    }
    Ok(())
}

/// The scale case on loopback: every variant A B C A B C A B C.
async fn scale(binaries: &[(String, PathBuf)]) -> anyhow::Result<()> {
    let scenario = Scenario::generate(&Generate {
        accounts: ACCOUNTS,
        days: DAYS,
        clusters: CLUSTERS,
        shared_subscription: false,
        last_day: dtcost_sim::yesterday(),
        seed: 1,
    });
    let sim = Simulator::start(scenario.clone()).await?;
    let dir = tempfile::tempdir()?;
    // No state file: every run sends every event, as a first run does.
    // The walk-through's job, the same for every variant: no cost per environment, no alerts.
    let extra = "state-file = \"\"\n[budget]\nthresholds = []\nforecast-exceeds-budget = false";
    let config = dtcost::demo::write_config(&scenario, &sim, dir.path(), extra, false)?;
    let expected_events = ACCOUNTS * (DAYS + 1) + CLUSTERS * 3;
    println!("scale case: {ACCOUNTS} accounts x {DAYS} days + {CLUSTERS} clusters = {expected_events} events\n");

    let mut rows: Vec<Row> = Vec::new();
    let variants: Vec<Variant> =
        (0..binaries.len()).map(Variant::Dtcost).chain([Variant::Native, Variant::Baseline]).collect();
    for round in 0..ROUNDS {
        for &variant in &variants {
            let before = (sim.requests().len(), sim.accepted_count(), sim.connection_count());
            let started = Instant::now();
            let peak_rss_kb = match variant {
                Variant::Dtcost(index) => Some(run_dtcost(&binaries[index].1, &config).await?),
                Variant::Native => {
                    let scenario = scenario.clone();
                    let urls = Urls::of(&sim);
                    tokio::task::spawn_blocking(move || native_pipeline(&scenario, &urls)).await??;
                    None
                }
                Variant::Baseline => {
                    let scenario = scenario.clone();
                    let urls = Urls::of(&sim);
                    tokio::task::spawn_blocking(move || baseline(&scenario, &urls)).await??;
                    None
                }
            };
            let wall = started.elapsed();
            let log = sim.requests();
            let requests = &log[before.0..];
            // dtcost also sends its run summary event.
            let dtcost_run = matches!(variant, Variant::Dtcost(_));
            let accepted = sim.accepted_count() - before.1 - usize::from(dtcost_run);
            if accepted != expected_events {
                bail!("{variant:?} (round {round}): {accepted} events accepted, {expected_events} expected");
            }
            let posts = requests.iter().filter(|r| r.service == dtcost_sim::Service::Environment).count();
            let connections = sim.connection_count() - before.2;
            rows.push(Row {
                variant,
                round,
                wall,
                requests: requests.len(),
                ingest_posts: posts,
                connections,
                peak_rss_kb,
            });
        }
    }
    print_scale_table(&rows, binaries);
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    /// The binary of that index.
    Dtcost(usize),
    Native,
    Baseline,
}

impl Variant {
    fn name(self, binaries: &[(String, PathBuf)]) -> String {
        match self {
            Variant::Dtcost(index) => binaries[index].0.clone(),
            Variant::Native => "native".into(),
            Variant::Baseline => "baseline".into(),
        }
    }
}

struct Row {
    variant: Variant,
    round: usize,
    wall: Duration,
    requests: usize,
    ingest_posts: usize,
    connections: usize,
    peak_rss_kb: Option<i64>,
}

fn print_scale_table(rows: &[Row], binaries: &[(String, PathBuf)]) {
    println!("| run | round | wall (s) | HTTP requests | connections | ingest POSTs | peak RSS (MB) |");
    println!("|---|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {:.3} | {} | {} | {} | {} |",
            row.variant.name(binaries),
            row.round + 1,
            row.wall.as_secs_f64(),
            row.requests,
            row.connections,
            row.ingest_posts,
            row.peak_rss_kb.map_or("-".to_owned(), |kb| format!("{:.1}", kb as f64 / 1024.0))
        );
    }
    let best = |variant: Variant| {
        rows.iter().filter(|r| r.variant == variant).map(|r| r.wall.as_secs_f64()).fold(f64::INFINITY, f64::min)
    };
    let (native, baseline) = (best(Variant::Native), best(Variant::Baseline));
    println!("\nbest of {ROUNDS}: native {native:.3} s, baseline {baseline:.3} s");
    for (index, (name, _)) in binaries.iter().enumerate() {
        let dtcost = best(Variant::Dtcost(index));
        println!(
            "{name}: {dtcost:.3} s; baseline / it = {:.1}x (target >= 50x); it / native = {:.2}x (target <= 1.5x)",
            baseline / dtcost,
            dtcost / native
        );
    }
    if binaries.len() > 1 {
        let (old, new) = (best(Variant::Dtcost(0)), best(Variant::Dtcost(binaries.len() - 1)));
        println!("this build / {} = {:.2}x (target: no slower)", binaries[0].0, new / old);
    }
    println!();
}

/// Round trips an account's export makes one after the other: token, subscription list, the
/// details, daily cost and forecast sent together, ingest POST (bench's config: no cost per
/// environment, one POST per account).
const ACCOUNT_ROUND_TRIPS: usize = 4;
/// A cluster's: license, ingest POST.
const CLUSTER_ROUND_TRIPS: usize = 2;
/// After the jobs: the subscriptions' status events, then the run summary.
const TAIL_ROUND_TRIPS: usize = 2;
/// Requests an account's export sends to the account API, the busiest origin: the subscription
/// list, then the details, daily cost and forecast.
const ACCOUNT_API_REQUESTS: usize = 4;
/// An account's round trips before its first account API request (token) and after its last (ingest).
const AROUND_ACCOUNT_API_ROUND_TRIPS: usize = 2;
/// New connections on the critical path: one handshake, the origins' all at once at the start (a
/// client can open them before it needs them, as dtcost does: host/src/run.rs `preconnect`).
const CRITICAL_PATH_CONNECTS: usize = 1;

/// The least time any client doing dtcost's requests can take at `concurrency`: the critical
/// path's round trips (the accounts' in as many waves as the concurrency allows, the clusters'
/// likewise, or the account API's requests `concurrency` at a time, whichever is most; then the
/// tail) times the latency, plus one new connection's handshakes (every origin's at once).
fn floor(accounts: usize, clusters: usize, concurrency: usize) -> (usize, Duration) {
    // Accounts and clusters have slots of their own (host/src/run.rs): they run beside each other.
    let account_waves = accounts.div_ceil(concurrency) * ACCOUNT_ROUND_TRIPS;
    let cluster_waves = clusters.div_ceil(concurrency) * CLUSTER_ROUND_TRIPS;
    // At most `concurrency` connections per origin (host/src/outbound.rs): the account API
    // answers at most that many requests at once.
    let account_api = (accounts * ACCOUNT_API_REQUESTS).div_ceil(concurrency) + AROUND_ACCOUNT_API_ROUND_TRIPS;
    let round_trips = account_waves.max(cluster_waves).max(account_api) + TAIL_ROUND_TRIPS;
    (round_trips, LATENCY * round_trips as u32 + CONNECT_LATENCY * CRITICAL_PATH_CONNECTS as u32)
}

/// The latency cases: the simulator waits [`LATENCY`] per answer and [`CONNECT_LATENCY`] more per
/// new connection; dtcost at its default concurrency and at 16, against the one-request-per-event
/// baseline (12 x 180 only: at 100 x 365 it would take 36,920 x 25 ms = 15 min) and the floor.
async fn latency(binaries: &[(String, PathBuf)]) -> anyhow::Result<()> {
    for (accounts, days, clusters, with_baseline) in [(12, 180, 2, true), (100, 365, 5, false)] {
        latency_case(binaries, accounts, days, clusters, with_baseline).await?;
    }
    Ok(())
}

async fn latency_case(
    binaries: &[(String, PathBuf)],
    accounts: usize,
    days: usize,
    clusters: usize,
    with_baseline: bool,
) -> anyhow::Result<()> {
    let mut scenario = Scenario::generate(&Generate {
        accounts,
        days,
        clusters,
        shared_subscription: false,
        last_day: dtcost_sim::yesterday(),
        seed: 1,
    });
    scenario.latency = LATENCY;
    scenario.connect_latency = CONNECT_LATENCY;
    let sim = Simulator::start(scenario.clone()).await?;
    let origins = 3 + clusters;
    let expected_events = accounts * (days + 1) + clusters * 3;
    println!(
        "latency case: {accounts} accounts x {days} days + {clusters} clusters = {expected_events} events; \
         {} ms per answer, {} ms more per new connection; {origins} origins\n",
        LATENCY.as_millis(),
        CONNECT_LATENCY.as_millis()
    );
    println!(
        "| run | concurrency | wall (s) | HTTP requests | connections | floor (s) | wall / floor | baseline / run |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let baseline_wall = if with_baseline {
        let before = (sim.request_count(), sim.connection_count(), sim.accepted_count());
        let started = Instant::now();
        let urls = Urls::of(&sim);
        let data = scenario.clone();
        tokio::task::spawn_blocking(move || baseline(&data, &urls)).await??;
        let wall = started.elapsed();
        let accepted = sim.accepted_count() - before.2;
        if accepted != expected_events {
            bail!("baseline: {accepted} events accepted, {expected_events} expected");
        }
        println!(
            "| baseline (one request per event, awaited) | 1 | {:.3} | {} | {} | - | - | 1.0x |",
            wall.as_secs_f64(),
            sim.request_count() - before.0,
            sim.connection_count() - before.1
        );
        Some(wall)
    } else {
        None
    };
    let dir = tempfile::tempdir()?;
    // The default (no `concurrency` key: 0.2.0 ran 4 at once, this build adapts from 16 up to
    // 32), then both at 4 and at 16.
    for configured in [None, Some(4), Some(16)] {
        let concurrency = configured.unwrap_or(dtcost::config::DEFAULT_CONCURRENCY);
        let key = configured.map_or(String::new(), |c| format!("concurrency = {c}\n"));
        let extra = format!("state-file = \"\"\n{key}[budget]\nthresholds = []\nforecast-exceeds-budget = false");
        let config = dtcost::demo::write_config(&scenario, &sim, dir.path(), &extra, false)?;
        let (round_trips, floor) = floor(accounts, clusters, concurrency);
        let shown = configured.map_or("default".to_owned(), |c| c.to_string());
        for (name, binary) in binaries {
            // Best of 2 (the second run finds the compiled component in wasmtime's cache either way).
            let mut best: Option<(Duration, usize, usize)> = None;
            for _ in 0..2 {
                let before = (sim.request_count(), sim.connection_count(), sim.accepted_count());
                let started = Instant::now();
                run_dtcost(binary, &config).await?;
                let wall = started.elapsed();
                let accepted = sim.accepted_count() - before.2 - 1;
                if accepted != expected_events {
                    bail!("{name}: {accepted} events accepted, {expected_events} expected");
                }
                let run = (wall, sim.request_count() - before.0, sim.connection_count() - before.1);
                if best.is_none_or(|b| run.0 < b.0) {
                    best = Some(run);
                }
            }
            let (wall, requests, connections) = best.context("two runs")?;
            println!(
                "| {name} | {shown} | {:.3} | {requests} | {connections} (at most {}) | {:.3} ({round_trips} round trips + {CRITICAL_PATH_CONNECTS} connect) | {:.2}x | {} |",
                wall.as_secs_f64(),
                origins * concurrency,
                floor.as_secs_f64(),
                wall.as_secs_f64() / floor.as_secs_f64(),
                baseline_wall.map_or("-".to_owned(), |b| format!("{:.0}x", b.as_secs_f64() / wall.as_secs_f64()))
            );
        }
    }
    println!();
    Ok(())
}

/// Runs the release `dtcost` and returns its peak RSS in kB. GNU time measures it: a child forked
/// from this (large) process would count our pages as its own until it execs.
async fn run_dtcost(binary: &Path, config: &Path) -> anyhow::Result<i64> {
    let measurement = tempfile::NamedTempFile::new()?;
    let status = tokio::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(measurement.path())
        .arg(binary)
        .args(["run", "-q", "--config"])
        .arg(config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .context("running dtcost under /usr/bin/time (Debian package `time`)")?;
    if !status.success() {
        bail!("dtcost run failed: {status}");
    }
    let text = std::fs::read_to_string(measurement.path())?;
    text.trim().parse().with_context(|| format!("GNU time printed {text:?}"))
}

fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name(name);
    if !path.exists() {
        bail!("{} not found: build it first (cargo build --release -p dtcost -p dtcost-bench)", path.display());
    }
    Ok(path)
}

#[derive(Clone)]
struct Urls {
    sso: String,
    api: String,
    environment: String,
    clusters: Vec<String>,
}

impl Urls {
    fn of(sim: &Simulator) -> Urls {
        Urls {
            sso: sim.sso_url.clone(),
            api: sim.api_url.clone(),
            environment: sim.environment_url.clone(),
            clusters: sim.cluster_urls.clone(),
        }
    }
}

/// One account's or cluster's export, run by one of the native workers.
type NativeJob = Box<dyn FnOnce(&mut NativeHttp) -> anyhow::Result<()> + Send>;

/// The guest's pipeline compiled for the host: the same `job` code, HTTP through ureq.
fn native_pipeline(scenario: &Scenario, urls: &Urls) -> anyhow::Result<()> {
    let read_at = dtcost::run::now_rfc3339();
    let target = IngestTarget {
        environment_url: urls.environment.clone(),
        auth: TargetAuth::ApiToken,
        provider: "dps4ma.ingester".into(),
        max_batch_bytes: None,
        dry_run: false,
    };
    let mut jobs: Vec<NativeJob> = Vec::new();
    // The subscriptions' status events, sent together at the end as dtcost's host does.
    let statuses: Arc<Mutex<Vec<String>>> = Arc::default();
    for account in &scenario.accounts {
        let plan = AccountPlan {
            name: account.name.clone(),
            uuid: account.uuid.clone(),
            client: OauthClient {
                client_id: account.client_id.clone(),
                token_url: urls.sso.clone(),
                account_uuid: Some(account.uuid.clone()),
            },
            api_url: urls.api.clone(),
            subscription: Some(account.subscriptions[0].clone()),
            read_at: read_at.clone(),
            target: target.clone(),
            retry: RetryPolicy::default(),
            state: None,
            window_days: None,
            environment_cost: None,
            usage: None,
            budget_alerting: BudgetAlerting { thresholds: Some(Vec::new()), forecast_exceeds_budget: Some(false) },
            anomalies: AnomalyPlan::default(),
        };
        let secrets = HashMap::from([
            ("account-client-secret".to_owned(), account.client_secret.clone()),
            ("target-api-token".to_owned(), scenario.ingest.api_token.clone()),
        ]);
        let statuses = statuses.clone();
        jobs.push(Box::new(move |http| {
            let report = dtcost_guest::job::export_account(&plan, http, &secrets)?;
            if !report.failures.is_empty() {
                bail!("native: {:?}", report.failures);
            }
            if let Some(outlook) = report.subscription_outlook {
                statuses.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(outlook.status_event);
            }
            Ok(())
        }));
    }
    for (cluster, url) in scenario.clusters.iter().zip(&urls.clusters) {
        let plan = ClusterPlan {
            name: cluster.name.clone(),
            url: url.clone(),
            read_at: read_at.clone(),
            target: target.clone(),
            retry: RetryPolicy::default(),
        };
        let secrets = HashMap::from([
            ("cluster-api-token".to_owned(), cluster.api_token.clone()),
            ("target-api-token".to_owned(), scenario.ingest.api_token.clone()),
        ]);
        jobs.push(Box::new(move |http| {
            dtcost_guest::job::export_cluster(&plan, http, &secrets)?;
            Ok(())
        }));
    }
    let queue = Arc::new(Mutex::new(jobs));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let queue = queue.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let mut http = NativeHttp::new();
                loop {
                    let job = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                    match job {
                        Some(job) => job(&mut http)?,
                        None => return Ok(()),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| anyhow::anyhow!("a worker panicked"))??;
    }
    let statuses = std::mem::take(&mut *statuses.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    let secrets = HashMap::from([("target-api-token".to_owned(), scenario.ingest.api_token.clone())]);
    let report =
        dtcost_guest::job::send_events(&target, RetryPolicy::default(), &statuses, &mut NativeHttp::new(), &secrets);
    if !report.failures.is_empty() {
        bail!("native statuses: {:?}", report.failures);
    }
    Ok(())
}

/// The walk-through's flow done right: per account a token, the subscription, the cost, then
/// one POST per event, each awaited, one after the other.
fn baseline(scenario: &Scenario, urls: &Urls) -> anyhow::Result<()> {
    let mut http = NativeHttp::new();
    let ingest = format!("{}/api/v2/bizevents/ingest", urls.environment);
    let ingest_auth = format!("Api-Token {}", scenario.ingest.api_token);
    let read_at = dtcost::run::now_rfc3339();
    let post = |http: &mut NativeHttp, event: &str| -> anyhow::Result<()> {
        let request = Request::post(ingest.clone(), "application/json", format!("[{event}]").into_bytes())
            .header("authorization", ingest_auth.clone());
        let response = http.send(&request).map_err(|e| anyhow::anyhow!(e.message))?;
        if response.status != 202 {
            bail!("baseline ingest: HTTP {}", response.status);
        }
        Ok(())
    };
    for account in &scenario.accounts {
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=account-uac-read&resource=urn%3Adtaccount%3A{}",
            account.client_id, account.client_secret, account.uuid
        );
        let token = http
            .send(&Request::post(urls.sso.clone(), "application/x-www-form-urlencoded", form.into_bytes()))
            .map_err(|e| anyhow::anyhow!(e.message))?;
        let token = dtcost_guest::parse::token_grant(&dtcost_guest::parse::json(&token.body)?)?.access_token;
        let get = |http: &mut NativeHttp, path: String| -> anyhow::Result<Vec<u8>> {
            let request =
                Request::get(format!("{}{path}", urls.api)).header("authorization", format!("Bearer {token}"));
            Ok(http.send(&request).map_err(|e| anyhow::anyhow!(e.message))?.body)
        };
        let base = format!("/sub/v2/accounts/{}/subscriptions", account.uuid);
        let subscription_uuid = account.subscriptions[0].clone();
        let details = get(&mut http, format!("{base}/{subscription_uuid}"))?;
        let details = dtcost_guest::parse::subscription(&dtcost_guest::parse::json(&details)?)?;
        let costs = get(&mut http, format!("{base}/{subscription_uuid}/cost"))?;
        let costs = dtcost_guest::parse::cost_list(&dtcost_guest::parse::json(&costs)?, "USD")?;
        let context = EventContext {
            provider: "dps4ma.ingester".into(),
            account_uuid: account.uuid.clone(),
            account_name: account.name.clone(),
        };
        let outlook = dtcost_guest::budget::outlook(&details, &costs)?;
        post(&mut http, &dtcost_guest::budget::subscription_status(&context, &details, &outlook, None, &read_at)?)?;
        for event in dtcost_guest::events::cost_booked(&context, &subscription_uuid, &costs)? {
            post(&mut http, &event)?;
        }
    }
    for (cluster, url) in scenario.clusters.iter().zip(&urls.clusters) {
        let request = Request::get(format!("{url}/api/cluster/v2/clusterLicense"))
            .header("authorization", format!("Api-Token {}", cluster.api_token));
        let body = http.send(&request).map_err(|e| anyhow::anyhow!(e.message))?.body;
        let license = dtcost_guest::parse::cluster_license(&dtcost_guest::parse::json(&body)?)?;
        for event in dtcost_guest::events::cluster_quota("dps4ma.ingester", &cluster.name, &license, &read_at)? {
            post(&mut http, &event)?;
        }
    }
    Ok(())
}

/// A blocking HTTP/1.1 client with keep-alive (ureq), as the guest's transport.
struct NativeHttp {
    agent: ureq::Agent,
    started: Instant,
}

impl NativeHttp {
    fn new() -> Self {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        NativeHttp { agent, started: Instant::now() }
    }
}

impl Transport for NativeHttp {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        let failed = |e: ureq::Error| TransportError { kind: FailureKind::Connection, message: e.to_string() };
        let mut response = match request.method {
            Method::Get => {
                let mut builder = self.agent.get(&request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(*name, value.as_str());
                }
                builder.call().map_err(failed)?
            }
            Method::Post => {
                let mut builder = self.agent.post(&request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(*name, value.as_str());
                }
                builder.send(&request.body[..]).map_err(failed)?
            }
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let body = response.body_mut().read_to_vec().map_err(failed)?;
        Ok(Response { status, headers, body })
    }

    fn monotonic_millis(&mut self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn wall_millis(&mut self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }

    fn sleep_millis(&mut self, millis: u64) {
        std::thread::sleep(Duration::from_millis(millis));
    }
}

/// `cost-booked` over 100 x 365 records, natively and in the component (best of 5 each).
async fn transforms() -> anyhow::Result<()> {
    let records: Vec<CostRecord> = (0..ACCOUNTS * DAYS)
        .map(|i| {
            let day = dtcost_guest::time::format_rfc3339(1_735_689_600_000 + (i as i64 * 7919 % 36_500) * 86_400_000);
            CostRecord {
                start_time: day.clone(),
                end_time: day.clone(),
                value: 100.0 + (i % 997) as f64 * 0.37,
                currency_code: "USD".into(),
                last_booking_date: Some(day[..10].to_owned()),
            }
        })
        .collect();
    let context =
        EventContext { provider: "dps4ma.ingester".into(), account_uuid: "a".into(), account_name: "A".into() };
    let mut native = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        let events = dtcost_guest::events::cost_booked_ndjson(&context, "s", &records)?;
        native = native.min(started.elapsed().as_secs_f64());
        assert_eq!(events.lines().count(), records.len());
    }
    let runtime = dtcost::runtime::Runtime::new()?;
    let wit_records: Vec<dtcost::wit::CostRecord> = records
        .iter()
        .map(|r| dtcost::wit::CostRecord {
            start_time: r.start_time.clone(),
            end_time: r.end_time.clone(),
            value: r.value,
            currency_code: r.currency_code.clone(),
            last_booking_date: r.last_booking_date.clone(),
        })
        .collect();
    let wit_context = dtcost::wit::EventContext {
        provider: context.provider.clone(),
        account_uuid: context.account_uuid.clone(),
        account_name: context.account_name.clone(),
    };
    let mut component = f64::INFINITY;
    // The caller's records, built before the clock starts (the transform takes them by value).
    let mut inputs: Vec<_> = (0..5).map(|_| wit_records.clone()).collect();
    while let Some(input) = inputs.pop() {
        let started = Instant::now();
        let events = runtime
            .cost_booked(wit_context.clone(), "s".into(), input)
            .await?
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
        component = component.min(started.elapsed().as_secs_f64());
        assert_eq!(events.lines().count(), records.len());
    }
    // The fixed cost of a call: a fresh instance, one record in, one event out.
    let mut overhead = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        runtime.cost_booked(wit_context.clone(), "s".into(), wit_records[..1].to_vec()).await?.ok();
        overhead = overhead.min(started.elapsed().as_secs_f64());
    }
    let n = records.len() as f64;
    println!("| transform (cost-booked, {} records) | best of 5 (ms) | records/s |", records.len());
    println!("|---|---|---|");
    println!("| native | {:.1} | {:.0} |", native * 1e3, n / native);
    println!(
        "| in the component (instantiation and copying in/out included) | {:.1} | {:.0} |",
        component * 1e3,
        n / component
    );
    println!("| in the component, one record (instance + call overhead) | {:.2} | - |", overhead * 1e3);
    println!("component / native = {:.2}x (target <= 1.5x; target >= 1,000,000 records/s)\n", component / native);
    Ok(())
}

/// Component size; warm start = engine + component from wasmtime's cache + linking.
fn start_up() -> anyhow::Result<()> {
    println!("component: {} bytes (target <= 1 MB)", dtcost::runtime::COMPONENT.len());
    drop(dtcost::runtime::Runtime::new().context("warming the cache")?);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        let runtime = dtcost::runtime::Runtime::new()?;
        best = best.min(started.elapsed().as_secs_f64());
        drop(runtime);
    }
    println!("warm start (engine + cached component + linker), best of 5: {:.1} ms (target <= 10 ms)", best * 1e3);
    Ok(())
}
