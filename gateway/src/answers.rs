//! Every answer the gateway gives that is not the library's own: the contract's "Gateway
//! answers" table, each as the four-key envelope with `content-type: application/json`.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use embedguard::{ECHO_LIMIT, RequestError};

/// The words of a 502 and of a 504.
pub const SERVER_ERROR: &str =
    "The server had an error while processing your request. Sorry about that!";
/// The words of a 503 when the gateway sheds a request.
pub const OVERLOADED: &str = "The server is overloaded or not ready yet.";
/// The words of a 400 or 431 for HTTP that cannot be parsed.
pub const MALFORMED: &str =
    "We could not parse your request. Please check the HTTP headers and body.";
/// The longest upstream message relayed to a client; longer ones are a 502.
pub const MAX_RELAYED_MESSAGE: usize = 1024;

/// A client-facing answer: status and the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status.
    pub status: StatusCode,
    /// `{"error":{…}}`.
    pub body: String,
    /// Headers of its own, e.g. a relayed 429's `retry-after`.
    pub headers: Vec<(&'static str, String)>,
}

impl Failure {
    fn new(status: StatusCode, message: &str, kind: &str, code: Option<&str>) -> Failure {
        Failure {
            status,
            body: envelope(message, kind, code),
            headers: Vec::new(),
        }
    }

    /// 404 for an unknown path.
    pub fn not_found(method: &Method, path: &str) -> Failure {
        // A method is any token up to the head's size: cut like the path.
        let message = format!("Invalid URL ({} {})", echo(method.as_str()), echo(path));
        Failure::new(
            StatusCode::NOT_FOUND,
            &message,
            "invalid_request_error",
            None,
        )
    }

    /// 405 for a known path asked with another method.
    pub fn method_not_allowed(method: &Method, path: &str) -> Failure {
        let message = format!(
            "Invalid method for URL ({} {})",
            echo(method.as_str()),
            echo(path)
        );
        Failure::new(
            StatusCode::METHOD_NOT_ALLOWED,
            &message,
            "invalid_request_error",
            None,
        )
    }

    /// 400 (or 431, headers too large) for HTTP that cannot be parsed, a body cut short
    /// or a body that stalls.
    pub fn malformed(status: StatusCode) -> Failure {
        Failure::new(status, MALFORMED, "invalid_request_error", None)
    }

    /// 502: the upstream failed (unreachable, 5xx, an answer that is not valid).
    pub fn upstream() -> Failure {
        Failure::new(StatusCode::BAD_GATEWAY, SERVER_ERROR, "server_error", None)
    }

    /// 500: the gateway itself failed (a bug; never expected).
    pub fn internal() -> Failure {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            SERVER_ERROR,
            "server_error",
            None,
        )
    }

    /// 504: the upstream did not answer within the deadline.
    pub fn timeout() -> Failure {
        Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            SERVER_ERROR,
            "server_error",
            Some("timeout"),
        )
    }

    /// 503: the gateway sheds the request.
    pub fn overloaded() -> Failure {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            OVERLOADED,
            "server_error",
            None,
        )
    }

    /// The upstream rejected the request with a 4xx: the same status with the upstream's
    /// message when it is a string of at most 1,024 bytes (cut like any echo), its type
    /// when a string, its code when a string or null; anything else is a 502.
    pub fn relayed(status: StatusCode, body: &[u8]) -> Failure {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Failure::upstream();
        };
        let error = value.get("error");
        let field = |name| error.and_then(|e| e.get(name));
        let Some(message) = field("message").and_then(|m| m.as_str()) else {
            return Failure::upstream();
        };
        if message.len() > MAX_RELAYED_MESSAGE || !status.is_client_error() {
            return Failure::upstream();
        }
        let kind = field("type").and_then(|t| t.as_str()).map_or_else(
            || "invalid_request_error".to_owned(),
            |t| echo(t).into_owned(),
        );
        let code = field("code").and_then(|c| c.as_str()).map(echo);
        Failure::new(status, &echo(message), &kind, code.as_deref())
    }
}

/// A relayed 429's `retry-after` (whole seconds, at least 1) and `retry-after-ms`: the
/// upstream's when they are valid numbers, else one derived from the other, else 1 s.
pub fn retry_after(upstream: &HeaderMap) -> Vec<(&'static str, String)> {
    let number = |name: &str| {
        upstream
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e12)
    };
    let seconds = number("retry-after");
    let millis = number("retry-after-ms");
    let (seconds, millis) = match (seconds, millis) {
        (Some(s), Some(ms)) => (s, ms),
        (Some(s), None) => (s, s * 1000.0),
        (None, Some(ms)) => (ms / 1000.0, ms),
        (None, None) => (1.0, 1000.0),
    };
    vec![
        ("retry-after", (seconds.ceil() as u64).max(1).to_string()),
        ("retry-after-ms", (millis.ceil() as u64).to_string()),
    ]
}

impl From<RequestError> for Failure {
    fn from(err: RequestError) -> Failure {
        Failure {
            status: StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST),
            body: err.to_json(),
            headers: Vec::new(),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = json(self.status, self.body);
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// A JSON answer.
pub fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"error":{"message":…,"type":…,"param":null,"code":…}}`, in OpenAI's member order.
pub fn envelope(message: &str, kind: &str, code: Option<&str>) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    let code = code.map_or_else(|| "null".to_owned(), text);
    format!(
        r#"{{"error":{{"message":{},"type":{},"param":null,"code":{code}}}}}"#,
        text(message),
        text(kind)
    )
}

/// A value from outside cut as the contract cuts echoes: its first [`ECHO_LIMIT`] bytes
/// on a character boundary, then `...`.
pub fn echo(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() <= ECHO_LIMIT {
        return value.into();
    }
    let mut end = ECHO_LIMIT;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        retry_after(&headers)
    }

    fn pair(seconds: &str, millis: &str) -> Vec<(&'static str, String)> {
        vec![
            ("retry-after", seconds.to_owned()),
            ("retry-after-ms", millis.to_owned()),
        ]
    }

    #[test]
    fn retry_after_passes_valid_numbers_and_fills_in_the_other() {
        assert_eq!(
            retry(&[("retry-after", "7"), ("retry-after-ms", "6500")]),
            pair("7", "6500")
        );
        assert_eq!(retry(&[("retry-after", "3")]), pair("3", "3000"));
        assert_eq!(retry(&[("retry-after-ms", "1200")]), pair("2", "1200"));
        assert_eq!(retry(&[("retry-after-ms", "20")]), pair("1", "20"));
        // Not numbers (an HTTP date, garbage): as if absent.
        assert_eq!(
            retry(&[
                ("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
                ("retry-after-ms", "soon")
            ]),
            pair("1", "1000")
        );
        assert_eq!(retry(&[("retry-after", "-4")]), pair("1", "1000"));
        assert_eq!(retry(&[]), pair("1", "1000"));
    }
}
