//! A small SQL lexer and statement splitter for the SQLite and PostgreSQL dialects.
//!
//! It knows exactly enough to cut a migration into statements without being fooled by a `;`
//! inside a string, a quoted identifier, a comment or a PostgreSQL dollar-quoted body, and to
//! hand the classifier a stream of words, names and punctuation. It does not parse SQL.
//!
//! Dialect rules it follows:
//! - both: `'…'` strings with `''` escapes, `"…"` identifiers with `""` escapes, `--` line
//!   comments, `/* … */` block comments;
//! - PostgreSQL: block comments nest, `E'…'` strings take backslash escapes, `$tag$…$tag$`
//!   (and `$$…$$`) bodies are opaque, `$1` is a parameter, and a `CREATE FUNCTION` or
//!   `PROCEDURE` with a `BEGIN ATOMIC … END` body is one statement;
//! - SQLite: `` `…` `` and `[…]` are identifiers too, and a `CREATE TRIGGER … BEGIN … END`
//!   is one statement (the `;` inside its body do not split it).

use super::SqlDialect;

/// Why a text cannot be split into statements.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct SqlError {
    /// The line (from 1) where the offending construct starts.
    pub line: u32,
    /// What is wrong, and how to fix it.
    pub problem: String,
}

/// One statement of a migration, as written (without its terminating `;`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// The statement's text, from its first token to its last.
    pub text: String,
    /// The line (from 1) of its first token, in the text that was split.
    pub line: u32,
}

/// A lexical token. Strings and dollar-quoted bodies are opaque.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A keyword or unquoted identifier, as written.
    Word(String),
    /// A quoted identifier, unescaped.
    Quoted(String),
    /// A string literal or dollar-quoted body.
    Str,
    /// A number.
    Number,
    /// A positional parameter (`$1`) or other placeholder.
    Param,
    /// Any other character.
    Punct(char),
}

impl Token {
    /// True when the token is this keyword (case-insensitive).
    pub(crate) fn is_kw(&self, keyword: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    /// The token as a name part: a word (lowercased, as unquoted names fold in both
    /// dialects) or a quoted identifier (as written).
    pub(crate) fn name(&self) -> Option<String> {
        match self {
            Token::Word(w) => Some(w.to_ascii_lowercase()),
            Token::Quoted(q) => Some(q.clone()),
            _ => None,
        }
    }
}

/// A token with the byte span and line where it sits.
#[derive(Clone, Debug)]
pub(crate) struct Spanned {
    pub token: Token,
    pub start: usize,
    pub end: usize,
    pub line: u32,
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    dialect: SqlDialect,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str, dialect: SqlDialect) -> Self {
        Self {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
            dialect,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek(0)?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    fn error(line: u32, problem: impl Into<String>) -> SqlError {
        SqlError {
            line,
            problem: problem.into(),
        }
    }

    /// Skips whitespace and comments.
    fn skip_trivia(&mut self) -> Result<(), SqlError> {
        loop {
            match (self.peek(0), self.peek(1)) {
                (Some(b), _) if b.is_ascii_whitespace() => {
                    self.bump();
                }
                (Some(b'-'), Some(b'-')) => {
                    while let Some(b) = self.peek(0) {
                        if b == b'\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    let line = self.line;
                    self.bump();
                    self.bump();
                    let nests = self.dialect == SqlDialect::Postgres;
                    let mut depth = 1u32;
                    loop {
                        match (self.peek(0), self.peek(1)) {
                            (None, _) => {
                                return Err(Self::error(
                                    line,
                                    "unterminated /* comment; close it with */",
                                ));
                            }
                            (Some(b'*'), Some(b'/')) => {
                                self.bump();
                                self.bump();
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            (Some(b'/'), Some(b'*')) if nests => {
                                self.bump();
                                self.bump();
                                depth += 1;
                            }
                            _ => {
                                self.bump();
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Reads up to the closing `close` (a doubled `close` is an escaped one).
    fn quoted(&mut self, close: u8, what: &str, backslash: bool) -> Result<String, SqlError> {
        let line = self.line;
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => {
                    return Err(Self::error(
                        line,
                        format!("unterminated {what}; close it with {}", char::from(close)),
                    ));
                }
                Some(b'\\') if backslash => {
                    if let Some(b) = self.bump() {
                        out.push(b);
                    }
                }
                Some(b) if b == close => {
                    if self.peek(0) == Some(close) && close != b']' {
                        self.bump();
                        out.push(close);
                    } else {
                        return Ok(String::from_utf8_lossy(&out).into_owned());
                    }
                }
                Some(b) => out.push(b),
            }
        }
    }

    /// At a `$`: a dollar-quoted body (`$$…$$`, `$tag$…$tag$`) or a parameter (`$1`).
    fn dollar(&mut self) -> Result<Token, SqlError> {
        let line = self.line;
        let rest = &self.text[self.pos + 1..];
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            self.bump();
            while self.peek(0).is_some_and(|b| b.is_ascii_digit()) {
                self.bump();
            }
            return Ok(Token::Param);
        }
        let tag_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if rest[tag_len..].starts_with('$') {
            let delimiter = format!("${}$", &rest[..tag_len]);
            let body_start = self.pos + delimiter.len();
            match self.text[body_start..].find(&delimiter) {
                Some(i) => {
                    let end = body_start + i + delimiter.len();
                    while self.pos < end {
                        self.bump();
                    }
                    Ok(Token::Str)
                }
                None => Err(Self::error(
                    line,
                    format!("unterminated dollar-quoted body; close it with {delimiter}"),
                )),
            }
        } else {
            self.bump();
            Ok(Token::Punct('$'))
        }
    }

    fn next(&mut self) -> Result<Option<Spanned>, SqlError> {
        self.skip_trivia()?;
        let start = self.pos;
        let line = self.line;
        let Some(b) = self.peek(0) else {
            return Ok(None);
        };
        let pg = self.dialect == SqlDialect::Postgres;
        let token = match b {
            b'\'' => {
                self.quoted(b'\'', "string", false)?;
                Token::Str
            }
            b'"' => Token::Quoted(self.quoted(b'"', "quoted identifier", false)?),
            b'`' if !pg => Token::Quoted(self.quoted(b'`', "quoted identifier", false)?),
            b'[' if !pg => Token::Quoted(self.quoted(b']', "quoted identifier", false)?),
            b'$' if pg => self.dollar()?,
            b'?' | b':' | b'@' if !pg && self.peek(1).is_some_and(is_word_byte) => {
                self.bump();
                while self.peek(0).is_some_and(is_word_byte) {
                    self.bump();
                }
                Token::Param
            }
            b if b.is_ascii_digit() => {
                while self
                    .peek(0)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
                {
                    self.bump();
                }
                Token::Number
            }
            b if is_word_start(b) => {
                // PostgreSQL's E'…' (and e'…') strings take backslash escapes.
                if pg && (b == b'E' || b == b'e') && self.peek(1) == Some(b'\'') {
                    self.bump();
                    self.quoted(b'\'', "string", true)?;
                    Token::Str
                } else {
                    while self
                        .peek(0)
                        .is_some_and(|b| is_word_byte(b) || (pg && b == b'$'))
                    {
                        self.bump();
                    }
                    Token::Word(self.text[start..self.pos].to_owned())
                }
            }
            _ => {
                // One character (a multi-byte one whole).
                let c = self.text[self.pos..].chars().next().unwrap_or('\u{fffd}');
                for _ in 0..c.len_utf8() {
                    self.bump();
                }
                Token::Punct(c)
            }
        };
        Ok(Some(Spanned {
            token,
            start,
            end: self.pos,
            line,
        }))
    }
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Every token of `text`.
pub(crate) fn tokenize(text: &str, dialect: SqlDialect) -> Result<Vec<Spanned>, SqlError> {
    let mut lexer = Lexer::new(text, dialect);
    let mut out = Vec::new();
    while let Some(t) = lexer.next()? {
        out.push(t);
    }
    Ok(out)
}

/// Splits SQL text into statements at top-level `;`, in order. Empty statements (`;;`) and
/// comment-only text yield nothing.
///
/// ```
/// use release_core::migration::{SqlDialect, split_statements};
/// let sql = "CREATE TABLE t (note TEXT DEFAULT 'a;b'); -- done;\nINSERT INTO t VALUES ($$x;y$$);";
/// let statements = split_statements(sql, SqlDialect::Postgres).unwrap();
/// assert_eq!(statements.len(), 2);
/// assert_eq!(statements[1].text, "INSERT INTO t VALUES ($$x;y$$)");
/// assert_eq!(statements[1].line, 2);
/// ```
pub fn split_statements(text: &str, dialect: SqlDialect) -> Result<Vec<Statement>, SqlError> {
    let tokens = tokenize(text, dialect)?;
    let mut out = Vec::new();
    let mut current: Vec<&Spanned> = Vec::new();
    // Depth of BEGIN … END inside a trigger (SQLite) or BEGIN ATOMIC body (PostgreSQL).
    let mut body_depth = 0u32;
    for (i, t) in tokens.iter().enumerate() {
        if current.is_empty() && t.token == Token::Punct(';') {
            continue;
        }
        if t.token == Token::Punct(';') && body_depth == 0 {
            push_statement(text, &current, &mut out);
            current.clear();
            continue;
        }
        if has_body(&current, dialect) {
            let opens = match dialect {
                SqlDialect::Sqlite => t.token.is_kw("BEGIN") || t.token.is_kw("CASE"),
                SqlDialect::Postgres => {
                    (t.token.is_kw("BEGIN")
                        && tokens.get(i + 1).is_some_and(|n| n.token.is_kw("ATOMIC")))
                        || (body_depth > 0 && t.token.is_kw("CASE"))
                }
            };
            if opens {
                body_depth += 1;
            } else if t.token.is_kw("END") && body_depth > 0 {
                body_depth -= 1;
            }
        }
        current.push(t);
    }
    if body_depth > 0 {
        let line = current.first().map_or(1, |t| t.line);
        return Err(SqlError {
            line,
            problem: "the body started with BEGIN has no matching END".to_owned(),
        });
    }
    push_statement(text, &current, &mut out);
    Ok(out)
}

/// True when the statement so far is one whose body may hold `;` (a trigger in SQLite, a
/// function or procedure in PostgreSQL).
fn has_body(current: &[&Spanned], dialect: SqlDialect) -> bool {
    let mut words = current.iter().map(|t| &t.token);
    if !words.next().is_some_and(|t| t.is_kw("CREATE")) {
        return false;
    }
    for t in words.take(4) {
        match dialect {
            SqlDialect::Sqlite if t.is_kw("TRIGGER") => return true,
            SqlDialect::Postgres if t.is_kw("FUNCTION") || t.is_kw("PROCEDURE") => return true,
            _ => {}
        }
    }
    false
}

fn push_statement(text: &str, current: &[&Spanned], out: &mut Vec<Statement>) {
    if let (Some(first), Some(last)) = (current.first(), current.last()) {
        out.push(Statement {
            text: text[first.start..last.end].to_owned(),
            line: first.line,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, dialect: SqlDialect) -> Vec<String> {
        split_statements(sql, dialect)
            .unwrap()
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn semicolons_inside_strings_comments_and_identifiers_do_not_split() {
        let sql = "INSERT INTO t VALUES ('a;b', 'it''s;'); /* x; /* nested; */ y; */\n\
                   SELECT \"we;ird\" FROM t; -- trailing; comment\nSELECT 1";
        assert_eq!(
            texts(sql, SqlDialect::Postgres),
            [
                "INSERT INTO t VALUES ('a;b', 'it''s;')",
                "SELECT \"we;ird\" FROM t",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn sqlite_block_comments_do_not_nest() {
        // In SQLite the first */ closes the comment, so `SELECT 1` is code.
        let sql = "/* a /* b */ SELECT 1; */";
        let got = split_statements(sql, SqlDialect::Sqlite).unwrap();
        assert_eq!(got[0].text, "SELECT 1");
        // PostgreSQL nests: everything is a comment.
        assert!(
            split_statements(sql, SqlDialect::Postgres)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn dollar_quoted_bodies_are_opaque() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; SELECT 2; $body$ LANGUAGE sql;\n\
                   DO $$ BEGIN PERFORM 1; END $$;";
        let got = texts(sql, SqlDialect::Postgres);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[1].starts_with("DO $$"));
    }

    #[test]
    fn escape_strings_take_backslashes() {
        let got = texts("SELECT E'it\\'s; fine'; SELECT 2", SqlDialect::Postgres);
        assert_eq!(got, ["SELECT E'it\\'s; fine'", "SELECT 2"]);
    }

    #[test]
    fn sqlite_triggers_are_one_statement() {
        let sql = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = CASE WHEN 1 THEN 2 END;\n  DELETE FROM c;\nEND;\nSELECT 1;";
        let got = texts(sql, SqlDialect::Sqlite);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("END"));
    }

    #[test]
    fn postgres_begin_atomic_bodies_are_one_statement() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\nBEGIN;\nCOMMIT;";
        let got = texts(sql, SqlDialect::Postgres);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[1], "BEGIN");
    }

    #[test]
    fn sqlite_identifier_quotes() {
        let got = texts("SELECT [a;b], `c;d` FROM t; SELECT 2", SqlDialect::Sqlite);
        assert_eq!(got, ["SELECT [a;b], `c;d` FROM t", "SELECT 2"]);
    }

    #[test]
    fn unterminated_constructs_are_errors_with_their_line() {
        for (sql, dialect, line, what) in [
            ("SELECT 1;\nSELECT 'open", SqlDialect::Sqlite, 2, "string"),
            ("SELECT 1;\n\n/* open", SqlDialect::Postgres, 3, "comment"),
            ("SELECT $x$ open", SqlDialect::Postgres, 1, "dollar"),
            ("SELECT \"open", SqlDialect::Postgres, 1, "identifier"),
            (
                "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT 1;",
                SqlDialect::Sqlite,
                1,
                "END",
            ),
        ] {
            let err = split_statements(sql, dialect).unwrap_err();
            assert_eq!(err.line, line, "{sql}");
            assert!(err.problem.contains(what), "{sql}: {err}");
        }
    }

    #[test]
    fn statements_know_their_lines() {
        let sql = "-- header\n\nCREATE TABLE a (x int);\n\nCREATE TABLE b (y int);";
        let got = split_statements(sql, SqlDialect::Sqlite).unwrap();
        assert_eq!(got.iter().map(|s| s.line).collect::<Vec<_>>(), [3, 5]);
    }
}
