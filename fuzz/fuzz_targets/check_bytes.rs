//! Arbitrary bytes as a request body: never panics, and every answer keeps the
//! contract's invariants (see `embedguard_fuzz::check_and_verify`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = embedguard_fuzz::check_and_verify(embedguard_fuzz::policy(), body);
});
