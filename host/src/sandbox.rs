//! The sandbox around one instance: the origins it may reach (parsed by `url`, the loopback rule
//! written once), its secrets, its memory and time, and the wasi:http `send_request` hook that
//! checks every request against the allowlist before a connection is made, logs it, teaches the
//! run's scrubber its credential and scrubs the body of every ingest request before it leaves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::Instrument as _;
use wasmtime_wasi_http::{RequestOptions, WasiBody};

use crate::outbound::Outbound;
use crate::scrub::Scrubber;
use crate::secret::Secret;
use crate::traffic::Traffic;

/// Scheme, host and port of a URL: what the sandbox allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower case; an IPv6 address in brackets (`[::1]`).
    pub host: String,
    pub port: u16,
}

/// Why a URL is not an origin the sandbox can allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("not a URL ({0}); expected https://host…")]
    NotAUrl(#[from] url::ParseError),
    #[error("scheme {0:?} is not http or https")]
    Scheme(String),
    #[error("credentials in the URL are not allowed (name secrets with the -env or -file keys)")]
    Credentials,
    #[error("no host")]
    NoHost,
    #[error("no port")]
    NoPort,
    #[error("port 0 is not a port")]
    PortZero,
    #[error("plain http is allowed only to loopback (127.0.0.1, [::1], localhost); use https")]
    PlainHttpBeyondLoopback,
}

impl Origin {
    /// The origin of a URL's text (its path, query and fragment are not part of it).
    pub fn parse(url: &str) -> Result<Origin, OriginError> {
        Origin::of_url(&url::Url::parse(url)?)
    }

    /// The origin of a parsed URL: http or https, a host, a port other than 0, no credentials.
    pub fn of_url(url: &url::Url) -> Result<Origin, OriginError> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(OriginError::Scheme(scheme.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(OriginError::Credentials);
        }
        let host = url.host_str().filter(|host| !host.is_empty()).ok_or(OriginError::NoHost)?;
        let port = url.port_or_known_default().ok_or(OriginError::NoPort)?;
        if port == 0 {
            return Err(OriginError::PortZero);
        }
        Ok(Origin { scheme: scheme.to_owned(), host: host.to_ascii_lowercase(), port })
    }

    /// The origin of a request's URI, as the component sent it.
    pub fn of_uri(uri: &http::Uri) -> Result<Origin, OriginError> {
        Origin::parse(&uri.to_string())
    }

    /// `localhost`, or an IPv4 or IPv6 loopback address.
    pub fn is_loopback(&self) -> bool {
        match url::Host::parse(&self.host) {
            Ok(url::Host::Domain(name)) => name == "localhost",
            Ok(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Ok(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Err(_) => false,
        }
    }

    /// The transport rule: https, or plain http to loopback only.
    pub fn require_tls_beyond_loopback(&self) -> Result<(), OriginError> {
        if self.scheme == "http" && !self.is_loopback() {
            return Err(OriginError::PlainHttpBeyondLoopback);
        }
        Ok(())
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// What one instance may do.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// The only origins its HTTP requests may go to.
    pub allowed: Vec<Origin>,
    /// `wasi:config` values: this job's secrets and nothing else.
    pub config: Vec<(&'static str, Secret)>,
    pub memory_bytes: usize,
    pub timeout: Duration,
}

impl Sandbox {
    /// For the pure transforms: no network, no secrets.
    pub fn pure() -> Sandbox {
        Sandbox { allowed: Vec::new(), config: Vec::new(), memory_bytes: 1 << 30, timeout: Duration::from_secs(600) }
    }

    /// This instance's secrets (the run's scrubber learns them before the instance starts).
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.config.iter().map(|(_, secret)| secret.expose())
    }
}

/// The most bytes of an ingest request's body the hook reads to scrub it: the ingest API's cap
/// (the component never builds a larger batch) and room for the brackets and commas around it.
const INGEST_BODY_BYTES: usize = dtcost_contract::MAX_BATCH_BYTES as usize + (64 << 10);

/// Whether a request goes to the business-events ingest (the classic and the platform path,
/// under any base path): the requests whose bodies are events.
fn is_ingest(method: &http::Method, uri: &http::Uri) -> bool {
    method == http::Method::POST && uri.path().trim_end_matches('/').ends_with("/bizevents/ingest")
}

/// An ingest request with the run's secrets redacted from its events (read whole, at most
/// [`INGEST_BODY_BYTES`]; still JSON, the same events, its `content-length` the new one).
async fn scrub_ingest_body(
    request: http::Request<WasiBody>,
    scrubber: &Scrubber,
) -> Result<http::Request<WasiBody>, wasmtime_wasi_http::Error> {
    use http_body_util::BodyExt as _;
    let (mut parts, mut body) = request.into_parts();
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if bytes.len() + data.len() > INGEST_BODY_BYTES {
                return Err(wasmtime_wasi_http::Error::HttpRequestBodySize(Some((bytes.len() + data.len()) as u64)));
            }
            bytes.extend_from_slice(&data);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let scrubbed = match scrubber.redact_json(&text) {
        std::borrow::Cow::Borrowed(_) => bytes,
        std::borrow::Cow::Owned(scrubbed) => {
            tracing::debug!("secrets redacted from an ingest request's events");
            scrubbed.into_bytes()
        }
    };
    parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(scrubbed.len()));
    let body = http_body_util::Full::new(hyper::body::Bytes::from(scrubbed)).map_err(|never| match never {});
    Ok(http::Request::from_parts(parts, body.boxed_unsync()))
}

/// Why the sandbox refused a request (what the log says; the component is told
/// `HttpRequestDenied`).
#[derive(Debug, thiserror::Error)]
pub enum Denial {
    #[error(transparent)]
    Origin(#[from] OriginError),
    #[error("{0} is not among the configured Dynatrace hosts")]
    NotAllowed(Origin),
}

/// The outbound HTTP policy of one instance: only its allowed origins, plain http only to
/// loopback. Requests it lets through go out on the runtime's shared connection pool.
pub struct AllowList {
    allowed: Vec<Origin>,
    /// What the instance sent (denied requests included: the component counts them too).
    traffic: Arc<Mutex<Traffic>>,
    outbound: Outbound,
    /// The run's scrubber: learns each request's credential, scrubs each ingest body.
    scrubber: Scrubber,
}

impl AllowList {
    pub fn new(
        allowed: Vec<Origin>,
        traffic: Arc<Mutex<Traffic>>,
        outbound: Outbound,
        scrubber: Scrubber,
    ) -> AllowList {
        AllowList { allowed, traffic, outbound, scrubber }
    }

    /// The request's origin when the sandbox lets it through.
    pub fn permits(&self, uri: &http::Uri) -> Result<Origin, Denial> {
        let origin = Origin::of_uri(uri)?;
        origin.require_tls_beyond_loopback()?;
        if self.allowed.contains(&origin) { Ok(origin) } else { Err(Denial::NotAllowed(origin)) }
    }
}

/// What the logs say a request went to: scheme, host and port, never credentials, a query or a
/// header (any of which can hold a secret).
fn logged_origin(uri: &http::Uri) -> String {
    let port = uri.port_u16().map(|port| format!(":{port}")).unwrap_or_default();
    format!("{}://{}{port}", uri.scheme_str().unwrap_or("?"), uri.host().unwrap_or("?"))
}

type IoFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl wasmtime_wasi_http::WasiHttpHooks for AllowList {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), wasmtime_wasi_http::Error>> + Send> {
        if let Ok(mut traffic) = self.traffic.lock() {
            traffic.record(request.method(), request.uri());
        }
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let span = tracing::debug_span!("outbound", %method, origin = %logged_origin(&uri), path = uri.path());
        if let Err(denial) = self.permits(&uri) {
            span.in_scope(|| tracing::warn!(%method, origin = %logged_origin(&uri), path = uri.path(), reason = %denial, "outgoing request denied by the sandbox (HttpRequestDenied)"));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        // The credential is learned before the request leaves, so before any answer (or any event
        // built from one) can echo it: an access token the host never saw otherwise.
        if let Some(authorization) = request.headers().get(http::header::AUTHORIZATION)
            && let Err(error) = self.scrubber.learn_credential(&String::from_utf8_lossy(authorization.as_bytes()))
        {
            span.in_scope(|| tracing::warn!(%method, origin = %logged_origin(&uri), path = uri.path(), %error, "outgoing request refused: its credential could not be redacted"));
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let traffic = self.traffic.clone();
        let (outbound, scrubber) = (self.outbound.clone(), self.scrubber.clone());
        let ingest = is_ingest(&method, &uri);
        Box::new(
            async move {
                use http_body_util::BodyExt;
                // Events leave through here alone: each ingest body passes the run's scrubber.
                let request = if ingest { scrub_ingest_body(request, &scrubber).await? } else { request };
                // The pool logs the status (or why there was none) in this span.
                let response = outbound.send(request, options).await?;
                if response.status() == http::StatusCode::TOO_MANY_REQUESTS
                    && let Ok(mut traffic) = traffic.lock()
                {
                    traffic.throttled += 1;
                }
                let traffic = traffic.clone();
                // Reading an answer ends a burst of requests sent together (see `Traffic::burst`).
                let response = response.map(move |body| {
                    body.map_frame(move |frame| {
                        if frame.is_data()
                            && let Ok(mut traffic) = traffic.lock()
                        {
                            traffic.answer_read();
                        }
                        frame
                    })
                    .boxed_unsync()
                });
                // The pool drives the connection: nothing is left to run for this request.
                Ok((response, Box::new(async { Ok(()) }) as IoFuture))
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_know_default_ports_and_loopback() {
        assert_eq!(Origin::parse("https://api.dynatrace.com/sub").unwrap().port, 443);
        let local = Origin::parse("http://[::1]:8080").unwrap();
        assert_eq!((local.host.as_str(), local.port, local.is_loopback()), ("[::1]", 8080, true));
        assert!(Origin::parse("http://127.0.0.1:9").unwrap().is_loopback());
        assert!(Origin::parse("http://LOCALHOST:9").unwrap().is_loopback());
        assert!(!Origin::parse("http://10.0.0.1").unwrap().is_loopback());
        assert!(!Origin::parse("http://localhost.example.com").unwrap().is_loopback());
        assert_eq!(Origin::parse("https://user:pw@host"), Err(OriginError::Credentials));
        assert_eq!(Origin::parse("ftp://host"), Err(OriginError::Scheme("ftp".into())));
    }

    #[test]
    fn plain_http_is_allowed_to_loopback_only() {
        assert!(Origin::parse("http://127.0.0.1:9").unwrap().require_tls_beyond_loopback().is_ok());
        assert!(Origin::parse("https://api.dynatrace.com").unwrap().require_tls_beyond_loopback().is_ok());
        let plain = Origin::parse("http://api.dynatrace.com").unwrap();
        assert_eq!(plain.require_tls_beyond_loopback(), Err(OriginError::PlainHttpBeyondLoopback));
    }

    fn allow_list(allowed: &[&str]) -> AllowList {
        let origins = allowed.iter().map(|url| Origin::parse(url).unwrap()).collect();
        AllowList::new(
            origins,
            Arc::default(),
            Outbound::new(crate::config::DEFAULT_CONCURRENCY).unwrap(),
            Scrubber::default(),
        )
    }

    #[test]
    fn the_allowlist_lets_through_only_its_origins_and_never_plain_http_beyond_loopback() {
        let list = allow_list(&["https://api.dynatrace.com", "http://127.0.0.1:8080", "http://example.com"]);
        let uri = |text: &str| text.parse::<http::Uri>().unwrap();
        assert!(list.permits(&uri("https://API.dynatrace.com:443/sub/v2/accounts?x=1")).is_ok());
        assert!(list.permits(&uri("http://127.0.0.1:8080/api")).is_ok());
        assert!(matches!(list.permits(&uri("https://sso.dynatrace.com/token")), Err(Denial::NotAllowed(_))));
        assert!(matches!(list.permits(&uri("http://127.0.0.1:8081/api")), Err(Denial::NotAllowed(_))));
        // Even when listed: plain http goes to loopback only.
        assert!(matches!(
            list.permits(&uri("http://example.com/")),
            Err(Denial::Origin(OriginError::PlainHttpBeyondLoopback))
        ));
    }

    /// A log writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_denied_request_is_logged_with_its_origin_and_path_never_its_query_or_credentials() {
        use http_body_util::BodyExt as _;
        use wasmtime_wasi_http::WasiHttpHooks as _;
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        let _logging = tracing::subscriber::set_default(subscriber);
        let mut list = allow_list(&["https://api.dynatrace.com"]);
        let body = http_body_util::Empty::new().map_err(|never| match never {}).boxed_unsync();
        let request = http::Request::get("https://user:hunter2@elsewhere.example.com:8443/path/x?api-token=SECRET")
            .body(body)
            .unwrap();
        let denied = Box::into_pin(list.send_request(request, None, Box::new(async { Ok(()) }))).await;
        assert!(matches!(denied, Err(wasmtime_wasi_http::Error::HttpRequestDenied)));
        let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(logged.contains("denied by the sandbox (HttpRequestDenied)"), "{logged}");
        assert!(logged.contains("https://elsewhere.example.com:8443") && logged.contains("/path/x"), "{logged}");
        assert!(!logged.contains("SECRET") && !logged.contains("hunter2"), "{logged}");
        assert_eq!(list.traffic.lock().unwrap().requests, 1, "a denied request counts");
    }
}
