//! The PostgreSQL backend, for running several `kassa` instances on one database. Every money
//! change is a conditional `UPDATE` whose row lock serialises racing attempts; background jobs
//! are claimed with `FOR UPDATE SKIP LOCKED` so two instances never run the same one.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::cache::ReadCache;
use crate::{ConnectOptions, StoreError};

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    cache: Arc<ReadCache>,
}

impl PgStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(PgConnectOptions::from_str(url)?)
            .await?;
        let store = Self {
            pool,
            cache: Arc::default(),
        };
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Runs the migrations (the `kassa migrate` command); safe with several instances starting.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::migrations::migrator(crate::migrations::POSTGRES)
            .await?
            .run(&self.pool)
            .await?;
        Ok(())
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn read_cache(&self) -> &ReadCache {
        &self.cache
    }

    /// PostgreSQL groups concurrent commits into shared WAL flushes itself, out of sight.
    fn commit_stats(&self) -> Option<crate::GroupCommitStats> {
        None
    }

    /// A write transaction: on PostgreSQL, an ordinary one on a pooled connection; concurrent
    /// commits share WAL flushes in the server.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// The same as [`Self::begin_write`] here (SQLite saves a round trip with it).
    async fn begin_write_lazy(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

/// What the shared SQL (`sql.rs`, `webhook.rs`) calls a write transaction on this backend.
type BackendTx<'a> = sqlx::Transaction<'a, sqlx::Postgres>;

crate::sql::store_impl!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    skip_locked = " FOR UPDATE SKIP LOCKED",
    multi_statement = false
);

crate::webhook::webhook_store_impl!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    skip_locked = " FOR UPDATE SKIP LOCKED"
);

/// Runs one query of a `Batch` in the write transaction.
async fn backend_fetch(
    tx: &mut BackendTx<'_>,
    sql: String,
    args: sqlx::postgres::PgArguments,
) -> Result<Vec<sqlx::postgres::PgRow>, StoreError> {
    Ok(sqlx::query_with(&sql, args).fetch_all(&mut **tx).await?)
}
