//! Request types and the body parser.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::error::{ErrorKind, InputShape, JsonKind, echo};
use crate::tokenizer::cl100k;

/// How the response carries each vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingFormat {
    /// A JSON array of numbers (the default; `null` means this too).
    #[default]
    Float,
    /// Standard padded base64 of the little-endian float32 bytes.
    Base64,
}

impl EncodingFormat {
    /// `"float"` or `"base64"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EncodingFormat::Float => "float",
            EncodingFormat::Base64 => "base64",
        }
    }
}

/// One input of a request: text, or token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// Text, borrowed from the body when it has no escapes.
    Text(Cow<'a, str>),
    /// Token ids, each a valid cl100k_base id.
    Tokens(Vec<u32>),
}

impl Input<'_> {
    /// The same input, owning its text.
    pub fn into_owned(self) -> Input<'static> {
        match self {
            Input::Text(text) => Input::Text(Cow::Owned(text.into_owned())),
            Input::Tokens(ids) => Input::Tokens(ids),
        }
    }
}

/// Which of the four forms `input` was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputForm {
    /// `"text"`
    String,
    /// `["text", ...]`
    Strings,
    /// `[1, 2, 3]`: one input of token ids.
    TokenArray,
    /// `[[1, 2], [3]]`
    TokenArrays,
}

/// A member value as the parser saw it: strings decoded, everything else as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    Null,
    /// Any other value, with its kind and its text as written in the body.
    Other(JsonKind, &'a str),
}

/// What `input` turned out to be.
#[derive(Debug)]
pub(crate) enum InputValue<'a> {
    Null,
    Valid(InputForm, Vec<Input<'a>>),
    Invalid(InputShape),
}

/// The request's members, parsed but not yet judged against the rules.
#[derive(Debug, Default)]
pub(crate) struct RawRequest<'a> {
    pub model: Option<Value<'a>>,
    pub input: Option<InputValue<'a>>,
    pub encoding_format: Option<Value<'a>>,
    pub dimensions: Option<Value<'a>>,
    pub user: Option<Value<'a>>,
    /// Members the policy lets through, with their values as written.
    pub extra: Vec<(Cow<'a, str>, &'a str)>,
}

/// Parser settings taken from the policy.
pub(crate) struct ParseLimits<'p> {
    pub max_depth: usize,
    pub max_inputs: usize,
    /// Token ids stored per input stop here: one more than the per-input limit is
    /// enough to know the input is too long, and keeps memory bounded by the limit.
    pub max_input_tokens: usize,
    pub allowed_members: &'p [String],
}

/// Parses a request body. Errors 2 to 5 of the contract are decided here, after the
/// whole body has been read: a syntax error anywhere beats everything else.
pub(crate) fn parse<'a>(
    body: &'a [u8],
    limits: &ParseLimits<'_>,
) -> Result<RawRequest<'a>, ErrorKind> {
    let mut p = Parser {
        bytes: body,
        pos: 0,
        depth: 0,
        max_depth: limits.max_depth,
        scratch: Vec::new(),
    };
    let invalid_json = |offset| ErrorKind::InvalidJson { offset };
    p.skip_ws();
    if p.peek() != Some(b'{') {
        p.skip_value().map_err(invalid_json)?;
        p.expect_end().map_err(invalid_json)?;
        return Err(ErrorKind::NotAnObject);
    }
    let mut request = RawRequest::default();
    let mut duplicate: Option<Cow<'a, str>> = None;
    let mut unknown: Option<Cow<'a, str>> = None;
    let mut names = MemberNames::new(body);
    p.parse_object_members(|p, key_start, key| {
        let slot_taken = match &*key {
            "model" => replace(&mut request.model, p.value()?),
            "input" => request.input.replace(p.input(limits)?).is_some(),
            "encoding_format" => replace(&mut request.encoding_format, p.value()?),
            "dimensions" => replace(&mut request.dimensions, p.value()?),
            "user" => replace(&mut request.user, p.value()?),
            name => {
                let start = p.pos;
                p.skip_value()?;
                let seen = names.insert(key_start, &key);
                if seen {
                    // A duplicate: the request is rejected, nothing more to keep.
                } else if limits.allowed_members.iter().any(|m| m == name) {
                    let raw = p.text(start, p.pos);
                    request.extra.push((key.clone(), raw));
                } else if unknown.is_none() {
                    unknown = Some(key.clone());
                }
                seen
            }
        };
        if slot_taken && duplicate.is_none() {
            duplicate = Some(key);
        }
        Ok(())
    })
    .map_err(invalid_json)?;
    p.expect_end().map_err(invalid_json)?;
    if let Some(name) = duplicate {
        return Err(ErrorKind::DuplicateMember { name: echo(&name) });
    }
    if let Some(name) = unknown {
        return Err(ErrorKind::UnknownMember { name: echo(&name) });
    }
    Ok(request)
}

/// The names of the members other than the five the contract defines, to find a
/// duplicate among them.
///
/// An open-addressing table of the offsets where the keys start in the body, 4 bytes a
/// slot: a body of many short distinct members costs under twice its size here, where
/// a set of the names themselves (24 bytes a name and the table's slack) cost up to six
/// times the body. Names compare after unescaping, read again from the body.
struct MemberNames<'a> {
    body: &'a [u8],
    /// Key offset + 1 of each name; 0 is an empty slot. The length is 0 or a power of two.
    slots: Vec<u32>,
    len: usize,
    hasher: std::hash::RandomState,
    /// Names whose offset does not fit a slot (bodies over 4 GiB).
    far: HashSet<String>,
}

impl<'a> MemberNames<'a> {
    fn new(body: &'a [u8]) -> Self {
        MemberNames {
            body,
            slots: Vec::new(),
            len: 0,
            hasher: std::hash::RandomState::new(),
            far: HashSet::new(),
        }
    }

    /// The name of the key that starts at `offset`: already validated, so always there.
    fn name_at(&self, offset: u32) -> Cow<'a, str> {
        let mut p = Parser {
            bytes: self.body,
            pos: offset as usize - 1,
            depth: 0,
            max_depth: 0,
            scratch: Vec::new(),
        };
        p.string().unwrap_or_default()
    }

    fn hash(&self, name: &str) -> usize {
        use std::hash::BuildHasher;
        self.hasher.hash_one(name) as usize
    }

    /// Adds the name whose key starts at `offset`; says whether it was there already.
    fn insert(&mut self, offset: usize, name: &str) -> bool {
        if self.contains(name) || self.far.contains(name) {
            return true;
        }
        match u32::try_from(offset + 1) {
            Ok(tag) => {
                // At most 3/4 full: short probes, and under 11 bytes a name after growing.
                if (self.len + 1) * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                let at = self.free_slot(self.hash(name));
                self.slots[at] = tag;
                self.len += 1;
            }
            Err(_) => {
                self.far.insert(name.to_owned());
            }
        }
        false
    }

    fn contains(&self, name: &str) -> bool {
        let mask = self.slots.len().wrapping_sub(1);
        if self.slots.is_empty() {
            return false;
        }
        let mut at = self.hash(name) & mask;
        while self.slots[at] != 0 {
            if self.name_at(self.slots[at]) == name {
                return true;
            }
            at = (at + 1) & mask;
        }
        false
    }

    /// The first empty slot from `hash` on.
    fn free_slot(&self, hash: usize) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = hash & mask;
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        at
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(8);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for tag in old.into_iter().filter(|&tag| tag != 0) {
            let at = self.free_slot(self.hash(&self.name_at(tag)));
            self.slots[at] = tag;
        }
    }
}

/// Stores `value` in `slot`; says whether the slot was already filled.
fn replace<T>(slot: &mut Option<T>, value: T) -> bool {
    slot.replace(value).is_some()
}

/// Byte offset of a syntax error.
type Syntax = usize;

/// An iterative JSON reader over the body: no recursion, so nesting depth costs heap
/// (bounded by the depth limit), never stack.
struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    max_depth: usize,
    /// Reused while reading each token array, so each array is allocated once, at its size.
    scratch: Vec<u32>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Result<(), Syntax> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    fn expect_end(&mut self) -> Result<(), Syntax> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    /// The body text between two offsets that the parser has already validated.
    fn text(&self, start: usize, end: usize) -> &'a str {
        // Validated JSON is UTF-8, and both offsets sit between tokens.
        simdutf8::compat::from_utf8(&self.bytes[start..end]).unwrap_or_default()
    }

    fn enter(&mut self) -> Result<(), Syntax> {
        self.depth += 1;
        if self.depth > self.max_depth {
            Err(self.pos)
        } else {
            Ok(())
        }
    }

    /// Reads `{ "key": value, ... }`, handing each key and the offset where it starts to
    /// `member`, which must consume the value. The parser sits on the opening brace.
    fn parse_object_members(
        &mut self,
        mut member: impl FnMut(&mut Self, usize, Cow<'a, str>) -> Result<(), Syntax>,
    ) -> Result<(), Syntax> {
        self.eat(b'{')?;
        self.enter()?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let key_start = self.pos;
            let key = self.string()?;
            self.skip_ws();
            self.eat(b':')?;
            self.skip_ws();
            member(self, key_start, key)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(self.pos),
            }
        }
    }

    /// Reads any value: strings decoded, the rest kept as written.
    fn value(&mut self) -> Result<Value<'a>, Syntax> {
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'"') => return Ok(Value::Str(self.string()?)),
            Some(b'n') => {
                self.literal(b"null")?;
                return Ok(Value::Null);
            }
            Some(b't' | b'f') => JsonKind::Boolean,
            Some(b'[') => JsonKind::Array,
            Some(b'{') => JsonKind::Object,
            _ => {
                let number = self.number()?;
                if number.is_integer {
                    JsonKind::Integer
                } else {
                    JsonKind::Decimal
                }
            }
        };
        if !matches!(kind, JsonKind::Integer | JsonKind::Decimal) {
            self.skip_value()?;
        }
        Ok(Value::Other(kind, self.text(start, self.pos)))
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Syntax> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    /// Validates one value of any shape without keeping it. Containers are tracked on a
    /// small explicit stack (`true` = object), never by recursion.
    fn skip_value(&mut self) -> Result<(), Syntax> {
        let base_depth = self.depth;
        let mut stack: Vec<bool> = Vec::new();
        loop {
            // At the start of a value.
            self.skip_ws();
            match self.peek() {
                Some(b'"') => {
                    self.skip_string()?;
                }
                Some(b'n') => self.literal(b"null")?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(open @ (b'[' | b'{')) => {
                    self.pos += 1;
                    self.enter()?;
                    self.skip_ws();
                    let is_object = open == b'{';
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        self.depth -= 1;
                    } else {
                        stack.push(is_object);
                        if is_object {
                            self.object_key()?;
                        }
                        continue;
                    }
                }
                _ => {
                    self.number()?;
                }
            }
            // After a value: close containers or move to the next item.
            loop {
                let Some(&is_object) = stack.last() else {
                    debug_assert_eq!(self.depth, base_depth);
                    return Ok(());
                };
                self.skip_ws();
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if is_object {
                            self.skip_ws();
                            self.object_key()?;
                        }
                        break;
                    }
                    Some(b'}') if is_object => {}
                    Some(b']') if !is_object => {}
                    _ => return Err(self.pos),
                }
                self.pos += 1;
                self.depth -= 1;
                stack.pop();
            }
        }
    }

    /// Reads `"key":` inside an object being skipped.
    fn object_key(&mut self) -> Result<(), Syntax> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.pos);
        }
        self.skip_string()?;
        self.skip_ws();
        self.eat(b':')
    }

    /// Reads a number; says whether it was written as an integer (no fraction, no exponent).
    fn number(&mut self) -> Result<Number<'a>, Syntax> {
        let start = self.pos;
        let bytes = self.bytes;
        let mut i = self.pos;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = bytes.get(i) {
                    i += 1;
                }
            }
            _ => return Err(i),
        }
        let mut is_integer = true;
        if bytes.get(i) == Some(&b'.') {
            is_integer = false;
            i += 1;
            i = digits(bytes, i)?;
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            is_integer = false;
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            i = digits(bytes, i)?;
        }
        self.pos = i;
        Ok(Number {
            text: self.text(start, i),
            is_integer,
        })
    }

    fn skip_string(&mut self) -> Result<(), Syntax> {
        self.scan_string().map(|_| ())
    }

    /// Reads a string, borrowing it from the body when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, Syntax> {
        // Object keys reach here unchecked: the quote must be there, not assumed.
        if self.peek() != Some(b'"') {
            return Err(self.pos);
        }
        let start = self.pos + 1;
        let run_end = self.plain_run(start);
        if self.bytes.get(run_end) == Some(&b'"') {
            let text = simdutf8::compat::from_utf8(&self.bytes[start..run_end])
                .map_err(|e| start + e.valid_up_to())?;
            self.pos = run_end + 1;
            return Ok(Cow::Borrowed(text));
        }
        // Go on checking from the first escape: the run before it is plain.
        let raw = self.scan_string_from(start, run_end)?;
        let end = self.pos;
        let quote = end - 1;
        // Escapes are ASCII, so the runs between them are whole `str` slices of the
        // checked text: decoding copies them without checking UTF-8 again.
        let mut decoded = String::with_capacity(raw.len());
        let mut at = start;
        loop {
            let run_end = self.plain_run(at).min(quote);
            decoded.push_str(raw.get(at - start..run_end - start).unwrap_or_default());
            if run_end == quote {
                break;
            }
            self.pos = run_end;
            decoded.push(self.escape()?);
            at = self.pos;
        }
        self.pos = end;
        Ok(Cow::Owned(decoded))
    }

    /// End of the run of bytes from `from` that need no attention inside a string: up to
    /// a quote, a backslash or a control character. Eight bytes at a time, then one by one.
    fn plain_run(&self, from: usize) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        // A byte's high bit in the result is set where `w` has a zero byte (or after one).
        let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
        let bytes = self.bytes;
        let mut i = from;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
            let stop = zero_byte(w ^ (ONES * u64::from(b'"')))
                | zero_byte(w ^ (ONES * u64::from(b'\\')))
                | control;
            if stop != 0 {
                // The lowest flag is exact (the borrows only spill upwards): no byte loop, whose
                // exit the branch predictor cannot guess.
                return i + stop.trailing_zeros() as usize / 8;
            }
            i += 8;
        }
        let rest = bytes.get(i..).unwrap_or_default();
        i + rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(rest.len())
    }

    /// Validates a string (UTF-8, escapes, surrogate pairs, no raw control characters) and
    /// returns its raw text, escapes undecoded. The parser sits on the quote.
    fn scan_string(&mut self) -> Result<&'a str, Syntax> {
        self.eat(b'"')?;
        self.scan_string_from(self.pos, self.pos)
    }

    /// [`Self::scan_string`] for the string whose text starts at `text_start`, known to be
    /// plain up to `from`.
    fn scan_string_from(&mut self, text_start: usize, from: usize) -> Result<&'a str, Syntax> {
        self.pos = from;
        loop {
            self.pos = self.plain_run(self.pos);
            match self.peek() {
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    // One check over the whole raw text: escapes are ASCII, so it is UTF-8
                    // exactly when every run between them is.
                    return simdutf8::compat::from_utf8(&self.bytes[text_start..end])
                        .map_err(|e| text_start + e.valid_up_to());
                }
                Some(b'\\') => {
                    self.escape()?;
                }
                _ => return Err(self.pos),
            }
        }
    }

    /// Decodes one escape sequence; the parser sits on the backslash.
    fn escape(&mut self) -> Result<char, Syntax> {
        let at = self.pos;
        let c = match self.bytes.get(at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let first = self.hex4(at + 2)?;
                self.pos = at + 6;
                let code = match first {
                    0xD800..=0xDBFF => {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.pos);
                        }
                        let second = self.hex4(self.pos + 2)?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.pos);
                        }
                        self.pos += 6;
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(at),
                    _ => first,
                };
                return char::from_u32(code).ok_or(at);
            }
            _ => return Err(at),
        };
        self.pos = at + 2;
        Ok(c)
    }

    fn hex4(&self, at: usize) -> Result<u32, Syntax> {
        let digits = self.bytes.get(at..at + 4).ok_or(at)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            let v = (d as char).to_digit(16).ok_or(at)?;
            Ok(acc * 16 + v)
        })
    }
}

impl<'a> Parser<'a> {
    /// Reads the `input` member's value, deciding its form from the first item and
    /// remembering the first shape problem in array order. After a problem the rest is
    /// still read, because a syntax error further on must win.
    fn input(&mut self, limits: &ParseLimits<'_>) -> Result<InputValue<'a>, Syntax> {
        match self.peek() {
            Some(b'"') => {
                let text = self.string()?;
                Ok(if text.is_empty() {
                    InputValue::Invalid(InputShape::EmptyString { index: 0 })
                } else {
                    InputValue::Valid(InputForm::String, vec![Input::Text(text)])
                })
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Ok(InputValue::Null)
            }
            Some(b'[') => self.input_array(limits),
            _ => {
                self.skip_value()?;
                Ok(InputValue::Invalid(InputShape::WrongType { index: 0 }))
            }
        }
    }

    fn input_array(&mut self, limits: &ParseLimits<'_>) -> Result<InputValue<'a>, Syntax> {
        self.eat(b'[')?;
        self.enter()?;
        self.skip_ws();
        let form = match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(InputValue::Invalid(InputShape::EmptyArray { index: 0 }));
            }
            Some(b'"') => Some(InputForm::Strings),
            Some(b'-' | b'0'..=b'9') => Some(InputForm::TokenArray),
            Some(b'[') => Some(InputForm::TokenArrays),
            _ => None,
        };
        let mut problem = form.is_none().then_some(InputShape::WrongType { index: 0 });
        let mut inputs = Vec::new();
        let mut flat_ids = Vec::new();
        let mut index = 0;
        loop {
            self.skip_ws();
            if problem.is_some() {
                self.skip_value()?;
            } else if form != Some(InputForm::TokenArray) && index == limits.max_inputs {
                self.skip_value()?;
                problem = Some(InputShape::TooManyInputs {
                    limit: limits.max_inputs,
                });
            } else {
                problem = match form {
                    Some(InputForm::Strings) if self.peek() == Some(b'"') => {
                        let text = self.string()?;
                        if text.is_empty() {
                            Some(InputShape::EmptyString { index })
                        } else {
                            inputs.push(Input::Text(text));
                            None
                        }
                    }
                    Some(InputForm::TokenArray) => {
                        self.plain_id_run(&mut flat_ids, limits.max_input_tokens);
                        match self.token_id(0)? {
                            Ok(id) => {
                                if flat_ids.len() <= limits.max_input_tokens {
                                    flat_ids.push(id);
                                }
                                None
                            }
                            Err(shape) => Some(shape),
                        }
                    }
                    Some(InputForm::TokenArrays) if self.peek() == Some(b'[') => {
                        match self.token_array(index, limits)? {
                            Ok(ids) => {
                                inputs.push(Input::Tokens(ids));
                                None
                            }
                            Err(shape) => Some(shape),
                        }
                    }
                    _ => {
                        self.skip_value()?;
                        Some(InputShape::WrongType { index })
                    }
                };
            }
            index += 1;
            if self.close_item(b']')? {
                break;
            }
        }
        Ok(match (problem, form) {
            (Some(shape), _) => InputValue::Invalid(shape),
            (None, Some(InputForm::TokenArray)) => {
                flat_ids.shrink_to_fit();
                InputValue::Valid(InputForm::TokenArray, vec![Input::Tokens(flat_ids)])
            }
            (None, Some(form)) => InputValue::Valid(form, inputs),
            (None, None) => unreachable!("a missing form is always a problem"),
        })
    }

    /// After an array item: `,` (returns false) or the closing bracket (returns true).
    fn close_item(&mut self, close: u8) -> Result<bool, Syntax> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(c) if c == close => {
                self.pos += 1;
                self.depth -= 1;
                Ok(true)
            }
            _ => Err(self.pos),
        }
    }

    /// Reads one array of token ids (input `index` of an array of token arrays). Stores
    /// at most one id past the per-input limit.
    fn token_array(
        &mut self,
        index: usize,
        limits: &ParseLimits<'_>,
    ) -> Result<Result<Vec<u32>, InputShape>, Syntax> {
        self.eat(b'[')?;
        self.enter()?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Err(InputShape::EmptyArray { index }));
        }
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        let mut problem = None;
        loop {
            self.skip_ws();
            if problem.is_some() {
                self.skip_value()?;
            } else if self.peek() == Some(b'[') {
                self.skip_value()?;
                problem = Some(InputShape::TooDeep { index });
            } else {
                self.plain_id_run(&mut ids, limits.max_input_tokens);
                match self.token_id(index)? {
                    Ok(id) if ids.len() <= limits.max_input_tokens => ids.push(id),
                    Ok(_) => {}
                    Err(shape) => problem = Some(shape),
                }
            }
            if self.close_item(b']')? {
                break;
            }
        }
        let result = problem.map_or_else(|| Ok(ids.to_vec()), Err);
        self.scratch = ids;
        Ok(result)
    }

    /// Reads a run of plain ids each followed by a comma (`17, 4032,9,`) eight bytes at a
    /// time, storing at most one past `keep`. Stops before anything else (the array's
    /// last id, an odd number, an invalid id), which the general path then reads.
    fn plain_id_run(&mut self, ids: &mut Vec<u32>, keep: usize) {
        let bytes = self.bytes;
        let mut i = self.pos;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            let digits = word ^ 0x3030_3030_3030_3030;
            // A byte's high bit is set unless it was an ASCII digit; no carries cross bytes.
            let non_digit = (((digits & 0x7f7f_7f7f_7f7f_7f7f) + 0x7676_7676_7676_7676) | digits)
                & 0x8080_8080_8080_8080;
            let len = (non_digit.trailing_zeros() / 8) as usize;
            if len == 0 || len > 6 || (len > 1 && chunk[0] == b'0') || chunk[len] != b',' {
                break;
            }
            let id = eight_digits(digits << (8 * (8 - len)));
            if !cl100k().is_token_id(id) {
                break;
            }
            if ids.len() <= keep {
                ids.push(id);
            }
            i += len + 1;
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
                i += 1;
            }
        }
        self.pos = i;
    }

    /// Reads one value that should be a token id of input `index`.
    fn token_id(&mut self, index: usize) -> Result<Result<u32, InputShape>, Syntax> {
        // Fast path for the common case, 1 to 6 plain digits then a delimiter: token
        // arrays are mostly this, and reading them is most of the work for such bodies.
        let bytes = self.bytes;
        let start = self.pos;
        let mut end = start;
        let mut id = 0u32;
        while let Some(&d @ b'0'..=b'9') = bytes.get(end) {
            if end - start == 6 {
                break;
            }
            id = id * 10 + u32::from(d - b'0');
            end += 1;
        }
        let plain = end > start
            && (end - start == 1 || bytes[start] != b'0')
            && !matches!(bytes.get(end), Some(b'0'..=b'9' | b'.' | b'e' | b'E'));
        if plain {
            self.pos = end;
            let valid = cl100k().is_token_id(id);
            return Ok(if valid {
                Ok(id)
            } else {
                Err(InputShape::InvalidTokenId { index })
            });
        }
        if !matches!(self.peek(), Some(b'-' | b'0'..=b'9')) {
            self.skip_value()?;
            return Ok(Err(InputShape::WrongType { index }));
        }
        let number = self.number()?;
        Ok(token_id(&number).ok_or(InputShape::InvalidTokenId { index }))
    }
}

/// The value of eight decimal digits held one per byte (0..=9, most significant digit
/// in the lowest byte), combined pairwise with multiplications instead of a loop.
fn eight_digits(v: u64) -> u32 {
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let high = (v & 0x0000_00ff_0000_00ff).wrapping_mul(100 + (1_000_000 << 32));
    let low = ((v >> 16) & 0x0000_00ff_0000_00ff).wrapping_mul(1 + (10_000 << 32));
    (high.wrapping_add(low) >> 32) as u32
}

/// A token id written as a plain non-negative integer that exists in cl100k_base.
fn token_id(number: &Number<'_>) -> Option<u32> {
    let text = number.text;
    // Ids have at most 6 digits; longer text cannot be one (and cannot overflow here).
    if !number.is_integer || text.starts_with('-') || text.len() > 6 {
        return None;
    }
    let id = text
        .bytes()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    cl100k().is_token_id(id).then_some(id)
}

struct Number<'a> {
    text: &'a str,
    is_integer: bool,
}

/// Skips one or more ASCII digits starting at `i`.
fn digits(bytes: &[u8], mut i: usize) -> Result<usize, Syntax> {
    let start = i;
    while let Some(b'0'..=b'9') = bytes.get(i) {
        i += 1;
    }
    if i == start { Err(i) } else { Ok(i) }
}

#[cfg(test)]
mod tests {
    use super::eight_digits;

    #[test]
    fn eight_digits_matches_decimal_parsing() {
        for n in (0..100_000_000u32)
            .step_by(7)
            .chain([99_999_999, 12_345_678, 10_000_000])
        {
            let text = format!("{n:08}");
            let mut word = 0u64;
            for (k, d) in text.bytes().enumerate() {
                word |= u64::from(d - b'0') << (8 * k);
            }
            assert_eq!(eight_digits(word), n, "{text}");
        }
    }
}
