//! The PostgreSQL backend, for running several `kassa` instances on one database. Every money
//! change is a conditional `UPDATE` whose row lock serialises racing attempts; background jobs
//! are claimed with `FOR UPDATE SKIP LOCKED` so two instances never run the same one.
//! PostgreSQL groups concurrent commits into shared WAL flushes itself, out of sight.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Arguments as _;

use crate::cache::ReadCache;
use crate::db::{Backend, Conn, Kind, Output, Row, Statement, Value};
use crate::{ConnectOptions, GroupCommitStats, Result};

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    cache: Arc<ReadCache>,
}

impl PgStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<Self> {
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

    /// Runs the migrations (the `kassa migrate` command); safe with several instances starting
    /// (they take turns under PostgreSQL's advisory lock). The ones this run applied.
    pub async fn migrate(&self) -> Result<Vec<crate::MigrationName>> {
        let mut conn = self.pool.acquire().await?;
        Ok(crate::migrations::apply(crate::migrations::POSTGRES, &mut *conn).await?)
    }
}

/// The pool: each statement on whichever connection is free.
#[derive(Debug)]
pub(crate) struct Reader<'a>(&'a PgPool);

#[async_trait]
impl Conn for Reader<'_> {
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output> {
        let mut out = Output::default();
        for statement in statements {
            let (sql, args, persistent) = prepare(statement)?;
            let query = sqlx::query_with(&sql, args).persistent(persistent);
            collect(&mut out, query.fetch_all(self.0).await?);
        }
        Ok(out)
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        let (sql, args, persistent) = prepare(statement)?;
        let query = sqlx::query_with(&sql, args).persistent(persistent);
        Ok(query.fetch_optional(self.0).await?.map(Row::Postgres))
    }
}

/// An ordinary transaction on a pooled connection.
#[derive(Debug)]
pub(crate) struct Tx(sqlx::Transaction<'static, sqlx::Postgres>);

#[async_trait]
impl Conn for Tx {
    /// One statement at a time: PostgreSQL prepares a query of one statement only.
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output> {
        let mut out = Output::default();
        for statement in statements {
            let (sql, args, persistent) = prepare(statement)?;
            let query = sqlx::query_with(&sql, args).persistent(persistent);
            let mut stream = sqlx::Executor::fetch_many(&mut *self.0, query);
            let mut rows = Vec::new();
            while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                match item? {
                    sqlx::Either::Left(result) => out.rows_affected += result.rows_affected(),
                    sqlx::Either::Right(row) => rows.push(row),
                }
            }
            drop(stream);
            collect(&mut out, rows);
        }
        Ok(out)
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        let (sql, args, persistent) = prepare(statement)?;
        let query = sqlx::query_with(&sql, args).persistent(persistent);
        Ok(query.fetch_optional(&mut *self.0).await?.map(Row::Postgres))
    }
}

#[async_trait]
impl crate::db::WriteTx for Tx {
    async fn commit(self) -> Result<()> {
        Ok(self.0.commit().await?)
    }

    async fn rollback(self) -> Result<()> {
        Ok(self.0.rollback().await?)
    }
}

#[async_trait]
impl Backend for PgStore {
    type Reader<'a> = Reader<'a>;
    type Write = Tx;
    type ReadTx = Tx;
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    // `clock_timestamp()`, not `now()`: the time of the statement, not of the transaction's start.
    const NOW_MICROS: &'static str =
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";

    fn reader(&self) -> Reader<'_> {
        Reader(&self.pool)
    }

    fn read_cache(&self) -> &ReadCache {
        &self.cache
    }

    async fn begin_read(&self) -> Result<Tx> {
        self.begin_write().await
    }

    async fn begin_write(&self) -> Result<Tx> {
        Ok(Tx(self.pool.begin().await?))
    }

    fn commit_stats(&self) -> Option<GroupCommitStats> {
        None
    }

    fn connection_stats(&self) -> crate::ConnectionStats {
        crate::db::pool_connections(&self.pool)
    }
}

fn prepare(statement: Statement) -> Result<(std::borrow::Cow<'static, str>, PgArguments, bool)> {
    let mut args = PgArguments::default();
    for value in statement.params {
        let added = match value {
            Value::Null(Kind::Int) => args.add(None::<i64>),
            Value::Null(Kind::Int4) => args.add(None::<i32>),
            Value::Null(Kind::Bool) => args.add(None::<bool>),
            Value::Null(Kind::Text) => args.add(None::<String>),
            Value::Null(Kind::Bytes) => args.add(None::<Vec<u8>>),
            Value::Int(v) => args.add(v),
            Value::Int4(v) => args.add(v),
            Value::Bool(v) => args.add(v),
            Value::Text(v) => args.add(v),
            Value::Bytes(v) => args.add(v),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok((statement.sql, args, statement.persistent))
}

fn collect(out: &mut Output, rows: Vec<PgRow>) {
    out.rows.extend(rows.into_iter().map(Row::Postgres));
}
