//! Bundling (M1.4): which changes must ship and roll back together, and which are better
//! shipped separately.
//!
//! Changes are linked (union-find) by a local `depends_on`, an explicit `rollback_with`, or a
//! database schema both alter; each connected group of two or more is a [`Bundle`] with the
//! links that formed it, and the rest are independent changes.
//!
//! Decouple advice: every bundle and independent change is a unit with the union of its
//! changes' test constraints. The most common constraint set (ties: the one that sorts first)
//! is the release's main line; every unit whose set differs is advised to ship separately, so
//! its extra testing does not hold up the others (or the others' testing does not hold it).
//! With a single unit there is nothing to split. Unknown references are ignored here
//! (validation reports them); cross-release dependencies do not bundle.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::id::ChangeId;
use crate::model::Release;

/// Why two changes are linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// `from` depends on `to`.
    DependsOn,
    /// `from` declares it rolls back with `to`.
    RollbackWith,
    /// Both alter the same schema.
    SharedSchema,
}

/// One link between two changes of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct BundleLink {
    /// The kind of link.
    pub kind: LinkKind,
    /// The change that declares it (the earlier one for schemas).
    pub from: ChangeId,
    /// The other change.
    pub to: ChangeId,
    /// The schema, for shared-schema links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

impl fmt::Display for BundleLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            LinkKind::DependsOn => write!(f, "{} depends on {}", self.from, self.to),
            LinkKind::RollbackWith => {
                write!(f, "{} must roll back with {}", self.from, self.to)
            }
            LinkKind::SharedSchema => write!(
                f,
                "{} and {} both alter schema `{}`",
                self.from,
                self.to,
                self.schema.as_deref().unwrap_or_default()
            ),
        }
    }
}

/// Changes that ship and roll back together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Bundle {
    /// The changes, sorted.
    pub changes: Vec<ChangeId>,
    /// Why they are together, sorted.
    pub links: Vec<BundleLink>,
    /// Union of the changes' test constraints, sorted.
    pub test_constraints: Vec<String>,
}

/// Advice to ship a bundle or an independent change separately.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecoupleAdvice {
    /// The changes to ship separately (a bundle, or one change), sorted.
    pub changes: Vec<ChangeId>,
    /// Their test constraints.
    pub test_constraints: Vec<String>,
    /// Why, for people.
    pub reason: String,
}

/// How the changes of a release group.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Bundling {
    /// Groups of two or more changes, sorted by their first change.
    pub bundles: Vec<Bundle>,
    /// Changes linked to no other, sorted.
    pub independent: Vec<ChangeId>,
    /// Units better shipped separately, sorted by their first change.
    pub decouple: Vec<DecoupleAdvice>,
}

fn constraints(set: &[String]) -> String {
    if set.is_empty() {
        "none".to_owned()
    } else {
        set.join(", ")
    }
}

impl fmt::Display for Bundling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.bundles {
            writeln!(
                f,
                "bundle {} (tests: {})",
                crate::validate::list_ids(&b.changes),
                constraints(&b.test_constraints)
            )?;
            for l in &b.links {
                writeln!(f, "  - {l}")?;
            }
        }
        if !self.independent.is_empty() {
            writeln!(
                f,
                "independent: {}",
                crate::validate::list_ids(&self.independent)
            )?;
        }
        for d in &self.decouple {
            writeln!(
                f,
                "ship separately: {}: {}",
                crate::validate::list_ids(&d.changes),
                d.reason
            )?;
        }
        Ok(())
    }
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        // The smaller index is the root, so groups are stable under input order.
        if a < b {
            self.0[b] = a;
        } else {
            self.0[a] = b;
        }
    }
}

/// Groups the changes of `release` into bundles, with the reasons and decouple advice.
pub fn bundle_changes(release: &Release) -> Bundling {
    // First occurrence of each id; duplicates are a validation error and ignored here.
    let mut index: BTreeMap<&ChangeId, usize> = BTreeMap::new();
    let mut changes = Vec::new();
    for c in &release.changes {
        if !index.contains_key(&c.id) {
            index.insert(&c.id, changes.len());
            changes.push(c);
        }
    }
    let mut uf = UnionFind((0..changes.len()).collect());
    let mut links: Vec<(usize, BundleLink)> = Vec::new();
    let mut schema_owner: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        for dep in &c.depends_on {
            let (other_release, id) = dep.parts();
            if other_release.is_some_and(|r| r != release.id().as_str()) {
                continue;
            }
            if let Some(&j) = index.get(&ChangeId::new(id))
                && j != i
            {
                uf.union(i, j);
                links.push((
                    i,
                    link(
                        LinkKind::DependsOn,
                        c.id.clone(),
                        changes[j].id.clone(),
                        None,
                    ),
                ));
            }
        }
        for other in &c.rollback_with {
            if let Some(&j) = index.get(other)
                && j != i
            {
                uf.union(i, j);
                links.push((
                    i,
                    link(LinkKind::RollbackWith, c.id.clone(), other.clone(), None),
                ));
            }
        }
        let schemas: BTreeSet<&str> = c.schemas.iter().map(String::as_str).collect();
        for schema in schemas {
            match schema_owner.get(schema) {
                Some(&j) => {
                    uf.union(i, j);
                    links.push((
                        i,
                        link(
                            LinkKind::SharedSchema,
                            changes[j].id.clone(),
                            c.id.clone(),
                            Some(schema.to_owned()),
                        ),
                    ));
                }
                None => {
                    schema_owner.insert(schema, i);
                }
            }
        }
    }

    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..changes.len() {
        let root = uf.find(i);
        groups.entry(root).or_default().push(i);
    }
    let mut group_links: BTreeMap<usize, BTreeSet<BundleLink>> = BTreeMap::new();
    for (i, l) in links {
        let root = uf.find(i);
        group_links.entry(root).or_default().insert(l);
    }

    // Units: (changes sorted, constraints sorted), for bundles and singletons alike.
    let mut bundles = Vec::new();
    let mut independent = Vec::new();
    let mut units: Vec<(Vec<ChangeId>, Vec<String>)> = Vec::new();
    for (root, members) in &groups {
        let mut ids: Vec<ChangeId> = members.iter().map(|&i| changes[i].id.clone()).collect();
        ids.sort();
        let tests: BTreeSet<&String> = members
            .iter()
            .flat_map(|&i| &changes[i].test_constraints)
            .collect();
        let tests: Vec<String> = tests.into_iter().cloned().collect();
        if members.len() > 1 {
            bundles.push(Bundle {
                changes: ids.clone(),
                links: group_links
                    .remove(root)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
                test_constraints: tests.clone(),
            });
        } else {
            independent.extend(ids.iter().cloned());
        }
        units.push((ids, tests));
    }
    bundles.sort_by(|a, b| a.changes.cmp(&b.changes));
    independent.sort();
    units.sort();

    Bundling {
        bundles,
        independent,
        decouple: decouple(&units),
    }
}

fn link(kind: LinkKind, from: ChangeId, to: ChangeId, schema: Option<String>) -> BundleLink {
    BundleLink {
        kind,
        from,
        to,
        schema,
    }
}

fn decouple(units: &[(Vec<ChangeId>, Vec<String>)]) -> Vec<DecoupleAdvice> {
    if units.len() < 2 {
        return Vec::new();
    }
    let mut counts: BTreeMap<&Vec<String>, usize> = BTreeMap::new();
    for (_, tests) in units {
        *counts.entry(tests).or_default() += 1;
    }
    if counts.len() < 2 {
        return Vec::new();
    }
    // Most common set; BTreeMap order breaks ties towards the set that sorts first.
    let mut main: Option<(&Vec<String>, usize)> = None;
    for (set, n) in &counts {
        if main.is_none_or(|(_, best)| *n > best) {
            main = Some((set, *n));
        }
    }
    let Some((main, _)) = main else {
        return Vec::new();
    };
    units
        .iter()
        .filter(|(_, tests)| tests != main)
        .map(|(changes, tests)| {
            let what = if changes.len() > 1 { "bundle" } else { "change" };
            DecoupleAdvice {
                changes: changes.clone(),
                test_constraints: tests.clone(),
                reason: format!(
                    "{what} {} needs tests ({}) that differ from the rest of the release ({}) and is linked to none of them; ship it separately so neither waits for the other's testing",
                    crate::validate::list_ids(changes),
                    constraints(tests),
                    constraints(main)
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Change, ChangeRef};

    fn change(id: &str) -> Change {
        Change {
            id: id.into(),
            request: "CR-1".into(),
            components: vec![],
            depends_on: vec![],
            rollback_with: vec![],
            schemas: vec![],
            test_constraints: vec![],
            author: None,
            summary: None,
        }
    }

    fn release(changes: Vec<Change>) -> Release {
        let text = "apiVersion: release/v1\nkind: Release\nmetadata: { id: r1 }\nversion: 1.0.0\nplatform: shop\ntype: delta\nrelease_manager: { primary: a, backup: b }\n";
        let docs = crate::manifest::parse_str(text, "r.yaml", crate::manifest::Format::Yaml)
            .unwrap_or_else(|e| panic!("{e:?}"));
        match docs.into_iter().next() {
            Some(crate::manifest::Document::Release(r)) => Release { changes, ..r.value },
            _ => panic!("not a release"),
        }
    }

    fn ids(list: &[&str]) -> Vec<ChangeId> {
        list.iter().map(|s| (*s).into()).collect()
    }

    #[test]
    fn links_by_dependency_rollback_and_schema() {
        let mut c1 = change("CHG-1");
        c1.schemas = vec!["orders".into()];
        let mut c2 = change("CHG-2");
        c2.depends_on = vec![ChangeRef("CHG-1".into())];
        let c3 = change("CHG-3");
        let mut c4 = change("CHG-4");
        c4.schemas = vec!["orders".into()];
        let mut c5 = change("CHG-5");
        c5.rollback_with = vec!["CHG-6".into()];
        let c6 = change("CHG-6");
        let mut c7 = change("CHG-7");
        c7.depends_on = vec![ChangeRef("other/CHG-1".into())];
        let b = bundle_changes(&release(vec![c1, c2, c3, c4, c5, c6, c7]));
        assert_eq!(b.bundles.len(), 2);
        assert_eq!(b.bundles[0].changes, ids(&["CHG-1", "CHG-2", "CHG-4"]));
        let reasons: Vec<String> = b.bundles[0].links.iter().map(ToString::to_string).collect();
        assert_eq!(
            reasons,
            [
                "CHG-2 depends on CHG-1",
                "CHG-1 and CHG-4 both alter schema `orders`"
            ]
        );
        assert_eq!(b.bundles[1].changes, ids(&["CHG-5", "CHG-6"]));
        assert_eq!(
            b.bundles[1].links[0].to_string(),
            "CHG-5 must roll back with CHG-6"
        );
        assert_eq!(b.independent, ids(&["CHG-3", "CHG-7"]));
        assert!(b.decouple.is_empty(), "{b}");
    }

    #[test]
    fn units_with_different_test_constraints_are_split() {
        let c1 = change("CHG-1");
        let mut c2 = change("CHG-2");
        c2.depends_on = vec![ChangeRef("CHG-1".into())];
        let mut c3 = change("CHG-3");
        c3.test_constraints = vec!["visual-review".into()];
        let c4 = change("CHG-4");
        let b = bundle_changes(&release(vec![c1, c2, c3, c4]));
        assert_eq!(b.decouple.len(), 1, "{b}");
        assert_eq!(b.decouple[0].changes, ids(&["CHG-3"]));
        assert!(
            b.decouple[0].reason.contains("(visual-review)")
                && b.decouple[0].reason.contains("(none)"),
            "{}",
            b.decouple[0].reason
        );
        let text = b.to_string();
        assert!(
            text.contains("bundle CHG-1, CHG-2 (tests: none)\n  - CHG-2 depends on CHG-1"),
            "{text}"
        );
        assert!(text.contains("ship separately: CHG-3"), "{text}");
    }

    #[test]
    fn same_constraints_everywhere_means_no_split() {
        let mut c1 = change("CHG-1");
        c1.test_constraints = vec!["load-test".into()];
        let mut c2 = change("CHG-2");
        c2.test_constraints = vec!["load-test".into()];
        let b = bundle_changes(&release(vec![c1, c2]));
        assert!(b.bundles.is_empty());
        assert_eq!(b.independent, ids(&["CHG-1", "CHG-2"]));
        assert!(b.decouple.is_empty());
        assert_eq!(bundle_changes(&release(vec![])), Bundling::default());
    }
}
