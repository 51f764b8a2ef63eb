//! Arbitrary text as base64 and arbitrary bytes as an upstream response body: never
//! panics; whatever base64 decodes is canonical (it encodes back to the same text) and
//! agrees with the `base64` crate's strict decoder.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use embedguard::{decode_base64, decode_response, encode_base64};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_response(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let reference = STANDARD
        .decode(text)
        .ok()
        .filter(|bytes| bytes.len() % 4 == 0);
    match decode_base64(text) {
        Ok(values) => {
            assert_eq!(
                encode_base64(&values),
                text,
                "decoding accepts only canonical text"
            );
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert_eq!(Some(bytes), reference, "{text:?}");
        }
        Err(_) => assert_eq!(reference, None, "{text:?} is valid base64 of whole floats"),
    }
});
