//! dtcost's host: configuration, the wasmtime runtime that sandboxes the component, the run
//! orchestration and the demo. The `dtcost` binary (main.rs) is the command line over these.

pub mod concurrency;
pub mod config;
pub mod demo;
pub mod outbound;
pub mod report;
pub mod run;
pub mod runtime;
pub mod scrub;
pub mod secret;
pub mod state;
pub mod status;
