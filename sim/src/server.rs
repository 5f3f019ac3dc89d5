//! The fake Dynatrace services, each on its own loopback port as the real ones are on their own
//! hosts: the SSO, the Account Management (DPS) API, one environment (bizevents ingest) and one
//! Managed cluster per configured cluster.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::data::{Account, Licensing, Scenario, format_date, round6};

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
    /// A 200 whose body stops halfway: its Content-Length announces the whole body and the
    /// connection closes after half of it (a transport failure, worth another try).
    Truncated,
    /// A complete 200 (Content-Length matching) whose body is not JSON: the first half of the
    /// real body. Trying again brings the same bytes; a client must not retry it for minutes.
    NotJson,
    /// Ingest: the request's first event is refused (400 partial success), the others stored.
    RefuseFirstEvent,
    /// Like [`Fault::RefuseFirstEvent`], but the error entry has no `index` (it is optional in
    /// the published `BizEventIngestError`); its `id` is the event's `event.id`.
    RefuseFirstEventWithoutIndex,
    /// Like [`Fault::RefuseFirstEvent`], but the error entry has neither `index` nor `id` (both
    /// optional): a client cannot tell which event failed.
    RefuseFirstEventUnnamed,
    /// A v3 cost page of `rows` valid rows (one environment, a capability of its own for each
    /// row, on 2026-11-01) and a fresh `nextPageKey`: with `pages: None` a walk that never ends,
    /// else one of that many pages.
    EndlessPages { rows: usize, pages: Option<usize> },
}

/// How an injected refusal names the refused event in its error entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Refusal {
    with_index: bool,
    with_id: bool,
}

impl Refusal {
    /// By `index` and `id`, as a refusal of a bad event is.
    const NAMED: Refusal = Refusal { with_index: true, with_id: true };
}

/// Which requests get a fault: those of `service` (any when `None`), `times` times at most.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub service: Option<Service>,
    pub fault: Fault,
    pub times: u32,
}

/// An injected rule, limited to paths containing `path_contains` when set.
struct ActiveFault {
    rule: FaultRule,
    path_contains: Option<String>,
}

#[derive(Default)]
struct Recorded {
    grants: HashMap<String, Grant>,
    /// The newest accepted events (at most `limit`), and how many were ever accepted.
    accepted: VecDeque<Value>,
    accepted_total: usize,
    /// The newest requests (at most `limit`), and how many were ever served.
    log: VecDeque<LoggedRequest>,
    logged_total: usize,
    /// [`Scenario::max_recorded_events`], copied at start and on every [`Simulator::update`].
    limit: Option<usize>,
    issued: u64,
    faults: Vec<ActiveFault>,
    /// Ingest requests whose first event is to be refused, oldest first: `true` when the error
    /// entry carries the event's `index`.
    refusals: VecDeque<Refusal>,
    /// TCP connections accepted, per service.
    connections: HashMap<Service, usize>,
}

impl Recorded {
    fn accept(&mut self, event: Value) {
        self.accepted_total += 1;
        push_bounded(&mut self.accepted, event, self.limit);
    }

    fn log(&mut self, request: LoggedRequest) {
        self.logged_total += 1;
        push_bounded(&mut self.log, request, self.limit);
    }
}

/// Appends `item`, dropping the oldest ones beyond `limit` (`None`: no bound).
fn push_bounded<T>(list: &mut VecDeque<T>, item: T, limit: Option<usize>) {
    list.push_back(item);
    if let Some(limit) = limit {
        while list.len() > limit {
            list.pop_front();
        }
    }
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
        let recorded = Recorded { limit: scenario.max_recorded_events, ..Recorded::default() };
        let shared = Arc::new(Shared { scenario: Mutex::new(scenario), recorded: Mutex::new(recorded) });
        let mut tasks = Vec::new();
        let mut serve = |router: Router<Arc<Shared>>, service: Service, listener: tokio::net::TcpListener| {
            let router = router
                .layer(middleware::from_fn_with_state((shared.clone(), service), log_request))
                .with_state(shared.clone());
            let listener = Counting { listener, shared: shared.clone(), service };
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
                // A static segment: matched before the `{subscription}` capture (axum 0.8 / matchit).
                .route("/sub/v2/accounts/{account}/subscriptions/forecast", get(forecast))
                .route("/sub/v2/accounts/{account}/subscriptions/{subscription}/cost", get(cost))
                .route(
                    "/sub/v3/accounts/{account}/subscriptions/{subscription}/environments/cost",
                    get(environment_cost),
                ),
            Service::AccountApi,
            api,
        );
        let (env, environment_url) = bind().await?;
        serve(
            Router::new()
                .route("/api/v2/bizevents/ingest", post(ingest_classic))
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

    /// The events the ingest API accepted, in arrival order: all of them, or the newest
    /// [`Scenario::max_recorded_events`] when that is set.
    pub fn accepted_events(&self) -> Vec<Value> {
        self.shared.recorded().accepted.iter().cloned().collect()
    }

    /// How many events the ingest API ever accepted, including those no longer kept (cheaper
    /// than `accepted_events().len()`, and the same when nothing was dropped).
    pub fn accepted_count(&self) -> usize {
        self.shared.recorded().accepted_total
    }

    /// Every request served, in order: all of them, or the newest
    /// [`Scenario::max_recorded_events`] when that is set.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.recorded().log.iter().cloned().collect()
    }

    /// How many requests were ever served, including those no longer kept in [`Simulator::requests`].
    pub fn request_count(&self) -> usize {
        self.shared.recorded().logged_total
    }

    /// How many TCP connections each service accepted (services that accepted none are absent).
    pub fn connections(&self) -> HashMap<Service, usize> {
        self.shared.recorded().connections.clone()
    }

    /// How many TCP connections all services together accepted.
    pub fn connection_count(&self) -> usize {
        self.shared.recorded().connections.values().sum()
    }

    /// The data served (a copy).
    pub fn scenario(&self) -> Scenario {
        self.shared.scenario().clone()
    }

    /// Makes the next matching requests fail (rules apply in the order given).
    pub fn inject(&self, rule: FaultRule) {
        self.shared.recorded().faults.push(ActiveFault { rule, path_contains: None });
    }

    /// Like [`Simulator::inject`], but the rule only applies to (and is only used up by) requests
    /// whose path (without the query) contains `path_contains`, e.g. `"/environments/cost"` for
    /// 502s on v3 pages only.
    pub fn inject_on_path(&self, rule: FaultRule, path_contains: &str) {
        self.shared.recorded().faults.push(ActiveFault { rule, path_contains: Some(path_contains.to_owned()) });
    }

    /// Changes the data served from now on (e.g. a late booking between two runs).
    pub fn update(&self, change: impl FnOnce(&mut Scenario)) {
        let limit = {
            let mut scenario = self.shared.scenario();
            change(&mut scenario);
            scenario.max_recorded_events
        };
        self.shared.recorded().limit = limit;
    }
}

async fn bind() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let url = format!("http://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// A service's listener: counts the connections it accepts, and holds the first answer on each
/// back by [`Scenario::connect_latency`] (the handshakes a new connection costs).
struct Counting {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    service: Service,
}

impl axum::serve::Listener for Counting {
    type Io = Handshaking;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Handshaking, SocketAddr) {
        let (stream, address) = axum::serve::Listener::accept(&mut self.listener).await;
        *self.shared.recorded().connections.entry(self.service).or_default() += 1;
        let delay = self.shared.scenario().connect_latency;
        let handshake = (!delay.is_zero()).then(|| Box::pin(tokio::time::sleep(delay)));
        (Handshaking { stream, handshake }, address)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// An accepted connection that reads nothing until its simulated handshake is over.
struct Handshaking {
    stream: tokio::net::TcpStream,
    handshake: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl tokio::io::AsyncRead for Handshaking {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(handshake) = &mut self.handshake {
            ready!(handshake.as_mut().poll(cx));
            self.handshake = None;
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Handshaking {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

async fn log_request(
    State((shared, service)): State<(Arc<Shared>, Service)>,
    request: Request,
    next: Next,
) -> Response {
    let (method, path) = (request.method().to_string(), request.uri().path().to_owned());
    // The simulated round trip: every answer waits this long (a new connection's handshakes
    // are added by `Handshaking`).
    let latency = shared.scenario().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = {
        let mut recorded = shared.recorded();
        let active = recorded.faults.iter_mut().find(|f| {
            f.rule.times > 0
                && f.rule.service.is_none_or(|s| s == service)
                && f.path_contains.as_deref().is_none_or(|p| path.contains(p))
        });
        active.map(|ActiveFault { rule, .. }| {
            rule.times -= 1;
            rule.fault.clone()
        })
    };
    let response = match fault {
        None => next.run(request).await,
        Some(fault) => faulty(&shared, service, fault, request, next).await,
    };
    shared.recorded().log(LoggedRequest { service, method, path, status: response.status().as_u16() });
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
            shared.recorded().log(LoggedRequest { service, method, path, status: 0 });
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
            parts.headers.insert(header::CONTENT_LENGTH, bytes.len().into());
            // Half the body, then an error: hyper closes the connection short of the length.
            let chunks: Vec<Result<Bytes, std::io::Error>> =
                vec![Ok(cut), Err(std::io::Error::other("injected truncation"))];
            Response::from_parts(parts, axum::body::Body::from_stream(futures_util::stream::iter(chunks)))
        }
        Fault::NotJson => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(bytes.slice(..bytes.len() / 2)))
        }
        Fault::RefuseFirstEvent => {
            shared.recorded().refusals.push_back(Refusal::NAMED);
            next.run(request).await
        }
        Fault::RefuseFirstEventWithoutIndex => {
            shared.recorded().refusals.push_back(Refusal { with_index: false, with_id: true });
            next.run(request).await
        }
        Fault::RefuseFirstEventUnnamed => {
            shared.recorded().refusals.push_back(Refusal { with_index: false, with_id: false });
            next.run(request).await
        }
        Fault::EndlessPages { rows, pages } => {
            // The page number travels in the key: `endless-<n>`, URL-safe base64.
            let page = request
                .uri()
                .query()
                .and_then(|query| serde_urlencoded::from_str::<Vec<(String, String)>>(query).ok())
                .and_then(|params| params.into_iter().find(|(k, _)| k == "page-key").map(|(_, v)| v))
                .and_then(|key| URL_SAFE_NO_PAD.decode(key).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|text| text.strip_prefix("endless-").and_then(|n| n.parse::<usize>().ok()))
                .unwrap_or(0);
            let cost: Vec<Value> = (0..rows)
                .map(|i| {
                    json!({
                        "startTime": "2026-11-01T00:00:00Z", "endTime": "2026-11-02T00:00:00Z", "value": 0.01,
                        "currencyCode": "USD", "capabilityKey": format!("CAPABILITY_{}", page * rows + i),
                        "capabilityName": "Endless", "bookingDate": "2026-11-02T00:00:00Z",
                    })
                })
                .collect();
            let data = json!([{"clusterId": null, "environmentId": "endless", "cost": cost}]);
            let next = (pages.is_none_or(|pages| page + 1 < pages))
                .then(|| URL_SAFE_NO_PAD.encode(format!("endless-{}", page + 1)));
            Json(json!({"data": data, "lastModifiedTime": LAST_MODIFIED, "nextPageKey": next})).into_response()
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
    let mut scopes: Vec<String> = field("scope").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    // `scope` is optional (sso-token.docs-derived.openapi.yml marks it so): without it the token
    // carries every scope of the client, as the walk-through's account token does
    // (openapi/README.md, "The account token").
    if scopes.is_empty() {
        scopes.push(permitted.to_owned());
    }
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
    // Forget grants long expired, so that a long session does not keep every token it issued
    // (an expired one is still told apart from an unknown one for an hour).
    let now = Instant::now();
    recorded.grants.retain(|_, grant| grant.expires + std::time::Duration::from_secs(3600) > now);
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

/// The account of the path, or the message of the API's 404.
fn find_account<'a>(scenario: &'a Scenario, uuid: &str) -> Result<&'a crate::data::Account, String> {
    scenario.accounts.iter().find(|a| a.uuid == uuid).ok_or_else(|| "Account not found".to_owned())
}

/// The account of the path when it lists the subscription of the path, or the message of the
/// API's 404.
fn find_subscription<'a>(
    scenario: &'a Scenario,
    account: &str,
    subscription: &str,
) -> Result<&'a crate::data::Account, String> {
    let account = find_account(scenario, account)?;
    if account.subscriptions.iter().any(|s| s == subscription) {
        Ok(account)
    } else {
        Err(format!("Subscription {subscription} not found"))
    }
}

async fn subscriptions(State(shared): State<Arc<Shared>>, Path(account): Path<String>, headers: HeaderMap) -> Response {
    if let Err((status, message)) = bearer(&shared, &headers, "account-uac-read", Some(&account)) {
        return dps_error(status, &message);
    }
    let scenario = shared.scenario();
    let account = match find_account(&scenario, &account) {
        Ok(account) => account,
        Err(message) => return dps_error(404, &message),
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
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err((status, message)) = bearer(&shared, &headers, "account-uac-read", Some(&account)) {
        return dps_error(status, &message);
    }
    let scenario = shared.scenario();
    let account = match find_subscription(&scenario, &account, &subscription) {
        Ok(account) => account,
        Err(message) => return dps_error(404, &message),
    };
    let mut data = account.costs.get(&subscription).cloned().unwrap_or_default();
    // The documented filters (environmentIds, capabilityKeys, clusterIds; comma-separated or
    // repeated): a filtered record's value is the sum of the v3 rows the filters keep, so that
    // the two views agree. Unknown parameters are ignored (ASSUMPTION: the spec does not say).
    let params: Vec<(String, String)> = serde_urlencoded::from_str(raw.as_deref().unwrap_or("")).unwrap_or_default();
    let (environments, capabilities, clusters) = (
        list_param(&params, "environmentIds"),
        list_param(&params, "capabilityKeys"),
        list_param(&params, "clusterIds"),
    );
    if !(environments.is_empty() && capabilities.is_empty() && clusters.is_empty()) {
        let pairs = kept_pairs(account, &environments, &capabilities, &clusters);
        for record in &mut data {
            let Some(day) = cost_day(account, record) else { continue };
            let values = day_values(account, day.attributed);
            record["value"] = json!(round6(pairs.iter().map(|&(_, _, flat)| values[flat]).sum::<f64>()));
        }
    }
    Json(json!({"data": data, "lastModifiedTime": LAST_MODIFIED})).into_response()
}

/// A list parameter's values: comma-separated (documented) and repeated keys (`explode: true`
/// clients) both work.
fn list_param(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The (environment, capability) pairs the filters keep (all when a filter is empty), with
/// their flat indexes into [`day_values`].
fn kept_pairs(
    account: &Account,
    environment_ids: &[String],
    capability_keys: &[String],
    cluster_ids: &[String],
) -> Vec<(usize, usize, usize)> {
    let mut pairs = Vec::new();
    let mut flat = 0;
    for (e, environment) in account.environments.iter().enumerate() {
        let environment_kept = (environment_ids.is_empty() || environment_ids.contains(&environment.id))
            && (cluster_ids.is_empty() || environment.cluster_id.as_ref().is_some_and(|c| cluster_ids.contains(c)));
        for (c, capability) in environment.capabilities.iter().enumerate() {
            if environment_kept && (capability_keys.is_empty() || capability_keys.contains(&capability.key)) {
                pairs.push((e, c, flat));
            }
            flat += 1;
        }
    }
    pairs
}

/// `lastModifiedTime` of the cost views.
const LAST_MODIFIED: &str = "2026-11-23T07:12:44Z";

/// v3 `page-size` when none is given, and its largest accepted value. ASSUMPTION: the docs give
/// neither (dynatrace-api.md §2.5: UNVERIFIED); below 1 or above the maximum answers 400.
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

/// What a v3 walk asks for; also the (opaque, URL-safe base64 JSON) `page-key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PageKey {
    account: String,
    subscription: String,
    /// RFC 3339, as the client sent them.
    start: String,
    end: String,
    environment_ids: Vec<String>,
    capability_keys: Vec<String>,
    cluster_ids: Vec<String>,
    /// Index of the page's first row in the walk's flattened rows.
    offset: usize,
    page_size: usize,
}

/// A 400 whose `errorsMap` names the offending parameter.
fn dps_bad_parameter(parameter: &str, message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"code": 400, "message": message, "errorsMap": {parameter: message}})))
        .into_response()
}

/// Why a v3 query is refused (a 400): the parameter and the message.
#[derive(Debug)]
struct Invalid(&'static str, String);

impl Invalid {
    fn response(&self) -> Response {
        dps_bad_parameter(self.0, &self.1)
    }
}

/// The walk a v3 request continues or starts, or the 400 it deserves.
fn environment_cost_query(raw: Option<&str>, account: &str, subscription: &str) -> Result<PageKey, Invalid> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| Invalid("query", "Malformed query string".to_owned()))?;
    let first = |name: &str| params.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
    let list = |name: &str| list_param(&params, name);
    let size_message = format!("page-size must be an integer from 1 to {MAX_PAGE_SIZE}");
    let page_size = match first("page-size") {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Some(size),
            _ => return Err(Invalid("page-size", size_message)),
        },
    };
    let mut key = match first("page-key") {
        // `page-size` next to a `page-key` is refused, as Dynatrace's paged APIs do (the
        // Environment API v2 answers 400 when page-size comes with nextPageKey; the DPS
        // cost-allocation endpoint allows no other parameter with its page-key): the key
        // carries the page size of the walk.
        Some(_) if params.iter().any(|(k, _)| k == "page-size") => {
            return Err(Invalid("page-size", "page-size must not be set together with page-key".to_owned()));
        }
        // The other parameters next to a page-key (e.g. the first call's filters, repeated) are
        // ignored. ASSUMPTION: the v3 spec says only that the timeframe is "required, unless a
        // page-key is provided instead"; it does not forbid the rest (dtctl re-sends them).
        Some(text) => {
            let key = decode_page_key(text).ok_or_else(|| Invalid("page-key", "Invalid page-key".to_owned()))?;
            if key.account != account || key.subscription != subscription {
                return Err(Invalid("page-key", "The page-key belongs to another account or subscription".into()));
            }
            key
        }
        None => {
            let time = |name: &'static str| -> Result<String, Invalid> {
                let text =
                    first(name).ok_or_else(|| Invalid(name, format!("{name} is required unless page-key is given")))?;
                OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
                    let example = "2021-05-01T15:11:00Z";
                    Invalid(name, format!("{name} must be an ISO 8601 date-time such as {example}, got {text:?}"))
                })?;
                Ok(text.to_owned())
            };
            let (start, end) = (time("startTime")?, time("endTime")?);
            PageKey {
                account: account.to_owned(),
                subscription: subscription.to_owned(),
                start,
                end,
                environment_ids: list("environmentIds"),
                capability_keys: list("capabilityKeys"),
                cluster_ids: list("clusterIds"),
                offset: 0,
                page_size: DEFAULT_PAGE_SIZE,
            }
        }
    };
    if let Some(size) = page_size {
        key.page_size = size;
    }
    Ok(key)
}

fn encode_page_key(key: &PageKey) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The key, if it is one this simulator made (well-formed, with valid times and page size).
fn decode_page_key(text: &str) -> Option<PageKey> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    let key: PageKey = serde_json::from_slice(&bytes).ok()?;
    let valid = OffsetDateTime::parse(&key.start, &Rfc3339).is_ok()
        && OffsetDateTime::parse(&key.end, &Rfc3339).is_ok()
        && (1..=MAX_PAGE_SIZE).contains(&key.page_size);
    valid.then_some(key)
}

/// One `/cost` record (one day) as the v3 view uses it.
struct CostDay {
    start: OffsetDateTime,
    start_text: String,
    end_text: String,
    /// The part of the day's value attributed to environments.
    attributed: f64,
    currency: String,
}

/// The account's days for `subscription` whose `startTime` lies in `[start, end)`, sorted by
/// start. Records a test made malformed (no RFC 3339 `startTime`, no numeric `value`, no
/// `currencyCode`) are left out of this view.
fn cost_days(account: &Account, subscription: &str, start: OffsetDateTime, end: OffsetDateTime) -> Vec<CostDay> {
    let records = account.costs.get(subscription).map(Vec::as_slice).unwrap_or_default();
    // ASSUMPTION (unverified): endTime is exclusive, startTime inclusive.
    let mut days: Vec<CostDay> = records
        .iter()
        .filter_map(|record| cost_day(account, record))
        .filter(|day| day.start >= start && day.start < end)
        .collect();
    days.sort_by_key(|day| day.start);
    days
}

/// One `/cost` record as the v3 view uses it; `None` for a record a test made malformed.
fn cost_day(account: &Account, record: &Value) -> Option<CostDay> {
    let start_text = record["startTime"].as_str()?;
    let day_start = OffsetDateTime::parse(start_text, &Rfc3339).ok()?;
    let value = record["value"].as_f64()?;
    let currency = record["currencyCode"].as_str()?.to_owned();
    let end_text = match record["endTime"].as_str() {
        Some(text) => text.to_owned(),
        None => (day_start + time::Duration::days(1)).format(&Rfc3339).ok()?,
    };
    let date = day_start.to_offset(time::UtcOffset::UTC).date();
    let attributed = match &account.unattributed {
        Some(unattributed) if unattributed.applies(date) => value * (1.0 - unattributed.share),
        _ => value,
    };
    Some(CostDay { start: day_start, start_text: start_text.to_owned(), end_text, attributed, currency })
}

/// The values of one day's rows, one per environment × capability in the account's order:
/// `attributed × share`, the last row taking the remainder.
fn day_values(account: &Account, attributed: f64) -> Vec<f64> {
    let shares: Vec<f64> = account.environments.iter().flat_map(|e| e.capabilities.iter().map(|c| c.share)).collect();
    let mut values: Vec<f64> = shares.iter().map(|share| round6(attributed * share)).collect();
    if let Some((last, others)) = values.split_last_mut() {
        *last = attributed - others.iter().sum::<f64>();
    }
    values
}

async fn environment_cost(
    State(shared): State<Arc<Shared>>,
    Path((account, subscription)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err((status, message)) = bearer(&shared, &headers, "account-uac-read", Some(&account)) {
        return dps_error(status, &message);
    }
    let scenario = shared.scenario();
    let account = match find_subscription(&scenario, &account, &subscription) {
        Ok(account) => account,
        Err(message) => return dps_error(404, &message),
    };
    let key = match environment_cost_query(raw.as_deref(), &account.uuid, &subscription) {
        Ok(key) => key,
        Err(invalid) => return invalid.response(),
    };
    let (Ok(start), Ok(end)) = (OffsetDateTime::parse(&key.start, &Rfc3339), OffsetDateTime::parse(&key.end, &Rfc3339))
    else {
        return dps_bad_parameter("page-key", "Invalid page-key");
    };
    // ASSUMPTION (unverified): a range ending before it starts is refused; an empty one is not.
    if end < start {
        return dps_bad_parameter("endTime", "endTime must not be before startTime");
    }
    let days = cost_days(account, &subscription, start, end);
    let pairs = kept_pairs(account, &key.environment_ids, &key.capability_keys, &key.cluster_ids);
    // Rows: day by day, then environment, then capability; a page is a slice of them.
    let total = days.len() * pairs.len();
    let first = key.offset.min(total);
    let last = key.offset.saturating_add(key.page_size).min(total);
    let mut data: Vec<Value> = Vec::new();
    let mut entry: Option<(usize, Vec<Value>)> = None;
    let mut values: Option<(usize, Vec<f64>)> = None;
    let flush = |data: &mut Vec<Value>, entry: Option<(usize, Vec<Value>)>| {
        if let Some((e, cost)) = entry {
            let environment = &account.environments[e];
            data.push(json!({"clusterId": environment.cluster_id, "environmentId": environment.id, "cost": cost}));
        }
    };
    for row in first..last {
        let (d, (e, c, flat)) = (row / pairs.len(), pairs[row % pairs.len()]);
        let day = &days[d];
        if values.as_ref().is_none_or(|(cached, _)| *cached != d) {
            values = Some((d, day_values(account, day.attributed)));
        }
        let value = values.as_ref().map_or(0.0, |(_, v)| v[flat]);
        let capability = &account.environments[e].capabilities[c];
        let date = day.start.to_offset(time::UtcOffset::UTC).date();
        let next = date.next_day().unwrap_or(date);
        // Booked the next day, some rows only at 06:00 (deterministic per day and row).
        let hour = if (usize::from(date.day()) + e + c) % 3 == 0 { 6 } else { 0 };
        let cost = json!({
            "startTime": day.start_text, "endTime": day.end_text, "value": value, "currencyCode": day.currency,
            "capabilityKey": capability.key, "capabilityName": capability.name,
            "bookingDate": format!("{}T{hour:02}:00:00Z", format_date(next)),
        });
        match &mut entry {
            Some((current, cost_rows)) if *current == e => cost_rows.push(cost),
            _ => {
                flush(&mut data, entry.take());
                entry = Some((e, vec![cost]));
            }
        }
    }
    flush(&mut data, entry);
    let mut body = serde_json::Map::new();
    body.insert("data".into(), Value::Array(data));
    body.insert("lastModifiedTime".into(), LAST_MODIFIED.into());
    if last < total {
        body.insert("nextPageKey".into(), encode_page_key(&PageKey { offset: last, ..key }).into());
    } else {
        // The last page. How the real API says "no next page" is unverified: vary it by the page's
        // index in the walk, so that clients meet all three forms.
        match end_marker(key.offset, key.page_size) {
            EndMarker::Absent => {}
            EndMarker::Null => {
                body.insert("nextPageKey".into(), Value::Null);
            }
            EndMarker::Empty => {
                body.insert("nextPageKey".into(), "".into());
            }
        }
    }
    Json(Value::Object(body)).into_response()
}

/// How the last page of a v3 walk ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndMarker {
    /// No `nextPageKey` field.
    Absent,
    /// `"nextPageKey": null`.
    Null,
    /// `"nextPageKey": ""`.
    Empty,
}

/// The end marker of a last page that starts at row `offset`: by the page's index
/// (`offset / page_size`) modulo 3, 0 absent, 1 null, 2 empty.
pub fn end_marker(offset: usize, page_size: usize) -> EndMarker {
    match (offset / page_size.max(1)) % 3 {
        0 => EndMarker::Absent,
        1 => EndMarker::Null,
        _ => EndMarker::Empty,
    }
}

async fn forecast(State(shared): State<Arc<Shared>>, Path(account): Path<String>, headers: HeaderMap) -> Response {
    if let Err((status, message)) = bearer(&shared, &headers, "account-uac-read", Some(&account)) {
        return dps_error(status, &message);
    }
    let scenario = shared.scenario();
    let account = match find_account(&scenario, &account) {
        Ok(account) => account,
        Err(message) => return dps_error(404, &message),
    };
    match &account.forecast {
        Some(forecast) => Json(forecast.clone()).into_response(),
        None => dps_error(404, "No forecast available for this account"),
    }
}

// ---- Environment: bizevents ingest ----

fn env_error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, Json(json!({"error": {"code": status, "message": message}}))).into_response()
}

/// The ingest API's own media type for its 202 and 400 answers (the published operation's).
const INGEST_RESPONSE_TYPE: &str = "application/json; charset=utf-8";

/// `POST /api/v2/bizevents/ingest` of a classic (`*.live.dynatrace.com`) environment: an
/// `Api-Token` (`bizevents.ingest`) or an OAuth `Bearer` token with `storage:events:write`, as
/// the walk-through sends it (openapi/README.md). The platform path
/// `/platform/classic/environment-api/v2/bizevents/ingest` exists only on `*.apps.dynatrace.com`
/// hosts, so this environment does not serve it (404).
async fn ingest_classic(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if let Some(token) = authorization.strip_prefix("Api-Token ") {
        if token != shared.scenario().ingest.api_token {
            return env_error(401, "Token Authentication failed");
        }
    } else if authorization.starts_with("Bearer ") {
        if let Err((status, message)) = bearer(&shared, &headers, "storage:events:write", None) {
            return env_error(status, &message);
        }
    } else {
        return env_error(401, "Missing authorization parameter.");
    }
    ingest(&shared, &headers, &body)
}

/// The request body kinds the operation declares, by media type (parameters such as `charset`
/// ignored, case-insensitive). The spec spells the CloudEvent types `cloudevent`, the business
/// observability docs `cloudevents`: both are accepted (dynatrace-api.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq)]
enum IngestBody {
    Json,
    CloudEvent,
    CloudEventBatch,
}

fn ingest_body(headers: &HeaderMap) -> Result<IngestBody, String> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(IngestBody::Json),
        "application/cloudevent+json" | "application/cloudevents+json" => Ok(IngestBody::CloudEvent),
        "application/cloudevent-batch+json" | "application/cloudevents-batch+json" => Ok(IngestBody::CloudEventBatch),
        _ => Err(format!("Unsupported content type {content_type:?}")),
    }
}

/// Why a CloudEvent is refused: a required attribute missing, not a string, or empty where the
/// published `CloudEvent` schema sets `minLength: 1` (`source` has no minimum there).
fn cloud_event_problem(event: &serde_json::Map<String, Value>) -> Option<String> {
    for (name, non_empty) in [("specversion", true), ("id", true), ("source", false), ("type", true)] {
        match event.get(name) {
            Some(Value::String(text)) if !(non_empty && text.is_empty()) => {}
            _ => {
                return Some(format!(
                    "Invalid CloudEvent: attribute '{name}' is required and must be a non-empty string"
                ));
            }
        }
    }
    None
}

/// A CloudEvent as a bizevent record: `source`, `type` and `id` become `event.provider`,
/// `event.type` and `event.id`, the fields of an object `data` become top-level fields
/// (dynatrace-api.md §4.2); the other attributes are kept as they are.
fn cloud_event_record(mut event: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    let mut record = serde_json::Map::new();
    if let Some(Value::Object(data)) = event.remove("data") {
        record.extend(data);
    }
    for (attribute, field) in [("source", "event.provider"), ("type", "event.type"), ("id", "event.id")] {
        if let Some(value) = event.remove(attribute) {
            record.insert(field.into(), value);
        }
    }
    record.extend(event);
    record
}

fn ingest(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let limit = shared.scenario().max_ingest_bytes;
    if body.len() > limit {
        return env_error(413, &format!("Payload of {} bytes exceeds the limit of {limit} bytes", body.len()));
    }
    let kind = match ingest_body(headers) {
        Ok(kind) => kind,
        Err(message) => return env_error(415, &message),
    };
    let events = match (kind, serde_json::from_slice::<Value>(body)) {
        (IngestBody::Json, Ok(Value::Array(events))) | (IngestBody::CloudEventBatch, Ok(Value::Array(events))) => {
            events
        }
        (IngestBody::Json, Ok(event @ Value::Object(_))) | (IngestBody::CloudEvent, Ok(event @ Value::Object(_))) => {
            vec![event]
        }
        (IngestBody::Json, Ok(_)) => {
            return env_error(400, "Request body must be a JSON object or an array of objects");
        }
        (IngestBody::CloudEvent, Ok(_)) => {
            return env_error(400, "Request body must be one CloudEvent (a JSON object)");
        }
        (IngestBody::CloudEventBatch, Ok(_)) => {
            return env_error(400, "Request body must be an array of CloudEvents");
        }
        (_, Err(error)) => return env_error(400, &format!("Could not parse request body: {error}")),
    };
    let mut errors = Vec::new();
    let mut recorded = shared.recorded();
    // An injected refusal: the first event is refused, with or without its index.
    let refusal = recorded.refusals.pop_front();
    for (index, event) in events.into_iter().enumerate() {
        let refuse = |message: &str, event: &Value, naming: Refusal| {
            // `id` and `source` are the event's own when it has them (both optional in the spec).
            let text = |names: [&str; 2]| names.iter().find_map(|n| event[*n].as_str()).unwrap_or("").to_owned();
            let mut error = json!({"source": text(["event.provider", "source"]), "message": message});
            if naming.with_id {
                error["id"] = text(["event.id", "id"]).into();
            }
            if naming.with_index {
                error["index"] = index.into();
            }
            error
        };
        match event {
            Value::Object(_) if index == 0 && refusal.is_some() => errors.push(refuse(
                "Invalid event: rejected by the pipeline (injected)",
                &event,
                refusal.unwrap_or(Refusal::NAMED),
            )),
            Value::Object(fields) if kind != IngestBody::Json => match cloud_event_problem(&fields) {
                Some(problem) => errors.push(refuse(&problem, &Value::Object(fields), Refusal::NAMED)),
                None => {
                    let mut record = cloud_event_record(fields);
                    record.insert("event.kind".into(), json!("BIZ_EVENT"));
                    recorded.accept(Value::Object(record));
                }
            },
            Value::Object(mut fields) => {
                fields.insert("event.kind".into(), json!("BIZ_EVENT"));
                recorded.accept(Value::Object(fields));
            }
            other => errors.push(refuse("Invalid event: not a JSON object", &other, Refusal::NAMED)),
        }
    }
    let (status, body) = if errors.is_empty() {
        (StatusCode::ACCEPTED, json!({}))
    } else {
        (StatusCode::BAD_REQUEST, json!({ "errors": errors }))
    };
    (status, [(header::CONTENT_TYPE, INGEST_RESPONSE_TYPE)], body.to_string()).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// One HTTP/1.1 exchange on `stream` (kept alive): the SSO's answer to an empty form.
    async fn exchange(stream: &mut tokio::net::TcpStream) -> std::time::Duration {
        let started = Instant::now();
        stream.write_all(b"POST /sso/oauth2/token HTTP/1.1\r\nhost: sim\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        let mut answer = Vec::new();
        loop {
            let mut chunk = [0; 4096];
            let read = stream.read(&mut chunk).await.unwrap();
            assert!(read > 0, "the connection closed");
            answer.extend_from_slice(&chunk[..read]);
            let text = String::from_utf8_lossy(&answer).to_lowercase();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| l.strip_prefix("content-length: ")).unwrap();
                if body.len() >= length.trim().parse::<usize>().unwrap() {
                    assert!(head.starts_with("http/1.1 400"), "{head}");
                    return started.elapsed();
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn latency_delays_every_answer_and_a_new_connection_more_and_connections_are_counted() {
        let mut scenario = Scenario::generate(&crate::Generate { accounts: 1, days: 1, ..crate::Generate::default() });
        scenario.latency = std::time::Duration::from_millis(40);
        scenario.connect_latency = std::time::Duration::from_millis(120);
        let sim = Simulator::start(scenario).await.unwrap();
        let address = sim.sso_url.trim_start_matches("http://").split('/').next().unwrap().to_owned();
        let mut first = tokio::net::TcpStream::connect(&address).await.unwrap();
        let (opening, again) = (exchange(&mut first).await, exchange(&mut first).await);
        assert!(opening >= std::time::Duration::from_millis(160), "{opening:?}");
        assert!(again >= std::time::Duration::from_millis(40), "{again:?}");
        assert!(again < std::time::Duration::from_millis(160), "{again:?}: the handshake is paid once");
        assert_eq!(sim.connection_count(), 1);
        let mut second = tokio::net::TcpStream::connect(&address).await.unwrap();
        assert!(exchange(&mut second).await >= std::time::Duration::from_millis(160));
        assert_eq!(sim.connections(), HashMap::from([(Service::Sso, 2)]));
        assert_eq!(sim.request_count(), 3);
    }

    #[test]
    fn page_keys_round_trip_and_are_checked() {
        let key = PageKey {
            account: "a".into(),
            subscription: "s".into(),
            start: "2026-11-01T00:00:00Z".into(),
            end: "2026-11-02T00:00:00+01:00".into(),
            environment_ids: vec!["abc12345".into()],
            capability_keys: vec![],
            cluster_ids: vec![],
            offset: 7,
            page_size: 7,
        };
        assert_eq!(decode_page_key(&encode_page_key(&key)), Some(key.clone()));
        let encoded = encode_page_key(&key);
        assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "URL-safe: {encoded}");
        assert_eq!(decode_page_key(&format!("{encoded}==")), Some(key.clone()), "padding is tolerated");
        assert_eq!(decode_page_key("e3+0"), None);
        let bad_size = PageKey { page_size: 1001, ..key.clone() };
        assert_eq!(decode_page_key(&encode_page_key(&bad_size)), None);
        let bad_time = PageKey { start: "yesterday".into(), ..key };
        assert_eq!(decode_page_key(&encode_page_key(&bad_time)), None);
    }

    #[test]
    fn end_markers_cycle_with_the_page_index() {
        assert_eq!(end_marker(0, 100), EndMarker::Absent);
        assert_eq!(end_marker(100, 100), EndMarker::Null);
        assert_eq!(end_marker(200, 100), EndMarker::Empty);
        assert_eq!(end_marker(300, 100), EndMarker::Absent);
        assert_eq!(end_marker(13, 7), EndMarker::Null);
        assert_eq!(end_marker(0, 0), EndMarker::Absent);
    }
}
