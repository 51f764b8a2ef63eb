//! Transcoding and merging hold little beyond the bodies and the result: checked with a
//! counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use embedguard::{
    EncodingFormat, ResponseTarget, UpstreamPart, encode_response, merge_responses,
    transcode_response,
};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap held at the peak of `f`, above what was held before it.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = CURRENT.load(Relaxed);
    PEAK.store(before, Relaxed);
    let result = f();
    (result, PEAK.load(Relaxed) - before)
}

fn vectors(n: usize, dims: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| {
            (0..dims)
                .map(|j| ((i * 31 + j * 7) % 1000) as f32 / 1e4 - 0.05)
                .collect()
        })
        .collect()
}

// One test function: the counters are global, and tests in one binary run in parallel.
#[test]
fn transcoding_and_merging_hold_a_small_multiple_of_the_result() {
    let vectors = vectors(64, 3072);
    let counts = vec![10; vectors.len()];
    let float = ResponseTarget::new("m", 3072, &counts);
    let base64 = float.clone().with_encoding_format(EncodingFormat::Base64);
    let float_body = encode_response(&vectors, &float).unwrap();
    let base64_body = encode_response(&vectors, &base64).unwrap();

    for (from, target, expected) in [
        (&float_body, &base64, &base64_body),
        (&base64_body, &float, &float_body),
        (&float_body, &float, &float_body),
        (&base64_body, &base64, &base64_body),
    ] {
        let (out, peak) = peak_during(|| transcode_response(from.as_bytes(), target).unwrap());
        assert_eq!(&out, expected);
        // The result (with its reserve) plus one vector, its bytes and the index table.
        let bound = out.capacity() + 64 * 1024;
        assert!(
            peak <= bound,
            "peak {peak} over {bound} for a {} byte result",
            out.len()
        );
        // The reserve is close to what is written.
        assert!(
            out.capacity() <= out.len() * 5 / 4,
            "{} for {}",
            out.capacity(),
            out.len()
        );
    }

    // Merged from 4 parts of 16.
    let parts_bodies: Vec<String> = vectors
        .chunks(16)
        .map(|chunk| {
            encode_response(chunk, &ResponseTarget::new("m", 3072, &counts[..16])).unwrap()
        })
        .collect();
    let parts: Vec<UpstreamPart> = parts_bodies
        .iter()
        .enumerate()
        .map(|(i, b)| UpstreamPart::new(16 * i, b.as_bytes()))
        .collect();
    let (out, peak) = peak_during(|| merge_responses(&parts, &base64).unwrap());
    assert_eq!(out, base64_body);
    assert!(
        peak <= out.capacity() + 64 * 1024,
        "peak {peak} for {}",
        out.len()
    );

    // For a model of huge vectors, a hostile upstream's first vector cannot make the writer
    // reserve for all inputs (2048 x 786,432 values would be about 19 GB of text).
    let counts = vec![1; 2048];
    let target = ResponseTarget::new("m", 786_432, &counts);
    let mut body = format!(
        r#"{{"object":"list","data":[{{"index":0,"embedding":"{}"}}"#,
        "A".repeat(4 << 20)
    );
    for index in 1..2048 {
        body.push_str(&format!(r#",{{"index":{index},"embedding":"AAAAAA=="}}"#));
    }
    body.push_str("]}");
    let (err, peak) = peak_during(|| transcode_response(body.as_bytes(), &target).unwrap_err());
    assert_eq!(
        err.to_string(),
        "the vector for input 1 has length 1, expected 786432"
    );
    assert!(
        peak < 5 * body.len(),
        "peak {peak} for a {} byte body",
        body.len()
    );
}
