//! Reading the files dtcost is given (the config, secret files, the state file): regular files
//! only, opened without blocking and read within a bound, so that a FIFO with no writer, a
//! device (`/dev/zero`) or a huge file fails at once, by name, instead of hanging or filling memory.

use std::io::Read as _;
use std::path::Path;

/// Why a file of the configuration was not read (the caller names the file and its key).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("it is {0}, not a regular file (only regular files are read)")]
    NotRegular(&'static str),
    #[error("it holds {}", match .size { Some(size) => format!("{size} bytes, more than {limit}"), None => format!("more than {limit} bytes") })]
    TooLarge {
        /// The file's size, when it was known before reading (a regular file's).
        size: Option<u64>,
        limit: u64,
    },
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    #[error("it is not UTF-8 text")]
    NotText,
}

/// The text of the regular file at `path` (symbolic links followed), at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    // Before opening: opening a FIFO with no writer would block.
    check(&std::fs::metadata(path)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Should it be replaced by a FIFO between the check and the open, the open still returns.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    // What was opened is what is read.
    let metadata = file.metadata()?;
    check(&metadata)?;
    if metadata.len() > limit {
        return Err(FileError::TooLarge { size: Some(metadata.len()), limit });
    }
    // A file that grows while it is read is still read within the bound.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge { size: None, limit });
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotText)
}

/// A regular file, or what it is instead.
fn check(metadata: &std::fs::Metadata) -> Result<(), FileError> {
    let kind = metadata.file_type();
    if kind.is_file() {
        return Ok(());
    }
    if kind.is_dir() {
        return Err(FileError::NotRegular("a folder"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_fifo() {
            return Err(FileError::NotRegular("a FIFO (named pipe)"));
        }
        if kind.is_char_device() {
            return Err(FileError::NotRegular("a character device"));
        }
        if kind.is_block_device() {
            return Err(FileError::NotRegular("a block device"));
        }
        if kind.is_socket() {
            return Err(FileError::NotRegular("a socket"));
        }
    }
    Err(FileError::NotRegular("a special file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_is_read_and_anything_else_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(read_text(&path, 64).unwrap(), "s3cret\n");
        assert!(matches!(read_text(&path, 3), Err(FileError::TooLarge { size: Some(7), limit: 3 })));
        assert!(matches!(read_text(dir.path(), 64), Err(FileError::NotRegular("a folder"))));
        #[cfg(unix)]
        assert!(matches!(read_text(Path::new("/dev/zero"), 64), Err(FileError::NotRegular("a character device"))));
    }
}
