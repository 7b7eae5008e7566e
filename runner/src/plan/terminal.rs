//! The plan for a terminal: `+` green, `~` yellow, `−` red, risks bold;
//! plain text when colour is off (`NO_COLOR`, or output not a terminal).

use std::fmt::Write as _;

use super::diff::shorten;
use super::{Action, Plan, Severity};

const VALUE_LIMIT: usize = 100;

/// Whether to colour, decided by the caller (see [`Colour::for_stdout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// ANSI colours.
    On,
    /// Plain text.
    Off,
}

impl Colour {
    /// On when stdout is a terminal and `NO_COLOR` is unset or empty.
    pub fn for_stdout() -> Self {
        use std::io::IsTerminal as _;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if !no_color && std::io::stdout().is_terminal() {
            Self::On
        } else {
            Self::Off
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Self::On => format!("\x1b[{code}m{text}\x1b[0m"),
            Self::Off => text.to_owned(),
        }
    }

    fn action(self, action: Action, text: &str) -> String {
        match action {
            Action::Add => self.paint("32", text),
            Action::Modify => self.paint("33", text),
            Action::Remove => self.paint("31", text),
            Action::None => text.to_owned(),
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Add => "+",
        Action::Modify => "~",
        Action::Remove => "-",
        Action::None => " ",
    }
}

/// The "Policy" lines: what the policies found at the head, errors first.
fn policy_lines(out: &mut String, environment: &super::EnvironmentPlan, colour: Colour) {
    if environment.findings.is_empty() {
        return;
    }
    let errors = environment.blocking_findings().count();
    let warnings = environment.findings.len() - errors;
    let _ = writeln!(
        out,
        "  policy: {errors} error{}, {warnings} warning{}{}",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" },
        if errors > 0 {
            " (errors block the apply)"
        } else {
            ""
        }
    );
    let mut findings: Vec<&crate::policy::Finding> = environment.findings.iter().collect();
    findings.sort_by_key(|f| !f.is_error());
    for finding in findings {
        let word = if finding.is_error() {
            colour.bold(&colour.paint("31", "error:"))
        } else {
            colour.bold(&colour.paint("33", "warning:"))
        };
        let _ = writeln!(
            out,
            "    {word} [{}/{}] {}: {}",
            finding.policy,
            finding.rule,
            finding.location(),
            finding.message
        );
        if let Some(help) = &finding.help {
            let _ = writeln!(out, "      help: {help}");
        }
    }
}

/// The plan as terminal text.
pub fn render(plan: &Plan, colour: Colour) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plan: {} → {}", plan.base.label, plan.head.label);
    if plan.environments.is_empty() {
        out.push_str("\nNo environment changed.\n");
    }
    for environment in &plan.environments {
        let (added, changed, removed, unchanged) = environment.counts();
        let (r_added, r_modified, r_removed) = environment.resource_counts();
        let _ = writeln!(
            out,
            "\n{}: stacks {} {} {} ({unchanged} unchanged); resources {} {} {}",
            colour.bold(&environment.name),
            colour.action(Action::Add, &format!("+{added}")),
            colour.action(Action::Modify, &format!("~{changed}")),
            colour.action(Action::Remove, &format!("-{removed}")),
            colour.action(Action::Add, &format!("+{r_added}")),
            colour.action(Action::Modify, &format!("~{r_modified}")),
            colour.action(Action::Remove, &format!("-{r_removed}")),
        );
        policy_lines(&mut out, environment, colour);
        if environment.is_empty() {
            out.push_str("  no changes\n");
            continue;
        }
        for error in &environment.errors {
            let _ = writeln!(
                out,
                "  {} {}\n    help: {}",
                colour.bold(&colour.paint("31", "error:")),
                error.message,
                error.help
            );
        }
        for risk in &environment.risks {
            let word = if risk.severity == Severity::Critical {
                colour.paint("31", "critical:")
            } else {
                colour.paint("33", "warning:")
            };
            let _ = writeln!(
                out,
                "  {} {}",
                colour.bold(&word),
                colour.bold(&format!("{}: {}", risk.stack, risk.message))
            );
        }
        let mut order: Vec<String> = environment
            .waves
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{}. {}", i + 1, w.join(", ")))
            .collect();
        if !environment.deletions.is_empty() {
            order.push(format!(
                "{}. delete {}",
                order.len() + 1,
                environment.deletions.join(", ")
            ));
        }
        if !order.is_empty() {
            let _ = writeln!(out, "  deploy order: {}", order.join("  "));
        }
        for stack in environment
            .stacks
            .iter()
            .filter(|s| s.action != Action::None)
        {
            let _ = writeln!(
                out,
                "\n  {} ({})",
                colour.action(
                    stack.action,
                    &format!("{} {}", symbol(stack.action), stack.name)
                ),
                stack.kind
            );
            if let Some(module) = &stack.module {
                let _ = writeln!(out, "      module {} → {}", module.before, module.after);
            }
            if !stack.affected_by.is_empty() {
                let _ = writeln!(
                    out,
                    "      affected by changed exports: {}",
                    stack.affected_by.join(", ")
                );
            }
            for resource in &stack.resources {
                let replaced = if resource.replacement {
                    colour.bold(" (replaced)")
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "      {} {}{replaced}",
                    colour.action(
                        resource.action,
                        &format!("{} {}", symbol(resource.action), resource.logical_id)
                    ),
                    resource.kind
                );
                if resource.action != Action::Modify {
                    continue;
                }
                for property in &resource.properties {
                    let show = |v: Option<&serde_json::Value>| {
                        v.map_or_else(|| "(none)".to_owned(), |v| shorten(v, VALUE_LIMIT))
                    };
                    let note = if property.forces_replacement {
                        colour.bold(" forces replacement")
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        out,
                        "          ~ {}: {} → {}{note}",
                        property.path,
                        show(property.before.as_ref()),
                        show(property.after.as_ref())
                    );
                }
            }
            for (title, changes) in [
                ("parameter", &stack.parameters),
                ("output", &stack.outputs),
                ("export", &stack.exports),
            ] {
                for change in changes {
                    let _ = writeln!(
                        out,
                        "      {} {title} {}",
                        colour.action(change.action, symbol(change.action)),
                        change.name
                    );
                }
            }
        }
    }
    out
}
