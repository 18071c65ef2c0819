//! The kerbside binary's library half: the command line, the composed
//! configuration, logging, and the wiring of the pipeline's crates into commands.
//! `main.rs` is a shim over [`cli::main`]. This is the only crate that uses anyhow.

pub mod aggregate;
pub mod broker;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod ingest;
pub mod offline;
pub mod publish;
pub mod replay;
pub mod routes;
pub mod serve;
pub mod telemetry;
