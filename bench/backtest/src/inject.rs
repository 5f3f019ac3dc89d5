//! The anomalies the anomaly backtest injects into a clean history: single-day spikes and drops,
//! steps (a lasting change of level) and ramps (four weeks of steady growth, then a plateau).

use crate::random::Random;

/// What an injection does to the days from its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The start day's cost times `factor`.
    Spike,
    /// Likewise, `factor` < 1.
    Drop,
    /// Every day from the start on times `factor`.
    Step,
    /// Day `d` after the start times `factor^(min(d, 28) / 7)`: `factor` a week for four weeks.
    Ramp,
}

/// One kind and magnitude of anomaly.
#[derive(Debug, Clone, Copy)]
pub struct Injection {
    pub name: &'static str,
    pub effect: Effect,
    pub factor: f64,
}

impl Injection {
    /// The injected anomaly raises the cost (a finding should be a `spike`).
    pub fn upward(&self) -> bool {
        self.factor > 1.0
    }
}

pub const INJECTIONS: [Injection; 11] = [
    Injection { name: "spike x1.5", effect: Effect::Spike, factor: 1.5 },
    Injection { name: "spike x2", effect: Effect::Spike, factor: 2.0 },
    Injection { name: "spike x3", effect: Effect::Spike, factor: 3.0 },
    Injection { name: "spike x5", effect: Effect::Spike, factor: 5.0 },
    Injection { name: "drop x0.5", effect: Effect::Drop, factor: 0.5 },
    Injection { name: "drop to 0", effect: Effect::Drop, factor: 0.0 },
    Injection { name: "step x1.5", effect: Effect::Step, factor: 1.5 },
    Injection { name: "step x2", effect: Effect::Step, factor: 2.0 },
    Injection { name: "step x0.5", effect: Effect::Step, factor: 0.5 },
    Injection { name: "ramp +5 %/week", effect: Effect::Ramp, factor: 1.05 },
    Injection { name: "ramp +20 %/week", effect: Effect::Ramp, factor: 1.20 },
];

/// Days an injection may start on: after ten weeks of history (the detector's eight-week window
/// full), and five weeks before the period's end (a ramp's weeks are all in it).
const EARLIEST: usize = 70;
const LATEST: usize = 330;

/// A day with a positive cost to inject on (a day with none cannot spike by a factor).
pub fn pick_day(records: &[Option<f64>], random: &mut Random) -> Option<usize> {
    (0..100).map(|_| random.index(EARLIEST, LATEST)).find(|&day| records[day].is_some_and(|value| value > 0.0))
}

/// `records` with `injection` starting on `day`.
pub fn apply(injection: &Injection, records: &mut [Option<f64>], day: usize) {
    for (offset, record) in records[day..].iter_mut().enumerate() {
        let factor = match injection.effect {
            Effect::Spike | Effect::Drop if offset == 0 => injection.factor,
            Effect::Spike | Effect::Drop => return,
            Effect::Step => injection.factor,
            Effect::Ramp => injection.factor.powf(offset.min(28) as f64 / 7.0),
        };
        if let Some(value) = record {
            *value *= factor;
        }
    }
}
