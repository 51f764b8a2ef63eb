//! Feature `http`: a rejection as an `http::Response` (pure types, no IO).

use ::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use ::http::{Response, StatusCode};

use crate::error::RequestError;

impl RequestError {
    /// The whole answer: the status, `content-type: application/json` and the envelope
    /// of [`RequestError::to_json`] as the body.
    ///
    /// ```
    /// let err = embedguard::KeySet::new().check_header(None).unwrap_err();
    /// let response = err.to_http_response();
    /// assert_eq!(response.status(), 401);
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// assert_eq!(response.body(), &err.to_json());
    /// ```
    pub fn to_http_response(&self) -> Response<String> {
        self.to_http_response_with(std::iter::empty::<(&str, &str)>())
    }

    /// The same answer with extra headers (e.g. a rate limit's `x-ratelimit-*` and
    /// `retry-after`), appended in order. A pair that is not a valid header name and
    /// value is left out; the names and values this crate makes always are.
    ///
    /// ```
    /// let err = embedguard::KeySet::new().check_header(None).unwrap_err();
    /// let response = err.to_http_response_with([("x-ratelimit-limit-requests", "60")]);
    /// assert_eq!(response.headers()["x-ratelimit-limit-requests"], "60");
    /// assert_eq!(response.headers()["content-type"], "application/json");
    /// ```
    pub fn to_http_response_with<I, N, V>(&self, headers: I) -> Response<String>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut response = Response::new(self.to_json());
        // Every status this crate answers with is a valid one; 500 is unreachable.
        *response.status_mut() =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let map = response.headers_mut();
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_ref().as_bytes()),
                HeaderValue::from_str(value.as_ref()),
            ) {
                map.append(name, value);
            }
        }
        response
    }
}
