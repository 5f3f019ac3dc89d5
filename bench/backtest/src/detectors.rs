//! The detectors the anomaly backtest compares: dtcost's (`anomaly::detect`) and a naive band of
//! a fixed ±X % around the trailing 28-day mean.

use dtcost_guest::anomaly::{self, Kind, Parameters};
use dtcost_guest::forecast::DailyCost;

/// One day a detector flagged, as an index into the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub day: usize,
    pub upward: bool,
}

/// What dtcost's detector found in a history.
#[derive(Debug, Default)]
pub struct Found {
    pub daily: Vec<Flag>,
    /// The weeks with a `week-over-week` finding: `day` is their Monday, `upward` growth.
    pub weekly: Vec<Flag>,
}

/// dtcost's detector over `records` (day `i` is day `i` since 1970-01-01: the backtest's weekdays
/// and the guest's agree, both start on a Thursday).
pub fn dtcost(records: &[Option<f64>], parameters: &Parameters) -> Found {
    let history: Vec<DailyCost> = records
        .iter()
        .enumerate()
        .filter_map(|(day, value)| value.map(|value| DailyCost { day: day as i64, value }))
        .collect();
    let mut found = Found::default();
    let all = anomaly::detect(&history, parameters).expect("the backtest's parameters are valid");
    for finding in all {
        let day = finding.first_day as usize;
        match finding.kind {
            Kind::WeekOverWeek => found.weekly.push(Flag { day, upward: finding.deviation > 0.0 }),
            kind => found.daily.push(Flag { day, upward: kind == Kind::Spike }),
        }
    }
    found
}

/// Days of the naive band's trailing window, and the days with data it needs.
const NAIVE_WINDOW: usize = 28;
const NAIVE_MIN_DAYS: usize = 14;

/// Every day more than `band` (a share) above or below the mean of the trailing 28 days with data.
pub fn naive(records: &[Option<f64>], band: f64) -> Vec<Flag> {
    let mut flags = Vec::new();
    for (day, value) in records.iter().enumerate() {
        let Some(value) = *value else { continue };
        let window: Vec<f64> = records[day.saturating_sub(NAIVE_WINDOW)..day].iter().flatten().copied().collect();
        if window.len() < NAIVE_MIN_DAYS {
            continue;
        }
        let mean = window.iter().sum::<f64>() / window.len() as f64;
        if (value - mean).abs() > band * mean.abs() {
            flags.push(Flag { day, upward: value > mean });
        }
    }
    flags
}
