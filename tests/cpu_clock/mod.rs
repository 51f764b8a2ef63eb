//! This thread's CPU time, for timing tests and benches: on a shared machine the wall clock
//! counts other work, the thread's CPU clock only this thread's. Included by path from
//! `tests/common`, `tests/hf_hostile.rs` and the criterion-free benches.

#![allow(dead_code)] // Each binary uses its own part of this module.

use std::time::Duration;

/// This thread's CPU time (a monotonic clock elsewhere than on Unix).
#[cfg(unix)]
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill in.
    #[allow(unsafe_code)]
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the thread's CPU clock");
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

#[cfg(not(unix))]
pub fn thread_cpu_time() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// [`thread_cpu_time`] in nanoseconds.
pub fn thread_cpu_ns() -> u128 {
    thread_cpu_time().as_nanos()
}
