//! Counting allocates nothing, except for a piece of more than 512 bytes that is not one token
//! (a long run without spaces): a global allocator that counts allocations proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use embedguard::cl100k;

struct Counting;

thread_local! {
    /// Allocations made by this thread (other threads of the test harness may allocate too).
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts the calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_while(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn counting_does_not_allocate() {
    let texts = [
        "The party of the first part shall indemnify the party of the second part.",
        "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n}\n",
        "Стороны договорились о следующем: настоящий договор вступает в силу.",
        "本协议自双方签字之日起生效，任何一方不得擅自变更或者解除本协议。",
        "これはUTF-8です昔々、ある所に子供のいない老夫婦が住んでいた。",
        "e\u{301}\u{301} 👨\u{200D}👩\u{200D}👧 \t\t\n\n  <|endoftext|>  ",
    ];
    // Warm the thread-local caches first: they are allocation-free, but prove it twice.
    for text in texts {
        assert!(cl100k().count(text) > 0);
    }
    for text in texts {
        let mut n = 0;
        assert_eq!(
            allocations_while(|| n = cl100k().count(text)),
            0,
            "{text:?}"
        );
        assert!(n > 0);
        let mut m = None;
        assert_eq!(
            allocations_while(|| m = cl100k().count_up_to(text, 8192)),
            0
        );
        assert_eq!(m, Some(n));
    }
    // A piece of more than 512 bytes that is not one token may allocate its buffers, and the
    // allocator above does see allocations.
    let long = "abcdefghij".repeat(100);
    assert!(
        allocations_while(|| assert_eq!(cl100k().count(&long), cl100k().encode(&long).len())) > 0
    );
}
