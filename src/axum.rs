//! Feature `axum`: rejections as responses, and an extractor that checks key and body.

use std::sync::Arc;

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use ::axum::http::{HeaderMap, HeaderValue, StatusCode};
use ::axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::auth::{KeyId, KeySet};
use crate::error::{ErrorKind, RequestError};
use crate::policy::{Checked, Policy};

/// Bodies larger than this are checked on tokio's blocking threads
/// (`spawn_blocking`), smaller ones on the async thread that read them.
///
/// A check costs time in proportion to the body (for texts, mostly tokenizing). Measured
/// on a busy 2-core machine: 16 KiB of text about 35 µs, 64 KiB about 0.5 ms, 1 MiB about
/// 35 ms, 60 MiB of token arrays about 0.3 s, and a `spawn_blocking` round trip about
/// 16 µs. An async thread busy for milliseconds stalls every connection it serves; below
/// 16 KiB a check costs about as little as two hand-offs, so it stays where it is.
pub const OFFLOAD_BYTES: usize = 16 * 1024;

/// Trust a declared `content-length` for this much of the first allocation only: a
/// client may claim 64 MiB and send one byte.
const FIRST_ALLOCATION_MAX: usize = 1 << 20;

const UNREADABLE: &str = "We could not parse your request. Please check the HTTP headers and body.";
const UNAVAILABLE: &str = "The server is overloaded or not ready yet.";

impl IntoResponse for RequestError {
    /// [`RequestError::to_http_response`]: status, `content-type: application/json`, and
    /// the envelope. To add headers (a rate limit's), answer
    /// `(AppendHeaders(headers), err)`.
    fn into_response(self) -> Response {
        self.to_http_response().map(Body::from)
    }
}

/// What the [`CheckedRequest`] extractor needs: the policy and the keys. Share one as
/// `Arc<Guard>` in the router's state, or in a field of it with
/// [`FromRef`](axum::extract::FromRef).
#[derive(Debug, Clone)]
pub struct Guard {
    policy: Policy,
    keys: KeySet,
}

impl Guard {
    /// A guard checking keys against `keys` and bodies against `policy`.
    pub fn new(policy: Policy, keys: KeySet) -> Guard {
        Guard { policy, keys }
    }

    /// The policy bodies are checked against.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The keys `Authorization` headers are checked against.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }
}

/// An axum extractor: the request's key and body, checked, in the contract's order.
///
/// 1. The key, from the `Authorization` header, against the guard's [`KeySet`] (401),
///    before a byte of the body is read.
/// 2. The body, read up to the policy's own [`max_body_bytes`](crate::Limits::max_body_bytes)
///    (413 beyond it, with the contract's envelope). axum's `DefaultBodyLimit` (2 MB)
///    does not apply: this extractor reads the body itself, so a valid 60 MiB request
///    passes under the default 64 MiB limit.
/// 3. The body against the policy (400, 404, ...), on a blocking thread when it is
///    larger than [`OFFLOAD_BYTES`] (in place when there is no tokio runtime).
///
/// The handler gets the check as a [`Checked<'static>`]: it owns its texts, so it can
/// cross `.await` points and go into tasks and `spawn_blocking` closures. The guard
/// comes from the state, as `Arc<Guard>` (the state itself, or via `FromRef`).
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, routing::post};
/// use embedguard::{CheckedRequest, Guard, KeySet, Policy};
///
/// async fn embeddings(request: CheckedRequest) -> String {
///     let (key, checked) = request.into_parts();
///     // `checked` is 'static: hand it to a task, an upstream call, a blocking thread.
///     let tokens = tokio::task::spawn_blocking(move || checked.usage().total_tokens)
///         .await
///         .unwrap_or(0);
///     format!("{key}: {tokens} tokens")
/// }
///
/// let keys = KeySet::new().with_named_key("sk-gateway-team0001", "team one")?;
/// let guard = Arc::new(Guard::new(Policy::openai(), keys));
/// let app: Router = Router::new()
///     .route("/v1/embeddings", post(embeddings))
///     .with_state(guard);
/// # Ok::<(), embedguard::KeyError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CheckedRequest {
    key: KeyId,
    checked: Checked<'static>,
}

impl CheckedRequest {
    /// Whose key the request came with.
    pub fn key(&self) -> &KeyId {
        &self.key
    }

    /// The checked request.
    pub fn checked(&self) -> &Checked<'static> {
        &self.checked
    }

    /// The key's identity and the check, owned.
    pub fn into_parts(self) -> (KeyId, Checked<'static>) {
        (self.key, self.checked)
    }
}

/// Why [`CheckedRequest`] refused a request; answers with the contract's envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuardRejection {
    /// The key or the body was refused (401, 413, 400, 404...).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The body could not be read: the connection broke, or a layer below refused it
    /// (400, "We could not parse your request. Please check the HTTP headers and body.").
    #[error("{UNREADABLE}")]
    UnreadableBody,
    /// The blocking check did not run to its end: the runtime is shutting down
    /// (503, "The server is overloaded or not ready yet.").
    #[error("{UNAVAILABLE}")]
    Unavailable,
}

impl GuardRejection {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            GuardRejection::Request(err) => err.status(),
            GuardRejection::UnreadableBody => 400,
            GuardRejection::Unavailable => 503,
        }
    }

    /// The response body: the four-key envelope.
    pub fn to_json(&self) -> String {
        let envelope = |message: &str, kind: &str| {
            let message = serde_json::Value::from(message);
            format!(
                r#"{{"error":{{"message":{message},"type":"{kind}","param":null,"code":null}}}}"#
            )
        };
        match self {
            GuardRejection::Request(err) => err.to_json(),
            GuardRejection::UnreadableBody => envelope(UNREADABLE, "invalid_request_error"),
            GuardRejection::Unavailable => envelope(UNAVAILABLE, "server_error"),
        }
    }
}

impl IntoResponse for GuardRejection {
    fn into_response(self) -> Response {
        match self {
            GuardRejection::Request(err) => err.into_response(),
            other => {
                let status = StatusCode::from_u16(other.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let content_type = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
                (status, content_type, other.to_json()).into_response()
            }
        }
    }
}

impl<S> FromRequest<S> for CheckedRequest
where
    Arc<Guard>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = GuardRejection;

    async fn from_request(request: Request, state: &S) -> Result<CheckedRequest, GuardRejection> {
        let guard = Arc::<Guard>::from_ref(state);
        let (parts, body) = request.into_parts();
        let authorization = parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
        let key = guard.keys.check_header(authorization)?.clone();
        let limit = guard.policy.limits().max_body_bytes();
        let body = read_body(&parts.headers, body, limit).await?;
        // Outside a tokio runtime (another executor) `spawn_blocking` would panic: the
        // check then runs in place.
        let runtime = tokio::runtime::Handle::try_current().ok();
        let checked = match runtime {
            Some(runtime) if body.len() > OFFLOAD_BYTES => {
                let guard = Arc::clone(&guard);
                runtime
                    .spawn_blocking(move || guard.policy.check(&body).map(Checked::into_owned))
                    .await
                    .map_err(|_| GuardRejection::Unavailable)??
            }
            _ => guard.policy.check(&body).map(Checked::into_owned)?,
        };
        Ok(CheckedRequest { key, checked })
    }
}

/// The body, up to `limit` bytes; beyond it the contract's 413, naming the declared
/// length, or without one the bytes received when reading stopped.
///
/// Read frame by frame rather than through `http_body_util::Limited`, whose error does
/// not say how many bytes came: the 413's message names a size.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, GuardRejection> {
    let too_large = |len| RequestError::from(ErrorKind::BodyTooLarge { len, limit });
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared.filter(|&len| len > limit) {
        return Err(too_large(len).into());
    }
    let mut body = body;
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(FIRST_ALLOCATION_MAX));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| GuardRejection::UnreadableBody)?;
        if let Ok(data) = frame.into_data() {
            let len = bytes.len().saturating_add(data.len());
            if len > limit {
                return Err(too_large(len).into());
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}
