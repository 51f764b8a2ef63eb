//! embedguard: validate, count and account OpenAI-compatible embeddings requests.

mod auth;
mod error;
mod policy;
mod request;
mod response;
mod tokenizer;

pub use auth::{KEY_MIN_SECRET_LEN, KEY_PREFIX, KeySet, MalformedKey, mask_key};
pub use error::{ECHO_LIMIT, ErrorKind, InputShape, JsonKind, RequestError};
pub use policy::{
    Checked, Limits, MAX_BODY_BYTES, MAX_DEPTH, MAX_INPUT_TOKENS, MAX_INPUTS, MAX_REQUEST_TOKENS,
    Model, Policy,
};
pub use request::{EncodingFormat, Input, InputForm};
pub use response::Usage;
pub use tokenizer::{Cl100k, cl100k};
