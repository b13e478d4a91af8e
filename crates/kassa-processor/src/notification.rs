//! What a processor's webhook delivery says, once its signature is checked: a change to a
//! payment, a bank debit or a refund that Kassa makes exactly as the sandbox path would. Each
//! connector reads its own format into these types; the server applies them.

use kassa_core::payment::{AchReturnCode, DeclineCode};
use time::OffsetDateTime;

use crate::Connector;

/// One HTTP delivery as it arrived, before anything is believed.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Every header, names as sent.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body, byte for byte (signatures cover the exact bytes).
    pub body: &'a [u8],
    /// When Kassa received it (Stripe's signature carries a timestamp checked against it).
    pub received_at: OffsetDateTime,
}

impl Delivery<'_> {
    /// The first header of that name, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// A verified notification: the processor's own event id (Kassa applies each once) and what it
/// reports, or `None` for an event type Kassa does not act on (acknowledged and ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub event_id: String,
    pub change: Option<Change>,
}

/// Which record a notification is about: Kassa's own id when the processor carries it back
/// (metadata, invoice number), and the processor's id for the object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct About {
    /// A payment (`pay_…`), authorization (`auth_…`) or refund (`re_…`) id.
    pub kassa_id: Option<String>,
    pub reference: Option<String>,
}

/// What happened at the processor. The server decides what it means for the record in the
/// state it is in (a card payment still awaiting its answer, an ACH debit pending, a refund).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A payment (or a hold) the processor had left undecided went through — a card payment
    /// released from review, or a bank debit that cleared.
    PaymentSucceeded { about: About },
    /// A payment the processor had left undecided failed (a review declined it).
    PaymentDeclined { about: About, code: DeclineCode },
    /// A bank debit was returned by the payer's bank.
    DebitReturned { about: About, code: AchReturnCode },
    /// A refund was paid out.
    RefundSucceeded { about: About },
    /// A refund the processor had accepted failed after all.
    RefundFailed { about: About, reason: String },
}

/// Why a delivery was not accepted. Each changes nothing; all but [`NotificationError::TryLater`]
/// are answered `400`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("the signature does not match")]
    BadSignature,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("the body cannot be read: {0}")]
    Unreadable(String),
    #[error("{0} does not send notifications")]
    NotAccepted(Connector),
    /// The delivery is genuine but what it is about cannot be learned now (the processor could
    /// not be asked); answered `503` so the processor sends it again.
    #[error("cannot be applied now: {0}")]
    TryLater(String),
}
