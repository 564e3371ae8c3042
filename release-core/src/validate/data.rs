//! Data-safety rules (M8.2, M2.5 for migrated databases): migration declarations, the pinned
//! digest, and compatibility during phased rollouts.
//!
//! Rules:
//! - A component's `migrations.database` is a declared shared resource and is listed in the
//!   component's `shared_resources` (so its deployments hold the database's lock, M2.5).
//! - A release may declare `migrations` only for a component that declares them, and a
//!   pinned `digest` must be the digest of the files.
//! - **Contract with old-shape code:** a contract migration may not ship in the same release
//!   as another component that uses the same database. That component's running version was
//!   built for the old shape and keeps serving until its own rollout (which comes after the
//!   migration), and rolling it back would bring the old code back onto the contracted
//!   schema. Expand/contract says: ship the code that stops using the old shape first, the
//!   contract in a later release. The migrating component itself is exempt here: its new
//!   version is the code that goes with the migration, and the next rule covers its old one.
//! - **Contract under a phased strategy:** a contract migration may not run while old and new
//!   versions of its component serve together: canary, blue-green and rolling are phased
//!   (custom strategies count as phased: the engine cannot know otherwise).
//! - **Breaking API change under a phased strategy:** a release `api_version` whose major
//!   (for 0.x, minor) is above the platform's `api_version` is breaking; old and new clients
//!   would meet both during a phased rollout.
//!
//! Only the migrations a release ships (`migrations.after`) are classified. The sets come
//! from [`ValidateOptions::migrations`](super::ValidateOptions) or, in
//! [`validate_set`](super::validate_set), from each component's directory relative to its
//! platform manifest; without a set the compatibility rules have nothing to classify.

use std::collections::BTreeMap;

use super::{Pointer, Violation, ViolationKind as K};
use crate::id::ComponentId;
use crate::manifest::escape_segment;
use crate::migration::{ChangeClass, MigrationSet};
use crate::model::{Platform, Release, StrategySpec};

/// Platform rules on migration declarations.
pub(super) fn platform(p: &Platform) -> Vec<Violation> {
    let mut out = Vec::new();
    let name = &p.metadata.name;
    for (i, c) in p.components.iter().enumerate() {
        let Some(m) = &c.migrations else { continue };
        let at = Pointer::platform(name.clone(), format!("/components/{i}/migrations/database"));
        if p.shared_resource(m.database.as_str()).is_none() {
            out.push(Violation::new(
                K::UnknownMigrationDatabase {
                    component: c.id.clone(),
                    database: m.database.clone(),
                },
                at,
            ));
        } else if !c.shared_resources.contains(&m.database) {
            out.push(Violation::new(
                K::MigrationDatabaseNotShared {
                    component: c.id.clone(),
                    database: m.database.clone(),
                },
                at,
            ));
        }
    }
    out
}

/// The strategy's name when it lets old and new versions serve together.
fn phased(strategy: Option<&StrategySpec>) -> Option<String> {
    match strategy? {
        StrategySpec::AllAtOnce {} => None,
        StrategySpec::Rolling(_) => Some("rolling".to_owned()),
        StrategySpec::BlueGreen(_) => Some("blue_green".to_owned()),
        StrategySpec::Canary(_) => Some("canary".to_owned()),
        StrategySpec::Custom { name, .. } => Some(name.clone()),
    }
}

/// True when `to` breaks clients of `from` (semver: a higher major; below 1.0 a higher minor).
pub(crate) fn breaking(from: &semver::Version, to: &semver::Version) -> bool {
    if from.major == 0 && to.major == 0 {
        to.minor > from.minor
    } else {
        to.major > from.major
    }
}

/// Release rules: declarations, pinned digests, contract migrations and breaking APIs.
pub(super) fn release(
    p: &Platform,
    r: &Release,
    sets: &BTreeMap<ComponentId, MigrationSet>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let at = |path: String| Pointer::release(r.id().clone(), path);
    for (id, version) in &r.components {
        let Some(component) = p.component(id.as_str()) else {
            continue; // reported as an unknown component
        };
        let entry = format!("/components/{}", escape_segment(id.as_str()));
        let strategy = phased(component.strategy.as_ref());

        if let (Some(from), Some(to)) = (&component.api_version, &version.api_version)
            && breaking(from, to)
            && let Some(strategy) = &strategy
        {
            out.push(Violation::new(
                K::BreakingApiInPhasedRollout {
                    component: id.clone(),
                    from: from.to_string(),
                    to: to.to_string(),
                    strategy: strategy.clone(),
                },
                at(format!("{entry}/api_version")),
            ));
        }

        let Some(declared) = &component.migrations else {
            if version.migrations.is_some() {
                out.push(Violation::new(
                    K::MigrationsNotDeclared {
                        component: id.clone(),
                    },
                    at(format!("{entry}/migrations")),
                ));
            }
            continue;
        };
        let Some(set) = sets.get(id) else { continue };
        let shipped = version.migrations.clone().unwrap_or_default();
        let migrations_at = if version.migrations.is_some() {
            format!("{entry}/migrations")
        } else {
            entry.clone()
        };
        if let Some(pinned) = shipped.digest
            && pinned != set.digest()
        {
            out.push(Violation::new(
                K::MigrationDigestMismatch {
                    component: id.clone(),
                    pinned: pinned.to_string(),
                    actual: set.digest().to_string(),
                },
                at(format!("{entry}/migrations/digest")),
            ));
        }
        for migration in set.classify(shipped.after) {
            if migration.class != ChangeClass::Contract {
                continue;
            }
            let change = migration
                .contract_reasons()
                .into_iter()
                .next()
                .unwrap_or_else(|| migration.file.clone());
            let label = format!("V{:03} {}", migration.version, migration.description);
            if let Some(strategy) = &strategy {
                out.push(Violation::new(
                    K::ContractInPhasedRollout {
                        component: id.clone(),
                        migration: label.clone(),
                        change: change.clone(),
                        strategy: strategy.clone(),
                    },
                    at(migrations_at.clone()),
                ));
            }
            for other in r.components.keys().filter(|o| *o != id) {
                let uses = p
                    .component(other.as_str())
                    .is_some_and(|o| o.shared_resources.contains(&declared.database));
                if uses {
                    out.push(Violation::new(
                        K::ContractWithOldShapeCode {
                            component: id.clone(),
                            migration: label.clone(),
                            change: change.clone(),
                            database: declared.database.clone(),
                            code: other.clone(),
                        },
                        at(migrations_at.clone()),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::breaking;

    #[test]
    fn breaking_follows_semver() {
        let v = |s: &str| semver::Version::parse(s).unwrap();
        assert!(breaking(&v("1.4.2"), &v("2.0.0")));
        assert!(!breaking(&v("1.4.2"), &v("1.9.0")));
        assert!(!breaking(&v("2.0.0"), &v("1.0.0")));
        assert!(breaking(&v("0.3.1"), &v("0.4.0")));
        assert!(!breaking(&v("0.3.1"), &v("0.3.9")));
        assert!(breaking(&v("0.9.0"), &v("1.0.0")));
    }
}
