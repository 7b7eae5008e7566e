//! `cargo bench -p strata --bench policy`
//!
//! Speed of policy evaluation over the repository's own environments (dev,
//! staging, prod: 36 rendered templates): the built-in `guarantees` policy
//! per environment in a fresh sandbox, and every policy over all three
//! environments as `validate` and plans run them (`strata::policy::check`).
//!
//! Prints medians and 90th percentiles, and the machine they were taken on.

use std::path::Path;

mod support;

use strata::host::Host;
use strata::render::{RenderedEnvironment, render_environment};
use strata::workspace::Workspace;
use support::{machine, measure, report};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = Workspace::load(&root).unwrap_or_else(|d| panic!("load repo: {d:?}"));
    let scratch = tempfile::tempdir().expect("temp dir");
    let host = Host::new(workspace.limits(), Some(scratch.path().join("cache"))).expect("host");
    let names = workspace.environment_names();
    let rendered: Vec<RenderedEnvironment> = names
        .iter()
        .map(|name| {
            let (environment, _) = workspace
                .environment(name)
                .unwrap_or_else(|d| panic!("load {name}: {d:?}"));
            render_environment(&host, &workspace.registry, &environment)
                .into_rendered()
                .unwrap_or_else(|| panic!("{name} renders"))
        })
        .collect();
    let templates: usize = rendered.iter().map(|e| e.stacks.len()).sum();

    println!("machine: {}", machine());
    println!("templates: {templates} in {} environments", rendered.len());
    println!(
        "{:<52} {:>10} {:>10} {:>7}",
        "benchmark", "median", "p90", "runs"
    );

    let source = workspace.registry.policy("guarantees").expect("built in");
    let policy = host
        .load_policy("guarantees", &source.bytes, &source.sha256)
        .expect("the built-in policy loads");
    for environment in &rendered {
        let input = strata::policy::input(environment);
        let times = measure(200, 10, || {
            let findings = host.evaluate_policy(&policy, &input).expect("no trap");
            assert!(findings.is_empty());
        });
        report(
            &format!(
                "guarantees over {} ({} templates), fresh sandbox",
                environment.environment.name,
                environment.stacks.len()
            ),
            times,
        );
    }
    let times = measure(100, 5, || {
        for environment in &rendered {
            let outcome =
                strata::policy::check(&host, &workspace.registry, &workspace.repo, environment);
            assert!(outcome.diagnostics.is_empty());
        }
    });
    report(
        &format!("every policy over all {templates} templates (check)"),
        times,
    );
}
