//! The plan as JSON: a documented, versioned document (`docs/plan-format.md`).
//!
//! `strata plan --out FILE` saves it; it records the base and head commits
//! and each stack's template sha256 at both sides, so a later apply can
//! refuse a plan that no longer matches what would deploy.

use serde::Serialize;

use super::{EnvironmentPlan, Plan, Revision};

/// The document's format name and version. A change that removes or
/// renames a field bumps the version.
pub const FORMAT: &str = "strata.plan/v1";

#[derive(Serialize)]
struct Document<'a> {
    format: &'static str,
    strata: &'static str,
    base: &'a Revision,
    head: &'a Revision,
    summary: Vec<Summary<'a>>,
    has_errors: bool,
    environments: &'a [EnvironmentPlan],
}

#[derive(Serialize)]
struct Summary<'a> {
    environment: &'a str,
    stacks_added: usize,
    stacks_changed: usize,
    stacks_removed: usize,
    stacks_unchanged: usize,
    resources_added: usize,
    resources_modified: usize,
    resources_removed: usize,
    errors: usize,
    risks: usize,
    /// Error findings of the policies (they block the apply).
    #[serde(skip_serializing_if = "is_zero")]
    policy_errors: usize,
    /// Warning findings of the policies.
    #[serde(skip_serializing_if = "is_zero")]
    policy_warnings: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The plan as pretty JSON, ending in a newline.
pub fn to_string(plan: &Plan) -> String {
    let summary = plan
        .environments
        .iter()
        .map(|e| {
            let (added, changed, removed, unchanged) = e.counts();
            let (r_added, r_modified, r_removed) = e.resource_counts();
            Summary {
                environment: &e.name,
                stacks_added: added,
                stacks_changed: changed,
                stacks_removed: removed,
                stacks_unchanged: unchanged,
                resources_added: r_added,
                resources_modified: r_modified,
                resources_removed: r_removed,
                errors: e.errors.len(),
                risks: e.risks.len(),
                policy_errors: e.blocking_findings().count(),
                policy_warnings: e.findings.len() - e.blocking_findings().count(),
            }
        })
        .collect();
    let document = Document {
        format: FORMAT,
        strata: env!("CARGO_PKG_VERSION"),
        base: &plan.base,
        head: &plan.head,
        summary,
        has_errors: plan.has_errors(),
        environments: &plan.environments,
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
