//! The command-line front end, as the README runs it: output lines and exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The crate's binary, built by cargo for its integration tests.
fn front_end() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_embedguard"))
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(front_end())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary is built by cargo test");
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
fn help_goes_to_stdout_and_exits_0() {
    for flag in ["--help", "-h", "help"] {
        let out = run(&[flag], None);
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = stdout(&out);
        assert!(
            text.starts_with("embedguard: check OpenAI-compatible"),
            "{text}"
        );
        for command in [
            "embedguard check FILE|-",
            "embedguard count FILE...",
            "Exit status",
        ] {
            assert!(text.contains(command), "{flag}: no `{command}` in {text}");
        }
    }
}

/// Each wrong usage says what was wrong, on stderr, and exits 2.
#[test]
fn wrong_usage_says_what_was_wrong() {
    let cases: [(&[&str], &str); 5] = [
        (&[], "embedguard: no command given"),
        (
            &["check"],
            "embedguard check: missing FILE (or `-` for stdin)",
        ),
        (
            &["check", "a", "b"],
            "embedguard check: unexpected argument `b`",
        ),
        (&["count"], "embedguard count: missing FILE"),
        (
            &["frobnicate", "x"],
            "embedguard: unknown command `frobnicate`",
        ),
    ];
    for (args, message) in cases {
        let out = run(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{message}\nRun `embedguard --help` for usage.\n"),
            "{args:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn io_errors_exit_2() {
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
