//! Which `/cost` records a run can vouch for: one per day, none from the future.
//!
//! Everything downstream (the running `costToDate`, the outlook, the anomalies, the
//! reconciliations and the delivery state) assumes one record per day, each a day that has begun.
//! A broken upstream can break both:
//! - a day listed twice: identical records are one (merged, with a note); records that differ
//!   are refused, naming the day, since dtcost cannot tell which one is right and summing them
//!   would double count;
//! - a day after the run's time (or after the subscription's current period): held back with a
//!   note, not sent and not counted, so that it cannot move the delivery state past the days
//!   that are real; it is read again, as any day, once that day has come.

use crate::error::InvalidRecord;
use crate::events::cost_days_in_order;
use crate::time::{DAY_MS, parse_instant_millis};
use crate::untrusted;
use crate::wit::CostRecord;

/// The records a run can vouch for, in the order read, and the notes saying what was left out.
#[derive(Debug)]
pub struct CostDays {
    pub costs: Vec<CostRecord>,
    pub notes: Vec<String>,
}

/// Checks `costs` (see [`cost_days_in_order`]), then keeps one record per day and none that
/// starts after `read_at` or at or after `period_end`.
pub fn vouched_cost_days(
    costs: Vec<CostRecord>,
    read_at: &str,
    period_end: Option<&str>,
) -> Result<CostDays, InvalidRecord> {
    let order = cost_days_in_order(&costs)?;
    let now = parse_instant_millis(read_at);
    let end = period_end.and_then(parse_instant_millis);
    let mut keep = vec![true; costs.len()];
    let mut notes = Vec::new();
    let mut future = Vec::new();
    let mut merged = Vec::new();
    let mut previous: Option<(i64, usize)> = None;
    for &(start, index) in &order {
        let record = &costs[index];
        if now.is_some_and(|now| start > now) || end.is_some_and(|end| start >= end) {
            keep[index] = false;
            future.push(index);
            continue;
        }
        let day = start.div_euclid(DAY_MS);
        if let Some((previous_day, first)) = previous
            && previous_day == day
        {
            if same_figures(&costs[first], record) {
                keep[index] = false;
                merged.push(index);
                continue;
            }
            return Err(InvalidRecord::new(
                format!("data[{index}]"),
                format!(
                    "lists the day of {} again with other figures than data[{first}] ({} {} against {} {}): dtcost \
                     cannot tell which is right and will not add them up, so this account's daily cost is refused",
                    untrusted::bounded(&record.start_time),
                    record.value,
                    untrusted::bounded(&record.currency_code),
                    costs[first].value,
                    untrusted::bounded(&costs[first].currency_code),
                ),
            ));
        }
        previous = Some((day, index));
    }
    if !merged.is_empty() {
        notes.push(format!(
            "/cost listed {} day(s) more than once with the same figures ({}): each counted once",
            merged.len(),
            named(&costs, &merged)
        ));
    }
    if !future.is_empty() {
        let after = match period_end {
            Some(end) => format!("this run's time ({read_at}) or the period's end ({})", untrusted::bounded(end)),
            None => format!("this run's time ({read_at})"),
        };
        notes.push(format!(
            "/cost listed {} day(s) that start after {after} ({}): held back, not sent and not counted, until \
             they have come",
            future.len(),
            named(&costs, &future)
        ));
    }
    let costs = costs.into_iter().zip(keep).filter_map(|(record, keep)| keep.then_some(record)).collect();
    Ok(CostDays { costs, notes })
}

/// Two records of one day that say the same: every figure equal (the text of the times may
/// differ in format; `lastBookingDate` is carried only).
fn same_figures(a: &CostRecord, b: &CostRecord) -> bool {
    parse_instant_millis(&a.end_time) == parse_instant_millis(&b.end_time)
        && a.value == b.value
        && a.currency_code == b.currency_code
}

/// `data[3] (2026-11-20), data[9] (…)`, at most five named.
fn named(costs: &[CostRecord], indexes: &[usize]) -> String {
    let mut names: Vec<String> = indexes
        .iter()
        .take(5)
        .map(|&index| format!("data[{index}] {}", untrusted::bounded(&costs[index].start_time)))
        .collect();
    if indexes.len() > 5 {
        names.push(format!("and {} more", indexes.len() - 5));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(start: &str, value: f64) -> CostRecord {
        CostRecord {
            start_time: start.into(),
            end_time: start.into(),
            value,
            currency_code: "USD".into(),
            last_booking_date: None,
        }
    }

    const NOW: &str = "2026-11-23T06:00:00Z";

    #[test]
    fn a_day_listed_twice_with_the_same_figures_counts_once() {
        let costs = vec![record("2026-11-20", 10.0), record("2026-11-21", 5.0), record("2026-11-20T00:00:00Z", 10.0)];
        let days = vouched_cost_days(costs, NOW, None).unwrap();
        assert_eq!(days.costs.iter().map(|c| c.value).sum::<f64>(), 15.0);
        assert_eq!(days.costs.len(), 2);
        assert!(days.notes[0].contains("data[2] 2026-11-20T00:00:00Z"), "{:?}", days.notes);
    }

    #[test]
    fn a_day_listed_twice_with_other_figures_is_refused_naming_the_day() {
        let costs = vec![record("2026-11-20", 10.0), record("2026-11-20", 12.5)];
        let error = vouched_cost_days(costs, NOW, None).unwrap_err();
        assert_eq!(error.field, "data[1]");
        assert!(error.message.contains("2026-11-20") && error.message.contains("12.5"), "{error}");
    }

    #[test]
    fn days_after_the_run_or_the_period_are_held_back_with_a_note() {
        let costs = vec![
            record("2026-11-22", 1.0),
            record("9999-12-31", 2.0),
            record("2026-11-23", 3.0),
            record("2027-01-21", 4.0),
        ];
        let days = vouched_cost_days(costs.clone(), NOW, None).unwrap();
        // Today has begun: it is kept (its cost may still grow, and is sent again when it does).
        assert_eq!(days.costs.iter().map(|c| c.value).collect::<Vec<_>>(), [1.0, 3.0]);
        assert!(days.notes[0].contains("9999-12-31") && days.notes[0].contains("2027-01-21"), "{:?}", days.notes);
        let days = vouched_cost_days(costs, NOW, Some("2026-11-23T00:00:00Z")).unwrap();
        assert_eq!(days.costs.iter().map(|c| c.value).collect::<Vec<_>>(), [1.0]);
    }

    #[test]
    fn a_record_that_is_not_valid_is_named_by_its_index_as_read() {
        let mut costs = vec![record("9999-12-31", 2.0), record("2026-11-20", 1.0), record("2026-11-21", 1.0)];
        costs[2].value = f64::NAN;
        assert_eq!(vouched_cost_days(costs, NOW, None).unwrap_err().field, "data[2].value");
    }
}
