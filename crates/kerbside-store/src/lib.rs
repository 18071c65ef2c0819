//! The time-series store sink: where closed windows go.
//!
//! Rows ([`crate::Row`]) are encoded as InfluxDB line protocol ([`lp`],
//! built with the `influxdb2` crate's data points; NaN, infinity and characters line
//! protocol cannot carry are refused, never sent) and written one of three ways
//! (DESIGN §9, §11):
//!
//! - [`HttpWriter`] to the v2 write API (`/api/v2/write`: InfluxDB 2.x, 3.x, Cloud,
//!   VictoriaMetrics) or the v1 write API (`/write?db=`: InfluxDB 1.x), in batches.
//!   Network errors, timeouts, 429 and 5xx are retried with capped exponential
//!   backoff honouring `Retry-After` until the write succeeds or the caller's
//!   cancellation token fires, so a store that stays down holds the pipeline back
//!   instead of losing points. A batch refused with 400/413/422 is split in halves
//!   until the refused lines are isolated: the good points are written, the refused
//!   ones come back in the [`WriteReport`] to be dead-lettered. 401, 403 and 404 are
//!   configuration errors and fail at once.
//! - [`FileSink`] to one line-protocol file per measurement and UTC day, which
//!   `influx write` imports as it is; [`read_points`] reads them back.
//!
//! [`Store`] picks one of the two from a [`StoreConfig`]; [`Batcher`] says when a
//! batch is due by size or age; [`query::influxql`] reads InfluxQL results back as
//! [`Point`]s for the planner and the tests. The retry decision is
//! `kerbside-retry`'s; every outcome is counted in [`StoreMetrics`].
//!
//! Re-emitting a window writes a point with the same series and timestamp again;
//! InfluxDB keeps the last value, and so does [`read_points`]. That is what makes
//! re-emission, and re-sending a batch after a retry, idempotent.

pub mod batch;
pub mod config;
pub mod error;
pub mod file;
pub mod http;
pub mod lp;
pub mod metrics;
pub mod point;
pub mod query;
pub use kerbside_measure::row;
pub mod sink;

pub use batch::Batcher;
pub use config::{StoreApi, StoreConfig};
pub use error::{Result, StoreError};
pub use file::{FileSink, read_points};
pub use http::{HttpWriter, Refused, WriteReport};
pub use lp::{EncodeError, ParseError, Precision};
pub use metrics::StoreMetrics;
pub use point::{Point, Value};
pub use row::{FieldValue, Row};
pub use sink::Store;
