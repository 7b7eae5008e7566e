//! Workflow promotions: a run of one workflow at one commit (a merge that
//! goes dev → staging → prod), how each of its stages fared, and the stages
//! a `/strata apply` released.
//!
//! The workflow layer decides from these rows; the worker writes them as it
//! executes the decisions. A newer promotion of the same workflow supersedes
//! the older ones: it deploys everything they would have.

use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use super::db::{DbError, FromValue, OptionalExtension, Row, ToValue, Value, params};

use super::{State, StateError, from_unix, to_unix};

/// A run of a workflow at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// The repository's full name (`acme/infra`).
    pub repo: String,
    /// The workflow (`release`).
    pub workflow: String,
    /// The commit it deploys.
    pub commit: String,
    /// The pull request it reports on (the one merged at `commit`), if any.
    pub pr: Option<u64>,
    /// The branch it landed on (`main`).
    pub branch: String,
    /// Where the repository is fetched from.
    pub clone_url: String,
    /// The commit before it landed (`none` for a first commit): the
    /// workflows there govern it.
    pub base: String,
    /// The environments it changes, relative to what each ran when it started.
    pub touched: Vec<String>,
    /// Dispatch inputs (`image_tag`).
    pub inputs: BTreeMap<String, String>,
    /// Started by a dispatch (`/strata run`), not by commits landing.
    pub dispatched: bool,
    /// Still advancing (not finished, not superseded).
    pub active: bool,
    /// When it started.
    pub created_at: SystemTime,
}

/// How a stage fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    /// Applying now.
    Running,
    /// Every environment of the stage applied.
    Succeeded,
    /// An environment of the stage failed.
    Failed,
}

impl StageState {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for StageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToValue for StageState {
    fn to_value(&self) -> Value {
        Value::Text(self.as_str().to_owned())
    }
}

impl FromValue for StageState {
    fn from_value(value: Value) -> Result<Self, String> {
        match String::from_value(value)?.as_str() {
            "running" => Ok(Self::Running),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown stage state `{other}`")),
        }
    }
}

/// A stage of a promotion, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRow {
    /// The stage's name.
    pub stage: String,
    /// How it fared.
    pub state: StageState,
    /// When it started.
    pub started_at: SystemTime,
    /// When it finished, once it has.
    pub finished_at: Option<SystemTime>,
}

const PROMOTION: &str = "repo, workflow, commit_sha, pr, branch, clone_url, base, touched, inputs, dispatched, active, created_at";

/// A promotion about to start: what [`State::start_promotion`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPromotion<'a> {
    /// The repository's full name.
    pub repo: &'a str,
    /// The workflow.
    pub workflow: &'a str,
    /// The commit it deploys.
    pub commit: &'a str,
    /// The pull request it reports on.
    pub pr: Option<u64>,
    /// The branch it landed on.
    pub branch: &'a str,
    /// Where the repository is fetched from.
    pub clone_url: &'a str,
    /// The commit before it landed.
    pub base: &'a str,
    /// The environments it changes.
    pub touched: &'a [String],
    /// Dispatch inputs.
    pub inputs: &'a BTreeMap<String, String>,
    /// Started by a dispatch.
    pub dispatched: bool,
}

impl State {
    /// Start the promotion of `workflow` at `commit` (or find it: a merge and
    /// its push start the same one). Older active promotions of the workflow
    /// are superseded. A promotion found without a pull request takes `pr`.
    /// Returns it, and whether it is new.
    pub fn start_promotion(
        &self,
        new: &NewPromotion<'_>,
        now: SystemTime,
    ) -> Result<(Promotion, bool), StateError> {
        let NewPromotion {
            repo,
            workflow,
            commit,
            pr,
            branch,
            clone_url,
            base,
            touched,
            inputs,
            dispatched,
        } = *new;
        self.write(
            || format!("start the promotion of workflow `{workflow}` of `{repo}` at `{commit}`"),
            |transaction| {
                let inserted = transaction.execute(
                    &format!(
                        "INSERT INTO promotions ({PROMOTION}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11) \
                         ON CONFLICT (repo, workflow, commit_sha) DO NOTHING"
                    ),
                    params![
                        repo,
                        workflow,
                        commit,
                        pr,
                        branch,
                        clone_url,
                        base,
                        serde_json::to_string(touched).unwrap_or_else(|_| "[]".to_owned()),
                        serde_json::to_string(inputs).unwrap_or_else(|_| "{}".to_owned()),
                        dispatched,
                        to_unix(now)
                    ],
                )? == 1;
                if inserted {
                    transaction.execute(
                        "UPDATE promotions SET active = 0 \
                         WHERE repo = ?1 AND workflow = ?2 AND commit_sha != ?3 AND active = 1",
                        params![repo, workflow, commit],
                    )?;
                } else if pr.is_some() {
                    transaction.execute(
                        "UPDATE promotions SET pr = ?4 \
                         WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3 AND pr IS NULL",
                        params![repo, workflow, commit, pr],
                    )?;
                }
                let promotion = transaction.query_row(
                    &format!(
                        "SELECT {PROMOTION} FROM promotions \
                         WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3"
                    ),
                    params![repo, workflow, commit],
                    promotion_from_row,
                )?;
                Ok((promotion, inserted))
            },
        )
    }

    /// Start the promotion of `workflow` at `commit` afresh (a dispatch run
    /// again, perhaps with other inputs): what an earlier one at the same
    /// commit recorded (stages, releases, approvals) is forgotten.
    pub fn restart_promotion(
        &self,
        new: &NewPromotion<'_>,
        now: SystemTime,
    ) -> Result<(Promotion, bool), StateError> {
        self.write(
            || {
                format!(
                    "restart the promotion of workflow `{}` of `{}` at `{}`",
                    new.workflow, new.repo, new.commit
                )
            },
            |transaction| {
                for table in ["promotions", "stages", "stage_releases", "approvals"] {
                    transaction.execute(
                        &format!(
                            "DELETE FROM {table} WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3"
                        ),
                        params![new.repo, new.workflow, new.commit],
                    )?;
                }
                Ok(())
            },
        )?;
        self.start_promotion(new, now)
    }

    /// The promotion of `workflow` at `commit`.
    pub fn promotion(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
    ) -> Result<Option<Promotion>, StateError> {
        self.with(
            || format!("read the promotion of workflow `{workflow}` of `{repo}` at `{commit}`"),
            |connection| {
                connection
                    .query_row(
                        &format!(
                            "SELECT {PROMOTION} FROM promotions \
                             WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3"
                        ),
                        params![repo, workflow, commit],
                        promotion_from_row,
                    )
                    .optional()
            },
        )
    }

    /// Active promotions (of `repo`, or of every repository), oldest first.
    pub fn active_promotions(&self, repo: Option<&str>) -> Result<Vec<Promotion>, StateError> {
        self.with(
            || "list the active promotions".to_owned(),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {PROMOTION} FROM promotions \
                     WHERE active = 1 AND (CAST(?1 AS TEXT) IS NULL OR repo = ?1) ORDER BY created_at, rowid"
                ))?;
                statement
                    .query_map(params![repo], promotion_from_row)?
                    .collect()
            },
        )
    }

    /// The promotions reporting on pull request `pr`, oldest first.
    pub fn promotions_of_pr(&self, repo: &str, pr: u64) -> Result<Vec<Promotion>, StateError> {
        self.with(
            || format!("list the promotions of pull request #{pr} of `{repo}`"),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {PROMOTION} FROM promotions WHERE repo = ?1 AND pr = ?2 \
                     ORDER BY created_at, rowid"
                ))?;
                statement
                    .query_map(params![repo, pr], promotion_from_row)?
                    .collect()
            },
        )
    }

    /// The promotion has nothing left to do (or never will).
    pub fn finish_promotion(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
    ) -> Result<(), StateError> {
        self.with(
            || format!("finish the promotion of workflow `{workflow}` of `{repo}` at `{commit}`"),
            |connection| {
                connection.execute(
                    "UPDATE promotions SET active = 0 \
                     WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3",
                    params![repo, workflow, commit],
                )?;
                Ok(())
            },
        )
    }

    /// Record how `stage` of the promotion fares (`finished_at` set unless
    /// it is running).
    pub fn record_stage(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
        stage: &str,
        state: StageState,
        now: SystemTime,
    ) -> Result<(), StateError> {
        let finished = (state != StageState::Running).then(|| to_unix(now));
        self.with(
            || format!("record stage `{stage}` of workflow `{workflow}` of `{repo}` at `{commit}`"),
            |connection| {
                connection.execute(
                    "INSERT INTO stages (repo, workflow, commit_sha, stage, status, started_at, finished_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (repo, workflow, commit_sha, stage) DO UPDATE SET \
                     status = excluded.status, finished_at = excluded.finished_at",
                    params![repo, workflow, commit, stage, state, to_unix(now), finished],
                )?;
                Ok(())
            },
        )
    }

    /// The stages of the promotion of `workflow` at `commit`, as recorded.
    pub fn stages(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
    ) -> Result<Vec<StageRow>, StateError> {
        self.with(
            || format!("list the stages of workflow `{workflow}` of `{repo}` at `{commit}`"),
            |connection| {
                let mut statement = connection.prepare(
                    "SELECT stage, status, started_at, finished_at FROM stages \
                     WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3 ORDER BY started_at, rowid",
                )?;
                statement
                    .query_map(params![repo, workflow, commit], |row| {
                        Ok(StageRow {
                            stage: row.get("stage")?,
                            state: row.get("status")?,
                            started_at: from_unix(row.get("started_at")?),
                            finished_at: row
                                .get::<_, Option<i64>>("finished_at")?
                                .map(from_unix),
                        })
                    })?
                    .collect()
            },
        )
    }

    /// `user` released `stage` of the promotion (a `/strata apply`).
    pub fn release_stage(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
        stage: &str,
        user: &str,
        now: SystemTime,
    ) -> Result<(), StateError> {
        self.with(
            || format!("release stage `{stage}` of workflow `{workflow}` of `{repo}`"),
            |connection| {
                connection.execute(
                    "INSERT INTO stage_releases (repo, workflow, commit_sha, stage, \"user\", released_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (repo, workflow, commit_sha, stage) DO NOTHING",
                    params![repo, workflow, commit, stage, user, to_unix(now)],
                )?;
                Ok(())
            },
        )
    }

    /// The stages of the promotion a command released, with who released them.
    pub fn released_stages(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
    ) -> Result<Vec<(String, String)>, StateError> {
        self.with(
            || format!("list the released stages of workflow `{workflow}` of `{repo}`"),
            |connection| {
                let mut statement = connection.prepare(
                    "SELECT stage, \"user\" FROM stage_releases \
                     WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3 ORDER BY stage",
                )?;
                statement
                    .query_map(params![repo, workflow, commit], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })?
                    .collect()
            },
        )
    }
}

impl State {
    /// `user` approved the promotion of `workflow` at `commit` (`/strata
    /// approve`); approving twice is harmless.
    pub fn approve_promotion(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
        user: &str,
        now: SystemTime,
    ) -> Result<(), StateError> {
        self.with(
            || format!("record @{user}'s approval of workflow `{workflow}` of `{repo}`"),
            |connection| {
                connection.execute(
                    "INSERT INTO approvals (repo, workflow, commit_sha, \"user\", approved_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (repo, workflow, commit_sha, \"user\") DO NOTHING",
                    params![repo, workflow, commit, user, to_unix(now)],
                )?;
                Ok(())
            },
        )
    }

    /// Who approved the promotion of `workflow` at `commit` by command.
    pub fn promotion_approvals(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
    ) -> Result<Vec<String>, StateError> {
        self.with(
            || format!("list the approvals of workflow `{workflow}` of `{repo}`"),
            |connection| {
                let mut statement = connection.prepare(
                    "SELECT \"user\" FROM approvals \
                     WHERE repo = ?1 AND workflow = ?2 AND commit_sha = ?3 ORDER BY approved_at, \"user\"",
                )?;
                statement
                    .query_map(params![repo, workflow, commit], |row| row.get(0))?
                    .collect()
            },
        )
    }
}

fn promotion_from_row(row: &Row) -> Result<Promotion, DbError> {
    let inputs: String = row.get("inputs")?;
    let touched: String = row.get("touched")?;
    Ok(Promotion {
        repo: row.get("repo")?,
        workflow: row.get("workflow")?,
        commit: row.get("commit_sha")?,
        pr: row.get("pr")?,
        branch: row.get("branch")?,
        clone_url: row.get("clone_url")?,
        base: row.get("base")?,
        touched: serde_json::from_str(&touched).unwrap_or_default(),
        inputs: serde_json::from_str(&inputs).unwrap_or_default(),
        dispatched: row.get("dispatched")?,
        active: row.get::<_, i64>("active")? == 1,
        created_at: from_unix(row.get("created_at")?),
    })
}
