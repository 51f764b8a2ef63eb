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
//!
//! `budgets_over_two_replicas_through_redis` (also ignored): 50 clients × 40 requests of
//! 100 tokens against two replicas, without budgets, with budgets that never fill (in process,
//! Redis) and with 100,000 TPM shared through Redis; prints requests, admitted, refused and
//! p50/p99 for each.

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

/// Runs `clients` × `each` requests of `body`, alternating between `addrs`: the statuses
/// and the latencies.
fn fixed_load(
    addrs: &[String],
    clients: usize,
    each: usize,
    body: &str,
) -> (Vec<u16>, Vec<Duration>, f64) {
    let started = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|i| {
            let addr = addrs[i % addrs.len()].clone();
            let body = body.to_owned();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                (0..each)
                    .map(|_| {
                        let sent = Instant::now();
                        stream.write_all(&post(&body)).unwrap();
                        let answer = read_answer(&mut stream).unwrap();
                        (answer.status, sent.elapsed())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    let mut latencies = Vec::new();
    for worker in workers {
        for (status, latency) in worker.join().unwrap() {
            statuses.push(status);
            latencies.push(latency);
        }
    }
    latencies.sort();
    (statuses, latencies, started.elapsed().as_secs_f64())
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

#[test]
#[ignore = "a fixed load against two replicas and Redis; run it by name"]
fn budgets_over_two_replicas_through_redis() {
    let redis = Redis::start();
    let url = redis.url();
    let up = upstream(&[]);
    let body = format!(
        r#"{{"model":"text-embedding-3-small","input":"{}"}}"#,
        vec!["a"; 100].join(" ")
    );
    let (clients, each) = (50, 40);
    // A warm-up, not reported: the first run otherwise pays for cold caches.
    {
        let warm = [gateway(&up, &[]), gateway(&up, &[])];
        let addrs: Vec<String> = warm.iter().map(|r| r.addr.clone()).collect();
        fixed_load(&addrs, clients, each, &body);
    }
    let mut rows = Vec::new();
    for (name, extra) in [
        ("no budgets", vec![]),
        ("in process, never full", vec!["--tpm", "1000000000"]),
        (
            "Redis, never full",
            vec!["--tpm", "1000000000", "--redis", url.as_str()],
        ),
        (
            "Redis, 100,000 TPM",
            vec!["--tpm", "100000", "--redis", url.as_str()],
        ),
    ] {
        let replicas = [gateway(&up, &extra), gateway(&up, &extra)];
        let addrs: Vec<String> = replicas.iter().map(|r| r.addr.clone()).collect();
        let (statuses, latencies, seconds) = fixed_load(&addrs, clients, each, &body);
        let admitted = statuses.iter().filter(|&&s| s == 200).count();
        let refused = statuses.iter().filter(|&&s| s == 429).count();
        assert_eq!(admitted + refused, statuses.len(), "{statuses:?}");
        let row = format!(
            "{name}: {} requests in {seconds:.2} s, {admitted} admitted ({} tokens), {refused} refused, p50 {:.2} ms, p99 {:.2} ms",
            statuses.len(),
            admitted * 100,
            quantile(&latencies, 0.5),
            quantile(&latencies, 0.99)
        );
        if name == "Redis, 100,000 TPM" {
            // The budget plus its refill over the run, in whole requests of 100 tokens.
            let allowed = (100_000.0 + 100_000.0 * seconds / 60.0) as usize / 100;
            assert!(admitted <= allowed, "{row}: more than {allowed} admitted");
            assert!(admitted >= 1000, "{row}: the budget was not used");
        }
        println!("{row}");
        rows.push(row);
    }
}
