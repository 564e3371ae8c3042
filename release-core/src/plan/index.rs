//! A flat, read-only map from component id to node index, built once per plan; its id table
//! (node index → id) stays in the plan's topology.
//!
//! Why not a `HashMap<&str, u32>`: resolving 300,000 `depends_on` entries against 100,000
//! ids is memory-bound. A std map probes a 24-byte slot and then follows the key's pointer
//! into the heap. The first version of this index held 8-byte `(tag, index)` slots and the
//! ids in an arena, which still cost three dependent cache misses per lookup (slot, offset,
//! arena); `perf annotate` put 37 % of the whole plan's time on those loads (issue #10). Now
//! a slot is one aligned 32-byte record holding the id's length and its first 16 bytes, so
//! a lookup of an id of up to 16 bytes touches one cache line of the table and nothing else;
//! longer ids compare their rest against the arena.
/// A hash of a short byte string: FxHash's multiply-rotate over 8-byte words, where the tail
/// (most of a typical id) is read as two overlapping loads instead of a variable-length copy
/// (which compiles to a `memcpy` call), the length is mixed in, and SplitMix64's finaliser
/// spreads the bits. Not DoS-resistant: the ids come from a manifest the host trusts.
fn hash(id: &[u8]) -> u64 {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let add = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(SEED);
    let mut h = add(0, id.len() as u64);
    let mut chunks = id.chunks_exact(8);
    for chunk in &mut chunks {
        h = add(h, word8(chunk));
    }
    let rest = chunks.remainder();
    let tail = match rest.len() {
        0 => None,
        1..=3 => Some(
            u64::from(rest[0])
                | u64::from(rest[rest.len() / 2]) << 8
                | u64::from(rest[rest.len() - 1]) << 16,
        ),
        _ => Some(u64::from(word4(rest)) | u64::from(word4(&rest[rest.len() - 4..])) << 32),
    };
    if let Some(tail) = tail {
        h = add(h, tail);
    }
    let mut z = h;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The first 8 bytes as a little-endian word (callers pass at least 8).
fn word8(bytes: &[u8]) -> u64 {
    bytes
        .first_chunk::<8>()
        .map_or(0, |w| u64::from_le_bytes(*w))
}

/// The first 4 bytes as a little-endian word (callers pass at least 4).
fn word4(bytes: &[u8]) -> u32 {
    bytes
        .first_chunk::<4>()
        .map_or(0, |w| u32::from_le_bytes(*w))
}

/// Byte equality for short ids without a `memcmp` call: two overlapping word loads cover
/// 4 to 16 bytes; anything else falls back to slice equality.
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        8..=16 => word8(a) == word8(b) && word8(&a[n - 8..]) == word8(&b[n - 8..]),
        4..=7 => word4(a) == word4(b) && word4(&a[n - 4..]) == word4(&b[n - 4..]),
        _ => a == b,
    }
}

/// Ids in index order, concatenated in one arena.
#[derive(Clone, Default)]
pub(crate) struct IdTable {
    arena: String,
    /// `offsets[i]..offsets[i + 1]` is id `i` in `arena`.
    offsets: Vec<usize>,
}

impl IdTable {
    /// Number of ids.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The id of node `i` (`None` outside the table).
    pub(crate) fn id_str(&self, i: u32) -> Option<&str> {
        let i = i as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&start), Some(&end)) => self.arena.get(start..end),
            _ => None,
        }
    }

    fn bytes(&self, i: u32) -> &[u8] {
        let i = i as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&start), Some(&end)) => self.arena.as_bytes().get(start..end).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The node of `id` by binary search; the table must hold its ids in ascending order (the
    /// planner indexes components in id order).
    pub(crate) fn position(&self, id: &str) -> Option<u32> {
        let (mut low, mut high) = (0usize, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.bytes(mid as u32).cmp(id.as_bytes()) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }
}

/// Bytes of an id kept in its slot.
const INLINE: usize = 16;

/// One table slot: 28 bytes of data in an aligned 32-byte record, so never two cache lines.
#[derive(Clone, Copy)]
#[repr(align(32))]
struct Slot {
    /// The high half of the id's hash.
    tag: u32,
    /// The node; `u32::MAX` marks an empty slot.
    index: u32,
    /// The id's length in bytes.
    len: u32,
    /// The id's first bytes (zero-padded).
    inline: [u8; INLINE],
}

const EMPTY: Slot = Slot {
    tag: 0,
    index: u32::MAX,
    len: 0,
    inline: [0; INLINE],
};

#[derive(Clone)]
pub(crate) struct IdIndex {
    table: IdTable,
    /// Open addressing with linear probing, at most half full.
    slots: Vec<Slot>,
    mask: usize,
}

impl IdIndex {
    /// Indexes `ids` (index = position). With duplicates, the first occurrence wins.
    pub(crate) fn new<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let n = ids.len();
        let capacity = (n.max(4) * 2).next_power_of_two();
        let mut index = Self {
            table: IdTable {
                arena: String::with_capacity(n * 12),
                offsets: Vec::with_capacity(n + 1),
            },
            slots: vec![EMPTY; capacity],
            mask: capacity - 1,
        };
        index.table.offsets.push(0);
        for (i, id) in ids.enumerate() {
            index.table.arena.push_str(id);
            index.table.offsets.push(index.table.arena.len());
            let key = id.as_bytes();
            let h = hash(key);
            let tag = (h >> 32) as u32;
            let mut at = h as usize & index.mask;
            loop {
                let slot = index.slots[at];
                if slot.index == u32::MAX {
                    let mut inline = [0u8; INLINE];
                    let head = key.len().min(INLINE);
                    inline[..head].copy_from_slice(&key[..head]);
                    index.slots[at] = Slot {
                        tag,
                        index: i as u32,
                        // Ids longer than u32::MAX bytes are not a thing; saturate anyway.
                        len: u32::try_from(key.len()).unwrap_or(u32::MAX),
                        inline,
                    };
                    break;
                }
                if index.matches(&slot, tag, key) {
                    break;
                }
                at = (at + 1) & index.mask;
            }
        }
        index
    }

    fn matches(&self, slot: &Slot, tag: u32, key: &[u8]) -> bool {
        if slot.tag != tag || slot.len as usize != key.len() {
            return false;
        }
        if key.len() <= INLINE {
            same(&slot.inline[..key.len()], key)
        } else {
            same(&slot.inline, &key[..INLINE])
                && self.table.bytes(slot.index).get(INLINE..) == key.get(INLINE..)
        }
    }

    /// The index of `id`, if it was indexed.
    pub(crate) fn get(&self, id: &str) -> Option<u32> {
        let key = id.as_bytes();
        let h = hash(key);
        let tag = (h >> 32) as u32;
        let mut at = h as usize & self.mask;
        // The table is at most half full, so the probe always reaches an empty slot.
        loop {
            let slot = &self.slots[at];
            if slot.index == u32::MAX {
                return None;
            }
            if self.matches(slot, tag, key) {
                return Some(slot.index);
            }
            at = (at + 1) & self.mask;
        }
    }

    /// The id of node `i` (`None` outside the index).
    #[cfg(test)]
    fn id_str(&self, i: u32) -> Option<&str> {
        self.table.id_str(i)
    }

    /// Number of ids.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.len()
    }

    /// Drops the hash table and keeps the ids.
    pub(crate) fn into_table(self) -> IdTable {
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_table_finds_ids_by_binary_search() {
        let ids: Vec<String> = (0..500).map(|i| format!("component-{i:05}-x")).collect();
        let table = IdIndex::new(ids.iter().map(String::as_str)).into_table();
        assert_eq!(table.len(), 500);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(table.position(id), Some(i as u32));
            assert_eq!(table.id_str(i as u32), Some(id.as_str()));
        }
        assert_eq!(table.position("component-00500-x"), None);
        assert_eq!(table.position("a"), None);
        assert_eq!(table.position("z"), None);
        assert_eq!(IdTable::default().position("a"), None);
    }

    #[test]
    fn finds_every_id_and_nothing_else() {
        let ids: Vec<String> = (0..1000).map(|i| format!("c{i:06}")).collect();
        let index = IdIndex::new(ids.iter().map(String::as_str));
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), Some(i as u32));
            assert_eq!(index.id_str(i as u32), Some(id.as_str()));
        }
        assert_eq!(index.len(), 1000);
        assert_eq!(index.id_str(1000), None);
        assert_eq!(index.get("c001000"), None);
        // Every length class of the hash and of the comparison, and near misses in each.
        let odd: Vec<String> = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "abcdefghijklmnopqrstuvwxyz0123456789",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let odd_index = IdIndex::new(odd.iter().map(String::as_str));
        for (i, id) in odd.iter().enumerate() {
            assert_eq!(odd_index.get(id), Some(i as u32), "{id:?}");
            let mut near = id.clone().into_bytes();
            if let Some(last) = near.last_mut() {
                *last ^= 1;
                let near = String::from_utf8(near).expect("ascii");
                assert_eq!(odd_index.get(&near), None, "{near:?}");
            }
            let mut first = id.clone().into_bytes();
            if let Some(b) = first.first_mut() {
                *b ^= 1;
                let first = String::from_utf8(first).expect("ascii");
                assert_eq!(odd_index.get(&first), None, "{first:?}");
            }
        }
        assert_eq!(index.get(""), None);
        let empty = IdIndex::new(std::iter::empty());
        assert_eq!(empty.get("a"), None);
    }
}
