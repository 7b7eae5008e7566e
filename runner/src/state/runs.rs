//! Run history: every plan and apply the server started, how it ended, and
//! (for applies) how each stack fared.
//!
//! A run starts as [`RunStatus::Running`] and is finished once. Applies
//! report progress per stack as they go ([`State::record_stack`] replaces a
//! stack's record), so a crash leaves the last known state of every stack on
//! disk. On start the server lists [`State::unfinished_runs`], the runs a
//! previous process never finished, and reports them as interrupted.

use std::fmt;
use std::time::SystemTime;

use super::db::{DbError, FromValue, OptionalExtension, Row, Sql, ToValue, Value, params};

use super::{State, StateError, from_unix, to_unix};

/// A run's id, unique within one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId(pub i64);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    /// Render and diff, change nothing.
    Plan,
    /// Deploy a plan.
    Apply,
}

impl RunKind {
    /// The word stored and shown: `plan`, `apply`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::Apply => "apply",
        }
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Started and not finished (or its process died: see
    /// [`State::unfinished_runs`]).
    Running,
    /// Finished, and did what it set out to do.
    Succeeded,
    /// Finished with an error (a rejected plan, a failed stack).
    Failed,
    /// Stopped before it finished: a shutdown, a crash.
    Interrupted,
}

impl RunStatus {
    /// The word stored and shown: `running`, `succeeded`, `failed`,
    /// `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run about to start: what [`State::start_run`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRun {
    /// The repository's full name (`acme/infra`).
    pub repo: String,
    /// The pull request it runs for; `None` for a push to a branch.
    pub pr: Option<u64>,
    /// The environment (`prod`).
    pub environment: String,
    /// The commit it runs at.
    pub head_sha: String,
    /// Plan or apply.
    pub kind: RunKind,
    /// The pull-request comment that shows its progress, when there is one.
    pub comment_id: Option<u64>,
}

/// How one stack of a run fared (applies report these as they go).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRecord {
    /// The stack's name in the environment file.
    pub stack: String,
    /// Its status as the deployer words it (`UPDATE_IN_PROGRESS`, `done`, ...).
    pub status: String,
    /// When work on it started.
    pub started_at: SystemTime,
    /// When it finished, once it has.
    pub finished_at: Option<SystemTime>,
    /// Why it failed or was skipped, when it did.
    pub reason: Option<String>,
}

/// A run, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The repository's full name (`acme/infra`).
    pub repo: String,
    /// The pull request it ran for; `None` for a push to a branch.
    pub pr: Option<u64>,
    /// The environment (`prod`).
    pub environment: String,
    /// The commit it ran at.
    pub head_sha: String,
    /// Plan or apply.
    pub kind: RunKind,
    /// Where it is.
    pub status: RunStatus,
    /// When it started.
    pub started_at: SystemTime,
    /// When it finished, once it has.
    pub finished_at: Option<SystemTime>,
    /// The pull-request comment that shows its progress, when there is one.
    pub comment_id: Option<u64>,
    /// A one-paragraph account of how it ended, once it has.
    pub summary: Option<String>,
    /// Its stacks, in the order they were first recorded.
    pub stacks: Vec<StackRecord>,
}

pub(super) const COLUMNS: &str = "id, repo, pr, environment, head_sha, kind, status, started_at, \
                       finished_at, comment_id, summary";

impl State {
    /// Record that `run` started at `now`, as [`RunStatus::Running`].
    pub fn start_run(&self, run: NewRun, now: SystemTime) -> Result<RunId, StateError> {
        let owner = self.replica();
        let job = super::queue::current_job();
        self.with(
            || {
                format!(
                    "start a {} run of environment `{}` of `{}`",
                    run.kind, run.environment, run.repo
                )
            },
            |connection| {
                connection.query_row(
                    "INSERT INTO runs (repo, pr, environment, head_sha, kind, status, \
                     started_at, comment_id, owner, job) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     RETURNING id",
                    params![
                        run.repo,
                        run.pr,
                        run.environment,
                        run.head_sha,
                        run.kind,
                        RunStatus::Running,
                        to_unix(now),
                        run.comment_id,
                        owner,
                        job
                    ],
                    |row| row.get("id"),
                )
            },
        )
    }

    /// Record how `record.stack` of `run` fares, replacing what was recorded
    /// for that stack before (its place in [`Run::stacks`] stays).
    pub fn record_stack(&self, run: RunId, record: StackRecord) -> Result<(), StateError> {
        let known = self.write(
            || format!("record stack `{}` of run `{run}`", record.stack),
            |transaction| {
                if !run_exists(transaction, run)? {
                    return Ok(false);
                }
                transaction.execute(
                    "INSERT INTO run_stacks (run, stack, status, started_at, finished_at, reason) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (run, stack) DO UPDATE SET status = excluded.status, \
                     started_at = excluded.started_at, finished_at = excluded.finished_at, \
                     reason = excluded.reason",
                    params![
                        run,
                        record.stack,
                        record.status,
                        to_unix(record.started_at),
                        record.finished_at.map(to_unix),
                        record.reason
                    ],
                )?;
                Ok(true)
            },
        )?;
        self.known(run, known)
    }

    /// Record that `run` ended at `now` with `status` (not
    /// [`RunStatus::Running`]) and an optional `summary`. Finishing a run
    /// again replaces how it ended.
    pub fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        summary: Option<String>,
        now: SystemTime,
    ) -> Result<(), StateError> {
        if status == RunStatus::Running {
            return Err(StateError::StillRunning { run });
        }
        let finished = self.with(
            || format!("finish run `{run}` as `{status}`"),
            |connection| {
                connection.execute(
                    "UPDATE runs SET status = ?2, summary = ?3, finished_at = ?4 WHERE id = ?1",
                    params![run, status, summary, to_unix(now)],
                )
            },
        )?;
        self.known(run, finished > 0)
    }

    /// Remember the pull-request comment that shows `run`'s progress, when it
    /// was posted after the run started.
    pub fn set_run_comment(&self, run: RunId, comment_id: u64) -> Result<(), StateError> {
        let updated = self.with(
            || format!("set the comment of run `{run}`"),
            |connection| {
                connection.execute(
                    "UPDATE runs SET comment_id = ?2 WHERE id = ?1",
                    params![run, comment_id],
                )
            },
        )?;
        self.known(run, updated > 0)
    }

    /// The run `id`, with its stacks.
    pub fn run(&self, id: RunId) -> Result<Option<Run>, StateError> {
        self.with(
            || format!("read run `{id}`"),
            |connection| {
                let run = connection
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM runs WHERE id = ?1"),
                        params![id],
                        run_from_row,
                    )
                    .optional()?;
                run.map(|run| with_stacks(connection, run)).transpose()
            },
        )
    }

    /// Every run of pull request `pr` of `repo`, oldest first, with their
    /// stacks.
    pub fn runs(&self, repo: &str, pr: u64) -> Result<Vec<Run>, StateError> {
        self.with(
            || format!("list the runs of pull request #{pr} of `{repo}`"),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {COLUMNS} FROM runs WHERE repo = ?1 AND pr = ?2 ORDER BY id"
                ))?;
                let runs = statement
                    .query_map(params![repo, pr], run_from_row)?
                    .collect::<Result<Vec<_>, DbError>>()?;
                runs.into_iter()
                    .map(|run| with_stacks(connection, run))
                    .collect()
            },
        )
    }

    /// Every run still [`RunStatus::Running`], in every repository, oldest
    /// first. Called when the server starts, these are the runs a previous
    /// process never finished.
    pub fn unfinished_runs(&self) -> Result<Vec<Run>, StateError> {
        self.with(
            || "list the unfinished runs".to_owned(),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {COLUMNS} FROM runs WHERE status = ?1 ORDER BY id"
                ))?;
                let runs = statement
                    .query_map(params![RunStatus::Running], run_from_row)?
                    .collect::<Result<Vec<_>, DbError>>()?;
                runs.into_iter()
                    .map(|run| with_stacks(connection, run))
                    .collect()
            },
        )
    }

    /// The apply runs of `environment` of `repo` at `commit` that are running
    /// or succeeded, oldest first: a merge and the push it makes both ask to
    /// apply the same commit, and only the first should.
    pub fn applies_at(
        &self,
        repo: &str,
        environment: &str,
        commit: &str,
    ) -> Result<Vec<Run>, StateError> {
        self.with(
            || format!("list the applies of environment `{environment}` of `{repo}` at `{commit}`"),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {COLUMNS} FROM runs WHERE repo = ?1 AND environment = ?2 \
                     AND head_sha = ?3 AND kind = ?4 AND status IN (?5, ?6) ORDER BY id"
                ))?;
                let runs = statement
                    .query_map(
                        params![
                            repo,
                            environment,
                            commit,
                            RunKind::Apply,
                            RunStatus::Running,
                            RunStatus::Succeeded
                        ],
                        run_from_row,
                    )?
                    .collect::<Result<Vec<_>, DbError>>()?;
                runs.into_iter()
                    .map(|run| with_stacks(connection, run))
                    .collect()
            },
        )
    }

    /// `Ok` when the statement found `run`, else [`StateError::UnknownRun`].
    fn known(&self, run: RunId, found: bool) -> Result<(), StateError> {
        if found {
            Ok(())
        } else {
            Err(StateError::UnknownRun {
                path: self.path().to_path_buf(),
                run,
            })
        }
    }
}

pub(super) fn run_exists(connection: &mut Sql<'_>, run: RunId) -> Result<bool, DbError> {
    connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1)",
        params![run],
        |row| row.get(0),
    )
}

pub(super) fn with_stacks(connection: &mut Sql<'_>, mut run: Run) -> Result<Run, DbError> {
    let mut statement = connection.prepare_cached(
        "SELECT stack, status, started_at, finished_at, reason FROM run_stacks \
         WHERE run = ?1 ORDER BY rowid",
    )?;
    run.stacks = statement
        .query_map(params![run.id], stack_from_row)?
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(run)
}

pub(super) fn run_from_row(row: &Row) -> Result<Run, DbError> {
    Ok(Run {
        id: row.get("id")?,
        repo: row.get("repo")?,
        pr: row.get("pr")?,
        environment: row.get("environment")?,
        head_sha: row.get("head_sha")?,
        kind: row.get("kind")?,
        status: row.get("status")?,
        started_at: from_unix(row.get("started_at")?),
        finished_at: row.get::<_, Option<i64>>("finished_at")?.map(from_unix),
        comment_id: row.get("comment_id")?,
        summary: row.get("summary")?,
        stacks: Vec::new(),
    })
}

fn stack_from_row(row: &Row) -> Result<StackRecord, DbError> {
    Ok(StackRecord {
        stack: row.get("stack")?,
        status: row.get("status")?,
        started_at: from_unix(row.get("started_at")?),
        finished_at: row.get::<_, Option<i64>>("finished_at")?.map(from_unix),
        reason: row.get("reason")?,
    })
}

impl ToValue for RunId {
    fn to_value(&self) -> Value {
        Value::Integer(self.0)
    }
}

impl FromValue for RunId {
    fn from_value(value: Value) -> Result<Self, String> {
        i64::from_value(value).map(Self)
    }
}

impl ToValue for RunKind {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_owned())
    }
}

impl FromValue for RunKind {
    fn from_value(value: Value) -> Result<Self, String> {
        match String::from_value(value)?.as_str() {
            "plan" => Ok(Self::Plan),
            "apply" => Ok(Self::Apply),
            other => Err(unknown_word("run kind", other)),
        }
    }
}

impl ToValue for RunStatus {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_owned())
    }
}

impl FromValue for RunStatus {
    fn from_value(value: Value) -> Result<Self, String> {
        match String::from_value(value)?.as_str() {
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            "interrupted" => Ok(Self::Interrupted),
            other => Err(unknown_word("run status", other)),
        }
    }
}

fn unknown_word(what: &str, word: &str) -> String {
    format!("unknown {what} `{word}`")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn apply(pr: Option<u64>) -> NewRun {
        NewRun {
            repo: "acme/infra".to_owned(),
            pr,
            environment: "prod".to_owned(),
            head_sha: "a".repeat(40),
            kind: RunKind::Apply,
            comment_id: None,
        }
    }

    #[test]
    fn kinds_and_statuses_read_back_as_written() -> TestResult {
        let state = State::in_memory()?;
        for (kind, status) in [
            (RunKind::Plan, RunStatus::Succeeded),
            (RunKind::Apply, RunStatus::Failed),
            (RunKind::Plan, RunStatus::Interrupted),
        ] {
            let id = state.start_run(
                NewRun {
                    kind,
                    ..apply(Some(1))
                },
                at(10),
            )?;
            state.finish_run(id, status, None, at(20))?;
            let run = state.run(id)?.ok_or("run vanished")?;
            assert_eq!((run.kind, run.status), (kind, status));
        }
        Ok(())
    }

    #[test]
    fn an_unknown_status_in_the_file_is_an_error_naming_it() -> TestResult {
        let state = State::in_memory()?;
        let id = state.start_run(apply(None), at(10))?;
        // Bypass the CHECK constraint, as a hand edit or a future version could.
        state.connection().execute_batch(
            "PRAGMA ignore_check_constraints = ON; UPDATE runs SET status = 'paused'",
        )?;
        let error = state.run(id).err().ok_or("a `paused` run was read")?;
        let message = error.to_string();
        assert!(message.contains("unknown run status `paused`"), "{message}");
        assert!(message.contains(&format!("read run `{id}`")), "{message}");
        Ok(())
    }

    #[test]
    fn a_run_without_a_pull_request_keeps_none() -> TestResult {
        let state = State::in_memory()?;
        let id = state.start_run(apply(None), at(10))?;
        assert_eq!(state.run(id)?.ok_or("run vanished")?.pr, None);
        Ok(())
    }
}
