//! Where a subscription's money goes (from `dps.cost.environment.booked`): a bar per environment
//! stacked by capability (`environment-cost-{n}`), and the table of cost per capability
//! (`capability-cost-{n}`). Environments show their name when the event has one, else their id.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::chart::{Margins, OTHER_COLOUR, Plot, WIDTH, colour};
use super::events::Subscription;
use super::format::{amount, compact, percent};
use super::html::{escape, figure_column, legend, table, text_column};
use super::ticks::AmountTicks;
use super::time;

/// Capabilities with a colour of their own; the others share "other capabilities".
const COLOURED_CAPABILITIES: usize = super::chart::PALETTE.len();
/// Environments with a bar of their own; the others share one bar.
const ENVIRONMENT_BARS: usize = 20;
const ROW_HEIGHT: f64 = 30.0;
const LABEL_CHARS: usize = 28;
const OTHER: &str = "other capabilities";

struct Environment<'a> {
    name: &'a str,
    id: &'a str,
    account: &'a str,
    /// Cost per capability colour index.
    cost: BTreeMap<usize, f64>,
    total: f64,
}

pub fn breakdown(page: &mut String, n: usize, subscription: &Subscription) {
    let rows = &subscription.environments;
    let (Some(first), Some(last)) = (rows.iter().map(|r| r.day).min(), rows.iter().map(|r| r.day).max()) else {
        return;
    };
    let currency = subscription.currency.as_str();
    let mut capabilities: BTreeMap<&str, f64> = BTreeMap::new();
    for row in rows {
        *capabilities.entry(&row.capability).or_default() += row.value;
    }
    let mut ranked: Vec<(&str, f64)> = capabilities.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let slot = |capability: &str| {
        ranked
            .iter()
            .position(|(name, _)| *name == capability)
            .map_or(COLOURED_CAPABILITIES, |i| i.min(COLOURED_CAPABILITIES))
    };
    let mut environments: BTreeMap<(&str, &str), Environment> = BTreeMap::new();
    for row in rows {
        let environment = environments.entry((&row.account, &row.environment_id)).or_insert_with(|| Environment {
            name: &row.environment,
            id: &row.environment_id,
            account: &row.account,
            cost: BTreeMap::new(),
            total: 0.0,
        });
        *environment.cost.entry(slot(&row.capability)).or_default() += row.value;
        environment.total += row.value;
    }
    let mut environments: Vec<Environment> = environments.into_values().collect();
    environments.sort_by(|a, b| b.total.total_cmp(&a.total).then(a.name.cmp(b.name)));
    let mut sharing = 0;
    if environments.len() > ENVIRONMENT_BARS {
        let rest = environments.split_off(ENVIRONMENT_BARS - 1);
        let mut other = Environment { name: "", id: "", account: "", cost: BTreeMap::new(), total: 0.0 };
        for environment in &rest {
            for (slot, value) in &environment.cost {
                *other.cost.entry(*slot).or_default() += value;
            }
            other.total += environment.total;
        }
        environments.push(other);
        sharing = rest.len();
    }
    let capability_label = |slot: usize| {
        if slot >= COLOURED_CAPABILITIES { OTHER.to_owned() } else { ranked[slot].0.to_owned() }
    };
    let period = format!("{} – {}", time::long(first), time::long(last));
    let _ = write!(page, "<h3>Cost by environment and capability <span class=\"muted\">{period}</span></h3>");

    let highest = environments.iter().map(|e| e.cost.values().map(|v| v.max(0.0)).sum::<f64>()).fold(0.0, f64::max);
    let lowest = environments.iter().map(|e| e.cost.values().map(|v| v.min(0.0)).sum::<f64>()).fold(0.0, f64::min);
    let ticks = AmountTicks::new(lowest, highest * 1.08, 6);
    let margins = Margins { left: 230.0, right: 24.0, top: 10.0, bottom: 30.0 };
    let height = margins.top + margins.bottom + ROW_HEIGHT * environments.len() as f64;
    let plot = Plot::new(height, margins, (ticks.low, ticks.high), (0.0, 1.0));
    plot.open(page, &format!("environment-cost-{n}"), "cost by environment, stacked by capability");
    let labels: Vec<(f64, String)> = ticks.values().into_iter().map(|v| (v, compact(v))).collect();
    plot.amount_axis_below(page, &labels);
    for (row, environment) in environments.iter().enumerate() {
        let y = margins.top + ROW_HEIGHT * row as f64;
        let (name, who) = if environment.id.is_empty() {
            (format!("{sharing} more environments"), String::new())
        } else {
            (environment.name.to_owned(), environment.account.to_owned())
        };
        let shown: String = if name.chars().count() > LABEL_CHARS {
            format!("{}…", name.chars().take(LABEL_CHARS - 1).collect::<String>())
        } else {
            name.clone()
        };
        let _ = write!(
            page,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}<title>{} ({}) of {}</title></text>\
             <text class=\"sublabel\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            margins.left - 8.0,
            y + 13.0,
            escape(&shown),
            escape(&name),
            escape(environment.id),
            escape(&who),
            margins.left - 8.0,
            y + 25.0,
            escape(&who),
        );
        let (mut right, mut left) = (0.0, 0.0);
        for (slot, value) in &environment.cost {
            let base = if *value >= 0.0 { &mut right } else { &mut left };
            let (from, to) = (*base, *base + value);
            *base = to;
            let x = plot.x.at(from.min(to));
            let _ = write!(
                page,
                "<rect class=\"bar\" x=\"{x:.2}\" y=\"{:.1}\" width=\"{:.2}\" height=\"{:.1}\" fill=\"{}\"><title>{} · {}: {}</title></rect>",
                y + 4.0,
                (plot.x.at(from.max(to)) - x).max(0.0),
                ROW_HEIGHT - 8.0,
                slot_colour(*slot),
                escape(&name),
                escape(&capability_label(*slot)),
                escape(&amount(*value, currency)),
            );
        }
        let _ = write!(
            page,
            "<text class=\"value\" x=\"{:.1}\" y=\"{:.1}\">{}<title>{}</title></text>",
            (plot.x.at(right) + 6.0).min(WIDTH - 40.0),
            y + 19.0,
            compact(environment.total),
            escape(&amount(environment.total, currency)),
        );
    }
    page.push_str("</svg>");
    let used_slots: std::collections::BTreeSet<usize> =
        environments.iter().flat_map(|e| e.cost.keys().copied()).collect();
    let items: Vec<(&str, String)> =
        used_slots.iter().map(|slot| (slot_colour(*slot), capability_label(*slot))).collect();
    legend(page, &items);
    capability_table(page, n, &ranked, currency, &period);
}

fn capability_table(page: &mut String, n: usize, ranked: &[(&str, f64)], currency: &str, period: &str) {
    let total: f64 = ranked.iter().map(|(_, cost)| cost).sum();
    let largest = ranked.iter().map(|(_, cost)| cost.abs()).fold(0.0, f64::max);
    let share = |cost: f64| if total.abs() > 0.0 { percent(100.0 * cost / total) } else { "—".to_owned() };
    let rows: Vec<Vec<String>> = ranked
        .iter()
        .enumerate()
        .map(|(index, (capability, cost))| {
            let width = if largest > 0.0 { 120.0 * cost.max(0.0) / largest } else { 0.0 };
            let bar = format!(
                "<svg class=\"cell-bar\" role=\"img\" aria-label=\"share\" viewBox=\"0 0 120 10\" width=\"120\" height=\"10\"><rect width=\"{width:.1}\" height=\"10\" fill=\"{}\"><title>{}: {}</title></rect></svg>",
                slot_colour(index),
                escape(capability),
                escape(&amount(*cost, currency)),
            );
            vec![escape(capability), escape(&amount(*cost, currency)), share(*cost), bar]
        })
        .collect();
    let footer = ["Total".to_owned(), escape(&amount(total, currency)), share(total), String::new()];
    let columns = [text_column("Capability"), figure_column("Cost"), figure_column("Share"), text_column("")];
    let caption = format!("Cost per capability, {period}");
    table(page, &format!("capability-cost-{n}"), &caption, &columns, &rows, Some(&footer));
}

/// A capability's colour by its rank: its own for the largest, one grey for the rest.
fn slot_colour(slot: usize) -> &'static str {
    if slot >= COLOURED_CAPABILITIES { OTHER_COLOUR } else { colour(slot) }
}
