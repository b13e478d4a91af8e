//! The boundary to whoever actually moves the money. Kassa ships one implementation, the
//! deterministic [`sandbox::SandboxProcessor`]; real connectors implement the same trait.

pub mod sandbox;

use async_trait::async_trait;
use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
use kassa_core::card::{CardBrand, CardNumber, Cvc, Expiry};
use kassa_core::id::{AuthorizationId, PaymentId, RefundId};
use kassa_core::money::Money;
use kassa_core::payment::{AchResolution, DeclineCode, Funding};

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

#[derive(Debug)]
pub struct ChargeRequest<'a> {
    /// Our id for the attempt; processors use it to make a repeated call charge once.
    pub payment_id: &'a PaymentId,
    pub amount: Money,
    pub instrument: Instrument<'a>,
}

/// Holding funds on a card (or Google Pay) to capture later.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    /// Our id for the hold; a repeated call with it holds once.
    pub authorization_id: &'a AuthorizationId,
    pub amount: Money,
    pub instrument: Instrument<'a>,
}

/// What the processor decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The money is captured.
    Approved { funding: Funding },
    /// Refused; the payment fails and the payer may try again.
    Declined { code: DeclineCode },
    /// An ACH debit was submitted; it is pending until it clears or is returned.
    /// A processor that knows the eventual result in advance (the sandbox) says so, and Kassa
    /// schedules it for the end of the settlement delay.
    AchSubmitted { expected: Option<AchResolution> },
}

/// The processor could not be asked (network, outage). Nothing was charged.
#[derive(Debug, thiserror::Error)]
#[error("processor unavailable: {0}")]
pub struct ProcessorError(pub String);

#[async_trait]
pub trait Processor: Send + Sync + std::fmt::Debug {
    /// Charges once per `payment_id`: a repeated call with the same id answers what the first
    /// decided and never charges again.
    async fn charge(&self, request: ChargeRequest<'_>) -> Result<ChargeOutcome, ProcessorError>;

    /// What was decided for `payment_id`, if the processor ever received it. Kassa asks this for
    /// attempts whose answer it never recorded (a crash mid-call), instead of guessing.
    async fn lookup(&self, payment_id: &PaymentId)
        -> Result<Option<ChargeOutcome>, ProcessorError>;

    /// Holds `amount` once per `authorization_id` (`Approved` means held). Cards and Google Pay only.
    async fn authorize(
        &self,
        request: AuthorizeRequest<'_>,
    ) -> Result<ChargeOutcome, ProcessorError>;

    /// What was decided for an authorization, if the processor ever received it.
    async fn lookup_authorization(
        &self,
        authorization_id: &AuthorizationId,
    ) -> Result<Option<ChargeOutcome>, ProcessorError>;

    /// Captures `amount` of a hold as `payment_id` and releases the rest. Idempotent per payment
    /// id, and afterwards [`Processor::lookup`] of `payment_id` answers `Approved`. An error means
    /// nothing was captured.
    async fn capture(
        &self,
        authorization_id: &AuthorizationId,
        payment_id: &PaymentId,
        amount: Money,
    ) -> Result<(), ProcessorError>;

    /// Releases a hold without capturing it. Idempotent.
    async fn release(&self, authorization_id: &AuthorizationId) -> Result<(), ProcessorError>;

    /// Pays `amount` of a captured payment back to the payer, once per `refund_id`. An error
    /// means nothing was refunded.
    async fn refund(
        &self,
        payment_id: &PaymentId,
        refund_id: &RefundId,
        amount: Money,
    ) -> Result<(), ProcessorError>;

    /// Whether the processor made this refund (Some(true)), refused it (Some(false)), or never
    /// received it (None).
    async fn lookup_refund(&self, refund_id: &RefundId) -> Result<Option<bool>, ProcessorError>;
}
