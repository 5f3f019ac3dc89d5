//! One export run: a plan and a sandbox per account and cluster, run concurrently (bounded), and
//! an outcome per job. One failing job never stops the others.

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use dtcost_guest::secrets as config_keys;

use crate::concurrency::{AdaptiveLimit, Signal};
use crate::config::{AccountConfig, ClusterConfig, Config, Origin, TargetAuth as ConfigTargetAuth};
use crate::runtime::{
    AccountPlan, AccountState, BudgetAlert, ClusterPlan, ExportError, FailureKind, IngestTarget, OauthClient, Ran,
    Report, RunFigures, Runtime, Sandbox, SubscriptionOutlook, TargetAuth, Traffic,
};
use crate::secret::Secret;
use crate::state::{StateError, StateFile};
use crate::status;

/// What a job exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Account,
    Cluster,
    /// The subscriptions' status events and budget alerts, one sender per subscription.
    Status,
    /// The run's `dtcost.run.summary` event.
    Summary,
}

/// What became of one account or cluster (or the run summary event).
#[derive(Debug)]
pub struct JobOutcome {
    /// `account <name>`, `cluster <name>` or `run summary`.
    pub subject: String,
    pub kind: JobKind,
    pub result: Result<Report, String>,
    /// The delivery state could not be written (the next run sends these days again).
    pub state_error: Option<String>,
    /// What its instance sent, as the host saw it: the figures of a job without a report.
    pub traffic: Traffic,
}

impl JobOutcome {
    /// A job succeeded when it ran and every event it built was accepted (or, on a dry run, built).
    pub fn succeeded(&self) -> bool {
        self.state_error.is_none()
            && matches!(&self.result, Ok(report) if report.failures.is_empty() && report.rejected.is_empty())
    }
}

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
    let target = ingest_target(config, options);
    for (index, account) in config.accounts.iter().enumerate() {
        let previous = state.as_ref().and_then(|s| lock(s).account(&account.uuid).cloned());
        let plan = account_plan(config, account, &target, &read_at, previous);
        let sandbox = account_sandbox(config, account);
        let (runtime, limit, subject) = (runtime.clone(), account_limit.clone(), format!("account {}", account.name));
        let kind = JobKind::Account;
        let (state, account_uuid) = (state.clone(), account.uuid.clone());
        tasks.spawn(async move {
            let permit = limit.acquire().await;
            let begun = std::time::Instant::now();
            let (result, traffic) = flatten(runtime.export_account_counted(plan, sandbox).await);
            // A failed export says nothing reliable about the API's pace.
            if let Ok(report) = &result {
                let per_request_ms = begun.elapsed().as_secs_f64() * 1000.0 / f64::from(report.requests.max(1));
                permit.done(Signal { throttled: report.throttled > 0, per_request_ms });
            }
            let delivered = result.as_ref().ok().and_then(|report| report.state.clone());
            let state_error = match (state, delivered) {
                (Some(state), Some(delivered)) => {
                    lock(&state).update(&account_uuid, delivered).err().map(|e| e.to_string())
                }
                _ => None,
            };
            (index, JobOutcome { subject, kind, result, state_error, traffic })
        });
    }
    for (offset, cluster) in config.clusters.iter().enumerate() {
        let plan = ClusterPlan {
            name: cluster.name.clone(),
            url: cluster.url.clone(),
            read_at: read_at.clone(),
            target: target.clone(),
            retry: config.retry,
        };
        let sandbox = cluster_sandbox(config, cluster);
        let (runtime, permits, subject) = (runtime.clone(), permits.clone(), format!("cluster {}", cluster.name));
        let index = config.accounts.len() + offset;
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let (result, traffic) = flatten(runtime.export_cluster_counted(plan, sandbox).await);
            (index, JobOutcome { subject, kind: JobKind::Cluster, result, state_error: None, traffic })
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
    Ok(RunOutcome { outcomes, figures })
}

/// The run's figures, from its jobs' reports.
fn figures(outcomes: &[JobOutcome], duration: std::time::Duration, dry_run: bool) -> RunFigures {
    let mut figures = RunFigures {
        accounts_ok: 0,
        accounts_failed: 0,
        clusters_ok: 0,
        clusters_failed: 0,
        records_read: 0,
        events_built: 0,
        events_sent: 0,
        events_accepted: 0,
        events_rejected: 0,
        events_skipped: 0,
        requests: 0,
        retries: 0,
        throttled: 0,
        unattributed_days: 0,
        budget_alerts: 0,
        concurrency_reached: 0,
        duration_ms: duration.as_millis() as u64,
        newest_cost_day: None,
        dry_run,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let mut newest: Option<(i64, &str)> = None;
    for outcome in outcomes {
        let ok = outcome.succeeded();
        match outcome.kind {
            JobKind::Account if ok => figures.accounts_ok += 1,
            JobKind::Account => figures.accounts_failed += 1,
            JobKind::Cluster if ok => figures.clusters_ok += 1,
            JobKind::Cluster => figures.clusters_failed += 1,
            JobKind::Status => {}
            JobKind::Summary => continue,
        }
        let Ok(report) = &outcome.result else {
            // A failed job's report is lost, not its requests: the host counted them.
            figures.requests += outcome.traffic.requests;
            figures.retries += outcome.traffic.retries;
            figures.throttled += outcome.traffic.throttled;
            continue;
        };
        figures.records_read += report.records_read;
        figures.events_built += report.events_built;
        figures.events_sent += report.events_sent;
        figures.events_accepted += report.events_accepted;
        figures.events_rejected += report.rejected.len() as u32;
        figures.events_skipped += report.events_skipped;
        figures.requests += report.requests;
        figures.retries += report.retries;
        figures.throttled += report.throttled;
        figures.unattributed_days += report.reconciliation.as_ref().map_or(0, |r| r.days_unattributed);
        figures.budget_alerts += report.alerts.len() as u32;
        if let Some(day) = report.newest_day.as_deref()
            && let Some(instant) = dtcost_guest::time::parse_instant_millis(day)
            && newest.is_none_or(|(seen, _)| instant > seen)
        {
            newest = Some((instant, day));
        }
    }
    // Normalised: the API writes days with or without milliseconds.
    figures.newest_cost_day = newest.map(|(instant, _)| dtcost_guest::time::format_rfc3339(instant));
    figures
}

/// Sends each chosen subscription's status event and the budget alerts that have not fired in
/// its period, in a sandbox that reaches only the target, and remembers the alerts accepted.
async fn send_statuses(
    config: &Config,
    runtime: &Runtime,
    target: &IngestTarget,
    chosen: Vec<status::Chosen>,
    state: Option<&Mutex<StateFile>>,
) -> JobOutcome {
    let mut events = Vec::new();
    // The alerts to send, each with the subscription it belongs to.
    let mut alerts: Vec<(&SubscriptionOutlook, &BudgetAlert)> = Vec::new();
    for outlook in chosen.iter().map(|c| &c.outlook) {
        events.push(outlook.status_event.clone());
        let fired: Vec<String> = state
            .map(|s| lock(s).fired(&outlook.subscription_uuid, &outlook.period_start).to_vec())
            .unwrap_or_default();
        for alert in outlook.alerts.iter().filter(|alert| !fired.contains(&alert.key)) {
            events.push(alert.event.clone());
            alerts.push((outlook, alert));
        }
    }
    let sent = runtime.send_events(target.clone(), config.retry, events, target_sandbox(config)).await;
    let mut outcome = JobOutcome {
        subject: "subscription status".into(),
        kind: JobKind::Status,
        result: sent.map_err(|e| e.to_string()),
        state_error: None,
        traffic: Traffic::default(),
    };
    let Ok(report) = &mut outcome.result else { return outcome };
    report.notes.splice(0..0, chosen.iter().map(status::Chosen::note));
    report.alerts = alerts.iter().map(|(_, alert)| alert.message.clone()).collect();
    let Some(state) = state.filter(|_| !target.dry_run) else { return outcome };
    // Refused events are named by id; a failed request leaves every event of it unconfirmed.
    let refused: Vec<&str> = report.rejected.iter().map(|r| r.event_id.as_str()).collect();
    let accepted =
        |alert: &BudgetAlert| report.failures.is_empty() && !refused.contains(&event_id(&alert.event).as_str());
    for outlook in chosen.iter().map(|c| &c.outlook) {
        let keys: Vec<String> = alerts
            .iter()
            .filter(|(of, alert)| of.subscription_uuid == outlook.subscription_uuid && accepted(alert))
            .map(|(_, alert)| alert.key.clone())
            .collect();
        if keys.is_empty() {
            continue;
        }
        if let Err(error) = lock(state).record_fired(&outlook.subscription_uuid, &outlook.period_start, keys) {
            outcome.state_error = Some(error.to_string());
        }
    }
    outcome
}

/// The `event.id` of an event the component built.
fn event_id(event: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(event).ok();
    parsed.and_then(|event| event.get("event.id")?.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The sandbox of a job that only ingests: the target's origins and secret.
fn target_sandbox(config: &Config) -> Sandbox {
    let (allowed, secrets) = target_access(config);
    Sandbox { allowed, config: secrets, memory_bytes: config.limits.memory_bytes, timeout: config.limits.timeout }
}

/// Builds the `dtcost.run.summary` event and sends it in a sandbox that reaches only the target.
async fn send_summary(
    config: &Config,
    runtime: &Runtime,
    target: &IngestTarget,
    figures: &RunFigures,
    read_at: &str,
) -> JobOutcome {
    let outcome = |result| JobOutcome {
        subject: "run summary".into(),
        kind: JobKind::Summary,
        result,
        state_error: None,
        traffic: Traffic::default(),
    };
    let event = match runtime.run_summary(config.provider.clone(), figures.clone(), read_at.to_owned()).await {
        Ok(Ok(event)) => event,
        Ok(Err(invalid)) => {
            return outcome(Err(format!("the summary event was not built: {}: {}", invalid.field, invalid.message)));
        }
        Err(error) => return outcome(Err(error.to_string())),
    };
    let sandbox = target_sandbox(config);
    outcome(runtime.send_events(target.clone(), config.retry, vec![event], sandbox).await.map_err(|e| e.to_string()))
}

/// Progress of a run: a bar when stderr is a terminal, log lines (`-v`) otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    done: std::cell::Cell<usize>,
}

impl Progress {
    fn new(total: usize) -> Progress {
        use std::io::IsTerminal as _;
        let bar = (std::io::stderr().is_terminal() && total > 1).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} exports {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress { bar, total, done: std::cell::Cell::new(0) }
    }

    fn done(&self, outcome: &JobOutcome) {
        self.done.set(self.done.get() + 1);
        match &self.bar {
            Some(bar) => {
                bar.set_message(outcome.subject.clone());
                bar.inc(1);
            }
            None => tracing::info!(
                "{} {} ({}/{})",
                outcome.subject,
                if outcome.succeeded() { "done" } else { "failed" },
                self.done.get(),
                self.total
            ),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The state file's lock; a panic while it was held leaves nothing half-written (writes are
/// atomic), so a poisoned lock is still usable.
fn lock(state: &Mutex<StateFile>) -> std::sync::MutexGuard<'_, StateFile> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn flatten(ran: Ran<Result<Report, ExportError>>) -> (Result<Report, String>, Traffic) {
    let result = match ran.result {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(error)) => Err(describe_export_error(&error)),
        Err(error) => Err(error.to_string()),
    };
    (result, ran.traffic)
}

pub fn describe_export_error(error: &ExportError) -> String {
    let message = describe(error);
    match hint(error) {
        Some(hint) => format!("{message}\n       hint: {hint}"),
        None => message,
    }
}

fn describe(error: &ExportError) -> String {
    match error {
        ExportError::MissingConfig(message) => format!("configuration: {message}"),
        ExportError::Authentication(failure) => {
            format!("authentication failed: {} answered HTTP {}: {}", failure.request, failure.status, failure.message)
        }
        ExportError::NoSubscription(message) => message.clone(),
        ExportError::Request(failure) => match failure.status {
            Some(status) => format!("{} answered HTTP {status}: {}", failure.request, failure.message),
            None => format!("{} failed: {}", failure.request, failure.message),
        },
        ExportError::InvalidResponse(message) => format!("invalid response: {message}"),
    }
}

/// What the user can do about an error. It follows the kind of the failure (the OAuth error
/// code, the request's failure kind and which API it was), never the wording of a message.
fn hint(error: &ExportError) -> Option<&'static str> {
    match error {
        ExportError::Authentication(failure) => match failure.oauth_error.as_deref() {
            Some("invalid_client" | "unauthorized_client") => {
                Some("check the client-id and the secret that client-secret-env or client-secret-file names")
            }
            Some("invalid_request" | "invalid_scope") => Some(
                "give the OAuth client the scope the SSO names (account-uac-read for accounts, storage:events:write \
                 for an OAuth target: Account Management > Identity & access management > OAuth clients), and check \
                 that accounts[].uuid is the account the client belongs to",
            ),
            Some(_) => None,
            None => Some(
                "token-url must be the SSO token endpoint (https://sso.dynatrace.com/sso/oauth2/token): \
                 what answered is not an OAuth server",
            ),
        },
        ExportError::Request(failure) => match failure.kind {
            FailureKind::Unauthorized if failure.request.contains("/sub/") => Some(
                "the account API refused freshly issued tokens: check that accounts[].uuid is the account the OAuth \
                 client belongs to",
            ),
            FailureKind::Unauthorized if failure.request.contains("/clusterLicense") => Some(
                "the cluster refused its token: use a cluster API token (Cluster Management Console > Settings > API \
                 tokens) with ServiceProviderAPI",
            ),
            FailureKind::Unauthorized => Some("the API refused the token: check the token or client it was given"),
            FailureKind::TokenExpired => Some(
                "a token expired while the request was being retried and the retry budget left no time for a new \
                 one: raise retry.max-elapsed-seconds, or check the machine's clock",
            ),
            FailureKind::Denied => {
                Some("the component asked for a host the configuration does not name; check the URLs in the config")
            }
            FailureKind::Tls => Some("the server's TLS certificate is not trusted: check the URL (and any proxy)"),
            FailureKind::Dns => Some("the host name does not resolve: check the URL"),
            FailureKind::Throttled => {
                Some("the API kept answering 429 (throttled): lower concurrency or raise retry.max-elapsed-seconds")
            }
            _ => None,
        },
        _ => None,
    }
}

fn ingest_target(config: &Config, options: RunOptions) -> IngestTarget {
    IngestTarget {
        environment_url: config.target.url.clone(),
        auth: match &config.target.auth {
            ConfigTargetAuth::ApiToken(_) => TargetAuth::ApiToken,
            ConfigTargetAuth::OAuth { client_id, account_uuid, .. } => TargetAuth::Oauth(OauthClient {
                client_id: client_id.clone(),
                token_url: config.token_url.clone(),
                account_uuid: account_uuid.clone(),
            }),
        },
        provider: config.provider.clone(),
        max_batch_bytes: config.max_batch_bytes,
        dry_run: options.dry_run,
    }
}

fn account_plan(
    config: &Config,
    account: &AccountConfig,
    target: &IngestTarget,
    read_at: &str,
    previous: Option<AccountState>,
) -> AccountPlan {
    AccountPlan {
        name: account.name.clone(),
        uuid: account.uuid.clone(),
        client: OauthClient {
            client_id: account.client_id.clone(),
            token_url: config.token_url.clone(),
            account_uuid: Some(account.uuid.clone()),
        },
        api_url: config.api_url.clone(),
        subscription: account.subscription.clone(),
        read_at: read_at.to_owned(),
        target: target.clone(),
        retry: config.retry,
        state: previous,
        window_days: config.window_days,
        environment_cost: account.environment_cost.then_some(config.environment_cost),
        budget_alerting: config.budget_alerting.clone(),
    }
}

/// The target's origins and secret: every job ingests.
fn target_access(config: &Config) -> (Vec<Origin>, Vec<(&'static str, Secret)>) {
    let mut origins = vec![origin(&config.target.url)];
    let secrets = match &config.target.auth {
        ConfigTargetAuth::ApiToken(token) => vec![(config_keys::TARGET_API_TOKEN, token.clone())],
        ConfigTargetAuth::OAuth { client_secret, .. } => {
            origins.push(origin(&config.token_url));
            vec![(config_keys::TARGET_CLIENT_SECRET, client_secret.clone())]
        }
    };
    (origins, secrets)
}

fn account_sandbox(config: &Config, account: &AccountConfig) -> Sandbox {
    let (mut allowed, mut secrets) = target_access(config);
    allowed.extend([origin(&config.token_url), origin(&config.api_url)]);
    secrets.push((config_keys::ACCOUNT_CLIENT_SECRET, account.client_secret.clone()));
    Sandbox { allowed, config: secrets, memory_bytes: config.limits.memory_bytes, timeout: config.limits.timeout }
}

fn cluster_sandbox(config: &Config, cluster: &ClusterConfig) -> Sandbox {
    let (mut allowed, mut secrets) = target_access(config);
    allowed.push(origin(&cluster.url));
    secrets.push((config_keys::CLUSTER_API_TOKEN, cluster.api_token.clone()));
    Sandbox { allowed, config: secrets, memory_bytes: config.limits.memory_bytes, timeout: config.limits.timeout }
}

/// URLs in a validated config always parse.
fn origin(url: &str) -> Origin {
    Origin::parse(url).unwrap_or(Origin { scheme: "invalid".into(), host: url.into(), port: 0 })
}

/// Now, as RFC 3339 UTC with milliseconds (the `exportedAt` that orders versions of a day).
pub fn now_rfc3339() -> String {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    dtcost_guest::time::format_rfc3339_millis(millis as i64)
}

/// The human summary of a run: one block per job, then the run's figures (those of its
/// `dtcost.run.summary` event).
pub fn summary(run: &RunOutcome) -> String {
    let mut out = String::new();
    for outcome in &run.outcomes {
        match &outcome.result {
            Ok(report) if outcome.kind == JobKind::Summary => {
                let mark = if outcome.succeeded() { "ok    " } else { "FAILED" };
                let fate = if run.figures.dry_run {
                    "built (dry run: not sent)".to_owned()
                } else {
                    format!("{} of {} accepted", report.events_accepted, report.events_built)
                };
                out.push_str(&format!("{mark} run summary event ({}): {fate}\n", dtcost_guest::events::RUN_SUMMARY));
                for failure in &report.failures {
                    out.push_str(&format!("       not sent: {}: {}\n", failure.request, failure.message));
                }
            }
            Ok(report) => {
                let mark = if outcome.succeeded() { "ok    " } else { "FAILED" };
                let subscription =
                    report.subscription_uuid.as_deref().map(|s| format!(", subscription {s}")).unwrap_or_default();
                let skipped = if report.events_skipped > 0 {
                    format!(" ({} delivered before)", report.events_skipped)
                } else {
                    String::new()
                };
                let retries = if report.retries > 0 {
                    format!(", {} retries ({} throttled)", report.retries, report.throttled)
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "{mark} {}{subscription}: {} records read, {} events built{skipped}, {} sent, {} accepted, {} requests{retries}\n",
                    outcome.subject,
                    report.records_read,
                    report.events_built,
                    report.events_sent,
                    report.events_accepted,
                    report.requests
                ));
                for note in &report.notes {
                    out.push_str(&format!("       note: {note}\n"));
                }
                if let Some(reconciliation) = &report.reconciliation {
                    out.push_str(&format!(
                        "       cost per environment: {} days compared with the daily totals, {} differ",
                        reconciliation.days_compared, reconciliation.days_unattributed
                    ));
                    if reconciliation.days_unattributed > 0 {
                        out.push_str(&format!(
                            " by {:.2} {} in all (sent as environment `unattributed`)",
                            reconciliation.unattributed, reconciliation.currency
                        ));
                    }
                    out.push('\n');
                }
                for alert in &report.alerts {
                    out.push_str(&format!("       budget alert: {alert}\n"));
                }
                for failure in &report.failures {
                    let status = failure.status.map(|s| format!(" HTTP {s}")).unwrap_or_default();
                    out.push_str(&format!(
                        "       not sent: {} events: {}{status}: {}\n",
                        failure.events_not_sent, failure.request, failure.message
                    ));
                }
                for rejected in &report.rejected {
                    out.push_str(&format!(
                        "       rejected by the ingest API: event {}: {}\n",
                        rejected.event_id, rejected.message
                    ));
                }
            }
            Err(error) => out.push_str(&format!("FAILED {}: {error}\n", outcome.subject)),
        }
        if let Some(error) = &outcome.state_error {
            out.push_str(&format!(
                "       the delivery state was not saved (the next run sends these days again): {error}\n"
            ));
        }
    }
    let f = &run.figures;
    let newest = match &f.newest_cost_day {
        Some(day) => format!("newest cost day {}", day.get(..10).unwrap_or(day)),
        None => "no cost day seen".to_owned(),
    };
    out.push_str(&format!(
        "run: accounts {} ok, {} failed; clusters {} ok, {} failed; {} records read; events {} built, {} sent, {} accepted, \
         {} rejected, {} delivered before; {} requests, {} retries, {} throttled (429); {newest}; {} unattributed days; \
         {} budget alerts; up to {} accounts at once; {:.2} s\n",
        f.accounts_ok,
        f.accounts_failed,
        f.clusters_ok,
        f.clusters_failed,
        f.records_read,
        f.events_built,
        f.events_sent,
        f.events_accepted,
        f.events_rejected,
        f.events_skipped,
        f.requests,
        f.retries,
        f.throttled,
        f.unattributed_days,
        f.budget_alerts,
        f.concurrency_reached,
        f.duration_ms as f64 / 1000.0
    ));
    let exports: Vec<&JobOutcome> =
        run.outcomes.iter().filter(|o| matches!(o.kind, JobKind::Account | JobKind::Cluster)).collect();
    let failed = exports.iter().filter(|o| !o.succeeded()).count();
    out.push_str(&format!("{} of {} exports succeeded\n", exports.len() - failed, exports.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_and_cluster_gets_only_its_own_secret_and_hosts() {
        let env: std::collections::HashMap<String, String> = [
            ("T", "target-token"),
            ("A1", "secret-of-account-1"),
            ("A2", "secret-of-account-2"),
            ("C1", "token-of-cluster-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::parse(
            r#"
            api-url = "https://api.example.com"
            [target]
            url = "https://env.example.com"
            api-token-env = "T"
            [[accounts]]
            uuid = "7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a"
            client-id = "a1"
            client-secret-env = "A1"
            [[accounts]]
            uuid = "8c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a"
            client-id = "a2"
            client-secret-env = "A2"
            [[clusters]]
            url = "https://cluster.example.com"
            api-token-env = "C1"
            "#,
            "test.toml",
            None,
            &env,
        )
        .unwrap();
        let values = |sandbox: &Sandbox| -> Vec<(String, String)> {
            sandbox.config.iter().map(|(k, v)| (k.to_string(), v.expose().to_owned())).collect()
        };
        let second = account_sandbox(&config, &config.accounts[1]);
        assert_eq!(
            values(&second),
            vec![
                ("target-api-token".to_owned(), "target-token".to_owned()),
                ("account-client-secret".to_owned(), "secret-of-account-2".to_owned())
            ]
        );
        let hosts: Vec<String> = second.allowed.iter().map(|o| o.host.clone()).collect();
        assert_eq!(hosts, ["env.example.com", "sso.dynatrace.com", "api.example.com"]);
        let cluster = cluster_sandbox(&config, &config.clusters[0]);
        assert!(values(&cluster).iter().all(|(_, v)| !v.starts_with("secret-of-account")));
        assert!(cluster.allowed.iter().all(|o| o.host != "api.example.com" && o.host != "sso.dynatrace.com"));
    }
}
