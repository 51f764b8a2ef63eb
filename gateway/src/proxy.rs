//! The gateway: keys, checks, budgets, batch splitting, bounded upstream calls, merging.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::Parser;
use embedguard::{
    Budget, Checked, EncodingFormat, ErrorKind, KeySet, Operation, OverLimit, Plan, Policy,
    RequestError, ResponseTarget, Upstream, UpstreamPart, merge_responses_into,
};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::answers::{Failure, json};
use crate::budgets::{KeyEntry, Owner, RedisStore, Store, Unavailable, read_keys_file};
use crate::ledger::{Entry, Ledger};
use crate::serve::{ConnectionLimits, bind, fit_connections, serve};

const ABOUT: &str = "An OpenAI-compatible embeddings gateway: keys, exact checks, batch splitting, \
merging, with bounded time and memory per client.";

const LONG_ABOUT: &str = "An OpenAI-compatible embeddings gateway built on embedguard.

POST /v1/embeddings, in order: the client's key (401); the body, read up to 64 MiB within \
the in-flight body memory (reserved as its bytes arrive) and within its time (--body-timeout \
plus its length at --min-body-rate, and --deadline; 400 after it), then checked with \
embedguard's policy (413, 400, 404 in OpenAI's words; large bodies are checked off the \
connection threads); a plan: the inputs split, in order, into calls within the upstream's \
caps; the calls, at most --concurrency at a time, asking for base64; the answers checked and \
merged (indices renumbered, usage the gateway's own exact count, vectors in the client's \
format and dimensions).

Every answer is OpenAI's four-key error envelope or a valid embeddings response: unknown \
path 404, wrong method 405, malformed HTTP 400/431, upstream failure 502, deadline 504 (the \
upstream's only: a body still arriving at the deadline is a 400), overload 503, an upstream \
4xx relayed only as a short string message (a 429 with retry-after and retry-after-ms). \
Redirects are never followed. The upstream's own key comes from EMBEDGUARD_UPSTREAM_KEY. It \
prints `listening on http://ADDR/v1` once it accepts connections; logs go to stderr \
(RUST_LOG sets the level), never blocking: a line is dropped rather than a request delayed.

Budgets (--rpm, --tpm, --keys-file): every answer to a key with a budget carries the \
x-ratelimit-* headers, 404 and 405 included; with --budget-per-model only when the body \
names a known model (otherwise there is no one bucket to report). An admitted request is \
refunded when the upstream fails (no answer, 5xx, an invalid answer, the deadline) or when \
it ends before anything was sent upstream; a client that hangs up after the upstream was \
called keeps its charge.";

/// With `--truncate`: the positions of the inputs that were cut, e.g. `0,5`.
pub const TRUNCATED_HEADER: &str = "x-embedguard-truncated";

/// The environment variable holding the upstream's key.
pub const UPSTREAM_KEY_VAR: &str = "EMBEDGUARD_UPSTREAM_KEY";

/// Bodies up to this size are checked on the connection's thread: a check costs about
/// a millisecond per MiB, so this is tens of microseconds.
const INLINE_CHECK_BYTES: usize = 64 * 1024;

/// Bodies may hold this much each without drawing on `--body-memory` (so that small
/// requests are answered even while large bodies hold all of it).
const FREE_BODY_BYTES: usize = 64 * 1024;

/// The gateway's command line.
#[derive(Debug, Parser)]
#[command(name = "embedguard-gateway", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// The upstream's base URL, e.g. https://api.openai.com/v1 (calls go to URL/embeddings).
    #[arg(long, value_name = "URL")]
    pub upstream: String,
    /// A key clients may use, `sk-gateway-` and at least 8 letters or digits (repeatable).
    /// Its owner is `key-1`, `key-2`, ... in the order given (in rate-limit messages, logs
    /// and the ledger); its budget in Redis is named by the key's SHA-256, so replicas share
    /// it whatever order they list their keys in.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// Most inputs one upstream call may carry.
    #[arg(long, default_value_t = embedguard::MAX_INPUTS, value_name = "N")]
    pub max_batch: usize,
    /// Most tokens one upstream call may carry (and, with --truncate, the length inputs
    /// are cut to when it is under 8192).
    #[arg(long, default_value_t = embedguard::MAX_REQUEST_TOKENS, value_name = "N")]
    pub max_tokens: usize,
    /// The upstream's own body limit in bytes: calls are planned to stay within it.
    #[arg(long, value_name = "BYTES")]
    pub upstream_max_body_bytes: Option<usize>,
    /// The upstream does not support `dimensions`: the gateway shortens vectors itself.
    #[arg(long)]
    pub upstream_without_dimensions: bool,
    /// Cut inputs over the per-input limit instead of rejecting them (the response says
    /// which in an x-embedguard-truncated header).
    #[arg(long)]
    pub truncate: bool,
    /// Upstream calls in flight at most, across all requests.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
    /// Time one upstream call may take, answer included (504 after it).
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = seconds)]
    pub timeout: Duration,
    /// Time a whole request may take, from its head to its answer (504 after it).
    #[arg(long, default_value = "60", value_name = "SECONDS", value_parser = seconds)]
    pub deadline: Duration,
    /// Time a request head may take to arrive; also how long an idle connection stays.
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = seconds)]
    pub header_timeout: Duration,
    /// Longest pause while a body arrives (400 after it).
    #[arg(long, default_value = "10", value_name = "SECONDS", value_parser = seconds)]
    pub body_timeout: Duration,
    /// Slowest average rate a body may arrive at, in KiB per second: a whole body must
    /// arrive within --body-timeout plus its length (declared, else the 64 MiB limit) at
    /// this rate, and within --deadline (400 after either), so that a trickling body
    /// cannot hold its request slot and memory.
    #[arg(long, default_value_t = 1024, value_name = "KIB")]
    pub min_body_rate: u64,
    /// Open client connections at most (lowered to fit the open-file limit).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// Requests in flight at most; more are shed with a 503.
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_in_flight: usize,
    /// Memory all request bodies in flight may hold together, in MiB, besides 64 KiB each;
    /// a body that does not fit is shed with a 503.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub body_memory: usize,
    /// Tokens per minute for every key without its own (budgets are per org).
    #[arg(long, value_name = "N")]
    pub tpm: Option<u64>,
    /// Requests per minute for every key without its own.
    #[arg(long, value_name = "N")]
    pub rpm: Option<u64>,
    /// Keys with their owners and budgets: one JSON object a line,
    /// {"key":"sk-gateway-…","org":"team-a","tpm":100000,"rpm":600} (tpm, rpm optional;
    /// "sha256":"<64 hex digits>" instead of "key" keeps only the key's digest).
    #[arg(long, value_name = "FILE")]
    pub keys_file: Option<std::path::PathBuf>,
    /// One budget per org and model (each model gets the whole budget) instead of per org.
    #[arg(long)]
    pub budget_per_model: bool,
    /// Share budgets with every replica through Redis (redis://HOST:PORT); without it,
    /// budgets live in this process.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// When Redis cannot answer: closed refuses the request (503), open admits it and logs.
    #[arg(long, value_enum, default_value_t = Unavailable::Closed)]
    pub redis_unavailable: Unavailable,
    /// Time one Redis step may take.
    #[arg(long, default_value = "0.5", value_name = "SECONDS", value_parser = seconds)]
    pub redis_timeout: Duration,
    /// Append one JSON line per answered request to this file (never the key).
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<std::path::PathBuf>,
}

/// Parses seconds, fractions allowed (`0.5`).
fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "expected a positive number of seconds, not {text:?}"
        )),
    }
}

struct Gateway {
    policy: Policy,
    keys: KeySet,
    upstream: Upstream,
    /// `URL/embeddings`.
    endpoint: String,
    /// `Bearer KEY` for the upstream, if it has a key.
    upstream_auth: Option<HeaderValue>,
    client: reqwest::Client,
    /// Upstream calls in flight, across all requests.
    calls: Arc<Semaphore>,
    /// Bytes of request bodies in flight beyond each one's free allowance.
    body_bytes: Arc<Semaphore>,
    /// Checks of large bodies running at once: one per core.
    checks: Arc<Semaphore>,
    /// Each key's owner and budget, by the key's position in `keys`.
    owners: Vec<Owner>,
    store: Store,
    unavailable: Unavailable,
    /// One budget per key and model instead of per key.
    per_model: bool,
    ledger: Option<Ledger>,
    deadline: Duration,
    body_timeout: Duration,
    /// Bytes per second.
    min_body_rate: u64,
}

/// Runs the gateway until the process ends.
pub async fn run(args: Args) -> Result<(), String> {
    let mut default = Budget::new();
    if let Some(tpm) = args.tpm {
        default = default.with_tokens_per_minute(tpm);
    }
    if let Some(rpm) = args.rpm {
        default = default.with_requests_per_minute(rpm);
    }
    let mut keys = KeySet::new();
    let mut owners = Vec::new();
    for (n, key) in args.keys.iter().enumerate() {
        // Never echo the key itself.
        let org = format!("key-{}", n + 1);
        keys = keys
            .with_named_key(key, &org)
            .map_err(|err| err.to_string())?;
        let digest: String = Sha256::digest(key.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        owners.push(Owner {
            org,
            bucket: format!("sha256:{digest}"),
            budget: default,
        });
    }
    if let Some(path) = &args.keys_file {
        for (key, owner) in read_keys_file(path, default)? {
            keys = match key {
                KeyEntry::Key(key) => keys.with_named_key(&key, &owner.org),
                KeyEntry::Digest(digest) => keys.with_digest(digest, &owner.org),
            }
            .map_err(|err| format!("{}: {err}", path.display()))?;
            owners.push(owner);
        }
    }
    if keys.is_empty() {
        return Err("at least one --key (or a --keys-file) is required".into());
    }
    let store = match &args.redis {
        Some(url) => Store::Redis(RedisStore::new(url, args.redis_timeout)?),
        None => Store::Memory(embedguard::MemoryStore::new()),
    };
    let ledger = args.ledger.as_deref().map(Ledger::open).transpose()?;
    let url = args.upstream.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("--upstream must be an http(s) URL, not {url}"));
    }
    for (name, value) in [
        ("--max-batch", args.max_batch),
        ("--max-tokens", args.max_tokens),
        ("--concurrency", args.concurrency),
        ("--max-connections", args.max_connections),
        ("--max-in-flight", args.max_in_flight),
        ("--min-body-rate", args.min_body_rate as usize),
    ] {
        if value == 0 {
            return Err(format!("{name} must be at least 1"));
        }
    }
    let mut policy = Policy::openai();
    if args.truncate {
        // Cut to what one upstream call can carry when that is the tighter cap.
        let limit = policy.limits().max_input_tokens().min(args.max_tokens);
        let limits = policy.limits().with_max_input_tokens(limit);
        policy = policy
            .with_limits(limits)
            .with_over_limit(OverLimit::Truncate);
    }
    let upstream = Upstream::openai()
        .with_encoding_format(Some(EncodingFormat::Base64))
        .with_max_inputs_per_call(args.max_batch)
        .with_max_tokens_per_call(args.max_tokens)
        .with_max_body_bytes_per_call(args.upstream_max_body_bytes.unwrap_or(usize::MAX))
        .with_dimensions(!args.upstream_without_dimensions);
    // reqwest speaks TLS with rustls; the gateway picks ring as rustls' crypto.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(args.timeout)
        .connect_timeout(args.timeout.min(Duration::from_secs(10)))
        // A redirect would re-post the client's inputs elsewhere: never follow one.
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
    let upstream_auth = std::env::var(UPSTREAM_KEY_VAR)
        .ok()
        .filter(|key| !key.is_empty())
        .map(|key| HeaderValue::from_str(&format!("Bearer {key}")))
        .transpose()
        .map_err(|_| format!("{UPSTREAM_KEY_VAR} is not a valid header value"))?
        .map(|mut value| {
            value.set_sensitive(true);
            value
        });
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let gateway = Arc::new(Gateway {
        policy,
        keys,
        upstream,
        endpoint: format!("{url}/embeddings"),
        upstream_auth,
        client,
        calls: Arc::new(Semaphore::new(args.concurrency)),
        body_bytes: Arc::new(Semaphore::new(
            args.body_memory
                .saturating_mul(1 << 20)
                .min(Semaphore::MAX_PERMITS),
        )),
        checks: Arc::new(Semaphore::new(cores)),
        owners,
        store,
        unavailable: args.redis_unavailable,
        per_model: args.budget_per_model,
        ledger,
        deadline: args.deadline,
        body_timeout: args.body_timeout,
        min_body_rate: args.min_body_rate.saturating_mul(1024),
    });
    let app = router(gateway, &args);
    let listener = bind(args.listen).await.map_err(|err| err.to_string())?;
    let limits = ConnectionLimits {
        max_connections: fit_connections(args.max_connections, args.concurrency),
        header_timeout: args.header_timeout,
        write_timeout: args.body_timeout,
        max_head_bytes: 64 * 1024,
    };
    tracing::info!(
        max_connections = limits.max_connections,
        max_in_flight = args.max_in_flight,
        "gateway started"
    );
    serve(listener, app, limits).await;
    Ok(())
}

fn router(gateway: Arc<Gateway>, args: &Args) -> Router {
    let in_flight = Arc::new(Semaphore::new(args.max_in_flight));
    let shedding = Arc::clone(&gateway);
    let tower_error = move |method: Method, uri: Uri, headers: HeaderMap, err: BoxError| {
        let gateway = Arc::clone(&shedding);
        async move { tower_error(&gateway, method, uri, &headers, err).await }
    };
    Router::new()
        .route("/v1/embeddings", post(embeddings))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(gateway)
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(tower_error))
                // Beyond --max-in-flight, shed at once rather than queue.
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(in_flight))
                .layer(RequestBodyTimeoutLayer::new(args.body_timeout)),
        )
}

/// The answers of the layers: shed (503). (The deadline is the handler's: only it knows
/// whether the body or the upstream was late.) The key is checked first even then (401),
/// and a key with a budget gets its headers, as on every answer: a read of its bucket,
/// nothing charged.
async fn tower_error(
    gateway: &Gateway,
    method: Method,
    uri: Uri,
    headers: &HeaderMap,
    err: BoxError,
) -> Response {
    let failure = if err.is::<tower::load_shed::error::Overloaded>() {
        Failure::overloaded()
    } else {
        Failure::upstream()
    };
    tracing::warn!(
        status = failure.status.as_u16(),
        path = %crate::answers::echo(uri.path()),
        "{}: {err}",
        crate::answers::echo(method.as_str())
    );
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if let Err(err) = gateway.keys.check_header(authorization) {
        return rejected(err, &mut Facts::default()).into_response();
    }
    gateway.with_budget_headers(headers, failure).await
}

async fn not_found(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let failure = Failure::not_found(&method, uri.path());
    gateway.with_budget_headers(&headers, failure).await
}

async fn method_not_allowed(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let failure = Failure::method_not_allowed(&method, uri.path());
    gateway.with_budget_headers(&headers, failure).await
}

/// What a log line and the ledger say about a request (never a key, never input text).
#[derive(Default)]
struct Facts {
    key: Option<usize>,
    model: Option<String>,
    inputs: usize,
    tokens: usize,
    truncated: usize,
    calls: usize,
    upstream_ms: u128,
    reason: Option<String>,
    outcome: Option<&'static str>,
    /// Whether `tokens` is an exact count.
    exact: bool,
    /// The usage the client was answered, when it may differ from the estimate.
    settled: Option<usize>,
    /// The budget's headers, for a key with a budget.
    headers: Vec<(&'static str, String)>,
    /// Whether the whole body has arrived (past the deadline, a body still arriving is
    /// the client's fault, a 400, not the upstream's 504).
    body_received: bool,
    /// When the request's deadline passes.
    deadline_at: Option<Instant>,
}

/// A request being answered: logged and written to the ledger when it ends, also when
/// the deadline (or the client hanging up) ends it before an answer.
struct Record {
    gateway: Arc<Gateway>,
    started: Instant,
    facts: Facts,
    status: Option<StatusCode>,
}

impl Drop for Record {
    fn drop(&mut self) {
        let facts = &self.facts;
        let (status, outcome) = match self.status {
            Some(status) => (
                status.as_u16(),
                facts.outcome.unwrap_or(match status.as_u16() {
                    200 => "ok",
                    429 => "rate_limited",
                    502 | 504 => "upstream_failed",
                    503 => "shed",
                    _ => "rejected",
                }),
            ),
            None if self.started.elapsed() >= self.gateway.deadline => (504, "timeout"),
            // The client hung up before its answer (nginx's 499).
            None => (499, "client_gone"),
        };
        let org = facts
            .key
            .and_then(|key| self.gateway.owners.get(key))
            .map(|owner| owner.org.clone());
        tracing::info!(
            status,
            ms = self.started.elapsed().as_millis() as u64,
            key = org.as_deref().unwrap_or("-"),
            inputs = facts.inputs,
            tokens = facts.tokens,
            truncated = facts.truncated,
            calls = facts.calls,
            upstream_ms = facts.upstream_ms as u64,
            reason = facts.reason.as_deref().unwrap_or(""),
            "POST /v1/embeddings"
        );
        if let Some(ledger) = &self.gateway.ledger {
            ledger.record(Entry {
                time_ms: crate::ledger::now_ms(),
                key: org,
                model: facts.model.clone(),
                inputs: facts.inputs,
                tokens: facts.settled.unwrap_or(facts.tokens),
                exact: facts.exact,
                status,
                outcome,
                upstream_ms: facts.upstream_ms as u64,
            });
        }
    }
}

async fn embeddings(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let mut record = Record {
        gateway: Arc::clone(&gateway),
        started,
        facts: Facts {
            deadline_at: started.checked_add(gateway.deadline),
            ..Facts::default()
        },
        status: None,
    };
    let answer = gateway.answer(&headers, body, &mut record.facts);
    let answer = match tokio::time::timeout(gateway.deadline, answer).await {
        Ok(answer) => answer,
        Err(_) => Err(gateway.past_deadline(&mut record.facts).await),
    };
    let mut response = match answer {
        Ok((body, truncated)) => {
            let mut response = json(StatusCode::OK, body);
            if !truncated.is_empty() {
                let list: Vec<String> = truncated.iter().map(usize::to_string).collect();
                if let Ok(value) = HeaderValue::from_str(&list.join(",")) {
                    response.headers_mut().insert(TRUNCATED_HEADER, value);
                }
            }
            response
        }
        Err(failure) => failure.into_response(),
    };
    for (name, value) in record.facts.headers.drain(..) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    record.status = Some(response.status());
    response
}

/// An admitted request's charge: refunded if the upstream fails. Dropped unanswered, it
/// is refunded only when nothing was sent upstream yet or the deadline ended it (the
/// upstream did not answer in time); a client that hangs up after the upstream was
/// called keeps its charge, since the call may have cost money.
struct Charge {
    gateway: Arc<Gateway>,
    key: usize,
    /// The bucket charged: the org, or the org and the model.
    bucket: String,
    tokens: u64,
    armed: bool,
    /// Set just before the first upstream call is sent.
    upstream_called: Arc<AtomicBool>,
    /// The request's deadline: dropped past it, the upstream was late.
    deadline_at: Option<Instant>,
}

impl Charge {
    fn owner(&self) -> &Owner {
        &self.gateway.owners[self.key]
    }

    /// Gives the charge back; the buckets after, for the headers.
    async fn refund(mut self) -> Option<embedguard::Decision> {
        self.armed = false;
        let owner = self.owner();
        let refund = Operation::Refund {
            tokens: self.tokens,
        };
        match self
            .gateway
            .store
            .apply(&self.bucket, &owner.budget, refund)
            .await
        {
            Ok(decision) => Some(decision),
            Err(reason) => {
                tracing::warn!(org = %owner.org, "refund lost: {reason}");
                None
            }
        }
    }

    /// Settles an estimated charge against the upstream's usage.
    async fn settle(mut self, actual: u64) {
        self.armed = false;
        let owner = self.owner();
        let settle = Operation::Settle {
            estimated: self.tokens,
            actual,
        };
        if let Err(reason) = self
            .gateway
            .store
            .apply(&self.bucket, &owner.budget, settle)
            .await
        {
            tracing::warn!(org = %owner.org, "settlement lost: {reason}");
        }
    }

    fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        let upstream_late = self
            .deadline_at
            .is_some_and(|deadline| Instant::now() >= deadline);
        if !self.armed || (self.upstream_called.load(Ordering::Acquire) && !upstream_late) {
            return;
        }
        // Outside a runtime (shutting down) there is nothing left to refund to.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let gateway = Arc::clone(&self.gateway);
        let (key, tokens, bucket) = (self.key, self.tokens, std::mem::take(&mut self.bucket));
        runtime.spawn(async move {
            let owner = &gateway.owners[key];
            let refund = Operation::Refund { tokens };
            if let Err(reason) = gateway.store.apply(&bucket, &owner.budget, refund).await {
                tracing::warn!(org = %owner.org, "refund lost: {reason}");
            }
        });
    }
}

impl Gateway {
    /// The response body and the positions of the inputs that were cut.
    async fn answer(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: Body,
        facts: &mut Facts,
    ) -> Result<(String, Vec<usize>), Failure> {
        // 1. The key comes before everything else, the body included.
        let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        let key = self
            .keys
            .check_header(authorization)
            .map_err(|err| rejected(err, facts))?
            .index();
        facts.key = Some(key);
        let checked = match self.checked(headers, body, facts).await {
            Ok(checked) => checked,
            Err(failure) => {
                // Every answer to a key with a budget carries its headers.
                let model = facts.model.clone();
                self.peek(key, model.as_deref(), facts).await;
                return Err(failure);
            }
        };
        let (checked, plan, _held) = checked;
        // 4. The budget: only a valid request is charged.
        let upstream_called = Arc::new(AtomicBool::new(false));
        let charge = self.admit(key, &checked, &upstream_called, facts).await?;
        let result = self.forward(checked, plan, &upstream_called, facts).await;
        if let Some(charge) = charge {
            match &result {
                Err(failure) if matches!(failure.status.as_u16(), 502 | 504) => {
                    if let Some(decision) = charge.refund().await {
                        facts.headers = decision.headers();
                    }
                }
                Ok(_) if !facts.exact => {
                    // An estimate: settle the charge against the usage answered.
                    let actual = facts.settled.unwrap_or(facts.tokens) as u64;
                    charge.settle(actual).await;
                }
                _ => charge.keep(),
            }
        }
        result
    }

    /// 2-3. The body, read within the memory bounds, checked, and planned.
    async fn checked(
        self: &Arc<Self>,
        headers: &HeaderMap,
        body: Body,
        facts: &mut Facts,
    ) -> Result<(Checked<'static>, Plan, Option<OwnedSemaphorePermit>), Failure> {
        let (body, held) = self.read_body(headers, body, facts).await?;
        let body = Arc::new(body);
        let checked = match self.check(Arc::clone(&body), facts).await {
            Ok(checked) => checked,
            Err(failure) => {
                if self.per_model {
                    // For the per-model budget's headers (error path only: a second parse).
                    facts.model = model_named(&body);
                }
                return Err(failure);
            }
        };
        drop(body);
        facts.model = Some(checked.model().to_owned());
        facts.inputs = checked.inputs().len();
        facts.tokens = checked.usage().total_tokens;
        facts.exact = checked.exact();
        facts.truncated = checked.truncated().len();
        let plan = self.plan(&checked).map_err(|err| rejected(err, facts))?;
        facts.calls = plan.parts().len();
        Ok((checked, plan, held))
    }

    /// The budget's headers without a charge, for an answer that is not charged. With
    /// `--budget-per-model` they need a model the policy knows (`model`); without one
    /// (no model, an unknown one, a body that does not parse, a 404 or 405) there is no
    /// one bucket and the answer carries none.
    async fn peek(&self, key: usize, model: Option<&str>, facts: &mut Facts) {
        let owner = &self.owners[key];
        if owner.budget.is_unlimited() {
            return;
        }
        let bucket = if self.per_model {
            let Some(spec) = model.and_then(|name| self.policy.model(name)) else {
                return;
            };
            format!("{}/{}", owner.bucket, spec.name())
        } else {
            owner.bucket.clone()
        };
        // Settling nothing against nothing changes no bucket: a read.
        let read = Operation::Settle {
            estimated: 0,
            actual: 0,
        };
        if let Ok(decision) = self.store.apply(&bucket, &owner.budget, read).await {
            facts.headers = decision.headers();
        }
    }

    /// A 404, 405 or shed 503 answer, with the budget's headers when it carries a valid key.
    async fn with_budget_headers(&self, headers: &HeaderMap, failure: Failure) -> Response {
        let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
        let mut facts = Facts::default();
        if let Ok(key) = self.keys.check_header(authorization) {
            self.peek(key.index(), None, &mut facts).await;
        }
        let mut response = failure.into_response();
        for (name, value) in facts.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }

    /// Takes the request's charge from its key's budget, or refuses it (429); `None`
    /// when the key has no budget or Redis is down and the gateway fails open.
    async fn admit(
        self: &Arc<Self>,
        key: usize,
        checked: &Checked<'_>,
        upstream_called: &Arc<AtomicBool>,
        facts: &mut Facts,
    ) -> Result<Option<Charge>, Failure> {
        let owner = &self.owners[key];
        if owner.budget.is_unlimited() {
            return Ok(None);
        }
        let tokens = checked.usage().total_tokens as u64;
        let admit = Operation::Admit { tokens };
        let bucket = if self.per_model {
            format!("{}/{}", owner.bucket, checked.model_spec().name())
        } else {
            owner.bucket.clone()
        };
        match self.store.apply(&bucket, &owner.budget, admit).await {
            Ok(decision) => {
                facts.headers = decision.headers();
                if let Some(err) = decision.error(checked.model(), &owner.org) {
                    return Err(rejected(err, facts));
                }
                Ok(Some(Charge {
                    gateway: Arc::clone(self),
                    key,
                    bucket,
                    tokens,
                    armed: true,
                    upstream_called: Arc::clone(upstream_called),
                    deadline_at: facts.deadline_at,
                }))
            }
            Err(reason) => match self.unavailable {
                Unavailable::Closed => {
                    facts.reason = Some(format!("budget store unavailable (closed): {reason}"));
                    Err(Failure::overloaded())
                }
                Unavailable::Open => {
                    tracing::warn!(org = %owner.org, tokens, "admitted without a budget (open): {reason}");
                    facts.reason = Some("admitted without a budget (open)".into());
                    Ok(None)
                }
            },
        }
    }

    /// 5-6. The calls, then the answers merged.
    async fn forward(
        self: &Arc<Self>,
        checked: Checked<'static>,
        plan: Plan,
        upstream_called: &Arc<AtomicBool>,
        facts: &mut Facts,
    ) -> Result<(String, Vec<usize>), Failure> {
        let native = checked.model_spec().native_dimensions();
        let dims = match plan.shorten_to() {
            Some(_) => native,
            None => checked.dimensions().unwrap_or(native),
        };
        let upstream_started = Instant::now();
        let starts: Vec<usize> = plan.parts().iter().map(|part| part.start()).collect();
        let mut calls = Calls(
            plan.into_parts()
                .into_iter()
                .map(|part| {
                    let gateway = Arc::clone(self);
                    let cap = answer_cap(part.len(), dims);
                    let called = Arc::clone(upstream_called);
                    tokio::spawn(async move { gateway.call(part.into_body(), cap, &called).await })
                })
                .collect(),
        );
        let mut bodies = Vec::with_capacity(calls.0.len());
        for call in calls.0.iter_mut() {
            // The first failure answers; dropping `calls` aborts the others.
            let answer = call
                .await
                .unwrap_or_else(|_| Err((Failure::upstream(), "the call's task failed".into())));
            match answer {
                Ok(body) => bodies.push(body),
                Err((failure, reason)) => {
                    facts.upstream_ms = upstream_started.elapsed().as_millis();
                    facts.reason = Some(reason);
                    return Err(failure);
                }
            }
        }
        facts.upstream_ms = upstream_started.elapsed().as_millis();
        // Merged off the connection threads: it is CPU work.
        let truncated = checked.truncated().to_vec();
        let target = ResponseTarget::from(&checked).into_owned();
        drop(checked);
        let merged = tokio::task::spawn_blocking(move || {
            let parts: Vec<UpstreamPart<'_>> = starts
                .iter()
                .zip(&bodies)
                .map(|(&start, body)| UpstreamPart::new(start, body))
                .collect();
            let mut out = String::new();
            merge_responses_into(&parts, &target, &mut out)
                .map(|usage| (out, usage))
                .map_err(|err| err.to_string())
        })
        .await;
        match merged {
            Ok(Ok((body, usage))) => {
                facts.settled = Some(usage.total_tokens);
                Ok((body, truncated))
            }
            Ok(Err(reason)) => {
                facts.reason = Some(format!("the upstream's answer is not usable: {reason}"));
                Err(Failure::upstream())
            }
            Err(_) => {
                facts.reason = Some("the merge failed".into());
                Err(Failure::upstream())
            }
        }
    }

    /// Reads the body, refusing it in OpenAI's shape (413) once it is over the policy's
    /// limit, shedding it (503) when the bodies in flight hold all the memory allowed,
    /// and cutting it off (400) when it does not arrive within its time (see
    /// `--min-body-rate`). The permit returned holds this body's share until the request
    /// ends; it grows with the bytes received, so a body that declares a large length
    /// and trickles holds no more than it sent.
    async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        facts: &mut Facts,
    ) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), Failure> {
        let limit = self.policy.limits().max_body_bytes();
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if let Some(len) = declared.filter(|&len| len > limit) {
            return Err(rejected(too_large(len, limit), facts));
        }
        let expected = declared.unwrap_or(limit) as u64;
        let transfer =
            Duration::from_millis(expected.saturating_mul(1000) / self.min_body_rate.max(1));
        let allowed = self.body_timeout.saturating_add(transfer);
        match tokio::time::timeout(allowed, self.receive(body, declared, facts)).await {
            Ok(received) => received,
            Err(_) => {
                facts.reason = Some(format!(
                    "the body did not arrive within {} ms",
                    allowed.as_millis()
                ));
                Err(Failure::malformed(StatusCode::BAD_REQUEST))
            }
        }
    }

    /// The body's bytes, with the memory reserved for them as they arrive.
    async fn receive(
        &self,
        mut body: Body,
        declared: Option<usize>,
        facts: &mut Facts,
    ) -> Result<(Vec<u8>, Option<OwnedSemaphorePermit>), Failure> {
        let limit = self.policy.limits().max_body_bytes();
        let mut held: Option<OwnedSemaphorePermit> = None;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(FREE_BODY_BYTES));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| {
                facts.reason = Some(format!("the body could not be read: {err}"));
                Failure::malformed(StatusCode::BAD_REQUEST)
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let total = bytes.len() + data.len();
            if total > limit {
                // Without a declared length, report what arrived before stopping.
                return Err(rejected(too_large(total, limit), facts));
            }
            let reserved = self.reserve(&mut held, total, limit).inspect_err(|_| {
                facts.reason = Some("body memory exhausted".into());
            })?;
            if bytes.capacity() < total {
                // Allocate only what is reserved (never past the declared length), not
                // the doubling a Vec would.
                let room = reserved
                    .saturating_add(FREE_BODY_BYTES)
                    .min(declared.unwrap_or(usize::MAX))
                    .max(total);
                bytes.reserve_exact(room - bytes.len());
            }
            bytes.extend_from_slice(&data);
        }
        facts.body_received = true;
        Ok((bytes, held))
    }

    /// Grows `held` to cover a body of `total` bytes beyond its free allowance, in steps
    /// of at least 1 MiB within the limit; the bytes reserved after, or a 503.
    fn reserve(
        &self,
        held: &mut Option<OwnedSemaphorePermit>,
        total: usize,
        limit: usize,
    ) -> Result<usize, Failure> {
        let want = total.saturating_sub(FREE_BODY_BYTES);
        let have = held.as_ref().map_or(0, |p| p.num_permits());
        if want <= have {
            return Ok(have);
        }
        let step = (want - have)
            .max(1 << 20)
            .min(limit.saturating_sub(have).max(want - have));
        let permits = u32::try_from(step).map_err(|_| Failure::overloaded())?;
        let permit = Arc::clone(&self.body_bytes)
            .try_acquire_many_owned(permits)
            .map_err(|_| Failure::overloaded())?;
        match held.as_mut() {
            Some(held) => held.merge(permit),
            None => *held = Some(permit),
        }
        Ok(have + step)
    }

    /// The answer once the deadline passed: a body still arriving is the client's fault
    /// (400, as a body cut short); otherwise the upstream did not answer in time (504).
    async fn past_deadline(&self, facts: &mut Facts) -> Failure {
        let failure = if facts.body_received {
            facts.reason = Some("the upstream did not answer within the deadline".into());
            Failure::timeout()
        } else {
            facts.reason = Some("the body did not arrive within the deadline".into());
            Failure::malformed(StatusCode::BAD_REQUEST)
        };
        if facts.headers.is_empty()
            && let Some(key) = facts.key
        {
            let model = facts.model.clone();
            self.peek(key, model.as_deref(), facts).await;
        }
        failure
    }

    /// The policy's check, off the connection threads for large bodies (one per core at a
    /// time), giving an owned check.
    async fn check(
        self: &Arc<Self>,
        body: Arc<Vec<u8>>,
        facts: &mut Facts,
    ) -> Result<Checked<'static>, Failure> {
        if body.len() <= INLINE_CHECK_BYTES {
            return self
                .policy
                .check(&body)
                .map(Checked::into_owned)
                .map_err(|err| rejected(err, facts));
        }
        let _core = Arc::clone(&self.checks).acquire_owned().await;
        let gateway = Arc::clone(self);
        let checked = tokio::task::spawn_blocking(move || {
            gateway.policy.check(&body).map(Checked::into_owned)
        })
        .await;
        match checked {
            Ok(checked) => checked.map_err(|err| rejected(err, facts)),
            // A check never panics; if one did, this request fails, not the gateway.
            Err(err) => {
                facts.reason = Some(format!("the check's task failed: {err}"));
                Err(Failure::internal())
            }
        }
    }

    /// The calls, each within the upstream's caps (inputs, tokens, body bytes).
    fn plan(&self, checked: &Checked<'_>) -> Result<Plan, RequestError> {
        self.upstream.plan(checked)
    }

    /// One upstream call, waiting for a free slot first; on failure, the client's answer
    /// and the cause for the log.
    async fn call(
        &self,
        body: String,
        cap: usize,
        upstream_called: &AtomicBool,
    ) -> Result<Bytes, (Failure, String)> {
        let _slot = Arc::clone(&self.calls)
            .acquire_owned()
            .await
            .map_err(|_| (Failure::upstream(), "shutting down".to_owned()))?;
        let mut request = self
            .client
            .post(&self.endpoint)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(auth) = &self.upstream_auth {
            request = request.header(header::AUTHORIZATION, auth.clone());
        }
        // From here the call may cost money: a client hanging up no longer refunds it.
        upstream_called.store(true, Ordering::Release);
        let mut response = request.send().await.map_err(|err| transport(&err))?;
        let status = response.status();
        let retry = (status == StatusCode::TOO_MANY_REQUESTS)
            .then(|| crate::answers::retry_after(response.headers()));
        // Error answers are short; a valid answer is at most `cap`.
        let cap = if status.is_success() { cap } else { 64 * 1024 };
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            return Err((
                Failure::upstream(),
                format!("upstream answered {status} declaring more than {cap} bytes"),
            ));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| transport(&err))? {
            if bytes.len() + chunk.len() > cap {
                let failure = if status.is_success() {
                    Failure::upstream()
                } else {
                    // An error answer too long to relay.
                    Failure::upstream()
                };
                return Err((
                    failure,
                    format!("upstream answered {status} with more than {cap} bytes"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Ok(Bytes::from(bytes));
        }
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
        let failure = if status.is_client_error() {
            let mut failure = Failure::relayed(status, &bytes);
            if failure.status == status {
                failure.headers = retry.unwrap_or_default();
            }
            failure
        } else {
            Failure::upstream()
        };
        let why = if status.is_redirection() {
            " (redirects are never followed)"
        } else {
            ""
        };
        Err((
            failure,
            format!("upstream answered {status}{why}: {shown:?}"),
        ))
    }
}

/// The client's answer to a transport failure, and its cause for the log.
fn transport(err: &reqwest::Error) -> (Failure, String) {
    let mut cause = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        cause.push_str(": ");
        cause.push_str(&inner.to_string());
        source = inner.source();
    }
    let failure = if err.is_timeout() {
        Failure::timeout()
    } else {
        Failure::upstream()
    };
    (failure, format!("upstream call failed: {cause}"))
}

/// The `model` a body names, when it is a JSON object with a string `model`.
fn model_named(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        model: Option<String>,
    }
    serde_json::from_slice::<Named>(body).ok()?.model
}

/// The 413 for a body of `len` bytes.
fn too_large(len: usize, limit: usize) -> RequestError {
    RequestError::from(ErrorKind::BodyTooLarge { len, limit })
}

/// A rejected request: the reason kept for the log, the error for the client.
fn rejected(err: RequestError, facts: &mut Facts) -> Failure {
    facts.reason = Some(format!("{:?}", err.kind()));
    Failure::from(err)
}

/// The most bytes a valid answer to `inputs` vectors of `dims` values can take, in float
/// JSON (the larger form, in case the upstream ignores base64): 16 bytes a value at most,
/// plus each item's framing and the envelope.
fn answer_cap(inputs: usize, dims: usize) -> usize {
    inputs
        .saturating_mul(dims.saturating_mul(16).saturating_add(256))
        .saturating_add(64 * 1024)
}

/// A request's upstream calls, aborted if the request goes away (the client hung up, the
/// deadline passed, or another call failed) before they finish.
struct Calls(Vec<tokio::task::JoinHandle<Result<Bytes, (Failure, String)>>>);

impl Drop for Calls {
    fn drop(&mut self) {
        self.0.iter().for_each(|call| call.abort());
    }
}
