//! Feature `axum`: the `CheckedRequest` extractor and `IntoResponse`, through a real
//! `Router` with `tower::ServiceExt::oneshot` (no network).
//!
//! Run with `cargo test --release --features axum --test axum`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use embedguard::{
    Checked, CheckedRequest, Guard, GuardRejection, KeyId, KeySet, Limits, Policy, RequestError,
};
use http_body::Frame;
use http_body_util::BodyExt;
use tower::ServiceExt;

const KEY: &str = "sk-gateway-team0001";
const MISSING: &str = r#"{"error":{"message":"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).","type":"invalid_request_error","param":null,"code":null}}"#;
const UNREADABLE: &str = r#"{"error":{"message":"We could not parse your request. Please check the HTTP headers and body.","type":"invalid_request_error","param":null,"code":null}}"#;

fn guard(policy: Policy) -> Arc<Guard> {
    let keys = KeySet::new()
        .with_named_key(KEY, "team one")
        .expect("well-formed key");
    Arc::new(Guard::new(policy, keys))
}

/// The handler moves the owned check across a `spawn_blocking`, `.await` points and
/// into another task, then answers with what it found there.
async fn embeddings(request: CheckedRequest) -> String {
    let (key, checked) = request.into_parts();
    let checked: Checked<'static> = tokio::task::spawn_blocking(move || checked)
        .await
        .expect("the blocking task ran");
    tokio::task::yield_now().await;
    let task = tokio::spawn(async move {
        tokio::task::yield_now().await;
        let counts = checked.token_counts();
        format!(
            "{} {} {} {}",
            key.name(),
            checked.model(),
            counts.len(),
            checked.usage().total_tokens
        )
    });
    task.await.expect("the task ran")
}

fn app(policy: Policy) -> Router {
    Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(guard(policy))
}

fn request(authorization: Option<&str>, body: Body) -> Request<Body> {
    let mut builder = Request::post("/v1/embeddings");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(body).expect("a valid request")
}

async fn send(app: Router, request: Request<Body>) -> (StatusCode, Option<HeaderValue>, String) {
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a readable body")
        .to_bytes();
    let body = String::from_utf8(body.to_vec()).expect("UTF-8");
    (status, content_type, body)
}

fn assert_envelope(answer: &(StatusCode, Option<HeaderValue>, String), status: u16, json: &str) {
    assert_eq!(answer.0.as_u16(), status, "{}", answer.2);
    assert_eq!(
        answer.1.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(answer.2, json);
}

/// A body of `inputs` token arrays of `ids` ids each, 5-digit ids (all valid cl100k ids)
/// separated by `sep`.
fn token_arrays(inputs: usize, ids: usize, sep: &str) -> Vec<u8> {
    let mut body = br#"{"model":"text-embedding-3-small","input":["#.to_vec();
    let mut id = 10_000u32;
    for i in 0..inputs {
        if i > 0 {
            body.push(b',');
        }
        body.push(b'[');
        for j in 0..ids {
            if j > 0 {
                body.extend_from_slice(sep.as_bytes());
            }
            body.extend_from_slice(id.to_string().as_bytes());
            id = if id == 99_999 { 10_000 } else { id + 1 };
        }
        body.push(b']');
    }
    body.extend_from_slice(b"]}");
    body
}

/// A policy for a self-hosted model: no per-request token cap, OpenAI's other limits
/// (the 64 MiB body limit among them).
fn uncapped() -> Policy {
    Policy::openai().with_limits(Limits::openai().with_max_request_tokens(usize::MAX))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_request_reaches_the_handler_with_its_key() {
    let body = br#"{"model":"text-embedding-3-small","input":["hello world","h"]}"#;
    let answer = send(
        app(Policy::openai()),
        request(Some(&format!("Bearer {KEY}")), Body::from(&body[..])),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK);
    assert_eq!(answer.2, "team one text-embedding-3-small 2 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_60_mib_body_passes_the_extractor() {
    // 2048 arrays of 5100 ids: 10,444,800 tokens, a little under 60 MiB.
    let body = token_arrays(2048, 5100, ",");
    assert!(
        (59 << 20..60 << 20).contains(&body.len()),
        "{} bytes",
        body.len()
    );
    let len = body.len();
    let start = Instant::now();
    let answer = send(
        app(uncapped()),
        request(Some(&format!("Bearer {KEY}")), Body::from(body)),
    )
    .await;
    eprintln!(
        "60 MiB of token arrays through the extractor and handler: {:?}",
        start.elapsed()
    );
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(answer.2, "team one text-embedding-3-small 2048 10444800");
    // The same body with its length declared, as a client sends it.
    let mut declared = request(
        Some(&format!("Bearer {KEY}")),
        Body::from(token_arrays(2048, 5100, ",")),
    );
    declared
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let answer = send(app(uncapped()), declared).await;
    assert_eq!(answer.2, "team one text-embedding-3-small 2048 10444800");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_axums_default_limit_passes_under_openais_limits() {
    // The issue's case: valid under OpenAI's own limits (300,000 tokens, written as
    // Python's json.dumps writes them), over axum's 2 MiB default.
    let body = token_arrays(60, 5000, ", ");
    assert!(body.len() > 2 << 20, "{} bytes", body.len());
    let answer = send(
        app(Policy::openai()),
        request(Some(&format!("Bearer {KEY}")), Body::from(body.clone())),
    )
    .await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.2);
    assert_eq!(answer.2, "team one text-embedding-3-small 60 300000");
    // What axum's own `Bytes` extractor answers to the same body: a plain-text 413.
    async fn plain(_: Bytes) -> &'static str {
        "read"
    }
    let plain = Router::new().route("/v1/embeddings", post(plain));
    let answer = send(plain, request(None, Body::from(body))).await;
    assert_eq!(answer.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_ne!(
        answer.1.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_the_contracts_413() {
    let limit = 64 << 20;
    let expected = |len: usize| {
        format!(
            r#"{{"error":{{"message":"Request body too large: {len} bytes exceeds the limit of {limit} bytes.","type":"invalid_request_error","param":null,"code":"request_too_large"}}}}"#
        )
    };
    // Without a declared length: read up to the limit, then refused.
    let body = vec![b' '; limit + 1];
    let answer = send(
        app(Policy::openai()),
        request(Some(&format!("Bearer {KEY}")), Body::from(body)),
    )
    .await;
    assert_envelope(&answer, 413, &expected(limit + 1));
    // With a declared length: refused before reading.
    let mut declared = request(Some(&format!("Bearer {KEY}")), Body::from(vec![b' '; 10]));
    declared
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(100_000_000u64));
    let answer = send(app(Policy::openai()), declared).await;
    assert_envelope(&answer, 413, &expected(100_000_000));
}

/// A body arriving in frames, as a chunked upload does, ending with an error if asked.
struct Frames {
    frames: Vec<Bytes>,
    fail_at_end: bool,
}

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if !self.frames.is_empty() {
            let frame = self.frames.remove(0);
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        if self.fail_at_end {
            self.fail_at_end = false;
            return Poll::Ready(Some(Err(std::io::Error::other("connection reset"))));
        }
        Poll::Ready(None)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_is_refused_at_the_frame_past_the_limit() {
    let policy = Policy::openai().with_limits(Limits::openai().with_max_body_bytes(1000));
    let body = Frames {
        frames: vec![Bytes::from(vec![b' '; 400]); 5],
        fail_at_end: false,
    };
    let answer = send(
        app(policy),
        request(Some(&format!("Bearer {KEY}")), Body::new(body)),
    )
    .await;
    // 400 + 400 fit; the third frame brings 1200 bytes.
    assert_envelope(
        &answer,
        413,
        r#"{"error":{"message":"Request body too large: 1200 bytes exceeds the limit of 1000 bytes.","type":"invalid_request_error","param":null,"code":"request_too_large"}}"#,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_body_gets_the_envelope_not_plain_text() {
    let body = Frames {
        frames: vec![Bytes::from_static(b"{\"model\":")],
        fail_at_end: true,
    };
    let answer = send(
        app(Policy::openai()),
        request(Some(&format!("Bearer {KEY}")), Body::new(body)),
    )
    .await;
    assert_envelope(&answer, 400, UNREADABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_checked_first_and_401s_are_word_for_word() {
    let wrong = |masked: &str| {
        format!(
            r#"{{"error":{{"message":"Incorrect API key provided: {masked}.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#
        )
    };
    let long = format!("Bearer sk-gateway-{}", "a".repeat(60));
    let table: Vec<(Option<&str>, String)> = vec![
        (None, MISSING.to_owned()),
        (Some("Basic dXNlcjpwYXNz"), MISSING.to_owned()),
        (Some("Bearer "), MISSING.to_owned()),
        (
            Some("Bearer sk-gateway-team0002"),
            wrong("sk-g***********0002"),
        ),
        (Some("Bearer abc"), wrong("***")),
        (
            Some(&long),
            r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#.to_owned(),
        ),
    ];
    for (authorization, json) in &table {
        // The key comes first: an invalid body, an oversized body, a broken body all get
        // the 401.
        let bodies = [
            Body::from("not json"),
            Body::from(vec![b' '; (64 << 20) + 1]),
            Body::new(Frames {
                frames: vec![],
                fail_at_end: true,
            }),
        ];
        for body in bodies {
            let answer = send(app(Policy::openai()), request(*authorization, body)).await;
            assert_envelope(&answer, 401, json);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bodies_get_the_policys_answer_small_and_large() {
    let unknown_model = br#"{"model":"nope","input":"hello"}"#.to_vec();
    let expected = r#"{"error":{"message":"The model `nope` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}}"#;
    let answer = send(
        app(Policy::openai()),
        request(Some(&format!("Bearer {KEY}")), Body::from(unknown_model)),
    )
    .await;
    assert_envelope(&answer, 404, expected);
    // Over the offload threshold: the same answer from the blocking thread.
    let mut large = br#"{"model":"nope","input":"hello"}"#.to_vec();
    large.splice(1..1, vec![b' '; embedguard::OFFLOAD_BYTES]);
    let answer = send(
        app(Policy::openai()),
        request(Some(&format!("Bearer {KEY}")), Body::from(large)),
    )
    .await;
    assert_envelope(&answer, 404, expected);
    // Over OpenAI's per-request tokens: 300,001 tokens in token arrays.
    let mut over = token_arrays(60, 5000, ",");
    over.truncate(over.len() - 3);
    over.extend_from_slice(b",100]]}");
    let answer = send(
        app(Policy::openai()),
        request(Some(&format!("Bearer {KEY}")), Body::from(over)),
    )
    .await;
    assert_envelope(
        &answer,
        400,
        r#"{"error":{"message":"Requested 300001 tokens, max 300000 tokens per request","type":"max_tokens_per_request","param":null,"code":"max_tokens_per_request"}}"#,
    );
}

/// A gateway's own state, holding the guard among other things.
#[derive(Clone)]
struct AppState {
    guard: Arc<Guard>,
    greeting: &'static str,
}

impl FromRef<AppState> for Arc<Guard> {
    fn from_ref(state: &AppState) -> Arc<Guard> {
        Arc::clone(&state.guard)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_can_live_in_a_larger_state() {
    async fn handler(State(state): State<AppState>, request: CheckedRequest) -> String {
        format!("{} {}", state.greeting, request.key())
    }
    let app = Router::new()
        .route("/v1/embeddings", post(handler))
        .with_state(AppState {
            guard: guard(Policy::openai()),
            greeting: "hello",
        });
    let body = br#"{"model":"text-embedding-3-small","input":"x"}"#;
    let answer = send(
        app,
        request(Some(&format!("Bearer {KEY}")), Body::from(&body[..])),
    )
    .await;
    assert_eq!(answer.2, "hello team one");
}

#[tokio::test]
async fn request_errors_are_responses() {
    let err = Policy::openai()
        .check(br#"{"input":"x"}"#)
        .expect_err("no model");
    let json = err.to_json();
    let response: Response = err.clone().into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, json.as_bytes());
    // With a rate limit's headers, the axum way.
    let headers = vec![("retry-after", "2".to_owned())];
    let response = (axum::response::AppendHeaders(headers), err).into_response();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
}

#[test]
fn the_types_a_handler_holds_are_send_sync_static() {
    fn assert_send_sync_static<T: Send + Sync + 'static>() {}
    assert_send_sync_static::<Policy>();
    assert_send_sync_static::<KeySet>();
    assert_send_sync_static::<KeyId>();
    assert_send_sync_static::<Checked<'static>>();
    assert_send_sync_static::<RequestError>();
    assert_send_sync_static::<Guard>();
    assert_send_sync_static::<CheckedRequest>();
    assert_send_sync_static::<GuardRejection>();
}

#[test]
fn the_extractor_runs_without_a_tokio_runtime() {
    use axum::extract::FromRequest;
    use std::future::Future;

    // Polled by hand, with no runtime: a large body is checked in place, not offloaded
    // (`spawn_blocking` would panic here).
    let mut body = br#"{"model":"text-embedding-3-small","input":"hello world"}"#.to_vec();
    body.splice(1..1, vec![b' '; embedguard::OFFLOAD_BYTES * 4]);
    let request = request(Some(&format!("Bearer {KEY}")), Body::from(body));
    let state = guard(Policy::openai());
    let mut future = Box::pin(CheckedRequest::from_request(request, &state));
    let mut context = Context::from_waker(std::task::Waker::noop());
    let mut polls = 0;
    let result = loop {
        polls += 1;
        assert!(polls < 1000, "the extractor never finished");
        if let Poll::Ready(result) = future.as_mut().poll(&mut context) {
            break result;
        }
    };
    let request = result.expect("a valid request");
    assert_eq!(request.key().name(), "team one");
    assert_eq!(request.checked().usage().total_tokens, 2);
}
