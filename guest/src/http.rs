//! The one door to the network: a minimal request/response model and the `Transport` trait.
//! The component implements it on `wasi:http/outgoing-handler`; tests implement it with fakes.

use crate::error::ExportError;
use crate::wit::{FailureKind, Report, RequestFailure, RetryPolicy};
use crate::{parse, untrusted};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// An HTTP request. Secrets travel only in `headers` or `body`, never in `url`, so that
/// [`Request::describe`] is safe to print.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// How long the transport may take for this attempt, answer body included (the [`Client`]
    /// sets it from its policy); `None`: the transport's own limits.
    pub timeout_ms: Option<u32>,
}

impl Request {
    pub fn get(url: String) -> Self {
        Request {
            method: Method::Get,
            url,
            headers: vec![("accept", "application/json".into())],
            body: Vec::new(),
            timeout_ms: None,
        }
    }

    pub fn post(url: String, content_type: &str, body: Vec<u8>) -> Self {
        Request {
            method: Method::Post,
            url,
            headers: vec![("accept", "application/json".into()), ("content-type", content_type.into())],
            body,
            timeout_ms: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    /// `METHOD url`, for reports and errors.
    pub fn describe(&self) -> String {
        format!("{} {}", self.method.as_str(), self.url)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// No (complete) response came: refused by the host's allowlist, connection refused or dropped,
/// timeout, a body cut short or over the cap.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportError {
    pub kind: FailureKind,
    pub message: String,
}

impl TransportError {
    /// Whether trying again may help: a dropped connection or a timeout may; a refused host, a
    /// name that does not resolve, an untrusted certificate or an oversized body never will.
    pub fn is_transient(&self) -> bool {
        matches!(self.kind, FailureKind::Connection | FailureKind::Timeout)
    }
}

/// The outside world as the job sees it: HTTP and the clocks.
pub trait Transport {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError>;
    /// Sends `requests` at once and waits for every answer, in order. By default one after the
    /// other; the component's transport issues them together.
    fn send_all(&mut self, requests: &[Request]) -> Vec<Result<Response, TransportError>> {
        requests.iter().map(|request| self.send(request)).collect()
    }
    /// Milliseconds on a monotonic clock, for token lifetimes and retry budgets.
    fn monotonic_millis(&mut self) -> u64;
    /// Milliseconds since the Unix epoch, for `X-RateLimit-Reset`.
    fn wall_millis(&mut self) -> u64;
    fn sleep_millis(&mut self, millis: u64);
}

impl FailureKind {
    /// The kind of an HTTP status the caller could not use (a 401 is [`FailureKind::Unauthorized`]
    /// unless the client knows the token was stale).
    pub fn of_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            429 => Self::Throttled,
            500..=599 => Self::ServerError,
            _ => Self::HttpStatus,
        }
    }
}

/// Statuses worth another try: throttling and the gateway errors of an overloaded service.
pub fn is_transient(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// How many freshly issued tokens a request may see refused with 401 before it gives up: one
/// refusal can be a token that expired in flight or a replica that has not seen it yet; three in
/// a row are credentials this API does not take.
pub const FRESH_TOKEN_REFUSALS: u32 = 3;

/// Which attempt of a request is being prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 0 for the first.
    pub number: u32,
    /// The previous attempt was answered 401: its token must not be used again.
    pub after_unauthorized: bool,
}

/// One attempt's request. `fresh_token` is `None` for a request without a token (it is never
/// re-authorized), else whether its token was issued for this very attempt.
pub struct Prepared {
    pub request: Request,
    pub fresh_token: Option<bool>,
}

/// A request, the response it finally got, and the body parsed when it was a 2xx `parse` took.
pub struct Exchange<T> {
    pub request: Request,
    pub response: Response,
    pub parsed: Option<T>,
}

/// Sends requests with retries, and counts what it did.
pub struct Client<'a> {
    transport: &'a mut dyn Transport,
    policy: RetryPolicy,
    pub requests: u32,
    pub retries: u32,
    pub throttled: u32,
    jitter_state: u64,
}

impl<'a> Client<'a> {
    pub fn new(transport: &'a mut dyn Transport, policy: RetryPolicy) -> Self {
        let seed = transport.wall_millis() ^ 0x9E37_79B9_7F4A_7C15;
        Client { transport, policy, requests: 0, retries: 0, throttled: 0, jitter_state: seed | 1 }
    }

    /// `report` with what this client counted (requests, retries, 429s).
    pub fn counted(&self, mut report: Report) -> Report {
        report.requests = self.requests;
        report.retries = self.retries;
        report.throttled = self.throttled;
        report
    }

    pub fn now_millis(&mut self) -> u64 {
        self.transport.monotonic_millis()
    }

    /// Sends `request`, retrying transient failures within the policy's budget. The last response
    /// is returned whatever its status; `Err` only when no response came at all.
    pub fn send(&mut self, request: &Request) -> Result<Response, RequestFailure> {
        self.send_parsed(request, |_| Some(())).map(|(response, _)| response)
    }

    /// Like [`Client::send`], and the body of a 2xx response is read with `parse` (once: the
    /// readers take the parsed value). A complete 2xx that `parse` refuses is not retried: the
    /// same bytes would come again; a body cut short is a transport failure, which is.
    pub fn send_parsed<T>(
        &mut self,
        request: &Request,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<(Response, Option<T>), RequestFailure> {
        let prepare = |_: &mut Client<'a>, _: Attempt| Ok(Prepared { request: request.clone(), fresh_token: None });
        match self.exchange(prepare, parse) {
            Ok(exchange) => Ok((exchange.response, exchange.parsed)),
            Err(ExportError::Request(failure)) => Err(failure),
            // `prepare` above cannot fail.
            Err(other) => Err(RequestFailure {
                request: request.describe(),
                kind: FailureKind::Other,
                status: None,
                message: other.to_string(),
                events_not_sent: 0,
            }),
        }
    }

    /// The retry loop. Each attempt's request comes from `prepare`, so that every attempt carries
    /// credentials valid for it (a token refreshed ahead of expiry before each attempt, not once
    /// per request). A 401 on a request with a token is answered with a fresh token at once,
    /// within the retry budget; a fresh token refused [`FRESH_TOKEN_REFUSALS`] times is a
    /// failure of kind `unauthorized`, a stale one the budget left no time to replace
    /// `token-expired`. `Err` when no usable response came.
    pub fn exchange<T>(
        &mut self,
        prepare: impl FnMut(&mut Client<'a>, Attempt) -> Result<Prepared, ExportError>,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Exchange<T>, ExportError> {
        let started = self.transport.monotonic_millis();
        self.exchange_from(prepare, parse, started, None)
    }

    /// Several requests whose first attempts go out at once (they share one round trip of the
    /// critical path, as wasi-http's requests are futures); each that needs another try is then
    /// retried on its own, as [`Client::exchange`] does. `prepare` gets the request's index.
    pub fn exchange_all<T>(
        &mut self,
        count: usize,
        mut prepare: impl FnMut(&mut Client<'a>, Attempt, usize) -> Result<Prepared, ExportError>,
        parse: impl Fn(&[u8]) -> Option<T> + Copy,
    ) -> Vec<Result<Exchange<T>, ExportError>> {
        let started = self.transport.monotonic_millis();
        let first = Attempt { number: 0, after_unauthorized: false };
        let prepared: Vec<Result<Prepared, ExportError>> =
            (0..count).map(|index| prepare(self, first, index).map(|p| self.with_timeout(p))).collect();
        let ready: Vec<Request> = prepared.iter().filter_map(|p| p.as_ref().ok()).map(|p| p.request.clone()).collect();
        self.requests += ready.len() as u32;
        let mut outcomes = self.transport.send_all(&ready).into_iter();
        let mut results = Vec::with_capacity(count);
        for (index, prepared) in prepared.into_iter().enumerate() {
            let result = match prepared {
                Ok(prepared) => {
                    let outcome = outcomes.next().unwrap_or_else(|| {
                        Err(TransportError { kind: FailureKind::Other, message: "no answer from send_all".into() })
                    });
                    self.exchange_from(
                        |client, attempt| prepare(client, attempt, index),
                        parse,
                        started,
                        Some((prepared, outcome)),
                    )
                }
                Err(error) => Err(error),
            };
            results.push(result);
        }
        results
    }

    fn with_timeout(&self, mut prepared: Prepared) -> Prepared {
        if self.policy.attempt_timeout_ms() > 0 {
            prepared.request.timeout_ms = Some(self.policy.attempt_timeout_ms());
        }
        prepared
    }

    /// The retry loop from `started`; its first attempt already made when `first` is given.
    fn exchange_from<T>(
        &mut self,
        mut prepare: impl FnMut(&mut Client<'a>, Attempt) -> Result<Prepared, ExportError>,
        parse: impl Fn(&[u8]) -> Option<T>,
        started: u64,
        mut first: Option<(Prepared, Result<Response, TransportError>)>,
    ) -> Result<Exchange<T>, ExportError> {
        let mut attempt = Attempt { number: 0, after_unauthorized: false };
        let mut fresh_refusals = 0u32;
        loop {
            let (Prepared { request, fresh_token }, outcome) = match first.take() {
                Some(made) => made,
                None => {
                    let prepared = prepare(self, attempt).map(|p| self.with_timeout(p))?;
                    self.requests += 1;
                    let outcome = self.transport.send(&prepared.request);
                    (prepared, outcome)
                }
            };
            let mut parsed = None;
            let mut unauthorized = false;
            let (retryable, hint) = match &outcome {
                Ok(response) if response.status == 429 => {
                    self.throttled += 1;
                    // The policy's backoff is a floor: a `Retry-After: 0` or a reset already past
                    // (or one in a unit we misread, or a skewed clock) must not make a storm.
                    let floor = self.backoff(attempt.number);
                    (true, Some(self.throttle_delay(response).map_or(floor, |wait| wait.max(floor))))
                }
                Ok(response) if is_transient(response.status) => (true, None),
                Ok(response) if response.status == 401 && fresh_token.is_some() => {
                    unauthorized = true;
                    if fresh_token == Some(true) {
                        fresh_refusals += 1;
                        (fresh_refusals < FRESH_TOKEN_REFUSALS, None)
                    } else {
                        // A token issued earlier: replace it at once, no backoff.
                        (true, Some(0))
                    }
                }
                Ok(response) if response.is_success() => {
                    parsed = parse(&response.body);
                    (false, None)
                }
                Ok(_) => (false, None),
                Err(error) => (error.is_transient(), None),
            };
            let delay = hint.unwrap_or_else(|| self.backoff(attempt.number));
            let elapsed = self.transport.monotonic_millis().saturating_sub(started);
            let budget = self.policy.max_elapsed_ms();
            if !retryable || budget == 0 || elapsed + delay > u64::from(budget) {
                let tries = if attempt.number > 0 {
                    format!(" (after {} attempts)", attempt.number + 1)
                } else {
                    String::new()
                };
                return match outcome {
                    Ok(response) if unauthorized => {
                        let mut failure = failure(&request, &response);
                        if fresh_token == Some(false) {
                            failure.kind = FailureKind::TokenExpired;
                        }
                        failure.message.push_str(&tries);
                        Err(ExportError::Request(failure))
                    }
                    Ok(response) => Ok(Exchange { request, response, parsed }),
                    Err(error) => Err(ExportError::Request(RequestFailure {
                        request: request.describe(),
                        kind: error.kind,
                        status: None,
                        message: format!("{}{tries}", error.message),
                        events_not_sent: 0,
                    })),
                };
            }
            self.transport.sleep_millis(delay);
            self.retries += 1;
            attempt = Attempt { number: attempt.number + 1, after_unauthorized: unauthorized };
        }
    }

    /// Waits as before retry number `attempt` (0-based) and counts it as a retry.
    pub fn back_off(&mut self, attempt: u32) {
        let delay = self.backoff(attempt);
        self.transport.sleep_millis(delay);
        self.retries += 1;
    }

    /// How long the server asks us to wait: `Retry-After` (seconds) when present, else
    /// `X-RateLimit-Reset`, an instant since the epoch that the Dynatrace environment and cluster
    /// APIs document in microseconds; proxies and other APIs send seconds or milliseconds, told
    /// apart by magnitude (a reset in seconds read as microseconds would lie in 1970). A reset in
    /// the past asks for no wait; the caller's backoff then applies.
    fn throttle_delay(&mut self, response: &Response) -> Option<u64> {
        if let Some(seconds) = response.header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(seconds.saturating_mul(1000));
        }
        let reset = response.header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok())?;
        let reset_millis = match reset {
            // Before 5138 in seconds, before 5138 in milliseconds, else microseconds.
            0..100_000_000_000 => reset.saturating_mul(1000),
            100_000_000_000..100_000_000_000_000 => reset,
            _ => reset / 1000,
        };
        Some(reset_millis.saturating_sub(self.transport.wall_millis()))
    }

    /// Exponential backoff with "equal jitter": between half and all of the capped delay.
    fn backoff(&mut self, attempt: u32) -> u64 {
        let base =
            f64::from(self.policy.initial_delay_ms()) * self.policy.multiplier().max(1.0).powi(attempt.min(64) as i32);
        let capped = base.min(f64::from(self.policy.max_delay_ms())).max(1.0) as u64;
        // xorshift64: jitter needs no cryptographic randomness (and no wasi:random import).
        self.jitter_state ^= self.jitter_state << 13;
        self.jitter_state ^= self.jitter_state >> 7;
        self.jitter_state ^= self.jitter_state << 17;
        capped / 2 + self.jitter_state % (capped / 2 + 1)
    }
}

/// A failure for a response that is not what the caller needed, with the API's own message.
/// The message is the server's, bounded and escaped, with the request's own credentials (its
/// `authorization` header) removed in case the server echoed them.
pub fn failure(request: &Request, response: &Response) -> RequestFailure {
    let credentials: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.split_once(' ').map_or(value.as_str(), |(_, credential)| credential))
        .collect();
    RequestFailure {
        request: request.describe(),
        kind: FailureKind::of_status(response.status),
        status: Some(response.status),
        message: untrusted::excerpt(&parse::error_message(&response.body), &credentials),
        events_not_sent: 0,
    }
}

/// `base` + `path`, tolerating a trailing slash on the configured base URL.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// `application/x-www-form-urlencoded` encoding of name/value pairs (the `form_urlencoded`
/// crate's, as the URL standard defines it).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Splits `scheme://authority/path?query` into its parts.
pub fn split_url(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    if authority.is_empty() || !matches!(scheme, "http" | "https") {
        return None;
    }
    Some((scheme, authority, if path.is_empty() { "/" } else { path }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_reserved_characters() {
        assert_eq!(
            form_encode(&[("scope", "account-uac-read storage:events:write"), ("resource", "urn:dtaccount:a/b")]),
            "scope=account-uac-read+storage%3Aevents%3Awrite&resource=urn%3Adtaccount%3Aa%2Fb"
        );
    }

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        assert_eq!(split_url("https://api.dynatrace.com/sub/v2"), Some(("https", "api.dynatrace.com", "/sub/v2")));
        assert_eq!(split_url("http://127.0.0.1:8080"), Some(("http", "127.0.0.1:8080", "/")));
        assert_eq!(split_url("http://[::1]:80/a?b=c"), Some(("http", "[::1]:80", "/a?b=c")));
        assert_eq!(split_url("ftp://x/y"), None);
        assert_eq!(split_url("api.dynatrace.com"), None);
        assert_eq!(join("https://x/", "/api"), "https://x/api");
    }
}
