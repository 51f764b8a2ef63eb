//! The costliest valid request (36 inputs of 1 MiB of spaces: 37 MB, 294,912 tokens, every
//! limit met) checked by `Policy::check`, beside serde_json merely parsing the same body
//! into a `Value`. Thread CPU time, interleaved, median of `COSTLIEST_RUNS` (default 7).
//!
//! `cargo bench --bench costliest`

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use embedguard::Policy;

fn main() {
    let runs: usize = std::env::var("COSTLIEST_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let input = format!("\"{}\"", " ".repeat(1 << 20));
    let inputs = vec![input; 36].join(",");
    let body = format!(r#"{{"model":"text-embedding-3-small","input":[{inputs}]}}"#).into_bytes();
    let policy = Policy::openai();
    let checked = policy.check(&body).expect("the costliest request is valid");
    let tokens: usize = checked.token_counts().iter().sum();
    drop(checked);
    let time = |run: &mut dyn FnMut()| {
        let start = common::thread_cpu_time();
        run();
        common::thread_cpu_time()
            .saturating_sub(start)
            .as_secs_f64()
            * 1000.0
    };
    let (mut ours, mut parse) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(time(&mut || {
            black_box(policy.check(black_box(&body)).is_ok());
        }));
        parse.push(time(&mut || {
            let value: serde_json::Value =
                serde_json::from_slice(black_box(&body)).expect("valid JSON");
            black_box(value);
        }));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (ours, parse) = (median(ours), median(parse));
    println!("| body | tokens | Policy::check (ms) | serde_json to Value (ms) | check / parse |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| 36 x 1 MiB of spaces, {} bytes | {tokens} | {ours:.1} | {parse:.1} | {:.2}x |",
        body.len(),
        ours / parse
    );
}
