//! Tokens in the jobs: SSO refusals, refresh before expiry, a fresh token on every attempt, 401s.

use super::fixtures::*;
use crate::error::ExportError;
use crate::job::export_account;
use crate::wit::FailureKind;

#[test]
fn sso_rejections_surface_the_error_description() {
    let mut routes = happy_routes("{}");
    routes[0] = (
        TOKEN.into(),
        400,
        r#"{"errorCode":400,"error":"invalid_client","error_description":"Invalid client credentials"}"#.into(),
    );
    let error = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap_err();
    let ExportError::Authentication(failure) = error else { panic!("{error:?}") };
    assert_eq!((failure.status, failure.oauth_error.as_deref()), (400, Some("invalid_client")));
    assert_eq!(failure.message, "Invalid client credentials");
}

#[test]
fn an_sso_that_echoes_the_posted_form_does_not_get_the_secret_into_the_error() {
    let mut routes = happy_routes("{}");
    routes[0] = (
        TOKEN.into(),
        401,
        r#"{"error":"invalid_client","error_description":"bad: grant_type=client_credentials&client_id=dt0s02.X&client_secret=client-secret-value"}"#.into(),
    );
    let error = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap_err();
    assert!(!format!("{error:?}").contains("client-secret-value"), "{error:?}");
}

#[test]
fn an_expired_token_is_replaced_once_on_401() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(LIST);
    api.then(LIST, 401, r#"{"code":401,"message":"Token expired","errorsMap":{}}"#, &[]).then(
        LIST,
        200,
        ONE_ACTIVE,
        &[],
    );
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!(report.events_accepted, 2);
    assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/token")).count(), 2);
}

#[test]
fn tokens_are_refreshed_before_they_expire() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(TOKEN);
    api.then(TOKEN, 200, r#"{"access_token":"t1","expires_in":1}"#, &[]).then(
        TOKEN,
        200,
        r#"{"access_token":"t2","expires_in":300}"#,
        &[],
    );
    let details = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001");
    api.routes.remove(&details);
    // A 503 on the details (and on the cost, sent with it) makes the job wait at least 2 s:
    // longer than the first token lives.
    api.then(&details, 503, "", &[]).then(&details, 200, DETAILS, &[]);
    let cost = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost");
    api.routes.remove(&cost);
    api.then(&cost, 503, "", &[]).then(&cost, 200, COST, &[]);
    let mut plan = plan(None);
    plan.retry.initial_delay_ms = Some(4000);
    export_account(&plan, &mut api, &secrets()).unwrap();
    let last_cost = api.sent.iter().rev().find(|r| r.url.ends_with("/cost")).unwrap();
    assert!(last_cost.headers.contains(&("authorization", "Bearer t2".into())), "{:?}", last_cost.headers);
}

#[test]
fn a_retried_request_carries_a_fresh_token_on_every_attempt() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(TOKEN);
    api.then(TOKEN, 200, r#"{"access_token":"t1","expires_in":2}"#, &[])
        .then(TOKEN, 200, r#"{"access_token":"t2","expires_in":2}"#, &[])
        .then(TOKEN, 200, r#"{"access_token":"t3","expires_in":2}"#, &[]);
    let details = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001");
    api.routes.remove(&details);
    // Backoff of 4 s between the attempts of one request: each token is dead before the next.
    api.then(&details, 503, "", &[]).then(&details, 503, "", &[]).then(&details, 200, DETAILS, &[]);
    let mut plan = plan(None);
    plan.retry.initial_delay_ms = Some(4000);
    plan.retry.multiplier = Some(1.0);
    export_account(&plan, &mut api, &secrets()).unwrap();
    let attempts: Vec<&str> = api
        .sent
        .iter()
        .filter(|r| r.url.ends_with("/5e1a0c2d-7b3f-4c1e-9a2d-000000000001"))
        .map(|r| r.headers.iter().find(|(n, _)| *n == "authorization").map_or("", |(_, v)| v.as_str()))
        .collect();
    assert_eq!(attempts.len(), 3);
    assert_ne!(attempts[0], attempts[1], "the second attempt must not reuse the first's expired token");
    assert_ne!(attempts[1], attempts[2], "nor the third the second's");
}

#[test]
fn a_401_after_a_refresh_refreshes_again_within_the_budget() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(LIST);
    let expired = r#"{"code":401,"message":"Token expired","errorsMap":{}}"#;
    api.then(LIST, 401, expired, &[]).then(LIST, 401, expired, &[]).then(LIST, 200, ONE_ACTIVE, &[]);
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!(report.events_accepted, 2);
    assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/token")).count(), 3);
}

#[test]
fn fresh_tokens_refused_three_times_are_unauthorized_not_expired() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(LIST);
    api.then(LIST, 401, r#"{"code":401,"message":"The account in the path does not match","errorsMap":{}}"#, &[]);
    let mut plan = plan(None);
    plan.retry.initial_delay_ms = Some(10);
    let Err(ExportError::Request(failure)) = export_account(&plan, &mut api, &secrets()) else { panic!() };
    assert_eq!(failure.kind, FailureKind::Unauthorized);
    assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/token")).count(), 3);
}

#[test]
fn a_stale_token_refused_with_no_time_left_is_token_expired() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(TOKEN);
    api.then(TOKEN, 200, r#"{"access_token":"t1","expires_in":300}"#, &[]);
    let details = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001");
    api.routes.remove(&details);
    api.then(&details, 401, r#"{"code":401,"message":"Token expired","errorsMap":{}}"#, &[]);
    let mut plan = plan(None);
    plan.retry.max_elapsed_ms = Some(0);
    let Err(ExportError::Request(failure)) = export_account(&plan, &mut api, &secrets()) else { panic!() };
    assert_eq!(failure.kind, FailureKind::TokenExpired);
}
