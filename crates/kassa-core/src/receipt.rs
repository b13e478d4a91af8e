//! The short receipt number a payer reads on the receipt (and in its email) and quotes to the
//! partner: one rule, so every place that shows it shows the same number.

use crate::id::PaymentId;
use crate::payment::Payment;

/// How many characters of the payment id the receipt number keeps.
const RECEIPT_CHARS: usize = 8;

/// The payment id's last 8 characters, upper-cased and grouped in fours: `pay_…x7Kq2mZb` →
/// `X7KQ-2MZB`. Stable (nothing is stored) and easy to read aloud; staff find the payment by
/// the end of its id, ignoring case. Not unique on its own: it names a payment together with
/// the partner, the amount and the date the receipt shows.
pub fn receipt_number(id: &PaymentId) -> String {
    receipt_number_of(id.as_str())
}

/// [`receipt_number`] of an id given as text (an id shorter than 8 characters is upper-cased
/// whole, without the dash).
pub fn receipt_number_of(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let tail = &chars[chars.len().saturating_sub(RECEIPT_CHARS)..];
    let upper = |part: &[char]| {
        part.iter()
            .flat_map(|c| c.to_uppercase())
            .collect::<String>()
    };
    if tail.len() < RECEIPT_CHARS {
        return upper(tail);
    }
    let (first, second) = tail.split_at(RECEIPT_CHARS / 2);
    format!("{}-{}", upper(first), upper(second))
}

impl Payment {
    /// This payment's receipt number ([`receipt_number`]).
    pub fn receipt_number(&self) -> String {
        receipt_number(&self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_eight_upper_cased_in_two_groups() {
        let id = PaymentId::parse("pay_0123456789ABCDEFx7Kq2mZb").unwrap();
        assert_eq!(receipt_number(&id), "X7KQ-2MZB");
    }

    #[test]
    fn a_short_id_is_upper_cased_whole() {
        assert_eq!(receipt_number_of("x"), "X");
        assert_eq!(
            receipt_number_of("pay_0123456789ABCDEFGHIJabcd"),
            "GHIJ-ABCD"
        );
    }

    #[test]
    fn the_same_id_always_gives_the_same_number() {
        let id = PaymentId::generate();
        let number = receipt_number(&id);
        assert_eq!(number, receipt_number(&id.clone()));
        assert_eq!(number.len(), 9);
        assert!(number
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert_eq!(number.find('-'), Some(4));
        let tail = &id.as_str()[id.as_str().len() - 8..];
        assert_eq!(number.replace('-', ""), tail.to_uppercase());
    }
}
