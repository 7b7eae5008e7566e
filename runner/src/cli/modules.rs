//! `strata modules`: the stack types available to this repository, and the
//! policies that check every environment (built in and pinned), with their
//! rules.

use std::fmt::Write as _;
use std::io::Write as _;

use super::{Context, Exit};
use crate::config::Diagnostic;

/// Arguments of `strata modules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the JSON Schema of this stack type's table instead of the list.
    #[arg(long, value_name = "TYPE")]
    pub schema: Option<String>,
}

/// Run `strata modules`.
pub fn run(context: &Context, args: &Args) -> Exit {
    let Ok(host) = context.host() else {
        return Exit::Failed;
    };
    let registry = &context.workspace.registry;
    if let Some(kind) = &args.schema {
        let Some(source) = registry.get(kind) else {
            let types = registry.types();
            let diagnostic = Diagnostic::error(format!("no stack type `{kind}`")).with_help_opt(
                crate::config::suggest::help_for(kind, &types, "stack types"),
            );
            context.print(std::slice::from_ref(&diagnostic));
            return Exit::BadInput;
        };
        return match host.load(kind, &source.bytes, &source.sha256) {
            Ok(module) => {
                let pretty = serde_json::from_str::<serde_json::Value>(&module.info.config_schema)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                    .unwrap_or_else(|_| module.info.config_schema.clone());
                let _ = writeln!(std::io::stdout(), "{pretty}");
                Exit::Ok
            }
            Err(error) => {
                context.print(&[Diagnostic::error(error.to_string()).as_failure()]);
                Exit::Failed
            }
        };
    }
    let mut out = String::new();
    let mut exit = Exit::Ok;
    for source in registry.iter() {
        match host.load(&source.name, &source.bytes, &source.sha256) {
            Ok(module) => {
                let _ = writeln!(
                    out,
                    "{:<14} {:<8} {:<10} {}  {}",
                    source.name,
                    module.info.version,
                    source.origin.to_string(),
                    &source.sha256[..12],
                    module.info.description
                );
            }
            Err(error) => {
                context.print(&[Diagnostic::error(error.to_string()).as_failure()]);
                exit = Exit::Failed;
            }
        }
    }
    let mut policies = registry.policies().peekable();
    if policies.peek().is_some() {
        out.push_str("\npolicies (applied to every environment):\n");
    }
    for source in policies {
        match host.load_policy(&source.name, &source.bytes, &source.sha256) {
            Ok(policy) => {
                let _ = writeln!(
                    out,
                    "{:<14} {:<8} {:<10} {}  {}\n{:<14} rules: {}",
                    source.name,
                    policy.info.version,
                    source.origin.to_string(),
                    &source.sha256[..12],
                    policy.info.description,
                    "",
                    policy
                        .info
                        .rules
                        .iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            Err(error) => {
                context.print(&[Diagnostic::error(error.to_string()).as_failure()]);
                exit = Exit::Failed;
            }
        }
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    exit
}
