//! Tests of the transforms: records to events, canonical text and deterministic ids.

use super::*;
use crate::budget::{Outlook, subscription_status};
use crate::wit::{Budget, OverageUsage, Period, Subscription};
use serde_json::{Value, json};

/// The `usageStatus` values the cluster license documentation lists (see the WIT `unit-usage`).
const DOCUMENTED_USAGE_STATUSES: [&str; 4] = ["USING_QUOTA", "QUOTA_REACHED", "USING_OVERAGE", "OVERAGE_QUOTA_REACHED"];

fn context() -> EventContext {
    EventContext { provider: "dps4ma.ingester".into(), account_uuid: "acc-1".into(), account_name: "ACME".into() }
}

fn cost(start: &str, value: f64) -> CostRecord {
    CostRecord {
        start_time: start.into(),
        end_time: start.replace("T00", "T23"),
        value,
        currency_code: "USD".into(),
        last_booking_date: Some(start[..10].to_owned()),
    }
}

fn parsed(events: &[String]) -> Vec<Value> {
    events.iter().map(|e| serde_json::from_str(e).unwrap()).collect()
}

#[test]
fn cost_events_are_sorted_by_start_time_with_a_running_sum() {
    let costs =
        [cost("2026-03-26T00:00:00Z", 3.0), cost("2026-03-24T00:00:00Z", 1.0), cost("2026-03-25T00:00:00.000Z", 2.5)];
    let events = parsed(&cost_booked(&context(), "sub-1", &costs).unwrap());
    let starts: Vec<&str> = events.iter().map(|e| e["startTime"].as_str().unwrap()).collect();
    assert_eq!(starts, ["2026-03-24T00:00:00Z", "2026-03-25T00:00:00.000Z", "2026-03-26T00:00:00Z"]);
    let sums: Vec<f64> = events.iter().map(|e| e["costToDate"].as_f64().unwrap()).collect();
    assert_eq!(sums, [1.0, 3.5, 6.5]);
    assert_eq!(events[0]["event.type"], "dps.cost2.booked");
    assert_eq!(events[0]["timestamp"], "2026-03-24T00:00:00Z");
    assert_eq!(events[0]["subscriptionUuid"], "sub-1");
    assert_eq!(events[0]["accountName"], "ACME");
    assert_eq!(events[0]["value"], json!(1), "integral values stay integers");
}

#[test]
fn dates_sort_as_instants_across_formats_and_offsets() {
    // 23:30 the day before at -01:00 is 00:30Z: after 00:00Z.
    let costs = [cost("2026-03-24T23:30:00-01:00", 2.0), cost("2026-03-25T00:00:00Z", 1.0)];
    let events = parsed(&cost_booked(&context(), "s", &costs).unwrap());
    assert_eq!(events[0]["value"], json!(1));
    assert_eq!(events[1]["costToDate"], json!(3));
}

#[test]
fn an_empty_history_gives_no_events() {
    assert!(cost_booked(&context(), "s", &[]).unwrap().is_empty());
    assert_eq!(cost_booked_ndjson(&context(), "s", &[]).unwrap(), "");
}

#[test]
fn last_booking_date_is_kept_as_read_in_either_format_or_left_out() {
    let mut with_time = cost("2026-03-24T00:00:00Z", 1.0);
    with_time.last_booking_date = Some("2026-03-25T06:00:00Z".into());
    let mut without = cost("2026-03-25T00:00:00Z", 1.0);
    without.last_booking_date = None;
    let events =
        parsed(&cost_booked(&context(), "s", &[with_time, without, cost("2026-03-26T00:00:00Z", 1.0)]).unwrap());
    assert_eq!(events[0]["lastBookingDate"], "2026-03-25T06:00:00Z");
    assert!(events[1].get("lastBookingDate").is_none());
    assert_eq!(events[2]["lastBookingDate"], "2026-03-26");
}

#[test]
fn invalid_cost_records_are_named_by_index_and_field() {
    let mut bad_time = cost("2026-03-24T00:00:00Z", 1.0);
    bad_time.start_time = "24/03/2026".into();
    let error = cost_booked(&context(), "s", &[cost("2026-03-23T00:00:00Z", 1.0), bad_time]).unwrap_err();
    assert_eq!(error.field, "data[1].startTime");

    let error = cost_booked(&context(), "s", &[cost("2026-03-24T00:00:00Z", f64::NAN)]).unwrap_err();
    assert_eq!(error.field, "data[0].value");

    let mut euro = cost("2026-03-25T00:00:00Z", 1.0);
    euro.currency_code = "EUR".into();
    let error = cost_booked(&context(), "s", &[cost("2026-03-24T00:00:00Z", 1.0), euro]).unwrap_err();
    assert_eq!(error.field, "data[1].currencyCode");
    assert!(error.message.contains("cannot be summed"), "{error}");
}

#[test]
fn event_ids_are_deterministic_and_change_with_content() {
    let costs = [cost("2026-03-24T00:00:00Z", 1.0), cost("2026-03-25T00:00:00Z", 2.0)];
    let first = cost_booked(&context(), "s", &costs).unwrap();
    let again = cost_booked(&context(), "s", &costs).unwrap();
    assert_eq!(first, again);
    let ids: Vec<&str> = first.iter().map(|e| event_id_of(e).unwrap()).collect();
    assert_ne!(ids[0], ids[1]);
    assert_eq!(parsed(&first)[0]["event.id"], ids[0]);
    let changed = cost_booked(&context(), "s", &[cost("2026-03-24T00:00:00Z", 1.5), costs[1].clone()]).unwrap();
    assert_ne!(event_id_of(&changed[0]), event_id_of(&first[0]));
}

fn subscription() -> Subscription {
    Subscription {
        uuid: "sub-1".into(),
        name: "DPS".into(),
        type_: "REGULAR".into(),
        sub_type: None,
        status: "ACTIVE".into(),
        owner_account_uuid: Some("owner-1".into()),
        budget: Budget { total: 1_000_000.0, used: 27_328.879_418_458_8, currency_code: None },
        current_period: Period {
            start_time: "2024-09-26".into(),
            end_time: "2025-09-25".into(),
            days_remaining: 313.0,
        },
    }
}

/// The outlook of [`subscription`] without cost data: no forecast.
fn outlook() -> Outlook {
    crate::budget::outlook(&subscription(), &[]).unwrap()
}

#[test]
fn the_status_event_has_the_walkthrough_fields_and_flat_twins() {
    let event: Value = serde_json::from_str(
        &subscription_status(&context(), &subscription(), &outlook(), None, "2026-11-23T10:00:00Z").unwrap(),
    )
    .unwrap();
    assert_eq!(event["event.type"], "dps.subscription.status");
    assert_eq!(event["event.provider"], "dps4ma.ingester");
    assert_eq!(event["uuid"], "sub-1");
    assert_eq!(event["account"], json!({"uuid": "owner-1"}));
    assert_eq!(event["accountUuid"], "acc-1");
    assert_eq!(event["accountName"], "ACME");
    assert_eq!(event["budget"], json!(1_000_000));
    assert_eq!(event["used"], json!(27_328.879_418_458_8));
    assert_eq!(event["currency"], "USD", "currency defaults to USD as in the walk-through");
    assert_eq!(event["startTime"], "2024-09-26");
    assert_eq!(event["endTime"], "2025-09-25");
    assert_eq!(event["daysRemaining"], json!(313));
    assert_eq!(event["timestamp"], "2026-11-23T10:00:00Z");
    assert!(event["event.id"].as_str().is_some_and(|id| id.len() == 36));
}

#[test]
fn the_status_event_refuses_a_bad_read_time_or_non_finite_budget() {
    assert_eq!(subscription_status(&context(), &subscription(), &outlook(), None, "now").unwrap_err().field, "readAt");
    let mut broken = subscription();
    broken.budget.used = f64::INFINITY;
    let error = subscription_status(&context(), &broken, &outlook(), None, "2026-11-23").unwrap_err();
    assert_eq!(error.field, "budget.used");
}

fn unit(status: &str, overage: Option<OverageUsage>) -> UnitUsage {
    UnitUsage {
        quota: Some(500.0),
        usage: Some(412.5),
        usage_percent: Some(82.5),
        remaining: Some(87.5),
        remaining_percent: Some(17.5),
        usage_status: Some(status.to_owned()),
        overage,
    }
}

#[test]
fn one_quota_event_per_unit_kind_present() {
    let license = ClusterLicense {
        cluster_id: Some("c-1".into()),
        license_name: Some("ACME".into()),
        host_units: Some(unit("USING_QUOTA", None)),
        ddu_units: Some(unit("QUOTA_REACHED", None)),
        ..ClusterLicense::default()
    };
    let events = parsed(&cluster_quota("p", "prod", &license, "2026-11-23T10:00:00Z").unwrap());
    let units: Vec<&str> = events.iter().map(|e| e["unit"].as_str().unwrap()).collect();
    assert_eq!(units, ["HOST_UNITS", "DDU"]);
    assert_eq!(events[0]["clusterName"], "prod");
    assert_eq!(events[0]["clusterId"], "c-1");
    assert_eq!(events[0]["quota"], json!(500));
    assert_eq!(events[0]["usage"], json!(412.5));
}

#[test]
fn overage_fields_are_absent_unless_set_never_zero() {
    let no_limit = OverageUsage { overage_usage: Some(0.0), ..OverageUsage::default() };
    let limited = OverageUsage {
        overage_quota: Some(200_000.0),
        overage_usage: Some(15_000.0),
        overage_usage_percent: Some(7.5),
        remaining_overage: Some(185_000.0),
        remaining_overage_percent: Some(92.5),
    };
    let license = ClusterLicense {
        host_units: Some(unit("USING_QUOTA", Some(no_limit))),
        dem_units: Some(unit("USING_OVERAGE", Some(limited))),
        ddu_units: Some(unit("USING_QUOTA", None)),
        ..ClusterLicense::default()
    };
    let events = parsed(&cluster_quota("p", "prod", &license, "2026-11-23T10:00:00Z").unwrap());
    assert!(events[0].get("overageQuota").is_none(), "no overage limit: no overageQuota");
    assert_eq!(events[0]["overageUsage"], json!(0));
    assert!(events[0].get("remainingOverage").is_none());
    assert_eq!(events[1]["overageQuota"], json!(200_000));
    assert_eq!(events[1]["remainingOveragePercent"], json!(92.5));
    for name in ["overageQuota", "overageUsage", "overageUsagePercent", "remainingOverage", "remainingOveragePercent"] {
        assert!(events[2].get(name).is_none(), "{name} must be absent without an overageUsage object");
    }
}

#[test]
fn every_usage_status_is_written_as_the_api_spells_it_listed_or_not() {
    for status in DOCUMENTED_USAGE_STATUSES.into_iter().chain(["SOMETHING_NEW"]) {
        let license = ClusterLicense { host_units: Some(unit(status, None)), ..ClusterLicense::default() };
        let events = parsed(&cluster_quota("p", "c", &license, "2026-11-23").unwrap());
        assert_eq!(events[0]["usageStatus"], status);
    }
}

#[test]
fn quota_events_never_carry_license_key_or_contact() {
    let license = ClusterLicense { host_units: Some(unit("USING_QUOTA", None)), ..ClusterLicense::default() };
    let event = &cluster_quota("p", "c", &license, "2026-11-23").unwrap()[0];
    assert!(!event.contains("licenseKey") && !event.contains("contactEmailAddress"));
}

/// The structs cost and quota events were serialised from until the flat writer replaced them:
/// kept here to show that the writer gives every event the same text and the same id.
mod serde_structs {
    use serde::Serialize;

    use crate::events::{number, optional_number};

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct CostEvent<'a> {
        #[serde(rename = "event.type")]
        pub event_type: &'a str,
        #[serde(rename = "event.provider")]
        pub provider: &'a str,
        pub timestamp: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub last_booking_date: Option<&'a str>,
        pub start_time: &'a str,
        pub end_time: &'a str,
        #[serde(serialize_with = "number")]
        pub value: f64,
        pub currency: &'a str,
        pub subscription_uuid: &'a str,
        pub account_uuid: &'a str,
        pub account_name: &'a str,
        #[serde(serialize_with = "number")]
        pub cost_to_date: f64,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct QuotaEvent<'a> {
        #[serde(rename = "event.type")]
        pub event_type: &'a str,
        #[serde(rename = "event.provider")]
        pub provider: &'a str,
        pub timestamp: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub cluster_id: Option<&'a str>,
        pub cluster_name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub account_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub license_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub license_type: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub license_status: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub license_expiration_time: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub last_billing_time: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub product_version: Option<&'a str>,
        pub unit: &'a str,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub quota: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub usage: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub usage_percent: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub remaining: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub remaining_percent: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub usage_status: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub overage_quota: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub overage_usage: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub overage_usage_percent: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub remaining_overage: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
        pub remaining_overage_percent: Option<f64>,
    }
}

#[test]
fn the_flat_writer_gives_cost_events_the_text_and_id_serde_gave_them() {
    let names = ["ACME", "Ümlaut \"quoted\" \\ back", "tab\there\u{1}\u{1f}", "emoji 💸", ""];
    let values = [0.0, -0.0, 1.0, 0.1, 1e-7, 1e21, -42.5, 123_456_789.123, 9_007_199_254_740_993.0];
    for (index, name) in names.iter().enumerate() {
        let context = EventContext {
            provider: "p\"rov".into(),
            account_uuid: format!("acc-{index}"),
            account_name: (*name).into(),
        };
        let records: Vec<CostRecord> = values
            .iter()
            .enumerate()
            .map(|(day, value)| CostRecord {
                start_time: format!("2026-11-{:02}T00:00:00Z", day + 1),
                end_time: format!("2026-11-{:02}T23:59:59.999Z", day + 1),
                value: *value,
                currency_code: "EUR".into(),
                last_booking_date: (day % 2 == 0).then(|| format!("2026-11-{:02}", day + 2)),
            })
            .collect();
        let events = cost_booked(&context, name, &records).unwrap();
        // The events written into one NDJSON text are the same texts, in the same order.
        let ndjson = cost_booked_ndjson(&context, name, &records).unwrap();
        assert_eq!(ndjson.lines().collect::<Vec<_>>(), events, "NDJSON of {name}");
        assert!(ndjson.ends_with('\n') || events.is_empty());
        let mut cost_to_date = 0.0;
        for (record, event) in records.iter().zip(&events) {
            cost_to_date += record.value;
            let expected = serde_structs::CostEvent {
                event_type: COST_BOOKED,
                provider: &context.provider,
                timestamp: &record.start_time,
                last_booking_date: record.last_booking_date.as_deref(),
                start_time: &record.start_time,
                end_time: &record.end_time,
                value: record.value,
                currency: &record.currency_code,
                subscription_uuid: name,
                account_uuid: &context.account_uuid,
                account_name: &context.account_name,
                cost_to_date,
            };
            let key = format!("{}|{}|{}", context.account_uuid, name, record.start_time);
            assert_eq!(event, &with_event_id(COST_BOOKED, &key, &expected));
        }
    }
}

#[test]
fn the_flat_writer_gives_quota_events_the_text_and_id_serde_gave_them() {
    let overage = OverageUsage {
        overage_quota: Some(200_000.0),
        overage_usage: Some(0.0),
        overage_usage_percent: Some(0.5),
        remaining_overage: None,
        remaining_overage_percent: Some(92.5),
    };
    let license = ClusterLicense {
        cluster_id: Some("c-\"1\"".into()),
        account_name: None,
        license_name: Some("Licence \u{7} with bell".into()),
        host_units: Some(unit("USING_QUOTA", None)),
        dem_units: Some(unit("SOMETHING NEW", Some(overage))),
        ddu_units: None,
        ..ClusterLicense::default()
    };
    let events = cluster_quota("dps4ma.ingester", "managed\\1", &license, "2026-11-23T06:00:00Z").unwrap();
    assert_eq!(events.len(), 2);
    for (event, (unit, usage)) in
        events.iter().zip([("HOST_UNITS", &license.host_units), ("DEM_UNITS", &license.dem_units)])
    {
        let usage = usage.as_ref().unwrap();
        let overage = usage.overage.unwrap_or_default();
        let expected = serde_structs::QuotaEvent {
            event_type: LICENSE_QUOTA,
            provider: "dps4ma.ingester",
            timestamp: "2026-11-23T06:00:00Z",
            cluster_id: license.cluster_id.as_deref(),
            cluster_name: "managed\\1",
            account_name: license.account_name.as_deref(),
            license_name: license.license_name.as_deref(),
            license_type: license.license_type.as_deref(),
            license_status: license.license_status.as_deref(),
            license_expiration_time: license.license_expiration_time.as_deref(),
            last_billing_time: license.last_billing_time.as_deref(),
            product_version: license.product_version.as_deref(),
            unit,
            quota: usage.quota,
            usage: usage.usage,
            usage_percent: usage.usage_percent,
            remaining: usage.remaining,
            remaining_percent: usage.remaining_percent,
            usage_status: usage.usage_status.as_deref(),
            overage_quota: overage.overage_quota,
            overage_usage: overage.overage_usage,
            overage_usage_percent: overage.overage_usage_percent,
            remaining_overage: overage.remaining_overage,
            remaining_overage_percent: overage.remaining_overage_percent,
        };
        let key = format!("managed\\1|{}|{unit}", license.cluster_id.as_deref().unwrap_or(""));
        assert_eq!(event, &with_event_id(LICENSE_QUOTA, &key, &expected));
    }
}
