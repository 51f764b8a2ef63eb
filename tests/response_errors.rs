//! Reading, transcoding and merging upstream responses: what is rejected, word for word,
//! and what is tolerated.

use embedguard::{
    EncodingFormat, Policy, ResponseError, ResponseTarget, UpstreamPart, Usage, UsageSource,
    VectorError, decode_response, encode_response, merge_responses, transcode_response,
};

const ONE: &str = r#"{"object":"embedding","index":0,"embedding":[1.0]}"#;

fn list(items: &str) -> String {
    format!(r#"{{"object":"list","data":[{items}],"model":"m"}}"#)
}

/// (name, upstream body, exact message), each transcoded for one input.
fn bad_bodies() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "not json",
            "<html>502</html>".into(),
            "upstream response 0 is not a valid embeddings response: expected value at line 1 column 1",
        ),
        (
            "empty",
            "".into(),
            "upstream response 0 is not a valid embeddings response: EOF while parsing a value at line 1 column 0",
        ),
        (
            "an error envelope",
            r#"{"error":{"message":"x"}}"#.into(),
            "upstream response 0 is not a valid embeddings response: missing field `object` at line 1 column 25",
        ),
        (
            "wrong object",
            r#"{"object":"dict","data":[]}"#.into(),
            r#"upstream response 0 is not a valid embeddings response: invalid value: string "dict", expected "list" at line 1 column 16"#,
        ),
        (
            "no data",
            r#"{"object":"list"}"#.into(),
            "upstream response 0 is not a valid embeddings response: missing field `data` at line 1 column 17",
        ),
        (
            "data not an array",
            r#"{"object":"list","data":{}}"#.into(),
            "upstream response 0 is not a valid embeddings response: invalid type: map, expected a sequence at line 1 column 24",
        ),
        (
            "data twice",
            format!(r#"{{"object":"list","data":[{ONE}],"data":[{ONE}]}}"#),
            "upstream response 0 is not a valid embeddings response: duplicate field `data` at line 1 column 83",
        ),
        (
            "trailing data",
            format!("{} {{}}", list(ONE)),
            "upstream response 0 is not a valid embeddings response: trailing characters at line 1 column 91",
        ),
        (
            "item without index",
            list(r#"{"object":"embedding","embedding":[1.0]}"#),
            "upstream response 0 is not a valid embeddings response: missing field `index` at line 1 column 65",
        ),
        (
            "item without embedding",
            list(r#"{"object":"embedding","index":0}"#),
            "upstream response 0 is not a valid embeddings response: missing field `embedding` at line 1 column 57",
        ),
        (
            "item of the wrong object",
            list(r#"{"object":"vector","index":0,"embedding":[1.0]}"#),
            r#"upstream response 0 is not a valid embeddings response: invalid value: string "vector", expected "embedding" at line 1 column 43"#,
        ),
        (
            "negative index",
            list(r#"{"index":-1,"embedding":[1.0]}"#),
            "upstream response 0 is not a valid embeddings response: invalid value: integer `-1`, expected usize at line 1 column 36",
        ),
        (
            "usage not numbers",
            format!(r#"{{"object":"list","data":[{ONE}],"usage":{{"prompt_tokens":"5"}}}}"#),
            "upstream response 0 is not a valid embeddings response: invalid type: string \"5\", expected usize at line 1 column 105",
        ),
        (
            "no items",
            list(""),
            "upstream response 0 has no item with index 0",
        ),
        (
            "index out of range",
            list(r#"{"index":1,"embedding":[1.0]}"#),
            "upstream response 0 has an item with index 1, outside 0..1",
        ),
        (
            "duplicate index",
            list(&format!("{ONE},{ONE}")),
            "upstream response 0 has more than one item with index 0",
        ),
        (
            "embedding null",
            list(r#"{"index":0,"embedding":null}"#),
            "the vector for input 0: the embedding is neither an array of numbers nor a base64 string",
        ),
        (
            "embedding an object",
            list(r#"{"index":0,"embedding":{"0":1.0}}"#),
            "the vector for input 0: the embedding is neither an array of numbers nor a base64 string",
        ),
        (
            "embedding a number",
            list(r#"{"index":0,"embedding":1.0}"#),
            "the vector for input 0: the embedding is neither an array of numbers nor a base64 string",
        ),
        (
            "a string item",
            list(r#"{"index":0,"embedding":[1.0,"2,3"]}"#),
            "the vector for input 0: value 1 is not a number",
        ),
        (
            "a null item",
            list(r#"{"index":0,"embedding":[1.0, 2.0, null]}"#),
            "the vector for input 0: value 2 is not a number",
        ),
        (
            "a nested array",
            list(r#"{"index":0,"embedding":[[1.0,2.0]]}"#),
            "the vector for input 0: value 0 is not a number",
        ),
        (
            "out of float32 range",
            list(r#"{"index":0,"embedding":[1e39]}"#),
            "the vector for input 0: value 0 is out of float32 range",
        ),
        (
            "url-safe base64",
            list(r#"{"index":0,"embedding":"AACA-w=="}"#),
            "the vector for input 0: invalid base64: unexpected byte 0x2d at offset 4",
        ),
        (
            "escaped newline in base64",
            list(r#"{"index":0,"embedding":"AACA\nPw=="}"#),
            "the vector for input 0: invalid base64: unexpected byte 0x0a at offset 4",
        ),
        (
            "base64 of 3 bytes",
            list(r#"{"index":0,"embedding":"AACA"}"#),
            "the vector for input 0: base64 byte count 3 is not a multiple of 4 (float32 values are 4 bytes each)",
        ),
        (
            "NaN to float",
            list(r#"{"index":0,"embedding":"AADAfw=="}"#),
            "the vector for input 0: value 0 is NaN, which has no JSON form",
        ),
    ]
}

#[test]
fn transcode_rejects_bad_upstream_bodies_with_exact_messages() {
    let counts = [1];
    let target = ResponseTarget::new("m", 1, &counts);
    let mut failures = Vec::new();
    for (name, body, expected) in bad_bodies() {
        match transcode_response(body.as_bytes(), &target) {
            Ok(out) => failures.push(format!("{name}: accepted as {out}")),
            Err(err) if err.to_string() != expected => {
                failures.push(format!("{name}: {body}\n  got:  {err}\n  want: {expected}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn errors_carry_the_numbers() {
    let counts = [1, 1, 1];
    let target = ResponseTarget::new("m", 1, &counts);
    let err = transcode_response(list(ONE).as_bytes(), &target).unwrap_err();
    assert_eq!(err, ResponseError::MissingIndex { part: 0, index: 1 });

    let err = decode_response(br#"{"object":"list","data":[1]}"#).unwrap_err();
    let ResponseError::InvalidBody {
        part,
        reason,
        line,
        column,
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!((part, line, column), (0, 1, 26));
    assert_eq!(
        reason,
        "invalid type: integer `1`, expected an embedding item object"
    );

    let body = list(r#"{"index":0,"embedding":"AACA"}"#);
    assert_eq!(
        decode_response(body.as_bytes()).unwrap_err(),
        ResponseError::Vector {
            index: 0,
            source: VectorError::PartialValue { bytes: 3 }
        }
    );
}

#[test]
fn merge_names_the_part_and_the_client_position() {
    let counts = [1, 1, 1, 1];
    let target = ResponseTarget::new("m", 1, &counts);
    let two = list(r#"{"index":0,"embedding":[1.0]},{"index":1,"embedding":[1.0]}"#);
    let bad = list(r#"{"index":1,"embedding":[2.0]},{"index":0,"embedding":"AACA"}"#);
    let parts = [
        UpstreamPart::new(0, two.as_bytes()),
        UpstreamPart::new(2, bad.as_bytes()),
    ];
    let err = merge_responses(&parts, &target).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the vector for input 2: base64 byte count 3 is not a multiple of 4 (float32 values are 4 bytes each)"
    );

    let short = list(ONE);
    let parts = [
        UpstreamPart::new(0, two.as_bytes()),
        UpstreamPart::new(2, short.as_bytes()),
    ];
    assert_eq!(
        merge_responses(&parts, &target).unwrap_err().to_string(),
        "upstream response 1 has no item with index 1"
    );
}

#[test]
fn merge_rejects_parts_out_of_order() {
    let counts = [1, 1, 1];
    let target = ResponseTarget::new("m", 1, &counts);
    let body = list(ONE);
    let body = body.as_bytes();
    let msg = |starts: &[usize]| {
        let parts: Vec<_> = starts
            .iter()
            .map(|&start| UpstreamPart::new(start, body))
            .collect();
        merge_responses(&parts, &target).unwrap_err().to_string()
    };
    assert_eq!(msg(&[]), "no upstream responses to merge");
    let rule = "responses must start at input 0 and go up, each answering at least one input, all below input 3";
    assert_eq!(
        msg(&[1]),
        format!("upstream response 0 starts at input 1: {rule}")
    );
    assert_eq!(
        msg(&[0, 2, 2]),
        format!("upstream response 2 starts at input 2: {rule}")
    );
    assert_eq!(
        msg(&[0, 2, 1]),
        format!("upstream response 2 starts at input 1: {rule}")
    );
    assert_eq!(
        msg(&[0, 3]),
        format!("upstream response 1 starts at input 3: {rule}")
    );
}

/// A body of `n` items, each `len` values long (all 0.5, or NaN at `nan`).
fn items(n: usize, len: usize) -> String {
    let vector = vec!["0.5"; len].join(",");
    let items: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"index":{i},"embedding":[{vector}]}}"#))
        .collect();
    list(&items.join(","))
}

#[test]
fn vectors_of_another_length_than_asked_are_upstream_errors() {
    let policy = Policy::openai();
    let small = |body: &'static str| policy.check(body.as_bytes()).unwrap();
    let message = |checked: &embedguard::Checked<'_>, upstream: &str| {
        transcode_response(upstream.as_bytes(), &ResponseTarget::from(checked))
            .map(|_| "accepted".to_owned())
            .unwrap_or_else(|err| err.to_string())
    };
    // A client asking a 1536-dimension model, answered with 1-dimension vectors.
    let native = small(r#"{"model":"text-embedding-3-small","input":["a","b"]}"#);
    assert_eq!(
        message(&native, &items(2, 1)),
        "the vector for input 0 has length 1, expected 1536"
    );
    assert_eq!(
        message(&native, &items(2, 1537)),
        "the vector for input 0 has length 1537, expected 1536"
    );
    assert_eq!(message(&native, &items(2, 1536)), "accepted");
    let ada = small(r#"{"model":"text-embedding-ada-002","input":"a"}"#);
    assert_eq!(
        message(&ada, &items(1, 3072)),
        "the vector for input 0 has length 3072, expected 1536"
    );
    // With `dimensions`: that length, or the native one (shortened), nothing else.
    let short = small(r#"{"model":"text-embedding-3-large","input":["a","b"],"dimensions":256}"#);
    assert_eq!(message(&short, &items(2, 256)), "accepted");
    assert_eq!(message(&short, &items(2, 3072)), "accepted");
    assert_eq!(
        message(&short, &items(2, 1536)),
        "the vector for input 0 has length 1536, expected 256 (or 3072, to be shortened)"
    );
    assert_eq!(
        message(&short, &items(2, 255)),
        "the vector for input 0 has length 255, expected 256 (or 3072, to be shortened)"
    );
    // The second vector is checked as the first: lengths are not learnt from the upstream.
    let mixed = list(&format!(
        r#"{{"index":0,"embedding":[{}]}},{{"index":1,"embedding":[0.5]}}"#,
        vec!["0.5"; 256].join(",")
    ));
    let err = transcode_response(mixed.as_bytes(), &ResponseTarget::from(&short)).unwrap_err();
    assert_eq!(
        err,
        ResponseError::WrongLength {
            index: 1,
            len: 1,
            expected: 256,
            shortened_from: Some(3072)
        }
    );
    // The full length asked for explicitly is the native one: nothing to shorten.
    let full = small(r#"{"model":"text-embedding-3-small","input":"a","dimensions":1536}"#);
    assert_eq!(message(&full, &items(1, 1536)), "accepted");
    assert_eq!(
        message(&full, &items(1, 8)),
        "the vector for input 0 has length 8, expected 1536"
    );
}

#[test]
fn one_vector_per_input_sent() {
    let checked = Policy::openai()
        .check(br#"{"model":"text-embedding-3-small","input":["a","b","c"]}"#)
        .unwrap();
    let target = ResponseTarget::from(&checked);
    let message = |upstream: String| {
        transcode_response(upstream.as_bytes(), &target)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message(items(2, 1536)),
        "upstream response 0 has no item with index 2"
    );
    assert_eq!(
        message(items(4, 1536)),
        "upstream response 0 has an item with index 3, outside 0..3"
    );
    assert_eq!(
        message(list("")),
        "upstream response 0 has no item with index 0"
    );
}

#[test]
fn nan_and_infinity_are_upstream_errors_in_either_format() {
    let counts = [1, 1];
    for format in [EncodingFormat::Float, EncodingFormat::Base64] {
        let target = ResponseTarget::new("m", 2, &counts).with_encoding_format(format);
        for (value, text) in [
            (f32::NAN, "NaN"),
            (f32::INFINITY, "inf"),
            (f32::NEG_INFINITY, "-inf"),
        ] {
            let bad = embedguard::encode_base64(&[0.5, value]);
            let body = list(&format!(
                r#"{{"index":0,"embedding":[0.5,0.5]}},{{"index":1,"embedding":"{bad}"}}"#
            ));
            let err = transcode_response(body.as_bytes(), &target).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("the vector for input 1: value 1 is {text}, which has no JSON form"),
                "{format:?}"
            );
            assert_eq!(
                decode_response(body.as_bytes()).unwrap_err().to_string(),
                format!("the vector for input 1: value 1 is {text}, which has no JSON form")
            );
            // A NaN past `dimensions` is still the upstream's fault.
            let shortened = target.clone().with_dimensions(Some(1));
            assert!(transcode_response(body.as_bytes(), &shortened).is_err());
            // The gateway's own vectors are held to the same rule.
            let err = encode_response([[0.5, 0.5], [0.5, value]], &target).unwrap_err();
            // (Matched, not compared: NaN is not equal to itself.)
            let ResponseError::Vector {
                index: 1,
                source:
                    VectorError::NonFinite {
                        index: 1,
                        value: got,
                    },
            } = err
            else {
                panic!("{err:?}")
            };
            assert_eq!(got.to_bits(), value.to_bits());
            assert_eq!(
                err.to_string(),
                format!("the vector for input 1: value 1 is {text}, which has no JSON form")
            );
        }
    }
}

#[test]
fn a_response_has_at_least_one_vector_everywhere() {
    let target = ResponseTarget::new("m", 1, &[]);
    let rule = "a response needs at least one vector, and the target has no inputs";
    let none: [[f32; 1]; 0] = [];
    assert_eq!(
        encode_response(none, &target).unwrap_err(),
        ResponseError::NoInputs
    );
    assert_eq!(
        encode_response(none, &target).unwrap_err().to_string(),
        rule
    );
    assert_eq!(
        transcode_response(list("").as_bytes(), &target)
            .unwrap_err()
            .to_string(),
        rule
    );
    assert_eq!(
        merge_responses(&[UpstreamPart::new(0, list(ONE).as_bytes())], &target)
            .unwrap_err()
            .to_string(),
        rule
    );
    assert_eq!(merge_responses(&[], &target).unwrap_err().to_string(), rule);
    // Reading without a target: an empty `data` is no response either.
    assert_eq!(
        decode_response(list("").as_bytes())
            .unwrap_err()
            .to_string(),
        "upstream response 0 has no item with index 0"
    );
}

#[test]
fn decode_wants_one_length() {
    let body = list(r#"{"index":0,"embedding":[1.0,0.0]},{"index":1,"embedding":[1.0]}"#);
    assert_eq!(
        decode_response(body.as_bytes()).unwrap_err().to_string(),
        "the vector for input 1 has length 1, but the one for input 0 has length 2"
    );
}

#[test]
fn tolerates_extra_members_absent_model_and_usage() {
    let body = br#"{
        "id": "emb-1", "object": "list",
        "data": [ { "embedding" : [ 1 , -0 , 2.5E-1 , 1e1 ] , "index" : 0 , "extra": {"a": [1, "x"]} } ],
        "usage": null, "created": 123
    }"#;
    let read = decode_response(body).unwrap();
    assert_eq!(read.vectors, [[1.0, -0.0, 0.25, 10.0]]);
    assert!(read.vectors[0][1].is_sign_negative());
    assert_eq!(read.model, None);
    assert_eq!(read.usage, None);

    let counts = [7];
    let target = ResponseTarget::new("client-name", 4, &counts);
    assert_eq!(
        transcode_response(body, &target).unwrap(),
        r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1.0,-0.0,0.25,10.0]}],"model":"client-name","usage":{"prompt_tokens":7,"total_tokens":7}}"#
    );
}

#[test]
fn an_upstreams_usage_never_reaches_the_client_of_an_exact_model() {
    // What issue 9 found: 1 / 999999999 from the upstream reached the client.
    let checked = Policy::openai()
        .check(br#"{"model":"text-embedding-3-small","input":["hello world","h"],"dimensions":1}"#)
        .unwrap();
    let target = ResponseTarget::from(&checked);
    assert_eq!(target.usage_source(), UsageSource::Counted);
    let lying = r#"{"object":"list","data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[1.0]}],"usage":{"prompt_tokens":1,"total_tokens":999999999}}"#;
    let out = transcode_response(lying.as_bytes(), &target).unwrap();
    assert!(
        out.ends_with(r#""usage":{"prompt_tokens":3,"total_tokens":3}}"#),
        "{out}"
    );
    // Split in two calls, each lying.
    let half = r#"{"object":"list","data":[{"index":0,"embedding":[1.0]}],"usage":{"prompt_tokens":1,"total_tokens":999999999}}"#;
    let parts = [
        UpstreamPart::new(0, half.as_bytes()),
        UpstreamPart::new(1, half.as_bytes()),
    ];
    let out = merge_responses(&parts, &target).unwrap();
    assert!(
        out.ends_with(r#""usage":{"prompt_tokens":3,"total_tokens":3}}"#),
        "{out}"
    );
    assert!(!out.contains("999999999"));
}

#[test]
fn an_estimate_profiles_usage_is_the_upstreams_unless_missing_or_zero() {
    let counts = [7];
    let counted = ResponseTarget::new("m", 1, &counts);
    let upstream = counted.clone().with_usage_source(UsageSource::Upstream);
    let usage = |u: &str| {
        let body = format!(r#"{{"object":"list","data":[{ONE}],"usage":{u}}}"#);
        let read = |target: &ResponseTarget<'_>| {
            let out = transcode_response(body.as_bytes(), target).unwrap();
            decode_response(out.as_bytes()).unwrap().usage
        };
        (
            decode_response(body.as_bytes()).unwrap().usage,
            read(&upstream),
            read(&counted),
        )
    };
    let five = Some(Usage::from_counts(&[5]));
    let seven = Some(Usage::from_counts(&[7]));
    assert_eq!(
        usage(r#"{"prompt_tokens":5,"total_tokens":5}"#),
        (five, five, seven)
    );
    assert_eq!(usage(r#"{"prompt_tokens":5}"#), (five, five, seven));
    let lie = Some(Usage {
        prompt_tokens: 1,
        total_tokens: 999_999_999,
    });
    assert_eq!(
        usage(r#"{"prompt_tokens":1,"total_tokens":999999999}"#),
        (lie, lie, seven)
    );
    assert_eq!(
        usage(r#"{"prompt_tokens":0,"total_tokens":0}"#),
        (None, seven, seven)
    );
    assert_eq!(usage(r#"{"total_tokens":5}"#), (None, seven, seven));
    assert_eq!(usage("{}"), (None, seven, seven));
    assert_eq!(usage("null"), (None, seven, seven));
}

#[test]
fn floats_are_read_as_float32_exactly_not_through_f64() {
    // Just above the midpoint between 1.0 and the next float32: read through f64 it lands
    // on the midpoint and rounds to even (1.0); read as float32 it is 1.0000001.
    let body = list(
        r#"{"index":0,"embedding":[1.00000005960464477550, 1.000000059604644775390625, 0.1, 0.10000000149011612]}"#,
    );
    let read = decode_response(body.as_bytes()).unwrap();
    let bits: Vec<u32> = read.vectors[0].iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [0x3f80_0001, 0x3f80_0000, 0x3dcc_cccd, 0x3dcc_cccd]);
    // Subnormals and underflow.
    let body = list(r#"{"index":0,"embedding":[1e-45, 7.1e-46, 7e-46, -1e-50]}"#);
    let read = decode_response(body.as_bytes()).unwrap();
    let bits: Vec<u32> = read.vectors[0].iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, [1, 1, 0, 0x8000_0000]);
}

#[test]
fn base64_strings_with_json_escapes_are_unescaped() {
    // `\/` is a legal escape of `/`, which base64 uses.
    let body = list(r#"{"index":0,"embedding":"AAAAAAAA\/34="}"#);
    let read = decode_response(body.as_bytes()).unwrap();
    assert_eq!(
        read.vectors[0]
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>(),
        [0, 0x7eff_0000]
    );
    let body = list(r#"{"index":0,"embedding":"\u0041ACAPw=="}"#);
    assert_eq!(decode_response(body.as_bytes()).unwrap().vectors, [[1.0]]);
}

#[test]
fn shortens_only_native_length_vectors() {
    let counts = [1, 1];
    let target = ResponseTarget::new("m", 3, &counts)
        .with_dimensions(Some(2))
        .with_encoding_format(EncodingFormat::Float);
    let body = list(r#"{"index":0,"embedding":[3.0,4.0,12.0]},{"index":1,"embedding":[0.6,0.8]}"#);
    let out = transcode_response(body.as_bytes(), &target).unwrap();
    assert_eq!(
        decode_response(out.as_bytes()).unwrap().vectors,
        [[0.6, 0.8], [0.6, 0.8]]
    );
    // Already the right length: passed through untouched, not renormalized.
    let body = list(r#"{"index":0,"embedding":[3.0,4.0]},{"index":1,"embedding":[0.0,0.0]}"#);
    let out = transcode_response(body.as_bytes(), &target).unwrap();
    assert_eq!(
        decode_response(out.as_bytes()).unwrap().vectors,
        [[3.0, 4.0], [0.0, 0.0]]
    );
}

#[test]
fn model_is_written_as_a_json_string() {
    let counts = [1];
    let target = ResponseTarget::new("we\"ird\\model\n", 1, &counts);
    let out = transcode_response(list(ONE).as_bytes(), &target).unwrap();
    assert!(out.contains(r#""model":"we\"ird\\model\n""#), "{out}");
    assert_eq!(
        decode_response(out.as_bytes()).unwrap().model.as_deref(),
        Some("we\"ird\\model\n")
    );
}

#[test]
fn a_check_of_an_estimate_model_takes_the_upstreams_usage() {
    let policy = Policy::openai().with_model(
        embedguard::Model::new("gemini-embedding-001", 2)
            .with_tokenizer(std::sync::Arc::new(embedguard::Estimate::new())),
    );
    // 11 bytes and 1 byte: estimates of 3 and 1 tokens.
    let checked = policy
        .check(br#"{"model":"gemini-embedding-001","input":["hello world","h"]}"#)
        .unwrap();
    assert!(!checked.exact());
    assert_eq!(checked.token_counts(), &[3, 1]);
    let target = ResponseTarget::from(&checked);
    assert_eq!(target.usage_source(), UsageSource::Upstream);
    let answer = |usage: &str| {
        let body = format!(
            r#"{{"object":"list","data":[{{"index":0,"embedding":[1.0,0.0]}},{{"index":1,"embedding":[0.0,1.0]}}]{usage}}}"#
        );
        let out = transcode_response(body.as_bytes(), &target).unwrap();
        decode_response(out.as_bytes()).unwrap().usage.unwrap()
    };
    assert_eq!(
        answer(r#","usage":{"prompt_tokens":5,"total_tokens":5}"#),
        Usage::from_counts(&[5])
    );
    assert_eq!(answer(""), Usage::from_counts(&[4]));
    // The same request to an exact model: its own count, whatever the upstream says.
    let exact = Policy::openai()
        .with_model(embedguard::Model::new("gemini-embedding-001", 2))
        .check(br#"{"model":"gemini-embedding-001","input":["hello world","h"]}"#)
        .unwrap();
    assert_eq!(
        ResponseTarget::from(&exact).usage_source(),
        UsageSource::Counted
    );
}
