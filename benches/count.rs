//! Token counting throughput: the crate's cl100k engine beside tiktoken-rs, bpe-openai and
//! goliajp's `tiktoken`, all counting exactly the same tokens.
//!
//! - `corpus/<file>`: each file of `../shared/corpus/` (or of the directory named by
//!   `EMBEDGUARD_CORPUS`) on its own, generated text when there is none;
//! - `corpus-cold/<file>`: the same, each count after 1 MB of other text (first-pass speed);
//! - `adversarial/<shape>`: single inputs of 100 KB and 1 MB of one shape each; peers only where
//!   they neither panic nor take seconds;
//! - `cold_start/<engine>`: a fresh process from spawn to its first count.
//!
//! `cargo bench --bench count`, or e.g. `cargo bench --bench count -- corpus/` for one group.

mod support;
use support::{corpus, repeat, scramble};

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};

fn bench_corpus(c: &mut Criterion) {
    let ours = embedguard::cl100k();
    let tiktoken_rs = tiktoken_rs::cl100k_base().unwrap();
    let bpe_openai = bpe_openai::cl100k_base();
    let goliajp = tiktoken::get_encoding("cl100k_base").unwrap();
    for (name, text) in corpus() {
        let expected = tiktoken_rs.encode_ordinary(&text).len();
        assert_eq!(ours.count(&text), expected, "{name}: embedguard");
        assert_eq!(bpe_openai.count(&text), expected, "{name}: bpe-openai");
        assert_eq!(goliajp.count(&text), expected, "{name}: goliajp tiktoken");
        let mut group = c.benchmark_group(format!("corpus/{name}"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(20);
        group.measurement_time(Duration::from_secs(3));
        group.bench_function("embedguard", |b| b.iter(|| ours.count(black_box(&text))));
        group.bench_function("embedguard-count_up_to", |b| {
            b.iter(|| ours.count_up_to(black_box(&text), usize::MAX))
        });
        group.bench_function("tiktoken-rs", |b| {
            b.iter(|| tiktoken_rs.count_ordinary(black_box(&text)))
        });
        group.bench_function("bpe-openai", |b| {
            b.iter(|| bpe_openai.count(black_box(&text)))
        });
        group.bench_function("goliajp-tiktoken", |b| {
            b.iter(|| goliajp.count(black_box(&text)))
        });
        group.finish();
    }
}

/// The corpus again, each count preceded (outside the measured time) by a count of 1 MB of
/// other text: distinct pseudo-random words that evict what embedguard's per-thread caches held
/// and what every engine had in the CPU caches. This is the speed of text seen for the first
/// time, where `corpus/` (the same text over and over) flatters caches.
fn bench_corpus_cold(c: &mut Criterion) {
    let ours = embedguard::cl100k();
    let tiktoken_rs = tiktoken_rs::cl100k_base().unwrap();
    let bpe_openai = bpe_openai::cl100k_base();
    let goliajp = tiktoken::get_encoding("cl100k_base").unwrap();
    let letters: Vec<char> = ('a'..='z').chain([' ']).collect();
    let other_text = scramble(&letters, 1 << 20);
    let evict = || black_box(ours.count(black_box(&other_text)));
    for (name, text) in corpus() {
        let mut group = c.benchmark_group(format!("corpus-cold/{name}"));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(3));
        let text = text.as_str();
        let per_iteration = criterion::BatchSize::PerIteration;
        group.bench_function("embedguard", |b| {
            b.iter_batched(evict, |_| ours.count(black_box(text)), per_iteration)
        });
        group.bench_function("tiktoken-rs", |b| {
            b.iter_batched(
                evict,
                |_| tiktoken_rs.count_ordinary(black_box(text)),
                per_iteration,
            )
        });
        group.bench_function("bpe-openai", |b| {
            b.iter_batched(evict, |_| bpe_openai.count(black_box(text)), per_iteration)
        });
        group.bench_function("goliajp-tiktoken", |b| {
            b.iter_batched(evict, |_| goliajp.count(black_box(text)), per_iteration)
        });
        group.finish();
    }
}

/// The adversarial shapes, `bytes` long (about), and which peers can take them.
fn shapes(bytes: usize) -> Vec<(&'static str, String, Peers)> {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let cjk: Vec<char> = (0x4E00..0x9FA5).filter_map(char::from_u32).collect();
    let white = [' ', '\t', '\u{A0}', '\u{3000}', '\u{2003}', '\n', '\u{85}'];
    vec![
        ("letter-a", repeat("a", bytes), Peers::ALL),
        ("underscores", repeat("_", bytes), Peers::ALL),
        ("spaces", repeat(" ", bytes), Peers::ALL),
        // tiktoken-rs panics on about 10^6 spaces followed by a letter.
        (
            "spaces-then-letter",
            repeat(" ", bytes - 1) + "x",
            Peers::NOT_TIKTOKEN_RS,
        ),
        ("tabs", repeat("\t", bytes), Peers::ALL),
        ("newlines", repeat("\n", bytes), Peers::ALL),
        ("random-letters", scramble(&letters, bytes), Peers::ALL),
        ("random-cjk", scramble(&cjk, bytes), Peers::ALL),
        (
            "combining-marks",
            "e".to_owned() + &repeat("\u{301}", bytes - 1),
            Peers::ALL,
        ),
        (
            "zwj-emoji",
            repeat("👨\u{200D}👩\u{200D}👧", bytes),
            Peers::ALL,
        ),
        ("mixed-white-space", scramble(&white, bytes), Peers::ALL),
    ]
}

#[derive(Clone, Copy)]
struct Peers {
    tiktoken_rs: bool,
}

impl Peers {
    const ALL: Peers = Peers { tiktoken_rs: true };
    const NOT_TIKTOKEN_RS: Peers = Peers { tiktoken_rs: false };
}

fn bench_adversarial(c: &mut Criterion) {
    let ours = embedguard::cl100k();
    let tiktoken_rs = tiktoken_rs::cl100k_base().unwrap();
    let bpe_openai = bpe_openai::cl100k_base();
    let goliajp = tiktoken::get_encoding("cl100k_base").unwrap();
    let tiktoken_rs_too = std::env::var_os("EMBEDGUARD_BENCH_TIKTOKEN_RS").is_some();
    for (size, label) in [(100_000, "100KB"), (1_000_000, "1MB")] {
        for (name, text, can) in shapes(size) {
            let mut group = c.benchmark_group(format!("adversarial/{name}"));
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.sample_size(10);
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(2));
            let expected = bpe_openai.count(&text);
            assert_eq!(ours.count(&text), expected, "{name}");
            group.bench_function(BenchmarkId::new("embedguard", label), |b| {
                b.iter(|| ours.count(black_box(&text)))
            });
            group.bench_function(
                BenchmarkId::new("embedguard-count_up_to-8192", label),
                |b| b.iter(|| ours.count_up_to(black_box(&text), 8192)),
            );
            if size == 1_000_000 {
                group.bench_function(BenchmarkId::new("bpe-openai", label), |b| {
                    b.iter(|| bpe_openai.count(black_box(&text)))
                });
                group.bench_function(BenchmarkId::new("goliajp-tiktoken", label), |b| {
                    b.iter(|| goliajp.count(black_box(&text)))
                });
                // tiktoken-rs takes long on these: only with EMBEDGUARD_BENCH_TIKTOKEN_RS set.
                if tiktoken_rs_too && can.tiktoken_rs {
                    group.bench_function(BenchmarkId::new("tiktoken-rs", label), |b| {
                        b.iter(|| tiktoken_rs.count_ordinary(black_box(&text)))
                    });
                }
            }
            group.finish();
        }
    }
}

/// In a child process (`EMBEDGUARD_COLD_START=<engine>`): count one short text and exit.
fn cold_child(engine: &str) {
    let text = "The quick brown fox jumps over the lazy dog.";
    let n = match engine {
        "embedguard" => embedguard::cl100k().count(text),
        "tiktoken-rs" => tiktoken_rs::cl100k_base().unwrap().count_ordinary(text),
        "bpe-openai" => bpe_openai::cl100k_base().count(text),
        "goliajp-tiktoken" => tiktoken::get_encoding("cl100k_base").unwrap().count(text),
        "none" => 10,
        _ => panic!("unknown engine {engine}"),
    };
    assert_eq!(n, 10);
}

fn bench_cold_start(c: &mut Criterion) {
    let exe = std::env::current_exe().unwrap();
    let mut group = c.benchmark_group("cold_start");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(200));
    group.measurement_time(Duration::from_secs(3));
    // "none" is the cost of spawning this process and counting nothing: subtract it.
    for engine in [
        "none",
        "embedguard",
        "bpe-openai",
        "goliajp-tiktoken",
        "tiktoken-rs",
    ] {
        group.bench_function(engine, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let status = Command::new(&exe)
                        .env("EMBEDGUARD_COLD_START", engine)
                        .status()
                        .unwrap();
                    assert!(status.success());
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_corpus,
    bench_corpus_cold,
    bench_adversarial,
    bench_cold_start
);

fn main() {
    if let Ok(engine) = std::env::var("EMBEDGUARD_COLD_START") {
        cold_child(&engine);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
