//! Promotions: the worker carrying out what the workflow layer decides when
//! commits land on a branch (a merge, a push) or a workflow is dispatched.
//!
//! A *promotion* is one workflow run at one commit: its stages (dev →
//! staging → prod) apply their environments in order, each behind its gates.
//! The workflow layer ([`crate::workflow`]) decides, from what the state
//! database recorded, which stages run now and what the others wait for; this
//! module gathers those facts (stage results, approvals, team membership,
//! commit checks), applies the stages the layer says run, records how they
//! went, reports them (a promotion comment on the pull request, a commit
//! status per stage, a GitHub deployment per environment) and asks again,
//! until every stage is done, failed, skipped or waiting. A stage held by a
//! soak time or a deploy window is woken by [`Worker::tick`] when its time
//! comes; one held by another pull request's lock when that lock goes.
//!
//! Everything is keyed by (repository, workflow, commit), so a merge and the
//! push it makes, in either order, start one promotion and apply each
//! environment once; the pull request it reports on is whichever of the two
//! names it first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{ApplyRequest, Failure, Worker, blocking, comment};
use crate::forge::{DeploymentState, NewDeployment, Repo, StatusState};
use crate::repo::{Repository, Side};
use crate::state::{NewPromotion, Promotion, StageState};
use crate::workflow::{
    self, Approval, CheckState, EnvironmentInfo, Facts, RunDecision, RunFacts, StageRecord,
    StageStatus, Verdict, Wait, Workflows,
};
use crate::workspace::{Files, Workspace};

/// Commits that landed on a branch, and who or what landed them.
#[derive(Debug, Clone)]
pub(super) struct Landing {
    pub repo: Repo,
    pub clone_url: String,
    pub branch: String,
    /// The default branch of the repository.
    pub default_branch: String,
    /// The tip before (`none` when unknown or new).
    pub before: String,
    /// The new tip.
    pub after: String,
    /// The pull request merged at `after`, when known.
    pub pr: Option<u64>,
}

/// The key of a promotion.
pub(super) type PromotionKey = (String, String, String);

fn key(promotion: &Promotion) -> PromotionKey {
    (
        promotion.repo.clone(),
        promotion.workflow.clone(),
        promotion.commit.clone(),
    )
}

/// The workflows and environments that govern a promotion, read at one
/// commit of the mirror.
pub(super) struct Governing {
    pub workflows: Workflows,
    pub environments: BTreeMap<String, EnvironmentInfo>,
}

/// Seconds since the epoch, as the workflow layer counts time.
pub(super) fn timestamp(time: SystemTime) -> workflow::Timestamp {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn system_time(timestamp: workflow::Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(timestamp).unwrap_or(0))
}

/// Read the workflows (or the built-in default) and the environments at
/// `commit` of the repository at `mirror`. `none`: nothing there yet.
///
/// The built-in default (no workflow files at `commit`) covers the
/// environments at `deployed`, the commit being deployed: a change that adds
/// an environment deploys it, while workflow files a change adds govern only
/// the changes after it.
pub(super) fn governing_at(
    mirror: &std::path::Path,
    commit: &str,
    deployed: &str,
    default_branch: &str,
) -> Result<Governing, Failure> {
    let repository = Repository::discover(mirror).map_err(|e| Failure(e.to_string()))?;
    let workspace_at = |commit: &str| -> Result<Option<Workspace>, Failure> {
        if commit == "none" {
            return Ok(None);
        }
        let revision = repository
            .resolve(commit)
            .map_err(|e| Failure(e.to_string()))?;
        let snapshot = repository
            .snapshot(&Side::Commit(revision))
            .map_err(|e| Failure(e.to_string()))?;
        Ok(Some(
            Workspace::from_files(mirror, Files::Git(std::sync::Mutex::new(snapshot)))
                .map_err(|d| Failure(super::problems(&d).join("\n")))?,
        ))
    };
    let mut workspace = workspace_at(commit)?;
    if workspace
        .as_ref()
        .is_none_or(|w| w.workflow_files().is_empty())
        && deployed != commit
    {
        workspace = workspace_at(deployed)?;
        if let Some(w) = &workspace
            && !w.workflow_files().is_empty()
        {
            // Only its environments count: the files it adds wait their turn.
            let environments = w.environment_infos();
            return Ok(Governing {
                workflows: Workflows::builtin(&workflow::Known {
                    default_branch,
                    environments: &environments,
                }),
                environments,
            });
        }
    }
    let environments = workspace
        .as_ref()
        .map(Workspace::environment_infos)
        .unwrap_or_default();
    let workflows = match &workspace {
        Some(workspace) => {
            workspace
                .workflows_on(default_branch)
                .map_err(|d| {
                    Failure(format!(
                        "the workflows at `{}` are invalid, so nothing is deployed until they are fixed:\n{}",
                        comment::short(commit),
                        super::problems(&d).join("\n")
                    ))
                })?
                .0
        }
        None => Workflows::builtin(&workflow::Known {
            default_branch,
            environments: &environments,
        }),
    };
    Ok(Governing {
        workflows,
        environments,
    })
}

impl Worker {
    /// The workflows and environments at `commit` of `repo`'s mirror.
    pub(super) async fn governing(
        &self,
        repo: &Repo,
        commit: &str,
        deployed: &str,
        default_branch: &str,
    ) -> Result<Governing, Failure> {
        let mirror = self.mirrors.path(&repo.owner, &repo.name);
        let _turn = self.repos.lock(&repo.full_name()).await;
        let commit = commit.to_owned();
        let deployed = deployed.to_owned();
        let default_branch = default_branch.to_owned();
        let mut governing =
            blocking(move || governing_at(&mirror, &commit, &deployed, &default_branch)).await?;
        // The built-in default's gates are the server's settings
        // (`--allow-unapproved`, `--allow-unmergeable`).
        if governing.workflows.builtin {
            for workflow in &mut governing.workflows.workflows {
                let gates = std::iter::once(&mut workflow.on.command_gates)
                    .chain(workflow.stages.iter_mut().map(|s| &mut s.gates));
                for gates in gates {
                    if !self.settings.require_approval {
                        gates.approvals = None;
                    }
                    if !self.settings.require_mergeable {
                        gates.mergeable = false;
                    }
                }
            }
        }
        Ok(governing)
    }

    /// Which environments `after` changes relative to what each runs: an
    /// environment Strata applied before is compared with its last applied
    /// commit (so removed stacks, and commits pushed while the server was
    /// down, count); one never applied counts when `before..after` touches it.
    async fn touched(
        &self,
        repo: &Repo,
        mirror: PathBuf,
        before: &str,
        after: &str,
    ) -> Result<BTreeSet<String>, Failure> {
        let full_name = repo.full_name();
        let names = {
            let mirror = mirror.clone();
            let after = after.to_owned();
            blocking(move || {
                let repository =
                    Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
                let revision = repository
                    .resolve(&after)
                    .map_err(|e| Failure(e.to_string()))?;
                let snapshot = repository
                    .snapshot(&Side::Commit(revision))
                    .map_err(|e| Failure(e.to_string()))?;
                Ok(snapshot
                    .list(crate::workspace::ENVIRONMENTS_DIR)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.strip_suffix(".toml").map(str::to_owned))
                    .collect::<Vec<_>>())
            })
            .await?
        };
        let mut touched = BTreeSet::new();
        let mut never_applied = Vec::new();
        for name in names {
            match self.state.deployed(&full_name, &name)? {
                Some(deployed) if deployed.commit == after => {}
                Some(deployed) => {
                    let planned = self
                        .plan_in(
                            repo,
                            mirror.clone(),
                            vec![name.clone()],
                            deployed.commit.clone(),
                            after.to_owned(),
                        )
                        .await?;
                    match planned {
                        Ok(planned) => {
                            if planned.plan.environments.iter().any(|e| !e.is_empty()) {
                                touched.insert(name);
                            }
                        }
                        // Unplannable: the apply reports why.
                        Err(_) => {
                            touched.insert(name);
                        }
                    }
                }
                None => never_applied.push(name),
            }
        }
        if !never_applied.is_empty() {
            let planned = self
                .plan_in(
                    repo,
                    mirror,
                    Vec::new(),
                    before.to_owned(),
                    after.to_owned(),
                )
                .await?;
            let changed: BTreeSet<String> = match planned {
                Ok(planned) => planned
                    .plan
                    .environments
                    .iter()
                    .filter(|e| !e.is_empty())
                    .map(|e| e.name.clone())
                    .collect(),
                Err(_) => never_applied.iter().cloned().collect(),
            };
            touched.extend(never_applied.into_iter().filter(|n| changed.contains(n)));
        }
        Ok(touched)
    }

    /// The commits from `before` (excluded) to `after`, oldest first, along
    /// first parents; just `after` when there are more than 100 (with a
    /// warning: deploying each of them would take all day).
    async fn first_parents(
        &self,
        repo: &Repo,
        mirror: PathBuf,
        before: &str,
        after: &str,
    ) -> Result<Vec<String>, Failure> {
        let _turn = self.repos.lock(&repo.full_name()).await;
        let (before, after) = (before.to_owned(), after.to_owned());
        blocking(move || {
            let repository = Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
            match repository.first_parents_between(&before, &after, 100) {
                Ok(Some(commits)) if !commits.is_empty() => Ok(commits),
                Ok(Some(_)) => Ok(vec![after]),
                Ok(None) => {
                    tracing::warn!(%before, %after, "more than 100 new commits: deploying only the tip");
                    Ok(vec![after])
                }
                Err(e) => Err(Failure(e.to_string())),
            }
        })
        .await
    }

    /// Commits landed on a branch: start the promotions the workflows (the
    /// ones at `before`, which governed the change) say, and advance them.
    pub(super) async fn landed(&self, landing: Landing) -> Result<(), Failure> {
        let full_name = landing.repo.full_name();
        let mirror = self.sync(&landing.repo, &landing.clone_url).await?;
        let pr = match landing.pr {
            Some(pr) => Some(pr),
            None => match self
                .forge
                .pulls_of_commit(&landing.repo, &landing.after)
                .await
            {
                Ok(prs) => prs.into_iter().next(),
                Err(error) => {
                    tracing::warn!(%error, commit = %landing.after, "cannot tell which pull request a commit came from");
                    None
                }
            },
        };
        let governed_by = if landing.before == "none" {
            landing.after.clone()
        } else {
            landing.before.clone()
        };
        let governing = match self
            .governing(
                &landing.repo,
                &governed_by,
                &landing.after,
                &landing.default_branch,
            )
            .await
        {
            Ok(governing) => governing,
            Err(failure) => {
                self.status(
                    &landing.repo,
                    &landing.after,
                    "strata/workflows",
                    StatusState::Error,
                    "the workflows are invalid; nothing was deployed",
                    None,
                )
                .await;
                // A merge's own handler reports on its pull request; a push
                // reports on the pull request it came from here.
                if let (None, Some(pr)) = (landing.pr, pr) {
                    let body = format!("Strata did not deploy this merge: {failure}");
                    if let Err(error) = self.forge.create_comment(&landing.repo, pr, &body).await {
                        tracing::warn!(%error, "cannot report the invalid workflows");
                    }
                }
                return Err(failure);
            }
        };
        // Workflows that deploy each new commit in order need them one by
        // one; the others only the tip.
        let each = governing.workflows.workflows.iter().any(|w| {
            w.on.push.as_ref().is_some_and(|p| {
                p.commits == workflow::Commits::Each
                    && p.branches.matches(&landing.branch, &landing.default_branch)
            })
        });
        let shas = if each && landing.before != "none" {
            self.first_parents(
                &landing.repo,
                mirror.clone(),
                &landing.before,
                &landing.after,
            )
            .await?
        } else {
            vec![landing.after.clone()]
        };
        let mut commits = Vec::new();
        let mut bases = BTreeMap::new();
        let mut previous = landing.before.clone();
        for sha in shas {
            let touched = self
                .touched(&landing.repo, mirror.clone(), &previous, &sha)
                .await?;
            bases.insert(sha.clone(), previous.clone());
            commits.push(workflow::Commit {
                sha: sha.clone(),
                touched,
            });
            previous = sha;
        }
        let event = workflow::Event::Push {
            branch: landing.branch.clone(),
            commits: commits.clone(),
        };
        let facts = Facts {
            now: timestamp(SystemTime::now()),
            default_branch: landing.default_branch.clone(),
            run: None,
        };
        let decision = workflow::decide(&governing.workflows, &event, &facts);
        for refusal in &decision.refusals {
            tracing::info!(repo = %full_name, commit = %landing.after, %refusal, "landing");
        }
        let inputs = BTreeMap::new();
        for run in &decision.runs {
            // A tip run covers every new commit; an `each` run its own.
            let touched: Vec<String> = match commits.iter().find(|c| c.sha == run.commit) {
                Some(commit) if commits.len() > 1 && each => {
                    commit.touched.iter().cloned().collect()
                }
                _ => commits
                    .iter()
                    .flat_map(|c| c.touched.iter().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            };
            let base = bases
                .get(&run.commit)
                .cloned()
                .unwrap_or_else(|| landing.before.clone());
            let (promotion, new) = self.state.start_promotion(
                &NewPromotion {
                    repo: &full_name,
                    workflow: &run.workflow,
                    commit: &run.commit,
                    pr,
                    branch: &landing.branch,
                    clone_url: &landing.clone_url,
                    base: &base,
                    touched: &touched,
                    inputs: &inputs,
                    dispatched: false,
                },
                SystemTime::now(),
            )?;
            if new {
                tracing::info!(repo = %full_name, workflow = %run.workflow, commit = %run.commit, ?pr, "promotion started");
            }
            self.advance(promotion).await?;
        }
        Ok(())
    }

    /// Decide and act on `promotion` until nothing more can run now.
    pub(super) async fn advance(&self, promotion: Promotion) -> Result<(), Failure> {
        let _turn = self.promotion_turns.lock(&key(&promotion)).await;
        // One replica at a time advances a promotion.
        let _exclusive = self
            .exclusive(format!(
                "promotion {} {} {}",
                promotion.repo, promotion.workflow, promotion.commit
            ))
            .await?;
        let Ok(repo) = promotion.repo.parse::<Repo>() else {
            return Err(Failure(format!(
                "`{}` is not a repository name",
                promotion.repo
            )));
        };
        // Read again under the turn: another job may have advanced it.
        let Some(promotion) =
            self.state
                .promotion(&promotion.repo, &promotion.workflow, &promotion.commit)?
        else {
            return Ok(());
        };
        let governed_by = if promotion.base == "none" {
            promotion.commit.clone()
        } else {
            promotion.base.clone()
        };
        let governing = self
            .governing(&repo, &governed_by, &promotion.commit, &promotion.branch)
            .await?;
        let Some(workflow) = governing.workflows.get(&promotion.workflow) else {
            self.state
                .finish_promotion(&promotion.repo, &promotion.workflow, &promotion.commit)?;
            return Ok(());
        };
        let mut held_by_locks: BTreeMap<String, String> = BTreeMap::new();
        loop {
            let facts = self.facts(&repo, &promotion, &governing).await?;
            let decision = workflow::decide(&governing.workflows, &workflow::Event::Tick, &facts);
            let Some(run) = decision
                .runs
                .into_iter()
                .find(|r| r.workflow == promotion.workflow)
            else {
                self.state.finish_promotion(
                    &promotion.repo,
                    &promotion.workflow,
                    &promotion.commit,
                )?;
                return Ok(());
            };
            let ready: Vec<_> = run
                .stages
                .iter()
                .filter(|s| matches!(s.verdict, Verdict::Run))
                .filter(|s| !held_by_locks.contains_key(&s.stage))
                .cloned()
                .collect();
            if ready.is_empty() {
                self.announce_waits(&repo, &promotion, workflow, &run);
                self.report_promotion(&repo, &promotion, &run, &held_by_locks)
                    .await;
                let finished = run.stages.iter().all(|s| {
                    matches!(
                        s.verdict,
                        Verdict::Done | Verdict::Failed | Verdict::Blocked(_) | Verdict::Skipped(_)
                    )
                });
                if finished {
                    self.state.finish_promotion(
                        &promotion.repo,
                        &promotion.workflow,
                        &promotion.commit,
                    )?;
                    self.forget_wake(&key(&promotion));
                } else if let Some(at) = run.next_wake() {
                    self.wake_at(key(&promotion), system_time(at));
                }
                return Ok(());
            }
            for stage in ready {
                let full_name = repo.full_name();
                let mut locked = None;
                for environment in &stage.environments {
                    if let Some(lock) = self.state.lock_of(&full_name, environment)?
                        && Some(lock.holder.pr) != promotion.pr
                    {
                        locked = Some(format!(
                            "waits for `{environment}`, locked by [#{}]({}): it runs when #{} is merged or closed, or after `/strata unlock {environment}` there",
                            lock.holder.pr, lock.holder.url, lock.holder.pr
                        ));
                        break;
                    }
                }
                if let Some(why) = locked {
                    held_by_locks.insert(stage.stage.clone(), why);
                    continue;
                }
                self.run_stage(&repo, &promotion, workflow, &run, &stage, &governing)
                    .await?;
            }
        }
    }

    /// Apply one stage's environments in order; record and report it.
    async fn run_stage(
        &self,
        repo: &Repo,
        promotion: &Promotion,
        workflow: &workflow::Workflow,
        run: &RunDecision,
        stage: &workflow::StageDecision,
        governing: &Governing,
    ) -> Result<(), Failure> {
        let full_name = repo.full_name();
        self.state.record_stage(
            &full_name,
            &promotion.workflow,
            &promotion.commit,
            &stage.stage,
            StageState::Running,
            SystemTime::now(),
        )?;
        let context = format!("strata/stage: {}/{}", promotion.workflow, stage.stage);
        self.status(
            repo,
            &promotion.commit,
            &context,
            StatusState::Pending,
            &format!("applying {}", stage.environments.join(", ")),
            None,
        )
        .await;
        // A dispatched run's inputs, resolved again from what was recorded.
        let overrides = if workflow.code_only || !promotion.inputs.is_empty() {
            match workflow::resolve_inputs(workflow, &promotion.inputs) {
                Ok(overrides) => Some(overrides),
                Err(problems) => {
                    return Err(Failure(format!(
                        "the inputs of this run no longer fit `{}`: {}",
                        workflow.path,
                        problems.join("; ")
                    )));
                }
            }
        } else {
            None
        };
        let _ = run;
        let mut succeeded = true;
        for environment in &stage.environments {
            let production = governing
                .environments
                .get(environment)
                .is_some_and(|e| e.protected);
            let deployment = self
                .start_deployment(repo, promotion, &stage.stage, environment, production)
                .await;
            let deployed = self.state.deployed(&full_name, environment)?;
            let base = match &deployed {
                Some(deployed) => deployed.commit.clone(),
                None => promotion.base.clone(),
            };
            let reviewed = match promotion.pr {
                Some(pr) if overrides.is_none() => self
                    .state
                    .plan(&full_name, pr, environment)?
                    .and_then(|saved| serde_json::from_str(&saved.plan_json).ok()),
                _ => None,
            };
            let trigger = match promotion.pr {
                Some(pr) if promotion.dispatched => format!(
                    "stage `{}` of workflow `{}`, dispatched from #{pr}",
                    stage.stage, promotion.workflow
                ),
                Some(pr) => format!(
                    "stage `{}` of workflow `{}` for the merge of #{pr}",
                    stage.stage, promotion.workflow
                ),
                None => format!(
                    "stage `{}` of workflow `{}` at `{}`",
                    stage.stage,
                    promotion.workflow,
                    comment::short(&promotion.commit)
                ),
            };
            let ok = self
                .apply(ApplyRequest {
                    repo: repo.clone(),
                    clone_url: promotion.clone_url.clone(),
                    pr: promotion.pr,
                    environment: environment.clone(),
                    head_sha: promotion.commit.clone(),
                    status_sha: promotion.commit.clone(),
                    base,
                    reviewed,
                    reviewed_is_hint: true,
                    // A run asked for again compares with what each stack
                    // runs in the cloud, so hand edits are undone.
                    trusted_base: deployed.is_some()
                        && !(promotion.dispatched && overrides.is_none()),
                    stacks: stage.stacks.clone(),
                    overrides: overrides.clone(),
                    trigger,
                    // A dispatch (or a scheduled apply) asked for this
                    // commit again: it is applied again, not skipped.
                    heal: promotion.dispatched,
                    notify: workflow.notify.clone(),
                })
                .await;
            let ok = match ok {
                Ok(ok) => ok,
                Err(failure) => {
                    tracing::error!(%failure, environment = %environment, "stage apply failed");
                    false
                }
            };
            if let Some(id) = deployment {
                let (state, words) = if ok {
                    (DeploymentState::Success, "applied")
                } else {
                    (DeploymentState::Failure, "the apply failed")
                };
                self.deployment_status(repo, id, state, words, promotion.pr)
                    .await;
            }
            if !ok {
                succeeded = false;
                break;
            }
        }
        let state = if succeeded {
            StageState::Succeeded
        } else {
            StageState::Failed
        };
        self.state.record_stage(
            &full_name,
            &promotion.workflow,
            &promotion.commit,
            &stage.stage,
            state,
            SystemTime::now(),
        )?;
        let (status, words) = if succeeded {
            (StatusState::Success, "applied".to_owned())
        } else {
            (
                StatusState::Failure,
                format!("failed; later stages of `{}` stop", promotion.workflow),
            )
        };
        self.status(repo, &promotion.commit, &context, status, &words, None)
            .await;
        Ok(())
    }

    /// A GitHub deployment for `environment` (queued, then in progress):
    /// the repository's Environments page shows it. A failure is logged.
    async fn start_deployment(
        &self,
        repo: &Repo,
        promotion: &Promotion,
        stage: &str,
        environment: &str,
        production: bool,
    ) -> Option<crate::forge::DeploymentId> {
        let request = NewDeployment {
            sha: promotion.commit.clone(),
            environment: environment.to_owned(),
            description: format!("stage `{stage}` of workflow `{}`", promotion.workflow),
            production,
            payload: serde_json::json!({
                "workflow": promotion.workflow,
                "stage": stage,
                "pr": promotion.pr,
            }),
        };
        match self.forge.create_deployment(repo, &request).await {
            Ok(id) => {
                self.deployment_status(
                    repo,
                    id,
                    DeploymentState::InProgress,
                    "applying",
                    promotion.pr,
                )
                .await;
                Some(id)
            }
            Err(error) => {
                tracing::warn!(%error, environment, "cannot create the GitHub deployment");
                None
            }
        }
    }

    async fn deployment_status(
        &self,
        repo: &Repo,
        id: crate::forge::DeploymentId,
        state: DeploymentState,
        description: &str,
        pr: Option<u64>,
    ) {
        let log_url = pr.map(|pr| format!("https://github.com/{}/pull/{pr}", repo.full_name()));
        if let Err(error) = self
            .forge
            .set_deployment_status(repo, id, state, description, log_url.as_deref())
            .await
        {
            tracing::warn!(%error, "cannot set the deployment's status");
        }
    }

    /// What the workflow layer needs to decide on `promotion`.
    async fn facts(
        &self,
        repo: &Repo,
        promotion: &Promotion,
        governing: &Governing,
    ) -> Result<Facts, Failure> {
        let full_name = repo.full_name();
        let stages = self.stage_records(&full_name, &promotion.workflow, &promotion.commit)?;
        let released = self
            .state
            .released_stages(&full_name, &promotion.workflow, &promotion.commit)?
            .into_iter()
            .map(|(stage, _)| stage)
            .collect();
        let mut approvers: BTreeSet<String> = self
            .state
            .promotion_approvals(&full_name, &promotion.workflow, &promotion.commit)?
            .into_iter()
            .collect();
        let mut author = None;
        if let Some(pr) = promotion.pr {
            match self.forge.pull_request(repo, pr).await {
                Ok(pull_request) => author = Some(pull_request.author),
                Err(error) => tracing::warn!(%error, pr, "cannot read the pull request"),
            }
            match self.forge.reviews(repo, pr).await {
                Ok(reviews) => approvers.extend(approving_reviewers(&reviews)),
                Err(error) => tracing::warn!(%error, pr, "cannot read the reviews"),
            }
        }
        let approvals = self
            .approvals(approvers, &governing.workflows.teams())
            .await;
        let checks = self.check_states(repo, &promotion.commit).await;
        Ok(Facts {
            now: timestamp(SystemTime::now()),
            default_branch: promotion.branch.clone(),
            run: Some(RunFacts {
                workflow: promotion.workflow.clone(),
                commit: promotion.commit.clone(),
                touched: promotion.touched.iter().cloned().collect(),
                stages,
                approvals,
                author,
                mergeable: Some(true),
                up_to_date: Some(true),
                checks,
                released,
                origin: if promotion.dispatched {
                    workflow::Origin::Dispatch
                } else {
                    workflow::Origin::Branch
                },
                inputs: promotion.inputs.clone(),
            }),
        })
    }

    /// What the state database recorded of the stages of `workflow` at
    /// `commit`, as the workflow layer reads it.
    fn stage_records(
        &self,
        repo: &str,
        workflow: &str,
        commit: &str,
    ) -> Result<BTreeMap<String, StageRecord>, Failure> {
        Ok(self
            .state
            .stages(repo, workflow, commit)?
            .into_iter()
            .map(|row| {
                let status = match row.state {
                    StageState::Running => StageStatus::Running,
                    StageState::Succeeded => StageStatus::Succeeded,
                    StageState::Failed => StageStatus::Failed,
                };
                (
                    row.stage,
                    StageRecord {
                        status,
                        finished_at: row.finished_at.map(timestamp),
                    },
                )
            })
            .collect())
    }

    /// Each approver with the gates' teams they are an active member of.
    pub(super) async fn approvals(
        &self,
        approvers: BTreeSet<String>,
        teams: &BTreeSet<String>,
    ) -> Vec<Approval> {
        let mut approvals = Vec::new();
        for user in approvers {
            let mut member_of = BTreeSet::new();
            for team in teams {
                let Some((org, slug)) = team.split_once('/') else {
                    continue;
                };
                match self.forge.team_member(org, slug, &user).await {
                    Ok(true) => {
                        member_of.insert(team.clone());
                    }
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, user, team, "cannot check team membership; not counting it")
                    }
                }
            }
            approvals.push(Approval {
                user,
                teams: member_of,
            });
        }
        approvals
    }

    /// The commit's statuses and check runs by name.
    pub(super) async fn check_states(
        &self,
        repo: &Repo,
        sha: &str,
    ) -> BTreeMap<String, CheckState> {
        match self.forge.checks(repo, sha).await {
            Ok(checks) => checks
                .into_iter()
                .map(|c| {
                    let state = match c.state {
                        crate::forge::CheckState::Pending => CheckState::Pending,
                        crate::forge::CheckState::Success => CheckState::Success,
                        crate::forge::CheckState::Failure => CheckState::Failure,
                    };
                    (c.name, state)
                })
                .collect(),
            Err(error) => {
                tracing::warn!(%error, sha, "cannot read the commit's checks");
                BTreeMap::new()
            }
        }
    }

    /// Say where the promotion stands: one comment on its pull request
    /// (edited in place) and a commit status per waiting stage.
    async fn report_promotion(
        &self,
        repo: &Repo,
        promotion: &Promotion,
        run: &RunDecision,
        held_by_locks: &BTreeMap<String, String>,
    ) {
        let lines = stage_lines(run, held_by_locks);
        for (stage, line) in run.stages.iter().zip(&lines) {
            if let Verdict::Waiting(_) = stage.verdict {
                self.status(
                    repo,
                    &promotion.commit,
                    &format!("strata/stage: {}/{}", promotion.workflow, stage.stage),
                    StatusState::Pending,
                    &line.state,
                    None,
                )
                .await;
            }
        }
        let Some(pr) = promotion.pr else {
            return;
        };
        let marker = comment::promotion_marker(&promotion.workflow, &promotion.commit);
        let body = comment::promotion_comment(&comment::PromotionComment {
            marker: &marker,
            workflow: &promotion.workflow,
            commit: &promotion.commit,
            stages: &lines,
        });
        if let Err(error) = self.forge.upsert_comment(repo, pr, &marker, &body).await {
            tracing::warn!(%error, "cannot update the promotion comment");
        }
    }

    /// Remember to advance `key` at `at` (the earliest wins).
    fn wake_at(&self, key: PromotionKey, at: SystemTime) {
        let mut wakes = super::lock(&self.wakes);
        let entry = wakes.entry(key).or_insert(at);
        if at < *entry {
            *entry = at;
        }
    }

    fn forget_wake(&self, key: &PromotionKey) {
        super::lock(&self.wakes).remove(key);
    }

    /// Advance the promotions whose soak time or deploy window has come.
    /// `strata serve` calls this every second; tests call it when they like.
    pub async fn tick(&self) {
        let now = SystemTime::now();
        let due: Vec<PromotionKey> = {
            let mut wakes = super::lock(&self.wakes);
            let due: Vec<_> = wakes
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(k, _)| k.clone())
                .collect();
            for key in &due {
                wakes.remove(key);
            }
            due
        };
        for (repo, workflow, commit) in due {
            match self.state.promotion(&repo, &workflow, &commit) {
                Ok(Some(promotion)) if promotion.active => {
                    if let Err(failure) = self.advance(promotion).await {
                        tracing::error!(%failure, repo, workflow, commit, "cannot advance a promotion");
                    }
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read a promotion"),
            }
        }
    }

    /// After a restart: a stage the last process left running failed with
    /// it (its apply is reported as interrupted); promotions that wait for a
    /// time are woken by the next tick.
    pub(super) async fn reconcile_promotions(&self) {
        let promotions = match self.state.active_promotions(None) {
            Ok(promotions) => promotions,
            Err(error) => {
                tracing::warn!(%error, "cannot list the active promotions");
                return;
            }
        };
        for promotion in promotions {
            if let Ok(stages) =
                self.state
                    .stages(&promotion.repo, &promotion.workflow, &promotion.commit)
            {
                for stage in stages.iter().filter(|s| s.state == StageState::Running) {
                    let _ = self.state.record_stage(
                        &promotion.repo,
                        &promotion.workflow,
                        &promotion.commit,
                        &stage.stage,
                        StageState::Failed,
                        SystemTime::now(),
                    );
                }
            }
            self.wake_at(key(&promotion), SystemTime::now());
        }
    }

    /// Advance every active promotion of `repo` (a lock was released, a
    /// command or an approval arrived), or of every repository.
    pub(super) async fn resume(&self, repo: Option<&str>) {
        let promotions = match self.state.active_promotions(repo) {
            Ok(promotions) => promotions,
            Err(error) => {
                tracing::warn!(%error, "cannot list the active promotions");
                return;
            }
        };
        for promotion in promotions {
            if let Err(failure) = self.advance(promotion).await {
                tracing::error!(%failure, "cannot advance a promotion");
            }
        }
    }
}

/// The users whose latest verdict on a pull request approves it.
fn approving_reviewers(reviews: &[crate::forge::Review]) -> BTreeSet<String> {
    let mut latest: BTreeMap<&str, crate::forge::ReviewState> = BTreeMap::new();
    for review in reviews {
        if review.state != crate::forge::ReviewState::Comment {
            latest.insert(&review.user, review.state);
        }
    }
    latest
        .into_iter()
        .filter(|(_, state)| *state == crate::forge::ReviewState::Approved)
        .map(|(user, _)| user.to_owned())
        .collect()
}

/// The rows of the stages table.
pub(super) fn stage_lines(
    run: &RunDecision,
    held_by_locks: &BTreeMap<String, String>,
) -> Vec<comment::StageLine> {
    run.stages
        .iter()
        .map(|stage| {
            let state = match (&stage.verdict, held_by_locks.get(&stage.stage)) {
                (_, Some(why)) => format!("🔒 {why}"),
                (Verdict::Done, _) => "✅ done".to_owned(),
                (Verdict::Running, _) => "⏳ applying".to_owned(),
                (Verdict::Failed, _) => "❌ failed".to_owned(),
                (Verdict::Run, _) => "▶️ next".to_owned(),
                (Verdict::Waiting(waits), _) => format!(
                    "⏸️ {}",
                    waits
                        .iter()
                        .map(Wait::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                (Verdict::Blocked(why), _) => format!("⛔ {why}"),
                (Verdict::Skipped(why), _) => format!("➖ {why}"),
            };
            comment::StageLine {
                workflow: run.workflow.clone(),
                stage: stage.stage.clone(),
                environments: stage.environments.clone(),
                state,
            }
        })
        .collect()
}

impl Worker {
    /// The gates of the base branch's workflows for `/strata apply` of
    /// `environments` on an open pull request: for each environment the
    /// (workflow, stage, the workflow's `[notify]`) that deploys it, or a refusal naming what every
    /// held stage still waits for.
    pub(super) async fn command_gates(
        &self,
        pr: &super::PrRef,
        pull_request: &crate::forge::PullRequest,
        user: &str,
        environments: &[String],
        tip: &str,
        merged: &str,
    ) -> Result<Result<BTreeMap<String, (String, String, Option<workflow::Notify>)>, String>, Failure>
    {
        let full_name = pr.repo.full_name();
        let governing = self.governing(&pr.repo, tip, merged, &pr.base_ref).await?;
        let mirror = self.mirrors.path(&pr.repo.owner, &pr.repo.name);
        let (head, base_tip) = (pr.head_sha.clone(), tip.to_owned());
        let up_to_date = blocking(move || {
            let repository = Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
            Ok(base_tip == "none"
                || repository
                    .is_ancestor(&base_tip, &head)
                    .map_err(|e| Failure(e.to_string()))?)
        })
        .await?;
        let approvers = match self.forge.reviews(&pr.repo, pr.number).await {
            Ok(reviews) => approving_reviewers(&reviews),
            Err(error) => {
                tracing::warn!(%error, "cannot read the reviews");
                BTreeSet::new()
            }
        };
        let approvals = self
            .approvals(approvers, &governing.workflows.teams())
            .await;
        let checks = self.check_states(&pr.repo, &pr.head_sha).await;
        let mut chosen = BTreeMap::new();
        let mut refusals = Vec::new();
        for environment in environments {
            let Some(workflow) = governing.workflows.workflows.iter().find(|w| {
                w.on.command
                    && w.stages
                        .iter()
                        .any(|s| s.environments.iter().any(|e| e == environment))
            }) else {
                let names: Vec<&str> = governing
                    .workflows
                    .workflows
                    .iter()
                    .map(|w| w.path.as_str())
                    .collect();
                refusals.push(format!(
                    "no workflow lets `/strata apply` deploy `{environment}` (none of {} has `[on.command]` and a stage with it)",
                    names.join(", ")
                ));
                continue;
            };
            let stages = self.stage_records(&full_name, &workflow.name, merged)?;
            let facts = Facts {
                now: timestamp(SystemTime::now()),
                default_branch: pr.base_ref.clone(),
                run: Some(RunFacts {
                    workflow: workflow.name.clone(),
                    commit: merged.to_owned(),
                    touched: environments.iter().cloned().collect(),
                    stages,
                    approvals: approvals.clone(),
                    author: Some(pull_request.author.clone()),
                    mergeable: pull_request.mergeable,
                    up_to_date: Some(up_to_date),
                    checks: checks.clone(),
                    released: BTreeSet::new(),
                    origin: workflow::Origin::PullRequest,
                    inputs: BTreeMap::new(),
                }),
            };
            let event = workflow::Event::Command {
                environment: Some(environment.clone()),
                user: user.to_owned(),
            };
            let decision = workflow::decide(&governing.workflows, &event, &facts);
            refusals.extend(decision.refusals.iter().cloned());
            let stage = decision
                .runs
                .iter()
                .filter(|r| r.workflow == workflow.name)
                .flat_map(|r| &r.stages)
                .find(|s| s.environments.iter().any(|e| e == environment));
            match stage.map(|s| (&s.stage, &s.verdict)) {
                Some((stage, Verdict::Run | Verdict::Done | Verdict::Failed)) => {
                    chosen.insert(
                        environment.clone(),
                        (
                            workflow.name.clone(),
                            stage.clone(),
                            workflow.notify.clone(),
                        ),
                    );
                }
                Some((stage, Verdict::Waiting(waits))) => refusals.push(format!(
                    "`{environment}` (stage `{stage}` of `{}`) {}",
                    workflow.path,
                    waits
                        .iter()
                        .map(Wait::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                Some((stage, Verdict::Blocked(why))) => refusals.push(format!(
                    "`{environment}` (stage `{stage}` of `{}`) cannot run: {why}",
                    workflow.path
                )),
                Some((_, Verdict::Running)) => {
                    refusals.push(format!("`{environment}` is being applied already"));
                }
                Some((_, Verdict::Skipped(_))) | None => {
                    chosen.insert(
                        environment.clone(),
                        (workflow.name.clone(), String::new(), None),
                    );
                }
            }
        }
        chosen.retain(|_, (_, stage, _)| !stage.is_empty());
        if refusals.is_empty() {
            Ok(Ok(chosen))
        } else {
            Ok(Err(format!(
                "not applied; the workflows on `{}` hold it:\n{}",
                pr.base_ref,
                refusals
                    .iter()
                    .map(|r| format!("- {r}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            )))
        }
    }

    /// What merging pull request `pr` would start, stage by stage, by the
    /// base branch's workflows: for the plan comment. Empty when it cannot
    /// be told (the failure is logged; the plan stands without it).
    pub(super) async fn preview_stages(
        &self,
        pr: &super::PrRef,
        tip: &str,
        merged: &str,
        touched: BTreeSet<String>,
    ) -> Vec<comment::StageLine> {
        if touched.is_empty() {
            return Vec::new();
        }
        let governing = match self
            .governing(&pr.repo, tip, merged, &pr.default_branch)
            .await
        {
            Ok(governing) => governing,
            Err(failure) => {
                tracing::warn!(%failure, "cannot preview the promotion");
                return Vec::new();
            }
        };
        let event = workflow::Event::PullRequest {
            base_branch: pr.base_ref.clone(),
            touched,
        };
        let facts = Facts {
            now: timestamp(SystemTime::now()),
            default_branch: pr.default_branch.clone(),
            run: None,
        };
        workflow::decide(&governing.workflows, &event, &facts)
            .runs
            .iter()
            .flat_map(|run| stage_lines(run, &BTreeMap::new()))
            .filter(|line| !line.state.starts_with('➖'))
            .map(|mut line| {
                if matches!(line.state.as_str(), "▶️ next") {
                    line.state = "▶️ runs when merged".to_owned();
                }
                line
            })
            .collect()
    }

    /// The active promotions reporting on pull request `pr`.
    fn promotions_of(&self, pr: &super::PrRef) -> Result<Vec<Promotion>, Failure> {
        Ok(self
            .state
            .promotions_of_pr(&pr.repo.full_name(), pr.number)?
            .into_iter()
            .filter(|p| p.active)
            .collect())
    }

    /// `/strata apply [ENV]` on a merged pull request: release the stages
    /// of its promotion that wait for a command, then advance it.
    pub(super) async fn release_stages(
        &self,
        pr: &super::PrRef,
        user: &str,
        only: Option<String>,
    ) -> Result<super::Answer, Failure> {
        let promotions = self.promotions_of(pr)?;
        let mut released = Vec::new();
        for promotion in &promotions {
            let governing = self
                .governing(
                    &pr.repo,
                    &promotion.base,
                    &promotion.commit,
                    &promotion.branch,
                )
                .await?;
            let Some(workflow) = governing.workflows.get(&promotion.workflow) else {
                continue;
            };
            for stage in &workflow.stages {
                let named = only
                    .as_ref()
                    .is_none_or(|env| stage.environments.iter().any(|e| e == env));
                if named && stage.when == workflow::When::Command {
                    self.state.release_stage(
                        &promotion.repo,
                        &promotion.workflow,
                        &promotion.commit,
                        &stage.name,
                        user,
                        SystemTime::now(),
                    )?;
                    released.push(format!("`{}` of `{}`", stage.name, promotion.workflow));
                }
            }
        }
        if released.is_empty() {
            return Ok(super::Answer::Refused(match &only {
                Some(env) => format!(
                    "no stage of #{}'s promotion deploys `{env}` on command.",
                    pr.number
                ),
                None => format!(
                    "no stage of #{}'s promotion waits for a command.",
                    pr.number
                ),
            }));
        }
        for promotion in promotions {
            self.advance(promotion).await?;
        }
        Ok(super::Answer::Done(Some(format!(
            "released stage {}; the promotion comment shows what each still waits for.",
            released.join(", ")
        ))))
    }

    /// `/strata approve [ENV]` on a merged pull request: record the user's
    /// approval of its promotion (whether it counts is the gates' call: the
    /// reply says when it does not), then advance it.
    pub(super) async fn approve_stages(
        &self,
        pr: &super::PrRef,
        author: &str,
        user: &str,
        only: Option<String>,
    ) -> Result<super::Answer, Failure> {
        if user == author {
            return Ok(super::Answer::Refused(format!(
                "the author of #{}'s approval never counts; ask a reviewer.",
                pr.number
            )));
        }
        let promotions = self.promotions_of(pr)?;
        if promotions.is_empty() {
            return Ok(super::Answer::Refused(format!(
                "#{} has no promotion waiting.",
                pr.number
            )));
        }
        let mut counted = Vec::new();
        let mut not_counted = Vec::new();
        for promotion in &promotions {
            let governing = self
                .governing(
                    &pr.repo,
                    &promotion.base,
                    &promotion.commit,
                    &promotion.branch,
                )
                .await?;
            let Some(workflow) = governing.workflows.get(&promotion.workflow) else {
                continue;
            };
            let teams = governing.workflows.teams();
            let me = self
                .approvals(std::iter::once(user.to_owned()).collect(), &teams)
                .await;
            let Some(me) = me.first() else { continue };
            for stage in &workflow.stages {
                let named = only
                    .as_ref()
                    .is_none_or(|env| stage.environments.iter().any(|e| e == env));
                let Some(approvals) = stage.gates.approvals.as_ref().filter(|_| named) else {
                    continue;
                };
                let counts = approvals.from.iter().any(|approver| match approver {
                    workflow::Approver::User(login) => login == user,
                    team @ workflow::Approver::Team { .. } => me.teams.contains(&team.to_string()),
                });
                let who = approvals
                    .from
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                if counts {
                    counted.push(format!("`{}`", stage.name));
                } else {
                    not_counted.push(format!("`{}` (it counts approvals from {who})", stage.name));
                }
            }
            self.state.approve_promotion(
                &promotion.repo,
                &promotion.workflow,
                &promotion.commit,
                user,
                SystemTime::now(),
            )?;
        }
        for promotion in promotions {
            self.advance(promotion).await?;
        }
        if counted.is_empty() {
            return Ok(super::Answer::Refused(if not_counted.is_empty() {
                "no stage of this promotion asks for approvals.".to_owned()
            } else {
                format!(
                    "your approval does not count for {}.",
                    not_counted.join(", ")
                )
            }));
        }
        Ok(super::Answer::Done(Some(format!(
            "approved stage {}.",
            counted.join(", ")
        ))))
    }

    /// `/strata run WORKFLOW k=v`: a promotion of the default branch's tip
    /// with inputs, reported on this pull request.
    pub(super) async fn dispatch(
        &self,
        pr: &super::PrRef,
        default_branch: &str,
        workflow_name: &str,
        inputs: BTreeMap<String, String>,
        user: &str,
    ) -> Result<super::Answer, Failure> {
        let full_name = pr.repo.full_name();
        let mirror = self.sync(&pr.repo, &pr.clone_url).await?;
        let branch = default_branch.to_owned();
        let tip = {
            let _turn = self.repos.lock(&full_name).await;
            let reference = format!("refs/heads/{branch}");
            blocking(move || {
                let repository =
                    Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
                Ok(repository
                    .resolve(&reference)
                    .map_err(|e| Failure(e.to_string()))?
                    .id)
            })
            .await?
        };
        let governing = self.governing(&pr.repo, &tip, &tip, default_branch).await?;
        let all: BTreeSet<String> = governing
            .workflows
            .get(workflow_name)
            .map(|w| {
                w.stages
                    .iter()
                    .flat_map(|s| s.environments.iter().cloned())
                    .collect()
            })
            .unwrap_or_default();
        let facts = Facts {
            now: timestamp(SystemTime::now()),
            default_branch: default_branch.to_owned(),
            run: Some(RunFacts {
                workflow: workflow_name.to_owned(),
                commit: tip.clone(),
                touched: all.clone(),
                stages: BTreeMap::new(),
                approvals: Vec::new(),
                author: None,
                mergeable: Some(true),
                up_to_date: Some(true),
                checks: BTreeMap::new(),
                released: BTreeSet::new(),
                origin: workflow::Origin::Dispatch,
                inputs: inputs.clone(),
            }),
        };
        let event = workflow::Event::Dispatch {
            workflow: workflow_name.to_owned(),
            inputs: inputs.clone(),
            user: user.to_owned(),
        };
        let decision = workflow::decide(&governing.workflows, &event, &facts);
        if !decision.refusals.is_empty() {
            return Ok(super::Answer::Refused(decision.refusals.join("\n")));
        }
        let Some(workflow) = governing.workflows.get(workflow_name) else {
            return Ok(super::Answer::Refused(format!(
                "there is no workflow `{workflow_name}`"
            )));
        };
        let touched: Vec<String> = all.into_iter().collect();
        let (promotion, _) = self.state.restart_promotion(
            &NewPromotion {
                repo: &full_name,
                workflow: workflow_name,
                commit: &tip,
                pr: Some(pr.number),
                branch: default_branch,
                clone_url: &pr.clone_url,
                base: &tip,
                touched: &touched,
                inputs: &inputs,
                dispatched: true,
            },
            SystemTime::now(),
        )?;
        // The dispatch is the command its `when = "command"` stages wait for.
        for stage in &workflow.stages {
            if stage.when == workflow::When::Command {
                self.state.release_stage(
                    &full_name,
                    workflow_name,
                    &tip,
                    &stage.name,
                    user,
                    SystemTime::now(),
                )?;
            }
        }
        self.advance(promotion).await?;
        Ok(super::Answer::Done(Some(format!(
            "dispatched `{workflow_name}` at `{}`; the promotion comment follows its stages.",
            comment::short(&tip)
        ))))
    }
}
