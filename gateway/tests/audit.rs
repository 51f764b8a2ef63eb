//! The audits' findings, each reproduced on loopback at a small scale: hanging up to dodge
//! the budget, slow bodies holding slots and memory, a slow client blamed on the upstream,
//! rate-limit headers missing on some answers, a relayed 429 without `retry-after`; and from
//! the third, a shed request answered before its key was checked and without its budget's
//! headers, `--key` budgets in Redis named by the key's place on the command line, an
//! HTTP/2 preface closed without an answer, and a long method echoed whole.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(30);

/// A connection that sent a request head declaring `declared` body bytes, then `{`, and
/// keeps sending a space every `every` (the answer is read from the returned stream).
fn trickle(addr: &str, declared: usize, every: Duration) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 1..declared.min(200) {
            std::thread::sleep(every);
            if writer.write_all(b" ").is_err() {
                return;
            }
        }
    });
    stream.set_read_timeout(Some(T)).unwrap();
    stream
}

/// The answer to a trickling body: the 400 of a body cut short, within `within`.
fn assert_cut_off(stream: &mut TcpStream, started: Instant, within: Duration) {
    let answer = read_answer(stream).expect("an answer to the trickling body");
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(
        answer.error()["message"],
        "We could not parse your request. Please check the HTTP headers and body."
    );
    assert!(started.elapsed() < within, "{:?}", started.elapsed());
}

fn get(path: &str, key: Option<&str>) -> Vec<u8> {
    let auth = key.map_or(String::new(), |key| {
        format!("authorization: Bearer {key}\r\n")
    });
    format!("GET {path} HTTP/1.1\r\nhost: x\r\n{auth}\r\n").into_bytes()
}

#[test]
fn hanging_up_after_the_upstream_call_keeps_the_charge() {
    let up = upstream(&[]);
    let gw = gateway(&up, &["--rpm", "2"]);
    faults(&up, r#"{"latency_ms":1000}"#);
    // The auditor's repro: six requests that hang up after 0.4 s.
    let statuses: Vec<Option<u16>> = (0..6)
        .map(|_| {
            http(&gw.addr, &post(SMALL), Duration::from_millis(400))
                .ok()
                .map(|answer| answer.status)
        })
        .collect();
    assert_eq!(
        statuses,
        [None, None, Some(429), Some(429), Some(429), Some(429)]
    );
    // Only the two admitted requests reached the upstream.
    assert_eq!(stats(&up)["received"], 2);
    faults(&up, "{}");
    // Time for a (wrong) refund of the hang-ups to land before looking at the budget.
    std::thread::sleep(Duration::from_millis(500));
    let after = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(after.status, 429, "{after:?}");
    assert_eq!(after.error()["type"], "requests");
    assert_eq!(after.header("x-ratelimit-remaining-requests"), Some("0"));
    assert_eq!(stats(&up)["received"], 2);
}

#[test]
fn trickling_bodies_are_cut_off_and_release_their_slots() {
    let up = upstream(&[]);
    let gw = gateway(
        &up,
        &[
            "--max-in-flight",
            "4",
            "--body-timeout",
            "1",
            "--deadline",
            "30",
        ],
    );
    let started = Instant::now();
    // A byte every 300 ms: never a pause of --body-timeout, but 100 bytes take 30 s.
    let mut slow: Vec<TcpStream> = (0..4)
        .map(|_| trickle(&gw.addr, 100, Duration::from_millis(300)))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // They hold every slot...
    assert_eq!(http(&gw.addr, &post(SMALL), T).unwrap().status, 503);
    // ...until their whole-body time (1 s plus 100 bytes at 1 MiB/s) runs out.
    for stream in &mut slow {
        assert_cut_off(stream, started, Duration::from_secs(4));
    }
    assert_eq!(http(&gw.addr, &post(SMALL), T).unwrap().status, 200);
    assert_eq!(stats(&up)["received"], 1);
}

#[test]
fn a_declared_length_reserves_no_memory_before_its_bytes_arrive() {
    let up = upstream(&[]);
    let gw = gateway(
        &up,
        &[
            "--body-memory",
            "2",
            "--body-timeout",
            "1",
            "--deadline",
            "30",
        ],
    );
    let started = Instant::now();
    // Each declares 1 MiB beyond the free 64 KiB: reserved up front, the two held all of
    // --body-memory while sending 1 byte.
    let mut holders: Vec<TcpStream> = (0..2)
        .map(|_| trickle(&gw.addr, (1 << 20) + (64 << 10), Duration::from_millis(300)))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // A 200 KiB body (valid: trailing whitespace) needs memory beyond its free share.
    let large = format!("{SMALL}{}", " ".repeat(200 << 10));
    let answer = http(&gw.addr, &post(&large), T).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    for stream in &mut holders {
        assert_cut_off(stream, started, Duration::from_secs(5));
    }
    // A declared length over the limit is still refused before a byte is read.
    let over = (64 << 20) + 1;
    let head = format!(
        "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-length: {over}\r\n\r\n"
    );
    let answer = http(&gw.addr, head.as_bytes(), T).unwrap();
    assert_eq!(answer.status, 413, "{answer:?}");
    assert_eq!(
        answer.error()["message"],
        format!("Request body too large: {over} bytes exceeds the limit of 67108864 bytes.")
    );
}

#[test]
fn a_slow_client_past_the_deadline_is_a_400_not_the_upstreams_504() {
    let up = upstream(&[]);
    // The whole-body time (5 s plus 100 bytes at 1 KiB/s) is past the deadline.
    let gw = gateway(
        &up,
        &[
            "--body-timeout",
            "5",
            "--min-body-rate",
            "1",
            "--deadline",
            "2",
        ],
    );
    let started = Instant::now();
    let mut slow = trickle(&gw.addr, 100, Duration::from_millis(500));
    assert_cut_off(&mut slow, started, Duration::from_secs(4));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(stats(&up)["received"], 0);
    // The upstream not answering in time is the 504.
    faults(&up, r#"{"latency_ms":3000,"times":1}"#);
    let late = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(late.status, 504, "{late:?}");
    assert_eq!(late.error()["code"], "timeout");
}

#[test]
fn every_answer_to_a_budgeted_key_has_the_rate_limit_headers() {
    let up = upstream(&[]);
    let gw = gateway(&up, &["--rpm", "5", "--deadline", "1"]);
    // The deadline's 504, after the request's charge was taken.
    faults(&up, r#"{"latency_ms":2000,"times":1}"#);
    let late = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(late.status, 504, "{late:?}");
    assert_eq!(late.header("x-ratelimit-limit-requests"), Some("5"));
    assert!(late.header("x-ratelimit-remaining-requests").is_some());
    assert!(late.header("x-ratelimit-reset-requests").is_some());
    // 404 and 405 to a budgeted key; none without a key.
    for (path, status) in [("/v1/nothing", 404), ("/v1/embeddings", 405)] {
        let answer = http(&gw.addr, &get(path, Some(KEY)), T).unwrap();
        assert_eq!(answer.status, status, "{answer:?}");
        assert_eq!(answer.header("x-ratelimit-limit-requests"), Some("5"));
        let anonymous = http(&gw.addr, &get(path, None), T).unwrap();
        assert_eq!(anonymous.status, status, "{anonymous:?}");
        assert_eq!(anonymous.header("x-ratelimit-limit-requests"), None);
    }

    // Per model: a 400 naming a known model has that model's bucket.
    let per_model = gateway(&up, &["--rpm", "3", "--budget-per-model"]);
    let first = http(&per_model.addr, &post(SMALL), T).unwrap();
    assert_eq!(first.status, 200, "{first:?}");
    let empty = r#"{"model":"text-embedding-3-small","input":""}"#;
    let bad = http(&per_model.addr, &post(empty), T).unwrap();
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.header("x-ratelimit-limit-requests"), Some("3"));
    assert_eq!(bad.header("x-ratelimit-remaining-requests"), Some("2"));
    let other = r#"{"model":"text-embedding-3-large","input":""}"#;
    let bad = http(&per_model.addr, &post(other), T).unwrap();
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(bad.header("x-ratelimit-remaining-requests"), Some("3"));
    // No one bucket: an unknown model, a body that does not parse, a 404.
    let unknown = r#"{"model":"no-such-model","input":"x"}"#;
    for body in [unknown, "{"] {
        let answer = http(&per_model.addr, &post(body), T).unwrap();
        assert!(matches!(answer.status, 400 | 404), "{answer:?}");
        assert_eq!(answer.header("x-ratelimit-limit-requests"), None);
    }
    let answer = http(&per_model.addr, &get("/v1/nothing", Some(KEY)), T).unwrap();
    assert_eq!(answer.status, 404, "{answer:?}");
    assert_eq!(answer.header("x-ratelimit-limit-requests"), None);
}

#[test]
fn a_relayed_429_carries_retry_after() {
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    faults(&up, r#"{"status":429,"retry_after_ms":5000,"times":1}"#);
    let answer = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(
        answer.error()["message"],
        "Simulated 429 from the local upstream."
    );
    assert_eq!(answer.header("retry-after"), Some("5"));
    assert_eq!(answer.header("retry-after-ms"), Some("5000"));
    // Neither header from the upstream: 1 s.
    faults(&up, r#"{"status":429,"times":1}"#);
    let answer = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(answer.header("retry-after-ms"), Some("1000"));
}

#[test]
fn a_shed_request_has_its_key_checked_and_its_budgets_headers() {
    let up = upstream(&[]);
    let gw = gateway(&up, &["--max-in-flight", "1", "--rpm", "100"]);
    // One slow request holds the only slot.
    faults(&up, r#"{"latency_ms":1500,"times":1}"#);
    let addr = gw.addr.clone();
    let holder = std::thread::spawn(move || http(&addr, &post(SMALL), T).unwrap());
    std::thread::sleep(Duration::from_millis(400));
    let shed = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_eq!(shed.status, 503, "{shed:?}");
    assert_eq!(
        shed.error()["message"],
        "The server is overloaded or not ready yet."
    );
    assert_eq!(shed.header("x-ratelimit-limit-requests"), Some("100"));
    assert!(shed.header("x-ratelimit-remaining-requests").is_some());
    // The key check comes before every other check, shedding included.
    let keyless = http(
        &gw.addr,
        format!(
            "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{SMALL}",
            SMALL.len()
        )
        .as_bytes(),
        T,
    )
    .unwrap();
    assert_eq!(keyless.status, 401, "{keyless:?}");
    assert_eq!(
        keyless.error()["message"],
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    );
    let wrong = http(&gw.addr, &post_with("sk-gateway-wrongkey00", SMALL), T).unwrap();
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert_eq!(
        wrong.error()["message"],
        "Incorrect API key provided: sk-g*************ey00."
    );
    assert_eq!(holder.join().unwrap().status, 200);
    assert_eq!(stats(&up)["received"], 1);
}

#[test]
fn replicas_listing_their_keys_in_another_order_share_each_keys_budget() {
    const OTHER: &str = "sk-gateway-otherkey99";
    let redis = Redis::start();
    let url = redis.url();
    let up = upstream(&[]);
    let first = gateway(&up, &["--rpm", "2", "--redis", url.as_str()]);
    // The same two keys, the other way round: KEY is `key-2` here.
    let second = start_quiet(
        GATEWAY,
        &[
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &up.url,
            "--key",
            OTHER,
            "--key",
            KEY,
            "--rpm",
            "2",
            "--redis",
            url.as_str(),
        ],
        &[],
    );
    for _ in 0..2 {
        assert_eq!(http(&first.addr, &post(SMALL), T).unwrap().status, 200);
    }
    let again = http(&second.addr, &post(SMALL), T).unwrap();
    assert_eq!(
        again.status, 429,
        "KEY's budget is spent on every replica: {again:?}"
    );
    assert_eq!(again.header("x-ratelimit-remaining-requests"), Some("0"));
    let other = http(&second.addr, &post_with(OTHER, SMALL), T).unwrap();
    assert_eq!(other.status, 200, "OTHER's budget is its own: {other:?}");
    assert_eq!(other.header("x-ratelimit-remaining-requests"), Some("1"));
}

#[test]
fn an_http2_preface_is_answered_with_the_envelope() {
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    for preface in [
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..],
        // With an empty SETTINGS frame after it, as clients send it.
        &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0"[..],
    ] {
        let answer = http(&gw.addr, preface, T).unwrap();
        assert_eq!(answer.status, 400, "{answer:?}");
        assert_eq!(
            answer.error()["message"],
            "We could not parse your request. Please check the HTTP headers and body."
        );
        assert_eq!(answer.error()["type"], "invalid_request_error");
    }
    // Still serving.
    assert_eq!(http(&gw.addr, &post(SMALL), T).unwrap().status, 200);
}

#[test]
fn a_long_method_is_cut_in_the_message_like_the_path() {
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    let method = "A".repeat(5000);
    let cut = format!("{}...", "A".repeat(64));
    for (path, status, message) in [
        (
            "/v1/embeddings",
            405,
            format!("Invalid method for URL ({cut} /v1/embeddings)"),
        ),
        (
            "/v1/nothing",
            404,
            format!("Invalid URL ({cut} /v1/nothing)"),
        ),
    ] {
        let request = format!("{method} {path} HTTP/1.1\r\nhost: x\r\n\r\n");
        let answer = http(&gw.addr, request.as_bytes(), T).unwrap();
        assert_eq!(answer.status, status, "{answer:?}");
        assert_eq!(answer.error()["message"], message.as_str());
    }
}
