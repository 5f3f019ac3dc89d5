//! One job of a run (an account, a cluster, the subscriptions' statuses, the run summary) and
//! what became of it: its report, or why it has none, with a hint of what to do about it.

use crate::runtime::Ran;
use crate::traffic::Traffic;
use crate::wit::{ExportError, FailureKind, Report};

/// What a job exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Account,
    Cluster,
    /// The subscriptions' status events and budget alerts, one sender per subscription.
    Status,
    /// The run's `dtcost.run.summary` event.
    Summary,
}

/// What became of one account or cluster (or the run summary event).
#[derive(Debug)]
pub struct JobOutcome {
    /// `account <name>`, `cluster <name>` or `run summary`.
    pub subject: String,
    pub kind: JobKind,
    pub result: Result<Report, String>,
    /// The delivery state could not be written (the next run sends these days again).
    pub state_error: Option<String>,
    /// What its instance sent, as the host saw it: the figures of a job without a report.
    pub traffic: Traffic,
}

impl JobOutcome {
    /// A job succeeded when it ran and every event it built was accepted (or, on a dry run, built).
    pub fn succeeded(&self) -> bool {
        self.state_error.is_none()
            && matches!(&self.result, Ok(report) if report.failures.is_empty() && report.rejected.is_empty())
    }
}

impl JobOutcome {
    /// The outcome of an export job that ran in an instance (or was stopped there).
    pub fn of_export(subject: String, kind: JobKind, ran: Ran<Result<Report, ExportError>>) -> JobOutcome {
        let result = match ran.result {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(error)) => Err(describe_export_error(&error)),
            Err(error) => Err(error.to_string()),
        };
        JobOutcome { subject, kind, result, state_error: None, traffic: ran.traffic }
    }
}

/// An export error on one line, and on the next the hint of what to do about it (if any).
pub fn describe_export_error(error: &ExportError) -> String {
    let message = describe(error);
    match hint(error) {
        Some(hint) => format!("{message}\n       hint: {hint}"),
        None => message,
    }
}

fn describe(error: &ExportError) -> String {
    match error {
        ExportError::MissingConfig(message) => format!("configuration: {message}"),
        ExportError::Authentication(failure) => {
            format!("authentication failed: {} answered HTTP {}: {}", failure.request, failure.status, failure.message)
        }
        ExportError::NoSubscription(message) => message.clone(),
        ExportError::Request(failure) => match failure.status {
            Some(status) => format!("{} answered HTTP {status}: {}", failure.request, failure.message),
            None => format!("{} failed: {}", failure.request, failure.message),
        },
        ExportError::InvalidResponse(message) => format!("invalid response: {message}"),
    }
}

/// What the user can do about an error. It follows the kind of the failure (the OAuth error
/// code, the request's failure kind and which API it was), never the wording of a message.
fn hint(error: &ExportError) -> Option<&'static str> {
    match error {
        ExportError::Authentication(failure) => match failure.oauth_error.as_deref() {
            Some("invalid_client" | "unauthorized_client") => {
                Some("check the client-id and the secret that client-secret-env or client-secret-file names")
            }
            Some("invalid_request" | "invalid_scope") => Some(
                "give the OAuth client the scope the SSO names (account-uac-read for accounts, storage:events:write \
                 for an OAuth target: Account Management > Identity & access management > OAuth clients), and check \
                 that accounts[].uuid is the account the client belongs to",
            ),
            Some(_) => None,
            None => Some(
                "token-url must be the SSO token endpoint (https://sso.dynatrace.com/sso/oauth2/token): \
                 what answered is not an OAuth server",
            ),
        },
        ExportError::Request(failure) => match failure.kind {
            FailureKind::Unauthorized if failure.request.contains("/sub/") => Some(
                "the account API refused freshly issued tokens: check that accounts[].uuid is the account the OAuth \
                 client belongs to",
            ),
            FailureKind::Unauthorized if failure.request.contains("/clusterLicense") => Some(
                "the cluster refused its token: use a cluster API token (Cluster Management Console > Settings > API \
                 tokens) with ServiceProviderAPI",
            ),
            FailureKind::Unauthorized => Some("the API refused the token: check the token or client it was given"),
            FailureKind::TokenExpired => Some(
                "a token expired while the request was being retried and the retry budget left no time for a new \
                 one: raise retry.max-elapsed-seconds, or check the machine's clock",
            ),
            FailureKind::Denied => {
                Some("the component asked for a host the configuration does not name; check the URLs in the config")
            }
            FailureKind::Tls => Some("the server's TLS certificate is not trusted: check the URL (and any proxy)"),
            FailureKind::Dns => Some("the host name does not resolve: check the URL"),
            FailureKind::Throttled => {
                Some("the API kept answering 429 (throttled): lower concurrency or raise retry.max-elapsed-seconds")
            }
            _ => None,
        },
        _ => None,
    }
}
