//! The log watcher's serde configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A named set of line patterns: a line counts when it matches one `include` regex and no
/// `exclude` regex (Rust `regex` syntax; `(?i)` for case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LogPattern {
    /// A line matching any of these counts…
    pub include: Vec<String>,
    /// …unless it matches one of these.
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl LogPattern {
    /// Lines matching any of `include`.
    pub fn new(include: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            include: include.into_iter().map(Into::into).collect(),
            exclude: Vec::new(),
        }
    }

    /// Leaves out lines matching any of `exclude`.
    pub fn with_exclude(mut self, exclude: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.exclude = exclude.into_iter().map(Into::into).collect();
        self
    }

    /// Exceptions as common runtimes print them: a class name ending in `Exception` or
    /// `Error` (Java, Python, .NET, JavaScript: `ValueError:`, `java.io.IOException`), Rust's
    /// `panicked at`, Go's `panic:`, and "unhandled"/"uncaught" exceptions. A log level
    /// `ERROR` alone is not an exception.
    pub fn exceptions() -> Self {
        Self::new([
            r"\b[A-Z][A-Za-z0-9_.$]*(Exception|Error)\b",
            r"panicked at",
            r"^panic: ",
            r"(?i)\b(unhandled|uncaught) exception",
        ])
    }
}

/// Configuration of a [`LogWatcher`](super::LogWatcher).
///
/// ```
/// use release_adapters::logs::LogWatcherConfig;
/// let config: LogWatcherConfig = serde_json::from_str(
///     r#"{ "root": "/srv/shop", "window_ms": 120000, "baseline_slot": "stable",
///          "queries": { "exceptions": { "include": ["Exception", "Error:"],
///                                       "exclude": ["HealthCheckError"] },
///                       "timeouts": { "include": ["(?i)timed? ?out"] } } }"#,
/// ).unwrap();
/// assert_eq!(config.queries.len(), 2);
/// assert!(!config.read_from_head);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LogWatcherConfig {
    /// The local-process target's root: logs are read from
    /// `<root>/slots/<environment>/<component>/<slot>/logs/*.log`.
    pub root: PathBuf,
    /// Named queries (default: `exceptions`, [`LogPattern::exceptions`]).
    pub queries: BTreeMap<String, LogPattern>,
    /// The window an instant query covers, ending at the query's time, in milliseconds
    /// (default 5 min).
    pub window_ms: u64,
    /// How long matched lines are kept for queries, in milliseconds (default 1 h).
    pub retention_ms: u64,
    /// The slot `new(…)` compares against when the query names none (default `stable`).
    pub baseline_slot: String,
    /// Count the lines already in files that exist when the watcher is created (default
    /// false: those lines only teach the watcher known exceptions, as Fluent Bit's tail
    /// starts at the end of existing files).
    pub read_from_head: bool,
    /// How much of the end of a file that exists at creation is read to learn known
    /// exceptions, in bytes (default 4 MiB).
    pub history_bytes: u64,
    /// Read a timestamp at the start of each line (default true); lines without one take
    /// the previous line's, or the time they were read.
    pub timestamps: bool,
    /// Longer lines are cut to this many bytes (default 16 KiB).
    pub max_line_bytes: usize,
    /// At most this many distinct fingerprints are remembered per slot and query (default
    /// 10,000); the least recently seen are forgotten first.
    pub max_fingerprints: usize,
}

impl Default for LogWatcherConfig {
    fn default() -> Self {
        Self {
            root: PathBuf::from("."),
            queries: BTreeMap::from([("exceptions".to_owned(), LogPattern::exceptions())]),
            window_ms: 300_000,
            retention_ms: 3_600_000,
            baseline_slot: "stable".to_owned(),
            read_from_head: false,
            history_bytes: 4 << 20,
            timestamps: true,
            max_line_bytes: 16 << 10,
            max_fingerprints: 10_000,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl LogWatcherConfig {
    /// The default configuration over a local-process target's root.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            ..Self::default()
        }
    }

    /// Adds or replaces a named query.
    pub fn with_query(mut self, name: impl Into<String>, pattern: LogPattern) -> Self {
        self.queries.insert(name.into(), pattern);
        self
    }

    /// Sets the window of instant queries.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window_ms = millis(window);
        self
    }

    /// Sets how long matched lines are kept.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention_ms = millis(retention);
        self
    }

    /// Sets the default baseline slot of `new(…)`.
    pub fn with_baseline(mut self, slot: impl Into<String>) -> Self {
        self.baseline_slot = slot.into();
        self
    }

    /// Counts lines already in existing files too.
    pub fn with_read_from_head(mut self, read_from_head: bool) -> Self {
        self.read_from_head = read_from_head;
        self
    }

    /// Turns reading line timestamps on or off.
    pub fn with_timestamps(mut self, timestamps: bool) -> Self {
        self.timestamps = timestamps;
        self
    }
}
