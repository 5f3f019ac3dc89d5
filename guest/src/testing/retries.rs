//! Retries in the jobs: backoff, `Retry-After` and `X-RateLimit-Reset`, the time budget, what is never retried.

use super::fixtures::*;
use crate::error::ExportError;
use crate::job::export_account;
use crate::wit::RetryPolicy;

#[test]
fn transient_failures_are_retried_with_backoff_and_retry_after() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    let cost = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost");
    api.routes.remove(&cost);
    api.then(&cost, 503, "busy", &[])
        .then(&cost, 0, "", &[])
        .then(&cost, 429, "{}", &[("retry-after", "7")])
        // A body cut short reaches the job as a transport failure (the component's transport
        // sees fewer bytes than the Content-Length), like a dropped connection.
        .then(&cost, 0, "", &[])
        .then(&cost, 200, COST, &[]);
    let mut plan = plan(None);
    plan.retry = RetryPolicy {
        initial_delay_ms: Some(100),
        max_delay_ms: Some(1000),
        multiplier: Some(2.0),
        max_elapsed_ms: Some(60_000),
        attempt_timeout_ms: Some(0),
    };
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert_eq!((report.events_accepted, report.retries, report.throttled), (2, 4, 1));
    assert_eq!(api.slept.len(), 4);
    assert!((50..=100).contains(&api.slept[0]), "first backoff: {:?}", api.slept);
    assert!((100..=200).contains(&api.slept[1]), "second backoff: {:?}", api.slept);
    assert_eq!(api.slept[2], 7000, "Retry-After is honoured");
}

#[test]
fn a_429_without_retry_after_waits_for_the_rate_limit_reset() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    let reset_micros = (1_700_000_000_000u64 + 2_500) * 1000;
    api.then(INGEST, 429, "{}", &[("x-ratelimit-reset", &reset_micros.to_string())]).then(INGEST, 202, "", &[]);
    let mut plan = plan(None);
    plan.retry = FAST;
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert_eq!(report.events_accepted, 2);
    assert_eq!(api.slept, vec![2_500]);
}

/// A backoff of 100 to 200 ms, then 200 to 400 ms, ...
const FAST: RetryPolicy = RetryPolicy {
    initial_delay_ms: Some(200),
    max_delay_ms: Some(1600),
    multiplier: Some(2.0),
    max_elapsed_ms: Some(60_000),
    attempt_timeout_ms: Some(0),
};

#[test]
fn a_throttle_asking_for_no_wait_or_a_reset_already_past_still_backs_off() {
    let now_micros = 1_700_000_000_000u64 * 1000;
    for (header, value) in [
        ("retry-after", "0".to_owned()),
        // In the past, in the documented microseconds.
        ("x-ratelimit-reset", (now_micros - 5_000_000).to_string()),
        // In the past, in seconds (a proxy's), and far in the past read as microseconds.
        ("x-ratelimit-reset", (now_micros / 1_000_000 - 5).to_string()),
        ("x-ratelimit-reset", "1".to_owned()),
    ] {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 429, "{}", &[(header, &value)]).then(INGEST, 429, "{}", &[(header, &value)]).then(
            INGEST,
            202,
            "",
            &[],
        );
        let mut plan = plan(None);
        plan.retry = FAST;
        let report = export_account(&plan, &mut api, &secrets()).unwrap();
        assert_eq!((report.events_accepted, report.throttled), (2, 2), "{header}: {value}");
        assert!((100..=200).contains(&api.slept[0]), "{header}: {value}: {:?}", api.slept);
        assert!((200..=400).contains(&api.slept[1]), "{header}: {value}: {:?}", api.slept);
    }
}

#[test]
fn a_rate_limit_reset_in_seconds_or_milliseconds_is_read_in_its_unit() {
    let now_millis = 1_700_000_000_000u64;
    for value in [(now_millis / 1000 + 3).to_string(), (now_millis + 3000).to_string()] {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, 429, "{}", &[("x-ratelimit-reset", &value)]).then(INGEST, 202, "", &[]);
        let mut plan = plan(None);
        plan.retry = FAST;
        export_account(&plan, &mut api, &secrets()).unwrap();
        assert_eq!(api.slept, vec![3000], "{value}");
    }
}

#[test]
fn retries_stop_at_the_time_budget_and_say_so() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 502, r#"{"error":{"code":502,"message":"Bad Gateway"}}"#, &[]);
    let mut plan = plan(None);
    plan.retry = RetryPolicy {
        initial_delay_ms: Some(1000),
        max_delay_ms: Some(4000),
        multiplier: Some(2.0),
        max_elapsed_ms: Some(10_000),
        attempt_timeout_ms: Some(0),
    };
    let report = export_account(&plan, &mut api, &secrets()).unwrap();
    assert_eq!(report.failures[0].status, Some(502));
    assert_eq!(report.failures[0].events_not_sent, 2);
    assert!(api.slept.iter().sum::<u64>() <= 10_000, "{:?}", api.slept);
    assert!(report.retries >= 2);
    assert!(report.state.unwrap().cost.unwrap().sent.is_empty(), "nothing is remembered as sent");
}

#[test]
fn a_complete_2xx_whose_body_is_not_json_is_not_retried() {
    for body in [r#"{"data":[{"startTime":"2026-11"#, "<html>maintenance</html>", "1e999", "[[[[[[[[[[[[[[["] {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        let cost = format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost");
        api.routes.remove(&cost);
        api.then(&cost, 200, body, &[]).then(&cost, 200, COST, &[]);
        let error = export_account(&plan(None), &mut api, &secrets()).unwrap_err();
        assert!(matches!(error, ExportError::InvalidResponse(_)), "{body}: {error}");
        assert!(api.slept.is_empty(), "{body}: the same bytes would come again: {:?}", api.slept);
    }
}

#[test]
fn permanent_failures_are_not_retried() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 403, r#"{"error":{"code":403,"message":"Token is missing required scope."}}"#, &[]);
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!((report.retries, api.slept.len()), (0, 0));
}
