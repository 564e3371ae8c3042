//! The PostgreSQL ledger: transactions per append, conditional updates for leases.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use release_core::ledger::{EventDraft, Fence, GENESIS, Lease, Ledger, Record, seal};
use release_core::model::ReleaseId;
use release_core::{Error, Result};
use tokio_postgres::NoTls;

use super::{PostgresLedgerConfig, PostgresLedgerError};
use crate::lease_time::{expiry, from_nanos, to_nanos};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = 1;

/// How often an acquisition that lost a race to a release is retried before reporting.
const ACQUIRE_ATTEMPTS: usize = 3;

/// A [`Ledger`] in a PostgreSQL database; see the [module docs](super).
pub struct PostgresLedger {
    pool: Pool,
    schema: String,
    sql: Sql,
}

impl std::fmt::Debug for PostgresLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresLedger")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// The statements, qualified with the configured schema.
struct Sql {
    fence: String,
    head_insert: String,
    head_lock: String,
    event_insert: String,
    head_update: String,
    events: String,
    releases: String,
    lock_insert: String,
    acquire: String,
    lock_read: String,
    renew: String,
    release: String,
}

impl Sql {
    fn new(s: &str) -> Self {
        Self {
            fence: format!(r#"SELECT token FROM "{s}".locks WHERE name = $1 FOR SHARE"#),
            head_insert: format!(
                r#"INSERT INTO "{s}".heads (release, seq, hash) VALUES ($1, 0, '') ON CONFLICT (release) DO NOTHING"#
            ),
            head_lock: format!(
                r#"SELECT seq, hash FROM "{s}".heads WHERE release = $1 FOR UPDATE"#
            ),
            event_insert: format!(
                r#"INSERT INTO "{s}".events (release, seq, hash, record) VALUES ($1, $2, $3, $4)"#
            ),
            head_update: format!(
                r#"UPDATE "{s}".heads SET seq = $2, hash = $3 WHERE release = $1"#
            ),
            events: format!(
                r#"SELECT seq, hash, record FROM "{s}".events WHERE release = $1 AND seq > $2 ORDER BY seq"#
            ),
            releases: format!(r#"SELECT release FROM "{s}".heads WHERE seq > 0"#),
            lock_insert: format!(
                r#"INSERT INTO "{s}".locks (name, token) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING"#
            ),
            acquire: format!(
                r#"UPDATE "{s}".locks
                   SET token = CASE WHEN holder = $2 AND expires_at_ns > $3 THEN token ELSE token + 1 END,
                       holder = $2, expires_at_ns = $4
                   WHERE name = $1 AND (holder IS NULL OR expires_at_ns <= $3 OR holder = $2)
                   RETURNING token"#
            ),
            lock_read: format!(
                r#"SELECT token, holder, expires_at_ns FROM "{s}".locks WHERE name = $1"#
            ),
            renew: format!(
                r#"UPDATE "{s}".locks SET expires_at_ns = $4
                   WHERE name = $1 AND token = $2 AND holder = $3 AND expires_at_ns > $5
                   RETURNING token"#
            ),
            release: format!(
                r#"UPDATE "{s}".locks SET holder = NULL, expires_at_ns = NULL WHERE name = $1 AND token = $2"#
            ),
        }
    }
}

fn migration(s: &str) -> String {
    format!(
        r#"
CREATE TABLE "{s}".events (
    release TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    hash    TEXT NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (release, seq)
);
CREATE TABLE "{s}".heads (
    release TEXT PRIMARY KEY,
    seq     BIGINT NOT NULL,
    hash    TEXT NOT NULL
);
CREATE TABLE "{s}".locks (
    name          TEXT PRIMARY KEY,
    token         BIGINT NOT NULL,
    holder        TEXT,
    expires_at_ns BIGINT
);
INSERT INTO "{s}".schema_version (version) VALUES ({SCHEMA_VERSION});
"#
    )
}

fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn token(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

fn stored(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::Invalid(format!("{what} {n} is out of range")))
}

impl PostgresLedger {
    /// Connects, creates or migrates the schema, and returns the ledger.
    pub async fn connect(config: PostgresLedgerConfig) -> Result<Self, PostgresLedgerError> {
        if !valid_schema(&config.schema) {
            return Err(PostgresLedgerError::Config(format!(
                "schema `{}` is not a plain lowercase identifier; use letters, digits and `_`",
                config.schema
            )));
        }
        if config.max_connections == 0 {
            return Err(PostgresLedgerError::Config(
                "max_connections is 0; set it to at least 1 (16 is the default)".to_owned(),
            ));
        }
        let pg: tokio_postgres::Config = config.url.parse().map_err(|e| {
            PostgresLedgerError::Config(format!("the connection URL does not parse: {e}"))
        })?;
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .build()
            .map_err(|e| PostgresLedgerError::Config(format!("cannot build the pool: {e}")))?;
        let ledger = Self {
            pool,
            sql: Sql::new(&config.schema),
            schema: config.schema,
        };
        ledger.migrate().await?;
        Ok(ledger)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    async fn migrate(&self) -> Result<(), PostgresLedgerError> {
        let s = &self.schema;
        let mut client = self.pool.get().await?;
        let tx = client
            .transaction()
            .await
            .map_err(PostgresLedgerError::db("begin the migration"))?;
        // Replicas starting together migrate one at a time.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('release-ledger-migration'))",
            &[],
        )
        .await
        .map_err(PostgresLedgerError::db("take the migration lock"))?;
        tx.batch_execute(&format!(
            r#"CREATE SCHEMA IF NOT EXISTS "{s}";
               CREATE TABLE IF NOT EXISTS "{s}".schema_version (version INTEGER NOT NULL);"#
        ))
        .await
        .map_err(PostgresLedgerError::db(format!("create schema `{s}`")))?;
        let found: Option<i32> = tx
            .query_one(
                &format!(r#"SELECT max(version) FROM "{s}".schema_version"#),
                &[],
            )
            .await
            .and_then(|row| row.try_get(0))
            .map_err(PostgresLedgerError::db("read the schema version"))?;
        match found {
            Some(found) if found > SCHEMA_VERSION => {
                return Err(PostgresLedgerError::NewerSchema {
                    schema: s.clone(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
            None => tx
                .batch_execute(&migration(s))
                .await
                .map_err(PostgresLedgerError::db(format!(
                    "create the tables of schema `{s}`"
                )))?,
        }
        tx.commit()
            .await
            .map_err(PostgresLedgerError::db("commit the migration"))
    }

    fn corrupt(&self, release: &str, seq: i64, problem: String) -> PostgresLedgerError {
        PostgresLedgerError::CorruptRecord {
            schema: self.schema.clone(),
            release: release.to_owned(),
            seq,
            problem,
        }
    }

    async fn lock_row(
        &self,
        client: &impl GenericClient,
        lock: &str,
    ) -> Result<Option<(i64, Option<String>, Option<i64>)>> {
        let row = client
            .query_opt(&self.sql.lock_read, &[&lock])
            .await
            .map_err(PostgresLedgerError::db(format!("read lock `{lock}`")))?;
        row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
            .transpose()
            .map_err(|e| PostgresLedgerError::db(format!("read lock `{lock}`"))(e).into())
    }
}

#[async_trait]
impl Ledger for PostgresLedger {
    async fn append(&self, draft: EventDraft, fence: Option<&Fence>) -> Result<Record> {
        let release = draft.release.as_str().to_owned();
        let mut client = self.pool.get().await.map_err(PostgresLedgerError::from)?;
        let tx = client
            .transaction()
            .await
            .map_err(PostgresLedgerError::db("begin an append"))?;
        if let Some(fence) = fence {
            let current = tx
                .query_opt(&self.sql.fence, &[&fence.lock])
                .await
                .and_then(|row| row.map(|r| r.try_get::<_, i64>(0)).transpose())
                .map_err(PostgresLedgerError::db(format!(
                    "check the fence of lock `{}`",
                    fence.lock
                )))?
                .map_or(0, token);
            if fence.token != current {
                // Dropping the transaction rolls it back: nothing was written.
                return Err(Error::StaleFence {
                    lock: fence.lock.clone(),
                    token: fence.token,
                    current,
                });
            }
        }
        let head = async {
            tx.execute(&self.sql.head_insert, &[&release]).await?;
            let row = tx.query_one(&self.sql.head_lock, &[&release]).await?;
            Ok::<_, tokio_postgres::Error>((
                row.try_get::<_, i64>(0)?,
                row.try_get::<_, String>(1)?,
            ))
        }
        .await
        .map_err(PostgresLedgerError::db(format!(
            "lock the head of {release}"
        )))?;
        let (seq, prev) = match head {
            (0, _) => (1, GENESIS),
            (seq, hash) => {
                let prev = hash.parse().map_err(|e| {
                    self.corrupt(
                        &release,
                        seq,
                        format!("the head's hash does not parse: {e}"),
                    )
                })?;
                (token(seq) + 1, prev)
            }
        };
        let record = seal(draft, seq, prev)?;
        let json = serde_json::to_string(&record).map_err(|e| Error::Codec {
            what: format!("record {seq} of {release}"),
            message: e.to_string(),
        })?;
        let seq_stored = stored(seq, "sequence number")?;
        let hash = record.hash.to_string();
        async {
            tx.execute(
                &self.sql.event_insert,
                &[&release, &seq_stored, &hash, &json],
            )
            .await?;
            tx.execute(&self.sql.head_update, &[&release, &seq_stored, &hash])
                .await?;
            tx.commit().await
        }
        .await
        .map_err(PostgresLedgerError::db(format!(
            "append record {seq} of {release}"
        )))?;
        Ok(record)
    }

    async fn events(&self, release: &ReleaseId, after: u64) -> Result<Vec<Record>> {
        let name = release.as_str();
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let client = self.pool.get().await.map_err(PostgresLedgerError::from)?;
        let action = || format!("read the records of {name}");
        let rows = client
            .query(&self.sql.events, &[&name, &after])
            .await
            .map_err(PostgresLedgerError::db(action()))?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let (seq, hash, json): (i64, String, String) = (|| {
                Ok::<_, tokio_postgres::Error>((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
            })()
            .map_err(PostgresLedgerError::db(action()))?;
            let record: Record = serde_json::from_str(&json)
                .map_err(|e| self.corrupt(name, seq, format!("its JSON does not decode ({e})")))?;
            if record.release != *release
                || i64::try_from(record.seq).ok() != Some(seq)
                || record.hash.to_string() != hash
            {
                return Err(self
                    .corrupt(
                        name,
                        seq,
                        format!(
                            "its JSON says release {} seq {} hash {}, its columns say seq {seq} hash {hash}",
                            record.release, record.seq, record.hash
                        ),
                    )
                    .into());
            }
            records.push(record);
        }
        Ok(records)
    }

    async fn releases(&self) -> Result<Vec<ReleaseId>> {
        let client = self.pool.get().await.map_err(PostgresLedgerError::from)?;
        let rows = client
            .query(&self.sql.releases, &[])
            .await
            .map_err(PostgresLedgerError::db("list the releases"))?;
        let mut releases = rows
            .iter()
            .map(|row| row.try_get::<_, String>(0).map(ReleaseId::new))
            .collect::<Result<Vec<_>, _>>()
            .map_err(PostgresLedgerError::db("list the releases"))?;
        // Sorted here, in `ReleaseId`'s order, whatever the database's collation.
        releases.sort();
        releases.dedup();
        Ok(releases)
    }

    async fn acquire(
        &self,
        lock: &str,
        holder: &str,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Lease> {
        let expires_at = expiry(now, ttl)?;
        let (now_ns, expires_ns) = (to_nanos(now)?, to_nanos(expires_at)?);
        let client = self.pool.get().await.map_err(PostgresLedgerError::from)?;
        client
            .execute(&self.sql.lock_insert, &[&lock])
            .await
            .map_err(PostgresLedgerError::db(format!("create lock `{lock}`")))?;
        for _ in 0..ACQUIRE_ATTEMPTS {
            let won = client
                .query_opt(&self.sql.acquire, &[&lock, &holder, &now_ns, &expires_ns])
                .await
                .and_then(|row| row.map(|r| r.try_get::<_, i64>(0)).transpose())
                .map_err(PostgresLedgerError::db(format!("acquire lock `{lock}`")))?;
            if let Some(t) = won {
                return Ok(Lease {
                    lock: lock.to_owned(),
                    holder: holder.to_owned(),
                    token: token(t),
                    expires_at,
                });
            }
            if let Some((_, Some(current), Some(until))) = self.lock_row(&client, lock).await?
                && until > now_ns
            {
                return Err(Error::LockHeld {
                    lock: lock.to_owned(),
                    holder: current,
                    until: from_nanos(until),
                });
            }
            // Released or expired between the two statements: try again.
        }
        Err(Error::transient(
            "postgres-ledger",
            format!(
                "lock `{lock}` changed hands {ACQUIRE_ATTEMPTS} times while acquiring it; try again"
            ),
        ))
    }

    async fn renew(&self, lease: &Lease, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        let expires_at = expiry(now, ttl)?;
        let (now_ns, expires_ns) = (to_nanos(now)?, to_nanos(expires_at)?);
        let lease_token = stored(lease.token, "fencing token")?;
        let client = self.pool.get().await.map_err(PostgresLedgerError::from)?;
        let renewed = client
            .query_opt(
                &self.sql.renew,
                &[
                    &lease.lock,
                    &lease_token,
                    &lease.holder,
                    &expires_ns,
                    &now_ns,
                ],
            )
            .await
            .map_err(PostgresLedgerError::db(format!(
                "renew lock `{}`",
                lease.lock
            )))?;
        if renewed.is_some() {
            return Ok(Lease {
                expires_at,
                ..lease.clone()
            });
        }
        let current = self
            .lock_row(&client, &lease.lock)
            .await?
            .map_or(0, |(t, _, _)| token(t));
        Err(Error::StaleFence {
            lock: lease.lock.clone(),
            token: lease.token,
            current,
        })
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let lease_token = stored(lease.token, "fencing token")?;
        let client = self.pool.get().await.map_err(PostgresLedgerError::from)?;
        client
            .execute(&self.sql.release, &[&lease.lock, &lease_token])
            .await
            .map_err(PostgresLedgerError::db(format!(
                "release lock `{}`",
                lease.lock
            )))?;
        Ok(())
    }
}
