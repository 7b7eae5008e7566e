//! `strata drift`: compare what runs in CloudFormation with what git says,
//! environment by environment (see [`crate::drift`]).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::{Context, Exit};
use crate::cloud::cloudformation::CloudFormation;
use crate::cloud::{RetryPolicy, Retrying};
use crate::config::Diagnostic;
use crate::drift::source::GitSource;
use crate::drift::{self, DriftReport, EnvironmentDrift, Options, Overrides, Request, render};

/// Output formats of `strata drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for a terminal (coloured unless `NO_COLOR` is set or stdout is not a terminal).
    Terminal,
    /// One GitHub issue body per environment (Markdown, each under 65,536 characters).
    Markdown,
    /// The `strata.drift/v1` document (`docs/drift.md`).
    Json,
}

/// Arguments of `strata drift`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An environment to check; repeat for more. Default: every environment.
    #[arg(long = "env", value_name = "NAME", value_parser = super::environment_name)]
    pub envs: Vec<String>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t = Format::Terminal)]
    pub format: Format,
    /// The state database of `strata serve`: each environment's deployed commit and the
    /// parameter overrides of code-only deploys are read from it. Without it the commit is
    /// the newest `strata:commit` tag on the environment's stacks. An SQLite file or a
    /// `postgres://` address.
    #[arg(long, value_name = "FILE|URL")]
    pub state: Option<PathBuf>,
    /// The repository's name in the state database (`OWNER/NAME`, as `strata serve` records
    /// it). Required with `--state`.
    #[arg(long, value_name = "OWNER/NAME", requires = "state")]
    pub state_repo: Option<String>,
    /// Skip CloudFormation's resource drift detection (`DetectStackDrift`): compare
    /// templates, parameters and stacks only.
    #[arg(long)]
    pub no_resource_drift: bool,
    /// Stacks read or checked at the same time.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Between polls of a drift detection, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000, hide = true)]
    pub poll_interval_ms: u64,
}

/// Run `strata drift`.
pub fn run(context: &Context, args: &Args) -> Exit {
    let names = if args.envs.is_empty() {
        context.workspace.environment_names()
    } else {
        args.envs.clone()
    };
    if names.is_empty() {
        context.print(&[Diagnostic::error("no environments to check").with_help(
            "add `environments/NAME.toml`, or point `--repo` at the config repository",
        )]);
        return Exit::BadInput;
    }
    // Every environment must load before anything is asked of the cloud.
    let mut environments = Vec::new();
    for name in &names {
        match context.workspace.environment(name) {
            Ok((environment, _)) => environments.push(environment),
            Err(diagnostics) => {
                context.print(&diagnostics);
                return Exit::from_diagnostics(&diagnostics).max(Exit::BadInput);
            }
        }
    }
    let deployed = match read_state(args, &names) {
        Ok(deployed) => deployed,
        Err(diagnostic) => {
            context.print(&[diagnostic]);
            return Exit::BadInput;
        }
    };
    let host = match context.host() {
        Ok(host) => host,
        Err(exit) => return exit,
    };
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(diagnostic) => {
            context.print(&[diagnostic]);
            return Exit::Failed;
        }
    };
    let source = GitSource::new(&host, &context.workspace.root);
    let options = Options {
        concurrency: usize::from(args.concurrency),
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        resource_drift: !args.no_resource_drift,
        ..Options::default()
    };
    let mut report = DriftReport {
        environments: Vec::new(),
    };
    for environment in &environments {
        let name = environment.name.as_str();
        let _ = writeln!(
            std::io::stderr(),
            "checking environment `{name}` ({} stack{}, {})…",
            environment.stacks.len(),
            if environment.stacks.len() == 1 {
                ""
            } else {
                "s"
            },
            environment.region
        );
        let (commit, overrides) = deployed.get(name).cloned().unwrap_or_default();
        let checked = runtime.block_on(async {
            let cloud = Retrying::new(
                CloudFormation::connect(&environment.region).await,
                RetryPolicy::default(),
            );
            if let Err(e) =
                crate::deploy::check_account(&cloud, name, environment.account.as_deref()).await
            {
                let mut failed = EnvironmentDrift::new(name, &environment.region);
                failed.errors.push(e.to_string());
                return failed;
            }
            drift::check_environment(
                &cloud,
                &source,
                &Request {
                    environment: name,
                    commit: commit.as_deref(),
                    overrides: &overrides,
                },
                &options,
            )
            .await
        });
        report.environments.push(checked);
    }

    let text = match args.format {
        Format::Terminal => render::terminal(&report, render::Colour::for_stdout()),
        Format::Markdown => report
            .environments
            .iter()
            .map(|e| render::markdown(e, render::ISSUE_LIMIT))
            .collect::<Vec<_>>()
            .join("\n---\n\n"),
        Format::Json => render::json(&report),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if report.is_drifted() {
        Exit::Drifted
    } else if report.has_errors() {
        let _ = writeln!(
            std::io::stderr(),
            "error: the drift check could not finish; see the errors above"
        );
        Exit::Failed
    } else {
        Exit::Ok
    }
}

/// Deployed commit and overrides per environment, from `--state`.
fn read_state(
    args: &Args,
    names: &[String],
) -> Result<std::collections::BTreeMap<String, (Option<String>, Overrides)>, Diagnostic> {
    let mut deployed = std::collections::BTreeMap::new();
    let Some(path) = &args.state else {
        return Ok(deployed);
    };
    let Some(repo) = &args.state_repo else {
        return Err(
            Diagnostic::error("`--state` needs `--state-repo OWNER/NAME`").with_help(
                "name the repository as `strata serve` records it, e.g. `--state-repo acme/infra`",
            ),
        );
    };
    let location = path.to_string_lossy();
    if !crate::state::is_address(&location) && !path.is_file() {
        return Err(
            Diagnostic::error(format!("no state database at `{}`", path.display()))
                .with_help("pass the file `strata serve --state` uses, or leave `--state` out"),
        );
    }
    let state = crate::state::State::connect(&location).map_err(|e| {
        Diagnostic::error(format!("cannot open the state database: {e}")).with_help_opt(e.help())
    })?;
    for name in names {
        let found = state.deployed(repo, name).map_err(|e| {
            Diagnostic::error(format!("cannot read what `{name}` runs: {e}"))
                .with_help_opt(e.help())
        })?;
        if let Some(found) = found {
            let mut overrides = Overrides::new();
            for o in found.overrides {
                overrides
                    .entry(o.stack)
                    .or_default()
                    .insert(o.parameter, o.value);
            }
            deployed.insert(name.clone(), (Some(found.commit), overrides));
        }
    }
    Ok(deployed)
}
