//! The watcher: the config repository's default branch, fetched on an
//! interval, handed to the workflows' push triggers commit by commit.
//!
//! Each poll fetches the mirror and reads the branch's tip. A tip the
//! watcher has not seen starts the promotions the workflows say (exactly as
//! a push webhook would: every new commit in order for `commits = "each"`,
//! the tip otherwise), each environment planned from what it last deployed.
//! The last commit seen is kept in the state database, so a restart between
//! two commits deploys the second and nothing twice. A push webhook only
//! wakes the watcher early; a delivery that never came is caught by the next
//! poll.
//!
//! A tip that does not descend from the last commit seen (a force-push that
//! rewrote deployed history) is refused: reported once, with a commit status
//! and in the log, until the branch contains the last commit again or an
//! operator runs `strata watch --reset`. A repository that cannot be fetched
//! is retried with exponential backoff (up to [`MAX_BACKOFF`]) and reported
//! once when it starts failing and once when it recovers, not per tick.
//!
//! After every successful poll the workflows' `[[on.schedule]]` triggers are
//! evaluated: a drift check, or a promotion of the tip.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use super::promote::{Landing, timestamp};
use super::{Failure, Worker, blocking, lock};
use crate::forge::{Repo, StatusState};
use crate::repo::Repository;
use crate::repo::mirror::redact;
use crate::state::NewPromotion;
use crate::workflow::{self, Facts};

/// The longest wait between two fetches of a repository that keeps failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The schedule bookkeeping key: schedules are evaluated for `(since, now]`
/// where `since` is the last evaluation, kept under this workflow name.
const SCHEDULES_EVALUATED: &str = "*";

/// What a watcher follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTarget {
    /// The repository's name in the state database and on the forge.
    pub repo: Repo,
    /// Where it is fetched from: a path (a work tree or a bare repository)
    /// or a URL (`https://`, `http://`, `file://`, `ssh://`).
    pub url: String,
    /// The branch; `None`: the remote's default branch.
    pub branch: Option<String>,
    /// The time between two polls.
    pub interval: Duration,
}

impl WatchTarget {
    /// A target for `location` (a path or a URL). Its name is `name` when
    /// given, else `owner/name` from the URL's last two parts
    /// (`https://github.com/acme/infra.git` is `acme/infra`), or
    /// `local/NAME` for a path (`/srv/git/infra.git` is `local/infra`).
    pub fn new(
        location: &str,
        name: Option<&str>,
        branch: Option<String>,
        interval: Duration,
    ) -> Result<Self, String> {
        let url = if location.contains("://") {
            location.to_owned()
        } else {
            let path = Path::new(location);
            let absolute = path
                .canonicalize()
                .map_err(|e| format!("cannot watch `{location}`: {e}"))?;
            absolute.to_string_lossy().into_owned()
        };
        let repo = match name {
            Some(name) => name.parse::<Repo>().map_err(|e| e.to_string())?,
            None => repo_name(&url)?,
        };
        if interval.is_zero() {
            return Err("the poll interval must be longer than zero".to_owned());
        }
        Ok(Self {
            repo,
            url,
            branch,
            interval,
        })
    }
}

/// `owner/name` for a repository at `url`.
fn repo_name(url: &str) -> Result<Repo, String> {
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or("", |(_, path)| path),
        None => url,
    };
    let parts: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".git")
        .collect();
    let clean = |part: &str| {
        part.trim_end_matches(".git")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
    };
    let repo = match (
        url.contains("://") && !url.starts_with("file://"),
        parts.as_slice(),
    ) {
        (true, [.., owner, name]) => Repo::new(&clean(owner), &clean(name)),
        (_, [.., name]) => Repo::new("local", &clean(name)),
        (_, []) => return Err(format!("cannot tell a repository name from `{url}`")),
    };
    repo.map_err(|e| format!("{e}; name it with --name OWNER/NAME"))
}

/// How one poll went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// The tip is the commit seen last.
    Unchanged {
        /// The branch's tip.
        tip: String,
    },
    /// New commits were handed to the workflows.
    Landed {
        /// The commit seen before (`None`: the first poll).
        before: Option<String>,
        /// The new tip.
        tip: String,
    },
    /// The tip does not descend from the last commit seen: not deployed.
    Refused {
        /// The last commit seen.
        last_seen: String,
        /// The rewritten tip.
        tip: String,
        /// Whether this tip was refused for the first time (and reported).
        news: bool,
    },
}

/// A watched repository's wake-up call and branch, for push webhooks.
#[derive(Debug, Default)]
pub(super) struct Watched {
    wake: Arc<Notify>,
    branch: Option<String>,
}

impl Worker {
    /// Whether a push to `branch` of `repo` is the watcher's: then it is
    /// woken and the push needs nothing else.
    pub(super) fn wake_watcher(&self, repo: &str, branch: &str) -> bool {
        let watching = lock(&self.watching);
        match watching.get(repo) {
            Some(watched) => {
                watched.wake.notify_one();
                watched.branch.as_deref().is_none_or(|b| b == branch)
            }
            None => false,
        }
    }

    /// Fetch `target` once and hand a new tip to the workflows, then run
    /// the schedules that are due.
    pub async fn poll(&self, target: &WatchTarget) -> Result<Polled, Failure> {
        let full_name = target.repo.full_name();
        let mirror = self.sync(&target.repo, &target.url).await?;
        self.metrics.poll_succeeded(&full_name, SystemTime::now());
        let (branch, tip) = {
            let _turn = self.repos.lock(&full_name).await;
            let wanted = target.branch.clone();
            let mirror = mirror.clone();
            blocking(move || branch_tip(&mirror, wanted.as_deref())).await?
        };
        if let Some(watched) = lock(&self.watching).get_mut(&full_name) {
            watched.branch = Some(branch.clone());
        }
        let seen = self.state.watch(&full_name, &branch)?;
        let last_seen = seen.as_ref().and_then(|w| w.last_seen.clone());
        let polled = match last_seen {
            Some(last) if last == tip => {
                self.state.record_poll(
                    &full_name,
                    &branch,
                    &redact(&target.url),
                    None,
                    SystemTime::now(),
                )?;
                Polled::Unchanged { tip }
            }
            Some(last)
                if !self
                    .descends(&full_name, mirror.clone(), &last, &tip)
                    .await? =>
            {
                self.state.record_poll(
                    &full_name,
                    &branch,
                    &redact(&target.url),
                    None,
                    SystemTime::now(),
                )?;
                let news = self.state.record_refused(&full_name, &branch, &tip)?;
                if news {
                    tracing::error!(
                        repo = %full_name,
                        %branch,
                        last_seen = %last,
                        %tip,
                        "refusing a force-push: `{branch}` no longer contains the last commit deployed from it; nothing is deployed until it does, or until `strata watch --reset`"
                    );
                    self.status(
                        &target.repo,
                        &tip,
                        "strata/watch",
                        StatusState::Error,
                        &format!(
                            "not deployed: `{branch}` was force-pushed over {}",
                            &last[..last.len().min(7)]
                        ),
                        None,
                    )
                    .await;
                }
                Polled::Refused {
                    last_seen: last,
                    tip,
                    news,
                }
            }
            before => {
                tracing::info!(repo = %full_name, %branch, before = before.as_deref().unwrap_or("none"), %tip, "new commits");
                let landing = self.landed(Landing {
                    repo: target.repo.clone(),
                    clone_url: target.url.clone(),
                    branch: branch.clone(),
                    default_branch: branch.clone(),
                    before: before.clone().unwrap_or_else(|| "none".to_owned()),
                    after: tip.clone(),
                    pr: None,
                });
                tokio::pin!(landing);
                // A long apply is the watcher at work, not a watcher stuck:
                // `/healthz` hears from it every interval meanwhile.
                let landed = loop {
                    tokio::select! {
                        landed = &mut landing => break landed,
                        () = tokio::time::sleep(target.interval) => {
                            self.metrics.poll_succeeded(&full_name, SystemTime::now());
                        }
                    }
                };
                // Seen either way: a commit whose workflows are invalid is
                // reported on it once, not on every poll.
                self.state.record_poll(
                    &full_name,
                    &branch,
                    &redact(&target.url),
                    Some(&tip),
                    SystemTime::now(),
                )?;
                if let Err(failure) = landed {
                    tracing::error!(repo = %full_name, commit = %tip, %failure, "the new commits were not deployed");
                }
                Polled::Landed { before, tip }
            }
        };
        let tip = match &polled {
            Polled::Unchanged { tip } | Polled::Landed { tip, .. } => tip.clone(),
            Polled::Refused { last_seen, .. } => last_seen.clone(),
        };
        self.run_schedules(target, &branch, &tip).await;
        Ok(polled)
    }

    /// Whether `tip` descends from (or is) `ancestor`.
    async fn descends(
        &self,
        repo: &str,
        mirror: PathBuf,
        ancestor: &str,
        tip: &str,
    ) -> Result<bool, Failure> {
        let _turn = self.repos.lock(&repo.to_owned()).await;
        let (ancestor, tip) = (ancestor.to_owned(), tip.to_owned());
        blocking(move || {
            let repository = Repository::discover(&mirror).map_err(|e| Failure(e.to_string()))?;
            // A last-seen commit the mirror lost is history rewritten too.
            Ok(repository.resolve(&ancestor).is_ok()
                && repository
                    .is_ancestor(&ancestor, &tip)
                    .map_err(|e| Failure(e.to_string()))?)
        })
        .await
    }

    /// Poll `target` every interval until the worker shuts down; a push
    /// webhook for it polls at once. Fetch failures back off exponentially
    /// and are logged when they start and when they end.
    pub async fn watch(self: Arc<Self>, target: WatchTarget) {
        let full_name = target.repo.full_name();
        let wake = {
            let mut watching = lock(&self.watching);
            let watched = watching.entry(full_name.clone()).or_default();
            watched.branch = target.branch.clone();
            Arc::clone(&watched.wake)
        };
        self.metrics.watching(&full_name, target.interval);
        tracing::info!(
            repo = %full_name,
            url = %redact(&target.url),
            branch = target.branch.as_deref().unwrap_or("(the remote's default)"),
            interval_ms = target.interval.as_millis() as u64,
            "watching"
        );
        let mut failures: u32 = 0;
        loop {
            if self.shutdown.is_cancelled() {
                break;
            }
            let delay = match self.poll(&target).await {
                Ok(polled) => {
                    if failures > 0 {
                        tracing::info!(repo = %full_name, failures, "the repository can be fetched again");
                    }
                    failures = 0;
                    tracing::debug!(repo = %full_name, ?polled, "polled");
                    target.interval
                }
                Err(failure) => {
                    self.metrics.poll_failed(&full_name);
                    failures = failures.saturating_add(1);
                    let branch = target.branch.as_deref().unwrap_or("");
                    if let Err(error) = self.state.record_poll_error(
                        &full_name,
                        branch,
                        &redact(&target.url),
                        &failure.0,
                    ) {
                        tracing::warn!(%error, "cannot record the failed poll");
                    }
                    let delay = backoff(target.interval, failures);
                    if failures == 1 {
                        tracing::error!(
                            repo = %full_name,
                            error = %failure,
                            "cannot poll the repository; retrying with backoff (up to every {}s) and reporting again when it recovers",
                            MAX_BACKOFF.as_secs()
                        );
                    } else {
                        tracing::debug!(repo = %full_name, failures, retry_in_ms = delay.as_millis() as u64, error = %failure, "still cannot poll");
                    }
                    delay
                }
            };
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(delay) => {}
            }
        }
        lock(&self.watching).remove(&full_name);
        tracing::info!(repo = %full_name, "stopped watching");
    }

    /// Run the workflows' schedules due since the last evaluation.
    async fn run_schedules(&self, target: &WatchTarget, branch: &str, tip: &str) {
        let full_name = target.repo.full_name();
        let now = SystemTime::now();
        let since = match self
            .state
            .schedule_fired(&full_name, SCHEDULES_EVALUATED, 0)
        {
            Ok(Some(since)) => since,
            Ok(None) => {
                // The first poll ever: schedules count from now.
                if let Err(error) =
                    self.state
                        .record_schedule_fired(&full_name, SCHEDULES_EVALUATED, 0, now)
                {
                    tracing::warn!(%error, "cannot record the schedules' evaluation");
                }
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read when schedules last ran");
                return;
            }
        };
        if timestamp(now) / 60 <= timestamp(since) / 60 {
            return; // Schedules fire on whole minutes.
        }
        let governing = match self.governing(&target.repo, tip, tip, branch).await {
            Ok(governing) => governing,
            Err(failure) => {
                tracing::warn!(%failure, "cannot read the workflows for their schedules");
                return;
            }
        };
        let decision = workflow::decide(
            &governing.workflows,
            &workflow::Event::Schedule {
                since: timestamp(since),
            },
            &Facts {
                now: timestamp(now),
                default_branch: branch.to_owned(),
                run: None,
            },
        );
        if let Err(error) =
            self.state
                .record_schedule_fired(&full_name, SCHEDULES_EVALUATED, 0, now)
        {
            tracing::warn!(%error, "cannot record the schedules' evaluation");
        }
        for scheduled in decision.scheduled {
            tracing::info!(repo = %full_name, workflow = %scheduled.workflow, action = %scheduled.action, environments = ?scheduled.environments, "schedule due");
            let result = match scheduled.action {
                workflow::ScheduleAction::Drift => {
                    self.scheduled_drift(target, &scheduled, tip).await
                }
                workflow::ScheduleAction::Apply => {
                    self.scheduled_apply(target, &scheduled, branch, tip).await
                }
            };
            if let Err(failure) = result {
                tracing::error!(repo = %full_name, workflow = %scheduled.workflow, %failure, "the scheduled run failed");
            }
        }
    }

    /// A scheduled apply: the workflow's stages run again at the tip, each
    /// environment brought back to what git says.
    async fn scheduled_apply(
        &self,
        target: &WatchTarget,
        scheduled: &workflow::Scheduled,
        branch: &str,
        tip: &str,
    ) -> Result<(), Failure> {
        let full_name = target.repo.full_name();
        let (promotion, _) = self.state.restart_promotion(
            &NewPromotion {
                repo: &full_name,
                workflow: &scheduled.workflow,
                commit: tip,
                pr: None,
                branch,
                clone_url: &target.url,
                base: tip,
                touched: &scheduled.environments,
                inputs: &Default::default(),
                dispatched: true,
            },
            SystemTime::now(),
        )?;
        self.advance(promotion).await
    }
}

/// The branch to follow in `mirror` (`wanted`, else the mirror's `HEAD`,
/// else `main` or `master`) and its tip.
fn branch_tip(mirror: &Path, wanted: Option<&str>) -> Result<(String, String), Failure> {
    let repository = git2::Repository::open_bare(mirror)
        .map_err(|e| Failure(format!("cannot open the mirror: {}", e.message())))?;
    let branch = match wanted {
        Some(branch) => branch.to_owned(),
        None => repository
            .find_reference("HEAD")
            .ok()
            .and_then(|head| head.symbolic_target().ok().flatten().map(str::to_owned))
            .and_then(|target| target.strip_prefix("refs/heads/").map(str::to_owned))
            .filter(|b| repository.refname_to_id(&format!("refs/heads/{b}")).is_ok())
            .or_else(|| {
                ["main", "master"]
                    .into_iter()
                    .find(|b| repository.refname_to_id(&format!("refs/heads/{b}")).is_ok())
                    .map(str::to_owned)
            })
            .ok_or_else(|| {
                Failure(
                    "the repository has no default branch (no `HEAD`, `main` or `master`); name one with --branch"
                        .to_owned(),
                )
            })?,
    };
    let tip = repository
        .refname_to_id(&format!("refs/heads/{branch}"))
        .map_err(|_| Failure(format!("the repository has no branch `{branch}`")))?;
    Ok((branch, tip.to_string()))
}

/// The wait after `failures` failed polls in a row: the interval doubled
/// per failure, at most [`MAX_BACKOFF`] (and never less than the interval).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(16);
    interval
        .saturating_mul(factor)
        .min(MAX_BACKOFF)
        .max(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_url_or_the_path() {
        let name = |url: &str| repo_name(url).map(|r| r.full_name());
        assert_eq!(
            name("https://github.com/acme/infra.git").as_deref(),
            Ok("acme/infra")
        );
        assert_eq!(
            name("http://127.0.0.1:9000/git/infra").as_deref(),
            Ok("git/infra")
        );
        assert_eq!(name("/srv/git/infra.git").as_deref(), Ok("local/infra"));
        assert_eq!(name("/home/me/infra/.git").as_deref(), Ok("local/infra"));
        assert_eq!(name("file:///srv/infra.git").as_deref(), Ok("local/infra"));
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let second = Duration::from_secs(1);
        assert_eq!(backoff(second, 1), Duration::from_secs(2));
        assert_eq!(backoff(second, 3), Duration::from_secs(8));
        assert_eq!(backoff(second, 40), MAX_BACKOFF);
        assert_eq!(
            backoff(Duration::from_secs(600), 1),
            Duration::from_secs(600)
        );
    }
}
