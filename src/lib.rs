//! embedguard checks OpenAI-compatible `POST /v1/embeddings` requests before a gateway
//! spends upstream money on them: is the body valid, how many tokens is each input,
//! and, if the request is wrong, which exact error does the client get.
//!
//! It follows OpenAI's own behaviour word for word (the rules are in the project's
//! contract), counts cl100k_base tokens exactly as OpenAI's tiktoken does, and enforces
//! OpenAI's limits, all configurable. It is a pure library: no IO, no async runtime, no
//! threads of its own.
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
//! # Example: your own models and limits
//!
//! ```
//! use embedguard::{Limits, Model, Policy};
//!
//! let policy = Policy::openai()
//!     .with_model(Model::new("bge-m3", 1024).with_alias("bge"))
//!     .with_limits(Limits::openai().with_max_inputs(96));
//! let checked = policy.check(br#"{"model": "bge", "input": ["a", "b"]}"#)?;
//! assert_eq!(checked.model_spec().name(), "bge-m3");
//!
//! let err = policy.check(br#"{"model": "bge", "input": "a", "dimensions": 8}"#).unwrap_err();
//! assert_eq!(err.message(), "This model does not support specifying dimensions.");
//! # Ok::<(), embedguard::RequestError>(())
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
//! than 128 bytes per allowed token are rejected without counting, and the memory held
//! is a small multiple of the body (texts without escapes are borrowed, not copied).
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
#[cfg(feature = "http")]
mod http;
mod input;
mod json;
mod plan;
mod policy;
mod profile;
mod request;
mod response;
mod tokenizer;
mod tokens;
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
pub use input::{Input, InputForm};
pub use plan::{Part, Plan, Upstream};
pub use policy::{Checked, OverLimit, Policy};
pub use profile::{
    DEFAULT_MAX_TOKEN_BYTES, Limits, MAX_BODY_BYTES, MAX_DEPTH, MAX_INPUT_TOKENS, MAX_INPUTS,
    MAX_REQUEST_TOKENS, Model, ModelLimits,
};
pub use request::EncodingFormat;
pub use response::{
    Embeddings, ResponseError, ResponseTarget, UpstreamPart, UsageSource, decode_response,
    encode_response, encode_response_into, merge_responses, merge_responses_into,
    transcode_response,
};
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
