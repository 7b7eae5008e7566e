//! What `strata serve` counts, for `GET /metrics` (Prometheus' text format
//! 0.0.4) and `GET /healthz`.
//!
//! One [`Metrics`] is shared (`Arc`) by the listener ([`super::http`]: the
//! deliveries by event and outcome, the queue's depth), the worker (jobs
//! running, plans and applies by outcome with their durations), the watcher
//! (the last successful poll of each repository, through
//! [`Metrics::watching`], [`Metrics::poll_succeeded`] and
//! [`Metrics::poll_failed`]), the drift checks ([`Metrics::set_drift`]) and
//! the notifier (its [`Counters`]). Counters are plain numbers under a `std`
//! mutex held for one update or one rendering, never across an `.await`; no
//! metrics crate is needed for a dozen series.
//!
//! [`Metrics::health`] is the watcher's half of `/healthz`: every watched
//! repository polled successfully within three intervals.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::notify::Counters;

/// How a webhook delivery was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryOutcome {
    /// Queued for the worker (202).
    Accepted,
    /// A redelivery of one handled already.
    Duplicate,
    /// A `ping`.
    Ping,
    /// An event Strata does not act on.
    Ignored,
    /// A missing or wrong signature (401).
    RejectedSignature,
    /// Unreadable: headers, content type, JSON (400, 415).
    BadPayload,
    /// Larger than the body cap (413).
    TooLarge,
    /// The job queue was full, or the worker gone (503).
    Busy,
}

impl DeliveryOutcome {
    /// The label value: `accepted`, `rejected_signature`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Ping => "ping",
            Self::Ignored => "ignored",
            Self::RejectedSignature => "rejected_signature",
            Self::BadPayload => "bad_payload",
            Self::TooLarge => "too_large",
            Self::Busy => "busy",
        }
    }
}

/// Upper bounds (seconds) of the run-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 8] = [1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

/// A Prometheus histogram: cumulative counts per bucket, sum and count.
#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

/// What the watcher reported of one repository.
#[derive(Debug, Clone)]
struct Poll {
    interval: Option<Duration>,
    since: SystemTime,
    last_success: Option<SystemTime>,
    failures: u64,
}

#[derive(Debug, Default)]
struct Series {
    deliveries: BTreeMap<(String, DeliveryOutcome), u64>,
    runs: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    drift: BTreeMap<(String, String), usize>,
    polls: BTreeMap<String, Poll>,
}

/// The server's counters and gauges. Make one with [`Metrics::new`], share it
/// as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    // std Mutex: one update or one rendering at a time, never across an await.
    series: Mutex<Series>,
    jobs_running: AtomicI64,
    queue_depth: AtomicU64,
    notifications: Arc<Counters>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Held while a job runs: [`Metrics::job_started`] counts it in, dropping it
/// counts it out.
#[derive(Debug)]
pub struct RunningJob<'a>(&'a Metrics);

impl Drop for RunningJob<'_> {
    fn drop(&mut self) {
        self.0.jobs_running.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Everything at zero.
    pub fn new() -> Self {
        Self {
            series: Mutex::new(Series::default()),
            jobs_running: AtomicI64::new(0),
            queue_depth: AtomicU64::new(0),
            notifications: Arc::new(Counters::default()),
        }
    }

    fn series(&self) -> MutexGuard<'_, Series> {
        self.series.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A webhook delivery of `event` (`pull_request`, `push`, or the header's
    /// value) was answered with `outcome`.
    pub fn delivery(&self, event: &str, outcome: DeliveryOutcome) {
        *self
            .series()
            .deliveries
            .entry((event.to_owned(), outcome))
            .or_default() += 1;
    }

    /// Jobs waiting in the worker's queue now.
    pub fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.store(depth as u64, Ordering::Relaxed);
    }

    /// A job started; it counts as running until the guard is dropped.
    pub fn job_started(&self) -> RunningJob<'_> {
        self.jobs_running.fetch_add(1, Ordering::Relaxed);
        RunningJob(self)
    }

    /// A run of `kind` (`plan`, `apply`) of one environment ended with
    /// `outcome` (`succeeded`, `failed`, `interrupted`) after `took`.
    pub fn run_finished(&self, kind: &str, outcome: &str, took: Duration) {
        let mut series = self.series();
        *series
            .runs
            .entry((kind.to_owned(), outcome.to_owned()))
            .or_default() += 1;
        series
            .durations
            .entry(kind.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// The last drift check of environment `env` of `repo` found `stacks`
    /// stacks drifted (0: none).
    pub fn set_drift(&self, repo: &str, env: &str, stacks: usize) {
        self.series()
            .drift
            .insert((repo.to_owned(), env.to_owned()), stacks);
    }

    /// The watcher polls `repo` every `interval`, from now: `/healthz` expects a
    /// successful poll within three intervals.
    pub fn watching(&self, repo: &str, interval: Duration) {
        let mut series = self.series();
        let poll = series.polls.entry(repo.to_owned()).or_insert(Poll {
            interval: None,
            since: SystemTime::now(),
            last_success: None,
            failures: 0,
        });
        poll.interval = Some(interval);
        poll.since = SystemTime::now();
    }

    /// A poll of `repo` succeeded at `at`.
    pub fn poll_succeeded(&self, repo: &str, at: SystemTime) {
        let mut series = self.series();
        let poll = series.polls.entry(repo.to_owned()).or_insert(Poll {
            interval: None,
            since: at,
            last_success: None,
            failures: 0,
        });
        poll.last_success = Some(at);
    }

    /// A poll of `repo` failed.
    pub fn poll_failed(&self, repo: &str) {
        let mut series = self.series();
        let poll = series.polls.entry(repo.to_owned()).or_insert(Poll {
            interval: None,
            since: SystemTime::now(),
            last_success: None,
            failures: 0,
        });
        poll.failures += 1;
    }

    /// The notifier's counters: hand them to [`crate::notify::Notifier::start`]
    /// so `/metrics` shows what it sent.
    pub fn notifications(&self) -> Arc<Counters> {
        Arc::clone(&self.notifications)
    }

    /// The watcher's half of `/healthz` at `now`: `Err` names each watched
    /// repository without a successful poll in three intervals (counted from
    /// when watching began, before the first success).
    pub fn health(&self, now: SystemTime) -> Result<(), String> {
        let series = self.series();
        let mut stale = Vec::new();
        for (repo, poll) in &series.polls {
            let Some(interval) = poll.interval else {
                continue;
            };
            let reference = poll.last_success.unwrap_or(poll.since);
            let age = now.duration_since(reference).unwrap_or_default();
            if age > interval * 3 {
                stale.push(match poll.last_success {
                    Some(_) => format!(
                        "the last successful poll of `{repo}` was {}s ago (polled every {}s)",
                        age.as_secs(),
                        interval.as_secs_f64()
                    ),
                    None => format!(
                        "`{repo}` has not been polled successfully in the {}s since watching began (polled every {}s)",
                        age.as_secs(),
                        interval.as_secs_f64()
                    ),
                });
            }
        }
        if stale.is_empty() {
            Ok(())
        } else {
            Err(stale.join("; "))
        }
    }

    /// Every series in Prometheus' text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let series = self.series();

        header(
            &mut out,
            "strata_webhook_deliveries_total",
            "counter",
            "Webhook deliveries by event and how they were answered.",
        );
        for ((event, outcome), n) in &series.deliveries {
            sample(
                &mut out,
                "strata_webhook_deliveries_total",
                &[("event", event), ("outcome", outcome.as_str())],
                *n as f64,
            );
        }

        header(
            &mut out,
            "strata_job_queue_depth",
            "gauge",
            "Jobs waiting to be taken (in the state database's queue, across every replica).",
        );
        sample(
            &mut out,
            "strata_job_queue_depth",
            &[],
            self.queue_depth.load(Ordering::Relaxed) as f64,
        );
        header(
            &mut out,
            "strata_jobs_running",
            "gauge",
            "Jobs the worker is doing now.",
        );
        sample(
            &mut out,
            "strata_jobs_running",
            &[],
            self.jobs_running.load(Ordering::Relaxed) as f64,
        );

        header(
            &mut out,
            "strata_runs_total",
            "counter",
            "Plans and applies of one environment, by kind and outcome.",
        );
        for ((kind, outcome), n) in &series.runs {
            sample(
                &mut out,
                "strata_runs_total",
                &[("kind", kind), ("outcome", outcome)],
                *n as f64,
            );
        }
        header(
            &mut out,
            "strata_run_duration_seconds",
            "histogram",
            "How long plans and applies took, by kind.",
        );
        for (kind, histogram) in &series.durations {
            for (bound, n) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
                sample(
                    &mut out,
                    "strata_run_duration_seconds_bucket",
                    &[("kind", kind), ("le", &bound.to_string())],
                    n as f64,
                );
            }
            sample(
                &mut out,
                "strata_run_duration_seconds_bucket",
                &[("kind", kind), ("le", "+Inf")],
                histogram.count as f64,
            );
            sample(
                &mut out,
                "strata_run_duration_seconds_sum",
                &[("kind", kind)],
                histogram.sum,
            );
            sample(
                &mut out,
                "strata_run_duration_seconds_count",
                &[("kind", kind)],
                histogram.count as f64,
            );
        }

        header(
            &mut out,
            "strata_drift",
            "gauge",
            "1 when the last drift check found the environment drifted, else 0.",
        );
        for ((repo, env), stacks) in &series.drift {
            sample(
                &mut out,
                "strata_drift",
                &[("repo", repo), ("env", env)],
                if *stacks > 0 { 1.0 } else { 0.0 },
            );
        }
        header(
            &mut out,
            "strata_drifted_stacks",
            "gauge",
            "Stacks the last drift check found drifted, per environment.",
        );
        for ((repo, env), stacks) in &series.drift {
            sample(
                &mut out,
                "strata_drifted_stacks",
                &[("repo", repo), ("env", env)],
                *stacks as f64,
            );
        }

        header(
            &mut out,
            "strata_poll_last_success_timestamp_seconds",
            "gauge",
            "When the watcher last fetched the repository successfully (Unix seconds).",
        );
        for (repo, poll) in &series.polls {
            if let Some(at) = poll.last_success {
                sample(
                    &mut out,
                    "strata_poll_last_success_timestamp_seconds",
                    &[("repo", repo)],
                    unix_seconds(at),
                );
            }
        }
        header(
            &mut out,
            "strata_poll_failures_total",
            "counter",
            "Polls of the repository that failed.",
        );
        for (repo, poll) in &series.polls {
            sample(
                &mut out,
                "strata_poll_failures_total",
                &[("repo", repo)],
                poll.failures as f64,
            );
        }
        drop(series);

        header(
            &mut out,
            "strata_notifications_total",
            "counter",
            "Chat notifications by outcome: sent, failed (after every attempt), dropped (queue full).",
        );
        let n = &self.notifications;
        for (outcome, counter) in [
            ("sent", &n.sent),
            ("failed", &n.failed),
            ("dropped", &n.dropped),
        ] {
            sample(
                &mut out,
                "strata_notifications_total",
                &[("outcome", outcome)],
                counter.load(Ordering::Relaxed) as f64,
            );
        }
        header(
            &mut out,
            "strata_notification_queue_depth",
            "gauge",
            "Chat notifications waiting to be sent.",
        );
        sample(
            &mut out,
            "strata_notification_queue_depth",
            &[],
            n.queued.load(Ordering::Relaxed) as f64,
        );
        out
    }
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs() as f64)
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{key}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_help_type_and_escaped_labels() {
        let metrics = Metrics::new();
        metrics.delivery("push", DeliveryOutcome::Accepted);
        metrics.delivery("push", DeliveryOutcome::Accepted);
        metrics.delivery("pull_request", DeliveryOutcome::RejectedSignature);
        metrics.run_finished("apply", "succeeded", Duration::from_secs(12));
        metrics.run_finished("apply", "failed", Duration::from_millis(500));
        metrics.set_drift("acme/in\"fra", "prod\\x", 2);
        metrics.set_queue_depth(3);
        metrics
            .notifications()
            .dropped
            .fetch_add(4, Ordering::Relaxed);
        let _job = metrics.job_started();
        insta::assert_snapshot!(metrics.render());
    }

    #[test]
    fn a_running_job_is_counted_until_its_guard_is_dropped() {
        let metrics = Metrics::new();
        {
            let _job = metrics.job_started();
            assert!(metrics.render().contains("strata_jobs_running 1\n"));
        }
        assert!(metrics.render().contains("strata_jobs_running 0\n"));
    }

    #[test]
    fn health_wants_a_successful_poll_within_three_intervals() {
        let metrics = Metrics::new();
        let now = SystemTime::now();
        assert_eq!(metrics.health(now), Ok(()));
        metrics.watching("acme/infra", Duration::from_secs(10));
        assert_eq!(metrics.health(now), Ok(()), "just started watching");
        metrics.poll_succeeded("acme/infra", now);
        assert_eq!(metrics.health(now + Duration::from_secs(29)), Ok(()));
        metrics.poll_failed("acme/infra");
        let later = now + Duration::from_secs(31);
        assert_eq!(
            metrics.health(later),
            Err(
                "the last successful poll of `acme/infra` was 31s ago (polled every 10s)"
                    .to_owned()
            )
        );
        assert!(
            metrics
                .render()
                .contains("strata_poll_failures_total{repo=\"acme/infra\"} 1\n")
        );
    }
}
