//! The burn-up chart of a subscription (`burn-up-{n}`): cost to date day by day against the
//! budget, and the status event's forecast to the period's end with its 90 % band (one model, the
//! component's, in one place: the report draws it, it does not recompute it).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::chart::{Plot, TIME_MARGINS, day_label};
use super::events::Subscription;
use super::format::{amount, compact};
use super::html::{escape, legend};
use super::ticks::{AmountTicks, date_ticks};
use super::time;

const HEIGHT: f64 = 300.0;
const COST: &str = "#0072B2";
const FORECAST: &str = "#555555";
const BUDGET: &str = "#C0392B";

pub fn burn_up(page: &mut String, n: usize, subscription: &Subscription) {
    let mut per_day: BTreeMap<i64, f64> = BTreeMap::new();
    for day in &subscription.days {
        *per_day.entry(time::number(day.day)).or_default() += day.value;
    }
    let (Some(&first), Some(&last)) = (per_day.keys().next(), per_day.keys().next_back()) else { return };
    let currency = subscription.currency.as_str();
    let status = subscription.status.as_ref();
    // Cost to date at the end of each day: the burn-up starts at zero on the first day's morning.
    let mut to_date = 0.0;
    let mut points = vec![(first as f64, 0.0)];
    for (day, value) in &per_day {
        to_date += value;
        points.push(((day + 1) as f64, to_date));
    }
    let (period_start, period_end) = status.and_then(|s| s.period).map_or((first, last + 1), |(start, end)| {
        (time::number(start).min(first), (time::number(end) + 1).max(last + 1))
    });
    let budget = status.and_then(|s| s.budget).filter(|b| *b > 0.0);
    let forecast = status.and_then(|s| s.forecast).filter(|_| period_end > last + 1);
    let band = status.and_then(|s| s.forecast_lower.zip(s.forecast_upper)).filter(|_| forecast.is_some());

    let highest = [to_date, budget.unwrap_or(0.0), forecast.unwrap_or(0.0), band.map_or(0.0, |(_, upper)| upper)]
        .into_iter()
        .fold(0.0, f64::max);
    let lowest = points.iter().map(|p| p.1).fold(0.0, f64::min);
    let ticks = AmountTicks::new(lowest, highest, 6);
    let plot = Plot::new(HEIGHT, TIME_MARGINS, (period_start as f64, period_end as f64), (ticks.low, ticks.high));

    plot.open(page, &format!("burn-up-{n}"), "cost to date against the budget, with the forecast to the period's end");
    plot.amount_axis(page, &ticks, currency);
    plot.date_axis(page, &date_ticks(period_start, period_end, 9), 0.0);
    let end = period_end as f64;
    let last_point = *points.last().unwrap_or(&(first as f64, 0.0));
    if let Some((lower, upper)) = band {
        let _ = write!(
            page,
            "<polygon class=\"forecast-band\" points=\"{} {} {}\"><title>90 % band at the period's end: {} – {}</title></polygon>",
            plot.point(last_point.0, last_point.1),
            plot.point(end, upper),
            plot.point(end, lower),
            escape(&amount(lower, currency)),
            escape(&amount(upper, currency)),
        );
    }
    if let Some(budget) = budget {
        let label = format!("budget {}", compact(budget));
        plot.reference_line(page, "budget", budget, &label, &format!("budget: {}", amount(budget, currency)));
    }
    if let Some(exhausted) = status.and_then(|s| s.exhausted) {
        let x = plot.x.at(time::number(exhausted) as f64);
        let _ = write!(
            page,
            "<g class=\"exhausted\"><line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">budget exhausted {}</text></g>",
            plot.top(),
            plot.bottom(),
            x - 4.0,
            plot.top() + 12.0,
            time::long(exhausted),
        );
    }
    if let Some(forecast) = forecast {
        let (x, y) = (plot.x.at(end), plot.y.at(forecast));
        let _ = write!(
            page,
            "<polyline class=\"forecast\" points=\"{} {}\" stroke=\"{FORECAST}\"/>\
             <circle class=\"forecast-end\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\"><title>forecast at the period's end ({}): {}</title></circle>\
             <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            plot.point(last_point.0, last_point.1),
            plot.point(end, forecast),
            day_label(period_end - 1),
            escape(&amount(forecast, currency)),
            x - 8.0,
            y - 10.0,
            compact(forecast),
        );
    }
    page.push_str("<polyline class=\"cost\" points=\"");
    for (x, y) in &points {
        let _ = write!(page, "{} ", plot.point(*x, *y));
    }
    let _ = write!(page, "\" stroke=\"{COST}\"/>");
    // Hover: a column per day, over the whole height, titled with the day's figures.
    let day_width = plot.x.at(1.0) - plot.x.at(0.0);
    let mut to_date = 0.0;
    for (day, value) in &per_day {
        to_date += value;
        let x = plot.x.at(*day as f64);
        let _ = write!(
            page,
            "<rect class=\"hover\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\"><title>{}: {} to date ({} that day)</title></rect>",
            plot.top(),
            day_width.max(1.0),
            plot.bottom() - plot.top(),
            day_label(*day),
            escape(&amount(to_date, currency)),
            escape(&amount(*value, currency)),
        );
    }
    let _ = write!(
        page,
        "<circle class=\"today\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{COST}\"><title>{} to date at the end of {}</title></circle>\
         <text class=\"value\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></svg>",
        plot.x.at(last_point.0),
        plot.y.at(last_point.1),
        escape(&amount(last_point.1, currency)),
        day_label(last),
        plot.x.at(last_point.0) - 6.0,
        plot.y.at(last_point.1) - 10.0,
        compact(last_point.1),
    );
    let mut items = vec![(COST, "cost to date".to_owned())];
    if forecast.is_some() {
        items.push((FORECAST, if band.is_some() { "forecast, with its 90 % band" } else { "forecast" }.to_owned()));
    }
    if budget.is_some() {
        items.push((BUDGET, "budget".to_owned()));
    }
    legend(page, &items);
}
