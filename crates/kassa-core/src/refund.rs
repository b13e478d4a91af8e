//! Refunds (docs/api.md §4): money paid back to the payer out of the partner's available balance, and
//! deducted from the partner's next payout.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::error::{FieldErrors, ValidationError};
use crate::id::{PartnerId, PaymentId, PayoutId, RefundId};
use crate::money::{amount_text, AmountError, Currency, Money};
use crate::payment::{Payment, PaymentStatus};

/// Characters a refund's `reason` may have.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Sent to the processor, not confirmed yet.
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse_str(s: &str) -> Option<RefundStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A refund of (part of) a captured payment.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
    pub id: RefundId,
    #[serde(skip)]
    pub partner_id: PartnerId,
    #[schema(inline)]
    pub object: RefundObject,
    pub payment_id: PaymentId,
    pub amount: Money,
    pub currency: Currency,
    pub status: RefundStatus,
    pub reason: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Which processor paid it back (the payment's), and its id there.
    pub processor: crate::processor::ProcessorRef,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The payout it was deducted from; null until a payout is cut after it.
    pub payout_id: Option<PayoutId>,
    /// Who asked for it: an API key, a dashboard user, … (null for refunds made before Kassa
    /// recorded it).
    pub created_by: Option<crate::audit::Actor>,
}

/// The `object` field: always `"refund"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
pub enum RefundObject {
    #[default]
    #[serde(rename = "refund")]
    Refund,
}

/// The body of POST /v1/payments/{id}/refunds.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundInput {
    /// How much to refund; omitted (or null) refunds all that is left of the captured amount.
    #[schema(schema_with = crate::money::amount_input_schema)]
    pub amount: Option<Box<RawValue>>,
    /// Why, for the partner's records; blank counts as none.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
enum ReasonError {
    #[error("must be at most {MAX_REASON_CHARS} characters")]
    TooLong,
    #[error("must not contain control characters other than newline and tab")]
    ControlCharacters,
}

impl ValidationError for ReasonError {
    fn code(&self) -> &'static str {
        match self {
            ReasonError::TooLong => "invalid_length",
            ReasonError::ControlCharacters => "invalid_characters",
        }
    }
}

/// Trimmed; blank is none. Newline and tab are allowed: a reason may span lines.
fn parse_reason(reason: Option<String>) -> Result<Option<String>, ReasonError> {
    let Some(reason) = reason else {
        return Ok(None);
    };
    let reason = reason.trim();
    if reason.is_empty() {
        return Ok(None);
    }
    // Counts chars, not bytes, so non-Latin text gets the same allowance as ASCII.
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(ReasonError::TooLong);
    }
    if reason
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(ReasonError::ControlCharacters);
    }
    Ok(Some(reason.to_owned()))
}

fn parse_amount_field(
    raw: Option<&RawValue>,
    currency: Currency,
    max_minor: i64,
) -> Result<Option<Money>, AmountError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = amount_text(raw).ok_or(AmountError::Invalid)?;
    Money::parse_positive(&text, currency, max_minor).map(Some)
}

impl RefundInput {
    /// The same input from a form: an amount as typed (blank = all that is left) and a reason.
    pub fn from_form(amount: &str, reason: &str) -> RefundInput {
        let amount = amount.trim();
        RefundInput {
            amount: (!amount.is_empty()).then(|| {
                RawValue::from_string(serde_json::Value::from(amount).to_string())
                    .expect("a JSON string is valid JSON")
            }),
            reason: Some(reason.to_string()),
        }
    }

    /// amount: a positive amount of at most `max_minor` (None = all that is left); reason:
    /// trimmed, empty = none, ≤ 500 chars, no control characters except newline/tab. Every error
    /// is recorded in `errors` under "amount" / "reason"; None if any was.
    ///
    /// `max_minor` bounds the amount as a request value (the configured ceiling); whether that
    /// much is left to refund is [`check_refund`], which the store applies atomically with the
    /// refund (422 `refund_exceeds_available`).
    pub fn validate(
        self,
        currency: Currency,
        max_minor: i64,
        errors: &mut FieldErrors,
    ) -> Option<(Option<Money>, Option<String>)> {
        let before = errors.len();
        let amount = errors.take(
            "amount",
            parse_amount_field(self.amount.as_deref(), currency, max_minor),
        );
        let reason = errors.take("reason", parse_reason(self.reason));
        if errors.len() > before {
            return None;
        }
        Some((amount?, reason?))
    }
}

/// What is left to refund of a payment: captured minus refunded, where refunds still pending
/// count as taken (a refund reserves its amount when it starts). Never negative.
pub fn refundable(payment: &Payment) -> Money {
    Money::new(
        (payment.captured_amount.minor() - payment.refunded_amount.minor()).max(0),
        payment.currency,
    )
}

/// Why a payment cannot take a refund.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    /// Nothing was collected to refund: the payment is pending (an ACH debit not cleared yet, or an
    /// attempt still being decided) or failed.
    #[error("the payment has not collected anything to refund")]
    NotSettled,
    /// More than is left was asked, or nothing is left; `available` is what is left.
    #[error("at most {} is left to refund", available.display())]
    ExceedsAvailable { available: Money },
}

/// What a refund takes from its payment when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundReservation {
    /// The refund's amount: the one asked for, or all that is left.
    pub amount: Money,
    /// The payment's `refundedAmount` with this refund reserved.
    pub refunded_after: Money,
    pub status_after: PaymentStatus,
}

/// The refundable-amount rule, once: a payment takes a refund only when it is completed or
/// partially refunded, and only of a positive amount of at most [`refundable`]. `requested` None
/// refunds all that is left; it is in the payment's currency.
///
/// The store makes the same decision atomically with the reservation (its conditional update
/// must agree with this function); the dashboard asks it before offering a refund.
pub fn check_refund(
    payment: &Payment,
    requested: Option<Money>,
) -> Result<RefundReservation, RefundError> {
    let available = refundable(payment);
    match payment.status {
        PaymentStatus::Pending | PaymentStatus::Failed => return Err(RefundError::NotSettled),
        PaymentStatus::Refunded => return Err(RefundError::ExceedsAvailable { available }),
        PaymentStatus::Completed | PaymentStatus::PartiallyRefunded => {}
    }
    let amount = requested.map_or(available.minor(), Money::minor);
    if amount <= 0 || amount > available.minor() {
        return Err(RefundError::ExceedsAvailable { available });
    }
    let refunded_after = payment.refunded_amount.minor() + amount;
    Ok(RefundReservation {
        amount: Money::new(amount, payment.currency),
        refunded_after: Money::new(refunded_after, payment.currency),
        status_after: status_after_refunds(payment.captured_amount.minor(), refunded_after),
    })
}

/// A settled payment's status once `refunded` of its `captured` minor units are refunded
/// (pending refunds included): nothing refunded is `completed`, everything `refunded`, anything
/// between `partially_refunded`. Used when a refund is reserved and when a failed one gives its
/// amount back.
pub fn status_after_refunds(captured: i64, refunded: i64) -> PaymentStatus {
    if refunded == 0 {
        PaymentStatus::Completed
    } else if refunded == captured {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;
    use crate::money::DEFAULT_MAX_AMOUNT_MINOR;
    use serde_json::json;
    use time::macros::datetime;

    type Validated = (Option<Money>, Option<String>);

    fn paid(status: PaymentStatus, captured: i64, refunded: i64) -> Payment {
        Payment {
            captured_amount: usd(captured),
            refunded_amount: usd(refunded),
            ..crate::payment::test_payment(status, captured)
        }
    }

    fn reserved(
        amount: i64,
        refunded_after: i64,
        status_after: PaymentStatus,
    ) -> RefundReservation {
        RefundReservation {
            amount: usd(amount),
            refunded_after: usd(refunded_after),
            status_after,
        }
    }

    #[test]
    fn refundable_is_what_is_left_of_the_capture() {
        assert_eq!(
            refundable(&paid(PaymentStatus::Completed, 10_000, 0)),
            usd(10_000)
        );
        assert_eq!(
            refundable(&paid(PaymentStatus::PartiallyRefunded, 10_000, 2_500)),
            usd(7_500)
        );
        assert_eq!(
            refundable(&paid(PaymentStatus::Refunded, 10_000, 10_000)),
            usd(0)
        );
        // Nothing captured yet, nothing to refund; never negative.
        assert_eq!(refundable(&paid(PaymentStatus::Pending, 0, 0)), usd(0));
        assert_eq!(refundable(&paid(PaymentStatus::Refunded, 100, 200)), usd(0));
    }

    #[test]
    fn a_refund_takes_at_most_what_is_left() {
        use PaymentStatus::*;
        // All that is left, when no amount is given.
        assert_eq!(
            check_refund(&paid(Completed, 10_000, 0), None),
            Ok(reserved(10_000, 10_000, Refunded))
        );
        assert_eq!(
            check_refund(&paid(PartiallyRefunded, 10_000, 2_500), None),
            Ok(reserved(7_500, 10_000, Refunded))
        );
        // Part, then exactly the rest.
        assert_eq!(
            check_refund(&paid(Completed, 10_000, 0), Some(usd(2_500))),
            Ok(reserved(2_500, 2_500, PartiallyRefunded))
        );
        assert_eq!(
            check_refund(&paid(PartiallyRefunded, 10_000, 2_500), Some(usd(7_500))),
            Ok(reserved(7_500, 10_000, Refunded))
        );
        // One cent more than is left.
        assert_eq!(
            check_refund(&paid(PartiallyRefunded, 10_000, 2_500), Some(usd(7_501))),
            Err(RefundError::ExceedsAvailable {
                available: usd(7_500)
            })
        );
        // Refunded in full: nothing is left, whatever is asked.
        for asked in [None, Some(usd(1))] {
            assert_eq!(
                check_refund(&paid(Refunded, 10_000, 10_000), asked),
                Err(RefundError::ExceedsAvailable { available: usd(0) })
            );
        }
        // Not a positive amount (the API refuses these earlier; the rule still holds).
        assert_eq!(
            check_refund(&paid(Completed, 10_000, 0), Some(usd(0))),
            Err(RefundError::ExceedsAvailable {
                available: usd(10_000)
            })
        );
    }

    #[test]
    fn nothing_collected_is_not_settled() {
        for status in [PaymentStatus::Pending, PaymentStatus::Failed] {
            for asked in [None, Some(usd(1))] {
                assert_eq!(
                    check_refund(&paid(status, 0, 0), asked),
                    Err(RefundError::NotSettled)
                );
            }
        }
        assert_eq!(
            RefundError::ExceedsAvailable {
                available: usd(7_500)
            }
            .to_string(),
            "at most $75.00 is left to refund"
        );
    }

    #[test]
    fn status_follows_what_is_refunded() {
        assert_eq!(status_after_refunds(10_000, 0), PaymentStatus::Completed);
        assert_eq!(
            status_after_refunds(10_000, 1),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(
            status_after_refunds(10_000, 9_999),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(
            status_after_refunds(10_000, 10_000),
            PaymentStatus::Refunded
        );
        // Nothing refunded wins over "all of nothing".
        assert_eq!(status_after_refunds(0, 0), PaymentStatus::Completed);
    }

    #[test]
    fn form_input_follows_the_api_rules() {
        let check = |amount: &str, reason: &str| {
            let mut errors = FieldErrors::new();
            let v = RefundInput::from_form(amount, reason).validate(
                Currency::Usd,
                DEFAULT_MAX_AMOUNT_MINOR,
                &mut errors,
            );
            (v, errors.into_vec())
        };
        let (v, errors) = check(" 10.00 ", " damaged ");
        assert!(errors.is_empty());
        let (amount, reason) = v.unwrap();
        assert_eq!(amount.unwrap().minor(), 1000);
        assert_eq!(reason.as_deref(), Some("damaged"));
        let (v, _) = check("", "");
        assert_eq!(v, Some((None, None)));
        let (v, errors) = check("1e3", &"x".repeat(501));
        assert!(v.is_none());
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["amount", "reason"]);
        let (_, errors) = check("\"10.00\"", "");
        assert_eq!(errors.len(), 1, "quotes are not part of an amount");
    }

    fn validate_with(
        body: serde_json::Value,
        max_minor: i64,
    ) -> Result<Validated, Vec<FieldError>> {
        let input: RefundInput = serde_json::from_value(body).unwrap();
        let mut errors = FieldErrors::new();
        let out = input.validate(Currency::Usd, max_minor, &mut errors);
        assert_eq!(out.is_some(), errors.is_empty());
        out.ok_or_else(|| errors.into_vec())
    }

    fn validate(body: serde_json::Value) -> Result<Validated, Vec<FieldError>> {
        validate_with(body, DEFAULT_MAX_AMOUNT_MINOR)
    }

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    /// (field, code) of the errors of an invalid body.
    fn codes(body: serde_json::Value) -> Vec<(String, &'static str)> {
        validate(body)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn one(field: &str, code: &'static str) -> Vec<(String, &'static str)> {
        vec![(field.to_string(), code)]
    }

    #[test]
    fn status_strings_round_trip() {
        for st in RefundStatus::ALL {
            assert_eq!(RefundStatus::parse_str(st.as_str()), Some(st));
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                json!(st.as_str()),
                "{st:?}"
            );
        }
        assert_eq!(RefundStatus::parse_str("SUCCEEDED"), None);
        assert_eq!(RefundStatus::Succeeded.as_str(), "succeeded");
    }

    #[test]
    fn accepts_amounts_and_reasons() {
        assert_eq!(
            validate(json!({"amount": "10.00", "reason": "duplicate charge"})),
            Ok((Some(usd(1_000)), Some("duplicate charge".into())))
        );
        // A JSON number is read exactly, never through a float.
        assert_eq!(
            validate(json!({"amount": 10.5})),
            Ok((Some(usd(1_050)), None))
        );
        assert_eq!(
            validate_with(json!({"amount": "0.01"}), 1),
            Ok((Some(usd(1)), None))
        );
        assert_eq!(
            validate(json!({"amount": "999999.99"})),
            Ok((Some(usd(99_999_999)), None))
        );
        // Omitted or null: all that is left.
        assert_eq!(validate(json!({})), Ok((None, None)));
        assert_eq!(validate(json!({"amount": null})), Ok((None, None)));
        let raw: RefundInput = serde_json::from_str(r#"{"amount": 250.00}"#).unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(
            raw.validate(Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR, &mut errors),
            Some((Some(usd(25_000)), None))
        );
    }

    #[test]
    fn reason_is_trimmed_and_blank_is_none() {
        assert_eq!(
            validate(json!({"reason": "  customer asked \n"})),
            Ok((None, Some("customer asked".into())))
        );
        assert_eq!(validate(json!({"reason": " \n\t "})), Ok((None, None)));
        assert_eq!(validate(json!({"reason": ""})), Ok((None, None)));
        assert_eq!(validate(json!({"reason": null})), Ok((None, None)));
        // Newline and tab inside are fine: a reason may span lines.
        assert_eq!(
            validate(json!({"reason": "line one\nline\ttwo"})),
            Ok((None, Some("line one\nline\ttwo".into())))
        );
        // 500 characters, counted as characters, not bytes.
        let long = "é".repeat(MAX_REASON_CHARS);
        assert_eq!(validate(json!({"reason": long})), Ok((None, Some(long))));
        // Surrounding whitespace does not count towards the limit.
        let padded = format!("  {}  ", "a".repeat(MAX_REASON_CHARS));
        assert!(validate(json!({ "reason": padded })).is_ok());
    }

    #[test]
    fn rejects_bad_amounts() {
        for (amount, code) in [
            (json!("0"), "must_be_positive"),
            (json!(0), "must_be_positive"),
            (json!("0.00"), "must_be_positive"),
            (json!("-10.00"), "negative_amount"),
            (json!(-10), "negative_amount"),
            (json!("10.001"), "too_many_decimals"),
            (json!("1000000.00"), "amount_too_large"),
            (json!("99999999999999999999999"), "amount_too_large"),
            (json!("1e3"), "invalid_amount"),
            (json!("1,000.00"), "invalid_amount"),
            (json!("+5"), "invalid_amount"),
            (json!(".5"), "invalid_amount"),
            (json!("NaN"), "invalid_amount"),
            (json!(""), "invalid_amount"),
            (json!(true), "invalid_amount"),
            (json!({"value": "1.00"}), "invalid_amount"),
            (json!(["1.00"]), "invalid_amount"),
        ] {
            assert_eq!(
                codes(json!({ "amount": amount })),
                one("amount", code),
                "{amount}"
            );
        }
        // A JSON number with an exponent is rejected too (raw text "1e3").
        let raw: RefundInput = serde_json::from_str(r#"{"amount": 1e3}"#).unwrap();
        let mut errors = FieldErrors::new();
        assert_eq!(
            raw.validate(Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR, &mut errors),
            None
        );
        assert_eq!(errors.into_vec()[0].code, "invalid_amount");
        // The caller's ceiling is the one reported.
        let errors = validate_with(json!({"amount": "5.01"}), 500).unwrap_err();
        assert_eq!(errors[0].code, "amount_too_large");
        assert_eq!(errors[0].message, "must be at most 5.00");
    }

    #[test]
    fn rejects_bad_reasons() {
        let long = "a".repeat(MAX_REASON_CHARS + 1);
        let errors = validate(json!({ "reason": long })).unwrap_err();
        assert_eq!(
            errors,
            [FieldError::new(
                "reason",
                "invalid_length",
                "must be at most 500 characters"
            )]
        );
        for bad in [
            "a\u{0}b",
            "bell\u{7}",
            "esc\u{1b}[31m",
            "cr\rlf",
            "del\u{7f}",
        ] {
            let errors = validate(json!({ "reason": bad })).unwrap_err();
            assert_eq!(
                errors,
                [FieldError::new(
                    "reason",
                    "invalid_characters",
                    "must not contain control characters other than newline and tab"
                )],
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reports_every_field_at_once() {
        assert_eq!(
            codes(json!({"amount": "-1", "reason": "a\u{0}"})),
            [
                ("amount".to_string(), "negative_amount"),
                ("reason".to_string(), "invalid_characters")
            ]
        );
        // Errors already in the collector are kept, and do not fail this input.
        let mut errors = FieldErrors::new();
        errors.add("other", "required", "is required");
        let input: RefundInput = serde_json::from_value(json!({"amount": "1.00"})).unwrap();
        assert_eq!(
            input.validate(Currency::Usd, DEFAULT_MAX_AMOUNT_MINOR, &mut errors),
            Some((Some(usd(100)), None))
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_value::<RefundInput>(
            json!({"amount": "1.00", "currency": "USD"})
        )
        .is_err());
        assert!(serde_json::from_value::<RefundInput>(json!({"Amount": "1.00"})).is_err());
    }

    #[test]
    fn input_schema_has_nothing_required() {
        let schema =
            serde_json::to_value(<RefundInput as utoipa::PartialSchema>::schema()).unwrap();
        assert!(schema.get("required").is_none(), "{schema}");
        assert_eq!(schema["properties"]["reason"]["maxLength"], 500);
        assert!(schema["properties"]["amount"]["pattern"].is_string());
    }

    fn refund() -> Refund {
        Refund {
            processor: crate::processor::ProcessorRef {
                connector: crate::processor::Connector::Stripe,
                reference: Some("re_3MtwBwLkdIwHu7ix28a3tqPa".into()),
            },
            id: RefundId::parse("re_0123456789ABCDEFGHIJabcd").unwrap(),
            partner_id: PartnerId::parse("par_0123456789ABCDEFGHIJabcd").unwrap(),
            object: RefundObject::Refund,
            payment_id: PaymentId::parse("pay_0123456789ABCDEFGHIJabcd").unwrap(),
            amount: usd(1_000),
            currency: Currency::Usd,
            status: RefundStatus::Succeeded,
            reason: Some("duplicate".into()),
            failure_code: None,
            failure_message: None,
            created_at: datetime!(2026-11-21 10:00:00.5 UTC),
            payout_id: None,
            created_by: None,
        }
    }

    #[test]
    fn refund_json_shape() {
        assert_eq!(
            serde_json::to_value(refund()).unwrap(),
            json!({
                "id": "re_0123456789ABCDEFGHIJabcd",
                "object": "refund",
                "paymentId": "pay_0123456789ABCDEFGHIJabcd",
                "processor": {"connector": "stripe", "reference": "re_3MtwBwLkdIwHu7ix28a3tqPa"},
                "amount": "10.00",
                "currency": "USD",
                "status": "succeeded",
                "reason": "duplicate",
                "failureCode": null,
                "failureMessage": null,
                "createdAt": "2026-11-21T10:00:00.5Z",
                "payoutId": null,
                "createdBy": null
            })
        );
        let failed = Refund {
            status: RefundStatus::Failed,
            reason: None,
            failure_code: Some("processing_error".into()),
            failure_message: Some("The refund could not be processed.".into()),
            payout_id: Some(PayoutId::parse("po_0123456789ABCDEFGHIJabcd").unwrap()),
            ..refund()
        };
        let v = serde_json::to_value(failed).unwrap();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["reason"], json!(null));
        assert_eq!(v["failureCode"], "processing_error");
        assert_eq!(v["payoutId"], "po_0123456789ABCDEFGHIJabcd");
        assert!(v.get("partnerId").is_none());
    }
}
