//! Arbitrary upstream bodies read quickly (the default) and by serde_json alone give the
//! same answer, errors included, word for word: the quick reading only ever answers for a
//! body serde_json accepts, with the same items.

#![no_main]

use embedguard::{
    EncodingFormat, ResponseTarget, decode_response, decode_response_exact, transcode_response,
    transcode_response_exact,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let decoded = decode_response(body);
    assert_eq!(
        decoded.as_ref().map_err(ToString::to_string),
        decode_response_exact(body)
            .as_ref()
            .map_err(ToString::to_string),
    );
    // Transcode to the shape the body has, if it has one, so that success is reachable.
    let (inputs, dims) = decoded
        .map(|read| (read.vectors.len(), read.vectors[0].len()))
        .unwrap_or((1, 2));
    let counts = vec![1; inputs];
    for format in [EncodingFormat::Float, EncodingFormat::Base64] {
        let target = ResponseTarget::new("m", dims, &counts).with_encoding_format(format);
        assert_eq!(
            transcode_response(body, &target).map_err(|e| e.to_string()),
            transcode_response_exact(body, &target).map_err(|e| e.to_string()),
        );
    }
});
