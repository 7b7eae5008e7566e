//! `strata watch` (and `strata serve --watch`) end to end: the binary
//! follows a real git repository, over a file path and over git's smart HTTP
//! protocol, and deploys what lands on its default branch to moto's
//! CloudFormation. Everything listens on 127.0.0.1.

use std::path::Path;

use strata::forge::Repo;
use strata::forge::fake::FakeGitHub;
use strata::state::State;
use strata_tests::git_http::GitHttp;
use strata_tests::server::{self, Server};
use strata_tests::{GitFixture, Moto, Run, run_with};

const HEADER: &str = r#"project = "shop"
environment = "development"
region = "us-east-1"
account = "123456789012"

[tags]
CostCenter = "engineering"
Owner = "platform"
"#;

fn dev(retention: u32) -> String {
    format!(
        "{HEADER}\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.2.0.0/16\"\navailability_zones = 2\nnat_gateways = 1\nflow_log_retention_days = {retention}\n\n[stacks.security]\ntype = \"security\"\napp_port = 8080\n"
    )
}

fn start_moto() -> Moto {
    match Moto::start() {
        Ok(moto) => moto,
        Err(message) => panic!("{message}"),
    }
}

/// The flow logs' retention in the networking stack's template in moto, once
/// the stack exists: which commit's file is deployed.
fn deployed_retention(moto: &Moto) -> Option<u32> {
    moto.python(
        "import json\ns = [s for s in cf.describe_stacks()['Stacks'] if s['StackName'] == 'shop-development-networking' and s['StackStatus'].endswith('_COMPLETE')]\nbody = cf.get_template(StackName='shop-development-networking')['TemplateBody'] if s else ''\nbody = body if isinstance(body, dict) else (json.loads(body) if body else {})\nprint(next((r['Properties'].get('RetentionInDays', '') for r in body.get('Resources', {}).values() if r['Type'] == 'AWS::Logs::LogGroup'), ''))",
    )
    .ok()
    .and_then(|days| days.parse().ok())
}

/// A scratch directory for state and clones.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    fn state(&self) -> String {
        self.dir.path().join("state.db").display().to_string()
    }

    fn clones(&self) -> String {
        self.dir.path().join("clones").display().to_string()
    }
}

fn watch(repo: &str, scratch: &Scratch, extra: &[&str], env: &[(&str, String)]) -> Server {
    let state = scratch.state();
    let clones = scratch.clones();
    let mut args = vec![
        "--repo",
        repo,
        "--state",
        state.as_str(),
        "--clones",
        clones.as_str(),
        "--name",
        "acme/infra",
    ];
    args.extend_from_slice(extra);
    Server::start_watch(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &args,
        env,
    )
}

fn watch_once(
    repo: &GitFixture,
    url: &str,
    scratch: &Scratch,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let state = scratch.state();
    let clones = scratch.clones();
    let mut args = vec![
        "watch",
        "--repo",
        url,
        "--state",
        state.as_str(),
        "--clones",
        clones.as_str(),
        "--name",
        "acme/infra",
        "--once",
    ];
    args.extend_from_slice(extra);
    run_with(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &repo.fixture,
        &args,
        env,
    )
}

#[test]
fn deploys_each_new_commit_of_a_local_repository_and_resumes_after_a_restart() {
    let moto = start_moto();
    let scratch = Scratch::new();
    let mut git = GitFixture::new();
    git.write("environments/dev.toml", &dev(7));
    git.commit("dev: networking and security");
    let first = git.head_id();
    let path = git.path().display().to_string();

    let mut watcher = watch(&path, &scratch, &["--interval", "1s"], &moto.env());
    server::eventually(&watcher, 180, "the first commit deployed", || {
        (deployed_retention(&moto)? == 7).then_some(())
    });

    git.write("environments/dev.toml", &dev(14));
    git.commit("dev: keep flow logs two weeks");
    let second = git.head_id();
    server::eventually(&watcher, 120, "the second commit deployed", || {
        (deployed_retention(&moto)? == 14).then_some(())
    });
    assert_eq!(watcher.stop(), Some(0), "{}", watcher.log());
    assert!(
        watcher.log().contains("stopped watching"),
        "{}",
        watcher.log()
    );

    // Pushed while nobody watched: the next watcher deploys it, and only it.
    git.write("environments/dev.toml", &dev(30));
    git.commit("dev: keep flow logs a month");
    let third = git.head_id();
    let mut watcher = watch(&path, &scratch, &["--interval", "1s"], &moto.env());
    server::eventually(&watcher, 120, "the third commit deployed", || {
        (deployed_retention(&moto)? == 30).then_some(())
    });
    assert_eq!(watcher.stop(), Some(0), "{}", watcher.log());

    let state = State::open(Path::new(&scratch.state())).expect("the state database");
    for commit in [&first, &second, &third] {
        let applies = state
            .applies_at("acme/infra", "dev", commit)
            .expect("read the runs");
        assert_eq!(
            applies.len(),
            1,
            "commit {commit} applied once: {applies:?}"
        );
    }
    let seen = state
        .watch("acme/infra", "main")
        .expect("read")
        .expect("a watch");
    assert_eq!(seen.last_seen.as_deref(), Some(third.as_str()));
}

#[test]
fn fetches_over_git_smart_http_and_deploys_the_tip() {
    let moto = start_moto();
    let scratch = Scratch::new();
    let mut git = GitFixture::new();
    git.write("environments/dev.toml", &dev(7));
    git.commit("dev: networking and security");
    let head = git.head_id();
    let root = git.path().parent().expect("a parent directory");
    let name = git
        .path()
        .file_name()
        .expect("a directory name")
        .to_string_lossy()
        .into_owned();
    let http = GitHttp::start(root);
    let url = http.url(&format!("{name}/.git"));

    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = watch_once(&git, &url, &scratch, &[], &env);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("deployed as the workflows say"),
        "{}",
        run.stderr
    );
    assert_eq!(deployed_retention(&moto), Some(7));
    let state = State::open(Path::new(&scratch.state())).expect("the state database");
    let deployed = state
        .deployed("acme/infra", "dev")
        .expect("read")
        .expect("dev deployed");
    assert_eq!(deployed.commit, head);
    let again = watch_once(&git, &url, &scratch, &[], &env);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stderr.contains("is at"), "{}", again.stderr);
}

#[test]
fn a_force_push_is_refused_and_reported_once_until_reset() {
    let scratch = Scratch::new();
    let mut git = GitFixture::new();
    git.write("README.md", "one\n");
    git.commit("one");
    let one = git.head_id();
    git.write("README.md", "two\n");
    git.commit("two");
    let path = git.path().display().to_string();

    let first = watch_once(&git, &path, &scratch, &[], &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);

    // `main` rewritten: `two` is gone from it.
    git.reset_main(&one);
    git.write("README.md", "rewritten\n");
    git.commit("rewritten");
    let refused = watch_once(&git, &path, &scratch, &[], &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("refusing a force-push"),
        "{}",
        refused.stderr
    );
    let again = watch_once(&git, &path, &scratch, &[], &[]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(
        !again.stderr.contains("refusing a force-push"),
        "reported once: {}",
        again.stderr
    );
    assert!(again.stderr.contains("--reset"), "{}", again.stderr);

    let reset = watch_once(&git, &path, &scratch, &["--reset"], &[]);
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let state = State::open(Path::new(&scratch.state())).expect("the state database");
    let seen = state
        .watch("acme/infra", "main")
        .expect("read")
        .expect("a watch");
    assert_eq!(seen.last_seen, Some(git.head_id()));
    assert_eq!(seen.refused, None);
}

#[test]
fn a_repository_that_cannot_be_fetched_is_reported_once_and_retried() {
    let scratch = Scratch::new();
    let mut watcher = watch(
        "http://127.0.0.1:9/nothing.git",
        &scratch,
        &["--interval", "100ms"],
        &[],
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(watcher.stop(), Some(0), "{}", watcher.log());
    let log = watcher.log();
    assert_eq!(
        log.matches("cannot poll the repository").count(),
        1,
        "one report, not one per poll:\n{log}"
    );
    let state = State::open(Path::new(&scratch.state())).expect("the state database");
    let watches = state.watches().expect("read");
    assert!(
        watches.iter().any(|w| w.error.is_some()),
        "the failure is recorded: {watches:?}"
    );
}

fn serve_env(moto: &Moto, github: &FakeGitHub) -> Vec<(&'static str, String)> {
    let mut env = moto.env();
    env.push(("STRATA_WEBHOOK_SECRET", server::SECRET.to_owned()));
    env.push(("STRATA_GITHUB_TOKEN", "ghs_test".to_owned()));
    env.push(("STRATA_GITHUB_URL", github.url().to_owned()));
    env
}

#[test]
fn serve_deploys_a_push_whose_webhook_never_came_and_a_webhook_wakes_it_early() {
    let moto = start_moto();
    let scratch = Scratch::new();
    let github = FakeGitHub::start().expect("start the fake GitHub");
    let repo = Repo::new(server::OWNER, server::NAME).expect("a repo");
    github.add_repository(&repo, "main");
    let mut git = GitFixture::new();
    git.write("environments/dev.toml", &dev(7));
    git.commit("dev: networking and security");
    let first = git.head_id();
    let path = git.path().display().to_string();
    let (state, clones) = (scratch.state(), scratch.clones());

    // Polled every hour: only the first poll (at start) and webhooks count.
    let serve = |interval: &str| {
        Server::start(
            env!("CARGO_BIN_EXE_strata-under-test"),
            env!("CARGO_TARGET_TMPDIR"),
            &[
                "--state",
                &state,
                "--clones",
                &clones,
                "--watch",
                &path,
                "--watch-name",
                "acme/infra",
                "--watch-interval",
                interval,
            ],
            &serve_env(&moto, &github),
        )
    };
    let server = serve("1h");
    server::eventually(&server, 180, "the first commit deployed", || {
        (deployed_retention(&moto)? == 7).then_some(())
    });
    git.write("environments/dev.toml", &dev(14));
    git.commit("dev: keep flow logs two weeks");
    let second = git.head_id();
    let payload = server::push(git.path(), &first, &second, "alice");
    assert_eq!(server.deliver("push", "push-1", &payload), 202);
    server::eventually(&server, 120, "the pushed commit deployed", || {
        (deployed_retention(&moto)? == 14).then_some(())
    });
    assert!(
        github
            .deployments(&repo)
            .iter()
            .any(|d| d.sha == second && d.environment == "dev"),
        "a GitHub deployment records it"
    );
    drop(server);

    // A webhook that never arrives: the next poll finds the commit.
    git.write("environments/dev.toml", &dev(30));
    git.commit("dev: keep flow logs a month");
    let server = serve("1s");
    git.write("environments/dev.toml", &dev(60));
    git.commit("dev: keep flow logs two months");
    server::eventually(&server, 120, "the unannounced commit deployed", || {
        (deployed_retention(&moto)? == 60).then_some(())
    });
}

#[test]
fn drift_made_through_boto3_opens_an_issue_that_closes_when_the_schedule_heals_it() {
    let moto = start_moto();
    let scratch = Scratch::new();
    let github = FakeGitHub::start().expect("start the fake GitHub");
    let repo = Repo::new(server::OWNER, server::NAME).expect("a repo");
    github.add_repository(&repo, "main");
    let mut git = GitFixture::new();
    git.write("environments/dev.toml", &dev(7));
    git.write(
        "workflows/drift.toml",
        "[on.push]\n\n[[on.schedule]]\ncron = \"0 6 * * *\"\naction = \"drift\"\nheal = true\n\n[[stages]]\nname = \"dev\"\nenvironments = [\"dev\"]\n",
    );
    git.commit("dev, checked for drift every morning and healed");
    let path = git.path().display().to_string();
    let mut env: Vec<(&str, String)> = moto.env();
    env.push(("STRATA_GITHUB_TOKEN", "ghs_test".to_owned()));
    env.push(("STRATA_GITHUB_URL", github.url().to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let first = watch_once(&git, &path, &scratch, &[], &env);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(deployed_retention(&moto), Some(7));

    // Someone shortens the flow logs' retention in the console.
    moto.python(
        r#"import json
name = 'shop-development-networking'
body = cf.get_template(StackName=name)['TemplateBody']
t = body if isinstance(body, dict) else json.loads(body)
for r in t['Resources'].values():
    if r['Type'] == 'AWS::Logs::LogGroup':
        r['Properties']['RetentionInDays'] = 1
stack = cf.describe_stacks(StackName=name)['Stacks'][0]
cf.update_stack(StackName=name, TemplateBody=json.dumps(t), Tags=stack['Tags'], Capabilities=['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'])"#,
    )
    .expect("an update through boto3");
    assert_eq!(deployed_retention(&moto), Some(1));

    // The next morning's check (the last one was a day ago).
    {
        let state = State::open(Path::new(&scratch.state())).expect("the state database");
        let yesterday = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        state
            .record_schedule_fired("acme/infra", "*", 0, yesterday)
            .expect("state");
    }
    let check = watch_once(&git, &path, &scratch, &[], &env);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert_eq!(
        deployed_retention(&moto),
        Some(7),
        "healed: {}",
        check.stderr
    );
    let issues = github.issues(&repo);
    assert_eq!(issues.len(), 1, "{issues:?}\n{}", check.stderr);
    assert!(
        issues[0].body.contains("networking") && issues[0].body.contains("RetentionInDays"),
        "{}",
        issues[0].body
    );
    assert_eq!(issues[0].state, "closed", "{}", check.stderr);
    let state = State::open(Path::new(&scratch.state())).expect("the state database");
    let record = state
        .drift("acme/infra", "dev")
        .expect("read")
        .expect("a drift record");
    assert!(!record.drifted, "{}", record.report);
}

#[test]
fn a_private_repository_is_fetched_with_the_token_on_the_first_request() {
    let scratch = Scratch::new();
    let mut git = GitFixture::new();
    git.write("README.md", "private\n");
    git.commit("one");
    let root = git.path().parent().expect("a parent directory");
    let name = git
        .path()
        .file_name()
        .expect("a directory name")
        .to_string_lossy()
        .into_owned();
    let http = GitHttp::start_private(root, "ghs_test");
    let url = http.url(&format!("{name}/.git"));

    let run = watch_once(
        &git,
        &url,
        &scratch,
        &[],
        &[("STRATA_GITHUB_TOKEN", "ghs_test")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(http.refused(), 0, "every request carried the token");

    let anonymous = Scratch::new();
    let run = watch_once(&git, &url, &anonymous, &[], &[]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("STRATA_GITHUB_TOKEN"), "{}", run.stderr);
}
