//! Readings into the five kerbside measurements of DESIGN §6: `traffic_flow`,
//! `air_quality` (with the UK DAQI), `bin_fill`, `footfall` (with a mergeable
//! distinct-count sketch) and `device_health`.
//!
//! This is the pure core of `kerbside aggregate`: no I/O, no clock, no Kafka, no
//! async runtime. Each measurement has an accumulator (`Default + Clone`, usable as
//! the state `A` of `kerbside_window::Windows<K, A>`) that folds readings in and, when
//! its window closes, turns into a [`Row`]: the measurement name, a few
//! low-cardinality tags and the fields. Values that are not finite are never written:
//! a field that would be NaN or infinite is left out. Where a field needs more than
//! one window's data (running air-quality means, a bin's fill rate) a small bounded
//! per-device history sits beside the windows ([`air::AirHistory`],
//! [`bin::BinHistory`]) and is passed in when the row is made. The [`Engine`] runs
//! every measurement's windows; [`record`] decides what each record read comes to.

pub mod air;
pub mod bin;
pub mod daqi;
pub mod engine;
pub mod footfall;
pub mod health;
pub mod identity;
pub mod measurements;
pub mod record;
pub mod row;
pub mod rows;
mod seen;
pub mod sketch;
pub mod traffic;

#[cfg(test)]
mod testkit;

pub use engine::{Admission, Engine, EngineConfig, EngineStats, Source};
pub use measurements::{FieldValue, Row};
pub use record::{Applied, Decision, Outcome, RecordRef, reading_decision};
pub use rows::{
    AirQualityRow, BinFillRow, DeviceHealthRow, Fields, FootfallRow, TagValue, TrafficFlowRow,
};
pub use traffic::CongestionRule;
