//! One export run: a plan and a sandbox per account and cluster, run concurrently (bounded), and
//! an outcome per job. One failing job never stops the others.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use crate::concurrency::{AdaptiveLimit, Signal};
use crate::config::Config;
use crate::delivery::{send_statuses, send_summary};
use crate::figures::figures;
pub use crate::job::{JobKind, JobOutcome};
use crate::plan;
use crate::progress::Progress;
use crate::runtime::Runtime;
use crate::state::{StateError, StateFile, lock};
use crate::status;
use crate::traffic::Traffic;
use crate::wit::{Report, RunFigures};

#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub dry_run: bool,
    /// End the run with a `dtcost.run.summary` event (built, and sent unless on a dry run).
    pub summary_event: bool,
}

/// A run: what became of each job, and the run's figures (those of its summary event).
#[derive(Debug)]
pub struct RunOutcome {
    /// In config order: accounts, clusters, then the summary event's job when there is one.
    pub outcomes: Vec<JobOutcome>,
    pub figures: RunFigures,
}

impl RunOutcome {
    pub fn succeeded(&self) -> bool {
        self.outcomes.iter().all(JobOutcome::succeeded)
    }

    /// Every event built, in ingest order (filled on a dry run).
    pub fn events(&self) -> impl Iterator<Item = &String> {
        self.outcomes.iter().filter_map(|o| o.result.as_ref().ok()).flat_map(|report| &report.events)
    }
}

/// Runs every account and cluster of `config`, then sends the run's summary event. The state
/// file (if any) is read first, and written after each account whose events were acknowledged
/// (never on a dry run).
pub async fn export_all(config: &Config, runtime: Arc<Runtime>, options: RunOptions) -> Result<RunOutcome, StateError> {
    let started = std::time::Instant::now();
    let state = match &config.state_file {
        Some(path) => Some(Arc::new(Mutex::new(StateFile::load(path)?))),
        None => None,
    };
    let read_at = now_rfc3339();
    // Accounts share the account API: their number at once adapts to its pace. Clusters are
    // each their own host: at most `concurrency` at once.
    let account_limit = AdaptiveLimit::new(config.concurrency);
    let permits = Arc::new(Semaphore::new(config.concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    let target = plan::ingest_target(config, options.dry_run);
    preconnect(config, &runtime, options.dry_run);
    for (index, account) in config.accounts.iter().enumerate() {
        let previous = state.as_ref().and_then(|s| lock(s).account(&account.uuid));
        let plan = plan::account_plan(config, account, &target, &read_at, previous);
        let sandbox = plan::account_sandbox(config, account);
        let (runtime, limit, subject) = (runtime.clone(), account_limit.clone(), format!("account {}", account.name));
        let kind = JobKind::Account;
        let (state, account_uuid) = (state.clone(), account.uuid.clone());
        tasks.spawn(async move {
            let permit = limit.acquire().await;
            let begun = std::time::Instant::now();
            let mut outcome = JobOutcome::of_export(subject, kind, runtime.export_account(plan, sandbox).await);
            // A failed export says nothing reliable about the API's pace.
            if let Ok(report) = &outcome.result {
                let per_request_ms = begun.elapsed().as_secs_f64() * 1000.0 / f64::from(report.requests.max(1));
                permit.done(Signal { throttled: report.throttled > 0, per_request_ms });
            }
            // Taken, not copied: nothing after the state file needs it, and a run of many
            // accounts held every account's until its end (100 accounts x 365 days with
            // environment cost, one at a time: peak RSS 35.6 MB with it kept, 34.0 MB without).
            let delivered = outcome.result.as_mut().ok().and_then(|report: &mut Report| report.state.take());
            if let (Some(state), Some(delivered)) = (state, delivered) {
                outcome.state_error = lock(&state).update(&account_uuid, delivered).err().map(|e| e.to_string());
            }
            (index, outcome)
        });
    }
    for (offset, cluster) in config.clusters.iter().enumerate() {
        let plan = plan::cluster_plan(config, cluster, &target, &read_at);
        let sandbox = plan::cluster_sandbox(config, cluster);
        let (runtime, permits, subject) = (runtime.clone(), permits.clone(), format!("cluster {}", cluster.name));
        let index = config.accounts.len() + offset;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let ran = runtime.export_cluster(plan, sandbox).await;
            (index, JobOutcome::of_export(subject, JobKind::Cluster, ran))
        });
    }
    let mut outcomes: Vec<(usize, JobOutcome)> = Vec::new();
    let progress = Progress::new(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcome) => {
                progress.done(&outcome.1);
                outcomes.push(outcome)
            }
            // A panic in our own task code; the job's subject is lost with it, so say so plainly.
            Err(error) => outcomes.push((
                usize::MAX,
                JobOutcome {
                    subject: "a job".into(),
                    kind: JobKind::Account,
                    result: Err(format!("internal error: {error}")),
                    state_error: None,
                    traffic: Traffic::default(),
                },
            )),
        }
    }
    progress.finish();
    outcomes.sort_by_key(|(index, _)| *index);
    let mut outcomes: Vec<JobOutcome> = outcomes.into_iter().map(|(_, outcome)| outcome).collect();
    let accounts = outcomes.iter().filter(|o| o.kind == JobKind::Account);
    let chosen = status::choose(accounts.filter_map(|o| o.result.as_ref().ok().map(|r| (o.subject.as_str(), r))));
    if !chosen.is_empty() {
        outcomes.push(send_statuses(config, &runtime, &target, chosen, state.as_deref()).await);
    }
    let mut figures = figures(&outcomes, started.elapsed(), options.dry_run);
    figures.concurrency_reached = if config.accounts.is_empty() { 0 } else { account_limit.reached() as u32 };
    if options.summary_event {
        outcomes.push(send_summary(config, &runtime, &target, &figures, &read_at).await);
    }
    runtime.forget_preconnected();
    Ok(RunOutcome { outcomes, figures })
}

/// Requests an account's export has in flight to the account API at most: details, daily cost
/// and forecast, sent together.
const ACCOUNT_API_REQUESTS_AT_ONCE: usize = 3;

/// Opens the connections the first jobs will need, all at once at the start: without it each job
/// pays a new connection's handshakes to the SSO, then the account API, then the environment,
/// one after the other on its critical path (BENCHMARKS.md, issue #14). Only the configured
/// origins, which are the sandboxes' own; each request still passes its instance's allowlist.
fn preconnect(config: &Config, runtime: &Runtime, dry_run: bool) {
    let accounts = config.accounts.len().min(crate::concurrency::INITIAL.min(config.concurrency));
    let clusters = config.clusters.len().min(config.concurrency);
    if accounts > 0 {
        runtime.preconnect(&config.token_url, accounts);
        runtime.preconnect(&config.api_url, accounts * ACCOUNT_API_REQUESTS_AT_ONCE);
    }
    for cluster in config.clusters.iter().take(clusters) {
        runtime.preconnect(&cluster.url, 1);
    }
    if !dry_run && accounts + clusters > 0 {
        runtime.preconnect(&config.target.url, accounts + clusters);
    }
}

/// Now, as RFC 3339 UTC with milliseconds (the `exportedAt` that orders versions of a day).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}
