//! The account API's reads (`/sub/v2`): which subscription, its details, its daily cost and
//! Dynatrace's forecast, each a GET with the account token whose 2xx body is parsed once.

use serde_json::Value;

use crate::cost_days::{CostDays, vouched_cost_days};
use crate::error::{ExportError, InvalidRecord};
use crate::http::{self, Client, Request, Response};
use crate::parse::{self, SubscriptionSummary};
use crate::sso::TokenSource;
use crate::wit::{AccountForecast, AccountPlan, CostRecord, Report, Subscription};
use crate::{events, untrusted};

/// What the account API says of the subscription an account books against.
pub struct SubscriptionReads {
    pub subscription_uuid: String,
    /// Its details; `None` when a DPS for Hybrid account may not read them (noted in the report).
    pub subscription: Option<Subscription>,
    /// Its daily cost, as read.
    pub costs: Vec<CostRecord>,
    /// The `/cost` request, to name it when its records are refused later.
    pub cost_request: Request,
    /// Dynatrace's forecast of the account, when it has one.
    pub dynatrace_forecast: Option<AccountForecast>,
}

/// `/sub/v2/accounts/{uuid}/subscriptions` of the plan's account.
pub fn subscriptions_url(plan: &AccountPlan) -> String {
    http::join(&plan.api_url, &format!("/sub/v2/accounts/{}/subscriptions", plan.uuid))
}

/// The subscription (named in the plan, or the account's ACTIVE REGULAR one), its details, cost
/// and Dynatrace's forecast. Notes (a chosen subscription, unreadable details, no forecast) go
/// into `report`.
pub fn read_subscription(
    plan: &AccountPlan,
    http: &mut Client,
    tokens: &mut TokenSource,
    report: &mut Report,
) -> Result<SubscriptionReads, ExportError> {
    let accounts_url = subscriptions_url(plan);
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
    report.records_read = costs.len() as u32;
    let period_end = subscription.as_ref().map(|s| s.current_period.end_time.as_str());
    let CostDays { costs, notes } =
        vouched_cost_days(costs, &plan.read_at, period_end).map_err(|e| invalid(&request, e))?;
    report.notes.extend(notes);
    let cost_request = request;
    let dynatrace_forecast = subscription.as_ref().and_then(|_| read_account_forecast(plan, forecast, report));
    Ok(SubscriptionReads { subscription_uuid, subscription, costs, cost_request, dynatrace_forecast })
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

/// A GET's request, its response and its 2xx body as JSON (`None` when it is not JSON: the
/// reader then says why).
pub type Answer = Result<(Request, Response, Option<Value>), ExportError>;

/// GETs with the account token whose first attempts go out together (see
/// [`Client::exchange_all`]), answered in the order of `urls`.
pub fn get_json_all<const N: usize>(http: &mut Client, tokens: &mut TokenSource, urls: &[String; N]) -> [Answer; N] {
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
pub fn get_json(
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
pub fn read<T>(
    response: &Response,
    json: Option<Value>,
    reader: impl FnOnce(&Value) -> Result<T, InvalidRecord>,
) -> Result<T, InvalidRecord> {
    match json {
        Some(json) => reader(&json),
        None => reader(&parse::json(&response.body)?),
    }
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

pub fn invalid(request: &Request, error: impl std::fmt::Display) -> ExportError {
    ExportError::InvalidResponse(format!("{}: {error}", request.describe()))
}
