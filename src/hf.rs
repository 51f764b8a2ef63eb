//! HuggingFace `tokenizer.json` files, counted by the `tokenizers` crate (feature `hf`).
//!
//! The one job here: turn the `tokenizers` library into counts the contract can use. A count
//! is the number of ids of `encode(text, add_special_tokens=true)` with the file's
//! truncation and padding switched off, the way model servers bill. Everything that crosses
//! into `tokenizers` goes through [`guard`], which turns its errors and its panics into
//! [`HfError`], so no text can bring a caller down.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokenizers::Encoding;

use crate::hf_split::{self, Cut, Cuts};
use crate::tokens::{Tokenizer, Vocabulary};

/// A HuggingFace tokenizer, loaded from a `tokenizer.json` file.
///
/// Counts are exact against the `tokenizers` library itself: the number of ids of
/// `encode(text, add_special_tokens=true)`, truncation and padding off. The file's
/// post-processor decides which special tokens are added (a BERT `[CLS] $A [SEP]` template
/// adds 2 to every input; a byte-level one adds none). Special-token text written in the
/// input (`"[CLS]"`, `"<|endoftext|>"`) is matched as the token, as `tokenizers` does.
///
/// Shared freely across threads (`Send + Sync`); nothing is mutated after loading except
/// `tokenizers`' own bounded word cache.
///
/// ```
/// use embedguard::HfTokenizer;
///
/// // A tiny WordPiece file with a BERT template, for the example.
/// let json = r###"{
///   "version": "1.0",
///   "truncation": {"max_length": 2, "strategy": "LongestFirst", "stride": 0},
///   "padding": null,
///   "added_tokens": [
///     {"id": 0, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
///     {"id": 1, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
///     {"id": 2, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
///   ],
///   "normalizer": {"type": "Lowercase"},
///   "pre_tokenizer": {"type": "Whitespace"},
///   "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 2], "cls": ["[CLS]", 1]},
///   "decoder": null,
///   "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
///             "max_input_chars_per_word": 100,
///             "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "hello": 3, "world": 4, "wor": 5, "##ld": 6}}
/// }"###;
/// let bert: HfTokenizer = json.parse()?;
/// // [CLS] hello world [SEP]: the file's truncation to 2 tokens is switched off.
/// assert_eq!(bert.count("Hello world"), 4);
/// assert_eq!(bert.encode("Hello world")?, [1, 3, 4, 2]);
/// assert_eq!(bert.count_up_to("Hello world", 3), None);
/// // The longest prefix of at most 3 tokens: "Hello" ([CLS] hello [SEP]).
/// assert_eq!(bert.cut("Hello world", 3), (5, 3));
///
/// // A profile may say that special tokens are not counted.
/// let plain = bert.without_special_tokens();
/// assert_eq!(plain.count("Hello world"), 2);
/// assert!(plain.is_token_id(6) && !plain.is_token_id(7));
/// # Ok::<(), embedguard::HfError>(())
/// ```
#[derive(Clone)]
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    add_special_tokens: bool,
    name: String,
    vocabulary: Vocabulary,
    /// Where long texts may be cut, to be counted in pieces (`hf_split`): the kinds of
    /// place at which the file's pipeline splits anyway. Empty: never cut.
    cuts: Cuts,
    /// The special tokens the post-processor adds to every input.
    added: usize,
    /// The longest added token's content, in bytes: how far before a window's end an added
    /// token cut short by the window may start.
    longest_added: usize,
}

/// Why a `tokenizer.json` could not be loaded, or a text not encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HfError {
    /// The file could not be read.
    #[error("cannot read tokenizer file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The bytes are not a `tokenizer.json` that the `tokenizers` library can load.
    #[error("not a valid tokenizer.json: {message}")]
    Invalid {
        /// What the `tokenizers` library said (for JSON errors, with line and column).
        message: String,
    },
    /// The `tokenizers` library returned an error for a text (a model without an unknown
    /// token meeting an unknown word, a regular expression giving up).
    #[error("the tokenizer failed on the text: {message}")]
    Encode {
        /// What the `tokenizers` library said.
        message: String,
    },
    /// The `tokenizers` library panicked on a text; the panic was caught.
    #[error("the tokenizer panicked on the text")]
    Panicked,
}

/// The name of a tokenizer loaded from bytes, until [`HfTokenizer::with_name`] sets one.
const DEFAULT_NAME: &str = "tokenizer.json";

impl HfTokenizer {
    /// Loads a `tokenizer.json` file. Its name is the path as given.
    ///
    /// ```
    /// let err = embedguard::HfTokenizer::from_file("no/such/tokenizer.json").unwrap_err();
    /// assert!(err.to_string().starts_with("cannot read tokenizer file no/such/tokenizer.json: "));
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<HfTokenizer, HfError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| HfError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(HfTokenizer::from_bytes(&bytes)?.with_name(path.to_string_lossy()))
    }

    /// Loads a `tokenizer.json` from its bytes. Its name is `tokenizer.json`.
    ///
    /// ```
    /// let err = embedguard::HfTokenizer::from_bytes(b"{}").unwrap_err();
    /// assert_eq!(err.to_string(), "not a valid tokenizer.json: Model missing. at line 1 column 2");
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<HfTokenizer, HfError> {
        let loaded = catch_unwind(|| tokenizers::Tokenizer::from_bytes(bytes));
        let mut inner = match loaded {
            Ok(Ok(inner)) => inner,
            Ok(Err(err)) => {
                return Err(HfError::Invalid {
                    message: err.to_string(),
                });
            }
            Err(_) => {
                return Err(HfError::Invalid {
                    message: "the tokenizers library panicked while loading it".to_owned(),
                });
            }
        };
        // A file's truncation and padding are for feeding a model; counted with them, every
        // input would read as at most (or exactly) their length.
        inner
            .with_truncation(None)
            .map_err(|err| HfError::Invalid {
                message: err.to_string(),
            })?;
        inner.with_padding(None);
        let vocabulary = vocabulary(inner.get_vocab(true).into_values().collect());
        let mut tokenizer = HfTokenizer {
            inner,
            add_special_tokens: true,
            name: DEFAULT_NAME.to_owned(),
            vocabulary,
            cuts: Cuts::default(),
            added: 0,
            longest_added: 0,
        };
        let empty = |special| tokenizer.encode_len("", special).ok();
        tokenizer.added = match (empty(true), empty(false)) {
            (Some(with), Some(without)) if with >= without => with - without,
            _ => {
                return Err(HfError::Invalid {
                    message: "the tokenizers library cannot encode the empty text".to_owned(),
                });
            }
        };
        // The pipeline as the loaded tokenizer holds it: the file is not read twice.
        let pipeline = hf_split::Pipeline {
            normalizer: serde_json::to_value(tokenizer.inner.get_normalizer())
                .unwrap_or_else(|_| "unreadable".into()),
            pre_tokenizer: serde_json::to_value(tokenizer.inner.get_pre_tokenizer())
                .unwrap_or(serde_json::Value::Null),
            added: tokenizer
                .inner
                .get_added_tokens_decoder()
                .into_values()
                .map(|token| hf_split::AddedToken {
                    content: token.content,
                    rstrip: token.rstrip,
                })
                .collect(),
        };
        tokenizer.longest_added = pipeline
            .added
            .iter()
            .map(|t| t.content.len())
            .max()
            .unwrap_or(0);
        let allowed = pipeline.cuts_to_probe();
        tokenizer.cuts = Cut::ALL
            .into_iter()
            .filter(|&cut| allowed.contains(cut) && tokenizer.splits_probes(cut))
            .fold(Cuts::default(), Cuts::with);
        Ok(tokenizer)
    }

    /// Whether every probe text of `cut` falls into the same pre-tokens as its two halves,
    /// whatever the vocabulary, and encodes as they do.
    fn splits_probes(&self, cut: Cut) -> bool {
        let ids = |text: &str| {
            guard(|| self.inner.encode_fast(text, false)).map(|e| e.get_ids().to_vec())
        };
        cut.probes().all(|(left, right)| {
            splits_alike(left, right, |text| self.pre_tokens(text))
                && splits_alike(left, right, ids)
        })
    }

    /// The pre-tokens of `text`: normalized, then split by the file's pre-tokenizer.
    fn pre_tokens(&self, text: &str) -> Result<Vec<String>, HfError> {
        use tokenizers::{
            NormalizedString, Normalizer, OffsetReferential, OffsetType, PreTokenizedString,
            PreTokenizer,
        };
        guard(|| {
            let mut normalized = NormalizedString::from(text);
            if let Some(normalizer) = self.inner.get_normalizer() {
                normalizer.normalize(&mut normalized)?;
            }
            let mut pre = PreTokenizedString::from(normalized);
            if let Some(pre_tokenizer) = self.inner.get_pre_tokenizer() {
                pre_tokenizer.pre_tokenize(&mut pre)?;
            }
            Ok(pre
                .get_splits(OffsetReferential::Normalized, OffsetType::Byte)
                .into_iter()
                .map(|(piece, _, _)| piece.to_owned())
                .collect())
        })
    }

    /// Whether texts longer than a few KiB are counted in pieces, to bound the memory
    /// `tokenizers` needs (see [`count`](Self::count)).
    pub fn counts_in_pieces(&self) -> bool {
        !self.cuts.is_empty()
    }

    /// Where long texts are cut, for logs: some of `"space"` (before a space between
    /// words), `"line feed"` (after one, before a word) and `"punctuation"` (before a mark
    /// between words, CJK ones included); none when the file's pipeline might look across
    /// a cut.
    pub fn cut_places(&self) -> Vec<&'static str> {
        Cut::ALL
            .into_iter()
            .filter(|&cut| self.cuts.contains(cut))
            .map(Cut::name)
            .collect()
    }

    /// The number of ids `tokenizers` gives `text`, with or without the special tokens.
    fn encode_len(&self, text: &str, special: bool) -> Result<usize, HfError> {
        // `encode_fast` is `encode` without the offsets: the same ids.
        guard(|| self.inner.encode_fast(text, special)).map(|e| e.len())
    }

    /// The same tokenizer under another name (for logs and listings).
    pub fn with_name(mut self, name: impl Into<String>) -> HfTokenizer {
        self.name = name.into();
        self
    }

    /// The same tokenizer, counting without the special tokens its post-processor adds
    /// (`encode(text, add_special_tokens=false)`): for a profile that says special tokens
    /// are not counted. Special-token text written in the input still counts, as one token.
    pub fn without_special_tokens(mut self) -> HfTokenizer {
        self.add_special_tokens = false;
        self
    }

    /// Whether counts include the special tokens the post-processor adds (the default).
    pub fn counts_special_tokens(&self) -> bool {
        self.add_special_tokens
    }

    /// The tokenizer's name: the path it was loaded from, or the one set by
    /// [`with_name`](Self::with_name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of tokens of `text`, special tokens included as configured.
    ///
    /// A text the `tokenizers` library fails on (see [`try_count`](Self::try_count)) counts
    /// as `usize::MAX`: it is over every limit, never under.
    ///
    /// For most files (BERT WordPiece, byte-level BPE with a GPT-style split: see
    /// [`counts_in_pieces`](Self::counts_in_pieces)) a long text is counted in pieces of
    /// about 2 KiB, cut between words (before a space or a punctuation mark, after a line
    /// feed) where the file's pipeline is known to split anyway: the same count, with the working memory of `tokenizers`
    /// (60 to 300 bytes per byte) held for one piece at a time instead of the whole text.
    pub fn count(&self, text: &str) -> usize {
        self.try_count(text).unwrap_or(usize::MAX)
    }

    /// The number of tokens of `text`, or why the `tokenizers` library could not say.
    pub fn try_count(&self, text: &str) -> Result<usize, HfError> {
        self.count_pieces(text, usize::MAX)
            .map(|n| n.unwrap_or(usize::MAX))
    }

    /// The number of tokens of `text` if it is at most `limit`, else `None` (also when the
    /// `tokenizers` library fails on the text).
    ///
    /// `tokenizers` has no way to stop early within a text, so bound the work with a byte
    /// cap before calling this (the contract's bytes per input); a text counted in pieces
    /// stops after the piece that passes `limit`.
    pub fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
        self.count_pieces(text, limit).ok().flatten()
    }

    /// The count of `text` if at most `limit` (`Ok(None)` past it), piece by piece where the
    /// file allows it.
    fn count_pieces(&self, text: &str, limit: usize) -> Result<Option<usize>, HfError> {
        if self.cuts.is_empty() || text.len() <= hf_split::PIECE_BYTES {
            let n = self.encode_len(text, self.add_special_tokens)?;
            return Ok((n <= limit).then_some(n));
        }
        let mut total = if self.add_special_tokens {
            self.added
        } else {
            0
        };
        for piece in hf_split::pieces(text, self.cuts) {
            total = total.saturating_add(self.encode_len(piece, false)?);
            if total > limit {
                return Ok(None);
            }
        }
        Ok(Some(total))
    }

    /// The token ids of `text`, special tokens included as configured.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, HfError> {
        guard(|| self.inner.encode_fast(text, self.add_special_tokens))
            .map(|e| e.get_ids().to_vec())
    }

    /// Where to cut `text` to at most `limit` tokens, for truncation: the length in bytes of
    /// a prefix ending on a character boundary and a token boundary, and that prefix's exact
    /// count (special tokens included as configured), which is at most `limit`.
    ///
    /// A whole text within the limit is kept whole. Otherwise the prefix is the last one
    /// under the limit before the first `limit` tokens' end, and the next token boundary
    /// after it (or the end of the text) counts more than `limit`. When even the empty text
    /// is over the limit (a post-processor that adds more special tokens than `limit`), the
    /// answer is `(0, that count)`.
    ///
    /// Work: a window of the text about twice what is kept is encoded once, then a few
    /// prefixes of it (two in the common case, O(log n) at worst).
    pub fn cut(&self, text: &str, limit: usize) -> (usize, usize) {
        // Encode a window that doubles until its complete words hold more than `limit`
        // tokens: dense text is not encoded far past the cut. The window's last word may be
        // cut short, so its tokens are not boundaries of the text; the others are. 8 bytes a
        // token to start with, as for cl100k.
        let mut window = floor_char_boundary(text, limit.saturating_add(1).saturating_mul(8));
        let (encoding, bounds) = loop {
            let Ok(encoding) =
                guard(|| self.inner.encode(&text[..window], self.add_special_tokens))
            else {
                // Fail closed: a window the tokenizer cannot encode is not kept.
                return self.cut_empty();
            };
            let whole = window == text.len();
            if whole && encoding.len() <= limit {
                return (window, encoding.len());
            }
            // An added token cut short by the window may start up to its length before the
            // window's end (normalization may lengthen it: four times, to be safe); the
            // tokens there are not boundaries of the text either.
            let trusted = if whole {
                window
            } else {
                window.saturating_sub(self.longest_added.saturating_mul(4))
            };
            let bounds = Bounds::new(&encoding, window, trusted, whole, limit);
            if whole || bounds.complete > limit {
                break (encoding, bounds);
            }
            window = floor_char_boundary(text, window.saturating_mul(2).max(window + 4));
        };
        let Bounds { ends, guess, .. } = bounds;
        // `ends[over]` is the window, known to be over the limit: search between a prefix that
        // fits (`lo`) and one that does not (`hi`). Bisection keeps that invariant, so it ends
        // on two neighbouring token boundaries whatever the counts do in between.
        let over = ends.len() - 1;
        let count_at = |i: usize| -> usize {
            if i == over {
                encoding.len()
            } else {
                self.count(&text[..ends[i]])
            }
        };
        let first = count_at(guess);
        let (mut lo, mut lo_count, mut hi) = if first <= limit {
            // Gallop forward to a boundary over the limit (the window is one).
            let (mut lo, mut lo_count, mut step) = (guess, first, 1);
            loop {
                let next = (lo + step).min(over);
                let count = count_at(next);
                if count > limit {
                    break (lo, lo_count, next);
                }
                (lo, lo_count, step) = (next, count, step * 2);
            }
        } else {
            // Gallop back to a boundary that fits.
            let (mut hi, mut step) = (guess, 1);
            loop {
                if hi == 0 {
                    return (0, first);
                }
                let next = hi.saturating_sub(step);
                let count = count_at(next);
                if count <= limit {
                    break (next, count, hi);
                }
                if next == 0 {
                    return (0, count);
                }
                (hi, step) = (next, step * 2);
            }
        };
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let count = count_at(mid);
            if count <= limit {
                (lo, lo_count) = (mid, count);
            } else {
                hi = mid;
            }
        }
        (ends[lo], lo_count)
    }

    /// The cut when nothing of the text can be kept: the empty prefix and its count.
    fn cut_empty(&self) -> (usize, usize) {
        (0, self.try_count("").unwrap_or(0))
    }

    /// The number of token ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.vocabulary.len()
    }

    /// Whether `id` is a token of the vocabulary, added tokens included.
    pub fn is_token_id(&self, id: u32) -> bool {
        self.vocabulary.contains(id)
    }
}

impl FromStr for HfTokenizer {
    type Err = HfError;

    /// Loads a `tokenizer.json` from its text, as [`HfTokenizer::from_bytes`].
    fn from_str(json: &str) -> Result<HfTokenizer, HfError> {
        HfTokenizer::from_bytes(json.as_bytes())
    }
}

/// The policy's seam: a profile counts, cuts and checks ids through this.
impl Tokenizer for HfTokenizer {
    fn name(&self) -> &str {
        HfTokenizer::name(self)
    }

    fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
        HfTokenizer::count_up_to(self, text, limit)
    }

    fn vocabulary(&self) -> Vocabulary {
        self.vocabulary.clone()
    }

    fn count(&self, text: &str) -> usize {
        HfTokenizer::count(self, text)
    }

    /// At token boundaries ([`HfTokenizer::cut`]); when not even the empty text fits (a
    /// limit below the special tokens added to every input), the count says so: it is
    /// the empty text's, above `limit`.
    fn cut(&self, text: &str, limit: usize) -> (usize, usize) {
        HfTokenizer::cut(self, text, limit)
    }
}

impl fmt::Debug for HfTokenizer {
    // The vocabulary is far too long to print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("name", &self.name)
            .field("vocab_size", &self.vocabulary.len())
            .field("add_special_tokens", &self.add_special_tokens)
            .finish_non_exhaustive()
    }
}

/// Shared across a gateway's threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<HfTokenizer>();
};

/// Runs a call into `tokenizers`, turning its error or its panic into an [`HfError`].
///
/// `catch_unwind` is the last resort at this boundary: `tokenizers` has `unwrap`s and
/// indexing on paths that depend on the text, and one hostile input must not take a
/// gateway down. Unwinding is safe here: the only state a call can leave behind is
/// `tokenizers`' word cache, which is filled after a word is encoded and read with
/// `try_read` (a poisoned lock only turns the cache off).
fn guard<T>(call: impl FnOnce() -> tokenizers::Result<T>) -> Result<T, HfError> {
    match catch_unwind(AssertUnwindSafe(call)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(HfError::Encode {
            message: err.to_string(),
        }),
        Err(_) => Err(HfError::Panicked),
    }
}

/// Whether `of(left + right)` is `of(left)` followed by `of(right)`.
fn splits_alike<T: PartialEq>(
    left: &str,
    right: &str,
    of: impl Fn(&str) -> Result<Vec<T>, HfError>,
) -> bool {
    match (of(&format!("{left}{right}")), of(left), of(right)) {
        (Ok(whole), Ok(mut halves), Ok(second)) => {
            halves.extend(second);
            whole == halves
        }
        _ => false,
    }
}

/// The token boundaries of a window's encoding, for [`HfTokenizer::cut`].
struct Bounds {
    /// Increasing byte offsets on character boundaries: 0, the ends of the tokens (those of
    /// the last word, and those ending past `trusted`, only when the window is the whole
    /// text), then the window's length.
    ends: Vec<usize>,
    /// A first guess: the last boundary at which the encoding has at most `limit` tokens.
    guess: usize,
    /// The tokens up to the last boundary before the window's length, added ones included.
    complete: usize,
}

impl Bounds {
    fn new(
        encoding: &Encoding,
        window: usize,
        trusted: usize,
        whole: bool,
        limit: usize,
    ) -> Bounds {
        let sequences = encoding.get_sequence_ids();
        let words = encoding.get_word_ids();
        // Tokens the post-processor added have no sequence; they count at every cut.
        let added = sequences.iter().filter(|s| s.is_none()).count();
        let text_words = || words.iter().zip(&sequences).filter(|(_, s)| s.is_some());
        let last_word = if whole {
            None
        } else {
            text_words().filter_map(|(w, _)| *w).max()
        };
        let mut bounds = Bounds {
            ends: vec![0],
            guess: 0,
            complete: added,
        };
        let tokens = encoding.get_offsets().iter().zip(words).zip(&sequences);
        for ((offsets, word), sequence) in tokens {
            if sequence.is_none()
                || (last_word.is_some() && *word == last_word)
                || offsets.1 > trusted
            {
                continue;
            }
            bounds.complete += 1;
            let end = offsets.1.min(window);
            // Tokens sharing an end (pieces of one character) are one boundary.
            if end > *bounds.ends.last().unwrap_or(&0) && end < window {
                bounds.ends.push(end);
            }
            if bounds.complete <= limit {
                bounds.guess = bounds.ends.len() - 1;
            }
        }
        bounds.ends.push(window);
        bounds
    }
}

/// The largest character boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The ids of a vocabulary: all of `0..n` for the longest such run, then the others (ids
/// past a gap). Built once, added tokens included.
fn vocabulary(mut ids: Vec<u32>) -> Vocabulary {
    ids.sort_unstable();
    ids.dedup();
    let dense = ids
        .iter()
        .zip(0u32..)
        .take_while(|&(&id, i)| id == i)
        .count();
    // `dense` ids are exactly 0..dense, so it fits in a u32.
    let below = u32::try_from(dense).unwrap_or(u32::MAX);
    Vocabulary::below(below).with_ids(ids.split_off(dense))
}
