//! The running simulator: every fake service on its own loopback port, as the real ones are on
//! their own hosts (the SSO, the Account Management API, one environment, one Managed cluster
//! per configured cluster), and what tests ask it (events accepted, requests served, faults to
//! inject, data to change).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::middleware;
use serde_json::Value;

pub use crate::data::MAX_INGEST_BYTES;
pub use crate::faults::{Fault, FaultRule};
pub use crate::state::{LoggedRequest, Service};
pub use crate::walk::{DEFAULT_PAGE_SIZE, EndMarker, MAX_PAGE_SIZE, end_marker};

use crate::data::Scenario;
use crate::faults::ActiveFault;
use crate::inject::around_every_request;
use crate::listener::{Counting, bind};
use crate::state::{Recorded, Shared};
use crate::{account_api, cluster, environment_views, environments, ingest, rate_cards, sso, usage};

/// A running simulator. Dropping it stops the servers.
pub struct Simulator {
    /// SSO token endpoint: `<sso>/sso/oauth2/token`.
    pub sso_url: String,
    pub api_url: String,
    pub environment_url: String,
    pub cluster_urls: Vec<String>,
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Simulator {
    /// Binds every service to `127.0.0.1:0` and serves in the current tokio runtime.
    pub async fn start(scenario: Scenario) -> std::io::Result<Simulator> {
        let clusters = scenario.clusters.len();
        let recorded = Recorded { limit: scenario.max_recorded_events, ..Recorded::default() };
        let shared = Arc::new(Shared { scenario: Mutex::new(scenario), recorded: Mutex::new(recorded) });
        let mut tasks = Vec::new();
        let mut serve = |router: Router<Arc<Shared>>, service: Service, listener: tokio::net::TcpListener| {
            let router = router
                .layer(middleware::from_fn_with_state((shared.clone(), service), around_every_request))
                .with_state(shared.clone());
            let listener = Counting { listener, shared: shared.clone(), service };
            tasks.push(tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            }));
        };
        let (sso, sso_url) = bind().await?;
        serve(sso::router(), Service::Sso, sso);
        let (api, api_url) = bind().await?;
        serve(
            account_api::router()
                .merge(environment_views::router())
                .merge(usage::router())
                .merge(rate_cards::router())
                .merge(environments::router()),
            Service::AccountApi,
            api,
        );
        let (env, environment_url) = bind().await?;
        serve(ingest::router(), Service::Environment, env);
        let mut cluster_urls = Vec::new();
        for index in 0..clusters {
            let (listener, url) = bind().await?;
            serve(cluster::router(index), Service::Cluster(index), listener);
            cluster_urls.push(url);
        }
        Ok(Simulator {
            sso_url: format!("{sso_url}/sso/oauth2/token"),
            api_url,
            environment_url,
            cluster_urls,
            shared,
            tasks,
        })
    }

    /// The events the ingest API accepted, in arrival order: all of them, or the newest
    /// [`Scenario::max_recorded_events`] when that is set.
    pub fn accepted_events(&self) -> Vec<Value> {
        self.shared.recorded().accepted.iter().cloned().collect()
    }

    /// How many events the ingest API ever accepted, including those no longer kept (cheaper
    /// than `accepted_events().len()`, and the same when nothing was dropped).
    pub fn accepted_count(&self) -> usize {
        self.shared.recorded().accepted_total
    }

    /// Every request served, in order: all of them, or the newest
    /// [`Scenario::max_recorded_events`] when that is set.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.recorded().log.iter().cloned().collect()
    }

    /// How many requests were ever served, including those no longer kept in [`Simulator::requests`].
    pub fn request_count(&self) -> usize {
        self.shared.recorded().logged_total
    }

    /// How many TCP connections each service accepted (services that accepted none are absent).
    pub fn connections(&self) -> HashMap<Service, usize> {
        self.shared.recorded().connections.clone()
    }

    /// How many TCP connections all services together accepted.
    pub fn connection_count(&self) -> usize {
        self.shared.recorded().connections.values().sum()
    }

    /// The data served (a copy).
    pub fn scenario(&self) -> Scenario {
        self.shared.scenario().clone()
    }

    /// Makes the next matching requests fail (rules apply in the order given).
    pub fn inject(&self, rule: FaultRule) {
        self.shared.recorded().faults.push(ActiveFault { rule, path_contains: None });
    }

    /// Like [`Simulator::inject`], but the rule only applies to (and is only used up by) requests
    /// whose path (without the query) contains `path_contains`, e.g. `"/environments/cost"` for
    /// 502s on v3 pages only.
    pub fn inject_on_path(&self, rule: FaultRule, path_contains: &str) {
        self.shared.recorded().faults.push(ActiveFault { rule, path_contains: Some(path_contains.to_owned()) });
    }

    /// Changes the data served from now on (e.g. a late booking between two runs).
    pub fn update(&self, change: impl FnOnce(&mut Scenario)) {
        let limit = {
            let mut scenario = self.shared.scenario();
            change(&mut scenario);
            scenario.max_recorded_events
        };
        self.shared.recorded().limit = limit;
    }
}
