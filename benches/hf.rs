//! HuggingFace counting throughput beside cl100k: Qwen3 (byte-level BPE) and MiniLM
//! (WordPiece) through `HfTokenizer`, and the crate's cl100k engine, on the same text.
//!
//! - `hf-corpus/<file>`: each file of `../shared/corpus/` counted line by line, as inputs;
//! - `hf-adversarial/<shape>`: 256 KiB of one word, of spaces.
//!
//! Needs `../shared/tokenizers/`; without it only cl100k runs.
//! `cargo bench --features hf --bench hf`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use embedguard::HfTokenizer;

fn shared() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
}

fn tokenizers() -> Vec<(&'static str, HfTokenizer)> {
    let mut found = Vec::new();
    for (name, folder) in [("qwen3", "qwen3"), ("minilm", "minilm")] {
        let path = shared()
            .join("tokenizers")
            .join(folder)
            .join("tokenizer.json");
        match HfTokenizer::from_file(&path) {
            Ok(tokenizer) => found.push((name, tokenizer)),
            Err(err) => eprintln!("note: {err}; {name} skipped"),
        }
    }
    found
}

fn corpus() -> Vec<(String, Vec<String>)> {
    let dir = shared().join("corpus");
    let mut files = Vec::new();
    for path in std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
    {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            files.push((name, text.lines().map(str::to_owned).collect()));
        }
    }
    if files.is_empty() {
        eprintln!(
            "note: {} is absent; benchmarking generated text",
            dir.display()
        );
        let line = "The party of the first part shall indemnify the party of the second part.";
        files.push(("generated-en".to_owned(), vec![line.to_owned(); 2000]));
    }
    files.sort();
    files
}

fn bench_corpus(c: &mut Criterion) {
    let hf = tokenizers();
    let cl100k = embedguard::cl100k();
    for (name, lines) in corpus() {
        let bytes: usize = lines.iter().map(String::len).sum();
        let mut group = c.benchmark_group(format!("hf-corpus/{name}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("cl100k", |b| {
            b.iter(|| {
                lines
                    .iter()
                    .map(|l| cl100k.count(black_box(l)))
                    .sum::<usize>()
            })
        });
        for (tokenizer, hf) in &hf {
            group.bench_function(*tokenizer, |b| {
                b.iter(|| lines.iter().map(|l| hf.count(black_box(l))).sum::<usize>())
            });
        }
        group.finish();
    }
}

fn bench_adversarial(c: &mut Criterion) {
    let hf = tokenizers();
    let cl100k = embedguard::cl100k();
    for (shape, unit) in [("one-word", "a"), ("spaces", " ")] {
        let text = unit.repeat(256 << 10);
        let mut group = c.benchmark_group(format!("hf-adversarial/{shape}"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("cl100k", |b| b.iter(|| cl100k.count(black_box(&text))));
        for (tokenizer, hf) in &hf {
            group.bench_function(*tokenizer, |b| b.iter(|| hf.count(black_box(&text))));
        }
        group.finish();
    }
}

criterion_group!(benches, bench_corpus, bench_adversarial);
criterion_main!(benches);
