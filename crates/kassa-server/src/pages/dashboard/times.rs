//! Every time the dashboard shows, on a page or in a CSV, passes here: it is written in the
//! partner's timezone (a setting), and days (date filters, presets, the home chart) are that
//! zone's days. Pages say "Dec 6, 2026, 2:10 PM EST"; CSV files and `<time datetime>` say ISO
//! 8601 with the offset ("2026-12-06T09:10:00-05:00"), so they stay unambiguous.

use kassa_store::Partner;
use time::{Date, OffsetDateTime, UtcOffset};

/// The partner's zone, and how the dashboard writes times in it.
pub(super) struct Times {
    name: String,
}

impl Times {
    pub(super) fn of(_partner: &Partner) -> Times {
        Times { name: "UTC".into() }
    }

    /// The zone's name, as the pages say it ("Times in America/New_York").
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The instant as it reads on the zone's clocks.
    pub(super) fn local(&self, t: OffsetDateTime) -> OffsetDateTime {
        t.to_offset(UtcOffset::UTC)
    }

    fn offset_at(&self, t: OffsetDateTime) -> UtcOffset {
        self.local(t).offset()
    }

    /// "Dec 6, 2026, 2:10 PM EST".
    pub(super) fn when(&self, t: OffsetDateTime) -> String {
        let local = self.local(t);
        let format = time::macros::format_description!(
            "[month repr:short] [day padding:none], [year], [hour repr:12 padding:none]:[minute] [period]"
        );
        let text = local
            .format(format)
            .unwrap_or_else(|_| kassa_core::clock::format_rfc3339(t));
        format!("{text} UTC")
    }

    /// "Dec 6" (a day of the zone, as the home chart labels it).
    pub(super) fn short_day(&self, d: Date) -> String {
        let format = time::macros::format_description!("[month repr:short] [day padding:none]");
        d.format(format).unwrap_or_else(|_| d.to_string())
    }

    /// ISO 8601 with the zone's offset, to the second: "2026-12-06T09:10:00-05:00".
    pub(super) fn iso(&self, t: OffsetDateTime) -> String {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
        );
        self.local(t)
            .format(format)
            .unwrap_or_else(|_| kassa_core::clock::format_rfc3339(t))
    }

    /// The zone's date at an instant.
    pub(super) fn date(&self, t: OffsetDateTime) -> Date {
        self.local(t).date()
    }

    /// From the start of `first` up to (not including) the start of the day after `last`.
    pub(super) fn span(&self, first: Date, last: Date) -> (OffsetDateTime, OffsetDateTime) {
        kassa_core::period::day_span(first, last, |t| self.offset_at(t))
    }
}
