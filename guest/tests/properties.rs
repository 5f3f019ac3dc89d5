//! Property tests: whatever the APIs send, parsing and the transforms return a value or a typed
//! error, never a panic (which would be a trap in the component); and what they return is right.

use dtcost_guest::events::{cost_booked, event_id_of};
use dtcost_guest::parse;
use dtcost_guest::wit::{CostRecord, EventContext};
use proptest::prelude::*;

fn context() -> EventContext {
    EventContext { provider: "p".into(), account_uuid: "a".into(), account_name: "n".into() }
}

/// JSON values of any shape, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-zA-Z0-9:.TZ-]{0,24}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("data".to_owned()),
                    Just("startTime".to_owned()),
                    Just("endTime".to_owned()),
                    Just("value".to_owned()),
                    Just("currencyCode".to_owned()),
                    Just("usageOfHostUnits".to_owned()),
                    Just("usageStatus".to_owned()),
                    Just("overageUsage".to_owned()),
                    Just("budget".to_owned()),
                    Just("errors".to_owned()),
                    Just("index".to_owned()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn date_time() -> impl Strategy<Value = String> {
    (2000i32..2040, 1u32..13, 1u32..29, 0u32..24).prop_map(|(y, m, d, h)| format!("{y:04}-{m:02}-{d:02}T{h:02}:00:00Z"))
}

/// Every response reader on one JSON value: each gives a record or a typed error.
fn read_with_every_reader(json: &serde_json::Value) {
    let _ = parse::cost_list(json, "USD");
    let _ = parse::subscription(json);
    let _ = parse::subscription_list(json);
    let _ = parse::cluster_license(json);
    let _ = parse::environment_cost_page(json);
    let _ = parse::account_forecast(json);
    let _ = parse::ingest_error_entries(json);
    let _ = parse::token_grant(json);
}

proptest! {
    #[test]
    fn parsing_arbitrary_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(json) = parse::json(&body) {
            read_with_every_reader(&json);
        }
        let _ = parse::error_message(&body);
    }

    #[test]
    fn parsing_arbitrary_json_never_panics(value in json_value()) {
        read_with_every_reader(&value);
        let _ = parse::error_message(value.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_cost_records_give_events_or_a_named_error(
        records in prop::collection::vec(
            ("[0-9T:Z-]{0,22}", any::<f64>(), prop_oneof![Just("USD".to_owned()), Just("EUR".to_owned()), Just(String::new())]),
            0..12,
        )
    ) {
        let costs: Vec<CostRecord> = records
            .into_iter()
            .map(|(start, value, currency)| CostRecord {
                start_time: start.clone(),
                end_time: start,
                value,
                currency_code: currency,
                last_booking_date: None,
            })
            .collect();
        match cost_booked(&context(), "s", &costs) {
            Ok(events) => prop_assert_eq!(events.len(), costs.len()),
            Err(error) => prop_assert!(error.field.starts_with("data[")),
        }
    }

    #[test]
    fn valid_cost_records_are_sorted_and_summed(
        records in prop::collection::vec((date_time(), -1e6f64..1e6), 0..40)
    ) {
        let costs: Vec<CostRecord> = records
            .iter()
            .map(|(start, value)| CostRecord {
                start_time: start.clone(),
                end_time: start.clone(),
                value: *value,
                currency_code: "USD".into(),
                last_booking_date: Some(start[..10].to_owned()),
            })
            .collect();
        let events = cost_booked(&context(), "s", &costs).unwrap();
        let parsed: Vec<serde_json::Value> = events.iter().map(|e| serde_json::from_str(e).unwrap()).collect();
        let mut sorted = records.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut sum = 0.0;
        for (event, (start, value)) in parsed.iter().zip(&sorted) {
            sum += value;
            prop_assert_eq!(event["startTime"].as_str(), Some(start.as_str()));
            prop_assert_eq!(event["value"].as_f64(), Some(*value));
            prop_assert_eq!(event["costToDate"].as_f64(), Some(sum));
        }
        for event in &events {
            prop_assert!(event_id_of(event).is_some());
        }
    }
}
