//! What each environment runs: the commit last applied in full, the digest
//! of every stack's template as last deployed, and the parameter overrides
//! (a code-only deploy's `image_tag`) still in force.
//!
//! Merges, pushes and `strata apply` plan from here to the new commit, so a
//! stack removed from the file, or commits pushed while the server was down,
//! are never missed; a plan that says "image tag `abc` deployed by run 12,
//! file says `def`" reads the overrides.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::db::{DbError, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{RunId, State, StateError, from_unix, to_unix};

/// A parameter value a run set instead of the template's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// The stack (`compute`).
    pub stack: String,
    /// The CloudFormation parameter (`ApiImageTag`).
    pub parameter: String,
    /// The value deployed.
    pub value: String,
    /// The run that deployed it.
    pub run: i64,
}

/// What an environment runs, as far as Strata applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The repository's full name (`acme/infra`).
    pub repo: String,
    /// The environment (`prod`).
    pub environment: String,
    /// The commit last applied to every stack of the environment.
    pub commit: String,
    /// Each stack's template digest (sha256) as last deployed.
    pub templates: BTreeMap<String, String>,
    /// The run that applied `commit`.
    pub run: Option<RunId>,
    /// Parameter overrides still in force.
    pub overrides: Vec<Override>,
    /// When it was recorded.
    pub deployed_at: SystemTime,
}

const COLUMNS: &str = "repo, environment, commit_sha, templates, run, overrides, deployed_at";

impl State {
    /// What `environment` of `repo` runs; `None` before its first apply.
    pub fn deployed(&self, repo: &str, environment: &str) -> Result<Option<Deployed>, StateError> {
        self.with(
            || format!("read what environment `{environment}` of `{repo}` runs"),
            |connection| {
                connection
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM deployed WHERE repo = ?1 AND environment = ?2"
                        ),
                        params![repo, environment],
                        deployed_from_row,
                    )
                    .optional()
            },
        )
    }

    /// Record an apply of `environment` at `commit`: `templates` are the
    /// digests of the stacks it deployed (merged into those recorded),
    /// `removed` the stacks it deleted; `complete` when every stack now runs
    /// `commit` (a failed or targeted apply moves only its stacks).
    /// Overrides of the stacks it deployed are replaced by `overrides`.
    #[expect(clippy::too_many_arguments, reason = "one row, written in one place")]
    pub fn record_deployed(
        &self,
        repo: &str,
        environment: &str,
        commit: &str,
        templates: &BTreeMap<String, String>,
        removed: &[String],
        overrides: &[Override],
        complete: bool,
        run: Option<RunId>,
        now: SystemTime,
    ) -> Result<(), StateError> {
        self.write(
            || format!("record what environment `{environment}` of `{repo}` runs"),
            |transaction| {
                let before = transaction
                    .query_row(
                        &format!(
                            "SELECT {COLUMNS} FROM deployed WHERE repo = ?1 AND environment = ?2"
                        ),
                        params![repo, environment],
                        deployed_from_row,
                    )
                    .optional()?;
                let (mut all, mut kept, old_commit, old_run) = match before {
                    Some(before) => (
                        before.templates,
                        before.overrides,
                        Some(before.commit),
                        before.run,
                    ),
                    None => (BTreeMap::new(), Vec::new(), None, None),
                };
                for (stack, digest) in templates {
                    all.insert(stack.clone(), digest.clone());
                }
                for stack in removed {
                    all.remove(stack);
                }
                kept.retain(|o| !templates.contains_key(&o.stack) && !removed.contains(&o.stack));
                kept.extend(overrides.iter().cloned());
                let (commit, run) = if complete || old_commit.is_none() {
                    (commit.to_owned(), run)
                } else {
                    (old_commit.unwrap_or_default(), old_run)
                };
                let templates_json =
                    serde_json::to_string(&all).unwrap_or_else(|_| "{}".to_owned());
                let overrides_json =
                    serde_json::to_string(&kept).unwrap_or_else(|_| "[]".to_owned());
                transaction.execute(
                    &format!(
                        "INSERT INTO deployed ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                         ON CONFLICT (repo, environment) DO UPDATE SET \
                         commit_sha = excluded.commit_sha, templates = excluded.templates, \
                         run = excluded.run, overrides = excluded.overrides, \
                         deployed_at = excluded.deployed_at"
                    ),
                    params![
                        repo,
                        environment,
                        commit,
                        templates_json,
                        run.map(|r| r.0),
                        overrides_json,
                        to_unix(now)
                    ],
                )?;
                Ok(())
            },
        )
    }
}

fn deployed_from_row(row: &Row) -> Result<Deployed, DbError> {
    let templates: String = row.get("templates")?;
    let overrides: String = row.get("overrides")?;
    Ok(Deployed {
        repo: row.get("repo")?,
        environment: row.get("environment")?,
        commit: row.get("commit_sha")?,
        templates: serde_json::from_str(&templates).unwrap_or_default(),
        run: row.get::<_, Option<i64>>("run")?.map(RunId),
        overrides: serde_json::from_str(&overrides).unwrap_or_default(),
        deployed_at: from_unix(row.get("deployed_at")?),
    })
}
