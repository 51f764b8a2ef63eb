//! Durations as OpenAI prints them in rate-limit messages and headers.

use std::fmt::Write as _;
use std::time::Duration;

/// Prints a duration as OpenAI's rate-limit messages and `x-ratelimit-reset-*` headers do.
///
/// - under 1 s: whole milliseconds, `{n}ms` (`0ms`, `17ms`);
/// - under 60 s: seconds with at most 3 decimals and no trailing zeros, then `s`
///   (`2.812s`, `6s`);
/// - longer: `{m}m{s}s`, the seconds part written as above (`1m30s`, `6m0s`, `1m0.5s`;
///   the fractional seconds after minutes follow Go's `time.Duration`, which OpenAI's
///   headers show; *ours* where the contract gives no example).
///
/// The precision is the millisecond, rounded **up**: a client that waits the printed time
/// finds the bucket holding what it was told it would hold.
///
/// ```
/// use std::time::Duration;
/// use embedguard::format_duration;
///
/// assert_eq!(format_duration(Duration::from_millis(2812)), "2.812s");
/// assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
/// assert_eq!(format_duration(Duration::from_micros(1)), "1ms");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let mut out = String::new();
    write_millis(&mut out, millis_up(duration));
    out
}

/// Whole milliseconds, rounded up, saturating at `u64::MAX`.
pub(crate) fn millis_up(duration: Duration) -> u64 {
    let ms = duration.as_millis() + u128::from(duration.subsec_nanos() % 1_000_000 != 0);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// Appends `ms` milliseconds in the contract's format.
pub(crate) fn write_millis(out: &mut String, ms: u64) {
    if ms < 1000 {
        let _ = write!(out, "{ms}ms");
        return;
    }
    if ms >= 60_000 {
        let _ = write!(out, "{}m", ms / 60_000);
    }
    write_seconds(out, ms % 60_000);
}

/// `ms` (under a minute) as seconds with at most 3 decimals and no trailing zeros.
fn write_seconds(out: &mut String, ms: u64) {
    let (whole, mut frac) = (ms / 1000, ms % 1000);
    let _ = write!(out, "{whole}");
    if frac != 0 {
        let mut digits = 3;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        let _ = write!(out, ".{frac:0digits$}");
    }
    out.push('s');
}
