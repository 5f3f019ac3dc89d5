//! Test support for the jobs (compiled for tests only): the fake API, the fixtures, and the job
//! tests that run against them, one file per concept.

pub mod fake_api;
pub mod fixtures;

mod account_job;
mod cluster_job;
mod delivery;
mod environment_names;
mod environment_walk;
mod ingest;
mod retries;
mod tokens;
mod usage;
