//! Statements as the query files write them — `query(sql).bind(..).fetch_optional(conn)`, the
//! shape of sqlx's own API — run on any [`Conn`]: a backend's read pool or write transaction.
//! The SQL is written once, in the dialect SQLite and PostgreSQL share (`$n` parameters,
//! `RETURNING`, `ON CONFLICT`).

use std::borrow::Cow;
use std::marker::PhantomData;

use async_trait::async_trait;

use super::value::{Column, Row, Value};
use crate::Result;

/// One statement and its parameters, `$1` onwards.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sql: Cow<'static, str>,
    pub(crate) params: Vec<Value>,
    /// Kept prepared in the connection's statement cache (sqlx's `persistent`); false for text
    /// that varies from call to call, which would only push the others out.
    pub(crate) persistent: bool,
}

/// What running statements gave: every row they returned, in order, and the rows they changed.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub(crate) rows: Vec<Row>,
    pub(crate) rows_affected: u64,
}

/// Where statements run: a read pool or a write transaction of either backend.
#[async_trait]
pub(crate) trait Conn: Send {
    /// Runs the statements in order, in one round trip where the backend takes several
    /// statements at once (SQLite); the first failure stops the rest.
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output>;

    /// The first row of one statement, if any. A backend may return as soon as it has the row
    /// (sqlx's `fetch_optional`) instead of waiting for the statement to report it is done.
    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        Ok(self.run(vec![statement]).await?.rows.into_iter().next())
    }
}

#[async_trait]
impl<C: Conn + ?Sized> Conn for &mut C {
    async fn run(&mut self, statements: Vec<Statement>) -> Result<Output> {
        (**self).run(statements).await
    }

    async fn fetch_first(&mut self, statement: Statement) -> Result<Option<Row>> {
        (**self).fetch_first(statement).await
    }
}

/// A statement being built; see the module documentation.
#[must_use]
#[derive(Debug)]
pub(crate) struct Query(Statement);

pub(crate) fn query(sql: impl Into<Cow<'static, str>>) -> Query {
    Query(Statement {
        sql: sql.into(),
        params: Vec::new(),
        persistent: true,
    })
}

/// The rows changed by [`Query::execute`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Executed(u64);

impl Executed {
    pub(crate) fn rows_affected(&self) -> u64 {
        self.0
    }
}

impl Query {
    pub(crate) fn bind(mut self, value: impl Into<Value>) -> Self {
        self.0.params.push(value.into());
        self
    }

    /// See [`Statement::persistent`].
    pub(crate) fn persistent(mut self, keep: bool) -> Self {
        self.0.persistent = keep;
        self
    }

    pub(crate) async fn fetch_all(self, conn: &mut dyn Conn) -> Result<Vec<Row>> {
        Ok(conn.run(vec![self.0]).await?.rows)
    }

    pub(crate) async fn fetch_optional(self, conn: &mut dyn Conn) -> Result<Option<Row>> {
        conn.fetch_first(self.0).await
    }

    pub(crate) async fn fetch_one(self, conn: &mut dyn Conn) -> Result<Row> {
        self.fetch_optional(conn)
            .await?
            .ok_or_else(|| sqlx::Error::RowNotFound.into())
    }

    pub(crate) async fn execute(self, conn: &mut dyn Conn) -> Result<Executed> {
        Ok(Executed(conn.run(vec![self.0]).await?.rows_affected))
    }
}

/// A query whose rows are one value each, read as `T` (sqlx's `query_scalar`).
#[must_use]
#[derive(Debug)]
pub(crate) struct QueryScalar<T>(Query, PhantomData<fn() -> T>);

pub(crate) fn query_scalar<T>(sql: impl Into<Cow<'static, str>>) -> QueryScalar<T>
where
    T: for<'r> Column<'r>,
{
    QueryScalar(query(sql), PhantomData)
}

impl<T> QueryScalar<T>
where
    T: for<'r> Column<'r>,
{
    pub(crate) fn bind(self, value: impl Into<Value>) -> Self {
        QueryScalar(self.0.bind(value), PhantomData)
    }

    pub(crate) async fn fetch_all(self, conn: &mut dyn Conn) -> Result<Vec<T>> {
        let rows = self.0.fetch_all(conn).await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    pub(crate) async fn fetch_optional(self, conn: &mut dyn Conn) -> Result<Option<T>> {
        match self.0.fetch_optional(conn).await? {
            Some(row) => Ok(Some(row.try_get(0)?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn fetch_one(self, conn: &mut dyn Conn) -> Result<T> {
        Ok(self.0.fetch_one(conn).await?.try_get(0)?)
    }
}

/// Statements that go to the database together, in order, in the caller's transaction; the
/// first failure stops the rest (and the caller's transaction is rolled back). On SQLite they
/// go as one query — one round trip to the connection's thread, which is what a write costs
/// most there; on PostgreSQL one after the other.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    statements: Vec<Statement>,
}

impl Batch {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends a statement numbering its parameters from `$1`; bind them on what it returns.
    pub(crate) fn push(&mut self, sql: impl Into<Cow<'static, str>>) -> Pushed<'_> {
        self.statements.push(Statement {
            sql: sql.into(),
            params: Vec::new(),
            persistent: true,
        });
        let last = self.statements.len() - 1;
        Pushed(&mut self.statements[last])
    }

    /// Runs the statements; the rows any of them return, in order.
    pub(crate) async fn fetch_all(self, conn: &mut dyn Conn) -> Result<Vec<Row>> {
        if self.statements.is_empty() {
            return Ok(Vec::new());
        }
        Ok(conn.run(self.statements).await?.rows)
    }

    pub(crate) async fn execute(self, conn: &mut dyn Conn) -> Result<()> {
        self.fetch_all(conn).await.map(drop)
    }
}

/// The statement just pushed onto a [`Batch`], taking its parameters.
#[derive(Debug)]
pub(crate) struct Pushed<'a>(&'a mut Statement);

impl Pushed<'_> {
    pub(crate) fn bind(self, value: impl Into<Value>) -> Self {
        self.0.params.push(value.into());
        self
    }
}

/// A LIKE pattern matching text that contains `q`, ignoring ASCII case (compare with LOWER()).
/// Only ASCII is folded, as SQLite's LOWER() does, so both backends find the same rows.
pub(crate) fn like_contains(q: &str) -> String {
    let escaped = q
        .to_ascii_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
