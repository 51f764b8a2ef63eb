//! Issue 11's findings 1-5, 8, 10, 11, each reproduced on loopback, bounded in time and
//! count.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const T: Duration = Duration::from_secs(30);

/// Whether the server closed `stream` (a read returns 0 or an error) within `within`.
fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) => {
                return !matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                );
            }
        }
    }
}

fn timed(addr: &str, body: &str) -> (u16, Duration) {
    let started = Instant::now();
    let answer = http(addr, &post(body), T).expect("an answer");
    (answer.status, started.elapsed())
}

#[test]
fn idle_slowloris_and_stalled_bodies_are_closed() {
    let up = upstream(&[]);
    let gw = gateway(
        &up,
        &[
            "--header-timeout",
            "1",
            "--body-timeout",
            "1",
            "--deadline",
            "3",
        ],
    );
    // Idle: never a byte.
    let mut idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(&gw.addr).unwrap())
        .collect();
    // Slowloris: a header byte every 200 ms, forever.
    let mut slow = TcpStream::connect(&gw.addr).unwrap();
    let mut slow_writer = slow.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        let head =
            b"POST /v1/embeddings HTTP/1.1\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        for &byte in head.iter().cycle().take(50) {
            if slow_writer.write_all(&[byte]).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    });
    // A body shorter than its Content-Length.
    let mut short = TcpStream::connect(&gw.addr).unwrap();
    let head = format!(
        "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-length: 100\r\n\r\n{{\"model\""
    );
    short.write_all(head.as_bytes()).unwrap();
    short
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let answer = read_answer(&mut short).expect("an answer to the stalled body");
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(
        answer.error()["message"],
        "We could not parse your request. Please check the HTTP headers and body."
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    for stream in &mut idle {
        assert!(
            closed_within(stream, Duration::from_secs(4)),
            "an idle connection stayed open"
        );
    }
    assert!(
        closed_within(&mut slow, Duration::from_secs(4)),
        "the slowloris connection stayed open"
    );
    assert!(
        trickle.join().unwrap(),
        "the slowloris client could write for 10 s"
    );
    // A body that trickles a byte every 0.5 s (under the body timeout) is cut off once it
    // is late as a whole: the client's fault (400), never the upstream's 504.
    let mut drip = TcpStream::connect(&gw.addr).unwrap();
    let head = format!(
        "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-length: 100\r\n\r\n"
    );
    drip.write_all(head.as_bytes()).unwrap();
    let mut writer = drip.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 0..100 {
            if writer.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    drip.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
    let answer = read_answer(&mut drip).expect("an answer to the dripping body");
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(
        answer.error()["message"],
        "We could not parse your request. Please check the HTTP headers and body."
    );
    // And the gateway still answers.
    assert_eq!(timed(&gw.addr, SMALL).0, 200);
}

#[test]
fn eleven_hundred_idle_connections_under_1024_descriptors() {
    let up = upstream(&[]);
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\"", GATEWAY])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &up.url,
            "--key",
            KEY,
            "--header-timeout",
            "2",
        ]);
    let gw = start_with(&mut command, &[], true);
    let idle: Vec<TcpStream> = (0..1100)
        .filter_map(|_| TcpStream::connect(&gw.addr).ok())
        .collect();
    assert!(idle.len() >= 1000, "only {} connections opened", idle.len());
    // Real requests: answered once the idle ones time out, well within the deadline.
    for _ in 0..3 {
        let (status, took) = timed(&gw.addr, SMALL);
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
    drop(idle);
}

#[test]
fn endless_upstream_answers_are_cut_and_memory_stays_bounded() {
    let up = upstream(&["--fault-endless"]);
    let gw = gateway(&up, &[]);
    let (before, _) = rss_kib(gw.child.id());
    for _ in 0..4 {
        let answer = http(&gw.addr, &post(SMALL), T).unwrap();
        assert_eq!(answer.status, 502, "{answer:?}");
    }
    let (_, peak) = rss_kib(gw.child.id());
    assert!(
        peak < before + 64 * 1024,
        "peak RSS {peak} KiB from {before} KiB"
    );
}

/// Sends the head and all but the last byte of a 60 MiB body, then holds it.
fn hold_body(addr: &str) -> std::thread::JoinHandle<Option<u16>> {
    let addr = addr.to_owned();
    std::thread::spawn(move || {
        let len = 60 << 20;
        let mut stream = TcpStream::connect(&addr).ok()?;
        stream
            .set_write_timeout(Some(Duration::from_secs(20)))
            .ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .ok()?;
        let head = format!(
            "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-length: {len}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).ok()?;
        let chunk = vec![b' '; 1 << 20];
        let mut sent = 0;
        while sent < len - 1 {
            let n = chunk.len().min(len - 1 - sent);
            if stream.write_all(&chunk[..n]).is_err() {
                break;
            }
            sent += n;
        }
        read_answer(&mut stream).ok().map(|a| a.status)
    })
}

#[test]
fn held_bodies_are_bounded_in_total_and_small_requests_still_pass() {
    let up = upstream(&[]);
    let gw = gateway(
        &up,
        &[
            "--body-memory",
            "128",
            "--body-timeout",
            "3",
            "--deadline",
            "8",
        ],
    );
    let (before, _) = rss_kib(gw.child.id());
    let holders: Vec<_> = (0..16).map(|_| hold_body(&gw.addr)).collect();
    std::thread::sleep(Duration::from_secs(1));
    for _ in 0..5 {
        let (status, took) = timed(&gw.addr, SMALL);
        assert_eq!(status, 200);
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
    let statuses: Vec<Option<u16>> = holders.into_iter().map(|h| h.join().unwrap()).collect();
    let shed = statuses.iter().filter(|s| **s == Some(503)).count();
    assert!(
        shed >= 13,
        "only {shed} of 16 held bodies were shed: {statuses:?}"
    );
    let (_, peak) = rss_kib(gw.child.id());
    // 128 MiB of bodies, 64 KiB free each, and the process itself.
    assert!(
        peak < before + 200 * 1024,
        "peak RSS {peak} KiB from {before} KiB"
    );
}

#[test]
fn large_checks_do_not_freeze_small_requests() {
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    // Bodies that take long to check: 40 MB of short words in 2000 inputs, counted in
    // full (the request's exact sum is in its error), over the request's token limit so
    // no upstream call is made.
    let input = "word ".repeat(4000);
    let inputs: Vec<&str> = (0..2000).map(|_| input.as_str()).collect();
    let big = serde_json::json!({"model": "text-embedding-3-small", "input": inputs}).to_string();
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let addr = gw.addr.clone();
            let big = big.clone();
            std::thread::spawn(move || http(&addr, &post(&big), T).map(|a| a.status))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(700));
    let mut worst = Duration::ZERO;
    for _ in 0..5 {
        let (status, took) = timed(&gw.addr, SMALL);
        assert_eq!(status, 200);
        worst = worst.max(took);
    }
    for handle in slow {
        assert_eq!(handle.join().unwrap().unwrap(), 400);
    }
    assert!(
        worst < Duration::from_secs(2),
        "a small request took {worst:?}"
    );
}

#[test]
fn the_deadline_bounds_queued_requests_and_overload_is_shed() {
    let up = upstream(&["--fault-latency-ms", "2500"]);
    let gw = gateway(
        &up,
        &["--timeout", "3", "--deadline", "3", "--concurrency", "1"],
    );
    let started = Instant::now();
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let addr = gw.addr.clone();
            std::thread::spawn(move || http(&addr, &post(SMALL), T).unwrap())
        })
        .collect();
    let answers: Vec<Answer> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let timeouts = answers.iter().filter(|a| a.status == 504).count();
    assert!(timeouts >= 14, "{timeouts} timeouts");
    for answer in answers.iter().filter(|a| a.status == 504) {
        let error = answer.error();
        assert_eq!(error["code"], "timeout");
        assert_eq!(error["type"], "server_error");
    }

    let shedding = gateway(&up, &["--max-in-flight", "4", "--concurrency", "8"]);
    let clients: Vec<_> = (0..12)
        .map(|_| {
            let addr = shedding.addr.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let answer = http(&addr, &post(SMALL), T).unwrap();
                (answer, started.elapsed())
            })
        })
        .collect();
    let answers: Vec<(Answer, Duration)> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let shed: Vec<_> = answers.iter().filter(|(a, _)| a.status == 503).collect();
    assert_eq!(shed.len(), 8, "{answers:?}");
    for (answer, took) in shed {
        assert_eq!(
            answer.error()["message"],
            "The server is overloaded or not ready yet."
        );
        assert!(*took < Duration::from_secs(1), "shedding took {took:?}");
    }
}

#[test]
fn logging_never_blocks_and_says_why() {
    let up = upstream(&[]);
    // stderr is a pipe nobody reads until the end.
    let mut child = Command::new(GATEWAY)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &up.url,
            "--key",
            KEY,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let addr = line
        .trim()
        .trim_start_matches("listening on http://")
        .trim_end_matches("/v1")
        .to_owned();
    // A rejected request and an upstream failure, first (a pipe holds 64 KiB of lines).
    let secret = "secret words nobody logs";
    let long = format!(
        r#"{{"model":"text-embedding-3-small","input":["hi","{secret} {}"]}}"#,
        "x ".repeat(9000)
    );
    assert_eq!(http(&addr, &post(&long), T).unwrap().status, 400);
    faults(&up, r#"{"status":503}"#);
    assert_eq!(http(&addr, &post(SMALL), T).unwrap().status, 502);
    faults(&up, "{}");
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Then far more lines than the pipe holds: every request is still answered.
    for i in 0..2000 {
        stream.write_all(&post(SMALL)).unwrap();
        let answer = read_answer(&mut stream).unwrap_or_else(|err| panic!("request {i}: {err}"));
        assert_eq!(answer.status, 200);
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let _ = child.wait();
    assert!(
        logs.contains("InputTooLong { index: 1"),
        "no reason for the 400 in the logs"
    );
    assert!(
        logs.contains("upstream answered 503 Service Unavailable"),
        "no cause for the 502"
    );
    assert!(!logs.contains(secret), "input text in the logs");
    assert!(!logs.contains(KEY), "a key in the logs");
}

#[test]
fn truncate_cuts_to_the_upstreams_max_tokens() {
    let up = upstream(&[]);
    let gw = gateway(&up, &["--truncate", "--max-tokens", "100"]);
    let body = format!(
        r#"{{"model":"text-embedding-3-small","input":["{}","hi"]}}"#,
        "word ".repeat(500)
    );
    let answer = http(&gw.addr, &post(&body), T).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("x-embedguard-truncated"), Some("0"));
    let value: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(value["usage"]["prompt_tokens"], 101);
}

#[test]
fn calls_are_planned_within_the_upstreams_body_limit() {
    let up = upstream(&["--max-body-bytes", "1048576"]);
    let inputs: Vec<String> = (0..2048)
        .map(|i| format!("{i} {}", "word ".repeat(130)))
        .collect();
    let body = serde_json::json!({"model": "text-embedding-3-small", "input": inputs}).to_string();
    assert!(body.len() > 1 << 20);
    let plain = gateway(&up, &[]);
    let answer = http(&plain.addr, &post(&body), T).unwrap();
    assert_ne!(answer.status, 200, "the upstream's limit is not in force");
    let gw = gateway(&up, &["--upstream-max-body-bytes", "1048576"]);
    let answer = http(&gw.addr, &post(&body), T).unwrap();
    assert_eq!(
        answer.status,
        200,
        "{:?}",
        &answer.body[..answer.body.len().min(300)]
    );
    let value: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(value["data"].as_array().unwrap().len(), 2048);
}

#[test]
fn under_all_the_abuse_at_once_real_requests_pass_and_memory_is_bounded() {
    let up = upstream(&[]);
    let gw = gateway(
        &up,
        &[
            "--body-memory",
            "128",
            "--max-connections",
            "4096",
            "--header-timeout",
            "5",
            "--body-timeout",
            "5",
            "--deadline",
            "10",
        ],
    );
    let (before, _) = rss_kib(gw.child.id());
    let idle: Vec<TcpStream> = (0..1100)
        .filter_map(|_| TcpStream::connect(&gw.addr).ok())
        .collect();
    assert_eq!(idle.len(), 1100);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slowloris: Vec<_> = (0..20)
        .map(|_| {
            let addr = gw.addr.clone();
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let Ok(mut stream) = TcpStream::connect(&addr) else {
                    return;
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if stream.write_all(b"x").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            })
        })
        .collect();
    let holders: Vec<_> = (0..16).map(|_| hold_body(&gw.addr)).collect();
    let endless: Vec<_> = (0..8)
        .map(|_| {
            let addr = gw.addr.clone();
            std::thread::spawn(move || {
                let body =
                    r#"{"model":"text-embedding-3-small","input":"x","user":"fault:endless"}"#;
                (0..5)
                    .map(|_| http(&addr, &post(body), T).map_or(0, |a| a.status))
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let (status, took) = timed(&gw.addr, SMALL);
        assert_eq!(status, 200);
        worst = worst.max(took);
        std::thread::sleep(Duration::from_millis(300));
    }
    for handle in endless {
        assert!(handle.join().unwrap().iter().all(|&s| s == 502));
    }
    for handle in holders {
        let _ = handle.join();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    slowloris.into_iter().for_each(|h| drop(h.join()));
    let (_, peak) = rss_kib(gw.child.id());
    drop(idle);
    println!(
        "abuse: worst real request {worst:?}; gateway RSS {} MiB before, peak {} MiB",
        before / 1024,
        peak / 1024
    );
    assert!(
        worst < Duration::from_secs(3),
        "a real request took {worst:?}"
    );
    // --body-memory (128 MiB) + 64 KiB a request and a head per connection + a constant.
    assert!(
        peak < before + 256 * 1024,
        "peak RSS {peak} KiB from {before} KiB"
    );
}
