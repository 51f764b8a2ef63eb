//! Hostile vectors: base64 that is not the canonical encoding of whole float32 values,
//! and the float32 values that break naive codecs (NaN payloads, infinities, -0.0,
//! subnormals), in tables of (input, exact answer); then time and memory-free size
//! bounds on large inputs.

use std::time::{Duration, Instant};

use embedguard::{
    VectorError, base64_len, decode_base64, decode_response, encode_base64, encode_float_array,
    shorten,
};

fn byte(offset: usize, byte: u8) -> VectorError {
    VectorError::Base64Byte { offset, byte }
}

#[test]
fn base64_of_the_wrong_length_is_rejected() {
    let table = [
        ("A", VectorError::Base64Length { symbols: 1 }),
        (
            "AACAPwAAAMAAAAA/A",
            VectorError::Base64Length { symbols: 17 },
        ),
        ("AAAA", VectorError::PartialValue { bytes: 3 }),
        ("AAAAAAA=", VectorError::PartialValue { bytes: 5 }),
        ("AAAAAAAAAA==", VectorError::PartialValue { bytes: 7 }),
        ("AAAAAAAAAAAAAA==", VectorError::PartialValue { bytes: 10 }),
    ];
    for (text, expected) in table {
        assert_eq!(decode_base64(text), Err(expected), "{text:?}");
    }
}

#[test]
fn base64_with_missing_or_non_canonical_padding_is_rejected() {
    let table = [
        ("AACAPw", VectorError::Base64Padding),
        ("AACAPw=", VectorError::Base64Padding),
        ("AACAPwAAAMA", VectorError::Base64Padding),
        ("AACAPwAAAMAAAAA", VectorError::Base64Padding),
        ("AACAPw===", byte(6, b'=')),
        ("AACAPw=A", byte(6, b'=')),
        ("AACAPw==AACAPw==", byte(6, b'=')),
        ("====", byte(0, b'=')),
        ("AACAPwAAAMA==", byte(11, b'=')),
        // Bits after the last whole byte must be zero.
        (
            "AACAPx==",
            VectorError::Base64TrailingBits {
                offset: 5,
                byte: b'x',
            },
        ),
        (
            "AACAPwAAAMB=",
            VectorError::Base64TrailingBits {
                offset: 10,
                byte: b'B',
            },
        ),
    ];
    for (text, expected) in table {
        assert_eq!(decode_base64(text), Err(expected), "{text:?}");
    }
}

#[test]
fn url_safe_characters_and_whitespace_are_not_base64() {
    let table = [
        ("AAC-Pw==", byte(3, b'-')),
        ("AAC_Pw==", byte(3, b'_')),
        ("AACA\nPw==", byte(4, b'\n')),
        ("AACA\r\nPw==", byte(4, b'\r')),
        ("AACAPw==\n", byte(8, b'\n')),
        (" AACAPw==", byte(0, b' ')),
        ("AACA Pw==", byte(4, b' ')),
        ("AACA\tPw==", byte(4, b'\t')),
        ("AACA.Pw==", byte(4, b'.')),
        ("AACA\u{e9}Pw==", byte(4, 0xC3)),
    ];
    for (text, expected) in table {
        assert_eq!(decode_base64(text), Err(expected), "{text:?}");
    }
}

#[test]
fn base64_of_whole_values_decodes() {
    assert_eq!(decode_base64(""), Ok(vec![]));
    assert_eq!(decode_base64("AACAPw=="), Ok(vec![1.0]));
    assert_eq!(decode_base64("AACAPwAAAMA="), Ok(vec![1.0, -2.0]));
    assert_eq!(decode_base64("AACAPwAAAMAAAAA/"), Ok(vec![1.0, -2.0, 0.5]));
}

/// The float32 values naive codecs get wrong.
fn special_values() -> Vec<f32> {
    let mut values = vec![
        0.0,
        -0.0,
        f32::from_bits(1),
        -f32::from_bits(1),
        f32::from_bits(0x007F_FFFF),
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::MIN,
        f32::EPSILON,
        1.0,
        -1.0,
        0.1,
        1.0e-40,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    // NaNs: quiet and signalling, both signs, payloads low and high.
    for bits in [
        0x7FC0_0000u32,
        0x7F80_0001,
        0x7FBF_FFFF,
        0xFFC0_0000,
        0xFF80_0001,
        0x7FFF_FFFF,
        0xFFFF_FFFF,
        0x7FC1_2345,
    ] {
        values.push(f32::from_bits(bits));
    }
    values
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn base64_round_trip_is_bit_exact_for_special_values() {
    let values = special_values();
    for n in 0..=values.len() {
        let slice = &values[..n];
        let text = encode_base64(slice);
        assert_eq!(text.len(), base64_len(n));
        let back = decode_base64(&text).expect("its own encoding decodes");
        assert_eq!(bits(&back), bits(slice), "{text}");
    }
    for value in &values {
        let back = decode_base64(&encode_base64(&[*value])).expect("decodes");
        assert_eq!(back[0].to_bits(), value.to_bits());
    }
}

#[test]
fn float_output_rejects_nan_and_infinities_and_never_writes_null() {
    for (i, value) in special_values().into_iter().enumerate() {
        let vector = [1.0, value, 2.0];
        match encode_float_array(&vector) {
            Ok(json) => {
                assert!(value.is_finite(), "{value:?} written as {json}");
                let items: Vec<f32> = serde_json::from_str::<Vec<f64>>(&json)
                    .expect("a JSON array of numbers")
                    .into_iter()
                    .map(|v| v as f32)
                    .collect();
                assert_eq!(bits(&items), bits(&vector), "{json} (value {i})");
                let written = json.split(',').nth(1).expect("three items");
                assert_eq!(written, ryu::Buffer::new().format_finite(value));
                assert!(!json.contains("null"));
            }
            Err(err) => {
                assert!(!value.is_finite(), "{value:?}: {err:?}");
                assert!(
                    matches!(err, VectorError::NonFinite { index: 1, value: v } if v.to_bits() == value.to_bits()),
                    "{err:?}"
                );
            }
        }
    }
    assert_eq!(encode_float_array(&[-0.0]).as_deref(), Ok("[-0.0]"));
    assert_eq!(
        encode_float_array(&[f32::from_bits(1)]).as_deref(),
        Ok("[1e-45]")
    );
    assert_eq!(encode_float_array(&[]).as_deref(), Ok("[]"));
}

#[test]
fn shortening_keeps_the_first_values_at_unit_norm() {
    let cases: [(&[f32], usize, &[f32]); 5] = [
        (&[3.0, 4.0, 5.0], 2, &[0.6, 0.8]),
        (&[0.0, 0.0, 0.0, 0.0], 2, &[0.0, 0.0]),
        (
            &[f32::MAX, f32::MAX, 1.0],
            2,
            &[std::f32::consts::FRAC_1_SQRT_2; 2],
        ),
        (
            &[f32::from_bits(1), f32::from_bits(1)],
            2,
            &[std::f32::consts::FRAC_1_SQRT_2; 2],
        ),
        (&[-0.0, 5.0], 1, &[0.0]),
    ];
    for (values, dimensions, expected) in cases {
        let mut vector = values.to_vec();
        shorten(&mut vector, dimensions).expect("short enough");
        assert_eq!(vector.len(), dimensions);
        for (got, want) in vector.iter().zip(expected) {
            assert!((got - want).abs() <= 1e-6, "{values:?} -> {vector:?}");
        }
    }
    let mut vector = vec![3.0];
    assert_eq!(
        shorten(&mut vector, 2),
        Err(VectorError::TooShort {
            len: 1,
            dimensions: 2
        })
    );
}

/// Time allowed for `bytes` of input: 10 x 60 ms/MB plus 50 ms, in release builds.
fn budget(bytes: usize) -> Duration {
    Duration::from_millis(50) + Duration::from_secs_f64(bytes as f64 / 1e6 * 0.6)
}

#[test]
fn large_base64_decodes_in_linear_time() {
    // 2048 vectors of 3072 values: the largest response, 16.8 MB of base64 each way.
    let values: Vec<f32> = (0..2048 * 3072)
        .map(|i| f32::from_bits(i as u32 * 2654435761))
        .collect();
    let text = encode_base64(&values);
    let start = Instant::now();
    let back = decode_base64(&text).expect("decodes");
    let elapsed = start.elapsed();
    assert_eq!(bits(&back), bits(&values));
    eprintln!("decode {} bytes in {elapsed:?}", text.len());
    if !cfg!(debug_assertions) {
        assert!(elapsed <= budget(text.len()), "{elapsed:?}");
    }
    // The same text with one bad byte at the very end is rejected, as fast.
    let mut bad = text.clone();
    bad.pop();
    bad.push('-');
    let start = Instant::now();
    assert!(decode_base64(&bad).is_err());
    if !cfg!(debug_assertions) {
        assert!(start.elapsed() <= budget(bad.len()));
    }
}

#[test]
fn hostile_upstream_bodies_are_errors_not_panics() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_data = format!(r#"{{"object":"list","data":{deep}}}"#);
    let big_index = r#"{"object":"list","data":[{"object":"embedding","index":18446744073709551616,"embedding":"AACAPw=="}]}"#;
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"null".to_vec(),
        deep.into_bytes(),
        deep_data.into_bytes(),
        big_index.as_bytes().to_vec(),
        br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAC-Pw=="}]}"#.to_vec(),
        br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1e999]}]}"#.to_vec(),
        br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[null]}]}"#.to_vec(),
        br#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AACAPw=="},{"object":"embedding","index":0,"embedding":"AACAPw=="}]}"#.to_vec(),
        vec![0xFF; 64],
    ];
    for body in bodies {
        let start = Instant::now();
        let result = decode_response(&body);
        assert!(
            result.is_err(),
            "{:?}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        if !cfg!(debug_assertions) {
            assert!(start.elapsed() <= budget(body.len()));
        }
    }
}
