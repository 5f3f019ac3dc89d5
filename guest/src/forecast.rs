//! Projection of a subscription's cost to the end of its commitment period, and of the day its
//! budget runs out, from the daily booked cost. Pure `std`, so it is tested natively.
//!
//! # Model `trailing-28d-weekday-trend-v1`
//!
//! 1. **Data.** Records whose value is not finite are ignored; records of the same day are summed.
//!    `T` is the newest day left. The window is the [`WINDOW_DAYS`] = 28 calendar days
//!    `T-27 ..= T`; older records are ignored. A day of the window without a record is a gap
//!    (missing data, not zero spend) and is left out of every statistic; negative values (credits)
//!    are kept. `n` is the number of days with data in the window and `v(t)` the cost of day `t`
//!    (days since 1970-01-01).
//! 2. **Burn rate.** `burn_rate` = mean of the `n` values. With `n <` [`MIN_DAYS`] = 15, or a
//!    `cost_to_date` that is not finite, the outcome is [`Outcome::InsufficientData`].
//! 3. **Fit.** Day `t` is modelled as `m(t) = (a + b·t) · f[wd(t)]`, where `wd(t) = (t + 3) mod 7`
//!    is the weekday (Monday = 0; 1970-01-01 was a Thursday) and `f` a multiplicative weekday
//!    profile. Starting from `f ≡ 1`, two least-squares steps alternate until the parameters stop
//!    changing (by less than 1e-13 relative to the largest `|v|`; at most 200 rounds):
//!    - *line*: `a`, `b` minimise `Σ (v(t) − (a + b·t)·f[wd(t)])²`, i.e. the least-squares line
//!      through the deseasonalised values `v(t) / f[wd(t)]` weighted by `f[wd(t)]²` (a weekday
//!      without spend, `f = 0`, then carries no weight instead of dividing by zero);
//!    - *profile*: for each weekday `w` with data, `f[w] = Σ v(t)·L(t) / Σ L(t)²` over its days,
//!      where `L(t) = a + b·t`; a negative factor becomes 0; the factors are divided by their mean,
//!      so they average 1; a weekday without data (or with `L = 0` on all its days) gets 1.
//!      If no factor is positive, the profile is dropped (`f ≡ 1`).
//!
//!    A history that follows the model exactly is a fixed point of both steps, so it is reproduced
//!    exactly. A pure weekly pattern, for instance, gives `b = 0` and `f[w]` = (mean of weekday
//!    `w`) / (mean of the weekday means).
//! 4. **Trend test.** `s² = Σ (v(t) − m(t))² / (n − 2)` (`s = 0` when `n ≤ 2`) and
//!    `se_b = s / √(Σ f[wd(t)]²·(t − t̄)²)`, the standard error of `b` in the weighted fit, with
//!    `t̄ = Σ f[wd(t)]²·t / Σ f[wd(t)]²`. The trend is kept when `|b| > 2·se_b` (so an exact line
//!    with `b ≠ 0` keeps it). Otherwise `b = 0`, step 3 is redone with the level `a` alone (`a` is
//!    then the `f²`-weighted mean of the deseasonalised values) and `s` is recomputed from the
//!    residuals of that fit, still over `n − 2`.
//! 5. **Projection.** For each of the `N` remaining days `d = T+1 ..= period_end_day`,
//!    `daily(d) = max(0, (a + b·d)·f[wd(d)])`, and `projected = cost_to_date + Σ daily(d)`. When
//!    `T ≥ period_end_day` nothing remains: `projected = lower = upper = cost_to_date`.
//! 6. **Band (90 %).** `Var = N·s² + N²·s²/n + (Σ_d (d − t̄))²·se_b²`: daily noise, uncertainty of
//!    the level and, only when the trend is kept, of the slope. `lower = max(cost_to_date,
//!    projected − 1.645·√Var)`, `upper = projected + 1.645·√Var`.
//! 7. **Budget.** Without a budget (`budget ≤ 0` or not finite) both exhaustion days are `None`.
//!    When `cost_to_date ≥ budget` already, both are `T`. Otherwise `budget_exhausted_day` is the
//!    first remaining day `d` with `cost_to_date + Σ_{T<e≤d} daily(e) ≥ budget`, `None` when there
//!    is none through `period_end_day`; `budget_exhausted_day_earliest` is the same with every
//!    `daily(e)` scaled by `(upper − cost_to_date) / (projected − cost_to_date)` (unscaled when
//!    `projected = cost_to_date`).

/// One day of booked cost. `day` counts days since 1970-01-01 (UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyCost {
    pub day: i64,
    pub value: f64,
}

/// What a forecast is made from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForecastInput<'a> {
    /// Daily costs, any order; days may be missing (gaps) and may repeat (repeats are summed).
    pub history: &'a [DailyCost],
    /// Last day of the period (inclusive).
    pub period_end_day: i64,
    /// Cost already used in the period (the subscription's `budget.used`), the projection's start.
    pub cost_to_date: f64,
    /// The budget (commitment) of the period; 0 or less means "no budget" (no exhaustion date).
    pub budget: f64,
}

/// The projection of one subscription's period.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// Days with data in the trailing window the model was fitted on.
    pub days_of_data: u32,
    /// Mean daily cost over the trailing window (currency units per day).
    pub burn_rate: f64,
    /// Projected cost at the end of the period: median and a 90 % band (lower <= median <= upper;
    /// lower >= cost_to_date).
    pub projected: f64,
    /// Lower end of the 90 % band, never below `cost_to_date`.
    pub lower: f64,
    /// Upper end of the 90 % band.
    pub upper: f64,
    /// First day on which the median projection reaches the budget; `None` when it stays within the
    /// budget through `period_end_day` or there is no budget. When `cost_to_date >= budget` already,
    /// the newest day of the history.
    pub budget_exhausted_day: Option<i64>,
    /// Same, for the upper band (the earliest plausible exhaustion), `None` likewise.
    pub budget_exhausted_day_earliest: Option<i64>,
}

/// The result of [`forecast`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Forecast(Forecast),
    /// Fewer than `MIN_DAYS` days with data in the trailing window (Dynatrace's own forecast also
    /// needs 15 days), or a `cost_to_date` that is not finite. `burn_rate` is the window's mean
    /// daily cost when it has at least one day with data.
    InsufficientData {
        days_of_data: u32,
        burn_rate: Option<f64>,
    },
}

/// Days with data the trailing window needs for a forecast.
pub const MIN_DAYS: u32 = 15;
/// Length of the trailing window, in calendar days ending at the newest day of the history.
pub const WINDOW_DAYS: i64 = 28;
/// Identifier of the model described in the module documentation; changes when the model does.
pub const MODEL: &str = "trailing-28d-weekday-trend-v1";

/// Two-sided 90 % quantile of the normal distribution.
const Z_90: f64 = 1.645;
/// The alternating fit usually settles in a few rounds; the bound only guards against cycling.
const MAX_ROUNDS: usize = 200;
/// Values are scaled to a largest magnitude in [1, 2), so this is relative to the largest |v|.
const SETTLED: f64 = 1e-13;

/// Projects the cost at the end of the period and the budget's exhaustion day (see the module
/// documentation for the model).
pub fn forecast(input: &ForecastInput<'_>) -> Outcome {
    let Some(window) = Window::trailing(input.history) else {
        return Outcome::InsufficientData { days_of_data: 0, burn_rate: None };
    };
    let days_of_data = u32::try_from(window.points.len()).unwrap_or(u32::MAX);
    let burn_rate = window.mean() * window.scale;
    if days_of_data < MIN_DAYS || !input.cost_to_date.is_finite() {
        return Outcome::InsufficientData { days_of_data, burn_rate: Some(burn_rate) };
    }
    let fit = Fit::of(&window.points);
    Outcome::Forecast(project(input, &window, &fit, days_of_data, burn_rate))
}

/// A day of the window, in the units the fit works in.
#[derive(Debug, Clone, Copy)]
struct Point {
    /// Day relative to the newest day (-27 ..= 0): keeps the line's intercept near the data, where
    /// it is well conditioned, instead of ~20 000 days away at the epoch.
    offset: f64,
    weekday: usize,
    /// The day's cost divided by `Window::scale`.
    value: f64,
}

/// The trailing window of a history: its days with data, newest day and scale.
#[derive(Debug)]
struct Window {
    newest: i64,
    points: Vec<Point>,
    /// A power of two close to the largest |value|: the fit squares values, and scaling keeps the
    /// squares of even absurd costs finite while staying exact (only the exponent changes).
    scale: f64,
}

impl Window {
    /// `None` when the history has no day with a finite cost in its trailing window.
    fn trailing(history: &[DailyCost]) -> Option<Self> {
        let newest = history.iter().filter(|cost| cost.value.is_finite()).map(|cost| cost.day).max()?;
        let first = newest.saturating_sub(WINDOW_DAYS - 1);
        let mut totals: [Option<f64>; WINDOW_DAYS as usize] = [None; WINDOW_DAYS as usize];
        for cost in history.iter().filter(|cost| cost.value.is_finite() && cost.day >= first) {
            let Ok(index) = usize::try_from(cost.day - first) else { continue };
            if let Some(total) = totals.get_mut(index) {
                *total = Some(total.unwrap_or(0.0) + cost.value);
            }
        }
        let days = (first..=newest).zip(totals).filter_map(|(day, total)| total.map(|total| (day, total)));
        // Two huge finite costs of one day can sum to infinity: such a day is as unusable as a NaN.
        let days: Vec<(i64, f64)> = days.filter(|(_, total)| total.is_finite()).collect();
        let largest = days.iter().map(|(_, total)| total.abs()).fold(0.0, f64::max);
        let scale = power_of_two_below(largest);
        let points = days
            .iter()
            .map(|&(day, total)| Point { offset: (day - newest) as f64, weekday: weekday(day), value: total / scale })
            .collect::<Vec<_>>();
        (!points.is_empty()).then_some(Window { newest, points, scale })
    }

    fn mean(&self) -> f64 {
        self.points.iter().map(|point| point.value).sum::<f64>() / self.points.len() as f64
    }
}

/// The largest power of two not above `magnitude` (1 for 0), kept within the normal range.
fn power_of_two_below(magnitude: f64) -> f64 {
    if !(magnitude > 0.0 && magnitude.is_finite()) {
        return 1.0;
    }
    let exponent = (magnitude.log2().floor() as i64).clamp(-1022, 1023);
    // Built from its bits so that it is exactly a power of two (powi/exp2 need not be).
    f64::from_bits(((exponent + 1023) as u64) << 52)
}

/// Monday = 0 … Sunday = 6 of a day since 1970-01-01, a Thursday.
fn weekday(day: i64) -> usize {
    ((day.rem_euclid(7) + 3) % 7) as usize
}

/// The line `level + slope·offset` (offset = day − newest) and its weighted-least-squares
/// statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    level: f64,
    slope: f64,
    /// The `f²`-weighted mean offset `t̄`: where the level and slope estimates are uncorrelated.
    mean_offset: f64,
    /// `Σ f²·(t − t̄)²`.
    spread: f64,
}

impl Line {
    fn at(&self, offset: f64) -> f64 {
        self.level + self.slope * offset
    }
}

/// The fitted model of a window (steps 3 and 4 of the module documentation), in scaled units.
#[derive(Debug, Clone, PartialEq)]
struct Fit {
    line: Line,
    factors: [f64; 7],
    trend_kept: bool,
    /// Residual standard deviation `s`.
    residual_sd: f64,
    /// Standard error of the slope `se_b` (of the fit with trend, whether kept or not).
    slope_se: f64,
}

impl Fit {
    fn of(points: &[Point]) -> Self {
        let (line, factors) = alternate(points, true);
        let residual_sd = residual_deviation(points, &line, &factors);
        let slope_se = if line.spread > 0.0 { residual_sd / line.spread.sqrt() } else { f64::INFINITY };
        if line.slope.abs() > 2.0 * slope_se {
            return Fit { line, factors, trend_kept: true, residual_sd, slope_se };
        }
        let (line, factors) = alternate(points, false);
        let residual_sd = residual_deviation(points, &line, &factors);
        Fit { line, factors, trend_kept: false, residual_sd, slope_se }
    }
}

/// Alternates the line and profile steps from a flat profile until they settle.
fn alternate(points: &[Point], with_trend: bool) -> (Line, [f64; 7]) {
    let flat = [1.0; 7];
    let mut factors = flat;
    let mut line = fit_line(points, &factors, with_trend);
    for _ in 0..MAX_ROUNDS {
        let Some(next_factors) = fit_profile(points, &line) else {
            return (fit_line(points, &flat, with_trend), flat);
        };
        let next_line = fit_line(points, &next_factors, with_trend);
        let change = factors
            .iter()
            .zip(&next_factors)
            .map(|(old, new)| (old - new).abs())
            .chain([(line.level - next_line.level).abs(), (line.slope - next_line.slope).abs()])
            .fold(0.0, f64::max);
        factors = next_factors;
        line = next_line;
        if change <= SETTLED {
            break;
        }
    }
    (line, factors)
}

/// The line step: minimises `Σ (v − (level + slope·t)·f)²` for a given profile.
fn fit_line(points: &[Point], factors: &[f64; 7], with_trend: bool) -> Line {
    let weight = |point: &Point| factors[point.weekday] * factors[point.weekday];
    let total_weight: f64 = points.iter().map(weight).sum();
    if total_weight.is_nan() || total_weight <= 0.0 {
        return Line { level: 0.0, slope: 0.0, mean_offset: 0.0, spread: 0.0 };
    }
    let mean_offset = points.iter().map(|point| weight(point) * point.offset).sum::<f64>() / total_weight;
    // Σ f²·(v/f) = Σ f·v, written so that f = 0 needs no division.
    let mean_level = points.iter().map(|point| factors[point.weekday] * point.value).sum::<f64>() / total_weight;
    let spread: f64 = points.iter().map(|point| weight(point) * (point.offset - mean_offset).powi(2)).sum();
    let covariance: f64 =
        points.iter().map(|point| factors[point.weekday] * (point.offset - mean_offset) * point.value).sum();
    let slope = if with_trend && spread > 0.0 { covariance / spread } else { 0.0 };
    Line { level: mean_level - slope * mean_offset, slope, mean_offset, spread }
}

/// The profile step: least-squares factors for a given line, normalised to mean 1. `None` when no
/// factor is positive (or the arithmetic broke down), so that the profile must be dropped.
fn fit_profile(points: &[Point], line: &Line) -> Option<[f64; 7]> {
    let mut numerators = [0.0; 7];
    let mut denominators = [0.0; 7];
    for point in points {
        let level = line.at(point.offset);
        numerators[point.weekday] += point.value * level;
        denominators[point.weekday] += level * level;
    }
    let mut factors = [None; 7];
    for ((factor, numerator), denominator) in factors.iter_mut().zip(numerators).zip(denominators) {
        if denominator > 0.0 {
            // A weekday of net credits cannot be a negative multiple of the level without flipping
            // sign where the level does; the projection clamps days at 0 anyway.
            *factor = Some((numerator / denominator).max(0.0));
        }
    }
    let estimated: Vec<f64> = factors.iter().flatten().copied().collect();
    let mean = estimated.iter().sum::<f64>() / estimated.len() as f64;
    if !(mean > 0.0 && mean.is_finite()) {
        return None;
    }
    // Weekdays without information sit at the mean, i.e. at the level, after normalising.
    Some(factors.map(|factor| factor.map_or(1.0, |factor| factor / mean)))
}

/// `s`: residual standard deviation over `n − 2` degrees of freedom, 0 for `n ≤ 2`.
fn residual_deviation(points: &[Point], line: &Line, factors: &[f64; 7]) -> f64 {
    if points.len() <= 2 {
        return 0.0;
    }
    let squares: f64 =
        points.iter().map(|point| (point.value - line.at(point.offset) * factors[point.weekday]).powi(2)).sum();
    (squares / (points.len() - 2) as f64).sqrt()
}

/// Steps 5 to 7 of the module documentation.
fn project(input: &ForecastInput<'_>, window: &Window, fit: &Fit, days_of_data: u32, burn_rate: f64) -> Forecast {
    let newest = window.newest;
    let has_budget = input.budget.is_finite() && input.budget > 0.0;
    let over_budget = has_budget && input.cost_to_date >= input.budget;
    let already_exhausted = over_budget.then_some(newest);
    let remaining_days = remaining_days(newest, input.period_end_day);
    if remaining_days == 0 {
        return Forecast {
            days_of_data,
            burn_rate,
            projected: input.cost_to_date,
            lower: input.cost_to_date,
            upper: input.cost_to_date,
            budget_exhausted_day: already_exhausted,
            budget_exhausted_day_earliest: already_exhausted,
        };
    }
    let path = DailyPath { line: fit.line, factors: fit.factors, first_weekday: weekday(newest) };
    let median_remaining = path.sum_through(remaining_days) * window.scale;
    let projected = input.cost_to_date + median_remaining;

    let remaining = remaining_days as f64;
    let residual_variance = fit.residual_sd * fit.residual_sd;
    let mut variance =
        remaining * residual_variance + remaining * remaining * residual_variance / f64::from(days_of_data);
    if fit.trend_kept {
        // Σ over the remaining offsets 1..=N of (offset − t̄).
        let slope_lever = remaining * (remaining + 1.0) / 2.0 - remaining * fit.line.mean_offset;
        variance += (slope_lever * fit.slope_se).powi(2);
    }
    // NaN only arises from overflowing arithmetic (∞·0, ∞−∞): an unbounded band is the honest answer.
    let half_width = if variance.is_nan() { f64::INFINITY } else { Z_90 * variance.sqrt() * window.scale };
    let lower = (projected - half_width).max(input.cost_to_date);
    let upper = projected + half_width;

    let (budget_exhausted_day, budget_exhausted_day_earliest) = if !has_budget || over_budget {
        (already_exhausted, already_exhausted)
    } else {
        let upper_multiplier =
            if median_remaining > 0.0 { (upper - input.cost_to_date) / median_remaining } else { 1.0 };
        let exhaustion = |multiplier: f64| {
            let reached =
                |days: i64| input.cost_to_date + multiplier * (path.sum_through(days) * window.scale) >= input.budget;
            first_reaching(remaining_days, reached).map(|days| newest.saturating_add(days))
        };
        (exhaustion(1.0), exhaustion(upper_multiplier))
    };
    Forecast { days_of_data, burn_rate, projected, lower, upper, budget_exhausted_day, budget_exhausted_day_earliest }
}

/// Days from `newest + 1` through `period_end_day`, 0 when the period is over. Capped at
/// `i64::MAX` days, which only absurd inputs reach.
fn remaining_days(newest: i64, period_end_day: i64) -> i64 {
    let remaining = i128::from(period_end_day) - i128::from(newest);
    i64::try_from(remaining.max(0)).unwrap_or(i64::MAX)
}

/// The smallest `days` in `1..=max_days` for which `reached(days)` holds, `reached` being
/// monotone; `None` when it does not hold at `max_days`. A binary search, as periods may be long.
fn first_reaching(max_days: i64, reached: impl Fn(i64) -> bool) -> Option<i64> {
    if max_days < 1 || !reached(max_days) {
        return None;
    }
    let (mut low, mut high) = (1, max_days);
    while low < high {
        let middle = low + (high - low) / 2;
        if reached(middle) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Some(low)
}

/// The projected daily costs after the newest day, in scaled units.
#[derive(Debug, Clone, Copy)]
struct DailyPath {
    line: Line,
    factors: [f64; 7],
    first_weekday: usize,
}

impl DailyPath {
    /// The projected cost `days` after the newest day: the day-by-day definition `sum_through` must match.
    #[cfg(test)]
    fn daily(&self, days: i64) -> f64 {
        let weekday = (self.first_weekday + days.rem_euclid(7) as usize) % 7;
        (self.line.at(days as f64) * self.factors[weekday]).max(0.0)
    }

    /// `Σ daily(1..=days)`, in closed form per weekday so that the cost does not grow with the
    /// period's length (a bogus end date far in the future must not hang the job).
    fn sum_through(&self, days: i64) -> f64 {
        let mut total = 0.0;
        for residue in 1..=7_i64 {
            if days < residue {
                break;
            }
            let factor = self.factors[(self.first_weekday + residue as usize) % 7];
            if factor <= 0.0 {
                continue;
            }
            // The offsets residue + 7·j, j = 0 .. count−1, fall on one weekday.
            let count = (days - residue) / 7 + 1;
            let first = self.line.at(residue as f64);
            total += factor * positive_part_sum(first, 7.0 * self.line.slope, count);
        }
        // NaN can only come from overflow; a sum of non-negative terms is at least 0.
        total.max(0.0)
    }
}

/// `Σ max(0, first + step·j)` for `j` in `0..count`: the positive terms form one run, because the
/// sequence is linear.
fn positive_part_sum(first: f64, step: f64, count: i64) -> f64 {
    let to_index = |j: f64| (j.max(0.0).min(count as f64) as i64).min(count);
    let (start, end) = if step > 0.0 {
        if first > 0.0 { (0, count) } else { (to_index((-first / step).floor() + 1.0), count) }
    } else if step < 0.0 {
        if first > 0.0 { (0, to_index((first / -step).ceil())) } else { (0, 0) }
    } else if first > 0.0 {
        (0, count)
    } else {
        (0, 0)
    };
    if end <= start {
        return 0.0;
    }
    let terms = (end - start) as f64;
    let index_sum = (start as f64 + end as f64 - 1.0) * terms / 2.0;
    // Rounding near the zero crossing can leave a tiny negative.
    (terms * first + step * index_sum).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Monday: (19_002 + 3) mod 7 = 0 (2022-01-10).
    const MONDAY: i64 = 19_002;

    fn history(first_day: i64, values: &[f64]) -> Vec<DailyCost> {
        // Offsets rather than a `first_day..` range, which would overflow past a history ending at i64::MAX.
        values.iter().enumerate().map(|(offset, &value)| DailyCost { day: first_day + offset as i64, value }).collect()
    }

    fn input(history: &[DailyCost], period_end_day: i64, cost_to_date: f64, budget: f64) -> ForecastInput<'_> {
        ForecastInput { history, period_end_day, cost_to_date, budget }
    }

    fn expect_forecast(outcome: Outcome) -> Forecast {
        match outcome {
            Outcome::Forecast(forecast) => forecast,
            other => panic!("expected a forecast, got {other:?}"),
        }
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!((actual - expected).abs() <= 1e-6, "{actual} != {expected}");
    }

    /// 100 a day for the 28 days ending at `newest`.
    fn flat_history(newest: i64) -> Vec<DailyCost> {
        history(newest - 27, &[100.0; 28])
    }

    #[test]
    fn weekday_counts_from_a_thursday_epoch() {
        assert_eq!(weekday(0), 3);
        assert_eq!(weekday(MONDAY), 0);
        assert_eq!(weekday(MONDAY + 6), 6);
        assert_eq!(weekday(-1), 2);
        assert_eq!(weekday(i64::MIN), weekday(i64::MIN.rem_euclid(7)));
    }

    #[test]
    fn flat_history_projects_the_daily_cost_with_a_collapsed_band() {
        let newest = MONDAY + 27;
        let history = flat_history(newest);
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 10_000.0)));
        assert_eq!(forecast.days_of_data, 28);
        assert_close(forecast.burn_rate, 100.0);
        // 2800 + 30 · 100.
        assert_close(forecast.projected, 5800.0);
        assert_close(forecast.lower, 5800.0);
        assert_close(forecast.upper, 5800.0);
        assert_eq!(forecast.budget_exhausted_day, None);
        assert_eq!(forecast.budget_exhausted_day_earliest, None);
    }

    #[test]
    fn flat_history_exhausts_the_budget_on_the_day_the_cumulative_cost_reaches_it() {
        let newest = MONDAY + 27;
        let history = flat_history(newest);
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 5000.0)));
        // 2800 + 22 · 100 = 5000 is reached on the 22nd day, not before (2800 + 21 · 100 = 4900).
        assert_eq!(forecast.budget_exhausted_day, Some(newest + 22));
        assert_eq!(forecast.budget_exhausted_day_earliest, Some(newest + 22));
    }

    #[test]
    fn linear_trend_is_continued_exactly() {
        let newest = MONDAY + 27;
        let values: Vec<f64> = (0..28).map(|i| 100.0 + 2.0 * f64::from(i)).collect();
        let history = history(newest - 27, &values);
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 1000.0, 0.0)));
        // Days i = 28..=57 continue 100 + 2i: 30 · 100 + 2 · (28 + 57) · 30 / 2 = 3000 + 2550.
        assert_close(forecast.projected, 1000.0 + 5550.0);
        assert_close(forecast.lower, forecast.projected);
        assert_close(forecast.upper, forecast.projected);
        // Mean of 100 + 2i over i = 0..=27 is 100 + 27.
        assert_close(forecast.burn_rate, 127.0);
        assert_eq!(forecast.budget_exhausted_day, None);
    }

    /// Weekdays 100, Saturday and Sunday 40.
    fn weekly_value(day: i64) -> f64 {
        if weekday(day) < 5 { 100.0 } else { 40.0 }
    }

    fn weekly_history(newest: i64) -> Vec<DailyCost> {
        (newest - 27..=newest).map(|day| DailyCost { day, value: weekly_value(day) }).collect()
    }

    #[test]
    fn weekly_pattern_is_reproduced_exactly() {
        let newest = MONDAY + 27; // the window is 4 weeks from Monday to Sunday
        let history = weekly_history(newest);
        let forecast = expect_forecast(forecast(&input(&history, newest + 14, 500.0, 0.0)));
        // Two full weeks: 2 · (5 · 100 + 2 · 40).
        assert_close(forecast.projected, 500.0 + 2.0 * (5.0 * 100.0 + 2.0 * 40.0));
        assert_close(forecast.lower, forecast.projected);
        assert_close(forecast.upper, forecast.projected);
        assert_close(forecast.burn_rate, (20.0 * 100.0 + 8.0 * 40.0) / 28.0);
    }

    #[test]
    fn weekly_pattern_is_reproduced_when_the_window_starts_midweek() {
        let newest = MONDAY + 1; // a Tuesday, so the window starts on a Wednesday
        assert_eq!(weekday(newest - 27), 2);
        let history = weekly_history(newest);
        let forecast = expect_forecast(forecast(&input(&history, newest + 10, 0.0, 0.0)));
        // Wednesday to the Friday of the next week: Wed Thu Fri (Sat Sun) Mon Tue Wed Thu Fri.
        assert_close(forecast.projected, 8.0 * 100.0 + 2.0 * 40.0);
        assert_close(forecast.lower, forecast.projected);
        assert_close(forecast.upper, forecast.projected);
    }

    #[test]
    fn weekly_pattern_with_a_gap_weekday_projects_that_weekday_at_the_level() {
        // All Mondays missing: 24 days of data. Monday then gets factor 1 against the other
        // weekdays normalised to mean 1: their mean is (4 · 100 + 2 · 40) / 6 = 80.
        let newest = MONDAY + 27;
        let history: Vec<DailyCost> =
            weekly_history(newest).into_iter().filter(|cost| weekday(cost.day) != 0).collect();
        let forecast = expect_forecast(forecast(&input(&history, newest + 7, 0.0, 0.0)));
        assert_eq!(forecast.days_of_data, 24);
        assert_close(forecast.projected, 80.0 + 4.0 * 100.0 + 2.0 * 40.0);
    }

    #[test]
    fn weekly_pattern_with_trend_is_reproduced_exactly() {
        // (100 + 2i) · g[weekday] with g averaging 1 over the week.
        let profile = [1.2, 1.2, 1.2, 1.2, 1.2, 0.5, 0.5];
        let first = MONDAY + 3; // a Thursday, so the window is not aligned to weeks
        let value = |i: i64| (100.0 + 2.0 * i as f64) * profile[weekday(first + i)];
        let history: Vec<DailyCost> = (0..28).map(|i| DailyCost { day: first + i, value: value(i) }).collect();
        let newest = first + 27;
        let forecast = expect_forecast(forecast(&input(&history, newest + 40, 300.0, 0.0)));
        let expected: f64 = 300.0 + (28..68).map(value).sum::<f64>();
        assert_close(forecast.projected, expected);
        assert_close(forecast.lower, expected);
        assert_close(forecast.upper, expected);
    }

    #[test]
    fn weekdays_without_spend_carry_no_weight_and_stay_at_zero() {
        // Cost only Monday to Friday, 50 + i: the weekends are exact zeros, not gaps.
        let first = MONDAY;
        let value = |i: i64| if weekday(first + i) < 5 { 50.0 + i as f64 } else { 0.0 };
        let history: Vec<DailyCost> = (0..28).map(|i| DailyCost { day: first + i, value: value(i) }).collect();
        let newest = first + 27;
        let forecast = expect_forecast(forecast(&input(&history, newest + 14, 0.0, 0.0)));
        let expected: f64 = (28..42).map(value).sum();
        assert_close(forecast.projected, expected);
        assert_close(forecast.upper, expected);
    }

    #[test]
    fn gaps_are_missing_data_not_zero_spend() {
        let newest = MONDAY + 27;
        // Every third day from the second one missing: 19 of 28 days, the newest one kept.
        let history: Vec<DailyCost> =
            flat_history(newest).into_iter().filter(|cost| (cost.day - (newest - 27)) % 3 != 1).collect();
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 0.0)));
        assert_eq!(forecast.days_of_data, 19);
        assert_close(forecast.burn_rate, 100.0);
        assert_close(forecast.projected, 5800.0);
        assert_close(forecast.lower, 5800.0);
        assert_close(forecast.upper, 5800.0);
    }

    #[test]
    fn fewer_than_fifteen_days_is_insufficient_and_fifteen_suffice() {
        let newest = MONDAY + 27;
        let fourteen = history(newest - 13, &[80.0; 14]);
        assert_eq!(
            forecast(&input(&fourteen, newest + 30, 0.0, 0.0)),
            Outcome::InsufficientData { days_of_data: 14, burn_rate: Some(80.0) }
        );
        let fifteen = history(newest - 14, &[80.0; 15]);
        let forecast = expect_forecast(forecast(&input(&fifteen, newest + 30, 0.0, 0.0)));
        assert_eq!(forecast.days_of_data, 15);
        assert_close(forecast.projected, 30.0 * 80.0);
    }

    #[test]
    fn days_outside_the_window_do_not_count_towards_the_minimum() {
        // 20 days, but only 10 within the 28 days ending at the newest.
        let newest = MONDAY + 100;
        let mut costs = history(newest - 9, &[50.0; 10]);
        costs.extend(history(newest - 60, &[500.0; 10]));
        assert_eq!(
            forecast(&input(&costs, newest + 30, 0.0, 0.0)),
            Outcome::InsufficientData { days_of_data: 10, burn_rate: Some(50.0) }
        );
    }

    #[test]
    fn empty_or_unusable_history_is_insufficient_without_a_burn_rate() {
        let none = Outcome::InsufficientData { days_of_data: 0, burn_rate: None };
        assert_eq!(forecast(&input(&[], 100, 0.0, 10.0)), none);
        let unusable = [DailyCost { day: 5, value: f64::NAN }, DailyCost { day: 6, value: f64::INFINITY }];
        assert_eq!(forecast(&input(&unusable, 100, 0.0, 10.0)), none);
        // Finite, but the day's total overflows.
        let overflowing = [DailyCost { day: 5, value: f64::MAX }, DailyCost { day: 5, value: f64::MAX }];
        assert_eq!(forecast(&input(&overflowing, 100, 0.0, 10.0)), none);
    }

    /// A deterministic uniform generator in [0, 1) (Knuth's MMIX LCG, top 53 bits).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1_u64 << 53) as f64
        }
    }

    #[test]
    fn noise_around_a_flat_cost_drops_the_trend_and_its_band_holds_the_truth() {
        let mut random = Lcg(42);
        // 100 a day plus uniform noise of ±20 (standard deviation 40/√12 ≈ 11.5).
        let mut noisy = || 100.0 + 40.0 * (random.next() - 0.5);
        let newest = MONDAY + 27;
        let values: Vec<f64> = (0..28).map(|_| noisy()).collect();
        let future: f64 = (0..30).map(|_| noisy()).sum();
        let history = history(newest - 27, &values);

        let window = Window::trailing(&history).expect("28 days of data");
        let fit = Fit::of(&window.points);
        assert!(!fit.trend_kept, "a flat series has no significant trend: {fit:?}");
        assert_eq!(fit.line.slope, 0.0);

        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 0.0)));
        let truth = 2800.0 + future;
        assert!((forecast.projected - 5800.0).abs() < 0.03 * 5800.0, "{forecast:?}");
        assert!(forecast.lower < forecast.projected && forecast.projected < forecast.upper, "{forecast:?}");
        assert!(forecast.lower <= truth && truth <= forecast.upper, "truth {truth} outside {forecast:?}");
    }

    #[test]
    fn upper_band_exhausts_the_budget_no_later_than_the_median() {
        let mut random = Lcg(7);
        let newest = MONDAY + 27;
        let values: Vec<f64> = (0..28).map(|_| 100.0 + 60.0 * (random.next() - 0.5)).collect();
        let history = history(newest - 27, &values);
        let forecast = expect_forecast(forecast(&input(&history, newest + 60, 0.0, 4000.0)));
        let median = forecast.budget_exhausted_day.expect("about 6000 projected against 4000");
        let earliest = forecast.budget_exhausted_day_earliest.expect("the upper band is higher still");
        assert!(earliest <= median && median <= newest + 60, "{forecast:?}");
        // About 40 days at about 100 a day.
        assert!((median - newest - 40).abs() <= 4, "{forecast:?}");
    }

    #[test]
    fn already_over_budget_is_exhausted_on_the_newest_day() {
        let newest = MONDAY + 27;
        let history = flat_history(newest);
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 5000.0, 5000.0)));
        assert_eq!(forecast.budget_exhausted_day, Some(newest));
        assert_eq!(forecast.budget_exhausted_day_earliest, Some(newest));
        assert_close(forecast.projected, 8000.0);
    }

    #[test]
    fn period_already_over_projects_the_cost_to_date() {
        let newest = MONDAY + 27;
        let history = flat_history(newest);
        for period_end_day in [newest, newest - 5] {
            let forecast = expect_forecast(forecast(&input(&history, period_end_day, 2800.0, 10_000.0)));
            assert_eq!((forecast.projected, forecast.lower, forecast.upper), (2800.0, 2800.0, 2800.0));
            assert_eq!(forecast.budget_exhausted_day, None);
            assert_eq!(forecast.budget_exhausted_day_earliest, None);
        }
        let over = expect_forecast(forecast(&input(&history, newest, 2800.0, 2000.0)));
        assert_eq!(over.budget_exhausted_day, Some(newest));
    }

    #[test]
    fn no_budget_means_no_exhaustion_day() {
        let newest = MONDAY + 27;
        let history = flat_history(newest);
        for budget in [0.0, -10.0, f64::NAN, f64::INFINITY] {
            let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, budget)));
            assert_eq!(forecast.budget_exhausted_day, None, "budget {budget}");
            assert_eq!(forecast.budget_exhausted_day_earliest, None, "budget {budget}");
        }
    }

    #[test]
    fn history_older_than_the_window_is_ignored() {
        let newest = MONDAY + 27;
        let mut history = flat_history(newest);
        history.push(DailyCost { day: newest - 28, value: 1e9 });
        history.push(DailyCost { day: newest - 400, value: -1e9 });
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 0.0)));
        assert_eq!(forecast.days_of_data, 28);
        assert_close(forecast.projected, 5800.0);
        assert_close(forecast.upper, 5800.0);
    }

    #[test]
    fn repeated_days_are_summed() {
        let newest = MONDAY + 27;
        let mut history = history(newest - 27, &[60.0; 28]);
        history.extend(self::history(newest - 27, &[40.0; 28]));
        history.reverse(); // any order
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 0.0)));
        assert_eq!(forecast.days_of_data, 28);
        assert_close(forecast.burn_rate, 100.0);
        assert_close(forecast.projected, 5800.0);
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let newest = MONDAY + 27;
        let mut history = flat_history(newest);
        history.push(DailyCost { day: newest - 3, value: f64::NAN });
        history.push(DailyCost { day: newest - 2, value: f64::INFINITY });
        // A newer record without a usable value does not move the window.
        history.push(DailyCost { day: newest + 5, value: f64::NEG_INFINITY });
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 0.0)));
        assert_eq!(forecast.days_of_data, 28);
        assert_close(forecast.projected, 5800.0);
        assert_close(forecast.upper, 5800.0);
    }

    #[test]
    fn non_finite_cost_to_date_is_insufficient() {
        let newest = MONDAY + 27;
        let history = flat_history(newest);
        assert_eq!(
            forecast(&input(&history, newest + 30, f64::NAN, 0.0)),
            Outcome::InsufficientData { days_of_data: 28, burn_rate: Some(100.0) }
        );
    }

    #[test]
    fn steep_decline_never_projects_below_the_cost_to_date() {
        // 1000 − 35i: the line reaches 55 on the newest day, 20 the day after, then goes negative.
        let newest = MONDAY + 27;
        let values: Vec<f64> = (0..28).map(|i| 1000.0 - 35.0 * f64::from(i)).collect();
        let history = history(newest - 27, &values);
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 500.0, 0.0)));
        assert_close(forecast.projected, 500.0 + 20.0);
        assert!(forecast.lower >= 500.0 && forecast.lower <= forecast.projected, "{forecast:?}");
    }

    #[test]
    fn net_credits_project_no_further_cost() {
        let newest = MONDAY + 27;
        let history = history(newest - 27, &[-10.0; 28]);
        let forecast = expect_forecast(forecast(&input(&history, newest + 30, 200.0, 0.0)));
        assert_close(forecast.burn_rate, -10.0);
        assert_eq!((forecast.projected, forecast.lower), (200.0, 200.0));
    }

    #[test]
    fn closed_form_sum_matches_day_by_day_summation() {
        let factors = [1.3, 0.0, 0.9, 1.1, 1.2, 0.5, 1.0];
        for (level, slope) in [(10.0, 0.0), (10.0, 0.7), (10.0, -0.7), (-5.0, 0.3), (-5.0, -0.3), (0.0, 0.0)] {
            for first_weekday in [0, 3, 6] {
                let line = Line { level, slope, mean_offset: 0.0, spread: 1.0 };
                let path = DailyPath { line, factors, first_weekday };
                for days in [0, 1, 6, 7, 8, 30, 95] {
                    let by_day: f64 = (1..=days).map(|day| path.daily(day)).sum();
                    let closed = path.sum_through(days);
                    assert!(
                        (closed - by_day).abs() <= 1e-9 * (1.0 + by_day.abs()),
                        "level {level} slope {slope} weekday {first_weekday} days {days}: {closed} != {by_day}"
                    );
                }
            }
        }
    }

    #[test]
    fn extreme_inputs_neither_panic_nor_break_the_band_order() {
        let huge = [DailyCost { day: 0, value: 1e300 }, DailyCost { day: 1, value: -1e300 }];
        let histories: Vec<Vec<DailyCost>> = vec![
            flat_history(i64::MAX),
            flat_history(i64::MIN + 27),
            history(-20, &[1e300; 20]),
            history(-20, &[f64::MIN_POSITIVE; 20]),
            history(-20, &[0.0; 20]),
            (0..20).map(|i| DailyCost { day: i, value: huge[(i % 2) as usize].value }).collect(),
        ];
        for history in &histories {
            for period_end_day in [i64::MIN, 0, 1_000, i64::MAX] {
                for (cost_to_date, budget) in [(0.0, 1e6), (1e308, 1e308), (-5.0, f64::MAX)] {
                    if let Outcome::Forecast(forecast) =
                        forecast(&ForecastInput { history, period_end_day, cost_to_date, budget })
                    {
                        assert!(forecast.lower >= cost_to_date, "{forecast:?}");
                        assert!(forecast.lower <= forecast.projected, "{forecast:?}");
                        assert!(forecast.upper >= forecast.projected, "{forecast:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_far_future_period_end_is_projected_in_closed_form() {
        let newest = MONDAY + 27;
        let history = flat_history(newest);
        let days = 1_000_000_000_i64;
        let forecast = expect_forecast(forecast(&input(&history, newest + days, 0.0, 1e9)));
        assert_close(forecast.projected / 1e11, 1.0);
        // 1e9 reached after exactly 1e7 days of 100.
        assert_eq!(forecast.budget_exhausted_day, Some(newest + 10_000_000));
    }
}
