//! The Account Management API's subscription reads (`/sub/v2/accounts/{a}/subscriptions...`):
//! the list, one subscription's details, its daily `/cost` (with the documented filters) and
//! the account's forecast. The per-environment v3 views are `environment_views.rs`.

use std::sync::Arc;

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::attribution::{cost_day, day_values, kept_pairs};
use crate::auth::{AccountToken, UacRead};
use crate::data::{Account, Scenario, round6};
use crate::errors::Refused;
use crate::state::Shared;

/// The subscription routes of the account API.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/sub/v2/accounts/{account}/subscriptions", get(subscriptions))
        .route("/sub/v2/accounts/{account}/subscriptions/{subscription}", get(subscription))
        // A static segment: matched before the `{subscription}` capture (axum 0.8 / matchit).
        .route("/sub/v2/accounts/{account}/subscriptions/forecast", get(forecast))
        .route("/sub/v2/accounts/{account}/subscriptions/{subscription}/cost", get(cost))
}

/// `lastModifiedTime` of the cost views.
pub(crate) const LAST_MODIFIED: &str = "2026-11-23T07:12:44Z";

/// The account of the path, or the API's 404.
pub(crate) fn find_account<'a>(scenario: &'a Scenario, uuid: &str) -> Result<&'a Account, Refused> {
    scenario.accounts.iter().find(|a| a.uuid == uuid).ok_or_else(|| Refused::NotFound("Account not found".to_owned()))
}

/// The account of the path when it lists the subscription of the path, or the API's 404.
pub(crate) fn find_subscription<'a, S>(
    scenario: &'a Scenario,
    token: &AccountToken<S>,
) -> Result<&'a Account, Refused> {
    let account = find_account(scenario, &token.account)?;
    if account.subscriptions.contains(&token.subscription) {
        Ok(account)
    } else {
        Err(Refused::NotFound(format!("Subscription {} not found", token.subscription)))
    }
}

async fn subscriptions(token: AccountToken<UacRead>) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_account(&scenario, &token.account)?;
    let data: Vec<Value> = account
        .subscriptions
        .iter()
        .filter_map(|uuid| scenario.subscriptions.get(uuid))
        .map(|s| {
            json!({"uuid": s["uuid"], "type": s["type"], "subType": s["subType"], "name": s["name"],
                   "status": s["status"], "startTime": s["startTime"], "endTime": s["endTime"]})
        })
        .collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn subscription(token: AccountToken<UacRead>) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let subscription = &token.subscription;
    // Every refusal is the subscription's 404, an unknown account's too.
    let visible = find_subscription(&scenario, &token).is_ok_and(|a| !a.hidden_details.contains(subscription));
    match scenario.subscriptions.get(subscription) {
        Some(details) if visible => Ok(Json(details.clone()).into_response()),
        _ => Err(Refused::NotFound(format!("Subscription {subscription} not found"))),
    }
}

async fn cost(token: AccountToken<UacRead>, RawQuery(raw): RawQuery) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_subscription(&scenario, &token)?;
    let mut data = account.costs.get(&token.subscription).cloned().unwrap_or_default();
    // The documented filters (environmentIds, capabilityKeys, clusterIds; comma-separated or
    // repeated): a filtered record's value is the sum of the v3 rows the filters keep, so that
    // the two views agree. Unknown parameters are ignored (ASSUMPTION: the spec does not say).
    let params: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let (environments, capabilities, clusters) = (
        list_param(&params, "environmentIds"),
        list_param(&params, "capabilityKeys"),
        list_param(&params, "clusterIds"),
    );
    let filtered = !(environments.is_empty() && capabilities.is_empty() && clusters.is_empty());
    let pairs = kept_pairs(account, &environments, &capabilities, &clusters);
    for record in &mut data {
        let Some(day) = cost_day(account, record) else { continue };
        if filtered {
            let values = day_values(account, &day);
            record["value"] = json!(round6(pairs.iter().map(|&(_, _, flat)| values[flat]).sum::<f64>()));
        } else if day.extra != 0.0 {
            // An injected spike or step (`Account::spike`, `Account::step`).
            record["value"] = json!(day.booked);
        }
    }
    Ok(Json(json!({"data": data, "lastModifiedTime": LAST_MODIFIED})).into_response())
}

async fn forecast(token: AccountToken<UacRead>) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_account(&scenario, &token.account)?;
    match &account.forecast {
        Some(forecast) => Ok(Json(forecast.clone()).into_response()),
        None => Err(Refused::NotFound("No forecast available for this account".to_owned())),
    }
}

/// A list parameter's values: comma-separated (documented) and repeated keys (`explode: true`
/// clients) both work.
pub(crate) fn list_param(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}
