//! embedguard checks OpenAI-compatible `POST /v1/embeddings` requests before a gateway
//! spends upstream money on them: is the body valid, how many tokens is each input,
//! and, if the request is wrong, which exact error does the client get.
//!
//! It follows OpenAI's own behaviour word for word (the rules are in the project's
//! contract), counts cl100k_base tokens exactly as OpenAI's tiktoken does, and enforces
//! OpenAI's limits, all configurable. Other models are profiles with their own tokenizer
//! and limits: every count is in the tokens of the model a request names. It is a pure
//! library: no IO (but reading a models file you name), no async runtime, no threads of
//! its own.
//!
//! The vocabulary used throughout: a *request* carries one or more *inputs* (text or
//! token ids); each input has a *token* count; the sum is the request's *usage*; a
//! *policy* says which models and limits apply.
//!
//! # Example: check a request
//!
//! ```
//! use embedguard::{EncodingFormat, Policy};
//!
//! let body = br#"{"model": "text-embedding-3-small", "input": ["This is an embedding test.", "h"], "dimensions": 256}"#;
//! let checked = Policy::openai().check(body)?;
//! assert_eq!(checked.token_counts(), &[6, 1]);
//! assert_eq!(checked.usage().prompt_tokens, 7);
//! assert_eq!(checked.usage().total_tokens, 7);
//! assert_eq!(checked.dimensions(), Some(256));
//! assert_eq!(checked.encoding_format(), EncodingFormat::Float);
//! # Ok::<(), embedguard::RequestError>(())
//! ```
//!
//! # Example: answer a rejected request
//!
//! Every rejection carries the HTTP status and OpenAI's error body, word for word.
//!
//! ```
//! let err = embedguard::Policy::openai()
//!     .check(br#"{"model": "text-embedding-3-small", "input": ""}"#)
//!     .unwrap_err();
//! assert_eq!(err.status(), 400);
//! assert_eq!(
//!     err.to_json(),
//!     r#"{"error":{"message":"'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.","type":"invalid_request_error","param":null,"code":null}}"#
//! );
//! // For logs: which input, and why.
//! assert_eq!(
//!     err.kind(),
//!     &embedguard::ErrorKind::InvalidInput(embedguard::InputShape::EmptyString { index: 0 })
//! );
//! ```
//!
//! # Example: count tokens
//!
//! Special-token text is ordinary text, as in tiktoken's `encode_ordinary`.
//!
//! ```
//! let cl100k = embedguard::cl100k();
//! assert_eq!(cl100k.count("hello world"), 2);
//! assert_eq!(cl100k.count("<|endoftext|>"), 7);
//! // Stops counting as soon as the text passes the limit.
//! assert_eq!(cl100k.count_up_to(&"a".repeat(100_000), 8192), None);
//! ```
//!
//! # Example: gateway keys
//!
//! ```
//! use embedguard::KeySet;
//!
//! let keys = KeySet::new().with_key("sk-gateway-team0001").expect("well-formed");
//! assert!(keys.check_header(Some(b"Bearer sk-gateway-team0001")).is_ok());
//! let err = keys.check_header(None).unwrap_err();
//! assert_eq!(err.status(), 401);
//! ```
//!
//! # Example: a gateway's models, each in its own tokens
//!
//! Every model is a *profile* ([`Model`]): its names, its vectors, its own tokenizer and
//! its own limits. A request is counted and held to the limits of the model it names;
//! nothing is counted in cl100k_base for a model that does not use it. Here OpenAI's
//! models (cl100k_base), a Gemini-like model whose tokenizer is not published (an
//! [`Estimate`], every count marked as one), and a model with a tokenizer of its own
//! ([`Tokenizer`]; a HuggingFace `tokenizer.json` is one with the `hf` feature).
//!
//! ```
//! use std::sync::Arc;
//! use embedguard::{Estimate, Model, Policy, Tokenizer, Vocabulary};
//!
//! /// One token a character (a stand-in for any tokenizer you bring).
//! struct Chars;
//! impl Tokenizer for Chars {
//!     fn name(&self) -> &str { "chars" }
//!     fn count_up_to(&self, text: &str, limit: usize) -> Option<usize> {
//!         let n = text.chars().count();
//!         (n <= limit).then_some(n)
//!     }
//!     fn vocabulary(&self) -> Vocabulary { Vocabulary::below(256) }
//! }
//!
//! let policy = Policy::openai()
//!     .with_model(
//!         Model::new("gemini-embedding-001", 3072)
//!             .with_dimensions(true)
//!             .with_tokenizer(Arc::new(Estimate::new()))
//!             .with_max_input_tokens(2048)
//!             .with_max_inputs(100),
//!     )
//!     .with_model(
//!         Model::new("char-embedder", 384)
//!             .with_alias("chars")
//!             .with_tokenizer(Arc::new(Chars))
//!             .with_max_input_tokens(512)
//!             .with_max_inputs(96),
//!     );
//!
//! let counts = |model: &str| {
//!     let body = format!(r#"{{"model":"{model}","input":["hello world","日本語"]}}"#);
//!     policy.check(body.as_bytes()).map(|c| (c.token_counts().to_vec(), c.exact()))
//! };
//! let (openai, openai_exact) = counts("text-embedding-3-small")?;
//! let (gemini, gemini_exact) = counts("gemini-embedding-001")?;
//! let (chars, chars_exact) = counts("chars")?;
//! assert_eq!(openai[0], 2); // cl100k_base, exact
//! assert_eq!(gemini, [3, 3]); // UTF-8 bytes / 4, rounded up
//! assert_eq!(chars, [11, 3]); // the model's own tokenizer
//! assert!(openai_exact && chars_exact && !gemini_exact);
//!
//! // Each model's own limits, with the contract's messages.
//! let long = format!(r#"{{"model":"chars","input":"{}"}}"#, "a".repeat(513));
//! let err = policy.check(long.as_bytes()).unwrap_err();
//! assert_eq!(err.message(), "Invalid 'input': maximum context length is 512 tokens.");
//! // Ids outside a model's vocabulary (or any ids, for an estimate) are rule 13.
//! let err = policy.check(br#"{"model":"chars","input":[300]}"#).unwrap_err();
//! assert_eq!(err.message(), "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.");
//! # Ok::<(), embedguard::RequestError>(())
//! ```
//!
//! A HuggingFace `tokenizer.json` (feature `hf`, on by default) is a model's tokenizer like
//! any other: [`HfTokenizer`] counts what the `tokenizers` library gives with special tokens
//! added as the file's post-processor says, the file's truncation and padding switched
//! off. In a models file it is `tokenizer = "path/to/tokenizer.json"`.
//!
//! ```
//! # #[cfg(feature = "hf")] {
//! use std::sync::Arc;
//! use embedguard::{HfTokenizer, Model, Policy};
//!
//! // A tiny BERT-like file: lower-cased words, `[CLS] text [SEP]`, and a truncation to
//! // 2 tokens that counting switches off.
//! let json = r#"{"version":"1.0","truncation":{"direction":"Right","max_length":2,"strategy":"LongestFirst","stride":0},"padding":null,
//!   "added_tokens":[{"id":0,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
//!     {"id":1,"content":"[CLS]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
//!     {"id":2,"content":"[SEP]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
//!   "normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"WhitespaceSplit"},
//!   "post_processor":{"type":"TemplateProcessing",
//!     "single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],
//!     "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
//!     "special_tokens":{"[CLS]":{"id":"[CLS]","ids":[1],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[2],"tokens":["[SEP]"]}}},
//!   "decoder":null,
//!   "model":{"type":"WordLevel","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2,"hello":3,"world":4},"unk_token":"[UNK]"}}"#;
//! let tokenizer: HfTokenizer = json.parse().expect("a valid tokenizer.json");
//! let policy = Policy::openai().with_model(
//!     Model::new("tiny-bert", 384).with_tokenizer(Arc::new(tokenizer)).with_max_input_tokens(6),
//! );
//! let checked = policy
//!     .check(br#"{"model":"tiny-bert","input":["Hello world","hello there world again"]}"#)
//!     .expect("within the model's limits");
//! assert_eq!(checked.token_counts(), &[4, 6]); // [CLS] ... [SEP], unknown words one [UNK] each
//! assert!(checked.exact());
//! let err = policy
//!     .check(br#"{"model":"tiny-bert","input":"hello hello hello hello hello"}"#)
//!     .unwrap_err();
//! assert_eq!(err.message(), "Invalid 'input': maximum context length is 6 tokens.");
//! # }
//! ```
//!
//! A gateway with thirty models writes them in a models file instead (feature `models`,
//! on by default; [`Policy::from_models_file`]):
//!
//! ```toml
//! [[model]]
//! name = "qwen3-embedding-8b"
//! aliases = ["qwen3-embedding"]
//! dimensions = 4096          # native size
//! shorten = true             # accepts `dimensions`
//! tokenizer = "tokenizers/qwen3/tokenizer.json"   # or "cl100k_base" (default) or "estimate"
//! max_input_tokens = 32768
//! max_inputs = 2048
//! max_request_tokens = 300000
//! ```
//!
//! # Example: vectors and the response
//!
//! Vectors travel as float32: base64 of the little-endian bytes, or JSON numbers printed
//! as the shortest decimal that reads back to the same float32. The upstream's answer is
//! transcoded to what the client asked for, bit for bit, with the exact usage.
//!
//! ```
//! use embedguard::{Policy, ResponseTarget, decode_base64, encode_base64, transcode_response};
//!
//! assert_eq!(encode_base64(&[1.0, -2.0]), "AACAPwAAAMA=");
//! assert_eq!(decode_base64("AACAPwAAAMA=")?, [1.0, -2.0]);
//!
//! let body = br#"{"model":"text-embedding-3-small","input":"hello world","encoding_format":"base64","dimensions":2}"#;
//! let checked = Policy::openai().check(body)?;
//! // The upstream's usage is not relayed: the client's is the gateway's exact count.
//! let upstream = br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-2.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":1,"total_tokens":999999999}}"#;
//! let response = transcode_response(upstream, &ResponseTarget::from(&checked))?;
//! assert_eq!(
//!     response,
//!     r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPwAAAMA="}],"model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example: budgets
//!
//! Per-key budgets of requests and tokens per minute, charged the exact usage before the
//! upstream call. The time is an argument (milliseconds), so any clock or shared store
//! works; [`MemoryStore`] serves one process, [`REDIS_SCRIPT`] replicas.
//!
//! ```
//! use embedguard::{Budget, BudgetStore, MemoryStore};
//!
//! let budget = Budget::new().with_requests_per_minute(60).with_tokens_per_minute(1000);
//! let store = MemoryStore::new();
//! let Ok(first) = store.admit("key-1", &budget, 600, 0);
//! assert!(first.is_admitted());
//! assert_eq!(first.remaining_tokens(), Some(400));
//!
//! let Ok(second) = store.admit("key-1", &budget, 600, 0);
//! let err = second.error("text-embedding-3-small", "org-demo").unwrap();
//! assert_eq!(err.status(), 429);
//! assert_eq!(err.error_type(), "tokens");
//! assert_eq!(
//!     err.message(),
//!     "Rate limit reached for text-embedding-3-small in organization org-demo on tokens per min (TPM): Limit 1000, Used 600, Requested 600. Please try again in 12s. Visit https://platform.openai.com/account/rate-limits to learn more."
//! );
//! assert!(second.headers().contains(&("retry-after-ms", "12000".to_owned())));
//!
//! // The upstream failed: the charge goes back.
//! let Ok(()) = store.refund("key-1", &budget, 600, 1);
//! let Ok(third) = store.admit("key-1", &budget, 600, 1);
//! assert!(third.is_admitted());
//! ```
//!
//! # Untrusted input
//!
//! Bodies come from anyone, so [`Policy::check`] is built for hostile bytes:
//! time is linear in the body, JSON nesting is read without recursion and bounded by
//! [`Limits::max_depth`], inputs are counted only up to the per-input limit, texts longer
//! than the model's bytes-per-input cap (for cl100k_base 128 bytes per allowed token, a
//! proof; for other tokenizers 32, ours) are rejected without counting, and the memory
//! held is a small multiple of the body (texts without escapes are borrowed, not copied).
//!
//! # Where things live
//!
//! One module per job, none importing another that imports it: `json` reads JSON and
//! knows nothing of OpenAI; `input` reads the `input` member, the one place the reader
//! meets a [`Vocabulary`]; `request` reads the members (rules 2 to 5); `tokens` is the
//! [`Tokenizer`] seam every count and cut goes through; `profile` holds [`Model`] and
//! [`Limits`]; `policy` applies the rules in order; `usage` is a leaf; `plan` splits a
//! checked request into upstream calls; `response` checks the upstream's answers and
//! writes what the client gets.
//!
//! ### Panics
//!
//! Nothing in this crate panics on any input: request bodies, header values, texts.

#![doc = include_str!("async_gateway.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod auth;
#[cfg(feature = "axum")]
mod axum;
mod budget;
mod budget_store;
mod duration;
mod error;
mod estimate;
#[cfg(feature = "hf")]
mod hf;
#[cfg(feature = "hf")]
mod hf_split;
#[cfg(feature = "http")]
mod http;
mod input;
mod json;
#[cfg(feature = "models")]
mod models_file;
mod plan;
mod policy;
mod profile;
mod request;
mod response;
mod tokenizer;
mod tokens;
mod upstream;
mod usage;
mod vector;

#[cfg(feature = "axum")]
pub use crate::axum::{CheckedRequest, Guard, GuardRejection, OFFLOAD_BYTES};
pub use auth::{KEY_MIN_SECRET_LEN, KEY_PREFIX, KeyError, KeyFormat, KeyId, KeySet, mask_key};
pub use budget::{Buckets, Budget, Decision, LEVEL_SCALE, MAX_LIMIT, Refusal};
pub use budget_store::{BudgetStore, MemoryStore, Operation, REDIS_SCRIPT};
pub use duration::format_duration;
pub use error::{ECHO_LIMIT, ErrorKind, InputShape, JsonKind, RequestError, Resource};
pub use estimate::Estimate;
#[cfg(feature = "hf")]
pub use hf::{HfError, HfTokenizer};
pub use input::{Input, InputForm};
#[cfg(feature = "models")]
pub use models_file::ModelsFileError;
pub use plan::{Part, Plan, Upstream};
pub use policy::{Checked, OverLimit, Policy};
pub use profile::{
    DEFAULT_MAX_TOKEN_BYTES, Limits, MAX_BODY_BYTES, MAX_DEPTH, MAX_INPUT_TOKENS, MAX_INPUTS,
    MAX_REQUEST_TOKENS, Model, ModelLimits, cl100k_base,
};
pub use request::EncodingFormat;
pub use response::{
    Embeddings, ResponseError, ResponseTarget, UpstreamPart, UsageSource, decode_response,
    encode_response, encode_response_into, merge_responses, merge_responses_into,
    transcode_response,
};
#[cfg(fuzzing)]
#[doc(hidden)]
pub use response::{decode_response_exact, transcode_response_exact};
pub use tokenizer::{Cl100k, cl100k};
pub use tokens::{Tokenizer, Vocabulary};
pub use usage::Usage;
pub use vector::{
    VectorError, base64_len, decode_base64, decode_base64_into, encode_base64, encode_base64_into,
    encode_float_array, encode_float_array_into, shorten,
};

/// The README's examples run as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
