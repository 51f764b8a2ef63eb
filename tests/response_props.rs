//! Properties of transcoding and merging: bit-exact, in client order, usage summed.

use embedguard::{
    EncodingFormat, ResponseError, ResponseTarget, UpstreamPart, Usage, UsageSource, VectorError,
    decode_response, encode_base64, encode_float_array, encode_response, merge_responses,
    merge_responses_into, shorten, transcode_response,
};
use proptest::prelude::*;

fn bits(vectors: &[Vec<f32>]) -> Vec<Vec<u32>> {
    vectors
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits),
        -1.0f32..1.0,
        Just(-0.0f32),
        (1u32..0x0080_0000).prop_map(f32::from_bits),
    ]
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any_f32().prop_filter("finite", |v| v.is_finite())
}

fn format() -> impl Strategy<Value = EncodingFormat> {
    prop_oneof![Just(EncodingFormat::Float), Just(EncodingFormat::Base64)]
}

/// How an upstream reports usage.
#[derive(Debug, Clone, Copy)]
enum UsageForm {
    Exact,
    Absent,
    Null,
    Zeros,
}

/// `n` vectors of `dims` finite values, with a token count (>= 1) each.
fn request(
    max_inputs: usize,
    max_dims: usize,
) -> impl Strategy<Value = (Vec<Vec<f32>>, Vec<usize>)> {
    (1..=max_inputs, 1..=max_dims).prop_flat_map(|(n, dims)| {
        (
            prop::collection::vec(prop::collection::vec(finite_f32(), dims), n),
            prop::collection::vec(1usize..9000, n),
        )
    })
}

/// An upstream body for `vectors`, indexed from 0, items in the order `order` gives, each
/// embedding in `format`, with pretty-printing and extra members a real upstream might add.
fn upstream_body(
    vectors: &[Vec<f32>],
    order: &[usize],
    format: EncodingFormat,
    usage: UsageForm,
    tokens: usize,
) -> String {
    let items: Vec<String> = order
        .iter()
        .map(|&i| {
            let embedding = match format {
                EncodingFormat::Float => {
                    encode_float_array(&vectors[i]).unwrap().replace(',', ", ")
                }
                EncodingFormat::Base64 => format!("\"{}\"", encode_base64(&vectors[i])),
            };
            format!("\n  {{\"embedding\": {embedding}, \"index\": {i}, \"object\": \"embedding\"}}")
        })
        .collect();
    let usage = match usage {
        UsageForm::Exact => {
            format!(r#","usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}"#)
        }
        UsageForm::Absent => String::new(),
        UsageForm::Null => r#","usage":null"#.to_owned(),
        UsageForm::Zeros => r#","usage":{"prompt_tokens":0,"total_tokens":0}"#.to_owned(),
    };
    format!(
        r#"{{"data":[{}],"model":"upstream-model","object":"list"{usage},"id":"x"}}"#,
        items.join(",")
    )
}

/// JSON numbers of every shape: long digit strings, big and small exponents, and decimals
/// right beside the midpoint between two float32 values (where rounding to f64 first, then to f32, goes wrong).
fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            any::<bool>(),
            "(0|[1-9][0-9]{0,3})",
            "(\\.[0-9]{1,30})?",
            "([eE][+-]?[0-9]{1,2})?"
        )
            .prop_map(|(neg, int, frac, exp)| format!(
                "{}{int}{frac}{exp}",
                if neg { "-" } else { "" }
            )),
        (0x0080_0000u32..0x7f7f_ffff, 0usize..3, any::<bool>()).prop_map(|(bits, nudge, neg)| {
            let low = f64::from(f32::from_bits(bits));
            let high = f64::from(f32::from_bits(bits + 1));
            let midpoint = format!("{:e}", (low + high) / 2.0);
            let (mantissa, exponent) = midpoint.split_once('e').unwrap();
            let mantissa = if mantissa.contains('.') {
                mantissa.to_owned()
            } else {
                format!("{mantissa}.0")
            };
            let nudged = match nudge {
                0 => mantissa,
                1 => format!("{mantissa}000000000000000000001"),
                _ => format!("{mantissa}999999999999999999999"),
            };
            format!("{}{nudged}e{exponent}", if neg { "-" } else { "" })
        }),
    ]
}

proptest! {
    #[test]
    fn prop_float_items_read_as_float32_exactly(numbers in prop::collection::vec(json_number(), 1..20)) {
        let body = format!(r#"{{"object":"list","data":[{{"index":0,"embedding":[{}]}}]}}"#, numbers.join(","));
        let expected: Vec<f32> = numbers.iter().map(|n| n.parse().unwrap()).collect();
        match expected.iter().position(|v| v.is_infinite()) {
            None => {
                let read = decode_response(body.as_bytes()).unwrap();
                prop_assert_eq!(bits(&read.vectors), bits(&[expected]));
            }
            Some(index) => {
                let err = decode_response(body.as_bytes()).unwrap_err();
                prop_assert_eq!(err.to_string(), format!("the vector for input 0: value {index} is out of float32 range"));
            }
        }
    }

    #[test]
    fn prop_encode_then_read_is_bit_exact(
        (vectors, counts) in request(6, 40),
        format in format(),
    ) {
        let target = ResponseTarget::new("m", vectors[0].len(), &counts).with_encoding_format(format);
        let body = encode_response(&vectors, &target).unwrap();
        let read = decode_response(body.as_bytes()).unwrap();
        prop_assert_eq!(bits(&read.vectors), bits(&vectors));
        prop_assert_eq!(read.usage, Some(Usage::from_counts(&counts)));
        prop_assert_eq!(read.model.as_deref(), Some("m"));
        // Valid JSON, of OpenAI's shape.
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        prop_assert_eq!(&value["object"], "list");
        prop_assert_eq!(value["data"].as_array().unwrap().len(), vectors.len());
    }

    #[test]
    fn prop_transcode_float_base64_float_is_bit_exact(
        (vectors, counts) in request(5, 40),
    ) {
        let float = ResponseTarget::new("m", vectors[0].len(), &counts);
        let base64 = float.clone().with_encoding_format(EncodingFormat::Base64);
        let original = encode_response(&vectors, &float).unwrap();
        let as_base64 = transcode_response(original.as_bytes(), &base64).unwrap();
        prop_assert_eq!(&as_base64, &encode_response(&vectors, &base64).unwrap());
        let back = transcode_response(as_base64.as_bytes(), &float).unwrap();
        prop_assert_eq!(&back, &original);
    }

    #[test]
    fn prop_transcode_base64_keeps_every_bit_pattern(
        vectors in prop::collection::vec(prop::collection::vec(any_f32(), 1..30), 1..4)
            .prop_map(|mut v| { let d = v[0].len(); for x in &mut v { x.resize(d, 0.5) } v }),
    ) {
        let counts = vec![1; vectors.len()];
        let target = ResponseTarget::new("m", vectors[0].len(), &counts).with_encoding_format(EncodingFormat::Base64);
        let order: Vec<usize> = (0..vectors.len()).rev().collect();
        let body = upstream_body(&vectors, &order, EncodingFormat::Base64, UsageForm::Absent, 0);
        // Every finite bit pattern (subnormals, -0.0) passes bit for bit; the first NaN or
        // infinity, in input order, is the upstream's fault.
        let first_bad = vectors.iter().enumerate().find_map(|(i, v)| {
            v.iter().position(|x| !x.is_finite()).map(|at| (i, at, v[at]))
        });
        match (transcode_response(body.as_bytes(), &target), first_bad) {
            (Ok(out), None) => {
                prop_assert_eq!(bits(&decode_response(out.as_bytes()).unwrap().vectors), bits(&vectors));
            }
            (Err(err), Some((input, at, value))) => {
                let ResponseError::Vector { index, source: VectorError::NonFinite { index: position, value: got } } = err else {
                    return Err(TestCaseError::fail(format!("{err:?}")));
                };
                prop_assert_eq!((index, position, got.to_bits()), (input, at, value.to_bits()));
            }
            (result, bad) => prop_assert!(false, "{:?} for {:?}", result, bad),
        }
    }

    #[test]
    fn prop_transcode_shortens_as_shorten_does(
        (vectors, counts) in request(4, 64),
        cut in any::<prop::sample::Index>(),
        format in format(),
    ) {
        let dims = vectors[0].len();
        let dimensions = 1 + cut.index(dims);
        let target = ResponseTarget::new("m", dims, &counts).with_encoding_format(EncodingFormat::Base64).with_dimensions(Some(dimensions));
        let order: Vec<usize> = (0..vectors.len()).collect();
        let body = upstream_body(&vectors, &order, format, UsageForm::Exact, 3);
        let out = transcode_response(body.as_bytes(), &target).unwrap();
        let expected: Vec<Vec<f32>> = vectors.iter().map(|v| {
            let mut v = v.clone();
            if dims != dimensions { shorten(&mut v, dimensions).unwrap(); }
            v
        }).collect();
        prop_assert_eq!(bits(&decode_response(out.as_bytes()).unwrap().vectors), bits(&expected));
    }

    /// Split the client's inputs at arbitrary points, let each upstream answer its slice in
    /// any order, in either format, with or without usage; merged and read back, it is what
    /// one call would have answered.
    #[test]
    fn prop_merge_then_read_gives_client_order_and_summed_usage(
        (vectors, counts) in request(24, 12),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        shuffles in prop::collection::vec(any::<u64>(), 8),
        formats in prop::collection::vec(format(), 8),
        usages in prop::collection::vec(
            prop_oneof![Just(UsageForm::Exact), Just(UsageForm::Absent), Just(UsageForm::Null), Just(UsageForm::Zeros)], 8),
        client_format in format(),
    ) {
        let n = vectors.len();
        let mut starts: Vec<usize> = cuts.iter().map(|c| c.index(n)).collect();
        starts.push(0);
        starts.sort_unstable();
        starts.dedup();
        let bodies: Vec<String> = starts.iter().enumerate().map(|(p, &start)| {
            let end = starts.get(p + 1).copied().unwrap_or(n);
            let slice = &vectors[start..end];
            let mut order: Vec<usize> = (0..slice.len()).collect();
            let mut seed = shuffles[p % 8] | 1;
            for i in (1..order.len()).rev() {
                seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
                order.swap(i, (seed % (i as u64 + 1)) as usize);
            }
            let tokens = counts[start..end].iter().sum();
            upstream_body(slice, &order, formats[p % 8], usages[p % 8], tokens)
        }).collect();
        let parts: Vec<UpstreamPart> = starts.iter().zip(&bodies)
            .map(|(&start, body)| UpstreamPart::new(start, body.as_bytes())).collect();
        let target = ResponseTarget::new("client-model", vectors[0].len(), &counts).with_encoding_format(client_format);

        let merged = merge_responses(&parts, &target).unwrap();
        prop_assert_eq!(&merged, &encode_response(&vectors, &target).unwrap());
        let read = decode_response(merged.as_bytes()).unwrap();
        prop_assert_eq!(bits(&read.vectors), bits(&vectors));
        prop_assert_eq!(read.usage, Some(Usage::from_counts(&counts)));
        prop_assert_eq!(read.model.as_deref(), Some("client-model"));
    }
}

#[test]
fn merge_sums_the_upstreams_usage_only_for_an_estimate_profile() {
    let first = upstream_body(
        &[vec![1.0]],
        &[0],
        EncodingFormat::Float,
        UsageForm::Exact,
        100,
    );
    let second = upstream_body(
        &[vec![2.0]],
        &[0],
        EncodingFormat::Float,
        UsageForm::Zeros,
        0,
    );
    let counts = [3, 4];
    let parts = [
        UpstreamPart::new(0, first.as_bytes()),
        UpstreamPart::new(1, second.as_bytes()),
    ];
    // Exact counts: the gateway's own 3 + 4, whatever the upstream reported.
    let target = ResponseTarget::new("m", 1, &counts);
    let merged = merge_responses(&parts, &target).unwrap();
    assert!(
        merged.ends_with(r#""usage":{"prompt_tokens":7,"total_tokens":7}}"#),
        "{merged}"
    );
    // Estimates: the upstream's 100, and the estimate 4 where it reported zero.
    let target = target.with_usage_source(UsageSource::Upstream);
    let mut out = String::from("kept:");
    let usage = merge_responses_into(&parts, &target, &mut out).unwrap();
    assert_eq!(usage, Usage::from_counts(&[104]));
    assert_eq!(
        out,
        format!("kept:{}", merge_responses(&parts, &target).unwrap())
    );
    assert!(
        out.ends_with(r#""usage":{"prompt_tokens":104,"total_tokens":104}}"#),
        "{out}"
    );
}
