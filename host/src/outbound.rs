//! Outbound HTTP for every instance: keep-alive connections pooled per origin and shared by all
//! instances (each still behind its own allowlist, checked before every request), at most the
//! run's `concurrency` of them per origin, TLS verified against the webpki roots.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;
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
    connector: Connector,
}

impl Outbound {
    /// A client that keeps at most `connections_per_origin` connections (at least one) open or
    /// opening to each origin; a request that finds them all busy waits for one.
    pub fn new(connections_per_origin: usize) -> Result<Outbound, rustls::Error> {
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
        let connector = Connector {
            tcp,
            tls: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            slots: Arc::new(Slots { per_origin: connections_per_origin.max(1), origins: Mutex::default() }),
            warm: Arc::default(),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            // A request that finds its pooled connection closed before it was sent is sent again
            // on a new one (the default, stated: the guest retries the rest).
            .retry_canceled_requests(true)
            .build(connector.clone());
        Ok(Outbound { client, connector })
    }

    /// Starts opening up to `connections` connections to `url`'s origin ahead of the requests
    /// that will need them (fewer when its slots run out), so that the handshakes of a run's
    /// first requests happen at once, at its start, instead of one origin after the other on
    /// each job's critical path. The pool takes them as it would new ones; no request is sent.
    /// Returns how many were started.
    pub fn preconnect(&self, url: &str, connections: usize) -> usize {
        let Ok(uri) = url.parse::<Uri>() else { return 0 };
        let slots = self.connector.slots.of(&uri);
        let mut started = 0;
        while started < connections {
            let Ok(slot) = slots.clone().try_acquire_owned() else { break };
            let opening = tokio::spawn(self.connector.open(uri.clone(), slot));
            self.connector.warm.put(origin_key(&uri), opening);
            started += 1;
        }
        started
    }

    /// Closes the connections [`Outbound::preconnect`] opened that no request took (their slots
    /// free again), e.g. at the end of a run.
    pub fn forget_preconnected(&self) {
        self.connector.warm.clear();
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
            // Cancelled when this request has its answer or is given up (the guard's drop): a
            // connect it started that is still waiting for a slot then stops waiting (`Connector`).
            let wanted = CancellationToken::new();
            let _answered = wanted.clone().drop_guard();
            let exchange = WANTED.scope(wanted, client.request(request));
            // The wait for a free connection, when the origin has no slot left, counts against the head timeout.
            let response = match tokio::time::timeout(head_timeout, exchange).await {
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
        Some(hyper) if hyper.is_parse() => malformed(hyper),
        _ if chain().any(|e| e.is::<std::io::Error>()) => Error::ConnectionTerminated,
        _ => Error::HttpProtocolError,
    }
}

/// A malformed answer's head, saying what was malformed: the same on every try, so the guest
/// fails it at once instead of retrying it as a dropped connection. wasi:http's
/// `http-protocol-error` carries no text: hyper's own (`invalid HTTP version parsed`, `invalid
/// content-length parsed` for two that differ, ...) travels in `internal-error`.
fn malformed(error: &hyper::Error) -> Error {
    if error.is_parse_too_large() {
        // Over 100 headers, or a head over hyper's buffer (about 400 KB): hyper tells neither apart.
        return Error::HttpResponseHeaderSectionSize(None);
    }
    Error::InternalError(Some(format!("the server's answer is not valid HTTP/1.1 ({error})")))
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

tokio::task_local! {
    /// The request on whose behalf the pool is connecting (see [`Connector`]).
    static WANTED: CancellationToken;
}

/// Opens TCP connections, wrapped in TLS for https, at most `per_origin` at a time per origin.
///
/// How hyper-util's pool (0.1.21, `client/legacy/client.rs`, `one_connection_for`) uses it: a
/// request that finds no idle connection races a checkout (handed the next connection another
/// request gives back to the pool, first come first served) against a connect from this
/// connector. If the checkout wins and the connect had started, the connect is spawned to finish
/// in the background and its connection goes to the pool as idle; if the request is dropped
/// (timeout, instance stopped) both are dropped. HTTP/1 takes no connecting lock, so nothing
/// cancels waiting checkouts when a connect fails or gives up (`pool.rs`, `connecting`).
///
/// So a connect first takes a slot of its origin ([`Semaphore`], fair) and keeps it inside the
/// connection ([`Stream`]): the slot frees exactly when hyper drops the connection (closed by
/// either side, idle timeout, error), and a connect dropped while waiting leaves the queue. No
/// deadlock: while every slot is held, each is a live connection that, once its answer is read,
/// is handed to a waiting checkout or closes and frees its slot. A connect still waiting when its
/// request already has its answer (it lost the race and runs in the background) stops waiting,
/// so that it does not open a connection nobody asked for whenever a slot frees later.
#[derive(Clone)]
struct Connector {
    tcp: HttpConnector,
    tls: tokio_rustls::TlsConnector,
    slots: Arc<Slots>,
    warm: Arc<Warm>,
}

/// Connections opened ahead (see [`Outbound::preconnect`]), by origin: the next connect to the
/// origin takes one (waiting for it, if it is still opening) instead of opening its own.
#[derive(Default)]
struct Warm {
    origins: Mutex<HashMap<OriginKey, Vec<Opening>>>,
}

/// The task opening a connection ahead; awaiting it gives the connection.
type Opened = tokio::task::JoinHandle<Result<TokioIo<Stream>, BoxError>>;

/// A connection opened ahead: when it was started, and the task opening it.
type Opening = (Instant, Opened);

/// How long a connection opened ahead is worth taking: servers close connections that carry no
/// request after a while, and a request on a closed one would cost a retry.
const WARM_FOR: Duration = Duration::from_secs(10);

impl Warm {
    fn origins(&self) -> std::sync::MutexGuard<'_, HashMap<OriginKey, Vec<Opening>>> {
        // A poisoned lock still holds a usable map (handles only).
        self.origins.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn put(&self, origin: OriginKey, opening: Opened) {
        self.origins().entry(origin).or_default().push((Instant::now(), opening));
    }

    /// The newest connection opened ahead to `origin`; older ones than [`WARM_FOR`] are dropped.
    fn take(&self, origin: &OriginKey) -> Option<Opened> {
        let mut origins = self.origins();
        let openings = origins.get_mut(origin)?;
        openings.retain(|(started, _)| started.elapsed() < WARM_FOR);
        openings.pop().map(|(_, opening)| opening)
    }

    /// Dropping a handle detaches its task: the connection it opens is dropped (closed, its slot
    /// freed) as the task ends.
    fn clear(&self) {
        self.origins().clear();
    }
}

type BoxError = Box<dyn StdError + Send + Sync>;

fn origin_key(uri: &Uri) -> OriginKey {
    (uri.scheme().cloned(), uri.authority().cloned())
}

/// The connections each origin (scheme and authority, as hyper-util pools them) may have.
struct Slots {
    per_origin: usize,
    origins: Mutex<HashMap<OriginKey, Arc<Semaphore>>>,
}

/// Scheme and authority: the key hyper-util's pool keeps connections under.
type OriginKey = (Option<http::uri::Scheme>, Option<http::uri::Authority>);

impl Slots {
    fn of(&self, uri: &Uri) -> Arc<Semaphore> {
        let origin = origin_key(uri);
        // A poisoned lock still holds a usable map: the semaphores are never left half-made.
        let mut origins = self.origins.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        origins.entry(origin).or_insert_with(|| Arc::new(Semaphore::new(self.per_origin))).clone()
    }
}

/// Why a connect ended before it started: its request no longer needs it.
#[derive(Debug, thiserror::Error)]
#[error("no longer needed: its request was answered while it waited for a free connection")]
struct NoLongerWanted;

type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<Stream>, BoxError>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let warm = self.warm.take(&origin_key(&uri));
        let slots = self.slots.of(&uri);
        // Called while the request's future is polled; outside one (never, today) it waits as long as it must.
        let wanted = WANTED.try_with(CancellationToken::clone).ok();
        let connector = self.clone();
        Box::pin(async move {
            if let Some(opening) = warm {
                match opening.await {
                    Ok(Ok(connection)) => return Ok(connection),
                    // It failed (its slot is free again): this connect tries on its own.
                    Ok(Err(error)) => tracing::debug!(%error, "a connection opened ahead failed"),
                    Err(error) => tracing::debug!(%error, "a connection opened ahead was lost"),
                }
            }
            let waiting = slots.acquire_owned();
            let slot = match wanted {
                Some(wanted) => tokio::select! {
                    slot = waiting => slot,
                    () = wanted.cancelled() => return Err(NoLongerWanted.into()),
                },
                None => waiting.await,
            }?;
            connector.open(uri, slot).await
        })
    }
}

impl Connector {
    /// Opens a connection to `uri`'s origin (TCP, then TLS for https) holding `slot`.
    fn open(
        &self,
        uri: Uri,
        slot: OwnedSemaphorePermit,
    ) -> impl Future<Output = Result<TokioIo<Stream>, BoxError>> + Send + 'static {
        let tls = (uri.scheme() == Some(&http::uri::Scheme::HTTPS)).then(|| self.tls.clone());
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_owned();
        let mut tcp = self.tcp.clone();
        async move {
            let tcp = tcp.call(uri).await?.into_inner();
            match tls {
                None => Ok(TokioIo::new(Stream { io: Io::Plain(tcp), _slot: slot })),
                Some(tls) => {
                    // An IP address or a DNS name: the certificate must be for it.
                    let name = rustls::pki_types::ServerName::try_from(host)?;
                    let tls = Box::new(tls.connect(name, tcp).await?);
                    Ok(TokioIo::new(Stream { io: Io::Tls(tls), _slot: slot }))
                }
            }
        }
    }
}

/// A connection, holding its origin's slot until hyper drops it.
struct Stream {
    io: Io,
    _slot: OwnedSemaphorePermit,
}

/// A connection, plain (loopback only: the allowlist refuses plain http elsewhere) or TLS.
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match &self.io {
            Io::Plain(tcp) => tcp.connected(),
            Io::Tls(tls) => tls.get_ref().0.connected(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(tcp) => tcp.is_write_vectored(),
            Io::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Io::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
