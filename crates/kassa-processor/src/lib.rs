//! The boundary to whoever actually moves the money. Kassa ships one implementation, the
//! deterministic [`sandbox::SandboxProcessor`]; real connectors implement the same trait.

pub mod sandbox;

use async_trait::async_trait;
use kassa_core::ach::{AccountNumber, AccountType, RoutingNumber};
use kassa_core::card::{CardNumber, Cvc, Expiry};
use kassa_core::id::PaymentId;
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
}

#[derive(Debug)]
pub struct ChargeRequest<'a> {
    /// Our id for the attempt; processors use it to make a repeated call charge once.
    pub payment_id: &'a PaymentId,
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
}
