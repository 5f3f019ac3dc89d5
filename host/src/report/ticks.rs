//! Where an axis puts its ticks: amounts on round steps (1, 2 or 5 times a power of ten, from a
//! multiple of the step), days on whole days, Mondays, first days of months or of years —
//! whichever is the finest that keeps the labels apart.

use jiff::civil::Date;

use super::time;

/// The ticks of an amount axis: from `low` to `high` (both multiples of `step`) by `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AmountTicks {
    pub low: f64,
    pub high: f64,
    pub step: f64,
}

impl AmountTicks {
    /// Round ticks covering `low..=high` in at most `intervals` steps (zero stays on the axis
    /// when the range includes it; an empty range becomes one step wide).
    pub fn new(low: f64, high: f64, intervals: usize) -> AmountTicks {
        let (low, high) = if low.is_finite() && high.is_finite() { (low.min(high), low.max(high)) } else { (0.0, 0.0) };
        let span = if high > low { high - low } else { high.abs().max(1.0) };
        let step = round_step(span, intervals.max(1));
        let first = (low / step).floor() * step;
        let mut last = (high / step).ceil() * step;
        if last <= first {
            last = first + step;
        }
        AmountTicks { low: first, high: last, step }
    }

    /// The tick values, `low` first.
    pub fn values(&self) -> Vec<f64> {
        let count = ((self.high - self.low) / self.step).round() as usize;
        // Multiplied, not accumulated: 0.1 + 0.1 + 0.1 drifts, 3 * 0.1 rounds once.
        (0..=count).map(|index| self.low + index as f64 * self.step).collect()
    }
}

/// The smallest of 1, 2, 5 or 10 times a power of ten that covers `span` in `intervals` steps.
pub fn round_step(span: f64, intervals: usize) -> f64 {
    let raw = span / intervals as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|factor| factor * power).find(|step| *step >= raw * (1.0 - 1e-9));
    step.unwrap_or(10.0 * power)
}

/// A tick of a time axis: its day (days since 1970-01-01) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTick {
    pub day: i64,
    pub label: String,
}

/// How far apart the ticks of a time axis are.
#[derive(Debug, Clone, Copy)]
enum Spacing {
    Days(i64),
    Mondays(i64),
    Months(i8),
    Years(i16),
}

impl Spacing {
    /// Roughly how many days apart its ticks are (to skip a spacing without listing its ticks).
    fn days(self) -> f64 {
        match self {
            Spacing::Days(n) => n as f64,
            Spacing::Mondays(n) => 7.0 * n as f64,
            Spacing::Months(n) => 30.4 * f64::from(n),
            Spacing::Years(n) => 365.25 * f64::from(n),
        }
    }
}

const SPACINGS: [Spacing; 14] = [
    Spacing::Days(1),
    Spacing::Days(2),
    Spacing::Mondays(1),
    Spacing::Mondays(2),
    Spacing::Months(1),
    Spacing::Months(2),
    Spacing::Months(3),
    Spacing::Months(6),
    Spacing::Years(1),
    Spacing::Years(2),
    Spacing::Years(5),
    Spacing::Years(10),
    Spacing::Years(50),
    Spacing::Years(100),
];

/// At most `at_most` ticks on the days `first..=last`, the finest spacing that fits.
pub fn date_ticks(first: i64, last: i64, at_most: usize) -> Vec<DateTick> {
    let span = (last - first).max(0) as f64;
    for spacing in SPACINGS {
        if span / spacing.days() > at_most as f64 + 1.0 {
            continue;
        }
        let ticks = ticks_of(spacing, first, last);
        if ticks.len() <= at_most && !ticks.is_empty() {
            return ticks;
        }
    }
    // A range no spacing fits (or with no tick inside): its two ends.
    let mut ends: Vec<i64> = vec![first, last];
    ends.dedup();
    ends.into_iter().filter_map(|day| Some(DateTick { day, label: time::short(time::from_number(day)?) })).collect()
}

fn ticks_of(spacing: Spacing, first: i64, last: i64) -> Vec<DateTick> {
    let (Some(start), Some(_)) = (time::from_number(first), time::from_number(last)) else { return Vec::new() };
    let tick = |day: Date, label: String| DateTick { day: time::number(day), label };
    match spacing {
        Spacing::Days(n) => {
            (first..=last).step_by(n as usize).filter_map(time::from_number).map(|d| tick(d, time::short(d))).collect()
        }
        Spacing::Mondays(n) => {
            let offset = (7 - start.weekday().to_monday_zero_offset()) % 7;
            (first + i64::from(offset)..=last)
                .step_by(7 * n as usize)
                .filter_map(time::from_number)
                .map(|d| tick(d, time::short(d)))
                .collect()
        }
        Spacing::Months(n) => {
            let mut ticks = Vec::new();
            let mut month = start.first_of_month();
            while time::number(month) <= last {
                if time::number(month) >= first && (month.month() - 1) % n == 0 {
                    let with_year = ticks.is_empty() || month.month() == 1;
                    ticks.push(tick(month, time::month(month, with_year)));
                }
                let Some(next) = next_month(month) else { break };
                month = next;
            }
            ticks
        }
        Spacing::Years(n) => {
            let mut ticks = Vec::new();
            let mut year = start.year();
            while let Ok(january) = Date::new(year, 1, 1) {
                if time::number(january) > last {
                    break;
                }
                if time::number(january) >= first && year % n == 0 {
                    ticks.push(tick(january, year.to_string()));
                }
                year += 1;
            }
            ticks
        }
    }
}

fn next_month(month: Date) -> Option<Date> {
    let (year, next) =
        if month.month() == 12 { (month.year().checked_add(1)?, 1) } else { (month.year(), month.month() + 1) };
    Date::new(year, next, 1).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_ticks_are_round_steps_from_zero_covering_the_data() {
        let ticks = AmountTicks::new(0.0, 1_078_836.17, 6);
        assert_eq!((ticks.low, ticks.high, ticks.step), (0.0, 1_200_000.0, 200_000.0));
        assert_eq!(ticks.values().len(), 7);
        let ticks = AmountTicks::new(0.0, 3_412.5, 5);
        assert_eq!((ticks.step, ticks.high), (1000.0, 4000.0));
        let ticks = AmountTicks::new(0.0, 7.0, 5);
        assert_eq!((ticks.step, ticks.high), (2.0, 8.0));
        assert_eq!(AmountTicks::new(0.0, 0.3, 3).values(), vec![0.0, 0.1, 0.2, 0.30000000000000004]);
    }

    #[test]
    fn amount_ticks_take_in_negative_values_and_empty_ranges() {
        let ticks = AmountTicks::new(-120.0, 480.0, 6);
        assert_eq!((ticks.low, ticks.high, ticks.step), (-200.0, 500.0, 100.0));
        let flat = AmountTicks::new(0.0, 0.0, 5);
        assert!(flat.high > flat.low, "an empty range still has a step: {flat:?}");
        let odd = AmountTicks::new(f64::NAN, 5.0, 5);
        assert!(odd.high > odd.low);
    }

    #[test]
    fn round_steps_are_one_two_or_five_times_a_power_of_ten() {
        assert_eq!(round_step(100.0, 5), 20.0);
        assert_eq!(round_step(100.0, 10), 10.0);
        assert_eq!(round_step(1.0, 4), 0.5);
        assert_eq!(round_step(31.0, 5), 10.0);
        assert_eq!(round_step(0.07, 7), 0.01);
    }

    fn day(year: i16, month: i8, day: i8) -> i64 {
        time::number(Date::constant(year, month, day))
    }

    #[test]
    fn a_few_days_get_a_tick_each() {
        let ticks = date_ticks(day(2026, 11, 1), day(2026, 11, 5), 8);
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1 Nov", "2 Nov", "3 Nov", "4 Nov", "5 Nov"]);
    }

    #[test]
    fn a_month_gets_mondays_and_a_quarter_gets_weeks_or_months() {
        let ticks = date_ticks(day(2026, 11, 1), day(2026, 11, 30), 8);
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"], "the Mondays of November 2026");
        let ticks = date_ticks(day(2026, 9, 2), day(2026, 11, 30), 8);
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["7 Sep", "21 Sep", "5 Oct", "19 Oct", "2 Nov", "16 Nov", "30 Nov"]);
    }

    #[test]
    fn a_year_gets_months_with_the_year_where_it_starts() {
        let ticks = date_ticks(day(2026, 9, 2), day(2027, 9, 1), 8);
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["Nov 2026", "Jan 2027", "Mar", "May", "Jul", "Sep"]);
        let ticks = date_ticks(day(2026, 9, 2), day(2027, 9, 1), 13);
        assert_eq!(ticks.len(), 12);
        assert_eq!(ticks[0].label, "Oct 2026");
        assert_eq!(ticks[0].day, day(2026, 10, 1));
    }

    #[test]
    fn decades_get_years_and_a_single_day_gets_itself() {
        let ticks = date_ticks(day(2000, 6, 1), day(2030, 6, 1), 8);
        let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["2005", "2010", "2015", "2020", "2025", "2030"]);
        let ticks = date_ticks(day(2026, 11, 30), day(2026, 11, 30), 8);
        assert_eq!(ticks, vec![DateTick { day: day(2026, 11, 30), label: "30 Nov".into() }]);
    }
}
