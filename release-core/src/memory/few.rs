//! A map sorted by key for the few entries a route or a component has: up to two inline,
//! more in the engine's [`SortedMap`].
//!
//! A route has one slot's weight (two during a canary or blue-green switch), a component's
//! place in a target one slot (two during a rollout). Kept in a `BTreeMap` or a `Vec`, each
//! was a small heap allocation made while a release ran, amid its short-lived data, that
//! outlived it: with 10,000 applications, tens of thousands of chunks pinned between the
//! holes that data left, which glibc's allocator then searched in every later round (issue
//! #10, BENCHMARKS.md). Inline, they live in their map's table.

use std::borrow::Borrow;

use crate::engine::SortedMap;

/// Entries sorted by key, at most two without a heap allocation.
#[derive(Clone, Debug)]
pub(crate) enum Few<K, V> {
    /// The entries, in key order, packed at the front.
    Inline([Option<(K, V)>; 2]),
    /// Three or more entries.
    Spilled(SortedMap<K, V>),
}

impl<K, V> Default for Few<K, V> {
    fn default() -> Self {
        Self::Inline([None, None])
    }
}

impl<K: Ord, V> Few<K, V> {
    /// The entries, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        let (inline, spilled) = match self {
            Self::Inline(entries) => (&entries[..], None),
            Self::Spilled(map) => (&[][..], Some(map)),
        };
        inline
            .iter()
            .flatten()
            .map(|(k, v)| (k, v))
            .chain(spilled.into_iter().flatten())
    }

    /// The values, in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// The values, in key order, to change.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        let (inline, spilled) = match self {
            Self::Inline(entries) => (&mut entries[..], None),
            Self::Spilled(map) => (&mut [][..], Some(map)),
        };
        inline.iter_mut().flatten().map(|(_, v)| v).chain(
            spilled
                .into_iter()
                .flat_map(|map| map.iter_mut().map(|(_, v)| v)),
        )
    }

    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Inline(entries) => entries.iter().flatten().count(),
            Self::Spilled(map) => map.len(),
        }
    }

    /// True without entries.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `key`.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.iter()
            .find(|(k, _)| (*k).borrow() == key)
            .map(|(_, v)| v)
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self {
            Self::Inline(entries) => {
                for entry in entries.iter_mut().flatten() {
                    if entry.0 == key {
                        return Some(std::mem::replace(&mut entry.1, value));
                    }
                }
                // Packed at the front: the second is set only when the first is.
                match (&entries[0], &entries[1]) {
                    (None, _) => entries[0] = Some((key, value)),
                    (Some((first, _)), None) => {
                        if key < *first {
                            entries[1] = entries[0].take();
                            entries[0] = Some((key, value));
                        } else {
                            entries[1] = Some((key, value));
                        }
                    }
                    (Some(_), Some(_)) => {
                        let mut spilled: SortedMap<K, V> =
                            entries.iter_mut().filter_map(Option::take).collect();
                        spilled.insert(key, value);
                        *self = Self::Spilled(spilled);
                    }
                }
                None
            }
            Self::Spilled(map) => map.insert(key, value),
        }
    }

    /// Removes `key`; returns its value. Back to two entries, they move inline again (the
    /// map's vector is freed).
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let removed = match self {
            Self::Inline(entries) => {
                let at = entries
                    .iter()
                    .position(|e| e.as_ref().is_some_and(|(k, _)| k.borrow() == key))?;
                let removed = entries[at].take().map(|(_, v)| v);
                if at == 0 {
                    entries.swap(0, 1);
                }
                removed
            }
            Self::Spilled(map) => map.remove(key),
        };
        if let Self::Spilled(map) = self
            && map.len() <= 2
        {
            let mut inline = [None, None];
            for (slot, entry) in inline.iter_mut().zip(std::mem::take(map)) {
                *slot = Some(entry);
            }
            *self = Self::Inline(inline);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..6, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (0u8..6).prop_map(Op::Remove),
        ]
    }

    proptest! {
        // Behaves as a BTreeMap: same answers, same order, inline whenever two or fewer.
        #[test]
        fn behaves_as_a_sorted_map(ops in proptest::collection::vec(op(), 0..60)) {
            let mut few: Few<u8, u32> = Few::default();
            let mut model: BTreeMap<u8, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(few.insert(k, v), model.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(few.remove(&k), model.remove(&k)),
                }
                let seen: Vec<(u8, u32)> = few.iter().map(|(k, v)| (*k, *v)).collect();
                let expected: Vec<(u8, u32)> = model.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(seen, expected);
                prop_assert_eq!(few.len(), model.len());
                prop_assert_eq!(few.is_empty(), model.is_empty());
                prop_assert_eq!(matches!(few, Few::Inline(_)), model.len() <= 2);
                for k in 0..6 {
                    prop_assert_eq!(few.get(&k), model.get(&k));
                }
            }
            for v in few.values_mut() {
                *v = v.wrapping_add(1);
            }
            let bumped: Vec<u32> = few.values().copied().collect();
            let expected: Vec<u32> = model.values().map(|v| v.wrapping_add(1)).collect();
            prop_assert_eq!(bumped, expected);
        }
    }
}
