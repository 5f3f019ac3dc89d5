//! Outbound HTTP for every instance: keep-alive connections pooled per origin and shared by all
//! instances (each still behind its own allowlist, checked before every request), TLS verified
//! against the webpki roots.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use http::Uri;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Connections idle longer than this are closed (servers close theirs after a minute or more).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a TCP connect may take. The guest asks for at most 10 s; the pool connects on
/// behalf of whichever request needs a connection, so one bound holds for all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// When a request gives no timeout (as wasmtime-wasi-http's own client defaults).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The pooled client shared by all instances: cheap to clone, one pool per origin inside.
#[derive(Clone)]
pub struct Outbound {
    client: Client<Connector, WasiBody>,
}

impl Outbound {
    pub fn new() -> Result<Outbound, rustls::Error> {
        let mut tcp = HttpConnector::new();
        // https URIs too: the TLS layer below wraps the TCP stream.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        // ring named, not the process default: no other crypto provider in the build can make it ambiguous.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = Connector { tcp, tls: tokio_rustls::TlsConnector::from(Arc::new(tls)) };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            // A request that finds its pooled connection closed before it was sent is sent again
            // on a new one (the default, stated: the guest retries the rest).
            .retry_canceled_requests(true)
            .build(connector);
        Ok(Outbound { client })
    }

    /// Sends `request` (its URI absolute) on a pooled connection to its origin, or a new one.
    /// The connect and first-byte timeouts bound the answer's head together, the between-bytes
    /// timeout each wait for more of its body. Its events (the status, or why there was none)
    /// belong to the span the sandbox opened for the request (origin, path).
    pub fn send(
        &self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> impl Future<Output = Result<http::Response<WasiBody>, Error>> + Send + 'static {
        let timeout = |pick: fn(&RequestOptions) -> Option<Duration>| options.as_ref().and_then(pick);
        let head_timeout = timeout(|o| o.connect_timeout).unwrap_or(CONNECT_TIMEOUT)
            + timeout(|o| o.first_byte_timeout).unwrap_or(DEFAULT_TIMEOUT);
        let gap = timeout(|o| o.between_bytes_timeout).unwrap_or(DEFAULT_TIMEOUT);
        let client = self.client.clone();
        async move {
            let started = Instant::now();
            let response = match tokio::time::timeout(head_timeout, client.request(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => {
                    let error = classify(&error);
                    tracing::debug!(%error, "no answer");
                    return Err(error);
                }
                Err(_) => {
                    tracing::debug!(timeout = ?head_timeout, "no answer in time");
                    return Err(Error::ConnectionReadTimeout);
                }
            };
            tracing::debug!(status = response.status().as_u16(), ms = started.elapsed().as_millis() as u64, "answered");
            Ok(response.map(|incoming| Paced::new(incoming, gap).boxed_unsync()))
        }
    }
}

/// What a failed exchange was, in wasi:http's terms (the guest retries the connection kinds).
fn classify(error: &hyper_util::client::legacy::Error) -> Error {
    let chain = || std::iter::successors(Some(error as &(dyn StdError + 'static)), |&e| e.source());
    if let Some(tls) = chain().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::InvalidCertificate(_) => Error::TlsCertificateError,
            rustls::Error::AlertReceived(alert) => {
                Error::TlsAlertReceived { alert_id: Some(u8::from(*alert)), alert_message: Some(format!("{alert:?}")) }
            }
            _ => Error::TlsProtocolError,
        };
    }
    if error.is_connect() {
        return match chain().find_map(|e| e.downcast_ref::<std::io::Error>()) {
            Some(io) if io.kind() == std::io::ErrorKind::TimedOut => Error::ConnectionTimeout,
            // wasmtime-wasi-http maps these (refused, DNS failures) as its own client's.
            Some(io) => Error::Connect(std::io::Error::new(io.kind(), io.to_string())),
            None => Error::Connect(std::io::Error::other(error.source().map_or(error.to_string(), |s| s.to_string()))),
        };
    }
    // The request's own body failed (e.g. longer than its content-length).
    if let Some(Error::HttpRequestBodySize(size)) = chain().find_map(|e| e.downcast_ref::<Error>()) {
        return Error::HttpRequestBodySize(*size);
    }
    match chain().find_map(|e| e.downcast_ref::<hyper::Error>()) {
        Some(hyper) if hyper.is_timeout() => Error::HttpResponseTimeout,
        // A pooled connection the server closed under the request: another try, on a new one.
        Some(hyper) if hyper.is_incomplete_message() || hyper.is_canceled() || hyper.is_closed() => {
            Error::ConnectionTerminated
        }
        Some(hyper) if hyper.is_parse() => Error::HttpProtocolError,
        _ if chain().any(|e| e.is::<std::io::Error>()) => Error::ConnectionTerminated,
        _ => Error::HttpProtocolError,
    }
}

/// A response body whose every wait for more bytes is bounded.
struct Paced {
    incoming: Incoming,
    gap: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl Paced {
    fn new(incoming: Incoming, gap: Duration) -> Paced {
        Paced { incoming, gap, deadline: Box::pin(tokio::time::sleep(gap)) }
    }
}

impl Body for Paced {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.deadline.as_mut().reset(tokio::time::Instant::now() + this.gap);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) if error.is_timeout() => Poll::Ready(Some(Err(Error::HttpResponseTimeout))),
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(Error::Hyper(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.deadline.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

/// Opens TCP connections, wrapped in TLS for https.
#[derive(Clone)]
struct Connector {
    tcp: HttpConnector,
    tls: tokio_rustls::TlsConnector,
}

type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<Stream>, Box<dyn StdError + Send + Sync>>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let tls = (uri.scheme() == Some(&http::uri::Scheme::HTTPS)).then(|| self.tls.clone());
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        let connecting = self.tcp.call(uri);
        Box::pin(async move {
            let tcp = connecting.await?.into_inner();
            match tls {
                None => Ok(TokioIo::new(Stream::Plain(tcp))),
                Some(tls) => {
                    // An IP address or a DNS name: the certificate must be for it.
                    let name = rustls::pki_types::ServerName::try_from(host)?;
                    Ok(TokioIo::new(Stream::Tls(Box::new(tls.connect(name, tcp).await?))))
                }
            }
        })
    }
}

/// A connection, plain (loopback only: the allowlist refuses plain http elsewhere) or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Plain(tcp) => tcp.connected(),
            Stream::Tls(tls) => tls.get_ref().0.connected(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
