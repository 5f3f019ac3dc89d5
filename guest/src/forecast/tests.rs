//! Tests of the forecast model: its statement, checked case by case.

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
    // v1 continued 100 + 2i through the period's end (1000 + 5550). v2 carries a trend at most
    // the 28 days it was measured on, then holds it: days i = 28..=55 continue 100 + 2i
    // (28 · 100 + 2 · (28 + 55) · 28 / 2 = 5124), days 56 and 57 stay at 100 + 2 · 55 = 210.
    assert_close(forecast.projected, 1000.0 + 5124.0 + 2.0 * 210.0);
    assert_close(forecast.lower, forecast.projected);
    // The band spans the trend carried through the period's end, v1's answer.
    assert_close(forecast.upper, 1000.0 + 5550.0);
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
    let history: Vec<DailyCost> = weekly_history(newest).into_iter().filter(|cost| weekday(cost.day) != 0).collect();
    let forecast = expect_forecast(forecast(&input(&history, newest + 7, 0.0, 0.0)));
    assert_eq!(forecast.days_of_data, 24);
    assert_close(forecast.projected, 80.0 + 4.0 * 100.0 + 2.0 * 40.0);
}

#[test]
fn weekly_pattern_with_trend_is_reproduced_within_a_percent() {
    // (100 + 2i) · g[weekday] with g averaging 1 over the week, over 6 weeks: v1 reproduced
    // this exactly from 4 weeks (its profile and line were fitted jointly). v2 estimates the
    // profile from ratios to a centred 7-day mean, which the trend bends slightly, and needs 5
    // weeks of them when they do not fit exactly: within 1 %. The 40 days ahead are within the
    // 42 days the trend was measured on, so it is carried all the way.
    let profile = [1.2, 1.2, 1.2, 1.2, 1.2, 0.5, 0.5];
    let first = MONDAY + 3; // a Thursday, so the window is not aligned to weeks
    let value = |i: i64| (100.0 + 2.0 * i as f64) * profile[weekday(first + i)];
    let history: Vec<DailyCost> = (0..42).map(|i| DailyCost { day: first + i, value: value(i) }).collect();
    let newest = first + 41;
    let forecast = expect_forecast(forecast(&input(&history, newest + 40, 300.0, 0.0)));
    let expected: f64 = 300.0 + (42..82).map(value).sum::<f64>();
    assert!((forecast.projected - expected).abs() < 0.01 * expected, "{forecast:?} vs {expected}");
    assert!(forecast.lower <= expected && expected <= forecast.upper, "{forecast:?} vs {expected}");
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
    // v1 reproduced this exactly; v2's profile (ratios to a centred 7-day mean) is off by the
    // trend within a week: within 1 %. The weekends stay at exactly 0 either way.
    assert!((forecast.projected - expected).abs() < 0.01 * expected, "{forecast:?} vs {expected}");
    assert!(forecast.lower <= expected && expected <= forecast.upper, "{forecast:?} vs {expected}");
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

    let series = Series::of(&history).expect("28 days of data");
    let factors = weekday_profile(&series.days);
    assert_eq!(factors, [1.0; 7], "no weekday pattern in uniform noise");
    let fit = Fit::of(&series, &factors);
    // v2 tested the trend and carried none here. v3 has no test: it carries the slope's
    // posterior mean over the models with and without trend, which the flat model's weight
    // makes small on noise: it moves the 30 days ahead by under 1 %.
    assert!(fit.trend_weight < 0.5, "a flat series favours the flat model: {fit:?}");
    assert!((fit.line.slope * 30.0).abs() < 0.01 * fit.line.level, "{fit:?}");

    let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 0.0)));
    let truth = 2800.0 + future;
    assert!((forecast.projected - 5800.0).abs() < 0.03 * 5800.0, "{forecast:?}");
    assert!(forecast.lower < forecast.projected && forecast.projected < forecast.upper, "{forecast:?}");
    assert!(forecast.lower <= truth && truth <= forecast.upper, "truth {truth} outside {forecast:?}");
}

/// 100 a day with uniform noise of ±`half_width`, for the days `first ..= last`.
fn noisy_history(
    random: &mut Lcg,
    first: i64,
    last: i64,
    level: impl Fn(i64) -> f64,
    half_width: f64,
) -> Vec<DailyCost> {
    (first..=last).map(|day| DailyCost { day, value: level(day) + 2.0 * half_width * (random.next() - 0.5) }).collect()
}

#[test]
fn spikes_in_the_window_do_not_blow_up_the_projection() {
    let mut random = Lcg(3);
    let newest = MONDAY + 59;
    let mut history = noisy_history(&mut random, newest - 59, newest, |_| 100.0, 10.0);
    // Two single-day spikes of 30x, one of them on the newest day.
    history[40].value = 3000.0;
    history[59].value = 3000.0;
    let used: f64 = history.iter().map(|cost| cost.value).sum();
    let forecast = expect_forecast(forecast(&input(&history, newest + 300, used, 0.0)));
    let rest = forecast.projected - used;
    // Within 4 % (v2: 3 %, at 2 %). The clipped spikes still raise the level by about 1 a day.
    // The spike on the newest day tilts the line (t ≈ 1.6, not carried), and v3 averages the
    // newest level over the two models with the weight of a N(0, τ²) slope prior (0.41) where
    // v2 used the BIC's (0.31): it moves by w·k·b·|t̄| ≈ 1.2 a day, 3.2 % over the 300 days.
    assert!((rest - 30_000.0).abs() < 0.04 * 30_000.0, "{forecast:?}");
    assert!(forecast.lower <= used + 30_000.0 && used + 30_000.0 <= forecast.upper, "{forecast:?}");
}

#[test]
fn a_step_projects_the_level_after_it() {
    let mut random = Lcg(5);
    let newest = MONDAY + 59;
    // Onboarding: 100 a day, then 300 a day for the last 12 days.
    let level = |day: i64| if day > newest - 12 { 300.0 } else { 100.0 };
    let history = noisy_history(&mut random, newest - 59, newest, level, 20.0);
    let forecast = expect_forecast(forecast(&input(&history, newest + 100, 0.0, 0.0)));
    assert!((forecast.projected - 30_000.0).abs() < 0.05 * 30_000.0, "{forecast:?}");
    assert!(forecast.lower <= 30_000.0 && 30_000.0 <= forecast.upper, "{forecast:?}");
}

#[test]
fn a_step_six_days_ago_is_taken_but_two_spikes_in_a_row_are_not() {
    let mut random = Lcg(9);
    let newest = MONDAY + 59;
    let step = |day: i64| if day > newest - 6 { 300.0 } else { 100.0 };
    let stepped = noisy_history(&mut random, newest - 59, newest, step, 10.0);
    let after_step = expect_forecast(forecast(&input(&stepped, newest + 100, 0.0, 0.0)));
    assert!((after_step.projected - 30_000.0).abs() < 0.1 * 30_000.0, "{after_step:?}");
    let mut spiked = noisy_history(&mut random, newest - 59, newest, |_| 100.0, 10.0);
    spiked[58].value = 3000.0;
    spiked[59].value = 3000.0;
    let forecast = expect_forecast(forecast(&input(&spiked, newest + 100, 0.0, 0.0)));
    assert!((forecast.projected - 10_000.0).abs() < 0.05 * 10_000.0, "{forecast:?}");
}

#[test]
fn trendless_noise_keeps_no_trend_mostly_and_its_band_covers() {
    // 400 flat histories of 60 days with ±50 % uniform noise, projected 300 days ahead: the
    // trend test (2 % level) carries few trends, none far enough to leave 0.5x-2x,
    // and the 90 % band holds the truth at least 85 % of the time.
    let mut random = Lcg(11);
    let newest = MONDAY + 59;
    let (mut kept, mut covered) = (0, 0);
    let runs = 400;
    for _ in 0..runs {
        let history = noisy_history(&mut random, newest - 59, newest, |_| 100.0, 50.0);
        let future: f64 = (0..300).map(|_| 100.0 + 100.0 * (random.next() - 0.5)).sum();
        let series = Series::of(&history).expect("60 days");
        let factors = weekday_profile(&series.days);
        kept += usize::from(Fit::of(&series, &factors).line.slope != 0.0);
        let forecast = expect_forecast(forecast(&input(&history, newest + 300, 0.0, 0.0)));
        let ratio = forecast.projected / future;
        assert!((0.5..=2.0).contains(&ratio), "{forecast:?} vs {future}");
        covered += usize::from(forecast.lower <= future && future <= forecast.upper);
    }
    assert!(kept <= runs / 10, "{kept} of {runs} kept a trend");
    // The band is conservative on a truly flat series (396 of 400 here; v2 399): its model
    // with trend, weighted by its posterior weight, covers the trends the test misses.
    assert!(covered >= runs * 85 / 100, "{covered} of {runs} covered");
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
fn history_older_than_the_lookback_is_ignored_and_a_spike_within_it_is_clipped() {
    // v1 read 28 days, so both records were ignored. v2 reads 365: the spike 28 days back is
    // in it, but clipped to the line + 5·σ₀ (σ₀ is only the rounding floor here, 1e-9 of the
    // typical value), so it moves the projection by a few millionths.
    let newest = MONDAY + 27;
    let mut history = flat_history(newest);
    history.push(DailyCost { day: newest - 28, value: 1e9 });
    history.push(DailyCost { day: newest - 400, value: -1e9 });
    let forecast = expect_forecast(forecast(&input(&history, newest + 30, 2800.0, 0.0)));
    assert_eq!(forecast.days_of_data, 28);
    assert!((forecast.projected - 5800.0).abs() < 1e-3, "{forecast:?}");
    assert!((forecast.upper - 5800.0).abs() < 1e-3, "{forecast:?}");
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
fn steep_decline_is_held_at_the_newest_level_and_never_below_the_cost_to_date() {
    // 1000 − 35i: the line reaches 55 on the newest day, 20 the day after, then goes negative.
    // v1 carried it (500 + 20). v2 carries no trend past halving the newest day's level, which
    // this one does within a day: it holds 55 a day. The band still spans the continued line.
    let newest = MONDAY + 27;
    let values: Vec<f64> = (0..28).map(|i| 1000.0 - 35.0 * f64::from(i)).collect();
    let history = history(newest - 27, &values);
    let forecast = expect_forecast(forecast(&input(&history, newest + 30, 500.0, 0.0)));
    assert_close(forecast.projected, 500.0 + 30.0 * 55.0);
    assert_close(forecast.lower, 500.0 + 20.0);
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
            let line = Line { level, slope };
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
