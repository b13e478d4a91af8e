//! US bank account (ACH) details. Routing numbers are public; account numbers are secret.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::error::ValidationError;

/// An ABA routing transit number: 9 ASCII digits with a valid checksum. Not secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RoutingNumber(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RoutingNumberError {
    #[error("is required")]
    Empty,
    #[error("must contain only digits")]
    InvalidCharacters,
    #[error("must be 9 digits")]
    InvalidLength,
    #[error("routing number is not valid")]
    ChecksumFailed,
}

impl ValidationError for RoutingNumberError {
    fn code(&self) -> &'static str {
        match self {
            RoutingNumberError::Empty => "required",
            RoutingNumberError::InvalidCharacters => "invalid_characters",
            RoutingNumberError::InvalidLength => "invalid_length",
            RoutingNumberError::ChecksumFailed => "checksum_failed",
        }
    }
}

/// ABA checksum: 3(d1+d4+d7) + 7(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
// `is_multiple_of` needs Rust 1.87; the workspace declares rust-version 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn aba_checksum_ok(digits: &[u8]) -> bool {
    const WEIGHTS: [u32; 3] = [3, 7, 1];
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, b)| WEIGHTS[i % 3] * u32::from(b - b'0'))
        .sum();
    sum % 10 == 0
}

impl RoutingNumber {
    pub fn parse(s: &str) -> Result<Self, RoutingNumberError> {
        if s.is_empty() {
            return Err(RoutingNumberError::Empty);
        }
        let bytes = s.as_bytes();
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(RoutingNumberError::InvalidCharacters);
        }
        if bytes.len() != 9 {
            return Err(RoutingNumberError::InvalidLength);
        }
        if !aba_checksum_ok(bytes) {
            return Err(RoutingNumberError::ChecksumFailed);
        }
        Ok(RoutingNumber(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoutingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for RoutingNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A bank account number: 4–17 ASCII digits. Secret: redacted Debug, no Display, no Serialize.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountNumber(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AccountNumberError {
    #[error("is required")]
    Empty,
    #[error("must contain only digits")]
    InvalidCharacters,
    #[error("must be 4 to 17 digits")]
    InvalidLength,
}

impl ValidationError for AccountNumberError {
    fn code(&self) -> &'static str {
        match self {
            AccountNumberError::Empty => "required",
            AccountNumberError::InvalidCharacters => "invalid_characters",
            AccountNumberError::InvalidLength => "invalid_length",
        }
    }
}

impl AccountNumber {
    pub fn parse(s: &str) -> Result<Self, AccountNumberError> {
        if s.is_empty() {
            return Err(AccountNumberError::Empty);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AccountNumberError::InvalidCharacters);
        }
        // NACHA allows up to 17 characters; under 4 there is no meaningful last4.
        if !(4..=17).contains(&s.len()) {
            return Err(AccountNumberError::InvalidLength);
        }
        Ok(AccountNumber(s.to_owned()))
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    /// The digits; the only way out, so every use of the secret is greppable.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountNumber(****{})", self.last4())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountType {
    Checking,
    Savings,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AccountTypeError {
    #[error("must be Checking or Savings")]
    InvalidValue,
}

impl ValidationError for AccountTypeError {
    fn code(&self) -> &'static str {
        match self {
            AccountTypeError::InvalidValue => "invalid_value",
        }
    }
}

impl AccountType {
    /// Case-insensitive "checking" / "savings".
    pub fn parse(s: &str) -> Result<Self, AccountTypeError> {
        if s.eq_ignore_ascii_case("checking") {
            Ok(AccountType::Checking)
        } else if s.eq_ignore_ascii_case("savings") {
            Ok(AccountType::Savings)
        } else {
            Err(AccountTypeError::InvalidValue)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Checking => "checking",
            AccountType::Savings => "savings",
        }
    }
}

impl Serialize for AccountType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for AccountType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(
                [AccountType::Checking, AccountType::Savings].map(AccountType::as_str),
            ))
            .into()
    }
}

impl utoipa::ToSchema for AccountType {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_accepts_valid_checksums() {
        for ok in [
            "110000000",
            "021000021",
            "011000015",
            "011401533",
            "091000019",
        ] {
            let r = RoutingNumber::parse(ok).unwrap();
            assert_eq!(r.as_str(), ok);
            assert_eq!(r.to_string(), ok);
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{ok}\""));
        }
    }

    #[test]
    fn routing_rejects() {
        use RoutingNumberError::*;
        let cases = [
            ("", Empty),
            ("11000000a", InvalidCharacters),
            (" 110000000", InvalidCharacters),
            ("110-000-000", InvalidCharacters),
            ("１１0000000", InvalidCharacters),
            ("٣10000000", InvalidCharacters),
            ("11000000", InvalidLength),
            ("1100000000", InvalidLength),
            ("110000001", ChecksumFailed),
            ("021000022", ChecksumFailed),
        ];
        for (s, want) in cases {
            assert_eq!(RoutingNumber::parse(s), Err(want), "{s:?}");
        }
    }

    #[test]
    fn routing_codes_and_messages() {
        use RoutingNumberError::*;
        assert_eq!(Empty.code(), "required");
        assert_eq!(InvalidCharacters.code(), "invalid_characters");
        assert_eq!(InvalidLength.code(), "invalid_length");
        assert_eq!(InvalidLength.message(), "must be 9 digits");
        assert_eq!(ChecksumFailed.code(), "checksum_failed");
        assert_eq!(ChecksumFailed.message(), "routing number is not valid");
    }

    #[test]
    fn account_number_accepts() {
        for ok in ["1234", "123456789", "12345678901234567", "0000"] {
            let a = AccountNumber::parse(ok).unwrap();
            assert_eq!(a.expose(), ok);
            assert_eq!(a.last4(), &ok[ok.len() - 4..]);
        }
    }

    #[test]
    fn account_number_rejects() {
        use AccountNumberError::*;
        let cases = [
            ("", Empty),
            ("1234-5678", InvalidCharacters),
            ("1234 5678", InvalidCharacters),
            ("12345678９", InvalidCharacters),
            ("١٢٣٤٥", InvalidCharacters),
            ("123", InvalidLength),
            ("123456789012345678", InvalidLength),
        ];
        for (s, want) in cases {
            assert_eq!(AccountNumber::parse(s), Err(want), "{s:?}");
        }
        assert_eq!(InvalidLength.message(), "must be 4 to 17 digits");
        assert_eq!(Empty.code(), "required");
        assert_eq!(InvalidCharacters.code(), "invalid_characters");
        assert_eq!(InvalidLength.code(), "invalid_length");
    }

    #[test]
    fn account_number_debug_is_redacted() {
        let a = AccountNumber::parse("000123456789").unwrap();
        assert_eq!(format!("{a:?}"), "AccountNumber(****6789)");
        assert!(!format!("{a:#?}").contains("12345"));
    }

    #[test]
    fn account_type() {
        for (s, want) in [
            ("checking", AccountType::Checking),
            ("Checking", AccountType::Checking),
            ("CHECKING", AccountType::Checking),
            ("savings", AccountType::Savings),
            ("Savings", AccountType::Savings),
        ] {
            assert_eq!(AccountType::parse(s), Ok(want));
        }
        for bad in ["", "check", "saving", " checking", "checking ", "business"] {
            let e = AccountType::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_value");
            assert_eq!(e.message(), "must be Checking or Savings");
        }
        assert_eq!(AccountType::Checking.as_str(), "checking");
        assert_eq!(
            serde_json::to_string(&AccountType::Savings).unwrap(),
            "\"savings\""
        );
    }
}

/// The payer's authorization of a bank debit, as the pay page took it (docs/api.md §10): when, from
/// where, and which wording they agreed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AchAuthorization {
    #[serde(with = "crate::clock::rfc3339")]
    pub accepted_at: time::OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Which wording of [`authorization_text`] was shown.
    pub text_version: String,
}

/// The version of the wording [`authorization_text`] writes; stored with each authorization, and
/// changed whenever the wording changes.
pub const AUTHORIZATION_TEXT_VERSION: &str = "2026-12-06";

/// The authorization a payer accepts before a bank debit: who debits how much, when, and how to
/// revoke it (the wording NACHA asks of a single-entry web debit).
pub fn authorization_text(partner: &str, amount: &str, date: &str) -> String {
    format!(
        "By checking this box, I authorize {partner} to debit {amount} from the bank account I \
         entered above, once, on or after {date}. If the debit is returned because of \
         insufficient funds, my bank may charge a fee. I can revoke this authorization by \
         contacting {partner} before the debit is made."
    )
}

#[cfg(test)]
mod authorization_tests {
    use super::*;

    #[test]
    fn the_text_names_partner_amount_date_and_revocation() {
        let text = authorization_text("Acme Plumbing", "$120.00", "December 6, 2026");
        assert!(text.contains("Acme Plumbing to debit $120.00"));
        assert!(text.contains("December 6, 2026"));
        assert!(text.contains("revoke"));
    }
}
