//! Checkpoints off the commit path. A WAL database is copied back from its log into the main
//! file now and then (a checkpoint, with an `fsync` of the main file). Left to SQLite, the
//! connection whose commit crosses 1,000 log pages does it inside that `COMMIT` — every few
//! dozen sales, holding the one write connection for milliseconds while writers queue, which
//! is the tail of the sale latency.
//!
//! Here a connection of its own checkpoints every [`INTERVAL`] on the blocking pool, `PASSIVE`:
//! it copies what is committed without ever waiting for, or blocking, the writer or a reader.
//! When it has caught up, the writer's next batch starts the log from its beginning again, as
//! SQLite does after any complete checkpoint. The writer's own automatic checkpoint stays as a
//! backstop at [`BACKSTOP_PAGES`], for load so steady that the log never gets a moment to
//! restart: by then nearly everything is copied and that checkpoint has little left to do.

use std::path::Path;
use std::sync::Weak;
use std::time::Duration;

use rusqlite::Connection;

use super::wire;
use crate::Result;

/// How often the log is checkpointed.
const INTERVAL: Duration = Duration::from_millis(50);
/// Log pages (4 KiB) after which the writer checkpoints in its own commit all the same.
pub(super) const BACKSTOP_PAGES: i64 = 10_000;

/// Starts checkpointing `file` until `alive` can no longer be upgraded (the store is gone).
pub(super) fn start<T: Send + Sync + 'static>(file: &Path, alive: Weak<T>) -> Result<()> {
    let conn = wire::open(file, false)?;
    tokio::spawn(run(conn, alive));
    Ok(())
}

async fn run<T: Send + Sync + 'static>(mut conn: Connection, alive: Weak<T>) {
    let mut failing = false;
    loop {
        tokio::time::sleep(INTERVAL).await;
        if alive.strong_count() == 0 {
            return;
        }
        let done = tokio::task::spawn_blocking(move || {
            let result = checkpoint(&conn);
            (conn, result)
        })
        .await;
        let result;
        (conn, result) = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "the checkpoint task stopped; the writer checkpoints alone");
                return;
            }
        };
        match result {
            Ok(()) => failing = false,
            // Once per run of failures: the writer's own checkpoints go on meanwhile.
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "a background checkpoint failed");
            }
            Err(_) => {}
        }
    }
}

/// One passive checkpoint: everything committed that no reader still needs, copied and synced.
fn checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn wal_pages(conn: &Connection) -> i64 {
        // (busy, pages in the log, pages checkpointed); a passive checkpoint with nothing to do.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_is_copied_back_and_restarted_without_the_writer_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ckpt.db");
        drop(Connection::open(&file).unwrap());
        let writer = wire::open(&file, false).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);",
            )
            .unwrap();
        let alive = Arc::new(());
        start(&file, Arc::downgrade(&alive)).unwrap();
        for _ in 0..3 {
            for _ in 0..50 {
                writer
                    .execute("INSERT INTO t (v) VALUES (zeroblob(3000))", [])
                    .unwrap();
            }
            tokio::time::sleep(INTERVAL * 4).await;
        }
        // Everything was checkpointed in the background, so the next write restarts the log
        // from its beginning: it holds only that write's pages.
        writer
            .execute("INSERT INTO t (v) VALUES (zeroblob(10))", [])
            .unwrap();
        let pages = wal_pages(&writer);
        assert!(pages < 10, "the log kept {pages} pages");
        let rows: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 151);
        drop(alive);
    }
}
