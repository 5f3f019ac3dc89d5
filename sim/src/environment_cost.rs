//! The v3 per-environment cost, `GET /sub/v3/accounts/{a}/subscriptions/{s}/environments/cost`:
//! one row per day x environment x capability (computed by `attribution.rs`), grouped by
//! environment and served in pages (`walk.rs`).

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::account_api::find_subscription;
use crate::attribution::{cost_days, day_values, kept_pairs};
use crate::auth::{AccountToken, UacRead};
use crate::data::format_date;
use crate::errors::Refused;
use crate::state::Shared;
use crate::walk::{page_body, walk_query, walk_range};

/// The v3 cost route of the account API.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sub/v3/accounts/{account}/subscriptions/{subscription}/environments/cost", get(environment_cost))
}

async fn environment_cost(token: AccountToken<UacRead>, RawQuery(raw): RawQuery) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_subscription(&scenario, &token)?;
    let subscription = &token.subscription;
    let key = walk_query(raw.as_deref(), &account.uuid, subscription)?;
    let (start, end) = walk_range(&key)?;
    let days = cost_days(account, subscription, start, end);
    let pairs = kept_pairs(account, &key.environment_ids, &key.capability_keys, &key.cluster_ids);
    // Rows: day by day, then environment, then capability; a page is a slice of them.
    let total = days.len() * pairs.len();
    let first = key.offset.min(total);
    let last = key.offset.saturating_add(key.page_size).min(total);
    let mut data: Vec<Value> = Vec::new();
    let mut entry: Option<(usize, Vec<Value>)> = None;
    let mut values: Option<(usize, Vec<f64>)> = None;
    let flush = |data: &mut Vec<Value>, entry: Option<(usize, Vec<Value>)>| {
        if let Some((e, cost)) = entry {
            let environment = &account.environments[e];
            data.push(json!({"clusterId": environment.cluster_id, "environmentId": environment.id, "cost": cost}));
        }
    };
    for row in first..last {
        let (d, (e, c, flat)) = (row / pairs.len(), pairs[row % pairs.len()]);
        let day = &days[d];
        if values.as_ref().is_none_or(|(cached, _)| *cached != d) {
            values = Some((d, day_values(account, day.attributed)));
        }
        let value = values.as_ref().map_or(0.0, |(_, v)| v[flat]);
        let capability = &account.environments[e].capabilities[c];
        let date = day.start.to_offset(time::UtcOffset::UTC).date();
        let next = date.next_day().unwrap_or(date);
        // Booked the next day, some rows only at 06:00 (deterministic per day and row).
        let hour = if (usize::from(date.day()) + e + c) % 3 == 0 { 6 } else { 0 };
        let cost = json!({
            "startTime": day.start_text, "endTime": day.end_text, "value": value, "currencyCode": day.currency,
            "capabilityKey": capability.key, "capabilityName": capability.name,
            "bookingDate": format!("{}T{hour:02}:00:00Z", format_date(next)),
        });
        match &mut entry {
            Some((current, cost_rows)) if *current == e => cost_rows.push(cost),
            _ => {
                flush(&mut data, entry.take());
                entry = Some((e, vec![cost]));
            }
        }
    }
    flush(&mut data, entry);
    Ok(Json(page_body(data, key, last, total)).into_response())
}
