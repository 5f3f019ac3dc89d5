//! Failures the simulator can be told to produce, as the real services do under load, and the
//! middleware around every request that applies them (with the simulated round trip) and logs
//! the request.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::account_api::LAST_MODIFIED;
use crate::errors::{dps_error, env_error, sso_error_status};
use crate::state::{LoggedRequest, Service, Shared};

/// A failure the simulator can be told to produce, as the real services do under load.
#[derive(Debug, Clone)]
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
    /// An answer of the test's choosing instead of the service's, and nothing stored: a proxy's
    /// or an SSO's login page where the ingest API should be, a 429 with odd rate-limit headers.
    Answer { status: u16, headers: Vec<(&'static str, String)>, body: String },
    /// The service's answer with its JSON body edited by this function: the records a broken
    /// upstream sends (a day from the future, a day twice, an absurd quantity, mixed currencies).
    Rewrite(fn(&mut Value)),
}

/// How an injected refusal names the refused event in its error entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) with_index: bool,
    pub(crate) with_id: bool,
}

impl Refusal {
    /// By `index` and `id`, as a refusal of a bad event is.
    pub(crate) const NAMED: Refusal = Refusal { with_index: true, with_id: true };
}

/// Which requests get a fault: those of `service` (any when `None`), `times` times at most.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub service: Option<Service>,
    pub fault: Fault,
    pub times: u32,
}

/// An injected rule, limited to paths containing `path_contains` when set.
pub(crate) struct ActiveFault {
    pub(crate) rule: FaultRule,
    pub(crate) path_contains: Option<String>,
}

/// Around every request of a service: the simulated round trip, an injected fault if one
/// matches, and the request log.
pub(crate) async fn around_every_request(
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
        Fault::Answer { status, headers, body } => {
            let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
            let mut response = (status, body).into_response();
            for (name, value) in headers {
                if let Ok(value) = header::HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Fault::Rewrite(edit) => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
            let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) else {
                return Response::from_parts(parts, axum::body::Body::from(bytes));
            };
            edit(&mut json);
            let edited = json.to_string();
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, axum::body::Body::from(edited))
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
