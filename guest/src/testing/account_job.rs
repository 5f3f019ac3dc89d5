//! The account job end to end against the fake API: which subscription, what is read, what comes back unsent.

use std::collections::HashMap;

use super::fake_api::FakeApi;
use super::fixtures::*;
use crate::error::ExportError;
use crate::http;
use crate::job::export_account;

#[test]
fn an_account_is_read_transformed_and_its_cost_ingested_in_five_reads_and_one_post() {
    // (token, list, then details, cost and forecast together: four round trips)
    let list = r#"{"data":[{"uuid":"old","type":"REGULAR","name":"o","status":"EXPIRED","startTime":"2025-01-01"},
                           {"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE","startTime":"2026-01-01"}]}"#;
    let mut api = api(&happy_routes(list));
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!((report.events_built, report.events_sent, report.events_accepted, report.requests), (2, 2, 2, 6));
    assert_eq!(report.subscription_uuid.as_deref(), Some("5e1a0c2d-7b3f-4c1e-9a2d-000000000001"));
    assert_eq!(report.newest_day.as_deref(), Some("2026-11-22T00:00:00Z"));
    let token = String::from_utf8(api.sent[0].body.clone()).unwrap();
    assert!(token.contains("grant_type=client_credentials") && token.contains("scope=account-uac-read"));
    assert!(token.contains("resource=urn%3Adtaccount%3Aacc"));
    assert!(api.sent[1].headers.contains(&("authorization", "Bearer tok".into())));
    let ingest = api.sent.last().unwrap();
    assert!(ingest.headers.contains(&("authorization", "Api-Token dt0c01.PUB.token-secret".into())));
    let body: Vec<serde_json::Value> = serde_json::from_slice(&ingest.body).unwrap();
    assert_eq!(body.len(), 2, "the status is the host's to send (one per subscription)");
    assert_eq!(body[0]["costToDate"], 1);
    assert_eq!(body[1]["costToDate"], 3);
    assert!(report.subscription_outlook.unwrap().status_event.contains("dps.subscription.status"));
}

#[test]
fn details_cost_and_forecast_go_out_together_after_the_list() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    export_account(&plan(None), &mut api, &secrets()).unwrap();
    let expected = [
        format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001"),
        format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost"),
        format!("{LIST}/forecast"),
    ];
    assert_eq!(api.together, [expected.to_vec()]);
}

#[test]
fn no_active_regular_subscription_is_an_error_naming_the_account() {
    let list = r#"{"data":[{"uuid":"old","type":"REGULAR","name":"o","status":"EXPIRED"}]}"#;
    let error = export_account(&plan(None), &mut api(&happy_routes(list)), &secrets()).unwrap_err();
    let ExportError::NoSubscription(message) = error else { panic!("{error:?}") };
    assert!(
        message.contains("account ACME (acc)") && message.contains("old (type REGULAR, status EXPIRED)"),
        "{message}"
    );
}

#[test]
fn of_several_active_subscriptions_the_newest_is_chosen_and_said() {
    let list = r#"{"data":[{"uuid":"s0","type":"REGULAR","name":"a","status":"ACTIVE","startTime":"2025-06-01"},
                           {"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"b","status":"ACTIVE","startTime":"2026-01-01"}]}"#;
    let report = export_account(&plan(None), &mut api(&happy_routes(list)), &secrets()).unwrap();
    assert_eq!(report.subscription_uuid.as_deref(), Some("5e1a0c2d-7b3f-4c1e-9a2d-000000000001"));
    assert!(
        report.notes[0].contains("2 ACTIVE REGULAR subscriptions; exporting 5e1a0c2d-7b3f-4c1e-9a2d-000000000001"),
        "{:?}",
        report.notes
    );
}

#[test]
fn a_hybrid_account_that_cannot_read_shared_details_still_exports_its_cost() {
    let mut routes = happy_routes("{}");
    routes[2].1 = 404;
    routes[2].2 = r#"{"code":404,"message":"not found","errorsMap":{}}"#.into();
    let report =
        export_account(&plan(Some("5e1a0c2d-7b3f-4c1e-9a2d-000000000001")), &mut api(&routes), &secrets()).unwrap();
    assert_eq!(report.events_built, 2, "cost only, no status event");
    assert!(report.notes[0].contains("not readable"));
}

#[test]
fn an_invalid_cost_record_stops_the_account_naming_request_record_and_field() {
    let mut routes = happy_routes(
        r#"{"data":[{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#,
    );
    routes[3].2 =
        r#"{"data":[{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":null}]}"#.into();
    let mut api = api(&routes);
    let error = export_account(&plan(None), &mut api, &secrets()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid response: GET https://api/sub/v2/accounts/acc/subscriptions/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost: data[0].value: expected a number, got null"
    );
    assert!(api.sent.iter().all(|r| r.method == http::Method::Get || r.url.contains("token")), "nothing ingested");
}

#[test]
fn a_subscription_uuid_that_is_not_a_uuid_is_refused_before_it_becomes_a_path() {
    let list = r#"{"data":[{"uuid":"../../../x?y=1","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#;
    let mut api = api(&happy_routes(list));
    let error = export_account(&plan(None), &mut api, &secrets()).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"invalid response: GET https://api/sub/v2/accounts/acc/subscriptions: data[0].uuid: "../../../x?y=1" is not a UUID"#
    );
    assert_eq!(api.sent.iter().filter(|r| r.url.contains("/subscriptions/")).count(), 0, "no request used it");

    let mut api = self::api(&happy_routes(ONE_ACTIVE));
    let error = export_account(&plan(Some("s1/../cost")), &mut api, &secrets()).unwrap_err();
    assert!(matches!(&error, ExportError::NoSubscription(m) if m.contains("\"s1/../cost\" is not a UUID")), "{error}");
    assert!(api.sent.iter().all(|r| !r.url.contains("/subscriptions")));
}

#[test]
fn the_status_and_every_crossed_alert_come_back_unsent_for_the_host_to_choose() {
    let nearly_spent = DETAILS.replace(r#""used":3"#, r#""used":92"#);
    let mut routes = happy_routes(ONE_ACTIVE);
    routes[2].2 = nearly_spent.clone();
    let mut api = api(&routes);
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    let outlook = report.subscription_outlook.expect("details were readable");
    assert_eq!(
        (outlook.subscription_uuid.as_str(), outlook.period_start.as_str()),
        ("5e1a0c2d-7b3f-4c1e-9a2d-000000000001", "2026-01-01")
    );
    assert!(outlook.status_event.contains("dps.subscription.status"));
    let keys: Vec<&str> = outlook.alerts.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["used:75", "used:90"]);
    assert!(outlook.alerts[1].message.contains("past the 90 % threshold"), "{}", outlook.alerts[1].message);
    let posted = api.posted_events().concat();
    assert!(posted.iter().all(|e| e["event.type"] == "dps.cost2.booked"), "the job sends only cost: {posted:?}");
    assert!(report.alerts.is_empty());
}

#[test]
fn a_missing_secret_names_its_config_key() {
    let error = export_account(&plan(None), &mut FakeApi::new(&[]), &HashMap::new()).unwrap_err();
    assert_eq!(error.to_string(), "missing config: config key `account-client-secret` is not set");
}
