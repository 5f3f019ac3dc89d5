//! The forecasts compared: dtcost's (through `budget::outlook`, as the status event gets it) and
//! the naive baselines, each as of one day of a history.

use dtcost_guest::budget::{self, forecast_alert_fires};
use dtcost_guest::time::{DAY_MS, format_rfc3339};
use dtcost_guest::wit::{Budget, CostRecord, Period, Subscription};

use crate::shapes::{History, PERIOD_DAYS};

/// 2026-01-01, a Thursday: the first day of every backtest period.
pub const PERIOD_START_DAY: i64 = 20_454;

/// The methods, in the order the tables list them.
pub const METHODS: [&str; 5] = ["dtcost", "mean-28d", "mean-7d", "mean-period", "line-28d"];

/// One method's forecast of the period-end total.
#[derive(Debug, Clone, Copy)]
pub struct Projection {
    pub projected: f64,
    /// The 90 % band, for the methods that have one.
    pub band: Option<(f64, f64)>,
    /// Whether the `forecast` alert fires at a budget of 1.2x and 0.8x the truth (dtcost only).
    pub alert: Option<(bool, bool)>,
}

/// What is known as of day `known` of the period (days `0..known` have passed).
pub struct AsOf<'a> {
    pub history: &'a History,
    pub known: usize,
    /// The subscription's cost so far: its `budget.used`.
    pub used: f64,
    /// The true period-end total.
    pub truth: f64,
}

/// dtcost's forecast, `None` when it has too little data.
pub fn dtcost(as_of: &AsOf<'_>) -> Option<Projection> {
    let day_ms = |day: usize| (PERIOD_START_DAY + day as i64) * DAY_MS;
    let costs: Vec<CostRecord> = (0..as_of.known)
        .filter_map(|day| {
            as_of.history.records[day].map(|value| CostRecord {
                start_time: format_rfc3339(day_ms(day)),
                end_time: format_rfc3339(day_ms(day + 1)),
                value,
                currency_code: "EUR".into(),
                last_booking_date: None,
            })
        })
        .collect();
    let subscription = Subscription {
        uuid: "s".into(),
        name: "backtest".into(),
        type_: "REGULAR".into(),
        sub_type: None,
        status: "ACTIVE".into(),
        owner_account_uuid: None,
        budget: Budget { total: as_of.truth, used: as_of.used, currency_code: Some("EUR".into()) },
        current_period: Period {
            start_time: format_rfc3339(day_ms(0)),
            end_time: format_rfc3339(day_ms(PERIOD_DAYS - 1)),
            days_remaining: (PERIOD_DAYS - as_of.known) as f64,
        },
    };
    let outlook = budget::outlook(&subscription, &costs).ok()?;
    let forecast = outlook.forecast?;
    let alert =
        (forecast_alert_fires(&forecast, 1.2 * as_of.truth), forecast_alert_fires(&forecast, 0.8 * as_of.truth));
    Some(Projection { projected: forecast.projected, band: Some((forecast.lower, forecast.upper)), alert: Some(alert) })
}

/// A naive baseline by name (the names of [`METHODS`] after the first).
pub fn baseline(name: &str, as_of: &AsOf<'_>) -> Projection {
    let known = as_of.known;
    let days: Vec<(f64, f64)> =
        (0..known).filter_map(|day| as_of.history.records[day].map(|value| (day as f64, value))).collect();
    // An account's records stand for the subscription scaled by used / (its mean day x the days
    // passed): the DPS-for-Hybrid share, counting only days with data.
    let mean_all = days.iter().map(|(_, v)| v).sum::<f64>() / days.len().max(1) as f64;
    let share = if mean_all > 0.0 && as_of.used > 0.0 { as_of.used / (mean_all * known as f64) } else { 1.0 };
    let trailing = |window: usize| -> Vec<(f64, f64)> {
        days.iter().copied().filter(|(day, _)| *day >= (known - window.min(known)) as f64).collect()
    };
    let mean = |points: &[(f64, f64)]| points.iter().map(|(_, v)| v).sum::<f64>() / points.len().max(1) as f64;
    let remaining = (PERIOD_DAYS - known) as f64;
    let rest = match name {
        "mean-28d" => mean(&trailing(28)) * remaining,
        "mean-7d" => mean(&trailing(7)) * remaining,
        "mean-period" => mean(&days) * remaining,
        _ => {
            let points = trailing(28);
            let (t_mean, y_mean) =
                (points.iter().map(|p| p.0).sum::<f64>() / points.len().max(1) as f64, mean(&points));
            let spread: f64 = points.iter().map(|(t, _)| (t - t_mean).powi(2)).sum();
            let slope = if spread > 0.0 {
                points.iter().map(|(t, y)| (t - t_mean) * (y - y_mean)).sum::<f64>() / spread
            } else {
                0.0
            };
            (known..PERIOD_DAYS).map(|day| (y_mean + slope * (day as f64 - t_mean)).max(0.0)).sum()
        }
    };
    Projection { projected: as_of.used + share * rest, band: None, alert: None }
}
