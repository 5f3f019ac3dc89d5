//! Delivery under faults: the simulator breaks things on purpose and the exact set of expected
//! events must still be accepted, by `event.id`, with no duplicate and nothing missing.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use dtcost_sim::{Fault, FaultRule, Scenario, Service, Simulator};
use serde_json::Value;
use support::*;

/// Short backoff so that the tests take seconds, with a generous budget.
const FAST_RETRY: &str =
    "[retry]\ninitial-delay-ms = 20\nmax-delay-ms = 200\nmultiplier = 2.0\nmax-elapsed-seconds = 30";

/// What a scenario showed: events expected, accepted (distinct ids), duplicated, missing.
#[derive(Debug, PartialEq)]
struct Tally {
    expected: usize,
    accepted: usize,
    duplicated: usize,
    missing: usize,
}

fn rule(service: Option<Service>, fault: Fault, times: u32) -> FaultRule {
    FaultRule { service, fault, times }
}

/// Every expected event (cost days, statuses, quotas) must be among the accepted ones. The runs'
/// summary events are not data: [`assert_complete`] checks them.
fn tally(scenario: &Scenario, accepted: &[Value]) -> Tally {
    let accepted: Vec<&Value> = accepted.iter().filter(|e| e["event.type"] != "dtcost.run.summary").collect();
    let mut expected: Vec<Value> =
        (0..scenario.accounts.len()).flat_map(|i| expected_cost_events(scenario, i)).collect();
    expected.extend((0..scenario.accounts.len()).map(|i| expected_status_event(scenario, i)));
    expected.extend((0..scenario.clusters.len()).flat_map(|i| expected_quota_events(scenario, i)));
    let mut by_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for event in &accepted {
        by_id.entry(event["event.id"].as_str().unwrap()).or_default().push(event);
    }
    let duplicated = by_id.values().map(|copies| copies.len() - 1).sum();
    let distinct: BTreeSet<String> =
        by_id.values().map(|copies| normalise(&without_id(copies[0])).to_string()).collect();
    let missing = expected.iter().filter(|e| !distinct.contains(&normalise(&without_id(e)).to_string())).count();
    Tally { expected: expected.len(), accepted: by_id.len(), duplicated, missing }
}

async fn run_with(scenario: Scenario, rules: Vec<FaultRule>) -> (Output, Simulator, Scenario) {
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    for rule in rules {
        sim.inject(rule);
    }
    let setup = write_config(&scenario, &sim, &ConfigOptions { extra: FAST_RETRY.into(), ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    (out, sim, scenario)
}

fn assert_complete(out: &Output, sim: &Simulator, scenario: &Scenario) -> Tally {
    assert_eq!(out.code, 0, "{}", out.stderr);
    for event in sim.accepted_events() {
        assert_no_secret(scenario, &event.to_string());
    }
    let tally = tally(scenario, &sim.accepted_events());
    assert_eq!((tally.missing, tally.duplicated), (0, 0), "{tally:?}\n{}", out.stderr);
    assert_eq!(tally.accepted, tally.expected, "{tally:?}");
    // The run's own account of it agrees.
    let summary = run_summary(&sim.accepted_events());
    assert_eq!(summary["status"], "ok", "{summary}");
    assert_eq!(summary["eventsAccepted"], tally.accepted, "{summary}");
    eprintln!("{} {tally:?}", std::thread::current().name().unwrap_or("?"));
    tally
}

#[tokio::test(flavor = "multi_thread")]
async fn short_lived_tokens_are_refreshed_during_a_slow_run() {
    let mut scenario = generate(1, 10, 0, false);
    scenario.token_ttl = Duration::from_secs(1);
    let slow = rule(Some(Service::AccountApi), Fault::Slow(Duration::from_millis(700)), 10);
    let (out, sim, scenario) = run_with(scenario, vec![slow]).await;
    assert_complete(&out, &sim, &scenario);
    let tokens = sim.requests().iter().filter(|r| r.service == Service::Sso).count();
    assert!(tokens >= 2, "the account token was refreshed ({tokens} token requests)");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_with_retry_after_is_honoured() {
    let throttle = rule(Some(Service::AccountApi), Fault::Throttle { retry_after_seconds: Some(1) }, 1);
    let started = std::time::Instant::now();
    let (out, sim, scenario) = run_with(generate(1, 10, 0, false), vec![throttle]).await;
    assert_complete(&out, &sim, &scenario);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited as Retry-After asked");
    assert!(out.stderr.contains("1 retries (1 throttled)"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_without_retry_after_waits_for_the_rate_limit_reset() {
    let throttle = rule(Some(Service::Environment), Fault::Throttle { retry_after_seconds: None }, 2);
    let (out, sim, scenario) = run_with(generate(1, 10, 1, false), vec![throttle]).await;
    assert_complete(&out, &sim, &scenario);
    assert_eq!(sim.requests().iter().filter(|r| r.status == 429).count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_error_bursts_are_retried_everywhere() {
    let rules = vec![
        rule(Some(Service::Sso), Fault::Status(503), 2),
        rule(Some(Service::AccountApi), Fault::Status(502), 3),
        rule(Some(Service::Cluster(0)), Fault::Status(504), 2),
        rule(Some(Service::Environment), Fault::Status(503), 3),
    ];
    let (out, sim, scenario) = run_with(generate(2, 10, 1, false), rules).await;
    assert_complete(&out, &sim, &scenario);
    assert_eq!(sim.requests().iter().filter(|r| matches!(r.status, 502..=504)).count(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connections_are_retried() {
    let rules = vec![
        rule(Some(Service::AccountApi), Fault::Drop, 2),
        rule(Some(Service::Cluster(0)), Fault::Drop, 1),
        rule(Some(Service::Sso), Fault::Drop, 1),
    ];
    let (out, sim, scenario) = run_with(generate(1, 10, 1, false), rules).await;
    assert_complete(&out, &sim, &scenario);
    assert_eq!(sim.requests().iter().filter(|r| r.status == 0).count(), 4);
}

/// Issue #14: a pooled connection the server drops under a request costs a retry on a new one,
/// nothing more. At `concurrency = 1` the account API has one connection, opened by the
/// subscription list and reused by the reads after it, so the dropped daily-cost read was sent on
/// the pooled connection.
#[tokio::test(flavor = "multi_thread")]
async fn a_pooled_connection_dropped_under_a_request_is_retried_on_a_new_one() {
    let scenario = generate(1, 10, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    sim.inject_on_path(rule(Some(Service::AccountApi), Fault::Drop, 1), "/cost");
    let extra = format!("concurrency = 1\n{FAST_RETRY}");
    let setup = write_config(&scenario, &sim, &ConfigOptions { extra, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_complete(&out, &sim, &scenario);
    let account_api: Vec<_> = sim.requests().into_iter().filter(|r| r.service == Service::AccountApi).collect();
    let dropped = account_api.iter().position(|r| r.status == 0).expect("the injected drop");
    assert!(account_api[dropped].path.ends_with("/cost") && dropped > 0, "{account_api:?}");
    assert!(account_api[dropped + 1..].iter().any(|r| r.path.ends_with("/cost") && r.status == 200), "{account_api:?}");
    // The list's connection, reused until the drop, then one new connection.
    assert_eq!(sim.connections()[&Service::AccountApi], 2, "{account_api:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_responses_only_slow_the_run() {
    let slow = rule(None, Fault::Slow(Duration::from_millis(300)), 6);
    let (out, sim, scenario) = run_with(generate(2, 10, 1, false), vec![slow]).await;
    assert_complete(&out, &sim, &scenario);
}

/// Issue #14: the pool opens at most `concurrency` connections to an origin. An account sends
/// details, daily cost and forecast together, so two accounts at once want six connections to the
/// account API; they share two, and requests that find both busy wait for one (never fail).
#[tokio::test(flavor = "multi_thread")]
async fn connections_per_origin_never_exceed_the_configured_concurrency() {
    const CONCURRENCY: usize = 2;
    let mut scenario = generate(6, 30, 1, false);
    // Answers that take a while, so that requests overlap.
    scenario.latency = Duration::from_millis(40);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let extra = format!("concurrency = {CONCURRENCY}\n{FAST_RETRY}");
    let setup = write_config(&scenario, &sim, &ConfigOptions { extra, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_complete(&out, &sim, &scenario);
    let connections = sim.connections();
    assert!(connections[&Service::AccountApi] > 0, "{connections:?}");
    for (service, count) in &connections {
        assert!(
            *count <= CONCURRENCY,
            "{count} connections to {service:?} for a concurrency of {CONCURRENCY}: {connections:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_events_are_resent_alone_never_the_whole_batch() {
    let refuse = rule(Some(Service::Environment), Fault::RefuseFirstEvent, 1);
    let (out, sim, scenario) = run_with(generate(1, 10, 0, false), vec![refuse]).await;
    assert_complete(&out, &sim, &scenario);
    let posts = sim.requests().into_iter().filter(|r| r.service == Service::Environment).count();
    assert_eq!(posts, 4, "one batch, then the one refused event; the status; then the run summary");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payload_over_the_api_cap_is_split() {
    let mut scenario = generate(1, 60, 0, false);
    scenario.max_ingest_bytes = 8_000;
    let (out, sim, scenario) = run_with(scenario, vec![]).await;
    assert_complete(&out, &sim, &scenario);
    assert!(sim.requests().iter().any(|r| r.status == 413));
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_bodies_are_read_again() {
    let rules = vec![
        rule(Some(Service::AccountApi), Fault::Truncated, 3),
        rule(Some(Service::Cluster(0)), Fault::Truncated, 1),
    ];
    let (out, sim, scenario) = run_with(generate(1, 10, 1, false), rules).await;
    assert_complete(&out, &sim, &scenario);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_at_once() {
    let mut scenario = generate(4, 30, 2, false);
    scenario.token_ttl = Duration::from_secs(2);
    scenario.max_ingest_bytes = 6_000;
    let rules = vec![
        rule(None, Fault::Slow(Duration::from_millis(150)), 8),
        rule(Some(Service::Sso), Fault::Status(503), 2),
        rule(Some(Service::AccountApi), Fault::Throttle { retry_after_seconds: Some(1) }, 1),
        rule(Some(Service::AccountApi), Fault::Drop, 2),
        rule(Some(Service::AccountApi), Fault::Status(502), 3),
        rule(Some(Service::AccountApi), Fault::Truncated, 2),
        rule(Some(Service::Cluster(1)), Fault::Status(504), 1),
        rule(Some(Service::Environment), Fault::Throttle { retry_after_seconds: None }, 2),
        rule(Some(Service::Environment), Fault::Status(503), 2),
        // Two refusals: an event refused on every one of its three tries is (rightly) reported.
        rule(Some(Service::Environment), Fault::RefuseFirstEvent, 2),
    ];
    let (out, sim, scenario) = run_with(scenario, rules).await;
    let tally = assert_complete(&out, &sim, &scenario);
    assert_eq!(tally.expected, 4 * 30 + 4 + 2 * 3);
}

/// Backoff longer than a 2-second token lives: a retried request must not reuse its first token.
const SLOW_RETRY: &str =
    "[retry]\ninitial-delay-ms = 1200\nmax-delay-ms = 2500\nmultiplier = 1.5\nmax-elapsed-seconds = 60";

/// One run of 2 accounts and a cluster with 2-second tokens under throttling, dropped
/// connections, slow answers and 502/503 bursts on every service.
async fn expiring_tokens_under_every_fault() -> Tally {
    let mut scenario = generate(2, 10, 1, false);
    scenario.token_ttl = Duration::from_secs(2);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    for fault in [
        rule(None, Fault::Slow(Duration::from_millis(1200)), 6),
        rule(Some(Service::Sso), Fault::Status(503), 2),
        rule(Some(Service::AccountApi), Fault::Throttle { retry_after_seconds: Some(2) }, 2),
        rule(Some(Service::AccountApi), Fault::Drop, 2),
        rule(Some(Service::AccountApi), Fault::Status(502), 3),
        rule(Some(Service::AccountApi), Fault::Status(503), 2),
        rule(Some(Service::Environment), Fault::Status(503), 2),
        rule(Some(Service::Environment), Fault::Throttle { retry_after_seconds: Some(2) }, 1),
        rule(Some(Service::Cluster(0)), Fault::Status(502), 2),
    ] {
        sim.inject(fault);
    }
    let setup = write_config(&scenario, &sim, &ConfigOptions { extra: SLOW_RETRY.into(), ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    let tally = assert_complete(&out, &sim, &scenario);
    let tokens = sim.requests().iter().filter(|r| r.service == Service::Sso && r.status == 200).count();
    let expired = sim.requests().iter().filter(|r| r.status == 401).count();
    assert!(tokens > 3, "tokens were refreshed during the run ({tokens} issued)");
    eprintln!("2-second tokens under faults: {tokens} tokens issued, {expired} answers 401 (each recovered)");
    tally
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_that_expire_while_requests_are_retried_are_replaced_twenty_runs_in_a_row() {
    // 20 runs, 4 at a time (each with its own simulator), every one complete.
    for wave in 0..5 {
        let runs: Vec<_> = (0..4).map(|_| tokio::spawn(expiring_tokens_under_every_fault())).collect();
        for (index, run) in runs.into_iter().enumerate() {
            let tally = run.await.unwrap_or_else(|e| panic!("run {} failed: {e}", wave * 4 + index + 1));
            assert_eq!(tally.expected, 2 * 10 + 2 + 3, "{tally:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gateway_errors_on_a_long_environment_walk_are_retried_page_by_page() {
    // 40 days of cost per environment in windows of 7 days, 25 rows a page: many pages, and 502s
    // on the walk (as on a long walk of the real API).
    let scenario = generate(1, 40, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    sim.inject_on_path(rule(Some(Service::AccountApi), Fault::Status(502), 4), "/environments/cost");
    let extra = format!(
        "{FAST_RETRY}
[environment-cost]
days = 40
window-days = 7
page-size = 25"
    );
    let options = ConfigOptions { environment_cost: true, extra, ..ConfigOptions::default() };
    let setup = write_config(&scenario, &sim, &options);
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let requests = sim.requests();
    let walk: Vec<_> = requests.iter().filter(|r| r.path.ends_with("/environments/cost")).collect();
    assert_eq!(walk.iter().filter(|r| r.status == 502).count(), 4);
    let events = sim.accepted_events();
    let environment = of_type(&events, "dps.cost.environment.booked");
    let rows = environment.len();
    // ceil(40 / 7) windows; each window's rows in pages of 25; plus the 4 retried requests.
    assert!(walk.len() > 6 + 4, "{} requests for {rows} events", walk.len());
    let days: BTreeSet<&str> = environment.iter().map(|e| e["startTime"].as_str().unwrap()).collect();
    assert_eq!(days.len(), 40, "every day of the walk arrived");
    let mut ids: Vec<&str> = environment.iter().map(|e| e["event.id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), rows, "no row read twice");
    let summary = run_summary(&events);
    assert!(summary["retries"].as_u64().unwrap() >= 4, "{summary}");
    eprintln!("v3 walk with 502s: {} requests (4 answered 502) for {rows} environment events", walk.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn permanent_failures_are_reported_with_their_message_not_retried() {
    let (out, sim, _) =
        run_with(generate(1, 5, 0, false), vec![rule(Some(Service::Environment), Fault::Status(403), 1)]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("not sent: 5 events") && out.stderr.contains("HTTP 403: Injected failure"),
        "{}",
        out.stderr
    );
    // The account's POST, not retried; then the status's and the run summary's, which are accepted.
    assert_eq!(sim.requests().iter().filter(|r| r.service == Service::Environment).count(), 3);
    assert_eq!(run_summary(&sim.accepted_events())["eventsAccepted"], 1, "the status only");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_sends_only_new_or_changed_days_and_dedup_keeps_one_per_day() {
    let scenario = generate(2, 20, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    assert_eq!(dtcost(&scenario, &setup, &["run"]).await.code, 0);
    assert_eq!(sim.accepted_events().len(), 2 * 20 + 2 + 1, "days, statuses, the run summary");

    // Unchanged: only the status events go again.
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.accepted_events().len(), 43 + 2 + 1);
    let summaries = of_type(&sim.accepted_events(), "dtcost.run.summary").into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(summaries[1]["eventsSkipped"], 40, "{}", summaries[1]);
    assert!(out.stderr.contains("20 events built (20 delivered before), 0 sent"), "{}", out.stderr);

    // A late booking changes account 1's fifth-newest day: it and the four newer days go again.
    let account = scenario.accounts[0].clone();
    let subscription = account.subscriptions[0].clone();
    let mut days = account.costs[&subscription].clone();
    days.sort_by(|a, b| a["startTime"].as_str().cmp(&b["startTime"].as_str()));
    let changed_day = days[15]["startTime"].clone();
    sim.update(|s| {
        let record = s.accounts[0]
            .costs
            .get_mut(&subscription)
            .unwrap()
            .iter_mut()
            .find(|r| r["startTime"] == changed_day)
            .unwrap();
        record["value"] = serde_json::json!(record["value"].as_f64().unwrap() + 100.0);
    });
    let updated = sim.scenario();
    let out = dtcost(&updated, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("20 events built (15 delivered before), 5 sent"), "{}", out.stderr);

    // The documented DQL: keep the latest version of each day (dedup by day, newest exportedAt).
    let mut latest: BTreeMap<(String, String, String), Value> = BTreeMap::new();
    for event in of_type(&sim.accepted_events(), "dps.cost2.booked") {
        let key =
            (event["accountUuid"].to_string(), event["subscriptionUuid"].to_string(), event["startTime"].to_string());
        let newer = latest.get(&key).is_none_or(|kept| kept["exportedAt"].as_str() < event["exportedAt"].as_str());
        if newer {
            latest.insert(key, event.clone());
        }
    }
    let expected: Vec<Value> = (0..2).flat_map(|i| expected_cost_events(&updated, i)).collect();
    assert_same_events(&latest.values().collect::<Vec<_>>(), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_mid_ingest_and_run_again_loses_nothing() {
    let scenario = generate(6, 30, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    // Slow ingest, one account at a time: the kill lands between acknowledgements.
    sim.inject(rule(Some(Service::Environment), Fault::Slow(Duration::from_millis(400)), 100));
    let setup =
        write_config(&scenario, &sim, &ConfigOptions { extra: "concurrency = 1".into(), ..ConfigOptions::default() });
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dtcost"))
        .args(["run", "--config"])
        .arg(&setup.config)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill (SIGKILL) as soon as a second batch is being ingested.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while sim.accepted_events().len() < 31 {
        assert!(std::time::Instant::now() < deadline, "the first run never ingested");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    child.kill().await.unwrap();
    let after_kill = sim.accepted_events().len();
    assert!(after_kill < 6 * 31, "the kill came before the run finished ({after_kill} events)");

    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let accepted = sim.accepted_events();
    let tally = tally(&scenario, &accepted);
    assert_eq!(tally.missing, 0, "{tally:?}");
    // Whatever was sent twice carries the same id: dedup by event.id leaves each day once.
    let cost_ids: BTreeSet<&str> =
        of_type(&accepted, "dps.cost2.booked").iter().map(|e| e["event.id"].as_str().unwrap()).collect();
    assert_eq!(cost_ids.len(), 6 * 30);
    eprintln!("kill and resume: {after_kill} events before the kill; {tally:?}");
}
