//! The partner's time zone (a setting, docs/api.md §11): every time a partner or a payer reads —
//! in the dashboard, a CSV, a receipt or an email — is shown in it. Kassa stores and computes in
//! UTC; this is only how an instant is written for people. The IANA database is compiled in, so
//! the answer does not depend on the host's `/usr/share/zoneinfo`.

use std::fmt;

use time::{OffsetDateTime, UtcOffset};

use crate::error::ValidationError;

/// An IANA time zone name such as `America/New_York`, known to the compiled-in database; `UTC`
/// by default.
#[derive(Clone)]
pub struct Timezone {
    name: String,
    zone: jiff::tz::TimeZone,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimezoneError {
    #[error("must be an IANA time zone name such as America/New_York")]
    Unknown,
}

impl ValidationError for TimezoneError {
    fn code(&self) -> &'static str {
        "invalid_timezone"
    }
}

/// Longest IANA name is under 40 characters; anything longer is not one.
const MAX_NAME: usize = 64;

impl Timezone {
    pub fn utc() -> Timezone {
        Timezone {
            name: "UTC".to_owned(),
            zone: jiff::tz::TimeZone::UTC,
        }
    }

    /// A name from the database, matched without regard to case and stored as the database
    /// spells it (`america/new_york` → `America/New_York`).
    pub fn parse(s: &str) -> Result<Timezone, TimezoneError> {
        let s = s.trim();
        if s.is_empty()
            || s.len() > MAX_NAME
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b))
        {
            return Err(TimezoneError::Unknown);
        }
        let db = jiff::tz::db();
        let zone = db.get(s).map_err(|_| TimezoneError::Unknown)?;
        // The database's own spelling, so one zone is stored one way.
        let name = db
            .available()
            .find(|n| n.as_str().eq_ignore_ascii_case(s))
            .map(|n| n.as_str().to_owned())
            .unwrap_or_else(|| s.to_owned());
        Ok(Timezone { name, zone })
    }

    /// A name read back from the database, which was checked when it was stored; one the
    /// compiled-in database no longer knows is shown as UTC rather than failing a page.
    pub fn from_trusted(s: &str) -> Timezone {
        // Read with every partner: UTC, the default, costs no lookup, and a stored name is
        // already spelled as the database spells it.
        if s == "UTC" {
            return Timezone::utc();
        }
        match jiff::tz::db().get(s) {
            Ok(zone) => Timezone {
                name: s.to_owned(),
                zone,
            },
            Err(_) => Timezone::utc(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_utc(&self) -> bool {
        self.name == "UTC"
    }

    /// The zone's offset from UTC at the instant `t`.
    pub fn offset_at(&self, t: OffsetDateTime) -> UtcOffset {
        let seconds = self.zone.to_offset(timestamp(t)).seconds();
        UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
    }

    /// The instant `t` as the zone's wall clock shows it.
    pub fn local(&self, t: OffsetDateTime) -> OffsetDateTime {
        t.to_offset(self.offset_at(t))
    }

    /// The short name of the zone at `t` (`EST`, `CET`), or its offset (`+0530`) where the
    /// database has no abbreviation of letters.
    pub fn abbreviation(&self, t: OffsetDateTime) -> String {
        let info = self.zone.to_offset_info(timestamp(t));
        let abbreviation = info.abbreviation();
        if !abbreviation.is_empty() && abbreviation.bytes().all(|b| b.is_ascii_alphabetic()) {
            return abbreviation.to_owned();
        }
        let offset = self.offset_at(t);
        let (h, m, _) = offset.as_hms();
        let sign = if offset.is_negative() { '-' } else { '+' };
        format!("{sign}{:02}{:02}", h.unsigned_abs(), m.unsigned_abs())
    }
}

fn timestamp(t: OffsetDateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

impl Default for Timezone {
    fn default() -> Self {
        Timezone::utc()
    }
}

impl PartialEq for Timezone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Timezone {}

impl fmt::Debug for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Timezone").field(&self.name).finish()
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `Dec 6, 2026`, the date of `t` in `tz`.
pub fn format_date(tz: &Timezone, t: OffsetDateTime) -> String {
    let local = tz.local(t);
    format!(
        "{} {}, {}",
        MONTHS[usize::from(u8::from(local.month())) - 1],
        local.day(),
        local.year()
    )
}

/// `Dec 6, 2026, 2:10 PM EST`, the wall-clock time of `t` in `tz`, named.
pub fn format_datetime(tz: &Timezone, t: OffsetDateTime) -> String {
    let local = tz.local(t);
    let (hour, meridiem) = match local.hour() {
        0 => (12, "AM"),
        h @ 1..=11 => (h, "AM"),
        12 => (12, "PM"),
        h => (h - 12, "PM"),
    };
    format!(
        "{}, {}:{:02} {} {}",
        format_date(tz, t),
        hour,
        local.minute(),
        meridiem,
        tz.abbreviation(t)
    )
}

/// `2026-12-06T09:10:00-05:00`: RFC 3339 at the zone's offset, for CSV files, where a time must
/// stay unambiguous for a program and readable for a person.
pub fn format_rfc3339(tz: &Timezone, t: OffsetDateTime) -> String {
    let local = tz.local(t).replace_nanosecond(0).unwrap_or(t);
    local
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_are_checked_and_spelled_as_the_database_does() {
        assert_eq!(
            Timezone::parse("America/New_York").unwrap().name(),
            "America/New_York"
        );
        assert_eq!(
            Timezone::parse(" america/new_york ").unwrap().name(),
            "America/New_York"
        );
        assert_eq!(Timezone::parse("UTC").unwrap().name(), "UTC");
        for bad in [
            "",
            "Mars/Olympus",
            "America/New York",
            "../../etc/passwd",
            "America/New_York\0",
            "<script>",
            &"A".repeat(65),
        ] {
            assert_eq!(
                Timezone::parse(bad).unwrap_err().code(),
                "invalid_timezone",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn winter_and_summer_offsets_follow_the_zone() {
        let ny = Timezone::parse("America/New_York").unwrap();
        let winter = datetime!(2026-12-06 19:10 UTC);
        let summer = datetime!(2026-07-01 16:00 UTC);
        assert_eq!(ny.offset_at(winter).whole_hours(), -5);
        assert_eq!(ny.offset_at(summer).whole_hours(), -4);
        assert_eq!(format_datetime(&ny, winter), "Dec 6, 2026, 2:10 PM EST");
        assert_eq!(format_datetime(&ny, summer), "Jul 1, 2026, 12:00 PM EDT");
        assert_eq!(format_rfc3339(&ny, winter), "2026-12-06T14:10:00-05:00");
    }

    #[test]
    fn the_local_date_can_differ_from_utc() {
        let tokyo = Timezone::parse("Asia/Tokyo").unwrap();
        let t = datetime!(2026-12-06 20:00 UTC);
        assert_eq!(format_date(&tokyo, t), "Dec 7, 2026");
        assert_eq!(format_date(&Timezone::utc(), t), "Dec 6, 2026");
        assert_eq!(format_datetime(&tokyo, t), "Dec 7, 2026, 5:00 AM JST");
    }

    #[test]
    fn zones_without_a_lettered_abbreviation_show_their_offset() {
        let kolkata = Timezone::parse("Asia/Kolkata").unwrap();
        let t = datetime!(2026-12-06 00:00 UTC);
        assert_eq!(kolkata.abbreviation(t), "IST");
        let tehran = Timezone::parse("Asia/Tehran").unwrap();
        assert_eq!(tehran.abbreviation(t), "+0330");
        assert_eq!(
            format_datetime(&Timezone::utc(), t),
            "Dec 6, 2026, 12:00 AM UTC"
        );
    }

    #[test]
    fn a_stored_name_the_database_lost_reads_as_utc() {
        assert!(Timezone::from_trusted("Nowhere/Gone").is_utc());
    }
}
