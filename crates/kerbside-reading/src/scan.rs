//! A single linear pass over a payload that enforces the hard limits before any
//! parser allocates (nesting depth, string length, array length, object size, number
//! length) and the rules the parser does not apply to fields it skips: numbers beyond
//! a double, lone UTF-16 surrogates in escapes, and duplicate keys, anywhere in the
//! payload. It does not check JSON grammar; the parser does that next.

use crate::config::ValidationConfig;
use crate::refusal::{Refusal, RefusalReason};

/// What the top level of a payload is, as far as the scan can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopLevel {
    /// Starts with `{`.
    Object,
    /// Starts with `[` (a gateway batch).
    Array,
    /// Anything else (a scalar, or not JSON).
    Other,
}

/// Longest number token accepted, in characters (a double needs at most 24).
pub(crate) const MAX_NUMBER_CHARS: usize = 40;

/// Deepest nesting the scanner tracks regardless of configuration.
const MAX_TRACKED_DEPTH: usize = 64;

/// One open container.
#[derive(Debug, Clone, Copy, Default)]
struct Open {
    is_array: bool,
    /// Separators seen so far (members = separators + 1 once non-empty).
    commas: usize,
    /// Where this object's keys start in the key list.
    keys_from: usize,
}

/// Checks `text` against `limits` and reports its top-level shape.
pub(crate) fn scan(text: &str, limits: &ValidationConfig) -> Result<TopLevel, Refusal> {
    let bytes = text.as_bytes();
    let max_depth = limits.max_depth.min(MAX_TRACKED_DEPTH);
    let mut stack = [Open::default(); MAX_TRACKED_DEPTH];
    let mut depth = 0usize;
    // Keys of the currently open objects, innermost last, as raw (escaped) bytes.
    let mut keys: smallvec::SmallVec<[&[u8]; 24]> = smallvec::SmallVec::new();
    let mut key_next = false;
    let mut top = TopLevel::Other;
    let mut seen_first = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                let start = i + 1;
                i = string_end(bytes, start)?;
                let len = i - start;
                if len > limits.max_string_bytes {
                    return Err(Refusal::new(
                        RefusalReason::StringTooLong,
                        format!(
                            "a string of {len} bytes exceeds the limit of {}",
                            limits.max_string_bytes
                        ),
                    ));
                }
                if key_next && depth > 0 {
                    key_next = false;
                    let key = &bytes[start..i];
                    let from = stack[depth - 1].keys_from;
                    if keys[from..].contains(&key) {
                        return Err(Refusal::new(
                            RefusalReason::DuplicateField,
                            format!(
                                "key `{}` appears twice in one object",
                                crate::excerpt(&String::from_utf8_lossy(key))
                            ),
                        ));
                    }
                    keys.push(key);
                }
            }
            b'{' | b'[' => {
                if !seen_first {
                    top = if b == b'{' {
                        TopLevel::Object
                    } else {
                        TopLevel::Array
                    };
                }
                if depth >= max_depth {
                    return Err(Refusal::new(
                        RefusalReason::NestingTooDeep,
                        format!("nesting deeper than {max_depth} levels"),
                    ));
                }
                stack[depth] = Open {
                    is_array: b == b'[',
                    commas: 0,
                    keys_from: keys.len(),
                };
                depth += 1;
                key_next = b == b'{';
            }
            b'}' | b']' => {
                if depth > 0 {
                    depth -= 1;
                    keys.truncate(stack[depth].keys_from);
                }
                key_next = false;
            }
            b',' if depth > 0 => {
                let open = &mut stack[depth - 1];
                open.commas += 1;
                let members = open.commas + 1;
                key_next = !open.is_array;
                if open.is_array && members > limits.max_array_len {
                    return Err(Refusal::new(
                        RefusalReason::ArrayTooLong,
                        format!("an array has more than {} elements", limits.max_array_len),
                    ));
                }
                if !open.is_array && members > limits.max_object_fields {
                    return Err(Refusal::new(
                        RefusalReason::TooManyFields,
                        format!(
                            "an object has more than {} fields",
                            limits.max_object_fields
                        ),
                    ));
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i + 1 < bytes.len()
                    && matches!(bytes[i + 1], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                number(&text[start..=i])?;
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            seen_first = true;
        }
        i += 1;
    }
    Ok(top)
}

/// Index of the closing quote of a string whose contents start at `start` (or the
/// end of input), refusing lone surrogates in `\u` escapes.
fn string_end(bytes: &[u8], start: usize) -> Result<usize, Refusal> {
    let mut i = start;
    // Set after a high surrogate escape: the next thing must be a low surrogate escape.
    let mut want_low = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                if bytes.get(i + 1) == Some(&b'u') {
                    let unit = bytes
                        .get(i + 2..i + 6)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u16::from_str_radix(h, 16).ok());
                    match unit {
                        Some(0xD800..=0xDBFF) if !want_low => want_low = true,
                        Some(0xDC00..=0xDFFF) if want_low => want_low = false,
                        Some(0xD800..=0xDFFF) => return Err(lone_surrogate()),
                        _ if want_low => return Err(lone_surrogate()),
                        _ => {}
                    }
                    i += 6;
                    continue;
                }
                if want_low {
                    return Err(lone_surrogate());
                }
                i += 2;
            }
            b'"' => break,
            _ if want_low => return Err(lone_surrogate()),
            _ => i += 1,
        }
    }
    if want_low {
        return Err(lone_surrogate());
    }
    Ok(i.min(bytes.len()))
}

fn lone_surrogate() -> Refusal {
    Refusal::new(
        RefusalReason::MalformedJson,
        "a string escapes a lone UTF-16 surrogate",
    )
}

/// Refuses a number token that is too long or beyond a double.
fn number(token: &str) -> Result<(), Refusal> {
    if token.len() > MAX_NUMBER_CHARS {
        return Err(Refusal::new(
            RefusalReason::NumberOutOfRange,
            format!(
                "a number of {} characters is too long to be a measurement",
                token.len()
            ),
        ));
    }
    // Without an exponent, 40 digits cannot overflow a double; with one, check.
    if token.bytes().any(|c| c == b'e' || c == b'E')
        && token.parse::<f64>().is_ok_and(|x| x.is_infinite())
    {
        return Err(Refusal::new(
            RefusalReason::NumberOutOfRange,
            format!("{} is beyond the range of a double", crate::excerpt(token)),
        ));
    }
    Ok(())
}
