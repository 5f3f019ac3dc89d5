//! The real `dtcost` binary, with the real component, against the simulator: exactly the events
//! the data gives, failures isolated per account and cluster, and no secret in any output.

mod support;

use dtcost_sim::{Fault, FaultRule, Licensing, Service, Simulator};
use serde_json::{Value, json};
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn exports_one_account_exactly_in_eight_requests() {
    let scenario = generate(1, 30, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let events = sim.accepted_events();
    assert_eq!(events.len(), 32, "30 days, the status and the run summary");
    assert_same_events(&of_type(&events, "dps.cost2.booked"), &expected_cost_events(&scenario, 0));
    assert_same_events(&of_type(&events, "dps.subscription.status"), &[expected_status_event(&scenario, 0)]);
    assert_unique_ids(&events);
    // Cost events arrive in booking order, as the walk-through's sort gives them.
    let starts: Vec<&str> =
        of_type(&events, "dps.cost2.booked").iter().map(|e| e["startTime"].as_str().unwrap()).collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]));

    // 1 token + subscription list + details + cost + Dynatrace's forecast + 1 ingest POST of the
    // cost, the POST of the subscription's status (one per subscription, whichever account reads
    // it), and the run summary's POST.
    let requests = sim.requests();
    assert_eq!(requests.len(), 8, "{requests:#?}");
    assert_eq!(requests.iter().filter(|r| r.service == Service::Environment).count(), 3);
    let summary = run_summary(&events);
    assert_eq!((summary["status"].as_str(), summary["accountsOk"].as_u64()), (Some("ok"), Some(1)));
    assert_eq!((summary["eventsBuilt"].as_u64(), summary["eventsAccepted"].as_u64()), (Some(31), Some(31)));
    assert_eq!(summary["requests"], 7, "the account's requests and the status POST");
    assert_eq!(summary["newestCostDay"], format!("{DAY}T00:00:00Z"));
    assert!(out.stderr.contains("1 of 1 exports succeeded"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_sharing_a_subscription_each_export_their_cost_and_its_status_once() {
    let scenario = generate(3, 20, 0, true);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { name_subscription: true, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    let events = sim.accepted_events();
    let expected: Vec<_> = (0..3).flat_map(|i| expected_cost_events(&scenario, i)).collect();
    assert_same_events(&of_type(&events, "dps.cost2.booked"), &expected);
    assert_same_events(&of_type(&events, "dps.subscription.status"), &[expected_status_event(&scenario, 0)]);
    assert_eq!(events.len(), 3 * 20 + 1 + 1, "3 x 20 days, one status, the run summary");
    assert_unique_ids(&events);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_subscription_sends_one_status_per_run_without_subscription_keys() {
    // Configured as the README shows, without `subscription` keys: the accounts resolve to one
    // subscription, found from the data.
    let scenario = generate(3, 20, 0, true);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    for run in 1..=2 {
        let before = sim.accepted_events().len();
        let out = dtcost(&scenario, &setup, &["run"]).await;
        assert_eq!(out.code, 0, "{}", out.stderr);
        let events = sim.accepted_events().split_off(before);
        assert_same_events(&of_type(&events, "dps.subscription.status"), &[expected_status_event(&scenario, 0)]);
        let sender =
            format!("subscription {}: status sent by account Account 1", scenario.accounts[0].subscriptions[0]);
        assert!(out.stderr.contains(&sender), "run {run}: {}", out.stderr);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn when_the_first_account_of_a_shared_subscription_fails_another_sends_its_status() {
    let scenario = generate(3, 10, 0, true);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { wrong_secret: vec![0], ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let events = sim.accepted_events();
    assert_same_events(&of_type(&events, "dps.subscription.status"), &[expected_status_event(&scenario, 1)]);
    assert!(
        out.stderr.contains("status sent by account Account 2 (also booked by account Account 3"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_subscription_s_budget_alerts_fire_once_whichever_account_sends_them() {
    let scenario = generate(3, 10, 0, true);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    // 1 % of the budget: crossed by every subscription.
    let alerting = "[budget]\nthresholds = [1]\nforecast-exceeds-budget = false".to_owned();
    let alerts = |events: &[serde_json::Value]| of_type(events, "dps.budget.alert").len();
    let setup = write_config(&scenario, &sim, &ConfigOptions { extra: alerting.clone(), ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(alerts(&sim.accepted_events()), 1, "one subscription, one threshold: one alert");
    // The next run's sender is another account (the first fails): the alert does not fire again.
    let before = sim.accepted_events().len();
    let failing = ConfigOptions { extra: alerting, wrong_secret: vec![0], ..ConfigOptions::default() };
    let second = write_config(&scenario, &sim, &failing);
    std::fs::copy(setup.dir.path().join("dtcost-state.json"), second.dir.path().join("dtcost-state.json")).unwrap();
    let out = dtcost(&scenario, &second, &["run"]).await;
    assert!(out.stderr.contains("status sent by account Account 2"), "{}", out.stderr);
    let events = sim.accepted_events().split_off(before);
    assert_eq!(of_type(&events, "dps.subscription.status").len(), 1);
    assert_eq!(alerts(&events), 0, "already fired this period: {}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_last_booking_date_in_any_format_is_passed_through_never_failing_the_account() {
    // The published schema gives `lastBookingDate` no format: carry whatever comes.
    let mut scenario = generate(1, 4, 0, false);
    let subscription = scenario.accounts[0].subscriptions[0].clone();
    let odd = [json!("25.03.2026 06:00"), json!(1774512000000u64), json!("2026-03-25T06:00:00.000+02:00"), json!(null)];
    for (record, value) in scenario.accounts[0].costs.get_mut(&subscription).unwrap().iter_mut().zip(odd) {
        record["lastBookingDate"] = value;
    }
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let costs = of_type(&sim.accepted_events(), "dps.cost2.booked").into_iter().cloned().collect::<Vec<_>>();
    let carried: Vec<&Value> = costs.iter().filter_map(|e| e.get("lastBookingDate")).collect();
    assert!(carried.contains(&&json!("25.03.2026 06:00")), "{carried:?}");
    assert!(carried.contains(&&json!("1774512000000")), "a number is carried as its text: {carried:?}");
    assert_eq!(carried.len(), 3, "null is left out");
    assert_same_events(&of_type(&sim.accepted_events(), "dps.cost2.booked"), &expected_cost_events(&scenario, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usage_status_the_docs_do_not_list_is_passed_through_never_failing_the_cluster() {
    let mut scenario = generate(1, 2, 1, false);
    if let Licensing::Classic(license) = &mut scenario.clusters[0].licensing {
        license["usageOfHostUnits"]["usageStatus"] = json!("USING_FLEX_QUOTA");
    }
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let quotas = of_type(&sim.accepted_events(), "cluster.license.quota").into_iter().cloned().collect::<Vec<_>>();
    let host_units = quotas.iter().find(|e| e["unit"] == "HOST_UNITS").expect("the host units event");
    assert_eq!(host_units["usageStatus"], "USING_FLEX_QUOTA");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_success_that_names_no_event_resends_nothing_and_fails_the_run_saying_so() {
    let scenario = generate(1, 5, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let refuse = FaultRule { service: Some(Service::Environment), fault: Fault::RefuseFirstEventUnnamed, times: 1 };
    sim.inject(refuse);
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("without naming them"), "{}", out.stderr);
    let costs = of_type(&sim.accepted_events(), "dps.cost2.booked").len();
    assert_eq!(costs, 4, "the API stored the 4 it did not refuse; nothing was resent (no duplicate)");
    let ingest = sim.requests().iter().filter(|r| r.service == Service::Environment).count();
    assert_eq!(ingest, 3, "the cost batch once, the status, the run summary");
    // The next run sends the unconfirmed days again (at least once, never lost).
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let days: std::collections::BTreeSet<String> = of_type(&sim.accepted_events(), "dps.cost2.booked")
        .iter()
        .map(|e| e["startTime"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(days.len(), 5, "every day arrived");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partial_success_naming_the_event_by_id_alone_resends_only_that_event() {
    let scenario = generate(1, 5, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let refuse =
        FaultRule { service: Some(Service::Environment), fault: Fault::RefuseFirstEventWithoutIndex, times: 1 };
    sim.inject(refuse);
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_same_events(&of_type(&sim.accepted_events(), "dps.cost2.booked"), &expected_cost_events(&scenario, 0));
    let ingest = sim.requests().iter().filter(|r| r.service == Service::Environment).count();
    assert_eq!(ingest, 4, "the cost batch, the refused event alone, the status, the run summary");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_summary_says_how_many_account_exports_ran_at_once() {
    let scenario = generate(12, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup =
        write_config(&scenario, &sim, &ConfigOptions { extra: "concurrency = 6".into(), ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let summary = run_summary(&sim.accepted_events());
    let reached = summary["concurrencyReached"].as_u64().unwrap();
    // Starts at 16 but never past the configured 6.
    assert!((1..=6).contains(&reached), "{summary}");
    assert!(out.stderr.contains(&format!("up to {reached} accounts at once")), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_without_a_named_subscription_finds_its_active_regular_one() {
    // Each account also lists an EXPIRED subscription; the ACTIVE REGULAR one is exported.
    let scenario = generate(2, 10, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events = sim.accepted_events();
    let statuses: Vec<_> = (0..2).map(|i| expected_status_event(&scenario, i)).collect();
    assert_same_events(&of_type(&events, "dps.subscription.status"), &statuses);
    let costs: Vec<_> = (0..2).flat_map(|i| expected_cost_events(&scenario, i)).collect();
    assert_same_events(&of_type(&events, "dps.cost2.booked"), &costs);
}

#[tokio::test(flavor = "multi_thread")]
async fn clusters_export_one_quota_event_per_unit_and_a_dps_cluster_fails_alone() {
    let mut scenario = generate(1, 5, 3, false);
    scenario.clusters[1].licensing = Licensing::Dps;
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 1, "a failed cluster makes the run fail: {}", out.stderr);
    assert!(out.stderr.contains("FAILED cluster managed-2"), "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 422") && out.stderr.contains("not on classic licensing"), "{}", out.stderr);

    let events = sim.accepted_events();
    let expected: Vec<_> = [0, 2].iter().flat_map(|i| expected_quota_events(&scenario, *i)).collect();
    assert_eq!(expected.len(), 6);
    assert_same_events(&of_type(&events, "cluster.license.quota"), &expected);
    assert_eq!(of_type(&events, "dps.cost2.booked").len(), 5, "the account is exported as usual");
    for event in &events {
        let text = event.to_string();
        assert!(!text.contains("licenseKey") && !text.contains("contactEmailAddress") && !text.contains("ops@acme"));
    }
    // An overage without a limit stays without one: never an invented 0.
    let host_units = of_type(&events, "cluster.license.quota").into_iter().find(|e| e["unit"] == "HOST_UNITS").unwrap();
    assert!(host_units.get("overageQuota").is_none(), "{host_units}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_credentials_fail_that_account_only_naming_it_and_the_sso_message() {
    let scenario = generate(3, 7, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { wrong_secret: vec![1], ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 1);
    let failed_line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("FAILED account Account 2"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(failed_line.contains("HTTP 400") && failed_line.contains("Invalid client credentials"), "{failed_line}");
    assert!(out.stderr.contains("2 of 3 exports succeeded"), "{}", out.stderr);

    let events = sim.accepted_events();
    let expected: Vec<_> = [0, 2].iter().flat_map(|i| expected_cost_events(&scenario, *i)).collect();
    assert_same_events(&of_type(&events, "dps.cost2.booked"), &expected);
    assert!(!out.stderr.contains("WRONG.secret"), "the wrong secret is not printed either");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_prints_the_exact_events_and_sends_nothing() {
    let scenario = generate(2, 10, 1, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run", "--dry-run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(sim.accepted_events().is_empty());
    assert!(sim.requests().iter().all(|r| r.service != Service::Environment), "no ingest request on a dry run");

    let mut printed: Vec<serde_json::Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_unique_ids(&printed);
    let summary = run_summary(&printed);
    assert_eq!((summary["dryRun"].as_bool(), summary["eventsBuilt"].as_u64()), (Some(true), Some(25)));
    assert_eq!(summary["eventsSent"], 0);
    printed.retain(|e| e["event.type"] != "dtcost.run.summary");
    let mut expected: Vec<_> = (0..2).flat_map(|i| expected_cost_events(&scenario, i)).collect();
    expected.extend((0..2).map(|i| expected_status_event(&scenario, i)));
    expected.extend(expected_quota_events(&scenario, 0));
    for event in &mut expected {
        event.as_object_mut().unwrap().remove("event.kind"); // set by the ingest API, not by us
    }
    assert_same_events(&printed.iter().collect::<Vec<_>>(), &expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_sends_the_same_event_ids() {
    let scenario = generate(1, 10, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let first = dtcost(&scenario, &setup, &["run", "--dry-run"]).await;
    let second = dtcost(&scenario, &setup, &["run", "--dry-run"]).await;
    let cost_ids = |out: &Output| -> Vec<String> {
        out.stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["event.type"] == "dps.cost2.booked")
            .map(|e| e["event.id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(cost_ids(&first), cost_ids(&second));
    assert_eq!(cost_ids(&first).len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oauth_target_on_a_classic_url_posts_bearer_to_the_api_v2_path() {
    let scenario = generate(1, 5, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { oauth_target: true, ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.accepted_events().len(), 7, "5 days, the status, the run summary");
    let ingest: Vec<_> = sim.requests().into_iter().filter(|r| r.service == Service::Environment).collect();
    assert_eq!(ingest.len(), 3, "the account's events, the status, then the run summary");
    // The platform path exists only on *.apps.dynatrace.com; the simulated environment is a
    // classic one, which takes the OAuth Bearer token on /api/v2 as the real API does.
    assert!(ingest.iter().all(|r| r.path == "/api/v2/bizevents/ingest"), "{ingest:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_authenticates_everything_and_lists_what_it_would_send() {
    let scenario = generate(2, 12, 1, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions { wrong_secret: vec![0], ..ConfigOptions::default() });
    let out = dtcost(&scenario, &setup, &["check"]).await;
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("FAILED account Account 1") && out.stdout.contains("Invalid client credentials"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("hint: check the client-id and the secret"), "{}", out.stdout);
    assert!(
        out.stdout.contains("ok     account Account 2")
            && out.stdout.contains("12 records read; a run would send 12 events"),
        "{}",
        out.stdout
    );
    let sender = format!("subscription {}: status sent by account Account 2", scenario.accounts[1].subscriptions[0]);
    assert!(out.stdout.contains(&sender), "{}", out.stdout);
    assert!(out.stdout.contains("ok     cluster managed-1"), "{}", out.stdout);
    assert!(sim.accepted_events().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_config_names_the_key_and_exits_2() {
    let scenario = generate(1, 1, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let text = std::fs::read_to_string(&setup.config).unwrap().replace(&scenario.accounts[0].uuid, "not-a-uuid");
    std::fs::write(&setup.config, text).unwrap();
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("dtcost.toml: accounts[0].uuid: \"not-a-uuid\" is not a UUID"), "{}", out.stderr);
    assert!(sim.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_appears_in_output_even_when_everything_fails() {
    // Every account and cluster fails in a different way, with debug logs on: `dtcost()` asserts
    // on every run that no secret of the scenario appears; this run makes the most noise.
    let mut scenario = generate(2, 3, 2, false);
    scenario.clusters[0].licensing = Licensing::Dps;
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let mut setup = write_config(&scenario, &sim, &ConfigOptions { wrong_secret: vec![0], ..ConfigOptions::default() });
    // Cluster 2 gets account 2's secret as its token; the ingest token file is wrong.
    setup.env.retain(|(k, _)| k != "CLUSTER_1_TOKEN");
    setup.env.push(("CLUSTER_1_TOKEN".into(), scenario.accounts[1].client_secret.clone()));
    std::fs::write(setup.dir.path().join("ingest.token"), &scenario.clusters[0].api_token).unwrap();
    for args in [&["run"][..], &["run", "--dry-run"], &["check"]] {
        let out = dtcost(&scenario, &setup, args).await;
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
    }
    for event in sim.accepted_events() {
        assert_no_secret(&scenario, &event.to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_split_by_bytes_and_every_one_is_acknowledged() {
    let scenario = generate(1, 40, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    // A cost event is about 450 bytes: 2000-byte requests hold 4 of them.
    let setup = write_config(
        &scenario,
        &sim,
        &ConfigOptions { extra: "max-batch-bytes = 2000".into(), ..ConfigOptions::default() },
    );
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events = sim.accepted_events();
    assert_same_events(&of_type(&events, "dps.cost2.booked"), &expected_cost_events(&scenario, 0));
    let posts = sim.requests().into_iter().filter(|r| r.service == Service::Environment).count();
    let sent_bytes = |e: &serde_json::Value| {
        let mut e = e.clone();
        e.as_object_mut().unwrap().remove("event.kind"); // added by the ingest API
        e.to_string().len() + 1
    };
    let bytes: usize = events.iter().map(sent_bytes).sum();
    assert!(posts >= bytes.div_ceil(2000) && posts <= 42, "{posts} POSTs for {bytes} bytes");
    assert!(out.stderr.contains("41 sent, 41 accepted"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_simulator_s_tokens_really_expire() {
    let mut scenario = generate(1, 3, 0, false);
    scenario.token_ttl = std::time::Duration::ZERO;
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("HTTP 401: Token expired"), "{}", out.stderr);
    let events = sim.accepted_events();
    assert_eq!(events.len(), 1, "only the run summary, which says so");
    let summary = run_summary(&events);
    assert_eq!((summary["status"].as_str(), summary["accountsFailed"].as_u64()), (Some("failed"), Some(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_cost_record_stops_only_its_account_naming_record_and_field() {
    let mut scenario = generate(2, 10, 0, false);
    let subscription = scenario.accounts[1].subscriptions[0].clone();
    scenario.accounts[1].costs.get_mut(&subscription).unwrap()[4]["value"] = serde_json::Value::Null;
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let out = dtcost(&scenario, &setup, &["run"]).await;
    assert_eq!(out.code, 1);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("FAILED account Account 2"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        line.contains(&format!("/subscriptions/{subscription}/cost: data[4].value: expected a number, got null")),
        "{line}"
    );
    let events = sim.accepted_events();
    assert!(events.iter().all(|e| e["accountName"] != "Account 2"), "no event of the invalid account");
    assert_same_events(&of_type(&events, "dps.cost2.booked"), &expected_cost_events(&scenario, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_keeps_exporting_until_sigterm_and_then_exits_cleanly() {
    let scenario = generate(1, 5, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let setup = write_config(&scenario, &sim, &ConfigOptions::default());
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dtcost"))
        .args(["run", "--every", "10m", "--config"])
        .arg(&setup.config)
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .envs(setup.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sim.accepted_events().len() < 6 {
        assert!(std::time::Instant::now() < deadline, "the first run never finished");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let out =
        tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output()).await.unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopping (signal received between runs)"), "{stderr}");
    assert_no_secret(&scenario, &stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn simulate_writes_private_secret_files_and_stops_promptly_on_sigterm() {
    let out = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_dtcost"))
        .args(["simulate", "--accounts", "2", "--days", "5", "--clusters", "1", "--out"])
        .arg(out.path())
        .kill_on_drop(true) // a failed assertion leaves no simulator behind
        .env_clear()
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let config = out.path().join("dtcost.toml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !config.exists() {
        assert!(std::time::Instant::now() < deadline, "the config was never written");
        assert!(child.try_wait().unwrap().is_none(), "simulate exited early");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&config), 0o600, "dtcost.toml");
        assert_eq!(mode(&out.path().join("secrets")), 0o700, "secrets/");
        let secrets: Vec<_> =
            std::fs::read_dir(out.path().join("secrets")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(secrets.len(), 1 + 2 + 1, "the ingest token, 2 account secrets, a cluster token");
        for secret in secrets {
            assert_eq!(mode(&secret), 0o600, "{}", secret.display());
        }
    }
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait()).await;
    let status = stopped.expect("simulate stops within 5 s of SIGTERM").unwrap();
    assert_eq!(status.code(), Some(0));
}
