//! Alert rules on closed windows, with hysteresis, the alert lifecycle, and delivery.
//!
//! The core is pure (no I/O, no clock): the aggregator's rows go in
//! ([`AlertEngine::evaluate`], plus [`AlertEngine::advance`] as event time closes);
//! [`AlertEvent`]s come out, for the `kerbside.alerts.v1` topic (keyed by
//! [`AlertEvent::id`]) and, through [`postable`], for Alertmanager's v2 API. Around
//! it, [`Deliverer`] sends events to Kafka, Alertmanager, a webhook and MQTT, and
//! [`AlertService`] plugs the two into `kerbside aggregate` as its window observer.
//!
//! # Rules
//!
//! | rule | rows | raise | clear | severity |
//! |---|---|---|---|---|
//! | `congestion` | `traffic_flow` | `raise_windows` windows with speed ratio < 0.5 (no speed: occupancy > 30 %) | `clear_windows` windows with speed ratio >= 0.7 (no speed: occupancy <= 20 %) | critical below 0.25 (no speed: above 50 %) |
//! | `air_quality` | `air_quality` `1h` | DAQI >= 7 | `clear_hours` hours with DAQI < 7 | critical at 10 |
//! | `bin_overflow` | `bin_fill` | `hours_to_full` <= 12 or `fill_pct` >= 95 | `fill_pct` < 30 or `hours_to_full` > 24 | critical once full |
//! | `bin_fire` / `bin_tilt` | `bin_fill` | a window with the flag set | `clear_windows` windows with it unset | critical / warning |
//! | `device_silent` | `device_health` + [`AlertEngine::advance`] | no reading for max(3 x usual interval, 30 min) | a row with readings | warning |
//! | `battery_low` | `device_health` | `battery_v` < 3.3 | `battery_v` >= 3.5 | warning |
//!
//! (Defaults shown; see [`AlertsConfig`].) Every rule is per device: the subject of
//! an alert is one `(rule, device_id)` pair, and its id is `<rule>/<device_id>`, or
//! `congestion/<link>/<device_id>` and `air_quality/<site>/<device_id>`.
//!
//! # Hysteresis
//!
//! Each window gives a verdict: *bad* (the raise condition), *good* (the clear
//! condition) or *neither*. The clear thresholds sit on the far side of the raise
//! thresholds, and between them is a band where a window is neither. Raising takes
//! consecutive bad windows and clearing consecutive good ones; a window of the other
//! kind, or a neither window (in the band, or missing the fields the rule needs),
//! breaks the streak in progress and never changes the state. So a value wandering
//! around one threshold never flaps: to raise again after a clear it has to cross
//! both thresholds. "Consecutive" counts the subject's rows: a window with no row at
//! all (the device sent nothing) neither extends nor breaks a streak; silence is the
//! `device_silent` rule's business.
//!
//! # Lifecycle
//!
//! An incident is `raised` once, `updated` whenever its severity (for air quality,
//! its DAQI band) changes, and `cleared` once; a later incident on the same subject
//! is raised again under the same id. `starts_at_ms` is the start of the first window
//! of the raising streak, `at_ms` the end of the window that caused the event, and
//! `ends_at_ms` (on `cleared`) the start of the first window of the clearing streak.
//!
//! A window can be emitted again when a late reading corrects it. Each subject keeps
//! the newest window start it evaluated and ignores rows that are not newer (counted
//! in [`AlertStats::stale`]): alerts follow the first emission of each window. After
//! a restart, [`AlertEngine::restore`] takes the events read back from the alerts
//! topic, so that active incidents are not raised again and rows fed again up to the
//! last event are stale.

mod air;
mod alertmanager;
mod bin;
mod config;
mod congestion;
mod deliver;
mod engine;
mod error;
mod event;
mod health;
mod hysteresis;
mod metrics;
mod service;
mod summary;

#[cfg(test)]
mod testkit;

pub use air::AirQualityConfig;
pub use alertmanager::{PostableAlert, postable, rfc3339_ms, superseded};
pub use bin::{BinFlagConfig, BinOverflowConfig};
pub use config::AlertsConfig;
pub use congestion::CongestionConfig;
pub use deliver::{
    Decision, Deliverer, DeliveryConfig, DeliveryError, Sink, alertmanager_decision,
    firing_ends_at_ms, mqtt_topic, post_to_alertmanager, webhook_decision,
};
pub use engine::{AlertEngine, AlertStats};
pub use error::{Error, Result};
pub use event::{AlertEvent, AlertState, Rule, Severity};
pub use health::{BatteryLowConfig, DeviceSilentConfig};
pub use metrics::AlertMetrics;
pub use service::AlertService;
