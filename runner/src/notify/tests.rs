use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::workflow::{Notify, NotifyEvent, Webhook};

fn notify(events: &[NotifyEvent]) -> Notify {
    Notify {
        webhook: Webhook::Url("http://127.0.0.1:9/hook".to_owned()),
        on: events.iter().copied().collect(),
    }
}

fn apply_note() -> ApplyNote<'static> {
    ApplyNote {
        repo: "acme/infra",
        environment: "prod",
        commit: "0123456789abcdef",
        outcome: "failed",
        summary: "1 updated, 1 failed in 41.0s",
        run: 12,
        trigger: "stage `prod` of workflow `release` for the merge of #7",
        pr: Some((7, "https://github.com/acme/infra/pull/7".to_owned())),
    }
}

/// Records what it is given; fails the first `failures` posts; each post
/// takes `delay`.
#[derive(Default)]
struct Recorder {
    posts: Mutex<Vec<(String, Bytes)>>,
    failures: Mutex<u32>,
    delay: Duration,
}

#[async_trait]
impl Sender for Recorder {
    async fn post(&self, url: &str, body: Bytes) -> Result<(), SendError> {
        tokio::time::sleep(self.delay).await;
        {
            let mut failures = self.failures.lock().expect("failures");
            if *failures > 0 {
                *failures -= 1;
                return Err(SendError {
                    message: "the receiver answered 503".to_owned(),
                    retry: true,
                });
            }
        }
        self.posts
            .lock()
            .expect("posts")
            .push((url.to_owned(), body));
        Ok(())
    }
}

fn quick() -> Policy {
    Policy {
        timeout: Duration::from_millis(200),
        attempts: 3,
        backoff: Duration::from_millis(1),
        capacity: 4,
    }
}

#[test]
fn apply_messages_carry_environment_commit_outcome_counts_and_the_pull_request() {
    insta::assert_json_snapshot!(apply_message(&apply_note()));
}

#[test]
fn gate_messages_say_what_the_stage_waits_for() {
    let environments = vec!["prod".to_owned()];
    let waits = vec![
        "an approval from `acme/platform`".to_owned(),
        "the window mon-thu 09:00-16:00 Europe/Berlin".to_owned(),
    ];
    insta::assert_json_snapshot!(gate_message(&GateNote {
        repo: "acme/infra",
        workflow: "release",
        commit: "0123456789abcdef",
        stage: "prod",
        environments: &environments,
        waits_for: &waits,
        pr: None,
    }));
}

#[test]
fn drift_messages_name_the_stacks_and_the_issue_and_say_when_it_cleared() {
    let stacks = vec!["database".to_owned(), "networking".to_owned()];
    insta::assert_json_snapshot!(
        "drift_found",
        drift_message(
            "acme/infra",
            "prod",
            &stacks,
            Some("https://github.com/acme/infra/issues/3"),
            false
        )
    );
    insta::assert_json_snapshot!(
        "drift_cleared",
        drift_message("acme/infra", "prod", &[], None, true)
    );
}

#[tokio::test]
async fn sends_only_the_events_the_workflow_asks_for() {
    let recorder = Arc::new(Recorder::default());
    let counters = Arc::new(Counters::default());
    let notifier = Notifier::start(
        recorder.clone(),
        quick(),
        counters.clone(),
        CancellationToken::new(),
    );
    let only_drift = notify(&[NotifyEvent::Drift]);
    notifier.apply_finished(Some(&only_drift), &apply_note());
    notifier.apply_finished(None, &apply_note());
    notifier.notify_drift(Some(&only_drift), "acme/infra", "prod", &[], None, true);
    notifier.idle().await;
    let posts = recorder.posts.lock().expect("posts");
    assert_eq!(posts.len(), 1);
    assert!(String::from_utf8_lossy(&posts[0].1).contains("Drift cleared"));
    assert_eq!(counters.sent.load(Ordering::Relaxed), 1);
}

fn gate(waits: &[String]) -> GateNote<'_> {
    GateNote {
        repo: "acme/infra",
        workflow: "release",
        commit: "abc",
        stage: "prod",
        environments: &[],
        waits_for: waits,
        pr: None,
    }
}

#[tokio::test]
async fn announces_a_waiting_gate_once_per_stage_and_reason() {
    let recorder = Arc::new(Recorder::default());
    let notifier = Notifier::start(
        recorder.clone(),
        quick(),
        Arc::new(Counters::default()),
        CancellationToken::new(),
    );
    let all = notify(&NotifyEvent::ALL);
    let approval = vec!["an approval".to_owned()];
    let window = vec!["the window".to_owned()];
    notifier.gate_waiting(Some(&all), &gate(&approval));
    notifier.gate_waiting(Some(&all), &gate(&approval));
    notifier.gate_waiting(Some(&all), &gate(&window));
    notifier.idle().await;
    assert_eq!(recorder.posts.lock().expect("posts").len(), 2);
}

#[tokio::test]
async fn retries_a_failing_receiver_and_counts_what_it_gave_up() {
    let recorder = Arc::new(Recorder {
        failures: Mutex::new(4),
        ..Recorder::default()
    });
    let counters = Arc::new(Counters::default());
    let notifier = Notifier::start(
        recorder.clone(),
        quick(),
        counters.clone(),
        CancellationToken::new(),
    );
    let all = notify(&NotifyEvent::ALL);
    // Three attempts fail: given up. The next fails once, then is accepted.
    notifier.apply_finished(Some(&all), &apply_note());
    notifier.apply_finished(Some(&all), &apply_note());
    notifier.idle().await;
    assert_eq!(counters.failed.load(Ordering::Relaxed), 1);
    assert_eq!(counters.sent.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_hanging_receiver_fills_a_bounded_queue_and_the_oldest_are_dropped() {
    let recorder = Arc::new(Recorder {
        delay: Duration::from_secs(3600),
        ..Recorder::default()
    });
    let counters = Arc::new(Counters::default());
    let notifier = Notifier::start(
        recorder,
        quick(),
        counters.clone(),
        CancellationToken::new(),
    );
    let all = notify(&NotifyEvent::ALL);
    let started = Instant::now();
    for _ in 0..20 {
        notifier.apply_finished(Some(&all), &apply_note());
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "queueing never waits"
    );
    assert!(notifier.pending() <= 4);
    assert!(counters.dropped.load(Ordering::Relaxed) >= 15);
}

#[tokio::test]
async fn an_unset_url_variable_counts_as_failed_without_sending() {
    let recorder = Arc::new(Recorder::default());
    let counters = Arc::new(Counters::default());
    let notifier = Notifier::start(
        recorder.clone(),
        quick(),
        counters.clone(),
        CancellationToken::new(),
    );
    let unset = Notify {
        webhook: Webhook::Env("STRATA_TEST_SURELY_UNSET_WEBHOOK".to_owned()),
        on: NotifyEvent::ALL.into_iter().collect(),
    };
    notifier.apply_finished(Some(&unset), &apply_note());
    notifier.idle().await;
    assert!(recorder.posts.lock().expect("posts").is_empty());
    assert_eq!(counters.failed.load(Ordering::Relaxed), 1);
}

#[test]
fn a_webhook_is_shown_without_its_secret_path() {
    assert_eq!(
        Webhook::Url("https://hooks.slack.com/services/T0/B0/XYZ".to_owned()).to_string(),
        "https://hooks.slack.com/…"
    );
    assert_eq!(
        Webhook::Env("SLACK_WEBHOOK_URL".to_owned()).to_string(),
        "$SLACK_WEBHOOK_URL"
    );
}

#[tokio::test]
async fn what_is_queued_at_shutdown_is_still_sent() {
    let recorder = Arc::new(Recorder {
        delay: Duration::from_millis(20),
        ..Recorder::default()
    });
    let counters = Arc::new(Counters::default());
    let shutdown = CancellationToken::new();
    let notifier = Notifier::start(
        recorder.clone(),
        quick(),
        counters.clone(),
        shutdown.clone(),
    );
    let all = notify(&NotifyEvent::ALL);
    notifier.apply_finished(Some(&all), &apply_note());
    notifier.apply_finished(Some(&all), &apply_note());
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), notifier.idle())
        .await
        .expect("drained in time");
    assert_eq!(counters.sent.load(Ordering::Relaxed), 2);
}
