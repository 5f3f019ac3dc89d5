//! Delivery across runs in the account job: new or changed days only, the frozen window.

use super::fixtures::*;
use crate::job::export_account;

#[test]
fn a_rerun_sends_only_new_or_changed_days() {
    let first = export_account(&plan(None), &mut api(&happy_routes(ONE_ACTIVE)), &secrets()).unwrap();
    let state = first.state.unwrap();
    assert_eq!(state.cost.as_ref().unwrap().sent.len(), 2);

    // Same data: nothing goes.
    let mut plan = plan(None);
    plan.state = Some(state.clone());
    let mut again = api(&happy_routes(ONE_ACTIVE));
    let report = export_account(&plan, &mut again, &secrets()).unwrap();
    assert_eq!((report.events_built, report.events_skipped, report.events_sent), (2, 2, 0));
    assert_eq!(report.state.as_ref(), Some(&state));

    // A late booking on the older day changes it and the running sum of the newer one.
    let mut changed = happy_routes(ONE_ACTIVE);
    changed[3].2 = COST.replace(r#""value":1,"#, r#""value":1.5,"#);
    let mut late = api(&changed);
    let report = export_account(&plan, &mut late, &secrets()).unwrap();
    assert_eq!((report.events_skipped, report.events_sent), (0, 2));
    let posted = late.posted_events();
    assert!(posted[0].iter().all(|e| e["exportedAt"] == "2026-11-23T00:00:00Z"));
}

#[test]
fn days_before_the_window_are_final_once_delivered() {
    let mut plan = plan(None);
    plan.window_days = Some(1);
    let first = export_account(&plan, &mut api(&happy_routes(ONE_ACTIVE)), &secrets()).unwrap();
    let state = first.state.unwrap();
    let cost = state.cost.as_ref().unwrap();
    assert_eq!(cost.frozen_before.as_deref(), Some("2026-11-22T00:00:00Z"));
    assert_eq!(cost.sent.len(), 1, "only the window's day is remembered by id");

    // The older day changes, but it is final: only the newer day (its running sum changed) goes.
    plan.state = Some(state);
    let mut changed = happy_routes(ONE_ACTIVE);
    changed[3].2 = COST.replace(r#""value":1,"#, r#""value":1.5,"#);
    let mut late = api(&changed);
    let report = export_account(&plan, &mut late, &secrets()).unwrap();
    assert_eq!((report.events_skipped, report.events_sent), (1, 1));
}

#[test]
fn an_undelivered_old_day_is_not_frozen() {
    let mut plan = plan(None);
    plan.window_days = Some(1);
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 403, "{}", &[]);
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert_eq!(report.state.unwrap().cost.unwrap().frozen_before.as_deref(), Some("2026-11-21T00:00:00Z"));
}
