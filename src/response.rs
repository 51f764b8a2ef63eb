//! Usage and response bodies: writing them, reading an upstream's, transcoding and merging.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::marker::PhantomData;

use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::policy::Checked;
use crate::request::EncodingFormat;
use crate::usage::Usage;
use crate::vector::{
    VectorError, base64_len, decode_base64_into, decode_float_array_into, encode_base64_into,
    encode_float_array_into, shorten,
};

/// What the client asked for, which every response the gateway writes must follow: the
/// model as the client named it, the encoding, the dimensions, and the exact token count
/// of each of the client's inputs (their number is the number of vectors to answer with).
///
/// ```
/// use embedguard::{EncodingFormat, ResponseTarget};
/// let counts = [5, 7];
/// let target = ResponseTarget::new("text-embedding-3-small", &counts)
///     .with_format(EncodingFormat::Base64)
///     .with_dimensions(Some(256));
/// assert_eq!(target.inputs(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseTarget<'a> {
    model: &'a str,
    format: EncodingFormat,
    dimensions: Option<usize>,
    token_counts: &'a [usize],
}

impl<'a> ResponseTarget<'a> {
    /// A float response for `model`, without shortening, for inputs with these token counts.
    pub const fn new(model: &'a str, token_counts: &'a [usize]) -> Self {
        ResponseTarget {
            model,
            format: EncodingFormat::Float,
            dimensions: None,
            token_counts,
        }
    }

    /// The encoding the client asked for (`encoding_format`).
    pub const fn with_format(self, format: EncodingFormat) -> Self {
        ResponseTarget { format, ..self }
    }

    /// The `dimensions` the client asked for, if any: longer vectors are shortened to it
    /// (first `dimensions` values, unit norm), vectors of that length pass unchanged, shorter
    /// ones are an error.
    pub const fn with_dimensions(self, dimensions: Option<usize>) -> Self {
        ResponseTarget { dimensions, ..self }
    }

    /// How many inputs the client sent: the number of vectors the response must have.
    pub const fn inputs(&self) -> usize {
        self.token_counts.len()
    }
}

impl<'a> From<&'a Checked<'_>> for ResponseTarget<'a> {
    /// What a checked request asks for: its model as the client named it, its encoding,
    /// its dimensions and its token counts.
    ///
    /// ```
    /// use embedguard::{EncodingFormat, Policy, ResponseTarget, transcode_response};
    /// let request = br#"{"model":"text-embedding-3-small","input":["a b","c"],"encoding_format":"base64","dimensions":1}"#;
    /// let checked = Policy::openai().check(request)?;
    /// let target = ResponseTarget::from(&checked);
    /// assert_eq!(target, ResponseTarget::new("text-embedding-3-small", &[2, 1])
    ///     .with_format(EncodingFormat::Base64)
    ///     .with_dimensions(Some(1)));
    ///
    /// // An upstream that ignores `dimensions` and `encoding_format`, and leaves out usage:
    /// let upstream = br#"{"object":"list","data":[{"index":0,"embedding":[0.6,0.8]},{"index":1,"embedding":[-3.0,4.0]}],"model":"x"}"#;
    /// assert_eq!(
    ///     transcode_response(upstream, &target).unwrap(),
    ///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPw=="},{"object":"embedding","index":1,"embedding":"AACAvw=="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}"#
    /// );
    /// # Ok::<(), embedguard::RequestError>(())
    /// ```
    fn from(checked: &'a Checked<'_>) -> Self {
        ResponseTarget::new(checked.model(), checked.token_counts())
            .with_format(checked.encoding_format())
            .with_dimensions(checked.dimensions())
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
    /// Vectors of different lengths in one response.
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
/// target asks: its encoding, its model, its dimensions (longer vectors are shortened), and
/// usage summed from its token counts.
///
/// No JSON tree is built: the body is written straight into the string.
///
/// ```
/// use embedguard::{EncodingFormat, ResponseTarget, encode_response};
/// let counts = [3, 4];
/// let target = ResponseTarget::new("text-embedding-3-small", &counts);
/// let body = encode_response(&[vec![0.6, 0.8], vec![1.0, 0.0]], &target).unwrap();
/// assert_eq!(
///     body,
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]},{"object":"embedding","index":1,"embedding":[1.0,0.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":7,"total_tokens":7}}"#
/// );
///
/// let target = target.with_format(EncodingFormat::Base64).with_dimensions(Some(1));
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
/// use embedguard::{ResponseError, ResponseTarget, encode_response_into};
/// let counts = [3, 4];
/// let target = ResponseTarget::new("m", &counts);
/// let mut out = String::new();
/// let err = encode_response_into([[1.0]], &target, &mut out).unwrap_err();
/// assert_eq!(err.to_string(), "fewer vectors (1) than inputs (2)");
/// let err = encode_response_into([[1.0], [f32::NAN]], &target, &mut out).unwrap_err();
/// assert_eq!(err.to_string(), "the vector for input 1: value 0 is NaN, which has no JSON form");
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
    writer.finish(Usage::from_counts(target.token_counts));
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
/// string, decoded strictly. The body must be an object with `"object": "list"` and `data`, an array of
/// items with an `index` (each of `0..n` exactly once, in any order) and an `embedding`;
/// an item's `object`, if present, must be `"embedding"`. `model` and `usage` may be absent;
/// other members are ignored.
///
/// ```
/// use embedguard::{Usage, decode_response};
/// let body = br#"{"object":"list","data":[
///     {"object":"embedding","index":1,"embedding":"AACAPw=="},
///     {"object":"embedding","index":0,"embedding":[0.1,-2.5e-3]}
/// ],"model":"m","usage":{"prompt_tokens":9,"total_tokens":9}}"#;
/// let read = decode_response(body).unwrap();
/// assert_eq!(read.vectors, [vec![0.1, -2.5e-3], vec![1.0]]);
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
    let parsed = parse_body(0, body)?;
    let items = ordered_items(0, parsed.data, None)?;
    let mut vectors = Vec::with_capacity(items.len());
    for (index, raw) in items.into_iter().enumerate() {
        let mut vector = Vec::new();
        read_embedding(raw, &mut vector)
            .map_err(|source| ResponseError::Vector { index, source })?;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamPart<'a> {
    /// The client position of the first input this upstream was sent.
    pub start: usize,
    /// The upstream's response body.
    pub body: &'a [u8],
}

/// Rewrites one upstream's response as the client asked: bit-exact between float and
/// base64, shortened to the target's dimensions if the upstream returned longer vectors,
/// `model` as the client named it, usage from the upstream (or from the target's token
/// counts when the upstream left it out or reported zero).
///
/// The same as [`merge_responses`] with a single part starting at input 0.
///
/// ```
/// use embedguard::{EncodingFormat, ResponseTarget, transcode_response};
/// let upstream = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-2.0]}],"model":"text-embedding-3-small-v1","usage":{"prompt_tokens":0,"total_tokens":0}}"#;
/// let counts = [4];
/// let target = ResponseTarget::new("text-embedding-3-small", &counts).with_format(EncodingFormat::Base64);
/// assert_eq!(
///     transcode_response(upstream, &target).unwrap(),
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":4,"total_tokens":4}}"#
/// );
/// ```
pub fn transcode_response(
    body: &[u8],
    target: &ResponseTarget<'_>,
) -> Result<String, ResponseError> {
    merge_responses(&[UpstreamPart { start: 0, body }], target)
}

/// Merges the responses of several upstream calls, each answering a contiguous run of the
/// client's inputs, into the one response the client expects.
///
/// Parts come in input order, the first starting at input 0; each answers the inputs up to
/// the next part's start, the last up to the target's number of inputs. Indices are
/// renumbered to the client's positions and `data` is written in input order; a missing,
/// duplicate or out-of-range index is an error. Each vector is transcoded and, if longer
/// than the target's dimensions, shortened, as in [`transcode_response`]; all must end up
/// the same length. Usage is the sum of the parts' usage, taking the target's exact token
/// counts for a part whose upstream left usage out or reported zero tokens. `model` is the
/// target's.
///
/// The body is written as the parts are read, one vector at a time: beside the bodies and
/// the result it needs one vector and an index table per part.
///
/// ```
/// use embedguard::{ResponseTarget, UpstreamPart, decode_response, merge_responses};
/// let first = br#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":"AAAAQA=="},{"object":"embedding","index":0,"embedding":"AACAPw=="}],"model":"m","usage":{"prompt_tokens":5,"total_tokens":5}}"#;
/// let second = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AABAQA=="}],"model":"m"}"#;
/// let counts = [2, 3, 4];
/// let target = ResponseTarget::new("my-model", &counts);
/// let merged = merge_responses(
///     &[UpstreamPart { start: 0, body: first }, UpstreamPart { start: 2, body: second }],
///     &target,
/// )
/// .unwrap();
/// assert_eq!(
///     merged,
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0]},{"object":"embedding","index":1,"embedding":[2.0]},{"object":"embedding","index":2,"embedding":[3.0]}],"model":"my-model","usage":{"prompt_tokens":9,"total_tokens":9}}"#
/// );
/// let read = decode_response(merged.as_bytes()).unwrap();
/// assert_eq!(read.vectors, [[1.0], [2.0], [3.0]]);
/// ```
pub fn merge_responses(
    parts: &[UpstreamPart<'_>],
    target: &ResponseTarget<'_>,
) -> Result<String, ResponseError> {
    let inputs = target.inputs();
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
    let mut out = String::new();
    // Base64 upstream to float client is the largest growth: about 2.3 times.
    let mut writer = DataWriter::start(target, &mut out, inputs, given.saturating_mul(3));
    let mut usage = Usage::default();
    for (part, p) in parts.iter().enumerate() {
        let end = parts.get(part + 1).map_or(inputs, |next| next.start);
        let parsed = parse_body(part, p.body)?;
        let items = ordered_items(part, parsed.data, Some(end - p.start))?;
        let part_usage = parsed
            .usage
            .and_then(UpstreamUsage::known)
            .unwrap_or_else(|| Usage::from_counts(&target.token_counts[p.start..end]));
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
    Ok(out)
}

/// Writes `{"object":"list","data":[…],"model":…,"usage":…}` one item at a time.
struct DataWriter<'t, 'o> {
    target: &'t ResponseTarget<'t>,
    out: &'o mut String,
    /// The length every vector must have: the target's dimensions, or the first vector's.
    len: Option<usize>,
    /// A vector being shortened or transcoded.
    scratch: Vec<f32>,
    /// How many items to reserve room for once the first is written: no more than exist.
    reserve_items: usize,
    /// The most bytes to reserve up front, so that a hostile first vector cannot make the
    /// writer reserve more than a small multiple of what it was given.
    reserve_limit: usize,
}

impl<'t, 'o> DataWriter<'t, 'o> {
    fn start(
        target: &'t ResponseTarget<'t>,
        out: &'o mut String,
        reserve_items: usize,
        reserve_limit: usize,
    ) -> Self {
        out.push_str(r#"{"object":"list","data":["#);
        DataWriter {
            target,
            out,
            len: target.dimensions,
            scratch: Vec::new(),
            reserve_items,
            reserve_limit,
        }
    }

    /// Writes the item for input `index`, shortening a copy of `values` if it is longer
    /// than the target's dimensions.
    fn vector(&mut self, index: usize, values: &[f32]) -> Result<(), ResponseError> {
        match self.target.dimensions {
            Some(d) if values.len() != d => {
                self.scratch.clear();
                self.scratch.extend_from_slice(values);
                self.scratch_vector(index)
            }
            _ => self.item(index, values),
        }
    }

    /// Writes the item for input `index` from `self.scratch`, shortening it in place.
    fn scratch_vector(&mut self, index: usize) -> Result<(), ResponseError> {
        let mut values = std::mem::take(&mut self.scratch);
        let result = self
            .shortened(index, &mut values)
            .and_then(|()| self.item(index, &values));
        self.scratch = values;
        result
    }

    fn shortened(&self, index: usize, values: &mut Vec<f32>) -> Result<(), ResponseError> {
        match self.target.dimensions {
            Some(d) if values.len() != d => {
                shorten(values, d).map_err(|source| ResponseError::Vector { index, source })
            }
            _ => Ok(()),
        }
    }

    fn item(&mut self, index: usize, values: &[f32]) -> Result<(), ResponseError> {
        let expected = *self.len.get_or_insert(values.len());
        if values.len() != expected {
            return Err(ResponseError::LengthMismatch {
                index,
                len: values.len(),
                expected,
            });
        }
        if index == 0 {
            // Size the whole body once the vectors' length is known: exact for base64,
            // about 12 characters a value for floats.
            let vector = match self.target.format {
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
        match self.target.format {
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
        let model = serde_json::Value::from(self.target.model).to_string();
        let _ = write!(
            self.out,
            r#"],"model":{model},"usage":{{"prompt_tokens":{},"total_tokens":{}}}}}"#,
            usage.prompt_tokens, usage.total_tokens
        );
    }
}

/// An upstream's body, with each embedding left as its JSON text until it is needed.
#[derive(Deserialize)]
#[serde(expecting = "an embeddings response object")]
struct UpstreamBody<'a> {
    #[allow(dead_code, reason = "checked while deserializing")]
    object: Tag<List>,
    #[serde(borrow)]
    data: Vec<UpstreamItem<'a>>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
}

#[derive(Deserialize)]
#[serde(expecting = "an embedding item object")]
struct UpstreamItem<'a> {
    #[serde(default)]
    #[allow(dead_code, reason = "checked while deserializing")]
    object: Option<Tag<Embedding>>,
    index: usize,
    #[serde(borrow)]
    embedding: &'a RawValue,
}

#[derive(Deserialize)]
#[serde(expecting = "a usage object")]
struct UpstreamUsage {
    #[serde(default)]
    prompt_tokens: Option<usize>,
    #[serde(default)]
    total_tokens: Option<usize>,
}

impl UpstreamUsage {
    /// The usage, unless it is missing or zero; a missing `total_tokens` is `prompt_tokens`.
    fn known(self) -> Option<Usage> {
        let prompt_tokens = self.prompt_tokens.filter(|&n| n > 0)?;
        let total_tokens = self
            .total_tokens
            .filter(|&n| n > 0)
            .unwrap_or(prompt_tokens);
        Some(Usage {
            prompt_tokens,
            total_tokens,
        })
    }
}

/// A member whose value must be one fixed string.
struct Tag<T>(PhantomData<T>);

trait TagValue {
    const VALUE: &'static str;
}

struct List;
impl TagValue for List {
    const VALUE: &'static str = "list";
}

struct Embedding;
impl TagValue for Embedding {
    const VALUE: &'static str = "embedding";
}

impl<'de, T: TagValue> Deserialize<'de> for Tag<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Cow::<'de, str>::deserialize(deserializer)?;
        if value != T::VALUE {
            return Err(D::Error::invalid_value(
                Unexpected::Str(&value),
                &QuotedTag(T::VALUE),
            ));
        }
        Ok(Tag(PhantomData))
    }
}

struct QuotedTag(&'static str);
impl serde::de::Expected for QuotedTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

fn parse_body(part: usize, body: &[u8]) -> Result<UpstreamBody<'_>, ResponseError> {
    serde_json::from_slice(body).map_err(|err| ResponseError::invalid_body(part, &err))
}

/// The items' embeddings in index order, checking that the indices are `0..inputs` (or
/// `0..data.len()` when the number of inputs is not known), each exactly once.
fn ordered_items<'a>(
    part: usize,
    mut data: Vec<UpstreamItem<'a>>,
    inputs: Option<usize>,
) -> Result<Vec<&'a RawValue>, ResponseError> {
    let inputs = inputs.unwrap_or(data.len());
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
fn read_embedding(raw: &RawValue, out: &mut Vec<f32>) -> Result<(), VectorError> {
    let text = raw.get();
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
