//! Planning: a checked request split into upstream calls that respect the upstream's caps,
//! and what the responses to it must be (the one bridge from the request side to the
//! response side).

use std::fmt::Write as _;
use std::ops::Range;

use crate::error::{ErrorKind, InputShape, RequestError};
use crate::policy::{Checked, MAX_INPUTS, MAX_REQUEST_TOKENS};
use crate::request::{EncodingFormat, Input, InputForm};
use crate::response::{ResponseTarget, UsageSource};
use crate::usage::Usage;

/// What one upstream accepts in a call, and how to ask it: the input of [`Upstream::plan`].
///
/// Its caps are all per call, and are the upstream's own, often lower than what the
/// gateway accepts from its clients (e.g. 96 inputs, or 20,000 tokens, a call). Every cap
/// is literal: 0 means no call can carry anything (every plan fails), and `usize::MAX`
/// means no cap.
///
/// ```
/// use embedguard::{EncodingFormat, Upstream};
/// let upstream = Upstream::openai()
///     .with_max_inputs_per_call(96)
///     .with_max_tokens_per_call(20_000)
///     .with_max_body_bytes_per_call(2 << 20)
///     .with_encoding_format(Some(EncodingFormat::Base64));
/// assert_eq!(upstream.max_inputs_per_call(), 96);
/// assert_eq!(upstream.max_tokens_per_call(), 20_000);
/// assert_eq!(upstream.max_body_bytes_per_call(), 2 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    max_inputs: usize,
    max_tokens: usize,
    max_body_bytes: usize,
    model: Option<String>,
    encoding_format: Option<EncodingFormat>,
    dimensions: bool,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream::openai()
    }
}

impl Upstream {
    /// OpenAI's own caps (2048 inputs, 300,000 tokens a call; no cap on the body, as
    /// OpenAI publishes none); the model sent under the policy's name for it; vectors
    /// asked for in the client's format; `dimensions` passed through.
    pub const fn openai() -> Upstream {
        Upstream {
            max_inputs: MAX_INPUTS,
            max_tokens: MAX_REQUEST_TOKENS,
            max_body_bytes: usize::MAX,
            model: None,
            encoding_format: None,
            dimensions: true,
        }
    }

    /// Sets the most inputs one call may carry.
    pub const fn with_max_inputs_per_call(mut self, n: usize) -> Upstream {
        self.max_inputs = n;
        self
    }

    /// Sets the most tokens one call may carry, summed over its inputs.
    pub const fn with_max_tokens_per_call(mut self, n: usize) -> Upstream {
        self.max_tokens = n;
        self
    }

    /// Sets the largest request body one call may have, in bytes: the upstream's own
    /// body limit. A call's body can be longer than the client's (the gateway may add
    /// `encoding_format`, or a longer model name), so a client body at the gateway's
    /// own limit is split rather than refused by the upstream.
    pub const fn with_max_body_bytes_per_call(mut self, n: usize) -> Upstream {
        self.max_body_bytes = n;
        self
    }

    /// Sends every call under this model name instead of the policy's name for the
    /// model (for an upstream that knows the model by another name).
    pub fn with_model(mut self, name: impl Into<String>) -> Upstream {
        self.model = Some(name.into());
        self
    }

    /// Asks the upstream for this format whatever the client asked for (`None`: the
    /// client's format). Base64 is about a quarter of the size of float JSON and
    /// transcodes bit-exactly to either.
    pub const fn with_encoding_format(mut self, format: Option<EncodingFormat>) -> Upstream {
        self.encoding_format = format;
        self
    }

    /// Says whether the upstream supports `dimensions`. When it does not, calls leave
    /// `dimensions` out and the gateway shortens the vectors itself
    /// ([`Plan::shorten_to`]).
    pub const fn with_dimensions(mut self, supported: bool) -> Upstream {
        self.dimensions = supported;
        self
    }

    /// The most inputs one call may carry.
    pub const fn max_inputs_per_call(&self) -> usize {
        self.max_inputs
    }

    /// The most tokens one call may carry.
    pub const fn max_tokens_per_call(&self) -> usize {
        self.max_tokens
    }

    /// The largest body one call may have, in bytes.
    pub const fn max_body_bytes_per_call(&self) -> usize {
        self.max_body_bytes
    }

    /// The model name sent upstream, when set with [`Upstream::with_model`].
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The format asked of the upstream, when fixed.
    pub const fn encoding_format(&self) -> Option<EncodingFormat> {
        self.encoding_format
    }

    /// Whether the upstream supports `dimensions`.
    pub const fn supports_dimensions(&self) -> bool {
        self.dimensions
    }

    /// Splits a checked request into calls within this upstream's caps.
    ///
    /// Inputs keep their order and are never split: each [`Part`] holds a run of
    /// consecutive inputs, as many as fit (fewest calls), and a request body for the
    /// upstream in the client's input form, with the model, `dimensions` and `user` of
    /// the request and the members the policy let through, as written.
    ///
    /// # Errors
    ///
    /// An input that no call can carry without cutting it, the first in order:
    /// - more tokens than a call may carry: the contract's "maximum context length"
    ///   400 (rule 17), with the cap as the limit;
    /// - a call body holding it alone longer than the body cap: the 413 (rule 1), with
    ///   that body's length and the cap;
    /// - a cap of 0 inputs a call: more inputs than allowed, the 400 of rule 13.
    ///
    /// ```
    /// use embedguard::{Policy, Upstream};
    /// let body = br#"{"model":"text-embedding-3-small","input":["a","b c","d"],"user":"u1"}"#;
    /// let checked = Policy::openai().check(body)?;
    /// let plan = Upstream::openai().with_max_inputs_per_call(2).plan(&checked)?;
    /// let parts = plan.parts();
    /// assert_eq!(parts.len(), 2);
    /// assert_eq!((parts[1].start(), parts[1].len()), (2, 1));
    /// assert_eq!(parts[0].token_counts(), &[1, 2]);
    /// assert_eq!(
    ///     parts[1].body(),
    ///     r#"{"model":"text-embedding-3-small","input":["d"],"encoding_format":"float","user":"u1"}"#
    /// );
    ///
    /// // At most 92 bytes a call: the whole request is 96, so two calls.
    /// let plan = Upstream::openai().with_max_body_bytes_per_call(92).plan(&checked)?;
    /// let lens: Vec<usize> = plan.parts().iter().map(|p| p.body().len()).collect();
    /// assert_eq!(lens, [92, 86]);
    /// // No call can carry the first input alone: the upstream would refuse it.
    /// let err = Upstream::openai().with_max_body_bytes_per_call(85).plan(&checked).unwrap_err();
    /// assert_eq!(err.status(), 413);
    /// assert_eq!(err.message(), "Request body too large: 86 bytes exceeds the limit of 85 bytes.");
    /// # Ok::<(), embedguard::RequestError>(())
    /// ```
    pub fn plan(&self, checked: &Checked<'_>) -> Result<Plan, RequestError> {
        Ok(self.plan_kind(checked)?)
    }

    fn plan_kind(&self, checked: &Checked<'_>) -> Result<Plan, ErrorKind> {
        let counts = checked.token_counts();
        let encoding_format = self.encoding_format.unwrap_or(checked.encoding_format());
        let send_dimensions = checked.dimensions().filter(|_| self.dimensions);
        let shorten_to = checked.dimensions().filter(|_| !self.dimensions);
        let head = BodyHead {
            model: self.model.as_deref().unwrap_or(checked.model_spec().name()),
            encoding_format,
            dimensions: send_dimensions,
            checked,
        };
        if self.max_inputs == 0 {
            return Err(ErrorKind::InvalidInput(InputShape::TooManyInputs {
                limit: 0,
            }));
        }
        let overhead = head.overhead();
        let mut ranges = Vec::new();
        // The current call: its first input, its tokens, its body's length so far.
        let (mut start, mut tokens, mut bytes) = (0, 0usize, overhead);
        for (index, (&count, input)) in counts.iter().zip(checked.inputs()).enumerate() {
            if count > self.max_tokens {
                return Err(ErrorKind::InputTooLong {
                    index,
                    tokens_at_least: count,
                    limit: self.max_tokens,
                });
            }
            let len = json_input_len(input);
            let alone = overhead.saturating_add(len);
            if alone > self.max_body_bytes {
                return Err(ErrorKind::BodyTooLarge {
                    len: alone,
                    limit: self.max_body_bytes,
                });
            }
            let full = index - start == self.max_inputs
                || tokens.saturating_add(count) > self.max_tokens
                || bytes.saturating_add(len + 1) > self.max_body_bytes;
            if index > start && full {
                ranges.push(start..index);
                (start, tokens, bytes) = (index, 0, overhead);
            }
            tokens += count;
            // One comma before every input but the first of a call.
            bytes = bytes.saturating_add(len + usize::from(index > start));
        }
        if start < counts.len() {
            ranges.push(start..counts.len());
        }
        let parts = ranges
            .into_iter()
            .map(|range| Part {
                start: range.start,
                token_counts: counts[range.clone()].to_vec(),
                body: head.body(range, overhead),
            })
            .collect();
        Ok(Plan {
            parts,
            encoding_format,
            shorten_to,
            usage: checked.usage(),
        })
    }
}

/// A request split into upstream calls, in input order. Made by [`Upstream::plan`].
///
/// # Example: split, send, merge
///
/// ```
/// use embedguard::{
///     EncodingFormat, Policy, ResponseTarget, Upstream, UpstreamPart, merge_responses,
/// };
///
/// let body = br#"{"model":"text-embedding-3-small","input":["a","b","c"],"dimensions":2}"#;
/// let checked = Policy::openai().check(body)?;
/// let upstream = Upstream::openai()
///     .with_max_inputs_per_call(2)
///     .with_encoding_format(Some(EncodingFormat::Base64));
/// let plan = upstream.plan(&checked)?;
///
/// // Send each part's body to the upstream (concurrently, if you like); here, canned
/// // answers, the first without usage.
/// let answers = [
///     r#"{"object":"list","data":[{"object":"embedding","index":1,"embedding":"AACAPwAAAAA="},{"object":"embedding","index":0,"embedding":"AAAAAAAAgD8="}],"model":"x"}"#,
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAAA="}],"model":"x","usage":{"prompt_tokens":1,"total_tokens":1}}"#,
/// ];
/// let parts: Vec<UpstreamPart<'_>> = plan
///     .parts()
///     .iter()
///     .zip(answers)
///     .map(|(part, answer)| UpstreamPart::new(part.start(), answer.as_bytes()))
///     .collect();
/// let merged = merge_responses(&parts, &ResponseTarget::from(&checked)).expect("valid upstream answers");
/// assert_eq!(
///     merged,
///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0,1.0]},{"object":"embedding","index":1,"embedding":[1.0,0.0]},{"object":"embedding","index":2,"embedding":[1.0,0.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}"#
/// );
/// # Ok::<(), embedguard::RequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    parts: Vec<Part>,
    encoding_format: EncodingFormat,
    shorten_to: Option<usize>,
    usage: Usage,
}

impl Plan {
    /// The calls, in input order; together they hold every input exactly once.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The calls, owned (to move each body into its own task).
    pub fn into_parts(self) -> Vec<Part> {
        self.parts
    }

    /// The format every call asks the upstream for.
    pub fn encoding_format(&self) -> EncodingFormat {
        self.encoding_format
    }

    /// The `dimensions` the gateway must shorten vectors to itself, because the client
    /// asked for them and the upstream does not support them.
    pub fn shorten_to(&self) -> Option<usize> {
        self.shorten_to
    }

    /// The whole request's usage: the sum over the parts.
    pub fn usage(&self) -> Usage {
        self.usage
    }
}

/// One upstream call: a run of consecutive inputs and its request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    start: usize,
    token_counts: Vec<usize>,
    body: String,
}

impl Part {
    /// The client's position of this call's first input: the upstream's `index` 0.
    pub fn start(&self) -> usize {
        self.start
    }

    /// How many inputs this call carries.
    pub fn len(&self) -> usize {
        self.token_counts.len()
    }

    /// Always false: a part carries at least one input.
    pub fn is_empty(&self) -> bool {
        self.token_counts.is_empty()
    }

    /// The client's positions of this call's inputs.
    pub fn range(&self) -> Range<usize> {
        self.start..self.start + self.len()
    }

    /// The exact token count of each input of this call, in order.
    pub fn token_counts(&self) -> &[usize] {
        &self.token_counts
    }

    /// This call's usage: what the upstream should report, and what to count when it
    /// reports nothing.
    pub fn usage(&self) -> Usage {
        Usage::from_counts(&self.token_counts)
    }

    /// The request body to send (JSON).
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The request body, owned.
    pub fn into_body(self) -> String {
        self.body
    }
}

/// Everything a part's body shares with the others.
struct BodyHead<'c, 'a> {
    model: &'c str,
    encoding_format: EncodingFormat,
    dimensions: Option<usize>,
    checked: &'c Checked<'a>,
}

impl BodyHead<'_, '_> {
    /// Whether `input` is written as an array of inputs (the client's array forms).
    fn array(&self) -> bool {
        match self.checked.input_form() {
            // One input: the client's form is the upstream's.
            InputForm::Text | InputForm::TokenArray => false,
            InputForm::Texts | InputForm::TokenArrays => true,
        }
    }

    /// The length of a body with no inputs: every part's body is this, plus its inputs
    /// and a comma between each two.
    fn overhead(&self) -> usize {
        let mut out = String::new();
        self.write(&mut out, &[]);
        out.len()
    }

    /// The body of the inputs in `range`; `overhead` is [`BodyHead::overhead`].
    fn body(&self, range: Range<usize>, overhead: usize) -> String {
        let inputs = &self.checked.inputs()[range];
        let len = overhead
            + inputs.iter().map(json_input_len).sum::<usize>()
            + inputs.len().saturating_sub(1);
        let mut out = String::with_capacity(len);
        self.write(&mut out, inputs);
        debug_assert_eq!(out.len(), len, "planned lengths are exact");
        out
    }

    fn write(&self, out: &mut String, inputs: &[Input<'_>]) {
        let checked = self.checked;
        out.push_str("{\"model\":");
        push_json_string(out, self.model);
        out.push_str(",\"input\":");
        if self.array() {
            out.push('[');
        }
        for (i, input) in inputs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_input(out, input);
        }
        if self.array() {
            out.push(']');
        }
        out.push_str(",\"encoding_format\":\"");
        out.push_str(self.encoding_format.as_str());
        out.push('"');
        if let Some(n) = self.dimensions {
            let _ = write!(out, ",\"dimensions\":{n}");
        }
        if let Some(user) = checked.user() {
            out.push_str(",\"user\":");
            push_json_string(out, user);
        }
        for (name, value) in checked.extra_members() {
            out.push(',');
            push_json_string(out, name);
            out.push(':');
            out.push_str(value);
        }
        out.push('}');
    }
}

/// The exact number of bytes [`push_input`] writes for an input.
fn json_input_len(input: &Input<'_>) -> usize {
    match input {
        Input::Text(text) => json_string_len(text),
        Input::Tokens(ids) => {
            let digits: usize = ids.iter().map(|&id| decimal_len(id)).sum();
            digits + ids.len().saturating_sub(1) + 2
        }
    }
}

fn decimal_len(mut n: u32) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn push_input(out: &mut String, input: &Input<'_>) {
    match input {
        Input::Text(text) => push_json_string(out, text),
        Input::Tokens(ids) => {
            out.push('[');
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{id}");
            }
            out.push(']');
        }
    }
}

/// The exact number of bytes [`push_json_string`] writes for `text`.
fn json_string_len(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Writes `text` as a JSON string: `"` and `\` escaped, control characters as
/// `\n`-style or `\u00XX` escapes, everything else as is (JSON is UTF-8).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&text[plain..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&text[plain..]);
    out.push('"');
}

/// The bridge from the request side to the response side: a checked request says what
/// its responses must be.
impl<'a> From<&'a Checked<'_>> for ResponseTarget<'a> {
    /// What a checked request asks for: its model as the client named it, the model's
    /// native length, its encoding, its dimensions and its token counts; usage counted
    /// when the counts are exact ([`Checked::exact`]), the upstream's when they are
    /// estimates.
    ///
    /// ```
    /// use embedguard::{EncodingFormat, Policy, ResponseTarget, transcode_response};
    /// let request = br#"{"model":"text-embedding-3-small","input":["a b","c"],"encoding_format":"base64","dimensions":1}"#;
    /// let checked = Policy::openai().check(request)?;
    /// let target = ResponseTarget::from(&checked);
    /// assert_eq!(target, ResponseTarget::new("text-embedding-3-small", 1536, &[2, 1])
    ///     .with_encoding_format(EncodingFormat::Base64)
    ///     .with_dimensions(Some(1)));
    ///
    /// // An upstream that ignores `encoding_format`, and leaves out usage:
    /// let upstream = br#"{"object":"list","data":[{"index":0,"embedding":[0.6]},{"index":1,"embedding":[-3.0]}],"model":"x"}"#;
    /// assert_eq!(
    ///     transcode_response(upstream, &target).unwrap(),
    ///     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"mpkZPw=="},{"object":"embedding","index":1,"embedding":"AABAwA=="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}"#
    /// );
    /// # Ok::<(), embedguard::RequestError>(())
    /// ```
    fn from(checked: &'a Checked<'_>) -> Self {
        ResponseTarget::new(
            checked.model(),
            checked.model_spec().native_dimensions(),
            checked.token_counts(),
        )
        .with_encoding_format(checked.encoding_format())
        .with_dimensions(checked.dimensions())
        .with_usage_source(if checked.exact() {
            UsageSource::Counted
        } else {
            UsageSource::Upstream
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> String {
        let mut out = String::new();
        push_json_string(&mut out, text);
        out
    }

    proptest::proptest! {
        #[test]
        fn prop_planned_lengths_are_the_written_lengths(
            text in "(\\PC|[\u{0}-\u{1f}\"\\\\\u{7f}])*",
            ids in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..20),
        ) {
            let mut out = String::new();
            push_json_string(&mut out, &text);
            proptest::prop_assert_eq!(out.len(), json_string_len(&text));
            for input in [Input::Text(text.into()), Input::Tokens(ids)] {
                let mut out = String::new();
                push_input(&mut out, &input);
                proptest::prop_assert_eq!(out.len(), json_input_len(&input));
            }
        }
    }

    #[test]
    fn decimal_lengths() {
        for n in [0, 9, 10, 99, 100, 100_255, 999_999, 1_000_000, u32::MAX] {
            assert_eq!(decimal_len(n), n.to_string().len(), "{n}");
        }
    }

    #[test]
    fn json_strings_escape_what_json_requires() {
        assert_eq!(json("plain"), r#""plain""#);
        assert_eq!(json("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(json("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(json("\u{0}\u{1f}\u{7f}é😀"), "\"\\u0000\\u001f\u{7f}é😀\"");
        for text in ["", "\u{0}x\"", "ünï\u{1}cödé\\"] {
            let back: String = serde_json::from_str(&json(text)).unwrap();
            assert_eq!(back, text);
        }
    }
}
