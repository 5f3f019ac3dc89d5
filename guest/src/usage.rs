//! Usage and unit prices per capability and day (`dps.usage.booked`), reconciled with the daily
//! cost: what the priced capabilities do not account for is a capability `UNATTRIBUTED` event
//! carrying the difference, never dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Serialize;

use crate::environment::{TOLERANCE, UNATTRIBUTED_CAPABILITY, round6};
use crate::error::InvalidRecord;
use crate::events::{finite, instant, number, optional_number, with_event_id};
use crate::parse::{RateCard, UsageRecord};
use crate::rate_card::{PriceError, unit_price};
use crate::time::{DAY_MS, format_rfc3339};
use crate::wit::{CostRecord, EventContext, Reconciliation};

pub const USAGE_BOOKED: &str = "dps.usage.booked";
const UNATTRIBUTED_NAME: &str = "Not attributed to a capability";

/// The events, each with its day's start (ms since the epoch), sorted by day then capability (a
/// day's `UNATTRIBUTED` last), and the daily totals compared with the priced usage (none when no
/// total was read).
#[derive(Debug)]
pub struct UsageEvents {
    pub events: Vec<(i64, String)>,
    pub reconciliation: Option<Reconciliation>,
}

/// Which input a refusal is about, so that the caller names the request it came from.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0}")]
    Usage(InvalidRecord),
    #[error("{0}")]
    Price(PriceError),
    /// The card prices another unit than the usage is measured in: quantity x price would be wrong.
    #[error("capability {capability} is used in {usage} but priced per {card}; its cost cannot be computed")]
    Unit { capability: String, usage: String, card: String },
    /// The rate card's currency is not the daily cost's: the two cannot be compared.
    #[error("the rate card is in {card}, the daily cost in {cost}; usage cannot be priced against it")]
    Currency { card: String, cost: String },
    #[error("{0}")]
    Total(InvalidRecord),
    #[error("capability {capability}: {quantity:e} x the unit price {price} is not a finite cost")]
    Overflow { capability: String, quantity: f64, price: f64 },
}

/// A quantity must stay finite when priced and rounded: a unit price of up to a million per unit,
/// times a million for the six decimals of the rounding.
const PRICE_HEADROOM: f64 = 1e12;

/// One event per capability and day: `quantity` (records of one key summed), its unit, the
/// card's `price`, and `cost` = quantity x price. Each day of `daily_totals` is compared with the
/// sum of its capabilities' cost; a difference of half a cent or more is one more event with
/// `capabilityKey` `UNATTRIBUTED` and the difference as `cost` (negative when the capabilities
/// add up to more), so that the events of a day add up to its total. Records and totals of days
/// outside `days` (starts, ms since the epoch) are left out; records are named by their index in
/// the response.
pub fn usage_booked(
    context: &EventContext,
    subscription_uuid: &str,
    usage: &[UsageRecord],
    cards: &[RateCard],
    daily_totals: &[CostRecord],
    days: Range<i64>,
) -> Result<UsageEvents, UsageError> {
    let mut cells: BTreeMap<(i64, &str), (&UsageRecord, f64)> = BTreeMap::new();
    for (index, record) in usage.iter().enumerate() {
        let field = |name: &str| format!("data[{index}].{name}");
        let start = instant(&field("startTime"), &record.start_time).map_err(UsageError::Usage)?;
        if !days.contains(&start) {
            continue;
        }
        instant(&field("endTime"), &record.end_time).map_err(UsageError::Usage)?;
        let value = finite(&field("value"), record.value).map_err(UsageError::Usage)?;
        let (first, quantity) = cells.entry((start, record.capability_key.as_str())).or_insert((record, 0.0));
        if first.unit_measure != record.unit_measure {
            return Err(UsageError::Usage(InvalidRecord::new(
                field("unitMeasure"),
                format!("{} differs from {} of the same capability and day", record.unit_measure, first.unit_measure),
            )));
        }
        *quantity += value;
        if !(*quantity * PRICE_HEADROOM).is_finite() {
            return Err(UsageError::Usage(InvalidRecord::new(
                field("value"),
                format!(
                    "{value:e} is too large a quantity to be priced (the day's quantity of its capability overflows)"
                ),
            )));
        }
    }

    let mut totals: BTreeMap<i64, (&CostRecord, f64)> = BTreeMap::new();
    for (index, total) in daily_totals.iter().enumerate() {
        let start = instant(&format!("data[{index}].startTime"), &total.start_time).map_err(UsageError::Total)?;
        if !days.contains(&start) {
            continue;
        }
        let value = finite(&format!("data[{index}].value"), total.value).map_err(UsageError::Total)?;
        totals.entry(start).or_insert((total, 0.0)).1 += value;
    }
    let cost_currency = totals.values().next().map(|(total, _)| total.currency_code.as_str());

    let mut events = Vec::with_capacity(cells.len() + totals.len());
    let mut by_day: BTreeMap<i64, f64> = BTreeMap::new();
    let mut currency = cost_currency.map(str::to_owned);
    for (&(day, capability_key), &(first, quantity)) in &cells {
        let price = unit_price(cards, capability_key, day).map_err(UsageError::Price)?;
        if !price.unit.is_empty() && !first.unit_measure.is_empty() && price.unit != first.unit_measure {
            return Err(UsageError::Unit {
                capability: capability_key.to_owned(),
                usage: first.unit_measure.clone(),
                card: price.unit,
            });
        }
        match &currency {
            Some(expected) if *expected != price.currency => {
                return Err(UsageError::Currency { card: price.currency, cost: expected.clone() });
            }
            Some(_) => {}
            None => currency = Some(price.currency.clone()),
        }
        let cost = round6(quantity * price.price);
        let day_cost = by_day.entry(day).or_default();
        *day_cost += cost;
        if !day_cost.is_finite() {
            return Err(UsageError::Overflow { capability: capability_key.to_owned(), quantity, price: price.price });
        }
        let event = UsageEvent {
            event_type: USAGE_BOOKED,
            provider: &context.provider,
            timestamp: &first.start_time,
            capability_key,
            capability_name: &first.capability_name,
            start_time: &first.start_time,
            end_time: &first.end_time,
            // As read (the sum of its records): never rounded.
            quantity: Some(quantity),
            unit_measure: Some(&first.unit_measure),
            price: Some(price.price),
            currency: &price.currency,
            cost,
            subscription_uuid,
            account_uuid: &context.account_uuid,
            account_name: &context.account_name,
        };
        events.push((
            day,
            with_event_id(USAGE_BOOKED, &event_key(context, subscription_uuid, day, capability_key), &event),
        ));
    }

    let currency = currency.unwrap_or_default();
    let mut reconciliation = Reconciliation { currency: currency.clone(), ..Reconciliation::default() };
    let compared: BTreeSet<i64> = totals.keys().chain(by_day.keys()).copied().collect();
    for day in compared.into_iter().filter(|_| !totals.is_empty()) {
        let total = totals.get(&day).map_or(0.0, |(_, value)| *value);
        let difference = round6(total - by_day.get(&day).copied().unwrap_or(0.0));
        reconciliation.days_compared += 1;
        if difference.abs() < TOLERANCE {
            continue;
        }
        reconciliation.days_unattributed += 1;
        reconciliation.unattributed += difference;
        let (start_time, end_time) = match totals.get(&day) {
            Some((total, _)) => (total.start_time.clone(), total.end_time.clone()),
            None => (format_rfc3339(day), format_rfc3339(day + DAY_MS)),
        };
        let event = UsageEvent {
            event_type: USAGE_BOOKED,
            provider: &context.provider,
            timestamp: &start_time,
            capability_key: UNATTRIBUTED_CAPABILITY,
            capability_name: UNATTRIBUTED_NAME,
            start_time: &start_time,
            end_time: &end_time,
            quantity: None,
            unit_measure: None,
            price: None,
            currency: &currency,
            cost: difference,
            subscription_uuid,
            account_uuid: &context.account_uuid,
            account_name: &context.account_name,
        };
        let key = event_key(context, subscription_uuid, day, UNATTRIBUTED_CAPABILITY);
        events.push((day, with_event_id(USAGE_BOOKED, &key, &event)));
    }
    // Stable: a day's UNATTRIBUTED event stays after its capabilities.
    events.sort_by_key(|(day, _)| *day);
    reconciliation.unattributed = round6(reconciliation.unattributed);
    Ok(UsageEvents { events, reconciliation: (!totals.is_empty()).then_some(reconciliation) })
}

fn event_key(context: &EventContext, subscription_uuid: &str, day: i64, capability_key: &str) -> String {
    format!("{}|{subscription_uuid}|{day}|{capability_key}", context.account_uuid)
}

/// The agreed `dps.usage.booked` fields, in a fixed order (the text is canonical for `event.id`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UsageEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    capability_key: &'a str,
    capability_name: &'a str,
    start_time: &'a str,
    end_time: &'a str,
    /// Absent on `UNATTRIBUTED`: a difference of cost has no quantity, unit or price.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    quantity: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit_measure: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    price: Option<f64>,
    currency: &'a str,
    #[serde(serialize_with = "number")]
    cost: f64,
    subscription_uuid: &'a str,
    account_uuid: &'a str,
    account_name: &'a str,
}

#[cfg(test)]
mod tests;
