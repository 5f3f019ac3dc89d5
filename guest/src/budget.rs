//! Where a subscription's period is heading (share of the budget used, burn rate, dtcost's
//! forecast of the period's end; the model is in [`crate::forecast`]) and the budget alerts that
//! raises.

use serde::Serialize;

use crate::error::InvalidRecord;
use crate::events::{DEFAULT_CURRENCY, finite, instant, number, optional_number, with_event_id};
use crate::forecast::{self, DailyCost, Forecast, ForecastInput, Outcome};
use crate::time::{DAY_MS, format_rfc3339};
use crate::wit::{AccountForecast, BudgetAlert, BudgetAlerting, CostRecord, EventContext, Subscription};

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
fn date_of_day(day: i64) -> String {
    format_rfc3339(day.saturating_mul(DAY_MS))[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::{Budget, Period};

    fn subscription(total: f64, used: f64) -> Subscription {
        Subscription {
            uuid: "sub-1".into(),
            name: "DPS 2026".into(),
            type_: "REGULAR".into(),
            sub_type: None,
            status: "ACTIVE".into(),
            owner_account_uuid: None,
            budget: Budget { total, used, currency_code: Some("EUR".into()) },
            current_period: Period {
                start_time: "2026-10-01".into(),
                end_time: "2026-12-30".into(),
                days_remaining: 38.0,
            },
        }
    }

    /// `days` days of `value` ending 2026-11-22, in `currency`.
    fn daily(days: i64, value: f64, currency: &str) -> Vec<CostRecord> {
        let last = crate::time::parse_instant_millis("2026-11-22").unwrap();
        (0..days)
            .map(|i| {
                let start = last - (days - 1 - i) * DAY_MS;
                CostRecord {
                    start_time: format_rfc3339(start),
                    end_time: format_rfc3339(start + DAY_MS),
                    value,
                    currency_code: currency.into(),
                    last_booking_date: None,
                }
            })
            .collect()
    }

    fn context() -> EventContext {
        EventContext { provider: "p".into(), account_uuid: "acc".into(), account_name: "ACME".into() }
    }

    #[test]
    fn a_flat_history_projects_the_rest_of_the_period() {
        // 2026-11-23 ..= 2026-12-30 is 38 days at 100 a day.
        let outlook = outlook(&subscription(20_000.0, 5_300.0), &daily(53, 100.0, "EUR")).unwrap();
        let forecast = outlook.forecast.unwrap();
        assert_eq!(outlook.used_percent, Some(26.5));
        assert!((forecast.projected - (5_300.0 + 3_800.0)).abs() < 1e-6, "{forecast:?}");
        assert_eq!(outlook.burn_rate, Some(100.0));
    }

    #[test]
    fn a_shared_subscription_scales_the_accounts_history_to_its_share() {
        // The account booked 5,300 of the 10,600 used: the subscription burns 200 a day.
        let outlook = outlook(&subscription(20_000.0, 10_600.0), &daily(53, 100.0, "EUR")).unwrap();
        let forecast = outlook.forecast.unwrap();
        assert!((forecast.projected - (10_600.0 + 7_600.0)).abs() < 1e-6, "{forecast:?}");
        assert!((outlook.burn_rate.unwrap() - 200.0).abs() < 1e-9);
    }

    #[test]
    fn costs_in_another_currency_or_before_the_period_are_left_out() {
        let mut costs = daily(10, 100.0, "USD");
        costs.extend(daily(60, 100.0, "EUR").into_iter().filter(|c| c.start_time.as_str() < "2026-10-01"));
        let outlook = outlook(&subscription(20_000.0, 5_300.0), &costs).unwrap();
        assert_eq!((outlook.days_of_data, outlook.forecast), (0, None));
    }

    #[test]
    fn thresholds_fire_once_each_and_the_forecast_alert_when_over_budget() {
        let sub = subscription(5_700.0, 5_300.0);
        let outlook = outlook(&sub, &daily(53, 100.0, "EUR")).unwrap();
        let alerting = BudgetAlerting::default();
        let alerts = budget_alerts(&context(), &sub, &outlook, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
        let keys: Vec<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["used:75", "used:90", "forecast:100"]);
        let event: serde_json::Value = serde_json::from_str(&alerts[1].event).unwrap();
        assert_eq!(event["event.type"], "dps.budget.alert");
        assert_eq!(event["alert"], "used");
        assert_eq!(event["thresholdPercent"], 90);
        assert_eq!(event["usedPercent"], 92.98);
        assert_eq!(event["currency"], "EUR");
        assert_eq!(event["periodStart"], "2026-10-01");
        // 5,300 + 100 a day reaches 5,700 on the 4th day after 2026-11-22.
        assert_eq!(event["budgetExhaustedDate"], "2026-11-26");

        let fired: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let again = budget_alerts(&context(), &sub, &outlook, &alerting, &fired, "2026-11-24T06:00:00Z").unwrap();
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn the_forecast_alert_waits_until_the_whole_band_is_over_the_budget() {
        // Noisy days around 100: the median projection (about 9,100) is over a budget of 9,000, but
        // the band's lower bound is not, so the alert does not fire; at 8,000 it does.
        let mut costs = daily(53, 100.0, "EUR");
        for (index, cost) in costs.iter_mut().enumerate() {
            cost.value += if index % 2 == 0 { 30.0 } else { -30.0 };
        }
        let alerting = BudgetAlerting { thresholds: Some(vec![]), forecast_exceeds_budget: Some(true) };
        let near = subscription(9_000.0, 5_300.0);
        let outlook_near = outlook(&near, &costs).unwrap();
        let forecast = outlook_near.forecast.clone().unwrap();
        assert!(forecast.projected > 9_000.0 && forecast.lower < 9_000.0, "{forecast:?}");
        assert!(!forecast_alert_fires(&forecast, 9_000.0));
        let alerts = budget_alerts(&context(), &near, &outlook_near, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
        assert!(alerts.is_empty(), "{alerts:?}");
        let far = subscription(8_000.0, 5_300.0);
        let outlook_far = outlook(&far, &costs).unwrap();
        let alerts = budget_alerts(&context(), &far, &outlook_far, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
        assert_eq!(alerts.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(), ["forecast:100"]);
        assert!(alerts[0].message.contains("with 95 % confidence"), "{}", alerts[0].message);
    }

    #[test]
    fn the_hybrid_share_counts_only_days_with_data() {
        // 53 days of 100, ten of them (every fifth from the fourth) missing: the account booked 4,300 on the days it read,
        // but its 53 days stand for 5,300. With 5,300 used it is the only account (share 1), not
        // 5,300 / 4,300 = 1.23 as when the gaps counted as zero spend.
        let costs: Vec<CostRecord> =
            daily(53, 100.0, "EUR").into_iter().enumerate().filter(|(i, _)| i % 5 != 3).map(|(_, c)| c).collect();
        let outlook = outlook(&subscription(20_000.0, 5_300.0), &costs).unwrap();
        let forecast = outlook.forecast.unwrap();
        assert!((forecast.projected - (5_300.0 + 3_800.0)).abs() < 1e-6, "{forecast:?}");
        let history = [DailyCost { day: 10, value: 50.0 }, DailyCost { day: 13, value: 50.0 }];
        assert!((hybrid_share(&history, 400.0) - 2.0).abs() < 1e-12);
        assert_eq!(hybrid_share(&[], 400.0), 1.0);
        assert_eq!(hybrid_share(&history, 0.0), 1.0);
    }

    #[test]
    fn without_a_forecast_only_used_thresholds_can_fire() {
        let sub = subscription(10_000.0, 7_600.0);
        let outlook = outlook(&sub, &daily(5, 100.0, "EUR")).unwrap();
        let alerting =
            BudgetAlerting { thresholds: Some(vec![90.0, 75.0, 75.0, f64::NAN]), forecast_exceeds_budget: Some(true) };
        let alerts = budget_alerts(&context(), &sub, &outlook, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
        assert_eq!(alerts.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(), ["used:75"]);
        assert!(alerts[0].message.contains("76.0 % of its budget"), "{}", alerts[0].message);
    }

    #[test]
    fn the_status_fields_put_dynatraces_forecast_beside_ours() {
        let sub = subscription(20_000.0, 5_300.0);
        let outlook = outlook(&sub, &daily(53, 100.0, "EUR")).unwrap();
        let theirs = AccountForecast {
            median: 9_000.0,
            lower: 8_500.0,
            upper: 9_500.5,
            budget: 20_000.0,
            budget_percent: 45.0,
            budget_date: None,
            created_at: Some("2026-11-23T03:00:00Z".into()),
        };
        let fields = serde_json::to_value(StatusOutlook::new(&outlook, 20_000.0, Some(&theirs)).unwrap()).unwrap();
        assert_eq!(fields["forecastCost"], 9_100);
        assert_eq!(fields["forecastBudgetPercent"], 45.5);
        assert_eq!(fields["forecastExceedsBudget"], false);
        assert!(fields.get("budgetExhaustedDate").is_none());
        assert_eq!(fields["dtForecastMedian"], 9_000);
        assert_eq!(fields["dtForecastUpper"], 9_500.5);
        assert!(fields.get("dtForecastBudgetDate").is_none());
        assert_eq!(fields["forecastModel"], forecast::MODEL);
    }
}
