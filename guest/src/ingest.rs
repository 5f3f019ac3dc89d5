//! Business-events ingest: byte-bounded batches, every response checked, partial success read.

use crate::events::event_id_of;
use crate::http::{self, Request, Transport};
use crate::model::{ExportError, IngestTarget, RejectedEvent, Report, RequestFailure, TargetAuth};
use crate::parse;
use crate::secrets::{self, Secrets};
use crate::sso;

pub const API_TOKEN_PATH: &str = "/api/v2/bizevents/ingest";
pub const PLATFORM_PATH: &str = "/platform/classic/environment-api/v2/bizevents/ingest";
/// The API's documented cap is 5 MB per request.
pub const MAX_BATCH_BYTES: u32 = 5_000_000;

/// Sends `events` to the target (or, on a dry run, puts them in the report) and accounts for
/// every one of them in `report`: accepted, rejected, or not sent with a failure saying why.
pub fn ingest(
    transport: &mut dyn Transport,
    secrets: &dyn Secrets,
    target: &IngestTarget,
    events: Vec<String>,
    report: &mut Report,
) {
    report.events_built += events.len() as u32;
    if target.dry_run {
        report.events.extend(events);
        return;
    }
    if events.is_empty() {
        return;
    }
    let (url, authorization) = match authorize(transport, &mut report.requests, secrets, target) {
        Ok(found) => found,
        Err(error) => {
            report.failures.push(RequestFailure {
                request: format!("POST {}", http::join(&target.environment_url, ingest_path(target))),
                status: None,
                message: format!("cannot authenticate to the ingest API: {error}"),
                events_not_sent: events.len() as u32,
            });
            return;
        }
    };
    let limit = target.max_batch_bytes.clamp(1024, MAX_BATCH_BYTES) as usize;
    for batch in batches(&events, limit) {
        match batch {
            Batch::Oversized(index) => report.failures.push(RequestFailure {
                request: format!("POST {url}"),
                status: None,
                message: format!(
                    "event {} is {} bytes, more than the {limit}-byte request cap; not sent",
                    event_id_of(&events[index]).unwrap_or("?"),
                    events[index].len()
                ),
                events_not_sent: 1,
            }),
            Batch::Range(range) => send_batch(transport, &url, &authorization, &events[range], report),
        }
    }
}

fn ingest_path(target: &IngestTarget) -> &'static str {
    match target.auth {
        TargetAuth::ApiToken => API_TOKEN_PATH,
        TargetAuth::OAuth(_) => PLATFORM_PATH,
    }
}

fn authorize(
    transport: &mut dyn Transport,
    requests: &mut u32,
    secrets: &dyn Secrets,
    target: &IngestTarget,
) -> Result<(String, String), ExportError> {
    let url = http::join(&target.environment_url, ingest_path(target));
    let authorization = match &target.auth {
        TargetAuth::ApiToken => format!("Api-Token {}", secrets.require(secrets::TARGET_API_TOKEN)?),
        TargetAuth::OAuth(client) => {
            let secret = secrets.require(secrets::TARGET_CLIENT_SECRET)?;
            format!("Bearer {}", sso::fetch_token(transport, requests, client, &secret, sso::INGEST_SCOPE)?)
        }
    };
    Ok((url, authorization))
}

#[derive(Debug, PartialEq)]
enum Batch {
    Range(std::ops::Range<usize>),
    /// One event that alone exceeds the cap.
    Oversized(usize),
}

/// Greedy split into JSON arrays of at most `limit` bytes (brackets and commas included).
fn batches(events: &[String], limit: usize) -> Vec<Batch> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 2);
    for (index, event) in events.iter().enumerate() {
        if event.len() + 2 > limit {
            if start < index {
                out.push(Batch::Range(start..index));
            }
            out.push(Batch::Oversized(index));
            (start, size) = (index + 1, 2);
            continue;
        }
        let added = event.len() + usize::from(index > start);
        if size + added > limit {
            out.push(Batch::Range(start..index));
            (start, size) = (index, 2 + event.len());
        } else {
            size += added;
        }
    }
    if start < events.len() {
        out.push(Batch::Range(start..events.len()));
    }
    out
}

fn send_batch(transport: &mut dyn Transport, url: &str, authorization: &str, events: &[String], report: &mut Report) {
    let mut body = Vec::with_capacity(events.iter().map(|e| e.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(event.as_bytes());
    }
    body.push(b']');
    let request = Request::post(url.to_owned(), "application/json; charset=utf-8", body)
        .header("authorization", authorization.to_owned());
    let count = events.len() as u32;
    report.events_sent += count;
    let response = match http::send(transport, &mut report.requests, &request) {
        Ok(response) => response,
        Err(mut failure) => {
            failure.events_not_sent = count;
            report.failures.push(failure);
            return;
        }
    };
    if response.is_success() {
        report.events_accepted += count;
        return;
    }
    // 400 is a partial success: the events it names by index were refused, the others stored.
    if response.status == 400
        && let Ok(errors) = parse::ingest_errors(&response.body)
        && !errors.is_empty()
        && errors.iter().all(|(index, _)| *index < events.len())
    {
        let mut refused: Vec<usize> = errors.iter().map(|(index, _)| *index).collect();
        refused.sort_unstable();
        refused.dedup();
        report.events_accepted += count - refused.len() as u32;
        for (index, message) in errors {
            report
                .rejected
                .push(RejectedEvent { event_id: event_id_of(&events[index]).unwrap_or("?").to_owned(), message });
        }
        return;
    }
    let mut failure = http::failure(&request, &response);
    failure.events_not_sent = count;
    report.failures.push(failure);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(lengths: &[usize]) -> Vec<String> {
        lengths.iter().map(|n| "x".repeat(*n)).collect()
    }

    #[test]
    fn batches_stay_under_the_byte_cap_including_brackets_and_commas() {
        // [a,b] = 2 + 3 + 1 + 3 = 9 bytes
        let events = sized(&[3, 3, 3]);
        assert_eq!(batches(&events, 9), vec![Batch::Range(0..2), Batch::Range(2..3)]);
        assert_eq!(batches(&events, 13), vec![Batch::Range(0..3)]);
        assert_eq!(batches(&events, 12), vec![Batch::Range(0..2), Batch::Range(2..3)]);
    }

    #[test]
    fn an_event_over_the_cap_is_singled_out_not_dropped() {
        let events = sized(&[3, 20, 3]);
        assert_eq!(batches(&events, 10), vec![Batch::Range(0..1), Batch::Oversized(1), Batch::Range(2..3)]);
        assert!(batches(&[], 10).is_empty());
    }
}
