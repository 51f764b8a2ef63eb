//! embedguard: validate, count and account OpenAI-compatible embeddings requests.

mod error;
mod request;
mod response;
mod tokenizer;

pub use error::{ECHO_LIMIT, ErrorKind, InputShape, JsonKind, RequestError};
pub use request::{EncodingFormat, Input, InputForm};
pub use response::Usage;
pub use tokenizer::{Cl100k, cl100k};
