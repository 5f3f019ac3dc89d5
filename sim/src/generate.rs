//! Deterministic scenarios: N accounts x D days x C clusters from a seed, with subscriptions
//! (optionally one DPS for Hybrid subscription for all), daily cost, environments and their
//! capability shares, forecasts and cluster licenses. The same options give the same scenario,
//! byte for byte.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use time::{Date, Month};

use crate::data::{
    ACCOUNT_SCOPES, Account, CAPABILITIES, CapabilityShare, Cluster, Environment, IngestAuth, Licensing, Scenario,
    Unattributed, format_date, round6,
};
use crate::random::SplitMix;

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
        // A second stream for the per-environment data and forecasts, so that everything the
        // first stream generated before they existed stays byte for byte the same.
        let mut extra = SplitMix(options.seed ^ 0x5EED_F00D_B1C0_FFEE);
        // Per account: its own cost to date and the mean of its last 28 days (for the forecast).
        let mut consumption = Vec::new();
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
                    // ±5 % a day around the weekly pattern. (It was ±15 %: a week's total then
                    // varied by ~3.5 %, and two clean weeks differed by more than Dynatrace's 10 %
                    // week-over-week threshold in 28 of 180 accounts' last five weeks, seeds 1 to
                    // 60; an account's total sums many environments and capabilities, whose
                    // day-to-day noise largely cancels. One draw a day either way, so every
                    // other generated value stays the same.)
                    let noise = 0.95 + (rng.next() % 1000) as f64 / 10_000.0;
                    let value = round6(base * noise * if weekend { 0.6 } else { 1.0 });
                    let next = date.next_day().expect("date in range");
                    // Every third day as the walk-through's real output shows it (openapi/README.md):
                    // times with milliseconds and a lastBookingDate equal to startTime. The others
                    // as the spec's text writes times, with a lastBookingDate (format unspecified)
                    // the next day as a date or a date-time.
                    let (start, end, last_booking) = if day % 3 == 0 {
                        let start = format!("{}T00:00:00.000Z", format_date(date));
                        (start.clone(), format!("{}T00:00:00.000Z", format_date(next)), start)
                    } else {
                        let last_booking =
                            if day % 2 == 0 { format_date(next) } else { format!("{}T06:00:00Z", format_date(next)) };
                        (
                            format!("{}T00:00:00Z", format_date(date)),
                            format!("{}T00:00:00Z", format_date(next)),
                            last_booking,
                        )
                    };
                    json!({
                        "startTime": start,
                        "endTime": end,
                        "value": value,
                        "currencyCode": currency,
                        "lastBookingDate": last_booking,
                    })
                })
                .collect();
            let total: f64 = costs.iter().filter_map(|c| c["value"].as_f64()).sum();
            let recent = &costs[costs.len().saturating_sub(28)..];
            let recent_mean =
                recent.iter().filter_map(|c| c["value"].as_f64()).sum::<f64>() / recent.len().max(1) as f64;
            consumption.push((total, recent_mean));
            rng.shuffle(&mut costs); // the API does not sort
            let name = format!("Account {}", index + 1);
            if !(options.shared_subscription && index > 0) {
                let mut details = subscription_json(
                    &subscription,
                    &uuid,
                    &format!("DPS {name}"),
                    first_day,
                    period_end,
                    options.last_day,
                    total,
                    currency,
                );
                // Every second account's active subscription lists no periods, as the
                // walk-through's real active subscription does (openapi/README.md).
                if index % 2 == 1 {
                    details["periods"] = json!([]);
                }
                subscriptions.insert(subscription.clone(), details);
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
            let environments = environments(&mut extra, &name);
            accounts.push(Account {
                client_id: format!("dt0s02.SIM{index:04}"),
                client_secret: format!("dt0s02.SIM{index:04}.{}", rng.hex(64)),
                scopes: ACCOUNT_SCOPES.map(str::to_owned).to_vec(),
                uuid,
                name,
                subscriptions: vec![subscription.clone(), expired],
                hidden_details: Vec::new(),
                costs: BTreeMap::from([(subscription, costs)]),
                environments,
                unattributed: (index == 2).then_some(Unattributed { share: 0.04, every_nth_day_of_month: 5 }),
                forecast: None,
                spike: None,
                step: None,
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
        for (index, (account, (used, mean))) in accounts.iter_mut().zip(consumption).enumerate() {
            // The second account has none (real accounts answer 404, e.g. tier HARDENING); nor does
            // any account with fewer than 15 days of data (the UI needs >= 15).
            if index == 1 || options.days < 15 {
                continue;
            }
            let Some(subscription) = subscriptions.get(&account.subscriptions[0]) else { continue };
            let budget = subscription["budget"]["total"].as_f64().unwrap_or(0.0);
            let days_remaining = subscription["currentPeriod"]["daysRemaining"].as_i64().unwrap_or(0).max(0);
            let created = options.last_day.next_day().unwrap_or(options.last_day);
            account.forecast = Some(forecast_json(used, mean, days_remaining, budget, options.last_day, created));
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
            max_ingest_bytes: crate::data::MAX_INGEST_BYTES,
            max_recorded_events: None,
            latency: Duration::ZERO,
            connect_latency: Duration::ZERO,
        }
    }
}

/// 2 or 3 environments (the first SaaS, the second Managed, a third either; the Managed ones on one
/// cluster), each with 3 or 4 distinct capabilities; the shares of all of them sum to 1. They are
/// named `<account> Production`, `<account> Staging`, `<account> Development`.
fn environments(rng: &mut SplitMix, account_name: &str) -> Vec<Environment> {
    let count = 2 + (rng.next() % 2) as usize;
    let cluster = rng.uuid();
    let mut weights = 0.0;
    let mut environments: Vec<Environment> = (0..count)
        .map(|index| {
            let managed = index == 1 || (index == 2 && rng.next().is_multiple_of(2));
            let id = if managed {
                rng.uuid()
            } else {
                let letters: String = (0..3).map(|_| char::from(b'a' + (rng.next() % 26) as u8)).collect();
                format!("{letters}{:05}", rng.next() % 100_000)
            };
            let wanted = 3 + (rng.next() % 2) as usize;
            let mut keys: Vec<usize> = (0..CAPABILITIES.len()).collect();
            rng.shuffle(&mut keys);
            let capabilities = keys[..wanted]
                .iter()
                .map(|&k| {
                    // Full-Stack Monitoring is the big one, as in most real accounts.
                    let weight = (1 + rng.next() % 1000) as f64 * if k == 0 { 4.0 } else { 1.0 };
                    weights += weight;
                    CapabilityShare {
                        key: CAPABILITIES[k].0.to_owned(),
                        name: CAPABILITIES[k].1.to_owned(),
                        share: weight,
                    }
                })
                .collect();
            // Named by role, not drawn from the generator: the data drawn before names existed
            // stays byte for byte the same.
            let role = ["Production", "Staging", "Development"][index];
            let name = Some(format!("{account_name} {role}"));
            Environment { id, name, cluster_id: managed.then(|| cluster.clone()), capabilities }
        })
        .collect();
    for capability in environments.iter_mut().flat_map(|e| e.capabilities.iter_mut()) {
        capability.share /= weights;
    }
    environments
}

/// A plausible account `Forecast`: the cost to date plus the mean of the last 28 days for every
/// remaining day of the period, ±8 %.
fn forecast_json(used: f64, mean: f64, days_remaining: i64, budget: f64, last_day: Date, created: Date) -> Value {
    let median = round2(used + mean * days_remaining as f64);
    // The real field is documented as a required date-time (the day the forecast uses up the
    // budget); when the forecast stays within the budget there is no such day, so the simulator
    // sends null (how the real API says so is unverified).
    let budget_date = if median > budget && mean > 0.0 {
        let days = ((budget - used) / mean).ceil().max(0.0) as i64;
        Value::from(format!("{}T00:00:00Z", format_date(last_day + time::Duration::days(days))))
    } else {
        Value::Null
    };
    json!({
        "forecastMedian": median,
        "forecastLower": round2(median * 0.92),
        "forecastUpper": round2(median * 1.08),
        "budget": budget,
        "forecastBudgetPct": if budget > 0.0 { round2(median / budget * 100.0) } else { 0.0 },
        "forecastBudgetDate": budget_date,
        "forecastCreatedAt": format!("{}T03:00:00Z", format_date(created)),
    })
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
    // A commitment sized like a real one: the year at the rate so far, with 15 % headroom, so the
    // forecast stays within it (tests that want budget alerts lower the budget or thresholds).
    let days_so_far = ((last_day - start).whole_days() + 1).max(1) as f64;
    let total = ((used / days_so_far * 365.0 * 1.15) / 100_000.0).ceil().max(1.0) * 100_000.0;
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

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(accounts: usize, days: usize) -> Scenario {
        Scenario::generate(&Generate { accounts, days, ..Generate::default() })
    }

    #[test]
    fn environments_are_a_deterministic_mix_of_saas_and_managed() {
        let scenario = generate(20, 30);
        let again = generate(20, 30);
        let mut counts = [0; 4];
        for (account, same) in scenario.accounts.iter().zip(&again.accounts) {
            assert_eq!(account.environments, same.environments);
            assert!((2..=3).contains(&account.environments.len()));
            counts[account.environments.len()] += 1;
            let first = &account.environments[0];
            assert_eq!(first.cluster_id, None);
            assert!(first.id.len() == 8 && first.id[..3].bytes().all(|b| b.is_ascii_lowercase()));
            assert!(first.id[3..].bytes().all(|b| b.is_ascii_digit()));
            let managed = &account.environments[1];
            assert_eq!(managed.id.len(), 36);
            assert_eq!(managed.cluster_id.as_ref().map(String::len), Some(36));
            let mut total = 0.0;
            for environment in &account.environments {
                assert!((3..=4).contains(&environment.capabilities.len()));
                let mut keys: Vec<&str> = environment.capabilities.iter().map(|c| c.key.as_str()).collect();
                keys.sort_unstable();
                keys.dedup();
                assert_eq!(keys.len(), environment.capabilities.len());
                for capability in &environment.capabilities {
                    assert!(CAPABILITIES.contains(&(capability.key.as_str(), capability.name.as_str())));
                    assert!(capability.share > 0.0);
                    total += capability.share;
                }
            }
            assert!((total - 1.0).abs() < 1e-12);
        }
        assert!(counts[2] > 0 && counts[3] > 0, "{counts:?}");
    }

    #[test]
    fn only_the_third_account_has_unattributed_cost_and_the_second_no_forecast() {
        let scenario = generate(5, 30);
        for (index, account) in scenario.accounts.iter().enumerate() {
            let expected = (index == 2).then_some(Unattributed { share: 0.04, every_nth_day_of_month: 5 });
            assert_eq!(account.unattributed, expected);
            assert_eq!(account.forecast.is_none(), index == 1, "account {index}");
        }
        assert!(generate(2, 30).accounts.iter().all(|a| a.unattributed.is_none()));
        let rule = Unattributed { share: 0.04, every_nth_day_of_month: 5 };
        let day = |d| Date::from_calendar_date(2026, Month::March, d).unwrap();
        assert!(rule.applies(day(5)) && rule.applies(day(30)) && !rule.applies(day(31)) && !rule.applies(day(1)));
        assert!(!Unattributed { share: 0.04, every_nth_day_of_month: 0 }.applies(day(5)));
    }

    #[test]
    fn forecast_follows_the_subscription() {
        let scenario = generate(1, 60);
        let account = &scenario.accounts[0];
        let forecast = account.forecast.as_ref().unwrap();
        let subscription = &scenario.subscriptions[&account.subscriptions[0]];
        assert_eq!(forecast["budget"], subscription["budget"]["total"]);
        let median = forecast["forecastMedian"].as_f64().unwrap();
        assert!(median > subscription["budget"]["used"].as_f64().unwrap());
        assert_eq!(forecast["forecastCreatedAt"], "2026-11-23T03:00:00Z");
    }
}
