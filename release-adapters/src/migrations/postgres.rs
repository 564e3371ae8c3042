//! PostgreSQL: migrations, rehearsals on cloned databases, and `pg_dump` backups.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::digest::Sha256Digest;
use release_core::migration::{CheckOutcome, Migration, MigrationSet, RehearsalReport};
use release_core::model::DataCheck;
use release_core::plugin::{
    Backup, BackupRecord, BackupRequest, BackupVerification, MigrateReply, MigrateRequest,
    MigrationDirection, Migrator, RehearsalRequest,
};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient, NoTls, SimpleQueryMessage};

use super::check_history;
use super::config::{CloneMethod, PostgresDatabaseConfig, check_identifier};
use super::dump::{Dump, Fields, compare_with_original, versions};
use super::error::DataError;

/// One PostgreSQL database: a [`Migrator`] and a [`Backup`].
pub struct PostgresDatabase {
    config: PostgresDatabaseConfig,
    connect: tokio_postgres::Config,
    database: String,
    counter: AtomicU64,
}

impl std::fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresDatabase")
            .field("database", &self.database)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Quotes an identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a possibly qualified name as written in a check (`orders`, `billing.invoices`).
fn quote_qualified(name: &str) -> String {
    name.split('.').map(quote).collect::<Vec<_>>().join(".")
}

impl PostgresDatabase {
    /// Checks the configuration (see [`PostgresDatabaseConfig::build`]).
    pub fn new(config: PostgresDatabaseConfig) -> Result<Self, DataError> {
        let connect: tokio_postgres::Config = config
            .url
            .parse()
            .map_err(|e| DataError::Config(format!("the database URL does not parse: {e}")))?;
        let database = connect
            .get_dbname()
            .ok_or_else(|| DataError::Config("the database URL names no database".to_owned()))?
            .to_owned();
        check_identifier("history table", &config.history_table)?;
        if config.schemas.is_empty() {
            return Err(DataError::Config(
                "`schemas` is empty; list the schemas the digest covers (`public`)".to_owned(),
            ));
        }
        for schema in &config.schemas {
            check_identifier("schema", schema)?;
        }
        Ok(Self {
            config,
            connect,
            database,
            counter: AtomicU64::new(0),
        })
    }

    /// The live database's name.
    pub fn database(&self) -> &str {
        &self.database
    }

    fn history(&self) -> String {
        format!(
            "{}.{}",
            quote(&self.config.schemas[0]),
            quote(&self.config.history_table)
        )
    }

    fn pg_err(
        &self,
        database: &str,
        action: impl Into<String>,
    ) -> impl FnOnce(tokio_postgres::Error) -> DataError {
        let database = database.to_owned();
        let action = action.into();
        move |source| DataError::Postgres {
            database,
            action,
            source,
        }
    }

    async fn connect_to(&self, database: &str) -> Result<Client, DataError> {
        let mut config = self.connect.clone();
        config.dbname(database);
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(self.pg_err(database, "connect"))?;
        tokio::spawn(async move {
            // The client sees a broken connection as errors on its next call.
            let _ = connection.await;
        });
        Ok(client)
    }

    /// The digest of the live database (every table, the history too).
    pub async fn digest(&self) -> Result<Sha256Digest, DataError> {
        let client = self.connect_to(&self.database).await?;
        Ok(self.dump(&client, &self.database, None).await?.digest())
    }

    /// A unique database or file name: `<prefix>_<n>` within PostgreSQL's 63 bytes.
    fn unique(&self, prefix: &str, now: DateTime<Utc>) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let suffix = format!(
            "_{}_{}_{n}",
            now.format("%Y%m%d%H%M%S%f"),
            std::process::id()
        );
        let keep = 63usize.saturating_sub(suffix.len());
        let prefix: String = prefix.chars().take(keep).collect();
        format!("{prefix}{suffix}")
    }

    /// The canonical dump: per table its columns (by name), constraints, indexes, triggers
    /// and rows (every column in name order, rows ordered by their text in the "C"
    /// collation); views, sequences (definitions, not values), enum types and functions. The
    /// history table is left out when `exclude` names it.
    async fn dump<C: GenericClient + Sync>(
        &self,
        client: &C,
        database: &str,
        exclude: Option<&str>,
    ) -> Result<Dump, DataError> {
        let schemas = &self.config.schemas;
        let err = |action: &str| self.pg_err(database, action.to_owned());
        let mut out = Dump::default();
        let tables = client
            .query(
                "SELECT n.nspname::text, c.relname::text, c.oid FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') ORDER BY 1, 2",
                &[schemas],
            )
            .await
            .map_err(err("list the tables"))?;
        for t in tables {
            let (schema, table): (String, String) = (t.get(0), t.get(1));
            let oid: u32 = t.get(2);
            if schema == self.config.schemas[0] && Some(table.as_str()) == exclude {
                continue;
            }
            let name = format!("{schema}.{table}");
            let mut f = Fields::new("postgres-table/v1");
            let columns = client
                .query(
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                     coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, \
                     a.attgenerated::text \
                     FROM pg_attribute a LEFT JOIN pg_attrdef d \
                       ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
                     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
                     ORDER BY 1",
                    &[&oid],
                )
                .await
                .map_err(err("read the columns"))?;
            let mut names = Vec::new();
            for c in &columns {
                let column: String = c.get(0);
                f.text("column");
                f.text(&column);
                f.text(c.get::<_, &str>(1));
                f.text(if c.get::<_, bool>(2) {
                    "not null"
                } else {
                    "null"
                });
                f.text(c.get::<_, &str>(3));
                f.text(c.get::<_, &str>(4));
                f.text(c.get::<_, &str>(5));
                names.push(column);
            }
            for (what, sql) in [
                (
                    "constraint",
                    "SELECT conname::text, pg_get_constraintdef(oid, true) FROM pg_constraint \
                     WHERE conrelid = $1 ORDER BY 1",
                ),
                (
                    "index",
                    "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1 ORDER BY 1",
                ),
                (
                    "trigger",
                    "SELECT tgname::text, pg_get_triggerdef(oid, true) FROM pg_trigger \
                     WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY 1",
                ),
            ] {
                let rows = client
                    .query(sql, &[&oid])
                    .await
                    .map_err(err(&format!("read the {what}s of {name}")))?;
                for r in rows {
                    f.text(what);
                    f.text(r.get::<_, &str>(0));
                    f.text(r.get::<_, &str>(1));
                }
            }
            out.sections.insert(format!("table {name}"), f.finish());

            let mut f = Fields::new("postgres-rows/v1");
            let list = if names.is_empty() {
                "NULL".to_owned()
            } else {
                names
                    .iter()
                    .map(|n| quote(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let rows = client
                .query(
                    &format!(
                        "SELECT r FROM (SELECT ROW({list})::text AS r FROM {}.{}) s \
                         ORDER BY r COLLATE \"C\"",
                        quote(&schema),
                        quote(&table)
                    ),
                    &[],
                )
                .await
                .map_err(err(&format!("read the rows of {name}")))?;
            for r in &rows {
                f.text(r.get::<_, &str>(0));
            }
            f.text(&format!("rows {}", rows.len()));
            out.sections.insert(format!("data {name}"), f.finish());
        }
        let others = [
            (
                "view",
                "SELECT n.nspname::text || '.' || c.relname::text, \
                 c.relkind::text || ' ' || pg_get_viewdef(c.oid, true) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = ANY($1) AND c.relkind IN ('v', 'm') ORDER BY 1",
            ),
            (
                "sequence",
                "SELECT n.nspname::text || '.' || c.relname::text, \
                 format_type(s.seqtypid, NULL) || ' ' || s.seqincrement || ' ' || s.seqstart \
                 || ' ' || s.seqmin || ' ' || s.seqmax || ' ' || s.seqcycle \
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = ANY($1) ORDER BY 1",
            ),
            (
                "type",
                "SELECT n.nspname::text || '.' || t.typname::text, \
                 string_agg(e.enumlabel::text, ',' ORDER BY e.enumsortorder) \
                 FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid \
                 JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE n.nspname = ANY($1) GROUP BY 1 ORDER BY 1",
            ),
            (
                "function",
                "SELECT n.nspname::text || '.' || p.proname::text || '(' \
                 || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE n.nspname = ANY($1) AND p.prokind IN ('f', 'p') \
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \
                 ORDER BY 1",
            ),
        ];
        for (what, sql) in others {
            let rows = client
                .query(sql, &[schemas])
                .await
                .map_err(err(&format!("read the {what}s")))?;
            for r in rows {
                let mut f = Fields::new(what);
                f.text(r.get::<_, &str>(1));
                out.sections
                    .insert(format!("{what} {}", r.get::<_, &str>(0)), f.finish());
            }
        }
        Ok(out)
    }

    async fn applied<C: GenericClient + Sync>(
        &self,
        client: &C,
        database: &str,
    ) -> Result<BTreeMap<u64, String>, DataError> {
        let exists = client
            .query_one(
                "SELECT to_regclass($1) IS NOT NULL",
                &[&format!(
                    "{}.{}",
                    quote(&self.config.schemas[0]),
                    quote(&self.config.history_table)
                )],
            )
            .await
            .map_err(self.pg_err(database, "look for the history table"))?
            .get::<_, bool>(0);
        if !exists {
            return Ok(BTreeMap::new());
        }
        let rows = client
            .query(
                &format!("SELECT version, checksum FROM {}", self.history()),
                &[],
            )
            .await
            .map_err(self.pg_err(database, "read the history"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
                    r.get::<_, String>(1),
                )
            })
            .collect())
    }

    /// Runs one part of a migration: in a transaction with its history row, or statement by
    /// statement when it holds statements PostgreSQL refuses inside one (`CONCURRENTLY`,
    /// `VACUUM`).
    async fn run_part(
        &self,
        client: &mut Client,
        database: &str,
        m: &Migration,
        up: bool,
        now: DateTime<Utc>,
    ) -> Result<(), DataError> {
        let statements = if up {
            m.up_statements()
        } else {
            m.down_statements()
        };
        let statement_err = |line: u32, e: tokio_postgres::Error| DataError::Statement {
            database: database.to_owned(),
            version: m.version(),
            file: m.file().to_owned(),
            line,
            message: format!(
                "{}{}",
                if up { "" } else { "(down) " },
                e.as_db_error()
                    .map_or_else(|| e.to_string(), ToString::to_string)
            ),
        };
        let record = if up {
            format!(
                "INSERT INTO {} (version, description, checksum, applied_at) VALUES ($1, $2, $3, $4)",
                self.history()
            )
        } else {
            format!("DELETE FROM {} WHERE version = $1", self.history())
        };
        let version = i64::try_from(m.version()).unwrap_or(i64::MAX);
        let checksum = m.checksum().to_string();
        let at = now.to_rfc3339();
        let description = m.description().to_owned();
        let outside_transaction = statements.iter().any(|s| {
            let head: Vec<String> = s
                .text
                .split_whitespace()
                .take(4)
                .map(str::to_ascii_uppercase)
                .collect();
            head.iter().any(|w| w == "CONCURRENTLY") || head.first().is_some_and(|w| w == "VACUUM")
        });
        if outside_transaction {
            for s in statements {
                client
                    .batch_execute(&s.text)
                    .await
                    .map_err(|e| statement_err(s.line, e))?;
            }
            if up {
                client
                    .execute(&record, &[&version, &description, &checksum, &at])
                    .await
            } else {
                client.execute(&record, &[&version]).await
            }
            .map_err(self.pg_err(database, "record the migration"))?;
            return Ok(());
        }
        let tx = client
            .transaction()
            .await
            .map_err(self.pg_err(database, "begin"))?;
        for s in statements {
            tx.batch_execute(&s.text)
                .await
                .map_err(|e| statement_err(s.line, e))?;
        }
        if up {
            tx.execute(&record, &[&version, &description, &checksum, &at])
                .await
        } else {
            tx.execute(&record, &[&version]).await
        }
        .map_err(self.pg_err(database, "record the migration"))?;
        tx.commit().await.map_err(self.pg_err(database, "commit"))
    }

    async fn migrate_on(
        &self,
        client: &mut Client,
        database: &str,
        set: &MigrationSet,
        direction: MigrationDirection,
        now: DateTime<Utc>,
    ) -> Result<MigrateReply, DataError> {
        // One migrator per database at a time (the engine's lock covers releases; this covers
        // hosts running a migration by hand).
        let key = format!("release-migrations:{}", self.config.history_table);
        client
            .execute("SELECT pg_advisory_lock(hashtext($1))", &[&key])
            .await
            .map_err(self.pg_err(database, "take the migration lock"))?;
        let result = self
            .migrate_locked(client, database, set, direction, now)
            .await;
        let _ = client
            .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&key])
            .await;
        result
    }

    async fn migrate_locked(
        &self,
        client: &mut Client,
        database: &str,
        set: &MigrationSet,
        direction: MigrationDirection,
        now: DateTime<Utc>,
    ) -> Result<MigrateReply, DataError> {
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} (version bigint PRIMARY KEY, \
                 description text NOT NULL, checksum text NOT NULL, applied_at text NOT NULL)",
                self.history()
            ))
            .await
            .map_err(self.pg_err(database, "create the history table"))?;
        let done = self.applied(&*client, database).await?;
        check_history(database, set, &done)?;
        let mut ran = Vec::new();
        match direction {
            MigrationDirection::Up => {
                for m in set
                    .migrations()
                    .iter()
                    .filter(|m| !done.contains_key(&m.version()))
                {
                    self.run_part(client, database, m, true, now).await?;
                    ran.push(m.version());
                }
            }
            MigrationDirection::Down { to } => {
                for version in done.keys().rev().filter(|v| **v > to) {
                    let Some(m) = set.get(*version) else { continue };
                    self.run_part(client, database, m, false, now).await?;
                    ran.push(*version);
                }
            }
            _ => return Err(DataError::Config("unknown migration direction".to_owned())),
        }
        let current = self
            .applied(&*client, database)
            .await?
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0);
        Ok(MigrateReply::new(ran, current))
    }

    /// Environment for `pg_dump` / `pg_restore`: the connection parameters, the password
    /// through `PGPASSWORD` (never on a command line).
    fn tool_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(host) = self.connect.get_hosts().first() {
            match host {
                tokio_postgres::config::Host::Tcp(h) => env.push(("PGHOST", h.clone())),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => {
                    env.push(("PGHOST", p.display().to_string()));
                }
            }
        }
        if let Some(port) = self.connect.get_ports().first() {
            env.push(("PGPORT", port.to_string()));
        }
        if let Some(user) = self.connect.get_user() {
            env.push(("PGUSER", user.to_owned()));
        }
        if let Some(password) = self.connect.get_password() {
            env.push(("PGPASSWORD", String::from_utf8_lossy(password).into_owned()));
        }
        env
    }

    async fn tool(&self, program: &str, args: &[String]) -> Result<(), DataError> {
        let output = tokio::process::Command::new(program)
            .args(args)
            .envs(self.tool_env())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|source| DataError::Io {
                action: format!("run {program}"),
                path: program.to_owned(),
                source,
            })?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        Err(DataError::Tool {
            tool: program.to_owned(),
            status: output.status.to_string(),
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
        })
    }

    async fn pg_dump(
        &self,
        database: &str,
        file: &Path,
        snapshot: Option<&str>,
    ) -> Result<(), DataError> {
        let mut args = vec![
            "--format=custom".to_owned(),
            "--no-owner".to_owned(),
            format!("--file={}", file.display()),
            format!("--dbname={database}"),
        ];
        if let Some(snapshot) = snapshot {
            args.push(format!("--snapshot={snapshot}"));
        }
        self.tool(&self.config.pg_dump, &args).await
    }

    async fn pg_restore(&self, database: &str, file: &Path) -> Result<(), DataError> {
        let args = vec![
            "--no-owner".to_owned(),
            "--exit-on-error".to_owned(),
            format!("--dbname={database}"),
            file.display().to_string(),
        ];
        self.tool(&self.config.pg_restore, &args).await
    }

    async fn maintenance(&self) -> Result<Client, DataError> {
        self.connect_to(&self.config.maintenance_database).await
    }

    async fn create_database(&self, name: &str, template: Option<&str>) -> Result<(), DataError> {
        let client = self.maintenance().await?;
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {} TEMPLATE {}", quote(name), quote(t)),
            None => format!("CREATE DATABASE {}", quote(name)),
        };
        client
            .batch_execute(&sql)
            .await
            .map_err(self.pg_err(name, "create the database"))
    }

    async fn drop_database(&self, name: &str) -> Result<(), DataError> {
        let client = self.maintenance().await?;
        client
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote(name)
            ))
            .await
            .map_err(self.pg_err(name, "drop the database"))
    }

    /// A dump of a consistent snapshot of `database`, with the digest of that snapshot.
    async fn dump_to_file(&self, database: &str, file: &Path) -> Result<Sha256Digest, DataError> {
        let mut client = self.connect_to(database).await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(self.pg_err(database, "begin a snapshot"))?;
        let snapshot: String = tx
            .query_one("SELECT pg_export_snapshot()", &[])
            .await
            .map_err(self.pg_err(database, "export a snapshot"))?
            .get(0);
        let digest = self.dump(&tx, database, None).await?.digest();
        self.pg_dump(database, file, Some(&snapshot)).await?;
        tx.commit()
            .await
            .map_err(self.pg_err(database, "end the snapshot"))?;
        Ok(digest)
    }

    fn scratch_file(&self, name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{name}.dump"))
    }

    /// Clones the live database into `scratch` by the configured method.
    async fn clone_into(&self, scratch: &str) -> Result<&'static str, DataError> {
        if self.config.clone != CloneMethod::Dump {
            match self.create_database(scratch, Some(&self.database)).await {
                Ok(()) => return Ok("template"),
                Err(DataError::Postgres { source, .. })
                    if source.code() == Some(&SqlState::OBJECT_IN_USE) =>
                {
                    if self.config.clone == CloneMethod::Template {
                        return Err(self.busy().await);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.create_database(scratch, None).await?;
        let file = self.scratch_file(scratch);
        let result = async {
            self.dump_to_file(&self.database, &file).await?;
            self.pg_restore(scratch, &file).await
        }
        .await;
        let _ = std::fs::remove_file(&file);
        result.map(|()| "dump")
    }

    /// The error for a source other sessions use.
    async fn busy(&self) -> DataError {
        let found = async {
            let client = self.maintenance().await.ok()?;
            let row = client
                .query_one(
                    "SELECT count(*), coalesce(string_agg(DISTINCT nullif(application_name, ''), ', '), '') \
                     FROM pg_stat_activity WHERE datname = $1",
                    &[&self.database],
                )
                .await
                .ok()?;
            Some((row.get::<_, i64>(0), row.get::<_, String>(1)))
        }
        .await;
        let (sessions, applications) = found.unwrap_or((0, String::new()));
        DataError::SourceBusy {
            database: self.database.clone(),
            sessions,
            applications: if applications.is_empty() {
                "unnamed".to_owned()
            } else {
                applications
            },
        }
    }

    /// Validates every NOT VALID foreign key and check constraint (in a transaction that is
    /// rolled back, so the clone is unchanged); the violations found.
    async fn constraint_violations(
        &self,
        client: &mut Client,
        database: &str,
    ) -> Result<(usize, Vec<String>), DataError> {
        let pending = client
            .query(
                "SELECT c.conrelid::regclass::text, c.conname::text FROM pg_constraint c \
                 JOIN pg_namespace n ON n.oid = c.connamespace \
                 WHERE NOT c.convalidated AND c.contype IN ('f', 'c') AND n.nspname = ANY($1) \
                 ORDER BY 1, 2",
                &[&self.config.schemas],
            )
            .await
            .map_err(self.pg_err(database, "list unvalidated constraints"))?;
        let mut violations = Vec::new();
        for row in &pending {
            let (table, constraint): (String, String) = (row.get(0), row.get(1));
            let tx = client
                .transaction()
                .await
                .map_err(self.pg_err(database, "begin"))?;
            if let Err(e) = tx
                .batch_execute(&format!(
                    "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
                    quote(&constraint)
                ))
                .await
            {
                let message = e.as_db_error().map_or_else(
                    || e.to_string(),
                    |d| {
                        format!(
                            "{}{}",
                            d.message(),
                            d.detail().map(|x| format!(" ({x})")).unwrap_or_default()
                        )
                    },
                );
                violations.push(format!("{table}.{constraint}: {message}"));
            }
            let _ = tx.rollback().await;
        }
        Ok((pending.len(), violations))
    }

    async fn count(client: &Client, table: &str) -> Result<u64, String> {
        client
            .query_one(
                &format!("SELECT count(*) FROM {}", quote_qualified(table)),
                &[],
            )
            .await
            .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
            .map_err(|e| {
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            })
    }

    async fn run_checks(
        client: &Client,
        checks: &[DataCheck],
        before: &BTreeMap<String, Result<u64, String>>,
    ) -> Vec<CheckOutcome> {
        let mut out = Vec::new();
        for check in checks {
            let name = check.name();
            out.push(match check {
                DataCheck::RowCount { table, min, max } => match Self::count(client, table).await {
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
                    match (before.get(table), Self::count(client, table).await) {
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
                DataCheck::Query { sql, .. } => match client.simple_query(sql).await {
                    Err(e) => CheckOutcome::fail(
                        name,
                        format!(
                            "the query failed: {}",
                            e.as_db_error()
                                .map_or_else(|| e.to_string(), |d| d.message().to_owned())
                        ),
                    ),
                    Ok(messages) => {
                        let rows: Vec<_> = messages
                            .iter()
                            .filter_map(|m| match m {
                                SimpleQueryMessage::Row(r) => Some(r),
                                _ => None,
                            })
                            .collect();
                        match rows.first() {
                            None => CheckOutcome::pass(name, "the query returned no rows"),
                            Some(first) => {
                                let values: Vec<&str> = (0..first.len())
                                    .map(|i| first.get(i).unwrap_or("NULL"))
                                    .collect();
                                CheckOutcome::fail(
                                    name,
                                    format!(
                                        "the query returned {} offending row(s), the first: ({})",
                                        rows.len(),
                                        values.join(", ")
                                    ),
                                )
                            }
                        }
                    }
                },
            });
        }
        out
    }

    async fn rehearse_on(
        &self,
        scratch: &str,
        request: &RehearsalRequest,
        method: &str,
    ) -> Result<RehearsalReport, DataError> {
        let mut client = self.connect_to(scratch).await?;
        let exclude = Some(self.config.history_table.as_str());
        let original = self.dump(&client, scratch, exclude).await?;
        let mut report = RehearsalReport::new(
            request.component.clone(),
            request.environment.clone(),
            request.resource.clone(),
            request.set.digest(),
            original.digest(),
            request.now,
        );
        report.checks.push(CheckOutcome::pass(
            "clone",
            format!("cloned {} into {scratch} by {method}", self.database),
        ));
        let before_version = self
            .applied(&client, scratch)
            .await?
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0);
        let mut before = BTreeMap::new();
        for check in &request.checks {
            if let DataCheck::RowCountUnchanged { table } = check {
                before.insert(table.clone(), Self::count(&client, table).await);
            }
        }
        match self
            .migrate_on(
                &mut client,
                scratch,
                &request.set,
                MigrationDirection::Up,
                request.now,
            )
            .await
        {
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
        let (validated, violations) = self.constraint_violations(&mut client, scratch).await?;
        report.checks.push(if violations.is_empty() {
            CheckOutcome::pass(
                "referential_integrity",
                format!(
                    "foreign keys and checks hold ({validated} NOT VALID constraint(s) validated)"
                ),
            )
        } else {
            CheckOutcome::fail("referential_integrity", violations.join("; "))
        });
        report
            .checks
            .extend(Self::run_checks(&client, &request.checks, &before).await);
        match self
            .migrate_on(
                &mut client,
                scratch,
                &request.set,
                MigrationDirection::Down { to: before_version },
                request.now,
            )
            .await
        {
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
        let restored = self.dump(&client, scratch, exclude).await?;
        compare_with_original(&mut report, &original, &restored);
        Ok(report)
    }

    fn backup_path(&self, id: &str) -> Result<PathBuf, DataError> {
        let ok = !id.is_empty()
            && id.ends_with(".dump")
            && !id.contains(['/', '\\'])
            && !id.starts_with('.');
        if !ok {
            return Err(DataError::BadBackupId { id: id.to_owned() });
        }
        Ok(self.config.backup_dir.join(id))
    }
}

#[async_trait]
impl Migrator for PostgresDatabase {
    async fn migrate(&self, request: &MigrateRequest) -> release_core::Result<MigrateReply> {
        let mut client = self.connect_to(&self.database).await?;
        Ok(self
            .migrate_on(
                &mut client,
                &self.database,
                &request.set,
                request.direction,
                request.now,
            )
            .await?)
    }

    async fn rehearse(&self, request: &RehearsalRequest) -> release_core::Result<RehearsalReport> {
        let scratch = self.unique(&format!("{}_rehearsal", self.database), request.now);
        let method = self.clone_into(&scratch).await;
        let method = match method {
            Ok(m) => m,
            Err(e) => {
                let _ = self.drop_database(&scratch).await;
                return Err(e.into());
            }
        };
        let result = self.rehearse_on(&scratch, request, method).await;
        let dropped = self.drop_database(&scratch).await;
        let report = result?;
        dropped?;
        Ok(report)
    }
}

#[async_trait]
impl Backup for PostgresDatabase {
    async fn snapshot(
        &self,
        request: &BackupRequest,
        now: DateTime<Utc>,
    ) -> release_core::Result<BackupRecord> {
        let dir = &self.config.backup_dir;
        std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
            action: "create the backup directory".to_owned(),
            path: dir.display().to_string(),
            source,
        })?;
        let id = format!("{}.dump", self.unique(&self.database, now));
        let digest = self.dump_to_file(&self.database, &dir.join(&id)).await?;
        Ok(BackupRecord::new(id, request.clone(), digest, now))
    }

    async fn restore(&self, record: &BackupRecord) -> release_core::Result<()> {
        let file = self.backup_path(&record.id)?;
        if !file.is_file() {
            return Err(DataError::Io {
                action: "find the backup".to_owned(),
                path: file.display().to_string(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }
            .into());
        }
        // A full restore replaces the database: sessions on it end (the code was rolled back
        // first and reconnects).
        self.drop_database(&self.database).await?;
        self.create_database(&self.database, None).await?;
        self.pg_restore(&self.database, &file).await?;
        Ok(())
    }

    async fn verify(&self, record: &BackupRecord) -> release_core::Result<BackupVerification> {
        let file = self.backup_path(&record.id)?;
        let scratch = self.unique(&format!("{}_verify", self.database), record.taken_at);
        self.create_database(&scratch, None).await?;
        let result = async {
            self.pg_restore(&scratch, &file).await?;
            let client = self.connect_to(&scratch).await?;
            Ok::<_, DataError>(self.dump(&client, &scratch, None).await?.digest())
        }
        .await;
        self.drop_database(&scratch).await?;
        let found = result?;
        Ok(BackupVerification {
            id: record.id.clone(),
            verified: found == record.digest,
            message: format!(
                "restored into {scratch}: digest {found} (recorded {})",
                record.digest
            ),
        })
    }

    async fn live_digest(
        &self,
        _request: &BackupRequest,
    ) -> release_core::Result<Option<Sha256Digest>> {
        Ok(Some(self.digest().await?))
    }
}
