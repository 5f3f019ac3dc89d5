//! The plans, secrets and canned answers the job tests start from: an account `acc` with one
//! ACTIVE subscription, two cost days, an API-token target.

use std::collections::HashMap;

use super::fake_api::FakeApi;
use crate::wit::{
    AccountPlan, AnomalyPlan, BudgetAlerting, EnvironmentCostPlan, IngestTarget, OauthClient, RetryPolicy, TargetAuth,
};

pub const TOKEN: &str = "POST https://sso/token";
pub const LIST: &str = "GET https://api/sub/v2/accounts/acc/subscriptions";
pub const INGEST: &str = "POST https://env/api/v2/bizevents/ingest";

pub fn plan(subscription: Option<&str>) -> AccountPlan {
    AccountPlan {
        name: "ACME".into(),
        uuid: "acc".into(),
        client: OauthClient {
            client_id: "dt0s02.X".into(),
            token_url: "https://sso/token".into(),
            account_uuid: Some("acc".into()),
        },
        api_url: "https://api".into(),
        subscription: subscription.map(str::to_owned),
        read_at: "2026-11-23T00:00:00Z".into(),
        target: IngestTarget {
            environment_url: "https://env".into(),
            auth: TargetAuth::ApiToken,
            provider: "dps4ma.ingester".into(),
            max_batch_bytes: None,
            dry_run: false,
        },
        retry: RetryPolicy::default(),
        state: None,
        window_days: None,
        environment_cost: None,
        usage: None,
        budget_alerting: BudgetAlerting::default(),
        anomalies: AnomalyPlan::default(),
    }
}

pub fn secrets() -> HashMap<String, String> {
    HashMap::from([
        ("account-client-secret".to_owned(), "client-secret-value".to_owned()),
        ("target-api-token".to_owned(), "dt0c01.PUB.token-secret".to_owned()),
    ])
}

pub const DETAILS: &str = r#"{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE","account":{"uuid":"acc"},
    "budget":{"total":100,"used":3,"currencyCode":"USD"},"currentPeriod":{"startTime":"2026-01-01","endTime":"2026-12-31","daysRemaining":38}}"#;
pub const COST: &str = r#"{"data":[{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":2,"currencyCode":"USD"},
    {"startTime":"2026-11-21T00:00:00Z","endTime":"2026-11-22T00:00:00Z","value":1,"currencyCode":"USD"}],"lastModifiedTime":"x"}"#;

pub fn happy_routes(list: &str) -> Vec<(String, u16, String)> {
    vec![
        (TOKEN.into(), 200, r#"{"access_token":"tok","expires_in":300}"#.into()),
        (LIST.into(), 200, list.into()),
        (format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001"), 200, DETAILS.into()),
        (format!("{LIST}/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/cost"), 200, COST.into()),
        (INGEST.into(), 202, String::new()),
        (format!("{LIST}/forecast"), 404, r#"{"code":404,"message":"No forecast","errorsMap":{}}"#.into()),
    ]
}

pub fn api(routes: &[(String, u16, String)]) -> FakeApi {
    let borrowed: Vec<(&str, u16, &str)> = routes.iter().map(|(k, s, b)| (k.as_str(), *s, b.as_str())).collect();
    FakeApi::new(&borrowed)
}

pub const ONE_ACTIVE: &str =
    r#"{"data":[{"uuid":"5e1a0c2d-7b3f-4c1e-9a2d-000000000001","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#;

pub const V3: &str =
    "GET https://api/sub/v3/accounts/acc/subscriptions/5e1a0c2d-7b3f-4c1e-9a2d-000000000001/environments/cost";

/// Cost per environment: two windows of at most 20 days over the last 30 (the first empty),
/// the second in two pages, the second page after a 502.
pub fn with_environment_cost(routes: Vec<(String, u16, String)>) -> (FakeApi, AccountPlan) {
    let mut api = api(&routes);
    let first = format!("{V3}?startTime=2026-10-24T00%3A00%3A00Z&endTime=2026-11-13T00%3A00%3A00Z&page-size=2");
    api.then(&first, 200, r#"{"data":[],"lastModifiedTime":"x"}"#, &[]);
    let second = format!("{V3}?startTime=2026-11-13T00%3A00%3A00Z&endTime=2026-11-23T00%3A00%3A00Z&page-size=2");
    api.then(
        &second,
        200,
        r#"{"data":[{"clusterId":null,"environmentId":"abc12345","cost":[
            {"startTime":"2026-11-21T00:00:00Z","endTime":"2026-11-22T00:00:00Z","value":1,"currencyCode":"USD",
             "capabilityKey":"LOGS","capabilityName":"Log Monitoring Classic","bookingDate":"2026-11-22T00:00:00Z"},
            {"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":1.5,"currencyCode":"USD",
             "capabilityKey":"LOGS","capabilityName":"Log Monitoring Classic","bookingDate":"2026-11-23T00:00:00Z"}]}],
          "lastModifiedTime":"x","nextPageKey":"k/1="}"#,
        &[],
    );
    let next = format!("{V3}?page-key=k%2F1%3D");
    api.then(&next, 502, r#"{"error":{"code":502,"message":"Bad Gateway"}}"#, &[]).then(
        &next,
        200,
        r#"{"data":[{"clusterId":"c-1","environmentId":"f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b","cost":[
            {"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":0.25,"currencyCode":"USD",
             "capabilityKey":"FULLSTACK_MONITORING","capabilityName":"Full-Stack Monitoring","bookingDate":"2026-11-23T00:00:00Z"}]}],
          "lastModifiedTime":"x","nextPageKey":""}"#,
        &[],
    );
    let mut plan = plan(None);
    plan.environment_cost =
        Some(EnvironmentCostPlan { days: Some(30), window_days: Some(20), page_size: Some(2), max_rows_per_day: None });
    plan.retry.initial_delay_ms = Some(10);
    (api, plan)
}

/// An account whose v3 walk never ends: every page has `rows` rows and a fresh page key.
pub fn with_endless_pages(rows: usize, page_size: u32, max_rows_per_day: u32) -> (FakeApi, AccountPlan) {
    let mut api = api(&happy_routes(ONE_ACTIVE));
    let row = r#"{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":0.5,"currencyCode":"USD","capabilityKey":"LOGS"}"#;
    let page = |key: usize| {
        let cost = vec![row; rows].join(",");
        format!(r#"{{"data":[{{"environmentId":"abc12345","cost":[{cost}]}}],"nextPageKey":"key{key}"}}"#)
    };
    let first =
        format!("{V3}?startTime=2026-11-21T00%3A00%3A00Z&endTime=2026-11-23T00%3A00%3A00Z&page-size={page_size}");
    api.then(&first, 200, &page(0), &[]);
    for key in 0..100 {
        api.then(&format!("{V3}?page-key=key{key}"), 200, &page(key + 1), &[]);
    }
    let mut plan = plan(None);
    plan.environment_cost = Some(EnvironmentCostPlan {
        days: Some(2),
        window_days: Some(30),
        page_size: Some(page_size),
        max_rows_per_day: Some(max_rows_per_day),
    });
    (api, plan)
}
