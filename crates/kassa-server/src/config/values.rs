//! How a configuration value's text is read: durations, rates, counts and times of day, each
//! with the error message a user sees next to the key's name.

use std::time::Duration;

use kassa_core::limit::Rate;

/// "300", "300s", "5m", "2h", "1d", "250ms".
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 300s, 5m or 1h"))?;
    let secs = |k: u64| n.checked_mul(k).map(Duration::from_secs);
    match unit {
        "" | "s" => secs(1),
        "ms" => Some(Duration::from_millis(n)),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => None,
    }
    .ok_or_else(|| format!("{s:?} is not a duration like 300s, 5m or 1h"))
}

/// A rate like `20/1m`, or `off`.
pub(super) fn parse_rate_or_off(v: &str) -> Result<Option<Rate>, String> {
    if v.trim() == "off" {
        return Ok(None);
    }
    Rate::parse(v).map(Some).map_err(|e| format!("{e}, or off"))
}

/// A whole number from `lo` to `hi`.
pub(super) fn parse_count(v: &str, lo: u32, hi: u32) -> Result<u32, String> {
    v.trim()
        .parse()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("must be a number from {lo} to {hi}"))
}

/// A duration from `lo` to `hi` (named `lo_text` and `hi_text` in the error).
pub(super) fn parse_duration_within(
    v: &str,
    lo: Duration,
    hi: Duration,
    lo_text: &str,
    hi_text: &str,
) -> Result<Duration, String> {
    parse_duration(v)
        .ok()
        .filter(|d| (lo..=hi).contains(d))
        .ok_or_else(|| format!("must be a duration from {lo_text} to {hi_text}"))
}

/// One of the connection timeouts of `http.*`: from 100 ms to an hour.
pub(super) fn http_timeout(v: &str) -> Result<Duration, String> {
    parse_duration_within(
        v,
        Duration::from_millis(100),
        Duration::from_secs(3600),
        "100ms",
        "1h",
    )
}
