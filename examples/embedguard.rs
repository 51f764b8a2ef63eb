//! Command-line front end: check a request body, or count a file's tokens.
//!
//! ```text
//! cargo run --release --example embedguard -- check examples/request.json
//! cargo run --release --example embedguard -- check -          # body on stdin
//! cargo run --release --example embedguard -- count FILE...
//! ```
//! `check` prints one JSON line and exits 0 when the request is valid, 1 when it is
//! rejected, 2 on a usage or IO error. `count` prints `TOKENS FILE` per file.

use std::io::Read;
use std::process::ExitCode;

use embedguard::{Policy, cl100k};

const USAGE: &str = "usage: embedguard check FILE|-\n       embedguard count FILE...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["check", path] => check(path),
        ["count", paths @ ..] if !paths.is_empty() => count(paths),
        _ => Err(USAGE.to_owned()),
    };
    result.unwrap_or_else(|message| {
        eprintln!("{message}");
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
