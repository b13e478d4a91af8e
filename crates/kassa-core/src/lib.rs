//! Kassa's domain: exact money, typed ids, card and bank validation, payment states.
//! Nothing here does I/O; every constructor that takes outside input validates it.

#[macro_use]
mod string_newtype;

pub mod ach;
pub mod card;
pub mod clock;
pub mod email;
pub mod error;
pub mod id;
pub mod money;
pub mod partner;
pub mod payment;
pub mod payment_request;
pub mod reference;
pub mod secret;
pub mod url;
