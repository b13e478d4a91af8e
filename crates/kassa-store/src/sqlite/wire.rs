//! The SQLite side of the backend-neutral layer: opens connections with the store's settings,
//! runs [`Statement`]s on them in place (on the calling thread: a statement on a local file
//! takes microseconds, far less than handing it to a thread of its own and back), and turns
//! their rows into [`Row`]s.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use crate::db::{Cell, Output, Row, SqliteRow, Statement, Value};
use crate::{Result, StoreError};

/// How long a connection waits for another process's lock (the `kassa` CLI writing while
/// `kassa serve` runs) before it gives up with `SQLITE_BUSY`.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Prepared statements kept per connection: more than the store has distinct queries on its
/// hot paths, so none is prepared twice.
const STATEMENT_CACHE: usize = 256;

/// Opens the database file with the store's settings: WAL journal (set once, by the
/// migrations' connection, and kept in the file), `synchronous=FULL`, foreign keys on, the busy
/// timeout. `read_only` connections are the readers'; they never take the write lock.
pub(super) fn open(file: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Each write transaction is a savepoint in a shared batch (`writer.rs`): SQLite copies every
    // page a savepoint changes into its statement journal first, which otherwise is a temporary
    // file opened, written and closed per batch. In memory it is a copy: 20 % less CPU per
    // sale (docs/performance.md).
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    Ok(conn)
}

/// Runs the statements in order, the first failure stopping the rest: every row they return
/// and the rows they changed.
pub(super) fn run(conn: &Connection, statements: Vec<Statement>) -> Result<Output> {
    let mut out = Output::default();
    for statement in statements {
        execute(conn, statement, usize::MAX, &mut out)?;
    }
    Ok(out)
}

/// The first row of one statement, if any; the statement is not stepped further.
pub(super) fn fetch_first(conn: &Connection, statement: Statement) -> Result<Option<Row>> {
    let mut out = Output::default();
    execute(conn, statement, 1, &mut out)?;
    Ok(out.rows.pop())
}

/// Prepares (or takes from the cache) one statement, binds it and steps it for up to `limit`
/// rows, adding them and its changes to `out`.
fn execute(conn: &Connection, statement: Statement, limit: usize, out: &mut Output) -> Result<()> {
    if statement.persistent {
        let mut prepared = conn.prepare_cached(&statement.sql)?;
        step(conn, &mut prepared, statement.params, limit, out)
    } else {
        let mut prepared = conn.prepare(&statement.sql)?;
        step(conn, &mut prepared, statement.params, limit, out)
    }
}

fn step(
    conn: &Connection,
    prepared: &mut rusqlite::Statement<'_>,
    params: Vec<Value>,
    limit: usize,
    out: &mut Output,
) -> Result<()> {
    bind(prepared, &params)?;
    let columns = prepared.column_count();
    let read_only = prepared.readonly();
    if columns == 0 {
        prepared.raw_execute()?;
    } else {
        let names: Arc<[Box<str>]> = prepared.column_names().into_iter().map(Box::from).collect();
        let mut rows = prepared.raw_query();
        let mut taken = 0;
        while taken < limit {
            let Some(row) = rows.next()? else { break };
            let cells = (0..columns)
                .map(|i| row.get_ref(i).map(cell))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            out.rows.push(Row::Sqlite(SqliteRow {
                names: names.clone(),
                cells,
            }));
            taken += 1;
        }
    }
    // `changes()` is the last INSERT, UPDATE or DELETE's count, which a SELECT leaves as it was.
    if !read_only {
        out.rows_affected += conn.changes();
    }
    Ok(())
}

/// Binds `params` to the statement's `$n` placeholders. SQLite numbers parameters by first
/// appearance, not by their `$n`, so each is bound by its name.
fn bind(prepared: &mut rusqlite::Statement<'_>, params: &[Value]) -> Result<()> {
    let count = prepared.parameter_count();
    for index in 1..=count {
        let name = prepared.parameter_name(index).unwrap_or("");
        let n: usize = name
            .strip_prefix('$')
            .and_then(|digits| digits.parse().ok())
            .filter(|n| (1..=params.len()).contains(n))
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the statement's parameter {name:?} has no value ({} bound)",
                    params.len()
                ))
            })?;
        prepared.raw_bind_parameter(index, &params[n - 1])?;
    }
    Ok(())
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(v) => Cell::Int(v),
        ValueRef::Real(v) => Cell::Real(v),
        ValueRef::Text(v) => Cell::Text(String::from_utf8_lossy(v).into_owned()),
        ValueRef::Blob(v) => Cell::Blob(v.to_vec()),
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null(_) => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Int4(v) => ValueRef::Integer(i64::from(*v)),
            Value::Bool(v) => ValueRef::Integer(i64::from(*v)),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(sql: &'static str, params: Vec<Value>) -> Statement {
        Statement {
            sql: sql.into(),
            params,
            persistent: true,
        }
    }

    #[test]
    fn parameters_bind_by_their_number_not_their_order_of_appearance() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)")
            .unwrap();
        let out = run(
            &conn,
            vec![
                statement(
                    "INSERT INTO t (b, a, id) VALUES ($3, $2, $1)",
                    vec![Value::Int(1), Value::Text("x".into()), Value::Int(9)],
                ),
                statement(
                    "UPDATE t SET b = $2 WHERE id = $1 AND a = $3 RETURNING b",
                    vec![Value::Int(1), Value::Int(10), Value::Text("x".into())],
                ),
            ],
        )
        .unwrap();
        assert_eq!(out.rows_affected, 2);
        assert_eq!(out.rows.len(), 1);
        assert_eq!(out.rows[0].try_get::<i64, _>("b").unwrap(), 10);
        // A read reports no changes, whatever the statement before it changed.
        let read = run(
            &conn,
            vec![statement(
                "SELECT a FROM t WHERE id = $1",
                vec![Value::Int(1)],
            )],
        )
        .unwrap();
        assert_eq!(read.rows_affected, 0);
        assert_eq!(read.rows[0].try_get::<String, _>(0).unwrap(), "x");
    }

    #[test]
    fn a_missing_parameter_is_an_error_not_a_null() {
        let conn = Connection::open_in_memory().unwrap();
        let err = run(&conn, vec![statement("SELECT $2", vec![Value::Int(1)])]);
        assert!(err.is_err());
    }

    #[test]
    fn fetch_first_stops_at_the_first_row() {
        let conn = Connection::open_in_memory().unwrap();
        let first = fetch_first(
            &conn,
            statement(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c",
                vec![],
            ),
        )
        .unwrap()
        .unwrap();
        assert_eq!(first.try_get::<i64, _>(0).unwrap(), 1);
    }
}
