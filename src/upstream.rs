//! Reading an upstream's response body into its items, each embedding left as its JSON text.
//!
//! Two readers give the same result: [`read`], serde_json with its exact errors, and
//! [`read_quick`], which only ever answers for a valid body. serde_json validates every
//! number of an embedding array it skips, and a 2048 x 3072 float response is six million
//! numbers, half the time of transcoding it; the quick reader finds an array's end with
//! `memchr` and leaves its numbers to the strict float parser that reads them anyway.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Error as _, IgnoredAny, Unexpected};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::json::Reader;
use crate::usage::Usage;

/// An upstream's body.
pub(crate) struct UpstreamBody<'a> {
    pub(crate) data: Vec<UpstreamItem<'a>>,
    pub(crate) model: Option<String>,
    pub(crate) usage: Option<UpstreamUsage>,
}

/// One item of `data`.
pub(crate) struct UpstreamItem<'a> {
    pub(crate) index: usize,
    /// The embedding's JSON text as written: an array or a string, quotes included.
    pub(crate) embedding: &'a str,
}

/// Reads `body` with serde_json: the error says what is wrong and where.
pub(crate) fn read(body: &[u8]) -> Result<UpstreamBody<'_>, serde_json::Error> {
    let body: SerdeBody<'_> = serde_json::from_slice(body)?;
    Ok(UpstreamBody {
        data: body
            .data
            .into_iter()
            .map(|item| UpstreamItem {
                index: item.index,
                embedding: item.embedding.get(),
            })
            .collect(),
        model: body.model,
        usage: body.usage,
    })
}

/// Reads `body` as [`read`] would, or gives up (`None`) on anything it is not sure of: then
/// the caller reads it with [`read`] for the error.
///
/// One exception to "as [`read`] would": an embedding array's text runs to its first `]`,
/// and its contents are not checked here. The caller must parse it strictly (a JSON array
/// of numbers) and fall back to [`read`] if that fails; only then is the body known to be
/// one serde_json accepts. Every other value is checked by the reader and then
/// deserialized by serde_json from its own text, so types and their errors stay serde's.
pub(crate) fn read_quick(body: &[u8]) -> Option<UpstreamBody<'_>> {
    // Well inside serde_json's recursion limit of 128, counted from the body's start.
    let mut reader = Reader::new(body, 64);
    let (mut object, mut data, mut model, mut usage) = (false, None, None, None);
    reader.skip_ws();
    reader
        .parse_object_members(|reader, _, key| {
            let key = plain_key(key)?;
            let duplicate = match key {
                "object" => {
                    value::<Tag<List>>(reader)?;
                    std::mem::replace(&mut object, true)
                }
                "data" => data.replace(read_data(reader)?).is_some(),
                "model" => model.replace(value::<Option<String>>(reader)?).is_some(),
                "usage" => usage
                    .replace(value::<Option<UpstreamUsage>>(reader)?)
                    .is_some(),
                _ => value::<IgnoredAny>(reader).map(|_| false)?,
            };
            if duplicate { Err(reader.pos) } else { Ok(()) }
        })
        .ok()?;
    reader.expect_end().ok()?;
    Some(UpstreamBody {
        data: data.filter(|_| object)?,
        model: model.flatten(),
        usage: usage.flatten(),
    })
}

/// The key, if it is one serde_json would read as written: no escapes, no control bytes.
fn plain_key(key: Cow<'_, str>) -> Result<&str, usize> {
    match key {
        Cow::Borrowed(key) if !key.bytes().any(|b| b < 0x20) => Ok(key),
        _ => Err(0),
    }
}

/// The value at the reader, checked and then deserialized by serde_json from its text.
fn value<'a, T: Deserialize<'a>>(reader: &mut Reader<'a>) -> Result<T, usize> {
    let start = reader.pos;
    reader.skip_value()?;
    let text = reader.text(start, reader.pos);
    serde_json::from_str(text).map_err(|_| start)
}

/// `data`: an array of item objects.
fn read_data<'a>(reader: &mut Reader<'a>) -> Result<Vec<UpstreamItem<'a>>, usize> {
    let mut items = Vec::new();
    if reader.open_container(b'[', b']')? {
        return Ok(items);
    }
    loop {
        reader.skip_ws();
        items.push(read_item(reader)?);
        if reader.close_item(b']')? {
            return Ok(items);
        }
    }
}

/// One item: `index`, `embedding`, `object` if present (`"embedding"`), anything else ignored.
fn read_item<'a>(reader: &mut Reader<'a>) -> Result<UpstreamItem<'a>, usize> {
    let (mut object, mut index, mut embedding) = (false, None, None);
    if reader.peek() != Some(b'{') {
        return Err(reader.pos);
    }
    reader.parse_object_members(|reader, _, key| {
        let duplicate = match plain_key(key)? {
            "object" => {
                value::<Option<Tag<Embedding>>>(reader)?;
                std::mem::replace(&mut object, true)
            }
            "index" => index.replace(value::<usize>(reader)?).is_some(),
            "embedding" => embedding.replace(embedding_text(reader)?).is_some(),
            _ => value::<IgnoredAny>(reader).map(|_| false)?,
        };
        if duplicate { Err(reader.pos) } else { Ok(()) }
    })?;
    Ok(UpstreamItem {
        index: index.ok_or(reader.pos)?,
        embedding: embedding.ok_or(reader.pos)?,
    })
}

/// An embedding's text: a string (checked), or an array up to its first `]` (not checked:
/// see [`read_quick`]).
fn embedding_text<'a>(reader: &mut Reader<'a>) -> Result<&'a str, usize> {
    let start = reader.pos;
    match reader.peek() {
        Some(b'[') => {
            let rest = reader.bytes.get(start..).unwrap_or_default();
            let close = memchr::memchr(b']', rest).ok_or(start)?;
            reader.pos = start + close + 1;
            let text = reader.bytes.get(start..reader.pos).unwrap_or_default();
            simdutf8::basic::from_utf8(text).map_err(|_| start)
        }
        Some(b'"') => {
            reader.skip_string()?;
            Ok(reader.text(start, reader.pos))
        }
        _ => Err(start),
    }
}

/// serde_json's view of a body, each embedding left as its JSON text.
#[derive(Deserialize)]
#[serde(expecting = "an embeddings response object")]
struct SerdeBody<'a> {
    #[allow(dead_code, reason = "checked while deserializing")]
    object: Tag<List>,
    #[serde(borrow)]
    data: Vec<SerdeItem<'a>>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<UpstreamUsage>,
}

#[derive(Deserialize)]
#[serde(expecting = "an embedding item object")]
struct SerdeItem<'a> {
    #[serde(default)]
    #[allow(dead_code, reason = "checked while deserializing")]
    object: Option<Tag<Embedding>>,
    index: usize,
    #[serde(borrow)]
    embedding: &'a RawValue,
}

/// The usage an upstream reported.
#[derive(Deserialize)]
#[serde(expecting = "a usage object")]
pub(crate) struct UpstreamUsage {
    #[serde(default)]
    prompt_tokens: Option<usize>,
    #[serde(default)]
    total_tokens: Option<usize>,
}

impl UpstreamUsage {
    /// The usage, unless it is missing or zero; a missing `total_tokens` is `prompt_tokens`.
    pub(crate) fn known(self) -> Option<Usage> {
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
