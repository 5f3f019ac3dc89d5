//! The HTML report opens in a real browser (headless Chromium, Debian's `chromium`) without
//! console errors and shows every chart and table: the demo's page (`dtcost demo --report`), and
//! the page of a real export (`dtcost run --dry-run` against the simulator) with the events the
//! exporter does not emit yet written by hand (`dps.usage.booked`, `dps.cost.anomaly`,
//! `environmentName`, one of them hostile). The screenshots are left in the test's artefacts
//! (`target/tmp/report.png`, `target/tmp/report-full.png`). Skips, saying so, when Chromium is
//! not installed; under CI (`CI` set) it fails instead (`.ci/run` installs it).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use dtcost_sim::Simulator;
use serde_json::{Value, json};
use support::*;

/// A name a server could send for an environment: markup that would run if written raw.
const HOSTILE_NAME: &str = "<img src=x onerror=\"document.title='owned'\">Prod & \"EU\"";

fn find_chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"]
        .into_iter()
        .find(|name| std::process::Command::new(name).arg("--version").output().is_ok_and(|out| out.status.success()))
}

/// Opens `page` in headless Chromium, offline, with `extra` arguments (`--dump-dom`, `--screenshot=…`).
fn browse(chromium: &str, page: &Path, window: &str, extra: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={window}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

/// The page's DOM as Chromium built it, asserting that nothing was logged to the console.
fn dom_of(chromium: &str, page: &Path) -> String {
    let dom = browse(chromium, page, "1000,1400", &["--dump-dom"]);
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(!log.contains("CONSOLE"), "the page logged to the console:\n{log}");
    String::from_utf8_lossy(&dom.stdout).into_owned()
}

fn screenshot(chromium: &str, page: &Path, png: &Path, window: &str) {
    let shot = browse(chromium, page, window, &[&format!("--screenshot={}", png.display())]);
    assert!(shot.status.success(), "{}", String::from_utf8_lossy(&shot.stderr));
    assert!(std::fs::metadata(png).unwrap().len() > 10_000, "a screenshot with something on it");
}

/// The SVG or table element with this id, as the DOM has it.
fn element<'d>(dom: &'d str, tag: &str, id: &str) -> &'d str {
    let start = dom.find(&format!("<{tag} id=\"{id}\"")).unwrap_or_else(|| panic!("no <{tag} id=\"{id}\"> in the DOM"));
    let end = dom[start..].find(&format!("</{tag}>")).expect("a closed element");
    &dom[start..start + end]
}

#[test]
fn the_demo_report_renders_its_charts_in_chromium_without_console_errors() {
    let Some(chromium) = find_chromium() else {
        support::skip("Chromium is not installed (apt-get install chromium)");
        return;
    };
    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let page = artefacts.join("report.html");
    let demo = std::process::Command::new(env!("CARGO_BIN_EXE_dtcost"))
        .args(["demo", "--accounts", "2", "--days", "45", "--clusters", "1", "--report"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));

    let dom = dom_of(chromium, &page);
    for id in ["burn-up-1", "daily-cost-1", "environment-cost-1", "license-usage"] {
        element(&dom, "svg", id);
    }
    for id in ["figures-1", "accounts-1", "capability-cost-1", "license-table"] {
        element(&dom, "table", id);
    }
    let accounts = element(&dom, "table", "accounts-1");
    assert_eq!(accounts.matches("<tr>").count(), 1 + 2 + 1, "a heading, a row per account and the total");
    assert_eq!(dom.matches("class=\"usage\"").count(), 3, "a bar per license unit");
    assert!(dom.contains("class=\"budget\"") && dom.contains("class=\"forecast\""));
    screenshot(chromium, &page, &artefacts.join("report.png"), "1000,1400");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_export_with_usage_anomalies_and_named_environments_shows_every_chart_and_table() {
    let Some(chromium) = find_chromium() else {
        support::skip("Chromium is not installed (apt-get install chromium)");
        return;
    };
    let scenario = generate(3, 60, 2, true);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let options = ConfigOptions { environment_cost: true, name_subscription: true, ..Default::default() };
    let setup = write_config(&scenario, &sim, &options);
    let run = dtcost(&scenario, &setup, &["run", "--dry-run"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut events: Vec<Value> = run.stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let (anomaly_day, anomaly_account) = add_hand_written_events(&mut events);

    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let page = artefacts.join("report-full.html");
    std::fs::write(&page, dtcost::report::render(&events, "2026-11-23T06:00:00.000Z")).unwrap();
    let dom = dom_of(chromium, &page);

    for id in ["burn-up-1", "daily-cost-1", "environment-cost-1", "license-usage"] {
        element(&dom, "svg", id);
    }
    for id in ["figures-1", "accounts-1", "anomalies-1", "capability-cost-1", "usage-1", "license-table"] {
        element(&dom, "table", id);
    }
    assert!(dom.matches("role=\"img\"").count() >= 4, "the charts say what they are to screen readers");

    // Amounts with thousands separators and their currency, compact on the axes.
    let figures = element(&dom, "table", "figures-1");
    let grouped = regex::Regex::new(r"\b\d{1,3}(,\d{3})+\.\d{2} USD\b").unwrap();
    assert!(grouped.is_match(figures), "cost to date with separators:\n{figures}");
    assert!(figures.contains("90 % band"), "the forecast with its band");
    let burn_up = element(&dom, "svg", "burn-up-1");
    let compact = regex::Regex::new(r">\d+(\.\d+)?[kM]</text>").unwrap();
    assert!(compact.is_match(burn_up), "compact amounts on the axis");
    assert!(burn_up.matches("class=\"grid\"").count() >= 3, "gridlines");
    assert!(burn_up.contains(">Jan 2027</text>"), "dates on the time axis");

    // The anomalies: marked on their day, and listed.
    let daily = element(&dom, "svg", "daily-cost-1");
    assert_eq!(daily.matches("class=\"anomaly\"").count(), 2, "one marker per finding");
    assert!(
        daily.contains(&format!("{anomaly_day} · spike account ({anomaly_account})")),
        "the marker says what it marks"
    );
    let listed = element(&dom, "table", "anomalies-1");
    assert!(listed.contains("Cost per day rose well above the trailing median."));
    assert!(listed.contains("+180.0 %"));

    // The hostile environment name is text, not markup; the friendly one shows instead of its id.
    let environments = element(&dom, "svg", "environment-cost-1");
    assert!(environments.contains("Production EU"));
    assert!(environments.contains("&lt;img src=x onerror="), "the hostile name, escaped");
    assert!(!dom.contains("<img") && !dom.contains("<script"), "nothing injected, nothing to run");
    assert!(dom.contains("<title>dtcost report</title>"), "the onerror handler did not run");

    // Usage per capability with its unit and price.
    let usage = element(&dom, "table", "usage-1");
    assert!(usage.contains("GiB") && usage.contains("0.20 USD"), "{usage}");
    assert!(usage.contains("not attributed to a capability"));

    screenshot(chromium, &page, &artefacts.join("report-full.png"), "1000,4000");
}

/// Adds what the exporter does not emit yet (issue #15's schemas): names for two environments
/// (one hostile), a `dps.usage.booked` per capability and day from the environment cost, a day
/// that capabilities do not add up to, and two anomalies. Returns the account anomaly's day and account.
fn add_hand_written_events(events: &mut Vec<Value>) -> (String, String) {
    let environment_ids: Vec<String> = {
        let mut ids: Vec<String> = of_type(events, "dps.cost.environment.booked")
            .iter()
            .map(|e| e["environmentId"].as_str().unwrap().to_owned())
            .filter(|id| id != "unattributed")
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    for event in events.iter_mut().filter(|e| e["event.type"] == "dps.cost.environment.booked") {
        let id = event["environmentId"].as_str().unwrap();
        if id == environment_ids[0] {
            event["environmentName"] = json!(HOSTILE_NAME);
        } else if id == environment_ids[1] {
            event["environmentName"] = json!("Production EU");
        }
    }
    // Usage: the environment cost per account, capability and day, at a price per unit.
    let unit_of = |key: &str| match key {
        "LOG_MANAGEMENT_INGEST" => ("GiB", 0.2),
        "FULLSTACK_MONITORING" => ("GiB-hour", 0.01),
        "BUSINESS_EVENTS_RETAIN" => ("GiB-day", 0.0007),
        _ => ("unit", 0.05),
    };
    let mut usage: BTreeMap<(String, String, String), (Value, f64)> = BTreeMap::new();
    for event in of_type(events, "dps.cost.environment.booked") {
        let key = (
            event["accountUuid"].as_str().unwrap().to_owned(),
            event["capabilityKey"].as_str().unwrap().to_owned(),
            event["startTime"].as_str().unwrap().to_owned(),
        );
        usage.entry(key).or_insert_with(|| (event.clone(), 0.0)).1 += event["value"].as_f64().unwrap();
    }
    for ((_, key, _), (event, cost)) in usage {
        let (unit, price) = unit_of(&key);
        let quantity = if key == "UNATTRIBUTED" { Value::Null } else { json!((cost / price).round()) };
        events.push(json!({
            "event.type": "dps.usage.booked", "subscriptionUuid": event["subscriptionUuid"], "accountUuid": event["accountUuid"],
            "accountName": event["accountName"], "capabilityKey": key, "capabilityName": event["capabilityName"],
            "startTime": event["startTime"], "endTime": event["endTime"], "quantity": quantity, "unitMeasure": if key == "UNATTRIBUTED" { "" } else { unit },
            "price": if key == "UNATTRIBUTED" { Value::Null } else { json!(price) }, "currency": event["currency"], "cost": cost,
            "exportedAt": event["exportedAt"],
        }));
    }
    // Anomalies: a spike of the last account 30 days before its newest cost day, and an environment's drop that day.
    let days = of_type(events, "dps.cost2.booked");
    let spiked = days[days.len() - 30].clone();
    let base = |scope: &str, kind: &str, cost: f64, expected: f64| {
        json!({
            "event.type": "dps.cost.anomaly", "subscriptionUuid": spiked["subscriptionUuid"], "accountUuid": spiked["accountUuid"],
            "accountName": spiked["accountName"], "scope": scope, "startTime": spiked["startTime"], "endTime": spiked["endTime"],
            "kind": kind, "cost": cost, "expected": expected, "deviation": cost - expected,
            "deviationPercent": ((cost - expected) / expected * 1000.0).round() / 10.0,
            "threshold": "expected: median of the 28 days before; threshold: 3 median absolute deviations",
            "currency": "USD", "severity": "WARN", "exportedAt": spiked["exportedAt"],
        })
    };
    let value = spiked["value"].as_f64().unwrap();
    let mut spike = base("account", "spike", value, value / 2.8);
    spike["message"] = json!("Cost per day rose well above the trailing median.");
    let mut drop = base("environment", "drop", 10.0, 120.0);
    drop["environmentId"] = json!(environment_ids[1]);
    drop["environmentName"] = json!("Production EU");
    drop["message"] = json!("Production EU cost almost nothing this day.");
    events.extend([spike, drop]);
    let day: jiff::Timestamp = spiked["startTime"].as_str().unwrap().parse().unwrap();
    (day.strftime("%-d %b %Y").to_string(), spiked["accountName"].as_str().unwrap().to_owned())
}
