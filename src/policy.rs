//! The policy: which models a gateway serves and the request check that applies the
//! contract's rules in order, each count in the tokens of the model the request names.

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::{ErrorKind, InputShape, JsonKind, RequestError, echo};
use crate::input::{Input, InputForm, InputLimits, InputValue, invalid_id};
use crate::json::Value;
use crate::profile::{Limits, Model, ModelLimits};
// The planner's defaults are OpenAI's per-request caps.
pub(crate) use crate::profile::{MAX_INPUTS, MAX_REQUEST_TOKENS};
use crate::request::{self, EncodingFormat, ParseLimits, RawRequest};
use crate::tokens::{Tokenizer, Vocabulary};
use crate::usage::Usage;

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
    profiles: Vec<Profile>,
    limits: Limits,
    allowed_members: Vec<String>,
    over_limit: OverLimit,
    /// What the parser holds every request to before the model is known: the largest of
    /// the models' caps, and the union of their vocabularies.
    parse_caps: ParseCaps,
}

/// A model with its limits resolved against the policy's.
#[derive(Debug, Clone)]
struct Profile {
    model: Arc<Model>,
    limits: ModelLimits,
    vocabulary: Vocabulary,
}

#[derive(Debug, Clone)]
struct ParseCaps {
    max_inputs: usize,
    max_input_tokens: usize,
    vocabulary: Vocabulary,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::openai()
    }
}

impl Policy {
    /// OpenAI's three embedding models ([`Model::openai`]) and OpenAI's limits.
    pub fn openai() -> Policy {
        Model::openai()
            .into_iter()
            .fold(Policy::empty(), Policy::with_model)
    }

    /// A policy with no models yet and OpenAI's limits.
    pub fn empty() -> Policy {
        let mut policy = Policy {
            profiles: Vec::new(),
            limits: Limits::openai(),
            allowed_members: Vec::new(),
            over_limit: OverLimit::Reject,
            parse_caps: ParseCaps {
                max_inputs: 0,
                max_input_tokens: 0,
                vocabulary: Vocabulary::empty(),
            },
        };
        policy.resolve();
        policy
    }

    /// A policy serving exactly these models, with OpenAI's limits as their defaults.
    pub fn with_models(models: impl IntoIterator<Item = Model>) -> Policy {
        models.into_iter().fold(Policy::empty(), Policy::with_model)
    }

    /// A policy serving the models of a models file (TOML; feature `models`), with
    /// OpenAI's limits as their defaults. Tokenizer paths are relative to the file.
    ///
    /// Each model is a `[[model]]` table:
    ///
    /// | field | required | meaning |
    /// |---|---|---|
    /// | `name` | yes | the model's name |
    /// | `aliases` | no | other names clients may use |
    /// | `dimensions` | yes | the native vector size |
    /// | `shorten` | no | whether `dimensions` is accepted (default `false`) |
    /// | `tokenizer` | no | `"cl100k_base"` (default), `"estimate"` ([`Estimate`](crate::Estimate)), or a `tokenizer.json` path (feature `hf`) |
    /// | `max_input_tokens` | no | tokens per input (default 8192) |
    /// | `max_inputs` | no | inputs per request (default 2048) |
    /// | `max_request_tokens` | no | tokens per request (default 300,000) |
    /// | `max_input_bytes` | no | bytes per input counted at all (default: see [`Model::with_max_input_bytes`]) |
    /// | `token_arrays` | no | token-array inputs accepted (default: yes, except for an estimate, which cannot) |
    /// | `special_tokens` | no | for a `tokenizer.json`: whether the special tokens its post-processor adds are counted (default `true`) |
    ///
    /// Unknown fields are errors. The file lists every model served: OpenAI's are there
    /// only when written in it (`tokenizer = "cl100k_base"`, the default).
    ///
    /// # Errors
    ///
    /// The first problem, naming the line, the model and the field; nothing is loaded
    /// from a bad file.
    #[cfg(feature = "models")]
    pub fn from_models_file(
        path: impl AsRef<std::path::Path>,
    ) -> Result<Policy, crate::ModelsFileError> {
        crate::models_file::load(path.as_ref()).map(Policy::with_models)
    }

    /// [`Policy::from_models_file`] for text in hand; tokenizer paths are relative to
    /// `dir`, and errors name the file `<models>`.
    ///
    /// ```
    /// let policy = embedguard::Policy::from_models_toml(
    ///     r#"
    /// [[model]]
    /// name = "gemini-embedding-001"
    /// dimensions = 3072
    /// shorten = true
    /// tokenizer = "estimate"
    /// max_input_tokens = 2048
    /// max_inputs = 100
    /// "#,
    ///     std::path::Path::new("."),
    /// )?;
    /// let checked = policy.check(br#"{"model":"gemini-embedding-001","input":"hello world"}"#).unwrap();
    /// assert_eq!(checked.token_counts(), &[3]);
    /// assert!(!checked.exact());
    /// # Ok::<(), embedguard::ModelsFileError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Policy::from_models_file`].
    #[cfg(feature = "models")]
    pub fn from_models_toml(
        text: &str,
        dir: &std::path::Path,
    ) -> Result<Policy, crate::ModelsFileError> {
        crate::models_file::parse(text, "<models>", dir).map(Policy::with_models)
    }

    /// Adds a model, replacing any model of the same name.
    pub fn with_model(mut self, model: Model) -> Policy {
        self.profiles.retain(|p| p.model.name() != model.name());
        let vocabulary = model.tokenizer().vocabulary();
        self.profiles.push(Profile {
            limits: model.limits(&self.limits),
            model: Arc::new(model),
            vocabulary,
        });
        self.resolve();
        self
    }

    /// Replaces the limits: the policy's own (body, depth) and the defaults of every
    /// model that does not set its own.
    pub fn with_limits(mut self, limits: Limits) -> Policy {
        self.limits = limits;
        self.resolve();
        self
    }

    /// Resolves every model's limits against the policy's and the parser's caps.
    fn resolve(&mut self) {
        for profile in &mut self.profiles {
            profile.limits = profile.model.limits(&self.limits);
        }
        // The policy's own inputs limit stays in: a model that is not served is judged by it
        // (rule 13 before rule 14), never by another model's cap.
        let mut caps = ParseCaps {
            max_inputs: self.limits.max_inputs(),
            max_input_tokens: 0,
            vocabulary: Vocabulary::empty(),
        };
        for profile in &self.profiles {
            caps.max_inputs = caps.max_inputs.max(profile.limits.max_inputs);
            caps.max_input_tokens = caps.max_input_tokens.max(profile.limits.max_input_tokens);
            caps.vocabulary = caps.vocabulary.union(&profile.vocabulary);
        }
        if self.profiles.is_empty() {
            // No model: the request is rule 14 unless its shape fails first, judged as
            // for a model with the policy's limits and the default vocabulary.
            caps.max_inputs = self.limits.max_inputs();
            caps.max_input_tokens = self.limits.max_input_tokens();
            caps.vocabulary = crate::profile::cl100k_base().vocabulary();
        }
        self.parse_caps = caps;
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

    /// The limits: the policy's own and the models' defaults.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The model answering to `name`, if any.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.profile(name).map(|p| &*p.model)
    }

    /// The models, in the order they were added.
    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.profiles.iter().map(|p| &*p.model)
    }

    /// The limits the model answering to `name` holds requests to.
    pub fn model_limits(&self, name: &str) -> Option<ModelLimits> {
        self.profile(name).map(|p| p.limits)
    }

    fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.model.answers_to(name))
    }

    /// Checks a request body against the contract; on success, every input's token count
    /// in the tokens of the model it names.
    ///
    /// Rules apply in the contract's order and the first that fails answers. Never
    /// panics; time is linear in the body; memory is a small multiple of it.
    pub fn check<'a>(&self, body: &'a [u8]) -> Result<Checked<'a>, RequestError> {
        Ok(self.check_kind(body)?)
    }

    fn check_kind<'a>(&self, body: &'a [u8]) -> Result<Checked<'a>, ErrorKind> {
        let limits = &self.limits;
        if body.len() > limits.max_body_bytes() {
            return Err(ErrorKind::BodyTooLarge {
                len: body.len(),
                limit: limits.max_body_bytes(),
            });
        }
        let raw = request::parse(body, &self.parse_limits(&self.parse_caps.vocabulary))?;
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
        let (form, mut inputs) = match input {
            InputValue::Invalid(shape) => return Err(ErrorKind::InvalidInput(shape)),
            InputValue::Valid(form, inputs) => (form, inputs),
            // Rejected above; answered the same way rather than a panic.
            InputValue::Null => return Err(ErrorKind::MissingInput),
        };
        let Some(profile) = self.profile(&model_name) else {
            // Rule 13's "more than 2048 items" is the policy's limit; models' own caps apply
            // once the model is known, and this one is not.
            let limit = limits.max_inputs();
            if inputs.len() > limit {
                return Err(ErrorKind::InvalidInput(InputShape::TooManyInputs { limit }));
            }
            return Err(ErrorKind::ModelNotFound {
                model: echo(&model_name),
            });
        };
        let model = &*profile.model;
        // Rule 13 again, now that the model is known: its own inputs cap and vocabulary.
        self.check_shape(body, profile, form, &inputs)
            .map_err(ErrorKind::InvalidInput)?;
        if dimensions_given && !model.dimensions_allowed() {
            return Err(ErrorKind::DimensionsNotSupported);
        }
        let dimensions = match dimensions {
            None => None,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n <= model.native_dimensions() => Some(n),
                _ => {
                    return Err(ErrorKind::DimensionsAboveMax {
                        value: echo(text),
                        max: model.native_dimensions(),
                    });
                }
            },
        };
        let (token_counts, truncated) = count_inputs(
            &mut inputs,
            &**model.tokenizer(),
            &profile.limits,
            self.over_limit,
        )?;
        Ok(Checked {
            model: model_name,
            model_spec: profile.model.clone(),
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

    /// How the parser reads a body for this policy, checking ids against `vocabulary`.
    fn parse_limits<'p>(&'p self, vocabulary: &'p Vocabulary) -> ParseLimits<'p> {
        ParseLimits {
            max_depth: self.limits.max_depth(),
            input: InputLimits {
                max_inputs: self.parse_caps.max_inputs,
                max_input_tokens: self.parse_caps.max_input_tokens,
                vocabulary,
            },
            allowed_members: &self.allowed_members,
        }
    }

    /// The model's own rule-13 checks, after the parser's looser ones: more inputs than
    /// its cap, token arrays it refuses, ids outside its vocabulary.
    fn check_shape(
        &self,
        body: &[u8],
        profile: &Profile,
        form: InputForm,
        inputs: &[Input<'_>],
    ) -> Result<(), InputShape> {
        let limit = profile.limits.max_inputs;
        // A flat token array is one input: only a cap of 0 refuses it.
        if inputs.len() > limit {
            return Err(InputShape::TooManyInputs { limit });
        }
        if !form.is_tokens() {
            return Ok(());
        }
        if !profile.model.token_arrays() {
            return Err(InputShape::TokenArraysRefused);
        }
        if self.parse_caps.vocabulary.is_within(&profile.vocabulary) {
            return Ok(()); // the parser's check was this one
        }
        // The parser stores at most one id past the largest per-input limit, and checked
        // the ids after those against every model's ids at once: read the body again
        // against this model's own (rare: a token input longer than every model's limit,
        // in a policy whose models' vocabularies differ).
        let cut_short = |input: &Input<'_>| matches!(input, Input::Tokens(ids) if ids.len() > self.parse_caps.max_input_tokens);
        if inputs.iter().any(cut_short) {
            // The same body was read once already: only the ids' answer can differ.
            if let Ok(RawRequest {
                input: Some(InputValue::Invalid(shape)),
                ..
            }) = request::parse(body, &self.parse_limits(&profile.vocabulary))
            {
                return Err(shape);
            }
        }
        for (index, input) in inputs.iter().enumerate() {
            if let Input::Tokens(ids) = input {
                if let Some(position) = ids.iter().position(|&id| !profile.vocabulary.contains(id))
                {
                    return Err(invalid_id(index, position, &ids[position].to_string()));
                }
            }
        }
        Ok(())
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

/// Counts every input in order with the model's tokenizer, each only up to the
/// per-input limit and only when within the bytes cap, then checks the sum. Inputs over
/// the limit are rejected or cut, as the policy says; returns the counts and the
/// positions of the inputs that were cut.
fn count_inputs(
    inputs: &mut [Input<'_>],
    tokenizer: &dyn Tokenizer,
    limits: &ModelLimits,
    over_limit: OverLimit,
) -> Result<(Vec<usize>, Vec<usize>), ErrorKind> {
    let limit = limits.max_input_tokens;
    let max_bytes = limits.max_input_bytes;
    let mut counts = Vec::with_capacity(inputs.len());
    let mut truncated = Vec::new();
    for (index, input) in inputs.iter_mut().enumerate() {
        let count = match (&mut *input, over_limit) {
            (Input::Tokens(ids), _) if ids.len() <= limit => Some(ids.len()),
            (Input::Text(text), OverLimit::Reject) if text.len() <= max_bytes => {
                tokenizer.count_up_to(text, limit)
            }
            // One call counts or cuts: for cl100k_base one pass over the first `limit`
            // tokens, where counting and then cutting would make two.
            (Input::Text(text), OverLimit::Truncate) if text.len() <= max_bytes => {
                match tokenizer.count_or_cut(text, limit) {
                    Ok(count) => Some(count),
                    Err((cut, count)) if cut > 0 && count <= limit => {
                        keep_prefix(text, cut);
                        truncated.push(index);
                        Some(count)
                    }
                    // Nothing fits (a tokenizer may add more special tokens than the limit).
                    Err(_) => {
                        return Err(ErrorKind::InputTooLong {
                            index,
                            tokens_at_least: limit.saturating_add(1),
                            limit,
                        });
                    }
                }
            }
            _ => None,
        };
        let count = match (count, over_limit) {
            (Some(count), _) => count,
            (None, OverLimit::Reject) => {
                let tokens_at_least = match input {
                    Input::Tokens(ids) => ids.len(),
                    Input::Text(text) => {
                        let proven = tokenizer
                            .max_token_bytes()
                            .map_or(0, |bytes| text.len().div_ceil(bytes.max(1)));
                        limit.saturating_add(1).max(proven)
                    }
                };
                return Err(ErrorKind::InputTooLong {
                    index,
                    tokens_at_least,
                    limit,
                });
            }
            (None, OverLimit::Truncate) => match truncate(input, tokenizer, limits) {
                // Not even one character fits (a tiny limit): nothing could be sent.
                0 => {
                    return Err(ErrorKind::InputTooLong {
                        index,
                        tokens_at_least: limit.saturating_add(1),
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
    let tokens = counts.iter().fold(0usize, |sum, &n| sum.saturating_add(n));
    if tokens > limits.max_request_tokens {
        return Err(ErrorKind::TooManyTokens {
            tokens,
            limit: limits.max_request_tokens,
        });
    }
    Ok((counts, truncated))
}

/// Cuts an input over the limit to at most `limit` tokens (and the bytes cap); returns
/// its new count.
fn truncate(input: &mut Input<'_>, tokenizer: &dyn Tokenizer, limits: &ModelLimits) -> usize {
    match input {
        Input::Tokens(ids) => {
            ids.truncate(limits.max_input_tokens);
            ids.len()
        }
        Input::Text(text) => {
            // Only what the bytes cap lets through is handed to the tokenizer, unless the
            // cap is the tokenizer's own proof (cl100k_base), which then bounds its work
            // itself and may look a little past the cap to find the last token's end.
            let proof = tokenizer
                .max_token_bytes()
                .map(|bytes| limits.max_input_tokens.saturating_mul(bytes));
            let within = match proof {
                Some(proof) if proof <= limits.max_input_bytes => text.len(),
                _ => crate::tokens::floor_char_boundary(text, limits.max_input_bytes),
            };
            let (cut, count) = tokenizer.cut(&text[..within], limits.max_input_tokens);
            if cut == 0 || count > limits.max_input_tokens {
                // Nothing fits (a tokenizer may add more special tokens than the limit).
                return 0;
            }
            keep_prefix(text, cut);
            count
        }
    }
}

/// Keeps the first `cut` bytes of `text` (a character boundary).
fn keep_prefix(text: &mut Cow<'_, str>, cut: usize) {
    match text {
        Cow::Borrowed(s) => *s = &s[..cut],
        Cow::Owned(s) => s.truncate(cut),
    }
}

/// A request that passed every check, with its inputs and their token counts in the
/// model's tokens (exact, unless the model's tokenizer estimates: [`Checked::exact`]).
#[derive(Debug, Clone)]
pub struct Checked<'a> {
    model: Cow<'a, str>,
    model_spec: Arc<Model>,
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

    /// Each input's token count in the model's tokens, in order.
    pub fn token_counts(&self) -> &[usize] {
        &self.token_counts
    }

    /// Whether the counts are exact; `false` for a model whose tokenizer estimates, whose
    /// client usage is then the upstream's own where its answer carries one.
    pub fn exact(&self) -> bool {
        self.model_spec.exact()
    }

    /// The model's tokenizer, to count anything else in the same tokens (the planner's
    /// per-call caps, say).
    pub fn tokenizer(&self) -> &Arc<dyn Tokenizer> {
        self.model_spec.tokenizer()
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
