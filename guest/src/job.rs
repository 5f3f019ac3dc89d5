//! The WIT `job` interface: the account job, the cluster job, and `send-events` (events built
//! elsewhere, e.g. the subscriptions' statuses and the run summary, with the same delivery rules).

pub use crate::account_job::export_account;
pub use crate::cluster_job::export_cluster;

use crate::http::{Client, Transport};
use crate::ingest;
use crate::secrets::Secrets;
use crate::wit::{IngestTarget, Report, RetryPolicy};

/// Ingests events built elsewhere (the run summary), with the same delivery rules as the jobs.
pub fn send_events(
    target: &IngestTarget,
    retry: RetryPolicy,
    events: &[String],
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Report {
    let mut report = Report { subject: "run summary".to_owned(), ..Report::default() };
    let mut http = Client::new(transport, retry);
    report.events_built = events.len() as u32;
    ingest::ingest(&mut http, secrets, target, events, &mut report);
    http.counted(report)
}
