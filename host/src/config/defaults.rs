//! Budget alerts as the configuration leaves them: nothing set, so the component fills in its
//! defaults (75, 90 and 100 % used; the forecast over budget; see the WIT `budget-alerting`).

use crate::wit::BudgetAlerting;

/// Budget alerts as the component has them by default (the WIT `budget-alerting`, nothing set).
pub fn default_budget_alerting() -> BudgetAlerting {
    BudgetAlerting { thresholds: None, forecast_exceeds_budget: None }
}
