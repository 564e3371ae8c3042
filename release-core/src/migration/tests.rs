use super::*;

fn one(name: &str, text: &str) -> Result<MigrationSet, MigrationError> {
    MigrationSet::from_files(SqlDialect::Sqlite, [(name, text)])
}

#[test]
fn one_file_migrations_are_split_at_their_markers() {
    let set = one(
        "V007__add_note.sql",
        "-- adds a note\n-- +up\nALTER TABLE t ADD COLUMN note TEXT;\n\n-- +Down\nALTER TABLE t DROP COLUMN note;\n",
    )
    .unwrap();
    let m = &set.migrations()[0];
    assert_eq!((m.version(), m.description()), (7, "add_note"));
    assert_eq!(m.up_statements()[0].line, 3);
    assert_eq!(m.down_statements()[0].line, 6);
    assert_eq!(m.label(), "V007 add_note");
    assert!(m.reversible());
}

#[test]
fn paired_files_and_one_file_migrations_mix_in_version_order() {
    let set = MigrationSet::from_files(
        SqlDialect::Sqlite,
        [
            ("dir/V2__b.up.sql", "CREATE TABLE b (x);"),
            ("dir/V2__b.down.sql", ""),
            (
                "dir/V1__a.sql",
                "-- +up\nCREATE TABLE a (x);\n-- +down\nDROP TABLE a;",
            ),
        ],
    )
    .unwrap();
    let versions: Vec<u64> = set.migrations().iter().map(Migration::version).collect();
    assert_eq!(versions, [1, 2]);
    assert!(!set.get(2).unwrap().reversible());
    assert_eq!(set.last_version(), 2);
    assert_eq!(set.after(1).len(), 1);
    assert_eq!(set.after(0).len(), 2);
    assert!(set.after(2).is_empty());
}

#[test]
fn the_digest_covers_every_part_and_the_dialect() {
    let base = [
        (
            "V1__a.sql",
            "-- +up\nCREATE TABLE a (x);\n-- +down\nDROP TABLE a;\n",
        ),
        (
            "V2__b.sql",
            "-- +up\nCREATE TABLE b (x);\n-- +down\nDROP TABLE b;\n",
        ),
    ];
    let digest = MigrationSet::from_files(SqlDialect::Sqlite, base)
        .unwrap()
        .digest();
    // Same input, same digest; file order does not matter.
    let mut reversed = base;
    reversed.reverse();
    assert_eq!(
        MigrationSet::from_files(SqlDialect::Sqlite, reversed)
            .unwrap()
            .digest(),
        digest
    );
    let mut changed_down = base;
    changed_down[1].1 = "-- +up\nCREATE TABLE b (x);\n-- +down\nDROP TABLE IF EXISTS b;\n";
    let other = MigrationSet::from_files(SqlDialect::Sqlite, changed_down).unwrap();
    assert_ne!(other.digest(), digest);
    // The checksum is the up part's only: fixing a down does not change what was applied.
    assert_eq!(
        other.get(2).unwrap().checksum(),
        MigrationSet::from_files(SqlDialect::Sqlite, base)
            .unwrap()
            .get(2)
            .unwrap()
            .checksum()
    );
    assert_ne!(
        MigrationSet::from_files(SqlDialect::Postgres, base)
            .unwrap()
            .digest(),
        digest
    );
}

#[test]
fn bad_sets_get_typed_errors_naming_file_and_line() {
    let cases: Vec<(Result<MigrationSet, MigrationError>, &str)> = vec![
        (
            one("add_note.sql", "-- +up\nSELECT 1;\n-- +down\n"),
            "add_note.sql: not a migration file name",
        ),
        (
            one("V0__zero.sql", "-- +up\nSELECT 1;\n-- +down\n"),
            "V0__zero.sql: not a migration file name",
        ),
        (
            one("V1__a.txt.sql", "SELECT 1;"),
            "V1__a.txt.sql: no `-- +up` line",
        ),
        (
            one("V1__a.sql", "-- +up\nSELECT 1;\n"),
            "V1__a.sql: no `-- +down` line",
        ),
        (
            one("V1__a.sql", "SELECT 0;\n-- +up\nSELECT 1;\n-- +down\n"),
            "V1__a.sql:1: a statement before the `-- +up` line",
        ),
        (
            one("V1__a.sql", "-- +down\n-- +up\nSELECT 1;\n"),
            "V1__a.sql:1: `-- +down` comes before `-- +up`",
        ),
        (
            one("V1__a.sql", "-- +up\nSELECT 1;\n-- +up\n-- +down\n"),
            "V1__a.sql:3: a second `-- +up` line",
        ),
        (
            one("V1__a.sql", "-- +up\n-- nothing\n-- +down\nSELECT 1;\n"),
            "V1__a.sql: the up part has no statement",
        ),
        (
            one("V1__a.sql", "-- +up\nSELECT 1;\nSELECT 'open;\n-- +down\n"),
            "V1__a.sql:3: unterminated string",
        ),
        (
            MigrationSet::from_files(SqlDialect::Sqlite, [("V1__a.up.sql", "SELECT 1;")]),
            "V1__a.up.sql: no matching V1__a.down.sql",
        ),
        (
            MigrationSet::from_files(
                SqlDialect::Sqlite,
                [
                    ("V1__a.sql", "-- +up\nSELECT 1;\n-- +down\n"),
                    ("V001__b.sql", "-- +up\nSELECT 1;\n-- +down\n"),
                ],
            ),
            "V001__b.sql: version 1 is also used by V1__a.sql",
        ),
    ];
    for (result, expected) in cases {
        let message = result.unwrap_err().to_string();
        assert!(
            message.starts_with(expected),
            "{message}\n  expected: {expected}"
        );
    }
}

#[test]
fn a_directory_loads_and_ignores_other_files() {
    let dir = std::env::temp_dir().join(format!("release-core-migrations-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(dir.join("README.md"), "not sql").unwrap();
    std::fs::write(dir.join("nested/V9__ignored.sql"), "broken").unwrap();
    std::fs::write(
        dir.join("V001__a.sql"),
        "-- +up\nCREATE TABLE a (x);\n-- +down\nDROP TABLE a;\n",
    )
    .unwrap();
    let set = MigrationSet::load(&dir, SqlDialect::Sqlite).unwrap();
    assert_eq!(set.len(), 1);
    std::fs::remove_file(dir.join("V001__a.sql")).unwrap();
    let err = MigrationSet::load(&dir, SqlDialect::Sqlite).unwrap_err();
    assert!(matches!(err, MigrationError::Empty { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    let err = MigrationSet::load(&dir, SqlDialect::Sqlite).unwrap_err();
    assert!(matches!(err, MigrationError::Read { .. }), "{err}");
}
