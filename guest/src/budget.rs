//! Where a subscription's period is heading (share of the budget used, burn rate, dtcost's
//! forecast of the period's end; the model is in [`crate::forecast`]) and the budget alerts that
//! raises.

use serde::Serialize;

use crate::error::InvalidRecord;
use crate::events::{DEFAULT_CURRENCY, finite, instant, number, optional_number, with_event_id};
use crate::forecast::{self, DailyCost, Forecast, ForecastInput, Outcome};
use crate::time::{DAY_MS, format_rfc3339};
use crate::wit::{AccountForecast, BudgetAlert, BudgetAlerting, CostRecord, EventContext, Subscription};

pub const SUBSCRIPTION_STATUS: &str = "dps.subscription.status";

pub const BUDGET_ALERT: &str = "dps.budget.alert";

/// A subscription's figures for its current period.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlook {
    /// `used` as a percentage of the budget; none without a budget.
    pub used_percent: Option<f64>,
    /// Mean daily cost of the subscription over the forecast's trailing window.
    pub burn_rate: Option<f64>,
    pub days_of_data: u32,
    /// Enough data for a forecast (it needs `forecast::MIN_DAYS` days).
    pub forecast: Option<Forecast>,
}

/// The outlook of `subscription` from the account's daily `costs` (`data[i]` of `/cost`).
///
/// DPS for Hybrid: several accounts can book against one subscription, while an account reads
/// only its own cost. ASSUMPTION: the other accounts keep their share, so the account's history
/// is scaled by [`hybrid_share`] (`used` / the account's cost in the period, its gaps filled with
/// its mean day) to stand for the subscription's. For a subscription of one account the factor is
/// 1, give or take the hours `used` is ahead.
/// Costs in another currency than the budget's are left out: nothing sums across currencies.
pub fn outlook(subscription: &Subscription, costs: &[CostRecord]) -> Result<Outlook, InvalidRecord> {
    let budget = finite("budget.total", subscription.budget.total)?;
    let used = finite("budget.used", subscription.budget.used)?;
    let currency = subscription.budget.currency_code.as_deref().unwrap_or(DEFAULT_CURRENCY);
    let period_start = instant("currentPeriod.startTime", &subscription.current_period.start_time)?;
    let period_end = instant("currentPeriod.endTime", &subscription.current_period.end_time)?;
    let mut history = Vec::with_capacity(costs.len());
    for (index, record) in costs.iter().enumerate() {
        let start = instant(&format!("data[{index}].startTime"), &record.start_time)?;
        let value = finite(&format!("data[{index}].value"), record.value)?;
        if start >= period_start && record.currency_code == currency {
            history.push(DailyCost { day: start.div_euclid(DAY_MS), value });
        }
    }
    let share = hybrid_share(&history, used);
    history.iter_mut().for_each(|day| day.value *= share);
    let input =
        ForecastInput { history: &history, period_end_day: period_end.div_euclid(DAY_MS), cost_to_date: used, budget };
    let used_percent = (budget > 0.0).then(|| used / budget * 100.0);
    Ok(match forecast::forecast(&input) {
        Outcome::Forecast(forecast) => Outlook {
            used_percent,
            burn_rate: Some(forecast.burn_rate),
            days_of_data: forecast.days_of_data,
            forecast: Some(forecast),
        },
        Outcome::InsufficientData { days_of_data, burn_rate } => {
            Outlook { used_percent, burn_rate, days_of_data, forecast: None }
        }
    })
}

/// The factor that makes an account's daily costs stand for its subscription's (DPS for Hybrid):
/// `used` / (the account's mean cost per day with data × the days from its first to its newest day
/// with data). Only days with data count: a gap is missing data, so it takes the account's mean
/// instead of lowering the account's share. 1 when either side is not positive.
pub fn hybrid_share(history: &[DailyCost], used: f64) -> f64 {
    let mut days: Vec<i64> = history.iter().map(|day| day.day).collect();
    days.sort_unstable();
    days.dedup();
    let (Some(first), Some(newest)) = (days.first(), days.last()) else { return 1.0 };
    let total: f64 = history.iter().map(|day| day.value).sum();
    let span = (newest - first + 1) as f64;
    let account_period = total / days.len() as f64 * span;
    if account_period > 0.0 && used > 0.0 && account_period.is_finite() { used / account_period } else { 1.0 }
}

/// The outlook's fields of the `dps.subscription.status` event, and Dynatrace's forecast beside
/// them. Estimates are rounded to cents and hundredths of a percent.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusOutlook<'a> {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    used_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    burn_rate: Option<f64>,
    forecast_model: &'static str,
    forecast_days: u32,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    forecast_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    forecast_cost_lower: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    forecast_cost_upper: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    forecast_budget_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    forecast_exceeds_budget: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    budget_exhausted_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    budget_exhausted_date_earliest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    dt_forecast_median: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    dt_forecast_lower: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    dt_forecast_upper: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    dt_forecast_budget_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dt_forecast_budget_date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dt_forecast_created_at: Option<&'a str>,
}

impl<'a> StatusOutlook<'a> {
    pub(crate) fn new(
        outlook: &Outlook,
        budget: f64,
        dynatrace: Option<&'a AccountForecast>,
    ) -> Result<StatusOutlook<'a>, InvalidRecord> {
        if let Some(theirs) = dynatrace {
            for (field, value) in [
                ("forecastMedian", theirs.median),
                ("forecastLower", theirs.lower),
                ("forecastUpper", theirs.upper),
                ("forecastBudgetPct", theirs.budget_percent),
            ] {
                finite(field, value)?;
            }
        }
        let ours = outlook.forecast.as_ref();
        Ok(StatusOutlook {
            used_percent: outlook.used_percent.map(round2),
            burn_rate: outlook.burn_rate.map(round2),
            forecast_model: forecast::MODEL,
            forecast_days: outlook.days_of_data,
            forecast_cost: ours.map(|f| round2(f.projected)),
            forecast_cost_lower: ours.map(|f| round2(f.lower)),
            forecast_cost_upper: ours.map(|f| round2(f.upper)),
            forecast_budget_percent: ours.filter(|_| budget > 0.0).map(|f| round2(f.projected / budget * 100.0)),
            forecast_exceeds_budget: ours.filter(|_| budget > 0.0).map(|f| f.projected > budget),
            budget_exhausted_date: ours.and_then(|f| f.budget_exhausted_day).map(date_of_day),
            budget_exhausted_date_earliest: ours.and_then(|f| f.budget_exhausted_day_earliest).map(date_of_day),
            dt_forecast_median: dynatrace.map(|f| f.median),
            dt_forecast_lower: dynatrace.map(|f| f.lower),
            dt_forecast_upper: dynatrace.map(|f| f.upper),
            dt_forecast_budget_percent: dynatrace.map(|f| f.budget_percent),
            dt_forecast_budget_date: dynatrace.and_then(|f| f.budget_date.as_deref()),
            dt_forecast_created_at: dynatrace.and_then(|f| f.created_at.as_deref()),
        })
    }
}

/// The alerts `outlook` raises that have not `fired` yet in this period: one per threshold of
/// used budget crossed (each threshold separately, so a first run at 92 % raises 75 and 90), and
/// one when the forecast exceeds the budget.
pub fn budget_alerts(
    context: &EventContext,
    subscription: &Subscription,
    outlook: &Outlook,
    alerting: &BudgetAlerting,
    fired: &[String],
    read_at: &str,
) -> Result<Vec<BudgetAlert>, InvalidRecord> {
    instant("readAt", read_at)?;
    let budget = subscription.budget.total;
    let mut thresholds: Vec<f64> =
        alerting.thresholds().iter().copied().filter(|t| t.is_finite() && *t > 0.0).collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let currency = subscription.budget.currency_code.as_deref().unwrap_or(DEFAULT_CURRENCY);
    let period = &subscription.current_period;
    let mut alerts = Vec::new();
    let mut raise = |kind: &'static str, threshold: f64, severity: &'static str, message: String| {
        let key = format!("{kind}:{}", percent_text(threshold));
        if fired.contains(&key) {
            return;
        }
        let forecast = outlook.forecast.as_ref();
        let event = AlertEvent {
            event_type: BUDGET_ALERT,
            provider: &context.provider,
            timestamp: read_at,
            subscription_uuid: &subscription.uuid,
            subscription_name: &subscription.name,
            account_uuid: &context.account_uuid,
            account_name: &context.account_name,
            period_start: &period.start_time,
            period_end: &period.end_time,
            alert: kind,
            threshold_percent: threshold,
            severity,
            used_percent: outlook.used_percent.map(round2),
            used: subscription.budget.used,
            budget,
            currency,
            forecast_cost: forecast.map(|f| round2(f.projected)),
            budget_exhausted_date: forecast.and_then(|f| f.budget_exhausted_day).map(date_of_day),
            message: &message,
        };
        let id_key = format!("{}|{}|{key}", subscription.uuid, period.start_time);
        let event = with_event_id(BUDGET_ALERT, &id_key, &event);
        alerts.push(BudgetAlert { key, event, message });
    };
    if let Some(used_percent) = outlook.used_percent {
        for threshold in thresholds.into_iter().filter(|t| used_percent >= *t) {
            let message = format!(
                "subscription {} has used {:.1} % of its budget ({:.2} of {:.2} {currency}): past the {} % threshold",
                subscription.name,
                used_percent,
                subscription.budget.used,
                budget,
                percent_text(threshold)
            );
            raise("used", threshold, if threshold >= 100.0 { "SEVERE" } else { "WARN" }, message);
        }
    }
    if let Some(forecast) = outlook.forecast.as_ref().filter(|_| alerting.forecast_exceeds_budget())
        && forecast_alert_fires(forecast, budget)
    {
        let runs_out = forecast
            .budget_exhausted_day
            .map(|day| format!("; at this rate it runs out on {}", date_of_day(day)))
            .unwrap_or_default();
        let message = format!(
            "subscription {} is forecast to cost {:.2} {currency} by {} ({:.1} % of its budget; at least {:.2}, \
             {:.1} %, with 95 % confidence){runs_out}",
            subscription.name,
            forecast.projected,
            period.end_time,
            forecast.projected / budget * 100.0,
            forecast.lower,
            forecast.lower / budget * 100.0
        );
        raise("forecast", 100.0, "WARN", message);
    }
    Ok(alerts)
}

/// The `forecast` alert's rule: the whole 90 % band lies above a budget (`budget > 0`), i.e. its
/// lower bound exceeds it: the projection exceeds the budget with about 95 % confidence. The
/// median alone (`forecastExceedsBudget`) is a coin toss near the budget.
pub fn forecast_alert_fires(forecast: &Forecast, budget: f64) -> bool {
    budget > 0.0 && forecast.lower > budget
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    subscription_uuid: &'a str,
    subscription_name: &'a str,
    account_uuid: &'a str,
    account_name: &'a str,
    period_start: &'a str,
    period_end: &'a str,
    alert: &'a str,
    #[serde(serialize_with = "number")]
    threshold_percent: f64,
    severity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    used_percent: Option<f64>,
    #[serde(serialize_with = "number")]
    used: f64,
    #[serde(serialize_with = "number")]
    budget: f64,
    currency: &'a str,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "optional_number")]
    forecast_cost: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    budget_exhausted_date: Option<String>,
    message: &'a str,
}

/// `75`, `87.5`: how a threshold is written in state keys and messages.
fn percent_text(percent: f64) -> String {
    if percent.fract() == 0.0 && percent.abs() < 1e15 { format!("{}", percent as i64) } else { format!("{percent}") }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub(crate) fn date_of_day(day: i64) -> String {
    format_rfc3339(day.saturating_mul(DAY_MS))[..10].to_owned()
}

/// One `dps.subscription.status` event, with the outlook of its period (see [`outlook`])
/// and Dynatrace's own forecast of the account beside it.
pub fn subscription_status(
    context: &EventContext,
    subscription: &Subscription,
    outlook: &Outlook,
    dynatrace_forecast: Option<&AccountForecast>,
    read_at: &str,
) -> Result<String, InvalidRecord> {
    finite("budget.total", subscription.budget.total)?;
    finite("budget.used", subscription.budget.used)?;
    finite("currentPeriod.daysRemaining", subscription.current_period.days_remaining)?;
    instant("readAt", read_at)?;
    let event = StatusEvent {
        event_type: SUBSCRIPTION_STATUS,
        provider: &context.provider,
        timestamp: read_at,
        uuid: &subscription.uuid,
        account: AccountRef { uuid: subscription.owner_account_uuid.as_deref().unwrap_or(&context.account_uuid) },
        account_uuid: &context.account_uuid,
        account_name: &context.account_name,
        name: &subscription.name,
        budget: subscription.budget.total,
        used: subscription.budget.used,
        currency: subscription.budget.currency_code.as_deref().unwrap_or(DEFAULT_CURRENCY),
        start_time: &subscription.current_period.start_time,
        end_time: &subscription.current_period.end_time,
        days_remaining: subscription.current_period.days_remaining,
        outlook: StatusOutlook::new(outlook, subscription.budget.total, dynatrace_forecast)?,
    };
    let key = format!("{}|{}", subscription.uuid, context.account_uuid);
    Ok(with_event_id(SUBSCRIPTION_STATUS, &key, &event))
}

#[derive(Serialize)]
struct AccountRef<'a> {
    uuid: &'a str,
}

#[derive(Serialize)]
struct StatusEvent<'a> {
    #[serde(rename = "event.type")]
    event_type: &'a str,
    #[serde(rename = "event.provider")]
    provider: &'a str,
    timestamp: &'a str,
    uuid: &'a str,
    account: AccountRef<'a>,
    #[serde(rename = "accountUuid")]
    account_uuid: &'a str,
    #[serde(rename = "accountName")]
    account_name: &'a str,
    name: &'a str,
    #[serde(serialize_with = "number")]
    budget: f64,
    #[serde(serialize_with = "number")]
    used: f64,
    currency: &'a str,
    #[serde(rename = "startTime")]
    start_time: &'a str,
    #[serde(rename = "endTime")]
    end_time: &'a str,
    #[serde(rename = "daysRemaining", serialize_with = "number")]
    days_remaining: f64,
    #[serde(flatten)]
    outlook: StatusOutlook<'a>,
}

#[cfg(test)]
mod tests;
