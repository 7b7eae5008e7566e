//! `strata plan` on real git repositories built in temp dirs: what a reviewer
//! reads (terminal, Markdown, JSON) for the changes a platform engineer makes.

use strata_tests::{GitFixture, Run, run, test_guests_dir};

fn strata(repo: &GitFixture, args: &[&str]) -> Run {
    run(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &repo.fixture,
        args,
    )
}

const HEADER: &str = r#"project = "acme"
environment = "production"
region = "us-east-1"

[tags]
CostCenter = "engineering"
Owner = "platform"
"#;

const NETWORKING: &str = "\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.0.0.0/16\"\navailability_zones = 2\nnat_gateways = 2\n";
const SECURITY: &str = "\n[stacks.security]\ntype = \"security\"\n";

fn database(class: &str) -> String {
    format!(
        "\n[stacks.database]\ntype = \"database\"\ninstance_class = \"{class}\"\nmulti_az = true\ndeletion_protection = true\nbackup_retention_days = 30\n"
    )
}

/// A repository whose first commit holds prod with networking, security and database.
fn repository() -> GitFixture {
    let mut repo = GitFixture::new();
    repo.write(
        "environments/prod.toml",
        &format!("{HEADER}{NETWORKING}{SECURITY}{}", database("db.r6g.large")),
    );
    repo.commit("prod: networking, security, database");
    repo
}

/// All three formats of the plan from `base` to the working tree, for one snapshot each.
fn snapshot_formats(repo: &GitFixture, name: &str, base: &str, expected_exit: i32) {
    for (format, suffix) in [
        ("terminal", "terminal"),
        ("markdown", "md"),
        ("json", "json"),
    ] {
        let out = strata(
            repo,
            &["plan", "--env", "prod", "--base", base, "--format", format],
        );
        assert_eq!(
            out.code,
            expected_exit,
            "{format}: {}",
            out.transcript(&repo.fixture)
        );
        insta::with_settings!({ filters => vec![(r#""[0-9a-f]{64}""#, "\"[sha256]\""), (r"\([0-9a-f]{12}\)", "([sha256])")] }, {
            insta::assert_snapshot!(format!("{name}_{suffix}"), out.stdout);
        });
    }
}

#[test]
fn changing_the_database_instance_class_modifies_one_resource() {
    let repo = repository();
    repo.write(
        "environments/prod.toml",
        &format!(
            "{HEADER}{NETWORKING}{SECURITY}{}",
            database("db.r6g.xlarge")
        ),
    );
    snapshot_formats(&repo, "instance_class", "HEAD", 0);
}

#[test]
fn adding_a_stack_plans_all_its_resources_as_new_in_its_wave() {
    let repo = repository();
    repo.write(
        "environments/prod.toml",
        &format!(
            "{HEADER}{NETWORKING}{SECURITY}{}\n[stacks.cache]\ntype = \"cache\"\n",
            database("db.r6g.large")
        ),
    );
    snapshot_formats(&repo, "add_stack", "HEAD", 0);
}

#[test]
fn removing_a_stack_nobody_imports_deletes_it_with_its_data_flagged() {
    let repo = repository();
    repo.write(
        "environments/prod.toml",
        &format!("{HEADER}{NETWORKING}{SECURITY}"),
    );
    snapshot_formats(&repo, "remove_stack", "HEAD", 0);
}

#[test]
fn removing_a_stack_others_still_import_is_an_error_with_two_steps() {
    let repo = repository();
    repo.write(
        "environments/prod.toml",
        &format!("{HEADER}{SECURITY}{}", database("db.r6g.large")),
    );
    let out = strata(
        &repo,
        &[
            "plan", "--env", "prod", "--base", "HEAD", "--format", "terminal",
        ],
    );
    assert_eq!(
        out.code,
        1,
        "a plan with errors fails:\n{}",
        out.transcript(&repo.fixture)
    );
    assert!(
        out.stdout
            .contains("stack `networking` is removed, but stack `database` still imports"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("do it in two steps"), "{}", out.stdout);
    snapshot_formats(&repo, "remove_imported_stack", "HEAD", 1);
}

#[test]
fn a_change_that_replaces_an_exported_resource_marks_downstream_stacks() {
    let repo = repository();
    let changed = NETWORKING.replace("10.0.0.0/16", "10.1.0.0/16");
    repo.write(
        "environments/prod.toml",
        &format!("{HEADER}{changed}{SECURITY}{}", database("db.r6g.large")),
    );
    let out = strata(
        &repo,
        &[
            "plan", "--env", "prod", "--base", "HEAD", "--format", "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let stacks = &plan["environments"][0]["stacks"];
    let affected = |name: &str| {
        stacks
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name)
            .map(|s| s["affected_by"].clone())
            .unwrap_or_default()
    };
    assert!(
        affected("security")
            .to_string()
            .contains("networking-vpc-id"),
        "{stacks:#}"
    );
    // The subnet group is updated in place: its exported name does not
    // change; the database is downstream only through the VPC of its
    // secret rotation Lambda's security group.
    let database = affected("database").to_string();
    assert!(database.contains("networking-vpc-id"), "{stacks:#}");
    assert!(!database.contains("db-subnet-group-name"), "{stacks:#}");
    snapshot_formats(&repo, "downstream", "HEAD", 0);
}

#[test]
fn a_changed_module_wasm_in_strata_toml_is_shown_and_selects_its_environments() {
    let mut repo = GitFixture::new();
    let guest = std::fs::read(
        test_guests_dir(env!("CARGO_TARGET_TMPDIR")).join("test_guest_misbehaving.wasm"),
    )
    .expect("guest");
    let pin = |bytes: &[u8]| {
        format!(
            "[modules.misbehaving]\npath = \"modules/misbehaving.wasm\"\nsha256 = \"{}\"\n",
            strata::modules::sha256_hex(bytes)
        )
    };
    repo.fixture.write_bytes("modules/misbehaving.wasm", &guest);
    repo.write("strata.toml", &pin(&guest));
    repo.write(
        "environments/prod.toml",
        &format!("{HEADER}\n[stacks.alerts]\ntype = \"misbehaving\"\n"),
    );
    repo.write(
        "environments/dev.toml",
        &format!(
            "{}\n[stacks.networking]\ntype = \"networking\"\n",
            HEADER.replace("production", "development")
        ),
    );
    repo.commit("a repository module");
    // The same component with a custom section appended: new bytes, same behaviour.
    let mut rebuilt = guest.clone();
    rebuilt.extend_from_slice(&[
        0x00, 0x09, 0x04, b'n', b'o', b't', b'e', b'v', b'2', b'.', b'0',
    ]);
    repo.fixture
        .write_bytes("modules/misbehaving.wasm", &rebuilt);
    repo.write("strata.toml", &pin(&rebuilt));

    let out = strata(&repo, &["plan", "--base", "HEAD", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let environments: Vec<&str> = plan["environments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(
        environments,
        ["prod"],
        "only the environment using the module is planned"
    );
    let module = &plan["environments"][0]["stacks"][0]["module"];
    assert!(
        module["before"]
            .as_str()
            .is_some_and(|m| m.starts_with("misbehaving@0.1.0")),
        "{plan:#}"
    );
    assert_ne!(module["before"], module["after"]);
}

#[test]
fn without_env_only_changed_environments_are_planned() {
    let mut repo = repository();
    repo.write(
        "environments/dev.toml",
        &format!(
            "{}{NETWORKING}",
            HEADER.replace("production", "development")
        ),
    );
    repo.commit("dev");
    repo.write(
        "environments/dev.toml",
        &format!(
            "{}{}",
            HEADER.replace("production", "development"),
            NETWORKING.replace("nat_gateways = 2", "nat_gateways = 1")
        ),
    );
    let out = strata(&repo, &["plan", "--base", "HEAD", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(plan["environments"].as_array().map(Vec::len), Some(1));
    assert_eq!(plan["environments"][0]["name"], "dev");
}

#[test]
fn the_default_base_is_the_merge_base_with_main() {
    let mut repo = repository();
    // A feature branch with one commit; main moves on too.
    let git = git2::Repository::open(repo.path()).expect("open");
    let head = git.head().expect("head").peel_to_commit().expect("commit");
    git.branch("feature", &head, false).expect("branch");
    git.set_head("refs/heads/feature")
        .expect("checkout feature");
    repo.write(
        "environments/prod.toml",
        &format!(
            "{HEADER}{NETWORKING}{SECURITY}{}",
            database("db.r6g.2xlarge")
        ),
    );
    repo.commit("bigger database");
    let out = strata(&repo, &["plan", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        plan["base"]["label"].as_str(),
        Some(&head.id().to_string()[..7])
    );
    assert_eq!(plan["head"]["label"], "working tree");
    assert!(out.stdout.contains("db.r6g.2xlarge"));
}

#[test]
fn the_plan_file_records_both_commits_and_template_hashes() {
    let mut repo = repository();
    repo.write(
        "environments/prod.toml",
        &format!(
            "{HEADER}{NETWORKING}{SECURITY}{}",
            database("db.r6g.xlarge")
        ),
    );
    let head = repo.commit("bigger database");
    let out = strata(
        &repo,
        &[
            "plan",
            "--env",
            "prod",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--format",
            "terminal",
            "--out",
            "plans/prod.json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.path().join("plans/prod.json")).expect("plan file"),
    )
    .expect("JSON");
    assert_eq!(saved["format"], "strata.plan/v1");
    assert!(
        saved["head"]["commit"]
            .as_str()
            .is_some_and(|c| c.starts_with(&head))
    );
    assert!(
        saved["base"]["commit"]
            .as_str()
            .is_some_and(|c| c.len() == 40)
    );
    for stack in saved["environments"][0]["stacks"]
        .as_array()
        .expect("stacks")
    {
        assert!(
            stack["head_sha256"].as_str().is_some_and(|h| h.len() == 64),
            "{stack}"
        );
    }
}

#[test]
fn an_unknown_revision_is_bad_input_with_a_suggestion() {
    let repo = repository();
    let out = strata(&repo, &["plan", "--base", "mian"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown revision `mian`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `main`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_plan_far_larger_than_one_comment_still_fits_and_closes_every_block() {
    let repo = repository();
    // Forty networking stacks from nothing: thousands of resources.
    let mut text = HEADER.to_owned();
    for i in 0..40 {
        text.push_str(&format!("\n[stacks.net-{i:02}]\ntype = \"networking\"\ncidr = \"10.{i}.0.0/16\"\navailability_zones = 3\nnat_gateways = 3\n"));
    }
    repo.write("environments/prod.toml", &text);
    let out = strata(
        &repo,
        &[
            "plan", "--env", "prod", "--base", "none", "--format", "markdown",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    let comment = out.stdout;
    assert!(
        comment.chars().count() <= 65_536,
        "{} characters",
        comment.chars().count()
    );
    assert!(comment.starts_with("<!-- strata:plan environments=prod -->"));
    assert!(
        comment.contains("| **prod** | 40 added |"),
        "the summary is complete"
    );
    assert!(
        comment.contains("Details left out to fit one comment"),
        "it says what it left out"
    );
    assert_eq!(
        comment.matches("<details>").count(),
        comment.matches("</details>").count(),
        "no section is cut"
    );
    for line in comment.lines().filter(|l| l.starts_with('|')) {
        assert!(line.ends_with('|'), "a table row is cut: {line}");
    }
}

#[test]
fn renaming_an_export_a_stack_still_imports_is_an_error() {
    // compute imports each queue's URL from sqs; renaming a queue renames its exports.
    let mut repo = GitFixture::new();
    let environment = |queue: &str| {
        format!(
            "{HEADER}{NETWORKING}{SECURITY}\n[stacks.hosted-zone]\ntype = \"hosted-zone\"\ndomain = \"acme.example.com\"\n\n\
             [stacks.certificate]\ntype = \"certificate\"\n\n[stacks.sqs]\ntype = \"sqs\"\nqueues = [\"{queue}\"]\n\n\
             [stacks.compute]\ntype = \"compute\"\necr_stack = \"\"\ndatabase_stack = \"\"\nsecrets_stack = \"\"\ns3_stack = \"\"\nqueues = [\"jobs\"]\n\n\
             [stacks.compute.services.api]\npublic = true\nimage = \"public.ecr.aws/nginx/nginx:1.27\"\n"
        )
    };
    repo.write("environments/prod.toml", &environment("jobs"));
    repo.commit("a queue for jobs");
    repo.write("environments/prod.toml", &environment("tasks"));
    let out = strata(
        &repo,
        &[
            "plan", "--env", "prod", "--base", "HEAD", "--format", "terminal",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.transcript(&repo.fixture));
    assert!(
        out.stdout.contains(
            "stack `sqs` stops exporting `jobs-dlq-arn`, `jobs-queue-arn`, `jobs-queue-url`"
        ) || out
            .stdout
            .contains("stack `sqs` stops exporting `jobs-queue-arn`, `jobs-queue-url`"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("but stack `compute` still imports them"),
        "{}",
        out.stdout
    );
    snapshot_formats(&repo, "rename_imported_export", "HEAD", 1);
}

#[test]
fn without_a_default_branch_the_plan_from_nothing_comes_with_a_warning() {
    let repo = repository();
    // Only `feature`: no `main`, no `master`, no `origin/HEAD`.
    let git = git2::Repository::open(repo.path()).expect("open");
    let head = git.head().expect("head").peel_to_commit().expect("commit");
    git.branch("feature", &head, false).expect("branch");
    git.set_head("refs/heads/feature")
        .expect("checkout feature");
    git.find_branch("main", git2::BranchType::Local)
        .expect("main")
        .delete()
        .expect("delete main");
    let out = strata(&repo, &["plan", "--env", "prod"]);
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    assert!(
        out.stderr.contains("no base to compare with") && out.stderr.contains("--base REV"),
        "{}",
        out.stderr
    );
    // Planning from nothing on purpose says nothing.
    let out = strata(&repo, &["plan", "--env", "prod", "--base", "none"]);
    assert!(
        !out.stderr.contains("no base to compare with"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_base_whose_environment_file_is_invalid_is_named_with_what_it_means() {
    let mut repo = repository();
    repo.write("environments/prod.toml", "project = \n");
    repo.commit("break prod");
    let broken = repo.head_id();
    repo.write(
        "environments/prod.toml",
        &format!("{HEADER}{NETWORKING}{SECURITY}{}", database("db.r6g.large")),
    );
    let out = strata(&repo, &["plan", "--env", "prod", "--base", &broken]);
    assert_eq!(out.code, 0, "{}", out.transcript(&repo.fixture));
    assert!(
        out.stderr
            .contains("environment `prod` is invalid at the base side"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("shows as new"), "{}", out.stderr);
}
