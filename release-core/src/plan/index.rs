//! A flat, read-only map from component id to node index, built once per plan over the
//! plan's id-sorted `ComponentId`s and dropped once the dependencies are resolved.
//!
//! Why not a `HashMap<&str, u32>`: resolving 300,000 `depends_on` entries against 100,000
//! ids is memory-bound. A std map probes a 24-byte slot and then follows the key's pointer
//! into the heap. The first version of this index held 8-byte `(tag, index)` slots and the
//! ids in an arena, which still cost three dependent cache misses per lookup (slot, offset,
//! arena); `perf annotate` put 37 % of the whole plan's time on those loads (issue #10). A
//! slot is one aligned 32-byte record holding the id's length and its first 16 bytes, so a
//! lookup of an id of up to 16 bytes touches one cache line of the table and nothing else;
//! longer ids compare their rest against the id itself.
//!
//! Even so, each lookup is one cache miss into a table larger than the L2 cache, and a miss
//! waited for before the next key was hashed left the memory system idle (`perf annotate`
//! put 28 % of the plan on the slot load, and another 21 % on the same load when building).
//! So keys are handled in batches: the slots of a whole batch are loaded first, as
//! independent loads the CPU overlaps, and probed after (software pipelining without a
//! prefetch intrinsic, which would need `unsafe`).
use crate::id::ComponentId;

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

/// Keys hashed and loaded ahead of their probes: enough independent loads to keep the
/// memory system busy, few enough that the slots stay in L1 until probed.
const BATCH: usize = 16;

/// The map from id to index, borrowing the ids it indexes.
pub(crate) struct IdIndex<'a> {
    ids: &'a [ComponentId],
    /// Open addressing with linear probing, at most half full.
    slots: Vec<Slot>,
    mask: usize,
}

impl<'a> IdIndex<'a> {
    /// Indexes `ids` (index = position). With duplicates, the first occurrence wins.
    pub(crate) fn new(ids: &'a [ComponentId]) -> Self {
        let n = ids.len();
        let capacity = (n.max(4) * 2).next_power_of_two();
        let mut index = Self {
            ids,
            slots: vec![EMPTY; capacity],
            mask: capacity - 1,
        };
        let mut hashes = [0u64; BATCH];
        for (chunk, batch) in ids.chunks(BATCH).enumerate() {
            index.load_ahead(batch.iter().map(ComponentId::as_str), &mut hashes);
            for (k, id) in batch.iter().enumerate() {
                index.insert(
                    id.as_str().as_bytes(),
                    hashes[k],
                    (chunk * BATCH + k) as u32,
                );
            }
        }
        index
    }

    /// Hashes a batch of keys into `hashes` and loads each key's first slot, so the probes
    /// that follow find them in cache.
    fn load_ahead<'k>(&self, keys: impl Iterator<Item = &'k str>, hashes: &mut [u64; BATCH]) {
        let mut touched = 0u32;
        for (h, key) in hashes.iter_mut().zip(keys) {
            *h = hash(key.as_bytes());
            // The loads are independent of each other; combining them keeps them alive.
            touched ^= self.slots[*h as usize & self.mask].tag;
        }
        std::hint::black_box(touched);
    }

    fn insert(&mut self, key: &[u8], h: u64, i: u32) {
        let tag = (h >> 32) as u32;
        let mut at = h as usize & self.mask;
        loop {
            let slot = &self.slots[at];
            if slot.index == u32::MAX {
                let mut inline = [0u8; INLINE];
                let head = key.len().min(INLINE);
                inline[..head].copy_from_slice(&key[..head]);
                self.slots[at] = Slot {
                    tag,
                    index: i,
                    // Ids longer than u32::MAX bytes are not a thing; saturate anyway.
                    len: u32::try_from(key.len()).unwrap_or(u32::MAX),
                    inline,
                };
                return;
            }
            if self.matches(slot, tag, key) {
                return;
            }
            at = (at + 1) & self.mask;
        }
    }

    fn matches(&self, slot: &Slot, tag: u32, key: &[u8]) -> bool {
        if slot.tag != tag || slot.len as usize != key.len() {
            return false;
        }
        if key.len() <= INLINE {
            same(&slot.inline[..key.len()], key)
        } else {
            same(&slot.inline, &key[..INLINE])
                && self
                    .ids
                    .get(slot.index as usize)
                    .and_then(|id| id.as_str().as_bytes().get(INLINE..))
                    == key.get(INLINE..)
        }
    }

    fn probe(&self, key: &[u8], h: u64) -> Option<u32> {
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

    /// The index of `id`, if it was indexed.
    #[cfg(test)]
    pub(crate) fn get(&self, id: &str) -> Option<u32> {
        self.probe(id.as_bytes(), hash(id.as_bytes()))
    }

    /// Resolves every key in order, appending the indices to `out`; on the first key that
    /// is not indexed, returns its position in `keys` (and `out` holds the ones before it).
    pub(crate) fn resolve_all<'k>(
        &self,
        keys: impl Iterator<Item = &'k str>,
        out: &mut Vec<u32>,
    ) -> Result<(), usize> {
        let mut keys = keys.peekable();
        let mut batch: [&str; BATCH] = [""; BATCH];
        let mut hashes = [0u64; BATCH];
        let mut position = 0;
        while keys.peek().is_some() {
            let mut count = 0;
            for (slot, key) in batch.iter_mut().zip(&mut keys) {
                *slot = key;
                count += 1;
            }
            self.load_ahead(batch[..count].iter().copied(), &mut hashes);
            for (key, &h) in batch[..count].iter().zip(&hashes) {
                match self.probe(key.as_bytes(), h) {
                    Some(i) => out.push(i),
                    None => return Err(position),
                }
                position += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(texts: &[&str]) -> Vec<ComponentId> {
        texts.iter().map(|&t| ComponentId::from(t)).collect()
    }

    #[test]
    fn finds_every_id_and_nothing_else() {
        let ids: Vec<ComponentId> = (0..1000)
            .map(|i| ComponentId::new(format!("c{i:06}")))
            .collect();
        let index = IdIndex::new(&ids);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id.as_str()), Some(i as u32));
        }
        assert_eq!(index.get("c001000"), None);
        // Every length class of the hash and of the comparison, and near misses in each.
        let odd = ids_of_every_length();
        let odd_index = IdIndex::new(&odd);
        for (i, id) in odd.iter().enumerate() {
            let id = id.as_str();
            assert_eq!(odd_index.get(id), Some(i as u32), "{id:?}");
            let mut near = id.as_bytes().to_vec();
            if let Some(last) = near.last_mut() {
                *last ^= 1;
                let near = String::from_utf8(near).expect("ascii");
                assert_eq!(odd_index.get(&near), None, "{near:?}");
            }
            let mut first = id.as_bytes().to_vec();
            if let Some(b) = first.first_mut() {
                *b ^= 1;
                let first = String::from_utf8(first).expect("ascii");
                assert_eq!(odd_index.get(&first), None, "{first:?}");
            }
        }
        assert_eq!(index.get(""), None);
        let empty = IdIndex::new(&[]);
        assert_eq!(empty.get("a"), None);
    }

    fn ids_of_every_length() -> Vec<ComponentId> {
        ids(&[
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
        ])
    }

    #[test]
    fn duplicates_keep_the_first_index() {
        let ids = ids(&["b", "a", "b", "abcdefghijklmnopq", "abcdefghijklmnopq"]);
        let index = IdIndex::new(&ids);
        assert_eq!(index.get("b"), Some(0));
        assert_eq!(index.get("a"), Some(1));
        assert_eq!(index.get("abcdefghijklmnopq"), Some(3));
    }

    #[test]
    fn resolves_in_batches_and_reports_the_first_unknown_key() {
        // More keys than a batch, a partial last batch, and repeats.
        let ids: Vec<ComponentId> = (0..100)
            .map(|i| ComponentId::new(format!("k{i}")))
            .collect();
        let index = IdIndex::new(&ids);
        let keys: Vec<String> = (0..(3 * BATCH + 5))
            .map(|i| format!("k{}", (i * 7) % 100))
            .collect();
        let mut out = vec![42];
        index
            .resolve_all(keys.iter().map(String::as_str), &mut out)
            .expect("all known");
        let expected: Vec<u32> = std::iter::once(42)
            .chain((0..(3 * BATCH as u32 + 5)).map(|i| (i * 7) % 100))
            .collect();
        assert_eq!(out, expected);
        for missing_at in [0, 1, BATCH - 1, BATCH, 2 * BATCH + 3] {
            let mut keys = keys.clone();
            keys[missing_at] = "k100".to_owned();
            let mut out = Vec::new();
            assert_eq!(
                index.resolve_all(keys.iter().map(String::as_str), &mut out),
                Err(missing_at)
            );
            assert_eq!(out.len(), missing_at);
        }
        let long = ids_of_every_length();
        let index = IdIndex::new(&long);
        let mut out = Vec::new();
        index
            .resolve_all(long.iter().rev().map(ComponentId::as_str), &mut out)
            .expect("all known");
        assert_eq!(out, (0..long.len() as u32).rev().collect::<Vec<_>>());
    }
}
