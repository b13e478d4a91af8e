//! The embedded SQLite backend: one file, WAL journal, `synchronous=FULL` (a committed payment
//! survives a power cut). All writes go through a single connection, so write transactions never
//! fail with SQLITE_BUSY against each other; readers use their own pool and never block it.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::{ConnectOptions, StoreError};

/// The connection settings every SQLite connection of the store uses (WAL journal,
/// `synchronous=FULL`, a 10 s busy timeout, foreign keys on); public so tools such as
/// `kassa bench` can measure the database with exactly the same durability settings.
pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, sqlx::Error> {
    Ok(SqliteConnectOptions::from_str(url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true))
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self, StoreError> {
        let base = connect_options(url)?;
        if let Some(parent) = Path::new(base.get_filename()).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(base.clone().create_if_missing(true))
            .await?;
        if options.migrate {
            crate::migrations::migrator(crate::migrations::SQLITE)
                .await?
                .run(&writer)
                .await?;
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .connect_with(base.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    /// Runs the migrations (the `kassa migrate` command).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::migrations::migrator(crate::migrations::SQLITE)
            .await?
            .run(&self.writer)
            .await?;
        Ok(())
    }

    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    fn writer(&self) -> &SqlitePool {
        &self.writer
    }
}

crate::sql::store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    skip_locked = ""
);

crate::webhook::webhook_store_impl!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    skip_locked = ""
);
