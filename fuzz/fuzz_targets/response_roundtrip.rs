//! Response building on arbitrary vectors, and hostile upstream bodies: never panics; a
//! response built in base64 (or in floats, all finite) decodes back to the same bits;
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
    let plain = ResponseTarget::new("text-embedding-3-small", &counts).with_format(format);
    let all_finite = vectors.iter().flatten().all(|v| v.is_finite());
    // A response's vectors all have one length.
    let one_length = vectors.windows(2).all(|w| w[0].len() == w[1].len());
    match encode_response(&vectors, &plain) {
        Ok(body) => {
            let decoded = decode_response(body.as_bytes()).expect("our own response decodes");
            assert_eq!(bits(&decoded.vectors), case.vectors, "round trip of {body}");
            // A request has at least one input; merging refuses a target of none.
            if !vectors.is_empty() {
                let again = transcode_response(body.as_bytes(), &plain).expect("transcodes");
                assert_eq!(
                    again, body,
                    "transcoding to the same target is the identity"
                );
            }
        }
        Err(err) => assert!(!one_length || !case.base64 && !all_finite, "{err:?}"),
    }

    let shortened = plain.with_dimensions(case.dimensions.map(usize::from));
    if let Ok(body) = encode_response(&vectors, &shortened) {
        let decoded = decode_response(body.as_bytes()).expect("our own response decodes");
        if let Some(d) = case.dimensions {
            assert!(decoded.vectors.iter().all(|v| v.len() == usize::from(d)));
        }
    }

    for target in [plain, shortened] {
        if let Ok(body) = transcode_response(&case.upstream, &target) {
            let decoded = decode_response(body.as_bytes()).expect("a transcoded response decodes");
            assert_eq!(decoded.vectors.len(), counts.len());
        }
        let cut = usize::from(case.split) % (case.upstream.len() + 1);
        let (a, b) = case.upstream.split_at(cut);
        let parts = [
            UpstreamPart { start: 0, body: a },
            UpstreamPart {
                start: 1 + usize::from(case.split) % counts.len().max(1),
                body: b,
            },
        ];
        if let Ok(body) = merge_responses(&parts, &target) {
            let decoded = decode_response(body.as_bytes()).expect("a merged response decodes");
            assert_eq!(decoded.vectors.len(), counts.len());
        }
    }
});
