//! The tokenizer seam: the one trait every count, every cut and every id check of a
//! request goes through, and cl100k_base's implementation of it.
//!
//! The policy knows a model's tokenizer only as an `Arc<dyn Tokenizer>`: one dynamic call
//! per input, never one per token, so the built-in tokenizer loses nothing to the seam.
//! Ids are checked against a [`Vocabulary`], plain data the JSON reader tests inline.

use std::fmt;

use crate::tokenizer::{Cl100k, cl100k};

/// What a model's tokens are: the seam through which a policy counts, cuts and checks ids.
///
/// Implement it to bring your own tokenizer; a policy holds it as `Arc<dyn Tokenizer>`,
/// so one tokenizer (a large vocabulary) can serve several models. Only
/// [`name`](Tokenizer::name), [`count_up_to`](Tokenizer::count_up_to) and
/// [`vocabulary`](Tokenizer::vocabulary) are required.
///
/// Work is bounded before any call: a text longer than the model's bytes-per-input cap is
/// over the limit without counting it, and `count_up_to` may stop as soon as it passes
/// the limit.
///
/// ```
/// use std::sync::Arc;
/// use embedguard::{Model, Policy, Tokenizer, Vocabulary};
///
/// /// One token per whitespace-separated word; ids are word numbers below 1000.
/// struct Words;
///
/// impl Tokenizer for Words {
///     fn name(&self) -> &str {
///         "words"
///     }
///     fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
///         let n = text.split_whitespace().count();
///         (n <= limit).then_some(n)
///     }
///     fn vocabulary(&self) -> Vocabulary {
///         Vocabulary::below(1000)
///     }
/// }
///
/// let policy = Policy::empty().with_model(
///     Model::new("word-embedder", 64).with_tokenizer(Arc::new(Words)).with_max_input_tokens(3),
/// );
/// let checked = policy.check(br#"{"model":"word-embedder","input":["one two","three",[7,999]]}"#);
/// // The forms never mix: strings with token arrays is rule 13.
/// assert!(checked.is_err());
/// let checked = policy.check(br#"{"model":"word-embedder","input":["one two","three"]}"#)?;
/// assert_eq!(checked.token_counts(), &[2, 1]);
/// let err = policy.check(br#"{"model":"word-embedder","input":"a b c d"}"#).unwrap_err();
/// assert_eq!(err.message(), "Invalid 'input': maximum context length is 3 tokens.");
/// let err = policy.check(br#"{"model":"word-embedder","input":[1000]}"#).unwrap_err();
/// assert_eq!(err.status(), 400); // not in the vocabulary: rule 13
/// # Ok::<(), embedguard::RequestError>(())
/// ```
pub trait Tokenizer: Send + Sync {
    /// A short name for logs and the CLI (`cl100k_base`, a file's path, `estimate`).
    fn name(&self) -> &str;

    /// The number of tokens in `text` if it is at most `limit`, else `None`. May stop as
    /// soon as the count passes `limit`.
    fn count_up_to(&self, text: &str, limit: usize) -> Option<usize>;

    /// The ids token-array inputs may use (checked by the parser, before counting).
    fn vocabulary(&self) -> Vocabulary;

    /// The number of tokens in `text`.
    fn count(&self, text: &str) -> usize {
        self.count_up_to(text, usize::MAX).unwrap_or(usize::MAX)
    }

    /// Truncation: the longest prefix of `text` that ends on a character boundary and has
    /// at most `limit` tokens, as `(its length in bytes, its count)`; `(0, 0)` when not
    /// even one character fits.
    ///
    /// The default searches the character boundaries with [`count_up_to`]
    /// (`log2(len)` counts of at most `limit` tokens each), which is right for any
    /// tokenizer whose count grows with the prefix; a tokenizer that can encode should cut
    /// at its own token boundaries instead.
    ///
    /// [`count_up_to`]: Tokenizer::count_up_to
    fn cut(&self, text: &str, limit: usize) -> (usize, usize) {
        let boundaries: Vec<usize> = text.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
        // The first boundary whose prefix is over the limit; everything before it fits.
        let over =
            boundaries.partition_point(|&end| self.count_up_to(&text[..end], limit).is_some());
        match over.checked_sub(1) {
            None => (0, 0),
            Some(last) => {
                let end = boundaries[last];
                (end, self.count_up_to(&text[..end], limit).unwrap_or(0))
            }
        }
    }

    /// Truncation mode's one call per input: `Ok(count)` when `text` has at most `limit`
    /// tokens, else `Err(cut(text, limit))`.
    ///
    /// The default counts, then cuts; cl100k_base does both in one pass over the first
    /// `limit` tokens, so cutting costs about what rejecting does.
    fn count_or_cut(&self, text: &str, limit: usize) -> Result<usize, (usize, usize)> {
        match self.count_up_to(text, limit) {
            Some(count) => Ok(count),
            None => Err(self.cut(text, limit)),
        }
    }

    /// A proven bound on the bytes of one token, when there is one (cl100k_base: 128):
    /// a text longer than `limit` times this is over `limit` tokens without counting.
    /// `None` (the default) leaves the model's bytes-per-input cap at the contract's
    /// `limit * 32` *(ours)*.
    fn max_token_bytes(&self) -> Option<usize> {
        None
    }

    /// Whether counts are exact (`false`: an estimate, reported as one).
    fn exact(&self) -> bool {
        true
    }
}

impl fmt::Debug for dyn Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokenizer({})", self.name())
    }
}

/// The token ids a tokenizer knows: every id below a bound, plus a few more above it
/// (special tokens). Plain data, so the parser tests ids inline.
///
/// ```
/// use embedguard::Vocabulary;
/// let vocabulary = Vocabulary::below(10).with_ids([12, 20]);
/// assert!(vocabulary.contains(9) && vocabulary.contains(12) && !vocabulary.contains(10));
/// assert_eq!(vocabulary.len(), 12);
/// assert!(Vocabulary::empty().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vocabulary {
    below: u32,
    /// Sorted, distinct, all at or above `below`.
    extra: Vec<u32>,
}

impl Vocabulary {
    /// The ids `0..n`.
    pub const fn below(n: u32) -> Vocabulary {
        Vocabulary {
            below: n,
            extra: Vec::new(),
        }
    }

    /// No ids at all: every token array is rule 13 (an estimate's vocabulary).
    pub const fn empty() -> Vocabulary {
        Vocabulary::below(0)
    }

    /// Adds these ids (special tokens above the ordinary range, say).
    pub fn with_ids(mut self, ids: impl IntoIterator<Item = u32>) -> Vocabulary {
        let below = self.below;
        self.extra.extend(ids.into_iter().filter(|&id| id >= below));
        self.extra.sort_unstable();
        self.extra.dedup();
        self
    }

    /// Whether `id` is a token id.
    #[inline]
    pub fn contains(&self, id: u32) -> bool {
        id < self.below || (!self.extra.is_empty() && self.extra.binary_search(&id).is_ok())
    }

    /// How many ids there are.
    pub fn len(&self) -> usize {
        self.below as usize + self.extra.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of either (the parser checks against the union of a policy's models).
    pub(crate) fn union(&self, other: &Vocabulary) -> Vocabulary {
        let below = self.below.max(other.below);
        Vocabulary::below(below).with_ids(self.extra.iter().chain(&other.extra).copied())
    }

    /// Whether every id of `self` is one of `other`'s (conservative: `false` may be wrong
    /// only when `other` lists above its bound ids that `self` has below its own).
    pub(crate) fn is_within(&self, other: &Vocabulary) -> bool {
        self.below <= other.below && self.extra.iter().all(|&id| other.contains(id))
    }
}

/// A cl100k token is never longer than this many bytes, so a text longer than
/// `limit * MAX_TOKEN_BYTES` is over `limit` tokens without counting it.
pub(crate) const CL100K_MAX_TOKEN_BYTES: usize = 128;

/// cl100k_base through the seam: each method one static call into the built-in tokenizer.
impl Tokenizer for Cl100k {
    fn name(&self) -> &str {
        "cl100k_base"
    }

    fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
        Cl100k::count_up_to(self, text, limit)
    }

    fn count(&self, text: &str) -> usize {
        Cl100k::count(self, text)
    }

    fn vocabulary(&self) -> Vocabulary {
        // Ordinary ids 0..=100255; 100256 and 100261..=100275 do not exist.
        Vocabulary::below(100_256).with_ids([100_257, 100_258, 100_259, 100_260, 100_276])
    }

    fn cut(&self, text: &str, limit: usize) -> (usize, usize) {
        match cl100k_count_or_cut(text, limit) {
            Ok(count) => (text.len(), count),
            Err(cut) => cut,
        }
    }

    fn count_or_cut(&self, text: &str, limit: usize) -> Result<usize, (usize, usize)> {
        cl100k_count_or_cut(text, limit)
    }

    fn max_token_bytes(&self) -> Option<usize> {
        Some(CL100K_MAX_TOKEN_BYTES)
    }
}

/// The shared cl100k_base a model holds (`Cl100k` itself has one static instance).
pub(crate) struct Cl100kBase;

impl Tokenizer for Cl100kBase {
    fn name(&self) -> &str {
        Tokenizer::name(cl100k())
    }

    #[inline]
    fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
        cl100k().count_up_to(text, limit)
    }

    fn count(&self, text: &str) -> usize {
        cl100k().count(text)
    }

    fn vocabulary(&self) -> Vocabulary {
        Tokenizer::vocabulary(cl100k())
    }

    fn cut(&self, text: &str, limit: usize) -> (usize, usize) {
        match cl100k_count_or_cut(text, limit) {
            Ok(count) => (text.len(), count),
            Err(cut) => cut,
        }
    }

    fn count_or_cut(&self, text: &str, limit: usize) -> Result<usize, (usize, usize)> {
        cl100k_count_or_cut(text, limit)
    }

    fn max_token_bytes(&self) -> Option<usize> {
        Some(CL100K_MAX_TOKEN_BYTES)
    }
}

/// The count of `text` if at most `limit`, else the longest prefix ending at a token
/// boundary and on a character boundary that has at most `limit` tokens: its length in
/// bytes and its count.
///
/// One counting pass finds the piece that passes the limit; the pieces before it count as
/// they are (a prefix of the text splits into the same pieces up to there), so only the
/// text from that piece on is encoded and cut. Truncation then costs about what
/// rejecting does: one count of the first `limit` tokens, and a window after it.
fn cl100k_count_or_cut(text: &str, limit: usize) -> Result<usize, (usize, usize)> {
    cl100k()
        .count_or_passing_piece(text, limit)
        .map_err(|(start, before)| {
            let (cut, count) = cut_from_piece(&text[start..], limit - before);
            (start + cut, before + count)
        })
}

/// [`cl100k_count_or_cut`]'s cut of a text that starts at a piece boundary and is over
/// `limit`.
fn cut_from_piece(text: &str, limit: usize) -> (usize, usize) {
    let cl100k = cl100k();
    // The first `limit` tokens lie within `limit * 128` bytes; a little more lets the
    // tokenizer see what follows the last of them. The window starts at 8 bytes a token
    // and doubles until it holds more than `limit` tokens, so dense text is not encoded
    // far past the cut: time and memory follow what is kept, not the worst case.
    let most = floor_char_boundary(
        text,
        limit
            .saturating_add(1)
            .saturating_mul(CL100K_MAX_TOKEN_BYTES),
    );
    let mut window = floor_char_boundary(text, limit.saturating_add(1).saturating_mul(8).min(most));
    let ids = loop {
        let ids = cl100k.encode(&text[..window]);
        let next = floor_char_boundary(text, window.saturating_mul(2).min(most));
        if ids.len() > limit || next <= window {
            break ids;
        }
        window = next;
    };
    let mut ends: Vec<usize> = ids
        .iter()
        .take(limit)
        .scan(0, |end, &id| {
            *end += cl100k.token_bytes(id).map_or(0, <[u8]>::len);
            Some(*end)
        })
        .collect();
    // A shorter prefix can tokenize differently at its end; step back until it fits.
    while let Some(end) = ends.pop() {
        let cut = floor_char_boundary(text, end);
        if let Some(count) = cl100k.count_up_to(&text[..cut], limit) {
            return (cut, count);
        }
    }
    (0, 0)
}

/// The largest character boundary of `text` at or below `at`.
pub(crate) fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
