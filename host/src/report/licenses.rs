//! Managed license usage against quota (`license-usage` chart and `license-table`, from
//! `cluster.license.quota`): a bar per cluster and unit, the quota at 100 %, what runs into
//! overage drawn beyond it.

use std::fmt::Write as _;

use super::chart::{Margins, Plot, WIDTH};
use super::events::License;
use super::format::{percent, quantity};
use super::html::{escape, figure_column, legend, table, text_column};
use super::ticks::AmountTicks;

const ROW_HEIGHT: f64 = 28.0;
const WITHIN: &str = "#009E73";
const NEAR: &str = "#E69F00";
const OVERAGE: &str = "#C0392B";

/// What a bar shows: the share of the quota used, and the overage as a share of the quota.
fn shares(license: &License) -> (f64, f64) {
    let used = license.usage_percent.unwrap_or(0.0).max(0.0);
    let overage = match (license.overage_usage, license.quota) {
        (Some(overage), Some(quota)) if quota > 0.0 => 100.0 * overage.max(0.0) / quota,
        _ => 0.0,
    };
    (used, overage)
}

pub fn licenses(page: &mut String, licenses: &[License]) {
    if licenses.is_empty() {
        return;
    }
    page.push_str("<section id=\"licenses\"><h2>Managed license usage</h2>");
    let highest = licenses.iter().map(|l| shares(l).0 + shares(l).1).fold(150.0, f64::max);
    let ticks = AmountTicks::new(0.0, highest, 6);
    let margins = Margins { left: 230.0, right: 70.0, top: 12.0, bottom: 30.0 };
    let height = margins.top + margins.bottom + ROW_HEIGHT * licenses.len() as f64;
    let plot = Plot::new(height, margins, (0.0, ticks.high), (0.0, 1.0));
    plot.open(page, "license-usage", "Managed license usage against quota");
    let labels: Vec<(f64, String)> = ticks.values().into_iter().map(|v| (v, format!("{v:.0} %"))).collect();
    plot.amount_axis_below(page, &labels);
    for (row, license) in licenses.iter().enumerate() {
        let y = margins.top + ROW_HEIGHT * row as f64;
        let (used, overage) = shares(license);
        let colour = if used >= 90.0 { NEAR } else { WITHIN };
        let figures = match (license.usage, license.quota) {
            (Some(usage), Some(quota)) => format!("{} of {}", quantity(usage), quantity(quota)),
            _ => String::new(),
        };
        let _ = write!(
            page,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} · {}</text>\
             <rect class=\"usage\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{colour}\"><title>{} {}: {} used ({figures})</title></rect>",
            margins.left - 8.0,
            y + 18.0,
            escape(&license.cluster),
            escape(&license.unit),
            plot.x.at(0.0),
            y + 5.0,
            plot.x.at(used) - plot.x.at(0.0),
            ROW_HEIGHT - 10.0,
            escape(&license.cluster),
            escape(&license.unit),
            percent(used),
        );
        if overage > 0.0 {
            let overage_figures = license.overage_usage.map(quantity).unwrap_or_default();
            let _ = write!(
                page,
                "<rect class=\"overage\" x=\"{:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{OVERAGE}\"><title>{} {}: overage {overage_figures} ({} of the quota)</title></rect>",
                plot.x.at(used),
                y + 5.0,
                plot.x.at(used + overage) - plot.x.at(used),
                ROW_HEIGHT - 10.0,
                escape(&license.cluster),
                escape(&license.unit),
                percent(overage),
            );
        }
        let _ = write!(
            page,
            "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            (plot.x.at(used + overage) + 6.0).min(WIDTH - 60.0),
            y + 18.0,
            percent(used + overage),
        );
    }
    let quota = plot.x.at(100.0);
    let _ = write!(
        page,
        "<g class=\"quota\"><line x1=\"{quota:.1}\" x2=\"{quota:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\">quota</text></g></svg>",
        margins.top - 4.0,
        plot.bottom(),
        quota + 4.0,
        margins.top + 6.0,
    );
    legend(
        page,
        &[
            (WITHIN, "used, within quota".to_owned()),
            (NEAR, "90 % or more of the quota".to_owned()),
            (OVERAGE, "overage".to_owned()),
        ],
    );
    let rows: Vec<Vec<String>> = licenses
        .iter()
        .map(|license| {
            let number = |value: Option<f64>| value.map(quantity).unwrap_or_default();
            let overage = match (license.overage_usage, license.overage_quota) {
                (Some(used), Some(quota)) => format!("{} of {}", quantity(used), quantity(quota)),
                (Some(used), None) => quantity(used),
                _ => String::new(),
            };
            vec![
                escape(&license.cluster),
                escape(&license.unit),
                number(license.usage),
                number(license.quota),
                license.usage_percent.map(percent).unwrap_or_default(),
                overage,
                escape(&license.status),
            ]
        })
        .collect();
    let columns = [
        text_column("Cluster"),
        text_column("Unit"),
        figure_column("Usage"),
        figure_column("Quota"),
        figure_column("Used"),
        figure_column("Overage"),
        text_column("Status"),
    ];
    table(page, "license-table", "Managed license usage per cluster and unit", &columns, &rows, None);
    page.push_str("</section>");
}
