//! `cargo bench -p strata --bench scale` (`STRATA_BENCH_QUICK=1`: 2 runs
//! each instead of 5; `STRATA_BENCH_STACKS=100,1000`: other sizes;
//! `STRATA_BENCH_BIN=path/to/strata`: time another build, e.g. a debug one
//! or an older commit's)
//!
//! Strata at 100, 1,000 and 10,000 stacks, as whole `strata` processes on
//! generated config repositories (`support/synthetic.rs`; by hand:
//! `cargo run -p strata --example synthetic -- --stacks N DIR`):
//! - `strata plan` of a one-line change (`--base HEAD~1 --head HEAD`), with
//!   the compile and render caches warm (one untimed plan first);
//! - `strata validate` of the chain, of the chain with a three-stack cycle,
//!   and of a ring (one cycle through every stack), with the size of what it
//!   prints.
//!
//! Prints the median wall time, the median CPU time (user + system, steadier
//! on a shared machine), the largest peak resident memory of the runs (the
//! child's `ru_maxrss`), the lines printed, and the machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod support;
#[path = "support/synthetic.rs"]
mod synthetic;

use support::{Run, machine, run, show};
use synthetic::Shape;

fn main() {
    let quick = std::env::var_os("STRATA_BENCH_QUICK").is_some_and(|v| !v.is_empty());
    let runs = if quick { 2 } else { 5 };
    let sizes: Vec<usize> = std::env::var("STRATA_BENCH_STACKS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().replace('_', "").parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![100, 1_000, 10_000]);
    let largest = sizes.iter().copied().max().unwrap_or(10_000);
    // Another build to compare with (an older commit's, a debug one).
    let bin = std::env::var_os("STRATA_BENCH_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_strata")),
        PathBuf::from,
    );
    let scratch = tempfile::tempdir().expect("temp dir");
    let cache = scratch.path().join("cache");

    println!("machine: {}", machine());
    println!("strata: {}", bin.display());
    println!(
        "{:<60} {:>10} {:>10} {:>10} {:>12} {:>5}",
        "benchmark", "median", "CPU", "peak RSS", "output", "runs"
    );

    for &n in &sizes {
        let repo = scratch.path().join(format!("chain-{n}"));
        synthetic::write_repo(&repo, n, Shape::Chain, true).expect("write the chain");
        let plan = |bin: &Path| {
            let mut command = Command::new(bin);
            command
                .arg("--repo")
                .arg(&repo)
                .arg("--cache-dir")
                .arg(&cache)
                .args(["plan", "--env", synthetic::ENVIRONMENT])
                .args(["--base", "HEAD~1", "--head", "HEAD"]);
            command
        };
        // Warm the compile and render caches: the base renders every stack.
        let warm = run(plan(&bin));
        assert!(warm.success, "plan at {n} stacks failed: {}", warm.stderr);
        assert!(warm.stdout.contains("+0 ~1 -0"), "{}", warm.stdout);
        let measured = (0..runs).map(|_| run(plan(&bin))).collect::<Vec<_>>();
        report(
            &format!("plan, one-line change, {n} stacks (warm)"),
            &measured,
        );

        let validate = |repo: &Path| {
            let mut command = Command::new(&bin);
            command
                .arg("--repo")
                .arg(repo)
                .arg("--cache-dir")
                .arg(&cache)
                .args(["validate", "--env", synthetic::ENVIRONMENT]);
            command
        };
        let measured = (0..runs).map(|_| run(validate(&repo))).collect::<Vec<_>>();
        assert!(measured.iter().all(|r| r.success), "{}", measured[0].stderr);
        report(&format!("validate, chain, {n} stacks (warm)"), &measured);

        if n == largest {
            for (shape, what) in [
                (Shape::Cycle, "chain with a 3-stack cycle"),
                (Shape::Ring, "ring (one cycle through all)"),
            ] {
                let repo = scratch.path().join(format!("{shape:?}-{n}"));
                synthetic::write_repo(&repo, n, shape, false).expect("write the repo");
                let measured = (0..runs).map(|_| run(validate(&repo))).collect::<Vec<_>>();
                assert!(measured.iter().all(|r| !r.success), "a cycle is invalid");
                report(&format!("validate, {what}, {n} stacks (warm)"), &measured);
            }
        }
    }
}

/// One line: the median time, the largest peak memory, the output size.
fn report(name: &str, runs: &[Run]) {
    let mut times: Vec<Duration> = runs.iter().map(|r| r.elapsed).collect();
    times.sort();
    let median = times[times.len() / 2];
    let mut cpu: Vec<Duration> = runs.iter().map(|r| r.cpu).collect();
    cpu.sort();
    let rss = runs.iter().map(|r| r.max_rss_kib).max().unwrap_or(0);
    let output = runs
        .first()
        .map(|r| {
            let text = format!("{}{}", r.stdout, r.stderr);
            format!("{} lines", text.lines().count())
        })
        .unwrap_or_default();
    println!(
        "{name:<60} {:>10} {:>10} {:>10} {:>12} {:>5}",
        show(median),
        show(cpu[cpu.len() / 2]),
        format!("{} MiB", rss / 1024),
        output,
        runs.len()
    );
}
