//! Runs the component with wasmtime: one fresh instance per job, each with only its own secrets,
//! HTTP only to the origins it needs, and bounded memory and time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::config::DEFAULT_CONCURRENCY;
use crate::outbound::Outbound;
use crate::sandbox::AllowList;
pub use crate::sandbox::Sandbox;
use crate::scrub::{ScrubError, Scrubber};
pub use crate::traffic::Traffic;
use crate::wit::{
    AccountPlan, ClusterPlan, CostRecord, Embedder, EmbedderPre, EventContext, ExportError, IngestTarget,
    InvalidRecord, Report, RetryPolicy, RunFigures,
};

/// The component, built for wasm32-wasip2 by build.rs and embedded in the binary.
pub const COMPONENT: &[u8] = include_bytes!(env!("DTCOST_GUEST_WASM"));

/// How often the epoch ticks: the granularity of yielding and of the time limit.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The most bytes of header fields one request or response may have (wasmtime-wasi-http's
/// default, kept): a token or header beyond it ends the instance.
const HEADER_BYTES: usize = 128 << 10;

/// The component's stderr is kept (up to this much) and logged line by line, made safe.
const STDERR_BYTES: usize = 64 * 1024;

/// Why an instance did not produce a result: one line, naming the limit that was hit and the
/// request that was running (`during`, e.g. ` while handling GET https://…`; empty before any).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the component ran out of its {limit} of memory (limits.memory-mb){during} and was stopped")]
    OutOfMemory { limit: String, during: String },
    #[error("the component ran past its {} s time limit (limits.timeout-seconds){during} and was stopped", .limit.as_secs())]
    Timeout { limit: Duration, during: String },
    #[error(
        "the component's request headers went past the sandbox's {} KiB limit (wasi-http fields){during}, \
         e.g. an access token that large, and it was stopped",
        HEADER_BYTES >> 10
    )]
    HeadersTooLarge { during: String },
    #[error("the component stopped on a fault ({fault}){during}")]
    Trap { fault: String, during: String },
    #[error("the instance was not started: its secrets could not be redacted ({0})")]
    Unscrubbable(#[from] ScrubError),
}

/// A job's result and its traffic.
#[derive(Debug)]
pub struct Ran<T> {
    pub result: Result<T, RuntimeError>,
    pub traffic: Traffic,
}

pub struct Runtime {
    engine: Engine,
    pre: EmbedderPre<HostState>,
    /// One pool of connections per origin (a bounded number each), shared by every instance this runtime makes.
    outbound: Outbound,
    ticker: Option<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// The run's one scrubber (shared): each instance's secrets, the credentials its requests
    /// carry (access tokens), applied to its ingest bodies, its report and its stderr.
    scrubber: Scrubber,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

/// What a call into an instance returns: the export's future, borrowing the instance and its store.
type InstanceCall<'a, R> = std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

impl Runtime {
    /// Compiles (or loads from wasmtime's on-disk cache) the embedded component; at most
    /// `connections_per_origin` connections (a run's `concurrency`) open to each origin.
    pub fn with_connections_per_origin(connections_per_origin: usize) -> anyhow::Result<Runtime> {
        Self::with_component(COMPONENT, connections_per_origin)
    }

    /// [`Runtime::with_connections_per_origin`] with the default `concurrency`
    /// ([`DEFAULT_CONCURRENCY`] connections per origin): tests and benchmarks.
    pub fn new() -> anyhow::Result<Runtime> {
        Self::with_connections_per_origin(DEFAULT_CONCURRENCY)
    }

    /// [`Runtime::with_connections_per_origin`] off the async workers (compiling is CPU work),
    /// with the run's scrubber (see [`Runtime::scrubbing_with`]).
    pub async fn start(connections_per_origin: usize, scrubber: Scrubber) -> anyhow::Result<Runtime> {
        let runtime = tokio::task::spawn_blocking(move || Runtime::with_connections_per_origin(connections_per_origin))
            .await
            .context("compiling the dtcost component")??;
        Ok(runtime.scrubbing_with(scrubber))
    }

    /// Uses `scrubber` (a clone of the run's, which also redacts the logs and the outputs) for
    /// every instance: what the instances teach it is then redacted everywhere.
    pub fn scrubbing_with(mut self, scrubber: Scrubber) -> Runtime {
        self.scrubber = scrubber;
        self
    }

    /// The run's scrubber.
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    pub fn with_component(wasm: &[u8], connections_per_origin: usize) -> anyhow::Result<Runtime> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        // For profiling (bench/README.md): wasmtime writes /tmp/perf-<pid>.map, so that `perf
        // report` names the component's functions.
        if std::env::var_os("DTCOST_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        if let Some(dir) = cache_dir() {
            let mut cache = wasmtime::CacheConfig::new();
            cache.with_directory(dir);
            // A cache that cannot be set up only costs compile time.
            if let Ok(cache) = wasmtime::Cache::new(cache) {
                config.cache(Some(cache));
            }
        }
        let engine = Engine::new(&config).map_err(anyhow::Error::from).context("creating the wasmtime engine")?;
        let component =
            Component::new(&engine, wasm).map_err(anyhow::Error::from).context("compiling the dtcost component")?;
        let mut linker = Linker::<HostState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_config::add_to_linker(&mut linker, |state: &mut HostState| WasiConfig::from(&state.config))
            .map_err(anyhow::Error::from)?;
        let pre = EmbedderPre::new(linker.instantiate_pre(&component).map_err(anyhow::Error::from)?)
            .map_err(anyhow::Error::from)?;
        let outbound = Outbound::new(connections_per_origin).context("setting up TLS for outbound requests")?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ticker = {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::Builder::new().name("dtcost-epoch".into()).spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?
        };
        Ok(Runtime { engine, pre, outbound, ticker: Some(ticker), stop, scrubber: Scrubber::default() })
    }

    /// Opens up to `connections` connections to `url`'s origin ahead of the requests that will
    /// take them (see [`Outbound::preconnect`]); each request still passes its instance's allowlist.
    pub fn preconnect(&self, url: &str, connections: usize) -> usize {
        self.outbound.preconnect(url, connections)
    }

    /// Closes the connections opened ahead that no request took.
    pub fn forget_preconnected(&self) {
        self.outbound.forget_preconnected();
    }

    /// Runs an account's export in its own instance; the outcome carries what the instance sent.
    pub async fn export_account(&self, plan: AccountPlan, sandbox: Sandbox) -> Ran<Result<Report, ExportError>> {
        self.job_counted(sandbox, move |instance, store| {
            Box::pin(async move { instance.dtcost_exporter_job().call_export_account(store, &plan).await })
        })
        .await
    }

    /// Runs a Managed cluster's export in its own instance; the outcome carries what it sent.
    pub async fn export_cluster(&self, plan: ClusterPlan, sandbox: Sandbox) -> Ran<Result<Report, ExportError>> {
        self.job_counted(sandbox, move |instance, store| {
            Box::pin(async move { instance.dtcost_exporter_job().call_export_cluster(store, &plan).await })
        })
        .await
    }

    /// Builds the `dtcost.run.summary` event (pure: no network, no secrets).
    pub async fn run_summary(
        &self,
        provider: String,
        summary: RunFigures,
        read_at: String,
    ) -> Result<Result<String, InvalidRecord>, RuntimeError> {
        self.call(Sandbox::pure(), move |instance, store| {
            Box::pin(async move {
                instance.dtcost_exporter_transform().call_run_summary(store, &provider, &summary, &read_at).await
            })
        })
        .await
    }

    /// Ingests events built outside the jobs (the run summary).
    pub async fn send_events(
        &self,
        target: IngestTarget,
        retry: RetryPolicy,
        events: Vec<String>,
        sandbox: Sandbox,
    ) -> Result<Report, RuntimeError> {
        let result = self
            .call(sandbox, move |instance, store| {
                Box::pin(async move {
                    instance.dtcost_exporter_job().call_send_events(store, &target, retry, &events).await
                })
            })
            .await;
        result.map(|report| self.scrubber.report(report))
    }

    /// Calls the component's pure `cost-booked` transform (no network, no secrets): for
    /// embedders and the benchmarks.
    pub async fn cost_booked(
        &self,
        context: EventContext,
        subscription_uuid: String,
        costs: Vec<CostRecord>,
    ) -> Result<Result<String, InvalidRecord>, RuntimeError> {
        self.call(Sandbox::pure(), move |instance, store| {
            Box::pin(async move {
                instance.dtcost_exporter_transform().call_cost_booked(store, &context, &subscription_uuid, &costs).await
            })
        })
        .await
    }

    async fn call<R>(
        &self,
        sandbox: Sandbox,
        body: impl for<'a> FnOnce(&'a Embedder, &'a mut Store<HostState>) -> InstanceCall<'a, R>,
    ) -> Result<R, RuntimeError> {
        self.call_counted(sandbox, body).await.result
    }

    /// An export job in a fresh instance (see [`Runtime::call_counted`]), its report and error
    /// made safe to print as they leave it.
    async fn job_counted(
        &self,
        sandbox: Sandbox,
        body: impl for<'a> FnOnce(&'a Embedder, &'a mut Store<HostState>) -> InstanceCall<'a, Result<Report, ExportError>>,
    ) -> Ran<Result<Report, ExportError>> {
        let ran = self.call_counted(sandbox, body).await;
        Ran { result: ran.result.map(|job| self.scrubber.job(job)), traffic: ran.traffic }
    }

    /// Runs `body` in a fresh instance. A trap, the memory limit or the time limit ends it with
    /// one line that names the limit and the request that was running; the component's stderr
    /// (the guest's own "memory allocation failed", say) is then logged at debug level only.
    async fn call_counted<R>(
        &self,
        sandbox: Sandbox,
        body: impl for<'a> FnOnce(&'a Embedder, &'a mut Store<HostState>) -> InstanceCall<'a, R>,
    ) -> Ran<R> {
        let timeout = sandbox.timeout;
        let limit = match sandbox.memory_bytes {
            bytes if bytes >= 1 << 20 => format!("{} MB", bytes >> 20),
            bytes => format!("{} KiB", bytes >> 10),
        };
        let scrubber = self.scrubber.clone();
        if let Err(error) = scrubber.learn_all(sandbox.secrets()) {
            return Ran { result: Err(error.into()), traffic: Traffic::default() };
        }
        let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(STDERR_BYTES);
        let traffic: Arc<Mutex<Traffic>> = Arc::default();
        let mut store = self.store(sandbox, stderr.clone(), traffic.clone());
        let work = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            body(&instance, &mut store).await
        };
        // The epoch makes the guest yield every tick, so this timeout also stops a busy loop.
        let outcome = tokio::time::timeout(timeout, work).await;
        let traffic = traffic.lock().map(|t| t.clone()).unwrap_or_default();
        let during = traffic.during(&scrubber);
        let result = match outcome {
            Ok(Ok(result)) => Ok(result),
            Err(_) => Err(RuntimeError::Timeout { limit: timeout, during }),
            Ok(Err(_)) if store.data().limits.memory_refused => Err(RuntimeError::OutOfMemory { limit, during }),
            Ok(Err(error)) if error.downcast_ref::<wasmtime_wasi_http::FieldMapError>().is_some() => {
                Err(RuntimeError::HeadersTooLarge { during })
            }
            Ok(Err(error)) => {
                // A panic says why on the component's stderr; else the trap's own one line, or
                // the error's (never its backtrace).
                let fault = match (panic_message(&stderr.contents()), error.downcast_ref::<wasmtime::Trap>()) {
                    (Some(message), _) => message,
                    (None, Some(trap)) => trap.to_string(),
                    (None, None) => error.root_cause().to_string().lines().next().unwrap_or_default().to_owned(),
                };
                Err(RuntimeError::Trap { fault: scrubber.excerpt(&fault), during })
            }
        };
        // What the component wrote (a panic's message, which may quote a server's text).
        for line in String::from_utf8_lossy(&stderr.contents()).lines() {
            if result.is_ok() {
                tracing::warn!("component: {}", scrubber.excerpt(line));
            } else {
                tracing::debug!("component: {}", scrubber.excerpt(line));
            }
        }
        Ran { result, traffic }
    }

    fn store(
        &self,
        sandbox: Sandbox,
        stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
        traffic: Arc<Mutex<Traffic>>,
    ) -> Store<HostState> {
        let wasi = WasiCtx::builder()
            .stderr(stderr)
            // The component needs no sockets of its own: HTTP goes through wasi:http's hook.
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .allow_ip_name_lookup(false)
            .build();
        let config: WasiConfigVariables =
            sandbox.config.iter().map(|(key, secret)| (key.to_string(), secret.expose().to_owned())).collect();
        let limits = Limits {
            inner: StoreLimitsBuilder::new().memory_size(sandbox.memory_bytes).instances(4).tables(64).build(),
            memory_refused: false,
        };
        let state = HostState {
            table: ResourceTable::new(),
            wasi,
            http: {
                let mut http = WasiHttpCtx::new();
                http.set_field_size_limit(HEADER_BYTES);
                http
            },
            hooks: AllowList::new(sandbox.allowed, traffic, self.outbound.clone(), self.scrubber.clone()),
            config,
            limits,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        store
    }
}

/// A Rust panic's message from the component's stderr (`thread '…' panicked at file:line:col:`
/// then the message), on one line; `None` when it holds none.
fn panic_message(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let mut lines = text.lines().skip_while(|line| !line.contains("panicked at"));
    let location = lines.next()?;
    let message: Vec<&str> = lines.take_while(|line| !line.starts_with("note: ")).collect();
    let location = location.split_once("panicked at ").map_or(location, |(_, at)| at).trim_end_matches(':');
    Some(format!("panicked at {location}: {}", message.join(" / ")))
}

fn cache_dir() -> Option<std::path::PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".cache")))?;
    Some(base.join("dtcost").join("wasmtime"))
}

pub struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: AllowList,
    config: WasiConfigVariables,
    limits: Limits,
}

/// The store's limits, remembering whether a memory growth was refused (what makes a trap that
/// follows an out-of-memory).
struct Limits {
    inner: StoreLimits,
    memory_refused: bool,
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        self.memory_refused |= !allowed;
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_refused = true;
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_one_line_with_its_location_and_message() {
        let stderr = b"\nthread '<unnamed>' panicked at src/job.rs:10:5:\nindex out of bounds\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_message(stderr).as_deref(), Some("panicked at src/job.rs:10:5: index out of bounds"));
        assert_eq!(panic_message(b"memory allocation of 8 bytes failed\n"), None);
    }
}
