//! The text of job reports, for people: the run's summary on stderr (`run`, `report`, `demo`)
//! and what `check` prints. Every report a job returns is rendered here and nowhere else in the
//! host. (The component's own `wasi:cli/run` entry point prints its summary itself.)

use crate::job::{JobKind, JobOutcome};
use crate::run::RunOutcome;
use crate::wit::Report;

/// The human summary of a run: one block per job, then the run's figures (those of its
/// `dtcost.run.summary` event).
pub fn run_summary(run: &RunOutcome) -> String {
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
                // Its subject names the event (`run summary event (<event.type>)`): see delivery.rs.
                out.push_str(&format!("{mark} {}: {fate}\n", report.subject));
                for failure in &report.failures {
                    out.push_str(&format!("       not sent: {}: {}\n", failure.request, failure.message));
                }
            }
            Ok(report) => {
                let mark = if outcome.succeeded() { "ok    " } else { "FAILED" };
                let subscription = subscription_of(report);
                let skipped =
                    if_any(report.events_skipped, || format!(" ({} delivered before)", report.events_skipped));
                let retries =
                    if_any(report.retries, || format!(", {} retries ({} throttled)", report.retries, report.throttled));
                out.push_str(&format!(
                    "{mark} {}{subscription}: {} records read, {} events built{skipped}, {} sent, {} accepted, {} requests{retries}\n",
                    outcome.subject,
                    report.records_read,
                    report.events_built,
                    report.events_sent,
                    report.events_accepted,
                    report.requests
                ));
                push_notes(&mut out, report);
                let compared = [
                    (&report.reconciliation, "cost per environment", "environment `unattributed`"),
                    (&report.usage_reconciliation, "usage", "capability `UNATTRIBUTED`"),
                ];
                for (reconciliation, what, sent_as) in compared {
                    let Some(reconciliation) = reconciliation else { continue };
                    out.push_str(&format!(
                        "       {what}: {} days compared with the daily totals, {} differ",
                        reconciliation.days_compared, reconciliation.days_unattributed
                    ));
                    if reconciliation.days_unattributed > 0 {
                        out.push_str(&format!(
                            " by {:.2} {} in all (sent as {sent_as})",
                            reconciliation.unattributed, reconciliation.currency
                        ));
                    }
                    out.push('\n');
                }
                for alert in &report.alerts {
                    out.push_str(&format!("       budget alert: {alert}\n"));
                }
                for anomaly in &report.anomalies {
                    out.push_str(&format!("       cost anomaly: {anomaly}\n"));
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
         {} rejected, {} delivered before; {} requests, {} retries, {} throttled (429); {newest}; {} unattributed days \
         (environment cost), {} (usage); {} budget alerts; {} cost anomalies; up to {} accounts at once; {:.2} s\n",
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
        f.usage_unattributed_days,
        f.budget_alerts,
        f.anomalies,
        f.concurrency_reached,
        f.duration_ms as f64 / 1000.0
    ));
    let exports: Vec<&JobOutcome> =
        run.outcomes.iter().filter(|o| matches!(o.kind, JobKind::Account | JobKind::Cluster)).collect();
    let failed = exports.iter().filter(|o| !o.succeeded()).count();
    out.push_str(&format!("{} of {} exports succeeded\n", exports.len() - failed, exports.len()));
    out
}

/// What `dtcost check` prints of each job: whether it authenticated and read, and what a run
/// would send.
pub fn check(run: &RunOutcome) -> String {
    let mut out = String::new();
    for outcome in &run.outcomes {
        match &outcome.result {
            Ok(report) if outcome.kind == JobKind::Status => {
                out.push_str(&format!(
                    "ok     subscription status: a run would send {} status and alert events\n",
                    report.events.len()
                ));
                for note in &report.notes {
                    out.push_str(&format!("       {note}\n"));
                }
            }
            Ok(report) => {
                let subscription = subscription_of(report);
                let delivered = if_any(report.events_skipped, || {
                    format!(" ({} more were delivered before)", report.events_skipped)
                });
                out.push_str(&format!(
                    "ok     {}: authenticated{subscription}; {} records read; a run would send {} events{delivered}\n",
                    outcome.subject,
                    report.records_read,
                    report.events.len()
                ));
                push_notes(&mut out, report);
                // What was not read (a failed environment cost walk, say): why the exit code is 1.
                for failure in &report.failures {
                    out.push_str(&format!("       not read: {}: {}\n", failure.request, failure.message));
                }
            }
            Err(error) => out.push_str(&format!("FAILED {}: {error}\n", outcome.subject)),
        }
    }
    out
}

/// `, subscription <uuid>` when the job found its subscription.
fn subscription_of(report: &Report) -> String {
    report.subscription_uuid.as_deref().map(|s| format!(", subscription {s}")).unwrap_or_default()
}

/// A clause said only when its count is not zero.
fn if_any(count: u32, clause: impl FnOnce() -> String) -> String {
    if count > 0 { clause() } else { String::new() }
}

/// The job's notes, one line each.
fn push_notes(out: &mut String, report: &Report) {
    for note in &report.notes {
        out.push_str(&format!("       note: {note}\n"));
    }
}
