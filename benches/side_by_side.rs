//! Criterion-free side-by-side figures that hold on a shared machine: each case runs the
//! engines in turn, `$SIDE_RUNS` rounds (default 7), timed by this thread's CPU time (not wall
//! time, which counts other processes' work), and reports medians and their ratio.
//!
//! `cargo bench --bench side_by_side` (all groups) or `-- adversarial`, `-- vectors`;
//! `SIDE_SHAPE=tabs` for the adversarial shapes whose name contains `tabs`.
//!
//! - `adversarial`: the shapes of `benches/count.rs` at 1 MB, plus random text from all
//!   Unicode planes: embedguard beside bpe-openai, ms per MB (lower is better);
//! - `vectors`: float arrays printed beside `serde_json::to_string(&Vec<f32>)`, and a
//!   2048 x 3072 float response transcoded to base64 beside serde_json + the base64 crate.

mod support;
use support::{embedding, repeat, scramble};

#[path = "../tests/cpu_clock/mod.rs"]
mod cpu_clock;
use cpu_clock::thread_cpu_ns;

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use embedguard::{EncodingFormat, ResponseTarget, encode_float_array, encode_response};
use serde::{Deserialize, Serialize};

/// CPU nanoseconds of one call of `f`, repeated `reps` times (the median is taken later).
fn cpu_ns<R>(reps: usize, mut f: impl FnMut() -> R) -> f64 {
    let start = thread_cpu_ns();
    for _ in 0..reps {
        black_box(f());
    }
    (thread_cpu_ns() - start) as f64 / reps as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Medians of `a` and `b`, run in turn `runs` times each, `reps` calls a run.
fn side_by_side<A, B>(
    runs: usize,
    reps: usize,
    mut a: impl FnMut() -> A,
    mut b: impl FnMut() -> B,
) -> (f64, f64) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    black_box(a());
    black_box(b());
    for _ in 0..runs {
        ta.push(cpu_ns(reps, &mut a));
        tb.push(cpu_ns(reps, &mut b));
    }
    (median(ta), median(tb))
}

/// The shapes of `benches/count.rs` `adversarial/`, random scalar values from all planes, and
/// random runs of white space, base64 and printable ASCII.
fn shapes(bytes: usize) -> Vec<(&'static str, String)> {
    let letters: Vec<char> = ('a'..='z').chain('A'..='Z').collect();
    let cjk: Vec<char> = (0x4E00..0x9FA5).filter_map(char::from_u32).collect();
    let white = [' ', '\t', '\u{A0}', '\u{3000}', '\u{2003}', '\n', '\u{85}'];
    let all_planes: Vec<char> = (0..=0x10_FFFF).filter_map(char::from_u32).collect();
    let base64: Vec<char> = ('A'..='Z')
        .chain('a'..='z')
        .chain('0'..='9')
        .chain(['+', '/'])
        .collect();
    let printable: Vec<char> = (' '..='~').collect();
    vec![
        ("letter-a", repeat("a", bytes)),
        ("underscores", repeat("_", bytes)),
        ("spaces", repeat(" ", bytes)),
        ("spaces-then-letter", repeat(" ", bytes - 1) + "x"),
        ("tabs", repeat("\t", bytes)),
        ("newlines", repeat("\n", bytes)),
        ("random-letters", scramble(&letters, bytes)),
        ("random-tabs-and-spaces", scramble(&[' ', '\t'], bytes)),
        ("random-base64", scramble(&base64, bytes)),
        ("random-printable-ascii", scramble(&printable, bytes)),
        ("random-cjk", scramble(&cjk, bytes)),
        ("random-all-planes", scramble(&all_planes, bytes)),
        (
            "combining-marks",
            "e".to_owned() + &repeat("\u{301}", bytes - 1),
        ),
        ("zwj-emoji", repeat("👨\u{200D}👩\u{200D}👧", bytes)),
        ("mixed-white-space", scramble(&white, bytes)),
    ]
}

fn adversarial(runs: usize) {
    let ours = embedguard::cl100k();
    let bpe_openai = bpe_openai::cl100k_base();
    println!("\nAdversarial shapes, 1 MB each: ms per MB of CPU time, median of {runs} runs");
    println!("| shape | embedguard | bpe-openai | bpe-openai / embedguard |");
    println!("|---|---:|---:|---:|");
    let only = std::env::var("SIDE_SHAPE").ok();
    for (name, text) in shapes(1_000_000) {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        assert_eq!(ours.count(&text), bpe_openai.count(&text), "{name}");
        let (a, b) = side_by_side(
            runs,
            1,
            || ours.count(black_box(&text)),
            || bpe_openai.count(black_box(&text)),
        );
        let per_mb = |ns: f64| ns / 1e6 / (text.len() as f64 / 1e6);
        println!(
            "| {name} | {:.1} | {:.1} | {:.2}x |",
            per_mb(a),
            per_mb(b),
            b / a
        );
    }
}

/// An upstream response as a gateway would read it with serde.
#[derive(Deserialize)]
struct Body {
    data: Vec<Item>,
    model: String,
    usage: Usage,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    index: usize,
}

#[derive(Deserialize, Serialize)]
struct Usage {
    prompt_tokens: u64,
    total_tokens: u64,
}

#[derive(Serialize)]
struct OutBody {
    object: &'static str,
    data: Vec<OutItem>,
    model: String,
    usage: Usage,
}

#[derive(Serialize)]
struct OutItem {
    object: &'static str,
    embedding: String,
    index: usize,
}

/// serde_json + the base64 crate: parse typed, encode each vector's little-endian bytes.
fn naive_transcode(body: &[u8]) -> String {
    let parsed: Body = serde_json::from_slice(body).expect("valid body");
    let data = parsed
        .data
        .into_iter()
        .map(|item| {
            let bytes: Vec<u8> = item
                .embedding
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            OutItem {
                object: "embedding",
                embedding: STANDARD.encode(bytes),
                index: item.index,
            }
        })
        .collect();
    serde_json::to_string(&OutBody {
        object: "list",
        data,
        model: parsed.model,
        usage: parsed.usage,
    })
    .expect("serializable")
}

fn vectors(runs: usize) {
    println!("\nFloat arrays: µs of CPU time per vector, median of {runs} runs");
    println!("| case | embedguard | serde_json | serde_json / embedguard |");
    println!("|---|---:|---:|---:|");
    let longest: Vec<f32> = (0..3072)
        .map(|i| -f32::from_bits(0x0080_0000 + 7919 * i))
        .collect();
    let cases = [256, 1536, 3072]
        .iter()
        .map(|&dims| (dims.to_string(), embedding(dims, 3)))
        .chain([("3072_longest".to_owned(), longest)]);
    for (name, values) in cases {
        assert_eq!(
            encode_float_array(&values).unwrap(),
            serde_json::to_string(&values).unwrap().replace("e+", "e")
        );
        let (a, b) = side_by_side(
            runs,
            200,
            || encode_float_array(black_box(&values)).unwrap(),
            || serde_json::to_string(black_box(&values)).unwrap(),
        );
        println!(
            "| {name} | {:.1} | {:.1} | {:.2}x |",
            a / 1e3,
            b / 1e3,
            b / a
        );
    }

    let (n, dims) = (2048, 3072);
    let vectors: Vec<Vec<f32>> = (0..n).map(|i| embedding(dims, 10 + i as u64)).collect();
    let counts = vec![100; n];
    let float = ResponseTarget::new("text-embedding-3-large", dims, &counts);
    let body = encode_response(&vectors, &float).unwrap();
    let base64 = float.clone().with_encoding_format(EncodingFormat::Base64);
    // Both answer with the same vectors.
    let ours = embedguard::transcode_response(body.as_bytes(), &base64).unwrap();
    let back = embedguard::decode_response(ours.as_bytes()).unwrap();
    assert_eq!(back.vectors, vectors);
    let theirs = naive_transcode(body.as_bytes());
    assert_eq!(
        embedguard::decode_response(theirs.as_bytes())
            .unwrap()
            .vectors,
        vectors
    );
    let (a, b) = side_by_side(
        runs.min(5),
        1,
        || embedguard::transcode_response(black_box(body.as_bytes()), &base64).unwrap(),
        || naive_transcode(black_box(body.as_bytes())),
    );
    println!(
        "\nTranscoding a {n} x {dims} float response ({} MB) to base64: ms of CPU time, median of {} runs",
        body.len() / 1_000_000,
        runs.min(5)
    );
    println!("| embedguard | serde_json + base64 | ratio |");
    println!("|---:|---:|---:|");
    println!("| {:.0} | {:.0} | {:.2}x |", a / 1e6, b / 1e6, b / a);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    let runs: usize = std::env::var("SIDE_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let wanted = |g: &str| {
        let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
        filters.is_empty() || filters.iter().any(|f| g.contains(f.as_str()))
    };
    if wanted("adversarial") {
        adversarial(runs);
    }
    if wanted("vectors") {
        vectors(runs);
    }
}
