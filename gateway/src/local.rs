//! The local upstream: an OpenAI-compatible embeddings server for tests and local use,
//! with faults on request.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use embedguard::{
    EncodingFormat, ErrorKind, Input, KeySet, Limits, MAX_BODY_BYTES, Policy, RequestError,
    ResponseTarget, cl100k, encode_base64, encode_response,
};
use hyper::body::Frame;
use serde::{Deserialize, Serialize};

use crate::answers::{envelope, json};
use crate::serve::{ConnectionLimits, bind, fit_connections, serve};

const ABOUT: &str = "A local OpenAI-compatible embeddings server, for tests and trying a gateway \
without an account.";

const LONG_ABOUT: &str = "A local OpenAI-compatible embeddings server, for tests and trying a \
gateway without an account.

What it is: POST /v1/embeddings checked with embedguard (every error is OpenAI's), answering \
deterministic vectors: each token id (cl100k_base) has a fixed dense pseudo-random direction, \
an input's vector is the sum of its tokens' directions, scaled to unit length. Every vector is \
dense and of unit length at every size (`dimensions` keeps the first n values and rescales, \
as OpenAI's models do); the same input always gets the same bits on every machine; texts that \
share tokens are closer (higher cosine) than texts that share none.

What it is not: a language model. Similarity is shared tokens, not meaning (\"car\" and \
\"automobile\" are unrelated here); do not judge retrieval quality with it.

Faults, for testing a gateway: set at start with the --fault-* options, or at any time with \
POST /faults and a JSON body (fields: latency_ms, status, message, retry_after_ms, endless, \
dimensions, drop_vector, usage [prompt, total], nan, redirect, times: the next n requests \
only); POST /faults {} clears them. A request holding the JSON string \"fault:endless\" \
(e.g. as its `user`) gets the endless body whatever the faults. GET /stats counts the embeddings requests and inputs it \
has answered, and the requests it received (answered or not). It prints `listening on http://ADDR/v1` once it accepts connections.";

/// The local upstream's command line.
#[derive(Debug, Parser)]
#[command(name = "embedguard-upstream", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Most inputs a request may carry; more is a 400.
    #[arg(long, default_value_t = embedguard::MAX_INPUTS)]
    pub max_batch: usize,
    /// Largest request body in bytes; larger is a 413.
    #[arg(long, default_value_t = MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// A key a client must send (repeatable); without any, no key is asked for.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Fault: wait this long before answering.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub fault_latency_ms: u64,
    /// Fault: answer every request with this HTTP status and an error envelope.
    #[arg(long, value_name = "STATUS")]
    pub fault_status: Option<u16>,
    /// Fault: answer 200 with a body that never ends.
    #[arg(long)]
    pub fault_endless: bool,
    /// Fault: answer vectors of this length whatever was asked.
    #[arg(long, value_name = "N")]
    pub fault_dimensions: Option<usize>,
}

/// Faults to simulate; the default is none.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Wait before answering.
    pub latency_ms: u64,
    /// Answer this status with an error envelope.
    pub status: Option<u16>,
    /// The error's `message` (any JSON value) with `status`.
    pub message: Option<serde_json::Value>,
    /// With `status`: `retry-after-ms` (and `retry-after`) headers.
    pub retry_after_ms: Option<u64>,
    /// A 200 whose body never ends.
    pub endless: bool,
    /// Vectors of this length whatever was asked.
    pub dimensions: Option<usize>,
    /// One vector fewer than inputs.
    pub drop_vector: bool,
    /// This usage reported instead of the real one.
    pub usage: Option<(u64, u64)>,
    /// The first vector's first value NaN (base64 answers only; float JSON has no NaN).
    pub nan: bool,
    /// A 307 to this URL.
    pub redirect: Option<String>,
    /// Only the next n embeddings requests; then the faults clear.
    pub times: Option<u64>,
}

struct Server {
    policy: Policy,
    keys: Option<KeySet>,
    faults: Mutex<Faults>,
    requests: AtomicU64,
    inputs: AtomicU64,
    /// Embeddings requests received, answered or not (a caller may hang up first).
    received: AtomicU64,
}

/// Runs the local upstream until the process ends.
pub async fn run(args: Args) -> Result<(), String> {
    let mut keys = None;
    for key in &args.keys {
        let set: KeySet = keys.take().unwrap_or_default();
        keys = Some(set.with_key(key).map_err(|err| err.to_string())?);
    }
    if args.max_batch == 0 {
        return Err("--max-batch must be at least 1".into());
    }
    let limits = Limits::openai()
        .with_max_inputs(args.max_batch)
        .with_max_body_bytes(args.max_body_bytes);
    let faults = Faults {
        latency_ms: args.fault_latency_ms,
        status: args.fault_status,
        endless: args.fault_endless,
        dimensions: args.fault_dimensions,
        ..Faults::default()
    };
    let server = Arc::new(Server {
        policy: Policy::openai().with_limits(limits),
        keys,
        faults: Mutex::new(faults),
        requests: AtomicU64::new(0),
        inputs: AtomicU64::new(0),
        received: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .route("/faults", post(set_faults))
        .route("/stats", get(stats))
        .layer(DefaultBodyLimit::max(args.max_body_bytes.saturating_add(1)))
        .with_state(server);
    let listener = bind(args.listen).await.map_err(|err| err.to_string())?;
    let limits = ConnectionLimits {
        max_connections: fit_connections(4096, 0),
        header_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(30),
        max_head_bytes: 64 * 1024,
    };
    serve(listener, app, limits).await;
    Ok(())
}

async fn set_faults(State(server): State<Arc<Server>>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            *server.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults;
            json(StatusCode::OK, "{}".into())
        }
        Err(err) => json(
            StatusCode::BAD_REQUEST,
            envelope(&err.to_string(), "invalid_request_error", None),
        ),
    }
}

async fn stats(State(server): State<Arc<Server>>) -> Response {
    let body = serde_json::json!({
        "requests": server.requests.load(Ordering::Relaxed),
        "inputs": server.inputs.load(Ordering::Relaxed),
        "received": server.received.load(Ordering::Relaxed),
    });
    json(StatusCode::OK, body.to_string())
}

/// The faults for this request, counting one use of them.
fn take_faults(server: &Server) -> Faults {
    let mut faults = server.faults.lock().unwrap_or_else(|e| e.into_inner());
    let now = faults.clone();
    match faults.times {
        Some(n) if n <= 1 => *faults = Faults::default(),
        Some(n) => faults.times = Some(n - 1),
        None => {}
    }
    now
}

async fn embeddings(
    State(server): State<Arc<Server>>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    server.received.fetch_add(1, Ordering::Relaxed);
    let faults = take_faults(&server);
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    if let Some(url) = &faults.redirect {
        let mut response = json(StatusCode::TEMPORARY_REDIRECT, "{}".into());
        if let Ok(value) = HeaderValue::from_str(url) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        return response;
    }
    if let Some(status) = faults.status {
        return fault_status(status, &faults);
    }
    let body = match body {
        Ok(body) => body,
        Err(_) => {
            let limit = server.policy.limits().max_body_bytes();
            let len = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(limit + 1);
            let err = RequestError::from(ErrorKind::BodyTooLarge { len, limit });
            return error_response(&err);
        }
    };
    // A fault one request can ask for (e.g. as its `user`), so that tests mix it with
    // normal requests.
    if faults.endless || contains(&body, br#""fault:endless""#) {
        return endless();
    }
    // Embedding is CPU work: keep it off the threads that serve connections.
    let worker = Arc::clone(&server);
    let answer = tokio::task::spawn_blocking(move || worker.answer(&headers, &body, &faults)).await;
    match answer {
        Ok(Ok(body)) => json(StatusCode::OK, body),
        Ok(Err(Some(err))) => error_response(&err),
        Ok(Err(None)) | Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            envelope(
                "The server had an error while processing your request.",
                "server_error",
                None,
            ),
        ),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn error_response(err: &RequestError) -> Response {
    json(
        StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST),
        err.to_json(),
    )
}

fn fault_status(status: u16, faults: &Faults) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let kind = if status.is_server_error() {
        "server_error"
    } else {
        "invalid_request_error"
    };
    let message = faults.message.clone().unwrap_or_else(|| {
        serde_json::Value::from(format!(
            "Simulated {} from the local upstream.",
            status.as_u16()
        ))
    });
    let body =
        format!(r#"{{"error":{{"message":{message},"type":"{kind}","param":null,"code":null}}}}"#);
    let mut response = json(status, body);
    if let Some(ms) = faults.retry_after_ms {
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&ms.to_string()) {
            headers.insert("retry-after-ms", value);
        }
        if let Ok(value) = HeaderValue::from_str(&ms.div_ceil(1000).max(1).to_string()) {
            headers.insert(header::RETRY_AFTER, value);
        }
    }
    response
}

/// A body that never ends: the start of a valid answer, then vectors forever.
struct Endless {
    started: bool,
}

impl hyper::body::Body for Endless {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let chunk: &'static [u8] = if self.started {
            br#"{"object":"embedding","index":0,"embedding":"AACAPwAAgD8AAIA/AACAPw=="},"#
        } else {
            self.started = true;
            br#"{"object":"list","data":["#
        };
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(chunk)))))
    }
}

fn endless() -> Response {
    let mut response = Body::new(Endless { started: false }).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl Server {
    fn answer(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        faults: &Faults,
    ) -> Result<String, Option<RequestError>> {
        if let Some(keys) = &self.keys {
            let header = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
            keys.check_header(header).map_err(Some)?;
        }
        let checked = self.policy.check(body).map_err(Some)?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inputs
            .fetch_add(checked.inputs().len() as u64, Ordering::Relaxed);
        let size = faults
            .dimensions
            .unwrap_or(checked.model_spec().native_dimensions());
        let vectors: Vec<Vec<f32>> = checked
            .inputs()
            .iter()
            .map(|input| match input {
                Input::Text(text) => embed(&cl100k().encode(text), size),
                Input::Tokens(ids) => embed(ids, size),
            })
            .collect();
        let target = ResponseTarget::new(checked.model(), size, checked.token_counts())
            .with_encoding_format(checked.encoding_format())
            .with_dimensions(match faults.dimensions {
                Some(_) => None,
                None => checked.dimensions(),
            });
        let format = checked.encoding_format();
        let first = vectors.first().map_or(0, Vec::len);
        // Unit vectors, one per input, of the target's length: nothing to refuse. If that
        // ever broke, the answer is a 500, not a panic.
        let mut answer = encode_response(vectors, &target).map_err(|_| None)?;
        if faults.usage.is_some() || faults.nan || faults.drop_vector {
            let mut value: serde_json::Value =
                serde_json::from_str(&answer).unwrap_or(serde_json::Value::Null);
            if let Some((prompt, total)) = faults.usage {
                value["usage"] =
                    serde_json::json!({"prompt_tokens": prompt, "total_tokens": total});
            }
            if faults.nan && format == EncodingFormat::Base64 && first > 0 {
                let len = match faults.dimensions {
                    Some(_) => first,
                    None => checked.dimensions().unwrap_or(first).min(first),
                };
                let mut nan = vec![0.5f32; len];
                nan[0] = f32::NAN;
                value["data"][0]["embedding"] = serde_json::Value::from(encode_base64(&nan));
            }
            if faults.drop_vector
                && let Some(data) = value["data"].as_array_mut()
            {
                data.pop();
            }
            answer = value.to_string();
        }
        Ok(answer)
    }
}

/// The sum of each token's fixed direction, scaled to unit length: dense at every size,
/// deterministic, and closer for texts that share tokens.
pub fn embed(ids: &[u32], size: usize) -> Vec<f32> {
    let mut sum = vec![0.0f64; size];
    for &id in ids {
        let seed = splitmix64(u64::from(id) ^ ((size as u64) << 32));
        for (i, value) in sum.iter_mut().enumerate() {
            let bits = splitmix64(seed.wrapping_add(i as u64));
            // Uniform in [-1, 1).
            *value += (bits >> 11) as f64 / (1u64 << 52) as f64 - 1.0;
        }
    }
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        // Not reachable for real token sums; a fixed unit vector rather than zeros.
        let mut unit = vec![0.0f32; size];
        if let Some(first) = unit.first_mut() {
            *first = 1.0;
        }
        return unit;
    }
    sum.iter().map(|x| (x / norm) as f32).collect()
}

/// A fixed 64-bit mixer (splitmix64's finalizer): the same vectors on every machine.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
