//! The simulator held to the published contracts: every response body it serves, on every
//! endpoint, is validated against the published schema of that operation and status (copies in
//! `tests/contract/`, sources in its README), with the `jsonschema` crate (JSON Schema 2020-12,
//! formats checked). OpenAPI 3.0's `nullable: true` is rewritten as `anyOf [schema, null]`;
//! `$ref: '#/components/schemas/X'` resolves against the spec's own `components`.
//!
//! Where reality is known to differ from the published schema (`shared/reference/openapi/README.md`,
//! "Where the spec and reality are known to differ"), the schema is relaxed by the entries of
//! [`DEVIATIONS`] only, each with its reason; every other departure fails the test. Each
//! deviation must also be seen (a served body the unrelaxed schema refuses only there), so that
//! none stays in the list once the simulator no longer needs it.
//!
//! Where no schema is published (DPS error bodies, SSO errors, the ingest 202), the test says so
//! and checks the shape the reference notes document, with a schema written here and labelled
//! as not published.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use dtcost_sim::{Fault, FaultRule, Licensing, Scenario, Service, Simulator};
use serde_json::{Value, json};
use support::{Reply, get, request};

/// A spec file of `tests/contract/`, parsed.
fn spec(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/contract").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const DPS: &str = "dps-openapi.api-evangelist-038e13b6.json";
const ENV_MANAGEMENT: &str = "environment-management-openapi.api-evangelist-038e13b6.json";
const INGEST: &str = "bizevents-ingest.subset-of-leeshan87-env-v2-2023.openapi.json";
const LICENSE: &str = "cluster-license.docs-derived.openapi.json";
const SSO: &str = "sso-token.docs-derived.openapi.json";
const FORECAST_JSON_SCHEMA: &str = "json-schema/dynatrace-forecast-schema.json";
const SUBSCRIPTION_JSON_SCHEMA: &str = "json-schema/dynatrace-subscription-dto-schema.json";
const V3_JSON_SCHEMA: &str = "json-schema/dynatrace-subscription-environment-cost-list-v3-dto-schema.json";

/// A known difference between a published schema and what the real API sends.
struct Deviation {
    /// The spec file it applies to.
    file: &'static str,
    /// JSON pointer of the property's schema in that file.
    property: &'static str,
    /// Served as `null` too.
    nullable: bool,
    /// Also absent (taken out of the parent's `required`).
    optional: bool,
    why: &'static str,
}

const SUBTYPE_NULL: &str =
    "openapi/README.md: the walk-through prints a real active subscription with \"subType\": null";
const END_OF_WALK: &str = "openapi/README.md: v3 nextPageKey is a required string in the spec; what the last page carries is not \
     published (dynatrace-api.md §2.3: treat null, \"\" and absent as the end; the simulator serves all three)";
const SAAS_CLUSTER: &str = "openapi/README.md: clusterId (SaaS rows) is a required string in the spec; SaaS rows have no cluster \
     (the simulator serves null, dynatrace-api.md §2.6)";
const NO_BUDGET_DATE: &str = "ASSUMPTION (simulator): forecastBudgetDate is a required date-time, but a forecast within the budget \
     has no such day; the simulator serves null (how the real API says so is unverified)";

const DEVIATIONS: &[Deviation] = &[
    Deviation {
        file: DPS,
        property: "/components/schemas/SubscriptionSummaryDto/properties/subType",
        nullable: true,
        optional: false,
        why: SUBTYPE_NULL,
    },
    Deviation {
        file: DPS,
        property: "/components/schemas/SubscriptionDto/properties/subType",
        nullable: true,
        optional: false,
        why: SUBTYPE_NULL,
    },
    Deviation {
        file: SUBSCRIPTION_JSON_SCHEMA,
        property: "/properties/subType",
        nullable: true,
        optional: false,
        why: SUBTYPE_NULL,
    },
    Deviation {
        file: DPS,
        property: "/components/schemas/SubscriptionEnvironmentCostListV3Dto/properties/nextPageKey",
        nullable: true,
        optional: true,
        why: END_OF_WALK,
    },
    Deviation {
        file: V3_JSON_SCHEMA,
        property: "/properties/nextPageKey",
        nullable: true,
        optional: true,
        why: END_OF_WALK,
    },
    Deviation {
        file: DPS,
        property: "/components/schemas/SubscriptionEnvironmentCostV3Dto/properties/clusterId",
        nullable: true,
        optional: false,
        why: SAAS_CLUSTER,
    },
    Deviation {
        file: V3_JSON_SCHEMA,
        property: "/$defs/SubscriptionEnvironmentCostV3Dto/properties/clusterId",
        nullable: true,
        optional: false,
        why: SAAS_CLUSTER,
    },
    Deviation {
        file: DPS,
        property: "/components/schemas/SubscriptionEnvironmentUsageListV3Dto/properties/nextPageKey",
        nullable: true,
        optional: true,
        why: END_OF_WALK,
    },
    Deviation {
        file: DPS,
        property: "/components/schemas/SubscriptionEnvironmentUsageV3Dto/properties/clusterId",
        nullable: true,
        optional: false,
        why: SAAS_CLUSTER,
    },
    Deviation {
        file: DPS,
        property: "/components/schemas/Forecast/properties/forecastBudgetDate",
        nullable: true,
        optional: false,
        why: NO_BUDGET_DATE,
    },
    Deviation {
        file: FORECAST_JSON_SCHEMA,
        property: "/properties/forecastBudgetDate",
        nullable: true,
        optional: false,
        why: NO_BUDGET_DATE,
    },
];

/// Rewrites OpenAPI 3.0 `nullable: true` as JSON Schema: `anyOf [the schema, {type: null}]`.
fn nullable_to_json_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                nullable_to_json_schema(child);
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                let schema = Value::Object(std::mem::take(map));
                map.insert("anyOf".into(), json!([schema, {"type": "null"}]));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_to_json_schema),
        _ => {}
    }
}

/// Applies the deviations of `file` to its parsed document, all but the one at `skip` (an index
/// into [`DEVIATIONS`]).
fn relax(file: &str, document: &mut Value, skip: Option<usize>) {
    for (_, deviation) in DEVIATIONS.iter().enumerate().filter(|(i, d)| d.file == file && Some(*i) != skip) {
        let property = document
            .pointer_mut(deviation.property)
            .unwrap_or_else(|| panic!("{file}: no {} (the deviation list is stale)", deviation.property));
        if deviation.nullable {
            property["nullable"] = json!(true);
        }
        if deviation.optional {
            let (parent, name) = deviation.property.rsplit_once("/properties/").expect("a property pointer");
            let required = document.pointer_mut(&format!("{parent}/required")).and_then(Value::as_array_mut);
            required.expect("the parent lists required properties").retain(|r| r != name);
        }
    }
}

/// Escapes one JSON pointer segment.
fn segment(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

/// Where a schema comes from.
#[derive(Debug, Clone)]
enum Source {
    /// The response schema an OpenAPI operation declares: file, path, method, status, media type.
    Response(&'static str, &'static str, &'static str, u16, &'static str),
    /// A component schema of an OpenAPI file (for statuses the operation leaves undeclared).
    Component(&'static str, &'static str),
    /// A whole JSON Schema file.
    File(&'static str),
    /// Not published: a schema written here from the reference notes, with where it comes from.
    Unpublished(&'static str, fn() -> Value),
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Response(file, path, method, status, media) => {
                format!("{file} {method} {path} {status} {media}")
            }
            Source::Component(file, name) => format!("{file} #/components/schemas/{name}"),
            Source::File(file) => file.to_string(),
            Source::Unpublished(note, _) => format!("NONE PUBLISHED: checked against {note}"),
        }
    }

    fn file(&self) -> Option<&'static str> {
        match self {
            Source::Response(file, ..) | Source::Component(file, _) | Source::File(file) => Some(file),
            Source::Unpublished(..) => None,
        }
    }

    /// The schema relaxed by the deviations (all but the one at `skip`), as one self-contained
    /// document.
    fn schema(&self, skip: Option<usize>) -> Value {
        let Some(file) = self.file() else {
            let Source::Unpublished(_, schema) = self else { unreachable!() };
            return schema();
        };
        let mut document = spec(file);
        relax(file, &mut document, skip);
        nullable_to_json_schema(&mut document);
        let pointer = match self {
            Source::Response(_, path, method, status, media) => {
                format!("/paths/{}/{method}/responses/{status}/content/{}/schema", segment(path), segment(media))
            }
            Source::Component(_, name) => format!("/components/schemas/{name}"),
            _ => return document,
        };
        let mut schema =
            document.pointer(&pointer).cloned().unwrap_or_else(|| panic!("{file} has no schema at {pointer}"));
        // `$ref: '#/components/schemas/X'` resolves against the root: carry the spec's components.
        if let (Some(map), Some(components)) = (schema.as_object_mut(), document.get("components")) {
            map.insert("components".into(), components.clone());
        }
        schema
    }
}

/// A validator for `schema`: JSON Schema 2020-12, formats (`date-time`, `uri`) checked.
fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema does not compile: {e}"))
}

/// What the contract test checked and saw.
#[derive(Default)]
struct Checks {
    /// (endpoint, status, schema), in the order checked (deduplicated).
    covered: Vec<(String, u16, String)>,
    /// Deviations (indexes into [`DEVIATIONS`]) a served body needed.
    needed: BTreeSet<usize>,
    /// Compiled validators by schema label and skipped deviation.
    validators: HashMap<(String, Option<usize>), jsonschema::Validator>,
}

impl Checks {
    /// The messages of every error `body` gets against `source` relaxed by all deviations but `skip`.
    fn errors(&mut self, source: &Source, skip: Option<usize>, body: &Value) -> Vec<String> {
        let validator =
            self.validators.entry((source.label(), skip)).or_insert_with(|| validator(&source.schema(skip)));
        validator.iter_errors(body).map(|e| format!("at {:?}: {e}", e.instance_path().to_string())).collect()
    }

    /// Validates `reply` (status `status`) against `source` relaxed by the deviations, and notes
    /// which deviations it needed (without one of them, the schema refuses the body).
    fn check(&mut self, endpoint: &str, reply: &Reply, status: u16, source: Source) -> Value {
        assert_eq!(reply.status, status, "{endpoint}: {}", String::from_utf8_lossy(&reply.body));
        // The media type the operation declares (JSON where it declares none).
        let declared = match &source {
            Source::Response(.., media) => media.split(';').next().unwrap_or(media),
            _ => "application/json",
        };
        let served = reply.headers.iter().find(|(name, _)| name == "content-type").map(|(_, v)| v.as_str());
        let essence = served.and_then(|v| v.split(';').next()).map(str::trim);
        assert_eq!(essence, Some(declared), "{endpoint} {status}: content type {served:?}");
        let body = reply.json();
        let problems = self.errors(&source, None, &body);
        assert!(problems.is_empty(), "{endpoint} {status} breaks {}:\n{}\n{body}", source.label(), problems.join("\n"));
        if let Some(file) = source.file() {
            for (index, _) in DEVIATIONS.iter().enumerate().filter(|(_, d)| d.file == file) {
                if !self.errors(&source, Some(index), &body).is_empty() {
                    self.needed.insert(index);
                }
            }
        }
        let entry = (endpoint.to_owned(), status, source.label());
        if !self.covered.contains(&entry) {
            self.covered.push(entry);
        }
        body
    }
}

/// The SSO's error body (dynatrace-api.md §1.3: the RFC 6749 fields plus Dynatrace's
/// `errorCode`/`message`/`issueId`, from dynatrace-mcp's `OAuthTokenResponse` type).
fn sso_error_schema() -> Value {
    json!({"type": "object", "required": ["error", "error_description", "errorCode", "message", "issueId"],
           "properties": {"error": {"type": "string", "minLength": 1}, "error_description": {"type": "string"},
                          "errorCode": {"type": "integer"}, "message": {"type": "string"}, "issueId": {"type": "string"}}})
}

/// The DPS error body: the 2023 Account Management spec's `ErrorDto` (dynatrace-api.md §2.1:
/// `code`, `message`, `errorsMap`, all required); the current DPS spec documents the body as "-".
/// The environment management spec documents no error response at all; ASSUMPTION: being part
/// of the same Account Management API, it answers with the same body.
fn dps_error_schema() -> Value {
    json!({"type": "object", "required": ["code", "message", "errorsMap"],
           "properties": {"code": {"type": "number"}, "message": {"type": "string"},
                          "errorsMap": {"type": "object", "additionalProperties": {"type": "string"}}}})
}

/// The ingest 202: the operation declares no schema, only the example `{}` (dynatrace-api.md §4.4).
fn ingest_accepted_schema() -> Value {
    json!({"type": "object", "maxProperties": 0})
}

const SSO_ERROR: Source = Source::Unpublished("dynatrace-api.md §1.3 (SSO error body)", sso_error_schema);
const DPS_ERROR: Source = Source::Unpublished("dynatrace-api.md §2.1 (2023 ErrorDto)", dps_error_schema);
const INGEST_202: Source = Source::Unpublished("the operation's example {} (no 202 schema)", ingest_accepted_schema);

const SUBSCRIPTIONS: &str = "/sub/v2/accounts/{account-uuid}/subscriptions";
const SUBSCRIPTION: &str = "/sub/v2/accounts/{account-uuid}/subscriptions/{subscription-uuid}";
const COST: &str = "/sub/v2/accounts/{account-uuid}/subscriptions/{subscription-uuid}/cost";
const FORECAST: &str = "/sub/v2/accounts/{account-uuid}/subscriptions/forecast";
const V3: &str = "/sub/v3/accounts/{account-uuid}/subscriptions/{subscription-uuid}/environments/cost";
const USAGE: &str = "/sub/v2/accounts/{account-uuid}/subscriptions/{subscription-uuid}/usage";
const V3_USAGE: &str = "/sub/v3/accounts/{account-uuid}/subscriptions/{subscription-uuid}/environments/usage";
const RATE_CARDS: &str = "/sub/v1/accounts/{account-uuid}/rate-cards";
const ENVIRONMENTS: &str = "/env/v2/accounts/{account-uuid}/environments";
const CLUSTERS: &str = "/env/v2/accounts/{account-uuid}/clusters";
const TOKEN: &str = "/sso/oauth2/token";
const BIZEVENTS: &str = "/bizevents/ingest";
const LICENSE_PATH: &str = "/api/cluster/v2/clusterLicense";

fn dps(path: &'static str) -> Source {
    Source::Response(DPS, path, "get", 200, "application/json")
}

fn env_management(path: &'static str) -> Source {
    Source::Response(ENV_MANAGEMENT, path, "get", 200, "application/json")
}

fn scenario() -> Scenario {
    let mut scenario = Scenario::generate(&dtcost_sim::Generate {
        accounts: 3,
        days: 40,
        clusters: 2,
        shared_subscription: false,
        last_day: time::Date::from_calendar_date(2026, time::Month::November, 22).unwrap(),
        seed: 7,
    });
    scenario.clusters[1].licensing = Licensing::Dps;
    scenario.max_ingest_bytes = 64 * 1024;
    // The third account's client may not list environments (its tokens get the 403).
    scenario.accounts[2].scopes.retain(|scope| scope != "account-env-read");
    scenario
}

async fn sso(sim: &Simulator, form: &str) -> Reply {
    request("POST", &sim.sso_url, &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes()).await
}

fn account_form(scenario: &Scenario, index: usize, scope: Option<&str>) -> String {
    let account = &scenario.accounts[index];
    let scope = scope.map(|s| format!("&scope={s}")).unwrap_or_default();
    format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&resource=urn:dtaccount:{}{scope}",
        account.client_id, account.client_secret, account.uuid
    )
}

async fn ingest(sim: &Simulator, authorization: &str, content_type: &str, body: &[u8]) -> Reply {
    let url = format!("{}/api/v2/bizevents/ingest", sim.environment_url);
    request("POST", &url, &[("Authorization", authorization), ("Content-Type", content_type)], body).await
}

/// Checks every endpoint; returns what was covered.
async fn check_everything(sim: &Simulator, scenario: &Scenario) -> Checks {
    let mut checks = Checks::default();
    let sso_200 = Source::Response(SSO, TOKEN, "post", 200, "application/json");

    // ---- SSO ----
    let with_scope = checks.check(
        TOKEN,
        &sso(sim, &account_form(scenario, 0, Some("account-uac-read"))).await,
        200,
        sso_200.clone(),
    );
    let without = checks.check(TOKEN, &sso(sim, &account_form(scenario, 0, None)).await, 200, sso_200.clone());
    assert_eq!(without["scope"], "account-uac-read account-env-read", "no scope asked: the client's scopes");
    let token = with_scope["access_token"].as_str().unwrap().to_owned();
    let no_scope_token = without["access_token"].as_str().unwrap().to_owned();
    let ingest_form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope=storage:events:write",
        scenario.ingest.client_id, scenario.ingest.client_secret
    );
    let ingest_token = checks.check(TOKEN, &sso(sim, &ingest_form).await, 200, sso_200.clone())["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad_secret =
        account_form(scenario, 0, None).replace(&scenario.accounts[0].client_secret, "dt0s02.WRONG.secret");
    checks.check(TOKEN, &sso(sim, &bad_secret).await, 400, SSO_ERROR);
    let refused =
        checks.check(TOKEN, &sso(sim, &account_form(scenario, 0, Some("storage:events:write"))).await, 400, SSO_ERROR);
    assert!(refused["error_description"].as_str().unwrap().contains("missing following scopes [storage:events:write]"));

    // ---- Account Management (DPS) ----
    for (index, account) in scenario.accounts.iter().enumerate() {
        let token = if index == 0 {
            no_scope_token.clone()
        } else {
            sso(sim, &account_form(scenario, index, None)).await.json()["access_token"].as_str().unwrap().to_owned()
        };
        let a = &account.uuid;
        checks.check(
            SUBSCRIPTIONS,
            &get(sim, &token, &format!("/sub/v2/accounts/{a}/subscriptions")).await,
            200,
            dps(SUBSCRIPTIONS),
        );
        for s in &account.subscriptions {
            let reply = get(sim, &token, &format!("/sub/v2/accounts/{a}/subscriptions/{s}")).await;
            checks.check(SUBSCRIPTION, &reply, 200, dps(SUBSCRIPTION));
            checks.check(SUBSCRIPTION, &reply, 200, Source::File(SUBSCRIPTION_JSON_SCHEMA));
        }
        let s = &account.subscriptions[0];
        let cost = checks.check(
            COST,
            &get(sim, &token, &format!("/sub/v2/accounts/{a}/subscriptions/{s}/cost")).await,
            200,
            dps(COST),
        );
        assert!(cost["data"].as_array().unwrap().iter().any(|r| r["lastBookingDate"] == r["startTime"]));
        let forecast = get(sim, &token, &format!("/sub/v2/accounts/{a}/subscriptions/forecast")).await;
        if account.forecast.is_some() {
            checks.check(FORECAST, &forecast, 200, dps(FORECAST));
            checks.check(FORECAST, &forecast, 200, Source::File(FORECAST_JSON_SCHEMA));
        } else {
            checks.check(FORECAST, &forecast, 404, DPS_ERROR);
        }
        checks.check(
            USAGE,
            &get(sim, &token, &format!("/sub/v2/accounts/{a}/subscriptions/{s}/usage")).await,
            200,
            dps(USAGE),
        );
        checks.check(
            RATE_CARDS,
            &get(sim, &token, &format!("/sub/v1/accounts/{a}/rate-cards")).await,
            200,
            dps(RATE_CARDS),
        );
        let environments = get(sim, &token, &format!("/env/v2/accounts/{a}/environments")).await;
        let clusters = get(sim, &token, &format!("/env/v2/accounts/{a}/clusters")).await;
        if account.scopes.iter().any(|scope| scope == "account-env-read") {
            checks.check(ENVIRONMENTS, &environments, 200, env_management(ENVIRONMENTS));
            checks.check(CLUSTERS, &clusters, 200, env_management(CLUSTERS));
        } else {
            checks.check(ENVIRONMENTS, &environments, 403, DPS_ERROR);
            checks.check(CLUSTERS, &clusters, 403, DPS_ERROR);
        }
        // v3: walks of both views with page sizes that end on each of the three end markers.
        for (endpoint, view, json_schema) in
            [(V3, "cost", Some(V3_JSON_SCHEMA)), (V3_USAGE, "usage", None::<&'static str>)]
        {
            let v3 = format!("/sub/v3/accounts/{a}/subscriptions/{s}/environments/{view}");
            for size in [1000, 7, 50, 3] {
                let mut reply = get(
                    sim,
                    &token,
                    &format!("{v3}?startTime=2026-11-01T00:00:00Z&endTime=2026-11-23T00:00:00Z&page-size={size}"),
                )
                .await;
                loop {
                    let mut body = checks.check(endpoint, &reply, 200, dps(endpoint));
                    if let Some(file) = json_schema {
                        body = checks.check(endpoint, &reply, 200, Source::File(file));
                    }
                    match body["nextPageKey"].as_str() {
                        Some(key) if !key.is_empty() => {
                            reply = get(sim, &token, &format!("{v3}?page-key={key}")).await;
                        }
                        _ => break,
                    }
                }
            }
        }
    }
    let a = &scenario.accounts[0].uuid;
    let s = &scenario.accounts[0].subscriptions[0];
    let v3 = format!("/sub/v3/accounts/{a}/subscriptions/{s}/environments/cost");
    let first =
        get(sim, &token, &format!("{v3}?startTime=2026-11-01T00:00:00Z&endTime=2026-11-23T00:00:00Z&page-size=2"))
            .await;
    let key = first.json()["nextPageKey"].as_str().unwrap().to_owned();
    for (query, parameter) in [
        ("endTime=2026-11-23T00:00:00Z".to_owned(), "startTime"),
        ("startTime=2026-11-01&endTime=2026-11-23T00:00:00Z".to_owned(), "startTime"),
        (format!("page-key={key}&page-size=2"), "page-size"),
        ("page-key=not-a-key".to_owned(), "page-key"),
    ] {
        let body = checks.check(V3, &get(sim, &token, &format!("{v3}?{query}")).await, 400, DPS_ERROR);
        assert!(body["errorsMap"][parameter].is_string(), "{query}: {body}");
    }
    // A cost walk's key is refused by the usage walk.
    let usage_walk = format!("/sub/v3/accounts/{a}/subscriptions/{s}/environments/usage?page-key={key}");
    let body = checks.check(V3_USAGE, &get(sim, &token, &usage_walk).await, 400, DPS_ERROR);
    assert!(body["errorsMap"]["page-key"].is_string(), "{body}");
    let anonymous = request("GET", &format!("{}/sub/v2/accounts/{a}/subscriptions", sim.api_url), &[], b"").await;
    checks.check(SUBSCRIPTIONS, &anonymous, 401, DPS_ERROR);
    checks.check(
        SUBSCRIPTIONS,
        &get(sim, &ingest_token, &format!("/sub/v2/accounts/{a}/subscriptions")).await,
        403,
        DPS_ERROR,
    );
    let other = &scenario.accounts[1].subscriptions[0];
    checks.check(
        COST,
        &get(sim, &token, &format!("/sub/v2/accounts/{a}/subscriptions/{other}/cost")).await,
        404,
        DPS_ERROR,
    );
    checks.check(
        SUBSCRIPTION,
        &get(sim, &token, &format!("/sub/v2/accounts/{a}/subscriptions/{other}")).await,
        404,
        DPS_ERROR,
    );

    // ---- Environment: bizevents ingest ----
    let api_token = format!("Api-Token {}", scenario.ingest.api_token);
    let bearer = format!("Bearer {ingest_token}");
    let json_type = "application/json; charset=utf-8";
    let ingest_400 = Source::Response(INGEST, BIZEVENTS, "post", 400, "application/json; charset=utf-8");
    let envelope = Source::Component(INGEST, "ErrorEnvelope");
    for authorization in [&api_token, &bearer] {
        checks.check(BIZEVENTS, &ingest(sim, authorization, json_type, br#"[{"a":1},{"b":2}]"#).await, 202, INGEST_202);
    }
    let cloud_event = br#"{"specversion":"1.0","id":"1","source":"dtcost","type":"dps.test","data":{"x":1}}"#;
    checks.check(
        BIZEVENTS,
        &ingest(sim, &api_token, "application/cloudevent+json", cloud_event).await,
        202,
        INGEST_202,
    );
    let partial =
        checks.check(BIZEVENTS, &ingest(sim, &api_token, json_type, br#"[{"a":1},7]"#).await, 400, ingest_400.clone());
    assert_eq!(partial["errors"][0]["index"], 1);
    for fault in [Fault::RefuseFirstEvent, Fault::RefuseFirstEventWithoutIndex] {
        sim.inject(FaultRule { service: Some(Service::Environment), fault: fault.clone(), times: 1 });
        let body = checks.check(
            BIZEVENTS,
            &ingest(sim, &bearer, json_type, br#"[{"a":1},{"b":2}]"#).await,
            400,
            ingest_400.clone(),
        );
        assert_eq!(body["errors"][0].get("index").is_some(), matches!(fault, Fault::RefuseFirstEvent), "{body}");
    }
    let batch = br#"[{"specversion":"1.0","id":"","source":"s","type":"t"}]"#;
    checks.check(
        BIZEVENTS,
        &ingest(sim, &api_token, "application/cloudevent-batch+json", batch).await,
        400,
        ingest_400.clone(),
    );
    checks.check(BIZEVENTS, &ingest(sim, &api_token, json_type, b"{not json").await, 400, envelope.clone());
    checks.check(BIZEVENTS, &ingest(sim, "", json_type, b"{}").await, 401, envelope.clone());
    checks.check(BIZEVENTS, &ingest(sim, "Api-Token dt0c01.WRONG.x", json_type, b"{}").await, 401, envelope.clone());
    checks.check(BIZEVENTS, &ingest(sim, &format!("Bearer {token}"), json_type, b"{}").await, 403, envelope.clone());
    let big = format!("[{}]", vec![r#"{"k":"0123456789abcdef"}"#; 5000].join(","));
    checks.check(BIZEVENTS, &ingest(sim, &api_token, json_type, big.as_bytes()).await, 413, envelope.clone());
    checks.check(BIZEVENTS, &ingest(sim, &api_token, "text/plain", b"{}").await, 415, envelope.clone());
    // Only on *.apps.dynatrace.com: not on this classic environment.
    let platform = format!("{}/platform/classic/environment-api/v2/bizevents/ingest", sim.environment_url);
    let reply = request("POST", &platform, &[("Authorization", &bearer), ("Content-Type", json_type)], b"{}").await;
    assert_eq!(reply.status, 404);

    // ---- Managed clusters ----
    for (index, cluster) in scenario.clusters.iter().enumerate() {
        let url = format!("{}{LICENSE_PATH}", sim.cluster_urls[index]);
        let auth = format!("Api-Token {}", cluster.api_token);
        let reply = request("GET", &url, &[("Authorization", &auth)], b"").await;
        match cluster.licensing {
            Licensing::Classic(_) => {
                checks.check(
                    LICENSE_PATH,
                    &reply,
                    200,
                    Source::Response(LICENSE, LICENSE_PATH, "get", 200, "application/json"),
                );
            }
            Licensing::Dps => {
                checks.check(LICENSE_PATH, &reply, 422, Source::Component(LICENSE, "ErrorEnvelope"));
            }
        }
        let anonymous = request("GET", &url, &[], b"").await;
        checks.check(LICENSE_PATH, &anonymous, 401, Source::Component(LICENSE, "ErrorEnvelope"));
    }
    checks
}

#[tokio::test]
async fn every_response_body_follows_the_published_contract() {
    let scenario = scenario();
    let sim = Simulator::start(scenario.clone()).await.unwrap();
    let checks = check_everything(&sim, &scenario).await;
    println!("contract coverage (endpoint, status, schema):");
    for (endpoint, status, schema) in &checks.covered {
        println!("  {endpoint} {status} {schema}");
    }
    let covered: BTreeSet<(&str, u16)> = checks.covered.iter().map(|(e, s, _)| (e.as_str(), *s)).collect();
    let expected: BTreeSet<(&str, u16)> = [
        (TOKEN, 200),
        (TOKEN, 400),
        (SUBSCRIPTIONS, 200),
        (SUBSCRIPTIONS, 401),
        (SUBSCRIPTIONS, 403),
        (SUBSCRIPTION, 200),
        (SUBSCRIPTION, 404),
        (COST, 200),
        (COST, 404),
        (FORECAST, 200),
        (FORECAST, 404),
        (V3, 200),
        (V3, 400),
        (USAGE, 200),
        (V3_USAGE, 200),
        (V3_USAGE, 400),
        (RATE_CARDS, 200),
        (ENVIRONMENTS, 200),
        (ENVIRONMENTS, 403),
        (CLUSTERS, 200),
        (CLUSTERS, 403),
        (BIZEVENTS, 202),
        (BIZEVENTS, 400),
        (BIZEVENTS, 401),
        (BIZEVENTS, 403),
        (BIZEVENTS, 413),
        (BIZEVENTS, 415),
        (LICENSE_PATH, 200),
        (LICENSE_PATH, 401),
        (LICENSE_PATH, 422),
    ]
    .into_iter()
    .collect();
    assert_eq!(covered, expected);
    // Every listed deviation is one the simulator's bodies need: none is stale.
    let stale: Vec<String> = (0..DEVIATIONS.len())
        .filter(|i| !checks.needed.contains(i))
        .map(|i| format!("{} {}", DEVIATIONS[i].file, DEVIATIONS[i].property))
        .collect();
    assert!(stale.is_empty(), "deviations listed but never needed: {stale:?}");
    println!("deviations from the published schemas (all needed):");
    for deviation in DEVIATIONS {
        println!("  {} {}: {}", deviation.file, deviation.property, deviation.why);
    }
}

/// The check fails when the simulator drifts: each edit of the served data below breaks it.
#[tokio::test]
async fn a_drifting_simulator_fails_the_contract() {
    type Edit = fn(&mut Scenario);
    let edits: [(&str, Edit); 5] = [
        ("a cost record without currencyCode", |s| {
            let subscription = s.accounts[0].subscriptions[0].clone();
            s.accounts[0].costs.get_mut(&subscription).unwrap()[0].as_object_mut().unwrap().remove("currencyCode");
        }),
        ("a budget total as a string", |s| {
            let subscription = s.accounts[0].subscriptions[0].clone();
            s.subscriptions.get_mut(&subscription).unwrap()["budget"]["total"] = json!("100000");
        }),
        ("a forecast without forecastCreatedAt", |s| {
            s.accounts[0].forecast.as_mut().unwrap().as_object_mut().unwrap().remove("forecastCreatedAt");
        }),
        ("a forecastCreatedAt that is no date-time", |s| {
            s.accounts[0].forecast.as_mut().unwrap()["forecastCreatedAt"] = json!("yesterday");
        }),
        ("a usageStatus the docs do not list", |s| {
            let Licensing::Classic(license) = &mut s.clusters[0].licensing else { panic!("classic") };
            license["usageOfHostUnits"]["usageStatus"] = json!("USING_FLEX_QUOTA");
        }),
    ];
    for (what, edit) in edits {
        let scenario = scenario();
        let sim = Simulator::start(scenario.clone()).await.unwrap();
        sim.update(edit);
        let outcome = tokio::spawn(async move {
            let _ = check_everything(&sim, &scenario).await;
        })
        .await;
        let panic = outcome.expect_err(&format!("{what}: the contract check still passes")).into_panic();
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains(" breaks "), "{what}: failed for another reason: {message}");
    }
}
