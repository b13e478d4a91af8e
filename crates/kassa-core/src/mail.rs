//! Which emails Kassa sends, to whom and when (docs/api.md §11), decided once: the store asks
//! [`for_event`] as it fans an event out, and the worker asks [`retry`] after a failed try. The
//! bodies are rendered by the server; nothing here reads a card number — an email only ever
//! names the brand and last 4 of the masked method.

use serde::Deserialize;

use crate::email::Email;
use crate::event::EventType;

/// What an email is; stored in `emails.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailKind {
    /// To the payer: a completed payment.
    Receipt,
    /// To the payer: a bank debit submitted, not yet cleared.
    PaymentPending,
    /// To the payer: the payment request's link (`POST /v1/payment-requests/{id}/send`).
    PaymentLink,
    /// To the partner: a payment completed.
    PaymentCompleted,
    /// To the partner: a bank debit was returned.
    DebitReturned,
    /// To the partner: a webhook endpoint was disabled after failing.
    EndpointDisabled,
}

impl EmailKind {
    pub const ALL: [EmailKind; 6] = [
        Self::Receipt,
        Self::PaymentPending,
        Self::PaymentLink,
        Self::PaymentCompleted,
        Self::DebitReturned,
        Self::EndpointDisabled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Receipt => "receipt",
            Self::PaymentPending => "payment_pending",
            Self::PaymentLink => "payment_link",
            Self::PaymentCompleted => "payment_completed",
            Self::DebitReturned => "debit_returned",
            Self::EndpointDisabled => "endpoint_disabled",
        }
    }

    pub fn parse_str(s: &str) -> Option<EmailKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it goes to the partner (its `notificationEmail`) rather than to a payer.
    pub const fn to_partner(self) -> bool {
        matches!(
            self,
            Self::PaymentCompleted | Self::DebitReturned | Self::EndpointDisabled
        )
    }

    /// How the timeline and the API name it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Receipt => "Receipt",
            Self::PaymentPending => "Payment pending notice",
            Self::PaymentLink => "Payment link",
            Self::PaymentCompleted => "Payment notification",
            Self::DebitReturned => "Returned debit notification",
            Self::EndpointDisabled => "Disabled endpoint notification",
        }
    }
}

/// Where an email stands; stored in `emails.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailStatus {
    /// Waiting for its first or next try.
    Queued,
    /// The SMTP server took it.
    Sent,
    /// Refused for good, or every try failed.
    Failed,
}

impl EmailStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse_str(s: &str) -> Option<EmailStatus> {
        [Self::Queued, Self::Sent, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What of a payment event's object decides its emails (the event's `data`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentFacts {
    pub id: String,
    #[serde(default)]
    pub payer_email: Option<String>,
    #[serde(default)]
    pub failure_code: Option<String>,
    pub payment_method: MethodFacts,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MethodFacts {
    #[serde(rename = "type")]
    pub kind: String,
}

/// An email an event calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub kind: EmailKind,
    pub to: Email,
}

/// The emails a payment event causes:
/// - `payment.completed`: the receipt to the payer (when Kassa has their email) and a notice to
///   the partner's `notificationEmail` (when set);
/// - `payment.pending` of a bank debit: the "payment pending" email to the payer;
/// - `payment.failed` of a bank debit with a return code (`R01`…): a notice to the partner.
///
/// A declined card causes none: the payer saw it on the page.
pub fn for_event(
    event: EventType,
    payment: &PaymentFacts,
    notification_email: Option<&Email>,
) -> Vec<Planned> {
    let payer = payment
        .payer_email
        .as_deref()
        .and_then(|e| Email::parse(e).ok());
    let bank = payment.payment_method.kind == "ach";
    let mut planned = Vec::new();
    let mut plan = |kind, to: Option<&Email>| {
        if let Some(to) = to {
            planned.push(Planned {
                kind,
                to: to.clone(),
            });
        }
    };
    match event {
        EventType::PaymentCompleted => {
            plan(EmailKind::Receipt, payer.as_ref());
            plan(EmailKind::PaymentCompleted, notification_email);
        }
        EventType::PaymentPending if bank => plan(EmailKind::PaymentPending, payer.as_ref()),
        EventType::PaymentFailed
            if bank
                && payment
                    .failure_code
                    .as_deref()
                    .is_some_and(|c| c.starts_with('R')) =>
        {
            plan(EmailKind::DebitReturned, notification_email)
        }
        _ => {}
    }
    planned
}

/// The key that makes an event's email once, however often the event is fanned out.
pub fn dedupe_key(kind: EmailKind, event_id: &str) -> String {
    format!("{}:{event_id}", kind.as_str())
}

/// Tries an email gets before it is marked failed: with [`retry_delay`] the last comes about
/// six and a half hours after the first.
pub const MAX_ATTEMPTS: i64 = 12;

/// How long after failed try number `attempt` (1-based) the next one is made: 30 seconds,
/// doubling, at most an hour.
pub fn retry_delay(attempt: i64) -> time::Duration {
    let doublings = attempt.clamp(1, 8) - 1;
    time::Duration::seconds((30i64 << doublings).min(3600))
}

/// What to do after try number `attempt` (1-based) failed: try again unless the server refused
/// for good (an SMTP 5xx) or the tries are used up.
pub fn retry(attempt: i64, permanent: bool) -> bool {
    !permanent && attempt < MAX_ATTEMPTS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(method: &str, payer: Option<&str>, failure: Option<&str>) -> PaymentFacts {
        PaymentFacts {
            id: "pay_1".into(),
            payer_email: payer.map(str::to_owned),
            failure_code: failure.map(str::to_owned),
            payment_method: MethodFacts {
                kind: method.into(),
            },
        }
    }

    fn kinds(planned: &[Planned]) -> Vec<(EmailKind, &str)> {
        planned.iter().map(|p| (p.kind, p.to.as_str())).collect()
    }

    #[test]
    fn a_completed_payment_sends_the_receipt_and_tells_the_partner() {
        let ops = Email::parse("ops@acme.example").unwrap();
        let p = facts("card", Some("jo@payer.example"), None);
        assert_eq!(
            kinds(&for_event(EventType::PaymentCompleted, &p, Some(&ops))),
            [
                (EmailKind::Receipt, "jo@payer.example"),
                (EmailKind::PaymentCompleted, "ops@acme.example")
            ]
        );
        // No payer email, no notification email: nothing.
        let p = facts("card", None, None);
        assert!(for_event(EventType::PaymentCompleted, &p, None).is_empty());
        // A payer email that is not one is not written to.
        let p = facts("card", Some("not an email"), None);
        assert!(for_event(EventType::PaymentCompleted, &p, None).is_empty());
    }

    #[test]
    fn a_bank_debit_is_pending_then_returned() {
        let ops = Email::parse("ops@acme.example").unwrap();
        let p = facts("ach", Some("jo@payer.example"), None);
        assert_eq!(
            kinds(&for_event(EventType::PaymentPending, &p, Some(&ops))),
            [(EmailKind::PaymentPending, "jo@payer.example")]
        );
        let returned = facts("ach", Some("jo@payer.example"), Some("R01"));
        assert_eq!(
            kinds(&for_event(EventType::PaymentFailed, &returned, Some(&ops))),
            [(EmailKind::DebitReturned, "ops@acme.example")]
        );
    }

    #[test]
    fn declines_and_other_events_send_nothing() {
        let ops = Email::parse("ops@acme.example").unwrap();
        let declined = facts("card", Some("jo@payer.example"), Some("card_declined"));
        assert!(for_event(EventType::PaymentFailed, &declined, Some(&ops)).is_empty());
        let card_pending = facts("card", Some("jo@payer.example"), None);
        assert!(for_event(EventType::PaymentPending, &card_pending, Some(&ops)).is_empty());
        for event in [
            EventType::RefundCreated,
            EventType::PaymentRequestCreated,
            EventType::PayoutPaid,
        ] {
            assert!(for_event(event, &card_pending, Some(&ops)).is_empty());
        }
    }

    #[test]
    fn retries_stop_at_a_permanent_refusal_or_the_last_try() {
        assert!(retry(1, false));
        assert!(retry(MAX_ATTEMPTS - 1, false));
        assert!(!retry(MAX_ATTEMPTS, false));
        assert!(!retry(1, true));
    }

    #[test]
    fn tries_back_off_to_an_hour() {
        let delays: Vec<i64> = (1..=MAX_ATTEMPTS)
            .map(|a| retry_delay(a).whole_seconds())
            .collect();
        assert_eq!(
            delays,
            [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600, 3600]
        );
    }

    #[test]
    fn kinds_and_statuses_read_back() {
        for kind in EmailKind::ALL {
            assert_eq!(EmailKind::parse_str(kind.as_str()), Some(kind));
        }
        assert_eq!(EmailStatus::parse_str("sent"), Some(EmailStatus::Sent));
        assert_eq!(EmailStatus::parse_str("Sent"), None);
    }

    #[test]
    fn receipt_numbers_are_short_and_stable() {
        // The email's number is the receipt page's: one rule, in `crate::receipt`.
        let receipt_number = crate::receipt::receipt_number_of;
        assert_eq!(receipt_number("pay_0123456789ABCDEFGHIJabcd"), "GHIJ-ABCD");
        assert_eq!(receipt_number("x"), "X");
    }
}
