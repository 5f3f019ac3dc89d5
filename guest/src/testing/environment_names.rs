//! Environment names in the account job: asked for with a token of their own, and one note
//! instead of a failure when the client may not read them.

use super::fixtures::*;
use crate::job::export_account;

const ENVIRONMENTS: &str = "GET https://api/env/v2/accounts/acc/environments";

fn environment_events(api: &super::fake_api::FakeApi) -> Vec<serde_json::Value> {
    api.posted_events().concat().into_iter().filter(|e| e["event.type"] == "dps.cost.environment.booked").collect()
}

fn names_notes(notes: &[String]) -> Vec<&String> {
    notes.iter().filter(|note| note.contains("environment names left out")).collect()
}

#[test]
fn names_are_read_once_with_a_token_for_account_env_read_only() {
    let (mut api, plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
    api.then(
        ENVIRONMENTS,
        200,
        r#"{"data":[{"id":"abc12345","name":"ACME Production","active":true,"url":"https://abc12345.live.dynatrace.com"}]}"#,
        &[],
    );
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert!(names_notes(&report.notes).is_empty(), "{:?}", report.notes);
    let events = environment_events(&api);
    let named: Vec<(&str, Option<&str>)> =
        events.iter().map(|e| (e["environmentId"].as_str().unwrap(), e["environmentName"].as_str())).collect();
    assert!(named.contains(&("abc12345", Some("ACME Production"))), "{named:?}");
    assert!(named.contains(&("f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b", None)), "unknown: absent, {named:?}");

    let scopes: Vec<String> = api
        .sent
        .iter()
        .filter(|r| r.url == "https://sso/token")
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .filter(|body| body.contains("account-env-read"))
        .collect();
    assert_eq!(scopes.len(), 1, "one token for the names");
    assert!(!scopes[0].contains("account-uac-read"), "asked for alone: {}", scopes[0]);
    assert_eq!(api.sent.iter().filter(|r| r.describe() == ENVIRONMENTS).count(), 1);
}

#[test]
fn a_403_for_the_names_leaves_one_note_naming_the_scope_and_the_ids() {
    let (mut api, plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
    api.then(ENVIRONMENTS, 403, r#"{"code":403,"message":"Token is missing required scope"}"#, &[]);
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let notes = names_notes(&report.notes);
    assert_eq!(notes.len(), 1, "{:?}", report.notes);
    assert!(notes[0].contains("HTTP 403") && notes[0].contains("the scope account-env-read"), "{}", notes[0]);
    let events = environment_events(&api);
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e.get("environmentName").is_none() && e["environmentId"].is_string()));
}

#[test]
fn an_sso_refusing_the_scope_leaves_one_note_and_the_account_exports() {
    let (mut api, plan) = with_environment_cost(happy_routes(ONE_ACTIVE));
    // The account token first (the walk), then the SSO refuses the names' scope.
    let token = api.routes[TOKEN][0].clone();
    api.routes.insert(
        TOKEN.to_owned(),
        vec![
            token.clone(),
            (400, r#"{"error":"invalid_scope","error_description":"scope not allowed"}"#.into(), vec![]),
            token,
        ],
    );
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let notes = names_notes(&report.notes);
    assert_eq!(notes.len(), 1, "{:?}", report.notes);
    assert!(notes[0].contains("the SSO refused") && notes[0].contains("the scope account-env-read"), "{}", notes[0]);
    assert!(!environment_events(&api).is_empty());
}
