//! A flat, read-only map from component id to node index, built once per plan.
//!
//! Why not a `HashMap<&str, u32>`: resolving 300,000 `depends_on` entries against 100,000
//! ids is memory-bound. A std map probes a 24-byte slot and then follows the key's pointer
//! into the heap, two cache misses per lookup. Here the ids are copied into one contiguous
//! arena and the table holds 8-byte `(tag, index)` slots, so a lookup touches one slot and a
//! slice of a buffer that mostly stays in cache.

use std::hash::Hasher;

use super::graph::FxHasher;

pub(crate) struct IdIndex {
    /// All ids, concatenated in index order.
    arena: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is id `i` in `arena`.
    offsets: Vec<usize>,
    /// Open addressing with linear probing; `index == u32::MAX` marks an empty slot.
    slots: Vec<(u32, u32)>,
    mask: usize,
}

fn hash(id: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(id);
    h.finish()
}

impl IdIndex {
    /// Indexes `ids` (index = position). With duplicates, the first occurrence wins.
    pub(crate) fn new<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let n = ids.len();
        let capacity = (n.max(4) * 2).next_power_of_two();
        let mut index = Self {
            arena: Vec::with_capacity(n * 12),
            offsets: Vec::with_capacity(n + 1),
            slots: vec![(0, u32::MAX); capacity],
            mask: capacity - 1,
        };
        index.offsets.push(0);
        for (i, id) in ids.enumerate() {
            index.arena.extend_from_slice(id.as_bytes());
            index.offsets.push(index.arena.len());
            let h = hash(id.as_bytes());
            let tag = (h >> 32) as u32;
            let mut at = h as usize & index.mask;
            loop {
                let (slot_tag, slot_index) = index.slots[at];
                if slot_index == u32::MAX {
                    index.slots[at] = (tag, i as u32);
                    break;
                }
                if slot_tag == tag && index.id(slot_index) == id.as_bytes() {
                    break;
                }
                at = (at + 1) & index.mask;
            }
        }
        index
    }

    fn id(&self, i: u32) -> &[u8] {
        let i = i as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&start), Some(&end)) => &self.arena[start..end],
            _ => &[],
        }
    }

    /// The index of `id`, if it was indexed.
    pub(crate) fn get(&self, id: &str) -> Option<u32> {
        let h = hash(id.as_bytes());
        let tag = (h >> 32) as u32;
        let mut at = h as usize & self.mask;
        // The table is at most half full, so the probe always reaches an empty slot.
        loop {
            let (slot_tag, slot_index) = self.slots[at];
            if slot_index == u32::MAX {
                return None;
            }
            if slot_tag == tag && self.id(slot_index) == id.as_bytes() {
                return Some(slot_index);
            }
            at = (at + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_id_and_nothing_else() {
        let ids: Vec<String> = (0..1000).map(|i| format!("c{i:06}")).collect();
        let index = IdIndex::new(ids.iter().map(String::as_str));
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), Some(i as u32));
        }
        assert_eq!(index.get("c001000"), None);
        assert_eq!(index.get(""), None);
        let empty = IdIndex::new(std::iter::empty());
        assert_eq!(empty.get("a"), None);
    }
}
