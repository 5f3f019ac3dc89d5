//! The component's defaults, written once: what a plan leaves `none` (the WIT documents each on
//! its field) and the values dtcost's host and `wasi:cli/run` start from (URLs, provider).

use crate::wit::{AccountPlan, AnomalyPlan, BudgetAlerting, EnvironmentCostPlan, IngestTarget, RetryPolicy, UsagePlan};

pub use dtcost_contract::{API_URL, MAX_BATCH_BYTES, PROVIDER, TOKEN_URL};

impl RetryPolicy {
    /// The OpenTelemetry Collector exporter's defaults: 5 s, x1.5, at most 30 s, give up after
    /// 300 s, 120 s an attempt.
    pub fn initial_delay_ms(&self) -> u32 {
        self.initial_delay_ms.unwrap_or(dtcost_contract::RETRY_INITIAL_DELAY_MS)
    }

    pub fn max_delay_ms(&self) -> u32 {
        self.max_delay_ms.unwrap_or(30_000)
    }

    pub fn multiplier(&self) -> f64 {
        self.multiplier.unwrap_or(1.5)
    }

    pub fn max_elapsed_ms(&self) -> u32 {
        self.max_elapsed_ms.unwrap_or(300_000)
    }

    /// The first byte of a large v3 page can take a minute on a busy tenant; a whole answer
    /// taking two is a server or a network in trouble.
    pub fn attempt_timeout_ms(&self) -> u32 {
        self.attempt_timeout_ms.unwrap_or(120_000)
    }
}

impl EnvironmentCostPlan {
    /// The last 30 days (dtctl's default).
    pub fn days(&self) -> u32 {
        self.days.unwrap_or(30)
    }

    /// Windows of 30 days: long walks of the v3 endpoint are known to fail with 502s.
    pub fn window_days(&self) -> u32 {
        self.window_days.unwrap_or(30)
    }

    /// 100 environments x 20 capabilities. Large accounts have tens of environments and DPS
    /// bills about 20 capabilities, so a real day stays well below it; 30 days of it (60,000
    /// rows, 60,000 events) are read and delivered within the instance's default 128 MB
    /// (`a_walk_at_its_row_bound_is_delivered_within_the_default_memory`).
    pub fn max_rows_per_day(&self) -> u32 {
        self.max_rows_per_day.unwrap_or(2_000)
    }
}

impl UsagePlan {
    /// The last 30 days, as environment cost: the days whose usage, prices and totals are compared.
    pub fn days(&self) -> u32 {
        self.days.unwrap_or(30)
    }
}

impl BudgetAlerting {
    /// 75, 90 and 100 % of the budget used.
    pub fn thresholds(&self) -> &[f64] {
        self.thresholds.as_deref().unwrap_or(&[75.0, 90.0, 100.0])
    }

    /// A forecast above the budget alerts too.
    pub fn forecast_exceeds_budget(&self) -> bool {
        self.forecast_exceeds_budget.unwrap_or(true)
    }
}

impl AnomalyPlan {
    /// Anomalies are reported unless switched off.
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// The cost window's default: five weeks, so that the last five weeks' findings, whole
    /// week-over-week weeks included, are reported, and a first run on a year of history is not
    /// a year of warnings.
    pub fn days(&self) -> u32 {
        self.days.unwrap_or(35)
    }

    /// 10 %, the default of Dynatrace's cost monitors.
    pub fn week_over_week_percent(&self) -> f64 {
        self.week_over_week_percent.unwrap_or(10.0)
    }
}

impl AccountPlan {
    /// Days of cost compared with what was sent and re-sent when changed (late bookings).
    pub fn window_days(&self) -> u32 {
        self.window_days.unwrap_or(35)
    }
}

impl IngestTarget {
    /// The API's cap, and never more (nor under 1 kB).
    pub fn max_batch_bytes(&self) -> u32 {
        self.max_batch_bytes.unwrap_or(MAX_BATCH_BYTES).clamp(1024, MAX_BATCH_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_plan_fields_take_the_documented_defaults() {
        let retry = RetryPolicy::default();
        let delays = (retry.initial_delay_ms(), retry.max_delay_ms(), retry.multiplier());
        assert_eq!(delays, (5_000, 30_000, 1.5));
        assert_eq!((retry.max_elapsed_ms(), retry.attempt_timeout_ms()), (300_000, 120_000));
        let environment = EnvironmentCostPlan::default();
        assert_eq!((environment.days(), environment.window_days(), environment.max_rows_per_day()), (30, 30, 2_000));
        assert_eq!(environment.page_size, None);
        assert_eq!(UsagePlan::default().days(), 30);
        let alerting = BudgetAlerting::default();
        assert_eq!((alerting.thresholds(), alerting.forecast_exceeds_budget()), (&[75.0, 90.0, 100.0][..], true));
        let anomalies = AnomalyPlan::default();
        assert_eq!((anomalies.enabled(), anomalies.days(), anomalies.week_over_week_percent()), (true, 35, 10.0));
        assert_eq!(anomalies.minimum_amount, None);
    }

    #[test]
    fn set_plan_fields_are_kept() {
        let retry = RetryPolicy { max_elapsed_ms: Some(0), ..RetryPolicy::default() };
        assert_eq!(retry.max_elapsed_ms(), 0, "0 disables retries, it is not unset");
        let alerting = BudgetAlerting { thresholds: Some(vec![50.0]), forecast_exceeds_budget: Some(false) };
        assert_eq!((alerting.thresholds(), alerting.forecast_exceeds_budget()), (&[50.0][..], false));
    }
}
