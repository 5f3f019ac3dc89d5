//! A subscription's figures at a glance: the table of cost to date, burn rate, forecast with its
//! 90 % band, budget, budget used and the day the budget runs out (from its status event), and
//! the table of its accounts' cost.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::events::Subscription;
use super::format::{amount, grouped, percent};
use super::html::{Column, escape, figure_column, table, text_column};
use super::time;

/// The key figures table (`figures-{n}`).
pub fn key_figures(page: &mut String, n: usize, subscription: &Subscription) {
    let currency = subscription.currency.as_str();
    let status = subscription.status.as_ref();
    let booked: f64 = subscription.days.iter().map(|d| d.value).sum();
    let used = status.and_then(|s| s.used).unwrap_or(booked);
    let budget = status.and_then(|s| s.budget).filter(|b| *b > 0.0);
    let mut rows: Vec<(&str, String)> = Vec::new();

    let accounts: BTreeMap<&str, &str> =
        subscription.days.iter().map(|d| (d.account_uuid.as_str(), d.account.as_str())).collect();
    let mut names: Vec<&str> = accounts.values().copied().collect();
    names.sort_unstable();
    rows.push(("Accounts", format!("{} ({})", accounts.len(), escape(&names.join(", ")))));
    if let Some((start, end)) = status.and_then(|s| s.period) {
        let remaining = status.and_then(|s| s.days_remaining).map(|d| format!(" ({} days remaining)", grouped(d, 0)));
        rows.push(("Period", format!("{} – {}{}", time::long(start), time::long(end), remaining.unwrap_or_default())));
    }
    rows.push(("Cost to date", format!("<b>{}</b>", escape(&amount(used, currency)))));
    if let Some(rate) = status.and_then(|s| s.burn_rate) {
        rows.push((
            "Burn rate",
            format!("{}/day <span class=\"muted\">(mean of the last 28 days)</span>", escape(&amount(rate, currency))),
        ));
    }
    rows.push(("Forecast at the period's end", forecast(subscription)));
    rows.push((
        "Budget",
        budget.map_or_else(|| "<span class=\"muted\">none set</span>".to_owned(), |b| escape(&amount(b, currency))),
    ));
    if let Some(budget) = budget {
        let used_percent = status.and_then(|s| s.used_percent).unwrap_or(100.0 * used / budget);
        let forecast = status.and_then(|s| s.forecast);
        rows.push((
            "Budget used",
            format!("{} {}", percent(used_percent), budget_bar(used, forecast, budget, currency)),
        ));
    }
    rows.push(("Budget exhausted", exhausted(subscription)));

    let rows: Vec<Vec<String>> = rows.into_iter().map(|(name, value)| vec![name.to_owned(), value]).collect();
    table(page, &format!("figures-{n}"), "Key figures", &[text_column("Figure"), text_column("Value")], &rows, None);
}

fn forecast(subscription: &Subscription) -> String {
    let currency = subscription.currency.as_str();
    let Some(status) = &subscription.status else { return "<span class=\"muted\">no status event</span>".to_owned() };
    let Some(cost) = status.forecast else {
        return "<span class=\"muted\">no forecast yet (it needs 15 days of cost in the last 28)</span>".to_owned();
    };
    let mut text = format!("<b>{}</b>", escape(&amount(cost, currency)));
    if let (Some(lower), Some(upper)) = (status.forecast_lower, status.forecast_upper) {
        let _ = write!(
            text,
            " <span class=\"muted\">90 % band {} – {}</span>",
            grouped(lower, 2),
            escape(&amount(upper, currency))
        );
    }
    if let Some(budget) = status.budget.filter(|b| *b > 0.0) {
        let _ = write!(text, "; {} of the budget", percent(100.0 * cost / budget));
    }
    text
}

fn exhausted(subscription: &Subscription) -> String {
    let Some(status) = &subscription.status else { return "<span class=\"muted\">—</span>".to_owned() };
    match (status.exhausted, status.exhausted_earliest, status.forecast, status.budget) {
        (_, _, _, None) => "<span class=\"muted\">no budget</span>".to_owned(),
        (Some(day), earliest, _, _) => {
            let earliest = earliest
                .filter(|e| *e != day)
                .map(|e| format!(" <span class=\"muted\">(as early as {})</span>", time::long(e)));
            format!("<b class=\"warn\">{}</b>{}", time::long(day), earliest.unwrap_or_default())
        }
        (None, Some(earliest), _, _) => {
            format!("not on the forecast <span class=\"muted\">(on its upper band: {})</span>", time::long(earliest))
        }
        (None, None, Some(_), _) => "not within the period on the forecast".to_owned(),
        (None, None, None, _) => "<span class=\"muted\">no forecast yet</span>".to_owned(),
    }
}

/// A small bar: what is used of the budget, and where the forecast ends (a tick).
fn budget_bar(used: f64, forecast: Option<f64>, budget: f64, currency: &str) -> String {
    let (width, height) = (180.0, 10.0);
    let scale = |value: f64| (width * value / budget).clamp(0.0, width);
    let mut bar = format!(
        "<svg class=\"budget-bar\" role=\"img\" aria-label=\"budget used\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">\
         <rect class=\"track\" width=\"{width}\" height=\"{height}\" rx=\"2\"/>\
         <rect class=\"used\" width=\"{:.1}\" height=\"{height}\" rx=\"2\"><title>used: {} of {}</title></rect>",
        scale(used),
        escape(&amount(used, currency)),
        escape(&amount(budget, currency)),
    );
    if let Some(forecast) = forecast {
        let _ = write!(
            bar,
            "<rect class=\"forecast-mark\" x=\"{:.1}\" width=\"2\" height=\"{height}\"><title>forecast: {}</title></rect>",
            (scale(forecast) - 2.0).max(0.0),
            escape(&amount(forecast, currency)),
        );
    }
    bar.push_str("</svg>");
    bar
}

/// The accounts table (`accounts-{n}`): each account's booked cost, its share and its days.
pub fn accounts(page: &mut String, n: usize, subscription: &Subscription) {
    let mut per_account: BTreeMap<&str, (&str, f64, usize)> = BTreeMap::new();
    for day in &subscription.days {
        let entry = per_account.entry(&day.account_uuid).or_insert((&day.account, 0.0, 0));
        entry.1 += day.value;
        entry.2 += 1;
    }
    let (Some(first), Some(last)) = (subscription.days.first(), subscription.days.last()) else { return };
    let total: f64 = per_account.values().map(|a| a.1).sum();
    let currency = subscription.currency.as_str();
    let share = |value: f64| if total.abs() > 0.0 { percent(100.0 * value / total) } else { "—".to_owned() };
    let mut accounts: Vec<_> = per_account.into_values().collect();
    accounts.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|(name, cost, days)| {
            vec![escape(name), escape(&amount(*cost, currency)), share(*cost), grouped(*days as f64, 0)]
        })
        .collect();
    let days = subscription.days.iter().map(|d| d.day).collect::<std::collections::BTreeSet<_>>().len();
    let footer = ["Total".to_owned(), escape(&amount(total, currency)), share(total), grouped(days as f64, 0)];
    let columns: [Column; 4] =
        [text_column("Account"), figure_column("Booked cost"), figure_column("Share"), figure_column("Days")];
    let caption = format!("Cost per account, {} – {}", time::long(first.day), time::long(last.day));
    table(page, &format!("accounts-{n}"), &caption, &columns, &rows, Some(&footer));
}
