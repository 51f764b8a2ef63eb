//! Every float32 bit pattern round-trips through base64 bit-exactly.
//!
//! 2^32 values (16 GiB of floats) take a while: run it in release,
//! `cargo test --release --test vector_exhaustive -- --ignored`.

use embedguard::{decode_base64_into, encode_base64_into};

#[test]
#[ignore = "exhaustive: 2^32 values; run in release with --ignored"]
fn base64_round_trips_every_f32() {
    // 3 * 2^16 values a chunk: a multiple of 3, so only the last, shorter chunk is padded.
    const CHUNK: u64 = 3 << 16;
    let mut values = Vec::with_capacity(CHUNK as usize);
    let mut text = String::new();
    let mut back = Vec::with_capacity(CHUNK as usize);
    let mut start = 0u64;
    while start < 1 << 32 {
        let end = (start + CHUNK).min(1 << 32);
        values.clear();
        values.extend((start..end).map(|b| f32::from_bits(b as u32)));
        text.clear();
        encode_base64_into(&values, &mut text);
        back.clear();
        decode_base64_into(&text, &mut back).unwrap();
        assert_eq!(back.len(), values.len());
        for (a, b) in values.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits());
        }
        start = end;
    }
}
