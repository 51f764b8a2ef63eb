//! Command-line front end: check a request body, or count a file's tokens.
//! `embedguard --help` says how; built from the library and little else, so
//! `cargo run --release -- check FILE` builds quickly.

use std::io::Read;
use std::process::ExitCode;

use embedguard::{Policy, cl100k};

const HELP: &str = "\
embedguard: check OpenAI-compatible embeddings requests, count tokens

Usage:
  embedguard check FILE|-       check a request body (`-` reads stdin)
  embedguard count FILE...      print each file's cl100k_base token count
  embedguard --help             print this help

check prints one JSON line: {\"status\":200,\"model\":...,\"token_counts\":[...],\"usage\":{...}}
for a valid request, {\"status\":N,\"error\":{...}} (OpenAI's error object) otherwise.
count prints one `TOKENS FILE` line per file.

Exit status: 0 valid, 1 rejected, 2 usage or IO error.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] => Err("embedguard: no command given".to_owned()),
        [help] if matches!(*help, "-h" | "--help" | "help") => {
            print!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        ["check", path] => check(path),
        ["check"] => Err("embedguard check: missing FILE (or `-` for stdin)".to_owned()),
        ["check", _, extra, ..] => Err(format!("embedguard check: unexpected argument `{extra}`")),
        ["count"] => Err("embedguard count: missing FILE".to_owned()),
        ["count", paths @ ..] => count(paths),
        [command, ..] => Err(format!("embedguard: unknown command `{command}`")),
    };
    result.unwrap_or_else(|message| {
        eprintln!("{message}\nRun `embedguard --help` for usage.");
        ExitCode::from(2)
    })
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let result = if path == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    result.map_err(|e| format!("embedguard: {path}: {e}"))?;
    Ok(bytes)
}

/// The line printed for a valid request (field order as printed).
#[derive(serde::Serialize)]
struct Accepted<'a> {
    status: u16,
    model: &'a str,
    encoding_format: &'a str,
    dimensions: Option<usize>,
    token_counts: &'a [usize],
    usage: embedguard::Usage,
}

fn check(path: &str) -> Result<ExitCode, String> {
    let body = read(path)?;
    match Policy::openai().check(&body) {
        Ok(checked) => {
            let line = Accepted {
                status: 200,
                model: checked.model(),
                encoding_format: checked.encoding_format().as_str(),
                dimensions: checked.dimensions(),
                token_counts: checked.token_counts(),
                usage: checked.usage(),
            };
            let line = serde_json::to_string(&line).map_err(|e| e.to_string())?;
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            println!(
                r#"{{"status":{},"error":{}}}"#,
                err.status(),
                error_object(&err.to_json())
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// The `{...}` inside `{"error":{...}}`, keeping the envelope's key order.
fn error_object(envelope: &str) -> &str {
    envelope
        .strip_prefix(r#"{"error":"#)
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(envelope)
}

fn count(paths: &[&str]) -> Result<ExitCode, String> {
    for path in paths {
        let bytes = read(path)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| format!("embedguard: {path}: not UTF-8: {e}"))?;
        println!("{} {path}", cl100k().count(text));
    }
    Ok(ExitCode::SUCCESS)
}
