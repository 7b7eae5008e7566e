//! The state in PostgreSQL, for several `strata serve` replicas sharing it.
//!
//! - **Address:** `postgres://user@host:port/db?sslmode=…` (or
//!   `postgresql://`). A password not in the address comes from
//!   `STRATA_STATE_PASSWORD`, else the file `STRATA_STATE_PASSWORD_FILE`
//!   names, else `PGPASSWORD`. Errors and logs show the address without it.
//! - **TLS:** `sslmode=require` (and `verify-ca`/`verify-full`, which mean
//!   the same here) connects over TLS and verifies the server's certificate
//!   against the system's roots, plus the PEM file `sslrootcert=` or
//!   `STRATA_STATE_CA_FILE` names. `disable` and `prefer` (the default)
//!   connect in plain text.
//! - **Schema:** the same migrations as the SQLite file, translated
//!   ([`postgres_ddl`]), applied at start under a transaction-scoped
//!   advisory lock, so of several replicas starting together one migrates
//!   and the others find the work done. The version lives in
//!   `strata_schema`.
//! - **Writes** ([`super::State::write`]) take a second advisory lock for
//!   their transaction: writers take turns across replicas, as SQLite's
//!   immediate transactions make them take turns across processes.
//!
//! The client is the synchronous `postgres` crate, which runs its own small
//! runtime; called from inside the server's tokio runtime it would refuse to
//! nest, so such calls run on a scoped thread of their own ([`off_runtime`]).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Config, NoTls, Statement, Transaction};

use super::db::{Backend, DbError, Row, Sql, Value, to_postgres_placeholders};
use super::{MIGRATIONS, SCHEMA_VERSION, StateError};

/// The advisory lock migrations hold ("strata" in ASCII, then 1).
const MIGRATION_LOCK: i64 = 0x7374_7261_7461_0001;
/// The advisory lock write transactions hold.
const WRITE_LOCK: i64 = 0x7374_7261_7461_0002;
/// How long connecting may take, unless the address says `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `location` is a PostgreSQL address rather than a file path.
pub fn is_address(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// One connection to the server, reconnected when it breaks.
pub struct Connection {
    config: Config,
    tls: Option<rustls::ClientConfig>,
    client: Option<Client>,
    /// Statements prepared on `client`, by their SQLite-dialect text.
    statements: HashMap<String, Statement>,
    display: String,
}

impl Connection {
    /// Connect to `location` and migrate its schema; the connection and the
    /// address to show (without a password).
    pub fn open(location: &str) -> Result<(Self, String), StateError> {
        let display = redact(location);
        let address = |reason: String, help: &str| StateError::Address {
            address: display.clone(),
            reason,
            help: help.to_owned(),
        };
        let (location, root_cert) = take_option(location, "sslrootcert");
        let location = location
            .replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require");
        let mut config: Config = location.parse().map_err(|error: postgres::Error| {
            address(
                DbError::from(error).message,
                "write it as `postgres://USER@HOST:PORT/DATABASE`, with `?sslmode=require` \
                 for TLS; the password goes in STRATA_STATE_PASSWORD or \
                 STRATA_STATE_PASSWORD_FILE",
            )
        })?;
        if config.get_password().is_none()
            && let Some(password) = password_from_environment().map_err(|reason| {
                address(
                    reason,
                    "STRATA_STATE_PASSWORD_FILE names a file holding the password",
                )
            })?
        {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => {
                let ca = root_cert.or_else(|| std::env::var("STRATA_STATE_CA_FILE").ok());
                Some(tls_config(ca.as_deref()).map_err(|reason| {
                    address(
                        reason,
                        "`sslrootcert=` (or STRATA_STATE_CA_FILE) names a PEM file of the \
                         certificates that sign the server's",
                    )
                })?)
            }
            _ => None,
        };
        let mut connection = Self {
            config,
            tls,
            client: None,
            statements: HashMap::new(),
            display: display.clone(),
        };
        off_runtime(|| connection.migrate()).map_err(|error| StateError::Open {
            path: display.clone().into(),
            error,
        })?;
        Ok((connection, display))
    }

    /// The client, connecting (again) when there is none or it broke.
    fn client(&mut self) -> Result<&mut Client, DbError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            let client = match &self.tls {
                Some(tls) => self
                    .config
                    .connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls.clone())),
                None => self.config.connect(NoTls),
            }?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| DbError::other("no connection"))
    }

    fn migrate(&mut self) -> Result<(), DbError> {
        let shown = self.display.clone();
        let client = self.client()?;
        let mut transaction = client.transaction()?;
        transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        transaction
            .batch_execute("CREATE TABLE IF NOT EXISTS strata_schema (version BIGINT NOT NULL)")?;
        let found = match transaction.query_opt("SELECT version FROM strata_schema", &[])? {
            Some(row) => row.try_get::<_, i64>(0)?,
            None => {
                transaction.execute("INSERT INTO strata_schema (version) VALUES (0)", &[])?;
                0
            }
        };
        if !(0..=SCHEMA_VERSION).contains(&found) {
            return Err(DbError::other(format!(
                "it has schema version {found}, but this strata knows versions up to \
                 {SCHEMA_VERSION}; run the newer strata that wrote it (during a rolling \
                 upgrade, let the replicas of the new version take over)"
            )));
        }
        for (version, migration) in (1..).zip(MIGRATIONS) {
            if version > found {
                transaction.batch_execute(&postgres_ddl(migration))?;
            }
        }
        transaction.execute("UPDATE strata_schema SET version = $1", &[&SCHEMA_VERSION])?;
        transaction.commit()?;
        if found < SCHEMA_VERSION {
            tracing::info!(
                database = %shown,
                from = found,
                to = SCHEMA_VERSION,
                "migrated the state database"
            );
        }
        Ok(())
    }

    /// Run `work` in one transaction (holding the write lock when
    /// `exclusive`), committed when it succeeds.
    pub fn transaction<T: Send>(
        &mut self,
        exclusive: bool,
        work: impl FnOnce(&mut Sql<'_>) -> Result<T, DbError> + Send,
    ) -> Result<T, DbError> {
        off_runtime(move || {
            self.client()?;
            let Self {
                client, statements, ..
            } = self;
            let client = client
                .as_mut()
                .ok_or_else(|| DbError::other("no connection"))?;
            let mut transaction = client.transaction()?;
            if exclusive {
                transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            }
            let mut backend = PgBackend {
                transaction: &mut transaction,
                statements,
            };
            let value = work(&mut Sql::new(&mut backend))?;
            transaction.commit()?;
            Ok(value)
        })
    }
}

/// Run `work` where the synchronous client may block: on this thread
/// outside a tokio runtime, on a scoped thread of its own inside one.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

struct PgBackend<'a, 'b> {
    transaction: &'a mut Transaction<'b>,
    statements: &'a mut HashMap<String, Statement>,
}

impl PgBackend<'_, '_> {
    fn prepare(&mut self, sql: &str) -> Result<Statement, DbError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.transaction.prepare(&to_postgres_placeholders(sql))?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl Backend for PgBackend<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let statement = self.prepare(sql)?;
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let changed = self.transaction.execute(&statement, &refs)?;
        Ok(usize::try_from(changed).unwrap_or(usize::MAX))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let statement = self.prepare(sql)?;
        let params: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let columns: Arc<[String]> = statement
            .columns()
            .iter()
            .map(|column| column.name().to_owned())
            .collect();
        let mut out = Vec::new();
        for row in self.transaction.query(&statement, &refs)? {
            let mut values = Vec::with_capacity(columns.len());
            for (index, column) in statement.columns().iter().enumerate() {
                values.push(read(&row, index, column.type_(), column.name())?);
            }
            out.push(Row::new(Arc::clone(&columns), values));
        }
        Ok(out)
    }
}

fn read(row: &postgres::Row, index: usize, ty: &Type, name: &str) -> Result<Value, DbError> {
    let value = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map(Value::Integer),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)?
            .map(|v| Value::Integer(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(index)?
            .map(|v| Value::Integer(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(index)?
            .map(|v| Value::Integer(v.into())),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(index)?.map(Value::Text)
        }
        _ => {
            return Err(DbError::other(format!(
                "column `{name}` has type `{ty}`, which strata does not read"
            )));
        }
    };
    Ok(value.unwrap_or(Value::Null))
}

/// A [`Value`] bound to whatever type the server inferred for its
/// placeholder.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(integer) => match *ty {
                Type::INT8 => integer.to_sql(ty, out),
                Type::INT4 => i32::try_from(*integer)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*integer)?.to_sql(ty, out),
                Type::BOOL => (*integer != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => integer.to_string().to_sql(ty, out),
                _ => Err(format!("cannot bind an integer as `{ty}`").into()),
            },
            Value::Text(text) => match *ty {
                Type::INT8 => text.parse::<i64>()?.to_sql(ty, out),
                _ => text.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A migration written for SQLite, in PostgreSQL's words: 64-bit integers,
/// identity ids, byte-order text comparison (as SQLite sorts), and a
/// `rowid` in every table, as SQLite has, for reading in insertion order.
pub fn postgres_ddl(sqlite: &str) -> String {
    let sql = sqlite.replace(
        "INTEGER PRIMARY KEY",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    );
    let sql = regex::Regex::new(r"\bINTEGER\b")
        .map(|re| re.replace_all(&sql, "BIGINT").into_owned())
        .unwrap_or(sql);
    let sql = regex::Regex::new(r"\bTEXT\b")
        .map(|re| re.replace_all(&sql, "TEXT COLLATE \"C\"").into_owned())
        .unwrap_or(sql);
    regex::Regex::new(r"CREATE TABLE (\w+) \(")
        .map(|re| {
            re.replace_all(
                &sql,
                "CREATE TABLE $1 (\n        rowid       BIGINT GENERATED BY DEFAULT AS IDENTITY,",
            )
            .into_owned()
        })
        .unwrap_or(sql)
}

/// `location` with `postgres://user:secret@…` shown as `postgres://user@…`.
pub fn redact(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => location.to_owned(),
    }
}

/// `location` without its `name=value` query option, and the value.
fn take_option(location: &str, name: &str) -> (String, Option<String>) {
    let Some((base, query)) = location.split_once('?') else {
        return (location.to_owned(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((key, v)) if key == name => {
                value = Some(v.to_owned());
                false
            }
            _ => true,
        })
        .collect();
    if kept.is_empty() {
        (base.to_owned(), value)
    } else {
        (format!("{base}?{}", kept.join("&")), value)
    }
}

fn password_from_environment() -> Result<Option<String>, String> {
    if let Some(password) = std::env::var("STRATA_STATE_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty())
    {
        return Ok(Some(password));
    }
    if let Some(file) = std::env::var_os("STRATA_STATE_PASSWORD_FILE").filter(|f| !f.is_empty()) {
        let text = std::fs::read_to_string(&file).map_err(|error| {
            format!(
                "cannot read the password file `{}`: {error}",
                std::path::Path::new(&file).display()
            )
        })?;
        return Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()));
    }
    Ok(std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()))
}

fn tls_config(ca_file: Option<&str>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system certificate rustls cannot parse is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    if let Some(file) = ca_file {
        let pem = std::fs::read(file)
            .map_err(|error| format!("cannot read the certificate file `{file}`: {error}"))?;
        let mut added = 0;
        for cert in rustls_pki_types_certs(&pem)? {
            roots
                .add(cert)
                .map_err(|error| format!("a certificate in `{file}` is unusable: {error}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("`{file}` holds no PEM certificate"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
        .map_err(|error| format!("cannot set up TLS: {error}"))
}

fn rustls_pki_types_certs(
    pem: &[u8],
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("not a PEM certificate file: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_shown_without_its_password() {
        assert_eq!(
            redact("postgres://strata:hunter2@db.internal:5432/strata?sslmode=require"),
            "postgres://strata@db.internal:5432/strata?sslmode=require"
        );
        assert_eq!(
            redact("postgres://strata@127.0.0.1:5432/s"),
            "postgres://strata@127.0.0.1:5432/s"
        );
    }

    #[test]
    fn sqlite_migrations_translate_to_postgres_types() {
        let ddl = postgres_ddl(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, repo TEXT NOT NULL, pr INTEGER);",
        );
        assert_eq!(
            ddl,
            "CREATE TABLE runs (\n        rowid       BIGINT GENERATED BY DEFAULT AS IDENTITY,\
             id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \
             repo TEXT COLLATE \"C\" NOT NULL, pr BIGINT);"
        );
    }

    #[test]
    fn the_root_certificate_option_is_taken_out_of_the_address() {
        assert_eq!(
            take_option(
                "postgres://h/d?sslmode=require&sslrootcert=/ca.pem",
                "sslrootcert"
            ),
            (
                "postgres://h/d?sslmode=require".to_owned(),
                Some("/ca.pem".to_owned())
            )
        );
    }
}
