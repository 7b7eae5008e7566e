//! [`FakeGitHub`]: a recording fake of the part of GitHub's REST API that
//! Strata uses, served over HTTP on 127.0.0.1 for tests.
//!
//! It is a real server with state, not a mock. It implements:
//!
//! - `GET /repos/{o}/{r}` and `GET …/pulls/{n}` (seeded with
//!   [`PullRequestSeed`]: head, base tip, test merge commit);
//! - `GET …/pulls/{n}/reviews` (seeded with [`FakeGitHub::add_review`] or
//!   [`FakeGitHub::add_review_at`], each with its `commit_id`);
//! - `GET …/collaborators/{u}/permission` ([`FakeGitHub::set_permission`]);
//! - `GET /orgs/{org}/teams/{slug}/memberships/{u}`
//!   ([`FakeGitHub::add_team_member`]; 404 for anyone else);
//! - comments: `GET`/`POST …/issues/{n}/comments`, edits by `PATCH` or
//!   `POST …/issues/comments/{id}`, `POST …/issues/comments/{id}/reactions`;
//! - `POST …/statuses/{sha}`, and a commit's combined status
//!   `GET …/commits/{ref}/status` (the latest per context, set through the
//!   API or seeded with [`FakeGitHub::add_status`]);
//! - `GET …/commits/{ref}/check-runs` ([`FakeGitHub::add_check_run`];
//!   `filter=latest`, the default, keeps the latest run per name);
//! - `GET …/commits/{sha}/pulls`: merged seeded pull requests whose merge
//!   commit or head is `sha`, and those linked with
//!   [`FakeGitHub::link_commit`];
//! - `POST …/deployments` and `POST …/deployments/{id}/statuses`, stored
//!   for [`FakeGitHub::deployments`]; a `success` with `auto_inactive`
//!   (the default) marks the earlier successful deployments of the same
//!   non-production environment `inactive`, as GitHub does.
//!
//! GitHub's limits and error shapes are enforced: bodies over 65,536
//! characters, status descriptions over 140, unknown commit status,
//! deployment status and reaction states are 422 with `errors[]`; an
//! unknown deployment is 404; no `Authorization` is 401; unknown routes
//! 404. Listings paginate like GitHub (`per_page` up to 100, default 30,
//! `Link` headers built from the fake's own address). Every request is
//! recorded for assertions, and faults can be injected: a 502 *after*
//! applying the request (as a flaky proxy does), a 429 with `Retry-After`,
//! a 403 with an exhausted rate limit.
//!
//! The server runs on its own thread with its own tokio runtime, so sync and
//! async tests use it alike; dropping the fake (or [`FakeGitHub::shutdown`])
//! stops it. Point [`GitHub`](super::GitHub) at [`FakeGitHub::url`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::Repo;

/// The login the fake answers as for every token: the author of the
/// comments, statuses and reactions Strata makes.
pub const LOGIN: &str = "strata-bot";

/// GitHub's limit on a comment body, in characters (kept apart from
/// [`super::MAX_COMMENT_CHARS`] so the fake checks the client, not itself).
const COMMENT_LIMIT: usize = 65_536;

/// GitHub's limit on a commit status description, in characters.
const DESCRIPTION_LIMIT: usize = 140;

/// GitHub's limit on statuses per commit and context.
const STATUSES_PER_CONTEXT: usize = 1000;

/// A fixed clock: every timestamp the fake writes.
const TIMESTAMP: &str = "2024-01-01T00:00:00Z";

const DOCS: &str = "https://docs.github.com/rest";

/// The deployment status states GitHub accepts.
const DEPLOYMENT_STATES: [&str; 7] = [
    "error",
    "failure",
    "inactive",
    "in_progress",
    "queued",
    "pending",
    "success",
];

/// The reactions GitHub accepts.
const REACTIONS: [&str; 8] = [
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

/// A fake GitHub API on 127.0.0.1, running until dropped.
pub struct FakeGitHub {
    url: String,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

/// A pull request to seed, with defaults for what a test does not care
/// about: `PullRequestSeed { number: 7, ..PullRequestSeed::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestSeed {
    /// Its number.
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Who opened it.
    pub author: String,
    /// The head commit.
    pub head_sha: String,
    /// The head branch.
    pub head_ref: String,
    /// The branch it merges into.
    pub base_ref: String,
    /// The tip of the base branch.
    pub base_sha: String,
    /// The test merge commit (open) or the merge commit (merged); `None`
    /// by default, as while GitHub computes it.
    pub merge_commit_sha: Option<String>,
    /// Open (else closed).
    pub open: bool,
    /// Merged.
    pub merged: bool,
    /// Mergeable; `None` while GitHub "computes" it.
    pub mergeable: Option<bool>,
}

impl Default for PullRequestSeed {
    fn default() -> Self {
        Self {
            number: 1,
            title: "Change the infrastructure".to_owned(),
            author: "octocat".to_owned(),
            head_sha: "6dcb09b5b57875f334f61aebed695e2e4193db5e".to_owned(),
            head_ref: "change".to_owned(),
            base_ref: "main".to_owned(),
            base_sha: "e5bd3914e2e596debea16f433f57875b5b90bcd6".to_owned(),
            merge_commit_sha: None,
            open: true,
            merged: false,
            mergeable: Some(true),
        }
    }
}

/// A request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, prefix included, still percent-encoded.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// Headers by lowercase name (repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body, as text.
    pub body: String,
    /// The status the fake answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// The header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// Whether this is a `method` request to a path containing `path`.
    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && self.path.contains(path)
    }
}

/// A comment stored by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    /// Its id (unique across repositories, as on GitHub).
    pub id: u64,
    /// Its author.
    pub user: String,
    /// Its body.
    pub body: String,
}

/// A commit status stored by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    /// `pending`, `success`, `failure` or `error`.
    pub state: String,
    /// Its context (`default` when none was sent).
    pub context: String,
    /// Its description.
    pub description: Option<String>,
    /// Its link.
    pub target_url: Option<String>,
}

/// A deployment stored by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeDeployment {
    /// Its id (unique across repositories, as on GitHub).
    pub id: u64,
    /// The `ref` it deploys (Strata sends a commit SHA).
    pub sha: String,
    /// Its environment.
    pub environment: String,
    /// Its description (empty when none was sent).
    pub description: String,
    /// Whether it was marked a production environment.
    pub production: bool,
    /// Its payload (`{}` when none was sent).
    pub payload: Value,
    /// Its statuses, oldest first, as `(state, description)`; the
    /// description is empty when none was sent.
    pub statuses: Vec<(String, String)>,
}

/// An issue opened through the fake's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIssue {
    /// Its number (shared with pull requests, as on GitHub).
    pub number: u64,
    /// Its title.
    pub title: String,
    /// Its body.
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
}

/// A reaction stored by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeReaction {
    /// Who reacted.
    pub user: String,
    /// `+1`, `eyes`, ...
    pub content: String,
}

/// A fault to inject into the next `times` requests that match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The method to match (`POST`; any case).
    pub method: String,
    /// A piece of the path to match (`/issues/7/comments`).
    pub path_contains: String,
    /// What goes wrong.
    pub kind: FaultKind,
    /// How many matching requests it hits.
    pub times: u32,
}

impl Fault {
    /// `kind` on the next `method` request whose path contains
    /// `path_contains`.
    pub fn new(method: &str, path_contains: &str, kind: FaultKind) -> Self {
        Self {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            kind,
            times: 1,
        }
    }

    /// The same fault on the next `times` matching requests.
    pub fn times(self, times: u32) -> Self {
        Self { times, ..self }
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The request is applied, then the answer is a proxy's 502 page.
    BadGateway,
    /// 429 with `Retry-After`; nothing is applied.
    TooManyRequests {
        /// The `Retry-After` value.
        retry_after_secs: u64,
    },
    /// 403 "API rate limit exceeded" with `x-ratelimit-remaining: 0`;
    /// nothing is applied.
    Forbidden {
        /// The `x-ratelimit-reset` value, unix seconds.
        reset_at: u64,
    },
}

impl FakeGitHub {
    /// Starts a fake at `http://127.0.0.1:{port}`.
    pub fn start() -> io::Result<Self> {
        Self::start_with_prefix("")
    }

    /// Starts a fake whose API lives under `prefix`, as GitHub Enterprise
    /// Server's does under `/api/v3`.
    pub fn start_with_prefix(prefix: &str) -> io::Result<Self> {
        let prefix = match prefix.trim_end_matches('/') {
            "" => String::new(),
            p if p.starts_with('/') => p.to_owned(),
            p => format!("/{p}"),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let origin = format!("http://{}", listener.local_addr()?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let state = Arc::new(Mutex::new(State::new(origin.clone(), prefix.clone())));
        let stop = CancellationToken::new();
        let thread = std::thread::Builder::new()
            .name("fake-github".to_owned())
            .spawn({
                let state = Arc::clone(&state);
                let stop = stop.clone();
                move || runtime.block_on(serve(listener, state, stop))
            })?;
        Ok(Self {
            url: format!("{origin}{prefix}"),
            state,
            stop,
            thread: Some(thread),
        })
    }

    /// The API's base URL, prefix included: `http://127.0.0.1:41234/api/v3`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_server();
    }

    fn stop_server(&mut self) {
        self.stop.cancel();
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread already failed the request that
            // caused it; there is nothing left to report here.
            let _ = thread.join();
        }
    }

    /// The state, even after a panic elsewhere (a failed assertion while
    /// the lock was held must not hide the state from the next one).
    /// A `std` mutex: every section is short and never awaits.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates `repo` with `default_branch` (seeding anything else creates
    /// it with `main`).
    pub fn add_repository(&self, repo: &Repo, default_branch: &str) {
        self.lock().repo_mut(repo).default_branch = default_branch.to_owned();
    }

    /// Adds (or replaces) a pull request.
    pub fn add_pull_request(&self, repo: &Repo, seed: PullRequestSeed) {
        self.lock().repo_mut(repo).pulls.insert(seed.number, seed);
    }

    /// Makes `user` a collaborator with `permission` (`admin`, `maintain`,
    /// `write`, `triage`, `read`).
    pub fn set_permission(&self, repo: &Repo, user: &str, permission: &str) {
        self.lock()
            .repo_mut(repo)
            .permissions
            .insert(user.to_owned(), permission.to_owned());
    }

    /// Adds a review by `user` on pull request `pr`, after its others,
    /// made on the pull request's head commit (whatever it is when the
    /// reviews are listed). `state` as GitHub spells it: `APPROVED`,
    /// `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`.
    pub fn add_review(&self, repo: &Repo, pr: u64, user: &str, state: &str) {
        self.push_review(repo, pr, user, state, None);
    }

    /// Adds a review like [`add_review`](Self::add_review), made on commit
    /// `commit_id` (an approval of an older push).
    pub fn add_review_at(&self, repo: &Repo, pr: u64, user: &str, state: &str, commit_id: &str) {
        self.push_review(repo, pr, user, state, Some(commit_id));
    }

    fn push_review(&self, repo: &Repo, pr: u64, user: &str, state: &str, commit: Option<&str>) {
        let mut state_guard = self.lock();
        let id = state_guard.next_id();
        state_guard
            .repo_mut(repo)
            .reviews
            .entry(pr)
            .or_default()
            .push(Review {
                id,
                user: user.to_owned(),
                state: state.to_owned(),
                commit_id: commit.map(str::to_owned),
            });
    }

    /// Makes `user` a member of the team `team_slug` of `org`, with the
    /// membership `state` GitHub reports: `active`, or `pending` while the
    /// invitation is not accepted.
    pub fn add_team_member(&self, org: &str, team_slug: &str, user: &str, state: &str) {
        self.lock().teams.insert(
            (org.to_owned(), team_slug.to_owned(), user.to_owned()),
            state.to_owned(),
        );
    }

    /// Says that commit `sha` came from pull request `pr` (listed by
    /// `GET …/commits/{sha}/pulls` besides the merged seeded pull requests
    /// whose merge commit or head is `sha`).
    pub fn link_commit(&self, repo: &Repo, sha: &str, pr: u64) {
        let mut state = self.lock();
        let links = state
            .repo_mut(repo)
            .commit_pulls
            .entry(sha.to_owned())
            .or_default();
        if !links.contains(&pr) {
            links.push(pr);
        }
    }

    /// Adds a check run `name` on commit `sha`, as another app would:
    /// `status` `queued`, `in_progress` or `completed`, and once completed a
    /// `conclusion` (`success`, `failure`, `neutral`, `skipped`,
    /// `cancelled`, `timed_out`, ...). A later run with the same name
    /// supersedes it.
    pub fn add_check_run(
        &self,
        repo: &Repo,
        sha: &str,
        name: &str,
        status: &str,
        conclusion: Option<&str>,
    ) {
        let mut state = self.lock();
        let id = state.next_id();
        state
            .repo_mut(repo)
            .check_runs
            .entry(sha.to_owned())
            .or_default()
            .push(CheckRun {
                id,
                name: name.to_owned(),
                status: status.to_owned(),
                conclusion: conclusion.map(str::to_owned),
            });
    }

    /// Adds a commit status to `sha`, as another CI would (`state`:
    /// `pending`, `success`, `failure`, `error`); no limits are checked.
    pub fn add_status(&self, repo: &Repo, sha: &str, context: &str, state: &str) {
        let mut guard = self.lock();
        guard.repo_mut(repo);
        guard
            .statuses
            .entry((repo.full_name(), sha.to_owned()))
            .or_default()
            .push(FakeStatus {
                state: state.to_owned(),
                context: context.to_owned(),
                description: None,
                target_url: None,
            });
    }

    /// Adds a comment by `user` to pull request `pr` (which need not be
    /// seeded) and returns its id.
    pub fn add_comment(&self, repo: &Repo, pr: u64, user: &str, body: &str) -> u64 {
        let mut state = self.lock();
        state.repo_mut(repo);
        state.store_comment(&repo.full_name(), pr, user, body)
    }

    /// Injects `fault`.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The comments on pull request `pr`, oldest first.
    pub fn comments(&self, repo: &Repo, pr: u64) -> Vec<FakeComment> {
        self.lock()
            .comments_on(&repo.full_name(), pr)
            .map(|c| FakeComment {
                id: c.id,
                user: c.user.clone(),
                body: c.body.clone(),
            })
            .collect()
    }

    /// The statuses set on commit `sha`, oldest first.
    pub fn statuses(&self, repo: &Repo, sha: &str) -> Vec<FakeStatus> {
        self.lock()
            .statuses
            .get(&(repo.full_name(), sha.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// The deployments of `repo` with their statuses, oldest first.
    pub fn deployments(&self, repo: &Repo) -> Vec<FakeDeployment> {
        let repo = repo.full_name();
        self.lock()
            .deployments
            .iter()
            .filter(|d| d.repo == repo)
            .map(|d| d.deployment.clone())
            .collect()
    }

    /// The issues of `repo` opened through the API, by number.
    pub fn issues(&self, repo: &Repo) -> Vec<FakeIssue> {
        let repo = repo.full_name();
        self.lock()
            .issues
            .iter()
            .filter(|((r, _), _)| *r == repo)
            .map(|(_, issue)| issue.clone())
            .collect()
    }

    /// The reactions to comment `comment_id`, oldest first.
    pub fn reactions(&self, comment_id: u64) -> Vec<FakeReaction> {
        self.lock()
            .reactions
            .get(&comment_id)
            .map(|all| all.iter().map(|r| r.reaction.clone()).collect())
            .unwrap_or_default()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop_server();
    }
}

/// Accepts connections until `stop`; each connection is served by hyper
/// on the fake's runtime.
async fn serve(listener: std::net::TcpListener, state: Arc<Mutex<State>>, stop: CancellationToken) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&state), request));
            // A client hanging up mid-request is its own business.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Reads a request, answers it from the state and records both.
async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let request = RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        status: 0,
    };
    let reply = state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .respond(request);
    Ok(reply.into_response())
}

/// An answer before it becomes a hyper response.
struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn json(status: StatusCode, body: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "application/json; charset=utf-8",
            body: body.to_string(),
        }
    }

    /// GitHub's error shape.
    fn error(status: StatusCode, message: &str) -> Self {
        Self::json(
            status,
            &json!({
                "message": message,
                "documentation_url": DOCS,
                "status": status.as_str(),
            }),
        )
    }

    fn not_found() -> Self {
        Self::error(StatusCode::NOT_FOUND, "Not Found")
    }

    /// A 422 "Validation Failed" naming what failed in `errors[]`.
    fn invalid(resource: &str, field: &str, code: &str, message: Option<&str>) -> Self {
        let mut error = json!({ "resource": resource, "field": field, "code": code });
        if let (Some(message), Some(fields)) = (message, error.as_object_mut()) {
            fields.insert("message".to_owned(), Value::from(message));
        }
        Self::json(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "message": "Validation Failed",
                "errors": [error],
                "documentation_url": DOCS,
                "status": "422",
            }),
        )
    }

    fn with_header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// With a `Link` header, when there is one.
    fn with_link(self, link: Option<String>) -> Self {
        match link {
            Some(link) => self.with_header("link", link),
            None => self,
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// Everything the fake knows. Guarded by a `std` mutex: handlers hold it
/// only while computing an answer, never across an await.
struct State {
    origin: String,
    prefix: String,
    next_id: u64,
    repos: BTreeMap<String, RepoState>,
    comments: BTreeMap<u64, StoredComment>,
    statuses: BTreeMap<(String, String), Vec<FakeStatus>>,
    reactions: BTreeMap<u64, Vec<StoredReaction>>,
    /// `(org, team slug, user)` to the membership state.
    teams: BTreeMap<(String, String, String), String>,
    deployments: Vec<StoredDeployment>,
    /// Issues opened through the API, by repository and number.
    issues: BTreeMap<(String, u64), FakeIssue>,
    faults: Vec<Fault>,
    requests: Vec<RecordedRequest>,
}

struct RepoState {
    id: u64,
    default_branch: String,
    pulls: BTreeMap<u64, PullRequestSeed>,
    permissions: BTreeMap<String, String>,
    reviews: BTreeMap<u64, Vec<Review>>,
    /// Commit SHA to the pull requests linked to it.
    commit_pulls: BTreeMap<String, Vec<u64>>,
    /// Commit SHA to its check runs, oldest first.
    check_runs: BTreeMap<String, Vec<CheckRun>>,
}

struct Review {
    id: u64,
    user: String,
    state: String,
    /// `None`: the pull request's head when listed.
    commit_id: Option<String>,
}

struct CheckRun {
    id: u64,
    name: String,
    status: String,
    conclusion: Option<String>,
}

struct StoredDeployment {
    repo: String,
    deployment: FakeDeployment,
}

struct StoredComment {
    id: u64,
    repo: String,
    issue: u64,
    user: String,
    body: String,
}

struct StoredReaction {
    id: u64,
    reaction: FakeReaction,
}

impl State {
    fn new(origin: String, prefix: String) -> Self {
        Self {
            origin,
            prefix,
            next_id: 1000,
            repos: BTreeMap::new(),
            comments: BTreeMap::new(),
            statuses: BTreeMap::new(),
            reactions: BTreeMap::new(),
            teams: BTreeMap::new(),
            deployments: Vec::new(),
            issues: BTreeMap::new(),
            faults: Vec::new(),
            requests: Vec::new(),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn repo_mut(&mut self, repo: &Repo) -> &mut RepoState {
        let id = self.next_id();
        self.repos
            .entry(repo.full_name())
            .or_insert_with(|| RepoState {
                id,
                default_branch: "main".to_owned(),
                pulls: BTreeMap::new(),
                permissions: BTreeMap::new(),
                reviews: BTreeMap::new(),
                commit_pulls: BTreeMap::new(),
                check_runs: BTreeMap::new(),
            })
    }

    fn store_comment(&mut self, repo: &str, issue: u64, user: &str, body: &str) -> u64 {
        let id = self.next_id();
        self.comments.insert(
            id,
            StoredComment {
                id,
                repo: repo.to_owned(),
                issue,
                user: user.to_owned(),
                body: body.to_owned(),
            },
        );
        id
    }

    fn comments_on(&self, repo: &str, issue: u64) -> impl Iterator<Item = &StoredComment> {
        self.comments
            .values()
            .filter(move |c| c.repo == repo && c.issue == issue)
    }

    /// The answer to `request`, which is recorded with its status.
    fn respond(&mut self, mut request: RecordedRequest) -> Reply {
        let reply = self.answer(&request);
        request.status = reply.status.as_u16();
        self.requests.push(request);
        reply
    }

    fn answer(&mut self, request: &RecordedRequest) -> Reply {
        if request.header("authorization").is_none() {
            return Reply::error(StatusCode::UNAUTHORIZED, "Requires authentication");
        }
        match self.take_fault(request) {
            None => self.route(request),
            Some(FaultKind::BadGateway) => {
                // Applied, but the answer is lost on the way back.
                let _ = self.route(request);
                Reply {
                    status: StatusCode::BAD_GATEWAY,
                    headers: Vec::new(),
                    content_type: "text/html",
                    body: "<html><body><h1>502 Bad Gateway</h1></body></html>".to_owned(),
                }
            }
            Some(FaultKind::TooManyRequests { retry_after_secs }) => Reply::error(
                StatusCode::TOO_MANY_REQUESTS,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            )
            .with_header("retry-after", retry_after_secs),
            Some(FaultKind::Forbidden { reset_at }) => {
                Reply::error(StatusCode::FORBIDDEN, "API rate limit exceeded for user ID 1.")
                    .with_header("x-ratelimit-limit", 5000)
                    .with_header("x-ratelimit-remaining", 0)
                    .with_header("x-ratelimit-used", 5000)
                    .with_header("x-ratelimit-reset", reset_at)
                    .with_header("x-ratelimit-resource", "core")
            }
        }
    }

    /// The first injected fault that matches `request`, used up once.
    fn take_fault(&mut self, request: &RecordedRequest) -> Option<FaultKind> {
        let index = self
            .faults
            .iter()
            .position(|f| f.times > 0 && request.is(&f.method, &f.path_contains))?;
        let fault = self.faults.get_mut(index)?;
        fault.times -= 1;
        let kind = fault.kind;
        if fault.times == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }

    fn route(&mut self, request: &RecordedRequest) -> Reply {
        let Some(rest) = request.path.strip_prefix(self.prefix.as_str()) else {
            return Reply::not_found();
        };
        let Some(rest) = rest.strip_prefix('/') else {
            return Reply::not_found();
        };
        let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let body = request.body.as_str();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["repos", o, r]) => self.get_repo(&repo_key(o, r)),
            ("GET", ["repos", o, r, "pulls", n]) => self.get_pull(&repo_key(o, r), n),
            ("GET", ["repos", o, r, "pulls", n, "reviews"]) => {
                self.list_reviews(request, &repo_key(o, r), n)
            }
            ("PATCH" | "POST", ["repos", o, r, "issues", "comments", id]) => {
                self.update_comment(&repo_key(o, r), id, body)
            }
            ("POST", ["repos", o, r, "issues", "comments", id, "reactions"]) => {
                self.react(&repo_key(o, r), id, body)
            }
            ("GET", ["repos", o, r, "issues"]) => self.list_issues(request, &repo_key(o, r)),
            ("POST", ["repos", o, r, "issues"]) => self.create_issue(&repo_key(o, r), body),
            ("PATCH", ["repos", o, r, "issues", n]) => self.update_issue(&repo_key(o, r), n, body),
            ("GET", ["repos", o, r, "issues", n, "comments"]) => {
                self.list_comments(request, &repo_key(o, r), n)
            }
            ("POST", ["repos", o, r, "issues", n, "comments"]) => {
                self.create_comment(&repo_key(o, r), n, body)
            }
            ("POST", ["repos", o, r, "statuses", sha]) => {
                self.create_status(&repo_key(o, r), sha, body)
            }
            ("GET", ["repos", o, r, "collaborators", user, "permission"]) => {
                self.permission(&repo_key(o, r), user)
            }
            ("GET", ["orgs", org, "teams", team, "memberships", user]) => {
                self.team_membership(org, team, user)
            }
            ("GET", ["repos", o, r, "commits", sha, "pulls"]) => {
                self.pulls_of_commit(request, &repo_key(o, r), sha)
            }
            ("GET", ["repos", o, r, "commits", sha, "status"]) => {
                self.combined_status(request, &repo_key(o, r), sha)
            }
            ("GET", ["repos", o, r, "commits", sha, "check-runs"]) => {
                self.list_check_runs(request, &repo_key(o, r), sha)
            }
            ("POST", ["repos", o, r, "deployments"]) => {
                self.create_deployment(&repo_key(o, r), body)
            }
            ("POST", ["repos", o, r, "deployments", id, "statuses"]) => {
                self.create_deployment_status(&repo_key(o, r), id, body)
            }
            _ => Reply::not_found(),
        }
    }

    fn get_repo(&self, repo: &str) -> Reply {
        let Some(state) = self.repos.get(repo) else {
            return Reply::not_found();
        };
        let (owner, name) = repo.split_once('/').unwrap_or((repo, repo));
        Reply::json(
            StatusCode::OK,
            &json!({
                "id": state.id,
                "name": name,
                "full_name": repo,
                "owner": user_json(owner),
                "private": true,
                "html_url": format!("https://github.com/{repo}"),
                "url": format!("{}{}/repos/{repo}", self.origin, self.prefix),
                "default_branch": state.default_branch,
            }),
        )
    }

    /// The seeded pull request `number` of `repo`.
    fn pull(&self, repo: &str, number: &str) -> Option<&PullRequestSeed> {
        let number: u64 = number.parse().ok()?;
        self.repos.get(repo)?.pulls.get(&number)
    }

    fn get_pull(&self, repo: &str, number: &str) -> Reply {
        match self.pull(repo, number) {
            Some(pull) => Reply::json(StatusCode::OK, &self.pull_json(repo, pull)),
            None => Reply::not_found(),
        }
    }

    /// A pull request as GitHub shows it.
    fn pull_json(&self, repo: &str, pull: &PullRequestSeed) -> Value {
        let n = pull.number;
        let branch = |name: &str, sha: &str| {
            json!({
                "label": format!("{}:{name}", repo.split('/').next().unwrap_or(repo)),
                "ref": name,
                "sha": sha,
                "repo": { "full_name": repo },
            })
        };
        let state = if pull.open { "open" } else { "closed" };
        let merged_at = if pull.merged {
            Value::from(TIMESTAMP)
        } else {
            Value::Null
        };
        json!({
            "url": format!("{}{}/repos/{repo}/pulls/{n}", self.origin, self.prefix),
            "id": n + 500_000,
            "number": n,
            "state": state,
            "title": pull.title,
            "user": user_json(&pull.author),
            "html_url": format!("https://github.com/{repo}/pull/{n}"),
            "draft": false,
            "merged": pull.merged,
            "mergeable": pull.mergeable,
            "merge_commit_sha": pull.merge_commit_sha,
            "merged_at": merged_at,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "head": branch(&pull.head_ref, &pull.head_sha),
            "base": branch(&pull.base_ref, &pull.base_sha),
        })
    }

    fn list_reviews(&self, request: &RecordedRequest, repo: &str, number: &str) -> Reply {
        let Some(pull) = self.pull(repo, number) else {
            return Reply::not_found();
        };
        let reviews: Vec<Value> = self
            .repos
            .get(repo)
            .and_then(|r| r.reviews.get(&pull.number))
            .map(|all| {
                all.iter()
                    .map(|review| {
                        json!({
                            "id": review.id,
                            "user": user_json(&review.user),
                            "body": "",
                            "state": review.state,
                            "commit_id": review.commit_id.as_deref().unwrap_or(&pull.head_sha),
                            "submitted_at": TIMESTAMP,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.page(request, reviews)
    }

    fn list_comments(&self, request: &RecordedRequest, repo: &str, number: &str) -> Reply {
        let Some(issue) = self.issue(repo, number) else {
            return Reply::not_found();
        };
        let comments = self
            .comments_on(repo, issue)
            .map(|c| self.comment_json(c))
            .collect();
        self.page(request, comments)
    }

    /// The issue `number` of `repo`, when comments can go there: a seeded
    /// pull request, or an issue the test put comments on.
    fn issue(&self, repo: &str, number: &str) -> Option<u64> {
        let number: u64 = number.parse().ok()?;
        let state = self.repos.get(repo)?;
        let known = state.pulls.contains_key(&number)
            || self.issues.contains_key(&(repo.to_owned(), number))
            || self.comments_on(repo, number).next().is_some();
        known.then_some(number)
    }

    fn create_comment(&mut self, repo: &str, number: &str, body: &str) -> Reply {
        let Some(issue) = self.issue(repo, number) else {
            return Reply::not_found();
        };
        let text = match comment_body(body) {
            Ok(text) => text,
            Err(reply) => return reply,
        };
        let id = self.store_comment(repo, issue, LOGIN, &text);
        match self.comments.get(&id) {
            Some(comment) => Reply::json(StatusCode::CREATED, &self.comment_json(comment)),
            None => Reply::not_found(),
        }
    }

    fn update_comment(&mut self, repo: &str, id: &str, body: &str) -> Reply {
        let Some(id) = self.comment_in(repo, id) else {
            return Reply::not_found();
        };
        let text = match comment_body(body) {
            Ok(text) => text,
            Err(reply) => return reply,
        };
        let Some(comment) = self.comments.get_mut(&id) else {
            return Reply::not_found();
        };
        comment.body = text;
        match self.comments.get(&id) {
            Some(comment) => Reply::json(StatusCode::OK, &self.comment_json(comment)),
            None => Reply::not_found(),
        }
    }

    /// The id of comment `id` when it belongs to `repo`.
    fn comment_in(&self, repo: &str, id: &str) -> Option<u64> {
        let id: u64 = id.parse().ok()?;
        self.comments
            .get(&id)
            .filter(|c| c.repo == repo)
            .map(|c| c.id)
    }

    fn comment_json(&self, comment: &StoredComment) -> Value {
        let (id, repo) = (comment.id, &comment.repo);
        json!({
            "id": id,
            "node_id": format!("IC_{id}"),
            "url": format!("{}{}/repos/{repo}/issues/comments/{id}", self.origin, self.prefix),
            "html_url": format!("https://github.com/{repo}/pull/{}#issuecomment-{id}", comment.issue),
            "issue_url": format!("{}{}/repos/{repo}/issues/{}", self.origin, self.prefix, comment.issue),
            "body": comment.body,
            "user": user_json(&comment.user),
            "author_association": "NONE",
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        })
    }

    fn react(&mut self, repo: &str, id: &str, body: &str) -> Reply {
        let Some(id) = self.comment_in(repo, id) else {
            return Reply::not_found();
        };
        let Ok(payload) = serde_json::from_str::<Value>(body) else {
            return Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
        };
        let content = payload.get("content").and_then(Value::as_str).unwrap_or("");
        if !REACTIONS.contains(&content) {
            return Reply::invalid("Reaction", "content", "invalid", None);
        }
        let existing = self.reactions.get(&id).and_then(|all| {
            all.iter()
                .find(|r| r.reaction.user == LOGIN && r.reaction.content == content)
                .map(|r| r.id)
        });
        let (status, reaction_id) = match existing {
            Some(reaction_id) => (StatusCode::OK, reaction_id),
            None => {
                let reaction_id = self.next_id();
                self.reactions.entry(id).or_default().push(StoredReaction {
                    id: reaction_id,
                    reaction: FakeReaction {
                        user: LOGIN.to_owned(),
                        content: content.to_owned(),
                    },
                });
                (StatusCode::CREATED, reaction_id)
            }
        };
        Reply::json(
            status,
            &json!({
                "id": reaction_id,
                "node_id": format!("REA_{reaction_id}"),
                "user": user_json(LOGIN),
                "content": content,
                "created_at": TIMESTAMP,
            }),
        )
    }

    fn create_status(&mut self, repo: &str, sha: &str, body: &str) -> Reply {
        if !self.repos.contains_key(repo) {
            return Reply::not_found();
        }
        let Ok(payload) = serde_json::from_str::<Value>(body) else {
            return Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
        };
        let text = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
        let state = text("state").unwrap_or_default();
        if !["error", "failure", "pending", "success"].contains(&state.as_str()) {
            return Reply::invalid(
                "Status",
                "state",
                "custom",
                Some("state is not included in the list"),
            );
        }
        let description = text("description");
        if description
            .as_deref()
            .is_some_and(|d| d.chars().count() > DESCRIPTION_LIMIT)
        {
            return Reply::invalid(
                "Status",
                "description",
                "custom",
                Some("description is too long (maximum is 140 characters)"),
            );
        }
        let context = text("context").unwrap_or_else(|| "default".to_owned());
        let key = (repo.to_owned(), sha.to_owned());
        let same_context = self
            .statuses
            .get(&key)
            .map_or(0, |all| all.iter().filter(|s| s.context == context).count());
        if same_context >= STATUSES_PER_CONTEXT {
            return Reply::invalid(
                "Status",
                "context",
                "custom",
                Some("This SHA and context has reached the maximum number of statuses."),
            );
        }
        let id = self.next_id();
        let status = FakeStatus {
            state,
            context,
            description,
            target_url: text("target_url"),
        };
        let reply = json!({
            "url": format!("{}{}/repos/{repo}/statuses/{sha}", self.origin, self.prefix),
            "id": id,
            "node_id": format!("SC_{id}"),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "creator": user_json(LOGIN),
        });
        self.statuses.entry(key).or_default().push(status);
        Reply::json(StatusCode::CREATED, &reply)
    }

    fn team_membership(&self, org: &str, team: &str, user: &str) -> Reply {
        let key = (org.to_owned(), team.to_owned(), user.to_owned());
        let Some(state) = self.teams.get(&key) else {
            return Reply::not_found();
        };
        Reply::json(
            StatusCode::OK,
            &json!({
                "url": format!(
                    "{}{}/organizations/1/team/1/memberships/{user}",
                    self.origin, self.prefix
                ),
                "role": "member",
                "state": state,
            }),
        )
    }

    /// Merged pull requests whose merge commit or head is `sha`, then the
    /// ones linked to it, each once.
    fn pulls_of_commit(&self, request: &RecordedRequest, repo: &str, sha: &str) -> Reply {
        let Some(state) = self.repos.get(repo) else {
            return Reply::not_found();
        };
        let mut numbers: Vec<u64> = state
            .pulls
            .values()
            .filter(|p| {
                p.merged && (p.merge_commit_sha.as_deref() == Some(sha) || p.head_sha == sha)
            })
            .map(|p| p.number)
            .collect();
        for linked in state.commit_pulls.get(sha).into_iter().flatten() {
            if !numbers.contains(linked) {
                numbers.push(*linked);
            }
        }
        let pulls = numbers
            .into_iter()
            .map(|number| match state.pulls.get(&number) {
                Some(pull) => self.pull_json(repo, pull),
                None => self.pull_json(
                    repo,
                    &PullRequestSeed {
                        number,
                        head_sha: sha.to_owned(),
                        open: false,
                        merged: true,
                        ..PullRequestSeed::default()
                    },
                ),
            })
            .collect();
        self.page(request, pulls)
    }

    /// The latest status of each context on `sha`, in the order the
    /// contexts first appeared, with GitHub's combined state.
    fn combined_status(&self, request: &RecordedRequest, repo: &str, sha: &str) -> Reply {
        if !self.repos.contains_key(repo) {
            return Reply::not_found();
        }
        let all = self
            .statuses
            .get(&(repo.to_owned(), sha.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut latest: Vec<&FakeStatus> = Vec::new();
        for status in all {
            match latest.iter_mut().find(|s| s.context == status.context) {
                Some(slot) => *slot = status,
                None => latest.push(status),
            }
        }
        let has = |state: &str| latest.iter().any(|s| s.state == state);
        let combined = if has("failure") || has("error") {
            "failure"
        } else if latest.is_empty() || has("pending") {
            "pending"
        } else {
            "success"
        };
        let total = latest.len();
        let statuses: Vec<Value> = latest
            .into_iter()
            .map(|s| {
                json!({
                    "state": s.state,
                    "context": s.context,
                    "description": s.description,
                    "target_url": s.target_url,
                    "created_at": TIMESTAMP,
                    "updated_at": TIMESTAMP,
                })
            })
            .collect();
        let (statuses, link) = self.paginate(request, statuses);
        Reply::json(
            StatusCode::OK,
            &json!({
                "state": combined,
                "sha": sha,
                "total_count": total,
                "statuses": statuses,
                "repository": { "full_name": repo },
                "commit_url": format!("{}{}/repos/{repo}/commits/{sha}", self.origin, self.prefix),
                "url": format!("{}{}/repos/{repo}/commits/{sha}/status", self.origin, self.prefix),
            }),
        )
        .with_link(link)
    }

    /// The check runs of `sha`: with `filter=latest` (the default) the
    /// latest per name, with `filter=all` every one.
    fn list_check_runs(&self, request: &RecordedRequest, repo: &str, sha: &str) -> Reply {
        let Some(state) = self.repos.get(repo) else {
            return Reply::not_found();
        };
        let every = query_pairs(request.query.as_deref())
            .iter()
            .any(|(k, v)| k == "filter" && v == "all");
        let all = state
            .check_runs
            .get(sha)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut runs: Vec<&CheckRun> = Vec::new();
        for run in all {
            match runs.iter_mut().find(|r| r.name == run.name) {
                Some(slot) if !every => *slot = run,
                _ => runs.push(run),
            }
        }
        let total = runs.len();
        let runs: Vec<Value> = runs
            .into_iter()
            .map(|run| {
                let completed_at = if run.status == "completed" {
                    Value::from(TIMESTAMP)
                } else {
                    Value::Null
                };
                json!({
                    "id": run.id,
                    "head_sha": sha,
                    "name": run.name,
                    "status": run.status,
                    "conclusion": run.conclusion,
                    "started_at": TIMESTAMP,
                    "completed_at": completed_at,
                    "app": { "slug": "ci", "name": "CI" },
                })
            })
            .collect();
        let (runs, link) = self.paginate(request, runs);
        Reply::json(
            StatusCode::OK,
            &json!({ "total_count": total, "check_runs": runs }),
        )
        .with_link(link)
    }

    fn issue_json(&self, repo: &str, issue: &FakeIssue) -> Value {
        let n = issue.number;
        json!({
            "url": format!("{}{}/repos/{repo}/issues/{n}", self.origin, self.prefix),
            "html_url": format!("https://github.com/{repo}/issues/{n}"),
            "id": n + 900_000,
            "number": n,
            "title": issue.title,
            "body": issue.body,
            "state": issue.state,
            "user": user_json(LOGIN),
            "labels": [],
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        })
    }

    fn list_issues(&self, request: &RecordedRequest, repo: &str) -> Reply {
        if !self.repos.contains_key(repo) {
            return Reply::not_found();
        }
        let query = query_pairs(request.query.as_deref());
        let wanted = query
            .iter()
            .find(|(k, _)| k == "state")
            .map_or("open", |(_, v)| v.as_str())
            .to_owned();
        // Newest first, pull requests included, as GitHub lists them.
        let mut items: Vec<(u64, Value)> = self
            .issues
            .iter()
            .filter(|((r, _), issue)| r == repo && (wanted == "all" || issue.state == wanted))
            .map(|(_, issue)| (issue.number, self.issue_json(repo, issue)))
            .collect();
        if let Some(state) = self.repos.get(repo) {
            for pull in state
                .pulls
                .values()
                .filter(|p| p.open == (wanted != "closed"))
            {
                let mut json = self.pull_json(repo, pull);
                if let Some(object) = json.as_object_mut() {
                    object.insert("pull_request".into(), json!({}));
                    object.insert("body".into(), Value::from(""));
                }
                items.push((pull.number, json));
            }
        }
        items.sort_by_key(|item| std::cmp::Reverse(item.0));
        self.page(request, items.into_iter().map(|(_, v)| v).collect())
    }

    fn create_issue(&mut self, repo: &str, body: &str) -> Reply {
        if !self.repos.contains_key(repo) {
            return Reply::not_found();
        }
        let Ok(payload) = serde_json::from_str::<Value>(body) else {
            return Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
        };
        let Some(title) = payload
            .get("title")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        else {
            return Reply::invalid("Issue", "title", "missing_field", None);
        };
        let text = payload
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if text.chars().count() > super::MAX_COMMENT_CHARS {
            return Reply::invalid("Issue", "body", "custom", Some("body is too long"));
        }
        // Issues and pull requests share numbers.
        let taken = self
            .issues
            .keys()
            .filter(|(r, _)| r == repo)
            .map(|(_, n)| *n)
            .chain(
                self.repos
                    .get(repo)
                    .into_iter()
                    .flat_map(|s| s.pulls.keys().copied()),
            )
            .max()
            .unwrap_or(0);
        let issue = FakeIssue {
            number: taken + 1,
            title: title.to_owned(),
            body: text.to_owned(),
            state: "open".into(),
        };
        let reply = self.issue_json(repo, &issue);
        self.issues.insert((repo.to_owned(), issue.number), issue);
        Reply::json(StatusCode::CREATED, &reply)
    }

    fn update_issue(&mut self, repo: &str, number: &str, body: &str) -> Reply {
        let Ok(number) = number.parse::<u64>() else {
            return Reply::not_found();
        };
        let Ok(payload) = serde_json::from_str::<Value>(body) else {
            return Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
        };
        let Some(issue) = self.issues.get_mut(&(repo.to_owned(), number)) else {
            return Reply::not_found();
        };
        if let Some(title) = payload.get("title").and_then(Value::as_str) {
            issue.title = title.to_owned();
        }
        if let Some(text) = payload.get("body").and_then(Value::as_str) {
            issue.body = text.to_owned();
        }
        if let Some(state) = payload.get("state").and_then(Value::as_str) {
            if state != "open" && state != "closed" {
                return Reply::invalid("Issue", "state", "invalid", None);
            }
            issue.state = state.to_owned();
        }
        let issue = issue.clone();
        Reply::json(StatusCode::OK, &self.issue_json(repo, &issue))
    }

    fn create_deployment(&mut self, repo: &str, body: &str) -> Reply {
        if !self.repos.contains_key(repo) {
            return Reply::not_found();
        }
        let Ok(payload) = serde_json::from_str::<Value>(body) else {
            return Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
        };
        let text = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
        let Some(sha) = text("ref").filter(|r| !r.is_empty()) else {
            return Reply::invalid("Deployment", "ref", "missing_field", None);
        };
        let environment = text("environment").unwrap_or_else(|| "production".to_owned());
        let production = payload
            .get("production_environment")
            .and_then(Value::as_bool)
            .unwrap_or(environment == "production");
        let id = self.next_id();
        let deployment = FakeDeployment {
            id,
            sha,
            environment,
            description: text("description").unwrap_or_default(),
            production,
            payload: payload.get("payload").cloned().unwrap_or_else(|| json!({})),
            statuses: Vec::new(),
        };
        let reply = self.deployment_json(repo, &deployment, &payload);
        self.deployments.push(StoredDeployment {
            repo: repo.to_owned(),
            deployment,
        });
        Reply::json(StatusCode::CREATED, &reply)
    }

    fn deployment_json(&self, repo: &str, deployment: &FakeDeployment, request: &Value) -> Value {
        let id = deployment.id;
        json!({
            "url": format!("{}{}/repos/{repo}/deployments/{id}", self.origin, self.prefix),
            "id": id,
            "node_id": format!("DE_{id}"),
            "sha": deployment.sha,
            "ref": deployment.sha,
            "task": "deploy",
            "payload": deployment.payload,
            "environment": deployment.environment,
            "description": deployment.description,
            "creator": user_json(LOGIN),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "statuses_url": format!(
                "{}{}/repos/{repo}/deployments/{id}/statuses",
                self.origin, self.prefix
            ),
            "transient_environment": request
                .get("transient_environment")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            "production_environment": deployment.production,
        })
    }

    fn create_deployment_status(&mut self, repo: &str, id: &str, body: &str) -> Reply {
        let Some(index) = id.parse::<u64>().ok().and_then(|id| {
            self.deployments
                .iter()
                .position(|d| d.repo == repo && d.deployment.id == id)
        }) else {
            return Reply::not_found();
        };
        let Ok(payload) = serde_json::from_str::<Value>(body) else {
            return Reply::error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
        };
        let text = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
        let state = text("state").unwrap_or_default();
        if !DEPLOYMENT_STATES.contains(&state.as_str()) {
            return Reply::invalid(
                "DeploymentStatus",
                "state",
                "custom",
                Some("state is not included in the list"),
            );
        }
        let description = text("description").unwrap_or_default();
        if description.chars().count() > DESCRIPTION_LIMIT {
            return Reply::invalid(
                "DeploymentStatus",
                "description",
                "custom",
                Some("description is too long (maximum is 140 characters)"),
            );
        }
        let auto_inactive = payload
            .get("auto_inactive")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let status_id = self.next_id();
        let Some(stored) = self.deployments.get_mut(index) else {
            return Reply::not_found();
        };
        stored
            .deployment
            .statuses
            .push((state.clone(), description.clone()));
        let (deployment_id, environment) =
            (stored.deployment.id, stored.deployment.environment.clone());
        if state == "success" && auto_inactive {
            self.mark_inactive(repo, &environment, deployment_id);
        }
        Reply::json(
            StatusCode::CREATED,
            &json!({
                "url": format!(
                    "{}{}/repos/{repo}/deployments/{deployment_id}/statuses/{status_id}",
                    self.origin, self.prefix
                ),
                "id": status_id,
                "node_id": format!("DES_{status_id}"),
                "state": state,
                "creator": user_json(LOGIN),
                "description": description,
                "environment": environment,
                "log_url": text("log_url").unwrap_or_default(),
                "target_url": text("log_url").unwrap_or_default(),
                "environment_url": text("environment_url").unwrap_or_default(),
                "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP,
                "deployment_url": format!(
                    "{}{}/repos/{repo}/deployments/{deployment_id}",
                    self.origin, self.prefix
                ),
            }),
        )
    }

    /// GitHub's `auto_inactive`: earlier deployments of `environment` in
    /// `repo` whose latest status is `success` get an `inactive` status,
    /// unless they are production deployments.
    fn mark_inactive(&mut self, repo: &str, environment: &str, except: u64) {
        for stored in &mut self.deployments {
            let deployment = &mut stored.deployment;
            let succeeded = deployment
                .statuses
                .last()
                .is_some_and(|(state, _)| state == "success");
            if stored.repo == repo
                && deployment.environment == environment
                && deployment.id < except
                && !deployment.production
                && succeeded
            {
                deployment
                    .statuses
                    .push(("inactive".to_owned(), String::new()));
            }
        }
    }

    fn permission(&self, repo: &str, user: &str) -> Reply {
        let Some(role) = self.repos.get(repo).and_then(|r| r.permissions.get(user)) else {
            return Reply::not_found();
        };
        // The legacy `permission` knows only admin, write, read and none.
        let legacy = match role.as_str() {
            "admin" => "admin",
            "maintain" | "write" => "write",
            "triage" | "read" => "read",
            _ => "none",
        };
        let at_least = |roles: &[&str]| roles.contains(&role.as_str());
        let mut user = user_json(user);
        if let Some(fields) = user.as_object_mut() {
            fields.insert(
                "permissions".to_owned(),
                json!({
                    "admin": at_least(&["admin"]),
                    "maintain": at_least(&["admin", "maintain"]),
                    "push": at_least(&["admin", "maintain", "write"]),
                    "triage": at_least(&["admin", "maintain", "write", "triage"]),
                    "pull": at_least(&["admin", "maintain", "write", "triage", "read"]),
                }),
            );
            fields.insert("role_name".to_owned(), Value::from(role.as_str()));
        }
        Reply::json(
            StatusCode::OK,
            &json!({ "permission": legacy, "role_name": role, "user": user }),
        )
    }

    /// One page of `items` as `request` asks (`per_page` ≤ 100, default
    /// 30; `page` from 1), with GitHub's `Link` header.
    fn page(&self, request: &RecordedRequest, items: Vec<Value>) -> Reply {
        let (body, link) = self.paginate(request, items);
        Reply::json(StatusCode::OK, &Value::Array(body)).with_link(link)
    }

    /// The items of the page `request` asks for, and the `Link` header
    /// value when there are other pages.
    fn paginate(
        &self,
        request: &RecordedRequest,
        items: Vec<Value>,
    ) -> (Vec<Value>, Option<String>) {
        let query = query_pairs(request.query.as_deref());
        let number = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let per_page = number("per_page").map_or(30, |n| n.clamp(1, 100));
        let page = number("page").filter(|p| *p >= 1).unwrap_or(1);
        let last = items.len().div_ceil(per_page).max(1);
        let body: Vec<Value> = items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        let link_to = |target: usize, rel: &str| {
            let mut pairs: Vec<String> = query
                .iter()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            pairs.push(format!("page={target}"));
            format!(
                "<{}{}?{}>; rel=\"{rel}\"",
                self.origin,
                request.path,
                pairs.join("&")
            )
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(link_to(page - 1, "prev"));
        }
        if page < last {
            links.push(link_to(page + 1, "next"));
            links.push(link_to(last, "last"));
        }
        if page > 1 {
            links.push(link_to(1, "first"));
        }
        let link = (!links.is_empty()).then(|| links.join(", "));
        (body, link)
    }
}

/// The `body` field of a comment request, within GitHub's limit.
fn comment_body(request_body: &str) -> Result<String, Reply> {
    let Ok(payload) = serde_json::from_str::<Value>(request_body) else {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "Problems parsing JSON",
        ));
    };
    let Some(text) = payload.get("body").and_then(Value::as_str) else {
        return Err(Reply::invalid(
            "IssueComment",
            "body",
            "missing_field",
            None,
        ));
    };
    if text.chars().count() > COMMENT_LIMIT {
        return Err(Reply::invalid(
            "IssueComment",
            "body",
            "custom",
            Some("Body is too long (maximum is 65536 characters)"),
        ));
    }
    Ok(text.to_owned())
}

fn repo_key(owner: &str, name: &str) -> String {
    format!("{owner}/{name}")
}

/// A user as GitHub embeds one (bots end in `[bot]`).
fn user_json(login: &str) -> Value {
    let id = login
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 100_000_000;
    let kind = if login.ends_with("[bot]") || login == LOGIN {
        "Bot"
    } else {
        "User"
    };
    json!({ "login": login, "id": id, "type": kind, "site_admin": false })
}

/// `key=value` pairs of a query string, in order.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// `%XX` sequences decoded; anything malformed kept as it is.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes.get(i), hex) {
            (Some(b'%'), Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (Some(&byte), _) => {
                decoded.push(byte);
                i += 1;
            }
            (None, _) => break,
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_brackets_and_junk() {
        let cases = [
            ("dependabot%5Bbot%5D", "dependabot[bot]"),
            ("plain", "plain"),
            ("100%", "100%"),
            ("%zz", "%zz"),
        ];
        for (input, expected) in cases {
            assert_eq!(percent_decode(input), expected);
        }
    }

    #[test]
    fn query_strings_split_into_pairs() {
        assert_eq!(
            query_pairs(Some("per_page=100&page=2&flag")),
            vec![
                ("per_page".to_owned(), "100".to_owned()),
                ("page".to_owned(), "2".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert!(query_pairs(None).is_empty());
    }
}
