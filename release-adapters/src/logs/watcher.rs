//! The watcher: matched lines per slot and query, windows, and new fingerprints.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use regex::{Regex, RegexSet};
use release_core::plugin::{Clock, MetricQuery, MetricsSource, Sample, Series};

use super::config::LogWatcherConfig;
use super::error::LogWatchError;
use super::line::{fingerprint, leading_timestamp};
use super::tail::{FileId, Line, Tail, file_id};

/// At most this many matched lines are kept per slot and query; the oldest go first.
const MAX_HITS: usize = 200_000;

/// A range query may ask for at most this many points (as Prometheus).
const MAX_POINTS: i64 = 11_000;

/// A [`MetricsSource`] counting log lines of the local-process target's slots that match
/// named patterns, and exceptions a slot logs that its baseline never did (M6.2).
///
/// ```no_run
/// # async fn demo() -> release_core::Result<()> {
/// use std::sync::Arc;
/// use release_adapters::logs::{LogWatcher, LogWatcherConfig};
/// use release_core::plugin::{MetricQuery, MetricScope, MetricsSource, SystemClock};
///
/// let watcher = LogWatcher::new(LogWatcherConfig::new("/srv/shop"), Arc::new(SystemClock))?;
/// let scope = MetricScope { component: "web".into(), environment: "prod".into(), slot: None };
/// let now = chrono::Utc::now();
/// let canary = watcher
///     .query(&MetricQuery::instant(r#"exceptions{slot="canary"}"#, scope.clone(), now))
///     .await?;
/// let new = watcher
///     .query(&MetricQuery::instant(r#"new(exceptions{slot="canary"})"#, scope, now))
///     .await?;
/// # let _ = (canary, new);
/// # Ok(()) }
/// ```
pub struct LogWatcher {
    inner: Arc<Inner>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for LogWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogWatcher")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Pattern {
    name: String,
    include: RegexSet,
    exclude: RegexSet,
}

struct Inner {
    config: LogWatcherConfig,
    patterns: Vec<Pattern>,
    /// Files that existed when the watcher was created: identity and size.
    existing: BTreeMap<PathBuf, (FileId, u64)>,
    state: Mutex<State>,
}

/// `(from, to]`.
type Interval = (DateTime<Utc>, DateTime<Utc>);

/// (environment, component, slot).
type SlotKey = (String, String, String);

#[derive(Default)]
struct State {
    tails: BTreeMap<PathBuf, FileTail>,
    slots: BTreeMap<SlotKey, SlotLog>,
}

struct FileTail {
    tail: Tail,
    /// The last timestamp read from this file, for lines without one.
    last_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct SlotLog {
    queries: BTreeMap<String, QueryLog>,
}

#[derive(Default)]
struct QueryLog {
    hits: VecDeque<Hit>,
    /// Every fingerprint seen (history included) → when last seen.
    known: HashMap<Arc<str>, DateTime<Utc>>,
}

struct Hit {
    at: DateTime<Utc>,
    fingerprint: Arc<str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Function {
    Count,
    Rate,
    New,
}

#[derive(Debug)]
struct LogQuery {
    function: Function,
    name: String,
    slot: Option<String>,
    baseline: Option<String>,
}

impl LogWatcher {
    /// Compiles the patterns and notes the log files that exist now (see
    /// [`LogWatcherConfig::read_from_head`]). Time for lines without timestamps and for
    /// retention comes from `clock`.
    pub fn new(config: LogWatcherConfig, clock: Arc<dyn Clock>) -> Result<Self, LogWatchError> {
        if config.queries.is_empty() {
            return Err(LogWatchError::Config {
                field: "queries",
                problem: "is empty; configure at least one named pattern set, such as `exceptions`"
                    .to_owned(),
            });
        }
        for (field, value) in [
            ("window_ms", config.window_ms),
            ("retention_ms", config.retention_ms),
            (
                "max_line_bytes",
                u64::try_from(config.max_line_bytes).unwrap_or(u64::MAX),
            ),
            (
                "max_fingerprints",
                u64::try_from(config.max_fingerprints).unwrap_or(u64::MAX),
            ),
        ] {
            if value == 0 {
                return Err(LogWatchError::Config {
                    field,
                    problem: "is 0; give a positive number".to_owned(),
                });
            }
        }
        if !is_dir_name(&config.baseline_slot) {
            return Err(LogWatchError::Config {
                field: "baseline_slot",
                problem: format!(
                    "is `{}`, which cannot name a slot directory",
                    config.baseline_slot
                ),
            });
        }
        let mut patterns = Vec::with_capacity(config.queries.len());
        for (name, pattern) in &config.queries {
            if pattern.include.is_empty() {
                return Err(LogWatchError::NoPatterns {
                    query: name.clone(),
                });
            }
            let compile = |list: &[String]| {
                for p in list {
                    Regex::new(p).map_err(|source| LogWatchError::Pattern {
                        query: name.clone(),
                        pattern: p.clone(),
                        source,
                    })?;
                }
                RegexSet::new(list).map_err(|source| LogWatchError::Pattern {
                    query: name.clone(),
                    pattern: list.join(" | "),
                    source,
                })
            };
            patterns.push(Pattern {
                name: name.clone(),
                include: compile(&pattern.include)?,
                exclude: compile(&pattern.exclude)?,
            });
        }
        let existing = if config.read_from_head {
            BTreeMap::new()
        } else {
            existing_logs(&config.root)
        };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                patterns,
                existing,
                state: Mutex::new(State::default()),
            }),
            clock,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LogWatcherConfig {
        &self.inner.config
    }

    /// Runs a query, with this module's own error type.
    pub async fn run(&self, query: &MetricQuery) -> Result<Series, LogWatchError> {
        let inner = self.inner.clone();
        let now = self.clock.now();
        let query = query.clone();
        tokio::task::spawn_blocking(move || inner.evaluate(&query, now))
            .await
            .map_err(|e| LogWatchError::Task(e.to_string()))?
    }

    /// The fingerprints a `new(…)` query counts at its end (over the instant window, or
    /// `(start, end]`), sorted: what a person reads to see which exceptions are new.
    pub async fn new_exceptions(&self, query: &MetricQuery) -> Result<Vec<String>, LogWatchError> {
        let inner = self.inner.clone();
        let now = self.clock.now();
        let query = query.clone();
        tokio::task::spawn_blocking(move || inner.new_fingerprints(&query, now))
            .await
            .map_err(|e| LogWatchError::Task(e.to_string()))?
    }
}

#[async_trait]
impl MetricsSource for LogWatcher {
    async fn query(&self, query: &MetricQuery) -> release_core::Result<Series> {
        Ok(self.run(query).await?)
    }
}

fn is_dir_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

fn logs_dir(root: &Path, (environment, component, slot): &SlotKey) -> PathBuf {
    root.join("slots")
        .join(environment)
        .join(component)
        .join(slot)
        .join("logs")
}

fn sub_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn is_log(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "log") && path.is_file()
}

/// `<root>/slots/*/*/*/logs/*.log` with identity and size.
fn existing_logs(root: &Path) -> BTreeMap<PathBuf, (FileId, u64)> {
    let mut out = BTreeMap::new();
    for env in sub_dirs(&root.join("slots")) {
        for component in sub_dirs(&env) {
            for slot in sub_dirs(&component) {
                for file in std::fs::read_dir(slot.join("logs"))
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| is_log(p))
                {
                    if let Ok(meta) = std::fs::metadata(&file) {
                        out.insert(file, (file_id(&meta), meta.len()));
                    }
                }
            }
        }
    }
    out
}

impl Inner {
    /// Reads what the slot's files gained and files it into the slot's log. False when the
    /// slot has no log file at all.
    fn catch_up(
        &self,
        state: &mut State,
        key: &SlotKey,
        now: DateTime<Utc>,
    ) -> Result<bool, LogWatchError> {
        let dir = logs_dir(&self.config.root, key);
        let mut files: BTreeSet<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| is_log(p))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(source) => return Err(LogWatchError::Read { path: dir, source }),
        };
        let any = !files.is_empty();
        // Files read before and gone now (rotated away) are finished from their new name.
        files.extend(
            state
                .tails
                .keys()
                .filter(|p| p.parent() == Some(dir.as_path()))
                .cloned(),
        );
        let slot = state.slots.entry(key.clone()).or_default();
        let mut lines = Vec::new();
        for path in files {
            let file = match state.tails.entry(path.clone()) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let id = std::fs::metadata(&path).ok().map(|m| file_id(&m));
                    let history = self
                        .existing
                        .get(&path)
                        .filter(|(then, _)| Some(*then) == id)
                        .map(|(_, size)| *size);
                    e.insert(FileTail {
                        tail: Tail::new(id.flatten(), history, self.config.history_bytes),
                        last_at: None,
                    })
                }
            };
            lines.clear();
            file.tail
                .read_new(&path, self.config.max_line_bytes, &mut lines)?;
            for line in &lines {
                self.ingest(slot, line, &mut file.last_at, now);
            }
        }
        let oldest = now
            - chrono::Duration::milliseconds(
                i64::try_from(self.config.retention_ms).unwrap_or(i64::MAX / 2),
            );
        for log in slot.queries.values_mut() {
            log.hits.retain(|h| h.at > oldest);
            while log.hits.len() > MAX_HITS {
                log.hits.pop_front();
            }
            if log.known.len() > self.config.max_fingerprints {
                let mut by_age: Vec<(DateTime<Utc>, Arc<str>)> =
                    log.known.iter().map(|(fp, at)| (*at, fp.clone())).collect();
                by_age.sort();
                let excess = log.known.len() - self.config.max_fingerprints;
                for (_, fp) in by_age.into_iter().take(excess) {
                    log.known.remove(&fp);
                }
            }
        }
        Ok(any)
    }

    fn ingest(
        &self,
        slot: &mut SlotLog,
        line: &Line,
        last_at: &mut Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        let (at, body) = match self
            .config
            .timestamps
            .then(|| leading_timestamp(&line.text))
            .flatten()
        {
            Some((at, body)) => {
                *last_at = Some(at);
                (at, body)
            }
            None => (last_at.unwrap_or(now), line.text.as_str()),
        };
        let mut print: Option<Arc<str>> = None;
        for pattern in &self.patterns {
            if !pattern.include.is_match(body) || pattern.exclude.is_match(body) {
                continue;
            }
            let fp = print
                .get_or_insert_with(|| Arc::from(fingerprint(body)))
                .clone();
            let log = slot.queries.entry(pattern.name.clone()).or_default();
            log.known
                .entry(fp.clone())
                .and_modify(|seen| *seen = (*seen).max(at))
                .or_insert(at);
            if !line.learn_only {
                log.hits.push_back(Hit {
                    at,
                    fingerprint: fp,
                });
            }
        }
    }

    fn parse(&self, query: &MetricQuery) -> Result<LogQuery, LogWatchError> {
        let parsed = parse_query(&query.query).map_err(|reason| LogWatchError::Syntax {
            query: query.query.clone(),
            reason,
        })?;
        if !self.config.queries.contains_key(&parsed.name) {
            return Err(LogWatchError::UnknownQuery {
                query: query.query.clone(),
                name: parsed.name,
                known: self
                    .config
                    .queries
                    .keys()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let slot = parsed
            .slot
            .clone()
            .or_else(|| query.scope.slot.as_deref().map(str::to_owned));
        for (what, name) in [
            ("component", Some(query.scope.component.as_str())),
            ("environment", Some(query.scope.environment.as_str())),
            ("slot", slot.as_deref()),
            ("baseline", parsed.baseline.as_deref()),
        ] {
            if let Some(name) = name
                && !is_dir_name(name)
            {
                return Err(LogWatchError::Name {
                    query: query.query.clone(),
                    what,
                    name: name.to_owned(),
                });
            }
        }
        Ok(LogQuery { slot, ..parsed })
    }

    /// The slot and baseline keys of a `new(…)` query.
    fn comparison(
        &self,
        query: &MetricQuery,
        parsed: &LogQuery,
    ) -> Result<(SlotKey, SlotKey), LogWatchError> {
        let Some(slot) = parsed.slot.clone() else {
            return Err(LogWatchError::MissingSlot {
                query: query.query.clone(),
                component: query.scope.component.to_string(),
                environment: query.scope.environment.to_string(),
            });
        };
        let baseline = parsed
            .baseline
            .clone()
            .unwrap_or_else(|| self.config.baseline_slot.clone());
        if baseline == slot {
            return Err(LogWatchError::SameSlot {
                query: query.query.clone(),
                slot,
            });
        }
        let key = |slot: String| {
            (
                query.scope.environment.to_string(),
                query.scope.component.to_string(),
                slot,
            )
        };
        Ok((key(slot), key(baseline)))
    }

    fn evaluate(&self, query: &MetricQuery, now: DateTime<Utc>) -> Result<Series, LogWatchError> {
        let parsed = self.parse(query)?;
        let intervals = intervals(query, self.config.window_ms)?;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let samples = match parsed.function {
            Function::Count | Function::Rate => {
                let slots: Vec<SlotKey> = match &parsed.slot {
                    Some(slot) => vec![(
                        query.scope.environment.to_string(),
                        query.scope.component.to_string(),
                        slot.clone(),
                    )],
                    None => self.slots_of(query),
                };
                let mut any = false;
                for key in &slots {
                    any |= self.catch_up(&mut state, key, now)?;
                }
                if !any {
                    return Ok(Series::default());
                }
                intervals
                    .iter()
                    .map(|&(from, to)| {
                        let count: usize = slots
                            .iter()
                            .filter_map(|k| state.slots.get(k)?.queries.get(&parsed.name))
                            .map(|log| {
                                log.hits
                                    .iter()
                                    .filter(|h| h.at > from && h.at <= to)
                                    .count()
                            })
                            .sum();
                        let value = if parsed.function == Function::Rate {
                            let seconds = (to - from).num_milliseconds() as f64 / 1000.0;
                            if seconds > 0.0 {
                                count as f64 / seconds
                            } else {
                                count as f64
                            }
                        } else {
                            count as f64
                        };
                        Sample { at: to, value }
                    })
                    .collect()
            }
            Function::New => {
                let (slot, baseline) = self.comparison(query, &parsed)?;
                let has_slot = self.catch_up(&mut state, &slot, now)?;
                let has_baseline = self.catch_up(&mut state, &baseline, now)?;
                if !has_slot || !has_baseline {
                    return Ok(Series::default());
                }
                intervals
                    .iter()
                    .map(|&(from, to)| Sample {
                        at: to,
                        value: new_in(&state, &slot, &baseline, &parsed.name, from, to).len()
                            as f64,
                    })
                    .collect()
            }
        };
        Ok(Series { samples })
    }

    fn new_fingerprints(
        &self,
        query: &MetricQuery,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, LogWatchError> {
        let parsed = self.parse(query)?;
        if parsed.function != Function::New {
            return Err(LogWatchError::Syntax {
                query: query.query.clone(),
                reason: "listing new exceptions needs a `new(…)` query".to_owned(),
            });
        }
        let (slot, baseline) = self.comparison(query, &parsed)?;
        let (from, to) = if query.start < query.end {
            (query.start, query.end)
        } else {
            (query.end - window(self.config.window_ms), query.end)
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.catch_up(&mut state, &slot, now)?;
        self.catch_up(&mut state, &baseline, now)?;
        Ok(new_in(&state, &slot, &baseline, &parsed.name, from, to)
            .into_iter()
            .map(|fp| fp.to_string())
            .collect())
    }

    /// Every slot directory of the query's component and environment.
    fn slots_of(&self, query: &MetricQuery) -> Vec<SlotKey> {
        let dir = self
            .config
            .root
            .join("slots")
            .join(query.scope.environment.as_str())
            .join(query.scope.component.as_str());
        sub_dirs(&dir)
            .into_iter()
            .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
            .map(|slot| {
                (
                    query.scope.environment.to_string(),
                    query.scope.component.to_string(),
                    slot,
                )
            })
            .collect()
    }
}

/// Distinct fingerprints `slot` logged in `(from, to]` that `baseline` never logged, sorted.
fn new_in<'a>(
    state: &'a State,
    slot: &SlotKey,
    baseline: &SlotKey,
    query: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeSet<&'a Arc<str>> {
    let known = state
        .slots
        .get(baseline)
        .and_then(|s| s.queries.get(query))
        .map(|log| &log.known);
    state
        .slots
        .get(slot)
        .and_then(|s| s.queries.get(query))
        .map(|log| {
            log.hits
                .iter()
                .filter(|h| h.at > from && h.at <= to)
                .map(|h| &h.fingerprint)
                .filter(|fp| known.is_none_or(|k| !k.contains_key(*fp)))
                .collect()
        })
        .unwrap_or_default()
}

fn window(ms: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2))
}

/// The `(from, to]` intervals a query's samples cover.
fn intervals(query: &MetricQuery, window_ms: u64) -> Result<Vec<Interval>, LogWatchError> {
    let (start, end) = (query.start, query.end);
    match query.step {
        Some(step) => {
            let step = chrono::Duration::from_std(step)
                .ok()
                .filter(|s| *s > chrono::Duration::zero())
                .ok_or_else(|| LogWatchError::Step {
                    query: query.query.clone(),
                    problem: format!(
                        "step {step:?} is not a positive duration; give one, or no step for one value"
                    ),
                })?;
            if start >= end || end - start < step {
                return Ok(vec![(end - step, end)]);
            }
            let points = (end - start).num_milliseconds() / step.num_milliseconds().max(1);
            if points > MAX_POINTS {
                return Err(LogWatchError::Step {
                    query: query.query.clone(),
                    problem: format!(
                        "{points} points asked for, at most {MAX_POINTS}; raise the step or shorten the range"
                    ),
                });
            }
            let mut out = Vec::new();
            let mut t = start + step;
            while t <= end {
                out.push((t - step, t));
                t += step;
            }
            Ok(out)
        }
        None if start < end => Ok(vec![(start, end)]),
        None => Ok(vec![(end - window(window_ms), end)]),
    }
}

/// `name`, `name{slot="x"}`, `count(…)`, `rate(…)`, `new(name{slot="x", baseline="y"})`.
fn parse_query(text: &str) -> Result<LogQuery, String> {
    let t = text.trim();
    let (function, inner) = match t.find('(') {
        Some(open) => {
            let function = match t[..open].trim() {
                "count" => Function::Count,
                "rate" => Function::Rate,
                "new" => Function::New,
                other => {
                    return Err(format!(
                        "`{other}` is not a function of the log watcher (count, rate, new)"
                    ));
                }
            };
            let inner = t[open + 1..]
                .strip_suffix(')')
                .ok_or_else(|| "the `(` is not closed by a `)` at the end".to_owned())?;
            (function, inner.trim())
        }
        None => (Function::Count, t),
    };
    let name_end = inner.find('{').unwrap_or(inner.len());
    let name = inner[..name_end].trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(format!(
            "`{name}` is not a query name (letters, digits, `_`, `-`, `.`)"
        ));
    }
    let mut query = LogQuery {
        function,
        name: name.to_owned(),
        slot: None,
        baseline: None,
    };
    let selector = inner[name_end..].trim();
    if selector.is_empty() {
        return Ok(query);
    }
    let body = selector
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(|| format!("the selector `{selector}` must be `{{label=\"value\", …}}`"))?;
    for (label, value) in parse_selector(body)? {
        let field = match label.as_str() {
            "slot" => &mut query.slot,
            "baseline" if function == Function::New => &mut query.baseline,
            "baseline" => return Err("`baseline` only applies to `new(…)`".to_owned()),
            other => {
                return Err(format!(
                    "label `{other}` is not known; use `slot` (and `baseline` in `new(…)`)"
                ));
            }
        };
        if field.replace(value).is_some() {
            return Err(format!("label `{label}` is given twice"));
        }
    }
    Ok(query)
}

/// `slot="canary", baseline=stable` → pairs; values quoted (with `\"`, `\\`) or bare.
fn parse_selector(body: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut label = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                label.push(c);
                chars.next();
            } else {
                break;
            }
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if label.is_empty() || chars.next() != Some('=') {
            return Err(format!(
                "the selector `{{{body}}}` needs `label=\"value\"` pairs"
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err("a `\\` ends the selector".to_owned()),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of `{label}` is not closed by `\"`")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    value.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
        }
        if value.is_empty() {
            return Err(format!("label `{label}` has no value"));
        }
        out.push((label, value));
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(out),
            Some(',') => {}
            Some(c) => return Err(format!("expected `,` or `}}`, found `{c}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse_in_every_form() {
        let q = parse_query("exceptions").unwrap();
        assert_eq!(
            (q.function, q.name.as_str(), q.slot),
            (Function::Count, "exceptions", None)
        );
        let q = parse_query(r#" rate( exceptions { slot = "canary" } ) "#).unwrap();
        assert_eq!(
            (q.function, q.slot.as_deref()),
            (Function::Rate, Some("canary"))
        );
        let q = parse_query(r#"new(exceptions{slot=canary, baseline="st\"able",})"#).unwrap();
        assert_eq!(
            (q.function, q.slot.as_deref(), q.baseline.as_deref()),
            (Function::New, Some("canary"), Some("st\"able"))
        );
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        let reason = |q| parse_query(q).unwrap_err();
        assert!(reason("sum(exceptions)").contains("`sum` is not a function"));
        assert!(reason("rate(exceptions").contains("not closed"));
        assert!(reason(r#"exceptions{baseline="stable"}"#).contains("only applies to `new"));
        assert!(reason(r#"exceptions{slot="a",slot="b"}"#).contains("twice"));
        assert!(reason(r#"exceptions{team="a"}"#).contains("label `team` is not known"));
        assert!(reason(r#"exceptions{slot="a}"#).contains("not closed"));
        assert!(reason("exc eptions").contains("not a query name"));
    }
}
