//! Open data from the kerbside measurements, as a council publishes it: one
//! [Frictionless Data Package](https://specs.frictionlessdata.io/data-package/)
//! (`datapackage.json` and a CSV per table) under the Open Government Licence.
//!
//! The tables: footfall per venue and room by hour and day, and per venue by month
//! in the shape of DCMS's museum visits series ([`footfall`]); each air-quality
//! site's hourly and daily means with data capture and the DAQI, labelled
//! indicative and provisional ([`air`]); vehicles per road link and hour in the shape
//! of DfT's count-point data ([`traffic`]); bins per ward, stream and day
//! ([`waste`]). No device ids in footfall, and visitor counts pass through
//! disclosure control ([`disclosure`]): small counts, and anything that would let one
//! be worked out, are withheld as `[c]`.
//!
//! Also the data-quality scorecard ([`quality`]): per device, kind and ward, how
//! complete, clean and alive the sensors were over a period, as CSV and a
//! self-contained HTML page.
//!
//! Pure: typed rows in, CSV and JSON out, through [`Publisher`] onto any
//! `std::io::Write` a day at a time (memory follows a day of the city, not the
//! period), or as a whole [`Package`] in memory. The binary reads the rows from the
//! store or line-protocol files and gives it files. The same rows give the same
//! bytes.

pub mod air;
pub mod config;
pub mod disclosure;
pub mod error;
pub mod footfall;
pub mod package;
pub mod period;
pub mod quality;
pub mod table;
pub mod traffic;
pub mod waste;

pub use config::PublishConfig;
pub use error::PublishError;
pub use package::{Inputs, Package, Published, Publisher, TableSummary, descriptor_bytes};
pub use period::Period;
pub use quality::{Quality, QualityConfig, Registered, Scorecard};
