//! A single linear pass over a payload that enforces the hard limits before any
//! parser allocates: nesting depth, string length, array length, object size and
//! number length. It does not check JSON grammar; the parser does that next.

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

/// Checks `text` against `limits` and reports its top-level shape.
pub(crate) fn scan(text: &str, limits: &ValidationConfig) -> Result<TopLevel, Refusal> {
    let bytes = text.as_bytes();
    let max_depth = limits.max_depth.min(MAX_TRACKED_DEPTH);
    // Per open container: is it an array, and how many separators seen so far.
    let mut stack = [(false, 0usize); MAX_TRACKED_DEPTH];
    let mut depth = 0usize;
    let mut top = TopLevel::Other;
    let mut seen_first = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => {
                // Walk to the closing quote, honouring escapes.
                let start = i + 1;
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                let len = i.min(bytes.len()) - start;
                if len > limits.max_string_bytes {
                    return Err(Refusal::new(
                        RefusalReason::StringTooLong,
                        format!(
                            "a string of {len} bytes exceeds the limit of {}",
                            limits.max_string_bytes
                        ),
                    ));
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
                stack[depth] = (b == b'[', 0);
                depth += 1;
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth > 0 => {
                let (is_array, ref mut n) = stack[depth - 1];
                *n += 1;
                let members = *n + 1;
                if is_array && members > limits.max_array_len {
                    return Err(Refusal::new(
                        RefusalReason::ArrayTooLong,
                        format!("an array has more than {} elements", limits.max_array_len),
                    ));
                }
                if !is_array && members > limits.max_object_fields {
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
                let len = i + 1 - start;
                if len > MAX_NUMBER_CHARS {
                    return Err(Refusal::new(
                        RefusalReason::NumberOutOfRange,
                        format!("a number of {len} characters is too long to be a measurement"),
                    ));
                }
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
