//! The values a query binds and the rows it returns, the same for both backends: the one place
//! that knows how Kassa's column types (text, 64- and 32-bit integers, booleans, bytes) travel,
//! so every query file reads and writes them without naming a backend.

use std::sync::Arc;

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

/// One row of a result: its values by column, the names shared by every row of the result.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(names: Arc<[String]>, values: Vec<Value>) -> Self {
        debug_assert_eq!(names.len(), values.len());
        Self { names, values }
    }

    /// The value of a column, by name or position, as `T` (the shape of `sqlx::Row::try_get`,
    /// so a query reads the same on either backend).
    pub(crate) fn try_get<T: FromValue, I: ColumnIndex>(&self, index: I) -> Result<T, sqlx::Error> {
        let at = index.position(&self.names)?;
        T::from_value(&self.values[at]).map_err(|expected| sqlx::Error::ColumnDecode {
            index: self.names[at].clone(),
            source: format!("expected {expected}, found {:?}", kind_of(&self.values[at])).into(),
        })
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null(_) => "NULL",
        Value::Int(_) | Value::Int4(_) => "an integer",
        Value::Bool(_) => "a boolean",
        Value::Text(_) => "text",
        Value::Bytes(_) => "bytes",
    }
}

/// A column named or numbered.
pub(crate) trait ColumnIndex {
    fn position(&self, names: &[String]) -> Result<usize, sqlx::Error>;
}

impl ColumnIndex for &str {
    fn position(&self, names: &[String]) -> Result<usize, sqlx::Error> {
        names
            .iter()
            .position(|n| n == self)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(self.to_string()))
    }
}

impl ColumnIndex for usize {
    fn position(&self, names: &[String]) -> Result<usize, sqlx::Error> {
        if *self < names.len() {
            Ok(*self)
        } else {
            Err(sqlx::Error::ColumnIndexOutOfBounds {
                index: *self,
                len: names.len(),
            })
        }
    }
}

/// A Rust type read from a column; `Err` names what was expected.
pub(crate) trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, &'static str>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Int(i) => Ok(*i),
            Value::Int4(i) => Ok(i64::from(*i)),
            _ => Err("an integer"),
        }
    }
}

impl FromValue for i32 {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Int4(i) => Ok(*i),
            Value::Int(i) => i32::try_from(*i).map_err(|_| "a 32-bit integer"),
            _ => Err("an integer"),
        }
    }
}

impl FromValue for bool {
    /// SQLite keeps booleans as 0 or 1.
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            Value::Int4(i) => Ok(*i != 0),
            _ => Err("a boolean"),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => Err("text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Bytes(b) => Ok(b.clone()),
            // Text read as bytes, as sqlx allowed on SQLite.
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            _ => Err("bytes"),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, &'static str> {
        match v {
            Value::Null(_) => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row::new(
            vec!["a".to_string(), "b".to_string(), "c".to_string()].into(),
            vec![
                Value::Int(1),
                Value::Null(Kind::Text),
                Value::Text("x".into()),
            ],
        )
    }

    #[test]
    fn columns_are_read_by_name_or_position_with_nulls_as_none() {
        let r = row();
        assert_eq!(r.try_get::<i64, _>("a").unwrap(), 1);
        assert!(r.try_get::<bool, _>("a").unwrap());
        assert_eq!(r.try_get::<Option<String>, _>("b").unwrap(), None);
        assert_eq!(r.try_get::<String, _>(2).unwrap(), "x");
        assert_eq!(
            r.try_get::<Option<String>, _>("c").unwrap().as_deref(),
            Some("x")
        );
    }

    #[test]
    fn a_missing_column_or_a_wrong_type_is_an_error_not_a_default() {
        let r = row();
        assert!(matches!(
            r.try_get::<i64, _>("nope"),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
        assert!(matches!(
            r.try_get::<i64, _>(3),
            Err(sqlx::Error::ColumnIndexOutOfBounds { .. })
        ));
        assert!(matches!(
            r.try_get::<String, _>("b"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
        assert!(matches!(
            r.try_get::<i64, _>("c"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
    }

    #[test]
    fn a_none_binds_as_a_null_of_its_type() {
        assert_eq!(Value::from(None::<String>), Value::Null(Kind::Text));
        assert_eq!(Value::from(None::<i32>), Value::Null(Kind::Int4));
        assert_eq!(Value::from(Some(5_i64)), Value::Int(5));
        assert_eq!(Value::from("a"), Value::Text("a".into()));
    }
}
