//! The tables `build.rs` generates from tiktoken-rs and regex-syntax, embedded and read in place.
//!
//! Nothing here is parsed or hashed at startup: every accessor reads little-endian words straight
//! out of the bytes, the embedded ones or their copy on huge pages ([`touch`]). `build.rs`
//! documents the layouts.

include!(concat!(env!("OUT_DIR"), "/sizes.rs"));

/// One of the files `build.rs` writes, embedded.
macro_rules! embedded {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".bin"))
    };
}

/// The tables, each at its length (so that a masked index needs no bounds check).
#[derive(Clone, Copy)]
pub(super) struct Tables {
    tokens: &'static [u8; embedded!("tokens").len()],
    offsets: &'static [u8; embedded!("offsets").len()],
    trie: &'static [u8; embedded!("trie").len()],
    info: &'static [u8; embedded!("info").len()],
    pairs: &'static [u8; embedded!("pairs").len()],
    pair_filter: &'static [u8; embedded!("pair_filter").len()],
    short: &'static [u8; embedded!("short").len()],
    medium: &'static [u8; embedded!("medium").len()],
    pair_reach: &'static [u8; embedded!("pair_reach").len()],
    two_bytes: &'static [u8; embedded!("two_bytes").len()],
    class: &'static [u8; embedded!("class").len()],
}

impl Tables {
    fn parts(&self) -> [&'static [u8]; 11] {
        [
            self.tokens,
            self.offsets,
            self.trie,
            self.info,
            self.pairs,
            self.pair_filter,
            self.short,
            self.medium,
            self.pair_reach,
            self.two_bytes,
            self.class,
        ]
    }
}

/// The tables as `build.rs` wrote them, embedded in the executable.
static EMBEDDED: Tables = Tables {
    tokens: embedded!("tokens"),
    offsets: embedded!("offsets"),
    trie: embedded!("trie"),
    info: embedded!("info"),
    pairs: embedded!("pairs"),
    pair_filter: embedded!("pair_filter"),
    short: embedded!("short"),
    medium: embedded!("medium"),
    pair_reach: embedded!("pair_reach"),
    two_bytes: embedded!("two_bytes"),
    class: embedded!("class"),
};

/// The tables counting reads: the copy [`touch`] made on huge pages, else the embedded ones.
///
/// Behind an atomic check: callers fetch them once per piece ([`tables`]) and pass them
/// down, which keeps the check out of the encoder's loops (7% of its instructions).
static IN_USE: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();

#[inline(always)]
pub(super) fn tables() -> &'static Tables {
    IN_USE.get().unwrap_or(&EMBEDDED)
}

/// Makes the tables ready, once per process (the first [`super::cl100k`]): copies them onto
/// huge pages where the system has them, and reads every cache line of what will be used.
///
/// Lookups land anywhere in 9.5 MB of tables. On 4 KiB pages that is some 2,300 pages, more
/// than the TLB holds, so on text seen for the first time most lookups also walk the page
/// tables (twice over in a virtual machine); five 2 MiB pages cover them all. Untouched,
/// each page of the embedded tables would also cost a page fault, and each line a read from
/// memory, the first time an input needs it. The copy takes a few milliseconds and 10 MiB.
pub(super) fn touch() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let tables = IN_USE.get_or_init(|| on_huge_pages().unwrap_or(EMBEDDED));
        let mut sum = 0u8;
        for table in tables.parts() {
            for line in table.iter().step_by(64) {
                sum = sum.wrapping_add(*line);
            }
        }
        std::hint::black_box(sum);
    });
}

/// A copy of the tables in anonymous memory that asks for transparent huge pages before it is
/// first written (asked after, the pages would already be small ones); `None` where mapping
/// fails.
#[cfg(target_os = "linux")]
fn on_huge_pages() -> Option<Tables> {
    const HUGE_PAGE: usize = 2 << 20;
    let parts = EMBEDDED.parts();
    let total: usize = parts.iter().map(|t| t.len().next_multiple_of(64)).sum();
    let mut map = memmap2::MmapOptions::new()
        .len(total + HUGE_PAGE)
        .map_anon()
        .ok()?;
    // Advice only: refused (huge pages off), the copy still spares the embedded tables' page
    // faults.
    let _ = map.advise(memmap2::Advice::HugePage);
    // Huge pages cover aligned 2 MiB spans only.
    let addr = map.as_ptr() as usize;
    let mut at = addr.next_multiple_of(HUGE_PAGE) - addr;
    let mut starts = [0; 11];
    for (start, part) in starts.iter_mut().zip(parts) {
        map[at..at + part.len()].copy_from_slice(part);
        *start = at;
        at += part.len().next_multiple_of(64);
    }
    let map: &'static [u8] = Box::leak(Box::new(map.make_read_only().ok()?));
    fn part<const N: usize>(map: &'static [u8], at: usize) -> Option<&'static [u8; N]> {
        map.get(at..at + N)?.try_into().ok()
    }
    Some(Tables {
        tokens: part(map, starts[0])?,
        offsets: part(map, starts[1])?,
        trie: part(map, starts[2])?,
        info: part(map, starts[3])?,
        pairs: part(map, starts[4])?,
        pair_filter: part(map, starts[5])?,
        short: part(map, starts[6])?,
        medium: part(map, starts[7])?,
        pair_reach: part(map, starts[8])?,
        two_bytes: part(map, starts[9])?,
        class: part(map, starts[10])?,
    })
}

/// Elsewhere the embedded tables are read in place.
#[cfg(not(target_os = "linux"))]
fn on_huge_pages() -> Option<Tables> {
    None
}

/// Number of ordinary tokens (ranks `0..ORDINARY`).
pub(super) const ORDINARY: u32 = 100_256;
const TRIE_MASK: u64 = (1 << 20) - 1;
// 2^18 slots for 100,000 merges (load 0.38): at 2^17 (0.76) the probe chains of `merged`
// were a tenth of the time on random letters; the bench there is 5% faster, text seen once level.
const PAIR_BITS: u32 = 18;
const PAIR_FILTER_BITS: u32 = 20;
const SHORT_BITS: u32 = 17;
const MEDIUM_BITS: u32 = 15;

#[inline(always)]
fn u32_at(bytes: &[u8], i: usize) -> u32 {
    // One load: indexing the array byte by byte made the compiler assemble it from pieces.
    u32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap_or_default())
}

#[inline(always)]
fn u64_at(bytes: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or_default())
}

/// `len` (1 to 8) bytes of `text` from `at`, little-endian, zero-padded.
#[inline(always)]
pub(super) fn load(text: &[u8], at: usize, len: usize) -> u64 {
    match text.get(at..).and_then(|t| t.first_chunk::<8>()) {
        Some(&w) => u64::from_le_bytes(w) & (u64::MAX >> (64 - 8 * len)),
        None => {
            let mut b = [0u8; 8];
            for (d, s) in b.iter_mut().zip(&text[at..at + len]) {
                *d = *s;
            }
            u64::from_le_bytes(b)
        }
    }
}

/// The end of the run of byte `b` in `text` from `from`, eight bytes at a time, then one by
/// one.
#[inline]
pub(super) fn same_byte_end(text: &[u8], from: usize, b: u8) -> usize {
    let word = u64::from_ne_bytes([b; 8]);
    let mut end = from;
    while let Some(chunk) = text.get(end..).and_then(|t| t.first_chunk::<8>()) {
        if u64::from_ne_bytes(*chunk) != word {
            break;
        }
        end += 8;
    }
    while text.get(end) == Some(&b) {
        end += 1;
    }
    end
}

impl Tables {
    /// The token whose bytes are exactly `text[start..end]`, for pieces of up to 16 bytes
    /// (`None` for longer ones: ask [`longest_match`]).
    #[inline(always)]
    pub(super) fn whole_token(&self, text: &[u8], start: usize, end: usize) -> Option<u32> {
        let len = end - start;
        if len <= 8 {
            let key = load(text, start, len);
            let mut slot = ((key ^ (len as u64) << 56).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                >> (64 - SHORT_BITS)) as usize;
            loop {
                let short = self.short;
                let value = u64_at(short, slot * 2 + 1);
                if value == 0 {
                    return None;
                }
                if u64_at(short, slot * 2) == key && (value >> 32) as usize == len {
                    return Some(value as u32 - 1);
                }
                slot = (slot + 1) & ((1 << SHORT_BITS) - 1);
            }
        } else if len <= 16 {
            let k0 = load(text, start, 8);
            let k1 = load(text, start + 8, len - 8);
            let h = k0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (k1 ^ (len as u64) << 56).wrapping_mul(0xD6E8_FEB8_6659_FD93);
            let mut slot = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEDIUM_BITS)) as usize;
            loop {
                let medium = self.medium;
                let value = u64_at(medium, slot * 3 + 2);
                if value == 0 {
                    return None;
                }
                if u64_at(medium, slot * 3) == k0
                    && u64_at(medium, slot * 3 + 1) == k1
                    && (value >> 32) as usize == len
                {
                    return Some(value as u32 - 1);
                }
                slot = (slot + 1) & ((1 << MEDIUM_BITS) - 1);
            }
        } else {
            None
        }
    }

    /// Whether the two bytes `b0`, `b1` are one token.
    #[inline(always)]
    pub(super) fn is_two_byte_token(&self, b0: u8, b1: u8) -> bool {
        let pair = usize::from(b0) << 8 | usize::from(b1);
        u64_at(self.two_bytes, pair / 64) >> (pair % 64) & 1 == 1
    }

    /// The bytes of ordinary token `rank` (`rank < ORDINARY`).
    #[inline]
    pub(super) fn token_bytes(&self, rank: u32) -> &'static [u8] {
        let r = rank as usize;
        let tokens: &'static [u8] = self.tokens;
        &tokens[u32_at(self.offsets, r) as usize..u32_at(self.offsets, r + 1) as usize]
    }

    /// The length in bytes of ordinary token `rank`.
    #[inline(always)]
    pub(super) fn token_len(&self, rank: u32) -> usize {
        (u64_at(self.info, rank as usize) >> 51) as usize
    }

    /// The longest token that is a prefix of `text` and its length; `None` only for empty text
    /// (every single byte is a token).
    #[inline]
    pub(super) fn longest_match(&self, text: &[u8]) -> Option<(u32, usize)> {
        let mut slot = 0usize;
        let trie = self.trie;
        let mut node = u64_at(trie, 0);
        let mut best = None;
        for (i, &b) in text.iter().enumerate() {
            let child = (node & TRIE_MASK) as usize + b as usize;
            let next = u64_at(trie, child);
            if (next >> 20) & TRIE_MASK != slot as u64 {
                break;
            }
            slot = child;
            node = next;
            let rank = node >> 40;
            if rank != 0 {
                best = Some((rank as u32 - 1, i + 1));
            }
        }
        best
    }

    /// An upper bound on the length of any token that starts at `text[i]` (`i < text.len()`),
    /// from its first two bytes alone.
    #[inline(always)]
    pub(super) fn reach_at(&self, text: &[u8], i: usize) -> usize {
        match text.get(i + 1) {
            Some(&b1) => usize::from(self.pair_reach[(text[i] as usize) << 8 | b1 as usize]).max(1),
            None => 1,
        }
    }

    /// The longest token that is a proper prefix of token `rank`.
    #[inline]
    pub(super) fn shorter_prefix(&self, rank: u32) -> Option<u32> {
        let p = (u64_at(self.info, rank as usize) >> 34) as u32 & 0x1_FFFF;
        (p != 0x1_FFFF).then_some(p)
    }

    /// The two tokens BPE merges into `rank`, or `(rank, rank)` for a token it never builds.
    #[inline(always)]
    pub(super) fn split(&self, rank: u32) -> (u32, u32) {
        let info = u64_at(self.info, rank as usize);
        (info as u32 & 0x1_FFFF, (info >> 17) as u32 & 0x1_FFFF)
    }

    /// The token BPE builds by merging `left` and `right`, if any.
    #[inline]
    pub(super) fn merged(&self, left: u32, right: u32) -> Option<u32> {
        let key = (left as u64) << 17 | right as u64;
        // Two bits of one word (`build.rs`): ~3% of the pairs that are not merges get past it.
        let h = key.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        let bits = 1 << (h >> 32 & 63) | 1 << (h >> 38 & 63);
        if u64_at(
            self.pair_filter,
            (h >> (64 - (PAIR_FILTER_BITS - 6))) as usize,
        ) & bits
            != bits
        {
            return None;
        }
        let pairs = self.pairs;
        let mut slot = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - PAIR_BITS)) as usize;
        loop {
            let entry = u64_at(pairs, slot);
            if entry == u64::MAX {
                return None;
            }
            if entry >> 17 == key {
                return Some((entry & 0x1_FFFF) as u32);
            }
            slot = (slot + 1) & ((1 << PAIR_BITS) - 1);
        }
    }
}

/// Character classes of the cl100k pattern.
pub(super) const OTHER: u8 = 0;
pub(super) const LETTER: u8 = 1;
pub(super) const NUMBER: u8 = 2;
pub(super) const SPACE: u8 = 3;

/// The class of code point `cp` (`\p{L}`, `\p{N}`, `\s` or none of them).
///
/// Read from the embedded table: 44 KB that stays in cache, asked about for every character
/// beyond ASCII, where the check for the copy would cost more than it saves.
#[inline]
pub(super) fn class(cp: u32) -> u8 {
    let block = (cp >> 7) as usize;
    if block >= CLASS_INDEX_LEN {
        return OTHER;
    }
    let index = u16::from_le_bytes(
        EMBEDDED.class[block * 2..block * 2 + 2]
            .try_into()
            .unwrap_or_default(),
    ) as usize;
    EMBEDDED.class[CLASS_INDEX_LEN * 2 + index * 128 + (cp & 127) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The copy [`touch`] makes is the embedded tables, byte for byte.
    #[test]
    fn the_copy_in_use_is_the_tables() {
        touch();
        for (copy, embedded) in tables().parts().iter().zip(EMBEDDED.parts()) {
            assert_eq!(*copy, embedded);
        }
        #[cfg(target_os = "linux")]
        assert!(
            !std::ptr::eq(tables().trie, EMBEDDED.trie),
            "the tables are read through a copy"
        );
    }

    #[test]
    fn trie_and_tables_agree() {
        touch();
        let t = tables();
        for rank in 0..ORDINARY {
            let bytes = t.token_bytes(rank);
            assert_eq!(
                t.longest_match(bytes),
                Some((rank, bytes.len())),
                "rank {rank}"
            );
            assert_eq!(t.token_len(rank), bytes.len());
            if let [b0, b1] = *bytes {
                assert!(t.is_two_byte_token(b0, b1), "rank {rank}");
            }
            if bytes.len() <= 16 {
                assert_eq!(t.whole_token(bytes, 0, bytes.len()), Some(rank));
                let padded = [b"xx", bytes, b"\0\0"].concat();
                assert_eq!(t.whole_token(&padded, 2, 2 + bytes.len()), Some(rank));
                assert!(t.whole_token(&padded, 2, 4 + bytes.len()).is_none());
            }
            let (l, r) = t.split(rank);
            if (l, r) != (rank, rank) {
                assert_eq!([t.token_bytes(l), t.token_bytes(r)].concat(), bytes);
                assert_eq!(t.merged(l, r), Some(rank));
            }
        }
    }

    /// The bit set of two-byte tokens is the token table's answer for every pair of bytes.
    #[test]
    fn two_byte_tokens_are_the_tokens_of_two_bytes() {
        touch();
        let t = tables();
        let mut tokens = 0;
        for pair in 0..=u16::MAX {
            let bytes = pair.to_be_bytes();
            let one = t.whole_token(&bytes, 0, 2).is_some();
            assert_eq!(t.is_two_byte_token(bytes[0], bytes[1]), one, "{bytes:?}");
            tokens += usize::from(one);
        }
        assert!(tokens > 1000, "{tokens} two-byte tokens");
    }

    #[test]
    fn classes() {
        assert_eq!(class('a' as u32), LETTER);
        assert_eq!(class('я' as u32), LETTER);
        assert_eq!(class('中' as u32), LETTER);
        assert_eq!(class('7' as u32), NUMBER);
        assert_eq!(class('²' as u32), NUMBER);
        assert_eq!(class(' ' as u32), SPACE);
        assert_eq!(class(0x3000), SPACE);
        assert_eq!(class(0x85), SPACE);
        assert_eq!(class(0x200B), OTHER);
        assert_eq!(class(0x301), OTHER);
        assert_eq!(class(0x10FFFF), OTHER);
    }
}
