//! Deciding: given an [`Event`], the [`Workflows`] and the [`Facts`] the
//! caller recorded, what to plan, which stages of which runs go now, and what
//! every other stage still waits for.
//!
//! A *run* is one workflow at one commit. Its stages are evaluated in the
//! order they are declared: a stage that ran at the commit shows its record;
//! one whose environments the change does not touch is skipped; one whose
//! `after` failed is blocked; otherwise every gate that still holds it is
//! listed (not just the first), and a stage with none runs. The caller
//! executes `Run` stages, records what happened, and asks again (a
//! [`Event::Tick`] when a soak or window passes: see
//! [`RunDecision::next_wake`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use super::time::{format_duration, format_instant};
use super::{
    Approvals, Approver, ScheduleAction, StackFilter, Timestamp, When, Workflow, Workflows,
};
use crate::config::suggest;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A pull request was opened or pushed to. `touched`: the environments
    /// its change touches.
    PullRequest {
        /// The branch it merges into.
        base_branch: String,
        /// The environments its change touches.
        touched: BTreeSet<String>,
    },
    /// New commits on `branch` (oldest first), each with the environments it
    /// touches relative to what is deployed. A merge and the push it makes
    /// are the same event to the layer.
    Push {
        /// The branch: `main`.
        branch: String,
        /// The new commits, oldest first.
        commits: Vec<Commit>,
    },
    /// `/strata apply [ENV]` on an open pull request (an apply before merge:
    /// [`Origin::PullRequest`]), or on a merged one (to release a stage that
    /// waits for a command). The run is `facts.run`.
    Command {
        /// The environment named, if any.
        environment: Option<String>,
        /// Who commented.
        user: String,
    },
    /// `strata run WORKFLOW` / `/strata run WORKFLOW k=v`, at `facts.run.commit`.
    Dispatch {
        /// The workflow's name.
        workflow: String,
        /// The inputs given.
        inputs: BTreeMap<String, String>,
        /// Who asked.
        user: String,
    },
    /// Time passed: re-check `facts.run`'s waiting stages (soaks, windows).
    Tick,
    /// Scheduled triggers due in `(since, facts.now]`.
    Schedule {
        /// The last time schedules were checked.
        since: Timestamp,
    },
}

/// One commit of a push.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Commit {
    /// Its sha.
    pub sha: String,
    /// The environments it touches.
    pub touched: BTreeSet<String>,
}

/// What is known when deciding (given by the caller; the layer reads nothing
/// itself).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The time now.
    pub now: Timestamp,
    /// The repository's default branch.
    pub default_branch: String,
    /// For `Command`, `Dispatch` and `Tick`: the run (its commit, what it
    /// touches, what happened so far). For `Push`: the history of the run
    /// whose workflow and commit match, if any. For `PullRequest`: the pull
    /// request's approvals and checks, for the preview.
    pub run: Option<RunFacts>,
}

/// What is known of one run (one workflow at one commit).
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    /// The workflow whose run this is (runs are per workflow and commit).
    /// For a `Command` it may be empty: the layer then picks the first
    /// workflow with `[on.command]` that deploys the environment, and the
    /// [`RunDecision`] names it.
    pub workflow: String,
    /// The commit.
    pub commit: String,
    /// The environments the commit touches.
    pub touched: BTreeSet<String>,
    /// What already happened at this commit, by stage name.
    pub stages: BTreeMap<String, StageRecord>,
    /// Approving reviews of the pull request.
    pub approvals: Vec<Approval>,
    /// The pull request's author, who never counts as an approver.
    pub author: Option<String>,
    /// Whether the pull request merges cleanly (`None`: unknown).
    pub mergeable: Option<bool>,
    /// Whether the pull request is up to date with its base branch.
    pub up_to_date: Option<bool>,
    /// Commit statuses and check runs, by name.
    pub checks: BTreeMap<String, CheckState>,
    /// Stages a command released (`when = "command"` satisfied); record
    /// [`RunDecision::released`] here.
    pub released: BTreeSet<String>,
    /// What kind of run it is.
    pub origin: Origin,
    /// The inputs a dispatch gave (record [`Event::Dispatch`]'s inputs, so a
    /// later `Tick` resolves the same overrides).
    pub inputs: BTreeMap<String, String>,
}

/// What started a run; it changes how gates count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A commit on a branch (a merge, a push, a scheduled apply, or a
    /// command on a merged pull request): `when = "auto"` stages run by
    /// themselves; `mergeable` and `up_to_date` pass (the change is merged).
    #[default]
    Branch,
    /// The head of an open pull request (an apply before merge): every stage
    /// runs only when a command names it; `mergeable`, `up_to_date` and the
    /// gates of `[on.command]` apply.
    PullRequest,
    /// A dispatch: every stage's environments, `when = "command"` counts as
    /// released.
    Dispatch,
}

/// An approving review.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Approval {
    /// The reviewer's login.
    pub user: String,
    /// The teams (`org/slug`) the reviewer is an active member of, among
    /// [`Workflows::teams`].
    pub teams: BTreeSet<String>,
}

/// A commit status or check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    /// Not finished (or not reported yet).
    Pending,
    /// Green.
    Success,
    /// Red (failure, error, cancelled, timed out).
    Failure,
}

/// What happened to a stage at a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageRecord {
    /// How it went.
    pub status: StageStatus,
    /// When it finished (for soaks).
    pub finished_at: Option<Timestamp>,
}

/// How a stage went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Being applied.
    Running,
    /// Applied.
    Succeeded,
    /// Failed.
    Failed,
}

/// The decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// Environments to plan (pull requests), sorted.
    pub plan: Vec<String>,
    /// Runs: one per (workflow, commit) the event starts or advances.
    pub runs: Vec<RunDecision>,
    /// Scheduled actions due (`Schedule` events).
    pub scheduled: Vec<Scheduled>,
    /// Why nothing happened, or what was refused, in words (unknown
    /// workflow, bad input, ...).
    pub refusals: Vec<String>,
}

/// What to do in one run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunDecision {
    /// The workflow.
    pub workflow: String,
    /// The commit (empty in a pull request's preview of its merge).
    pub commit: String,
    /// Stages deploy parameters only, keeping each stack's deployed template.
    pub code_only: bool,
    /// Input values resolved (defaults applied, validated) with their targets.
    pub overrides: Vec<Override>,
    /// Every stage of the workflow, in order.
    pub stages: Vec<StageDecision>,
    /// What kind of run it is (record it in [`RunFacts::origin`]).
    pub origin: Origin,
    /// The stages released by a command so far, this event's included
    /// (record them in [`RunFacts::released`]).
    pub released: BTreeSet<String>,
}

impl RunDecision {
    /// The earliest time a waiting stage's window opens or soak ends: when to
    /// send a [`Event::Tick`].
    pub fn next_wake(&self) -> Option<Timestamp> {
        self.stages
            .iter()
            .filter_map(|s| match &s.verdict {
                Verdict::Waiting(waits) => Some(waits),
                _ => None,
            })
            .flatten()
            .filter_map(|w| match w {
                Wait::Window { opens_at, .. } => Some(*opens_at),
                Wait::Soak { until, .. } => Some(*until),
                _ => None,
            })
            .min()
    }

    /// The stages to apply now.
    pub fn runnable(&self) -> impl Iterator<Item = &StageDecision> {
        self.stages.iter().filter(|s| s.verdict == Verdict::Run)
    }
}

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StageDecision {
    /// The stage's name.
    pub stage: String,
    /// The stage's environments this run touches, in the stage's order.
    pub environments: Vec<String>,
    /// Which of their stacks it deploys.
    pub stacks: StackFilter,
    /// What happens to it.
    pub verdict: Verdict,
}

/// What happens to a stage.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict", content = "why")]
pub enum Verdict {
    /// Succeeded at this commit.
    Done,
    /// Being applied.
    Running,
    /// Failed at this commit.
    Failed,
    /// Every gate passes: the executor applies it now.
    Run,
    /// Held by every gate listed (not just the first).
    Waiting(Vec<Wait>),
    /// Cannot happen at this commit (an earlier stage failed, ...).
    Blocked(String),
    /// Nothing to do ("changes none of its environments").
    Skipped(String),
}

/// Something a stage waits for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "wait")]
pub enum Wait {
    /// An earlier stage has not succeeded yet.
    After {
        /// That stage.
        stage: String,
    },
    /// `when = "command"` (or a run before merge): waits for
    /// `/strata apply ENV` with one of these environments.
    Command {
        /// The stage's environments this run touches.
        environments: Vec<String>,
    },
    /// Not enough approving reviews.
    Approvals {
        /// Distinct approvals that count.
        have: u32,
        /// How many are needed.
        need: u32,
        /// Whose count (anyone's when empty).
        from: Vec<Approver>,
    },
    /// The pull request does not merge cleanly (or it is not known yet).
    Mergeable,
    /// The pull request is behind its base branch.
    UpToDate,
    /// Named checks are not all green.
    Checks {
        /// Not finished, or not reported.
        pending: Vec<String>,
        /// Red.
        failed: Vec<String>,
    },
    /// The deploy window is closed.
    Window {
        /// When it opens next.
        opens_at: Timestamp,
        /// The window's time zone, to write `opens_at` in.
        timezone: String,
    },
    /// Soaking after an earlier stage.
    Soak {
        /// When the soak ends.
        until: Timestamp,
        /// The stage it soaks after (the last of `after` to finish).
        after: String,
        /// The soak time (`gates.soak`).
        soak: Duration,
    },
}

/// An input's value and what it sets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Override {
    /// The input's name.
    pub input: String,
    /// Its value.
    pub value: String,
    /// The parameter name patterns it sets (`*ImageTag`).
    pub parameters: Vec<String>,
    /// The stacks whose parameters it sets.
    pub stacks: Vec<String>,
}

/// A schedule that is due.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Scheduled {
    /// The workflow.
    pub workflow: String,
    /// What to do.
    pub action: ScheduleAction,
    /// The workflow's environments (every stage's), in stage order.
    pub environments: Vec<String>,
    /// The branch whose tip it acts on: the workflow's single `[on.push]`
    /// branch when it names exactly one, else the default branch.
    pub branch: String,
    /// A drift check heals what it finds (`heal = true`).
    pub heal: bool,
}

/// Decide what `event` means under `workflows`, given `facts`.
pub fn decide(workflows: &Workflows, event: &Event, facts: &Facts) -> Decision {
    let mut decision = Decision::default();
    match event {
        Event::PullRequest {
            base_branch,
            touched,
        } => pull_request(workflows, base_branch, touched, facts, &mut decision),
        Event::Push { branch, commits } => push(workflows, branch, commits, facts, &mut decision),
        Event::Command { environment, user } => {
            command(
                workflows,
                environment.as_deref(),
                user,
                facts,
                &mut decision,
            );
        }
        Event::Dispatch {
            workflow,
            inputs,
            user,
        } => dispatch(workflows, workflow, inputs, user, facts, &mut decision),
        Event::Tick => tick(workflows, facts, &mut decision),
        Event::Schedule { since } => schedule(workflows, *since, facts, &mut decision),
    }
    decision
}

fn pull_request(
    workflows: &Workflows,
    base: &str,
    touched: &BTreeSet<String>,
    facts: &Facts,
    decision: &mut Decision,
) {
    let planned = workflows.workflows.iter().any(|w| {
        w.on.pull_request
            .as_ref()
            .is_some_and(|b| b.matches(base, &facts.default_branch))
    });
    if planned {
        decision.plan = touched.iter().cloned().collect();
    } else if !touched.is_empty() {
        decision.refusals.push(format!(
            "no workflow plans pull requests into `{base}` (`[on.pull_request]` with `branches`)"
        ));
    }
    // A preview of what the merge will do.
    for workflow in &workflows.workflows {
        let merges = workflow
            .on
            .push
            .as_ref()
            .is_some_and(|p| p.branches.matches(base, &facts.default_branch));
        if !merges || !touches_any(workflow, touched) {
            continue;
        }
        let overrides = match resolve_inputs(workflow, &BTreeMap::new()) {
            Ok(overrides) => overrides,
            Err(problems) => {
                decision.refusals.extend(problems);
                continue;
            }
        };
        decision.runs.push(evaluate(&RunInput {
            workflow,
            commit: String::new(),
            touched,
            history: None,
            pull_request: facts.run.as_ref(),
            origin: Origin::Branch,
            released: BTreeSet::new(),
            overrides,
            now: facts.now,
        }));
    }
}

fn push(
    workflows: &Workflows,
    branch: &str,
    commits: &[Commit],
    facts: &Facts,
    decision: &mut Decision,
) {
    let Some(tip) = commits.last() else {
        return;
    };
    for workflow in &workflows.workflows {
        let Some(trigger) = &workflow.on.push else {
            continue;
        };
        if !trigger.branches.matches(branch, &facts.default_branch) {
            continue;
        }
        let runs: Vec<(String, BTreeSet<String>)> = match trigger.commits {
            super::Commits::Tip => vec![(
                tip.sha.clone(),
                commits
                    .iter()
                    .flat_map(|c| c.touched.iter().cloned())
                    .collect(),
            )],
            super::Commits::Each => commits
                .iter()
                .map(|c| (c.sha.clone(), c.touched.clone()))
                .collect(),
        };
        for (commit, touched) in runs {
            if !touches_any(workflow, &touched) {
                continue;
            }
            let overrides = match resolve_inputs(workflow, &BTreeMap::new()) {
                Ok(overrides) => overrides,
                Err(problems) => {
                    decision.refusals.extend(problems);
                    break;
                }
            };
            let history = facts
                .run
                .as_ref()
                .filter(|r| r.workflow == workflow.name && r.commit == commit);
            decision.runs.push(evaluate(&RunInput {
                workflow,
                commit,
                touched: &touched,
                history,
                pull_request: history,
                origin: Origin::Branch,
                released: history.map(|r| r.released.clone()).unwrap_or_default(),
                overrides,
                now: facts.now,
            }));
        }
    }
}

fn command(
    workflows: &Workflows,
    environment: Option<&str>,
    user: &str,
    facts: &Facts,
    decision: &mut Decision,
) {
    let shown = match environment {
        Some(environment) => format!("`/strata apply {environment}`"),
        None => "`/strata apply`".to_owned(),
    };
    let Some(run) = &facts.run else {
        decision
            .refusals
            .push(format!("{shown} by @{user}: there is no commit to apply"));
        return;
    };
    let deploys = |w: &Workflow| match environment {
        Some(environment) => w
            .stages
            .iter()
            .any(|s| s.environments.iter().any(|e| e == environment)),
        None => touches_any(w, &run.touched),
    };
    let candidates: Vec<&Workflow> = workflows
        .workflows
        .iter()
        .filter(|w| w.on.command && deploys(w))
        .collect();
    if candidates.is_empty() {
        let could: Vec<String> = workflows
            .workflows
            .iter()
            .filter(|w| deploys(w))
            .map(|w| format!("`{}`", w.name))
            .collect();
        let subject = match environment {
            Some(environment) => format!("`{environment}`"),
            None => "what this change touches".to_owned(),
        };
        decision.refusals.push(if could.is_empty() {
            format!("{shown}: no workflow deploys {subject}")
        } else {
            format!(
                "{shown}: no workflow applies {subject} on a command; {} deploy{} it but {} no `[on.command]`",
                could.join(", "),
                if could.len() == 1 { "s" } else { "" },
                if could.len() == 1 { "has" } else { "have" },
            )
        });
        return;
    }
    if let Some(environment) = environment
        && !run.touched.contains(environment)
    {
        decision.refusals.push(format!(
            "{shown}: this change does not touch `{environment}`, so there is nothing to apply"
        ));
        return;
    }
    let workflow = candidates
        .iter()
        .find(|w| w.name == run.workflow)
        .copied()
        .unwrap_or(candidates[0]);
    // An empty `workflow` means the caller left the choice to the layer.
    let history = (run.workflow.is_empty() || run.workflow == workflow.name).then_some(run);
    let mut released = history.map(|r| r.released.clone()).unwrap_or_default();
    let named: Vec<&str> = workflow
        .stages
        .iter()
        .filter(|s| match environment {
            Some(environment) => s.environments.iter().any(|e| e == environment),
            None => s.environments.iter().any(|e| run.touched.contains(e)),
        })
        .map(|s| s.name.as_str())
        .collect();
    released.extend(named.iter().map(|s| (*s).to_owned()));
    let overrides = match resolve_inputs(workflow, &run.inputs) {
        Ok(overrides) => overrides,
        Err(problems) => {
            decision.refusals.extend(problems);
            return;
        }
    };
    let origin = run.origin;
    let touched = if origin == Origin::Dispatch {
        workflow.environments().into_iter().collect()
    } else {
        run.touched.clone()
    };
    let decided = evaluate(&RunInput {
        workflow,
        commit: run.commit.clone(),
        touched: &touched,
        history,
        pull_request: Some(run),
        origin,
        released,
        overrides,
        now: facts.now,
    });
    let finished: Vec<&StageDecision> = decided
        .stages
        .iter()
        .filter(|s| named.contains(&s.stage.as_str()))
        .collect();
    if !finished.is_empty()
        && finished
            .iter()
            .all(|s| matches!(s.verdict, Verdict::Done | Verdict::Running))
    {
        decision.refusals.push(format!(
            "{shown}: {} already {} at `{}`",
            ticked(finished.iter().map(|s| s.stage.as_str())),
            if finished.iter().all(|s| s.verdict == Verdict::Done) {
                "ran"
            } else {
                "running"
            },
            short(&run.commit)
        ));
    }
    decision.runs.push(decided);
}

fn dispatch(
    workflows: &Workflows,
    name: &str,
    inputs: &BTreeMap<String, String>,
    user: &str,
    facts: &Facts,
    decision: &mut Decision,
) {
    let Some(workflow) = workflows.get(name) else {
        let names: Vec<&str> = workflows
            .workflows
            .iter()
            .filter(|w| w.on.dispatch)
            .map(|w| w.name.as_str())
            .collect();
        let help = suggest::did_you_mean(name, names.iter().copied()).map_or_else(
            || {
                if names.is_empty() {
                    "no workflow has `[on.dispatch]`".to_owned()
                } else {
                    format!(
                        "workflows that can be dispatched: {}",
                        ticked(names.iter().copied())
                    )
                }
            },
            |best| format!("did you mean `{best}`?"),
        );
        decision
            .refusals
            .push(format!("there is no workflow `{name}`; {help}"));
        return;
    };
    if !workflow.on.dispatch {
        decision.refusals.push(format!(
            "workflow `{name}` cannot be dispatched: `{}` has no `[on.dispatch]`",
            workflow.path
        ));
        return;
    }
    let overrides = match resolve_inputs(workflow, inputs) {
        Ok(overrides) => overrides,
        Err(problems) => {
            decision.refusals.extend(problems);
            return;
        }
    };
    let Some(run) = &facts.run else {
        decision.refusals.push(format!(
            "workflow `{name}` dispatched by @{user}: there is no commit to run it at"
        ));
        return;
    };
    let touched: BTreeSet<String> = workflow.environments().into_iter().collect();
    let history = (run.workflow == workflow.name).then_some(run);
    decision.runs.push(evaluate(&RunInput {
        workflow,
        commit: run.commit.clone(),
        touched: &touched,
        history,
        pull_request: Some(run),
        origin: Origin::Dispatch,
        released: history.map(|r| r.released.clone()).unwrap_or_default(),
        overrides,
        now: facts.now,
    }));
}

fn tick(workflows: &Workflows, facts: &Facts, decision: &mut Decision) {
    let Some(run) = &facts.run else {
        return;
    };
    let Some(workflow) = workflows.get(&run.workflow) else {
        decision.refusals.push(format!(
            "the run of workflow `{}` at `{}` cannot go on: the workflow no longer exists",
            run.workflow,
            short(&run.commit)
        ));
        return;
    };
    let overrides = match resolve_inputs(workflow, &run.inputs) {
        Ok(overrides) => overrides,
        Err(problems) => {
            decision.refusals.extend(problems);
            return;
        }
    };
    let touched = if run.origin == Origin::Dispatch {
        workflow.environments().into_iter().collect()
    } else {
        run.touched.clone()
    };
    decision.runs.push(evaluate(&RunInput {
        workflow,
        commit: run.commit.clone(),
        touched: &touched,
        history: Some(run),
        pull_request: Some(run),
        origin: run.origin,
        released: run.released.clone(),
        overrides,
        now: facts.now,
    }));
}

fn schedule(workflows: &Workflows, since: Timestamp, facts: &Facts, decision: &mut Decision) {
    for workflow in &workflows.workflows {
        for schedule in &workflow.on.schedule {
            if !schedule.due(since, facts.now) {
                continue;
            }
            let branch = workflow
                .on
                .push
                .as_ref()
                .and_then(|p| match p.branches.branches.as_slice() {
                    [only] if !only.contains('*') => Some(only.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| facts.default_branch.clone());
            decision.scheduled.push(Scheduled {
                workflow: workflow.name.clone(),
                action: schedule.action,
                environments: workflow.environments(),
                branch,
                heal: schedule.heal,
            });
        }
    }
}

/// Whether any stage of `workflow` deploys an environment of `touched`.
fn touches_any(workflow: &Workflow, touched: &BTreeSet<String>) -> bool {
    workflow
        .stages
        .iter()
        .any(|s| s.environments.iter().any(|e| touched.contains(e)))
}

/// Everything one run's evaluation needs.
struct RunInput<'a> {
    workflow: &'a Workflow,
    commit: String,
    touched: &'a BTreeSet<String>,
    /// The run's records (stages that ran at this commit).
    history: Option<&'a RunFacts>,
    /// The pull request's approvals, author, mergeability and checks.
    pull_request: Option<&'a RunFacts>,
    origin: Origin,
    released: BTreeSet<String>,
    overrides: Vec<Override>,
    now: Timestamp,
}

fn evaluate(input: &RunInput<'_>) -> RunDecision {
    let workflow = input.workflow;
    let mut stages: Vec<StageDecision> = Vec::with_capacity(workflow.stages.len());
    for stage in &workflow.stages {
        let environments: Vec<String> = stage
            .environments
            .iter()
            .filter(|e| input.touched.contains(*e))
            .cloned()
            .collect();
        let record = input.history.and_then(|h| h.stages.get(&stage.name));
        let verdict = match record {
            Some(record) => match record.status {
                StageStatus::Succeeded => Verdict::Done,
                StageStatus::Running => Verdict::Running,
                StageStatus::Failed => Verdict::Failed,
            },
            None if environments.is_empty() => Verdict::Skipped(format!(
                "changes none of its environments ({})",
                ticked(stage.environments.iter().map(String::as_str))
            )),
            None => gate(input, stage, &environments, &stages),
        };
        stages.push(StageDecision {
            stage: stage.name.clone(),
            environments,
            stacks: stage.stacks.clone(),
            verdict,
        });
    }
    RunDecision {
        workflow: workflow.name.clone(),
        commit: input.commit.clone(),
        code_only: workflow.code_only,
        overrides: input.overrides.clone(),
        stages,
        origin: input.origin,
        released: input.released.clone(),
    }
}

/// The verdict of a stage that has not run at this commit and has something to do.
fn gate(
    input: &RunInput<'_>,
    stage: &super::Stage,
    environments: &[String],
    earlier: &[StageDecision],
) -> Verdict {
    let mut waits = Vec::new();
    let mut settled = true;
    for after in &stage.after {
        match earlier
            .iter()
            .find(|s| s.stage == *after)
            .map(|s| &s.verdict)
        {
            Some(Verdict::Done | Verdict::Skipped(_)) | None => {}
            Some(Verdict::Failed) => {
                return Verdict::Blocked(format!("`{after}` failed at this commit"));
            }
            Some(Verdict::Blocked(reason)) => return Verdict::Blocked(reason.clone()),
            Some(Verdict::Running | Verdict::Run | Verdict::Waiting(_)) => {
                settled = false;
                waits.push(Wait::After {
                    stage: after.clone(),
                });
            }
        }
    }
    let needs_release = stage.when == When::Command || input.origin == Origin::PullRequest;
    if needs_release && input.origin != Origin::Dispatch && !input.released.contains(&stage.name) {
        waits.push(Wait::Command {
            environments: environments.to_vec(),
        });
    }
    let before_merge = input.origin == Origin::PullRequest;
    let command_gates = &input.workflow.on.command_gates;
    let mut approvals: Vec<&Approvals> = stage.gates.approvals.iter().collect();
    if before_merge
        && let Some(extra) = &command_gates.approvals
        && !approvals.contains(&extra)
    {
        approvals.push(extra);
    }
    let pr = input.pull_request;
    for required in approvals {
        let have = count_approvals(required, pr);
        if have < required.count {
            waits.push(Wait::Approvals {
                have,
                need: required.count,
                from: required.from.clone(),
            });
        }
    }
    if before_merge {
        let mergeable = stage.gates.mergeable || command_gates.mergeable;
        if mergeable && pr.and_then(|p| p.mergeable) != Some(true) {
            waits.push(Wait::Mergeable);
        }
        let up_to_date = stage.gates.up_to_date || command_gates.up_to_date;
        if up_to_date && pr.and_then(|p| p.up_to_date) != Some(true) {
            waits.push(Wait::UpToDate);
        }
    }
    let mut checks: Vec<&String> = stage.gates.checks.iter().collect();
    if before_merge {
        checks.extend(
            command_gates
                .checks
                .iter()
                .filter(|c| !stage.gates.checks.contains(c)),
        );
    }
    let (mut pending, mut failed) = (Vec::new(), Vec::new());
    for check in checks {
        match pr.and_then(|p| p.checks.get(check)) {
            Some(CheckState::Success) => {}
            Some(CheckState::Failure) => failed.push(check.clone()),
            Some(CheckState::Pending) | None => pending.push(check.clone()),
        }
    }
    if !pending.is_empty() || !failed.is_empty() {
        waits.push(Wait::Checks { pending, failed });
    }
    if let Some(window) = &stage.gates.window
        && !window.is_open(input.now)
        && let Some(opens_at) = window.next_open(input.now)
    {
        waits.push(Wait::Window {
            opens_at,
            timezone: window.timezone.clone(),
        });
    }
    if let (Some(soak), true) = (stage.gates.soak, settled) {
        let last = stage
            .after
            .iter()
            .filter_map(|after| {
                let record = input.history.and_then(|h| h.stages.get(after))?;
                Some((record.finished_at?, after))
            })
            .max_by_key(|(at, _)| *at);
        if let Some((finished, after)) = last {
            let until = finished.saturating_add(i64::try_from(soak.as_secs()).unwrap_or(i64::MAX));
            if until > input.now {
                waits.push(Wait::Soak {
                    until,
                    after: after.clone(),
                    soak,
                });
            }
        }
    }
    if waits.is_empty() {
        Verdict::Run
    } else {
        Verdict::Waiting(waits)
    }
}

/// Distinct approvers, never the author, that `required.from` admits.
fn count_approvals(required: &Approvals, pr: Option<&RunFacts>) -> u32 {
    let Some(pr) = pr else {
        return 0;
    };
    let author = pr.author.as_deref().map(str::to_ascii_lowercase);
    let users: BTreeSet<String> = pr
        .approvals
        .iter()
        .filter(|a| author.as_deref() != Some(a.user.to_ascii_lowercase().as_str()))
        .filter(|a| required.from.is_empty() || required.from.iter().any(|f| f.admits(a)))
        .map(|a| a.user.to_ascii_lowercase())
        .collect();
    u32::try_from(users.len()).unwrap_or(u32::MAX)
}

/// Resolve dispatch inputs: defaults applied, every value checked against
/// its pattern. Unknown inputs (with a did-you-mean), missing required ones
/// and values that do not match are all reported, in words.
pub fn resolve_inputs(
    workflow: &Workflow,
    given: &BTreeMap<String, String>,
) -> Result<Vec<Override>, Vec<String>> {
    let mut problems = Vec::new();
    let names: Vec<&str> = workflow.inputs.keys().map(String::as_str).collect();
    for key in given.keys() {
        if workflow.inputs.contains_key(key) {
            continue;
        }
        let help = match suggest::did_you_mean(key, names.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None if names.is_empty() => "it takes no inputs".to_owned(),
            None => format!("its inputs are {}", ticked(names.iter().copied())),
        };
        problems.push(format!(
            "workflow `{}` has no input `{key}`; {help}",
            workflow.name
        ));
    }
    let mut overrides = Vec::new();
    for (name, input) in &workflow.inputs {
        let value = given.get(name).or(input.default.as_ref());
        let Some(value) = value else {
            if input.required {
                problems.push(format!(
                    "workflow `{}` needs input `{name}`: give it as `{name}=VALUE`{}",
                    workflow.name,
                    input
                        .description
                        .as_ref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ));
            }
            continue;
        };
        if let Some(pattern) = &input.pattern {
            match regex::Regex::new(pattern) {
                Ok(regex) if regex.is_match(value) => {}
                Ok(_) => {
                    problems.push(format!(
                        "input `{name}` of workflow `{}` is `{value}`, which does not match `{pattern}`",
                        workflow.name
                    ));
                    continue;
                }
                Err(_) => {
                    problems.push(format!(
                        "input `{name}` of workflow `{}` has a `pattern` that is not a valid regular expression",
                        workflow.name
                    ));
                    continue;
                }
            }
        }
        overrides.push(Override {
            input: name.clone(),
            value: value.clone(),
            parameters: input.parameters.clone(),
            stacks: input.stacks.clone(),
        });
    }
    if problems.is_empty() {
        Ok(overrides)
    } else {
        Err(problems)
    }
}

/// Does a parameter name match an input's pattern (`*ImageTag`)? `*` matches
/// any run of characters (none included); everything else matches itself.
pub fn parameter_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was, and how much of `name` it has eaten.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// `` `a`, `b` and `c` ``.
pub(super) fn ticked<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// `` `a` or `b` ``.
fn ticked_or(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The first seven characters of a sha.
fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::After { stage } => write!(f, "waits for `{stage}`"),
            Self::Command { environments } => {
                let commands: Vec<String> = environments
                    .iter()
                    .map(|e| format!("/strata apply {e}"))
                    .collect();
                write!(f, "waits for {}", ticked_or(&commands))
            }
            Self::Approvals { have, need, from } => {
                let more = need.saturating_sub(*have);
                let noun = if more == 1 { "approval" } else { "approvals" };
                if from.is_empty() {
                    write!(f, "waits for {more} more {noun} ({have} of {need})")
                } else {
                    let from: Vec<String> = from.iter().map(Approver::to_string).collect();
                    write!(
                        f,
                        "waits for {more} more {noun} from {} ({have} of {need})",
                        ticked_or(&from)
                    )
                }
            }
            Self::Mergeable => f.write_str("waits for the pull request to merge cleanly"),
            Self::UpToDate => {
                f.write_str("waits for the pull request to be up to date with its base branch")
            }
            Self::Checks { pending, failed } => {
                let mut parts: Vec<String> =
                    pending.iter().map(|c| format!("`{c}` pending")).collect();
                parts.extend(failed.iter().map(|c| format!("`{c}` failed")));
                write!(f, "waits for checks: {}", parts.join(", "))
            }
            Self::Window { opens_at, timezone } => write!(
                f,
                "deploy window opens {} {timezone}",
                format_instant(*opens_at, timezone, "%a %H:%M")
            ),
            Self::Soak { until, after, soak } => {
                let pattern = if soak.as_secs() >= 86_400 {
                    "%a %H:%M"
                } else {
                    "%H:%M"
                };
                write!(
                    f,
                    "soaks until {} UTC ({} after `{after}`)",
                    format_instant(*until, "UTC", pattern),
                    format_duration(*soak)
                )
            }
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done => f.write_str("done"),
            Self::Running => f.write_str("running"),
            Self::Failed => f.write_str("failed"),
            Self::Run => f.write_str("runs now"),
            Self::Waiting(waits) => {
                let words: Vec<String> = waits.iter().map(Wait::to_string).collect();
                f.write_str(&words.join("; "))
            }
            Self::Blocked(reason) => write!(f, "blocked: {reason}"),
            Self::Skipped(reason) => write!(f, "skipped: {reason}"),
        }
    }
}

impl fmt::Display for RunDecision {
    /// A run in a few lines: a heading, the overrides, one line per stage.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.commit.is_empty() {
            write!(f, "run `{}` on merge (preview)", self.workflow)?;
        } else {
            write!(f, "run `{}` at `{}`", self.workflow, short(&self.commit))?;
        }
        match self.origin {
            Origin::Branch => {}
            Origin::PullRequest => f.write_str(", before merge")?,
            Origin::Dispatch => f.write_str(", dispatched")?,
        }
        if self.code_only {
            f.write_str(", code only")?;
        }
        writeln!(f)?;
        for o in &self.overrides {
            writeln!(
                f,
                "  set {} = `{}`: parameters {} of {}",
                o.input,
                o.value,
                ticked(o.parameters.iter().map(String::as_str)),
                ticked(o.stacks.iter().map(String::as_str))
            )?;
        }
        for stage in &self.stages {
            write!(f, "  {}", stage.stage)?;
            if !stage.environments.is_empty() {
                write!(f, " [{}]", stage.environments.join(", "))?;
            }
            if stage.stacks != StackFilter::All {
                write!(f, " ({})", stage.stacks)?;
            }
            writeln!(f, ": {}", stage.verdict)?;
        }
        Ok(())
    }
}

impl fmt::Display for Decision {
    /// The whole decision in plain text (logs, tests): what to plan, each run,
    /// schedules due, refusals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.plan.is_empty() {
            writeln!(f, "plan: {}", self.plan.join(", "))?;
        }
        for run in &self.runs {
            write!(f, "{run}")?;
        }
        for s in &self.scheduled {
            writeln!(
                f,
                "scheduled: {} of `{}` on `{}` [{}]",
                s.action,
                s.workflow,
                s.branch,
                s.environments.join(", ")
            )?;
        }
        for refusal in &self.refusals {
            writeln!(f, "refused: {refusal}")?;
        }
        if self.plan.is_empty()
            && self.runs.is_empty()
            && self.scheduled.is_empty()
            && self.refusals.is_empty()
        {
            writeln!(f, "nothing to do")?;
        }
        Ok(())
    }
}
