//! Arbitrary bytes as a request body and as an `Authorization` header: never panics,
//! and every answer keeps the contract's invariants (see `embedguard_fuzz`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = embedguard_fuzz::check_and_verify(embedguard_fuzz::policy(), data);
    embedguard_fuzz::check_header_and_verify(data);
    if let Some(rest) = data.strip_prefix(b"B") {
        // Most headers worth trying start with the scheme.
        let header = [b"Bearer ".as_slice(), rest].concat();
        embedguard_fuzz::check_header_and_verify(&header);
    }
});
