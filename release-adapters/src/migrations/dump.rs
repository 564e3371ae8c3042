//! Canonical dumps: a database's schema and data as digests per section, in a stable order,
//! so two databases compare equal exactly when their shape and rows do, and a mismatch can
//! name the tables that differ.

use std::collections::BTreeMap;

use release_core::digest::{Sha256, Sha256Digest};
use release_core::migration::{CheckOutcome, RehearsalReport};
use sha2::Digest as _;

/// A hasher of length-prefixed fields (no two field sequences hash alike).
pub(crate) struct Fields(Sha256);

impl Fields {
    pub fn new(domain: &str) -> Self {
        let mut f = Self(Sha256::new());
        f.field(domain.as_bytes());
        f
    }

    pub fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
    }

    pub fn text(&mut self, s: &str) {
        self.field(s.as_bytes());
    }

    /// A typed value: a tag byte, then the value.
    pub fn tagged(&mut self, tag: u8, bytes: &[u8]) {
        self.0.update([tag]);
        self.field(bytes);
    }

    pub fn finish(self) -> Sha256Digest {
        Sha256Digest::from_hasher(self.0)
    }
}

/// Digests of a database's sections (`table orders`, `data orders`, `view open_orders`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dump {
    pub sections: BTreeMap<String, Sha256Digest>,
}

impl Dump {
    /// The digest of the whole dump.
    pub fn digest(&self) -> Sha256Digest {
        let mut f = Fields::new("release-database-dump/v1");
        for (name, digest) in &self.sections {
            f.text(name);
            f.field(digest.as_bytes());
        }
        f.finish()
    }

    /// What differs from `original`: sections changed, missing or added.
    pub fn differences(&self, original: &Dump) -> Vec<String> {
        let mut out = Vec::new();
        for (name, digest) in &original.sections {
            match self.sections.get(name) {
                None => out.push(format!("{name} is missing")),
                Some(d) if d != digest => out.push(format!("{name} differs")),
                Some(_) => {}
            }
        }
        for name in self.sections.keys() {
            if !original.sections.contains_key(name) {
                out.push(format!("{name} was added"));
            }
        }
        out
    }
}

/// Collapses whitespace runs (SQL text as stored keeps the author's layout).
pub(crate) fn normalize_sql(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Adds the `restores_original` check and the restored digest to a report.
pub(crate) fn compare_with_original(
    report: &mut RehearsalReport,
    original: &Dump,
    restored: &Dump,
) {
    report.restored_digest = Some(restored.digest());
    let differences = restored.differences(original);
    report.checks.push(if differences.is_empty() {
        CheckOutcome::pass(
            "restores_original",
            format!(
                "after the down migrations the schema and data digest is the original {}",
                original.digest()
            ),
        )
    } else {
        CheckOutcome::fail(
            "restores_original",
            format!(
                "the down migrations do not restore the original: {}",
                differences.join("; ")
            ),
        )
    });
}

/// `V002, V003` for a message.
pub(crate) fn versions(versions: &[u64]) -> String {
    if versions.is_empty() {
        return "nothing (all applied already)".to_owned();
    }
    versions
        .iter()
        .map(|v| format!("V{v:03}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_changed_missing_and_added_sections() {
        let d = |s: &str| Sha256Digest::of(s.as_bytes());
        let original = Dump {
            sections: [
                ("data a".to_owned(), d("1")),
                ("table a".to_owned(), d("2")),
                ("table b".to_owned(), d("3")),
            ]
            .into(),
        };
        let now = Dump {
            sections: [
                ("data a".to_owned(), d("9")),
                ("table a".to_owned(), d("2")),
                ("table c".to_owned(), d("4")),
            ]
            .into(),
        };
        assert_eq!(
            now.differences(&original),
            ["data a differs", "table b is missing", "table c was added"]
        );
        assert_ne!(now.digest(), original.digest());
        assert_eq!(original.clone().digest(), original.digest());
    }
}
