//! A secret value that cannot be printed by accident.

use std::fmt;

/// A credential. `Debug` and `Display` print `(redacted)`; the value is reachable only through
/// [`Secret::expose`], which the code calls exactly where it hands the value to an instance.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A Dynatrace token's identifier (`dt0c01.ABC`, the prefix and public part), safe to log.
    pub fn identifier(&self) -> String {
        let mut parts = self.0.splitn(3, '.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(prefix), Some(public), Some(_)) if prefix.starts_with("dt0") => format!("{prefix}.{public}"),
            _ => "(redacted)".to_owned(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("dt0c01.PUBLIC.very-secret-part");
        assert_eq!(format!("{secret} {secret:?} {:?}", Some(&secret)), "(redacted) (redacted) Some((redacted))");
        assert_eq!(secret.identifier(), "dt0c01.PUBLIC");
        assert_eq!(Secret::new("plain-password").identifier(), "(redacted)");
    }
}
