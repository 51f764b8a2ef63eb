//! The load test (ignored by default; it takes 20 s and both cores):
//!
//! ```text
//! cargo test --release -p embedguard-gateway --test load -- --ignored --nocapture
//! ```
//!
//! 200 concurrent clients on keep-alive connections for 20 s, mixed sizes (1 input of a
//! few tokens, 16 inputs, 256 inputs, one 2,000-token input), against the local upstream;
//! prints throughput, p50/p99 latency and the gateway's RSS before and after, and fails
//! on any answer that is not a 200. `EMBEDGUARD_LOAD_SECONDS` and
//! `EMBEDGUARD_LOAD_CLIENTS` change the duration and the number of clients.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "20 s of load; run it by name (see the module docs)"]
fn two_hundred_clients_for_twenty_seconds() {
    let seconds = env("EMBEDGUARD_LOAD_SECONDS", 20);
    let clients = env("EMBEDGUARD_LOAD_CLIENTS", 200) as usize;
    let up = upstream(&["--max-batch", "96"]);
    let gw = gateway(&up, &["--max-batch", "96", "--concurrency", "16"]);
    let bodies: Vec<String> = vec![
        r#"{"model":"text-embedding-3-small","input":"The food was delicious."}"#.to_owned(),
        serde_json::json!({"model": "text-embedding-3-small", "input": (0..16).map(|i| format!("sentence {i} about things")).collect::<Vec<_>>()}).to_string(),
        serde_json::json!({"model": "text-embedding-3-small", "input": (0..256).map(|i| format!("item {i}")).collect::<Vec<_>>(), "dimensions": 256}).to_string(),
        serde_json::json!({"model": "text-embedding-3-small", "input": "word ".repeat(2000), "encoding_format": "float"}).to_string(),
    ];
    let (rss_before, _) = rss_kib(gw.child.id());
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let addr = gw.addr.clone();
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                let mut n = i;
                while Instant::now() < until {
                    // Mostly small requests, as real traffic is.
                    let body = &bodies[[0, 0, 0, 1, 1, 2, 0, 3][n % 8]];
                    n += 1;
                    let sent = Instant::now();
                    let answer = stream
                        .write_all(&post(body))
                        .and_then(|()| read_answer(&mut stream));
                    match answer {
                        Ok(answer) if answer.status == 200 => latencies.push(sent.elapsed()),
                        Ok(answer) => errors.push(format!("{}: {}", answer.status, answer.body)),
                        Err(err) => errors.push(err.to_string()),
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = Vec::new();
    for worker in workers {
        let (l, e) = worker.join().unwrap();
        latencies.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (rss_after, peak) = rss_kib(gw.child.id());
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "load: {clients} clients, {:.1} s: {} requests, {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms; gateway RSS {} MiB before, {} MiB after (peak {} MiB); {} errors",
        elapsed,
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        rss_before / 1024,
        rss_after / 1024,
        peak / 1024,
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );
}
