//! Kassa's domain: exact money, typed ids, card and bank validation, payment states, and the
//! effects of each money outcome (events, postings, fees, follow-up jobs) as pure functions.
//! Nothing here does I/O; every constructor that takes outside input validates it.

#[macro_use]
mod string_newtype;

pub mod ach;
pub mod address;
pub mod audit;
pub mod authorization;
pub mod billing_host;
pub mod card;
pub mod challenge;
pub mod clock;
pub mod contact;
pub mod contrast;
pub mod country;
pub mod customer;
pub mod descriptor;
pub mod effects;
pub mod email;
pub mod error;
pub mod event;
pub mod fee;
pub mod id;
pub mod invoice;
pub mod job;
pub mod ledger;
pub mod limit;
pub mod logo;
pub mod mail;
pub mod money;
pub mod network;
pub mod partner;
pub mod payment;
pub mod payment_method;
pub mod payment_request;
pub mod payment_search;
pub mod payout;
pub mod percent;
pub mod period;
pub mod processor;
pub mod proof_of_work;
pub mod receipt;
pub mod reference;
pub mod refund;
pub mod role;
pub mod scope;
pub mod secret;
pub mod text;
pub mod timezone;
pub mod two_factor;
pub mod url;
pub mod webhook;
