//! Kassa's storage. Callers see one [`Store`], made of a trait per aggregate (partners and keys,
//! payment requests, attempts and API payments, authorizations, customers, refunds, ledger and
//! payouts, abuse-limit counters, partner logos, the audit log, users and sessions, two-factor sign-in, events, jobs, idempotency, webhooks, the vault's sealed secrets); each method is one whole
//! transaction inside the backend, so no transaction type leaks out.
//!
//! Each aggregate's queries are ordinary functions in a file of its own, written once against
//! the backend-neutral layer in `db/` and implemented for every [`db::Backend`]: embedded
//! SQLite (the default, with its group commit in `sqlite/writer.rs`) and PostgreSQL.

mod attempts;
mod audit;
mod authorizations;
mod cache;
mod columns;
mod customers;
mod db;
mod emails;
mod events;
mod idempotency;
mod installation;
mod job_stats;
mod jobs;
mod ledger;
mod limits;
mod logos;
mod migrations;
mod model;
mod paging;
mod partners;
mod payment_reports;
mod payment_requests;
mod postgres;
mod probe;
mod processors;
mod refunds;
mod sqlite;
mod two_factor;
mod users;
mod vault;
mod webhooks;

use std::sync::Arc;

pub use attempts::PaymentStore;
pub use audit::{AuditFilter, AuditStore, CHAIN_BATCH};
pub use authorizations::AuthorizationStore;
pub use customers::CustomerStore;
pub use emails::{EmailAttempt, EmailRecord, EmailStore, NewEmail};
pub use events::EventStore;
pub use idempotency::IdempotencyStore;
pub use installation::InstallationStore;
pub use job_stats::{JobStatsStore, QueuedJobs};
pub use jobs::{Claim, DeliveryJob, JobStore};
pub use ledger::LedgerStore;
pub use limits::{LimitKey, LimitStore};
pub use logos::{LogoRef, LogoStore, StoredLogo};
pub use migrations::{MigrationName, MigrationStatus};
pub use model::*;
pub use partners::PartnerStore;
pub use payment_requests::PaymentRequestStore;
pub use postgres::PgStore;
pub use probe::{sqlite_file, BackendKind, Probe};
pub use processors::{ProcessorAccount, ProcessorStore, Referenced};
pub use refunds::RefundStore;
pub use sqlite::{connect_options as sqlite_connect_options, SqliteStore};
pub use two_factor::TwoFactorStore;
pub use users::{UserStore, SESSION_TOUCH_INTERVAL};
pub use vault::{
    KeyRotation, Resealed, Resealer, SealLinkSecret, SealedItem, SealedKind, VaultStore,
};
pub use webhooks::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// An error of the SQLite backend's own connections (`sqlite/wire.rs`).
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    /// The write was rolled back with the batch it shared a commit with (SQLite's group
    /// commit): nothing of it was written, and it may be tried again.
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} is already taken")]
    Taken(&'static str),
    /// The processor's answer for this payment, authorization or refund was recorded already
    /// (a second caller, or recovery, got there first): nothing was changed.
    #[error("the answer was recorded already")]
    AlreadyRecorded,
    /// A row the change needs is not there (any more): a customer or payment method named by
    /// the request, deleted or another partner's, or the partner itself.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// A conditional update that had to apply found the row changed by someone else; the
    /// transaction was rolled back.
    #[error("changed underneath: {0}")]
    ChangedUnderneath(&'static str),
    /// The worker no longer holds the job's lease (it ran out and another worker took the job,
    /// or the job was ended meanwhile): nothing was recorded.
    #[error("the job's lease was lost")]
    LeaseLost,
    /// A stored value that makes no sense (an unknown status, unreadable JSON): the row is
    /// corrupt, and whatever reads it must stop, not skip it.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database url (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The database's message when the error is a unique constraint's violation (on either
    /// backend), naming the constraint or its columns.
    pub(crate) fn unique_violation(&self) -> Option<String> {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Some(db.message().to_string() + db.constraint().unwrap_or(""))
            }
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, message))
                if matches!(
                    e.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                Some(message.clone().unwrap_or_default())
            }
            _ => None,
        }
    }

    /// The database failed (rather than the request): trying again may succeed.
    pub fn is_database(&self) -> bool {
        matches!(self, StoreError::Database(_) | StoreError::Sqlite(_))
    }
}

/// Everything Kassa stores, one trait per aggregate; `use kassa_store::prelude::*` brings their
/// methods into scope.
pub trait Store:
    InstallationStore
    + AuditStore
    + PartnerStore
    + PaymentRequestStore
    + PaymentStore
    + AuthorizationStore
    + CustomerStore
    + RefundStore
    + LedgerStore
    + LimitStore
    + LogoStore
    + UserStore
    + TwoFactorStore
    + EventStore
    + JobStore
    + JobStatsStore
    + IdempotencyStore
    + WebhookEndpointStore
    + WebhookDeliveryStore
    + VaultStore
    + ProcessorStore
    + EmailStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
}

impl<T> Store for T where
    T: InstallationStore
        + AuditStore
        + PartnerStore
        + PaymentRequestStore
        + PaymentStore
        + AuthorizationStore
        + CustomerStore
        + RefundStore
        + LedgerStore
        + LimitStore
        + LogoStore
        + UserStore
        + TwoFactorStore
        + EventStore
        + JobStore
        + JobStatsStore
        + IdempotencyStore
        + WebhookEndpointStore
        + WebhookDeliveryStore
        + VaultStore
        + ProcessorStore
        + EmailStore
        + Send
        + Sync
        + std::fmt::Debug
        + 'static
{
}

/// The store's traits, for callers that use their methods on a [`Store`].
pub mod prelude {
    pub use crate::{
        AuditStore, AuthorizationStore, CustomerStore, EmailStore, EventStore, IdempotencyStore,
        InstallationStore, JobStatsStore, JobStore, LedgerStore, LimitStore, LogoStore,
        PartnerStore, PaymentRequestStore, PaymentStore, ProcessorStore, RefundStore, Store,
        TwoFactorStore, UserStore, VaultStore, WebhookDeliveryStore, WebhookEndpointStore,
    };
}

/// How many write transactions shared how many commits since the store was opened, on a backend
/// that groups commits itself (SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Write transactions committed.
    pub transactions: u64,
    /// Commits (batches) they took.
    pub commits: u64,
}

/// The store's connections to its database at one moment (`kassa_db_connections`): PostgreSQL's
/// pool, or SQLite's readers (its one writer connection is always open and not counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnectionStats {
    /// Open and waiting for work.
    pub idle: u32,
    /// Open and running a statement or transaction.
    pub in_use: u32,
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

/// Connects to the database named by `url` without migrating it, then runs its migrations (the
/// `kassa migrate` command); the ones this run applied, in order (none when it was up to date).
pub async fn migrate(url: &str, options: &ConnectOptions) -> Result<Vec<MigrationName>> {
    let options = ConnectOptions {
        migrate: false,
        ..options.clone()
    };
    if url.starts_with("sqlite:") {
        SqliteStore::connect(url, &options).await?.migrate().await
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        PgStore::connect(url, &options).await?.migrate().await
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// How many migrations this binary embeds for the backend of `url`.
pub fn known_migrations(url: &str) -> usize {
    if url.starts_with("sqlite:") {
        migrations::SQLITE.len()
    } else {
        migrations::POSTGRES.len()
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
