//! The replay-file output: JSON lines of [`kerbside_reading::ReplayLine`]
//! (`{"topic":...,"payload":"<raw>","received_at":...}`), the format
//! `kerbside replay` reads (DESIGN §12). `received_at` is the simulated send time.

use std::io::Write;

use crate::error::{Result, SimError};
use crate::generate::SimMessage;

/// Writes each message as one replay line; calls `progress` after each with the
/// message just written. Returns how many lines were written.
pub fn write_replay<W: Write>(
    out: W,
    messages: impl Iterator<Item = SimMessage>,
    mut progress: impl FnMut(&SimMessage),
) -> Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut n = 0u64;
    let mut line = Vec::with_capacity(1024);
    for m in messages {
        line.clear();
        encode_line(&mut line, &m);
        out.write_all(&line).map_err(SimError::Output)?;
        progress(&m);
        n += 1;
    }
    out.flush().map_err(SimError::Output)?;
    Ok(n)
}

/// Writes one message as a replay line (with its newline): the bytes
/// `serde_json` gives for [`SimMessage::to_replay_line`], without the copies.
pub fn write_line<W: Write>(out: &mut W, m: &SimMessage) -> Result<()> {
    let mut line = Vec::with_capacity(m.payload.len() + 128);
    encode_line(&mut line, m);
    out.write_all(&line).map_err(SimError::Output)
}

/// Appends the replay line for `m` to `out`.
fn encode_line(out: &mut Vec<u8>, m: &SimMessage) {
    out.extend_from_slice(b"{\"topic\":");
    escape_into(out, m.topic.as_bytes());
    out.extend_from_slice(b",\"payload\":");
    escape_into(out, m.payload_str().as_bytes());
    out.extend_from_slice(b",\"received_at\":\"");
    out.extend_from_slice(&crate::encode::rfc3339_ms(m.at.millis()));
    out.extend_from_slice(b"\"}\n");
}

/// Appends `s` (UTF-8) as a JSON string, escaping exactly as `serde_json` does:
/// `"` and `\`, the short forms of control characters, `\u00XX` for the rest.
fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    /// Per byte: 0 = as is, `u` = `\u00XX`, anything else = that short escape.
    const ESCAPE: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut i = 0;
        while i < 0x20 {
            t[i] = b'u';
            i += 1;
        }
        t[0x08] = b'b';
        t[0x0c] = b'f';
        t[b'\n' as usize] = b'n';
        t[b'\r' as usize] = b'r';
        t[b'\t' as usize] = b't';
        t[b'"' as usize] = b'"';
        t[b'\\' as usize] = b'\\';
        t
    };
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 16);
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in s.iter().enumerate() {
        let e = ESCAPE[usize::from(b)];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&s[run..i]);
        run = i + 1;
        if e == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', e]);
        }
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_matches_serde_json_for_every_byte_that_needs_it() {
        let all: String = (0u8..=0x7f)
            .map(char::from)
            .chain("é€😀/".chars())
            .collect();
        for s in [all.as_str(), "", "plain", "\"quoted\" \\ back"] {
            let mut ours = Vec::new();
            super::escape_into(&mut ours, s.as_bytes());
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }
}
