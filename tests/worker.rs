//! The pull-request worker in-process, against the scripted CloudFormation
//! double, for what moto cannot show: a resource that fails, a rollback, the
//! stacks that never start because of it, and the apply comment edited as the
//! waves go. GitHub is the recording fake, reached through octocrab.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use strata::cloud::Cloud;
use strata::cloud::scripted::ScriptedCloud;
use strata::forge::fake::{FakeGitHub, PullRequestSeed};
use strata::forge::{Auth, GitHub, GitHubConfig, Repo, RetryPolicy};
use strata::host::{Host, Limits};
use strata::server::http::Job;
use strata::server::webhook::Event;
use strata::server::worker::{Clouds, Settings, Worker};
use strata::state::{RunKind, RunStatus, State};
use strata_tests::GitFixture;
use strata_tests::server::{self, NAME, OWNER, PrPayload};
use tokio_util::sync::CancellationToken;

const PROD: &str = r#"project = "shop"
environment = "production"
region = "us-east-1"
account = "123456789012"

[tags]
CostCenter = "engineering"
Owner = "platform"

[stacks.networking]
type = "networking"
cidr = "10.2.0.0/16"
availability_zones = 2
nat_gateways = 2
flow_log_retention_days = 90

[stacks.security]
type = "security"
app_port = 8080

[stacks.s3]
type = "s3"
"#;

/// Every region is the one scripted cloud.
struct OneCloud(ScriptedCloud);

#[async_trait]
impl Clouds for OneCloud {
    async fn cloud(&self, _region: &str) -> Arc<dyn Cloud> {
        Arc::new(self.0.clone())
    }
}

fn job(event: &str, payload: &serde_json::Value) -> Job {
    let body = serde_json::to_vec(payload).expect("json");
    Job {
        delivery: format!("d-{}", fastrand_id()),
        event: Event::parse(event, &body).expect("a valid payload"),
        received_at: Instant::now(),
    }
}

fn fastrand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resource_is_reported_on_the_pull_request_and_its_dependents_never_start() {
    // main has no environment yet; #7 adds prod.
    let mut git = GitFixture::new();
    git.write("README.md", "infra\n");
    git.commit("start");
    let base = git.head_id();
    git.write("environments/prod.toml", PROD);
    git.commit("prod");
    let head = git.head_id();
    git.reset_main(&base);
    git.set_ref("refs/pull/7/head", &head);

    let github = FakeGitHub::start().expect("fake GitHub");
    let repo = Repo::new(OWNER, NAME).expect("repo");
    github.add_pull_request(
        &repo,
        PullRequestSeed {
            number: 7,
            head_sha: head.clone(),
            ..PullRequestSeed::default()
        },
    );
    github.set_permission(&repo, "bob", "admin");

    let cloud = ScriptedCloud::new()
        .with_account("123456789012")
        .with_latency(Duration::from_millis(2))
        .with_steps(4);
    cloud.fail_resource(
        "shop-production-networking",
        "FlowLogGroup",
        "Resource handler returned message: \"Invalid retention\"",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let state = State::open(&dir.path().join("state.db")).expect("state");
    let forge = GitHub::new(GitHubConfig {
        base_url: Some(github.url().to_owned()),
        auth: Auth::Token("ghp_test".to_owned()),
        retry: RetryPolicy::default(),
    })
    .expect("a GitHub client");
    let host = Host::new(Limits::default(), Some(cache_dir())).expect("a module host");
    let worker = Worker::new(
        Arc::new(forge),
        state.clone(),
        Arc::new(OneCloud(cloud.clone())),
        Arc::new(host),
        dir.path().join("clones"),
        Settings {
            require_approval: false,
            poll: (Duration::from_millis(1), Duration::from_millis(4)),
            progress_interval: Duration::from_millis(5),
            ..Settings::default()
        },
        CancellationToken::new(),
    );

    let clone_url: &Path = git.path();
    worker
        .handle(job(
            "pull_request",
            &server::pull_request(
                clone_url,
                &PrPayload {
                    action: "opened",
                    number: 7,
                    head_sha: &head,
                    merged: false,
                    sender: "alice",
                },
            ),
        ))
        .await;
    let comment = github.add_comment(&repo, 7, "bob", "/strata apply");
    worker
        .handle(job(
            "issue_comment",
            &server::comment(clone_url, 7, comment, "bob", "/strata apply"),
        ))
        .await;

    let reactions: Vec<String> = github
        .reactions(comment)
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert_eq!(reactions, ["eyes", "confused"]);
    let comments = github.comments(&repo, 7);
    let apply = comments
        .iter()
        .find(|c| c.body.contains("<!-- strata:apply run="))
        .expect("an apply comment");
    assert!(
        apply.body.contains("## ❌ Strata apply of `prod`"),
        "{}",
        apply.body
    );
    assert!(
        apply.body.contains("| `networking` | 1 | ❌ rolled back |"),
        "{}",
        apply.body
    );
    assert!(apply.body.contains("FlowLogGroup"), "{}", apply.body);
    assert!(apply.body.contains("Invalid retention"), "{}", apply.body);
    assert!(
        apply.body.contains(
            "| `security` | 2 | ⏭️ skipped |  | not started: it needs `networking`, which failed |"
        ),
        "{}",
        apply.body
    );
    let reply = comments
        .iter()
        .find(|c| c.body.starts_with("@bob:"))
        .expect("a reply");
    assert!(
        reply.body.contains("the apply of `prod` failed"),
        "{}",
        reply.body
    );

    // The comment was edited while the waves ran, not only at the end.
    let edits = github
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with(&format!("/issues/comments/{}", apply.id)))
        .filter(|r| r.method == "POST" || r.method == "PATCH")
        .count();
    assert!(edits >= 2, "{edits} edits of the apply comment");

    let status = github
        .statuses(&repo, &head)
        .into_iter()
        .rev()
        .find(|s| s.context == "strata/apply: prod")
        .expect("an apply status");
    assert_eq!(status.state, "failure");

    // The run history has each stack as it ended.
    let runs = state.runs("acme/infra", 7).expect("runs");
    let run = runs
        .iter()
        .find(|r| r.kind == RunKind::Apply)
        .expect("an apply run");
    assert_eq!(run.status, RunStatus::Failed);
    let stacks: Vec<(&str, &str)> = run
        .stacks
        .iter()
        .map(|s| (s.stack.as_str(), s.status.as_str()))
        .collect();
    assert!(
        stacks.contains(&("networking", "rolled back")),
        "{stacks:?}"
    );
    assert!(stacks.contains(&("security", "skipped")), "{stacks:?}");
}

fn cache_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache")
}
