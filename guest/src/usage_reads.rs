//! The usage reads: `/sub/v2/.../subscriptions/{s}/usage` and the account's rate cards
//! (`/sub/v1/accounts/{a}/rate-cards`), sent together, priced and reconciled into events; a
//! failure names the request it is about.

use std::ops::Range;

use crate::account_reads::{Answer, get_json_all, read, subscriptions_url};
use crate::error::ExportError;
use crate::http::{self, Client, Request};
use crate::parse;
use crate::sso::TokenSource;
use crate::usage::{UsageError, UsageEvents, usage_booked};
use crate::wit::{AccountPlan, CostRecord, EventContext, FailureKind, RequestFailure};

/// The `dps.usage.booked` events of the days in `days`, priced with the rate cards and
/// reconciled with `daily_totals`. A failure (a request, a record, a capability without a valid
/// price) says "usage not exported" and names the request; the daily cost is delivered anyway.
pub fn read_usage_events(
    plan: &AccountPlan,
    http: &mut Client,
    tokens: &mut TokenSource,
    context: &EventContext,
    subscription_uuid: &str,
    daily_totals: &[CostRecord],
    days: Range<i64>,
) -> Result<(UsageEvents, u32), RequestFailure> {
    // `/usage` takes no time parameters (the spec lists none): it answers every day it has.
    let urls = [
        format!("{}/{subscription_uuid}/usage", subscriptions_url(plan)),
        http::join(&plan.api_url, &format!("/sub/v1/accounts/{}/rate-cards", plan.uuid)),
    ];
    let [usage, cards] = get_json_all(http, tokens, &urls);
    let (usage_request, usage) = answered(usage, &urls[0], parse::usage_list)?;
    let (cards_request, cards) = answered(cards, &urls[1], parse::rate_cards)?;
    let records_read = usage.len() as u32;
    let events = usage_booked(context, subscription_uuid, &usage, &cards, daily_totals, days).map_err(|error| {
        let request = match &error {
            UsageError::Usage(_) | UsageError::Total(_) | UsageError::Overflow { .. } => &usage_request,
            UsageError::Price(_) | UsageError::Currency { .. } | UsageError::Unit { .. } => &cards_request,
        };
        not_exported(request.describe(), None, FailureKind::Other, error.to_string())
    })?;
    Ok((events, records_read))
}

/// A 200 read with `reader`, or the failure of the request.
fn answered<T>(
    answer: Answer,
    url: &str,
    reader: impl FnOnce(&serde_json::Value) -> Result<T, crate::error::InvalidRecord>,
) -> Result<(Request, T), RequestFailure> {
    let (request, response, json) = answer.map_err(|error| match error {
        ExportError::Request(failure) => not_exported(failure.request, failure.status, failure.kind, failure.message),
        other => not_exported(format!("GET {url}"), None, FailureKind::Other, other.to_string()),
    })?;
    if response.status != 200 {
        let failure = http::failure(&request, &response);
        return Err(not_exported(failure.request, failure.status, failure.kind, failure.message));
    }
    let read = read(&response, json, reader)
        .map_err(|error| not_exported(request.describe(), Some(200), FailureKind::Other, error.to_string()))?;
    Ok((request, read))
}

fn not_exported(request: String, status: Option<u16>, kind: FailureKind, message: String) -> RequestFailure {
    RequestFailure { request, kind, status, message: format!("usage not exported: {message}"), events_not_sent: 0 }
}
