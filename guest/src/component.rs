//! The wasm boundary: exports the WIT interfaces, implements [`Transport`] on
//! `wasi:http/outgoing-handler` and [`Secrets`] on `wasi:config/store`, and runs the whole job
//! as `wasi:cli/run` for stock runtimes. No logic lives here; the only conversions are the
//! internal errors into the WIT's (`crate::error`).

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::poll::Pollable;
use wasip2::io::streams::StreamError;

use crate::http::{self, Request, Response, Transport, TransportError};
use crate::secrets::Secrets;
use crate::wit::exports::dtcost::exporter::{job as wit_job, transform as wit_transform};
use crate::wit::{self, FailureKind};
use crate::{budget, environment, events, job};

/// Responses larger than this are refused rather than buffered: the largest documented DPS
/// response (`/usage`) is about 1 MB, a year of `/cost` about 100 kB. Parsed, a body takes several
/// times its size, so the cap stays well below the instance's default 128 MB memory limit: an
/// oversized body is a clear "too large", never an out-of-memory trap.
const MAX_RESPONSE_BYTES: usize = 8 << 20;
const SECOND_NS: u64 = 1_000_000_000;

struct Component;

impl wit_transform::Guest for Component {
    fn subscription_status(
        context: wit::EventContext,
        subscription: wit::Subscription,
        costs: Vec<wit::CostRecord>,
        dynatrace_forecast: Option<wit::AccountForecast>,
        read_at: String,
    ) -> Result<String, wit::InvalidRecord> {
        let outlook = budget::outlook(&subscription, &costs)?;
        budget::subscription_status(&context, &subscription, &outlook, dynatrace_forecast.as_ref(), &read_at)
            .map_err(Into::into)
    }

    fn cost_booked(
        context: wit::EventContext,
        subscription_uuid: String,
        costs: Vec<wit::CostRecord>,
    ) -> Result<String, wit::InvalidRecord> {
        events::cost_booked_ndjson(&context, &subscription_uuid, &costs).map_err(Into::into)
    }

    fn cluster_quota(
        provider: String,
        cluster_name: String,
        license: wit::ClusterLicense,
        read_at: String,
    ) -> Result<String, wit::InvalidRecord> {
        Ok(events::ndjson(events::cluster_quota(&provider, &cluster_name, &license, &read_at)?))
    }

    fn environment_cost_booked(
        context: wit::EventContext,
        subscription_uuid: String,
        costs: Vec<wit::EnvironmentCost>,
        daily_totals: Vec<wit::CostRecord>,
    ) -> Result<String, wit::InvalidRecord> {
        // The transform takes no names (the contract's signature has none): ids only.
        let names = crate::environment_names::EnvironmentNames::new();
        let built = environment::environment_cost_booked(&context, &subscription_uuid, &costs, &daily_totals, &names)?;
        Ok(events::ndjson(built.events.into_iter().map(|(_, event)| event)))
    }

    fn run_summary(provider: String, figures: wit::RunFigures, read_at: String) -> Result<String, wit::InvalidRecord> {
        events::run_summary(&provider, &figures, &read_at).map_err(Into::into)
    }
}

impl wit_job::Guest for Component {
    fn export_account(plan: wit_job::AccountPlan) -> Result<wit_job::Report, wit_job::ExportError> {
        job::export_account(&plan, &mut WasiHttp, &ConfigStore).map_err(Into::into)
    }

    fn export_cluster(plan: wit_job::ClusterPlan) -> Result<wit_job::Report, wit_job::ExportError> {
        job::export_cluster(&plan, &mut WasiHttp, &ConfigStore).map_err(Into::into)
    }

    fn send_events(target: wit_job::IngestTarget, retry: wit_job::RetryPolicy, events: Vec<String>) -> wit_job::Report {
        job::send_events(&target, retry, &events, &mut WasiHttp, &ConfigStore)
    }
}

wit::export!(Component with_types_in wit);

/// `wasi:cli/run`: the whole job configured from `wasi:config` alone (see guest/README.md).
struct Runner;

impl wasip2::exports::cli::run::Guest for Runner {
    fn run() -> Result<(), ()> {
        crate::standalone::run(&mut WasiHttp, &ConfigStore, &wall_clock_now()).map_err(|message| {
            eprintln!("dtcost: {message}");
        })
    }
}

wasip2::cli::command::export!(Runner);

fn wall_clock_now() -> String {
    let now = wasip2::clocks::wall_clock::now();
    crate::time::format_rfc3339(now.seconds as i64 * 1000)
}

struct ConfigStore;

impl Secrets for ConfigStore {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        wit::wasi::config::store::get(key).map_err(|error| match error {
            wit::wasi::config::store::Error::Upstream(message) | wit::wasi::config::store::Error::Io(message) => {
                message
            }
        })
    }
}

/// HTTP through `wasi:http/outgoing-handler`: the host decides which hosts are reachable.
struct WasiHttp;

impl Transport for WasiHttp {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.start(request).and_then(Started::finish).map_err(|(kind, message)| TransportError { kind, message })
    }

    /// Every request is handed to the host before any answer is awaited: they run together. The
    /// answers are read in the order they arrive, not the order sent: an answer left unread keeps
    /// its pooled connection busy, and the host opens only so many to an origin, so reading in
    /// order could leave an earlier request waiting for a connection a later answer holds.
    fn send_all(&mut self, requests: &[Request]) -> Vec<Result<Response, TransportError>> {
        let mut answers: Vec<Option<Result<Response, Failed>>> = requests.iter().map(|_| None).collect();
        let mut started: Vec<Option<Started>> = Vec::with_capacity(requests.len());
        for (request, answer) in requests.iter().zip(&mut answers) {
            match self.start(request) {
                Ok(handed) => started.push(Some(handed)),
                // A request the host did not take is answered at once.
                Err(failed) => {
                    *answer = Some(Err(failed));
                    started.push(None);
                }
            }
        }
        loop {
            // Which answers came (or ran out of time); the pollables are gone at the end of the
            // block, before the responses they watch are taken (a child resource goes first).
            let answered: Vec<usize> = {
                let waiting: Vec<(usize, Option<u64>, Pollable)> = started
                    .iter()
                    .enumerate()
                    .filter_map(|(index, s)| s.as_ref().map(|s| (index, s.deadline, s.pending.subscribe())))
                    .collect();
                if waiting.is_empty() {
                    break;
                }
                // The earliest deadline wakes the wait too: its request then fails with a timeout.
                let timer = waiting
                    .iter()
                    .filter_map(|(_, deadline, _)| *deadline)
                    .min()
                    .map(wasip2::clocks::monotonic_clock::subscribe_instant);
                let mut pollables: Vec<&Pollable> = waiting.iter().map(|(_, _, pollable)| pollable).collect();
                pollables.extend(timer.as_ref());
                let ready = wasip2::io::poll::poll(&pollables);
                let now = wasip2::clocks::monotonic_clock::now();
                waiting
                    .iter()
                    .enumerate()
                    .filter(|(position, (_, deadline, _))| {
                        ready.contains(&(*position as u32)) || deadline.is_some_and(|deadline| deadline <= now)
                    })
                    .map(|(_, (index, _, _))| *index)
                    .collect()
            };
            for index in answered {
                answers[index] = started[index].take().map(Started::finish);
            }
        }
        answers
            .into_iter()
            .map(|answer| {
                answer
                    .unwrap_or_else(|| Err((FailureKind::Other, "no answer was read".to_owned())))
                    .map_err(|(kind, message)| TransportError { kind, message })
            })
            .collect()
    }

    fn monotonic_millis(&mut self) -> u64 {
        wasip2::clocks::monotonic_clock::now() / 1_000_000
    }

    fn wall_millis(&mut self) -> u64 {
        let now = wasip2::clocks::wall_clock::now();
        now.seconds * 1000 + u64::from(now.nanoseconds / 1_000_000)
    }

    fn sleep_millis(&mut self, millis: u64) {
        wasip2::clocks::monotonic_clock::subscribe_duration(millis.saturating_mul(1_000_000)).block();
    }
}

type Failed = (FailureKind, String);

/// A request handed to the host (its body written), its answer still to come.
struct Started {
    pending: FutureIncomingResponse,
    deadline: Option<u64>,
    write_error: Option<String>,
    finished: Result<(), ErrorCode>,
}

impl WasiHttp {
    /// Hands one request to the host and writes its body; the answer is read by [`Started::finish`].
    fn start(&mut self, request: &Request) -> Result<Started, Failed> {
        let other = |message: String| (FailureKind::Other, message);
        let started = wasip2::clocks::monotonic_clock::now();
        let deadline = request.timeout_ms.map(|ms| started + u64::from(ms) * 1_000_000);
        let (scheme, authority, path) =
            http::split_url(&request.url).ok_or_else(|| other(format!("{:?} is not an http(s) URL", request.url)))?;
        let mut headers: Vec<(String, Vec<u8>)> =
            request.headers.iter().map(|(name, value)| (name.to_string(), value.as_bytes().to_vec())).collect();
        if request.method == http::Method::Post {
            // Without content-length, wasi-http sends a chunked body, which some servers drop.
            headers.push(("content-length".into(), request.body.len().to_string().into_bytes()));
        }
        let fields = Fields::from_list(&headers).map_err(|e| other(format!("invalid request header: {e:?}")))?;
        let outgoing = OutgoingRequest::new(fields);
        let method = match request.method {
            http::Method::Get => Method::Get,
            http::Method::Post => Method::Post,
        };
        let scheme = if scheme == "https" { Scheme::Https } else { Scheme::Http };
        outgoing.set_method(&method).map_err(|()| other("invalid method".to_owned()))?;
        outgoing.set_scheme(Some(&scheme)).map_err(|()| other("invalid scheme".to_owned()))?;
        outgoing.set_authority(Some(authority)).map_err(|()| other(format!("invalid host {authority:?}")))?;
        outgoing.set_path_with_query(Some(path)).map_err(|()| other(format!("invalid path {path:?}")))?;
        let options = RequestOptions::new();
        // Ignored by hosts that do not support them; the deadline below holds regardless.
        let first_byte = request.timeout_ms.map_or(120 * SECOND_NS, |ms| u64::from(ms) * 1_000_000);
        let _ = options.set_connect_timeout(Some((10 * SECOND_NS).min(first_byte)));
        let _ = options.set_first_byte_timeout(Some(first_byte));
        let _ = options.set_between_bytes_timeout(Some((60 * SECOND_NS).min(first_byte)));
        let body = outgoing.body().map_err(|()| other("request body already taken".to_owned()))?;
        // The head goes first: writing a large body before `handle` can deadlock (toolchain.md §6.4).
        let pending = outgoing_handler::handle(outgoing, Some(options)).map_err(describe_error)?;
        let mut write_error = None;
        {
            let stream = body.write().map_err(|()| other("request body stream already taken".to_owned()))?;
            for chunk in request.body.chunks(4096) {
                if let Err(error) = stream.blocking_write_and_flush(chunk) {
                    write_error = Some(format!("{error:?}"));
                    break;
                }
            }
        }
        // A write error can be the server answering before reading everything; the response decides.
        let finished = OutgoingBody::finish(body, None);
        Ok(Started { pending, deadline, write_error, finished })
    }
}

impl Started {
    /// Waits for the answer and reads its whole body (within the attempt's deadline).
    fn finish(self) -> Result<Response, Failed> {
        let Started { pending, deadline, write_error, finished } = self;
        let other = |message: String| (FailureKind::Other, message);
        let response = loop {
            if let Some(result) = pending.get() {
                break result.map_err(|()| other("response already taken".to_owned()))?;
            }
            wait_until(&pending.subscribe(), deadline)?;
        };
        let response = response.map_err(|error| {
            let (kind, mut message) = describe_error(error);
            if let Some(write_error) = &write_error {
                message.push_str(&format!(" (writing the body failed: {write_error})"));
            }
            if let Err(error) = &finished {
                message.push_str(&format!(" (finishing the body failed: {error:?})"));
            }
            (kind, message)
        })?;
        let status = response.status();
        let headers: Vec<(String, String)> = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let too_large = |size: String| {
            (
                FailureKind::TooLarge,
                format!("the response body ({size}) exceeds the {MAX_RESPONSE_BYTES}-byte cap; refused"),
            )
        };
        let declared =
            headers.iter().find(|(name, _)| name == "content-length").and_then(|(_, v)| v.trim().parse::<u64>().ok());
        if let Some(length) = declared.filter(|length| *length > MAX_RESPONSE_BYTES as u64) {
            return Err(too_large(format!("{length} bytes by its Content-Length")));
        }
        let incoming = response.consume().map_err(|()| other("response body already taken".to_owned()))?;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
        {
            let stream = incoming.stream().map_err(|()| other("response body stream already taken".to_owned()))?;
            loop {
                wait_until(&stream.subscribe(), deadline)?;
                match stream.read(64 * 1024) {
                    Ok(chunk) => {
                        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                            return Err(too_large("more bytes".to_owned()));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Err(StreamError::Closed) => break,
                    // A body cut short (shorter than its Content-Length, a reset mid-body) is a
                    // transport fault: worth another try.
                    Err(StreamError::LastOperationFailed(error)) => {
                        return Err((
                            FailureKind::Connection,
                            format!("the response body was cut short: {}", error.to_debug_string()),
                        ));
                    }
                }
            }
        }
        Ok(Response { status, headers, body: bytes })
    }
}

/// Blocks until `pollable` is ready or the attempt's deadline passes (a timeout, transient).
fn wait_until(pollable: &Pollable, deadline: Option<u64>) -> Result<(), Failed> {
    let Some(deadline) = deadline else {
        pollable.block();
        return Ok(());
    };
    let timer = wasip2::clocks::monotonic_clock::subscribe_instant(deadline);
    let ready = wasip2::io::poll::poll(&[pollable, &timer]);
    if ready.contains(&0) {
        Ok(())
    } else {
        Err((FailureKind::Timeout, "no complete answer within the attempt's time limit".to_owned()))
    }
}

/// What went wrong, as a kind the retry loop and the host's hints follow.
fn describe_error(error: ErrorCode) -> Failed {
    match error {
        ErrorCode::HttpRequestDenied => (
            FailureKind::Denied,
            "the host refused the request: its host is not among the configured Dynatrace hosts".to_owned(),
        ),
        ErrorCode::DnsError(e) => (FailureKind::Dns, format!("DNS lookup failed: {}", e.rcode.unwrap_or_default())),
        ErrorCode::DnsTimeout => (FailureKind::Timeout, "DNS lookup timed out".to_owned()),
        ErrorCode::ConnectionRefused => (FailureKind::Connection, "connection refused".to_owned()),
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::ConnectionWriteTimeout => {
            (FailureKind::Timeout, format!("{error:?}"))
        }
        ErrorCode::HttpResponseTimeout => (FailureKind::Timeout, "no answer in time".to_owned()),
        ErrorCode::TlsCertificateError | ErrorCode::TlsProtocolError | ErrorCode::TlsAlertReceived(_) => {
            (FailureKind::Tls, format!("TLS failed: {error:?}"))
        }
        ErrorCode::HttpResponseBodySize(_) => (FailureKind::TooLarge, format!("{error:?}")),
        ErrorCode::HttpRequestUriInvalid | ErrorCode::ConfigurationError => (FailureKind::Other, format!("{error:?}")),
        // A malformed answer is the same on every try: not retried (dtcost's host says what was
        // malformed in `internal-error`).
        ErrorCode::HttpProtocolError => (FailureKind::Other, "the server's answer is not valid HTTP".to_owned()),
        ErrorCode::HttpResponseHeaderSectionSize(_) | ErrorCode::HttpResponseHeaderSize(_) => {
            (FailureKind::Other, "the server's answer has too many headers, or a header too large".to_owned())
        }
        ErrorCode::InternalError(Some(message)) => (FailureKind::Other, message),
        other => (FailureKind::Connection, format!("{other:?}")),
    }
}
