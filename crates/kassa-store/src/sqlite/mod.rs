//! The embedded SQLite backend: one file, WAL journal, `synchronous=FULL` (a committed payment
//! survives a power cut). Readers use their own connections and never block the writer.
//!
//! All writes go through one connection and share commits: see `writer.rs` (group commit).
//! Reads go to a pool of read-only connections (`readers.rs`). Statements arrive as
//! backend-neutral [`Statement`](crate::db::Statement)s and run in place on the calling thread
//! (`wire.rs`, on rusqlite); the migrations are applied by sqlx's migrator, on a connection of
//! their own, before the store's connections open.

mod files;
mod readers;
mod wire;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::Connection as _;

use crate::cache::ReadCache;
use crate::db::Backend;
use crate::{ConnectOptions, GroupCommitStats, Result, StoreError};

use readers::ReadPool;
pub(crate) use readers::{ReadTx, Reader};
pub(crate) use writer::WriteTx;
use writer::Writer;

/// The connection settings every SQLite connection of the store uses (WAL journal,
/// `synchronous=FULL`, a 10 s busy timeout, foreign keys on); public so tools such as
/// `kassa-bench` can measure the database with exactly the same durability settings.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(wire::BUSY_TIMEOUT)
        .foreign_keys(true))
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The settings the migrations' connection opens with (the file, WAL, durability).
    options: SqliteConnectOptions,
    writer: Arc<Writer>,
    reader: Arc<ReadPool>,
    cache: Arc<ReadCache>,
}

impl SqliteStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self> {
        let base = connect_options(url)?;
        let file = base.get_filename().to_path_buf();
        if file.as_os_str().is_empty() || file == Path::new(":memory:") {
            return Err(StoreError::Database(sqlx::Error::Configuration(
                "SQLite needs a file (sqlite://path/kassa.db): an in-memory database is not \
                 shared between the store's connections"
                    .into(),
            )));
        }
        let io = |e| StoreError::Database(sqlx::Error::Io(e));
        files::prepare(&file).map_err(io)?;
        // Creates the file in WAL mode (kept in the file) and brings the schema up to date.
        let mut conn =
            SqliteConnection::connect_with(&base.clone().create_if_missing(true)).await?;
        if options.migrate {
            crate::migrations::apply(crate::migrations::SQLITE, &mut conn).await?;
        }
        conn.close().await?;
        let writer = wire::open(&file, false)?;
        let writer = Writer::start(writer);
        files::tighten_companions(&file).map_err(io)?;
        Ok(Self {
            writer,
            reader: ReadPool::new(file, options.max_connections),
            options: base,
            cache: Arc::default(),
        })
    }

    /// Runs the migrations (the `kassa migrate` command), after committing any open batch and
    /// holding off other writes meanwhile; the ones this run applied.
    pub async fn migrate(&self) -> Result<Vec<crate::MigrationName>> {
        self.writer
            .exclusive(async {
                let mut conn = SqliteConnection::connect_with(&self.options).await?;
                let applied = crate::migrations::apply(crate::migrations::SQLITE, &mut conn).await;
                conn.close().await?;
                Ok(applied?)
            })
            .await
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
        ReadTx::begin(&self.reader).await
    }

    async fn begin_write(&self) -> Result<WriteTx> {
        self.writer.begin().await
    }

    fn commit_stats(&self) -> Option<GroupCommitStats> {
        let shared = self.writer.shared();
        Some(GroupCommitStats {
            transactions: shared.transactions.load(Ordering::Relaxed),
            commits: shared.commits.load(Ordering::Relaxed),
        })
    }

    fn connection_stats(&self) -> crate::ConnectionStats {
        self.reader.stats()
    }
}
