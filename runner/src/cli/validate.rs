//! `strata validate`: load and render environments, then check the workflow
//! files against them; write nothing.

use std::collections::BTreeMap;
use std::io::Write as _;

use crate::config::{Diagnostic, Environment};

use super::{Context, Exit};

/// Arguments of `strata validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An environment to check (`environments/NAME.toml`); repeat for more. Default: all, and
    /// every workflow file.
    #[arg(long = "env", value_name = "NAME", value_parser = super::environment_name)]
    pub envs: Vec<String>,
}

/// Run `strata validate`.
pub fn run(context: &Context, args: &Args) -> Exit {
    let names = if args.envs.is_empty() {
        context.workspace.environment_names()
    } else {
        args.envs.clone()
    };
    if names.is_empty() {
        let diagnostic = Diagnostic::error(format!(
            "no environments to validate: `{}` holds no `*.toml` files",
            context
                .workspace
                .root
                .join(crate::workspace::ENVIRONMENTS_DIR)
                .display()
        ))
        .with_help("create `environments/dev.toml`, or point `--repo` at the config repository");
        context.print(std::slice::from_ref(&diagnostic));
        return Exit::BadInput;
    }
    let Ok(host) = context.host() else {
        return Exit::Failed;
    };
    let mut exit = Exit::Ok;
    if !context.workspace.problems.is_empty() {
        context.print(&context.workspace.problems);
        exit = Exit::from_diagnostics(&context.workspace.problems).max(Exit::BadInput);
    }
    let mut invalid = 0;
    // Which file deploys each (project, environment): two files naming the
    // same one would deploy the same stacks.
    let mut deployed_by: BTreeMap<(String, String), String> = BTreeMap::new();
    for name in &names {
        let (rendered, mut diagnostics) = context.render(&host, name);
        if let Some(rendered) = &rendered {
            let environment = &rendered.environment;
            let key = (environment.project.clone(), environment.environment.clone());
            match deployed_by.get(&key) {
                Some(first) => diagnostics.push(same_environment(environment, first)),
                None => {
                    deployed_by.insert(key, name.clone());
                }
            }
        }
        context.print(&diagnostics);
        let result = Exit::from_diagnostics(&diagnostics);
        let mut stdout = std::io::stdout().lock();
        match rendered {
            Some(rendered) if result == Exit::Ok => {
                let stacks = rendered.stacks.len();
                let waves = rendered.waves.len();
                let warnings = diagnostics.len();
                let _ = writeln!(
                    stdout,
                    "ok: {name} ({}): {stacks} stack{} in {waves} wave{}{}",
                    rendered.environment.environment,
                    plural(stacks),
                    plural(waves),
                    if warnings > 0 {
                        format!(", {warnings} warning{}", plural(warnings))
                    } else {
                        String::new()
                    }
                );
            }
            _ => {
                invalid += 1;
                context.print_summary(&format!("environment `{name}` is invalid"), &diagnostics);
            }
        }
        exit = exit.max(result);
    }
    if invalid > 0 && names.len() > 1 {
        let _ = writeln!(
            std::io::stderr(),
            "error: {invalid} of {} environments are invalid",
            names.len()
        );
    }
    if args.envs.is_empty() {
        exit = exit.max(workflows(context));
    }
    exit
}

/// Check every `workflows/*.toml` against the environments.
fn workflows(context: &Context) -> Exit {
    match context.workspace.workflows() {
        Ok((workflows, warnings)) => {
            context.print(&warnings);
            let mut stdout = std::io::stdout().lock();
            if workflows.builtin {
                let _ = writeln!(
                    stdout,
                    "ok: no `workflows/*.toml`: the built-in default applies ({})",
                    match workflows.workflows.first() {
                        Some(w) if !w.stages.is_empty() => w.outline(),
                        _ => "no environments".to_owned(),
                    }
                );
                return Exit::Ok;
            }
            for workflow in &workflows.workflows {
                let stages = workflow.stages.len();
                let warned = warnings
                    .iter()
                    .filter(|d| d.source.as_ref().is_some_and(|s| s.name == workflow.path))
                    .count();
                let _ = writeln!(
                    stdout,
                    "ok: {}: {stages} stage{}{}{}",
                    workflow.path,
                    plural(stages),
                    if stages > 0 {
                        format!(" ({})", workflow.outline())
                    } else {
                        String::new()
                    },
                    if warned > 0 {
                        format!(", {warned} warning{}", plural(warned))
                    } else {
                        String::new()
                    }
                );
            }
            Exit::Ok
        }
        Err(diagnostics) => {
            context.print(&diagnostics);
            let mut files: Vec<&str> = diagnostics
                .iter()
                .filter(|d| d.is_error())
                .filter_map(|d| d.source.as_ref().map(|s| s.name.as_str()))
                .collect();
            files.dedup();
            for file in files {
                let of_file: Vec<crate::config::Diagnostic> = diagnostics
                    .iter()
                    .filter(|d| d.source.as_ref().is_some_and(|s| s.name == file))
                    .cloned()
                    .collect();
                context.print_summary(&format!("workflow file `{file}` is invalid"), &of_file);
            }
            Exit::from_diagnostics(&diagnostics).max(Exit::BadInput)
        }
    }
}

/// `environment` names the same environment of the same project as the
/// file `first`.
fn same_environment(environment: &Environment, first: &str) -> Diagnostic {
    let source = &environment.source;
    // Point at `environment = "..."` when the file sets it.
    let mut offset = 0;
    let mut span = 0..0;
    for line in source.text.split_inclusive('\n') {
        if line.trim_start().starts_with("environment") && line.contains('=') {
            span = offset..offset + line.trim_end().len();
            break;
        }
        offset += line.len();
    }
    Diagnostic::error(format!(
        "`{}` and `{}` both deploy environment `{}` of project `{}`",
        crate::workspace::Workspace::environment_path(first),
        source.name,
        environment.environment,
        environment.project
    ))
    .at(source, span, "the same environment as another file")
    .with_help("give each file its own `environment = \"...\"`: both would deploy the same stacks")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
