//! Usage, rate cards, environment names and the anomaly knobs (issue #15), over real HTTP: usage
//! x price is each capability's cost, the capabilities add up to the day's `/cost` except by the
//! configured unattributed share, every environment of the cost rows has a name, a client
//! without `account-env-read` gets 403, and a spike or a step shows alike in every view.

mod support;

use std::collections::BTreeMap;

use dtcost_sim::{CostChange, Scenario, Simulator, unit_price};
use serde_json::Value;
use support::{get, request, scenario, token, token_with_scope};
use time::{Date, Month};

/// Tolerance of a reconciliation: the costs are served to 6 decimals.
const CENT_FRACTION: f64 = 1e-5;

/// 2026-11-22 is the last generated day; the walks cover 2026-11-01..=22.
const FIRST: &str = "2026-11-01T00:00:00Z";
const END: &str = "2026-11-23T00:00:00Z";

fn day(d: u8) -> Date {
    Date::from_calendar_date(2026, Month::November, d).unwrap()
}

/// `YYYY-MM-DD` as a date.
fn parse_date(text: &str) -> Date {
    let part = |range: std::ops::Range<usize>| text[range].parse::<u16>().unwrap();
    Date::from_calendar_date(i32::from(part(0..4)), Month::try_from(part(5..7) as u8).unwrap(), part(8..10) as u8)
        .unwrap()
}

/// The UTC date of a served `startTime`.
fn date_of(start: &str) -> String {
    start[..10].to_owned()
}

/// A token of account `index` requested without `scope`: it carries all of the client's scopes.
async fn all_scopes_token(sim: &Simulator, scenario: &Scenario, index: usize) -> String {
    token_with_scope(sim, scenario, index, None).await
}

struct Account<'a> {
    sim: &'a Simulator,
    token: String,
    uuid: String,
    subscription: String,
}

impl<'a> Account<'a> {
    async fn new(sim: &'a Simulator, scenario: &Scenario, index: usize) -> Account<'a> {
        let account = &scenario.accounts[index];
        Account {
            sim,
            token: all_scopes_token(sim, scenario, index).await,
            uuid: account.uuid.clone(),
            subscription: account.subscriptions[0].clone(),
        }
    }

    async fn json(&self, path: &str) -> Value {
        let reply = get(self.sim, &self.token, path).await;
        assert_eq!(reply.status, 200, "{path}: {}", String::from_utf8_lossy(&reply.body));
        reply.json()
    }

    /// `/cost` by date, with an optional query.
    async fn cost(&self, query: &str) -> BTreeMap<String, f64> {
        let body = self
            .json(&format!("/sub/v2/accounts/{}/subscriptions/{}/cost?{query}", self.uuid, self.subscription))
            .await;
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (date_of(r["startTime"].as_str().unwrap()), r["value"].as_f64().unwrap()))
            .collect()
    }

    /// `/usage` as (date, capability) → (quantity, unit).
    async fn usage(&self) -> BTreeMap<(String, String), (f64, String)> {
        let body =
            self.json(&format!("/sub/v2/accounts/{}/subscriptions/{}/usage", self.uuid, self.subscription)).await;
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let key = (date_of(r["startTime"].as_str().unwrap()), r["capabilityKey"].as_str().unwrap().to_owned());
                (key, (r["value"].as_f64().unwrap(), r["unitMeasure"].as_str().unwrap().to_owned()))
            })
            .collect()
    }

    /// The rate card's unit prices by capability (parsed from the strings the card carries).
    async fn prices(&self) -> BTreeMap<String, (f64, String)> {
        let cards = self.json(&format!("/sub/v1/accounts/{}/rate-cards", self.uuid)).await;
        let cards = cards.as_array().unwrap();
        assert_eq!(cards.len(), 1, "one active subscription, one card: {cards:?}");
        cards[0]["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let price = c["price"].as_str().unwrap().parse::<f64>().unwrap();
                assert_eq!(c["quotedPrice"], c["price"]);
                (c["key"].as_str().unwrap().to_owned(), (price, c["quotedUnitOfMeasure"].as_str().unwrap().to_owned()))
            })
            .collect()
    }

    /// Every row of a v3 walk of `view` (`cost` or `usage`): (date, environment, capability) → value.
    async fn walk(&self, view: &str) -> BTreeMap<(String, String, String), f64> {
        let path = format!("/sub/v3/accounts/{}/subscriptions/{}/environments/{view}", self.uuid, self.subscription);
        let mut body = self.json(&format!("{path}?startTime={FIRST}&endTime={END}&page-size=7")).await;
        let mut rows = BTreeMap::new();
        loop {
            for entry in body["data"].as_array().unwrap() {
                let environment = entry["environmentId"].as_str().unwrap();
                for row in entry[view].as_array().unwrap() {
                    let key = (
                        date_of(row["startTime"].as_str().unwrap()),
                        environment.to_owned(),
                        row["capabilityKey"].as_str().unwrap().to_owned(),
                    );
                    assert!(rows.insert(key, row["value"].as_f64().unwrap()).is_none(), "a row twice");
                }
            }
            match body["nextPageKey"].as_str() {
                Some(key) if !key.is_empty() => body = self.json(&format!("{path}?page-key={key}")).await,
                _ => return rows,
            }
        }
    }
}

#[tokio::test]
async fn usage_times_the_rate_card_price_is_each_capabilitys_cost_and_the_capabilities_add_up_to_the_day() {
    let scenario = scenario(3, 40, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    for (index, generated) in scenario.accounts.iter().enumerate() {
        let account = Account::new(&sim, &scenario, index).await;
        let (usage, prices, daily) = (account.usage().await, account.prices().await, account.cost("").await);
        assert_eq!(
            usage.len(),
            40 * generated
                .environments
                .iter()
                .flat_map(|e| &e.capabilities)
                .map(|c| &c.key)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
        let mut per_day: BTreeMap<String, f64> = BTreeMap::new();
        for ((date, key), (quantity, unit)) in &usage {
            let (price, card_unit) = &prices[key];
            assert_eq!(unit, card_unit, "{key}");
            assert_eq!(*price, unit_price(key).value());
            *per_day.entry(date.clone()).or_default() += quantity * price;
        }
        // Per capability: the filtered /cost of that capability.
        let capability = &generated.environments[0].capabilities[0].key;
        let filtered = account.cost(&format!("capabilityKeys={capability}")).await;
        for (date, cost) in &filtered {
            let (quantity, _) = usage[&(date.clone(), capability.clone())];
            assert!((quantity * prices[capability].0 - cost).abs() < CENT_FRACTION, "{date} {capability}");
        }
        // Per day: the /cost total, except on the configured unattributed days.
        let mut short_days = 0;
        for (date, total) in &daily {
            let expected = match &generated.unattributed {
                Some(gap) if gap.applies(parse_date(date)) => {
                    short_days += 1;
                    total * (1.0 - gap.share)
                }
                _ => *total,
            };
            assert!(
                (per_day[date] - expected).abs() < CENT_FRACTION,
                "account {index} {date}: {} vs {expected}",
                per_day[date]
            );
        }
        assert_eq!(short_days > 0, index == 2, "only the third account has unattributed days");
    }
}

#[tokio::test]
async fn v3_usage_rows_are_the_v3_cost_rows_in_units() {
    let scenario = scenario(1, 30, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let account = Account::new(&sim, &scenario, 0).await;
    let (cost, usage) = (account.walk("cost").await, account.walk("usage").await);
    assert_eq!(cost.keys().collect::<Vec<_>>(), usage.keys().collect::<Vec<_>>());
    assert!(!cost.is_empty());
    for (id, value) in &cost {
        let price = unit_price(&id.2).value();
        assert!((usage[id] * price - value).abs() < 1e-9, "{id:?}");
    }
}

#[tokio::test]
async fn the_environments_api_names_every_environment_of_the_cost_rows() {
    let scenario = scenario(3, 10, false);
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    for (index, generated) in scenario.accounts.iter().enumerate() {
        let account = Account::new(&sim, &scenario, index).await;
        let listed = account.json(&format!("/env/v2/accounts/{}/environments", account.uuid)).await;
        let names: BTreeMap<&str, &str> = listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["id"].as_str().unwrap(), e["name"].as_str().unwrap()))
            .collect();
        let walked: std::collections::BTreeSet<String> =
            account.walk("cost").await.into_keys().map(|(_, e, _)| e).collect();
        for environment in &walked {
            assert!(
                names.get(environment.as_str()).is_some_and(|n| n.starts_with(&generated.name)),
                "{environment}: {names:?}"
            );
        }
        assert_eq!(walked.len(), generated.environments.len());
        let clusters = account.json(&format!("/env/v2/accounts/{}/clusters", account.uuid)).await;
        let managed: Vec<&str> =
            generated.environments.iter().filter_map(|e| e.cluster_id.as_deref()).take(1).collect();
        assert_eq!(
            clusters["data"].as_array().unwrap().iter().map(|c| c["clusterId"].as_str().unwrap()).collect::<Vec<_>>(),
            managed
        );
    }
}

#[tokio::test]
async fn an_environment_without_a_name_is_listed_without_one() {
    let mut scenario = scenario(1, 5, false);
    scenario.accounts[0].environments[1].name = None;
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let account = Account::new(&sim, &scenario, 0).await;
    let listed = account.json(&format!("/env/v2/accounts/{}/environments", account.uuid)).await;
    let second = &listed["data"][1];
    assert_eq!(second["id"], scenario.accounts[0].environments[1].id.as_str());
    assert!(second.get("name").is_none(), "{second}");
    assert!(listed["data"][0]["name"].is_string());
}

#[tokio::test]
async fn a_client_without_account_env_read_gets_403_from_the_environments_api() {
    let mut scenario = scenario(2, 5, false);
    scenario.accounts[1].scopes.retain(|scope| scope != "account-env-read");
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let sso = |index: usize, scope: &str| {
        let account = &scenario.accounts[index];
        format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&resource=urn:dtaccount:{}{scope}",
            account.client_id, account.client_secret, account.uuid
        )
    };
    let form_type = [("Content-Type", "application/x-www-form-urlencoded")];
    for (index, status) in [(0, 200), (1, 403)] {
        // Without `scope`, the token carries the client's scopes: for the second, not account-env-read.
        let token = all_scopes_token(&sim, &scenario, index).await;
        let uuid = &scenario.accounts[index].uuid;
        for path in ["environments", "clusters"] {
            let reply = get(&sim, &token, &format!("/env/v2/accounts/{uuid}/{path}")).await;
            assert_eq!(reply.status, status, "account {index} {path}");
            if status == 403 {
                assert_eq!(reply.json()["code"], 403);
            }
        }
        // The DPS reads are unaffected.
        assert_eq!(get(&sim, &token, &format!("/sub/v2/accounts/{uuid}/subscriptions")).await.status, 200);
    }
    // Asking the SSO for the scope the client lacks is refused.
    let reply =
        request("POST", &sim.sso_url, &form_type, sso(1, "&scope=account-uac-read+account-env-read").as_bytes()).await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error_description"].as_str().unwrap().contains("[account-env-read]"));
    // A token with account-uac-read alone gets the 403 too.
    let uac_only = token(&sim, &scenario, 0).await;
    let reply = get(&sim, &uac_only, &format!("/env/v2/accounts/{}/environments", scenario.accounts[0].uuid)).await;
    assert_eq!(reply.status, 403);
}

/// What changes between a plain simulator and one with `change` applied to the first account:
/// per view, the ids whose value differs, with the difference.
struct Changed {
    daily: BTreeMap<String, f64>,
    rows: BTreeMap<(String, String, String), f64>,
    usage_cost: BTreeMap<(String, String), f64>,
    /// The plain /cost by date.
    plain_daily: BTreeMap<String, f64>,
}

async fn changed_by(change: impl FnOnce(&mut dtcost_sim::Account)) -> (Scenario, Changed) {
    let plain = scenario(1, 30, false);
    let mut changed = plain.clone();
    change(&mut changed.accounts[0]);
    let (sim_plain, sim_changed) =
        (Simulator::start(plain.clone()).await.unwrap(), Simulator::start(changed.clone()).await.unwrap());
    let (before, after) = (Account::new(&sim_plain, &plain, 0).await, Account::new(&sim_changed, &changed, 0).await);
    let diff = |a: f64, b: f64| (b - a).abs() > CENT_FRACTION;
    let (daily_before, daily_after) = (before.cost("").await, after.cost("").await);
    let daily = daily_after
        .iter()
        .filter(|(d, v)| diff(daily_before[*d], **v))
        .map(|(d, v)| (d.clone(), v - daily_before[d]))
        .collect();
    let (rows_before, rows_after) = (before.walk("cost").await, after.walk("cost").await);
    let rows = rows_after
        .iter()
        .filter(|(id, v)| diff(rows_before[*id], **v))
        .map(|(id, v)| (id.clone(), v - rows_before[id]))
        .collect();
    let (usage_before, usage_after) = (before.usage().await, after.usage().await);
    let usage_cost = usage_after
        .iter()
        .filter(|(id, (q, _))| diff(usage_before[*id].0, *q))
        .map(|(id, (q, _))| (id.clone(), (q - usage_before[id].0) * unit_price(&id.1).value()))
        .collect();
    (changed, Changed { daily, rows, usage_cost, plain_daily: daily_before })
}

#[tokio::test]
async fn a_spike_raises_one_day_alike_in_cost_environment_rows_and_usage() {
    let (scenario, changed) = changed_by(|a| a.spike = Some(CostChange { day: day(15), extra: 3.0 })).await;
    let account = &scenario.accounts[0];
    let (environment, capability) = (&account.environments[0].id, &account.environments[0].capabilities[0].key);
    let added = 3.0 * changed.plain_daily["2026-11-15"];
    assert_eq!(changed.daily.keys().collect::<Vec<_>>(), ["2026-11-15"]);
    assert!((changed.daily["2026-11-15"] - added).abs() < CENT_FRACTION);
    let row = ("2026-11-15".to_owned(), environment.clone(), capability.clone());
    assert_eq!(changed.rows.keys().collect::<Vec<_>>(), [&row], "one environment row, the first");
    assert!((changed.rows[&row] - added).abs() < CENT_FRACTION);
    let usage = ("2026-11-15".to_owned(), capability.clone());
    assert_eq!(changed.usage_cost.keys().collect::<Vec<_>>(), [&usage], "one capability");
    assert!((changed.usage_cost[&usage] - added).abs() < CENT_FRACTION);
}

#[tokio::test]
async fn a_step_raises_every_day_from_its_day_on_alike_in_every_view() {
    let (scenario, changed) = changed_by(|a| a.step = Some(CostChange { day: day(10), extra: 0.5 })).await;
    let account = &scenario.accounts[0];
    let (environment, capability) = (&account.environments[0].id, &account.environments[0].capabilities[0].key);
    let stepped: Vec<String> = changed.plain_daily.keys().filter(|d| d.as_str() >= "2026-11-10").cloned().collect();
    assert_eq!(stepped.len(), 13);
    assert_eq!(changed.daily.keys().cloned().collect::<Vec<_>>(), stepped);
    for date in &stepped {
        let added = 0.5 * changed.plain_daily[date];
        assert!((changed.daily[date] - added).abs() < CENT_FRACTION, "{date}");
        assert!((changed.rows[&(date.clone(), environment.clone(), capability.clone())] - added).abs() < CENT_FRACTION);
        assert!((changed.usage_cost[&(date.clone(), capability.clone())] - added).abs() < CENT_FRACTION);
    }
    assert_eq!(changed.rows.len(), stepped.len(), "only the first environment's first capability");
    assert_eq!(changed.usage_cost.len(), stepped.len());
}
