//! The v3 walk of cost per environment and capability (`/sub/v3/.../environments/cost`): in
//! windows, page by page, bounded so that a server that never stops cannot exhaust the instance.

use std::collections::HashSet;

use crate::account_reads::{get_json, read};
use crate::error::ExportError;
use crate::http::{self, Client};
use crate::parse;
use crate::sso::TokenSource;
use crate::time::{DAY_MS, format_rfc3339};
use crate::untrusted;
use crate::wit::{AccountPlan, EnvironmentCost, EnvironmentCostPlan, FailureKind, RequestFailure};

/// `/sub/v3/accounts/{uuid}/subscriptions` of the plan's account.
pub fn v3_subscriptions_url(plan: &AccountPlan) -> String {
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
pub fn read_environment_costs(
    plan: &AccountPlan,
    environment_plan: &EnvironmentCostPlan,
    http: &mut Client,
    tokens: &mut TokenSource,
    subscription_uuid: &str,
    start: i64,
    end: i64,
) -> Result<Vec<EnvironmentCost>, RequestFailure> {
    let url = format!("{}/{subscription_uuid}/environments/cost", v3_subscriptions_url(plan));
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
