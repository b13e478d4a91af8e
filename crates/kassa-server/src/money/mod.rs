//! Moving money. Every flow — paying a link, an API sale, an authorization, its capture, a
//! refund — follows one protocol (`protocol.rs`): record the intent, ask the processor with a
//! timeout, record the answer, and let recovery settle what was never recorded. The flows say
//! only what differs; the instrument takes one path from parse to processor (`instrument.rs`).

mod debits;
mod hold;
mod instrument;
mod link_payment;
mod notified;
mod order;
mod protocol;
mod records;
mod refund_flow;
mod sale;

pub(crate) use debits::{check_debits, resolve_debit};
pub use hold::{authorize, capture};
pub use instrument::{open_stored, vault_method, Charged};
pub use link_payment::{pay, PayInput, PayOutcome};
pub use notified::apply as apply_notification;
pub use order::{new_customer, Gone, Order, Payer};
pub(crate) use protocol::recover;
pub(crate) use records::{Attempts, Authorizations, Refunds};
pub use refund_flow::{outcome as refund_outcome, refund};
pub use sale::sale;
