//! Canonical dumps: a database's schema and data as digests per section, in a stable order,
//! so two databases compare equal exactly when their shape and rows do, and a mismatch can
//! name the tables that differ.

use std::collections::BTreeMap;

use release_core::digest::{Sha256, Sha256Digest};
use release_core::migration::{CheckOutcome, RehearsalReport};
use release_core::model::DataCheck;
use release_core::plugin::MigrateReply;

use super::DataError;
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

/// What a backend found for one declared check.
pub(crate) enum Found {
    /// The check's table's row count after the up pass, and before it (for
    /// `row_count_unchanged`).
    Count {
        before: Option<Result<u64, String>>,
        after: Result<u64, String>,
    },
    /// The number of rows the check's query returned and the first one, or why it failed.
    Rows(Result<(u64, Option<String>), String>),
}

/// Judges a declared check on what the backend found.
pub(crate) fn judge(check: &DataCheck, found: Found) -> CheckOutcome {
    let name = check.name();
    match (check, found) {
        (DataCheck::RowCount { table, min, max }, Found::Count { after, .. }) => match after {
            Err(e) => CheckOutcome::fail(name, format!("cannot count {table}: {e}")),
            Ok(n) if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) => {
                let bound = |b: &Option<u64>| b.map_or("-".to_owned(), |m| m.to_string());
                CheckOutcome::fail(
                    name,
                    format!(
                        "{table} has {n} rows, outside [{}, {}]",
                        bound(min),
                        bound(max)
                    ),
                )
            }
            Ok(n) => CheckOutcome::pass(name, format!("{table} has {n} rows")),
        },
        (DataCheck::RowCountUnchanged { table }, Found::Count { before, after }) => {
            match (before, after) {
                (Some(Ok(b)), Ok(a)) if b == a => {
                    CheckOutcome::pass(name, format!("{table} kept its {a} rows"))
                }
                (Some(Ok(b)), Ok(a)) => CheckOutcome::fail(
                    name,
                    format!("{table} had {b} rows before the up migrations and {a} after"),
                ),
                (_, Err(e)) => CheckOutcome::fail(name, format!("cannot count {table}: {e}")),
                (b, _) => CheckOutcome::fail(
                    name,
                    format!("cannot count {table} before the up migrations: {b:?}"),
                ),
            }
        }
        (DataCheck::Query { .. }, Found::Rows(rows)) => match rows {
            Ok((0, _)) => CheckOutcome::pass(name, "the query returned no rows"),
            Ok((n, first)) => CheckOutcome::fail(
                name,
                format!(
                    "the query returned {n} offending row(s), the first: ({})",
                    first.unwrap_or_default()
                ),
            ),
            Err(e) => CheckOutcome::fail(name, format!("the query failed: {e}")),
        },
        _ => CheckOutcome::fail(name, "the check was not run"),
    }
}

/// Records a rehearsal's `up` or `down` pass; false when it failed (the rehearsal stops
/// there: a failing migration is a finding, not an error).
pub(crate) fn record_pass(
    report: &mut RehearsalReport,
    up: bool,
    result: Result<MigrateReply, DataError>,
) -> bool {
    let pass = if up { "up" } else { "down" };
    match result {
        Ok(reply) => {
            if up {
                report.applied = reply.versions.clone();
            }
            let verb = if up { "applied" } else { "reverted" };
            report.checks.push(CheckOutcome::pass(
                pass,
                format!("{verb} {}", versions(&reply.versions)),
            ));
            true
        }
        Err(e) => {
            report.checks.push(CheckOutcome::fail(pass, e.to_string()));
            false
        }
    }
}

/// `V002, V003` for a message.
fn versions(versions: &[u64]) -> String {
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
