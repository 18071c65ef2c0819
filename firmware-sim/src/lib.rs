//! `kerbside_sim`: a seeded, realistic simulated fleet of council sensors.
//!
//! A [`Scenario`] (TOML) and a seed build a [`Fleet`]: smart bins, traffic counters
//! on a generated road-link graph, air-quality nodes and venue wifi footfall
//! sensors, with the asset register the pipeline loads. A [`Generator`] turns the
//! fleet into [`SimMessage`]s in simulated send-time order — pure and
//! deterministic, with no I/O and no clock: the same seed gives byte-identical
//! output. Faults are injected at configured rates, each recording the refusal the
//! pipeline owes it ([`FaultKind::expected_refusal`]), and [`GroundTruth`] says
//! what happened. The I/O shells write a replay file ([`replay`]) or publish over
//! MQTT ([`mqtt`]), paced by [`Speed`].
//!
//! ```
//! use std::sync::Arc;
//! use kerbside_sim::{Fleet, Generator, Scenario};
//!
//! let scenario = Scenario::from_toml(
//!     "duration_mins = 60\n[bins]\ncount = 3\n[traffic]\ncount = 2\n",
//!     "<doc>",
//! ).unwrap();
//! let fleet = Arc::new(Fleet::build(scenario, 42).unwrap());
//! let messages: Vec<_> = Generator::new(fleet, &[]).unwrap().collect();
//! assert!(messages.windows(2).all(|w| w[0].at <= w[1].at));
//! ```

mod air;
mod bin;
mod encode;
pub mod error;
pub mod faults;
pub mod fleet;
mod footfall;
pub mod generate;
pub mod mqtt;
pub mod pace;
pub mod replay;
mod rng;
pub mod roads;
pub mod rounds;
pub mod scenario;
mod traffic;
pub mod truth;

pub use error::{Result, SimError};
pub use faults::{FaultKind, FaultRates};
pub use fleet::{Device, Fleet, REGISTER_HEADER, Uplink};
pub use generate::{Generator, SimMessage};
pub use pace::Speed;
pub use rounds::{RoundStop, parse_rounds};
pub use scenario::Scenario;
pub use traffic::demand as traffic_demand;
pub use truth::{GroundTruth, Summary};
