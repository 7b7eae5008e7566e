//! The plan as a pull-request comment (GitHub-flavoured Markdown).
//!
//! A summary table first (per environment: stacks, resources +/~/−, errors,
//! risks), then errors and risks, then per environment the deploy order and
//! one collapsible section per changed stack. The whole comment fits one
//! GitHub comment ([`COMMENT_LIMIT`] characters): when the details do not,
//! the largest stacks' details are replaced by a one-line note, stack by
//! stack, until it fits. Sections are built whole, so nothing is ever cut
//! inside a table or a code block. A hidden marker names the environment set,
//! so a bot can find and update its own comment.

use std::fmt::Write as _;

use super::diff::shorten;
use super::{Action, EnvironmentPlan, Plan, ResourceChange, Severity, StackChange};

/// GitHub's limit on a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// Longest value shown in a table cell before it is elided.
const VALUE_LIMIT: usize = 80;

/// Most risks listed before "and N more".
const RISKS_SHOWN: usize = 40;

/// The hidden marker that identifies the comment of a set of environments.
pub fn marker(plan: &Plan) -> String {
    let names: Vec<&str> = plan.environments.iter().map(|e| e.name.as_str()).collect();
    format!("<!-- strata:plan environments={} -->", names.join(","))
}

/// The plan as one comment of at most `limit` characters.
pub fn render(plan: &Plan, limit: usize) -> String {
    let head = header(plan);
    let mut details: Vec<Vec<StackSection>> = plan
        .environments
        .iter()
        .map(|e| {
            e.stacks
                .iter()
                .filter(|s| s.action != Action::None)
                .map(|s| StackSection::full(e, s))
                .collect()
        })
        .collect();
    loop {
        let text = assemble(plan, &head, &details);
        if text.chars().count() <= limit {
            return text;
        }
        // Shorten the largest remaining full section; when none is left,
        // drop stack lines from the end, then give up on details.
        let largest = details
            .iter_mut()
            .flat_map(|sections| sections.iter_mut())
            .filter(|s| s.full)
            .max_by_key(|s| s.text.chars().count());
        match largest {
            Some(section) => section.shorten(),
            None => {
                if let Some(sections) = details.iter_mut().rev().find(|s| !s.is_empty()) {
                    sections.pop();
                } else {
                    // Even the summary alone is too long: say so in the smallest form.
                    return format!(
                        "{}\n## Strata plan\n\nThe plan is too large for a comment ({} environments). Run `strata plan` locally, or see the plan file.\n",
                        marker(plan),
                        plan.environments.len()
                    );
                }
            }
        }
    }
}

/// One stack's collapsible section, full or shortened.
struct StackSection {
    text: String,
    full: bool,
    environment: String,
}

impl StackSection {
    fn full(environment: &EnvironmentPlan, stack: &StackChange) -> Self {
        Self {
            text: stack_details(stack),
            full: true,
            environment: environment.name.clone(),
        }
    }

    fn shorten(&mut self) {
        // Keep the summary line; replace the table with a note.
        let summary = self.text.lines().next().unwrap_or_default().to_owned();
        self.text = format!(
            "{summary}\n\n_Details left out to fit one comment: run `strata plan --env {}` to see them._\n\n</details>\n",
            self.environment
        );
        self.full = false;
    }
}

fn assemble(plan: &Plan, head: &str, details: &[Vec<StackSection>]) -> String {
    let mut out = String::from(head);
    for (environment, sections) in plan.environments.iter().zip(details) {
        let _ = writeln!(out, "\n### {}\n", environment.name);
        if environment.is_empty() {
            out.push_str("No changes.\n");
            continue;
        }
        if !environment.waves.is_empty() || !environment.deletions.is_empty() {
            let mut order: Vec<String> = environment
                .waves
                .iter()
                .enumerate()
                .map(|(i, wave)| {
                    format!(
                        "{}. {}",
                        i + 1,
                        wave.iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .collect();
            if !environment.deletions.is_empty() {
                order.push(format!(
                    "{}. delete {}",
                    order.len() + 1,
                    environment
                        .deletions
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let _ = writeln!(out, "Deploy order:\n\n{}\n", order.join("\n"));
        }
        let shown = sections.len();
        let changed = environment
            .stacks
            .iter()
            .filter(|s| s.action != Action::None)
            .count();
        for section in sections {
            out.push_str(&section.text);
        }
        if shown < changed {
            let _ = writeln!(
                out,
                "\n_{} more changed stack(s) left out to fit one comment._\n",
                changed - shown
            );
        }
    }
    out
}

fn header(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", marker(plan));
    let _ = writeln!(
        out,
        "## Strata plan: `{}` → `{}`\n",
        plan.base.label, plan.head.label
    );
    out.push_str(
        "| environment | stacks | resources | errors | risks |\n| --- | --- | --- | --- | --- |\n",
    );
    for environment in &plan.environments {
        let (added, changed, removed, unchanged) = environment.counts();
        let (r_added, r_modified, r_removed) = environment.resource_counts();
        let mut stacks = Vec::new();
        for (count, word) in [
            (added, "added"),
            (changed, "changed"),
            (removed, "removed"),
            (unchanged, "unchanged"),
        ] {
            if count > 0 {
                stacks.push(format!("{count} {word}"));
            }
        }
        let critical = environment
            .risks
            .iter()
            .filter(|r| r.severity == Severity::Critical)
            .count();
        let risks = match (critical, environment.risks.len()) {
            (_, 0) => "none".to_owned(),
            (0, n) => format!("{n} warning{}", if n == 1 { "" } else { "s" }),
            (c, n) => format!(
                "**{c} critical**{}",
                if n > c {
                    format!(", {} warning(s)", n - c)
                } else {
                    String::new()
                }
            ),
        };
        let errors = match environment.error_count() {
            0 => "none".to_owned(),
            n => format!("**{n}**"),
        };
        let _ = writeln!(
            out,
            "| **{}** | {} | +{r_added} ~{r_modified} −{r_removed} | {errors} | {risks} |",
            environment.name,
            if stacks.is_empty() {
                "none".to_owned()
            } else {
                stacks.join(", ")
            }
        );
    }
    let errors: Vec<String> = plan
        .environments
        .iter()
        .flat_map(|e| {
            e.errors.iter().map(move |x| {
                format!(
                    "- **{}** · `{}`: {}\n  - {}",
                    e.name,
                    x.stack,
                    cell(&x.message),
                    cell(&x.help)
                )
            })
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(
            out,
            "\n**Errors: fix these before applying**\n\n{}",
            errors.join("\n")
        );
    }
    let findings: Vec<String> = plan
        .environments
        .iter()
        .flat_map(|e| {
            let mut findings: Vec<&crate::policy::Finding> = e.findings.iter().collect();
            findings.sort_by_key(|f| !f.is_error());
            findings.into_iter().map(move |f| {
                let mark = if f.is_error() { "**error**" } else { "warning" };
                let mut line = format!(
                    "- {mark} · **{}** · `{}` · {}/{}: {}",
                    e.name,
                    f.location(),
                    f.policy,
                    f.rule,
                    cell(&f.message)
                );
                if let Some(help) = &f.help {
                    let _ = write!(line, "\n  - {}", cell(help));
                }
                line
            })
        })
        .collect();
    if !findings.is_empty() {
        let blocking = plan
            .environments
            .iter()
            .any(|e| e.blocking_findings().next().is_some());
        let _ = writeln!(
            out,
            "\n**Policy{}**\n\n{}",
            if blocking {
                ": errors block the apply (fix them, or set the rule's severity in `strata.toml`)"
            } else {
                ""
            },
            findings.join("\n")
        );
    }
    let risks: Vec<String> = plan
        .environments
        .iter()
        .flat_map(|e| {
            e.risks.iter().map(move |r| {
                let mark = if r.severity == Severity::Critical {
                    "**critical**"
                } else {
                    "warning"
                };
                format!(
                    "- {mark} · **{}** · `{}`: {}",
                    e.name,
                    r.stack,
                    cell(&r.message)
                )
            })
        })
        .collect();
    if !risks.is_empty() {
        let shown = risks.len().min(RISKS_SHOWN);
        let _ = writeln!(out, "\n**Risks**\n\n{}", risks[..shown].join("\n"));
        if risks.len() > shown {
            let _ = writeln!(
                out,
                "- … and {} more (see the plan file)",
                risks.len() - shown
            );
        }
    }
    out
}

fn symbol(action: Action) -> &'static str {
    match action {
        Action::Add => "+",
        Action::Modify => "~",
        Action::Remove => "−",
        Action::None => " ",
    }
}

fn stack_details(stack: &StackChange) -> String {
    let (mut added, mut modified, mut removed) = (0, 0, 0);
    for r in &stack.resources {
        match r.action {
            Action::Add => added += 1,
            Action::Modify => modified += 1,
            Action::Remove => removed += 1,
            Action::None => {}
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<details><summary><code>{} {}</code> ({}): +{added} ~{modified} −{removed} resources{}</summary>\n",
        symbol(stack.action),
        stack.name,
        stack.kind,
        if stack.affected_by.is_empty() {
            ""
        } else {
            ", affected by a changed export"
        }
    );
    if let Some(module) = &stack.module {
        let _ = writeln!(out, "Module: `{}` → `{}`\n", module.before, module.after);
    }
    if !stack.affected_by.is_empty() {
        let _ = writeln!(
            out,
            "Imports that change value: {}\n",
            stack
                .affected_by
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !stack.resources.is_empty() {
        out.push_str("| | resource | type | property | before | after |\n| --- | --- | --- | --- | --- | --- |\n");
        for resource in &stack.resources {
            resource_rows(&mut out, resource);
        }
        out.push('\n');
    }
    for (title, changes) in [
        ("Parameters", &stack.parameters),
        ("Outputs", &stack.outputs),
        ("Exports", &stack.exports),
    ] {
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "{title}:\n\n| | name | before | after |\n| --- | --- | --- | --- |"
        );
        for change in changes {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                symbol(change.action),
                cell(&change.name),
                value_cell(change.before.as_ref()),
                value_cell(change.after.as_ref())
            );
        }
        out.push('\n');
    }
    out.push_str("</details>\n");
    out
}

fn resource_rows(out: &mut String, resource: &ResourceChange) {
    let mut name = format!("`{}`", resource.logical_id);
    if resource.replacement {
        name.push_str(" **replaced**");
    }
    if resource.action != Action::Modify || resource.properties.is_empty() {
        let _ = writeln!(
            out,
            "| {} | {name} | `{}` | | | |",
            symbol(resource.action),
            resource.kind
        );
        return;
    }
    for (i, property) in resource.properties.iter().enumerate() {
        let (mark, name, kind) = if i == 0 {
            (
                symbol(resource.action),
                name.as_str(),
                format!("`{}`", resource.kind),
            )
        } else {
            ("", "", String::new())
        };
        let path = if property.forces_replacement {
            format!("`{}` (replaces)", cell(&property.path))
        } else {
            format!("`{}`", cell(&property.path))
        };
        let _ = writeln!(
            out,
            "| {mark} | {name} | {kind} | {path} | {} | {} |",
            value_cell(property.before.as_ref()),
            value_cell(property.after.as_ref())
        );
    }
}

fn value_cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None => String::new(),
        Some(v) => format!("`{}`", cell(&shorten(v, VALUE_LIMIT)).replace('`', "'")),
    }
}

/// Text safe inside a table cell: no pipes or newlines.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
