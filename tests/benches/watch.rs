//! `strata watch` on moto: from a commit landing on `main` to the stack
//! updated in CloudFormation, with a 2 s poll interval; then the watcher's
//! idle CPU time and memory.
//!
//!     cargo bench -p strata-tests --bench watch
//!     STRATA_BENCH_IDLE_SECS=600 cargo bench -p strata-tests --bench watch
//!
//! Each sample commits a new flow-log retention for dev's networking stack
//! and is timed until `GetTemplate` on moto shows it (polled every 20 ms
//! in-process through the AWS SDK). Commits land at offsets spread evenly
//! over the poll interval after the previous deploy, so with a 2 s interval
//! a commit waits about 1 s for the next poll on average, plus the apply. The first commit creates
//! the stacks and is not counted. The idle phase (default 60 s, 600 s with
//! the variable above) reads the watcher's CPU time and resident memory
//! from `/proc` at its start and end. Needs `moto_server`.

use std::time::{Duration, Instant};

use strata::cloud::Cloud as _;
use strata::cloud::cloudformation::CloudFormation;
use strata_tests::server::Server;
use strata_tests::{GitFixture, Moto};

const SAMPLES: [u32; 7] = [14, 30, 60, 90, 120, 150, 180];

fn dev(retention: u32) -> String {
    format!(
        "project = \"shop\"\nenvironment = \"development\"\nregion = \"us-east-1\"\naccount = \"123456789012\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.2.0.0/16\"\navailability_zones = 2\nnat_gateways = 1\nflow_log_retention_days = {retention}\n\n[stacks.security]\ntype = \"security\"\napp_port = 8080\n"
    )
}

fn retention_of(template: &str) -> Option<u32> {
    let value: serde_json::Value = serde_json::from_str(template).ok()?;
    value["Resources"]
        .as_object()?
        .values()
        .find(|r| r["Type"] == "AWS::Logs::LogGroup")
        .and_then(|r| r["Properties"]["RetentionInDays"].as_u64())
        .and_then(|d| u32::try_from(d).ok())
}

/// (CPU seconds, resident MiB) of process `pid`, from `/proc`.
fn usage(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((ticks / 100.0, rss_kib / 1024.0))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let moto = Moto::start().unwrap_or_else(|message| panic!("{message}"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let cloud = runtime.block_on(CloudFormation::at_endpoint(
        "us-east-1",
        &moto.url(),
        "testing",
        "testing",
    ));
    let deployed = || {
        runtime
            .block_on(cloud.get_template("shop-development-networking"))
            .ok()
            .flatten()
            .and_then(|t| retention_of(&t))
    };
    let wait_for = |retention: u32| {
        let deadline = Instant::now() + Duration::from_secs(300);
        while deployed() != Some(retention) {
            assert!(
                Instant::now() < deadline,
                "retention {retention} never deployed"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    let mut git = GitFixture::new();
    git.write("environments/dev.toml", &dev(7));
    git.commit("start");
    let scratch = tempfile::tempdir().expect("a temp dir");
    let (state, clones) = (
        scratch.path().join("state.db").display().to_string(),
        scratch.path().join("clones").display().to_string(),
    );
    let path = git.path().display().to_string();
    let mut watcher = Server::start_watch(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &[
            "--repo",
            &path,
            "--state",
            &state,
            "--clones",
            &clones,
            "--interval",
            "2s",
        ],
        &moto.env(),
    );
    wait_for(7);

    let mut samples = Vec::new();
    for (i, retention) in SAMPLES.into_iter().enumerate() {
        // Commits land at points spread evenly over the poll interval.
        std::thread::sleep(Duration::from_millis(
            2000 * i as u64 / SAMPLES.len() as u64,
        ));
        git.write("environments/dev.toml", &dev(retention));
        git.commit(&format!("retention {retention}"));
        let started = Instant::now();
        wait_for(retention);
        samples.push(started.elapsed());
    }
    samples.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    println!(
        "commit → stack updated on moto, 2 s interval, {} samples: median {:.0} ms (min {:.0}, max {:.0})",
        samples.len(),
        ms(&samples[samples.len() / 2]),
        ms(&samples[0]),
        ms(&samples[samples.len() - 1]),
    );

    let idle_secs: u64 = std::env::var("STRATA_BENCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    if let Some(pid) = watcher.pid()
        && let Some((cpu_before, _)) = usage(pid)
    {
        std::thread::sleep(Duration::from_secs(idle_secs));
        if let Some((cpu_after, rss)) = usage(pid) {
            println!(
                "idle for {idle_secs} s polling every 2 s: {:.2} s of CPU ({:.2} %), {rss:.0} MiB resident",
                cpu_after - cpu_before,
                (cpu_after - cpu_before) / idle_secs as f64 * 100.0
            );
        }
    }
    let _ = watcher.stop();
}
