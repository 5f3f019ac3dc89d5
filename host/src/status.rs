//! One status per subscription per run: accounts that book against one subscription (DPS for
//! Hybrid) each read it, and the first of them in config order whose job read its details sends
//! its `dps.subscription.status` event and the budget alerts not yet fired in its period.

use crate::wit::{Report, SubscriptionOutlook};

/// The account chosen to send one subscription's status, and the others that share it.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    /// The sending account's subject (`account <name>`).
    pub sender: String,
    pub outlook: SubscriptionOutlook,
    /// The other accounts whose jobs read the same subscription, in config order.
    pub sharers: Vec<String>,
}

/// Found from the data (the subscription uuid each account resolved to), not from the config:
/// the first job in `reports` (config order) with the subscription's outlook sends it. An account
/// that failed, or may not read the details, has no outlook, so another one that shares the
/// subscription sends it.
pub fn choose<'a>(reports: impl IntoIterator<Item = (&'a str, &'a Report)>) -> Vec<Chosen> {
    let mut read: Vec<(&str, Option<Chosen>, Vec<String>)> = Vec::new();
    for (subject, report) in reports {
        let Some(uuid) = report.subscription_uuid.as_deref() else { continue };
        let index = match read.iter().position(|(seen, ..)| *seen == uuid) {
            Some(index) => index,
            None => {
                read.push((uuid, None, Vec::new()));
                read.len() - 1
            }
        };
        let (_, sender, others) = &mut read[index];
        match (&report.subscription_outlook, sender.is_none()) {
            (Some(outlook), true) => {
                *sender = Some(Chosen { sender: subject.to_owned(), outlook: outlook.clone(), sharers: Vec::new() })
            }
            _ => others.push(subject.to_owned()),
        }
    }
    read.into_iter()
        .filter_map(|(_, sender, others)| sender.map(|chosen| Chosen { sharers: others, ..chosen }))
        .collect()
}

impl Chosen {
    /// What the summary and `dtcost check` say about it.
    pub fn note(&self) -> String {
        let shared = if self.sharers.is_empty() {
            String::new()
        } else {
            format!(" (also booked by {}, which do not send it)", self.sharers.join(", "))
        };
        format!("subscription {}: status sent by {}{shared}", self.outlook.subscription_uuid, self.sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(subscription: Option<&str>) -> Report {
        Report {
            subject: String::new(),
            subscription_uuid: subscription.map(str::to_owned),
            subscription_outlook: subscription.map(|uuid| SubscriptionOutlook {
                subscription_uuid: uuid.to_owned(),
                period_start: "2026-01-01".into(),
                status_event: format!("status of {uuid}"),
                alerts: Vec::new(),
            }),
            notes: Vec::new(),
            records_read: 0,
            events_built: 0,
            events_sent: 0,
            events_accepted: 0,
            events_skipped: 0,
            requests: 0,
            retries: 0,
            throttled: 0,
            failures: Vec::new(),
            rejected: Vec::new(),
            newest_day: None,
            reconciliation: None,
            usage_reconciliation: None,
            alerts: Vec::new(),
            anomalies: Vec::new(),
            events: Vec::new(),
            state: None,
        }
    }

    #[test]
    fn a_shared_subscription_is_sent_once_by_the_first_account_that_read_it() {
        let (a, b, c, d) = (report(None), report(Some("s1")), report(Some("s1")), report(Some("s2")));
        // An account that may not read the shared details (403) has the uuid but no outlook.
        let mut unreadable = report(Some("s1"));
        unreadable.subscription_outlook = None;
        let reports =
            [("account A", &a), ("account X", &unreadable), ("account B", &b), ("account C", &c), ("account D", &d)];
        let chosen = choose(reports);
        assert_eq!(chosen.len(), 2);
        assert_eq!(chosen[0].sender, "account B");
        assert_eq!(chosen[0].sharers, ["account X", "account C"]);
        assert_eq!(chosen[0].outlook.status_event, "status of s1");
        assert_eq!((chosen[1].sender.as_str(), chosen[1].sharers.len()), ("account D", 0));
        assert!(chosen[0].note().contains("status sent by account B (also booked by account X, account C"));
    }
}
