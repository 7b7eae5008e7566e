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
use strata::forge::fake::{FakeGitHub, Fault, FaultKind, PullRequestSeed};
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

/// A config repository whose pull request #7 adds prod, the fake GitHub,
/// and a worker on the scripted cloud.
struct Harness {
    git: GitFixture,
    head: String,
    github: FakeGitHub,
    repo: Repo,
    cloud: ScriptedCloud,
    state: State,
    worker: Arc<Worker>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new(cloud: ScriptedCloud) -> Self {
        Self::with(cloud, PROD, &[])
    }

    /// A harness whose #7 adds `prod` (the text of `environments/prod.toml`)
    /// and `files`.
    fn with(cloud: ScriptedCloud, prod: &str, files: &[(&str, Vec<u8>)]) -> Self {
        Self::with_retry(cloud, prod, files, RetryPolicy::default())
    }

    /// [`Harness::with`], with the GitHub client retrying as `retry` says.
    fn with_retry(
        cloud: ScriptedCloud,
        prod: &str,
        files: &[(&str, Vec<u8>)],
        retry: RetryPolicy,
    ) -> Self {
        // main has no environment yet; #7 adds prod.
        let mut git = GitFixture::new();
        git.write("README.md", "infra\n");
        git.commit("start");
        let base = git.head_id();
        git.write("environments/prod.toml", prod);
        for (path, bytes) in files {
            git.fixture.write_bytes(path, bytes);
        }
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

        let dir = tempfile::tempdir().expect("temp dir");
        let state = State::open(&dir.path().join("state.db")).expect("state");
        let forge = GitHub::new(GitHubConfig {
            base_url: Some(github.url().to_owned()),
            auth: Auth::Token("ghp_test".to_owned()),
            retry,
        })
        .expect("a GitHub client");
        let host = Host::new(Limits::default(), Some(cache_dir())).expect("a module host");
        let shutdown = CancellationToken::new();
        let worker = Arc::new(Worker::new(
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
            shutdown.clone(),
        ));
        Self {
            git,
            head,
            github,
            repo,
            cloud,
            state,
            worker,
            shutdown,
            _dir: dir,
        }
    }

    async fn open_pull_request(&self) {
        let payload = server::pull_request(
            self.git.path(),
            &PrPayload {
                action: "opened",
                number: 7,
                head_sha: &self.head,
                merged: false,
                sender: "alice",
            },
        );
        self.worker.handle(job("pull_request", &payload)).await;
    }

    /// bob comments `/strata apply`: the comment's id and the job.
    fn apply_job(&self) -> (u64, Job) {
        let comment = self
            .github
            .add_comment(&self.repo, 7, "bob", "/strata apply");
        let payload = server::comment(self.git.path(), 7, comment, "bob", "/strata apply");
        (comment, job("issue_comment", &payload))
    }

    /// bob comments `/strata apply`, and the worker does it; the comment's id.
    async fn apply(&self) -> u64 {
        let (comment, job) = self.apply_job();
        self.worker.handle(job).await;
        comment
    }

    fn apply_comment(&self) -> String {
        self.github
            .comments(&self.repo, 7)
            .into_iter()
            .find(|c| c.body.contains("<!-- strata:apply run="))
            .map(|c| c.body)
            .expect("an apply comment")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_resource_is_reported_on_the_pull_request_and_its_dependents_never_start() {
    let cloud = ScriptedCloud::new()
        .with_account("123456789012")
        .with_latency(Duration::from_millis(2))
        .with_steps(4);
    cloud.fail_resource(
        "shop-production-networking",
        "FlowLogGroup",
        "Resource handler returned message: \"Invalid retention\"",
    );
    let harness = Harness::new(cloud);
    let Harness {
        github,
        repo,
        state,
        head,
        ..
    } = &harness;
    harness.open_pull_request().await;
    let comment = harness.apply().await;

    let reactions: Vec<String> = github
        .reactions(comment)
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert_eq!(reactions, ["eyes", "confused"]);
    let comments = github.comments(repo, 7);
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
    insta::with_settings!({filters => vec![(r"\d+\.\ds", "[time]")]}, {
        insta::assert_snapshot!("failed_apply_comment", apply.body);
    });
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
        .statuses(repo, head)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_lets_running_stacks_finish_starts_no_more_and_records_the_run_as_interrupted() {
    // Slow enough that the shutdown lands while wave 1 runs.
    let cloud = ScriptedCloud::new()
        .with_account("123456789012")
        .with_latency(Duration::from_millis(30))
        .with_steps(5);
    let harness = Harness::new(cloud);
    harness.open_pull_request().await;
    let (_, apply) = harness.apply_job();
    let worker = Arc::clone(&harness.worker);
    let applying = tokio::spawn(async move { worker.handle(apply).await });
    let started = Instant::now();
    while !harness
        .cloud
        .calls()
        .iter()
        .any(|c| c.operation == "CreateStack" && c.subject == "shop-production-networking")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no stack started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    harness.shutdown.cancel();
    applying.await.expect("the apply job");

    let body = harness.apply_comment();
    assert!(
        body.contains("The server shut down during the apply"),
        "{body}"
    );
    assert!(body.contains("| `networking` | 1 | ✅ created |"), "{body}");
    assert!(body.contains("| `security` | 2 | ⏭️ skipped |"), "{body}");
    // What had started finished in CloudFormation; nothing else began.
    let networking = harness
        .cloud
        .stack("shop-production-networking")
        .expect("networking exists");
    assert_eq!(networking.status.to_string(), "CREATE_COMPLETE");
    assert!(harness.cloud.stack("shop-production-security").is_none());
    let runs = harness.state.runs("acme/infra", 7).expect("runs");
    let run = runs
        .iter()
        .find(|r| r.kind == RunKind::Apply)
        .expect("an apply run");
    assert_eq!(run.status, RunStatus::Interrupted);
    // The reply and the status say "stopped", as the comment does, not
    // that the change failed.
    let replies: Vec<String> = harness
        .github
        .comments(&harness.repo, 7)
        .into_iter()
        .map(|c| c.body)
        .filter(|b| b.contains("the apply of"))
        .collect();
    assert!(
        replies
            .iter()
            .all(|r| r.contains("stopped") && !r.contains("failed")),
        "{replies:#?}"
    );
    let statuses = harness
        .github
        .statuses(&harness.repo, &harness.head)
        .into_iter()
        .filter(|s| s.context == "strata/apply: prod")
        .collect::<Vec<_>>();
    let last = statuses.last().expect("an apply status");
    assert_eq!(last.state, "error", "{statuses:#?}");
    assert!(
        last.description
            .as_deref()
            .unwrap_or_default()
            .starts_with("stopped"),
        "{statuses:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_is_refused_while_the_built_in_policy_finds_errors() {
    let careless = std::fs::read(
        strata_tests::test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_careless.wasm"),
    )
    .expect("the careless guest");
    let pin = format!(
        "[modules.careless]\npath = \"modules/careless.wasm\"\nsha256 = \"{}\"\n",
        strata::modules::sha256_hex(&careless)
    );
    let prod = format!("{PROD}\n[stacks.auth]\ntype = \"careless\"\nflaw = \"untagged\"\n");
    let cloud = ScriptedCloud::new().with_account("123456789012");
    let harness = Harness::with(
        cloud,
        &prod,
        &[
            ("modules/careless.wasm", careless),
            ("strata.toml", pin.into_bytes()),
        ],
    );
    harness.open_pull_request().await;
    let comments = harness.github.comments(&harness.repo, 7);
    let plan = comments
        .iter()
        .find(|c| c.body.contains("<!-- strata:plan"))
        .expect("a plan comment");
    assert!(
        plan.body.contains("**Policy: errors block the apply"),
        "{}",
        plan.body
    );
    assert!(plan.body.contains("guarantees/tags"), "{}", plan.body);
    let status = harness
        .github
        .statuses(&harness.repo, &harness.head)
        .into_iter()
        .rev()
        .find(|s| s.context == "strata/plan: prod")
        .expect("a plan status");
    assert_eq!(status.state, "failure");

    harness.apply().await;
    let said: Vec<String> = harness
        .github
        .comments(&harness.repo, 7)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert!(
        said.iter()
            .any(|c| c.contains("has policy errors; nothing was applied")
                && c.contains("auth/UserPool")),
        "{said:#?}"
    );
    assert!(
        harness.cloud.stack("shop-production-networking").is_none(),
        "nothing deploys"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_longer_than_a_call_waits_defers_the_plan_instead_of_failing_it() {
    // Calls wait at most 100 ms; GitHub asks for 1 s on the plan comment.
    let retry = RetryPolicy {
        attempts: 4,
        base: Duration::from_millis(10),
        max_wait: Duration::from_millis(100),
    };
    let harness = Harness::with_retry(ScriptedCloud::new(), PROD, &[], retry);
    harness.github.inject(Fault::new(
        "POST",
        "/issues/7/comments",
        FaultKind::TooManyRequests {
            retry_after_secs: 1,
        },
    ));
    harness.open_pull_request().await;

    let comments = harness.github.comments(&harness.repo, 7);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(
        comments[0].body.contains("<!-- strata:pr -->"),
        "{}",
        comments[0].body
    );
    assert!(!comments[0].body.contains("could not be planned"));
    let statuses = harness.github.statuses(&harness.repo, &harness.head);
    assert!(
        statuses.iter().any(|s| s.state == "pending"
            && s.description
                .as_deref()
                .is_some_and(|d| d.starts_with("waiting for GitHub's rate limit"))),
        "{statuses:#?}"
    );
    assert!(
        !statuses.iter().any(|s| s.state == "error"),
        "{statuses:#?}"
    );
}
