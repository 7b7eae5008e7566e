//! `strata run WORKFLOW`: dispatch a workflow from a terminal or a CI job.
//!
//! The workflow comes from `workflows/WORKFLOW.toml` of the repository as it
//! is checked out; its inputs (`--input image_tag=1.42.0`) are checked
//! against the file. The workflow layer decides stage by stage, as it does
//! for `strata serve`: each stage that may run is applied environment by
//! environment like `strata apply --yes` (a code-only workflow as a
//! parameters-only change set), a soak time is waited out, and the first
//! stage held by something a terminal cannot give (an approval, a deploy
//! window, failed checks) stops the run and says what it waits for.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::apply::{self, ProgressMode};
use super::{Context, Exit};
use crate::config::Diagnostic;
use crate::repo::Repository;
use crate::workflow::{self, Facts, RunFacts, StageRecord, StageStatus, Verdict, Wait};

/// Arguments of `strata run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow: `workflows/WORKFLOW.toml` without `.toml`.
    #[arg(value_name = "WORKFLOW")]
    pub workflow: String,
    /// An input of the workflow, `KEY=VALUE`; repeat for more.
    #[arg(long = "input", short = 'i', value_name = "KEY=VALUE", value_parser = parse_input)]
    pub inputs: Vec<(String, String)>,
    /// Do not ask before each environment (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Stacks of one wave deployed at the same time.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Delete stacks removed from an environment file (dependents first).
    #[arg(long)]
    pub allow_delete: bool,
    /// How to show progress.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

fn parse_input(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!(
            "`{text}` is not an input: write KEY=VALUE, as in `--input image_tag=1.42.0`"
        )),
    }
}

fn now() -> workflow::Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Run `strata run`.
pub fn run(context: &Context, args: &Args) -> Exit {
    match dispatch(context, args) {
        Ok(exit) => exit,
        Err(diagnostics) => {
            context.print(&diagnostics);
            Exit::from_diagnostics(&diagnostics).max(Exit::BadInput)
        }
    }
}

fn dispatch(context: &Context, args: &Args) -> Result<Exit, Vec<Diagnostic>> {
    let repository = Repository::discover(&context.workspace.root).map_err(|e| {
        vec![
            Diagnostic::from(e)
                .with_help("`strata run` deploys from a git repository; point `--repo` at a clone"),
        ]
    })?;
    let head = repository
        .head()
        .map_err(|e| vec![Diagnostic::from(e)])?
        .ok_or_else(|| vec![Diagnostic::error("the repository has no commits yet")])?;
    let default_branch = repository
        .default_branch()
        .map(|b| b.rsplit('/').next().unwrap_or(&b).to_owned())
        .unwrap_or_else(|| "main".to_owned());
    let (workflows, warnings) = context.workspace.workflows_on(&default_branch)?;
    context.print(&warnings);
    let Some(workflow) = workflows.get(&args.workflow) else {
        let names: Vec<&str> = workflows
            .workflows
            .iter()
            .map(|w| w.name.as_str())
            .collect();
        return Err(vec![
            Diagnostic::error(format!(
                "there is no workflow `{}` (no `workflows/{}.toml`)",
                args.workflow, args.workflow
            ))
            .with_help_opt(crate::config::suggest::help_for(
                &args.workflow,
                &names,
                "the workflows are",
            )),
        ]);
    };
    let inputs: BTreeMap<String, String> = args.inputs.iter().cloned().collect();
    let every: BTreeSet<String> = workflow
        .stages
        .iter()
        .flat_map(|s| s.environments.iter().cloned())
        .collect();
    let released: BTreeSet<String> = workflow
        .stages
        .iter()
        .filter(|s| s.when == workflow::When::Command)
        .map(|s| s.name.clone())
        .collect();
    let mut stages: BTreeMap<String, StageRecord> = BTreeMap::new();
    let facts = |stages: &BTreeMap<String, StageRecord>| Facts {
        now: now(),
        default_branch: default_branch.clone(),
        run: Some(RunFacts {
            workflow: workflow.name.clone(),
            commit: head.id.clone(),
            touched: every.clone(),
            stages: stages.clone(),
            approvals: Vec::new(),
            author: None,
            mergeable: Some(true),
            up_to_date: Some(true),
            checks: BTreeMap::new(),
            released: released.clone(),
            origin: workflow::Origin::Dispatch,
            inputs: inputs.clone(),
        }),
    };
    let event = workflow::Event::Dispatch {
        workflow: workflow.name.clone(),
        inputs: inputs.clone(),
        user: "(terminal)".to_owned(),
    };
    let decision = workflow::decide(&workflows, &event, &facts(&stages));
    if !decision.refusals.is_empty() {
        return Err(decision
            .refusals
            .iter()
            .map(|r| Diagnostic::error(r.clone()))
            .collect());
    }
    let overrides = decision
        .runs
        .first()
        .map(|r| r.overrides.clone())
        .unwrap_or_default();
    let mut stderr = std::io::stderr();
    let _ = writeln!(
        stderr,
        "Run `{}` ({}) at {}{}",
        workflow.name,
        workflow.path,
        head.short,
        if inputs.is_empty() {
            String::new()
        } else {
            format!(
                " with {}",
                inputs
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    loop {
        let decision = workflow::decide(&workflows, &workflow::Event::Tick, &facts(&stages));
        let Some(run) = decision
            .runs
            .into_iter()
            .find(|r| r.workflow == workflow.name)
        else {
            return Ok(Exit::Ok);
        };
        if let Some(stage) = run
            .stages
            .iter()
            .find(|s| matches!(s.verdict, Verdict::Run))
        {
            let _ = writeln!(
                stderr,
                "\n==> stage `{}`: {}",
                stage.stage,
                stage.environments.join(", ")
            );
            let mut status = StageStatus::Succeeded;
            for environment in &stage.environments {
                let apply_args = apply::Args {
                    env: environment.clone(),
                    plan: None,
                    yes: args.yes,
                    concurrency: args.concurrency,
                    allow_delete: args.allow_delete,
                    base: None,
                    template_bucket: None,
                    progress: args.progress,
                    stacks: Some(stage.stacks.clone()),
                    overrides: (workflow.code_only || !overrides.is_empty())
                        .then(|| overrides.clone()),
                };
                let exit = apply::run(context, &apply_args);
                if exit != Exit::Ok {
                    status = StageStatus::Failed;
                    break;
                }
            }
            stages.insert(
                stage.stage.clone(),
                StageRecord {
                    status,
                    finished_at: Some(now()),
                },
            );
            if status == StageStatus::Failed {
                let _ = writeln!(
                    stderr,
                    "stage `{}` failed; the stages after it do not run",
                    stage.stage
                );
                return Ok(Exit::Failed);
            }
            continue;
        }
        // Nothing runs now: wait out a soak, or say what holds the rest.
        let mut soak_until = None;
        let mut held = Vec::new();
        for stage in &run.stages {
            if let Verdict::Blocked(why) = &stage.verdict {
                held.push(format!("stage `{}` cannot run: {why}", stage.stage));
            }
            if let Verdict::Waiting(waits) = &stage.verdict {
                let only_time = waits
                    .iter()
                    .all(|w| matches!(w, Wait::Soak { .. } | Wait::After { .. }));
                for wait in waits {
                    if let Wait::Soak { until, .. } = wait
                        && only_time
                    {
                        soak_until = Some(soak_until.map_or(*until, |u: i64| u.min(*until)));
                    }
                }
                if !only_time {
                    held.push(format!(
                        "stage `{}` {}",
                        stage.stage,
                        waits
                            .iter()
                            .map(Wait::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ));
                }
            }
        }
        if let Some(until) = soak_until {
            let seconds = u64::try_from(until - now()).unwrap_or(0);
            let _ = writeln!(stderr, "soaking for {seconds}s before the next stage");
            std::thread::sleep(Duration::from_secs(seconds.max(1)));
            continue;
        }
        if !held.is_empty() {
            let _ = writeln!(
                stderr,
                "\nstopped: {}\nhelp: these gates need a pull request; dispatch it there with `/strata run {}`",
                held.join("\n         "),
                workflow.name
            );
            return Ok(Exit::Failed);
        }
        let _ = writeln!(stderr, "\n`{}` is done", workflow.name);
        return Ok(Exit::Ok);
    }
}
