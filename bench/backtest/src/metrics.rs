//! The figures of a set of forecasts: error quantiles, bias, band coverage and width, alarm rates.

use crate::methods::Projection;

/// One forecast scored against the truth.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// (projected − truth) / truth.
    pub error: f64,
    pub ratio: f64,
    /// Band covers the truth, and its width relative to the truth.
    pub band: Option<(bool, f64)>,
    /// The median says "exceeds the budget" at a budget of 1.2x the truth (a false alarm) and
    /// does not at 0.8x (a missed one).
    pub false_alarm: bool,
    pub missed_alarm: bool,
    /// The `forecast` alert rule's false and missed alarms, likewise.
    pub alert: Option<(bool, bool)>,
}

impl Scored {
    pub fn of(projection: &Projection, truth: f64) -> Self {
        let error = (projection.projected - truth) / truth;
        Scored {
            error,
            ratio: projection.projected / truth,
            band: projection.band.map(|(lower, upper)| (lower <= truth && truth <= upper, (upper - lower) / truth)),
            false_alarm: projection.projected > 1.2 * truth,
            missed_alarm: projection.projected <= 0.8 * truth,
            alert: projection.alert.map(|(at_high, at_low)| (at_high, !at_low)),
        }
    }
}

/// The summary figures of a set of scored forecasts (percentages).
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub count: usize,
    pub median_error: f64,
    pub p90_error: f64,
    pub bias: f64,
    pub coverage: Option<f64>,
    pub median_width: Option<f64>,
    pub false_alarms: f64,
    pub missed_alarms: f64,
    pub alert_false: Option<f64>,
    pub alert_missed: Option<f64>,
    pub outside_half_double: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
}

fn percent_of(items: &[Scored], test: impl Fn(&Scored) -> bool) -> f64 {
    100.0 * items.iter().filter(|item| test(item)).count() as f64 / items.len().max(1) as f64
}

impl Summary {
    pub fn of(items: &[Scored]) -> Self {
        let mut errors: Vec<f64> = items.iter().map(|item| item.error.abs()).collect();
        errors.sort_by(f64::total_cmp);
        let banded: Vec<(bool, f64)> = items.iter().filter_map(|item| item.band).collect();
        let mut widths: Vec<f64> = banded.iter().map(|(_, width)| *width).collect();
        widths.sort_by(f64::total_cmp);
        let alerts: Vec<(bool, bool)> = items.iter().filter_map(|item| item.alert).collect();
        let share = |count: usize, of: usize| 100.0 * count as f64 / of.max(1) as f64;
        Summary {
            count: items.len(),
            median_error: 100.0 * quantile(&errors, 0.5),
            p90_error: 100.0 * quantile(&errors, 0.9),
            bias: 100.0 * items.iter().map(|item| item.error).sum::<f64>() / items.len().max(1) as f64,
            coverage: (!banded.is_empty())
                .then(|| share(banded.iter().filter(|(covers, _)| *covers).count(), banded.len())),
            median_width: (!widths.is_empty()).then(|| 100.0 * quantile(&widths, 0.5)),
            false_alarms: percent_of(items, |item| item.false_alarm),
            missed_alarms: percent_of(items, |item| item.missed_alarm),
            alert_false: (!alerts.is_empty()).then(|| share(alerts.iter().filter(|(f, _)| *f).count(), alerts.len())),
            alert_missed: (!alerts.is_empty()).then(|| share(alerts.iter().filter(|(_, m)| *m).count(), alerts.len())),
            outside_half_double: percent_of(items, |item| !(0.5..=2.0).contains(&item.ratio)),
        }
    }
}
