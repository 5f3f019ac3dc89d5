//! The middleware around every request of a service: the simulated round trip, the injected
//! fault of the first rule that matches (see `faults.rs`), and the request log.

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
use crate::faults::{ActiveFault, Fault, Refusal};
use crate::state::{LoggedRequest, Service, Shared};

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
