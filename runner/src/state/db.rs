//! One small SQL interface over the two backends the state lives in: an
//! SQLite file (the embedded default) and a PostgreSQL database (several
//! replicas sharing it).
//!
//! The state's operations are written once, against [`Sql`]: statements in
//! the dialect both engines share (`ON CONFLICT … DO NOTHING/UPDATE`,
//! `RETURNING`, `?N` placeholders, which PostgreSQL gets as `$N`), values as
//! [`Value`]s (integers, text, null), rows read by column name. What differs
//! — opening, transactions, migrations, error codes — stays in `mod.rs` and
//! [`super::postgres`].

use std::sync::Arc;

/// A value bound to a statement or read from a row. Booleans are stored as
/// integers (0 and 1), times as unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// UTF-8 text.
    Text(String),
}

/// A Rust value that binds as a [`Value`].
pub trait ToValue {
    /// The value to bind.
    fn to_value(&self) -> Value;
}

/// A Rust value read from a [`Value`].
pub trait FromValue: Sized {
    /// The Rust value, or why the stored one is not of this type.
    fn from_value(value: Value) -> Result<Self, String>;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Integer(*self)
    }
}

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl ToValue for $ty {
            fn to_value(&self) -> Value {
                // Numbers strata stores (pull requests, comment ids, counts)
                // fit; a larger one saturates rather than wraps.
                Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }

        impl FromValue for $ty {
            fn from_value(value: Value) -> Result<Self, String> {
                let integer = i64::from_value(value)?;
                <$ty>::try_from(integer)
                    .map_err(|_| format!("{integer} is out of range for {}", stringify!($ty)))
            }
        }
    )*};
}

integers!(u64, u32, i32, usize);

impl FromValue for Value {
    fn from_value(value: Value) -> Result<Self, String> {
        Ok(value)
    }
}

impl FromValue for i64 {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Integer(integer) => Ok(integer),
            Value::Null => Err("expected an integer, found NULL".to_owned()),
            Value::Text(text) => Err(format!("expected an integer, found text `{text}`")),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: Value) -> Result<Self, String> {
        i64::from_value(value).map(|integer| integer != 0)
    }
}

impl FromValue for String {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Text(text) => Ok(text),
            Value::Null => Err("expected text, found NULL".to_owned()),
            Value::Integer(integer) => Err(format!("expected text, found the integer {integer}")),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            value => T::from_value(value).map(Some),
        }
    }
}

/// Bind values to a statement: `params![repo, pr, now]`.
macro_rules! params {
    () => { &[] as &[$crate::state::db::Value] };
    ($($value:expr),+ $(,)?) => {
        &[$($crate::state::db::ToValue::to_value(&$value)),+] as &[$crate::state::db::Value]
    };
}
pub(crate) use params;

/// One row of a result, read by column name or position.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

/// A column of a [`Row`]: its name or its position.
pub trait Column: std::fmt::Display {
    /// The position of this column among `columns`.
    fn position(&self, columns: &[String]) -> Option<usize>;
}

impl Column for &str {
    fn position(&self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|name| name == self)
    }
}

impl Column for usize {
    fn position(&self, columns: &[String]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl Row {
    /// A row of `values` under `columns`.
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Self {
        Self { columns, values }
    }

    /// The value of `column`, as a `T`.
    pub fn get<I: Column, T: FromValue>(&self, column: I) -> Result<T, DbError> {
        let Some(index) = column.position(&self.columns) else {
            return Err(DbError::other(format!(
                "no column `{column}` in the result"
            )));
        };
        T::from_value(self.values[index].clone())
            .map_err(|reason| DbError::other(format!("column `{column}`: {reason}")))
    }
}

/// What kind of failure a [`DbError`] is, where callers act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// Another process holds the database (SQLite's busy timeout ran out).
    Busy,
    /// The file is not an SQLite database.
    NotADatabase,
    /// The connection to the server is gone.
    Connection,
    /// A query for one row found none.
    NoRows,
    /// Anything else.
    Other,
}

/// A failed statement, in the engine's words.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    /// What went wrong.
    pub message: String,
    /// What kind of failure it is.
    pub kind: DbErrorKind,
}

impl DbError {
    /// A failure of kind [`DbErrorKind::Other`].
    pub fn other(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            kind: DbErrorKind::Other,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(error: rusqlite::Error) -> Self {
        let kind = match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                DbErrorKind::Busy
            }
            Some(rusqlite::ErrorCode::NotADatabase) => DbErrorKind::NotADatabase,
            _ => DbErrorKind::Other,
        };
        Self {
            message: error.to_string(),
            kind,
        }
    }
}

impl From<postgres::Error> for DbError {
    fn from(error: postgres::Error) -> Self {
        let kind = if error.is_closed() {
            DbErrorKind::Connection
        } else {
            DbErrorKind::Other
        };
        // `Display` of a server error is "db error"; the message is in its
        // source.
        let message = match error.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => {
                let mut message = error.to_string();
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    message.push_str(": ");
                    message.push_str(&cause.to_string());
                    source = cause.source();
                }
                message
            }
        };
        Self { message, kind }
    }
}

/// A backend's connection or transaction, as [`Sql`] drives it.
pub trait Backend {
    /// Run `sql` with `params`; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError>;
    /// Run `sql` with `params`; the rows it returned.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;
}

/// Statements against either backend.
pub struct Sql<'a> {
    backend: &'a mut dyn Backend,
}

impl std::fmt::Debug for Sql<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sql").finish_non_exhaustive()
    }
}

impl<'a> Sql<'a> {
    /// Statements run on `backend`.
    pub fn new(backend: &'a mut dyn Backend) -> Self {
        Self { backend }
    }

    /// Run `sql`; the number of rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        self.backend.execute(sql, params)
    }

    /// Every row `sql` returns, each read by `read`.
    pub fn query_map<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        read: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        self.backend.query(sql, params)?.iter().map(read).collect()
    }

    /// The first row `sql` returns, read by `read`, if there is one.
    pub fn query_opt<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        read: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        self.backend
            .query(sql, params)?
            .first()
            .map(read)
            .transpose()
    }

    /// The first row `sql` returns, read by `read`; an error of kind
    /// [`DbErrorKind::NoRows`] when there is none (see
    /// [`OptionalExtension::optional`]).
    pub fn query_row<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        read: impl FnOnce(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, read)?.ok_or(DbError {
            message: "the query returned no rows".to_owned(),
            kind: DbErrorKind::NoRows,
        })
    }

    /// A statement to run (several times) on this connection.
    pub fn prepare<'s>(&'s mut self, sql: &str) -> Result<Statement<'s, 'a>, DbError> {
        Ok(Statement {
            sql: sql.to_owned(),
            connection: self,
        })
    }

    /// [`Sql::prepare`]; both backends cache prepared statements.
    pub fn prepare_cached<'s>(&'s mut self, sql: &str) -> Result<Statement<'s, 'a>, DbError> {
        self.prepare(sql)
    }
}

/// A statement of a [`Sql`] connection.
pub struct Statement<'s, 'a> {
    sql: String,
    connection: &'s mut Sql<'a>,
}

impl std::fmt::Debug for Statement<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement").field("sql", &self.sql).finish()
    }
}

impl Statement<'_, '_> {
    /// Each row the statement returns with `params`, read by `read`.
    pub fn query_map<T>(
        &mut self,
        params: &[Value],
        read: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<std::vec::IntoIter<Result<T, DbError>>, DbError> {
        let rows = self.connection.backend.query(&self.sql, params)?;
        Ok(rows.iter().map(read).collect::<Vec<_>>().into_iter())
    }
}

/// `.optional()` on a one-row query: no row is `None`, not an error.
pub trait OptionalExtension<T> {
    /// `Ok(None)` for [`DbErrorKind::NoRows`].
    fn optional(self) -> Result<Option<T>, DbError>;
}

impl<T> OptionalExtension<T> for Result<T, DbError> {
    fn optional(self) -> Result<Option<T>, DbError> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.kind == DbErrorKind::NoRows => Ok(None),
            Err(error) => Err(error),
        }
    }
}

impl Backend for &rusqlite::Connection {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let mut statement = self.prepare_cached(sql)?;
        Ok(statement.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut statement = self.prepare_cached(sql)?;
        let columns: Arc<[String]> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let count = columns.len();
        let mut rows =
            statement.query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(count);
            for index in 0..count {
                values.push(match row.get_ref(index)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(integer) => Value::Integer(integer),
                    rusqlite::types::ValueRef::Text(text) => {
                        Value::Text(String::from_utf8_lossy(text).into_owned())
                    }
                    rusqlite::types::ValueRef::Real(real) => Value::Text(real.to_string()),
                    rusqlite::types::ValueRef::Blob(_) => {
                        return Err(DbError::other(format!(
                            "column `{}` holds a blob",
                            columns[index]
                        )));
                    }
                });
            }
            out.push(Row::new(Arc::clone(&columns), values));
        }
        Ok(out)
    }
}

fn sqlite_value(value: &Value) -> rusqlite::types::Value {
    match value {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(integer) => rusqlite::types::Value::Integer(*integer),
        Value::Text(text) => rusqlite::types::Value::Text(text.clone()),
    }
}

/// `sql` with SQLite's `?N` placeholders written as PostgreSQL's `$N`
/// (outside quoted text).
pub fn to_postgres_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                out.push('$');
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_numbered_dollars_outside_quotes() {
        assert_eq!(
            to_postgres_placeholders("SELECT '?' FROM t WHERE a = ?1 AND \"b?\" = ?12"),
            "SELECT '?' FROM t WHERE a = $1 AND \"b?\" = $12"
        );
    }

    #[test]
    fn a_row_reads_columns_by_name_and_position() -> Result<(), DbError> {
        let row = Row::new(
            vec!["pr".to_owned(), "url".to_owned()].into(),
            vec![Value::Integer(7), Value::Null],
        );
        assert_eq!(row.get::<_, u64>("pr")?, 7);
        assert_eq!(row.get::<_, Option<String>>(1)?, None);
        assert!(row.get::<_, String>("missing").is_err());
        assert!(row.get::<_, String>("url").is_err());
        Ok(())
    }

    #[test]
    fn negative_integers_do_not_read_as_unsigned() {
        assert!(u64::from_value(Value::Integer(-1)).is_err());
    }
}
