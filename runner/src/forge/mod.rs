//! The forge: where pull requests live, and what Strata says on them.
//!
//! [`Forge`] is the narrow face the pull-request server and the workflows
//! talk to. It can:
//!
//! - read a pull request ([`Forge::pull_request`]: head, base tip, test merge
//!   commit) and find the pull requests a commit came from
//!   ([`Forge::pulls_of_commit`]);
//! - keep one plan comment per pull request up to date
//!   ([`Forge::upsert_comment`]), post one-off replies
//!   ([`Forge::create_comment`]) and react to a command comment
//!   ([`Forge::react`]);
//! - set commit statuses ([`Forge::set_status`]) and read a commit's
//!   statuses and check runs ([`Forge::checks`]), for "named checks are
//!   green" gates;
//! - answer who may do what: a user's permission ([`Forge::permission`]), a
//!   pull request's reviews ([`Forge::reviews`]) and whether they approve it
//!   ([`Forge::is_approved`]), team membership ([`Forge::team_member`]);
//! - record deployments on the repository page ([`Forge::create_deployment`],
//!   [`Forge::set_deployment_status`]);
//! - keep one issue per subject up to date and close it when the subject
//!   clears ([`Forge::upsert_issue`], [`Forge::close_issue`]): drift;
//! - hand out a token for `git fetch` ([`Forge::clone_token`]).
//!
//! Only our own types cross it ([`Repo`], [`PullRequest`], [`Review`],
//! [`Check`], [`DeploymentId`], [`ForgeError`], ...); GitHub's JSON and
//! octocrab stay inside [`GitHub`] (`github.rs`).
//!
//! The rules every implementation shares live here as plain functions so the
//! server, the GitHub adapter and the fake agree on them: the comment size
//! limit ([`check_comment`]), how a status description is shortened
//! ([`cut_description`]), how reviews add up to an approval
//! ([`approved`]) and what a status or check run means for a gate
//! ([`CheckState::of_status`], [`CheckState::of_check_run`]).
//!
//! `fake::FakeGitHub` (feature `test-util`) is a recording fake
//! of GitHub's REST API on 127.0.0.1 for tests of this module and of the
//! server.

#[cfg(any(test, feature = "test-util"))]
pub mod fake;
mod github;
mod offline;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;

pub use github::{Auth, GitHub, GitHubConfig, RetryPolicy};
pub use offline::Offline;

/// The most characters GitHub stores in one issue or pull-request comment.
pub const MAX_COMMENT_CHARS: usize = 65_536;

/// The most characters GitHub accepts in a commit status description.
pub const MAX_DESCRIPTION_CHARS: usize = 140;

/// The login standing for a deleted account (GitHub's own placeholder, and
/// what Strata writes when the forge names no user).
pub const GHOST: &str = "ghost";

/// What Strata needs from the place pull requests live.
///
/// Object safe, so the server holds an `Arc<dyn Forge>`; implementations are
/// [`GitHub`] and, in tests, the real `GitHub` pointed at
/// `fake::FakeGitHub`.
#[async_trait]
pub trait Forge: Send + Sync {
    /// The pull request `number` of `repo`, as it is now (head SHA included:
    /// an `issue_comment` webhook does not carry one).
    async fn pull_request(&self, repo: &Repo, number: u64) -> Result<PullRequest, ForgeError>;

    /// Keeps exactly one comment on pull request `pr` that contains
    /// `marker` (a hidden HTML comment such as `<!-- strata:pr -->`): the
    /// first such comment is edited to `body`, or one is created when there
    /// is none. `body` must contain `marker` (so the next call finds it) and
    /// be at most [`MAX_COMMENT_CHARS`] long; otherwise nothing is sent.
    ///
    /// Idempotent: a write whose outcome is unknown (a 502, a dropped
    /// connection) is followed by a fresh look at the comments, never by a
    /// second blind create.
    async fn upsert_comment(
        &self,
        repo: &Repo,
        pr: u64,
        marker: &str,
        body: &str,
    ) -> Result<CommentId, ForgeError>;

    /// Posts a new comment on pull request `pr` (one-off replies: a lock
    /// notice, help). Not retried once GitHub may have stored it, so a
    /// failure can mean the comment exists; bodies over
    /// [`MAX_COMMENT_CHARS`] are refused without a request.
    async fn create_comment(
        &self,
        repo: &Repo,
        pr: u64,
        body: &str,
    ) -> Result<CommentId, ForgeError>;

    /// Sets the commit status `context` of `sha`. A description longer than
    /// [`MAX_DESCRIPTION_CHARS`] is shortened with [`cut_description`].
    async fn set_status(
        &self,
        repo: &Repo,
        sha: &str,
        context: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError>;

    /// What `user` may do in `repo`; a user the forge does not know has
    /// [`Permission::None`].
    async fn permission(&self, repo: &Repo, user: &str) -> Result<Permission, ForgeError>;

    /// Every review of pull request `pr`, oldest first (all pages).
    async fn reviews(&self, repo: &Repo, pr: u64) -> Result<Vec<Review>, ForgeError>;

    /// Whether pull request `pr` is approved, by the rule of [`approved`]
    /// over all its [`reviews`](Forge::reviews), whichever commit they
    /// were made on. Reviews by deleted accounts ([`GHOST`]) do not count.
    async fn is_approved(&self, repo: &Repo, pr: u64) -> Result<bool, ForgeError> {
        let reviews = self.reviews(repo, pr).await?;
        Ok(approved(
            reviews
                .iter()
                .filter(|review| review.user != GHOST)
                .map(|review| (review.user.as_str(), review.state)),
        ))
    }

    /// Whether `user` is an active member of the team `team_slug` of
    /// organisation `org`. A pending invitation is not membership; a user
    /// who is not a member is `false`, not an error. GitHub answers an
    /// unknown team (or one these credentials may not see: a token needs
    /// `read:org`, an App *Members: read*) the same way, so a misspelt team
    /// denies rather than fails.
    async fn team_member(&self, org: &str, team_slug: &str, user: &str)
    -> Result<bool, ForgeError>;

    /// Records a deployment of `deployment.sha` to `deployment.environment`
    /// (shown on the repository page), without merging the default branch
    /// into it and without requiring any commit status. Then report its
    /// progress with [`set_deployment_status`](Forge::set_deployment_status).
    ///
    /// Not retried once GitHub may have stored it: a failure can mean the
    /// deployment exists (a stray deployment without statuses is harmless).
    async fn create_deployment(
        &self,
        repo: &Repo,
        deployment: &NewDeployment,
    ) -> Result<DeploymentId, ForgeError>;

    /// Adds a status to deployment `id`. A description longer than
    /// [`MAX_DESCRIPTION_CHARS`] is shortened with [`cut_description`].
    /// GitHub marks earlier successful deployments of the same
    /// non-production environment inactive when this one succeeds.
    async fn set_deployment_status(
        &self,
        repo: &Repo,
        id: DeploymentId,
        state: DeploymentState,
        description: &str,
        log_url: Option<&str>,
    ) -> Result<(), ForgeError>;

    /// The numbers of the pull requests commit `sha` came from: merged pull
    /// requests whose merge commit or head is `sha` (for a push to the
    /// default branch, the pull request it merged). Empty for a direct push.
    async fn pulls_of_commit(&self, repo: &Repo, sha: &str) -> Result<Vec<u64>, ForgeError>;

    /// What commit `sha` shows: its commit statuses (the latest per
    /// context) followed by its check runs (the latest per name).
    async fn checks(&self, repo: &Repo, sha: &str) -> Result<Vec<Check>, ForgeError>;

    /// The password for fetching repositories over HTTPS as
    /// `x-access-token`: the configured token, or a current installation
    /// token for a GitHub App. `None`: fetch anonymously.
    async fn clone_token(&self) -> Result<Option<String>, ForgeError>;

    /// Until when the forge asked not to be called again, when the last
    /// rate limit asked for longer than a call waits (a primary limit
    /// resetting in half an hour). `None` when there is no such limit.
    fn rate_limited_until(&self) -> Option<std::time::SystemTime> {
        None
    }

    /// Keeps exactly one open issue of `repo` whose body contains `marker`
    /// (a hidden HTML comment such as `<!-- strata:drift prod -->`): the
    /// first such open issue gets `title` and `body`, or one is opened. A
    /// closed issue is never reopened: drift that comes back after it
    /// cleared is a new issue. `body` must contain `marker` and be at most
    /// [`MAX_COMMENT_CHARS`] long; otherwise nothing is sent.
    async fn upsert_issue(
        &self,
        repo: &Repo,
        marker: &str,
        title: &str,
        body: &str,
    ) -> Result<Issue, ForgeError>;

    /// Closes the open issue whose body contains `marker`, after adding
    /// `comment` to it; `None` when there is no such open issue.
    async fn close_issue(
        &self,
        repo: &Repo,
        marker: &str,
        comment: &str,
    ) -> Result<Option<Issue>, ForgeError>;

    /// Adds `reaction` to the comment `comment` (reacting twice is harmless).
    async fn react(
        &self,
        repo: &Repo,
        comment: CommentId,
        reaction: Reaction,
    ) -> Result<(), ForgeError>;
}

/// A repository on the forge: `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repo {
    /// The user or organisation that owns it.
    pub owner: String,
    /// Its name.
    pub name: String,
}

/// Why a string is not an `owner/name` repository.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repository `{input}`: {rule}")]
pub struct InvalidRepo {
    /// What was given.
    pub input: String,
    /// The rule it breaks, with what to write instead.
    pub rule: &'static str,
}

impl Repo {
    /// A repository from its owner and name, checked as GitHub checks them
    /// (owner: letters, digits and `-`; name: letters, digits, `-`, `_`, `.`).
    pub fn new(owner: &str, name: &str) -> Result<Self, InvalidRepo> {
        let invalid = |rule| InvalidRepo {
            input: format!("{owner}/{name}"),
            rule,
        };
        if owner.is_empty() || owner.len() > 39 {
            return Err(invalid("the owner must be 1 to 39 characters long"));
        }
        if !owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid("the owner may hold only letters, digits and `-`"));
        }
        if name.is_empty() || name.len() > 100 {
            return Err(invalid("the name must be 1 to 100 characters long"));
        }
        if name == "." || name == ".." {
            return Err(invalid("the name cannot be `.` or `..`"));
        }
        let name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !name.chars().all(name_char) {
            return Err(invalid(
                "the name may hold only letters, digits, `-`, `_` and `.`",
            ));
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

impl FromStr for Repo {
    type Err = InvalidRepo;

    /// Parses `owner/name`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((owner, name)) if !name.contains('/') => Self::new(owner, name),
            _ => Err(InvalidRepo {
                input: s.to_owned(),
                rule: "expected `owner/name`, such as `octo-org/infrastructure`",
            }),
        }
    }
}

impl fmt::Display for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A pull request, as far as Strata cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number in the repository.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Open or closed (a merged pull request is closed and `merged`).
    pub state: PullRequestState,
    /// Whether it was merged.
    pub merged: bool,
    /// Whether it merges cleanly; `None` while GitHub is still computing it.
    pub mergeable: Option<bool>,
    /// The commit at the tip of the head branch.
    pub head_sha: String,
    /// The head branch.
    pub head_ref: String,
    /// The branch it merges into.
    pub base_ref: String,
    /// The tip of the base branch, as the forge last saw it.
    pub base_sha: String,
    /// While it is open and mergeable: the commit merging it into the base
    /// tip (GitHub's `refs/pull/N/merge`). Once merged: the commit it was
    /// merged as. `None` while that is not known (or it does not merge).
    pub merge_commit_sha: Option<String>,
    /// Its page on the forge.
    pub html_url: String,
    /// The login of who opened it ([`GHOST`] when the account is gone).
    pub author: String,
}

/// Whether a pull request is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullRequestState {
    /// Open.
    Open,
    /// Closed, merged or not.
    Closed,
}

/// A comment on the forge, by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommentId(pub u64);

impl fmt::Display for CommentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A user's role in a repository, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Full control.
    Admin,
    /// Manages the repository without access to sensitive settings.
    Maintain,
    /// May push.
    Write,
    /// May manage issues and pull requests, not push.
    Triage,
    /// May read.
    Read,
    /// No access.
    None,
}

impl Permission {
    /// Whether the role may push, which is what `/strata apply` requires.
    pub fn can_write(self) -> bool {
        matches!(self, Self::Admin | Self::Maintain | Self::Write)
    }

    /// The role GitHub names `name` (`admin`, `maintain`, `write`, `triage`,
    /// `read`, `none`); `None` for a name it does not know.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "admin" => Self::Admin,
            "maintain" => Self::Maintain,
            "write" => Self::Write,
            "triage" => Self::Triage,
            "read" => Self::Read,
            "none" => Self::None,
            _ => return Option::None,
        })
    }

    /// Its name on GitHub.
    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Maintain => "maintain",
            Self::Write => "write",
            Self::Triage => "triage",
            Self::Read => "read",
            Self::None => "none",
        }
    }
}

/// The state of a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    /// Running.
    Pending,
    /// Done, fine.
    Success,
    /// Done, the change is wrong (a plan error, a failed deploy).
    Failure,
    /// Strata itself could not finish.
    Error,
}

impl StatusState {
    /// Its name on GitHub.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
        }
    }
}

/// A reaction to a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaction {
    /// 👍
    PlusOne,
    /// 👎
    MinusOne,
    /// 😄
    Laugh,
    /// 😕
    Confused,
    /// ❤️
    Heart,
    /// 🎉
    Hooray,
    /// 🚀
    Rocket,
    /// 👀
    Eyes,
}

impl Reaction {
    /// Every reaction GitHub knows.
    pub const ALL: [Self; 8] = [
        Self::PlusOne,
        Self::MinusOne,
        Self::Laugh,
        Self::Confused,
        Self::Heart,
        Self::Hooray,
        Self::Rocket,
        Self::Eyes,
    ];

    /// Its name on GitHub (`+1`, `eyes`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::PlusOne => "+1",
            Self::MinusOne => "-1",
            Self::Laugh => "laugh",
            Self::Confused => "confused",
            Self::Heart => "heart",
            Self::Hooray => "hooray",
            Self::Rocket => "rocket",
            Self::Eyes => "eyes",
        }
    }

    /// The reaction GitHub names `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A call to the forge that failed.
///
/// Displays as "could not {operation} `{subject}`: {message}", for example
/// ``could not update comment `octo/infra#7`: Body is too long (maximum is
/// 65536 characters)``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not {operation} `{subject}`: {message}")]
pub struct ForgeError {
    /// What went wrong, for callers that decide what to do next.
    pub kind: ForgeErrorKind,
    /// What was being done: "read pull request", "create comment on", ...
    pub operation: &'static str,
    /// What it was done to: `octo/infra#7`, `octo/infra@1a2b3c4`, a user.
    pub subject: String,
    /// What the forge (or the network) said, for a human.
    pub message: String,
}

/// The kinds of [`ForgeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgeErrorKind {
    /// The repository, pull request, comment or user does not exist (or is
    /// hidden from these credentials).
    NotFound,
    /// The credentials were missing or rejected (401).
    Unauthorized,
    /// The credentials may not do this (403, not a rate limit).
    Forbidden,
    /// A rate limit stopped the call (429, or 403 with an exhausted limit).
    RateLimited {
        /// How long the forge asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The forge rejected the request's content (422), or it was refused
    /// before sending (a comment too long, a body without its marker).
    Invalid,
    /// A server error (5xx) or a network failure: trying again may work.
    Transient,
    /// Anything else: an unexpected status or reply.
    Other,
}

impl ForgeError {
    /// An error of `kind` while doing `operation` to `subject`.
    pub fn new(
        kind: ForgeErrorKind,
        operation: &'static str,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            operation,
            subject: subject.into(),
            message: message.into(),
        }
    }
}

/// Checks a comment body before anything is sent: at most
/// [`MAX_COMMENT_CHARS`] characters (GitHub counts characters, not bytes).
pub fn check_comment(body: &str) -> Result<(), String> {
    let chars = body.chars().count();
    if chars > MAX_COMMENT_CHARS {
        return Err(format!(
            "the comment is {chars} characters long, GitHub keeps at most {MAX_COMMENT_CHARS}\nhelp: shorten the body, for example by linking to the full plan"
        ));
    }
    Ok(())
}

/// `description` shortened to at most [`MAX_DESCRIPTION_CHARS`] characters:
/// unchanged when it fits, else its first 139 characters and `…`.
pub fn cut_description(description: &str) -> String {
    if description.chars().count() <= MAX_DESCRIPTION_CHARS {
        return description.to_owned();
    }
    let mut cut: String = description
        .chars()
        .take(MAX_DESCRIPTION_CHARS - 1)
        .collect();
    cut.push('…');
    cut
}

/// The verdict of one review, as GitHub's reviews list spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// `APPROVED`.
    Approved,
    /// `CHANGES_REQUESTED`.
    ChangesRequested,
    /// `DISMISSED`: an earlier verdict no longer counts.
    Dismissed,
    /// `COMMENTED`, `PENDING` or anything else: no verdict.
    Comment,
}

impl ReviewState {
    /// The state GitHub names `name`.
    pub fn from_name(name: &str) -> Self {
        match name {
            "APPROVED" => Self::Approved,
            "CHANGES_REQUESTED" => Self::ChangesRequested,
            "DISMISSED" => Self::Dismissed,
            _ => Self::Comment,
        }
    }
}

/// One review of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The reviewer's login ([`GHOST`] when the account is gone).
    pub user: String,
    /// Its verdict.
    pub state: ReviewState,
    /// The commit that was reviewed: an approval stays listed after new
    /// pushes, and this says whether it saw the current head. `None` when
    /// the forge does not say.
    pub commit_id: Option<String>,
}

/// A deployment on the forge, by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeploymentId(pub u64);

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An issue Strata keeps (one per environment for drift).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Its number.
    pub number: u64,
    /// Its page, for links.
    pub url: String,
}

/// A deployment to record with [`Forge::create_deployment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    /// The commit being deployed.
    pub sha: String,
    /// The environment's name, as the repository page shows it (`prod`).
    pub environment: String,
    /// What is deployed, for humans.
    pub description: String,
    /// Whether the environment is one end users see (GitHub then never
    /// marks its deployments inactive on its own).
    pub production: bool,
    /// Anything a reader of the deployment may want (run id, stacks).
    pub payload: serde_json::Value,
}

/// The state of a deployment status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    /// Waiting to start (a lock, an earlier wave).
    Queued,
    /// Running.
    InProgress,
    /// Deployed.
    Success,
    /// The deployment failed (a stack rolled back).
    Failure,
    /// Strata itself could not finish.
    Error,
    /// Superseded: no longer what the environment runs.
    Inactive,
}

impl DeploymentState {
    /// Every deployment state, in a deployment's usual order.
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::InProgress,
        Self::Success,
        Self::Failure,
        Self::Error,
        Self::Inactive,
    ];

    /// Its name on GitHub (`queued`, `in_progress`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Error => "error",
            Self::Inactive => "inactive",
        }
    }

    /// The state GitHub names `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A check a commit shows: a commit status (by its context) or a check run
/// (by its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The status's context or the check run's name (`ci/test`, `build`).
    pub name: String,
    /// Where it stands.
    pub state: CheckState,
}

/// Where a check stands, as a gate sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    /// Not finished.
    Pending,
    /// Finished and fine (a neutral or skipped check run included).
    Success,
    /// Finished and not fine: failed, errored, cancelled, timed out, ...
    Failure,
}

impl CheckState {
    /// The meaning of a commit status `state`: `pending`, `success`, and
    /// `failure` or `error` (or anything unknown) as a failure.
    pub fn of_status(state: &str) -> Self {
        match state {
            "pending" => Self::Pending,
            "success" => Self::Success,
            _ => Self::Failure,
        }
    }

    /// The meaning of a check run with `status` and `conclusion`: pending
    /// until `status` is `completed`, then a success when the conclusion
    /// is `success`, `neutral` or `skipped`, otherwise a failure
    /// (`failure`, `cancelled`, `timed_out`, `action_required`, `stale`,
    /// none).
    pub fn of_check_run(status: &str, conclusion: Option<&str>) -> Self {
        if status != "completed" {
            return Self::Pending;
        }
        match conclusion {
            Some("success" | "neutral" | "skipped") => Self::Success,
            _ => Self::Failure,
        }
    }
}

/// Whether reviews, oldest first as `(reviewer, state)`, approve a pull
/// request: each reviewer's latest verdict counts (approved, changes
/// requested or dismissed; plain comments do not replace a verdict), and the
/// pull request is approved when at least one verdict approves and none
/// requests changes.
pub fn approved<'a>(reviews: impl IntoIterator<Item = (&'a str, ReviewState)>) -> bool {
    let mut latest: Vec<(&str, ReviewState)> = Vec::new();
    for (user, state) in reviews {
        if state == ReviewState::Comment {
            continue;
        }
        match latest.iter_mut().find(|(u, _)| *u == user) {
            Some(entry) => entry.1 = state,
            None => latest.push((user, state)),
        }
    }
    let any = |wanted| latest.iter().any(|(_, state)| *state == wanted);
    any(ReviewState::Approved) && !any(ReviewState::ChangesRequested)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_parse_from_owner_slash_name() {
        let cases: [(&str, Option<(&str, &str)>); 8] = [
            ("octo-org/infra", Some(("octo-org", "infra"))),
            ("o/my_repo.v2", Some(("o", "my_repo.v2"))),
            ("infra", None),
            ("octo/infra/extra", None),
            ("/infra", None),
            ("octo/", None),
            ("octo_org/infra", None),
            ("octo/..", None),
        ];
        for (input, expected) in cases {
            let parsed = input.parse::<Repo>().ok();
            let parsed = parsed.as_ref().map(|r| (r.owner.as_str(), r.name.as_str()));
            assert_eq!(parsed, expected, "{input}");
        }
    }

    #[test]
    fn an_invalid_repository_says_what_to_write() {
        let error = "infra".parse::<Repo>().err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "invalid repository `infra`: expected `owner/name`, such as `octo-org/infrastructure`"
            )
        );
    }

    #[test]
    fn full_name_joins_owner_and_name() -> Result<(), InvalidRepo> {
        let repo: Repo = "octo/infra".parse()?;
        assert_eq!(repo.full_name(), "octo/infra");
        assert_eq!(repo.to_string(), "octo/infra");
        Ok(())
    }

    #[test]
    fn only_admin_maintain_and_write_can_write() {
        let cases = [
            ("admin", true),
            ("maintain", true),
            ("write", true),
            ("triage", false),
            ("read", false),
            ("none", false),
        ];
        for (name, can_write) in cases {
            let permission = Permission::from_name(name);
            assert_eq!(
                permission.map(Permission::can_write),
                Some(can_write),
                "{name}"
            );
            assert_eq!(permission.map(Permission::name), Some(name));
        }
        assert_eq!(Permission::from_name("owner"), None);
    }

    #[test]
    fn reactions_round_trip_through_their_names() {
        for reaction in Reaction::ALL {
            assert_eq!(Reaction::from_name(reaction.name()), Some(reaction));
        }
        assert_eq!(Reaction::from_name("thumbsup"), None);
    }

    #[test]
    fn descriptions_are_cut_on_a_character_boundary() {
        let cases = [
            ("short".to_owned(), "short".to_owned()),
            ("x".repeat(140), "x".repeat(140)),
            ("x".repeat(141), format!("{}…", "x".repeat(139))),
            ("é".repeat(200), format!("{}…", "é".repeat(139))),
        ];
        for (input, expected) in cases {
            let cut = cut_description(&input);
            assert_eq!(cut, expected);
            assert!(cut.chars().count() <= MAX_DESCRIPTION_CHARS);
        }
    }

    #[test]
    fn comments_are_limited_in_characters_not_bytes() {
        assert!(check_comment(&"x".repeat(MAX_COMMENT_CHARS)).is_ok());
        assert!(check_comment(&"é".repeat(MAX_COMMENT_CHARS)).is_ok());
        let error = check_comment(&"x".repeat(MAX_COMMENT_CHARS + 1)).err();
        assert!(
            error.is_some_and(|e| e.starts_with("the comment is 65537 characters long")),
            "an oversize body must be refused"
        );
    }

    #[test]
    fn approval_counts_each_reviewers_latest_verdict() {
        use ReviewState::{Approved, ChangesRequested, Comment, Dismissed};
        let cases: [(&[(&str, ReviewState)], bool); 8] = [
            (&[], false),
            (&[("ana", Approved)], true),
            (&[("ana", Comment)], false),
            (&[("ana", Approved), ("ana", Comment)], true),
            (&[("ana", ChangesRequested), ("ana", Approved)], true),
            (&[("ana", Approved), ("ana", Dismissed)], false),
            (&[("ana", Approved), ("bo", ChangesRequested)], false),
            (
                &[
                    ("ana", Approved),
                    ("bo", ChangesRequested),
                    ("bo", Dismissed),
                ],
                true,
            ),
        ];
        for (reviews, expected) in cases {
            assert_eq!(approved(reviews.iter().copied()), expected, "{reviews:?}");
        }
    }

    #[test]
    fn deployment_states_round_trip_through_their_names() {
        for state in DeploymentState::ALL {
            assert_eq!(DeploymentState::from_name(state.name()), Some(state));
        }
        assert_eq!(DeploymentState::InProgress.name(), "in_progress");
        assert_eq!(DeploymentState::from_name("pending"), None);
    }

    #[test]
    fn commit_statuses_map_to_check_states() {
        let cases = [
            ("pending", CheckState::Pending),
            ("success", CheckState::Success),
            ("failure", CheckState::Failure),
            ("error", CheckState::Failure),
            ("weird", CheckState::Failure),
        ];
        for (state, expected) in cases {
            assert_eq!(CheckState::of_status(state), expected, "{state}");
        }
    }

    #[test]
    fn check_runs_are_pending_until_completed_then_judged_by_conclusion() {
        let cases = [
            ("queued", None, CheckState::Pending),
            ("in_progress", None, CheckState::Pending),
            ("waiting", None, CheckState::Pending),
            ("completed", Some("success"), CheckState::Success),
            ("completed", Some("neutral"), CheckState::Success),
            ("completed", Some("skipped"), CheckState::Success),
            ("completed", Some("failure"), CheckState::Failure),
            ("completed", Some("cancelled"), CheckState::Failure),
            ("completed", Some("timed_out"), CheckState::Failure),
            ("completed", Some("action_required"), CheckState::Failure),
            ("completed", None, CheckState::Failure),
        ];
        for (status, conclusion, expected) in cases {
            assert_eq!(
                CheckState::of_check_run(status, conclusion),
                expected,
                "{status} {conclusion:?}"
            );
        }
    }

    #[test]
    fn an_error_names_operation_and_subject() {
        let error = ForgeError::new(
            ForgeErrorKind::NotFound,
            "read pull request",
            "octo/infra#7",
            "Not Found",
        );
        assert_eq!(
            error.to_string(),
            "could not read pull request `octo/infra#7`: Not Found"
        );
    }
}
