//! Expand/contract classification of migration statements (M8.2): pure functions over SQL.
//!
//! **Expand** changes are additive: old code keeps working against the new shape (a new
//! table, a nullable column or one with a default, a plain index, a dropped `NOT NULL`, a new
//! default, a new enum value, a grant). **Contract** changes remove or reshape something old
//! code may still use, or tighten what it may write (a drop, a rename, a type change, a new
//! `NOT NULL` column without a default, `SET NOT NULL`, a new constraint or unique index, a
//! replaced view or function, a truncate, a revoke). **Neutral** statements change data or
//! session state, not the shape (`INSERT`, `UPDATE`, `DELETE`, `SET`, `PRAGMA`, `ANALYZE`,
//! `COMMENT ON`, transaction control).
//!
//! Decisions where the practice is silent:
//! - What cannot be recognised (`DO` blocks, `CALL`, vendor statements) is **contract**: a
//!   classifier that cannot prove a change additive must not let it through a phased rollout.
//! - Tightening is contract even without a drop: a new `CHECK`, foreign key or unique index
//!   can make writes of the old code fail.
//! - Dropping a constraint or an index is contract too (old code may rely on the uniqueness
//!   or the cascade); dropping `NOT NULL` is expand (the first step of removing a column).
//! - An `ALTER TABLE` with several actions is classified per action; a statement is as
//!   contracting as its most contracting action.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::SqlDialect;
use super::sql::{SqlError, Statement, Token, split_statements, tokenize};

/// How a change relates to code built for the old shape.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeClass {
    /// No change of shape (data, session, maintenance).
    #[default]
    Neutral,
    /// Additive: old code keeps working.
    Expand,
    /// Removes, reshapes or tightens what old code may use.
    Contract,
}

impl fmt::Display for ChangeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Neutral => "neutral",
            Self::Expand => "expand",
            Self::Contract => "contract",
        })
    }
}

/// What one statement (or one action of an `ALTER TABLE`) does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// `CREATE TABLE`.
    CreateTable,
    /// `CREATE INDEX` (not unique).
    CreateIndex,
    /// `CREATE UNIQUE INDEX`: writes of duplicates start failing.
    CreateUniqueIndex,
    /// `CREATE VIEW`, `SEQUENCE`, `TYPE`, `FUNCTION`, `TRIGGER`, `SCHEMA`…
    CreateObject,
    /// `CREATE OR REPLACE` of an existing view or function: its shape may change.
    ReplaceObject,
    /// `ADD COLUMN` of a nullable column.
    AddColumn,
    /// `ADD COLUMN … NOT NULL DEFAULT …` (or generated, or serial).
    AddColumnWithDefault,
    /// `ADD COLUMN … NOT NULL` without a default: inserts of the old code fail.
    AddNotNullColumn,
    /// `ADD CONSTRAINT` / `PRIMARY KEY` / `UNIQUE` / `FOREIGN KEY` / `CHECK`.
    AddConstraint,
    /// `ALTER TYPE … ADD VALUE`.
    AddEnumValue,
    /// `ALTER COLUMN … DROP NOT NULL`.
    DropNotNull,
    /// `ALTER COLUMN … SET DEFAULT`.
    SetDefault,
    /// `VALIDATE CONSTRAINT`.
    ValidateConstraint,
    /// `GRANT`.
    Grant,
    /// `DROP TABLE`.
    DropTable,
    /// `DROP COLUMN`.
    DropColumn,
    /// `DROP INDEX`.
    DropIndex,
    /// `DROP CONSTRAINT`.
    DropConstraint,
    /// `DROP DEFAULT`, `DROP IDENTITY`, `DROP EXPRESSION`.
    DropDefault,
    /// `DROP VIEW`, `TYPE`, `FUNCTION`, `TRIGGER`, `SCHEMA`…
    DropObject,
    /// `ALTER TABLE … RENAME TO`.
    RenameTable,
    /// `RENAME COLUMN`.
    RenameColumn,
    /// A rename of anything else (index, view, constraint, enum value).
    RenameObject,
    /// `SET SCHEMA`: the object moves.
    MoveObject,
    /// `ALTER COLUMN … TYPE`.
    AlterColumnType,
    /// `ALTER COLUMN … SET NOT NULL`.
    SetNotNull,
    /// `TRUNCATE`.
    Truncate,
    /// `REVOKE`.
    Revoke,
    /// `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `COPY`, queries.
    DataChange,
    /// `SET`, `PRAGMA`, transaction control, locks.
    Session,
    /// `ANALYZE`, `VACUUM`, `REINDEX`, ownership and storage settings.
    Maintenance,
    /// `COMMENT ON`.
    Comment,
    /// Not recognised: treated as contract.
    Unrecognized,
}

impl ChangeKind {
    /// Expand, contract or neutral.
    pub fn class(self) -> ChangeClass {
        use ChangeKind as K;
        match self {
            K::CreateTable
            | K::CreateIndex
            | K::CreateObject
            | K::AddColumn
            | K::AddColumnWithDefault
            | K::AddEnumValue
            | K::DropNotNull
            | K::SetDefault
            | K::Grant => ChangeClass::Expand,
            K::DataChange | K::Session | K::Maintenance | K::Comment | K::ValidateConstraint => {
                ChangeClass::Neutral
            }
            K::CreateUniqueIndex
            | K::ReplaceObject
            | K::AddNotNullColumn
            | K::AddConstraint
            | K::DropTable
            | K::DropColumn
            | K::DropIndex
            | K::DropConstraint
            | K::DropDefault
            | K::DropObject
            | K::RenameTable
            | K::RenameColumn
            | K::RenameObject
            | K::MoveObject
            | K::AlterColumnType
            | K::SetNotNull
            | K::Truncate
            | K::Revoke
            | K::Unrecognized => ChangeClass::Contract,
        }
    }

    /// A few words for people (`drops column`, `adds NOT NULL column without default`).
    pub fn describe(self) -> &'static str {
        use ChangeKind as K;
        match self {
            K::CreateTable => "creates table",
            K::CreateIndex => "creates index",
            K::CreateUniqueIndex => "creates unique index",
            K::CreateObject => "creates",
            K::ReplaceObject => "replaces",
            K::AddColumn => "adds nullable column",
            K::AddColumnWithDefault => "adds column with default",
            K::AddNotNullColumn => "adds NOT NULL column without default",
            K::AddConstraint => "adds constraint",
            K::AddEnumValue => "adds enum value",
            K::DropNotNull => "drops NOT NULL",
            K::SetDefault => "sets default",
            K::ValidateConstraint => "validates constraint",
            K::Grant => "grants",
            K::DropTable => "drops table",
            K::DropColumn => "drops column",
            K::DropIndex => "drops index",
            K::DropConstraint => "drops constraint",
            K::DropDefault => "drops default",
            K::DropObject => "drops",
            K::RenameTable => "renames table",
            K::RenameColumn => "renames column",
            K::RenameObject => "renames",
            K::MoveObject => "moves to another schema",
            K::AlterColumnType => "changes the type of column",
            K::SetNotNull => "sets NOT NULL on column",
            K::Truncate => "truncates",
            K::Revoke => "revokes",
            K::DataChange => "changes data",
            K::Session => "sets session state",
            K::Maintenance => "maintenance",
            K::Comment => "comments",
            K::Unrecognized => "unrecognised statement",
        }
    }
}

/// One change a statement makes, with the object it concerns (`orders.total`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    /// What it does.
    pub kind: ChangeKind,
    /// What it does it to: a table, `table.column`, an index or object name; the statement's
    /// first words when nothing better is known.
    pub object: String,
}

impl SchemaChange {
    fn new(kind: ChangeKind, object: impl Into<String>) -> Self {
        Self {
            kind,
            object: object.into(),
        }
    }

    /// Expand, contract or neutral.
    pub fn class(&self) -> ChangeClass {
        self.kind.class()
    }
}

impl fmt::Display for SchemaChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.describe(), self.object)
    }
}

/// The classification of one statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementClass {
    /// The most contracting class of its changes.
    pub class: ChangeClass,
    /// Its changes (one per `ALTER TABLE` action).
    pub changes: Vec<SchemaChange>,
}

impl StatementClass {
    fn of(changes: Vec<SchemaChange>) -> Self {
        let class = changes
            .iter()
            .map(SchemaChange::class)
            .max()
            .unwrap_or_default();
        Self { class, changes }
    }

    /// The first change, for a statement that makes one.
    pub fn kind(&self) -> Option<ChangeKind> {
        self.changes.first().map(|c| c.kind)
    }
}

/// Classifies one statement.
///
/// ```
/// use release_core::migration::{ChangeClass, ChangeKind, SqlDialect, classify_statement};
/// let c = classify_statement("ALTER TABLE orders DROP COLUMN legacy", SqlDialect::Postgres).unwrap();
/// assert_eq!(c.class, ChangeClass::Contract);
/// assert_eq!(c.changes[0].kind, ChangeKind::DropColumn);
/// assert_eq!(c.changes[0].to_string(), "drops column orders.legacy");
/// ```
pub fn classify_statement(sql: &str, dialect: SqlDialect) -> Result<StatementClass, SqlError> {
    let tokens: Vec<Token> = tokenize(sql, dialect)?
        .into_iter()
        .map(|s| s.token)
        .filter(|t| *t != Token::Punct(';'))
        .collect();
    Ok(StatementClass::of(classify_tokens(&tokens, dialect)))
}

/// Splits a text into statements and classifies each.
pub fn classify_sql(
    text: &str,
    dialect: SqlDialect,
) -> Result<Vec<(Statement, StatementClass)>, SqlError> {
    split_statements(text, dialect)?
        .into_iter()
        .map(|s| {
            let class = classify_statement(&s.text, dialect).map_err(|e| SqlError {
                line: s.line + e.line - 1,
                problem: e.problem,
            })?;
            Ok((s, class))
        })
        .collect()
}

struct Cursor<'a> {
    toks: &'a [Token],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(toks: &'a [Token]) -> Self {
        Self { toks, i: 0 }
    }

    fn peek(&self) -> Option<&'a Token> {
        self.toks.get(self.i)
    }

    fn at(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is_kw(keyword))
    }

    /// Eats `keyword` when it is next.
    fn kw(&mut self, keyword: &str) -> bool {
        if self.at(keyword) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Eats the keywords when they are all next, in order.
    fn kws(&mut self, keywords: &[&str]) -> bool {
        let all = keywords
            .iter()
            .enumerate()
            .all(|(n, k)| self.toks.get(self.i + n).is_some_and(|t| t.is_kw(k)));
        if all {
            self.i += keywords.len();
        }
        all
    }

    fn if_exists(&mut self) {
        let _ = self.kws(&["IF", "NOT", "EXISTS"]) || self.kws(&["IF", "EXISTS"]);
    }

    /// A possibly qualified name (`a`, `"A"`, `s.t`).
    fn name(&mut self) -> Option<String> {
        let mut parts = vec![self.peek()?.name()?];
        self.i += 1;
        while self.peek() == Some(&Token::Punct('.')) {
            match self.toks.get(self.i + 1).and_then(Token::name) {
                Some(part) => {
                    parts.push(part);
                    self.i += 2;
                }
                None => break,
            }
        }
        Some(parts.join("."))
    }

    fn rest(&self) -> &'a [Token] {
        self.toks.get(self.i..).unwrap_or(&[])
    }
}

/// The statement's first words, for an object nothing better names.
fn head(tokens: &[Token]) -> String {
    tokens
        .iter()
        .take(3)
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.clone()),
            Token::Quoted(q) => Some(format!("\"{q}\"")),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits tokens at commas outside parentheses.
fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            Token::Punct(',') if depth == 0 => {
                out.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&tokens[start..]);
    out
}

/// True when the keywords appear in sequence outside parentheses.
fn has_top_level(tokens: &[Token], keywords: &[&str]) -> bool {
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            _ if depth == 0
                && keywords
                    .iter()
                    .enumerate()
                    .all(|(n, k)| tokens.get(i + n).is_some_and(|t| t.is_kw(k))) =>
            {
                return true;
            }
            _ => {}
        }
    }
    false
}

fn classify_tokens(tokens: &[Token], dialect: SqlDialect) -> Vec<SchemaChange> {
    use ChangeKind as K;
    let mut c = Cursor::new(tokens);
    let Some(first) = c.peek() else {
        return Vec::new();
    };
    let Token::Word(word) = first else {
        return vec![SchemaChange::new(K::Unrecognized, head(tokens))];
    };
    let word = word.to_ascii_uppercase();
    c.i += 1;
    let one = |kind| vec![SchemaChange::new(kind, head(tokens))];
    match word.as_str() {
        "CREATE" => vec![create(&mut c, tokens)],
        "ALTER" => alter(&mut c, tokens, dialect),
        "DROP" => vec![drop(&mut c, tokens)],
        "TRUNCATE" => {
            c.kw("TABLE");
            c.kw("ONLY");
            let table = c.name().unwrap_or_else(|| head(tokens));
            vec![SchemaChange::new(K::Truncate, table)]
        }
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "COPY" | "SELECT" | "WITH" | "VALUES"
        | "REPLACE" | "TABLE" => one(K::DataChange),
        "SET" | "RESET" | "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT"
        | "RELEASE" | "PRAGMA" | "LOCK" | "DISCARD" | "NOTIFY" | "LISTEN" | "UNLISTEN"
        | "CHECKPOINT" | "SHOW" | "EXPLAIN" => one(K::Session),
        "ANALYZE" | "ANALYSE" | "VACUUM" | "REINDEX" | "CLUSTER" | "REFRESH" => one(K::Maintenance),
        "COMMENT" => one(K::Comment),
        "GRANT" => one(K::Grant),
        "REVOKE" => one(K::Revoke),
        _ => one(K::Unrecognized),
    }
}

/// Object kinds written after CREATE / DROP / ALTER, longest first.
const OBJECT_KINDS: &[&[&str]] = &[
    &["MATERIALIZED", "VIEW"],
    &["FOREIGN", "TABLE"],
    &["VIRTUAL", "TABLE"],
    &["EVENT", "TRIGGER"],
    &["CONSTRAINT", "TRIGGER"],
    &["TABLE"],
    &["INDEX"],
    &["VIEW"],
    &["SEQUENCE"],
    &["TYPE"],
    &["DOMAIN"],
    &["FUNCTION"],
    &["PROCEDURE"],
    &["TRIGGER"],
    &["SCHEMA"],
    &["EXTENSION"],
    &["POLICY"],
    &["RULE"],
    &["AGGREGATE"],
    &["COLLATION"],
    &["ROLE"],
    &["PUBLICATION"],
];

fn object_kind(c: &mut Cursor<'_>) -> Option<String> {
    for kind in OBJECT_KINDS {
        if c.kws(kind) {
            return Some(kind.join(" ").to_ascii_lowercase());
        }
    }
    None
}

fn create(c: &mut Cursor<'_>, tokens: &[Token]) -> SchemaChange {
    use ChangeKind as K;
    let replace = c.kws(&["OR", "REPLACE"]);
    while [
        "TEMP",
        "TEMPORARY",
        "UNLOGGED",
        "GLOBAL",
        "LOCAL",
        "RECURSIVE",
    ]
    .iter()
    .any(|m| c.at(m))
    {
        c.i += 1;
    }
    let unique = c.kw("UNIQUE");
    let Some(kind) = object_kind(c) else {
        return SchemaChange::new(K::Unrecognized, head(tokens));
    };
    if kind == "index" {
        c.kw("CONCURRENTLY");
        c.if_exists();
        let name = if c.at("ON") { None } else { c.name() };
        let table = if c.kw("ON") {
            c.kw("ONLY");
            c.name()
        } else {
            None
        };
        let object = match (name, table) {
            (Some(n), Some(t)) => format!("{n} on {t}"),
            (Some(n), None) => n,
            (None, Some(t)) => format!("on {t}"),
            (None, None) => head(tokens),
        };
        let kind = if unique {
            K::CreateUniqueIndex
        } else {
            K::CreateIndex
        };
        return SchemaChange::new(kind, object);
    }
    c.if_exists();
    let name = c.name().unwrap_or_default();
    let object = format!("{kind} {name}").trim().to_owned();
    match (kind.as_str(), replace) {
        (_, true) => SchemaChange::new(K::ReplaceObject, object),
        ("table" | "virtual table" | "foreign table", false) => {
            SchemaChange::new(K::CreateTable, name)
        }
        _ => SchemaChange::new(K::CreateObject, object),
    }
}

fn drop(c: &mut Cursor<'_>, tokens: &[Token]) -> SchemaChange {
    use ChangeKind as K;
    let Some(kind) = object_kind(c) else {
        return SchemaChange::new(K::Unrecognized, head(tokens));
    };
    c.kw("CONCURRENTLY");
    c.if_exists();
    let name = c.name().unwrap_or_default();
    match kind.as_str() {
        "table" | "foreign table" | "virtual table" => SchemaChange::new(K::DropTable, name),
        "index" => SchemaChange::new(K::DropIndex, name),
        _ => SchemaChange::new(K::DropObject, format!("{kind} {name}")),
    }
}

fn alter(c: &mut Cursor<'_>, tokens: &[Token], dialect: SqlDialect) -> Vec<SchemaChange> {
    use ChangeKind as K;
    let Some(kind) = object_kind(c) else {
        return vec![SchemaChange::new(K::Unrecognized, head(tokens))];
    };
    c.if_exists();
    c.kw("ONLY");
    let Some(name) = c.name() else {
        return vec![SchemaChange::new(K::Unrecognized, head(tokens))];
    };
    if kind == "table" {
        return split_top_level(c.rest())
            .into_iter()
            .map(|action| alter_table_action(&name, action, dialect))
            .collect();
    }
    let rest = c.rest();
    let object = format!("{kind} {name}");
    let starts = |keywords: &[&str]| {
        keywords
            .iter()
            .enumerate()
            .all(|(n, k)| rest.get(n).is_some_and(|t| t.is_kw(k)))
    };
    let change = if has_top_level(rest, &["RENAME"]) {
        K::RenameObject
    } else if has_top_level(rest, &["SET", "SCHEMA"]) {
        K::MoveObject
    } else if kind == "type" && starts(&["ADD", "VALUE"]) {
        K::AddEnumValue
    } else if kind == "type" && starts(&["ADD", "ATTRIBUTE"]) {
        K::AddColumn
    } else if starts(&["ADD"]) {
        K::AddConstraint
    } else if starts(&["DROP", "CONSTRAINT"]) {
        K::DropConstraint
    } else if starts(&["DROP", "NOT", "NULL"]) {
        K::DropNotNull
    } else if starts(&["SET", "NOT", "NULL"]) {
        K::SetNotNull
    } else if starts(&["SET", "DEFAULT"]) {
        K::SetDefault
    } else if starts(&["DROP", "DEFAULT"]) {
        K::DropDefault
    } else if starts(&["DROP"]) {
        K::DropObject
    } else if kind == "sequence"
        || starts(&["OWNER", "TO"])
        || starts(&["SET"])
        || starts(&["RESET"])
        || starts(&["ALTER"])
    {
        K::Maintenance
    } else {
        K::Unrecognized
    };
    vec![SchemaChange::new(change, object)]
}

fn alter_table_action(table: &str, action: &[Token], dialect: SqlDialect) -> SchemaChange {
    use ChangeKind as K;
    let mut a = Cursor::new(action);
    let column_name = |a: &mut Cursor<'_>| {
        a.if_exists();
        a.name()
            .map_or_else(|| table.to_owned(), |col| format!("{table}.{col}"))
    };
    if a.kw("ADD") {
        const CONSTRAINTS: [&str; 6] = [
            "CONSTRAINT",
            "PRIMARY",
            "UNIQUE",
            "FOREIGN",
            "CHECK",
            "EXCLUDE",
        ];
        if CONSTRAINTS.iter().any(|k| a.at(k)) {
            let name = if a.kw("CONSTRAINT") {
                a.name().unwrap_or_default()
            } else {
                String::new()
            };
            let object = if name.is_empty() {
                table.to_owned()
            } else {
                format!("{table}.{name}")
            };
            return SchemaChange::new(K::AddConstraint, object);
        }
        a.kw("COLUMN");
        let object = column_name(&mut a);
        let def = a.rest();
        let not_null = has_top_level(def, &["NOT", "NULL"]) || has_top_level(def, &["PRIMARY"]);
        let defaulted = has_top_level(def, &["DEFAULT"])
            || has_top_level(def, &["GENERATED"])
            || (dialect == SqlDialect::Postgres
                && def.first().is_some_and(|t| {
                    [
                        "SERIAL",
                        "BIGSERIAL",
                        "SMALLSERIAL",
                        "SERIAL4",
                        "SERIAL8",
                        "SERIAL2",
                    ]
                    .iter()
                    .any(|s| t.is_kw(s))
                }));
        let kind = match (not_null, defaulted) {
            (true, false) => K::AddNotNullColumn,
            (_, true) => K::AddColumnWithDefault,
            (false, false) => K::AddColumn,
        };
        return SchemaChange::new(kind, object);
    }
    if a.kw("DROP") {
        if a.kw("CONSTRAINT") {
            return SchemaChange::new(K::DropConstraint, column_name(&mut a));
        }
        a.kw("COLUMN");
        return SchemaChange::new(K::DropColumn, column_name(&mut a));
    }
    if a.kw("RENAME") {
        if a.kw("TO") {
            let new = a.name().unwrap_or_default();
            return SchemaChange::new(K::RenameTable, format!("{table} to {new}"));
        }
        if a.kw("CONSTRAINT") {
            return SchemaChange::new(K::RenameObject, column_name(&mut a));
        }
        a.kw("COLUMN");
        return SchemaChange::new(K::RenameColumn, column_name(&mut a));
    }
    if a.kw("ALTER") {
        a.kw("COLUMN");
        let object = column_name(&mut a);
        let kind = if a.kw("TYPE") || a.kws(&["SET", "DATA", "TYPE"]) {
            K::AlterColumnType
        } else if a.kws(&["SET", "NOT", "NULL"]) {
            K::SetNotNull
        } else if a.kws(&["DROP", "NOT", "NULL"]) {
            K::DropNotNull
        } else if a.kws(&["SET", "DEFAULT"]) {
            K::SetDefault
        } else if a.kws(&["DROP", "DEFAULT"])
            || a.kws(&["DROP", "IDENTITY"])
            || a.kws(&["DROP", "EXPRESSION"])
        {
            K::DropDefault
        } else if a.kws(&["ADD", "GENERATED"]) {
            K::SetDefault
        } else if a.at("SET") || a.at("RESET") {
            K::Maintenance
        } else {
            K::Unrecognized
        };
        return SchemaChange::new(kind, object);
    }
    if a.kws(&["VALIDATE", "CONSTRAINT"]) {
        return SchemaChange::new(K::ValidateConstraint, column_name(&mut a));
    }
    if a.kws(&["SET", "SCHEMA"]) {
        return SchemaChange::new(K::MoveObject, table);
    }
    const MAINTENANCE: [&str; 8] = [
        "OWNER", "SET", "RESET", "CLUSTER", "ENABLE", "DISABLE", "REPLICA", "INHERIT",
    ];
    if MAINTENANCE.iter().any(|k| a.at(k)) {
        return SchemaChange::new(K::Maintenance, table);
    }
    SchemaChange::new(K::Unrecognized, table)
}
