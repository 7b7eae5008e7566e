//! Three `strata serve` replicas on one PostgreSQL: how many deliveries a
//! second they sustain with every comment right, how fast each delivery is
//! answered, how many statements each costs the database, and how soon a
//! replica killed with SIGKILL is taken over.
//!
//!     cargo bench -p strata-tests --bench replicas
//!
//! 200 deliveries over 20 pull requests (each: `opened`, then four
//! `/strata plan` and five `/strata help` comments), sent round-robin to
//! the three replicas, one in ten also sent to a second replica (a load
//! balancer's retry). Done when the queue is empty and every pull request
//! has its one plan comment and its five help replies. Git plans only: nothing
//! reaches AWS. The server runs with `fsync=off`, as tests do.

use std::time::{Duration, Instant};

use strata::forge::Repo;
use strata::forge::fake::{FakeGitHub, PullRequestSeed};
use strata::state::State;
use strata_tests::GitFixture;
use strata_tests::postgres::Postgres;
use strata_tests::server::{self, NAME, OWNER, PrPayload, Server};

const PULL_REQUESTS: u64 = 20;
const PER_PR: usize = 10;

fn prod(retention: u32) -> String {
    format!(
        "project = \"shop\"\nenvironment = \"production\"\nregion = \"us-east-1\"\naccount = \"123456789012\"\nprotected = true\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.2.0.0/16\"\navailability_zones = 2\nnat_gateways = 2\nflow_log_retention_days = {retention}\n\n[stacks.security]\ntype = \"security\"\napp_port = 8080\n"
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    println!(
        "machine: {machine}, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );

    // One environment per pull request: each plans its own file, so no
    // pull request waits for another's lock.
    let mut git = GitFixture::new();
    for pr in 1..=PULL_REQUESTS {
        git.write(
            &format!("environments/env{pr}.toml"),
            &prod(90).replace("production", &format!("env{pr}")),
        );
    }
    git.commit("twenty environments");
    let base = git.head_id();
    let github = FakeGitHub::start().expect("start the fake GitHub");
    let repo = Repo::new(OWNER, NAME).expect("a repo");
    github.add_repository(&repo, "main");
    let mut heads = Vec::new();
    for pr in 1..=PULL_REQUESTS {
        git.reset_main(&base);
        git.write(
            &format!("environments/env{pr}.toml"),
            &prod(180).replace("production", &format!("env{pr}")),
        );
        git.commit(&format!("env{pr}: keep flow logs longer"));
        let head = git.head_id();
        git.set_ref(&format!("refs/pull/{pr}/head"), &head);
        github.add_pull_request(
            &repo,
            PullRequestSeed {
                number: pr,
                author: "alice".to_owned(),
                head_sha: head.clone(),
                head_ref: format!("change-{pr}"),
                ..PullRequestSeed::default()
            },
        );
        heads.push(head);
    }
    git.reset_main(&base);
    github.set_permission(&repo, "bob", "write");

    let postgres = Postgres::start_with("-c shared_preload_libraries=pg_stat_statements")
        .unwrap_or_else(|error| panic!("{error}"));
    let url = postgres.database("bench").expect("database");
    let dir = tempfile::tempdir().expect("temp dir");
    let env = vec![
        ("STRATA_WEBHOOK_SECRET", server::SECRET.to_owned()),
        ("STRATA_GITHUB_TOKEN", "ghp_test_token".to_owned()),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
    ];
    let start = |name: &str| {
        let clones = dir.path().join(name).display().to_string();
        Server::start(
            env!("CARGO_BIN_EXE_strata-under-test"),
            env!("CARGO_TARGET_TMPDIR"),
            &[
                "--state",
                &url,
                "--lease",
                "3s",
                "--clones",
                &clones,
                "--github-url",
                github.url(),
            ],
            &env,
        )
    };
    let mut replicas: Vec<Server> = ["a", "b", "c"].iter().map(|n| start(n)).collect();
    postgres
        .psql("bench", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .expect("pg_stat_statements");

    // The deliveries, in the order they are sent.
    let mut deliveries = Vec::new();
    for round in 0..PER_PR {
        for pr in 1..=PULL_REQUESTS {
            let (event, payload) = if round == 0 {
                (
                    "pull_request",
                    server::pull_request(
                        git.path(),
                        &PrPayload {
                            action: "opened",
                            number: pr,
                            head_sha: &heads[(pr - 1) as usize],
                            merged: false,
                            sender: "alice",
                        },
                    ),
                )
            } else {
                let body = if round <= 4 {
                    "/strata plan"
                } else {
                    "/strata help"
                };
                let id = github.add_comment(&repo, pr, "bob", body);
                (
                    "issue_comment",
                    server::comment(git.path(), pr, id, "bob", body),
                )
            };
            deliveries.push((format!("d-{pr}-{round}"), event, payload));
        }
    }
    postgres
        .psql("bench", "SELECT pg_stat_statements_reset()")
        .expect("reset statistics");

    let began = Instant::now();
    let mut answers = Vec::new();
    for (i, (id, event, payload)) in deliveries.iter().enumerate() {
        let to = &replicas[i % 3];
        let sent = Instant::now();
        let code = to.deliver(event, id, payload);
        answers.push(sent.elapsed());
        assert_eq!(code, 202, "{id}");
        if i % 10 == 0 {
            // A retry to another replica: found queued.
            assert_eq!(replicas[(i + 1) % 3].deliver(event, id, payload), 200);
        }
    }
    let state = State::connect(&url).expect("state");
    let done = loop {
        let idle = state.job_counts().is_ok_and(|counts| counts == (0, 0));
        let right = (1..=PULL_REQUESTS).all(|pr| {
            let comments = github.comments(&repo, pr);
            comments
                .iter()
                .filter(|c| c.body.contains("<!-- strata:pr -->"))
                .count()
                == 1
                && comments
                    .iter()
                    .filter(|c| c.body.contains("/strata apply"))
                    .count()
                    >= 1
        });
        if idle && right {
            break began.elapsed();
        }
        assert!(
            began.elapsed() < Duration::from_secs(900),
            "not done in 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    answers.sort();
    let statements: f64 = postgres
        .psql(
            "bench",
            "SELECT sum(calls) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
             WHERE d.datname = 'bench'",
        )
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN);
    let total = deliveries.len() + deliveries.len().div_ceil(10);
    println!(
        "{} deliveries (+{} repeated to a second replica) over {PULL_REQUESTS} pull requests, 3 replicas",
        deliveries.len(),
        total - deliveries.len()
    );
    println!(
        "all comments right after {:.1} s: {:.1} deliveries/s",
        done.as_secs_f64(),
        deliveries.len() as f64 / done.as_secs_f64()
    );
    println!(
        "answer time: p50 {:.1} ms, p99 {:.1} ms",
        percentile(&answers, 0.5).as_secs_f64() * 1000.0,
        percentile(&answers, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "PostgreSQL statements per delivery: {:.1} (all replicas, polling included)",
        statements / deliveries.len() as f64
    );
    let per_replica: Vec<usize> = replicas
        .iter()
        .map(|r| r.log().matches(" handled ").count())
        .collect();
    println!("jobs handled per replica: {per_replica:?}");

    // Takeover: the replica doing a job stops dead (SIGSTOP, then SIGKILL);
    // timed from the stop until another replica has done the job. Tried
    // until the stop lands while the job runs (a plan takes a moment).
    let victim = replicas.remove(0);
    let pid = victim.pid().expect("runs").to_string();
    let mut taken = None;
    for attempt in 0..20 {
        let delivery = format!("d-takeover-{attempt}");
        let id = github.add_comment(&repo, 1, "bob", "/strata plan");
        let payload = server::comment(git.path(), 1, id, "bob", "/strata plan");
        assert_eq!(victim.deliver("issue_comment", &delivery, &payload), 202);
        let running = (0..2000).any(|_| {
            std::thread::sleep(Duration::from_millis(1));
            state.job_counts().is_ok_and(|(_, running)| running == 1)
        });
        if !running {
            continue;
        }
        let stop = std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status();
        assert!(stop.is_ok_and(|s| s.success()));
        let stopped_at = Instant::now();
        let handled = format!("handled delivery={delivery}");
        while stopped_at.elapsed() < Duration::from_secs(60) {
            let log: String = replicas.iter().map(Server::log).collect();
            if log.contains(&handled) {
                if log.contains("took over a job from a replica that stopped") {
                    taken = Some(stopped_at.elapsed());
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        break;
    }
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status();
    drop(victim);
    match taken {
        Some(took) => println!(
            "takeover: a job of a replica stopped dead was done by another {:.2} s later (lease 3 s)",
            took.as_secs_f64()
        ),
        None => println!("takeover: the stop never landed while a job ran; not measured"),
    }
}
