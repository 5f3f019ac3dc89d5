//! The one door to the network: a minimal request/response model and the `Transport` trait.
//! The component implements it on `wasi:http/outgoing-handler`; tests implement it with fakes.

use crate::model::RequestFailure;
use crate::parse;

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
}

impl Request {
    pub fn get(url: String) -> Self {
        Request { method: Method::Get, url, headers: vec![("accept", "application/json".into())], body: Vec::new() }
    }

    pub fn post(url: String, content_type: &str, body: Vec<u8>) -> Self {
        Request {
            method: Method::Post,
            url,
            headers: vec![("accept", "application/json".into()), ("content-type", content_type.into())],
            body,
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

/// No response came: refused by the host's allowlist, connection refused or dropped, timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportError {
    /// Whether trying again may help (a dropped connection may; a refused host never will).
    pub retryable: bool,
    pub message: String,
}

/// The outside world as the job sees it: HTTP and the clocks.
pub trait Transport {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError>;
    /// Milliseconds on a monotonic clock, for token lifetimes and retry budgets.
    fn monotonic_millis(&mut self) -> u64;
    /// Milliseconds since the Unix epoch, for `X-RateLimit-Reset`.
    fn wall_millis(&mut self) -> u64;
    fn sleep_millis(&mut self, millis: u64);
}

/// How transient failures are retried: capped exponential backoff with jitter, bounded in time
/// (the OpenTelemetry Collector's exporter defaults: 5 s, x1.5, at most 30 s, give up after 300 s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub initial_delay_ms: u32,
    pub max_delay_ms: u32,
    pub multiplier: f64,
    /// The time budget of one request, retries included; 0 disables retries.
    pub max_elapsed_ms: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { initial_delay_ms: 5_000, max_delay_ms: 30_000, multiplier: 1.5, max_elapsed_ms: 300_000 }
    }
}

/// Statuses worth another try: throttling and the gateway errors of an overloaded service.
pub fn is_transient(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
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

    pub fn now_millis(&mut self) -> u64 {
        self.transport.monotonic_millis()
    }

    /// Sends `request`, retrying transient failures within the policy's budget. The last response
    /// is returned whatever its status; `Err` only when no response came at all.
    pub fn send(&mut self, request: &Request) -> Result<Response, RequestFailure> {
        self.send_parsed(request, |_| Some(())).map(|(response, _)| response)
    }

    /// Like [`Client::send`], and the body of a 2xx response is read with `parse`: when it
    /// refuses the body (a truncated transfer, say), the request is retried too. The body of the
    /// last response comes back parsed when it was a 2xx that `parse` took, so that nothing is
    /// parsed twice.
    pub fn send_parsed<T>(
        &mut self,
        request: &Request,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<(Response, Option<T>), RequestFailure> {
        let started = self.transport.monotonic_millis();
        let mut attempt = 0u32;
        loop {
            self.requests += 1;
            let outcome = self.transport.send(request);
            let mut parsed = None;
            let (retryable, hint) = match &outcome {
                Ok(response) if response.status == 429 => {
                    self.throttled += 1;
                    (true, self.throttle_delay(response))
                }
                Ok(response) if is_transient(response.status) => (true, None),
                Ok(response) if response.is_success() => {
                    parsed = parse(&response.body);
                    (parsed.is_none(), None)
                }
                Ok(_) => (false, None),
                Err(error) => (error.retryable, None),
            };
            let delay = hint.unwrap_or_else(|| self.backoff(attempt));
            let elapsed = self.transport.monotonic_millis().saturating_sub(started);
            if !retryable || elapsed + delay > u64::from(self.policy.max_elapsed_ms) {
                return match outcome {
                    Ok(response) => Ok((response, parsed)),
                    Err(error) => Err(RequestFailure {
                        request: request.describe(),
                        status: None,
                        message: if attempt > 0 {
                            format!("{} (after {} attempts)", error.message, attempt + 1)
                        } else {
                            error.message
                        },
                        events_not_sent: 0,
                    }),
                };
            }
            self.transport.sleep_millis(delay);
            self.retries += 1;
            attempt += 1;
        }
    }

    /// Waits as before retry number `attempt` (0-based) and counts it as a retry.
    pub fn back_off(&mut self, attempt: u32) {
        let delay = self.backoff(attempt);
        self.transport.sleep_millis(delay);
        self.retries += 1;
    }

    /// `Retry-After` (seconds) when present, else `X-RateLimit-Reset` (microseconds since the
    /// epoch, as the Dynatrace environment and cluster APIs document it).
    fn throttle_delay(&mut self, response: &Response) -> Option<u64> {
        if let Some(seconds) = response.header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(seconds.saturating_mul(1000));
        }
        let reset_micros = response.header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok())?;
        let now = self.transport.wall_millis();
        Some((reset_micros / 1000).saturating_sub(now).max(1))
    }

    /// Exponential backoff with "equal jitter": between half and all of the capped delay.
    fn backoff(&mut self, attempt: u32) -> u64 {
        let base =
            f64::from(self.policy.initial_delay_ms) * self.policy.multiplier.max(1.0).powi(attempt.min(64) as i32);
        let capped = base.min(f64::from(self.policy.max_delay_ms)).max(1.0) as u64;
        // xorshift64: jitter needs no cryptographic randomness (and no wasi:random import).
        self.jitter_state ^= self.jitter_state << 13;
        self.jitter_state ^= self.jitter_state >> 7;
        self.jitter_state ^= self.jitter_state << 17;
        capped / 2 + self.jitter_state % (capped / 2 + 1)
    }
}

/// A failure for a response that is not what the caller needed, with the API's own message.
pub fn failure(request: &Request, response: &Response) -> RequestFailure {
    RequestFailure {
        request: request.describe(),
        status: Some(response.status),
        message: parse::error_message(&response.body),
        events_not_sent: 0,
    }
}

/// `base` + `path`, tolerating a trailing slash on the configured base URL.
pub fn join(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// `application/x-www-form-urlencoded` encoding of name/value pairs.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(name, &mut out);
        out.push('=');
        encode_component(value, &mut out);
    }
    out
}

fn encode_component(text: &str, out: &mut String) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
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
