//! Every way `decode_base64` rejects text, each with its exact message.

use embedguard::{VectorError, decode_base64, encode_float_array, shorten};

/// (name, input, exact message)
const BAD_BASE64: &[(&str, &str, &str)] = &[
    (
        "missing padding",
        "AACAPw",
        "invalid base64: padding is missing or not canonical",
    ),
    (
        "half the padding",
        "AACAPwAAAM",
        "invalid base64: padding is missing or not canonical",
    ),
    (
        "one pad short",
        "AACAPw=",
        "invalid base64: padding is missing or not canonical",
    ),
    (
        "padding where none belongs",
        "AACAPwAAAMAAAAA/=",
        "invalid base64: unexpected byte 0x3d at offset 16",
    ),
    (
        "three pads",
        "AACAPw===",
        "invalid base64: unexpected byte 0x3d at offset 6",
    ),
    (
        "pad after one symbol",
        "AACAP===",
        "invalid base64: unexpected byte 0x3d at offset 5",
    ),
    (
        "only padding",
        "====",
        "invalid base64: unexpected byte 0x3d at offset 0",
    ),
    (
        "padding in the middle",
        "AACAPw==AACAPw==",
        "invalid base64: unexpected byte 0x3d at offset 6",
    ),
    (
        "one symbol left over",
        "AACAPwAAA",
        "invalid base64: 9 symbols leave one over, which holds no whole byte",
    ),
    (
        "url-safe minus",
        "AACA-w==",
        "invalid base64: unexpected byte 0x2d at offset 4",
    ),
    (
        "url-safe underscore",
        "AAAAAAAA_w==",
        "invalid base64: unexpected byte 0x5f at offset 8",
    ),
    (
        "embedded newline",
        "AACA\nPw==",
        "invalid base64: unexpected byte 0x0a at offset 4",
    ),
    (
        "CRLF line break",
        "AACAPwAA\r\nAMA=",
        "invalid base64: unexpected byte 0x0d at offset 8",
    ),
    (
        "trailing newline",
        "AACAPw==\n",
        "invalid base64: unexpected byte 0x0a at offset 8",
    ),
    (
        "leading space",
        " AACAPw==",
        "invalid base64: unexpected byte 0x20 at offset 0",
    ),
    (
        "non-ascii",
        "AACAPé==",
        "invalid base64: unexpected byte 0xc3 at offset 5",
    ),
    (
        "trailing bits, one byte",
        "AACAPx==",
        "invalid base64: the symbol 0x78 at offset 5 has non-zero trailing bits",
    ),
    (
        "trailing bits, two bytes",
        "AACAPwAAAMB=",
        "invalid base64: the symbol 0x42 at offset 10 has non-zero trailing bits",
    ),
    (
        "three bytes",
        "AACA",
        "base64 byte count 3 is not a multiple of 4 (float32 values are 4 bytes each)",
    ),
    (
        "one byte",
        "AA==",
        "base64 byte count 1 is not a multiple of 4 (float32 values are 4 bytes each)",
    ),
    (
        "six bytes",
        "AACAPwAA",
        "base64 byte count 6 is not a multiple of 4 (float32 values are 4 bytes each)",
    ),
];

#[test]
fn decode_base64_rejects_with_exact_messages() {
    let mut failures = Vec::new();
    for &(name, input, expected) in BAD_BASE64 {
        match decode_base64(input) {
            Ok(values) => failures.push(format!("{name}: {input:?} decoded to {values:?}")),
            Err(err) if err.to_string() != expected => failures.push(format!(
                "{name}: {input:?}\n  got:  {err}\n  want: {expected}"
            )),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn decode_base64_errors_carry_the_numbers() {
    assert_eq!(
        decode_base64("AACA-w==").unwrap_err(),
        VectorError::Base64Byte {
            offset: 4,
            byte: b'-'
        }
    );
    assert_eq!(
        decode_base64("AACAPwAAA").unwrap_err(),
        VectorError::Base64Length { symbols: 9 }
    );
    assert_eq!(
        decode_base64("AACAPw").unwrap_err(),
        VectorError::Base64Padding
    );
    assert_eq!(
        decode_base64("AACAPx==").unwrap_err(),
        VectorError::Base64TrailingBits {
            offset: 5,
            byte: b'x'
        }
    );
    assert_eq!(
        decode_base64("AACA").unwrap_err(),
        VectorError::PartialValue { bytes: 3 }
    );
}

#[test]
fn canonical_edges_decode() {
    assert_eq!(decode_base64("").unwrap(), Vec::<f32>::new());
    assert_eq!(decode_base64("AAAAAA==").unwrap(), [0.0]);
    assert_eq!(decode_base64("AAAAAAAAAAA=").unwrap(), [0.0, 0.0]);
    assert_eq!(decode_base64("AAAAAAAAAAAAAAAA").unwrap(), [0.0, 0.0, 0.0]);
    assert_eq!(decode_base64("//////////8=").unwrap().len(), 2);
}

/// (values, exact message)
#[test]
fn float_array_rejects_non_finite_values() {
    let table: &[(&[f32], &str)] = &[
        (&[f32::NAN], "value 0 is NaN, which has no JSON form"),
        (
            &[0.0, f32::from_bits(0xffc0_0001)],
            "value 1 is NaN, which has no JSON form",
        ),
        (
            &[1.0, 2.0, f32::INFINITY],
            "value 2 is inf, which has no JSON form",
        ),
        (
            &[f32::NEG_INFINITY, f32::NAN],
            "value 0 is -inf, which has no JSON form",
        ),
    ];
    for &(values, expected) in table {
        let err = encode_float_array(values).unwrap_err();
        assert_eq!(err.to_string(), expected, "{values:?}");
        assert!(!err.to_string().contains("null"));
    }
}

#[test]
fn float_array_prints_integral_values_with_a_fraction() {
    let values = [
        1.0,
        -0.0,
        0.0,
        100.0,
        16777216.0,
        1e13,
        1e30,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
    ];
    assert_eq!(
        encode_float_array(&values).unwrap(),
        "[1.0,-0.0,0.0,100.0,16777216.0,1e13,1e30,3.4028235e38,1.1754944e-38,1e-45]"
    );
    assert_eq!(encode_float_array(&[]).unwrap(), "[]");
}

#[test]
fn shorten_rejects_more_dimensions_than_values() {
    let mut v = vec![1.0, 2.0];
    let err = shorten(&mut v, 3).unwrap_err();
    assert_eq!(
        err,
        VectorError::TooShort {
            len: 2,
            dimensions: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot shorten a vector of length 2 to length 3"
    );
    assert_eq!(v, [1.0, 2.0]);
}

#[test]
fn shorten_edges() {
    let mut v = vec![1.0, 2.0];
    shorten(&mut v, 0).unwrap();
    assert!(v.is_empty());

    let mut v = vec![0.0, -0.0, 5.0];
    shorten(&mut v, 2).unwrap();
    assert_eq!(
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        [0, 0x8000_0000]
    );

    // Squares of the largest and smallest floats neither overflow nor vanish.
    let mut big = vec![f32::MAX, f32::MAX];
    shorten(&mut big, 2).unwrap();
    assert_eq!(big, [std::f32::consts::FRAC_1_SQRT_2; 2]);
    let mut tiny = vec![f32::from_bits(1), 0.0];
    shorten(&mut tiny, 2).unwrap();
    assert_eq!(tiny, [1.0, 0.0]);

    // Shortening to the full length only normalizes.
    let mut v = vec![3.0, 4.0];
    shorten(&mut v, 2).unwrap();
    assert_eq!(v, [0.6, 0.8]);
}
