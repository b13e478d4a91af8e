//! Percentages (tax rates, fee rates) kept exactly as ten-thousandths of a percent, so 8.875% is
//! 88_750 and every percentage of an amount is integer math, rounded once, half-up, to the cent.

use crate::error::ValidationError;

/// A percentage 0–100 with up to 4 decimals (8.25, 2.9), kept as ten-thousandths of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Percent(i64);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PercentError {
    #[error("must be a percentage like 8.25")]
    Invalid,
    #[error("must have at most four decimals")]
    TooManyDecimals,
    #[error("must be between 0 and 100")]
    OutOfRange,
}

impl ValidationError for PercentError {
    fn code(&self) -> &'static str {
        "invalid_rate"
    }
}

/// 100% in ten-thousandths of a percent.
const HUNDRED_E4: i64 = 1_000_000;

impl Percent {
    pub const ZERO: Percent = Percent(0);
    pub const HUNDRED: Percent = Percent(HUNDRED_E4);

    /// Exact decimal text `^(0|[1-9][0-9]*)(\.[0-9]{1,4})?$` within 0–100, never through a float.
    pub fn parse(s: &str) -> Result<Percent, PercentError> {
        if let Some(rest) = s.strip_prefix('-') {
            // A well-formed negative percentage gets the range message; "-x" is just malformed.
            return match Self::parse_unsigned(rest) {
                Err(PercentError::Invalid) => Err(PercentError::Invalid),
                _ => Err(PercentError::OutOfRange),
            };
        }
        Self::parse_unsigned(s)
    }

    fn parse_unsigned(s: &str) -> Result<Percent, PercentError> {
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let (int, frac) = match s.split_once('.') {
            Some((int, frac)) if digits(frac) => (int, frac),
            Some(_) => return Err(PercentError::Invalid),
            None => (s, ""),
        };
        if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
            return Err(PercentError::Invalid);
        }
        if frac.len() > 4 {
            return Err(PercentError::TooManyDecimals);
        }
        // More than three integer digits is over 100; checked first so the fold cannot overflow.
        if int.len() > 3 {
            return Err(PercentError::OutOfRange);
        }
        let fold = |acc: i64, b: u8| acc * 10 + i64::from(b - b'0');
        let e4 = int.bytes().fold(0, fold) * 10_000
            + frac
                .bytes()
                .chain(std::iter::repeat(b'0'))
                .take(4)
                .fold(0, fold);
        if e4 > HUNDRED_E4 {
            return Err(PercentError::OutOfRange);
        }
        Ok(Percent(e4))
    }

    /// Trusted, from storage.
    pub const fn from_e4(v: i64) -> Percent {
        Percent(v)
    }

    /// Ten-thousandths of a percent: 8.25% → 82_500.
    pub const fn e4(self) -> i64 {
        self.0
    }

    /// The shortest exact text: "8.25", "2.9", "0"; parses back to the same percentage.
    pub fn percent_text(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (int, frac) = (abs / 10_000, abs % 10_000);
        if frac == 0 {
            format!("{sign}{int}")
        } else {
            let frac = format!("{frac:04}");
            format!("{sign}{int}.{}", frac.trim_end_matches('0'))
        }
    }

    /// round-half-up(amount × self / 100) in cents, exact (i128), for amount ≥ 0.
    ///
    /// A negative amount gets the mirror image (`of(-a) == -of(a)`, ties away from zero), and a
    /// result beyond i64 (only from an untrusted `from_e4` far over 100%) saturates.
    pub fn of(self, amount_minor: i64) -> i64 {
        // Both factors are below 2⁶³ in magnitude, so the product fits in i128 with room to spare.
        let product = i128::from(amount_minor) * i128::from(self.0);
        let magnitude = div_round_half_up(product.abs(), HUNDRED_E4.into());
        let exact = if product < 0 { -magnitude } else { magnitude };
        i64::try_from(exact).unwrap_or(if exact < 0 { i64::MIN } else { i64::MAX })
    }
}

/// `n / d` rounded half-up (a tie goes towards +∞), for `d > 0`; never overflows.
pub(crate) fn div_round_half_up(n: i128, d: i128) -> i128 {
    let (quotient, remainder) = (n.div_euclid(d), n.rem_euclid(d));
    // `remainder >= d - remainder` is `2 × remainder >= d` without the doubling overflowing.
    if remainder >= d - remainder {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pct(s: &str) -> Percent {
        Percent::parse(s).unwrap()
    }

    #[test]
    fn parse_accepts_up_to_four_decimals_within_0_to_100() {
        for (text, e4, shown) in [
            ("0", 0, "0"),
            ("0.0000", 0, "0"),
            ("2.9", 29_000, "2.9"),
            ("0.8", 8_000, "0.8"),
            ("8.875", 88_750, "8.875"),
            ("0.0001", 1, "0.0001"),
            ("99.9999", 999_999, "99.9999"),
            ("100", 1_000_000, "100"),
            ("100.0000", 1_000_000, "100"),
        ] {
            let p = pct(text);
            assert_eq!(p.e4(), e4, "{text}");
            assert_eq!(p.percent_text(), shown);
            assert_eq!(Percent::from_e4(e4), p);
        }
        assert_eq!(Percent::ZERO, Percent::default());
        assert_eq!(Percent::ZERO.percent_text(), "0");
        assert_eq!(Percent::HUNDRED, pct("100"));
        assert!(pct("2.9") < pct("8.25"));
    }

    #[test]
    fn parse_rejects_with_invalid_rate() {
        for (bad, err) in [
            ("", PercentError::Invalid),
            ("2.", PercentError::Invalid),
            (".9", PercentError::Invalid),
            ("2.9%", PercentError::Invalid),
            ("02.9", PercentError::Invalid),
            ("2,9", PercentError::Invalid),
            ("NaN", PercentError::Invalid),
            ("1e1", PercentError::Invalid),
            ("+1", PercentError::Invalid),
            ("-", PercentError::Invalid),
            ("2.90001", PercentError::TooManyDecimals),
            ("0.00001", PercentError::TooManyDecimals),
            ("100.0001", PercentError::OutOfRange),
            ("1000", PercentError::OutOfRange),
            ("-0.1", PercentError::OutOfRange),
        ] {
            let e = Percent::parse(bad).unwrap_err();
            assert_eq!(e, err, "{bad:?}");
            assert_eq!(e.code(), "invalid_rate");
        }
        assert_eq!(
            PercentError::Invalid.message(),
            "must be a percentage like 8.25"
        );
        assert_eq!(
            PercentError::TooManyDecimals.message(),
            "must have at most four decimals"
        );
    }

    #[test]
    fn of_rounds_half_up_to_the_cent() {
        // 2.9% of 100.00 = 2.90 exactly.
        assert_eq!(pct("2.9").of(10_000), 290);
        // 2.5% of 0.10 = 0.25 cent → 0; 5% of 0.10 = 0.5 cent → 1 (the tie goes up).
        assert_eq!(pct("2.5").of(10), 0);
        assert_eq!(pct("5").of(10), 1);
        // 50% of 0.01 = 0.5 cent → 1; 49.9999% of 0.01 → 0.
        assert_eq!(pct("50").of(1), 1);
        assert_eq!(pct("49.9999").of(1), 0);
        // 8.875% of 8.00 = 71 cents exactly; of 4.00 = 35.5 → 36.
        assert_eq!(pct("8.875").of(800), 71);
        assert_eq!(pct("8.875").of(400), 36);
        // 0.0001% of 5,000.00 = 0.5 cent → 1.
        assert_eq!(pct("0.0001").of(500_000), 1);
    }

    #[test]
    fn of_zero_and_hundred() {
        for amount in [0, 1, 99, 10_000, i64::MAX] {
            assert_eq!(Percent::ZERO.of(amount), 0);
            assert_eq!(Percent::HUNDRED.of(amount), amount);
        }
        assert_eq!(pct("8.25").of(0), 0);
        // Exact in i128 even at the top of i64.
        assert_eq!(pct("50").of(i64::MAX), i64::MAX / 2 + 1);
    }

    #[test]
    fn of_outside_its_domain_is_defined() {
        assert_eq!(pct("5").of(-10), -1);
        assert_eq!(Percent::from_e4(i64::MAX).of(i64::MAX), i64::MAX);
        assert_eq!(Percent::from_e4(i64::MIN).of(i64::MAX), i64::MIN);
        assert_eq!(Percent::from_e4(-12_345).percent_text(), "-1.2345");
    }

    /// floor((2n + d) / 2d): n / d rounded half-up, for n ≥ 0 and d > 0.
    fn half_up(n: i128, d: i128) -> i128 {
        (2 * n + d) / (2 * d)
    }

    proptest! {
        #[test]
        fn of_matches_the_exact_fraction(amount in 0..=i64::MAX, e4 in 0..=1_000_000i64) {
            let want = half_up(i128::from(amount) * i128::from(e4), 1_000_000);
            let got = Percent::from_e4(e4).of(amount);
            prop_assert_eq!(i128::from(got), want);
            prop_assert!(got <= amount);
        }

        #[test]
        fn of_is_monotonic(amount in 0..=1_000_000_000_000i64, a in 0..=1_000_000i64, b in 0..=1_000_000i64) {
            let (lo, hi) = (a.min(b), a.max(b));
            prop_assert!(Percent::from_e4(lo).of(amount) <= Percent::from_e4(hi).of(amount));
        }

        #[test]
        fn text_round_trips(e4 in 0..=1_000_000i64) {
            let p = Percent::from_e4(e4);
            prop_assert_eq!(Percent::parse(&p.percent_text()), Ok(p));
        }

        #[test]
        fn arbitrary_text_never_panics(s in any::<String>(), t in "-?[0-9]{0,30}(\\.[0-9]{0,8})?") {
            let _ = Percent::parse(&s);
            if let Ok(p) = Percent::parse(&t) {
                prop_assert!((0..=1_000_000).contains(&p.e4()));
            }
        }
    }
}
