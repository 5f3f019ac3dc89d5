//! What the state file holds on disk, version by version: serde records of the host's own, not
//! the WIT's, so that a change of the contract never changes the file. Version 4 is written;
//! versions 1 to 4 are read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::wit::{AccountState, AlertState, DeliveryState};

/// The version this dtcost writes.
pub const VERSION: u32 = 4;

/// Version 4: an account's delivery state per account (version 3's, its usage events, and the
/// keys of the cost anomalies delivered), and the budget alerts fired per subscription (alerts are
/// the subscription's, whichever account sent them). Version 3 is read by this very record: its
/// accounts have no `usage` and no `anomalies`, which default to none.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    pub version: u32,
    /// By account UUID.
    pub accounts: BTreeMap<String, StoredAccount>,
    /// Budget alerts fired, by subscription UUID.
    #[serde(default)]
    pub subscriptions: BTreeMap<String, StoredAlerts>,
}

/// What an account's runs delivered.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAccount {
    /// `dps.cost2.booked` events.
    pub cost: Option<StoredDelivery>,
    /// `dps.cost.environment.booked` events.
    pub environment_cost: Option<StoredDelivery>,
    /// `dps.usage.booked` events (version 4 on; absent in version 3).
    #[serde(default)]
    pub usage: Option<StoredDelivery>,
    /// Keys (`scope|id|kind|day`) of the `dps.cost.anomaly` events delivered.
    #[serde(default)]
    pub anomalies: Vec<String>,
}

/// Events of one kind delivered for one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDelivery {
    pub subscription_uuid: String,
    /// Days starting before this instant were delivered and are final.
    pub frozen_before: Option<String>,
    /// `event.id`s accepted on or after `frozen_before`.
    pub sent: Vec<String>,
}

/// Budget alerts fired in a subscription's period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAlerts {
    pub subscription_uuid: String,
    pub period_start: String,
    /// `used:<percent>` or `forecast:<percent>`.
    pub fired: Vec<String>,
}

/// Version 2: each account with the alerts it sent.
#[derive(Debug, Deserialize)]
struct ContentV2 {
    accounts: BTreeMap<String, StoredAccountV2>,
}

#[derive(Debug, Deserialize)]
struct StoredAccountV2 {
    cost: Option<StoredDelivery>,
    environment_cost: Option<StoredDelivery>,
    alerts: Option<StoredAlerts>,
}

/// Version 1: each account's cost delivery alone.
#[derive(Debug, Deserialize)]
struct ContentV1 {
    accounts: BTreeMap<String, StoredDelivery>,
}

/// Why a file's content was not read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("version {0} is newer than this dtcost knows ({VERSION}); use a newer dtcost")]
    Newer(u32),
}

impl Content {
    pub fn empty() -> Content {
        Content { version: VERSION, ..Content::default() }
    }

    /// A file's bytes, of any version this dtcost reads, as the current version.
    pub fn read(bytes: &[u8]) -> Result<Content, FormatError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        match serde_json::from_slice::<Versioned>(bytes)?.version {
            1 => {
                let old: ContentV1 = serde_json::from_slice(bytes)?;
                let accounts = old
                    .accounts
                    .into_iter()
                    .map(|(uuid, cost)| (uuid, StoredAccount { cost: Some(cost), ..StoredAccount::default() }))
                    .collect();
                Ok(Content { accounts, ..Content::empty() })
            }
            2 => {
                let old: ContentV2 = serde_json::from_slice(bytes)?;
                let mut content = Content::empty();
                for (uuid, account) in old.accounts {
                    if let Some(alerts) = account.alerts {
                        content.subscriptions.insert(alerts.subscription_uuid.clone(), alerts);
                    }
                    let state = StoredAccount {
                        cost: account.cost,
                        environment_cost: account.environment_cost,
                        usage: None,
                        anomalies: Vec::new(),
                    };
                    content.accounts.insert(uuid, state);
                }
                Ok(content)
            }
            // Version 3 is version 4 without `usage` and `anomalies`, which default to none.
            3 => Ok(Content { version: VERSION, ..serde_json::from_slice(bytes)? }),
            VERSION => Ok(serde_json::from_slice(bytes)?),
            newer => Err(FormatError::Newer(newer)),
        }
    }
}

impl From<DeliveryState> for StoredDelivery {
    fn from(state: DeliveryState) -> Self {
        StoredDelivery {
            subscription_uuid: state.subscription_uuid,
            frozen_before: state.frozen_before,
            sent: state.sent,
        }
    }
}

impl From<StoredDelivery> for DeliveryState {
    fn from(stored: StoredDelivery) -> Self {
        DeliveryState {
            subscription_uuid: stored.subscription_uuid,
            frozen_before: stored.frozen_before,
            sent: stored.sent,
        }
    }
}

impl From<AccountState> for StoredAccount {
    fn from(state: AccountState) -> Self {
        StoredAccount {
            cost: state.cost.map(Into::into),
            environment_cost: state.environment_cost.map(Into::into),
            usage: state.usage.map(Into::into),
            anomalies: state.anomalies,
        }
    }
}

impl From<StoredAccount> for AccountState {
    fn from(stored: StoredAccount) -> Self {
        AccountState {
            cost: stored.cost.map(Into::into),
            environment_cost: stored.environment_cost.map(Into::into),
            usage: stored.usage.map(Into::into),
            anomalies: stored.anomalies,
        }
    }
}

impl From<StoredAlerts> for AlertState {
    fn from(stored: StoredAlerts) -> Self {
        AlertState {
            subscription_uuid: stored.subscription_uuid,
            period_start: stored.period_start,
            fired: stored.fired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files as each version of dtcost wrote them.
    const V1: &str = r#"{"version":1,"accounts":{"a":{"subscription_uuid":"s","frozen_before":null,"sent":["id"]}}}"#;
    const V2: &str = r#"{"version":2,"accounts":{"a":{"cost":{"subscription_uuid":"s","frozen_before":"2026-01-01T00:00:00Z","sent":["id"]},
        "environment_cost":null,
        "alerts":{"subscription_uuid":"s","period_start":"2026-01-01","fired":["used:75"]}}}}"#;
    const V3: &str = r#"{
  "version": 3,
  "accounts": {
    "a": {
      "cost": {"subscription_uuid": "s", "frozen_before": "2026-01-01T00:00:00Z", "sent": ["id"]},
      "environment_cost": {"subscription_uuid": "s", "frozen_before": null, "sent": ["env"]}
    }
  },
  "subscriptions": {
    "s": {"subscription_uuid": "s", "period_start": "2026-01-01", "fired": ["used:75"]}
  }
}"#;
    const V4: &str = r#"{
  "version": 4,
  "accounts": {
    "a": {
      "cost": {"subscription_uuid": "s", "frozen_before": "2026-01-01T00:00:00Z", "sent": ["id"]},
      "environment_cost": {"subscription_uuid": "s", "frozen_before": null, "sent": ["env"]},
      "usage": {"subscription_uuid": "s", "frozen_before": null, "sent": ["usage"]},
      "anomalies": ["account||spike|2026-11-20"]
    }
  },
  "subscriptions": {
    "s": {"subscription_uuid": "s", "period_start": "2026-01-01", "fired": ["used:75"]}
  }
}"#;

    fn delivery(frozen_before: Option<&str>, sent: &str) -> StoredDelivery {
        StoredDelivery {
            subscription_uuid: "s".into(),
            frozen_before: frozen_before.map(str::to_owned),
            sent: vec![sent.into()],
        }
    }

    #[test]
    fn every_version_written_before_is_read_as_the_current_one() {
        let v1 = Content::read(V1.as_bytes()).unwrap();
        assert_eq!(v1.version, VERSION);
        assert_eq!(v1.accounts["a"], StoredAccount { cost: Some(delivery(None, "id")), ..StoredAccount::default() });
        assert!(v1.subscriptions.is_empty());

        let v2 = Content::read(V2.as_bytes()).unwrap();
        assert_eq!(v2.accounts["a"].cost, Some(delivery(Some("2026-01-01T00:00:00Z"), "id")));
        assert_eq!(v2.subscriptions["s"].fired, ["used:75"], "an account's alerts move to their subscription");

        let v3 = Content::read(V3.as_bytes()).unwrap();
        assert_eq!(v3.accounts["a"].environment_cost, Some(delivery(None, "env")));
        assert_eq!(v3.subscriptions["s"].period_start, "2026-01-01");
        assert_eq!(v3.accounts["a"].cost, v2.accounts["a"].cost);
        assert_eq!((v3.version, v3.accounts["a"].usage.as_ref()), (VERSION, None), "version 3 had no usage");
        assert_eq!(v3.accounts["a"].anomalies.len(), 0, "no anomaly was delivered before 4");
    }

    #[test]
    fn usage_deliveries_and_anomaly_keys_are_kept_from_version_4_on() {
        let v4 = Content::read(V4.as_bytes()).unwrap();
        assert_eq!(v4.accounts["a"].usage, Some(delivery(None, "usage")));
        assert_eq!(v4.accounts["a"].anomalies, ["account||spike|2026-11-20"]);
        let v3 = Content::read(V3.as_bytes()).unwrap();
        assert_eq!(v4.accounts["a"].environment_cost, v3.accounts["a"].environment_cost);
    }

    #[test]
    fn the_current_version_is_written_with_its_own_field_names_and_read_back() {
        let content = Content::read(V4.as_bytes()).unwrap();
        let written = serde_json::to_value(&content).unwrap();
        let expected: serde_json::Value = serde_json::from_str(V4).unwrap();
        assert_eq!(written, expected, "what is written is version 4, field for field");
        assert_eq!(Content::read(&serde_json::to_vec(&content).unwrap()).unwrap(), content);
    }

    #[test]
    fn a_newer_version_is_refused_by_number() {
        let error = Content::read(br#"{"version":9,"accounts":{}}"#).unwrap_err();
        assert!(matches!(error, FormatError::Newer(9)), "{error}");
    }

    #[test]
    fn the_wit_records_round_trip_through_the_stored_ones() {
        let state = AccountState {
            cost: Some(DeliveryState { subscription_uuid: "s".into(), frozen_before: None, sent: vec!["id".into()] }),
            environment_cost: None,
            usage: Some(DeliveryState { subscription_uuid: "s".into(), frozen_before: None, sent: vec!["u".into()] }),
            anomalies: vec!["account||drop|2026-11-21".into()],
        };
        assert_eq!(AccountState::from(StoredAccount::from(state.clone())), state);
    }
}
