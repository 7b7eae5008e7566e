//! Workflows: `workflows/*.toml`, the files that say which events plan or
//! deploy which environments, in which stages, behind which gates — and the
//! policy they express.
//!
//! The layer is pure. [`Workflows::load`] turns the files' text (read by
//! [`crate::workspace`], from disk or a git revision) into the model below,
//! reporting every problem of every file at once with `file:line:col` spans;
//! without files the [built-in default](Workflows::builtin) applies. Then
//! [`decide`] takes an [`Event`] (a pull request, a push, a `/strata apply`
//! comment, a dispatch, a tick of the clock, a schedule) and the [`Facts`] the
//! caller recorded (what ran at a commit, the approvals, the checks, the time)
//! and returns a [`Decision`]: what to plan, which stages run now, and what
//! each waiting stage still waits for, in words for a pull-request comment.
//!
//! Nothing here reads a clock, a file, git, AWS or GitHub: `strata serve`,
//! `strata run`, `strata validate` and the watcher call in and execute what
//! comes back. The file format is documented in `workflows/README.md`.

#![warn(missing_docs)]

mod cron;
mod decide;
mod load;
pub mod schema;
mod time;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::config::{Diagnostic, SourceFile};

pub use cron::{Cron, CronError};
pub use decide::{
    Approval, CheckState, Commit, Decision, Event, Facts, Origin, Override, RunDecision, RunFacts,
    Scheduled, StageDecision, StageRecord, StageStatus, Verdict, Wait, decide, parameter_matches,
    resolve_inputs,
};
pub use time::{Day, Window, format_duration, parse_duration};

/// Where workflow files live, relative to the repository root.
pub const WORKFLOWS_DIR: &str = "workflows";

/// The name of the built-in default workflow.
pub const BUILTIN_NAME: &str = "default";

/// Seconds since the Unix epoch (UTC). Time is always passed in, never read.
pub type Timestamp = i64;

/// What the loader needs to know of the repository, to check names.
#[derive(Debug, Clone, Copy)]
pub struct Known<'a> {
    /// The repository's default branch: `main`.
    pub default_branch: &'a str,
    /// Every environment (`environments/NAME.toml`), by name.
    pub environments: &'a BTreeMap<String, EnvironmentInfo>,
}

/// What a workflow needs to know of one environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentInfo {
    /// `protected = true` in its file: the built-in default applies it only
    /// on a command.
    pub protected: bool,
    /// Its stacks' names.
    pub stacks: Vec<String>,
}

/// Every workflow of a repository.
#[derive(Debug, Clone)]
pub struct Workflows {
    /// The workflows, by file name.
    pub workflows: Vec<Workflow>,
    /// True when the repository has no workflow files and the built-in
    /// default stands in.
    pub builtin: bool,
}

impl Workflows {
    /// Load every `workflows/*.toml` (`sources`: each file's path, relative to
    /// the repository root, and text) — or, when there are none, the built-in
    /// default. Every problem of every file at once; warnings are returned
    /// beside the workflows, or among the errors.
    pub fn load(
        sources: &[Arc<SourceFile>],
        known: &Known,
    ) -> Result<(Workflows, Vec<Diagnostic>), Vec<Diagnostic>> {
        load::load(sources, known)
    }

    /// The built-in default, used when a repository has no workflow files:
    /// pull requests into the default branch are planned; `/strata apply
    /// [ENV]` on a pull request applies its environments once it has an
    /// approving review and merges cleanly; a merge or push to the default
    /// branch applies the environments it touches that are not `protected`,
    /// one after the other in name order; a protected environment is applied
    /// only by a command (after an approving review). One stage per
    /// environment, unprotected ones first, each after the one before.
    pub fn builtin(known: &Known) -> Workflows {
        load::builtin(known)
    }

    /// The workflow named `name` (its file stem).
    pub fn get(&self, name: &str) -> Option<&Workflow> {
        self.workflows.iter().find(|w| w.name == name)
    }

    /// The `org/team` slugs any gate names, so the caller can ask the forge
    /// who is a member (for [`Approval::teams`]).
    pub fn teams(&self) -> BTreeSet<String> {
        self.workflows
            .iter()
            .flat_map(|w| {
                w.stages
                    .iter()
                    .map(|s| &s.gates)
                    .chain(std::iter::once(&w.on.command_gates))
            })
            .filter_map(|g| g.approvals.as_ref())
            .flat_map(|a| a.from.iter())
            .filter(|a| matches!(a, Approver::Team { .. }))
            .map(Approver::to_string)
            .collect()
    }
}

/// One workflow: a file of `workflows/`, or the built-in default.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// The file stem (`release`); [`BUILTIN_NAME`] for the built-in.
    pub name: String,
    /// `workflows/release.toml`, or `(built in)`.
    pub path: String,
    /// `description = "..."`.
    pub description: Option<String>,
    /// What starts it.
    pub on: Triggers,
    /// Inputs a dispatch may give, by name.
    pub inputs: BTreeMap<String, Input>,
    /// Every stage deploys parameters only, keeping each stack's deployed
    /// template (a code-only deploy).
    pub code_only: bool,
    /// The stages, in the order they are declared.
    pub stages: Vec<Stage>,
    /// `[notify]`: where its applies, waiting gates and drift are announced.
    pub notify: Option<Notify>,
}

impl Workflow {
    /// Every environment of its stages, in stage order, each once.
    pub fn environments(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        self.stages
            .iter()
            .flat_map(|s| s.environments.iter())
            .filter(|e| seen.insert(e.as_str()))
            .cloned()
            .collect()
    }

    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// `dev → staging → prod`: the stages in order.
    pub fn outline(&self) -> String {
        self.stages
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

/// What starts a workflow (`[on.*]`).
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    /// `[on.pull_request]`: plan the environments a pull request into these
    /// base branches touches.
    pub pull_request: Option<Branches>,
    /// `[on.push]`: new commits on these branches run the stages.
    pub push: Option<PushTrigger>,
    /// `[on.command]`: `/strata apply [ENV]` may run stages (and release
    /// those with `when = "command"`).
    pub command: bool,
    /// `[on.command]`'s gates: what every apply *before merge* must pass
    /// besides the stage's own (the built-in default: an approving review,
    /// a pull request that merges cleanly). Empty in most files.
    pub command_gates: Gates,
    /// `[on.dispatch]`: `strata run WORKFLOW` and `/strata run WORKFLOW` start it.
    pub dispatch: bool,
    /// `[[on.schedule]]`: cron triggers.
    pub schedule: Vec<Schedule>,
}

impl Triggers {
    /// Whether anything starts the workflow.
    pub fn any(&self) -> bool {
        self.pull_request.is_some()
            || self.push.is_some()
            || self.command
            || self.dispatch
            || !self.schedule.is_empty()
    }
}

/// Base branches a trigger applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Branches {
    /// Branch names (`*` matches any run of characters); empty means the
    /// repository's default branch.
    pub branches: Vec<String>,
}

impl Branches {
    /// Whether `branch` is one of them (`default_branch` when none is listed).
    pub fn matches(&self, branch: &str, default_branch: &str) -> bool {
        if self.branches.is_empty() {
            return branch == default_branch;
        }
        self.branches.iter().any(|b| parameter_matches(b, branch))
    }

    /// The branches as patterns (the default branch when none is listed).
    pub fn resolved<'a>(&'a self, default_branch: &'a str) -> Vec<&'a str> {
        if self.branches.is_empty() {
            vec![default_branch]
        } else {
            self.branches.iter().map(String::as_str).collect()
        }
    }
}

/// `[on.push]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTrigger {
    /// The branches whose new commits run the stages.
    pub branches: Branches,
    /// Several new commits at once: only the newest, or each in order.
    pub commits: Commits,
}

/// Which of several commits pushed at once run the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Commits {
    /// Only the newest, with everything the new commits touch together.
    #[default]
    Tip,
    /// Each commit, oldest first.
    Each,
}

/// One `[[on.schedule]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// When it fires.
    pub cron: Cron,
    /// The IANA time zone the cron fields are in: `UTC`.
    pub timezone: String,
    /// What it does.
    pub action: ScheduleAction,
    /// `heal = true` (only with `action = "drift"`): drift found is healed by
    /// applying again what git says the environment runs.
    pub heal: bool,
}

impl Schedule {
    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.cron.next_after(after, &time::zone(&self.timezone))
    }

    /// Whether it fires at some minute in `(since, now]`.
    pub fn due(&self, since: Timestamp, now: Timestamp) -> bool {
        since < now && self.next_after(since).is_some_and(|at| at <= now)
    }
}

/// What a schedule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleAction {
    /// Check the environments for drift from what is deployed (the watcher runs it).
    Drift,
    /// Run the stages at the tip of the branch.
    Apply,
}

impl fmt::Display for ScheduleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Drift => "drift",
            Self::Apply => "apply",
        })
    }
}

/// `[notify]`: a Slack-compatible incoming webhook that hears of a workflow's
/// events. The URL is a secret, so the file usually names an environment
/// variable holding it (`url_env`) rather than the URL itself (`slack`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Where the messages go.
    pub webhook: Webhook,
    /// Which events are announced (`on = [...]`; default all).
    pub on: BTreeSet<NotifyEvent>,
}

impl Notify {
    /// Whether `event` is announced.
    pub fn wants(&self, event: NotifyEvent) -> bool {
        self.on.contains(&event)
    }
}

/// Where a [`Notify`] posts. Reading an environment variable is the
/// caller's business: this layer reads nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Webhook {
    /// `slack = "https://hooks.slack.com/services/..."`: the URL itself.
    Url(String),
    /// `url_env = "SLACK_WEBHOOK_URL"`: the environment variable holding it.
    Env(String),
}

impl fmt::Display for Webhook {
    /// Never the URL (a secret): its scheme and host, or the variable's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url(url) => {
                let host = url
                    .split_once("://")
                    .map(|(scheme, rest)| (scheme, rest.split(['/', '?']).next().unwrap_or("")));
                match host {
                    Some((scheme, host)) => write!(f, "{scheme}://{host}/…"),
                    None => f.write_str("(a URL)"),
                }
            }
            Self::Env(name) => write!(f, "${name}"),
        }
    }
}

/// An event a [`Notify`] can announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyEvent {
    /// An apply of an environment finished, succeeded or failed.
    Apply,
    /// A stage is waiting on a gate.
    Gate,
    /// Drift was found in an environment, or cleared.
    Drift,
}

impl NotifyEvent {
    /// Every event, in the order the file lists them.
    pub const ALL: [NotifyEvent; 3] = [Self::Apply, Self::Gate, Self::Drift];

    /// `apply`, `gate`, `drift`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "apply",
            Self::Gate => "gate",
            Self::Drift => "drift",
        }
    }
}

/// One `[inputs.NAME]`: a value a dispatch gives, and the CloudFormation
/// parameters it sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    /// What it is, for `strata run --help`-like listings.
    pub description: Option<String>,
    /// A dispatch must give it (unless it has a default).
    pub required: bool,
    /// The value when a dispatch gives none.
    pub default: Option<String>,
    /// A regular expression (the `regex` crate's syntax) the value must match;
    /// anchor it yourself (`^...$`).
    pub pattern: Option<String>,
    /// The CloudFormation parameter names it sets; `*` is a wildcard (`*ImageTag`).
    pub parameters: Vec<String>,
    /// The stacks whose templates' parameters it sets.
    pub stacks: Vec<String>,
}

/// One `[[stages]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Its name: lowercase letters, digits, `-`; unique in the file.
    pub name: String,
    /// The environments it deploys, in the file's order.
    pub environments: Vec<String>,
    /// Earlier stages that must have succeeded (or had nothing to do) at the
    /// same commit first.
    pub after: Vec<String>,
    /// Which stacks of its environments it deploys.
    pub stacks: StackFilter,
    /// Whether it runs by itself or waits for a command.
    pub when: When,
    /// What else must hold before it runs.
    pub gates: Gates,
}

/// Which stacks a stage deploys.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "stacks")]
pub enum StackFilter {
    /// Every stack.
    #[default]
    All,
    /// Only these (`only = [...]`): a targeted deploy.
    Only(Vec<String>),
    /// All but these (`except = [...]`).
    Except(Vec<String>),
}

impl StackFilter {
    /// Whether the stage deploys `stack`.
    pub fn includes(&self, stack: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(only) => only.iter().any(|s| s == stack),
            Self::Except(except) => !except.iter().any(|s| s == stack),
        }
    }
}

impl fmt::Display for StackFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |stacks: &[String]| {
            stacks
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::All => f.write_str("every stack"),
            Self::Only(only) => write!(f, "only {}", list(only)),
            Self::Except(except) => write!(f, "all stacks but {}", list(except)),
        }
    }
}

/// Whether a stage runs by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// As soon as its gates pass.
    #[default]
    Auto,
    /// Only after `/strata apply ENV` (or a dispatch) releases it.
    Command,
}

/// What must hold before a stage runs (`[stages.gates]`). Every gate that
/// does not hold is reported, not only the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gates {
    /// Approving reviews on the pull request.
    pub approvals: Option<Approvals>,
    /// The pull request merges cleanly. Holds only before merge: a run on
    /// the branch (after a merge or push) passes it.
    pub mergeable: bool,
    /// The pull request is up to date with its base branch. Holds only before
    /// merge, like `mergeable`.
    pub up_to_date: bool,
    /// Commit statuses or check runs that must be green.
    pub checks: Vec<String>,
    /// When the stage may deploy.
    pub window: Option<Window>,
    /// How long after the last of `after` finished it waits.
    pub soak: Option<std::time::Duration>,
}

impl Gates {
    /// Whether no gate is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `approvals = { count = 1, from = [...] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approvals {
    /// How many distinct approvers (never the author).
    pub count: u32,
    /// Whose approval counts: users and teams. Empty (only in the built-in
    /// default and `[on.command]`): anyone's.
    pub from: Vec<Approver>,
}

/// Someone whose approval counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(untagged)]
pub enum Approver {
    /// A GitHub login: `alice`.
    User(String),
    /// Any active member of a team: `acme/platform`.
    Team {
        /// The organisation: `acme`.
        org: String,
        /// The team's slug: `platform`.
        slug: String,
    },
}

impl Approver {
    /// Parse `alice` or `acme/platform`; the error says which rule failed.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix('@') {
            return Err(format!("write `{rest}` without the `@`"));
        }
        match text.split_once('/') {
            Some((org, slug)) => {
                check_login(org).map_err(|rule| format!("the organisation `{org}` {rule}"))?;
                if slug.is_empty()
                    || slug.len() > 100
                    || !slug
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    return Err(format!(
                        "the team slug `{slug}` may hold only letters, digits, `-` and `_`"
                    ));
                }
                Ok(Self::Team {
                    org: org.to_owned(),
                    slug: slug.to_owned(),
                })
            }
            None => check_login(text).map(|()| Self::User(text.to_owned())),
        }
    }

    /// Whether `approval` is this user, or a member of this team.
    pub fn admits(&self, approval: &Approval) -> bool {
        match self {
            Self::User(login) => login.eq_ignore_ascii_case(&approval.user),
            Self::Team { .. } => {
                let team = self.to_string();
                approval.teams.iter().any(|t| t.eq_ignore_ascii_case(&team))
            }
        }
    }
}

fn check_login(login: &str) -> Result<(), String> {
    if login.is_empty() || login.len() > 39 {
        return Err("must be 1 to 39 characters".into());
    }
    if !login.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("may hold only letters, digits and `-`".into());
    }
    if login.starts_with('-') || login.ends_with('-') {
        return Err("must not start or end with `-`".into());
    }
    Ok(())
}

impl fmt::Display for Approver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(login) => f.write_str(login),
            Self::Team { org, slug } => write!(f, "{org}/{slug}"),
        }
    }
}

#[cfg(test)]
mod tests;
