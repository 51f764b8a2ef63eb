//! What an async gateway holds across `.await` points and moves between threads: the
//! owned check and the owned response target are `Send + Sync + 'static`; upstream parts
//! borrow the bodies and are built where the merge runs.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use embedguard::{
    Checked, Embeddings, EncodingFormat, Part, Plan, Policy, RequestError, ResponseError,
    ResponseTarget, Upstream, UpstreamPart, Usage, UsageSource, encode_response, merge_responses,
};

fn send_sync_static<T: Send + Sync + 'static>() {}

#[test]
fn the_owned_types_are_send_sync_static() {
    send_sync_static::<Checked<'static>>();
    send_sync_static::<ResponseTarget<'static>>();
    send_sync_static::<UpstreamPart<'static>>();
    send_sync_static::<Plan>();
    send_sync_static::<Part>();
    send_sync_static::<Upstream>();
    send_sync_static::<Policy>();
    send_sync_static::<Embeddings>();
    send_sync_static::<Usage>();
    send_sync_static::<UsageSource>();
    send_sync_static::<ResponseError>();
    send_sync_static::<RequestError>();
}

/// Runs a future that never waits on anything outside itself to completion.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut context) {
            return out;
        }
    }
}

/// A stand-in for an HTTP call: the answer, after an `.await`.
async fn upstream_call(body: String) -> Vec<u8> {
    std::future::ready(()).await;
    let checked = Policy::openai().check(body.as_bytes()).unwrap();
    let vectors = checked.inputs().iter().map(|_| vec![0.0, 1.0]);
    encode_response(vectors, &ResponseTarget::from(&checked))
        .unwrap()
        .into_bytes()
}

/// A handler as an async gateway writes one: the body is dropped once checked; the
/// target lives across the calls' `.await`s and moves into another thread for the merge.
async fn handler(body: Vec<u8>) -> String {
    // The check runs on another thread (as in `spawn_blocking`) and comes back owned.
    let checked: Checked<'static> = std::thread::spawn(move || {
        Policy::openai()
            .check(&body)
            .map(Checked::into_owned)
            .unwrap()
    })
    .join()
    .unwrap();
    let plan = Upstream::openai()
        .with_max_inputs_per_call(2)
        .with_encoding_format(Some(EncodingFormat::Base64))
        .plan(&checked)
        .unwrap();
    let target: ResponseTarget<'static> = ResponseTarget::from(&checked).into_owned();
    drop(checked);
    let mut answers = Vec::new();
    for part in plan.into_parts() {
        let start = part.start();
        answers.push((start, upstream_call(part.into_body()).await));
    }
    std::thread::spawn(move || {
        let parts: Vec<UpstreamPart<'_>> = answers
            .iter()
            .map(|(start, body)| UpstreamPart::new(*start, body))
            .collect();
        merge_responses(&parts, &target).unwrap()
    })
    .join()
    .unwrap()
}

fn assert_send_static<F: Future + Send + 'static>(future: F) -> F {
    future
}

#[test]
fn a_handler_holds_the_owned_target_across_await_points_and_threads() {
    let body =
        br#"{"model":"text-embedding-3-small","input":["a","b","c"],"dimensions":2}"#.to_vec();
    // The compiler's own check: the handler's future can be spawned on a multi-threaded
    // runtime (it is `Send + 'static`).
    let future = assert_send_static(handler(body));
    let merged = std::thread::spawn(move || run(future)).join().unwrap();
    assert_eq!(
        merged,
        r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0,1.0]},{"object":"embedding","index":1,"embedding":[0.0,1.0]},{"object":"embedding","index":2,"embedding":[0.0,1.0]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":3,"total_tokens":3}}"#
    );
}

#[test]
fn an_owned_target_equals_the_borrowed_one() {
    let checked = Policy::openai()
        .check(br#"{"model":"text-embedding-3-large","input":["x y"],"encoding_format":"base64","dimensions":8}"#)
        .unwrap();
    let borrowed = ResponseTarget::from(&checked);
    let owned = borrowed.clone().into_owned();
    assert_eq!(owned, borrowed);
    assert_eq!(owned.model(), "text-embedding-3-large");
    assert_eq!(owned.native_dimensions(), 3072);
    assert_eq!(owned.dimensions(), Some(8));
    assert_eq!(owned.vector_len(), 8);
    assert_eq!(owned.encoding_format(), EncodingFormat::Base64);
    assert_eq!(owned.token_counts(), &[2]);
    assert_eq!(owned.usage_source(), UsageSource::Counted);
}
