//! Where secrets and `DT_*` defaults come from: the process environment, or a map in tests.

use std::collections::HashMap;

/// Reads secrets and defaults: the process environment in production, a map in tests.
pub trait Environment {
    /// The variable's value when it is set (empty included: the validator says so).
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        // A value that is not UTF-8 is kept, damaged: it then fails validation by name.
        std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
    }
}

impl Environment for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}
