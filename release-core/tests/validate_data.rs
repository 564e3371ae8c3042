//! Compatibility rules of releases that change data (M8.2): contract migrations and breaking
//! API changes against the rollout strategy and the code shipped with them.
//! covers M8.2, M2.5

use release_core::manifest::{Format, ManifestSet, parse_str};
use release_core::migration::{MigrationSet, SqlDialect};
use release_core::validate::{ValidateOptions, ViolationKind, validate_set};

fn manifests(strategy: &str, release_components: &str) -> String {
    // The one change touches exactly the components shipped (a delta release).
    let shipped: Vec<&str> = release_components
        .lines()
        .filter_map(|l| l.trim().split(':').next())
        .filter(|n| !n.is_empty())
        .collect();
    let shipped = shipped.join(", ");
    format!(
        r#"
apiVersion: release/v1
kind: Platform
metadata: {{ name: shop }}
components:
  - id: orders
    owner: {{ primary: a@x, backup: b@x }}
    shared_resources: [orders-db]
    api_version: 1.4.0
    strategy: {strategy}
    migrations: {{ database: orders-db, directory: db, dialect: postgres }}
  - id: billing
    owner: {{ primary: a@x, backup: b@x }}
    shared_resources: [orders-db]
  - id: web
    owner: {{ primary: a@x, backup: b@x }}
shared_resources:
  - {{ id: orders-db, tier: production }}
environments:
  - {{ name: production, tier: production }}
lifecycle:
  phases:
    - {{ name: release, environments: [production] }}
---
apiVersion: release/v1
kind: Release
metadata: {{ id: shop-2 }}
version: 2.0.0
platform: shop
type: delta
release_manager: {{ primary: a@x, backup: c@x }}
change_requests:
  - {{ id: CR-1, kind: normal, state: approved, configuration_items: [orders, billing, web] }}
changes:
  - {{ id: CHG-1, request: CR-1, components: [{shipped}] }}
components:
{release_components}
rollback:
  watch_window: 5m
  triggers: [ {{ error_rate: {{ above: 0.05 }} }} ]
"#
    )
}

fn set() -> MigrationSet {
    set_of(3)
}

/// The first `n` migrations: V001 creates, V002 expands, V003 contracts.
fn set_of(n: usize) -> MigrationSet {
    let files = [
        (
            "db/V001__orders.sql",
            "-- +up\nCREATE TABLE orders (id int, legacy_total numeric);\n-- +down\nDROP TABLE orders;\n",
        ),
        (
            "db/V002__note.sql",
            "-- +up\nALTER TABLE orders ADD COLUMN note text;\n-- +down\nALTER TABLE orders DROP COLUMN note;\n",
        ),
        (
            "db/V003__drop_legacy.sql",
            "-- +up\nALTER TABLE orders DROP COLUMN legacy_total;\n-- +down\nALTER TABLE orders ADD COLUMN legacy_total numeric;\n",
        ),
    ];
    MigrationSet::from_files(SqlDialect::Postgres, files.into_iter().take(n)).unwrap()
}

/// The rules reported (variant names), sorted.
fn violations(strategy: &str, release_components: &str) -> Vec<String> {
    violations_with(set(), strategy, release_components)
}

fn violations_with(set: MigrationSet, strategy: &str, release_components: &str) -> Vec<String> {
    let mut manifest = ManifestSet::default();
    manifest.extend(
        parse_str(
            &manifests(strategy, release_components),
            "shop.yaml",
            Format::Yaml,
        )
        .unwrap(),
    );
    let options = ValidateOptions::default().migration_set("orders", set);
    match validate_set(&manifest, &options) {
        Ok(()) => Vec::new(),
        Err(v) => {
            let mut names: Vec<String> = v
                .iter()
                .map(|v| {
                    let debug = format!("{:?}", v.kind);
                    debug
                        .split([' ', '{'])
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            names.sort();
            names
        }
    }
}

#[test]
fn an_expand_release_may_go_out_under_a_canary_with_other_code() {
    let canary = "{ canary: { steps: [ { set_weight: 20 } ] } }";
    let shipped =
        "  orders: { version: 2.0.0, migrations: { after: 1 } }\n  billing: { version: 2.0.0 }";
    // V002 only: an expansion.
    let got = violations_with(set_of(2), canary, shipped);
    assert!(got.is_empty(), "{got:?}");
    // V002 and V003: the contract is refused twice (canary, and billing's old code).
    let got = violations_with(set_of(3), canary, shipped);
    assert_eq!(got, ["ContractInPhasedRollout", "ContractWithOldShapeCode"]);
}

#[test]
fn a_contract_migration_is_refused_under_each_phased_strategy() {
    for strategy in [
        "{ canary: { steps: [ { set_weight: 20 } ] } }",
        "{ blue_green: {} }",
        "{ rolling: { max_surge: 1, max_unavailable: 0 } }",
    ] {
        let got = violations(
            strategy,
            "  orders: { version: 2.0.0, migrations: { after: 2 } }",
        );
        assert_eq!(got, ["ContractInPhasedRollout"], "{strategy}");
    }
    // All at once: old and new never serve together.
    let got = violations(
        "{ all_at_once: {} }",
        "  orders: { version: 2.0.0, migrations: { after: 2 } }",
    );
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn a_contract_migration_is_refused_next_to_code_of_the_same_database() {
    let got = violations(
        "{ all_at_once: {} }",
        "  orders: { version: 2.0.0, migrations: { after: 2 } }\n  billing: { version: 2.0.0 }\n  web: { version: 2.0.0 }",
    );
    // billing uses orders-db; web does not.
    assert_eq!(got, ["ContractWithOldShapeCode"]);
}

#[test]
fn a_breaking_api_change_cannot_be_phased() {
    let phased = "{ canary: { steps: [ { set_weight: 20 } ] } }";
    let entry = |api: &str| {
        format!("  orders: {{ version: 2.0.0, api_version: {api}, migrations: {{ after: 3 }} }}")
    };
    assert_eq!(
        violations(phased, &entry("2.0.0")),
        ["BreakingApiInPhasedRollout"]
    );
    assert!(violations(phased, &entry("1.9.0")).is_empty());
    assert!(violations("{ all_at_once: {} }", &entry("2.0.0")).is_empty());
}

#[test]
fn the_violation_names_the_migration_the_change_and_the_place() {
    let mut manifest = ManifestSet::default();
    manifest.extend(
        parse_str(
            &manifests(
                "{ blue_green: {} }",
                "  orders: { version: 2.0.0, migrations: { after: 2 } }",
            ),
            "shop.yaml",
            Format::Yaml,
        )
        .unwrap(),
    );
    let options = ValidateOptions::default().migration_set("orders", set());
    let err = validate_set(&manifest, &options).unwrap_err();
    let v = &err.as_slice()[0];
    assert!(matches!(
        &v.kind,
        ViolationKind::ContractInPhasedRollout { strategy, migration, .. }
            if strategy == "blue_green" && migration == "V003 drop_legacy"
    ));
    assert_eq!(
        v.to_string(),
        "shop.yaml:37:29: contract migration V003 drop_legacy of `orders` \
         (db/V003__drop_legacy.sql:2: drops column orders.legacy_total) would run while old and \
         new versions serve together under its blue_green strategy; fix: ship the expand part \
         now and the contract in a later release, or deploy `orders` all at once"
    );
}

#[test]
fn release_migrations_need_a_declaration_in_the_platform() {
    let got = violations(
        "{ all_at_once: {} }",
        "  orders: { version: 2.0.0, migrations: { after: 3 } }\n  web: { version: 2.0.0, migrations: { after: 1 } }",
    );
    assert_eq!(got, ["MigrationsNotDeclared"]);
}

#[test]
fn the_json_schema_describes_migrations_and_api_versions() {
    let schema = release_core::manifest::json_schema().to_string();
    for field in [
        "migrations",
        "api_version",
        "row_count_unchanged",
        "migration_rehearsal",
        "dialect",
    ] {
        assert!(schema.contains(field), "{field} missing from the schema");
    }
}
