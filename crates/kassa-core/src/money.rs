//! Exact money: amounts live as i64 minor units (cents) and are parsed from decimal
//! text directly, never through a float, so "0.1 + 0.2" problems cannot arise.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

use crate::error::ValidationError;

/// The currencies Kassa settles in. Only USD today; an enum so adding one is a compile-checked change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Currency {
    #[default]
    Usd,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CurrencyError {
    #[error("must be USD")]
    Unsupported,
}

impl ValidationError for CurrencyError {
    fn code(&self) -> &'static str {
        match self {
            CurrencyError::Unsupported => "unsupported_currency",
        }
    }
}

impl Currency {
    /// "USD", case-insensitive.
    pub fn parse(s: &str) -> Result<Currency, CurrencyError> {
        if s.eq_ignore_ascii_case("USD") {
            Ok(Currency::Usd)
        } else {
            Err(CurrencyError::Unsupported)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("ISO 4217 currency code; only USD for now."))
            .enum_values(Some([Currency::Usd.as_str()]))
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

/// Default per-request ceiling: 999,999.99.
pub const DEFAULT_MAX_AMOUNT_MINOR: i64 = 99_999_999;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    #[error("must be a decimal amount like 250.00")]
    Invalid,
    #[error("must not be negative")]
    NegativeAmount,
    #[error("must have at most two decimals")]
    TooManyDecimals,
    #[error("must be at most {}", format_minor(*max_minor))]
    AmountTooLarge { max_minor: i64 },
    #[error("must be greater than zero")]
    NotPositive,
}

impl ValidationError for AmountError {
    fn code(&self) -> &'static str {
        match self {
            AmountError::Invalid => "invalid_amount",
            AmountError::NegativeAmount => "negative_amount",
            AmountError::TooManyDecimals => "too_many_decimals",
            AmountError::AmountTooLarge { .. } => "amount_too_large",
            AmountError::NotPositive => "must_be_positive",
        }
    }
}

/// Parses an exact decimal amount into minor units (cents), never through a float.
///
/// Grammar: `^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$`. A leading '-' on an otherwise
/// well-formed amount is reported as [`AmountError::NegativeAmount`] so the payer
/// gets a useful message; anything else malformed is [`AmountError::Invalid`].
/// Values beyond i64 are [`AmountError::AmountTooLarge`] with `max_minor = i64::MAX`.
pub fn parse_amount(text: &str) -> Result<i64, AmountError> {
    if let Some(rest) = text.strip_prefix('-') {
        return match parse_unsigned(rest) {
            Err(AmountError::Invalid) => Err(AmountError::Invalid),
            _ => Err(AmountError::NegativeAmount),
        };
    }
    parse_unsigned(text)
}

fn parse_unsigned(text: &str) -> Result<i64, AmountError> {
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    // Byte-level checks: only ASCII digits count, so fullwidth or Arabic-Indic digits are rejected.
    let int_bytes = int_part.as_bytes();
    if int_bytes.is_empty() || !int_bytes.iter().all(u8::is_ascii_digit) {
        return Err(AmountError::Invalid);
    }
    if int_bytes.len() > 1 && int_bytes[0] == b'0' {
        return Err(AmountError::Invalid);
    }
    let cents: i64 = match frac_part {
        None => 0,
        Some(f) => {
            let fb = f.as_bytes();
            if fb.is_empty() || !fb.iter().all(u8::is_ascii_digit) {
                return Err(AmountError::Invalid);
            }
            if fb.len() > 2 {
                return Err(AmountError::TooManyDecimals);
            }
            let mut c = i64::from(fb[0] - b'0') * 10;
            if let Some(d) = fb.get(1) {
                c += i64::from(d - b'0');
            }
            c
        }
    };
    let too_large = AmountError::AmountTooLarge {
        max_minor: i64::MAX,
    };
    let mut units: i64 = 0;
    for &b in int_bytes {
        units = units
            .checked_mul(10)
            .and_then(|u| u.checked_add(i64::from(b - b'0')))
            .ok_or_else(|| too_large.clone())?;
    }
    units
        .checked_mul(100)
        .and_then(|u| u.checked_add(cents))
        .ok_or(too_large)
}

/// The text of an amount sent in JSON as a string (`"250.00"`) or a number (`250.00`), read
/// from the raw JSON so it never passes through a float; None for any other JSON value.
pub fn amount_text(raw: &serde_json::value::RawValue) -> Option<String> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()
    } else if text.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        Some(text.to_string())
    } else {
        None
    }
}

/// "250.00", "-10.00", "0.05"; exact for every i64 including i64::MIN.
pub fn format_minor(minor: i64) -> String {
    // unsigned_abs avoids the overflow that `-i64::MIN` would cause.
    let abs = minor.unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// An exact amount in a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Zero in the given currency.
    pub fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_positive(self) -> bool {
        self.minor > 0
    }

    /// None on overflow or a currency mismatch.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        self.minor
            .checked_add(other.minor)
            .map(|m| Money::new(m, self.currency))
    }

    /// None on overflow or a currency mismatch.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        self.minor
            .checked_sub(other.minor)
            .map(|m| Money::new(m, self.currency))
    }

    /// parse_amount + upper bound check (> max_minor → AmountTooLarge).
    pub fn parse(text: &str, currency: Currency, max_minor: i64) -> Result<Money, AmountError> {
        let minor = match parse_amount(text) {
            // Report the caller's limit, not i64::MAX, when the text overflowed.
            Err(AmountError::AmountTooLarge { .. }) => {
                return Err(AmountError::AmountTooLarge { max_minor })
            }
            other => other?,
        };
        if minor > max_minor {
            return Err(AmountError::AmountTooLarge { max_minor });
        }
        Ok(Money::new(minor, currency))
    }

    /// Same as [`Money::parse`] but also requires > 0 (NotPositive).
    pub fn parse_positive(
        text: &str,
        currency: Currency,
        max_minor: i64,
    ) -> Result<Money, AmountError> {
        let m = Money::parse(text, currency, max_minor)?;
        if m.minor <= 0 {
            return Err(AmountError::NotPositive);
        }
        Ok(m)
    }

    /// "$1,250.00" (thousands separators), "-$10.00" for negatives.
    // `is_multiple_of` needs Rust 1.87; the workspace declares rust-version 1.85.
    #[allow(clippy::manual_is_multiple_of)]
    pub fn display(self) -> String {
        let abs = self.minor.unsigned_abs();
        let units = (abs / 100).to_string();
        let mut grouped = String::with_capacity(units.len() + units.len() / 3);
        for (i, ch) in units.chars().enumerate() {
            if i > 0 && (units.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        format!("{sign}{}{grouped}.{:02}", self.currency.symbol(), abs % 100)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_minor(self.minor))
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_minor(self.minor))
    }
}

impl utoipa::PartialSchema for Money {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "An exact amount as a decimal string with two decimals; the currency is beside it.",
            ))
            .pattern(Some(r"^-?(0|[1-9][0-9]*)\.[0-9]{2}$"))
            .examples(["250.00"])
            .into()
    }
}

impl utoipa::ToSchema for Money {}

/// An amount in a request (`#[schema(schema_with = ...)]` of a raw amount field): a decimal
/// string or a JSON number, at most two decimals, read exactly.
pub fn amount_input_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Number]))
        .description(Some(
            "A decimal string (\"250.00\") or a JSON number (250.00) with at most two decimals. \
             Exponents, signs, thousands separators and more than two decimals are rejected.",
        ))
        .pattern(Some(r"^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$"))
        .examples(["250.00"])
        .into()
}

/// Serde `with` helper for an i64 of minor units shown as a decimal string ("121.00"): read back
/// exactly through [`parse_amount`], and only from a string, so a float can never sneak in.
pub mod minor_as_decimal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(minor: &i64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_minor(*minor))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_amount(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn currency_parse() {
        assert_eq!(Currency::parse("USD"), Ok(Currency::Usd));
        assert_eq!(Currency::parse("usd"), Ok(Currency::Usd));
        assert_eq!(Currency::parse("uSd"), Ok(Currency::Usd));
        for bad in ["", "EUR", "US", "USD ", " USD", "USDD", "$"] {
            let e = Currency::parse(bad).unwrap_err();
            assert_eq!(e.code(), "unsupported_currency", "{bad:?}");
        }
    }

    #[test]
    fn currency_strings_and_serde() {
        assert_eq!(Currency::Usd.as_str(), "USD");
        assert_eq!(Currency::Usd.symbol(), "$");
        assert_eq!(Currency::default(), Currency::Usd);
        assert_eq!(serde_json::to_string(&Currency::Usd).unwrap(), "\"USD\"");
        assert_eq!(
            serde_json::from_str::<Currency>("\"usd\"").unwrap(),
            Currency::Usd
        );
        assert!(serde_json::from_str::<Currency>("\"EUR\"").is_err());
    }

    #[test]
    fn parse_amount_accepts() {
        let cases = [
            ("250", 25_000),
            ("250.0", 25_000),
            ("250.00", 25_000),
            ("0.50", 50),
            ("0.5", 50),
            ("0.05", 5),
            ("0", 0),
            ("0.0", 0),
            ("0.00", 0),
            ("1", 100),
            ("10.01", 1001),
            ("999999.99", 99_999_999),
            ("92233720368547758.07", i64::MAX),
        ];
        for (text, want) in cases {
            assert_eq!(parse_amount(text), Ok(want), "{text:?}");
        }
    }

    #[test]
    fn parse_amount_rejects_invalid() {
        for bad in [
            "",
            " 5",
            "5 ",
            "+5",
            ".5",
            "5.",
            "1e3",
            "1E3",
            "NaN",
            "nan",
            "Infinity",
            "inf",
            "1,000.00",
            "1,000",
            "007",
            "00",
            "00.5",
            "01.00",
            "1_000",
            "1.2.3",
            "1..2",
            "-",
            "--5",
            "-.5",
            "５",
            "２５０.００",
            "٣",
            "1٣.00",
            "1.٣",
            "0x10",
            "1.e2",
            "1.0e2",
            "\u{0}",
            "5\n",
            "1.-1",
            "1.+1",
        ] {
            assert_eq!(parse_amount(bad), Err(AmountError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn parse_amount_rejects_negative() {
        for bad in ["-5", "-0", "-250.00", "-0.01", "-1.001"] {
            assert_eq!(
                parse_amount(bad),
                Err(AmountError::NegativeAmount),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_amount_rejects_too_many_decimals() {
        for bad in ["250.001", "0.000", "1.999", "1.00000000000000000000000"] {
            assert_eq!(
                parse_amount(bad),
                Err(AmountError::TooManyDecimals),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parse_amount_rejects_overflow() {
        for bad in [
            "92233720368547758.08",
            "92233720368547759",
            "99999999999999999999999999999",
        ] {
            assert_eq!(
                parse_amount(bad),
                Err(AmountError::AmountTooLarge {
                    max_minor: i64::MAX
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn error_codes_and_messages() {
        let cases = [
            (
                AmountError::Invalid,
                "invalid_amount",
                "must be a decimal amount like 250.00",
            ),
            (
                AmountError::NegativeAmount,
                "negative_amount",
                "must not be negative",
            ),
            (
                AmountError::TooManyDecimals,
                "too_many_decimals",
                "must have at most two decimals",
            ),
            (
                AmountError::AmountTooLarge {
                    max_minor: DEFAULT_MAX_AMOUNT_MINOR,
                },
                "amount_too_large",
                "must be at most 999999.99",
            ),
            (
                AmountError::NotPositive,
                "must_be_positive",
                "must be greater than zero",
            ),
        ];
        for (e, code, msg) in cases {
            assert_eq!(e.code(), code);
            assert_eq!(e.message(), msg);
        }
        assert_eq!(CurrencyError::Unsupported.message(), "must be USD");
    }

    #[test]
    fn format_minor_cases() {
        assert_eq!(format_minor(25_000), "250.00");
        assert_eq!(format_minor(-1_000), "-10.00");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(-5), "-0.05");
        assert_eq!(format_minor(0), "0.00");
        assert_eq!(format_minor(i64::MAX), "92233720368547758.07");
        assert_eq!(format_minor(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn money_parse_respects_max() {
        let m = Money::parse("999999.99", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR).unwrap();
        assert_eq!(m.minor(), 99_999_999);
        assert_eq!(m.currency(), Currency::Usd);
        assert_eq!(
            Money::parse("1000000", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR),
            Err(AmountError::AmountTooLarge {
                max_minor: DEFAULT_MAX_AMOUNT_MINOR
            })
        );
        // Overflowing text reports the caller's limit, not i64::MAX.
        assert_eq!(
            Money::parse("99999999999999999999", Currency::Usd, 500),
            Err(AmountError::AmountTooLarge { max_minor: 500 })
        );
        assert_eq!(
            Money::parse("0", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR)
                .unwrap()
                .minor(),
            0
        );
        assert_eq!(
            Money::parse("abc", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR),
            Err(AmountError::Invalid)
        );
        assert_eq!(
            Money::parse("-1", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR),
            Err(AmountError::NegativeAmount)
        );
    }

    #[test]
    fn money_parse_positive() {
        assert_eq!(
            Money::parse_positive("0.01", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR)
                .unwrap()
                .minor(),
            1
        );
        for zero in ["0", "0.0", "0.00"] {
            assert_eq!(
                Money::parse_positive(zero, Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR),
                Err(AmountError::NotPositive)
            );
        }
        assert_eq!(
            Money::parse_positive("1000000.00", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR),
            Err(AmountError::AmountTooLarge {
                max_minor: DEFAULT_MAX_AMOUNT_MINOR
            })
        );
        assert_eq!(
            Money::parse_positive("-1", Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR),
            Err(AmountError::NegativeAmount)
        );
    }

    #[test]
    fn money_display_and_serialize() {
        let usd = |m| Money::new(m, Currency::Usd);
        assert_eq!(usd(125_000).display(), "$1,250.00");
        assert_eq!(usd(-1_000).display(), "-$10.00");
        assert_eq!(usd(5).display(), "$0.05");
        assert_eq!(usd(0).display(), "$0.00");
        assert_eq!(usd(99_999).display(), "$999.99");
        assert_eq!(usd(100_000).display(), "$1,000.00");
        assert_eq!(usd(99_999_999).display(), "$999,999.99");
        assert_eq!(usd(100_000_000).display(), "$1,000,000.00");
        assert_eq!(usd(i64::MIN).display(), "-$92,233,720,368,547,758.08");
        assert_eq!(usd(25_000).to_string(), "250.00");
        assert_eq!(usd(-1).to_string(), "-0.01");
        assert_eq!(serde_json::to_string(&usd(25_000)).unwrap(), "\"250.00\"");
    }

    #[test]
    fn money_arithmetic() {
        let usd = |m| Money::new(m, Currency::Usd);
        assert_eq!(usd(100).checked_add(usd(50)), Some(usd(150)));
        assert_eq!(usd(100).checked_sub(usd(150)), Some(usd(-50)));
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), None);
        assert_eq!(usd(i64::MIN).checked_sub(usd(1)), None);
        assert_eq!(Money::zero(Currency::Usd), usd(0));
        assert!(usd(1).is_positive());
        assert!(!usd(0).is_positive());
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(minor in 0..=i64::MAX) {
            prop_assert_eq!(parse_amount(&format_minor(minor)), Ok(minor));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let _ = parse_amount(&s);
            let _ = Money::parse(&s, Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR);
            let _ = Money::parse_positive(&s, Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR);
        }

        #[test]
        fn amount_like_strings_never_panic(s in "[-+0-9.,eE ]{0,30}") {
            let _ = parse_amount(&s);
        }

        #[test]
        fn accepted_strings_match_grammar(s in "[-+0-9.,eE_]{0,25}") {
            if parse_amount(&s).is_ok() {
                let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
                prop_assert!(!int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(int == "0" || !int.starts_with('0'));
                if let Some(f) = frac {
                    prop_assert!((1..=2).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()));
                }
            }
        }

        #[test]
        fn exponent_rejected(a in "[0-9]{1,6}(\\.[0-9]{1,2})?", e in "[eE][-+]?[0-9]{1,3}") {
            let s = format!("{a}{e}");
            prop_assert!(parse_amount(&s).is_err());
        }

        #[test]
        fn sign_rejected(a in "(0|[1-9][0-9]{0,10})(\\.[0-9]{1,2})?", sign in "[-+]") {
            let s = format!("{sign}{a}");
            let r = parse_amount(&s);
            prop_assert!(r.is_err());
            if sign == "-" {
                prop_assert_eq!(r, Err(AmountError::NegativeAmount));
            }
        }

        #[test]
        fn comma_rejected(a in "[1-9][0-9]{0,2}", b in "[0-9]{3}", c in "(\\.[0-9]{2})?") {
            let s = format!("{a},{b}{c}");
            prop_assert_eq!(parse_amount(&s), Err(AmountError::Invalid));
        }

        #[test]
        fn three_plus_decimals_rejected(a in "(0|[1-9][0-9]{0,10})", f in "[0-9]{3,20}") {
            let s = format!("{a}.{f}");
            prop_assert_eq!(parse_amount(&s), Err(AmountError::TooManyDecimals));
        }
    }
}
