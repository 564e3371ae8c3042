//! SQLite: migrations, rehearsals on clones made with the online backup API, and backups.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::digest::Sha256Digest;
use release_core::migration::{CheckOutcome, MigrationSet, RehearsalReport};
use release_core::model::DataCheck;
use release_core::plugin::{
    Backup, BackupRecord, BackupRequest, BackupVerification, MigrateReply, MigrateRequest,
    MigrationDirection, Migrator, RehearsalRequest,
};
use rusqlite::backup::StepResult;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::check_history;
use super::config::{SqliteDatabaseConfig, check_identifier};
use super::dump::{Dump, Fields, compare_with_original, normalize_sql, versions};
use super::error::DataError;

/// One SQLite database file: a [`Migrator`] and a [`Backup`].
#[derive(Debug)]
pub struct SqliteDatabase {
    config: SqliteDatabaseConfig,
    counter: AtomicU64,
}

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl SqliteDatabase {
    /// Checks the configuration (see [`SqliteDatabaseConfig::build`]).
    pub fn new(config: SqliteDatabaseConfig) -> Result<Self, DataError> {
        check_identifier("history table", &config.history_table)?;
        Ok(Self {
            config,
            counter: AtomicU64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SqliteDatabaseConfig {
        &self.config
    }

    fn shown(&self) -> String {
        self.config.path.display().to_string()
    }

    /// The digest of the live database: its schema and data, canonically (all tables).
    pub async fn digest(&self) -> Result<Sha256Digest, DataError> {
        let path = self.config.path.clone();
        blocking(move || {
            let conn = open(&path, true)?;
            Ok(dump(&conn, &path_name(&path), &[])?.digest())
        })
        .await
    }

    /// A unique scratch or backup file name.
    fn unique(&self, prefix: &str, now: DateTime<Utc>) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!(
            "{prefix}-{}-{}-{n}.sqlite",
            now.format("%Y%m%dT%H%M%S%.9fZ"),
            std::process::id()
        )
    }

    fn backup_path(&self, id: &str) -> Result<PathBuf, DataError> {
        let ok = !id.is_empty()
            && id.ends_with(".sqlite")
            && !id.contains(['/', '\\'])
            && !id.starts_with('.');
        if !ok {
            return Err(DataError::BadBackupId { id: id.to_owned() });
        }
        Ok(self.config.backup_dir.join(id))
    }
}

fn path_name(path: &Path) -> String {
    path.display().to_string()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DataError> + Send + 'static,
) -> Result<T, DataError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(DataError::Config(format!(
            "a SQLite task stopped unexpectedly: {e}"
        )))
    })
}

fn sqlite_err(
    database: &str,
    action: impl Into<String>,
) -> impl FnOnce(rusqlite::Error) -> DataError {
    let database = database.to_owned();
    let action = action.into();
    move |source| DataError::Sqlite {
        database,
        action,
        source,
    }
}

fn open(path: &Path, must_exist: bool) -> Result<Connection, DataError> {
    let name = path_name(path);
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if !must_exist {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite_err(&name, "open it"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite_err(&name, "set the busy timeout"))?;
    Ok(conn)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copies `from` into `to` with the online backup API (pages copied while others write;
/// SQLite restarts the copy when the source changes under it).
fn online_copy(from: &Connection, to: &mut Connection, database: &str) -> Result<(), DataError> {
    let backup = rusqlite::backup::Backup::new(from, to)
        .map_err(sqlite_err(database, "start an online backup"))?;
    let mut busy = 0u32;
    loop {
        match backup
            .step(256)
            .map_err(sqlite_err(database, "copy pages"))?
        {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => {
                busy += 1;
                if busy > 200 {
                    return Err(DataError::Config(format!(
                        "{database} stayed locked for the whole online backup; retry when writers pause"
                    )));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            _ => {}
        }
    }
}

/// The canonical dump: per table its columns (by name), foreign keys, indexes and rows
/// (ordered by every column); views and triggers by their normalised SQL. Tables in `exclude`
/// are left out; SQLite's own `sqlite_%` objects always are.
fn dump(conn: &Connection, database: &str, exclude: &[&str]) -> Result<Dump, DataError> {
    let err = |action: &str| sqlite_err(database, action.to_owned());
    let mut objects: Vec<(String, String, Option<String>)> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT type, name, sql FROM sqlite_schema \
                 WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
            )
            .map_err(err("read the schema"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(err("read the schema"))?;
        for row in rows {
            objects.push(row.map_err(err("read the schema"))?);
        }
    }
    let mut out = Dump::default();
    let index_sql: BTreeMap<String, Option<String>> = objects
        .iter()
        .filter(|(t, _, _)| t == "index")
        .map(|(_, n, s)| (n.clone(), s.clone()))
        .collect();
    for (kind, name, sql) in &objects {
        if exclude.contains(&name.as_str()) {
            continue;
        }
        match kind.as_str() {
            "table" => {
                let virtual_table = sql.as_deref().is_some_and(|s| {
                    s.trim_start()
                        .to_ascii_uppercase()
                        .starts_with("CREATE VIRTUAL")
                });
                let (schema, columns) = table_schema(conn, database, name, &index_sql)?;
                out.sections.insert(format!("table {name}"), schema);
                if !virtual_table {
                    out.sections.insert(
                        format!("data {name}"),
                        table_rows(conn, database, name, &columns)?,
                    );
                }
            }
            "view" | "trigger" => {
                let mut f = Fields::new(kind);
                f.text(&normalize_sql(sql.as_deref().unwrap_or_default()));
                out.sections.insert(format!("{kind} {name}"), f.finish());
            }
            _ => {} // indexes are part of their table
        }
    }
    Ok(out)
}

/// A table's shape, and its column names in name order.
fn table_schema(
    conn: &Connection,
    database: &str,
    table: &str,
    index_sql: &BTreeMap<String, Option<String>>,
) -> Result<(Sha256Digest, Vec<String>), DataError> {
    let err = |action: &str| sqlite_err(database, format!("{action} of table {table}"));
    let mut f = Fields::new("sqlite-table/v1");
    let mut columns: Vec<(String, String, i64, Option<String>, i64, i64)> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1)",
            )
            .map_err(err("read the columns"))?;
        let rows = stmt
            .query_map([table], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(err("read the columns"))?;
        for row in rows {
            columns.push(row.map_err(err("read the columns"))?);
        }
    }
    columns.sort();
    for (name, ty, notnull, default, pk, hidden) in &columns {
        f.text("column");
        f.text(name);
        f.text(&ty.to_ascii_uppercase());
        f.text(&notnull.to_string());
        f.text(
            &default
                .as_deref()
                .map_or("<none>".to_owned(), normalize_sql),
        );
        f.text(&pk.to_string());
        f.text(&hidden.to_string());
    }
    let mut keys: Vec<String> = Vec::new();
    {
        let mut stmt = conn
            .prepare(
                "SELECT id, seq, \"table\", \"from\", \"to\", on_update, on_delete, \"match\" \
                 FROM pragma_foreign_key_list(?1)",
            )
            .map_err(err("read the foreign keys"))?;
        let rows = stmt
            .query_map([table], |r| {
                let to: Option<String> = r.get(4)?;
                Ok(format!(
                    "{}|{}|{}|{}|{}|{}|{}",
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    to.unwrap_or_default(),
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?
                ))
            })
            .map_err(err("read the foreign keys"))?;
        for row in rows {
            keys.push(row.map_err(err("read the foreign keys"))?);
        }
    }
    keys.sort();
    for k in &keys {
        f.text("foreign_key");
        f.text(k);
    }
    let mut indexes: Vec<String> = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)")
            .map_err(err("read the indexes"))?;
        let list: Vec<(String, i64, String, i64)> = stmt
            .query_map([table], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(err("read the indexes"))?
            .collect::<Result<_, _>>()
            .map_err(err("read the indexes"))?;
        for (name, unique, origin, partial) in list {
            let mut cols = conn
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .map_err(err("read an index"))?;
            let cols: Vec<Option<String>> = cols
                .query_map([&name], |r| r.get(0))
                .map_err(err("read an index"))?
                .collect::<Result<_, _>>()
                .map_err(err("read an index"))?;
            let cols: Vec<String> = cols
                .into_iter()
                .map(|c| c.unwrap_or_else(|| "<expression>".to_owned()))
                .collect();
            // Automatic indexes (of UNIQUE and PRIMARY KEY constraints) are named by SQLite.
            let shown = if origin == "c" {
                name.clone()
            } else {
                origin.clone()
            };
            let mut described = format!("{shown}|{unique}|{}", cols.join(","));
            if partial == 1 || cols.iter().any(|c| c == "<expression>") {
                let sql = index_sql.get(&name).cloned().flatten().unwrap_or_default();
                described.push('|');
                described.push_str(&normalize_sql(&sql));
            }
            indexes.push(described);
        }
    }
    indexes.sort();
    for i in &indexes {
        f.text("index");
        f.text(i);
    }
    Ok((f.finish(), columns.into_iter().map(|c| c.0).collect()))
}

/// A table's rows: every column (in name order), rows ordered by every column.
fn table_rows(
    conn: &Connection,
    database: &str,
    table: &str,
    columns: &[String],
) -> Result<Sha256Digest, DataError> {
    let err = |action: &str| sqlite_err(database, format!("{action} of table {table}"));
    let mut f = Fields::new("sqlite-rows/v1");
    if columns.is_empty() {
        return Ok(f.finish());
    }
    let list = columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let order = (1..=columns.len())
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {list} FROM {} ORDER BY {order}", quote(table));
    let mut stmt = conn.prepare(&sql).map_err(err("read the rows"))?;
    let mut rows = stmt.query([]).map_err(err("read the rows"))?;
    let mut count = 0u64;
    while let Some(row) = rows.next().map_err(err("read the rows"))? {
        count += 1;
        for i in 0..columns.len() {
            match row.get_ref(i).map_err(err("read a value"))? {
                ValueRef::Null => f.tagged(0, &[]),
                ValueRef::Integer(v) => f.tagged(1, &v.to_be_bytes()),
                ValueRef::Real(v) => f.tagged(2, &v.to_bits().to_be_bytes()),
                ValueRef::Text(v) => f.tagged(3, v),
                ValueRef::Blob(v) => f.tagged(4, v),
            }
        }
    }
    f.text(&format!("rows {count}"));
    Ok(f.finish())
}

/// The versions recorded as applied, with their checksums; empty without a history table.
fn applied(
    conn: &Connection,
    database: &str,
    history: &str,
) -> Result<BTreeMap<u64, String>, DataError> {
    let exists: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [history],
            |r| r.get(0),
        )
        .map_err(sqlite_err(database, "look for the history table"))?;
    if !exists {
        return Ok(BTreeMap::new());
    }
    let mut stmt = conn
        .prepare(&format!("SELECT version, checksum FROM {}", quote(history)))
        .map_err(sqlite_err(database, "read the history"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(sqlite_err(database, "read the history"))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (version, checksum) = row.map_err(sqlite_err(database, "read the history"))?;
        out.insert(u64::try_from(version).unwrap_or(0), checksum);
    }
    Ok(out)
}

/// Foreign key violations, summarised (`3 rows of orders reference missing customers`).
fn foreign_key_violations(conn: &Connection, database: &str) -> Result<Vec<String>, DataError> {
    let mut stmt = conn
        .prepare("SELECT \"table\", parent, count(*) FROM pragma_foreign_key_check GROUP BY 1, 2 ORDER BY 1, 2")
        .map_err(sqlite_err(database, "check foreign keys"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} row(s) of {} reference missing {}",
                r.get::<_, i64>(2)?,
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?
            ))
        })
        .map_err(sqlite_err(database, "check foreign keys"))?;
    rows.collect::<Result<_, _>>()
        .map_err(sqlite_err(database, "check foreign keys"))
}

/// Runs the pending up migrations, each in its own transaction, with foreign keys off during
/// the change (SQLite's documented procedure for schema changes) and — when `guard` — a
/// `foreign_key_check` before each commit that rolls back a migration leaving orphans.
fn migrate_up(
    conn: &Connection,
    database: &str,
    history: &str,
    set: &MigrationSet,
    now: DateTime<Utc>,
    guard: bool,
) -> Result<MigrateReply, DataError> {
    let err = |action: &str| sqlite_err(database, action.to_owned());
    let done = applied(conn, database, history)?;
    check_history(database, set, &done)?;
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {} (version INTEGER PRIMARY KEY, description TEXT NOT NULL, \
         checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
        quote(history)
    ))
    .map_err(err("create the history table"))?;
    let foreign_keys: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(err("read PRAGMA foreign_keys"))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(err("turn foreign keys off"))?;
    let mut ran = Vec::new();
    let result = (|| {
        for m in set
            .migrations()
            .iter()
            .filter(|m| !done.contains_key(&m.version()))
        {
            conn.execute_batch("BEGIN IMMEDIATE")
                .map_err(err("begin"))?;
            let step = (|| {
                for s in m.up_statements() {
                    conn.execute_batch(&s.text)
                        .map_err(|e| DataError::Statement {
                            database: database.to_owned(),
                            version: m.version(),
                            file: m.file().to_owned(),
                            line: s.line,
                            message: e.to_string(),
                        })?;
                }
                if guard {
                    let violations = foreign_key_violations(conn, database)?;
                    if !violations.is_empty() {
                        return Err(DataError::ForeignKeys {
                            database: database.to_owned(),
                            version: m.version(),
                            violations: violations.join("; "),
                        });
                    }
                }
                conn.execute(
                    &format!(
                        "INSERT INTO {} (version, description, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
                        quote(history)
                    ),
                    rusqlite::params![
                        i64::try_from(m.version()).unwrap_or(i64::MAX),
                        m.description(),
                        m.checksum().to_string(),
                        now.to_rfc3339()
                    ],
                )
                .map_err(err("record the migration"))?;
                Ok(())
            })();
            match step {
                Ok(()) => {
                    conn.execute_batch("COMMIT").map_err(err("commit"))?;
                    ran.push(m.version());
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        Ok(())
    })();
    if foreign_keys {
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(err("turn foreign keys back on"))?;
    }
    result?;
    let current = applied(conn, database, history)?
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0);
    Ok(MigrateReply::new(ran, current))
}

/// Reverts applied migrations above `to`, newest first, each in its own transaction.
fn migrate_down(
    conn: &Connection,
    database: &str,
    history: &str,
    set: &MigrationSet,
    to: u64,
) -> Result<MigrateReply, DataError> {
    let err = |action: &str| sqlite_err(database, action.to_owned());
    let done = applied(conn, database, history)?;
    check_history(database, set, &done)?;
    let foreign_keys: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .map_err(err("read PRAGMA foreign_keys"))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")
        .map_err(err("turn foreign keys off"))?;
    let mut ran = Vec::new();
    let result = (|| {
        for version in done.keys().rev().filter(|v| **v > to) {
            let Some(m) = set.get(*version) else { continue };
            conn.execute_batch("BEGIN IMMEDIATE")
                .map_err(err("begin"))?;
            let step = (|| {
                for s in m.down_statements() {
                    conn.execute_batch(&s.text)
                        .map_err(|e| DataError::Statement {
                            database: database.to_owned(),
                            version: m.version(),
                            file: m.file().to_owned(),
                            line: s.line,
                            message: format!("(down) {e}"),
                        })?;
                }
                conn.execute(
                    &format!("DELETE FROM {} WHERE version = ?1", quote(history)),
                    [i64::try_from(m.version()).unwrap_or(i64::MAX)],
                )
                .map_err(err("remove the migration from the history"))?;
                Ok(())
            })();
            match step {
                Ok(()) => {
                    conn.execute_batch("COMMIT").map_err(err("commit"))?;
                    ran.push(m.version());
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        Ok(())
    })();
    if foreign_keys {
        conn.execute_batch("PRAGMA foreign_keys = ON")
            .map_err(err("turn foreign keys back on"))?;
    }
    result?;
    let current = applied(conn, database, history)?
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0);
    Ok(MigrateReply::new(ran, current))
}

fn count_rows(conn: &Connection, table: &str) -> Result<u64, String> {
    conn.query_row(&format!("SELECT count(*) FROM {}", quote(table)), [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| u64::try_from(n).unwrap_or(0))
    .map_err(|e| e.to_string())
}

/// The declared checks, after the up pass (`before`: row counts before it).
fn run_checks(
    conn: &Connection,
    checks: &[DataCheck],
    before: &BTreeMap<String, Result<u64, String>>,
) -> Vec<CheckOutcome> {
    checks
        .iter()
        .map(|check| {
            let name = check.name();
            match check {
                DataCheck::RowCount { table, min, max } => match count_rows(conn, table) {
                    Err(e) => CheckOutcome::fail(name, format!("cannot count {table}: {e}")),
                    Ok(n) if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) => {
                        CheckOutcome::fail(
                            name,
                            format!(
                                "{table} has {n} rows, outside [{}, {}]",
                                min.map_or("-".to_owned(), |m| m.to_string()),
                                max.map_or("-".to_owned(), |m| m.to_string())
                            ),
                        )
                    }
                    Ok(n) => CheckOutcome::pass(name, format!("{table} has {n} rows")),
                },
                DataCheck::RowCountUnchanged { table } => {
                    match (before.get(table), count_rows(conn, table)) {
                        (Some(Ok(b)), Ok(a)) if *b == a => {
                            CheckOutcome::pass(name, format!("{table} kept its {a} rows"))
                        }
                        (Some(Ok(b)), Ok(a)) => CheckOutcome::fail(
                            name,
                            format!("{table} had {b} rows before the up migrations and {a} after"),
                        ),
                        (_, Err(e)) => {
                            CheckOutcome::fail(name, format!("cannot count {table}: {e}"))
                        }
                        (b, _) => CheckOutcome::fail(
                            name,
                            format!("cannot count {table} before the up migrations: {b:?}"),
                        ),
                    }
                }
                DataCheck::Query { sql, .. } => {
                    let found = (|| {
                        let mut stmt = conn.prepare(sql)?;
                        let columns = stmt.column_count();
                        let mut rows = stmt.query([])?;
                        let mut n = 0u64;
                        let mut first = None;
                        while let Some(row) = rows.next()? {
                            if first.is_none() {
                                let values: Vec<String> = (0..columns)
                                    .map(|i| match row.get_ref(i) {
                                        Ok(ValueRef::Null) => "NULL".to_owned(),
                                        Ok(ValueRef::Integer(v)) => v.to_string(),
                                        Ok(ValueRef::Real(v)) => v.to_string(),
                                        Ok(ValueRef::Text(v)) => {
                                            String::from_utf8_lossy(v).into_owned()
                                        }
                                        Ok(ValueRef::Blob(v)) => format!("<{} bytes>", v.len()),
                                        Err(e) => e.to_string(),
                                    })
                                    .collect();
                                first = Some(values.join(", "));
                            }
                            n += 1;
                        }
                        Ok::<_, rusqlite::Error>((n, first))
                    })();
                    match found {
                        Ok((0, _)) => CheckOutcome::pass(name, "the query returned no rows"),
                        Ok((n, first)) => CheckOutcome::fail(
                            name,
                            format!(
                                "the query returned {n} offending row(s), the first: ({})",
                                first.unwrap_or_default()
                            ),
                        ),
                        Err(e) => CheckOutcome::fail(name, format!("the query failed: {e}")),
                    }
                }
            }
        })
        .collect()
}

fn remove_database_files(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The rehearsal on an open clone; the caller drops the clone.
fn rehearse_on(
    conn: &Connection,
    database: &str,
    history: &str,
    request: &RehearsalRequest,
) -> Result<RehearsalReport, DataError> {
    let exclude = [history];
    let original = dump(conn, database, &exclude)?;
    let mut report = RehearsalReport::new(
        request.component.clone(),
        request.environment.clone(),
        request.resource.clone(),
        request.set.digest(),
        original.digest(),
        request.now,
    );
    let before_version = applied(conn, database, history)?
        .keys()
        .next_back()
        .copied()
        .unwrap_or(0);
    let before: BTreeMap<String, Result<u64, String>> = request
        .checks
        .iter()
        .filter_map(|c| match c {
            DataCheck::RowCountUnchanged { table } => {
                Some((table.clone(), count_rows(conn, table)))
            }
            _ => None,
        })
        .collect();
    match migrate_up(conn, database, history, &request.set, request.now, false) {
        Ok(reply) => {
            report.applied = reply.versions.clone();
            report.checks.push(CheckOutcome::pass(
                "up",
                format!("applied {}", versions(&reply.versions)),
            ));
        }
        Err(e) => {
            report.checks.push(CheckOutcome::fail("up", e.to_string()));
            return Ok(report);
        }
    }
    let violations = foreign_key_violations(conn, database)?;
    report.checks.push(if violations.is_empty() {
        CheckOutcome::pass(
            "referential_integrity",
            "PRAGMA foreign_key_check found no orphans",
        )
    } else {
        CheckOutcome::fail("referential_integrity", violations.join("; "))
    });
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sqlite_err(database, "check integrity"))?;
    report.checks.push(if integrity == "ok" {
        CheckOutcome::pass("integrity", "PRAGMA integrity_check: ok")
    } else {
        CheckOutcome::fail("integrity", format!("PRAGMA integrity_check: {integrity}"))
    });
    report
        .checks
        .extend(run_checks(conn, &request.checks, &before));
    match migrate_down(conn, database, history, &request.set, before_version) {
        Ok(reply) => report.checks.push(CheckOutcome::pass(
            "down",
            format!("reverted {}", versions(&reply.versions)),
        )),
        Err(e) => {
            report
                .checks
                .push(CheckOutcome::fail("down", e.to_string()));
            return Ok(report);
        }
    }
    let restored = dump(conn, database, &exclude)?;
    compare_with_original(&mut report, &original, &restored);
    Ok(report)
}

#[async_trait]
impl Migrator for SqliteDatabase {
    async fn migrate(&self, request: &MigrateRequest) -> release_core::Result<MigrateReply> {
        let path = self.config.path.clone();
        let history = self.config.history_table.clone();
        let request = request.clone();
        let database = self.shown();
        Ok(blocking(move || {
            let conn = open(&path, false)?;
            match request.direction {
                MigrationDirection::Up => {
                    migrate_up(&conn, &database, &history, &request.set, request.now, true)
                }
                MigrationDirection::Down { to } => {
                    migrate_down(&conn, &database, &history, &request.set, to)
                }
                _ => Err(DataError::Config("unknown migration direction".to_owned())),
            }
        })
        .await?)
    }

    async fn rehearse(&self, request: &RehearsalRequest) -> release_core::Result<RehearsalReport> {
        let path = self.config.path.clone();
        let history = self.config.history_table.clone();
        let scratch_dir = self
            .config
            .scratch_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let scratch = scratch_dir.join(self.unique("rehearsal", request.now));
        let request = request.clone();
        Ok(blocking(move || {
            std::fs::create_dir_all(&scratch_dir).map_err(|source| DataError::Io {
                action: "create the scratch directory".to_owned(),
                path: scratch_dir.display().to_string(),
                source,
            })?;
            let source = open(&path, true)?;
            let mut clone = open(&scratch, false)?;
            let clone_name = path_name(&scratch);
            let result = online_copy(&source, &mut clone, &path_name(&path))
                .and_then(|()| rehearse_on(&clone, &clone_name, &history, &request));
            drop(clone);
            remove_database_files(&scratch);
            result
        })
        .await?)
    }
}

#[async_trait]
impl Backup for SqliteDatabase {
    async fn snapshot(
        &self,
        request: &BackupRequest,
        now: DateTime<Utc>,
    ) -> release_core::Result<BackupRecord> {
        let path = self.config.path.clone();
        let dir = self.config.backup_dir.clone();
        let stem = path.file_stem().map_or_else(
            || "database".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        );
        let id = self.unique(&stem, now);
        let target = dir.join(&id);
        let digest = blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|source| DataError::Io {
                action: "create the backup directory".to_owned(),
                path: dir.display().to_string(),
                source,
            })?;
            let source = open(&path, true)?;
            let mut copy = open(&target, false)?;
            online_copy(&source, &mut copy, &path_name(&path))?;
            Ok(dump(&copy, &path_name(&target), &[])?.digest())
        })
        .await?;
        Ok(BackupRecord::new(id, request.clone(), digest, now))
    }

    async fn restore(&self, record: &BackupRecord) -> release_core::Result<()> {
        let from = self.backup_path(&record.id)?;
        let path = self.config.path.clone();
        Ok(blocking(move || {
            if !from.is_file() {
                return Err(DataError::Io {
                    action: "find the backup".to_owned(),
                    path: from.display().to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
            let source = open(&from, true)?;
            let mut live = open(&path, false)?;
            online_copy(&source, &mut live, &path_name(&path))
        })
        .await?)
    }

    async fn verify(&self, record: &BackupRecord) -> release_core::Result<BackupVerification> {
        let from = self.backup_path(&record.id)?;
        let expected = record.digest;
        let id = record.id.clone();
        Ok(blocking(move || {
            let conn = Connection::open_with_flags(&from, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .map_err(sqlite_err(&path_name(&from), "open the backup"))?;
            let integrity: String = conn
                .query_row("PRAGMA integrity_check", [], |r| r.get(0))
                .map_err(sqlite_err(
                    &path_name(&from),
                    "check the backup's integrity",
                ))?;
            let found = dump(&conn, &path_name(&from), &[])?.digest();
            let verified = integrity == "ok" && found == expected;
            Ok(BackupVerification {
                id,
                verified,
                message: format!(
                    "integrity_check: {integrity}; digest {found} (recorded {expected})"
                ),
            })
        })
        .await?)
    }

    async fn live_digest(
        &self,
        _request: &BackupRequest,
    ) -> release_core::Result<Option<Sha256Digest>> {
        Ok(Some(self.digest().await?))
    }
}
