//! A hostile Dynatrace on loopback: one server that plays the SSO, the account API, the ingest
//! API and a Managed cluster, and answers every request with an error that echoes what it was
//! sent (the posted form, every header) or floods the terminal, or puts the secrets it was sent
//! into the data it answers.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// The SSO answers 400 `invalid_client` with the whole request (request line, headers, posted
    /// form) as its JSON `error_description`; every other path answers 401 with the whole request
    /// as a JSON `error.message`.
    EchoJson,
    /// The same echoes as `text/plain` bodies.
    EchoText,
    /// The SSO grants a token (a JWT-shaped access token the host never sees); every other path
    /// answers 401 echoing the whole request, its `Authorization: Bearer …` included.
    GrantThenEcho,
    /// Every path answers 400 with an error message of this many bytes made of terminal escapes,
    /// carriage returns, line feeds, bells and a forged summary line ([`FORGED_LINE`]).
    Flood(usize),
    /// The SSO grants a token; the account lists one ACTIVE REGULAR subscription whose uuid and
    /// name are terminal escapes and a forged summary line; every other path answers 404 with
    /// such a message.
    ForgedSubscription,
    /// A well-behaved Dynatrace that answers too much: the SSO grants an access token of
    /// `token_bytes` bytes ([`ACCESS_TOKEN`] when 0); the account has one valid subscription
    /// ([`SUBSCRIPTION`]) whose `/cost` lists `cost_records` days; no forecast (404); ingest
    /// accepts everything (202); the cluster license answers 404.
    Large { token_bytes: usize, cost_records: usize },
    /// Every path answers 200 announcing a 1,000-byte JSON body and sends one byte of it every
    /// 400 ms: a slow drip no per-byte timeout catches.
    Drip,
    /// A Dynatrace that answers well but puts the secrets it was sent into its data: the SSO
    /// grants [`ACCESS_TOKEN`] and remembers the posted `client_secret`; the subscription's
    /// `name` is that client secret with U+202E and ESC ([`HIDDEN`]), its `account.uuid` the
    /// access token its request carried; each `/cost` record's `lastBookingDate` both; the
    /// cluster's `licenseName` is the `Api-Token` it was sent, its `accountName` [`HIDDEN`];
    /// ingest answers 202 and keeps every body ([`Hostile::ingested`]).
    EchoSecretsIntoData,
    /// The SSO grants an `access_token` that is a number; every other path answers 404.
    NumericAccessToken,
}

/// The characters [`Behaviour::EchoSecretsIntoData`] hides in names: a right-to-left override
/// and a terminal escape.
pub const HIDDEN: &str = "\u{202e}gnp.exe\u{1b}[31m";

/// What [`Behaviour::EchoSecretsIntoData`] was sent.
#[derive(Default)]
struct Seen {
    client_secret: Option<String>,
    ingested: Vec<String>,
}

/// The length [`Behaviour::Drip`] announces (and would take 400 s to send).
pub const DRIP_BYTES: usize = 1000;

/// The subscription [`Behaviour::Large`] serves.
pub const SUBSCRIPTION: &str = "5e1a0c2d-7b3f-4c1e-9a2d-0123456789ab";

/// The access token [`Behaviour::GrantThenEcho`] grants.
pub const ACCESS_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJob3N0aWxlLXRlc3QiLCJzY29wZSI6ImFjY291bnQtdWFjLXJlYWQifQ.c2lnbmVkLWJ5LW5vYm9keQ";
/// A [`Behaviour::Flood`] message over the component's 8 MiB body cap, as the attack used.
pub const FLOOD_BYTES: usize = 30 << 20;
/// The summary line a flood tries to forge.
pub const FORGED_LINE: &str = "ok     account Forged: 30 records read, 31 events built, 31 sent, 31 accepted";

pub struct Hostile {
    /// `http://127.0.0.1:PORT`: the SSO (`/sso/oauth2/token`), the account API, the ingest target
    /// and the cluster all at once.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    pub async fn start(behaviour: Behaviour) -> Hostile {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (logged, seen) = (requests.clone(), Arc::<Mutex<Seen>>::default());
        let state = seen.clone();
        let router = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let echo = echo(&method, &uri, &headers, &body);
            logged.lock().unwrap().push(format!("{method} {uri}"));
            let answered = match behaviour {
                Behaviour::EchoSecretsIntoData => echo_into_data(&uri, &headers, &body, &state),
                _ => answer(behaviour, &uri, echo),
            };
            async move { answered }
        });
        // Ingest bodies of any size are read (the component caps them at 5 MB itself).
        let router = router.layer(axum::extract::DefaultBodyLimit::disable());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Hostile { url, requests, seen, task }
    }

    /// The body of every ingest request received, as sent.
    pub fn ingested(&self) -> Vec<String> {
        self.seen.lock().unwrap().ingested.clone()
    }

    /// `METHOD /path?query` of every request received.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The whole request as text, body first (a posted form's secret then falls within any excerpt
/// of it): what an echoing server puts in its error.
fn echo(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    text.push_str(&format!("\n{method} {uri} HTTP/1.1\n"));
    for (name, value) in headers {
        text.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())));
    }
    text
}

fn answer(behaviour: Behaviour, uri: &Uri, echo: String) -> Response {
    let sso = uri.path().ends_with("/oauth2/token");
    let json = |status: StatusCode, body: serde_json::Value| (status, axum::Json(body)).into_response();
    let text = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
    };
    match (behaviour, sso) {
        (Behaviour::EchoJson, true) => {
            json(StatusCode::BAD_REQUEST, serde_json::json!({"error": "invalid_client", "error_description": echo}))
        }
        (Behaviour::EchoJson | Behaviour::GrantThenEcho, false) => {
            json(StatusCode::UNAUTHORIZED, serde_json::json!({"error": {"code": 401, "message": echo}}))
        }
        (Behaviour::GrantThenEcho, true) => json(
            StatusCode::OK,
            serde_json::json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300}),
        ),
        (Behaviour::EchoText, _) => text(if sso { StatusCode::BAD_REQUEST } else { StatusCode::UNAUTHORIZED }, echo),
        (Behaviour::ForgedSubscription, true) => json(
            StatusCode::OK,
            serde_json::json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300}),
        ),
        (Behaviour::ForgedSubscription, false) => {
            let forged = format!("7c0d4f5e\x1b[2K\r\n{FORGED_LINE}\n\x07");
            if uri.path().ends_with("/subscriptions") {
                let subscription = serde_json::json!({
                    "uuid": forged, "type": "REGULAR", "subType": "DPS", "name": format!("Forged\x1b]0;title\x07{forged}"),
                    "status": "ACTIVE", "startTime": "2026-01-01T00:00:00Z", "endTime": "2027-01-01T00:00:00Z"
                });
                json(StatusCode::OK, serde_json::json!({"data": [subscription]}))
            } else {
                json(StatusCode::NOT_FOUND, serde_json::json!({"error": {"code": 404, "message": forged}}))
            }
        }
        (Behaviour::NumericAccessToken, true) => {
            json(StatusCode::OK, serde_json::json!({"access_token": 12345, "token_type": "Bearer", "expires_in": 300}))
        }
        (Behaviour::NumericAccessToken, false) => {
            json(StatusCode::NOT_FOUND, serde_json::json!({"error": {"code": 404, "message": "Not found"}}))
        }
        // Answered by `echo_into_data`.
        (Behaviour::EchoSecretsIntoData, _) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        (Behaviour::Large { token_bytes, .. }, true) => {
            let token = if token_bytes == 0 { ACCESS_TOKEN.to_owned() } else { "t".repeat(token_bytes) };
            json(StatusCode::OK, serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": 300}))
        }
        (Behaviour::Large { cost_records, .. }, false) => large(uri, cost_records),
        (Behaviour::Drip, _) => {
            let drip = futures_util::stream::unfold(0usize, |sent| async move {
                if sent == DRIP_BYTES {
                    return None;
                }
                tokio::time::sleep(std::time::Duration::from_millis(400)).await;
                Some((Ok::<_, std::io::Error>(Bytes::from_static(b" ")), sent + 1))
            });
            let mut response = axum::body::Body::from_stream(drip).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
            headers.insert(header::CONTENT_LENGTH, DRIP_BYTES.into());
            response
        }
        (Behaviour::Flood(bytes), _) => {
            let mut message = format!("Invalid\r\n{FORGED_LINE}\n\x1b[2K\x1b]0;pwned\x07\x1b[1A\r");
            while message.len() < bytes {
                message.push_str("\x1b[31m\r\n\x07");
                message.push_str(FORGED_LINE);
            }
            if sso {
                json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "invalid_client", "error_description": message}),
                )
            } else {
                json(StatusCode::BAD_REQUEST, serde_json::json!({"error": {"code": 400, "message": message}}))
            }
        }
    }
}

/// [`Behaviour::Large`]'s account API, ingest and cluster.
fn large(uri: &Uri, cost_records: usize) -> Response {
    let json = |status: StatusCode, body: serde_json::Value| (status, axum::Json(body)).into_response();
    let path = uri.path();
    let not_found = || json(StatusCode::NOT_FOUND, serde_json::json!({"error": {"code": 404, "message": "Not found"}}));
    if path.ends_with("/bizevents/ingest") {
        return StatusCode::ACCEPTED.into_response();
    }
    if path.ends_with("/subscriptions") {
        let entry = serde_json::json!({"uuid": SUBSCRIPTION, "type": "REGULAR", "name": "DPS", "status": "ACTIVE",
            "startTime": "2026-01-01", "endTime": "2026-12-31"});
        return json(StatusCode::OK, serde_json::json!({"data": [entry]}));
    }
    if path.ends_with(&format!("/subscriptions/{SUBSCRIPTION}")) {
        return json(
            StatusCode::OK,
            serde_json::json!({"uuid": SUBSCRIPTION, "type": "REGULAR", "name": "DPS", "status": "ACTIVE",
                "budget": {"total": 1.0e9, "used": 10.0, "currencyCode": "USD"},
                "currentPeriod": {"startTime": "2026-01-01", "endTime": "2026-12-31", "daysRemaining": 30}}),
        );
    }
    if path.ends_with(&format!("/subscriptions/{SUBSCRIPTION}/cost")) {
        // Days back from 2026-11-22, one record each.
        let newest = jiff::civil::date(2026, 11, 22);
        let midnight = |date: jiff::civil::Date| format!("{date}T00:00:00Z");
        let mut body = String::from("{\"data\":[");
        for day in 0..cost_records as i64 {
            let start = newest.checked_sub(jiff::Span::new().days(day)).unwrap_or(newest);
            if day > 0 {
                body.push(',');
            }
            body.push_str(&format!(
                "{{\"startTime\":\"{}\",\"endTime\":\"{}\",\"value\":1.5,\"currencyCode\":\"USD\"}}",
                midnight(start),
                midnight(start.tomorrow().unwrap_or(start))
            ));
        }
        body.push_str("],\"lastModifiedTime\":\"2026-11-23T00:00:00Z\"}");
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    not_found()
}

/// [`Behaviour::EchoSecretsIntoData`]: valid answers carrying the secrets the request carried.
fn echo_into_data(uri: &Uri, headers: &HeaderMap, body: &[u8], seen: &Mutex<Seen>) -> Response {
    let json = |body: serde_json::Value| (StatusCode::OK, axum::Json(body)).into_response();
    let path = uri.path();
    // The credential after its scheme (`Bearer …`, `Api-Token …`).
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .map(|(_, credential)| credential.to_owned())
        .unwrap_or_default();
    if path.ends_with("/oauth2/token") {
        let secret =
            url::form_urlencoded::parse(body).find(|(key, _)| key == "client_secret").map(|(_, v)| v.into_owned());
        if secret.is_some() {
            seen.lock().unwrap().client_secret = secret;
        }
        return json(serde_json::json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300}));
    }
    if path.ends_with("/bizevents/ingest") {
        seen.lock().unwrap().ingested.push(String::from_utf8_lossy(body).into_owned());
        return StatusCode::ACCEPTED.into_response();
    }
    let client_secret = seen.lock().unwrap().client_secret.clone().unwrap_or_default();
    if path.ends_with("/subscriptions") {
        let entry = serde_json::json!({"uuid": SUBSCRIPTION, "type": "REGULAR", "name": format!("{client_secret}{HIDDEN}"),
            "status": "ACTIVE", "startTime": "2026-01-01", "endTime": "2026-12-31"});
        return json(serde_json::json!({"data": [entry]}));
    }
    if path.ends_with(&format!("/subscriptions/{SUBSCRIPTION}")) {
        return json(serde_json::json!({"uuid": SUBSCRIPTION, "type": "REGULAR", "status": "ACTIVE",
            "name": format!("{client_secret}{HIDDEN}"), "account": {"uuid": credential},
            "budget": {"total": 1.0e6, "used": 10.0, "currencyCode": "USD"},
            "currentPeriod": {"startTime": "2026-01-01", "endTime": "2026-12-31", "daysRemaining": 30}}));
    }
    if path.ends_with(&format!("/subscriptions/{SUBSCRIPTION}/cost")) {
        let records: Vec<serde_json::Value> = (1..=3)
            .map(|day| {
                serde_json::json!({"startTime": format!("2026-11-0{day}T00:00:00Z"),
                    "endTime": format!("2026-11-0{}T00:00:00Z", day + 1), "value": 1.5, "currencyCode": "USD",
                    "lastBookingDate": format!("{client_secret} {credential}")})
            })
            .collect();
        return json(serde_json::json!({"data": records}));
    }
    if path.ends_with("/clusterLicense") {
        return json(serde_json::json!({"clusterId": "echo-cluster", "accountName": format!("Echo{HIDDEN}"),
            "licenseName": credential, "licenseType": "PAID",
            "usageOfHostUnits": {"quota": 100, "usage": 10}}));
    }
    (StatusCode::NOT_FOUND, axum::Json(serde_json::json!({"error": {"code": 404, "message": "Not found"}})))
        .into_response()
}
