//! The sandbox around each instance, driven through the host's runtime directly: outbound HTTP
//! only to the configured origins, bounded memory, bounded time.

mod support;

use std::time::Duration;

use dtcost::config::Origin;
use dtcost::runtime::{Runtime, RuntimeError, Sandbox};
use dtcost::secret::Secret;
use dtcost::wit::{AccountPlan, ExportError, IngestTarget, OauthClient, RetryPolicy, TargetAuth};
use dtcost_sim::{Fault, FaultRule, Service, Simulator};
use support::*;

fn plan(scenario: &dtcost_sim::Scenario, sim: &Simulator, api_url: &str) -> AccountPlan {
    let account = &scenario.accounts[0];
    AccountPlan {
        name: account.name.clone(),
        uuid: account.uuid.clone(),
        client: OauthClient {
            client_id: account.client_id.clone(),
            token_url: sim.sso_url.clone(),
            account_uuid: Some(account.uuid.clone()),
        },
        api_url: api_url.to_owned(),
        subscription: None,
        read_at: "2026-11-23T00:00:00Z".into(),
        target: IngestTarget {
            environment_url: sim.environment_url.clone(),
            auth: TargetAuth::ApiToken,
            provider: "dps4ma.ingester".into(),
            max_batch_bytes: Some(5_000_000),
            dry_run: false,
        },
        retry: RetryPolicy {
            initial_delay_ms: Some(10),
            max_delay_ms: Some(100),
            multiplier: Some(2.0),
            max_elapsed_ms: Some(5_000),
            attempt_timeout_ms: Some(5_000),
        },
        state: None,
        window_days: Some(35),
        environment_cost: None,
        usage: None,
        budget_alerting: dtcost::config::default_budget_alerting(),
        anomalies: dtcost::config::default_anomaly_plan(),
    }
}

fn sandbox(scenario: &dtcost_sim::Scenario, allowed: &[&str]) -> Sandbox {
    Sandbox {
        allowed: allowed.iter().map(|url| Origin::parse(url).unwrap()).collect(),
        config: vec![
            ("account-client-secret", Secret::new(scenario.accounts[0].client_secret.clone())),
            ("target-api-token", Secret::new(scenario.ingest.api_token.clone())),
        ],
        memory_bytes: 64 << 20,
        timeout: Duration::from_secs(30),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_to_an_unlisted_host_is_refused_before_it_leaves() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let runtime = Runtime::new().unwrap();
    // The account API is not in the allowlist: the SSO and the environment are.
    let result = runtime
        .export_account(plan(&scenario, &sim, &sim.api_url), sandbox(&scenario, &[&sim.sso_url, &sim.environment_url]))
        .await
        .result
        .unwrap();
    let Err(ExportError::Request(failure)) = result else { panic!("{result:?}") };
    assert!(failure.request.starts_with(&format!("GET {}/sub/v2/accounts/", sim.api_url)), "{failure:?}");
    assert!(failure.message.contains("refused the request"), "{failure:?}");
    assert!(sim.requests().iter().all(|r| r.service != Service::AccountApi), "nothing reached the API");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_plan_runs_when_its_hosts_are_allowed() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let runtime = Runtime::new().unwrap();
    let report = runtime
        .export_account(
            plan(&scenario, &sim, &sim.api_url),
            sandbox(&scenario, &[&sim.sso_url, &sim.api_url, &sim.environment_url]),
        )
        .await
        .result
        .unwrap()
        .unwrap();
    // 3 cost days sent; the status comes back for the host to send (one per subscription).
    assert_eq!((report.events_built, report.events_accepted), (3, 3));
    assert!(report.subscription_outlook.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_over_its_memory_cap_is_stopped_with_a_clear_error() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let runtime = Runtime::new().unwrap();
    let mut tight = sandbox(&scenario, &[&sim.sso_url, &sim.api_url, &sim.environment_url]);
    tight.memory_bytes = 64 << 10; // less than the component's initial memory
    let error = runtime.export_account(plan(&scenario, &sim, &sim.api_url), tight).await.result.unwrap_err();
    assert!(matches!(error, RuntimeError::OutOfMemory { .. }), "{error}");
    assert_eq!(error.to_string(), "the component ran out of its 64 KiB of memory (limits.memory-mb) and was stopped");
    assert!(sim.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_over_its_time_limit_is_stopped() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    // An "account API" that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let runtime = Runtime::new().unwrap();
    let mut short = sandbox(&scenario, &[&sim.sso_url, &silent_url, &sim.environment_url]);
    short.timeout = Duration::from_millis(1500);
    let started = std::time::Instant::now();
    let error = runtime.export_account(plan(&scenario, &sim, &silent_url), short).await.result.unwrap_err();
    assert!(matches!(error, RuntimeError::Timeout { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(
            "the component ran past its 1 s time limit (limits.timeout-seconds) while handling GET http://127.0.0.1:"
        ),
        "{message}"
    );
    assert!(message.ends_with("/subscriptions and was stopped") && !message.contains('\n'), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_still_counts_its_requests_retries_and_429s() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let rule = |fault, times| FaultRule { service: Some(Service::AccountApi), fault, times };
    sim.inject_on_path(rule(Fault::Throttle { retry_after_seconds: None }, 2), "/subscriptions");
    sim.inject_on_path(rule(Fault::Status(403), 1), "/subscriptions");
    let runtime = Runtime::new().unwrap();
    let ran = runtime
        .export_account(
            plan(&scenario, &sim, &sim.api_url),
            sandbox(&scenario, &[&sim.sso_url, &sim.api_url, &sim.environment_url]),
        )
        .await;
    assert!(
        matches!(&ran.result, Ok(Err(ExportError::Request(failure))) if failure.status == Some(403)),
        "{:?}",
        ran.result
    );
    // The token, then the subscription list three times: two 429s and the 403.
    assert_eq!((ran.traffic.requests, ran.traffic.retries, ran.traffic.throttled), (4, 2, 2), "{:?}", ran.traffic);
    assert!(ran.traffic.last.as_deref().is_some_and(|last| last.ends_with("/subscriptions")), "{:?}", ran.traffic);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_another_instance_left_open_does_not_widen_the_allowlist() {
    let scenario = generate(1, 3, 0, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let runtime = Runtime::new().unwrap();
    // The first instance may reach the API: the shared pool keeps its connection open.
    let everything = sandbox(&scenario, &[&sim.sso_url, &sim.api_url, &sim.environment_url]);
    runtime.export_account(plan(&scenario, &sim, &sim.api_url), everything).await.result.unwrap().unwrap();
    let served = sim.requests().iter().filter(|r| r.service == Service::AccountApi).count();
    assert!(served > 0);
    // The list, then details, cost and forecast sent together: at most three connections, reused.
    let connections = sim.connections().get(&Service::AccountApi).copied().unwrap_or(0);
    assert!((1..=3).contains(&connections) && connections < served, "{connections} connections for {served} requests");
    // The next one may not: refused before it leaves, though a connection to the API is open.
    let result = runtime
        .export_account(plan(&scenario, &sim, &sim.api_url), sandbox(&scenario, &[&sim.sso_url, &sim.environment_url]))
        .await
        .result
        .unwrap();
    let Err(ExportError::Request(failure)) = result else { panic!("{result:?}") };
    assert!(failure.message.contains("refused the request"), "{failure:?}");
    let now = sim.requests().iter().filter(|r| r.service == Service::AccountApi).count();
    assert_eq!(now, served, "nothing more reached the API");
}
