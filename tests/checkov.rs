//! checkov (Prisma Cloud's policy scanner for CloudFormation) over every
//! rendered template of every environment: the repository's `environments/`
//! and each seed fixture repository under `tests/fixtures/`.
//!
//! Every failure must be listed, with its design reason, in
//! `tests/checkov-allow.toml`, and every entry there must still match a
//! failure: the list is kept in sync both ways. The failing share must stay
//! below the CDK version's 11.2 % (53 of 472 checks).
//!
//! Needs `checkov` on PATH, or its path in `STRATA_CHECKOV`: `tests/run`
//! installs it (pinned) into its own virtual environment.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use strata_tests::{Fixture, repo_root, run};

/// The CDK version of the same architecture fails 53 of 472 checks.
const CDK_FAILING_SHARE: f64 = 53.0 / 472.0;

fn checkov() -> PathBuf {
    std::env::var_os("STRATA_CHECKOV").map_or_else(|| PathBuf::from("checkov"), PathBuf::from)
}

/// One entry of the allow-list.
#[derive(Debug)]
struct Allowed {
    check: String,
    resource: String,
    files: Vec<String>,
    reason: String,
}

impl Allowed {
    fn matches(&self, failure: &Failure) -> bool {
        self.check == failure.check
            && glob(&self.resource, &failure.resource)
            && (self.files.is_empty() || self.files.iter().any(|f| glob(f, &failure.file)))
    }
}

/// A failed check: id, `<Type>.<LogicalId>`, `<repository>/<environment>/<stack>.template.json`.
#[derive(Debug, Clone)]
struct Failure {
    check: String,
    resource: String,
    file: String,
}

/// `*` matches any run of characters; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (index, part) in parts.iter().enumerate() {
        if index + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

fn allow_list() -> Vec<Allowed> {
    let path = repo_root().join("tests/checkov-allow.toml");
    let text = std::fs::read_to_string(&path).expect("tests/checkov-allow.toml");
    let document: toml::Table = text.parse().expect("checkov-allow.toml is TOML");
    let text_of = |entry: &toml::Value, key: &str| -> String {
        entry
            .get(key)
            .and_then(toml::Value::as_str)
            .unwrap_or_else(|| panic!("an [[allow]] entry lacks `{key}`: {entry}"))
            .to_owned()
    };
    document["allow"]
        .as_array()
        .expect("[[allow]] entries")
        .iter()
        .map(|entry| Allowed {
            check: text_of(entry, "check"),
            resource: text_of(entry, "resource"),
            files: entry
                .get("files")
                .and_then(toml::Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(toml::Value::as_str)
                .map(str::to_owned)
                .collect(),
            reason: text_of(entry, "reason"),
        })
        .collect()
}

/// Repositories whose environments are scanned: this one and the fixtures.
fn repositories() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut repos = vec![("repository".to_owned(), root.clone())];
    let mut fixtures: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("tests/fixtures"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("environments").is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    fixtures.sort();
    repos.extend(fixtures);
    repos
}

/// Run checkov over `dir`; returns (passed, failures).
fn scan(dir: &std::path::Path) -> (u64, Vec<Failure>) {
    let output = Command::new(checkov())
        .args([
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
        ])
        .arg("--directory")
        .arg(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run checkov ({e}): tests/run installs it; or set STRATA_CHECKOV to its path"
            )
        });
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    // One report per framework: a list, or a single object.
    let reports = match report {
        Value::Array(list) => list,
        single => vec![single],
    };
    let mut passed = 0;
    let mut failures = Vec::new();
    for report in reports {
        passed += report["summary"]["passed"].as_u64().unwrap_or_default();
        for failed in report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = |key: &str| failed[key].as_str().unwrap_or_default().to_owned();
            failures.push(Failure {
                check: text("check_id"),
                resource: text("resource"),
                file: text("file_path").trim_start_matches('/').to_owned(),
            });
        }
    }
    (passed, failures)
}

#[test]
fn glob_matches_runs_of_characters() {
    assert!(glob(
        "AWS::Logs::LogGroup.*",
        "AWS::Logs::LogGroup.FlowLogGroup"
    ));
    assert!(glob("*/dev/*", "repository/dev/database.template.json"));
    assert!(!glob("*/dev/*", "repository/prod/database.template.json"));
    assert!(glob(
        "seed-003/*",
        "seed-003/production/compute.template.json"
    ));
    assert!(!glob(
        "AWS::S3::Bucket.Bucket",
        "AWS::S3::Bucket.LogsBucket"
    ));
}

#[test]
fn checkov_failures_are_the_allowed_ones_and_below_the_cdk_share() {
    let out = Fixture::empty();
    for (name, root) in repositories() {
        let target = out.path().join(&name);
        let (target_text, root_text) = (target.display().to_string(), root.display().to_string());
        let result = run(
            env!("CARGO_BIN_EXE_strata-under-test"),
            env!("CARGO_TARGET_TMPDIR"),
            &out,
            &["--repo", &root_text, "render", "--out", &target_text],
        );
        assert_eq!(result.code, 0, "{name} did not render:\n{}", result.stderr);
        // Only the templates: checkov would read the manifests as well.
        for environment in std::fs::read_dir(&target).expect("rendered") {
            let environment = environment.expect("entry").path();
            for file in std::fs::read_dir(&environment).expect("environment dir") {
                let path = file.expect("entry").path();
                if !path.to_string_lossy().ends_with(".template.json") {
                    std::fs::remove_file(&path).expect("remove a non-template");
                }
            }
        }
    }
    let (passed, failures) = scan(out.path());
    let allowed = allow_list();

    let failed = failures.len() as f64;
    let share = failed / (passed as f64 + failed);
    println!(
        "checkov: {passed} passed, {} failed ({:.1} %; the CDK version: 11.2 %)",
        failures.len(),
        share * 100.0
    );
    let unexplained: Vec<String> = failures
        .iter()
        .filter(|f| !allowed.iter().any(|a| a.matches(f)))
        .map(|f| format!("{} {} in {}", f.check, f.resource, f.file))
        .collect();
    assert!(
        unexplained.is_empty(),
        "{} checkov failure(s) not in tests/checkov-allow.toml (fix the template, or add an entry with the design reason):\n  {}",
        unexplained.len(),
        unexplained.join("\n  ")
    );
    let stale: Vec<String> = allowed
        .iter()
        .filter(|a| !failures.iter().any(|f| a.matches(f)))
        .map(|a| format!("{} {} ({})", a.check, a.resource, a.reason))
        .collect();
    assert!(
        stale.is_empty(),
        "{} entr(ies) of tests/checkov-allow.toml match no failure any more; delete them:\n  {}",
        stale.len(),
        stale.join("\n  ")
    );
    assert!(
        share < CDK_FAILING_SHARE,
        "checkov fails {:.1} % of its checks, not below the CDK version's 11.2 %",
        share * 100.0
    );
}
