//! Shared by the integration tests: start the simulator, write a config, run the real `dtcost`
//! binary, and compute the events the simulator's data should produce (independently of the
//! component's code, from the walk-through's rules).

#![allow(dead_code)] // each test binary uses a different part

pub mod hostile;

use std::collections::BTreeMap;
use std::path::PathBuf;

use dtcost_sim::{Generate, Scenario, Simulator};
use serde_json::{Value, json};

pub const DAY: &str = "2026-11-22";

/// A test whose tool (a runtime, a browser) is missing: skipped, saying so; under CI (`CI` set,
/// as `.ci/run` runs) a failure instead, so that a broken install step cannot pass as green.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some_and(|value| !value.is_empty()) {
        panic!("{why}, and CI is set: under CI every test must run (.ci/run installs it)");
    }
    eprintln!("SKIPPED: {why}");
}

pub fn generate(accounts: usize, days: usize, clusters: usize, shared_subscription: bool) -> Scenario {
    Scenario::generate(&Generate { accounts, days, clusters, shared_subscription, last_day: time_date(DAY), seed: 7 })
}

pub fn time_date(text: &str) -> dtcost_sim::data::Date {
    let parts: Vec<u32> = text.split('-').map(|p| p.parse().unwrap()).collect();
    dtcost_sim::data::Date::from_calendar_date(parts[0] as i32, (parts[1] as u8).try_into().unwrap(), parts[2] as u8)
        .unwrap()
}

/// A config file and the environment that holds its secrets.
pub struct Setup {
    /// Holds the config, the ingest token file and the state file (`dtcost-state.json`).
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub env: Vec<(String, String)>,
}

/// Which accounts and clusters to configure, and how.
#[derive(Default)]
pub struct ConfigOptions {
    /// Name the shared subscription in every account (DPS for Hybrid).
    pub name_subscription: bool,
    /// Account indexes whose configured secret is wrong.
    pub wrong_secret: Vec<usize>,
    pub oauth_target: bool,
    /// `environment-cost = true` on every account.
    pub environment_cost: bool,
    /// `usage = true` on every account.
    pub usage: bool,
    pub extra: String,
}

pub fn write_config(scenario: &Scenario, sim: &Simulator, options: &ConfigOptions) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut env = Vec::new();
    let mut toml = format!(
        "token-url = \"{}\"\napi-url = \"{}\"\n{}\n\n[target]\nurl = \"{}\"\n",
        sim.sso_url, sim.api_url, options.extra, sim.environment_url
    );
    if options.oauth_target {
        toml.push_str(&format!(
            "client-id = \"{}\"\nclient-secret-env = \"INGEST_CLIENT_SECRET\"\n",
            scenario.ingest.client_id
        ));
        env.push(("INGEST_CLIENT_SECRET".into(), scenario.ingest.client_secret.clone()));
    } else {
        // A file, to exercise the other way of naming a secret.
        std::fs::write(dir.path().join("ingest.token"), format!("{}\n", scenario.ingest.api_token)).unwrap();
        toml.push_str("api-token-file = \"ingest.token\"\n");
    }
    for (index, account) in scenario.accounts.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[accounts]]\nname = \"{}\"\nuuid = \"urn:dtaccount:{}\"\nclient-id = \"{}\"\nclient-secret-env = \"ACCOUNT_{index}_SECRET\"\n",
            account.name, account.uuid, account.client_id
        ));
        if options.name_subscription {
            toml.push_str(&format!("subscription = \"{}\"\n", account.subscriptions[0]));
        }
        if options.environment_cost {
            toml.push_str("environment-cost = true\n");
        }
        if options.usage {
            toml.push_str("usage = true\n");
        }
        let secret = if options.wrong_secret.contains(&index) {
            "dt0s02.WRONG.secret".to_owned()
        } else {
            account.client_secret.clone()
        };
        env.push((format!("ACCOUNT_{index}_SECRET"), secret));
    }
    for (index, (cluster, url)) in scenario.clusters.iter().zip(&sim.cluster_urls).enumerate() {
        toml.push_str(&format!(
            "\n[[clusters]]\nname = \"{}\"\nurl = \"{url}\"\napi-token-env = \"CLUSTER_{index}_TOKEN\"\n",
            cluster.name
        ));
        env.push((format!("CLUSTER_{index}_TOKEN"), cluster.api_token.clone()));
    }
    let config = dir.path().join("dtcost.toml");
    std::fs::write(&config, toml).unwrap();
    Setup { dir, config, env }
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The real binary; with `DTCOST_TIME_DIR` set, run under `/usr/bin/time -v`, which writes its
/// figures (wall time, peak memory) to `<dir>/<test name>.<n>.txt` (the README's tables).
pub fn dtcost_command() -> tokio::process::Command {
    static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    match std::env::var_os("DTCOST_TIME_DIR") {
        Some(dir) => {
            let name = std::thread::current().name().unwrap_or("run").replace("::", ".");
            let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut command = tokio::process::Command::new("/usr/bin/time");
            command.arg("-v").arg("-o").arg(std::path::Path::new(&dir).join(format!("{name}.{n}.txt")));
            command.arg(env!("CARGO_BIN_EXE_dtcost"));
            command
        }
        None => tokio::process::Command::new(env!("CARGO_BIN_EXE_dtcost")),
    }
}

/// Runs the real binary (with debug logging, so that logs are checked for secrets too) and
/// asserts that no secret of the scenario appears in its output.
pub async fn dtcost(scenario: &Scenario, setup: &Setup, args: &[&str]) -> Output {
    let output = dtcost_command()
        .args(args)
        .arg("--config")
        .arg(&setup.config)
        .arg("-vv")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("RUST_BACKTRACE", "0")
        .envs(setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("dtcost runs");
    let output = Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_no_secret(scenario, &output.stdout);
    assert_no_secret(scenario, &output.stderr);
    if let Ok(state) = std::fs::read_to_string(setup.dir.path().join("dtcost-state.json")) {
        assert_no_secret(scenario, &state);
    }
    output
}

pub fn assert_no_secret(scenario: &Scenario, text: &str) {
    for secret in scenario.secrets() {
        // The public part of a token (`dt0c01.PUBLIC`) may be logged; the secret part never.
        let secret_part = secret.rsplit('.').next().unwrap();
        assert!(!text.contains(secret_part), "a secret leaked into the output:\n{text}");
    }
}

/// The `dps.cost2.booked` events the walk-through's rules give for an account: its cost records
/// sorted by start time, with the running sum. Without `event.id` (compared separately).
pub fn expected_cost_events(scenario: &Scenario, account_index: usize) -> Vec<Value> {
    let account = &scenario.accounts[account_index];
    let subscription = &account.subscriptions[0];
    let mut records = account.costs[subscription].clone();
    records.sort_by(|a, b| a["startTime"].as_str().cmp(&b["startTime"].as_str()));
    let mut cost_to_date = 0.0;
    records
        .iter()
        .map(|record| {
            cost_to_date += record["value"].as_f64().unwrap();
            let mut event = json!({
                "event.type": "dps.cost2.booked",
                "event.provider": "dps4ma.ingester",
                "event.kind": "BIZ_EVENT",
                "timestamp": record["startTime"],
                // Passed through: a string as it is, another value as its JSON text, null left out.
                "lastBookingDate": match &record["lastBookingDate"] {
                    Value::String(text) => Value::String(text.clone()),
                    Value::Null => Value::Null,
                    other => Value::String(other.to_string()),
                },
                "startTime": record["startTime"],
                "endTime": record["endTime"],
                "value": record["value"],
                "currency": record["currencyCode"],
                "subscriptionUuid": subscription,
                "accountUuid": account.uuid,
                "accountName": account.name,
                "costToDate": cost_to_date,
            });
            if event["lastBookingDate"].is_null() {
                event.as_object_mut().unwrap().remove("lastBookingDate");
            }
            event
        })
        .collect()
}

/// The status event for a subscription as read by `account_index`, without id and timestamp,
/// and without dtcost's own forecast figures (see [`FORECAST_FIELDS`]); Dynatrace's forecast is
/// there when the simulator has one for the account.
pub fn expected_status_event(scenario: &Scenario, account_index: usize) -> Value {
    let account = &scenario.accounts[account_index];
    let details = &scenario.subscriptions[&account.subscriptions[0]];
    let mut event = json!({
        "event.type": "dps.subscription.status",
        "event.provider": "dps4ma.ingester",
        "event.kind": "BIZ_EVENT",
        "uuid": details["uuid"],
        "account": details["account"],
        "accountUuid": account.uuid,
        "accountName": account.name,
        "name": details["name"],
        "budget": details["budget"]["total"],
        "used": details["budget"]["used"],
        "currency": details["budget"]["currencyCode"],
        "startTime": details["currentPeriod"]["startTime"],
        "endTime": details["currentPeriod"]["endTime"],
        "daysRemaining": details["currentPeriod"]["daysRemaining"],
    });
    let (used, budget) = (details["budget"]["used"].as_f64().unwrap(), details["budget"]["total"].as_f64().unwrap());
    event["usedPercent"] = json!((used / budget * 100.0 * 100.0).round() / 100.0);
    if let Some(forecast) = &account.forecast {
        for (ours, theirs) in [
            ("dtForecastMedian", "forecastMedian"),
            ("dtForecastLower", "forecastLower"),
            ("dtForecastUpper", "forecastUpper"),
            ("dtForecastBudgetPercent", "forecastBudgetPct"),
            ("dtForecastBudgetDate", "forecastBudgetDate"),
            ("dtForecastCreatedAt", "forecastCreatedAt"),
        ] {
            if !forecast[theirs].is_null() {
                event[ours] = forecast[theirs].clone();
            }
        }
    }
    event
}

/// The status event's figures of dtcost's forecast model: pinned by the model's unit tests and
/// checked for plausibility by `tests/outlook.rs`, not recomputed here.
pub const FORECAST_FIELDS: [&str; 10] = [
    "burnRate",
    "forecastModel",
    "forecastDays",
    "forecastCost",
    "forecastCostLower",
    "forecastCostUpper",
    "forecastBudgetPercent",
    "forecastExceedsBudget",
    "budgetExhaustedDate",
    "budgetExhaustedDateEarliest",
];

/// The quota events a cluster's license gives, without id and timestamp.
pub fn expected_quota_events(scenario: &Scenario, cluster_index: usize) -> Vec<Value> {
    let cluster = &scenario.clusters[cluster_index];
    let dtcost_sim::Licensing::Classic(license) = &cluster.licensing else { return Vec::new() };
    [("HOST_UNITS", "usageOfHostUnits"), ("DEM_UNITS", "usageOfDemUnits"), ("DDU", "usageOfDduUnits")]
        .iter()
        .filter(|(_, field)| license.get(*field).is_some_and(|u| !u.is_null()))
        .map(|(unit, field)| {
            let usage = &license[*field];
            let mut event = json!({
                "event.type": "cluster.license.quota",
                "event.provider": "dps4ma.ingester",
                "event.kind": "BIZ_EVENT",
                "clusterId": license["clusterId"],
                "clusterName": cluster.name,
                "accountName": license["accountName"],
                "licenseName": license["licenseName"],
                "licenseType": license["licenseType"],
                "licenseStatus": license["licenseStatus"],
                "licenseExpirationTime": license["licenseExpirationTime"],
                "lastBillingTime": license["lastBillingTime"],
                "productVersion": license["productVersion"],
                "unit": unit,
            });
            for name in ["quota", "usage", "usagePercent", "remaining", "remainingPercent", "usageStatus"] {
                if !usage[name].is_null() {
                    event[name] = usage[name].clone();
                }
            }
            for name in
                ["overageQuota", "overageUsage", "overageUsagePercent", "remainingOverage", "remainingOveragePercent"]
            {
                if !usage["overageUsage"][name].is_null() {
                    event[name] = usage["overageUsage"][name].clone();
                }
            }
            event
        })
        .collect()
}

/// Events without the fields that are not data (`event.id`, `exportedAt`; the read time of
/// status and quota events).
pub fn without_id(event: &Value) -> Value {
    let mut event = event.clone();
    let fields = event.as_object_mut().unwrap();
    fields.remove("event.id");
    fields.remove("exportedAt");
    if fields["event.type"] == "dps.subscription.status" {
        for name in FORECAST_FIELDS {
            fields.remove(name);
        }
    }
    if !matches!(fields["event.type"].as_str(), Some("dps.cost2.booked" | "dps.cost.environment.booked")) {
        fields.remove("timestamp");
    }
    event
}

/// The run's `dtcost.run.summary` event among `events` (there is exactly one per run).
pub fn run_summary(events: &[Value]) -> Value {
    let summaries = of_type(events, "dtcost.run.summary");
    assert_eq!(summaries.len(), 1, "one summary event per run");
    summaries[0].clone()
}

/// Numbers compared as f64 (the API's `1000000` and `1000000.0` are the same number).
pub fn normalise(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalise(v))).collect()),
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        other => other.clone(),
    }
}

pub fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event.type"] == event_type).collect()
}

/// Asserts that `actual` holds exactly `expected` (as multisets), ignoring ids and read times.
pub fn assert_same_events(actual: &[&Value], expected: &[Value]) {
    let count = |events: Vec<Value>| {
        let mut counts = BTreeMap::new();
        for event in events {
            *counts.entry(normalise(&without_id(&event)).to_string()).or_insert(0) += 1;
        }
        counts
    };
    let actual = count(actual.iter().map(|e| (*e).clone()).collect());
    let expected = count(expected.to_vec());
    let missing: Vec<&String> = expected.keys().filter(|k| actual.get(*k) != expected.get(*k)).collect();
    let unexpected: Vec<&String> = actual.keys().filter(|k| actual.get(*k) != expected.get(*k)).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "events differ\nmissing: {missing:#?}\nunexpected: {unexpected:#?}"
    );
}

/// Asserts that every event carries a distinct UUID `event.id`.
pub fn assert_unique_ids(events: &[Value]) {
    let mut ids: Vec<&str> =
        events.iter().map(|e| e["event.id"].as_str().expect("every event has an event.id")).collect();
    assert!(ids.iter().all(|id| id.len() == 36));
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "event ids are unique");
}
