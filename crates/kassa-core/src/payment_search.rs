//! What the dashboard's one search box on Transactions looks for. A term is read every way it
//! can mean something, and a payment matches when any reading does:
//!
//! - always, as text found in the reference id, the payer's email or the payer's name
//!   (case-insensitive);
//! - exactly four digits ("4242"): the last 4 of the card or bank account;
//! - with a `$` or a decimal point ("$12.50", "12.50", "$12", "1,250.00"): an amount in dollars.
//!   A bare number ("1250") is not an amount, since it could mean $1,250.00 or $12.50;
//! - a payment id (`pay_…`) or a payment request id (`pr_…`), exactly.

use crate::id::{PaymentId, PaymentRequestId};
use crate::money::parse_amount;

/// The longest term read; the rest is ignored.
pub const MAX_CHARS: usize = 100;

/// A search term, read every way it can mean (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSearch {
    /// Lowercase, trimmed: matched as a part of the reference id, payer email and payer name.
    pub text: String,
    pub last4: Option<String>,
    /// In minor units (cents).
    pub amount_minor: Option<i64>,
    pub payment_id: Option<PaymentId>,
    pub payment_request_id: Option<PaymentRequestId>,
}

impl PaymentSearch {
    /// None for a blank term (no search).
    pub fn parse(term: &str) -> Option<PaymentSearch> {
        let term: String = term.trim().chars().take(MAX_CHARS).collect();
        let term = term.trim_end();
        if term.is_empty() {
            return None;
        }
        let last4 =
            (term.len() == 4 && term.bytes().all(|b| b.is_ascii_digit())).then(|| term.to_string());
        Some(PaymentSearch {
            text: term.to_lowercase(),
            last4,
            amount_minor: amount(term),
            payment_id: PaymentId::parse(term).ok(),
            payment_request_id: PaymentRequestId::parse(term).ok(),
        })
    }
}

/// "$12.50", "12.50", "$ 12", "1,250.00" in cents; None for a bare number or anything else.
fn amount(term: &str) -> Option<i64> {
    let dollars = term.strip_prefix('$').map(str::trim_start);
    if dollars.is_none() && !term.contains('.') {
        return None;
    }
    let digits = dollars.unwrap_or(term);
    // Thousands separators only where they belong: "1,250.00", not "1,25".
    let whole = digits.split('.').next().unwrap_or("");
    if whole.contains(',') {
        let mut groups = whole.split(',');
        let first = groups.next().unwrap_or("");
        if first.is_empty() || first.len() > 3 || groups.any(|g| g.len() != 3) {
            return None;
        }
    }
    parse_amount(&digits.replace(',', "")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(term: &str) -> PaymentSearch {
        PaymentSearch::parse(term).expect("a term")
    }

    #[test]
    fn blank_is_no_search() {
        assert_eq!(PaymentSearch::parse(""), None);
        assert_eq!(PaymentSearch::parse("   "), None);
    }

    #[test]
    fn text_is_trimmed_lowercase_and_bounded() {
        let s = parse("  Quote-7 ");
        assert_eq!(s.text, "quote-7");
        assert_eq!(s.last4, None);
        assert_eq!(s.amount_minor, None);
        let long = "x".repeat(150);
        assert_eq!(parse(&long).text.len(), MAX_CHARS);
        // Characters that mean something to LIKE are plain text here (the store escapes them).
        assert_eq!(parse("50%_off").text, "50%_off");
    }

    #[test]
    fn four_digits_are_a_last4_but_not_an_amount() {
        let s = parse("4242");
        assert_eq!(s.last4.as_deref(), Some("4242"));
        assert_eq!(s.amount_minor, None);
        assert_eq!(s.text, "4242");
        assert_eq!(parse("424").last4, None);
        assert_eq!(parse("42424").last4, None);
        assert_eq!(parse("42a2").last4, None);
    }

    #[test]
    fn dollars_need_a_sign_or_a_decimal_point() {
        assert_eq!(parse("$12.50").amount_minor, Some(1250));
        assert_eq!(parse("12.50").amount_minor, Some(1250));
        assert_eq!(parse("12.5").amount_minor, Some(1250));
        assert_eq!(parse("$12").amount_minor, Some(1200));
        assert_eq!(parse("$ 12").amount_minor, Some(1200));
        assert_eq!(parse("$1,250.00").amount_minor, Some(125_000));
        assert_eq!(parse("1,250.00").amount_minor, Some(125_000));
        assert_eq!(parse("1250").amount_minor, None);
        assert_eq!(parse("12.505").amount_minor, None);
        assert_eq!(parse("1,25.00").amount_minor, None);
        assert_eq!(parse(",250.00").amount_minor, None);
        assert_eq!(parse("$-5").amount_minor, None);
        assert_eq!(parse("$").amount_minor, None);
        assert_eq!(parse("v1.2").amount_minor, None);
        assert_eq!(parse("$99999999999999999999").amount_minor, None);
    }

    #[test]
    fn ids_are_read_exactly() {
        let pay = PaymentId::generate();
        let s = parse(pay.as_str());
        assert_eq!(s.payment_id.as_ref(), Some(&pay));
        assert_eq!(s.payment_request_id, None);
        let pr = PaymentRequestId::generate();
        assert_eq!(parse(pr.as_str()).payment_request_id.as_ref(), Some(&pr));
        assert_eq!(parse("pay_short").payment_id, None);
        assert_eq!(parse("pay_short").text, "pay_short");
    }
}
