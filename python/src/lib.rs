//! `embedguard._native`: the embedguard crate for Python, as thin as it can be.
//!
//! Every function here converts Python values in, calls the library, and converts the
//! answer out; the rules all live in the library. Calls that can take long (anything
//! linear in a body or a text of more than a few hundred bytes) run detached from the
//! interpreter, so other Python threads and the event loop go on meanwhile.
//!
//! Nothing here panics on any input: bad values are Python exceptions.

#![deny(unsafe_code)]

mod budget;
mod convert;
mod errors;
mod keys;
mod policy;
mod response;
mod tokenizer;

use pyo3::prelude::*;

/// The native half of the `embedguard` package; import `embedguard` instead.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<policy::Limits>()?;
    m.add_class::<policy::Model>()?;
    m.add_class::<policy::Policy>()?;
    m.add_class::<policy::Checked>()?;
    m.add_class::<policy::Usage>()?;
    m.add_class::<keys::KeySet>()?;
    m.add_class::<keys::KeyFormat>()?;
    m.add_class::<keys::KeyId>()?;
    m.add_class::<tokenizer::Cl100k>()?;
    m.add_class::<response::Plan>()?;
    m.add_class::<response::Part>()?;
    m.add_class::<response::ResponseTarget>()?;
    m.add_class::<response::Embeddings>()?;
    m.add_class::<budget::Budget>()?;
    m.add_class::<budget::Operation>()?;
    m.add_class::<budget::Decision>()?;
    m.add_class::<budget::MemoryStore>()?;
    m.add_function(wrap_pyfunction!(tokenizer::cl100k, m)?)?;
    m.add_function(wrap_pyfunction!(keys::mask_key, m)?)?;
    m.add_function(wrap_pyfunction!(response::plan, m)?)?;
    m.add_function(wrap_pyfunction!(response::merge_responses, m)?)?;
    m.add_function(wrap_pyfunction!(response::transcode_response, m)?)?;
    m.add_function(wrap_pyfunction!(response::encode_response, m)?)?;
    m.add_function(wrap_pyfunction!(response::decode_response, m)?)?;
    m.add_function(wrap_pyfunction!(response::encode_base64, m)?)?;
    m.add_function(wrap_pyfunction!(response::decode_base64, m)?)?;
    m.add_function(wrap_pyfunction!(response::encode_float_array, m)?)?;
    m.add_function(wrap_pyfunction!(response::shorten, m)?)?;
    m.add_function(wrap_pyfunction!(response::base64_len, m)?)?;
    m.add("MAX_INPUTS", embedguard::MAX_INPUTS)?;
    m.add("MAX_INPUT_TOKENS", embedguard::MAX_INPUT_TOKENS)?;
    m.add("MAX_REQUEST_TOKENS", embedguard::MAX_REQUEST_TOKENS)?;
    m.add("MAX_BODY_BYTES", embedguard::MAX_BODY_BYTES)?;
    m.add("MAX_DEPTH", embedguard::MAX_DEPTH)?;
    m.add("ECHO_LIMIT", embedguard::ECHO_LIMIT)?;
    m.add("KEY_PREFIX", embedguard::KEY_PREFIX)?;
    m.add("KEY_MIN_SECRET_LEN", embedguard::KEY_MIN_SECRET_LEN)?;
    m.add("REDIS_SCRIPT", embedguard::REDIS_SCRIPT)?;
    Ok(())
}
