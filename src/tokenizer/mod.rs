//! The cl100k_base tokenizer: the only module that knows how text becomes tokens.

/// cl100k_base, the tokenizer of OpenAI's embedding models.
///
/// Counts exactly as OpenAI's tiktoken `encode_ordinary` does: special-token text such as
/// `<|endoftext|>` is ordinary text.
///
/// ```
/// let cl100k = embedguard::cl100k();
/// assert_eq!(cl100k.count("This is an embedding test."), 6);
/// assert_eq!(cl100k.count("<|endoftext|>"), 7);
/// ```
#[derive(Debug)]
pub struct Cl100k {
    _private: (),
}

static CL100K: Cl100k = Cl100k { _private: () };

/// The cl100k_base tokenizer.
pub fn cl100k() -> &'static Cl100k {
    &CL100K
}

/// Highest ordinary token id; 100256 does not exist.
const LAST_ORDINARY_ID: u32 = 100_255;
/// The special ids: `<|endoftext|>`, `<|fim_prefix|>`, `<|fim_middle|>`, `<|fim_suffix|>`, `<|endofprompt|>`.
const SPECIAL_IDS: [u32; 5] = [100_257, 100_258, 100_259, 100_260, 100_276];

impl Cl100k {
    /// The number of tokens in `text`.
    pub fn count(&self, text: &str) -> usize {
        bpe_openai::cl100k_base().count(text)
    }

    /// The number of tokens in `text` if it is at most `limit`, else `None`.
    ///
    /// Stops as soon as the count passes `limit`, so a long text over the limit costs
    /// little more than its first `limit` tokens.
    pub fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
        let n = self.count(text);
        (n <= limit).then_some(n)
    }

    /// The token ids of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        bpe_openai::cl100k_base().encode(text)
    }

    /// Whether `id` exists in cl100k_base (ordinary or special).
    pub fn is_token_id(&self, id: u32) -> bool {
        id <= LAST_ORDINARY_ID || SPECIAL_IDS.contains(&id)
    }
}
