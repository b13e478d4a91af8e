//! The ledger: double-entry and append-only. Every money movement is one [`PostingSet`] whose
//! postings sum to zero; balances and payouts are derived from the postings, never kept as
//! counters.
//!
//! Signs: partner-side accounts (pending, available, paid out) hold what the partner is owed, so
//! money reaching the partner is a positive posting there and a negative one on the account it
//! came from (processor clearing, or another partner account).
//!
//! Amounts given to the constructors are non-negative; which way money moves is the constructor's
//! job, not the sign's. A negative amount is a caller bug, checked with `debug_assert!`: debug
//! builds and tests panic on it; release builds write the mirrored set rather than fail a
//! request.

/// A ledger account. One set of partner accounts per partner (the partner id is on the entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Account {
    /// Money in transit with the processor: debited when a payment is taken, credited when
    /// money goes back to a payer.
    ProcessorClearing,
    /// Submitted ACH debits that have not cleared yet: owed to the partner, not payable.
    PartnerPending,
    /// Owed to the partner and payable in the next batch; may go negative through refunds.
    PartnerAvailable,
    /// Everything paid out to the partner so far.
    PartnerPaidOut,
    /// Kassa's fee income.
    Fees,
}

impl Account {
    pub const ALL: [Account; 5] = [
        Self::ProcessorClearing,
        Self::PartnerPending,
        Self::PartnerAvailable,
        Self::PartnerPaidOut,
        Self::Fees,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProcessorClearing => "processor_clearing",
            Self::PartnerPending => "partner_pending",
            Self::PartnerAvailable => "partner_available",
            Self::PartnerPaidOut => "partner_paid_out",
            Self::Fees => "fees",
        }
    }

    pub fn parse_str(s: &str) -> Option<Account> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// What caused a posting set; also the payout item type for entries on PartnerAvailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A payment became payable: a card capture or a cleared ACH debit.
    Payment,
    AchPending,
    AchReturn,
    Fee,
    Refund,
    Payout,
}

impl EntryKind {
    pub const ALL: [EntryKind; 6] = [
        Self::Payment,
        Self::AchPending,
        Self::AchReturn,
        Self::Fee,
        Self::Refund,
        Self::Payout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::AchPending => "ach_pending",
            Self::AchReturn => "ach_return",
            Self::Fee => "fee",
            Self::Refund => "refund",
            Self::Payout => "payout",
        }
    }

    pub fn parse_str(s: &str) -> Option<EntryKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One line of a posting set: `amount` cents onto `account` (negative takes away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub amount: i64,
}

/// A balanced set of postings (Σ amount = 0), the only way entries are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingSet {
    kind: EntryKind,
    source_id: String,
    postings: Vec<Posting>,
}

impl PostingSet {
    /// `amount` moves from `from` to `to`: the one shape every movement has today.
    fn transfer(
        kind: EntryKind,
        source_id: &str,
        from: Account,
        to: Account,
        amount: i64,
    ) -> PostingSet {
        debug_assert!(
            amount >= 0,
            "a ledger amount must not be negative: {amount}"
        );
        // wrapping_neg only differs from `-` for i64::MIN, which the assertion above excludes.
        PostingSet {
            kind,
            source_id: source_id.to_owned(),
            postings: vec![
                Posting {
                    account: from,
                    amount: amount.wrapping_neg(),
                },
                Posting {
                    account: to,
                    amount,
                },
            ],
        }
    }

    /// A card (or Google Pay) capture: clearing −a, available +a.
    pub fn card_captured(source_id: &str, amount: i64) -> PostingSet {
        Self::transfer(
            EntryKind::Payment,
            source_id,
            Account::ProcessorClearing,
            Account::PartnerAvailable,
            amount,
        )
    }

    /// An ACH debit submitted: clearing −a, pending +a.
    pub fn ach_submitted(source_id: &str, amount: i64) -> PostingSet {
        Self::transfer(
            EntryKind::AchPending,
            source_id,
            Account::ProcessorClearing,
            Account::PartnerPending,
            amount,
        )
    }

    /// An ACH debit cleared: pending −a, available +a (kind Payment: it is now payable).
    pub fn ach_cleared(source_id: &str, amount: i64) -> PostingSet {
        Self::transfer(
            EntryKind::Payment,
            source_id,
            Account::PartnerPending,
            Account::PartnerAvailable,
            amount,
        )
    }

    /// An ACH debit returned before clearing: pending −a, clearing +a (reverses ach_submitted).
    pub fn ach_returned(source_id: &str, amount: i64) -> PostingSet {
        Self::transfer(
            EntryKind::AchReturn,
            source_id,
            Account::PartnerPending,
            Account::ProcessorClearing,
            amount,
        )
    }

    /// A fee: available −f, fees +f. None when f == 0 (nothing to post).
    pub fn fee(source_id: &str, fee: i64) -> Option<PostingSet> {
        (fee != 0).then(|| {
            Self::transfer(
                EntryKind::Fee,
                source_id,
                Account::PartnerAvailable,
                Account::Fees,
                fee,
            )
        })
    }

    /// A refund paid back: available −r, clearing +r.
    pub fn refund(source_id: &str, amount: i64) -> PostingSet {
        Self::transfer(
            EntryKind::Refund,
            source_id,
            Account::PartnerAvailable,
            Account::ProcessorClearing,
            amount,
        )
    }

    /// A payout: available −p, paid_out +p.
    pub fn payout(source_id: &str, amount: i64) -> PostingSet {
        Self::transfer(
            EntryKind::Payout,
            source_id,
            Account::PartnerAvailable,
            Account::PartnerPaidOut,
            amount,
        )
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The id of what caused it: a payment, refund or payout id.
    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// Σ amount = 0, summed in i128 so no set of i64 postings can overflow the check.
    pub fn is_balanced(&self) -> bool {
        self.postings
            .iter()
            .map(|p| i128::from(p.amount))
            .sum::<i128>()
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Constructor = fn(&str, i64) -> PostingSet;

    /// Every constructor, with the fee one made total (its None case is tested on its own).
    const CONSTRUCTORS: [(&str, Constructor); 7] = [
        ("card_captured", PostingSet::card_captured),
        ("ach_submitted", PostingSet::ach_submitted),
        ("ach_cleared", PostingSet::ach_cleared),
        ("ach_returned", PostingSet::ach_returned),
        ("fee", |id, f| {
            PostingSet::fee(id, f).unwrap_or_else(|| PostingSet {
                kind: EntryKind::Fee,
                source_id: id.to_owned(),
                postings: Vec::new(),
            })
        }),
        ("refund", PostingSet::refund),
        ("payout", PostingSet::payout),
    ];

    /// (account, amount) of each posting, in order.
    fn lines(set: &PostingSet) -> Vec<(Account, i64)> {
        set.postings()
            .iter()
            .map(|p| (p.account, p.amount))
            .collect()
    }

    #[test]
    fn account_strings_round_trip() {
        let names: Vec<_> = Account::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            names,
            [
                "processor_clearing",
                "partner_pending",
                "partner_available",
                "partner_paid_out",
                "fees"
            ]
        );
        for a in Account::ALL {
            assert_eq!(Account::parse_str(a.as_str()), Some(a));
        }
        assert_eq!(Account::parse_str("Fees"), None);
        assert_eq!(Account::parse_str(""), None);
    }

    #[test]
    fn entry_kind_strings_round_trip() {
        let names: Vec<_> = EntryKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "payment",
                "ach_pending",
                "ach_return",
                "fee",
                "refund",
                "payout"
            ]
        );
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse_str(k.as_str()), Some(k));
        }
        assert_eq!(EntryKind::parse_str("Payment"), None);
    }

    #[test]
    fn card_captured_credits_available() {
        let set = PostingSet::card_captured("pay_1", 10_000);
        assert_eq!(set.kind(), EntryKind::Payment);
        assert_eq!(set.source_id(), "pay_1");
        assert_eq!(
            lines(&set),
            [
                (Account::ProcessorClearing, -10_000),
                (Account::PartnerAvailable, 10_000)
            ]
        );
        assert!(set.is_balanced());
    }

    #[test]
    fn ach_submitted_credits_pending() {
        let set = PostingSet::ach_submitted("pay_2", 5_000);
        assert_eq!(set.kind(), EntryKind::AchPending);
        assert_eq!(
            lines(&set),
            [
                (Account::ProcessorClearing, -5_000),
                (Account::PartnerPending, 5_000)
            ]
        );
        assert!(set.is_balanced());
    }

    #[test]
    fn ach_cleared_moves_pending_to_available() {
        let set = PostingSet::ach_cleared("pay_2", 5_000);
        assert_eq!(set.kind(), EntryKind::Payment);
        assert_eq!(
            lines(&set),
            [
                (Account::PartnerPending, -5_000),
                (Account::PartnerAvailable, 5_000)
            ]
        );
        assert!(set.is_balanced());
    }

    #[test]
    fn ach_returned_reverses_submitted() {
        let set = PostingSet::ach_returned("pay_2", 5_000);
        assert_eq!(set.kind(), EntryKind::AchReturn);
        assert_eq!(
            lines(&set),
            [
                (Account::PartnerPending, -5_000),
                (Account::ProcessorClearing, 5_000)
            ]
        );
        assert!(set.is_balanced());
        // Submitted then returned leaves every account where it was.
        let submitted = PostingSet::ach_submitted("pay_2", 5_000);
        for account in Account::ALL {
            let total: i64 = [&submitted, &set]
                .iter()
                .flat_map(|s| s.postings())
                .filter(|p| p.account == account)
                .map(|p| p.amount)
                .sum();
            assert_eq!(total, 0, "{account:?}");
        }
    }

    #[test]
    fn fee_debits_available_and_zero_posts_nothing() {
        let set = PostingSet::fee("pay_1", 320).unwrap();
        assert_eq!(set.kind(), EntryKind::Fee);
        assert_eq!(
            lines(&set),
            [(Account::PartnerAvailable, -320), (Account::Fees, 320)]
        );
        assert!(set.is_balanced());
        assert_eq!(PostingSet::fee("pay_1", 0), None);
    }

    #[test]
    fn refund_debits_available() {
        let set = PostingSet::refund("re_1", 1_000);
        assert_eq!(set.kind(), EntryKind::Refund);
        assert_eq!(set.source_id(), "re_1");
        assert_eq!(
            lines(&set),
            [
                (Account::PartnerAvailable, -1_000),
                (Account::ProcessorClearing, 1_000)
            ]
        );
        assert!(set.is_balanced());
    }

    #[test]
    fn payout_moves_available_to_paid_out() {
        let set = PostingSet::payout("po_1", 8_680);
        assert_eq!(set.kind(), EntryKind::Payout);
        assert_eq!(
            lines(&set),
            [
                (Account::PartnerAvailable, -8_680),
                (Account::PartnerPaidOut, 8_680)
            ]
        );
        assert!(set.is_balanced());
    }

    #[test]
    fn extremes_are_balanced() {
        for (name, make) in CONSTRUCTORS {
            for amount in [0, 1, i64::MAX] {
                assert!(make("x", amount).is_balanced(), "{name} {amount}");
            }
        }
    }

    #[test]
    fn is_balanced_sees_an_unbalanced_set() {
        let mut set = PostingSet::payout("po_1", 100);
        set.postings[1].amount = 99;
        assert!(!set.is_balanced());
        // No overflow in the check itself.
        set.postings = vec![
            Posting {
                account: Account::Fees,
                amount: i64::MAX,
            },
            Posting {
                account: Account::Fees,
                amount: i64::MAX,
            },
            Posting {
                account: Account::Fees,
                amount: 2,
            },
        ];
        assert!(!set.is_balanced());
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "must not be negative")]
    fn negative_amounts_panic_in_debug_builds() {
        let _ = PostingSet::refund("re_1", -1);
    }

    /// A whole life of one partner: the derived balances are what the partner is owed.
    #[test]
    fn balances_follow_from_the_postings() {
        let sets: Vec<PostingSet> = [
            Some(PostingSet::card_captured("pay_card", 10_000)),
            PostingSet::fee("pay_card", 320),
            Some(PostingSet::ach_submitted("pay_ach", 50_000)),
            Some(PostingSet::ach_submitted("pay_ach_returned", 7_000)),
            Some(PostingSet::ach_returned("pay_ach_returned", 7_000)),
            Some(PostingSet::refund("re_1", 1_000)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let balance = |sets: &[PostingSet], account| -> i64 {
            sets.iter()
                .flat_map(PostingSet::postings)
                .filter(|p| p.account == account)
                .map(|p| p.amount)
                .sum()
        };
        assert_eq!(
            balance(&sets, Account::PartnerAvailable),
            10_000 - 320 - 1_000
        );
        assert_eq!(balance(&sets, Account::PartnerPending), 50_000);
        assert_eq!(balance(&sets, Account::Fees), 320);
        let mut sets = sets;
        sets.push(PostingSet::payout("po_1", 8_680));
        sets.push(PostingSet::ach_cleared("pay_ach", 50_000));
        assert_eq!(balance(&sets, Account::PartnerAvailable), 50_000);
        assert_eq!(balance(&sets, Account::PartnerPending), 0);
        assert_eq!(balance(&sets, Account::PartnerPaidOut), 8_680);
        let total: i64 = Account::ALL.iter().map(|a| balance(&sets, *a)).sum();
        assert_eq!(total, 0);
    }

    proptest! {
        #[test]
        fn every_constructor_is_balanced(
            which in 0..CONSTRUCTORS.len(),
            amount in prop_oneof![0..=100_000_000i64, 0..=i64::MAX],
            source_id in "[a-z]{1,4}_[0-9A-Za-z]{0,24}",
        ) {
            let (name, make) = CONSTRUCTORS[which];
            let set = make(&source_id, amount);
            prop_assert!(set.is_balanced(), "{} {}", name, amount);
            prop_assert_eq!(set.source_id(), source_id.as_str());
            prop_assert!(set.postings().iter().all(|p| p.amount.unsigned_abs() == amount.unsigned_abs()));
        }

        #[test]
        fn fee_is_none_only_for_zero(fee in 0..=i64::MAX) {
            let set = PostingSet::fee("pay_1", fee);
            prop_assert_eq!(set.is_none(), fee == 0);
            if let Some(set) = set {
                prop_assert!(set.is_balanced());
            }
        }
    }
}
