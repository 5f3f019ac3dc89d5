//! One classic environment's business events ingest, `POST /api/v2/bizevents/ingest`: its
//! credentials (an `Api-Token` or a Bearer token), media types, 5 MiB cap, CloudEvents and 400
//! partial success; what it accepts is recorded for the tests.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::auth::check_bearer;
use crate::data::MAX_INGEST_BYTES;
use crate::errors::env_error;
use crate::faults::Refusal;
use crate::state::Shared;

/// The environment's routes.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v2/bizevents/ingest", post(ingest_classic))
        // Bodies over the cap must reach the handler so that it can answer 413 itself.
        .layer(DefaultBodyLimit::max(4 * MAX_INGEST_BYTES))
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
        if let Err(denied) = check_bearer(&shared, &headers, "storage:events:write", None) {
            return env_error(denied.status, &denied.message);
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
