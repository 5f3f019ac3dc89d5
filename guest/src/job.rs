//! The export jobs: one account (subscription and daily cost) or one Managed cluster (license
//! usage), from reading the APIs to an acknowledged ingest.

use std::collections::HashSet;

use serde_json::Value;

use crate::error::{ExportError, InvalidRecord};
use crate::http::{self, Client, Request, Response, Transport};
use crate::parse::{self, SubscriptionSummary};
use crate::secrets::{self, Secrets};
use crate::sso::{self, TokenSource};
use crate::time::{DAY_MS, format_rfc3339, parse_instant_millis};
use crate::wit::{
    AccountForecast, AccountPlan, AccountState, ClusterPlan, CostRecord, DeliveryState, EnvironmentCost,
    EnvironmentCostPlan, EventContext, FailureKind, IngestTarget, Report, RequestFailure, RetryPolicy, Subscription,
    SubscriptionOutlook,
};
use crate::{budget, environment, events, ingest, untrusted};

/// Exports one account. `Err` means nothing was sent; an `Ok` report may still list failures.
pub fn export_account(
    plan: &AccountPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("account {}", plan.name), ..Report::default() };
    let mut http = Client::new(transport, plan.retry);
    let client_secret = secrets.require(secrets::ACCOUNT_CLIENT_SECRET)?;
    let mut tokens = TokenSource::new(plan.client.clone(), client_secret, sso::ACCOUNT_SCOPE);
    let outcome = export_account_with(plan, &mut http, &mut tokens, secrets, &mut report);
    outcome.map(|()| with_request_counts(report, &http))
}

/// The report with what the client counted (requests, retries, 429s).
fn with_request_counts(mut report: Report, http: &Client) -> Report {
    report.requests = http.requests;
    report.retries = http.retries;
    report.throttled = http.throttled;
    report
}

fn export_account_with(
    plan: &AccountPlan,
    http: &mut Client,
    tokens: &mut TokenSource,
    secrets: &dyn Secrets,
    report: &mut Report,
) -> Result<(), ExportError> {
    let accounts_url = http::join(&plan.api_url, &format!("/sub/v2/accounts/{}/subscriptions", plan.uuid));
    // The uuid becomes a path segment of every request that follows: it must be a UUID.
    let subscription_uuid = match &plan.subscription {
        Some(uuid) if parse::is_uuid(uuid) => uuid.clone(),
        Some(uuid) => {
            return Err(ExportError::NoSubscription(format!(
                "account {}: the configured subscription \"{}\" is not a UUID",
                plan.name,
                untrusted::bounded(uuid)
            )));
        }
        None => {
            let (request, response, json) = get_json(http, tokens, &accounts_url)?;
            if response.status != 200 {
                return Err(ExportError::Request(http::failure(&request, &response)));
            }
            let list = read(&response, json, parse::subscription_list).map_err(|e| invalid(&request, e))?;
            let (chosen, note) = choose_subscription(&plan.name, &plan.uuid, &list)?;
            if !parse::is_uuid(&chosen.uuid) {
                let index = list.iter().position(|s| std::ptr::eq(s, chosen)).unwrap_or_default();
                return Err(invalid(
                    &request,
                    format!("data[{index}].uuid: \"{}\" is not a UUID", untrusted::bounded(&chosen.uuid)),
                ));
            }
            report.notes.extend(note);
            chosen.uuid.clone()
        }
    };
    report.subscription_uuid = Some(subscription_uuid.clone());

    // Details, daily cost and Dynatrace's forecast each need only the subscription's uuid: their
    // first attempts go out together, one round trip of the critical path instead of three.
    let urls = [
        format!("{accounts_url}/{subscription_uuid}"),
        format!("{accounts_url}/{subscription_uuid}/cost"),
        format!("{accounts_url}/forecast"),
    ];
    let [details, cost, forecast] = get_json_all(http, tokens, &urls);
    let (request, response, json) = details?;
    let subscription: Option<Subscription> = match response.status {
        200 => Some(read(&response, json, parse::subscription).map_err(|e| invalid(&request, e))?),
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

    let (request, response, json) = cost?;
    if response.status != 200 {
        return Err(ExportError::Request(http::failure(&request, &response)));
    }
    let currency =
        subscription.as_ref().and_then(|s| s.budget.currency_code.as_deref()).unwrap_or(events::DEFAULT_CURRENCY);
    let costs = read(&response, json, |body| parse::cost_list(body, currency)).map_err(|e| invalid(&request, e))?;
    let cost_request = request;
    report.records_read = costs.len() as u32;

    let context = EventContext {
        provider: plan.target.provider.clone(),
        account_uuid: plan.uuid.clone(),
        account_name: plan.name.clone(),
    };
    let previous = plan.state.clone().unwrap_or_default();
    let mut batch: Vec<String> = Vec::new();
    // The status and alerts are built, not sent: accounts that share the subscription (DPS for
    // Hybrid) each build them, and the host sends one per subscription (see the WIT).
    if let Some(subscription) = &subscription {
        let described = |e: InvalidRecord| {
            ExportError::InvalidResponse(format!("GET {accounts_url}/{subscription_uuid} and its cost: {e}"))
        };
        let outlook = budget::outlook(subscription, &costs).map_err(described)?;
        let dynatrace_forecast = read_account_forecast(plan, forecast, report);
        let status_event =
            events::subscription_status(&context, subscription, &outlook, dynatrace_forecast.as_ref(), &plan.read_at)
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

    // A state kept for another subscription (a new period, say) says nothing about this one.
    let of_this = |state: Option<DeliveryState>| state.filter(|s| s.subscription_uuid == subscription_uuid);
    let delivery = Delivery::plan(of_this(previous.cost).as_ref(), &days, plan.window_days());
    batch.extend(delivery.to_send.iter().map(|&i| events::with_exported_at(&days[i].1, &plan.read_at)));
    let first_environment = batch.len();

    let mut environment = None;
    if let Some(environment_plan) = &plan.environment_cost {
        let end = newest
            .unwrap_or_else(|| parse_instant_millis(&plan.read_at).unwrap_or(0).div_euclid(DAY_MS) * DAY_MS)
            + DAY_MS;
        let start = end - i64::from(environment_plan.days().max(1)) * DAY_MS;
        match read_environment_costs(plan, environment_plan, http, tokens, &subscription_uuid, start, end) {
            Ok(rows) => {
                report.records_read += rows.len() as u32;
                let totals: Vec<CostRecord> = costs
                    .iter()
                    .filter(|c| parse_instant_millis(&c.start_time).is_some_and(|t| (start..end).contains(&t)))
                    .cloned()
                    .collect();
                let built = environment::environment_cost_booked(&context, &subscription_uuid, &rows, &totals)
                    .map_err(|e| {
                        ExportError::InvalidResponse(format!(
                            "GET {}/{subscription_uuid}/environments/cost (v3) and {}: {e}",
                            plan_v3_base(plan),
                            cost_request.describe()
                        ))
                    })?;
                report.reconciliation = built.reconciliation;
                let delivery = Delivery::plan(
                    of_this(previous.environment_cost.clone()).as_ref(),
                    &built.events,
                    plan.window_days(),
                );
                batch.extend(
                    delivery.to_send.iter().map(|&i| events::with_exported_at(&built.events[i].1, &plan.read_at)),
                );
                environment = Some((built.events, delivery));
            }
            Err(failure) => report.failures.push(failure),
        }
    }

    let (environment_built, environment_skipped) =
        environment.as_ref().map_or((0, 0), |(built, delivery)| (built.len() as u32, delivery.skipped));
    report.events_built = days.len() as u32 + environment_built;
    report.events_skipped = delivery.skipped + environment_skipped;
    let accepted = ingest::ingest(http, secrets, &plan.target, &batch, report);
    if !plan.target.dry_run {
        let environment_cost = match &environment {
            Some((built, delivery)) => {
                Some(delivery.next_state(&subscription_uuid, built, &accepted[first_environment..]))
            }
            // Not read this time: what was delivered before still holds.
            None => previous.environment_cost,
        };
        report.state = Some(AccountState {
            cost: Some(delivery.next_state(&subscription_uuid, &days, &accepted[..first_environment])),
            environment_cost,
        });
    }
    Ok(())
}

/// The account's own forecast; `None` when it has none (some accounts answer 404, and none is
/// made before 15 days of data), which is not a failure. Other failures are noted, not fatal:
/// the forecast only adds figures beside dtcost's.
fn read_account_forecast(plan: &AccountPlan, answer: Answer, report: &mut Report) -> Option<AccountForecast> {
    let left_out = |why: String| format!("Dynatrace's forecast left out: {why}");
    let (request, response, json) = match answer {
        Ok(exchange) => exchange,
        Err(error) => {
            report.notes.push(left_out(error.to_string()));
            return None;
        }
    };
    match response.status {
        200 => match read(&response, json, parse::account_forecast) {
            Ok(forecast) => Some(forecast),
            Err(error) => {
                report.notes.push(left_out(format!("{}: {error}", request.describe())));
                None
            }
        },
        404 => {
            report
                .notes
                .push(format!("account {} has no Dynatrace forecast (HTTP 404); dtcost's own is used", plan.name));
            None
        }
        status => {
            let failure = http::failure(&request, &response);
            report.notes.push(left_out(format!("{} answered HTTP {status}: {}", failure.request, failure.message)));
            None
        }
    }
}

fn plan_v3_base(plan: &AccountPlan) -> String {
    http::join(&plan.api_url, &format!("/sub/v3/accounts/{}/subscriptions", plan.uuid))
}

/// Pages beyond those the row bound fills that a walk may take (the last, short page of each
/// window and a few more), and pages without rows that still promise more.
const PAGE_MARGIN: u64 = 10;

/// Walks `GET /sub/v3/.../environments/cost` over [start, end) in windows of at most
/// `window-days` days: the first page of a window with `startTime`/`endTime`, the next ones with
/// `page-key` alone (the safe reading of the contract), until `nextPageKey` is null, empty or
/// absent. Each request has the client's retries (long walks are known to meet 502s).
///
/// The walk is bounded: at most `max-rows-per-day` rows for each day of [start, end), and at
/// most the pages those rows fill (counted with the configured page size, else the largest page
/// seen) plus [`PAGE_MARGIN`] per window; a server handing out a fresh page key on every page
/// meets a `limit-exceeded` failure long before the instance's memory runs out.
fn read_environment_costs(
    plan: &AccountPlan,
    environment_plan: &EnvironmentCostPlan,
    http: &mut Client,
    tokens: &mut TokenSource,
    subscription_uuid: &str,
    start: i64,
    end: i64,
) -> Result<Vec<EnvironmentCost>, RequestFailure> {
    let url = format!("{}/{subscription_uuid}/environments/cost", plan_v3_base(plan));
    let window = i64::from(environment_plan.window_days().max(1)) * DAY_MS;
    let days = (end - start).div_euclid(DAY_MS).max(1) as u64;
    let windows = (end - start).div_euclid(window).max(0) as u64 + 1;
    let max_rows = days.saturating_mul(u64::from(environment_plan.max_rows_per_day().max(1)));
    let mut largest_page = u64::from(environment_plan.page_size.unwrap_or(0));
    let (mut pages, mut empty_pages_with_more) = (0u64, 0u64);
    let mut rows = Vec::new();
    let mut from = start;
    while from < end {
        let to = (from + window).min(end);
        let (from_text, to_text) = (format_rfc3339(from), format_rfc3339(to));
        let page_size = environment_plan.page_size.map(|size| size.to_string());
        let mut query = vec![("startTime", from_text.as_str()), ("endTime", to_text.as_str())];
        if let Some(size) = &page_size {
            query.push(("page-size", size));
        }
        let mut next = format!("{url}?{}", http::form_encode(&query));
        let mut seen_keys = HashSet::new();
        loop {
            let (request, response, json) = get_json(http, tokens, &next).map_err(|error| match error {
                ExportError::Request(failure) => failure,
                other => RequestFailure {
                    request: format!("GET {next}"),
                    kind: FailureKind::Other,
                    status: None,
                    message: other.to_string(),
                    events_not_sent: 0,
                },
            })?;
            pages += 1;
            let failed = |kind: FailureKind, message: String| RequestFailure {
                request: request.describe(),
                kind,
                status: Some(response.status),
                message: format!("cost per environment not exported: {message}"),
                events_not_sent: 0,
            };
            if response.status != 200 {
                let failure = http::failure(&request, &response);
                return Err(failed(failure.kind, failure.message));
            }
            let (page, next_key) = read(&response, json, parse::environment_cost_page)
                .map_err(|e| failed(FailureKind::Other, e.to_string()))?;
            let page_rows = page.len() as u64;
            rows.extend(page);
            largest_page = largest_page.max(page_rows);
            let Some(key) = next_key else { break };
            if page_rows == 0 {
                empty_pages_with_more += 1;
            }
            let max_pages = max_rows.div_ceil(largest_page.max(1)) + windows * PAGE_MARGIN;
            let over = if rows.len() as u64 > max_rows {
                Some(format!("{} rows", rows.len()))
            } else if pages >= max_pages {
                Some(format!("{pages} pages (the most {max_rows} rows fill, at {} a page, and a margin)", largest_page))
            } else if empty_pages_with_more > PAGE_MARGIN {
                Some(format!("{empty_pages_with_more} pages without rows that promised more"))
            } else {
                None
            };
            if let Some(over) = over {
                return Err(RequestFailure {
                    status: None,
                    ..failed(
                        FailureKind::LimitExceeded,
                        format!(
                            "the walk stopped after {over}, more than {days} days x max-rows-per-day {} allow \
                         (the API kept sending a next page key); if the account really has more environments x \
                         capabilities a day, raise max-rows-per-day",
                            environment_plan.max_rows_per_day()
                        ),
                    )
                });
            }
            if !seen_keys.insert(key.clone()) {
                return Err(failed(
                    FailureKind::Other,
                    format!("the API sent page key {} twice; stopped to avoid a loop", untrusted::bounded(&key)),
                ));
            }
            next = format!("{url}?{}", http::form_encode(&[("page-key", key.as_str())]));
        }
        from = to;
    }
    Ok(rows)
}

/// Which cost days to send, given what earlier runs delivered.
struct Delivery {
    /// Indexes into the day list.
    to_send: Vec<usize>,
    skipped: u32,
    frozen_before: Option<i64>,
    window_start: i64,
    already_sent: HashSet<String>,
}

impl Delivery {
    fn plan(state: Option<&DeliveryState>, days: &[(i64, String)], window_days: u32) -> Delivery {
        let frozen_before = state.and_then(|s| s.frozen_before.as_deref()).and_then(parse_instant_millis);
        let already_sent: HashSet<String> = state.map(|s| s.sent.iter().cloned().collect()).unwrap_or_default();
        let newest = days.last().map_or(0, |(start, _)| *start);
        // 0 days: nothing is ever final, every day is compared by id.
        let window_start = if window_days == 0 { i64::MIN } else { newest - i64::from(window_days - 1) * DAY_MS };
        let mut to_send = Vec::new();
        let mut skipped = 0;
        for (index, (start, event)) in days.iter().enumerate() {
            let delivered = frozen_before.is_some_and(|frozen| *start < frozen)
                || events::event_id_of(event).is_some_and(|id| already_sent.contains(id));
            if delivered {
                skipped += 1;
            } else {
                to_send.push(index);
            }
        }
        Delivery { to_send, skipped, frozen_before, window_start, already_sent }
    }

    /// The state after this run: days before the window are final once every one of them was
    /// delivered; within the window, the ids accepted now or before.
    fn next_state(&self, subscription_uuid: &str, days: &[(i64, String)], accepted: &[bool]) -> DeliveryState {
        let mut delivered: HashSet<usize> =
            self.to_send.iter().zip(accepted).filter(|(_, ok)| **ok).map(|(index, _)| *index).collect();
        let earliest_undelivered = self.to_send.iter().filter(|i| !delivered.contains(i)).map(|&i| days[i].0).min();
        let mut frozen = self.window_start.min(earliest_undelivered.unwrap_or(i64::MAX));
        if let Some(previous) = self.frozen_before {
            frozen = frozen.max(previous);
        }
        delivered.extend(days.iter().enumerate().filter_map(|(index, (_, event))| {
            events::event_id_of(event).filter(|id| self.already_sent.contains(*id)).map(|_| index)
        }));
        let mut sent: Vec<String> = delivered
            .into_iter()
            .filter(|&index| days[index].0 >= frozen)
            .filter_map(|index| events::event_id_of(&days[index].1).map(str::to_owned))
            .collect();
        sent.sort_unstable();
        DeliveryState {
            subscription_uuid: subscription_uuid.to_owned(),
            frozen_before: (!days.is_empty() && frozen > i64::MIN).then(|| format_rfc3339(frozen)),
            sent,
        }
    }
}

/// A GET's request, its response and its 2xx body as JSON (`None` when it is not JSON: the
/// reader then says why).
type Answer = Result<(Request, Response, Option<Value>), ExportError>;

/// GETs with the account token whose first attempts go out together (see
/// [`Client::exchange_all`]), answered in the order of `urls`.
fn get_json_all<const N: usize>(http: &mut Client, tokens: &mut TokenSource, urls: &[String; N]) -> [Answer; N] {
    let build =
        |index: usize, authorization: String| Request::get(urls[index].clone()).header("authorization", authorization);
    let mut answers = tokens
        .send_all(http, N, build, |body| parse::json(body).ok())
        .into_iter()
        .map(|answer| answer.map(|exchange| (exchange.request, exchange.response, exchange.parsed)));
    std::array::from_fn(|_| {
        answers.next().unwrap_or_else(|| Err(ExportError::InvalidResponse("a request went unanswered".into())))
    })
}

/// GET with the account token; a 2xx body comes back as JSON, parsed once (`None` when it is
/// not JSON: the reader then says why).
fn get_json(
    http: &mut Client,
    tokens: &mut TokenSource,
    url: &str,
) -> Result<(Request, Response, Option<Value>), ExportError> {
    tokens
        .send(
            http,
            |authorization| Request::get(url.to_owned()).header("authorization", authorization),
            |body| parse::json(body).ok(),
        )
        .map(|exchange| (exchange.request, exchange.response, exchange.parsed))
}

/// Reads a 2xx body with `reader`, from the JSON the client parsed; when even the last try was
/// not JSON, the error says so.
fn read<T>(
    response: &Response,
    json: Option<Value>,
    reader: impl FnOnce(&Value) -> Result<T, InvalidRecord>,
) -> Result<T, InvalidRecord> {
    match json {
        Some(json) => reader(&json),
        None => reader(&parse::json(&response.body)?),
    }
}

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
    with_request_counts(report, &http)
}

/// Exports one Managed cluster's license usage.
pub fn export_cluster(
    plan: &ClusterPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("cluster {}", plan.name), ..Report::default() };
    let mut http = Client::new(transport, plan.retry);
    let outcome = export_cluster_with(plan, &mut http, secrets, &mut report);
    outcome.map(|()| with_request_counts(report, &http))
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::wit::{BudgetAlerting, EnvironmentCostPlan, OauthClient, TargetAuth};

    /// Answers by `METHOD url` (a sequence per route; its last answer repeats), records what was
    /// sent, and keeps a clock that only sleeping advances.
    /// Status (0: the connection drops), body and headers.
    type Answer = (u16, String, Vec<(String, String)>);

    struct FakeApi {
        routes: HashMap<String, Vec<Answer>>,
        sent: Vec<Request>,
        /// The requests handed over at once by `send_all`, as `METHOD url`.
        together: Vec<Vec<String>>,
        slept: Vec<u64>,
        clock: u64,
    }

    impl FakeApi {
        fn new(routes: &[(&str, u16, &str)]) -> Self {
            let mut api =
                FakeApi { routes: HashMap::new(), sent: Vec::new(), together: Vec::new(), slept: Vec::new(), clock: 0 };
            for (route, status, body) in routes {
                api.then(route, *status, body, &[]);
            }
            api
        }

        /// Appends an answer to `route`'s sequence.
        fn then(&mut self, route: &str, status: u16, body: &str, headers: &[(&str, &str)]) -> &mut Self {
            let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            self.routes.entry(route.to_owned()).or_default().push((status, body.to_owned(), headers));
            self
        }

        fn posted_events(&self) -> Vec<Vec<serde_json::Value>> {
            self.sent
                .iter()
                .filter(|r| r.url.contains("bizevents"))
                .map(|r| serde_json::from_slice(&r.body).unwrap())
                .collect()
        }
    }

    impl Transport for FakeApi {
        fn send(&mut self, request: &Request) -> Result<http::Response, http::TransportError> {
            self.sent.push(request.clone());
            let Some(answers) = self.routes.get_mut(&request.describe()) else {
                let message = format!("no route for {}", request.describe());
                return Err(http::TransportError { kind: FailureKind::Denied, message });
            };
            let (status, body, headers) = if answers.len() > 1 { answers.remove(0) } else { answers[0].clone() };
            if status == 0 {
                return Err(http::TransportError { kind: FailureKind::Connection, message: "connection reset".into() });
            }
            Ok(http::Response { status, headers, body: body.into_bytes() })
        }

        fn send_all(&mut self, requests: &[Request]) -> Vec<Result<http::Response, http::TransportError>> {
            self.together.push(requests.iter().map(Request::describe).collect());
            requests.iter().map(|request| self.send(request)).collect()
        }

        fn monotonic_millis(&mut self) -> u64 {
            self.clock
        }

        fn wall_millis(&mut self) -> u64 {
            1_700_000_000_000 + self.clock
        }

        fn sleep_millis(&mut self, millis: u64) {
            self.slept.push(millis);
            self.clock += millis;
        }
    }

    const TOKEN: &str = "POST https://sso/token";
    const LIST: &str = "GET https://api/sub/v2/accounts/acc/subscriptions";
    const INGEST: &str = "POST https://env/api/v2/bizevents/ingest";

    fn plan(subscription: Option<&str>) -> AccountPlan {
        AccountPlan {
            name: "ACME".into(),
            uuid: "acc".into(),
            client: OauthClient {
                client_id: "dt0s02.X".into(),
                token_url: "https://sso/token".into(),
                account_uuid: Some("acc".into()),
            },
            api_url: "https://api".into(),
            subscription: subscription.map(str::to_owned),
            read_at: "2026-11-23T00:00:00Z".into(),
            target: IngestTarget {
                environment_url: "https://env".into(),
                auth: TargetAuth::ApiToken,
                provider: "dps4ma.ingester".into(),
                max_batch_bytes: None,
                dry_run: false,
            },
            retry: RetryPolicy::default(),
            state: None,
            window_days: None,
            environment_cost: None,
            budget_alerting: BudgetAlerting::default(),
        }
    }

    fn secrets() -> HashMap<String, String> {
        HashMap::from([
            ("account-client-secret".to_owned(), "client-secret-value".to_owned()),
            ("target-api-token".to_owned(), "dt0c01.PUB.token-secret".to_owned()),
        ])
    }

    const DETAILS: &str = r#"{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE","account":{"uuid":"acc"},
        "budget":{"total":100,"used":3,"currencyCode":"USD"},"currentPeriod":{"startTime":"2026-01-01","endTime":"2026-12-31","daysRemaining":38}}"#;
    const COST: &str = r#"{"data":[{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":2,"currencyCode":"USD"},
        {"startTime":"2026-11-21T00:00:00Z","endTime":"2026-11-22T00:00:00Z","value":1,"currencyCode":"USD"}],"lastModifiedTime":"x"}"#;

    fn happy_routes(list: &str) -> Vec<(String, u16, String)> {
        vec![
            (TOKEN.into(), 200, r#"{"access_token":"tok","expires_in":300}"#.into()),
            (LIST.into(), 200, list.into()),
            (format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001"), 200, DETAILS.into()),
            (format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost"), 200, COST.into()),
            (INGEST.into(), 202, String::new()),
            (format!("{LIST}/forecast"), 404, r#"{"code":404,"message":"No forecast","errorsMap":{}}"#.into()),
        ]
    }

    fn api(routes: &[(String, u16, String)]) -> FakeApi {
        let borrowed: Vec<(&str, u16, &str)> = routes.iter().map(|(k, s, b)| (k.as_str(), *s, b.as_str())).collect();
        FakeApi::new(&borrowed)
    }

    const ONE_ACTIVE: &str =
        r#"{"data":[{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#;

    #[test]
    fn an_account_is_read_transformed_and_its_cost_ingested_in_five_reads_and_one_post() {
        // (token, list, then details, cost and forecast together: four round trips)
        let list = r#"{"data":[{"uuid":"old","type":"REGULAR","name":"o","status":"EXPIRED","startTime":"2025-01-01"},
                               {"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE","startTime":"2026-01-01"}]}"#;
        let mut api = api(&happy_routes(list));
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!((report.events_built, report.events_sent, report.events_accepted, report.requests), (2, 2, 2, 6));
        assert_eq!(report.subscription_uuid.as_deref(), Some("5e1a0c2d-7b3f-4c1e-9a2d-000000000001"));
        assert_eq!(report.newest_day.as_deref(), Some("2026-11-22T00:00:00Z"));
        let token = String::from_utf8(api.sent[0].body.clone()).unwrap();
        assert!(token.contains("grant_type=client_credentials") && token.contains("scope=account-uac-read"));
        assert!(token.contains("resource=urn%3Adtaccount%3Aacc"));
        assert!(api.sent[1].headers.contains(&("authorization", "Bearer tok".into())));
        let ingest = api.sent.last().unwrap();
        assert!(ingest.headers.contains(&("authorization", "Api-Token dt0c01.PUB.token-secret".into())));
        let body: Vec<serde_json::Value> = serde_json::from_slice(&ingest.body).unwrap();
        assert_eq!(body.len(), 2, "the status is the host's to send (one per subscription)");
        assert_eq!(body[0]["costToDate"], 1);
        assert_eq!(body[1]["costToDate"], 3);
        assert!(report.subscription_outlook.unwrap().status_event.contains("dps.subscription.status"));
    }

    #[test]
    fn details_cost_and_forecast_go_out_together_after_the_list() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        export_account(&plan(None), &mut api, &secrets()).unwrap();
        let expected = [
            format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001"),
            format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost"),
            format!("{LIST}/forecast"),
        ];
        assert_eq!(api.together, [expected.to_vec()]);
    }

    #[test]
    fn no_active_regular_subscription_is_an_error_naming_the_account() {
        let list = r#"{"data":[{"uuid":"old","type":"REGULAR","name":"o","status":"EXPIRED"}]}"#;
        let error = export_account(&plan(None), &mut api(&happy_routes(list)), &secrets()).unwrap_err();
        let ExportError::NoSubscription(message) = error else { panic!("{error:?}") };
        assert!(
            message.contains("account ACME (acc)") && message.contains("old (type REGULAR, status EXPIRED)"),
            "{message}"
        );
    }

    #[test]
    fn of_several_active_subscriptions_the_newest_is_chosen_and_said() {
        let list = r#"{"data":[{"uuid":"s0","type":"REGULAR","name":"a","status":"ACTIVE","startTime":"2025-06-01"},
                               {"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"b","status":"ACTIVE","startTime":"2026-01-01"}]}"#;
        let report = export_account(&plan(None), &mut api(&happy_routes(list)), &secrets()).unwrap();
        assert_eq!(report.subscription_uuid.as_deref(), Some("5e1a0c2d-7b3f-4c1e-9a2d-000000000001"));
        assert!(
            report.notes[0].contains("2 ACTIVE REGULAR subscriptions; exporting 5e1a0c2d-7b3f-4c1e-9a2d-000000000001"),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn sso_rejections_surface_the_error_description() {
        let mut routes = happy_routes("{}");
        routes[0] = (
            TOKEN.into(),
            400,
            r#"{"errorCode":400,"error":"invalid_client","error_description":"Invalid client credentials"}"#.into(),
        );
        let error = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap_err();
        let ExportError::Authentication(failure) = error else { panic!("{error:?}") };
        assert_eq!((failure.status, failure.oauth_error.as_deref()), (400, Some("invalid_client")));
        assert_eq!(failure.message, "Invalid client credentials");
    }

    #[test]
    fn an_sso_that_echoes_the_posted_form_does_not_get_the_secret_into_the_error() {
        let mut routes = happy_routes("{}");
        routes[0] = (
            TOKEN.into(),
            401,
            r#"{"error":"invalid_client","error_description":"bad: grant_type=client_credentials&client_id=dt0s02.X&client_secret=client-secret-value"}"#.into(),
        );
        let error = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap_err();
        assert!(!format!("{error:?}").contains("client-secret-value"), "{error:?}");
    }

    #[test]
    fn a_hybrid_account_that_cannot_read_shared_details_still_exports_its_cost() {
        let mut routes = happy_routes("{}");
        routes[2].1 = 404;
        routes[2].2 = r#"{"code":404,"message":"not found","errorsMap":{}}"#.into();
        let report =
            export_account(&plan(Some("5e1a0c2d-7b3f-4c1e-9a2d-000000000001")), &mut api(&routes), &secrets()).unwrap();
        assert_eq!(report.events_built, 2, "cost only, no status event");
        assert!(report.notes[0].contains("not readable"));
    }

    #[test]
    fn a_partial_ingest_success_resends_only_the_refused_event_then_reports_it() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 400, r#"{"errors":[{"index":1,"id":"","source":"","message":"Invalid event"}]}"#, &[]).then(
            INGEST,
            400,
            r#"{"errors":[{"index":0,"id":"","source":"","message":"Invalid event"}]}"#,
            &[],
        );
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!((report.events_sent, report.events_accepted, report.rejected.len()), (2, 1, 1));
        assert_eq!(report.rejected[0].message, "Invalid event");
        let posts = api.posted_events();
        assert_eq!(posts.len(), 3, "the batch, then the refused event twice more");
        assert_eq!(posts[1], vec![posts[0][1].clone()], "only the refused event is sent again");
        assert_eq!(posts[2], posts[1]);
    }

    #[test]
    fn a_refused_event_accepted_on_its_second_try_counts_once() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 400, r#"{"errors":[{"index":1,"message":"Temporarily unavailable"}]}"#, &[]).then(
            INGEST,
            202,
            "",
            &[],
        );
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!((report.events_accepted, report.rejected.len(), report.failures.len()), (2, 0, 0));
        assert_eq!(report.state.unwrap().cost.unwrap().sent.len(), 2, "both cost days are remembered as delivered");
    }

    #[test]
    fn transient_failures_are_retried_with_backoff_and_retry_after() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        let cost = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost");
        api.routes.remove(&cost);
        api.then(&cost, 503, "busy", &[])
            .then(&cost, 0, "", &[])
            .then(&cost, 429, "{}", &[("retry-after", "7")])
            // A body cut short reaches the job as a transport failure (the component's transport
            // sees fewer bytes than the Content-Length), like a dropped connection.
            .then(&cost, 0, "", &[])
            .then(&cost, 200, COST, &[]);
        let mut plan = plan(None);
        plan.retry = RetryPolicy {
            initial_delay_ms: Some(100),
            max_delay_ms: Some(1000),
            multiplier: Some(2.0),
            max_elapsed_ms: Some(60_000),
            attempt_timeout_ms: Some(0),
        };
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        assert_eq!((report.events_accepted, report.retries, report.throttled), (2, 4, 1));
        assert_eq!(api.slept.len(), 4);
        assert!((50..=100).contains(&api.slept[0]), "first backoff: {:?}", api.slept);
        assert!((100..=200).contains(&api.slept[1]), "second backoff: {:?}", api.slept);
        assert_eq!(api.slept[2], 7000, "Retry-After is honoured");
    }

    #[test]
    fn a_429_without_retry_after_waits_for_the_rate_limit_reset() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        let reset_micros = (1_700_000_000_000u64 + 2_500) * 1000;
        api.then(INGEST, 429, "{}", &[("x-ratelimit-reset", &reset_micros.to_string())]).then(INGEST, 202, "", &[]);
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!(report.events_accepted, 2);
        assert_eq!(api.slept, vec![2_500]);
    }

    #[test]
    fn retries_stop_at_the_time_budget_and_say_so() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 502, r#"{"error":{"code":502,"message":"Bad Gateway"}}"#, &[]);
        let mut plan = plan(None);
        plan.retry = RetryPolicy {
            initial_delay_ms: Some(1000),
            max_delay_ms: Some(4000),
            multiplier: Some(2.0),
            max_elapsed_ms: Some(10_000),
            attempt_timeout_ms: Some(0),
        };
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        assert_eq!(report.failures[0].status, Some(502));
        assert_eq!(report.failures[0].events_not_sent, 2);
        assert!(api.slept.iter().sum::<u64>() <= 10_000, "{:?}", api.slept);
        assert!(report.retries >= 2);
        assert!(report.state.unwrap().cost.unwrap().sent.is_empty(), "nothing is remembered as sent");
    }

    #[test]
    fn a_complete_2xx_whose_body_is_not_json_is_not_retried() {
        for body in [r#"{"data":[{"startTime":"2026-11"#, "<html>maintenance</html>", "1e999", "[[[[[[[[[[[[[[["] {
            let mut api = api(&happy_routes(ONE_ACTIVE));
            let cost = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost");
            api.routes.remove(&cost);
            api.then(&cost, 200, body, &[]).then(&cost, 200, COST, &[]);
            let error = export_account(&plan(None), &mut api, &secrets()).unwrap_err();
            assert!(matches!(error, ExportError::InvalidResponse(_)), "{body}: {error}");
            assert!(api.slept.is_empty(), "{body}: the same bytes would come again: {:?}", api.slept);
        }
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 403, r#"{"error":{"code":403,"message":"Token is missing required scope."}}"#, &[]);
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!((report.retries, api.slept.len()), (0, 0));
    }

    #[test]
    fn an_expired_token_is_replaced_once_on_401() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(LIST);
        api.then(LIST, 401, r#"{"code":401,"message":"Token expired","errorsMap":{}}"#, &[]).then(
            LIST,
            200,
            ONE_ACTIVE,
            &[],
        );
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!(report.events_accepted, 2);
        assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/token")).count(), 2);
    }

    #[test]
    fn tokens_are_refreshed_before_they_expire() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(TOKEN);
        api.then(TOKEN, 200, r#"{"access_token":"t1","expires_in":1}"#, &[]).then(
            TOKEN,
            200,
            r#"{"access_token":"t2","expires_in":300}"#,
            &[],
        );
        let details = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001");
        api.routes.remove(&details);
        // A 503 on the details (and on the cost, sent with it) makes the job wait at least 2 s:
        // longer than the first token lives.
        api.then(&details, 503, "", &[]).then(&details, 200, DETAILS, &[]);
        let cost = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost");
        api.routes.remove(&cost);
        api.then(&cost, 503, "", &[]).then(&cost, 200, COST, &[]);
        let mut plan = plan(None);
        plan.retry.initial_delay_ms = Some(4000);
        export_account(&plan, &mut api, &secrets()).unwrap();
        let last_cost = api.sent.iter().rev().find(|r| r.url.ends_with("/cost")).unwrap();
        assert!(last_cost.headers.contains(&("authorization", "Bearer t2".into())), "{:?}", last_cost.headers);
    }

    #[test]
    fn a_retried_request_carries_a_fresh_token_on_every_attempt() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(TOKEN);
        api.then(TOKEN, 200, r#"{"access_token":"t1","expires_in":2}"#, &[])
            .then(TOKEN, 200, r#"{"access_token":"t2","expires_in":2}"#, &[])
            .then(TOKEN, 200, r#"{"access_token":"t3","expires_in":2}"#, &[]);
        let details = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001");
        api.routes.remove(&details);
        // Backoff of 4 s between the attempts of one request: each token is dead before the next.
        api.then(&details, 503, "", &[]).then(&details, 503, "", &[]).then(&details, 200, DETAILS, &[]);
        let mut plan = plan(None);
        plan.retry.initial_delay_ms = Some(4000);
        plan.retry.multiplier = Some(1.0);
        export_account(&plan, &mut api, &secrets()).unwrap();
        let attempts: Vec<&str> = api
            .sent
            .iter()
            .filter(|r| r.url.ends_with("/5e1a0c2d-7b3f-4c1e-9a2d-000000000001"))
            .map(|r| r.headers.iter().find(|(n, _)| *n == "authorization").map_or("", |(_, v)| v.as_str()))
            .collect();
        assert_eq!(attempts.len(), 3);
        assert_ne!(attempts[0], attempts[1], "the second attempt must not reuse the first's expired token");
        assert_ne!(attempts[1], attempts[2], "nor the third the second's");
    }

    #[test]
    fn a_401_after_a_refresh_refreshes_again_within_the_budget() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(LIST);
        let expired = r#"{"code":401,"message":"Token expired","errorsMap":{}}"#;
        api.then(LIST, 401, expired, &[]).then(LIST, 401, expired, &[]).then(LIST, 200, ONE_ACTIVE, &[]);
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!(report.events_accepted, 2);
        assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/token")).count(), 3);
    }

    #[test]
    fn fresh_tokens_refused_three_times_are_unauthorized_not_expired() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(LIST);
        api.then(LIST, 401, r#"{"code":401,"message":"The account in the path does not match","errorsMap":{}}"#, &[]);
        let mut plan = plan(None);
        plan.retry.initial_delay_ms = Some(10);
        let Err(ExportError::Request(failure)) = export_account(&plan, &mut api, &secrets()) else { panic!() };
        assert_eq!(failure.kind, FailureKind::Unauthorized);
        assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/token")).count(), 3);
    }

    #[test]
    fn a_stale_token_refused_with_no_time_left_is_token_expired() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(TOKEN);
        api.then(TOKEN, 200, r#"{"access_token":"t1","expires_in":300}"#, &[]);
        let details = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001");
        api.routes.remove(&details);
        api.then(&details, 401, r#"{"code":401,"message":"Token expired","errorsMap":{}}"#, &[]);
        let mut plan = plan(None);
        plan.retry.max_elapsed_ms = Some(0);
        let Err(ExportError::Request(failure)) = export_account(&plan, &mut api, &secrets()) else { panic!() };
        assert_eq!(failure.kind, FailureKind::TokenExpired);
    }

    #[test]
    fn an_oauth_target_posts_to_the_platform_path_only_on_apps_hosts() {
        for (url, path) in [
            ("https://abc12345.live.dynatrace.com", "https://abc12345.live.dynatrace.com/api/v2/bizevents/ingest"),
            ("https://managed.example.com/e/env-1", "https://managed.example.com/e/env-1/api/v2/bizevents/ingest"),
            ("http://127.0.0.1:9", "http://127.0.0.1:9/api/v2/bizevents/ingest"),
            (
                "https://abc12345.apps.dynatrace.com",
                "https://abc12345.apps.dynatrace.com/platform/classic/environment-api/v2/bizevents/ingest",
            ),
        ] {
            let mut routes = happy_routes(ONE_ACTIVE);
            routes.retain(|(route, ..)| route != INGEST);
            routes.push((format!("POST {path}"), 202, String::new()));
            let mut api = api(&routes);
            let mut plan = plan(None);
            plan.target.environment_url = url.into();
            plan.target.auth = TargetAuth::Oauth(OauthClient {
                client_id: "dt0s02.INGEST".into(),
                token_url: "https://sso/token".into(),
                account_uuid: None,
            });
            let mut secrets = secrets();
            secrets.insert("target-client-secret".into(), "ingest-secret".into());
            let report = export_account(&plan, &mut api, &secrets).unwrap();
            assert_eq!(report.events_accepted, 2, "{url}: {:?}", report.failures);
            let ingest = api.sent.last().unwrap();
            assert!(ingest.headers.iter().any(|(n, v)| *n == "authorization" && v.starts_with("Bearer ")));
        }
    }

    #[test]
    fn a_partial_success_without_indexes_resends_nothing_and_reports_every_event_unconfirmed() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 400, r#"{"errors":[{"message":"Invalid event"}]}"#, &[]).then(INGEST, 202, "", &[]);
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/ingest")).count(), 1, "nothing is resent");
        assert_eq!((report.events_accepted, report.rejected.len()), (1, 2));
        assert!(report.rejected[0].message.contains("without naming them"));
        assert!(report.state.unwrap().cost.unwrap().sent.is_empty(), "unconfirmed days are sent again next run");
    }

    #[test]
    fn a_partial_success_naming_events_by_id_resends_only_those() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        let first = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!(first.events_accepted, 2);
        let posted = api.posted_events();
        let id = posted[0][1]["event.id"].as_str().unwrap().to_owned();
        let mut api = self::api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 400, &format!(r#"{{"errors":[{{"id":"{id}","message":"no"}}]}}"#), &[]).then(
            INGEST,
            202,
            "",
            &[],
        );
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        let resent = api.posted_events();
        assert_eq!(resent.len(), 2);
        assert_eq!(resent[1].len(), 1);
        assert_eq!(resent[1][0]["event.id"], id.as_str());
        assert_eq!((report.events_accepted, report.rejected.len()), (2, 0));
    }

    #[test]
    fn a_413_splits_the_batch_until_it_fits() {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 413, "", &[]).then(INGEST, 202, "", &[]);
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!((report.events_sent, report.events_accepted), (2, 2));
        let sizes: Vec<usize> = api.posted_events().iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 1, 1]);
    }

    #[test]
    fn a_rerun_sends_only_new_or_changed_days() {
        let first = export_account(&plan(None), &mut api(&happy_routes(ONE_ACTIVE)), &secrets()).unwrap();
        let state = first.state.unwrap();
        assert_eq!(state.cost.as_ref().unwrap().sent.len(), 2);

        // Same data: nothing goes.
        let mut plan = plan(None);
        plan.state = Some(state.clone());
        let mut again = api(&happy_routes(ONE_ACTIVE));
        let report = export_account(&plan, &mut again, &secrets()).unwrap();
        assert_eq!((report.events_built, report.events_skipped, report.events_sent), (2, 2, 0));
        assert_eq!(report.state.as_ref(), Some(&state));

        // A late booking on the older day changes it and the running sum of the newer one.
        let mut changed = happy_routes(ONE_ACTIVE);
        changed[3].2 = COST.replace(r#""value":1,"#, r#""value":1.5,"#);
        let mut late = api(&changed);
        let report = export_account(&plan, &mut late, &secrets()).unwrap();
        assert_eq!((report.events_skipped, report.events_sent), (0, 2));
        let posted = late.posted_events();
        assert!(posted[0].iter().all(|e| e["exportedAt"] == "2026-11-23T00:00:00Z"));
    }

    #[test]
    fn days_before_the_window_are_final_once_delivered() {
        let mut plan = plan(None);
        plan.window_days = Some(1);
        let first = export_account(&plan, &mut api(&happy_routes(ONE_ACTIVE)), &secrets()).unwrap();
        let state = first.state.unwrap();
        let cost = state.cost.as_ref().unwrap();
        assert_eq!(cost.frozen_before.as_deref(), Some("2026-11-22T00:00:00Z"));
        assert_eq!(cost.sent.len(), 1, "only the window's day is remembered by id");

        // The older day changes, but it is final: only the newer day (its running sum changed) goes.
        plan.state = Some(state);
        let mut changed = happy_routes(ONE_ACTIVE);
        changed[3].2 = COST.replace(r#""value":1,"#, r#""value":1.5,"#);
        let mut late = api(&changed);
        let report = export_account(&plan, &mut late, &secrets()).unwrap();
        assert_eq!((report.events_skipped, report.events_sent), (1, 1));
    }

    #[test]
    fn an_undelivered_old_day_is_not_frozen() {
        let mut plan = plan(None);
        plan.window_days = Some(1);
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 403, "{}", &[]);
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        assert_eq!(report.state.unwrap().cost.unwrap().frozen_before.as_deref(), Some("2026-11-21T00:00:00Z"));
    }

    #[test]
    fn a_failed_ingest_says_how_many_events_were_not_sent() {
        let mut routes = happy_routes(
            r#"{"data":[{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#,
        );
        routes[4] =
            (INGEST.into(), 403, r#"{"error":{"code":403,"message":"Token is missing required scope."}}"#.into());
        let report = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap();
        assert_eq!(report.events_accepted, 0);
        assert_eq!(report.failures[0].events_not_sent, 2);
        assert_eq!(report.failures[0].message, "Token is missing required scope.");
    }

    #[test]
    fn an_invalid_cost_record_stops_the_account_naming_request_record_and_field() {
        let mut routes = happy_routes(
            r#"{"data":[{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#,
        );
        routes[3].2 =
            r#"{"data":[{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":null}]}"#.into();
        let mut api = api(&routes);
        let error = export_account(&plan(None), &mut api, &secrets()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid response: GET https://api/sub/v2/accounts/acc/subscriptions/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost: data[0].value: expected a number, got null"
        );
        assert!(api.sent.iter().all(|r| r.method == http::Method::Get || r.url.contains("token")), "nothing ingested");
    }

    const V3: &str =
        "GET https://api/sub/v3/accounts/acc/subscriptions/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/environments/cost";

    /// Cost per environment: two windows of at most 20 days over the last 30 (the first empty),
    /// the second in two pages, the second page after a 502.
    fn with_environment_cost(routes: Vec<(String, u16, String)>) -> (FakeApi, AccountPlan) {
        let mut api = api(&routes);
        let first = format!("{V3}?startTime=2026-10-24T00%3A00%3A00Z&endTime=2026-11-13T00%3A00%3A00Z&page-size=2");
        api.then(&first, 200, r#"{"data":[],"lastModifiedTime":"x"}"#, &[]);
        let second = format!("{V3}?startTime=2026-11-13T00%3A00%3A00Z&endTime=2026-11-23T00%3A00%3A00Z&page-size=2");
        api.then(
            &second,
            200,
            r#"{"data":[{"clusterId":null,"environmentId":"abc12345","cost":[
                {"startTime":"2026-11-21T00:00:00Z","endTime":"2026-11-22T00:00:00Z","value":1,"currencyCode":"USD",
                 "capabilityKey":"LOGS","capabilityName":"Log Monitoring Classic","bookingDate":"2026-11-22T00:00:00Z"},
                {"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":1.5,"currencyCode":"USD",
                 "capabilityKey":"LOGS","capabilityName":"Log Monitoring Classic","bookingDate":"2026-11-23T00:00:00Z"}]}],
              "lastModifiedTime":"x","nextPageKey":"k/1="}"#,
            &[],
        );
        let next = format!("{V3}?page-key=k%2F1%3D");
        api.then(&next, 502, r#"{"error":{"code":502,"message":"Bad Gateway"}}"#, &[]).then(
            &next,
            200,
            r#"{"data":[{"clusterId":"c-1","environmentId":"f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b","cost":[
                {"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":0.25,"currencyCode":"USD",
                 "capabilityKey":"FULLSTACK_MONITORING","capabilityName":"Full-Stack Monitoring","bookingDate":"2026-11-23T00:00:00Z"}]}],
              "lastModifiedTime":"x","nextPageKey":""}"#,
            &[],
        );
        let mut plan = plan(None);
        plan.environment_cost = Some(EnvironmentCostPlan {
            days: Some(30),
            window_days: Some(20),
            page_size: Some(2),
            max_rows_per_day: None,
        });
        plan.retry.initial_delay_ms = Some(10);
        (api, plan)
    }

    #[test]
    fn cost_per_environment_is_walked_in_windows_and_pages_and_reconciled() {
        let (mut api, plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        let walked: Vec<&str> = api.sent.iter().map(|r| r.url.as_str()).filter(|u| u.contains("/sub/v3/")).collect();
        assert_eq!(walked.len(), 4, "two windows, the second in two pages, one of them retried: {walked:?}");
        assert!(walked[3].ends_with("/environments/cost?page-key=k%2F1%3D"), "later pages send the key alone");
        assert_eq!(report.retries, 1);
        assert_eq!(report.records_read, 2 + 3, "cost days and environment rows");

        // 2 cost days, 3 environment rows and the 0.25 of day 22 no environment claims.
        assert_eq!((report.events_built, report.events_accepted), (6, 6));
        let reconciliation = report.reconciliation.clone().unwrap();
        assert_eq!((reconciliation.days_compared, reconciliation.days_unattributed), (2, 1));
        assert_eq!(reconciliation.unattributed, 0.25);
        let posted = api.posted_events().concat();
        let environments: Vec<(&str, &str, f64)> = posted
            .iter()
            .filter(|e| e["event.type"] == "dps.cost.environment.booked")
            .map(|e| {
                (e["startTime"].as_str().unwrap(), e["environmentId"].as_str().unwrap(), e["value"].as_f64().unwrap())
            })
            .collect();
        assert_eq!(
            environments,
            [
                ("2026-11-21T00:00:00Z", "abc12345", 1.0),
                ("2026-11-22T00:00:00Z", "abc12345", 1.5),
                ("2026-11-22T00:00:00Z", "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b", 0.25),
                ("2026-11-22T00:00:00Z", "unattributed", 0.25),
            ]
        );
        assert!(
            posted
                .iter()
                .all(|e| e["exportedAt"] == "2026-11-23T00:00:00Z" || e["event.type"] != "dps.cost.environment.booked")
        );

        // Run again with the state: nothing of it is sent twice.
        let state = report.state.unwrap();
        assert_eq!(state.environment_cost.as_ref().unwrap().sent.len(), 4);
        let (mut again, mut plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
        plan.state = Some(state);
        let report = export_account(&plan, &mut again, &secrets()).unwrap();
        assert_eq!((report.events_built, report.events_skipped, report.events_sent), (6, 6, 0));
    }

    #[test]
    fn a_failed_environment_walk_still_delivers_the_daily_cost_and_says_what_was_not_read() {
        let (mut api, plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
        let next = format!("{V3}?page-key=k%2F1%3D");
        api.routes.remove(&next);
        api.then(&next, 400, r#"{"code":400,"message":"Invalid page key","errorsMap":{}}"#, &[]);
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        assert_eq!(report.events_accepted, 2, "the cost days still go");
        assert_eq!(report.failures.len(), 1);
        assert_eq!(report.failures[0].status, Some(400));
        assert!(report.failures[0].message.contains("cost per environment not exported: Invalid page key"));
        assert_eq!(report.state.unwrap().environment_cost, None, "nothing is remembered as delivered");
    }

    /// An account whose v3 walk never ends: every page has `rows` rows and a fresh page key.
    fn with_endless_pages(rows: usize, page_size: u32, max_rows_per_day: u32) -> (FakeApi, AccountPlan) {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        let row = r#"{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":0.5,"currencyCode":"USD","capabilityKey":"LOGS"}"#;
        let page = |key: usize| {
            let cost = vec![row; rows].join(",");
            format!(r#"{{"data":[{{"environmentId":"abc12345","cost":[{cost}]}}],"nextPageKey":"key{key}"}}"#)
        };
        let first =
            format!("{V3}?startTime=2026-11-21T00%3A00%3A00Z&endTime=2026-11-23T00%3A00%3A00Z&page-size={page_size}");
        api.then(&first, 200, &page(0), &[]);
        for key in 0..100 {
            api.then(&format!("{V3}?page-key=key{key}"), 200, &page(key + 1), &[]);
        }
        let mut plan = plan(None);
        plan.environment_cost = Some(EnvironmentCostPlan {
            days: Some(2),
            window_days: Some(30),
            page_size: Some(page_size),
            max_rows_per_day: Some(max_rows_per_day),
        });
        (api, plan)
    }

    #[test]
    fn an_endless_page_walk_stops_at_its_row_bound_and_still_delivers_the_daily_cost() {
        let (mut api, plan) = with_endless_pages(2, 2, 3);
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        let walked = api.sent.iter().filter(|r| r.url.contains("/sub/v3/")).count();
        assert_eq!(walked, 4, "2 days x 3 rows: the 4th page of 2 rows passes the bound");
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        let failure = &report.failures[0];
        assert_eq!(failure.kind, FailureKind::LimitExceeded);
        assert!(
            failure.message.contains("after 8 rows") && failure.message.contains("max-rows-per-day 3"),
            "{failure:?}"
        );
        assert_eq!(report.events_accepted, 2, "the cost days still go");
        assert!(report.subscription_outlook.is_some(), "and the status and alerts");
    }

    #[test]
    fn an_endless_walk_of_empty_pages_stops_after_a_few() {
        let (mut api, plan) = with_endless_pages(0, 2, 3);
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        let walked = api.sent.iter().filter(|r| r.url.contains("/sub/v3/")).count();
        assert_eq!(walked, 11);
        assert_eq!(report.failures[0].kind, FailureKind::LimitExceeded);
        assert!(report.failures[0].message.contains("11 pages without rows"), "{:?}", report.failures);
        assert_eq!(report.events_accepted, 2);
    }

    #[test]
    fn an_endless_walk_of_small_pages_stops_at_the_pages_its_rows_fill() {
        // One row a page where 1,000 were asked for: 2 x 1,000 rows fill 2 pages, plus the margin.
        let (mut api, plan) = with_endless_pages(1, 1000, 1000);
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        let walked = api.sent.iter().filter(|r| r.url.contains("/sub/v3/")).count();
        assert_eq!(walked, 12, "{:?}", report.failures);
        assert_eq!(report.failures[0].kind, FailureKind::LimitExceeded);
        assert!(report.failures[0].message.contains("after 12 pages"), "{:?}", report.failures);
    }

    #[test]
    fn a_subscription_uuid_that_is_not_a_uuid_is_refused_before_it_becomes_a_path() {
        let list = r#"{"data":[{"uuid":"../../../x?y=1","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#;
        let mut api = api(&happy_routes(list));
        let error = export_account(&plan(None), &mut api, &secrets()).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"invalid response: GET https://api/sub/v2/accounts/acc/subscriptions: data[0].uuid: "../../../x?y=1" is not a UUID"#
        );
        assert_eq!(api.sent.iter().filter(|r| r.url.contains("/subscriptions/")).count(), 0, "no request used it");

        let mut api = self::api(&happy_routes(ONE_ACTIVE));
        let error = export_account(&plan(Some("s1/../cost")), &mut api, &secrets()).unwrap_err();
        assert!(
            matches!(&error, ExportError::NoSubscription(m) if m.contains("\"s1/../cost\" is not a UUID")),
            "{error}"
        );
        assert!(api.sent.iter().all(|r| !r.url.contains("/subscriptions")));
    }

    #[test]
    fn the_status_and_every_crossed_alert_come_back_unsent_for_the_host_to_choose() {
        let nearly_spent = DETAILS.replace(r#""used":3"#, r#""used":92"#);
        let mut routes = happy_routes(ONE_ACTIVE);
        routes[2].2 = nearly_spent.clone();
        let mut api = api(&routes);
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        let outlook = report.subscription_outlook.expect("details were readable");
        assert_eq!(
            (outlook.subscription_uuid.as_str(), outlook.period_start.as_str()),
            ("5e1a0c2d-7b3f-4c1e-9a2d-000000000001", "2026-01-01")
        );
        assert!(outlook.status_event.contains("dps.subscription.status"));
        let keys: Vec<&str> = outlook.alerts.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["used:75", "used:90"]);
        assert!(outlook.alerts[1].message.contains("past the 90 % threshold"), "{}", outlook.alerts[1].message);
        let posted = api.posted_events().concat();
        assert!(posted.iter().all(|e| e["event.type"] == "dps.cost2.booked"), "the job sends only cost: {posted:?}");
        assert!(report.alerts.is_empty());
    }

    #[test]
    fn a_cluster_on_dps_licensing_is_a_clear_error() {
        let mut api = FakeApi::new(&[(
            "GET https://cluster/api/cluster/v2/clusterLicense",
            422,
            r#"{"error":{"code":422,"message":"Incompatible licensing model"}}"#,
        )]);
        let plan = ClusterPlan {
            name: "prod".into(),
            url: "https://cluster".into(),
            read_at: "2026-11-23".into(),
            target: plan(None).target,
            retry: RetryPolicy::default(),
        };
        let secrets = HashMap::from([("cluster-api-token".to_owned(), "dt0c01.C.x".to_owned())]);
        let error = export_cluster(&plan, &mut api, &secrets).unwrap_err();
        assert!(error.to_string().contains("cluster prod is not on classic licensing"), "{error}");
        assert!(api.sent[0].headers.contains(&("authorization", "Api-Token dt0c01.C.x".into())));
    }

    #[test]
    fn a_missing_secret_names_its_config_key() {
        let error = export_account(&plan(None), &mut FakeApi::new(&[]), &HashMap::new()).unwrap_err();
        assert_eq!(error.to_string(), "missing config: config key `account-client-secret` is not set");
    }
}
