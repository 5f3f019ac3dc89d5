//! The state file: what earlier runs delivered, per account, so that a run sends only new or
//! changed cost days, and which budget alerts fired, per subscription. Written atomically (a
//! temporary file of a unique name, mode 0600, renamed over the old one) after each account's
//! events were acknowledged by the ingest API; one run at a time holds its lock.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

// What an account's runs left for the next one: the WIT `account-state`, stored as is.
use crate::runtime::{AccountState, AlertState, DeliveryState};

/// Version 3 keeps an `account-state` per account and the alerts fired per subscription (alerts
/// are the subscription's, whichever account sent them). Version 2 kept the alerts in the account
/// that sent them, and version 1 the cost's `delivery-state` alone; both are read.
const VERSION: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file {path}: {message}")]
    Unreadable { path: PathBuf, message: String },
    #[error("state file {path}: cannot write it: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "state file {path}: another dtcost run is using it (it holds the lock on {lock}); this run stops \
         so that no event is sent twice"
    )]
    Locked { path: PathBuf, lock: PathBuf },
    #[error("state file {path}: cannot lock {lock}: {source}")]
    Lock { path: PathBuf, lock: PathBuf, source: std::io::Error },
}

/// The exclusive lock of a state file, held by a run that may write it, for as long as it lives
/// (with `--every`, between runs too). It is taken on a file of its own beside the state file
/// (`<state file>.lock`, never replaced, left in place), because the state file itself is
/// replaced on every write. The operating system releases it when the process ends, however it
/// ends, so a killed run leaves no stale lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock of `state_path`, or says that another run holds it (without waiting).
    pub fn acquire(state_path: &Path) -> Result<StateLock, StateError> {
        let lock = lock_path(state_path);
        let error = |source| StateError::Lock { path: state_path.to_owned(), lock: lock.clone(), source };
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&lock).map_err(error)?;
        match file.try_lock() {
            Ok(()) => Ok(StateLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(StateError::Locked { path: state_path.to_owned(), lock: lock.clone() })
            }
            Err(std::fs::TryLockError::Error(source)) => Err(error(source)),
        }
    }
}

/// `<state file>.lock`.
pub fn lock_path(state_path: &Path) -> PathBuf {
    let mut name = state_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFileContent {
    version: u32,
    /// By account UUID.
    accounts: BTreeMap<String, AccountState>,
    /// Budget alerts fired, by subscription UUID.
    #[serde(default)]
    subscriptions: BTreeMap<String, AlertState>,
}

/// Version 2's accounts, each with the alerts it sent.
#[derive(Debug, Deserialize)]
struct StateFileContentV2 {
    accounts: BTreeMap<String, AccountStateV2>,
}

#[derive(Debug, Deserialize)]
struct AccountStateV2 {
    cost: Option<DeliveryState>,
    environment_cost: Option<DeliveryState>,
    alerts: Option<AlertState>,
}

/// Version 1's accounts (its `version` is read on its own, first).
#[derive(Debug, Deserialize)]
struct StateFileContentV1 {
    accounts: BTreeMap<String, DeliveryState>,
}

/// The state file and its content in memory.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    content: StateFileContent,
}

impl StateFile {
    /// Loads `path`; a missing file is an empty state (the first run). An unreadable or corrupt
    /// file is an error: running without it would send everything again.
    pub fn load(path: &Path) -> Result<StateFile, StateError> {
        let unreadable = |message: String| StateError::Unreadable { path: path.to_owned(), message };
        let content = match std::fs::read(path) {
            Ok(bytes) => {
                let damaged = |error: serde_json::Error| {
                    unreadable(format!(
                        "{error}; if it is damaged, delete it (the next run then sends every day again)"
                    ))
                };
                #[derive(Deserialize)]
                struct Versioned {
                    version: u32,
                }
                let version = serde_json::from_slice::<Versioned>(&bytes).map_err(damaged)?.version;
                match version {
                    1 => {
                        let old: StateFileContentV1 = serde_json::from_slice(&bytes).map_err(damaged)?;
                        let accounts = old
                            .accounts
                            .into_iter()
                            .map(|(uuid, cost)| (uuid, AccountState { cost: Some(cost), environment_cost: None }))
                            .collect();
                        StateFileContent { version: VERSION, accounts, subscriptions: BTreeMap::new() }
                    }
                    2 => {
                        let old: StateFileContentV2 = serde_json::from_slice(&bytes).map_err(damaged)?;
                        let mut content = StateFileContent { version: VERSION, ..Default::default() };
                        for (uuid, account) in old.accounts {
                            if let Some(alerts) = account.alerts {
                                content.subscriptions.insert(alerts.subscription_uuid.clone(), alerts);
                            }
                            let state = AccountState { cost: account.cost, environment_cost: account.environment_cost };
                            content.accounts.insert(uuid, state);
                        }
                        content
                    }
                    VERSION => serde_json::from_slice(&bytes).map_err(damaged)?,
                    other => {
                        return Err(unreadable(format!(
                            "version {other} is newer than this dtcost knows ({VERSION}); use a newer dtcost"
                        )));
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                StateFileContent { version: VERSION, ..Default::default() }
            }
            Err(error) => return Err(unreadable(error.to_string())),
        };
        Ok(StateFile { path: path.to_owned(), content })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn account(&self, account_uuid: &str) -> Option<&AccountState> {
        self.content.accounts.get(account_uuid)
    }

    /// Records an account's new state and writes the file.
    pub fn update(&mut self, account_uuid: &str, state: AccountState) -> Result<(), StateError> {
        self.content.accounts.insert(account_uuid.to_owned(), state);
        self.save()
    }

    /// The budget alerts (`used:90`, …) already fired for a subscription in the period starting
    /// at `period_start`; another period starts afresh.
    pub fn fired(&self, subscription_uuid: &str, period_start: &str) -> &[String] {
        match self.content.subscriptions.get(subscription_uuid) {
            Some(state) if state.period_start == period_start => &state.fired,
            _ => &[],
        }
    }

    /// Adds alerts the ingest API accepted to what fired in the subscription's period, and writes the file.
    pub fn record_fired(
        &mut self,
        subscription_uuid: &str,
        period_start: &str,
        accepted: impl IntoIterator<Item = String>,
    ) -> Result<(), StateError> {
        let mut fired = self.fired(subscription_uuid, period_start).to_vec();
        fired.extend(accepted);
        fired.sort_unstable();
        fired.dedup();
        let state = AlertState {
            subscription_uuid: subscription_uuid.to_owned(),
            period_start: period_start.to_owned(),
            fired,
        };
        self.content.subscriptions.insert(subscription_uuid.to_owned(), state);
        self.save()
    }

    fn save(&self) -> Result<(), StateError> {
        let write_error = |source| StateError::Write { path: self.path.clone(), source };
        let json = serde_json::to_vec_pretty(&self.content).map_err(|e| write_error(std::io::Error::other(e)))?;
        // A unique name in the same folder (a rename does not cross file systems), created 0600.
        let folder = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let prefix = format!(".{}.", self.path.file_name().unwrap_or_default().to_string_lossy());
        let mut temporary =
            tempfile::Builder::new().prefix(&prefix).suffix(".tmp").tempfile_in(folder).map_err(write_error)?;
        temporary.write_all(&json).and_then(|()| temporary.as_file().sync_all()).map_err(write_error)?;
        temporary.persist(&self.path).map_err(|e| write_error(e.error))?;
        Ok(())
    }
}

/// The state file's lock within a run (its jobs update it as they end); a panic while it was
/// held leaves nothing half-written (writes are atomic), so a poisoned lock is still usable.
pub fn lock(state: &std::sync::Mutex<StateFile>) -> std::sync::MutexGuard<'_, StateFile> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_empty_state_and_updates_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = StateFile::load(&path).unwrap();
        assert!(state.account("a").is_none());
        let cost = DeliveryState { subscription_uuid: "s".into(), frozen_before: None, sent: vec!["id".into()] };
        let entry = AccountState { cost: Some(cost), environment_cost: None };
        state.update("a", entry.clone()).unwrap();
        assert_eq!(StateFile::load(&path).unwrap().account("a"), Some(&entry));
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["state.json"], "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn the_state_file_is_written_for_its_owner_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, r#"{"version":2,"accounts":{}}"#).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut state = StateFile::load(&path).unwrap();
        state.update("a", AccountState { cost: None, environment_cost: None }).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_second_lock_on_one_state_file_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let first = StateLock::acquire(&path).unwrap();
        let error = StateLock::acquire(&path).unwrap_err();
        assert!(matches!(error, StateError::Locked { .. }), "{error}");
        assert!(error.to_string().contains("another dtcost run is using it"), "{error}");
        drop(first);
        StateLock::acquire(&path).unwrap();
    }

    #[test]
    fn a_version_1_file_is_read_as_the_cost_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"version":1,"accounts":{"a":{"subscription_uuid":"s","frozen_before":null,"sent":["id"]}}}"#,
        )
        .unwrap();
        let state = StateFile::load(&path).unwrap();
        let account = state.account("a").unwrap();
        assert_eq!(account.cost.as_ref().map(|c| c.sent.clone()), Some(vec!["id".to_owned()]));
        assert!(account.environment_cost.is_none());
    }

    #[test]
    fn a_version_2_file_moves_each_account_s_alerts_to_its_subscription() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"version":2,"accounts":{"a":{"cost":{"subscription_uuid":"s","frozen_before":null,"sent":["id"]},
                "environment_cost":null,
                "alerts":{"subscription_uuid":"s","period_start":"2026-01-01","fired":["used:75"]}}}}"#,
        )
        .unwrap();
        let mut state = StateFile::load(&path).unwrap();
        assert_eq!(state.account("a").unwrap().cost.as_ref().unwrap().sent, ["id"]);
        assert_eq!(state.fired("s", "2026-01-01"), ["used:75"]);
        assert!(state.fired("s", "2027-01-01").is_empty(), "another period starts afresh");
        state.record_fired("s", "2026-01-01", ["used:90".to_owned()]).unwrap();
        let reloaded = StateFile::load(&path).unwrap();
        assert_eq!(reloaded.fired("s", "2026-01-01"), ["used:75", "used:90"]);
        let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(written["version"], 3);
    }

    #[test]
    fn a_corrupt_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{\"version\":1,\"accounts\":{\"a\":").unwrap();
        let error = StateFile::load(&path).unwrap_err().to_string();
        assert!(error.starts_with(&format!("state file {}", path.display())) && error.contains("delete it"), "{error}");
    }
}
