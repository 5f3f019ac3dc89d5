//! The configuration as written: TOML read by serde into loose records (every key optional,
//! unknown keys refused); a syntax or type error names the key path and the line.

use std::path::PathBuf;

use serde::Deserialize;

/// Why the TOML text was not read: the key (its path, and the line) and what was wrong.
#[derive(Debug)]
pub struct RawError {
    pub key: String,
    pub message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawConfig {
    /// The SSO token endpoint; a bare SSO host gets the standard path.
    #[serde(alias = "sso-url")]
    pub token_url: Option<String>,
    pub api_url: Option<String>,
    pub provider: Option<String>,
    pub concurrency: Option<usize>,
    pub max_batch_bytes: Option<u32>,
    pub state_file: Option<PathBuf>,
    pub window_days: Option<u32>,
    #[serde(default)]
    pub retry: RawRetry,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub environment_cost: RawEnvironmentCost,
    #[serde(default)]
    pub usage: RawUsage,
    #[serde(default)]
    pub budget: RawBudget,
    #[serde(default)]
    pub anomalies: RawAnomalies,
    #[serde(default)]
    pub target: RawTarget,
    #[serde(default)]
    pub accounts: Vec<RawAccount>,
    #[serde(default)]
    pub clusters: Vec<RawCluster>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawRetry {
    pub initial_delay_ms: Option<u32>,
    pub max_delay_ms: Option<u32>,
    pub multiplier: Option<f64>,
    pub max_elapsed_seconds: Option<u32>,
    pub attempt_timeout_seconds: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawEnvironmentCost {
    pub days: Option<u32>,
    pub window_days: Option<u32>,
    pub page_size: Option<u32>,
    pub max_rows_per_day: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawUsage {
    pub days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawBudget {
    pub thresholds: Option<Vec<f64>>,
    pub forecast_exceeds_budget: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawAnomalies {
    pub enabled: Option<bool>,
    pub days: Option<u32>,
    pub week_over_week_percent: Option<f64>,
    pub minimum_amount: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawLimits {
    pub memory_mb: Option<usize>,
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawTarget {
    pub url: Option<String>,
    pub api_token_env: Option<String>,
    pub api_token_file: Option<PathBuf>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub account_uuid: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawAccount {
    pub name: Option<String>,
    pub uuid: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    pub subscription: Option<String>,
    pub environment_cost: Option<bool>,
    pub usage: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RawCluster {
    pub name: Option<String>,
    pub url: Option<String>,
    pub api_token_env: Option<String>,
    pub api_token_file: Option<PathBuf>,
}

impl RawConfig {
    /// Reads TOML text. Errors name the key path (`accounts[0]`) and the line it is on, never a
    /// value of a key that names a secret, nor a line that could not be parsed (it may be a
    /// secret pasted on a line of its own).
    pub fn parse(text: &str) -> Result<RawConfig, RawError> {
        let document = toml::Deserializer::parse(text).map_err(|error| RawError {
            key: error.span().map(|span| line_at(text, span.start)).unwrap_or_else(|| "(syntax)".into()),
            message: error.message().trim().to_owned(),
        })?;
        serde_path_to_error::deserialize(document).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let line = inner.span().map(|span| line_at(text, span.start));
            let message = inner.message().trim();
            let message = if names_a_secret(&path) { without_values(message) } else { message.to_owned() };
            let key = match (path.as_str(), line) {
                (".", Some(line)) => line,
                (".", None) => "(syntax)".to_owned(),
                (path, Some(line)) => format!("{path} at {line}"),
                (path, None) => path.to_owned(),
            };
            RawError { key, message }
        })
    }
}

/// The line of TOML text at `offset`, and its key when the line has one (`line 7 (concurrency)`):
/// never the line itself, which may be a secret pasted on its own.
fn line_at(text: &str, offset: usize) -> String {
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("").trim();
    let line_number = text[..line_start].matches('\n').count() + 1;
    match line.split_once('=').map(|(key, _)| key.trim()) {
        Some(key) if is_bare_key(key) => format!("line {line_number} ({key})"),
        _ => format!("line {line_number}"),
    }
}

/// A key as the config's keys are written: dotted bare keys (`limits.memory-mb`), no quotes.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key.split('.').all(|part| {
            let part = part.trim();
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Whether the key at `path` (`accounts[0].client-secret-env`) names or holds a secret.
fn names_a_secret(path: &str) -> bool {
    let key = path.rsplit('.').next().unwrap_or(path);
    key.contains("secret") || key.contains("api-token")
}

/// A serde message without the value it quotes (`invalid type: integer \`12345\`, expected a
/// string` becomes `invalid type: integer (value not shown), expected a string`); the names in
/// other messages (`unknown field \`client-secret\``) are dtcost's words, kept.
fn without_values(message: &str) -> String {
    static QUOTED: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r#"`[^`]*`|"(?:[^"\\]|\\.)*""#).expect("a valid pattern"));
    // serde's messages that quote the value they got: it is their first quoted part.
    if ["invalid type", "invalid value", "invalid length", "unknown variant"].iter().any(|m| message.starts_with(m)) {
        return QUOTED.replace(message, "(value not shown)").into_owned();
    }
    message.to_owned()
}
