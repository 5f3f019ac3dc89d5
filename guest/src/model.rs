//! Plain Rust twins of the WIT records (`wit/exporter.wit`), so that all logic is testable natively.
//! The wasm boundary (`component.rs`) converts between these and the generated bindings.

pub use crate::http::RetryPolicy;

#[derive(Debug, Clone, PartialEq)]
pub struct EventContext {
    pub provider: String,
    pub account_uuid: String,
    pub account_name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub total: f64,
    pub used: f64,
    pub currency_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub start_time: String,
    pub end_time: String,
    pub days_remaining: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub uuid: String,
    pub name: String,
    pub kind: String,
    pub sub_type: Option<String>,
    pub status: String,
    pub owner_account_uuid: Option<String>,
    pub budget: Budget,
    pub current_period: Period,
}

/// An entry of the subscription list: enough to choose one.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSummary {
    pub uuid: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub start_time: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CostRecord {
    pub start_time: String,
    pub end_time: String,
    pub value: f64,
    pub currency_code: String,
    pub last_booking_date: Option<String>,
}

/// The `usageStatus` values the cluster license documentation lists. Others pass through as text.
pub const DOCUMENTED_USAGE_STATUSES: [&str; 4] =
    ["USING_QUOTA", "QUOTA_REACHED", "USING_OVERAGE", "OVERAGE_QUOTA_REACHED"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OverageUsage {
    pub overage_quota: Option<f64>,
    pub overage_usage: Option<f64>,
    pub overage_usage_percent: Option<f64>,
    pub remaining_overage: Option<f64>,
    pub remaining_overage_percent: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnitUsage {
    pub quota: Option<f64>,
    pub usage: Option<f64>,
    pub usage_percent: Option<f64>,
    pub remaining: Option<f64>,
    pub remaining_percent: Option<f64>,
    /// As the API spells it; values the docs do not list pass through.
    pub usage_status: Option<String>,
    pub overage: Option<OverageUsage>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterLicense {
    pub cluster_id: Option<String>,
    pub account_name: Option<String>,
    pub license_name: Option<String>,
    pub license_type: Option<String>,
    pub license_status: Option<String>,
    pub license_expiration_time: Option<String>,
    pub last_billing_time: Option<String>,
    pub product_version: Option<String>,
    pub host_units: Option<UnitUsage>,
    pub dem_units: Option<UnitUsage>,
    pub ddu_units: Option<UnitUsage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentCost {
    pub cluster_id: Option<String>,
    pub environment_id: String,
    pub capability_key: String,
    pub capability_name: String,
    pub start_time: String,
    pub end_time: String,
    pub value: f64,
    pub currency_code: String,
    pub booking_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountForecast {
    pub median: f64,
    pub lower: f64,
    pub upper: f64,
    pub budget: f64,
    pub budget_percent: f64,
    pub budget_date: Option<String>,
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunFigures {
    pub accounts_ok: u32,
    pub accounts_failed: u32,
    pub clusters_ok: u32,
    pub clusters_failed: u32,
    pub records_read: u32,
    pub events_built: u32,
    pub events_sent: u32,
    pub events_accepted: u32,
    pub events_rejected: u32,
    pub events_skipped: u32,
    pub requests: u32,
    pub retries: u32,
    pub throttled: u32,
    pub unattributed_days: u32,
    pub budget_alerts: u32,
    pub concurrency_reached: u32,
    pub duration_ms: u64,
    pub newest_cost_day: Option<String>,
    pub dry_run: bool,
    pub version: String,
}

/// A record a transform refuses: which field, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidRecord {
    pub field: String,
    pub message: String,
}

impl InvalidRecord {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OAuthClient {
    pub client_id: String,
    pub token_url: String,
    pub account_uuid: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TargetAuth {
    ApiToken,
    OAuth(OAuthClient),
}

#[derive(Debug, Clone, PartialEq)]
pub struct IngestTarget {
    pub environment_url: String,
    pub auth: TargetAuth,
    pub provider: String,
    pub max_batch_bytes: u32,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryState {
    pub subscription_uuid: String,
    pub frozen_before: Option<String>,
    pub sent: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountState {
    pub cost: Option<DeliveryState>,
    pub environment_cost: Option<DeliveryState>,
}

/// A subscription's status event and the budget alerts its outlook raises, built but not sent
/// (the WIT `subscription-outlook`): the host sends one per subscription per run.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionOutlook {
    pub subscription_uuid: String,
    pub period_start: String,
    pub status_event: String,
    pub alerts: Vec<crate::budget::Alert>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnvironmentCostPlan {
    pub days: u32,
    pub window_days: u32,
    pub page_size: Option<u32>,
    /// Most rows (environment x capability) one day may have: bounds the walk.
    pub max_rows_per_day: u32,
}

/// The default [`EnvironmentCostPlan::max_rows_per_day`]: 100 environments x 20 capabilities.
/// Large accounts have tens of environments and DPS bills about 20 capabilities, so a real day
/// stays well below it; 30 days of it (60,000 rows, 60,000 events) are read and delivered within
/// the instance's default 128 MB (`a_walk_at_its_row_bound_is_delivered_within_the_default_memory`).
pub const DEFAULT_MAX_ROWS_PER_DAY: u32 = 2_000;

impl Default for EnvironmentCostPlan {
    /// The last 30 days (dtctl's default), walked in windows of 30 days (long walks of the v3
    /// endpoint are known to fail with 502s), with the API's own page size, at most
    /// [`DEFAULT_MAX_ROWS_PER_DAY`] rows a day.
    fn default() -> Self {
        EnvironmentCostPlan { days: 30, window_days: 30, page_size: None, max_rows_per_day: DEFAULT_MAX_ROWS_PER_DAY }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetAlerting {
    pub thresholds: Vec<f64>,
    pub forecast_exceeds_budget: bool,
}

impl Default for BudgetAlerting {
    /// 75, 90 and 100 % of the budget, and a forecast above it.
    fn default() -> Self {
        BudgetAlerting { thresholds: vec![75.0, 90.0, 100.0], forecast_exceeds_budget: true }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountPlan {
    pub name: String,
    pub uuid: String,
    pub client: OAuthClient,
    pub api_url: String,
    pub subscription: Option<String>,
    pub read_at: String,
    pub target: IngestTarget,
    pub retry: RetryPolicy,
    pub state: Option<AccountState>,
    pub window_days: u32,
    pub environment_cost: Option<EnvironmentCostPlan>,
    pub budget_alerting: BudgetAlerting,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClusterPlan {
    pub name: String,
    pub url: String,
    pub read_at: String,
    pub target: IngestTarget,
    pub retry: RetryPolicy,
}

/// What kind of failure a request met (the WIT `failure-kind`): hints and decisions follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Denied,
    Dns,
    Connection,
    Timeout,
    Tls,
    TooLarge,
    Unauthorized,
    TokenExpired,
    Forbidden,
    NotFound,
    Throttled,
    ServerError,
    HttpStatus,
    LimitExceeded,
    Other,
}

impl FailureKind {
    /// The kind of an HTTP status the caller could not use (a 401 is [`FailureKind::Unauthorized`]
    /// unless the client knows the token was stale).
    pub fn of_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            429 => Self::Throttled,
            500..=599 => Self::ServerError,
            _ => Self::HttpStatus,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestFailure {
    pub request: String,
    pub kind: FailureKind,
    pub status: Option<u16>,
    pub message: String,
    pub events_not_sent: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RejectedEvent {
    pub event_id: String,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub subject: String,
    pub subscription_uuid: Option<String>,
    pub subscription_outlook: Option<SubscriptionOutlook>,
    pub notes: Vec<String>,
    pub records_read: u32,
    pub events_built: u32,
    pub events_sent: u32,
    pub events_accepted: u32,
    pub events_skipped: u32,
    pub requests: u32,
    pub retries: u32,
    pub throttled: u32,
    pub failures: Vec<RequestFailure>,
    pub rejected: Vec<RejectedEvent>,
    pub newest_day: Option<String>,
    pub reconciliation: Option<Reconciliation>,
    pub alerts: Vec<String>,
    pub events: Vec<String>,
    pub state: Option<AccountState>,
}

impl Report {
    /// Adds what another job did for the same subject (its counts, failures, refusals, events).
    pub fn absorb(&mut self, other: Report) {
        self.records_read += other.records_read;
        self.events_built += other.events_built;
        self.events_sent += other.events_sent;
        self.events_accepted += other.events_accepted;
        self.events_skipped += other.events_skipped;
        self.requests += other.requests;
        self.retries += other.retries;
        self.throttled += other.throttled;
        self.failures.extend(other.failures);
        self.rejected.extend(other.rejected);
        self.events.extend(other.events);
        self.notes.extend(other.notes);
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciliation {
    pub days_compared: u32,
    pub days_unattributed: u32,
    pub unattributed: f64,
    pub currency: String,
}

/// The SSO refused to issue a token (the WIT `authentication-failure`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticationFailure {
    pub request: String,
    pub status: u16,
    /// The OAuth 2.0 `error` code; `None` when the answer was no OAuth error at all.
    pub oauth_error: Option<String>,
    pub message: String,
}

/// Why a job could not run at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("missing config: {0}")]
    MissingConfig(String),
    #[error("{} answered HTTP {}: {}", .0.request, .0.status, .0.message)]
    Authentication(AuthenticationFailure),
    #[error("no subscription: {0}")]
    NoSubscription(String),
    #[error("{} failed{}: {}", .0.request, .0.status.map(|s| format!(" with HTTP {s}")).unwrap_or_default(), .0.message)]
    Request(RequestFailure),
    #[error("invalid response: {0}")]
    InvalidResponse(String),
}
