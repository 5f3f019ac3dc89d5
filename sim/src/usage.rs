//! A subscription's usage by date, `GET /sub/v2/accounts/{a}/subscriptions/{s}/usage`: per day
//! and capability, the quantity (cost / unit price, `pricing.rs`) and its unit, summed over the
//! environments the documented filters keep. Per day and capability, quantity x price is that
//! capability's cost (the filtered `/cost` of that capability); the capabilities of a day add up
//! to the day's `/cost` value except where [`crate::Account::unattributed`] applies (the part
//! no environment carries has no usage either).

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use time::PrimitiveDateTime;

use crate::account_api::{LAST_MODIFIED, find_subscription, list_param};
use crate::attribution::{capability_costs, cost_days, day_values, kept_pairs};
use crate::auth::{AccountToken, UacRead};
use crate::environment_views::usage_row;
use crate::errors::Refused;
use crate::state::Shared;

/// The usage route of the account API.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/sub/v2/accounts/{account}/subscriptions/{subscription}/usage", get(usage))
}

async fn usage(token: AccountToken<UacRead>, RawQuery(raw): RawQuery) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_subscription(&scenario, &token)?;
    // Like `/cost`: no time parameters (the whole history), the three list filters, unknown
    // parameters ignored (ASSUMPTION: the spec does not say).
    let params: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let pairs = kept_pairs(
        account,
        &list_param(&params, "environmentIds"),
        &list_param(&params, "capabilityKeys"),
        &list_param(&params, "clusterIds"),
    );
    let (first, last) = (PrimitiveDateTime::MIN.assume_utc(), PrimitiveDateTime::MAX.assume_utc());
    // ASSUMPTION: records are served by day, then capability in the order the account's
    // environments list them (the spec says only "split by date"; `/cost` is unsorted).
    let data: Vec<Value> = cost_days(account, &token.subscription, first, last)
        .iter()
        .flat_map(|day| {
            let values = day_values(account, day);
            capability_costs(account, &values, &pairs)
                .into_iter()
                .map(|(capability, cost)| usage_row(day, capability, cost))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(Json(json!({"data": data, "lastModifiedTime": LAST_MODIFIED})).into_response())
}
