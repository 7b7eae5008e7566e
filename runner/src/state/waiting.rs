//! Pull requests waiting for a lock: an environment another pull request
//! holds is left out of a plan, and the pull request is remembered here, so
//! that when the lock is released it is planned again without anyone asking.

use std::time::SystemTime;

use super::db::{DbError, Row, params};

use super::{State, StateError, from_unix, to_unix};

/// A pull request left out of an environment's plan by a lock, with what it
/// takes to plan it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiter {
    /// The environment it waits for.
    pub environment: String,
    /// The pull request.
    pub pr: u64,
    /// Its head commit when it was planned.
    pub head_sha: String,
    /// Where the repository is fetched from.
    pub clone_url: String,
    /// The pull request's page.
    pub html_url: String,
    /// The branch it merges into.
    pub base_ref: String,
    /// The repository's default branch.
    pub default_branch: String,
    /// Who asked for the plan.
    pub user: String,
    /// Since when it waits.
    pub since: SystemTime,
}

const COLUMNS: &str =
    "environment, pr, head_sha, clone_url, html_url, base_ref, default_branch, \"user\", since";

impl State {
    /// Pull request `waiter.pr` of `repo` waits for `waiter.environment`.
    pub fn wait_for_lock(&self, repo: &str, waiter: &Waiter) -> Result<(), StateError> {
        self.write(
            || {
                format!(
                    "remember that #{} waits for `{}` of `{repo}`",
                    waiter.pr, waiter.environment
                )
            },
            |transaction| {
                transaction.execute(
                    &format!(
                        "INSERT INTO waiting (repo, {COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                         ON CONFLICT (repo, environment, pr) DO UPDATE SET \
                         head_sha = excluded.head_sha, clone_url = excluded.clone_url, \
                         html_url = excluded.html_url, base_ref = excluded.base_ref, \
                         default_branch = excluded.default_branch, \"user\" = excluded.\"user\", \
                         since = excluded.since"
                    ),
                    params![
                        repo,
                        waiter.environment,
                        waiter.pr,
                        waiter.head_sha,
                        waiter.clone_url,
                        waiter.html_url,
                        waiter.base_ref,
                        waiter.default_branch,
                        waiter.user,
                        to_unix(waiter.since)
                    ],
                )?;
                Ok(())
            },
        )
    }

    /// Pull request `pr` of `repo` waits for nothing (it was planned again,
    /// or it was closed).
    pub fn stop_waiting(&self, repo: &str, pr: u64) -> Result<(), StateError> {
        self.write(
            || format!("forget what #{pr} of `{repo}` waits for"),
            |transaction| {
                transaction.execute(
                    "DELETE FROM waiting WHERE repo = ?1 AND pr = ?2",
                    params![repo, pr],
                )?;
                Ok(())
            },
        )
    }

    /// Who waits for any of `environments` of `repo`, oldest first, one row
    /// per pull request and environment.
    pub fn waiting_for(
        &self,
        repo: &str,
        environments: &[String],
    ) -> Result<Vec<Waiter>, StateError> {
        self.with(
            || format!("list who waits for locks of `{repo}`"),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {COLUMNS} FROM waiting WHERE repo = ?1 ORDER BY since, pr, environment"
                ))?;
                let rows = statement.query_map(params![repo], waiter_from_row)?;
                let mut waiters = Vec::new();
                for row in rows {
                    let waiter = row?;
                    if environments.contains(&waiter.environment) {
                        waiters.push(waiter);
                    }
                }
                Ok(waiters)
            },
        )
    }
}

fn waiter_from_row(row: &Row) -> Result<Waiter, DbError> {
    Ok(Waiter {
        environment: row.get(0)?,
        pr: row.get(1)?,
        head_sha: row.get(2)?,
        clone_url: row.get(3)?,
        html_url: row.get(4)?,
        base_ref: row.get(5)?,
        default_branch: row.get(6)?,
        user: row.get(7)?,
        since: from_unix(row.get(8)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(environment: &str, pr: u64, since: u64) -> Waiter {
        Waiter {
            environment: environment.to_owned(),
            pr,
            head_sha: "a".repeat(40),
            clone_url: "https://github.com/acme/infra.git".to_owned(),
            html_url: format!("https://github.com/acme/infra/pull/{pr}"),
            base_ref: "main".to_owned(),
            default_branch: "main".to_owned(),
            user: "octocat".to_owned(),
            since: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(since),
        }
    }

    #[test]
    fn waiters_of_a_released_environment_come_back_oldest_first_until_they_stop() {
        let state = State::in_memory().expect("state");
        state
            .wait_for_lock("acme/infra", &waiter("prod", 8, 20))
            .expect("wait");
        state
            .wait_for_lock("acme/infra", &waiter("prod", 7, 10))
            .expect("wait");
        state
            .wait_for_lock("acme/infra", &waiter("dev", 9, 5))
            .expect("wait");
        state
            .wait_for_lock("acme/other", &waiter("prod", 1, 1))
            .expect("wait");
        let prs = |state: &State| -> Vec<u64> {
            state
                .waiting_for("acme/infra", &["prod".to_owned()])
                .expect("list")
                .into_iter()
                .map(|w| w.pr)
                .collect()
        };
        assert_eq!(prs(&state), [7, 8]);
        state.stop_waiting("acme/infra", 7).expect("stop");
        assert_eq!(prs(&state), [8]);
    }
}
