//! A faithful fake of the Dynatrace APIs dtcost talks to, on loopback only: the SSO token
//! endpoint, the DPS endpoints of the Account Management API, a Managed cluster's
//! `clusterLicense`, and the bizevents ingest API. Contracts follow
//! `shared/reference/dynatrace-api.md`: paths, auth schemes, 300 s tokens that really expire,
//! error bodies per service, the 5 MB ingest cap and 400 partial success, the paged v3
//! per-environment cost (reconciling with `/cost`) and the account forecast. Where reality is
//! known to differ from the published specs (`shared/reference/openapi/README.md`), the
//! simulator behaves as reality does; every body it serves is validated against the published
//! schemas by `tests/contract.rs`.

pub mod data;
pub mod server;

pub use data::{
    Account, CAPABILITIES, CapabilityShare, Cluster, Environment, Generate, IngestAuth, Licensing, Scenario,
    Unattributed, yesterday,
};
pub use server::{
    DEFAULT_PAGE_SIZE, EndMarker, Fault, FaultRule, LoggedRequest, MAX_PAGE_SIZE, Service, Simulator, end_marker,
};
