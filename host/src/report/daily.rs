//! The daily cost chart of a subscription (`daily-cost-{n}`): a bar per day, stacked by account,
//! with the days of cost anomalies marked above their bar.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::chart::{Plot, TIME_MARGINS, colour, day_label};
use super::events::{Anomaly, Subscription};
use super::format::{amount, percent};
use super::html::{escape, legend};
use super::ticks::{AmountTicks, date_ticks};
use super::time;

const HEIGHT: f64 = 280.0;
/// Room above the tallest bar for the anomaly markers.
const MARKER_ROOM: f64 = 1.12;
pub const ANOMALY: &str = "#D55E00";

pub fn daily_cost(page: &mut String, n: usize, subscription: &Subscription) {
    // Accounts in a stable order (by name), each with its colour.
    let mut accounts: Vec<(&str, &str)> =
        subscription.days.iter().map(|d| (d.account.as_str(), d.account_uuid.as_str())).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let index_of: BTreeMap<&str, usize> = accounts.iter().enumerate().map(|(i, (_, uuid))| (*uuid, i)).collect();
    let mut per_day: BTreeMap<i64, Vec<(usize, f64)>> = BTreeMap::new();
    for day in &subscription.days {
        per_day.entry(time::number(day.day)).or_default().push((index_of[day.account_uuid.as_str()], day.value));
    }
    let (Some(&first), Some(&last)) = (per_day.keys().next(), per_day.keys().next_back()) else { return };
    let currency = subscription.currency.as_str();
    let total = |values: &[(usize, f64)]| values.iter().map(|v| v.1).sum::<f64>();
    let positive = |values: &[(usize, f64)]| values.iter().map(|v| v.1.max(0.0)).sum::<f64>();
    let negative = |values: &[(usize, f64)]| values.iter().map(|v| v.1.min(0.0)).sum::<f64>();
    let highest = per_day.values().map(|v| positive(v)).fold(0.0, f64::max);
    let lowest = per_day.values().map(|v| negative(v)).fold(0.0, f64::min);
    let ticks = AmountTicks::new(lowest, highest * MARKER_ROOM, 5);
    let plot = Plot::new(HEIGHT, TIME_MARGINS, (first as f64, (last + 1) as f64), (ticks.low, ticks.high));

    plot.open(page, &format!("daily-cost-{n}"), "daily cost per account, anomalies marked");
    plot.amount_axis(page, &ticks, currency);
    let anomaly_days: BTreeMap<i64, Vec<&Anomaly>> =
        subscription.anomalies.iter().fold(BTreeMap::new(), |mut days, anomaly| {
            let day = time::number(anomaly.day);
            if (first..=last).contains(&day) {
                days.entry(day).or_insert_with(Vec::new).push(anomaly);
            }
            days
        });
    let day_width = plot.x.at(1.0) - plot.x.at(0.0);
    for day in anomaly_days.keys() {
        let _ = write!(
            page,
            "<rect class=\"anomaly-day\" x=\"{:.1}\" y=\"{:.1}\" width=\"{day_width:.2}\" height=\"{:.1}\"/>",
            plot.x.at(*day as f64),
            plot.top(),
            plot.bottom() - plot.top()
        );
    }
    let gap = (day_width * 0.15).min(2.0);
    for (day, values) in &per_day {
        let x = plot.x.at(*day as f64) + gap / 2.0;
        let (mut up, mut down) = (0.0, 0.0);
        let day_total = total(values);
        for (account, value) in values {
            let base = if *value >= 0.0 { &mut up } else { &mut down };
            let (from, to) = (*base, *base + value);
            *base = to;
            let (y_top, y_bottom) = (plot.y.at(from.max(to)), plot.y.at(from.min(to)));
            let _ = write!(
                page,
                "<rect class=\"bar\" x=\"{x:.2}\" y=\"{y_top:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"><title>{} · {}: {} (day total {})</title></rect>",
                (day_width - gap).max(0.5),
                (y_bottom - y_top).max(0.0),
                colour(*account),
                day_label(*day),
                escape(accounts[*account].0),
                escape(&amount(*value, currency)),
                escape(&amount(day_total, currency)),
            );
        }
    }
    for (day, anomalies) in &anomaly_days {
        let top = per_day.get(day).map_or(0.0, |values| positive(values));
        let x = plot.x.at(*day as f64 + 0.5);
        for (stacked, anomaly) in anomalies.iter().enumerate() {
            let y = plot.y.at(top) - 10.0 - 15.0 * stacked as f64;
            let _ = write!(
                page,
                "<g class=\"anomaly\"><circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"6.5\" fill=\"{ANOMALY}\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">!</text><title>{}</title></g>",
                y.max(plot.top()),
                y.max(plot.top()) + 4.0,
                escape(&anomaly_hover(anomaly, currency)),
            );
        }
    }
    plot.date_axis(page, &date_ticks(first, last, 9), 0.5);
    page.push_str("</svg>");
    let mut items: Vec<(&str, String)> =
        accounts.iter().enumerate().map(|(index, (name, _))| (colour(index), (*name).to_owned())).collect();
    if !anomaly_days.is_empty() {
        items.push((ANOMALY, "anomaly (hover for what was found)".to_owned()));
    }
    legend(page, &items);
}

/// What a marker says on hover: the finding's own sentence, with its figures.
pub fn anomaly_hover(anomaly: &Anomaly, currency: &str) -> String {
    let mut text = format!("{} · {} {} ({})", time::long(anomaly.day), anomaly.kind, anomaly.scope, anomaly.subject);
    if let (Some(cost), Some(expected)) = (anomaly.cost, anomaly.expected) {
        let _ = write!(text, ": {} against {} expected", amount(cost, currency), amount(expected, currency));
    }
    if let Some(deviation) = anomaly.deviation_percent {
        let _ = write!(text, " ({}{})", if deviation > 0.0 { "+" } else { "" }, percent(deviation));
    }
    if !anomaly.message.is_empty() {
        let _ = write!(text, ". {}", anomaly.message);
    }
    text
}
