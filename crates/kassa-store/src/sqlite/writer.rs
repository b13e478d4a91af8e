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
//! - Every statement is a round trip to the connection's own thread (how sqlx drives SQLite),
//!   and those round trips, made while holding the connection, are what limits the write rate;
//!   so the batch's `BEGIN` and first `SAVEPOINT` go in one, and a member's commit takes none.
//! - A write begun *lazily* (the payment paths) that joins an open batch sends its `SAVEPOINT`
//!   in front of its first query ([`WriteTx::fetch`]), one round trip fewer. That query runs in
//!   a task of its own holding the connection until it has seen the savepoint open, so a caller
//!   that goes away mid-query cannot leave it unknown whether there is a savepoint of its own
//!   to roll back to (rolling back to the one before would undo another writer's work).
//! - A write transaction dropped without `commit` (an error, an early return) is rolled back to
//!   its savepoint by whoever takes the connection next, before anything else runs, so it leaves
//!   nothing in the batch.
//! - One committer task commits the open batch. It waits for the connection in the same
//!   first-come queue as the writers (Tokio's mutex is fair), so every writer that was already
//!   waiting joins the batch first; writers arriving during the `fsync` form the next batch. With
//!   one writer at a time this is one commit per transaction, as before, plus one task wake-up.
//! - If a batch fails to commit, it is rolled back and every member gets an error
//!   ([`StoreError::NotCommitted`]): all of them or none are written, never a part.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::sqlite::SqliteConnection;
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

impl Writer {
    pub(super) fn start(conn: SqliteConnection) -> Arc<Self> {
        Self::start_with(conn, MAX_BATCH_AGE)
    }

    fn start_with(conn: SqliteConnection, max_age: Duration) -> Arc<Self> {
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

    /// Starts a write transaction in the open batch. Run as a task of its own, so that a
    /// caller going away halfway (a cancelled request) cannot leave the batch half begun.
    /// `lazy`: when joining an open batch, leave the savepoint to the first query.
    pub(super) async fn begin(&self, lazy: bool) -> Result<WriteTx, StoreError> {
        tokio::spawn(begin_write(self.state.clone(), self.shared.clone(), lazy))
            .await
            .map_err(|e| StoreError::NotCommitted(format!("the write could not begin: {e}")))?
    }
}

async fn begin_write(
    state: Arc<Mutex<WriterState>>,
    shared: Arc<Shared>,
    lazy: bool,
) -> Result<WriteTx, StoreError> {
    shared.waiting.fetch_add(1, Ordering::SeqCst);
    let mut state = state.lock_owned().await;
    shared.waiting.fetch_sub(1, Ordering::SeqCst);
    state.settle().await;
    let committed = match &state.batch {
        Some(batch) => {
            let committed = batch.subscribe();
            if !lazy {
                let opened =
                    sqlx::Executor::execute(&mut state.conn, "SAVEPOINT kassa_write").await;
                if let Err(e) = opened {
                    state.abort_batch(&e).await;
                    return Err(e.into());
                }
                state.member_open = true;
            }
            committed
        }
        None => {
            // One round trip to the connection's thread for both.
            let begun =
                sqlx::Executor::execute(&mut state.conn, "BEGIN IMMEDIATE; SAVEPOINT kassa_write")
                    .await;
            if let Err(e) = begun {
                // Usually BEGIN itself (another process holds the lock past the busy timeout)
                // and nothing is open; if the transaction did begin, it must not stay open.
                let _ = sqlx::Executor::execute(&mut state.conn, "ROLLBACK").await;
                return Err(e.into());
            }
            let batch = watch::Sender::new(None);
            let committed = batch.subscribe();
            state.batch = Some(batch);
            state.members = 0;
            state.opened = Instant::now();
            state.member_open = true;
            committed
        }
    };
    let savepoint_pending = !state.member_open;
    Ok(WriteTx {
        state: Some(state),
        committed,
        shared,
        savepoint_pending,
        broken: false,
    })
}

impl Writer {
    pub(super) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Runs the migrations on the write connection, after committing any open batch.
    pub(super) async fn migrate(&self) -> Result<Vec<crate::MigrationName>, StoreError> {
        let mut state = self.state.clone().lock_owned().await;
        state.commit_batch(&self.shared).await;
        Ok(crate::migrations::apply(crate::migrations::SQLITE, &mut state.conn).await?)
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
        let mut state = state.lock_owned().await;
        if shared.waiting.load(Ordering::SeqCst) == 0 {
            state.commit_batch(&shared).await;
        }
        // Otherwise a writer is next and takes the batch on.
    }
}

struct WriterState {
    conn: SqliteConnection,
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
    async fn settle(&mut self) {
        if !self.member_open {
            return;
        }
        // Repeating it is harmless (the savepoint stays), so the flag clears only once it ran.
        match sqlx::Executor::execute(&mut self.conn, "ROLLBACK TO kassa_write").await {
            Ok(_) => self.member_open = false,
            Err(e) => self.abort_batch(&e).await,
        }
    }

    /// Commits the open batch (after settling a dropped member) and tells its members.
    async fn commit_batch(&mut self, shared: &Shared) {
        self.settle().await;
        let Some(batch) = self.batch.take() else {
            return;
        };
        match sqlx::Executor::execute(&mut self.conn, "COMMIT").await {
            Ok(_) => {
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
                self.abort_batch(&e).await;
            }
        }
    }

    /// Rolls the open batch back and tells its members why.
    async fn abort_batch(&mut self, cause: &sqlx::Error) {
        tracing::error!(error = %cause, "a write batch failed; rolling it back");
        self.member_open = false;
        if let Err(e) = sqlx::Executor::execute(&mut self.conn, "ROLLBACK").await {
            // "no transaction is active" when SQLite rolled it back itself.
            tracing::debug!(error = %e, "rollback after a failed batch");
        }
        if let Some(batch) = self.batch.take() {
            batch.send_replace(Some(Err(cause.to_string().into())));
        }
    }
}

/// One write transaction in the open batch; derefs to the connection, like
/// `sqlx::Transaction`. Dropping it without [`WriteTx::commit`] rolls it back.
pub(crate) struct WriteTx {
    /// The connection, held until `commit` (or drop) lets the next writer in.
    state: Option<OwnedMutexGuard<WriterState>>,
    committed: watch::Receiver<BatchOutcome>,
    shared: Arc<Shared>,
    /// Begun lazily and no query run yet: its savepoint is not open (see [`WriteTx::fetch`]).
    savepoint_pending: bool,
    /// Its savepoint could not be opened and the batch was rolled back: nothing more may run.
    broken: bool,
}

impl WriteTx {
    /// Runs one query in this transaction; the rows it returns.
    ///
    /// The first query of a transaction begun lazily also opens its savepoint, in the same
    /// round trip (`SAVEPOINT kassa_write;` in front of it). That round trip runs in a task of
    /// its own, which holds the connection until it has seen how it went: whether the
    /// savepoint opened must be known even if the caller goes away meanwhile, since rolling
    /// back to a savepoint that is not this transaction's own would undo the writer before it.
    async fn fetch(&mut self, query: wire::Combined) -> Result<Output, StoreError> {
        if self.broken {
            return Err(StoreError::NotCommitted("the write could not begin".into()));
        }
        if !self.savepoint_pending {
            // The connection stays in `self` meanwhile: if the caller goes away, dropping the
            // transaction lets it go and wakes the committer.
            let Some(state) = self.state.as_mut() else {
                return Err(StoreError::NotCommitted("the write was interrupted".into()));
            };
            return wire::fetch(&mut state.conn, query).await;
        }
        let Some(mut state) = self.state.take() else {
            // An earlier first query of this transaction was cut off: it is over.
            return Err(StoreError::NotCommitted("the write was interrupted".into()));
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let mut lent = Lent {
            state: None,
            shared: self.shared.clone(),
        };
        tokio::spawn(async move {
            let result = first_query(&mut state, query).await;
            lent.state = Some(state);
            // Whether or not the caller is still there to take it back: if not, `Lent` lets
            // the connection go and wakes the committer, like a dropped transaction.
            let _ = reply.send((lent, result));
        });
        let (mut lent, result) = answer.await.map_err(|_| {
            StoreError::NotCommitted("the write's first query stopped unexpectedly".into())
        })?;
        let Some(state) = lent.state.take() else {
            return Err(StoreError::NotCommitted(
                "the write's first query lost its connection".into(),
            ));
        };
        self.savepoint_pending = !state.member_open && state.batch.is_some();
        self.broken = !state.member_open;
        self.state = Some(state);
        result
    }

    /// Keeps what this transaction wrote and returns once the batch holding it is durably
    /// committed; an error means none of it was written.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        let Some(mut state) = self.state.take() else {
            // Its first query was cut off (`fetch`): the write is over.
            return Err(StoreError::NotCommitted("the write was interrupted".into()));
        };
        // The savepoint stays (no RELEASE, a round trip saved): the next member's nests inside
        // it, and ROLLBACK TO undoes only the newest; the batch's COMMIT releases them all.
        state.member_open = false;
        state.members += 1;
        let nobody_next = self.shared.waiting.load(Ordering::SeqCst) == 0;
        if nobody_next
            || state.members >= MAX_BATCH
            || state.opened.elapsed() >= self.shared.max_age
        {
            // The last in line (or the batch is full) commits it for everyone in it, in a task
            // of its own: once begun, the commit ends and every member hears how, whatever
            // becomes of this caller.
            let shared = self.shared.clone();
            tokio::spawn(async move { state.commit_batch(&shared).await });
        } else {
            drop(state);
        }
        let outcome = self
            .committed
            .wait_for(Option::is_some)
            .await
            .map_err(|_| StoreError::NotCommitted("the store was closed".into()))?
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
        self.fetch(wire::combine(statements)?).await
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>, StoreError> {
        let query = wire::combine(vec![statement])?;
        match self.state.as_mut() {
            // Its savepoint is open: the row as soon as it is there.
            Some(state) if !self.savepoint_pending && !self.broken => {
                wire::fetch_first(&mut state.conn, query).await
            }
            // The first query of a lazy write (it opens the savepoint), or one that cannot run.
            _ => Ok(self.fetch(query).await?.rows.into_iter().next()),
        }
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

/// The connection while a write's first query runs in a task of its own ([`WriteTx::fetch`]).
/// Dropped still holding it — the caller went away before taking it back, or the task
/// panicked — it lets the connection go and wakes the committer, as a dropped `WriteTx` does,
/// so the batch is never left with nobody to commit it.
struct Lent {
    state: Option<OwnedMutexGuard<WriterState>>,
    shared: Arc<Shared>,
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            drop(state);
            self.shared.wake.notify_one();
        }
    }
}

/// The first query of a lazily begun write, with its savepoint in front, on the connection
/// (see [`WriteTx::fetch`]). Leaves `member_open` set when the savepoint opened; when it did
/// not, rolls the batch back, as nothing about it is known any more.
async fn first_query(state: &mut WriterState, query: wire::Combined) -> Result<Output, StoreError> {
    let full = format!("SAVEPOINT kassa_write;\n{}", query.sql);
    // The first thing to come back is the SAVEPOINT's own result.
    let mut opened = false;
    let result = wire::collect(
        sqlx::Executor::fetch_many(
            &mut state.conn,
            sqlx::query_with(&full, query.args).persistent(query.persistent),
        ),
        // Every result after the SAVEPOINT's own counts.
        |_| std::mem::replace(&mut opened, true),
    )
    .await;
    let opened = opened || result.as_ref().is_ok_and(|out| !out.rows.is_empty());
    if opened {
        state.member_open = true;
        return result;
    }
    let cause = match result {
        Err(StoreError::Database(e)) => e,
        Err(other) => sqlx::Error::Protocol(other.to_string()),
        Ok(_) => sqlx::Error::Protocol("SAVEPOINT returned nothing".into()),
    };
    state.abort_batch(&cause).await;
    Err(cause.into())
}

#[cfg(test)]
mod tests {
    //! Group commit on its own: a scratch table on a temporary database, written through
    //! [`Writer`] as the store's methods do.

    use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
    use sqlx::Connection as _;

    use super::*;
    use crate::db::{query, Value};

    /// A writer whose batches never close for age, so tests can hold them open.
    async fn writer(dir: &tempfile::TempDir) -> (Arc<Writer>, SqlitePool) {
        let url = format!("sqlite://{}", dir.path().join("group.db").display());
        let options = super::super::connect_options(&url).unwrap();
        let mut conn = SqliteConnection::connect_with(&options.clone().create_if_missing(true))
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE parents (id INTEGER PRIMARY KEY); \
             CREATE TABLE rows (id INTEGER PRIMARY KEY, \
                 parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED); \
             INSERT INTO parents (id) VALUES (1);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let reader = SqlitePoolOptions::new()
            .connect_with(options.read_only(true))
            .await
            .unwrap();
        (Writer::start_with(conn, Duration::from_secs(3600)), reader)
    }

    async fn insert(writer: &Writer, id: i64, parent: i64) -> Result<(), StoreError> {
        let mut tx = writer.begin(false).await?;
        query("INSERT INTO rows (id, parent) VALUES ($1, $2)")
            .bind(id)
            .bind(parent)
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    /// A write transaction that inserted row `id` and holds the connection.
    async fn holding(writer: &Writer, id: i64) -> WriteTx {
        let mut tx = writer.begin(false).await.unwrap();
        query("INSERT INTO rows (id, parent) VALUES ($1, 1)")
            .bind(id)
            .execute(&mut tx)
            .await
            .unwrap();
        tx
    }

    async fn ids(reader: &SqlitePool) -> Vec<i64> {
        sqlx::query_scalar("SELECT id FROM rows ORDER BY id")
            .fetch_all(reader)
            .await
            .unwrap()
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
        let (writer, reader) = writer(&dir).await;
        let tasks: Vec<_> = (1..=200)
            .map(|id| {
                let writer = writer.clone();
                let reader = reader.clone();
                tokio::spawn(async move {
                    insert(&writer, id, 1).await.unwrap();
                    // Committed when commit returns: another connection sees it.
                    let seen: Option<i64> = sqlx::query_scalar("SELECT id FROM rows WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&reader)
                        .await
                        .unwrap();
                    assert_eq!(seen, Some(id));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(ids(&reader).await, (1..=200).collect::<Vec<_>>());
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
        let (writer, reader) = writer(&dir).await;
        insert(&writer, 1, 1).await.unwrap();

        // Dropped halfway (an error, an early return, a cancelled future).
        let dropped = holding(&writer, 2).await;
        drop(dropped);
        insert(&writer, 3, 1).await.unwrap();

        // Rolled back on purpose.
        let undone = holding(&writer, 4).await;
        undone.rollback().await.unwrap();

        // A statement that fails inside a member leaves the member usable and the batch intact.
        let mut tx = writer.begin(false).await.unwrap();
        let duplicate = query("INSERT INTO rows (id, parent) VALUES (1, 1)")
            .execute(&mut tx)
            .await;
        assert!(duplicate.is_err());
        query("INSERT INTO rows (id, parent) VALUES (5, 1)")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        assert_eq!(ids(&reader).await, vec![1, 3, 5]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_that_fails_to_commit_fails_every_member_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = writer(&dir).await;

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
        assert!(ids(&reader).await.is_empty());
        assert_eq!(writer.shared.transactions.load(Ordering::Relaxed), 0);

        // The writer goes on: the next batch commits.
        insert(&writer, 3, 1).await.unwrap();
        assert_eq!(ids(&reader).await, vec![3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_that_give_up_or_go_away_never_leave_a_batch_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = writer(&dir).await;

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
                let mut tx = writer.begin(false).await?;
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
        let rows = ids(&reader).await;
        assert!(rows == vec![1] || rows == vec![1, 2], "{rows:?}");
        assert!(!rows.contains(&3));
    }

    /// A lazily begun write that has joined the batch `first` holds open: `first` commits
    /// (and, with the lazy one waiting, leaves the batch open for it).
    async fn lazy_after(
        writer: &Arc<Writer>,
        first: WriteTx,
    ) -> (WriteTx, tokio::task::JoinHandle<Result<(), StoreError>>) {
        let lazy = tokio::spawn({
            let writer = writer.clone();
            async move { writer.begin(true).await }
        });
        settle_queue().await;
        let first = tokio::spawn(first.commit());
        let lazy = lazy.await.unwrap().unwrap();
        assert!(
            lazy.savepoint_pending,
            "joined an open batch, savepoint not yet opened"
        );
        (lazy, first)
    }

    /// `sql` (one or more statements) as a query of its own, with `params`.
    fn raw(sql: &str, params: Vec<Value>) -> Vec<Statement> {
        vec![Statement {
            sql: sql.to_string().into(),
            params,
            persistent: true,
        }]
    }

    #[tokio::test]
    async fn a_lazy_write_opens_its_savepoint_with_its_first_query() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = writer(&dir).await;
        let first = holding(&writer, 1).await;
        let (mut lazy, first) = lazy_after(&writer, first).await;
        lazy.run(raw("INSERT INTO rows (id, parent) VALUES (2, 1)", vec![]))
            .await
            .unwrap();
        assert!(!lazy.savepoint_pending);
        // Once open, it is an ordinary member: it runs more statements, and commits.
        query("INSERT INTO rows (id, parent) VALUES (3, 1)")
            .execute(&mut lazy)
            .await
            .unwrap();
        lazy.commit().await.unwrap();
        first.await.unwrap().unwrap();
        assert_eq!(ids(&reader).await, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_lazy_writes_first_statement_reports_only_its_own_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _reader) = writer(&dir).await;
        // The member before it changed a row: SQLite's change count, which the SAVEPOINT in
        // front of the first statement reports, still says 1.
        let first = holding(&writer, 1).await;
        let (mut lazy, first) = lazy_after(&writer, first).await;
        let out = lazy
            .run(raw("UPDATE rows SET parent = 1 WHERE id = 999", vec![]))
            .await
            .unwrap();
        assert_eq!(out.rows_affected, 0);
        let out = lazy
            .run(raw("UPDATE rows SET parent = 1 WHERE id = 1", vec![]))
            .await
            .unwrap();
        assert_eq!(out.rows_affected, 1);
        lazy.commit().await.unwrap();
        first.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_lazy_write_that_fails_or_is_dropped_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = writer(&dir).await;

        // Its first query fails after the savepoint and one insert: both its rows go, the
        // member before it stays.
        let first = holding(&writer, 1).await;
        let (mut lazy, first) = lazy_after(&writer, first).await;
        let failed = lazy
            .run(raw("INSERT INTO rows (id, parent) VALUES (2, 1); INSERT INTO rows (id, parent) VALUES (1, 1)", vec![]))
            .await;
        assert!(failed.is_err());
        drop(lazy);
        first.await.unwrap().unwrap();
        assert_eq!(ids(&reader).await, vec![1]);

        // Dropped before it ran anything: there is no savepoint of its own to roll back to,
        // and the member before it stays.
        let first = holding(&writer, 3).await;
        let (lazy, first) = lazy_after(&writer, first).await;
        drop(lazy);
        first.await.unwrap().unwrap();
        assert_eq!(ids(&reader).await, vec![1, 3]);
    }

    #[tokio::test]
    async fn a_lazy_write_whose_later_statement_cannot_even_be_prepared_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = writer(&dir).await;
        // Twice: the second run finds the (partly prepared) query in the statement cache.
        for (kept, lost) in [(1, 2), (3, 4)] {
            let first = holding(&writer, kept).await;
            let (mut lazy, first) = lazy_after(&writer, first).await;
            let failed = lazy
                .run(raw("INSERT INTO rows (id, parent) VALUES ($1, 1); INSERT INTO no_such_table VALUES (1)", vec![Value::Int(lost)]))
                .await;
            assert!(failed.is_err());
            assert!(
                !lazy.broken,
                "the savepoint opened: only this write is undone"
            );
            drop(lazy);
            first.await.unwrap().unwrap();
        }
        assert_eq!(ids(&reader).await, vec![1, 3]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lazy_write_whose_caller_goes_away_mid_query_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = writer(&dir).await;
        let first = holding(&writer, 1).await;
        let (mut lazy, first) = lazy_after(&writer, first).await;
        // A first query slow enough to be cut off halfway: whether its savepoint opened is
        // learned by the task that runs it, never guessed.
        let slow = "INSERT INTO rows (id, parent) VALUES (2, 1); \
                    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) \
                    SELECT count(*) FROM c";
        let cut = tokio::time::timeout(Duration::from_millis(5), lazy.run(raw(slow, vec![]))).await;
        assert!(
            cut.is_err(),
            "the query finished before it could be cut off"
        );
        drop(lazy);
        tokio::time::timeout(Duration::from_secs(60), first)
            .await
            .expect("the batch was committed")
            .unwrap()
            .unwrap();
        assert_eq!(ids(&reader).await, vec![1]);
        // And the writer goes on as usual.
        insert(&writer, 3, 1).await.unwrap();
        assert_eq!(ids(&reader).await, vec![1, 3]);
    }

    #[tokio::test]
    async fn a_connection_lent_to_a_first_query_and_never_taken_back_lets_the_batch_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reader) = writer(&dir).await;
        let first = holding(&writer, 1).await;
        let (mut lazy, first) = lazy_after(&writer, first).await;
        // What is left when the caller goes away between the task's answer and reading it.
        let lent = Lent {
            state: lazy.state.take(),
            shared: writer.shared.clone(),
        };
        drop(lent);
        drop(lazy);
        tokio::time::timeout(Duration::from_secs(30), first)
            .await
            .expect("the batch was committed")
            .unwrap()
            .unwrap();
        assert_eq!(ids(&reader).await, vec![1]);
    }
}
