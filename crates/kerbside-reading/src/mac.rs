//! MAC addresses in any spelling: found in what a JSON text means, not in how it is
//! written, so refusal and redaction cannot be dodged with escapes.
//!
//! The text is first read as units: one per character, with every JSON escape
//! (`\u003a`, a surrogate pair, `\/`, ...) decoded to the character it stands for, and
//! each unit remembering the raw bytes it came from and whether it sits inside a string.
//! Shapes are matched on the units, and a match is redacted over the raw bytes it spans,
//! so an address split across escapes (`a4\u003a5e:6\u0030:…`) is found and removed
//! whole, and nothing else in the text changes.
//!
//! Shapes, in upper, lower or mixed case:
//! - six hex pairs joined by one separator, `:` or `-` (`a4:5e:60:e2:11:9b`);
//! - three hex quads joined by `.` (Cisco, `a45e.60e2.119b`);
//! - twelve bare hex digits not touching a letter, a digit or a separator
//!   (`"a45e60e2119b"`, `mac=A45E60E2119B`), and not at the very end of a text that
//!   was cut short (`…,"05c6cb4b05df` is the start of a pseudonym). Outside a string (only in text that is not
//!   valid JSON) such a run counts only if it holds a hex letter other than `e`, so a
//!   12-digit number or one with an exponent is not an address.
//!
//! A pseudonym (16 hex digits), a UUID's last group (after a `-`), an EUI-64 and a
//! timestamp are not MAC-shaped.

use std::borrow::Cow;

/// What a redacted address is replaced with.
pub const REDACTED: &str = "<redacted-mac>";

/// Bit set on a unit that sits inside a JSON string.
const IN_STRING: u8 = 0x80;
/// A unit that decodes to something other than ASCII.
const OTHER: u8 = 0x7f;

/// A text read as units (see the module docs).
struct Units<'a> {
    /// One byte per unit. Decoded (the text has escapes): the ASCII character (or
    /// [`OTHER`]) | [`IN_STRING`]. Otherwise the text's own bytes, one unit each,
    /// borrowed: most texts have no escape, and copying them cost as much as the scan.
    units: Cow<'a, [u8]>,
    /// Where unit `i` starts in the raw text; one more entry for the end. Empty when
    /// the text has no escapes, so that unit `i` is raw byte `i`.
    starts: Vec<usize>,
}

impl<'a> Units<'a> {
    fn read(text: &'a str) -> Self {
        let b = text.as_bytes();
        if !b.contains(&b'\\') {
            return Self {
                units: Cow::Borrowed(b),
                starts: Vec::new(),
            };
        }
        let mut units = Vec::with_capacity(b.len());
        let mut starts = Vec::with_capacity(b.len() + 1);
        let mut in_str = false;
        let mut i = 0;
        while i < b.len() {
            let (c, len) = match b[i] {
                b'"' => {
                    in_str = !in_str;
                    (b'"', 1)
                }
                b'\\' => unescape(&b[i..]),
                c if c.is_ascii() => (c, 1),
                _ => {
                    let len = text[i..].chars().next().map_or(1, char::len_utf8);
                    (OTHER, len)
                }
            };
            // A `"` decoded from `\"` or `\u0022` does not end the string.
            let c = if c == b'"' && len > 1 { b'\'' } else { c };
            units.push(if in_str && c != b'"' {
                c | IN_STRING
            } else {
                c
            });
            starts.push(i);
            i += len;
        }
        starts.push(b.len());
        Self {
            units: Cow::Owned(units),
            starts,
        }
    }

    fn decoded(&self) -> bool {
        !self.starts.is_empty()
    }

    fn raw(&self, unit: usize) -> usize {
        if self.decoded() {
            self.starts[unit]
        } else {
            unit
        }
    }

    fn ch(&self, i: usize) -> Option<u8> {
        let u = *self.units.get(i)?;
        Some(if self.decoded() {
            u & !IN_STRING
        } else if u.is_ascii() {
            u
        } else {
            OTHER
        })
    }

    /// Whether unit `i` sits inside a JSON string. Without escapes, every `"` opens or
    /// closes one: counted only here, for the rare bare run that needs it.
    fn in_string(&self, i: usize) -> bool {
        if self.decoded() {
            self.units[i] & IN_STRING != 0
        } else {
            self.units[..i].iter().filter(|&&b| b == b'"').count() % 2 == 1
        }
    }

    fn hex(&self, i: usize) -> bool {
        self.ch(i).is_some_and(|c| c.is_ascii_hexdigit())
    }

    /// Whether unit `i` may border a bare run: neither alphanumeric nor a MAC
    /// separator. Before the text's start counts as a border; after its end does not,
    /// since a text cut short may have cut a longer run (a pseudonym) to twelve digits.
    fn bare_border(&self, i: Option<usize>) -> bool {
        match i {
            None => true,
            Some(i) => self
                .ch(i)
                .is_some_and(|c| !(c.is_ascii_alphanumeric() || matches!(c, b':' | b'-' | b'.'))),
        }
    }

    /// The length in units of an address starting at unit `i`, if one does.
    fn mac_at(&self, i: usize) -> Option<usize> {
        if !self.hex(i) || (i > 0 && self.hex(i - 1)) {
            return None;
        }
        // After a separated shape: no further hex digit or `:` (a longer colon run).
        let ends = |end: usize| !self.hex(end) && self.ch(end) != Some(b':');
        if let Some(sep) = self.ch(i + 2).filter(|s| matches!(s, b':' | b'-')) {
            let pairs = (0..6).all(|k| self.hex(i + 3 * k) && self.hex(i + 3 * k + 1))
                && (0..5).all(|k| self.ch(i + 3 * k + 2) == Some(sep));
            if pairs && ends(i + 17) {
                return Some(17);
            }
        }
        if self.ch(i + 4) == Some(b'.') {
            let quads = (0..3).all(|k| (0..4).all(|j| self.hex(i + 5 * k + j)))
                && self.ch(i + 9) == Some(b'.');
            if quads && ends(i + 14) {
                return Some(14);
            }
        }
        let bare = (0..12).all(|k| self.hex(i + k))
            && self.bare_border(i.checked_sub(1))
            && self.bare_border(Some(i + 12));
        if bare {
            let in_str = self.in_string(i);
            let letter = (i..i + 12).any(|k| {
                self.ch(k)
                    .is_some_and(|c| c.is_ascii_alphabetic() && !c.eq_ignore_ascii_case(&b'e'))
            });
            if in_str || letter {
                return Some(12);
            }
        }
        None
    }

    /// Where a run of hex digits starts: the only places an address can start. A
    /// tight pass over the units, so that a long text costs about a nanosecond a byte.
    fn run_starts(&self) -> impl Iterator<Item = usize> + '_ {
        let mask = if self.decoded() { !IN_STRING } else { 0xff };
        let mut before = false;
        self.units.iter().enumerate().filter_map(move |(i, &u)| {
            let hex = (u & mask).is_ascii_hexdigit();
            let start = hex && !before;
            before = hex;
            start.then_some(i)
        })
    }

    /// Every address, as raw byte ranges, in order and not overlapping.
    fn macs(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut from = 0;
        for i in self.run_starts() {
            if i < from {
                continue;
            }
            if let Some(len) = self.mac_at(i) {
                out.push((self.raw(i), self.raw(i + len)));
                from = i + len;
            }
        }
        out
    }
}

/// Decodes the escape at the start of `b` (which starts with `\`): the character as a
/// unit and the escape's length in bytes. An escape that does not decode stands for
/// its backslash alone.
fn unescape(b: &[u8]) -> (u8, usize) {
    let unit =
        |c: u32| char::from_u32(c).map_or(OTHER, |c| if c.is_ascii() { c as u8 } else { OTHER });
    match b.get(1) {
        Some(b'u') => {
            let Some(hi) = hex4(&b[2..]) else {
                return (b'\\', 1);
            };
            // A surrogate pair is one character.
            if (0xd800..0xdc00).contains(&hi)
                && b.get(6) == Some(&b'\\')
                && b.get(7) == Some(&b'u')
                && let Some(lo) = hex4(&b[8..]).filter(|lo| (0xdc00..0xe000).contains(lo))
            {
                let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                return (unit(c), 12);
            }
            (unit(hi), 6)
        }
        Some(&c @ (b'"' | b'\\' | b'/')) => (c, 2),
        Some(b'b' | b'f' | b'n' | b'r' | b't') => (b' ', 2),
        _ => (b'\\', 1),
    }
}

/// Four hex digits at the start of `b`, as a number.
fn hex4(b: &[u8]) -> Option<u32> {
    let digits = std::str::from_utf8(b.get(..4)?).ok()?;
    if digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        u32::from_str_radix(digits, 16).ok()
    } else {
        None
    }
}

/// Whether `text` may hold an address at all: every spelling is written with hex
/// digits, `:`, `-`, `.` and `\u` escapes only, and has twelve hex digits, so a text
/// with no such run of twelve hex digits or more holds none. A dead letter of a reading
/// (timestamps, short ids, numbers) is let through without reading it as units.
fn may_hold_mac(text: &str) -> bool {
    let mut digits = 0;
    for &b in text.as_bytes() {
        if b.is_ascii_hexdigit() {
            digits += 1;
            if digits >= 12 {
                return true;
            }
        } else if !matches!(b, b':' | b'-' | b'.' | b'\\' | b'u') {
            digits = 0;
        }
    }
    false
}

/// Where in `text` the first MAC-address-shaped value is, as a raw byte range.
pub fn find_mac(text: &str) -> Option<(usize, usize)> {
    if !may_hold_mac(text) {
        return None;
    }
    let units = Units::read(text);
    units.run_starts().find_map(|i| {
        units
            .mac_at(i)
            .map(|len| (units.raw(i), units.raw(i + len)))
    })
}

/// `text` with every MAC-address-shaped value, in any spelling, replaced by
/// [`REDACTED`]; borrowed when there is none.
pub fn redact_macs(text: &str) -> Cow<'_, str> {
    if !may_hold_mac(text) {
        return Cow::Borrowed(text);
    }
    let found = Units::read(text).macs();
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (start, end) in found {
        out.push_str(&text[from..start]);
        out.push_str(REDACTED);
        from = end;
    }
    out.push_str(&text[from..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;
