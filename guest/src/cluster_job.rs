//! The cluster job: one Managed cluster's license (`GET /api/cluster/v2/clusterLicense`, with the
//! cluster's API token) to `cluster.license.quota` events, ingested.

use crate::account_reads::{invalid, read};
use crate::error::ExportError;
use crate::http::{self, Client, Request, Transport};
use crate::secrets::{self, Secrets};
use crate::wit::{ClusterPlan, Report};
use crate::{events, ingest, parse};

/// Exports one Managed cluster's license usage.
pub fn export_cluster(
    plan: &ClusterPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("cluster {}", plan.name), ..Report::default() };
    let mut http = Client::new(transport, plan.retry);
    let outcome = export_cluster_with(plan, &mut http, secrets, &mut report);
    outcome.map(|()| http.counted(report))
}

fn export_cluster_with(
    plan: &ClusterPlan,
    http: &mut Client,
    secrets: &dyn Secrets,
    report: &mut Report,
) -> Result<(), ExportError> {
    let token = secrets.require(secrets::CLUSTER_API_TOKEN)?;
    let request = Request::get(http::join(&plan.url, "/api/cluster/v2/clusterLicense"))
        .header("authorization", format!("Api-Token {token}"));
    let (response, json) = http.send_parsed(&request, |body| parse::json(body).ok()).map_err(ExportError::Request)?;
    match response.status {
        200 => {}
        422 => {
            let mut failure = http::failure(&request, &response);
            failure.message = format!(
                "cluster {} is not on classic licensing (the license API answers only for classic licenses): {}",
                plan.name, failure.message
            );
            return Err(ExportError::Request(failure));
        }
        _ => return Err(ExportError::Request(http::failure(&request, &response))),
    }
    let license = read(&response, json, parse::cluster_license).map_err(|e| invalid(&request, e))?;
    let events = events::cluster_quota(&plan.target.provider, &plan.name, &license, &plan.read_at)
        .map_err(|e| invalid(&request, e))?;
    report.records_read = events.len() as u32;
    report.events_built = events.len() as u32;
    ingest::ingest(http, secrets, &plan.target, &events, report);
    Ok(())
}
