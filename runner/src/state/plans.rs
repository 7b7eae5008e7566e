//! Saved plans: the last plan of each pull request and environment.
//!
//! The server plans a pull request when it is opened or pushed to, and
//! applies exactly that plan when asked (`/strata apply prod`) if the head
//! commit has not moved since. The plan is stored as the JSON text the plan
//! model writes; this module never looks inside it.

use std::time::SystemTime;

use super::db::{DbError, OptionalExtension, Row, params};

use super::{State, StateError, from_unix, to_unix};

/// A plan saved for a pull request and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlan {
    /// The repository's full name (`acme/infra`).
    pub repo: String,
    /// The pull request's number.
    pub pr: u64,
    /// The environment (`prod`).
    pub environment: String,
    /// The commit the plan was made at: an apply must match it.
    pub head_sha: String,
    /// The plan, as JSON text.
    pub plan_json: String,
    /// When it was saved.
    pub saved_at: SystemTime,
}

const COLUMNS: &str = "repo, pr, environment, head_sha, plan, saved_at";

impl State {
    /// Save the plan of `environment` for pull request `pr` of `repo`, made at
    /// `head_sha`, replacing the one saved before.
    pub fn save_plan(
        &self,
        repo: &str,
        pr: u64,
        environment: &str,
        head_sha: &str,
        plan_json: &str,
        now: SystemTime,
    ) -> Result<(), StateError> {
        self.with(
            || format!("save the plan of environment `{environment}` for pull request #{pr} of `{repo}`"),
            |connection| {
                connection.execute(
                    &format!(
                        "INSERT INTO plans ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (repo, pr, environment) DO UPDATE SET \
                         head_sha = excluded.head_sha, plan = excluded.plan, \
                         saved_at = excluded.saved_at"
                    ),
                    params![repo, pr, environment, head_sha, plan_json, to_unix(now)],
                )?;
                Ok(())
            },
        )
    }

    /// The plan saved for `environment` of pull request `pr` of `repo`.
    pub fn plan(
        &self,
        repo: &str,
        pr: u64,
        environment: &str,
    ) -> Result<Option<SavedPlan>, StateError> {
        self.with(
            || format!("read the plan of environment `{environment}` for pull request #{pr} of `{repo}`"),
            |connection| {
                connection
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM plans \
                             WHERE repo = ?1 AND pr = ?2 AND environment = ?3"
                        ),
                        params![repo, pr, environment],
                        plan_from_row,
                    )
                    .optional()
            },
        )
    }

    /// Every plan saved for pull request `pr` of `repo`, by environment.
    pub fn plans(&self, repo: &str, pr: u64) -> Result<Vec<SavedPlan>, StateError> {
        self.with(
            || format!("list the plans of pull request #{pr} of `{repo}`"),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {COLUMNS} FROM plans WHERE repo = ?1 AND pr = ?2 ORDER BY environment"
                ))?;
                statement
                    .query_map(params![repo, pr], plan_from_row)?
                    .collect()
            },
        )
    }

    /// Forget every plan of pull request `pr` of `repo` (it was merged or
    /// closed): how many there were.
    pub fn delete_plans(&self, repo: &str, pr: u64) -> Result<usize, StateError> {
        self.with(
            || format!("delete the plans of pull request #{pr} of `{repo}`"),
            |connection| {
                connection.execute(
                    "DELETE FROM plans WHERE repo = ?1 AND pr = ?2",
                    params![repo, pr],
                )
            },
        )
    }
}

fn plan_from_row(row: &Row) -> Result<SavedPlan, DbError> {
    Ok(SavedPlan {
        repo: row.get("repo")?,
        pr: row.get("pr")?,
        environment: row.get("environment")?,
        head_sha: row.get("head_sha")?,
        plan_json: row.get("plan")?,
        saved_at: from_unix(row.get("saved_at")?),
    })
}
