//! The SQLite ledger: a writer thread with group commit, readers on the blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use release_core::ledger::{EventDraft, Fence, GENESIS, Lease, Ledger, Record, seal};
use release_core::model::ReleaseId;
use release_core::{Error, Result};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::{SqliteLedgerConfig, SqliteLedgerError};
use crate::lease_time::{expiry, from_nanos, to_nanos};

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    release TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    hash    TEXT NOT NULL,
    record  TEXT NOT NULL,
    UNIQUE (release, seq)
);
CREATE TABLE IF NOT EXISTS locks (
    name           TEXT PRIMARY KEY,
    token          INTEGER NOT NULL,
    holder         TEXT,
    expires_at_ns  INTEGER
);
";

/// Read connections kept open between reads.
const IDLE_READERS: usize = 4;

/// A [`Ledger`] in one SQLite file; see the [module docs](super).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use release_adapters::sqlite_ledger::SqliteLedgerConfig;
/// use release_core::ledger::{Event, EventDraft, Ledger};
///
/// let dir = std::env::temp_dir().join(format!("release-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let ledger = SqliteLedgerConfig::new(dir.join("ledger.db")).open().unwrap();
/// let draft = EventDraft::new(
///     "shop-1.0.0".into(),
///     chrono::Utc::now(),
///     "ana@x",
///     Vec::new(),
///     Event::Paused { environment: None, reason: "lunch".into() },
/// );
/// let record = ledger.append(draft, None).await.unwrap();
/// assert!(record.seq >= 1);
/// # drop(ledger);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # });
/// ```
pub struct SqliteLedger {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    busy_timeout: Duration,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

enum Op {
    Append {
        draft: Box<EventDraft>,
        fence: Option<Fence>,
    },
    Acquire {
        lock: String,
        holder: String,
        expires_at: i64,
        now: i64,
    },
    Renew {
        lease: Lease,
        expires_at: i64,
        now: i64,
    },
    Release {
        lease: Lease,
    },
}

enum Outcome {
    Record(Box<Record>),
    Lease(Lease),
    Done,
}

enum Reply {
    Record(oneshot::Sender<Result<Record>>),
    Lease(oneshot::Sender<Result<Lease>>),
    Done(oneshot::Sender<Result<()>>),
}

fn mismatch() -> Error {
    Error::permanent(
        "sqlite-ledger",
        "internal: a write produced the wrong kind of result",
    )
}

impl Reply {
    fn send(self, result: Result<Outcome>) {
        // A caller that stopped waiting (its future was dropped) is no error here: the write
        // is committed either way, as it would be after a crash just after COMMIT.
        match self {
            Self::Record(tx) => {
                let _ = tx.send(result.and_then(|o| match o {
                    Outcome::Record(r) => Ok(*r),
                    _ => Err(mismatch()),
                }));
            }
            Self::Lease(tx) => {
                let _ = tx.send(result.and_then(|o| match o {
                    Outcome::Lease(l) => Ok(l),
                    _ => Err(mismatch()),
                }));
            }
            Self::Done(tx) => {
                let _ = tx.send(result.and_then(|o| match o {
                    Outcome::Done => Ok(()),
                    _ => Err(mismatch()),
                }));
            }
        }
    }
}

struct Job {
    op: Op,
    reply: Reply,
}

/// Why a job failed: refused by the ledger's rules (the transaction goes on), or by SQLite
/// (the transaction is rolled back).
enum Fail {
    Refused(Error),
    Db(SqliteLedgerError),
}

impl From<SqliteLedgerError> for Fail {
    fn from(e: SqliteLedgerError) -> Self {
        Self::Db(e)
    }
}

fn open_connection(
    path: &Path,
    config: &SqliteLedgerConfig,
) -> Result<Connection, SqliteLedgerError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(SqliteLedgerError::sqlite(path, "open the database file"))?;
    conn.busy_timeout(config.busy_timeout())
        .map_err(SqliteLedgerError::sqlite(path, "set the busy timeout"))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(SqliteLedgerError::sqlite(path, "switch to WAL mode"))?;
    conn.pragma_update(None, "synchronous", config.synchronous.pragma())
        .map_err(SqliteLedgerError::sqlite(path, "set synchronous"))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), SqliteLedgerError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(SqliteLedgerError::sqlite(path, "begin the migration"))?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(SqliteLedgerError::sqlite(path, "read the schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(SqliteLedgerError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < SCHEMA_VERSION {
        tx.execute_batch(SCHEMA)
            .map_err(SqliteLedgerError::sqlite(path, "create the schema"))?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(SqliteLedgerError::sqlite(path, "record the schema version"))?;
    }
    tx.commit()
        .map_err(SqliteLedgerError::sqlite(path, "commit the migration"))
}

impl SqliteLedger {
    /// Opens (or creates) the ledger file, migrates its schema and starts the writer thread.
    pub fn open(config: SqliteLedgerConfig) -> Result<Self, SqliteLedgerError> {
        if config.max_batch == 0 {
            return Err(SqliteLedgerError::Config(
                "max_batch is 0; set it to at least 1 (256 is the default)".to_owned(),
            ));
        }
        let path = config.path.clone();
        let mut conn = open_connection(&path, &config)?;
        migrate(&mut conn, &path)?;
        let (tx, rx) = mpsc::channel();
        let writer = Writer {
            conn,
            path: path.clone(),
            max_batch: config.max_batch,
        };
        std::thread::Builder::new()
            .name("sqlite-ledger-writer".to_owned())
            .spawn(move || writer.run(rx))
            .map_err(|_| SqliteLedgerError::WriterStopped { path: path.clone() })?;
        Ok(Self {
            path,
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            busy_timeout: config.busy_timeout(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write(&self, op: Op, reply: Reply) -> Result<()> {
        self.writer
            .send(Job { op, reply })
            .map_err(|_| self.stopped())
    }

    fn stopped(&self) -> Error {
        SqliteLedgerError::WriterStopped {
            path: self.path.clone(),
        }
        .into()
    }

    /// Runs `read` on a pooled read connection on tokio's blocking pool.
    async fn read<T, F>(&self, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Path) -> Result<T, SqliteLedgerError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let busy_timeout = self.busy_timeout;
        let task = tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let conn = match pooled {
                Some(c) => c,
                None => open_reader(&path, busy_timeout)?,
            };
            let result = read(&conn, &path);
            let mut idle = readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
            result
        });
        match task.await {
            Ok(result) => result.map_err(Error::from),
            Err(e) => Err(Error::Plugin {
                plugin: "sqlite-ledger".to_owned(),
                message: format!("a read of {} did not finish", self.path.display()),
                retryable: true,
                source: Some(Box::new(e)),
            }),
        }
    }
}

fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, SqliteLedgerError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(SqliteLedgerError::sqlite(path, "open a read connection"))?;
    conn.busy_timeout(busy_timeout)
        .map_err(SqliteLedgerError::sqlite(path, "set the busy timeout"))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(SqliteLedgerError::sqlite(
            path,
            "make a read connection read-only",
        ))?;
    Ok(conn)
}

/// Decodes a stored row, checking the JSON against its columns.
fn decode(
    path: &Path,
    release: &str,
    seq: i64,
    hash: &str,
    json: &str,
) -> Result<Record, SqliteLedgerError> {
    let corrupt = |problem: String| SqliteLedgerError::CorruptRecord {
        path: path.to_owned(),
        release: release.to_owned(),
        seq,
        problem,
    };
    let record: Record = serde_json::from_str(json)
        .map_err(|e| corrupt(format!("its JSON does not decode ({e})")))?;
    if record.release.as_str() != release
        || i64::try_from(record.seq).ok() != Some(seq)
        || record.hash.to_string() != hash
    {
        return Err(corrupt(format!(
            "its JSON says release {} seq {} hash {}, its columns say release {release} seq {seq} hash {hash}",
            record.release, record.seq, record.hash
        )));
    }
    Ok(record)
}

struct Writer {
    conn: Connection,
    path: PathBuf,
    max_batch: usize,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        // Ends when every `SqliteLedger` handle is dropped.
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.process(batch);
        }
    }

    fn process(&mut self, batch: Vec<Job>) {
        if batch.len() > 1 {
            let ops: Vec<&Op> = batch.iter().map(|j| &j.op).collect();
            if let Ok(results) = self.transaction(&ops) {
                for (job, result) in batch.into_iter().zip(results) {
                    job.reply.send(result);
                }
                return;
            }
            // SQLite failed inside the group, which is rolled back: one transaction per job,
            // so each caller gets its own error or success.
        }
        for job in batch {
            let result = match self.transaction(&[&job.op]) {
                Ok(mut results) => results.pop().unwrap_or_else(|| Err(mismatch())),
                Err(e) => Err(e.into()),
            };
            job.reply.send(result);
        }
    }

    fn transaction(&mut self, ops: &[&Op]) -> Result<Vec<Result<Outcome>>, SqliteLedgerError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(SqliteLedgerError::sqlite(
                &path,
                "begin a write transaction",
            ))?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            match apply(&tx, &path, op) {
                Ok(outcome) => results.push(Ok(outcome)),
                Err(Fail::Refused(e)) => results.push(Err(e)),
                Err(Fail::Db(e)) => return Err(e),
            }
        }
        tx.commit()
            .map_err(SqliteLedgerError::sqlite(&path, "commit"))?;
        Ok(results)
    }
}

struct LockRow {
    token: i64,
    holder: Option<String>,
    expires_at_ns: Option<i64>,
}

fn lock_row(conn: &Connection, path: &Path, lock: &str) -> Result<Option<LockRow>, Fail> {
    conn.prepare_cached("SELECT token, holder, expires_at_ns FROM locks WHERE name = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([lock], |row| {
                Ok(LockRow {
                    token: row.get(0)?,
                    holder: row.get(1)?,
                    expires_at_ns: row.get(2)?,
                })
            })
            .optional()
        })
        .map_err(|e| {
            Fail::Db(SqliteLedgerError::sqlite(
                path,
                format!("read lock `{lock}`"),
            )(e))
        })
}

fn token(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

fn stored_token(t: u64) -> Result<i64, Fail> {
    i64::try_from(t)
        .map_err(|_| Fail::Refused(Error::Invalid(format!("fencing token {t} is out of range"))))
}

fn apply(conn: &Connection, path: &Path, op: &Op) -> Result<Outcome, Fail> {
    let db = |action: String| {
        let path = path.to_owned();
        move |e| Fail::Db(SqliteLedgerError::sqlite(&path, action)(e))
    };
    match op {
        Op::Append { draft, fence } => {
            if let Some(fence) = fence {
                let current = lock_row(conn, path, &fence.lock)?.map_or(0, |r| token(r.token));
                if fence.token != current {
                    return Err(Fail::Refused(Error::StaleFence {
                        lock: fence.lock.clone(),
                        token: fence.token,
                        current,
                    }));
                }
            }
            let release = draft.release.as_str();
            let head: Option<(i64, String)> = conn
                .prepare_cached(
                    "SELECT seq, hash FROM events WHERE release = ?1 ORDER BY seq DESC LIMIT 1",
                )
                .and_then(|mut stmt| {
                    stmt.query_row([release], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .map_err(db(format!("read the last record of {release}")))?;
            let (seq, prev) = match head {
                None => (1, GENESIS),
                Some((seq, hash)) => {
                    let prev = hash.parse().map_err(|e| {
                        Fail::Db(SqliteLedgerError::CorruptRecord {
                            path: path.to_owned(),
                            release: release.to_owned(),
                            seq,
                            problem: format!("its hash column does not parse: {e}"),
                        })
                    })?;
                    (token(seq) + 1, prev)
                }
            };
            let record = seal(draft.as_ref().clone(), seq, prev).map_err(Fail::Refused)?;
            let json = serde_json::to_string(&record).map_err(|e| {
                Fail::Refused(Error::Codec {
                    what: format!("record {seq} of {release}"),
                    message: e.to_string(),
                })
            })?;
            conn.prepare_cached(
                "INSERT INTO events (release, seq, hash, record) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    release,
                    stored_seq(seq),
                    record.hash.to_string(),
                    json
                ])
            })
            .map_err(db(format!("insert record {seq} of {release}")))?;
            Ok(Outcome::Record(Box::new(record)))
        }
        Op::Acquire {
            lock,
            holder,
            expires_at,
            now,
        } => {
            let row = lock_row(conn, path, lock)?;
            let last = row.as_ref().map_or(0, |r| r.token);
            let token_out = match &row {
                Some(LockRow {
                    holder: Some(current),
                    expires_at_ns: Some(until),
                    ..
                }) if until > now => {
                    if current != holder {
                        return Err(Fail::Refused(Error::LockHeld {
                            lock: lock.clone(),
                            holder: current.clone(),
                            until: from_nanos(*until),
                        }));
                    }
                    last
                }
                _ => last + 1,
            };
            conn.prepare_cached(
                "INSERT INTO locks (name, token, holder, expires_at_ns) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET token = excluded.token,
                     holder = excluded.holder, expires_at_ns = excluded.expires_at_ns",
            )
            .and_then(|mut stmt| stmt.execute(params![lock, token_out, holder, expires_at]))
            .map_err(db(format!("write lock `{lock}`")))?;
            Ok(Outcome::Lease(Lease {
                lock: lock.clone(),
                holder: holder.clone(),
                token: token(token_out),
                expires_at: from_nanos(*expires_at),
            }))
        }
        Op::Renew {
            lease,
            expires_at,
            now,
        } => {
            let row = lock_row(conn, path, &lease.lock)?;
            let current = row.as_ref().map_or(0, |r| token(r.token));
            let live = row.as_ref().is_some_and(|r| {
                token(r.token) == lease.token
                    && r.holder.as_deref() == Some(lease.holder.as_str())
                    && r.expires_at_ns.is_some_and(|until| until > *now)
            });
            if !live {
                return Err(Fail::Refused(Error::StaleFence {
                    lock: lease.lock.clone(),
                    token: lease.token,
                    current,
                }));
            }
            conn.prepare_cached("UPDATE locks SET expires_at_ns = ?2 WHERE name = ?1")
                .and_then(|mut stmt| stmt.execute(params![lease.lock, expires_at]))
                .map_err(db(format!("renew lock `{}`", lease.lock)))?;
            Ok(Outcome::Lease(Lease {
                expires_at: from_nanos(*expires_at),
                ..lease.clone()
            }))
        }
        Op::Release { lease } => {
            let stored = stored_token(lease.token)?;
            conn.prepare_cached(
                "UPDATE locks SET holder = NULL, expires_at_ns = NULL WHERE name = ?1 AND token = ?2",
            )
            .and_then(|mut stmt| stmt.execute(params![lease.lock, stored]))
            .map_err(db(format!("release lock `{}`", lease.lock)))?;
            Ok(Outcome::Done)
        }
    }
}

fn stored_seq(seq: u64) -> i64 {
    // Sequence numbers count records; a journal of 2^63 records does not fit on any disk.
    i64::try_from(seq).unwrap_or(i64::MAX)
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn append(&self, draft: EventDraft, fence: Option<&Fence>) -> Result<Record> {
        let (tx, rx) = oneshot::channel();
        let op = Op::Append {
            draft: Box::new(draft),
            fence: fence.cloned(),
        };
        self.write(op, Reply::Record(tx)).await?;
        rx.await.map_err(|_| self.stopped())?
    }

    async fn events(&self, release: &ReleaseId, after: u64) -> Result<Vec<Record>> {
        let release = release.as_str().to_owned();
        let after = stored_seq(after);
        self.read(move |conn, path| {
            let action = || format!("read the records of {release}");
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, hash, record FROM events WHERE release = ?1 AND seq > ?2 ORDER BY seq",
                )
                .map_err(|e| SqliteLedgerError::sqlite(path, action())(e))?;
            let rows = stmt
                .query_map(params![release, after], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .map_err(|e| SqliteLedgerError::sqlite(path, action())(e))?;
            let mut records = Vec::new();
            for row in rows {
                let (seq, hash, json) =
                    row.map_err(|e| SqliteLedgerError::sqlite(path, action())(e))?;
                records.push(decode(path, &release, seq, &hash, &json)?);
            }
            Ok(records)
        })
        .await
    }

    async fn releases(&self) -> Result<Vec<ReleaseId>> {
        let mut releases = self
            .read(|conn, path| {
                let action = "list the releases";
                let mut stmt = conn
                    .prepare_cached("SELECT DISTINCT release FROM events")
                    .map_err(SqliteLedgerError::sqlite(path, action))?;
                let rows = stmt
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(SqliteLedgerError::sqlite(path, action))?;
                rows.map(|r| r.map(ReleaseId::new))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(SqliteLedgerError::sqlite(path, action))
            })
            .await?;
        // Sorted here, by the same order as `ReleaseId`'s, whatever SQLite's collation.
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
        let expires_at = to_nanos(expiry(now, ttl)?)?;
        let (tx, rx) = oneshot::channel();
        let op = Op::Acquire {
            lock: lock.to_owned(),
            holder: holder.to_owned(),
            expires_at,
            now: to_nanos(now)?,
        };
        self.write(op, Reply::Lease(tx)).await?;
        rx.await.map_err(|_| self.stopped())?
    }

    async fn renew(&self, lease: &Lease, ttl: Duration, now: DateTime<Utc>) -> Result<Lease> {
        let expires_at = to_nanos(expiry(now, ttl)?)?;
        let (tx, rx) = oneshot::channel();
        let op = Op::Renew {
            lease: lease.clone(),
            expires_at,
            now: to_nanos(now)?,
        };
        self.write(op, Reply::Lease(tx)).await?;
        rx.await.map_err(|_| self.stopped())?
    }

    async fn release(&self, lease: &Lease) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.write(
            Op::Release {
                lease: lease.clone(),
            },
            Reply::Done(tx),
        )
        .await?;
        rx.await.map_err(|_| self.stopped())?
    }
}
