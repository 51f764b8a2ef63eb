//! Models, limits, and the request check that applies the contract's rules in order.

use std::borrow::Cow;

use crate::error::{ErrorKind, JsonKind, RequestError, echo};
use crate::request::{self, EncodingFormat, Input, InputForm, InputValue, ParseLimits, Value};
use crate::response::Usage;
use crate::tokenizer::cl100k;

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

/// A cl100k token is never longer than this many bytes, so a text longer than
/// `limit * MAX_TOKEN_BYTES` is over `limit` tokens without counting it.
const MAX_TOKEN_BYTES: usize = 128;

/// The limits a [`Policy`] enforces. Every one is configurable.
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

/// An embedding model a policy accepts. All models use cl100k_base.
///
/// ```
/// use embedguard::Model;
/// let model = Model::new("my-embedder", 1024).with_dimensions(true).with_alias("embedder");
/// assert!(model.answers_to("embedder"));
/// assert_eq!(model.native_dimensions(), 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    name: String,
    aliases: Vec<String>,
    native_dimensions: usize,
    dimensions_allowed: bool,
}

impl Model {
    /// A model with this name and native vector size, without `dimensions` support.
    pub fn new(name: impl Into<String>, native_dimensions: usize) -> Model {
        Model {
            name: name.into(),
            aliases: Vec::new(),
            native_dimensions,
            dimensions_allowed: false,
        }
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

    /// The model's own name.
    pub fn name(&self) -> &str {
        &self.name
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
}

/// What a gateway accepts: models, limits, and members let through. The entry point.
///
/// ```
/// let policy = embedguard::Policy::openai();
/// let checked = policy.check(br#"{"model":"text-embedding-3-small","input":["hello world","h"]}"#)?;
/// assert_eq!(checked.token_counts(), &[2, 1]);
/// assert_eq!(checked.usage().total_tokens, 3);
/// # Ok::<(), embedguard::RequestError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Policy {
    models: Vec<Model>,
    limits: Limits,
    allowed_members: Vec<String>,
    over_limit: OverLimit,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::openai()
    }
}

impl Policy {
    /// OpenAI's three embedding models and OpenAI's limits.
    pub fn openai() -> Policy {
        Policy {
            models: vec![
                Model::new("text-embedding-3-small", 1536).with_dimensions(true),
                Model::new("text-embedding-3-large", 3072).with_dimensions(true),
                Model::new("text-embedding-ada-002", 1536),
            ],
            limits: Limits::openai(),
            allowed_members: Vec::new(),
            over_limit: OverLimit::Reject,
        }
    }

    /// A policy with no models yet and OpenAI's limits.
    pub fn empty() -> Policy {
        Policy {
            models: Vec::new(),
            limits: Limits::openai(),
            allowed_members: Vec::new(),
            over_limit: OverLimit::Reject,
        }
    }

    /// Adds a model, replacing any model of the same name.
    pub fn with_model(mut self, model: Model) -> Policy {
        self.models.retain(|m| m.name != model.name);
        self.models.push(model);
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Policy {
        self.limits = limits;
        self
    }

    /// Lets a member OpenAI does not define through instead of rejecting it; its value
    /// is kept as written (see [`Checked::extra_members`]).
    pub fn allow_member(mut self, name: impl Into<String>) -> Policy {
        self.allowed_members.push(name.into());
        self
    }

    /// Says what to do with an input over the per-input token limit: reject the
    /// request (the default, as OpenAI does) or cut the input.
    ///
    /// ```
    /// use embedguard::{Limits, OverLimit, Policy};
    /// let policy = Policy::openai()
    ///     .with_limits(Limits::openai().with_max_input_tokens(2))
    ///     .with_over_limit(OverLimit::Truncate);
    /// let checked = policy.check(br#"{"model":"text-embedding-3-small","input":["hello big world","hi"]}"#)?;
    /// assert_eq!(checked.token_counts(), &[2, 1]);
    /// assert_eq!(checked.truncated(), &[0]);
    /// assert_eq!(checked.inputs()[0], embedguard::Input::Text("hello big".into()));
    /// # Ok::<(), embedguard::RequestError>(())
    /// ```
    pub fn with_over_limit(mut self, over_limit: OverLimit) -> Policy {
        self.over_limit = over_limit;
        self
    }

    /// The limits enforced.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The model answering to `name`, if any.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.answers_to(name))
    }

    /// Checks a request body against the contract; on success, every input's token count.
    ///
    /// Rules apply in the contract's order and the first that fails answers. Never
    /// panics; time is linear in the body; memory is a small multiple of it.
    pub fn check<'a>(&self, body: &'a [u8]) -> Result<Checked<'a>, RequestError> {
        Ok(self.check_kind(body)?)
    }

    fn check_kind<'a>(&self, body: &'a [u8]) -> Result<Checked<'a>, ErrorKind> {
        let limits = &self.limits;
        if body.len() > limits.max_body_bytes {
            return Err(ErrorKind::BodyTooLarge {
                len: body.len(),
                limit: limits.max_body_bytes,
            });
        }
        let raw = request::parse(
            body,
            &ParseLimits {
                max_depth: limits.max_depth,
                max_inputs: limits.max_inputs,
                max_input_tokens: limits.max_input_tokens,
                allowed_members: &self.allowed_members,
            },
        )?;
        let model_name = match raw.model {
            None | Some(Value::Null) => return Err(ErrorKind::MissingModel),
            Some(Value::Other(kind, _)) => return Err(ErrorKind::ModelNotString { kind }),
            Some(Value::Str(name)) => name,
        };
        let input = match raw.input {
            None | Some(InputValue::Null) => return Err(ErrorKind::MissingInput),
            Some(input) => input,
        };
        let encoding_format = match raw.encoding_format {
            None | Some(Value::Null) => EncodingFormat::Float,
            Some(Value::Str(s)) if s == "float" => EncodingFormat::Float,
            Some(Value::Str(s)) if s == "base64" => EncodingFormat::Base64,
            Some(Value::Str(s)) => {
                return Err(ErrorKind::InvalidEncodingFormat { value: echo(&s) });
            }
            Some(Value::Other(_, text)) => {
                return Err(ErrorKind::InvalidEncodingFormat { value: echo(text) });
            }
        };
        let user = match raw.user {
            None | Some(Value::Null) => None,
            Some(Value::Str(user)) => Some(user),
            Some(Value::Other(kind, _)) => return Err(ErrorKind::UserNotString { kind }),
        };
        let dimensions_given = raw.dimensions.is_some();
        let dimensions = match raw.dimensions {
            None | Some(Value::Null) => None,
            Some(Value::Other(JsonKind::Integer, text)) => {
                if text.starts_with('-') || text == "0" {
                    return Err(ErrorKind::DimensionsBelowMin { value: echo(text) });
                }
                Some(text)
            }
            Some(Value::Str(_)) => {
                return Err(ErrorKind::DimensionsNotInteger {
                    kind: JsonKind::String,
                });
            }
            Some(Value::Other(kind, _)) => return Err(ErrorKind::DimensionsNotInteger { kind }),
        };
        let (form, inputs) = match input {
            InputValue::Invalid(shape) => return Err(ErrorKind::InvalidInput(shape)),
            InputValue::Valid(form, inputs) => (form, inputs),
            InputValue::Null => unreachable!("null input is rejected above"),
        };
        let model = self
            .model(&model_name)
            .ok_or_else(|| ErrorKind::ModelNotFound {
                model: echo(&model_name),
            })?;
        if dimensions_given && !model.dimensions_allowed {
            return Err(ErrorKind::DimensionsNotSupported);
        }
        let dimensions = match dimensions {
            None => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n <= model.native_dimensions => Some(n),
                _ => {
                    return Err(ErrorKind::DimensionsAboveMax {
                        value: echo(text),
                        max: model.native_dimensions,
                    });
                }
            },
        };
        let mut inputs = inputs;
        let (token_counts, truncated) = count_inputs(&mut inputs, limits, self.over_limit)?;
        Ok(Checked {
            model: model_name,
            model_spec: model.clone(),
            encoding_format,
            dimensions,
            user,
            form,
            usage: Usage::from_counts(&token_counts),
            inputs,
            token_counts,
            extra: raw
                .extra
                .into_iter()
                .map(|(name, value)| (name, Cow::Borrowed(value)))
                .collect(),
            truncated,
        })
    }
}

/// What a policy does with an input over the per-input token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverLimit {
    /// Reject the request, as OpenAI does (the default).
    #[default]
    Reject,
    /// Cut the input to the limit at a token boundary (never inside a character) and
    /// count usage on what remains; [`Checked::truncated`] tells which inputs were cut.
    Truncate,
}

/// Counts every input in order, each only up to the per-input limit, then checks the
/// sum. Inputs over the limit are rejected or cut, as the policy says; returns the
/// counts and the positions of the inputs that were cut.
fn count_inputs(
    inputs: &mut [Input<'_>],
    limits: &Limits,
    over_limit: OverLimit,
) -> Result<(Vec<usize>, Vec<usize>), ErrorKind> {
    let limit = limits.max_input_tokens;
    let mut counts = Vec::with_capacity(inputs.len());
    let mut truncated = Vec::new();
    for (index, input) in inputs.iter_mut().enumerate() {
        let count = match input {
            Input::Tokens(ids) if ids.len() <= limit => Some(ids.len()),
            Input::Text(text) if text.len() <= limit.saturating_mul(MAX_TOKEN_BYTES) => {
                cl100k().count_up_to(text, limit)
            }
            _ => None,
        };
        let count = match (count, over_limit) {
            (Some(count), _) => count,
            (None, OverLimit::Reject) => {
                let tokens_at_least = match input {
                    Input::Tokens(ids) => ids.len(),
                    Input::Text(text) => (limit + 1).max(text.len().div_ceil(MAX_TOKEN_BYTES)),
                };
                return Err(ErrorKind::InputTooLong {
                    index,
                    tokens_at_least,
                    limit,
                });
            }
            (None, OverLimit::Truncate) => match truncate(input, limit) {
                // Not even one character fits (a tiny limit): nothing could be sent.
                0 => {
                    return Err(ErrorKind::InputTooLong {
                        index,
                        tokens_at_least: limit + 1,
                        limit,
                    });
                }
                count => {
                    truncated.push(index);
                    count
                }
            },
        };
        counts.push(count);
    }
    let tokens: usize = counts.iter().sum();
    if tokens > limits.max_request_tokens {
        return Err(ErrorKind::TooManyTokens {
            tokens,
            limit: limits.max_request_tokens,
        });
    }
    Ok((counts, truncated))
}

/// Cuts an input over `limit` tokens to at most `limit` tokens; returns its new count.
fn truncate(input: &mut Input<'_>, limit: usize) -> usize {
    match input {
        Input::Tokens(ids) => {
            ids.truncate(limit);
            ids.len()
        }
        Input::Text(text) => {
            let (cut, count) = text_cut(text, limit);
            match text {
                Cow::Borrowed(s) => *s = &s[..cut],
                Cow::Owned(s) => s.truncate(cut),
            }
            count
        }
    }
}

/// The longest prefix of `text` ending at a token boundary and on a character
/// boundary that has at most `limit` tokens: its length in bytes and its count.
fn text_cut(text: &str, limit: usize) -> (usize, usize) {
    let cl100k = cl100k();
    // The first `limit` tokens lie within `limit * 128` bytes; a little more lets the
    // tokenizer see what follows the last of them. The window starts at 8 bytes a token
    // and doubles until it holds more than `limit` tokens, so dense text is not encoded
    // far past the cut: time and memory follow what is kept, not the worst case.
    let most = floor_char_boundary(text, (limit + 1).saturating_mul(MAX_TOKEN_BYTES));
    let mut window = floor_char_boundary(text, (limit + 1).saturating_mul(8).min(most));
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
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A request that passed every check, with its inputs and their exact token counts.
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    model: Cow<'a, str>,
    model_spec: Model,
    encoding_format: EncodingFormat,
    dimensions: Option<usize>,
    user: Option<Cow<'a, str>>,
    form: InputForm,
    inputs: Vec<Input<'a>>,
    token_counts: Vec<usize>,
    usage: Usage,
    extra: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    truncated: Vec<usize>,
}

impl<'a> Checked<'a> {
    /// The model as the client named it (possibly an alias).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The policy's model it resolved to.
    pub fn model_spec(&self) -> &Model {
        &self.model_spec
    }

    /// How the client wants its vectors.
    pub fn encoding_format(&self) -> EncodingFormat {
        self.encoding_format
    }

    /// The vector size asked for, if any.
    pub fn dimensions(&self) -> Option<usize> {
        self.dimensions
    }

    /// The `user` member, if given.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Which form `input` was written in.
    pub fn input_form(&self) -> InputForm {
        self.form
    }

    /// The inputs, in order.
    pub fn inputs(&self) -> &[Input<'a>] {
        &self.inputs
    }

    /// Each input's exact cl100k_base token count, in order.
    pub fn token_counts(&self) -> &[usize] {
        &self.token_counts
    }

    /// The request's usage: the sum of the counts.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Positions of the inputs cut to the per-input limit ([`OverLimit::Truncate`]);
    /// empty when the policy rejects instead.
    pub fn truncated(&self) -> &[usize] {
        &self.truncated
    }

    /// Members the policy let through ([`Policy::allow_member`]), with values as written.
    pub fn extra_members(&self) -> &[(Cow<'a, str>, Cow<'a, str>)] {
        &self.extra
    }

    /// The same check, owning everything it borrowed from the body: `Send + Sync +
    /// 'static`, so it can leave a `spawn_blocking` closure, cross `.await` points and
    /// be handed to another task while the body's buffer is dropped.
    ///
    /// ```
    /// let checked: embedguard::Checked<'static> = {
    ///     let body = br#"{"model":"text-embedding-3-small","input":"hello world"}"#.to_vec();
    ///     embedguard::Policy::openai().check(&body)?.into_owned()
    /// }; // the body is gone; the check lives on
    /// let handle = std::thread::spawn(move || checked.usage().total_tokens);
    /// assert_eq!(handle.join().unwrap(), 2);
    /// # Ok::<(), embedguard::RequestError>(())
    /// ```
    pub fn into_owned(self) -> Checked<'static> {
        let own = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        Checked {
            model: own(self.model),
            model_spec: self.model_spec,
            encoding_format: self.encoding_format,
            dimensions: self.dimensions,
            user: self.user.map(own),
            form: self.form,
            inputs: self.inputs.into_iter().map(Input::into_owned).collect(),
            token_counts: self.token_counts,
            usage: self.usage,
            extra: self
                .extra
                .into_iter()
                .map(|(name, value)| (own(name), own(value)))
                .collect(),
            truncated: self.truncated,
        }
    }
}
