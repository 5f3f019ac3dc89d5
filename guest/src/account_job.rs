//! The account job: its subscription read, the transforms, delivery of what is new or changed;
//! the subscription's status and alerts come back unsent (the host sends one per subscription).

use crate::account_reads::{self, SubscriptionReads, invalid};
use crate::anomaly_events::{self, Subject};
use crate::delivery::{self, Batch, DayStream, Planned, Stream};
use crate::environment_names::{ENVIRONMENT_SCOPE, read_environment_names};
use crate::environment_walk::{self, read_environment_costs};
use crate::error::{ExportError, InvalidRecord};
use crate::http::{Client, Transport};
use crate::secrets::{self, Secrets};
use crate::sso::{self, TokenSource};
use crate::time::{DAY_MS, parse_instant_millis};
use crate::usage_reads::read_usage_events;
use crate::wit::{AccountPlan, CostRecord, EventContext, FailureKind, Report, RequestFailure, SubscriptionOutlook};
use crate::{budget, environment, events, ingest};

/// Exports one account. `Err` means nothing was sent; an `Ok` report may still list failures.
pub fn export_account(
    plan: &AccountPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("account {}", plan.name), ..Report::default() };
    let mut http = Client::new(transport, plan.retry);
    let client_secret = secrets.require(secrets::ACCOUNT_CLIENT_SECRET)?;
    // Environment names need scope `account-env-read`, which not every client has. One token
    // asking for both scopes would be refused whole by the SSO (`invalid_scope`) and fail the
    // account; a token of its own, requested only when names are needed (accounts with
    // environment cost), can fail alone, leaving a note and the ids.
    let mut names_tokens = TokenSource::new(plan.client.clone(), client_secret.clone(), ENVIRONMENT_SCOPE);
    let mut tokens = TokenSource::new(plan.client.clone(), client_secret, sso::ACCOUNT_SCOPE);
    let mut sources = Tokens { account: &mut tokens, environment_names: &mut names_tokens };
    let outcome = export_account_with(plan, &mut http, &mut sources, secrets, &mut report);
    outcome.map(|()| http.counted(report))
}

/// The account's token sources: one per scope (see [`export_account`]).
struct Tokens<'a> {
    account: &'a mut TokenSource,
    environment_names: &'a mut TokenSource,
}

fn export_account_with(
    plan: &AccountPlan,
    http: &mut Client,
    sources: &mut Tokens,
    secrets: &dyn Secrets,
    report: &mut Report,
) -> Result<(), ExportError> {
    let tokens = &mut *sources.account;
    let SubscriptionReads { subscription_uuid, subscription, costs, cost_request, dynatrace_forecast } =
        account_reads::read_subscription(plan, http, tokens, report)?;
    let accounts_url = account_reads::subscriptions_url(plan);
    let context = EventContext {
        provider: plan.target.provider.clone(),
        account_uuid: plan.uuid.clone(),
        account_name: plan.name.clone(),
    };
    let previous = plan.state.clone().unwrap_or_default();
    // The run's clock: no delivery state moves past it (see `Delivery::plan`).
    let now = parse_instant_millis(&plan.read_at).unwrap_or(i64::MAX);
    let mut batch = Batch::default();
    // The status and alerts are built, not sent: accounts that share the subscription (DPS for
    // Hybrid) each build them, and the host sends one per subscription (see the WIT).
    if let Some(subscription) = &subscription {
        let described = |e: InvalidRecord| {
            ExportError::InvalidResponse(format!("GET {accounts_url}/{subscription_uuid} and its cost: {e}"))
        };
        let outlook = budget::outlook(subscription, &costs).map_err(described)?;
        let status_event =
            budget::subscription_status(&context, subscription, &outlook, dynatrace_forecast.as_ref(), &plan.read_at)
                .map_err(described)?;
        // Every alert the outlook raises: which fired before is the host's to know.
        let alerts = budget::budget_alerts(&context, subscription, &outlook, &plan.budget_alerting, &[], &plan.read_at)
            .map_err(described)?;
        report.subscription_outlook = Some(SubscriptionOutlook {
            subscription_uuid: subscription_uuid.clone(),
            period_start: subscription.current_period.start_time.clone(),
            status_event,
            alerts,
        });
    }

    let days =
        events::cost_booked_by_day(&context, &subscription_uuid, &costs).map_err(|e| invalid(&cost_request, e))?;
    let newest = days.last().map(|(start, _)| *start);
    report.newest_day = costs.iter().max_by_key(|c| parse_instant_millis(&c.start_time)).map(|c| c.start_time.clone());

    // The streams of day events read this run, each planned against what earlier runs delivered.
    let plan_stream =
        |stream, events| Planned::new(stream, &previous, &subscription_uuid, events, plan.window_days(), now);
    let mut streams = vec![plan_stream(DayStream::Cost, days)];

    let mut environment_series = Vec::new();
    if let Some(environment_plan) = &plan.environment_cost {
        let end = newest.unwrap_or_else(|| day_of(&plan.read_at)) + DAY_MS;
        let start = end - i64::from(environment_plan.days().max(1)) * DAY_MS;
        match read_environment_costs(plan, environment_plan, http, tokens, &subscription_uuid, start, end) {
            Ok(rows) => {
                let names = read_environment_names(plan, http, sources.environment_names, report);
                report.records_read += rows.len() as u32;
                let totals: Vec<CostRecord> = costs
                    .iter()
                    .filter(|c| parse_instant_millis(&c.start_time).is_some_and(|t| (start..end).contains(&t)))
                    .cloned()
                    .collect();
                // Rows the reconciliation refuses (mixed currencies, say) fail the cost per
                // environment alone: the daily cost is still delivered. The reason comes first in
                // the message, the requests (long, and cut when printed) apart.
                match environment::environment_cost_booked(&context, &subscription_uuid, &rows, &totals, &names) {
                    Ok(built) => {
                        report.reconciliation = built.reconciliation;
                        streams.push(plan_stream(DayStream::EnvironmentCost, built.events));
                        environment_series = anomaly_events::environment_series(&rows, &names);
                    }
                    Err(error) => report.failures.push(RequestFailure {
                        request: format!(
                            "GET {}/{subscription_uuid}/environments/cost (v3) and {}",
                            environment_walk::v3_subscriptions_url(plan),
                            cost_request.describe()
                        ),
                        kind: FailureKind::Other,
                        status: None,
                        message: format!("cost per environment not exported: {error}"),
                        events_not_sent: 0,
                    }),
                }
            }
            Err(failure) => report.failures.push(failure),
        }
    }

    if let Some(usage_plan) = &plan.usage {
        let end = newest.unwrap_or_else(|| day_of(&plan.read_at)) + DAY_MS;
        let start = end - i64::from(usage_plan.days().max(1)) * DAY_MS;
        match read_usage_events(plan, http, tokens, &context, &subscription_uuid, &costs, start..end) {
            Ok((built, records_read)) => {
                report.records_read += records_read;
                report.usage_reconciliation = built.reconciliation;
                streams.push(plan_stream(DayStream::Usage, built.events));
            }
            Err(failure) => report.failures.push(failure),
        }
    }

    for planned in &streams {
        planned.push_into(&mut batch, &plan.read_at);
    }

    let anomalies = match (newest, plan.anomalies.enabled()) {
        (Some(newest), true) => {
            let subject = Subject {
                context: &context,
                subscription_uuid: &subscription_uuid,
                currency: costs.first().map_or(events::DEFAULT_CURRENCY, |c| c.currency_code.as_str()),
            };
            let mut all = vec![anomaly_events::account_series(&costs)];
            all.append(&mut environment_series);
            let newest_day = newest.div_euclid(DAY_MS);
            match anomaly_events::anomaly_events(&subject, &all, &plan.anomalies, newest_day) {
                Ok(built) => {
                    let to_send = delivery::anomalies_to_send(&previous.anomalies, &built);
                    for &index in &to_send {
                        batch.push(Stream::Anomaly, built[index].event.clone());
                        report.anomalies.push(built[index].message.clone());
                    }
                    Some((built, to_send, anomaly_events::first_judged_day(&plan.anomalies, newest_day)))
                }
                Err(error) => {
                    report.notes.push(format!("cost anomalies were not judged: {error}"));
                    None
                }
            }
        }
        _ => None,
    };

    let mut built_and_skipped = (0, 0);
    for planned in &streams {
        let (built, skipped) = planned.built_and_skipped();
        built_and_skipped = (built_and_skipped.0 + built, built_and_skipped.1 + skipped);
    }
    if let Some((built, to_send, _)) = &anomalies {
        built_and_skipped.0 += built.len() as u32;
        built_and_skipped.1 += (built.len() - to_send.len()) as u32;
    }
    (report.events_built, report.events_skipped) = built_and_skipped;
    let accepted = ingest::ingest(http, secrets, &plan.target, batch.events(), report);
    if !plan.target.dry_run {
        // What earlier runs delivered holds for every stream not read this time.
        let mut state = previous.clone();
        for planned in &streams {
            planned.keep_delivered(&mut state, &subscription_uuid, &batch, &accepted);
        }
        if let Some((built, to_send, first_judged)) = &anomalies {
            let acknowledged = batch.acknowledged(Stream::Anomaly, &accepted);
            state.anomalies = delivery::anomaly_keys(&previous.anomalies, built, to_send, &acknowledged, *first_judged);
        }
        report.state = Some(state);
    }
    Ok(())
}

/// The start of the day `instant` (RFC 3339) is in: the window's end when no cost day was read.
fn day_of(instant: &str) -> i64 {
    parse_instant_millis(instant).unwrap_or(0).div_euclid(DAY_MS) * DAY_MS
}
