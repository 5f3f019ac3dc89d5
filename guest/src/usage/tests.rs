//! Tests of the usage events: pricing, sums per capability and day, the reconciliation.

use serde_json::{Value, json};

use super::*;
use crate::rate_card::tests::card;
use crate::time::parse_instant_millis;

fn context() -> EventContext {
    EventContext { provider: "p".into(), account_uuid: "acc".into(), account_name: "ACME".into() }
}

fn record(day: &str, capability: &str, value: f64) -> UsageRecord {
    UsageRecord {
        capability_key: capability.into(),
        capability_name: format!("{capability} name"),
        start_time: format!("{day}T00:00:00Z"),
        end_time: format!("{day}T23:59:59Z"),
        value,
        unit_measure: "GiB".into(),
    }
}

fn total(day: &str, value: f64) -> CostRecord {
    CostRecord {
        start_time: format!("{day}T00:00:00Z"),
        end_time: format!("{day}T23:59:59Z"),
        value,
        currency_code: "USD".into(),
        last_booking_date: None,
    }
}

/// One card over 2026 pricing LOGS at 0.5 and TRACES at 0.25 (as the API sends them: strings).
fn cards() -> Vec<RateCard> {
    vec![card("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", &[("LOGS", "0.5"), ("TRACES", "0.25")])]
}

fn all_days() -> Range<i64> {
    i64::MIN..i64::MAX
}

fn parsed(events: &UsageEvents) -> Vec<Value> {
    events.events.iter().map(|(_, e)| serde_json::from_str(e).unwrap()).collect()
}

#[test]
fn one_event_per_capability_and_day_with_quantity_price_and_cost() {
    let usage =
        [record("2026-11-21", "TRACES", 40.0), record("2026-11-21", "LOGS", 10.0), record("2026-11-21", "LOGS", 2.0)];
    let built = usage_booked(&context(), "sub", &usage, &cards(), &[total("2026-11-21", 16.0)], all_days()).unwrap();
    assert_eq!(built.reconciliation.as_ref().unwrap().days_unattributed, 0, "6 + 10 is the day's total");
    let events = parsed(&built);
    assert_eq!(events.len(), 2);
    let logs = &events[0];
    assert_eq!(logs["event.type"], "dps.usage.booked");
    assert_eq!(logs["capabilityKey"], "LOGS");
    assert_eq!(logs["capabilityName"], "LOGS name");
    assert_eq!(logs["quantity"], json!(12), "records of one capability and day are summed");
    assert_eq!(logs["unitMeasure"], "GiB");
    assert_eq!(logs["price"], json!(0.5));
    assert_eq!(logs["currency"], "USD");
    assert_eq!(logs["cost"], json!(6));
    assert_eq!(logs["subscriptionUuid"], "sub");
    assert_eq!(logs["accountUuid"], "acc");
    assert_eq!(logs["accountName"], "ACME");
    assert_eq!(logs["startTime"], "2026-11-21T00:00:00Z");
    assert_eq!(logs["endTime"], "2026-11-21T23:59:59Z");
    assert_eq!(events[1]["cost"], json!(10));
}

#[test]
fn a_day_whose_capabilities_fall_short_of_its_total_gets_the_difference_as_unattributed() {
    let usage = [record("2026-11-21", "LOGS", 10.0), record("2026-11-22", "LOGS", 10.0)];
    // Day 21 is 5 short; day 22 adds up; day 23 has a total and no usage; day 24 has usage and no total.
    let totals = [total("2026-11-21", 10.0), total("2026-11-22", 5.000_000_4), total("2026-11-23", 2.5)];
    let usage = [&usage[..], &[record("2026-11-24", "LOGS", 4.0)]].concat();
    let built = usage_booked(&context(), "sub", &usage, &cards(), &totals, all_days()).unwrap();
    assert_eq!(built.reconciliation.as_ref().unwrap().days_unattributed, 3);
    let events = parsed(&built);
    let unattributed: Vec<(&str, f64)> = events
        .iter()
        .filter(|e| e["capabilityKey"] == "UNATTRIBUTED")
        .map(|e| (e["startTime"].as_str().unwrap(), e["cost"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        unattributed,
        [("2026-11-21T00:00:00Z", 5.0), ("2026-11-23T00:00:00Z", 2.5), ("2026-11-24T00:00:00Z", -2.0)],
        "differences are sent, negative where the capabilities add up to more"
    );
    let first = events.iter().find(|e| e["capabilityKey"] == "UNATTRIBUTED").unwrap();
    assert!(first.get("quantity").is_none() && first.get("price").is_none() && first.get("unitMeasure").is_none());
    assert_eq!(first["currency"], "USD");
    // Every day's events add up to its total.
    for (day, expected) in [("2026-11-21T00:00:00Z", 10.0), ("2026-11-23T00:00:00Z", 2.5)] {
        let sum: f64 = events.iter().filter(|e| e["startTime"] == day).map(|e| e["cost"].as_f64().unwrap()).sum();
        assert!((sum - expected).abs() < 1e-9, "{day}: {sum}");
    }
}

#[test]
fn days_outside_the_window_are_left_out() {
    let usage = [record("2026-11-20", "LOGS", 10.0), record("2026-11-21", "LOGS", 10.0)];
    let totals = [total("2026-11-20", 99.0), total("2026-11-21", 5.0)];
    let from = parse_instant_millis("2026-11-21T00:00:00Z").unwrap();
    let built = usage_booked(&context(), "sub", &usage, &cards(), &totals, from..from + DAY_MS).unwrap();
    let days: Vec<String> = parsed(&built).iter().map(|e| e["startTime"].as_str().unwrap().to_owned()).collect();
    assert_eq!(days, ["2026-11-21T00:00:00Z"]);
}

#[test]
fn a_capability_without_a_price_fails_naming_it() {
    let usage = [record("2026-11-21", "LOGS", 1.0), record("2026-11-21", "SYNTHETIC", 1.0)];
    let error = usage_booked(&context(), "sub", &usage, &cards(), &[], all_days()).unwrap_err();
    assert!(matches!(&error, UsageError::Price(PriceError::Missing { capability, .. }) if capability == "SYNTHETIC"));
    assert!(error.to_string().contains("SYNTHETIC"), "{error}");
}

#[test]
fn a_rate_card_in_another_currency_than_the_cost_is_refused() {
    let mut euro = cards();
    euro[0].currency_code = "EUR".into();
    let error = usage_booked(
        &context(),
        "sub",
        &[record("2026-11-21", "LOGS", 1.0)],
        &euro,
        &[total("2026-11-21", 0.5)],
        all_days(),
    )
    .unwrap_err();
    assert!(matches!(&error, UsageError::Currency { card, cost } if card == "EUR" && cost == "USD"), "{error}");
}

#[test]
fn a_price_per_another_unit_than_the_usage_is_refused_naming_the_capability() {
    let mut tebibytes = cards();
    tebibytes[0].capabilities[0].unit = "TiB".into();
    let error =
        usage_booked(&context(), "sub", &[record("2026-11-21", "LOGS", 1.0)], &tebibytes, &[], all_days()).unwrap_err();
    assert!(
        matches!(&error, UsageError::Unit { capability, usage, card } if capability == "LOGS" && usage == "GiB" && card == "TiB"),
        "{error}"
    );
}

#[test]
fn bad_usage_records_are_refused_naming_the_field() {
    let mut bad = record("2026-11-21", "LOGS", 1.0);
    bad.start_time = "yesterday".into();
    let error = usage_booked(&context(), "sub", &[record("2026-11-21", "LOGS", 1.0), bad], &cards(), &[], all_days())
        .unwrap_err();
    assert!(matches!(&error, UsageError::Usage(record) if record.field == "data[1].startTime"), "{error}");
    let mut other_unit = record("2026-11-21", "LOGS", 1.0);
    other_unit.unit_measure = "TiB".into();
    let error =
        usage_booked(&context(), "sub", &[record("2026-11-21", "LOGS", 1.0), other_unit], &cards(), &[], all_days())
            .unwrap_err();
    assert!(matches!(&error, UsageError::Usage(record) if record.field == "data[1].unitMeasure"), "{error}");
}

#[test]
fn ids_are_deterministic_and_change_with_the_price() {
    let usage = [record("2026-11-21", "LOGS", 1.0)];
    let first = usage_booked(&context(), "sub", &usage, &cards(), &[], all_days()).unwrap().events;
    let again = usage_booked(&context(), "sub", &usage, &cards(), &[], all_days()).unwrap().events;
    assert_eq!(first, again);
    let mut repriced = cards();
    repriced[0].capabilities[0].price = "0.6".into();
    let changed = usage_booked(&context(), "sub", &usage, &repriced, &[], all_days()).unwrap().events;
    assert_ne!(crate::events::event_id_of(&first[0].1), crate::events::event_id_of(&changed[0].1));
}
