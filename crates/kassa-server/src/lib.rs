//! Kassa's HTTP service: the JSON API (`api/`), the hosted pay pages and dashboard (`pages/`), the money
//! paths (`checkout.rs`, `payment.rs`, `refund.rs`), background jobs and configuration.

pub mod admin;
mod api;
mod app;
mod checkout;
pub mod config;
mod error;
mod idempotency;
pub mod jobs;
pub mod links;
mod metrics;
pub mod openapi;
mod pages;
mod payment;
mod payment_request;
pub mod refund;
pub mod settings;
mod state;
pub mod vault;
pub mod webhooks;

pub use app::{App, AppParts};
pub use config::Config;
pub use error::ApiError;
pub use state::AppState;
