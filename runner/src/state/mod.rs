//! The server's memory: one SQLite file that survives restarts and crashes.
//!
//! `strata serve` and `strata watch` keep seven things here, each in its own submodule:
//!
//! | submodule | owns |
//! | --- | --- |
//! | [`deliveries`] | ids of webhook deliveries already handled (GitHub resends the same id) |
//! | [`locks`] | one lock per repository and environment, held by a pull request |
//! | [`plans`] | the last plan of each pull request and environment, as JSON text |
//! | [`runs`] | the history of plans and applies, with per-stack progress |
//! | [`deployed`] | per environment, the commit last applied, its templates' digests and the parameter overrides of that run |
//! | [`stages`] | workflow promotions: runs of a workflow at a commit, how each stage fared, and stages released by a command |
//! | [`watch`] | watched branches (last commit seen, a refused force-push, the last fetch), when schedules fired, the last drift check per environment |
//!
//! This module sits at the bottom of the layout: it knows nothing of GitHub,
//! AWS, wasmtime or the plan model. Plans and results arrive as JSON text or
//! plain fields; time arrives as a [`SystemTime`] (stored as unix seconds), so
//! callers and tests decide what "now" is.
//!
//! [`State`] is a cheap handle (`Clone + Send + Sync`) around one connection
//! behind a [`std::sync::Mutex`]: every call is a short, synchronous
//! statement or transaction, never held across an `.await`. The file is in WAL
//! mode with a busy timeout, so a second process (`strata` on the command line,
//! a restarted server) waits briefly instead of failing.
//!
//! The schema is versioned with `PRAGMA user_version` and only migrates
//! forwards: [`State::open`] applies the missing migrations in one
//! transaction and refuses a file written by a newer strata.

pub mod db;
pub mod deliveries;
pub mod deployed;
pub mod locks;
mod pg;
pub mod plans;
pub mod queue;
pub mod runs;
pub mod stages;
pub mod waiting;
pub mod watch;

use std::fmt;
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::sync::MutexGuard;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use db::{DbError, DbErrorKind, Sql, params};

pub use deployed::{Deployed, Override};
pub use locks::{Holder, Lock, LockOutcome};
pub use pg::{is_address, redact};
pub use plans::SavedPlan;
pub use queue::{Lease, QueuedJob, Replica, in_job};
pub use runs::{NewRun, Run, RunId, RunKind, RunStatus, StackRecord};
pub use stages::{NewPromotion, Promotion, StageRow, StageState};
pub use watch::{DriftRecord, Watch};

/// The schema version this strata writes; a file with a higher
/// `user_version` came from a newer strata and is refused.
pub const SCHEMA_VERSION: i64 = 5;

/// The schema, one step per version: `MIGRATIONS[n]` takes a database from
/// version `n` to `n + 1`. Append new steps; never edit a released one.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    r#"
    CREATE TABLE deliveries (
        id          TEXT PRIMARY KEY,
        event       TEXT NOT NULL,
        received_at INTEGER NOT NULL
    );
    CREATE INDEX deliveries_by_age ON deliveries (received_at);

    CREATE TABLE locks (
        repo        TEXT NOT NULL,
        environment TEXT NOT NULL,
        pr          INTEGER NOT NULL,
        url         TEXT NOT NULL,
        head_sha    TEXT NOT NULL,
        "user"      TEXT NOT NULL,
        acquired_at INTEGER NOT NULL,
        PRIMARY KEY (repo, environment)
    );
    CREATE INDEX locks_by_pr ON locks (repo, pr);

    CREATE TABLE plans (
        repo        TEXT NOT NULL,
        pr          INTEGER NOT NULL,
        environment TEXT NOT NULL,
        head_sha    TEXT NOT NULL,
        plan        TEXT NOT NULL,
        saved_at    INTEGER NOT NULL,
        PRIMARY KEY (repo, pr, environment)
    );

    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        repo        TEXT NOT NULL,
        pr          INTEGER,
        environment TEXT NOT NULL,
        head_sha    TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('plan', 'apply')),
        status      TEXT NOT NULL
                    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        comment_id  INTEGER,
        summary     TEXT
    );
    CREATE INDEX runs_by_pr ON runs (repo, pr);
    CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

    CREATE TABLE run_stacks (
        run         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        stack       TEXT NOT NULL,
        status      TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        reason      TEXT,
        PRIMARY KEY (run, stack)
    );
"#,
    r#"
    CREATE TABLE deployed (
        repo        TEXT NOT NULL,
        environment TEXT NOT NULL,
        commit_sha  TEXT NOT NULL,
        templates   TEXT NOT NULL,
        run         INTEGER,
        overrides   TEXT NOT NULL DEFAULT '[]',
        deployed_at INTEGER NOT NULL,
        PRIMARY KEY (repo, environment)
    );

    CREATE TABLE stages (
        repo        TEXT NOT NULL,
        workflow    TEXT NOT NULL,
        commit_sha  TEXT NOT NULL,
        stage       TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        pr          INTEGER,
        started_at  INTEGER NOT NULL,
        finished_at INTEGER,
        PRIMARY KEY (repo, workflow, commit_sha, stage)
    );

    CREATE TABLE stage_releases (
        repo        TEXT NOT NULL,
        workflow    TEXT NOT NULL,
        commit_sha  TEXT NOT NULL,
        stage       TEXT NOT NULL,
        "user"      TEXT NOT NULL,
        released_at INTEGER NOT NULL,
        PRIMARY KEY (repo, workflow, commit_sha, stage)
    );

    CREATE TABLE promotions (
        repo        TEXT NOT NULL,
        workflow    TEXT NOT NULL,
        commit_sha  TEXT NOT NULL,
        pr          INTEGER,
        branch      TEXT NOT NULL,
        clone_url   TEXT NOT NULL,
        base        TEXT NOT NULL,
        touched     TEXT NOT NULL DEFAULT '[]',
        inputs      TEXT NOT NULL DEFAULT '{}',
        dispatched  INTEGER NOT NULL DEFAULT 0,
        active      INTEGER NOT NULL DEFAULT 1,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (repo, workflow, commit_sha)
    );
    CREATE INDEX promotions_active ON promotions (repo, active);

    CREATE TABLE approvals (
        repo        TEXT NOT NULL,
        workflow    TEXT NOT NULL,
        commit_sha  TEXT NOT NULL,
        "user"      TEXT NOT NULL,
        approved_at INTEGER NOT NULL,
        PRIMARY KEY (repo, workflow, commit_sha, "user")
    );
"#,
    r#"
    CREATE TABLE watches (
        repo        TEXT NOT NULL,
        branch      TEXT NOT NULL,
        url         TEXT NOT NULL,
        last_seen   TEXT,
        refused     TEXT,
        polled_at   INTEGER,
        error       TEXT,
        PRIMARY KEY (repo, branch)
    );

    CREATE TABLE schedules (
        repo        TEXT NOT NULL,
        workflow    TEXT NOT NULL,
        schedule    INTEGER NOT NULL,
        fired_at    INTEGER NOT NULL,
        PRIMARY KEY (repo, workflow, schedule)
    );

    CREATE TABLE drift (
        repo        TEXT NOT NULL,
        environment TEXT NOT NULL,
        drifted     INTEGER NOT NULL,
        fingerprint TEXT NOT NULL,
        issue       INTEGER,
        report      TEXT NOT NULL,
        checked_at  INTEGER NOT NULL,
        PRIMARY KEY (repo, environment)
    );
"#,
    r#"
    CREATE TABLE waiting (
        repo           TEXT NOT NULL,
        environment    TEXT NOT NULL,
        pr             INTEGER NOT NULL,
        head_sha       TEXT NOT NULL,
        clone_url      TEXT NOT NULL,
        html_url       TEXT NOT NULL,
        base_ref       TEXT NOT NULL,
        default_branch TEXT NOT NULL,
        "user"         TEXT NOT NULL,
        since          INTEGER NOT NULL,
        PRIMARY KEY (repo, environment, pr)
    );
"#,
    // Replicas (PostgreSQL): the shared job queue, heartbeats, named
    // leases, and which replica started a run. Additive only, so a replica
    // of the previous version keeps working beside one of this version.
    r#"
    CREATE TABLE replicas (
        id          TEXT PRIMARY KEY,
        version     TEXT NOT NULL,
        host        TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        seen_at     INTEGER NOT NULL
    );

    CREATE TABLE jobs (
        id          INTEGER PRIMARY KEY,
        delivery    TEXT NOT NULL UNIQUE,
        event       TEXT NOT NULL,
        payload     TEXT NOT NULL,
        turn        TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done')),
        owner       TEXT,
        lease_until INTEGER,
        attempts    INTEGER NOT NULL DEFAULT 0,
        enqueued_at INTEGER NOT NULL,
        finished_at INTEGER
    );
    CREATE INDEX jobs_open ON jobs (turn, status, id);
    CREATE INDEX jobs_done ON jobs (status, finished_at);

    CREATE TABLE leases (
        name        TEXT PRIMARY KEY,
        owner       TEXT NOT NULL,
        lease_until INTEGER NOT NULL,
        acquired_at INTEGER NOT NULL
    );

    ALTER TABLE runs ADD COLUMN owner TEXT;
    ALTER TABLE runs ADD COLUMN job INTEGER;
"#,
];

/// How long a call waits for another process's write before it gives up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`State::in_memory`] reports as its path.
const IN_MEMORY: &str = ":memory:";

/// The state database: a handle to one SQLite file (or an in-memory database
/// for tests), or to a PostgreSQL database that several replicas share.
/// Clones share the connection.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
    /// The replica this handle works for: the runs it starts are its own.
    owner: Option<Arc<str>>,
}

struct Inner {
    /// The file, or the PostgreSQL address without its password.
    path: PathBuf,
    engine: Engine,
}

/// A `std` mutex around each connection: every section is one short
/// statement or transaction, and no caller holds it across an `.await`.
enum Engine {
    Sqlite(Mutex<Connection>),
    Postgres(Box<Mutex<pg::Connection>>),
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

/// Why the state database could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The directory the database lives in could not be created.
    #[error("cannot create the directory `{}` for the state database: {error}", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// What the filesystem said.
        error: std::io::Error,
    },
    /// The file exists but is not an SQLite database.
    #[error("cannot open the state database `{}`: file is not a database", path.display())]
    NotADatabase {
        /// The database file.
        path: PathBuf,
    },
    /// A newer strata wrote the file (or something set a schema version no
    /// strata writes); this one does not know its schema.
    #[error(
        "cannot open the state database `{}`: it has schema version {found}, \
         but this strata knows versions up to {supported}",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The file's schema version.
        found: i64,
        /// The newest version this strata knows ([`SCHEMA_VERSION`]).
        supported: i64,
    },
    /// Opening, configuring or migrating the file failed.
    #[error("cannot open the state database `{}`: {error}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// What the database said.
        error: DbError,
    },
    /// The `--state` address is not one strata can use.
    #[error("cannot use the state database `{address}`: {reason}")]
    Address {
        /// The address, without its password.
        address: String,
        /// What is wrong with it.
        reason: String,
        /// What to do about it.
        help: String,
    },
    /// A read or write failed.
    #[error("cannot {action} in the state database `{}`: {error}", path.display())]
    Query {
        /// The database file.
        path: PathBuf,
        /// What was being done, with its subject ("lock environment `prod` of `acme/infra`").
        action: String,
        /// What the database said.
        error: DbError,
    },
    /// A run id the database does not hold.
    #[error("no run `{run}` in the state database `{}`", path.display())]
    UnknownRun {
        /// The database file.
        path: PathBuf,
        /// The id asked for.
        run: RunId,
    },
    /// [`State::finish_run`] was asked to finish a run as still running.
    #[error("cannot finish run `{run}` as `running`")]
    StillRunning {
        /// The run.
        run: RunId,
    },
}

impl StateError {
    /// What to do about it, when there is something to say: shown on its own
    /// `help:` line.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::NotADatabase { path } => Some(format!(
                "strata keeps its locks and run history there; move `{}` aside (or choose \
                 another path) and strata creates a new, empty state database",
                path.display()
            )),
            Self::TooNew { .. } => Some(
                "run the newer strata that wrote it (during a rolling upgrade, let the \
                 replicas of the new version take over), or move the file aside to start \
                 with empty state"
                    .to_owned(),
            ),
            Self::Address { help, .. } => Some(help.clone()),
            Self::StillRunning { .. } => {
                Some("finish a run as `succeeded`, `failed` or `interrupted`".to_owned())
            }
            Self::Open { error, .. } if error.message.contains("invalid peer certificate") => Some(
                "no CA strata trusts signed the server's certificate: name the CA's PEM \
                     file with `sslrootcert=` in the address or STRATA_STATE_CA_FILE (the \
                     system's roots are trusted too)"
                    .to_owned(),
            ),
            Self::Query { error, .. } | Self::Open { error, .. } => match error.kind {
                DbErrorKind::Busy => {
                    Some("another process holds the database; retry once it is done".to_owned())
                }
                DbErrorKind::Connection => Some(
                    "the PostgreSQL server closed the connection; strata reconnects on the \
                     next call"
                        .to_owned(),
                ),
                DbErrorKind::NotADatabase | DbErrorKind::NoRows | DbErrorKind::Other => None,
            },
            Self::CreateDir { .. } | Self::UnknownRun { .. } => None,
        }
    }
}

impl State {
    /// Open the state database `location` names: a `postgres://` (or
    /// `postgresql://`) address, or the path of an SQLite file.
    pub fn connect(location: &str) -> Result<Self, StateError> {
        if pg::is_address(location) {
            let (connection, display) = pg::Connection::open(location)?;
            Ok(Self {
                inner: Arc::new(Inner {
                    path: PathBuf::from(display),
                    engine: Engine::Postgres(Box::new(Mutex::new(connection))),
                }),
                owner: None,
            })
        } else {
            Self::open(Path::new(location))
        }
    }

    /// Open (or create) the database at `path`, creating its parent
    /// directories, and bring its schema up to [`SCHEMA_VERSION`].
    ///
    /// Refuses a file that is not an SQLite database
    /// ([`StateError::NotADatabase`]) and one written by a newer strata
    /// ([`StateError::TooNew`]); neither is modified.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| StateError::CreateDir {
                dir: dir.to_path_buf(),
                error,
            })?;
        }
        let opening = |error: rusqlite::Error| opening_error(path, error.into());
        let mut connection = Connection::open(path).map_err(opening)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(opening)?;
        use_wal(&connection, path).map_err(opening)?;
        Self::prepare(&mut connection, path)?;
        Ok(Self::wrap(connection, path.to_path_buf()))
    }

    /// A fresh database that lives in memory and vanishes with its last
    /// clone: for tests.
    pub fn in_memory() -> Result<Self, StateError> {
        let path = PathBuf::from(IN_MEMORY);
        let mut connection =
            Connection::open_in_memory().map_err(|error| opening_error(&path, error.into()))?;
        Self::prepare(&mut connection, &path)?;
        Ok(Self::wrap(connection, path))
    }

    /// Where the database lives (`:memory:` for [`State::in_memory`]; the
    /// address without its password for PostgreSQL).
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Whether several processes may share this database as replicas
    /// (PostgreSQL); an SQLite file serves one server process.
    pub fn is_shared(&self) -> bool {
        matches!(self.inner.engine, Engine::Postgres(_))
    }

    fn wrap(connection: Connection, path: PathBuf) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                engine: Engine::Sqlite(Mutex::new(connection)),
            }),
            owner: None,
        }
    }

    /// This database, for replica `id`: the runs started through the handle
    /// record it as their owner, so another replica can take them over
    /// when it dies ([`State::orphaned_runs`]). Shares the connection.
    pub fn for_replica(&self, id: &str) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            owner: Some(Arc::from(id)),
        }
    }

    /// The replica this handle works for, if any.
    pub fn replica(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// Foreign keys on, schema migrated.
    fn prepare(connection: &mut Connection, path: &Path) -> Result<(), StateError> {
        let opening = |error: rusqlite::Error| opening_error(path, error.into());
        connection
            .pragma_update(None, "foreign_keys", true)
            .map_err(opening)?;
        let found = user_version(connection).map_err(opening)?;
        if found == SCHEMA_VERSION {
            return Ok(());
        }
        refuse_newer(path, found)?;
        // Another process may be migrating the same file: take the write
        // lock first, then look again.
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(opening)?;
        let found = user_version(&transaction).map_err(opening)?;
        refuse_newer(path, found)?;
        for (version, migration) in (1..).zip(MIGRATIONS) {
            if version > found {
                transaction.execute_batch(migration).map_err(opening)?;
            }
        }
        transaction
            .pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(opening)?;
        transaction.commit().map_err(opening)?;
        if found < SCHEMA_VERSION {
            tracing::info!(
                path = %path.display(),
                from = found,
                to = SCHEMA_VERSION,
                "migrated the state database"
            );
        }
        Ok(())
    }

    /// Run `work` on the database; a failure names `action` and the path.
    /// Single statements are atomic; several that must be are written with
    /// [`State::write`].
    fn with<T: Send>(
        &self,
        action: impl FnOnce() -> String,
        work: impl FnOnce(&mut Sql<'_>) -> Result<T, DbError> + Send,
    ) -> Result<T, StateError> {
        self.transact(false, work)
            .map_err(|error| self.query_error(action, error))
    }

    /// [`State::with`] inside one transaction that holds the database's
    /// write lock, committed when `work` succeeds and rolled back otherwise.
    /// Writers take turns, across threads and processes (SQLite's immediate
    /// transaction; PostgreSQL's transaction-scoped advisory lock), so a
    /// read-then-write inside `work` is never raced.
    fn write<T: Send>(
        &self,
        action: impl FnOnce() -> String,
        work: impl FnOnce(&mut Sql<'_>) -> Result<T, DbError> + Send,
    ) -> Result<T, StateError> {
        self.transact(true, work)
            .map_err(|error| self.query_error(action, error))
    }

    fn transact<T: Send>(
        &self,
        exclusive: bool,
        work: impl FnOnce(&mut Sql<'_>) -> Result<T, DbError> + Send,
    ) -> Result<T, DbError> {
        match &self.inner.engine {
            Engine::Sqlite(connection) => {
                // A panic in an earlier call poisons the mutex, but the
                // connection stays sound (an unfinished transaction rolls
                // back when dropped), so the lock is taken back.
                let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
                if exclusive {
                    let transaction =
                        connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    let mut backend: &Connection = &transaction;
                    let value = work(&mut Sql::new(&mut backend))?;
                    transaction.commit()?;
                    Ok(value)
                } else {
                    let mut backend: &Connection = &connection;
                    work(&mut Sql::new(&mut backend))
                }
            }
            Engine::Postgres(connection) => {
                let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
                connection.transaction(exclusive, work)
            }
        }
    }

    fn query_error(&self, action: impl FnOnce() -> String, error: DbError) -> StateError {
        StateError::Query {
            path: self.inner.path.clone(),
            action: action(),
            error,
        }
    }

    /// Whether the database answers a trivial query (`/healthz`); why not,
    /// in words, otherwise.
    pub fn ping(&self) -> Result<(), String> {
        self.transact(false, |sql| {
            sql.query_row("SELECT 1", params![], |_| Ok(()))
        })
        .map_err(|error| {
            format!(
                "the state database `{}` does not answer: {error}",
                self.inner.path.display()
            )
        })
    }

    /// The SQLite connection, for tests that reach under the interface.
    #[cfg(test)]
    fn connection(&self) -> MutexGuard<'_, Connection> {
        match &self.inner.engine {
            Engine::Sqlite(connection) => connection.lock().unwrap_or_else(PoisonError::into_inner),
            Engine::Postgres(_) => panic!("not an SQLite state database"),
        }
    }
}

/// Put the file in WAL mode (readers never wait for the writer), once: the
/// mode is a property of the file, so later opens find it set and take no
/// lock.
///
/// The switch needs the file to itself, and SQLite does not run the busy
/// handler for it: when several processes open a new file at once, the
/// losers get `SQLITE_BUSY` straight away. They retry here, with backoff,
/// within [`BUSY_TIMEOUT`].
fn use_wal(connection: &Connection, path: &Path) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        if mode.eq_ignore_ascii_case("wal") {
            return Ok(());
        }
        match connection.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                // A filesystem without shared memory, say: still correct,
                // only readers wait for the writer.
                tracing::warn!(path = %path.display(), journal_mode = %mode, "the state database is not in WAL mode");
                return Ok(());
            }
            Err(error)
                if error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(error) => return Err(error),
        }
    }
}

fn user_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn refuse_newer(path: &Path, found: i64) -> Result<(), StateError> {
    if !(0..=SCHEMA_VERSION).contains(&found) {
        return Err(StateError::TooNew {
            path: path.to_path_buf(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

fn opening_error(path: &Path, error: DbError) -> StateError {
    if error.kind == DbErrorKind::NotADatabase {
        StateError::NotADatabase {
            path: path.to_path_buf(),
        }
    } else {
        StateError::Open {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// Seconds since the unix epoch, as stored; times before 1970 store as 0.
fn to_unix(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    })
}

/// The time stored as `seconds` since the unix epoch.
fn from_unix(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn times_round_trip_through_unix_seconds() {
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(to_unix(time), 1_700_000_000);
        assert_eq!(from_unix(to_unix(time)), time);
    }

    #[test]
    fn times_before_the_epoch_store_as_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(to_unix(before), 0);
        assert_eq!(from_unix(-10), UNIX_EPOCH);
    }

    #[test]
    fn a_new_database_gets_the_current_schema_version() -> TestResult {
        let state = State::in_memory()?;
        let version = user_version(&state.connection())?;
        assert_eq!(version, SCHEMA_VERSION);
        Ok(())
    }

    #[test]
    fn foreign_keys_are_enforced() -> TestResult {
        let state = State::in_memory()?;
        let on: bool = state
            .connection()
            .pragma_query_value(None, "foreign_keys", |row| row.get(0))?;
        assert!(on);
        Ok(())
    }

    #[test]
    fn a_database_from_an_older_schema_is_migrated_forwards() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.db");
        // Version 0: an empty SQLite file, as an interrupted first start leaves.
        Connection::open(&path)?.execute_batch("CREATE TABLE unrelated (x INTEGER)")?;
        let state = State::open(&path)?;
        assert_eq!(user_version(&state.connection())?, SCHEMA_VERSION);
        assert!(state.record_delivery("d-1", "ping", UNIX_EPOCH)?);
        Ok(())
    }

    #[test]
    fn a_negative_schema_version_is_refused() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("state.db");
        Connection::open(&path)?.pragma_update(None, "user_version", -1)?;
        let refused = State::open(&path);
        assert!(
            matches!(refused, Err(StateError::TooNew { found: -1, .. })),
            "{refused:?}"
        );
        Ok(())
    }
}
