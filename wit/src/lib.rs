//! The contract's constants: values `exporter.wit` names in its documentation but cannot hold,
//! since WIT has no constants. Guest and host both take them from here, so neither links the
//! other and each value is written once.

/// The SSO token endpoint (`account-plan.client.token-url` and `ingest-target` OAuth default).
pub const TOKEN_URL: &str = "https://sso.dynatrace.com/sso/oauth2/token";
/// The Account Management API (`account-plan.api-url` default).
pub const API_URL: &str = "https://api.dynatrace.com";
/// `event.provider` of every event (the walk-through's).
pub const PROVIDER: &str = "dps4ma.ingester";
/// The largest ingest request body: the business events API's own cap, 5 MB
/// (`ingest-target.max-batch-bytes` when none).
pub const MAX_BATCH_BYTES: u32 = 5_000_000;
/// The first retry's delay when `retry-policy.initial-delay-ms` is none (the OpenTelemetry
/// Collector exporter's 5 s).
pub const RETRY_INITIAL_DELAY_MS: u32 = 5_000;

pub mod untrusted;

/// The `wasi:config/store` keys a host fills in for an instance: each holds one secret.
pub mod config_keys {
    /// The account's OAuth client secret (account jobs).
    pub const ACCOUNT_CLIENT_SECRET: &str = "account-client-secret";
    /// The ingest target's API token, when it uses one.
    pub const TARGET_API_TOKEN: &str = "target-api-token";
    /// The ingest target's OAuth client secret, when it uses one.
    pub const TARGET_CLIENT_SECRET: &str = "target-client-secret";
    /// The Managed cluster's API token (cluster jobs).
    pub const CLUSTER_API_TOKEN: &str = "cluster-api-token";
}
