//! Byte pair encoding of one piece, identical to tiktoken's merge loop (lowest rank first,
//! leftmost on ties) but linear: the backtracking encoder of github/rust-gems's `bpe` crate.
//!
//! It walks the piece left to right, taking the longest token that is a prefix of the rest,
//! and keeps it only if BPE would really have put a boundary between it and the token before
//! (`is_valid_pair`, which replays the merges across the boundary). Otherwise it tries the next
//! shorter prefix token, and when none fits it backtracks one token and marks that position as
//! a dead end in a bit set, so that each position is given up at most once.

use super::tables::{longest_match, merged, shorter_prefix, split, token_len, whole_token};

/// Pieces up to this many bytes are encoded with buffers on the stack.
const SHORT: usize = 256;

/// Whether BPE, encoding the bytes of `a` followed by those of `b`, ends with exactly `a`, `b`.
fn is_valid_pair(mut a: u32, mut b: u32) -> bool {
    // The highest rank that may still merge across the boundary.
    let mut limit = u32::MAX;
    loop {
        if let Some(c) = merged(a, b) {
            if c < limit {
                return false;
            }
        }
        // Undo the later of the two merges that made `a` and `b`.
        if a > b {
            limit = a;
            a = split(a).1;
            if a == limit {
                limit = b + 1;
                b = split(b).0;
                if b + 1 == limit {
                    return true;
                }
            }
        } else {
            limit = b + 1;
            b = split(b).0;
            if b + 1 == limit {
                limit = a;
                a = split(a).1;
                if a == limit {
                    return true;
                }
            }
        }
    }
}

/// Encodes `piece` into `tokens` (at least `piece.len()` long) given its longest prefix token
/// `first`, with `dead` (at least `piece.len() / 64 + 1` words) all ones; returns the count.
fn backtrack(piece: &[u8], first: u32, tokens: &mut [u32], dead: &mut [u64]) -> usize {
    let mut n = 0usize;
    let mut pos = 0usize;
    let mut next = Some(first);
    while let Some(mut token) = next {
        let last = if n > 0 { Some(tokens[n - 1]) } else { None };
        loop {
            let end = pos + token_len(token);
            if dead[end / 64] >> (end % 64) & 1 == 1 && last.is_none_or(|l| is_valid_pair(l, token))
            {
                tokens[n] = token;
                n += 1;
                pos = end;
                next = longest_match(&piece[end..]).map(|(t, _)| t);
                break;
            } else if let Some(shorter) = shorter_prefix(token) {
                token = shorter;
            } else {
                // No token can follow `last` here: give this position up for good.
                dead[pos / 64] &= !(1 << (pos % 64));
                match last {
                    Some(l) => {
                        n -= 1;
                        pos -= token_len(l);
                        next = Some(l);
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

/// The number of tokens of the piece `text[start..end]`.
#[inline(always)]
pub(super) fn count_piece(text: &[u8], start: usize, end: usize) -> usize {
    if whole_token(text, start, end).is_some() {
        return 1;
    }
    count_long(&text[start..end])
}

#[inline(never)]
fn count_long(piece: &[u8]) -> usize {
    match longest_match(piece) {
        None => 0,
        Some((_, len)) if len == piece.len() => 1,
        Some((first, _)) => {
            if piece.len() <= SHORT {
                let mut tokens = [0u32; SHORT];
                let mut dead = [!0u64; SHORT / 64 + 1];
                backtrack(piece, first, &mut tokens, &mut dead)
            } else {
                let mut tokens = vec![0u32; piece.len()];
                let mut dead = vec![!0u64; piece.len() / 64 + 1];
                backtrack(piece, first, &mut tokens, &mut dead)
            }
        }
    }
}

/// Appends the tokens of the piece `text[start..end]` to `out`.
pub(super) fn encode_piece(text: &[u8], start: usize, end: usize, out: &mut Vec<u32>) {
    if let Some(t) = whole_token(text, start, end) {
        out.push(t);
        return;
    }
    let piece = &text[start..end];
    match longest_match(piece) {
        None => {}
        Some((t, len)) if len == piece.len() => out.push(t),
        Some((first, _)) => {
            if piece.len() <= SHORT {
                let mut tokens = [0u32; SHORT];
                let mut dead = [!0u64; SHORT / 64 + 1];
                let n = backtrack(piece, first, &mut tokens, &mut dead);
                out.extend_from_slice(&tokens[..n]);
            } else {
                let start = out.len();
                out.resize(start + piece.len(), 0);
                let mut dead = vec![!0u64; piece.len() / 64 + 1];
                let n = backtrack(piece, first, &mut out[start..], &mut dead);
                out.truncate(start + n);
            }
        }
    }
}
