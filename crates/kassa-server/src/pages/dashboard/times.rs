//! Every time the dashboard shows, on a page or in a CSV, passes here: it is written in the
//! partner's timezone (a setting), and days (date filters, presets, the home chart) are that
//! zone's days. Pages say "Dec 6, 2026, 2:10 PM EST"; CSV files and `<time datetime>` say ISO
//! 8601 with the offset ("2026-12-06T09:10:00-05:00"), so they stay unambiguous.

use kassa_core::timezone::{format_datetime, format_rfc3339, Timezone};
use kassa_store::Partner;
use time::{Date, OffsetDateTime};

/// The partner's zone, and how the dashboard writes times in it.
pub(super) struct Times {
    zone: Timezone,
}

impl Times {
    pub(super) fn of(partner: &Partner) -> Times {
        Times {
            zone: partner.timezone.clone(),
        }
    }

    /// The zone's name, as the pages say it ("Times in America/New_York").
    pub(super) fn name(&self) -> &str {
        self.zone.name()
    }

    /// "Dec 6, 2026, 2:10 PM EST".
    pub(super) fn when(&self, t: OffsetDateTime) -> String {
        format_datetime(&self.zone, t)
    }

    /// "Dec 6" (a day of the zone, as the home chart labels it).
    pub(super) fn short_day(&self, d: Date) -> String {
        let format = time::macros::format_description!("[month repr:short] [day padding:none]");
        d.format(format).unwrap_or_else(|_| d.to_string())
    }

    /// ISO 8601 with the zone's offset, to the second: "2026-12-06T09:10:00-05:00".
    pub(super) fn iso(&self, t: OffsetDateTime) -> String {
        format_rfc3339(&self.zone, t)
    }

    /// The zone's date at an instant.
    pub(super) fn date(&self, t: OffsetDateTime) -> Date {
        self.zone.local(t).date()
    }

    /// From the start of `first` up to (not including) the start of the day after `last`.
    pub(super) fn span(&self, first: Date, last: Date) -> (OffsetDateTime, OffsetDateTime) {
        kassa_core::period::day_span(first, last, |t| self.zone.offset_at(t))
    }
}
