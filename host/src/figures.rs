//! The run's figures (those of its `dtcost.run.summary` event and the last line of its summary),
//! added up from its jobs' reports, or from what the host saw of a job that has none.

use crate::job::{JobKind, JobOutcome};
use crate::wit::RunFigures;

/// The run's figures, from its jobs' reports.
pub fn figures(outcomes: &[JobOutcome], duration: std::time::Duration, dry_run: bool) -> RunFigures {
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
        usage_unattributed_days: 0,
        budget_alerts: 0,
        anomalies: 0,
        concurrency_reached: 0,
        duration_ms: duration.as_millis() as u64,
        newest_cost_day: None,
        dry_run,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let mut newest: Option<jiff::Timestamp> = None;
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
        figures.usage_unattributed_days += report.usage_reconciliation.as_ref().map_or(0, |r| r.days_unattributed);
        figures.budget_alerts += report.alerts.len() as u32;
        figures.anomalies += report.anomalies.len() as u32;
        if let Some(instant) = report.newest_day.as_deref().and_then(day_start)
            && newest.is_none_or(|seen| instant > seen)
        {
            newest = Some(instant);
        }
    }
    // Normalised: the API writes days with or without milliseconds.
    figures.newest_cost_day = newest.map(|instant| instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
    figures
}

/// The instant a cost day starts, as the API writes it: an RFC 3339 date-time (with or without
/// fractions, `Z` or an offset) or a date (midnight UTC).
fn day_start(day: &str) -> Option<jiff::Timestamp> {
    if let Ok(instant) = day.parse::<jiff::Timestamp>() {
        return Some(instant);
    }
    let date: jiff::civil::Date = day.parse().ok()?;
    jiff::tz::Offset::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_cost_day_is_normalised_to_seconds_in_utc_whatever_its_form() {
        let instant = |day: &str| day_start(day).map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
        assert_eq!(instant("2026-11-22").as_deref(), Some("2026-11-22T00:00:00Z"));
        assert_eq!(instant("2026-11-22T00:00:00.000Z").as_deref(), Some("2026-11-22T00:00:00Z"));
        assert_eq!(instant("2026-11-22T02:00:00+02:00").as_deref(), Some("2026-11-22T00:00:00Z"));
        assert_eq!(instant("not a day"), None);
        assert!(day_start("2026-11-23").unwrap() > day_start("2026-11-22T23:59:59Z").unwrap());
    }
}
