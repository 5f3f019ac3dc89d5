//! The component's own defaults for what the configuration may leave out (retry, environment
//! cost, budget alerts), as the WIT records the plans carry.

use crate::runtime::{BudgetAlerting, EnvironmentCostPlan, RetryPolicy};

/// The component's own retry defaults (the OpenTelemetry Collector exporter's: 5 s, x1.5, at most
/// 30 s, give up after 300 s), as the WIT `retry-policy` the plans carry.
pub fn default_retry() -> RetryPolicy {
    let defaults = dtcost_guest::http::RetryPolicy::default();
    RetryPolicy {
        initial_delay_ms: defaults.initial_delay_ms,
        max_delay_ms: defaults.max_delay_ms,
        multiplier: defaults.multiplier,
        max_elapsed_ms: defaults.max_elapsed_ms,
        attempt_timeout_ms: defaults.attempt_timeout_ms,
    }
}

/// The component's defaults for reading cost per environment, as the WIT `environment-cost-plan`.
pub fn default_environment_cost() -> EnvironmentCostPlan {
    let defaults = dtcost_guest::model::EnvironmentCostPlan::default();
    EnvironmentCostPlan {
        days: defaults.days,
        window_days: defaults.window_days,
        page_size: defaults.page_size,
        max_rows_per_day: defaults.max_rows_per_day,
    }
}

/// The component's default budget alerts (75, 90 and 100 % used; the forecast over budget), as
/// the WIT `budget-alerting`.
pub fn default_budget_alerting() -> BudgetAlerting {
    let defaults = dtcost_guest::model::BudgetAlerting::default();
    BudgetAlerting { thresholds: defaults.thresholds, forecast_exceeds_budget: defaults.forecast_exceeds_budget }
}
