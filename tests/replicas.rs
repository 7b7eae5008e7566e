//! Several `strata serve` replicas sharing one PostgreSQL state database,
//! end to end: a real PostgreSQL on a free 127.0.0.1 port, the binary run
//! three times against it, the recording fake GitHub and moto's
//! CloudFormation. Deliveries are sprayed across replicas (the same one to
//! two of them, as a load balancer retrying does); a replica is killed with
//! SIGKILL in the middle of an apply.

use std::time::{Duration, Instant};

use strata::forge::Repo;
use strata::forge::fake::{FakeGitHub, PullRequestSeed};
use strata::state::{RunStatus, State};
use strata_tests::postgres::Postgres;
use strata_tests::server::{self, NAME, OWNER, PrPayload, Server, prod};
use strata_tests::{GitFixture, Moto};

/// The config repository, two pull requests that change prod, the fake
/// GitHub, and one PostgreSQL database for the replicas.
struct World {
    git: GitFixture,
    pr7: String,
    pr8: String,
    github: FakeGitHub,
    repo: Repo,
    _postgres: Postgres,
    state: String,
    dir: tempfile::TempDir,
}

impl World {
    fn new(database: &str) -> Self {
        let mut git = GitFixture::new();
        git.write("environments/prod.toml", &prod(90, false));
        git.commit("prod: networking and security");
        let base = git.head_id();
        git.write("environments/prod.toml", &prod(90, true));
        git.commit("prod: add an s3 stack");
        let pr7 = git.head_id();
        git.reset_main(&base);
        git.write("environments/prod.toml", &prod(180, false));
        git.commit("prod: keep flow logs longer");
        let pr8 = git.head_id();
        git.reset_main(&base);
        git.set_ref("refs/pull/7/head", &pr7);
        git.set_ref("refs/pull/8/head", &pr8);

        let github = FakeGitHub::start().expect("start the fake GitHub");
        let repo = Repo::new(OWNER, NAME).expect("a repo");
        github.add_repository(&repo, "main");
        for (number, head, author) in [(7, &pr7, "alice"), (8, &pr8, "carol")] {
            github.add_pull_request(
                &repo,
                PullRequestSeed {
                    number,
                    author: author.to_owned(),
                    head_sha: head.clone(),
                    head_ref: format!("change-{number}"),
                    ..PullRequestSeed::default()
                },
            );
        }
        github.set_permission(&repo, "bob", "write");
        let postgres = Postgres::start().unwrap_or_else(|error| panic!("{error}"));
        let state = postgres
            .database(database)
            .unwrap_or_else(|error| panic!("{error}"));
        Self {
            git,
            pr7,
            pr8,
            github,
            repo,
            _postgres: postgres,
            state,
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// A replica named `name` (its own mirror directory, as on its own
    /// machine), with a short lease so a dead replica is taken over fast.
    fn replica(&self, name: &str, moto: &Moto, more_env: &[(&'static str, &str)]) -> Server {
        let mut env = vec![
            ("STRATA_WEBHOOK_SECRET", server::SECRET.to_owned()),
            ("STRATA_GITHUB_TOKEN", "ghp_test_token".to_owned()),
        ];
        env.extend(moto.env());
        env.extend(more_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let clones = self.dir.path().join(name).display().to_string();
        Server::start(
            env!("CARGO_BIN_EXE_strata-under-test"),
            env!("CARGO_TARGET_TMPDIR"),
            &[
                "--state",
                &self.state,
                "--lease",
                "2s",
                "--clones",
                &clones,
                "--github-url",
                self.github.url(),
            ],
            &env,
        )
    }

    fn open_payload(&self, number: u64, head: &str) -> serde_json::Value {
        server::pull_request(
            self.git.path(),
            &PrPayload {
                action: "opened",
                number,
                head_sha: head,
                merged: false,
                sender: if number == 7 { "alice" } else { "carol" },
            },
        )
    }

    /// `user` comments `body` on `pr`: stored on the fake GitHub, then the
    /// same delivery sent to every replica in `to`.
    fn command(&self, to: &[&Server], pr: u64, user: &str, body: &str, delivery: &str) {
        let id = self.github.add_comment(&self.repo, pr, user, body);
        let payload = server::comment(self.git.path(), pr, id, user, body);
        deliver_to_all(to, "issue_comment", delivery, &payload);
    }

    fn comments_with(&self, pr: u64, marker: &str) -> Vec<String> {
        self.github
            .comments(&self.repo, pr)
            .into_iter()
            .filter(|c| c.body.contains(marker))
            .map(|c| c.body)
            .collect()
    }

    fn state(&self) -> State {
        State::connect(&self.state).expect("open the shared state")
    }

    fn logs(&self, servers: &[&Server]) -> String {
        servers
            .iter()
            .enumerate()
            .map(|(i, s)| format!("--- replica {i}\n{}", s.log()))
            .collect()
    }
}

/// Send one delivery to each of `servers` at the same moment: one of them
/// queues it (202), the others find it queued (200).
fn deliver_to_all(servers: &[&Server], event: &str, delivery: &str, payload: &serde_json::Value) {
    let codes: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|server| scope.spawn(move || server.deliver(event, delivery, payload)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("deliver"))
            .collect()
    });
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    let mut expected = vec![200; servers.len() - 1];
    expected.push(202);
    expected.sort_unstable();
    assert_eq!(sorted, expected, "delivery `{delivery}` answered {codes:?}");
}

fn wait_until<T>(
    what: &str,
    seconds: u64,
    logs: impl Fn() -> String,
    check: impl FnMut() -> Option<T>,
) -> T {
    server::eventually_with(seconds, what, logs, check)
}

fn stacks(moto: &Moto) -> String {
    moto.python("print(sorted(s['StackName'] + ' ' + s['StackStatus'] for s in cf.describe_stacks()['Stacks']))")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn deliveries_sprayed_across_three_replicas_give_one_comment_and_one_apply() {
    let moto = Moto::start().unwrap_or_else(|message| panic!("{message}"));
    let world = World::new("sprayed");
    let a = world.replica("a", &moto, &[]);
    let b = world.replica("b", &moto, &[]);
    let c = world.replica("c", &moto, &[]);
    let all = [&a, &b, &c];
    let logs = || world.logs(&all);

    // The same "opened" delivery reaches two replicas: one plan comment.
    deliver_to_all(
        &[&a, &b],
        "pull_request",
        "d-open-7",
        &world.open_payload(7, &world.pr7),
    );
    wait_until("the plan comment", 120, logs, || {
        world
            .comments_with(7, "<!-- strata:pr -->")
            .into_iter()
            .find(|c| c.contains("Strata plan"))
    });
    let state = world.state();
    wait_until("the open job to finish", 60, logs, || {
        (state.job_counts().ok()? == (0, 0)).then_some(())
    });
    assert_eq!(world.comments_with(7, "<!-- strata:pr -->").len(), 1);

    // `/strata apply` reaches all three: one apply, reported once.
    world.github.add_review(&world.repo, 7, "bob", "APPROVED");
    world.command(&all, 7, "bob", "/strata apply prod", "d-apply");
    let results = wait_until("the apply to succeed", 120, logs, || {
        world
            .comments_with(7, "<!-- strata:apply run=")
            .into_iter()
            .find(|c| c.contains("succeeded"))
    });
    assert!(results.contains("3 created."), "{results}");
    wait_until("the apply job to finish", 60, logs, || {
        (state.job_counts().ok()? == (0, 0)).then_some(())
    });
    assert_eq!(
        world.comments_with(7, "<!-- strata:apply run=").len(),
        1,
        "{}",
        logs()
    );
    let applies = state.runs("acme/infra", 7).expect("runs");
    assert_eq!(
        applies
            .iter()
            .filter(|r| r.kind == strata::state::RunKind::Apply)
            .count(),
        1,
        "one apply run: {applies:?}"
    );
    assert_eq!(
        stacks(&moto),
        "['shop-production-networking CREATE_COMPLETE', 'shop-production-s3 CREATE_COMPLETE', 'shop-production-security CREATE_COMPLETE']"
    );
    // Every replica took part in the group.
    assert_eq!(
        state
            .replicas(std::time::SystemTime::now(), Duration::from_secs(10))
            .expect("replicas")
            .len(),
        3
    );
}

#[test]
fn two_pull_requests_racing_for_one_environment_on_two_replicas_get_one_winner() {
    let moto = Moto::start().unwrap_or_else(|message| panic!("{message}"));
    let world = World::new("racing");
    let a = world.replica("a", &moto, &[]);
    let b = world.replica("b", &moto, &[]);
    let logs = || world.logs(&[&a, &b]);
    let (open7, open8) = (
        world.open_payload(7, &world.pr7),
        world.open_payload(8, &world.pr8),
    );
    std::thread::scope(|scope| {
        scope.spawn(|| assert_eq!(a.deliver("pull_request", "d-open-7", &open7), 202));
        scope.spawn(|| assert_eq!(b.deliver("pull_request", "d-open-8", &open8), 202));
    });
    let state = world.state();
    wait_until("both pull requests to be planned", 120, logs, || {
        let planned = [7, 8]
            .iter()
            .all(|pr| !world.comments_with(*pr, "<!-- strata:pr -->").is_empty());
        (planned && state.job_counts().ok()? == (0, 0)).then_some(())
    });
    let locks = state.all_locks().expect("locks");
    assert_eq!(locks.len(), 1, "{locks:?}");
    let winner = locks[0].holder.pr;
    let loser = if winner == 7 { 8 } else { 7 };
    let blocked = world.comments_with(loser, "<!-- strata:pr -->").join("\n");
    assert!(
        blocked.contains(&format!("`prod` is locked by [#{winner}]")),
        "{blocked}\n{}",
        logs()
    );
}

#[test]
fn a_replica_killed_mid_apply_is_taken_over_and_reported() {
    let moto = Moto::start().unwrap_or_else(|message| panic!("{message}"));
    let world = World::new("killed");
    // The victim polls CloudFormation slowly: the apply is surely running
    // when it is killed.
    let mut victim = world.replica("victim", &moto, &[("STRATA_POLL_MS", "20000")]);
    let state = world.state();
    assert_eq!(
        victim.deliver(
            "pull_request",
            "d-open-7",
            &world.open_payload(7, &world.pr7)
        ),
        202
    );
    wait_until(
        "the plan",
        120,
        || victim.log(),
        || {
            (state.job_counts().ok()? == (0, 0)
                && !world.comments_with(7, "<!-- strata:pr -->").is_empty())
            .then_some(())
        },
    );
    world.github.add_review(&world.repo, 7, "bob", "APPROVED");
    world.command(&[&victim], 7, "bob", "/strata apply prod", "d-apply");
    let run = wait_until(
        "the apply to start its stacks",
        120,
        || victim.log(),
        || {
            let run = state.unfinished_runs().ok()?.into_iter().next()?;
            (!run.stacks.is_empty()).then_some(run)
        },
    );

    // Two survivors join, then the victim dies without a word.
    let b = world.replica("b", &moto, &[]);
    let c = world.replica("c", &moto, &[]);
    let pid = victim.pid().expect("the victim runs");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = victim.stop();
    let died = Instant::now();
    let logs = || world.logs(&[&b, &c]);

    // A survivor takes the job over once the lease runs out, asks
    // CloudFormation where each stack is, and reports on the pull request.
    let report = wait_until("the interrupted apply to be reported", 60, logs, || {
        world
            .comments_with(7, "<!-- strata:apply run=")
            .into_iter()
            .find(|c| c.contains("interrupted"))
    });
    let took = died.elapsed();
    assert!(report.contains("`networking`"), "{report}");
    let finished = state.run(run.id).expect("read the run").expect("the run");
    assert_eq!(finished.status, RunStatus::Interrupted);
    wait_until("the job to be finished", 60, logs, || {
        (state.job_counts().ok()? == (0, 0)).then_some(())
    });
    // Reported once, by one survivor; the apply was not run again.
    assert_eq!(
        world.comments_with(7, "<!-- strata:apply run=").len(),
        1,
        "{}",
        logs()
    );
    let both = logs();
    assert_eq!(
        both.matches("took over a run of a replica that stopped")
            .count(),
        1,
        "{both}"
    );
    println!(
        "taken over {:.1} s after kill -9 (lease 2 s)",
        took.as_secs_f64()
    );

    // The lock is still #7's, visible to an operator on any machine, and
    // released from the command line.
    let listed = strata_tests::run_with(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &world.git.fixture,
        &["locks", "list", "--state", &world.state],
        &[],
    );
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.contains("acme/infra  prod"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains("#7"), "{}", listed.stdout);
    let released = strata_tests::run_with(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &world.git.fixture,
        &[
            "locks",
            "release",
            "acme/infra",
            "prod",
            "--state",
            &world.state,
        ],
        &[],
    );
    assert_eq!(released.code, 0, "{}", released.stderr);
    assert!(
        released
            .stdout
            .contains("released `prod` of `acme/infra`, held by #7"),
        "{}",
        released.stdout
    );
    assert!(state.all_locks().expect("locks").is_empty());
}
