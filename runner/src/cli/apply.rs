//! `strata apply`: deploy an environment, wave by wave, through CloudFormation.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::plan::{Format, Planned};
use super::{Context, Exit};
use crate::cloud::cloudformation::CloudFormation;
use crate::cloud::{Cloud, RetryPolicy, Retrying};
use crate::config::Diagnostic;
use crate::deploy::progress::{Bars, LogLines};
use crate::deploy::{self, Deployment, Options, Outcome, Progress, Report};
use crate::plan::json::FORMAT;
use crate::planner::{PlanFile, check_matches};
use crate::repo::Repository;

/// Arguments of `strata apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The environment to deploy (`environments/NAME.toml`).
    #[arg(long = "env", value_name = "NAME", value_parser = super::environment_name)]
    pub env: String,
    /// A plan saved by `strata plan --out FILE`: deploy exactly that, executing its reviewed
    /// change sets; refused when the head commit or any template no longer matches.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Stacks of one wave deployed at the same time.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Delete the stacks removed from the environment file since the base revision
    /// (dependents first). Without it they are left in place and reported as blocked.
    #[arg(long)]
    pub allow_delete: bool,
    /// The base revision that tells which stacks were removed (as for `strata plan`).
    /// Default: the plan file's base, else what is deployed: the oldest `strata:commit` tag
    /// on the environment's stacks (the commit each was last applied from), else the
    /// merge-base with the default branch.
    #[arg(long, value_name = "REV", conflicts_with = "plan")]
    pub base: Option<String>,
    /// S3 bucket for templates over CloudFormation's 51,200-byte inline limit.
    #[arg(long, value_name = "BUCKET", env = "STRATA_TEMPLATE_BUCKET")]
    pub template_bucket: Option<String>,
    /// How to show progress. `auto`: bars on a terminal, one line per event otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Only these stacks (a workflow stage's `only` / `except`; `strata run`).
    #[arg(skip)]
    pub stacks: Option<crate::workflow::StackFilter>,
    /// A code-only deploy's parameter overrides (`strata run`).
    #[arg(skip)]
    pub overrides: Option<Vec<crate::workflow::Override>>,
}

/// How `strata apply` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal, lines otherwise.
    Auto,
    /// A progress bar per running stack.
    Bars,
    /// One log line per event.
    Lines,
}

/// Run `strata apply`.
pub fn run(context: &Context, args: &Args) -> Exit {
    match prepare(context, args) {
        Ok(prepared) => execute(context, args, prepared),
        Err(diagnostics) => {
            context.print(&diagnostics);
            Exit::from_diagnostics(&diagnostics).max(Exit::BadInput)
        }
    }
}

/// What an apply will do, checked.
struct Prepared {
    deployment: Deployment,
    region: String,
    kept: Vec<String>,
    environment_label: String,
}

fn read_plan_file(path: &std::path::Path) -> Result<PlanFile, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::error(format!(
            "cannot read the plan file `{}`: {e}",
            path.display()
        ))]
    })?;
    let file: PlanFile = serde_json::from_str(&text).map_err(|e| {
        vec![
            Diagnostic::error(format!("`{}` is not a plan file: {e}", path.display()))
                .with_help("save one with `strata plan --env NAME --out plan.json`"),
        ]
    })?;
    if file.format != FORMAT {
        return Err(vec![
            Diagnostic::error(format!(
                "`{}` is a `{}` plan; this strata reads `{FORMAT}`",
                path.display(),
                file.format
            ))
            .with_help("plan again with this strata: `strata plan --out plan.json`"),
        ]);
    }
    Ok(file)
}

/// The commit the environment was last applied from, read from the
/// `strata:commit` tags of its stacks: the oldest of them (a stack left
/// unchanged keeps the tag of the apply that last changed it), so stacks
/// removed from the file since are noticed. `None` when no stack carries a
/// tag this repository knows (never applied, or applied by an older strata).
fn deployed_base(
    context: &Context,
    args: &Args,
    repository: &Repository,
) -> Result<Option<String>, Vec<Diagnostic>> {
    let Ok((environment, _)) = context.workspace.environment(&args.env) else {
        // The plan reports what is wrong with the file.
        return Ok(None);
    };
    let names: Vec<String> = environment
        .stacks
        .keys()
        .map(|stack| {
            format!(
                "{}-{}-{}",
                environment.project,
                environment.environment,
                stack.as_str()
            )
        })
        .collect();
    let runtime = super::runtime().map_err(|d| vec![d])?;
    let tags = runtime.block_on(async {
        let cloud = Retrying::new(
            CloudFormation::connect(&environment.region).await,
            RetryPolicy::default(),
        );
        let mut tags = Vec::new();
        for name in &names {
            match cloud.describe_stack(name).await {
                Ok(Some(stack)) => tags.extend(
                    stack
                        .tags
                        .iter()
                        .filter(|(key, _)| key == deploy::COMMIT_TAG)
                        .map(|(_, value)| value.clone()),
                ),
                Ok(None) => {}
                Err(error) => {
                    return Err(vec![
                        Diagnostic::error(format!(
                            "cannot read stack `{name}` to learn which commit it runs: {error}"
                        ))
                        .with_help("pass `--base REV` to name the base yourself")
                        .as_failure(),
                    ]);
                }
            }
        }
        Ok(tags)
    })?;
    let mut known: Vec<String> = Vec::new();
    for commit in tags {
        if repository.resolve(&commit).is_ok() && !known.contains(&commit) {
            known.push(commit);
        }
    }
    let oldest = known.iter().find(|candidate| {
        known
            .iter()
            .all(|other| repository.is_ancestor(candidate, other).unwrap_or(false))
    });
    Ok(oldest.or(known.first()).cloned())
}

fn prepare(context: &Context, args: &Args) -> Result<Prepared, Vec<Diagnostic>> {
    let file = args.plan.as_deref().map(read_plan_file).transpose()?;
    let repository =
        Repository::discover(&context.workspace.root).map_err(|e| {
            vec![Diagnostic::from(e).with_help(
                "`strata apply` deploys from a git repository; point `--repo` at a clone",
            )]
        })?;
    let head_commit = repository.head().map_err(|e| vec![Diagnostic::from(e)])?;

    let mut planned_env = None;
    if let Some(file) = &file {
        let Some(env) = file.environments.iter().find(|e| e.name == args.env) else {
            let names: Vec<&str> = file.environments.iter().map(|e| e.name.as_str()).collect();
            return Err(vec![Diagnostic::error(format!(
                "the plan file has no environment `{}`; it planned {}",
                args.env,
                if names.is_empty() {
                    "nothing".to_owned()
                } else {
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))]);
        };
        if let Some(planned) = &file.head.commit
            && head_commit.as_ref().is_none_or(|h| &h.id != planned)
        {
            let now = head_commit
                .as_ref()
                .map_or("no commit".to_owned(), |h| h.short.clone());
            return Err(vec![
                Diagnostic::error(format!(
                    "the plan was made at commit {}, but the repository is at {now}",
                    short(planned)
                ))
                .with_help(format!(
                    "check out {} to apply this plan, or plan again: `strata plan --env {} --out plan.json`",
                    short(planned),
                    args.env
                )),
            ]);
        }
        planned_env = Some(env);
    }

    let base = match (&file, &args.base) {
        (Some(file), _) => Some(match &file.base.commit {
            Some(commit) => commit.clone(),
            None if file.base.label == "nothing" => "none".to_owned(),
            None => {
                return Err(vec![Diagnostic::error(
                    "the plan file's base is the working tree, which an apply cannot read back",
                )]);
            }
        }),
        (None, Some(base)) => Some(base.clone()),
        (None, None) => {
            let deployed = deployed_base(context, args, &repository)?;
            if let Some(commit) = &deployed {
                let _ = writeln!(
                    std::io::stderr(),
                    "note: planning from {}, the commit `{}` was last applied from (its stacks' `strata:commit` tags); `--base REV` plans from another",
                    short(commit),
                    args.env
                );
            }
            deployed
        }
    };
    let plan_args = super::plan::Args {
        envs: vec![args.env.clone()],
        base,
        head: None,
        format: Format::Json,
        out: None,
        cloud: false,
    };
    let Planned {
        plan,
        warnings,
        heads,
        ..
    } = super::plan::plan(context, &plan_args)?;
    context.print(&warnings);
    let Some(env_plan) = plan.environments.iter().find(|e| e.name == args.env) else {
        return Err(vec![Diagnostic::error(format!(
            "environment `{}` was not planned",
            args.env
        ))]);
    };
    let Some(rendered) = heads.get(&args.env) else {
        return Err(vec![Diagnostic::error(format!(
            "environment `{}` does not exist at the head: there is nothing to deploy",
            args.env
        ))
        .with_help("deleting a whole environment is not supported yet; delete its stacks with `--allow-delete` first")]);
    };
    if !env_plan.errors.is_empty() {
        let mut diagnostics: Vec<Diagnostic> = env_plan
            .errors
            .iter()
            .map(|e| {
                Diagnostic::error(format!("stack `{}`: {}", e.stack, e.message))
                    .with_help(e.help.clone())
            })
            .collect();
        diagnostics.push(
            Diagnostic::error(format!(
                "the plan of `{}` has errors; applying it would fail mid-deploy",
                args.env
            ))
            .as_failure(),
        );
        return Err(diagnostics);
    }
    if env_plan.blocking_findings().next().is_some() {
        let mut diagnostics: Vec<Diagnostic> = env_plan
            .blocking_findings()
            .map(|f| {
                Diagnostic::error(format!(
                    "{}: {} (policy `{}`, rule `{}`)",
                    f.location(),
                    f.message,
                    f.policy,
                    f.rule
                ))
                .with_help_opt(f.help.clone())
            })
            .collect();
        let count = diagnostics.len();
        diagnostics.push(
            Diagnostic::error(format!(
                "the plan of `{}` has {count} policy error{}; nothing was applied",
                args.env,
                if count == 1 { "" } else { "s" }
            ))
            .with_help("fix them, or lower the rule's severity for this environment in `strata.toml` (`[policies.NAME.rules.RULE]`)")
            .as_failure(),
        );
        return Err(diagnostics);
    }
    if let Some(planned) = planned_env {
        check_matches(planned, env_plan, &args.env)?;
    }

    let reviewed = |stack: &str| planned_env.and_then(|e| e.reviewed_change_set(stack));
    let commit = context.working_tree_commit();
    let commit = commit.as_deref();
    let filter = args
        .stacks
        .clone()
        .unwrap_or(crate::workflow::StackFilter::All);
    let mut deployment = match &args.overrides {
        Some(overrides) => {
            let parameters = crate::planner::parameter_overrides(rendered, overrides, &filter);
            if parameters.is_empty() {
                return Err(vec![
                    Diagnostic::error(format!(
                        "no stack of `{}` declares a parameter the inputs set: nothing to deploy",
                        args.env
                    ))
                    .with_help("check the input's `parameters` and `stacks` in the workflow file"),
                ]);
            }
            let stacks: Vec<String> = parameters.iter().map(|(s, _)| s.clone()).collect();
            deploy::code_only(rendered, &stacks, &parameters, commit)
        }
        None => deploy::deployment(
            rendered,
            env_plan,
            head_commit.as_ref().map(|h| h.short.as_str()),
            commit,
            args.allow_delete,
            reviewed,
        ),
    };
    if args.stacks.is_some() {
        for wave in &mut deployment.waves {
            wave.retain(|target| filter.includes(&target.stack));
        }
        deployment.waves.retain(|wave| !wave.is_empty());
        deployment.deletions.clear();
    }
    let kept = if args.allow_delete {
        Vec::new()
    } else {
        env_plan.deletions.clone()
    };
    Ok(Prepared {
        deployment,
        region: rendered.environment.region.clone(),
        kept,
        environment_label: rendered.environment.environment.clone(),
    })
}

fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

fn describe(prepared: &Prepared) -> String {
    let deployment = &prepared.deployment;
    let stacks: usize = deployment.waves.iter().map(Vec::len).sum();
    let mut text = format!(
        "Apply `{}` ({}) to account {} in {}: {stacks} stack{} in {} wave{}",
        deployment.environment,
        prepared.environment_label,
        deployment.account.as_deref().unwrap_or("(any)"),
        prepared.region,
        if stacks == 1 { "" } else { "s" },
        deployment.waves.len(),
        if deployment.waves.len() == 1 { "" } else { "s" },
    );
    if deployment.protected {
        text.push_str(", termination protection on");
    }
    text.push('\n');
    for (index, wave) in deployment.waves.iter().enumerate() {
        let names: Vec<&str> = wave.iter().map(|t| t.stack.as_str()).collect();
        text.push_str(&format!("  wave {}: {}\n", index + 1, names.join(", ")));
    }
    if !deployment.deletions.is_empty() {
        let names: Vec<&str> = deployment
            .deletions
            .iter()
            .map(|d| d.stack.as_str())
            .collect();
        text.push_str(&format!("  then delete: {}\n", names.join(", ")));
    }
    text
}

fn confirm(args: &Args, prepared: &Prepared) -> Result<bool, Diagnostic> {
    if args.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Diagnostic::error(
            "`strata apply` asks for confirmation, but stdin is not a terminal",
        )
        .with_help("pass `--yes` to apply without asking"));
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "{}Deploy? Only `yes` is accepted: ",
        describe(prepared)
    );
    let _ = stderr.flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return Ok(false);
    }
    Ok(answer.trim() == "yes")
}

fn execute(context: &Context, args: &Args, prepared: Prepared) -> Exit {
    for stack in &prepared.kept {
        context.print(&[Diagnostic::warning(format!(
            "stack `{stack}` was removed from the file, but is kept: deleting it needs `--allow-delete`"
        ))]);
    }
    match confirm(args, &prepared) {
        Ok(true) => {}
        Ok(false) => {
            let _ = writeln!(std::io::stderr(), "Apply cancelled; nothing changed.");
            return Exit::Failed;
        }
        Err(diagnostic) => {
            context.print(&[diagnostic]);
            return Exit::BadInput;
        }
    }
    if args.yes {
        let _ = write!(std::io::stderr(), "{}", describe(&prepared));
    }
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(diagnostic) => {
            context.print(&[diagnostic]);
            return Exit::Failed;
        }
    };
    let progress: Arc<dyn Progress> = match args.progress {
        ProgressMode::Bars => Arc::new(Bars::new()),
        ProgressMode::Auto if std::io::stderr().is_terminal() => Arc::new(Bars::new()),
        _ => Arc::new(LogLines::stderr()),
    };
    let options = Options {
        concurrency: usize::from(args.concurrency),
        poll: poll_from_env(),
        template_bucket: args.template_bucket.clone(),
        ..Options::default()
    };
    let result = runtime.block_on(async {
        let cloud: Arc<dyn Cloud> = Arc::new(Retrying::new(
            CloudFormation::connect(&prepared.region).await,
            RetryPolicy::default(),
        ));
        let cancel = options.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "interrupted: starting no further stack; running operations finish first (CloudFormation keeps going regardless)"
                );
                cancel.cancel();
            }
        });
        deploy::apply(cloud, prepared.deployment, options, progress).await
    });
    match result {
        Ok(report) => {
            let _ = write!(std::io::stdout(), "{}", summary(&report));
            if report.succeeded() {
                Exit::Ok
            } else {
                Exit::Failed
            }
        }
        Err(e) => {
            context.print(&[Diagnostic::error(e.to_string())
                .with_help_opt(match &e {
                    deploy::ApplyError::WrongAccount { .. } => Some(
                        "use credentials for the environment's account (AWS_PROFILE), or fix `account` in the environment file".to_owned(),
                    ),
                    deploy::ApplyError::Identity(_) => Some(
                        "configure AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, `aws sso login`); AWS_ENDPOINT_URL points at another endpoint".to_owned(),
                    ),
                })
                .as_failure()]);
            Exit::Failed
        }
    }
}

/// `STRATA_POLL_MS` shortens polling (tests against local endpoints).
fn poll_from_env() -> (Duration, Duration) {
    match std::env::var("STRATA_POLL_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(ms) => (Duration::from_millis(ms), Duration::from_millis(ms * 4)),
        None => Options::default().poll,
    }
}

/// The closing table: one row per stack, then the totals.
pub fn summary(report: &Report) -> String {
    let width = report
        .stacks
        .iter()
        .map(|s| s.stack.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut text = format!(
        "\n{:<width$}  {:<11}  {:>7}  reason\n",
        "stack", "result", "time"
    );
    for stack in &report.stacks {
        text.push_str(&format!(
            "{:<width$}  {:<11}  {:>6.1}s  {}\n",
            stack.stack,
            stack.outcome.label(),
            stack.duration.as_secs_f64(),
            stack.reason.as_deref().unwrap_or("")
        ));
    }
    let counts = report.counts();
    let parts: Vec<String> = Outcome::ALL
        .iter()
        .filter_map(|o| counts.get(o).map(|n| format!("{n} {}", o.label())))
        .collect();
    text.push_str(&format!(
        "\n{}: {} in {:.1}s ({} wave{}; the stacks' own times add up to {:.1}s)\n",
        report.environment,
        parts.join(", "),
        report.elapsed.as_secs_f64(),
        report.waves,
        if report.waves == 1 { "" } else { "s" },
        report.sum_of_stack_times().as_secs_f64()
    ));
    text
}
