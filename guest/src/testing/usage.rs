//! Usage in the account job: read with the rate cards, priced, delivered once; a bad price fails
//! the usage alone, naming the capability, and the daily cost is still delivered.

use super::fixtures::*;
use crate::job::export_account;
use crate::wit::{AccountPlan, UsagePlan};

const USAGE: &str = "GET https://api/sub/v2/accounts/acc/subscriptions/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/usage";
const RATE_CARDS: &str = "GET https://api/sub/v1/accounts/acc/rate-cards";
/// Day 21: 1 = 4 GiB x 0.25; day 22: 2 = 4 GiB x 0.25 + 1.5 (not in usage).
const USAGE_BODY: &str = r#"{"data":[
    {"capabilityKey":"LOGS","capabilityName":"Logs","startTime":"2026-11-21T00:00:00Z","endTime":"2026-11-22T00:00:00Z","value":4,"unitMeasure":"GiB"},
    {"capabilityKey":"LOGS","capabilityName":"Logs","startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":2,"unitMeasure":"GiB"}],
    "lastModifiedTime":"x"}"#;

fn rate_cards(price: &str) -> String {
    format!(
        r#"[{{"quoteNumber":"Q-1","startTime":"2026-01-01T00:00:00Z","endTime":"2026-12-31T23:59:59Z","currencyCode":"USD",
        "capabilities":[{{"key":"LOGS","name":"Logs","quotedPrice":"{price}","quotedUnitOfMeasure":"GiB","price":"{price}",
        "startTime":"2026-01-01T00:00:00Z","endTime":"2026-12-31T23:59:59Z"}}]}}]"#
    )
}

fn with_usage(price: &str) -> (super::fake_api::FakeApi, AccountPlan) {
    let mut routes = happy_routes(ONE_ACTIVE);
    routes.push((USAGE.into(), 200, USAGE_BODY.into()));
    routes.push((RATE_CARDS.into(), 200, rate_cards(price)));
    let mut plan = plan(None);
    plan.usage = Some(UsagePlan::default());
    (api(&routes), plan)
}

#[test]
fn usage_is_priced_reconciled_and_not_sent_again() {
    let (mut api, plan) = with_usage("0.25");
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let usage: Vec<(String, String, f64)> = api
        .posted_events()
        .concat()
        .into_iter()
        .filter(|e| e["event.type"] == "dps.usage.booked")
        .map(|e| {
            (
                e["startTime"].as_str().unwrap().to_owned(),
                e["capabilityKey"].as_str().unwrap().to_owned(),
                e["cost"].as_f64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("2026-11-21T00:00:00Z", "LOGS", 1.0),
        ("2026-11-22T00:00:00Z", "LOGS", 0.5),
        ("2026-11-22T00:00:00Z", "UNATTRIBUTED", 1.5),
    ];
    let expected: Vec<(String, String, f64)> =
        expected.iter().map(|(d, k, c)| ((*d).into(), (*k).into(), *c)).collect();
    assert_eq!(usage, expected);
    assert!(
        api.together.iter().any(|group| group.contains(&USAGE.to_owned()) && group.contains(&RATE_CARDS.to_owned())),
        "usage and rate cards are asked for together"
    );

    let (mut again, mut plan) = with_usage("0.25");
    plan.state = report.state;
    let report = export_account(&plan, &mut again, &secrets()).unwrap();
    assert_eq!(report.events_sent, 0, "{report:?}");
    assert_eq!(report.events_skipped, 2 + 3);
}

#[test]
fn a_bad_price_fails_the_usage_naming_the_capability_and_the_cost_is_still_delivered() {
    let (mut api, plan) = with_usage("n/a");
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(failure.request, RATE_CARDS);
    assert!(
        failure.message.starts_with("usage not exported") && failure.message.contains("capability LOGS"),
        "{}",
        failure.message
    );
    let posted = api.posted_events().concat();
    assert_eq!(posted.iter().filter(|e| e["event.type"] == "dps.cost2.booked").count(), 2);
    assert!(posted.iter().all(|e| e["event.type"] != "dps.usage.booked"));
    assert!(report.state.unwrap().usage.is_none(), "nothing of it delivered");
}
