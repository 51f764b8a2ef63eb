//! Request types and the body parser.

use std::borrow::Cow;

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
