//! Abuse limits as arithmetic: a [`Rate`] ("20 a minute") and the generic cell rate algorithm
//! (GCRA) that admits or refuses one more event. Each limit keeps a single number, its
//! *theoretical arrival time* (TAT): the instant at which the bucket would be empty again. The
//! store applies [`admit`]'s rule as one conditional upsert, so concurrent events count as they
//! arrive; the server keeps per-instance limits with the same rule in memory (`governor`).
//!
//! A rate of `count` per `per` lets `count` events through at once and then one every
//! `per / count`: "5 per 15 minutes" refuses the 6th failure at once, and allows one more every
//! 3 minutes after that.

use std::fmt;
use std::time::Duration;

/// `count` events per `per`, in bursts of up to `burst` (by default `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
    pub burst: u32,
}

impl Rate {
    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate {
            count,
            per,
            burst: count,
        }
    }

    /// Parses `"20/1m"`, `"10/10m"`, `"100/1s"`, `"5/15m"` (count, a slash, a duration with a
    /// unit `ms`, `s`, `m`, `h` or `d`). The count is 1 to 1,000,000 and the duration 1 ms to 30
    /// days.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || format!("{text:?} is not a rate like 20/1m or 5/15m");
        let (count, per) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(bad)?;
        let per = parse_window(per.trim()).ok_or_else(bad)?;
        Ok(Rate::new(count, per))
    }

    /// The time one event takes to leave the bucket (`per / count`), at least 1 µs.
    pub fn interval_micros(&self) -> i64 {
        (self.per.as_micros() as i64 / i64::from(self.count)).max(1)
    }

    /// How far ahead of now the TAT may run: `burst` intervals.
    pub fn tolerance_micros(&self) -> i64 {
        self.interval_micros() * i64::from(self.burst)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.per.as_millis();
        let per = match ms {
            _ if ms.is_multiple_of(86_400_000) => format!("{}d", ms / 86_400_000),
            _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
            _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
            _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
            _ => format!("{ms}ms"),
        };
        write!(f, "{}/{per}", self.count)
    }
}

fn parse_window(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n.checked_mul(1000)?,
        "m" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        "d" => n.checked_mul(86_400_000)?,
        _ => return None,
    };
    (1..=30 * 86_400_000)
        .contains(&ms)
        .then(|| Duration::from_millis(ms))
}

/// What [`admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Counted: store `tat` as the new theoretical arrival time.
    Admitted { tat: i64 },
    /// Refused; one more event would be admitted after `retry_after_micros`.
    Refused { retry_after_micros: i64 },
}

/// One more event at `now` (µs since the epoch) against a limit whose stored TAT is `tat`
/// (`None`: never seen, or forgotten). The store's upsert is this rule in SQL:
/// `new = max(tat, now) + interval`, admitted when `new - now <= tolerance`.
pub fn admit(rate: &Rate, tat: Option<i64>, now: i64) -> Admission {
    let new = tat.unwrap_or(now).max(now) + rate.interval_micros();
    if new - now <= rate.tolerance_micros() {
        Admission::Admitted { tat: new }
    } else {
        Admission::Refused {
            retry_after_micros: new - now - rate.tolerance_micros(),
        }
    }
}

/// The TAT after giving one event back (an attempt that turned out not to count, such as a
/// correct password). Never earlier than `now`: a bucket is never more than empty.
pub fn give_back(rate: &Rate, tat: i64, now: i64) -> i64 {
    (tat - rate.interval_micros()).max(now)
}

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
pub fn retry_after_secs(retry_after_micros: i64) -> u64 {
    (retry_after_micros.max(1) as u64).div_ceil(1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;

    #[test]
    fn rates_parse_and_print() {
        let r = Rate::parse("5/15m").unwrap();
        assert_eq!(r.count, 5);
        assert_eq!(r.per, Duration::from_secs(900));
        assert_eq!(r.burst, 5);
        assert_eq!(r.to_string(), "5/15m");
        assert_eq!(Rate::parse("100/1s").unwrap().to_string(), "100/1s");
        assert_eq!(Rate::parse(" 10 / 10m ").unwrap().to_string(), "10/10m");
        assert_eq!(Rate::parse("1000/1h").unwrap().interval_micros(), 3_600_000);
        assert_eq!(Rate::parse("3/250ms").unwrap().to_string(), "3/250ms");
        for bad in [
            "",
            "5",
            "5/",
            "/1m",
            "0/1m",
            "-1/1m",
            "5/15",
            "5/15x",
            "5/0s",
            "5/31d",
            "a/1m",
            "1000001/1s",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_burst_is_admitted_then_refused_until_one_interval_passes() {
        let rate = Rate::parse("5/15m").unwrap();
        let now = 1_000 * MIN;
        let mut tat = None;
        for _ in 0..5 {
            match admit(&rate, tat, now) {
                Admission::Admitted { tat: t } => tat = Some(t),
                refused => panic!("{refused:?}"),
            }
        }
        assert_eq!(
            admit(&rate, tat, now),
            Admission::Refused {
                retry_after_micros: 3 * MIN
            }
        );
        // One interval (3 minutes) later, exactly one more.
        let later = now + 3 * MIN;
        let Admission::Admitted { tat: t } = admit(&rate, tat, later) else {
            panic!("one more after an interval")
        };
        assert!(matches!(
            admit(&rate, Some(t), later),
            Admission::Refused { .. }
        ));
        // After the whole window the bucket is empty again: five more.
        let mut tat = Some(t);
        for _ in 0..5 {
            match admit(&rate, tat, later + 15 * MIN) {
                Admission::Admitted { tat: t } => tat = Some(t),
                refused => panic!("{refused:?}"),
            }
        }
    }

    #[test]
    fn giving_back_frees_one_slot_and_never_more_than_empty() {
        let rate = Rate::parse("2/1m").unwrap();
        let now = 50 * MIN;
        let Admission::Admitted { tat } = admit(&rate, None, now) else {
            panic!()
        };
        let Admission::Admitted { tat } = admit(&rate, Some(tat), now) else {
            panic!()
        };
        assert!(matches!(
            admit(&rate, Some(tat), now),
            Admission::Refused { .. }
        ));
        let back = give_back(&rate, tat, now);
        assert!(matches!(
            admit(&rate, Some(back), now),
            Admission::Admitted { .. }
        ));
        assert_eq!(give_back(&rate, now, now), now);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(0), 1);
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(1_000_000), 1);
        assert_eq!(retry_after_secs(1_000_001), 2);
        assert_eq!(retry_after_secs(180_000_000), 180);
    }
}
