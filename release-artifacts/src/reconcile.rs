//! Third-party reconciliation (M7.6): what changed between two releases' SBOMs — components
//! added, removed, upgraded or downgraded, and licence changes — as rows and a Markdown table.
//!
//! Decisions: components are matched by name; when a name has one version on each side the
//! change is an upgrade or downgrade (compared as semver when both parse, else as text);
//! with several versions on a side, each version only on one side is an addition or removal.
//! Rows are sorted by component, then version.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::policy::sbom::{Sbom, SbomComponent};

/// What happened to a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in the new release.
    Added,
    /// Only in the old release.
    Removed,
    /// A newer version.
    Upgraded,
    /// An older version.
    Downgraded,
    /// Same version, other licence.
    LicenceChanged,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Upgraded => "upgraded",
            Self::Downgraded => "downgraded",
            Self::LicenceChanged => "licence changed",
        })
    }
}

/// One row of the reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Row {
    /// The component.
    pub component: String,
    /// What happened.
    pub change: Change,
    /// Version before.
    pub old_version: Option<String>,
    /// Version after.
    pub new_version: Option<String>,
    /// Licence before.
    pub old_licence: Option<String>,
    /// Licence after.
    pub new_licence: Option<String>,
}

/// The difference between two SBOMs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reconciliation {
    /// The rows, sorted.
    pub rows: Vec<Row>,
}

fn by_name(sbom: &Sbom) -> BTreeMap<&str, Vec<&SbomComponent>> {
    let mut m: BTreeMap<&str, Vec<&SbomComponent>> = BTreeMap::new();
    for c in &sbom.components {
        m.entry(c.name.as_str()).or_default().push(c);
    }
    m
}

fn newer(old: Option<&str>, new: Option<&str>) -> bool {
    match (
        old.map(semver::Version::parse),
        new.map(semver::Version::parse),
    ) {
        (Some(Ok(a)), Some(Ok(b))) => b > a,
        _ => new > old,
    }
}

/// Reconciles the third-party components of `old` and `new`.
pub fn reconcile(old: &Sbom, new: &Sbom) -> Reconciliation {
    let (o, n) = (by_name(old), by_name(new));
    let names: BTreeSet<&str> = o.keys().chain(n.keys()).copied().collect();
    let empty = Vec::new();
    let mut rows = Vec::new();
    let row = |c: &str, change, a: Option<&SbomComponent>, b: Option<&SbomComponent>| Row {
        component: c.to_owned(),
        change,
        old_version: a.and_then(|x| x.version.clone()),
        new_version: b.and_then(|x| x.version.clone()),
        old_licence: a.and_then(|x| x.licence.clone()),
        new_licence: b.and_then(|x| x.licence.clone()),
    };
    for name in names {
        let (a, b) = (o.get(name).unwrap_or(&empty), n.get(name).unwrap_or(&empty));
        if let ([x], [y]) = (a.as_slice(), b.as_slice()) {
            if x.version != y.version {
                let change = if newer(x.version.as_deref(), y.version.as_deref()) {
                    Change::Upgraded
                } else {
                    Change::Downgraded
                };
                rows.push(row(name, change, Some(x), Some(y)));
            } else if x.licence != y.licence {
                rows.push(row(name, Change::LicenceChanged, Some(x), Some(y)));
            }
            continue;
        }
        for x in a
            .iter()
            .filter(|x| !b.iter().any(|y| y.version == x.version))
        {
            rows.push(row(name, Change::Removed, Some(x), None));
        }
        for y in b
            .iter()
            .filter(|y| !a.iter().any(|x| x.version == y.version))
        {
            rows.push(row(name, Change::Added, None, Some(y)));
        }
        for x in a.iter() {
            if let Some(y) = b
                .iter()
                .find(|y| y.version == x.version && y.licence != x.licence)
            {
                rows.push(row(name, Change::LicenceChanged, Some(x), Some(y)));
            }
        }
    }
    Reconciliation { rows }
}

impl Reconciliation {
    /// The rows as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
        let mut out = String::from(
            "| component | change | old version | new version | old licence | new licence |\n|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.component,
                r.change,
                cell(&r.old_version),
                cell(&r.new_version),
                cell(&r.old_licence),
                cell(&r.new_licence)
            ));
        }
        out
    }
}
