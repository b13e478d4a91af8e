//! Periods of days in a partner's timezone, as the dashboard filters and charts by them: the
//! date presets (Today, Last 7 days, Last 30 days, This month, All) and the instants a run of
//! local days starts and ends at. A zone is given as its UTC offset at each instant, so the rule
//! holds across daylight-saving changes and needs no zone database here.

use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// A date preset of the Transactions page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Today,
    Last7Days,
    Last30Days,
    ThisMonth,
    All,
}

impl Preset {
    pub const ALL: [Preset; 5] = [
        Preset::Today,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::ThisMonth,
        Preset::All,
    ];

    /// Its value in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::Last7Days => "7d",
            Preset::Last30Days => "30d",
            Preset::ThisMonth => "month",
            Preset::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Today => "Today",
            Preset::Last7Days => "Last 7 days",
            Preset::Last30Days => "Last 30 days",
            Preset::ThisMonth => "This month",
            Preset::All => "All",
        }
    }

    pub fn parse_str(s: &str) -> Option<Preset> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Its first and last day (both included) when today is `today`; None for All.
    pub fn days(self, today: Date) -> Option<(Date, Date)> {
        let back = |n: i64| today.checked_sub(Duration::days(n)).unwrap_or(Date::MIN);
        match self {
            Preset::Today => Some((today, today)),
            Preset::Last7Days => Some((back(6), today)),
            Preset::Last30Days => Some((back(29), today)),
            Preset::ThisMonth => Some((today.replace_day(1).unwrap_or(today), today)),
            Preset::All => None,
        }
    }
}

/// The instant `day` starts in a zone whose offset at an instant is `offset_at`: its local
/// midnight, or when a clock change skips midnight, the first instant of the day.
pub fn start_of_day(day: Date, offset_at: impl Fn(OffsetDateTime) -> UtcOffset) -> OffsetDateTime {
    let midnight = day.midnight();
    let under = |offset: UtcOffset| midnight.assume_offset(offset).to_offset(UtcOffset::UTC);
    // The offset in force near midnight, checked at the instant it gives; then once more.
    let first_offset = offset_at(midnight.assume_utc());
    let first = under(first_offset);
    let second_offset = offset_at(first);
    if second_offset == first_offset {
        return first;
    }
    let second = under(second_offset);
    if offset_at(second) == second_offset {
        return second;
    }
    // Midnight does not exist (the clocks jumped over it): the day starts at the later reading.
    first.max(second)
}

/// The instants from the start of `first` up to (not including) the start of the day after
/// `last`, in a zone whose offset at an instant is `offset_at`.
pub fn day_span(
    first: Date,
    last: Date,
    offset_at: impl Fn(OffsetDateTime) -> UtcOffset,
) -> (OffsetDateTime, OffsetDateTime) {
    let after = last.next_day().unwrap_or(last);
    (
        start_of_day(first, &offset_at),
        start_of_day(after, &offset_at),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset};

    fn fixed(o: UtcOffset) -> impl Fn(OffsetDateTime) -> UtcOffset {
        move |_| o
    }

    /// New York in 2026: EST (-5) until 2026-03-08 07:00 UTC, then EDT (-4) until
    /// 2026-11-01 06:00 UTC.
    fn new_york(t: OffsetDateTime) -> UtcOffset {
        if t >= datetime!(2026-03-08 07:00 UTC) && t < datetime!(2026-11-01 06:00 UTC) {
            offset!(-4)
        } else {
            offset!(-5)
        }
    }

    /// A zone whose clocks jump from 00:00 to 01:00 on 2026-09-06 (-3 to -2, at 03:00 UTC).
    fn skips_midnight(t: OffsetDateTime) -> UtcOffset {
        if t >= datetime!(2026-09-06 03:00 UTC) {
            offset!(-2)
        } else {
            offset!(-3)
        }
    }

    #[test]
    fn presets_are_runs_of_days_ending_today() {
        let today = date!(2026 - 12 - 06);
        assert_eq!(Preset::Today.days(today), Some((today, today)));
        assert_eq!(
            Preset::Last7Days.days(today),
            Some((date!(2026 - 11 - 30), today))
        );
        assert_eq!(
            Preset::Last30Days.days(today),
            Some((date!(2026 - 11 - 07), today))
        );
        assert_eq!(
            Preset::ThisMonth.days(today),
            Some((date!(2026 - 12 - 01), today))
        );
        assert_eq!(Preset::All.days(today), None);
        for p in Preset::ALL {
            assert_eq!(Preset::parse_str(p.as_str()), Some(p));
        }
        assert_eq!(Preset::parse_str("yesterday"), None);
    }

    #[test]
    fn a_day_starts_at_local_midnight() {
        assert_eq!(
            start_of_day(date!(2026 - 12 - 06), fixed(UtcOffset::UTC)),
            datetime!(2026-12-06 00:00 UTC)
        );
        assert_eq!(
            start_of_day(date!(2026 - 12 - 06), new_york),
            datetime!(2026-12-06 05:00 UTC)
        );
        assert_eq!(
            start_of_day(date!(2026 - 07 - 04), new_york),
            datetime!(2026-07-04 04:00 UTC)
        );
        assert_eq!(
            start_of_day(date!(2026 - 12 - 06), fixed(offset!(+5:30))),
            datetime!(2026-12-05 18:30 UTC)
        );
    }

    #[test]
    fn days_around_a_clock_change_keep_their_own_offsets() {
        // The day of the spring change starts in EST and the next one in EDT: 23 hours.
        let (start, end) = day_span(date!(2026 - 03 - 08), date!(2026 - 03 - 08), new_york);
        assert_eq!(start, datetime!(2026-03-08 05:00 UTC));
        assert_eq!(end, datetime!(2026-03-09 04:00 UTC));
        // The autumn change: 25 hours.
        let (start, end) = day_span(date!(2026 - 11 - 01), date!(2026 - 11 - 01), new_york);
        assert_eq!(start, datetime!(2026-11-01 04:00 UTC));
        assert_eq!(end, datetime!(2026-11-02 05:00 UTC));
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_at_the_change() {
        assert_eq!(
            start_of_day(date!(2026 - 09 - 06), skips_midnight),
            datetime!(2026-09-06 03:00 UTC)
        );
        assert_eq!(
            start_of_day(date!(2026 - 09 - 07), skips_midnight),
            datetime!(2026-09-07 02:00 UTC)
        );
    }
}
