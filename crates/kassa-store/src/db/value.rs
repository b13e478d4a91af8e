//! The values a query binds and the rows it returns, the same for both backends: the one place
//! that knows how Kassa's column types (text, 64- and 32-bit integers, booleans, bytes) travel,
//! so every query file reads and writes them without naming a backend.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, Sqlite};

/// A bound parameter or a column value. A NULL keeps its type: PostgreSQL prepares a statement
/// with the type of every parameter, so `None::<String>` must stay text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null(Kind),
    Int(i64),
    Int4(i32),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
}

/// The type of a [`Value`], for typed NULLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Int,
    Int4,
    Bool,
    Text,
    Bytes,
}

/// A type that binds as one [`Kind`]; `Option<T>` binds `None` as a NULL of that kind.
pub(crate) trait Typed: Into<Value> {
    const KIND: Kind;
}

macro_rules! value_from {
    ($($t:ty => $kind:ident, |$v:ident| $make:expr;)*) => {$(
        impl From<$t> for Value {
            fn from($v: $t) -> Value {
                $make
            }
        }
        impl Typed for $t {
            const KIND: Kind = Kind::$kind;
        }
    )*};
}

value_from! {
    i64 => Int, |v| Value::Int(v);
    i32 => Int4, |v| Value::Int4(v);
    bool => Bool, |v| Value::Bool(v);
    String => Text, |v| Value::Text(v);
    &str => Text, |v| Value::Text(v.to_string());
    &String => Text, |v| Value::Text(v.clone());
    Vec<u8> => Bytes, |v| Value::Bytes(v);
    &[u8] => Bytes, |v| Value::Bytes(v.to_vec());
    &Vec<u8> => Bytes, |v| Value::Bytes(v.clone());
}

impl<T: Typed> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null(T::KIND), Into::into)
    }
}

/// One row of a result, as the backend returned it: columns are decoded by sqlx when read, with
/// the same types and checks on either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may hold payer data: only the shape.
        let columns = match self {
            Row::Sqlite(row) => sqlx::Row::len(row),
            Row::Postgres(row) => sqlx::Row::len(row),
        };
        f.debug_struct("Row").field("columns", &columns).finish()
    }
}

/// A Rust type a column can be read as, on both backends.
pub(crate) trait Column<'r>:
    sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite> + sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

impl<'r, T> Column<'r> for T where
    T: sqlx::Decode<'r, Sqlite>
        + sqlx::Type<Sqlite>
        + sqlx::Decode<'r, Postgres>
        + sqlx::Type<Postgres>
{
}

/// A column named or numbered, on both backends.
pub(crate) trait ColumnIndex:
    sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow>
{
}

impl<I> ColumnIndex for I where I: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> {}

impl Row {
    /// The value of a column, by name or position, as `T` (the shape of `sqlx::Row::try_get`,
    /// so a query reads the same on either backend).
    pub(crate) fn try_get<'r, T: Column<'r>, I: ColumnIndex>(
        &'r self,
        index: I,
    ) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(row) => sqlx::Row::try_get(row, index),
            Row::Postgres(row) => sqlx::Row::try_get(row, index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_none_binds_as_a_null_of_its_type() {
        assert_eq!(Value::from(None::<String>), Value::Null(Kind::Text));
        assert_eq!(Value::from(None::<i32>), Value::Null(Kind::Int4));
        assert_eq!(Value::from(Some(5_i64)), Value::Int(5));
        assert_eq!(Value::from("a"), Value::Text("a".into()));
    }
}
