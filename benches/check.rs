//! Whole-request checks: `Policy::check` beside the way gateways do it by hand
//! (serde_json into an untagged enum, then tiktoken-rs per input), on the same bodies.
//!
//! Bodies come from `../shared/requests/` (read at run time, never copied into the
//! repository); without it, generated bodies of the same shapes stand in.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use embedguard::Policy;
use serde::Deserialize;

/// The request as a typical hand-written gateway parses it.
#[derive(Deserialize)]
struct NaiveRequest {
    #[allow(dead_code)]
    model: String,
    input: NaiveInput,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NaiveInput {
    String(String),
    Strings(Vec<String>),
    Tokens(Vec<u32>),
    TokenArrays(Vec<Vec<u32>>),
}

fn naive_check(body: &[u8]) -> usize {
    let request: NaiveRequest = serde_json::from_slice(body).expect("valid body");
    let bpe = tiktoken_rs::cl100k_base_singleton();
    match request.input {
        NaiveInput::String(s) => bpe.encode_ordinary(&s).len(),
        NaiveInput::Strings(v) => v.iter().map(|s| bpe.encode_ordinary(s).len()).sum(),
        NaiveInput::Tokens(v) => v.len(),
        NaiveInput::TokenArrays(v) => v.iter().map(Vec::len).sum(),
    }
}

fn bodies() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/requests");
    let names = ["batch.json", "long.json", "tokens.json"];
    let found: Vec<_> = names
        .iter()
        .filter_map(|n| std::fs::read(dir.join(n)).ok().map(|b| (n.to_string(), b)))
        .collect();
    if found.len() == names.len() {
        return found;
    }
    eprintln!(
        "note: {} not found; benchmarking generated bodies",
        dir.display()
    );
    let paragraph = "The licensor grants you a worldwide, royalty-free licence to use the work. ";
    let batch: Vec<String> = (0..2048).map(|i| paragraph.repeat(1 + i % 5)).collect();
    let long: Vec<String> = (0..36).map(|_| paragraph.repeat(550)).collect();
    let tokens: Vec<Vec<u32>> = (0..36)
        .map(|i| {
            (0..7000)
                .map(|j| (i * 7919 + j * 104_729) % 100_000)
                .collect()
        })
        .collect();
    let body = |input: serde_json::Value| {
        let request = serde_json::json!({"model": "text-embedding-3-small", "input": input});
        serde_json::to_vec(&request).expect("serializable")
    };
    vec![
        ("batch.json".into(), body(batch.into())),
        ("long.json".into(), body(long.into())),
        ("tokens.json".into(), body(serde_json::json!(tokens))),
    ]
}

fn check(c: &mut Criterion) {
    let policy = Policy::openai();
    for (name, body) in bodies() {
        let ours = policy
            .check(&body)
            .expect("bench bodies are valid")
            .usage()
            .total_tokens;
        assert_eq!(ours, naive_check(&body), "{name}: both sides must agree");
        let mut group = c.benchmark_group(format!("check/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.sample_size(10);
        group.bench_with_input(BenchmarkId::new("embedguard", &name), &body, |b, body| {
            b.iter(|| {
                policy
                    .check(black_box(body))
                    .map(|c| c.usage().total_tokens)
            })
        });
        group.bench_with_input(
            BenchmarkId::new("serde_json+tiktoken-rs", &name),
            &body,
            |b, body| b.iter(|| naive_check(black_box(body))),
        );
        group.finish();
    }
}

criterion_group!(benches, check);
criterion_main!(benches);
