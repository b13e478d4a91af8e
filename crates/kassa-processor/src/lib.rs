//! The boundary to whoever actually moves the money: the [`Processor`] trait, what Kassa tells a
//! processor and what a processor can answer. Kassa ships the deterministic
//! [`sandbox::SandboxProcessor`]; real connectors implement the same trait.
//!
//! One rule runs through every method: an answer Kassa cannot read is never success. A processor
//! that was certainly not reached is [`ProcessorError::NotSent`] (nothing moved); one whose answer
//! is lost, late, unreadable or not yet final is [`ProcessorError::Unknown`], and the record stays
//! pending until recovery asks again ([`Processor::lookup`]).

pub mod authorize_net;
pub mod notification;
pub mod sandbox;
pub mod stripe;

use async_trait::async_trait;
use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
use kassa_core::card::{CardBrand, CardNumber, Cvc, Expiry};
use kassa_core::id::{AuthorizationId, PaymentId, RefundId};
use kassa_core::money::Money;
use kassa_core::payment::{AchResolution, DeclineCode, Funding, MaskedMethod};
use time::OffsetDateTime;

pub use kassa_core::processor::Connector;
pub use notification::{About, Change, Delivery, Notification, NotificationError};
pub use sandbox::SandboxProcessor;

/// The instrument to charge, borrowed from the request for the length of the call only.
#[derive(Debug)]
pub enum Instrument<'a> {
    Card {
        number: &'a CardNumber,
        expiry: Expiry,
        cvc: Option<&'a Cvc>,
        postal_code: Option<&'a str>,
    },
    Ach {
        routing_number: &'a RoutingNumber,
        account_number: &'a AccountNumber,
        account_type: AccountType,
    },
    /// Google Pay's payment token (`paymentMethodData.tokenizationData.token`), when it had one.
    GooglePay {
        token: Option<&'a str>,
        brand: Option<CardBrand>,
    },
}

/// The payer's authorization of a bank debit (docs/api.md §10), as the pay page took it. API
/// debits carry none: the partner took the authorization itself.
#[derive(Debug, Clone, Copy)]
pub struct DebitMandate<'a> {
    pub accepted_at: OffsetDateTime,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

#[derive(Debug)]
pub struct ChargeRequest<'a> {
    /// Our id for the attempt; processors use it to make a repeated call charge once.
    pub payment_id: &'a PaymentId,
    pub amount: Money,
    pub instrument: Instrument<'a>,
    /// The name on the card or bank account, when Kassa knows it (bank debits need one).
    pub holder_name: Option<&'a str>,
    /// For a bank debit taken on the pay page.
    pub mandate: Option<DebitMandate<'a>>,
}

/// Holding funds on a card (or Google Pay) to capture later.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    /// Our id for the hold; a repeated call with it holds once.
    pub authorization_id: &'a AuthorizationId,
    pub amount: Money,
    pub instrument: Instrument<'a>,
    pub holder_name: Option<&'a str>,
}

/// A hold Kassa already has: our id and, when it was recorded, the processor's.
#[derive(Debug, Clone, Copy)]
pub struct Held<'a> {
    pub authorization_id: &'a AuthorizationId,
    pub reference: Option<&'a str>,
    /// The amount held.
    pub amount: Money,
}

/// Capturing `amount` of a hold as the payment `payment_id`.
#[derive(Debug, Clone, Copy)]
pub struct CaptureRequest<'a> {
    pub hold: Held<'a>,
    pub payment_id: &'a PaymentId,
    pub amount: Money,
}

/// A payment Kassa asks about again: a sale or link attempt, or the capture of a hold.
#[derive(Debug, Clone, Copy)]
pub struct PaymentLookup<'a> {
    pub payment_id: &'a PaymentId,
    /// The processor's id for it, when one was recorded.
    pub reference: Option<&'a str>,
    pub amount: Money,
    /// The hold this payment captures, when it is a capture.
    pub capture_of: Option<Held<'a>>,
}

/// A captured payment, as a refund names it.
#[derive(Debug, Clone, Copy)]
pub struct Captured<'a> {
    pub payment_id: &'a PaymentId,
    /// The processor's id for the payment, when it was recorded.
    pub reference: Option<&'a str>,
    /// How it was paid, masked (some processors want the last four digits back for a refund).
    pub method: &'a MaskedMethod,
    pub holder_name: Option<&'a str>,
}

/// Paying `amount` of a captured payment back, once per `refund_id`.
#[derive(Debug, Clone, Copy)]
pub struct RefundRequest<'a> {
    pub payment: Captured<'a>,
    pub refund_id: &'a RefundId,
    pub amount: Money,
}

/// What the processor decided about a charge, an authorization or a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money is captured (for a hold: held).
    Approved { funding: Funding },
    /// Refused; the payment fails and the payer may try again.
    Declined { code: DeclineCode },
    /// An ACH debit was submitted; it is pending until it clears or is returned.
    /// A processor that knows the eventual result in advance (the sandbox) says so, and Kassa
    /// schedules it for the end of the settlement delay; a real one says so later, by a
    /// notification.
    AchSubmitted { expected: Option<AchResolution> },
}

/// A decision, with the processor's own id for what it decided on (`pi_…`, a transaction id),
/// which Kassa records and shows (`processor.reference`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: ChargeOutcome,
    pub reference: Option<String>,
}

impl Answer {
    pub fn new(outcome: ChargeOutcome, reference: Option<String>) -> Self {
        Self { outcome, reference }
    }
}

/// What the processor decided about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The money is on its way back to the payer.
    Succeeded { reference: Option<String> },
    /// Refused (already refunded, more than was captured, …): nothing was refunded.
    Refused { reason: String },
}

/// The processor could not give an answer Kassa can rely on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessorError {
    /// Certainly not acted on: the request never left (connection refused, bad credentials
    /// refused before anything happened). Nothing moved.
    #[error("processor not reached: {0}")]
    NotSent(String),
    /// Perhaps acted on: a timeout after sending, a 5xx, an unreadable body, a status Kassa does
    /// not know, or a decision still pending at the processor (held for review). Never success:
    /// the record stays pending until a lookup or a notification settles it.
    #[error("processor answer unknown: {0}")]
    Unknown(String),
}

#[async_trait]
pub trait Processor: Send + Sync + std::fmt::Debug {
    /// Which connector this is.
    fn connector(&self) -> Connector;

    /// Charges once per `payment_id`: a repeated call with the same id answers what the first
    /// decided and never charges again.
    async fn charge(&self, request: ChargeRequest<'_>) -> Result<Answer, ProcessorError>;

    /// What was decided for a payment (a charge, or the capture of a hold), if the processor ever
    /// received it: `Ok(None)` only when it certainly did not. Kassa asks this for records whose
    /// answer it never recorded (a crash mid-call, a timeout) instead of guessing.
    async fn lookup(&self, payment: PaymentLookup<'_>) -> Result<Option<Answer>, ProcessorError>;

    /// Holds `amount` once per `authorization_id` (`Approved` means held). Cards and Google Pay only.
    async fn authorize(&self, request: AuthorizeRequest<'_>) -> Result<Answer, ProcessorError>;

    /// What was decided for an authorization, if the processor ever received it.
    async fn lookup_authorization(
        &self,
        authorization_id: &AuthorizationId,
        amount: Money,
    ) -> Result<Option<Answer>, ProcessorError>;

    /// Captures `amount` of a hold as `payment_id` and releases the rest, once per payment id;
    /// afterwards [`Processor::lookup`] of the capture answers what was decided. `Declined`
    /// means nothing was captured and the hold stands as it was.
    async fn capture(&self, request: CaptureRequest<'_>) -> Result<Answer, ProcessorError>;

    /// Releases a hold without capturing it. Idempotent.
    async fn release(&self, hold: Held<'_>) -> Result<(), ProcessorError>;

    /// Pays `amount` of a captured payment back to the payer, once per `refund_id`.
    async fn refund(&self, request: RefundRequest<'_>) -> Result<RefundOutcome, ProcessorError>;

    /// What was decided for a refund, if the processor ever received it (`Ok(None)`: certainly
    /// not, and Kassa may send it again).
    async fn lookup_refund(
        &self,
        request: RefundRequest<'_>,
    ) -> Result<Option<RefundOutcome>, ProcessorError>;

    /// What became of a submitted bank debit, for a processor that reports it only when asked
    /// (Authorize.net): `Some` once it settled or was returned, `None` while it is still pending.
    /// Processors that send notifications instead (the sandbox, Stripe) always answer `None`.
    async fn debit_status(
        &self,
        payment: PaymentLookup<'_>,
    ) -> Result<Option<AchResolution>, ProcessorError> {
        let _ = payment;
        Ok(None)
    }

    /// Reads a notification the processor sent to `/hooks/{connector}/{partnerSlug}`: checks its
    /// signature (a bad one is [`NotificationError::BadSignature`] and changes nothing) and says
    /// what it reports. A connector without notifications refuses every delivery.
    async fn read_notification(
        &self,
        delivery: Delivery<'_>,
    ) -> Result<Notification, NotificationError> {
        let _ = delivery;
        Err(NotificationError::NotAccepted(self.connector()))
    }
}
