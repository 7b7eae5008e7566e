//! Time from a `pull_request` webhook received to the plan comment posted,
//! for a one-stack change in prod: `strata serve` with the fake GitHub, git
//! plan only and with CloudFormation change sets from moto. The repository
//! has a workflow file, so each plan also loads the base branch's workflows
//! and previews the promotion a merge would start.
//!
//!     cargo bench -p strata-tests --bench webhook
//!
//! Each sample is one `synchronize` delivery with a new head commit (the
//! networking stack's flow-log retention changes), timed from just before
//! the delivery is sent until the fake GitHub holds a plan comment naming
//! that commit. The first delivery after the server starts (the modules'
//! first load, the first fetch) is reported on its own line, not counted in
//! the samples. Needs `moto_server` (`pip install 'moto[server]==5.2.5'`).

use std::time::{Duration, Instant};

use strata::forge::Repo;
use strata::forge::fake::{FakeGitHub, PullRequestSeed};
use strata_tests::server::{self, NAME, OWNER, PrPayload, Server};
use strata_tests::{GitFixture, Moto, run_with};

const SAMPLES: usize = 11;
/// CloudWatch Logs retention values other than the base's 90 days.
const RETENTIONS: [u32; SAMPLES + 1] = [
    120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
];

fn prod(retention: u32) -> String {
    format!(
        "project = \"shop\"\nenvironment = \"production\"\nregion = \"us-east-1\"\naccount = \"123456789012\"\nprotected = true\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.2.0.0/16\"\navailability_zones = 2\nnat_gateways = 2\nflow_log_retention_days = {retention}\n\n[stacks.security]\ntype = \"security\"\napp_port = 8080\n"
    )
}

/// prod on command, after a team's approval, in a weekday window.
const WORKFLOW: &str = r#"[on.pull_request]
[on.push]
[on.command]

[[stages]]
name = "prod"
environments = ["prod"]
when = "command"
[stages.gates]
approvals = { count = 1, from = ["acme/platform"] }
window = { days = ["mon", "tue", "wed", "thu", "fri"], hours = "08:00-18:00", timezone = "Europe/Berlin" }
"#;

struct Measured {
    label: &'static str,
    /// The first delivery after the server started.
    first: Duration,
    samples: Vec<Duration>,
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would too: run
    // only when asked to benchmark.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let moto = Moto::start().unwrap_or_else(|message| panic!("{message}"));
    let results = [
        measure("git plan only", None),
        measure("with moto change sets", Some(&moto)),
    ];
    println!(
        "\nwebhook received -> plan comment posted, one-stack change in prod ({} samples each):",
        SAMPLES - 1
    );
    for result in &results {
        let mut sorted = result.samples.clone();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        println!(
            "  {:<24} median {:>7.1} ms   min {:>7.1} ms   max {:>7.1} ms",
            result.label,
            ms(median),
            ms(sorted[0]),
            ms(sorted[sorted.len() - 1])
        );
    }
    println!(
        "first delivery after `strata serve` starts (the modules' first load, the first fetch):"
    );
    for result in &results {
        println!("  {:<24} {:>7.1} ms", result.label, ms(result.first));
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn measure(label: &'static str, moto: Option<&Moto>) -> Measured {
    let mut git = GitFixture::new();
    git.write("environments/prod.toml", &prod(90));
    // Workflows loaded: the plan comment previews the promotion they start.
    git.write("workflows/release.toml", WORKFLOW);
    git.commit("prod");
    let base = git.head_id();
    let mut env: Vec<(&str, String)> = vec![
        ("STRATA_WEBHOOK_SECRET", server::SECRET.to_owned()),
        ("STRATA_GITHUB_TOKEN", "ghp_bench".to_owned()),
    ];
    let mut extra = Vec::new();
    if let Some(moto) = moto {
        env.extend(moto.env());
        extra.push("--cloud-plan");
        // Prod exists in the cloud, so the change plans as a change set.
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let deployed = run_with(
            env!("CARGO_BIN_EXE_strata-under-test"),
            env!("CARGO_TARGET_TMPDIR"),
            &git.fixture,
            &["apply", "--env", "prod", "--yes"],
            &pairs,
        );
        assert_eq!(deployed.code, 0, "{}", deployed.stderr);
    } else {
        env.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()));
    }
    let heads: Vec<String> = RETENTIONS
        .iter()
        .map(|retention| {
            git.reset_main(&base);
            git.write("environments/prod.toml", &prod(*retention));
            git.commit(&format!("prod: flow logs for {retention} days"));
            git.head_id()
        })
        .collect();
    git.reset_main(&base);

    let github = FakeGitHub::start().expect("fake GitHub");
    let repo = Repo::new(OWNER, NAME).expect("repo");
    github.add_repository(&repo, "main");
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state.db").display().to_string();
    let clones = dir.path().join("clones").display().to_string();
    let mut args = vec![
        "--state",
        &state,
        "--clones",
        &clones,
        "--github-url",
        github.url(),
    ];
    args.extend(extra);
    let server = Server::start(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &args,
        &env,
    );

    let mut samples = Vec::new();
    let mut first = Duration::ZERO;
    for (index, head) in heads.iter().take(SAMPLES).enumerate() {
        git.set_ref("refs/pull/1/head", head);
        github.add_pull_request(
            &repo,
            PullRequestSeed {
                number: 1,
                head_sha: head.clone(),
                ..PullRequestSeed::default()
            },
        );
        let payload = server::pull_request(
            git.path(),
            &PrPayload {
                action: if index == 0 { "opened" } else { "synchronize" },
                number: 1,
                head_sha: head,
                merged: false,
                sender: "alice",
            },
        );
        // The plan's heading: "Strata plan: `main at …` → `#1 (head) merged into main`".
        let wanted = format!("#1 ({}) merged into main", &head[..7]);
        let started = Instant::now();
        let status = server.deliver("pull_request", &format!("bench-{label}-{index}"), &payload);
        assert_eq!(status, 202);
        server::eventually(&server, 120, &wanted, || {
            github
                .comments(&repo, 1)
                .iter()
                .any(|c| c.body.contains(&wanted))
                .then_some(())
        });
        let elapsed = started.elapsed();
        if index > 0 {
            samples.push(elapsed);
        } else {
            first = elapsed;
        }
        if moto.is_some() && index == SAMPLES - 1 {
            let comment = github
                .comments(&repo, 1)
                .into_iter()
                .find(|c| c.body.contains(&wanted))
                .map(|c| c.body)
                .unwrap_or_default();
            assert!(
                comment.contains(", with CloudFormation change sets"),
                "the cloud variant planned with change sets:\n{comment}"
            );
        }
    }
    Measured {
        label,
        first,
        samples,
    }
}
