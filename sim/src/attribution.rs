//! How an account's daily cost splits into rows of environment x capability: the computation
//! behind the v3 environment views, the filtered `/cost` and the usage, from the account's
//! `/cost` records, its [`Account::environments`] shares (see [`crate::Scenario`]) and the
//! injected [`Account::spike`] and [`Account::step`].

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::data::{Account, CapabilityShare, round6};

/// One `/cost` record (one day) as the v3 view uses it.
pub(crate) struct CostDay {
    pub(crate) start: OffsetDateTime,
    pub(crate) start_text: String,
    pub(crate) end_text: String,
    /// The part of the record's value attributed to environments.
    pub(crate) attributed: f64,
    /// Cost added by [`Account::spike`] or [`Account::step`], carried by the first row.
    pub(crate) extra: f64,
    /// What `/cost` books for the day: the record's value and the extra.
    pub(crate) booked: f64,
    pub(crate) currency: String,
}

/// The account's days for `subscription` whose `startTime` lies in `[start, end)`, sorted by
/// start. Records a test made malformed (no RFC 3339 `startTime`, no numeric `value`, no
/// `currencyCode`) are left out of this view.
pub(crate) fn cost_days(
    account: &Account,
    subscription: &str,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Vec<CostDay> {
    let records = account.costs.get(subscription).map(Vec::as_slice).unwrap_or_default();
    // ASSUMPTION (unverified): endTime is exclusive, startTime inclusive.
    let mut days: Vec<CostDay> = records
        .iter()
        .filter_map(|record| cost_day(account, record))
        .filter(|day| day.start >= start && day.start < end)
        .collect();
    days.sort_by_key(|day| day.start);
    days
}

/// One `/cost` record as the v3 view uses it; `None` for a record a test made malformed.
pub(crate) fn cost_day(account: &Account, record: &Value) -> Option<CostDay> {
    let start_text = record["startTime"].as_str()?;
    let day_start = OffsetDateTime::parse(start_text, &Rfc3339).ok()?;
    let value = record["value"].as_f64()?;
    let currency = record["currencyCode"].as_str()?.to_owned();
    let end_text = match record["endTime"].as_str() {
        Some(text) => text.to_owned(),
        None => (day_start + time::Duration::days(1)).format(&Rfc3339).ok()?,
    };
    let date = day_start.to_offset(time::UtcOffset::UTC).date();
    let attributed = match &account.unattributed {
        Some(unattributed) if unattributed.applies(date) => value * (1.0 - unattributed.share),
        _ => value,
    };
    let changes = [(&account.spike, true), (&account.step, false)];
    let extra: f64 = changes
        .iter()
        .filter_map(|(change, one_day)| change.as_ref().map(|c| (c, *one_day)))
        .filter(|(change, one_day)| if *one_day { date == change.day } else { date >= change.day })
        .map(|(change, _)| round6(value * change.extra))
        .sum();
    let booked = if extra == 0.0 { value } else { value + extra };
    Some(CostDay { start: day_start, start_text: start_text.to_owned(), end_text, attributed, extra, booked, currency })
}

/// The values of one day's rows, one per environment × capability in the account's order:
/// `attributed × share`, the last row taking the remainder; the first row also carries the
/// day's extra.
pub(crate) fn day_values(account: &Account, day: &CostDay) -> Vec<f64> {
    let shares: Vec<f64> = account.environments.iter().flat_map(|e| e.capabilities.iter().map(|c| c.share)).collect();
    let mut values: Vec<f64> = shares.iter().map(|share| round6(day.attributed * share)).collect();
    if let Some((last, others)) = values.split_last_mut() {
        *last = day.attributed - others.iter().sum::<f64>();
    }
    if let Some(first) = values.first_mut() {
        *first += day.extra;
    }
    values
}

/// One day's cost per capability over the kept `pairs` (summed over environments), in the
/// order the capabilities first appear: what the account-level usage reports.
pub(crate) fn capability_costs<'a>(
    account: &'a Account,
    values: &[f64],
    pairs: &[(usize, usize, usize)],
) -> Vec<(&'a CapabilityShare, f64)> {
    let mut costs: Vec<(&CapabilityShare, f64)> = Vec::new();
    for &(e, c, flat) in pairs {
        let capability = &account.environments[e].capabilities[c];
        match costs.iter_mut().find(|(known, _)| known.key == capability.key) {
            Some((_, cost)) => *cost += values[flat],
            None => costs.push((capability, values[flat])),
        }
    }
    costs
}

/// The (environment, capability) pairs the filters keep (all when a filter is empty), with
/// their flat indexes into [`day_values`].
pub(crate) fn kept_pairs(
    account: &Account,
    environment_ids: &[String],
    capability_keys: &[String],
    cluster_ids: &[String],
) -> Vec<(usize, usize, usize)> {
    let mut pairs = Vec::new();
    let mut flat = 0;
    for (e, environment) in account.environments.iter().enumerate() {
        let environment_kept = (environment_ids.is_empty() || environment_ids.contains(&environment.id))
            && (cluster_ids.is_empty() || environment.cluster_id.as_ref().is_some_and(|c| cluster_ids.contains(c)));
        for (c, capability) in environment.capabilities.iter().enumerate() {
            if environment_kept && (capability_keys.is_empty() || capability_keys.contains(&capability.key)) {
                pairs.push((e, c, flat));
            }
            flat += 1;
        }
    }
    pairs
}
