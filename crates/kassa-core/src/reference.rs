//! The partner's own reference for a payment request (their invoice or order number).

use crate::error::ValidationError;

pub const REFERENCE_ID_MAX_CHARS: usize = 100;

/// The partner's own reference for a payment request: 1–100 characters (chars, not bytes),
/// no control characters, not only whitespace. Stored exactly as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferenceId(String);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceIdError {
    #[error("is required")]
    Empty,
    #[error("must be at most 100 characters")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacters,
}

impl ValidationError for ReferenceIdError {
    fn code(&self) -> &'static str {
        match self {
            ReferenceIdError::Empty => "required",
            ReferenceIdError::TooLong => "too_long",
            ReferenceIdError::ControlCharacters => "invalid_characters",
        }
    }
}

impl ReferenceId {
    pub fn parse(s: &str) -> Result<Self, ReferenceIdError> {
        // Whitespace-only counts as missing: it would be an invisible reference.
        if s.trim().is_empty() {
            return Err(ReferenceIdError::Empty);
        }
        // Limit counts chars so a non-Latin reference gets the same allowance as ASCII.
        if s.chars().count() > REFERENCE_ID_MAX_CHARS {
            return Err(ReferenceIdError::TooLong);
        }
        // Control characters break logs, CSV exports and receipts.
        if s.chars().any(char::is_control) {
            return Err(ReferenceIdError::ControlCharacters);
        }
        Ok(ReferenceId(s.to_owned()))
    }
}

string_newtype_impls!(ReferenceId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_stores_exactly() {
        for ok in [
            "INV-1001",
            "a",
            " padded ",
            "Rechnung Nr. 5",
            "注文-42",
            "٣٣",
            "emoji 🧾",
        ] {
            assert_eq!(ReferenceId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn length_counts_chars_not_bytes() {
        let ascii = "x".repeat(100);
        assert!(ReferenceId::parse(&ascii).is_ok());
        let multibyte = "é".repeat(100); // 200 bytes
        assert!(ReferenceId::parse(&multibyte).is_ok());
        assert_eq!(
            ReferenceId::parse(&"x".repeat(101)),
            Err(ReferenceIdError::TooLong)
        );
        assert_eq!(
            ReferenceId::parse(&"é".repeat(101)),
            Err(ReferenceIdError::TooLong)
        );
    }

    #[test]
    fn rejects_empty_and_blank() {
        for bad in ["", " ", "   ", "\t", "\n", "\u{3000}"] {
            assert_eq!(
                ReferenceId::parse(bad),
                Err(ReferenceIdError::Empty),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_control_characters() {
        for bad in [
            "a\nb",
            "a\tb",
            "ab\r",
            "\u{0}x",
            "x\u{7f}",
            "x\u{1b}[31m",
            "x\u{85}",
        ] {
            assert_eq!(
                ReferenceId::parse(bad),
                Err(ReferenceIdError::ControlCharacters),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn codes_and_messages() {
        assert_eq!(ReferenceIdError::Empty.code(), "required");
        assert_eq!(ReferenceIdError::Empty.message(), "is required");
        assert_eq!(ReferenceIdError::TooLong.code(), "too_long");
        assert_eq!(
            ReferenceIdError::TooLong.message(),
            "must be at most 100 characters"
        );
        assert_eq!(
            ReferenceIdError::ControlCharacters.code(),
            "invalid_characters"
        );
        assert_eq!(
            ReferenceIdError::ControlCharacters.message(),
            "must not contain control characters"
        );
    }

    #[test]
    fn display_serialize_trusted() {
        let r = ReferenceId::parse("INV-1").unwrap();
        assert_eq!(r.to_string(), "INV-1");
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"INV-1\"");
        assert_eq!(ReferenceId::from_trusted("\n".into()).as_str(), "\n");
    }
}
