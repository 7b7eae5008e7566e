//! A promotion's wall time against the sum of its stages, on moto: `strata
//! serve` with the fake GitHub, a workflow dev → staging → prod (every stage
//! automatic, no soak), and a merged pull request that changes all three.
//!
//!     cargo bench -p strata-tests --bench promotion
//!
//! Each sample merges a new pull request (the networking stacks' flow-log
//! retention changes in every environment) and is timed from just before the
//! `pull_request closed` delivery is sent until the promotion comment shows
//! all three stages done. The sum of the stages is the sum of the three apply
//! comments' own times ("Took 0.4s"). The first sample creates the stacks
//! and is not counted. Needs `moto_server` (`pip install 'moto[server]==5.2.5'`).

use std::time::{Duration, Instant};

use strata::forge::Repo;
use strata::forge::fake::{FakeGitHub, PullRequestSeed};
use strata_tests::server::{self, NAME, OWNER, PrPayload, Server};
use strata_tests::{GitFixture, Moto};

const SAMPLES: usize = 6;
const RETENTIONS: [u32; SAMPLES] = [14, 30, 60, 90, 120, 150];

const WORKFLOW: &str = r#"[on.pull_request]
[on.push]

[[stages]]
name = "dev"
environments = ["dev"]

[[stages]]
name = "staging"
environments = ["staging"]
after = ["dev"]

[[stages]]
name = "prod"
environments = ["prod"]
after = ["staging"]
"#;

fn environment(name: &str, retention: u32) -> String {
    format!(
        "project = \"shop\"\nenvironment = \"{name}\"\nregion = \"us-east-1\"\naccount = \"123456789012\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.2.0.0/16\"\navailability_zones = 2\nnat_gateways = 1\nflow_log_retention_days = {retention}\n\n[stacks.security]\ntype = \"security\"\napp_port = 8080\n\n[stacks.s3]\ntype = \"s3\"\n"
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let moto = Moto::start().unwrap_or_else(|message| panic!("{message}"));
    let mut git = GitFixture::new();
    for env in ["dev", "staging", "prod"] {
        git.write(&format!("environments/{env}.toml"), &environment(env, 7));
    }
    git.write("workflows/release.toml", WORKFLOW);
    git.commit("start");

    let github = FakeGitHub::start().expect("fake GitHub");
    let repo = Repo::new(OWNER, NAME).expect("repo");
    github.add_repository(&repo, "main");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.db").display().to_string();
    let clones = dir.path().join("clones").display().to_string();
    let mut env: Vec<(&str, String)> = vec![
        ("STRATA_WEBHOOK_SECRET", server::SECRET.to_owned()),
        ("STRATA_GITHUB_TOKEN", "ghp_bench".to_owned()),
        ("STRATA_POLL_MS", "20".to_owned()),
    ];
    env.extend(moto.env());
    let server = Server::start(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &[
            "--state",
            &state,
            "--clones",
            &clones,
            "--github-url",
            github.url(),
        ],
        &env,
    );

    let mut walls = Vec::new();
    let mut sums = Vec::new();
    for (index, retention) in RETENTIONS.iter().enumerate() {
        let number = u64::try_from(index + 1).unwrap_or(1);
        let main = git.head_id();
        let files: Vec<(String, String)> = ["dev", "staging", "prod"]
            .iter()
            .map(|env| {
                (
                    format!("environments/{env}.toml"),
                    environment(env, *retention),
                )
            })
            .collect();
        let edits: Vec<(&str, Option<&str>)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), Some(t.as_str())))
            .collect();
        let head = git.branch(&main, &edits, &format!("retention {retention}"));
        git.set_ref(&format!("refs/pull/{number}/head"), &head);
        let tip = git.merge(&head, &format!("Merge pull request #{number}"));
        github.add_pull_request(
            &repo,
            PullRequestSeed {
                number,
                head_sha: head.clone(),
                open: false,
                merged: true,
                ..PullRequestSeed::default()
            },
        );
        let payload = server::pull_request(
            git.path(),
            &PrPayload {
                action: "closed",
                number,
                head_sha: &head,
                merged: true,
                sender: "bob",
            },
        );
        let started = Instant::now();
        let status = server.deliver("pull_request", &format!("bench-merge-{number}"), &payload);
        assert_eq!(status, 202);
        let marker = format!("commit={tip}");
        server::eventually(&server, 300, "three stages done", || {
            github
                .comments(&repo, number)
                .iter()
                .any(|c| c.body.contains(&marker) && c.body.matches("✅ done").count() == 3)
                .then_some(())
        });
        let wall = started.elapsed();
        let sum: f64 = github
            .comments(&repo, number)
            .iter()
            .filter(|c| c.body.contains("<!-- strata:apply run="))
            .filter_map(|c| {
                let took = c.body.split("Took ").nth(1)?;
                took.split('s').next()?.parse::<f64>().ok()
            })
            .sum();
        if index > 0 {
            walls.push(wall);
            sums.push(Duration::from_secs_f64(sum));
        }
    }
    walls.sort();
    sums.sort();
    let median = |v: &[Duration]| v[v.len() / 2].as_secs_f64() * 1000.0;
    println!(
        "\nmerge delivered -> promotion dev → staging → prod done, on moto ({} samples):",
        walls.len()
    );
    println!(
        "  wall                     median {:>7.1} ms   min {:>7.1} ms   max {:>7.1} ms",
        median(&walls),
        walls[0].as_secs_f64() * 1000.0,
        walls[walls.len() - 1].as_secs_f64() * 1000.0
    );
    println!(
        "  sum of the three applies median {:>7.1} ms",
        median(&sums)
    );
}
