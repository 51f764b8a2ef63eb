//! Truncation mode against reject mode on dense text: what cutting an input over the
//! limit costs beside refusing it.
//!
//! Each `../shared/corpus` file (or `$EMBEDGUARD_CORPUS`'s) is split into 64 KiB inputs, every one over 8,192 tokens. Each input is
//! checked alone in a body, by `Policy::openai()` (reject: counts up to 8,193 tokens, then
//! answers the 400) and by the same policy with `OverLimit::Truncate` (counts, cuts at the
//! 8,192nd token). Thread CPU time, the two modes interleaved, median of `TRUNC_RUNS`
//! (default 7) passes over all inputs; ms per MB of body, and the ratio.
//!
//! `cargo bench --bench truncation`

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::hint::black_box;

use embedguard::{OverLimit, Policy};

const INPUT_BYTES: usize = 64 << 10;

fn bodies(text: &str) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut rest = text;
    while rest.len() >= INPUT_BYTES {
        let mut end = INPUT_BYTES;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (input, after) = rest.split_at(end);
        rest = after;
        let input = serde_json::to_string(input).expect("a string serializes");
        bodies
            .push(format!(r#"{{"model":"text-embedding-3-small","input":{input}}}"#).into_bytes());
    }
    bodies
}

fn ms_per_mb(policy: &Policy, bodies: &[Vec<u8>], truncating: bool) -> f64 {
    let start = common::thread_cpu_time();
    for body in bodies {
        let outcome = black_box(policy.check(black_box(body)));
        assert_eq!(outcome.is_ok(), truncating, "every input is over the limit");
    }
    let elapsed = common::thread_cpu_time().saturating_sub(start);
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    elapsed.as_secs_f64() * 1000.0 / (bytes as f64 / 1e6)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("TRUNC_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let files = support::corpus();
    let reject = Policy::openai();
    let truncate = Policy::openai().with_over_limit(OverLimit::Truncate);
    embedguard::cl100k().count("warm up");
    println!("| text | inputs | reject (ms/MB) | truncate (ms/MB) | truncate / reject |");
    println!("|---|---:|---:|---:|---:|");
    for (name, text) in files {
        let bodies = bodies(&text);
        if bodies.is_empty() {
            continue;
        }
        let (mut rejecting, mut truncating) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            rejecting.push(ms_per_mb(&reject, &bodies, false));
            truncating.push(ms_per_mb(&truncate, &bodies, true));
        }
        let (r, t) = (median(rejecting), median(truncating));
        println!(
            "| {name} | {} | {r:.1} | {t:.1} | {:.2}x |",
            bodies.len(),
            t / r
        );
    }
}
