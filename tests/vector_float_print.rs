//! Float-array printing against ryu (the long-standing shortest-round-trip f32 printer) and
//! against reading back: every printed value is ryu's text and parses to the same float32.
//!
//! `cargo test` checks a stride of the bit patterns (about a million values, every sign,
//! exponent and many mantissas); the ignored `every_f32_prints_like_ryu` checks all 2^32
//! (`cargo test --release --test vector_float_print -- --ignored`; about 45 minutes on a busy
//! 2-core machine).

use embedguard::encode_float_array_into;

/// Checks every finite float32 whose bit pattern is `start + k * stride`.
fn check(start: u64, stride: u64) {
    let mut ryu = ryu::Buffer::new();
    let mut values = Vec::with_capacity(4096);
    let mut text = String::new();
    let mut bits = start;
    while bits < 1 << 32 {
        values.clear();
        while values.len() < 4096 && bits < 1 << 32 {
            let v = f32::from_bits(bits as u32);
            if v.is_finite() {
                values.push(v);
            }
            bits += stride;
        }
        if values.is_empty() {
            // A stretch of NaN and infinity patterns only.
            continue;
        }
        text.clear();
        encode_float_array_into(&values, &mut text).unwrap();
        let inner = &text[1..text.len() - 1];
        let mut printed = inner.split(',');
        for &v in &values {
            let p = printed.next().expect("one number per value");
            assert_eq!(p, ryu.format_finite(v), "bits {:#010x}", v.to_bits());
            assert_eq!(
                p.parse::<f32>().map(f32::to_bits),
                Ok(v.to_bits()),
                "{p} reads back to another float32"
            );
        }
        assert!(printed.next().is_none());
    }
}

#[test]
fn a_stride_of_f32_prints_like_ryu() {
    check(0, 4099);
    // Shortest outputs and edges: powers of ten, integers, the extremes.
    let special = [
        0.0f32,
        -0.0,
        1.0,
        0.1,
        1e-7,
        1e13,
        16_777_216.0,
        f32::MAX,
        f32::MIN,
        f32::MIN_POSITIVE,
        f32::from_bits(1),
        f32::EPSILON,
    ];
    let mut text = String::new();
    encode_float_array_into(&special, &mut text).unwrap();
    assert_eq!(
        text,
        "[0.0,-0.0,1.0,0.1,1e-7,1e13,16777216.0,3.4028235e38,-3.4028235e38,1.1754944e-38,1e-45,1.1920929e-7]"
    );
}

#[test]
#[ignore = "exhaustive: 2^32 values; run in release with --ignored"]
fn every_f32_prints_like_ryu() {
    // `EMBEDGUARD_F32_FROM=0x7f800000` resumes an interrupted run from that bit pattern.
    let from = std::env::var("EMBEDGUARD_F32_FROM")
        .ok()
        .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    check(from, 1);
}
