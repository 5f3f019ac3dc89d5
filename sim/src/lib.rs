//! A faithful fake of the Dynatrace APIs dtcost talks to, on loopback only: the SSO token
//! endpoint, the DPS endpoints of the Account Management API, a Managed cluster's
//! `clusterLicense`, and the bizevents ingest API. Contracts follow
//! `shared/reference/dynatrace-api.md`: paths, auth schemes, 300 s tokens that really expire,
//! error bodies per service, the 5 MB ingest cap and 400 partial success, the paged v3
//! per-environment cost (reconciling with `/cost`) and the account forecast. Where reality is
//! known to differ from the published specs (`shared/reference/openapi/README.md`), the
//! simulator behaves as reality does; every body it serves is validated against the published
//! schemas by `tests/contract.rs`. The files, in the order data flows through them, are listed
//! in `sim/README.md`.

mod account_api;
mod attribution;
mod auth;
mod cluster;
pub mod data;
mod environment_views;
mod environments;
mod errors;
mod faults;
mod generate;
mod ingest;
mod inject;
mod listener;
mod pricing;
mod random;
mod rate_cards;
pub mod server;
mod service;
mod sso;
mod state;
mod usage;
mod walk;

pub use data::{
    ACCOUNT_SCOPES, Account, CAPABILITIES, CapabilityShare, Cluster, CostChange, Environment, IngestAuth, Licensing,
    Scenario, Unattributed,
};
pub use generate::{Generate, yesterday};
pub use pricing::{UNIT_PRICES, UnitPrice, unit_price};
pub use server::{
    DEFAULT_PAGE_SIZE, EndMarker, Fault, FaultRule, LoggedRequest, MAX_PAGE_SIZE, Service, Simulator, end_marker,
};
