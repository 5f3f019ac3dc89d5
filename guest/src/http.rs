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
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends requests. An `Err` is a transport failure (refused by the host's allowlist, connection
/// refused, timeout): no HTTP response came.
pub trait Transport {
    fn send(&mut self, request: &Request) -> Result<Response, String>;
}

/// Sends a request and counts it; a transport error becomes a [`RequestFailure`].
pub fn send(transport: &mut dyn Transport, requests: &mut u32, request: &Request) -> Result<Response, RequestFailure> {
    *requests += 1;
    transport.send(request).map_err(|message| RequestFailure {
        request: request.describe(),
        status: None,
        message,
        events_not_sent: 0,
    })
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
