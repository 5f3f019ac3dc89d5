//! The simulator's data: accounts, subscriptions, daily cost, clusters and the ingest target,
//! either generated deterministically or built by hand in tests. Records are kept as the JSON the
//! real API sends, so a test can make any of them malformed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
pub use time::Date;
use time::Month;

/// Everything the fake Dynatrace knows.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub accounts: Vec<Account>,
    /// Subscription details (`SubscriptionDto` JSON) by UUID.
    pub subscriptions: BTreeMap<String, Value>,
    pub clusters: Vec<Cluster>,
    pub ingest: IngestAuth,
    /// Lifetime of SSO tokens; the real SSO issues 300 s client-credentials tokens.
    pub token_ttl: Duration,
    /// The ingest API's payload cap (documented as 5 MB); lower it to provoke 413s.
    pub max_ingest_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub uuid: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    /// Subscriptions listed for this account (UUIDs into [`Scenario::subscriptions`]).
    pub subscriptions: Vec<String>,
    /// Subscriptions this account may not read the details of (books against them only).
    pub hidden_details: Vec<String>,
    /// `/cost` records (`SubscriptionCostBookingDto` JSON) by subscription UUID, in the order served.
    pub costs: BTreeMap<String, Vec<Value>>,
}

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub api_token: String,
    pub licensing: Licensing,
}

#[derive(Debug, Clone)]
pub enum Licensing {
    /// Classic licensing: `clusterLicense` answers with this JSON.
    Classic(Value),
    /// DPS licensing: `clusterLicense` answers 422.
    Dps,
}

/// Credentials the ingest API accepts.
#[derive(Debug, Clone)]
pub struct IngestAuth {
    /// `Api-Token` with `bizevents.ingest`, for `/api/v2/bizevents/ingest`.
    pub api_token: String,
    /// OAuth client with `storage:events:write`, for the platform path.
    pub client_id: String,
    pub client_secret: String,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Generate {
    pub accounts: usize,
    pub days: usize,
    pub clusters: usize,
    /// DPS for Hybrid: all accounts book against one subscription owned by the first.
    pub shared_subscription: bool,
    /// The last day with booked cost.
    pub last_day: Date,
    pub seed: u64,
}

impl Default for Generate {
    fn default() -> Self {
        Generate {
            accounts: 3,
            days: 60,
            clusters: 2,
            shared_subscription: true,
            last_day: Date::from_calendar_date(2026, Month::November, 22).expect("valid date"),
            seed: 42,
        }
    }
}

/// Yesterday in UTC: the newest day with booked cost in a live account.
pub fn yesterday() -> Date {
    time::OffsetDateTime::now_utc().date().previous_day().unwrap_or(time::Date::MIN)
}

impl Scenario {
    /// Deterministic data: the same options give the same scenario, byte for byte.
    pub fn generate(options: &Generate) -> Scenario {
        let mut rng = SplitMix(options.seed);
        let first_day = options.last_day - time::Duration::days(options.days.saturating_sub(1) as i64);
        let period_end = first_day + time::Duration::days(364);
        let currency = if options.seed % 5 == 4 { "EUR" } else { "USD" };
        let mut subscriptions = BTreeMap::new();
        let mut accounts = Vec::new();
        let mut shared_total = 0.0;
        for index in 0..options.accounts {
            let uuid = rng.uuid();
            let subscription = if options.shared_subscription && index > 0 {
                accounts.first().map(|a: &Account| a.subscriptions[0].clone()).unwrap_or_default()
            } else {
                rng.uuid()
            };
            let expired = rng.uuid();
            let base = 200.0 + (rng.next() % 1800) as f64;
            let mut costs: Vec<Value> = (0..options.days)
                .map(|day| {
                    let date = first_day + time::Duration::days(day as i64);
                    let weekend = matches!(date.weekday(), time::Weekday::Saturday | time::Weekday::Sunday);
                    let noise = 0.85 + (rng.next() % 3000) as f64 / 10_000.0;
                    let value = round6(base * noise * if weekend { 0.6 } else { 1.0 });
                    let next = date.next_day().expect("date in range");
                    // The API does not fix lastBookingDate's format: serve both.
                    let last_booking =
                        if day % 2 == 0 { format_date(next) } else { format!("{}T06:00:00Z", format_date(next)) };
                    json!({
                        "startTime": format!("{}T00:00:00Z", format_date(date)),
                        "endTime": format!("{}T00:00:00Z", format_date(next)),
                        "value": value,
                        "currencyCode": currency,
                        "lastBookingDate": last_booking,
                    })
                })
                .collect();
            let total: f64 = costs.iter().filter_map(|c| c["value"].as_f64()).sum();
            rng.shuffle(&mut costs); // the API does not sort
            let name = format!("Account {}", index + 1);
            if !(options.shared_subscription && index > 0) {
                subscriptions.insert(
                    subscription.clone(),
                    subscription_json(
                        &subscription,
                        &uuid,
                        &format!("DPS {name}"),
                        first_day,
                        period_end,
                        options.last_day,
                        total,
                        currency,
                    ),
                );
            } else {
                shared_total += total;
            }
            if index == 0 {
                shared_total += total;
            }
            subscriptions.insert(
                expired.clone(),
                json!({"uuid": expired, "type": "REGULAR", "subType": null, "name": format!("DPS {name} (previous)"), "status": "EXPIRED",
                       "startTime": format_date(first_day - time::Duration::days(365)), "endTime": format_date(first_day - time::Duration::days(1)),
                       "account": {"uuid": uuid}, "budget": {"total": 100000, "used": 99000.5, "currencyCode": currency},
                       "currentPeriod": {"startTime": format_date(first_day - time::Duration::days(365)), "endTime": format_date(first_day - time::Duration::days(1)), "daysRemaining": 0},
                       "periods": [], "capabilities": []}),
            );
            accounts.push(Account {
                client_id: format!("dt0s02.SIM{index:04}"),
                client_secret: format!("dt0s02.SIM{index:04}.{}", rng.hex(64)),
                uuid,
                name,
                subscriptions: vec![subscription.clone(), expired],
                hidden_details: Vec::new(),
                costs: BTreeMap::from([(subscription, costs)]),
            });
        }
        if options.shared_subscription
            && let Some(owner) = accounts.first()
        {
            {
                let uuid = owner.subscriptions[0].clone();
                subscriptions.insert(
                    uuid.clone(),
                    subscription_json(
                        &uuid,
                        &owner.uuid,
                        "DPS for Hybrid",
                        first_day,
                        period_end,
                        options.last_day,
                        shared_total,
                        currency,
                    ),
                );
            }
        }
        let clusters = (0..options.clusters)
            .map(|index| Cluster {
                name: format!("managed-{}", index + 1),
                api_token: format!("dt0c01.CLUSTER{index:03}.{}", rng.hex(64)),
                licensing: Licensing::Classic(license_json(index, &mut rng, options.last_day)),
            })
            .collect();
        Scenario {
            accounts,
            subscriptions,
            clusters,
            ingest: IngestAuth {
                api_token: format!("dt0c01.INGEST.{}", rng.hex(64)),
                client_id: "dt0s02.SIMINGEST".to_owned(),
                client_secret: format!("dt0s02.SIMINGEST.{}", rng.hex(64)),
            },
            token_ttl: Duration::from_secs(300),
            max_ingest_bytes: crate::server::MAX_INGEST_BYTES,
        }
    }

    /// Every secret in the scenario, for tests that assert none of them leaks.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.accounts.iter().map(|a| a.client_secret.clone()).collect();
        secrets.extend(self.clusters.iter().map(|c| c.api_token.clone()));
        secrets.push(self.ingest.api_token.clone());
        secrets.push(self.ingest.client_secret.clone());
        secrets
    }
}

#[allow(clippy::too_many_arguments)]
fn subscription_json(
    uuid: &str,
    owner: &str,
    name: &str,
    start: Date,
    end: Date,
    last_day: Date,
    used: f64,
    currency: &str,
) -> Value {
    let total = ((used * 4.0) / 100_000.0).ceil() * 100_000.0;
    json!({
        "uuid": uuid, "type": "REGULAR", "subType": null, "name": name, "status": "ACTIVE",
        "startTime": format_date(start), "endTime": format_date(end),
        "account": {"uuid": owner},
        "budget": {"total": total, "used": round6(used), "currencyCode": currency},
        "currentPeriod": {"startTime": format_date(start), "endTime": format_date(end), "daysRemaining": (end - last_day).whole_days()},
        "periods": [{"startTime": format!("{}T00:00:00Z", format_date(start)), "endTime": format!("{}T23:59:59Z", format_date(end))}],
        "capabilities": [{"key": "FULLSTACK_MONITORING", "name": "Full-Stack Monitoring"},
                         {"key": "LOG_MANAGEMENT_INGEST", "name": "Log Management & Analytics - Ingest & Process"}]
    })
}

fn license_json(index: usize, rng: &mut SplitMix, last_day: Date) -> Value {
    let unit = |quota: u64, used: f64, overage_limit: Option<u64>, overage: f64| {
        let remaining = (quota as f64 - used).max(0.0);
        let status = match (used >= quota as f64, overage_limit) {
            (false, _) if used < quota as f64 => "USING_QUOTA",
            (true, Some(limit)) if overage >= limit as f64 => "OVERAGE_QUOTA_REACHED",
            (true, _) if overage > 0.0 => "USING_OVERAGE",
            _ => "QUOTA_REACHED",
        };
        let overage_json = match overage_limit {
            Some(limit) => json!({"overageQuota": limit, "overageUsage": overage,
                                  "overageUsagePercent": round6(overage * 100.0 / limit as f64),
                                  "remainingOverage": limit as f64 - overage,
                                  "remainingOveragePercent": round6(100.0 - overage * 100.0 / limit as f64)}),
            None => json!({"overageQuota": null, "overageUsage": overage}),
        };
        json!({"quota": quota, "usage": used, "usagePercent": round6(used * 100.0 / quota as f64), "remaining": remaining,
               "remainingPercent": round6(remaining * 100.0 / quota as f64), "usageStatus": status, "overageUsage": overage_json})
    };
    let host_quota = 500 + 100 * index as u64;
    let host_used = round6(host_quota as f64 * (0.5 + (rng.next() % 450) as f64 / 1000.0));
    json!({
        "accountName": "ACME Corp",
        "clusterId": rng.uuid(),
        "contactEmailAddress": "ops@acme.example",
        "lastBillingTime": format!("{}T05:00:00Z", format_date(last_day)),
        "licenseExpirationTime": "2027-12-31T23:59:59Z",
        "licenseKey": format!("SIM-{}", rng.hex(12)),
        "licenseName": format!("ACME Managed {}", index + 1),
        "licenseStatus": "ACTIVE",
        "licenseType": "PAID",
        "productVersion": "1.336.12.20260402-101010",
        "usageOfHostUnits": unit(host_quota, host_used, None, 0.0),
        "usageOfDemUnits": unit(1_000_000, 1_000_000.0, Some(200_000), 15_000.0 * (index + 1) as f64),
        "usageOfDduUnits": unit(5_000_000, round6(1_234_567.8 * (index + 1) as f64), None, 0.0),
    })
}

pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// A tiny deterministic generator (SplitMix64): the data must not change between runs or machines.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from_digit((self.next() % 16) as u32, 16).unwrap_or('0'))
            .collect::<String>()
            .to_uppercase()
    }

    fn uuid(&mut self) -> String {
        let h = self.hex(32).to_lowercase();
        format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, (self.next() % (i as u64 + 1)) as usize);
        }
    }
}
