//! The backend-neutral layer every query file is written against: [`Value`] and [`Row`] for
//! data, [`Conn`] for where statements run, and [`Backend`] for what a store offers them — a
//! read pool, write transactions, and the few clauses the dialects do not share. SQLite and
//! PostgreSQL each implement it once (`sqlite/`, `postgres.rs`); nothing above it names one.

mod query;
mod value;

use async_trait::async_trait;

pub(crate) use query::{like_contains, query, query_scalar, Batch, Conn, Output, Query, Statement};
pub(crate) use value::{Cell, Kind, Row, SqliteRow, Value};

use crate::cache::ReadCache;
use crate::{ConnectionStats, GroupCommitStats, Result};

/// A write transaction: statements run in it, and nothing it wrote is kept until
/// [`WriteTx::commit`] returns. Dropped without committing, it is rolled back.
#[async_trait]
pub(crate) trait WriteTx: Conn + Sized {
    /// Keeps what it wrote; returns once that is durable. An error means none of it was kept.
    async fn commit(self) -> Result<()>;
    /// Undoes what it wrote.
    async fn rollback(self) -> Result<()>;
}

/// A database the stores' queries run on.
#[async_trait]
pub(crate) trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// Statements on the read pool, each on whichever connection is free.
    type Reader<'a>: Conn
    where
        Self: 'a;
    type Write: WriteTx;
    /// Several reads that see one snapshot; rolled back when done.
    type ReadTx: WriteTx;

    /// Appended to a subquery that claims rows for one worker (`FOR UPDATE SKIP LOCKED` on
    /// PostgreSQL; SQLite has one writer and needs nothing).
    const SKIP_LOCKED: &'static str;
    /// The database's own clock, in microseconds since the Unix epoch, as an SQL expression:
    /// leases are taken and compared by it, so instances whose clocks differ agree on them.
    const NOW_MICROS: &'static str;

    fn reader(&self) -> Self::Reader<'_>;
    fn read_cache(&self) -> &ReadCache;
    async fn begin_read(&self) -> Result<Self::ReadTx>;
    /// Starts a write transaction.
    async fn begin_write(&self) -> Result<Self::Write>;
    /// How many write transactions shared how many commits, where the backend groups commits
    /// itself (SQLite).
    fn commit_stats(&self) -> Option<GroupCommitStats>;
    /// The read pool's connections (everything on PostgreSQL), idle and in use.
    fn connection_stats(&self) -> ConnectionStats;
}

/// A pool's connections split into idle and in use.
pub(crate) fn pool_connections<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> ConnectionStats {
    let open = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(open);
    ConnectionStats {
        idle,
        in_use: open - idle,
    }
}
