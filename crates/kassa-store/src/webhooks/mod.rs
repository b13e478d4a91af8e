//! Webhook endpoints, deliveries and attempts: the records, and the two traits that keep them
//! (`endpoints.rs`, `deliveries.rs`; parts of [`crate::Store`]).
//!
//! Events are the outbox: each is written in the transaction of the change it reports, with
//! `dispatched_at` NULL. [`WebhookDeliveryStore::dispatch_events`] turns undispatched events into one
//! delivery per matching endpoint, each with a durable job, and marks the events dispatched, all
//! in one transaction — so an event written by any code path is never missed, even after a crash.
//! Each delivery's job makes its attempts; the job's lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL) makes sure one instance at a time makes an attempt.

/// The job kind of a delivery's attempts (`JobKind::WebhookDelivery`).
pub const WEBHOOK_DELIVERY_JOB: &str = kassa_core::job::JobKind::WebhookDelivery.as_str();

mod deliveries;
mod endpoints;

use kassa_core::id::{EventId, JobId, PartnerId, WebhookDeliveryId, WebhookEndpointId};
use kassa_core::webhook::{DeliveryStatus, EndpointStatus, EventFilter, WebhookUrl};
use time::OffsetDateTime;

use crate::EventRecord;

pub use deliveries::WebhookDeliveryStore;
pub use endpoints::WebhookEndpointStore;
pub(crate) use {deliveries::*, endpoints::*};

/// A secret sealed with the vault key (AES-256-GCM, sealed and opened by the caller): a webhook
/// signing secret, a partner's link secret, the installation's hashing keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecret(***)")
    }
}

/// Where a partner wants its events sent.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub partner_id: PartnerId,
    pub url: WebhookUrl,
    pub description: Option<String>,
    pub events: EventFilter,
    pub status: EndpointStatus,
    /// Why it was disabled (when it is).
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<OffsetDateTime>,
    /// The first failed attempt since the last success; None while it is healthy.
    pub failing_since: Option<OffsetDateTime>,
    /// Deliveries failed for good since the last success.
    pub failed_deliveries: i64,
    /// Until when the secret replaced by the last rotation still signs too.
    pub previous_secret_expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewWebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: WebhookUrl,
    pub description: Option<String>,
    pub events: EventFilter,
    pub secret: SealedSecret,
}

// Returned once per call and matched right away; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum CreateEndpointOutcome {
    Created(WebhookEndpoint),
    /// The partner has `max` endpoints already; nothing was made.
    TooMany,
}

/// The secrets that sign a delivery: the current one, and the one it replaced until it expires.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSecrets {
    pub current: SealedSecret,
    pub previous: Option<(SealedSecret, OffsetDateTime)>,
}

/// One attempt to deliver: when, the HTTP status (or why there was none), how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub attempted_at: OffsetDateTime,
    pub status_code: Option<u16>,
    /// Why there was no answer (network error, timeout); never a secret.
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// One event for one endpoint, with its attempts (oldest first).
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub partner_id: PartnerId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: EventId,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempt_count: i64,
    pub first_attempt_at: Option<OffsetDateTime>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    pub attempts: Vec<WebhookAttempt>,
}

/// What the worker needs for an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryWork {
    pub delivery: WebhookDelivery,
    pub job_id: JobId,
    pub endpoint: WebhookEndpoint,
    pub endpoint_deleted: bool,
    pub secrets: EndpointSecrets,
    pub event: EventRecord,
}

/// What an attempt decided.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again at this time.
    RetryAt(OffsetDateTime),
    /// Refused, or no retries left.
    Failed,
}

/// An attempt made by `worker` under the lease of `job`, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub delivery_id: WebhookDeliveryId,
    pub job_id: JobId,
    pub worker: String,
    pub attempt: WebhookAttempt,
    pub outcome: AttemptOutcome,
    /// Whether to email the partner's notification address should this attempt disable the
    /// endpoint (SMTP is set up).
    pub email_partner: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DispatchReport {
    pub events: usize,
    pub deliveries: usize,
    /// Emails the events caused.
    pub emails: usize,
}

// Returned once per call and matched right away; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RetryOutcome {
    /// Due now: the next run of the worker makes a new attempt.
    Scheduled(WebhookDelivery),
    NotFound,
    /// Its endpoint is disabled: enable it first.
    EndpointDisabled(WebhookDelivery),
}

macro_rules! webhook_cols {
    () => {
        "id, partner_id, url, description, events, status, disabled_reason, disabled_at, \
         failing_since, failed_deliveries, previous_secret_expires_at, created_at, updated_at"
    };
}

/// The columns of `webhook_deliveries`, each prefixed with `$p` (a table alias and a dot, or "").
macro_rules! delivery_cols {
    ($p:literal) => {
        concat!(
            $p,
            "id, ",
            $p,
            "partner_id, ",
            $p,
            "endpoint_id, ",
            $p,
            "event_id, ",
            $p,
            "event_type, ",
            $p,
            "status, ",
            $p,
            "attempt_count, ",
            $p,
            "first_attempt_at, ",
            $p,
            "next_attempt_at, ",
            $p,
            "created_at, ",
            $p,
            "completed_at"
        )
    };
}

pub(crate) use {delivery_cols, webhook_cols};
