//! The configuration's single values, each checked where it is read: secrets (from a variable or
//! a file), `DT_*` variables, names, the state file's folder, base URLs (by `url`) and UUIDs (by
//! `uuid`).

use std::path::{Path, PathBuf};

use super::validate::Validator;
use super::{ConfigError, MAX_LABEL_CHARS, MAX_SECRET_BYTES};
use crate::file::FileError;
use crate::sandbox::{Origin, OriginError};
use crate::scrub::is_unsafe;
use crate::secret::Secret;

impl Validator<'_> {
    /// A secret from `<key>-env` or `<key>-file`, else from `default_env`.
    pub(super) fn secret(
        &self,
        key: &str,
        env_name: Option<String>,
        file: Option<PathBuf>,
        default_env: Option<&str>,
    ) -> Result<Option<Secret>, ConfigError> {
        match (env_name, file) {
            (Some(_), Some(_)) => Err(self.error(key, "give either the -env or the -file key, not both")),
            (Some(name), None) => match self.env.var(&name) {
                Some(value) if value.is_empty() => {
                    Err(self.error(format!("{key}-env"), format!("environment variable {name} is set but empty")))
                }
                Some(value) => self.secret_value(&format!("{key}-env"), &format!("environment variable {name}"), value),
                None => Err(self.error(format!("{key}-env"), format!("environment variable {name} is not set"))),
            },
            (None, Some(file)) => {
                let path = self.relative(file);
                // A secret and its line ending; a longer file is refused before it is read whole.
                let limit = MAX_SECRET_BYTES as u64 + 2;
                let text = crate::file::read_text(&path, limit).map_err(|error| {
                    let why = match error {
                        FileError::TooLarge { size: Some(size), .. } => {
                            format!("holds {size} bytes, more than a secret's {MAX_SECRET_BYTES}")
                        }
                        error => error.to_string(),
                    };
                    self.error(format!("{key}-file"), format!("{}: {why}", path.display()))
                })?;
                // One trailing line ending is the file's, not the secret's.
                let value = text.strip_suffix('\n').map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
                self.secret_value(&format!("{key}-file"), &path.display().to_string(), value.to_owned())
            }
            (None, None) => match default_env {
                Some(name) => match self.env_var(name)? {
                    Some(value) => self.secret_value(name, &format!("environment variable {name}"), value),
                    None => Ok(None),
                },
                None => Ok(None),
            },
        }
    }

    /// A secret's value: one line of visible characters, without spaces around it.
    pub(super) fn secret_value(&self, key: &str, from: &str, value: String) -> Result<Option<Secret>, ConfigError> {
        let problem = if value.is_empty() {
            "is empty"
        } else if value.trim().is_empty() {
            "holds only spaces"
        } else if value.contains(['\n', '\r']) {
            "has more than one line (a secret is one line; one final line break is allowed)"
        } else if value.contains(is_unsafe) {
            "holds a control character"
        } else if value.trim() != value {
            "has spaces before or after the secret"
        } else if value.len() > MAX_SECRET_BYTES {
            return Err(
                self.error(key, format!("{from} holds {} bytes, more than a secret's {MAX_SECRET_BYTES}", value.len()))
            );
        } else {
            return Ok(Some(Secret::new(value)));
        };
        Err(self.error(key, format!("{from} {problem}")))
    }

    /// An environment variable that is set; set but empty is an error (never taken as unset).
    pub(super) fn env_var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match self.env.var(name) {
            Some(value) if value.trim().is_empty() => {
                Err(self.error(name, "is set but empty: give it a value, or unset it"))
            }
            value => Ok(value),
        }
    }

    /// A name shown in events and the summary: not empty, no control characters.
    pub(super) fn label(&self, key: &str, value: &str) -> Result<(), ConfigError> {
        if value.trim().is_empty() {
            return Err(self.error(key, "is empty"));
        }
        let length = value.chars().count();
        if length > MAX_LABEL_CHARS {
            return Err(self.error(key, format!("is {length} characters long, more than {MAX_LABEL_CHARS}")));
        }
        if value.contains(is_unsafe) {
            return Err(self.error(key, format!("{value:?} holds a control character")));
        }
        Ok(())
    }

    /// The state file's folder must exist (it is written after the first account, not here).
    pub(super) fn state_file(&self, path: &Path) -> Result<(), ConfigError> {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !folder.is_dir() {
            return Err(self.error(
                "state-file",
                format!(
                    "{}: the folder {} does not exist (create it, or set state-file)",
                    path.display(),
                    folder.display()
                ),
            ));
        }
        if path.is_dir() {
            return Err(self.error("state-file", format!("{} is a folder; name a file in it", path.display())));
        }
        Ok(())
    }

    pub(super) fn url(&self, key: &str, url: String) -> Result<String, ConfigError> {
        base_url(&url).map_err(|message| self.error(key, format!("{:?}: {message}", url.trim())))
    }

    pub(super) fn account_uuid(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        self.plain_uuid(key, value.trim().strip_prefix("urn:dtaccount:").unwrap_or(value.trim()))
    }

    /// A UUID in its hyphenated form (8-4-4-4-12 hex digits, any case), lower-cased.
    pub(super) fn plain_uuid(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        let value = value.trim();
        // The hyphenated form is the only one of 36 characters; the others (simple, braced, urn)
        // are not what the API writes.
        match uuid::Uuid::try_parse(value) {
            Ok(uuid) if value.len() == 36 => Ok(uuid.hyphenated().to_string()),
            _ => Err(self.error(
                key,
                format!(
                    "{value:?} is not a UUID (8-4-4-4-12 hex digits; an account UUID may carry the prefix urn:dtaccount:)"
                ),
            )),
        }
    }
}

/// A base URL as the config gives it to the component: http or https (any case), a host, a port
/// other than 0, no credentials, query or fragment (the component appends paths to it), https
/// unless to loopback; normalised (lower-case scheme and host, no default port, no final `/`).
pub fn base_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|error| OriginError::from(error).to_string())?;
    let origin = Origin::of_url(&url).map_err(|error| error.to_string())?;
    if url.query().is_some() {
        return Err("a query (`?…`) is not allowed: the paths are appended to this URL".into());
    }
    if url.fragment().is_some() {
        return Err("a fragment (`#…`) is not allowed: the paths are appended to this URL".into());
    }
    origin.require_tls_beyond_loopback().map_err(|error| error.to_string())?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}
