//! Usage and unit prices per capability (`usage-{n}`, from `dps.usage.booked`): how much of each
//! capability was used, in its unit, at what price, for what cost. Absent when no usage event is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::events::{Subscription, Usage};
use super::format::{amount, quantity, unit_price};
use super::html::{escape, figure_column, table, text_column};
use super::time;

/// The capability key of the cost that no capability accounts for.
const UNATTRIBUTED: &str = "UNATTRIBUTED";

pub fn usage(page: &mut String, n: usize, subscription: &Subscription) {
    let records = &subscription.usage;
    let (Some(first), Some(last)) = (records.iter().map(|u| u.day).min(), records.iter().map(|u| u.day).max()) else {
        return;
    };
    let currency = subscription.currency.as_str();
    let mut per_capability: BTreeMap<(&str, &str), Vec<&Usage>> = BTreeMap::new();
    for record in records {
        per_capability.entry((&record.capability_key, &record.unit)).or_default().push(record);
    }
    let mut lines: Vec<(bool, f64, Vec<String>)> = per_capability
        .into_iter()
        .map(|((key, unit), records)| {
            let cost: f64 = records.iter().map(|r| r.cost).sum();
            let used: Option<f64> = records.iter().map(|r| r.quantity).sum();
            let prices: Vec<f64> = records.iter().filter_map(|r| r.price).collect();
            let (low, high) = (
                prices.iter().copied().fold(f64::INFINITY, f64::min),
                prices.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            );
            let price = match prices.len() {
                0 => String::new(),
                _ if low == high => format!("{} {}", unit_price(low), escape(currency)),
                _ => format!("{} – {} {}", unit_price(low), unit_price(high), escape(currency)),
            };
            let name = if key == UNATTRIBUTED {
                "<span class=\"muted\">not attributed to a capability</span>".to_owned()
            } else {
                escape(&records[0].capability)
            };
            let days = records.iter().map(|r| r.day).collect::<std::collections::BTreeSet<_>>().len();
            (
                key == UNATTRIBUTED,
                cost,
                vec![
                    name,
                    used.map(quantity).unwrap_or_default(),
                    escape(unit),
                    price,
                    escape(&amount(cost, currency)),
                    days.to_string(),
                ],
            )
        })
        .collect();
    // The largest first; what no capability accounts for last, whatever its size.
    lines.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    let total: f64 = lines.iter().map(|(_, cost, _)| cost).sum();
    let rows: Vec<Vec<String>> = lines.into_iter().map(|(_, _, row)| row).collect();
    let footer = [
        "Total".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        escape(&amount(total, currency)),
        String::new(),
    ];
    let columns = [
        text_column("Capability"),
        figure_column("Usage"),
        text_column("Unit"),
        figure_column("Unit price"),
        figure_column("Cost"),
        figure_column("Days"),
    ];
    let mut caption = String::from("Usage and unit prices per capability, ");
    let _ = write!(caption, "{} – {}", time::long(first), time::long(last));
    table(page, &format!("usage-{n}"), &caption, &columns, &rows, Some(&footer));
}
