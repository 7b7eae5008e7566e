//! The worker: takes the jobs the listener queued and does them.
//!
//! - A pull request opened, pushed to or reopened is planned: its mirror is
//!   fetched, the tip of its base branch compared with the pull request
//!   merged into that tip (so a stale branch never plans, or deploys, the
//!   undoing of work merged since), each environment it touches locked for
//!   it (or, when another pull request holds it, named as blocked), the plans
//!   saved, one comment upserted (saying first when it changes a workflow,
//!   `strata.toml` or a module) and a commit status set per environment.
//! - `/strata plan|apply|approve|run|unlock|help` comments are acknowledged
//!   with 👀, checked (write permission, approval, mergeability, lock, a plan
//!   at the current head whose base tip has not moved, the gates of the base
//!   branch's workflows) and answered with 🚀 or 😕.
//! - A merge, or a push, starts the promotions its workflows say
//!   ([`promote`]): stages applied in order behind their gates, reported on
//!   the merged pull request, each environment applied once per commit
//!   whichever of the two deliveries comes first.
//! - Applies report on the pull request as they go (the comment is edited at
//!   most every few seconds) and end with a table per stack; every stack is
//!   recorded in the state database as it finishes, so a crash leaves the
//!   last known state for [`Worker::reconcile`] to report; what each
//!   environment then runs (commit, template digests, parameter overrides)
//!   is recorded for the next plan to start from.
//!
//! Jobs of one pull request run one at a time, in the order they came;
//! different pull requests run side by side, and one environment is applied
//! by one job at a time.
//!
//! Each plan and apply runs in a tracing span carrying `repo`, `env`, `pr`
//! and `commit`, is counted in the [`Metrics`] (by outcome, with its
//! duration), and an apply's end — like a stage found waiting on a gate —
//! is announced through the [`Notifier`] to the `[notify]` of the workflow
//! that ran it ([`announce`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

mod announce;
mod drift;
mod promote;
mod replicas;
mod watch;

pub use drift::issue_marker;
pub use replicas::{DEFAULT_LEASE, MAX_RUNNING_JOBS, QUEUE_POLL, Replication};
pub use watch::{MAX_BACKOFF, Polled, WatchTarget, backoff};

use super::command::Command;
use super::comment::{self, ApplyComment, Blocked, Ending, PlanComment, Row, StackRow};
use super::http::{Deliveries, Job, Probe};
use super::metrics::Metrics;
use super::webhook::{CommentAction, CommentEvent, Event, PrAction, PullRequestEvent, PushEvent};
use crate::cloud::{Cloud, RetryPolicy, Retrying};
use crate::config::Diagnostic;
use crate::config::diagnostic::{Report, Style};
use crate::deploy::progress::{Progress, ProgressEvent};
use crate::deploy::{self, Options};
use crate::forge::{CommentId, Forge, ForgeError, PullRequestState, Reaction, Repo, StatusState};
use crate::host::Host;
use crate::notify::Notifier;
use crate::plan::{Plan, json};
use crate::planner::{self, PlanFile, Planned};
use crate::repo::Repository;
use crate::repo::mirror::{MirrorError, Mirrors};
use crate::state::waiting::Waiter;
use crate::state::{
    Holder, LockOutcome, NewRun, RunId, RunKind, RunStatus, StackRecord, State, StateError,
};

/// How the server behaves (`strata serve` flags and `[server]`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `/strata apply` needs an approving review.
    pub require_approval: bool,
    /// `/strata apply` needs a pull request that merges cleanly.
    pub require_mergeable: bool,
    /// Plans include CloudFormation change sets.
    pub cloud_plan: bool,
    /// Applies delete stacks removed from an environment file.
    pub allow_delete: bool,
    /// Stacks of one wave deployed at the same time.
    pub concurrency: usize,
    /// How often CloudFormation is asked how a stack is doing (first, most).
    pub poll: (Duration, Duration),
    /// S3 bucket for templates over 51,200 bytes.
    pub template_bucket: Option<String>,
    /// The least time between two edits of an apply comment.
    pub progress_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            require_approval: true,
            require_mergeable: true,
            cloud_plan: false,
            allow_delete: false,
            concurrency: 4,
            poll: Options::default().poll,
            template_bucket: None,
            progress_interval: Duration::from_secs(5),
        }
    }
}

/// A CloudFormation client per region.
#[async_trait]
pub trait Clouds: Send + Sync {
    /// The client for `region`.
    async fn cloud(&self, region: &str) -> Arc<dyn Cloud>;
}

/// [`Clouds`] on the standard AWS credential chain (`AWS_ENDPOINT_URL`
/// honoured), with retries, one client per region kept for reuse.
#[derive(Default)]
pub struct AwsClouds {
    clients: tokio::sync::Mutex<HashMap<String, Arc<dyn Cloud>>>,
}

#[async_trait]
impl Clouds for AwsClouds {
    async fn cloud(&self, region: &str) -> Arc<dyn Cloud> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(region) {
            return Arc::clone(client);
        }
        let client: Arc<dyn Cloud> = Arc::new(Retrying::new(
            crate::cloud::cloudformation::CloudFormation::connect(region).await,
            RetryPolicy::default(),
        ));
        clients.insert(region.to_owned(), Arc::clone(&client));
        client
    }
}

impl Probe for State {
    fn probe(&self) -> Result<(), String> {
        self.ping()
    }
}

impl crate::server::http::Queue for State {
    fn enqueue(&self, id: &str, event: &str, payload: &str, turn: &str) -> Result<bool, String> {
        self.enqueue_job(id, event, payload, turn, SystemTime::now())
            .map_err(|error| error.to_string())
    }

    fn depth(&self) -> Result<u64, String> {
        self.job_counts()
            .map(|(queued, _)| queued)
            .map_err(|error| error.to_string())
    }
}

impl Deliveries for State {
    fn first_seen(&self, id: &str, event: &str) -> bool {
        match self.record_delivery(id, event, SystemTime::now()) {
            Ok(first) => first,
            Err(error) => {
                // Doing a delivery twice is better than dropping it.
                tracing::warn!(%error, delivery = id, "cannot record the delivery; handling it anyway");
                true
            }
        }
    }
}

/// Async mutexes by key, made on first use.
struct Keyed<K> {
    mutexes: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K: Eq + Hash + Clone> Keyed<K> {
    fn new() -> Self {
        Self {
            mutexes: Mutex::new(HashMap::new()),
        }
    }

    async fn lock(&self, key: &K) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut mutexes = self.mutexes.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(mutexes.entry(key.clone()).or_default())
        };
        mutex.lock_owned().await
    }
}

/// Why a job could not be done, in words for a log and a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ForgeError> for Failure {
    fn from(error: ForgeError) -> Self {
        Self(error.to_string())
    }
}

impl From<StateError> for Failure {
    fn from(error: StateError) -> Self {
        match error.help() {
            Some(help) => Self(format!("{error}\nhelp: {help}")),
            None => Self(error.to_string()),
        }
    }
}

impl From<MirrorError> for Failure {
    fn from(error: MirrorError) -> Self {
        match &error.help {
            Some(help) => Self(format!("{error}\nhelp: {help}")),
            None => Self(error.to_string()),
        }
    }
}

/// Resolves when the shared queue may hold work for this replica: the
/// listener queued a delivery, or [`QUEUE_POLL`] passed (another replica's
/// listener may have). Never, for a single process.
async fn queue_woken(replication: Option<&Replication>) {
    match replication {
        Some(replication) => {
            tokio::select! {
                () = replication.wake.notified() => {}
                () = tokio::time::sleep(QUEUE_POLL) => {}
            }
        }
        None => std::future::pending().await,
    }
}

/// A pull request, as the jobs about it need it.
#[derive(Debug, Clone)]
struct PrRef {
    repo: Repo,
    clone_url: String,
    number: u64,
    head_sha: String,
    base_ref: String,
    /// The repository's default branch.
    default_branch: String,
    html_url: String,
}

/// The two sides of a pull request's plan.
enum MergeTarget {
    /// The tip of the base branch (`none` when the mirror lacks the branch)
    /// and the pull request merged into it.
    Merged { tip: String, merged: String },
    /// The pull request does not merge cleanly into the tip.
    Conflict { tip: String },
}

/// Name the sides of a pull request's plan for people: "`main` at
/// `abc1234`" → "#7 (`def5678`) merged into it".
fn label_merge(plan: &mut Plan, pr: &PrRef, tip: &str) {
    if tip != "none" {
        plan.base.label = format!("{} at {}", pr.base_ref, comment::short(tip));
    }
    plan.head.label = format!(
        "#{} ({}) merged into {}",
        pr.number,
        comment::short(&pr.head_sha),
        pr.base_ref
    );
}

/// The governing files among `paths`, as lines for the plan comment.
fn governance_lines(paths: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    for path in paths {
        let line = if path.starts_with("workflows/") && path.ends_with(".toml") {
            format!(
                "changes workflow `{path}`: its stages and gates govern deploys only once merged; this pull request is still governed by the base branch's workflows"
            )
        } else if path == "strata.toml" {
            format!(
                "changes `{path}`: the modules it pins, sandbox limits or server settings (review the diff)"
            )
        } else if path.ends_with(".wasm") {
            format!("changes module binary `{path}`: review its source and its `sha256` pin")
        } else {
            continue;
        };
        lines.push(line);
    }
    lines
}

/// One environment to apply, and why.
struct ApplyRequest {
    repo: Repo,
    clone_url: String,
    pr: Option<u64>,
    environment: String,
    /// The commit to deploy (for a pull request: its merge into the base
    /// branch's tip, a commit GitHub does not know).
    head_sha: String,
    /// The commit GitHub shows the apply's status on.
    status_sha: String,
    /// The base revision, for which stacks were removed (`none`: nothing).
    base: String,
    /// The reviewed plan: deployed only if it still matches.
    reviewed: Option<PlanFile>,
    /// A reviewed plan that no longer matches is set aside (a merge applies
    /// the merged commit, with a note) instead of refusing the apply.
    reviewed_is_hint: bool,
    /// `base` is what the environment runs (recorded by an earlier apply):
    /// stacks it leaves unchanged are not touched.
    trusted_base: bool,
    /// Which stacks (a stage's `only` / `except`).
    stacks: crate::workflow::StackFilter,
    /// A code-only deploy: parameter overrides, templates kept.
    overrides: Option<Vec<crate::workflow::Override>>,
    /// Words for the comment: "`/strata apply` by @alice".
    trigger: String,
    /// Re-apply even when this commit was applied already (healing drift).
    heal: bool,
    /// The `[notify]` of the workflow that runs it, if any.
    notify: Option<crate::workflow::Notify>,
}

/// How many times a job waits out a long rate limit before it fails.
pub const MAX_DEFERRALS: u32 = 3;

/// The worker.
pub struct Worker {
    forge: Arc<dyn Forge>,
    state: State,
    clouds: Arc<dyn Clouds>,
    host: Arc<Host>,
    mirrors: Mirrors,
    settings: Settings,
    shutdown: CancellationToken,
    repos: Keyed<String>,
    pull_requests: Keyed<(String, u64)>,
    environments: Keyed<(String, String)>,
    /// One job advances a promotion at a time.
    promotion_turns: Keyed<promote::PromotionKey>,
    /// When to advance a waiting promotion again (a soak time, a window).
    wakes: Mutex<std::collections::BTreeMap<promote::PromotionKey, SystemTime>>,
    /// Repositories a watcher follows, by full name.
    watching: Mutex<BTreeMap<String, watch::Watched>>,
    /// Runs and jobs counted for `/metrics`.
    metrics: Arc<Metrics>,
    /// Where applies and waiting gates are announced (none: nowhere).
    notifier: Option<Notifier>,
    /// Environments whose locks were released by the running jobs: the
    /// pull requests waiting for them are planned again once the job that
    /// released them has let go of its own pull request.
    freed: Mutex<Vec<(Repo, Vec<String>)>>,
    /// Its part in a group of replicas sharing the state database (none: a
    /// single process, jobs handed over in memory).
    replication: Option<Replication>,
    /// Jobs from the shared queue running now.
    queued_running: std::sync::atomic::AtomicUsize,
}

impl Worker {
    /// A worker; `shutdown` stops applies from starting further stacks.
    pub fn new(
        forge: Arc<dyn Forge>,
        state: State,
        clouds: Arc<dyn Clouds>,
        host: Arc<Host>,
        clones: PathBuf,
        settings: Settings,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            forge,
            state,
            clouds,
            host,
            mirrors: Mirrors::new(clones),
            settings,
            shutdown,
            repos: Keyed::new(),
            pull_requests: Keyed::new(),
            environments: Keyed::new(),
            promotion_turns: Keyed::new(),
            wakes: Mutex::new(std::collections::BTreeMap::new()),
            watching: Mutex::new(BTreeMap::new()),
            metrics: Arc::new(Metrics::new()),
            notifier: None,
            freed: Mutex::new(Vec::new()),
            replication: None,
            queued_running: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Count runs and jobs into `metrics` (shared with the listener's
    /// `/metrics`) instead of a private set.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Announce applies and waiting gates through `notifier`, to the
    /// `[notify]` of the workflow that runs them.
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// What this worker counts.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where it announces, if anywhere: the drift checks call
    /// [`Notifier::notify_drift`] on it with their workflow's `[notify]`.
    pub fn notifier(&self) -> Option<&Notifier> {
        self.notifier.as_ref()
    }

    /// Take jobs until `shutdown` is cancelled or the queue closes, then wait
    /// for the jobs already started (an apply finishes the CloudFormation
    /// operations it started and records where it stopped). Jobs still queued
    /// are named in the log: redeliver them from the webhook's settings.
    pub async fn run(self: Arc<Self>, mut jobs: mpsc::Receiver<Job>) {
        let running = TaskTracker::new();
        // Promotions held by a soak time or a deploy window move on when
        // their time comes.
        let ticker = {
            let worker = Arc::clone(&self);
            running.spawn(async move {
                loop {
                    tokio::select! {
                        () = worker.shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => worker.tick().await,
                    }
                }
            })
        };
        let beating = self
            .replication
            .is_some()
            .then(|| running.spawn(Arc::clone(&self).beat()));
        loop {
            let job = tokio::select! {
                () = self.shutdown.cancelled() => break,
                job = jobs.recv() => job,
                () = queue_woken(self.replication.as_ref()) => {
                    self.claim_jobs(&running);
                    continue;
                }
            };
            let Some(job) = job else { break };
            let worker = Arc::clone(&self);
            running.spawn(async move { worker.handle(job).await });
        }
        jobs.close();
        while let Ok(job) = jobs.try_recv() {
            tracing::warn!(
                delivery = %job.delivery,
                event = job.event.name(),
                "shutting down before this delivery was handled; redeliver it from the webhook's settings"
            );
        }
        ticker.abort();
        running.close();
        running.wait().await;
        if let Some(beating) = beating {
            let _ = beating.await;
        }
        self.leave();
    }

    /// Do one job, logging how it went. A job that failed because GitHub
    /// asked for a pause longer than a call waits (a rate limit resetting in
    /// half an hour) runs again when the pause ends, up to
    /// [`MAX_DEFERRALS`] times: the change is not at fault.
    pub async fn handle(&self, job: Job) {
        let _running = self.metrics.job_started();
        let started = Instant::now();
        let queued = started.duration_since(job.received_at);
        let name = job.event.name().to_owned();
        let mut deferrals = 0;
        let result = loop {
            let result = match job.event.clone() {
                Event::PullRequest(event) => self.pull_request(event).await,
                Event::IssueComment(event) => self.comment(event).await,
                Event::Push(event) => self.push(event).await,
                _ => Ok(()),
            };
            let Some(until) = self.forge.rate_limited_until().filter(|_| result.is_err()) else {
                break result;
            };
            if deferrals == MAX_DEFERRALS {
                break result;
            }
            deferrals += 1;
            let wait = until
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .saturating_add(Duration::from_secs(1));
            tracing::warn!(
                delivery = %job.delivery,
                event = %name,
                wait_secs = wait.as_secs(),
                "GitHub's rate limit asks for a pause: the delivery runs again after it"
            );
            tokio::select! {
                () = self.shutdown.cancelled() => break result,
                () = tokio::time::sleep(wait) => {}
            }
        };
        // Its own pull request is let go of: plan those waiting for the
        // locks it released.
        self.plan_freed().await;
        match result {
            Ok(()) => tracing::info!(
                delivery = %job.delivery,
                event = %name,
                queued_ms = queued.as_millis() as u64,
                took_ms = started.elapsed().as_millis() as u64,
                "handled"
            ),
            Err(failure) => tracing::error!(
                delivery = %job.delivery,
                event = %name,
                error = %failure,
                "failed"
            ),
        }
    }

    async fn pull_request(&self, event: PullRequestEvent) -> Result<(), Failure> {
        let repo = repo_of(&event.repo.owner, &event.repo.name)?;
        let pr = PrRef {
            repo,
            clone_url: event.repo.clone_url.clone(),
            number: event.number,
            head_sha: event.head_sha.clone(),
            base_ref: event.base_ref.clone(),
            default_branch: event.repo.default_branch.clone(),
            html_url: event.html_url.clone(),
        };
        match event.action {
            PrAction::Opened | PrAction::Synchronize | PrAction::Reopened => {
                let _turn = self.pr_turn(&pr).await;
                let result = self.plan(&pr, &event.sender, None, false).await;
                if let Err(failure) = &result {
                    match self.forge.rate_limited_until() {
                        // Not the change's fault: say it waits.
                        Some(until) => self.report_rate_limited(&pr, until).await,
                        None => self.report_plan_failure(&pr, failure).await,
                    }
                }
                result.map(drop)
            }
            PrAction::Closed if event.merged => {
                let _turn = self.pr_turn(&pr).await;
                let result = self.merged(&pr, &event.repo.default_branch).await;
                if let Err(failure) = &result {
                    let body = format!(
                        "Strata could not start the promotion of the merge of #{}: {failure}\n\nThe push to `{}` starts it when that arrives; otherwise run `strata apply` by hand.",
                        pr.number, pr.base_ref
                    );
                    if let Err(error) = self.forge.create_comment(&pr.repo, pr.number, &body).await
                    {
                        tracing::warn!(%error, "cannot report the failed merge apply");
                    }
                }
                result
            }
            PrAction::Closed => {
                let _turn = self.pr_turn(&pr).await;
                let released = self.release(&pr.repo, pr.number)?;
                if !released.is_empty() {
                    tracing::info!(pr = pr.number, environments = ?released, "closed without merging: locks released");
                    self.resume(Some(&pr.repo.full_name())).await;
                }
                Ok(())
            }
            PrAction::Other(_) => Ok(()),
        }
    }

    /// Say on the pull request why it could not be planned (a fetch that
    /// failed, a state database that is unusable): nothing fails silently.
    async fn report_plan_failure(&self, pr: &PrRef, failure: &Failure) {
        let problems = [format!("error: {failure}")];
        let body = comment::plan_comment(&PlanComment {
            head_sha: &pr.head_sha,
            plan: None,
            blocked: &[],
            problems: &problems,
            warnings: &[],
            governance: &[],
            stages: &[],
            cloud: self.settings.cloud_plan,
        });
        if let Err(error) = self
            .forge
            .upsert_comment(&pr.repo, pr.number, comment::PLAN_MARKER, &body)
            .await
        {
            tracing::warn!(%error, "cannot report the failed plan");
        }
        self.status(
            &pr.repo,
            &pr.head_sha,
            "strata/plan",
            StatusState::Error,
            &format!("could not plan: {failure}"),
            Some(&pr.html_url),
        )
        .await;
    }

    /// Say on the pull request that its plan waits for GitHub's rate limit
    /// (best effort: the limit may refuse this too).
    async fn report_rate_limited(&self, pr: &PrRef, until: SystemTime) {
        let at = jiff::Timestamp::try_from(until)
            .map(|t| t.strftime("%H:%M:%S UTC").to_string())
            .unwrap_or_default();
        self.status(
            &pr.repo,
            &pr.head_sha,
            "strata/plan",
            StatusState::Pending,
            &format!("waiting for GitHub's rate limit; planning again at {at}"),
            Some(&pr.html_url),
        )
        .await;
    }

    async fn pr_turn(&self, pr: &PrRef) -> tokio::sync::OwnedMutexGuard<()> {
        self.pull_requests
            .lock(&(pr.repo.full_name(), pr.number))
            .await
    }

    /// Release the locks and forget the plans of a pull request that is done.
    fn release(&self, repo: &Repo, pr: u64) -> Result<Vec<String>, Failure> {
        let name = repo.full_name();
        let released = self.state.unlock_pr(&name, pr)?;
        self.state.delete_plans(&name, pr)?;
        self.state.stop_waiting(&name, pr)?;
        self.freed_locks(repo, &released);
        Ok(released)
    }

    /// Note that the locks of `environments` of `repo` were released.
    fn freed_locks(&self, repo: &Repo, environments: &[String]) {
        if !environments.is_empty() {
            lock(&self.freed).push((repo.clone(), environments.to_vec()));
        }
    }

    /// Plan again the pull requests waiting for the locks released so far.
    async fn plan_freed(&self) {
        loop {
            let Some((repo, environments)) = lock(&self.freed).pop() else {
                return;
            };
            self.plan_waiting(&repo, &environments).await;
        }
    }

    /// Fetch `repo`'s mirror (one fetch per repository at a time).
    async fn sync(&self, repo: &Repo, url: &str) -> Result<PathBuf, Failure> {
        let _turn = self.repos.lock(&repo.full_name()).await;
        let token = self.forge.clone_token().await?;
        let mirrors = self.mirrors.clone();
        let repo = repo.clone();
        let url = url.to_owned();
        blocking(move || {
            mirrors
                .fetch((&repo.owner, &repo.name), &url, token.as_deref())
                .map_err(Failure::from)
        })
        .await
    }

    /// Plan in the mirror (blocking work off the async threads).
    async fn plan_in(
        &self,
        repo: &Repo,
        mirror: PathBuf,
        envs: Vec<String>,
        base: String,
        head: String,
    ) -> Result<Result<Planned, Vec<String>>, Failure> {
        // The mirror is read while a fetch could write it.
        let _turn = self.repos.lock(&repo.full_name()).await;
        let host = Arc::clone(&self.host);
        blocking(move || {
            let request = planner::Request {
                envs: &envs,
                base: Some(&base),
                head: Some(&head),
            };
            Ok(planner::plan(&host, &mirror, &request).map_err(|d| problems(&d)))
        })
        .await
    }

    /// What a pull request's plan compares: the tip of its base branch, and
    /// the pull request merged into that tip (never merge-base → head, which
    /// would deploy a stale branch whole and undo work merged since).
    async fn merge_target(&self, mirror: PathBuf, pr: &PrRef) -> Result<MergeTarget, Failure> {
        let _turn = self.repos.lock(&pr.repo.full_name()).await;
        let head = pr.head_sha.clone();
        let branch = format!("refs/heads/{}", pr.base_ref);
        blocking(move || {
            let repository = Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
            let tip = match repository.resolve(&branch) {
                Ok(tip) => tip.id,
                // A base branch the mirror does not have: plan from nothing.
                Err(_) => {
                    return Ok(MergeTarget::Merged {
                        tip: "none".to_owned(),
                        merged: head,
                    });
                }
            };
            match repository.merge(&tip, &head) {
                Ok(Some(merged)) => Ok(MergeTarget::Merged {
                    tip,
                    merged: merged.id,
                }),
                Ok(None) => Ok(MergeTarget::Conflict { tip }),
                Err(e) => Err(Failure(e.to_string())),
            }
        })
        .await
    }

    /// What a pull request changes in what governs deploys (workflow files,
    /// `strata.toml`, module binaries), one line each: these take effect only
    /// once merged, and reviewers should see them first.
    async fn governance(&self, mirror: PathBuf, tip: String, merged: String) -> Vec<String> {
        if tip == "none" {
            return Vec::new();
        }
        let result = blocking(move || {
            let repository = Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
            let base = repository
                .resolve(&tip)
                .map_err(|e| Failure(e.to_string()))?;
            let head = repository
                .resolve(&merged)
                .map_err(|e| Failure(e.to_string()))?;
            let paths = repository
                .changed_paths(Some(&base), &crate::repo::Side::Commit(head))
                .map_err(|e| Failure(e.to_string()))?;
            Ok(governance_lines(&paths))
        })
        .await;
        result.unwrap_or_else(|failure| {
            vec![format!(
                "could not tell whether this changes workflows or modules: {failure}"
            )]
        })
    }

    /// Plan pull request `pr` (all the environments it touches, or `only`),
    /// lock, save, comment and set statuses. `always_comment`: post even
    /// when nothing is planned (an explicit `/strata plan`). Returns whether
    /// the plan is free of errors.
    async fn plan(
        &self,
        pr: &PrRef,
        user: &str,
        only: Option<String>,
        always_comment: bool,
    ) -> Result<bool, Failure> {
        let span = tracing::info_span!(
            "plan",
            repo = %pr.repo.full_name(),
            env = only.as_deref().unwrap_or("*"),
            pr = pr.number,
            commit = %pr.head_sha,
        );
        self.plan_traced(pr, user, only, always_comment)
            .instrument(span)
            .await
    }

    async fn plan_traced(
        &self,
        pr: &PrRef,
        user: &str,
        only: Option<String>,
        always_comment: bool,
    ) -> Result<bool, Failure> {
        let started = Instant::now();
        let full_name = pr.repo.full_name();
        let mirror = self.sync(&pr.repo, &pr.clone_url).await?;
        let target = self.merge_target(mirror.clone(), pr).await?;
        let envs: Vec<String> = only.iter().cloned().collect();
        let planned = match &target {
            MergeTarget::Merged { tip, merged } => {
                let planned = self
                    .plan_in(&pr.repo, mirror.clone(), envs, tip.clone(), merged.clone())
                    .await?;
                planned.map(|mut planned| {
                    label_merge(&mut planned.plan, pr, tip);
                    planned
                })
            }
            MergeTarget::Conflict { tip } => Err(vec![format!(
                "error: #{} does not merge cleanly into `{}` (at `{}`)\nhelp: Strata plans the pull request merged into the tip of its base branch; merge or rebase `{}` into the branch and push",
                pr.number,
                pr.base_ref,
                comment::short(tip),
                pr.base_ref
            )]),
        };
        let governance = match &target {
            MergeTarget::Merged { tip, merged } => {
                self.governance(mirror.clone(), tip.clone(), merged.clone())
                    .await
            }
            MergeTarget::Conflict { .. } => Vec::new(),
        };
        let had_plans = !self.state.plans(&full_name, pr.number)?.is_empty();
        let stages = match (&target, &planned) {
            (MergeTarget::Merged { tip, merged }, Ok(planned)) if tip != "none" => {
                let touched = planned
                    .plan
                    .environments
                    .iter()
                    .filter(|e| !e.is_empty())
                    .map(|e| e.name.clone())
                    .collect();
                self.preview_stages(pr, tip, merged, touched).await
            }
            _ => Vec::new(),
        };

        let (mut planned, problems) = match planned {
            Ok(planned) => (Some(planned), Vec::new()),
            Err(problems) => (None, problems),
        };
        let mut blocked = Vec::new();
        let mut warnings = Vec::new();
        if let Some(planned) = &mut planned {
            blocked = self.take_locks(pr, user, &mut planned.plan)?;
            self.remember_waiting(pr, user, &blocked)?;
            // What the planner warned of (a base whose file is invalid, a
            // module's warning): one line each, with its help.
            warnings.extend(planned.warnings.iter().take(20).map(|d| match &d.help {
                Some(help) => format!("{} (help: {help})", d.message),
                None => d.message.clone(),
            }));
            if self.settings.cloud_plan {
                warnings.extend(self.cloud_preview(planned).await);
            }
            warnings.extend(self.override_notes(&full_name, planned)?);
            self.save_plans(pr, &planned.plan, only.is_none())?;
        }

        let plan = planned.as_ref().map(|p| &p.plan);
        let touched = plan.is_some_and(|p| !p.environments.is_empty());
        if touched
            || !blocked.is_empty()
            || !problems.is_empty()
            || !governance.is_empty()
            || had_plans
            || always_comment
        {
            let body = comment::plan_comment(&PlanComment {
                head_sha: &pr.head_sha,
                plan,
                blocked: &blocked,
                problems: &problems,
                warnings: &warnings,
                governance: &governance,
                stages: &stages,
                cloud: self.settings.cloud_plan,
            });
            self.forge
                .upsert_comment(&pr.repo, pr.number, comment::PLAN_MARKER, &body)
                .await?;
        }
        let clean = self.plan_statuses(pr, plan, &blocked, &problems).await;
        if let Some(plan) = plan {
            self.record_plans(pr, plan, started.elapsed())?;
        }
        Ok(clean)
    }

    /// Parameters a code-only deploy set that the file says otherwise, per
    /// planned environment: "`ApiImageTag` of `compute` is `abc` (deployed by
    /// run 12); the file says `def`, and applying this plan deploys `def`".
    fn override_notes(&self, repo: &str, planned: &Planned) -> Result<Vec<String>, Failure> {
        let mut notes = Vec::new();
        for environment in &planned.plan.environments {
            let Some(deployed) = self.state.deployed(repo, &environment.name)? else {
                continue;
            };
            let Some(rendered) = planned.heads.get(&environment.name) else {
                continue;
            };
            for o in &deployed.overrides {
                let file = rendered
                    .stacks
                    .values()
                    .find(|s| s.name.as_str() == o.stack)
                    .and_then(|s| {
                        s.template()["Parameters"][&o.parameter]["Default"]
                            .as_str()
                            .map(str::to_owned)
                    });
                let Some(file) = file.filter(|f| *f != o.value) else {
                    continue;
                };
                let changes = environment
                    .stacks
                    .iter()
                    .any(|s| s.name == o.stack && s.action != crate::plan::Action::None);
                notes.push(format!(
                    "`{}`: `{}` of `{}` is `{}`, deployed by run {}; the file says `{file}`{}.",
                    environment.name,
                    o.parameter,
                    o.stack,
                    o.value,
                    o.run,
                    if changes {
                        format!(", and applying this plan deploys `{file}`")
                    } else {
                        format!(" (this plan leaves `{}` as it is)", o.stack)
                    }
                ));
            }
        }
        Ok(notes)
    }

    /// Lock every environment of `plan` for `pr`; those another pull request
    /// holds are taken out of the plan and returned.
    fn take_locks(&self, pr: &PrRef, user: &str, plan: &mut Plan) -> Result<Vec<Blocked>, Failure> {
        let full_name = pr.repo.full_name();
        let mut blocked = Vec::new();
        let mut kept = Vec::new();
        for environment in std::mem::take(&mut plan.environments) {
            let holder = Holder {
                pr: pr.number,
                url: pr.html_url.clone(),
                head_sha: pr.head_sha.clone(),
                user: user.to_owned(),
            };
            match self
                .state
                .lock(&full_name, &environment.name, holder, SystemTime::now())?
            {
                LockOutcome::Acquired | LockOutcome::AlreadyHeld => kept.push(environment),
                LockOutcome::HeldBy(lock) => blocked.push(Blocked {
                    environment: environment.name.clone(),
                    lock,
                }),
            }
        }
        plan.environments = kept;
        Ok(blocked)
    }

    /// Remember which locked environments `pr` waits for (and forget what
    /// it waited for before), so that it is planned again when they free.
    fn remember_waiting(&self, pr: &PrRef, user: &str, blocked: &[Blocked]) -> Result<(), Failure> {
        let full_name = pr.repo.full_name();
        self.state.stop_waiting(&full_name, pr.number)?;
        for blocked in blocked {
            self.state.wait_for_lock(
                &full_name,
                &Waiter {
                    environment: blocked.environment.clone(),
                    pr: pr.number,
                    head_sha: pr.head_sha.clone(),
                    clone_url: pr.clone_url.clone(),
                    html_url: pr.html_url.clone(),
                    base_ref: pr.base_ref.clone(),
                    default_branch: pr.default_branch.clone(),
                    user: user.to_owned(),
                    since: SystemTime::now(),
                },
            )?;
        }
        Ok(())
    }

    /// Plan again every pull request that waited for one of `released`
    /// (environments of `repo` whose locks were just released), oldest
    /// first: the first takes the lock, the others wait again.
    async fn plan_waiting(&self, repo: &Repo, released: &[String]) {
        if released.is_empty() {
            return;
        }
        let full_name = repo.full_name();
        let waiters = match self.state.waiting_for(&full_name, released) {
            Ok(waiters) => waiters,
            Err(error) => {
                tracing::warn!(%error, "cannot list the pull requests waiting for a lock");
                return;
            }
        };
        let mut seen = BTreeSet::new();
        for waiter in waiters {
            if !seen.insert(waiter.pr) {
                continue;
            }
            let pr = PrRef {
                repo: repo.clone(),
                clone_url: waiter.clone_url,
                number: waiter.pr,
                head_sha: waiter.head_sha,
                base_ref: waiter.base_ref,
                default_branch: waiter.default_branch,
                html_url: waiter.html_url,
            };
            tracing::info!(pr = pr.number, environment = %waiter.environment, "the lock it waited for is free: planning it again");
            let _turn = self.pr_turn(&pr).await;
            if let Err(failure) = self.plan(&pr, &waiter.user, None, true).await {
                self.report_plan_failure(&pr, &failure).await;
            }
        }
    }

    /// Save each environment's plan for a later `/strata apply`. `all`: this
    /// was a plan of everything the pull request touches, so environments it
    /// no longer touches lose their plan and their lock.
    fn save_plans(&self, pr: &PrRef, plan: &Plan, all: bool) -> Result<(), Failure> {
        let full_name = pr.repo.full_name();
        if all {
            let planned: BTreeSet<&str> =
                plan.environments.iter().map(|e| e.name.as_str()).collect();
            for lock in self.state.locks(&full_name)? {
                if lock.holder.pr == pr.number && !planned.contains(lock.environment.as_str()) {
                    self.state
                        .unlock(&full_name, &lock.environment, Some(pr.number))?;
                }
            }
            self.state.delete_plans(&full_name, pr.number)?;
        }
        for environment in &plan.environments {
            let one = Plan {
                base: plan.base.clone(),
                head: plan.head.clone(),
                environments: vec![environment.clone()],
            };
            self.state.save_plan(
                &full_name,
                pr.number,
                &environment.name,
                &pr.head_sha,
                &json::to_string(&one),
                SystemTime::now(),
            )?;
        }
        Ok(())
    }

    /// A commit status per environment (and one for a change that could not
    /// be planned at all); whether everything planned cleanly.
    async fn plan_statuses(
        &self,
        pr: &PrRef,
        plan: Option<&Plan>,
        blocked: &[Blocked],
        problems: &[String],
    ) -> bool {
        let mut clean = problems.is_empty();
        if !problems.is_empty() {
            self.status(
                &pr.repo,
                &pr.head_sha,
                "strata/plan",
                StatusState::Failure,
                "the change could not be planned; see the comment",
                Some(&pr.html_url),
            )
            .await;
        }
        for environment in plan.map(|p| p.environments.as_slice()).unwrap_or_default() {
            let errors = environment.error_count();
            let (state, description) = if errors == 0 {
                (StatusState::Success, counts(environment))
            } else {
                clean = false;
                let plural = if errors == 1 { "" } else { "s" };
                (
                    StatusState::Failure,
                    format!("{errors} error{plural} in the plan"),
                )
            };
            self.status(
                &pr.repo,
                &pr.head_sha,
                &format!("strata/plan: {}", environment.name),
                state,
                &description,
                Some(&pr.html_url),
            )
            .await;
        }
        for blocked in blocked {
            clean = false;
            self.status(
                &pr.repo,
                &pr.head_sha,
                &format!("strata/plan: {}", blocked.environment),
                StatusState::Failure,
                &format!("locked by #{}; not planned", blocked.lock.holder.pr),
                Some(&blocked.lock.holder.url),
            )
            .await;
        }
        clean
    }

    /// Plans go into the run history too.
    fn record_plans(&self, pr: &PrRef, plan: &Plan, took: Duration) -> Result<(), Failure> {
        let now = SystemTime::now();
        for environment in &plan.environments {
            let run = self.state.start_run(
                NewRun {
                    repo: pr.repo.full_name(),
                    pr: Some(pr.number),
                    environment: environment.name.clone(),
                    head_sha: pr.head_sha.clone(),
                    kind: RunKind::Plan,
                    comment_id: None,
                },
                now,
            )?;
            let status = if !environment.is_blocked() {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            self.state
                .finish_run(run, status, Some(counts(environment)), now)?;
            self.metrics.run_finished("plan", status.as_str(), took);
        }
        Ok(())
    }

    /// Merge CloudFormation's change sets into every planned environment;
    /// what failed, in words (the git plan stands for those).
    async fn cloud_preview(&self, planned: &mut Planned) -> Vec<String> {
        let mut problems = Vec::new();
        let prefix = format!(
            "strata-{}",
            planned.head_short.as_deref().unwrap_or("uncommitted")
        );
        for environment in &mut planned.plan.environments {
            let Some(rendered) = planned.heads.get(&environment.name) else {
                continue;
            };
            let cloud = self.clouds.cloud(&rendered.environment.region).await;
            let checked = deploy::check_account(
                cloud.as_ref(),
                &environment.name,
                rendered.environment.account.as_deref(),
            )
            .await;
            let result = match checked {
                Ok(_) => deploy::preview::preview(
                    cloud.as_ref(),
                    environment,
                    rendered,
                    &prefix,
                    planned.plan.head.commit.as_deref(),
                    self.settings.poll,
                )
                .await
                .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(message) = result {
                problems.push(format!(
                    "`{}` has no CloudFormation change sets, so the git plan stands: {message}",
                    environment.name
                ));
            }
        }
        problems
    }

    /// Set a commit status; a failure is logged, not fatal (the comment
    /// says everything the status does).
    async fn status(
        &self,
        repo: &Repo,
        sha: &str,
        context: &str,
        state: StatusState,
        description: &str,
        target: Option<&str>,
    ) {
        if let Err(error) = self
            .forge
            .set_status(repo, sha, context, state, description, target)
            .await
        {
            tracing::warn!(%error, context, "cannot set the commit status");
        }
    }

    async fn comment(&self, event: CommentEvent) -> Result<(), Failure> {
        if !event.is_pull_request || event.action != CommentAction::Created {
            return Ok(());
        }
        let command = match Command::parse(&event.body) {
            Ok(None) => return Ok(()),
            Ok(Some(command)) => command,
            Err(error) => {
                let repo = repo_of(&event.repo.owner, &event.repo.name)?;
                self.react(&repo, event.comment_id, Reaction::Confused)
                    .await;
                self.forge
                    .create_comment(
                        &repo,
                        event.pr_number,
                        &format!("@{}: {}", event.user, error.reply()),
                    )
                    .await?;
                return Ok(());
            }
        };
        let repo = repo_of(&event.repo.owner, &event.repo.name)?;
        self.react(&repo, event.comment_id, Reaction::Eyes).await;
        let outcome = self.command(&repo, &event, command).await;
        let (reaction, reply) = match outcome {
            Ok(Answer::Done(reply)) => (Reaction::Rocket, reply),
            Ok(Answer::Refused(reply)) => (Reaction::Confused, Some(reply)),
            Err(failure) => (
                Reaction::Confused,
                Some(format!("Strata could not do that: {failure}")),
            ),
        };
        self.react(&repo, event.comment_id, reaction).await;
        if let Some(reply) = reply {
            self.forge
                .create_comment(&repo, event.pr_number, &format!("@{}: {reply}", event.user))
                .await?;
        }
        Ok(())
    }

    async fn react(&self, repo: &Repo, comment: u64, reaction: Reaction) {
        if let Err(error) = self.forge.react(repo, CommentId(comment), reaction).await {
            tracing::warn!(%error, "cannot react to the command");
        }
    }

    async fn command(
        &self,
        repo: &Repo,
        event: &CommentEvent,
        command: Command,
    ) -> Result<Answer, Failure> {
        if let Command::Help = command {
            return Ok(Answer::Done(Some(Command::help_text())));
        }
        let pull_request = self.forge.pull_request(repo, event.pr_number).await?;
        let pr = PrRef {
            repo: repo.clone(),
            clone_url: event.repo.clone_url.clone(),
            number: pull_request.number,
            head_sha: pull_request.head_sha.clone(),
            base_ref: pull_request.base_ref.clone(),
            default_branch: event.repo.default_branch.clone(),
            html_url: pull_request.html_url.clone(),
        };
        if let Command::Run { workflow, inputs } = command {
            if let Some(refused) = self.needs_writer(repo, &event.user, "run").await? {
                return Ok(refused);
            }
            return self
                .dispatch(
                    &pr,
                    &event.repo.default_branch,
                    &workflow,
                    inputs.into_iter().collect(),
                    &event.user,
                )
                .await;
        }
        if pull_request.state != PullRequestState::Open {
            return match command {
                Command::Apply(only) if pull_request.merged => {
                    if let Some(refused) = self.needs_writer(repo, &event.user, "apply").await? {
                        return Ok(refused);
                    }
                    self.release_stages(&pr, &event.user, only).await
                }
                Command::Approve(only) if pull_request.merged => {
                    self.approve_stages(&pr, &pull_request.author, &event.user, only)
                        .await
                }
                _ => Ok(Answer::Refused(format!(
                    "#{} is closed; Strata plans and applies open pull requests only (after a merge, `/strata apply ENV` and `/strata approve ENV` move its promotion on).",
                    pr.number
                ))),
            };
        }
        let _turn = self.pr_turn(&pr).await;
        match command {
            Command::Help | Command::Run { .. } => Ok(Answer::Done(Some(Command::help_text()))),
            Command::Approve(_) => Ok(Answer::Refused(format!(
                "#{} is open: approve it with a review. `/strata approve` approves the stages of a merged pull request's promotion.",
                pr.number
            ))),
            Command::Plan(only) => {
                if let Some(env) = &only
                    && let Some(refused) = self.unknown_environment(&pr, env).await?
                {
                    return Ok(refused);
                }
                let clean = self.plan(&pr, &event.user, only, true).await?;
                Ok(if clean {
                    Answer::Done(None)
                } else {
                    Answer::Refused("the plan has problems; see the plan comment.".to_owned())
                })
            }
            Command::Unlock(only) => {
                if let Some(refused) = self.needs_writer(repo, &event.user, "unlock").await? {
                    return Ok(refused);
                }
                self.unlock(&pr, only).await
            }
            Command::Apply(only) => {
                if let Some(refused) = self.needs_writer(repo, &event.user, "apply").await? {
                    return Ok(refused);
                }
                if self.settings.require_approval
                    && !self.forge.is_approved(repo, pr.number).await?
                {
                    return Ok(Answer::Refused(format!(
                        "#{} needs an approving review before it is applied (and no review asking for changes).",
                        pr.number
                    )));
                }
                if self.settings.require_mergeable {
                    match pull_request.mergeable {
                        Some(true) => {}
                        Some(false) => {
                            return Ok(Answer::Refused(format!(
                                "#{} does not merge cleanly into `{}`; resolve the conflicts first.",
                                pr.number, pr.base_ref
                            )));
                        }
                        None => {
                            return Ok(Answer::Refused(
                                "GitHub is still working out whether this pull request merges cleanly; try again in a moment."
                                    .to_owned(),
                            ));
                        }
                    }
                }
                self.apply_command(&pr, &pull_request, &event.user, only)
                    .await
            }
        }
    }

    /// `Some(refusal)` when `env` is not an environment of the pull request.
    async fn unknown_environment(&self, pr: &PrRef, env: &str) -> Result<Option<Answer>, Failure> {
        let mirror = self.sync(&pr.repo, &pr.clone_url).await?;
        let head = pr.head_sha.clone();
        let env = env.to_owned();
        let _turn = self.repos.lock(&pr.repo.full_name()).await;
        blocking(move || {
            let repository = Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
            let revision = repository
                .resolve(&head)
                .map_err(|e| Failure(e.to_string()))?;
            let snapshot = repository
                .snapshot(&crate::repo::Side::Commit(revision))
                .map_err(|e| Failure(e.to_string()))?;
            let path = format!("{}/{env}.toml", crate::workspace::ENVIRONMENTS_DIR);
            let exists = snapshot
                .read(&path)
                .map_err(|e| Failure(e.to_string()))?
                .is_some();
            if exists {
                return Ok(None);
            }
            let names: Vec<String> = snapshot
                .list(crate::workspace::ENVIRONMENTS_DIR)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.strip_suffix(".toml").map(str::to_owned))
                .collect();
            let known: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut message =
                format!("there is no environment `{env}` (no `environments/{env}.toml`)");
            if let Some(help) =
                crate::config::suggest::help_for(&env, &known, "the environments are")
            {
                message.push_str(&format!("; {help}"));
            }
            Ok(Some(Answer::Refused(message)))
        })
        .await
    }

    async fn needs_writer(
        &self,
        repo: &Repo,
        user: &str,
        what: &str,
    ) -> Result<Option<Answer>, Failure> {
        let permission = self.forge.permission(repo, user).await?;
        if permission.can_write() {
            Ok(None)
        } else {
            Ok(Some(Answer::Refused(format!(
                "`/strata {what}` needs write access to `{repo}`; you have `{}`.",
                permission.name()
            ))))
        }
    }

    async fn unlock(&self, pr: &PrRef, only: Option<String>) -> Result<Answer, Failure> {
        let full_name = pr.repo.full_name();
        let held: Vec<String> = self
            .state
            .locks(&full_name)?
            .into_iter()
            .filter(|l| l.holder.pr == pr.number)
            .map(|l| l.environment)
            .filter(|e| only.as_ref().is_none_or(|o| o == e))
            .collect();
        if held.is_empty() {
            return Ok(Answer::Refused(match &only {
                Some(env) => match self.state.lock_of(&full_name, env)? {
                    Some(lock) => format!(
                        "#{} does not hold `{env}`. {}",
                        pr.number,
                        comment::locked_reply(env, &lock)
                    ),
                    None => format!("`{env}` is not locked."),
                },
                None => format!("#{} holds no lock.", pr.number),
            }));
        }
        for env in &held {
            self.state.unlock(&full_name, env, Some(pr.number))?;
        }
        self.freed_locks(&pr.repo, &held);
        self.resume(Some(&full_name)).await;
        // The saved plans go with the locks: applying needs a fresh plan.
        let keep: Vec<_> = self
            .state
            .plans(&full_name, pr.number)?
            .into_iter()
            .filter(|p| !held.contains(&p.environment))
            .collect();
        self.state.delete_plans(&full_name, pr.number)?;
        for plan in keep {
            self.state.save_plan(
                &full_name,
                pr.number,
                &plan.environment,
                &plan.head_sha,
                &plan.plan_json,
                plan.saved_at,
            )?;
        }
        Ok(Answer::Done(Some(format!(
            "released {}. Comment `/strata plan` to plan and lock again.",
            held.iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))))
    }

    async fn apply_command(
        &self,
        pr: &PrRef,
        pull_request: &crate::forge::PullRequest,
        user: &str,
        only: Option<String>,
    ) -> Result<Answer, Failure> {
        let full_name = pr.repo.full_name();
        let saved = self.state.plans(&full_name, pr.number)?;
        let wanted: Vec<_> = match &only {
            Some(env) => {
                let Some(plan) = saved.into_iter().find(|p| &p.environment == env) else {
                    if let Some(lock) = self.state.lock_of(&full_name, env)?
                        && lock.holder.pr != pr.number
                    {
                        return Ok(Answer::Refused(comment::locked_reply(env, &lock)));
                    }
                    return Ok(Answer::Refused(format!(
                        "there is no plan of `{env}` on #{}: comment `/strata plan {env}` first.",
                        pr.number
                    )));
                };
                vec![plan]
            }
            None => saved,
        };
        if wanted.is_empty() {
            return Ok(Answer::Refused(format!(
                "nothing is planned on #{}: it changes no environment file, or comment `/strata plan` first.",
                pr.number
            )));
        }
        for plan in &wanted {
            if plan.head_sha != pr.head_sha {
                return Ok(Answer::Refused(format!(
                    "the plan of `{}` is for `{}`, but #{} is at `{}`: comment `/strata plan` and review the new plan first.",
                    plan.environment,
                    comment::short(&plan.head_sha),
                    pr.number,
                    comment::short(&pr.head_sha)
                )));
            }
            match self.state.lock_of(&full_name, &plan.environment)? {
                Some(lock) if lock.holder.pr == pr.number => {}
                Some(lock) => {
                    return Ok(Answer::Refused(comment::locked_reply(
                        &plan.environment,
                        &lock,
                    )));
                }
                None => {
                    return Ok(Answer::Refused(format!(
                        "#{} no longer holds `{}`: comment `/strata plan {}` to lock and plan it again.",
                        pr.number, plan.environment, plan.environment
                    )));
                }
            }
        }
        // The plan compared the base branch's tip with the pull request
        // merged into it; if the tip moved since, applying would deploy a
        // merge nobody reviewed.
        let mirror = self.sync(&pr.repo, &pr.clone_url).await?;
        let target = self.merge_target(mirror, pr).await?;
        let (tip_now, merged_now) = match &target {
            MergeTarget::Merged { tip, merged } => (tip.clone(), merged.clone()),
            MergeTarget::Conflict { tip } => {
                return Ok(Answer::Refused(format!(
                    "#{} no longer merges cleanly into `{}` (now at `{}`): resolve the conflicts, push, and review the new plan.",
                    pr.number,
                    pr.base_ref,
                    comment::short(tip)
                )));
            }
        };
        let mut reviewed_plans = Vec::new();
        for plan in wanted {
            let reviewed: PlanFile = serde_json::from_str(&plan.plan_json).map_err(|e| {
                Failure(format!(
                    "the saved plan of `{}` is unreadable: {e}",
                    plan.environment
                ))
            })?;
            let planned_tip = reviewed
                .base
                .commit
                .clone()
                .unwrap_or_else(|| "none".to_owned());
            if planned_tip != tip_now {
                return Ok(Answer::Refused(format!(
                    "`{}` moved since the plan of `{}`: the plan compared `{}` at `{}` with #{} merged into it, and `{}` is now at `{}`. \
                     Applying now could undo what was merged since. Comment `/strata plan` and review the new plan first.",
                    pr.base_ref,
                    plan.environment,
                    pr.base_ref,
                    comment::short(&planned_tip),
                    pr.number,
                    pr.base_ref,
                    comment::short(&tip_now)
                )));
            }
            if reviewed.head.commit.as_deref() != Some(merged_now.as_str()) {
                return Ok(Answer::Refused(format!(
                    "the plan of `{}` was made from another merge of #{} into `{}`: comment `/strata plan` and review the new plan first.",
                    plan.environment, pr.number, pr.base_ref
                )));
            }
            reviewed_plans.push((plan, reviewed));
        }
        // The base branch's workflows gate the apply (a pull request cannot
        // loosen its own gates).
        let environments: Vec<String> = reviewed_plans
            .iter()
            .map(|(plan, _)| plan.environment.clone())
            .collect();
        let stages = match self
            .command_gates(pr, pull_request, user, &environments, &tip_now, &merged_now)
            .await?
        {
            Ok(stages) => stages,
            Err(refusal) => return Ok(Answer::Refused(refusal)),
        };
        let mut failed = Vec::new();
        for (plan, reviewed) in reviewed_plans {
            let stage = stages.get(&plan.environment);
            if let Some((workflow, stage, _)) = stage {
                self.state.record_stage(
                    &pr.repo.full_name(),
                    workflow,
                    &merged_now,
                    stage,
                    crate::state::StageState::Running,
                    SystemTime::now(),
                )?;
            }
            let succeeded = self
                .apply(ApplyRequest {
                    repo: pr.repo.clone(),
                    clone_url: pr.clone_url.clone(),
                    pr: Some(pr.number),
                    environment: plan.environment.clone(),
                    head_sha: merged_now.clone(),
                    status_sha: pr.head_sha.clone(),
                    base: tip_now.clone(),
                    reviewed: Some(reviewed),
                    reviewed_is_hint: false,
                    trusted_base: false,
                    stacks: crate::workflow::StackFilter::All,
                    overrides: None,
                    trigger: format!("`/strata apply` by @{user}"),
                    heal: false,
                    notify: stage.and_then(|(_, _, notify)| notify.clone()),
                })
                .await?;
            if let Some((workflow, stage, _)) = stage {
                self.state.record_stage(
                    &pr.repo.full_name(),
                    workflow,
                    &merged_now,
                    stage,
                    if succeeded {
                        crate::state::StageState::Succeeded
                    } else {
                        crate::state::StageState::Failed
                    },
                    SystemTime::now(),
                )?;
            }
            if !succeeded {
                failed.push(plan.environment);
                break;
            }
        }
        Ok(if failed.is_empty() {
            Answer::Done(None)
        } else if self.shutdown.is_cancelled() {
            // Not a failure of the change: the server stopped under it.
            Answer::Refused(format!(
                "the apply of `{}` stopped: the server shut down while it ran (see its comment). Nothing after it was applied; comment `/strata apply` to finish it.",
                failed.join("`, `")
            ))
        } else {
            Answer::Refused(format!(
                "the apply of `{}` failed; see its comment. Nothing after it was applied.",
                failed.join("`, `")
            ))
        })
    }

    /// A merged pull request: its promotion starts at the tip of the branch
    /// it merged into (the push of the same commit finds it started), then
    /// its locks and plans are released.
    async fn merged(&self, pr: &PrRef, default_branch: &str) -> Result<(), Failure> {
        let mirror = self.sync(&pr.repo, &pr.clone_url).await?;
        let branch = format!("refs/heads/{}", pr.base_ref);
        let (tip, parent) = {
            let _turn = self.repos.lock(&pr.repo.full_name()).await;
            blocking(move || {
                let repository =
                    Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
                let tip = repository
                    .resolve(&branch)
                    .map_err(|e| Failure(e.to_string()))?
                    .id;
                let parent = repository
                    .resolve(&format!("{tip}^1"))
                    .map(|r| r.id)
                    .unwrap_or_else(|_| "none".to_owned());
                Ok((tip, parent))
            })
            .await?
        };
        let result = self
            .landed(promote::Landing {
                repo: pr.repo.clone(),
                clone_url: pr.clone_url.clone(),
                branch: pr.base_ref.clone(),
                default_branch: default_branch.to_owned(),
                before: parent,
                after: tip,
                pr: Some(pr.number),
            })
            .await;
        self.release(&pr.repo, pr.number)?;
        self.resume(Some(&pr.repo.full_name())).await;
        result
    }

    /// A push to a branch: the workflows whose push trigger names it start
    /// a promotion of the new tip.
    async fn push(&self, event: PushEvent) -> Result<(), Failure> {
        if event.deleted || event.created {
            return Ok(());
        }
        let Some(branch) = event.branch() else {
            return Ok(());
        };
        let repo = repo_of(&event.repo.owner, &event.repo.name)?;
        // A watched branch is the watcher's: the push only wakes it.
        if self.wake_watcher(&repo.full_name(), branch) {
            return Ok(());
        }
        let before = if event.before.chars().all(|c| c == '0') {
            "none".to_owned()
        } else {
            event.before.clone()
        };
        self.landed(promote::Landing {
            repo,
            clone_url: event.repo.clone_url.clone(),
            branch: branch.to_owned(),
            default_branch: event.repo.default_branch.clone(),
            before,
            after: event.after.clone(),
            pr: None,
        })
        .await
    }

    /// Apply one environment; whether it succeeded (or had been applied at
    /// this commit already).
    async fn apply(&self, request: ApplyRequest) -> Result<bool, Failure> {
        let span = tracing::info_span!(
            "apply",
            repo = %request.repo.full_name(),
            env = %request.environment,
            pr = request.pr,
            commit = %request.head_sha,
        );
        self.apply_traced(request).instrument(span).await
    }

    async fn apply_traced(&self, request: ApplyRequest) -> Result<bool, Failure> {
        let full_name = request.repo.full_name();
        let _turn = self
            .environments
            .lock(&(full_name.clone(), request.environment.clone()))
            .await;
        // One apply of an environment at a time across replicas too.
        let _exclusive = self
            .exclusive(format!("apply {full_name} {}", request.environment))
            .await?;
        if let Some(earlier) = self
            .state
            .applies_at(&full_name, &request.environment, &request.head_sha)?
            .into_iter()
            .next()
            && (request.reviewed.is_none() || request.reviewed_is_hint)
            && request.overrides.is_none()
            && !request.heal
        {
            tracing::info!(
                environment = %request.environment,
                commit = %request.head_sha,
                run = %earlier.id,
                "already applied at this commit"
            );
            return Ok(earlier.status == RunStatus::Succeeded);
        }
        if self.shutdown.is_cancelled() {
            return Err(Failure("the server is shutting down".to_owned()));
        }

        let run = self.state.start_run(
            NewRun {
                repo: full_name.clone(),
                pr: request.pr,
                environment: request.environment.clone(),
                head_sha: request.head_sha.clone(),
                kind: RunKind::Apply,
                comment_id: None,
            },
            SystemTime::now(),
        )?;
        let started = Instant::now();
        let view = Arc::new(Mutex::new(ApplyComment {
            run: run.0,
            environment: request.environment.clone(),
            head_sha: request.head_sha.clone(),
            trigger: request.trigger.clone(),
            stacks: Vec::new(),
            ending: Ending::Running,
            elapsed: Duration::ZERO,
        }));
        let context = format!("strata/apply: {}", request.environment);
        let outcome = self.deploy(&request, run, &view, started).await;
        let (status, summary) = match &outcome {
            Ok(report) if report.succeeded() => (RunStatus::Succeeded, None),
            Ok(_) if self.shutdown.is_cancelled() => {
                lock(&view).ending = Ending::Stopped(
                    "The server shut down during the apply: stacks that had not started were skipped. Comment `/strata apply` to finish it."
                        .to_owned(),
                );
                (RunStatus::Interrupted, None)
            }
            Ok(_) => (RunStatus::Failed, None),
            Err(Stop(why)) => {
                lock(&view).ending = Ending::Stopped(why.clone());
                (RunStatus::Failed, Some(why.clone()))
            }
        };
        {
            let mut view = lock(&view);
            view.elapsed = started.elapsed();
            if view.ending == Ending::Running {
                view.ending = if status == RunStatus::Succeeded {
                    Ending::Succeeded
                } else {
                    Ending::Failed
                };
            }
        }
        let summary = summary.or_else(|| outcome.as_ref().ok().map(summary_line));
        self.state
            .finish_run(run, status, summary.clone(), SystemTime::now())?;
        self.metrics
            .run_finished("apply", status.as_str(), started.elapsed());
        tracing::info!(run = %run, outcome = status.as_str(), summary = summary.as_deref().unwrap_or(""), "apply finished");
        // The log says why, for a runner with no pull request to say it on.
        if let Ok(report) = &outcome {
            for failed in report
                .stacks
                .iter()
                .filter(|s| !s.outcome.is_success() && s.reason.is_some())
            {
                tracing::warn!(
                    run = %run,
                    stack = %failed.stack_name,
                    resource = failed.resource.as_deref().unwrap_or(""),
                    reason = failed.reason.as_deref().unwrap_or(""),
                    "stack failed"
                );
            }
        }
        self.announce_apply(&request, run, status, summary.as_deref().unwrap_or(""));
        let body = comment::apply_comment(&lock(&view).clone());
        if let Some(pr) = request.pr {
            self.forge
                .upsert_comment(&request.repo, pr, &comment::apply_marker(run.0), &body)
                .await?;
        }
        let (state, description) = match status {
            RunStatus::Succeeded => (StatusState::Success, summary.unwrap_or_default()),
            // The change is not at fault: an error, as GitHub has no
            // "stopped", saying what happened.
            RunStatus::Interrupted => (
                StatusState::Error,
                "stopped: the server shut down; comment /strata apply to finish".to_owned(),
            ),
            _ => (
                StatusState::Failure,
                summary.unwrap_or_else(|| status.as_str().to_owned()),
            ),
        };
        self.status(
            &request.repo,
            &request.status_sha,
            &context,
            state,
            &description,
            None,
        )
        .await;
        Ok(status == RunStatus::Succeeded)
    }

    /// Plan, check and deploy; the report, or why nothing was deployed.
    async fn deploy(
        &self,
        request: &ApplyRequest,
        run: RunId,
        view: &Arc<Mutex<ApplyComment>>,
        started: Instant,
    ) -> Result<deploy::Report, Stop> {
        let mirror = self
            .sync(&request.repo, &request.clone_url)
            .await
            .map_err(|f| Stop(f.0))?;
        let planned = self
            .plan_in(
                &request.repo,
                mirror,
                vec![request.environment.clone()],
                request.base.clone(),
                request.head_sha.clone(),
            )
            .await
            .map_err(|f| Stop(f.0))?
            .map_err(|problems| {
                Stop(format!(
                    "The change could not be planned:\n\n```text\n{}\n```",
                    problems.join("\n")
                ))
            })?;
        let env = &request.environment;
        let Some(env_plan) = planned.plan.environments.iter().find(|e| &e.name == env) else {
            return Err(Stop(format!("`{env}` was not planned.")));
        };
        let Some(rendered) = planned.heads.get(env) else {
            return Err(Stop(format!(
                "`{env}` does not exist at `{}`; deleting a whole environment is not supported.",
                comment::short(&request.head_sha)
            )));
        };
        if !env_plan.errors.is_empty() {
            return Err(Stop(format!(
                "The plan of `{env}` has errors; applying it would fail mid-deploy."
            )));
        }
        let blocking: Vec<String> = env_plan
            .blocking_findings()
            .map(|f| {
                format!(
                    "- `{}` · {}/{}: {}",
                    f.location(),
                    f.policy,
                    f.rule,
                    f.message
                )
            })
            .collect();
        if !blocking.is_empty() {
            return Err(Stop(format!(
                "The plan of `{env}` has policy errors; nothing was applied. Fix them, or lower the rule's severity for `{env}` in `strata.toml`:\n{}",
                blocking.join("\n")
            )));
        }
        let reviewed_env = match &request.reviewed {
            Some(file) => match file.environments.iter().find(|e| &e.name == env) {
                None if request.reviewed_is_hint => None,
                None => return Err(Stop(format!("The saved plan has no `{env}`."))),
                Some(reviewed) => match planner::check_matches(reviewed, env_plan, env) {
                    Ok(()) => Some(reviewed),
                    // A merge deploys the merged commit even when the
                    // reviewed plan no longer matches it.
                    Err(_) if request.reviewed_is_hint => None,
                    Err(diagnostics) => return Err(Stop(problems(&diagnostics).join("\n"))),
                },
            },
            None => None,
        };
        let reviewed = |stack: &str| reviewed_env.and_then(|e| e.reviewed_change_set(stack));
        let parameters = match &request.overrides {
            Some(overrides) => planner::parameter_overrides(rendered, overrides, &request.stacks),
            None => Vec::new(),
        };
        let mut deployment = match &request.overrides {
            Some(_) => {
                if parameters.is_empty() {
                    return Err(Stop(format!(
                        "No stack of `{env}` declares a parameter the inputs set: nothing to deploy."
                    )));
                }
                let stacks: Vec<String> = parameters.iter().map(|(s, _)| s.clone()).collect();
                deploy::code_only(rendered, &stacks, &parameters, Some(&request.head_sha))
            }
            None => deploy::deployment(
                rendered,
                env_plan,
                Some(comment::short(&request.head_sha)),
                Some(&request.head_sha),
                self.settings.allow_delete,
                reviewed,
            ),
        };
        // A stage's `only` / `except`; stacks the plan from what runs leaves
        // unchanged are not touched.
        let mut partial = false;
        for wave in &mut deployment.waves {
            let before = wave.len();
            wave.retain(|target| request.stacks.includes(&target.stack));
            partial |= wave.len() != before;
            if request.trusted_base && request.overrides.is_none() {
                for target in wave.iter_mut() {
                    target.unchanged = env_plan
                        .stacks
                        .iter()
                        .any(|s| s.name == target.stack && s.action == crate::plan::Action::None);
                }
            }
        }
        deployment.waves.retain(|wave| !wave.is_empty());
        if partial {
            deployment.deletions.clear();
        }
        let digests: BTreeMap<String, String> = rendered
            .stacks
            .values()
            .map(|stack| (stack.name.to_string(), stack.sha256.clone()))
            .collect();
        {
            let mut view = lock(view);
            for (index, wave) in deployment.waves.iter().enumerate() {
                for target in wave {
                    view.stacks.push(StackRow {
                        stack: target.stack.clone(),
                        wave: index + 1,
                        row: Row::Waiting,
                    });
                }
            }
            for deletion in &deployment.deletions {
                view.stacks.push(StackRow {
                    stack: deletion.stack.clone(),
                    wave: 0,
                    row: Row::Waiting,
                });
            }
        }
        // The comment appears before the first CloudFormation call.
        let comment_id = match request.pr {
            Some(pr) => {
                let body = comment::apply_comment(&lock(view).clone());
                match self
                    .forge
                    .upsert_comment(&request.repo, pr, &comment::apply_marker(run.0), &body)
                    .await
                {
                    Ok(id) => {
                        let _ = self.state.set_run_comment(run, id.0);
                        Some(id)
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot post the apply comment; applying anyway");
                        None
                    }
                }
            }
            None => None,
        };
        self.status(
            &request.repo,
            &request.status_sha,
            &format!("strata/apply: {env}"),
            StatusState::Pending,
            "applying",
            None,
        )
        .await;

        let cloud = self.clouds.cloud(&rendered.environment.region).await;
        let changed = Arc::new(Notify::new());
        let progress = Arc::new(CommentProgress {
            view: Arc::clone(view),
            state: self.state.clone(),
            run,
            changed: Arc::clone(&changed),
            started,
        });
        let options = Options {
            concurrency: self.settings.concurrency,
            poll: self.settings.poll,
            template_bucket: self.settings.template_bucket.clone(),
            cancel: self.shutdown.child_token(),
            run_id: format!("{run}-{:08x}", fastrand::u32(..)),
        };
        let done = CancellationToken::new();
        let updates = match (request.pr, comment_id) {
            (Some(pr), Some(_)) => Some(tokio::spawn(update_comment(
                Arc::clone(&self.forge),
                request.repo.clone(),
                pr,
                run,
                Arc::clone(view),
                changed,
                done.clone(),
                self.settings.progress_interval,
                started,
            ))),
            _ => None,
        };
        let result = deploy::apply(cloud, deployment, options, progress).await;
        done.cancel();
        if let Some(updates) = updates {
            let _ = updates.await;
        }
        let report = result.map_err(|e| Stop(e.to_string()))?;
        self.record_deployed(request, run, &report, &digests, &parameters, partial);
        Ok(report)
    }

    /// Record what the environment runs now: the commit (when every stack
    /// got there), each deployed stack's template digest, and the parameter
    /// overrides of a code-only deploy.
    fn record_deployed(
        &self,
        request: &ApplyRequest,
        run: RunId,
        report: &deploy::Report,
        digests: &BTreeMap<String, String>,
        parameters: &[(String, Vec<crate::cloud::Parameter>)],
        partial: bool,
    ) {
        let mut templates = BTreeMap::new();
        let mut removed = Vec::new();
        for stack in &report.stacks {
            match stack.outcome {
                deploy::Outcome::Deleted => removed.push(stack.stack.clone()),
                outcome if outcome.is_success() && request.overrides.is_none() => {
                    if let Some(digest) = digests.get(&stack.stack) {
                        templates.insert(stack.stack.clone(), digest.clone());
                    }
                }
                _ => {}
            }
        }
        let succeeded = |stack: &str| {
            report
                .stacks
                .iter()
                .any(|s| s.stack == stack && s.outcome.is_success())
        };
        let overrides: Vec<crate::state::Override> = parameters
            .iter()
            .filter(|(stack, _)| succeeded(stack))
            .flat_map(|(stack, parameters)| {
                parameters.iter().filter_map(|p| match &p.value {
                    crate::cloud::ParameterValue::Value(value) => Some(crate::state::Override {
                        stack: stack.clone(),
                        parameter: p.key.clone(),
                        value: value.clone(),
                        run: run.0,
                    }),
                    crate::cloud::ParameterValue::UsePrevious => None,
                })
            })
            .collect();
        let complete = report.succeeded() && !partial && request.overrides.is_none();
        if let Err(error) = self.state.record_deployed(
            &request.repo.full_name(),
            &request.environment,
            &request.head_sha,
            &templates,
            &removed,
            &overrides,
            complete,
            Some(run),
            SystemTime::now(),
        ) {
            tracing::warn!(%error, "cannot record what the environment runs");
        }
    }

    /// Set right what a previous process left: release the locks of pull
    /// requests closed while it was down, and report applies it never
    /// finished as interrupted, with the stacks' real states.
    pub async fn reconcile(&self) {
        match self.state.all_locks() {
            Ok(locks) => {
                let holders: BTreeSet<(String, u64)> =
                    locks.into_iter().map(|l| (l.repo, l.holder.pr)).collect();
                for (repo_name, pr) in holders {
                    let Ok(repo) = repo_name.parse::<Repo>() else {
                        continue;
                    };
                    match self.forge.pull_request(&repo, pr).await {
                        Ok(found) if found.state == PullRequestState::Open => {}
                        Ok(_) => match self.release(&repo, pr) {
                            Ok(released) => tracing::info!(
                                repo = %repo_name, pr, environments = ?released,
                                "released the locks of a pull request closed while the server was down"
                            ),
                            Err(failure) => tracing::warn!(%failure, "cannot release locks"),
                        },
                        Err(error) if error.kind == crate::forge::ForgeErrorKind::NotFound => {
                            let _ = self.release(&repo, pr);
                        }
                        Err(error) => {
                            tracing::warn!(%error, "cannot check a lock holder; keeping its locks")
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "cannot list the locks"),
        }
        self.plan_freed().await;
        self.reconcile_promotions().await;
        if self.state.is_shared() && self.replication.is_some() {
            // Only the runs of replicas that stopped: the others' are theirs.
            self.take_over(None).await;
            return;
        }
        // One process per SQLite file: the jobs a previous process was doing
        // are taken again at once (an apply it had begun is reported below,
        // not run again).
        if let Err(error) = self.state.expire_job_leases() {
            tracing::warn!(%error, "cannot take back the jobs of the previous process");
        }
        let runs = match self.state.unfinished_runs() {
            Ok(runs) => runs,
            Err(error) => {
                tracing::warn!(%error, "cannot list unfinished runs");
                return;
            }
        };
        for run in runs {
            self.report_interrupted(run).await;
        }
    }

    /// Finish `run`, which its process left running, as interrupted; for an
    /// apply, ask CloudFormation where each stack is and say so on the pull
    /// request and in the commit status.
    async fn report_interrupted(&self, run: crate::state::Run) {
        if run.kind == RunKind::Plan {
            let _ = self.state.finish_run(
                run.id,
                RunStatus::Interrupted,
                Some("the server stopped".to_owned()),
                SystemTime::now(),
            );
            return;
        }
        let states = self.real_states(&run).await;
        let summary = format!(
            "interrupted; CloudFormation says: {}",
            states
                .iter()
                .map(|(s, status)| format!("{s} {status}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Err(error) = self.state.finish_run(
            run.id,
            RunStatus::Interrupted,
            Some(summary),
            SystemTime::now(),
        ) {
            tracing::warn!(%error, "cannot record the interrupted run");
        }
        let Ok(repo) = run.repo.parse::<Repo>() else {
            return;
        };
        if let Some(pr) = run.pr {
            let body =
                comment::interrupted_comment(run.id.0, &run.environment, &run.head_sha, &states);
            if let Err(error) = self
                .forge
                .upsert_comment(&repo, pr, &comment::apply_marker(run.id.0), &body)
                .await
            {
                tracing::warn!(%error, "cannot report the interrupted apply");
            }
        }
        self.status(
            &repo,
            &run.head_sha,
            &format!("strata/apply: {}", run.environment),
            StatusState::Error,
            "interrupted: the server stopped during the apply",
            None,
        )
        .await;
        tracing::warn!(run = %run.id, repo = %run.repo, environment = %run.environment, "reported an interrupted apply");
    }

    /// Each recorded stack of `run` and what CloudFormation says of it now
    /// (the recorded status when it cannot be asked).
    async fn real_states(&self, run: &crate::state::Run) -> Vec<(String, String)> {
        let recorded: Vec<(String, String)> = run
            .stacks
            .iter()
            .map(|s| (s.stack.clone(), format!("{} (last recorded)", s.status)))
            .collect();
        let Ok(repo) = run.repo.parse::<Repo>() else {
            return recorded;
        };
        let mirror = self.mirrors.path(&repo.owner, &repo.name);
        if !mirror.exists() {
            return recorded;
        }
        let rendered = match self
            .plan_in(
                &repo,
                mirror,
                vec![run.environment.clone()],
                "none".to_owned(),
                run.head_sha.clone(),
            )
            .await
        {
            Ok(Ok(mut planned)) => planned.heads.remove(&run.environment),
            _ => None,
        };
        let Some(rendered) = rendered else {
            return recorded;
        };
        let cloud = self.clouds.cloud(&rendered.environment.region).await;
        let mut states = Vec::new();
        for stack in &run.stacks {
            let name = rendered.stack_name(&stack.stack);
            let status = match cloud.describe_stack(&name).await {
                Ok(Some(found)) => found.status.to_string(),
                Ok(None) => "does not exist".to_owned(),
                Err(error) => format!("unknown: {error}"),
            };
            states.push((stack.stack.clone(), status));
        }
        states
    }
}

/// What a command came to.
enum Answer {
    /// Done; an optional reply.
    Done(Option<String>),
    /// Not done, and why (the reply).
    Refused(String),
}

/// Why an apply deployed nothing.
struct Stop(String);

/// Records every stack of an apply in the state database and keeps the PR
/// comment's view current.
struct CommentProgress {
    view: Arc<Mutex<ApplyComment>>,
    state: State,
    run: RunId,
    changed: Arc<Notify>,
    started: Instant,
}

impl Progress for CommentProgress {
    fn report(&self, event: &ProgressEvent) {
        let now = SystemTime::now();
        let mut record = None;
        {
            let mut view = lock(&self.view);
            view.elapsed = self.started.elapsed();
            let mut set = |stack: &str, row: Row| {
                if let Some(found) = view.stacks.iter_mut().find(|s| s.stack == stack) {
                    found.row = row;
                }
            };
            match event {
                ProgressEvent::Wave { .. } | ProgressEvent::Note { .. } => {}
                ProgressEvent::Started { stack, creating } => {
                    let word = if *creating {
                        "CREATE_IN_PROGRESS"
                    } else {
                        "UPDATE_IN_PROGRESS"
                    };
                    set(stack, Row::Running(word.to_owned()));
                    record = Some(StackRecord {
                        stack: stack.clone(),
                        status: word.to_owned(),
                        started_at: now,
                        finished_at: None,
                        reason: None,
                    });
                }
                ProgressEvent::Deleting { stack } => {
                    set(stack, Row::Running("DELETE_IN_PROGRESS".to_owned()));
                    record = Some(StackRecord {
                        stack: stack.clone(),
                        status: "DELETE_IN_PROGRESS".to_owned(),
                        started_at: now,
                        finished_at: None,
                        reason: None,
                    });
                }
                ProgressEvent::Cloud { stack, event } => {
                    let status = if event.is_stack_event() {
                        event.status.clone()
                    } else {
                        format!("{} {}", event.logical_id, event.status)
                    };
                    set(stack, Row::Running(status));
                }
                ProgressEvent::Finished { result } => {
                    set(
                        &result.stack,
                        Row::Done {
                            outcome: result.outcome,
                            duration: result.duration,
                            reason: result.reason.clone(),
                        },
                    );
                    record = Some(StackRecord {
                        stack: result.stack.clone(),
                        status: result.outcome.label().to_owned(),
                        started_at: now.checked_sub(result.duration).unwrap_or(now),
                        finished_at: Some(now),
                        reason: result.reason.clone(),
                    });
                }
            }
        }
        if let Some(record) = record
            && let Err(error) = self.state.record_stack(self.run, record)
        {
            tracing::warn!(%error, "cannot record a stack's progress");
        }
        self.changed.notify_one();
    }
}

/// Edit the apply comment when the view changed, at most once per
/// `interval`, until `done`.
#[expect(
    clippy::too_many_arguments,
    reason = "one task, started in one place, with what it reports on"
)]
async fn update_comment(
    forge: Arc<dyn Forge>,
    repo: Repo,
    pr: u64,
    run: RunId,
    view: Arc<Mutex<ApplyComment>>,
    changed: Arc<Notify>,
    done: CancellationToken,
    interval: Duration,
    started: Instant,
) {
    let marker = comment::apply_marker(run.0);
    loop {
        tokio::select! {
            () = done.cancelled() => return,
            () = changed.notified() => {}
        }
        let body = {
            let mut view = lock(&view);
            view.elapsed = started.elapsed();
            comment::apply_comment(&view)
        };
        if let Err(error) = forge.upsert_comment(&repo, pr, &marker, &body).await {
            tracing::warn!(%error, "cannot update the apply comment");
        }
        tokio::select! {
            () = done.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn summary_line(report: &deploy::Report) -> String {
    let counts = report.counts();
    let parts: Vec<String> = counts
        .iter()
        .map(|(outcome, n)| format!("{n} {}", outcome.label()))
        .collect();
    if parts.is_empty() {
        format!("nothing to deploy in {:.1}s", report.elapsed.as_secs_f64())
    } else {
        format!(
            "{} in {:.1}s",
            parts.join(", "),
            report.elapsed.as_secs_f64()
        )
    }
}

/// "1 to add, 2 to change, 0 to remove".
fn counts(environment: &crate::plan::EnvironmentPlan) -> String {
    let (add, change, remove, _) = environment.counts();
    format!("{add} to add, {change} to change, {remove} to remove")
}

fn repo_of(owner: &str, name: &str) -> Result<Repo, Failure> {
    Repo::new(owner, name).map_err(|e| Failure(e.to_string()))
}

/// Diagnostics as plain text lines.
fn problems(diagnostics: &[Diagnostic]) -> Vec<String> {
    let report = Report::new(Style::Plain);
    diagnostics
        .iter()
        .map(|d| report.render(d).trim_end().to_owned())
        .collect()
}

/// Run blocking work (git, rendering, planning) off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => Err(Failure(format!("the work stopped unexpectedly: {error}"))),
    }
}
