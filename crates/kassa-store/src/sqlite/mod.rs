//! The embedded SQLite backend: one file, WAL journal, `synchronous=FULL` (a committed payment
//! survives a power cut). Readers use their own pool and never block writers.
//!
//! All writes go through one connection and share commits: see `writer.rs` (group commit).
//! Statements arrive as backend-neutral [`Statement`]s (`crate::db`); `wire.rs` turns them into
//! SQLite queries and their rows back into [`Row`]s.

mod files;
mod wire;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection as _;

use crate::cache::ReadCache;
use crate::db::{Backend, Conn, Output, Row, Statement};
use crate::{ConnectOptions, GroupCommitStats, Result, StoreError};

pub(crate) use writer::WriteTx;
use writer::Writer;

/// The connection settings every SQLite connection of the store uses (WAL journal,
/// `synchronous=FULL`, a 10 s busy timeout, foreign keys on); public so tools such as
/// `kassa-bench` can measure the database with exactly the same durability settings.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true))
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Arc<Writer>,
    reader: SqlitePool,
    cache: Arc<ReadCache>,
}

impl SqliteStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self> {
        let base = connect_options(url)?;
        let file = Path::new(base.get_filename()).to_path_buf();
        let on_disk = !base.get_filename().as_os_str().is_empty()
            && base.get_filename() != Path::new(":memory:");
        let io = |e| StoreError::Database(sqlx::Error::Io(e));
        if on_disk {
            files::prepare(&file).map_err(io)?;
        }
        let mut conn =
            SqliteConnection::connect_with(&base.clone().create_if_missing(true)).await?;
        if options.migrate {
            crate::migrations::apply(crate::migrations::SQLITE, &mut conn).await?;
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(base.read_only(true))
            .await?;
        if on_disk {
            files::tighten_companions(&file).map_err(io)?;
        }
        Ok(Self {
            writer: Writer::start(conn),
            reader,
            cache: Arc::default(),
        })
    }

    /// Runs the migrations (the `kassa migrate` command), after committing any open batch; the
    /// ones this run applied.
    pub async fn migrate(&self) -> Result<Vec<crate::MigrationName>> {
        self.writer.migrate().await
    }
}

/// The read pool: each statement on whichever read-only connection is free.
#[derive(Debug)]
pub(crate) struct Reader<'a>(&'a SqlitePool);

#[async_trait]
impl Conn for Reader<'_> {
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output> {
        let query = wire::combine(statements)?;
        let mut conn = self.0.acquire().await?;
        wire::fetch(&mut conn, query).await
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        let query = wire::combine(vec![statement])?;
        let mut conn = self.0.acquire().await?;
        wire::fetch_first(&mut conn, query).await
    }
}

/// A read transaction on one read connection: several statements that see one snapshot.
#[derive(Debug)]
pub(crate) struct ReadTx(sqlx::Transaction<'static, sqlx::Sqlite>);

#[async_trait]
impl Conn for ReadTx {
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output> {
        wire::fetch(&mut self.0, wire::combine(statements)?).await
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        wire::fetch_first(&mut self.0, wire::combine(vec![statement])?).await
    }
}

#[async_trait]
impl crate::db::WriteTx for ReadTx {
    async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }

    async fn rollback(self) -> Result<()> {
        Ok(self.0.rollback().await?)
    }
}

#[async_trait]
impl Backend for SqliteStore {
    type Reader<'a> = Reader<'a>;
    type Write = WriteTx;
    type ReadTx = ReadTx;
    const SKIP_LOCKED: &'static str = "";
    // `unixepoch('subsec')` (SQLite 3.42; the bundled library is newer) has milliseconds.
    const NOW_MICROS: &'static str = "CAST(unixepoch('subsec') * 1000000 AS INTEGER)";

    fn reader(&self) -> Reader<'_> {
        Reader(&self.reader)
    }

    fn read_cache(&self) -> &ReadCache {
        &self.cache
    }

    async fn begin_read(&self) -> Result<ReadTx> {
        Ok(ReadTx(self.reader.begin().await?))
    }

    async fn begin_write(&self) -> Result<WriteTx> {
        self.writer.begin(false).await
    }

    async fn begin_write_lazy(&self) -> Result<WriteTx> {
        self.writer.begin(true).await
    }

    fn commit_stats(&self) -> Option<GroupCommitStats> {
        let shared = self.writer.shared();
        Some(GroupCommitStats {
            transactions: shared.transactions.load(Ordering::Relaxed),
            commits: shared.commits.load(Ordering::Relaxed),
        })
    }

    fn connection_stats(&self) -> crate::ConnectionStats {
        crate::db::pool_connections(&self.reader)
    }
}
