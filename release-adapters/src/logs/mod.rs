//! Log watcher (M6.2): counts lines of the local-process target's slot logs that match named
//! patterns, and exceptions a slot logs that its baseline never did, as a metrics source.
//!
//! The local-process target (feature `process`) writes each replica's output to
//! `<root>/slots/<environment>/<component>/<slot>/logs/replica-<n>.log`; [`LogWatcher`] reads
//! those files as they grow and answers [`MetricQuery`](release_core::plugin::MetricQuery)s
//! for analyses and rollback triggers (`source: logs` in an analysis template).
//!
//! Queries (the names are the configured pattern sets, [`LogWatcherConfig::queries`]):
//! - `exceptions` or `count(exceptions)`: matching lines in the window;
//! - `rate(exceptions)`: the same per second;
//! - `new(exceptions)`: distinct exception fingerprints the slot logged in the window that
//!   the baseline slot (`baseline_slot`, default `stable`) has never logged.
//!
//! The slot is the scope's, or `{slot="canary"}` after the name (`new(exceptions{slot="canary",
//! baseline="stable"})`); the engine measures analyses without a slot, so canary analyses
//! name it. Without a slot, counts cover every slot of the component.
//!
//! Decisions:
//! - **Incremental reading.** Each file's offset is remembered; a query first reads what was
//!   appended since the last one (up to 64 MiB per file per query), keeping an unfinished
//!   last line until its line break arrives. A file shorter than what was read, or whose
//!   first bytes changed, was truncated (`copytruncate`) and is read again from its start. A
//!   file replaced under its name (another inode: rotation by rename) is first finished from
//!   the rotated file next to it (`replica-0.log.1`, found by inode), then the new one is
//!   read from its start. Lines longer than `max_line_bytes` are cut.
//! - **Where reading starts.** As Fluent Bit's tail: files that exist when the watcher is
//!   created are read from their end, files that appear later from their start, so an
//!   engine restart does not count old lines again (`read_from_head` counts everything).
//!   The last `history_bytes` of the existing files are still read, but only to learn which
//!   exceptions the baseline already knows.
//! - **Time.** A line starting with a timestamp (RFC 3339, or `2026-12-01 09:00:00,123` read
//!   as UTC, optionally in `[…]`) counts at that time; a line without one (a stack trace's
//!   continuation) takes the previous line's time from the same file, or the time it was read
//!   from the injected [`Clock`](release_core::plugin::Clock). An instant query counts
//!   `(end − window, end]`; with `start < end` and no step, `(start, end]`; with a step, one
//!   sample per `(t − step, t]`. Matched lines are kept for `retention_ms`.
//! - **Patterns** are matched against the line without its timestamp: any `include` regex
//!   and no `exclude` regex. Multi-line records are not joined: a stack trace counts once
//!   when only its exception line matches (the default `exceptions` patterns are written so).
//! - **Fingerprints** are the matched line with its timestamp, numbers, hex words and UUIDs
//!   replaced by placeholders (`KeyError: order <n> of user <uuid>`), so one exception
//!   thrown many times is one fingerprint. The baseline's known fingerprints include
//!   everything it logged while watched and its learned history; at most `max_fingerprints`
//!   per slot and query are remembered, the least recently seen forgotten first.
//!   [`LogWatcher::new_exceptions`] lists the new ones for a person.
//! - **No data vs zero.** A slot with log files and no matching line measures 0; a slot
//!   without any log file (not deployed), or a `new(…)` whose baseline has no log file, is
//!   no data (an empty series), so a first release is not judged against nothing.
//! - **Blocking reads** run on tokio's blocking pool; state (offsets, matched lines) lives in
//!   memory behind one mutex.

mod config;
mod error;
mod line;
mod tail;
mod watcher;

pub use config::{LogPattern, LogWatcherConfig};
pub use error::LogWatchError;
pub use watcher::LogWatcher;
