//! Projection of a subscription's cost to the end of its commitment period, and of the day its
//! budget runs out, from the daily booked cost. Pure `std`, so it is tested natively.
//!
//! # Model `robust-regime-limited-trend-v3`
//!
//! 1. **Data.** Records whose value is not finite are ignored; records of the same day are summed.
//!    `T` is the newest day left. The model reads the [`LOOKBACK_DAYS`] = 365 calendar days
//!    `T-364 ..= T`; older records are ignored. A day without a record is a gap (missing data,
//!    not zero spend) and is left out of every statistic; negative values (credits) are kept.
//!    `v(t)` is the cost of day `t` (days since 1970-01-01). `n` is the number of days with data in
//!    the trailing [`WINDOW_DAYS`] = 28 days `T-27 ..= T`, and `burn_rate` their mean. With
//!    `n <` [`MIN_DAYS`] = 15, or a `cost_to_date` that is not finite, the outcome is
//!    [`Outcome::InsufficientData`].
//! 2. **Weekday profile.** For each day `t` of the last 91 days whose whole neighbourhood
//!    `t-3 ..= t+3` lies in the data's span and has at least 5 days with data, the ratio
//!    `v(t) / c(t)`, `c(t)` the neighbourhood's mean, when `c(t) > 0`. A weekday with at least 2
//!    ratios gets their median (0 if negative); these factors are divided by their mean and the
//!    other weekdays get 1. With `σ_r` = 1.4826 · the median absolute deviation of the ratios from
//!    their weekday's median: when `σ_r = 0` (the ratios fit exactly) the profile is kept if it is
//!    not flat; otherwise every weekday with ratios needs at least 5 of them (two odd days on one
//!    weekday are not a pattern), and the profile is kept only when
//!    `Σ_w k_w·(median_w − mean)² / (1.2533·σ_r)² > 16.81`, the 99 % quantile of χ² with 6 degrees
//!    of freedom (`k_w` the ratios of weekday `w`). Otherwise `f ≡ 1`. The deseasonalised values
//!    are `d(t) = v(t) / f[wd(t)]` on the days whose weekday has `f > 0` (a weekday without spend
//!    carries no information), `wd(t) = (t + 3) mod 7` (Monday = 0; 1970-01-01 was a Thursday).
//! 3. **Regime (level shifts).** `σ` = 1.4826 · the median of `|d(t_i) − d(t_{i−1})|` / √2 over
//!    consecutive days with data (insensitive to steps and trends), and `σ_c` the same root-mean-
//!    square with each difference clipped to ±3·√2·σ. The residuals of `d` from the line through the
//!    (median day, median value) of its first and last thirds, clipped to ±3σ, are split at every
//!    `k` leaving at least 5 days on each side; `z_k` = (mean after − mean before) /
//!    (σ_c·√(1/k_before + 1/k_after)). When the largest `|z_k|` exceeds 4 (about a 1 % family-wise
//!    level over a year of candidate days), the days before `k` are dropped and the search is
//!    repeated on the rest. The days left are the regime, `m` of them, spanning `H` calendar days,
//!    with mean offset `t̄` (offsets are days relative to `T`).
//! 4. **Robust fit.** On the regime, from the thirds line, `σ₀` = the larger of 1.4826 · the
//!    median absolute residual and the regime's `σ` of step 3 (so that two-valued data, whose
//!    median residual can be 0, is not clipped flat); then ten rounds of least squares on the
//!    values with their residual clipped to ±5·σ₀ (a Huber M-estimate with a wide corner: a
//!    single-day spike moves the level by at most 5·σ₀ / m, while a skewed but regular noise keeps
//!    its mean) give the line `a + b·t`, its residual deviation `s` (clipped residuals) over `m − p`
//!    degrees of freedom (`p` = 2, plus 6 with a weekday profile), `se_b = s / √Σ(t − t̄)²` and
//!    `ȳ = a + b·t̄`, the line's value at `t̄`.
//!    - *Weight of the trend*: the slope's prior under the model with trend is normal with mean 0
//!      and standard deviation `τ = |ȳ| / 365` (a cost is not expected to change by much more than
//!      its own size in a year). With `k = τ² / (τ² + se_b²)` and `t = b / se_b`, the Bayes factor
//!      of that model against the flat one is `√(1 − k) · exp(k·t² / 2)`, and `w = 1 / (1 + 1/factor)` its
//!      posterior weight (even prior odds); `k·b` is the slope's posterior mean under it. When `τ`
//!      or `se_b` is 0 or not finite (a level of 0, an exact fit), `w = 1 / (1 + exp((ln m − t²) /
//!      2))`, the BIC's, and `k = 1`.
//!    - *Trend test*: the trend is carried when `|b| > t_{0.99, m−p} · se_b` (Student's t, 2 %
//!      two-sided: a trend is carried for months, so it must be clear), at the slope's posterior
//!      mean over the two models, `b_c = w·k·b`; otherwise `b_c = 0`. Either way the level carried
//!      from `T` is `a_c = ȳ − w·k·b·t̄`, the posterior mean of the level at `T`.
//!    - *Drift*: `q`, the variance per day of a random walk of the level. From the clipped
//!      residuals `e` of the line, the means `B_j` of the 7-day blocks counted back from `T` that
//!      have at least 4 days of data (`n_j`), and the noise `σ_e² = mean((e_t − e_{t−1})²) / 2` over
//!      consecutive days: with `O = mean((B_j − B_{j+1})²)` and `E = mean(σ_e²·(1/n_j + 1/n_{j+1}))`
//!      over the consecutive pairs, `q = max(0, O − E) / (231/49)` (the moment estimate, not
//!      tested: a drift too faint to pass a test still matters over months); 0 with fewer than 2
//!      pairs.
//!    - *Carry limit*: the trend is carried `H_c = H` days at most (not further ahead than the span
//!      it was measured on), and, when `a_c` is positive, no further than halving or doubling it:
//!      `H_c = min(H, ⌊a_c / (2·|b_c|)⌋)` for a decline, `min(H, ⌊a_c / b_c⌋)` for a rise.
//! 5. **Projection.** For each of the `N` remaining days `h = 1 ..= N` after `T`,
//!    `daily(h) = f[wd(T+h)] · max(0, a_c + b_c·min(h, H_c))`, and
//!    `projected = cost_to_date + Σ daily(h)`. When `T ≥ period_end_day` nothing remains:
//!    `projected = lower = upper = cost_to_date`.
//! 6. **Band (90 %).** The 5 % and 95 % quantiles of the remaining cost under the mixture of the
//!    two models, by their weights. With `F = Σ_h f`, `F₂ = Σ_h f²`, `G = Σ_h f·(h − t̄)` (the
//!    slope's lever over the whole remaining period: the trend may go on) and
//!    `V₀ = F₂·s² + F²·s²/m + q·N(N+1)(2N+1)/6·(F/N)²` (daily noise, the level's uncertainty, the
//!    drift's): the flat model, weight `1 − w`, is normal with mean `Σ_h f·max(0, ȳ)` and variance
//!    `V₀`; the model with trend, weight `w`, normal with mean `Σ_h f·max(0, ȳ + b·(h − t̄))` (the
//!    fitted slope, through the period's end) and variance `V₀ + G²·se_b²`. Each variance is scaled
//!    by `(t_{0.95, m−p} / z_{0.95})²` (Student's t for the estimated `s`). With `Q₅`, `Q₉₅` those
//!    quantiles (found by bisection of the mixture's distribution function),
//!    `lower = max(cost_to_date, min(projected, cost_to_date + Q₅))`,
//!    `upper = max(projected, cost_to_date + Q₉₅)`; when a mean or a variance is not finite
//!    (overflow), `lower = cost_to_date` and `upper = ∞`.
//! 7. **Budget.** Without a budget (`budget ≤ 0` or not finite) both exhaustion days are `None`.
//!    When `cost_to_date ≥ budget` already, both are `T`. Otherwise `budget_exhausted_day` is the
//!    first remaining day `d` with `cost_to_date + Σ_{T<e≤d} daily(e) ≥ budget`, `None` when there
//!    is none through `period_end_day`; `budget_exhausted_day_earliest` is the same with every
//!    `daily(e)` scaled by `(upper − cost_to_date) / (projected − cost_to_date)` (unscaled when
//!    `projected = cost_to_date`).

use crate::statistics::{MAD_TO_SD, median, normal_cdf, normal_quantile, student_t, weekday};

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
/// Length of the trailing window that counts the days of data and the burn rate, in calendar
/// days ending at the newest day of the history.
pub const WINDOW_DAYS: i64 = 28;
/// Calendar days, ending at the newest day, that the model reads.
pub const LOOKBACK_DAYS: i64 = 365;
/// Identifier of the model described in the module documentation; changes when the model does.
pub const MODEL: &str = "robust-regime-limited-trend-v3";

/// The weekday profile is estimated on the last 13 weeks.
const PROFILE_DAYS: i64 = 91;
/// Ratios a weekday needs in a noisy profile.
const MIN_WEEKS: usize = 5;
/// χ² with 6 degrees of freedom, 99 % quantile: the profile's significance test.
const PROFILE_CHI2: f64 = 16.812;
/// Standard error of a normal sample's median, in units of σ/√k.
const MEDIAN_SE: f64 = 1.2533;
/// Days with data on each side of a level shift: five in a row beyond the noise are a step, two
/// are spikes (clipped at 3σ, they cannot reach `SHIFT_Z` over five days).
const MIN_SEGMENT: usize = 5;
/// `|z|` above which a level shift is taken as real.
const SHIFT_Z: f64 = 4.0;
/// Residuals are clipped at this many σ when looking for shifts.
const SHIFT_CLIP: f64 = 3.0;
/// Residuals are clipped at this many σ₀ in the fit.
const FIT_CLIP: f64 = 5.0;
/// Rounds of the clipped least-squares fit.
const FIT_ROUNDS: usize = 10;
/// Below this relative to the typical |value|, a deviation is rounding, not noise.
const ROUNDING: f64 = 1e-9;

/// Projects the cost at the end of the period and the budget's exhaustion day (see the module
/// documentation for the model).
pub fn forecast(input: &ForecastInput<'_>) -> Outcome {
    let Some(series) = Series::of(input.history) else {
        return Outcome::InsufficientData { days_of_data: 0, burn_rate: None };
    };
    let window: Vec<f64> = series.days.iter().filter(|day| day.offset > -WINDOW_DAYS).map(|day| day.value).collect();
    let days_of_data = u32::try_from(window.len()).unwrap_or(u32::MAX);
    if window.is_empty() {
        return Outcome::InsufficientData { days_of_data, burn_rate: None };
    }
    let burn_rate = window.iter().sum::<f64>() / window.len() as f64 * series.scale;
    if days_of_data < MIN_DAYS || !input.cost_to_date.is_finite() {
        return Outcome::InsufficientData { days_of_data, burn_rate: Some(burn_rate) };
    }
    let factors = weekday_profile(&series.days);
    let fit = Fit::of(&series, &factors);
    Outcome::Forecast(project(input, &series, &fit, days_of_data, burn_rate))
}

/// A day with data, in the units the fit works in.
#[derive(Debug, Clone, Copy)]
struct Day {
    /// Day relative to the newest day (-364 ..= 0).
    offset: i64,
    weekday: usize,
    /// The day's cost divided by `Series::scale`.
    value: f64,
}

/// The days with data of the lookback, oldest first.
#[derive(Debug)]
struct Series {
    newest: i64,
    days: Vec<Day>,
    /// A power of two close to the largest |value|: the fit squares values, and scaling keeps the
    /// squares of even absurd costs finite while staying exact (only the exponent changes).
    scale: f64,
}

impl Series {
    /// `None` when the history has no day with a finite cost.
    fn of(history: &[DailyCost]) -> Option<Self> {
        let newest = history.iter().filter(|cost| cost.value.is_finite()).map(|cost| cost.day).max()?;
        let first = newest.saturating_sub(LOOKBACK_DAYS - 1);
        let mut totals: Vec<Option<f64>> = vec![None; LOOKBACK_DAYS as usize];
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
        let days: Vec<Day> = days
            .iter()
            .map(|&(day, total)| Day { offset: day - newest, weekday: weekday(day), value: total / scale })
            .collect();
        (!days.is_empty()).then_some(Series { newest, days, scale })
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

/// Step 2 of the module documentation: the weekday factors, all 1 when there is no significant
/// profile.
fn weekday_profile(days: &[Day]) -> [f64; 7] {
    let flat = [1.0; 7];
    let (Some(first), Some(last)) = (days.first(), days.last()) else { return flat };
    let mut ratios: [Vec<f64>; 7] = Default::default();
    for (index, day) in days.iter().enumerate() {
        if day.offset <= last.offset - PROFILE_DAYS || day.offset - 3 < first.offset || day.offset + 3 > last.offset {
            continue;
        }
        let low = index.saturating_sub(3);
        let high = (index + 4).min(days.len());
        let near: Vec<f64> = days[low..high]
            .iter()
            .filter(|other| (other.offset - day.offset).abs() <= 3)
            .map(|other| other.value)
            .collect();
        let centre = near.iter().sum::<f64>() / near.len().max(1) as f64;
        if near.len() >= 5 && centre > 0.0 {
            ratios[day.weekday].push(day.value / centre);
        }
    }
    let mut medians = [None; 7];
    for (median_of, ratios) in medians.iter_mut().zip(ratios.iter_mut()) {
        if ratios.len() >= 2 {
            *median_of = Some(median(ratios).unwrap_or(0.0).max(0.0));
        }
    }
    let estimated: Vec<f64> = medians.iter().flatten().copied().collect();
    let mean = estimated.iter().sum::<f64>() / estimated.len().max(1) as f64;
    if !(mean > 0.0 && mean.is_finite()) || estimated.len() < 2 {
        return flat;
    }
    let mut deviations: Vec<f64> = ratios
        .iter()
        .zip(&medians)
        .filter_map(|(ratios, median_of)| median_of.map(|m| (ratios, m)))
        .flat_map(|(ratios, m)| ratios.iter().map(move |ratio| (ratio - m).abs()))
        .collect();
    let spread = MAD_TO_SD * median(&mut deviations).unwrap_or(0.0);
    let factors = medians.map(|m| m.map_or(1.0, |m| m / mean));
    let uneven = factors.iter().any(|factor| (factor - 1.0).abs() > ROUNDING);
    // Two odd days on one weekday must not pass for a pattern: noisy ratios need 5 weeks.
    let short = ratios.iter().any(|ratios| (2..MIN_WEEKS).contains(&ratios.len()));
    let significant = if spread > ROUNDING {
        if short {
            return flat;
        }
        let chi2: f64 = ratios
            .iter()
            .zip(&medians)
            .filter_map(|(ratios, m)| m.map(|m| ratios.len() as f64 * (m - mean).powi(2)))
            .sum::<f64>()
            / (MEDIAN_SE * spread).powi(2);
        chi2 > PROFILE_CHI2
    } else {
        uneven
    };
    if significant && uneven { factors } else { flat }
}

/// A deseasonalised day: offset from the newest day and `d = v / f`.
#[derive(Debug, Clone, Copy)]
struct Point {
    offset: f64,
    value: f64,
}

/// The line `level + slope·offset` (offset = day − newest).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Line {
    level: f64,
    slope: f64,
}

impl Line {
    fn at(&self, offset: f64) -> f64 {
        self.level + self.slope * offset
    }

    /// Through the (median offset, median value) of the first and last thirds: a start that a
    /// spike or a few odd days cannot drag.
    fn of_thirds(points: &[Point]) -> Line {
        let third = points.len() / 3;
        let centre = |part: &[Point]| {
            let mut offsets: Vec<f64> = part.iter().map(|point| point.offset).collect();
            let mut values: Vec<f64> = part.iter().map(|point| point.value).collect();
            (median(&mut offsets).unwrap_or(0.0), median(&mut values).unwrap_or(0.0))
        };
        if third == 0 {
            let (_, value) = centre(points);
            return Line { level: value, slope: 0.0 };
        }
        let (early_offset, early_value) = centre(&points[..third]);
        let (late_offset, late_value) = centre(&points[points.len() - third..]);
        let slope =
            if late_offset > early_offset { (late_value - early_value) / (late_offset - early_offset) } else { 0.0 };
        Line { level: late_value - slope * late_offset, slope }
    }
}

/// The fitted model (steps 3 and 4 of the module documentation), in scaled units.
#[derive(Debug, Clone, PartialEq)]
struct Fit {
    /// The line carried: `a_c + b_c·t` (`b_c = w·k·b` when the trend passes its test, else 0).
    line: Line,
    factors: [f64; 7],
    /// Residual standard deviation `s`.
    residual_sd: f64,
    /// Standard error of the slope `se_b`.
    slope_se: f64,
    /// Days of data `m` in the regime, the mean offset `t̄`, and `H_c`, the days the trend is
    /// carried (the regime's calendar span `H` at most).
    regime_days: usize,
    mean_offset: f64,
    span: i64,
    /// Degrees of freedom of `s`.
    degrees_of_freedom: f64,
    /// The line of the fit, `a + b·t`, before any weighting or shrinking, and `w`, the weight of
    /// the model with trend against the flat one.
    fitted: Line,
    trend_weight: f64,
    /// `q`: the variance per day of a random walk of the level, beyond the noise (0 when none shows).
    drift: f64,
    /// The variance of the level at `t̄`, `s²/m`.
    level_variance: f64,
}

impl Fit {
    fn of(series: &Series, factors: &[f64; 7]) -> Self {
        let points: Vec<Point> = series
            .days
            .iter()
            .filter(|day| factors[day.weekday] > 0.0)
            .map(|day| Point { offset: day.offset as f64, value: day.value / factors[day.weekday] })
            .collect();
        let regime = &points[regime_start(&points)..];
        let profile_parameters = if factors.iter().any(|factor| *factor != 1.0) { 6.0 } else { 0.0 };
        let m = regime.len();
        let span = regime.first().map_or(1, |point| 1 - point.offset as i64);
        let mean_offset = regime.iter().map(|point| point.offset).sum::<f64>() / m.max(1) as f64;
        let spread: f64 = regime.iter().map(|point| (point.offset - mean_offset).powi(2)).sum();
        let start = Line::of_thirds(regime);
        let sigma = robust_deviation(regime, &start).max(difference_deviation(regime));
        let fitted = clipped_fit(regime, start, sigma, true);
        let degrees = (m as f64 - 2.0 - profile_parameters).max(1.0);
        let residual_sd = (squares(regime, &fitted, sigma) / degrees).sqrt();
        let slope_se = if spread > 0.0 { residual_sd / spread.sqrt() } else { f64::INFINITY };
        let centre = fitted.at(mean_offset);
        let (trend_weight, shrink) = trend_weight(fitted.slope, slope_se, centre, m);
        // The posterior mean of the slope over the two models, through the line's value at t̄.
        let slope = trend_weight * shrink * fitted.slope;
        let level = centre - slope * mean_offset;
        let slope = if fitted.slope.abs() > student_t(0.99, degrees) * slope_se { slope } else { 0.0 };
        let line = Line { level, slope };
        // The trend is carried at most the regime's span `H`, nor past halving or doubling the
        // level of the newest day.
        let reach = if line.level > 0.0 && slope < 0.0 {
            line.level / (2.0 * -slope)
        } else if line.level > 0.0 && slope > 0.0 {
            line.level / slope
        } else {
            f64::INFINITY
        };
        let span = if reach < span as f64 { reach.floor() as i64 } else { span };
        Fit {
            line,
            factors: *factors,
            residual_sd,
            slope_se,
            regime_days: m,
            mean_offset,
            span,
            degrees_of_freedom: degrees,
            fitted,
            trend_weight,
            drift: level_drift(regime, &fitted, sigma),
            level_variance: residual_sd * residual_sd / m.max(1) as f64,
        }
    }
}

/// The prior standard deviation `τ` of the slope, relative to the level, per year: a cost is not
/// expected to change by much more than its own size in a year.
const TREND_PRIOR_PER_YEAR: f64 = 1.0;

/// `(w, k)`: the posterior weight of the model with trend against the flat one, and the factor
/// `k = τ² / (τ² + se_b²)` that shrinks the fitted slope `b` to its posterior mean under the model
/// with trend, the slope's prior being normal with mean 0 and standard deviation
/// `τ = TREND_PRIOR_PER_YEAR · |level| / 365` (step 4). Without a usable `τ` or `se_b` (a level of
/// 0, an exact fit), the BIC weight `1 / (1 + exp((ln m − t²) / 2))` and `k = 1`.
fn trend_weight(slope: f64, slope_se: f64, level: f64, m: usize) -> (f64, f64) {
    let t_squared = if slope == 0.0 { 0.0 } else { (slope / slope_se).powi(2) };
    let tau = TREND_PRIOR_PER_YEAR * level.abs() / 365.0;
    if tau > 0.0 && tau.is_finite() && slope_se > 0.0 && slope_se.is_finite() {
        let ratio = (tau / slope_se).powi(2);
        let shrink = ratio / (1.0 + ratio);
        // ln of the Bayes factor of the trend: the normal prior against none.
        let log_factor = -0.5 * ratio.ln_1p() + t_squared / 2.0 * shrink;
        (1.0 / (1.0 + (-log_factor).min(700.0).exp()), shrink)
    } else {
        (1.0 / (1.0 + (((m.max(1) as f64).ln() - t_squared) / 2.0).min(700.0).exp()), 1.0)
    }
}

/// A deviation below which differences are rounding: relative to the points' typical |value|.
fn rounding_of(points: &[Point]) -> f64 {
    let mut magnitudes: Vec<f64> = points.iter().map(|point| point.value.abs()).collect();
    let typical = median(&mut magnitudes).unwrap_or(0.0);
    ROUNDING * if typical > 0.0 { typical } else { 1.0 }
}

/// `σ₀`: 1.4826 · the median absolute residual from `line`, at least the rounding level.
fn robust_deviation(points: &[Point], line: &Line) -> f64 {
    let mut residuals: Vec<f64> = points.iter().map(|point| (point.value - line.at(point.offset)).abs()).collect();
    (MAD_TO_SD * median(&mut residuals).unwrap_or(0.0)).max(rounding_of(points))
}

/// `σ`: 1.4826 · the median of the absolute differences of consecutive points / √2, at least the
/// rounding level. Steps and trends barely move it.
fn difference_deviation(points: &[Point]) -> f64 {
    let mut differences: Vec<f64> = points.windows(2).map(|pair| (pair[1].value - pair[0].value).abs()).collect();
    (MAD_TO_SD * median(&mut differences).unwrap_or(0.0) / std::f64::consts::SQRT_2).max(rounding_of(points))
}

/// Step 3: the index of the regime's first point.
fn regime_start(points: &[Point]) -> usize {
    let mut start = 0;
    while points.len() - start >= 2 * MIN_SEGMENT {
        let segment = &points[start..];
        let floor = rounding_of(segment);
        let differences: Vec<f64> = segment.windows(2).map(|pair| (pair[1].value - pair[0].value).abs()).collect();
        let sigma = difference_deviation(segment);
        let limit = SHIFT_CLIP * std::f64::consts::SQRT_2 * sigma;
        let clipped_squares: f64 = differences.iter().map(|difference| difference.min(limit).powi(2)).sum();
        let sigma_c = (clipped_squares / differences.len().max(1) as f64 / 2.0).sqrt().max(floor);
        let line = Line::of_thirds(segment);
        let residuals: Vec<f64> = segment
            .iter()
            .map(|point| (point.value - line.at(point.offset)).clamp(-SHIFT_CLIP * sigma, SHIFT_CLIP * sigma))
            .collect();
        let total: f64 = residuals.iter().sum();
        let count = residuals.len();
        let mut before = 0.0;
        let mut best: Option<(f64, usize)> = None;
        for (k, residual) in residuals.iter().enumerate().take(count - MIN_SEGMENT) {
            before += residual;
            let k_before = k + 1;
            if k_before < MIN_SEGMENT {
                continue;
            }
            let k_after = count - k_before;
            let difference = (total - before) / k_after as f64 - before / k_before as f64;
            let z = difference / (sigma_c * (1.0 / k_before as f64 + 1.0 / k_after as f64).sqrt());
            if z.abs() > best.map_or(0.0, |(best_z, _)| best_z) {
                best = Some((z.abs(), k_before));
            }
        }
        match best {
            Some((z, k)) if z > SHIFT_Z => start += k,
            _ => break,
        }
    }
    start
}

/// Step 4: least squares on the values with their residual from the current line clipped to
/// ±5·σ₀, repeated; a level alone without `with_trend`.
fn clipped_fit(points: &[Point], start: Line, sigma: f64, with_trend: bool) -> Line {
    let limit = FIT_CLIP * sigma;
    let mut line = start;
    for _ in 0..FIT_ROUNDS {
        let adjusted: Vec<Point> = points
            .iter()
            .map(|point| {
                let fitted = line.at(point.offset);
                Point { offset: point.offset, value: fitted + (point.value - fitted).clamp(-limit, limit) }
            })
            .collect();
        let next = least_squares(&adjusted, with_trend);
        let settled = next == line;
        line = next;
        if settled {
            break;
        }
    }
    line
}

/// The least-squares line (or level) through `points`.
fn least_squares(points: &[Point], with_trend: bool) -> Line {
    let count = points.len().max(1) as f64;
    let mean_offset = points.iter().map(|point| point.offset).sum::<f64>() / count;
    let mean_value = points.iter().map(|point| point.value).sum::<f64>() / count;
    let spread: f64 = points.iter().map(|point| (point.offset - mean_offset).powi(2)).sum();
    let covariance: f64 = points.iter().map(|point| (point.offset - mean_offset) * point.value).sum();
    let slope = if with_trend && spread > 0.0 { covariance / spread } else { 0.0 };
    Line { level: mean_value - slope * mean_offset, slope }
}

/// `Σ (w_i)²` of a difference of two consecutive 7-day means under a random walk of unit
/// variance per day: `(Σ_{i≤7} i² + Σ_{i≤6} i²) / 49`.
const WEEK_DIFFERENCE_DRIFT: f64 = 231.0 / 49.0;

/// `q`: how much the level wanders, per day, beyond the noise (step 4 of the module
/// documentation). From the residuals `e` of the fit with trend (clipped as in the fit), the means
/// `B_j` of the 7-day blocks counted back from the newest day (those with at least 4 days of
/// data): `E[(B_j − B_{j+1})²] = σ²·(1/n_j + 1/n_{j+1}) + q·231/49`, `σ²` the noise variance
/// estimated as `mean((e_t − e_{t−1})²) / 2` over consecutive days: the excess, at least 0; 0
/// with fewer than 2 pairs of blocks.
fn level_drift(points: &[Point], line: &Line, sigma: f64) -> f64 {
    let limit = FIT_CLIP * sigma;
    let residual = |point: &Point| (point.value - line.at(point.offset)).clamp(-limit, limit);
    let consecutive: Vec<f64> = points
        .windows(2)
        .filter(|pair| pair[1].offset - pair[0].offset == 1.0)
        .map(|pair| (residual(&pair[1]) - residual(&pair[0])).powi(2))
        .collect();
    if consecutive.is_empty() {
        return 0.0;
    }
    let noise = consecutive.iter().sum::<f64>() / consecutive.len() as f64 / 2.0;
    let Some(oldest) = points.first() else { return 0.0 };
    let blocks = (-oldest.offset / 7.0).floor() as usize + 1;
    let mut sums = vec![(0.0, 0_usize); blocks];
    for point in points {
        let block = (-point.offset / 7.0).floor() as usize;
        if let Some((sum, count)) = sums.get_mut(block) {
            *sum += residual(point);
            *count += 1;
        }
    }
    let pairs: Vec<(f64, f64)> = sums
        .windows(2)
        .filter(|pair| pair[0].1 >= 4 && pair[1].1 >= 4)
        .map(|pair| {
            let (newer, older) = (pair[0].0 / pair[0].1 as f64, pair[1].0 / pair[1].1 as f64);
            ((newer - older).powi(2), noise * (1.0 / pair[0].1 as f64 + 1.0 / pair[1].1 as f64))
        })
        .collect();
    if pairs.len() < 2 {
        return 0.0;
    }
    let k = pairs.len() as f64;
    let (observed, expected) = pairs.iter().fold((0.0, 0.0), |(o, e), (d2, n)| (o + d2 / k, e + n / k));
    // The moment estimate, truncated at 0 (not tested first: a drift too faint to pass a test
    // still widens the band over months).
    (observed - expected).max(0.0) / WEEK_DIFFERENCE_DRIFT
}

/// `Σ` of the squared residuals from `line`, each clipped to ±5·σ₀ as in the fit.
fn squares(points: &[Point], line: &Line, sigma: f64) -> f64 {
    let limit = FIT_CLIP * sigma;
    points.iter().map(|point| (point.value - line.at(point.offset)).clamp(-limit, limit).powi(2)).sum()
}

/// The projected path after the newest day: the fitted line through `H` days, flat after.
#[derive(Debug, Clone, Copy)]
struct Projection {
    trend: DailyPath,
    flat: DailyPath,
    span: i64,
}

impl Projection {
    fn of(fit: &Fit, factors: [f64; 7], newest_weekday: usize) -> Self {
        let span = fit.span.max(0);
        let trend = DailyPath { line: fit.line, factors, first_weekday: newest_weekday };
        let plateau = Line { level: fit.line.at(span as f64), slope: 0.0 };
        let flat =
            DailyPath { line: plateau, factors, first_weekday: (newest_weekday + span.rem_euclid(7) as usize) % 7 };
        Projection { trend, flat, span }
    }

    /// `Σ daily(1..=days)`.
    fn sum_through(&self, days: i64) -> f64 {
        let trended = self.trend.sum_through(days.min(self.span));
        if days <= self.span { trended } else { trended + self.flat.sum_through(days - self.span) }
    }
}

/// Steps 5 to 7 of the module documentation.
fn project(input: &ForecastInput<'_>, series: &Series, fit: &Fit, days_of_data: u32, burn_rate: f64) -> Forecast {
    let newest = series.newest;
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
    let first_weekday = weekday(newest);
    let path = Projection::of(fit, fit.factors, first_weekday);
    let median_remaining = path.sum_through(remaining_days) * series.scale;
    let projected = input.cost_to_date + median_remaining;
    // F, F₂ and G = Σ f·(h − t̄), through the same closed-form sums.
    let unit = Fit { line: Line { level: 1.0, slope: 0.0 }, ..fit.clone() };
    let ramp = Fit { line: Line { level: 0.0, slope: 1.0 }, span: i64::MAX, ..fit.clone() };
    let squared_factors = fit.factors.map(|factor| factor * factor);
    let f_sum = Projection::of(&unit, fit.factors, first_weekday).sum_through(remaining_days);
    let f2_sum = Projection::of(&unit, squared_factors, first_weekday).sum_through(remaining_days);
    let lever = Projection::of(&ramp, fit.factors, first_weekday).sum_through(remaining_days) - fit.mean_offset * f_sum;
    // A random walk of the level: the total moves by Σ_k η_k·(N − k + 1), variance q·Σ j².
    let n = remaining_days as f64;
    let mean_factor = f_sum / n;
    let drift_variance = fit.drift * n * (n + 1.0) * (2.0 * n + 1.0) / 6.0 * mean_factor * mean_factor;
    let common = f2_sum * fit.residual_sd * fit.residual_sd + f_sum * f_sum * fit.level_variance + drift_variance;
    let slope_se = fit.slope_se;
    // The two models' sums through the period's end, through the fitted line's value at t̄: no
    // trend, and the trend as fitted continued.
    let centre = fit.fitted.at(fit.mean_offset);
    let sum_with = |slope: f64| {
        let line = Line { level: centre - slope * fit.mean_offset, slope };
        Projection::of(&Fit { line, span: i64::MAX, ..fit.clone() }, fit.factors, first_weekday)
            .sum_through(remaining_days)
    };
    // Student's t through the normal components: each variance scaled by (t / z)².
    let widen = (student_t(0.95, fit.degrees_of_freedom) / normal_quantile(0.95)).powi(2);
    let components = [
        (1.0 - fit.trend_weight, sum_with(0.0), common * widen),
        (fit.trend_weight, sum_with(fit.fitted.slope), (common + lever * lever * slope_se * slope_se) * widen),
    ];
    let (lower, upper) = match mixture_band(&components) {
        Some((low, high)) => (
            (input.cost_to_date + low * series.scale).min(projected).max(input.cost_to_date),
            (input.cost_to_date + high * series.scale).max(projected),
        ),
        // Only overflowing arithmetic (∞·0, ∞−∞) gets here: an unbounded band is the honest answer.
        None => (input.cost_to_date, f64::INFINITY),
    };

    let (budget_exhausted_day, budget_exhausted_day_earliest) = if !has_budget || over_budget {
        (already_exhausted, already_exhausted)
    } else {
        let upper_multiplier =
            if median_remaining > 0.0 { (upper - input.cost_to_date) / median_remaining } else { 1.0 };
        let exhaustion = |multiplier: f64| {
            let reached =
                |days: i64| input.cost_to_date + multiplier * (path.sum_through(days) * series.scale) >= input.budget;
            first_reaching(remaining_days, reached).map(|days| newest.saturating_add(days))
        };
        (exhaustion(1.0), exhaustion(upper_multiplier))
    };
    Forecast { days_of_data, burn_rate, projected, lower, upper, budget_exhausted_day, budget_exhausted_day_earliest }
}

/// The 5 % and 95 % quantiles of a mixture of normal distributions `(weight, mean, variance)` (a
/// variance of 0 is a point mass), by bisection; `None` when a mean or a variance is not finite.
fn mixture_band(components: &[(f64, f64, f64)]) -> Option<(f64, f64)> {
    let active: Vec<(f64, f64, f64)> = components.iter().copied().filter(|(weight, _, _)| *weight > 0.0).collect();
    if active.is_empty() || active.iter().any(|(_, mean, variance)| !(mean.is_finite() && variance.is_finite())) {
        return None;
    }
    let cdf = |x: f64| -> f64 {
        active
            .iter()
            .map(|&(weight, mean, variance)| {
                let below =
                    if variance > 0.0 { normal_cdf((x - mean) / variance.sqrt()) } else { f64::from(x >= mean) };
                weight * below
            })
            .sum::<f64>()
            / active.iter().map(|(weight, _, _)| weight).sum::<f64>()
    };
    let low = active.iter().map(|&(_, mean, variance)| mean - 10.0 * variance.sqrt()).fold(f64::INFINITY, f64::min);
    let high =
        active.iter().map(|&(_, mean, variance)| mean + 10.0 * variance.sqrt()).fold(f64::NEG_INFINITY, f64::max);
    if !(low.is_finite() && high.is_finite()) {
        return None;
    }
    // The smallest x with cdf(x) ≥ p, to the precision of f64.
    let quantile = |p: f64| {
        let (mut below, mut above) = (low, high);
        loop {
            let middle = below + (above - below) / 2.0;
            if middle <= below || middle >= above {
                return above;
            }
            if cdf(middle) >= p {
                above = middle;
            } else {
                below = middle;
            }
        }
    };
    Some((quantile(0.05), quantile(0.95)))
}

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
mod tests;
