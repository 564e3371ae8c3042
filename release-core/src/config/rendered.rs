//! A rendered configuration: per file, text with secret references still in place, and its
//! stable digest.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::digest::Sha256Digest as ConfigDigest;
use crate::model::SecretRef;

/// One piece of a rendered file: literal text, or a secret that is still a reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Literal text.
    Text(String),
    /// A secret, resolved only at deploy time.
    Secret(SecretRef),
}

/// One rendered file. Its segments are kept canonical: no empty text, no two texts in a row,
/// so equal content always compares (and digests) equal however it was built.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct RenderedFile {
    segments: Vec<Segment>,
}

impl RenderedFile {
    /// A file from segments, merged into canonical form.
    pub fn new(segments: impl IntoIterator<Item = Segment>) -> Self {
        let mut file = Self::default();
        for s in segments {
            match s {
                Segment::Text(t) => file.push_text(&t),
                Segment::Secret(r) => file.push_secret(r),
            }
        }
        file
    }

    /// A file of plain text only.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new([Segment::Text(text.into())])
    }

    /// Appends text, merging it into the previous text segment.
    pub fn push_text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Segment::Text(last)) = self.segments.last_mut() {
            last.push_str(text);
        } else {
            self.segments.push(Segment::Text(text.to_owned()));
        }
    }

    /// Appends a secret reference.
    pub fn push_secret(&mut self, reference: SecretRef) {
        self.segments.push(Segment::Secret(reference));
    }

    /// The segments, in canonical form.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The secret references the file holds, in order of appearance.
    pub fn secret_refs(&self) -> impl Iterator<Item = &SecretRef> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Secret(r) => Some(r),
            Segment::Text(_) => None,
        })
    }
}

/// Shows the file's text with each secret as `{{secret:scheme://path}}`.
impl fmt::Display for RenderedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.segments {
            match s {
                Segment::Text(t) => f.write_str(t)?,
                Segment::Secret(r) => write!(f, "{{{{secret:{r}}}}}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RenderedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl Serialize for RenderedFile {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.segments.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RenderedFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Segment>::deserialize(d).map(Self::new)
    }
}

/// A component's configuration rendered for one environment: file (or key) name → content,
/// with secrets still references. Safe to print, store and compare.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedConfig {
    files: BTreeMap<String, RenderedFile>,
}

impl RenderedConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file; returns the one it replaced.
    pub fn insert(&mut self, name: impl Into<String>, file: RenderedFile) -> Option<RenderedFile> {
        self.files.insert(name.into(), file)
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with_file(mut self, name: impl Into<String>, file: RenderedFile) -> Self {
        self.insert(name, file);
        self
    }

    /// The files, ordered by name.
    pub fn files(&self) -> &BTreeMap<String, RenderedFile> {
        &self.files
    }

    /// One file.
    pub fn file(&self, name: &str) -> Option<&RenderedFile> {
        self.files.get(name)
    }

    /// True when there is no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every distinct secret reference, sorted.
    pub fn secret_refs(&self) -> Vec<&SecretRef> {
        let mut refs: Vec<&SecretRef> = self.files.values().flat_map(|f| f.secret_refs()).collect();
        refs.sort();
        refs.dedup();
        refs
    }

    /// The stable SHA-256 of the configuration (secret references included, never values).
    ///
    /// The hashed bytes are a versioned, length-prefixed encoding: a domain tag, the file
    /// count, then per file (sorted by name) its name and its canonical segments, each tagged
    /// text or secret. Lengths and counts are big-endian `u64`, so no two configurations share
    /// an encoding.
    pub fn digest(&self) -> ConfigDigest {
        let mut h = Sha256::new();
        h.update(b"release.config.v1\0");
        h.update(len_bytes(self.files.len()));
        for (name, file) in &self.files {
            h.update(len_bytes(name.len()));
            h.update(name.as_bytes());
            h.update(len_bytes(file.segments.len()));
            for s in &file.segments {
                let (tag, bytes): (u8, &[u8]) = match s {
                    Segment::Text(t) => (0, t.as_bytes()),
                    Segment::Secret(r) => (1, r.as_str().as_bytes()),
                };
                h.update([tag]);
                h.update(len_bytes(bytes.len()));
                h.update(bytes);
            }
        }
        ConfigDigest::from_hasher(h)
    }
}

fn len_bytes(n: usize) -> [u8; 8] {
    // usize fits in u64 on every supported target.
    (n as u64).to_be_bytes()
}

/// Files in name order, each as `--- name ---` and its text, secrets as references.
impl fmt::Display for RenderedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, file) in &self.files {
            writeln!(f, "--- {name} ---")?;
            write!(f, "{file}")?;
            let ends_with_newline =
                matches!(file.segments.last(), Some(Segment::Text(t)) if t.ends_with('\n'));
            if !ends_with_newline {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RenderedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedConfig")
            .field("files", &self.files)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(r: &str) -> SecretRef {
        SecretRef::parse(r).unwrap()
    }

    #[test]
    fn segments_are_canonical() {
        let a = RenderedFile::new([
            Segment::Text("A=".into()),
            Segment::Text(String::new()),
            Segment::Text("1\n".into()),
            Segment::Secret(secret("vault://x")),
        ]);
        let b = RenderedFile::new([
            Segment::Text("A=1\n".into()),
            Segment::Secret(secret("vault://x")),
        ]);
        assert_eq!(a, b);
        assert_eq!(a.segments().len(), 2);
    }

    #[test]
    fn digest_round_trips_as_text() {
        let c = RenderedConfig::new().with_file("a", RenderedFile::text("x"));
        let d = c.digest();
        let s = d.to_string();
        assert!(s.starts_with("sha256:") && s.len() == 7 + 64, "{s}");
        assert_eq!(s.parse::<ConfigDigest>().unwrap(), d);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{s}\""));
        assert_eq!(serde_json::from_str::<ConfigDigest>(&json).unwrap(), d);
        assert!("sha256:XY".parse::<ConfigDigest>().is_err());
        assert!(s.to_uppercase().parse::<ConfigDigest>().is_err());
    }

    #[test]
    fn digest_of_empty_config_is_known_sha256() {
        // Pin the encoding: changing it would make every recorded baseline drift.
        let mut bytes = b"release.config.v1\0".to_vec();
        bytes.extend(0u64.to_be_bytes());
        let expected = Sha256::digest(&bytes);
        assert_eq!(
            RenderedConfig::new().digest().as_bytes().as_slice(),
            expected.as_slice()
        );
    }

    #[test]
    fn text_and_secret_with_same_spelling_differ() {
        let t = RenderedConfig::new().with_file("f", RenderedFile::text("vault://x"));
        let s = RenderedConfig::new().with_file(
            "f",
            RenderedFile::new([Segment::Secret(secret("vault://x"))]),
        );
        assert_ne!(t.digest(), s.digest());
    }

    #[test]
    fn display_shows_references() {
        let c = RenderedConfig::new().with_file(
            "app.env",
            RenderedFile::new([
                Segment::Text("PASSWORD=".into()),
                Segment::Secret(secret("vault://shop/db")),
                Segment::Text("\n".into()),
            ]),
        );
        assert_eq!(
            c.to_string(),
            "--- app.env ---\nPASSWORD={{secret:vault://shop/db}}\n"
        );
        assert!(format!("{c:?}").contains("{{secret:vault://shop/db}}"));
    }
}
