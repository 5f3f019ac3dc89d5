//! The component's defaults for what a plan leaves unset, written once (the WIT documents them).

use crate::wit::{BudgetAlerting, EnvironmentCostPlan, RetryPolicy};

/// The SSO token endpoint.
pub const TOKEN_URL: &str = "https://sso.dynatrace.com/sso/oauth2/token";
/// The Account Management API.
pub const API_URL: &str = "https://api.dynatrace.com";
/// `event.provider` of every event (the walk-through's).
pub const PROVIDER: &str = "dps4ma.ingester";
/// Days of cost compared with what was sent and re-sent when changed (late bookings).
pub const WINDOW_DAYS: u32 = 35;
/// The largest ingest request body: the bizevents API's own cap, 5 MB.
pub const MAX_BATCH_BYTES: u32 = 5_000_000;

/// The default [`EnvironmentCostPlan::max_rows_per_day`]: 100 environments x 20 capabilities.
/// Large accounts have tens of environments and DPS bills about 20 capabilities, so a real day
/// stays well below it; 30 days of it (60,000 rows, 60,000 events) are read and delivered within
/// the instance's default 128 MB (`a_walk_at_its_row_bound_is_delivered_within_the_default_memory`).
pub const MAX_ROWS_PER_DAY: u32 = 2_000;

impl Default for RetryPolicy {
    /// The OpenTelemetry Collector exporter's: 5 s, x1.5, at most 30 s, give up after 300 s.
    fn default() -> Self {
        RetryPolicy {
            initial_delay_ms: 5_000,
            max_delay_ms: 30_000,
            multiplier: 1.5,
            max_elapsed_ms: 300_000,
            // The first byte of a large v3 page can take a minute on a busy tenant; a whole
            // answer taking two is a server or a network in trouble.
            attempt_timeout_ms: 120_000,
        }
    }
}

impl Default for EnvironmentCostPlan {
    /// The last 30 days (dtctl's default), walked in windows of 30 days (long walks of the v3
    /// endpoint are known to fail with 502s), with the API's own page size, at most
    /// [`MAX_ROWS_PER_DAY`] rows a day.
    fn default() -> Self {
        EnvironmentCostPlan { days: 30, window_days: 30, page_size: None, max_rows_per_day: MAX_ROWS_PER_DAY }
    }
}

impl Default for BudgetAlerting {
    /// 75, 90 and 100 % of the budget, and a forecast above it.
    fn default() -> Self {
        BudgetAlerting { thresholds: vec![75.0, 90.0, 100.0], forecast_exceeds_budget: true }
    }
}
