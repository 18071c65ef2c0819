//! LoRaWAN network-server uplinks: ChirpStack v4 and The Things Stack v3 JSON.
//!
//! Most council bin sensors arrive this way. The network server's payload codec must
//! decode the frame into kerbside's field names (`fill_pct`, `battery_v`, ...); the
//! envelope supplies what the decoded object leaves out:
//!
//! | kerbside | ChirpStack v4 | The Things Stack v3 |
//! |---|---|---|
//! | `device_id` | `deviceInfo.deviceName` | `end_device_ids.device_id` (equals the topic's) |
//! | `ts` | `object.ts`, else `time` | `decoded_payload.ts`, else `uplink_message.received_at`, else `received_at` |
//! | `seq` | `object.seq`, else `fCnt` (absent means 0) | `decoded_payload.seq`, else `uplink_message.f_cnt` (absent means 0) |
//! | fields | `object` | `uplink_message.decoded_payload` |
//!
//! The kind comes from the asset register. A ChirpStack topic's device EUI must equal
//! `deviceInfo.devEui`.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::loose::{Loose, parse, parse_object, req_str};
use crate::refusal::{Refusal, RefusalReason, excerpt};
use crate::topic::Topic;

/// What an uplink envelope contributes to a reading.
#[derive(Debug)]
pub(crate) struct Uplink<'a> {
    pub(crate) device_id: String,
    pub(crate) ts: Option<Loose<'a>>,
    pub(crate) seq: Loose<'a>,
    pub(crate) object: &'a RawValue,
}

#[derive(Deserialize)]
struct ChirpStackUp<'a> {
    #[serde(rename = "deviceInfo", borrow)]
    device_info: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<Loose<'a>>,
    #[serde(rename = "fCnt", borrow)]
    f_cnt: Option<Loose<'a>>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ChirpStackDevice<'a> {
    #[serde(rename = "deviceName", borrow)]
    device_name: Option<Loose<'a>>,
    #[serde(rename = "devEui", borrow)]
    dev_eui: Option<Loose<'a>>,
}

#[derive(Deserialize)]
struct TtsUp<'a> {
    #[serde(borrow)]
    end_device_ids: Option<&'a RawValue>,
    #[serde(borrow)]
    received_at: Option<Loose<'a>>,
    #[serde(borrow)]
    uplink_message: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct TtsIds<'a> {
    #[serde(borrow)]
    device_id: Option<Loose<'a>>,
}

#[derive(Deserialize)]
struct TtsMessage<'a> {
    #[serde(borrow)]
    f_cnt: Option<Loose<'a>>,
    #[serde(borrow)]
    decoded_payload: Option<&'a RawValue>,
    #[serde(borrow)]
    received_at: Option<Loose<'a>>,
}

/// Reads the envelope of an uplink on `topic`.
pub(crate) fn envelope<'a>(topic: &Topic<'_>, text: &'a str) -> Result<Uplink<'a>, Refusal> {
    match *topic {
        Topic::ChirpStack { dev_eui, .. } => {
            let up: ChirpStackUp<'a> = parse(text)?;
            let info: ChirpStackDevice<'a> = parse_object(
                "deviceInfo",
                up.device_info
                    .ok_or_else(|| Refusal::missing("deviceInfo"))?,
            )?;
            let eui = req_str("deviceInfo.devEui", &info.dev_eui)?;
            if !eui.eq_ignore_ascii_case(dev_eui) {
                return Err(Refusal::new(
                    RefusalReason::DeviceMismatch,
                    format!(
                        "`deviceInfo.devEui` `{}` differs from the topic's `{dev_eui}`",
                        excerpt(eui)
                    ),
                ));
            }
            let device_id = req_str("deviceInfo.deviceName", &info.device_name)?.to_owned();
            Ok(Uplink {
                device_id,
                ts: up.time,
                seq: up.f_cnt.unwrap_or(Loose::U64(0)),
                object: decoded(up.object, "object")?,
            })
        }
        Topic::TheThingsStack {
            device_id: topic_id,
            ..
        } => {
            let up: TtsUp<'a> = parse(text)?;
            let ids: TtsIds<'a> = parse_object(
                "end_device_ids",
                up.end_device_ids
                    .ok_or_else(|| Refusal::missing("end_device_ids"))?,
            )?;
            let device_id = req_str("end_device_ids.device_id", &ids.device_id)?.to_owned();
            if device_id != topic_id {
                return Err(Refusal::new(
                    RefusalReason::DeviceMismatch,
                    format!(
                        "`end_device_ids.device_id` `{}` differs from the topic's `{topic_id}`",
                        excerpt(&device_id)
                    ),
                ));
            }
            let msg: TtsMessage<'a> = parse_object(
                "uplink_message",
                up.uplink_message
                    .ok_or_else(|| Refusal::missing("uplink_message"))?,
            )?;
            Ok(Uplink {
                device_id,
                ts: msg.received_at.or(up.received_at),
                seq: msg.f_cnt.unwrap_or(Loose::U64(0)),
                object: decoded(msg.decoded_payload, "uplink_message.decoded_payload")?,
            })
        }
        Topic::Reading { .. } | Topic::Status { .. } => {
            unreachable!("envelope is only called for LoRaWAN topics")
        }
    }
}

fn decoded<'a>(raw: Option<&'a RawValue>, field: &str) -> Result<&'a RawValue, Refusal> {
    match raw {
        Some(r) if r.get().starts_with('{') => Ok(r),
        Some(r) => Err(Refusal::wrong_type(
            field,
            "an object",
            crate::loose::raw_type_name(r),
        )),
        None => Err(Refusal::new(
            RefusalReason::UndecodedUplink,
            format!("`{field}` is absent: configure the network server's payload codec"),
        )),
    }
}
