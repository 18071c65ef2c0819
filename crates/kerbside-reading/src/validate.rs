//! From `(topic, payload bytes, receive time)` to verdicts.
//!
//! The checks run in this order, and the first failure is the refusal:
//! topic → payload size → UTF-8 → limits scan (depth, strings, arrays, numbers) →
//! JSON → (per reading) device id and topic match → asset register and kind →
//! `ts` → `seq` → the kind's fields and ranges (footfall: no MAC-shaped values).
//! Duplicate `seq` is stateful and checked afterwards by [`crate::SeqTracker`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::assets::{Asset, AssetRegister};
use crate::config::ValidationConfig;
use crate::ids::{DeviceId, EventTime, Kind, Seq};
use crate::loose::{Fields, Loose, parse, req_str, req_u64};
use crate::reading::{EnrichedReading, Measurement, Reading};
use crate::refusal::{Refusal, RefusalReason, excerpt};
use crate::scan::{TopLevel, scan};
use crate::topic::Topic;
use crate::{air, bin, footfall, lorawan, traffic};

/// A device's status message (`kerbside/v1/status/{device_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    /// The device.
    pub device_id: DeviceId,
    /// `true` for `online`, `false` for `offline` (also the last will).
    pub online: bool,
    /// When kerbside received it.
    pub received_at: EventTime,
}

/// The outcome for one reading (a gateway batch yields one per element).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// A valid, enriched reading.
    Accepted(EnrichedReading),
    /// A valid status message.
    Status(StatusUpdate),
    /// Refused, with the reason.
    Refused(Refusal),
}

impl Verdict {
    /// The refusal, if refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Verdict::Refused(r) => Some(r),
            _ => None,
        }
    }
}

/// Validates messages against the configuration and the asset register.
///
/// Stateless and cheap to share: clone the `Arc`s, not the register.
#[derive(Debug, Clone)]
pub struct Validator {
    config: ValidationConfig,
    assets: Arc<AssetRegister>,
}

impl Validator {
    /// A validator over `assets`.
    pub fn new(config: ValidationConfig, assets: Arc<AssetRegister>) -> Self {
        Self { config, assets }
    }

    /// The configuration in force.
    pub fn config(&self) -> &ValidationConfig {
        &self.config
    }

    /// The asset register in use.
    pub fn assets(&self) -> &Arc<AssetRegister> {
        &self.assets
    }

    /// Validates one MQTT message received at `received_at` (the injected clock:
    /// future and age limits are judged against it). Returns one verdict per
    /// reading, or a single refusal when the message as a whole is bad.
    pub fn validate(&self, topic: &str, payload: &[u8], received_at: EventTime) -> Vec<Verdict> {
        let mut out = Vec::with_capacity(1);
        self.validate_into(topic, payload, received_at, &mut out);
        out
    }

    /// As [`Validator::validate`], appending to `out` (reuse it to avoid allocating).
    pub fn validate_into(
        &self,
        topic: &str,
        payload: &[u8],
        received_at: EventTime,
        out: &mut Vec<Verdict>,
    ) {
        if let Err(r) = self.validate_message(topic, payload, received_at, out) {
            out.push(Verdict::Refused(r));
        }
    }

    fn validate_message(
        &self,
        topic: &str,
        payload: &[u8],
        received_at: EventTime,
        out: &mut Vec<Verdict>,
    ) -> Result<(), Refusal> {
        let topic = Topic::parse(topic)?;
        let cfg = &self.config;
        if payload.len() > cfg.max_payload_bytes {
            return Err(Refusal::new(
                RefusalReason::PayloadTooLarge,
                format!(
                    "{} bytes exceeds the limit of {}",
                    payload.len(),
                    cfg.max_payload_bytes
                ),
            ));
        }
        if payload.iter().all(u8::is_ascii_whitespace) {
            return Err(Refusal::new(
                RefusalReason::EmptyPayload,
                "the payload is empty",
            ));
        }
        let text = std::str::from_utf8(payload).map_err(|e| {
            Refusal::new(
                RefusalReason::InvalidUtf8,
                format!("invalid UTF-8 at byte {}", e.valid_up_to()),
            )
        })?;
        let top = scan(text, cfg)?;
        if let Topic::Status { device_id } = topic {
            out.push(Verdict::Status(self.status(
                device_id,
                text,
                received_at,
            )?));
            return Ok(());
        }
        match topic {
            Topic::Reading { kind, device_id } => match top {
                TopLevel::Object => {
                    out.push(self.one(kind, device_id, text, None, received_at));
                }
                TopLevel::Array => {
                    let items: Vec<&RawValue> = parse(text)?;
                    if items.is_empty() {
                        return Err(Refusal::new(
                            RefusalReason::EmptyBatch,
                            "a batch must hold at least one reading",
                        ));
                    }
                    out.extend(
                        items
                            .iter()
                            .map(|item| self.one(kind, device_id, item.get(), None, received_at)),
                    );
                }
                TopLevel::Other => {
                    // Let the parser say whether it is a scalar or not JSON at all.
                    parse::<Loose<'_>>(text)?;
                    return Err(Refusal::new(
                        RefusalReason::NotAnObject,
                        "the payload must be a JSON object or an array of them",
                    ));
                }
            },
            Topic::ChirpStack { .. } | Topic::TheThingsStack { .. } => {
                if top != TopLevel::Object {
                    parse::<Loose<'_>>(text)?;
                    return Err(Refusal::new(
                        RefusalReason::NotAnObject,
                        "an uplink must be a JSON object",
                    ));
                }
                let up = lorawan::envelope(&topic, text)?;
                DeviceId::check(&up.device_id)?;
                let kind = self
                    .assets
                    .get(&up.device_id)
                    .map(|a| a.kind)
                    .ok_or_else(|| unknown_device(&up.device_id))?;
                let device_id = up.device_id.clone();
                out.push(self.one(kind, &device_id, up.object.get(), Some(up), received_at));
            }
            Topic::Status { .. } => unreachable!("handled above"),
        }
        Ok(())
    }

    /// One reading object, as a verdict.
    fn one(
        &self,
        kind: Kind,
        topic_device: &str,
        text: &str,
        uplink: Option<lorawan::Uplink<'_>>,
        received_at: EventTime,
    ) -> Verdict {
        match self.reading(kind, topic_device, text, uplink, received_at) {
            Ok(r) => Verdict::Accepted(r),
            Err(r) => Verdict::Refused(r),
        }
    }

    fn reading(
        &self,
        kind: Kind,
        topic_device: &str,
        text: &str,
        uplink: Option<lorawan::Uplink<'_>>,
        received_at: EventTime,
    ) -> Result<EnrichedReading, Refusal> {
        let text = text.trim_start();
        if !text.starts_with('{') {
            parse::<Loose<'_>>(text)?;
            return Err(Refusal::new(
                RefusalReason::NotAnObject,
                "each reading must be a JSON object",
            ));
        }
        if kind == Kind::Footfall {
            // First, so nothing later echoes a MAC address into a detail.
            footfall::refuse_macs(text)?;
        }
        let mut f: Fields<'_> = parse(text)?;
        if let Some(up) = uplink {
            if f.device_id.is_none() {
                f.device_id = Some(Loose::Str(up.device_id.into()));
            }
            if f.ts.is_none() {
                f.ts = up.ts;
            }
            if f.seq.is_none() {
                f.seq = Some(up.seq);
            }
        }
        let id = req_str("device_id", &f.device_id)?;
        DeviceId::check(id)?;
        if id != topic_device {
            return Err(Refusal::new(
                RefusalReason::DeviceMismatch,
                format!(
                    "payload device `{}` differs from the topic's `{topic_device}`",
                    excerpt(id)
                ),
            ));
        }
        let asset = self.asset(id, kind)?;
        let ts = self.timestamp(&f.ts, received_at)?;
        let seq = Seq(req_u64("seq", &f.seq, 0, u64::MAX)?);
        let data = match kind {
            Kind::Bin => Measurement::Bin(bin::decode(&f)?),
            Kind::Traffic => Measurement::Traffic(traffic::decode(&f)?),
            Kind::Air => Measurement::Air(air::decode(&f)?),
            Kind::Footfall => Measurement::Footfall(footfall::decode(&f)?),
        };
        Ok(EnrichedReading {
            reading: Reading {
                device_id: DeviceId::parse(id)?,
                ts,
                seq,
                data,
            },
            received_at,
            asset: Arc::clone(asset),
        })
    }

    fn asset(&self, id: &str, kind: Kind) -> Result<&Arc<Asset>, Refusal> {
        let asset = self.assets.get(id).ok_or_else(|| unknown_device(id))?;
        if asset.kind != kind {
            return Err(Refusal::new(
                RefusalReason::KindMismatch,
                format!(
                    "device `{id}` is registered as `{}`, not `{kind}`",
                    asset.kind
                ),
            ));
        }
        Ok(asset)
    }

    fn timestamp(&self, ts: &Option<Loose<'_>>, now: EventTime) -> Result<EventTime, Refusal> {
        let ts = match ts {
            None => return Err(Refusal::missing("ts")),
            Some(Loose::Str(s)) => EventTime::parse_rfc3339(s)?,
            Some(Loose::U64(ms)) => i64::try_from(*ms)
                .ok()
                .and_then(EventTime::from_millis)
                .ok_or_else(|| bad_epoch(*ms as f64))?,
            Some(Loose::I64(ms)) => return Err(bad_epoch(*ms as f64)),
            // Whole milliseconds written as a float (`1795338900000.0`), as for `seq`.
            Some(Loose::F64(ms)) if ms.fract() == 0.0 => {
                EventTime::from_millis(*ms as i64).ok_or_else(|| bad_epoch(*ms))?
            }
            Some(Loose::F64(ms)) => return Err(bad_epoch(*ms)),
            Some(other) => {
                return Err(Refusal::wrong_type(
                    "ts",
                    "an RFC 3339 string or epoch milliseconds",
                    other.type_name(),
                ));
            }
        };
        let cfg = &self.config;
        if ts.millis() > now.plus_secs(i64::from(cfg.max_future_secs)) {
            return Err(Refusal::new(
                RefusalReason::TimestampInFuture,
                format!(
                    "`ts` {ts} is more than {} s after the receive time {now}",
                    cfg.max_future_secs
                ),
            ));
        }
        if ts.millis() < now.plus_secs(-i64::from(cfg.max_age_secs)) {
            return Err(Refusal::new(
                RefusalReason::TimestampTooOld,
                format!(
                    "`ts` {ts} is more than {} s before the receive time {now}",
                    cfg.max_age_secs
                ),
            ));
        }
        Ok(ts)
    }

    fn status(
        &self,
        device_id: &str,
        text: &str,
        received_at: EventTime,
    ) -> Result<StatusUpdate, Refusal> {
        #[derive(Deserialize)]
        struct S<'a> {
            #[serde(borrow)]
            status: Option<Loose<'a>>,
        }
        let t = text.trim();
        let word = match t.as_bytes().first() {
            Some(b'{') => {
                let s: S<'_> = parse(t)?;
                req_str("status", &s.status)?.to_owned()
            }
            Some(b'"') => match parse::<Loose<'_>>(t)? {
                Loose::Str(w) => w.into_owned(),
                other => return Err(Refusal::wrong_type("status", "a string", other.type_name())),
            },
            _ => t.to_owned(),
        };
        let online = match word.as_str() {
            "online" => true,
            "offline" => false,
            other => {
                return Err(Refusal::new(
                    RefusalReason::BadStatus,
                    format!(
                        "status `{}` is neither `online` nor `offline`",
                        excerpt(other)
                    ),
                ));
            }
        };
        self.assets
            .get(device_id)
            .ok_or_else(|| unknown_device(device_id))?;
        Ok(StatusUpdate {
            device_id: DeviceId::parse(device_id)?,
            online,
            received_at,
        })
    }
}

fn unknown_device(id: &str) -> Refusal {
    Refusal::new(
        RefusalReason::UnknownDevice,
        format!("device `{}` is not in the asset register", excerpt(id)),
    )
}

fn bad_epoch(ms: f64) -> Refusal {
    Refusal::new(
        RefusalReason::BadTimestamp,
        format!("`ts` = {ms} is not whole epoch milliseconds between 1970 and 3000"),
    )
}
