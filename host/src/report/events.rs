//! The events the report reads, as plain records: the newest version of each fact (by
//! `exportedAt`), grouped per subscription and kept to its currency (amounts in two currencies
//! are never added). Every text is bounded here; the page escapes it where it writes it.

use std::collections::BTreeMap;

use jiff::civil::Date;
use serde_json::Value;

use super::time;

/// The longest text taken from an event, in characters: names and messages, not essays.
const MAX_TEXT_CHARS: usize = 160;

/// What the report shows: per subscription, and the Managed licenses.
pub struct Events {
    pub subscriptions: Vec<Subscription>,
    pub licenses: Vec<License>,
}

pub struct Subscription {
    pub uuid: String,
    /// The name of its status event, else its uuid.
    pub name: String,
    pub currency: String,
    pub status: Option<Status>,
    /// Sorted by day, then account.
    pub days: Vec<CostDay>,
    pub environments: Vec<EnvironmentCost>,
    pub usage: Vec<Usage>,
    /// Sorted by day.
    pub anomalies: Vec<Anomaly>,
    /// Events of the subscription in another currency than its own: counted, not shown.
    pub other_currency: usize,
}

/// The figures of a `dps.subscription.status` event (the newest one).
pub struct Status {
    pub budget: Option<f64>,
    pub used: Option<f64>,
    pub used_percent: Option<f64>,
    pub burn_rate: Option<f64>,
    pub period: Option<(Date, Date)>,
    pub days_remaining: Option<f64>,
    pub forecast: Option<f64>,
    pub forecast_lower: Option<f64>,
    pub forecast_upper: Option<f64>,
    pub exhausted: Option<Date>,
    pub exhausted_earliest: Option<Date>,
}

pub struct CostDay {
    pub account_uuid: String,
    pub account: String,
    pub day: Date,
    pub value: f64,
}

pub struct EnvironmentCost {
    pub account: String,
    pub environment_id: String,
    /// `environmentName` when the event has one, else the id.
    pub environment: String,
    pub capability: String,
    pub day: Date,
    pub value: f64,
}

pub struct Usage {
    pub capability_key: String,
    pub capability: String,
    pub day: Date,
    pub quantity: Option<f64>,
    pub unit: String,
    pub price: Option<f64>,
    pub cost: f64,
}

pub struct Anomaly {
    pub account: String,
    pub scope: String,
    /// What the finding is about: the account, the capability or the environment, by name.
    pub subject: String,
    pub day: Date,
    pub kind: String,
    pub cost: Option<f64>,
    pub expected: Option<f64>,
    pub deviation_percent: Option<f64>,
    pub severity: String,
    pub message: String,
}

pub struct License {
    pub cluster: String,
    pub unit: String,
    pub quota: Option<f64>,
    pub usage: Option<f64>,
    pub usage_percent: Option<f64>,
    pub overage_usage: Option<f64>,
    pub overage_quota: Option<f64>,
    pub status: String,
}

/// Reads the events dtcost emits; other event types, and events without a readable day, are left out.
pub fn read(events: &[Value]) -> Events {
    let mut subscriptions: BTreeMap<String, Subscription> = BTreeMap::new();
    let of_type = |kind: &'static str| events.iter().filter(move |e| e["event.type"] == kind);

    for status in newest(of_type("dps.subscription.status"), |e| Some(text(e, "uuid"))) {
        let subscription = entry(&mut subscriptions, &text(status, "uuid"), &text(status, "currency"));
        subscription.name = Some(text(status, "name")).filter(|n| !n.is_empty()).unwrap_or(subscription.name.clone());
        subscription.status = Some(read_status(status));
    }
    let day_key = |e: &Value, extra: &[&str]| {
        let mut key = vec![text(e, "accountUuid"), text(e, "subscriptionUuid"), day_of(e)?.to_string()];
        key.extend(extra.iter().map(|field| text(e, field)));
        Some(key)
    };
    for event in newest(of_type("dps.cost2.booked"), |e| day_key(e, &[])) {
        let Some(subscription) = in_currency(&mut subscriptions, event) else { continue };
        subscription.days.push(CostDay {
            account_uuid: text(event, "accountUuid"),
            account: account(event),
            day: day_of(event).unwrap_or_default(),
            value: number(event, "value").unwrap_or(0.0),
        });
    }
    for event in newest(of_type("dps.cost.environment.booked"), |e| day_key(e, &["environmentId", "capabilityKey"])) {
        let Some(subscription) = in_currency(&mut subscriptions, event) else { continue };
        subscription.environments.push(EnvironmentCost {
            account: account(event),
            environment_id: text(event, "environmentId"),
            environment: named(event, "environmentName", "environmentId"),
            capability: named(event, "capabilityName", "capabilityKey"),
            day: day_of(event).unwrap_or_default(),
            value: number(event, "value").unwrap_or(0.0),
        });
    }
    for event in newest(of_type("dps.usage.booked"), |e| day_key(e, &["capabilityKey"])) {
        let Some(subscription) = in_currency(&mut subscriptions, event) else { continue };
        subscription.usage.push(Usage {
            capability_key: text(event, "capabilityKey"),
            capability: named(event, "capabilityName", "capabilityKey"),
            day: day_of(event).unwrap_or_default(),
            quantity: number(event, "quantity"),
            unit: text(event, "unitMeasure"),
            price: number(event, "price"),
            cost: number(event, "cost").unwrap_or(0.0),
        });
    }
    let anomaly_key = |e: &Value| day_key(e, &["scope", "capabilityKey", "environmentId", "kind"]);
    for event in newest(of_type("dps.cost.anomaly"), anomaly_key) {
        let Some(subscription) = in_currency(&mut subscriptions, event) else { continue };
        let scope = text(event, "scope");
        let subject = match scope.as_str() {
            "capability" => named(event, "capabilityName", "capabilityKey"),
            "environment" => named(event, "environmentName", "environmentId"),
            _ => account(event),
        };
        subscription.anomalies.push(Anomaly {
            account: account(event),
            scope,
            subject,
            day: day_of(event).unwrap_or_default(),
            kind: text(event, "kind"),
            cost: number(event, "cost"),
            expected: number(event, "expected"),
            deviation_percent: number(event, "deviationPercent"),
            severity: text(event, "severity"),
            message: text(event, "message"),
        });
    }
    let mut subscriptions: Vec<Subscription> = subscriptions.into_values().collect();
    for subscription in &mut subscriptions {
        subscription.days.sort_by(|a, b| (a.day, &a.account).cmp(&(b.day, &b.account)));
        subscription.anomalies.sort_by_key(|a| a.day);
    }
    subscriptions.sort_by(|a, b| (&a.name, &a.uuid).cmp(&(&b.name, &b.uuid)));

    let licenses = newest(of_type("cluster.license.quota"), |e| Some((text(e, "clusterName"), text(e, "unit"))))
        .into_iter()
        .map(|event| License {
            cluster: text(event, "clusterName"),
            unit: text(event, "unit"),
            quota: number(event, "quota"),
            usage: number(event, "usage"),
            usage_percent: number(event, "usagePercent"),
            overage_usage: number(event, "overageUsage"),
            overage_quota: number(event, "overageQuota"),
            status: text(event, "usageStatus"),
        })
        .collect();
    Events { subscriptions, licenses }
}

fn read_status(event: &Value) -> Status {
    let date = |field: &str| time::day(&text(event, field));
    Status {
        budget: number(event, "budget"),
        used: number(event, "used"),
        used_percent: number(event, "usedPercent"),
        burn_rate: number(event, "burnRate"),
        period: date("startTime").zip(date("endTime")),
        days_remaining: number(event, "daysRemaining"),
        forecast: number(event, "forecastCost"),
        forecast_lower: number(event, "forecastCostLower"),
        forecast_upper: number(event, "forecastCostUpper"),
        exhausted: date("budgetExhaustedDate"),
        exhausted_earliest: date("budgetExhaustedDateEarliest"),
    }
}

/// The events of a kind, one per key: the newest (by `exportedAt`, else `timestamp`) wins.
fn newest<'e, K: Ord>(events: impl Iterator<Item = &'e Value>, key: impl Fn(&Value) -> Option<K>) -> Vec<&'e Value> {
    let version = |e: &Value| e["exportedAt"].as_str().or(e["timestamp"].as_str()).unwrap_or("").to_owned();
    let mut kept: BTreeMap<K, &Value> = BTreeMap::new();
    for event in events {
        let Some(key) = key(event) else { continue };
        if kept.get(&key).is_none_or(|old| version(old) <= version(event)) {
            kept.insert(key, event);
        }
    }
    kept.into_values().collect()
}

fn entry<'s>(
    subscriptions: &'s mut BTreeMap<String, Subscription>,
    uuid: &str,
    currency: &str,
) -> &'s mut Subscription {
    subscriptions.entry(uuid.to_owned()).or_insert_with(|| Subscription {
        uuid: uuid.to_owned(),
        name: if uuid.is_empty() { "(no subscription)".to_owned() } else { uuid.to_owned() },
        currency: currency.to_owned(),
        status: None,
        days: Vec::new(),
        environments: Vec::new(),
        usage: Vec::new(),
        anomalies: Vec::new(),
        other_currency: 0,
    })
}

/// The event's subscription, if the event is in its currency (else counted there and `None`).
fn in_currency<'s>(
    subscriptions: &'s mut BTreeMap<String, Subscription>,
    event: &Value,
) -> Option<&'s mut Subscription> {
    let currency = text(event, "currency");
    let subscription = entry(subscriptions, &text(event, "subscriptionUuid"), &currency);
    if subscription.currency.is_empty() {
        subscription.currency = currency;
    } else if subscription.currency != currency {
        subscription.other_currency += 1;
        return None;
    }
    Some(subscription)
}

fn day_of(event: &Value) -> Option<Date> {
    time::day(&text(event, "startTime"))
}

fn account(event: &Value) -> String {
    named(event, "accountName", "accountUuid")
}

/// The text of `field`, else of `fallback` (a name, else its id).
fn named(event: &Value, field: &str, fallback: &str) -> String {
    Some(text(event, field)).filter(|name| !name.trim().is_empty()).unwrap_or_else(|| text(event, fallback))
}

/// A string field, bounded to [`MAX_TEXT_CHARS`] (with `…` where cut); `""` when absent.
pub fn text(event: &Value, field: &str) -> String {
    let whole = event[field].as_str().unwrap_or("");
    match whole.char_indices().nth(MAX_TEXT_CHARS) {
        Some((cut, _)) => format!("{}…", &whole[..cut]),
        None => whole.to_owned(),
    }
}

fn number(event: &Value, field: &str) -> Option<f64> {
    event[field].as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cost(account: &str, day: &str, value: f64, exported_at: &str, currency: &str) -> Value {
        json!({"event.type": "dps.cost2.booked", "accountUuid": account, "accountName": format!("Account {account}"),
               "subscriptionUuid": "s", "startTime": day, "value": value, "currency": currency, "exportedAt": exported_at})
    }

    #[test]
    fn the_newest_version_of_a_cost_day_replaces_the_older() {
        let events = read(&[
            cost("a", "2026-11-01T00:00:00Z", 10.0, "2026-11-02T00:00:00.000Z", "USD"),
            cost("a", "2026-11-01T00:00:00.000Z", 15.0, "2026-11-04T00:00:00.000Z", "USD"),
            cost("a", "2026-11-01T00:00:00Z", 12.0, "2026-11-03T00:00:00.000Z", "USD"),
        ]);
        let days = &events.subscriptions[0].days;
        assert_eq!(days.len(), 1);
        assert_eq!(days[0].value, 15.0);
    }

    #[test]
    fn amounts_in_another_currency_than_the_subscriptions_are_counted_not_added() {
        let events = read(&[
            json!({"event.type": "dps.subscription.status", "uuid": "s", "name": "DPS", "currency": "EUR"}),
            cost("a", "2026-11-01T00:00:00Z", 10.0, "2026-11-02T00:00:00.000Z", "EUR"),
            cost("b", "2026-11-01T00:00:00Z", 99.0, "2026-11-02T00:00:00.000Z", "USD"),
        ]);
        let subscription = &events.subscriptions[0];
        assert_eq!((subscription.name.as_str(), subscription.currency.as_str()), ("DPS", "EUR"));
        assert_eq!(subscription.days.len(), 1);
        assert_eq!(subscription.other_currency, 1);
    }

    #[test]
    fn environments_show_their_name_when_the_event_has_one_else_their_id() {
        let environment = |id: &str, name: Option<&str>| {
            let mut event = json!({"event.type": "dps.cost.environment.booked", "subscriptionUuid": "s", "accountUuid": "a",
                "environmentId": id, "capabilityKey": "LOGS", "startTime": "2026-11-01T00:00:00Z", "value": 1.0, "currency": "USD"});
            if let Some(name) = name {
                event["environmentName"] = json!(name);
            }
            event
        };
        let events = read(&[environment("abc123", Some("Production")), environment("def456", None)]);
        let names: Vec<&str> = events.subscriptions[0].environments.iter().map(|e| e.environment.as_str()).collect();
        assert_eq!(names, ["Production", "def456"]);
        assert_eq!(events.subscriptions[0].environments[0].capability, "LOGS", "the key when there is no name");
    }

    #[test]
    fn long_server_texts_are_cut() {
        let long = "x".repeat(10_000);
        let cut = text(&json!({ "name": long }), "name");
        assert_eq!(cut.chars().count(), MAX_TEXT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
