//! Feature `http`: a rejection as an `http::Response`, status, content type and envelope.
//!
//! Run with `cargo test --release --features http --test http`.

use embedguard::{KeySet, Limits, Policy, RequestError};

fn errors() -> Vec<RequestError> {
    let keys = KeySet::new()
        .with_key("sk-gateway-abcd1234")
        .expect("valid");
    let small = Policy::openai().with_limits(Limits::openai().with_max_body_bytes(10));
    vec![
        keys.check_header(None).unwrap_err(),
        keys.check_header(Some(b"Bearer sk-gateway-abcd1235"))
            .unwrap_err(),
        small.check(b"{\"model\": \"x\"}").unwrap_err(),
        Policy::openai().check(b"{").unwrap_err(),
        Policy::openai()
            .check(br#"{"model":"nope","input":"x"}"#)
            .unwrap_err(),
    ]
}

#[test]
fn every_error_becomes_its_response() {
    let statuses: Vec<u16> = errors().iter().map(RequestError::status).collect();
    assert_eq!(statuses, [401, 401, 413, 400, 404]);
    for err in errors() {
        let response = err.to_http_response();
        assert_eq!(response.status().as_u16(), err.status());
        assert_eq!(response.headers().len(), 1);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.body(), &err.to_json());
    }
}

#[test]
fn the_413_word_for_word() {
    let response = errors()[2].to_http_response();
    assert_eq!(response.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.body(),
        r#"{"error":{"message":"Request body too large: 14 bytes exceeds the limit of 10 bytes.","type":"invalid_request_error","param":null,"code":"request_too_large"}}"#
    );
}

#[test]
fn extra_headers_are_appended_in_order_and_invalid_ones_left_out() {
    let err = &errors()[0];
    let response = err.to_http_response_with([
        ("x-ratelimit-limit-requests", "60".to_owned()),
        ("retry-after", "2".to_owned()),
        ("Retry-After-Ms", "1500".to_owned()),
        ("bad name", "1".to_owned()),
        ("x-bad-value", "a\nb".to_owned()),
        ("x-ratelimit-limit-requests", "61".to_owned()),
    ]);
    let headers = response.headers();
    assert_eq!(headers.len(), 5);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["retry-after"], "2");
    assert_eq!(headers["retry-after-ms"], "1500");
    let limits: Vec<_> = headers
        .get_all("x-ratelimit-limit-requests")
        .iter()
        .collect();
    assert_eq!(limits, ["60", "61"]);
    assert_eq!(response.body(), &err.to_json());
}

#[test]
fn a_rate_limit_429_with_its_headers() {
    use embedguard::{Budget, BudgetStore, MemoryStore};

    let keys = KeySet::new()
        .with_named_key("sk-gateway-abcd1234", "team-a")
        .expect("valid");
    let id = keys
        .check_header(Some(b"Bearer sk-gateway-abcd1234"))
        .expect("known key");
    let budget = Budget::new().with_tokens_per_minute(1000);
    let store = MemoryStore::new();
    let key = id.index().to_string();
    let Ok(first) = store.admit(&key, &budget, 600, 0);
    assert!(first.is_admitted());
    let Ok(second) = store.admit(&key, &budget, 600, 0);
    let err = second
        .error("text-embedding-3-small", id.name())
        .expect("refused");
    let response = err.to_http_response_with(second.headers());
    assert_eq!(response.status(), http::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response.body(),
        r#"{"error":{"message":"Rate limit reached for text-embedding-3-small in organization team-a on tokens per min (TPM): Limit 1000, Used 600, Requested 600. Please try again in 12s. Visit https://platform.openai.com/account/rate-limits to learn more.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#
    );
    let headers = response.headers();
    assert_eq!(headers["content-type"], "application/json");
    for (name, value) in second.headers() {
        assert_eq!(headers[name], value.as_str(), "{name}");
    }
    assert_eq!(headers.len(), 1 + second.headers().len());
    assert_eq!(headers["retry-after-ms"], "12000");
}
