//! The export jobs: one account (subscription and daily cost) or one Managed cluster (license
//! usage), from reading the APIs to an acknowledged ingest.

use crate::events;
use crate::http::{self, Request, Transport};
use crate::ingest;
use crate::model::{
    AccountPlan, ClusterPlan, EventContext, ExportError, Report, RequestFailure, Subscription, SubscriptionSummary,
};
use crate::parse;
use crate::secrets::{self, Secrets};
use crate::sso;

/// Exports one account. `Err` means nothing was sent; an `Ok` report may still list failures.
pub fn export_account(
    plan: &AccountPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("account {}", plan.name), ..Report::default() };
    let client_secret = secrets.require(secrets::ACCOUNT_CLIENT_SECRET)?;
    let token = sso::fetch_token(transport, &mut report.requests, &plan.client, &client_secret, sso::ACCOUNT_SCOPE)?;
    let bearer = format!("Bearer {token}");
    let accounts_url = http::join(&plan.api_url, &format!("/sub/v2/accounts/{}/subscriptions", plan.uuid));
    let mut get = |url: String, report: &mut Report| -> Result<(Request, http::Response), RequestFailure> {
        let request = Request::get(url).header("authorization", bearer.clone());
        let response = http::send(transport, &mut report.requests, &request)?;
        Ok((request, response))
    };

    let subscription_uuid = match &plan.subscription {
        Some(uuid) => uuid.clone(),
        None => {
            let (request, response) = get(accounts_url.clone(), &mut report).map_err(ExportError::Request)?;
            if response.status != 200 {
                return Err(ExportError::Request(http::failure(&request, &response)));
            }
            let list = parse::subscription_list(&response.body).map_err(|e| invalid(&request, e))?;
            let chosen = choose_subscription(&plan.name, &plan.uuid, &list)?;
            if let Some(note) = chosen.1 {
                report.notes.push(note);
            }
            chosen.0.uuid.clone()
        }
    };
    report.subscription_uuid = Some(subscription_uuid.clone());

    let (request, response) =
        get(format!("{accounts_url}/{subscription_uuid}"), &mut report).map_err(ExportError::Request)?;
    let subscription: Option<Subscription> = match response.status {
        200 => Some(parse::subscription(&response.body).map_err(|e| invalid(&request, e))?),
        // DPS for Hybrid: an account may book against a subscription it cannot read the details
        // of (ASSUMPTION: the docs do not say which accounts may read a shared subscription). Its
        // cost is still readable; the owning account emits the status event.
        403 | 404 if plan.subscription.is_some() => {
            report.notes.push(format!(
                "subscription {subscription_uuid} details are not readable from account {} (HTTP {}); exporting its cost only",
                plan.name, response.status
            ));
            None
        }
        _ => return Err(ExportError::Request(http::failure(&request, &response))),
    };

    let (request, response) =
        get(format!("{accounts_url}/{subscription_uuid}/cost"), &mut report).map_err(ExportError::Request)?;
    if response.status != 200 {
        return Err(ExportError::Request(http::failure(&request, &response)));
    }
    let currency =
        subscription.as_ref().and_then(|s| s.budget.currency_code.as_deref()).unwrap_or(events::DEFAULT_CURRENCY);
    let costs = parse::cost_list(&response.body, currency).map_err(|e| invalid(&request, e))?;
    report.records_read = costs.len() as u32;

    let context = EventContext {
        provider: plan.target.provider.clone(),
        account_uuid: plan.uuid.clone(),
        account_name: plan.name.clone(),
    };
    let mut batch = Vec::with_capacity(costs.len() + 1);
    if let Some(subscription) = subscription.as_ref().filter(|_| plan.emit_subscription_status) {
        let status = events::subscription_status(&context, subscription, &plan.read_at)
            .map_err(|e| ExportError::InvalidResponse(format!("GET {accounts_url}/{subscription_uuid}: {e}")))?;
        batch.push(status);
    }
    let cost_events = events::cost_booked(&context, &subscription_uuid, &costs).map_err(|e| invalid(&request, e))?;
    report.newest_day =
        costs.iter().max_by_key(|c| crate::time::parse_instant_millis(&c.start_time)).map(|c| c.start_time.clone());
    batch.extend(cost_events);
    ingest::ingest(transport, secrets, &plan.target, batch, &mut report);
    Ok(report)
}

/// Exports one Managed cluster's license usage.
pub fn export_cluster(
    plan: &ClusterPlan,
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
) -> Result<Report, ExportError> {
    let mut report = Report { subject: format!("cluster {}", plan.name), ..Report::default() };
    let token = secrets.require(secrets::CLUSTER_API_TOKEN)?;
    let request = Request::get(http::join(&plan.url, "/api/cluster/v2/clusterLicense"))
        .header("authorization", format!("Api-Token {token}"));
    let response = http::send(transport, &mut report.requests, &request).map_err(ExportError::Request)?;
    match response.status {
        200 => {}
        422 => {
            let mut failure = http::failure(&request, &response);
            failure.message = format!(
                "cluster {} is not on classic licensing (the license API answers only for classic licenses): {}",
                plan.name, failure.message
            );
            return Err(ExportError::Request(failure));
        }
        _ => return Err(ExportError::Request(http::failure(&request, &response))),
    }
    let license = parse::cluster_license(&response.body).map_err(|e| invalid(&request, e))?;
    let events = events::cluster_quota(&plan.target.provider, &plan.name, &license, &plan.read_at)
        .map_err(|e| invalid(&request, e))?;
    report.records_read = events.len() as u32;
    ingest::ingest(transport, secrets, &plan.target, events, &mut report);
    Ok(report)
}

/// The ACTIVE subscription of type REGULAR; with several, the most recently started, and a note
/// saying so.
fn choose_subscription<'a>(
    account_name: &str,
    account_uuid: &str,
    list: &'a [SubscriptionSummary],
) -> Result<(&'a SubscriptionSummary, Option<String>), ExportError> {
    let mut candidates: Vec<&SubscriptionSummary> =
        list.iter().filter(|s| s.status == "ACTIVE" && s.kind == "REGULAR").collect();
    candidates.sort_by(|a, b| {
        let start = |s: &SubscriptionSummary| crate::time::parse_instant_millis(&s.start_time);
        start(b).cmp(&start(a)).then_with(|| a.uuid.cmp(&b.uuid))
    });
    match candidates.as_slice() {
        [] => {
            let found = if list.is_empty() {
                "it has none".to_owned()
            } else {
                let seen: Vec<String> =
                    list.iter().map(|s| format!("{} (type {}, status {})", s.uuid, s.kind, s.status)).collect();
                format!("found {}", seen.join(", "))
            };
            Err(ExportError::NoSubscription(format!(
                "account {account_name} ({account_uuid}) has no ACTIVE subscription of type REGULAR: {found}; \
                 name the one to export with `subscription` in its config"
            )))
        }
        [only] => Ok((only, None)),
        [chosen, ..] => Ok((
            chosen,
            Some(format!(
                "account {account_name} has {} ACTIVE REGULAR subscriptions; exporting {} ({:?}), the most recently started; \
                 set `subscription` to choose another",
                candidates.len(),
                chosen.uuid,
                chosen.name
            )),
        )),
    }
}

fn invalid(request: &Request, error: impl std::fmt::Display) -> ExportError {
    ExportError::InvalidResponse(format!("{}: {error}", request.describe()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::{IngestTarget, OAuthClient, TargetAuth};

    /// Answers by `METHOD url` and records what was sent.
    struct FakeApi {
        routes: HashMap<String, (u16, String)>,
        sent: Vec<Request>,
    }

    impl FakeApi {
        fn new(routes: &[(&str, u16, &str)]) -> Self {
            FakeApi {
                routes: routes.iter().map(|(k, s, b)| (k.to_string(), (*s, b.to_string()))).collect(),
                sent: Vec::new(),
            }
        }
    }

    impl Transport for FakeApi {
        fn send(&mut self, request: &Request) -> Result<http::Response, String> {
            self.sent.push(request.clone());
            match self.routes.get(&request.describe()) {
                Some((status, body)) => Ok(http::Response { status: *status, body: body.clone().into_bytes() }),
                None => Err(format!("no route for {}", request.describe())),
            }
        }
    }

    const TOKEN: &str = "POST https://sso/token";
    const LIST: &str = "GET https://api/sub/v2/accounts/acc/subscriptions";
    const INGEST: &str = "POST https://env/api/v2/bizevents/ingest";

    fn plan(subscription: Option<&str>) -> AccountPlan {
        AccountPlan {
            name: "ACME".into(),
            uuid: "acc".into(),
            client: OAuthClient {
                client_id: "dt0s02.X".into(),
                token_url: "https://sso/token".into(),
                account_uuid: Some("acc".into()),
            },
            api_url: "https://api".into(),
            subscription: subscription.map(str::to_owned),
            emit_subscription_status: true,
            read_at: "2026-11-23T00:00:00Z".into(),
            target: IngestTarget {
                environment_url: "https://env".into(),
                auth: TargetAuth::ApiToken,
                provider: "dps4ma.ingester".into(),
                max_batch_bytes: 5_000_000,
                dry_run: false,
            },
        }
    }

    fn secrets() -> HashMap<String, String> {
        HashMap::from([
            ("account-client-secret".to_owned(), "client-secret-value".to_owned()),
            ("target-api-token".to_owned(), "dt0c01.PUB.token-secret".to_owned()),
        ])
    }

    const DETAILS: &str = r#"{"uuid":"s1","type":"REGULAR","name":"DPS","status":"ACTIVE","account":{"uuid":"acc"},
        "budget":{"total":100,"used":3,"currencyCode":"USD"},"currentPeriod":{"startTime":"2026-01-01","endTime":"2026-12-31","daysRemaining":38}}"#;
    const COST: &str = r#"{"data":[{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":2,"currencyCode":"USD"},
        {"startTime":"2026-11-21T00:00:00Z","endTime":"2026-11-22T00:00:00Z","value":1,"currencyCode":"USD"}],"lastModifiedTime":"x"}"#;

    fn happy_routes(list: &str) -> Vec<(String, u16, String)> {
        vec![
            (TOKEN.into(), 200, r#"{"access_token":"tok","expires_in":300}"#.into()),
            (LIST.into(), 200, list.into()),
            (format!("{LIST}/s1"), 200, DETAILS.into()),
            (format!("{LIST}/s1/cost"), 200, COST.into()),
            (INGEST.into(), 202, String::new()),
        ]
    }

    fn api(routes: &[(String, u16, String)]) -> FakeApi {
        let borrowed: Vec<(&str, u16, &str)> = routes.iter().map(|(k, s, b)| (k.as_str(), *s, b.as_str())).collect();
        FakeApi::new(&borrowed)
    }

    #[test]
    fn an_account_is_read_transformed_and_ingested_in_four_reads_and_one_post() {
        let list = r#"{"data":[{"uuid":"old","type":"REGULAR","name":"o","status":"EXPIRED","startTime":"2025-01-01"},
                               {"uuid":"s1","type":"REGULAR","name":"DPS","status":"ACTIVE","startTime":"2026-01-01"}]}"#;
        let mut api = api(&happy_routes(list));
        let report = export_account(&plan(None), &mut api, &secrets()).unwrap();
        assert_eq!((report.events_built, report.events_sent, report.events_accepted, report.requests), (3, 3, 3, 5));
        assert_eq!(report.subscription_uuid.as_deref(), Some("s1"));
        assert_eq!(report.newest_day.as_deref(), Some("2026-11-22T00:00:00Z"));
        let token = String::from_utf8(api.sent[0].body.clone()).unwrap();
        assert!(token.contains("grant_type=client_credentials") && token.contains("scope=account-uac-read"));
        assert!(token.contains("resource=urn%3Adtaccount%3Aacc"));
        assert!(api.sent[1].headers.contains(&("authorization", "Bearer tok".into())));
        let ingest = api.sent.last().unwrap();
        assert!(ingest.headers.contains(&("authorization", "Api-Token dt0c01.PUB.token-secret".into())));
        let body: Vec<serde_json::Value> = serde_json::from_slice(&ingest.body).unwrap();
        assert_eq!(body[0]["event.type"], "dps.subscription.status");
        assert_eq!(body[1]["costToDate"], 1);
        assert_eq!(body[2]["costToDate"], 3);
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
                               {"uuid":"s1","type":"REGULAR","name":"b","status":"ACTIVE","startTime":"2026-01-01"}]}"#;
        let report = export_account(&plan(None), &mut api(&happy_routes(list)), &secrets()).unwrap();
        assert_eq!(report.subscription_uuid.as_deref(), Some("s1"));
        assert!(report.notes[0].contains("2 ACTIVE REGULAR subscriptions; exporting s1"), "{:?}", report.notes);
    }

    #[test]
    fn sso_rejections_surface_the_error_description() {
        let mut routes = happy_routes("{}");
        routes[0] = (
            TOKEN.into(),
            400,
            r#"{"errorCode":400,"error":"invalid_client","error_description":"Invalid client credentials"}"#.into(),
        );
        let error = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap_err();
        let ExportError::Authentication(message) = error else { panic!("{error:?}") };
        assert!(message.ends_with("HTTP 400: Invalid client credentials"), "{message}");
        assert!(!message.contains("client-secret-value"));
    }

    #[test]
    fn a_hybrid_account_that_cannot_read_shared_details_still_exports_its_cost() {
        let mut routes = happy_routes("{}");
        routes[2].1 = 404;
        routes[2].2 = r#"{"code":404,"message":"not found","errorsMap":{}}"#.into();
        let report = export_account(&plan(Some("s1")), &mut api(&routes), &secrets()).unwrap();
        assert_eq!(report.events_built, 2, "cost only, no status event");
        assert!(report.notes[0].contains("not readable"));
    }

    #[test]
    fn a_partial_ingest_success_counts_only_the_refused_events() {
        let mut routes = happy_routes(r#"{"data":[{"uuid":"s1","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#);
        routes[4] =
            (INGEST.into(), 400, r#"{"errors":[{"index":1,"id":"","source":"","message":"Invalid event"}]}"#.into());
        let report = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap();
        assert_eq!((report.events_sent, report.events_accepted, report.rejected.len()), (3, 2, 1));
        assert_eq!(report.rejected[0].message, "Invalid event");
    }

    #[test]
    fn a_failed_ingest_says_how_many_events_were_not_sent() {
        let mut routes = happy_routes(r#"{"data":[{"uuid":"s1","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#);
        routes[4] =
            (INGEST.into(), 403, r#"{"error":{"code":403,"message":"Token is missing required scope."}}"#.into());
        let report = export_account(&plan(None), &mut api(&routes), &secrets()).unwrap();
        assert_eq!(report.events_accepted, 0);
        assert_eq!(report.failures[0].events_not_sent, 3);
        assert_eq!(report.failures[0].message, "Token is missing required scope.");
    }

    #[test]
    fn an_invalid_cost_record_stops_the_account_naming_request_record_and_field() {
        let mut routes = happy_routes(r#"{"data":[{"uuid":"s1","type":"REGULAR","name":"DPS","status":"ACTIVE"}]}"#);
        routes[3].2 =
            r#"{"data":[{"startTime":"2026-11-22T00:00:00Z","endTime":"2026-11-23T00:00:00Z","value":null}]}"#.into();
        let mut api = api(&routes);
        let error = export_account(&plan(None), &mut api, &secrets()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid response: GET https://api/sub/v2/accounts/acc/subscriptions/s1/cost: data[0].value: expected a number, got null"
        );
        assert!(api.sent.iter().all(|r| r.method == http::Method::Get || r.url.contains("token")), "nothing ingested");
    }

    #[test]
    fn a_cluster_on_dps_licensing_is_a_clear_error() {
        let mut api = FakeApi::new(&[(
            "GET https://cluster/api/cluster/v2/clusterLicense",
            422,
            r#"{"error":{"code":422,"message":"Incompatible licensing model"}}"#,
        )]);
        let plan = ClusterPlan {
            name: "prod".into(),
            url: "https://cluster".into(),
            read_at: "2026-11-23".into(),
            target: plan(None).target,
        };
        let secrets = HashMap::from([("cluster-api-token".to_owned(), "dt0c01.C.x".to_owned())]);
        let error = export_cluster(&plan, &mut api, &secrets).unwrap_err();
        assert!(error.to_string().contains("cluster prod is not on classic licensing"), "{error}");
        assert!(api.sent[0].headers.contains(&("authorization", "Api-Token dt0c01.C.x".into())));
    }

    #[test]
    fn a_missing_secret_names_its_config_key() {
        let error = export_account(&plan(None), &mut FakeApi::new(&[]), &HashMap::new()).unwrap_err();
        assert_eq!(error.to_string(), "missing config: config key `account-client-secret` is not set");
    }
}
