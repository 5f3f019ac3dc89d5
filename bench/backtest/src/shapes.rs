//! The synthetic cost histories: one period of daily cost per history, drawn from a shape.

use crate::random::Random;

/// Days of the period every history covers.
pub const PERIOD_DAYS: usize = 365;

/// What a shape's expected daily cost does over the period, for reporting coverage by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// The expected daily cost is the same all period (noise, weekly pattern, spikes, gaps...).
    Trendless,
    /// It grows or declines steadily.
    Trended,
    /// It jumps once (step up or down, onboarding) or wanders (a random walk).
    Shifting,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Trendless => "trendless",
            Group::Trended => "trended",
            Group::Shifting => "shifting",
        }
    }
}

/// The shapes, with their group, in the order the tables list them.
pub const SHAPES: [(&str, Group); 18] = [
    ("flat-noise-5%", Group::Trendless),
    ("flat-noise-20%", Group::Trendless),
    ("flat-noise-50%", Group::Trendless),
    ("weekly", Group::Trendless),
    ("weekends-off", Group::Trendless),
    ("spikes", Group::Trendless),
    ("gaps", Group::Trendless),
    ("zeros-credits", Group::Trendless),
    ("heavy-tail", Group::Trendless),
    ("dps-share-gaps", Group::Trendless),
    ("growth", Group::Trended),
    ("growth-weekly", Group::Trended),
    ("decline", Group::Trended),
    ("compound-growth", Group::Trended),
    ("step-up", Group::Shifting),
    ("step-down", Group::Shifting),
    ("onboarding", Group::Shifting),
    ("wander", Group::Shifting),
];

/// One generated period.
pub struct History {
    /// The subscription's true daily cost, every day of the period.
    pub truth: Vec<f64>,
    /// What the account's `/cost` reads: its own share of the cost, `None` on a day without a
    /// record (a gap).
    pub records: Vec<Option<f64>>,
}

/// Multiplicative noise of coefficient of variation `cv` and mean 1 (log-normal).
fn noise(random: &mut Random, cv: f64) -> f64 {
    let sigma = (1.0 + cv * cv).ln().sqrt();
    (sigma * random.normal() - sigma * sigma / 2.0).exp()
}

/// Monday = 0 … Sunday = 6 of day `i` of the period (the backtest's periods start on a Thursday).
pub fn weekday(i: usize) -> usize {
    (i + 3) % 7
}

/// Shapes the anomaly backtest adds (issue #24), trendless: noise of a coefficient of variation
/// of 30-60 % with 5-15 % of the days at zero, flat or with a weekly pattern. The forecast
/// backtest keeps its 18 [`SHAPES`], so that its figures stay comparable.
pub const NOISY_SHAPES: [&str; 2] = ["noisy-zeros", "noisy-weekly-zeros"];

/// A history of `shape` (an index into [`SHAPES`]).
pub fn generate(shape: usize, random: &mut Random) -> History {
    generate_named(SHAPES[shape].0, random)
}

/// A history of the shape named `name` (one of [`SHAPES`] or [`NOISY_SHAPES`]).
pub fn generate_named(name: &str, random: &mut Random) -> History {
    let level = random.log_between(10.0, 10_000.0);
    let days = PERIOD_DAYS;
    let mut records_share = 1.0;
    let mut gap_rate = 0.0;
    let truth: Vec<f64> = match name {
        "flat-noise-5%" => (0..days).map(|_| level * noise(random, 0.05)).collect(),
        "flat-noise-20%" => (0..days).map(|_| level * noise(random, 0.2)).collect(),
        "flat-noise-50%" => (0..days).map(|_| level * noise(random, 0.5)).collect(),
        "weekly" => {
            let weekend = random.between(0.2, 0.6);
            (0..days).map(|i| level * if weekday(i) >= 5 { weekend } else { 1.0 } * noise(random, 0.1)).collect()
        }
        "weekends-off" => (0..days).map(|i| if weekday(i) >= 5 { 0.0 } else { level * noise(random, 0.1) }).collect(),
        "spikes" => {
            let mut values: Vec<f64> = (0..days).map(|_| level * noise(random, 0.1)).collect();
            for _ in 0..random.index(1, 4) {
                // Set, not multiplied: two spikes drawn on one day stay one spike.
                let day = random.index(0, days);
                values[day] = level * random.between(5.0, 30.0);
            }
            values
        }
        "gaps" => {
            gap_rate = random.between(0.1, 0.3);
            (0..days).map(|_| level * noise(random, 0.15)).collect()
        }
        "zeros-credits" => {
            let credit = random.between(1.0, 4.0) * level;
            (0..days)
                .map(|i| {
                    let spend = if random.chance(0.1) { 0.0 } else { level * noise(random, 0.15) };
                    if i % 30 == 15 { spend - credit } else { spend }
                })
                .collect()
        }
        "heavy-tail" => (0..days).map(|_| level * (1.0 + 0.3 * random.student_unit(3))).collect(),
        "dps-share-gaps" => {
            records_share = random.between(0.2, 0.8);
            gap_rate = 0.1;
            (0..days).map(|_| level * noise(random, 0.1)).collect()
        }
        "growth" => {
            let growth = random.between(0.3, 1.5);
            (0..days).map(|i| level * (1.0 + growth * i as f64 / 365.0) * noise(random, 0.15)).collect()
        }
        "growth-weekly" => {
            let growth = random.between(0.3, 1.5);
            let weekend = random.between(0.2, 0.6);
            (0..days)
                .map(|i| {
                    let week = if weekday(i) >= 5 { weekend } else { 1.0 };
                    level * (1.0 + growth * i as f64 / 365.0) * week * noise(random, 0.15)
                })
                .collect()
        }
        "decline" => {
            let decline = random.between(0.2, 0.6);
            (0..days).map(|i| level * (1.0 - decline * i as f64 / 365.0) * noise(random, 0.15)).collect()
        }
        "compound-growth" => {
            let rate = random.between(1.5_f64.ln(), 3.0_f64.ln());
            (0..days).map(|i| level * (rate * i as f64 / 365.0).exp() * noise(random, 0.15)).collect()
        }
        "step-up" | "step-down" | "onboarding" => {
            let (day, factor) = match name {
                "step-up" => (random.index(20, 345), random.between(1.5, 3.0)),
                "step-down" => (random.index(20, 345), random.between(0.3, 0.7)),
                _ => (random.index(1, 200), 0.0),
            };
            let (before, after) = if factor == 0.0 { (0.0, 1.0) } else { (1.0, factor) };
            (0..days).map(|i| level * if i < day { before } else { after } * noise(random, 0.15)).collect()
        }
        "noisy-zeros" | "noisy-weekly-zeros" => {
            let cv = random.between(0.3, 0.6);
            let zeros = random.between(0.05, 0.15);
            let weekend = if name == "noisy-weekly-zeros" { random.between(0.2, 0.6) } else { 1.0 };
            (0..days)
                .map(|i| {
                    let week = if weekday(i) >= 5 { weekend } else { 1.0 };
                    if random.chance(zeros) { 0.0 } else { level * week * noise(random, cv) }
                })
                .collect()
        }
        _ => {
            // "wander": a random walk of the level, 1 % a day.
            let mut current = level;
            (0..days)
                .map(|_| {
                    current *= (0.01 * random.normal()).exp();
                    current * noise(random, 0.1)
                })
                .collect()
        }
    };
    let records = truth
        .iter()
        .map(|&value| {
            let share = if records_share < 1.0 { records_share * noise(random, 0.05) } else { 1.0 };
            (!random.chance(gap_rate)).then_some(value * share)
        })
        .collect();
    History { truth, records }
}
