//! The state file: what earlier runs delivered, per account, so that a run sends only new or
//! changed cost days, and which budget alerts fired, per subscription. Written atomically (a
//! temporary file of a unique name, mode 0600, renamed over the old one) after each account's
//! events were acknowledged by the ingest API; one run at a time holds its lock. A state file
//! that is a symbolic link (to a mounted volume) stays one: its target is written, beside it.

mod format;
mod lock;

use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use lock::{StateLock, lock_path};

use crate::file::FileError;
use crate::wit::AccountState;
use format::{Content, FormatError, StoredAlerts};

/// The largest state file read: far above what 100 accounts' trailing windows need (a few MB).
const MAX_STATE_BYTES: u64 = 256 << 20;

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

/// The state file and its content in memory.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    content: Content,
}

impl StateFile {
    /// Loads `path`; a missing file is an empty state (the first run). An unreadable or corrupt
    /// file is an error: running without it would send everything again.
    pub fn load(path: &Path) -> Result<StateFile, StateError> {
        let unreadable = |message: String| StateError::Unreadable { path: path.to_owned(), message };
        // A regular file only, read within a bound: a FIFO or a device in its place fails at once.
        let content = match crate::file::read_text(path, MAX_STATE_BYTES) {
            Ok(text) => Content::read(text.as_bytes()).map_err(|error| match error {
                FormatError::Json(error) => unreadable(format!(
                    "{error}; if it is damaged, delete it (the next run then sends every day again)"
                )),
                newer @ FormatError::Newer(_) => unreadable(newer.to_string()),
            })?,
            Err(FileError::Io(error)) if error.kind() == std::io::ErrorKind::NotFound => Content::empty(),
            Err(error) => return Err(unreadable(error.to_string())),
        };
        Ok(StateFile { path: path.to_owned(), content })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the account's earlier runs delivered.
    pub fn account(&self, account_uuid: &str) -> Option<AccountState> {
        self.content.accounts.get(account_uuid).cloned().map(Into::into)
    }

    /// Records an account's new state and writes the file.
    pub fn update(&mut self, account_uuid: &str, state: AccountState) -> Result<(), StateError> {
        self.content.accounts.insert(account_uuid.to_owned(), state.into());
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
        let state = StoredAlerts {
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
        // The link's target is replaced, not the link: renamed over it, the link would become a
        // file of its own, and the volume it pointed to would keep the old state.
        let target = resolve_links(&self.path).map_err(write_error)?;
        // A unique name in the target's folder (a rename does not cross file systems), created 0600.
        let folder = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let prefix = format!(".{}.", target.file_name().unwrap_or_default().to_string_lossy());
        let mut temporary =
            tempfile::Builder::new().prefix(&prefix).suffix(".tmp").tempfile_in(folder).map_err(write_error)?;
        temporary.write_all(&json).and_then(|()| temporary.as_file().sync_all()).map_err(write_error)?;
        temporary.persist(&target).map_err(|e| write_error(e.error))?;
        Ok(())
    }
}

/// The most symbolic links followed to a state file (as Linux's own limit for a path).
const MAX_LINKS: usize = 40;

/// `path` with the symbolic links it is followed to its end (a link to a link, relative or
/// absolute): the file a write must replace. A link to a file that does not exist yet gives that
/// file's path; a path that is no link is itself.
pub fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut path = path.to_owned();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)?;
                // Relative to the link's folder; an absolute target replaces the path.
                path = path.parent().map_or_else(|| target.clone(), |folder| folder.join(&target));
            }
            _ => return Ok(path),
        }
    }
    Err(std::io::Error::other(format!("more than {MAX_LINKS} symbolic links in a row")))
}

/// The state file's lock within a run (its jobs update it as they end); a panic while it was
/// held leaves nothing half-written (writes are atomic), so a poisoned lock is still usable.
pub fn lock(state: &std::sync::Mutex<StateFile>) -> std::sync::MutexGuard<'_, StateFile> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::DeliveryState;

    #[test]
    fn a_missing_file_is_an_empty_state_and_updates_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = StateFile::load(&path).unwrap();
        assert!(state.account("a").is_none());
        let cost = DeliveryState { subscription_uuid: "s".into(), frozen_before: None, sent: vec!["id".into()] };
        let entry = AccountState { cost: Some(cost), environment_cost: None, usage: None, anomalies: Vec::new() };
        state.update("a", entry.clone()).unwrap();
        assert_eq!(StateFile::load(&path).unwrap().account("a"), Some(entry));
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
        state
            .update("a", AccountState { cost: None, environment_cost: None, usage: None, anomalies: Vec::new() })
            .unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_state_file_that_is_a_link_stays_one_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let volume = dir.path().join("volume");
        std::fs::create_dir(&volume).unwrap();
        // A relative link to a relative link, as mounted volumes and secrets are laid out.
        std::os::unix::fs::symlink("volume/state.json", dir.path().join("inner")).unwrap();
        std::os::unix::fs::symlink("inner", dir.path().join("state.json")).unwrap();
        let path = dir.path().join("state.json");
        let mut state = StateFile::load(&path).unwrap();
        state
            .update("a", AccountState { cost: None, environment_cost: None, usage: None, anomalies: Vec::new() })
            .unwrap();
        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink(), "the link is kept");
        assert!(volume.join("state.json").is_file(), "the target is written");
        assert!(StateFile::load(&path).unwrap().account("a").is_some());
        let left: Vec<_> = std::fs::read_dir(&volume).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["state.json"], "the temporary file was beside the target, and is gone");
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
        assert_eq!(written["version"], format::VERSION, "written as the current version");
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
