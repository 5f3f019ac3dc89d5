//! The transforms: typed API records to business events (flat JSON objects, see events.md).
//!
//! Each event is serialised from a struct with a fixed field order, so the text is canonical and
//! its `event.id` (a UUIDv5 of the event type, the record key and that text) is the same on every
//! run for the same fact with the same content.

use serde::Serialize;

use crate::model::{ClusterLicense, CostRecord, EventContext, InvalidRecord, Subscription, UnitUsage};
use crate::time::parse_instant_millis;

pub const SUBSCRIPTION_STATUS: &str = "dps.subscription.status";
pub const COST_BOOKED: &str = "dps.cost2.booked";
pub const LICENSE_QUOTA: &str = "cluster.license.quota";
pub const DEFAULT_CURRENCY: &str = "USD";

/// Namespace of dtcost's event ids (a fixed random UUID).
const EVENT_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2b8e_4d3a_4c57_9e0f_a1b2_c3d4_e5f6);

/// One `dps.subscription.status` event.
pub fn subscription_status(
    context: &EventContext,
    subscription: &Subscription,
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
    let mut order = Vec::with_capacity(costs.len());
    for (index, record) in costs.iter().enumerate() {
        let field = |name: &str| format!("data[{index}].{name}");
        let start = instant(&field("startTime"), &record.start_time)?;
        instant(&field("endTime"), &record.end_time)?;
        finite(&field("value"), record.value)?;
        if let Some(date) = &record.last_booking_date {
            instant(&field("lastBookingDate"), date)?;
        }
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
    for (_, index) in order {
        let record = &costs[index];
        cost_to_date += record.value;
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
        events.push(with_event_id(COST_BOOKED, &key, &event));
    }
    Ok(events)
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
        let overage = usage.overage.clone().unwrap_or_default();
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
            usage_status: usage.usage_status.map(|status| status.as_api_str()),
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

/// The `event.id` of an event text, as [`with_event_id`] put it there.
pub fn event_id_of(event: &str) -> Option<&str> {
    let rest = event.strip_prefix("{\"event.id\":\"")?;
    rest.get(..36)
}

fn check_unit(field: &str, usage: &UnitUsage) -> Result<(), InvalidRecord> {
    let overage = usage.overage.clone().unwrap_or_default();
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

fn finite(field: &str, value: f64) -> Result<(), InvalidRecord> {
    if value.is_finite() { Ok(()) } else { Err(InvalidRecord::new(field, format!("{value} is not a finite number"))) }
}

fn instant(field: &str, text: &str) -> Result<i64, InvalidRecord> {
    parse_instant_millis(text).ok_or_else(|| {
        InvalidRecord::new(field, format!("{text:?} is neither a YYYY-MM-DD date nor an RFC 3339 date-time"))
    })
}

/// Serialises `event` and puts a deterministic `event.id` first.
fn with_event_id(event_type: &str, key: &str, event: &impl Serialize) -> String {
    // Serialising these structs cannot fail: every field is a string, a finite number or absent.
    let content = serde_json::to_string(event).unwrap_or_default();
    let mut name = String::with_capacity(event_type.len() + key.len() + content.len() + 2);
    name.push_str(event_type);
    name.push('\n');
    name.push_str(key);
    name.push('\n');
    name.push_str(&content);
    let id = uuid::Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes());
    let mut event = String::with_capacity(content.len() + 52);
    event.push_str("{\"event.id\":\"");
    event.push_str(id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()));
    event.push_str("\",");
    event.push_str(&content[1..]);
    event
}

/// Writes integral values as JSON integers (`1000000`, not `1000000.0`), as the API sent them.
fn number<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if value.fract() == 0.0 && value.abs() < EXACT {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f64(*value)
    }
}

fn optional_number<S: serde::Serializer>(value: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
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
