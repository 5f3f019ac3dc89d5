//! The wasm boundary: exports the WIT interfaces, implements [`Transport`] on
//! `wasi:http/outgoing-handler` and [`Secrets`] on `wasi:config/store`, and runs the whole job
//! as `wasi:cli/run` for stock runtimes. No logic lives here, only conversions.

#[doc(hidden)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "dtcost:exporter/exporter",
        with: { "wasi:config/store@0.2.0-rc.1": generate },
    });
}

use bindings::exports::dtcost::exporter::{job as wit_job, transform as wit_transform, types as wit};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::poll::Pollable;
use wasip2::io::streams::StreamError;

use crate::http::{self, Request, Response, Transport, TransportError};
use crate::model::{self, FailureKind};
use crate::secrets::Secrets;
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
        let subscription: model::Subscription = subscription.into();
        let costs: Vec<model::CostRecord> = costs.into_iter().map(Into::into).collect();
        let outlook = budget::outlook(&subscription, &costs)?;
        let dynatrace_forecast = dynatrace_forecast.map(model::AccountForecast::from);
        events::subscription_status(&context.into(), &subscription, &outlook, dynatrace_forecast.as_ref(), &read_at)
            .map_err(Into::into)
    }

    fn cost_booked(
        context: wit::EventContext,
        subscription_uuid: String,
        costs: Vec<wit::CostRecord>,
    ) -> Result<Vec<String>, wit::InvalidRecord> {
        let costs: Vec<model::CostRecord> = costs.into_iter().map(Into::into).collect();
        events::cost_booked(&context.into(), &subscription_uuid, &costs).map_err(Into::into)
    }

    fn cluster_quota(
        provider: String,
        cluster_name: String,
        license: wit::ClusterLicense,
        read_at: String,
    ) -> Result<Vec<String>, wit::InvalidRecord> {
        events::cluster_quota(&provider, &cluster_name, &license.into(), &read_at).map_err(Into::into)
    }

    fn environment_cost_booked(
        context: wit::EventContext,
        subscription_uuid: String,
        costs: Vec<wit::EnvironmentCost>,
        daily_totals: Vec<wit::CostRecord>,
    ) -> Result<Vec<String>, wit::InvalidRecord> {
        let costs: Vec<model::EnvironmentCost> = costs.into_iter().map(Into::into).collect();
        let totals: Vec<model::CostRecord> = daily_totals.into_iter().map(Into::into).collect();
        let built = environment::environment_cost_booked(&context.into(), &subscription_uuid, &costs, &totals)?;
        Ok(built.events.into_iter().map(|(_, event)| event).collect())
    }

    fn run_summary(provider: String, figures: wit::RunFigures, read_at: String) -> Result<String, wit::InvalidRecord> {
        events::run_summary(&provider, &figures.into(), &read_at).map_err(Into::into)
    }
}

impl wit_job::Guest for Component {
    fn export_account(plan: wit_job::AccountPlan) -> Result<wit_job::Report, wit_job::ExportError> {
        job::export_account(&plan.into(), &mut WasiHttp, &ConfigStore).map(Into::into).map_err(Into::into)
    }

    fn export_cluster(plan: wit_job::ClusterPlan) -> Result<wit_job::Report, wit_job::ExportError> {
        job::export_cluster(&plan.into(), &mut WasiHttp, &ConfigStore).map(Into::into).map_err(Into::into)
    }

    fn send_events(target: wit_job::IngestTarget, retry: wit_job::RetryPolicy, events: Vec<String>) -> wit_job::Report {
        job::send_events(&target.into(), retry.into(), &events, &mut WasiHttp, &ConfigStore).into()
    }
}

bindings::export!(Component with_types_in bindings);

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
        bindings::wasi::config::store::get(key).map_err(|error| match error {
            bindings::wasi::config::store::Error::Upstream(message)
            | bindings::wasi::config::store::Error::Io(message) => message,
        })
    }
}

/// HTTP through `wasi:http/outgoing-handler`: the host decides which hosts are reachable.
struct WasiHttp;

impl Transport for WasiHttp {
    fn send(&mut self, request: &Request) -> Result<Response, TransportError> {
        self.start(request).and_then(Started::finish).map_err(|(kind, message)| TransportError { kind, message })
    }

    /// Every request is handed to the host before any answer is awaited: they run together.
    fn send_all(&mut self, requests: &[Request]) -> Vec<Result<Response, TransportError>> {
        let started: Vec<Result<Started, Failed>> = requests.iter().map(|request| self.start(request)).collect();
        started
            .into_iter()
            .map(|started| {
                started.and_then(Started::finish).map_err(|(kind, message)| TransportError { kind, message })
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
        other => (FailureKind::Connection, format!("{other:?}")),
    }
}

// ---- conversions between the generated bindings and the plain model ----

impl From<wit::EventContext> for model::EventContext {
    fn from(c: wit::EventContext) -> Self {
        Self { provider: c.provider, account_uuid: c.account_uuid, account_name: c.account_name }
    }
}

impl From<wit::Subscription> for model::Subscription {
    fn from(s: wit::Subscription) -> Self {
        Self {
            uuid: s.uuid,
            name: s.name,
            kind: s.type_,
            sub_type: s.sub_type,
            status: s.status,
            owner_account_uuid: s.owner_account_uuid,
            budget: model::Budget { total: s.budget.total, used: s.budget.used, currency_code: s.budget.currency_code },
            current_period: model::Period {
                start_time: s.current_period.start_time,
                end_time: s.current_period.end_time,
                days_remaining: s.current_period.days_remaining,
            },
        }
    }
}

impl From<wit::CostRecord> for model::CostRecord {
    fn from(c: wit::CostRecord) -> Self {
        Self {
            start_time: c.start_time,
            end_time: c.end_time,
            value: c.value,
            currency_code: c.currency_code,
            last_booking_date: c.last_booking_date,
        }
    }
}

impl From<wit::EnvironmentCost> for model::EnvironmentCost {
    fn from(c: wit::EnvironmentCost) -> Self {
        Self {
            cluster_id: c.cluster_id,
            environment_id: c.environment_id,
            capability_key: c.capability_key,
            capability_name: c.capability_name,
            start_time: c.start_time,
            end_time: c.end_time,
            value: c.value,
            currency_code: c.currency_code,
            booking_date: c.booking_date,
        }
    }
}

impl From<wit::AccountForecast> for model::AccountForecast {
    fn from(f: wit::AccountForecast) -> Self {
        Self {
            median: f.median,
            lower: f.lower,
            upper: f.upper,
            budget: f.budget,
            budget_percent: f.budget_percent,
            budget_date: f.budget_date,
            created_at: f.created_at,
        }
    }
}

impl From<wit::RunFigures> for model::RunFigures {
    fn from(s: wit::RunFigures) -> Self {
        Self {
            accounts_ok: s.accounts_ok,
            accounts_failed: s.accounts_failed,
            clusters_ok: s.clusters_ok,
            clusters_failed: s.clusters_failed,
            records_read: s.records_read,
            events_built: s.events_built,
            events_sent: s.events_sent,
            events_accepted: s.events_accepted,
            events_rejected: s.events_rejected,
            events_skipped: s.events_skipped,
            requests: s.requests,
            retries: s.retries,
            throttled: s.throttled,
            unattributed_days: s.unattributed_days,
            budget_alerts: s.budget_alerts,
            concurrency_reached: s.concurrency_reached,
            duration_ms: s.duration_ms,
            newest_cost_day: s.newest_cost_day,
            dry_run: s.dry_run,
            version: s.version,
        }
    }
}

impl From<wit::UnitUsage> for model::UnitUsage {
    fn from(u: wit::UnitUsage) -> Self {
        Self {
            quota: u.quota,
            usage: u.usage,
            usage_percent: u.usage_percent,
            remaining: u.remaining,
            remaining_percent: u.remaining_percent,
            usage_status: u.usage_status,
            overage: u.overage.map(|o| model::OverageUsage {
                overage_quota: o.overage_quota,
                overage_usage: o.overage_usage,
                overage_usage_percent: o.overage_usage_percent,
                remaining_overage: o.remaining_overage,
                remaining_overage_percent: o.remaining_overage_percent,
            }),
        }
    }
}

impl From<wit::ClusterLicense> for model::ClusterLicense {
    fn from(l: wit::ClusterLicense) -> Self {
        Self {
            cluster_id: l.cluster_id,
            account_name: l.account_name,
            license_name: l.license_name,
            license_type: l.license_type,
            license_status: l.license_status,
            license_expiration_time: l.license_expiration_time,
            last_billing_time: l.last_billing_time,
            product_version: l.product_version,
            host_units: l.host_units.map(Into::into),
            dem_units: l.dem_units.map(Into::into),
            ddu_units: l.ddu_units.map(Into::into),
        }
    }
}

impl From<model::InvalidRecord> for wit::InvalidRecord {
    fn from(e: model::InvalidRecord) -> Self {
        Self { field: e.field, message: e.message }
    }
}

impl From<wit_job::OauthClient> for model::OAuthClient {
    fn from(c: wit_job::OauthClient) -> Self {
        Self { client_id: c.client_id, token_url: c.token_url, account_uuid: c.account_uuid }
    }
}

impl From<wit_job::IngestTarget> for model::IngestTarget {
    fn from(t: wit_job::IngestTarget) -> Self {
        Self {
            environment_url: t.environment_url,
            auth: match t.auth {
                wit_job::TargetAuth::ApiToken => model::TargetAuth::ApiToken,
                wit_job::TargetAuth::Oauth(client) => model::TargetAuth::OAuth(client.into()),
            },
            provider: t.provider,
            max_batch_bytes: t.max_batch_bytes,
            dry_run: t.dry_run,
        }
    }
}

impl From<wit_job::RetryPolicy> for model::RetryPolicy {
    fn from(r: wit_job::RetryPolicy) -> Self {
        Self {
            initial_delay_ms: r.initial_delay_ms,
            max_delay_ms: r.max_delay_ms,
            multiplier: r.multiplier,
            max_elapsed_ms: r.max_elapsed_ms,
            attempt_timeout_ms: r.attempt_timeout_ms,
        }
    }
}

impl From<wit_job::DeliveryState> for model::DeliveryState {
    fn from(s: wit_job::DeliveryState) -> Self {
        Self { subscription_uuid: s.subscription_uuid, frozen_before: s.frozen_before, sent: s.sent }
    }
}

impl From<model::DeliveryState> for wit_job::DeliveryState {
    fn from(s: model::DeliveryState) -> Self {
        Self { subscription_uuid: s.subscription_uuid, frozen_before: s.frozen_before, sent: s.sent }
    }
}

impl From<wit_job::AccountState> for model::AccountState {
    fn from(s: wit_job::AccountState) -> Self {
        Self { cost: s.cost.map(Into::into), environment_cost: s.environment_cost.map(Into::into) }
    }
}

impl From<model::AccountState> for wit_job::AccountState {
    fn from(s: model::AccountState) -> Self {
        Self { cost: s.cost.map(Into::into), environment_cost: s.environment_cost.map(Into::into) }
    }
}

impl From<wit_job::AccountPlan> for model::AccountPlan {
    fn from(p: wit_job::AccountPlan) -> Self {
        Self {
            name: p.name,
            uuid: p.uuid,
            client: p.client.into(),
            api_url: p.api_url,
            subscription: p.subscription,
            read_at: p.read_at,
            target: p.target.into(),
            retry: p.retry.into(),
            state: p.state.map(Into::into),
            window_days: p.window_days,
            environment_cost: p.environment_cost.map(|e| model::EnvironmentCostPlan {
                days: e.days,
                window_days: e.window_days,
                page_size: e.page_size,
                max_rows_per_day: e.max_rows_per_day,
            }),
            budget_alerting: model::BudgetAlerting {
                thresholds: p.budget_alerting.thresholds,
                forecast_exceeds_budget: p.budget_alerting.forecast_exceeds_budget,
            },
        }
    }
}

impl From<wit_job::ClusterPlan> for model::ClusterPlan {
    fn from(p: wit_job::ClusterPlan) -> Self {
        Self { name: p.name, url: p.url, read_at: p.read_at, target: p.target.into(), retry: p.retry.into() }
    }
}

impl From<model::RequestFailure> for wit_job::RequestFailure {
    fn from(f: model::RequestFailure) -> Self {
        Self {
            request: f.request,
            kind: f.kind.into(),
            status: f.status,
            message: f.message,
            events_not_sent: f.events_not_sent,
        }
    }
}

impl From<model::FailureKind> for wit_job::FailureKind {
    fn from(kind: model::FailureKind) -> Self {
        use model::FailureKind as K;
        match kind {
            K::Denied => Self::Denied,
            K::Dns => Self::Dns,
            K::Connection => Self::Connection,
            K::Timeout => Self::Timeout,
            K::Tls => Self::Tls,
            K::TooLarge => Self::TooLarge,
            K::Unauthorized => Self::Unauthorized,
            K::TokenExpired => Self::TokenExpired,
            K::Forbidden => Self::Forbidden,
            K::NotFound => Self::NotFound,
            K::Throttled => Self::Throttled,
            K::ServerError => Self::ServerError,
            K::HttpStatus => Self::HttpStatus,
            K::LimitExceeded => Self::LimitExceeded,
            K::Other => Self::Other,
        }
    }
}

impl From<model::Report> for wit_job::Report {
    fn from(r: model::Report) -> Self {
        Self {
            subject: r.subject,
            subscription_uuid: r.subscription_uuid,
            subscription_outlook: r.subscription_outlook.map(|o| wit_job::SubscriptionOutlook {
                subscription_uuid: o.subscription_uuid,
                period_start: o.period_start,
                status_event: o.status_event,
                alerts: o
                    .alerts
                    .into_iter()
                    .map(|a| wit_job::BudgetAlert { key: a.key, event: a.event, message: a.message })
                    .collect(),
            }),
            notes: r.notes,
            records_read: r.records_read,
            events_built: r.events_built,
            events_sent: r.events_sent,
            events_accepted: r.events_accepted,
            events_skipped: r.events_skipped,
            requests: r.requests,
            retries: r.retries,
            throttled: r.throttled,
            failures: r.failures.into_iter().map(Into::into).collect(),
            rejected: r
                .rejected
                .into_iter()
                .map(|e| wit_job::RejectedEvent { event_id: e.event_id, message: e.message })
                .collect(),
            newest_day: r.newest_day,
            reconciliation: r.reconciliation.map(|c| wit_job::Reconciliation {
                days_compared: c.days_compared,
                days_unattributed: c.days_unattributed,
                unattributed: c.unattributed,
                currency: c.currency,
            }),
            alerts: r.alerts,
            events: r.events,
            state: r.state.map(Into::into),
        }
    }
}

impl From<model::ExportError> for wit_job::ExportError {
    fn from(e: model::ExportError) -> Self {
        match e {
            model::ExportError::MissingConfig(m) => Self::MissingConfig(m),
            model::ExportError::Authentication(f) => Self::Authentication(wit_job::AuthenticationFailure {
                request: f.request,
                status: f.status,
                oauth_error: f.oauth_error,
                message: f.message,
            }),
            model::ExportError::NoSubscription(m) => Self::NoSubscription(m),
            model::ExportError::Request(f) => Self::Request(f.into()),
            model::ExportError::InvalidResponse(m) => Self::InvalidResponse(m),
        }
    }
}
