//! `strata serve` end to end: real webhook payloads, signed, sent over HTTP
//! to the binary; the binary fetches a real git repository, talks to the
//! recording fake GitHub through octocrab, and deploys to moto's
//! CloudFormation. Everything listens on 127.0.0.1.

use std::path::Path;

use strata::forge::Repo;
use strata::forge::fake::{FakeGitHub, Fault, FaultKind, PullRequestSeed};
use strata::state::State;
use strata_tests::server::{self, NAME, OWNER, PrPayload, Server, prod};
use strata_tests::{GitFixture, Moto};

/// The config repository as GitHub would hold it: `main` with prod, and two
/// pull requests that change prod (`refs/pull/N/head`).
struct World {
    git: GitFixture,
    base: String,
    pr7: String,
    pr8: String,
    github: FakeGitHub,
    repo: Repo,
    _state_dir: tempfile::TempDir,
    state_path: std::path::PathBuf,
    clones: std::path::PathBuf,
}

impl World {
    fn new() -> Self {
        Self::with_api_prefix("")
    }

    /// The fake GitHub's API under `prefix`: GitHub Enterprise Server serves
    /// it under `/api/v3`.
    fn with_api_prefix(prefix: &str) -> Self {
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

        let github = FakeGitHub::start_with_prefix(prefix).expect("start the fake GitHub");
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
        github.set_permission(&repo, "eve", "read");
        let state_dir = tempfile::tempdir().expect("a temp dir");
        let state_path = state_dir.path().join("state.db");
        let clones = state_dir.path().join("clones");
        Self {
            git,
            base,
            pr7,
            pr8,
            github,
            repo,
            _state_dir: state_dir,
            state_path,
            clones,
        }
    }

    fn clone_url(&self) -> &Path {
        self.git.path()
    }

    fn serve(&self, moto: Option<&Moto>, extra: &[&str]) -> Server {
        self.serve_with_env(moto, extra, &[])
    }

    /// `serve`, with more environment variables.
    fn serve_with_env(
        &self,
        moto: Option<&Moto>,
        extra: &[&str],
        more_env: &[(&'static str, &str)],
    ) -> Server {
        let mut env = vec![
            ("STRATA_WEBHOOK_SECRET", server::SECRET.to_owned()),
            ("STRATA_GITHUB_TOKEN", "ghp_test_token".to_owned()),
        ];
        if let Some(moto) = moto {
            env.extend(moto.env());
        } else {
            // Nothing may reach a real AWS endpoint from these tests.
            env.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()));
        }
        env.extend(more_env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let state = self.state_path.display().to_string();
        let clones = self.clones.display().to_string();
        let mut args = vec![
            "--state",
            state.as_str(),
            "--clones",
            clones.as_str(),
            "--github-url",
            self.github.url(),
        ];
        args.extend_from_slice(extra);
        Server::start(
            env!("CARGO_BIN_EXE_strata-under-test"),
            env!("CARGO_TARGET_TMPDIR"),
            &args,
            &env,
        )
    }

    fn open(&self, server: &Server, number: u64, head: &str, delivery: &str) {
        let payload = server::pull_request(
            self.clone_url(),
            &PrPayload {
                action: "opened",
                number,
                head_sha: head,
                merged: false,
                sender: if number == 7 { "alice" } else { "carol" },
            },
        );
        assert_eq!(server.deliver("pull_request", delivery, &payload), 202);
    }

    /// The body of the comment on `pr` holding `marker`, once there is one.
    fn comment_with(&self, server: &Server, pr: u64, marker: &str, containing: &str) -> String {
        server::eventually(
            server,
            120,
            &format!("a comment on #{pr} with `{marker}` saying `{containing}`"),
            || {
                self.github
                    .comments(&self.repo, pr)
                    .into_iter()
                    .find(|c| c.body.contains(marker) && c.body.contains(containing))
                    .map(|c| c.body)
            },
        )
    }

    fn status(&self, server: &Server, sha: &str, context: &str, state: &str) -> String {
        server::eventually(
            server,
            120,
            &format!("status `{context}` = {state} on {sha}"),
            || {
                self.github
                    .statuses(&self.repo, sha)
                    .into_iter()
                    .rev()
                    .find(|s| s.context == context)
                    .filter(|s| s.state == state)
                    .map(|s| s.description.unwrap_or_default())
            },
        )
    }

    /// `user` comments `body` on pull request `pr`: stored on the fake GitHub,
    /// then delivered. The comment's id.
    fn command(&self, server: &Server, pr: u64, user: &str, body: &str, delivery: &str) -> u64 {
        let id = self.github.add_comment(&self.repo, pr, user, body);
        let payload = server::comment(self.clone_url(), pr, id, user, body);
        assert_eq!(server.deliver("issue_comment", delivery, &payload), 202);
        id
    }

    fn reactions(&self, server: &Server, comment: u64, wanted: &str) -> Vec<String> {
        server::eventually(server, 120, &format!("a `{wanted}` reaction"), || {
            let found: Vec<String> = self
                .github
                .reactions(comment)
                .into_iter()
                .map(|r| r.content)
                .collect();
            found.iter().any(|r| r == wanted).then_some(found)
        })
    }
}

fn start_moto() -> Moto {
    Moto::start().unwrap_or_else(|message| panic!("{message}"))
}

fn stacks(moto: &Moto) -> String {
    moto.python("print(sorted(s['StackName'] + ' ' + s['StackStatus'] for s in cf.describe_stacks()['Stacks']))")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_pull_request_is_planned_applied_by_a_writer_and_reported_on() {
    let moto = start_moto();
    let world = World::new();
    let mut server = world.serve(Some(&moto), &[]);

    // Opened: one plan comment, one status per environment.
    world.open(&server, 7, &world.pr7, "d-open-7");
    let plan = world.comment_with(&server, 7, "<!-- strata:pr -->", "Strata plan");
    assert!(plan.contains("prod"), "{plan}");
    assert!(plan.contains("s3"), "{plan}");
    assert!(plan.contains("/strata apply"), "{plan}");
    let description = world.status(&server, &world.pr7, "strata/plan: prod", "success");
    assert_eq!(description, "1 to add, 0 to change, 0 to remove");
    insta::assert_snapshot!("plan_comment_of_a_new_stack", plan);

    // A reader may not apply.
    let refused = world.command(&server, 7, "eve", "/strata apply prod", "d-eve");
    assert_eq!(
        world.reactions(&server, refused, "confused"),
        ["eyes", "confused"]
    );
    world.comment_with(
        &server,
        7,
        "@eve",
        "needs write access to `acme/infra`; you have `read`",
    );

    // Nor may a writer before an approving review.
    let early = world.command(&server, 7, "bob", "/strata apply prod", "d-early");
    world.reactions(&server, early, "confused");
    world.comment_with(&server, 7, "@bob", "needs an approving review");
    assert_eq!(stacks(&moto), "[]");

    // Approved: the apply deploys prod to moto and reports on the PR.
    world.github.add_review(&world.repo, 7, "bob", "APPROVED");
    let apply = world.command(&server, 7, "bob", "/strata apply prod", "d-apply");
    assert_eq!(
        world.reactions(&server, apply, "rocket"),
        ["eyes", "rocket"]
    );
    let results = world.comment_with(&server, 7, "<!-- strata:apply run=", "succeeded");
    assert!(
        results.contains("| `networking` | 1 | ✅ created |"),
        "{results}"
    );
    assert!(results.contains("| `s3` | 1 | ✅ created |"), "{results}");
    assert!(
        results.contains("| `security` | 2 | ✅ created |"),
        "{results}"
    );
    assert!(results.contains("3 created."), "{results}");
    insta::with_settings!({filters => vec![(r"\d+\.\ds", "[time]")]}, {
        insta::assert_snapshot!("apply_comment_of_three_new_stacks", results);
    });
    assert_eq!(
        stacks(&moto),
        "['shop-production-networking CREATE_COMPLETE', 'shop-production-s3 CREATE_COMPLETE', 'shop-production-security CREATE_COMPLETE']"
    );
    world.status(&server, &world.pr7, "strata/apply: prod", "success");

    // A second pull request on prod is told who holds it.
    world.open(&server, 8, &world.pr8, "d-open-8");
    let blocked = world.comment_with(&server, 8, "<!-- strata:pr -->", "is locked by");
    assert!(
        blocked.contains("`prod` is locked by [#7](https://github.com/acme/infra/pull/7) (@alice"),
        "{blocked}"
    );
    let description = world.status(&server, &world.pr8, "strata/plan: prod", "failure");
    assert_eq!(description, "locked by #7; not planned");
    insta::assert_snapshot!("plan_comment_of_a_blocked_pull_request", blocked);

    // The merge (a fast-forward: main is now #7's head) releases the lock.
    // That commit is deployed already, so neither the merge nor the push of
    // it applies again.
    world.git.set_ref("refs/heads/main", &world.pr7);
    let merged = server::pull_request(
        world.clone_url(),
        &PrPayload {
            action: "closed",
            number: 7,
            head_sha: &world.pr7,
            merged: true,
            sender: "bob",
        },
    );
    assert_eq!(server.deliver("pull_request", "d-merge-7", &merged), 202);
    let push = server::push(world.clone_url(), &world.base, &world.pr7, "bob");
    assert_eq!(server.deliver("push", "d-push", &push), 202);
    server::eventually(&server, 120, "the merge to release #7's lock", || {
        let state = State::open(&world.state_path).ok()?;
        (!state.all_locks().ok()?.iter().any(|l| l.holder.pr == 7)).then_some(())
    });
    server::eventually(&server, 120, "the push to be handled", || {
        let log = server.log();
        (log.contains("handled delivery=d-push") && log.contains("handled delivery=d-merge-7"))
            .then_some(())
    });
    // prod runs #7's head already (its apply recorded it): nothing to promote.
    let deployed = State::open(&world.state_path)
        .ok()
        .and_then(|s| s.deployed("acme/infra", "prod").ok().flatten())
        .map(|d| d.commit);
    assert_eq!(deployed.as_deref(), Some(world.pr7.as_str()));

    // #8 waited for the lock: it is planned again without anyone asking.
    world.status(&server, &world.pr8, "strata/plan: prod", "success");
    let plan8 = world.comment_with(&server, 8, "<!-- strata:pr -->", "Strata plan");
    assert!(!plan8.contains("is locked by"), "{plan8}");
    assert!(
        server.log().contains("the lock it waited for is free"),
        "{}",
        server.log()
    );
    let locks = State::open(&world.state_path)
        .ok()
        .and_then(|s| s.all_locks().ok())
        .unwrap_or_default();
    assert_eq!(
        locks.iter().map(|l| l.holder.pr).collect::<Vec<_>>(),
        [8],
        "#8 holds prod now"
    );

    assert_eq!(server.stop(), Some(0), "{}", server.log());
    let applies = world
        .github
        .comments(&world.repo, 7)
        .into_iter()
        .filter(|c| c.body.contains("<!-- strata:apply run="))
        .count();
    assert_eq!(applies, 1, "one apply, reported once");
    assert_eq!(
        stacks(&moto),
        "['shop-production-networking CREATE_COMPLETE', 'shop-production-s3 CREATE_COMPLETE', 'shop-production-security CREATE_COMPLETE']"
    );
}

#[test]
fn memory_returns_to_its_baseline_after_oversize_chunked_bodies() {
    let world = World::new();
    let server = world.serve(None, &[]);
    let forged = strata::server::webhook::sign(b"not the secret", b"{}");
    let headers = [
        ("X-GitHub-Event", "pull_request"),
        ("X-GitHub-Delivery", "d-chunked"),
        ("X-Hub-Signature-256", forged.as_str()),
        ("Content-Type", "application/json"),
    ];
    // Warm up the paths a delivery takes, then take the baseline.
    assert_eq!(server.post_chunked(&headers, 1 << 10), 401);
    let baseline = server.resident_kib().expect("the server's memory");
    for _ in 0..3 {
        assert_eq!(server.post_chunked(&headers, 30 << 20), 413);
    }
    let after = server.resident_kib().expect("the server's memory");
    assert!(
        // Without giving the memory back: about +9 MiB here.
        after < baseline + (4 << 10),
        "resident memory went from {baseline} KiB to {after} KiB after three 30 MB bodies"
    );
}

#[test]
fn forged_replayed_and_oversize_deliveries_do_nothing() {
    let world = World::new();
    let server = world.serve(None, &[]);
    let payload = server::pull_request(
        world.clone_url(),
        &PrPayload {
            action: "opened",
            number: 7,
            head_sha: &world.pr7,
            merged: false,
            sender: "alice",
        },
    );
    let body = serde_json::to_vec(&payload).expect("json");

    // Forged: signed with another secret, or not at all.
    let forged = strata::server::webhook::sign(b"not the secret", &body);
    let signed_with = |signature: &str| -> u16 {
        server.post(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "d-forged"),
                ("X-Hub-Signature-256", signature),
                ("Content-Type", "application/json"),
            ],
            &body,
        )
    };
    assert_eq!(signed_with(&forged), 401);
    assert_eq!(signed_with("sha256=00"), 401);
    assert_eq!(
        server.post(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "d-unsigned"),
                ("Content-Type", "application/json"),
            ],
            &body
        ),
        401
    );
    // Oversize: over GitHub's 25 MB.
    let huge = vec![b' '; 26 << 20];
    assert_eq!(
        server.post(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "d-huge"),
                ("X-Hub-Signature-256", &forged),
                ("Content-Type", "application/json"),
            ],
            &huge
        ),
        413
    );
    // Form-encoded payloads are refused with a message.
    assert_eq!(
        server.post(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "d-form"),
                (
                    "X-Hub-Signature-256",
                    &strata::server::webhook::sign(server::SECRET.as_bytes(), b"payload=%7B%7D")
                ),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            b"payload=%7B%7D"
        ),
        415
    );
    assert_eq!(world.github.requests(), [], "nothing reached GitHub");

    // The real delivery, then its replay.
    assert_eq!(server.deliver("pull_request", "d-once", &payload), 202);
    world.comment_with(&server, 7, "<!-- strata:pr -->", "Strata plan");
    assert_eq!(server.deliver("pull_request", "d-once", &payload), 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let comments = world.github.comments(&world.repo, 7);
    assert_eq!(comments.len(), 1, "{comments:?}");
    let creates = world
        .github
        .requests()
        .into_iter()
        .filter(|r| r.is("POST", "/issues/7/comments"))
        .count();
    assert_eq!(creates, 1, "the replay posted nothing");
}

#[test]
fn a_bad_gateway_while_posting_the_plan_leaves_exactly_one_comment() {
    // On a GitHub Enterprise-style base URL, too.
    let world = World::with_api_prefix("/api/v3");
    world.github.inject(Fault::new(
        "POST",
        "/issues/7/comments",
        FaultKind::BadGateway,
    ));
    let server = world.serve(None, &[]);
    world.open(&server, 7, &world.pr7, "d-502");
    world.comment_with(&server, 7, "<!-- strata:pr -->", "Strata plan");
    world.status(&server, &world.pr7, "strata/plan: prod", "success");
    assert_eq!(world.github.comments(&world.repo, 7).len(), 1);
}

#[test]
fn locks_of_pull_requests_closed_while_the_server_was_down_are_released_on_start() {
    let world = World::new();
    let mut server = world.serve(None, &[]);
    world.open(&server, 7, &world.pr7, "d-open-7");
    world.status(&server, &world.pr7, "strata/plan: prod", "success");
    assert_eq!(
        server.stop(),
        Some(0),
        "SIGTERM stops cleanly:\n{}",
        server.log()
    );
    let locked = State::open(&world.state_path)
        .expect("state")
        .all_locks()
        .expect("locks");
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0].holder.pr, 7);

    // Closed on GitHub while nobody listened.
    world.github.add_pull_request(
        &world.repo,
        PullRequestSeed {
            number: 7,
            head_sha: world.pr7.clone(),
            open: false,
            ..PullRequestSeed::default()
        },
    );
    let mut server = world.serve(None, &[]);
    assert_eq!(server.stop(), Some(0), "{}", server.log());
    let locked = State::open(&world.state_path)
        .expect("state")
        .all_locks()
        .expect("locks");
    assert_eq!(locked, []);
}

#[test]
fn refuses_to_start_without_a_webhook_secret() {
    let world = World::new();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_strata-under-test"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--github-url",
            world.github.url(),
        ])
        .env("STRATA_GITHUB_TOKEN", "t")
        .env_remove("STRATA_WEBHOOK_SECRET")
        .env("NO_COLOR", "1")
        .current_dir(world.git.path())
        .output()
        .expect("run strata serve");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    insta::assert_snapshot!(stderr);
}

#[test]
fn commands_are_acknowledged_and_answered() {
    let world = World::new();
    let server = world.serve(None, &[]);
    world.open(&server, 7, &world.pr7, "d-open-7");
    world.status(&server, &world.pr7, "strata/plan: prod", "success");

    let help = world.command(&server, 7, "carol", "/strata help", "d-help");
    assert_eq!(world.reactions(&server, help, "rocket"), ["eyes", "rocket"]);
    world.comment_with(&server, 7, "@carol", "/strata unlock");

    let typo = world.command(&server, 7, "carol", "/strata aply prod", "d-typo");
    assert_eq!(world.reactions(&server, typo, "confused"), ["confused"]);
    world.comment_with(&server, 7, "@carol", "did you mean `apply`?");

    let unknown = world.command(&server, 7, "carol", "/strata plan prdo", "d-prdo");
    world.reactions(&server, unknown, "confused");
    world.comment_with(&server, 7, "@carol", "there is no environment `prdo`");

    // Only writers unlock; bob is one.
    let reader = world.command(&server, 7, "eve", "/strata unlock prod", "d-eve-unlock");
    world.reactions(&server, reader, "confused");
    let unlock = world.command(&server, 7, "bob", "/strata unlock prod", "d-unlock");
    world.reactions(&server, unlock, "rocket");
    world.comment_with(&server, 7, "@bob", "released `prod`");
    let state = State::open(&world.state_path).expect("state");
    assert_eq!(state.all_locks().expect("locks"), []);
    assert_eq!(state.plans("acme/infra", 7).expect("plans"), []);

    // Without a plan, apply says what to do first.
    world.github.add_review(&world.repo, 7, "bob", "APPROVED");
    let apply = world.command(&server, 7, "bob", "/strata apply prod", "d-apply");
    world.reactions(&server, apply, "confused");
    world.comment_with(&server, 7, "@bob", "comment `/strata plan prod` first");

    // Closing without merging releases what #7 holds again.
    let plan = world.command(&server, 7, "bob", "/strata plan", "d-plan-again");
    world.reactions(&server, plan, "rocket");
    assert_eq!(state.all_locks().expect("locks").len(), 1);
    let closed = server::pull_request(
        world.clone_url(),
        &PrPayload {
            action: "closed",
            number: 7,
            head_sha: &world.pr7,
            merged: false,
            sender: "alice",
        },
    );
    assert_eq!(server.deliver("pull_request", "d-close", &closed), 202);
    server::eventually(&server, 60, "the close to release the lock", || {
        state.all_locks().ok()?.is_empty().then_some(())
    });
}

#[test]
fn an_apply_interrupted_by_a_crash_is_reported_with_the_stacks_real_states() {
    let moto = start_moto();
    let world = World::new();
    // main's prod is deployed (networking and security).
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let deployed = strata_tests::run_with(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &world.git.fixture,
        &["apply", "--env", "prod", "--yes"],
        &env,
    );
    assert_eq!(deployed.code, 0, "{}", deployed.stderr);

    // The server plans #7, then "crashes" in the middle of applying it.
    let mut server = world.serve(Some(&moto), &[]);
    world.open(&server, 7, &world.pr7, "d-open-7");
    world.status(&server, &world.pr7, "strata/plan: prod", "success");
    assert_eq!(server.stop(), Some(0), "{}", server.log());
    let state = State::open(&world.state_path).expect("state");
    let run = state
        .start_run(
            strata::state::NewRun {
                repo: "acme/infra".into(),
                pr: Some(7),
                environment: "prod".into(),
                head_sha: world.pr7.clone(),
                kind: strata::state::RunKind::Apply,
                comment_id: None,
            },
            std::time::SystemTime::now(),
        )
        .expect("start a run");
    for stack in ["networking", "s3"] {
        state
            .record_stack(
                run,
                strata::state::StackRecord {
                    stack: stack.into(),
                    status: "CREATE_IN_PROGRESS".into(),
                    started_at: std::time::SystemTime::now(),
                    finished_at: None,
                    reason: None,
                },
            )
            .expect("record a stack");
    }
    drop(state);

    let mut server = world.serve(Some(&moto), &[]);
    let report = world.comment_with(&server, 7, "<!-- strata:apply run=", "interrupted");
    assert!(
        report.contains("| `networking` | `CREATE_COMPLETE` |"),
        "{report}"
    );
    assert!(report.contains("| `s3` | `does not exist` |"), "{report}");
    world.status(&server, &world.pr7, "strata/apply: prod", "error");
    assert_eq!(server.stop(), Some(0), "{}", server.log());
    let state = State::open(&world.state_path).expect("state");
    let runs = state.runs("acme/infra", 7).expect("runs");
    let interrupted = runs.iter().find(|r| r.id == run).expect("the run");
    assert_eq!(interrupted.status, strata::state::RunStatus::Interrupted);
}

#[test]
fn a_repository_that_cannot_be_fetched_is_reported_on_the_pull_request() {
    let world = World::new();
    let server = world.serve(None, &[]);
    let gone = world.clone_url().join("no-such-repository");
    let payload = server::pull_request(
        &gone,
        &PrPayload {
            action: "opened",
            number: 7,
            head_sha: &world.pr7,
            merged: false,
            sender: "alice",
        },
    );
    assert_eq!(server.deliver("pull_request", "d-gone", &payload), 202);
    let comment = world.comment_with(&server, 7, "<!-- strata:pr -->", "could not be planned");
    assert!(comment.contains("cannot fetch `acme/infra`"), "{comment}");
    let description = world.status(&server, &world.pr7, "strata/plan", "error");
    assert!(
        description.starts_with("could not plan: cannot fetch"),
        "{description}"
    );
}

/// `GET path` from the server: status, `Content-Type`, body.
fn get(server: &Server, path: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.address()).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.address()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-type:")
                .then(|| l["content-type:".len()..].trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// A Prometheus text exposition, read strictly: every line is a `# HELP` or
/// `# TYPE` comment or `name{labels} value`. Samples by `name{labels}` as
/// written.
fn parse_metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut samples = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP strata_") || comment.starts_with("TYPE strata_"),
                "an unexpected comment: {line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "a bad metric name: {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels: {line}");
        }
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("a bad value: {line}"));
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[test]
fn metrics_count_deliveries_and_runs_and_json_logs_carry_each_runs_fields() {
    let moto = start_moto();
    let world = World::new();
    let mut server = world.serve_with_env(Some(&moto), &[], &[("STRATA_LOG_FORMAT", "json")]);

    // Opened, redelivered, forged.
    world.open(&server, 7, &world.pr7, "d-open-7");
    world.comment_with(&server, 7, "<!-- strata:pr -->", "Strata plan");
    let payload = server::pull_request(
        world.clone_url(),
        &PrPayload {
            action: "opened",
            number: 7,
            head_sha: &world.pr7,
            merged: false,
            sender: "alice",
        },
    );
    assert_eq!(server.deliver("pull_request", "d-open-7", &payload), 200);
    let body = serde_json::to_vec(&payload).expect("json");
    let forged = strata::server::webhook::sign(b"not the secret", &body);
    assert_eq!(
        server.post(
            &[
                ("X-GitHub-Event", "pull_request"),
                ("X-GitHub-Delivery", "d-forged"),
                ("X-Hub-Signature-256", &forged),
                ("Content-Type", "application/json"),
            ],
            &body
        ),
        401
    );
    // Applied.
    world.github.add_review(&world.repo, 7, "bob", "APPROVED");
    world.command(&server, 7, "bob", "/strata apply prod", "d-apply");
    world.comment_with(&server, 7, "<!-- strata:apply run=", "succeeded");

    let (status, content_type, text) = get(&server, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let samples = server::eventually(&server, 60, "the apply counted", || {
        let (_, _, text) = get(&server, "/metrics");
        let samples = parse_metrics(&text);
        samples
            .contains_key(r#"strata_runs_total{kind="apply",outcome="succeeded"}"#)
            .then_some(samples)
    });
    let _ = text;
    let count = |series: &str| samples.get(series).copied().unwrap_or(-1.0);
    assert_eq!(
        count(r#"strata_webhook_deliveries_total{event="pull_request",outcome="accepted"}"#),
        1.0
    );
    assert_eq!(
        count(r#"strata_webhook_deliveries_total{event="pull_request",outcome="duplicate"}"#),
        1.0
    );
    assert_eq!(
        count(
            r#"strata_webhook_deliveries_total{event="pull_request",outcome="rejected_signature"}"#
        ),
        1.0
    );
    assert_eq!(
        count(r#"strata_webhook_deliveries_total{event="issue_comment",outcome="accepted"}"#),
        1.0
    );
    assert_eq!(
        count(r#"strata_runs_total{kind="apply",outcome="succeeded"}"#),
        1.0
    );
    assert_eq!(
        count(r#"strata_run_duration_seconds_count{kind="apply"}"#),
        1.0
    );
    assert_eq!(
        count(r#"strata_run_duration_seconds_bucket{kind="apply",le="+Inf"}"#),
        1.0
    );
    assert!(count(r#"strata_runs_total{kind="plan",outcome="succeeded"}"#) >= 1.0);
    assert_eq!(count("strata_job_queue_depth"), 0.0);

    let (status, content_type, health) = get(&server, "/healthz");
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    let health: serde_json::Value = serde_json::from_str(&health).expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["database"], "ok");

    assert_eq!(server.stop(), Some(0), "{}", server.log());
    // Logs: one JSON object per line; the apply's carry its span's fields.
    let log = server.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "apply finished")
        .unwrap_or_else(|| panic!("no `apply finished` line in\n{log}"));
    let span = &finished["span"];
    assert_eq!(span["name"], "apply", "{finished}");
    assert_eq!(span["repo"], "acme/infra", "{finished}");
    assert_eq!(span["env"], "prod", "{finished}");
    assert_eq!(span["pr"], 7, "{finished}");
    assert_eq!(
        span["commit"].as_str().map(str::len),
        Some(40),
        "{finished}"
    );
    assert_eq!(finished["fields"]["outcome"], "succeeded", "{finished}");
}
