//! Environment locks: one pull request at a time may plan-and-apply an
//! environment of a repository.
//!
//! A lock is keyed by the repository's full name (`acme/infra`) and the
//! environment (`prod`), so one server can serve several repositories. The
//! pull request that holds it may lock again as it pushes new commits (the
//! lock follows its head); any other pull request is told who holds it.
//! Locks are released when a pull request is merged or closed
//! ([`State::unlock_pr`]), by the holder, or by force (an admin).

use std::time::SystemTime;

use super::db::{DbError, Row, params};
use super::{State, StateError, from_unix, to_unix};

/// Who holds a lock: a pull request, at a commit, on behalf of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The pull request's number.
    pub pr: u64,
    /// The pull request's web address, for "locked by #12" links.
    pub url: String,
    /// The commit the lock was last taken or refreshed at.
    pub head_sha: String,
    /// The login of the user whose command or push took the lock.
    pub user: String,
}

/// A held lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    /// The repository's full name (`acme/infra`).
    pub repo: String,
    /// The environment (`prod`).
    pub environment: String,
    /// Who holds it.
    pub holder: Holder,
    /// When the holder first took it (a refresh keeps this).
    pub acquired_at: SystemTime,
}

/// What [`State::lock`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// The environment was free; the pull request holds it now.
    Acquired,
    /// The same pull request already held it; its head commit, url and user
    /// were refreshed.
    AlreadyHeld,
    /// Another pull request holds it.
    HeldBy(Lock),
}

const COLUMNS: &str = "repo, environment, pr, url, head_sha, \"user\", acquired_at";

impl State {
    /// Lock `environment` of `repo` for `holder`'s pull request at `now`.
    ///
    /// Atomic: of two pull requests racing for a free environment, one gets
    /// [`LockOutcome::Acquired`] and the other [`LockOutcome::HeldBy`].
    pub fn lock(
        &self,
        repo: &str,
        environment: &str,
        holder: Holder,
        now: SystemTime,
    ) -> Result<LockOutcome, StateError> {
        self.write(
            || format!("lock environment `{environment}` of `{repo}`"),
            |transaction| {
                let current = transaction.query_opt(
                    &format!("SELECT {COLUMNS} FROM locks WHERE repo = ?1 AND environment = ?2"),
                    params![repo, environment],
                    lock_from_row,
                )?;
                match current {
                    None => {
                        transaction.execute(
                            &format!(
                                "INSERT INTO locks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                            ),
                            params![
                                repo,
                                environment,
                                holder.pr,
                                holder.url,
                                holder.head_sha,
                                holder.user,
                                to_unix(now)
                            ],
                        )?;
                        Ok(LockOutcome::Acquired)
                    }
                    Some(lock) if lock.holder.pr == holder.pr => {
                        transaction.execute(
                            "UPDATE locks SET url = ?3, head_sha = ?4, \"user\" = ?5 \
                             WHERE repo = ?1 AND environment = ?2",
                            params![repo, environment, holder.url, holder.head_sha, holder.user],
                        )?;
                        Ok(LockOutcome::AlreadyHeld)
                    }
                    Some(lock) => Ok(LockOutcome::HeldBy(lock)),
                }
            },
        )
    }

    /// Release the lock on `environment` of `repo`: only if pull request
    /// `pr` holds it, or whoever holds it when `pr` is `None` (a forced
    /// unlock, e.g. by an admin). `true` when a lock was released.
    pub fn unlock(
        &self,
        repo: &str,
        environment: &str,
        pr: Option<u64>,
    ) -> Result<bool, StateError> {
        self.with(
            || format!("unlock environment `{environment}` of `{repo}`"),
            |connection| {
                let released = connection.execute(
                    "DELETE FROM locks WHERE repo = ?1 AND environment = ?2 \
                     AND (CAST(?3 AS BIGINT) IS NULL OR pr = ?3)",
                    params![repo, environment, pr],
                )?;
                Ok(released > 0)
            },
        )
    }

    /// Release every lock pull request `pr` holds in `repo` (it was merged or
    /// closed): the environments released, sorted.
    pub fn unlock_pr(&self, repo: &str, pr: u64) -> Result<Vec<String>, StateError> {
        self.with(
            || format!("release the locks of pull request #{pr} of `{repo}`"),
            |connection| {
                let mut released = connection.query_map(
                    "DELETE FROM locks WHERE repo = ?1 AND pr = ?2 RETURNING environment",
                    params![repo, pr],
                    |row| row.get::<_, String>(0),
                )?;
                released.sort();
                Ok(released)
            },
        )
    }

    /// The lock on `environment` of `repo`, if one is held.
    pub fn lock_of(&self, repo: &str, environment: &str) -> Result<Option<Lock>, StateError> {
        self.with(
            || format!("read the lock of environment `{environment}` of `{repo}`"),
            |connection| {
                connection.query_opt(
                    &format!("SELECT {COLUMNS} FROM locks WHERE repo = ?1 AND environment = ?2"),
                    params![repo, environment],
                    lock_from_row,
                )
            },
        )
    }

    /// Every lock held in `repo`, by environment.
    pub fn locks(&self, repo: &str) -> Result<Vec<Lock>, StateError> {
        self.with(
            || format!("list the locks of `{repo}`"),
            |connection| {
                connection.query_map(
                    &format!("SELECT {COLUMNS} FROM locks WHERE repo = ?1 ORDER BY environment"),
                    params![repo],
                    lock_from_row,
                )
            },
        )
    }

    /// Every lock held, in every repository (the server's reconciliation on
    /// start looks for holders that were closed while it was down).
    pub fn all_locks(&self) -> Result<Vec<Lock>, StateError> {
        self.with(
            || "list every lock".to_owned(),
            |connection| {
                connection.query_map(
                    &format!("SELECT {COLUMNS} FROM locks ORDER BY repo, environment"),
                    params![],
                    lock_from_row,
                )
            },
        )
    }
}

fn lock_from_row(row: &Row) -> Result<Lock, DbError> {
    Ok(Lock {
        repo: row.get("repo")?,
        environment: row.get("environment")?,
        holder: Holder {
            pr: row.get("pr")?,
            url: row.get("url")?,
            head_sha: row.get("head_sha")?,
            user: row.get("user")?,
        },
        acquired_at: from_unix(row.get("acquired_at")?),
    })
}
