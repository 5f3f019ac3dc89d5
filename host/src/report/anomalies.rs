//! The list of a subscription's cost anomalies (`anomalies-{n}`, from `dps.cost.anomaly`): what
//! was found on which day, against what was expected, in the finding's own words.

use super::events::Subscription;
use super::format::{amount, percent};
use super::html::{escape, figure_column, table, text_column};
use super::time;

pub fn anomalies(page: &mut String, n: usize, subscription: &Subscription) {
    if subscription.anomalies.is_empty() {
        page.push_str("<p class=\"muted\">No cost anomaly was reported for this subscription.</p>");
        return;
    }
    let currency = subscription.currency.as_str();
    let money = |value: Option<f64>| value.map_or_else(String::new, |v| escape(&amount(v, currency)));
    let rows: Vec<Vec<String>> = subscription
        .anomalies
        .iter()
        .map(|anomaly| {
            let deviation = anomaly.deviation_percent.map_or_else(String::new, |d| {
                format!(
                    "<span class=\"{}\">{}{}</span>",
                    if d > 0.0 { "warn" } else { "good" },
                    if d > 0.0 { "+" } else { "" },
                    percent(d)
                )
            });
            vec![
                time::long(anomaly.day),
                format!(
                    "<span class=\"badge\">{}</span> <span class=\"muted\">{}</span>",
                    escape(&anomaly.kind),
                    escape(&anomaly.severity)
                ),
                format!("<span class=\"muted\">{}:</span> {}", escape(&anomaly.scope), escape(&anomaly.subject)),
                escape(&anomaly.account),
                money(anomaly.cost),
                money(anomaly.expected),
                deviation,
                escape(&anomaly.message),
            ]
        })
        .collect();
    let columns = [
        text_column("Day"),
        text_column("Kind"),
        text_column("About"),
        text_column("Account"),
        figure_column("Cost"),
        figure_column("Expected"),
        figure_column("Deviation"),
        text_column("Finding"),
    ];
    let caption = format!("Cost anomalies ({})", subscription.anomalies.len());
    table(page, &format!("anomalies-{n}"), &caption, &columns, &rows, None);
}
