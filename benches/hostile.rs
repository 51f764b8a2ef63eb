//! The hostile-input catalogue (`tests/common/mod.rs`) through `Policy::check`, as
//! throughput: the time per MB of body that the "Untrusted input" promise bounds
//! (60 ms/MB). The tests check the same bound with a wide margin; this reports the figure.
//!
//! `cargo bench --bench hostile`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "../tests/common/mod.rs"]
mod common;

fn hostile(c: &mut Criterion) {
    let policy = embedguard::Policy::openai();
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for entry in common::CATALOGUE {
        let case = (entry.build)();
        // Tiny bodies say nothing about time per byte.
        if case.body.len() < 10_000 {
            continue;
        }
        group.throughput(Throughput::Bytes(case.body.len() as u64));
        group.bench_function(entry.name, |b| {
            b.iter(|| policy.check(black_box(&case.body)).is_ok())
        });
    }
    group.finish();
}

criterion_group!(benches, hostile);
criterion_main!(benches);
