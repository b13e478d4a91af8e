//! Card number, expiry and CVC validation. Card numbers and CVCs are secrets:
//! their types have a redacting Debug, no Display and no Serialize, and no error
//! message ever echoes their digits.

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ValidationError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    DinersClub,
    Jcb,
    UnionPay,
}

impl CardBrand {
    pub const ALL: [CardBrand; 7] = [
        CardBrand::Visa,
        CardBrand::Mastercard,
        CardBrand::Amex,
        CardBrand::Discover,
        CardBrand::DinersClub,
        CardBrand::Jcb,
        CardBrand::UnionPay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::DinersClub => "diners",
            CardBrand::Jcb => "jcb",
            CardBrand::UnionPay => "unionpay",
        }
    }

    /// Inverse of [`CardBrand::as_str`].
    pub fn parse_str(s: &str) -> Option<Self> {
        CardBrand::ALL.into_iter().find(|b| b.as_str() == s)
    }

    pub fn display_name(self) -> &'static str {
        match self {
            CardBrand::Visa => "Visa",
            CardBrand::Mastercard => "Mastercard",
            CardBrand::Amex => "American Express",
            CardBrand::Discover => "Discover",
            CardBrand::DinersClub => "Diners Club",
            CardBrand::Jcb => "JCB",
            CardBrand::UnionPay => "UnionPay",
        }
    }

    pub fn cvc_length(self) -> RangeInclusive<usize> {
        match self {
            CardBrand::Amex => 4..=4,
            _ => 3..=4,
        }
    }

    /// Whether a card number of `len` digits is a valid length for this brand.
    pub fn valid_length(self, len: usize) -> bool {
        match self {
            CardBrand::Visa => matches!(len, 13 | 16 | 19),
            CardBrand::Mastercard => len == 16,
            CardBrand::Amex => len == 15,
            CardBrand::Discover | CardBrand::Jcb | CardBrand::UnionPay => (16..=19).contains(&len),
            CardBrand::DinersClub => (14..=19).contains(&len),
        }
    }
}

impl Serialize for CardBrand {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for CardBrand {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(CardBrand::ALL.map(CardBrand::as_str)))
            .into()
    }
}

impl utoipa::ToSchema for CardBrand {}

impl<'de> Deserialize<'de> for CardBrand {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        CardBrand::parse_str(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown card brand {s:?}")))
    }
}

/// The first `n` digits as a number, or None if there are fewer than `n` ASCII digits.
fn prefix_num(digits: &str, n: usize) -> Option<u32> {
    let head = digits.as_bytes().get(..n)?;
    head.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Brand from the IIN; None if not one of ours.
pub fn brand_of(digits: &str) -> Option<CardBrand> {
    let p = |n| prefix_num(digits, n);
    let in_range = |n, r: RangeInclusive<u32>| p(n).is_some_and(|v| r.contains(&v));

    if p(1) == Some(4) {
        return Some(CardBrand::Visa);
    }
    if in_range(2, 51..=55) || in_range(4, 2221..=2720) {
        return Some(CardBrand::Mastercard);
    }
    if matches!(p(2), Some(34 | 37)) {
        return Some(CardBrand::Amex);
    }
    // Discover's co-branded 622126–622925 sits inside UnionPay's 62, so it is checked first.
    if p(4) == Some(6011)
        || in_range(3, 644..=649)
        || p(2) == Some(65)
        || in_range(6, 622126..=622925)
    {
        return Some(CardBrand::Discover);
    }
    if matches!(p(2), Some(62 | 81)) {
        return Some(CardBrand::UnionPay);
    }
    if in_range(3, 300..=305) || p(4) == Some(3095) || p(2) == Some(36) || in_range(2, 38..=39) {
        return Some(CardBrand::DinersClub);
    }
    if in_range(4, 3528..=3589) {
        return Some(CardBrand::Jcb);
    }
    None
}

/// The Luhn (mod 10) check; false for empty input or anything but ASCII digits.
/// Brand-specific lengths are enforced by [`CardBrand::valid_length`], not here.
// `is_multiple_of` needs Rust 1.87; the workspace declares rust-version 1.85.
#[allow(clippy::manual_is_multiple_of)]
pub fn luhn_valid(digits: &str) -> bool {
    let bytes = digits.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let dd = d * 2;
                if dd > 9 {
                    dd - 9
                } else {
                    dd
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CardNumberError {
    #[error("is required")]
    Empty,
    #[error("must contain only digits")]
    InvalidCharacters,
    #[error("card brand is not supported")]
    UnsupportedBrand,
    #[error("card number has the wrong number of digits for {}", brand.display_name())]
    InvalidLength { brand: CardBrand },
    #[error("card number is not valid")]
    LuhnFailed,
}

impl ValidationError for CardNumberError {
    fn code(&self) -> &'static str {
        match self {
            CardNumberError::Empty => "required",
            CardNumberError::InvalidCharacters => "invalid_characters",
            CardNumberError::UnsupportedBrand => "unsupported_brand",
            CardNumberError::InvalidLength { .. } => "invalid_length",
            CardNumberError::LuhnFailed => "luhn_check_failed",
        }
    }
}

/// A validated card number (PAN). Secret: redacted Debug, no Display, no Serialize.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber {
    digits: String,
    brand: CardBrand,
}

impl CardNumber {
    /// Accepts ASCII digits optionally grouped by single spaces or dashes
    /// ("4242 4242 4242 4242", "4242-4242-4242-4242"), which are removed.
    /// Whitespace-only input counts as empty.
    pub fn parse(s: &str) -> Result<CardNumber, CardNumberError> {
        if s.trim().is_empty() {
            return Err(CardNumberError::Empty);
        }
        let mut digits = String::with_capacity(s.len());
        let mut prev_was_digit = false;
        for b in s.bytes() {
            if b.is_ascii_digit() {
                digits.push(char::from(b));
                prev_was_digit = true;
            } else if (b == b' ' || b == b'-') && prev_was_digit {
                prev_was_digit = false;
            } else {
                // Non-ASCII bytes (fullwidth or Arabic-Indic digits) land here too.
                return Err(CardNumberError::InvalidCharacters);
            }
        }
        // A trailing separator means the groups were not "digits between separators".
        if !prev_was_digit {
            return Err(CardNumberError::InvalidCharacters);
        }
        let brand = brand_of(&digits).ok_or(CardNumberError::UnsupportedBrand)?;
        if !brand.valid_length(digits.len()) {
            return Err(CardNumberError::InvalidLength { brand });
        }
        if !luhn_valid(&digits) {
            return Err(CardNumberError::LuhnFailed);
        }
        Ok(CardNumber { digits, brand })
    }

    pub fn brand(&self) -> CardBrand {
        self.brand
    }

    pub fn last4(&self) -> &str {
        &self.digits[self.digits.len() - 4..]
    }

    /// The IIN/BIN; not secret on its own (PCI allows first 6 + last 4 to be shown).
    pub fn first6(&self) -> &str {
        &self.digits[..6]
    }

    /// The digits; the only way out, so every use of the secret is greppable.
    pub fn expose(&self) -> &str {
        &self.digits
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CardNumber({} ****{})",
            self.brand.as_str(),
            self.last4()
        )
    }
}

/// Card expiry. Not secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    pub month: u8,
    /// Four-digit year.
    pub year: i32,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ExpiryError {
    #[error("is required")]
    Empty,
    #[error("must be MMYY, MMYYYY, MM/YY or MM/YYYY")]
    InvalidFormat,
    #[error("month must be between 01 and 12")]
    InvalidMonth,
    #[error("card has expired")]
    Expired,
    #[error("year is too far in the future")]
    InvalidYear,
}

impl ValidationError for ExpiryError {
    fn code(&self) -> &'static str {
        match self {
            ExpiryError::Empty => "required",
            ExpiryError::InvalidFormat => "invalid_format",
            ExpiryError::InvalidMonth => "invalid_month",
            ExpiryError::Expired => "card_expired",
            ExpiryError::InvalidYear => "invalid_year",
        }
    }
}

/// Cards are not issued with expiries further out than this.
const MAX_YEARS_AHEAD: i32 = 30;

fn all_digits_value(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |acc, d| acc * 10 + i32::from(d - b'0')))
}

impl Expiry {
    /// Formats MMYY, MMYYYY, MM/YY, MM/YYYY (spaces around '/' allowed: "12 / 30";
    /// surrounding whitespace ignored). Two-digit years are 20YY.
    pub fn parse(s: &str, today: time::Date) -> Result<Expiry, ExpiryError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ExpiryError::Empty);
        }
        let (mm, yy) = match s.split_once('/') {
            Some((m, y)) => (m.trim_end_matches(' '), y.trim_start_matches(' ')),
            None if s.len() == 4 || s.len() == 6 => {
                // Byte split is safe only on ASCII; non-ASCII falls to InvalidFormat.
                if !s.is_ascii() {
                    return Err(ExpiryError::InvalidFormat);
                }
                s.split_at(2)
            }
            None => return Err(ExpiryError::InvalidFormat),
        };
        if mm.len() != 2 || !(yy.len() == 2 || yy.len() == 4) {
            return Err(ExpiryError::InvalidFormat);
        }
        let month = all_digits_value(mm).ok_or(ExpiryError::InvalidFormat)?;
        let mut year = all_digits_value(yy).ok_or(ExpiryError::InvalidFormat)?;
        if yy.len() == 2 {
            year += 2000;
        }
        if !(1..=12).contains(&month) {
            return Err(ExpiryError::InvalidMonth);
        }
        let month = month as u8; // 1..=12 checked above
        let expiry = Expiry { month, year };
        if expiry.is_expired(today) {
            return Err(ExpiryError::Expired);
        }
        if year - today.year() > MAX_YEARS_AHEAD {
            return Err(ExpiryError::InvalidYear);
        }
        Ok(expiry)
    }

    /// A card is valid through the last day of its month.
    pub fn is_expired(self, today: time::Date) -> bool {
        (self.year, self.month) < (today.year(), u8::from(today.month()))
    }

    /// "MM/YY", as printed on cards and receipts.
    pub fn mm_yy(self) -> String {
        format!("{:02}/{:02}", self.month, self.year.rem_euclid(100))
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CvcError {
    #[error("is required")]
    Empty,
    #[error("must contain only digits")]
    InvalidCharacters,
    #[error("{}", cvc_length_message(*brand))]
    InvalidLength { brand: Option<CardBrand> },
}

fn cvc_length_message(brand: Option<CardBrand>) -> &'static str {
    match brand {
        Some(CardBrand::Amex) => "must be 4 digits",
        _ => "must be 3 or 4 digits",
    }
}

impl ValidationError for CvcError {
    fn code(&self) -> &'static str {
        match self {
            CvcError::Empty => "required",
            CvcError::InvalidCharacters => "invalid_characters",
            CvcError::InvalidLength { .. } => "invalid_length",
        }
    }
}

/// Card security code. Secret: redacted Debug, no Display, no Serialize.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvc(String);

impl Cvc {
    /// ASCII digits only; length per `brand.cvc_length()`, or 3..=4 when the brand is unknown.
    pub fn parse(s: &str, brand: Option<CardBrand>) -> Result<Cvc, CvcError> {
        if s.is_empty() {
            return Err(CvcError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CvcError::InvalidCharacters);
        }
        let allowed = brand.map_or(3..=4, CardBrand::cvc_length);
        if !allowed.contains(&s.len()) {
            return Err(CvcError::InvalidLength { brand });
        }
        Ok(Cvc(s.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: time::Date = date!(2026 - 05 - 15);

    #[test]
    fn brand_strings_round_trip() {
        for b in CardBrand::ALL {
            assert_eq!(CardBrand::parse_str(b.as_str()), Some(b));
            let json = serde_json::to_string(&b).unwrap();
            assert_eq!(serde_json::from_str::<CardBrand>(&json).unwrap(), b);
        }
        assert_eq!(CardBrand::parse_str("Visa"), None);
        assert_eq!(CardBrand::parse_str(""), None);
        assert_eq!(CardBrand::DinersClub.as_str(), "diners");
        assert_eq!(CardBrand::Amex.display_name(), "American Express");
        assert_eq!(CardBrand::Jcb.display_name(), "JCB");
        assert_eq!(CardBrand::Amex.cvc_length(), 4..=4);
        assert_eq!(CardBrand::Visa.cvc_length(), 3..=4);
    }

    #[test]
    fn brand_of_ranges() {
        use CardBrand::*;
        let cases = [
            ("4242424242424242", Some(Visa)),
            ("4", Some(Visa)),
            ("5100000000000000", Some(Mastercard)),
            ("5555555555554444", Some(Mastercard)),
            ("5000000000000000", None),
            ("5600000000000000", None),
            ("2221000000000000", Some(Mastercard)),
            ("2720990000000000", Some(Mastercard)),
            ("2220990000000000", None),
            ("2721000000000000", None),
            ("340000000000000", Some(Amex)),
            ("378282246310005", Some(Amex)),
            ("350000000000000", None),
            ("6011111111111117", Some(Discover)),
            ("6440000000000000", Some(Discover)),
            ("6490000000000000", Some(Discover)),
            ("6430000000000000", None),
            ("6500000000000000", Some(Discover)),
            ("6221260000000000", Some(Discover)),
            ("6229250000000000", Some(Discover)),
            ("6221250000000000", Some(UnionPay)),
            ("6229260000000000", Some(UnionPay)),
            ("6200000000000000", Some(UnionPay)),
            ("8100000000000000", Some(UnionPay)),
            ("30000000000004", Some(DinersClub)),
            ("30500000000000", Some(DinersClub)),
            ("30600000000000", None),
            ("30950000000000", Some(DinersClub)),
            ("36000000000000", Some(DinersClub)),
            ("38000000000000", Some(DinersClub)),
            ("39000000000000", Some(DinersClub)),
            ("3528000000000000", Some(Jcb)),
            ("3589000000000000", Some(Jcb)),
            ("3527000000000000", None),
            ("3590000000000000", None),
            ("1234567890123456", None),
            ("7000000000000000", None),
            ("9000000000000000", None),
            ("", None),
            ("x4", None),
            ("４242", None),
        ];
        for (digits, want) in cases {
            assert_eq!(brand_of(digits), want, "{digits}");
        }
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4242424242424242"));
        assert!(luhn_valid("79927398713"));
        assert!(luhn_valid("0"));
        assert!(!luhn_valid("4242424242424241"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("4242 4242 4242 4242"));
        assert!(!luhn_valid("٤٢٤٢"));
    }

    #[test]
    fn card_number_accepts_test_cards() {
        let cases = [
            ("4242424242424242", CardBrand::Visa),
            ("4222222222222", CardBrand::Visa),
            ("4000056655665556", CardBrand::Visa),
            ("4111111111111111003", CardBrand::Visa),
            ("5555555555554444", CardBrand::Mastercard),
            ("2223003122003222", CardBrand::Mastercard),
            ("378282246310005", CardBrand::Amex),
            ("371449635398431", CardBrand::Amex),
            ("6011111111111117", CardBrand::Discover),
            ("6011000990139424", CardBrand::Discover),
            ("30569309025904", CardBrand::DinersClub),
            ("3056930009020004", CardBrand::DinersClub),
            ("3566002020360505", CardBrand::Jcb),
            ("6200000000000005", CardBrand::UnionPay),
        ];
        for (num, brand) in cases {
            let c = CardNumber::parse(num).unwrap_or_else(|e| panic!("{num}: {e}"));
            assert_eq!(c.brand(), brand, "{num}");
            assert_eq!(c.expose(), num);
            assert_eq!(c.last4(), &num[num.len() - 4..]);
            assert_eq!(c.first6(), &num[..6]);
        }
    }

    #[test]
    fn card_number_strips_single_separators() {
        for s in [
            "4242 4242 4242 4242",
            "4242-4242-4242-4242",
            "4242 4242-4242 4242",
            "4 2 4 2 4 2 4 2 4 2 4 2 4 2 4 2",
        ] {
            assert_eq!(CardNumber::parse(s).unwrap().expose(), "4242424242424242");
        }
        assert_eq!(
            CardNumber::parse("3782 822463 10005").unwrap().brand(),
            CardBrand::Amex
        );
    }

    #[test]
    fn card_number_errors_in_order() {
        use CardNumberError::*;
        let cases: [(&str, CardNumberError); 23] = [
            ("", Empty),
            ("   ", Empty),
            ("4242  4242 4242 4242", InvalidCharacters),
            ("4242--4242-4242-4242", InvalidCharacters),
            ("4242 - 4242 4242 4242", InvalidCharacters),
            (" 4242424242424242", InvalidCharacters),
            ("4242424242424242 ", InvalidCharacters),
            ("-4242424242424242", InvalidCharacters),
            ("4242424242424242-", InvalidCharacters),
            ("4242.4242.4242.4242", InvalidCharacters),
            ("4242/4242/4242/4242", InvalidCharacters),
            ("4242\t4242424242424", InvalidCharacters),
            ("424242424242424x", InvalidCharacters),
            ("４２４２４２４２４２４２４２４２", InvalidCharacters),
            ("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", InvalidCharacters),
            ("424242424242424２", InvalidCharacters),
            ("+4242424242424242", InvalidCharacters),
            ("1234567812345670", UnsupportedBrand),
            ("9999 9999", UnsupportedBrand),
            (
                "424242424242424",
                InvalidLength {
                    brand: CardBrand::Visa,
                },
            ),
            (
                "37828224631000",
                InvalidLength {
                    brand: CardBrand::Amex,
                },
            ),
            (
                "55555555555544440",
                InvalidLength {
                    brand: CardBrand::Mastercard,
                },
            ),
            ("4242424242424241", LuhnFailed),
        ];
        for (s, want) in cases {
            assert_eq!(CardNumber::parse(s).unwrap_err(), want, "{s:?}");
        }
    }

    #[test]
    fn card_number_error_codes_and_no_digits_in_messages() {
        let inputs = [
            "",
            "42x",
            "1234567812345670",
            "424242424242424",
            "4242424242424241",
        ];
        let mut codes = Vec::new();
        for s in inputs {
            let e = CardNumber::parse(s).unwrap_err();
            let msg = e.message();
            assert!(!msg.bytes().any(|b| b.is_ascii_digit()), "{msg}");
            codes.push(e.code());
        }
        assert_eq!(
            codes,
            [
                "required",
                "invalid_characters",
                "unsupported_brand",
                "invalid_length",
                "luhn_check_failed"
            ]
        );
        assert_eq!(
            CardNumberError::InvalidCharacters.message(),
            "must contain only digits"
        );
        assert_eq!(
            CardNumberError::UnsupportedBrand.message(),
            "card brand is not supported"
        );
        assert_eq!(
            CardNumberError::LuhnFailed.message(),
            "card number is not valid"
        );
    }

    #[test]
    fn card_number_debug_is_redacted() {
        let c = CardNumber::parse("4242 4242 4242 4242").unwrap();
        assert_eq!(format!("{c:?}"), "CardNumber(visa ****4242)");
        assert_eq!(format!("{c:#?}"), "CardNumber(visa ****4242)");
        let c = CardNumber::parse("378282246310005").unwrap();
        assert_eq!(format!("{:?}", Some(c)), "Some(CardNumber(amex ****0005))");
    }

    #[test]
    fn expiry_accepts_formats() {
        for s in [
            "1230", "122030", "12/30", "12/2030", "12 / 30", "12 /2030", "12/ 30", " 12/30 ",
        ] {
            assert_eq!(
                Expiry::parse(s, TODAY),
                Ok(Expiry {
                    month: 12,
                    year: 2030
                }),
                "{s:?}"
            );
        }
        assert_eq!(
            Expiry::parse("01/27", TODAY),
            Ok(Expiry {
                month: 1,
                year: 2027
            })
        );
    }

    #[test]
    fn expiry_valid_through_end_of_month() {
        assert!(Expiry::parse("05/26", TODAY).is_ok());
        assert!(Expiry::parse("05/26", date!(2026 - 05 - 31)).is_ok());
        assert_eq!(
            Expiry::parse("05/26", date!(2026 - 06 - 01)),
            Err(ExpiryError::Expired)
        );
        assert_eq!(Expiry::parse("04/26", TODAY), Err(ExpiryError::Expired));
        assert_eq!(Expiry::parse("12/25", TODAY), Err(ExpiryError::Expired));
        assert_eq!(Expiry::parse("0000", TODAY), Err(ExpiryError::InvalidMonth));
        assert_eq!(Expiry::parse("01/0000", TODAY), Err(ExpiryError::Expired));
    }

    #[test]
    fn expiry_year_limit() {
        assert!(Expiry::parse("12/2056", TODAY).is_ok());
        assert_eq!(
            Expiry::parse("01/2057", TODAY),
            Err(ExpiryError::InvalidYear)
        );
        assert_eq!(
            Expiry::parse("01/9999", TODAY),
            Err(ExpiryError::InvalidYear)
        );
        // Two-digit years are always 20YY, so "99" is 2099.
        assert_eq!(Expiry::parse("0199", TODAY), Err(ExpiryError::InvalidYear));
    }

    #[test]
    fn expiry_rejects() {
        use ExpiryError::*;
        let cases = [
            ("", Empty),
            ("  ", Empty),
            ("1/30", InvalidFormat),
            ("123", InvalidFormat),
            ("12345", InvalidFormat),
            ("1234567", InvalidFormat),
            ("12/3", InvalidFormat),
            ("12/203", InvalidFormat),
            ("12/20301", InvalidFormat),
            ("12-30", InvalidFormat),
            ("12.30", InvalidFormat),
            ("12//30", InvalidFormat),
            ("12/30/", InvalidFormat),
            ("ab/cd", InvalidFormat),
            ("１２/３０", InvalidFormat),
            ("١٢/٣٠", InvalidFormat),
            ("١٢٣٠", InvalidFormat),
            ("12é", InvalidFormat),
            ("+1/30", InvalidFormat),
            ("12/+3", InvalidFormat),
            ("12\t/30", InvalidFormat),
            ("00/30", InvalidMonth),
            ("13/30", InvalidMonth),
            ("9930", InvalidMonth),
        ];
        for (s, want) in cases {
            assert_eq!(Expiry::parse(s, TODAY), Err(want.clone()), "{s:?}");
        }
    }

    #[test]
    fn expiry_codes_and_helpers() {
        use ExpiryError::*;
        let codes: Vec<_> = [Empty, InvalidFormat, InvalidMonth, Expired, InvalidYear]
            .iter()
            .map(|e| e.code())
            .collect();
        assert_eq!(
            codes,
            [
                "required",
                "invalid_format",
                "invalid_month",
                "card_expired",
                "invalid_year"
            ]
        );
        assert_eq!(
            InvalidFormat.message(),
            "must be MMYY, MMYYYY, MM/YY or MM/YYYY"
        );
        assert_eq!(Expired.message(), "card has expired");
        let e = Expiry {
            month: 3,
            year: 2031,
        };
        assert_eq!(e.mm_yy(), "03/31");
        assert!(!e.is_expired(TODAY));
    }

    #[test]
    fn cvc_accepts() {
        assert_eq!(
            Cvc::parse("123", Some(CardBrand::Visa)).unwrap().expose(),
            "123"
        );
        assert!(Cvc::parse("1234", Some(CardBrand::Visa)).is_ok());
        assert!(Cvc::parse("1234", Some(CardBrand::Amex)).is_ok());
        assert!(Cvc::parse("000", None).is_ok());
        assert!(Cvc::parse("0000", None).is_ok());
    }

    #[test]
    fn cvc_rejects() {
        use CvcError::*;
        let amex = Some(CardBrand::Amex);
        let visa = Some(CardBrand::Visa);
        let cases = [
            ("", visa, Empty),
            ("12a", visa, InvalidCharacters),
            (" 123", visa, InvalidCharacters),
            ("１２３", visa, InvalidCharacters),
            ("٣٣٣", None, InvalidCharacters),
            ("12", visa, InvalidLength { brand: visa }),
            ("12345", visa, InvalidLength { brand: visa }),
            ("123", amex, InvalidLength { brand: amex }),
            ("12", None, InvalidLength { brand: None }),
        ];
        for (s, brand, want) in cases {
            assert_eq!(Cvc::parse(s, brand).unwrap_err(), want, "{s:?}");
        }
        assert_eq!(
            Cvc::parse("123", amex).unwrap_err().message(),
            "must be 4 digits"
        );
        assert_eq!(
            Cvc::parse("12", visa).unwrap_err().message(),
            "must be 3 or 4 digits"
        );
        assert_eq!(Cvc::parse("", None).unwrap_err().code(), "required");
        assert_eq!(
            Cvc::parse("1x", None).unwrap_err().code(),
            "invalid_characters"
        );
        assert_eq!(Cvc::parse("12", None).unwrap_err().code(), "invalid_length");
    }

    #[test]
    fn cvc_debug_is_redacted() {
        let c = Cvc::parse("987", None).unwrap();
        assert_eq!(format!("{c:?}"), "Cvc(***)");
    }
}
