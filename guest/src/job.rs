//! The export jobs: one account (subscription and daily cost) or one Managed cluster (license
//! usage), from reading the APIs to an acknowledged ingest.

use crate::events;
use crate::http::{self, Request, Transport};
use crate::ingest;
use crate::model::{
    AccountPlan, ClusterPlan, EventContext, ExportError, Report, RequestFailure, Subscription, SubscriptionSummary,
};
use crate::parse;
use crate::secrets::{self, Secrets};
use crate::sso;

/// Exports one account. `Err` means nothing was sent; an `Ok` report may still list failures.
pub fn export_account(
    plan: &AccountPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("account {}", plan.name), ..Report::default() };
    let client_secret = secrets.require(secrets::ACCOUNT_CLIENT_SECRET)?;
    let token = sso::fetch_token(transport, &mut report.requests, &plan.client, &client_secret, sso::ACCOUNT_SCOPE)?;
    let bearer = format!("Bearer {token}");
    let accounts_url = http::join(&plan.api_url, &format!("/sub/v2/accounts/{}/subscriptions", plan.uuid));
    let mut get = |url: String, report: &mut Report| -> Result<(Request, http::Response), RequestFailure> {
        let request = Request::get(url).header("authorization", bearer.clone());
        let response = http::send(transport, &mut report.requests, &request)?;
        Ok((request, response))
    };

    let subscription_uuid = match &plan.subscription {
        Some(uuid) => uuid.clone(),
        None => {
            let (request, response) = get(accounts_url.clone(), &mut report).map_err(ExportError::Request)?;
            if response.status != 200 {
                return Err(ExportError::Request(http::failure(&request, &response)));
            }
            let list = parse::subscription_list(&response.body).map_err(|e| invalid(&request, e))?;
            let chosen = choose_subscription(&plan.name, &plan.uuid, &list)?;
            if let Some(note) = chosen.1 {
                report.notes.push(note);
            }
            chosen.0.uuid.clone()
        }
    };
    report.subscription_uuid = Some(subscription_uuid.clone());

    let (request, response) =
        get(format!("{accounts_url}/{subscription_uuid}"), &mut report).map_err(ExportError::Request)?;
    let subscription: Option<Subscription> = match response.status {
        200 => Some(parse::subscription(&response.body).map_err(|e| invalid(&request, e))?),
        // DPS for Hybrid: an account may book against a subscription it cannot read the details
        // of (ASSUMPTION: the docs do not say which accounts may read a shared subscription). Its
        // cost is still readable; the owning account emits the status event.
        403 | 404 if plan.subscription.is_some() => {
            report.notes.push(format!(
                "subscription {subscription_uuid} details are not readable from account {} (HTTP {}); exporting its cost only",
                plan.name, response.status
            ));
            None
        }
        _ => return Err(ExportError::Request(http::failure(&request, &response))),
    };

    let (request, response) =
        get(format!("{accounts_url}/{subscription_uuid}/cost"), &mut report).map_err(ExportError::Request)?;
    if response.status != 200 {
        return Err(ExportError::Request(http::failure(&request, &response)));
    }
    let currency =
        subscription.as_ref().and_then(|s| s.budget.currency_code.as_deref()).unwrap_or(events::DEFAULT_CURRENCY);
    let costs = parse::cost_list(&response.body, currency).map_err(|e| invalid(&request, e))?;
    report.records_read = costs.len() as u32;

    let context = EventContext {
        provider: plan.target.provider.clone(),
        account_uuid: plan.uuid.clone(),
        account_name: plan.name.clone(),
    };
    let mut batch = Vec::with_capacity(costs.len() + 1);
    if let Some(subscription) = subscription.as_ref().filter(|_| plan.emit_subscription_status) {
        let status = events::subscription_status(&context, subscription, &plan.read_at)
            .map_err(|e| ExportError::InvalidResponse(format!("GET {accounts_url}/{subscription_uuid}: {e}")))?;
        batch.push(status);
    }
    let cost_events = events::cost_booked(&context, &subscription_uuid, &costs).map_err(|e| invalid(&request, e))?;
    report.newest_day =
        costs.iter().max_by_key(|c| crate::time::parse_instant_millis(&c.start_time)).map(|c| c.start_time.clone());
    batch.extend(cost_events);
    ingest::ingest(transport, secrets, &plan.target, batch, &mut report);
    Ok(report)
}

/// Exports one Managed cluster's license usage.
pub fn export_cluster(
    plan: &ClusterPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("cluster {}", plan.name), ..Report::default() };
    let token = secrets.require(secrets::CLUSTER_API_TOKEN)?;
    let request = Request::get(http::join(&plan.url, "/api/cluster/v2/clusterLicense"))
        .header("authorization", format!("Api-Token {token}"));
    let response = http::send(transport, &mut report.requests, &request).map_err(ExportError::Request)?;
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
    let license = parse::cluster_license(&response.body).map_err(|e| invalid(&request, e))?;
    let events = events::cluster_quota(&plan.target.provider, &plan.name, &license, &plan.read_at)
        .map_err(|e| invalid(&request, e))?;
    report.records_read = events.len() as u32;
    ingest::ingest(transport, secrets, &plan.target, events, &mut report);
    Ok(report)
}

/// The ACTIVE subscription of type REGULAR; with several, the most recently started, and a note
/// saying so.
fn choose_subscription<'a>(
    account_name: &str,
    account_uuid: &str,
    list: &'a [SubscriptionSummary],
) -> Result<(&'a SubscriptionSummary, Option<String>), ExportError> {
    let mut candidates: Vec<&SubscriptionSummary> =
        list.iter().filter(|s| s.status == "ACTIVE" && s.kind == "REGULAR").collect();
    candidates.sort_by(|a, b| {
        let start = |s: &SubscriptionSummary| crate::time::parse_instant_millis(&s.start_time);
        start(b).cmp(&start(a)).then_with(|| a.uuid.cmp(&b.uuid))
    });
    match candidates.as_slice() {
        [] => {
            let found = if list.is_empty() {
                "it has none".to_owned()
            } else {
                let seen: Vec<String> =
                    list.iter().map(|s| format!("{} (type {}, status {})", s.uuid, s.kind, s.status)).collect();
                format!("found {}", seen.join(", "))
            };
            Err(ExportError::NoSubscription(format!(
                "account {account_name} ({account_uuid}) has no ACTIVE subscription of type REGULAR: {found}; \
                 name the one to export with `subscription` in its config"
            )))
        }
        [only] => Ok((only, None)),
        [chosen, ..] => Ok((
            chosen,
            Some(format!(
                "account {account_name} has {} ACTIVE REGULAR subscriptions; exporting {} ({:?}), the most recently started; \
                 set `subscription` to choose another",
                candidates.len(),
                chosen.uuid,
                chosen.name
            )),
        )),
    }
}

fn invalid(request: &Request, error: impl std::fmt::Display) -> ExportError {
    ExportError::InvalidResponse(format!("{}: {error}", request.describe()))
}
