//! dtcost's component: reads Dynatrace subscription cost and cluster license usage and ingests
//! them as business events. Everything here but `component` is plain Rust, tested natively;
//! `component` is the thin wasm boundary (wit-bindgen exports, wasi:http transport, wasi:config).

pub mod account_job;
pub mod account_reads;
pub mod anomaly;
pub mod anomaly_events;
pub mod budget;
pub mod cluster_job;
pub mod cost_days;
pub mod defaults;
pub mod delivery;
pub mod environment;
pub mod environment_names;
pub mod environment_walk;
pub mod error;
pub mod events;
pub mod forecast;
pub mod http;
pub mod ingest;
pub mod job;
pub mod parse;
pub mod rate_card;
pub mod secrets;
pub mod sso;
pub mod standalone;
pub mod statistics;
pub mod time;
pub mod untrusted;
pub mod usage;
pub mod usage_reads;
pub mod wit;

#[cfg(target_family = "wasm")]
mod component;
#[cfg(test)]
mod testing;
