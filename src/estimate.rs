//! The estimate: a tokenizer for models whose tokenizer is not published.

use crate::tokens::{Tokenizer, Vocabulary, floor_char_boundary};

/// Counts for a model whose tokenizer is not published (Gemini embedding, Amazon
/// Titan...): an estimate, reported as one ([`Tokenizer::exact`] is `false`).
///
/// The estimator: **the text's UTF-8 length in bytes divided by 4, rounded up**
/// ([`Estimate::with_bytes_per_token`] changes the 4). It needs no table, costs nothing
/// (the length is known), and follows the published rules of thumb across scripts: about
/// 4 characters a token in English, 2 in Cyrillic or Greek (2 bytes a character), 1.3 in
/// Chinese or Japanese (3 bytes a character). Its ids mean nothing, so its vocabulary is
/// empty: token arrays are rule 13.
///
/// ```
/// use embedguard::{Estimate, Tokenizer};
/// let estimate = Estimate::new();
/// assert_eq!(estimate.count("hello world"), 3); // 11 bytes
/// assert_eq!(estimate.count("日本語"), 3); // 9 bytes
/// assert_eq!(estimate.count_up_to("hello world", 2), None);
/// assert_eq!(estimate.cut("hello world", 2), (8, 2));
/// assert!(!estimate.exact());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimate {
    bytes_per_token: usize,
}

impl Default for Estimate {
    fn default() -> Self {
        Estimate::new()
    }
}

impl Estimate {
    /// 4 bytes a token.
    pub const fn new() -> Estimate {
        Estimate { bytes_per_token: 4 }
    }

    /// `n` bytes a token (0 counts as 1).
    pub const fn with_bytes_per_token(n: usize) -> Estimate {
        Estimate {
            bytes_per_token: if n == 0 { 1 } else { n },
        }
    }

    /// The bytes a token.
    pub const fn bytes_per_token(&self) -> usize {
        self.bytes_per_token
    }
}

impl Tokenizer for Estimate {
    fn name(&self) -> &str {
        "estimate"
    }

    fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
        let n = text.len().div_ceil(self.bytes_per_token);
        (n <= limit).then_some(n)
    }

    fn count(&self, text: &str) -> usize {
        text.len().div_ceil(self.bytes_per_token)
    }

    fn vocabulary(&self) -> Vocabulary {
        Vocabulary::empty()
    }

    fn cut(&self, text: &str, limit: usize) -> (usize, usize) {
        let end = floor_char_boundary(text, limit.saturating_mul(self.bytes_per_token));
        (end, end.div_ceil(self.bytes_per_token))
    }

    fn exact(&self) -> bool {
        false
    }
}
