//! The transforms: typed API records to business events (flat JSON objects, see events.md).
//!
//! Each event is serialised from a struct with a fixed field order, so the text is canonical and
//! its `event.id` (a UUIDv5 of the event type, the record key and that text) is the same on every
//! run for the same fact with the same content.

use serde::Serialize;

use crate::budget::{Outlook, StatusOutlook};
use crate::error::InvalidRecord;
use crate::time::parse_instant_millis;
use crate::wit::{AccountForecast, ClusterLicense, CostRecord, EventContext, RunFigures, Subscription, UnitUsage};

pub const SUBSCRIPTION_STATUS: &str = "dps.subscription.status";
pub const COST_BOOKED: &str = "dps.cost2.booked";
pub const LICENSE_QUOTA: &str = "cluster.license.quota";
pub const RUN_SUMMARY: &str = "dtcost.run.summary";
pub const DEFAULT_CURRENCY: &str = "USD";

/// Seed of dtcost's event-id hash (a fixed random number: changing it changes every id).
const EVENT_ID_SEED: u64 = 0x6f1c_2b8e_4d3a_4c57;

/// One `dps.subscription.status` event, with the outlook of its period (see [`budget::outlook`])
/// and Dynatrace's own forecast of the account beside it.
pub fn subscription_status(
    context: &EventContext,
    subscription: &Subscription,
    outlook: &Outlook,
    dynatrace_forecast: Option<&AccountForecast>,
    read_at: &str,
) -> Result<String, InvalidRecord> {
    finite("budget.total", subscription.budget.total)?;
    finite("budget.used", subscription.budget.used)?;
    finite("currentPeriod.daysRemaining", subscription.current_period.days_remaining)?;
    instant("readAt", read_at)?;
    let event = StatusEvent {
        event_type: SUBSCRIPTION_STATUS,
        provider: &context.provider,
        timestamp: read_at,
        uuid: &subscription.uuid,
        account: AccountRef { uuid: subscription.owner_account_uuid.as_deref().unwrap_or(&context.account_uuid) },
        account_uuid: &context.account_uuid,
        account_name: &context.account_name,
        name: &subscription.name,
        budget: subscription.budget.total,
        used: subscription.budget.used,
        currency: subscription.budget.currency_code.as_deref().unwrap_or(DEFAULT_CURRENCY),
        start_time: &subscription.current_period.start_time,
        end_time: &subscription.current_period.end_time,
        days_remaining: subscription.current_period.days_remaining,
        outlook: StatusOutlook::new(outlook, subscription.budget.total, dynatrace_forecast)?,
    };
    let key = format!("{}|{}", subscription.uuid, context.account_uuid);
    Ok(with_event_id(SUBSCRIPTION_STATUS, &key, &event))
}

/// `dps.cost2.booked` events, sorted by start time, with the running sum `costToDate`.
///
/// Records are named by their index in the input (`data[i]`, as in the `/cost` response).
pub fn cost_booked(
    context: &EventContext,
    subscription_uuid: &str,
    costs: &[CostRecord],
) -> Result<Vec<String>, InvalidRecord> {
    Ok(cost_booked_by_day(context, subscription_uuid, costs)?.into_iter().map(|(_, event)| event).collect())
}

/// [`cost_booked`], each event with its day's start in milliseconds since the epoch.
pub fn cost_booked_by_day(
    context: &EventContext,
    subscription_uuid: &str,
    costs: &[CostRecord],
) -> Result<Vec<(i64, String)>, InvalidRecord> {
    let mut order = Vec::with_capacity(costs.len());
    for (index, record) in costs.iter().enumerate() {
        let field = |name: &str| format!("data[{index}].{name}");
        let start = instant(&field("startTime"), &record.start_time)?;
        instant(&field("endTime"), &record.end_time)?;
        finite(&field("value"), record.value)?;
        // `lastBookingDate` is passed through as read: the published schema gives it no format.
        if record.currency_code.is_empty() {
            return Err(InvalidRecord::new(field("currencyCode"), "is empty"));
        }
        if record.currency_code != costs[0].currency_code {
            // A running sum across currencies would be meaningless.
            return Err(InvalidRecord::new(
                field("currencyCode"),
                format!(
                    "{} differs from {} of data[0]; costs in several currencies cannot be summed",
                    record.currency_code, costs[0].currency_code
                ),
            ));
        }
        order.push((start, index));
    }
    order.sort_unstable();

    let mut cost_to_date = 0.0;
    let mut events = Vec::with_capacity(costs.len());
    for (start, index) in order {
        let record = &costs[index];
        cost_to_date += record.value;
        if !cost_to_date.is_finite() {
            return Err(InvalidRecord::new(
                format!("data[{index}].value"),
                format!("{} makes the running sum costToDate overflow", record.value),
            ));
        }
        let event = CostEvent {
            event_type: COST_BOOKED,
            provider: &context.provider,
            timestamp: &record.start_time,
            last_booking_date: record.last_booking_date.as_deref(),
            start_time: &record.start_time,
            end_time: &record.end_time,
            value: record.value,
            currency: &record.currency_code,
            subscription_uuid,
            account_uuid: &context.account_uuid,
            account_name: &context.account_name,
            cost_to_date,
        };
        let key = format!("{}|{}|{}", context.account_uuid, subscription_uuid, record.start_time);
        events.push((start, with_event_id(COST_BOOKED, &key, &event)));
    }
    Ok(events)
}

/// Adds `exportedAt` (the run's time) to an event. It is not part of the `event.id`, so a day
/// sent again unchanged keeps its id, while DQL can keep the latest version of a changed day.
pub fn with_exported_at(event: &str, exported_at: &str) -> String {
    let mut out = String::with_capacity(event.len() + exported_at.len() + 20);
    out.push_str(event.strip_suffix('}').unwrap_or(event));
    out.push_str(",\"exportedAt\":");
    out.push_str(&serde_json::Value::from(exported_at).to_string());
    out.push('}');
    out
}

/// One `cluster.license.quota` event per unit kind present in the license.
pub fn cluster_quota(
    provider: &str,
    cluster_name: &str,
    license: &ClusterLicense,
    read_at: &str,
) -> Result<Vec<String>, InvalidRecord> {
    instant("readAt", read_at)?;
    let units = [
        ("HOST_UNITS", "usageOfHostUnits", &license.host_units),
        ("DEM_UNITS", "usageOfDemUnits", &license.dem_units),
        ("DDU", "usageOfDduUnits", &license.ddu_units),
    ];
    let mut events = Vec::new();
    for (unit, field, usage) in units {
        let Some(usage) = usage else { continue };
        check_unit(field, usage)?;
        let overage = usage.overage.unwrap_or_default();
        let event = QuotaEvent {
            event_type: LICENSE_QUOTA,
            provider,
            timestamp: read_at,
            cluster_id: license.cluster_id.as_deref(),
            cluster_name,
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
        let key = format!("{cluster_name}|{}|{unit}", license.cluster_id.as_deref().unwrap_or(""));
        events.push(with_event_id(LICENSE_QUOTA, &key, &event));
    }
    Ok(events)
}

/// The `dtcost.run.summary` event of a run at `read_at`.
pub fn run_summary(provider: &str, summary: &RunFigures, read_at: &str) -> Result<String, InvalidRecord> {
    let read = instant("readAt", read_at)?;
    let newest = match &summary.newest_cost_day {
        Some(day) => Some(instant("newestCostDay", day)?),
        None => None,
    };
    let failed = summary.accounts_failed + summary.clusters_failed;
    let event = SummaryEvent {
        event_type: RUN_SUMMARY,
        provider,
        timestamp: read_at,
        status: if failed == 0 && summary.events_rejected == 0 { "ok" } else { "failed" },
        accounts_ok: summary.accounts_ok,
        accounts_failed: summary.accounts_failed,
        clusters_ok: summary.clusters_ok,
        clusters_failed: summary.clusters_failed,
        records_read: summary.records_read,
        events_built: summary.events_built,
        events_sent: summary.events_sent,
        events_accepted: summary.events_accepted,
        events_rejected: summary.events_rejected,
        events_skipped: summary.events_skipped,
        requests: summary.requests,
        retries: summary.retries,
        throttled: summary.throttled,
        unattributed_days: summary.unattributed_days,
        budget_alerts: summary.budget_alerts,
        concurrency_reached: summary.concurrency_reached,
        duration_ms: summary.duration_ms,
        newest_cost_day: summary.newest_cost_day.as_deref(),
        // Hours from the start of the newest cost day to the run: a day is booked the day after,
        // so a healthy export sees 24 to 48.
        data_lag_hours: newest.map(|newest| ((read - newest) as f64 / 360_000.0).round() / 10.0),
        dry_run: summary.dry_run,
        version: &summary.version,
    };
    Ok(with_event_id(RUN_SUMMARY, read_at, &event))
}

/// The `event.id` of an event text, as [`with_event_id`] put it there.
pub fn event_id_of(event: &str) -> Option<&str> {
    let rest = event.strip_prefix("{\"event.id\":\"")?;
    rest.get(..36)
}

fn check_unit(field: &str, usage: &UnitUsage) -> Result<(), InvalidRecord> {
    let overage = usage.overage.unwrap_or_default();
    let numbers = [
        ("quota", usage.quota),
        ("usage", usage.usage),
        ("usagePercent", usage.usage_percent),
        ("remaining", usage.remaining),
        ("remainingPercent", usage.remaining_percent),
        ("overageUsage.overageQuota", overage.overage_quota),
        ("overageUsage.overageUsage", overage.overage_usage),
        ("overageUsage.overageUsagePercent", overage.overage_usage_percent),
        ("overageUsage.remainingOverage", overage.remaining_overage),
        ("overageUsage.remainingOveragePercent", overage.remaining_overage_percent),
    ];
    for (name, value) in numbers {
        if let Some(value) = value {
            finite(&format!("{field}.{name}"), value)?;
        }
    }
    Ok(())
}

pub(crate) fn finite(field: &str, value: f64) -> Result<f64, InvalidRecord> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(InvalidRecord::new(field, format!("{value} is not a finite number")))
    }
}

pub(crate) fn instant(field: &str, text: &str) -> Result<i64, InvalidRecord> {
    parse_instant_millis(text).ok_or_else(|| {
        InvalidRecord::new(field, format!("{text:?} is neither a YYYY-MM-DD date nor an RFC 3339 date-time"))
    })
}

/// Serialises `event` and puts a deterministic `event.id` first: a UUIDv8 made of the XXH3-128
/// hash of the event type, the record key and the event's canonical text. (XXH3 rather than the
/// SHA-1 of a UUIDv5: the ids need to be stable and distinct, not secret, and hashing was half the
/// cost of a transform; see BENCHMARKS.md.)
pub(crate) fn with_event_id(event_type: &str, key: &str, event: &impl Serialize) -> String {
    const PREFIX: &[u8] = b"{\"event.id\":\"00000000-0000-0000-0000-000000000000\",";
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(PREFIX);
    // Serialising these structs cannot fail: every field is a string, a finite number or absent.
    let _ = serde_json::to_writer(&mut out, event);
    let content = &out[PREFIX.len()..];
    let mut hasher = xxhash_rust::xxh3::Xxh3::with_seed(EVENT_ID_SEED);
    hasher.update(event_type.as_bytes());
    hasher.update(b"\n");
    hasher.update(key.as_bytes());
    hasher.update(b"\n");
    hasher.update(content);
    let id = uuid::Builder::from_custom_bytes(hasher.digest128().to_be_bytes()).into_uuid();
    id.hyphenated().encode_lower(&mut out[13..49]);
    // The struct's own opening brace gives way to the id's.
    out.remove(PREFIX.len());
    // Only valid UTF-8 was written: the prefix, a serde_json document and a hex UUID.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes integral values as JSON integers (`1000000`, not `1000000.0`), as the API sent them.
pub(crate) fn number<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

pub(crate) fn optional_number<S: serde::Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => number(value, serializer),
        None => serializer.serialize_none(),
    }
}

#[derive(Serialize)]
struct AccountRef<'a> {
    uuid: &'a str,
}

#[derive(Serialize)]
struct StatusEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    uuid: &'a str,
    account: AccountRef<'a>,
    #[serde(rename = "accountUuid")]
    account_uuid: &'a str,
    #[serde(rename = "accountName")]
    account_name: &'a str,
    name: &'a str,
    #[serde(serialize_with = "number")]
    budget: f64,
    #[serde(serialize_with = "number")]
    used: f64,
    currency: &'a str,
    #[serde(rename = "startTime")]
    start_time: &'a str,
    #[serde(rename = "endTime")]
    end_time: &'a str,
    #[serde(rename = "daysRemaining", serialize_with = "number")]
    days_remaining: f64,
    #[serde(flatten)]
    outlook: StatusOutlook<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CostEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_booking_date: Option<&'a str>,
    start_time: &'a str,
    end_time: &'a str,
    #[serde(serialize_with = "number")]
    value: f64,
    currency: &'a str,
    subscription_uuid: &'a str,
    account_uuid: &'a str,
    account_name: &'a str,
    #[serde(serialize_with = "number")]
    cost_to_date: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QuotaEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<&'a str>,
    cluster_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_expiration_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_billing_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_version: Option<&'a str>,
    unit: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    quota: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    usage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    usage_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    remaining: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    remaining_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    overage_quota: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    overage_usage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    overage_usage_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    remaining_overage: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    remaining_overage_percent: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    status: &'a str,
    accounts_ok: u32,
    accounts_failed: u32,
    clusters_ok: u32,
    clusters_failed: u32,
    records_read: u32,
    events_built: u32,
    events_sent: u32,
    events_accepted: u32,
    events_rejected: u32,
    events_skipped: u32,
    requests: u32,
    retries: u32,
    throttled: u32,
    unattributed_days: u32,
    budget_alerts: u32,
    concurrency_reached: u32,
    duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    newest_cost_day: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    data_lag_hours: Option<f64>,
    dry_run: bool,
    version: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::{Budget, OverageUsage, Period};
    use serde_json::{Value, json};

    /// The `usageStatus` values the cluster license documentation lists (see the WIT `unit-usage`).
    const DOCUMENTED_USAGE_STATUSES: [&str; 4] =
        ["USING_QUOTA", "QUOTA_REACHED", "USING_OVERAGE", "OVERAGE_QUOTA_REACHED"];

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
        let costs = [
            cost("2026-03-26T00:00:00Z", 3.0),
            cost("2026-03-24T00:00:00Z", 1.0),
            cost("2026-03-25T00:00:00.000Z", 2.5),
        ];
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
        assert_eq!(
            subscription_status(&context(), &subscription(), &outlook(), None, "now").unwrap_err().field,
            "readAt"
        );
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
        for name in
            ["overageQuota", "overageUsage", "overageUsagePercent", "remainingOverage", "remainingOveragePercent"]
        {
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
}
