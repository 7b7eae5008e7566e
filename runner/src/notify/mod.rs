//! Notifications: what Strata tells a chat channel (an apply finished, a
//! stage waits on a gate, drift found or cleared), posted to the
//! Slack-compatible incoming webhook a workflow's `[notify]` names.
//!
//! The payload is `{"text": "...", "blocks": [...]}`: Slack renders the
//! blocks (and uses `text` for the notification), Mattermost's incoming
//! webhooks read `text` (Markdown) and ignore blocks. So `text` carries
//! everything, with bare URLs (both link them), and the blocks add Slack's
//! layout and `<url|label>` links.
//!
//! A [`Notifier`] never holds up a deploy: the worker's calls only build the
//! message and put it on a bounded queue ([`Policy::capacity`]; when full, the
//! oldest message is dropped and counted). One task drains the queue through
//! a [`Sender`] — [`HttpSender`] in production (hyper's client over the rustls
//! connector octocrab already uses; `http://` works too, for tests) — giving
//! each attempt [`Policy::timeout`] and each message [`Policy::attempts`]
//! tries. A failure is logged at `warn` when a receiver starts failing, at
//! `debug` while it keeps failing, and its recovery at `info`. What happened
//! is counted in [`Counters`], which `/metrics` shows.
//!
//! The workflow layer says *where* ([`Notify`]); this module reads the
//! environment variable a `url_env` names when a message is sent.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::workflow::{Notify, NotifyEvent, Webhook};

/// How the notifier sends.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The longest one attempt may take (connect, send, answer).
    pub timeout: Duration,
    /// Tries per message (the first and the retries).
    pub attempts: u32,
    /// The wait before the first retry; doubled for each next one.
    pub backoff: Duration,
    /// Messages waiting to be sent, at most; beyond it the oldest is dropped.
    pub capacity: usize,
}

impl Default for Policy {
    /// 5 s per attempt, 3 attempts (2 retries), 256 messages.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(500),
            capacity: 256,
        }
    }
}

/// What the notifier did, for `/metrics`. Plain atomics: read while the
/// notifier writes.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages the receiver accepted.
    pub sent: AtomicU64,
    /// Messages given up after every attempt failed (or with no URL).
    pub failed: AtomicU64,
    /// Messages dropped unsent because the queue was full.
    pub dropped: AtomicU64,
    /// Messages waiting now.
    pub queued: AtomicU64,
}

/// Posts one message. The production one is [`HttpSender`]; a test may
/// record messages instead.
#[async_trait]
pub trait Sender: Send + Sync {
    /// POST `body` (JSON) to `url`; `Err` says why it was not accepted.
    /// The notifier bounds the call with [`Policy::timeout`].
    async fn post(&self, url: &str, body: Bytes) -> Result<(), SendError>;
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// In words, for the log.
    pub message: String,
    /// Whether trying again may help (a timeout, a 5xx, a 429), or not (a 4xx).
    pub retry: bool,
}

/// [`Sender`] over HTTP(S): hyper's pooled client with the rustls connector
/// (the platform's root certificates).
#[derive(Clone)]
pub struct HttpSender {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSender").finish_non_exhaustive()
    }
}

impl HttpSender {
    /// A client for `http://` and `https://` URLs. Without readable root
    /// certificates it still sends over `http://` (and says so in the log);
    /// `Err` only when no TLS configuration can be made at all.
    pub fn new() -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(Arc::clone(&provider))
        {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(%error, "no root certificates: notifications go to `http://` receivers only");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| format!("cannot configure TLS: {e}"))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self { client })
    }
}

#[async_trait]
impl Sender for HttpSender {
    async fn post(&self, url: &str, body: Bytes) -> Result<(), SendError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("strata/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|error| SendError {
                message: format!("not a URL a request can go to: {error}"),
                retry: false,
            })?;
        let response = self.client.request(request).await.map_err(|error| {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let _ = write!(message, ": {cause}");
                source = cause.source();
            }
            SendError {
                message,
                retry: true,
            }
        })?;
        let status = response.status();
        // Read (a little of) the answer so the connection can be reused.
        let answer = http_body_util::Limited::new(response.into_body(), 4096)
            .collect()
            .await
            .map(|c| String::from_utf8_lossy(&c.to_bytes()).trim().to_owned())
            .unwrap_or_default();
        if status.is_success() {
            return Ok(());
        }
        let retry = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
        Err(SendError {
            message: format!("the receiver answered {status}: {answer}"),
            retry,
        })
    }
}

/// A message waiting to be sent.
struct Message {
    url: String,
    /// Names the receiver in the log, never the secret URL.
    receiver: String,
    what: &'static str,
    body: Bytes,
}

/// Sends notifications in the background; cheap to clone (all clones share
/// one queue). Made by [`Notifier::start`].
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

struct Inner {
    policy: Policy,
    // std Mutex: held to push or pop one message, never across an await.
    queue: Mutex<VecDeque<Message>>,
    /// Rung when a message is queued.
    wake: tokio::sync::Notify,
    /// Rung when the queue is empty and nothing is being sent.
    drained: tokio::sync::Notify,
    sending: AtomicBool,
    counters: Arc<Counters>,
    /// Gate waits already announced (promotion, stage, reason).
    announced: Mutex<HashSet<String>>,
    /// `url_env` variables found unset, warned about once each.
    unset: Mutex<HashSet<String>>,
    /// Whether the last message failed (to warn once per outage).
    failing: AtomicBool,
}

/// Gate waits remembered before the set is forgotten (and a wait may be
/// announced again): bounds memory on a long-running server.
const ANNOUNCED_LIMIT: usize = 10_000;

/// An apply of one environment that finished, for [`Notifier::apply_finished`].
#[derive(Debug, Clone)]
pub struct ApplyNote<'a> {
    /// `owner/name`.
    pub repo: &'a str,
    /// The environment applied.
    pub environment: &'a str,
    /// The commit deployed (shortened in the message).
    pub commit: &'a str,
    /// `succeeded`, `failed` or `interrupted`.
    pub outcome: &'a str,
    /// Per-stack counts and time: "2 updated, 1 unchanged in 41.0s".
    pub summary: &'a str,
    /// The run's number in the state database.
    pub run: i64,
    /// What started it: "stage `prod` of workflow `release` at `abc1234`".
    pub trigger: &'a str,
    /// The pull request, when known: its number and web page.
    pub pr: Option<(u64, String)>,
}

/// A stage found waiting on a gate, for [`Notifier::gate_waiting`].
#[derive(Debug, Clone)]
pub struct GateNote<'a> {
    /// `owner/name`.
    pub repo: &'a str,
    /// The workflow's name.
    pub workflow: &'a str,
    /// The commit being promoted.
    pub commit: &'a str,
    /// The waiting stage.
    pub stage: &'a str,
    /// Its environments.
    pub environments: &'a [String],
    /// What it waits for, in words ("an approval from `acme/platform`").
    pub waits_for: &'a [String],
    /// The pull request, when known: its number and web page.
    pub pr: Option<(u64, String)>,
}

impl Notifier {
    /// A notifier sending through `sender`, and the task draining its queue
    /// (spawned on the current runtime; once `shutdown` is cancelled it
    /// sends what is queued and stops: wait for that with [`Notifier::idle`]
    /// under a timeout).
    pub fn start(
        sender: Arc<dyn Sender>,
        policy: Policy,
        counters: Arc<Counters>,
        shutdown: CancellationToken,
    ) -> Self {
        let inner = Arc::new(Inner {
            policy,
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            drained: tokio::sync::Notify::new(),
            sending: AtomicBool::new(false),
            counters,
            announced: Mutex::new(HashSet::new()),
            unset: Mutex::new(HashSet::new()),
            failing: AtomicBool::new(false),
        });
        tokio::spawn(drain(Arc::clone(&inner), sender, shutdown));
        Self { inner }
    }

    /// Announce a finished apply, if `notify` wants applies.
    pub fn apply_finished(&self, notify: Option<&Notify>, note: &ApplyNote<'_>) {
        let Some(notify) = notify.filter(|n| n.wants(NotifyEvent::Apply)) else {
            return;
        };
        self.enqueue(notify, "apply", apply_message(note));
    }

    /// Announce that a stage waits on a gate, if `notify` wants gates: once
    /// per (repository, workflow, commit, stage, what it waits for).
    pub fn gate_waiting(&self, notify: Option<&Notify>, note: &GateNote<'_>) {
        let Some(notify) = notify.filter(|n| n.wants(NotifyEvent::Gate)) else {
            return;
        };
        let key = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
            note.repo,
            note.workflow,
            note.commit,
            note.stage,
            note.waits_for.join("\u{0}")
        );
        {
            let mut announced = lock(&self.inner.announced);
            if announced.len() >= ANNOUNCED_LIMIT {
                announced.clear();
            }
            if !announced.insert(key) {
                return;
            }
        }
        self.enqueue(notify, "gate", gate_message(note));
    }

    /// Announce drift found in `environment` of `repo` (`stacks`: those that
    /// drifted), or cleared (`cleared`: the environment matches git again),
    /// if `notify` wants drift. `issue_url`: the issue that tracks it.
    pub fn notify_drift(
        &self,
        notify: Option<&Notify>,
        repo: &str,
        environment: &str,
        stacks: &[String],
        issue_url: Option<&str>,
        cleared: bool,
    ) {
        let Some(notify) = notify.filter(|n| n.wants(NotifyEvent::Drift)) else {
            return;
        };
        self.enqueue(
            notify,
            "drift",
            drift_message(repo, environment, stacks, issue_url, cleared),
        );
    }

    /// Messages waiting to be sent.
    pub fn pending(&self) -> usize {
        lock(&self.inner.queue).len()
    }

    /// Wait until every queued message was sent, failed or dropped.
    pub async fn idle(&self) {
        loop {
            let drained = self.inner.drained.notified();
            if self.pending() == 0 && !self.inner.sending.load(Ordering::SeqCst) {
                return;
            }
            drained.await;
        }
    }

    fn enqueue(&self, notify: &Notify, what: &'static str, payload: Value) {
        let url = match &notify.webhook {
            Webhook::Url(url) => url.clone(),
            Webhook::Env(name) => match std::env::var(name) {
                Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
                _ => {
                    if lock(&self.inner.unset).insert(name.clone()) {
                        tracing::warn!(
                            variable = %name,
                            "`{name}` is not set, so notifications of workflows with `url_env = \"{name}\"` are not sent; help: set it to the incoming webhook's URL where Strata runs"
                        );
                    }
                    self.inner.counters.failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            },
        };
        let body = Bytes::from(payload.to_string());
        let message = Message {
            url,
            receiver: notify.webhook.to_string(),
            what,
            body,
        };
        {
            let mut queue = lock(&self.inner.queue);
            queue.push_back(message);
            while queue.len() > self.inner.policy.capacity.max(1) {
                if let Some(dropped) = queue.pop_front() {
                    self.inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(receiver = %dropped.receiver, what = dropped.what, "notification queue full: dropped the oldest message");
                }
            }
            self.inner
                .counters
                .queued
                .store(queue.len() as u64, Ordering::Relaxed);
        }
        self.inner.wake.notify_one();
    }
}

/// The queue's one consumer. After `shutdown` it still sends what is
/// queued (the caller bounds that wait with [`Notifier::idle`] and a
/// timeout), and returns once the queue is empty.
async fn drain(inner: Arc<Inner>, sender: Arc<dyn Sender>, shutdown: CancellationToken) {
    loop {
        let woken = inner.wake.notified();
        let next = {
            let mut queue = lock(&inner.queue);
            let next = queue.pop_front();
            inner
                .counters
                .queued
                .store(queue.len() as u64, Ordering::Relaxed);
            if next.is_some() {
                inner.sending.store(true, Ordering::SeqCst);
            }
            next
        };
        let Some(message) = next else {
            inner.drained.notify_waiters();
            if shutdown.is_cancelled() {
                return;
            }
            tokio::select! {
                () = shutdown.cancelled() => continue,
                () = woken => continue,
            }
        };
        send(&inner, sender.as_ref(), message).await;
        inner.sending.store(false, Ordering::SeqCst);
    }
}

/// Send one message with the policy's attempts, count and log the outcome.
async fn send(inner: &Inner, sender: &dyn Sender, message: Message) {
    let policy = inner.policy;
    let mut backoff = policy.backoff;
    let mut last = None;
    for attempt in 1..=policy.attempts.max(1) {
        let result = tokio::time::timeout(
            policy.timeout,
            sender.post(&message.url, message.body.clone()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(SendError {
                message: format!("no answer within {:?}", policy.timeout),
                retry: true,
            })
        });
        match result {
            Ok(()) => {
                inner.counters.sent.fetch_add(1, Ordering::Relaxed);
                if inner.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(receiver = %message.receiver, "notifications are accepted again");
                }
                return;
            }
            Err(error) => {
                let retry = error.retry;
                last = Some(error);
                if !retry || attempt == policy.attempts {
                    break;
                }
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
    inner.counters.failed.fetch_add(1, Ordering::Relaxed);
    let error = last.map(|e| e.message).unwrap_or_default();
    if inner.failing.swap(true, Ordering::Relaxed) {
        tracing::debug!(receiver = %message.receiver, what = message.what, %error, "a notification was not sent");
    } else {
        tracing::warn!(
            receiver = %message.receiver,
            what = message.what,
            %error,
            "a notification was not sent (further failures are logged at debug until one is accepted)"
        );
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The first 7 characters of a commit.
fn short(commit: &str) -> &str {
    commit.get(..7).unwrap_or(commit)
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped in text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `{"text", "blocks"}`: `text` for Mattermost and notifications, a section
/// and a context line for Slack.
fn payload(text: &str, section: &str, context: &str) -> Value {
    json!({
        "text": text,
        "blocks": [
            { "type": "section", "text": { "type": "mrkdwn", "text": section } },
            { "type": "context", "elements": [ { "type": "mrkdwn", "text": context } ] },
        ],
    })
}

fn pr_words(pr: &Option<(u64, String)>) -> (String, String) {
    match pr {
        Some((number, url)) if url.starts_with("http") => (
            format!(" (#{number}: {url})"),
            format!(" (<{url}|#{number}>)"),
        ),
        Some((number, _)) => (format!(" (#{number})"), format!(" (#{number})")),
        None => (String::new(), String::new()),
    }
}

/// The message for a finished apply.
pub fn apply_message(note: &ApplyNote<'_>) -> Value {
    let (icon, verb) = match note.outcome {
        "succeeded" => (":white_check_mark:", "applied"),
        "interrupted" => (":warning:", "interrupted the apply of"),
        _ => (":x:", "failed to apply"),
    };
    let (pr_text, pr_link) = pr_words(&note.pr);
    let commit = short(note.commit);
    let text = format!(
        "{icon} Strata {verb} `{}` at `{commit}` in {}{pr_text}: {}",
        note.environment, note.repo, note.summary
    );
    let section = format!(
        "{icon} Strata {verb} *{}* at `{commit}`{pr_link}\n{}",
        escape(note.environment),
        escape(note.summary)
    );
    let context = format!(
        "{} · run {} · {}",
        escape(note.repo),
        note.run,
        escape(note.trigger)
    );
    payload(&text, &section, &context)
}

/// The message for a stage waiting on a gate.
pub fn gate_message(note: &GateNote<'_>) -> Value {
    let (pr_text, pr_link) = pr_words(&note.pr);
    let commit = short(note.commit);
    let environments = note
        .environments
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let waits = note.waits_for.join("; ");
    let text = format!(
        ":hourglass: Stage `{}` of workflow `{}` ({environments}) at `{commit}` in {}{pr_text} is waiting: {waits}",
        note.stage, note.workflow, note.repo
    );
    let section = format!(
        ":hourglass: Stage *{}* of workflow `{}` ({}) at `{commit}`{pr_link} is waiting:\n{}",
        escape(note.stage),
        escape(note.workflow),
        escape(&environments),
        note.waits_for
            .iter()
            .map(|w| format!("• {}", escape(w)))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let context = escape(note.repo);
    payload(&text, &section, &context)
}

/// The message for drift found or cleared.
pub fn drift_message(
    repo: &str,
    environment: &str,
    stacks: &[String],
    issue_url: Option<&str>,
    cleared: bool,
) -> Value {
    let list = stacks
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let (issue_text, issue_link) = match issue_url {
        Some(url) => (format!(" ({url})"), format!(" (<{url}|issue>)")),
        None => (String::new(), String::new()),
    };
    let (text, section) = if cleared {
        (
            format!(
                ":large_green_circle: Drift cleared: `{environment}` in {repo} matches git again{issue_text}"
            ),
            format!(
                ":large_green_circle: Drift cleared: *{}* matches git again{issue_link}",
                escape(environment)
            ),
        )
    } else {
        let count = stacks.len();
        let plural = if count == 1 { "" } else { "s" };
        (
            format!(
                ":warning: Drift in `{environment}` of {repo}: {count} stack{plural} differ from git ({list}){issue_text}"
            ),
            format!(
                ":warning: Drift in *{}*: {count} stack{plural} differ from git{issue_link}\n{}",
                escape(environment),
                escape(&list)
            ),
        )
    };
    payload(&text, &section, &escape(repo))
}

#[cfg(test)]
mod tests;
