//! The anomaly backtest (issue #15): clean histories give the false-alarm rate, the same shapes
//! with one injected anomaly each give recall and precision, for dtcost's detector beside naive
//! bands around the trailing mean.

use dtcost_guest::anomaly::Parameters;

use crate::detectors::{self, Flag};
use crate::inject::{self, Effect, INJECTIONS, Injection};
use crate::random::Random;
use crate::shapes::{self, NOISY_SHAPES, PERIOD_DAYS, SHAPES};

/// The shapes with nothing abnormal in them (no spikes, steps or credits): trend, seasonality,
/// noise, gaps, a wandering level and, in the noisy shapes (issue #24), zero-cost days are the
/// normal life of a cost.
pub const CLEAN_SHAPES: [&str; 15] = [
    "flat-noise-5%",
    "flat-noise-20%",
    "flat-noise-50%",
    "weekly",
    "weekends-off",
    "gaps",
    "heavy-tail",
    "dps-share-gaps",
    "growth",
    "growth-weekly",
    "decline",
    "compound-growth",
    "wander",
    NOISY_SHAPES[0],
    NOISY_SHAPES[1],
];
/// Clean histories per shape, and injected ones per shape and injection.
const CLEAN_PER_SHAPE: usize = 80;
const INJECTED_PER_SHAPE: usize = 20;
/// The naive bands compared (±50 % and ±100 % of the trailing 28-day mean).
const NAIVE_BANDS: [f64; 2] = [0.5, 1.0];
/// Detectors in the tables' order: dtcost's, then the naive bands.
pub const DETECTORS: [&str; 3] = ["dtcost", "naive ±50 %", "naive ±100 %"];
/// A step counts as found when a finding in its direction falls within this many days of its start.
const STEP_GRACE: usize = 6;
/// Issue #24's measure of a level shift: any finding in its direction, daily or week-over-week,
/// known within this many days of its start (a week's finding is known on its Sunday).
const SHIFT_WITHIN: usize = 14;

/// The daily flags of every detector, in the order of [`DETECTORS`], and dtcost's weekly ones.
struct Verdicts {
    daily: [Vec<Flag>; 3],
    weekly: Vec<Flag>,
}

fn verdicts(records: &[Option<f64>], parameters: &Parameters) -> Verdicts {
    let found = detectors::dtcost(records, parameters);
    Verdicts {
        daily: [found.daily, detectors::naive(records, NAIVE_BANDS[0]), detectors::naive(records, NAIVE_BANDS[1])],
        weekly: found.weekly,
    }
}

/// Counts over clean histories, per detector.
#[derive(Debug, Default, Clone)]
pub struct Clean {
    pub histories: usize,
    pub flags: [usize; 3],
    pub weekly: usize,
    /// dtcost's week-over-week findings of a fall (included in `weekly`).
    pub weekly_falls: usize,
}

impl Clean {
    pub fn per_thousand_days(&self, count: usize) -> f64 {
        1000.0 * count as f64 / (self.histories * PERIOD_DAYS).max(1) as f64
    }
}

/// Counts over the histories of one injection, per detector.
#[derive(Debug, Default, Clone)]
pub struct Injected {
    pub histories: usize,
    /// Histories whose anomaly was found (spikes and drops on their day, steps within a week).
    pub found: [usize; 3],
    /// Steps found on their very first day.
    pub on_the_day: [usize; 3],
    /// Every daily flag on these histories (the found ones included).
    pub flags: [usize; 3],
    /// Histories with a week-over-week finding in the weeks the anomaly touched.
    pub weekly_found: usize,
    /// Steps with a finding of dtcost's in their direction, daily or weekly, known within
    /// [`SHIFT_WITHIN`] days; and with a week-over-week one alone.
    pub shift_found: usize,
    pub shift_weekly: usize,
    /// `shift_found` per clean shape, in the order of [`CLEAN_SHAPES`].
    pub shift_by_shape: [usize; CLEAN_SHAPES.len()],
}

impl Injected {
    pub fn recall(&self, detector: usize) -> f64 {
        100.0 * self.found[detector] as f64 / self.histories.max(1) as f64
    }
}

/// The whole run of one seed.
pub struct Report {
    pub clean: Vec<Clean>,
    pub injected: Vec<Injected>,
}

fn stream(seed: u64, shape: usize, draw: usize, lane: u64) -> Random {
    // The forecast backtest's mixing, with a lane of its own per injection.
    Random::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((shape as u64) << 32) ^ (lane << 48) ^ draw as u64)
}

/// The shape's index for the random streams: its place in [`SHAPES`], then in [`NOISY_SHAPES`].
fn shape_index(name: &str) -> usize {
    let all = SHAPES.iter().map(|(shape, _)| *shape).chain(NOISY_SHAPES);
    all.into_iter().position(|shape| shape == name).expect("a clean shape is a shape")
}

pub fn run(seed: u64, parameters: &Parameters) -> Report {
    let mut clean = vec![Clean::default(); CLEAN_SHAPES.len()];
    let mut injected = vec![Injected::default(); INJECTIONS.len()];
    for (row, name) in CLEAN_SHAPES.iter().enumerate() {
        let shape = shape_index(name);
        for draw in 0..CLEAN_PER_SHAPE {
            let history = shapes::generate_named(name, &mut stream(seed, shape, draw, 1));
            let verdicts = verdicts(&history.records, parameters);
            let tally = &mut clean[row];
            tally.histories += 1;
            for (count, flags) in tally.flags.iter_mut().zip(&verdicts.daily) {
                *count += flags.len();
            }
            tally.weekly += verdicts.weekly.len();
            tally.weekly_falls += verdicts.weekly.iter().filter(|flag| !flag.upward).count();
        }
        for (lane, injection) in INJECTIONS.iter().enumerate() {
            for draw in 0..INJECTED_PER_SHAPE {
                let mut random = stream(seed, shape, draw, 2 + lane as u64);
                let mut records = shapes::generate_named(name, &mut random).records;
                let Some(day) = inject::pick_day(&records, &mut random) else { continue };
                inject::apply(injection, &mut records, day);
                let tally = &mut injected[lane];
                let found = tally.shift_found;
                score(tally, injection, day, &verdicts(&records, parameters));
                tally.shift_by_shape[row] += tally.shift_found - found;
            }
        }
    }
    Report { clean, injected }
}

fn score(tally: &mut Injected, injection: &Injection, day: usize, verdicts: &Verdicts) {
    tally.histories += 1;
    let reach = match injection.effect {
        Effect::Spike | Effect::Drop => 0,
        Effect::Step => STEP_GRACE,
        Effect::Ramp => 0,
    };
    for (detector, flags) in verdicts.daily.iter().enumerate() {
        tally.flags[detector] += flags.len();
        if injection.effect == Effect::Ramp {
            continue;
        }
        let matching = |flag: &&Flag| flag.upward == injection.upward() && (day..=day + reach).contains(&flag.day);
        if flags.iter().any(|flag| matching(&flag)) {
            tally.found[detector] += 1;
        }
        if flags.iter().any(|flag| flag.day == day && flag.upward == injection.upward()) {
            tally.on_the_day[detector] += 1;
        }
    }
    // The weeks the anomaly touched: the one it starts in to the one after a ramp's four weeks.
    let touched = day.saturating_sub(6)..=day + if injection.effect == Effect::Ramp { 34 } else { 6 };
    if verdicts.weekly.iter().any(|week| week.upward == injection.upward() && touched.contains(&week.day)) {
        tally.weekly_found += 1;
    }
    if injection.effect == Effect::Step {
        let known = day..day + SHIFT_WITHIN;
        let daily = verdicts.daily[0].iter().any(|flag| flag.upward == injection.upward() && known.contains(&flag.day));
        let weekly =
            verdicts.weekly.iter().any(|week| week.upward == injection.upward() && known.contains(&(week.day + 6)));
        tally.shift_found += usize::from(daily || weekly);
        tally.shift_weekly += usize::from(weekly);
    }
}

/// Precision of a detector over the spikes, drops and steps: found anomalies over all the flags
/// raised on their histories (one anomaly per 365-day history).
pub fn precision(report: &Report, detector: usize) -> f64 {
    let judged = || report.injected.iter().zip(INJECTIONS).filter(|(_, injection)| injection.effect != Effect::Ramp);
    let found: usize = judged().map(|(tally, _)| tally.found[detector]).sum();
    let flags: usize = judged().map(|(tally, _)| tally.flags[detector]).sum();
    100.0 * found as f64 / flags.max(1) as f64
}

/// False alarms per 1,000 account-days over all clean histories, per detector, and the weekly ones.
pub fn false_alarms(report: &Report) -> ([f64; 3], f64) {
    let mut total = Clean::default();
    for shape in &report.clean {
        total.histories += shape.histories;
        for (sum, count) in total.flags.iter_mut().zip(shape.flags) {
            *sum += count;
        }
        total.weekly += shape.weekly;
        total.weekly_falls += shape.weekly_falls;
    }
    (total.flags.map(|count| total.per_thousand_days(count)), total.per_thousand_days(total.weekly))
}

pub fn print(seed: u64, parameters: &Parameters, report: &Report, seconds: f64) {
    let clean_histories: usize = report.clean.iter().map(|shape| shape.histories).sum();
    let injected_histories: usize = report.injected.iter().map(|tally| tally.histories).sum();
    println!(
        "Anomaly backtest, seed {seed}: {clean_histories} clean {PERIOD_DAYS}-day histories ({} shapes x {CLEAN_PER_SHAPE}) \
         and {injected_histories} with one injected anomaly each ({} injections x {} shapes x {INJECTED_PER_SHAPE}, \
         starting between days 70 and 330). dtcost's parameters: {parameters:?}. {seconds:.1} s.\n",
        CLEAN_SHAPES.len(),
        INJECTIONS.len(),
        CLEAN_SHAPES.len()
    );
    let (daily, weekly) = false_alarms(report);
    println!("### Summary\n");
    println!("| | {} | dtcost week-over-week |", DETECTORS.join(" | "));
    println!("|---|---|---|---|---|");
    let cells = |values: [f64; 3]| values.map(|value| format!("{value:.2}")).join(" | ");
    println!("| false alarms per 1,000 account-days (clean histories) | {} | {weekly:.2} |", cells(daily));
    println!("| precision (spikes, drops, steps) | {} | - |", cells([0, 1, 2].map(|d| precision(report, d))));
    println!();
    let falls: usize = report.clean.iter().map(|shape| shape.weekly_falls).sum();
    let days = (clean_histories * PERIOD_DAYS).max(1) as f64;
    println!(
        "dtcost on the clean histories: {weekly:.2} week-over-week findings per 1,000 account-days ({:.2} of them \
         falls); daily and week-over-week together {:.2}.\n",
        1000.0 * falls as f64 / days,
        daily[0] + weekly
    );
    println!("### Level shifts: a finding of dtcost's in their direction known within {SHIFT_WITHIN} days\n");
    println!("| step | histories | daily or week-over-week | week-over-week alone |");
    println!("|---|---|---|---|");
    for (tally, injection) in report.injected.iter().zip(INJECTIONS).filter(|(_, i)| i.effect == Effect::Step) {
        let share = |count: usize| 100.0 * count as f64 / tally.histories.max(1) as f64;
        println!(
            "| {} | {} | {:.1} % | {:.1} % |",
            injection.name,
            tally.histories,
            share(tally.shift_found),
            share(tally.shift_weekly)
        );
    }
    println!();
    let steps: Vec<(&Injected, &Injection)> =
        report.injected.iter().zip(&INJECTIONS).filter(|(_, i)| i.effect == Effect::Step).collect();
    let names: Vec<&str> = steps.iter().map(|(_, i)| i.name).collect();
    println!("By clean shape ({INJECTED_PER_SHAPE} histories each):\n");
    println!("| shape | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    for (row, name) in CLEAN_SHAPES.iter().enumerate() {
        let cells: Vec<String> = steps
            .iter()
            .map(|(tally, _)| format!("{:.0} %", 100.0 * tally.shift_by_shape[row] as f64 / INJECTED_PER_SHAPE as f64))
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!();
    println!("### Recall by injected anomaly\n");
    println!(
        "Spikes and drops: a finding in their direction on their day. Steps: within {STEP_GRACE} days of their start \
         (on the day itself in brackets). Findings per history: every daily finding on those 365 days. Ramps: \
         the daily detectors are not meant to fire; the week-over-week rule is.\n"
    );
    println!(
        "| injected | histories | {} | findings per history: {} | week-over-week found |",
        DETECTORS.join(" | "),
        DETECTORS.join(" / ")
    );
    println!("|---|---|---|---|---|---|---|");
    for (tally, injection) in report.injected.iter().zip(INJECTIONS) {
        let recall: Vec<String> = (0..3)
            .map(|d| match injection.effect {
                Effect::Ramp => "-".to_owned(),
                Effect::Step => format!(
                    "{:.1} % ({:.1} %)",
                    tally.recall(d),
                    100.0 * tally.on_the_day[d] as f64 / tally.histories.max(1) as f64
                ),
                _ => format!("{:.1} %", tally.recall(d)),
            })
            .collect();
        let per_history: Vec<String> =
            tally.flags.iter().map(|&flags| format!("{:.2}", flags as f64 / tally.histories.max(1) as f64)).collect();
        println!(
            "| {} | {} | {} | {} | {:.1} % |",
            injection.name,
            tally.histories,
            recall.join(" | "),
            per_history.join(" / "),
            100.0 * tally.weekly_found as f64 / tally.histories.max(1) as f64
        );
    }
    println!();
    println!("### False alarms per 1,000 account-days by clean shape\n");
    println!("| shape | {} | dtcost week-over-week |", DETECTORS.join(" | "));
    println!("|---|---|---|---|---|");
    for (shape, name) in report.clean.iter().zip(CLEAN_SHAPES) {
        let daily = shape.flags.map(|count| shape.per_thousand_days(count));
        println!("| {name} | {} | {:.2} |", cells(daily), shape.per_thousand_days(shape.weekly));
    }
    println!();
}

/// The settings tried on the tuning seed, each varying one default.
pub fn sweep(seed: u64) {
    let defaults = Parameters::default();
    let variants: [(&str, Parameters); 9] = [
        ("defaults", defaults),
        ("threshold_sigmas 4", Parameters { threshold_sigmas: 4.0, ..defaults }),
        ("threshold_sigmas 6", Parameters { threshold_sigmas: 6.0, ..defaults }),
        ("min_relative 0.1", Parameters { min_relative: 0.1, ..defaults }),
        ("min_relative 0.3", Parameters { min_relative: 0.3, ..defaults }),
        ("window_weeks 8", Parameters { window_weeks: 8, ..defaults }),
        ("window_weeks 16", Parameters { window_weeks: 16, ..defaults }),
        ("shift_days 2", Parameters { shift_days: 2, ..defaults }),
        ("shift_days 4", Parameters { shift_days: 4, ..defaults }),
    ];
    println!("### dtcost's detector on seed {seed}, one setting changed at a time\n");
    let names: Vec<&str> = INJECTIONS.iter().filter(|i| i.effect != Effect::Ramp).map(|i| i.name).collect();
    println!("| setting | false alarms / 1,000 days | precision | {} | step findings per history |", names.join(" | "));
    println!("|---|---|---|{}---|", "---|".repeat(names.len()));
    for (name, parameters) in variants {
        let report = run(seed, &parameters);
        let recalls: Vec<String> = report
            .injected
            .iter()
            .zip(INJECTIONS)
            .filter(|(_, injection)| injection.effect != Effect::Ramp)
            .map(|(tally, _)| format!("{:.1} %", tally.recall(0)))
            .collect();
        let steps: Vec<&Injected> =
            report.injected.iter().zip(INJECTIONS).filter(|(_, i)| i.effect == Effect::Step).map(|(t, _)| t).collect();
        let step_flags = steps.iter().map(|t| t.flags[0]).sum::<usize>() as f64
            / steps.iter().map(|t| t.histories).sum::<usize>().max(1) as f64;
        println!(
            "| {name} | {:.2} | {:.1} % | {} | {step_flags:.2} |",
            false_alarms(&report).0[0],
            precision(&report, 0),
            recalls.join(" | ")
        );
    }
    println!();
}
