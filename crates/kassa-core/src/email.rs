//! Email addresses, checked loosely: real-world addresses are too varied for a strict
//! grammar, so we only reject what is certainly wrong or unsafe to store and display.

use crate::error::ValidationError;

/// RFC 5321's practical limit on a forward path.
pub const EMAIL_MAX_CHARS: usize = 254;

/// ≤ 254 chars, exactly one '@', non-empty local part, domain with a dot and no empty
/// labels, no whitespace or control characters. Stored as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    #[error("must be a valid email address")]
    Invalid,
}

impl ValidationError for EmailError {
    fn code(&self) -> &'static str {
        match self {
            EmailError::Invalid => "invalid_email",
        }
    }
}

impl Email {
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let ok = !s.is_empty()
            && s.chars().count() <= EMAIL_MAX_CHARS
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && domain.split('.').all(|label| !label.is_empty())
                }
                None => false,
            };
        if ok {
            Ok(Email(s.to_owned()))
        } else {
            Err(EmailError::Invalid)
        }
    }
}

string_newtype_impls!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts() {
        let max = format!("{}@example.com", "a".repeat(254 - 12));
        assert_eq!(max.chars().count(), 254);
        for ok in [
            "a@b.co",
            "jane.doe+kassa@example.com",
            "JANE@EXAMPLE.COM",
            "o'brien@mail.example.ie",
            "user@sub.domain.example",
            "ü@bücher.example",
            "\"quoted\"@example.com",
            max.as_str(),
        ] {
            assert_eq!(Email::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
    }

    #[test]
    fn rejects() {
        let too_long = format!("{}@example.com", "a".repeat(254 - 11));
        for bad in [
            "",
            "plain",
            "@example.com",
            "user@",
            "user@localhost",
            "user@@example.com",
            "a@b@example.com",
            "user@.example.com",
            "user@example.com.",
            "user@example..com",
            "user@.",
            " user@example.com",
            "user@example.com ",
            "us er@example.com",
            "user@exa mple.com",
            "user@example.com\n",
            "user\t@example.com",
            "user\u{0}@example.com",
            "user\u{a0}@example.com",
            too_long.as_str(),
        ] {
            let e = Email::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_email", "{bad:?}");
        }
    }

    #[test]
    fn display_debug_serialize_trusted() {
        let e = Email::parse("a@b.co").unwrap();
        assert_eq!(e.to_string(), "a@b.co");
        assert_eq!(format!("{e:?}"), "Email(\"a@b.co\")");
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"a@b.co\"");
        assert_eq!(Email::from_trusted("x".into()).as_str(), "x");
        assert_eq!(
            EmailError::Invalid.message(),
            "must be a valid email address"
        );
    }
}
