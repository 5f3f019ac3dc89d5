//! Cost per environment and capability (`dps.cost.environment.booked`), reconciled with the
//! account's daily totals: what the environments do not account for is emitted as environment
//! `unattributed`, never dropped.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::environment_names::EnvironmentNames;
use crate::error::InvalidRecord;
use crate::events::{finite, instant, number, with_event_id};
use crate::time::{DAY_MS, format_rfc3339};
use crate::wit::{CostRecord, EnvironmentCost, EventContext, Reconciliation};

pub const ENVIRONMENT_COST_BOOKED: &str = "dps.cost.environment.booked";
/// The environment id of a day's difference between its total and its environments' sum.
pub const UNATTRIBUTED: &str = "unattributed";
pub(crate) const UNATTRIBUTED_CAPABILITY: &str = "UNATTRIBUTED";
const UNATTRIBUTED_NAME: &str = "Not attributed to an environment";
/// Differences below half a cent are rounding in the API's six-decimal values, not cost.
pub(crate) const TOLERANCE: f64 = 0.005;

/// The events, each with its day's start (ms since the epoch), sorted by day, then cluster,
/// environment and capability (a day's `unattributed` last); and the reconciliation, when there
/// were daily totals to compare with.
pub struct EnvironmentCostEvents {
    pub events: Vec<(i64, String)>,
    pub reconciliation: Option<Reconciliation>,
}

/// Rows of one (cluster, environment, capability, day) are summed: paging may split them, and
/// late bookings may come as rows of their own (the latest `bookingDate` is kept). Every row and
/// total must be in one currency: sums across currencies are refused, naming the row. An
/// environment in `names` gets its `environmentName` (which changes its `event.id`).
pub fn environment_cost_booked(
    context: &EventContext,
    subscription_uuid: &str,
    costs: &[EnvironmentCost],
    daily_totals: &[CostRecord],
    names: &EnvironmentNames,
) -> Result<EnvironmentCostEvents, InvalidRecord> {
    let currency =
        costs.first().map(|c| c.currency_code.as_str()).or(daily_totals.first().map(|c| c.currency_code.as_str()));
    let mut cells: BTreeMap<(i64, Option<&str>, &str, &str), Cell> = BTreeMap::new();
    for (index, row) in costs.iter().enumerate() {
        let field = |name: &str| format!("cost[{index}].{name}");
        let start = instant(&field("startTime"), &row.start_time)?;
        instant(&field("endTime"), &row.end_time)?;
        let value = finite(&field("value"), row.value)?;
        let booked = match &row.booking_date {
            Some(date) => Some(instant(&field("bookingDate"), date)?),
            None => None,
        };
        same_currency(&field("currencyCode"), &row.currency_code, currency)?;
        if row.environment_id.is_empty() {
            return Err(InvalidRecord::new(field("environmentId"), "is empty"));
        }
        let key = (start, row.cluster_id.as_deref(), row.environment_id.as_str(), row.capability_key.as_str());
        let cell = cells.entry(key).or_insert_with(|| Cell { first: row, value: 0.0, booked: None });
        cell.value += value;
        if !cell.value.is_finite() {
            return Err(InvalidRecord::new(
                field("value"),
                format!("{value} makes the sum of its environment, capability and day overflow"),
            ));
        }
        if booked > cell.booked {
            cell.booked = booked;
        }
    }

    let mut totals: BTreeMap<i64, &CostRecord> = BTreeMap::new();
    let mut summed: BTreeMap<i64, f64> = BTreeMap::new();
    for (index, total) in daily_totals.iter().enumerate() {
        let start = instant(&format!("data[{index}].startTime"), &total.start_time)?;
        finite(&format!("data[{index}].value"), total.value)?;
        same_currency(&format!("data[{index}].currencyCode"), &total.currency_code, currency)?;
        totals.insert(start, total);
        *summed.entry(start).or_default() += total.value;
    }

    let mut finished = Vec::with_capacity(cells.len() + totals.len());
    let mut by_day: BTreeMap<i64, f64> = BTreeMap::new();
    for ((start, cluster_id, environment_id, capability_key), cell) in &cells {
        *by_day.entry(*start).or_default() += cell.value;
        let booking_date = cell.booked.map(format_rfc3339);
        let event = EnvironmentCostEvent {
            event_type: ENVIRONMENT_COST_BOOKED,
            provider: &context.provider,
            timestamp: &cell.first.start_time,
            environment_id,
            environment_name: names.get(*environment_id).map(String::as_str),
            cluster_id: *cluster_id,
            capability_key,
            capability_name: &cell.first.capability_name,
            booking_date: booking_date.as_deref(),
            start_time: &cell.first.start_time,
            end_time: &cell.first.end_time,
            // As read (the sum of its rows when paging split them): never rounded.
            value: cell.value,
            currency: &cell.first.currency_code,
            subscription_uuid,
            account_uuid: &context.account_uuid,
            account_name: &context.account_name,
        };
        let key = event_key(context, subscription_uuid, *start, *cluster_id, environment_id, capability_key);
        finished.push((*start, with_event_id(ENVIRONMENT_COST_BOOKED, &key, &event)));
    }

    let reconciliation = if daily_totals.is_empty() {
        None
    } else {
        let mut reconciliation =
            Reconciliation { currency: currency.unwrap_or_default().to_owned(), ..Reconciliation::default() };
        let days: std::collections::BTreeSet<i64> = summed.keys().chain(by_day.keys()).copied().collect();
        for day in days {
            reconciliation.days_compared += 1;
            let total = summed.get(&day).copied().unwrap_or(0.0);
            let difference = round6(total - by_day.get(&day).copied().unwrap_or(0.0));
            if difference.abs() < TOLERANCE {
                continue;
            }
            reconciliation.days_unattributed += 1;
            reconciliation.unattributed += difference;
            // A day the environments report but the totals lack is matched by a negative share.
            let (start_time, end_time, booking_date) = match totals.get(&day) {
                Some(total) => (total.start_time.clone(), total.end_time.clone(), total.last_booking_date.clone()),
                None => {
                    let first = cells.iter().find(|(key, _)| key.0 == day).map(|(_, cell)| cell.first);
                    let start = first.map_or_else(|| format_rfc3339(day), |row| row.start_time.clone());
                    let end = first.map_or_else(|| format_rfc3339(day + DAY_MS), |row| row.end_time.clone());
                    (start, end, None)
                }
            };
            let event = EnvironmentCostEvent {
                event_type: ENVIRONMENT_COST_BOOKED,
                provider: &context.provider,
                timestamp: &start_time,
                environment_id: UNATTRIBUTED,
                environment_name: None,
                cluster_id: None,
                capability_key: UNATTRIBUTED_CAPABILITY,
                capability_name: UNATTRIBUTED_NAME,
                booking_date: booking_date.as_deref(),
                start_time: &start_time,
                end_time: &end_time,
                value: difference,
                currency: &reconciliation.currency,
                subscription_uuid,
                account_uuid: &context.account_uuid,
                account_name: &context.account_name,
            };
            let key = event_key(context, subscription_uuid, day, None, UNATTRIBUTED, UNATTRIBUTED_CAPABILITY);
            finished.push((day, with_event_id(ENVIRONMENT_COST_BOOKED, &key, &event)));
        }
        reconciliation.unattributed = round6(reconciliation.unattributed);
        Some(reconciliation)
    };
    // Stable: a day's unattributed event stays after its environments.
    finished.sort_by_key(|(start, _)| *start);
    Ok(EnvironmentCostEvents { events: finished, reconciliation })
}

struct Cell<'a> {
    first: &'a EnvironmentCost,
    value: f64,
    booked: Option<i64>,
}

fn event_key(
    context: &EventContext,
    subscription_uuid: &str,
    day: i64,
    cluster_id: Option<&str>,
    environment_id: &str,
    capability_key: &str,
) -> String {
    format!(
        "{}|{subscription_uuid}|{day}|{}|{environment_id}|{capability_key}",
        context.account_uuid,
        cluster_id.unwrap_or("")
    )
}

fn same_currency(field: &str, currency: &str, expected: Option<&str>) -> Result<(), InvalidRecord> {
    if currency.is_empty() {
        return Err(InvalidRecord::new(field, "is empty"));
    }
    match expected {
        Some(expected) if expected != currency => Err(InvalidRecord::new(
            field,
            format!("{currency} differs from {expected}; costs in several currencies cannot be summed"),
        )),
        _ => Ok(()),
    }
}

/// Six decimals, as the API gives amounts: sums and differences dtcost computes carry no float
/// dust. A value too large to have six decimals (past 2^53 millionths) is already whole to that
/// precision and is returned as it is, never turned into an infinity.
pub(crate) fn round6(value: f64) -> f64 {
    let scaled = value * 1e6;
    if scaled.abs() >= 9_007_199_254_740_992.0 || !scaled.is_finite() {
        return value;
    }
    scaled.round() / 1e6
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentCostEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    environment_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<&'a str>,
    capability_key: &'a str,
    capability_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    booking_date: Option<&'a str>,
    start_time: &'a str,
    end_time: &'a str,
    #[serde(serialize_with = "number")]
    value: f64,
    currency: &'a str,
    subscription_uuid: &'a str,
    account_uuid: &'a str,
    account_name: &'a str,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn context() -> EventContext {
        EventContext { provider: "p".into(), account_uuid: "acc".into(), account_name: "ACME".into() }
    }

    fn row(day: &str, environment: &str, capability: &str, value: f64) -> EnvironmentCost {
        EnvironmentCost {
            cluster_id: environment.contains('-').then(|| "cluster-1".to_owned()),
            environment_id: environment.into(),
            capability_key: capability.into(),
            capability_name: format!("{capability} name"),
            start_time: format!("{day}T00:00:00Z"),
            end_time: format!("{day}T23:59:59Z"),
            value,
            currency_code: "USD".into(),
            booking_date: Some(format!("{day}T06:00:00Z")),
        }
    }

    fn total(day: &str, value: f64) -> CostRecord {
        CostRecord {
            start_time: format!("{day}T00:00:00Z"),
            end_time: format!("{day}T23:59:59Z"),
            value,
            currency_code: "USD".into(),
            last_booking_date: Some(day.into()),
        }
    }

    /// Without names, as most tests need.
    fn environment_cost_booked(
        context: &EventContext,
        subscription_uuid: &str,
        costs: &[EnvironmentCost],
        daily_totals: &[CostRecord],
    ) -> Result<EnvironmentCostEvents, InvalidRecord> {
        super::environment_cost_booked(context, subscription_uuid, costs, daily_totals, &EnvironmentNames::new())
    }

    #[test]
    fn a_known_environment_gets_its_name_and_an_unknown_one_keeps_its_id_alone() {
        let rows = [row("2026-11-21", "abc12345", "LOGS", 1.0), row("2026-11-21", "xyz98765", "LOGS", 1.0)];
        let names = EnvironmentNames::from([("abc12345".to_owned(), "ACME Production".to_owned())]);
        let named = super::environment_cost_booked(&context(), "sub", &rows, &[total("2026-11-21", 3.0)], &names)
            .unwrap()
            .events;
        let events = parsed(&named);
        assert_eq!(events[0]["environmentName"], "ACME Production");
        assert_eq!(events[0]["environmentId"], "abc12345");
        assert!(events[1].get("environmentName").is_none(), "absent when unknown");
        assert!(events[2].get("environmentName").is_none(), "unattributed has no name");
        let unnamed = environment_cost_booked(&context(), "sub", &rows, &[total("2026-11-21", 3.0)]).unwrap().events;
        assert_ne!(named[0], unnamed[0], "the name is content: the event.id changes with it");
        assert_eq!(named[1], unnamed[1]);
    }

    fn parsed(events: &[(i64, String)]) -> Vec<Value> {
        events.iter().map(|(_, e)| serde_json::from_str(e).unwrap()).collect()
    }

    #[test]
    fn one_flat_event_per_environment_capability_and_day_sorted_by_day() {
        let rows = [
            row("2026-11-22", "abc12345", "LOGS", 2.0),
            row("2026-11-21", "env-uuid-1", "FULLSTACK_MONITORING", 10.5),
            row("2026-11-21", "abc12345", "LOGS", 1.0),
        ];
        let built = environment_cost_booked(&context(), "sub", &rows, &[]).unwrap();
        assert!(built.reconciliation.is_none(), "no totals, nothing to reconcile");
        let events = parsed(&built.events);
        let order: Vec<(&str, &str)> =
            events.iter().map(|e| (e["startTime"].as_str().unwrap(), e["environmentId"].as_str().unwrap())).collect();
        assert_eq!(
            order,
            [
                ("2026-11-21T00:00:00Z", "abc12345"),
                ("2026-11-21T00:00:00Z", "env-uuid-1"),
                ("2026-11-22T00:00:00Z", "abc12345")
            ]
        );
        assert_eq!(events[1]["event.type"], "dps.cost.environment.booked");
        assert_eq!(events[1]["clusterId"], "cluster-1");
        assert!(events[0].get("clusterId").is_none(), "SaaS environments have no cluster");
        assert_eq!(events[1]["capabilityKey"], "FULLSTACK_MONITORING");
        assert_eq!(events[1]["capabilityName"], "FULLSTACK_MONITORING name");
        assert_eq!(events[1]["bookingDate"], "2026-11-21T06:00:00Z");
        assert_eq!(events[1]["value"], json!(10.5));
        assert_eq!(events[1]["currency"], "USD");
        assert_eq!(events[1]["subscriptionUuid"], "sub");
        assert_eq!(events[1]["accountUuid"], "acc");
        assert_eq!(events[1]["timestamp"], "2026-11-21T00:00:00Z");
    }

    #[test]
    fn rows_of_one_key_are_summed_keeping_the_latest_booking() {
        let mut late = row("2026-11-21", "abc12345", "LOGS", 0.25);
        late.booking_date = Some("2026-11-24T06:00:00Z".into());
        let built =
            environment_cost_booked(&context(), "sub", &[row("2026-11-21", "abc12345", "LOGS", 1.0), late], &[])
                .unwrap();
        let events = parsed(&built.events);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["value"], json!(1.25));
        assert_eq!(events[0]["bookingDate"], "2026-11-24T06:00:00Z");
    }

    #[test]
    fn a_days_difference_from_its_total_is_emitted_as_unattributed() {
        let rows = [
            row("2026-11-21", "abc12345", "LOGS", 60.0),
            row("2026-11-21", "env-uuid-1", "LOGS", 40.0),
            row("2026-11-22", "abc12345", "LOGS", 70.0),
        ];
        // Day 21 adds up; day 22 has 30 unattributed; day 23 has a total but no environment rows.
        let totals = [total("2026-11-21", 100.000_000_4), total("2026-11-22", 100.0), total("2026-11-23", 5.5)];
        let built = environment_cost_booked(&context(), "sub", &rows, &totals).unwrap();
        let reconciliation = built.reconciliation.unwrap();
        assert_eq!(
            reconciliation,
            Reconciliation { days_compared: 3, days_unattributed: 2, unattributed: 35.5, currency: "USD".into() }
        );
        let events = parsed(&built.events);
        let unattributed: Vec<(&str, f64)> = events
            .iter()
            .filter(|e| e["environmentId"] == "unattributed")
            .map(|e| (e["startTime"].as_str().unwrap(), e["value"].as_f64().unwrap()))
            .collect();
        assert_eq!(unattributed, [("2026-11-22T00:00:00Z", 30.0), ("2026-11-23T00:00:00Z", 5.5)]);
        assert_eq!(events.last().unwrap()["capabilityKey"], "UNATTRIBUTED");
        // Every day's events add up to its total.
        for (day, expected) in [("2026-11-22T00:00:00Z", 100.0), ("2026-11-23T00:00:00Z", 5.5)] {
            let sum: f64 = events.iter().filter(|e| e["startTime"] == day).map(|e| e["value"].as_f64().unwrap()).sum();
            assert!((sum - expected).abs() < 1e-9, "{day}: {sum}");
        }
    }

    #[test]
    fn environments_adding_up_to_more_than_the_total_give_a_negative_share() {
        let built = environment_cost_booked(
            &context(),
            "sub",
            &[row("2026-11-21", "abc12345", "LOGS", 12.0)],
            &[total("2026-11-21", 10.0)],
        )
        .unwrap();
        assert_eq!(built.reconciliation.unwrap().unattributed, -2.0);
    }

    #[test]
    fn mixed_currencies_are_refused_naming_the_row() {
        let mut euro = row("2026-11-21", "abc12345", "LOGS", 1.0);
        euro.currency_code = "EUR".into();
        let error =
            environment_cost_booked(&context(), "sub", &[row("2026-11-21", "abc12345", "TRACES", 1.0), euro], &[])
                .err()
                .unwrap();
        assert_eq!(error.field, "cost[1].currencyCode");
        let error = environment_cost_booked(
            &context(),
            "sub",
            &[row("2026-11-21", "abc12345", "TRACES", 1.0)],
            &[CostRecord { currency_code: "EUR".into(), ..total("2026-11-21", 1.0) }],
        )
        .err()
        .unwrap();
        assert_eq!(error.field, "data[0].currencyCode");
    }

    #[test]
    fn ids_are_deterministic_and_distinct_per_key() {
        let rows = [row("2026-11-21", "abc12345", "LOGS", 1.0), row("2026-11-21", "abc12345", "TRACES", 1.0)];
        let first = environment_cost_booked(&context(), "sub", &rows, &[]).unwrap().events;
        let again = environment_cost_booked(&context(), "sub", &rows, &[]).unwrap().events;
        assert_eq!(first, again);
        assert_ne!(crate::events::event_id_of(&first[0].1), crate::events::event_id_of(&first[1].1));
    }
}
