//! dtcost's host: configuration, the wasmtime runtime that sandboxes the component, the run
//! orchestration and the demo. The `dtcost` binary (main.rs) is the command line over these.

pub mod concurrency;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod exit;
pub mod figures;
pub mod file;
pub mod job;
pub mod outbound;
pub mod plan;
pub mod progress;
pub mod render;
pub mod report;
pub mod run;
pub mod runtime;
pub mod sandbox;
pub mod scrub;
pub mod secret;
pub mod state;
pub mod status;
pub mod traffic;
pub mod wit;
