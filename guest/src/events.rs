//! The transforms: typed API records to business events (flat JSON objects, see events.md).
//!
//! Each event is written with a fixed field order (by the flat event writer, `events/flat.rs`, or
//! a serde struct), so the text is canonical and its `event.id` (a UUIDv5 of the event type, the
//! record key and that text) is the same on every run for the same fact with the same content.

use serde::Serialize;

mod flat;

pub(crate) use flat::FlatEvent;

use crate::error::InvalidRecord;
use crate::time::parse_instant_millis;
use crate::wit::{ClusterLicense, CostRecord, EventContext, RunFigures, UnitUsage};

pub const COST_BOOKED: &str = "dps.cost2.booked";
pub const LICENSE_QUOTA: &str = "cluster.license.quota";
pub const RUN_SUMMARY: &str = "dtcost.run.summary";
pub const DEFAULT_CURRENCY: &str = "USD";

/// Seed of dtcost's event-id hash (a fixed random number: changing it changes every id).
const EVENT_ID_SEED: u64 = 0x6f1c_2b8e_4d3a_4c57;

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
    let mut events = Vec::with_capacity(costs.len());
    write_cost_booked(context, subscription_uuid, costs, Vec::with_capacity(512), |start, out| {
        // Each event its own text: the next one starts in a buffer of this one's size.
        let event = std::mem::replace(out, Vec::with_capacity(out.len() + 64));
        events.push((start, String::from_utf8(event).unwrap_or_default()));
    })?;
    Ok(events)
}

/// [`cost_booked`] as one NDJSON text (what the WIT transform returns), written into one buffer:
/// no allocation per event and no join.
pub fn cost_booked_ndjson(
    context: &EventContext,
    subscription_uuid: &str,
    costs: &[CostRecord],
) -> Result<String, InvalidRecord> {
    let mut written = 0;
    let text = write_cost_booked(context, subscription_uuid, costs, Vec::new(), |_, out| {
        out.push(b'\n');
        written += 1;
        if written == 1 {
            // The rest are about as long as the first: one allocation for all of them.
            out.reserve((out.len() + out.len() / 8) * (costs.len() - 1));
        }
    })?;
    // Only valid UTF-8 was written (see `FlatEvent::finish`).
    Ok(String::from_utf8(text).unwrap_or_default())
}

/// Writes the cost events in the order of their days, each after the one before in `out`, and
/// hands `out` to `written` after each, with the event's day (its start, ms since the epoch).
fn write_cost_booked(
    context: &EventContext,
    subscription_uuid: &str,
    costs: &[CostRecord],
    mut out: Vec<u8>,
    mut written: impl FnMut(i64, &mut Vec<u8>),
) -> Result<Vec<u8>, InvalidRecord> {
    let order = cost_days_in_order(costs)?;

    let mut cost_to_date = 0.0;
    for (start, index) in order {
        let record = &costs[index];
        cost_to_date += record.value;
        if !cost_to_date.is_finite() {
            return Err(InvalidRecord::new(
                format!("data[{index}].value"),
                format!("{} makes the running sum costToDate overflow", record.value),
            ));
        }
        let mut event = FlatEvent::after(out);
        event
            .text("event.type", COST_BOOKED)
            .text("event.provider", &context.provider)
            .text("timestamp", &record.start_time)
            .optional_text("lastBookingDate", record.last_booking_date.as_deref())
            .text("startTime", &record.start_time)
            .text("endTime", &record.end_time)
            .number("value", record.value)
            .text("currency", &record.currency_code)
            .text("subscriptionUuid", subscription_uuid)
            .text("accountUuid", &context.account_uuid)
            .text("accountName", &context.account_name)
            .number("costToDate", cost_to_date);
        let key = [context.account_uuid.as_str(), subscription_uuid, record.start_time.as_str()];
        out = event.finish_into(COST_BOOKED, &key);
        written(start, &mut out);
    }
    Ok(out)
}

/// The `/cost` records checked (their times, finite values, one currency), as (day start in ms
/// since the epoch, index), in the order of their days. Records are named by their index
/// (`data[i]`, as in the `/cost` response).
pub(crate) fn cost_days_in_order(costs: &[CostRecord]) -> Result<Vec<(i64, usize)>, InvalidRecord> {
    let mut order = Vec::with_capacity(costs.len());
    for (index, record) in costs.iter().enumerate() {
        // Field names are written only for an error: formatting three per record cost more
        // than the checks themselves.
        let field = |name: &str| format!("data[{index}].{name}");
        let start = parse_instant_millis(&record.start_time)
            .map_or_else(|| instant(&field("startTime"), &record.start_time), Ok)?;
        if parse_instant_millis(&record.end_time).is_none() {
            instant(&field("endTime"), &record.end_time)?;
        }
        if !record.value.is_finite() {
            finite(&field("value"), record.value)?;
        }
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
    Ok(order)
}

/// Events as one text, one per line, each line ending in `\n` (what the WIT transforms return).
pub fn ndjson(events: impl IntoIterator<Item = String>) -> String {
    let mut text = String::new();
    for event in events {
        text.push_str(&event);
        text.push('\n');
    }
    text
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
        let mut event = FlatEvent::new();
        event
            .text("event.type", LICENSE_QUOTA)
            .text("event.provider", provider)
            .text("timestamp", read_at)
            .optional_text("clusterId", license.cluster_id.as_deref())
            .text("clusterName", cluster_name)
            .optional_text("accountName", license.account_name.as_deref())
            .optional_text("licenseName", license.license_name.as_deref())
            .optional_text("licenseType", license.license_type.as_deref())
            .optional_text("licenseStatus", license.license_status.as_deref())
            .optional_text("licenseExpirationTime", license.license_expiration_time.as_deref())
            .optional_text("lastBillingTime", license.last_billing_time.as_deref())
            .optional_text("productVersion", license.product_version.as_deref())
            .text("unit", unit)
            .optional_number("quota", usage.quota)
            .optional_number("usage", usage.usage)
            .optional_number("usagePercent", usage.usage_percent)
            .optional_number("remaining", usage.remaining)
            .optional_number("remainingPercent", usage.remaining_percent)
            .optional_text("usageStatus", usage.usage_status.as_deref())
            .optional_number("overageQuota", overage.overage_quota)
            .optional_number("overageUsage", overage.overage_usage)
            .optional_number("overageUsagePercent", overage.overage_usage_percent)
            .optional_number("remainingOverage", overage.remaining_overage)
            .optional_number("remainingOveragePercent", overage.remaining_overage_percent);
        let key = [cluster_name, license.cluster_id.as_deref().unwrap_or(""), unit];
        events.push(event.finish(LICENSE_QUOTA, &key));
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
        usage_unattributed_days: summary.usage_unattributed_days,
        budget_alerts: summary.budget_alerts,
        anomalies: summary.anomalies,
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
    usage_unattributed_days: u32,
    budget_alerts: u32,
    anomalies: u32,
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
mod tests;
