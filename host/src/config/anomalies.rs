//! The `[anomalies]` table: which cost anomalies each account reports (the WIT `anomaly-plan`;
//! a key left out takes the component's default).

use super::ConfigError;
use super::raw::RawAnomalies;
use super::validate::Validator;
use crate::wit::AnomalyPlan;

/// Anomalies as the component has them by default (the WIT `anomaly-plan`, nothing set).
pub fn default_anomaly_plan() -> AnomalyPlan {
    AnomalyPlan { enabled: None, days: None, week_over_week_percent: None, minimum_amount: None }
}

impl Validator<'_> {
    pub(super) fn anomalies(&self, raw: &RawAnomalies) -> Result<AnomalyPlan, ConfigError> {
        if let Some(days) = raw.days
            && !(1..=400).contains(&days)
        {
            return Err(self.error("anomalies.days", format!("{days} is out of range (1 to 400)")));
        }
        if let Some(percent) = raw.week_over_week_percent
            && !(percent.is_finite() && (0.0..=1000.0).contains(&percent))
        {
            return Err(
                self.error("anomalies.week-over-week-percent", format!("{percent} is out of range (0 to 1000)"))
            );
        }
        if let Some(amount) = raw.minimum_amount
            && !(amount.is_finite() && amount >= 0.0)
        {
            return Err(self.error(
                "anomalies.minimum-amount",
                format!("{amount} is not an amount of money (0 or more, in the subscription's currency)"),
            ));
        }
        Ok(AnomalyPlan {
            enabled: raw.enabled,
            days: raw.days,
            week_over_week_percent: raw.week_over_week_percent,
            minimum_amount: raw.minimum_amount,
        })
    }
}
