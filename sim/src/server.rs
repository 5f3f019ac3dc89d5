//! The fake Dynatrace services, each on its own loopback port as the real ones are on their own
//! hosts: the SSO, the Account Management (DPS) API, one environment (bizevents ingest) and one
//! Managed cluster per configured cluster.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::data::{Licensing, Scenario};

/// The ingest API's documented payload cap ("5 MB"); read as MiB, the more lenient reading.
pub const MAX_INGEST_BYTES: usize = 5 * 1024 * 1024;

/// Which fake service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Sso,
    AccountApi,
    Environment,
    Cluster(usize),
}

/// One request as the simulator saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub service: Service,
    pub method: String,
    pub path: String,
    pub status: u16,
}

struct Grant {
    client_id: String,
    account: Option<String>,
    scopes: Vec<String>,
    expires: Instant,
}

/// A failure the simulator can be told to produce, as the real services do under load.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <seconds>`, or, without, `X-RateLimit-Reset` (microseconds
    /// since the epoch) 200 ms ahead, as the environment and cluster APIs document.
    Throttle { retry_after_seconds: Option<u64> },
    /// This status (502, 503, 504, ...) with the service's error body.
    Status(u16),
    /// The connection closes without an answer.
    Drop,
    /// The answer comes after this delay.
    Slow(std::time::Duration),
    /// A 200 whose JSON body is cut short.
    Truncated,
    /// Ingest: the request's first event is refused (400 partial success), the others stored.
    RefuseFirstEvent,
}

/// Which requests get a fault: those of `service` (any when `None`), `times` times at most.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub service: Option<Service>,
    pub fault: Fault,
    pub times: u32,
}

#[derive(Default)]
struct Recorded {
    grants: HashMap<String, Grant>,
    accepted: Vec<Value>,
    log: Vec<LoggedRequest>,
    issued: u64,
    faults: Vec<FaultRule>,
    /// Ingest requests whose first event is to be refused.
    refusals: u32,
}

struct Shared {
    scenario: Mutex<Scenario>,
    recorded: Mutex<Recorded>,
}

impl Shared {
    fn recorded(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn scenario(&self) -> MutexGuard<'_, Scenario> {
        self.scenario.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running simulator. Dropping it stops the servers.
pub struct Simulator {
    /// SSO token endpoint: `<sso>/sso/oauth2/token`.
    pub sso_url: String,
    pub api_url: String,
    pub environment_url: String,
    pub cluster_urls: Vec<String>,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Simulator {
    /// Binds every service to `127.0.0.1:0` and serves in the current tokio runtime.
    pub async fn start(scenario: Scenario) -> std::io::Result<Simulator> {
        let clusters = scenario.clusters.len();
        let shared = Arc::new(Shared { scenario: Mutex::new(scenario), recorded: Mutex::default() });
        let mut tasks = Vec::new();
        let mut serve = |router: Router<Arc<Shared>>, service: Service, listener: tokio::net::TcpListener| {
            let router = router
                .layer(middleware::from_fn_with_state((shared.clone(), service), log_request))
                .with_state(shared.clone());
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            }));
        };
        let (sso, sso_url) = bind().await?;
        serve(Router::new().route("/sso/oauth2/token", post(token)), Service::Sso, sso);
        let (api, api_url) = bind().await?;
        serve(
            Router::new()
                .route("/sub/v2/accounts/{account}/subscriptions", get(subscriptions))
                .route("/sub/v2/accounts/{account}/subscriptions/{subscription}", get(subscription))
                .route("/sub/v2/accounts/{account}/subscriptions/{subscription}/cost", get(cost)),
            Service::AccountApi,
            api,
        );
        let (env, environment_url) = bind().await?;
        serve(
            Router::new()
                .route("/api/v2/bizevents/ingest", post(ingest_classic))
                .route("/platform/classic/environment-api/v2/bizevents/ingest", post(ingest_platform))
                // Bodies over the cap must reach the handler so that it can answer 413 itself.
                .layer(DefaultBodyLimit::max(4 * MAX_INGEST_BYTES)),
            Service::Environment,
            env,
        );
        let mut cluster_urls = Vec::new();
        for index in 0..clusters {
            let (listener, url) = bind().await?;
            let router = Router::new().route(
                "/api/cluster/v2/clusterLicense",
                get(move |state, headers, query| cluster_license(state, headers, query, index)),
            );
            serve(router, Service::Cluster(index), listener);
            cluster_urls.push(url);
        }
        Ok(Simulator {
            sso_url: format!("{sso_url}/sso/oauth2/token"),
            api_url,
            environment_url,
            cluster_urls,
            shared,
            tasks,
        })
    }

    /// The events the ingest API accepted, in arrival order.
    pub fn accepted_events(&self) -> Vec<Value> {
        self.shared.recorded().accepted.clone()
    }

    /// How many events the ingest API accepted (cheaper than `accepted_events().len()`).
    pub fn accepted_count(&self) -> usize {
        self.shared.recorded().accepted.len()
    }

    /// Every request served, in order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.recorded().log.clone()
    }

    /// The data served (a copy).
    pub fn scenario(&self) -> Scenario {
        self.shared.scenario().clone()
    }

    /// Makes the next matching requests fail (rules apply in the order given).
    pub fn inject(&self, rule: FaultRule) {
        self.shared.recorded().faults.push(rule);
    }

    /// Changes the data served from now on (e.g. a late booking between two runs).
    pub fn update(&self, change: impl FnOnce(&mut Scenario)) {
        change(&mut self.shared.scenario());
    }
}

async fn bind() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

async fn log_request(
    State((shared, service)): State<(Arc<Shared>, Service)>,
    request: Request,
    next: Next,
) -> Response {
    let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
    let fault = {
        let mut recorded = shared.recorded();
        let rule = recorded.faults.iter_mut().find(|r| r.times > 0 && r.service.is_none_or(|s| s == service));
        rule.map(|rule| {
            rule.times -= 1;
            rule.fault.clone()
        })
    };
    let response = match fault {
        None => next.run(request).await,
        Some(fault) => faulty(&shared, service, fault, request, next).await,
    };
    shared.recorded().log.push(LoggedRequest { service, method, path, status: response.status().as_u16() });
    response
}

async fn faulty(shared: &Shared, service: Service, fault: Fault, request: Request, next: Next) -> Response {
    let error = |status: u16, message: &str| match service {
        Service::Sso => sso_error_status(status, "temporarily_unavailable", message),
        Service::AccountApi => dps_error(status, message),
        Service::Environment | Service::Cluster(_) => env_error(status, message),
    };
    match fault {
        Fault::Throttle { retry_after_seconds } => {
            let mut response = error(429, "Too Many Requests");
            let headers = response.headers_mut();
            match retry_after_seconds {
                Some(seconds) => {
                    headers.insert(header::RETRY_AFTER, seconds.into());
                }
                None => {
                    let reset = std::time::SystemTime::now() + std::time::Duration::from_millis(200);
                    let micros = reset.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
                    headers.insert("x-ratelimit-reset", micros.into());
                    headers.insert("x-ratelimit-limit", 50u64.into());
                    headers.insert("x-ratelimit-remaining", 0u64.into());
                }
            }
            response
        }
        Fault::Status(status) => error(status, "Injected failure"),
        Fault::Drop => {
            let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
            shared.recorded().log.push(LoggedRequest { service, method, path, status: 0 });
            // Unwinding without a panic hook: the connection task ends and the socket closes silently.
            std::panic::resume_unwind(Box::new("injected dropped connection"))
        }
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            next.run(request).await
        }
        Fault::Truncated => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(cut))
        }
        Fault::RefuseFirstEvent => {
            shared.recorded().refusals += 1;
            next.run(request).await
        }
    }
}

// ---- SSO ----

fn sso_error(error: &str, description: &str) -> Response {
    sso_error_status(400, error, description)
}

fn sso_error_status(status: u16, error: &str, description: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"errorCode": status, "message": code.canonical_reason().unwrap_or(""), "issueId": "sim-issue",
                      "error": error, "error_description": description});
    (code, Json(body)).into_response()
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return sso_error("invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    }
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body) else {
        return sso_error("invalid_request", "Malformed form body");
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("grant_type") != "client_credentials" {
        return sso_error("unsupported_grant_type", "Only grant_type=client_credentials is supported");
    }
    let (ttl, client) = {
        let scenario = shared.scenario();
        let client = if let Some(account) = scenario.accounts.iter().find(|a| a.client_id == field("client_id")) {
            Some((account.client_secret.clone(), Some(account.uuid.clone()), "account-uac-read"))
        } else if scenario.ingest.client_id == field("client_id") {
            Some((scenario.ingest.client_secret.clone(), None, "storage:events:write"))
        } else {
            None
        };
        (scenario.token_ttl, client)
    };
    let Some((_, account, permitted)) = client.filter(|(secret, ..)| secret == field("client_secret")) else {
        return sso_error("invalid_client", "Invalid client credentials. UNSUCCESSFUL_OAUTH_CLIENT_AUTHENTICATION");
    };
    let scopes: Vec<String> = field("scope").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    if let Some(missing) = scopes.iter().find(|scope| scope.as_str() != permitted) {
        return sso_error(
            "invalid_request",
            &format!(
                "Invalid OAuth2 request. UNSUCCESSFUL_OAUTH_ACCESS_TOKEN_VALIDATION_FAILED | OAuth client is missing following scopes [{missing}]"
            ),
        );
    }
    let resource = field("resource");
    let resource_account = resource.strip_prefix("urn:dtaccount:");
    match (&account, resource_account) {
        (Some(own), Some(requested)) if own != requested => {
            return sso_error(
                "invalid_request",
                &format!("Invalid resource {resource}: the client does not belong to this account"),
            );
        }
        (_, None) if !resource.is_empty() => {
            return sso_error("invalid_request", &format!("Invalid resource {resource}"));
        }
        _ => {}
    }
    let mut recorded = shared.recorded();
    recorded.issued += 1;
    let access_token =
        format!("sim.{:08x}.{:016x}", recorded.issued, recorded.issued.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    recorded.grants.insert(
        access_token.clone(),
        Grant {
            client_id: field("client_id").to_owned(),
            account: resource_account.map(str::to_owned),
            scopes: scopes.clone(),
            expires: Instant::now() + ttl,
        },
    );
    Json(json!({"scope": scopes.join(" "), "token_type": "Bearer", "expires_in": ttl.as_secs(),
                "access_token": access_token, "resource": resource}))
    .into_response()
}

/// Checks a bearer token: live, with `scope`, and for `account` when one is in the path;
/// otherwise the status and message the real APIs answer with.
fn bearer(shared: &Shared, headers: &HeaderMap, scope: &str, account: Option<&str>) -> Result<(), (u16, String)> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or((401, "Missing or malformed Authorization header (expected Bearer)".to_owned()))?;
    let recorded = shared.recorded();
    let grant = recorded.grants.get(token).ok_or((401, "Invalid token".to_owned()))?;
    if grant.expires <= Instant::now() {
        return Err((401, "Token expired".to_owned()));
    }
    if !grant.scopes.iter().any(|s| s == scope) {
        return Err((403, format!("Token of client {} is missing scope {scope}", grant.client_id)));
    }
    if let Some(account) = account
        && grant.account.as_deref() != Some(account)
    {
        return Err((401, "The account in the path does not match the token's account".to_owned()));
    }
    Ok(())
}

// ---- Account Management (DPS) ----

fn dps_error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({"code": status, "message": message, "errorsMap": {}}))).into_response()
}

async fn subscriptions(State(shared): State<Arc<Shared>>, Path(account): Path<String>, headers: HeaderMap) -> Response {
    if let Err((status, message)) = bearer(&shared, &headers, "account-uac-read", Some(&account)) {
        return dps_error(status, &message);
    }
    let scenario = shared.scenario();
    let Some(account) = scenario.accounts.iter().find(|a| a.uuid == account) else {
        return dps_error(404, "Account not found");
    };
    let data: Vec<Value> = account
        .subscriptions
        .iter()
        .filter_map(|uuid| scenario.subscriptions.get(uuid))
        .map(|s| {
            json!({"uuid": s["uuid"], "type": s["type"], "subType": s["subType"], "name": s["name"],
                   "status": s["status"], "startTime": s["startTime"], "endTime": s["endTime"]})
        })
        .collect();
    Json(json!({ "data": data })).into_response()
}

async fn subscription(
    State(shared): State<Arc<Shared>>,
    Path((account, subscription)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err((status, message)) = bearer(&shared, &headers, "account-uac-read", Some(&account)) {
        return dps_error(status, &message);
    }
    let scenario = shared.scenario();
    let visible = scenario
        .accounts
        .iter()
        .find(|a| a.uuid == account)
        .is_some_and(|a| a.subscriptions.contains(&subscription) && !a.hidden_details.contains(&subscription));
    match scenario.subscriptions.get(&subscription) {
        Some(details) if visible => Json(details.clone()).into_response(),
        _ => dps_error(404, &format!("Subscription {subscription} not found")),
    }
}

async fn cost(
    State(shared): State<Arc<Shared>>,
    Path((account, subscription)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err((status, message)) = bearer(&shared, &headers, "account-uac-read", Some(&account)) {
        return dps_error(status, &message);
    }
    let scenario = shared.scenario();
    let Some(account) = scenario.accounts.iter().find(|a| a.uuid == account) else {
        return dps_error(404, "Account not found");
    };
    if !account.subscriptions.contains(&subscription) {
        return dps_error(404, &format!("Subscription {subscription} not found"));
    }
    let data = account.costs.get(&subscription).cloned().unwrap_or_default();
    Json(json!({"data": data, "lastModifiedTime": "2026-11-23T07:12:44Z"})).into_response()
}

// ---- Environment: bizevents ingest ----

fn env_error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({"error": {"code": status, "message": message}}))).into_response()
}

async fn ingest_classic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let token =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Api-Token "));
    match token {
        None => env_error(401, "Missing authorization parameter."),
        Some(token) if token != shared.scenario().ingest.api_token => env_error(401, "Token Authentication failed"),
        Some(_) => ingest(&shared, &headers, &body),
    }
}

async fn ingest_platform(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match bearer(&shared, &headers, "storage:events:write", None) {
        Err((status, message)) => env_error(status, &message),
        Ok(()) => ingest(&shared, &headers, &body),
    }
}

fn ingest(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let limit = shared.scenario().max_ingest_bytes;
    if body.len() > limit {
        return env_error(413, &format!("Payload of {} bytes exceeds the limit of {limit} bytes", body.len()));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/json") && !content_type.starts_with("application/cloudevent") {
        return env_error(415, &format!("Unsupported content type {content_type:?}"));
    }
    let events = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(events)) => events,
        Ok(event @ Value::Object(_)) => vec![event],
        Ok(_) => return env_error(400, "Request body must be a JSON object or an array of objects"),
        Err(error) => return env_error(400, &format!("Could not parse request body: {error}")),
    };
    let mut errors = Vec::new();
    let mut recorded = shared.recorded();
    let refuse_first = recorded.refusals > 0;
    if refuse_first {
        recorded.refusals -= 1;
    }
    for (index, event) in events.into_iter().enumerate() {
        match event {
            Value::Object(_) if refuse_first && index == 0 => errors.push(
                json!({"index": 0, "id": "", "source": "", "message": "Invalid event: rejected by the pipeline (injected)"}),
            ),
            Value::Object(mut fields) => {
                fields.insert("event.kind".into(), json!("BIZ_EVENT"));
                recorded.accepted.push(Value::Object(fields));
            }
            _ => errors
                .push(json!({"index": index, "id": "", "source": "", "message": "Invalid event: not a JSON object"})),
        }
    }
    if errors.is_empty() {
        StatusCode::ACCEPTED.into_response()
    } else {
        (StatusCode::BAD_REQUEST, Json(json!({ "errors": errors }))).into_response()
    }
}

// ---- Managed cluster ----

async fn cluster_license(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    index: usize,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Api-Token "))
        .map(str::to_owned)
        .or_else(|| query.get("api-token").cloned());
    let scenario = shared.scenario();
    let Some(cluster) = scenario.clusters.get(index) else { return env_error(404, "Not found") };
    match token {
        None => env_error(401, "Missing authorization parameter."),
        Some(token) if token != cluster.api_token => env_error(401, "Token Authentication failed"),
        Some(_) => match &cluster.licensing {
            Licensing::Classic(license) => Json(license.clone()).into_response(),
            Licensing::Dps => env_error(422, "Incompatible licensing model"),
        },
    }
}
