//! The lock of a state file: one run at a time may write it.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::StateError;

/// The exclusive lock of a state file, held by a run that may write it, for as long as it lives
/// (with `--every`, between runs too). It is taken on a file of its own beside the state file
/// (`<state file>.lock`, beside a link's target, never replaced, left in place), because the state file itself is
/// replaced on every write. The operating system releases it when the process ends, however it
/// ends, so a killed run leaves no stale lock.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Takes the lock of `state_path`, or says that another run holds it (without waiting).
    pub fn acquire(state_path: &Path) -> Result<StateLock, StateError> {
        // Beside the file that is written: two links to one state file share its lock. A link
        // that cannot be followed is reported when the state file is read.
        let lock = lock_path(&super::resolve_links(state_path).unwrap_or_else(|_| state_path.to_owned()));
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
