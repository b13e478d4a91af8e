//! Group commit for the SQLite backend: every write transaction of the store goes through the
//! one write connection held here.
//!
//! ## Group commit
//!
//! All writes go through one connection (so they never fail with `SQLITE_BUSY` against each
//! other), and concurrent write transactions share one commit — one `fsync` — instead of
//! queueing for one each:
//!
//! - A write transaction ([`WriteTx`]) takes the connection, joins the open *batch* (one
//!   `BEGIN IMMEDIATE … COMMIT`, begun by its first member) inside its own `SAVEPOINT`, runs its
//!   statements, and on [`WriteTx::commit`] lets the connection go to the next writer in line
//!   (its savepoint stays, and the next one nests inside it). It then waits for the batch to
//!   commit, and only then reports success: a caller never learns of a write that is not
//!   durable.
//! - Statements run in place, on the thread of the task that holds the connection (`wire.rs`):
//!   no hand-off to a thread of the connection's own and back for each. So a write holds the
//!   connection for the microseconds its statements take, and a statement, once started, always
//!   finishes: a caller that goes away can only do so between statements, where what its
//!   savepoint holds is known.
//! - A write transaction dropped without `commit` (an error, an early return, a cancelled
//!   request) is rolled back to its savepoint by whoever takes the connection next, before
//!   anything else runs, so it leaves nothing in the batch.
//! - The `COMMIT` — the one wait for the disk — runs on Tokio's blocking pool, holding the
//!   connection, so a slow `fsync` never stalls the runtime's workers. Writers that arrive
//!   meanwhile queue and form the next batch.
//! - One committer task commits a batch whose last member went away without committing, or
//!   whose next writer, for whom the member before left it open, went away before taking the
//!   connection. It waits for the connection in the same first-come queue as the writers
//!   (Tokio's mutex is fair), so every writer that was already waiting joins the batch first.
//! - If a batch fails to commit — or SQLite rolled its transaction back on its own after a
//!   failed statement (a full disk, an I/O error) — it is rolled back and every member gets an
//!   error ([`StoreError::NotCommitted`]): all of them or none are written, never a part.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::{watch, Mutex, Notify, OwnedMutexGuard};

use super::wire;
use crate::db::{Conn, Output, Row, Statement};
use crate::StoreError;

/// The outcome of a batch, once known: `Ok` when committed, else why it was rolled back.
type BatchOutcome = Option<Result<(), Arc<str>>>;

/// A batch commits when its last member finds nobody waiting for the connection, or once it
/// holds this many members…
const MAX_BATCH: u64 = 64;
/// …or is this old, so that a steady stream of writers cannot hold a batch open for long.
const MAX_BATCH_AGE: Duration = Duration::from_millis(4);

/// The write connection, and what every write transaction shares with the committer.
#[derive(Debug)]
pub(super) struct Writer {
    state: Arc<Mutex<WriterState>>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(super) struct Shared {
    /// [`MAX_BATCH_AGE`], but for tests.
    max_age: Duration,
    /// Writers waiting for the connection, who will join the open batch.
    waiting: AtomicUsize,
    /// Tells the committer that a batch may have members and nobody to commit it.
    wake: Notify,
    pub(super) transactions: AtomicU64,
    pub(super) commits: AtomicU64,
}

/// Counts a writer as waiting for the connection until dropped. One that goes away before it
/// gets the connection (its request was cancelled) wakes the committer: the writer before it may
/// have left the batch open for it, and nobody else may come to commit it.
struct Waiting<'a> {
    shared: &'a Shared,
    got: bool,
}

impl<'a> Waiting<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        Self { shared, got: false }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.shared.waiting.fetch_sub(1, Ordering::SeqCst);
        if !self.got {
            self.shared.wake.notify_one();
        }
    }
}

impl Writer {
    pub(super) fn start(conn: Connection) -> Arc<Self> {
        Self::start_with(conn, MAX_BATCH_AGE)
    }

    fn start_with(conn: Connection, max_age: Duration) -> Arc<Self> {
        let writer = Arc::new(Self {
            state: Arc::new(Mutex::new(WriterState {
                conn,
                batch: None,
                member_open: false,
                members: 0,
                opened: Instant::now(),
            })),
            shared: Arc::new(Shared {
                max_age,
                waiting: AtomicUsize::new(0),
                wake: Notify::new(),
                transactions: AtomicU64::new(0),
                commits: AtomicU64::new(0),
            }),
        });
        tokio::spawn(committer(Arc::downgrade(&writer), writer.shared.clone()));
        writer
    }

    /// Starts a write transaction in the open batch, or opens one.
    pub(super) async fn begin(&self) -> Result<WriteTx, StoreError> {
        let mut waiting = Waiting::new(&self.shared);
        let mut state = self.state.clone().lock_owned().await;
        waiting.got = true;
        drop(waiting);
        state.settle();
        let committed = match &state.batch {
            Some(batch) => {
                let committed = batch.subscribe();
                if let Err(e) = state.conn.execute_batch("SAVEPOINT kassa_write") {
                    let cause = e.to_string();
                    state.abort_batch(&cause);
                    return Err(e.into());
                }
                committed
            }
            None => {
                if let Err(e) = state
                    .conn
                    .execute_batch("BEGIN IMMEDIATE; SAVEPOINT kassa_write")
                {
                    // Usually BEGIN itself (another process holds the lock past the busy
                    // timeout) and nothing is open; if the transaction did begin, it must not
                    // stay open.
                    if !state.conn.is_autocommit() {
                        let _ = state.conn.execute_batch("ROLLBACK");
                    }
                    return Err(e.into());
                }
                let batch = watch::Sender::new(None);
                let committed = batch.subscribe();
                state.batch = Some(batch);
                state.members = 0;
                state.opened = Instant::now();
                committed
            }
        };
        state.member_open = true;
        Ok(WriteTx {
            state: Some(state),
            committed,
            shared: self.shared.clone(),
        })
    }

    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Runs `apply` with the write connection, after committing any open batch (the
    /// migrations, which run on a connection of their own meanwhile).
    pub(super) async fn exclusive<T>(&self, apply: impl std::future::Future<Output = T>) -> T {
        let mut state = self.state.clone().lock_owned().await;
        state.commit_batch(&self.shared);
        apply.await
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Lets the committer see that the store is gone and end.
        self.shared.wake.notify_one();
    }
}

/// Commits a batch left with members and nobody to commit it (its last writer was dropped
/// without committing while others waited), until the store is dropped.
async fn committer(writer: Weak<Writer>, shared: Arc<Shared>) {
    loop {
        shared.wake.notified().await;
        let Some(state) = writer.upgrade().map(|w| w.state.clone()) else {
            return;
        };
        let state = state.lock_owned().await;
        if shared.waiting.load(Ordering::SeqCst) == 0 {
            commit_in_background(state, shared.clone()).await;
        }
        // Otherwise a writer is next and takes the batch on.
    }
}

/// Commits the open batch on the blocking pool, holding the connection until it is done; the
/// commit ends and every member hears how, whatever becomes of the caller.
async fn commit_in_background(mut state: OwnedMutexGuard<WriterState>, shared: Arc<Shared>) {
    let done = tokio::task::spawn_blocking(move || state.commit_batch(&shared)).await;
    if let Err(e) = done {
        // The commit panicked: the batch's members learn it from their closed channel.
        tracing::error!(error = %e, "committing a write batch failed");
    }
}

struct WriterState {
    conn: Connection,
    /// The open batch transaction, if any: its members wait on this for the outcome.
    batch: Option<watch::Sender<BatchOutcome>>,
    /// A member's savepoint is open: its `WriteTx` holds the connection, or was dropped without
    /// committing and is to be rolled back.
    member_open: bool,
    /// Members of the open batch that committed their part and wait for the batch.
    members: u64,
    /// When the open batch began.
    opened: Instant,
}

impl std::fmt::Debug for WriterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterState")
            .field("batch_open", &self.batch.is_some())
            .field("member_open", &self.member_open)
            .field("members", &self.members)
            .finish_non_exhaustive()
    }
}

impl WriterState {
    /// Undoes the savepoint of a write transaction dropped without committing. If that fails,
    /// the whole batch is rolled back, since what it holds is no longer known.
    fn settle(&mut self) {
        if !self.member_open {
            return;
        }
        // Repeating it is harmless (the savepoint stays), so the flag clears only once it ran.
        match self.conn.execute_batch("ROLLBACK TO kassa_write") {
            Ok(()) => self.member_open = false,
            Err(e) => self.abort_batch(&e.to_string()),
        }
    }

    /// Commits the open batch (after settling a dropped member) and tells its members.
    fn commit_batch(&mut self, shared: &Shared) {
        self.settle();
        let Some(batch) = self.batch.take() else {
            return;
        };
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                if self.members > 0 {
                    shared
                        .transactions
                        .fetch_add(self.members, Ordering::Relaxed);
                    shared.commits.fetch_add(1, Ordering::Relaxed);
                }
                batch.send_replace(Some(Ok(())));
            }
            Err(e) => {
                self.batch = Some(batch);
                self.abort_batch(&e.to_string());
            }
        }
    }

    /// Rolls the open batch back and tells its members why.
    fn abort_batch(&mut self, cause: &str) {
        tracing::error!(error = %cause, "a write batch failed; rolling it back");
        self.member_open = false;
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "rolling back a failed batch");
            }
        }
        if let Some(batch) = self.batch.take() {
            batch.send_replace(Some(Err(cause.into())));
        }
    }

    /// After a statement failed: if SQLite rolled the batch's transaction back on its own (it
    /// does after a full disk or an I/O error), every member's work is gone — they must hear
    /// so, and nothing may run outside the transaction as if it were in it.
    fn check_open(&mut self, cause: &StoreError) {
        if self.batch.is_some() && self.conn.is_autocommit() {
            self.abort_batch(&format!("the transaction was rolled back: {cause}"));
        }
    }
}

/// One write transaction in the open batch. Dropping it without [`WriteTx::commit`] rolls it
/// back.
pub(crate) struct WriteTx {
    /// The connection, held until `commit` (or drop) lets the next writer in.
    state: Option<OwnedMutexGuard<WriterState>>,
    committed: watch::Receiver<BatchOutcome>,
    shared: Arc<Shared>,
}

impl WriteTx {
    /// The connection, while this transaction's savepoint is open.
    fn open_state(&mut self) -> Result<&mut WriterState, StoreError> {
        match self.state.as_mut() {
            Some(state) if state.member_open && state.batch.is_some() => Ok(state),
            _ => Err(StoreError::NotCommitted(
                "the write's batch was rolled back".into(),
            )),
        }
    }

    /// Keeps what this transaction wrote and returns once the batch holding it is durably
    /// committed; an error means none of it was written.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        self.open_state()?;
        let Some(mut state) = self.state.take() else {
            return Err(StoreError::NotCommitted("the write was interrupted".into()));
        };
        // The savepoint stays (no RELEASE): the next member's nests inside it, and ROLLBACK TO
        // undoes only the newest; the batch's COMMIT releases them all.
        state.member_open = false;
        state.members += 1;
        let nobody_next = self.shared.waiting.load(Ordering::SeqCst) == 0;
        if nobody_next
            || state.members >= MAX_BATCH
            || state.opened.elapsed() >= self.shared.max_age
        {
            // The last in line (or the batch is full) commits it for everyone in it.
            tokio::spawn(commit_in_background(state, self.shared.clone()));
        } else {
            drop(state);
        }
        let outcome = self
            .committed
            .wait_for(Option::is_some)
            .await
            .map_err(|_| StoreError::NotCommitted("the batch's commit was lost".into()))?
            .clone();
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(why)) => Err(StoreError::NotCommitted(why.to_string())),
            // `wait_for` returned once there was an outcome; none would mean the batch was lost.
            None => Err(StoreError::NotCommitted(
                "the batch's outcome was lost".into(),
            )),
        }
    }

    /// Undoes what this transaction wrote; the rest of the batch is untouched. Like dropping
    /// it: the next writer, or the committer, rolls it back before anything else runs.
    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        drop(self);
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            // Dropped holding the connection: the next writer, or the committer if nobody
            // comes, rolls it back and commits what the batch holds.
            drop(state);
            self.shared.wake.notify_one();
        }
    }
}

#[async_trait]
impl Conn for WriteTx {
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output, StoreError> {
        let state = self.open_state()?;
        let result = wire::run(&state.conn, statements);
        if let Err(e) = &result {
            state.check_open(e);
        }
        result
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>, StoreError> {
        let state = self.open_state()?;
        let result = wire::fetch_first(&state.conn, statement);
        if let Err(e) = &result {
            state.check_open(e);
        }
        result
    }
}

#[async_trait]
impl crate::db::WriteTx for WriteTx {
    async fn commit(self) -> Result<(), StoreError> {
        WriteTx::commit(self).await
    }

    async fn rollback(self) -> Result<(), StoreError> {
        WriteTx::rollback(self).await
    }
}

#[cfg(test)]
mod tests {
    //! Group commit on its own: a scratch table on a temporary database, written through
    //! [`Writer`] as the store's methods do.

    use std::path::{Path, PathBuf};

    use super::*;
    use crate::db::query;

    /// A writer whose batches never close for age, so tests can hold them open; and the file.
    fn writer(dir: &tempfile::TempDir) -> (Arc<Writer>, PathBuf) {
        let file = dir.path().join("group.db");
        let conn = Connection::open(&file).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; \
             CREATE TABLE parents (id INTEGER PRIMARY KEY); \
             CREATE TABLE rows (id INTEGER PRIMARY KEY, \
                 parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED); \
             INSERT INTO parents (id) VALUES (1); \
             CREATE TABLE doomed (id INTEGER PRIMARY KEY); \
             CREATE TRIGGER doom BEFORE INSERT ON doomed BEGIN SELECT RAISE(ROLLBACK, 'doomed'); END;",
        )
        .unwrap();
        drop(conn);
        let conn = wire::open(&file, false).unwrap();
        (Writer::start_with(conn, Duration::from_secs(3600)), file)
    }

    async fn insert(writer: &Writer, id: i64, parent: i64) -> Result<(), StoreError> {
        let mut tx = writer.begin().await?;
        query("INSERT INTO rows (id, parent) VALUES ($1, $2)")
            .bind(id)
            .bind(parent)
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    /// A write transaction that inserted row `id` and holds the connection.
    async fn holding(writer: &Writer, id: i64) -> WriteTx {
        let mut tx = writer.begin().await.unwrap();
        query("INSERT INTO rows (id, parent) VALUES ($1, 1)")
            .bind(id)
            .execute(&mut tx)
            .await
            .unwrap();
        tx
    }

    /// The committed rows, as another connection sees them.
    fn ids(file: &Path) -> Vec<i64> {
        let conn = wire::open(file, true).unwrap();
        let mut statement = conn.prepare("SELECT id FROM rows ORDER BY id").unwrap();
        let ids = statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<Vec<i64>>>()
            .unwrap();
        ids
    }

    /// Lets a spawned writer reach the connection's queue.
    async fn settle_queue() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_commits_and_are_all_durable_when_they_return() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, file) = writer(&dir);
        let tasks: Vec<_> = (1..=200)
            .map(|id| {
                let writer = writer.clone();
                let file = file.clone();
                tokio::spawn(async move {
                    insert(&writer, id, 1).await.unwrap();
                    // Committed when commit returns: another connection sees it.
                    assert!(ids(&file).contains(&id));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(ids(&file), (1..=200).collect::<Vec<_>>());
        let transactions = writer.shared.transactions.load(Ordering::Relaxed);
        let commits = writer.shared.commits.load(Ordering::Relaxed);
        assert_eq!(transactions, 200);
        assert!(
            commits < transactions,
            "{commits} commits: nothing was shared"
        );
    }

    #[tokio::test]
    async fn a_write_dropped_or_rolled_back_leaves_nothing_and_the_batch_still_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, file) = writer(&dir);
        insert(&writer, 1, 1).await.unwrap();

        // Dropped halfway (an error, an early return, a cancelled future).
        let dropped = holding(&writer, 2).await;
        drop(dropped);
        insert(&writer, 3, 1).await.unwrap();

        // Rolled back on purpose.
        let undone = holding(&writer, 4).await;
        undone.rollback().await.unwrap();

        // A statement that fails inside a member leaves the member usable and the batch intact.
        let mut tx = writer.begin().await.unwrap();
        let duplicate = query("INSERT INTO rows (id, parent) VALUES (1, 1)")
            .execute(&mut tx)
            .await;
        assert!(duplicate.is_err());
        query("INSERT INTO rows (id, parent) VALUES (5, 1)")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        assert_eq!(ids(&file), vec![1, 3, 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_fails_to_commit_fails_every_member_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, file) = writer(&dir);

        // The first member holds the connection while the second queues behind it, so both are
        // in one batch; the second breaks a deferred foreign key, so the COMMIT itself fails.
        let first = holding(&writer, 1).await;
        let second = tokio::spawn({
            let writer = writer.clone();
            async move { insert(&writer, 2, 99).await }
        });
        settle_queue().await;
        let first = first.commit().await;
        let second = second.await.unwrap();
        assert!(
            matches!(first, Err(StoreError::NotCommitted(_))),
            "{first:?}"
        );
        assert!(
            matches!(second, Err(StoreError::NotCommitted(_))),
            "{second:?}"
        );
        assert!(ids(&file).is_empty());
        assert_eq!(writer.shared.transactions.load(Ordering::Relaxed), 0);

        // The writer goes on: the next batch commits.
        insert(&writer, 3, 1).await.unwrap();
        assert_eq!(ids(&file), vec![3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_sqlite_rolled_back_itself_fails_every_member_and_nothing_runs_outside_it(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (writer, file) = writer(&dir);

        // The first member commits its part while the second waits, so both share a batch;
        // the second's statement makes SQLite roll the whole transaction back (as a full disk
        // or an I/O error would).
        let first = holding(&writer, 1).await;
        let second = tokio::spawn({
            let writer = writer.clone();
            async move {
                let mut tx = writer.begin().await?;
                let doomed = query("INSERT INTO doomed (id) VALUES (1)")
                    .execute(&mut tx)
                    .await;
                assert!(doomed.is_err());
                // Nothing more runs in it: not in a transaction that is gone, nor outside one.
                let after = query("INSERT INTO rows (id, parent) VALUES (2, 1)")
                    .execute(&mut tx)
                    .await;
                assert!(
                    matches!(after, Err(StoreError::NotCommitted(_))),
                    "{after:?}"
                );
                tx.commit().await
            }
        });
        settle_queue().await;
        let first = first.commit().await;
        assert!(
            matches!(first, Err(StoreError::NotCommitted(_))),
            "{first:?}"
        );
        let second = second.await.unwrap();
        assert!(
            matches!(second, Err(StoreError::NotCommitted(_))),
            "{second:?}"
        );
        assert!(ids(&file).is_empty());

        insert(&writer, 3, 1).await.unwrap();
        assert_eq!(ids(&file), vec![3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_that_give_up_or_go_away_never_leave_a_batch_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, file) = writer(&dir);

        // A member commits while another writer queues; that writer's caller goes away (its
        // request was cancelled) and the one after it rolls back: the committer commits the
        // first member's batch all the same.
        let first = holding(&writer, 1).await;
        let cancelled = tokio::spawn({
            let writer = writer.clone();
            async move { insert(&writer, 2, 1).await }
        });
        let rolled_back = tokio::spawn({
            let writer = writer.clone();
            async move {
                let mut tx = writer.begin().await?;
                query("INSERT INTO rows (id, parent) VALUES (3, 1)")
                    .execute(&mut tx)
                    .await?;
                tx.rollback().await
            }
        });
        settle_queue().await;
        cancelled.abort();
        let first = tokio::time::timeout(Duration::from_secs(30), first.commit())
            .await
            .expect("the batch was committed");
        first.unwrap();
        rolled_back.await.unwrap().unwrap();
        let _ = cancelled.await;
        let rows = ids(&file);
        assert!(rows == vec![1] || rows == vec![1, 2], "{rows:?}");
        assert!(!rows.contains(&3));
        // The waiting count came back to zero: a later lone writer commits at once.
        tokio::time::timeout(Duration::from_secs(30), insert(&writer, 4, 1))
            .await
            .expect("committed without waiting for the batch age")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_cancelled_while_waiting_for_the_connection_is_not_counted_as_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _file) = writer(&dir);
        let first = holding(&writer, 1).await;
        let queued = tokio::spawn({
            let writer = writer.clone();
            async move { writer.begin().await.map(drop) }
        });
        settle_queue().await;
        assert_eq!(writer.shared.waiting.load(Ordering::SeqCst), 1);
        queued.abort();
        let _ = queued.await;
        assert_eq!(writer.shared.waiting.load(Ordering::SeqCst), 0);
        // So the first member, finding nobody next, commits its batch itself.
        tokio::time::timeout(Duration::from_secs(30), first.commit())
            .await
            .expect("the batch was committed")
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_that_goes_away_after_the_batch_was_left_open_for_it_does_not_strand_it() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, file) = writer(&dir);
        let first = holding(&writer, 1).await;
        // A second writer queues for the connection (polled once, then never again)…
        let mut queued = Box::pin(writer.begin());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(std::future::Future::poll(queued.as_mut(), &mut cx).is_pending());
        // …so the first member leaves the batch open for it and waits for its commit…
        let committed = tokio::spawn(first.commit());
        settle_queue().await;
        assert!(!committed.is_finished());
        // …and the second goes away without ever taking the connection: the batch still
        // commits.
        drop(queued);
        tokio::time::timeout(Duration::from_secs(30), committed)
            .await
            .expect("the batch was committed")
            .unwrap()
            .unwrap();
        assert_eq!(ids(&file), vec![1]);
    }
}
