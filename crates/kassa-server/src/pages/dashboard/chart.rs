//! The home page's bar chart of completed volume per day, drawn on the server as an inline SVG
//! (no script; its colours come from the stylesheet, so no inline style under the CSP). The
//! numbers it shows are also in a table on the page, for screen readers and for reading.

/// The chart's drawing area, in SVG user units; CSS scales it to the page's width.
pub(super) const WIDTH: u32 = 300;
pub(super) const HEIGHT: u32 = 100;

/// One day's bar: where it is drawn, and what it says on hover.
pub(super) struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// One of the most recent days (drawn in the brand colour; the older ones lighter).
    pub recent: bool,
    pub title: String,
}

/// One day of the chart, as the table under it lists it.
pub(super) struct Day {
    /// "Dec 6".
    pub label: String,
    pub count: i64,
    pub minor: i64,
}

/// Bars for `days` (oldest first), scaled so the largest fills the height; a day with nothing
/// has no bar, and a day with little still shows one unit. The last `recent` days are marked.
pub(super) fn bars(days: &[Day], recent: usize, amount: impl Fn(i64) -> String) -> Vec<Bar> {
    let max = days.iter().map(|d| d.minor).max().unwrap_or(0).max(1);
    let slot = f64::from(WIDTH) / days.len().max(1) as f64;
    let gap = (slot * 0.2).min(2.0);
    let first_recent = days.len().saturating_sub(recent);
    days.iter()
        .enumerate()
        .filter(|(_, d)| d.minor > 0)
        .map(|(i, d)| {
            let share = d.minor as f64 / max as f64;
            let height = (share * f64::from(HEIGHT)).max(1.0);
            Bar {
                x: format!("{:.1}", i as f64 * slot + gap / 2.0),
                y: format!("{:.1}", f64::from(HEIGHT) - height),
                width: format!("{:.1}", slot - gap),
                height: format!("{height:.1}"),
                recent: i >= first_recent,
                title: format!(
                    "{}: {} ({} payment{})",
                    d.label,
                    amount(d.minor),
                    d.count,
                    if d.count == 1 { "" } else { "s" }
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(label: &str, count: i64, minor: i64) -> Day {
        Day {
            label: label.into(),
            count,
            minor,
        }
    }

    #[test]
    fn the_largest_day_fills_the_height_and_empty_days_have_no_bar() {
        let days = [
            day("Dec 4", 1, 500),
            day("Dec 5", 0, 0),
            day("Dec 6", 2, 1000),
        ];
        let bars = bars(&days, 1, |m| format!("${m}"));
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].x, "1.0");
        assert_eq!(bars[0].height, "50.0");
        assert_eq!(bars[0].y, "50.0");
        assert_eq!(bars[0].width, "98.0");
        assert!(!bars[0].recent);
        assert_eq!(bars[0].title, "Dec 4: $500 (1 payment)");
        assert_eq!(bars[1].x, "201.0");
        assert_eq!(bars[1].height, "100.0");
        assert_eq!(bars[1].y, "0.0");
        assert!(bars[1].recent);
        assert_eq!(bars[1].title, "Dec 6: $1000 (2 payments)");
    }

    #[test]
    fn a_small_day_still_shows_and_nothing_at_all_draws_nothing() {
        let days = [day("a", 1, 1), day("b", 1, 1_000_000)];
        assert_eq!(bars(&days, 7, |m| m.to_string())[0].height, "1.0");
        let empty: Vec<Day> = (0..30).map(|i| day(&i.to_string(), 0, 0)).collect();
        assert!(bars(&empty, 7, |m| m.to_string()).is_empty());
        assert!(bars(&[], 7, |m| m.to_string()).is_empty());
    }
}
