//! Kassa's HTTP service: the JSON API (`api/`), the hosted pay pages and dashboard (`pages/`), the money
//! paths (`money/`, one protocol for every flow), background jobs and configuration.

pub mod admin;
mod api;
mod api_auth;
mod app;
mod challenge_mode;
mod client_ip;
pub mod config;
mod connections;
mod counters;
pub mod data_dir;
pub mod dns;
mod error;
mod event_object;
mod hooks;
mod idempotency;
pub mod jobs;
pub mod key_rotation;
mod limits;
mod link_qr;
pub mod links;
pub mod mail;
mod metrics;
mod money;
mod new_request;
pub mod openapi;
mod pages;
mod partner_logo;
mod passwords;
pub mod processors;
pub mod resolver;
pub mod settings;
mod shutdown;
mod sign_in;
mod state;
mod two_factor;
pub mod vault;
pub mod webhook_network;
pub mod webhooks;

pub use app::{App, AppParts};
pub use config::Config;
pub use connections::serve;
pub use error::ApiError;
pub use state::AppState;
