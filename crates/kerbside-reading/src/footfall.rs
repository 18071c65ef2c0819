//! `footfall`: venue wifi sensors reporting the pseudonyms they saw in an interval.
//!
//! Only salted hashes ever enter kerbside: any value shaped like a MAC address
//! anywhere in a footfall payload refuses the whole message, and the dead-letter copy
//! has those values redacted (see [`crate::mac`]).

use serde::{Deserialize, Serialize};

use crate::ids::Pseudonym;
use crate::loose::{Fields, Loose, parse, raw_type_name, req_u64};
use crate::mac::find_mac;
use crate::refusal::{Refusal, RefusalReason, excerpt};

/// A footfall reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FootfallReading {
    /// Length of the interval, 1–86,400 s.
    pub interval_s: u32,
    /// Pseudonyms seen in the interval (may be empty: nobody was there).
    pub ids: Vec<Pseudonym>,
}

pub(crate) fn decode(f: &Fields<'_>) -> Result<FootfallReading, Refusal> {
    let interval_s = req_u64("interval_s", &f.interval_s, 1, 86_400)? as u32;
    let raw = f.ids.ok_or_else(|| Refusal::missing("ids"))?;
    if !raw.get().starts_with('[') {
        return Err(Refusal::wrong_type("ids", "an array", raw_type_name(raw)));
    }
    let items: Vec<Loose<'_>> = parse(raw.get())?;
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Loose::Str(s) = item else {
            return Err(Refusal::wrong_type(
                &format!("ids[{i}]"),
                "a string",
                item.type_name(),
            ));
        };
        let p = Pseudonym::parse(s).ok_or_else(|| {
            Refusal::new(
                RefusalReason::BadPseudonym,
                format!(
                    "`ids[{i}]` = `{}` is not 16 lowercase hex characters",
                    excerpt(s)
                ),
            )
        })?;
        ids.push(p);
    }
    Ok(FootfallReading { interval_s, ids })
}

/// Refuses `text` if it holds a MAC-address-shaped value in any spelling (see
/// [`crate::mac`]). The detail says where, never what.
pub(crate) fn refuse_macs(text: &str) -> Result<(), Refusal> {
    match find_mac(text) {
        Some((at, _)) => Err(Refusal::new(
            RefusalReason::RawMacAddress,
            format!(
                "a MAC-address-shaped value at byte {at}; footfall data must carry only salted hashes"
            ),
        )),
        None => Ok(()),
    }
}
