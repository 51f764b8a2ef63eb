//! Peak heap during a check, under a counting global allocator: at most 3 x the body
//! + 1 MiB for every catalogue entry.
//!
//! One test, so nothing else allocates while a check is measured. The body is built
//! (and the tokenizer's tables are loaded) before the measurement starts: only what the
//! check itself holds counts.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use embedguard::Policy;

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grow(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::SeqCst) + bytes;
    PEAK.fetch_max(live, Ordering::SeqCst);
}

fn shrink(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Counted as if the old and the new block were both live for a moment, as
            // they are when the block moves: the stricter reading.
            grow(new_size);
            shrink(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

/// The bound of the issue.
fn allowed(body: usize) -> usize {
    3 * body + MIB
}

#[test]
fn peak_heap_of_every_catalogue_entry_is_within_three_bodies_and_a_mebibyte() {
    let policy = Policy::openai();
    embedguard::cl100k().count("warm up the tokenizer's tables");
    let mut failures = Vec::new();
    for entry in common::CATALOGUE {
        let case = (entry.build)();
        let body = case.body.as_slice();
        let base = LIVE.load(Ordering::SeqCst);
        PEAK.store(base, Ordering::SeqCst);
        let accepted = policy.check(body).is_ok();
        let peak = PEAK.load(Ordering::SeqCst) - base;
        let ratio = peak as f64 / body.len().max(1) as f64;
        eprintln!(
            "{}: body {} bytes, peak heap {peak} bytes ({ratio:.2} x body), accepted {accepted}",
            entry.name,
            body.len()
        );
        if peak > allowed(body.len()) {
            failures.push(format!(
                "{}: peak {peak} bytes > 3 x {} + 1 MiB",
                entry.name,
                body.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
