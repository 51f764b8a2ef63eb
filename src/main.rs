//! Command-line front end: check a request body, or count a file's tokens.
//! `embedguard --help` says how; built from the library and little else, so
//! `cargo run --release -- check FILE` builds quickly.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use embedguard::{Estimate, Limits, OverLimit, Policy, Tokenizer};

const HELP: &str = "\
embedguard: check OpenAI-compatible embeddings requests, count tokens

Usage:
  embedguard check [OPTIONS] FILE|-   check a request body (`-` reads stdin)
  embedguard count [--tokenizer T] FILE...
                                      print each file's token count
  embedguard --help                   print this help

check options:
  --models PATH              the models a gateway serves, from a models file (TOML);
                             default: OpenAI's three, counted in cl100k_base
  --max-inputs N             inputs per request (default 2048)
  --max-input-tokens N       tokens per input (default 8192)
  --max-request-tokens N     tokens per request, summed (default 300000)
  --max-body-bytes N         request body (default 67108864)
  --max-depth N              JSON nesting (default 128)
  --truncate                 cut inputs over the per-input limit instead of rejecting
  --allow-member NAME        let a member OpenAI does not define through (repeatable)
The three --max-input*/--max-inputs/--max-request-tokens limits are the defaults of
models that do not set their own in the models file. 0 means 0.

count options:
  --tokenizer T              cl100k_base (default), estimate, or a tokenizer.json path
                             (HuggingFace; needs the `hf` feature)

check prints one JSON line: {\"status\":200,\"model\":...,\"token_counts\":[...],\"exact\":true,\"usage\":{...}}
for a valid request (\"exact\":false when the model's counts are estimates; \"truncated\":[...]
lists the inputs cut with --truncate), {\"status\":N,\"error\":{...}} (OpenAI's error object)
otherwise. count prints one `TOKENS FILE` line per file.

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
        ["check", rest @ ..] => check(rest),
        ["count", rest @ ..] => count(rest),
        [command, ..] => Err(format!("embedguard: unknown command `{command}`")),
    };
    result.unwrap_or_else(|message| {
        eprintln!("{message}\nRun `embedguard --help` for usage.");
        ExitCode::from(2)
    })
}

/// Options and positional arguments of one command.
struct Args<'a> {
    command: &'static str,
    rest: std::slice::Iter<'a, &'a str>,
}

impl<'a> Args<'a> {
    /// The value of option `flag`.
    fn value(&mut self, flag: &str) -> Result<&'a str, String> {
        self.rest
            .next()
            .copied()
            .ok_or_else(|| format!("embedguard {}: {flag} needs a value", self.command))
    }

    /// The number given to option `flag`.
    fn number(&mut self, flag: &str) -> Result<usize, String> {
        let value = self.value(flag)?;
        value.parse().map_err(|_| {
            format!(
                "embedguard {}: {flag} takes a non-negative integer, not `{value}`",
                self.command
            )
        })
    }
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
    exact: bool,
    usage: embedguard::Usage,
    #[serde(skip_serializing_if = "<[usize]>::is_empty")]
    truncated: &'a [usize],
}

fn check(rest: &[&str]) -> Result<ExitCode, String> {
    let mut args = Args {
        command: "check",
        rest: rest.iter(),
    };
    let mut models = None;
    let mut limits = Limits::openai();
    let mut over_limit = OverLimit::Reject;
    let mut allowed = Vec::new();
    let mut file = None;
    while let Some(&arg) = args.rest.next() {
        match arg {
            "--models" => models = Some(args.value(arg)?),
            "--max-inputs" => limits = limits.with_max_inputs(args.number(arg)?),
            "--max-input-tokens" => limits = limits.with_max_input_tokens(args.number(arg)?),
            "--max-request-tokens" => limits = limits.with_max_request_tokens(args.number(arg)?),
            "--max-body-bytes" => limits = limits.with_max_body_bytes(args.number(arg)?),
            "--max-depth" => limits = limits.with_max_depth(args.number(arg)?),
            "--truncate" => over_limit = OverLimit::Truncate,
            "--allow-member" => allowed.push(args.value(arg)?),
            flag if flag.starts_with("--") => {
                return Err(format!("embedguard check: unknown option `{flag}`"));
            }
            path if file.is_none() => file = Some(path),
            extra => return Err(format!("embedguard check: unexpected argument `{extra}`")),
        }
    }
    let path = file.ok_or("embedguard check: missing FILE (or `-` for stdin)")?;
    let policy = match models {
        None => Policy::openai(),
        Some(models) => models_policy(models)?,
    };
    let policy = allowed
        .into_iter()
        .fold(policy.with_limits(limits), Policy::allow_member)
        .with_over_limit(over_limit);
    let body = read(path)?;
    match policy.check(&body) {
        Ok(checked) => {
            let line = Accepted {
                status: 200,
                model: checked.model(),
                encoding_format: checked.encoding_format().as_str(),
                dimensions: checked.dimensions(),
                token_counts: checked.token_counts(),
                exact: checked.exact(),
                usage: checked.usage(),
                truncated: checked.truncated(),
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

#[cfg(feature = "models")]
fn models_policy(path: &str) -> Result<Policy, String> {
    Policy::from_models_file(path).map_err(|e| format!("embedguard: {e}"))
}

#[cfg(not(feature = "models"))]
fn models_policy(_path: &str) -> Result<Policy, String> {
    Err("embedguard check: --models needs the `models` feature (this build has none)".to_owned())
}

/// The `{...}` inside `{"error":{...}}`, keeping the envelope's key order.
fn error_object(envelope: &str) -> &str {
    envelope
        .strip_prefix(r#"{"error":"#)
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(envelope)
}

fn count(rest: &[&str]) -> Result<ExitCode, String> {
    let mut args = Args {
        command: "count",
        rest: rest.iter(),
    };
    let mut tokenizer: Arc<dyn Tokenizer> = embedguard::cl100k_base();
    let mut paths = Vec::new();
    while let Some(&arg) = args.rest.next() {
        match arg {
            "--tokenizer" => tokenizer = named_tokenizer(args.value(arg)?)?,
            flag if flag.starts_with("--") => {
                return Err(format!("embedguard count: unknown option `{flag}`"));
            }
            path => paths.push(path),
        }
    }
    if paths.is_empty() {
        return Err("embedguard count: missing FILE".to_owned());
    }
    for path in paths {
        let bytes = read(path)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| format!("embedguard: {path}: not UTF-8: {e}"))?;
        println!("{} {path}", tokenizer.count(text));
    }
    Ok(ExitCode::SUCCESS)
}

/// `cl100k_base`, `estimate`, or a `tokenizer.json`.
fn named_tokenizer(name: &str) -> Result<Arc<dyn Tokenizer>, String> {
    match name {
        "cl100k_base" => Ok(embedguard::cl100k_base()),
        "estimate" => Ok(Arc::new(Estimate::new())),
        path => tokenizer_file(path),
    }
}

/// A `tokenizer.json` (HuggingFace), when the build has them.
#[cfg(feature = "hf")]
fn tokenizer_file(path: &str) -> Result<Arc<dyn Tokenizer>, String> {
    match embedguard::HfTokenizer::from_file(path) {
        Ok(tokenizer) => Ok(Arc::new(tokenizer)),
        Err(embedguard::HfError::Read { source, .. }) => {
            Err(format!("embedguard count: {path}: {source}"))
        }
        Err(err) => Err(format!("embedguard count: {path}: {err}")),
    }
}

/// A `tokenizer.json` (HuggingFace), when the build has them.
#[cfg(not(feature = "hf"))]
fn tokenizer_file(path: &str) -> Result<Arc<dyn Tokenizer>, String> {
    Err(format!(
        "embedguard count: {path}: a tokenizer.json needs the `hf` feature (this build has none)"
    ))
}
