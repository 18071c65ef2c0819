//! The simulator's tests, one binary: determinism, faults against the real
//! validator, behaviour of each kind, and an MQTT smoke test against Mosquitto.

mod behaviour;
mod cli;
mod common;
mod determinism;
mod faults;
mod mqtt;
