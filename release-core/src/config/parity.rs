//! The parity report (M2.1): environment parameters that differ between tiers beyond the
//! platform's allowed list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::id::EnvironmentName;
use crate::model::{ParamValue, Platform, SecretRef, Tier};

/// How a parameter breaks parity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParityKind {
    /// Some environments do not define the key.
    Missing,
    /// Environments of different tiers give it different values.
    Differs,
}

impl fmt::Display for ParityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "missing",
            Self::Differs => "differs",
        })
    }
}

/// One parameter that breaks parity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParityDifference {
    /// The parameter's name.
    pub key: String,
    /// Its value per environment, as shown (secrets as references); `None` where undefined.
    pub values: BTreeMap<EnvironmentName, Option<String>>,
    /// Missing somewhere, or differing between tiers.
    pub kind: ParityKind,
}

/// An environment as the report lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ParityEnvironment {
    /// Its name.
    pub name: EnvironmentName,
    /// Its tier.
    pub tier: Tier,
}

/// Which parameters differ between tiers beyond `platform.parity.allow`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ParityReport {
    /// The environments compared, ordered by tier, then name (the table's columns).
    pub environments: Vec<ParityEnvironment>,
    /// The reported differences, ordered by key.
    pub differences: Vec<ParityDifference>,
    /// Keys that differ or are missing but are allowed to, sorted.
    pub allowed: Vec<String>,
}

impl ParityReport {
    /// True when nothing beyond the allowed list differs.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty()
    }
}

/// How a parameter renders: the comparison ignores the YAML type (`1` and `"1"` render the
/// same text), but a secret never equals a plain value.
#[derive(PartialEq, Eq)]
enum Rendered<'a> {
    Text(String),
    Secret(&'a SecretRef),
}

fn rendered(v: &ParamValue) -> Rendered<'_> {
    match v {
        ParamValue::Secret(r) => Rendered::Secret(r),
        other => Rendered::Text(other.to_string()),
    }
}

/// Compares every environment's parameters (M2.1). A key is reported when some environment
/// lacks it ([`ParityKind::Missing`]) or when two environments of different tiers give it
/// different values ([`ParityKind::Differs`]), unless `platform.parity.allow` names it.
/// Values that differ only between environments of the same tier are not reported.
pub fn parity_report(platform: &Platform) -> ParityReport {
    let mut environments: Vec<_> = platform.environments.iter().collect();
    environments.sort_by(|a, b| (a.tier, &a.name).cmp(&(b.tier, &b.name)));
    let allow: BTreeSet<&str> = platform.parity.allow.iter().map(String::as_str).collect();
    let keys: BTreeSet<&str> = environments
        .iter()
        .flat_map(|e| e.parameters.keys().map(String::as_str))
        .collect();

    let mut report = ParityReport {
        environments: environments
            .iter()
            .map(|e| ParityEnvironment {
                name: e.name.clone(),
                tier: e.tier,
            })
            .collect(),
        ..ParityReport::default()
    };
    for key in keys {
        let per_env: Vec<(Tier, Option<&ParamValue>)> = environments
            .iter()
            .map(|e| (e.tier, e.parameters.get(key)))
            .collect();
        let kind = if per_env.iter().any(|(_, v)| v.is_none()) {
            ParityKind::Missing
        } else {
            let differs = per_env.iter().enumerate().any(|(i, (tier_a, a))| {
                per_env[i + 1..]
                    .iter()
                    .any(|(tier_b, b)| tier_a != tier_b && a.map(rendered) != b.map(rendered))
            });
            if !differs {
                continue;
            }
            ParityKind::Differs
        };
        if allow.contains(key) {
            report.allowed.push(key.to_owned());
            continue;
        }
        report.differences.push(ParityDifference {
            key: key.to_owned(),
            values: environments
                .iter()
                .map(|e| (e.name.clone(), e.parameters.get(key).map(show)))
                .collect(),
            kind,
        });
    }
    report
}

/// Plain values as written, secrets as their reference.
fn show(v: &ParamValue) -> String {
    match v {
        ParamValue::Secret(r) => format!("secret:{r}"),
        other => other.to_string(),
    }
}

/// The text shown for a missing value.
const ABSENT: &str = "(missing)";

/// A table: one row per difference, one column per environment (by tier, then name).
impl fmt::Display for ParityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            write!(f, "parity: no configuration key differs between tiers")?;
            if !self.allowed.is_empty() {
                write!(f, " beyond the allowed ({})", self.allowed.join(", "))?;
            }
            return writeln!(f);
        }
        writeln!(
            f,
            "parity: {} configuration key(s) differ between tiers; make them equal or add them to `parity.allow`",
            self.differences.len()
        )?;
        let mut header = vec!["key".to_owned(), "kind".to_owned()];
        header.extend(
            self.environments
                .iter()
                .map(|e| format!("{} ({})", e.name, e.tier)),
        );
        let mut rows = vec![header];
        for d in &self.differences {
            let mut row = vec![single_line(&d.key), d.kind.to_string()];
            row.extend(self.environments.iter().map(|e| {
                d.values
                    .get(&e.name)
                    .and_then(Option::as_deref)
                    .map_or_else(|| ABSENT.to_owned(), single_line)
            }));
            rows.push(row);
        }
        let columns = rows.first().map_or(0, Vec::len);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        if !self.allowed.is_empty() {
            writeln!(f, "allowed to differ: {}", self.allowed.join(", "))?;
        }
        Ok(())
    }
}

/// Keeps a table cell on one line.
fn single_line(s: &str) -> String {
    s.replace('\r', "\\r").replace('\n', "\\n")
}
