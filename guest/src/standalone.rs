//! The whole export configured from `wasi:config` keys alone, for `wasi:cli/run` under stock
//! runtimes (`wasmtime run -S http -S config -S config-var=…`, jco). Our host instead calls the
//! typed `job` exports with a plan per account and cluster.

use crate::defaults;
use crate::http::Transport;
use crate::job;
use crate::secrets::Secrets;
use crate::wit::{
    AccountPlan, AnomalyPlan, BudgetAlerting, ClusterPlan, EnvironmentCostPlan, IngestTarget, OauthClient, Report,
    RetryPolicy, TargetAuth, UsagePlan,
};

/// Runs the account job when `account-uuid` is set and the cluster job when `cluster-url` is
/// set. On a dry run the events go to stdout as NDJSON; the summary goes to stderr.
pub fn run(transport: &mut dyn Transport, config: &dyn Secrets, now: &str) -> Result<(), String> {
    let value = |key: &str| config.get(key).ok().flatten().filter(|v| !v.is_empty());
    let required = |key: &str| value(key).ok_or_else(|| format!("config key `{key}` is not set"));
    let read_at = value("read-at").unwrap_or_else(|| now.to_owned());
    let token_url = value("token-url").unwrap_or_else(|| defaults::TOKEN_URL.to_owned());
    let target = IngestTarget {
        environment_url: required("environment-url")?,
        auth: match value("target-client-id") {
            Some(client_id) => TargetAuth::Oauth(OauthClient {
                client_id,
                token_url: token_url.clone(),
                account_uuid: value("target-account-uuid"),
            }),
            None => TargetAuth::ApiToken,
        },
        provider: value("provider").unwrap_or_else(|| defaults::PROVIDER.to_owned()),
        max_batch_bytes: None,
        dry_run: value("dry-run").is_some_and(|v| v == "true"),
    };
    let mut results: Vec<(String, Result<Report, String>)> = Vec::new();
    if let Some(uuid) = value("account-uuid") {
        let uuid = uuid.strip_prefix("urn:dtaccount:").unwrap_or(&uuid).to_owned();
        let environment_cost = match value("environment-cost-days") {
            Some(days) => Some(EnvironmentCostPlan {
                days: Some(days.parse().ok().filter(|d| *d > 0).ok_or_else(|| {
                    format!("config key `environment-cost-days`: {days:?} is not a positive number of days")
                })?),
                ..EnvironmentCostPlan::default()
            }),
            None => None,
        };
        let usage =
            match value("usage-days") {
                Some(days) => Some(UsagePlan {
                    days: Some(days.parse().ok().filter(|d| *d > 0).ok_or_else(|| {
                        format!("config key `usage-days`: {days:?} is not a positive number of days")
                    })?),
                }),
                None => None,
            };
        let plan = AccountPlan {
            name: value("account-name").unwrap_or_else(|| uuid.clone()),
            client: OauthClient { client_id: required("client-id")?, token_url, account_uuid: Some(uuid.clone()) },
            uuid,
            api_url: value("api-url").unwrap_or_else(|| defaults::API_URL.to_owned()),
            subscription: value("subscription"),
            read_at: read_at.clone(),
            target: target.clone(),
            retry: RetryPolicy::default(),
            state: None,
            window_days: None,
            environment_cost,
            usage,
            // Without a state, alerts fire again on every run: the host keeps one.
            budget_alerting: BudgetAlerting::default(),
            anomalies: AnomalyPlan::default(),
        };
        let mut outcome = job::export_account(&plan, transport, config).map_err(|e| e.to_string());
        // One account: its subscription's status and alerts are its own to send.
        if let Ok(report) = &mut outcome
            && let Some(outlook) = report.subscription_outlook.take()
        {
            let events: Vec<String> =
                std::iter::once(outlook.status_event).chain(outlook.alerts.iter().map(|a| a.event.clone())).collect();
            let sent = job::send_events(&target, plan.retry, &events, transport, config);
            report.alerts = outlook.alerts.into_iter().map(|alert| alert.message).collect();
            absorb(report, sent);
        }
        results.push((format!("account {}", plan.name), outcome));
    }
    if let Some(url) = value("cluster-url") {
        let plan = ClusterPlan {
            name: value("cluster-name").unwrap_or_else(|| url.clone()),
            url,
            read_at,
            target,
            retry: RetryPolicy::default(),
        };
        let outcome = job::export_cluster(&plan, transport, config).map_err(|e| e.to_string());
        results.push((format!("cluster {}", plan.name), outcome));
    }
    if results.is_empty() {
        return Err("nothing to export: set config key `account-uuid` and/or `cluster-url`".to_owned());
    }
    let mut failed = 0;
    for (subject, outcome) in results {
        match outcome {
            Ok(report) => {
                for event in &report.events {
                    println!("{event}");
                }
                eprintln!(
                    "{subject}: {} records read, {} events built, {} sent, {} accepted, {} requests",
                    report.records_read,
                    report.events_built,
                    report.events_sent,
                    report.events_accepted,
                    report.requests
                );
                for note in &report.notes {
                    eprintln!("  note: {note}");
                }
                if let Some(r) = &report.reconciliation {
                    eprintln!(
                        "  cost per environment: {} days compared, {} differ by {:.2} {} (sent as `unattributed`)",
                        r.days_compared, r.days_unattributed, r.unattributed, r.currency
                    );
                }
                if let Some(r) = &report.usage_reconciliation {
                    eprintln!(
                        "  usage: {} days compared, {} differ by {:.2} {} (sent as `UNATTRIBUTED`)",
                        r.days_compared, r.days_unattributed, r.unattributed, r.currency
                    );
                }
                for alert in &report.alerts {
                    eprintln!("  budget alert: {alert}");
                }
                for failure in &report.failures {
                    eprintln!(
                        "  failed: {} ({} events not sent): {}",
                        failure.request, failure.events_not_sent, failure.message
                    );
                }
                for rejected in &report.rejected {
                    eprintln!("  rejected: event {}: {}", rejected.event_id, rejected.message);
                }
                if !report.failures.is_empty() || !report.rejected.is_empty() {
                    failed += 1;
                }
            }
            Err(error) => {
                eprintln!("{subject}: FAILED: {error}");
                failed += 1;
            }
        }
    }
    if failed > 0 { Err(format!("{failed} export(s) failed")) } else { Ok(()) }
}

/// Adds what another job did for the same subject (its counts, failures, refusals, events).
fn absorb(report: &mut Report, other: Report) {
    report.records_read += other.records_read;
    report.events_built += other.events_built;
    report.events_sent += other.events_sent;
    report.events_accepted += other.events_accepted;
    report.events_skipped += other.events_skipped;
    report.requests += other.requests;
    report.retries += other.retries;
    report.throttled += other.throttled;
    report.failures.extend(other.failures);
    report.rejected.extend(other.rejected);
    report.events.extend(other.events);
    report.notes.extend(other.notes);
}
