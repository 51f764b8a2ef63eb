//! Vector codecs beside their baselines, on embedding-like vectors of several sizes:
//! base64 encode/decode beside the base64 crate's STANDARD engine on the concatenated
//! `to_le_bytes`, and float-array writing beside `serde_json::to_string(&Vec<f32>)`.
//! Throughput is in bytes of float32 data (4 per value). One adversarial group: values
//! whose shortest decimal is longest.

mod support;
use support::embedding;

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use embedguard::{
    EncodingFormat, ResponseTarget, decode_base64, encode_base64, encode_float_array,
    encode_response, transcode_response,
};

const SIZES: [usize; 3] = [256, 1536, 3072];

fn baseline_encode(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

fn baseline_decode(text: &str) -> Vec<f32> {
    let bytes = STANDARD.decode(text).expect("valid");
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn base64_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("base64_encode");
    for dims in SIZES {
        let values = embedding(dims, 1);
        group.throughput(Throughput::Bytes(4 * dims as u64));
        group.bench_with_input(BenchmarkId::new("embedguard", dims), &values, |b, v| {
            b.iter(|| encode_base64(black_box(v)))
        });
        group.bench_with_input(BenchmarkId::new("base64_crate", dims), &values, |b, v| {
            b.iter(|| baseline_encode(black_box(v)))
        });
    }
    group.finish();
}

fn base64_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("base64_decode");
    for dims in SIZES {
        let text = encode_base64(&embedding(dims, 2));
        assert_eq!(decode_base64(&text).unwrap(), baseline_decode(&text));
        group.throughput(Throughput::Bytes(4 * dims as u64));
        group.bench_with_input(BenchmarkId::new("embedguard", dims), &text, |b, t| {
            b.iter(|| decode_base64(black_box(t)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("base64_crate", dims), &text, |b, t| {
            b.iter(|| baseline_decode(black_box(t)))
        });
    }
    group.finish();
}

fn float_array(c: &mut Criterion) {
    let mut group = c.benchmark_group("float_array");
    let longest: Vec<f32> = (0..3072)
        .map(|i| -f32::from_bits(0x0080_0000 + 7919 * i))
        .collect();
    let inputs = SIZES
        .iter()
        .map(|&dims| (dims.to_string(), embedding(dims, 3)))
        .chain([("3072_longest".to_owned(), longest)]);
    for (name, values) in inputs {
        group.throughput(Throughput::Bytes(4 * values.len() as u64));
        group.bench_with_input(BenchmarkId::new("embedguard", &name), &values, |b, v| {
            b.iter(|| encode_float_array(black_box(v)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("serde_json", &name), &values, |b, v| {
            b.iter(|| serde_json::to_string(black_box(v)).unwrap())
        });
    }
    group.finish();
}

/// A whole upstream response of 64 vectors of 3072 values, float to base64: ours beside
/// the obvious serde_json round trip through typed structs (f64 values, then f32).
fn transcode(c: &mut Criterion) {
    #[derive(serde::Deserialize)]
    struct Body {
        data: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        embedding: Vec<f32>,
    }
    let vectors: Vec<Vec<f32>> = (0..64).map(|i| embedding(3072, 10 + i)).collect();
    let counts = vec![100; vectors.len()];
    let float = ResponseTarget::new("m", 3072, &counts);
    let body = encode_response(&vectors, &float).unwrap();
    let base64 = float.clone().with_encoding_format(EncodingFormat::Base64);

    let mut group = c.benchmark_group("transcode_float_to_base64");
    group.throughput(Throughput::Bytes(4 * 3072 * vectors.len() as u64));
    group.bench_function("embedguard", |b| {
        b.iter(|| transcode_response(black_box(body.as_bytes()), &base64).unwrap())
    });
    group.bench_function("serde_json_typed", |b| {
        b.iter(|| {
            let parsed: Body = serde_json::from_slice(black_box(body.as_bytes())).unwrap();
            let vectors: Vec<Vec<f32>> = parsed.data.into_iter().map(|i| i.embedding).collect();
            encode_response(&vectors, &base64).unwrap()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    base64_encode,
    base64_decode,
    float_array,
    transcode
);
criterion_main!(benches);
