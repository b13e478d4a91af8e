//! Kassa ids in Authorize.net's 20-character fields. `refId` and `order.invoiceNumber` hold at
//! most 20 characters while a Kassa id is a prefix plus 24 base62 characters, so the invoice
//! number carries a deterministic short form and `order.description` the full id; reading a
//! transaction back checks one against the other.
//!
//! The short form is one letter for the kind (`p` payment, `a` authorization, `r` refund)
//! followed by the first 19 characters of the random part. Two ids of one kind share a short
//! form only if their first 19 random characters agree: 62^19 ≈ 2^113 possibilities, so even
//! across a billion ids the chance of any collision is about 2^-53. A collision could not go
//! unnoticed anyway: the description must name the full id the short form came from.

use kassa_core::id::{AuthorizationId, PaymentId, RefundId, ID_RANDOM_LEN};

/// Authorize.net's limit for `refId` and `order.invoiceNumber`.
pub const FIELD_LEN: usize = 20;

/// What a Kassa id names, as its short form's first letter says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Payment,
    Authorization,
    Refund,
}

impl IdKind {
    fn letter(self) -> char {
        match self {
            Self::Payment => 'p',
            Self::Authorization => 'a',
            Self::Refund => 'r',
        }
    }

    fn of_letter(letter: char) -> Option<Self> {
        [Self::Payment, Self::Authorization, Self::Refund]
            .into_iter()
            .find(|k| k.letter() == letter)
    }

    /// The kind and random part of a full Kassa id.
    fn split(kassa_id: &str) -> Option<(Self, &str)> {
        if PaymentId::parse(kassa_id).is_ok() {
            Some((Self::Payment, &kassa_id["pay_".len()..]))
        } else if AuthorizationId::parse(kassa_id).is_ok() {
            Some((Self::Authorization, &kassa_id["auth_".len()..]))
        } else if RefundId::parse(kassa_id).is_ok() {
            Some((Self::Refund, &kassa_id["re_".len()..]))
        } else {
            None
        }
    }
}

/// The 20-character form of a Kassa id for `refId` and `order.invoiceNumber`. Anything that
/// is not a Kassa payment, authorization or refund id is cut to 20 characters, so the field is
/// never refused for its length.
pub fn short_id(kassa_id: &str) -> String {
    match IdKind::split(kassa_id) {
        Some((kind, random)) => {
            let mut short = String::with_capacity(FIELD_LEN);
            short.push(kind.letter());
            short.push_str(&random[..FIELD_LEN - 1]);
            short
        }
        None => kassa_id.chars().take(FIELD_LEN).collect(),
    }
}

/// The kind a short form names, if it has the shape [`short_id`] gives.
pub fn short_kind(short: &str) -> Option<IdKind> {
    let mut chars = short.chars();
    let kind = IdKind::of_letter(chars.next()?)?;
    let rest = chars.as_str();
    (rest.len() == FIELD_LEN - 1 && rest.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(kind)
}

/// Whether `short` is the short form of `kassa_id`.
pub fn is_short_of(short: &str, kassa_id: &str) -> bool {
    IdKind::split(kassa_id).is_some() && short_id(kassa_id) == short
}

/// The full Kassa id a transaction's order names: the id in the description, provided the
/// invoice number (when there is one) is its short form. `None` for a transaction Kassa did
/// not make, or one whose fields disagree.
pub fn kassa_id_of(invoice_number: Option<&str>, description: Option<&str>) -> Option<String> {
    let full = description?
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .find(|token| IdKind::split(token).is_some())?;
    match invoice_number.filter(|n| !n.is_empty()) {
        Some(invoice) if !is_short_of(invoice, full) => None,
        _ => Some(full.to_string()),
    }
}

// The random part is what `short_id` slices; a change of length in kassa-core must be seen here.
const _: () = assert!(ID_RANDOM_LEN >= FIELD_LEN - 1);

#[cfg(test)]
mod tests {
    use super::*;

    const PAY: &str = "pay_0123456789ABCDEFGHIJabcd";
    const AUTH: &str = "auth_0123456789ABCDEFGHIJabcd";
    const REFUND: &str = "re_zyxwvutsrqponmlkjihgfedc";

    #[test]
    fn short_forms_fit_twenty_characters_and_keep_the_kind() {
        assert_eq!(short_id(PAY), "p0123456789ABCDEFGHI");
        assert_eq!(short_id(AUTH), "a0123456789ABCDEFGHI");
        assert_eq!(short_id(REFUND), "rzyxwvutsrqponmlkjih");
        for id in [PAY, AUTH, REFUND] {
            assert_eq!(short_id(id).len(), FIELD_LEN);
        }
        assert_eq!(short_kind(&short_id(PAY)), Some(IdKind::Payment));
        assert_eq!(short_kind(&short_id(AUTH)), Some(IdKind::Authorization));
        assert_eq!(short_kind(&short_id(REFUND)), Some(IdKind::Refund));
    }

    #[test]
    fn short_forms_are_deterministic_and_distinguish_kinds() {
        assert_eq!(short_id(PAY), short_id(PAY));
        // The same random part under two kinds stays two short forms.
        assert_ne!(short_id(PAY), short_id(AUTH));
        assert!(is_short_of(&short_id(PAY), PAY));
        assert!(!is_short_of(&short_id(PAY), AUTH));
    }

    #[test]
    fn foreign_values_are_cut_not_refused() {
        assert_eq!(short_id("INV-2024-000000000001-X"), "INV-2024-00000000000");
        assert_eq!(short_id("A-1"), "A-1");
        assert_eq!(short_kind("A-1"), None);
        assert_eq!(short_kind("x0123456789ABCDEFGHI"), None);
        assert_eq!(short_kind("p0123456789ABCDEFGH"), None);
        assert_eq!(short_kind("p0123456789ABCDEFG-I"), None);
    }

    #[test]
    fn the_full_id_is_read_back_from_the_description() {
        let short = short_id(PAY);
        assert_eq!(kassa_id_of(Some(&short), Some(PAY)), Some(PAY.to_string()));
        assert_eq!(kassa_id_of(None, Some(PAY)), Some(PAY.to_string()));
        assert_eq!(
            kassa_id_of(Some(&short), Some(&format!("Kassa {PAY}"))),
            Some(PAY.to_string())
        );
        // An invoice number that is not the description's short form: not ours to trust.
        assert_eq!(kassa_id_of(Some(&short_id(AUTH)), Some(PAY)), None);
        assert_eq!(kassa_id_of(Some(&short), None), None);
        assert_eq!(kassa_id_of(Some("A-1"), Some("Order A-1")), None);
    }
}
