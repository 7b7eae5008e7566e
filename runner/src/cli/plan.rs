//! `strata plan`: what a change does, from a base revision to the head.

use std::io::Write as _;
use std::path::PathBuf;

use super::{Context, Exit};
use crate::config::Diagnostic;
use crate::plan;
pub(super) use crate::planner::Planned;
use crate::planner::Request;

/// Output formats of `strata plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Coloured text for a terminal (plain when `NO_COLOR` is set or stdout is not a terminal).
    Terminal,
    /// A pull-request comment (GitHub Markdown, at most 65,536 characters).
    Markdown,
    /// The versioned plan document (`docs/plan-format.md`).
    Json,
}

/// Arguments of `strata plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An environment to plan; repeat for more. Default: every environment whose file changed,
    /// or that uses a module (declared in strata.toml) whose `.wasm` changed.
    #[arg(long = "env", value_name = "NAME", value_parser = super::environment_name)]
    pub envs: Vec<String>,
    /// The base revision. Default: the merge-base with the default branch (`origin/HEAD`,
    /// else `main`). `none` plans from nothing: everything is new.
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// The head revision. Default: the working tree, uncommitted edits included (`HEAD` in a
    /// bare repository).
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = Format::Terminal)]
    pub format: Format,
    /// Also save the plan as JSON to FILE, for a later apply to check against.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also ask CloudFormation: create a change set for every changed stack that exists
    /// (named after the head commit), and merge its Action, Replacement and Scope into the
    /// plan. Needs AWS credentials (or `AWS_ENDPOINT_URL`).
    #[arg(long)]
    pub cloud: bool,
}

/// Run `strata plan`.
pub fn run(context: &Context, args: &Args) -> Exit {
    let planned = plan(context, args).and_then(|mut planned| {
        if args.cloud {
            let commit = match &planned.plan.head.commit {
                Some(commit) => Some(commit.clone()),
                None => context.working_tree_commit(),
            };
            cloud_preview(&mut planned, commit.as_deref())?;
        }
        Ok(planned)
    });
    match planned {
        Ok(Planned { plan, warnings, .. }) => {
            context.print(&warnings);
            let text = match args.format {
                Format::Terminal => {
                    plan::terminal::render(&plan, plan::terminal::Colour::for_stdout())
                }
                Format::Markdown => plan::markdown::render(&plan, plan::markdown::COMMENT_LIMIT),
                Format::Json => plan::json::to_string(&plan),
            };
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            if let Some(out) = &args.out
                && let Err(e) = write_atomically(out, plan::json::to_string(&plan).as_bytes())
            {
                context.print(&[Diagnostic::error(format!(
                    "cannot write the plan to `{}`: {e}",
                    out.display()
                ))
                .as_failure()]);
                return Exit::Failed;
            }
            if plan.environments.iter().any(|e| !e.errors.is_empty()) {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: the plan has errors; applying it would fail"
                );
                Exit::Failed
            } else if plan.has_errors() {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: the plan has policy errors; applies are refused until they are fixed"
                );
                Exit::Failed
            } else {
                Exit::Ok
            }
        }
        Err(diagnostics) => {
            context.print(&diagnostics);
            Exit::from_diagnostics(&diagnostics).max(Exit::BadInput)
        }
    }
}

/// Merge CloudFormation's change sets into every planned environment;
/// `commit` (the head's full SHA) tags them.
fn cloud_preview(planned: &mut Planned, commit: Option<&str>) -> Result<(), Vec<Diagnostic>> {
    use crate::cloud::{RetryPolicy, Retrying, cloudformation::CloudFormation};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            vec![Diagnostic::error(format!("cannot start the runtime: {e}")).as_failure()]
        })?;
    let prefix = format!(
        "strata-{}",
        planned.head_short.as_deref().unwrap_or("uncommitted")
    );
    runtime.block_on(async {
        for environment in &mut planned.plan.environments {
            let Some(rendered) = planned.heads.get(&environment.name) else {
                continue;
            };
            let cloud = Retrying::new(
                CloudFormation::connect(&rendered.environment.region).await,
                RetryPolicy::default(),
            );
            let name = environment.name.clone();
            let failed = |e: String| {
                vec![
                    Diagnostic::error(format!(
                        "cannot plan `{name}` against CloudFormation: {e}"
                    ))
                    .with_help("configure AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, `aws sso login`), or plan without `--cloud`")
                    .as_failure(),
                ]
            };
            crate::deploy::check_account(
                &cloud,
                &name,
                rendered.environment.account.as_deref(),
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
            crate::deploy::preview::preview(
                &cloud,
                environment,
                rendered,
                &prefix,
                commit,
                (std::time::Duration::from_millis(500), std::time::Duration::from_secs(5)),
            )
            .await
            .map_err(|e| failed(e.to_string()))?;
        }
        Ok(())
    })
}

fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// Plan as `args` says, in the context's repository.
pub(super) fn plan(context: &Context, args: &Args) -> Result<Planned, Vec<Diagnostic>> {
    let host = context.host().map_err(|_| Vec::<Diagnostic>::new())?;
    crate::planner::plan(
        &host,
        &context.workspace.root,
        &Request {
            envs: &args.envs,
            base: args.base.as_deref(),
            head: args.head.as_deref(),
        },
    )
}
