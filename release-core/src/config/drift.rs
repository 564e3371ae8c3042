//! Drift between a recorded baseline configuration and the current one (M2.4), file by file
//! and, for `KEY=VALUE` files, key by key. Secrets appear only as references.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::rendered::{RenderedConfig, RenderedFile, Segment};

/// One `KEY=VALUE` entry that changed. Values are shown with secrets as
/// `{{secret:scheme://path}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeyDrift {
    /// The key.
    pub key: String,
    /// The value in the baseline; `None` when the key was added.
    pub before: Option<String>,
    /// The current value; `None` when the key was removed.
    pub after: Option<String>,
}

impl fmt::Display for KeyDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.before, &self.after) {
            (None, Some(a)) => write!(f, "`{}` added as `{a}`", self.key),
            (Some(b), None) => write!(f, "`{}` removed (was `{b}`)", self.key),
            (Some(b), Some(a)) => write!(f, "`{}` changed from `{b}` to `{a}`", self.key),
            (None, None) => write!(f, "`{}` unchanged", self.key),
        }
    }
}

/// How one file drifted from the baseline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "change")]
#[non_exhaustive]
pub enum ConfigDrift {
    /// The file is new.
    FileAdded {
        /// The file's name.
        file: String,
    },
    /// The file is gone.
    FileRemoved {
        /// The file's name.
        file: String,
    },
    /// The file's content changed.
    FileChanged {
        /// The file's name.
        file: String,
        /// The keys that changed, sorted, when both versions are `KEY=VALUE` files (empty when
        /// only comments, blank lines or order changed); `None` for other files.
        keys: Option<Vec<KeyDrift>>,
    },
}

impl ConfigDrift {
    /// The file concerned.
    pub fn file(&self) -> &str {
        match self {
            Self::FileAdded { file }
            | Self::FileRemoved { file }
            | Self::FileChanged { file, .. } => file,
        }
    }
}

impl fmt::Display for ConfigDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FileAdded { file } => write!(f, "{file}: added"),
            Self::FileRemoved { file } => write!(f, "{file}: removed"),
            Self::FileChanged { file, keys: None } => write!(f, "{file}: changed"),
            Self::FileChanged {
                file,
                keys: Some(keys),
            } if keys.is_empty() => write!(f, "{file}: changed (comments, blank lines or order)"),
            Self::FileChanged {
                file,
                keys: Some(keys),
            } => {
                write!(f, "{file}: ")?;
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{k}")?;
                }
                Ok(())
            }
        }
    }
}

/// Compares `current` with `baseline`, ordered by file name. Empty when they are equal (the
/// same as equal digests).
pub fn diff_rendered(baseline: &RenderedConfig, current: &RenderedConfig) -> Vec<ConfigDrift> {
    let names: BTreeSet<&String> = baseline
        .files()
        .keys()
        .chain(current.files().keys())
        .collect();
    let mut drift = Vec::new();
    for name in names {
        match (baseline.file(name), current.file(name)) {
            (None, Some(_)) => drift.push(ConfigDrift::FileAdded { file: name.clone() }),
            (Some(_), None) => drift.push(ConfigDrift::FileRemoved { file: name.clone() }),
            (Some(b), Some(c)) if b != c => drift.push(ConfigDrift::FileChanged {
                file: name.clone(),
                keys: diff_keys(b, c),
            }),
            _ => {}
        }
    }
    drift
}

fn diff_keys(baseline: &RenderedFile, current: &RenderedFile) -> Option<Vec<KeyDrift>> {
    let before = key_values(baseline)?;
    let after = key_values(current)?;
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    Some(
        keys.into_iter()
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| KeyDrift {
                key: k.clone(),
                before: before.get(k).cloned(),
                after: after.get(k).cloned(),
            })
            .collect(),
    )
}

/// Reads a file as `KEY=VALUE` lines (blank lines and `#` comments skipped): key → value shown
/// with secrets as references. `None` when a line is not `KEY=VALUE` (the key must be plain
/// text) or a key repeats.
fn key_values(file: &RenderedFile) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for line in lines(file) {
        let first_text = match line.first() {
            Some(Segment::Text(t)) => t.as_str(),
            Some(Segment::Secret(_)) => return None,
            None => continue,
        };
        let trimmed = first_text.trim_start();
        if trimmed.starts_with('#') || (line.len() == 1 && trimmed.is_empty()) {
            continue;
        }
        let (key, head) = first_text.split_once('=')?;
        let key = key.trim();
        if key.is_empty() || key.starts_with('#') {
            return None;
        }
        let mut value = RenderedFile::text(head);
        for s in &line[1..] {
            match s {
                Segment::Text(t) => value.push_text(t),
                Segment::Secret(r) => value.push_secret(r.clone()),
            }
        }
        let shown = value.to_string().trim_end_matches('\r').to_owned();
        if out.insert(key.to_owned(), shown).is_some() {
            return None;
        }
    }
    Some(out)
}

/// Splits a file's segments into lines (without the newline).
fn lines(file: &RenderedFile) -> Vec<Vec<Segment>> {
    let mut lines = vec![Vec::new()];
    for s in file.segments() {
        match s {
            Segment::Secret(r) => {
                if let Some(last) = lines.last_mut() {
                    last.push(Segment::Secret(r.clone()));
                }
            }
            Segment::Text(t) => {
                for (i, part) in t.split('\n').enumerate() {
                    if i > 0 {
                        lines.push(Vec::new());
                    }
                    if !part.is_empty()
                        && let Some(last) = lines.last_mut()
                    {
                        last.push(Segment::Text(part.to_owned()));
                    }
                }
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SecretRef;

    fn secret(r: &str) -> Segment {
        Segment::Secret(SecretRef::parse(r).unwrap())
    }

    fn text(t: &str) -> Segment {
        Segment::Text(t.to_owned())
    }

    #[test]
    fn key_values_read_dotenv_lines() {
        let f = RenderedFile::new([
            text("# comment\n\nA=1\nPASSWORD="),
            secret("vault://db"),
            text("\nURL=postgres://u:"),
            secret("vault://pw"),
            text("@host/db\n"),
        ]);
        let kv = key_values(&f).unwrap();
        assert_eq!(kv["A"], "1");
        assert_eq!(kv["PASSWORD"], "{{secret:vault://db}}");
        assert_eq!(kv["URL"], "postgres://u:{{secret:vault://pw}}@host/db");
        assert_eq!(kv.len(), 3);
    }

    #[test]
    fn other_files_are_not_key_files() {
        assert!(key_values(&RenderedFile::text("a: 1\nb: 2\n")).is_none());
        assert!(key_values(&RenderedFile::new([secret("vault://x"), text("=1")])).is_none());
        assert!(key_values(&RenderedFile::text("A=1\nA=2\n")).is_none());
    }
}
