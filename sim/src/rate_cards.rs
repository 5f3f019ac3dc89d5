//! An account's rate cards, `GET /sub/v1/accounts/{a}/rate-cards`: a bare array of
//! `RateCardSummaryDto`, one per active subscription the account lists (DPS for Hybrid: the one
//! shared card), each pricing every capability with the unit prices of `pricing.rs`.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::account_api::find_account;
use crate::auth::{AccountToken, UacRead};
use crate::data::CAPABILITIES;
use crate::errors::Refused;
use crate::pricing::unit_price;
use crate::state::Shared;

/// The rate card route of the account API.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/sub/v1/accounts/{account}/rate-cards", get(rate_cards))
}

async fn rate_cards(token: AccountToken<UacRead>) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_account(&scenario, &token.account)?;
    // Every capability of the table, then any other one the account's environments use.
    let mut capabilities: Vec<(&str, &str)> = CAPABILITIES.to_vec();
    for capability in account.environments.iter().flat_map(|e| &e.capabilities) {
        if !capabilities.iter().any(|(key, _)| *key == capability.key) {
            capabilities.push((&capability.key, &capability.name));
        }
    }
    let cards: Vec<Value> = account
        .subscriptions
        .iter()
        .filter_map(|uuid| scenario.subscriptions.get(uuid))
        .filter(|details| details["status"] == "ACTIVE")
        .map(|details| {
            // ASSUMPTION: the card runs over the subscription's days, in the spec's date-time
            // format; no `deploymentType` (optional, values unpublished); `quotedPrice` equals
            // `price` (the spec does not say how they differ) and `price` turns usage into cost.
            let text = |field: &str| details[field].as_str().unwrap_or_default().to_owned();
            let (start, end) = (format!("{}T00:00:00Z", text("startTime")), format!("{}T23:59:59Z", text("endTime")));
            let priced: Vec<Value> = capabilities
                .iter()
                .map(|(key, name)| {
                    let price = unit_price(key);
                    json!({"key": key, "name": name, "quotedPrice": price.price, "quotedUnitOfMeasure": price.unit,
                           "price": price.price, "startTime": start, "endTime": end})
                })
                .collect();
            let uuid = text("uuid");
            json!({"quoteNumber": format!("Q-{}", uuid.get(..8).unwrap_or(&uuid).to_uppercase()),
                   "startTime": start, "endTime": end, "currencyCode": details["budget"]["currencyCode"],
                   "capabilities": priced})
        })
        .collect();
    Ok(Json(cards).into_response())
}
