//! The cl100k pre-tokenizer, written out by hand.
//!
//! tiktoken-rs splits text with the fancy-regex pattern
//!
//! ```text
//! '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
//! ```
//!
//! (the possessive form of OpenAI's original pattern, as tiktoken itself uses now), taking the
//! first alternative that matches at each position. [`piece_end`] decides the same piece from
//! the character classes of `build.rs`, one alternative after the other.

use super::tables::{LETTER, NUMBER, OTHER, SPACE, class, same_byte_end};

/// Classes of the ASCII characters.
static ASCII: [u8; 128] = {
    let mut t = [OTHER; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = if c.is_ascii_alphabetic() {
            LETTER
        } else if c.is_ascii_digit() {
            NUMBER
        } else if matches!(c, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') {
            SPACE
        } else {
            OTHER
        };
        i += 1;
    }
    t
};

/// The class and UTF-8 length of the character starting at `text[i]` (`i < text.len()`).
#[inline(always)]
fn class_at(text: &[u8], i: usize) -> (u8, usize) {
    let b0 = text[i];
    if b0 < 0x80 {
        return (ASCII[b0 as usize], 1);
    }
    // `text` is valid UTF-8, so the continuation bytes are there; `get` keeps this panic-free.
    let cont = |k: usize| (text.get(i + k).copied().unwrap_or(0x80) & 0x3F) as u32;
    let (cp, len) = if b0 < 0xE0 {
        (((b0 & 0x1F) as u32) << 6 | cont(1), 2)
    } else if b0 < 0xF0 {
        (((b0 & 0x0F) as u32) << 12 | cont(1) << 6 | cont(2), 3)
    } else {
        (
            ((b0 & 0x07) as u32) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3),
            4,
        )
    };
    (class(cp), len)
}

/// The end of the run of characters of class `want` starting at `i`.
#[inline(always)]
fn run_end(text: &[u8], mut i: usize, want: u8) -> usize {
    while i < text.len() {
        let (c, len) = class_at(text, i);
        if c != want {
            break;
        }
        i += len;
    }
    i
}

/// Length of a contraction suffix `(?i:[sdmt]|ll|ve|re)` at `i`, if there is one.
#[inline]
fn contraction(text: &[u8], i: usize) -> Option<usize> {
    let a = *text.get(i)?;
    if matches!(a | 0x20, b's' | b'd' | b'm' | b't') {
        return Some(1);
    }
    let b = *text.get(i + 1)?;
    // U+017F LATIN SMALL LETTER LONG S folds to `s`.
    if (a, b) == (0xC5, 0xBF) {
        return Some(2);
    }
    matches!(
        (a | 0x20, b | 0x20),
        (b'l', b'l') | (b'v', b'e') | (b'r', b'e')
    )
    .then_some(2)
}

/// Classes of bytes for the fast path: the ASCII classes, and `NOT_ASCII` for the rest.
static BYTE: [u8; 256] = {
    let mut t = [NOT_ASCII; 256];
    let mut i = 0;
    while i < 128 {
        t[i] = ASCII[i];
        i += 1;
    }
    t
};

const NOT_ASCII: u8 = 4;

#[inline(always)]
fn byte_class(text: &[u8], i: usize) -> u8 {
    text.get(i).map_or(SPACE, |&b| BYTE[b as usize])
}

/// The end of the piece that starts at `i` (`i < text.len()`).
///
/// Pieces made of ASCII (a word with or without one space before it, digits, punctuation)
/// are decided here; whenever a decision needs a character beyond ASCII, or white space is
/// involved, [`piece_end_general`] decides.
#[inline(always)]
pub(super) fn piece_end(text: &[u8], i: usize) -> usize {
    let b0 = text[i];
    let c1 = byte_class(text, i + 1);
    let letters = match BYTE[b0 as usize] {
        LETTER => i + 1,
        SPACE if b0 == b' ' && c1 == LETTER => i + 2,
        SPACE if b0 == b' ' && c1 == OTHER => return others_end(text, i, i + 2),
        NUMBER => {
            let mut j = i + 1;
            for _ in 0..2 {
                match byte_class(text, j) {
                    NUMBER => j += 1,
                    NOT_ASCII => return piece_end_general(text, i),
                    _ => break,
                }
            }
            return j;
        }
        OTHER if b0 != b'\'' => match c1 {
            LETTER => i + 2,
            NOT_ASCII => return piece_end_general(text, i),
            _ => return others_end(text, i, i + 1),
        },
        _ => return piece_end_general(text, i),
    };
    let mut j = letters;
    // Eight bytes at a time while they are all ASCII letters.
    while let Some(chunk) = text.get(j..).and_then(|t| t.first_chunk::<8>()) {
        let not_letters = !ascii_letters(u64::from_le_bytes(*chunk)) & HIGH;
        if not_letters != 0 {
            j += (not_letters.trailing_zeros() / 8) as usize;
            break;
        }
        j += 8;
    }
    loop {
        match byte_class(text, j) {
            LETTER => j += 1,
            NOT_ASCII => return run_end(text, j, LETTER),
            _ => return j,
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x80 * ONES;

/// The high bit of each byte of `w` that is an ASCII letter.
#[inline(always)]
fn ascii_letters(w: u64) -> u64 {
    let low = (w | (0x20 * ONES)) & (0x7F * ONES); // folds case; no byte above 0x7F
    let from_a = low + (0x1F * ONES); // bit 7 set from 'a' (0x61) up, no carries
    let to_z = (0xFA * ONES) - low; // bit 7 set up to 'z' (0x7A), no borrows
    from_a & to_z & !w & HIGH
}

/// The end of an ASCII run `[^\s\p{L}\p{N}]++[\r\n]*+` of the piece at `i`, scanning from `j`.
#[inline(always)]
fn others_end(text: &[u8], i: usize, mut j: usize) -> usize {
    loop {
        match byte_class(text, j) {
            OTHER => j += 1,
            NOT_ASCII => return piece_end_general(text, i),
            _ => break,
        }
    }
    while j < text.len() && matches!(text[j], b'\r' | b'\n') {
        j += 1;
    }
    j
}

/// [`piece_end`] for every case, one alternative of the pattern after the other.
#[inline(never)]
fn piece_end_general(text: &[u8], i: usize) -> usize {
    let b0 = text[i];
    // '(?i:[sdmt]|ll|ve|re)
    if b0 == b'\'' {
        if let Some(len) = contraction(text, i + 1) {
            return i + 1 + len;
        }
    }
    let (class0, len0) = class_at(text, i);
    let next = i + len0;
    match class0 {
        // [^\r\n\p{L}\p{N}]?+\p{L}++ without the optional character.
        LETTER => return run_end(text, next, LETTER),
        // \p{N}{1,3}+
        NUMBER => {
            let mut end = next;
            for _ in 0..2 {
                if end >= text.len() {
                    break;
                }
                let (c, len) = class_at(text, end);
                if c != NUMBER {
                    break;
                }
                end += len;
            }
            return end;
        }
        _ => {}
    }
    let class1 = if next < text.len() {
        class_at(text, next)
    } else {
        (SPACE, 0)
    };
    // [^\r\n\p{L}\p{N}]?+\p{L}++ with it.
    if class1.0 == LETTER && b0 != b'\r' && b0 != b'\n' && next < text.len() {
        return run_end(text, next + class1.1, LETTER);
    }
    // ' ?[^\s\p{L}\p{N}]++[\r\n]*+'
    let others = if class0 == OTHER {
        Some(i)
    } else if b0 == b' ' && class1.0 == OTHER && next < text.len() {
        Some(next)
    } else {
        None
    };
    if let Some(start) = others {
        let mut end = run_end(text, start, OTHER);
        while end < text.len() && matches!(text[end], b'\r' | b'\n') {
            end += 1;
        }
        return end;
    }
    // White space: find the run, its last CR/LF and its last character.
    let mut end = i;
    let mut after_newline = None;
    let mut last_start = i;
    // A run of one ASCII white-space byte (a megabyte of spaces), eight bytes at a time.
    if b0 < 0x80 {
        end = same_byte_end(text, i, b0);
        if end > i {
            last_start = end - 1;
            if matches!(b0, b'\r' | b'\n') {
                after_newline = Some(end);
            }
        }
    }
    while end < text.len() {
        let (c, len) = class_at(text, end);
        if c != SPACE {
            break;
        }
        if matches!(text[end], b'\r' | b'\n') {
            after_newline = Some(end + 1);
        }
        last_start = end;
        end += len;
    }
    // \s++$
    if end == text.len() {
        return end;
    }
    // \s*[\r\n]
    if let Some(e) = after_newline {
        return e;
    }
    // \s+(?!\S), else \s
    if last_start > i { last_start } else { next }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let j = piece_end(text.as_bytes(), i);
            out.push(&text[i..j]);
            i = j;
        }
        out
    }

    #[test]
    fn ascii_letters_is_exact() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let w = u64::from(b) << (8 * pos)
                    | u64::from_le_bytes(*b"aZ?q0 \xC3M") & !(0xFF << (8 * pos));
                let expected = b.is_ascii_alphabetic();
                assert_eq!(
                    ascii_letters(w) >> (8 * pos + 7) & 1 == 1,
                    expected,
                    "{b:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn splits_like_the_pattern() {
        assert_eq!(pieces("Hello world"), ["Hello", " world"]);
        assert_eq!(
            pieces("I'm here, it'LL do"),
            ["I", "'m", " here", ",", " it", "'LL", " do"]
        );
        assert_eq!(pieces("12345 x"), ["123", "45", " x"]);
        assert_eq!(pieces("a  b"), ["a", " ", " b"]);
        assert_eq!(pieces("a \n\n  b"), ["a", " \n\n", " ", " b"]);
        assert_eq!(pieces("a \n "), ["a", " \n "]);
        assert_eq!(pieces("x  1"), ["x", " ", " ", "1"]);
        assert_eq!(pieces("(!!)\r\nz"), ["(!!)\r\n", "z"]);
        assert_eq!(pieces(" <|endoftext|>"), [" <|", "endoftext", "|>"]);
        assert_eq!(pieces("\tfoo\u{301}"), ["\tfoo", "\u{301}"]);
    }
}
