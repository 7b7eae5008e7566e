//! Drift: what runs in the cloud compared with what git says, per environment.
//!
//! Four kinds of drift, each found for one environment at the commit it was
//! deployed from:
//!
//! - **template**: a stack's deployed template (`GetTemplate`) differs from
//!   the template Strata renders for it at the commit the stack was deployed
//!   from (its `strata:commit` tag): someone changed the stack outside
//!   Strata. Listed as property paths, git's value → the cloud's, with the
//!   plan's own diff ([`crate::plan::diff::diff`]);
//! - **parameters**: a parameter whose value differs from what Strata last
//!   set (the template's `Default`, or a code-only deploy's override);
//!   `NoEcho` values are never compared;
//! - **resources**: CloudFormation's own drift detection (`DetectStackDrift`)
//!   found resources modified or deleted; an endpoint without it (moto) makes
//!   the report say so once, not fail;
//! - **missing** and **extra** stacks: in git but not in the cloud, or in the
//!   cloud with Strata's tags for this environment but not in git.
//!
//! The comparison ([`compare`], [`template_drift`], [`parameter_drift`],
//! [`resource_changes`]) is pure and works on plain values. [`check_environment`]
//! gathers them through a [`Cloud`] and a [`Source`] (what git renders at a
//! commit: [`source::GitSource`] reads the repository through the module
//! host, tests pass plain templates). [`render`] prints a [`DriftReport`] for
//! a terminal, as the Markdown body of a GitHub issue, or as JSON
//! (`docs/drift.md`). Nothing here knows GitHub.

pub mod render;
pub mod source;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::cloud::{
    Cloud, CloudError, DetectionStatus, DifferenceKind, ErrorKind, ResourceDrift,
    ResourceDriftStatus, Stack, StackDriftStatus,
};
use crate::deploy::COMMIT_TAG;
use crate::plan::diff::{PropertyChange, diff};

/// The stack tag naming the environment (file stem) a stack belongs to.
pub const ENVIRONMENT_TAG: &str = "strata:environment";

/// The stack tag naming the stack within its environment.
pub const STACK_TAG: &str = "strata:stack";

/// At most this many changes are listed per drifted stack; the rest are
/// counted in [`DriftedStack::omitted`].
pub const MAX_CHANGES: usize = 50;

/// Parameter overrides a code-only deploy recorded: stack (`compute`) →
/// parameter (`ApiImageTag`) → value. `state::State::deployed` has them.
pub type Overrides = BTreeMap<String, BTreeMap<String, String>>;

/// Drift of every environment checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// One entry per environment, in the order asked.
    pub environments: Vec<EnvironmentDrift>,
}

impl DriftReport {
    /// Any environment drifted.
    pub fn is_drifted(&self) -> bool {
        self.environments.iter().any(EnvironmentDrift::is_drifted)
    }

    /// Any environment could not be checked in full.
    pub fn has_errors(&self) -> bool {
        self.environments.iter().any(|e| !e.errors.is_empty())
    }
}

/// Drift of one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentDrift {
    /// The environment (file stem, what `--env` takes).
    pub name: String,
    /// Its AWS region.
    pub region: String,
    /// The commit git's side was rendered at (full SHA); `None` when the
    /// working tree was used (nothing told which commit is deployed).
    pub commit: Option<String>,
    /// When the check ran (RFC 3339, UTC).
    pub checked_at: String,
    /// How many stacks were compared (those in git, plus extra ones).
    pub stacks_checked: usize,
    /// What drifted, sorted by stack then kind; empty when in sync.
    pub drifted: Vec<DriftedStack>,
    /// Whether CloudFormation's resource drift detection ran.
    pub resource_drift: ResourceDriftCheck,
    /// What could not be checked (a stack's template unreadable, a
    /// detection failed); the rest of the report stands.
    pub errors: Vec<String>,
}

impl EnvironmentDrift {
    /// An environment with nothing checked yet.
    pub fn new(name: &str, region: &str) -> Self {
        Self {
            name: name.to_owned(),
            region: region.to_owned(),
            commit: None,
            checked_at: jiff::Timestamp::now()
                .round(jiff::Unit::Second)
                .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string()),
            stacks_checked: 0,
            drifted: Vec::new(),
            resource_drift: ResourceDriftCheck::Checked,
            errors: Vec::new(),
        }
    }

    /// Something drifted.
    pub fn is_drifted(&self) -> bool {
        !self.drifted.is_empty()
    }

    /// A stable digest of what drifted (the `drifted` list: no timestamps,
    /// no commit), so a caller can tell "the same drift as last time" and
    /// leave an issue alone. 16 hex digits; the same for every in-sync check.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest as _, Sha256};
        let text = serde_json::to_string(&self.drifted).unwrap_or_default();
        hex::encode(Sha256::digest(format!("{}\0{text}", self.name).as_bytes()))[..16].to_owned()
    }
}

/// Whether resource drift was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum ResourceDriftCheck {
    /// Every stack's resources were checked by CloudFormation.
    Checked,
    /// Not checked, and why (the endpoint has no drift detection, or it
    /// was turned off).
    Unavailable(String),
}

/// One stack that drifted, in one way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftedStack {
    /// The stack in the environment file (`networking`).
    pub stack: String,
    /// The CloudFormation stack (`v3-backend-production-networking`).
    pub stack_name: String,
    /// How it drifted.
    pub kind: DriftKind,
    /// What differs, at most [`MAX_CHANGES`]; empty for missing and extra
    /// stacks.
    pub changes: Vec<Change>,
    /// Changes found beyond those listed.
    pub omitted: usize,
}

/// How a stack drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The deployed template differs from git's.
    Template,
    /// A parameter differs from what Strata set.
    Parameters,
    /// CloudFormation found resources modified or deleted.
    Resources,
    /// In git, not in the cloud.
    Missing,
    /// In the cloud with this environment's tags, not in git.
    Extra,
}

impl DriftKind {
    /// How it reads in a sentence.
    pub fn label(self) -> &'static str {
        match self {
            Self::Template => "template changed outside Strata",
            Self::Parameters => "parameters changed outside Strata",
            Self::Resources => "resources drifted",
            Self::Missing => "missing: in git, not in the cloud",
            Self::Extra => "extra: in the cloud, not in git",
        }
    }
}

/// One difference: git's value (`expected`) and the cloud's (`actual`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The resource's logical id, when the change is inside one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The resource type, when known (resource drift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Where: a property path inside the resource (`Properties.Tags.Owner`)
    /// for template drift, the parameter's name for parameter drift,
    /// CloudFormation's JSON pointer (`/Properties/Tags/0/Value`) for
    /// resource drift; "" for a whole resource.
    pub path: String,
    /// What git (or the template) says; absent when the cloud added it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// What the cloud has; absent when it was removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
    /// What kind of difference.
    pub difference: Difference,
}

/// What kind of difference a [`Change`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    /// The value differs.
    Changed,
    /// The cloud has a value git does not.
    Added,
    /// The cloud lacks a value git has.
    Removed,
    /// The whole resource is gone.
    Deleted,
}

/// Which stacks of the cloud belong to an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The environment (file stem): its stacks' `strata:environment` tag.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its stacks' name prefix: `{project}-{environment}-`.
    pub prefix: String,
}

impl Scope {
    /// The scope of a loaded environment.
    pub fn of(environment: &crate::config::Environment) -> Self {
        Self {
            name: environment.name.clone(),
            region: environment.region.clone(),
            prefix: format!("{}-{}-", environment.project, environment.environment),
        }
    }

    /// The CloudFormation name of `stack`.
    pub fn stack_name(&self, stack: &str) -> String {
        format!("{}{stack}", self.prefix)
    }

    /// Whether a cloud stack is one of this environment's: tagged
    /// `strata:environment` = the environment, named with its prefix.
    pub fn owns(&self, stack: &Stack) -> bool {
        stack.name.starts_with(&self.prefix)
            && stack
                .tags
                .iter()
                .any(|(key, value)| key == ENVIRONMENT_TAG && *value == self.name)
    }

    /// The environment-file name of a cloud stack of this environment: its
    /// `strata:stack` tag, else its name without the prefix.
    pub fn stack_of(&self, stack: &Stack) -> String {
        tag(stack, STACK_TAG).map_or_else(
            || {
                stack
                    .name
                    .strip_prefix(&self.prefix)
                    .unwrap_or(&stack.name)
                    .to_owned()
            },
            str::to_owned,
        )
    }
}

/// A stack tag's value.
pub fn tag<'a>(stack: &'a Stack, key: &str) -> Option<&'a str> {
    stack
        .tags
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// What git says an environment is at one commit: its stacks' templates.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The commit it was rendered at (full SHA); `None` for the working tree.
    pub commit: Option<String>,
    /// Stack (`networking`) → its template.
    pub stacks: BTreeMap<String, Value>,
}

/// What git says, for [`check_environment`]: the environment's scope, its
/// rendering at a commit, and commit ancestry. [`source::GitSource`] reads a
/// repository through the module host.
pub trait Source: Send + Sync {
    /// The environment's name, region and stack prefix, as the checked-out
    /// files say.
    fn scope(&self, environment: &str) -> Result<Scope, String>;

    /// The environment rendered at `commit` (a full SHA), or at the
    /// checked-out files when `None`. May take a while (modules run).
    fn render(&self, environment: &str, commit: Option<&str>) -> Result<Desired, String>;

    /// Whether `ancestor` is `descendant` or precedes it; `None` when either
    /// is unknown to the repository.
    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Option<bool>;
}

/// How [`check_environment`] runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Stacks read or checked at the same time.
    pub concurrency: usize,
    /// Between polls of a drift detection.
    pub poll_interval: Duration,
    /// A detection still running after this long is reported as an error.
    pub detection_timeout: Duration,
    /// Run CloudFormation's resource drift detection.
    pub resource_drift: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            concurrency: 4,
            poll_interval: Duration::from_secs(2),
            detection_timeout: Duration::from_secs(300),
            resource_drift: true,
        }
    }
}

/// What to check.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The environment (file stem).
    pub environment: &'a str,
    /// The commit the environment was last deployed from, when the caller
    /// knows it (the state database's `deployed`). Otherwise the newest
    /// `strata:commit` among its stacks, else the checked-out files.
    pub commit: Option<&'a str>,
    /// Parameter values code-only deploys set.
    pub overrides: &'a Overrides,
}

/// One deployed stack as the comparison sees it.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The stack as `DescribeStacks` shows it.
    pub stack: Stack,
    /// Its template (`GetTemplate`): `Ok(None)` when not read (an extra
    /// stack), `Err` when it could not be read or parsed.
    pub template: Result<Option<Value>, String>,
}

/// Template, parameter, missing and extra drift of one environment: `expected`
/// is git's template per stack (`networking` → template), `deployed` the
/// environment's stacks in the cloud (see [`Scope::owns`]). Resource drift
/// is CloudFormation's to find ([`check_environment`]). Sorted by stack, then
/// kind. Errors (a template that could not be read) go to `errors`.
pub fn compare(
    scope: &Scope,
    expected: &BTreeMap<String, Value>,
    deployed: &[Deployed],
    overrides: &Overrides,
    errors: &mut Vec<String>,
) -> Vec<DriftedStack> {
    let mut drifted = Vec::new();
    let by_stack: BTreeMap<String, &Deployed> = deployed
        .iter()
        .map(|d| (scope.stack_of(&d.stack), d))
        .collect();
    for (stack, template) in expected {
        let stack_name = scope.stack_name(stack);
        let Some(found) = by_stack.get(stack) else {
            drifted.push(drifted_stack(
                stack,
                &stack_name,
                DriftKind::Missing,
                Vec::new(),
            ));
            continue;
        };
        match &found.template {
            Ok(Some(actual)) => {
                let changes = template_drift(template, actual);
                if !changes.is_empty() {
                    drifted.push(drifted_stack(
                        stack,
                        &found.stack.name,
                        DriftKind::Template,
                        changes,
                    ));
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(format!(
                "cannot read the template of `{}`: {e}",
                found.stack.name
            )),
        }
        let changes = parameter_drift(template, &found.stack.parameters, overrides.get(stack));
        if !changes.is_empty() {
            drifted.push(drifted_stack(
                stack,
                &found.stack.name,
                DriftKind::Parameters,
                changes,
            ));
        }
    }
    for (stack, found) in &by_stack {
        if !expected.contains_key(stack) {
            drifted.push(drifted_stack(
                stack,
                &found.stack.name,
                DriftKind::Extra,
                Vec::new(),
            ));
        }
    }
    drifted.sort_by(|a, b| (&a.stack, a.kind).cmp(&(&b.stack, b.kind)));
    drifted
}

/// A drifted stack with `changes`, capped at [`MAX_CHANGES`].
pub fn drifted_stack(
    stack: &str,
    stack_name: &str,
    kind: DriftKind,
    mut changes: Vec<Change>,
) -> DriftedStack {
    let omitted = changes.len().saturating_sub(MAX_CHANGES);
    changes.truncate(MAX_CHANGES);
    DriftedStack {
        stack: stack.to_owned(),
        stack_name: stack_name.to_owned(),
        kind,
        changes,
        omitted,
    }
}

/// Every difference between git's template (`expected`) and the deployed
/// one (`actual`), compared as JSON values. A change inside a resource names
/// it, with the path inside (`Properties.Tags.Owner`); others keep the
/// template path (`Outputs.VpcId.Value`, `Parameters.Tag.Default`).
pub fn template_drift(expected: &Value, actual: &Value) -> Vec<Change> {
    let mut out: Vec<PropertyChange> = Vec::new();
    diff("", expected, actual, &mut out);
    out.into_iter()
        .map(|c| {
            let difference = match (&c.before, &c.after) {
                (None, Some(_)) => Difference::Added,
                (Some(_), None) => Difference::Removed,
                _ => Difference::Changed,
            };
            let (resource, path) = match c.path.strip_prefix("Resources.") {
                Some(rest) => match rest.split_once('.') {
                    Some((resource, path)) => (Some(resource.to_owned()), path.to_owned()),
                    None => (Some(rest.to_owned()), String::new()),
                },
                None => (None, c.path.clone()),
            };
            Change {
                resource,
                resource_type: None,
                path,
                expected: c.before,
                actual: c.after,
                difference,
            }
        })
        .collect()
}

/// Parameters whose deployed value differs from what Strata set: the
/// `override` a code-only deploy recorded, else the template's `Default`.
/// A parameter without either, and `NoEcho` ones (shown as `****`), are not
/// compared.
pub fn parameter_drift(
    template: &Value,
    deployed: &[(String, String)],
    overrides: Option<&BTreeMap<String, String>>,
) -> Vec<Change> {
    let declared = template.get("Parameters").and_then(Value::as_object);
    let mut changes = Vec::new();
    for (key, actual) in deployed {
        let declaration = declared.and_then(|d| d.get(key));
        let no_echo = declaration.and_then(|d| d.get("NoEcho")).is_some_and(|v| {
            v == &Value::Bool(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true"))
        });
        if no_echo || actual == "****" {
            continue;
        }
        let expected = overrides.and_then(|o| o.get(key).cloned()).or_else(|| {
            declaration
                .and_then(|d| d.get("Default"))
                .map(parameter_text)
        });
        let Some(expected) = expected else { continue };
        if expected != *actual {
            changes.push(Change {
                resource: None,
                resource_type: None,
                path: key.clone(),
                expected: Some(Value::String(expected)),
                actual: Some(Value::String(actual.clone())),
                difference: Difference::Changed,
            });
        }
    }
    changes
}

/// A parameter value as `DescribeStacks` shows it: strings as they are,
/// lists comma-joined, numbers and booleans as text.
fn parameter_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(parameter_text)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

/// CloudFormation's resource drifts as changes: one per property
/// difference, one for a deleted resource. Values that are JSON text are
/// parsed, others kept as strings.
pub fn resource_changes(drifts: &[ResourceDrift]) -> Vec<Change> {
    let mut changes = Vec::new();
    for drift in drifts {
        let base = Change {
            resource: Some(drift.logical_id.clone()),
            resource_type: Some(drift.resource_type.clone()),
            path: String::new(),
            expected: None,
            actual: None,
            difference: Difference::Deleted,
        };
        match drift.status {
            ResourceDriftStatus::Deleted => changes.push(base),
            ResourceDriftStatus::Modified => {
                for d in &drift.differences {
                    let (expected, actual, difference) = match d.kind {
                        DifferenceKind::Add => {
                            (None, Some(json_or_text(&d.actual)), Difference::Added)
                        }
                        DifferenceKind::Remove => {
                            (Some(json_or_text(&d.expected)), None, Difference::Removed)
                        }
                        DifferenceKind::NotEqual => (
                            Some(json_or_text(&d.expected)),
                            Some(json_or_text(&d.actual)),
                            Difference::Changed,
                        ),
                    };
                    changes.push(Change {
                        path: d.path.clone(),
                        expected,
                        actual,
                        difference,
                        ..base.clone()
                    });
                }
            }
            ResourceDriftStatus::InSync | ResourceDriftStatus::NotChecked => {}
        }
    }
    changes
}

fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The commit an environment runs: `given` when the caller knows it, else
/// the newest `strata:commit` tag among `stacks` that the repository knows
/// (by ancestry: the one every other precedes, else the first found), else
/// `None` (the checked-out files).
pub fn environment_commit(
    given: Option<&str>,
    stacks: &[Stack],
    is_ancestor: impl Fn(&str, &str) -> Option<bool>,
) -> Option<String> {
    if let Some(given) = given {
        return Some(given.to_owned());
    }
    let mut known: Vec<&str> = Vec::new();
    for commit in stacks.iter().filter_map(|s| tag(s, COMMIT_TAG)) {
        if !known.contains(&commit) && is_ancestor(commit, commit).is_some() {
            known.push(commit);
        }
    }
    known
        .iter()
        .find(|candidate| {
            known
                .iter()
                .all(|other| is_ancestor(other, candidate).unwrap_or(false))
        })
        .or(known.first())
        .map(|c| (*c).to_owned())
}

/// Check one environment: list its stacks, render git's side at the
/// deployed commit (and each stack at its own `strata:commit`), compare
/// templates and parameters, run resource drift detection, and report
/// missing and extra stacks. Never fails as a whole: what could not be
/// checked is listed in [`EnvironmentDrift::errors`].
///
/// Rendering runs on the calling thread (modules are CPU work); from a
/// server, call this inside `spawn_blocking` + `Handle::block_on`, or on a
/// runtime that can spare the thread.
pub async fn check_environment(
    cloud: &dyn Cloud,
    source: &dyn Source,
    request: &Request<'_>,
    options: &Options,
) -> EnvironmentDrift {
    let scope = match source.scope(request.environment) {
        Ok(scope) => scope,
        Err(e) => {
            let mut report = EnvironmentDrift::new(request.environment, "");
            report.errors.push(e);
            return report;
        }
    };
    let mut report = EnvironmentDrift::new(&scope.name, &scope.region);
    let stacks: Vec<Stack> = match cloud.list_stacks().await {
        Ok(stacks) => stacks.into_iter().filter(|s| scope.owns(s)).collect(),
        Err(e) => {
            report
                .errors
                .push(format!("cannot list the stacks of `{}`: {e}", scope.name));
            return report;
        }
    };
    let commit = environment_commit(request.commit, &stacks, |a, b| source.is_ancestor(a, b));
    let desired = match source.render(&scope.name, commit.as_deref()) {
        Ok(desired) => desired,
        Err(e) => {
            report.errors.push(e);
            return report;
        }
    };
    report.commit = desired.commit.clone();

    // Each stack against its template at the commit it was deployed from.
    let mut expected = desired.stacks.clone();
    let mut renders: BTreeMap<String, Option<Desired>> = BTreeMap::new();
    for stack in &stacks {
        let name = scope.stack_of(stack);
        let Some(own) = tag(stack, COMMIT_TAG) else {
            continue;
        };
        if Some(own) == desired.commit.as_deref() || !expected.contains_key(&name) {
            continue;
        }
        if source.is_ancestor(own, own).is_none() {
            continue;
        }
        let rendered = renders.entry(own.to_owned()).or_insert_with(|| {
            match source.render(&scope.name, Some(own)) {
                Ok(d) => Some(d),
                Err(e) => {
                    report
                        .errors
                        .push(format!("cannot render `{name}` at its commit `{own}`: {e}"));
                    None
                }
            }
        });
        if let Some(template) = rendered.as_ref().and_then(|d| d.stacks.get(&name)) {
            expected.insert(name, template.clone());
        }
    }

    // Deployed templates of the stacks git has.
    let reads = stacks.iter().map(|stack| {
        let wanted = expected.contains_key(&scope.stack_of(stack));
        async move {
            let template = if wanted {
                match cloud.get_template(&stack.name).await {
                    Ok(Some(text)) => serde_json::from_str::<Value>(&text)
                        .map(Some)
                        .map_err(|e| format!("the deployed template is not JSON ({e})")),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            } else {
                Ok(None)
            };
            Deployed {
                stack: stack.clone(),
                template,
            }
        }
    });
    let deployed = bounded(reads.collect(), options.concurrency).await;
    let mut errors = Vec::new();
    report.drifted = compare(&scope, &expected, &deployed, request.overrides, &mut errors);
    report.errors.extend(errors);
    report.stacks_checked = expected.len()
        + deployed
            .iter()
            .filter(|d| !expected.contains_key(&scope.stack_of(&d.stack)))
            .count();

    // Resource drift, through CloudFormation.
    if !options.resource_drift {
        report.resource_drift = ResourceDriftCheck::Unavailable("turned off".into());
    } else {
        // CloudFormation refuses to check a stack that is busy, or one
        // whose create failed (its resources are gone).
        let checked: Vec<&Stack> = stacks
            .iter()
            .filter(|s| expected.contains_key(&scope.stack_of(s)))
            .filter(|s| s.status.is_settled() && !s.status.needs_delete_before_create())
            .collect();
        let detections = checked
            .iter()
            .map(|stack| resource_drift(cloud, stack, options));
        let results = bounded(detections.collect(), options.concurrency).await;
        let mut unsupported = None;
        for (stack, result) in checked.iter().zip(results) {
            match result {
                Ok(drifts) if drifts.is_empty() => {}
                Ok(drifts) => report.drifted.push(drifted_stack(
                    &scope.stack_of(stack),
                    &stack.name,
                    DriftKind::Resources,
                    resource_changes(&drifts),
                )),
                Err(e) if e.kind == ErrorKind::Unsupported => {
                    unsupported.get_or_insert(e.message);
                }
                Err(e) => report.errors.push(format!(
                    "cannot detect resource drift of `{}`: {e}",
                    stack.name
                )),
            }
        }
        if let Some(why) = unsupported {
            report.resource_drift = ResourceDriftCheck::Unavailable(why);
        }
        report
            .drifted
            .sort_by(|a, b| (&a.stack, a.kind).cmp(&(&b.stack, b.kind)));
    }
    report
}

/// Detect `stack`'s resource drift and wait for the result: the drifted
/// resources (none when in sync).
async fn resource_drift(
    cloud: &dyn Cloud,
    stack: &Stack,
    options: &Options,
) -> Result<Vec<ResourceDrift>, CloudError> {
    let id = cloud.detect_drift(&stack.name).await?;
    let started = tokio::time::Instant::now();
    loop {
        let detection = cloud.drift_detection(&id).await?;
        match detection.status {
            DetectionStatus::InProgress => {
                if started.elapsed() > options.detection_timeout {
                    return Err(CloudError::new(
                        ErrorKind::Other,
                        "DescribeStackDriftDetectionStatus",
                        &stack.name,
                        format!(
                            "the drift detection `{id}` was still running after {} s",
                            options.detection_timeout.as_secs()
                        ),
                    ));
                }
                tokio::time::sleep(options.poll_interval).await;
            }
            // A failed detection may still have checked some resources.
            DetectionStatus::Complete | DetectionStatus::Failed
                if detection.stack_drift == StackDriftStatus::Drifted =>
            {
                return cloud.resource_drifts(&stack.name).await;
            }
            DetectionStatus::Complete => return Ok(Vec::new()),
            DetectionStatus::Failed => {
                return Err(CloudError::new(
                    ErrorKind::Other,
                    "DetectStackDrift",
                    &stack.name,
                    detection
                        .reason
                        .unwrap_or_else(|| "the drift detection failed".into()),
                ));
            }
        }
    }
}

/// Run `futures` at most `limit` at a time; their results in order.
async fn bounded<F: Future>(futures: Vec<F>, limit: usize) -> Vec<F::Output> {
    let limit = limit.max(1);
    let mut waiting = futures.into_iter().enumerate();
    let mut running: Vec<(usize, Pin<Box<F>>)> = Vec::new();
    let mut results: BTreeMap<usize, F::Output> = BTreeMap::new();
    std::future::poll_fn(|cx| {
        loop {
            while running.len() < limit {
                match waiting.next() {
                    Some((index, future)) => running.push((index, Box::pin(future))),
                    None => break,
                }
            }
            if running.is_empty() {
                return Poll::Ready(());
            }
            let mut finished = false;
            let mut i = 0;
            while i < running.len() {
                if let Poll::Ready(output) = running[i].1.as_mut().poll(cx) {
                    let (index, _) = running.swap_remove(i);
                    results.insert(index, output);
                    finished = true;
                } else {
                    i += 1;
                }
            }
            if !finished {
                return Poll::Pending;
            }
        }
    })
    .await;
    results.into_values().collect()
}

#[cfg(test)]
mod tests;
