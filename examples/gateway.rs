//! An embeddings gateway to start from: keys, checks, batch splitting, merging.
//!
//! ```text
//! EMBEDGUARD_UPSTREAM_KEY=sk-... cargo run --release --example gateway -- \
//!     --listen 127.0.0.1:8000 --upstream https://api.openai.com/v1 \
//!     --key sk-gateway-team0001 --key sk-gateway-team0002 --max-batch 96
//! ```
//!
//! `POST /v1/embeddings`, in order:
//! 1. the client's key (`Authorization: Bearer sk-gateway-...`, one of the `--key`s): 401;
//! 2. the body, with embedguard's policy: 413, 400 or 404, in OpenAI's words (with
//!    `--truncate`, an input over 8192 tokens is cut to 8192 instead of rejected, and
//!    the response says which in an `x-embedguard-truncated: 0,5` header);
//! 3. a plan: the inputs split, in order, into calls within the upstream's caps
//!    (`--max-batch` inputs, `--max-tokens` tokens a call); each call asks for base64,
//!    which is compact and converts bit-exactly to either format (with
//!    `--upstream-without-dimensions`, calls leave `dimensions` out and the gateway
//!    shortens the vectors itself);
//! 4. the calls, sent to `URL/embeddings` concurrently, at most `--concurrency` at a time
//!    across all requests, with the upstream's key from `EMBEDGUARD_UPSTREAM_KEY`;
//! 5. the answers merged: indices renumbered to the client's positions, usage summed
//!    (or counted, if the upstream left it out), vectors in the client's format and
//!    `dimensions`, `model` as the client named it.
//!
//! It prints `listening on http://ADDR/v1` once it accepts connections
//! (`--listen 127.0.0.1:0` picks a free port), then one line a request on stderr
//! (never a key).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use embedguard::{
    EncodingFormat, ErrorKind, KeySet, OverLimit, Policy, RequestError, ResponseTarget, Upstream,
    UpstreamPart, merge_responses,
};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;

const USAGE: &str = "usage: gateway --upstream URL --key KEY [--key KEY]... [--listen ADDR] \
[--max-batch N] [--max-tokens N] [--upstream-without-dimensions] [--truncate] \
[--concurrency N] [--timeout SECONDS]
  the upstream's own key, if it needs one, comes from EMBEDGUARD_UPSTREAM_KEY";

/// With `--truncate`: the positions of the inputs that were cut, e.g. `0,5`.
const TRUNCATED_HEADER: &str = "x-embedguard-truncated";

/// The environment variable holding the upstream's key.
const UPSTREAM_KEY_VAR: &str = "EMBEDGUARD_UPSTREAM_KEY";

struct Config {
    listen: SocketAddr,
    policy: Policy,
    upstream_url: String,
    keys: KeySet,
    upstream: Upstream,
    concurrency: usize,
    timeout: Duration,
}

struct Gateway {
    policy: Policy,
    keys: KeySet,
    upstream: Upstream,
    /// `URL/embeddings`.
    endpoint: String,
    /// `Bearer KEY` for the upstream, if it has a key.
    upstream_auth: Option<String>,
    client: reqwest::Client,
    /// Upstream calls in flight, across all requests.
    calls: Semaphore,
}

/// A client-facing error: status and OpenAI's error envelope.
struct Failure {
    status: StatusCode,
    body: String,
}

impl From<RequestError> for Failure {
    fn from(err: RequestError) -> Failure {
        Failure {
            status: StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST),
            body: err.to_json(),
        }
    }
}

impl Failure {
    /// A 502: the upstream failed in a way the client cannot fix.
    fn upstream(message: &str) -> Failure {
        Failure {
            status: StatusCode::BAD_GATEWAY,
            body: envelope(message, "server_error"),
        }
    }
}

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("gateway: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // reqwest speaks TLS with rustls; this example picks ring as rustls' crypto.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder().timeout(config.timeout).build() {
        Ok(client) => client,
        Err(err) => {
            eprintln!("gateway: cannot build the HTTP client: {err}");
            return ExitCode::FAILURE;
        }
    };
    let gateway = Gateway {
        policy: config.policy,
        keys: config.keys,
        upstream: config.upstream,
        endpoint: format!("{}/embeddings", config.upstream_url.trim_end_matches('/')),
        upstream_auth: std::env::var(UPSTREAM_KEY_VAR)
            .ok()
            .filter(|key| !key.is_empty())
            .map(|key| format!("Bearer {key}")),
        client,
        calls: Semaphore::new(config.concurrency),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("gateway: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config.listen, gateway)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gateway: {err}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8000).into();
    let mut upstream_url = None;
    let mut keys = KeySet::new();
    let mut upstream = Upstream::openai().with_encoding_format(Some(EncodingFormat::Base64));
    let mut policy = Policy::openai();
    let mut concurrency = 8;
    let mut timeout = Duration::from_secs(60);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        let number = |text: String| match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{arg} needs a positive integer, not {text}")),
        };
        match arg.as_str() {
            "--listen" => {
                let text = value()?;
                listen = text.parse().map_err(|_| format!("bad address: {text}"))?;
            }
            "--upstream" => upstream_url = Some(value()?),
            // Never echo the key itself.
            "--key" => keys = keys.with_key(&value()?).map_err(|err| err.to_string())?,
            "--max-batch" => upstream = upstream.with_max_inputs_per_call(number(value()?)?),
            "--max-tokens" => upstream = upstream.with_max_tokens_per_call(number(value()?)?),
            "--upstream-without-dimensions" => upstream = upstream.with_dimensions(false),
            "--truncate" => policy = policy.with_over_limit(OverLimit::Truncate),
            "--concurrency" => concurrency = number(value()?)?,
            "--timeout" => timeout = Duration::from_secs(number(value()?)? as u64),
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    let upstream_url = upstream_url.ok_or("--upstream is required")?;
    if !(upstream_url.starts_with("http://") || upstream_url.starts_with("https://")) {
        return Err(format!(
            "--upstream must be an http(s) URL, not {upstream_url}"
        ));
    }
    if keys.is_empty() {
        return Err("at least one --key is required".into());
    }
    Ok(Config {
        listen,
        policy,
        upstream_url,
        keys,
        upstream,
        concurrency,
        timeout,
    })
}

async fn serve(listen: SocketAddr, gateway: Gateway) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = Router::new()
        .route("/v1/embeddings", post(embeddings))
        .fallback(not_found)
        // The policy enforces its own body limit, in OpenAI's shape.
        .layer(DefaultBodyLimit::disable())
        .with_state(Arc::new(gateway));
    println!("listening on http://{}/v1", listener.local_addr()?);
    axum::serve(listener, app).await
}

async fn embeddings(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let (status, body, truncated) = match gateway.answer(&headers, body).await {
        Ok((body, truncated)) => (StatusCode::OK, body, truncated),
        Err(failure) => (failure.status, failure.body, Vec::new()),
    };
    eprintln!(
        "POST /v1/embeddings {} {}ms",
        status.as_u16(),
        started.elapsed().as_millis()
    );
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if !truncated.is_empty() {
        let list: Vec<String> = truncated.iter().map(usize::to_string).collect();
        if let Ok(value) = list.join(",").parse() {
            response.headers_mut().insert(TRUNCATED_HEADER, value);
        }
    }
    response
}

/// OpenAI answers unknown paths with a 404 in its own shape.
async fn not_found(method: axum::http::Method, uri: Uri) -> Response {
    let message = format!("Invalid URL ({method} {})", uri.path());
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        envelope(&message, "invalid_request_error"),
    )
        .into_response()
}

impl Gateway {
    /// The response body, and the positions of the inputs that were cut.
    async fn answer(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<(String, Vec<usize>), Failure> {
        // 1. The key comes before everything else, the body included.
        let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        let key = self.keys.check_header(authorization)?;
        // 2. The body, read up to the policy's limit, then checked.
        let body = read_body(headers, body, self.policy.limits().max_body_bytes()).await?;
        let checked = self.policy.check(&body)?;
        // 3. The calls.
        let plan = self.upstream.plan(&checked)?;
        eprintln!(
            "{key}: {} inputs ({} cut), {} tokens, {} upstream calls",
            checked.inputs().len(),
            checked.truncated().len(),
            checked.usage().total_tokens,
            plan.parts().len()
        );
        // 4. Sent concurrently; answers kept in input order.
        let starts: Vec<usize> = plan.parts().iter().map(|part| part.start()).collect();
        let mut calls = Calls(
            plan.into_parts()
                .into_iter()
                .map(|part| {
                    let gateway = Arc::clone(self);
                    tokio::spawn(async move { gateway.call(part.into_body()).await })
                })
                .collect(),
        );
        let mut bodies = Vec::with_capacity(calls.0.len());
        for call in calls.0.iter_mut() {
            // The first failure answers; dropping `calls` aborts the others.
            let answer = call
                .await
                .unwrap_or_else(|_| Err(Failure::upstream("The upstream call failed.")));
            bodies.push(answer?);
        }
        // 5. Merged and transcoded off the connection threads: it is CPU work. The
        //    owned target outlives the check (and the body it borrows).
        let truncated = checked.truncated().to_vec();
        let target = ResponseTarget::from(&checked).into_owned();
        drop(checked);
        let merged = tokio::task::spawn_blocking(move || {
            let parts: Vec<UpstreamPart<'_>> = starts
                .iter()
                .zip(&bodies)
                .map(|(&start, body)| UpstreamPart::new(start, body))
                .collect();
            merge_responses(&parts, &target).map_err(|err| err.to_string())
        })
        .await;
        match merged {
            Ok(Ok(body)) => Ok((body, truncated)),
            Ok(Err(reason)) => {
                eprintln!("upstream answered an unusable response: {reason}");
                Err(Failure::upstream(
                    "The upstream server returned an invalid response.",
                ))
            }
            Err(_) => Err(Failure::upstream("The upstream call failed.")),
        }
    }

    /// One upstream call, waiting for a free slot first.
    async fn call(&self, body: String) -> Result<Bytes, Failure> {
        let _slot = self
            .calls
            .acquire()
            .await
            .map_err(|_| Failure::upstream("The gateway is shutting down."))?;
        let mut request = self
            .client
            .post(&self.endpoint)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(auth) = &self.upstream_auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = request.send().await.map_err(|err| {
            eprintln!("upstream call failed: {err}");
            Failure::upstream("The gateway could not reach the upstream server.")
        })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|err| {
            eprintln!("upstream answer cut short: {err}");
            Failure::upstream("The upstream server's answer was cut short.")
        })?;
        if status.is_success() {
            return Ok(body);
        }
        eprintln!("upstream answered {status}");
        Err(match status.as_u16() {
            // The gateway's own key or setup is wrong: not the client's doing.
            401 | 403 | 404 => {
                Failure::upstream("The gateway is not set up for the upstream server.")
            }
            // Rate limits and the upstream's own rejections pass through as they are.
            400 | 413 | 422 | 429 if is_error_envelope(&body) => Failure {
                status: StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
                body: String::from_utf8_lossy(&body).into_owned(),
            },
            _ => {
                Failure::upstream("The upstream server had an error while processing your request.")
            }
        })
    }
}

/// A request's upstream calls, aborted if the request goes away (the client hung up, or
/// another call failed) before they finish.
struct Calls(Vec<tokio::task::JoinHandle<Result<Bytes, Failure>>>);

impl Drop for Calls {
    fn drop(&mut self) {
        self.0.iter().for_each(|call| call.abort());
    }
}

/// Reads the body, refusing it in OpenAI's shape (413) once it is over `limit` bytes.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, Failure> {
    let too_large = |len| Failure::from(RequestError::from(ErrorKind::BodyTooLarge { len, limit }));
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared.filter(|&len| len > limit) {
        return Err(too_large(len));
    }
    let mut body = body;
    // Trust a declared length for the first MiB only: a client may claim more than it sends.
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(1 << 20));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failure {
            status: StatusCode::BAD_REQUEST,
            body: envelope(
                "The request body could not be read.",
                "invalid_request_error",
            ),
        })?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                // Without a declared length, report what arrived before stopping.
                return Err(too_large(bytes.len() + data.len()));
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

fn is_error_envelope(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|value| {
        value
            .get("error")
            .is_some_and(|e| e.get("message").is_some())
    })
}

/// `{"error":{"message":…,"type":…,"param":null,"code":null}}`, in OpenAI's member order.
fn envelope(message: &str, kind: &str) -> String {
    let message = serde_json::Value::from(message);
    format!(r#"{{"error":{{"message":{message},"type":"{kind}","param":null,"code":null}}}}"#)
}
