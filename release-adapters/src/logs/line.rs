//! One log line: its leading timestamp and its exception fingerprint.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Fingerprints are cut to this many bytes.
const MAX_FINGERPRINT: usize = 300;

/// A timestamp at the start of `line` and the text after it.
///
/// Accepted, optionally inside `[…]`: RFC 3339 (`2026-12-01T09:00:00.123Z`,
/// `…+02:00`), and `2026-12-01 09:00:00[.,]123` (Python's logging and log4j's default),
/// which carries no zone and is read as UTC.
pub(crate) fn leading_timestamp(line: &str) -> Option<(DateTime<Utc>, &str)> {
    let text = line.trim_start();
    let (bracketed, text) = match text.strip_prefix('[') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let token_end = |s: &str| {
        s.find(|c: char| c.is_whitespace() || c == ']')
            .unwrap_or(s.len())
    };
    let first = token_end(text);
    let (at, used) = match DateTime::parse_from_rfc3339(text[..first].trim_end_matches(',')) {
        Ok(t) => (t.to_utc(), first),
        Err(_) => {
            // `date time`: the time is the next token.
            let after_date = text[first..].strip_prefix(' ')?;
            let second = first + 1 + token_end(after_date);
            let joined = text[..second].trim_end_matches(',').replace(',', ".");
            let naive = NaiveDateTime::parse_from_str(&joined, "%Y-%m-%d %H:%M:%S%.f").ok()?;
            (naive.and_utc(), second)
        }
    };
    let mut rest = &text[used..];
    if bracketed {
        rest = rest.strip_prefix(']').unwrap_or(rest);
    }
    Some((at, rest.trim_start_matches([' ', ',', '\t'])))
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() >= 36
        && bytes[..36].iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
        && bytes.get(36).is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// The line with what varies between occurrences of one exception taken out: UUIDs become
/// `<uuid>`, `0x…` and long hex words (8+ hex digits with a digit among them: ids, hashes,
/// addresses) `<hex>`, other digit runs `<n>`; whitespace is collapsed and the text cut to
/// 300 bytes.
pub(crate) fn fingerprint(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len().min(MAX_FINGERPRINT));
    let mut i = 0;
    let mut space = false;
    while i < bytes.len() && out.len() < MAX_FINGERPRINT {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            space = !out.is_empty();
            i += 1;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if !b.is_ascii_alphanumeric() {
            // Copy one whole character (possibly multi-byte).
            let width = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + width]);
            i += width;
            continue;
        }
        // A word of ASCII letters and digits starts here (it may start mid-word only
        // after a character that is not ASCII alphanumeric).
        if is_uuid(&bytes[i..]) {
            out.push_str("<uuid>");
            i += 36;
            continue;
        }
        let end = bytes[i..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |p| i + p);
        let word = &text[i..end];
        let hex_prefixed = word.len() > 2
            && (word.starts_with("0x") || word.starts_with("0X"))
            && word[2..].bytes().all(|b| b.is_ascii_hexdigit());
        let long_hex = word.len() >= 8
            && word.bytes().all(|b| b.is_ascii_hexdigit())
            && word.bytes().any(|b| b.is_ascii_digit());
        if hex_prefixed || (long_hex && !word.bytes().all(|b| b.is_ascii_digit())) {
            out.push_str("<hex>");
        } else {
            // Digit runs inside a word (`replica3`, `42ms`) become `<n>`.
            let mut digits = false;
            for c in word.chars() {
                if c.is_ascii_digit() {
                    if !digits {
                        out.push_str("<n>");
                    }
                    digits = true;
                } else {
                    out.push(c);
                    digits = false;
                }
            }
        }
        i = end;
    }
    if out.len() > MAX_FINGERPRINT {
        let mut cut = MAX_FINGERPRINT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_common_shapes_are_read() {
        let (at, rest) =
            leading_timestamp("2026-12-01T09:00:01.250Z ERROR ValueError: bad").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-01T09:00:01.250+00:00");
        assert_eq!(rest, "ERROR ValueError: bad");
        let (at, rest) = leading_timestamp("[2026-12-01T10:00:00+01:00] x").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-01T09:00:00+00:00");
        assert_eq!(rest, "x");
        let (at, rest) = leading_timestamp("2026-12-01 09:00:02,5 WARNING y").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-01T09:00:02.500+00:00");
        assert_eq!(rest, "WARNING y");
        assert!(leading_timestamp("Traceback (most recent call last):").is_none());
        assert!(leading_timestamp("404 not found").is_none());
        assert!(leading_timestamp("2026-13-01 09:00:00 bad month").is_none());
    }

    #[test]
    fn fingerprints_drop_what_varies() {
        let a = fingerprint(
            "KeyError: order 4711 of user 550e8400-e29b-41d4-a716-446655440000 at 0x7f3a9c  (replica3, took 12.5ms, trace deadbeef0123)",
        );
        let b = fingerprint(
            "KeyError:  order 17 of user 123e4567-e89b-12d3-a456-426614174000 at 0xdead (replica1, took 3.25ms, trace 0a1b2c3d4e5f)",
        );
        assert_eq!(a, b);
        assert_eq!(
            a,
            "KeyError: order <n> of user <uuid> at <hex> (replica<n>, took <n>.<n>ms, trace <hex>)"
        );
        // Different exceptions stay different; words that merely look hexadecimal stay.
        assert_ne!(a, fingerprint("ValueError: order 4711"));
        assert_eq!(fingerprint("decade facade"), "decade facade");
        assert_eq!(fingerprint("café 42 ünïcode"), "café <n> ünïcode");
        assert!(fingerprint(&"x".repeat(1000)).len() <= MAX_FINGERPRINT);
    }
}
