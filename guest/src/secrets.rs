//! Where secrets come from: `wasi:config/store` in the component, a map in tests.

use crate::error::ExportError;

pub use dtcost_contract::config_keys::{
    ACCOUNT_CLIENT_SECRET, CLUSTER_API_TOKEN, TARGET_API_TOKEN, TARGET_CLIENT_SECRET,
};

pub trait Secrets {
    /// The value of config key `key`; `Ok(None)` when it is not set.
    fn get(&self, key: &str) -> Result<Option<String>, String>;

    /// The value of `key`, or an error naming the missing key.
    fn require(&self, key: &str) -> Result<String, ExportError> {
        match self.get(key) {
            Ok(Some(value)) if !value.is_empty() => Ok(value),
            Ok(_) => Err(ExportError::MissingConfig(format!("config key `{key}` is not set"))),
            Err(error) => Err(ExportError::MissingConfig(format!("config key `{key}` could not be read: {error}"))),
        }
    }
}

impl Secrets for std::collections::HashMap<String, String> {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(std::collections::HashMap::get(self, key).cloned())
    }
}
