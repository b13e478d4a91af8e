//! Kassa's storage. [`Store`] is sized by use case: each method is one whole transaction inside
//! the backend, so no transaction type leaks out. Two backends implement it from one body of SQL
//! (see `sql.rs`): embedded SQLite (the default) and PostgreSQL.

mod cache;
mod migrations;
mod model;
mod postgres;
mod sql;
mod sqlite;
mod webhook;

use std::sync::Arc;

use async_trait::async_trait;
use kassa_core::authorization::Authorization;
use kassa_core::customer::{Customer, CustomerPatch};
use kassa_core::fee::FeeSchedule;
use kassa_core::id::{
    ApiKeyId, AuthorizationId, CustomerId, EventId, JobId, PartnerId, PaymentId, PaymentMethodId,
    PaymentRequestId, PayoutId, RefundId, UserId,
};
use kassa_core::invoice::{TaxRate, TaxRates};
use kassa_core::payment::Payment;
use kassa_core::payment_method::PaymentMethod;
use kassa_core::payout::Payout;
use kassa_core::refund::Refund;
use kassa_core::secret::Secret;
use time::OffsetDateTime;

pub use model::*;
pub use postgres::PgStore;
pub use sqlite::{connect_options as sqlite_connect_options, GroupCommitStats, SqliteStore};
pub use webhook::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The write was rolled back with the batch it shared a commit with (SQLite's group
    /// commit): nothing of it was written, and it may be tried again.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} is already taken")]
    Taken(&'static str),
    #[error("stored data is inconsistent: {0}")]
    Inconsistent(String),
    #[error("unsupported database url (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Webhook endpoints and deliveries are in [`WebhookStore`] (`webhook.rs`).
#[async_trait]
pub trait Store: WebhookStore + Send + Sync + std::fmt::Debug + 'static {
    /// Is the database reachable?
    async fn ping(&self) -> Result<()>;

    /// How many write transactions shared how many commits since the store was opened, on a
    /// backend that groups commits itself (SQLite); `None` elsewhere.
    fn group_commit_stats(&self) -> Option<GroupCommitStats>;

    /// Checks the vault key against the one this database was first used with (stored as a keyed
    /// hash on first use); false means another key encrypted the stored data.
    async fn check_vault_key(&self, check: &str, now: OffsetDateTime) -> Result<bool>;

    // ---- partners and API keys
    /// Creates the partner, and its first API key when given, in one transaction.
    async fn create_partner(
        &self,
        partner: &Partner,
        first_key: Option<&ApiKeyRecord>,
    ) -> Result<()>;
    async fn partner_by_id(&self, id: &PartnerId) -> Result<Option<Partner>>;
    async fn partner_by_slug(&self, slug: &str) -> Result<Option<Partner>>;
    async fn partner_by_host(&self, host: &str) -> Result<Option<Partner>>;
    /// Replaces the partner's settings; None if there is no such partner, Taken("billing host")
    /// when another partner has the billing host.
    async fn update_partner_settings(
        &self,
        partner: &PartnerId,
        settings: &PartnerSettings,
    ) -> Result<Option<Partner>>;
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    /// The partner owning an active (not revoked) key with this hash.
    async fn partner_by_api_key_hash(&self, key_hash: &str) -> Result<Option<(Partner, ApiKeyId)>>;
    /// The partner's keys, revoked ones too, newest first.
    async fn list_api_keys(&self, partner: &PartnerId) -> Result<Vec<ApiKeyRecord>>;
    /// One of the partner's keys, revoked or not.
    async fn api_key(&self, partner: &PartnerId, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>>;
    /// Revokes one key; false if no such active key of this partner.
    async fn revoke_api_key(
        &self,
        partner: &PartnerId,
        id: &ApiKeyId,
        now: OffsetDateTime,
    ) -> Result<bool>;
    /// Revokes every active key of the partner with this label; how many.
    async fn revoke_api_keys_labeled(
        &self,
        partner: &PartnerId,
        label: &str,
        now: OffsetDateTime,
    ) -> Result<u64>;

    // ---- payment requests
    /// Creates the request unless the partner already has one with this reference, atomically.
    async fn create_payment_request(
        &self,
        new: &PaymentRequestRecord,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome>;
    async fn payment_request(
        &self,
        partner: &PartnerId,
        id: &PaymentRequestId,
    ) -> Result<Option<kassa_core::payment_request::PaymentRequest>>;
    async fn list_payment_requests(
        &self,
        partner: &PartnerId,
        filter: &PaymentRequestFilter,
        page: &PageRequest,
    ) -> Result<Page<kassa_core::payment_request::PaymentRequest>>;
    async fn cancel_payment_request(
        &self,
        partner: &PartnerId,
        id: &PaymentRequestId,
        now: OffsetDateTime,
    ) -> Result<CancelOutcome>;
    /// Records an open request as expired once its deadline has passed (and no attempt is in flight).
    async fn expire_payment_request(
        &self,
        id: &PaymentRequestId,
        now: OffsetDateTime,
    ) -> Result<bool>;

    // ---- paying a request: the one atomic state change of DESIGN.md
    /// Claims the request for one attempt (open, not expired, none in flight) and records the
    /// attempt's payment, payment method and vault entry, all in one transaction.
    async fn begin_attempt(
        &self,
        partner: &PartnerId,
        request: &PaymentRequestId,
        attempt: &NewAttempt,
        now: OffsetDateTime,
    ) -> Result<BeginOutcome>;
    /// Records the processor's answer for an attempt (on a request, or an API sale) and releases
    /// its request.
    async fn finish_attempt(
        &self,
        partner: &PartnerId,
        payment: &PaymentId,
        result: &AttemptResult,
        now: OffsetDateTime,
    ) -> Result<FinishedAttempt>;
    /// Clears or returns a pending ACH debit (the sandbox endpoints and the settlement job).
    /// `scope` limits it to one partner's payments (the API); the settlement job passes None.
    async fn resolve_ach(
        &self,
        scope: Option<&PartnerId>,
        payment: &PaymentId,
        resolution: &kassa_core::payment::AchResolution,
        now: OffsetDateTime,
    ) -> Result<ResolveOutcome>;
    /// Attempts still undecided that started before `started_before`: their process died (or
    /// could not record the answer) while asking the processor. At most 100, oldest first.
    async fn abandoned_attempts(
        &self,
        started_before: OffsetDateTime,
    ) -> Result<Vec<(PartnerId, PaymentId)>>;
    async fn payment(&self, partner: &PartnerId, id: &PaymentId) -> Result<Option<Payment>>;

    async fn list_payments(
        &self,
        partner: &PartnerId,
        filter: &PaymentFilter,
        page: &PageRequest,
    ) -> Result<Page<Payment>>;

    // ---- the one-time payment API
    async fn create_customer(&self, customer: &Customer) -> Result<()>;
    async fn customer(&self, partner: &PartnerId, id: &CustomerId) -> Result<Option<Customer>>;
    async fn update_customer(
        &self,
        partner: &PartnerId,
        id: &CustomerId,
        patch: &CustomerPatch,
        now: OffsetDateTime,
    ) -> Result<Option<Customer>>;
    async fn list_customers(
        &self,
        partner: &PartnerId,
        filter: &CustomerFilter,
        page: &PageRequest,
    ) -> Result<Page<Customer>>;
    /// Vaults a payment method (and makes its customer when new), in one transaction.
    async fn create_payment_method(
        &self,
        partner: &PartnerId,
        customer: Option<&CustomerRef>,
        method: &NewPaymentMethod,
        now: OffsetDateTime,
    ) -> Result<PaymentMethod>;
    /// A payment method that has not been deleted.
    async fn payment_method(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
    ) -> Result<Option<PaymentMethod>>;
    /// A partner's live (not deleted) payment methods, newest first; `customer` narrows to one
    /// customer's.
    async fn list_payment_methods(
        &self,
        partner: &PartnerId,
        customer: Option<&CustomerId>,
        page: &PageRequest,
    ) -> Result<Page<PaymentMethod>>;
    /// The sealed number of a payment method that has not been deleted.
    async fn payment_method_vault(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
    ) -> Result<Option<VaultEntry>>;
    /// Marks it deleted and destroys its vault entry; None if there is no such live method.
    async fn delete_payment_method(
        &self,
        partner: &PartnerId,
        id: &PaymentMethodId,
        now: OffsetDateTime,
    ) -> Result<Option<PaymentMethod>>;
    async fn set_tax_rate(
        &self,
        partner: &PartnerId,
        code: &str,
        rate: TaxRate,
        now: OffsetDateTime,
    ) -> Result<()>;
    async fn tax_rates(&self, partner: &PartnerId) -> Result<TaxRates>;
    /// Records a sale (its customer, payment method and invoice too) as pending, before the
    /// processor is asked; [`Store::finish_attempt`] records the answer.
    async fn begin_payment(
        &self,
        partner: &PartnerId,
        new: &NewApiPayment,
        now: OffsetDateTime,
    ) -> Result<Begun<Payment>>;
    /// Records an authorization as pending before the processor is asked.
    async fn begin_authorization(
        &self,
        partner: &PartnerId,
        new: &NewAuthorization,
        now: OffsetDateTime,
    ) -> Result<Begun<Authorization>>;
    /// Records the processor's answer; Inconsistent if it was recorded already.
    async fn finish_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        result: &AuthorizationResult,
        now: OffsetDateTime,
    ) -> Result<Authorization>;
    async fn authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
    ) -> Result<Option<Authorization>>;
    /// Claims an authorization for its one capture: one conditional update and the capture's
    /// pending payment, in one transaction; the processor's answer is recorded by `finish_attempt`.
    async fn capture_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        capture: &NewCapture,
        now: OffsetDateTime,
    ) -> Result<CaptureOutcome>;
    async fn reverse_authorization(
        &self,
        partner: &PartnerId,
        id: &AuthorizationId,
        now: OffsetDateTime,
    ) -> Result<ReverseOutcome>;
    /// Authorizations still pending that started before `started_before`. At most 100.
    async fn abandoned_authorizations(
        &self,
        started_before: OffsetDateTime,
    ) -> Result<Vec<(PartnerId, AuthorizationId)>>;

    // ---- money movement: refunds, fees, ledger balances, payouts
    /// Reserves a refund against the payment with one conditional update (never more than the
    /// captured amount, also under concurrency) and records it pending, in one transaction.
    async fn begin_refund(
        &self,
        partner: &PartnerId,
        payment: &PaymentId,
        new: &NewRefund,
        now: OffsetDateTime,
    ) -> Result<RefundBegin>;
    /// Records the processor's answer: a success posts the refund to the ledger; a failure gives
    /// the reserved amount back. Inconsistent if it was recorded already.
    async fn finish_refund(
        &self,
        partner: &PartnerId,
        refund: &RefundId,
        result: &RefundResult,
        now: OffsetDateTime,
    ) -> Result<Refund>;
    async fn refund(&self, partner: &PartnerId, id: &RefundId) -> Result<Option<Refund>>;
    async fn list_refunds(
        &self,
        partner: &PartnerId,
        filter: &RefundFilter,
        page: &PageRequest,
    ) -> Result<Page<Refund>>;
    /// Refunds still waiting for the processor's answer that started before `started_before`.
    async fn abandoned_refunds(&self, started_before: OffsetDateTime) -> Result<Vec<Refund>>;
    async fn set_fees(&self, partner: &PartnerId, fees: &FeeSchedule) -> Result<()>;
    async fn fees(&self, partner: &PartnerId) -> Result<FeeSchedule>;
    async fn balances(&self, partner: &PartnerId) -> Result<Balances>;
    /// Ledger posting sets that do not sum to zero (there must be none).
    async fn unbalanced_ledger_sets(&self) -> Result<i64>;
    /// Cuts a payout batch for the partner: every available-balance entry up to `cutoff` not in an
    /// earlier payout, and the balance carried from the last batch. A positive net is paid (and
    /// posted); a net ≤ 0 is recorded `carried_forward` and moves no money. None when there is
    /// nothing to pay out.
    async fn run_payout(
        &self,
        partner: &PartnerId,
        cutoff: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<Payout>>;
    async fn payout(&self, partner: &PartnerId, id: &PayoutId) -> Result<Option<Payout>>;
    async fn list_payouts(&self, partner: &PartnerId, page: &PageRequest) -> Result<Page<Payout>>;
    /// The payout a payment (or refund, or fee) was paid out or deducted in, if any yet.
    async fn payout_containing(
        &self,
        partner: &PartnerId,
        source_id: &str,
    ) -> Result<Option<PayoutId>>;
    /// Partners with something a payout batch at `cutoff` would take.
    async fn partners_due_payout(&self, cutoff: OffsetDateTime) -> Result<Vec<PartnerId>>;

    // ---- dashboard users and sessions
    /// Taken("email") when the email already has a user.
    async fn create_user(&self, new: &NewUser) -> Result<()>;
    /// A user (even disabled) and their password hash, by lowercased email.
    async fn user_by_email(&self, email: &str) -> Result<Option<(User, Secret<String>)>>;
    async fn set_password(&self, user: &UserId, password_hash: &Secret<String>) -> Result<bool>;
    /// The partner's users, oldest first.
    async fn list_users(&self, partner: &PartnerId) -> Result<Vec<User>>;
    /// Deletes one of the partner's users and signs out their sessions, in one transaction —
    /// unless no other enabled user of the partner would remain (checked under a lock on the
    /// partner, so two removals at once cannot both pass).
    async fn delete_user(&self, partner: &PartnerId, user: &UserId) -> Result<DeleteUserOutcome>;
    async fn create_session(
        &self,
        token_hash: &str,
        user: &User,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// The live session with this token hash, its user enabled; None otherwise.
    async fn session(&self, token_hash: &str, now: OffsetDateTime)
        -> Result<Option<SessionRecord>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    async fn record_login_failure(&self, email: &str, now: OffsetDateTime) -> Result<()>;
    async fn login_failures_since(&self, email: &str, since: OffsetDateTime) -> Result<i64>;
    /// Forgets expired sessions and old login failures; how many rows went.
    async fn purge_sessions(
        &self,
        now: OffsetDateTime,
        failures_before: OffsetDateTime,
    ) -> Result<u64>;

    // ---- events
    /// The partner's events, newest first; only `event_type` when given.
    async fn list_events(
        &self,
        partner: &PartnerId,
        event_type: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<EventRecord>>;
    async fn event(&self, partner: &PartnerId, id: &EventId) -> Result<Option<EventRecord>>;

    // ---- durable jobs
    async fn enqueue_job(&self, job: &NewJob, now: OffsetDateTime) -> Result<()>;
    /// Enqueues the job unless one with the same `key` was ever enqueued; whether it was added.
    async fn enqueue_job_once(&self, job: &NewJob, key: &str, now: OffsetDateTime) -> Result<bool>;
    /// Leases up to `limit` due jobs to `worker` until `lease_until`; no two workers get the same job.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<Job>>;
    async fn complete_job(&self, id: &JobId, now: OffsetDateTime) -> Result<()>;
    async fn retry_job(&self, id: &JobId, run_at: OffsetDateTime, error: &str) -> Result<()>;

    // ---- idempotency keys
    async fn idempotency_begin(
        &self,
        partner: &PartnerId,
        key: &str,
        request_hash: &str,
        now: OffsetDateTime,
        policy: &IdempotencyPolicy,
    ) -> Result<IdempotencyBegin>;
    async fn idempotency_finish(
        &self,
        partner: &PartnerId,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()>;
    /// Forgets a key whose request stored nothing (validation failed, or the server failed).
    async fn idempotency_release(&self, partner: &PartnerId, key: &str) -> Result<()>;
    async fn purge_idempotency_keys(&self, created_before: OffsetDateTime) -> Result<u64>;
}

/// Connects to the database named by `url` (`sqlite://path` or `postgres://…`), runs its
/// migrations, and returns the store.
pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, options).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PgStore::connect(url, options).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Connections for readers (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
    /// Run migrations on connect.
    pub migrate: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            migrate: true,
        }
    }
}
