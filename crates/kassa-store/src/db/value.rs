//! The values a query binds and the rows it returns, the same for both backends: the one place
//! that knows how Kassa's column types (text, 64- and 32-bit integers, booleans, bytes) travel,
//! so every query file reads and writes them without naming a backend.

use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::Postgres;

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

/// One row of a result, as the backend returned it: columns are decoded when read, with the
/// same types and checks on either backend.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may hold payer data: only the shape.
        let columns = match self {
            Row::Sqlite(row) => row.cells.len(),
            Row::Postgres(row) => sqlx::Row::len(row),
        };
        f.debug_struct("Row").field("columns", &columns).finish()
    }
}

/// A row read from SQLite: its values, copied out of the statement as it stepped, and the
/// column names, shared by every row of the result.
pub(crate) struct SqliteRow {
    pub(crate) names: Arc<[Box<str>]>,
    pub(crate) cells: Vec<Cell>,
}

/// One SQLite value, in its storage class.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A Rust type a column can be read as, on both backends.
pub(crate) trait Column<'r>:
    FromCell<'r> + sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

impl<'r, T> Column<'r> for T where
    T: FromCell<'r> + sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

/// A column named or numbered, on both backends.
pub(crate) trait ColumnIndex: sqlx::ColumnIndex<PgRow> + CellIndex {}

impl<I> ColumnIndex for I where I: sqlx::ColumnIndex<PgRow> + CellIndex {}

impl Row {
    /// The value of a column, by name or position, as `T` (the shape of `sqlx::Row::try_get`,
    /// so a query reads the same on either backend).
    pub(crate) fn try_get<'r, T: Column<'r>, I: ColumnIndex>(
        &'r self,
        index: I,
    ) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(row) => {
                let at = index.position(row)?;
                T::from_cell(&row.cells[at]).map_err(|source| sqlx::Error::ColumnDecode {
                    index: format!("{:?}", row.names[at]),
                    source: source.into(),
                })
            }
            Row::Postgres(row) => sqlx::Row::try_get(row, index),
        }
    }
}

/// Where a column is in a [`SqliteRow`].
pub(crate) trait CellIndex {
    fn position(&self, row: &SqliteRow) -> Result<usize, sqlx::Error>;
}

impl CellIndex for usize {
    fn position(&self, row: &SqliteRow) -> Result<usize, sqlx::Error> {
        if *self < row.cells.len() {
            Ok(*self)
        } else {
            Err(sqlx::Error::ColumnIndexOutOfBounds {
                index: *self,
                len: row.cells.len(),
            })
        }
    }
}

impl CellIndex for &str {
    fn position(&self, row: &SqliteRow) -> Result<usize, sqlx::Error> {
        row.names
            .iter()
            .position(|name| **name == **self)
            .ok_or_else(|| sqlx::Error::ColumnNotFound((*self).to_string()))
    }
}

/// A Rust type read from a SQLite value, with the checks sqlx makes: the storage class must
/// fit, and NULL only fits an `Option`.
pub(crate) trait FromCell<'r>: Sized {
    fn from_cell(cell: &'r Cell) -> Result<Self, String>;
}

fn mismatch(want: &str, cell: &Cell) -> String {
    let have = match cell {
        Cell::Null => "NULL",
        Cell::Int(_) => "INTEGER",
        Cell::Real(_) => "REAL",
        Cell::Text(_) => "TEXT",
        Cell::Blob(_) => "BLOB",
    };
    format!("a {have} value cannot be read as {want}")
}

impl FromCell<'_> for i64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => Ok(*v),
            other => Err(mismatch("i64", other)),
        }
    }
}

impl FromCell<'_> for i32 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => i32::try_from(*v).map_err(|_| format!("{v} is out of range for i32")),
            other => Err(mismatch("i32", other)),
        }
    }
}

impl FromCell<'_> for bool {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Int(v) => Ok(*v != 0),
            other => Err(mismatch("bool", other)),
        }
    }
}

impl FromCell<'_> for f64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Real(v) => Ok(*v),
            Cell::Int(v) => Ok(*v as f64),
            other => Err(mismatch("f64", other)),
        }
    }
}

impl FromCell<'_> for String {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v.clone()),
            other => Err(mismatch("text", other)),
        }
    }
}

impl<'r> FromCell<'r> for &'r str {
    fn from_cell(cell: &'r Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(v) => Ok(v),
            other => Err(mismatch("text", other)),
        }
    }
}

impl FromCell<'_> for Vec<u8> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Blob(v) => Ok(v.clone()),
            other => Err(mismatch("bytes", other)),
        }
    }
}

impl<'r> FromCell<'r> for &'r [u8] {
    fn from_cell(cell: &'r Cell) -> Result<Self, String> {
        match cell {
            Cell::Blob(v) => Ok(v),
            other => Err(mismatch("bytes", other)),
        }
    }
}

impl<'r, T: FromCell<'r>> FromCell<'r> for Option<T> {
    fn from_cell(cell: &'r Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            other => T::from_cell(other).map(Some),
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

    fn row(cells: Vec<Cell>) -> Row {
        let names: Vec<Box<str>> = (0..cells.len()).map(|i| format!("c{i}").into()).collect();
        Row::Sqlite(SqliteRow {
            names: names.into(),
            cells,
        })
    }

    #[test]
    fn sqlite_cells_read_as_sqlx_reads_them() {
        let r = row(vec![
            Cell::Int(7),
            Cell::Null,
            Cell::Text("x".into()),
            Cell::Blob(vec![1]),
            Cell::Int(1 << 40),
        ]);
        assert_eq!(r.try_get::<i64, _>("c0").unwrap(), 7);
        assert_eq!(r.try_get::<i32, _>(0).unwrap(), 7);
        assert!(r.try_get::<bool, _>(0).unwrap());
        assert_eq!(r.try_get::<Option<i64>, _>("c1").unwrap(), None);
        assert_eq!(r.try_get::<String, _>("c2").unwrap(), "x");
        assert_eq!(r.try_get::<Vec<u8>, _>(3).unwrap(), vec![1]);
        // What does not fit is an error, never a silent conversion.
        assert!(r.try_get::<i64, _>("c1").is_err(), "NULL into a non-Option");
        assert!(r.try_get::<String, _>(0).is_err());
        assert!(r.try_get::<i64, _>("c2").is_err());
        assert!(r.try_get::<i32, _>(4).is_err(), "out of range");
        assert!(matches!(
            r.try_get::<i64, _>("nope"),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
        assert!(r.try_get::<i64, _>(9).is_err());
    }
}
