//! Expand/contract classification, table-driven over real migration statements of each
//! dialect: every row checks the class and the kind of change, and the object it names.
//! covers M8.2

use release_core::migration::{
    ChangeClass, ChangeKind, MigrationSet, SqlDialect, classify_sql, classify_statement,
};

use ChangeClass::{Contract, Expand, Neutral};
use ChangeKind as K;

/// (statement, class, kind of the first change, object of the first change)
type Row = (&'static str, ChangeClass, ChangeKind, &'static str);

fn check(dialect: SqlDialect, rows: &[Row]) {
    let mut failures = Vec::new();
    for (sql, class, kind, object) in rows {
        let got = classify_statement(sql, dialect).unwrap();
        let first = got.changes.first();
        if got.class != *class
            || first.map(|c| c.kind) != Some(*kind)
            || first.map(|c| c.object.as_str()) != Some(*object)
        {
            failures.push(format!(
                "{sql}\n  expected {class} {kind:?} `{object}`, got {} {:?}",
                got.class, got.changes
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const POSTGRES: &[Row] = &[
    (
        "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric NOT NULL)",
        Expand,
        K::CreateTable,
        "orders",
    ),
    (
        "CREATE TABLE IF NOT EXISTS billing.invoices (id int)",
        Expand,
        K::CreateTable,
        "billing.invoices",
    ),
    (
        "CREATE UNLOGGED TABLE scratch AS SELECT * FROM orders",
        Expand,
        K::CreateTable,
        "scratch",
    ),
    (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_created_idx ON orders (created_at)",
        Expand,
        K::CreateIndex,
        "orders_created_idx on orders",
    ),
    (
        "CREATE INDEX ON ONLY orders USING btree (customer_id)",
        Expand,
        K::CreateIndex,
        "on orders",
    ),
    (
        "CREATE UNIQUE INDEX orders_ref_key ON orders (ref)",
        Contract,
        K::CreateUniqueIndex,
        "orders_ref_key on orders",
    ),
    (
        "CREATE VIEW open_orders AS SELECT * FROM orders WHERE closed_at IS NULL",
        Expand,
        K::CreateObject,
        "view open_orders",
    ),
    (
        "CREATE OR REPLACE VIEW open_orders AS SELECT id FROM orders",
        Contract,
        K::ReplaceObject,
        "view open_orders",
    ),
    (
        "CREATE TYPE order_state AS ENUM ('new', 'paid')",
        Expand,
        K::CreateObject,
        "type order_state",
    ),
    (
        "CREATE OR REPLACE FUNCTION total(o orders) RETURNS numeric AS $$ SELECT o.total; $$ LANGUAGE sql",
        Contract,
        K::ReplaceObject,
        "function total",
    ),
    (
        "CREATE SEQUENCE invoice_no START 1000",
        Expand,
        K::CreateObject,
        "sequence invoice_no",
    ),
    (
        "ALTER TABLE orders ADD COLUMN note text",
        Expand,
        K::AddColumn,
        "orders.note",
    ),
    (
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS currency char(3) NOT NULL DEFAULT 'EUR'",
        Expand,
        K::AddColumnWithDefault,
        "orders.currency",
    ),
    (
        "ALTER TABLE orders ADD COLUMN region text NOT NULL",
        Contract,
        K::AddNotNullColumn,
        "orders.region",
    ),
    (
        "ALTER TABLE orders ADD COLUMN seq bigserial",
        Expand,
        K::AddColumnWithDefault,
        "orders.seq",
    ),
    (
        "ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS ((total * 100)::bigint) STORED NOT NULL",
        Expand,
        K::AddColumnWithDefault,
        "orders.total_cents",
    ),
    (
        "ALTER TABLE ONLY orders DROP COLUMN legacy_total",
        Contract,
        K::DropColumn,
        "orders.legacy_total",
    ),
    (
        "ALTER TABLE orders DROP COLUMN IF EXISTS legacy_total CASCADE",
        Contract,
        K::DropColumn,
        "orders.legacy_total",
    ),
    (
        "ALTER TABLE orders RENAME COLUMN total TO amount",
        Contract,
        K::RenameColumn,
        "orders.total",
    ),
    (
        "ALTER TABLE orders RENAME TO purchases",
        Contract,
        K::RenameTable,
        "orders to purchases",
    ),
    (
        "ALTER TABLE orders ALTER COLUMN total TYPE bigint USING total::bigint",
        Contract,
        K::AlterColumnType,
        "orders.total",
    ),
    (
        "ALTER TABLE orders ALTER total SET DATA TYPE numeric(12,2)",
        Contract,
        K::AlterColumnType,
        "orders.total",
    ),
    (
        "ALTER TABLE orders ALTER COLUMN note SET NOT NULL",
        Contract,
        K::SetNotNull,
        "orders.note",
    ),
    (
        "ALTER TABLE orders ALTER COLUMN legacy_total DROP NOT NULL",
        Expand,
        K::DropNotNull,
        "orders.legacy_total",
    ),
    (
        "ALTER TABLE orders ALTER COLUMN currency SET DEFAULT 'EUR'",
        Expand,
        K::SetDefault,
        "orders.currency",
    ),
    (
        "ALTER TABLE orders ALTER COLUMN currency DROP DEFAULT",
        Contract,
        K::DropDefault,
        "orders.currency",
    ),
    (
        "ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID",
        Contract,
        K::AddConstraint,
        "orders.orders_customer_fk",
    ),
    (
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_fk",
        Neutral,
        K::ValidateConstraint,
        "orders.orders_customer_fk",
    ),
    (
        "ALTER TABLE orders DROP CONSTRAINT orders_total_check",
        Contract,
        K::DropConstraint,
        "orders.orders_total_check",
    ),
    (
        "ALTER TABLE orders SET SCHEMA archive",
        Contract,
        K::MoveObject,
        "orders",
    ),
    (
        "ALTER TABLE orders OWNER TO app",
        Neutral,
        K::Maintenance,
        "orders",
    ),
    (
        "ALTER TYPE order_state ADD VALUE IF NOT EXISTS 'refunded'",
        Expand,
        K::AddEnumValue,
        "type order_state",
    ),
    (
        "ALTER TYPE order_state RENAME VALUE 'paid' TO 'settled'",
        Contract,
        K::RenameObject,
        "type order_state",
    ),
    (
        "ALTER INDEX orders_ref_key RENAME TO orders_reference_key",
        Contract,
        K::RenameObject,
        "index orders_ref_key",
    ),
    (
        "ALTER SEQUENCE invoice_no RESTART WITH 5000",
        Neutral,
        K::Maintenance,
        "sequence invoice_no",
    ),
    (
        "DROP TABLE IF EXISTS legacy_orders CASCADE",
        Contract,
        K::DropTable,
        "legacy_orders",
    ),
    (
        "DROP INDEX CONCURRENTLY IF EXISTS orders_created_idx",
        Contract,
        K::DropIndex,
        "orders_created_idx",
    ),
    (
        "DROP VIEW open_orders",
        Contract,
        K::DropObject,
        "view open_orders",
    ),
    (
        "DROP MATERIALIZED VIEW sales_by_day",
        Contract,
        K::DropObject,
        "materialized view sales_by_day",
    ),
    (
        "TRUNCATE TABLE audit_log",
        Contract,
        K::Truncate,
        "audit_log",
    ),
    (
        "UPDATE orders SET currency = 'EUR' WHERE currency IS NULL",
        Neutral,
        K::DataChange,
        "UPDATE orders SET",
    ),
    (
        "INSERT INTO order_states (name) VALUES ('new'), ('paid')",
        Neutral,
        K::DataChange,
        "INSERT INTO order_states",
    ),
    (
        "WITH moved AS (DELETE FROM orders WHERE closed RETURNING *) INSERT INTO archive SELECT * FROM moved",
        Neutral,
        K::DataChange,
        "WITH moved AS",
    ),
    (
        "SET lock_timeout = '5s'",
        Neutral,
        K::Session,
        "SET lock_timeout",
    ),
    (
        "COMMENT ON COLUMN orders.note IS 'free text; shown to support'",
        Neutral,
        K::Comment,
        "COMMENT ON COLUMN",
    ),
    (
        "GRANT SELECT ON orders TO reporting",
        Expand,
        K::Grant,
        "GRANT SELECT ON",
    ),
    (
        "REVOKE UPDATE ON orders FROM reporting",
        Contract,
        K::Revoke,
        "REVOKE UPDATE ON",
    ),
    (
        "DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$",
        Contract,
        K::Unrecognized,
        "DO",
    ),
    (
        "\"ALTER\" TABLE x",
        Contract,
        K::Unrecognized,
        "\"ALTER\" TABLE x",
    ),
];

const SQLITE: &[Row] = &[
    (
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL NOT NULL)",
        Expand,
        K::CreateTable,
        "orders",
    ),
    (
        "CREATE TABLE IF NOT EXISTS [order items] (id INTEGER)",
        Expand,
        K::CreateTable,
        "order items",
    ),
    (
        "CREATE TEMP TABLE scratch AS SELECT * FROM orders",
        Expand,
        K::CreateTable,
        "scratch",
    ),
    (
        "CREATE VIRTUAL TABLE notes_fts USING fts5(body)",
        Expand,
        K::CreateTable,
        "notes_fts",
    ),
    (
        "CREATE INDEX IF NOT EXISTS orders_created ON orders (created_at)",
        Expand,
        K::CreateIndex,
        "orders_created on orders",
    ),
    (
        "CREATE INDEX main.orders_partial ON orders (state) WHERE state <> 'closed'",
        Expand,
        K::CreateIndex,
        "main.orders_partial on orders",
    ),
    (
        "CREATE UNIQUE INDEX orders_ref ON orders (ref)",
        Contract,
        K::CreateUniqueIndex,
        "orders_ref on orders",
    ),
    (
        "CREATE VIEW open_orders AS SELECT * FROM orders WHERE closed_at IS NULL",
        Expand,
        K::CreateObject,
        "view open_orders",
    ),
    (
        "CREATE TRIGGER orders_touch AFTER UPDATE ON orders BEGIN UPDATE orders SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id; END",
        Expand,
        K::CreateObject,
        "trigger orders_touch",
    ),
    (
        "ALTER TABLE orders ADD COLUMN note TEXT",
        Expand,
        K::AddColumn,
        "orders.note",
    ),
    (
        "ALTER TABLE orders ADD note TEXT REFERENCES notes(id)",
        Expand,
        K::AddColumn,
        "orders.note",
    ),
    (
        "ALTER TABLE orders ADD COLUMN currency TEXT NOT NULL DEFAULT 'EUR'",
        Expand,
        K::AddColumnWithDefault,
        "orders.currency",
    ),
    (
        "ALTER TABLE orders ADD COLUMN region TEXT NOT NULL",
        Contract,
        K::AddNotNullColumn,
        "orders.region",
    ),
    (
        "ALTER TABLE `orders` ADD COLUMN \"weird name\" INTEGER",
        Expand,
        K::AddColumn,
        "orders.weird name",
    ),
    (
        "ALTER TABLE orders DROP COLUMN legacy_total",
        Contract,
        K::DropColumn,
        "orders.legacy_total",
    ),
    (
        "ALTER TABLE orders DROP legacy_total",
        Contract,
        K::DropColumn,
        "orders.legacy_total",
    ),
    (
        "ALTER TABLE orders RENAME COLUMN total TO amount",
        Contract,
        K::RenameColumn,
        "orders.total",
    ),
    (
        "ALTER TABLE orders RENAME total TO amount",
        Contract,
        K::RenameColumn,
        "orders.total",
    ),
    (
        "ALTER TABLE orders_new RENAME TO orders",
        Contract,
        K::RenameTable,
        "orders_new to orders",
    ),
    ("DROP TABLE orders", Contract, K::DropTable, "orders"),
    (
        "DROP TABLE IF EXISTS main.legacy",
        Contract,
        K::DropTable,
        "main.legacy",
    ),
    (
        "DROP INDEX IF EXISTS orders_created",
        Contract,
        K::DropIndex,
        "orders_created",
    ),
    (
        "DROP VIEW open_orders",
        Contract,
        K::DropObject,
        "view open_orders",
    ),
    (
        "DROP TRIGGER IF EXISTS orders_touch",
        Contract,
        K::DropObject,
        "trigger orders_touch",
    ),
    (
        "INSERT INTO orders_new (id, total) SELECT id, total FROM orders",
        Neutral,
        K::DataChange,
        "INSERT INTO orders_new",
    ),
    (
        "REPLACE INTO settings (key, value) VALUES ('a', 'b;c')",
        Neutral,
        K::DataChange,
        "REPLACE INTO settings",
    ),
    (
        "UPDATE orders SET currency = 'EUR' WHERE currency IS NULL",
        Neutral,
        K::DataChange,
        "UPDATE orders SET",
    ),
    (
        "DELETE FROM sessions WHERE expires_at < :now",
        Neutral,
        K::DataChange,
        "DELETE FROM sessions",
    ),
    (
        "PRAGMA foreign_keys = OFF",
        Neutral,
        K::Session,
        "PRAGMA foreign_keys",
    ),
    ("BEGIN IMMEDIATE", Neutral, K::Session, "BEGIN IMMEDIATE"),
    ("ANALYZE orders", Neutral, K::Maintenance, "ANALYZE orders"),
    ("VACUUM", Neutral, K::Maintenance, "VACUUM"),
    (
        "ATTACH DATABASE 'other.db' AS other",
        Contract,
        K::Unrecognized,
        "ATTACH DATABASE",
    ),
];

#[test]
fn postgres_statements_are_classified() {
    assert!(POSTGRES.len() >= 20);
    check(SqlDialect::Postgres, POSTGRES);
}

#[test]
fn sqlite_statements_are_classified() {
    assert!(SQLITE.len() >= 20);
    check(SqlDialect::Sqlite, SQLITE);
}

#[test]
fn an_alter_table_with_several_actions_is_as_contracting_as_its_worst_action() {
    let c = classify_statement(
        "ALTER TABLE orders ADD COLUMN note text, ALTER COLUMN total TYPE bigint, \
         ADD COLUMN tags text[] DEFAULT '{}'",
        SqlDialect::Postgres,
    )
    .unwrap();
    assert_eq!(c.class, Contract);
    let kinds: Vec<_> = c.changes.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [K::AddColumn, K::AlterColumnType, K::AddColumnWithDefault]
    );
}

#[test]
fn the_sqlite_table_rebuild_is_a_contract() {
    // SQLite changes a column's type by rebuilding the table (its documented 12 steps).
    let sql = "PRAGMA foreign_keys = OFF;\n\
               CREATE TABLE orders_new (id INTEGER PRIMARY KEY, total INTEGER NOT NULL);\n\
               INSERT INTO orders_new SELECT id, CAST(total * 100 AS INTEGER) FROM orders;\n\
               DROP TABLE orders;\n\
               ALTER TABLE orders_new RENAME TO orders;\n\
               PRAGMA foreign_key_check;";
    let classified = classify_sql(sql, SqlDialect::Sqlite).unwrap();
    let classes: Vec<_> = classified.iter().map(|(_, c)| c.class).collect();
    assert_eq!(
        classes,
        [Neutral, Expand, Neutral, Contract, Contract, Neutral]
    );
    assert_eq!(classified[3].0.line, 4);
}

#[test]
fn a_set_classifies_only_the_migrations_a_release_ships() {
    let set = MigrationSet::from_files(
        SqlDialect::Postgres,
        [
            (
                "V001__orders.sql",
                "-- +up\nCREATE TABLE orders (id int, legacy int);\n-- +down\nDROP TABLE orders;\n",
            ),
            (
                "V002__note.sql",
                "-- +up\nALTER TABLE orders ADD COLUMN note text;\n-- +down\nALTER TABLE orders DROP COLUMN note;\n",
            ),
            (
                "V003__drop_legacy.sql",
                "-- the contract step\n-- +up\nUPDATE orders SET note = 'x';\nALTER TABLE orders DROP COLUMN legacy;\n-- +down\nALTER TABLE orders ADD COLUMN legacy int;\n",
            ),
        ],
    )
    .unwrap();
    let shipped = set.classify(1);
    assert_eq!(
        shipped
            .iter()
            .map(|m| (m.version, m.class))
            .collect::<Vec<_>>(),
        [(2, Expand), (3, Contract)]
    );
    assert_eq!(
        shipped[1].contract_reasons(),
        ["V003__drop_legacy.sql:4: drops column orders.legacy"]
    );
}
