//! Every answer is the four-key envelope (contract, "Gateway answers"), and the upstream
//! is never trusted: findings 6, 7, 9 of issue 11, and the binaries' command lines.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const T: Duration = Duration::from_secs(20);
const SERVER_ERROR: &str =
    "The server had an error while processing your request. Sorry about that!";
const MALFORMED: &str = "We could not parse your request. Please check the HTTP headers and body.";

fn assert_error(answer: &Answer, status: u16, message: &str, kind: &str, code: Option<&str>) {
    assert_eq!(answer.status, status, "{answer:?}");
    let error = answer.error();
    assert_eq!(error["message"], message, "{answer:?}");
    assert_eq!(error["type"], kind, "{answer:?}");
    assert_eq!(error["param"], serde_json::Value::Null);
    assert_eq!(error["code"].as_str(), code, "{answer:?}");
}

#[test]
fn unknown_path_wrong_method_and_malformed_http_are_envelopes() {
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    let a = http(
        &gw.addr,
        b"GET /v1/embeddings HTTP/1.1\r\nhost: x\r\n\r\n",
        T,
    )
    .unwrap();
    assert_error(
        &a,
        405,
        "Invalid method for URL (GET /v1/embeddings)",
        "invalid_request_error",
        None,
    );
    let a = http(
        &gw.addr,
        b"POST /v1/nothing HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n",
        T,
    )
    .unwrap();
    assert_error(
        &a,
        404,
        "Invalid URL (POST /v1/nothing)",
        "invalid_request_error",
        None,
    );
    let long = format!("GET /{} HTTP/1.1\r\nhost: x\r\n\r\n", "p".repeat(100));
    let a = http(&gw.addr, long.as_bytes(), T).unwrap();
    let cut = format!("Invalid URL (GET /{}...)", "p".repeat(63));
    assert_error(&a, 404, &cut, "invalid_request_error", None);
    // Not HTTP at all.
    let a = http(&gw.addr, b"GARBAGE GARBAGE\r\n\r\n", T).unwrap();
    assert_error(&a, 400, MALFORMED, "invalid_request_error", None);
    let a = http(
        &gw.addr,
        b"POST /v1/embeddings HTTP/1.1\r\nbad header\r\n\r\n",
        T,
    )
    .unwrap();
    assert_error(&a, 400, MALFORMED, "invalid_request_error", None);
    // Headers over the 64 KiB head limit.
    let big = format!(
        "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(100_000)
    );
    let a = http(&gw.addr, big.as_bytes(), T).unwrap();
    assert_error(&a, 431, MALFORMED, "invalid_request_error", None);
    // A malformed request after a good one on the same connection.
    let mut stream = std::net::TcpStream::connect(&gw.addr).unwrap();
    stream.set_read_timeout(Some(T)).unwrap();
    std::io::Write::write_all(&mut stream, &post(SMALL)).unwrap();
    assert_eq!(read_answer(&mut stream).unwrap().status, 200);
    std::io::Write::write_all(&mut stream, b"NOT HTTP\r\n\r\n").unwrap();
    let a = read_answer(&mut stream).unwrap();
    assert_error(&a, 400, MALFORMED, "invalid_request_error", None);
}

#[test]
fn upstream_failures_are_502_and_4xx_are_relayed_only_as_short_strings() {
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    let ask = || http(&gw.addr, &post(SMALL), T).unwrap();

    faults(&up, r#"{"status":500}"#);
    assert_error(&ask(), 502, SERVER_ERROR, "server_error", None);
    faults(&up, r#"{"status":400,"message":123}"#);
    assert_error(&ask(), 502, SERVER_ERROR, "server_error", None);
    let huge = format!(r#"{{"status":400,"message":"{}"}}"#, "m".repeat(8 << 20));
    faults(&up, &huge);
    assert_error(&ask(), 502, SERVER_ERROR, "server_error", None);
    let over = format!(r#"{{"status":400,"message":"{}"}}"#, "m".repeat(1025));
    faults(&up, &over);
    assert_error(&ask(), 502, SERVER_ERROR, "server_error", None);
    // A short string: the same status, the message cut like any echo.
    faults(&up, r#"{"status":422,"message":"Nope."}"#);
    assert_error(&ask(), 422, "Nope.", "invalid_request_error", None);
    let long = format!(r#"{{"status":400,"message":"{}"}}"#, "é".repeat(512));
    faults(&up, &long);
    let cut = format!("{}...", "é".repeat(32));
    assert_error(&ask(), 400, &cut, "invalid_request_error", None);
    // Unreachable.
    drop(up);
    assert_error(&ask(), 502, SERVER_ERROR, "server_error", None);
}

#[test]
fn redirects_are_never_followed() {
    let other = upstream(&[]);
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    let target = format!(r#"{{"redirect":"{}/embeddings"}}"#, other.url);
    faults(&up, &target);
    let a = http(&gw.addr, &post(SMALL), T).unwrap();
    assert_error(&a, 502, SERVER_ERROR, "server_error", None);
    assert_eq!(
        stats(&other)["requests"],
        0,
        "the inputs reached another origin"
    );
}

#[test]
fn upstream_answers_that_are_not_valid_are_502() {
    let up = upstream(&[]);
    let gw = gateway(&up, &[]);
    let ask = |body: &str| http(&gw.addr, &post(body), T).unwrap();
    let two = r#"{"model":"text-embedding-3-small","input":["a","b"]}"#;
    for fault in [
        r#"{"dimensions":1}"#,
        r#"{"drop_vector":true}"#,
        r#"{"nan":true}"#,
    ] {
        faults(&up, fault);
        assert_error(&ask(two), 502, SERVER_ERROR, "server_error", None);
    }
    // Usage is always the gateway's own count for an exact model.
    faults(&up, r#"{"usage":[1,999999999]}"#);
    let a = ask(two);
    assert_eq!(a.status, 200, "{a:?}");
    let value: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(value["usage"]["prompt_tokens"], 2);
    assert_eq!(value["usage"]["total_tokens"], 2);
}

#[test]
fn binaries_answer_help_and_say_what_was_wrong() {
    for (bin, options) in [
        (
            GATEWAY,
            &[
                "--upstream",
                "--deadline",
                "--max-in-flight",
                "[default: 60]",
            ][..],
        ),
        (
            UPSTREAM,
            &[
                "--max-batch",
                "--fault-latency-ms",
                "What it is not",
                "[default: 127.0.0.1:8080]",
            ][..],
        ),
    ] {
        let out = Command::new(bin).arg("--help").output().unwrap();
        assert!(out.status.success(), "{bin} --help failed");
        let text = String::from_utf8_lossy(&out.stdout);
        for option in options {
            assert!(
                text.contains(option),
                "{bin} --help lacks {option}:\n{text}"
            );
        }
        let out = Command::new(bin).arg("--frobnicate").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("unexpected argument '--frobnicate'"),
            "{text}"
        );
    }
    let out = Command::new(GATEWAY)
        .args(["--upstream", "http://x", "--deadline", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("expected a positive number of seconds, not \"soon\""),
        "{text}"
    );
    let out = Command::new(GATEWAY)
        .args(["--upstream", "http://x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("at least one --key (or a --keys-file) is required"),
        "{text}"
    );
}
