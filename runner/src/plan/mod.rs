//! Plans: what a change to the config repository does to every stack it
//! reaches, before anything deploys.
//!
//! A plan compares an environment rendered at a base revision with the same
//! environment rendered at the head ([`plan_environment`]): stacks added,
//! removed, changed; per stack the resources, outputs and exports that
//! change, with property paths and before → after values; the errors
//! CloudFormation would only report mid-deploy (an export removed while still
//! imported, the "export in use" deadlock); the risks (replacements, data
//! deleted), listed first; the stacks downstream of a changed export; and the
//! waves the changes deploy in. Knows nothing of git, AWS or wasmtime: the
//! two sides come in as rendered environments. [`markdown`], [`terminal`]
//! and [`json`] present it.

pub mod diff;
pub mod json;
pub mod markdown;
pub mod risk;
pub mod terminal;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::host::ResourceTraits;
use crate::render::{RenderedEnvironment, RenderedStack};
pub use diff::PropertyChange;

/// The plan of one or more environments between two revisions.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The base side.
    pub base: Revision,
    /// The head side.
    pub head: Revision,
    /// Each environment planned, sorted by name.
    pub environments: Vec<EnvironmentPlan>,
}

/// One side of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// How it is shown: `a1b2c3d`, `working tree`, `nothing`.
    pub label: String,
    /// The full commit id, when the side is a commit.
    pub commit: Option<String>,
}

impl Plan {
    /// True when any environment has an error.
    pub fn has_errors(&self) -> bool {
        self.environments.iter().any(EnvironmentPlan::is_blocked)
    }

    /// True when nothing changes anywhere.
    pub fn is_empty(&self) -> bool {
        self.environments.iter().all(EnvironmentPlan::is_empty)
    }
}

/// What happens to a stack, or a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It appears.
    Add,
    /// It changes in place (or, for resources, see `replacement`).
    Modify,
    /// It disappears.
    Remove,
    /// Nothing changes.
    None,
}

/// The plan of one environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentPlan {
    /// The file stem (`prod`).
    pub name: String,
    /// Add when the file is new, Remove when it is gone, else Modify or None.
    pub action: Action,
    /// Every stack of either side, in deploy order (head waves, then removed stacks).
    pub stacks: Vec<StackChange>,
    /// Problems that would fail the deploy: fix them first.
    pub errors: Vec<PlanError>,
    /// Replacements and data loss, most serious first.
    pub risks: Vec<Risk>,
    /// The changed stacks by wave, in deploy order.
    pub waves: Vec<Vec<String>>,
    /// Stacks to delete, in the order they will be deleted (dependents first).
    pub deletions: Vec<String>,
    /// What the policies found at the head (built-in and `strata.toml`'s),
    /// after the repository's severity settings. Error findings block the
    /// apply like [`EnvironmentPlan::errors`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<crate::policy::Finding>,
}

impl EnvironmentPlan {
    /// The error findings: each one blocks the apply.
    pub fn blocking_findings(&self) -> impl Iterator<Item = &crate::policy::Finding> {
        self.findings.iter().filter(|f| f.is_error())
    }

    /// Whether the plan must not be applied: it has errors, or error findings.
    pub fn is_blocked(&self) -> bool {
        !self.errors.is_empty() || self.blocking_findings().next().is_some()
    }

    /// Errors plus error findings.
    pub fn error_count(&self) -> usize {
        self.errors.len() + self.blocking_findings().count()
    }

    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.stacks.iter().all(|s| s.action == Action::None) && self.errors.is_empty()
    }

    /// Stacks by action: (added, changed, removed, unchanged).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let count = |a: Action| self.stacks.iter().filter(|s| s.action == a).count();
        (
            count(Action::Add),
            count(Action::Modify),
            count(Action::Remove),
            count(Action::None),
        )
    }

    /// Resources by action over all stacks: (added, modified, removed).
    pub fn resource_counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for resource in self.stacks.iter().flat_map(|s| &s.resources) {
            match resource.action {
                Action::Add => counts.0 += 1,
                Action::Modify => counts.1 += 1,
                Action::Remove => counts.2 += 1,
                Action::None => {}
            }
        }
        counts
    }
}

/// What happens to one stack.
#[derive(Debug, Clone, Serialize)]
pub struct StackChange {
    /// The stack's name.
    pub name: String,
    /// Its stack type.
    pub kind: String,
    /// Add, Modify, Remove or None.
    pub action: Action,
    /// The wave it deploys in at head (0 when removed).
    pub wave: usize,
    /// sha256 of the template at base, when the stack exists there.
    pub base_sha256: Option<String>,
    /// sha256 of the template at head, when the stack exists there.
    pub head_sha256: Option<String>,
    /// The module that renders it, when its identity changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleChange>,
    /// Resources that change.
    pub resources: Vec<ResourceChange>,
    /// Template parameters that change.
    pub parameters: Vec<NamedChange>,
    /// Outputs that change (exported or not).
    pub outputs: Vec<NamedChange>,
    /// Exports that change.
    pub exports: Vec<NamedChange>,
    /// Why it is affected without changing itself: imported exports whose
    /// values change.
    pub affected_by: Vec<String>,
    /// What CloudFormation said about it (`strata plan --cloud`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudPreview>,
}

/// What CloudFormation said about a stack when asked (`strata plan --cloud`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CloudPreview {
    /// A change set was created; its resource changes are merged into the plan.
    ChangeSet {
        /// Its name, for the apply to execute.
        change_set: String,
    },
    /// The stack exists and CloudFormation sees nothing to change.
    NoChanges,
    /// The stack does not exist yet: everything is added.
    NewStack,
    /// It imports exports that do not exist yet: the git plan stands.
    MissingImports {
        /// The missing export names.
        exports: Vec<String>,
    },
    /// CloudFormation could not be asked: the git plan stands.
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl CloudPreview {
    /// The change set to execute, when there is one.
    pub fn change_set(&self) -> Option<&str> {
        match self {
            Self::ChangeSet { change_set } => Some(change_set),
            _ => None,
        }
    }
}

/// CloudFormation's own view of a resource change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloudResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    /// `True`, `False` or `Conditional` (absent when CloudFormation does not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// What changes: `Properties`, `Tags`, …
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<String>,
}

/// A module's identity at base and head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleChange {
    /// `name@version (sha256 prefix)` at base.
    pub before: String,
    /// The same at head.
    pub after: String,
}

/// What happens to one resource.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceChange {
    /// Logical id.
    pub logical_id: String,
    /// Resource type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Add, Modify or Remove.
    pub action: Action,
    /// A Modify that CloudFormation does by replacing the resource.
    pub replacement: bool,
    /// The resource holds data.
    pub stateful: bool,
    /// Changed properties (Modify only).
    pub properties: Vec<PropertyChange>,
    /// For a removed resource, the base `DeletionPolicy` that keeps it in the
    /// account (`Retain`, `Snapshot`, `RetainExceptOnCreate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_by: Option<String>,
    /// What CloudFormation's change set says (`strata plan --cloud`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<CloudResourceChange>,
}

/// A named entry (parameter, output, export) that changes.
#[derive(Debug, Clone, Serialize)]
pub struct NamedChange {
    /// Its name.
    pub name: String,
    /// Add, Modify or Remove.
    pub action: Action,
    /// Value at base.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Value at head.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// A change CloudFormation would refuse mid-deploy.
#[derive(Debug, Clone, Serialize)]
pub struct PlanError {
    /// The stack whose change fails.
    pub stack: String,
    /// What is wrong.
    pub message: String,
    /// How to do it instead.
    pub help: String,
}

/// How serious a risk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Data is deleted or replaced.
    Critical,
    /// A resource is replaced, or an export in use changes.
    Warning,
}

/// A change to look at twice.
#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    /// Critical or warning.
    pub severity: Severity,
    /// The stack.
    pub stack: String,
    /// The resource, when the risk is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// What happens.
    pub message: String,
}

/// Plan one environment between `base` (None: it does not exist there) and
/// `head` (None: it is removed).
pub fn plan_environment(
    name: &str,
    base: Option<&RenderedEnvironment>,
    head: Option<&RenderedEnvironment>,
) -> EnvironmentPlan {
    let empty = BTreeMap::new();
    let base_stacks = base.map_or(&empty, |b| &b.stacks);
    let head_stacks = head.map_or(&empty, |h| &h.stacks);
    let names: BTreeSet<&str> = base_stacks
        .keys()
        .chain(head_stacks.keys())
        .map(|s| s.as_str())
        .collect();
    // Wave numbers by stack, looked up once (plans of thousands of stacks).
    let waves_by_stack = |side: Option<&RenderedEnvironment>| -> BTreeMap<String, usize> {
        side.into_iter()
            .flat_map(|e| e.waves.iter())
            .flat_map(|w| w.stacks.iter().map(move |s| (s.to_string(), w.number)))
            .collect()
    };
    let head_waves = waves_by_stack(head);
    let wave_of = |stack: &str| head_waves.get(stack).copied().unwrap_or(0);

    let mut stacks: Vec<StackChange> = names
        .iter()
        .map(|stack| {
            stack_change(
                stack,
                base_stacks.get(*stack).map(|s| &**s),
                head_stacks.get(*stack).map(|s| &**s),
                wave_of(stack),
            )
        })
        .collect();

    let errors = export_errors(base_stacks, head_stacks);
    mark_downstream(&mut stacks, head_stacks);
    let risks = risks(&stacks);

    // Deploy order: head waves, then removed stacks (deleted dependents first).
    let mut deletions: Vec<String> = stacks
        .iter()
        .filter(|s| s.action == Action::Remove)
        .map(|s| s.name.clone())
        .collect();
    let base_waves = waves_by_stack(base);
    deletions.sort_by_key(|s| std::cmp::Reverse(base_waves.get(s).copied().unwrap_or(0)));
    stacks.sort_by(|a, b| {
        let key = |s: &StackChange| (s.action == Action::Remove, s.wave, s.name.clone());
        key(a).cmp(&key(b))
    });
    let changed: BTreeSet<&str> = stacks
        .iter()
        .filter(|c| c.action != Action::None)
        .map(|c| c.name.as_str())
        .collect();
    let waves = head.map_or_else(Vec::new, |h| {
        h.waves
            .iter()
            .map(|w| {
                w.stacks
                    .iter()
                    .filter(|s| changed.contains(s.as_str()))
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|w| !w.is_empty())
            .collect()
    });

    let action = match (base, head) {
        (None, Some(_)) => Action::Add,
        (Some(_), None) => Action::Remove,
        _ if stacks.iter().all(|s| s.action == Action::None) => Action::None,
        _ => Action::Modify,
    };
    EnvironmentPlan {
        name: name.to_owned(),
        action,
        stacks,
        errors,
        risks,
        waves,
        deletions,
        findings: Vec::new(),
    }
}

fn module_label(stack: &RenderedStack) -> String {
    format!(
        "{}@{} ({})",
        stack.module.name,
        stack.module.version,
        &stack.module.sha256[..stack.module.sha256.len().min(12)]
    )
}

fn stack_change(
    name: &str,
    base: Option<&RenderedStack>,
    head: Option<&RenderedStack>,
    wave: usize,
) -> StackChange {
    let kind = head.or(base).map(|s| s.kind.clone()).unwrap_or_default();
    let mut change = StackChange {
        name: name.to_owned(),
        kind,
        action: Action::None,
        wave,
        base_sha256: base.map(|s| s.sha256.clone()),
        head_sha256: head.map(|s| s.sha256.clone()),
        module: None,
        resources: Vec::new(),
        parameters: Vec::new(),
        outputs: Vec::new(),
        exports: Vec::new(),
        affected_by: Vec::new(),
        cloud: None,
    };
    if let (Some(b), Some(h)) = (base, head) {
        if b.module.sha256 != h.module.sha256 {
            change.module = Some(ModuleChange {
                before: module_label(b),
                after: module_label(h),
            });
        }
        if b.sha256 == h.sha256 {
            return change;
        }
    }
    change.action = match (base, head) {
        (None, Some(_)) => Action::Add,
        (Some(_), None) => Action::Remove,
        (Some(_), Some(_)) => Action::Modify,
        (None, None) => Action::None,
    };
    // Only a changed stack's templates are parsed.
    let [before, after] = [base, head].map(|side| side.map_or(Value::Null, |s| s.template()));
    let (before, after) = (&before, &after);
    let no_traits = BTreeMap::new();
    change.resources = resource_changes(
        &before["Resources"],
        &after["Resources"],
        [base, head].map(|side| side.map_or(&no_traits, |s| &s.resource_traits)),
    );
    change.parameters = named_changes(&before["Parameters"], &after["Parameters"], |v| v.clone());
    change.outputs = named_changes(&before["Outputs"], &after["Outputs"], |v| {
        v["Value"].clone()
    });
    change.exports = named_changes(&exports_of(before), &exports_of(after), |v| v.clone());
    change
}

/// `{export name: value expression}` of a template.
fn exports_of(template: &Value) -> Value {
    let mut map = serde_json::Map::new();
    for output in template["Outputs"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
    {
        if let Some(name) = output["Export"]["Name"].as_str() {
            map.insert(name.to_owned(), output["Value"].clone());
        }
    }
    Value::Object(map)
}

fn named_changes(
    before: &Value,
    after: &Value,
    value: impl Fn(&Value) -> Value,
) -> Vec<NamedChange> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        before.as_object().unwrap_or(&empty),
        after.as_object().unwrap_or(&empty),
    );
    let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (x, y) = (a.get(name).map(&value), b.get(name).map(&value));
            let action = match (&x, &y) {
                (None, Some(_)) => Action::Add,
                (Some(_), None) => Action::Remove,
                (Some(x), Some(y)) if x != y => Action::Modify,
                _ => return None,
            };
            Some(NamedChange {
                name: name.clone(),
                action,
                before: x,
                after: y,
            })
        })
        .collect()
}

/// The resources that change between two templates. `declared` is what the
/// base's and the head's module declared about their resources: a resource
/// either side declares stateful is stateful, a property either side says
/// replaces it does (on top of the host's table, [`risk`]).
fn resource_changes(
    before: &Value,
    after: &Value,
    declared: [&BTreeMap<String, ResourceTraits>; 2],
) -> Vec<ResourceChange> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        before.as_object().unwrap_or(&empty),
        after.as_object().unwrap_or(&empty),
    );
    let ids: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let mut changes = Vec::new();
    for id in ids {
        let (x, y) = (a.get(id), b.get(id));
        let kind = y
            .or(x)
            .and_then(|r| r["Type"].as_str())
            .unwrap_or_default()
            .to_owned();
        let traits = || declared.iter().filter_map(|side| side.get(id.as_str()));
        let mut change = ResourceChange {
            logical_id: id.clone(),
            stateful: risk::is_stateful_declared(&kind, traits()),
            kind,
            action: Action::Modify,
            replacement: false,
            properties: Vec::new(),
            kept_by: None,
            cloud: None,
        };
        match (x, y) {
            (None, Some(_)) => change.action = Action::Add,
            (Some(x), None) => {
                change.action = Action::Remove;
                change.kept_by = x["DeletionPolicy"]
                    .as_str()
                    .filter(|p| matches!(*p, "Retain" | "Snapshot" | "RetainExceptOnCreate"))
                    .map(str::to_owned);
            }
            (Some(x), Some(y)) if x == y => continue,
            (Some(x), Some(y)) => {
                if x["Type"] != y["Type"] {
                    // A new type under the same id: CloudFormation replaces it.
                    change.replacement = true;
                    change.properties.push(PropertyChange {
                        path: "Type".into(),
                        before: Some(x["Type"].clone()),
                        after: Some(y["Type"].clone()),
                        forces_replacement: true,
                    });
                } else {
                    diff::diff(
                        "",
                        &x["Properties"],
                        &y["Properties"],
                        &mut change.properties,
                    );
                    for property in &mut change.properties {
                        let top = property.path.split(['.', '[']).next().unwrap_or_default();
                        property.forces_replacement =
                            risk::forces_replacement_declared(&change.kind, top, traits());
                    }
                    change.replacement = change.properties.iter().any(|p| p.forces_replacement);
                    for attribute in [
                        "DeletionPolicy",
                        "UpdateReplacePolicy",
                        "DependsOn",
                        "Condition",
                    ] {
                        if x.get(attribute) != y.get(attribute) {
                            change.properties.push(PropertyChange {
                                path: attribute.into(),
                                before: x.get(attribute).cloned(),
                                after: y.get(attribute).cloned(),
                                forces_replacement: false,
                            });
                        }
                    }
                }
            }
            (None, None) => continue,
        }
        changes.push(change);
    }
    changes
}

/// Exports removed while imported: at head (the deploy would fail) or at
/// base by a stack that stops importing it in the same change
/// (CloudFormation's "export in use" deadlock, aws-cdk#7602).
fn export_errors(
    base: &BTreeMap<crate::config::StackName, std::sync::Arc<RenderedStack>>,
    head: &BTreeMap<crate::config::StackName, std::sync::Arc<RenderedStack>>,
) -> Vec<PlanError> {
    let exported_at_head: BTreeSet<&str> = head
        .values()
        .flat_map(|s| s.exports.iter().map(|e| e.name.as_str()))
        .collect();
    let mut errors = Vec::new();
    // Still imported at head.
    for (importer, stack) in head {
        let mut missing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for import in &stack.imports {
            if !exported_at_head.contains(import.name.as_str()) {
                missing
                    .entry(import.stack.as_str())
                    .or_default()
                    .push(import.output.as_str());
            }
        }
        for (exporter, outputs) in missing {
            let list = outputs
                .iter()
                .map(|o| format!("`{o}`"))
                .collect::<Vec<_>>()
                .join(", ");
            if head.contains_key(exporter) {
                errors.push(PlanError {
                    stack: exporter.to_owned(),
                    message: format!(
                        "stack `{exporter}` stops exporting {list}, but stack `{importer}` still imports {}",
                        if outputs.len() == 1 { "it" } else { "them" }
                    ),
                    help: format!("keep the export, or change `{importer}` to stop importing it first"),
                });
            } else {
                errors.push(PlanError {
                    stack: exporter.to_owned(),
                    message: format!("stack `{exporter}` is removed, but stack `{importer}` still imports its {list}"),
                    help: format!(
                        "do it in two steps: first change `{importer}` so it no longer imports from `{exporter}` and apply; then remove `{exporter}`"
                    ),
                });
            }
        }
    }
    // Imported at base by a stack that drops the import now: the exporter's
    // update cannot remove an export the deployed importer still uses.
    for (exporter, base_stack) in base {
        let Some(head_stack) = head.get(exporter) else {
            continue;
        };
        for export in &base_stack.exports {
            if head_stack.exports.iter().any(|e| e.name == export.name) {
                continue;
            }
            for (importer, importer_base) in base {
                let imported_before = importer_base.imports.iter().any(|i| i.name == export.name);
                let imports_now = head
                    .get(importer)
                    .is_some_and(|s| s.imports.iter().any(|i| i.name == export.name));
                if imported_before && !imports_now && head.contains_key(importer) {
                    errors.push(PlanError {
                        stack: exporter.to_string(),
                        message: format!(
                            "stack `{exporter}` stops exporting `{}` in the same change that stops stack `{importer}` importing it; CloudFormation refuses to remove an export the deployed `{importer}` still uses (the \"export in use\" deadlock)",
                            export.output
                        ),
                        help: format!(
                            "do it in two steps: first apply the change to `{importer}` alone (keep `{exporter}` exporting `{}`), then remove the export from `{exporter}`",
                            export.output
                        ),
                    });
                }
            }
        }
    }
    errors
}

/// Mark stacks that import an export whose value changes: a changed value
/// expression, or one referring to a replaced resource.
fn mark_downstream(
    stacks: &mut [StackChange],
    head: &BTreeMap<crate::config::StackName, std::sync::Arc<RenderedStack>>,
) {
    let mut changed_exports: BTreeMap<String, String> = BTreeMap::new();
    for stack in stacks.iter().filter(|s| s.action == Action::Modify) {
        let replaced: BTreeSet<&str> = stack
            .resources
            .iter()
            .filter(|r| r.replacement)
            .map(|r| r.logical_id.as_str())
            .collect();
        let Some(rendered) = head.get(stack.name.as_str()) else {
            continue;
        };
        for export in exports_of(&rendered.template())
            .as_object()
            .into_iter()
            .flatten()
        {
            let (name, value) = export;
            let expression_changed = stack
                .exports
                .iter()
                .any(|e| &e.name == name && e.action == Action::Modify);
            let refers_to_replaced = references(value)
                .iter()
                .any(|r| replaced.contains(r.as_str()));
            if expression_changed || refers_to_replaced {
                changed_exports.insert(name.clone(), stack.name.clone());
            }
        }
    }
    for stack in stacks.iter_mut() {
        let Some(rendered) = head.get(stack.name.as_str()) else {
            continue;
        };
        for import in &rendered.imports {
            if changed_exports.contains_key(&import.name) {
                stack.affected_by.push(import.name.clone());
            }
        }
    }
}

/// Logical ids a value expression refers to (`Ref`, `Fn::GetAtt`, `${Id}` in `Fn::Sub`).
fn references(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match key.as_str() {
                    "Ref" => out.extend(inner.as_str().map(str::to_owned)),
                    "Fn::GetAtt" => {
                        out.extend(inner.get(0).and_then(Value::as_str).map(str::to_owned))
                    }
                    "Fn::Sub" => {
                        let text = inner
                            .as_str()
                            .or_else(|| inner.get(0).and_then(Value::as_str))
                            .unwrap_or_default();
                        for part in text.split("${").skip(1) {
                            if let Some(name) = part.split('}').next() {
                                out.push(name.split('.').next().unwrap_or(name).to_owned());
                            }
                        }
                        out.extend(references(inner));
                    }
                    _ => out.extend(references(inner)),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| out.extend(references(i))),
        _ => {}
    }
    out
}

fn risks(stacks: &[StackChange]) -> Vec<Risk> {
    let mut risks = Vec::new();
    for stack in stacks {
        for resource in &stack.resources {
            let id = format!("{} ({})", resource.logical_id, resource.kind);
            match (resource.action, resource.replacement, resource.stateful) {
                (Action::Remove, _, true) => risks.push(match &resource.kept_by {
                    Some(policy) => Risk {
                        severity: Severity::Warning,
                        stack: stack.name.clone(),
                        resource: Some(resource.logical_id.clone()),
                        message: format!("{id} leaves the stack; `DeletionPolicy: {policy}` keeps it (and its data) in the account"),
                    },
                    None => Risk {
                        severity: Severity::Critical,
                        stack: stack.name.clone(),
                        resource: Some(resource.logical_id.clone()),
                        message: format!("{id} is deleted with its data"),
                    },
                }),
                (Action::Modify, true, true) => risks.push(Risk {
                    severity: Severity::Critical,
                    stack: stack.name.clone(),
                    resource: Some(resource.logical_id.clone()),
                    message: format!("{id} is replaced: a new one is created and the old one, with its data, deleted ({})", replacing(resource)),
                }),
                (Action::Modify, true, false) => risks.push(Risk {
                    severity: Severity::Warning,
                    stack: stack.name.clone(),
                    resource: Some(resource.logical_id.clone()),
                    message: format!("{id} is replaced ({})", replacing(resource)),
                }),
                _ => {}
            }
        }
        if !stack.affected_by.is_empty() {
            let list = stack
                .affected_by
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ");
            risks.push(Risk {
                severity: Severity::Warning,
                stack: stack.name.clone(),
                resource: None,
                message: format!(
                    "imports {list}, whose value changes; CloudFormation refuses to change an export while `{}` imports it",
                    stack.name
                ),
            });
        }
    }
    risks.sort_by(|a, b| {
        (a.severity, &a.stack, &a.resource).cmp(&(b.severity, &b.stack, &b.resource))
    });
    risks
}

fn replacing(resource: &ResourceChange) -> String {
    let paths: Vec<&str> = resource
        .properties
        .iter()
        .filter(|p| p.forces_replacement)
        .map(|p| p.path.as_str())
        .collect();
    if paths.is_empty() {
        let says = resource
            .cloud
            .as_ref()
            .and_then(|c| c.replacement.as_deref())
            .unwrap_or("True");
        return format!("CloudFormation says `Replacement: {says}`");
    }
    format!("`{}` changes", paths.join("`, `"))
}

impl EnvironmentPlan {
    /// Recompute the risks after the stacks changed (CloudFormation's own
    /// answers merged in by `strata plan --cloud`).
    pub fn refresh_risks(&mut self) {
        self.risks = risks(&self.stacks);
    }
}
