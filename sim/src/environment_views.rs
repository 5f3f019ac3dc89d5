//! The v3 per-environment views of a subscription, `GET /sub/v3/accounts/{a}/subscriptions/{s}/
//! environments/cost` and `.../environments/usage`: one row per day x environment x capability
//! (computed by `attribution.rs`; usage is the row's cost / the capability's unit price,
//! `pricing.rs`), consecutive rows of one environment grouped in one entry, served in pages
//! (`walk.rs`).

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::account_api::find_subscription;
use crate::attribution::{CostDay, cost_days, day_values, kept_pairs};
use crate::auth::{AccountToken, UacRead};
use crate::data::{CapabilityShare, format_date};
use crate::errors::Refused;
use crate::pricing::unit_price;
use crate::state::Shared;
use crate::walk::{View, page_body, walk_query, walk_range};

/// The v3 environment routes of the account API.
pub(crate) fn router() -> Router<Arc<Shared>> {
    let path = "/sub/v3/accounts/{account}/subscriptions/{subscription}/environments";
    Router::new()
        .route(&format!("{path}/cost"), get(|token, query| environment_view(token, query, View::Cost)))
        .route(&format!("{path}/usage"), get(|token, query| environment_view(token, query, View::Usage)))
}

/// Where a row is: its day, environment and capability (indexes into the account's vectors).
struct RowAt<'a> {
    day: &'a CostDay,
    environment: usize,
    capability: &'a CapabilityShare,
    capability_index: usize,
}

async fn environment_view(
    token: AccountToken<UacRead>,
    RawQuery(raw): RawQuery,
    view: View,
) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_subscription(&scenario, &token)?;
    let subscription = &token.subscription;
    let key = walk_query(raw.as_deref(), view, &account.uuid, subscription)?;
    let (start, end) = walk_range(&key)?;
    let days = cost_days(account, subscription, start, end);
    let pairs = kept_pairs(account, &key.environment_ids, &key.capability_keys, &key.cluster_ids);
    // Rows: day by day, then environment, then capability; a page is a slice of them.
    let total = days.len() * pairs.len();
    let first = key.offset.min(total);
    let last = key.offset.saturating_add(key.page_size).min(total);
    let field = match view {
        View::Cost => "cost",
        View::Usage => "usage",
    };
    let mut data: Vec<Value> = Vec::new();
    let mut entry: Option<(usize, Vec<Value>)> = None;
    let mut values: Option<(usize, Vec<f64>)> = None;
    let flush = |data: &mut Vec<Value>, entry: Option<(usize, Vec<Value>)>| {
        if let Some((e, rows)) = entry {
            let environment = &account.environments[e];
            data.push(json!({"clusterId": environment.cluster_id, "environmentId": environment.id, field: rows}));
        }
    };
    for row in first..last {
        let (d, (e, c, flat)) = (row / pairs.len(), pairs[row % pairs.len()]);
        let day = &days[d];
        if values.as_ref().is_none_or(|(cached, _)| *cached != d) {
            values = Some((d, day_values(account, day)));
        }
        let value = values.as_ref().map_or(0.0, |(_, v)| v[flat]);
        let at =
            RowAt { day, environment: e, capability: &account.environments[e].capabilities[c], capability_index: c };
        let rendered = match view {
            View::Cost => cost_row(&at, value),
            View::Usage => usage_row(at.day, at.capability, value),
        };
        match &mut entry {
            Some((current, rows)) if *current == e => rows.push(rendered),
            _ => {
                flush(&mut data, entry.take());
                entry = Some((e, vec![rendered]));
            }
        }
    }
    flush(&mut data, entry);
    Ok(Json(page_body(data, key, last, total)).into_response())
}

/// A `SubscriptionCapabilityCostReceivedDto`.
fn cost_row(at: &RowAt<'_>, value: f64) -> Value {
    let date = at.day.start.to_offset(time::UtcOffset::UTC).date();
    let next = date.next_day().unwrap_or(date);
    // Booked the next day, some rows only at 06:00 (deterministic per day and row).
    let hour = if (usize::from(date.day()) + at.environment + at.capability_index).is_multiple_of(3) { 6 } else { 0 };
    json!({
        "startTime": at.day.start_text, "endTime": at.day.end_text, "value": value, "currencyCode": at.day.currency,
        "capabilityKey": at.capability.key, "capabilityName": at.capability.name,
        "bookingDate": format!("{}T{hour:02}:00:00Z", format_date(next)),
    })
}

/// A `SubscriptionUsageDto`: the cost's quantity in the capability's unit (cost / unit price).
pub(crate) fn usage_row(day: &CostDay, capability: &CapabilityShare, cost: f64) -> Value {
    let price = unit_price(&capability.key);
    json!({
        "capabilityKey": capability.key, "capabilityName": capability.name,
        "startTime": day.start_text, "endTime": day.end_text,
        "value": cost / price.value(), "unitMeasure": price.unit,
    })
}
