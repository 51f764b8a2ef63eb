//! Arbitrary text: the count, the early-exit count and the token ids equal tiktoken-rs
//! `encode_ordinary`, the reference.
//!
//! tiktoken-rs panics on about 10^6 whitespace characters before a non-space and is
//! quadratic in a piece's length; texts are kept far below both (libFuzzer's inputs are
//! a few KB), so every input here is one tiktoken-rs handles.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// Longest text compared: tiktoken-rs stays fast and never panics below this.
const MAX_TEXT: usize = 16 * 1024;

fuzz_target!(|text: &str| {
    if text.len() > MAX_TEXT {
        return;
    }
    let cl100k = embedguard::cl100k();
    let reference = tiktoken_rs::cl100k_base_singleton().encode_ordinary(text);
    let count = cl100k.count(text);
    assert_eq!(count, reference.len(), "count of {text:?}");
    assert_eq!(cl100k.encode(text), reference, "ids of {text:?}");
    for limit in [0, 1, count.saturating_sub(1), count, count + 1] {
        let expected = (count <= limit).then_some(count);
        assert_eq!(
            cl100k.count_up_to(text, limit),
            expected,
            "limit {limit}, {text:?}"
        );
    }
});
