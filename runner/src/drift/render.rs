//! A [`DriftReport`] for people and programs: [`terminal`] text (coloured
//! only when asked), [`markdown`] for the body of a GitHub issue (one per
//! environment, under GitHub's 65,536 characters), and [`json`]
//! (`strata.drift/v1`, documented in `docs/drift.md`).

use std::fmt::Write as _;

use serde::Serialize;

use super::{Change, Difference, DriftKind, DriftReport, EnvironmentDrift, ResourceDriftCheck};
use crate::plan::diff::shorten;
pub use crate::plan::terminal::Colour;

/// The JSON document's `format`.
pub const FORMAT: &str = "strata.drift/v1";

/// GitHub's limit on an issue body, in characters.
pub const ISSUE_LIMIT: usize = 65_536;

/// Values longer than this are cut in text output.
const VALUE_LIMIT: usize = 100;

fn paint(colour: Colour, code: &str, text: &str) -> String {
    match colour {
        Colour::On => format!("\x1b[{code}m{text}\x1b[0m"),
        Colour::Off => text.to_owned(),
    }
}

fn value(value: Option<&serde_json::Value>) -> String {
    value.map_or_else(|| "(none)".to_owned(), |v| shorten(v, VALUE_LIMIT))
}

/// Where a change is: `Resource.path`, `Resource (deleted)`, or the path.
fn location(change: &Change) -> String {
    match (&change.resource, change.path.as_str()) {
        (Some(resource), _) if change.difference == Difference::Deleted => {
            format!("{resource} (deleted)")
        }
        (Some(resource), "") => resource.clone(),
        (Some(resource), path) if path.starts_with('/') => format!("{resource}{path}"),
        (Some(resource), path) => format!("{resource}.{path}"),
        (None, path) => path.to_owned(),
    }
}

/// The report as terminal text: per environment a headline, then per
/// drifted stack its kind and changes, git's value → the cloud's.
pub fn terminal(report: &DriftReport, colour: Colour) -> String {
    let mut out = String::new();
    for environment in &report.environments {
        let commit = environment
            .commit
            .as_deref()
            .map_or("the working tree".to_owned(), |c| {
                c.chars().take(7).collect()
            });
        if environment.is_drifted() {
            let _ = writeln!(
                out,
                "{} {} drifted from git at {commit}: {} of {} stack{} differ",
                paint(colour, "1;33", "~"),
                paint(colour, "1", &format!("environment `{}`", environment.name)),
                stacks_drifted(environment),
                environment.stacks_checked,
                if environment.stacks_checked == 1 {
                    ""
                } else {
                    "s"
                },
            );
        } else if !environment.errors.is_empty() {
            let _ = writeln!(
                out,
                "{} {} could not be checked in full at {commit} ({} stack{} checked)",
                paint(colour, "1;31", "✗"),
                paint(colour, "1", &format!("environment `{}`", environment.name)),
                environment.stacks_checked,
                if environment.stacks_checked == 1 {
                    ""
                } else {
                    "s"
                },
            );
        } else {
            let _ = writeln!(
                out,
                "{} {} matches git at {commit} ({} stack{} checked)",
                paint(colour, "32", "✓"),
                paint(colour, "1", &format!("environment `{}`", environment.name)),
                environment.stacks_checked,
                if environment.stacks_checked == 1 {
                    ""
                } else {
                    "s"
                },
            );
        }
        for drifted in &environment.drifted {
            let symbol = match drifted.kind {
                DriftKind::Missing => paint(colour, "31", "-"),
                DriftKind::Extra => paint(colour, "32", "+"),
                _ => paint(colour, "33", "~"),
            };
            let _ = writeln!(
                out,
                "  {symbol} {} ({}): {}",
                paint(colour, "1", &drifted.stack),
                drifted.stack_name,
                drifted.kind.label()
            );
            for change in &drifted.changes {
                let _ = writeln!(
                    out,
                    "      {}: {} → {}",
                    location(change),
                    value(change.expected.as_ref()),
                    value(change.actual.as_ref())
                );
            }
            if drifted.omitted > 0 {
                let _ = writeln!(out, "      … and {} more", drifted.omitted);
            }
        }
        if let ResourceDriftCheck::Unavailable(why) = &environment.resource_drift {
            let _ = writeln!(out, "  note: resource drift not checked: {why}");
        }
        for error in &environment.errors {
            let _ = writeln!(out, "  {} {error}", paint(colour, "1;31", "error:"));
        }
    }
    out
}

fn stacks_drifted(environment: &EnvironmentDrift) -> usize {
    let mut stacks: Vec<&str> = environment
        .drifted
        .iter()
        .map(|d| d.stack.as_str())
        .collect();
    stacks.dedup();
    stacks.len()
}

/// One environment as the body of a GitHub issue: a summary, a heading per
/// drifted stack with a table of property paths (git → cloud), how to heal
/// it. Cut to stay under `limit` characters, saying how much was left out.
pub fn markdown(environment: &EnvironmentDrift, limit: usize) -> String {
    let commit = environment
        .commit
        .as_deref()
        .map_or("the working tree".to_owned(), |c| {
            format!("`{}`", c.chars().take(7).collect::<String>())
        });
    let mut head = String::new();
    let _ = writeln!(head, "## Drift in `{}`\n", environment.name);
    if environment.is_drifted() {
        let _ = writeln!(
            head,
            "{} of {} stacks in `{}` differ from git at {commit} (checked {}).\n",
            stacks_drifted(environment),
            environment.stacks_checked,
            environment.region,
            environment.checked_at
        );
    } else if !environment.errors.is_empty() {
        let _ = writeln!(
            head,
            "No drift found in the {} stacks checked in `{}` against git at {commit}, but the check did not finish (checked {}).\n",
            environment.stacks_checked, environment.region, environment.checked_at
        );
    } else {
        let _ = writeln!(
            head,
            "All {} stacks in `{}` match git at {commit} (checked {}).\n",
            environment.stacks_checked, environment.region, environment.checked_at
        );
    }
    let mut tail = String::new();
    if let ResourceDriftCheck::Unavailable(why) = &environment.resource_drift {
        let _ = writeln!(
            tail,
            "> [!NOTE]\n> Resource drift not checked: {}\n",
            one_line(why)
        );
    }
    if !environment.errors.is_empty() {
        let _ = writeln!(tail, "**Not checked:**\n");
        for error in &environment.errors {
            let _ = writeln!(tail, "- {}", one_line(error));
        }
        tail.push('\n');
    }
    if environment.is_drifted() {
        let _ = writeln!(
            tail,
            "To heal, apply git's state again (`strata apply --env {}`), or change git to match. Fingerprint `{}`.",
            environment.name,
            environment.fingerprint()
        );
    }

    let mut sections = Vec::new();
    for drifted in &environment.drifted {
        let mut section = String::new();
        let _ = writeln!(
            section,
            "### `{}` — {}\n\nStack `{}`.\n",
            drifted.stack,
            drifted.kind.label(),
            drifted.stack_name
        );
        if !drifted.changes.is_empty() {
            let _ = writeln!(section, "| where | git | cloud |\n| --- | --- | --- |");
            for change in &drifted.changes {
                let _ = writeln!(
                    section,
                    "| `{}` | {} | {} |",
                    cell(&location(change)),
                    code(change.expected.as_ref()),
                    code(change.actual.as_ref())
                );
            }
            if drifted.omitted > 0 {
                let _ = writeln!(section, "\n… and {} more.", drifted.omitted);
            }
            section.push('\n');
        }
        sections.push(section);
    }

    let reserve = 200;
    let mut body = head;
    let mut shown = 0;
    for section in &sections {
        if body.chars().count() + section.chars().count() + tail.chars().count() + reserve > limit {
            break;
        }
        body.push_str(section);
        shown += 1;
    }
    if shown < sections.len() {
        let _ = writeln!(
            body,
            "… and {} more drifted stack{} not shown: run `strata drift --env {}` for all.\n",
            sections.len() - shown,
            if sections.len() - shown == 1 { "" } else { "s" },
            environment.name
        );
    }
    body.push_str(&tail);
    body
}

fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('`', "'")
        .replace('\n', " ")
}

fn code(value: Option<&serde_json::Value>) -> String {
    match value {
        None => "—".to_owned(),
        Some(v) => format!("`{}`", cell(&shorten(v, VALUE_LIMIT))),
    }
}

/// The JSON document: `{"format": "strata.drift/v1", "drifted": bool,
/// "environments": [...]}`, each environment with its `fingerprint`.
pub fn json(report: &DriftReport) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        format: &'static str,
        drifted: bool,
        environments: Vec<Environment<'a>>,
    }
    #[derive(Serialize)]
    struct Environment<'a> {
        #[serde(flatten)]
        environment: &'a EnvironmentDrift,
        fingerprint: String,
    }
    let document = Document {
        format: FORMAT,
        drifted: report.is_drifted(),
        environments: report
            .environments
            .iter()
            .map(|environment| Environment {
                environment,
                fingerprint: environment.fingerprint(),
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
