//! How payers reach a partner and read its policies (docs/api.md §11): the support email, phone
//! and page, and the terms and privacy pages, shown on the pay page, the receipt and in emails.
//! Each is optional; what is set is checked here so a page can link it without a second thought.

use crate::email::Email;
use crate::error::ValidationError;
use crate::url::{RedirectUrl, RedirectUrlError};

/// The partner's contact and policy links; all optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    pub support_email: Option<Email>,
    pub support_phone: Option<SupportPhone>,
    pub support_url: Option<PolicyUrl>,
    pub terms_url: Option<PolicyUrl>,
    pub privacy_url: Option<PolicyUrl>,
}

impl Contact {
    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self == &Contact::default()
    }
}

/// A phone number as payers should read it, e.g. `+1 (415) 555-0100`: 5 to 20 digits, with
/// spaces, `+` (first only), `-`, `.`, `(` and `)`; at most 30 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportPhone(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupportPhoneError {
    #[error("must be a phone number of 5 to 20 digits, with spaces, +, -, ., ( or ) only")]
    Invalid,
}

impl ValidationError for SupportPhoneError {
    fn code(&self) -> &'static str {
        "invalid_phone"
    }
}

impl SupportPhone {
    pub fn parse(s: &str) -> Result<SupportPhone, SupportPhoneError> {
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        let allowed = s
            .bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || b" -.()".contains(&b) || (b == b'+' && i == 0));
        if s.len() > 30 || !(5..=20).contains(&digits) || !allowed {
            return Err(SupportPhoneError::Invalid);
        }
        Ok(SupportPhone(s.to_owned()))
    }

    /// The `tel:` link: the `+` and the digits only (RFC 3966).
    pub fn tel_href(&self) -> String {
        let mut href = String::from("tel:");
        href.extend(self.0.chars().filter(|c| c.is_ascii_digit() || *c == '+'));
        href
    }
}

string_newtype_impls!(SupportPhone);

/// A page of the partner's, such as its terms: the rules of a redirect URL (absolute `https`,
/// no credentials, at most 2048 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyUrl(String);

impl PolicyUrl {
    pub fn parse(s: &str) -> Result<PolicyUrl, RedirectUrlError> {
        Ok(PolicyUrl(RedirectUrl::parse(s)?.as_str().to_owned()))
    }
}

string_newtype_impls!(PolicyUrl);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_people_write_are_accepted_and_dialled_as_digits() {
        for (ok, tel) in [
            ("+1 (415) 555-0100", "tel:+14155550100"),
            ("415.555.0100", "tel:4155550100"),
            ("0800 123 456", "tel:0800123456"),
        ] {
            assert_eq!(SupportPhone::parse(ok).unwrap().tel_href(), tel, "{ok}");
        }
    }

    #[test]
    fn anything_else_is_not_a_phone() {
        for bad in [
            "",
            "1234",
            "call us",
            "+1 415 555 0100 ext 5",
            "1+415",
            "javascript:alert(1)",
            "415-555-0100\n",
            "<b>4155550100</b>",
            &"1".repeat(21),
            &format!("{}1", " ".repeat(30)),
        ] {
            assert_eq!(
                SupportPhone::parse(bad).unwrap_err().code(),
                "invalid_phone",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn policy_urls_follow_the_redirect_rules() {
        assert!(PolicyUrl::parse("https://acme.example/terms").is_ok());
        for bad in [
            "javascript:alert(1)",
            "/terms",
            "https://user:pw@acme.example/",
        ] {
            assert!(PolicyUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_contact_is_empty() {
        assert!(Contact::default().is_empty());
        let c = Contact {
            support_phone: Some(SupportPhone::parse("+1 415 555 0100").unwrap()),
            ..Contact::default()
        };
        assert!(!c.is_empty());
    }
}
