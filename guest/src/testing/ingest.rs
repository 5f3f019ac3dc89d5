//! Ingest in the jobs: partial success, refused events, OAuth targets, 413 splits, failures counted.

use super::fixtures::*;
use crate::job::export_account;
use crate::wit::{OauthClient, TargetAuth};

#[test]
fn a_partial_ingest_success_resends_only_the_refused_event_then_reports_it() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 400, r#"{"errors":[{"index":1,"id":"","source":"","message":"Invalid event"}]}"#, &[]).then(
        INGEST,
        400,
        r#"{"errors":[{"index":0,"id":"","source":"","message":"Invalid event"}]}"#,
        &[],
    );
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!((report.events_sent, report.events_accepted, report.rejected.len()), (2, 1, 1));
    assert_eq!(report.rejected[0].message, "Invalid event");
    let posts = api.posted_events();
    assert_eq!(posts.len(), 3, "the batch, then the refused event twice more");
    assert_eq!(posts[1], vec![posts[0][1].clone()], "only the refused event is sent again");
    assert_eq!(posts[2], posts[1]);
}

#[test]
fn a_refused_event_accepted_on_its_second_try_counts_once() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 400, r#"{"errors":[{"index":1,"message":"Temporarily unavailable"}]}"#, &[]).then(
        INGEST,
        202,
        "",
        &[],
    );
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!((report.events_accepted, report.rejected.len(), report.failures.len()), (2, 0, 0));
    assert_eq!(report.state.unwrap().cost.unwrap().sent.len(), 2, "both cost days are remembered as delivered");
}

#[test]
fn an_oauth_target_posts_to_the_platform_path_only_on_apps_hosts() {
    for (url, path) in [
        ("https://abc12345.live.dynatrace.com", "https://abc12345.live.dynatrace.com/api/v2/bizevents/ingest"),
        ("https://managed.example.com/e/env-1", "https://managed.example.com/e/env-1/api/v2/bizevents/ingest"),
        ("http://127.0.0.1:9", "http://127.0.0.1:9/api/v2/bizevents/ingest"),
        (
            "https://abc12345.apps.dynatrace.com",
            "https://abc12345.apps.dynatrace.com/platform/classic/environment-api/v2/bizevents/ingest",
        ),
    ] {
        let mut routes = happy_routes(ONE_ACTIVE);
        routes.retain(|(route, ..)| route != INGEST);
        routes.push((format!("POST {path}"), 202, String::new()));
        let mut api = api(&routes);
        let mut plan = plan(None);
        plan.target.environment_url = url.into();
        plan.target.auth = TargetAuth::Oauth(OauthClient {
            client_id: "dt0s02.INGEST".into(),
            token_url: "https://sso/token".into(),
            account_uuid: None,
        });
        let mut secrets = secrets();
        secrets.insert("target-client-secret".into(), "ingest-secret".into());
        let report = export_account(&plan, &mut api, &secrets).unwrap();
        assert_eq!(report.events_accepted, 2, "{url}: {:?}", report.failures);
        let ingest = api.sent.last().unwrap();
        assert!(ingest.headers.iter().any(|(n, v)| *n == "authorization" && v.starts_with("Bearer ")));
    }
}

#[test]
fn a_partial_success_without_indexes_resends_nothing_and_reports_every_event_unconfirmed() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 400, r#"{"errors":[{"message":"Invalid event"}]}"#, &[]).then(INGEST, 202, "", &[]);
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!(api.sent.iter().filter(|r| r.url.ends_with("/ingest")).count(), 1, "nothing is resent");
    assert_eq!((report.events_accepted, report.rejected.len()), (1, 2));
    assert!(report.rejected[0].message.contains("without naming them"));
    assert!(report.state.unwrap().cost.unwrap().sent.is_empty(), "unconfirmed days are sent again next run");
}

#[test]
fn a_partial_success_naming_events_by_id_resends_only_those() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    let first = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!(first.events_accepted, 2);
    let posted = api.posted_events();
    let id = posted[0][1]["event.id"].as_str().unwrap().to_owned();
    let mut api = self::api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 400, &format!(r#"{{"errors":[{{"id":"{id}","message":"no"}}]}}"#), &[]).then(INGEST, 202, "", &[]);
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    let resent = api.posted_events();
    assert_eq!(resent.len(), 2);
    assert_eq!(resent[1].len(), 1);
    assert_eq!(resent[1][0]["event.id"], id.as_str());
    assert_eq!((report.events_accepted, report.rejected.len()), (2, 0));
}

#[test]
fn a_413_splits_the_batch_until_it_fits() {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    api.routes.remove(INGEST);
    api.then(INGEST, 413, "", &[]).then(INGEST, 202, "", &[]);
    let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
    assert_eq!((report.events_sent, report.events_accepted), (2, 2));
    let sizes: Vec<usize> = api.posted_events().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 1, 1]);
}

#[test]
fn a_failed_ingest_says_how_many_events_were_not_sent() {
    let mut routes = happy_routes(
        r#"{"data":[{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#,
    );
    routes[4] = (INGEST.into(), 403, r#"{"error":{"code":403,"message":"Token is missing required scope."}}"#.into());
    let report = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap();
    assert_eq!(report.events_accepted, 0);
    assert_eq!(report.failures[0].events_not_sent, 2);
    assert_eq!(report.failures[0].message, "Token is missing required scope.");
}

#[test]
fn only_the_ingest_apis_own_answers_count_as_accepted() {
    let login_page = "<!DOCTYPE html><html><body>Sign in to continue</body></html>";
    for (status, body, accepted) in [
        (202, "", true),
        (202, "{}", true),
        (200, login_page, false),
        (200, r#"{"error":{"code":401,"message":"Missing authorization"}}"#, false),
        (204, "", false),
        (202, login_page, false),
        (400, r#"{"error":{"code":400,"message":"not a bizevents result"}}"#, false),
    ] {
        let mut api = api(&happy_routes(ONE_ACTIVE));
        api.routes.remove(INGEST);
        api.then(INGEST, status, body, &[]);
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        let what = format!("HTTP {status} {body}");
        assert_eq!(report.events_accepted, if accepted { 2 } else { 0 }, "{what}");
        let state = report.state.unwrap().cost.unwrap();
        assert_eq!(state.sent.len(), if accepted { 2 } else { 0 }, "{what}: only accepted days are delivered");
        if !accepted {
            assert_eq!(report.failures.len(), 1, "{what}");
            assert_eq!(report.failures[0].events_not_sent, 2, "{what}");
        }
    }
}
