//! Model profiles: what each model is (names, vectors, tokenizer) and the limits it holds
//! a request to, with the policy-wide defaults ([`Limits`]) they fall back on.

use std::sync::{Arc, OnceLock};

use crate::tokens::Tokenizer;

/// Default inputs per request: OpenAI's cap on the array form of `input`.
pub const MAX_INPUTS: usize = 2048;
/// Default tokens per input: the embedding models' context length.
pub const MAX_INPUT_TOKENS: usize = 8192;
/// Default tokens per request, summed over inputs: OpenAI's per-request cap.
pub const MAX_REQUEST_TOKENS: usize = 300_000;
/// Default body size *(ours)*: comfortably above the largest valid request
/// (2048 inputs of token ids), far below what would hurt a gateway.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Default JSON nesting depth, anywhere in the body (serde_json's default too).
pub const MAX_DEPTH: usize = 128;

/// The limits a [`Policy`](crate::Policy) enforces. Every one is configurable.
///
/// The body size and the nesting depth are the policy's own. The other three are the
/// defaults of every model that does not set its own ([`Model::with_max_inputs`] and the
/// like). A cap of 0 means 0 (nothing passes); `usize::MAX` means no limit.
///
/// ```
/// use embedguard::Limits;
/// let limits = Limits::openai().with_max_inputs(96).with_max_request_tokens(20_000);
/// assert_eq!(limits.max_inputs(), 96);
/// assert_eq!(limits.max_input_tokens(), 8192);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_inputs: usize,
    max_input_tokens: usize,
    max_request_tokens: usize,
    max_body_bytes: usize,
    max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits::openai()
    }
}

impl Limits {
    /// OpenAI's limits: 2048 inputs, 8192 tokens per input, 300,000 per request,
    /// and ours for the body (64 MiB) and JSON nesting (128).
    pub const fn openai() -> Limits {
        Limits {
            max_inputs: MAX_INPUTS,
            max_input_tokens: MAX_INPUT_TOKENS,
            max_request_tokens: MAX_REQUEST_TOKENS,
            max_body_bytes: MAX_BODY_BYTES,
            max_depth: MAX_DEPTH,
        }
    }

    /// Sets the most inputs a request may have (array forms).
    pub const fn with_max_inputs(mut self, n: usize) -> Limits {
        self.max_inputs = n;
        self
    }

    /// Sets the most tokens one input may have.
    pub const fn with_max_input_tokens(mut self, n: usize) -> Limits {
        self.max_input_tokens = n;
        self
    }

    /// Sets the most tokens a request may have, summed over its inputs.
    pub const fn with_max_request_tokens(mut self, n: usize) -> Limits {
        self.max_request_tokens = n;
        self
    }

    /// Sets the largest body, in bytes.
    pub const fn with_max_body_bytes(mut self, n: usize) -> Limits {
        self.max_body_bytes = n;
        self
    }

    /// Sets the deepest JSON nesting allowed anywhere in the body (the top object is 1).
    pub const fn with_max_depth(mut self, n: usize) -> Limits {
        self.max_depth = n;
        self
    }

    /// The most inputs a request may have.
    pub const fn max_inputs(&self) -> usize {
        self.max_inputs
    }

    /// The most tokens one input may have.
    pub const fn max_input_tokens(&self) -> usize {
        self.max_input_tokens
    }

    /// The most tokens a request may have.
    pub const fn max_request_tokens(&self) -> usize {
        self.max_request_tokens
    }

    /// The largest body, in bytes.
    pub const fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The deepest JSON nesting allowed.
    pub const fn max_depth(&self) -> usize {
        self.max_depth
    }
}

/// What a text may hold per token for a tokenizer with no proven bound *(ours)*: a
/// text longer than `limit * 32` bytes is over the limit without counting it.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 32;

/// An embedding model a policy accepts: a *profile*. Its names, its vectors, its own
/// tokenizer and its own limits; every count and every limit of a request is in the
/// tokens of the model it names.
///
/// A new model counts with cl100k_base and takes the policy's [`Limits`] until told
/// otherwise. OpenAI's three models are profiles like any other ([`Model::openai`]).
///
/// ```
/// use std::sync::Arc;
/// use embedguard::{Estimate, Model};
/// let model = Model::new("gemini-embedding-001", 3072)
///     .with_dimensions(true)
///     .with_alias("gemini-embedding")
///     .with_tokenizer(Arc::new(Estimate::new()))
///     .with_max_input_tokens(2048)
///     .with_max_inputs(100);
/// assert!(model.answers_to("gemini-embedding"));
/// assert_eq!(model.native_dimensions(), 3072);
/// assert_eq!(model.max_input_tokens(), Some(2048));
/// assert!(!model.exact());
/// ```
#[derive(Debug, Clone)]
pub struct Model {
    name: String,
    aliases: Vec<String>,
    native_dimensions: usize,
    dimensions_allowed: bool,
    tokenizer: Arc<dyn Tokenizer>,
    token_arrays: bool,
    max_inputs: Option<usize>,
    max_input_tokens: Option<usize>,
    max_request_tokens: Option<usize>,
    max_input_bytes: Option<usize>,
}

impl Model {
    /// A model with this name and native vector size, without `dimensions` support,
    /// counted with cl100k_base, accepting token arrays, held to the policy's limits.
    pub fn new(name: impl Into<String>, native_dimensions: usize) -> Model {
        Model {
            name: name.into(),
            aliases: Vec::new(),
            native_dimensions,
            dimensions_allowed: false,
            tokenizer: cl100k_base(),
            token_arrays: true,
            max_inputs: None,
            max_input_tokens: None,
            max_request_tokens: None,
            max_input_bytes: None,
        }
    }

    /// OpenAI's three embedding models: `text-embedding-3-small` (1536, `dimensions`
    /// allowed), `text-embedding-3-large` (3072, allowed), `text-embedding-ada-002` (1536,
    /// not allowed), all cl100k_base.
    pub fn openai() -> Vec<Model> {
        vec![
            Model::new("text-embedding-3-small", 1536).with_dimensions(true),
            Model::new("text-embedding-3-large", 3072).with_dimensions(true),
            Model::new("text-embedding-ada-002", 1536),
        ]
    }

    /// Says whether requests may ask for shorter vectors with `dimensions`.
    pub fn with_dimensions(mut self, allowed: bool) -> Model {
        self.dimensions_allowed = allowed;
        self
    }

    /// Adds another name clients may use for this model.
    pub fn with_alias(mut self, alias: impl Into<String>) -> Model {
        self.aliases.push(alias.into());
        self
    }

    /// Counts this model's inputs with `tokenizer` (shared: one tokenizer can serve
    /// several models).
    pub fn with_tokenizer(mut self, tokenizer: Arc<dyn Tokenizer>) -> Model {
        self.tokenizer = tokenizer;
        self
    }

    /// Says whether token-array inputs are accepted (they are by default; refused, they
    /// are rule 13). A tokenizer with an empty vocabulary (an estimate) refuses every id.
    pub fn with_token_arrays(mut self, accepted: bool) -> Model {
        self.token_arrays = accepted;
        self
    }

    /// Sets the most inputs a request to this model may have (rule 13 above it).
    pub fn with_max_inputs(mut self, n: usize) -> Model {
        self.max_inputs = Some(n);
        self
    }

    /// Sets the most tokens one input may have: the model's context (rule 17 above it).
    pub fn with_max_input_tokens(mut self, n: usize) -> Model {
        self.max_input_tokens = Some(n);
        self
    }

    /// Sets the most tokens a request may have, summed over its inputs (rule 18).
    pub fn with_max_request_tokens(mut self, n: usize) -> Model {
        self.max_request_tokens = Some(n);
        self
    }

    /// Sets the longest text, in bytes, that is counted at all: longer is over the
    /// per-input limit without counting (rule 17). The default is the per-input limit
    /// times the tokenizer's [`max_token_bytes`](Tokenizer::max_token_bytes) (128 for
    /// cl100k_base, a proof), else times [`DEFAULT_MAX_TOKEN_BYTES`] *(ours)*.
    pub fn with_max_input_bytes(mut self, n: usize) -> Model {
        self.max_input_bytes = Some(n);
        self
    }

    /// The model's own name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The other names it answers to.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// The size of the vectors it returns when `dimensions` is absent.
    pub fn native_dimensions(&self) -> usize {
        self.native_dimensions
    }

    /// Whether `dimensions` is accepted.
    pub fn dimensions_allowed(&self) -> bool {
        self.dimensions_allowed
    }

    /// Whether `name` is this model's name or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.iter().any(|a| a == name)
    }

    /// The tokenizer its counts come from.
    pub fn tokenizer(&self) -> &Arc<dyn Tokenizer> {
        &self.tokenizer
    }

    /// Whether its counts are exact (`false`: its tokenizer estimates).
    pub fn exact(&self) -> bool {
        self.tokenizer.exact()
    }

    /// Whether token-array inputs are accepted.
    pub fn token_arrays(&self) -> bool {
        self.token_arrays
    }

    /// Its own inputs cap, if set (else the policy's).
    pub fn max_inputs(&self) -> Option<usize> {
        self.max_inputs
    }

    /// Its own tokens-per-input cap, if set (else the policy's).
    pub fn max_input_tokens(&self) -> Option<usize> {
        self.max_input_tokens
    }

    /// Its own tokens-per-request cap, if set (else the policy's).
    pub fn max_request_tokens(&self) -> Option<usize> {
        self.max_request_tokens
    }

    /// Its own bytes-per-input cap, if set (else derived from the per-input limit).
    pub fn max_input_bytes(&self) -> Option<usize> {
        self.max_input_bytes
    }

    /// The limits this model holds requests to, its own where set, else `defaults`.
    pub fn limits(&self, defaults: &Limits) -> ModelLimits {
        let max_input_tokens = self.max_input_tokens.unwrap_or(defaults.max_input_tokens());
        let per_token = self
            .tokenizer
            .max_token_bytes()
            .unwrap_or(DEFAULT_MAX_TOKEN_BYTES);
        ModelLimits {
            max_inputs: self.max_inputs.unwrap_or(defaults.max_inputs()),
            max_input_tokens,
            max_request_tokens: self
                .max_request_tokens
                .unwrap_or(defaults.max_request_tokens()),
            max_input_bytes: self
                .max_input_bytes
                .unwrap_or(max_input_tokens.saturating_mul(per_token)),
        }
    }
}

/// Models are equal when everything is, their tokenizers being the same instance (every
/// model's default is the one shared cl100k_base).
impl PartialEq for Model {
    fn eq(&self, other: &Model) -> bool {
        self.name == other.name
            && self.aliases == other.aliases
            && self.native_dimensions == other.native_dimensions
            && self.dimensions_allowed == other.dimensions_allowed
            && std::ptr::addr_eq(Arc::as_ptr(&self.tokenizer), Arc::as_ptr(&other.tokenizer))
            && self.token_arrays == other.token_arrays
            && self.max_inputs == other.max_inputs
            && self.max_input_tokens == other.max_input_tokens
            && self.max_request_tokens == other.max_request_tokens
            && self.max_input_bytes == other.max_input_bytes
    }
}

impl Eq for Model {}

/// The limits one model holds a request to, resolved: the model's own where set, else
/// the policy's ([`Model::limits`]).
///
/// ```
/// use embedguard::{Limits, Model};
/// let limits = Model::new("m", 8).with_max_input_tokens(512).limits(&Limits::openai());
/// assert_eq!((limits.max_input_tokens, limits.max_inputs), (512, 2048));
/// assert_eq!(limits.max_input_bytes, 512 * 128); // cl100k_base's proof
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelLimits {
    /// Inputs per request (rule 13 above it).
    pub max_inputs: usize,
    /// Tokens per input (rule 17).
    pub max_input_tokens: usize,
    /// Tokens per request, summed (rule 18).
    pub max_request_tokens: usize,
    /// Bytes per input counted at all (rule 17 above it, without counting).
    pub max_input_bytes: usize,
}

/// cl100k_base as a shared [`Tokenizer`]: the default of every model (the same tables
/// as [`cl100k`](crate::cl100k), one instance for the whole process).
///
/// ```
/// let cl100k = embedguard::cl100k_base();
/// assert_eq!((cl100k.name(), cl100k.count("hello world")), ("cl100k_base", 2));
/// ```
pub fn cl100k_base() -> Arc<dyn Tokenizer> {
    static CL100K: OnceLock<Arc<dyn Tokenizer>> = OnceLock::new();
    CL100K
        .get_or_init(|| Arc::new(crate::tokens::Cl100kBase))
        .clone()
}
