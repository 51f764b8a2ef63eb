//! Shared checks of the fuzz targets.
//!
//! [`check_and_verify`] runs a body through a policy and asserts what must hold of any
//! answer: usage is the sum of the counts, every rejection carries a valid envelope with
//! a bounded message, and the JSON verdict agrees with serde_json (error 2 exactly when
//! serde_json rejects the body or it nests deeper than the limit). [`Request`] is a
//! structured request for `check_structured`, with [`Request::expected_rule`], a naive
//! reading of the contract's rules to compare with the library's answer.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use embedguard::{ErrorKind, Input, Policy, RequestError};
use serde::Deserialize as _;
use serde_json::Value;

/// The default policy, built once.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(Policy::openai)
}

/// No message may be longer than this, whatever the body: the longest fixed text is
/// error 2's (about 330 bytes), and values echoed from the body are cut to 64 bytes.
pub const MAX_MESSAGE: usize = 512;

/// The deepest nesting of `body` if it were JSON: brackets counted outside strings.
/// Exact for valid JSON, which is all the caller relies on.
pub fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// serde_json's reading of the body (its own depth limit off: the caller checks depth
/// first, so recursion stays shallow).
pub fn serde_json_value(body: &[u8]) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_slice(body);
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Whether serde_json reads `body` as JSON at all, into no value. Unlike [`serde_json_value`]
/// it does not trip over objects keyed by serde_json's private marker names
/// (`$serde_json::private::Number`), which `arbitrary_precision` and `raw_value` reject though
/// they are valid JSON.
pub fn serde_json_accepts(body: &[u8]) -> bool {
    let mut de = serde_json::Deserializer::from_slice(body);
    de.disable_recursion_limit();
    serde::de::IgnoredAny::deserialize(&mut de).is_ok() && de.end().is_ok()
}

/// Asserts that a rejection's envelope is the contract's: one `error` object with
/// exactly `message`, `type`, `param` and `code`, and a bounded message.
pub fn verify_envelope(err: &RequestError) {
    assert!(
        matches!(err.status(), 400 | 401 | 404 | 413),
        "status {}",
        err.status()
    );
    let json = err.to_json();
    let envelope: Value = serde_json::from_str(&json).expect("the envelope is JSON");
    let outer = envelope.as_object().expect("the envelope is an object");
    assert_eq!(outer.len(), 1, "only `error` in {json}");
    let error = outer["error"].as_object().expect("`error` is an object");
    assert_eq!(error.len(), 4, "four keys in {json}");
    let message = error["message"].as_str().expect("message is a string");
    assert_eq!(message, err.message());
    assert_eq!(message, err.to_string());
    assert!(
        message.len() <= MAX_MESSAGE,
        "message of {} bytes",
        message.len()
    );
    let kind = error["type"].as_str().expect("type is a string");
    assert!(matches!(
        kind,
        "invalid_request_error" | "max_tokens_per_request"
    ));
    assert!(
        error["param"].is_null() || error["param"].is_string(),
        "param in {json}"
    );
    assert!(
        error["code"].is_null() || error["code"].is_string(),
        "code in {json}"
    );
}

/// Checks `body` and asserts every invariant of the answer; returns the answer.
pub fn check_and_verify<'a>(
    policy: &Policy,
    body: &'a [u8],
) -> Result<embedguard::Checked<'a>, RequestError> {
    let limits = *policy.limits();
    let result = policy.check(body);
    if body.len() > limits.max_body_bytes() {
        let err = result.as_ref().expect_err("an oversized body is rejected");
        assert!(matches!(err.kind(), ErrorKind::BodyTooLarge { .. }));
        verify_envelope(err);
        return result;
    }
    let too_deep = nesting_depth(body) > limits.max_depth();
    let value = if too_deep {
        None
    } else {
        serde_json_value(body)
    };
    if !too_deep && value.is_none() && serde_json_accepts(body) {
        // JSON that serde_json's `Value` refuses for a marker name: no oracle to compare
        // with, only the envelope.
        if let Err(err) = &result {
            verify_envelope(err);
        }
        return result;
    }
    match &result {
        Ok(checked) => {
            let value = value.expect("an accepted body is JSON serde_json reads");
            let object = value.as_object().expect("an accepted body is an object");
            let counts = checked.token_counts();
            let sum: usize = counts.iter().sum();
            assert_eq!(checked.usage().prompt_tokens, sum);
            assert_eq!(checked.usage().total_tokens, sum);
            assert_eq!(counts.len(), checked.inputs().len());
            assert!(!counts.is_empty());
            assert!(counts.len() <= limits.max_inputs());
            assert!(sum <= limits.max_request_tokens());
            for (input, &count) in checked.inputs().iter().zip(counts) {
                assert!(count >= 1 && count <= limits.max_input_tokens());
                match input {
                    Input::Text(text) => assert_eq!(count, embedguard::cl100k().count(text)),
                    Input::Tokens(ids) => {
                        assert_eq!(count, ids.len());
                        assert!(ids.iter().all(|&id| embedguard::cl100k().is_token_id(id)));
                    }
                }
            }
            assert_eq!(Some(checked.model()), object["model"].as_str());
            assert_eq!(checked.user(), object.get("user").and_then(Value::as_str));
            match &object["input"] {
                Value::String(text) => assert_eq!(checked.inputs(), &[Input::Text(text.into())]),
                Value::Array(items) if items.iter().all(Value::is_string) => {
                    let texts: Vec<Input<'_>> = items
                        .iter()
                        .map(|t| Input::Text(t.as_str().unwrap_or_default().into()))
                        .collect();
                    assert_eq!(checked.inputs(), texts.as_slice());
                }
                Value::Array(_) => {}
                other => panic!("accepted input {other}"),
            }
        }
        Err(err) => {
            verify_envelope(err);
            let invalid_json = matches!(err.kind(), ErrorKind::InvalidJson { .. });
            assert_eq!(
                invalid_json,
                too_deep || value.is_none(),
                "error 2 exactly when serde_json rejects the body or it is too deep: {:?}",
                err.kind()
            );
            if let Some(value) = value {
                let not_object = matches!(err.kind(), ErrorKind::NotAnObject);
                assert_eq!(
                    not_object,
                    !value.is_object(),
                    "error 3 exactly for non-objects"
                );
            }
        }
    }
    result
}

// ---------------------------------------------------------------------------------------
// Structured requests

/// A request body as a list of members, rendered to JSON by [`Request::render`].
#[derive(Debug, Arbitrary)]
pub struct Request {
    pub members: Vec<(Name, Json)>,
    /// Write every string character as a `\u` escape (surrogate pairs beyond the BMP).
    pub escape_all: bool,
    /// Put this much JSON whitespace between tokens.
    pub spacing: Spacing,
}

/// A member name: the known ones, their spellings with escapes, or any text.
#[derive(Debug, Arbitrary, Clone)]
pub enum Name {
    Model,
    Input,
    EncodingFormat,
    Dimensions,
    User,
    Other(String),
}

impl Name {
    pub fn text(&self) -> &str {
        match self {
            Name::Model => "model",
            Name::Input => "input",
            Name::EncodingFormat => "encoding_format",
            Name::Dimensions => "dimensions",
            Name::User => "user",
            Name::Other(name) => name,
        }
    }
}

#[derive(Debug, Arbitrary, Clone, Copy)]
pub enum Spacing {
    None,
    Space,
    Mixed,
}

/// A JSON value; numbers keep the form they are written in.
#[derive(Debug, Arbitrary, Clone)]
pub enum Json {
    Null,
    Bool(bool),
    /// A likely token id.
    Id(u16),
    /// Ids near the holes of cl100k_base (100256..=100277 and beyond).
    NearHole(u8),
    Int(i64),
    /// Digits written as given: a long integer.
    Digits(Vec<u8>),
    /// A finite decimal, written with a fraction or exponent.
    Decimal(f64),
    Str(String),
    /// A known model name.
    Model(ModelName),
    /// `"float"` or `"base64"`.
    Format(bool),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

#[derive(Debug, Arbitrary, Clone, Copy)]
pub enum ModelName {
    Small,
    Large,
    Ada,
}

impl ModelName {
    fn name(self) -> &'static str {
        match self {
            ModelName::Small => "text-embedding-3-small",
            ModelName::Large => "text-embedding-3-large",
            ModelName::Ada => "text-embedding-ada-002",
        }
    }
}

/// The JSON text of a number value, as written.
fn number_text(value: &Json) -> Option<String> {
    Some(match value {
        Json::Id(id) => id.to_string(),
        Json::NearHole(k) => (100_250 + u32::from(*k)).to_string(),
        Json::Int(n) => n.to_string(),
        Json::Digits(digits) => {
            let mut text: String = digits.iter().map(|d| char::from(b'0' + d % 10)).collect();
            if text.is_empty() || text.len() > 1 && text.starts_with('0') {
                text.insert(0, '1');
            }
            text
        }
        Json::Decimal(x) => {
            let x = if x.is_finite() { *x } else { 0.5 };
            let text = format!("{x:?}");
            if text.contains(['.', 'e']) {
                text
            } else {
                format!("{text}.0")
            }
        }
        _ => return None,
    })
}

impl Request {
    /// The body, and its nesting depth.
    pub fn render(&self) -> (Vec<u8>, usize) {
        let mut out = String::new();
        let mut depth = 1;
        out.push('{');
        for (i, (name, value)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.space(&mut out);
            self.string(&mut out, name.text());
            self.space(&mut out);
            out.push(':');
            self.space(&mut out);
            depth = depth.max(1 + self.value(&mut out, value));
        }
        self.space(&mut out);
        out.push('}');
        (out.into_bytes(), depth)
    }

    fn space(&self, out: &mut String) {
        match self.spacing {
            Spacing::None => {}
            Spacing::Space => out.push(' '),
            Spacing::Mixed => out.push_str(" \t\r\n"),
        }
    }

    fn string(&self, out: &mut String, text: &str) {
        if !self.escape_all {
            out.push_str(&serde_json::to_string(text).expect("a string serializes"));
            return;
        }
        out.push('"');
        for c in text.chars() {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
        out.push('"');
    }

    /// Writes a value; returns its nesting depth (0 for a scalar).
    fn value(&self, out: &mut String, value: &Json) -> usize {
        match value {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Str(s) => self.string(out, s),
            Json::Model(m) => self.string(out, m.name()),
            Json::Format(b) => self.string(out, if *b { "base64" } else { "float" }),
            Json::Array(items) => {
                out.push('[');
                let mut depth = 0;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        self.space(out);
                    }
                    depth = depth.max(self.value(out, item));
                }
                out.push(']');
                return depth + 1;
            }
            Json::Object(members) => {
                out.push('{');
                let mut depth = 0;
                for (i, (key, item)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.string(out, key);
                    out.push(':');
                    depth = depth.max(self.value(out, item));
                }
                out.push('}');
                return depth + 1;
            }
            number => out.push_str(&number_text(number).expect("a number")),
        }
        0
    }

    /// The contract's answer, read naively from the members: the rule number (1 to 18)
    /// that rejects the request, or the counts of an accepted one. Assumes the body is
    /// within the size limit.
    pub fn expected(&self) -> Result<Vec<usize>, u8> {
        let (_, depth) = self.render();
        if depth > 128 {
            return Err(2);
        }
        let mut seen: Vec<&str> = Vec::new();
        for (name, _) in &self.members {
            if seen.contains(&name.text()) {
                return Err(4);
            }
            seen.push(name.text());
        }
        let get = |wanted: &str| {
            self.members
                .iter()
                .find(|(name, _)| name.text() == wanted)
                .map(|(_, value)| value)
        };
        const KNOWN: [&str; 5] = ["model", "input", "encoding_format", "dimensions", "user"];
        if seen.iter().any(|name| !KNOWN.contains(name)) {
            return Err(5);
        }
        let model = match get("model") {
            None | Some(Json::Null) => return Err(6),
            Some(Json::Str(s)) => s.as_str(),
            Some(Json::Model(m)) => m.name(),
            Some(Json::Format(b)) => {
                if *b {
                    "base64"
                } else {
                    "float"
                }
            }
            Some(_) => return Err(7),
        };
        let input = match get("input") {
            None | Some(Json::Null) => return Err(8),
            Some(input) => input,
        };
        match get("encoding_format") {
            None | Some(Json::Null | Json::Format(_)) => {}
            Some(Json::Str(s)) if s == "float" || s == "base64" => {}
            Some(_) => return Err(9),
        }
        match get("user") {
            None | Some(Json::Null | Json::Str(_) | Json::Model(_) | Json::Format(_)) => {}
            Some(_) => return Err(10),
        }
        let dimensions = get("dimensions");
        let dimensions_text = match dimensions {
            None | Some(Json::Null) => None,
            Some(value @ (Json::Id(_) | Json::NearHole(_) | Json::Int(_) | Json::Digits(_))) => {
                let text = number_text(value).expect("a number");
                if text.starts_with('-') || text == "0" {
                    return Err(12);
                }
                Some(text)
            }
            Some(_) => return Err(11),
        };
        let inputs = input_shape(input).ok_or(13u8)?;
        let native = match model {
            "text-embedding-3-small" | "text-embedding-ada-002" => 1536,
            "text-embedding-3-large" => 3072,
            _ => return Err(14),
        };
        if dimensions.is_some() && model == "text-embedding-ada-002" {
            return Err(15);
        }
        if let Some(text) = dimensions_text {
            if text.parse::<usize>().map_or(true, |n| n > native) {
                return Err(16);
            }
        }
        let counts: Vec<usize> = inputs
            .iter()
            .map(|input| match input {
                Counted::Text(text) => reference_count(text),
                Counted::Ids(n) => *n,
            })
            .collect();
        if counts.iter().any(|&n| n > 8192) {
            return Err(17);
        }
        if counts.iter().sum::<usize>() > 300_000 {
            return Err(18);
        }
        Ok(counts)
    }
}

enum Counted<'a> {
    Text(&'a str),
    Ids(usize),
}

fn text_of(value: &Json) -> Option<&str> {
    match value {
        Json::Str(s) => Some(s),
        Json::Model(m) => Some(m.name()),
        Json::Format(b) => Some(if *b { "base64" } else { "float" }),
        _ => None,
    }
}

fn is_token_id(value: &Json) -> Option<bool> {
    let text = match value {
        Json::Id(_) | Json::NearHole(_) | Json::Int(_) | Json::Digits(_) => number_text(value)?,
        Json::Decimal(_) => return Some(false),
        _ => return None,
    };
    Some(
        text.parse::<u32>()
            .is_ok_and(|id| embedguard::cl100k().is_token_id(id)),
    )
}

/// The inputs of a well-shaped `input`, or `None` (rule 13).
fn input_shape(input: &Json) -> Option<Vec<Counted<'_>>> {
    if let Some(text) = text_of(input) {
        return (!text.is_empty()).then(|| vec![Counted::Text(text)]);
    }
    let Json::Array(items) = input else {
        return None;
    };
    let first = items.first()?;
    if text_of(first).is_some() {
        if items.len() > 2048 {
            return None;
        }
        return items
            .iter()
            .map(|item| text_of(item).filter(|t| !t.is_empty()).map(Counted::Text))
            .collect();
    }
    if is_token_id(first).is_some() {
        let all = items.iter().all(|item| is_token_id(item) == Some(true));
        return all.then(|| vec![Counted::Ids(items.len())]);
    }
    if let Json::Array(_) = first {
        if items.len() > 2048 {
            return None;
        }
        return items
            .iter()
            .map(|item| match item {
                Json::Array(ids)
                    if !ids.is_empty() && ids.iter().all(|id| is_token_id(id) == Some(true)) =>
                {
                    Some(Counted::Ids(ids.len()))
                }
                _ => None,
            })
            .collect();
    }
    None
}

/// The reference count: tiktoken-rs `encode_ordinary`.
pub fn reference_count(text: &str) -> usize {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len()
}

/// The contract's rule number of a rejection.
pub fn rule_of(kind: &ErrorKind) -> u8 {
    match kind {
        ErrorKind::BodyTooLarge { .. } => 1,
        ErrorKind::InvalidJson { .. } => 2,
        ErrorKind::NotAnObject => 3,
        ErrorKind::DuplicateMember { .. } => 4,
        ErrorKind::UnknownMember { .. } => 5,
        ErrorKind::MissingModel => 6,
        ErrorKind::ModelNotString { .. } => 7,
        ErrorKind::MissingInput => 8,
        ErrorKind::InvalidEncodingFormat { .. } => 9,
        ErrorKind::UserNotString { .. } => 10,
        ErrorKind::DimensionsNotInteger { .. } => 11,
        ErrorKind::DimensionsBelowMin { .. } => 12,
        ErrorKind::InvalidInput(_) => 13,
        ErrorKind::ModelNotFound { .. } => 14,
        ErrorKind::DimensionsNotSupported => 15,
        ErrorKind::DimensionsAboveMax { .. } => 16,
        ErrorKind::InputTooLong { .. } => 17,
        ErrorKind::TooManyTokens { .. } => 18,
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------
// Authorization headers

/// The gateway key the header checks compare against.
pub const GATEWAY_KEY: &str = "sk-gateway-fuzz1234";

/// A key set holding [`GATEWAY_KEY`], built once.
pub fn keys() -> &'static embedguard::KeySet {
    static KEYS: OnceLock<embedguard::KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        embedguard::KeySet::new()
            .with_key(GATEWAY_KEY)
            .expect("a well-formed key")
    })
}

/// Checks `header` as an `Authorization` value: a 401 in OpenAI's shape unless it is
/// `Bearer` and the gateway's key, and a key echoed only masked (first and last 4
/// characters, at most 64, printable ASCII; all `*` up to 8).
pub fn check_header_and_verify(header: &[u8]) {
    match keys().check_header(Some(header)) {
        Ok(id) => {
            assert_eq!(id.index(), 0);
            let text = std::str::from_utf8(header).expect("the accepted header is ASCII");
            assert!(text.trim().ends_with(GATEWAY_KEY));
        }
        Err(err) => {
            verify_envelope(&err);
            assert_eq!(err.status(), 401);
            let message = err.message();
            if let Some(rest) = message.strip_prefix("Incorrect API key provided: ") {
                let masked = rest.strip_suffix('.').expect("ends with a period");
                let chars: Vec<char> = masked.chars().collect();
                let n = chars.len();
                assert!(n >= 1 && n <= 64, "{masked:?}");
                assert!(chars.iter().all(|c| (' '..='~').contains(c)), "{masked:?}");
                for (i, c) in chars.iter().enumerate() {
                    if n <= 8 || (4..n - 4).contains(&i) {
                        assert_eq!(*c, '*', "{masked:?}");
                    }
                }
                assert_eq!(
                    embedguard::mask_key(masked.as_bytes()).map(|m| m.len()),
                    Some(n)
                );
            }
        }
    }
}
