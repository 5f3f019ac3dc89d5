//! Cost anomalies in a daily cost series: days that depart from their recent pattern (`spike`,
//! `drop`) and weeks that grow or fall beyond the account's own week-to-week variation
//! (`week-over-week`). Pure `std`, so it is
//! tested natively and measured in `bench/backtest` (`-- anomalies`).
//!
//! # Rules
//!
//! 1. **Data.** Records whose value is not finite are ignored; records of the same day are summed;
//!    only the [`MAX_SPAN_DAYS`] days ending at the newest day are read. A day without a record is
//!    a gap: it is neither judged nor part of any baseline. Negative values (credits) and zeros are
//!    kept. Weekdays: `(day + 3) mod 7`, Monday = 0 (1970-01-01 was a Thursday).
//! 2. **Baseline of day `t`.** The days with data among the trailing `window_weeks` · 7 days before
//!    `t`, since the current regime's start (rule 6), that were not themselves out of band.
//!    Fewer than `min_history_days` of them: `t` is not judged. Else the days are grouped by
//!    weekday; over the groups of at least [`MIN_SAME_WEEKDAY`] days, `S` = Σ|v − its weekday's
//!    median| and `G` = Σ|v − the median of all days|. When `S ≤` [`SEASONAL_GAIN`] · `G` the
//!    weekly pattern explains the spread: **seasonal**, `expected` = the median of `t`'s weekday
//!    (not judged when that weekday has fewer than [`MIN_SAME_WEEKDAY`] days), the baseline
//!    `b(v)` of a day its weekday's median; otherwise **trailing**, `expected` = `b(v)` = the
//!    median of all days. The spread, over the same days: `σ_abs = 1.4826 · median |v − b(v)|`
//!    and `σ_rel = 1.4826 · median |v − b(v)| / |b(v)|` (days with `b(v) ≠ 0`), and
//!    `σ = max(σ_rel · |expected|, σ_abs)` once `expected` is final (rule 3): costs are usage
//!    times price, so their noise grows with their level, and a weekday's noise is not a
//!    weekend's; `σ_abs` keeps the band open around an expected 0. Medians and the median absolute
//!    deviation (MAD) ignore up to half the days: a spike in the window moves neither (and
//!    out-of-band days are left out besides).
//! 3. **Recent level.** The window's median lags a trend by half the window, so `expected` is
//!    multiplied by the median of `v / baseline(v)` over the window's days among the last
//!    [`RECENT_DAYS`] with a positive baseline (at least [`MIN_RECENT_DAYS`] of them, else by 1),
//!    `baseline(v)` the weekday's or the overall median as above. A trend thus moves the baseline
//!    with it (a gradual rise is the week-over-week rule's to report, not a day's).
//! 4. **Band.** `threshold = max(threshold_sigmas · σ, min_relative · |expected|, min_absolute)`:
//!    the floors keep a near-constant series (σ ≈ 0) from alarming on cents. `t` is out of band
//!    when `|cost − expected| > threshold`: above, a `spike`, below, a `drop`.
//! 5. **Episodes.** Consecutive judged days out of band in the same direction are one episode and
//!    raise one finding, on its first day (a two-day incident is one finding).
//! 6. **Level shift.** An episode of `shift_days` days is a new level, not an outlier: its finding
//!    is marked `level_shift`, and the baseline adapts. When every day of the episode has a
//!    positive cost and a positive expectation, the regime's earlier days are rescaled by the
//!    median of the episode's `cost / expected` (costs scale with usage, and so does their noise),
//!    and the episode's days join the baseline; otherwise (a fall to zero, a start from zero) the
//!    regime restarts on the episode's first day and judging resumes after `min_history_days` of
//!    it. Either way a step raises one finding, on the day it starts.
//! 7. **Week over week.** Weeks run Monday to Sunday; a week `W` is judged against each of the
//!    `week_reference_weeks` weeks before it that, with it, has at least `week_min_days` weekdays
//!    with data in both (gaps must not read as savings): `r_j` = W's cost over those weekdays
//!    divided by week `W − j`'s (positive). `r` = the median of the `r_j` (a week that was itself
//!    low or high is one of them, so a return to normal is not growth), `cost` = W's total over its
//!    days with data, `expected = cost / r`. Its log ratio `x = ln r` (`r` clamped to
//!    [e⁻⁵, e⁵]: a week at 0 is a fall, not −∞) is set against the account's own week-to-week
//!    variation: the `x` of the judged-able weeks among the `week_noise_weeks` before `W` that were
//!    not themselves out of band, at least [`WEEK_MIN_SPREAD`] of them, their median `c` (a steady
//!    trend is the account's normal) and `σ_w = 1.2533 · mean |x − c|` (the mean absolute
//!    deviation: out-of-band weeks are already left out, and on 6-26 weeks it is a steadier
//!    yardstick than the MAD, which let 2.4 findings per 1,000 clean account-days through at 3σ
//!    in the backtest, against 1.6). The band's half-width `w = t_{n−1}(Φ(k)) · σ_w`: the tail
//!    beyond `k = week_threshold_sigmas` standard deviations, as Student's t with `n − 1` degrees
//!    of freedom for the `n` weeks `σ_w` was measured on. A **growth** when
//!    `r > 1 + week_growth_percent / 100` and `x − c > w`; a **fall** when
//!    `r < 1 − week_growth_percent / 100` and `x − c < −w`; either
//!    only when `|cost − expected| ≥ week_min_absolute`. Consecutive weeks out of band in the same
//!    direction are one episode and raise one finding, on its first week; out-of-band weeks are
//!    left out of later weeks' `c` and `σ_w`.
//!
//! Everything is causal (a day's verdict reads only earlier days), so running over a longer
//! history never changes an earlier finding.

use crate::forecast::DailyCost;
use crate::statistics::{MAD_TO_SD, median, normal_cdf, student_t, weekday};

/// Days, ending at the newest one, that [`detect`] reads (three years: the baseline reads at most
/// `window_weeks` of them, the rest only bounds the memory a bogus day number could claim).
pub const MAX_SPAN_DAYS: i64 = 3 * 366;
/// Days a weekday needs in the window for its median (a median of three tolerates one outlier).
pub const MIN_SAME_WEEKDAY: usize = 3;
/// The seasonal baseline is used when the weekday medians leave at most this share of the spread
/// around the overall median: on pure noise the weekday medians, fitted to the very days they are
/// measured on, remove some of it by chance, so a pattern must remove clearly more than that (0.8 let noise pass for a pattern now and
/// then: a quarter more false alarms in the backtest, at 4σ and 8 weeks).
pub const SEASONAL_GAIN: f64 = 0.6;
/// Days before `t` whose ratio to their baseline gives the recent level (rule 3): two weeks lag a
/// trend by one, where the whole window's median lags it by half the window.
pub const RECENT_DAYS: usize = 14;
/// Days with data and a positive baseline the recent level needs; with fewer it is 1.
pub const MIN_RECENT_DAYS: usize = 5;
/// Earlier weekly log ratios a week's variation needs (rule 7): six, so that the MAD is not one
/// lucky pair of quiet weeks.
pub const WEEK_MIN_SPREAD: usize = 6;
/// A week's ratio is clamped to [e⁻⁵, e⁵] before its logarithm (rule 7).
const WEEK_LOG_CLAMP: f64 = 5.0;
/// Standard deviation of a normal sample from its mean absolute deviation (√(π/2)).
const MEAN_ABS_TO_SD: f64 = 1.253_314;
/// Below this share of the expectation's size a percentage is not meaningful (`expected` ≈ 0).
const PERCENT_FLOOR: f64 = 1e-9;

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spike,
    Drop,
    WeekOverWeek,
}

impl Kind {
    /// The `kind` of a `dps.cost.anomaly` event.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Spike => "spike",
            Kind::Drop => "drop",
            Kind::WeekOverWeek => "week-over-week",
        }
    }
}

/// One anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    /// The day (`spike`, `drop`) or the week's Monday, in days since 1970-01-01.
    pub first_day: i64,
    /// The same day, or the week's Sunday (inclusive).
    pub last_day: i64,
    /// The day's cost, or the week's over the weekdays compared.
    pub cost: f64,
    pub expected: f64,
    /// `cost − expected`.
    pub deviation: f64,
    /// `deviation / |expected|` in percent; `None` when `expected` is about 0.
    pub deviation_percent: Option<f64>,
    /// How `expected` and the threshold were computed, for a person.
    pub threshold: String,
    /// The episode went on for `shift_days` days: the cost moved to a new level that day.
    pub level_shift: bool,
}

/// The detector's settings. [`Parameters::default`] gives the defaults, with their reasons.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parameters {
    /// Weeks of trailing history a day is judged against: 12 gives twelve values per weekday (the
    /// median tolerates five outliers); the recent level (rule 3) takes care of the lag a long
    /// window has behind a trend. On the backtest's tuning seed 12 weeks cut the false alarms by
    /// a sixth against 8 (2.19 against 2.63 per 1,000 account-days) at about the same recall, and
    /// 16 little more; at 4 weeks they doubled.
    pub window_weeks: u32,
    /// Days with data the window needs before a day is judged: 21 is three of each weekday.
    pub min_history_days: u32,
    /// Width of the band in robust standard deviations: 5, tuned on the backtest's seed 2026. At
    /// 4 the false alarms were 2.5 times as many (5.5 per 1,000 account-days, two a year per
    /// account) for 12 points more recall on doubled days (86 % against 74 %); at 6 they halved
    /// (1.1) but doubled days were found only 66 % of the time.
    pub threshold_sigmas: f64,
    /// The band is at least this share of `|expected|` (0.2: a day 20 % off its usual cost is not
    /// worth a warning, however steady the series).
    pub min_relative: f64,
    /// The band is at least this amount, in the currency (1: cents never alarm).
    pub min_absolute: f64,
    /// Consecutive out-of-band days, in one direction, that make a level shift: 3 (two are still a
    /// short incident; waiting longer keeps the new level out of the baseline for longer).
    pub shift_days: u32,
    /// Week-over-week growth (or fall) that a finding needs at least, in percent: 10, the default
    /// of Dynatrace's cost monitors. On its own it fired on noise (21.6 findings per 1,000
    /// account-days of the backtest's clean histories): the week's own variation decides too.
    pub week_growth_percent: f64,
    /// Weeks before a week that it is compared with (rule 7): 4, a month; the median of four
    /// ratios ignores one odd week.
    pub week_reference_weeks: u32,
    /// Weeks of earlier log ratios a week's variation is measured on (rule 7): 26, half a year;
    /// the MAD of a dozen weeks is itself too noisy a yardstick.
    pub week_noise_weeks: u32,
    /// Width of the weekly band: the tail beyond this many standard deviations of the account's
    /// recent weekly log ratios, widened by Student's t for the few weeks they are measured on
    /// (rule 7). 2.75, tuned on the backtest's seed 2026: 1.07 findings per 1,000 clean
    /// account-days, +50 % and -50 % steps found within 14 days 82.7 % and 90.7 % of the time;
    /// 3 gave 0.55 (79.3 %, 87.7 %), 2.5 gave 2.05 (84.3 %, 92.3 %).
    pub week_threshold_sigmas: f64,
    /// Least week-over-week growth, in the currency, that raises a finding: 10, so a tiny account's
    /// pennies do not alarm.
    pub week_min_absolute: f64,
    /// Weekdays with data in both weeks that a comparison needs: 5 of 7.
    pub week_min_days: u32,
}

impl Default for Parameters {
    fn default() -> Self {
        Parameters {
            window_weeks: 12,
            min_history_days: 21,
            threshold_sigmas: 5.0,
            min_relative: 0.2,
            min_absolute: 1.0,
            shift_days: 3,
            week_growth_percent: 10.0,
            week_reference_weeks: 4,
            week_noise_weeks: 26,
            week_threshold_sigmas: 2.75,
            week_min_absolute: 10.0,
            week_min_days: 5,
        }
    }
}

/// A setting out of its range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("anomaly parameter `{name}` must be {requirement}, got {value}")]
pub struct InvalidParameter {
    pub name: &'static str,
    pub requirement: &'static str,
    pub value: f64,
}

impl Parameters {
    /// Every setting in its range, or the first that is not.
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        let checks: [(&'static str, f64, &'static str, bool); 12] = [
            ("window_weeks", f64::from(self.window_weeks), "1 to 52", (1..=52).contains(&self.window_weeks)),
            ("min_history_days", f64::from(self.min_history_days), "at least 1", self.min_history_days >= 1),
            ("threshold_sigmas", self.threshold_sigmas, "positive", self.threshold_sigmas > 0.0),
            ("min_relative", self.min_relative, "0 or more", self.min_relative >= 0.0),
            ("min_absolute", self.min_absolute, "0 or more", self.min_absolute >= 0.0),
            ("shift_days", f64::from(self.shift_days), "at least 1", self.shift_days >= 1),
            ("week_growth_percent", self.week_growth_percent, "0 or more", self.week_growth_percent >= 0.0),
            (
                "week_reference_weeks",
                f64::from(self.week_reference_weeks),
                "1 to 52",
                (1..=52).contains(&self.week_reference_weeks),
            ),
            (
                "week_noise_weeks",
                f64::from(self.week_noise_weeks),
                "1 to 52",
                (1..=52).contains(&self.week_noise_weeks),
            ),
            ("week_threshold_sigmas", self.week_threshold_sigmas, "0 or more", self.week_threshold_sigmas >= 0.0),
            ("week_min_absolute", self.week_min_absolute, "0 or more", self.week_min_absolute >= 0.0),
            ("week_min_days", f64::from(self.week_min_days), "1 to 7", (1..=7).contains(&self.week_min_days)),
        ];
        // `>=` and `>` are false for NaN, and infinities are refused here.
        match checks.into_iter().find(|&(_, value, _, ok)| !ok || !value.is_finite()) {
            Some((name, value, requirement, _)) => Err(InvalidParameter { name, requirement, value }),
            None => Ok(()),
        }
    }
}

/// The anomalies of `history` (any order; gaps, repeats, zeros, credits and non-finite values
/// allowed), ordered by day, daily findings before the week's on the same day.
pub fn detect(history: &[DailyCost], parameters: &Parameters) -> Result<Vec<Finding>, InvalidParameter> {
    parameters.validate()?;
    let Some(series) = Series::of(history) else {
        return Ok(Vec::new());
    };
    let mut findings = Judge::new(&series, parameters).run();
    findings.extend(week_over_week(&series, parameters));
    findings.sort_by_key(|finding| (finding.first_day, finding.kind == Kind::WeekOverWeek));
    Ok(findings)
}

/// One value per calendar day from `first_day` to the newest, `None` on a gap.
struct Series {
    first_day: i64,
    values: Vec<Option<f64>>,
}

impl Series {
    fn of(history: &[DailyCost]) -> Option<Series> {
        let finite = || history.iter().filter(|record| record.value.is_finite());
        let newest = finite().map(|record| record.day).max()?;
        let oldest = newest.saturating_sub(MAX_SPAN_DAYS - 1);
        let first_day = finite().map(|record| record.day).filter(|&day| day >= oldest).min()?;
        let span = usize::try_from(newest - first_day + 1).ok()?;
        let mut values = vec![None; span];
        for record in finite().filter(|record| record.day >= first_day) {
            let slot = &mut values[(record.day - first_day) as usize];
            *slot = Some(slot.unwrap_or(0.0) + record.value);
        }
        // Finite values can sum to an infinite day: it is left out like a non-finite record.
        values.iter_mut().for_each(|value| *value = value.filter(|sum| sum.is_finite()));
        Some(Series { first_day, values })
    }

    fn weekday(&self, index: usize) -> usize {
        weekday(self.first_day + index as i64)
    }
}

const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// What a day is judged against.
struct Expectation {
    expected: f64,
    /// The recent level's factor `expected` includes.
    level: f64,
    sigma: f64,
    threshold: f64,
    /// The weekday of a seasonal baseline, and the days of that weekday in the window.
    seasonal: Option<(usize, usize)>,
    /// Days the spread was measured on.
    spread_days: usize,
}

/// An episode under way: consecutive out-of-band days in one direction.
struct Episode {
    above: bool,
    /// Index of its finding in the findings so far.
    finding: usize,
    first: usize,
    /// `(cost, expected)` of its days.
    days: Vec<(f64, f64)>,
}

/// The daily judge: walks the series once, keeping the baseline's state.
struct Judge<'a> {
    series: &'a Series,
    parameters: &'a Parameters,
    /// The values the baseline reads: the series', rescaled at level shifts.
    adjusted: Vec<Option<f64>>,
    /// Out-of-band days, kept out of the baseline.
    excluded: Vec<bool>,
    regime_start: usize,
    /// Scratch buffers, reused for every day.
    by_weekday: [Vec<f64>; 7],
    scratch: Vec<f64>,
    relative: Vec<f64>,
}

impl<'a> Judge<'a> {
    fn new(series: &'a Series, parameters: &'a Parameters) -> Self {
        Judge {
            series,
            parameters,
            adjusted: series.values.clone(),
            excluded: vec![false; series.values.len()],
            regime_start: 0,
            by_weekday: Default::default(),
            scratch: Vec::new(),
            relative: Vec::new(),
        }
    }

    fn run(mut self) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut episode: Option<Episode> = None;
        for t in 0..self.series.values.len() {
            let Some(cost) = self.series.values[t] else { continue };
            let Some(expectation) = self.expectation(t) else {
                episode = None;
                continue;
            };
            let deviation = cost - expectation.expected;
            if deviation.abs() <= expectation.threshold {
                episode = None;
                continue;
            }
            self.excluded[t] = true;
            let above = deviation > 0.0;
            match &mut episode {
                Some(going) if going.above == above => going.days.push((cost, expectation.expected)),
                _ => {
                    findings.push(self.finding(t, cost, &expectation));
                    episode = Some(Episode {
                        above,
                        finding: findings.len() - 1,
                        first: t,
                        days: vec![(cost, expectation.expected)],
                    });
                }
            }
            if let Some(going) = episode.take_if(|going| going.days.len() >= self.parameters.shift_days as usize) {
                findings[going.finding].level_shift = true;
                self.rebaseline(&going, t);
            }
        }
        findings
    }

    /// The baseline of day `t`, or `None` when `t` cannot be judged (too little history).
    fn expectation(&mut self, t: usize) -> Option<Expectation> {
        let window_days = self.parameters.window_weeks as usize * 7;
        let start = t.saturating_sub(window_days).max(self.regime_start);
        self.by_weekday.iter_mut().for_each(Vec::clear);
        for s in start..t {
            if let (Some(value), false) = (self.adjusted[s], self.excluded[s]) {
                self.by_weekday[self.series.weekday(s)].push(value);
            }
        }
        let days: usize = self.by_weekday.iter().map(Vec::len).sum();
        if days < self.parameters.min_history_days as usize {
            return None;
        }
        let mut weekday_medians = [f64::NAN; 7];
        for (group, center) in self.by_weekday.iter_mut().zip(&mut weekday_medians) {
            *center = median(group).unwrap_or(f64::NAN);
        }
        self.scratch.clear();
        self.by_weekday.iter().for_each(|group| self.scratch.extend_from_slice(group));
        let overall = median(&mut self.scratch).unwrap_or(f64::NAN);
        let full = |group: &&Vec<f64>| group.len() >= MIN_SAME_WEEKDAY;
        let (mut around_weekday, mut around_overall) = (0.0, 0.0);
        for (group, center) in self.by_weekday.iter().zip(weekday_medians).filter(|(group, _)| full(group)) {
            around_weekday += group.iter().map(|value| (value - center).abs()).sum::<f64>();
            around_overall += group.iter().map(|value| (value - overall).abs()).sum::<f64>();
        }
        let patterned =
            self.by_weekday.iter().any(|group| full(&group)) && around_weekday <= SEASONAL_GAIN * around_overall;
        let day_weekday = self.series.weekday(t);
        let (expected, seasonal) = if patterned {
            let same = self.by_weekday[day_weekday].len();
            if same < MIN_SAME_WEEKDAY {
                return None;
            }
            (weekday_medians[day_weekday], Some((day_weekday, same)))
        } else {
            (overall, None)
        };
        // The spread, absolute and relative to each day's baseline (rule 2).
        self.scratch.clear();
        self.relative.clear();
        for (group, weekday_median) in self.by_weekday.iter().zip(weekday_medians) {
            let center = if patterned { weekday_median } else { overall };
            if patterned && !full(&group) {
                continue;
            }
            for value in group {
                self.scratch.push((value - center).abs());
                if center != 0.0 {
                    self.relative.push((value - center).abs() / center.abs());
                }
            }
        }
        let spread_days = self.scratch.len();
        let absolute = MAD_TO_SD * median(&mut self.scratch).unwrap_or(f64::NAN);
        let relative =
            if self.relative.is_empty() { 0.0 } else { MAD_TO_SD * median(&mut self.relative).unwrap_or(f64::NAN) };
        // The recent level: the median ratio of the last days to their baseline (rule 3).
        self.scratch.clear();
        for s in start.max(t.saturating_sub(RECENT_DAYS))..t {
            let center = if patterned { weekday_medians[self.series.weekday(s)] } else { overall };
            if let (Some(value), false, true) = (self.adjusted[s], self.excluded[s], center > 0.0) {
                self.scratch.push(value / center);
            }
        }
        let level =
            if self.scratch.len() >= MIN_RECENT_DAYS { median(&mut self.scratch).unwrap_or(f64::NAN) } else { 1.0 };
        let expected = expected * level;
        let sigma = absolute.max(relative * expected.abs());
        let parameters = self.parameters;
        let threshold = (parameters.threshold_sigmas * sigma)
            .max(parameters.min_relative * expected.abs())
            .max(parameters.min_absolute);
        Some(Expectation { expected, level, sigma, threshold, seasonal, spread_days })
    }

    fn finding(&self, t: usize, cost: f64, expectation: &Expectation) -> Finding {
        let parameters = self.parameters;
        let weeks = parameters.window_weeks;
        let expected_text = match expectation.seasonal {
            Some((weekday, same)) => format!(
                "the median of the {same} {}s with data in the trailing {weeks} weeks (weekly pattern)",
                WEEKDAYS[weekday]
            ),
            None => {
                format!("the median of the {} days with data in the trailing {weeks} weeks", expectation.spread_days)
            }
        };
        let level = expectation.level;
        let center = if expectation.seasonal.is_some() { "its weekday's median" } else { "that median" };
        let expected = expectation.expected;
        let day = self.series.first_day + t as i64;
        Finding {
            kind: if cost > expected { Kind::Spike } else { Kind::Drop },
            first_day: day,
            last_day: day,
            cost,
            expected,
            deviation: cost - expected,
            deviation_percent: percent(cost - expected, expected),
            threshold: format!(
                "expected: {expected_text} x {level:.3} (the last {RECENT_DAYS} days' median ratio to that baseline), \
                 earlier outliers left out; threshold ±{:.2}: the largest of {} x {:.2} \
                 (the robust deviation of {} days from {center}, absolute or relative to it, whichever is larger), \
                 {} % of expected, {:.2}",
                expectation.threshold,
                parameters.threshold_sigmas,
                expectation.sigma,
                expectation.spread_days,
                parameters.min_relative * 100.0,
                parameters.min_absolute
            ),
            level_shift: false,
        }
    }

    /// Adapts the baseline to the level `episode` (ending on day `last`) moved to.
    fn rebaseline(&mut self, episode: &Episode, last: usize) {
        let positive = episode.days.iter().all(|&(cost, expected)| cost > 0.0 && expected > 0.0);
        self.scratch.clear();
        self.scratch.extend(episode.days.iter().map(|&(cost, expected)| cost / expected));
        let ratio = median(&mut self.scratch).unwrap_or(f64::NAN);
        if positive && ratio.is_finite() {
            for value in self.adjusted[self.regime_start..episode.first].iter_mut().flatten() {
                *value *= ratio;
            }
        } else {
            self.regime_start = episode.first;
        }
        self.excluded[episode.first..=last].iter_mut().for_each(|excluded| *excluded = false);
    }
}

fn percent(deviation: f64, expected: f64) -> Option<f64> {
    (expected.abs() > PERCENT_FLOOR * deviation.abs().max(1.0)).then(|| 100.0 * deviation / expected.abs())
}

/// One week compared with the weeks before it (rule 7).
struct WeekRatio {
    /// W's total over its days with data.
    cost: f64,
    /// The median of its ratios to the reference weeks.
    ratio: f64,
    /// Reference weeks compared.
    weeks: usize,
}

/// Week `monday`'s ratio to the reference weeks before it, or `None` when none of them shares
/// `week_min_days` weekdays with data and a positive cost.
fn week_ratio(
    values: &[Option<f64>],
    monday: usize,
    parameters: &Parameters,
    scratch: &mut Vec<f64>,
) -> Option<WeekRatio> {
    scratch.clear();
    for j in 1..=parameters.week_reference_weeks as usize {
        let Some(earlier) = monday.checked_sub(7 * j) else { break };
        let (mut now, mut before, mut matched) = (0.0, 0.0, 0);
        for day in 0..7 {
            if let (Some(a), Some(b)) = (values[monday + day], values[earlier + day]) {
                now += a;
                before += b;
                matched += 1;
            }
        }
        if matched >= parameters.week_min_days && before > 0.0 {
            scratch.push(now / before);
        }
    }
    if scratch.is_empty() {
        return None;
    }
    let weeks = scratch.len();
    let ratio = median(scratch).unwrap_or(f64::NAN);
    let cost = values[monday..monday + 7].iter().flatten().sum();
    Some(WeekRatio { cost, ratio, weeks })
}

/// The week-over-week findings (rule 7).
fn week_over_week(series: &Series, parameters: &Parameters) -> Vec<Finding> {
    let values = &series.values;
    // Indices, not days: the newest day may be near `i64::MAX`.
    let first_monday = (7 - series.weekday(0)) % 7;
    let growth = parameters.week_growth_percent;
    let k = parameters.week_threshold_sigmas;
    let window = parameters.week_noise_weeks as usize;
    let mut scratch = Vec::new();
    let mut spread = Vec::new();
    // The log ratio of every week so far that had one and was in band.
    let mut history: Vec<f64> = Vec::new();
    let mut episode: Option<bool> = None;
    let mut findings = Vec::new();
    let mut monday = first_monday + 7;
    while monday + 6 < values.len() {
        let Some(week) = week_ratio(values, monday, parameters, &mut scratch) else {
            episode = None;
            monday += 7;
            continue;
        };
        let x = week.ratio.clamp((-WEEK_LOG_CLAMP).exp(), WEEK_LOG_CLAMP.exp()).ln();
        let recent = &history[history.len().saturating_sub(window)..];
        let mut out = None;
        if recent.len() >= WEEK_MIN_SPREAD {
            spread.clear();
            spread.extend_from_slice(recent);
            let center = median(&mut spread).unwrap_or(f64::NAN);
            spread.iter_mut().for_each(|value| *value = (*value - center).abs());
            let sigma = MEAN_ABS_TO_SD * spread.iter().sum::<f64>() / spread.len() as f64;
            let expected = week.cost / week.ratio;
            let deviation = week.cost - expected;
            // `k` standard deviations' tail, with the yardstick's own uncertainty (Student's t).
            let width = student_t(normal_cdf(k), (recent.len() - 1) as f64) * sigma;
            let up = week.ratio > 1.0 + growth / 100.0 && x - center > width;
            let down = week.ratio < 1.0 - growth / 100.0 && x - center < -width;
            if (up || down) && deviation.abs() >= parameters.week_min_absolute && expected.is_finite() {
                out = Some(up);
                if episode != Some(up) {
                    let first_day = series.first_day + monday as i64;
                    let band = |sign: f64| (center + sign * width).exp();
                    findings.push(Finding {
                        kind: Kind::WeekOverWeek,
                        first_day,
                        last_day: first_day + 6,
                        cost: week.cost,
                        expected,
                        deviation,
                        deviation_percent: percent(deviation, expected),
                        threshold: format!(
                            "expected: the week's cost at the median of its ratios to the {} weeks before (each over \
                             the weekdays with data in both); threshold: more than {growth} % {} and outside {:.3}-{:.3} \
                             times, the account's usual week-to-week ratio ({:.3}) ± the {k}-σ tail of its variation over the last \
                             {} weeks, and at least {:.2} apart",
                            week.weeks,
                            if up { "above" } else { "below" },
                            band(-1.0),
                            band(1.0),
                            center.exp(),
                            recent.len(),
                            parameters.week_min_absolute
                        ),
                        level_shift: false,
                    });
                }
            }
        }
        episode = out;
        if out.is_none() {
            history.push(x);
        }
        monday += 7;
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-01, a Monday (day 19,723 since 1970-01-01).
    const MONDAY: i64 = 19_723;

    /// A deterministic uniform generator in [0, 1) (Knuth's MMIX LCG, top 53 bits).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1_u64 << 53) as f64
        }

        /// `1 ± spread`, uniform.
        fn noise(&mut self, spread: f64) -> f64 {
            1.0 + spread * (2.0 * self.next() - 1.0)
        }
    }

    fn history(values: &[f64]) -> Vec<DailyCost> {
        values.iter().enumerate().map(|(i, &value)| DailyCost { day: MONDAY + i as i64, value }).collect()
    }

    /// `days` of a weekly pattern (100 on weekdays, 40 at weekends) with ±10 % noise.
    fn weekly(days: usize, seed: u64) -> Vec<f64> {
        let mut random = Lcg(seed);
        (0..days).map(|i| if i % 7 >= 5 { 40.0 } else { 100.0 } * random.noise(0.1)).collect()
    }

    fn findings(values: &[f64]) -> Vec<Finding> {
        detect(&history(values), &Parameters::default()).expect("default parameters are valid")
    }

    fn daily(findings: &[Finding]) -> Vec<&Finding> {
        findings.iter().filter(|finding| finding.kind != Kind::WeekOverWeek).collect()
    }

    #[test]
    fn a_single_spike_in_a_noisy_weekly_series_is_exactly_one_spike() {
        let mut values = weekly(120, 7);
        // A Saturday (weekend level 40) at 130: far under a weekday's cost, far over a Saturday's.
        values[89] = 130.0;
        let all = findings(&values);
        let found = daily(&all);
        assert_eq!(found.len(), 1, "{found:#?}");
        let spike = found[0];
        assert_eq!((spike.kind, spike.first_day, spike.level_shift), (Kind::Spike, MONDAY + 89, false));
        assert!((spike.expected - 40.0).abs() < 4.0, "a Saturday's cost is expected: {}", spike.expected);
        assert!((spike.deviation - (130.0 - spike.expected)).abs() < 1e-9);
        assert!(spike.deviation_percent.is_some_and(|percent| percent > 150.0));
        assert!(spike.threshold.contains("Saturdays"), "{}", spike.threshold);
    }

    #[test]
    fn spikes_do_not_poison_the_baseline() {
        let mut values = weekly(150, 11);
        // Three spikes within one window, then a spike of the same size two weeks later.
        for day in [70, 78, 86, 100] {
            values[day] = 500.0;
        }
        let found: Vec<(Kind, i64)> =
            daily(&findings(&values)).iter().map(|f| (f.kind, f.first_day - MONDAY)).collect();
        assert_eq!(found, [(Kind::Spike, 70), (Kind::Spike, 78), (Kind::Spike, 86), (Kind::Spike, 100)]);
    }

    #[test]
    fn a_step_up_raises_one_finding_on_the_day_it_starts() {
        let mut values = weekly(200, 3);
        values[100..].iter_mut().for_each(|value| *value *= 2.0);
        let found = daily(&findings(&values)).into_iter().cloned().collect::<Vec<_>>();
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].kind, found[0].first_day, found[0].level_shift), (Kind::Spike, MONDAY + 100, true));
    }

    #[test]
    fn a_step_down_to_zero_raises_one_drop_and_judging_resumes_on_the_new_level() {
        let mut values = weekly(200, 5);
        values[100..].iter_mut().for_each(|value| *value = 0.0);
        // Back on: a day of spend after a long run of zeros is a spike against the new level.
        values[160] = 50.0;
        let found: Vec<(Kind, i64, bool)> =
            daily(&findings(&values)).iter().map(|f| (f.kind, f.first_day - MONDAY, f.level_shift)).collect();
        assert_eq!(found, [(Kind::Drop, 100, true), (Kind::Spike, 160, false)]);
    }

    #[test]
    fn a_smooth_trend_raises_none() {
        // Eightfold over a year, with a weekly pattern and ±5 % noise: no day, no week stands out
        // (a week grows 4 % on the week before; the window's median lags the trend by ~16 %, the
        // recent level catches up).
        for seed in [17, 18, 19, 20, 21] {
            let mut random = Lcg(seed);
            let values: Vec<f64> = (0..365)
                .map(|i| {
                    let weekly = if i % 7 >= 5 { 0.5 } else { 1.0 };
                    100.0 * (8.0_f64.ln() * i as f64 / 365.0).exp() * weekly * random.noise(0.05)
                })
                .collect();
            assert_eq!(findings(&values), [], "seed {seed}");
        }
    }

    /// Twelve flat weeks of 100 a day, then weeks of `100 · (1 + growth)`.
    fn weeks_then_growth(growth: f64) -> Vec<f64> {
        (0..126).map(|i| if i < 84 { 100.0 } else { 100.0 * (1.0 + growth) }).collect()
    }

    #[test]
    fn week_over_week_growth_of_15_percent_is_one_finding() {
        // Over a steady cost the week-to-week variation is 0: the percentage decides, and the weeks
        // the new level stays out of band (its ratio to the four weeks before) are one episode.
        let found = findings(&weeks_then_growth(0.15));
        assert_eq!(found.len(), 1, "{found:#?}");
        let week = &found[0];
        assert_eq!((week.kind, week.first_day, week.last_day), (Kind::WeekOverWeek, MONDAY + 84, MONDAY + 90));
        assert!((week.cost - 805.0).abs() < 1e-9 && (week.expected - 700.0).abs() < 1e-9);
        assert!((week.deviation - 105.0).abs() < 1e-9);
        assert!(week.deviation_percent.is_some_and(|percent| (percent - 15.0).abs() < 1e-9));
        assert!(week.threshold.contains("the 4 weeks before"), "{}", week.threshold);
    }

    #[test]
    fn week_over_week_growth_of_5_percent_is_none() {
        assert_eq!(findings(&weeks_then_growth(0.05)), []);
    }

    #[test]
    fn week_over_week_growth_under_the_minimum_amount_is_none() {
        // 15 % of a cent-sized account: 0.105 more in a week.
        let cents: Vec<f64> = weeks_then_growth(0.15).iter().map(|value| value / 1000.0).collect();
        assert_eq!(findings(&cents), []);
    }

    /// `days` of log-normal-like noise of about `spread` around 100, with zero days, by `seed`.
    fn noisy(days: usize, spread: f64, zeros: f64, seed: u64) -> Vec<f64> {
        let mut random = Lcg(seed);
        (0..days).map(|_| if random.next() < zeros { 0.0 } else { 100.0 * random.noise(spread) }).collect()
    }

    fn weekly_findings(values: &[f64]) -> Vec<Finding> {
        findings(values).into_iter().filter(|finding| finding.kind == Kind::WeekOverWeek).collect()
    }

    #[test]
    fn noise_is_not_week_over_week_growth() {
        // ±80 % uniform daily noise (a coefficient of variation of 46 %) and one day in ten at 0,
        // eight years of it: weeks 20-40 % apart are this account's normal. The fixed 10 % alone
        // (the rule before issue #24) flagged about one week in three.
        let (mut old_rule, mut found) = (0, Vec::new());
        for seed in 1..=8 {
            let values = noisy(364, 0.8, 0.1, seed);
            let week = |w: usize| values[w * 7..w * 7 + 7].iter().sum::<f64>();
            old_rule += (1..52).filter(|&w| week(w) > 1.1 * week(w - 1)).count();
            found.extend(weekly_findings(&values));
        }
        assert!(old_rule > 100, "the noise crosses 10 % often: {old_rule} weeks of 408");
        // The target: at most 2 findings per 1,000 account-days.
        assert!(found.len() * 1000 <= 2 * 8 * 364, "{} findings: {found:#?}", found.len());
    }

    #[test]
    fn a_week_back_to_normal_after_a_low_one_is_not_growth() {
        // ±30 % noise, one week at 70 %: the week after is +40 % on it, but level with the month.
        let mut values = noisy(200, 0.3, 0.0, 41);
        values[140..147].iter_mut().for_each(|value| *value *= 0.7);
        let weekly = weekly_findings(&values);
        assert!(weekly.iter().all(|week| week.first_day != MONDAY + 147), "{weekly:#?}");
    }

    #[test]
    fn a_lasting_fall_by_half_is_one_week_over_week_finding() {
        // ±20 % noise, from a Wednesday on half the cost: one fall, in the week it starts or the next.
        let mut values = noisy(200, 0.2, 0.0, 43);
        values[150..].iter_mut().for_each(|value| *value *= 0.5);
        let weekly = weekly_findings(&values);
        assert_eq!(weekly.len(), 1, "{weekly:#?}");
        assert!(weekly[0].deviation < 0.0, "{weekly:#?}");
        assert!([MONDAY + 147, MONDAY + 154].contains(&weekly[0].first_day), "{weekly:#?}");
        assert!(weekly[0].deviation_percent.is_some_and(|percent| percent < -20.0), "{weekly:#?}");
    }

    #[test]
    fn too_little_history_is_never_judged() {
        // Twenty days: one short of the minimum, however wild the last one.
        let mut values = vec![100.0; 20];
        values[19] = 10_000.0;
        assert_eq!(findings(&values), []);
        assert_eq!(findings(&[]), []);
    }

    #[test]
    fn a_near_constant_series_does_not_alarm_on_cents() {
        let mut random = Lcg(23);
        let values: Vec<f64> = (0..120).map(|_| 100.0 + 0.01 * random.next()).collect();
        let mut bumped = values.clone();
        bumped[90] += 5.0;
        assert_eq!(findings(&bumped), []);
        // Under the relative floor, a day 30 % off is still a finding.
        bumped[100] *= 1.3;
        assert_eq!(daily(&findings(&bumped)).len(), 1);
    }

    #[test]
    fn zeros_and_gaps_are_handled() {
        // Weekends off (zero), and one day in five missing: no finding.
        let mut random = Lcg(29);
        let mut records: Vec<DailyCost> = (0..200)
            .map(|i| DailyCost { day: MONDAY + i, value: if i % 7 >= 5 { 0.0 } else { 100.0 * random.noise(0.1) } })
            .collect();
        records.retain(|_| random.next() >= 0.2);
        let parameters = Parameters::default();
        assert_eq!(detect(&records, &parameters), Ok(Vec::new()));
        // Spend on a Sunday is a spike, against an expected 0 (no percentage).
        let sunday = 20 * 7 + 6;
        records.retain(|record| record.day != MONDAY + sunday);
        records.push(DailyCost { day: MONDAY + sunday, value: 80.0 });
        // (Its week grew by it too: a week-over-week finding the events leave out, as the spike's.)
        let all = detect(&records, &parameters).expect("valid");
        let found = daily(&all);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!((found[0].kind, found[0].first_day, found[0].expected), (Kind::Spike, MONDAY + sunday, 0.0));
        assert_eq!(found[0].deviation_percent, None);
    }

    #[test]
    fn a_gap_in_a_week_compares_only_the_weekdays_with_data_in_both() {
        // The eleventh week misses its Monday: it is not read as a saving, nor the next as growth.
        let mut records = history(&[100.0; 140]);
        records.retain(|record| record.day != MONDAY + 77);
        assert_eq!(detect(&records, &Parameters::default()), Ok(Vec::new()));
    }

    #[test]
    fn nan_infinite_and_negative_values_do_not_panic() {
        let mut values = weekly(120, 31);
        values[40] = f64::NAN;
        values[41] = f64::INFINITY;
        values[42] = f64::NEG_INFINITY;
        // A credit: a negative day is a drop.
        values[60] = -250.0;
        let mut records = history(&values);
        // Two finite records of one day that overflow together.
        records.push(DailyCost { day: MONDAY + 70, value: f64::MAX });
        records.push(DailyCost { day: MONDAY + 70, value: f64::MAX });
        let found = detect(&records, &Parameters::default()).expect("valid");
        let drops: Vec<i64> = found.iter().filter(|f| f.kind == Kind::Drop).map(|f| f.first_day - MONDAY).collect();
        assert_eq!(drops, [60]);
        assert!(found.iter().all(|f| f.cost.is_finite() && f.expected.is_finite()), "{found:#?}");
        let nothing_usable = [DailyCost { day: 1, value: f64::NAN }, DailyCost { day: i64::MAX, value: f64::INFINITY }];
        assert_eq!(detect(&nothing_usable, &Parameters::default()), Ok(Vec::new()));
        let far_apart = [DailyCost { day: i64::MIN, value: 1.0 }, DailyCost { day: i64::MAX, value: 1.0 }];
        assert_eq!(detect(&far_apart, &Parameters::default()), Ok(Vec::new()));
    }

    #[test]
    fn an_earlier_finding_does_not_change_when_history_grows() {
        let mut values = weekly(200, 37);
        values[60] = 400.0;
        values[120..].iter_mut().for_each(|value| *value *= 0.5);
        values[150] = 5.0;
        let full = findings(&values);
        assert!(daily(&full).len() >= 3, "{full:#?}");
        // Only whether an episode became a level shift can change, once its later days are known.
        let unmarked = |finding: &Finding| Finding { level_shift: false, ..finding.clone() };
        for end in [61, 100, 121, 151, 180] {
            let prefix: Vec<Finding> = findings(&values[..end]).iter().map(unmarked).collect();
            let earlier: Vec<Finding> =
                full.iter().filter(|finding| finding.last_day < MONDAY + end as i64).map(unmarked).collect();
            assert_eq!(prefix, earlier, "history ending on day {end}");
        }
    }

    #[test]
    fn parameters_out_of_range_are_refused_by_name() {
        let refused = |parameters: Parameters| detect(&[], &parameters).map_err(|error| error.name);
        let defaults = Parameters::default();
        assert_eq!(refused(Parameters { window_weeks: 0, ..defaults }), Err("window_weeks"));
        assert_eq!(refused(Parameters { threshold_sigmas: f64::NAN, ..defaults }), Err("threshold_sigmas"));
        assert_eq!(refused(Parameters { min_absolute: f64::INFINITY, ..defaults }), Err("min_absolute"));
        assert_eq!(refused(Parameters { week_min_days: 8, ..defaults }), Err("week_min_days"));
        let message = detect(&[], &Parameters { min_relative: -1.0, ..defaults }).unwrap_err().to_string();
        assert_eq!(message, "anomaly parameter `min_relative` must be 0 or more, got -1");
    }
}
