//! The SQLite side of the backend-neutral layer: [`Statement`]s become one SQLite query (several
//! statements joined, their parameters renumbered — one round trip to the connection's thread),
//! and [`Value`]s become SQLite arguments.

use std::borrow::Cow;

use futures_core::stream::BoxStream;
use sqlx::sqlite::{SqliteArguments, SqliteConnection, SqliteQueryResult, SqliteRow};
use sqlx::{Arguments as _, Either};

use crate::db::{Kind, Output, Row, Statement, Value};
use crate::Result;

/// The statements as one query: `;`-separated, each one's `$n` shifted past the parameters of
/// those before it.
pub(super) fn combine(statements: Vec<Statement>) -> Result<Combined> {
    let mut args = SqliteArguments::default();
    let persistent = statements.iter().all(|s| s.persistent);
    let mut sql: Option<Cow<'static, str>> = None;
    for statement in statements {
        sql = Some(match sql {
            // The first (often the only) statement's text as it is: no copy.
            None => statement.sql,
            Some(before) => {
                let mut joined = before.into_owned();
                joined.push_str(";\n");
                joined.push_str(&renumber_params(&statement.sql, args.len()));
                Cow::Owned(joined)
            }
        });
        for value in statement.params {
            bind(&mut args, value)?;
        }
    }
    Ok(Combined {
        sql: sql.unwrap_or_default(),
        args,
        persistent,
    })
}

/// Statements joined into one SQLite query.
pub(super) struct Combined {
    pub(super) sql: Cow<'static, str>,
    pub(super) args: SqliteArguments<'static>,
    /// See [`Statement::persistent`].
    pub(super) persistent: bool,
}

fn bind(args: &mut SqliteArguments<'static>, value: Value) -> Result<()> {
    let added = match value {
        Value::Null(Kind::Int | Kind::Int4 | Kind::Bool) => args.add(None::<i64>),
        Value::Null(Kind::Text) => args.add(None::<String>),
        Value::Null(Kind::Bytes) => args.add(None::<Vec<u8>>),
        Value::Int(v) => args.add(v),
        Value::Int4(v) => args.add(v),
        Value::Bool(v) => args.add(v),
        Value::Text(v) => args.add(v),
        Value::Bytes(v) => args.add(v),
    };
    added.map_err(|e| sqlx::Error::Encode(e).into())
}

/// Runs the query on `conn`: every row it returns and the rows its statements changed.
pub(super) async fn fetch(conn: &mut SqliteConnection, query: Combined) -> Result<Output> {
    collect(
        sqlx::Executor::fetch_many(
            conn,
            sqlx::query_with(&query.sql, query.args).persistent(query.persistent),
        ),
        |_| true,
    )
    .await
}

/// The first row the query returns, as soon as it is there.
pub(super) async fn fetch_first(
    conn: &mut SqliteConnection,
    query: Combined,
) -> Result<Option<Row>> {
    let row = sqlx::query_with(&query.sql, query.args)
        .persistent(query.persistent)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Row::Sqlite))
}

/// Reads a `fetch_many` stream to its end or first error; `on_result` sees each statement's
/// result as it comes (the writer learns from the first that its savepoint opened) and says
/// whether its changed rows count (a `SAVEPOINT` the writer put in front does not: SQLite
/// reports the changes of the statement before it).
pub(super) async fn collect(
    mut stream: BoxStream<'_, Result<Either<SqliteQueryResult, SqliteRow>, sqlx::Error>>,
    mut on_result: impl FnMut(&SqliteQueryResult) -> bool,
) -> Result<Output> {
    let mut out = Output::default();
    while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        match item? {
            Either::Left(result) => {
                if on_result(&result) {
                    out.rows_affected += result.rows_affected();
                }
            }
            Either::Right(row) => out.rows.push(Row::Sqlite(row)),
        }
    }
    Ok(out)
}

/// `sql` with every parameter `$n` numbered `$(n + offset)` instead, to append it to a
/// multi-statement query whose earlier statements bind `offset` values. Parameters are the only
/// `$` in Kassa's SQL (no string literal holds one).
fn renumber_params(sql: &str, offset: usize) -> String {
    debug_assert!(
        !param_in_literal(sql),
        "a `$n` inside a string literal would be renumbered: {sql}"
    );
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Whether a `$` followed by a digit appears inside a `'…'` literal of `sql`.
fn param_in_literal(sql: &str) -> bool {
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '$' if quoted && chars.peek().is_some_and(char::is_ascii_digit) => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::renumber_params;

    #[test]
    fn renumbering_shifts_every_parameter_and_nothing_else() {
        assert_eq!(
            renumber_params("UPDATE t SET a = $2, b = $10 WHERE id = $1 AND c = $2", 7),
            "UPDATE t SET a = $9, b = $17 WHERE id = $8 AND c = $9"
        );
        assert_eq!(
            renumber_params("SELECT 1 WHERE x = 'a'", 3),
            "SELECT 1 WHERE x = 'a'"
        );
        assert_eq!(renumber_params("VALUES ($1)", 0), "VALUES ($1)");
        // A `$` that is not a parameter stays as it is.
        assert_eq!(renumber_params("a $ b $x", 4), "a $ b $x");
    }

    #[test]
    fn a_parameter_inside_a_literal_is_caught() {
        assert!(super::param_in_literal("SELECT '$1' WHERE a = $2"));
        assert!(!super::param_in_literal(
            "SELECT 'a$' WHERE a = $2 AND b = 'x'"
        ));
        assert!(!super::param_in_literal(
            "UPDATE t SET s = 'done' WHERE id = $1"
        ));
    }
}
