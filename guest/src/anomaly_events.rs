//! Cost anomalies as `dps.cost.anomaly` events: the detector ([`crate::anomaly`]) over the
//! account's daily cost and, where environment cost was read, over each capability and each
//! environment; only findings on recent days, each keyed by scope, id, kind and day so that it
//! is sent once.

use crate::anomaly::{self, Finding, InvalidParameter, Kind, Parameters};
use crate::budget::date_of_day;
use crate::environment::round6;
use crate::environment_names::EnvironmentNames;
use crate::events::FlatEvent;
use crate::forecast::DailyCost;
use crate::time::{DAY_MS, format_rfc3339};
use crate::wit::{AnomalyPlan, CostRecord, EnvironmentCost, EventContext};

pub const COST_ANOMALY: &str = "dps.cost.anomaly";

/// What a series is the cost of.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Account,
    Capability {
        key: String,
        name: String,
    },
    /// `name` is absent while the environment's name is unknown.
    Environment {
        id: String,
        name: Option<String>,
    },
}

impl Scope {
    fn name(&self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Capability { .. } => "capability",
            Scope::Environment { .. } => "environment",
        }
    }

    fn id(&self) -> &str {
        match self {
            Scope::Account => "",
            Scope::Capability { key, .. } => key,
            Scope::Environment { id, .. } => id,
        }
    }

    /// How the message names what cost more or less.
    fn subject(&self, account_name: &str) -> String {
        match self {
            Scope::Account => format!("account {account_name}"),
            Scope::Capability { name, .. } => format!("capability {name} of account {account_name}"),
            Scope::Environment { id, name } => {
                format!("environment {} of account {account_name}", name.as_deref().unwrap_or(id))
            }
        }
    }
}

/// A daily cost series of one scope.
pub struct Series {
    pub scope: Scope,
    pub days: Vec<DailyCost>,
}

/// One finding, built but not sent.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyEvent {
    /// `scope|id|kind|YYYY-MM-DD`: what the account state remembers once it was accepted.
    pub key: String,
    pub event: String,
    pub message: String,
}

fn day_of(start: &str) -> Option<i64> {
    crate::time::parse_instant_millis(start).map(|ms| ms.div_euclid(DAY_MS))
}

/// The account's daily cost.
pub fn account_series(costs: &[CostRecord]) -> Series {
    let days = costs.iter().filter_map(|c| Some(DailyCost { day: day_of(&c.start_time)?, value: c.value }));
    Series { scope: Scope::Account, days: days.collect() }
}

/// Per capability (summed over environments) and per environment (summed over capabilities),
/// one value a day. The rows can be tens of thousands (the job drops them before it ingests):
/// they are grouped by sorting references, and only series with days enough for a finding
/// ([`MIN_SERIES_DAYS`]) are kept. The `unattributed` share is no environment and has no
/// capability, so it is in none of them.
pub fn environment_series(rows: &[EnvironmentCost], names: &EnvironmentNames) -> Vec<Series> {
    let mut all = grouped(
        rows,
        |row| &row.capability_key,
        |row| Scope::Capability { key: row.capability_key.clone(), name: row.capability_name.clone() },
    );
    all.extend(grouped(
        rows,
        |row| &row.environment_id,
        |row| Scope::Environment { id: row.environment_id.clone(), name: names.get(&row.environment_id).cloned() },
    ));
    all
}

/// Days with data a series needs before the detector can find anything in it: the daily rule's
/// `min_history_days` and the day judged (the week-over-week rule needs more, the reference
/// weeks and [`anomaly::WEEK_MIN_SPREAD`] weeks of ratios before the week judged).
pub fn min_series_days() -> usize {
    Parameters::default().min_history_days as usize + 1
}

/// The rows grouped by `key`, summed per day, as series of the scope `scope` gives a group's
/// first row; groups with fewer than [`min_series_days`] days are left out.
fn grouped<'a>(
    rows: &'a [EnvironmentCost],
    key: impl Fn(&'a EnvironmentCost) -> &'a str,
    scope: impl Fn(&EnvironmentCost) -> Scope,
) -> Vec<Series> {
    let mut order: Vec<(&str, i64, usize)> =
        rows.iter().enumerate().filter_map(|(index, row)| Some((key(row), day_of(&row.start_time)?, index))).collect();
    order.sort_unstable();
    let mut all = Vec::new();
    for group in order.chunk_by(|a, b| a.0 == b.0) {
        let mut days: Vec<DailyCost> = Vec::new();
        for &(_, day, index) in group {
            match days.last_mut() {
                Some(last) if last.day == day => last.value += rows[index].value,
                _ => days.push(DailyCost { day, value: rows[index].value }),
            }
        }
        if days.len() >= min_series_days() {
            all.push(Series { scope: scope(&rows[group[0].2]), days });
        }
    }
    all
}

/// The detector's settings for `plan`: the week-over-week percentage, and the minimum amount as
/// both the daily and the weekly floor.
pub fn parameters(plan: &AnomalyPlan) -> Parameters {
    let defaults = Parameters::default();
    Parameters {
        week_growth_percent: plan.week_over_week_percent(),
        min_absolute: plan.minimum_amount.unwrap_or(defaults.min_absolute),
        week_min_absolute: plan.minimum_amount.unwrap_or(defaults.week_min_absolute),
        ..defaults
    }
}

/// Who and what the events are about.
pub struct Subject<'a> {
    pub context: &'a EventContext,
    pub subscription_uuid: &'a str,
    pub currency: &'a str,
}

/// The findings of every series whose day is among the `plan`'s judged days before `newest_day`
/// (days since 1970-01-01), as events, ordered by series then day.
pub fn anomaly_events(
    subject: &Subject<'_>,
    all: &[Series],
    plan: &AnomalyPlan,
    newest_day: i64,
) -> Result<Vec<AnomalyEvent>, InvalidParameter> {
    let parameters = parameters(plan);
    let first_judged = first_judged_day(plan, newest_day);
    let mut events = Vec::new();
    for series in all {
        let findings = without_explained_weeks(anomaly::detect(&series.days, &parameters)?, &parameters);
        for finding in findings.iter().filter(|f| f.first_day >= first_judged) {
            events.push(event(subject, &series.scope, finding));
        }
    }
    Ok(events)
}

/// The oldest day whose findings are reported.
pub fn first_judged_day(plan: &AnomalyPlan, newest_day: i64) -> i64 {
    newest_day - i64::from(plan.days().max(1)) + 1
}

/// The day of a key (`…|YYYY-MM-DD`) as a day number; `None` for a key this dtcost did not write.
pub fn day_of_key(key: &str) -> Option<i64> {
    let (_, date) = key.rsplit_once('|')?;
    crate::time::parse_instant_millis(date).map(|ms| ms.div_euclid(DAY_MS))
}

/// A week's change that a daily finding already reports is not reported again: a week with a
/// level shift in the same direction in it or in the week before (the new level is the change),
/// or whose change is under the percentage once the deviations of its daily findings in that
/// direction are taken out.
fn without_explained_weeks(findings: Vec<Finding>, parameters: &Parameters) -> Vec<Finding> {
    let daily: Vec<(i64, bool, f64)> = findings
        .iter()
        .filter(|f| f.kind != Kind::WeekOverWeek)
        .map(|f| (f.first_day, f.level_shift, f.deviation))
        .collect();
    let explained = |week: &Finding| {
        let up = week.deviation > 0.0;
        let same = |deviation: f64| (deviation > 0.0) == up;
        let shift = daily.iter().any(|&(day, shift, deviation)| {
            shift && same(deviation) && (week.first_day - 7..=week.last_day).contains(&day)
        });
        let days: f64 = daily
            .iter()
            .filter(|&&(day, shift, deviation)| {
                !shift && same(deviation) && (week.first_day..=week.last_day).contains(&day)
            })
            .map(|&(_, _, deviation)| deviation)
            .sum();
        let rest = week.cost - days;
        let band = parameters.week_growth_percent / 100.0;
        let within = if up { rest <= week.expected * (1.0 + band) } else { rest >= week.expected * (1.0 - band) };
        shift || (days != 0.0 && (within || (rest - week.expected).abs() < parameters.week_min_absolute))
    };
    findings.iter().filter(|f| f.kind != Kind::WeekOverWeek || !explained(f)).cloned().collect()
}

fn event(subject: &Subject<'_>, scope: &Scope, finding: &Finding) -> AnomalyEvent {
    let date = date_of_day(finding.first_day);
    let key = format!("{}|{}|{}|{date}", scope.name(), scope.id(), finding.kind.name());
    let message = message(subject, scope, finding, &date);
    let (capability_key, capability_name) = match scope {
        Scope::Capability { key, name } => (Some(key.as_str()), Some(name.as_str())),
        _ => (None, None),
    };
    let (environment_id, environment_name) = match scope {
        Scope::Environment { id, name } => (Some(id.as_str()), name.as_deref()),
        _ => (None, None),
    };
    let start_time = format_rfc3339(finding.first_day * DAY_MS);
    let mut event = FlatEvent::new();
    event
        .text("event.type", COST_ANOMALY)
        .text("event.provider", &subject.context.provider)
        .text("timestamp", &start_time)
        .text("subscriptionUuid", subject.subscription_uuid)
        .text("accountUuid", &subject.context.account_uuid)
        .text("accountName", &subject.context.account_name)
        .text("scope", scope.name())
        .optional_text("capabilityKey", capability_key)
        .optional_text("capabilityName", capability_name)
        .optional_text("environmentId", environment_id)
        .optional_text("environmentName", environment_name)
        .text("startTime", &start_time)
        .text("endTime", &format_rfc3339((finding.last_day + 1) * DAY_MS))
        .text("kind", finding.kind.name())
        .number("cost", round6(finding.cost))
        .number("expected", round6(finding.expected))
        .number("deviation", round6(finding.deviation))
        .optional_number("deviationPercent", finding.deviation_percent.map(|p| (p * 10.0).round() / 10.0))
        .text("threshold", &finding.threshold)
        .text("currency", subject.currency)
        .text("severity", "WARN")
        .text("message", &message);
    let event = event.finish(COST_ANOMALY, &[&subject.context.account_uuid, subject.subscription_uuid, &key]);
    AnomalyEvent { event, key, message }
}

fn message(subject: &Subject<'_>, scope: &Scope, finding: &Finding, date: &str) -> String {
    let who = scope.subject(&subject.context.account_name);
    let currency = subject.currency;
    let (cost, expected) = (finding.cost, finding.expected);
    let percent = finding.deviation_percent.map(|p| format!(" ({p:+.0} %)")).unwrap_or_default();
    match finding.kind {
        Kind::WeekOverWeek => format!(
            "{who} cost {cost:.2} {currency} in the week of {date}, {:.2} {} than the weeks before \
             ({expected:.2}), beyond its usual week-to-week variation{percent}",
            finding.deviation.abs(),
            if finding.deviation > 0.0 { "more" } else { "less" }
        ),
        Kind::Spike | Kind::Drop => {
            let direction = if finding.kind == Kind::Spike { "more" } else { "less" };
            let shift =
                if finding.level_shift { "; it stayed there: a level shift, the new normal from then on" } else { "" };
            format!(
                "{who} cost {cost:.2} {currency} on {date}, {:.2} {direction} than the {expected:.2} expected{percent}{shift}",
                finding.deviation.abs()
            )
        }
    }
}

#[cfg(test)]
mod tests;
