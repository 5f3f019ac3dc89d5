//! The two ways the logic fails, typed: a field that is not what the contract says
//! ([`InvalidRecord`], of an API response or of a record handed to a transform) and a job that
//! could not run ([`ExportError`]). `component.rs` turns them into the WIT's `invalid-record` and
//! `export-error`, once; their text here is what reports and notes show.

use crate::wit::{self, AuthenticationFailure, RequestFailure};

/// A field that is not what the contract says: which one (`data[3].value`, `cost[2].startTime`)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidRecord {
    pub field: String,
    pub message: String,
}

impl InvalidRecord {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Why a job could not run at all (nothing was sent).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExportError {
    #[error("missing config: {0}")]
    MissingConfig(String),
    #[error("{} answered HTTP {}: {}", .0.request, .0.status, .0.message)]
    Authentication(AuthenticationFailure),
    #[error("no subscription: {0}")]
    NoSubscription(String),
    #[error("{} failed{}: {}", .0.request, .0.status.map(|s| format!(" with HTTP {s}")).unwrap_or_default(), .0.message)]
    Request(RequestFailure),
    #[error("invalid response: {0}")]
    InvalidResponse(String),
}

impl From<InvalidRecord> for wit::InvalidRecord {
    fn from(error: InvalidRecord) -> Self {
        Self { field: error.field, message: error.message }
    }
}

impl From<ExportError> for wit::ExportError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::MissingConfig(key) => Self::MissingConfig(key),
            ExportError::Authentication(failure) => Self::Authentication(failure),
            ExportError::NoSubscription(why) => Self::NoSubscription(why),
            ExportError::Request(failure) => Self::Request(failure),
            ExportError::InvalidResponse(why) => Self::InvalidResponse(why),
        }
    }
}
