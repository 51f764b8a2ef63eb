//! Generates the cl100k_base tables the tokenizer uses in place (see `src/tokenizer/tables.rs`).
//!
//! The vocabulary comes out of tiktoken-rs (the reference implementation), the Unicode classes
//! out of regex-syntax (the crate whose tables tiktoken-rs's regex uses), so both agree with the
//! oracle by construction. Everything is written as little-endian bytes into `OUT_DIR`:
//!
//! - `tokens.bin`: every ordinary token's bytes, concatenated in rank order;
//!   `offsets.bin`: `u32` start of each token in `tokens.bin`, plus the end.
//! - `trie.bin`: a double-array trie over all tokens, one `u64` a slot:
//!   bits 0..20 `base`, 20..40 `check` (parent slot; all ones when free), 40..57 rank + 1 (0: no
//!   token ends here). Child of slot `s` on byte `b` is `base(s) + b`, valid if its check is `s`.
//! - `info.bin`: one `u64` per token, all the encoder asks about a token in one load: bits
//!   0..17 and 17..34 the two tokens BPE merged to make it (itself twice if none), 34..51 the
//!   longest token that is a proper prefix of it (all ones if none), 51..59 its length.
//! - `pairs.bin`: open-addressing table of the merges, one `u64` a slot:
//!   `left << 34 | right << 17 | merged`, all ones when empty.
//! - `pair_filter.bin`: a blocked filter over a second hash of the merges, two bits of one
//!   `u64` per merge: all but ~3% of the pairs that are not merges are turned away here, with
//!   one load, without touching `pairs.bin`.
//! - `short.bin`, `medium.bin`: open-addressing tables of the tokens of up to 8 and of 9 to 16
//!   bytes, keys inline: `[key, rank + 1 | len << 32]` and `[key0, key1, rank + 1 | len << 32]`,
//!   keys little-endian and zero-padded, value 0 when empty.
//! - `pair_reach.bin`: one byte per pair of bytes, the length of the longest token that starts
//!   with them (0 if none is longer than one byte).
//! - `two_bytes.bin`: one bit per pair of bytes (bit `b1` of word `b0 * 4 + b1 / 64`), set when
//!   the two bytes are one token.
//! - `class.bin`: code point classes (0 other, 1 letter, 2 number, 3 white space) in a two-level
//!   table: `u16` block index per 128 code points, then the blocks.

use std::collections::HashMap;
use std::env;
use std::fs;
use std::path::PathBuf;

const NONE: u32 = u32::MAX;
const TRIE_FREE: u64 = (1 << 20) - 1;
const PAIR_BITS: u32 = 18;
const PAIR_FILTER_BITS: u32 = 20;
const SHORT_BITS: u32 = 17;
const MEDIUM_BITS: u32 = 15;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));

    let bpe = tiktoken_rs::cl100k_base().expect("tiktoken-rs has cl100k_base");
    let tokens: Vec<Vec<u8>> = (0..100_256u32)
        .map(|rank| {
            bpe.decode_bytes(&[rank])
                .expect("every rank below 100256 is a token")
        })
        .collect();
    let by_bytes: HashMap<&[u8], u32> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_slice(), i as u32))
        .collect();
    assert_eq!(by_bytes.len(), tokens.len(), "token bytes are unique");
    assert!(tokens.iter().all(|t| !t.is_empty() && t.len() <= 128));

    // Token bytes and offsets.
    let mut blob = Vec::new();
    let mut offsets = Vec::with_capacity(tokens.len() + 1);
    for t in &tokens {
        offsets.push(blob.len() as u32);
        blob.extend_from_slice(t);
    }
    offsets.push(blob.len() as u32);
    fs::write(out.join("tokens.bin"), &blob).unwrap();
    fs::write(out.join("offsets.bin"), le_u32(&offsets)).unwrap();

    // The trie.
    let trie = Trie::new(&tokens);
    let dat = trie.double_array();
    fs::write(out.join("trie.bin"), le_u64(&dat)).unwrap();

    // Longest proper prefix of each token.
    let prefix: Vec<u32> = tokens
        .iter()
        .map(|t| longest_prefix(&dat, &t[..t.len() - 1]))
        .collect();

    // Reverse-engineer the merges, as github/rust-gems's `bpe` crate does.
    let mut split: Vec<(u32, u32)> = Vec::with_capacity(tokens.len());
    let mut pairs: HashMap<(u32, u32), u32> = HashMap::new();
    for (id, t) in tokens.iter().enumerate() {
        let id = id as u32;
        let mut left = prefix[id as usize];
        while left != NONE {
            let rest = &t[tokens[left as usize].len()..];
            if let Some(&right) = by_bytes.get(rest) {
                if left < id && right < id && is_valid_pair(&pairs, &split, left, right) {
                    pairs.insert((left, right), id);
                    split.push((left, right));
                    break;
                }
            }
            left = prefix[left as usize];
        }
        if left == NONE {
            split.push((id, id));
        }
    }
    let info: Vec<u64> = (0..tokens.len())
        .map(|i| {
            let p = if prefix[i] == NONE {
                0x1_FFFF
            } else {
                prefix[i] as u64
            };
            split[i].0 as u64 | (split[i].1 as u64) << 17 | p << 34 | (tokens[i].len() as u64) << 51
        })
        .collect();
    fs::write(out.join("info.bin"), le_u64(&info)).unwrap();

    let mut table = vec![u64::MAX; 1 << PAIR_BITS];
    for (&(a, b), &c) in &pairs {
        let mut slot = pair_slot(a, b);
        while table[slot] != u64::MAX {
            slot = (slot + 1) & ((1 << PAIR_BITS) - 1);
        }
        table[slot] = (a as u64) << 34 | (b as u64) << 17 | c as u64;
    }
    fs::write(out.join("pairs.bin"), le_u64(&table)).unwrap();
    let mut filter = vec![0u64; 1 << (PAIR_FILTER_BITS - 6)];
    for &(a, b) in pairs.keys() {
        let (word, bits) = pair_filter_bits(a, b);
        filter[word] |= bits;
    }
    fs::write(out.join("pair_filter.bin"), le_u64(&filter)).unwrap();

    // Whole-token tables for tokens of up to 8 bytes and of 9 to 16 bytes, keys inline.
    let mut short = vec![0u64; 2 << SHORT_BITS];
    let mut medium = vec![0u64; 3 << MEDIUM_BITS];
    for (rank, t) in tokens.iter().enumerate() {
        let len = t.len() as u64;
        let value = (rank as u64 + 1) | len << 32;
        if t.len() <= 8 {
            let key = pack(t);
            let mut slot = short_slot(key, len);
            while short[slot * 2 + 1] != 0 {
                slot = (slot + 1) & ((1 << SHORT_BITS) - 1);
            }
            short[slot * 2] = key;
            short[slot * 2 + 1] = value;
        } else if t.len() <= 16 {
            let (k0, k1) = (pack(&t[..8]), pack(&t[8..]));
            let mut slot = medium_slot(k0, k1, len);
            while medium[slot * 3 + 2] != 0 {
                slot = (slot + 1) & ((1 << MEDIUM_BITS) - 1);
            }
            medium[slot * 3] = k0;
            medium[slot * 3 + 1] = k1;
            medium[slot * 3 + 2] = value;
        }
    }
    fs::write(out.join("short.bin"), le_u64(&short)).unwrap();
    fs::write(out.join("medium.bin"), le_u64(&medium)).unwrap();

    // The longest token starting with each pair of bytes (0: none longer than one byte), for
    // a quick lower bound on the count of a long piece.
    let mut longest_from_pair = vec![0u8; 1 << 16];
    for t in tokens.iter().filter(|t| t.len() >= 2) {
        let slot = &mut longest_from_pair[(t[0] as usize) << 8 | t[1] as usize];
        *slot = (*slot).max(t.len() as u8);
    }
    fs::write(out.join("pair_reach.bin"), &longest_from_pair).unwrap();

    // Which pairs of bytes are one token: 8 KiB that stays in the first-level cache, where
    // `short.bin` would be a probe into 2 MiB for every piece of two bytes.
    let mut two_bytes = vec![0u64; (1 << 16) / 64];
    for t in tokens.iter().filter(|t| t.len() == 2) {
        let pair = (t[0] as usize) << 8 | t[1] as usize;
        two_bytes[pair / 64] |= 1 << (pair % 64);
    }
    fs::write(out.join("two_bytes.bin"), le_u64(&two_bytes)).unwrap();

    // Unicode classes, from the regex-syntax tables tiktoken-rs's regex is built with.
    let mut class = vec![0u8; 0x11_0000];
    for (pattern, value) in [(r"\p{L}", 1u8), (r"\p{N}", 2), (r"\s", 3)] {
        for (lo, hi) in class_ranges(pattern) {
            for cp in lo..=hi {
                assert_eq!(class[cp as usize], 0, "classes are disjoint");
                class[cp as usize] = value;
            }
        }
    }
    // The contraction alternative `'(?i:[sdmt]|ll|ve|re)`: only `s` folds to a non-ASCII letter
    // (U+017F), which the pre-tokenizer knows; fail the build if that ever changes.
    for letter in ['s', 'd', 'm', 't', 'l', 'v', 'e', 'r'] {
        let folds: Vec<u32> = class_ranges(&format!("(?i:{letter})"))
            .into_iter()
            .flat_map(|(lo, hi)| lo..=hi)
            .collect();
        let mut expected = vec![letter.to_ascii_uppercase() as u32, letter as u32];
        if letter == 's' {
            expected.push(0x17F);
        }
        assert_eq!(folds, expected, "case folds of {letter}");
    }
    let mut blocks: Vec<&[u8]> = Vec::new();
    let mut index: Vec<u16> = Vec::new();
    for chunk in class.chunks(128) {
        let i = match blocks.iter().position(|b| *b == chunk) {
            Some(i) => i,
            None => {
                blocks.push(chunk);
                blocks.len() - 1
            }
        };
        index.push(i as u16);
    }
    let mut bytes: Vec<u8> = index.iter().flat_map(|i| i.to_le_bytes()).collect();
    for b in &blocks {
        bytes.extend_from_slice(b);
    }
    fs::write(out.join("class.bin"), bytes).unwrap();
    fs::write(
        out.join("sizes.rs"),
        format!(
            "pub(super) const CLASS_INDEX_LEN: usize = {};\n",
            index.len()
        ),
    )
    .unwrap();
}

fn class_ranges(pattern: &str) -> Vec<(u32, u32)> {
    let hir = regex_syntax::parse(pattern).expect("valid pattern");
    match hir.kind() {
        regex_syntax::hir::HirKind::Class(regex_syntax::hir::Class::Unicode(c)) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        other => panic!("{pattern} is not a Unicode class: {other:?}"),
    }
}

/// The slot where the merge of `(left, right)` starts probing; `src/tokenizer/tables.rs` has
/// the same function.
fn pair_slot(left: u32, right: u32) -> usize {
    let key = (left as u64) << 17 | right as u64;
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - PAIR_BITS)) as usize
}

/// The word of `pair_filter.bin` for the merge of `(left, right)` and its two bits there;
/// `src/tokenizer/tables.rs` has the same function.
fn pair_filter_bits(left: u32, right: u32) -> (usize, u64) {
    let key = (left as u64) << 17 | right as u64;
    let h = key.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    let word = (h >> (64 - (PAIR_FILTER_BITS - 6))) as usize;
    (word, 1 << (h >> 32 & 63) | 1 << (h >> 38 & 63))
}

fn pack(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}

/// Same as in `src/tokenizer/tables.rs`.
fn short_slot(key: u64, len: u64) -> usize {
    ((key ^ len << 56).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHORT_BITS)) as usize
}

/// Same as in `src/tokenizer/tables.rs`.
fn medium_slot(k0: u64, k1: u64, len: u64) -> usize {
    let h = k0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (k1 ^ len << 56).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MEDIUM_BITS)) as usize
}

fn is_valid_pair(
    pairs: &HashMap<(u32, u32), u32>,
    split: &[(u32, u32)],
    mut a: u32,
    mut b: u32,
) -> bool {
    let mut limit = u32::MAX;
    loop {
        if let Some(&c) = pairs.get(&(a, b)) {
            if c < limit {
                return false;
            }
        }
        if a > b {
            limit = a;
            a = split[a as usize].1;
            if a == limit {
                limit = b + 1;
                b = split[b as usize].0;
                if b + 1 == limit {
                    return true;
                }
            }
        } else {
            limit = b + 1;
            b = split[b as usize].0;
            if b + 1 == limit {
                limit = a;
                a = split[a as usize].1;
                if a == limit {
                    return true;
                }
            }
        }
    }
}

fn longest_prefix(dat: &[u64], text: &[u8]) -> u32 {
    let mut slot = 0usize;
    let mut best = NONE;
    for &b in text {
        let child = (dat[slot] & TRIE_FREE) as usize + b as usize;
        if child >= dat.len() || (dat[child] >> 20) & TRIE_FREE != slot as u64 {
            break;
        }
        slot = child;
        let rank = dat[slot] >> 40;
        if rank != 0 {
            best = rank as u32 - 1;
        }
    }
    best
}

struct Trie {
    /// Children (byte, node) sorted by byte, and the rank ending at the node.
    nodes: Vec<(Vec<(u8, usize)>, u32)>,
}

impl Trie {
    fn new(tokens: &[Vec<u8>]) -> Self {
        let mut nodes: Vec<(Vec<(u8, usize)>, u32)> = vec![(Vec::new(), NONE)];
        for (rank, t) in tokens.iter().enumerate() {
            let mut node = 0;
            for &b in t {
                node = match nodes[node].0.binary_search_by_key(&b, |&(c, _)| c) {
                    Ok(i) => nodes[node].0[i].1,
                    Err(i) => {
                        nodes.push((Vec::new(), NONE));
                        let new = nodes.len() - 1;
                        nodes[node].0.insert(i, (b, new));
                        new
                    }
                };
            }
            nodes[node].1 = rank as u32;
        }
        Trie { nodes }
    }

    /// Lays the trie out as a double array, root in slot 0.
    fn double_array(&self) -> Vec<u64> {
        let mut dat: Vec<u64> = vec![TRIE_FREE << 20; 1 << 16];
        let mut used = vec![false; 1 << 16];
        used[0] = true;
        dat[0] = 0;
        let mut first_free = 1usize;
        let mut queue = std::collections::VecDeque::from([(0usize, 0usize)]);
        while let Some((node, slot)) = queue.pop_front() {
            let (children, rank) = &self.nodes[node];
            let rank_bits = if *rank == NONE {
                0
            } else {
                (*rank as u64 + 1) << 40
            };
            if children.is_empty() {
                dat[slot] = (dat[slot] & (TRIE_FREE << 20)) | rank_bits;
                continue;
            }
            while used[first_free] {
                first_free += 1;
            }
            let c0 = children[0].0 as usize;
            let mut p = first_free.max(c0 + 1);
            let base = loop {
                if !used[p] {
                    let base = p - c0;
                    let needed = base + 256;
                    if needed > used.len() {
                        used.resize(needed * 2, false);
                        dat.resize(needed * 2, TRIE_FREE << 20);
                    }
                    if children.iter().all(|&(c, _)| !used[base + c as usize]) {
                        break base;
                    }
                }
                p += 1;
                if p + 256 > used.len() {
                    used.resize(used.len() * 2, false);
                    dat.resize(dat.len() * 2, TRIE_FREE << 20);
                }
            };
            assert!(base + 255 < TRIE_FREE as usize, "trie fits 20-bit slots");
            dat[slot] = (dat[slot] & (TRIE_FREE << 20)) | rank_bits | base as u64;
            for &(c, child) in children {
                let s = base + c as usize;
                used[s] = true;
                dat[s] = (slot as u64) << 20;
                queue.push_back((child, s));
            }
        }
        // Trim, keeping 256 free slots at the end so that every child index is in bounds.
        let last = used.iter().rposition(|&u| u).unwrap();
        dat.truncate(last + 1 + 256);
        dat
    }
}

fn le_u32(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn le_u64(v: &[u64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
