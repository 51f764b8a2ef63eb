//! The command-line front end, as the README runs it: output lines and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `cargo test` builds the examples next to the test binaries' `deps/` directory.
fn front_end() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile directory");
    dir.join("examples")
        .join(format!("embedguard{}", std::env::consts::EXE_SUFFIX))
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(front_end())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example is built by cargo test");
    let mut pipe = child.stdin.take().expect("stdin");
    pipe.write_all(stdin.unwrap_or_default())
        .expect("write stdin");
    drop(pipe);
    child.wait_with_output().expect("run")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn check_the_example_request() {
    let out = run(&["check", "examples/request.json"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "{\"status\":200,\"model\":\"text-embedding-3-small\",\"encoding_format\":\"base64\",\"dimensions\":256,\
         \"token_counts\":[8,7,11],\"usage\":{\"prompt_tokens\":26,\"total_tokens\":26}}\n"
    );
}

#[test]
fn a_rejected_request_prints_its_status_and_envelope() {
    let out = run(
        &["check", "-"],
        Some(br#"{"model":"text-embedding-3-small","input":[]}"#),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "{\"status\":400,\"error\":{\"message\":\"'$.input' is invalid. Please check the API reference: \
         https://platform.openai.com/docs/api-reference.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}\n"
    );
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(run(&[], None).status.code(), Some(2));
    assert_eq!(run(&["check"], None).status.code(), Some(2));
    assert_eq!(run(&["frobnicate", "x"], None).status.code(), Some(2));
    let missing = run(&["check", "no/such/file.json"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.json"));
}

#[test]
fn count_prints_each_file() {
    let out = run(&["count", "examples/request.json", "Cargo.toml"], None);
    assert_eq!(out.status.code(), Some(0));
    let cl100k = embedguard::cl100k();
    let expected: String = ["examples/request.json", "Cargo.toml"]
        .iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(p)).unwrap();
            format!("{} {p}\n", cl100k.count(&text))
        })
        .collect();
    assert_eq!(stdout(&out), expected);
}
