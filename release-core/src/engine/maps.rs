//! The fold's maps: small maps kept as sorted vectors.
//!
//! A release has a handful of stages and a few dozen steps, and its fold lives only as long
//! as its run. `BTreeMap` was the wrong shape for that (issue #10): a B-tree node holds eleven
//! entries whatever the count, so a single stage cost a 1.7 KB node and a canary's steps
//! three nodes of 1.1–1.2 KB. Requests of a kilobyte or more leave the allocator's small-size
//! caches; glibc answers each one by merging its pending small free chunks first
//! (`malloc_consolidate`), and in a process that already holds thousands of releases those
//! merges touch memory spread over hundreds of megabytes. The maps here keep the same order
//! and the same lookups with allocations sized to what is stored:
//!
//! - [`SortedMap`]: entries in one vector sorted by key (binary search, insertion in order);
//! - [`StepMap`]: steps grouped by program (environment, attempt, component, program), each
//!   group a [`SortedMap`] from step index to state; iteration and serialization give the
//!   same order as a `BTreeMap<StepKey, StepState>`, which is what it replaced.
//!
//! Lookups are `O(log n)`, insertions `O(n)` for a key that sorts before the last one. A
//! program's steps are journaled in index order, so a step is a push onto its group; stages
//! and programs arrive in plan order, which is not key order (`production` sorts before
//! `staging`), but there are few of them.
//!
//! They are not drop-in `BTreeMap`s: [`StepMap::iter`] yields keys by value (a group stores
//! its program once, so there is no `StepKey` to borrow), neither has `entry`, `range` or
//! removal by range, and [`SortedMap::get_or_default`] stands for `entry(k).or_default()`.

use std::borrow::Borrow;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::state::StepState;
use crate::id::{ComponentId, EnvironmentName};
use crate::ledger::{Program, StepKey};

/// A map kept as a vector of entries sorted by key.
///
/// Iteration is in key order, like a `BTreeMap`, and it serializes as a map in that order.
#[derive(Clone, PartialEq, Eq)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    fn position<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        // A key at or after the end is the cheap case: the next step of a program.
        match self.entries.last() {
            None => return Err(0),
            Some((last, _)) => match last.borrow().cmp(key) {
                std::cmp::Ordering::Less => return Err(self.entries.len()),
                std::cmp::Ordering::Equal => return Ok(self.entries.len() - 1),
                std::cmp::Ordering::Greater => {}
            },
        }
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value for `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.position(key).ok()?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// The value for `key`, to change.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.position(key).ok()?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).is_ok()
    }

    /// Sets the value for `key`, returning the one it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            Ok(i) => self
                .entries
                .get_mut(i)
                .map(|(_, v)| std::mem::replace(v, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// The value for `key`, inserting `make()` first when there is none (the
    /// `entry(key).or_insert_with(make)` of a `BTreeMap`).
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.position(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// The value for `key`, inserting the default first when there is none.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        self.get_or_insert_with(key, V::default)
    }

    /// Removes `key`, returning its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.position(key).ok()?;
        Some(self.entries.remove(i).1)
    }
}

impl<K, V> SortedMap<K, V> {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries in key order, values changeable.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        fn pair<K, V>((k, v): &(K, V)) -> (&K, &V) {
            (k, v)
        }
        self.entries.iter().map(pair)
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    /// The entries in key order, by value.
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    /// Later entries replace earlier ones with the same key, as in a `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<K: Serialize, V: Serialize> Serialize for SortedMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// What a [`StepKey`] names apart from its index: one program of one component in one stage
/// attempt. Field order is `StepKey`'s, so the derived order agrees with it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ProgramKey {
    environment: EnvironmentName,
    attempt: u32,
    component: ComponentId,
    program: Program,
}

impl ProgramKey {
    fn of(key: &StepKey) -> Self {
        Self {
            environment: key.environment.clone(),
            attempt: key.attempt,
            component: key.component.clone(),
            program: key.program,
        }
    }

    /// How this program sorts against the program of `key` (field by field, as `StepKey`).
    fn cmp_key(&self, key: &StepKey) -> std::cmp::Ordering {
        (
            &self.environment,
            self.attempt,
            &self.component,
            self.program,
        )
            .cmp(&(&key.environment, key.attempt, &key.component, key.program))
    }

    fn step(&self, index: u32) -> StepKey {
        StepKey {
            environment: self.environment.clone(),
            attempt: self.attempt,
            component: self.component.clone(),
            program: self.program,
            index,
        }
    }
}

/// The fold's steps by [`StepKey`], grouped by program.
///
/// Behaves as a `BTreeMap<StepKey, StepState>` for what the fold needs (lookups, insertion,
/// iteration in key order, serialization as a map in that order) but stores each program's
/// identity once and its steps as `(index, state)` pairs, so a canary's dozen steps take
/// one group and one allocation of a few hundred bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StepMap {
    programs: Vec<(ProgramKey, SortedMap<u32, StepState>)>,
    len: usize,
}

impl fmt::Debug for StepMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl StepMap {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    fn group(&self, key: &StepKey) -> Result<usize, usize> {
        // The group that sorts last is checked first: with one stage and one component, the
        // common shape, it is the only group.
        if let Some((last, _)) = self.programs.last()
            && last.cmp_key(key).is_eq()
        {
            return Ok(self.programs.len() - 1);
        }
        self.programs.binary_search_by(|(p, _)| p.cmp_key(key))
    }

    /// The state of the step `key`.
    pub fn get(&self, key: &StepKey) -> Option<&StepState> {
        let g = self.group(key).ok()?;
        self.programs.get(g)?.1.get(&key.index)
    }

    /// Whether the step `key` has a state.
    pub fn contains_key(&self, key: &StepKey) -> bool {
        self.get(key).is_some()
    }

    /// Sets the state of the step `key`, returning the one it replaced.
    pub fn insert(&mut self, key: StepKey, state: StepState) -> Option<StepState> {
        let g = match self.group(&key) {
            Ok(g) => g,
            Err(g) => {
                self.programs
                    .insert(g, (ProgramKey::of(&key), SortedMap::new()));
                g
            }
        };
        let previous = self.programs[g].1.insert(key.index, state);
        if previous.is_none() {
            self.len += 1;
        }
        previous
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no steps.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The steps in key order (the order of `StepKey`'s `Ord`). Keys are built on the way:
    /// ids of up to 23 bytes are inline, so building one allocates nothing, and a longer one
    /// only increments a shared count.
    pub fn iter(&self) -> StepIter<'_> {
        StepIter {
            programs: self.programs.iter(),
            current: None,
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = StepKey> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// The states in key order.
    pub fn values(&self) -> impl Iterator<Item = &StepState> {
        self.programs.iter().flat_map(|(_, steps)| steps.values())
    }

    /// Components with any step of `program` in the stage attempt, each once, in order.
    pub fn components(
        &self,
        environment: &EnvironmentName,
        attempt: u32,
        program: Program,
    ) -> impl Iterator<Item = &ComponentId> {
        self.programs
            .iter()
            .filter(move |(p, steps)| {
                &p.environment == environment
                    && p.attempt == attempt
                    && p.program == program
                    && !steps.is_empty()
            })
            .map(|(p, _)| &p.component)
    }
}

impl<'a> IntoIterator for &'a StepMap {
    type Item = (StepKey, &'a StepState);
    type IntoIter = StepIter<'a>;

    fn into_iter(self) -> StepIter<'a> {
        self.iter()
    }
}

/// The steps of a [`StepMap`] in key order, keys by value (from [`StepMap::iter`]).
#[derive(Clone, Debug)]
pub struct StepIter<'a> {
    programs: std::slice::Iter<'a, (ProgramKey, SortedMap<u32, StepState>)>,
    current: Option<(&'a ProgramKey, std::slice::Iter<'a, (u32, StepState)>)>,
}

impl<'a> Iterator for StepIter<'a> {
    type Item = (StepKey, &'a StepState);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((program, steps)) = &mut self.current
                && let Some((index, state)) = steps.next()
            {
                return Some((program.step(*index), state));
            }
            let (program, steps) = self.programs.next()?;
            self.current = Some((program, steps.entries.iter()));
        }
    }
}

impl Serialize for StepMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len))?;
        for (k, v) in self.iter() {
            map.serialize_entry(&k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn key(env: &str, attempt: u32, component: &str, program: Program, index: u32) -> StepKey {
        StepKey {
            environment: env.into(),
            attempt,
            component: component.into(),
            program,
            index,
        }
    }

    fn state(n: u64) -> StepState {
        match n % 3 {
            0 => StepState::Succeeded,
            1 => StepState::Started {
                at: chrono::DateTime::UNIX_EPOCH,
                seq: n,
            },
            _ => StepState::Failed {
                error: format!("e{n}"),
                seq: n,
            },
        }
    }

    #[test]
    fn sorted_map_behaves_as_a_btree_map() {
        let mut m = SortedMap::new();
        let mut b = BTreeMap::new();
        for (k, v) in [
            (5, 'a'),
            (1, 'b'),
            (9, 'c'),
            (5, 'd'),
            (3, 'e'),
            (9, 'f'),
            (0, 'g'),
        ] {
            assert_eq!(m.insert(k, v), b.insert(k, v));
        }
        assert_eq!(m.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
        assert_eq!(m.len(), b.len());
        assert_eq!(m.get(&5), Some(&'d'));
        assert_eq!(m.get(&4), None);
        assert!(m.contains_key(&0));
        *m.get_or_default(4) = 'h';
        *m.get_or_insert_with(4, || 'z') = 'i';
        assert_eq!(m.get(&4), Some(&'i'));
        assert_eq!(m.remove(&1), Some('b'));
        assert_eq!(m.remove(&1), None);
        assert_eq!(
            m.keys().copied().collect::<Vec<_>>(),
            vec![0, 3, 4, 5, 9],
            "keys stay sorted"
        );
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"0":"g","3":"e","4":"i","5":"d","9":"f"}"#);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            vec![(0, 'g'), (3, 'e'), (4, 'i'), (5, 'd'), (9, 'f')]
        );
    }

    #[test]
    fn a_fold_sized_map_allocates_what_it_holds() {
        // The point of the type (issue #10): a dozen steps of one program are one group
        // whose entries stay far below the allocator's 1 KiB large-request threshold.
        let mut m = StepMap::new();
        for i in 0..12 {
            m.insert(key("prod", 1, "api", Program::Deploy, i), state(i.into()));
        }
        assert_eq!(m.programs.len(), 1);
        let entries = m.programs[0].1.entries.capacity() * std::mem::size_of::<(u32, StepState)>();
        assert!(entries < 1000, "{entries} bytes for 12 steps");
    }

    proptest! {
        // The StepMap answers exactly what the BTreeMap it replaced answered: lookups,
        // replaced values, length, iteration order, keys, values and `Debug`.
        #[test]
        fn step_map_behaves_as_a_btree_map(
            ops in proptest::collection::vec(
                (0u8..3, 1u32..3, 0u8..3, any::<bool>(), 0u32..20, 0u64..100), 0..120)
        ) {
            let mut m = StepMap::new();
            let mut b = BTreeMap::new();
            for (e, attempt, c, rollback, index, n) in ops {
                let program = if rollback { Program::Rollback } else { Program::Deploy };
                let k = key(["dev", "prod", "staging"][e as usize], attempt,
                    ["api", "db", "web"][c as usize], program, index);
                prop_assert_eq!(m.get(&k), b.get(&k));
                prop_assert_eq!(m.contains_key(&k), b.contains_key(&k));
                prop_assert_eq!(m.insert(k.clone(), state(n)), b.insert(k, state(n)));
            }
            prop_assert_eq!(m.len(), b.len());
            prop_assert_eq!(m.is_empty(), b.is_empty());
            prop_assert_eq!(m.keys().collect::<Vec<_>>(), b.keys().cloned().collect::<Vec<_>>());
            prop_assert_eq!(format!("{m:?}"), format!("{b:?}"));
            let mut walked = 0;
            for (k, v) in &m {
                prop_assert_eq!(b.get(&k), Some(v));
                walked += 1;
            }
            prop_assert_eq!(walked, b.len());
            let ours: Vec<(StepKey, StepState)> =
                m.iter().map(|(k, v)| (k, v.clone())).collect();
            let theirs: Vec<(StepKey, StepState)> =
                b.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(ours, theirs);
            prop_assert_eq!(m.values().collect::<Vec<_>>(), b.values().collect::<Vec<_>>());
            for e in ["dev", "prod", "staging"] {
                for attempt in 1..3 {
                    let ours: Vec<&str> = m
                        .components(&e.into(), attempt, Program::Deploy)
                        .map(|c| c.as_str())
                        .collect();
                    let mut theirs: Vec<&str> = b
                        .keys()
                        .filter(|k| k.environment.as_str() == e && k.attempt == attempt
                            && k.program == Program::Deploy)
                        .map(|k| k.component.as_str())
                        .collect();
                    theirs.dedup();
                    prop_assert_eq!(ours, theirs);
                }
            }
        }
    }
}
