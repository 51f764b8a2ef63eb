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
    // A front end that fails before reading its input (a bad models file) may be gone
    // already: a broken pipe is its answer, not the test's failure.
    match pipe.write_all(stdin.unwrap_or_default()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
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
         \"token_counts\":[8,7,11],\"exact\":true,\"usage\":{\"prompt_tokens\":26,\"total_tokens\":26}}\n"
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
            "embedguard check [OPTIONS] FILE|-",
            "embedguard count [--tokenizer T] FILE...",
            "--models PATH",
            "--max-inputs N",
            "--max-input-tokens N",
            "--max-request-tokens N",
            "--max-body-bytes N",
            "--max-depth N",
            "--truncate",
            "--allow-member NAME",
            "--tokenizer T",
            "\"exact\":true",
            "Exit status",
        ] {
            assert!(text.contains(command), "{flag}: no `{command}` in {text}");
        }
    }
}

/// Each wrong usage says what was wrong, on stderr, and exits 2.
#[test]
fn wrong_usage_says_what_was_wrong() {
    let cases: [(&[&str], &str); 11] = [
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
        (
            &["check", "--frob", "x"],
            "embedguard check: unknown option `--frob`",
        ),
        (
            &["check", "x", "--models"],
            "embedguard check: --models needs a value",
        ),
        (
            &["check", "--max-inputs", "many", "x"],
            "embedguard check: --max-inputs takes a non-negative integer, not `many`",
        ),
        (
            &["check", "--max-input-tokens", "-1", "x"],
            "embedguard check: --max-input-tokens takes a non-negative integer, not `-1`",
        ),
        (
            &["count", "--tokenizer"],
            "embedguard count: --tokenizer needs a value",
        ),
        (
            &["count", "--tokenizer", "estimate"],
            "embedguard count: missing FILE",
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

/// A scratch directory of this test binary's own.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn check_with_a_models_file() {
    let dir = scratch("models");
    let models = dir.join("models.toml");
    std::fs::write(
        &models,
        "[[model]]\nname = \"gemini-embedding-001\"\ndimensions = 3072\ntokenizer = \"estimate\"\nmax_input_tokens = 4\n\n\
         [[model]]\nname = \"text-embedding-3-small\"\ndimensions = 1536\nshorten = true\n",
    )
    .unwrap();
    let models = models.to_str().unwrap();
    let out = run(
        &["check", "--models", models, "-"],
        Some(br#"{"model":"gemini-embedding-001","input":["hello world","abc"]}"#),
    );
    assert_eq!(
        stdout(&out),
        "{\"status\":200,\"model\":\"gemini-embedding-001\",\"encoding_format\":\"float\",\"dimensions\":null,\
         \"token_counts\":[3,1],\"exact\":false,\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}\n"
    );
    assert_eq!(out.status.code(), Some(0));
    // The profile's own limit, in its own tokens.
    let out = run(
        &["check", "-", "--models", models],
        Some(br#"{"model":"gemini-embedding-001","input":"seventeen bytes!!"}"#),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "{\"status\":400,\"error\":{\"message\":\"Invalid 'input': maximum context length is 4 tokens.\",\
         \"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}\n"
    );
    // Only the file's models.
    let out = run(
        &["check", "--models", models, "-"],
        Some(br#"{"model":"text-embedding-3-large","input":"a"}"#),
    );
    assert!(
        stdout(&out).starts_with("{\"status\":404,"),
        "{}",
        stdout(&out)
    );

    // A bad file: its error, exit 2, nothing on stdout.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[model]]\nname = \"m\"\ndimensions = \"wide\"\n").unwrap();
    let out = run(
        &["check", "--models", bad.to_str().unwrap(), "-"],
        Some(b"{}"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "embedguard: {}:3: model `m`, field `dimensions`: invalid type: string \"wide\", expected a non-negative integer\n\
             Run `embedguard --help` for usage.\n",
            bad.display()
        )
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn check_with_limits_and_truncation() {
    let body = br#"{"model":"text-embedding-3-small","input":["hello big world","hi"]}"#;
    let out = run(&["check", "--max-input-tokens", "2", "-"], Some(body));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("maximum context length is 2 tokens."),
        "{}",
        stdout(&out)
    );
    let out = run(
        &["check", "--max-input-tokens", "2", "--truncate", "-"],
        Some(body),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "{\"status\":200,\"model\":\"text-embedding-3-small\",\"encoding_format\":\"float\",\"dimensions\":null,\
         \"token_counts\":[2,1],\"exact\":true,\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3},\"truncated\":[0]}\n"
    );
    let out = run(&["check", "--max-inputs", "1", "-"], Some(body));
    assert!(
        stdout(&out).contains("'$.input' is invalid."),
        "{}",
        stdout(&out)
    );
    let out = run(&["check", "--max-request-tokens", "3", "-"], Some(body));
    assert!(
        stdout(&out).contains("Requested 4 tokens, max 3 tokens per request"),
        "{}",
        stdout(&out)
    );
    let out = run(&["check", "--max-body-bytes", "10", "-"], Some(body));
    assert!(
        stdout(&out).starts_with("{\"status\":413,"),
        "{}",
        stdout(&out)
    );
    let out = run(&["check", "--max-depth", "1", "-"], Some(body));
    assert!(
        stdout(&out).contains("could not parse the JSON body"),
        "{}",
        stdout(&out)
    );
    let with_member = br#"{"model":"text-embedding-3-small","input":"a","metadata":{"k":1}}"#;
    let out = run(&["check", "-"], Some(with_member));
    assert_eq!(out.status.code(), Some(1));
    let out = run(
        &["check", "--allow-member", "metadata", "-"],
        Some(with_member),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn count_with_a_named_tokenizer() {
    let dir = scratch("count");
    let file = dir.join("text.txt");
    std::fs::write(&file, "hello world, 日本語").unwrap();
    let path = file.to_str().unwrap();
    let out = run(&["count", "--tokenizer", "estimate", path], None);
    assert_eq!(stdout(&out), format!("6 {path}\n"));
    let out = run(&["count", path, "--tokenizer", "cl100k_base"], None);
    let cl100k = embedguard::cl100k().count("hello world, 日本語");
    assert_eq!(stdout(&out), format!("{cl100k} {path}\n"));
}

#[cfg(not(feature = "hf"))]
#[test]
fn a_tokenizer_file_needs_the_hf_feature() {
    let out = run(&["count", "--tokenizer", "tok.json", "Cargo.toml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "embedguard count: tok.json: a tokenizer.json needs the `hf` feature (this build has none)\n\
         Run `embedguard --help` for usage.\n"
    );
}

#[cfg(feature = "hf")]
#[test]
fn count_with_a_tokenizer_file() {
    let out = run(&["count", "--tokenizer", "tok.json", "Cargo.toml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "embedguard count: tok.json: No such file or directory (os error 2)\n\
         Run `embedguard --help` for usage.\n"
    );
    let tokenizer = "../shared/tokenizers/minilm/tokenizer.json";
    let Ok(hf) = embedguard::HfTokenizer::from_file(tokenizer) else {
        assert!(
            std::env::var_os("EMBEDGUARD_REQUIRE_SHARED").is_none(),
            "{tokenizer} is absent"
        );
        println!("note: {tokenizer} is absent; skipped");
        return;
    };
    let text = std::fs::read_to_string("Cargo.toml").expect("readable");
    let out = run(&["count", "--tokenizer", tokenizer, "Cargo.toml"], None);
    assert_eq!(stdout(&out), format!("{} Cargo.toml\n", hf.count(&text)));
}
