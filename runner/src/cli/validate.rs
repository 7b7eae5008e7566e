//! `strata validate`: load and render environments, write nothing.

use std::io::Write as _;

use super::{Context, Exit};

/// Arguments of `strata validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An environment to check (`environments/NAME.toml`); repeat for more. Default: all.
    #[arg(long = "env", value_name = "NAME")]
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
        let diagnostic = crate::config::Diagnostic::error(format!(
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
    let mut invalid = 0;
    for name in &names {
        let (rendered, diagnostics) = context.render(&host, name);
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
    exit
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
