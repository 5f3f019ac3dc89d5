//! Runs the component with wasmtime: one fresh instance per job, each with only its own secrets,
//! HTTP only to the origins it needs, and bounded memory and time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use crate::config::Origin;
use crate::outbound::Outbound;
use crate::scrub::Scrubber;
use crate::secret::Secret;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "dtcost:exporter/embedder",
    exports: { default: async },
    // The state file stores `account-state` records as they are.
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});

pub use exports::dtcost::exporter::job::{
    AccountPlan, AccountState, AlertState, AuthenticationFailure, BudgetAlert, BudgetAlerting, ClusterPlan,
    DeliveryState, EnvironmentCostPlan, ExportError, FailureKind, IngestTarget, OauthClient, Report, RetryPolicy,
    SubscriptionOutlook, TargetAuth,
};
pub use exports::dtcost::exporter::types::{CostRecord, EventContext, InvalidRecord, RunFigures};

/// The component, built for wasm32-wasip2 by build.rs and embedded in the binary.
pub const COMPONENT: &[u8] = include_bytes!(env!("DTCOST_GUEST_WASM"));

/// How often the epoch ticks: the granularity of yielding and of the time limit.
const EPOCH_TICK: Duration = Duration::from_millis(10);

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
    fn pure() -> Sandbox {
        Sandbox { allowed: Vec::new(), config: Vec::new(), memory_bytes: 1 << 30, timeout: Duration::from_secs(600) }
    }

    /// Redacts this instance's secrets (the only ones it could have sent to a server).
    fn scrubber(&self) -> Scrubber {
        Scrubber::new(self.config.iter().map(|(_, secret)| secret))
    }
}

/// The component's stderr is kept (up to this much) and logged line by line, made safe.
const STDERR_BYTES: usize = 64 * 1024;

/// Why an instance did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("the component ran longer than its {0:?} time limit and was stopped")]
    Timeout(Duration),
    #[error("the component was stopped: {0:#}")]
    Trap(anyhow::Error),
}

pub struct Runtime {
    engine: Engine,
    pre: EmbedderPre<HostState>,
    /// One pool of connections per origin, shared by every instance this runtime makes.
    outbound: Outbound,
    ticker: Option<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
    }
}

impl Runtime {
    /// Compiles (or loads from wasmtime's on-disk cache) the embedded component.
    pub fn new() -> anyhow::Result<Runtime> {
        Self::with_component(COMPONENT)
    }

    pub fn with_component(wasm: &[u8]) -> anyhow::Result<Runtime> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
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
        let outbound = Outbound::new().context("setting up TLS for outbound requests")?;
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
        Ok(Runtime { engine, pre, outbound, ticker: Some(ticker), stop })
    }

    pub async fn export_account(
        &self,
        plan: AccountPlan,
        sandbox: Sandbox,
    ) -> Result<Result<Report, ExportError>, RuntimeError> {
        let scrubber = sandbox.scrubber();
        let result = self
            .call(sandbox, move |instance, store| {
                Box::pin(async move { instance.dtcost_exporter_job().call_export_account(store, &plan).await })
            })
            .await;
        result.map(|job| scrubber.job(job))
    }

    pub async fn export_cluster(
        &self,
        plan: ClusterPlan,
        sandbox: Sandbox,
    ) -> Result<Result<Report, ExportError>, RuntimeError> {
        let scrubber = sandbox.scrubber();
        let result = self
            .call(sandbox, move |instance, store| {
                Box::pin(async move { instance.dtcost_exporter_job().call_export_cluster(store, &plan).await })
            })
            .await;
        result.map(|job| scrubber.job(job))
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
        let scrubber = sandbox.scrubber();
        let result = self
            .call(sandbox, move |instance, store| {
                Box::pin(async move {
                    instance.dtcost_exporter_job().call_send_events(store, &target, retry, &events).await
                })
            })
            .await;
        result.map(|report| scrubber.report(report))
    }

    /// Calls the component's pure `cost-booked` transform (no network, no secrets): for
    /// embedders and the benchmarks.
    pub async fn cost_booked(
        &self,
        context: EventContext,
        subscription_uuid: String,
        costs: Vec<CostRecord>,
    ) -> Result<Result<Vec<String>, InvalidRecord>, RuntimeError> {
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
        body: impl for<'a> FnOnce(
            &'a Embedder,
            &'a mut Store<HostState>,
        ) -> std::pin::Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>,
    ) -> Result<R, RuntimeError> {
        let timeout = sandbox.timeout;
        let scrubber = sandbox.scrubber();
        let stderr = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(STDERR_BYTES);
        let mut store = self.store(sandbox, stderr.clone());
        let work = async {
            let instance = self.pre.instantiate_async(&mut store).await.map_err(|e| RuntimeError::Trap(e.into()))?;
            body(&instance, &mut store).await.map_err(|e| RuntimeError::Trap(e.into()))
        };
        // The epoch makes the guest yield every tick, so this timeout also stops a busy loop.
        let result = match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(RuntimeError::Timeout(timeout)),
        };
        // What the component wrote (a panic's message, which may quote a server's text).
        for line in String::from_utf8_lossy(&stderr.contents()).lines() {
            tracing::warn!("component: {}", scrubber.excerpt(line));
        }
        result
    }

    fn store(&self, sandbox: Sandbox, stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe) -> Store<HostState> {
        let wasi = WasiCtx::builder()
            .stderr(stderr)
            // The component needs no sockets of its own: HTTP goes through wasi:http's hook.
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .allow_ip_name_lookup(false)
            .build();
        let config: WasiConfigVariables =
            sandbox.config.iter().map(|(key, secret)| (key.to_string(), secret.expose().to_owned())).collect();
        let limits = StoreLimitsBuilder::new().memory_size(sandbox.memory_bytes).instances(4).tables(64).build();
        let state = HostState {
            table: ResourceTable::new(),
            wasi,
            http: WasiHttpCtx::new(),
            hooks: AllowList { allowed: sandbox.allowed, outbound: self.outbound.clone() },
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
    limits: StoreLimits,
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

/// The outbound HTTP policy: only the configured origins; plain http only to loopback. Requests
/// it lets through go out on the runtime's shared connection pool.
pub struct AllowList {
    allowed: Vec<Origin>,
    outbound: Outbound,
}

impl AllowList {
    fn permits(&self, uri: &http::Uri) -> Result<(), String> {
        let url =
            format!("{}://{}", uri.scheme_str().unwrap_or("https"), uri.authority().map(|a| a.as_str()).unwrap_or(""));
        let origin = Origin::parse(&url)?;
        if origin.scheme == "http" && !origin.is_loopback() {
            return Err(format!("{origin}: plain http is allowed only to loopback"));
        }
        if self.allowed.contains(&origin) {
            Ok(())
        } else {
            Err(format!("{origin} is not among the configured Dynatrace hosts"))
        }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for AllowList {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn Future<Output = Result<(http::Response<wasmtime_wasi_http::WasiBody>, IoFuture), wasmtime_wasi_http::Error>>
            + Send,
    > {
        if let Err(reason) = self.permits(request.uri()) {
            tracing::warn!(method = %request.method(), %reason, "outgoing request refused by the sandbox");
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let sending = self.outbound.send(request, options);
        Box::new(async move {
            let response = sending.await?;
            // The pool drives the connection: nothing is left to run for this request.
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}
