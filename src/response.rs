//! Usage and response bodies: writing them, reading an upstream's, transcoding and merging.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::request::EncodingFormat;
use crate::upstream::{self, UpstreamBody, UpstreamItem, UpstreamUsage};
use crate::usage::Usage;
use crate::vector::{
    VectorError, base64_len, decode_base64_into, decode_float_array_into, encode_base64_into,
    encode_float_array_into, shorten,
};

/// Where the usage a client receives comes from.
///
/// The contract: for a model whose counts are exact, the client's usage is always the
/// gateway's own count, whatever the upstream reported (an upstream's `1 / 999999999`
/// never reaches the client); only for a model whose counts are estimates is it the
/// upstream's reported usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UsageSource {
    /// The target's token counts, whatever the upstream reported. The default.
    #[default]
    Counted,
    /// The upstream's reported usage, summed over the parts; the target's counts (the
    /// estimates) for a part whose upstream left usage out or reported zero tokens.
    Upstream,
}

/// What the client asked for, which every response the gateway writes must follow: the
/// model as the client named it, the model's native vector length, the encoding, the
/// dimensions, the token count of each of the client's inputs (their number is the
/// number of vectors to answer with), and where usage comes from.
///
/// Every vector must have the length the client gets (`dimensions`, or the model's
/// native length); a vector of the native length is also accepted when `dimensions` is
/// shorter, and shortened (first `dimensions` values, unit norm). Anything else is an
/// error, as is a value that is NaN or infinite.
///
/// Borrowed from a [`Checked`](crate::Checked) with `From`; [`ResponseTarget::into_owned`] makes it
/// `'static` (`Send + Sync + 'static`), to hold across `.await` points or move into
/// `spawn_blocking` while the check is dropped.
///
/// ```
/// use embedguard::{EncodingFormat, ResponseTarget, UsageSource};
/// let counts = [5, 7];
/// let target = ResponseTarget::new("text-embedding-3-small", 1536, &counts)
///     .with_encoding_format(EncodingFormat::Base64)
///     .with_dimensions(Some(256));
/// assert_eq!(target.inputs(), 2);
/// assert_eq!(target.vector_len(), 256);
/// assert_eq!(target.usage_source(), UsageSource::Counted);
///
/// let owned: ResponseTarget<'static> = target.into_owned();
/// let handle = std::thread::spawn(move || owned.token_counts().iter().sum::<usize>());
/// assert_eq!(handle.join().unwrap(), 12);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseTarget<'a> {
    model: Cow<'a, str>,
    native_dimensions: usize,
    encoding_format: EncodingFormat,
    dimensions: Option<usize>,
    token_counts: Cow<'a, [usize]>,
    usage_source: UsageSource,
}

impl<'a> ResponseTarget<'a> {
    /// A float response for `model`, whose vectors have `native_dimensions` values,
    /// without shortening, for inputs with these token counts, usage counted.
    pub const fn new(model: &'a str, native_dimensions: usize, token_counts: &'a [usize]) -> Self {
        ResponseTarget {
            model: Cow::Borrowed(model),
            native_dimensions,
            encoding_format: EncodingFormat::Float,
            dimensions: None,
            token_counts: Cow::Borrowed(token_counts),
            usage_source: UsageSource::Counted,
        }
    }

    /// The encoding the client asked for (`encoding_format`).
    pub fn with_encoding_format(self, encoding_format: EncodingFormat) -> Self {
        ResponseTarget {
            encoding_format,
            ..self
        }
    }

    /// The `dimensions` the client asked for, if any: vectors of that length pass
    /// unchanged, vectors of the model's native length are shortened to it, any other
    /// length is an error.
    pub fn with_dimensions(self, dimensions: Option<usize>) -> Self {
        ResponseTarget { dimensions, ..self }
    }

    /// Where the client's usage comes from (by default, the target's counts).
    pub fn with_usage_source(self, usage_source: UsageSource) -> Self {
        ResponseTarget {
            usage_source,
            ..self
        }
    }

    /// The same target, owning its model name and counts: `Send + Sync + 'static`.
    pub fn into_owned(self) -> ResponseTarget<'static> {
        ResponseTarget {
            model: Cow::Owned(self.model.into_owned()),
            native_dimensions: self.native_dimensions,
            encoding_format: self.encoding_format,
            dimensions: self.dimensions,
            token_counts: Cow::Owned(self.token_counts.into_owned()),
            usage_source: self.usage_source,
        }
    }

    /// The model as the response names it.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The model's native vector length.
    pub const fn native_dimensions(&self) -> usize {
        self.native_dimensions
    }

    /// The encoding of the response's vectors.
    pub const fn encoding_format(&self) -> EncodingFormat {
        self.encoding_format
    }

    /// The `dimensions` the client asked for, if any.
    pub const fn dimensions(&self) -> Option<usize> {
        self.dimensions
    }

    /// The length of every vector the client receives: `dimensions`, or the native length.
    pub const fn vector_len(&self) -> usize {
        match self.dimensions {
            Some(d) => d,
            None => self.native_dimensions,
        }
    }

    /// The token count of each of the client's inputs, in order.
    pub fn token_counts(&self) -> &[usize] {
        &self.token_counts
    }

    /// Where the client's usage comes from.
    pub const fn usage_source(&self) -> UsageSource {
        self.usage_source
    }

    /// How many inputs the client sent: the number of vectors the response must have.
    pub fn inputs(&self) -> usize {
        self.token_counts.len()
    }

    /// The native length, when vectors of it are accepted and shortened.
    fn shortened_from(&self) -> Option<usize> {
        Some(self.native_dimensions).filter(|&n| n > self.vector_len())
    }
}

/// Why a response could not be built, read, transcoded or merged.
///
/// `part` is the position of an upstream response among those given (0 for a single one);
/// `index` is the position of an input in the client's request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// The upstream's body is not JSON, or not shaped like an embeddings response.
    #[error(
        "upstream response {part} is not a valid embeddings response: {reason} at line {line} column {column}"
    )]
    InvalidBody {
        /// Which upstream response.
        part: usize,
        /// What serde_json found wrong, e.g. ``missing field `data` ``.
        reason: String,
        /// Line of the body where it was found (1-based).
        line: usize,
        /// Column of the body where it was found (1-based).
        column: usize,
    },
    /// An item's `index` is not below the number of inputs the upstream was asked about.
    #[error("upstream response {part} has an item with index {index}, outside 0..{inputs}")]
    IndexOutOfRange {
        /// Which upstream response.
        part: usize,
        /// The item's index, as the upstream numbered it.
        index: usize,
        /// How many inputs that upstream was asked about.
        inputs: usize,
    },
    /// Two items have the same `index`.
    #[error("upstream response {part} has more than one item with index {index}")]
    DuplicateIndex {
        /// Which upstream response.
        part: usize,
        /// The index, as the upstream numbered it.
        index: usize,
    },
    /// No item has this `index`.
    #[error("upstream response {part} has no item with index {index}")]
    MissingIndex {
        /// Which upstream response.
        part: usize,
        /// The index, as the upstream numbered it.
        index: usize,
    },
    /// The upstream responses do not cover the client's inputs in order: the first must
    /// start at input 0, each later one after the one before, all below the number of inputs.
    #[error(
        "upstream response {part} starts at input {start}: responses must start at input 0 and go up, each answering at least one input, all below input {inputs}"
    )]
    InvalidPartStart {
        /// Which upstream response.
        part: usize,
        /// Where it says it starts.
        start: usize,
        /// How many inputs the client sent.
        inputs: usize,
    },
    /// No upstream responses were given to merge.
    #[error("no upstream responses to merge")]
    NoParts,
    /// Fewer vectors than the client sent inputs.
    #[error("fewer vectors ({vectors}) than inputs ({inputs})")]
    TooFewVectors {
        /// How many vectors were given.
        vectors: usize,
        /// How many inputs the client sent.
        inputs: usize,
    },
    /// More vectors than the client sent inputs (the rest are not read).
    #[error("more vectors than inputs ({inputs})")]
    TooManyVectors {
        /// How many inputs the client sent.
        inputs: usize,
    },
    /// A vector whose length is neither what the client gets (`dimensions`, or the
    /// model's native length) nor, when `dimensions` is shorter, the native length.
    #[error(
        "the vector for input {index} has length {len}, expected {expected}{}",
        or_shortened(*.shortened_from)
    )]
    WrongLength {
        /// The input it answers.
        index: usize,
        /// Its length.
        len: usize,
        /// The length the client gets.
        expected: usize,
        /// The native length, also accepted (and shortened) when `dimensions` is shorter.
        shortened_from: Option<usize>,
    },
    /// The target has no inputs: a response always holds at least one vector, as a
    /// request always has at least one input.
    #[error("a response needs at least one vector, and the target has no inputs")]
    NoInputs,
    /// Vectors of different lengths in one response read without a target
    /// ([`decode_response`]).
    #[error(
        "the vector for input {index} has length {len}, but the one for input 0 has length {expected}"
    )]
    LengthMismatch {
        /// The input whose vector differs.
        index: usize,
        /// Its length.
        len: usize,
        /// The length of the first vector.
        expected: usize,
    },
    /// A vector could not be decoded, shortened or encoded.
    #[error("the vector for input {index}: {source}")]
    Vector {
        /// The input it answers.
        index: usize,
        /// What went wrong.
        #[source]
        source: VectorError,
    },
}

fn or_shortened(native: Option<usize>) -> String {
    native.map_or_else(String::new, |n| format!(" (or {n}, to be shortened)"))
}

impl ResponseError {
    fn invalid_body(part: usize, err: &serde_json::Error) -> Self {
        let full = err.to_string();
        let position = format!(" at line {} column {}", err.line(), err.column());
        let reason = full.strip_suffix(&position).unwrap_or(&full).to_owned();
        ResponseError::InvalidBody {
            part,
            reason,
            line: err.line(),
            column: err.column(),
        }
    }
}

/// Writes an embeddings response body from vectors, one per input in input order, as the
/// target asks: its encoding, its model, its dimensions (vectors of the native length are
/// shortened), and usage summed from its token counts.
///
/// The vectors are checked as an upstream's are: one per input, each of the target's
/// length (or the native length, to be shortened), every value finite. A target without
/// inputs is an error here as in [`merge_responses`]: a response has at least one vector.
/// No JSON tree is built: the body is written straight into the string.
///
/// ```
/// use embedguard::{EncodingFormat, ResponseTarget, encode_response};
/// let counts = [3, 4];
/// let target = ResponseTarget::new("text-embedding-3-small", 2, &counts);
/// let body = encode_response(&[vec![0.6, 0.8], vec![1.0, 0.0]], &target).unwrap();
/// assert_eq!(
///     body,
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]},{"object":"embedding","index":1,"embedding":[1.0,0.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}"#
/// );
///
/// let target = target.with_encoding_format(EncodingFormat::Base64).with_dimensions(Some(1));
/// let body = encode_response([[0.6, 0.8], [0.0, 1.0]], &target).unwrap();
/// assert!(body.contains(r#""index":0,"embedding":"AACAPw==""#)); // [1.0]
/// assert!(body.contains(r#""index":1,"embedding":"AAAAAA==""#)); // [0.0]
/// ```
pub fn encode_response<I>(vectors: I, target: &ResponseTarget<'_>) -> Result<String, ResponseError>
where
    I: IntoIterator,
    I::Item: AsRef<[f32]>,
{
    let mut out = String::new();
    encode_response_into(vectors, target, &mut out)?;
    Ok(out)
}

/// Appends an embeddings response body to `out`; see [`encode_response`].
///
/// On error `out` is left as it was.
///
/// ```
/// use embedguard::{EncodingFormat, ResponseError, ResponseTarget, encode_response_into};
/// let counts = [3, 4];
/// let target = ResponseTarget::new("m", 1, &counts);
/// let mut out = String::new();
/// let err = encode_response_into([[1.0]], &target, &mut out).unwrap_err();
/// assert_eq!(err.to_string(), "fewer vectors (1) than inputs (2)");
/// let err = encode_response_into([[1.0], [f32::NAN]], &target, &mut out).unwrap_err();
/// assert_eq!(err.to_string(), "the vector for input 1: value 0 is NaN, which has no JSON form");
/// // In base64 too: NaN is never a vector's value.
/// let base64 = target.clone().with_encoding_format(EncodingFormat::Base64);
/// let err = encode_response_into([[1.0], [f32::INFINITY]], &base64, &mut out).unwrap_err();
/// assert_eq!(err.to_string(), "the vector for input 1: value 0 is inf, which has no JSON form");
/// let err = encode_response_into([vec![1.0], vec![1.0, 0.0]], &target, &mut out).unwrap_err();
/// assert_eq!(err.to_string(), "the vector for input 1 has length 2, expected 1");
/// assert!(out.is_empty());
/// ```
pub fn encode_response_into<I>(
    vectors: I,
    target: &ResponseTarget<'_>,
    out: &mut String,
) -> Result<(), ResponseError>
where
    I: IntoIterator,
    I::Item: AsRef<[f32]>,
{
    let start = out.len();
    let result = write_response(vectors, target, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_response<I>(
    vectors: I,
    target: &ResponseTarget<'_>,
    out: &mut String,
) -> Result<(), ResponseError>
where
    I: IntoIterator,
    I::Item: AsRef<[f32]>,
{
    if target.inputs() == 0 {
        return Err(ResponseError::NoInputs);
    }
    let mut vectors = vectors.into_iter();
    let given = vectors.size_hint().0.min(target.inputs());
    let mut writer = DataWriter::start(target, out, given, usize::MAX);
    for index in 0..target.inputs() {
        let Some(vector) = vectors.next() else {
            return Err(ResponseError::TooFewVectors {
                vectors: index,
                inputs: target.inputs(),
            });
        };
        writer.vector(index, vector.as_ref())?;
    }
    if vectors.next().is_some() {
        return Err(ResponseError::TooManyVectors {
            inputs: target.inputs(),
        });
    }
    writer.finish(Usage::from_counts(target.token_counts()));
    Ok(())
}

/// An upstream's embeddings response, read.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Embeddings {
    /// The vectors, in `index` order.
    pub vectors: Vec<Vec<f32>>,
    /// The `model` the upstream named, if it did.
    pub model: Option<String>,
    /// The upstream's usage; `None` when it left usage out or reported zero tokens.
    pub usage: Option<Usage>,
}

/// Reads an embeddings response body (an upstream's, or one this crate wrote) into vectors.
///
/// Each item's `embedding` may be a JSON array of numbers, each read as a float32 exactly
/// (correctly rounded from its decimal, never double-rounded through f64), or a base64
/// string, decoded strictly. The body must be an object with `"object": "list"` and `data`,
/// a non-empty array of items with an `index` (each of `0..n` exactly once, in any order)
/// and an `embedding`; all embeddings have one length and finite values; an item's
/// `object`, if present, must be `"embedding"`. `model` and `usage` may be absent; other
/// members are ignored.
///
/// ```
/// use embedguard::{Usage, decode_response};
/// let body = br#"{"object":"list","data":[
///     {"object":"embedding","index":1,"embedding":"AACAPwAAAAA="},
///     {"object":"embedding","index":0,"embedding":[0.1,-2.5e-3]}
/// ],"model":"m","usage":{"prompt_tokens":9,"total_tokens":9}}"#;
/// let read = decode_response(body).unwrap();
/// assert_eq!(read.vectors, [vec![0.1, -2.5e-3], vec![1.0, 0.0]]);
/// assert_eq!(read.model.as_deref(), Some("m"));
/// assert_eq!(read.usage, Some(Usage { prompt_tokens: 9, total_tokens: 9 }));
///
/// let err = decode_response(br#"{"object":"list","data":[{"index":1,"embedding":[]}]}"#);
/// assert_eq!(
///     err.unwrap_err().to_string(),
///     "upstream response 0 has an item with index 1, outside 0..1"
/// );
/// ```
pub fn decode_response(body: &[u8]) -> Result<Embeddings, ResponseError> {
    quick_then_exact(|reading| decode_read(body, reading))
}

/// [`decode_response`] with serde_json's reading only, for the fuzz target that checks the
/// quick reading changes nothing.
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn decode_response_exact(body: &[u8]) -> Result<Embeddings, ResponseError> {
    decode_read(body, Reading::Exact)
}

/// [`transcode_response`] with serde_json's reading only (see [`decode_response_exact`]).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn transcode_response_exact(
    body: &[u8],
    target: &ResponseTarget<'_>,
) -> Result<String, ResponseError> {
    let mut out = String::new();
    write_merged(
        &[UpstreamPart::new(0, body)],
        target,
        &mut out,
        Reading::Exact,
    )
    .map(|_| out)
}

fn decode_read(body: &[u8], reading: Reading) -> Result<Embeddings, ResponseError> {
    let parsed = reading.body(0, body)?;
    let items = ordered_items(0, parsed.data, None)?;
    let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(items.len());
    for (index, raw) in items.into_iter().enumerate() {
        let mut vector = Vec::new();
        read_embedding(raw, &mut vector)
            .and_then(|()| check_finite(&vector))
            .map_err(|source| ResponseError::Vector { index, source })?;
        if let Some(first) = vectors.first()
            && first.len() != vector.len()
        {
            return Err(ResponseError::LengthMismatch {
                index,
                len: vector.len(),
                expected: first.len(),
            });
        }
        vectors.push(vector);
    }
    Ok(Embeddings {
        vectors,
        model: parsed.model,
        usage: parsed.usage.and_then(UpstreamUsage::known),
    })
}

/// One upstream's response to a contiguous run of the client's inputs, starting at input
/// `start`; it answers every input up to the next part's start (or the last input).
///
/// It borrows the body: in an async gateway, keep the bodies (e.g. `bytes::Bytes`) and an
/// owned [`ResponseTarget`], and build the parts where the merge runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamPart<'a> {
    start: usize,
    body: &'a [u8],
}

impl<'a> UpstreamPart<'a> {
    /// The upstream's response `body` to the call whose first input is the client's
    /// input `start` ([`Part::start`](crate::Part::start)).
    pub const fn new(start: usize, body: &'a [u8]) -> Self {
        UpstreamPart { start, body }
    }

    /// The client position of the first input this upstream was sent.
    pub const fn start(&self) -> usize {
        self.start
    }

    /// The upstream's response body.
    pub const fn body(&self) -> &'a [u8] {
        self.body
    }
}

/// Rewrites one upstream's response as the client asked: checked (one vector per input,
/// each of the expected length, finite), bit-exact between float and base64, shortened to
/// the target's dimensions if the upstream returned native-length vectors, `model` as the
/// client named it, usage from the target's [`UsageSource`].
///
/// The same as [`merge_responses`] with a single part starting at input 0.
///
/// ```
/// use embedguard::{EncodingFormat, ResponseTarget, transcode_response};
/// let upstream = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-2.0]}],"model":"text-embedding-3-small-v1","usage":{"prompt_tokens":1,"total_tokens":999999999}}"#;
/// let counts = [4];
/// let target = ResponseTarget::new("text-embedding-3-small", 2, &counts)
///     .with_encoding_format(EncodingFormat::Base64);
/// assert_eq!(
///     transcode_response(upstream, &target).unwrap(),
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":4,"total_tokens":4}}"#
/// );
/// ```
pub fn transcode_response(
    body: &[u8],
    target: &ResponseTarget<'_>,
) -> Result<String, ResponseError> {
    merge_responses(&[UpstreamPart::new(0, body)], target)
}

/// Merges the responses of several upstream calls, each answering a contiguous run of the
/// client's inputs, into the one response the client expects.
///
/// Parts come in input order, the first starting at input 0; each answers the inputs up to
/// the next part's start, the last up to the target's number of inputs. Indices are
/// renumbered to the client's positions and `data` is written in input order; a missing,
/// duplicate or out-of-range index is an error. Every vector must have the target's
/// length (or the native length, then shortened) and finite values; each is transcoded
/// bit-exactly. Usage follows the target's [`UsageSource`]: by default the target's own
/// counts, whatever the upstreams reported. `model` is the target's.
///
/// The body is written as the parts are read, one vector at a time: beside the bodies and
/// the result it needs one vector and an index table per part.
///
/// ```
/// use embedguard::{ResponseTarget, UpstreamPart, UsageSource, decode_response, merge_responses};
/// let first = br#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":"AAAAQA=="},{"object":"embedding","index":0,"embedding":"AACAPw=="}],"model":"m","usage":{"prompt_tokens":5,"total_tokens":5}}"#;
/// let second = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AABAQA=="}],"model":"m"}"#;
/// let parts = [UpstreamPart::new(0, first), UpstreamPart::new(2, second)];
/// let counts = [2, 3, 4];
/// let target = ResponseTarget::new("my-model", 1, &counts);
/// let merged = merge_responses(&parts, &target).unwrap();
/// assert_eq!(
///     merged,
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0]},{"object":"embedding","index":1,"embedding":[2.0]},{"object":"embedding","index":2,"embedding":[3.0]}],"model":"my-model","usage":{"prompt_tokens":9,"total_tokens":9}}"#
/// );
/// let read = decode_response(merged.as_bytes()).unwrap();
/// assert_eq!(read.vectors, [[1.0], [2.0], [3.0]]);
///
/// // For an estimate profile: the upstream's 5 for the first part, the estimate 4 for the second.
/// let estimated = target.with_usage_source(UsageSource::Upstream);
/// let merged = merge_responses(&parts, &estimated).unwrap();
/// assert!(merged.ends_with(r#""usage":{"prompt_tokens":9,"total_tokens":9}}"#));
/// ```
pub fn merge_responses(
    parts: &[UpstreamPart<'_>],
    target: &ResponseTarget<'_>,
) -> Result<String, ResponseError> {
    let mut out = String::new();
    merge_responses_into(parts, target, &mut out)?;
    Ok(out)
}

/// Appends the merged response to `out`, as [`merge_responses`] does, and returns the
/// usage written in it (for an estimate profile, the upstreams' reported usage: what a
/// rate limiter settles against).
///
/// On error `out` is left as it was.
///
/// ```
/// use embedguard::{ResponseTarget, UpstreamPart, Usage, UsageSource, merge_responses_into};
/// let body = br#"{"object":"list","data":[{"index":0,"embedding":[1.0]}],"usage":{"prompt_tokens":6,"total_tokens":6}}"#;
/// let counts = [4];
/// let target = ResponseTarget::new("m", 1, &counts).with_usage_source(UsageSource::Upstream);
/// let mut out = String::new();
/// let usage = merge_responses_into(&[UpstreamPart::new(0, body)], &target, &mut out).unwrap();
/// assert_eq!(usage, Usage::from_counts(&[6]));
/// ```
pub fn merge_responses_into(
    parts: &[UpstreamPart<'_>],
    target: &ResponseTarget<'_>,
    out: &mut String,
) -> Result<Usage, ResponseError> {
    let start = out.len();
    let result = quick_then_exact(|reading| {
        out.truncate(start);
        write_merged(parts, target, out, reading)
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_merged(
    parts: &[UpstreamPart<'_>],
    target: &ResponseTarget<'_>,
    out: &mut String,
    reading: Reading,
) -> Result<Usage, ResponseError> {
    let inputs = target.inputs();
    if inputs == 0 {
        return Err(ResponseError::NoInputs);
    }
    if parts.is_empty() {
        return Err(ResponseError::NoParts);
    }
    for (part, p) in parts.iter().enumerate() {
        let valid = match part {
            0 => p.start == 0,
            _ => p.start > parts[part - 1].start,
        };
        if !valid || p.start >= inputs {
            return Err(ResponseError::InvalidPartStart {
                part,
                start: p.start,
                inputs,
            });
        }
    }

    let given: usize = parts.iter().map(|p| p.body.len()).sum();
    // Base64 upstream to float client is the largest growth: about 2.3 times.
    let mut writer = DataWriter::start(target, out, inputs, given.saturating_mul(3));
    let mut usage = Usage::default();
    for (part, p) in parts.iter().enumerate() {
        let end = parts.get(part + 1).map_or(inputs, |next| next.start);
        let parsed = reading.body(part, p.body)?;
        let items = ordered_items(part, parsed.data, Some(end - p.start))?;
        let counted = || Usage::from_counts(&target.token_counts()[p.start..end]);
        let part_usage = match target.usage_source {
            UsageSource::Counted => counted(),
            UsageSource::Upstream => parsed
                .usage
                .and_then(UpstreamUsage::known)
                .unwrap_or_else(counted),
        };
        usage.prompt_tokens = usage.prompt_tokens.saturating_add(part_usage.prompt_tokens);
        usage.total_tokens = usage.total_tokens.saturating_add(part_usage.total_tokens);
        for (offset, raw) in items.into_iter().enumerate() {
            let index = p.start + offset;
            writer.scratch.clear();
            read_embedding(raw, &mut writer.scratch)
                .map_err(|source| ResponseError::Vector { index, source })?;
            writer.scratch_vector(index)?;
        }
    }
    writer.finish(usage);
    Ok(usage)
}

/// A vector's first NaN or infinity, as an error.
fn check_finite(values: &[f32]) -> Result<(), VectorError> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(VectorError::NonFinite {
            index,
            value: values[index],
        }),
    }
}

/// Writes `{"object":"list","data":[…],"model":…,"usage":…}` one item at a time.
struct DataWriter<'t, 'a, 'o> {
    target: &'t ResponseTarget<'a>,
    out: &'o mut String,
    /// A vector being shortened or transcoded.
    scratch: Vec<f32>,
    /// How many items to reserve room for once the first is written: no more than exist.
    reserve_items: usize,
    /// The most bytes to reserve up front, so that a hostile upstream cannot make the
    /// writer reserve more than a small multiple of what it was given.
    reserve_limit: usize,
}

impl<'t, 'a, 'o> DataWriter<'t, 'a, 'o> {
    fn start(
        target: &'t ResponseTarget<'a>,
        out: &'o mut String,
        reserve_items: usize,
        reserve_limit: usize,
    ) -> Self {
        out.push_str(r#"{"object":"list","data":["#);
        DataWriter {
            target,
            out,
            scratch: Vec::new(),
            reserve_items,
            reserve_limit,
        }
    }

    /// Checks the vector for input `index` and writes its item, shortening a copy of
    /// `values` if it has the native length and the target a shorter one.
    fn vector(&mut self, index: usize, values: &[f32]) -> Result<(), ResponseError> {
        self.check(index, values)?;
        if values.len() == self.target.vector_len() {
            return self.item(index, values);
        }
        let mut copy = std::mem::take(&mut self.scratch);
        copy.clear();
        copy.extend_from_slice(values);
        let result = self
            .shortened(index, &mut copy)
            .and_then(|()| self.item(index, &copy));
        self.scratch = copy;
        result
    }

    /// Checks and writes the vector for input `index` held in `self.scratch`, shortening
    /// it in place.
    fn scratch_vector(&mut self, index: usize) -> Result<(), ResponseError> {
        let mut values = std::mem::take(&mut self.scratch);
        let result = self
            .check(index, &values)
            .and_then(|()| self.shortened(index, &mut values))
            .and_then(|()| self.item(index, &values));
        self.scratch = values;
        result
    }

    /// The contract's check of a vector: the expected length, finite values.
    fn check(&self, index: usize, values: &[f32]) -> Result<(), ResponseError> {
        let expected = self.target.vector_len();
        let shortened_from = self.target.shortened_from();
        if values.len() != expected && Some(values.len()) != shortened_from {
            return Err(ResponseError::WrongLength {
                index,
                len: values.len(),
                expected,
                shortened_from,
            });
        }
        check_finite(values).map_err(|source| ResponseError::Vector { index, source })
    }

    fn shortened(&self, index: usize, values: &mut Vec<f32>) -> Result<(), ResponseError> {
        let expected = self.target.vector_len();
        if values.len() == expected {
            return Ok(());
        }
        shorten(values, expected).map_err(|source| ResponseError::Vector { index, source })
    }

    fn item(&mut self, index: usize, values: &[f32]) -> Result<(), ResponseError> {
        if index == 0 {
            // Size the whole body once the first vector is known good: exact for base64,
            // about 12 characters a value for floats.
            let vector = match self.target.encoding_format {
                EncodingFormat::Float => values.len().saturating_mul(12),
                EncodingFormat::Base64 => base64_len(values.len()),
            };
            let item = vector.saturating_add(64);
            let body = item.saturating_mul(self.reserve_items).saturating_add(256);
            // Only a size hint: if it cannot be had, the body grows as it is written.
            let _ = self.out.try_reserve(body.min(self.reserve_limit));
        } else {
            self.out.push(',');
        }
        let _ = write!(
            self.out,
            r#"{{"object":"embedding","index":{index},"embedding":"#
        );
        match self.target.encoding_format {
            EncodingFormat::Float => encode_float_array_into(values, self.out)
                .map_err(|source| ResponseError::Vector { index, source })?,
            EncodingFormat::Base64 => {
                self.out.push('"');
                encode_base64_into(values, self.out);
                self.out.push('"');
            }
        }
        self.out.push('}');
        Ok(())
    }

    fn finish(self, usage: Usage) {
        let model = serde_json::Value::from(self.target.model()).to_string();
        let _ = write!(
            self.out,
            r#"],"model":{model},"usage":{{"prompt_tokens":{},"total_tokens":{}}}}}"#,
            usage.prompt_tokens, usage.total_tokens
        );
    }
}

/// How upstream bodies are read: quickly, or by serde_json, whose errors say what is wrong
/// and where.
#[derive(Clone, Copy)]
enum Reading {
    Quick,
    Exact,
}

impl Reading {
    fn body(self, part: usize, body: &[u8]) -> Result<UpstreamBody<'_>, ResponseError> {
        match self {
            // Never shown: any failure of a quick reading is read again exactly.
            Reading::Quick => upstream::read_quick(body).ok_or(ResponseError::InvalidBody {
                part,
                reason: String::from("not read quickly"),
                line: 0,
                column: 0,
            }),
            Reading::Exact => {
                upstream::read(body).map_err(|err| ResponseError::invalid_body(part, &err))
            }
        }
    }
}

/// `f` with quick reading; if that fails anywhere, again with exact reading, so that every
/// error is the one serde_json's reading leads to (an invalid array the quick reader let
/// through fails the float parser, and only the exact reading knows it is invalid JSON).
fn quick_then_exact<R>(
    mut f: impl FnMut(Reading) -> Result<R, ResponseError>,
) -> Result<R, ResponseError> {
    f(Reading::Quick).or_else(|_| f(Reading::Exact))
}

/// The items' embeddings in index order, checking that the indices are `0..inputs` (or
/// `0..data.len()` when the number of inputs is not known), each exactly once.
fn ordered_items<'a>(
    part: usize,
    mut data: Vec<UpstreamItem<'a>>,
    inputs: Option<usize>,
) -> Result<Vec<&'a str>, ResponseError> {
    // Without a target, the items say how many inputs there were; never fewer than one.
    let inputs = inputs.unwrap_or(data.len().max(1));
    data.sort_unstable_by_key(|item| item.index);
    for (position, item) in data.iter().enumerate() {
        let index = item.index;
        if position > 0 && data[position - 1].index == index {
            return Err(ResponseError::DuplicateIndex { part, index });
        }
        if index >= inputs {
            return Err(ResponseError::IndexOutOfRange {
                part,
                index,
                inputs,
            });
        }
        if index != position {
            return Err(ResponseError::MissingIndex {
                part,
                index: position,
            });
        }
    }
    if data.len() < inputs {
        return Err(ResponseError::MissingIndex {
            part,
            index: data.len(),
        });
    }
    Ok(data.into_iter().map(|item| item.embedding).collect())
}

/// Decodes an `embedding`, a JSON array of numbers or a base64 string, appending to `out`.
fn read_embedding(text: &str, out: &mut Vec<f32>) -> Result<(), VectorError> {
    match text.as_bytes().first() {
        Some(b'[') => decode_float_array_into(text, out),
        Some(b'"') => {
            let inner = &text[1..text.len() - 1];
            if inner.contains('\\') {
                // Escapes such as `\/` are legal JSON; read the string properly.
                let unescaped: String =
                    serde_json::from_str(text).map_err(|_| VectorError::NotAVector)?;
                decode_base64_into(&unescaped, out)
            } else {
                decode_base64_into(inner, out)
            }
        }
        _ => Err(VectorError::NotAVector),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::encode_base64;

    /// Upstream bodies of every shape the quick reader answers for or gives up on: members
    /// in any order, white space, ignored members holding containers and escapes, `null`s,
    /// both encodings, an escaped key.
    fn seeds() -> Vec<String> {
        let b64 = encode_base64(&[1.0, -2.0, 0.5, 3.0]);
        vec![
            format!(
                r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":[0.5,-1e-3,0,2E+2]}},{{"index":1,"embedding":"{b64}","extra":{{"a":[1,{{"b":null}}]}}}}],"model":"m","usage":{{"prompt_tokens":3,"total_tokens":3}}}}"#
            ),
            r#" { "data" : [ { "embedding" : [ 1 , -0.0 ] , "index" : 0 } ] , "object" : "list" , "model" : null , "usage" : null , "x" : "\u00e9\"" } "#.to_owned(),
            r#"{"object":"list","data":[{"index":0,"embedding":"\u0041ACAPwAAAMA="}],"usage":{"prompt_tokens":2}}"#.to_owned(),
            r#"{"object":"list","d\u0061ta":[{"index":0,"embedding":[1.25]}]}"#.to_owned(),
        ]
    }

    /// Each byte deleted, replaced or preceded by one of the bytes JSON turns on.
    fn mutations(seed: &[u8]) -> Vec<Vec<u8>> {
        let alphabet = b"\"[]{},:01.e-+ \\a\x01\xff";
        let mut out = Vec::new();
        for i in 0..seed.len() {
            let mut deleted = seed.to_vec();
            deleted.remove(i);
            out.push(deleted);
            for &b in alphabet {
                let mut replaced = seed.to_vec();
                replaced[i] = b;
                out.push(replaced);
                let mut inserted = seed.to_vec();
                inserted.insert(i, b);
                out.push(inserted);
            }
        }
        out
    }

    /// The body merged as the only part of a response to `inputs` inputs of `dims` values.
    fn merged(
        body: &[u8],
        reading: Reading,
        (inputs, dims): (usize, usize),
        format: EncodingFormat,
    ) -> Result<String, String> {
        let counts = vec![3; inputs];
        let target = ResponseTarget::new("m", dims, &counts).with_encoding_format(format);
        let mut out = String::new();
        write_merged(&[UpstreamPart::new(0, body)], &target, &mut out, reading)
            .map(|_| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_quick_reading_reads_what_serde_json_reads() {
        let (mut quick_answers, mut quick_merges) = (0, 0);
        for seed in seeds() {
            let seed = seed.as_bytes();
            assert_eq!(
                upstream::read_quick(seed).is_some(),
                !seed.starts_with(br#"{"object":"list","d\u"#),
                "{}",
                String::from_utf8_lossy(seed)
            );
            let shape = decode_read(seed, Reading::Exact)
                .map(|read| (read.vectors.len(), read.vectors[0].len()))
                .unwrap_or_default();
            for body in std::iter::once(seed.to_vec()).chain(mutations(seed)) {
                let exact = decode_read(&body, Reading::Exact);
                if let Ok(quick) = decode_read(&body, Reading::Quick) {
                    quick_answers += 1;
                    assert_eq!(
                        Ok(&quick),
                        exact.as_ref(),
                        "{}",
                        String::from_utf8_lossy(&body)
                    );
                }
                // What callers get is always the exact reading's answer, errors included.
                assert_eq!(
                    decode_response(&body).map_err(|e| e.to_string()),
                    exact.map_err(|e| e.to_string())
                );
                for format in [EncodingFormat::Float, EncodingFormat::Base64] {
                    let exact = merged(&body, Reading::Exact, shape, format);
                    if let Ok(quick) = merged(&body, Reading::Quick, shape, format) {
                        quick_merges += 1;
                        assert_eq!(Ok(quick), exact, "{}", String::from_utf8_lossy(&body));
                    }
                }
            }
        }
        // The quick reading is really taken, on the seeds and on harmless mutations.
        assert!(quick_answers > 100, "{quick_answers}");
        assert!(quick_merges > 100, "{quick_merges}");
    }
}
