//! The simulator behaves as `shared/reference/openapi/README.md` says reality does, is as strict
//! as the published contract, and keeps its memory bounded in long sessions.

mod support;

use dtcost_sim::{Fault, FaultRule, Scenario, Service, Simulator};
use serde_json::{Value, json};
use support::{Reply, get, request, scenario};

async fn sso(sim: &Simulator, form: &str) -> Reply {
    request("POST", &sim.sso_url, &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes()).await
}

fn ingest_form(scenario: &Scenario, scope: Option<&str>) -> String {
    let scope = scope.map(|s| format!("&scope={s}")).unwrap_or_default();
    format!(
        "grant_type=client_credentials&client_id={}&client_secret={}{scope}",
        scenario.ingest.client_id, scenario.ingest.client_secret
    )
}

async fn ingest(sim: &Simulator, path: &str, authorization: &str, content_type: &str, body: &[u8]) -> Reply {
    let url = format!("{}{path}", sim.environment_url);
    request("POST", &url, &[("Authorization", authorization), ("Content-Type", content_type)], body).await
}

const CLASSIC: &str = "/api/v2/bizevents/ingest";
const JSON: &str = "application/json; charset=utf-8";

#[tokio::test]
async fn a_token_request_without_scope_gets_the_clients_scopes() {
    let scenario = scenario(1, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let account = &scenario.accounts[0];
    // The walk-through's account token: no scope, a resource.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&resource=urn:dtaccount:{}",
        account.client_id, account.client_secret, account.uuid
    );
    let reply = sso(&sim, &form).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["scope"], "account-uac-read account-env-read");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(get(&sim, token, &format!("/sub/v2/accounts/{}/subscriptions", account.uuid)).await.status, 200);
    // The ingest client's: its own scope.
    let body = sso(&sim, &ingest_form(&scenario, None)).await.json();
    assert_eq!(body["scope"], "storage:events:write");
    // A scope the client lacks is still refused.
    let reply = sso(&sim, &format!("{form}&scope=account-uac-read+account-idm-read")).await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error_description"].as_str().unwrap().contains("[account-idm-read]"));
    let reply = sso(&sim, &ingest_form(&scenario, Some("account-uac-read"))).await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn classic_ingest_takes_an_api_token_or_a_bearer_token_with_storage_events_write() {
    let scenario = scenario(1, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let bearer =
        format!("Bearer {}", sso(&sim, &ingest_form(&scenario, None)).await.json()["access_token"].as_str().unwrap());
    let api_token = format!("Api-Token {}", scenario.ingest.api_token);
    for authorization in [&bearer, &api_token] {
        let reply = ingest(&sim, CLASSIC, authorization, JSON, br#"{"event.type":"t"}"#).await;
        assert_eq!(reply.status, 202, "{authorization}");
        assert_eq!(reply.json(), json!({}));
        assert!(reply.headers.iter().any(|(n, v)| n == "content-type" && v == JSON));
    }
    assert_eq!(sim.accepted_count(), 2);
    // An account token (account-uac-read) is refused with 403, an unknown one with 401, both
    // with the Environment API's error envelope.
    let account = &scenario.accounts[0];
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&resource=urn:dtaccount:{}",
        account.client_id, account.client_secret, account.uuid
    );
    let account_token = format!("Bearer {}", sso(&sim, &form).await.json()["access_token"].as_str().unwrap());
    for (authorization, status) in [
        (account_token.as_str(), 403),
        ("Bearer sim.unknown", 401),
        ("Api-Token dt0c01.NOPE.x", 401),
        ("Basic eA==", 401),
    ] {
        let reply = ingest(&sim, CLASSIC, authorization, JSON, b"{}").await;
        assert_eq!(reply.status, status, "{authorization}");
        assert_eq!(reply.json()["error"]["code"], status);
    }
    // The platform path exists only on *.apps.dynatrace.com hosts: not on this environment.
    let platform = "/platform/classic/environment-api/v2/bizevents/ingest";
    assert_eq!(ingest(&sim, platform, &bearer, JSON, b"{}").await.status, 404);
    assert_eq!(sim.accepted_count(), 2);
}

#[tokio::test]
async fn ingest_takes_only_the_declared_media_types() {
    let scenario = scenario(1, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let auth = format!("Api-Token {}", scenario.ingest.api_token);
    for content_type in ["text/plain", "application/jsonx", "application/cloudevent-stream", ""] {
        let reply = ingest(&sim, CLASSIC, &auth, content_type, b"{}").await;
        assert_eq!(reply.status, 415, "{content_type:?}");
    }
    for content_type in ["application/json", "Application/JSON; charset=utf-8"] {
        assert_eq!(ingest(&sim, CLASSIC, &auth, content_type, b"{}").await.status, 202, "{content_type:?}");
    }
    // CloudEvents: required attributes, mapped onto event.* fields, data's fields top-level.
    let event = br#"{"specversion":"1.0","id":"e1","source":"dtcost","type":"dps.test","data":{"value":2}}"#;
    for content_type in ["application/cloudevent+json", "application/cloudevents+json"] {
        assert_eq!(ingest(&sim, CLASSIC, &auth, content_type, event).await.status, 202);
    }
    let stored = sim.accepted_events().pop().unwrap();
    assert_eq!(
        stored,
        json!({"value": 2, "event.provider": "dtcost", "event.type": "dps.test", "event.id": "e1",
               "specversion": "1.0", "event.kind": "BIZ_EVENT"})
    );
    let batch = format!("[{},{}]", String::from_utf8_lossy(event), r#"{"specversion":"1.0","source":"s","type":"t"}"#);
    let reply = ingest(&sim, CLASSIC, &auth, "application/cloudevents-batch+json", batch.as_bytes()).await;
    assert_eq!(reply.status, 400);
    let errors = reply.json()["errors"].clone();
    assert_eq!(errors.as_array().unwrap().len(), 1);
    assert_eq!(errors[0]["index"], 1);
    assert!(errors[0]["message"].as_str().unwrap().contains("'id'"));
    // A single CloudEvent is one object, a batch an array.
    assert_eq!(ingest(&sim, CLASSIC, &auth, "application/cloudevent+json", b"[]").await.status, 400);
    assert_eq!(ingest(&sim, CLASSIC, &auth, "application/cloudevent-batch+json", event).await.status, 400);
    assert_eq!(sim.accepted_count(), 5);
}

#[tokio::test]
async fn refused_first_events_with_and_without_index_keep_the_others() {
    let scenario = scenario(1, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let auth = format!("Api-Token {}", scenario.ingest.api_token);
    let rule = |fault| FaultRule { service: Some(Service::Environment), fault, times: 1 };
    sim.inject(rule(Fault::RefuseFirstEventWithoutIndex));
    sim.inject(rule(Fault::RefuseFirstEvent));
    let body = br#"[{"event.id":"a","event.provider":"p"},{"event.id":"b"},{"event.id":"c"}]"#;
    let first = ingest(&sim, CLASSIC, &auth, JSON, body).await;
    assert_eq!(first.status, 400);
    assert_eq!(
        first.json(),
        json!({"errors": [{"id": "a", "source": "p", "message": "Invalid event: rejected by the pipeline (injected)"}]})
    );
    let second = ingest(&sim, CLASSIC, &auth, JSON, body).await.json();
    assert_eq!(second["errors"][0]["index"], 0);
    assert_eq!(ingest(&sim, CLASSIC, &auth, JSON, body).await.status, 202);
    let ids: Vec<Value> = sim.accepted_events().iter().map(|e| e["event.id"].clone()).collect();
    assert_eq!(ids, ["b", "c", "b", "c", "a", "b", "c"].map(Value::from));
}

#[tokio::test]
async fn recorded_events_and_requests_are_bounded_when_asked() {
    let mut scenario = scenario(1, 20, false);
    scenario.max_recorded_events = Some(3);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let auth = format!("Api-Token {}", scenario.ingest.api_token);
    for batch in 0..4 {
        let body = json!([{"n": batch * 2}, {"n": batch * 2 + 1}]).to_string();
        assert_eq!(ingest(&sim, CLASSIC, &auth, JSON, body.as_bytes()).await.status, 202);
    }
    assert_eq!(sim.accepted_count(), 8, "every accepted event is counted");
    let kept: Vec<Value> = sim.accepted_events().iter().map(|e| e["n"].clone()).collect();
    assert_eq!(kept, [5, 6, 7].map(Value::from), "the newest are kept");
    assert_eq!(sim.request_count(), 4);
    assert_eq!(sim.requests().len(), 3);
    // The bound can change on the way (None: keep everything from now on).
    sim.update(|s| s.max_recorded_events = None);
    assert_eq!(ingest(&sim, CLASSIC, &auth, JSON, br#"[{"n":8},{"n":9}]"#).await.status, 202);
    assert_eq!(sim.accepted_events().len(), 5);
    assert_eq!((sim.accepted_count(), sim.request_count(), sim.requests().len()), (10, 5, 4));
}

#[tokio::test]
async fn cost_records_mix_the_spec_and_the_real_time_formats() {
    let scenario = scenario(2, 30, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let account = &scenario.accounts[0];
    let token = support::token(&sim, &scenario, 0).await;
    let subscription = &account.subscriptions[0];
    let body =
        get(&sim, &token, &format!("/sub/v2/accounts/{}/subscriptions/{subscription}/cost", account.uuid)).await.json();
    let records = body["data"].as_array().unwrap();
    let millis: Vec<&Value> = records.iter().filter(|r| r["startTime"].as_str().unwrap().ends_with(".000Z")).collect();
    assert_eq!(millis.len(), 10, "every third of 30 days");
    for record in &millis {
        assert_eq!(record["lastBookingDate"], record["startTime"]);
        assert!(record["endTime"].as_str().unwrap().ends_with("T00:00:00.000Z"));
    }
    let others: Vec<&str> = records
        .iter()
        .filter(|r| !r["startTime"].as_str().unwrap().ends_with(".000Z"))
        .map(|r| r["lastBookingDate"].as_str().unwrap())
        .collect();
    assert!(others.iter().any(|b| b.len() == 10) && others.iter().any(|b| b.ends_with("T06:00:00Z")), "{others:?}");
    // Subscriptions: subType null; every second account's active one lists no periods.
    for (index, account) in scenario.accounts.iter().enumerate() {
        let active = &scenario.subscriptions[&account.subscriptions[0]];
        assert_eq!(active["subType"], Value::Null);
        assert_eq!(active["periods"].as_array().unwrap().is_empty(), index % 2 == 1);
    }
}

#[tokio::test]
async fn cost_filters_split_the_daily_total() {
    let scenario = scenario(1, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let account = &scenario.accounts[0];
    let token = support::token(&sim, &scenario, 0).await;
    let path = format!("/sub/v2/accounts/{}/subscriptions/{}/cost", account.uuid, account.subscriptions[0]);
    let values = |body: Value| -> Vec<(String, f64)> {
        let mut rows: Vec<(String, f64)> = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["startTime"].as_str().unwrap().to_owned(), r["value"].as_f64().unwrap()))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    };
    let all = values(get(&sim, &token, &path).await.json());
    let mut keys: Vec<&str> =
        account.environments.iter().flat_map(|e| e.capabilities.iter().map(|c| c.key.as_str())).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut sums = vec![0.0; all.len()];
    for key in &keys {
        let filtered = values(get(&sim, &token, &format!("{path}?capabilityKeys={key}")).await.json());
        for (sum, (day, value)) in sums.iter_mut().zip(&filtered) {
            assert!(*value > 0.0, "{key} {day}");
            *sum += value;
        }
    }
    for ((day, total), sum) in all.iter().zip(&sums) {
        assert!((total - sum).abs() < 1e-4, "{day}: {sum} vs {total}");
    }
    // Both list forms, and filters that keep nothing.
    let (e0, e1) = (&account.environments[0].id, &account.environments[1].id);
    let comma = get(&sim, &token, &format!("{path}?environmentIds={e0},{e1}")).await.body;
    let repeated = get(&sim, &token, &format!("{path}?environmentIds={e0}&environmentIds={e1}")).await.body;
    assert_eq!(comma, repeated);
    let none = values(get(&sim, &token, &format!("{path}?environmentIds=unknown1")).await.json());
    assert!(none.iter().all(|(_, v)| *v == 0.0));
}
