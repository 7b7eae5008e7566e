//! `cargo bench -p strata --bench render`
//!
//! Speed of rendering, on the repository's own `environments/prod.toml`:
//! - one stack rendered in a fresh sandbox (new store + instantiate + call),
//!   per first-party module;
//! - the whole environment rendered in-process (parallel, with checks);
//! - every first-party module loaded by a new host: precompiled (what a
//!   first run does) and compiled by Cranelift (what it did before they were
//!   precompiled at build time, and still does for pinned modules);
//! - `strata render --env prod`, and of the three root environments, as a
//!   whole process, with a warm cache and with an empty one (cold).
//!
//! Prints medians and 90th percentiles, and the machine they were taken on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod support;

use strata::host::Host;
use strata::render::render_environment;
use strata::workspace::Workspace;
use support::{machine, measure, report, report_process};

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

    // The three root environments as whole processes, as issue #15 measured
    // them: wall and CPU time, and peak memory. First, while this process is
    // small: a child's peak (`ru_maxrss`) includes the memory of the process
    // that spawned it, as it was when the child began.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let all_out = scratch.path().join("all");
    let three = |cache: &Path| {
        let mut command = Command::new(&bin);
        command
            .args(["--repo"])
            .arg(&root)
            .args(["--cache-dir"])
            .arg(cache)
            .args([
                "render", "--env", "dev", "--env", "staging", "--env", "prod", "--out",
            ])
            .arg(&all_out);
        let run = support::run(command);
        assert!(run.success, "{}", run.stderr);
        run
    };
    let warm_three = scratch.path().join("warm-three");
    three(&warm_three);
    three(&warm_three);
    let runs: Vec<_> = (0..20).map(|_| three(&warm_three)).collect();
    report_process("`strata render` dev staging prod, warm", &runs);
    let runs: Vec<_> = (0..10)
        .map(|cold| three(&scratch.path().join(format!("cold-three-{cold}"))))
        .collect();
    report_process("`strata render` dev staging prod, empty cache", &runs);

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

    // What a first run pays per module: the embedded artifacts, loaded.
    let registry = &workspace.registry;
    let times = measure(10, 1, || {
        let host = Host::new(workspace.limits(), None).expect("host");
        for module in registry.iter() {
            host.load(&module.name, &module.bytes, &module.sha256)
                .expect("load");
        }
        assert_eq!(
            host.compiled_count(),
            0,
            "the first-party modules are precompiled"
        );
    });
    report(
        &format!(
            "load {} first-party modules, precompiled",
            registry.iter().count()
        ),
        times,
    );
    // ...and compiling them instead (a pinned module's first use).
    let times = measure(1, 0, || {
        let host = Host::new(workspace.limits(), None).expect("host");
        for module in registry.iter() {
            let mut bytes = module.bytes.to_vec();
            // Not the embedded bytes any more (a custom section's name),
            // so nothing precompiled matches.
            bytes.extend_from_slice(b"\0\x06\x05bench");
            let digest = strata::modules::sha256_hex(&bytes);
            host.load(&module.name, &bytes, &digest).expect("load");
        }
        assert_eq!(host.compiled_count(), registry.iter().count() as u64);
    });
    report(
        &format!(
            "compile {} first-party modules (Cranelift)",
            registry.iter().count()
        ),
        times,
    );

    // A new host each time (its render memo empty), modules from the disk cache.
    let times = measure(100, 5, || {
        let host = Host::new(workspace.limits(), Some(scratch.path().join("cache"))).expect("host");
        let outcome = render_environment(&host, &workspace.registry, &environment);
        assert!(outcome.rendered().is_some());
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

    for env in ["dev", "staging", "prod"] {
        let times = measure(20, 2, || {
            let status = Command::new(&bin)
                .args(["--repo"])
                .arg(&root)
                .args(["--cache-dir"])
                .arg(&warm_cache)
                .args(["render", "--env", env, "--out"])
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run strata");
            assert!(status.success());
        });
        report(&format!("`strata render --env {env}`, warm"), times);
    }
    let all_out = scratch.path().join("all");
    let times = measure(20, 2, || {
        let status = Command::new(&bin)
            .args(["--repo"])
            .arg(&root)
            .args(["--cache-dir"])
            .arg(&warm_cache)
            .args(["render", "--out"])
            .arg(&all_out)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run strata");
        assert!(status.success());
    });
    report("`strata render` (all three), warm", times);

    plan_one_line_change(&bin, &root, &warm_cache, scratch.path());
    synthetic(&workspace);

    let mut cold = 0;
    let times = measure(7, 0, || {
        cold += 1;
        run(&scratch.path().join(format!("cold-{cold}")));
    });
    report("`strata render --env prod`, empty cache (cold)", times);
}

/// `strata plan --env prod` after a one-line change, in a real git repository.
fn plan_one_line_change(bin: &Path, root: &Path, cache: &Path, scratch: &Path) {
    let repo = scratch.join("plan-repo");
    std::fs::create_dir_all(repo.join("environments")).expect("mkdir");
    for name in ["dev", "staging", "prod"] {
        let text =
            std::fs::read_to_string(root.join(format!("environments/{name}.toml"))).expect("read");
        std::fs::write(repo.join(format!("environments/{name}.toml")), text).expect("write");
    }
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@strata.invalid",
            ])
            .args(args)
            .current_dir(&repo)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("git");
        assert!(status.success(), "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "environments"]);
    let prod = repo.join("environments/prod.toml");
    let text = std::fs::read_to_string(&prod)
        .expect("read")
        .replace("db.r6g.large", "db.r6g.xlarge");
    std::fs::write(&prod, text).expect("write");
    let times = measure(20, 2, || {
        let output = Command::new(bin)
            .args(["--cache-dir"])
            .arg(cache)
            .args(["plan", "--env", "prod"])
            .current_dir(&repo)
            .output()
            .expect("run strata");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("db.r6g.xlarge"));
    });
    report("`strata plan --env prod`, one-line change, warm", times);
}

/// Render + order + plan of a generated environment: one networking stack
/// and N-1 security stacks importing from it; the head changes one stack.
fn synthetic(workspace: &Workspace) {
    let types = workspace.registry.types();
    for n in [100usize, 1_000, 5_000] {
        let environment = |port: u32| {
            let mut text = String::from(
                "project = \"synthetic\"\nregion = \"us-east-1\"\n[tags]\nCostCenter = \"c\"\nOwner = \"o\"\n[stacks.networking]\ntype = \"networking\"\n",
            );
            for i in 1..n {
                let app_port = if i == n / 2 { port } else { 8080 };
                text.push_str(&format!(
                    "[stacks.app-{i:05}]\ntype = \"security\"\napp_port = {app_port}\n"
                ));
            }
            let source = strata::config::SourceFile::new("environments/synthetic.toml", text);
            strata::config::parse_environment("synthetic", source, &types)
                .expect("valid")
                .0
        };
        let (base, head) = (environment(8080), environment(9090));
        let runs = if n >= 5_000 { 3 } else { 5 };
        let mut times = Vec::new();
        for _ in 0..runs {
            // A fresh host each run (nothing memoized), modules already loaded.
            let cache = std::env::temp_dir().join("strata-bench-cache");
            let host = Host::new(workspace.limits(), Some(cache)).expect("host");
            for name in ["networking", "security"] {
                let source = workspace.registry.get(name).expect("module");
                host.load(name, &source.bytes, &source.sha256)
                    .expect("load");
            }
            let started = Instant::now();
            let base_render = render_environment(&host, &workspace.registry, &base)
                .into_rendered()
                .expect("base renders");
            let head_render = render_environment(&host, &workspace.registry, &head)
                .into_rendered()
                .expect("head renders");
            let plan =
                strata::plan::plan_environment("synthetic", Some(&base_render), Some(&head_render));
            times.push(started.elapsed());
            assert_eq!(plan.counts().1, 1, "one stack changed");
        }
        report(
            &format!("render + order + plan, {n} stacks (two sides)"),
            times,
        );
    }
}
