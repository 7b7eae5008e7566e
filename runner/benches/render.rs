//! `cargo bench -p strata --bench render`
//!
//! Speed of rendering, on the repository's own `environments/prod.toml`:
//! - one stack rendered in a fresh sandbox (new store + instantiate + call),
//!   per first-party module;
//! - the whole environment rendered in-process (parallel, with checks);
//! - `strata render --env prod` as a whole process, with a warm compile cache
//!   and with an empty one (cold).
//!
//! Prints medians and 90th percentiles, and the machine they were taken on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use strata::host::Host;
use strata::render::render_environment;
use strata::workspace::Workspace;

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = Workspace::load(&root).unwrap_or_else(|d| panic!("load repo: {d:?}"));
    let (environment, _) = workspace
        .environment("prod")
        .unwrap_or_else(|d| panic!("load prod: {d:?}"));
    let scratch = tempfile::tempdir().expect("temp dir");

    println!("machine: {}", machine());
    println!(
        "{:<46} {:>10} {:>10} {:>7}",
        "benchmark", "median", "p90", "runs"
    );

    let host = Host::new(workspace.limits(), Some(scratch.path().join("cache"))).expect("host");
    for (name, stack) in &environment.stacks {
        let source = workspace.registry.get(&stack.kind).expect("module");
        let module = host
            .load(&stack.kind, &source.bytes, &source.sha256)
            .expect("load");
        let ctx = strata::render::context(&environment, stack);
        let config = stack.config.to_string();
        let times = measure(2_000, 100, || {
            let answer = host.render_fresh(&module, &ctx, &config).expect("no trap");
            assert!(answer.is_ok());
        });
        report(&format!("one stack render, fresh sandbox ({name})"), times);
    }

    // The sandbox's own cost: a guest whose render does almost nothing.
    let guest = std::fs::read(
        PathBuf::from(env!("STRATA_TEST_GUESTS")).join("test_guest_misbehaving.wasm"),
    )
    .expect("guest");
    let module = host
        .load("misbehaving", &guest, &strata::modules::sha256_hex(&guest))
        .expect("load guest");
    let ctx = strata::host::RenderContext {
        project: "acme".into(),
        environment: "bench".into(),
        stack: "minimal".into(),
        region: "us-east-1".into(),
        account: None,
        tags: Vec::new(),
    };
    let times = measure(2_000, 100, || {
        assert!(
            host.render_fresh(&module, &ctx, r#"{"misbehave": "nothing"}"#)
                .expect("no trap")
                .is_ok()
        );
    });
    report("one stack render, fresh sandbox (minimal guest)", times);

    // A new host each time (its render memo empty), modules from the disk cache.
    let times = measure(100, 5, || {
        let host = Host::new(workspace.limits(), Some(scratch.path().join("cache"))).expect("host");
        let outcome = render_environment(&host, &workspace.registry, &environment);
        assert!(outcome.rendered.is_some());
    });
    report("render prod in-process (new host, all stacks)", times);

    let bin = PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let out = scratch.path().join("out");
    let run = |cache: &Path| {
        let status = Command::new(&bin)
            .args(["--repo"])
            .arg(&root)
            .args(["--cache-dir"])
            .arg(cache)
            .args(["render", "--env", "prod", "--out"])
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run strata");
        assert!(status.success());
    };
    let warm_cache = scratch.path().join("warm");
    let times = measure(40, 3, || run(&warm_cache));
    report("`strata render --env prod`, warm cache", times);

    let mut cold = 0;
    let times = measure(7, 0, || {
        cold += 1;
        run(&scratch.path().join(format!("cold-{cold}")));
    });
    report("`strata render --env prod`, empty cache (cold)", times);
}

fn measure(runs: usize, warmup: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..warmup {
        f();
    }
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect()
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name:<46} {:>10} {:>10} {:>7}",
        show(at(0.5)),
        show(at(0.9)),
        times.len()
    );
}

fn show(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores, {cpu}")
}
