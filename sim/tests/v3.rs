//! The v3 per-environment cost, the account forecast and path-filtered faults, over real HTTP.

mod support;

use std::collections::BTreeMap;

use dtcost_sim::{EndMarker, Fault, FaultRule, Scenario, Service, Simulator, end_marker};
use serde_json::Value;
use support::{Reply, get, scenario, token};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const V3: &str = "/environments/cost";

/// One flattened v3 row.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    cluster: Option<String>,
    environment: String,
    key: String,
    name: String,
    start: String,
    end: String,
    value: f64,
    currency: String,
    booking: String,
}

impl Row {
    fn id(&self) -> (String, String, String) {
        (self.start.clone(), self.environment.clone(), self.key.clone())
    }
}

/// What a walk saw.
struct Walk {
    rows: Vec<Row>,
    /// Rows per page.
    pages: Vec<usize>,
    /// `data` entries per page.
    entries: Vec<usize>,
    end: EndMarker,
}

fn v3_path(account: &str, subscription: &str) -> String {
    format!("/sub/v3/accounts/{account}/subscriptions/{subscription}/environments/cost")
}

fn rows_of(body: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    for entry in body["data"].as_array().expect("data array") {
        let cluster = match &entry["clusterId"] {
            Value::Null => None,
            Value::String(id) => Some(id.clone()),
            other => panic!("clusterId {other}"),
        };
        for cost in entry["cost"].as_array().expect("cost array") {
            rows.push(Row {
                cluster: cluster.clone(),
                environment: entry["environmentId"].as_str().unwrap().to_owned(),
                key: cost["capabilityKey"].as_str().unwrap().to_owned(),
                name: cost["capabilityName"].as_str().unwrap().to_owned(),
                start: cost["startTime"].as_str().unwrap().to_owned(),
                end: cost["endTime"].as_str().unwrap().to_owned(),
                value: cost["value"].as_f64().unwrap(),
                currency: cost["currencyCode"].as_str().unwrap().to_owned(),
                booking: cost["bookingDate"].as_str().unwrap().to_owned(),
            });
        }
    }
    rows
}

/// Walks all pages: the first call with `query`, the next ones with only `page-key`.
async fn walk(sim: &Simulator, token: &str, account: &str, subscription: &str, query: &str) -> Walk {
    let path = v3_path(account, subscription);
    let mut reply = get(sim, token, &format!("{path}?{query}")).await;
    let mut walk = Walk { rows: Vec::new(), pages: Vec::new(), entries: Vec::new(), end: EndMarker::Absent };
    for _ in 0..100_000 {
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let body = reply.json();
        assert_eq!(body["lastModifiedTime"], "2026-11-23T07:12:44Z");
        let rows = rows_of(&body);
        walk.pages.push(rows.len());
        walk.entries.push(body["data"].as_array().unwrap().len());
        walk.rows.extend(rows);
        match body.get("nextPageKey") {
            Some(Value::String(key)) if !key.is_empty() => {
                reply = get(sim, token, &format!("{path}?page-key={key}")).await;
            }
            Some(Value::String(_)) => {
                walk.end = EndMarker::Empty;
                return walk;
            }
            Some(Value::Null) => {
                walk.end = EndMarker::Null;
                return walk;
            }
            None => return walk,
            Some(other) => panic!("nextPageKey {other}"),
        }
    }
    panic!("walk did not end");
}

fn parse(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339).unwrap()
}

/// The `/cost` records of an account's subscription, by startTime.
fn daily_cost(scenario: &Scenario, account: usize, subscription: &str) -> BTreeMap<String, f64> {
    scenario.accounts[account].costs[subscription]
        .iter()
        .map(|c| (c["startTime"].as_str().unwrap().to_owned(), c["value"].as_f64().unwrap()))
        .collect()
}

/// The rows a walk over `[start, end)` must return, in order (day, environment, capability).
fn expected_ids(
    scenario: &Scenario,
    account: usize,
    subscription: &str,
    start: &str,
    end: &str,
) -> Vec<(String, String, String)> {
    let (start, end) = (parse(start), parse(end));
    let mut ids = Vec::new();
    for day in daily_cost(scenario, account, subscription).keys() {
        if parse(day) < start || parse(day) >= end {
            continue;
        }
        for environment in &scenario.accounts[account].environments {
            for capability in &environment.capabilities {
                ids.push((day.clone(), environment.id.clone(), capability.key.clone()));
            }
        }
    }
    ids
}

fn first_day(scenario: &Scenario, account: usize, subscription: &str) -> OffsetDateTime {
    parse(daily_cost(scenario, account, subscription).keys().next().unwrap())
}

fn fmt(time: OffsetDateTime) -> String {
    time.format(&Rfc3339).unwrap()
}

fn error(reply: &Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
    let body = reply.json();
    assert_eq!(body["code"], status);
    assert!(body["errorsMap"].is_object());
    body
}

#[tokio::test]
async fn paging_walks_return_every_row_exactly_once() {
    let scenario = scenario(3, 60, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let account = &scenario.accounts[0];
    let subscription = &account.subscriptions[0];
    let token = token(&sim, &scenario, 0).await;
    let from = first_day(&scenario, 0, subscription) + time::Duration::days(3);
    let to = from + time::Duration::days(20);
    let expected = expected_ids(&scenario, 0, subscription, &fmt(from), &fmt(to));
    let pairs: usize = account.environments.iter().map(|e| e.capabilities.len()).sum();
    assert_eq!(expected.len(), 20 * pairs);
    let n = expected.len();
    let mut markers = Vec::new();
    for size in [1, 7, 1000, n, n.div_ceil(2), n.div_ceil(3)] {
        let query = format!("startTime={}&endTime={}&page-size={size}", fmt(from), fmt(to));
        let walk = walk(&sim, &token, &account.uuid, subscription, &query).await;
        let ids: Vec<_> = walk.rows.iter().map(Row::id).collect();
        assert_eq!(ids, expected, "page size {size}");
        assert_eq!(walk.pages.len(), n.div_ceil(size), "page size {size}");
        assert!(walk.pages[..walk.pages.len() - 1].iter().all(|&rows| rows == size), "page size {size}");
        assert_eq!(*walk.pages.last().unwrap(), n - size * (walk.pages.len() - 1));
        assert_eq!(walk.end, end_marker(size * (walk.pages.len() - 1), size), "page size {size}");
        markers.push(walk.end);
        if size == 1 {
            // One row per page: an environment shows up on many pages.
            assert!(walk.entries.iter().all(|&e| e == 1));
        }
        if size == 1000 {
            // One page: each day's rows of an environment share one entry.
            assert_eq!(walk.entries, vec![20 * account.environments.len()]);
        }
    }
    for marker in [EndMarker::Absent, EndMarker::Null, EndMarker::Empty] {
        assert!(markers.contains(&marker), "{marker:?} never ended a walk: {markers:?}");
    }
    // No page-size: pages of 100.
    let query = format!("startTime={}&endTime={}", fmt(from), fmt(to));
    let walk = walk(&sim, &token, &account.uuid, subscription, &query).await;
    assert_eq!(walk.pages[0], 100.min(n));
    assert_eq!(walk.rows.len(), n);
}

#[tokio::test]
async fn rows_reconcile_with_daily_cost_except_unattributed_days() {
    for shared in [false, true] {
        let scenario = scenario(4, 60, shared);
        let sim = Simulator::start(scenario.clone()).await.unwrap();
        for (index, account) in scenario.accounts.iter().enumerate() {
            let token = token(&sim, &scenario, index).await;
            let subscription = &account.subscriptions[0];
            let daily = daily_cost(&scenario, index, subscription);
            // The v3 view matches the served /cost, not just the scenario.
            let served =
                get(&sim, &token, &format!("/sub/v2/accounts/{}/subscriptions/{subscription}/cost", account.uuid))
                    .await;
            assert_eq!(served.json()["data"].as_array().unwrap().len(), daily.len());
            let query = "startTime=2026-01-01T00:00:00Z&endTime=2027-01-01T00:00:00Z&page-size=1000";
            let walk = walk(&sim, &token, &account.uuid, subscription, query).await;
            let mut sums: BTreeMap<String, f64> = BTreeMap::new();
            for row in &walk.rows {
                *sums.entry(row.start.clone()).or_default() += row.value;
                let total = daily[&row.start];
                let share = account
                    .environments
                    .iter()
                    .find(|e| e.id == row.environment)
                    .and_then(|e| e.capabilities.iter().find(|c| c.key == row.key))
                    .unwrap()
                    .share;
                let date = parse(&row.start).date();
                let attributed = if index == 2 && date.day().is_multiple_of(5) { total * 0.96 } else { total };
                assert!((row.value - attributed * share).abs() < 1e-5, "{row:?}: {attributed} x {share}");
                assert!(row.value > 0.0);
                assert_eq!(row.currency, scenario.accounts[index].costs[subscription][0]["currencyCode"]);
                let next = date.next_day().unwrap();
                let booked = [format!("{next}T00:00:00Z"), format!("{next}T06:00:00Z")];
                assert!(booked.contains(&row.booking), "{}", row.booking);
                assert_eq!(parse(&row.end), parse(&row.start) + time::Duration::days(1));
            }
            assert_eq!(sums.len(), daily.len());
            let mut unattributed_days = 0;
            for (day, total) in &daily {
                let sum = sums[day];
                if index == 2 && parse(day).day().is_multiple_of(5) {
                    unattributed_days += 1;
                    assert!((sum - total * 0.96).abs() < 1e-6, "{day}: {sum} vs 96% of {total}");
                    assert!((total - sum - total * 0.04).abs() < 1e-6);
                } else {
                    assert!((sum - total).abs() < 1e-6, "account {index} {day}: {sum} vs {total}");
                }
            }
            assert_eq!(unattributed_days > 0, index == 2, "account {index}");
            // The documented rule is visible in the data.
            assert_eq!(account.unattributed.is_some(), index == 2);
        }
    }
}

#[tokio::test]
async fn environments_saas_and_managed() {
    let scenario = scenario(3, 30, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let token = token(&sim, &scenario, 0).await;
    let account = &scenario.accounts[0];
    let query = "startTime=2026-01-01T00:00:00Z&endTime=2027-01-01T00:00:00Z&page-size=1000";
    let walk = walk(&sim, &token, &account.uuid, &account.subscriptions[0], query).await;
    for row in &walk.rows {
        let environment = account.environments.iter().find(|e| e.id == row.environment).unwrap();
        assert_eq!(row.cluster, environment.cluster_id);
        assert_eq!(row.name, environment.capabilities.iter().find(|c| c.key == row.key).unwrap().name);
        match &row.cluster {
            None => assert!(row.environment.len() == 8 && !row.environment.contains('-'), "{}", row.environment),
            Some(cluster) => {
                assert_eq!(cluster.len(), 36);
                assert_eq!(row.environment.len(), 36);
            }
        }
    }
    assert!(walk.rows.iter().any(|r| r.cluster.is_none()));
    assert!(walk.rows.iter().any(|r| r.cluster.is_some()));
}

#[tokio::test]
async fn missing_or_malformed_parameters_are_400() {
    let scenario = scenario(2, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let token = token(&sim, &scenario, 0).await;
    let account = &scenario.accounts[0];
    let path = v3_path(&account.uuid, &account.subscriptions[0]);
    let cases = [
        ("endTime=2026-11-20T00:00:00Z", "startTime"),
        ("", "startTime"),
        ("startTime=2026-11-01T00:00:00Z", "endTime"),
        ("startTime=yesterday&endTime=2026-11-20T00:00:00Z", "startTime"),
        ("startTime=2026-11-01&endTime=2026-11-20T00:00:00Z", "startTime"),
        ("startTime=2026-11-01T00:00:00Z&endTime=2026-13-20T00:00:00Z", "endTime"),
        ("startTime=2026-11-20T00:00:00Z&endTime=2026-11-01T00:00:00Z", "endTime"),
        ("startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z&page-size=0", "page-size"),
        ("startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z&page-size=1001", "page-size"),
        ("startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z&page-size=ten", "page-size"),
    ];
    for (query, parameter) in cases {
        let body = error(&get(&sim, &token, &format!("{path}?{query}")).await, 400);
        assert!(body["message"].as_str().unwrap().contains(parameter), "{query}: {body}");
        assert!(body["errorsMap"][parameter].is_string(), "{query}: {body}");
    }
    // The bounds themselves are fine; so is an empty range (no rows).
    for query in [
        "startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z&page-size=1",
        "startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z&page-size=1000",
        "startTime=2026-11-01T00:00:00%2B01:00&endTime=2026-11-20T00:00:00.000Z",
    ] {
        assert_eq!(get(&sim, &token, &format!("{path}?{query}")).await.status, 200, "{query}");
    }
    let empty = get(&sim, &token, &format!("{path}?startTime=2026-11-05T00:00:00Z&endTime=2026-11-05T00:00:00Z")).await;
    assert_eq!(empty.json()["data"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_page_keys_are_400() {
    let scenario = scenario(2, 20, true);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let (a0, a1) = (&scenario.accounts[0], &scenario.accounts[1]);
    let shared = &a0.subscriptions[0];
    assert_eq!(&a1.subscriptions[0], shared);
    let (t0, t1) = (token(&sim, &scenario, 0).await, token(&sim, &scenario, 1).await);
    let first = get(
        &sim,
        &t0,
        &format!(
            "{}?startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z&page-size=3",
            v3_path(&a0.uuid, shared)
        ),
    )
    .await;
    let key = first.json()["nextPageKey"].as_str().unwrap().to_owned();
    // The key works where it was issued ...
    assert_eq!(get(&sim, &t0, &format!("{}?page-key={key}", v3_path(&a0.uuid, shared))).await.status, 200);
    // ... but not for another account of the same (shared) subscription, nor another subscription.
    let cases = [
        (&t1, v3_path(&a1.uuid, shared), key.clone()),
        (&t0, v3_path(&a0.uuid, &a0.subscriptions[1]), key.clone()),
        (&t0, v3_path(&a0.uuid, shared), "not-a-key!".to_owned()),
        (&t0, v3_path(&a0.uuid, shared), key[..key.len() - 5].to_owned()),
        (&t0, v3_path(&a0.uuid, shared), "e30".to_owned()), // base64 of "{}"
        (&t0, v3_path(&a0.uuid, shared), format!("x{key}")),
    ];
    for (token, path, key) in cases {
        let body = error(&get(&sim, token, &format!("{path}?page-key={key}")).await, 400);
        assert!(body["message"].as_str().unwrap().contains("page-key"), "{body}");
        assert!(body["errorsMap"]["page-key"].is_string());
    }
}

#[tokio::test]
async fn page_key_alone_or_with_repeated_filters() {
    let scenario = scenario(2, 30, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let token = token(&sim, &scenario, 0).await;
    let account = &scenario.accounts[0];
    let path = v3_path(&account.uuid, &account.subscriptions[0]);
    let environments = format!("{},{}", account.environments[0].id, account.environments[1].id);
    let filters = format!("startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z&environmentIds={environments}");
    let first = get(&sim, &token, &format!("{path}?{filters}&page-size=5")).await.json();
    let key = first["nextPageKey"].as_str().unwrap();
    let alone = get(&sim, &token, &format!("{path}?page-key={key}")).await;
    let repeated = get(&sim, &token, &format!("{path}?{filters}&page-key={key}")).await;
    // Different filters next to a key are ignored too: the key rules.
    let other = get(
        &sim,
        &token,
        &format!(
            "{path}?startTime=2020-01-01T00:00:00Z&endTime=2020-01-02T00:00:00Z&capabilityKeys=NONE&page-key={key}"
        ),
    )
    .await;
    assert_eq!(alone.status, 200);
    assert_eq!(alone.body, repeated.body);
    assert_eq!(alone.body, other.body);
    let rows = rows_of(&alone.json());
    assert_eq!(rows.len(), 5);
    let all = walk(&sim, &token, &account.uuid, &account.subscriptions[0], &format!("{filters}&page-size=1000")).await;
    assert_eq!(rows, all.rows[5..10]);
    // page-size next to a page-key is refused (the key carries the walk's page size), even
    // the same one, as Dynatrace's paged APIs do.
    for size in ["8", "5"] {
        let body = error(&get(&sim, &token, &format!("{path}?page-key={key}&page-size={size}")).await, 400);
        assert!(body["message"].as_str().unwrap().contains("page-size"), "{body}");
        assert!(body["errorsMap"]["page-size"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn filters_select_environments_capabilities_and_clusters() {
    let scenario = scenario(3, 30, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let token = token(&sim, &scenario, 0).await;
    let account = &scenario.accounts[0];
    let subscription = &account.subscriptions[0];
    let range = "startTime=2026-11-01T00:00:00Z&endTime=2026-11-15T00:00:00Z&page-size=1000";
    let all = walk(&sim, &token, &account.uuid, subscription, range).await.rows;
    let select = |keep: &dyn Fn(&Row) -> bool| all.iter().filter(|r| keep(r)).cloned().collect::<Vec<_>>();
    let run = |query: String| {
        let (sim, token) = (&sim, &token);
        async move { walk(sim, token, &account.uuid, subscription, &format!("{range}&{query}")).await.rows }
    };

    let (e0, e1) = (&account.environments[0].id, &account.environments[1].id);
    let expected = select(&|r| r.environment == *e0 || r.environment == *e1);
    assert!(!expected.is_empty());
    assert_eq!(expected.len() < all.len(), account.environments.len() == 3);
    assert_eq!(run(format!("environmentIds={e0},{e1}")).await, expected);
    assert_eq!(run(format!("environmentIds={e0}&environmentIds={e1}")).await, expected);
    assert_eq!(run(format!("environmentIds={e1}")).await, select(&|r| r.environment == *e1));

    let (k0, k1) = (&account.environments[0].capabilities[0].key, &account.environments[1].capabilities[1].key);
    let expected = select(&|r| r.key == *k0 || r.key == *k1);
    assert!(!expected.is_empty());
    assert_eq!(run(format!("capabilityKeys={k0}%2C{k1}")).await, expected);
    assert_eq!(run(format!("capabilityKeys={k0}&capabilityKeys={k1}")).await, expected);

    let cluster = account.environments[1].cluster_id.clone().expect("the second environment is Managed");
    let expected = select(&|r| r.cluster.as_deref() == Some(cluster.as_str()));
    assert!(!expected.is_empty() && expected.iter().all(|r| r.cluster.is_some()));
    assert_eq!(run(format!("clusterIds={cluster}")).await, expected);
    // Filters combine.
    assert_eq!(
        run(format!("clusterIds={cluster}&environmentIds={e0},{e1}&capabilityKeys={k1}")).await,
        select(&|r| r.environment == *e1 && r.key == *k1)
    );
    assert!(run("environmentIds=unknown1".to_owned()).await.is_empty());
}

#[tokio::test]
async fn malformed_cost_records_are_left_out() {
    let scenario = scenario(2, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let token = token(&sim, &scenario, 0).await;
    let account = &scenario.accounts[0];
    let subscription = account.subscriptions[0].clone();
    let broken = account.costs[&subscription][0]["startTime"].as_str().unwrap().to_owned();
    sim.update(|s| {
        let costs = s.accounts[0].costs.get_mut(&subscription).unwrap();
        costs[0]["startTime"] = Value::from(42);
        costs[1]["value"] = Value::from("lots");
    });
    let query = "startTime=2026-01-01T00:00:00Z&endTime=2027-01-01T00:00:00Z&page-size=1000";
    let rows = walk(&sim, &token, &account.uuid, &subscription, query).await.rows;
    let pairs: usize = account.environments.iter().map(|e| e.capabilities.len()).sum();
    assert_eq!(rows.len(), 18 * pairs);
    assert!(rows.iter().all(|r| r.start != broken));
}

#[tokio::test]
async fn auth_and_unknown_ids() {
    let scenario = scenario(2, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let (a0, a1) = (&scenario.accounts[0], &scenario.accounts[1]);
    let t1 = token(&sim, &scenario, 1).await;
    let t0 = token(&sim, &scenario, 0).await;
    let query = "?startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z";
    let path = v3_path(&a0.uuid, &a0.subscriptions[0]);
    let anonymous = support::request("GET", &format!("{}{path}{query}", sim.api_url), &[], b"").await;
    error(&anonymous, 401);
    error(&get(&sim, &t1, &format!("{path}{query}")).await, 401);
    error(&get(&sim, &t0, &format!("{}{query}", v3_path(&a0.uuid, &a1.subscriptions[0]))).await, 404);
    error(&get(&sim, &t1, &format!("/sub/v2/accounts/{}/subscriptions/forecast", a0.uuid)).await, 401);
    // The deprecated v2 variant is not served.
    let v2 = get(
        &sim,
        &t0,
        &format!("/sub/v2/accounts/{}/subscriptions/{}/environments/cost{query}", a0.uuid, a0.subscriptions[0]),
    )
    .await;
    assert_eq!(v2.status, 404);
}

#[tokio::test]
async fn forecast_per_account() {
    let scenario = scenario(3, 60, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    // The second account has none.
    let t1 = token(&sim, &scenario, 1).await;
    let body = error(
        &get(&sim, &t1, &format!("/sub/v2/accounts/{}/subscriptions/forecast", scenario.accounts[1].uuid)).await,
        404,
    );
    assert_eq!(body["message"], "No forecast available for this account");

    let mut over_budget = 0;
    for index in [0, 2] {
        let account = &scenario.accounts[index];
        let token = token(&sim, &scenario, index).await;
        let reply = get(&sim, &token, &format!("/sub/v2/accounts/{}/subscriptions/forecast", account.uuid)).await;
        assert_eq!(reply.status, 200);
        let forecast = reply.json();
        // The static segment does not shadow subscription details, nor the reverse.
        let details =
            get(&sim, &token, &format!("/sub/v2/accounts/{}/subscriptions/{}", account.uuid, account.subscriptions[0]))
                .await;
        assert_eq!(details.status, 200);
        let details = details.json();
        let mut days: Vec<_> = daily_cost(&scenario, index, &account.subscriptions[0]).into_iter().collect();
        days.sort_by(|a, b| a.0.cmp(&b.0));
        let used: f64 = days.iter().map(|d| d.1).sum();
        let mean = days[days.len() - 28..].iter().map(|d| d.1).sum::<f64>() / 28.0;
        let remaining = details["currentPeriod"]["daysRemaining"].as_f64().unwrap();
        assert_eq!(remaining, 305.0);
        let median = forecast["forecastMedian"].as_f64().unwrap();
        assert!((median - (used + mean * remaining)).abs() < 0.01, "{median} vs {used} + {mean} x {remaining}");
        assert!((forecast["forecastLower"].as_f64().unwrap() - median * 0.92).abs() < 0.01);
        assert!((forecast["forecastUpper"].as_f64().unwrap() - median * 1.08).abs() < 0.01);
        let budget = details["budget"]["total"].as_f64().unwrap();
        assert_eq!(forecast["budget"].as_f64().unwrap(), budget);
        assert!((forecast["forecastBudgetPct"].as_f64().unwrap() - median / budget * 100.0).abs() < 0.006);
        assert_eq!(forecast["forecastCreatedAt"], "2026-11-23T03:00:00Z");
        if median > budget {
            let date = parse(forecast["forecastBudgetDate"].as_str().unwrap());
            let last = parse("2026-11-22T00:00:00Z");
            let expected_days = ((budget - used) / mean).ceil() as i64;
            assert_eq!(date, last + time::Duration::days(expected_days));
            over_budget += 1;
        } else {
            assert_eq!(forecast["forecastBudgetDate"], Value::Null);
        }
    }

    // Budgets are sized for the year at the rate so far, with 15 % headroom: no account overshoots.
    assert_eq!(over_budget, 0);

    // A full year: no days remain, the forecast stays within the budget and has no budget date.
    let year = support::scenario(1, 365, false);
    let forecast = year.accounts[0].forecast.clone().unwrap();
    assert!(forecast["forecastMedian"].as_f64().unwrap() < forecast["budget"].as_f64().unwrap());
    assert_eq!(forecast["forecastBudgetDate"], Value::Null);

    // Fewer than 15 days of data: none.
    let young = support::scenario(3, 14, false);
    let sim = Simulator::start(young.clone()).await.unwrap();
    let token = token(&sim, &young, 0).await;
    error(
        &get(&sim, &token, &format!("/sub/v2/accounts/{}/subscriptions/forecast", young.accounts[0].uuid)).await,
        404,
    );
    assert!(young.accounts.iter().all(|a| a.forecast.is_none()));
}

#[tokio::test]
async fn path_filtered_fault_hits_only_v3() {
    let scenario = scenario(2, 20, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let token = token(&sim, &scenario, 0).await;
    let account = &scenario.accounts[0];
    let subscription = &account.subscriptions[0];
    sim.inject_on_path(FaultRule { service: Some(Service::AccountApi), fault: Fault::Status(502), times: 2 }, V3);
    let cost_path = format!("/sub/v2/accounts/{}/subscriptions/{subscription}/cost", account.uuid);
    let v3 =
        format!("{}?startTime=2026-11-01T00:00:00Z&endTime=2026-11-20T00:00:00Z", v3_path(&account.uuid, subscription));
    assert_eq!(get(&sim, &token, &cost_path).await.status, 200);
    assert_eq!(get(&sim, &token, &format!("/sub/v2/accounts/{}/subscriptions", account.uuid)).await.status, 200);
    for _ in 0..2 {
        let body = error(&get(&sim, &token, &v3).await, 502);
        assert_eq!(body["message"], "Injected failure");
        assert_eq!(get(&sim, &token, &cost_path).await.status, 200);
    }
    assert_eq!(get(&sim, &token, &v3).await.status, 200);
    let statuses: Vec<(bool, u16)> = sim
        .requests()
        .iter()
        .filter(|r| r.service == Service::AccountApi)
        .map(|r| (r.path.contains(V3), r.status))
        .collect();
    assert_eq!(
        statuses,
        [(false, 200), (false, 200), (true, 502), (false, 200), (true, 502), (false, 200), (true, 200)]
    );

    // A path filter on another service never fires there.
    sim.inject_on_path(FaultRule { service: Some(Service::Sso), fault: Fault::Status(503), times: 1 }, V3);
    token_ok(&sim, &scenario).await;
    // Without a service, it fires on the matching path of any service.
    sim.inject_on_path(
        FaultRule { service: None, fault: Fault::Throttle { retry_after_seconds: Some(1) }, times: 1 },
        V3,
    );
    assert_eq!(get(&sim, &token, &cost_path).await.status, 200);
    let throttled = get(&sim, &token, &v3).await;
    error(&throttled, 429);
    assert!(throttled.headers.iter().any(|(n, v)| n == "retry-after" && v == "1"));
}

async fn token_ok(sim: &Simulator, scenario: &Scenario) {
    let _ = token(sim, scenario, 1).await; // asserts a 200
}
