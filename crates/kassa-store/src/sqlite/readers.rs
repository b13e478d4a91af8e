//! The SQLite read pool: read-only connections of their own, so reads never wait for the
//! writer (WAL lets them read the last commit while it writes the next). A read takes a free
//! connection, runs its statements in place, and puts it back; the pool opens connections as
//! they are needed, up to its size, and a read waits for one beyond that.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::wire;
use crate::db::{Conn, Output, Row, Statement};
use crate::{ConnectionStats, Result};

#[derive(Debug)]
pub(super) struct ReadPool {
    file: PathBuf,
    size: u32,
    permits: Arc<Semaphore>,
    idle: std::sync::Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub(super) fn new(file: PathBuf, size: u32) -> Arc<Self> {
        let size = size.max(1);
        Arc::new(Self {
            file,
            size,
            permits: Arc::new(Semaphore::new(size as usize)),
            idle: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// A connection of the pool, once one is free.
    pub(super) async fn acquire(self: &Arc<Self>) -> Result<Pooled> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the read pool's semaphore is never closed");
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => wire::open(&self.file, true)?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self.clone(),
            _permit: permit,
        })
    }

    pub(super) fn stats(&self) -> ConnectionStats {
        let in_use = self.size - self.permits.available_permits() as u32;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).len() as u32;
        ConnectionStats { idle, in_use }
    }
}

/// A connection taken from the pool; back in it when dropped.
#[derive(Debug)]
pub(super) struct Pooled {
    conn: Option<Connection>,
    pool: Arc<ReadPool>,
    _permit: OwnedSemaphorePermit,
}

impl Pooled {
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection left inside a transaction (it cannot be: `ReadTx` ends its own) is
            // closed rather than handed on.
            if conn.is_autocommit() {
                self.pool
                    .idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(conn);
            }
        }
    }
}

/// The read pool: each call on whichever connection is free.
#[derive(Debug)]
pub(crate) struct Reader<'a>(pub(super) &'a Arc<ReadPool>);

#[async_trait]
impl Conn for Reader<'_> {
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output> {
        let pooled = self.0.acquire().await?;
        wire::run(pooled.conn(), statements)
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        let pooled = self.0.acquire().await?;
        wire::fetch_first(pooled.conn(), statement)
    }
}

/// A read transaction on one read connection: several statements that see one snapshot.
#[derive(Debug)]
pub(crate) struct ReadTx {
    pooled: Pooled,
    open: bool,
}

impl ReadTx {
    pub(super) async fn begin(pool: &Arc<ReadPool>) -> Result<Self> {
        let pooled = pool.acquire().await?;
        pooled.conn().execute_batch("BEGIN")?;
        Ok(Self { pooled, open: true })
    }

    fn end(&mut self, how: &str) -> Result<()> {
        self.open = false;
        Ok(self.pooled.conn().execute_batch(how)?)
    }
}

impl Drop for ReadTx {
    fn drop(&mut self) {
        if self.open {
            let _ = self.end("ROLLBACK");
        }
    }
}

#[async_trait]
impl Conn for ReadTx {
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output> {
        wire::run(self.pooled.conn(), statements)
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        wire::fetch_first(self.pooled.conn(), statement)
    }
}

#[async_trait]
impl crate::db::WriteTx for ReadTx {
    async fn commit(mut self) -> Result<()> {
        self.end("COMMIT")
    }

    async fn rollback(mut self) -> Result<()> {
        self.end("ROLLBACK")
    }
}
