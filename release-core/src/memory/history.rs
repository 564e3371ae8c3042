//! The bounded call log each in-memory plugin keeps.
//!
//! A plugin logs the calls it received (applies, weight changes, queries, checks) so that a
//! test can assert outcomes (module docs). Kept without bound, that log grows with every
//! release for as long as the process lives: a host that embeds the in-memory plugins for
//! 10,000 applications keeps every weight change and every apply ever made, and each entry
//! is a small allocation made in the middle of a release's short-lived data, which it then
//! pins in the heap for good (issue #10: the allocator searched the holes between those
//! pins in every later round). So a log keeps the last [`DEFAULT_HISTORY_LIMIT`] entries
//! unless the plugin is built with another limit, as Argo Rollouts keeps the last
//! `revisionHistoryLimit` ReplicaSets and Kubernetes the last events of an object; older
//! entries are dropped, oldest first, and counted. `usize::MAX` keeps every entry.

use std::collections::VecDeque;

/// How many entries each in-memory plugin's call log keeps by default (router weight
/// changes, target applies and removes, no-op applies, metric queries, probe checks).
pub const DEFAULT_HISTORY_LIMIT: usize = 1_000;

/// The last `limit` entries, oldest first.
#[derive(Debug)]
pub(crate) struct History<T> {
    entries: VecDeque<T>,
    limit: usize,
    dropped: u64,
}

impl<T> Default for History<T> {
    fn default() -> Self {
        Self::new(DEFAULT_HISTORY_LIMIT)
    }
}

impl<T> History<T> {
    /// An empty log that keeps at most `limit` entries (0 keeps none).
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            limit,
            dropped: 0,
        }
    }

    /// Whether a pushed entry would be kept: callers skip building one that would not.
    pub(crate) fn keeps(&self) -> bool {
        self.limit > 0
    }

    /// Appends an entry, dropping the oldest when full.
    pub(crate) fn push(&mut self, entry: T) {
        if self.limit == 0 {
            self.dropped += 1;
            return;
        }
        if self.entries.len() >= self.limit {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(entry);
    }

    /// Counts an entry that was not built because it would not be kept.
    pub(crate) fn skip(&mut self) {
        self.dropped += 1;
    }

    /// Appends the entry `make` builds, or only counts it when none is kept (the entry is
    /// usually a clone, not worth making to drop).
    pub(crate) fn record(&mut self, make: impl FnOnce() -> T) {
        if self.keeps() {
            self.push(make());
        } else {
            self.skip();
        }
    }

    /// Changes the limit, dropping the oldest entries beyond it.
    pub(crate) fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        while self.entries.len() > limit {
            self.entries.pop_front();
            self.dropped += 1;
        }
    }

    /// The kept entries, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.entries.iter()
    }

    /// Entries dropped so far (older than the kept ones, or never kept with a limit of 0).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

impl<T: Clone> History<T> {
    /// The kept entries, oldest first.
    pub(crate) fn to_vec(&self) -> Vec<T> {
        self.entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_entries_and_counts_the_dropped_ones() {
        let mut h = History::new(3);
        for i in 0..5 {
            h.push(i);
        }
        assert_eq!(h.to_vec(), vec![2, 3, 4]);
        assert_eq!(h.dropped(), 2);
        h.set_limit(1);
        assert_eq!(h.to_vec(), vec![4]);
        assert_eq!(h.dropped(), 4);
    }

    #[test]
    fn a_limit_of_zero_keeps_nothing() {
        let mut h = History::new(0);
        assert!(!h.keeps());
        h.push(1);
        h.skip();
        assert!(h.to_vec().is_empty());
        assert_eq!(h.dropped(), 2);
    }

    #[test]
    fn the_default_limit_is_the_documented_one() {
        let mut h = History::default();
        for i in 0..DEFAULT_HISTORY_LIMIT + 10 {
            h.push(i);
        }
        assert_eq!(h.iter().count(), DEFAULT_HISTORY_LIMIT);
        assert_eq!(h.iter().next(), Some(&10));
        assert_eq!(h.dropped(), 10);
    }
}
