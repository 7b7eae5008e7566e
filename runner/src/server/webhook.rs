//! GitHub webhooks in our own words: the signature check and the events
//! Strata acts on.
//!
//! [`verify_signature`] checks `X-Hub-Signature-256` over the exact bytes
//! received, before anything reads them as JSON. [`Event::parse`] then turns
//! an (`X-GitHub-Event`, body) pair into domain types that carry only the
//! fields the server uses, so GitHub adding or dropping unrelated fields never
//! breaks a delivery; a missing field we do need is named by its path
//! (``no `pull_request.head.sha` ``). [`Event::ignored_because`] decides what the
//! listener in [`super::http`] queues and what it answers with a 200 and
//! forgets.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::command;

type HmacSha256 = Hmac<Sha256>;

/// The scheme prefix of `X-Hub-Signature-256`.
const SIGNATURE_PREFIX: &str = "sha256=";

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The request carries no `X-Hub-Signature-256`.
    #[error("missing `X-Hub-Signature-256` header")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("malformed `X-Hub-Signature-256` header: {reason}")]
    Malformed {
        /// Which part is wrong.
        reason: &'static str,
    },
    /// Well formed, but not the HMAC of this body under our secret.
    #[error("`X-Hub-Signature-256` does not match the body")]
    Mismatch,
}

impl SignatureError {
    /// What to do about it, shown on its own `help:` line.
    pub fn help(&self) -> &'static str {
        match self {
            Self::Missing => {
                "set a secret on the webhook (repository settings → Webhooks) and give strata the same one"
            }
            Self::Malformed { .. } => "GitHub sends `sha256=` followed by 64 lowercase hex digits",
            Self::Mismatch => {
                "the webhook's secret and strata's secret differ, or the body changed on the way"
            }
        }
    }
}

/// Check `header` (the value of `X-Hub-Signature-256`, `sha256=<hex>`)
/// against HMAC-SHA256(`secret`, `body`). The comparison takes the same time
/// wherever the first differing byte is, so the signature cannot be guessed
/// byte by byte.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let digits = header
        .trim()
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::Malformed {
            reason: "expected it to start with `sha256=`",
        })?;
    let expected = hex::decode(digits).map_err(|_| SignatureError::Malformed {
        reason: "the digest is not hex",
    })?;
    if expected.len() != Sha256::output_size() {
        return Err(SignatureError::Malformed {
            reason: "the digest is not 32 bytes (64 hex digits)",
        });
    }
    let mut mac = keyed(secret);
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The `X-Hub-Signature-256` value GitHub sends for `body` under `secret`:
/// `sha256=` and the lowercase hex HMAC-SHA256.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(body);
    format!(
        "{SIGNATURE_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// An HMAC-SHA256 keyed with `secret`, any length. HMAC (RFC 2104) hashes a
/// key longer than the hash's 64-byte block and pads a shorter one with
/// zeros; doing that here lets us use the infallible fixed-size constructor.
fn keyed(secret: &[u8]) -> HmacSha256 {
    let mut key = hmac::digest::Key::<HmacSha256>::default();
    if secret.len() > key.len() {
        let digest = Sha256::digest(secret);
        key[..digest.len()].copy_from_slice(&digest);
    } else {
        key[..secret.len()].copy_from_slice(secret);
    }
    <HmacSha256 as KeyInit>::new(&key)
}

/// A delivery, as far as Strata cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `pull_request`: opened, pushed to, reopened, closed or merged, ...
    PullRequest(PullRequestEvent),
    /// `issue_comment`: a comment on an issue or a pull request.
    IssueComment(CommentEvent),
    /// `push`: a branch or tag moved.
    Push(PushEvent),
    /// `ping`: GitHub checking the hook right after it was created.
    Ping {
        /// A random GitHub zen line.
        zen: String,
        /// The hook's id.
        hook_id: u64,
    },
    /// Any other event; its payload is not read.
    Other {
        /// The `X-GitHub-Event` value (`star`, `issues`, ...).
        name: String,
    },
}

/// The repository a delivery is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoInfo {
    /// `owner/name`.
    pub full_name: String,
    /// The owner's login.
    pub owner: String,
    /// The repository's name.
    pub name: String,
    /// HTTPS clone URL.
    pub clone_url: String,
    /// The branch pushes deploy from (`main`).
    pub default_branch: String,
    /// The repository's page.
    pub html_url: String,
}

/// What happened to a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrAction {
    /// Opened (or created as a draft).
    Opened,
    /// New commits on the head branch.
    Synchronize,
    /// Reopened after being closed.
    Reopened,
    /// Closed, merged or not (see [`PullRequestEvent::merged`]).
    Closed,
    /// Anything else (`labeled`, `edited`, ...), named as GitHub names it.
    Other(String),
}

impl PrAction {
    /// GitHub's name for it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Opened => "opened",
            Self::Synchronize => "synchronize",
            Self::Reopened => "reopened",
            Self::Closed => "closed",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for PrAction {
    fn from(action: &str) -> Self {
        match action {
            "opened" => Self::Opened,
            "synchronize" => Self::Synchronize,
            "reopened" => Self::Reopened,
            "closed" => Self::Closed,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for PrAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `pull_request` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    /// What happened.
    pub action: PrAction,
    /// The pull request's number.
    pub number: u64,
    /// Whether it was merged (only ever true when closed).
    pub merged: bool,
    /// The head commit.
    pub head_sha: String,
    /// The head branch (in the head repository, which a fork makes differ).
    pub head_ref: String,
    /// The branch it would merge into.
    pub base_ref: String,
    /// The base repository, where the hook lives.
    pub repo: RepoInfo,
    /// The pull request's page.
    pub html_url: String,
    /// Who caused the event (login).
    pub sender: String,
    /// `owner/name` of the head repository; `None` when GitHub sends none
    /// (a deleted fork).
    pub head_repo_full_name: Option<String>,
    /// The GitHub App installation that received it, when it came to an app.
    pub installation_id: Option<u64>,
}

impl PullRequestEvent {
    /// Whether the head lives somewhere else than the base repository (a
    /// fork, or a fork deleted since), so its branch cannot be fetched by
    /// name from the base.
    pub fn is_from_fork(&self) -> bool {
        self.head_repo_full_name.as_deref() != Some(self.repo.full_name.as_str())
    }
}

/// What happened to a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentAction {
    /// Written.
    Created,
    /// Changed.
    Edited,
    /// Removed.
    Deleted,
    /// Anything GitHub adds later, named as GitHub names it.
    Other(String),
}

impl CommentAction {
    /// GitHub's name for it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "created",
            Self::Edited => "edited",
            Self::Deleted => "deleted",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for CommentAction {
    fn from(action: &str) -> Self {
        match action {
            "created" => Self::Created,
            "edited" => Self::Edited,
            "deleted" => Self::Deleted,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for CommentAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `issue_comment` delivery. It carries no head sha: whoever handles a
/// command fetches the pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentEvent {
    /// What happened to the comment.
    pub action: CommentAction,
    /// The issue's (or pull request's) number.
    pub pr_number: u64,
    /// Whether the issue is a pull request (GitHub sends `issue.pull_request`).
    pub is_pull_request: bool,
    /// The comment's id, for reactions and replies.
    pub comment_id: u64,
    /// The comment's Markdown.
    pub body: String,
    /// Who wrote it (login).
    pub user: String,
    /// The repository.
    pub repo: RepoInfo,
    /// The GitHub App installation that received it, when it came to an app.
    pub installation_id: Option<u64>,
}

/// A `push` delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// The full ref that moved (`refs/heads/main`, `refs/tags/v1`).
    pub git_ref: String,
    /// Where it pointed before (all zeros when created).
    pub before: String,
    /// Where it points now (all zeros when deleted).
    pub after: String,
    /// The push created the ref.
    pub created: bool,
    /// The push deleted the ref.
    pub deleted: bool,
    /// The repository.
    pub repo: RepoInfo,
    /// Who pushed (`pusher.name`).
    pub pusher: String,
    /// The GitHub App installation that received it, when it came to an app.
    pub installation_id: Option<u64>,
}

impl PushEvent {
    /// The branch name, when a branch moved (not a tag).
    pub fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    /// Whether the repository's default branch moved.
    pub fn is_default_branch(&self) -> bool {
        self.branch() == Some(self.repo.default_branch.as_str())
    }
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The body is not JSON at all.
    #[error("`{event}` payload is not JSON: {reason}")]
    NotJson {
        /// The `X-GitHub-Event` name.
        event: String,
        /// What serde_json said.
        reason: String,
    },
    /// A field we need is absent (or `null`).
    #[error("`{event}` payload has no `{field}`")]
    MissingField {
        /// The `X-GitHub-Event` name.
        event: String,
        /// Its dotted path (`pull_request.head.sha`).
        field: String,
    },
    /// A field we need has another JSON type.
    #[error("`{event}` payload field `{field}` is not {expected}")]
    WrongType {
        /// The `X-GitHub-Event` name.
        event: String,
        /// Its dotted path.
        field: String,
        /// What it should be (`a string`, ...).
        expected: &'static str,
    },
}

impl Event {
    /// Read a delivery: `name` is the `X-GitHub-Event` header, `body` the
    /// (already verified) payload. Events Strata does not handle become
    /// [`Event::Other`] without their payload being read.
    pub fn parse(name: &str, body: &[u8]) -> Result<Self, EventError> {
        if !matches!(name, "pull_request" | "issue_comment" | "push" | "ping") {
            return Ok(Self::Other {
                name: name.to_owned(),
            });
        }
        let root: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
            event: name.to_owned(),
            reason: e.to_string(),
        })?;
        let payload = Payload { event: name, root };
        match name {
            "pull_request" => payload.pull_request().map(Self::PullRequest),
            "issue_comment" => payload.comment().map(Self::IssueComment),
            "push" => payload.push().map(Self::Push),
            _ => Ok(Self::Ping {
                zen: payload.string("zen")?,
                hook_id: payload.number("hook_id")?,
            }),
        }
    }

    /// Which jobs it takes turns with: the jobs of one pull request
    /// (`acme/infra#7`) run one at a time, in order, as do a repository's
    /// pushes (`acme/infra`), on whichever replica takes them.
    pub fn turn(&self) -> String {
        match self {
            Self::PullRequest(event) => format!("{}#{}", event.repo.full_name, event.number),
            Self::IssueComment(event) => format!("{}#{}", event.repo.full_name, event.pr_number),
            Self::Push(event) => event.repo.full_name.clone(),
            Self::Ping { hook_id, .. } => format!("ping {hook_id}"),
            Self::Other { name } => name.clone(),
        }
    }

    /// The `X-GitHub-Event` name it came as.
    pub fn name(&self) -> &str {
        match self {
            Self::PullRequest(_) => "pull_request",
            Self::IssueComment(_) => "issue_comment",
            Self::Push(_) => "push",
            Self::Ping { .. } => "ping",
            Self::Other { name } => name,
        }
    }

    /// Whether the server has work to do for it: a pull request opened,
    /// pushed to, reopened or closed; a new comment on a pull request with a
    /// `/strata` command; a push to the default branch.
    pub fn is_actionable(&self) -> bool {
        self.ignored_because().is_none()
    }

    /// Why the server leaves it alone, for the 200 reply and the log; `None`
    /// when it [is actionable](Self::is_actionable).
    pub fn ignored_because(&self) -> Option<String> {
        match self {
            Self::PullRequest(pr) => match &pr.action {
                PrAction::Other(action) => Some(format!("pull request action `{action}`")),
                PrAction::Opened
                | PrAction::Synchronize
                | PrAction::Reopened
                | PrAction::Closed => None,
            },
            Self::IssueComment(comment) => {
                if comment.action != CommentAction::Created {
                    Some(format!("comment `{}`", comment.action))
                } else if !comment.is_pull_request {
                    Some(format!(
                        "comment on issue #{}, not a pull request",
                        comment.pr_number
                    ))
                } else if command::command_line(&comment.body).is_none() {
                    Some("comment has no `/strata` command".to_owned())
                } else {
                    None
                }
            }
            Self::Push(push) => {
                if push.deleted {
                    Some(format!("push deleted `{}`", push.git_ref))
                } else if !push.is_default_branch() {
                    Some(format!(
                        "push to `{}`, not the default branch `{}`",
                        push.git_ref, push.repo.default_branch
                    ))
                } else {
                    None
                }
            }
            Self::Ping { .. } => Some("ping".to_owned()),
            Self::Other { name } => Some(format!("event `{name}`")),
        }
    }
}

impl fmt::Display for Event {
    /// One line for logs and replies: ``pull_request `opened` Codertocat/Hello-World#2``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PullRequest(pr) => write!(
                f,
                "pull_request `{}` {}#{}",
                pr.action, pr.repo.full_name, pr.number
            ),
            Self::IssueComment(c) => write!(
                f,
                "issue_comment `{}` {}#{} by {}",
                c.action, c.repo.full_name, c.pr_number, c.user
            ),
            Self::Push(p) => write!(
                f,
                "push to `{}` of {} ({}..{})",
                p.git_ref,
                p.repo.full_name,
                short(&p.before),
                short(&p.after)
            ),
            Self::Ping { hook_id, .. } => write!(f, "ping of hook {hook_id}"),
            Self::Other { name } => write!(f, "{name}"),
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// A parsed payload and the event it came as, read field by dotted path so
/// errors can name the path.
struct Payload<'a> {
    event: &'a str,
    root: Value,
}

impl Payload<'_> {
    fn pull_request(&self) -> Result<PullRequestEvent, EventError> {
        Ok(PullRequestEvent {
            action: PrAction::from(self.str("action")?),
            number: self.number("number")?,
            merged: self.optional_bool("pull_request.merged")?.unwrap_or(false),
            head_sha: self.string("pull_request.head.sha")?,
            head_ref: self.string("pull_request.head.ref")?,
            base_ref: self.string("pull_request.base.ref")?,
            repo: self.repo()?,
            html_url: self.string("pull_request.html_url")?,
            sender: self.string("sender.login")?,
            head_repo_full_name: self.optional_string("pull_request.head.repo.full_name")?,
            installation_id: self.optional_number("installation.id")?,
        })
    }

    fn comment(&self) -> Result<CommentEvent, EventError> {
        Ok(CommentEvent {
            action: CommentAction::from(self.str("action")?),
            pr_number: self.number("issue.number")?,
            is_pull_request: self.get("issue.pull_request").is_some(),
            comment_id: self.number("comment.id")?,
            body: self.optional_string("comment.body")?.unwrap_or_default(),
            user: self.string("comment.user.login")?,
            repo: self.repo()?,
            installation_id: self.optional_number("installation.id")?,
        })
    }

    fn push(&self) -> Result<PushEvent, EventError> {
        Ok(PushEvent {
            git_ref: self.string("ref")?,
            before: self.string("before")?,
            after: self.string("after")?,
            created: self.bool("created")?,
            deleted: self.bool("deleted")?,
            repo: self.repo()?,
            pusher: self.string("pusher.name")?,
            installation_id: self.optional_number("installation.id")?,
        })
    }

    fn repo(&self) -> Result<RepoInfo, EventError> {
        Ok(RepoInfo {
            full_name: self.string("repository.full_name")?,
            owner: self.string("repository.owner.login")?,
            name: self.string("repository.name")?,
            clone_url: self.string("repository.clone_url")?,
            default_branch: self.string("repository.default_branch")?,
            html_url: self.string("repository.html_url")?,
        })
    }

    /// The value at a dotted path; `None` when any step is absent or `null`.
    fn get(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(&self.root, |value, key| value.get(key))
            .filter(|value| !value.is_null())
    }

    fn required(&self, path: &str) -> Result<&Value, EventError> {
        self.get(path).ok_or_else(|| EventError::MissingField {
            event: self.event.to_owned(),
            field: path.to_owned(),
        })
    }

    fn wrong_type(&self, path: &str, expected: &'static str) -> EventError {
        EventError::WrongType {
            event: self.event.to_owned(),
            field: path.to_owned(),
            expected,
        }
    }

    fn str(&self, path: &str) -> Result<&str, EventError> {
        self.required(path)?
            .as_str()
            .ok_or_else(|| self.wrong_type(path, "a string"))
    }

    fn string(&self, path: &str) -> Result<String, EventError> {
        self.str(path).map(str::to_owned)
    }

    fn number(&self, path: &str) -> Result<u64, EventError> {
        self.required(path)?
            .as_u64()
            .ok_or_else(|| self.wrong_type(path, "a non-negative integer"))
    }

    fn bool(&self, path: &str) -> Result<bool, EventError> {
        self.required(path)?
            .as_bool()
            .ok_or_else(|| self.wrong_type(path, "a boolean"))
    }

    fn optional_string(&self, path: &str) -> Result<Option<String>, EventError> {
        self.get(path)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.wrong_type(path, "a string"))
            })
            .transpose()
    }

    fn optional_number(&self, path: &str) -> Result<Option<u64>, EventError> {
        self.get(path)
            .map(|v| {
                v.as_u64()
                    .ok_or_else(|| self.wrong_type(path, "a non-negative integer"))
            })
            .transpose()
    }

    fn optional_bool(&self, path: &str) -> Result<Option<bool>, EventError> {
        self.get(path)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| self.wrong_type(path, "a boolean"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn a_key_longer_than_a_block_is_hashed_first_as_rfc_4231_says() -> TestResult {
        // RFC 4231, test case 6.
        let key = [0xaa_u8; 131];
        let data = b"Test Using Larger Than Block-Size Key - Hash Key First";
        let expected = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
        assert_eq!(sign(&key, data), format!("sha256={expected}"));
        verify_signature(&key, data, Some(&format!("sha256={expected}")))?;
        Ok(())
    }

    #[test]
    fn a_short_key_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn malformed_signatures_say_what_is_wrong() {
        let cases = [
            ("sha1=abcd", "expected it to start with `sha256=`"),
            ("sha256=zz", "the digest is not hex"),
            ("sha256=abcd", "the digest is not 32 bytes (64 hex digits)"),
        ];
        for (header, reason) in cases {
            assert_eq!(
                verify_signature(b"secret", b"body", Some(header)),
                Err(SignatureError::Malformed { reason }),
                "{header}"
            );
        }
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let body = br#"{"action":"opened","number":1,"pull_request":{"head":{"ref":"x"}}}"#;
        assert_eq!(
            Event::parse("pull_request", body),
            Err(EventError::MissingField {
                event: "pull_request".to_owned(),
                field: "pull_request.head.sha".to_owned(),
            })
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_the_type_expected() {
        let body = br#"{"zen":"Keep it simple.","hook_id":"42"}"#;
        assert_eq!(
            Event::parse("ping", body),
            Err(EventError::WrongType {
                event: "ping".to_owned(),
                field: "hook_id".to_owned(),
                expected: "a non-negative integer",
            })
        );
    }

    #[test]
    fn events_we_do_not_handle_are_not_read() {
        assert_eq!(
            Event::parse("star", b"not even json"),
            Ok(Event::Other {
                name: "star".to_owned()
            })
        );
    }

    #[test]
    fn a_body_that_is_not_json_says_so() {
        let error = Event::parse("push", b"payload=%7B%7D");
        assert!(
            matches!(&error, Err(EventError::NotJson { event, .. }) if event == "push"),
            "{error:?}"
        );
    }
}
