//! Which fake service answered: the SSO, the account API, the environment (ingest) or a Managed
//! cluster, each on its own loopback port.

/// Which fake service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Sso,
    AccountApi,
    Environment,
    Cluster(usize),
}
