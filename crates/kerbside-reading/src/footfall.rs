//! `footfall`: venue wifi sensors reporting the pseudonyms they saw in an interval.
//!
//! Only salted hashes ever enter kerbside: any value shaped like a MAC address
//! anywhere in a footfall payload refuses the whole message, and the dead-letter copy
//! has those values redacted (see [`redact_macs`]).

use serde::{Deserialize, Serialize};

use crate::ids::Pseudonym;
use crate::loose::{Fields, Loose, parse, raw_type_name, req_u64};
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

/// Where in `text` a MAC-address-shaped value starts and how long it is.
///
/// Shapes: six hex pairs joined by `:` or `-` (`aa:bb:cc:dd:ee:ff`), three hex
/// quads joined by `.` (`aabb.ccdd.eeff`), or a JSON string that is exactly twelve
/// hex digits. A match must not be part of a longer run of hex digits.
pub fn find_mac(text: &str) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    let boundary = |i: Option<usize>| i.is_none_or(|i| !hex(i) && b.get(i) != Some(&b':'));
    let mut i = 0;
    while i < b.len() {
        if hex(i) && (i == 0 || !hex(i - 1)) {
            // Pairs joined by a consistent separator.
            if let Some(&sep) = b.get(i + 2).filter(|s| matches!(s, b':' | b'-')) {
                let ok = (0..6).all(|k| hex(i + 3 * k) && hex(i + 3 * k + 1))
                    && (0..5).all(|k| b.get(i + 3 * k + 2) == Some(&sep));
                if ok && boundary(Some(i + 17)) {
                    return Some((i, 17));
                }
            }
            // Cisco-style quads.
            if b.get(i + 4) == Some(&b'.') {
                let ok = (0..3).all(|k| (0..4).all(|j| hex(i + 5 * k + j)))
                    && b.get(i + 9) == Some(&b'.');
                if ok && boundary(Some(i + 14)) {
                    return Some((i, 14));
                }
            }
            // A whole string of exactly twelve hex digits.
            if i > 0
                && b[i - 1] == b'"'
                && (0..12).all(|k| hex(i + k))
                && b.get(i + 12) == Some(&b'"')
            {
                return Some((i, 12));
            }
        }
        i += 1;
    }
    None
}

/// `text` with every MAC-address-shaped value replaced by `<redacted-mac>`.
pub fn redact_macs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((at, len)) = find_mac(rest) {
        out.push_str(&rest[..at]);
        out.push_str("<redacted-mac>");
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out
}

/// Refuses `text` if it holds a MAC-address-shaped value, written plainly or hidden
/// behind JSON `\u` escapes. The detail says where, never what.
pub(crate) fn refuse_macs(text: &str) -> Result<(), Refusal> {
    let found = |at: usize| {
        Refusal::new(
            RefusalReason::RawMacAddress,
            format!(
                "a MAC-address-shaped value at byte {at}; footfall data must carry only salted hashes"
            ),
        )
    };
    if let Some((at, _)) = find_mac(text) {
        return Err(found(at));
    }
    if text.contains('\\') {
        // Escapes can spell a MAC that the raw scan cannot see: look at decoded strings.
        let hidden = unescaped_strings(text)
            .into_iter()
            .find_map(|(at, s)| find_mac(&format!("\"{s}\"")).map(|_| at));
        if let Some(at) = hidden {
            return Err(found(at));
        }
    }
    Ok(())
}

/// Every JSON string (keys included) that contains an escape, decoded, with its byte
/// offset. Strings that do not decode are skipped: the parser refuses them later.
fn unescaped_strings(text: &str) -> Vec<(usize, String)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let start = i;
            i += 1;
            let mut escaped = false;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    escaped = true;
                    i += 1;
                }
                i += 1;
            }
            let literal = text.get(start..=i.min(b.len() - 1));
            if let (true, Some(lit)) = (escaped, literal)
                && let Ok(s) = serde_json::from_str::<String>(lit)
            {
                out.push((start, s));
            }
        }
        i += 1;
    }
    out
}
