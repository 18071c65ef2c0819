//! MQTT topics kerbside reads.
//!
//! | topic | meaning |
//! |---|---|
//! | `kerbside/v1/{kind}/{device_id}` | a reading (or a gateway batch of them) |
//! | `kerbside/v1/status/{device_id}` | device status, retained, last will `offline` |
//! | `application/{application_id}/device/{dev_eui}/event/up` | ChirpStack v4 uplink |
//! | `v3/{application_id}[@{tenant_id}]/devices/{device_id}/up` | The Things Stack v3 uplink |

use crate::ids::{DeviceId, Kind};
use crate::refusal::{Refusal, RefusalReason, excerpt};

/// The kerbside topic prefix.
pub const PREFIX: &str = "kerbside/v1/";

/// Longest topic accepted (MQTT allows 65,535 bytes; nothing of ours is near this).
pub const MAX_TOPIC_BYTES: usize = 512;

/// A parsed topic, borrowing from the topic string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// `kerbside/v1/{kind}/{device_id}`.
    Reading {
        /// The sensor kind.
        kind: Kind,
        /// The device id (already checked against the pattern).
        device_id: &'a str,
    },
    /// `kerbside/v1/status/{device_id}`.
    Status {
        /// The device id (already checked against the pattern).
        device_id: &'a str,
    },
    /// A ChirpStack v4 uplink event.
    ChirpStack {
        /// ChirpStack application id (a UUID).
        application_id: &'a str,
        /// The device EUI, 16 hex characters.
        dev_eui: &'a str,
    },
    /// A The Things Stack v3 uplink.
    TheThingsStack {
        /// TTS application id.
        application_id: &'a str,
        /// TTS end-device id (also kerbside's device id).
        device_id: &'a str,
    },
}

impl<'a> Topic<'a> {
    /// Parses a topic, refusing anything kerbside does not read.
    pub fn parse(topic: &'a str) -> Result<Self, Refusal> {
        let bad = |why: &str| {
            Refusal::new(
                RefusalReason::BadTopic,
                format!("topic `{}` {why}", excerpt(topic)),
            )
        };
        if topic.len() > MAX_TOPIC_BYTES {
            return Err(bad("is longer than 512 bytes"));
        }
        if topic
            .bytes()
            .any(|b| matches!(b, b'+' | b'#' | 0) || b.is_ascii_control())
        {
            return Err(bad("holds a wildcard or control character"));
        }
        let levels: Vec<&str> = topic.split('/').collect();
        if levels.iter().any(|l| l.is_empty()) {
            return Err(bad("has an empty level"));
        }
        match levels.as_slice() {
            ["kerbside", "v1", "status", id] => {
                DeviceId::check(id)?;
                Ok(Topic::Status { device_id: id })
            }
            ["kerbside", "v1", kind, id] => {
                let kind: Kind = kind.parse()?;
                DeviceId::check(id)?;
                Ok(Topic::Reading {
                    kind,
                    device_id: id,
                })
            }
            ["application", app, "device", eui, "event", "up"] => {
                if eui.len() != 16 || !eui.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad("has a device EUI that is not 16 hex characters"));
                }
                Ok(Topic::ChirpStack {
                    application_id: app,
                    dev_eui: eui,
                })
            }
            ["v3", app, "devices", id, "up"] => {
                let application_id = app.split('@').next().unwrap_or(app);
                DeviceId::check(id)?;
                Ok(Topic::TheThingsStack {
                    application_id,
                    device_id: id,
                })
            }
            _ => Err(bad(
                "is not kerbside/v1/{kind}/{device_id}, kerbside/v1/status/{device_id}, \
                 a ChirpStack v4 uplink or a The Things Stack v3 uplink",
            )),
        }
    }

    /// The device id the topic names, when it names one directly.
    pub fn device_id(&self) -> Option<&'a str> {
        match *self {
            Topic::Reading { device_id, .. }
            | Topic::Status { device_id }
            | Topic::TheThingsStack { device_id, .. } => Some(device_id),
            Topic::ChirpStack { .. } => None,
        }
    }
}

/// The topic a device of `kind` publishes its readings on.
pub fn reading_topic(kind: Kind, device_id: &DeviceId) -> String {
    format!("{PREFIX}{kind}/{device_id}")
}

/// The topic a device publishes its status on.
pub fn status_topic(device_id: &DeviceId) -> String {
    format!("{PREFIX}status/{device_id}")
}
