//! The kerbside reading contract: what a valid reading is.
//!
//! Pure, no I/O. Given an MQTT topic, the payload bytes and the time they arrived,
//! [`Validator::validate`] decodes the payload under hard limits, checks it against
//! DESIGN §3–4 and the [`AssetRegister`], and returns one [`Verdict`] per reading:
//! an [`EnrichedReading`] or a [`Refusal`] with a stable [`RefusalReason`] code.
//! [`SeqTracker`] adds the stateful duplicate/gap check, and [`DeadLetter`] is the
//! record a refused message becomes.
//!
//! ```
//! use std::sync::Arc;
//! use kerbside_reading::{AssetRegister, EventTime, ValidationConfig, Validator, Verdict};
//!
//! let assets = AssetRegister::from_csv(
//!     "device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room\n\
//!      bin-0042,bin,51.5,-0.12,Abbey,1100,general,,,,,\n",
//! ).unwrap();
//! let v = Validator::new(ValidationConfig::default(), Arc::new(assets));
//! let now = EventTime::parse_rfc3339("2026-11-22T09:15:30Z").unwrap();
//! let payload = br#"{"device_id":"bin-0042","ts":"2026-11-22T09:15:00Z","seq":1234,"fill_pct":72.5}"#;
//! let verdicts = v.validate("kerbside/v1/bin/bin-0042", payload, now);
//! assert!(matches!(verdicts[0], Verdict::Accepted(_)));
//! ```

pub mod air;
pub mod assets;
pub mod bin;
pub mod clock;
pub mod config;
pub mod deadletter;
pub mod error;
pub mod footfall;
pub mod ids;
mod loose;
mod lorawan;
pub mod mac;
pub mod reading;
pub mod refusal;
mod scan;
pub mod seq;
pub mod topic;
pub mod topics;
pub mod traffic;
pub mod validate;

#[cfg(any(test, feature = "test-helpers"))]
pub mod test_helpers;

#[cfg(test)]
mod tests;

pub use assets::{Asset, AssetAttrs, AssetRegister};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::ValidationConfig;
pub use deadletter::{DeadLetter, ReplayLine};
pub use error::{AssetError, Result};
pub use ids::{DeviceId, EventTime, Kind, Pseudonym, Seq};
pub use reading::{EnrichedReading, Measurement, Reading};
pub use refusal::{Refusal, RefusalReason, excerpt};
pub use seq::{SeqOutcome, SeqTracker};
pub use topic::Topic;
pub use validate::{StatusUpdate, Validator, Verdict};
