//! The configuration: TOML parsed loosely into `RawConfig`, then validated into `Config`, which is
//! what the rest of the program uses. Every error names the file, the key and what is wrong.
//! Secrets are read from environment variables or files named in the config, never inline.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::runtime::{BudgetAlerting, EnvironmentCostPlan, RetryPolicy};
use crate::scrub::is_unsafe;
use crate::secret::Secret;

// The component's own defaults (the host needs the URLs to allow them, the provider for the summary).
pub const DEFAULT_TOKEN_URL: &str = dtcost_guest::defaults::TOKEN_URL;
/// The token endpoint's path on an SSO host.
pub const TOKEN_PATH: &str = "/sso/oauth2/token";
pub const DEFAULT_API_URL: &str = dtcost_guest::defaults::API_URL;
pub const DEFAULT_PROVIDER: &str = dtcost_guest::defaults::PROVIDER;
/// The longest name or `provider`, in characters: each is copied into every event.
pub const MAX_LABEL_CHARS: usize = 256;
/// The longest secret, in bytes: Dynatrace tokens and client secrets are under 200; a longer
/// value is a wrong file, and it would be copied into every request and redaction.
pub const MAX_SECRET_BYTES: usize = 8 << 10;

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
    pub budget_alerting: BudgetAlerting,
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

/// Budget alerts as the component has them by default (the WIT `budget-alerting`, nothing set).
pub fn default_budget_alerting() -> BudgetAlerting {
    BudgetAlerting { thresholds: None, forecast_exceeds_budget: None }
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
}

#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub name: String,
    pub url: String,
    pub api_token: Secret,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawConfig {
    /// The SSO token endpoint; a bare SSO host gets the standard path.
    #[serde(alias = "sso-url")]
    token_url: Option<String>,
    api_url: Option<String>,
    provider: Option<String>,
    concurrency: Option<usize>,
    max_batch_bytes: Option<u32>,
    state_file: Option<PathBuf>,
    window_days: Option<u32>,
    #[serde(default)]
    retry: RawRetry,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    environment_cost: RawEnvironmentCost,
    #[serde(default)]
    budget: RawBudget,
    #[serde(default)]
    target: RawTarget,
    #[serde(default)]
    accounts: Vec<RawAccount>,
    #[serde(default)]
    clusters: Vec<RawCluster>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawRetry {
    initial_delay_ms: Option<u32>,
    max_delay_ms: Option<u32>,
    multiplier: Option<f64>,
    max_elapsed_seconds: Option<u32>,
    attempt_timeout_seconds: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawEnvironmentCost {
    days: Option<u32>,
    window_days: Option<u32>,
    page_size: Option<u32>,
    max_rows_per_day: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawBudget {
    thresholds: Option<Vec<f64>>,
    forecast_exceeds_budget: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawLimits {
    memory_mb: Option<usize>,
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawTarget {
    url: Option<String>,
    api_token_env: Option<String>,
    api_token_file: Option<PathBuf>,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    account_uuid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawAccount {
    name: Option<String>,
    uuid: Option<String>,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    subscription: Option<String>,
    environment_cost: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawCluster {
    name: Option<String>,
    url: Option<String>,
    api_token_env: Option<String>,
    api_token_file: Option<PathBuf>,
}

/// Reads secrets and defaults: the process environment in production, a map in tests.
pub trait Environment {
    /// The variable's value when it is set (empty included: the validator says so).
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        // A value that is not UTF-8 is kept, damaged: it then fails validation by name.
        std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
    }
}

impl Environment for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Config {
    /// Loads `path`, or, without one, a single account, target and cluster from the Dynatrace
    /// tools' environment variables (`DT_CLIENT_ID`, `DT_CLIENT_SECRET`, `DT_ACCOUNT_ID`,
    /// `DT_ENVIRONMENT_URL`, `DT_API_TOKEN`, `DT_CLUSTER_URL`, `DT_CLUSTER_API_TOKEN`).
    pub fn load(path: Option<&Path>, env: &dyn Environment) -> Result<Config, ConfigError> {
        match path {
            Some(path) => {
                let source_name = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
                    source_name: source_name.clone(),
                    key: "(file)".into(),
                    message: format!("cannot read it: {error}"),
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
        let raw: RawConfig = toml::from_str(text).map_err(|error| {
            let key = error.span().map(|span| key_at(text, span.start)).unwrap_or_else(|| "(syntax)".into());
            ConfigError { source_name: source_name.to_owned(), key, message: error.message().trim().to_owned() }
        })?;
        Validator { source_name, base_dir, env }.validate(raw)
    }
}

/// The line of TOML text at `offset`, trimmed, to point at the offending key.
fn key_at(text: &str, offset: usize) -> String {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let line_number = text[..line_start].matches('\n').count() + 1;
    let key = line.split('=').next().unwrap_or(line).trim();
    format!("line {line_number} ({key})")
}

struct Validator<'a> {
    source_name: &'a str,
    base_dir: Option<&'a Path>,
    env: &'a dyn Environment,
}

impl Validator<'_> {
    fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { source_name: self.source_name.to_owned(), key: key.into(), message: message.into() }
    }

    fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let mut token_url = self.url("token-url", raw.token_url.unwrap_or_else(|| DEFAULT_TOKEN_URL.into()))?;
        if !token_url.split("://").nth(1).unwrap_or("").contains('/') {
            token_url.push_str(TOKEN_PATH);
        }
        let api_url = self.url("api-url", raw.api_url.unwrap_or_else(|| DEFAULT_API_URL.into()))?;
        // The most at once; the account exports adapt up to it (see concurrency.rs).
        let concurrency = raw.concurrency.unwrap_or(32);
        if !(1..=64).contains(&concurrency) {
            return Err(self.error("concurrency", format!("{concurrency} is out of range (1 to 64)")));
        }
        let retry = self.retry(&raw.retry)?;
        let window_days = raw.window_days;
        if let Some(window_days) = window_days
            && window_days > 400
        {
            return Err(
                self.error("window-days", format!("{window_days} is out of range (0 to 400; 0: compare every day)"))
            );
        }
        // The state file sits beside the config unless placed elsewhere; "" keeps no state.
        let state_file = match raw.state_file {
            Some(path) if path.as_os_str().is_empty() => None,
            Some(path) => Some(self.relative(path)),
            None => Some(self.relative(PathBuf::from("dtcost-state.json"))),
        };
        if let Some(path) = &state_file {
            self.state_file(path)?;
        }
        let provider = raw.provider.unwrap_or_else(|| DEFAULT_PROVIDER.into());
        self.label("provider", &provider)?;
        let max_batch_bytes = raw.max_batch_bytes;
        if let Some(max_batch_bytes) = max_batch_bytes
            && !(1024..=dtcost_guest::defaults::MAX_BATCH_BYTES).contains(&max_batch_bytes)
        {
            return Err(self.error(
                "max-batch-bytes",
                format!("{max_batch_bytes} is out of range (1024 to 5000000, the API's cap)"),
            ));
        }
        let mut limits = Limits::default();
        if let Some(mb) = raw.limits.memory_mb {
            if !(16..=4096).contains(&mb) {
                return Err(self.error("limits.memory-mb", format!("{mb} is out of range (16 to 4096)")));
            }
            limits.memory_bytes = mb << 20;
        }
        if let Some(seconds) = raw.limits.timeout_seconds {
            if !(1..=86_400).contains(&seconds) {
                return Err(self.error("limits.timeout-seconds", format!("{seconds} is out of range (1 to 86400)")));
            }
            limits.timeout = std::time::Duration::from_secs(seconds);
        }
        let environment_cost = self.environment_cost(&raw.environment_cost)?;
        let budget_alerting = self.budget(raw.budget)?;
        let target = self.target(raw.target)?;

        let single_account = raw.accounts.len() <= 1;
        let mut raw_accounts = raw.accounts;
        // An account made of DT_* variables alone: its errors name the variables.
        let account_from_env = raw_accounts.is_empty()
            && (self.env_var("DT_ACCOUNT_ID")?.is_some() || self.env_var("DT_CLIENT_ID")?.is_some());
        if account_from_env {
            raw_accounts.push(RawAccount::default());
        }
        let mut accounts = Vec::new();
        for (index, account) in raw_accounts.into_iter().enumerate() {
            accounts.push(self.account(index, account, single_account, account_from_env)?);
        }
        for (index, account) in accounts.iter().enumerate() {
            if let Some(earlier) = accounts[..index].iter().position(|a| a.name == account.name) {
                return Err(self.error(
                    format!("accounts[{index}].name"),
                    format!("{:?} is already the name of accounts[{earlier}]", account.name),
                ));
            }
            // One account twice would send its days twice, under two names, and keep one state.
            if let Some(earlier) = accounts[..index].iter().position(|a| a.uuid == account.uuid) {
                return Err(self.error(
                    format!("accounts[{index}].uuid"),
                    format!(
                        "accounts[{earlier}] ({:?}) and accounts[{index}] ({:?}) are the same account ({}): \
                         it would be exported twice; keep one of them",
                        accounts[earlier].name, account.name, account.uuid
                    ),
                ));
            }
        }

        let mut raw_clusters = raw.clusters;
        if raw_clusters.is_empty() && self.env_var("DT_CLUSTER_URL")?.is_some() {
            raw_clusters.push(RawCluster::default());
        }
        let single_cluster = raw_clusters.len() == 1;
        let mut clusters = Vec::new();
        for (index, cluster) in raw_clusters.into_iter().enumerate() {
            clusters.push(self.cluster(index, cluster, single_cluster)?);
        }
        for (index, cluster) in clusters.iter().enumerate() {
            if let Some(earlier) = clusters[..index].iter().position(|c| c.name == cluster.name) {
                return Err(self.error(
                    format!("clusters[{index}].name"),
                    format!("{:?} is already the name of clusters[{earlier}]", cluster.name),
                ));
            }
            if let Some(earlier) = clusters[..index].iter().position(|c| c.url == cluster.url) {
                return Err(self.error(
                    format!("clusters[{index}].url"),
                    format!(
                        "clusters[{earlier}] ({:?}) and clusters[{index}] ({:?}) are the same cluster ({}): \
                         its license would be exported twice; keep one of them",
                        clusters[earlier].name, cluster.name, cluster.url
                    ),
                ));
            }
        }
        if accounts.is_empty() && clusters.is_empty() {
            return Err(self.error(
                "accounts",
                "nothing to export: add an [[accounts]] or [[clusters]] table (or set DT_ACCOUNT_ID / DT_CLUSTER_URL); \
                 to try dtcost without a tenant, run `dtcost demo`",
            ));
        }
        Ok(Config {
            source_name: self.source_name.to_owned(),
            token_url,
            api_url,
            provider,
            concurrency,
            limits,
            max_batch_bytes,
            retry,
            state_file,
            window_days,
            environment_cost,
            budget_alerting,
            target,
            accounts,
            clusters,
        })
    }

    fn retry(&self, raw: &RawRetry) -> Result<RetryPolicy, ConfigError> {
        // What is not set stays unset: the component fills in its defaults.
        let retry = RetryPolicy {
            initial_delay_ms: raw.initial_delay_ms,
            max_delay_ms: raw.max_delay_ms,
            multiplier: raw.multiplier,
            max_elapsed_ms: raw.max_elapsed_seconds.map(|s| s.saturating_mul(1000)),
            attempt_timeout_ms: raw.attempt_timeout_seconds.map(|s| s.saturating_mul(1000)),
        };
        if retry.attempt_timeout_ms.is_some_and(|ms| !(1_000..=3_600_000).contains(&ms)) {
            return Err(self.error("retry.attempt-timeout-seconds", "must be between 1 and 3600"));
        }
        if let Some(initial) = retry.initial_delay_ms
            && !(1..=600_000).contains(&initial)
        {
            return Err(self.error("retry.initial-delay-ms", format!("{initial} is out of range (1 to 600000)")));
        }
        if let Some(max) = retry.max_delay_ms {
            // Compared with the initial delay the component will use, set or its default.
            let initial =
                dtcost_guest::wit::RetryPolicy { initial_delay_ms: retry.initial_delay_ms, ..Default::default() }
                    .initial_delay_ms();
            if max < initial || max > 600_000 {
                return Err(
                    self.error("retry.max-delay-ms", format!("{max} must be between initial-delay-ms and 600000"))
                );
            }
        }
        if let Some(multiplier) = retry.multiplier
            && !(1.0..=10.0).contains(&multiplier)
        {
            return Err(self.error("retry.multiplier", format!("{multiplier} is out of range (1.0 to 10.0)")));
        }
        if retry.max_elapsed_ms.is_some_and(|ms| ms > 3_600_000) {
            return Err(self.error("retry.max-elapsed-seconds", "at most 3600 (0 disables retries)"));
        }
        Ok(retry)
    }

    fn environment_cost(&self, raw: &RawEnvironmentCost) -> Result<EnvironmentCostPlan, ConfigError> {
        // What is not set stays unset: the component fills in its defaults.
        if let Some(days) = raw.days
            && !(1..=400).contains(&days)
        {
            return Err(self.error("environment-cost.days", format!("{days} is out of range (1 to 400)")));
        }
        if let Some(window_days) = raw.window_days
            && !(1..=90).contains(&window_days)
        {
            return Err(self.error("environment-cost.window-days", format!("{window_days} is out of range (1 to 90)")));
        }
        if let Some(size) = raw.page_size
            && !(1..=10_000).contains(&size)
        {
            return Err(self.error("environment-cost.page-size", format!("{size} is out of range (1 to 10000)")));
        }
        if let Some(max_rows_per_day) = raw.max_rows_per_day
            && !(1..=100_000).contains(&max_rows_per_day)
        {
            return Err(self.error(
                "environment-cost.max-rows-per-day",
                format!("{max_rows_per_day} is out of range (1 to 100000)"),
            ));
        }
        Ok(EnvironmentCostPlan {
            days: raw.days,
            window_days: raw.window_days,
            page_size: raw.page_size,
            max_rows_per_day: raw.max_rows_per_day,
        })
    }

    fn budget(&self, raw: RawBudget) -> Result<BudgetAlerting, ConfigError> {
        // What is not set stays unset: the component fills in its defaults.
        let thresholds = raw.thresholds;
        if let Some(bad) = thresholds.iter().flatten().find(|t| !(t.is_finite() && **t > 0.0 && **t <= 1000.0)) {
            return Err(self.error(
                "budget.thresholds",
                format!("{bad} is not a percentage of the budget (above 0, at most 1000)"),
            ));
        }
        Ok(BudgetAlerting { thresholds, forecast_exceeds_budget: raw.forecast_exceeds_budget })
    }

    /// A path from the config, relative to the config file's folder.
    fn relative(&self, path: PathBuf) -> PathBuf {
        match self.base_dir {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        }
    }

    fn target(&self, raw: RawTarget) -> Result<Target, ConfigError> {
        let (url, url_key) = match raw.url {
            Some(url) => (url, "target.url"),
            None => match self.env_var("DT_ENVIRONMENT_URL")? {
                Some(url) => (url, "DT_ENVIRONMENT_URL"),
                None => {
                    return Err(self.error(
                        "target.url",
                        "missing: the environment that receives the events (or set DT_ENVIRONMENT_URL)",
                    ));
                }
            },
        };
        let url = self.url(url_key, url)?;
        if url.contains("/bizevents/ingest") {
            return Err(self.error(
                url_key,
                format!(
                    "{url:?}: give the environment URL (e.g. https://abc12345.live.dynatrace.com), without the API path"
                ),
            ));
        }
        let auth = if let Some(client_id) = raw.client_id {
            let client_secret = self
                .secret("target.client-secret", raw.client_secret_env, raw.client_secret_file, None)?
                .ok_or_else(|| {
                    self.error(
                        "target.client-secret-env",
                        "missing: an OAuth target needs its client secret (client-secret-env or client-secret-file)",
                    )
                })?;
            let account_uuid =
                raw.account_uuid.map(|uuid| self.account_uuid("target.account-uuid", &uuid)).transpose()?;
            TargetAuth::OAuth { client_id, client_secret, account_uuid }
        } else {
            let token = self
                .secret("target.api-token", raw.api_token_env, raw.api_token_file, Some("DT_API_TOKEN"))?
                .ok_or_else(|| self.error("target.api-token-env", "missing: set api-token-env or api-token-file (a token with bizevents.ingest), or client-id for OAuth (or set DT_API_TOKEN)"))?;
            TargetAuth::ApiToken(token)
        };
        Ok(Target { url, auth })
    }

    fn account(
        &self,
        index: usize,
        raw: RawAccount,
        single: bool,
        from_env: bool,
    ) -> Result<AccountConfig, ConfigError> {
        // Keys of the file, or the variables when the account is made of DT_* variables alone.
        let key = |name: &str| match (from_env, name) {
            (true, "uuid") => "DT_ACCOUNT_ID".to_owned(),
            (true, "client-id") => "DT_CLIENT_ID".to_owned(),
            (true, "client-secret-env") => "DT_CLIENT_SECRET".to_owned(),
            _ => format!("accounts[{index}].{name}"),
        };
        // A value from the file, else (for a single account) from a DT_* variable, with the key
        // that errors name: the file's, or the variable's.
        let value =
            |field: Option<String>, name: &str, variable: &str| -> Result<Option<(String, String)>, ConfigError> {
                match field {
                    Some(value) => Ok(Some((value, key(name)))),
                    None if single => Ok(self.env_var(variable)?.map(|value| (value, variable.to_owned()))),
                    None => Ok(None),
                }
            };
        let (uuid, uuid_key) = value(raw.uuid, "uuid", "DT_ACCOUNT_ID")?.ok_or_else(|| {
            self.error(
                key("uuid"),
                "missing: the account UUID (Account Management > Identity & access management > OAuth clients; or set DT_ACCOUNT_ID)",
            )
        })?;
        let uuid = self.account_uuid(&uuid_key, &uuid)?;
        let (client_id, client_id_key) = value(raw.client_id, "client-id", "DT_CLIENT_ID")?.ok_or_else(|| {
            self.error(key("client-id"), "missing: the OAuth client id (dt0s02.…; or set DT_CLIENT_ID)")
        })?;
        if client_id.chars().count() > MAX_LABEL_CHARS {
            return Err(self.error(client_id_key, format!("is longer than {MAX_LABEL_CHARS} characters")));
        }
        if client_id.trim().is_empty() || client_id.contains(char::is_whitespace) || client_id.contains(is_unsafe) {
            return Err(self.error(client_id_key, format!("{client_id:?} is not a client id")));
        }
        let client_secret = self
            .secret(&key("client-secret"), raw.client_secret_env, raw.client_secret_file, if single { Some("DT_CLIENT_SECRET") } else { None })?
            .ok_or_else(|| self.error(key("client-secret-env"), "missing: name the environment variable (client-secret-env) or file (client-secret-file) that holds the client secret (or set DT_CLIENT_SECRET)"))?;
        let subscription = raw.subscription.map(|s| self.plain_uuid(&key("subscription"), &s)).transpose()?;
        let name = raw.name.unwrap_or_else(|| uuid.clone());
        self.label(&key("name"), &name)?;
        Ok(AccountConfig {
            name,
            uuid,
            client_id,
            client_secret,
            subscription,
            environment_cost: raw.environment_cost.unwrap_or(false),
        })
    }

    fn cluster(&self, index: usize, raw: RawCluster, single: bool) -> Result<ClusterConfig, ConfigError> {
        let key = |name: &str| format!("clusters[{index}].{name}");
        let from_env = if single && raw.url.is_none() { self.env_var("DT_CLUSTER_URL")? } else { None };
        let (url, url_key) = match (raw.url, from_env) {
            (Some(url), _) => (url, key("url")),
            (None, Some(url)) => (url, "DT_CLUSTER_URL".to_owned()),
            (None, None) => {
                return Err(self.error(key("url"), "missing: the cluster's URL, e.g. https://managed.example.com"));
            }
        };
        let url = self.url(&url_key, url)?;
        let api_token = self
            .secret(&key("api-token"), raw.api_token_env, raw.api_token_file, if single { Some("DT_CLUSTER_API_TOKEN") } else { None })?
            .ok_or_else(|| self.error(key("api-token-env"), "missing: name the environment variable or file that holds the cluster API token (ServiceProviderAPI; or set DT_CLUSTER_API_TOKEN)"))?;
        let name = raw.name.unwrap_or_else(|| url.split("://").nth(1).unwrap_or(&url).to_owned());
        self.label(&key("name"), &name)?;
        Ok(ClusterConfig { name, url, api_token })
    }

    /// A secret from `<key>-env` or `<key>-file`, else from `default_env`.
    fn secret(
        &self,
        key: &str,
        env_name: Option<String>,
        file: Option<PathBuf>,
        default_env: Option<&str>,
    ) -> Result<Option<Secret>, ConfigError> {
        match (env_name, file) {
            (Some(_), Some(_)) => Err(self.error(key, "give either the -env or the -file key, not both")),
            (Some(name), None) => match self.env.var(&name) {
                Some(value) if value.is_empty() => {
                    Err(self.error(format!("{key}-env"), format!("environment variable {name} is set but empty")))
                }
                Some(value) => self.secret_value(&format!("{key}-env"), &format!("environment variable {name}"), value),
                None => Err(self.error(format!("{key}-env"), format!("environment variable {name} is not set"))),
            },
            (None, Some(file)) => {
                let path = self.relative(file);
                let text = std::fs::read_to_string(&path).map_err(|error| {
                    self.error(format!("{key}-file"), format!("cannot read {}: {error}", path.display()))
                })?;
                // One trailing line ending is the file's, not the secret's.
                let value = text.strip_suffix('\n').map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
                self.secret_value(&format!("{key}-file"), &path.display().to_string(), value.to_owned())
            }
            (None, None) => match default_env {
                Some(name) => match self.env_var(name)? {
                    Some(value) => self.secret_value(name, &format!("environment variable {name}"), value),
                    None => Ok(None),
                },
                None => Ok(None),
            },
        }
    }

    /// A secret's value: one line of visible characters, without spaces around it.
    fn secret_value(&self, key: &str, from: &str, value: String) -> Result<Option<Secret>, ConfigError> {
        let problem = if value.is_empty() {
            "is empty"
        } else if value.trim().is_empty() {
            "holds only spaces"
        } else if value.contains(['\n', '\r']) {
            "has more than one line (a secret is one line; one final line break is allowed)"
        } else if value.contains(is_unsafe) {
            "holds a control character"
        } else if value.trim() != value {
            "has spaces before or after the secret"
        } else if value.len() > MAX_SECRET_BYTES {
            return Err(
                self.error(key, format!("{from} holds {} bytes, more than a secret's {MAX_SECRET_BYTES}", value.len()))
            );
        } else {
            return Ok(Some(Secret::new(value)));
        };
        Err(self.error(key, format!("{from} {problem}")))
    }

    /// An environment variable that is set; set but empty is an error (never taken as unset).
    fn env_var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match self.env.var(name) {
            Some(value) if value.trim().is_empty() => {
                Err(self.error(name, "is set but empty: give it a value, or unset it"))
            }
            value => Ok(value),
        }
    }

    /// A name shown in events and the summary: not empty, no control characters.
    fn label(&self, key: &str, value: &str) -> Result<(), ConfigError> {
        if value.trim().is_empty() {
            return Err(self.error(key, "is empty"));
        }
        let length = value.chars().count();
        if length > MAX_LABEL_CHARS {
            return Err(self.error(key, format!("is {length} characters long, more than {MAX_LABEL_CHARS}")));
        }
        if value.contains(is_unsafe) {
            return Err(self.error(key, format!("{value:?} holds a control character")));
        }
        Ok(())
    }

    /// The state file's folder must exist (it is written after the first account, not here).
    fn state_file(&self, path: &Path) -> Result<(), ConfigError> {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !folder.is_dir() {
            return Err(self.error(
                "state-file",
                format!(
                    "{}: the folder {} does not exist (create it, or set state-file)",
                    path.display(),
                    folder.display()
                ),
            ));
        }
        if path.is_dir() {
            return Err(self.error("state-file", format!("{} is a folder; name a file in it", path.display())));
        }
        Ok(())
    }

    fn url(&self, key: &str, url: String) -> Result<String, ConfigError> {
        base_url(&url).map_err(|message| self.error(key, format!("{:?}: {message}", url.trim())))
    }

    fn account_uuid(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        self.plain_uuid(key, value.trim().strip_prefix("urn:dtaccount:").unwrap_or(value.trim()))
    }

    fn plain_uuid(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        let value = value.trim();
        let groups: Vec<&str> = value.split('-').collect();
        let shape_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()));
        if shape_ok {
            Ok(value.to_ascii_lowercase())
        } else {
            Err(self.error(key, format!("{value:?} is not a UUID (8-4-4-4-12 hex digits; an account UUID may carry the prefix urn:dtaccount:)")))
        }
    }
}

/// Scheme, host and port of a URL: what the sandbox allows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

/// A base URL as the config gives it to the component: http or https (any case), a host, a port
/// other than 0, no credentials, query or fragment (the component appends paths to it), https
/// unless to loopback; normalised (lower-case scheme and host, no default port, no final `/`).
pub fn base_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|error| format!("not a URL ({error}); expected https://host…"))?;
    let origin = Origin::of(&url)?;
    if url.query().is_some() {
        return Err("a query (`?…`) is not allowed: the paths are appended to this URL".into());
    }
    if url.fragment().is_some() {
        return Err("a fragment (`#…`) is not allowed: the paths are appended to this URL".into());
    }
    if origin.scheme == "http" && !origin.is_loopback() {
        return Err("plain http is allowed only to loopback (127.0.0.1, [::1], localhost); use https".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl Origin {
    pub fn parse(url: &str) -> Result<Origin, String> {
        Origin::of(&url::Url::parse(url).map_err(|error| format!("not a URL ({error}); expected https://host…"))?)
    }

    fn of(url: &url::Url) -> Result<Origin, String> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(format!("scheme {scheme:?} is not http or https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials in the URL are not allowed (name secrets with the -env or -file keys)".into());
        }
        let host = url.host_str().filter(|host| !host.is_empty()).ok_or("no host")?;
        let port = url.port_or_known_default().ok_or("no port")?;
        if port == 0 {
            return Err("port 0 is not a port".into());
        }
        Ok(Origin { scheme: scheme.to_owned(), host: host.to_ascii_lowercase(), port })
    }

    pub fn is_loopback(&self) -> bool {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a";

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn parse(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::parse(text, "dtcost.toml", None, &env(vars))
    }

    const GOOD: &str = r#"
        [target]
        url = "https://abc12345.live.dynatrace.com/"
        api-token-env = "INGEST_TOKEN"

        [[accounts]]
        name = "ACME"
        uuid = "urn:dtaccount:7C0D4F5E-2b1a-4e8f-9a3d-1f2e3d4c5b6a"
        client-id = "dt0s02.ABC"
        client-secret-env = "ACME_SECRET"

        [[clusters]]
        name = "prod"
        url = "https://managed.example.com"
        api-token-env = "CLUSTER_TOKEN"
    "#;

    #[test]
    fn a_full_config_validates_and_normalises() {
        let config = parse(GOOD, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
        assert_eq!(config.accounts[0].uuid, UUID);
        assert_eq!(config.accounts[0].client_secret.expose(), "s1");
        assert_eq!(config.target.url, "https://abc12345.live.dynatrace.com");
        assert_eq!(config.token_url, DEFAULT_TOKEN_URL);
        assert_eq!(config.clusters[0].api_token.expose(), "c1");
    }

    #[test]
    fn errors_name_the_file_the_key_and_the_reason() {
        let error = parse(GOOD, &[("INGEST_TOKEN", "t1"), ("CLUSTER_TOKEN", "c1")]).unwrap_err().to_string();
        assert_eq!(error, "dtcost.toml: accounts[0].client-secret-env: environment variable ACME_SECRET is not set");

        let bad_uuid = GOOD.replace("urn:dtaccount:7C0D4F5E-2b1a-4e8f-9a3d-1f2e3d4c5b6a", "not-a-uuid");
        let error =
            parse(&bad_uuid, &[("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")]).unwrap_err();
        assert_eq!(error.key, "accounts[0].uuid");
        assert!(error.message.contains("not a UUID"), "{error}");

        let http = GOOD.replace("https://managed.example.com", "http://managed.example.com");
        let error = parse(&http, &[("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")]).unwrap_err();
        assert_eq!(error.key, "clusters[0].url");
        assert!(error.message.contains("plain http is allowed only to loopback"), "{error}");
    }

    #[test]
    fn environment_cost_is_opt_in_and_budget_alerts_have_defaults() {
        let vars = [("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")];
        let config = parse(GOOD, &vars).unwrap();
        assert!(!config.accounts[0].environment_cost);
        // Unset: the component's defaults (75, 90, 100 %; 30 days in windows of 30, 2000 rows a
        // day: dtcost_guest::defaults tests them).
        assert_eq!(config.budget_alerting, default_budget_alerting());
        let unset = EnvironmentCostPlan { days: None, window_days: None, page_size: None, max_rows_per_day: None };
        assert_eq!(config.environment_cost, unset);

        let custom = GOOD.replace("[[clusters]]", "environment-cost = true\n[[clusters]]").replace(
            "[target]",
            "[budget]\nthresholds = [50, 80.5]\nforecast-exceeds-budget = false\n\
             [environment-cost]\ndays = 90\nwindow-days = 14\npage-size = 500\nmax-rows-per-day = 5000\n[target]",
        );
        let config = parse(&custom, &vars).unwrap();
        assert!(config.accounts[0].environment_cost);
        assert_eq!(config.budget_alerting.thresholds.as_deref(), Some(&[50.0, 80.5][..]));
        assert_eq!(config.budget_alerting.forecast_exceeds_budget, Some(false));
        let plan = config.environment_cost;
        let set = (plan.days, plan.window_days, plan.page_size, plan.max_rows_per_day);
        assert_eq!(set, (Some(90), Some(14), Some(500), Some(5000)));

        for (bad, key) in [
            ("[budget]\nthresholds = [75, -5]", "budget.thresholds"),
            ("[budget]\nthresholds = [0]", "budget.thresholds"),
            ("[environment-cost]\ndays = 0", "environment-cost.days"),
            ("[environment-cost]\nwindow-days = 365", "environment-cost.window-days"),
            ("[environment-cost]\npage-size = 0", "environment-cost.page-size"),
        ] {
            let error = parse(&GOOD.replace("[target]", &format!("{bad}\n[target]")), &vars).unwrap_err();
            assert_eq!(error.key, key, "{bad}: {error}");
        }
    }

    #[test]
    fn inline_secrets_and_unknown_keys_are_refused_by_name() {
        let inline = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret = \"hunter2\"");
        let error = parse(&inline, &[("INGEST_TOKEN", "t"), ("CLUSTER_TOKEN", "c")]).unwrap_err().to_string();
        assert!(error.contains("unknown field `client-secret`"), "{error}");
        assert!(error.contains("line 10 (client-secret)"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn the_dynatrace_tool_variables_configure_a_single_account() {
        let config = parse(
            "",
            &[
                ("DT_CLIENT_ID", "dt0s02.X"),
                ("DT_CLIENT_SECRET", "sec"),
                ("DT_ACCOUNT_ID", UUID),
                ("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com"),
                ("DT_API_TOKEN", "tok"),
                ("DT_CLUSTER_URL", "https://managed.example.com"),
                ("DT_CLUSTER_API_TOKEN", "ctok"),
            ],
        )
        .unwrap();
        assert_eq!(config.accounts.len(), 1);
        assert_eq!(config.accounts[0].client_id, "dt0s02.X");
        assert_eq!(config.clusters[0].name, "managed.example.com");
        assert!(matches!(&config.target.auth, TargetAuth::ApiToken(t) if t.expose() == "tok"));
    }

    #[test]
    fn an_sso_host_gets_the_token_path() {
        let text = GOOD.replace("[target]", "sso-url = \"http://127.0.0.1:9000/\"\n[target]");
        let config = parse(&text, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
        assert_eq!(config.token_url, "http://127.0.0.1:9000/sso/oauth2/token");
    }

    #[test]
    fn an_empty_config_points_to_the_demo() {
        let error = parse("[target]\nurl = \"https://x.live.dynatrace.com\"\napi-token-env = \"T\"", &[("T", "t")])
            .unwrap_err();
        assert!(error.message.contains("dtcost demo"), "{error}");
    }

    /// The GOOD config with `old` replaced by `new`, and its error's key and message.
    fn refused(old: &str, new: &str, vars: &[(&str, &str)]) -> (String, String) {
        let mut all = vec![("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")];
        all.extend_from_slice(vars);
        assert!(GOOD.contains(old), "{old}");
        let error = parse(&GOOD.replace(old, new), &all).expect_err(new);
        (error.key, error.message)
    }

    #[test]
    fn urls_that_would_fail_at_run_time_are_refused_by_key_and_reason() {
        let target = "url = \"https://abc12345.live.dynatrace.com/\"";
        for (url, reason) in [
            ("https://abc.live.dynatrace.com/?foo", "a query (`?…`) is not allowed"),
            ("https://abc.live.dynatrace.com/#top", "a fragment (`#…`) is not allowed"),
            ("https://abc.live.dynatrace.com:0", "port 0 is not a port"),
            ("https://user:pw@abc.live.dynatrace.com", "credentials in the URL are not allowed"),
            ("HTTP://abc.live.dynatrace.com", "plain http is allowed only to loopback"),
            ("ftp://abc.live.dynatrace.com", "scheme \"ftp\" is not http or https"),
            ("https://", "not a URL"),
            ("abc.live.dynatrace.com", "not a URL"),
        ] {
            let (key, message) = refused(target, &format!("url = \"{url}\""), &[]);
            assert_eq!(key, "target.url", "{url}");
            assert!(message.contains(reason), "{url}: {message}");
        }
        let (key, message) = refused("[target]", "token-url = \"https://sso.example.com?foo\"\n[target]", &[]);
        assert_eq!((key.as_str(), message.contains("query")), ("token-url", true), "{message}");
        let (key, _) = refused("url = \"https://managed.example.com\"", "url = \"https://managed.example.com:0\"", &[]);
        assert_eq!(key, "clusters[0].url");
    }

    #[test]
    fn urls_are_normalised_scheme_and_host_in_any_case() {
        let text = GOOD.replace("https://abc12345.live.dynatrace.com/", "HTTPS://ABC12345.Live.Dynatrace.com:443/");
        let config = parse(&text, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
        assert_eq!(config.target.url, "https://abc12345.live.dynatrace.com");
        let text = GOOD.replace("[target]", "token-url = \"HTTP://LOCALHOST:9000\"\n[target]");
        let config = parse(&text, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
        assert_eq!(config.token_url, "http://localhost:9000/sso/oauth2/token");
    }

    #[test]
    fn secrets_that_are_empty_spaces_or_several_lines_are_refused_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let vars = [("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")];
        for (content, reason) in [
            ("line one\nline two\n", "has more than one line"),
            ("secret\n\n", "has more than one line"),
            ("   \n", "holds only spaces"),
            ("", "is empty"),
            ("\n", "is empty"),
            ("sec\x1bret", "holds a control character"),
            (" secret", "has spaces before or after"),
        ] {
            std::fs::write(dir.path().join("secret"), content).unwrap();
            let text = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret-file = \"secret\"");
            let error = Config::parse(&text, "dtcost.toml", Some(dir.path()), &env(&vars)).unwrap_err();
            assert_eq!(error.key, "accounts[0].client-secret-file", "{content:?}");
            assert!(error.message.contains(reason), "{content:?}: {error}");
        }
        for (good, value) in [("secret\n", "secret"), ("secret\r\n", "secret"), ("secret", "secret")] {
            std::fs::write(dir.path().join("secret"), good).unwrap();
            let text = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret-file = \"secret\"");
            let config = Config::parse(&text, "dtcost.toml", Some(dir.path()), &env(&vars)).unwrap();
            assert_eq!(config.accounts[0].client_secret.expose(), value);
        }
    }

    #[test]
    fn a_variable_that_is_set_but_empty_is_reported_as_such() {
        let error = parse(GOOD, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", ""), ("CLUSTER_TOKEN", "c1")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "dtcost.toml: accounts[0].client-secret-env: environment variable ACME_SECRET is set but empty"
        );
        let error = parse(
            GOOD,
            &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1"), ("DT_CLUSTER_URL", "")],
        );
        assert!(error.is_ok(), "DT_CLUSTER_URL is not read when the file has clusters");
        let error = parse("", &[("DT_ENVIRONMENT_URL", "")]).unwrap_err();
        assert_eq!(
            (error.key.as_str(), error.message.as_str()),
            ("DT_ENVIRONMENT_URL", "is set but empty: give it a value, or unset it")
        );
        let target = [("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com"), ("DT_API_TOKEN", "tok")];
        let error = parse("", &[target[0], target[1], ("DT_ACCOUNT_ID", "")]).unwrap_err();
        assert_eq!(error.key, "DT_ACCOUNT_ID", "{error}");
    }

    #[test]
    fn an_account_from_the_environment_alone_names_the_variables() {
        let vars = [
            ("DT_CLIENT_ID", "dt0s02.X"),
            ("DT_CLIENT_SECRET", "sec"),
            ("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com"),
            ("DT_API_TOKEN", "tok"),
        ];
        let error = parse("", &vars).unwrap_err();
        assert_eq!(error.key, "DT_ACCOUNT_ID", "{error}");
        let mut with_bad_uuid = vars.to_vec();
        with_bad_uuid.push(("DT_ACCOUNT_ID", "not-a-uuid"));
        let error = parse("", &with_bad_uuid).unwrap_err();
        assert_eq!(error.key, "DT_ACCOUNT_ID", "{error}");
        assert!(error.message.contains("is not a UUID"), "{error}");
        let mut bad_url = vars.to_vec();
        bad_url.retain(|(k, _)| *k != "DT_ENVIRONMENT_URL");
        bad_url.extend([("DT_ACCOUNT_ID", UUID), ("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com?x")]);
        assert_eq!(parse("", &bad_url).unwrap_err().key, "DT_ENVIRONMENT_URL");
    }

    #[test]
    fn names_and_the_provider_must_be_printable_and_not_empty() {
        for (old, new, key) in [
            ("name = \"ACME\"", "name = \"\"", "accounts[0].name"),
            ("name = \"ACME\"", "name = \"  \"", "accounts[0].name"),
            ("name = \"ACME\"", "name = \"ok\\u001b[2K\\rok     account X\"", "accounts[0].name"),
            ("name = \"prod\"", "name = \"pr\\nod\"", "clusters[0].name"),
            ("[target]", "provider = \"\"\n[target]", "provider"),
            ("[target]", "provider = \"a\\u0007\"\n[target]", "provider"),
        ] {
            let (error_key, message) = refused(old, new, &[]);
            assert_eq!(error_key, key, "{new}: {message}");
        }
    }

    #[test]
    fn a_provider_or_name_over_256_characters_and_a_secret_over_8_kib_are_refused_by_key() {
        let (key, message) = refused("[target]", &format!("provider = \"{}\"\n[target]", "p".repeat(6 << 20)), &[]);
        assert_eq!(key, "provider", "{message}");
        assert!(message.contains("is 6291456 characters long, more than 256"), "{message}");
        let (key, _) = refused("name = \"ACME\"", &format!("name = \"{}\"", "n".repeat(257)), &[]);
        assert_eq!(key, "accounts[0].name");
        let longest = GOOD.replace("name = \"ACME\"", &format!("name = \"{}\"", "n".repeat(256)));
        assert!(parse(&longest, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).is_ok());

        let huge = "s".repeat(MAX_SECRET_BYTES + 1);
        let error =
            parse(GOOD, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", &huge), ("CLUSTER_TOKEN", "c1")]).unwrap_err();
        assert_eq!(error.key, "accounts[0].client-secret-env");
        assert!(error.message.contains("holds 8193 bytes, more than a secret's 8192"), "{error}");
        assert!(!error.message.contains("sss"), "the secret is not shown: {error}");
    }

    #[test]
    fn a_state_file_in_a_missing_folder_is_refused() {
        let (key, message) = refused("[target]", "state-file = \"/nonexistent-dtcost/state.json\"\n[target]", &[]);
        assert_eq!(key, "state-file");
        assert!(message.contains("the folder /nonexistent-dtcost does not exist"), "{message}");
    }

    #[test]
    fn two_accounts_with_one_uuid_are_refused_naming_both() {
        let second = "\n[[accounts]]\nname = \"ACME again\"\nuuid = \"7c0d4f5e-2B1A-4e8f-9a3d-1f2e3d4c5b6a\"\n\
                      client-id = \"dt0s02.DEF\"\nclient-secret-env = \"ACME_SECRET\"\n[[clusters]]";
        let (key, message) = refused("[[clusters]]", second, &[]);
        assert_eq!(key, "accounts[1].uuid");
        assert!(
            message.contains("accounts[0] (\"ACME\") and accounts[1] (\"ACME again\") are the same account"),
            "{message}"
        );
    }

    #[test]
    fn two_clusters_with_one_url_are_refused_naming_both() {
        let second = "api-token-env = \"CLUSTER_TOKEN\"\n[[clusters]]\nname = \"prod again\"\n\
                      url = \"HTTPS://Managed.Example.com:443/\"\napi-token-env = \"CLUSTER_TOKEN\"";
        let (key, message) = refused("api-token-env = \"CLUSTER_TOKEN\"", second, &[]);
        assert_eq!(key, "clusters[1].url");
        assert!(
            message.contains("clusters[0] (\"prod\") and clusters[1] (\"prod again\") are the same cluster"),
            "{message}"
        );
    }

    #[test]
    fn origins_know_default_ports_and_loopback() {
        assert_eq!(Origin::parse("https://api.dynatrace.com/sub").unwrap().port, 443);
        let local = Origin::parse("http://[::1]:8080").unwrap();
        assert_eq!((local.host.as_str(), local.port, local.is_loopback()), ("[::1]", 8080, true));
        assert!(Origin::parse("http://127.0.0.1:9").unwrap().is_loopback());
        assert!(!Origin::parse("http://10.0.0.1").unwrap().is_loopback());
        assert!(Origin::parse("https://user:pw@host").is_err());
        assert!(Origin::parse("ftp://host").is_err());
    }
}
