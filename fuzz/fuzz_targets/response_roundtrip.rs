//! Response building on arbitrary vectors, and hostile upstream bodies: never panics; a
//! response is built exactly when the vectors are valid (one length, all finite) and then
//! decodes back to the same bits;
//! transcoding or merging arbitrary upstream bytes is an error or a response that decodes.

#![no_main]

use arbitrary::Arbitrary;
use embedguard::{
    EncodingFormat, ResponseTarget, UpstreamPart, decode_response, encode_response,
    merge_responses, transcode_response,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Case {
    vectors: Vec<Vec<u32>>,
    base64: bool,
    dimensions: Option<u8>,
    upstream: Vec<u8>,
    split: u8,
}

fn bits(vectors: &[Vec<f32>]) -> Vec<Vec<u32>> {
    vectors
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fuzz_target!(|case: Case| {
    let vectors: Vec<Vec<f32>> = case
        .vectors
        .iter()
        .map(|v| v.iter().map(|&b| f32::from_bits(b)).collect())
        .collect();
    let counts = vec![1usize; vectors.len()];
    let format = if case.base64 {
        EncodingFormat::Base64
    } else {
        EncodingFormat::Float
    };
    // The model's native length: the first vector's.
    let native = vectors.first().map_or(0, Vec::len);
    let plain = ResponseTarget::new("text-embedding-3-small", native, &counts)
        .with_encoding_format(format);
    let all_finite = vectors.iter().flatten().all(|v| v.is_finite());
    let one_length = vectors.iter().all(|v| v.len() == native);
    // The contract's rule: at least one vector, each of the expected length, all finite.
    let valid = !vectors.is_empty() && one_length && all_finite;
    match encode_response(&vectors, &plain) {
        Ok(body) => {
            assert!(valid, "accepted {vectors:?}");
            let decoded = decode_response(body.as_bytes()).expect("our own response decodes");
            assert_eq!(bits(&decoded.vectors), case.vectors, "round trip of {body}");
            let again = transcode_response(body.as_bytes(), &plain).expect("transcodes");
            assert_eq!(
                again, body,
                "transcoding to the same target is the identity"
            );
        }
        Err(err) => assert!(!valid, "{err:?}"),
    }

    let shortened = plain
        .clone()
        .with_dimensions(case.dimensions.map(usize::from));
    if let Ok(body) = encode_response(&vectors, &shortened) {
        let decoded = decode_response(body.as_bytes()).expect("our own response decodes");
        assert!(decoded.vectors.iter().all(|v| v.len() == shortened.vector_len()));
    }

    for target in [plain, shortened] {
        if let Ok(body) = transcode_response(&case.upstream, &target) {
            let decoded = decode_response(body.as_bytes()).expect("a transcoded response decodes");
            assert_eq!(decoded.vectors.len(), counts.len());
            assert!(decoded.vectors.iter().all(|v| v.len() == target.vector_len()));
        }
        let cut = usize::from(case.split) % (case.upstream.len() + 1);
        let (a, b) = case.upstream.split_at(cut);
        let parts = [
            UpstreamPart::new(0, a),
            UpstreamPart::new(1 + usize::from(case.split) % counts.len().max(1), b),
        ];
        if let Ok(body) = merge_responses(&parts, &target) {
            let decoded = decode_response(body.as_bytes()).expect("a merged response decodes");
            assert_eq!(decoded.vectors.len(), counts.len());
            assert!(decoded.vectors.iter().all(|v| v.len() == target.vector_len()));
        }
    }
});
