//! Time as a dependency: code asks a [`Clock`] instead of calling `now_utc()`, so tests
//! can freeze and move time. Timestamps are stored as microseconds since the Unix epoch.

use std::sync::{Mutex, MutexGuard};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock (UTC).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// For tests: time stands still until moved.
#[derive(Debug)]
pub struct FrozenClock(Mutex<OffsetDateTime>);

impl FrozenClock {
    pub fn new(at: OffsetDateTime) -> Self {
        FrozenClock(Mutex::new(at))
    }

    // A panic in another test thread must not make the clock unusable, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, OffsetDateTime> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.lock() = at;
    }

    pub fn advance(&self, by: time::Duration) {
        let mut t = self.lock();
        *t += by;
    }
}

impl Clock for FrozenClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

/// Microseconds since the Unix epoch — how timestamps are stored. Sub-microsecond
/// precision is truncated towards the past (floor), so ordering is preserved.
pub fn to_micros(t: OffsetDateTime) -> i64 {
    let micros = t.unix_timestamp_nanos().div_euclid(1_000);
    // time's supported range (±9999 years) is well inside i64 microseconds.
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// Inverse of [`to_micros`], in UTC. Values outside time's range (±9999 years) are clamped
/// to the nearest representable instant rather than panicking.
pub fn from_micros(us: i64) -> OffsetDateTime {
    let nanos = i128::from(us) * 1_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or_else(|_| {
        if us < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        }
    })
}

/// RFC 3339 in UTC, e.g. "2026-11-21T11:04:38.123456Z" or "2026-11-21T10:00:00Z":
/// converted to UTC so it always ends in 'Z'; trailing zero fractional digits are omitted.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let utc = t.to_offset(UtcOffset::UTC);
    // Only years outside 0000–9999 cannot be written as RFC 3339; fall back to time's own form.
    utc.format(&Rfc3339).unwrap_or_else(|_| utc.to_string())
}

/// Parses any RFC 3339 timestamp (any offset) and converts it to UTC.
pub fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, time::error::Parse> {
    OffsetDateTime::parse(s, &Rfc3339).map(|t| t.to_offset(UtcOffset::UTC))
}

/// Serde helper: `#[serde(with = "kassa_core::clock::rfc3339")]`.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(deserializer)?;
        super::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde helper for `Option<OffsetDateTime>`: `#[serde(with = "kassa_core::clock::rfc3339_option")]`.
/// `None` is `null`; add `#[serde(default)]` to also accept a missing field.
pub mod rfc3339_option {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(
        t: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => serializer.serialize_some(&super::format_rfc3339(*t)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let s = Option::<String>::deserialize(deserializer)?;
        s.map(|s| super::parse_rfc3339(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};
    use std::sync::Arc;
    use time::macros::datetime;
    use time::Duration;

    #[test]
    fn system_clock_is_utc_and_recent() {
        let now = SystemClock.now();
        assert_eq!(now.offset(), UtcOffset::UTC);
        assert!(now.year() >= 2024);
    }

    #[test]
    fn frozen_clock_stands_still_and_moves() {
        let t0 = datetime!(2026-11-21 11:04:38 UTC);
        let clock = FrozenClock::new(t0);
        assert_eq!(clock.now(), t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::minutes(5));
        assert_eq!(clock.now(), t0 + Duration::minutes(5));
        clock.advance(Duration::seconds(-10));
        assert_eq!(clock.now(), t0 + Duration::seconds(290));
        let t1 = datetime!(2030-01-01 00:00 UTC);
        clock.set(t1);
        assert_eq!(clock.now(), t1);
    }

    #[test]
    fn clocks_are_usable_as_trait_objects() {
        let c: Arc<dyn Clock> = Arc::new(FrozenClock::new(datetime!(2026-01-01 0:00 UTC)));
        assert_eq!(c.now().year(), 2026);
        let _s: Box<dyn Clock> = Box::new(SystemClock);
    }

    #[test]
    fn micros_round_trip() {
        let t = datetime!(2026-11-21 11:04:38.123456 UTC);
        let us = to_micros(t);
        assert_eq!(us, 1_795_259_078_123_456);
        assert_eq!(from_micros(us), t);
        assert_eq!(to_micros(OffsetDateTime::UNIX_EPOCH), 0);
        assert_eq!(from_micros(0), OffsetDateTime::UNIX_EPOCH);
        let before = datetime!(1969-12-31 23:59:59.999999 UTC);
        assert_eq!(to_micros(before), -1);
        assert_eq!(from_micros(-1), before);
    }

    #[test]
    fn to_micros_floors_nanos_and_ignores_offset() {
        let t = datetime!(2026-11-21 11:04:38.123456789 UTC);
        assert_eq!(
            from_micros(to_micros(t)),
            datetime!(2026-11-21 11:04:38.123456 UTC)
        );
        let before = datetime!(1969-12-31 23:59:59.9999995 UTC);
        assert_eq!(to_micros(before), -1);
        let plus2 = datetime!(2026-11-21 13:04:38.123456 +2);
        assert_eq!(
            to_micros(plus2),
            to_micros(datetime!(2026-11-21 11:04:38.123456 UTC))
        );
    }

    #[test]
    fn from_micros_clamps_instead_of_panicking() {
        assert_eq!(from_micros(i64::MAX), PrimitiveDateTime::MAX.assume_utc());
        assert_eq!(from_micros(i64::MIN), PrimitiveDateTime::MIN.assume_utc());
    }

    #[test]
    fn rfc3339_format_and_parse() {
        let t = datetime!(2026-11-21 11:04:38.123456 UTC);
        assert_eq!(format_rfc3339(t), "2026-11-21T11:04:38.123456Z");
        assert_eq!(
            format_rfc3339(datetime!(2026-01-02 03:04:05 UTC)),
            "2026-01-02T03:04:05Z"
        );
        // Non-UTC offsets are converted, so output always ends in 'Z'.
        assert_eq!(
            format_rfc3339(datetime!(2026-11-21 13:04:38.5 +2)),
            "2026-11-21T11:04:38.5Z"
        );
        assert_eq!(parse_rfc3339("2026-11-21T11:04:38.123456Z").unwrap(), t);
        let parsed = parse_rfc3339("2026-11-21T13:04:38.123456+02:00").unwrap();
        assert_eq!(parsed, t);
        assert_eq!(parsed.offset(), UtcOffset::UTC);
        assert!(parse_rfc3339("2026-11-21 11:04:38").is_err());
        assert!(parse_rfc3339("").is_err());
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Stamped {
        #[serde(with = "crate::clock::rfc3339")]
        at: OffsetDateTime,
        #[serde(with = "crate::clock::rfc3339_option", default)]
        done: Option<OffsetDateTime>,
    }

    #[test]
    fn serde_helpers() {
        let s = Stamped {
            at: datetime!(2026-11-21 11:04:38.123456 UTC),
            done: None,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"at":"2026-11-21T11:04:38.123456Z","done":null}"#);
        assert_eq!(serde_json::from_str::<Stamped>(&json).unwrap(), s);

        let s2 = Stamped {
            done: Some(datetime!(2026-11-22 00:00 UTC)),
            ..s
        };
        let json = serde_json::to_string(&s2).unwrap();
        assert_eq!(
            json,
            r#"{"at":"2026-11-21T11:04:38.123456Z","done":"2026-11-22T00:00:00Z"}"#
        );
        assert_eq!(serde_json::from_str::<Stamped>(&json).unwrap(), s2);

        let missing: Stamped = serde_json::from_str(r#"{"at":"2026-11-21T11:04:38Z"}"#).unwrap();
        assert_eq!(missing.done, None);
        assert!(serde_json::from_str::<Stamped>(r#"{"at":"yesterday"}"#).is_err());
        assert!(
            serde_json::from_str::<Stamped>(r#"{"at":"2026-11-21T11:04:38Z","done":"x"}"#).is_err()
        );
    }
}
