//! What a partner pays Kassa per payment (docs/api.md §4): cards a percent plus a fixed amount, ACH a
//! percent with an optional cap. Fees are taken from the partner's available balance.

use crate::payment::MaskedMethod;
use crate::percent::Percent;

/// What a partner pays per payment: cards a percent plus a fixed amount; ACH a percent with an
/// optional cap. Default: no fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeeSchedule {
    pub card_percent: Percent,
    /// Cents added to every card fee.
    pub card_fixed: i64,
    pub ach_percent: Percent,
    /// Cents; an ACH fee is never more than this.
    pub ach_cap: Option<i64>,
}

/// Which part of a [`FeeSchedule`] applies. Google Pay is charged as a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeMethod {
    Card,
    Ach,
}

impl FeeMethod {
    /// Cards and Google Pay are card fees; bank debits ACH fees.
    pub fn for_payment_method(method: &MaskedMethod) -> FeeMethod {
        match method {
            MaskedMethod::Card { .. } | MaskedMethod::GooglePay { .. } => FeeMethod::Card,
            MaskedMethod::Ach { .. } => FeeMethod::Ach,
        }
    }
}

impl FeeSchedule {
    /// The fee on a payment of `amount` cents: card = percent.of(amount) + fixed; ACH =
    /// min(percent.of(amount), cap). Never more than `amount`, never negative.
    ///
    /// The clamp keeps a small payment from costing the partner more than it brought in (a 0.30
    /// fixed fee on a 0.10 payment is 0.10), and a misconfigured negative fixed fee or cap from
    /// paying the partner.
    pub fn fee(&self, method: FeeMethod, amount: i64) -> i64 {
        if amount <= 0 {
            return 0;
        }
        let fee = match method {
            FeeMethod::Card => self.card_percent.of(amount).saturating_add(self.card_fixed),
            FeeMethod::Ach => {
                let fee = self.ach_percent.of(amount);
                self.ach_cap.map_or(fee, |cap| fee.min(cap))
            }
        };
        fee.clamp(0, amount)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ach::AccountType;
    use crate::card::CardBrand;
    use crate::payment::Funding;
    use proptest::prelude::*;

    fn pct(s: &str) -> Percent {
        Percent::parse(s).unwrap()
    }

    fn schedule() -> FeeSchedule {
        FeeSchedule {
            card_percent: pct("2.9"),
            card_fixed: 30,
            ach_percent: pct("0.8"),
            ach_cap: Some(500),
        }
    }

    #[test]
    fn card_is_percent_plus_fixed() {
        // 2.9% + 0.30 on 100.00 → 3.20.
        assert_eq!(schedule().fee(FeeMethod::Card, 10_000), 320);
        // 2.9% of 10.50 = 30.45 cents → 30, + 30.
        assert_eq!(schedule().fee(FeeMethod::Card, 1_050), 60);
        // 2.9% of 5.00 = 14.5 cents: the tie rounds up to 15, + 30.
        assert_eq!(schedule().fee(FeeMethod::Card, 500), 45);
        // 2.9% of 12.50 = 36.25 cents → 36, + 30.
        assert_eq!(schedule().fee(FeeMethod::Card, 1_250), 66);
    }

    #[test]
    fn ach_is_percent_up_to_the_cap() {
        // 0.8% of 100.00 = 0.80.
        assert_eq!(schedule().fee(FeeMethod::Ach, 10_000), 80);
        // 0.8% of 625.00 = 5.00: exactly the cap.
        assert_eq!(schedule().fee(FeeMethod::Ach, 62_500), 500);
        // 0.8% of 1,000.00 = 8.00, capped at 5.00.
        assert_eq!(schedule().fee(FeeMethod::Ach, 100_000), 500);
        let uncapped = FeeSchedule {
            ach_cap: None,
            ..schedule()
        };
        assert_eq!(uncapped.fee(FeeMethod::Ach, 100_000), 800);
        // 0.8% of 0.63 = 0.504 cent → 1; of 0.62 = 0.496 → 0.
        assert_eq!(uncapped.fee(FeeMethod::Ach, 63), 1);
        assert_eq!(uncapped.fee(FeeMethod::Ach, 62), 0);
    }

    #[test]
    fn fee_never_exceeds_the_amount() {
        // The fixed 0.30 alone is more than a 0.10 payment.
        assert_eq!(schedule().fee(FeeMethod::Card, 10), 10);
        assert_eq!(schedule().fee(FeeMethod::Card, 1), 1);
        let all = FeeSchedule {
            card_percent: Percent::HUNDRED,
            card_fixed: 100,
            ach_percent: Percent::HUNDRED,
            ach_cap: None,
        };
        assert_eq!(all.fee(FeeMethod::Card, 5_000), 5_000);
        assert_eq!(all.fee(FeeMethod::Ach, 5_000), 5_000);
        assert_eq!(all.fee(FeeMethod::Card, i64::MAX), i64::MAX);
    }

    #[test]
    fn fee_is_never_negative() {
        let odd = FeeSchedule {
            card_percent: Percent::ZERO,
            card_fixed: -30,
            ach_percent: pct("1"),
            ach_cap: Some(-5),
        };
        assert_eq!(odd.fee(FeeMethod::Card, 10_000), 0);
        assert_eq!(odd.fee(FeeMethod::Ach, 10_000), 0);
        assert_eq!(schedule().fee(FeeMethod::Card, 0), 0);
        assert_eq!(schedule().fee(FeeMethod::Card, -10_000), 0);
        assert_eq!(schedule().fee(FeeMethod::Ach, -10_000), 0);
    }

    #[test]
    fn default_schedule_charges_nothing() {
        let none = FeeSchedule::default();
        assert_eq!(none.card_percent, Percent::ZERO);
        assert_eq!(none.card_fixed, 0);
        assert_eq!(none.ach_percent, Percent::ZERO);
        assert_eq!(none.ach_cap, None);
        for amount in [0, 1, 10_000, 99_999_999] {
            assert_eq!(none.fee(FeeMethod::Card, amount), 0);
            assert_eq!(none.fee(FeeMethod::Ach, amount), 0);
        }
    }

    #[test]
    fn google_pay_is_charged_as_a_card() {
        let card = MaskedMethod::Card {
            brand: CardBrand::Visa,
            funding: Funding::Credit,
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2030,
        };
        let gpay = MaskedMethod::GooglePay {
            brand: None,
            last4: None,
        };
        let ach = MaskedMethod::Ach {
            account_type: AccountType::Checking,
            routing_number: "011000015".into(),
            last4: "6789".into(),
        };
        assert_eq!(FeeMethod::for_payment_method(&card), FeeMethod::Card);
        assert_eq!(FeeMethod::for_payment_method(&gpay), FeeMethod::Card);
        assert_eq!(FeeMethod::for_payment_method(&ach), FeeMethod::Ach);
    }

    fn any_schedule() -> impl Strategy<Value = FeeSchedule> {
        (
            0..=1_000_000i64,
            prop_oneof![0..=1_000i64, any::<i64>()],
            0..=1_000_000i64,
            prop::option::of(prop_oneof![0..=10_000i64, any::<i64>()]),
        )
            .prop_map(|(cp, cf, ap, cap)| FeeSchedule {
                card_percent: Percent::from_e4(cp),
                card_fixed: cf,
                ach_percent: Percent::from_e4(ap),
                ach_cap: cap,
            })
    }

    proptest! {
        #[test]
        fn fee_is_within_zero_and_the_amount(s in any_schedule(), amount in any::<i64>()) {
            for method in [FeeMethod::Card, FeeMethod::Ach] {
                let fee = s.fee(method, amount);
                prop_assert!(fee >= 0);
                prop_assert!(fee <= amount.max(0));
            }
        }
    }
}
