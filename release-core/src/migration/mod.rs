//! Database migrations as part of a component's release (M4.5, M8.2): the migration set, its
//! digest, statement splitting, expand/contract classification and the rehearsal report.
//!
//! Data flow: a component declares its migrations in the platform
//! ([`ComponentMigrations`](crate::model::ComponentMigrations)); [`MigrationSet::load`] reads
//! the directory; validation classifies the migrations a release ships and checks them against
//! the rollout strategy; a [`Migrator`](crate::plugin::Migrator) rehearses the set on a clone
//! (the [`RehearsalReport`] is recorded as evidence and a gate requires it for exactly the
//! set's [`digest`](MigrationSet::digest)); and the engine applies it after a pre-deployment
//! backup, restoring from that backup on a full rollback.
//!
//! # The file format
//!
//! The common denominator of Flyway, refinery, dbmate and sqlx: one directory, one version per
//! migration, an up part and a down part. Either layout works, and both may be mixed:
//!
//! ```text
//! migrations/
//!   V001__create_orders.sql          -- one file, two sections:
//!                                    --   -- +up
//!                                    --   CREATE TABLE orders (...);
//!                                    --   -- +down
//!                                    --   DROP TABLE orders;
//!   V002__add_note.up.sql            -- or a pair of files
//!   V002__add_note.down.sql
//!   README.md                        -- files not ending in .sql are ignored
//! ```
//!
//! - The name is `V<version>__<description>`; the version is a positive integer (leading
//!   zeros allowed) and orders the set; versions are unique.
//! - In a one-file migration the `-- +up` and `-- +down` marker lines (any case) open the
//!   sections; only comments may precede `-- +up`. Both markers are required; the down part
//!   may be empty (an irreversible migration, which a rehearsal then reports).
//! - A `.sql` file that fits neither layout is an error, not silently skipped (a typo in a
//!   name would otherwise drop a migration).
//! - Statements are split by the dialect's rules ([`split_statements`]); an unterminated
//!   string or comment is an error at its file and line.
//!
//! # Digests
//!
//! Each migration has a **checksum** of its up part (what a database records as applied, as
//! Flyway does); the set has a **digest** over the dialect and every migration's version,
//! description, up and down parts, length-prefixed and in version order. A rehearsal
//! exercises the down parts, so the gate's "rehearsed exactly this" covers them too.

mod classify;
mod rehearsal;
mod sql;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use classify::{
    ChangeClass, ChangeKind, SchemaChange, StatementClass, classify_sql, classify_statement,
};
pub use rehearsal::{CheckOutcome, REHEARSAL_EVIDENCE_KIND, RehearsalReport};
pub use sql::{SqlError, Statement, split_statements};

use crate::digest::{Sha256, Sha256Digest};
pub use crate::model::SqlDialect;

/// Why a migration set cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// The directory or a file cannot be read.
    #[error("cannot read migrations at {path}: {source}; check the `migrations.directory` path")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `.sql` file's name fits neither layout.
    #[error(
        "{file}: not a migration file name; name it `V<version>__<description>.sql` (or `.up.sql` and `.down.sql`)"
    )]
    FileName {
        /// The file.
        file: String,
    },
    /// Two migrations share a version.
    #[error(
        "{second}: version {version} is also used by {first}; give one of them the next free version"
    )]
    DuplicateVersion {
        /// The version.
        version: u64,
        /// The first file.
        first: String,
        /// The second file.
        second: String,
    },
    /// An `.up.sql` has no `.down.sql` partner, or the other way round.
    #[error(
        "{file}: no matching {missing}; add it (it may be empty for an irreversible migration)"
    )]
    Unpaired {
        /// The file present.
        file: String,
        /// The file missing.
        missing: String,
    },
    /// A one-file migration lacks a section marker.
    #[error("{file}: no `-- +{section}` line; add it before the {section} statements")]
    MissingSection {
        /// The file.
        file: String,
        /// `up` or `down`.
        section: &'static str,
    },
    /// A section marker appears twice.
    #[error("{file}:{line}: a second `-- +{section}` line; keep one")]
    DuplicateSection {
        /// The file.
        file: String,
        /// Where.
        line: u32,
        /// `up` or `down`.
        section: &'static str,
    },
    /// SQL before the `-- +up` line.
    #[error("{file}:{line}: a statement before the `-- +up` line; move it into a section")]
    OutsideSection {
        /// The file.
        file: String,
        /// Where.
        line: u32,
    },
    /// The down section comes before the up section.
    #[error("{file}:{line}: `-- +down` comes before `-- +up`; put the up section first")]
    SectionOrder {
        /// The file.
        file: String,
        /// Where the down marker is.
        line: u32,
    },
    /// The up part has no statement.
    #[error("{file}: the up part has no statement; write the migration or remove the file")]
    EmptyUp {
        /// The file.
        file: String,
    },
    /// The SQL cannot be split into statements.
    #[error("{file}:{line}: {problem}")]
    Sql {
        /// The file.
        file: String,
        /// Where.
        line: u32,
        /// What is wrong.
        problem: String,
    },
    /// The directory holds no migration.
    #[error(
        "{directory}: no migration files (`V<version>__<description>.sql`); add one or remove `migrations` from the component"
    )]
    Empty {
        /// The directory.
        directory: String,
    },
}

impl From<MigrationError> for crate::Error {
    fn from(e: MigrationError) -> Self {
        crate::Error::Invalid(e.to_string())
    }
}

/// One part (up or down) of a migration: its SQL and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Part {
    sql: String,
    file: String,
    /// Line of the part's first line in its file (from 1).
    first_line: u32,
}

/// One migration: a version, a description, an up part and a down part.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migration {
    version: u64,
    description: String,
    up: Part,
    down: Part,
    up_statements: Vec<Statement>,
    down_statements: Vec<Statement>,
    checksum: Sha256Digest,
}

impl Migration {
    /// A migration from its parts; `file` names it in errors. The SQL is split by the
    /// dialect's rules, so a broken part is refused here.
    pub fn new(
        dialect: SqlDialect,
        version: u64,
        description: impl Into<String>,
        file: impl Into<String>,
        up: impl Into<String>,
        down: impl Into<String>,
    ) -> Result<Self, MigrationError> {
        let file = file.into();
        let part = |sql: String| Part {
            sql,
            file: file.clone(),
            first_line: 1,
        };
        Self::from_parts(
            dialect,
            version,
            description.into(),
            part(up.into()),
            part(down.into()),
        )
    }

    fn from_parts(
        dialect: SqlDialect,
        version: u64,
        description: String,
        up: Part,
        down: Part,
    ) -> Result<Self, MigrationError> {
        let split = |part: &Part| {
            split_statements(&part.sql, dialect)
                .map(|statements| {
                    statements
                        .into_iter()
                        .map(|s| Statement {
                            line: s.line + part.first_line - 1,
                            text: s.text,
                        })
                        .collect::<Vec<_>>()
                })
                .map_err(|e| MigrationError::Sql {
                    file: part.file.clone(),
                    line: e.line + part.first_line - 1,
                    problem: e.problem,
                })
        };
        let up_statements = split(&up)?;
        let down_statements = split(&down)?;
        if up_statements.is_empty() {
            return Err(MigrationError::EmptyUp { file: up.file });
        }
        let checksum = Sha256Digest::of(up.sql.as_bytes());
        Ok(Self {
            version,
            description,
            up,
            down,
            up_statements,
            down_statements,
            checksum,
        })
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The description (from the file name).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The file (of the up part).
    pub fn file(&self) -> &str {
        &self.up.file
    }

    /// The up part's SQL.
    pub fn up(&self) -> &str {
        &self.up.sql
    }

    /// The down part's SQL (empty for an irreversible migration).
    pub fn down(&self) -> &str {
        &self.down.sql
    }

    /// The up part's statements, with their lines in the file.
    pub fn up_statements(&self) -> &[Statement] {
        &self.up_statements
    }

    /// The down part's statements.
    pub fn down_statements(&self) -> &[Statement] {
        &self.down_statements
    }

    /// True when the down part has statements.
    pub fn reversible(&self) -> bool {
        !self.down_statements.is_empty()
    }

    /// Checksum of the up part: what a database records as applied.
    pub fn checksum(&self) -> Sha256Digest {
        self.checksum
    }

    /// `V003 add_note`, for messages.
    pub fn label(&self) -> String {
        format!("V{:03} {}", self.version, self.description)
    }
}

/// An ordered set of migrations in one dialect, with its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationSet {
    dialect: SqlDialect,
    migrations: Arc<[Migration]>,
    digest: Sha256Digest,
}

impl MigrationSet {
    /// A set from migrations (sorted by version here); duplicate versions are refused.
    pub fn new(
        dialect: SqlDialect,
        mut migrations: Vec<Migration>,
    ) -> Result<Self, MigrationError> {
        migrations.sort_by_key(|m| m.version);
        for pair in migrations.windows(2) {
            if pair[0].version == pair[1].version {
                return Err(MigrationError::DuplicateVersion {
                    version: pair[0].version,
                    first: pair[0].file().to_owned(),
                    second: pair[1].file().to_owned(),
                });
            }
        }
        let digest = set_digest(dialect, &migrations);
        Ok(Self {
            dialect,
            migrations: migrations.into(),
            digest,
        })
    }

    /// Reads a directory of migration files (see the module docs for the layout).
    pub fn load(directory: impl AsRef<Path>, dialect: SqlDialect) -> Result<Self, MigrationError> {
        let directory = directory.as_ref();
        let shown = directory.display().to_string();
        let entries = std::fs::read_dir(directory).map_err(|source| MigrationError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| MigrationError::Read {
                path: shown.clone(),
                source,
            })?;
            let path = entry.path();
            if path.is_file() && path.extension().is_some_and(|e| e == "sql") {
                files.push(path);
            }
        }
        files.sort();
        let mut texts = Vec::with_capacity(files.len());
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(|source| MigrationError::Read {
                path: path.display().to_string(),
                source,
            })?;
            texts.push((path, text));
        }
        let set = Self::from_files(dialect, texts)?;
        if set.is_empty() {
            return Err(MigrationError::Empty { directory: shown });
        }
        Ok(set)
    }

    /// A set from `(path, text)` pairs, named as in a directory.
    pub fn from_files(
        dialect: SqlDialect,
        files: impl IntoIterator<Item = (impl Into<PathBuf>, impl Into<String>)>,
    ) -> Result<Self, MigrationError> {
        let mut singles = Vec::new();
        let mut ups = std::collections::BTreeMap::new();
        let mut downs = std::collections::BTreeMap::new();
        for (path, text) in files {
            let path: PathBuf = path.into();
            let shown = path.display().to_string();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (stem, role) = if let Some(stem) = name.strip_suffix(".up.sql") {
                (stem, Some(true))
            } else if let Some(stem) = name.strip_suffix(".down.sql") {
                (stem, Some(false))
            } else if let Some(stem) = name.strip_suffix(".sql") {
                (stem, None)
            } else {
                return Err(MigrationError::FileName { file: shown });
            };
            let (version, description) =
                parse_stem(stem).ok_or_else(|| MigrationError::FileName {
                    file: shown.clone(),
                })?;
            let entry = (version, description, shown, text.into());
            match role {
                None => singles.push(entry),
                Some(true) => {
                    ups.insert(version, entry);
                }
                Some(false) => {
                    downs.insert(version, entry);
                }
            }
        }
        let mut migrations = Vec::new();
        for (version, description, file, text) in singles {
            let (up, down) = sections(&file, &text)?;
            migrations.push(Migration::from_parts(
                dialect,
                version,
                description,
                up,
                down,
            )?);
        }
        for (version, (_, description, file, up)) in ups {
            let Some((_, _, down_file, down)) = downs.remove(&version) else {
                return Err(MigrationError::Unpaired {
                    missing: file.replace(".up.sql", ".down.sql"),
                    file,
                });
            };
            let up = Part {
                sql: up,
                file,
                first_line: 1,
            };
            let down = Part {
                sql: down,
                file: down_file,
                first_line: 1,
            };
            migrations.push(Migration::from_parts(
                dialect,
                version,
                description,
                up,
                down,
            )?);
        }
        if let Some((_, (_, _, file, _))) = downs.into_iter().next() {
            return Err(MigrationError::Unpaired {
                missing: file.replace(".down.sql", ".up.sql"),
                file,
            });
        }
        Self::new(dialect, migrations)
    }

    /// The dialect.
    pub fn dialect(&self) -> SqlDialect {
        self.dialect
    }

    /// The migrations, in version order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// The migration with this version.
    pub fn get(&self, version: u64) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.version == version)
    }

    /// The migrations above `version` (what a release that declares `after: version` ships).
    pub fn after(&self, version: u64) -> &[Migration] {
        let start = self.migrations.partition_point(|m| m.version <= version);
        &self.migrations[start..]
    }

    /// The highest version, 0 for an empty set.
    pub fn last_version(&self) -> u64 {
        self.migrations.last().map_or(0, |m| m.version)
    }

    /// Number of migrations.
    pub fn len(&self) -> usize {
        self.migrations.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }

    /// The set's digest (see the module docs).
    pub fn digest(&self) -> Sha256Digest {
        self.digest
    }

    /// Classifies the up parts of the migrations above `after`.
    pub fn classify(&self, after: u64) -> Vec<MigrationClass> {
        self.after(after)
            .iter()
            .map(|m| {
                let statements: Vec<ClassifiedStatement> = m
                    .up_statements()
                    .iter()
                    .map(|s| {
                        // Statements were split by the same lexer when the migration was
                        // made, so they tokenize again.
                        let class =
                            classify_statement(&s.text, self.dialect).unwrap_or(StatementClass {
                                class: ChangeClass::Contract,
                                changes: vec![],
                            });
                        ClassifiedStatement {
                            line: s.line,
                            text: s.text.clone(),
                            class: class.class,
                            changes: class.changes,
                        }
                    })
                    .collect();
                MigrationClass {
                    version: m.version,
                    description: m.description.clone(),
                    file: m.file().to_owned(),
                    class: statements.iter().map(|s| s.class).max().unwrap_or_default(),
                    statements,
                }
            })
            .collect()
    }
}

/// The classification of one migration's up part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MigrationClass {
    /// The version.
    pub version: u64,
    /// The description.
    pub description: String,
    /// The file.
    pub file: String,
    /// The most contracting class of its statements.
    pub class: ChangeClass,
    /// Each statement.
    pub statements: Vec<ClassifiedStatement>,
}

impl MigrationClass {
    /// The contracting changes, as `file:line: drops column orders.total`.
    pub fn contract_reasons(&self) -> Vec<String> {
        self.statements
            .iter()
            .flat_map(|s| {
                s.changes
                    .iter()
                    .filter(|c| c.class() == ChangeClass::Contract)
                    .map(move |c| format!("{}:{}: {c}", self.file, s.line))
            })
            .collect()
    }
}

/// One classified statement of a migration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClassifiedStatement {
    /// Its line in the file.
    pub line: u32,
    /// Its text.
    pub text: String,
    /// Its class.
    pub class: ChangeClass,
    /// Its changes.
    pub changes: Vec<SchemaChange>,
}

/// `V001__create_orders` → (1, "create_orders").
fn parse_stem(stem: &str) -> Option<(u64, String)> {
    let rest = stem.strip_prefix(['V', 'v'])?;
    let (version, description) = rest.split_once("__")?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let version: u64 = version.parse().ok()?;
    if version == 0 || description.is_empty() {
        return None;
    }
    Some((version, description.to_owned()))
}

/// Splits a one-file migration at its `-- +up` / `-- +down` lines.
fn sections(file: &str, text: &str) -> Result<(Part, Part), MigrationError> {
    let mut up: Option<(usize, u32)> = None; // (byte offset after the marker line, line)
    let mut down: Option<(usize, u32, usize)> = None; // (.., .., offset of the marker line)
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let marker = line.trim().to_ascii_lowercase();
        let marker = marker.replace(' ', "");
        let next = offset + line.len();
        if marker == "--+up" {
            if up.is_some() {
                return Err(MigrationError::DuplicateSection {
                    file: file.to_owned(),
                    line: number,
                    section: "up",
                });
            }
            if down.is_some() {
                return Err(MigrationError::SectionOrder {
                    file: file.to_owned(),
                    line: down.map_or(number, |d| d.1),
                });
            }
            // Only comments may come before the up marker.
            if let Ok(statements) = split_statements(&text[..offset], SqlDialect::Sqlite)
                && let Some(s) = statements.first()
            {
                return Err(MigrationError::OutsideSection {
                    file: file.to_owned(),
                    line: s.line,
                });
            }
            up = Some((next, number));
        } else if marker == "--+down" {
            if down.is_some() {
                return Err(MigrationError::DuplicateSection {
                    file: file.to_owned(),
                    line: number,
                    section: "down",
                });
            }
            if up.is_none() {
                return Err(MigrationError::SectionOrder {
                    file: file.to_owned(),
                    line: number,
                });
            }
            down = Some((next, number, offset));
        }
        offset = next;
    }
    let Some((up_start, up_line)) = up else {
        return Err(MigrationError::MissingSection {
            file: file.to_owned(),
            section: "up",
        });
    };
    let Some((down_start, down_line, down_marker)) = down else {
        return Err(MigrationError::MissingSection {
            file: file.to_owned(),
            section: "down",
        });
    };
    Ok((
        Part {
            sql: text[up_start..down_marker].to_owned(),
            file: file.to_owned(),
            first_line: up_line + 1,
        },
        Part {
            sql: text[down_start..].to_owned(),
            file: file.to_owned(),
            first_line: down_line + 1,
        },
    ))
}

fn set_digest(dialect: SqlDialect, migrations: &[Migration]) -> Sha256Digest {
    use sha2::Digest as _;
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"release-migrations/v1");
    field(dialect.as_str().as_bytes());
    for m in migrations {
        field(&m.version.to_be_bytes());
        field(m.description.as_bytes());
        field(m.up.sql.as_bytes());
        field(m.down.sql.as_bytes());
    }
    Sha256Digest::from_hasher(h)
}

#[cfg(test)]
mod tests;
