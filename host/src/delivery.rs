//! What a run sends once its export jobs are done: each subscription's status and the budget
//! alerts not yet fired in its period (remembered in the state file once accepted), then the
//! run's `dtcost.run.summary` event, each from an instance that reaches only the target.

use std::sync::Mutex;

use crate::config::Config;
use crate::job::{JobKind, JobOutcome};
use crate::plan;
use crate::runtime::Runtime;
use crate::state::{StateFile, lock};
use crate::status;
use crate::traffic::Traffic;
use crate::wit::{BudgetAlert, IngestTarget, Report, RunFigures, SubscriptionOutlook};

/// Sends each chosen subscription's status event and the budget alerts that have not fired in
/// its period, in a sandbox that reaches only the target, and remembers the alerts accepted.
pub async fn send_statuses(
    config: &Config,
    runtime: &Runtime,
    target: &IngestTarget,
    chosen: Vec<status::Chosen>,
    state: Option<&Mutex<StateFile>>,
) -> JobOutcome {
    let mut events = Vec::new();
    // The alerts to send, each with the subscription it belongs to.
    let mut alerts: Vec<(&SubscriptionOutlook, &BudgetAlert)> = Vec::new();
    for outlook in chosen.iter().map(|c| &c.outlook) {
        events.push(outlook.status_event.clone());
        let fired: Vec<String> = state
            .map(|s| lock(s).fired(&outlook.subscription_uuid, &outlook.period_start).to_vec())
            .unwrap_or_default();
        for alert in outlook.alerts.iter().filter(|alert| !fired.contains(&alert.key)) {
            events.push(alert.event.clone());
            alerts.push((outlook, alert));
        }
    }
    let sent = runtime.send_events(target.clone(), config.retry, events, plan::target_sandbox(config)).await;
    let mut outcome = JobOutcome {
        subject: "subscription status".into(),
        kind: JobKind::Status,
        result: sent.map_err(|e| e.to_string()),
        state_error: None,
        traffic: Traffic::default(),
    };
    let Ok(report) = &mut outcome.result else { return outcome };
    report.notes.splice(0..0, chosen.iter().map(status::Chosen::note));
    report.alerts = alerts.iter().map(|(_, alert)| alert.message.clone()).collect();
    let Some(state) = state.filter(|_| !target.dry_run) else { return outcome };
    // Refused events are named by id; a failed request leaves every event of it unconfirmed.
    let refused: Vec<&str> = report.rejected.iter().map(|r| r.event_id.as_str()).collect();
    let accepted = |alert: &BudgetAlert| {
        report.failures.is_empty() && !refused.contains(&event_field(&alert.event, "event.id").as_str())
    };
    for outlook in chosen.iter().map(|c| &c.outlook) {
        let keys: Vec<String> = alerts
            .iter()
            .filter(|(of, alert)| of.subscription_uuid == outlook.subscription_uuid && accepted(alert))
            .map(|(_, alert)| alert.key.clone())
            .collect();
        if keys.is_empty() {
            continue;
        }
        if let Err(error) = lock(state).record_fired(&outlook.subscription_uuid, &outlook.period_start, keys) {
            outcome.state_error = Some(error.to_string());
        }
    }
    outcome
}

/// A text field (`event.id`, `event.type`) of an event the component built; empty if it has none.
fn event_field(event: &str, field: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(event).ok();
    parsed.and_then(|event| event.get(field)?.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Builds the `dtcost.run.summary` event and sends it in a sandbox that reaches only the target.
pub async fn send_summary(
    config: &Config,
    runtime: &Runtime,
    target: &IngestTarget,
    figures: &RunFigures,
    read_at: &str,
) -> JobOutcome {
    let outcome = |result| JobOutcome {
        subject: "run summary".into(),
        kind: JobKind::Summary,
        result,
        state_error: None,
        traffic: Traffic::default(),
    };
    let event = match runtime.run_summary(config.provider.clone(), figures.clone(), read_at.to_owned()).await {
        Ok(Ok(event)) => event,
        Ok(Err(invalid)) => {
            return outcome(Err(format!("the summary event was not built: {}: {}", invalid.field, invalid.message)));
        }
        Err(error) => return outcome(Err(error.to_string())),
    };
    // The summary names the event by its type, as the component built it.
    let subject = format!("run summary event ({})", event_field(&event, "event.type"));
    let sent = runtime.send_events(target.clone(), config.retry, vec![event], plan::target_sandbox(config)).await;
    outcome(sent.map(|report| Report { subject, ..report }).map_err(|e| e.to_string()))
}
