//! [`GitHub`]: the [`Forge`] on GitHub's REST API (github.com or GitHub
//! Enterprise), through octocrab.
//!
//! octocrab sends the requests (authentication, GitHub App installation
//! tokens, base URL, TLS); everything else is ours. Its own retries are off:
//! they re-send a POST at once on a 5xx or 429, which turned one comment into
//! two. Instead every call goes through [`GitHub::request`], which reads the
//! status and headers itself and retries by [`RetryPolicy`]:
//!
//! - reads, commit statuses, deployment statuses, reactions and comment
//!   edits are safe to repeat, so they retry on 5xx, network failures and
//!   rate limits, waiting as long as `Retry-After` or `x-ratelimit-reset`
//!   asks (a repeated status is one more entry saying the same);
//! - creating a comment or a deployment is retried only when GitHub
//!   certainly rejected it (a rate limit); after a 5xx or a dropped
//!   connection it may exist, so the error goes back rather than risking a
//!   duplicate;
//! - [`Forge::upsert_comment`] retries as a whole: after an unknown outcome
//!   it lists the comments again and edits what it finds.
//!
//! Replies are parsed into small private structs, then into the domain types
//! of [`super`]; no octocrab model crosses the [`Forge`] trait.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{HeaderMap, StatusCode, Uri};
use octocrab::Octocrab;
use octocrab::models::{AppId, InstallationId};
use octocrab::service::middleware::retry::RetryConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{
    Check, CheckState, CommentId, DeploymentId, DeploymentState, Forge, ForgeError, ForgeErrorKind,
    GHOST, Issue, NewDeployment, Permission, PullRequest, PullRequestState, Reaction, Repo, Review,
    ReviewState, StatusState, check_comment, cut_description,
};

/// How long to wait for a connection to GitHub.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for GitHub to answer.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// GitHub's largest page.
const PER_PAGE: u32 = 100;

/// The most pages one listing follows (30,000 comments or reviews): a
/// guard against a `Link` header that never ends.
const MAX_PAGES: u32 = 300;

/// How long GitHub asks a client to back off from a secondary rate limit
/// that names no time.
const BARE_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Where GitHub is and who Strata is there.
#[derive(Debug, Clone)]
pub struct GitHubConfig {
    /// The API's base URL; `None` for `https://api.github.com`. GitHub
    /// Enterprise Server has its API under a path, which is kept:
    /// `https://ghe.example/api/v3`.
    pub base_url: Option<String>,
    /// The credentials.
    pub auth: Auth,
    /// How failed calls are retried.
    pub retry: RetryPolicy,
}

/// Credentials for GitHub.
#[derive(Clone)]
pub enum Auth {
    /// A personal access token or any other bearer token.
    Token(String),
    /// A GitHub App acting as one of its installations; installation tokens
    /// are fetched and renewed as needed.
    App {
        /// The app's id.
        app_id: u64,
        /// The app's RSA private key, PEM encoded.
        private_key_pem: String,
        /// The installation (one organisation or account) to act as.
        installation_id: u64,
    },
}

impl fmt::Debug for Auth {
    /// Never shows a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Token(_) => f.write_str("Token(<redacted>)"),
            Self::App {
                app_id,
                installation_id,
                ..
            } => f
                .debug_struct("App")
                .field("app_id", app_id)
                .field("private_key_pem", &"<redacted>")
                .field("installation_id", installation_id)
                .finish(),
        }
    }
}

/// How often and how long calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1 = never retry).
    pub attempts: u32,
    /// The first backoff after a failure that names no wait; it doubles on
    /// every further attempt (with jitter).
    pub base: Duration,
    /// The longest single wait. When GitHub asks for longer (a rate limit
    /// that resets in half an hour) the call fails at once, naming the
    /// reset, instead of sleeping and failing again.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1` after `error` ended
    /// attempt `attempt` (1-based); `None` when the error is final.
    pub fn wait_before_retry(&self, error: &ForgeError, attempt: u32) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        let backoff = self.backoff(attempt);
        let wait = match error.kind {
            ForgeErrorKind::Transient => backoff,
            ForgeErrorKind::RateLimited {
                retry_after: Some(asked),
            } => asked.max(backoff),
            ForgeErrorKind::RateLimited { retry_after: None } => backoff.max(BARE_RATE_LIMIT_WAIT),
            _ => return None,
        };
        (wait <= self.max_wait).then_some(wait)
    }

    /// `base` doubled per earlier attempt, capped at `max_wait`, then
    /// scaled by a random factor in [0.5, 1] so clients spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        let full = self.base.saturating_mul(doubling).min(self.max_wait);
        full.mul_f64(0.5 + fastrand::f64() / 2.0)
    }
}

/// The [`Forge`] on GitHub.
#[derive(Clone)]
pub struct GitHub {
    client: Octocrab,
    retry: RetryPolicy,
    /// The personal token, when that is the authentication.
    token: Option<String>,
    /// For a GitHub App: the app's own client and the installation, to mint
    /// installation tokens for `git fetch`.
    app: Option<(Octocrab, InstallationId)>,
    /// The last installation token minted, and when (they live an hour).
    minted: std::sync::Arc<std::sync::Mutex<Option<(String, std::time::Instant)>>>,
    /// When a rate limit longer than a call waits ends ([`Forge::rate_limited_until`]).
    limited_until: std::sync::Arc<std::sync::Mutex<Option<std::time::SystemTime>>>,
}

/// How long a minted installation token is reused (GitHub's last an hour).
const INSTALLATION_TOKEN_REUSE: Duration = Duration::from_secs(45 * 60);

/// The HTTP methods the forge uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
    Patch,
}

/// Whether a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Repeating it does no harm: reads, statuses, reactions, edits.
    Safe,
    /// It creates something: repeat only when GitHub certainly did not
    /// apply it (rate limits are checked before anything happens).
    UnlessMaybeApplied,
    /// The caller retries (the upsert, as a whole).
    Never,
}

/// What a request is for, to name it in errors.
struct Call {
    operation: &'static str,
    subject: String,
}

impl Call {
    fn new(operation: &'static str, subject: impl Into<String>) -> Self {
        Self {
            operation,
            subject: subject.into(),
        }
    }

    fn error(&self, kind: ForgeErrorKind, message: impl Into<String>) -> ForgeError {
        ForgeError::new(kind, self.operation, self.subject.clone(), message)
    }
}

/// A reply with its body read.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl GitHub {
    /// A client for the GitHub of `config`. Call it inside a tokio runtime:
    /// octocrab starts a background task for its requests.
    pub fn new(config: GitHubConfig) -> Result<Self, ForgeError> {
        let base = config
            .base_url
            .clone()
            .unwrap_or_else(|| "https://api.github.com".to_owned());
        let call = Call::new("connect to", base.clone());
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(call.error(
                ForgeErrorKind::Other,
                "the GitHub client must be created inside a tokio runtime",
            ));
        }
        let mut builder = Octocrab::builder()
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(READ_TIMEOUT));
        if let Some(url) = &config.base_url {
            builder = builder.base_uri(url.as_str()).map_err(|_| {
                call.error(
                    ForgeErrorKind::Invalid,
                    "not a URL\nhelp: write it as `https://github.example.com/api/v3`",
                )
            })?;
        }
        let token = match &config.auth {
            Auth::Token(token) => Some(token.clone()),
            Auth::App { .. } => None,
        };
        let mut app_client = None;
        let client = match config.auth {
            Auth::Token(token) => builder.personal_token(token).build(),
            Auth::App {
                app_id,
                private_key_pem,
                installation_id,
            } => {
                let key = octocrab::EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).map_err(
                    |e| {
                        call.error(
                            ForgeErrorKind::Invalid,
                            format!("the app's private key is not an RSA key in PEM: {e}"),
                        )
                    },
                )?;
                builder.app(AppId(app_id), key).build().and_then(|app| {
                    let installation = app.installation(InstallationId(installation_id));
                    app_client = Some((app, InstallationId(installation_id)));
                    installation
                })
            }
        }
        .map_err(|e| call.error(ForgeErrorKind::Other, error_chain(&e)))?;
        Ok(Self {
            client,
            retry: config.retry,
            token,
            app: app_client,
            minted: std::sync::Arc::default(),
            limited_until: std::sync::Arc::default(),
        })
    }

    /// Sends one request, retrying as `repeat` and the policy allow.
    async fn request(
        &self,
        call: &Call,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
        repeat: Repeat,
    ) -> Result<Reply, ForgeError> {
        let mut attempt = 1;
        loop {
            let error = match self.send(call, verb, path, body).await {
                Ok(reply) => return Ok(reply),
                Err(error) => error,
            };
            let may_repeat = match repeat {
                Repeat::Safe => true,
                Repeat::UnlessMaybeApplied => {
                    matches!(error.kind, ForgeErrorKind::RateLimited { .. })
                }
                Repeat::Never => false,
            };
            let wait = may_repeat
                .then(|| self.retry.wait_before_retry(&error, attempt))
                .flatten();
            let Some(wait) = wait else {
                if let ForgeErrorKind::RateLimited {
                    retry_after: Some(asked),
                } = error.kind
                    && asked > self.retry.max_wait
                {
                    // Longer than a call waits: the caller decides what to
                    // do until then (the server defers the job).
                    *self
                        .limited_until
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(std::time::SystemTime::now() + asked);
                }
                return Err(gave_up(error, attempt));
            };
            tracing::warn!(
                operation = call.operation,
                subject = %call.subject,
                attempt,
                wait_ms = wait.as_millis(),
                "retrying GitHub call: {}",
                error.message
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Sends one request once; a reply that is not a success is an error.
    async fn send(
        &self,
        call: &Call,
        verb: Verb,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ForgeError> {
        let response = match verb {
            Verb::Get => self.client._get(path).await,
            Verb::Post => self.client._post(path, body).await,
            Verb::Patch => self.client._patch(path, body).await,
        }
        .map_err(|e| octocrab_error(call, &e))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| octocrab_error(call, &e))?
            .to_bytes();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(error_from_reply(call, &reply, unix_now()))
        }
    }

    /// Every item of a paginated listing whose pages are JSON arrays,
    /// following `Link: rel="next"`.
    async fn list_all<T: DeserializeOwned>(
        &self,
        call: &Call,
        first: String,
    ) -> Result<Vec<T>, ForgeError> {
        self.list_pages(call, first, |page: Vec<T>| page).await
    }

    /// Every item of a paginated listing whose pages are `P` (an object
    /// wrapping the items, as check runs come), taken out by `items`.
    async fn list_pages<P: DeserializeOwned, T>(
        &self,
        call: &Call,
        first: String,
        items: impl Fn(P) -> Vec<T>,
    ) -> Result<Vec<T>, ForgeError> {
        let mut all = Vec::new();
        let mut pages = Pages::new(first);
        while let Some(path) = pages.next_path(call)? {
            let reply = self
                .request(call, Verb::Get, &path, None, Repeat::Safe)
                .await?;
            all.extend(items(parse::<P>(call, &reply)?));
            pages.advance(&reply.headers);
        }
        Ok(all)
    }

    /// The first comment on `pr` whose body contains `marker`, page by page
    /// (stopping at the page that has it).
    async fn find_comment(
        &self,
        repo: &Repo,
        pr: u64,
        marker: &str,
    ) -> Result<Option<CommentJson>, ForgeError> {
        let call = Call::new("list comments of", format!("{repo}#{pr}"));
        let first = format!(
            "{}/issues/{pr}/comments?per_page={PER_PAGE}",
            repo_path(repo)
        );
        self.find_first(&call, first, |c: &CommentJson| {
            c.body.as_deref().is_some_and(|b| b.contains(marker))
        })
        .await
    }

    /// The first open issue (not pull request) of `repo` whose body contains
    /// `marker`, looking at the open issues newest first.
    async fn find_issue(&self, repo: &Repo, marker: &str) -> Result<Option<IssueJson>, ForgeError> {
        let call = Call::new("list issues of", repo.full_name());
        let first = format!(
            "{}/issues?state=open&sort=created&direction=desc&per_page={PER_PAGE}",
            repo_path(repo)
        );
        self.find_first(&call, first, |i: &IssueJson| {
            i.pull_request.is_none() && i.body.as_deref().is_some_and(|b| b.contains(marker))
        })
        .await
    }

    /// The first item of a paginated listing that `wanted` accepts, reading
    /// pages only until the one that has it.
    async fn find_first<T: DeserializeOwned>(
        &self,
        call: &Call,
        first: String,
        wanted: impl Fn(&T) -> bool,
    ) -> Result<Option<T>, ForgeError> {
        let mut pages = Pages::new(first);
        while let Some(path) = pages.next_path(call)? {
            let reply = self
                .request(call, Verb::Get, &path, None, Repeat::Safe)
                .await?;
            let found = parse::<Vec<T>>(call, &reply)?.into_iter().find(&wanted);
            if found.is_some() {
                return Ok(found);
            }
            pages.advance(&reply.headers);
        }
        Ok(None)
    }

    /// One round of the upsert: look, then edit or create, each write sent
    /// once. `Ok(None)` when the comment found vanished before the edit.
    async fn upsert_once(
        &self,
        repo: &Repo,
        pr: u64,
        marker: &str,
        body: &str,
    ) -> Result<Option<CommentId>, ForgeError> {
        let subject = format!("{repo}#{pr}");
        let payload = json!({ "body": body });
        match self.find_comment(repo, pr, marker).await? {
            Some(existing) if existing.body.as_deref() == Some(body) => {
                Ok(Some(CommentId(existing.id)))
            }
            Some(existing) => {
                let call = Call::new("update comment on", subject);
                let path = format!("{}/issues/comments/{}", repo_path(repo), existing.id);
                let sent = self
                    .request(&call, Verb::Patch, &path, Some(&payload), Repeat::Never)
                    .await;
                match sent {
                    Ok(_) => Ok(Some(CommentId(existing.id))),
                    Err(e) if e.kind == ForgeErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e),
                }
            }
            None => {
                let call = Call::new("create comment on", subject);
                let path = format!("{}/issues/{pr}/comments", repo_path(repo));
                let reply = self
                    .request(&call, Verb::Post, &path, Some(&payload), Repeat::Never)
                    .await?;
                Ok(Some(CommentId(parse::<CommentJson>(&call, &reply)?.id)))
            }
        }
    }
}

#[async_trait]
impl Forge for GitHub {
    fn rate_limited_until(&self) -> Option<std::time::SystemTime> {
        let until = *self
            .limited_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        until.filter(|until| *until > std::time::SystemTime::now())
    }

    async fn clone_token(&self) -> Result<Option<String>, ForgeError> {
        use octocrab::secrecy::ExposeSecret as _;
        if let Some(token) = &self.token {
            return Ok(Some(token.clone()));
        }
        let Some((app, installation)) = &self.app else {
            return Ok(None);
        };
        {
            let minted = self
                .minted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((token, at)) = minted.as_ref()
                && at.elapsed() < INSTALLATION_TOKEN_REUSE
            {
                return Ok(Some(token.clone()));
            }
        }
        let call = Call::new(
            "get an installation token for",
            format!("installation {installation}"),
        );
        let (_, token) = app
            .installation_and_token(*installation)
            .await
            .map_err(|e| octocrab_error(&call, &e))?;
        let token = token.expose_secret().to_owned();
        *self
            .minted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((token.clone(), std::time::Instant::now()));
        Ok(Some(token))
    }

    async fn pull_request(&self, repo: &Repo, number: u64) -> Result<PullRequest, ForgeError> {
        let call = Call::new("read pull request", format!("{repo}#{number}"));
        let path = format!("{}/pulls/{number}", repo_path(repo));
        let reply = self
            .request(&call, Verb::Get, &path, None, Repeat::Safe)
            .await?;
        Ok(parse::<PullJson>(&call, &reply)?.into_domain())
    }

    async fn upsert_comment(
        &self,
        repo: &Repo,
        pr: u64,
        marker: &str,
        body: &str,
    ) -> Result<CommentId, ForgeError> {
        let call = Call::new("upsert comment on", format!("{repo}#{pr}"));
        if marker.is_empty() || !body.contains(marker) {
            return Err(call.error(
                ForgeErrorKind::Invalid,
                format!(
                    "the body does not contain the marker `{marker}`, so the next upsert could not find it"
                ),
            ));
        }
        check_comment(body).map_err(|m| call.error(ForgeErrorKind::Invalid, m))?;
        let mut attempt = 1;
        loop {
            let error = match self.upsert_once(repo, pr, marker, body).await {
                Ok(Some(id)) => return Ok(id),
                Ok(None) => call.error(ForgeErrorKind::Transient, "the comment vanished"),
                Err(error) => error,
            };
            let Some(wait) = self.retry.wait_before_retry(&error, attempt) else {
                return Err(gave_up(error, attempt));
            };
            tracing::warn!(
                operation = error.operation,
                subject = %error.subject,
                attempt,
                wait_ms = wait.as_millis(),
                "looking at the comments again: {}",
                error.message
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn upsert_issue(
        &self,
        repo: &Repo,
        marker: &str,
        title: &str,
        body: &str,
    ) -> Result<Issue, ForgeError> {
        let call = Call::new("upsert issue in", repo.full_name());
        if marker.is_empty() || !body.contains(marker) {
            return Err(call.error(
                ForgeErrorKind::Invalid,
                format!(
                    "the body does not contain the marker `{marker}`, so the next upsert could not find it"
                ),
            ));
        }
        check_comment(body).map_err(|m| call.error(ForgeErrorKind::Invalid, m))?;
        let payload = json!({ "title": title, "body": body });
        match self.find_issue(repo, marker).await? {
            Some(existing)
                if existing.body.as_deref() == Some(body)
                    && existing.title.as_deref() == Some(title) =>
            {
                Ok(existing.issue())
            }
            Some(existing) => {
                let call = Call::new("update issue in", format!("{repo}#{}", existing.number));
                let path = format!("{}/issues/{}", repo_path(repo), existing.number);
                let reply = self
                    .request(&call, Verb::Patch, &path, Some(&payload), Repeat::Safe)
                    .await?;
                Ok(parse::<IssueJson>(&call, &reply)?.issue())
            }
            None => {
                let path = format!("{}/issues", repo_path(repo));
                let reply = self
                    .request(
                        &call,
                        Verb::Post,
                        &path,
                        Some(&payload),
                        Repeat::UnlessMaybeApplied,
                    )
                    .await?;
                Ok(parse::<IssueJson>(&call, &reply)?.issue())
            }
        }
    }

    async fn close_issue(
        &self,
        repo: &Repo,
        marker: &str,
        comment: &str,
    ) -> Result<Option<Issue>, ForgeError> {
        let Some(existing) = self.find_issue(repo, marker).await? else {
            return Ok(None);
        };
        let subject = format!("{repo}#{}", existing.number);
        if !comment.is_empty() {
            self.create_comment(repo, existing.number, comment).await?;
        }
        let call = Call::new("close issue", subject);
        let path = format!("{}/issues/{}", repo_path(repo), existing.number);
        let payload = json!({ "state": "closed", "state_reason": "completed" });
        self.request(&call, Verb::Patch, &path, Some(&payload), Repeat::Safe)
            .await?;
        Ok(Some(existing.issue()))
    }

    async fn create_comment(
        &self,
        repo: &Repo,
        pr: u64,
        body: &str,
    ) -> Result<CommentId, ForgeError> {
        let call = Call::new("create comment on", format!("{repo}#{pr}"));
        check_comment(body).map_err(|m| call.error(ForgeErrorKind::Invalid, m))?;
        let path = format!("{}/issues/{pr}/comments", repo_path(repo));
        let payload = json!({ "body": body });
        let reply = self
            .request(
                &call,
                Verb::Post,
                &path,
                Some(&payload),
                Repeat::UnlessMaybeApplied,
            )
            .await?;
        Ok(CommentId(parse::<CommentJson>(&call, &reply)?.id))
    }

    async fn set_status(
        &self,
        repo: &Repo,
        sha: &str,
        context: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let call = Call::new("set commit status on", format!("{repo}@{sha}"));
        let path = format!("{}/statuses/{}", repo_path(repo), segment(sha));
        let mut payload = json!({
            "state": state.name(),
            "context": context,
            "description": cut_description(description),
        });
        if let (Some(url), Some(fields)) = (target_url, payload.as_object_mut()) {
            fields.insert("target_url".to_owned(), Value::from(url));
        }
        self.request(&call, Verb::Post, &path, Some(&payload), Repeat::Safe)
            .await?;
        Ok(())
    }

    async fn permission(&self, repo: &Repo, user: &str) -> Result<Permission, ForgeError> {
        let call = Call::new("read the permission of", format!("{user} in {repo}"));
        let path = format!(
            "{}/collaborators/{}/permission",
            repo_path(repo),
            segment(user)
        );
        let reply = match self
            .request(&call, Verb::Get, &path, None, Repeat::Safe)
            .await
        {
            Ok(reply) => reply,
            Err(e) if e.kind == ForgeErrorKind::NotFound => return Ok(Permission::None),
            Err(e) => return Err(e),
        };
        let answer = parse::<PermissionJson>(&call, &reply)?;
        // `role_name` has `maintain` and `triage`; it may also be an
        // organisation's custom role, for which `permission` (admin, write,
        // read, none) is the fallback.
        answer
            .role_name
            .as_deref()
            .and_then(Permission::from_name)
            .or_else(|| Permission::from_name(&answer.permission))
            .ok_or_else(|| {
                call.error(
                    ForgeErrorKind::Other,
                    format!("unknown permission `{}`", answer.permission),
                )
            })
    }

    async fn reviews(&self, repo: &Repo, pr: u64) -> Result<Vec<Review>, ForgeError> {
        let call = Call::new("list reviews of", format!("{repo}#{pr}"));
        let first = format!("{}/pulls/{pr}/reviews?per_page={PER_PAGE}", repo_path(repo));
        let reviews: Vec<ReviewJson> = self.list_all(&call, first).await?;
        Ok(reviews.into_iter().map(ReviewJson::into_domain).collect())
    }

    async fn team_member(
        &self,
        org: &str,
        team_slug: &str,
        user: &str,
    ) -> Result<bool, ForgeError> {
        let call = Call::new(
            "read the team membership of",
            format!("{user} in {org}/{team_slug}"),
        );
        let path = format!(
            "/orgs/{}/teams/{}/memberships/{}",
            segment(org),
            segment(team_slug),
            segment(user)
        );
        let reply = match self
            .request(&call, Verb::Get, &path, None, Repeat::Safe)
            .await
        {
            Ok(reply) => reply,
            Err(e) if e.kind == ForgeErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        Ok(parse::<MembershipJson>(&call, &reply)?.state == "active")
    }

    async fn create_deployment(
        &self,
        repo: &Repo,
        deployment: &NewDeployment,
    ) -> Result<DeploymentId, ForgeError> {
        let call = Call::new(
            "create deployment in",
            format!("{repo}@{} to {}", deployment.sha, deployment.environment),
        );
        let path = format!("{}/deployments", repo_path(repo));
        let payload = json!({
            "ref": deployment.sha,
            "environment": deployment.environment,
            "description": deployment.description,
            "auto_merge": false,
            "required_contexts": [],
            "production_environment": deployment.production,
            "transient_environment": false,
            "payload": deployment.payload,
        });
        let reply = self
            .request(
                &call,
                Verb::Post,
                &path,
                Some(&payload),
                Repeat::UnlessMaybeApplied,
            )
            .await?;
        Ok(DeploymentId(parse::<IdJson>(&call, &reply)?.id))
    }

    async fn set_deployment_status(
        &self,
        repo: &Repo,
        id: DeploymentId,
        state: DeploymentState,
        description: &str,
        log_url: Option<&str>,
    ) -> Result<(), ForgeError> {
        let call = Call::new("set the status of", format!("deployment {id} in {repo}"));
        let path = format!("{}/deployments/{id}/statuses", repo_path(repo));
        let mut payload = json!({
            "state": state.name(),
            "description": cut_description(description),
            "auto_inactive": true,
        });
        if let (Some(url), Some(fields)) = (log_url, payload.as_object_mut()) {
            fields.insert("log_url".to_owned(), Value::from(url));
        }
        self.request(&call, Verb::Post, &path, Some(&payload), Repeat::Safe)
            .await?;
        Ok(())
    }

    async fn pulls_of_commit(&self, repo: &Repo, sha: &str) -> Result<Vec<u64>, ForgeError> {
        let call = Call::new("list pull requests of", format!("{repo}@{sha}"));
        let first = format!(
            "{}/commits/{}/pulls?per_page={PER_PAGE}",
            repo_path(repo),
            segment(sha)
        );
        let pulls: Vec<NumberJson> = self.list_all(&call, first).await?;
        Ok(pulls.into_iter().map(|p| p.number).collect())
    }

    async fn checks(&self, repo: &Repo, sha: &str) -> Result<Vec<Check>, ForgeError> {
        let commit = format!("{}/commits/{}", repo_path(repo), segment(sha));
        let call = Call::new("read the commit statuses of", format!("{repo}@{sha}"));
        let first = format!("{commit}/status?per_page={PER_PAGE}");
        let mut checks = self
            .list_pages(&call, first, |page: CombinedStatusJson| {
                page.statuses
                    .into_iter()
                    .map(|s| Check {
                        name: s.context,
                        state: CheckState::of_status(&s.state),
                    })
                    .collect()
            })
            .await?;
        let call = Call::new("list the check runs of", format!("{repo}@{sha}"));
        let first = format!("{commit}/check-runs?filter=latest&per_page={PER_PAGE}");
        let runs = self
            .list_pages(&call, first, |page: CheckRunsJson| {
                page.check_runs
                    .into_iter()
                    .map(|run| Check {
                        state: CheckState::of_check_run(&run.status, run.conclusion.as_deref()),
                        name: run.name,
                    })
                    .collect()
            })
            .await?;
        checks.extend(runs);
        Ok(checks)
    }

    async fn react(
        &self,
        repo: &Repo,
        comment: CommentId,
        reaction: Reaction,
    ) -> Result<(), ForgeError> {
        let call = Call::new("react to", format!("comment {comment} in {repo}"));
        let path = format!("{}/issues/comments/{comment}/reactions", repo_path(repo));
        let payload = json!({ "content": reaction.name() });
        self.request(&call, Verb::Post, &path, Some(&payload), Repeat::Safe)
            .await?;
        Ok(())
    }
}

/// Walks a listing's pages.
struct Pages {
    next: Option<String>,
    seen: u32,
}

impl Pages {
    fn new(first: String) -> Self {
        Self {
            next: Some(first),
            seen: 0,
        }
    }

    /// The path of the next page to read, if any.
    fn next_path(&mut self, call: &Call) -> Result<Option<String>, ForgeError> {
        let Some(path) = self.next.take() else {
            return Ok(None);
        };
        self.seen += 1;
        if self.seen > MAX_PAGES {
            return Err(call.error(
                ForgeErrorKind::Other,
                format!("the listing goes on past {MAX_PAGES} pages"),
            ));
        }
        Ok(Some(path))
    }

    fn advance(&mut self, headers: &HeaderMap) {
        self.next = next_page(headers);
    }
}

/// The path and query of the `rel="next"` link, if the reply has one. The
/// host is dropped: octocrab puts the base URL's back (the path keeps a
/// GitHub Enterprise prefix, which octocrab does not add twice).
fn next_page(headers: &HeaderMap) -> Option<String> {
    let links = headers.get("link")?.to_str().ok()?;
    links.split(',').find_map(|link| {
        let (target, params) = link.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"");
        if !is_next {
            return None;
        }
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let uri: Uri = url.parse().ok()?;
        uri.path_and_query().map(|p| p.as_str().to_owned())
    })
}

/// The error a non-success reply stands for. `now` is unix seconds, to say
/// how far away a rate limit's reset is.
fn error_from_reply(call: &Call, reply: &Reply, now: u64) -> ForgeError {
    let said = github_message(reply);
    let status = reply.status;
    let message = format!("HTTP {}: {said}", status.as_u16());
    let limited = rate_limit(reply, &said, now);
    let kind = match (status.as_u16(), limited) {
        (403 | 429, Some((retry_after, note))) => {
            let message = if note.is_empty() {
                message
            } else {
                format!("{message} ({note})")
            };
            return call.error(ForgeErrorKind::RateLimited { retry_after }, message);
        }
        (401, _) => ForgeErrorKind::Unauthorized,
        (403, _) => ForgeErrorKind::Forbidden,
        (404 | 410, _) => ForgeErrorKind::NotFound,
        (400 | 422, _) => ForgeErrorKind::Invalid,
        (500..=599, _) => ForgeErrorKind::Transient,
        _ => ForgeErrorKind::Other,
    };
    call.error(kind, message)
}

/// What GitHub said in an error reply: its `message`, then what its
/// `errors[]` say (a 422 puts the useful part there); the status's reason
/// when the body is not GitHub's JSON (a proxy's HTML page).
fn github_message(reply: &Reply) -> String {
    let reason = reply
        .status
        .canonical_reason()
        .unwrap_or("unexpected status")
        .to_owned();
    let Ok(body) = serde_json::from_slice::<ErrorJson>(&reply.body) else {
        return reason;
    };
    let details: Vec<String> = body
        .errors
        .iter()
        .filter_map(|e| match e {
            Value::String(s) => Some(s.clone()),
            Value::Object(fields) => match fields.get("message").and_then(Value::as_str) {
                Some(message) => Some(message.to_owned()),
                None => {
                    let field = |name| fields.get(name).and_then(Value::as_str).unwrap_or("?");
                    Some(format!(
                        "`{}` of {}: {}",
                        field("field"),
                        field("resource"),
                        field("code")
                    ))
                }
            },
            _ => None,
        })
        .collect();
    let message = body.message.unwrap_or(reason);
    if details.is_empty() {
        message
    } else {
        format!("{message}: {}", details.join("; "))
    }
}

/// Whether the reply is a rate limit, with how long it asks to wait and a
/// note for humans.
fn rate_limit(reply: &Reply, said: &str, now: u64) -> Option<(Option<Duration>, String)> {
    let number =
        |name: &str| -> Option<u64> { reply.headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    if let Some(seconds) = number("retry-after") {
        return Some((
            Some(Duration::from_secs(seconds)),
            format!("GitHub asks to retry after {seconds} s"),
        ));
    }
    if number("x-ratelimit-remaining") == Some(0) {
        return Some(match number("x-ratelimit-reset") {
            Some(reset) => {
                let wait = reset.saturating_sub(now);
                (
                    Some(Duration::from_secs(wait)),
                    format!("the rate limit resets at unix time {reset}, in {wait} s"),
                )
            }
            None => (None, "the rate limit is exhausted".to_owned()),
        });
    }
    let said = said.to_lowercase();
    (said.contains("rate limit") || reply.status == StatusCode::TOO_MANY_REQUESTS)
        .then(|| (None, String::new()))
}

/// `error`, saying how many attempts were made when there were several.
fn gave_up(mut error: ForgeError, attempts: u32) -> ForgeError {
    if attempts > 1 {
        error.message = format!("{} (gave up after {attempts} attempts)", error.message);
    }
    error
}

/// An error from octocrab itself: the network, or (for GitHub App
/// installation tokens) a reply octocrab read.
fn octocrab_error(call: &Call, error: &octocrab::Error) -> ForgeError {
    if let octocrab::Error::GitHub { source, .. } = error {
        let kind = match source.status_code.as_u16() {
            401 => ForgeErrorKind::Unauthorized,
            403 => ForgeErrorKind::Forbidden,
            404 => ForgeErrorKind::NotFound,
            500..=599 => ForgeErrorKind::Transient,
            _ => ForgeErrorKind::Other,
        };
        return call.error(
            kind,
            format!("HTTP {}: {}", source.status_code.as_u16(), source.message),
        );
    }
    call.error(ForgeErrorKind::Transient, error_chain(error))
}

/// An error and its sources on one line, without repeating what a source
/// already said.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = cause.source();
    }
    line
}

/// A reply's body as `T`.
fn parse<T: DeserializeOwned>(call: &Call, reply: &Reply) -> Result<T, ForgeError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        call.error(
            ForgeErrorKind::Other,
            format!("unexpected reply from GitHub: {e}"),
        )
    })
}

/// `/repos/{owner}/{name}`.
fn repo_path(repo: &Repo) -> String {
    format!("/repos/{}/{}", segment(&repo.owner), segment(&repo.name))
}

/// `text` percent-encoded for one path segment (a bot's login has `[`).
fn segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[derive(Deserialize)]
struct ErrorJson {
    message: Option<String>,
    #[serde(default)]
    errors: Vec<Value>,
}

#[derive(Deserialize)]
struct UserJson {
    login: String,
}

#[derive(Deserialize)]
struct BranchJson {
    sha: String,
    #[serde(rename = "ref")]
    name: String,
}

#[derive(Deserialize)]
struct PullJson {
    number: u64,
    title: String,
    state: String,
    #[serde(default)]
    merged: bool,
    mergeable: Option<bool>,
    html_url: String,
    user: Option<UserJson>,
    head: BranchJson,
    base: BranchJson,
    #[serde(default)]
    merge_commit_sha: Option<String>,
}

impl PullJson {
    fn into_domain(self) -> PullRequest {
        PullRequest {
            number: self.number,
            title: self.title,
            state: if self.state == "open" {
                PullRequestState::Open
            } else {
                PullRequestState::Closed
            },
            merged: self.merged,
            mergeable: self.mergeable,
            head_sha: self.head.sha,
            head_ref: self.head.name,
            base_ref: self.base.name,
            base_sha: self.base.sha,
            merge_commit_sha: self.merge_commit_sha,
            html_url: self.html_url,
            author: self.user.map_or_else(|| GHOST.to_owned(), |u| u.login),
        }
    }
}

#[derive(Deserialize)]
struct IssueJson {
    number: u64,
    title: Option<String>,
    body: Option<String>,
    html_url: Option<String>,
    /// Present when the "issue" is a pull request.
    pull_request: Option<serde_json::Value>,
}

impl IssueJson {
    fn issue(&self) -> Issue {
        Issue {
            number: self.number,
            url: self.html_url.clone().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct CommentJson {
    id: u64,
    body: Option<String>,
}

#[derive(Deserialize)]
struct ReviewJson {
    user: Option<UserJson>,
    state: String,
    #[serde(default)]
    commit_id: Option<String>,
}

impl ReviewJson {
    fn into_domain(self) -> Review {
        Review {
            user: self.user.map_or_else(|| GHOST.to_owned(), |u| u.login),
            state: ReviewState::from_name(&self.state),
            commit_id: self.commit_id,
        }
    }
}

#[derive(Deserialize)]
struct MembershipJson {
    state: String,
}

#[derive(Deserialize)]
struct IdJson {
    id: u64,
}

#[derive(Deserialize)]
struct NumberJson {
    number: u64,
}

#[derive(Deserialize)]
struct CombinedStatusJson {
    #[serde(default)]
    statuses: Vec<StatusJson>,
}

#[derive(Deserialize)]
struct StatusJson {
    context: String,
    state: String,
}

#[derive(Deserialize)]
struct CheckRunsJson {
    #[serde(default)]
    check_runs: Vec<CheckRunJson>,
}

#[derive(Deserialize)]
struct CheckRunJson {
    name: String,
    status: String,
    conclusion: Option<String>,
}

#[derive(Deserialize)]
struct PermissionJson {
    permission: String,
    role_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use hyper::header::{HeaderName, HeaderValue};

    use super::*;

    fn reply(status: u16, headers: &[(&'static str, &str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                map.insert(HeaderName::from_static(name), value);
            }
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            headers: map,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn call() -> Call {
        Call::new("create comment on", "octo/infra#7")
    }

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn replies_map_to_error_kinds() {
        let limited = Some(Duration::from_secs(30));
        let cases: [(Reply, ForgeErrorKind); 9] = [
            (
                reply(401, &[], r#"{"message":"Bad credentials"}"#),
                ForgeErrorKind::Unauthorized,
            ),
            (
                reply(
                    403,
                    &[],
                    r#"{"message":"Resource not accessible by integration"}"#,
                ),
                ForgeErrorKind::Forbidden,
            ),
            (
                reply(
                    403,
                    &[
                        ("x-ratelimit-remaining", "0"),
                        ("x-ratelimit-reset", "1700000030"),
                    ],
                    r#"{"message":"API rate limit exceeded"}"#,
                ),
                ForgeErrorKind::RateLimited {
                    retry_after: limited,
                },
            ),
            (
                reply(
                    403,
                    &[],
                    r#"{"message":"You have exceeded a secondary rate limit"}"#,
                ),
                ForgeErrorKind::RateLimited { retry_after: None },
            ),
            (
                reply(429, &[("retry-after", "30")], ""),
                ForgeErrorKind::RateLimited {
                    retry_after: limited,
                },
            ),
            (
                reply(404, &[], r#"{"message":"Not Found"}"#),
                ForgeErrorKind::NotFound,
            ),
            (
                reply(422, &[], r#"{"message":"Validation Failed"}"#),
                ForgeErrorKind::Invalid,
            ),
            (
                reply(502, &[], "<html>Bad Gateway</html>"),
                ForgeErrorKind::Transient,
            ),
            (reply(418, &[], ""), ForgeErrorKind::Other),
        ];
        for (reply, kind) in cases {
            let error = error_from_reply(&call(), &reply, NOW);
            assert_eq!(error.kind, kind, "{}", error.message);
        }
    }

    #[test]
    fn a_422_says_what_github_found_invalid() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"IssueComment","code":"custom","field":"body","message":"Body is too long (maximum is 65536 characters)"}],"documentation_url":"https://docs.github.com/rest"}"#;
        let error = error_from_reply(&call(), &reply(422, &[], body), NOW);
        assert_eq!(
            error.to_string(),
            "could not create comment on `octo/infra#7`: HTTP 422: Validation Failed: Body is too long (maximum is 65536 characters)"
        );
    }

    #[test]
    fn a_422_without_messages_names_field_and_code() {
        let body = r#"{"message":"Validation Failed","errors":[{"resource":"Status","field":"state","code":"invalid"}]}"#;
        let error = error_from_reply(&call(), &reply(422, &[], body), NOW);
        assert_eq!(
            error.message,
            "HTTP 422: Validation Failed: `state` of Status: invalid"
        );
    }

    #[test]
    fn an_exhausted_rate_limit_names_its_reset() {
        let headers = [
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000030"),
        ];
        let body = r#"{"message":"API rate limit exceeded for installation ID 1."}"#;
        let error = error_from_reply(&call(), &reply(403, &headers, body), NOW);
        assert_eq!(
            error.message,
            "HTTP 403: API rate limit exceeded for installation ID 1. (the rate limit resets at unix time 1700000030, in 30 s)"
        );
    }

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let link = r#"<https://ghe.example/api/v3/repositories/1/issues/7/comments?per_page=100&page=2>; rel="next", <https://ghe.example/api/v3/repositories/1/issues/7/comments?per_page=100&page=5>; rel="last""#;
        let cases = [
            (
                vec![("link", link)],
                Some("/api/v3/repositories/1/issues/7/comments?per_page=100&page=2"),
            ),
            (
                vec![("link", r#"<https://api.github.com/x?page=1>; rel="prev""#)],
                None,
            ),
            (vec![], None),
        ];
        for (headers, expected) in cases {
            let reply = reply(200, &headers, "[]");
            assert_eq!(next_page(&reply.headers).as_deref(), expected);
        }
    }

    #[test]
    fn retries_stop_at_the_attempt_limit_and_at_long_waits() {
        let policy = RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(10),
        };
        let error = |kind| ForgeError::new(kind, "read pull request", "o/r#1", "");
        let transient = error(ForgeErrorKind::Transient);
        let first = policy.wait_before_retry(&transient, 1);
        assert!(
            first
                .is_some_and(|w| w >= Duration::from_millis(50) && w <= Duration::from_millis(100))
        );
        let second = policy.wait_before_retry(&transient, 2);
        assert!(second.is_some_and(|w| w >= Duration::from_millis(100) && w <= Duration::from_millis(200)));
        assert_eq!(policy.wait_before_retry(&transient, 3), None);

        let soon = error(ForgeErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        });
        assert_eq!(
            policy.wait_before_retry(&soon, 1),
            Some(Duration::from_secs(2))
        );
        let later = error(ForgeErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(600)),
        });
        assert_eq!(policy.wait_before_retry(&later, 1), None);
        for kind in [
            ForgeErrorKind::NotFound,
            ForgeErrorKind::Invalid,
            ForgeErrorKind::Forbidden,
        ] {
            assert_eq!(policy.wait_before_retry(&error(kind), 1), None);
        }
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(segment("dependabot[bot]"), "dependabot%5Bbot%5D");
        assert_eq!(segment("a1b2-c_3.d"), "a1b2-c_3.d");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let token = format!("{:?}", Auth::Token("ghp_secret".to_owned()));
        let app = format!(
            "{:?}",
            Auth::App {
                app_id: 1,
                private_key_pem: "-----BEGIN RSA PRIVATE KEY-----".to_owned(),
                installation_id: 2,
            }
        );
        assert!(!token.contains("ghp_secret"));
        assert!(!app.contains("BEGIN"));
    }
}
