//! The JSON reader: bytes in, values and offsets out. It knows JSON and nothing of
//! OpenAI; the request's rules live in `request.rs` and the `input` member's in `input.rs`.
//!
//! Iterative, never recursive: nesting costs a small heap stack bounded by the depth limit,
//! never the call stack. Strings are borrowed from the body unless they hold escapes.
//! Every error is the byte offset where reading stopped.

use std::borrow::Cow;

use crate::error::JsonKind;

/// A member value as the reader saw it: strings decoded, everything else as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    Null,
    /// Any other value, with its kind and its text as written in the body.
    Other(JsonKind, &'a str),
}

/// Byte offset of a syntax error.
pub(crate) type Syntax = usize;

/// An iterative JSON reader over the body: no recursion, so nesting depth costs heap
/// (bounded by the depth limit), never stack.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    /// The offset of the next byte to read.
    pub(crate) pos: usize,
    /// How many containers are open.
    pub(crate) depth: usize,
    max_depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, refusing nesting deeper than `max_depth`.
    pub(crate) fn new(bytes: &'a [u8], max_depth: usize) -> Self {
        Reader {
            bytes,
            pos: 0,
            depth: 0,
            max_depth,
        }
    }

    /// A reader at `pos`, for a value already validated there.
    pub(crate) fn at(bytes: &'a [u8], pos: usize) -> Self {
        Reader {
            bytes,
            pos,
            depth: 0,
            max_depth: usize::MAX,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(crate) fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    pub(crate) fn eat(&mut self, byte: u8) -> Result<(), Syntax> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    pub(crate) fn expect_end(&mut self) -> Result<(), Syntax> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    /// The body text between two offsets that the parser has already validated.
    pub(crate) fn text(&self, start: usize, end: usize) -> &'a str {
        // Validated JSON is UTF-8, and both offsets sit between tokens.
        simdutf8::compat::from_utf8(&self.bytes[start..end]).unwrap_or_default()
    }

    pub(crate) fn enter(&mut self) -> Result<(), Syntax> {
        self.depth += 1;
        if self.depth > self.max_depth {
            Err(self.pos)
        } else {
            Ok(())
        }
    }

    /// Opens a container: eats `open` (a bracket or brace), counts the depth, and says
    /// whether the container is empty (then it is already closed again).
    pub(crate) fn open_container(&mut self, open: u8, close: u8) -> Result<bool, Syntax> {
        self.eat(open)?;
        self.enter()?;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            self.depth -= 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// Reads `{ "key": value, ... }`, handing each key and the offset where it starts to
    /// `member`, which must consume the value. The parser sits on the opening brace.
    pub(crate) fn parse_object_members(
        &mut self,
        mut member: impl FnMut(&mut Self, usize, Cow<'a, str>) -> Result<(), Syntax>,
    ) -> Result<(), Syntax> {
        if self.open_container(b'{', b'}')? {
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
    pub(crate) fn value(&mut self) -> Result<Value<'a>, Syntax> {
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

    pub(crate) fn literal(&mut self, word: &[u8]) -> Result<(), Syntax> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    /// Validates one value of any shape without keeping it. Containers are tracked on a
    /// small explicit stack (`true` = object), never by recursion.
    pub(crate) fn skip_value(&mut self) -> Result<(), Syntax> {
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
                    let is_object = open == b'{';
                    let close = if is_object { b'}' } else { b']' };
                    if !self.open_container(open, close)? {
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
    pub(crate) fn number(&mut self) -> Result<Number<'a>, Syntax> {
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

    pub(crate) fn skip_string(&mut self) -> Result<(), Syntax> {
        self.scan_string().map(|_| ())
    }

    /// Reads a string, borrowing it from the body when it has no escapes.
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>, Syntax> {
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

    /// After an array item: `,` (returns false) or the closing bracket (returns true).
    pub(crate) fn close_item(&mut self, close: u8) -> Result<bool, Syntax> {
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
}

pub(crate) struct Number<'a> {
    pub(crate) text: &'a str,
    pub(crate) is_integer: bool,
}

/// Skips one or more ASCII digits starting at `i`.
fn digits(bytes: &[u8], mut i: usize) -> Result<usize, Syntax> {
    let start = i;
    while let Some(b'0'..=b'9') = bytes.get(i) {
        i += 1;
    }
    if i == start { Err(i) } else { Ok(i) }
}
