//! The v3 environment-cost walk in the account job: windows, pages, reconciliation, its bounds.

use super::fixtures::*;
use crate::job::export_account;
use crate::wit::FailureKind;

#[test]
fn cost_per_environment_is_walked_in_windows_and_pages_and_reconciled() {
    let (mut api, plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let walked: Vec<&str> = api.sent.iter().map(|r| r.url.as_str()).filter(|u| u.contains("/sub/v3/")).collect();
    assert_eq!(walked.len(), 4, "two windows, the second in two pages, one of them retried: {walked:?}");
    assert!(walked[3].ends_with("/environments/cost?page-key=k%2F1%3D"), "later pages send the key alone");
    assert_eq!(report.retries, 1);
    assert_eq!(report.records_read, 2 + 3, "cost days and environment rows");

    // 2 cost days, 3 environment rows and the 0.25 of day 22 no environment claims.
    assert_eq!((report.events_built, report.events_accepted), (6, 6));
    let reconciliation = report.reconciliation.clone().unwrap();
    assert_eq!((reconciliation.days_compared, reconciliation.days_unattributed), (2, 1));
    assert_eq!(reconciliation.unattributed, 0.25);
    let posted = api.posted_events().concat();
    let environments: Vec<(&str, &str, f64)> = posted
        .iter()
        .filter(|e| e["event.type"] == "dps.cost.environment.booked")
        .map(|e| (e["startTime"].as_str().unwrap(), e["environmentId"].as_str().unwrap(), e["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        environments,
        [
            ("2026-11-21T00:00:00Z", "abc12345", 1.0),
            ("2026-11-22T00:00:00Z", "abc12345", 1.5),
            ("2026-11-22T00:00:00Z", "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b", 0.25),
            ("2026-11-22T00:00:00Z", "unattributed", 0.25),
        ]
    );
    assert!(
        posted
            .iter()
            .all(|e| e["exportedAt"] == "2026-11-23T00:00:00Z" || e["event.type"] != "dps.cost.environment.booked")
    );

    // Run again with the state: nothing of it is sent twice.
    let state = report.state.unwrap();
    assert_eq!(state.environment_cost.as_ref().unwrap().sent.len(), 4);
    let (mut again, mut plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
    plan.state = Some(state);
    let report = export_account(&plan, &mut again, &secrets()).unwrap();
    assert_eq!((report.events_built, report.events_skipped, report.events_sent), (6, 6, 0));
}

#[test]
fn a_failed_environment_walk_still_delivers_the_daily_cost_and_says_what_was_not_read() {
    let (mut api, plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
    let next = format!("{V3}?page-key=k%2F1%3D");
    api.routes.remove(&next);
    api.then(&next, 400, r#"{"code":400,"message":"Invalid page key","errorsMap":{}}"#, &[]);
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert_eq!(report.events_accepted, 2, "the cost days still go");
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].status, Some(400));
    assert!(report.failures[0].message.contains("cost per environment not exported: Invalid page key"));
    assert_eq!(report.state.unwrap().environment_cost, None, "nothing is remembered as delivered");
}

#[test]
fn an_endless_page_walk_stops_at_its_row_bound_and_still_delivers_the_daily_cost() {
    let (mut api, plan) = with_endless_pages(2, 2, 3);
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    let walked = api.sent.iter().filter(|r| r.url.contains("/sub/v3/")).count();
    assert_eq!(walked, 4, "2 days x 3 rows: the 4th page of 2 rows passes the bound");
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(failure.kind, FailureKind::LimitExceeded);
    assert!(failure.message.contains("after 8 rows") && failure.message.contains("max-rows-per-day 3"), "{failure:?}");
    assert_eq!(report.events_accepted, 2, "the cost days still go");
    assert!(report.subscription_outlook.is_some(), "and the status and alerts");
}

#[test]
fn an_endless_walk_of_empty_pages_stops_after_a_few() {
    let (mut api, plan) = with_endless_pages(0, 2, 3);
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    let walked = api.sent.iter().filter(|r| r.url.contains("/sub/v3/")).count();
    assert_eq!(walked, 11);
    assert_eq!(report.failures[0].kind, FailureKind::LimitExceeded);
    assert!(report.failures[0].message.contains("11 pages without rows"), "{:?}", report.failures);
    assert_eq!(report.events_accepted, 2);
}

#[test]
fn an_endless_walk_of_small_pages_stops_at_the_pages_its_rows_fill() {
    // One row a page where 1,000 were asked for: 2 x 1,000 rows fill 2 pages, plus the margin.
    let (mut api, plan) = with_endless_pages(1, 1000, 1000);
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    let walked = api.sent.iter().filter(|r| r.url.contains("/sub/v3/")).count();
    assert_eq!(walked, 12, "{:?}", report.failures);
    assert_eq!(report.failures[0].kind, FailureKind::LimitExceeded);
    assert!(report.failures[0].message.contains("after 12 pages"), "{:?}", report.failures);
}
