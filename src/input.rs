//! The `input` member: the one place where the JSON reader meets a vocabulary.
//!
//! Decides the input's form from its first item, keeps the first shape problem in array
//! order (the rest is still read: a syntax error further on wins), and checks every token
//! id against the [`Vocabulary`] it is given, inline. Stores at most one id past the
//! per-input limit, so memory follows the limit, not the body.

use std::borrow::Cow;

use crate::error::{InputShape, echo};
use crate::json::{Number, Reader, Syntax};
use crate::tokens::Vocabulary;

/// One input of a request: text, or token ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// Text, borrowed from the body when it has no escapes.
    Text(Cow<'a, str>),
    /// Token ids, each one of the model's vocabulary.
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
    /// `"text"`: one text.
    Text,
    /// `["text", ...]`: texts.
    Texts,
    /// `[1, 2, 3]`: one input of token ids.
    TokenArray,
    /// `[[1, 2], [3]]`: inputs of token ids.
    TokenArrays,
}

impl InputForm {
    /// Whether the inputs are token ids.
    pub fn is_tokens(self) -> bool {
        matches!(self, InputForm::TokenArray | InputForm::TokenArrays)
    }
}

/// What `input` turned out to be.
#[derive(Debug)]
pub(crate) enum InputValue<'a> {
    Null,
    Valid(InputForm, Vec<Input<'a>>),
    Invalid(InputShape),
}

/// What reading `input` needs from the policy.
pub(crate) struct InputLimits<'v> {
    /// Items of the array forms stop here (rule 13).
    pub max_inputs: usize,
    /// Token ids stored per input stop one past this: enough to know the input is too
    /// long, and memory stays bounded by the limit.
    pub max_input_tokens: usize,
    /// The ids that may appear at all.
    pub vocabulary: &'v Vocabulary,
}

/// Reads the `input` member's value; the reader sits on it.
pub(crate) fn read_input<'a>(
    reader: &mut Reader<'a>,
    limits: &InputLimits<'_>,
) -> Result<InputValue<'a>, Syntax> {
    InputReader {
        r: reader,
        limits,
        scratch: Vec::new(),
    }
    .input()
}

struct InputReader<'r, 'a> {
    r: &'r mut Reader<'a>,
    limits: &'r InputLimits<'r>,
    /// Reused while reading each token array, so each array is allocated once, at its size.
    scratch: Vec<u32>,
}

impl<'a> InputReader<'_, 'a> {
    /// Reads the `input` member's value, deciding its form from the first item and
    /// remembering the first shape problem in array order. After a problem the rest is
    /// still read, because a syntax error further on must win.
    fn input(&mut self) -> Result<InputValue<'a>, Syntax> {
        match self.r.peek() {
            Some(b'"') => {
                let text = self.r.string()?;
                Ok(if text.is_empty() {
                    InputValue::Invalid(InputShape::EmptyString { index: 0 })
                } else {
                    InputValue::Valid(InputForm::Text, vec![Input::Text(text)])
                })
            }
            Some(b'n') => {
                self.r.literal(b"null")?;
                Ok(InputValue::Null)
            }
            Some(b'[') => self.array(),
            _ => {
                self.r.skip_value()?;
                Ok(InputValue::Invalid(InputShape::WrongType { index: 0 }))
            }
        }
    }

    fn array(&mut self) -> Result<InputValue<'a>, Syntax> {
        if self.r.open_container(b'[', b']')? {
            return Ok(InputValue::Invalid(InputShape::EmptyArray { index: 0 }));
        }
        let form = match self.r.peek() {
            Some(b'"') => Some(InputForm::Texts),
            Some(b'-' | b'0'..=b'9') => Some(InputForm::TokenArray),
            Some(b'[') => Some(InputForm::TokenArrays),
            _ => None,
        };
        let mut problem = form.is_none().then_some(InputShape::WrongType { index: 0 });
        let mut inputs = Vec::new();
        let mut flat_ids = Vec::new();
        let mut index = 0;
        // Ids read so far in the flat form: the position of the next one.
        let mut position = 0;
        loop {
            self.r.skip_ws();
            if problem.is_some() {
                self.r.skip_value()?;
            } else if form != Some(InputForm::TokenArray) && index == self.limits.max_inputs {
                self.r.skip_value()?;
                problem = Some(InputShape::TooManyInputs {
                    limit: self.limits.max_inputs,
                });
            } else {
                problem = match form {
                    Some(InputForm::Texts) if self.r.peek() == Some(b'"') => {
                        let text = self.r.string()?;
                        if text.is_empty() {
                            Some(InputShape::EmptyString { index })
                        } else {
                            inputs.push(Input::Text(text));
                            None
                        }
                    }
                    Some(InputForm::TokenArray) => {
                        position += self.plain_id_run(&mut flat_ids);
                        let id = self.token_id(0, position)?;
                        position += 1;
                        match id {
                            Ok(id) => {
                                if flat_ids.len() <= self.limits.max_input_tokens {
                                    flat_ids.push(id);
                                }
                                None
                            }
                            Err(shape) => Some(shape),
                        }
                    }
                    Some(InputForm::TokenArrays) if self.r.peek() == Some(b'[') => {
                        match self.token_array(index)? {
                            Ok(ids) => {
                                inputs.push(Input::Tokens(ids));
                                None
                            }
                            Err(shape) => Some(shape),
                        }
                    }
                    _ => {
                        self.r.skip_value()?;
                        Some(InputShape::WrongType { index })
                    }
                };
            }
            index += 1;
            if self.r.close_item(b']')? {
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
            // No item and no problem cannot happen (`[]` is answered above); answered as
            // `[]` rather than a panic.
            (None, None) => InputValue::Invalid(InputShape::EmptyArray { index: 0 }),
        })
    }

    /// Reads one array of token ids (input `index` of an array of token arrays). Stores
    /// at most one id past the per-input limit.
    fn token_array(&mut self, index: usize) -> Result<Result<Vec<u32>, InputShape>, Syntax> {
        if self.r.open_container(b'[', b']')? {
            return Ok(Err(InputShape::EmptyArray { index }));
        }
        let mut ids = std::mem::take(&mut self.scratch);
        ids.clear();
        let mut problem = None;
        let mut position = 0;
        loop {
            self.r.skip_ws();
            if problem.is_some() {
                self.r.skip_value()?;
            } else if self.r.peek() == Some(b'[') {
                self.r.skip_value()?;
                problem = Some(InputShape::TooDeep { index });
            } else {
                position += self.plain_id_run(&mut ids);
                let id = self.token_id(index, position)?;
                position += 1;
                match id {
                    Ok(id) if ids.len() <= self.limits.max_input_tokens => ids.push(id),
                    Ok(_) => {}
                    Err(shape) => problem = Some(shape),
                }
            }
            if self.r.close_item(b']')? {
                break;
            }
        }
        let result = problem.map_or_else(|| Ok(ids.to_vec()), Err);
        self.scratch = ids;
        Ok(result)
    }

    /// Reads a run of plain ids each followed by a comma (`17, 4032,9,`) eight bytes at a
    /// time, storing at most one past the per-input limit; returns how many it read. Stops
    /// before anything else (the array's last id, an odd number, an invalid id), which the
    /// general path then reads.
    fn plain_id_run(&mut self, ids: &mut Vec<u32>) -> usize {
        let keep = self.limits.max_input_tokens;
        let vocabulary = self.limits.vocabulary;
        let bytes = self.r.bytes;
        let mut i = self.r.pos;
        let mut read = 0;
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
            if !vocabulary.contains(id) {
                break;
            }
            if ids.len() <= keep {
                ids.push(id);
            }
            read += 1;
            i += len + 1;
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(i) {
                i += 1;
            }
        }
        self.r.pos = i;
        read
    }

    /// Reads one value that should be a token id: input `index`, at `position` in it.
    fn token_id(
        &mut self,
        index: usize,
        position: usize,
    ) -> Result<Result<u32, InputShape>, Syntax> {
        // Fast path for the common case, 1 to 6 plain digits then a delimiter: token
        // arrays are mostly this, and reading them is most of the work for such bodies.
        let bytes = self.r.bytes;
        let start = self.r.pos;
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
            self.r.pos = end;
            return Ok(if self.limits.vocabulary.contains(id) {
                Ok(id)
            } else {
                Err(invalid_id(index, position, &id.to_string()))
            });
        }
        if !matches!(self.r.peek(), Some(b'-' | b'0'..=b'9')) {
            self.r.skip_value()?;
            return Ok(Err(InputShape::WrongType { index }));
        }
        let number = self.r.number()?;
        Ok(token_id(&number)
            .filter(|&id| self.limits.vocabulary.contains(id))
            .ok_or_else(|| invalid_id(index, position, number.text)))
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

/// The id a number stands for, when written as a plain non-negative integer that fits
/// an id (`1.0`, `1e2` and `-0` are not ids).
fn token_id(number: &Number<'_>) -> Option<u32> {
    let text = number.text;
    // Ids have at most 10 digits; longer text cannot be one (and cannot overflow here).
    if !number.is_integer || text.starts_with('-') || text.len() > 10 {
        return None;
    }
    let id = text
        .bytes()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    u32::try_from(id).ok()
}

/// An id that is not one, named for logs (cut like any echo).
pub(crate) fn invalid_id(index: usize, position: usize, id: &str) -> InputShape {
    InputShape::InvalidTokenId {
        index,
        position,
        id: echo(id),
    }
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
