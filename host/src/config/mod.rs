//! The configuration: TOML parsed loosely into `RawConfig` (raw.rs), then validated into
//! `Config` (validate.rs and the files beside it), which is what the rest of the program uses.
//! Every error names the file, the key and what is wrong. Secrets are read from environment
//! variables or files named in the config, never inline.

mod anomalies;
mod defaults;
mod entries;
mod environment;
mod raw;
#[cfg(test)]
mod tests;
mod validate;
mod values;

use std::path::{Path, PathBuf};

pub use anomalies::default_anomaly_plan;
pub use defaults::default_budget_alerting;
pub use environment::{Environment, ProcessEnvironment};
pub use values::base_url;

pub use crate::sandbox::Origin;
use crate::secret::Secret;
use crate::wit::{AnomalyPlan, BudgetAlerting, EnvironmentCostPlan, RetryPolicy, UsagePlan};

pub const DEFAULT_TOKEN_URL: &str = dtcost_contract::TOKEN_URL;
/// The token endpoint's path on an SSO host.
pub const TOKEN_PATH: &str = "/sso/oauth2/token";
pub const DEFAULT_API_URL: &str = dtcost_contract::API_URL;
pub const DEFAULT_PROVIDER: &str = dtcost_contract::PROVIDER;
/// `concurrency` when unset: the most account exports at once, and connections per origin. On 2
/// cores 32 was no faster than 16 at 25 ms per answer (100 accounts: 1.04 s and 1.08 s) and held
/// twice the instances' memory (peak RSS 106 MB and 67 MB; BENCHMARKS.md).
pub const DEFAULT_CONCURRENCY: usize = 16;
/// The longest name or `provider`, in characters: each is copied into every event.
pub const MAX_LABEL_CHARS: usize = 256;
/// The longest secret, in bytes: Dynatrace tokens and client secrets are under 200; a longer
/// value is a wrong file, and it would be copied into every request and redaction.
pub const MAX_SECRET_BYTES: usize = 8 << 10;
/// The largest config file read, in bytes: a thousand accounts take about 200 KB.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// A configuration error: where, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {key}: {message}")]
pub struct ConfigError {
    pub source_name: String,
    pub key: String,
    pub message: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from (file path, or "environment").
    pub source_name: String,
    pub token_url: String,
    pub api_url: String,
    pub provider: String,
    /// The most account exports at once, and the most connections open to each origin.
    pub concurrency: usize,
    pub limits: Limits,
    /// `None`: the component's default (the API's cap). So for every plan field below that is
    /// an `Option`: unset in the config, the component fills in its default (see the WIT).
    pub max_batch_bytes: Option<u32>,
    pub retry: RetryPolicy,
    /// Where delivery state is kept; `None` keeps none (every run sends every day).
    pub state_file: Option<PathBuf>,
    pub window_days: Option<u32>,
    /// How accounts with `environment-cost = true` read cost per environment.
    pub environment_cost: EnvironmentCostPlan,
    /// How accounts with `usage = true` read usage and unit prices.
    pub usage: UsagePlan,
    pub budget_alerting: BudgetAlerting,
    /// Which cost anomalies each account reports (`[anomalies]`).
    pub anomalies: AnomalyPlan,
    pub target: Target,
    pub accounts: Vec<AccountConfig>,
    pub clusters: Vec<ClusterConfig>,
}

impl Config {
    /// Every secret the configuration holds: what no text from a server may print.
    pub fn secrets(&self) -> Vec<&Secret> {
        let mut secrets = match &self.target.auth {
            TargetAuth::ApiToken(token) => vec![token],
            TargetAuth::OAuth { client_secret, .. } => vec![client_secret],
        };
        secrets.extend(self.accounts.iter().map(|account| &account.client_secret));
        secrets.extend(self.clusters.iter().map(|cluster| &cluster.api_token));
        secrets
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub memory_bytes: usize,
    pub timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        // Time enough for a job whose requests each use their whole retry budget a few times over.
        Limits { memory_bytes: 128 << 20, timeout: std::time::Duration::from_secs(1800) }
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub auth: TargetAuth,
}

#[derive(Debug, Clone)]
pub enum TargetAuth {
    ApiToken(Secret),
    OAuth { client_id: String, client_secret: Secret, account_uuid: Option<String> },
}

#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub name: String,
    pub uuid: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub subscription: Option<String>,
    /// Read cost per environment and capability (opt-in: it can be large).
    pub environment_cost: bool,
    /// Read usage and unit prices per capability (opt-in).
    pub usage: bool,
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub name: String,
    pub url: String,
    pub api_token: Secret,
}

impl Config {
    /// Loads `path`, or, without one, a single account, target and cluster from the Dynatrace
    /// tools' environment variables (`DT_CLIENT_ID`, `DT_CLIENT_SECRET`, `DT_ACCOUNT_ID`,
    /// `DT_ENVIRONMENT_URL`, `DT_API_TOKEN`, `DT_CLUSTER_URL`, `DT_CLUSTER_API_TOKEN`).
    pub fn load(path: Option<&Path>, env: &dyn Environment) -> Result<Config, ConfigError> {
        match path {
            Some(path) => {
                let source_name = path.display().to_string();
                let text = crate::file::read_text(path, MAX_CONFIG_BYTES).map_err(|error| ConfigError {
                    source_name: source_name.clone(),
                    key: "(file)".into(),
                    message: error.to_string(),
                })?;
                Self::parse(&text, &source_name, path.parent(), env)
            }
            None => Self::parse("", "environment", None, env),
        }
    }

    /// Parses TOML text; relative secret files are resolved against `base_dir`.
    pub fn parse(
        text: &str,
        source_name: &str,
        base_dir: Option<&Path>,
        env: &dyn Environment,
    ) -> Result<Config, ConfigError> {
        let raw = raw::RawConfig::parse(text).map_err(|error| ConfigError {
            source_name: source_name.to_owned(),
            key: error.key,
            message: error.message,
        })?;
        validate::Validator { source_name, base_dir, env }.validate(raw)
    }
}
