//! Validation of the raw configuration into `Config`: ranges, defaults, the state file, and no
//! account or cluster twice. The entries (target, accounts, clusters) are in entries.rs, the
//! single values (secrets, URLs, UUIDs, names) in values.rs.

use std::path::{Path, PathBuf};

use super::raw::{RawAccount, RawBudget, RawCluster, RawConfig, RawEnvironmentCost, RawRetry, RawUsage};
use super::{
    Config, ConfigError, DEFAULT_API_URL, DEFAULT_CONCURRENCY, DEFAULT_PROVIDER, DEFAULT_TOKEN_URL, Environment,
    Limits, TOKEN_PATH,
};
use crate::wit::{BudgetAlerting, EnvironmentCostPlan, RetryPolicy, UsagePlan};

pub struct Validator<'a> {
    pub source_name: &'a str,
    pub base_dir: Option<&'a Path>,
    pub env: &'a dyn Environment,
}

impl Validator<'_> {
    pub(super) fn error(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { source_name: self.source_name.to_owned(), key: key.into(), message: message.into() }
    }

    pub fn validate(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let mut token_url = self.url("token-url", raw.token_url.unwrap_or_else(|| DEFAULT_TOKEN_URL.into()))?;
        // A bare SSO host (no path) gets the token endpoint's.
        if url::Url::parse(&token_url).is_ok_and(|url| url.path() == "/") {
            token_url.push_str(TOKEN_PATH);
        }
        let api_url = self.url("api-url", raw.api_url.unwrap_or_else(|| DEFAULT_API_URL.into()))?;
        // The most at once; the account exports adapt up to it (see concurrency.rs), and the
        // connections to each origin never exceed it (outbound.rs).
        let concurrency = raw.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
        if !(1..=64).contains(&concurrency) {
            return Err(self.error("concurrency", format!("{concurrency} is out of range (1 to 64)")));
        }
        let retry = self.retry(&raw.retry)?;
        // Unset stays unset here and below: the component fills in its defaults (see the WIT).
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
            && !(1024..=dtcost_contract::MAX_BATCH_BYTES).contains(&max_batch_bytes)
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
        let usage = self.usage(&raw.usage)?;
        let budget_alerting = self.budget(raw.budget)?;
        let anomalies = self.anomalies(&raw.anomalies)?;
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
            usage,
            budget_alerting,
            anomalies,
            target,
            accounts,
            clusters,
        })
    }

    fn retry(&self, raw: &RawRetry) -> Result<RetryPolicy, ConfigError> {
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
            let initial = retry.initial_delay_ms.unwrap_or(dtcost_contract::RETRY_INITIAL_DELAY_MS);
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

    fn usage(&self, raw: &RawUsage) -> Result<UsagePlan, ConfigError> {
        if let Some(days) = raw.days
            && !(1..=400).contains(&days)
        {
            return Err(self.error("usage.days", format!("{days} is out of range (1 to 400)")));
        }
        Ok(UsagePlan { days: raw.days })
    }

    fn budget(&self, raw: RawBudget) -> Result<BudgetAlerting, ConfigError> {
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
    pub(super) fn relative(&self, path: PathBuf) -> PathBuf {
        match self.base_dir {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        }
    }
}
