//! Arbitrary float32 bit patterns: base64 round trip is bit-exact (NaN payloads, -0.0,
//! subnormals), float output is ryu's shortest form for finite values and an error for
//! NaN and infinities (never `null`), and shortening gives the first values at unit norm.

#![no_main]

use embedguard::{
    VectorError, base64_len, decode_base64, encode_base64, encode_float_array, shorten,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u32>, u16)| {
    let (bits, dimensions) = input;
    let values: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();

    let text = encode_base64(&values);
    assert_eq!(text.len(), base64_len(values.len()));
    let back = decode_base64(&text).expect("its own encoding decodes");
    let back_bits: Vec<u32> = back.iter().map(|v| v.to_bits()).collect();
    assert_eq!(back_bits, bits, "base64 round trip");

    let first_non_finite = values.iter().position(|v| !v.is_finite());
    match encode_float_array(&values) {
        Ok(json) => {
            assert_eq!(first_non_finite, None);
            assert!(!json.contains("null") && !json.contains("NaN") && !json.contains("inf"));
            let inner = json.strip_prefix('[').and_then(|j| j.strip_suffix(']'));
            let inner = inner.expect("a JSON array");
            let items: Vec<&str> = inner.split(',').filter(|s| !s.is_empty()).collect();
            assert_eq!(items.len(), values.len());
            let mut ryu = ryu::Buffer::new();
            for (item, value) in items.iter().zip(&values) {
                assert_eq!(
                    *item,
                    ryu.format_finite(*value),
                    "shortest form of {value:?}"
                );
                let read: f32 = item.parse().expect("a float");
                assert_eq!(read.to_bits(), value.to_bits(), "{item} reads back");
            }
        }
        Err(VectorError::NonFinite { index, .. }) => assert_eq!(Some(index), first_non_finite),
        Err(other) => panic!("float output: {other:?}"),
    }

    let dimensions = usize::from(dimensions) % (values.len() + 2);
    let mut short = values.clone();
    match shorten(&mut short, dimensions) {
        Ok(()) => {
            assert_eq!(short.len(), dimensions);
            let kept = &values[..dimensions];
            if kept.iter().all(|v| v.is_finite()) {
                let norm: f64 = short
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>();
                let zero = kept.iter().all(|&v| v == 0.0);
                if zero {
                    assert!(short.iter().all(|&v| v == 0.0), "a zero vector stays zero");
                } else {
                    assert!(
                        (norm.sqrt() - 1.0).abs() < 1e-3,
                        "unit norm, got {}",
                        norm.sqrt()
                    );
                }
            }
        }
        Err(VectorError::TooShort { len, dimensions: d }) => {
            assert!(d > len && len == values.len() && d == dimensions);
        }
        Err(VectorError::NonFinite { .. }) => {
            assert!(
                values[..dimensions.min(values.len())]
                    .iter()
                    .any(|v| !v.is_finite())
            );
        }
        Err(other) => panic!("shorten: {other:?}"),
    }
});
