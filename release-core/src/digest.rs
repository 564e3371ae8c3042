//! SHA-256 digests as the workspace writes them: `sha256:<hex>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;
pub use sha2::Sha256;

/// A SHA-256 digest, written `sha256:<64 lowercase hex digits>`: configuration digests,
/// ledger hash chains and artifact digests all use it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

const PREFIX: &str = "sha256:";

impl Sha256Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// The digest a hasher has accumulated.
    pub fn from_hasher(hasher: Sha256) -> Self {
        let out = hasher.finalize();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(out.as_slice());
        Self(bytes)
    }

    /// A digest from its raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        String::from_utf8_lossy(&self.text()[PREFIX.len()..]).into_owned()
    }
}

/// `sha256:` and 64 hex digits.
const TEXT_LEN: usize = PREFIX.len() + 64;

impl Sha256Digest {
    /// The digest as text (`sha256:<hex>`), on the stack. Every record the ledger seals
    /// writes two digests (its predecessor's and, when exported, its own): written one
    /// character at a time through `fmt` and then through the JSON writer's escaping, they
    /// cost more than hashing the record (issue #10).
    fn text(&self) -> [u8; TEXT_LEN] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; TEXT_LEN];
        let (prefix, hex) = out.split_at_mut(PREFIX.len());
        prefix.copy_from_slice(PREFIX.as_bytes());
        for (pair, b) in hex.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        out
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

/// Why a text is not a [`Sha256Digest`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a SHA-256 digest; write `sha256:` and 64 lowercase hex digits")]
pub struct ParseDigestError(String);

impl FromStr for Sha256Digest {
    type Err = ParseDigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDigestError(s.to_owned());
        let hex = s.strip_prefix(PREFIX).ok_or_else(err)?.as_bytes();
        if hex.len() != 64 {
            return Err(err());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = nibble(pair[0]).ok_or_else(err)?;
            let lo = nibble(pair[1]).ok_or_else(err)?;
            bytes[i] = (hi << 4) | lo;
        }
        Ok(Self(bytes))
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.text();
        match std::str::from_utf8(&text) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.collect_str(self),
        }
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// Parses the text where the deserializer has it (no allocation per digest read).
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Sha256Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a digest: `sha256:` and 64 lowercase hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Sha256Digest, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_json_and_back_are_unchanged() {
        for input in [&b""[..], b"abc", &[0xff; 100]] {
            let d = Sha256Digest::of(input);
            // The text as it was written before (one formatted byte at a time).
            let before: String = std::iter::once("sha256:".to_owned())
                .chain(d.as_bytes().iter().map(|b| format!("{b:02x}")))
                .collect();
            assert_eq!(d.to_string(), before);
            assert_eq!(d.hex(), before["sha256:".len()..]);
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{before}\""));
            assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), d);
            // Escaped input is unescaped before it is parsed.
            let escaped = json.replacen("sha", "\\u0073ha", 1);
            assert_eq!(serde_json::from_str::<Sha256Digest>(&escaped).unwrap(), d);
        }
        let err = serde_json::from_str::<Sha256Digest>("42").unwrap_err();
        assert!(
            err.to_string()
                .contains("`sha256:` and 64 lowercase hex digits"),
            "{err}"
        );
        let err = serde_json::from_str::<Sha256Digest>("\"sha256:00\"").unwrap_err();
        assert!(err.to_string().contains("is not a SHA-256 digest"), "{err}");
    }
}
