//! Issue #15 in the real binary against the simulator: environment names on the environment cost
//! events (and what happens without the scope for them), and usage with unit prices
//! (`dps.usage.booked`) reconciled with the daily cost and delivered once.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use dtcost_sim::Simulator;
use serde_json::Value;
use support::*;

/// The day (`YYYY-MM-DD`) an event is about: the API writes times in two styles.
fn day(event: &Value) -> String {
    event["startTime"].as_str().unwrap()[..10].to_owned()
}

fn number(event: &Value, field: &str) -> f64 {
    event[field].as_f64().unwrap_or_else(|| panic!("{field} of {event}"))
}

/// Per account name and day: the daily cost (`dps.cost2.booked`).
fn daily_totals(events: &[Value]) -> BTreeMap<(String, String), f64> {
    of_type(events, "dps.cost2.booked")
        .iter()
        .map(|e| ((e["accountName"].as_str().unwrap().to_owned(), day(e)), number(e, "value")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_cost_events_carry_the_environment_names_of_a_normal_account() {
    let scenario = generate(1, 10, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { environment_cost: true, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("environment names left out"), "{}", out.stderr);

    let names: BTreeMap<&str, &str> = scenario.accounts[0]
        .environments
        .iter()
        .filter_map(|e| e.name.as_deref().map(|name| (e.id.as_str(), name)))
        .collect();
    assert!(!names.is_empty());
    let events = sim.accepted_events();
    let environment_events = of_type(&events, "dps.cost.environment.booked");
    assert!(!environment_events.is_empty());
    for event in environment_events {
        let id = event["environmentId"].as_str().unwrap();
        match names.get(id) {
            Some(name) => assert_eq!(event["environmentName"], *name, "{event}"),
            None => assert!(event.get("environmentName").is_none(), "{event}"),
        }
    }
    // The names are read once per run, with a token of their own.
    let listed =
        sim.requests().iter().filter(|r| r.path.ends_with("/environments") && r.path.starts_with("/env/v2")).count();
    assert_eq!(listed, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_environment_scope_events_keep_their_ids_with_one_note_and_the_run_succeeds() {
    let mut scenario = generate(1, 10, 0, false);
    scenario.accounts[0].scopes.retain(|scope| scope != "account-env-read");
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { environment_cost: true, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr.matches("environment names left out").count(), 1, "{}", out.stderr);
    let note = out.stderr.lines().find(|line| line.contains("environment names left out")).unwrap();
    assert!(note.contains("scope account-env-read"), "the note says which scope to grant: {note}");

    let events = sim.accepted_events();
    let environment_events = of_type(&events, "dps.cost.environment.booked");
    assert!(!environment_events.is_empty());
    assert!(environment_events.iter().all(|e| e["environmentId"].is_string() && e.get("environmentName").is_none()));
    assert_eq!(run_summary(&events)["status"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_events_of_an_opted_in_account_are_priced_and_add_up_to_its_daily_cost() {
    let scenario = generate(1, 10, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { usage: true, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let events = sim.accepted_events();
    let usage = of_type(&events, "dps.usage.booked");
    assert!(!usage.is_empty());
    assert!(usage.iter().all(|e| e["capabilityKey"] != "UNATTRIBUTED"), "this account's usage adds up");
    let agreed: BTreeSet<&str> = [
        "event.id",
        "event.type",
        "event.provider",
        "timestamp",
        "subscriptionUuid",
        "accountUuid",
        "accountName",
        "capabilityKey",
        "capabilityName",
        "startTime",
        "endTime",
        "quantity",
        "unitMeasure",
        "price",
        "currency",
        "cost",
        "exportedAt",
    ]
    .into();
    for event in &usage {
        let fields: BTreeSet<&str> =
            event.as_object().unwrap().keys().map(String::as_str).filter(|k| *k != "event.kind").collect();
        assert_eq!(fields, agreed, "{event}");
        let priced = number(event, "quantity") * number(event, "price");
        assert!((number(event, "cost") - priced).abs() < 1e-5, "cost = quantity x price: {event}");
        assert_eq!(event["currency"], "USD");
    }
    let totals = daily_totals(&events);
    assert_eq!(totals.len(), 10);
    for ((account, day_of_total), total) in &totals {
        let sum: f64 = usage.iter().filter(|e| &day(e) == day_of_total).map(|e| number(e, "cost")).sum();
        assert!((sum - total).abs() < 1e-4, "{account} {day_of_total}: usage {sum}, cost {total}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mismatching_account_s_unattributed_usage_event_carries_exactly_the_difference() {
    // The third generated account has 4 % of the cost of days 5, 10, …, 30 of a month in no usage.
    let scenario = generate(3, 30, 0, false);
    assert!(scenario.accounts[2].unattributed.is_some());
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { usage: true, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let events = sim.accepted_events();
    let totals = daily_totals(&events);
    let usage = of_type(&events, "dps.usage.booked");
    let mismatching = scenario.accounts[2].name.as_str();
    let unattributed: Vec<&&Value> = usage.iter().filter(|e| e["capabilityKey"] == "UNATTRIBUTED").collect();
    let days: Vec<String> = unattributed.iter().map(|e| day(e)).collect();
    assert!(!days.is_empty());
    assert!(days.iter().all(|d| d[8..].parse::<u32>().unwrap() % 5 == 0), "{days:?}");
    for event in unattributed {
        assert_eq!(event["accountName"], mismatching, "{event}");
        let day_of = day(event);
        let total = totals[&(mismatching.to_owned(), day_of.clone())];
        let attributed: f64 = usage
            .iter()
            .filter(|e| e["accountName"] == mismatching && day(e) == day_of && e["capabilityKey"] != "UNATTRIBUTED")
            .map(|e| number(e, "cost"))
            .sum();
        let cost = number(event, "cost");
        assert!((cost - (total - attributed)).abs() < 1e-5, "{day_of}: {cost} vs {total} - {attributed}");
        assert!((cost - 0.04 * total).abs() < 1e-4 * total.max(1.0), "the simulator's 4 %: {cost} of {total}");
        assert!(event.get("quantity").is_none() && event.get("price").is_none());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_sends_no_usage_event_again() {
    let scenario = generate(1, 10, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { usage: true, ..ConfigOptions::default() });
    let first = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let sent = of_type(&sim.accepted_events(), "dps.usage.booked").len();
    assert!(sent > 0);
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.dir.path().join("dtcost-state.json")).unwrap()).unwrap();
    assert_eq!(state["version"], 4);
    let account = state["accounts"].as_object().unwrap().values().next().unwrap();
    assert_eq!(account["usage"]["sent"].as_array().map(Vec::len), Some(sent), "{account}");

    let second = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(of_type(&sim.accepted_events(), "dps.usage.booked").len(), sent, "nothing sent again");
}
