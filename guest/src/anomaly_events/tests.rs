//! The `dps.cost.anomaly` events: which series, which days, what they say.

use super::*;
use crate::wit::CostRecord;

/// 2026-09-07, a Monday.
const MONDAY: i64 = 20_703;

fn context() -> EventContext {
    EventContext { provider: "dps4ma.ingester".into(), account_uuid: "acc".into(), account_name: "ACME".into() }
}

fn record(day: i64, value: f64) -> CostRecord {
    CostRecord {
        start_time: format_rfc3339(day * DAY_MS),
        end_time: format_rfc3339((day + 1) * DAY_MS),
        value,
        currency_code: "EUR".into(),
        last_booking_date: None,
    }
}

/// Ten weeks of a steady weekly pattern (100 on weekdays, 60 at weekends, ±5 % by a fixed
/// pattern), with `change` applied to each day.
fn costs(change: impl Fn(i64, f64) -> f64) -> Vec<CostRecord> {
    (0..70)
        .map(|i| {
            let base = if i % 7 >= 5 { 60.0 } else { 100.0 };
            let wobble = 1.0 + 0.05 * (((i * 37) % 11) as f64 / 5.0 - 1.0);
            record(MONDAY + i, change(MONDAY + i, base * wobble))
        })
        .collect()
}

fn build(costs: &[CostRecord], rows: Option<&[EnvironmentCost]>, plan: &AnomalyPlan) -> Vec<AnomalyEvent> {
    let context = context();
    let subject = Subject { context: &context, subscription_uuid: "sub", currency: "EUR" };
    let mut all = vec![account_series(costs)];
    all.extend(environment_series(rows.unwrap_or_default(), &EnvironmentNames::new()));
    anomaly_events(&subject, &all, plan, MONDAY + 69).expect("valid plan")
}

fn json(event: &AnomalyEvent) -> serde_json::Value {
    serde_json::from_str(&event.event).unwrap()
}

#[test]
fn a_spike_becomes_one_account_event_with_the_agreed_fields() {
    let spike = MONDAY + 68; // a Saturday, 2026-11-14
    let built = build(&costs(|day, v| if day == spike { v * 4.0 } else { v }), None, &AnomalyPlan::default());
    assert_eq!(built.len(), 1, "{built:#?}");
    let event = json(&built[0]);
    assert_eq!(built[0].key, "account||spike|2026-11-14");
    let keys: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = [
        "event.id",
        "event.type",
        "event.provider",
        "timestamp",
        "subscriptionUuid",
        "accountUuid",
        "accountName",
        "scope",
        "startTime",
        "endTime",
        "kind",
        "cost",
        "expected",
        "deviation",
        "deviationPercent",
        "threshold",
        "currency",
        "severity",
        "message",
    ];
    // serde_json's map is sorted by key.
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!((event["event.type"].as_str(), event["scope"].as_str()), (Some(COST_ANOMALY), Some("account")));
    assert_eq!(
        (event["startTime"].as_str(), event["endTime"].as_str()),
        (Some("2026-11-14T00:00:00Z"), Some("2026-11-15T00:00:00Z"))
    );
    assert_eq!((event["kind"].as_str(), event["severity"].as_str()), (Some("spike"), Some("WARN")));
    let (cost, expected) = (event["cost"].as_f64().unwrap(), event["expected"].as_f64().unwrap());
    assert!((event["deviation"].as_f64().unwrap() - (cost - expected)).abs() < 1e-5);
    assert!(event["deviationPercent"].as_f64().unwrap() > 200.0);
    let message = event["message"].as_str().unwrap();
    assert!(message.starts_with("account ACME cost") && message.contains("on 2026-11-14"), "{message}");
    assert!(!message.contains("level shift"), "{message}");
}

#[test]
fn the_same_finding_has_the_same_event_id_on_every_run() {
    let spike = |day: i64, v: f64| if day == MONDAY + 68 { v * 4.0 } else { v };
    let first = build(&costs(spike), None, &AnomalyPlan::default());
    let again = build(&costs(spike), None, &AnomalyPlan::default());
    assert_eq!(crate::events::event_id_of(&first[0].event), crate::events::event_id_of(&again[0].event));
}

#[test]
fn a_step_is_one_finding_whose_message_says_it_is_a_level_shift() {
    // From a Wednesday on, 60 % more: the weeks that grow are the step's, not findings of their own.
    let built = build(&costs(|day, v| if day >= MONDAY + 58 { v * 1.6 } else { v }), None, &AnomalyPlan::default());
    assert_eq!(built.len(), 1, "{built:#?}");
    assert_eq!(built[0].key, "account||spike|2026-11-04");
    assert!(built[0].message.contains("level shift"), "{}", built[0].message);
}

#[test]
fn only_findings_within_the_judged_days_are_reported() {
    let spike = |day: i64, v: f64| if day == MONDAY + 33 || day == MONDAY + 68 { v * 4.0 } else { v };
    let recent = build(&costs(spike), None, &AnomalyPlan::default());
    assert_eq!(recent.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["account||spike|2026-11-14"]);
    let wider = build(&costs(spike), None, &AnomalyPlan { days: Some(40), ..AnomalyPlan::default() });
    assert_eq!(wider.len(), 2, "{wider:#?}");
    assert_eq!(first_judged_day(&AnomalyPlan::default(), MONDAY + 69), MONDAY + 35);
}

#[test]
fn disabled_or_clean_gives_nothing_and_week_growth_has_its_own_threshold() {
    assert_eq!(build(&costs(|_, v| v), None, &AnomalyPlan::default()), []);
    // The last two weeks 8 % above the ones before: under the default 10 %, over a threshold of 5 %.
    let grown = costs(|day, v| if day >= MONDAY + 56 { v * 1.08 } else { v });
    assert_eq!(build(&grown, None, &AnomalyPlan::default()), []);
    let built = build(&grown, None, &AnomalyPlan { week_over_week_percent: Some(5.0), ..AnomalyPlan::default() });
    assert_eq!(built.len(), 1, "{built:#?}");
    assert_eq!(json(&built[0])["kind"], "week-over-week");
    assert_eq!(
        (json(&built[0])["startTime"].as_str(), json(&built[0])["endTime"].as_str()),
        (Some("2026-11-02T00:00:00Z"), Some("2026-11-09T00:00:00Z"))
    );
}

fn row(day: i64, environment: &str, capability: &str, value: f64) -> EnvironmentCost {
    EnvironmentCost {
        cluster_id: None,
        environment_id: environment.into(),
        capability_key: capability.into(),
        capability_name: format!("{capability} name"),
        start_time: format_rfc3339(day * DAY_MS),
        end_time: format_rfc3339((day + 1) * DAY_MS),
        value,
        currency_code: "EUR".into(),
        booking_date: None,
    }
}

#[test]
fn environment_cost_adds_a_series_per_capability_and_per_environment() {
    let spike = MONDAY + 68;
    let totals = costs(|day, v| if day == spike { v * 4.0 } else { v });
    // Two environments x two capabilities share each day; the spike is all env-a's LOGS.
    let rows: Vec<EnvironmentCost> = totals
        .iter()
        .enumerate()
        .flat_map(|(i, total)| {
            let day = MONDAY + i as i64;
            let usual = if day == spike { total.value / 4.0 } else { total.value };
            let extra = total.value - usual;
            [
                row(day, "env-a", "LOGS", usual / 4.0 + extra),
                row(day, "env-a", "HOST", usual / 4.0),
                row(day, "env-b", "LOGS", usual / 4.0),
                row(day, "env-b", "HOST", usual / 4.0),
            ]
        })
        .collect();
    let built = build(&totals, Some(&rows), &AnomalyPlan::default());
    let keys: Vec<&str> = built.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        ["account||spike|2026-11-14", "capability|LOGS|spike|2026-11-14", "environment|env-a|spike|2026-11-14"]
    );
    let capability = json(&built[1]);
    assert_eq!(
        (capability["capabilityKey"].as_str(), capability["capabilityName"].as_str()),
        (Some("LOGS"), Some("LOGS name"))
    );
    assert!(capability.get("environmentId").is_none());
    let environment = json(&built[2]);
    assert_eq!(environment["environmentId"], "env-a");
    assert!(environment.get("capabilityKey").is_none() && environment.get("environmentName").is_none());
}

#[test]
fn spend_where_none_is_expected_has_no_percentage() {
    // Weekends off; then spend on the last Sunday.
    let sunday = MONDAY + 69;
    let built = build(
        &costs(|day, v| if (day - MONDAY) % 7 >= 5 { if day == sunday { 80.0 } else { 0.0 } } else { v }),
        None,
        &AnomalyPlan::default(),
    );
    assert_eq!(built.len(), 1, "{built:#?}");
    let event = json(&built[0]);
    assert_eq!(event["expected"], 0);
    assert!(event.get("deviationPercent").is_none(), "{event}");
}

#[test]
fn series_too_short_for_any_finding_are_not_kept() {
    // Every row a capability of its own on one day (a bound-sized walk): nothing to judge.
    let rows: Vec<EnvironmentCost> = (0..1000).map(|i| row(MONDAY, "env-a", &format!("C{i}"), 1.0)).collect();
    let kept = environment_series(&rows, &EnvironmentNames::new());
    assert_eq!(kept.len(), 0, "one day is too short, for the capabilities and the environment alike");
    let long: Vec<EnvironmentCost> = (0..min_series_days() as i64)
        .flat_map(|day| [row(MONDAY + day, "env-a", "LOGS", 1.0), row(MONDAY + day, "env-b", "LOGS", 2.0)])
        .collect();
    let kept = environment_series(&long, &EnvironmentNames::new());
    assert_eq!(kept.len(), 3, "LOGS, env-a and env-b");
    assert!(kept[0].days.iter().all(|day| day.value == 3.0), "LOGS sums both environments a day");
}
