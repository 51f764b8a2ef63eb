//! Properties of the vector codecs, each fast path checked against a naive oracle.

use embedguard::{
    VectorError, base64_len, decode_base64, decode_base64_into, encode_base64, encode_base64_into,
    encode_float_array, shorten,
};
use proptest::prelude::*;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64, one 3-byte group at a time: the textbook algorithm.
fn naive_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Strict standard base64 to float32 values, one 4-symbol group at a time: `None` for
/// anything but the canonical text of whole values.
fn naive_decode(text: &str) -> Option<Vec<f32>> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return None;
    }
    let mut bytes = Vec::new();
    for (g, group) in text.chunks(4).enumerate() {
        let last = g == text.len() / 4 - 1;
        let pads = group.iter().rev().take_while(|&&c| c == b'=').count();
        if pads > 2 || (pads > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &group[..4 - pads] {
            n = (n << 6) | ALPHABET.iter().position(|&a| a == c)? as u32;
        }
        n <<= 6 * pads as u32;
        let got = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pads;
        if got[keep..].iter().any(|&b| b != 0) {
            return None; // non-zero trailing bits
        }
        bytes.extend_from_slice(&got[..keep]);
    }
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
    )
}

/// The significant digits of a printed number: `-1.250e-3` -> `125`.
fn significant_digits(number: &str) -> String {
    let mantissa = number.split(['e', 'E']).next().unwrap();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0').trim_end_matches('0');
    if digits.is_empty() {
        "0".to_owned()
    } else {
        digits.to_owned()
    }
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

/// Any float32 bit pattern, with the interesting ones (NaN payloads, signed zeros,
/// subnormals, infinities, extremes) drawn often.
fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        3 => any::<u32>().prop_map(f32::from_bits),
        1 => prop_oneof![
            Just(0x0000_0000u32), Just(0x8000_0000), Just(0x7f80_0000), Just(0xff80_0000),
            Just(0x7fc0_0000), Just(0xffc0_0000), Just(0x7f80_0001), Just(0x7fff_ffff),
            Just(0xffff_ffff), Just(0x0000_0001), Just(0x807f_ffff), Just(0x7f7f_ffff),
        ]
        .prop_map(f32::from_bits),
        1 => (0u32..0x0080_0000, any::<bool>())
            .prop_map(|(m, neg)| f32::from_bits(m | if neg { 0x8000_0000 } else { 0 })),
        1 => (0x7f80_0001u32..=0x7fff_ffff, any::<bool>())
            .prop_map(|(m, neg)| f32::from_bits(m | if neg { 0x8000_0000 } else { 0 })),
    ]
}

fn finite_f32() -> impl Strategy<Value = f32> {
    any_f32().prop_filter("finite", |v| v.is_finite())
}

/// Text near valid base64: symbols, padding, URL-safe symbols and whitespace.
fn base64ish() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any_f32(), 0..8).prop_map(|v| encode_base64(&v)),
        "[A-Za-z0-9+/=_\\-\n ]{0,24}",
        "[A-D=]{0,16}",
        (
            prop::collection::vec(any_f32(), 1..8),
            any::<prop::sample::Index>(),
            "[A-Za-z0-9+/=_\\-\n]"
        )
            .prop_map(|(v, at, c)| {
                let mut s = encode_base64(&v);
                let at = at.index(s.len());
                s.replace_range(at..at + 1, &c);
                s
            }),
    ]
}

proptest! {
    #[test]
    fn prop_encode_base64_matches_naive(values in prop::collection::vec(any_f32(), 0..200)) {
        prop_assert_eq!(encode_base64(&values), naive_encode(&le_bytes(&values)));
    }

    #[test]
    fn prop_base64_round_trip_is_bit_exact(values in prop::collection::vec(any_f32(), 0..800)) {
        let text = encode_base64(&values);
        prop_assert_eq!(text.len(), base64_len(values.len()));
        prop_assert_eq!(bits(&decode_base64(&text).unwrap()), bits(&values));
    }

    #[test]
    fn prop_decode_base64_matches_naive(text in base64ish()) {
        let ours = decode_base64(&text).ok().map(|v| bits(&v));
        let naive = naive_decode(&text).map(|v| bits(&v));
        prop_assert_eq!(ours, naive, "text {:?}", text);
    }

    #[test]
    fn prop_into_variants_append(
        before in prop::collection::vec(any_f32(), 0..4),
        values in prop::collection::vec(any_f32(), 0..40),
    ) {
        let mut text = String::from("prefix");
        encode_base64_into(&values, &mut text);
        prop_assert_eq!(&text[6..], encode_base64(&values));

        let mut decoded = before.clone();
        decode_base64_into(&text[6..], &mut decoded).unwrap();
        prop_assert_eq!(bits(&decoded[..before.len()]), bits(&before));
        prop_assert_eq!(bits(&decoded[before.len()..]), bits(&values));
    }

    #[test]
    fn prop_float_text_round_trips(values in prop::collection::vec(finite_f32(), 0..100)) {
        let text = encode_float_array(&values).unwrap();
        let inner = &text[1..text.len() - 1];
        let printed: Vec<&str> = if inner.is_empty() { Vec::new() } else { inner.split(',').collect() };
        prop_assert_eq!(printed.len(), values.len());
        for (&number, &value) in printed.iter().zip(&values) {
            // Reads back to the same float32.
            prop_assert_eq!(number.parse::<f32>().unwrap().to_bits(), value.to_bits(), "{}", number);
            // As short as another shortest-f32 printer (serde_json's): the same digits.
            let theirs = serde_json::to_string(&value).unwrap();
            prop_assert_eq!(significant_digits(number), significant_digits(&theirs), "{} vs {}", number, theirs);
        }
    }

    #[test]
    fn prop_float_text_rejects_non_finite(
        mut values in prop::collection::vec(finite_f32(), 1..20),
        at in any::<prop::sample::Index>(),
        bad in prop_oneof![
            Just(f32::INFINITY),
            Just(f32::NEG_INFINITY),
            (0x7f80_0001u32..=0xffff_ffff).prop_map(f32::from_bits).prop_filter("nan", |v| v.is_nan()),
        ],
    ) {
        let at = at.index(values.len());
        values[at] = bad;
        match encode_float_array(&values) {
            Err(VectorError::NonFinite { index, value }) => {
                prop_assert_eq!(index, at);
                prop_assert_eq!(value.to_bits(), bad.to_bits());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn prop_shorten_gives_unit_norm_or_zero(
        (values, dimensions) in prop::collection::vec(
            prop_oneof![finite_f32(), -1.0f32..1.0, Just(0.0f32)], 0..300
        ).prop_flat_map(|v| { let n = v.len(); (Just(v), 0..=n) }),
    ) {
        let mut shortened = values.clone();
        shorten(&mut shortened, dimensions).unwrap();
        prop_assert_eq!(shortened.len(), dimensions);
        let kept = &values[..dimensions];
        if kept.iter().all(|&v| v == 0.0) {
            prop_assert_eq!(bits(&shortened), bits(kept));
        } else {
            let norm = shortened.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt();
            prop_assert!((norm - 1.0).abs() <= 1e-6, "norm {}", norm);
            // Direction kept: every value keeps its sign.
            for (s, k) in shortened.iter().zip(kept) {
                prop_assert!(*k == 0.0 || s.is_sign_positive() == k.is_sign_positive());
            }
        }
    }
}
