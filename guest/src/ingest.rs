//! Business-events ingest: byte-bounded batches, every response checked, partial success read,
//! refused events tried once more, oversized batches split.

use crate::error::ExportError;
use crate::events::event_id_of;
use crate::http::{self, Client, Request, Response};
use crate::secrets::{self, Secrets};
use crate::sso::{self, TokenSource};
use crate::wit::{FailureKind, IngestTarget, RejectedEvent, Report, RequestFailure, TargetAuth};
use crate::{parse, untrusted};

pub const API_TOKEN_PATH: &str = "/api/v2/bizevents/ingest";
pub const PLATFORM_PATH: &str = "/platform/classic/environment-api/v2/bizevents/ingest";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";
/// How often events refused in a 400 partial success are sent again on their own (a refusal can
/// be transient) before they are reported.
const RESENDS_OF_REFUSED: u32 = 2;

/// Sends `events` to the target (or, on a dry run, puts them in the report) and accounts for
/// every one of them in `report`: accepted, rejected, or not sent with a failure saying why.
/// Returns, per event, whether the ingest API acknowledged it.
pub fn ingest(
    http: &mut Client,
    secrets: &dyn Secrets,
    target: &IngestTarget,
    events: &[String],
    report: &mut Report,
) -> Vec<bool> {
    let mut accepted = vec![false; events.len()];
    if target.dry_run {
        report.events.extend(events.iter().cloned());
        return accepted;
    }
    if events.is_empty() {
        return accepted;
    }
    let url = http::join(&target.environment_url, ingest_path(target));
    let mut auth = match IngestAuth::new(secrets, target) {
        Ok(auth) => auth,
        Err(error) => {
            report.failures.push(RequestFailure {
                request: format!("POST {url}"),
                kind: FailureKind::Other,
                status: None,
                message: format!("cannot authenticate to the ingest API: {error}"),
                events_not_sent: events.len() as u32,
            });
            return accepted;
        }
    };
    let limit = target.max_batch_bytes() as usize;
    let mut sender = Sender { http, auth: &mut auth, url: &url, events, report, accepted: &mut accepted };
    for batch in batches(events, limit) {
        match batch {
            Batch::Oversized(index) => sender.not_sent(
                &[index],
                FailureKind::Other,
                None,
                format!("event is {} bytes, more than the {limit}-byte request cap", events[index].len()),
            ),
            Batch::Range(range) => {
                let indexes: Vec<usize> = range.collect();
                sender.report.events_sent += indexes.len() as u32;
                sender.post(&indexes, RESENDS_OF_REFUSED);
            }
        }
    }
    accepted
}

/// The platform path exists only on `*.apps.dynatrace.com` (Dynatrace SaaS's platform hosts);
/// everywhere else (`*.live.dynatrace.com`, Managed `/e/{env}`, a proxy, loopback) the classic
/// path takes an API token or an OAuth Bearer token alike, as the walk-through does.
fn ingest_path(target: &IngestTarget) -> &'static str {
    match target.auth {
        TargetAuth::Oauth(_) if is_platform_host(&target.environment_url) => PLATFORM_PATH,
        _ => API_TOKEN_PATH,
    }
}

/// Whether the URL's host is a platform (`.apps.`) host, e.g. `abc12345.apps.dynatrace.com`.
fn is_platform_host(url: &str) -> bool {
    let Some((_, authority, _)) = http::split_url(url) else { return false };
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    host.contains(".apps.")
}

enum IngestAuth {
    ApiToken(String),
    OAuth(TokenSource),
}

impl IngestAuth {
    fn new(secrets: &dyn Secrets, target: &IngestTarget) -> Result<Self, ExportError> {
        Ok(match &target.auth {
            TargetAuth::ApiToken => IngestAuth::ApiToken(secrets.require(secrets::TARGET_API_TOKEN)?),
            TargetAuth::Oauth(client) => IngestAuth::OAuth(TokenSource::new(
                client.clone(),
                secrets.require(secrets::TARGET_CLIENT_SECRET)?,
                sso::INGEST_SCOPE,
            )),
        })
    }
}

struct Sender<'s, 'h> {
    http: &'s mut Client<'h>,
    auth: &'s mut IngestAuth,
    url: &'s str,
    events: &'s [String],
    report: &'s mut Report,
    accepted: &'s mut [bool],
}

impl Sender<'_, '_> {
    /// POSTs the events at `indexes` as one JSON array and records the outcome of each.
    fn post(&mut self, indexes: &[usize], resends_left: u32) {
        let mut body = Vec::with_capacity(indexes.iter().map(|&i| self.events[i].len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (n, &index) in indexes.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            body.extend_from_slice(self.events[index].as_bytes());
        }
        body.push(b']');
        let url = self.url.to_owned();
        let build = |authorization: String| {
            Request::post(url.clone(), CONTENT_TYPE, body.clone()).header("authorization", authorization)
        };
        let sent = match &mut *self.auth {
            IngestAuth::ApiToken(token) => {
                let request = build(format!("Api-Token {token}"));
                self.http.send(&request).map(|response| (request, response)).map_err(ExportError::Request)
            }
            IngestAuth::OAuth(tokens) => {
                tokens.send(self.http, build, |_| Some(())).map(|exchange| (exchange.request, exchange.response))
            }
        };
        let (request, response) = match sent {
            Ok(sent) => sent,
            Err(ExportError::Request(failure)) => {
                return self.not_sent(indexes, failure.kind, failure.status, failure.message);
            }
            Err(error) => return self.not_sent(indexes, FailureKind::Other, None, error.to_string()),
        };
        match self.classify(indexes, &request, &response) {
            Answer::Accepted => {
                for &index in indexes {
                    self.accepted[index] = true;
                }
                self.report.events_accepted += indexes.len() as u32;
            }
            // The API's cap is smaller than ours: halve until it fits.
            Answer::TooLarge => {
                let (first, second) = indexes.split_at(indexes.len() / 2);
                self.post(first, resends_left);
                self.post(second, resends_left);
            }
            Answer::UnnamedRefusals(refusals) => {
                // Some were stored, some not, and the API did not say which: resending any would
                // duplicate the stored ones, so none is resent, and each is reported as unconfirmed.
                self.report.events_accepted += (indexes.len() - refusals.min(indexes.len())) as u32;
                let message = format!(
                    "the ingest API refused {refusals} of the {} events of this request without naming them (no \
                     `index`): this one is not confirmed; it is not resent now, the next run sends it again",
                    indexes.len()
                );
                for &index in indexes {
                    let event_id = event_id_of(&self.events[index]).unwrap_or("?").to_owned();
                    self.report.rejected.push(RejectedEvent { event_id, message: message.clone() });
                }
            }
            Answer::Refused(refused) => {
                let refused_indexes: Vec<usize> = refused.iter().map(|(index, _)| *index).collect();
                for &index in indexes {
                    if !refused_indexes.contains(&index) {
                        self.accepted[index] = true;
                        self.report.events_accepted += 1;
                    }
                }
                // The others were stored: resending the whole batch would duplicate them. The
                // refused ones are tried again on their own, after a pause, then reported.
                if resends_left > 0 {
                    self.http.back_off(RESENDS_OF_REFUSED - resends_left);
                    self.post(&refused_indexes, resends_left - 1);
                } else {
                    for (index, message) in refused {
                        let event_id = event_id_of(&self.events[index]).unwrap_or("?").to_owned();
                        self.report.rejected.push(RejectedEvent { event_id, message });
                    }
                }
            }
            Answer::NotAccepted(failure) => self.not_sent(indexes, failure.kind, failure.status, failure.message),
        }
    }

    /// What an answer of the ingest API means for the events of the request: the one place that
    /// decides. Only the published operation's answers count as a delivery: 202 ("all accepted";
    /// its body empty or JSON) and 400 with a `BizEventIngestResult` (the events it names
    /// refused, the others accepted). Anything else (a 200 login page of a proxy or an SSO, a 200
    /// or 204 of something that is not the ingest API, a 400 that is not its result) is not
    /// accepted: the events are reported not sent, and the next run sends them again.
    fn classify(&self, indexes: &[usize], request: &Request, response: &Response) -> Answer {
        match response.status {
            202 if response.body.trim_ascii().is_empty() || parse::json(&response.body).is_ok() => Answer::Accepted,
            413 if indexes.len() > 1 => Answer::TooLarge,
            400 => {
                if let Some(refusals) = self.unnamed_refusals(indexes, response) {
                    Answer::UnnamedRefusals(refusals)
                } else if let Some(refused) = self.partial_success(indexes, response) {
                    Answer::Refused(refused)
                } else {
                    Answer::NotAccepted(http::failure(request, response))
                }
            }
            status @ 200..=299 => {
                let mut failure = http::failure(request, response);
                failure.kind = FailureKind::HttpStatus;
                // A 202 here had a body that is neither empty nor JSON (a proxy's HTML page).
                let body = if status == 202 { " with a body that is not JSON" } else { "" };
                failure.message = format!(
                    "HTTP {status}{body} is not an answer of the ingest API (it answers 202, empty or JSON, when \
                     it takes events), so these events are not confirmed and the next run sends them again; is \
                     `url` the environment itself, not a proxy or login page? The answer: {}",
                    failure.message
                );
                Answer::NotAccepted(failure)
            }
            _ => Answer::NotAccepted(http::failure(request, response)),
        }
    }

    /// A 400 partial success whose errors do not name the refused events (`index` is optional in
    /// the published schema; an `id` that is one of ours names it too): how many were refused.
    fn unnamed_refusals(&self, indexes: &[usize], response: &Response) -> Option<usize> {
        let body = parse::json(&response.body).ok()?;
        let errors = parse::ingest_error_entries(&body).ok()?;
        if errors.is_empty() || errors.iter().all(|entry| self.position_of(indexes, entry).is_some()) {
            return None;
        }
        Some(errors.len())
    }

    /// The position in the request of the event an error entry names, by `index` or by `id`.
    fn position_of(&self, indexes: &[usize], entry: &parse::IngestError) -> Option<usize> {
        match (entry.index, &entry.id) {
            (Some(position), _) if position < indexes.len() => Some(position),
            (None, Some(id)) => indexes.iter().position(|&i| event_id_of(&self.events[i]) == Some(id.as_str())),
            _ => None,
        }
    }

    /// A 400 naming the refused events by their index in the request: their event indexes.
    fn partial_success(&self, indexes: &[usize], response: &Response) -> Option<Vec<(usize, String)>> {
        if response.status != 400 {
            return None;
        }
        let errors = parse::json(&response.body).and_then(|body| parse::ingest_error_entries(&body)).ok()?;
        let positions: Option<Vec<usize>> = errors.iter().map(|entry| self.position_of(indexes, entry)).collect();
        let positions = positions.filter(|positions| !positions.is_empty())?;
        let mut refused: Vec<(usize, String)> = positions
            .into_iter()
            .zip(errors)
            .map(|(position, entry)| (indexes[position], untrusted::bounded(&entry.message)))
            .collect();
        refused.sort_by_key(|(index, _)| *index);
        refused.dedup_by_key(|(index, _)| *index);
        Some(refused)
    }

    fn not_sent(&mut self, indexes: &[usize], kind: FailureKind, status: Option<u16>, message: String) {
        self.report.failures.push(RequestFailure {
            request: format!("POST {}", self.url),
            kind,
            status,
            message,
            events_not_sent: indexes.len() as u32,
        });
    }
}

/// What an ingest answer means for the events of its request (see [`Sender::classify`]).
enum Answer {
    /// 202: every event stored.
    Accepted,
    /// 413 for a request of several events: the API's cap is smaller than ours.
    TooLarge,
    /// 400 with errors that do not all name an event: this many refused, which ones unknown.
    UnnamedRefusals(usize),
    /// 400 naming the refused events (event index, message): the others stored.
    Refused(Vec<(usize, String)>),
    /// Anything else: none of the events is known to be stored.
    NotAccepted(RequestFailure),
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
