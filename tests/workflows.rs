//! Workflows end to end, in-process: the worker over real git repositories,
//! the scripted CloudFormation double and the recording fake GitHub.
//!
//! - a stale branch never undoes merged work: plans compare the base
//!   branch's tip with the pull request merged into it, and an apply whose
//!   base tip moved is refused;
//! - a merge and its push, in either order, apply each environment once and
//!   report on the merged pull request;
//! - a merge promotes dev → staging on its own and holds prod for a command
//!   and a team member's approval (a non-member's does not count);
//! - a soak time and a closed deploy window hold a stage;
//! - a code-only deploy changes only the compute stack's image parameter;
//! - a pull request that loosens its own workflow is still gated by the base
//!   branch's;
//! - applies and waiting gates are announced to the workflow's `[notify]`
//!   webhook (a local receiver), and a receiver that is down or hangs never
//!   delays an apply.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use strata::cloud::scripted::ScriptedCloud;
use strata::cloud::{
    Capability, ChangeSetStatus, Cloud, CreateChangeSet, DifferenceKind, PropertyDifference,
    ResourceDrift, ResourceDriftStatus, TemplateSource,
};
use strata::forge::fake::{FakeGitHub, PullRequestSeed};
use strata::forge::{Auth, GitHub, GitHubConfig, Repo, RetryPolicy};
use strata::host::{Host, Limits};
use strata::notify::{Counters, HttpSender, Notifier, Policy};
use strata::server::http::Job;
use strata::server::webhook::Event;
use strata::server::worker::{Clouds, Polled, Settings, WatchTarget, Worker};
use strata::state::State;
use strata_tests::GitFixture;
use strata_tests::receiver::{self, Behaviour, Receiver};
use strata_tests::server::{self, NAME, OWNER, PrPayload};
use tokio_util::sync::CancellationToken;

/// A small environment: networking, security, s3.
fn environment(name: &str, retention: u32, protected: bool) -> String {
    format!(
        r#"project = "shop"
environment = "{name}"
region = "us-east-1"
account = "123456789012"
protected = {protected}

[tags]
CostCenter = "engineering"
Owner = "platform"

[stacks.networking]
type = "networking"
cidr = "10.2.0.0/16"
availability_zones = 2
nat_gateways = 1
flow_log_retention_days = {retention}

[stacks.security]
type = "security"
app_port = 8080

[stacks.s3]
type = "s3"
"#
    )
}

/// dev → staging (soak) → prod (command, a team's approval).
const RELEASE: &str = r#"description = "dev → staging → prod"

[on.pull_request]
[on.push]
[on.command]

[[stages]]
name = "dev"
environments = ["dev"]

[[stages]]
name = "staging"
environments = ["staging"]
after = ["dev"]
[stages.gates]
SOAK

[[stages]]
name = "prod"
environments = ["prod"]
after = ["staging"]
when = "command"
[stages.gates]
approvals = { count = 1, from = ["acme/platform"] }
"#;

/// The release workflow with staging soaking `soak` ("" for none).
fn soak_of(soak: &str) -> String {
    let line = if soak.is_empty() {
        String::new()
    } else {
        format!("soak = \"{soak}\"")
    };
    RELEASE.replace("SOAK", &line)
}

/// Every region is the one scripted cloud.
struct OneCloud(ScriptedCloud);

#[async_trait]
impl Clouds for OneCloud {
    async fn cloud(&self, _region: &str) -> Arc<dyn Cloud> {
        Arc::new(self.0.clone())
    }
}

fn job(event: &str, payload: &serde_json::Value) -> Job {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let body = serde_json::to_vec(payload).expect("json");
    Job {
        delivery: format!("w-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        event: Event::parse(event, &body).expect("a valid payload"),
        received_at: Instant::now(),
    }
}

fn cache_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache")
}

/// A worker on the fake GitHub, the scripted cloud and `state`, cloning
/// under `dir`; with `cloud_plan`, plans carry CloudFormation change sets.
fn worker(
    github: &FakeGitHub,
    state: &State,
    cloud: &ScriptedCloud,
    dir: &Path,
    cloud_plan: bool,
) -> Worker {
    let forge = GitHub::new(GitHubConfig {
        base_url: Some(github.url().to_owned()),
        auth: Auth::Token("ghp_test".to_owned()),
        retry: RetryPolicy::default(),
    })
    .expect("a GitHub client");
    let host = Host::new(Limits::default(), Some(cache_dir())).expect("a module host");
    Worker::new(
        Arc::new(forge),
        state.clone(),
        Arc::new(OneCloud(cloud.clone())),
        Arc::new(host),
        dir.join("clones"),
        Settings {
            require_approval: false,
            cloud_plan,
            poll: (Duration::from_millis(1), Duration::from_millis(4)),
            progress_interval: Duration::from_millis(5),
            ..Settings::default()
        },
        CancellationToken::new(),
    )
}

/// A config repository on `main`, the fake GitHub, and a worker on the
/// scripted cloud.
struct Harness {
    git: GitFixture,
    github: FakeGitHub,
    repo: Repo,
    cloud: ScriptedCloud,
    state: State,
    worker: Arc<Worker>,
    dir: tempfile::TempDir,
}

impl Harness {
    /// `files` committed on `main` as the first commit.
    fn new(files: &[(&str, &str)]) -> Self {
        let mut git = GitFixture::new();
        for (path, text) in files {
            git.write(path, text);
        }
        git.commit("start");
        let github = FakeGitHub::start().expect("fake GitHub");
        let repo = Repo::new(OWNER, NAME).expect("repo");
        github.set_permission(&repo, "bob", "admin");
        github.set_permission(&repo, "dave", "write");
        github.set_permission(&repo, "carol", "write");
        github.add_team_member("acme", "platform", "dave", "active");
        let cloud = ScriptedCloud::new()
            .with_account("123456789012")
            .with_latency(Duration::from_millis(1))
            .with_steps(2);
        let dir = tempfile::tempdir().expect("temp dir");
        let state = State::open(&dir.path().join("state.db")).expect("state");
        let worker = Arc::new(worker(&github, &state, &cloud, dir.path(), false));
        Self {
            git,
            github,
            repo,
            cloud,
            state,
            worker,
            dir,
        }
    }

    /// Another worker on this harness's GitHub, cloud, state and clones.
    fn worker_with(&self, cloud_plan: bool) -> Arc<Worker> {
        Arc::new(worker(
            &self.github,
            &self.state,
            &self.cloud,
            self.dir.path(),
            cloud_plan,
        ))
    }

    /// From now on the worker announces through a notifier with `policy`
    /// over HTTP; the notifier and its counters.
    fn notify_with(&mut self, policy: Policy) -> (Notifier, Arc<Counters>) {
        let counters = Arc::new(Counters::default());
        let notifier = Notifier::start(
            Arc::new(HttpSender::new().expect("an HTTP client")),
            policy,
            Arc::clone(&counters),
            CancellationToken::new(),
        );
        self.worker = Arc::new(
            worker(
                &self.github,
                &self.state,
                &self.cloud,
                self.dir.path(),
                false,
            )
            .with_notifier(notifier.clone()),
        );
        (notifier, counters)
    }

    fn main(&self) -> String {
        self.git.head_id()
    }

    /// Pull request `number` from `head` into `main`, opened by alice.
    async fn open(&self, number: u64, head: &str) {
        self.git.set_ref(&format!("refs/pull/{number}/head"), head);
        self.github.add_pull_request(
            &self.repo,
            PullRequestSeed {
                number,
                author: "alice".to_owned(),
                head_sha: head.to_owned(),
                ..PullRequestSeed::default()
            },
        );
        let payload = server::pull_request(
            self.git.path(),
            &PrPayload {
                action: "opened",
                number,
                head_sha: head,
                merged: false,
                sender: "alice",
            },
        );
        self.worker.handle(job("pull_request", &payload)).await;
    }

    /// `user` comments `body` on pull request `number`; the replies to it.
    async fn comment(&self, number: u64, user: &str, body: &str) -> Vec<String> {
        let before = self.github.comments(&self.repo, number).len();
        let id = self.github.add_comment(&self.repo, number, user, body);
        let payload = server::comment(self.git.path(), number, id, user, body);
        self.worker.handle(job("issue_comment", &payload)).await;
        self.github
            .comments(&self.repo, number)
            .into_iter()
            .skip(before + 1)
            .map(|c| c.body)
            .filter(|b| b.starts_with(&format!("@{user}:")))
            .collect()
    }

    /// Merge pull request `number` (head `head`) into `main`: the new tip.
    fn merge(&mut self, number: u64, head: &str) -> String {
        let tip = self
            .git
            .merge(head, &format!("Merge pull request #{number}"));
        self.github.add_pull_request(
            &self.repo,
            PullRequestSeed {
                number,
                author: "alice".to_owned(),
                head_sha: head.to_owned(),
                open: false,
                merged: true,
                ..PullRequestSeed::default()
            },
        );
        self.github.link_commit(&self.repo, &tip, number);
        tip
    }

    async fn deliver_merge(&self, number: u64, head: &str) {
        let payload = server::pull_request(
            self.git.path(),
            &PrPayload {
                action: "closed",
                number,
                head_sha: head,
                merged: true,
                sender: "bob",
            },
        );
        self.worker.handle(job("pull_request", &payload)).await;
    }

    async fn deliver_push(&self, before: &str, after: &str) {
        let payload = server::push(self.git.path(), before, after, "bob");
        self.worker.handle(job("push", &payload)).await;
    }

    /// The stack's template as deployed.
    fn template(&self, stack: &str) -> String {
        self.cloud
            .template(stack)
            .map(|t| t.to_string())
            .unwrap_or_default()
    }

    /// Each of `commits` has one promotion of `workflow`, with one stage.
    fn assert_one_promotion_each(&self, workflow: &str, commits: &[&String]) {
        for commit in commits {
            let stages = self
                .state
                .stages("acme/infra", workflow, commit)
                .expect("stages");
            assert_eq!(stages.len(), 1, "a promotion of {commit}");
        }
    }

    /// A commit on `from` (off every branch) that sets the flow logs'
    /// retention of dev, staging and prod (protected) to `days`.
    fn retention_everywhere(&mut self, from: &str, days: u32) -> String {
        self.git.branch(
            from,
            &[
                (
                    "environments/dev.toml",
                    Some(&environment("dev", days, false)),
                ),
                (
                    "environments/staging.toml",
                    Some(&environment("staging", days, false)),
                ),
                (
                    "environments/prod.toml",
                    Some(&environment("prod", days, true)),
                ),
            ],
            &format!("retention {days} everywhere"),
        )
    }

    /// Change `stack`'s template outside Strata (a change set of its own, as
    /// someone in the console would).
    async fn edit_by_hand(&self, stack: &str, template: &str) {
        let described = self
            .cloud
            .describe_stack(stack)
            .await
            .expect("describe")
            .expect("the stack exists");
        self.cloud
            .create_change_set(&CreateChangeSet {
                stack: stack.to_owned(),
                change_set: "by-hand".to_owned(),
                template: TemplateSource::Body(template.to_owned()),
                parameters: Vec::new(),
                tags: described.tags,
                capabilities: vec![Capability::NamedIam],
                description: "by hand".to_owned(),
                client_token: "by-hand".to_owned(),
            })
            .await
            .expect("create a change set");
        for _ in 0..100 {
            if let Ok(Some(set)) = self.cloud.describe_change_set(stack, "by-hand").await
                && set.status == ChangeSetStatus::Complete
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        self.cloud
            .execute_change_set(stack, "by-hand", "by-hand-run")
            .await
            .expect("execute it");
        for _ in 0..1000 {
            if let Ok(Some(described)) = self.cloud.describe_stack(stack).await
                && described.status.is_settled()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the edit by hand of `{stack}` did not settle");
    }

    /// How many times CloudFormation was asked to change `stack`.
    fn changes_of(&self, stack: &str) -> usize {
        self.cloud
            .calls()
            .iter()
            .filter(|c| {
                (c.subject == stack || c.subject.starts_with(&format!("{stack}/")))
                    && (c.operation == "CreateStack" || c.operation == "ExecuteChangeSet")
            })
            .count()
    }

    fn comments(&self, number: u64) -> Vec<String> {
        self.github
            .comments(&self.repo, number)
            .into_iter()
            .map(|c| c.body)
            .collect()
    }

    fn promotion_comment(&self, number: u64) -> String {
        self.comments(number)
            .into_iter()
            .find(|b| b.contains("<!-- strata:promotion "))
            .unwrap_or_else(|| panic!("no promotion comment on #{number}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_branch_never_undoes_merged_work() {
    let mut h = Harness::new(&[("environments/dev.toml", &environment("dev", 7, false))]);
    let main0 = h.main();
    // The first commit deploys dev (the built-in workflow applies
    // unprotected environments on a push).
    h.deliver_push("0000000000000000000000000000000000000000", &main0)
        .await;
    assert_eq!(h.changes_of("shop-dev-networking"), 1);

    // Both branches start at main0: #1 raises the flow-log retention, #2 only
    // changes the bucket's log retention.
    let one = h.git.branch(
        &main0,
        &[(
            "environments/dev.toml",
            Some(&environment("dev", 30, false)),
        )],
        "retention 30",
    );
    let two_text = environment("dev", 7, false).replace(
        "[stacks.s3]\ntype = \"s3\"\n",
        "[stacks.s3]\ntype = \"s3\"\nlog_retention_days = 30\n",
    );
    let two = h.git.branch(
        &main0,
        &[("environments/dev.toml", Some(&two_text))],
        "s3 logs",
    );

    h.open(1, &one).await;
    let replies = h.comment(1, "bob", "/strata apply").await;
    assert!(replies.is_empty(), "{replies:?}");
    assert!(
        h.template("shop-dev-networking")
            .contains("\"RetentionInDays\":30")
    );
    let main1 = h.merge(1, &one);
    h.deliver_merge(1, &one).await;

    // #2, planned after the merge, changes only s3: its plan is main1 with #2
    // merged into it, not #2's stale branch.
    h.open(2, &two).await;
    let plan = h
        .comments(2)
        .into_iter()
        .find(|b| b.contains("<!-- strata:pr -->"))
        .expect("a plan comment");
    assert!(plan.contains("#2"), "{plan}");
    assert!(plan.contains("merged into main"), "{plan}");
    let saved = h
        .state
        .plans("acme/infra", 2)
        .expect("plans")
        .into_iter()
        .next()
        .expect("a saved plan");
    let json: serde_json::Value = serde_json::from_str(&saved.plan_json).expect("json");
    let changed: Vec<&str> = json["environments"][0]["stacks"]
        .as_array()
        .expect("stacks")
        .iter()
        .filter(|s| s["action"] != "none")
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(changed, ["s3"], "{json}");
    assert_eq!(json["base"]["commit"], serde_json::json!(main1));

    // main moves on before #2 is applied: its plan is stale, and the apply
    // says so with both commits.
    h.git.write("README.md", "infra\n");
    h.git.commit("readme");
    let main2 = h.main();
    h.deliver_push(&main1, &main2).await;
    let replies = h.comment(2, "bob", "/strata apply").await;
    let refusal = replies.first().expect("a refusal");
    assert!(refusal.contains("moved since the plan"), "{refusal}");
    assert!(refusal.contains(&main1[..7]), "{refusal}");
    assert!(refusal.contains(&main2[..7]), "{refusal}");
    assert!(refusal.contains("/strata plan"), "{refusal}");

    // Planned again, it applies s3 and leaves the merged retention alone.
    let networking_changes = h.changes_of("shop-dev-networking");
    h.comment(2, "bob", "/strata plan").await;
    let replies = h.comment(2, "bob", "/strata apply").await;
    assert!(replies.is_empty(), "{replies:?}");
    assert_eq!(h.changes_of("shop-dev-networking"), networking_changes);
    assert!(
        h.template("shop-dev-networking")
            .contains("\"RetentionInDays\":30")
    );
    assert!(h.template("shop-dev-s3").contains("30"));
}

async fn merge_and_push(push_first: bool) {
    let mut h = Harness::new(&[("README.md", "infra\n")]);
    let main0 = h.main();
    let head = h.git.branch(
        &main0,
        &[("environments/dev.toml", Some(&environment("dev", 7, false)))],
        "dev",
    );
    h.open(7, &head).await;
    let tip = h.merge(7, &head);
    if push_first {
        h.deliver_push(&main0, &tip).await;
        h.deliver_merge(7, &head).await;
    } else {
        h.deliver_merge(7, &head).await;
        h.deliver_push(&main0, &tip).await;
    }
    assert_eq!(h.changes_of("shop-dev-networking"), 1);
    let applies = h
        .comments(7)
        .into_iter()
        .filter(|b| b.contains("<!-- strata:apply run="))
        .count();
    assert_eq!(applies, 1, "{:#?}", h.comments(7));
    let promotion = h.promotion_comment(7);
    assert!(promotion.contains("✅ done"), "{promotion}");
    let deployed = h
        .state
        .deployed("acme/infra", "dev")
        .expect("state")
        .expect("dev is recorded as deployed");
    assert_eq!(deployed.commit, tip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_then_its_push_apply_once_and_report_on_the_pull_request() {
    merge_and_push(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_then_its_merge_apply_once_and_report_on_the_pull_request() {
    merge_and_push(true).await;
}

/// main with three environments and the release workflow; #7 changes all
/// three, approved by carol (not in `acme/platform`).
async fn promotion(soak: &str) -> (Harness, String) {
    let release = soak_of(soak);
    let mut h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        (
            "environments/staging.toml",
            &environment("staging", 7, false),
        ),
        ("environments/prod.toml", &environment("prod", 7, true)),
        ("workflows/release.toml", &release),
    ]);
    let main0 = h.main();
    let head = h.retention_everywhere(&main0, 14);
    h.open(7, &head).await;
    h.github.add_review(&h.repo, 7, "carol", "APPROVED");
    let tip = h.merge(7, &head);
    h.deliver_merge(7, &head).await;
    (h, tip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_promotes_dev_and_staging_and_prod_waits_for_a_team_members_approval() {
    let (h, tip) = promotion("").await;
    assert_eq!(
        h.changes_of("shop-dev-networking"),
        1,
        "{:#?}",
        h.comments(7)
    );
    assert_eq!(h.changes_of("shop-staging-networking"), 1);
    assert_eq!(h.changes_of("shop-prod-networking"), 0);
    let promotion = h.promotion_comment(7);
    assert!(promotion.contains("/strata apply prod"), "{promotion}");
    assert!(promotion.contains("acme/platform"), "{promotion}");

    // carol is not in acme/platform: her approval does not count.
    let replies = h.comment(7, "carol", "/strata approve prod").await;
    assert!(
        replies.iter().any(|r| r.contains("does not count")),
        "{replies:?}"
    );
    let replies = h.comment(7, "bob", "/strata apply prod").await;
    assert!(!replies.is_empty());
    assert_eq!(h.changes_of("shop-prod-networking"), 0);
    // dave is: with his approval and bob's command prod goes.
    h.comment(7, "dave", "/strata approve prod").await;
    assert_eq!(
        h.changes_of("shop-prod-networking"),
        1,
        "{}",
        h.promotion_comment(7)
    );
    let promotion = h.promotion_comment(7);
    assert_eq!(promotion.matches("✅ done").count(), 3, "{promotion}");

    // Each environment is a GitHub deployment that succeeded.
    let deployments = h.github.deployments(&h.repo);
    let mut environments: Vec<&str> = deployments.iter().map(|d| d.environment.as_str()).collect();
    environments.sort_unstable();
    assert_eq!(environments, ["dev", "prod", "staging"]);
    for deployment in &deployments {
        assert_eq!(deployment.sha, tip);
        let last = deployment.statuses.last().expect("a status");
        assert_eq!(last.0, "success", "{deployment:?}");
    }
    // A commit status per stage.
    let statuses = h.github.statuses(&h.repo, &tip);
    for stage in ["dev", "staging", "prod"] {
        let context = format!("strata/stage: release/{stage}");
        let last = statuses
            .iter()
            .rev()
            .find(|s| s.context == context)
            .unwrap_or_else(|| panic!("no status {context}"));
        assert_eq!(last.state, "success");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_time_holds_the_next_stage_until_it_has_passed() {
    let (h, _) = promotion("2s").await;
    assert_eq!(h.changes_of("shop-dev-networking"), 1);
    assert_eq!(h.changes_of("shop-staging-networking"), 0);
    assert!(
        h.promotion_comment(7).contains("soak"),
        "{}",
        h.promotion_comment(7)
    );
    h.worker.tick().await;
    assert_eq!(h.changes_of("shop-staging-networking"), 0);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    h.worker.tick().await;
    assert_eq!(h.changes_of("shop-staging-networking"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_deploy_window_holds_a_stage() {
    // A window open only on a day that is not today (UTC).
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let today = {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        // 1970-01-01 was a Thursday.
        ((since / 86_400 + 3) % 7) as usize
    };
    let other = days[(today + 3) % 7];
    let release = soak_of("").replace(
        "[stages.gates]\napprovals",
        &format!(
            "[stages.gates]\nwindow = {{ days = [\"{other}\"], hours = \"00:00-23:59\", timezone = \"UTC\" }}\napprovals"
        ),
    );
    let mut h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        (
            "environments/staging.toml",
            &environment("staging", 7, false),
        ),
        ("environments/prod.toml", &environment("prod", 7, true)),
        ("workflows/release.toml", &release),
    ]);
    let main0 = h.main();
    let head = h.git.branch(
        &main0,
        &[(
            "environments/prod.toml",
            Some(&environment("prod", 14, true)),
        )],
        "prod retention",
    );
    h.open(7, &head).await;
    h.github.add_review(&h.repo, 7, "dave", "APPROVED");
    h.merge(7, &head);
    h.deliver_merge(7, &head).await;
    h.comment(7, "bob", "/strata apply prod").await;
    assert_eq!(h.changes_of("shop-prod-networking"), 0);
    let promotion = h.promotion_comment(7);
    assert!(promotion.contains("window"), "{promotion}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_that_drops_its_own_approval_gate_is_still_gated_by_the_base() {
    let release = soak_of("");
    let h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        (
            "environments/staging.toml",
            &environment("staging", 7, false),
        ),
        ("environments/prod.toml", &environment("prod", 7, true)),
        ("workflows/release.toml", &release),
    ]);
    let main0 = h.main();
    let loosened = release.replace(
        "[stages.gates]\napprovals = { count = 1, from = [\"acme/platform\"] }\n",
        "",
    );
    let mut git = h.git;
    let head = git.branch(
        &main0,
        &[
            (
                "environments/prod.toml",
                Some(&environment("prod", 14, true)),
            ),
            ("workflows/release.toml", Some(&loosened)),
        ],
        "prod retention, and no approval needed",
    );
    let h = Harness { git, ..h };
    h.open(7, &head).await;
    let plan = h
        .comments(7)
        .into_iter()
        .find(|b| b.contains("<!-- strata:pr -->"))
        .expect("a plan comment");
    assert!(plan.contains("[!IMPORTANT]"), "{plan}");
    assert!(plan.contains("workflows/release.toml"), "{plan}");
    let replies = h.comment(7, "bob", "/strata apply prod").await;
    let refusal = replies.first().expect("a refusal");
    assert!(refusal.contains("acme/platform"), "{refusal}");
    assert_eq!(h.changes_of("shop-prod-networking"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_only_deploy_changes_only_the_compute_image_parameter() {
    let dev = std::fs::read_to_string(strata_tests::repo_root().join("environments/dev.toml"))
        .expect("the example dev environment");
    let release = "[on.push]\n\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n";
    let deploy_code = r#"code_only = true

[on.dispatch]

[inputs.image_tag]
required = true
pattern = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
parameters = ["*ImageTag"]
stacks = ["compute"]

[[stages]]
name = "dev"
environments = ["dev"]
only = ["compute"]
"#;
    let mut h = Harness::new(&[
        ("environments/dev.toml", &dev),
        ("workflows/release.toml", release),
        ("workflows/deploy-code.toml", deploy_code),
    ]);
    let main0 = h.main();
    h.deliver_push("0000000000000000000000000000000000000000", &main0)
        .await;
    let compute = "v3-backend-development-compute";
    assert_eq!(h.changes_of(compute), 1, "dev was deployed by the push");
    let template_before = h.template(compute);
    let calls_before = h.cloud.calls().len();

    // An open pull request to comment on; a bad input is refused first.
    let head = h
        .git
        .branch(&main0, &[("README.md", Some("infra\n"))], "readme");
    h.open(9, &head).await;
    let replies = h
        .comment(9, "bob", "/strata run deploy-code image_tag=no/slashes")
        .await;
    assert!(
        replies.iter().any(|r| r.contains("image_tag")),
        "{replies:?}"
    );
    let replies = h
        .comment(9, "bob", "/strata run deploy-code image_tag=1.42.0-def4567")
        .await;
    assert!(
        replies.iter().all(|r| !r.contains("could not")),
        "{replies:?}"
    );

    // One parameters-only change set, on compute alone; the template kept.
    let changed: Vec<String> = h.cloud.calls()[calls_before..]
        .iter()
        .filter(|c| c.operation == "CreateChangeSet" || c.operation == "CreateStack")
        .map(|c| c.subject.clone())
        .collect();
    assert_eq!(
        changed.len(),
        1,
        "{changed:?} {:#?}",
        &h.cloud.calls()[calls_before..]
    );
    assert!(changed[0].starts_with(compute), "{changed:?}");
    assert_eq!(h.template(compute), template_before);
    let parameters = h.cloud.stack(compute).expect("compute").parameters;
    let api = parameters
        .iter()
        .find(|(k, _)| k == "ApiImageTag")
        .map(|(_, v)| v.as_str());
    assert_eq!(api, Some("1.42.0-def4567"), "{parameters:?}");

    // What runs now differs from the file: later plans say so.
    let deployed = h
        .state
        .deployed("acme/infra", "dev")
        .expect("state")
        .expect("dev is recorded");
    assert!(
        deployed
            .overrides
            .iter()
            .any(|o| o.parameter == "ApiImageTag" && o.value == "1.42.0-def4567"),
        "{deployed:?}"
    );
    let edited = dev.replace("memory = 512", "memory = 1024");
    let change = h.git.branch(
        &main0,
        &[("environments/dev.toml", Some(&edited))],
        "memory",
    );
    h.open(10, &change).await;
    let plan = h
        .comments(10)
        .into_iter()
        .find(|b| b.contains("<!-- strata:pr -->"))
        .expect("a plan comment");
    assert!(
        plan.contains("`ApiImageTag` of `compute` is `1.42.0-def4567`"),
        "{plan}"
    );
    assert!(plan.contains("the file says"), "{plan}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_waits_for_an_environment_another_pull_request_holds() {
    let mut h = Harness::new(&[("environments/dev.toml", &environment("dev", 7, false))]);
    let main0 = h.main();
    h.deliver_push("0000000000000000000000000000000000000000", &main0)
        .await;
    assert_eq!(h.changes_of("shop-dev-networking"), 1);
    // #9 holds dev; #7 changes it too and is merged anyway.
    let nine = h.git.branch(
        &main0,
        &[(
            "environments/dev.toml",
            Some(&environment("dev", 60, false)),
        )],
        "retention 60",
    );
    h.open(9, &nine).await;
    let seven = h.git.branch(
        &main0,
        &[(
            "environments/dev.toml",
            Some(&environment("dev", 14, false)),
        )],
        "retention 14",
    );
    h.open(7, &seven).await;
    h.merge(7, &seven);
    h.deliver_merge(7, &seven).await;
    assert_eq!(h.changes_of("shop-dev-networking"), 1, "dev is held by #9");
    let promotion = h.promotion_comment(7);
    assert!(promotion.contains("locked by [#9]"), "{promotion}");

    // #9 is closed without merging: its lock goes, and #7's promotion moves on.
    let payload = server::pull_request(
        h.git.path(),
        &PrPayload {
            action: "closed",
            number: 9,
            head_sha: &nine,
            merged: false,
            sender: "alice",
        },
    );
    h.worker.handle(job("pull_request", &payload)).await;
    assert_eq!(
        h.changes_of("shop-dev-networking"),
        2,
        "{:#?}",
        h.comments(7)
    );
    assert!(
        h.template("shop-dev-networking")
            .contains("\"RetentionInDays\":14")
    );
    assert!(
        h.promotion_comment(7).contains("✅ done"),
        "{}",
        h.promotion_comment(7)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_executes_the_change_set_its_pull_request_reviewed() {
    let mut h = Harness::new(&[("environments/dev.toml", &environment("dev", 7, false))]);
    let main0 = h.main();
    h.deliver_push("0000000000000000000000000000000000000000", &main0)
        .await;
    // A server that plans with CloudFormation change sets.
    h.worker = h.worker_with(true);
    let head = h.git.branch(
        &main0,
        &[(
            "environments/dev.toml",
            Some(&environment("dev", 14, false)),
        )],
        "retention 14",
    );
    h.open(7, &head).await;
    let reviewed: Vec<String> = h
        .cloud
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateChangeSet")
        .map(|c| c.subject.clone())
        .collect();
    assert_eq!(reviewed.len(), 1, "one change set reviewed: {reviewed:?}");
    let calls_before = h.cloud.calls().len();

    h.merge(7, &head);
    h.deliver_merge(7, &head).await;
    let after: Vec<(String, String)> = h.cloud.calls()[calls_before..]
        .iter()
        .filter(|c| c.operation == "CreateChangeSet" || c.operation == "ExecuteChangeSet")
        .map(|c| (c.operation.to_owned(), c.subject.clone()))
        .collect();
    assert_eq!(
        after,
        [("ExecuteChangeSet".to_owned(), reviewed[0].clone())],
        "the reviewed change set ran as reviewed"
    );
    assert!(
        h.template("shop-dev-networking")
            .contains("\"RetentionInDays\":14")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_two_commits_deploys_each_in_order_when_the_workflow_says_each() {
    let each =
        "[on.push]\ncommits = \"each\"\n\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n";
    let mut h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        ("workflows/release.toml", each),
    ]);
    let main0 = h.main();
    h.deliver_push("0000000000000000000000000000000000000000", &main0)
        .await;
    assert_eq!(h.changes_of("shop-dev-networking"), 1);
    h.git
        .write("environments/dev.toml", &environment("dev", 14, false));
    h.git.commit("retention 14");
    let first = h.main();
    h.git
        .write("environments/dev.toml", &environment("dev", 30, false));
    h.git.commit("retention 30");
    let second = h.main();
    h.deliver_push(&main0, &second).await;

    // Two updates, 14 then 30, and dev runs the second commit.
    assert_eq!(h.changes_of("shop-dev-networking"), 3);
    assert!(
        h.template("shop-dev-networking")
            .contains("\"RetentionInDays\":30")
    );
    h.assert_one_promotion_each("release", &[&first, &second]);
    let deployed = h
        .state
        .deployed("acme/infra", "dev")
        .expect("state")
        .expect("recorded");
    assert_eq!(deployed.commit, second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_hands_every_new_commit_to_a_workflow_that_deploys_each() {
    let each =
        "[on.push]\ncommits = \"each\"\n\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n";
    let mut h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        ("workflows/release.toml", each),
    ]);
    let target = WatchTarget::new(
        &h.git.path().display().to_string(),
        Some("acme/infra"),
        None,
        Duration::from_secs(1),
    )
    .expect("a watch target");
    let start = h.main();
    let polled = h.worker.poll(&target).await.expect("the first poll");
    assert_eq!(
        polled,
        Polled::Landed {
            before: None,
            tip: start.clone()
        }
    );
    assert_eq!(h.changes_of("shop-dev-networking"), 1);
    assert_eq!(
        h.worker.poll(&target).await.expect("a quiet poll"),
        Polled::Unchanged { tip: start.clone() }
    );

    // Two commits between polls: each is deployed, in order.
    h.git
        .write("environments/dev.toml", &environment("dev", 14, false));
    h.git.commit("retention 14");
    let first = h.main();
    h.git
        .write("environments/dev.toml", &environment("dev", 30, false));
    h.git.commit("retention 30");
    let second = h.main();
    h.worker.poll(&target).await.expect("a poll");
    assert_eq!(h.changes_of("shop-dev-networking"), 3);
    h.assert_one_promotion_each("release", &[&first, &second]);
    let seen = h
        .state
        .watch("acme/infra", "main")
        .expect("state")
        .expect("a watch");
    assert_eq!(seen.last_seen, Some(second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_apply_brings_an_environment_back_to_what_git_says() {
    let nightly = "[on.push]\n\n[[on.schedule]]\ncron = \"* * * * *\"\naction = \"apply\"\n\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n";
    let h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        ("workflows/nightly.toml", nightly),
    ]);
    let target = WatchTarget::new(
        &h.git.path().display().to_string(),
        Some("acme/infra"),
        None,
        Duration::from_secs(1),
    )
    .expect("a watch target");
    h.worker.poll(&target).await.expect("the first poll");
    assert_eq!(h.changes_of("shop-dev-networking"), 1);

    // Someone edits the stack by hand; the schedule's next minute comes.
    h.edit_by_hand(
        "shop-dev-networking",
        &h.template("shop-dev-networking")
            .replace("\"RetentionInDays\":7", "\"RetentionInDays\":1"),
    )
    .await;
    let two_minutes_ago = SystemTime::now() - Duration::from_secs(120);
    h.state
        .record_schedule_fired("acme/infra", "*", 0, two_minutes_ago)
        .expect("state");
    h.worker.poll(&target).await.expect("a poll");
    assert!(
        h.template("shop-dev-networking")
            .contains("\"RetentionInDays\":7"),
        "the hand edit is undone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_and_waiting_gates_are_announced_to_the_workflows_webhook() {
    let receiver = Receiver::start(Behaviour::Accept).await;
    let release = format!(
        "{}\n[notify]\nslack = \"{}\"\non = [\"apply\", \"gate\"]\n",
        soak_of(""),
        receiver.url()
    );
    let mut h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        (
            "environments/staging.toml",
            &environment("staging", 7, false),
        ),
        ("environments/prod.toml", &environment("prod", 7, true)),
        ("workflows/release.toml", &release),
    ]);
    let (notifier, counters) = h.notify_with(Policy::default());
    let main0 = h.main();
    let head = h.retention_everywhere(&main0, 14);
    h.open(7, &head).await;
    let tip = h.merge(7, &head);
    h.deliver_merge(7, &head).await;
    // The push of the same commit finds prod still waiting: not said again.
    h.deliver_push(&main0, &tip).await;
    notifier.idle().await;

    let texts: Vec<String> = receiver
        .messages()
        .iter()
        .map(|m| m["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts.len(), 3, "{texts:#?}");
    let short = &tip[..7];
    assert!(
        texts[0].contains(&format!(
            "Strata applied `dev` at `{short}` in acme/infra (#7"
        )),
        "{texts:#?}"
    );
    assert!(texts[1].contains("applied `staging`"), "{texts:#?}");
    assert!(
        texts[2].contains("Stage `prod` of workflow `release` (`prod`)"),
        "{texts:#?}"
    );
    assert!(texts[2].contains("is waiting"), "{texts:#?}");
    assert!(texts[2].contains("acme/platform"), "{texts:#?}");
    for message in receiver.messages() {
        assert!(message["blocks"].is_array(), "{message}");
    }
    assert_eq!(counters.sent.load(std::sync::atomic::Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_is_down_or_hangs_never_delays_an_apply() {
    let hanging = Receiver::start(Behaviour::Hang).await;
    for url in [receiver::closed_port_url(), hanging.url().to_owned()] {
        let workflow = format!(
            "[on.push]\n\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n\n[notify]\nslack = \"{url}\"\n"
        );
        let mut h = Harness::new(&[
            ("environments/dev.toml", &environment("dev", 7, false)),
            ("workflows/deploy.toml", &workflow),
        ]);
        // Slow retries, so a notification still in flight is seen as such.
        let policy = Policy {
            backoff: Duration::from_secs(10),
            ..Policy::default()
        };
        let (_notifier, counters) = h.notify_with(policy);
        let started = Instant::now();
        h.deliver_push("0000000000000000000000000000000000000000", &h.main())
            .await;
        let took = started.elapsed();
        assert_eq!(h.changes_of("shop-dev-networking"), 1, "{url}: dev applied");
        // The apply came back while its notification was still being tried:
        // nothing waited for the receiver.
        let sent = counters.sent.load(std::sync::atomic::Ordering::Relaxed);
        let failed = counters.failed.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!((sent, failed), (0, 0), "{url}");
        assert!(
            took < policy.timeout * policy.attempts,
            "{url}: the apply took {took:?}"
        );
    }
}

/// A workflow that deploys dev on push and checks it for drift every
/// minute (healing it when `heal`).
fn drift_workflow(heal: bool) -> String {
    format!(
        "[on.push]\n\n[[on.schedule]]\ncron = \"* * * * *\"\naction = \"drift\"\nheal = {heal}\n\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n"
    )
}

/// The watcher's next poll finds the schedule's minute come.
async fn poll_with_the_schedule_due(h: &Harness, target: &WatchTarget) {
    let two_minutes_ago = SystemTime::now() - Duration::from_secs(120);
    h.state
        .record_schedule_fired("acme/infra", "*", 0, two_minutes_ago)
        .expect("state");
    h.worker.poll(target).await.expect("a poll");
}

fn watch_target(h: &Harness) -> WatchTarget {
    WatchTarget::new(
        &h.git.path().display().to_string(),
        Some("acme/infra"),
        None,
        Duration::from_secs(1),
    )
    .expect("a watch target")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_opens_one_issue_per_environment_edits_it_and_closes_it_when_it_clears() {
    let h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        ("workflows/drift.toml", &drift_workflow(false)),
    ]);
    let target = watch_target(&h);
    h.worker.poll(&target).await.expect("the first poll");
    let deployed = h.template("shop-dev-networking");

    // A schedule with nothing drifted opens nothing.
    poll_with_the_schedule_due(&h, &target).await;
    assert!(h.github.issues(&h.repo).is_empty());

    // Someone edits the template by hand, and a resource drifts.
    h.cloud
        .edit_out_of_band(
            "shop-dev-networking",
            Some(&deployed.replace("\"RetentionInDays\":7", "\"RetentionInDays\":1")),
            &[],
        )
        .expect("edit");
    poll_with_the_schedule_due(&h, &target).await;
    let issues = h.github.issues(&h.repo);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].state, "open");
    assert!(issues[0].title.contains("`dev`"), "{}", issues[0].title);
    assert!(
        issues[0].body.contains("<!-- strata:drift dev -->")
            && issues[0].body.contains("RetentionInDays"),
        "{}",
        issues[0].body
    );
    let record = h
        .state
        .drift("acme/infra", "dev")
        .expect("state")
        .expect("a drift record");
    assert!(record.drifted);
    assert_eq!(record.issue, Some(issues[0].number));

    h.cloud.set_resource_drift(
        "shop-dev-networking",
        vec![ResourceDrift {
            logical_id: "Vpc".into(),
            physical_id: "vpc-1".into(),
            resource_type: "AWS::EC2::VPC".into(),
            status: ResourceDriftStatus::Modified,
            differences: vec![PropertyDifference {
                path: "/Properties/EnableDnsHostnames".into(),
                expected: "true".into(),
                actual: "false".into(),
                kind: DifferenceKind::NotEqual,
            }],
        }],
    );
    poll_with_the_schedule_due(&h, &target).await;
    let issues = h.github.issues(&h.repo);
    assert_eq!(issues.len(), 1, "the same issue, edited: {issues:?}");
    assert!(
        issues[0].body.contains("EnableDnsHostnames"),
        "{}",
        issues[0].body
    );

    // Put right by hand: the issue closes, with a comment.
    h.cloud
        .edit_out_of_band("shop-dev-networking", Some(&deployed), &[])
        .expect("edit back");
    h.cloud
        .set_resource_drift("shop-dev-networking", Vec::new());
    poll_with_the_schedule_due(&h, &target).await;
    let issues = h.github.issues(&h.repo);
    assert_eq!(issues[0].state, "closed", "{issues:?}");
    let comments = h.comments(issues[0].number);
    assert!(
        comments.iter().any(|c| c.contains("No drift in `dev`")),
        "{comments:?}"
    );
    assert!(
        !h.state
            .drift("acme/infra", "dev")
            .expect("state")
            .expect("a record")
            .drifted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_healed_by_applying_the_deployed_commit_again_when_the_schedule_says_heal() {
    let h = Harness::new(&[
        ("environments/dev.toml", &environment("dev", 7, false)),
        ("workflows/drift.toml", &drift_workflow(true)),
    ]);
    let target = watch_target(&h);
    h.worker.poll(&target).await.expect("the first poll");
    let deployed = h.template("shop-dev-networking");
    h.cloud
        .edit_out_of_band(
            "shop-dev-networking",
            Some(&deployed.replace("\"RetentionInDays\":7", "\"RetentionInDays\":1")),
            &[],
        )
        .expect("edit");
    poll_with_the_schedule_due(&h, &target).await;

    assert!(
        h.template("shop-dev-networking")
            .contains("\"RetentionInDays\":7"),
        "healed"
    );
    // What was found is on record: an issue opened, then closed as healed.
    let issues = h.github.issues(&h.repo);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].state, "closed");
    assert!(
        issues[0].body.contains("RetentionInDays"),
        "{}",
        issues[0].body
    );
    let comments = h.comments(issues[0].number);
    assert!(
        comments.iter().any(|c| c.contains("healed")),
        "{comments:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_push_gets_one_error_status_on_the_rewritten_tip_and_deploys_nothing() {
    let mut h = Harness::new(&[("environments/dev.toml", &environment("dev", 7, false))]);
    let target = watch_target(&h);
    let start = h.main();
    h.worker.poll(&target).await.expect("the first poll");
    h.git
        .write("environments/dev.toml", &environment("dev", 14, false));
    h.git.commit("retention 14");
    h.worker.poll(&target).await.expect("a poll");
    let changes = h.changes_of("shop-dev-networking");

    // `main` rewritten over the deployed commit.
    h.git.reset_main(&start);
    h.git
        .write("environments/dev.toml", &environment("dev", 30, false));
    h.git.commit("retention 30, force-pushed");
    let rewritten = h.main();
    for news in [true, false] {
        let polled = h.worker.poll(&target).await.expect("a poll");
        assert!(
            matches!(&polled, Polled::Refused { tip, news: n, .. } if *tip == rewritten && *n == news),
            "{polled:?}"
        );
    }
    let watch_statuses: Vec<_> = h
        .github
        .statuses(&h.repo, &rewritten)
        .into_iter()
        .filter(|s| s.context == "strata/watch")
        .collect();
    assert_eq!(watch_statuses.len(), 1, "reported once: {watch_statuses:?}");
    assert_eq!(watch_statuses[0].state, "error");
    assert_eq!(
        h.changes_of("shop-dev-networking"),
        changes,
        "nothing deployed"
    );
}
