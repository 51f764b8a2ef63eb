//! Byte pair encoding of one piece, identical to tiktoken's merge loop (lowest rank first,
//! leftmost on ties) but linear: the backtracking encoder of github/rust-gems's `bpe` crate.
//!
//! It walks the piece left to right, taking the longest token that is a prefix of the rest,
//! and keeps it only if BPE would really have put a boundary between it and the token before
//! (`is_valid_pair`, which replays the merges across the boundary). Otherwise it tries the next
//! shorter prefix token, and when none fits it backtracks one token and marks that position as
//! a dead end in a bit set, so that each position is given up at most once.

use super::tables::{Tables, load, same_byte_end, tables};

/// Runs `f` with a stack of token lengths of at least `len` entries and a dead-end bit set
/// of at least `len + 1` bits, all set: on the stack for pieces of up to 512 bytes (a long
/// CJK clause), on the heap beyond. Lengths (a token is at most 128 bytes) rather than ids
/// keep a long piece's stack at one byte per byte of text.
#[inline(always)]
fn with_buffers<R>(len: usize, f: impl FnOnce(&mut [u8], &mut [u64]) -> R) -> R {
    if len <= 64 {
        f(&mut [0; 64], &mut [!0; 2])
    } else if len <= 512 {
        f(&mut [0; 512], &mut [!0; 9])
    } else {
        f(&mut vec![0; len], &mut vec![!0; len / 64 + 1])
    }
}

/// Whether BPE, encoding the bytes of `a` followed by those of `b`, ends with exactly `a`, `b`.
fn is_valid_pair(t: &Tables, mut a: u32, mut b: u32) -> bool {
    // The highest rank that may still merge across the boundary.
    let mut limit = u32::MAX;
    loop {
        if let Some(c) = t.merged(a, b) {
            if c < limit {
                return false;
            }
        }
        // Undo the later of the two merges that made `a` and `b`.
        if a > b {
            limit = a;
            a = t.split(a).1;
            if a == limit {
                limit = b + 1;
                b = t.split(b).0;
                if b + 1 == limit {
                    return true;
                }
            }
        } else {
            limit = b + 1;
            b = t.split(b).0;
            if b + 1 == limit {
                limit = a;
                a = t.split(a).1;
                if a == limit {
                    return true;
                }
            }
        }
    }
}

/// [`is_valid_pair`] through `cache`, a direct-mapped table of recent answers (its length a
/// power of two): `(a << 17 | b) << 1 | valid`, plus one so that an empty cache is all zeros
/// and lives in zero-initialized thread-local storage.
///
/// Long pieces ask about the same few pairs over and over (a run of tabs asks about 20 x 20
/// pairs, each a walk down both merge trees); this makes those asks a load.
fn is_valid_cached(t: &Tables, cache: &mut [u64], a: u32, b: u32) -> bool {
    let key = (a as u64) << 17 | b as u64;
    let bits = cache.len().trailing_zeros();
    let slot =
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize & (cache.len() - 1);
    let entry = cache[slot].wrapping_sub(1);
    if entry >> 1 == key {
        return entry & 1 == 1;
    }
    let valid = is_valid_pair(t, a, b);
    cache[slot] = (key << 1 | valid as u64) + 1;
    valid
}

const PAIR_CACHE: usize = 1 << 15;

/// In an ASCII piece, pairs of tokens of this many bytes together or fewer are checked without
/// the cache: their merge trees are at most two deep, and random letters ask about more such
/// pairs than any cache holds, so a slot read there is mostly a miss paid on top. Elsewhere such
/// pairs are pieces of one character (CJK, emoji), few and asked about again and again.
const UNCACHED_PAIR_BYTES: usize = 3;

thread_local! {
    static CACHE: std::cell::RefCell<[u64; PAIR_CACHE]> =
        const { std::cell::RefCell::new([0; PAIR_CACHE]) };
}

/// Runs `f` with this thread's pair cache, or with a small fresh one while the thread is being
/// torn down.
#[inline]
fn with_cache<R>(mut f: impl FnMut(&mut [u64]) -> R) -> R {
    match CACHE.try_with(|c| c.try_borrow_mut().ok().map(|mut cache| f(&mut cache[..]))) {
        Ok(Some(r)) => r,
        _ => f(&mut [0; 64]),
    }
}

/// Encodes `piece` into `lengths` (at least `piece.len()` long: the byte length of each
/// token in order) given its longest prefix token `first` and that token's length, with `dead`
/// (at least `piece.len() / 64 + 1` words) all ones; returns the count. An empty `cache`:
/// every pair is checked without one. `RING` is how many of the latest pushes it remembers
/// the ids of: [`RECENT`], or 16 for a piece of up to 16 bytes, which never has more tokens
/// (a quarter of the array to fill on every call, 4-6% fewer instructions on random base64).
fn backtrack<const RING: usize>(
    t: &Tables,
    piece: &[u8],
    first: (u32, usize),
    lengths: &mut [u8],
    dead: &mut [u64],
    cache: &mut [u64],
) -> usize {
    let mut n = 0usize;
    let mut pos = 0usize;
    // The candidate token and its length, carried along so that the common path never reads
    // a token's length out of the tables.
    let mut next = Some(first);
    // The token on top of the stack.
    let mut last: Option<u32> = None;
    // The ids of the most recent pushes, tagged with their depth: a dead end pops the top
    // token, and the one below it is found here instead of down the trie again (a run of tabs
    // pops at every other token). A tag that no longer matches was overwritten by a deeper
    // push: then the trie finds it.
    let mut recent = [(u32::MAX, 0u32); RING];
    let uncached = if piece.is_ascii() {
        UNCACHED_PAIR_BYTES
    } else {
        0
    };
    while let Some((mut token, mut len)) = next {
        loop {
            let end = pos + len;
            if dead[end / 64] >> (end % 64) & 1 == 1
                && last.is_none_or(|l| {
                    if cache.is_empty() || usize::from(lengths[n - 1]) + len <= uncached {
                        is_valid_pair(t, l, token)
                    } else {
                        is_valid_cached(t, cache, l, token)
                    }
                })
            {
                lengths[n] = len as u8;
                recent[n % RING] = (n as u32, token);
                n += 1;
                pos = end;
                last = Some(token);
                next = t.longest_match(&piece[end..]);
                break;
            } else if let Some(shorter) = t.shorter_prefix(token) {
                token = shorter;
                len = t.token_len(shorter);
            } else {
                // No token can follow `last` here: give this position up for good.
                dead[pos / 64] &= !(1 << (pos % 64));
                match last {
                    Some(l) => {
                        n -= 1;
                        let l_len = usize::from(lengths[n]);
                        pos -= l_len;
                        next = Some((l, l_len));
                        last = match n.checked_sub(1) {
                            None => None,
                            Some(below) => match recent[below % RING] {
                                (depth, id) if depth as usize == below => Some(id),
                                _ => token_at(t, piece, pos - usize::from(lengths[below]), pos),
                            },
                        };
                    }
                    // Unreachable for cl100k (every byte is a token): stop rather than loop.
                    None => next = None,
                }
                break;
            }
        }
    }
    n
}

/// How many of the latest pushes [`backtrack`] remembers the ids of.
const RECENT: usize = 64;

/// The token whose bytes are exactly `piece[start..end]`: down the chain of prefix tokens
/// from the longest one there.
fn token_at(t: &Tables, piece: &[u8], start: usize, end: usize) -> Option<u32> {
    let mut token = t.longest_match(&piece[start..])?.0;
    while t.token_len(token) > end - start {
        token = t.shorter_prefix(token)?;
    }
    (t.token_len(token) == end - start).then_some(token)
}

/// Whether `piece` surely has more than `budget` tokens, decided in one cheap pass.
///
/// No token starting at `i` is longer than [`Tables::reach_at`], so the fewest tokens that can cover
/// the piece (a jump game, solved greedily) is a lower bound on its BPE count: when even that
/// passes the budget, so does the count, and a long piece over the limit costs a table load
/// per byte up to the point where the bound passes it instead of a full encoding.
pub(super) fn surely_more_than(piece: &[u8], budget: usize) -> bool {
    let t = tables();
    let (mut tokens, mut covered, mut farthest) = (0, 0, 0);
    for i in 0..piece.len() {
        farthest = farthest.max(i + t.reach_at(piece, i));
        if i == covered {
            // One more token is needed to go past `covered`.
            tokens += 1;
            if tokens > budget {
                return true;
            }
            covered = farthest;
            if covered >= piece.len() {
                return false;
            }
        }
    }
    false
}

/// The number of tokens of the piece `text[start..end]` if it is at most `budget`.
///
/// A long run of one ASCII byte (a megabyte of spaces or tabs) is counted from
/// [`run_count`]; another piece longer than the budget first gets the cheap lower bound of
/// [`surely_more_than`].
#[inline(always)]
pub(super) fn count_piece_up_to(
    text: &[u8],
    start: usize,
    end: usize,
    budget: usize,
) -> Option<usize> {
    let piece = &text[start..end];
    let n = match (piece.len() > RUN_TABLE)
        .then(|| run_count(piece))
        .flatten()
    {
        Some(n) => n,
        None if piece.len() > budget && surely_more_than(piece, budget) => return None,
        None => count_piece(text, start, end),
    };
    (n <= budget).then_some(n)
}

/// Counts of runs of one byte of up to this many bytes are learned; longer ones follow from
/// the period.
const RUN_TABLE: usize = 512;

/// What BPE makes of runs of one byte: the count of every run of up to [`RUN_TABLE`] bytes,
/// and beyond that a period of `bytes` bytes that adds `tokens` tokens.
///
/// Such a run is only ever split into runs of the same byte, and away from its end the
/// encoder's choice of the next token depends on nothing but the token before it, so the
/// tokens repeat and the count grows by the same amount every period. For cl100k the periods
/// are 1 to 128 bytes, reached within 48 bytes of the start (`tests/tokenizer_runs.rs` checks
/// every ASCII byte against bpe-openai, goliajp's `tiktoken` and tiktoken-rs); a period is only taken when it holds over the last
/// [`RUN_TABLE`] / 2 counts, at least two periods.
struct Run {
    counts: [u16; RUN_TABLE + 1],
    bytes: usize,
    tokens: usize,
}

/// One [`Run`] for each ASCII byte, learned the first time a long run of it is counted
/// (at most 512 encodings of up to 512 bytes); `None` where no period was found, and the
/// general encoder counts.
static RUNS: [std::sync::OnceLock<Option<Box<Run>>>; 128] =
    [const { std::sync::OnceLock::new() }; 128];

/// The count of `piece` if it is one ASCII byte repeated more than [`RUN_TABLE`] times and
/// that byte's runs have a period.
fn run_count(piece: &[u8]) -> Option<usize> {
    let (&b, _) = piece.split_first()?;
    if b >= 0x80 || same_byte_end(piece, 0, b) != piece.len() {
        return None;
    }
    let run = RUNS[usize::from(b)]
        .get_or_init(|| learn_run(b))
        .as_deref()?;
    // Periods back from the length into the table's last period.
    let periods = (piece.len() - RUN_TABLE).div_ceil(run.bytes);
    let rest = piece.len() - periods * run.bytes;
    Some(usize::from(run.counts[rest]) + periods * run.tokens)
}

#[cold]
fn learn_run(b: u8) -> Option<Box<Run>> {
    let text = [b; RUN_TABLE];
    let mut counts = [0u16; RUN_TABLE + 1];
    for (len, count) in counts.iter_mut().enumerate().skip(1) {
        *count = u16::try_from(count_long(tables(), &text[..len])).ok()?;
    }
    let at = |len: usize| usize::from(counts[len]);
    // A longer run may have fewer tokens than a shorter one (600 `a` are fewer than 512), so
    // a period must add at least one token and hold throughout.
    let adds = |p: usize| (at(RUN_TABLE).checked_sub(at(RUN_TABLE - p))).filter(|&t| t > 0);
    let half = RUN_TABLE / 2;
    let (bytes, tokens) = (1..=half / 2).find_map(|p| {
        let tokens = adds(p)?;
        (half..=RUN_TABLE - p)
            .all(|len| at(len + p) == at(len) + tokens)
            .then_some((p, tokens))
    })?;
    Some(Box::new(Run {
        counts,
        bytes,
        tokens,
    }))
}

/// The number of tokens of the piece `text[start..end]`.
#[inline(always)]
pub(super) fn count_piece(text: &[u8], start: usize, end: usize) -> usize {
    let t = tables();
    match end - start {
        // Every byte is a token; of two, an 8 KiB bit set (punctuation, digits, ` a`) says.
        0 | 1 => return end - start,
        2 => return 2 - usize::from(t.is_two_byte_token(text[start], text[start + 1])),
        _ => {}
    }
    if t.whole_token(text, start, end).is_some() {
        return 1;
    }
    match end - start {
        0..=16 => count_short(t, text, start, end),
        17..=32 => count_medium(t, text, start, end),
        _ => count_long(t, &text[start..end]),
    }
}

/// The count of a piece of 2 to 4 bytes that is not one token, by BPE's own merge order on
/// its few pairs: a few probes of the token table, cheaper than the encoder when the memo
/// misses (random text always does).
///
/// Two bytes are two tokens. Otherwise no merge at all leaves one token a byte; after the
/// first merge (the pair of lowest rank) one more may follow, and the last merge would make
/// the whole piece, which is not a token.
#[inline(always)]
fn count_tiny(t: &Tables, text: &[u8], start: usize, end: usize) -> usize {
    let rank = |from: usize, to: usize| t.whole_token(text, from, to).unwrap_or(u32::MAX);
    match end - start {
        2 => 2,
        3 => {
            3 - usize::from(rank(start, start + 2) != u32::MAX || rank(start + 1, end) != u32::MAX)
        }
        _ => {
            let (ab, bc, cd) = (
                rank(start, start + 2),
                rank(start + 1, start + 3),
                rank(start + 2, end),
            );
            let first = ab.min(bc).min(cd);
            let second_merges = if first == u32::MAX {
                return 4;
            } else if first == ab {
                rank(start, start + 3) != u32::MAX || cd != u32::MAX
            } else if first == bc {
                // Leftmost on a tie: `:ttt` merges the first `tt`.
                rank(start, start + 3) != u32::MAX || rank(start + 1, end) != u32::MAX
            } else {
                rank(start + 1, end) != u32::MAX || ab != u32::MAX
            };
            3 - usize::from(second_merges)
        }
    }
}

/// Counts of recent pieces of up to 16 bytes that are not one token: sets of three ways in
/// one 64-byte line, `[key0, key1] x 3` then `len | count << 8` of each way in 16 bits of the
/// seventh word (len 0: empty), newest way first. Words and identifiers repeat; one line a set
/// means a lookup, hit or miss, reads one line.
#[repr(align(64))]
#[derive(Clone, Copy)]
struct ShortSet([u64; 8]);

/// Counts of recent pieces of 17 to 32 bytes that are not one token (long words, CJK clauses),
/// two-way set-associative: `[key0..key3, len | count << 8]` (len 0: empty).
struct MediumPieces([[u64; 5]; MEDIUM_ENTRIES]);

/// 2^14 sets (49,152 pieces, 1 MiB) and 2^13 medium entries (320 KiB) a thread. Against the
/// single two-way table of 40-byte entries before (2^15, 1.25 MiB; a set spanned two lines),
/// interleaved fresh processes counted text seen once 1-10% faster and text seen again up to 24%
/// faster; half as many sets was within the noise, a medium table twice as large no better.
const SHORT_SETS: usize = 1 << SHORT_SET_BITS;
const SHORT_SET_BITS: u32 = 14;
const MEDIUM_ENTRIES: usize = 1 << 13;

thread_local! {
    static SHORT_PIECES: std::cell::RefCell<[ShortSet; SHORT_SETS]> =
        const { std::cell::RefCell::new([ShortSet([0; 8]); SHORT_SETS]) };
    static MEDIUM_PIECES: std::cell::RefCell<MediumPieces> =
        const { std::cell::RefCell::new(MediumPieces([[0; 5]; MEDIUM_ENTRIES])) };
}

/// The count of a piece of 17 to 32 bytes that is not one token, through [`MEDIUM_PIECES`].
#[inline(never)]
fn count_medium(t: &Tables, text: &[u8], start: usize, end: usize) -> usize {
    let k = key32(text, start, end);
    let len = (end - start) as u64;
    // Two ways: a piece may sit in either entry of its pair, the newer one first.
    let pair = medium_pair(&k, len);
    let is_it = |e: &[u64; 5]| e[..4] == k && e[4] & 0xFF == len;
    let cached = MEDIUM_PIECES
        .try_with(|c| {
            c.try_borrow()
                .ok()
                .and_then(|c| c.0[pair..pair + 2].iter().find(|e| is_it(e)).copied())
                .map(|e| (e[4] >> 8) as usize)
        })
        .ok()
        .flatten();
    if let Some(n) = cached {
        return n;
    }
    let n = count_long(t, &text[start..end]);
    let _ = MEDIUM_PIECES.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            c.0[pair + 1] = c.0[pair];
            c.0[pair] = [k[0], k[1], k[2], k[3], len | (n as u64) << 8];
        }
    });
    n
}

/// The count of a piece of up to 16 bytes that is not one token, through [`SHORT_PIECES`].
#[inline(never)]
fn count_short(t: &Tables, text: &[u8], start: usize, end: usize) -> usize {
    let len = end - start;
    let [k0, k1] = key16(text, start, end);
    let set = short_set(k0, k1, len);
    let cached = SHORT_PIECES
        .try_with(|c| {
            let c = c.try_borrow().ok()?;
            let s = &c[set].0;
            (0..3).find_map(|w| {
                let meta = s[6] >> (16 * w);
                (s[2 * w] == k0 && s[2 * w + 1] == k1 && meta & 0xFF == len as u64)
                    .then_some((meta >> 8 & 0xFF) as usize)
            })
        })
        .ok()
        .flatten();
    if let Some(n) = cached {
        return n;
    }
    // A few probes of the token table beat the encoder; the memo first, though: real text
    // brings such pieces back (a Cyrillic letter after a space), and its line is warm.
    let n = if len <= 4 {
        count_tiny(t, text, start, end)
    } else {
        count_long(t, &text[start..end])
    };
    let _ = SHORT_PIECES.try_with(|c| {
        if let Ok(mut c) = c.try_borrow_mut() {
            let s = &mut c[set].0;
            s.copy_within(0..4, 2);
            s[0] = k0;
            s[1] = k1;
            s[6] = (s[6] << 16 | len as u64 | (n as u64) << 8) & 0xFFFF_FFFF_FFFF;
        }
    });
    n
}

/// The first of the two entries of [`MediumPieces`] where the piece of key `k` and length `len`
/// may sit.
#[inline(always)]
fn medium_pair(k: &[u64; 4], len: u64) -> usize {
    ((k[0] ^ k[1].rotate_left(29) ^ k[2].rotate_left(13) ^ k[3].rotate_left(47) ^ len)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        >> (65 - MEDIUM_ENTRIES.trailing_zeros())) as usize
        * 2
}

/// The [`ShortSet`] of the piece of key `k0, k1` and length `len`.
#[inline(always)]
fn short_set(k0: u64, k1: u64, len: usize) -> usize {
    ((k0 ^ k1.rotate_left(29) ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        >> (64 - SHORT_SET_BITS)) as usize
}

/// The bytes `text[start..end]` (1 to 16) as two zero-padded little-endian words.
#[inline(always)]
fn key16(text: &[u8], start: usize, end: usize) -> [u64; 2] {
    let len = end - start;
    let k0 = load(text, start, len.min(8));
    let k1 = if len > 8 {
        load(text, start + 8, len - 8)
    } else {
        0
    };
    [k0, k1]
}

/// The bytes `text[start..end]` (1 to 32) as four zero-padded little-endian words.
#[inline(always)]
fn key32(text: &[u8], start: usize, end: usize) -> [u64; 4] {
    let mut key = [0; 4];
    let mut at = start;
    for word in &mut key {
        if at >= end {
            break;
        }
        let len = (end - at).min(8);
        *word = load(text, at, len);
        at += len;
    }
    key
}

#[inline(never)]
fn count_long(t: &Tables, piece: &[u8]) -> usize {
    match t.longest_match(piece) {
        None => 0,
        Some((_, len)) if len == piece.len() => 1,
        // A short ASCII piece is a word or an identifier: its pairs come back mostly with the
        // same word, which the piece memo answers, so a pair cache slot would be one more cold
        // read per check on text seen once. Pairs of CJK or Cyrillic letters do come back in
        // other pieces.
        Some(first) if piece.len() <= 32 && piece.is_ascii() => {
            with_buffers(piece.len(), |lengths, dead| {
                if piece.len() <= 16 {
                    backtrack::<16>(t, piece, first, lengths, dead, &mut [])
                } else {
                    backtrack::<RECENT>(t, piece, first, lengths, dead, &mut [])
                }
            })
        }
        Some(first) => with_buffers(piece.len(), |lengths, dead| {
            with_cache(|c| backtrack::<RECENT>(t, piece, first, lengths, dead, c))
        }),
    }
}

/// Appends the tokens of the piece `text[start..end]` to `out`.
pub(super) fn encode_piece(text: &[u8], start: usize, end: usize, out: &mut Vec<u32>) {
    let t = tables();
    if let Some(token) = t.whole_token(text, start, end) {
        out.push(token);
        return;
    }
    let piece = &text[start..end];
    match t.longest_match(piece) {
        None => {}
        Some((token, len)) if len == piece.len() => out.push(token),
        Some(first) => with_buffers(piece.len(), |lengths, dead| {
            let n = with_cache(|c| backtrack::<RECENT>(t, piece, first, lengths, dead, c));
            let mut start = 0;
            for &len in &lengths[..n] {
                let end = start + usize::from(len);
                out.extend(token_at(t, piece, start, end));
                start = end;
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tables::ORDINARY;
    use super::*;

    /// The piece memos answer what the encoder does: pieces that differ only by trailing
    /// zero bytes (the same key words, other lengths), and more pieces than either memo holds,
    /// each counted twice (the second time from the memo, unless evicted).
    #[test]
    fn memos_answer_what_the_encoder_does() {
        let t = tables();
        // The same key words at other lengths (the hashes mix the length in, so these sit in
        // other sets, but the entries check it too).
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        for len in 1..=32 {
            let mut p = b"indistinguishability_of_the_memo".to_vec();
            p.truncate(len);
            pieces.push(p.clone());
            p.extend([0, 0]);
            pieces.push(p);
        }
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 32 + 1) as usize;
            pieces.push(
                (0..len)
                    .map(|i| b"etaoinshrdlu_ "[(x >> ((i * 2) % 60)) as usize % 14])
                    .collect(),
            );
        }
        let mut cached = 0;
        for round in 0..2 {
            for p in &pieces {
                let expected = match t.whole_token(p, 0, p.len()) {
                    Some(_) => 1,
                    None => count_long(t, p),
                };
                assert_eq!(count_piece(p, 0, p.len()), expected, "{p:?}, round {round}");
                cached += usize::from(expected > 1);
            }
        }
        assert!(cached > 100_000, "{cached} pieces of more than one token");
    }

    /// The merge-order shortcut for 2 to 4 bytes answers what the encoder does: every 4-byte
    /// piece of a small alphabet (where pairs repeat and ranks tie), every 3-byte piece of
    /// printable ASCII, and 4-byte pieces from ASCII, from the tokens' own bytes and from any
    /// byte at all.
    #[test]
    fn tiny_pieces_count_as_the_encoder_does() {
        let t = tables();
        let check = |p: &[u8]| {
            if t.whole_token(p, 0, p.len()).is_none() {
                assert_eq!(count_tiny(t, p, 0, p.len()), count_long(t, p), "{p:?}");
            }
        };
        // Every 4 bytes of a small alphabet: repeated pairs, where ranks tie.
        let few = b" :.,_-'0tesaTSh\n";
        for &a in few {
            for &b in few {
                for &c in few {
                    for &d in few {
                        check(&[a, b, c, d]);
                    }
                }
            }
        }
        let printable: Vec<u8> = (b' '..=b'~').collect();
        for &a in &printable {
            for &b in &printable {
                check(&[a, b]);
                for &c in &printable {
                    check(&[a, b, c]);
                }
            }
        }
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let token_bytes: Vec<u8> = (0..ORDINARY)
            .flat_map(|r| t.token_bytes(r).to_vec())
            .collect();
        for _ in 0..1_000_000 {
            let r = next();
            let p: [u8; 4] = match r % 3 {
                0 => std::array::from_fn(|i| printable[(r >> (8 + 8 * i)) as usize % 95]),
                1 => {
                    let at = (r >> 8) as usize % (token_bytes.len() - 4);
                    std::array::from_fn(|i| token_bytes[at + i])
                }
                _ => (r >> 8).to_le_bytes()[..4].try_into().unwrap(),
            };
            check(&p);
            check(&p[..3]);
        }
    }

    /// Every ASCII byte's runs have a period, so no long run of one byte goes to the
    /// encoder; `tests/tokenizer_runs.rs` checks the counts.
    #[test]
    fn every_ascii_byte_has_a_period() {
        for b in 0..0x80u8 {
            let run = learn_run(b).unwrap_or_else(|| panic!("{b:#04x}: no period"));
            assert!(
                (1..=128).contains(&run.bytes),
                "{b:#04x}: {} bytes",
                run.bytes
            );
            assert!(run.tokens >= 1, "{b:#04x}");
        }
    }
}
