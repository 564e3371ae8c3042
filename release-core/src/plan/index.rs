//! Component ids to node indices: resolves every `depends_on` entry of a plan against the
//! plan's id-sorted `ComponentId`s in one batch.
//!
//! History (issue #10, each step measured with `perf annotate` on 100,000 ids and 300,000
//! keys): a std `HashMap<&str, u32>` probes a 24-byte slot and then follows the key's
//! pointer into the heap. Flat 8-byte `(tag, index)` slots with the ids in an arena still
//! cost three dependent cache misses per lookup (slot, offset, arena): 37 % of the whole
//! plan. A slot became one aligned 32-byte record holding the id's length and first 16
//! bytes, so a lookup of an id of up to 16 bytes touches one cache line and nothing else
//! (longer ids compare their rest against the id itself). That table was still 8 MiB, and
//! each lookup one cache and TLB miss: 28 % of the plan on the slot load, 21 % more on the
//! same load when building; loading a batch of slots before probing them barely helped on
//! these virtual machines (TLB misses under nested paging). Hence [`resolve`]: a
//! radix-partitioned hash join whose tables stay in cache.

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

/// The first [`INLINE`] bytes of `key` as two little-endian words, zero-padded, read with
/// word loads: a byte-wise copy into a buffer compiles to a `memcpy` call whose byte stores
/// the following 16-byte load cannot forward from (`perf annotate`: 55 % of the resolver).
fn head_words(key: &[u8]) -> [u64; 2] {
    let n = key.len();
    match n {
        17.. => [word8(key), word8(&key[8..])],
        // The last 8 bytes, shifted so that bytes 8.. of the key come first.
        9..=16 => [word8(key), word8(&key[n - 8..]) >> (8 * (16 - n))],
        8 => [word8(key), 0],
        4..=7 => {
            let low = u64::from(word4(key));
            let high = u64::from(word4(&key[n - 4..])) >> (8 * (8 - n));
            [low | high << 32, 0]
        }
        _ => {
            let mut word = 0u64;
            for (i, &b) in key.iter().enumerate() {
                word |= u64::from(b) << (8 * i);
            }
            [word, 0]
        }
    }
}

/// The order of `str` (bytewise), without a `memcmp` call for texts of up to [`INLINE`]
/// bytes: their zero-padded first bytes as big-endian words, then the length (a text that
/// is a prefix of the other pads with zeros and is shorter, so it comes first, as in `str`).
/// The planner sorts and merges 100,000 ids; the call was 6 % of the plan (perf, issue #10).
pub(crate) fn cmp_text(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() > INLINE || b.len() > INLINE {
        return a.cmp(b);
    }
    let ([a0, a1], [b0, b1]) = (head_words(a), head_words(b));
    (a0.swap_bytes(), a1.swap_bytes(), a.len()).cmp(&(b0.swap_bytes(), b1.swap_bytes(), b.len()))
}

/// Bytes of an id kept in its slot.
const INLINE: usize = 16;

/// An id or a key with its hash, in a partition or in a table slot: 32 bytes, aligned, so
/// never two cache lines.
#[derive(Clone, Copy)]
#[repr(align(32))]
struct Slot {
    /// The low half of the hash.
    tag: u32,
    /// The high half: its top bits pick the partition, its low bits the table position.
    high: u32,
    /// An id's node, or a key's position; `u32::MAX` marks an empty table slot.
    index: u32,
    /// The length in bytes.
    len: u32,
    /// The first bytes (zero-padded), see [`head_words`].
    inline: [u64; 2],
}

const EMPTY: Slot = Slot {
    tag: 0,
    high: 0,
    index: u32::MAX,
    len: 0,
    inline: [0; 2],
};

impl Slot {
    /// The slot of `key` with hash `h`, holding `index`.
    fn new(key: &[u8], h: u64, index: u32) -> Self {
        Self {
            tag: h as u32,
            high: (h >> 32) as u32,
            index,
            // Ids longer than u32::MAX bytes are not a thing; saturate anyway.
            len: u32::try_from(key.len()).unwrap_or(u32::MAX),
            inline: head_words(key),
        }
    }

    /// Same hash, same length and same first bytes: the same key when it is at most
    /// [`INLINE`] bytes long; a longer one compares its rest too.
    fn same_head(&self, other: &Slot) -> bool {
        self.tag == other.tag
            && self.high == other.high
            && self.len == other.len
            && self.inline == other.inline
    }

    fn is_long(&self) -> bool {
        self.len as usize > INLINE
    }
}

/// Ids per partition, about: a partition's table (two slots per id) is 64 KiB, in L2.
const PER_PARTITION: usize = 1024;

/// The partition of a slot: the top `bits` of its hash's high half.
fn partition(high: u32, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        (high >> (32 - bits)) as usize
    }
}

/// Hashes every text, counting how many fall in each of the `1 << bits` partitions.
/// `expected` is how many texts there are, about: the hashes are sized for it up front (a
/// `collect` from a `flat_map` cannot know its length, and grew by doubling through five
/// reallocations to 4 MiB for 300,000 keys, see [`resolve`]).
fn hashes<'t>(
    texts: impl Iterator<Item = &'t str>,
    expected: usize,
    bits: u32,
) -> (Vec<u64>, Vec<usize>) {
    let mut counts = vec![0usize; 1 << bits];
    let mut hashes = Vec::with_capacity(expected);
    hashes.extend(texts.map(|text| {
        let h = hash(text.as_bytes());
        if let Some(count) = counts.get_mut(partition((h >> 32) as u32, bits)) {
            *count += 1;
        }
        h
    }));
    (hashes, counts)
}

/// Splits texts into partitions by their hash, keeping their order (so within a partition,
/// ids stay in index order and keys in position order).
/// Texts longer than a slot holds go to `long` too, by position, for comparing their rest.
fn scatter<'t>(
    texts: impl Iterator<Item = &'t str>,
    hashes: &[u64],
    counts: &[usize],
    bits: u32,
    long: &mut Vec<(u32, &'t str)>,
) -> Vec<Vec<Slot>> {
    let mut parts: Vec<Vec<Slot>> = counts.iter().map(|&c| Vec::with_capacity(c)).collect();
    for (i, (text, &h)) in texts.zip(hashes).enumerate() {
        let slot = Slot::new(text.as_bytes(), h, i as u32);
        if slot.is_long() {
            long.push((i as u32, text));
        }
        if let Some(part) = parts.get_mut(partition(slot.high, bits)) {
            part.push(slot);
        }
    }
    parts
}

/// Resolves every key, in order, to the index of the equal id in `ids` (the first one when
/// `ids` repeats); when a key names no id, returns the position of the first such key.
/// `keys` is called twice and must give the same keys both times; `key_count` is how many
/// it gives (a capacity hint: a wrong one costs reallocations, not correctness).
///
/// A radix-partitioned hash join rather than one hash table: ids and keys are both split by
/// the top bits of their hash into partitions of about [`PER_PARTITION`] ids, then each
/// partition's ids go into a small open-addressing table that stays in cache while that
/// partition's keys probe it. One table over 100,000 ids is 8 MiB, and each of the 300,000
/// lookups and 100,000 inserts was a cache and TLB miss (`perf annotate`: 30 % of the whole
/// plan on the slot loads, even with the loads batched; issue #10); the partitioning passes
/// read and write sequentially.
///
/// Memory: the result (4 bytes per key, kept by the caller) is allocated first, so that it
/// sits below the transient partitions (about 45 bytes per key and per id) and their space
/// is freed as one block the plan built next can reuse; allocated last, it split that block
/// and a whole `plan_release` outgrew glibc's trim threshold (issue #10, see
/// `Planner::plan_with`).
pub(crate) fn resolve<'k, I>(
    ids: &[ComponentId],
    key_count: usize,
    keys: impl Fn() -> I,
) -> Result<Vec<u32>, usize>
where
    I: Iterator<Item = &'k str>,
{
    let mut out = vec![u32::MAX; key_count];
    let bits = (ids.len() / PER_PARTITION)
        .next_power_of_two()
        .trailing_zeros()
        .min(12);
    let (id_hashes, id_counts) = hashes(ids.iter().map(ComponentId::as_str), ids.len(), bits);
    // Long ids compare their rest against `ids` itself.
    let mut long_ids = Vec::new();
    let id_parts = scatter(
        ids.iter().map(ComponentId::as_str),
        &id_hashes,
        &id_counts,
        bits,
        &mut long_ids,
    );
    drop((id_hashes, long_ids));
    let (key_hashes, key_counts) = hashes(keys(), key_count, bits);
    let mut long_keys = Vec::new();
    let key_parts = scatter(keys(), &key_hashes, &key_counts, bits, &mut long_keys);
    drop(key_hashes);
    let id_rest = |slot: &Slot| {
        ids.get(slot.index as usize)
            .and_then(|id| id.as_str().as_bytes().get(INLINE..))
    };
    let key_rest = |slot: &Slot| {
        long_keys
            .binary_search_by_key(&slot.index, |&(i, _)| i)
            .ok()
            .and_then(|at| long_keys.get(at))
            .and_then(|(_, key)| key.as_bytes().get(INLINE..))
    };

    let largest = id_parts.iter().map(Vec::len).max().unwrap_or(0);
    let mut table: Vec<Slot> = vec![EMPTY; (largest.max(2) * 2).next_power_of_two()];
    out.resize(key_counts.iter().sum(), u32::MAX);
    let mut first_missing: Option<usize> = None;
    for (id_part, key_part) in id_parts.iter().zip(&key_parts) {
        // At most half full, so every probe reaches an empty slot.
        let capacity = (id_part.len().max(2) * 2).next_power_of_two();
        let mask = capacity - 1;
        let table = &mut table[..capacity];
        table.fill(EMPTY);
        for id in id_part {
            let mut at = id.high as usize & mask;
            loop {
                let slot = &table[at];
                if slot.index == u32::MAX {
                    table[at] = *id;
                    break;
                }
                // A repeated id: the first one (the lower index, scattered first) stays.
                if slot.same_head(id) && (!id.is_long() || id_rest(slot) == id_rest(id)) {
                    break;
                }
                at = (at + 1) & mask;
            }
        }
        for key in key_part {
            let mut at = key.high as usize & mask;
            let found = loop {
                let slot = &table[at];
                if slot.index == u32::MAX {
                    break None;
                }
                if slot.same_head(key) && (!key.is_long() || id_rest(slot) == key_rest(key)) {
                    break Some(slot.index);
                }
                at = (at + 1) & mask;
            };
            let position = key.index as usize;
            match (found, out.get_mut(position)) {
                (Some(index), Some(o)) => *o = index,
                _ => {
                    first_missing =
                        Some(first_missing.map_or(position, |first| first.min(position)));
                }
            }
        }
    }
    match first_missing {
        Some(position) => Err(position),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(texts: &[&str]) -> Vec<ComponentId> {
        texts.iter().map(|&t| ComponentId::from(t)).collect()
    }

    fn get(ids: &[ComponentId], key: &str) -> Option<u32> {
        resolve(ids, 1, || std::iter::once(key))
            .ok()
            .map(|found| found[0])
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
    fn finds_every_id_and_nothing_else() {
        // Enough ids for many partitions.
        let many: Vec<ComponentId> = (0..20_000)
            .map(|i| ComponentId::new(format!("c{i:06}")))
            .collect();
        let keys: Vec<&str> = many.iter().rev().map(ComponentId::as_str).collect();
        let found = resolve(&many, keys.len(), || keys.iter().copied()).expect("all known");
        assert_eq!(found, (0..20_000u32).rev().collect::<Vec<_>>());
        assert_eq!(get(&many, "c020000"), None);
        assert_eq!(get(&many, ""), None);
        // Every length class of the hash and of the comparison, and near misses in each.
        let odd = ids_of_every_length();
        for (i, id) in odd.iter().enumerate() {
            let id = id.as_str();
            assert_eq!(get(&odd, id), Some(i as u32), "{id:?}");
            let mut near = id.as_bytes().to_vec();
            if let Some(last) = near.last_mut() {
                *last ^= 1;
                let near = String::from_utf8(near).expect("ascii");
                assert_eq!(get(&odd, &near), None, "{near:?}");
            }
            let mut first = id.as_bytes().to_vec();
            if let Some(b) = first.first_mut() {
                *b ^= 1;
                let first = String::from_utf8(first).expect("ascii");
                assert_eq!(get(&odd, &first), None, "{first:?}");
            }
        }
        assert_eq!(get(&[], "a"), None);
        assert_eq!(resolve(&[], 0, std::iter::empty), Ok(Vec::new()));
    }

    #[test]
    fn head_words_are_the_zero_padded_first_bytes() {
        let text = "abcdefghijklmnopqrstuvwxyz";
        for n in 0..=text.len() {
            let key = &text.as_bytes()[..n];
            let mut bytes = [0u8; INLINE];
            bytes[..n.min(INLINE)].copy_from_slice(&key[..n.min(INLINE)]);
            let (low, high) = bytes.split_at(8);
            let expected = [
                u64::from_le_bytes(low.try_into().expect("8 bytes")),
                u64::from_le_bytes(high.try_into().expect("8 bytes")),
            ];
            assert_eq!(head_words(key), expected, "length {n}");
        }
    }

    #[test]
    fn cmp_text_is_the_order_of_str() {
        let mut texts: Vec<String> = vec![
            String::new(),
            "\0".into(),
            "a".into(),
            "a\0".into(),
            "a\0\0".into(),
            "é".into(),
            "abcdefghijklmnop".into(),
            "abcdefghijklmnoq".into(),
            "abcdefghijklmnopq".into(),
            "abcdefghijklmno".into(),
        ];
        // Every length up to past a slot, with the last byte low, middle and high.
        for n in 1..20 {
            for last in [b'\0', b'm', b'~'] {
                let mut text = "k".repeat(n - 1).into_bytes();
                text.push(last);
                texts.push(String::from_utf8(text).expect("ascii"));
            }
        }
        for a in &texts {
            for b in &texts {
                assert_eq!(cmp_text(a, b), a.as_str().cmp(b.as_str()), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn duplicates_keep_the_first_index() {
        let ids = ids(&["b", "a", "b", "abcdefghijklmnopq", "abcdefghijklmnopq"]);
        assert_eq!(get(&ids, "b"), Some(0));
        assert_eq!(get(&ids, "a"), Some(1));
        assert_eq!(get(&ids, "abcdefghijklmnopq"), Some(3));
    }

    #[test]
    fn reports_the_first_unknown_key_by_position() {
        let ids: Vec<ComponentId> = (0..5000)
            .map(|i| ComponentId::new(format!("k{i}")))
            .collect();
        let keys: Vec<String> = (0..3000).map(|i| format!("k{}", (i * 7) % 5000)).collect();
        let found =
            resolve(&ids, keys.len(), || keys.iter().map(String::as_str)).expect("all known");
        assert_eq!(
            found,
            (0..3000u32).map(|i| (i * 7) % 5000).collect::<Vec<_>>()
        );
        for missing in [[0, 1], [1, 2999], [2998, 17], [1500, 1499]] {
            let mut keys = keys.clone();
            for &at in &missing {
                keys[at] = format!("absent-{at}-and-longer-than-sixteen");
            }
            assert_eq!(
                resolve(&ids, keys.len(), || keys.iter().map(String::as_str)),
                Err(missing[0].min(missing[1]))
            );
        }
        // Long keys compare their rest: a key sharing the first 16 bytes is not the id.
        // `key_count` is a hint: a wrong one (0 here) still resolves every key.
        let long = ids_of_every_length();
        let found =
            resolve(&long, 0, || long.iter().rev().map(ComponentId::as_str)).expect("known");
        assert_eq!(found, (0..long.len() as u32).rev().collect::<Vec<_>>());
        assert_eq!(get(&long, "abcdefghijklmnopqrstuvwxyz0123456788"), None);
        assert_eq!(get(&long, "abcdefghijklmnopr"), None);
    }
}
