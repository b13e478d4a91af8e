//! Challenge mode (docs/api.md §8): when a partner's pay pages see more declines than a
//! threshold within a window, and those declines are more than half of all attempts, its pay
//! pages ask for a proof of work (see `proof_of_work`) for a while. This file holds the rule as
//! arithmetic; the store counts the attempts and applies it in one write transaction.

use time::OffsetDateTime;

use crate::limit::Rate;
use crate::payment::DeclineCode;

/// When challenge mode switches on, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeRule {
    /// More than `count` declines within `per` (and more than half the attempts) switch it on.
    pub declines: Rate,
    /// How long it stays on once switched on (or extended).
    pub duration: std::time::Duration,
}

/// A partner's pay-page attempts within the rule's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PayPageCounts {
    /// Every attempt started on a pay page, whatever became of it.
    pub attempts: i64,
    /// Those the processor declined.
    pub declines: i64,
}

/// Every processor decline: the failure codes that count as declines (an ACH debit returned by
/// the bank days later is a failure too, but not one a card tester causes on the page).
pub const DECLINE_CODES: [DeclineCode; 5] = [
    DeclineCode::CardDeclined,
    DeclineCode::InsufficientFunds,
    DeclineCode::ExpiredCard,
    DeclineCode::IncorrectCvc,
    DeclineCode::ProcessingError,
];

// A new decline code fails to compile here until it is added to DECLINE_CODES above.
const _: fn(DeclineCode) = |code| match code {
    DeclineCode::CardDeclined
    | DeclineCode::InsufficientFunds
    | DeclineCode::ExpiredCard
    | DeclineCode::IncorrectCvc
    | DeclineCode::ProcessingError => {}
};

impl ChallengeRule {
    /// Attempts created after this instant are counted.
    pub fn window_start(&self, now: OffsetDateTime) -> OffsetDateTime {
        now - self.declines.per
    }

    /// Whether these counts switch challenge mode on: more declines than the threshold, and
    /// more declines than everything else together.
    pub fn switches_on(&self, counts: PayPageCounts) -> bool {
        counts.declines > i64::from(self.declines.count)
            && counts.declines.saturating_mul(2) > counts.attempts
    }

    /// Until when challenge mode lasts if it switches on at `now`.
    pub fn until(&self, now: OffsetDateTime) -> OffsetDateTime {
        now + self.duration
    }
}

/// Whether challenge mode is on at `now`, given the stored end (None: never switched on).
pub fn is_on(until: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    until.is_some_and(|until| until > now)
}

/// The end to show while challenge mode is on; None once it is over.
pub fn active_until(until: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<OffsetDateTime> {
    until.filter(|_| is_on(until, now))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use time::macros::datetime;

    use super::*;

    fn rule() -> ChallengeRule {
        ChallengeRule {
            declines: Rate::parse("30/10m").unwrap(),
            duration: Duration::from_secs(3600),
        }
    }

    fn counts(attempts: i64, declines: i64) -> PayPageCounts {
        PayPageCounts { attempts, declines }
    }

    #[test]
    fn more_than_the_threshold_and_more_than_half_switch_it_on() {
        let r = rule();
        assert!(r.switches_on(counts(40, 31)));
        assert!(r.switches_on(counts(31, 31)));
        assert!(r.switches_on(counts(61, 31)));
        // Exactly the threshold is not more than it.
        assert!(!r.switches_on(counts(30, 30)));
        // Exactly half is not more than half.
        assert!(!r.switches_on(counts(62, 31)));
        // Many declines, but more successes than declines.
        assert!(!r.switches_on(counts(100, 40)));
        assert!(!r.switches_on(PayPageCounts::default()));
    }

    #[test]
    fn the_window_and_the_end_follow_the_settings() {
        let r = rule();
        let now = datetime!(2026-11-21 12:00 UTC);
        assert_eq!(r.window_start(now), datetime!(2026-11-21 11:50 UTC));
        assert_eq!(r.until(now), datetime!(2026-11-21 13:00 UTC));
    }

    #[test]
    fn it_is_on_until_the_stored_end_only() {
        let now = datetime!(2026-11-21 12:00 UTC);
        let later = datetime!(2026-11-21 12:30 UTC);
        assert!(!is_on(None, now));
        assert!(is_on(Some(later), now));
        assert!(!is_on(Some(now), now));
        assert!(!is_on(Some(later), later));
        assert_eq!(active_until(Some(later), now), Some(later));
        assert_eq!(active_until(Some(now), later), None);
        assert_eq!(active_until(None, now), None);
    }

    #[test]
    fn every_decline_code_counts() {
        let names: Vec<_> = DECLINE_CODES.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "card_declined",
                "insufficient_funds",
                "expired_card",
                "incorrect_cvc",
                "processing_error"
            ]
        );
    }
}
