//! A small OpenAI-compatible embeddings server, for local use and tests.
//!
//! ```text
//! cargo run --release --example upstream -- --listen 127.0.0.1:8080 --max-batch 96
//! ```
//!
//! It serves `POST /v1/embeddings` and prints `listening on http://ADDR/v1` once it
//! accepts connections (`--listen 127.0.0.1:0` picks a free port). Requests are checked
//! with embedguard, so every error is OpenAI's; a batch of more than `--max-batch` inputs
//! is a 400. With `--key KEY` (repeatable) it asks for one of those keys, as OpenAI does.
//!
//! Vectors are deterministic: feature hashing of the input's cl100k_base token ids into
//! the model's native size, then unit L2 norm; `dimensions` shortens them as OpenAI's
//! models do (first n values, unit norm) and `encoding_format` is honoured, with usage.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use embedguard::{
    Input, KeySet, Limits, MAX_BODY_BYTES, Policy, RequestError, ResponseTarget, cl100k,
    encode_response,
};

const USAGE: &str = "usage: upstream [--listen ADDR] [--max-batch N] [--key KEY]...";

struct Server {
    policy: Policy,
    keys: Option<KeySet>,
}

fn main() -> ExitCode {
    let server = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("upstream: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let (listen, server) = server;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("upstream: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(listen, server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("upstream: {err}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, Server), String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut max_batch = embedguard::MAX_INPUTS;
    let mut keys: Option<KeySet> = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => {
                let text = value()?;
                listen = text.parse().map_err(|_| format!("bad address: {text}"))?;
            }
            "--max-batch" => {
                let text = value()?;
                max_batch = match text.parse() {
                    Ok(n) if n > 0 => n,
                    _ => return Err(format!("bad --max-batch: {text}")),
                };
            }
            "--key" => {
                let key = value()?;
                let set = keys.take().unwrap_or_default();
                keys = Some(set.with_key(&key).map_err(|err| err.to_string())?);
            }
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    let policy = Policy::openai().with_limits(Limits::openai().with_max_inputs(max_batch));
    Ok((listen, Server { policy, keys }))
}

async fn serve(listen: SocketAddr, server: Server) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(server));
    println!("listening on http://{}/v1", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn embeddings(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Embedding is CPU work: keep it off the threads that serve connections.
    let answer = tokio::task::spawn_blocking(move || server.answer(&headers, &body)).await;
    match answer {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(err)) => json(
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST),
            err.to_json(),
        ),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#.into(),
        ),
    }
}

impl Server {
    fn answer(&self, headers: &HeaderMap, body: &[u8]) -> Result<String, RequestError> {
        if let Some(keys) = &self.keys {
            let header = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
            keys.check_header(header)?;
        }
        let checked = self.policy.check(body)?;
        let native = checked.model_spec().native_dimensions();
        let vectors = checked.inputs().iter().map(|input| match input {
            Input::Text(text) => embed(&cl100k().encode(text), native),
            Input::Tokens(ids) => embed(ids, native),
        });
        // Hashed unit vectors are finite, and there is one per input.
        let target = ResponseTarget::from(&checked);
        Ok(encode_response(vectors, &target).expect("finite vectors, one per input"))
    }
}

/// Feature hashing: each token id adds +1 or -1 at a hashed position; then unit norm.
fn embed(ids: &[u32], size: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; size];
    for &id in ids {
        let hash = splitmix64(u64::from(id));
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[(hash % size as u64) as usize] += sign;
    }
    let norm = vector
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        vector
            .iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
    vector
}

/// A fixed 64-bit mixer (splitmix64's finalizer): the same vectors on every machine.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
