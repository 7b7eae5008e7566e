//! `strata apply` against moto's server on 127.0.0.1: real CloudFormation
//! calls through the AWS SDK, on real git repositories. moto emulates the
//! happy path (creates, change-set updates, deletes, exports and imports);
//! rollbacks, throttling and replacements are covered by the scripted
//! double in `runner/tests/deploy.rs`.
//!
//! The environment here uses stack types moto can create (networking,
//! security, s3): moto skips KMS keys, ElastiCache and CloudFront, and
//! rejects `MasterUserSecret` (see `../shared/notes/moto.md`).

use strata_tests::{GitFixture, Moto, Run, run_with};

fn strata(repo: &GitFixture, moto: &Moto, args: &[&str]) -> Run {
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run_with(
        env!("CARGO_BIN_EXE_strata-under-test"),
        env!("CARGO_TARGET_TMPDIR"),
        &repo.fixture,
        args,
        &env,
    )
}

const HEADER: &str = r#"project = "shop"
environment = "development"
region = "us-east-1"
account = "123456789012"

[tags]
CostCenter = "engineering"
Owner = "platform"
"#;

fn networking(retention: u32) -> String {
    format!(
        "\n[stacks.networking]\ntype = \"networking\"\ncidr = \"10.2.0.0/16\"\navailability_zones = 2\nnat_gateways = 1\nflow_log_retention_days = {retention}\n"
    )
}

const SECURITY: &str = "\n[stacks.security]\ntype = \"security\"\napp_port = 8080\n";
const S3: &str = "\n[stacks.s3]\ntype = \"s3\"\n";

fn dev(retention: u32, with_s3: bool) -> String {
    format!(
        "{HEADER}{}{SECURITY}{}",
        networking(retention),
        if with_s3 { S3 } else { "" }
    )
}

fn repository() -> GitFixture {
    let mut repo = GitFixture::new();
    repo.write("environments/dev.toml", &dev(7, true));
    repo.commit("dev: networking, security, s3");
    repo
}

fn assert_ok(run: &Run) {
    assert_eq!(
        run.code, 0,
        "strata failed\n--- stdout\n{}\n--- stderr\n{}",
        run.stdout, run.stderr
    );
}

fn start_moto() -> Moto {
    match Moto::start() {
        Ok(moto) => moto,
        Err(message) => panic!("{message}"),
    }
}

#[test]
fn creates_the_dev_environment_from_nothing_then_reapplies_as_a_no_op() {
    let moto = start_moto();
    let repo = repository();

    let first = strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]);
    assert_ok(&first);
    assert!(first.stdout.contains("dev: 3 created"), "{}", first.stdout);
    // Wave by wave: security imports networking's VPC, so it waits a wave.
    assert!(
        first.stderr.contains("wave 1: networking, s3"),
        "{}",
        first.stderr
    );
    assert!(
        first.stderr.contains("wave 2: security"),
        "{}",
        first.stderr
    );
    // One log line per CloudFormation event when not on a terminal.
    assert!(
        first.stderr.contains(
            "networking: shop-development-networking AWS::CloudFormation::Stack CREATE_COMPLETE"
        ),
        "{}",
        first.stderr
    );

    let stacks = moto
        .python("print(sorted(s['StackName'] + ' ' + s['StackStatus'] for s in cf.describe_stacks()['Stacks']))")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        stacks,
        "['shop-development-networking CREATE_COMPLETE', 'shop-development-s3 CREATE_COMPLETE', 'shop-development-security CREATE_COMPLETE']"
    );
    let tags = moto
        .python("print(sorted(t['Key'] + '=' + t['Value'] for t in cf.describe_stacks(StackName='shop-development-security')['Stacks'][0]['Tags']))")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(tags.contains("'strata:stack=security'"), "{tags}");
    assert!(tags.contains("'Owner=platform'"), "{tags}");
    // Deployed from a clean working tree: the stack names the commit.
    assert!(
        tags.contains(&format!("'strata:commit={}'", repo.head_id())),
        "{tags}"
    );

    let again = strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]);
    assert_ok(&again);
    assert!(
        again.stdout.contains("dev: 3 unchanged"),
        "{}",
        again.stdout
    );
}

#[test]
fn imports_resolve_to_the_real_exported_values() {
    let moto = start_moto();
    let repo = repository();
    assert_ok(&strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]));

    let vpc = moto
        .python("print([e['Value'] for e in cf.list_exports()['Exports'] if e['Name'] == 'shop-development-networking-vpc-id'][0])")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(vpc.starts_with("vpc-"), "{vpc}");
    let groups = moto
        .python("r = cf.describe_stack_resources(StackName='shop-development-security')['StackResources']\nids = [x['PhysicalResourceId'] for x in r if x.get('ResourceType') == 'AWS::EC2::SecurityGroup' or str(x.get('PhysicalResourceId', '')).startswith('sg-')]\nprint(sorted(set(g['VpcId'] for g in ec2.describe_security_groups(GroupIds=ids)['SecurityGroups'])))")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(groups, format!("['{vpc}']"));
}

#[test]
fn a_changed_property_plans_a_change_set_and_applies_through_it() {
    let moto = start_moto();
    let mut repo = repository();
    assert_ok(&strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]));

    repo.write("environments/dev.toml", &dev(30, true));
    repo.commit("dev: keep flow logs for 30 days");
    let plan = strata(
        &repo,
        &moto,
        &[
            "plan",
            "--env",
            "dev",
            "--base",
            "HEAD~1",
            "--cloud",
            "--format",
            "json",
            "--out",
            "plan.json",
        ],
    );
    assert_ok(&plan);
    let document: serde_json::Value =
        serde_json::from_str(&plan.stdout).unwrap_or_else(|e| panic!("{e}\n{}", plan.stdout));
    let networking = &document["environments"][0]["stacks"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "networking"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        networking["cloud"]["status"], "change_set",
        "{networking:#}"
    );
    let change_set = networking["cloud"]["change_set"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(change_set.starts_with("strata-"), "{change_set}");
    let log_group = networking["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == "AWS::Logs::LogGroup"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(log_group["cloud"]["action"], "Modify", "{networking:#}");

    let apply = strata(
        &repo,
        &moto,
        &["apply", "--env", "dev", "--plan", "plan.json", "--yes"],
    );
    assert_ok(&apply);
    assert!(
        apply.stdout.contains("dev: 1 updated, 2 unchanged"),
        "{}",
        apply.stdout
    );
    let status = moto
        .python("print(cf.describe_stacks(StackName='shop-development-networking')['Stacks'][0]['StackStatus'])")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, "UPDATE_COMPLETE");
}

#[test]
fn a_removed_stack_is_deleted_only_with_allow_delete() {
    let moto = start_moto();
    let mut repo = repository();
    assert_ok(&strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]));
    repo.write("environments/dev.toml", &dev(7, false));
    repo.commit("dev: no more s3");

    let kept = strata(
        &repo,
        &moto,
        &["apply", "--env", "dev", "--base", "HEAD~1", "--yes"],
    );
    assert_ok(&kept);
    assert!(
        kept.stderr.contains(
            "stack `s3` was removed from the file, but is kept: deleting it needs `--allow-delete`"
        ),
        "{}",
        kept.stderr
    );
    let exists = "print(len([s for s in cf.list_stacks()['StackSummaries'] if s['StackName'] == 'shop-development-s3' and s['StackStatus'] != 'DELETE_COMPLETE']))";
    assert_eq!(moto.python(exists).as_deref(), Ok("1"));

    let deleted = strata(
        &repo,
        &moto,
        &[
            "apply",
            "--env",
            "dev",
            "--base",
            "HEAD~1",
            "--allow-delete",
            "--yes",
        ],
    );
    assert_ok(&deleted);
    assert!(deleted.stdout.contains("1 deleted"), "{}", deleted.stdout);
    assert_eq!(moto.python(exists).as_deref(), Ok("0"));
}

#[test]
fn refuses_credentials_of_another_account() {
    let moto = start_moto();
    let mut repo = GitFixture::new();
    repo.write(
        "environments/dev.toml",
        &dev(7, true).replace("123456789012", "210987654321"),
    );
    repo.commit("dev in another account");
    let run = strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the credentials are for account 123456789012, but environment `dev` deploys to account"
        ) && run.stderr.contains("210987654321"),
        "{}",
        run.stderr
    );
    let stacks = moto.python("print(len(cf.describe_stacks()['Stacks']))");
    assert_eq!(stacks.as_deref(), Ok("0"));
}

#[test]
fn refuses_a_plan_whose_templates_changed_since() {
    let moto = start_moto();
    let repo = repository();
    assert_ok(&strata(
        &repo,
        &moto,
        &[
            "plan",
            "--env",
            "dev",
            "--base",
            "none",
            "--out",
            "plan.json",
        ],
    ));
    repo.write("environments/dev.toml", &dev(14, true));
    let run = strata(
        &repo,
        &moto,
        &["apply", "--env", "dev", "--plan", "plan.json", "--yes"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the plan no longer matches what would deploy to `dev`: `networking`'s template changed"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        moto.python("print(len(cf.describe_stacks()['Stacks']))")
            .as_deref(),
        Ok("0")
    );
}

#[test]
fn asks_for_yes_when_stdin_is_not_a_terminal() {
    let moto = start_moto();
    let repo = repository();
    let run = strata(&repo, &moto, &["apply", "--env", "dev"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("pass `--yes` to apply without asking"),
        "{}",
        run.stderr
    );
}

#[test]
fn on_main_a_stack_removed_since_the_last_apply_is_noticed_without_a_base() {
    let moto = start_moto();
    let mut repo = repository();
    assert_ok(&strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]));
    repo.write("environments/dev.toml", &dev(7, false));
    repo.commit("dev: no more s3");

    // On main the merge-base with main is HEAD; the stacks' `strata:commit`
    // tags say what runs, so the removal is seen.
    let kept = strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]);
    assert_ok(&kept);
    assert!(
        kept.stderr.contains("note: planning from"),
        "{}",
        kept.stderr
    );
    assert!(
        kept.stderr.contains(
            "stack `s3` was removed from the file, but is kept: deleting it needs `--allow-delete`"
        ),
        "{}",
        kept.stderr
    );
    let deleted = strata(
        &repo,
        &moto,
        &["apply", "--env", "dev", "--allow-delete", "--yes"],
    );
    assert_ok(&deleted);
    assert!(deleted.stdout.contains("1 deleted"), "{}", deleted.stdout);
}

/// dev, then the same commit's staging environment, dispatched by hand.
const ROLLOUT: &str = r#"[on.dispatch]

[inputs.note]
description = "why (unused by the templates)"
pattern = "^[a-z ]+$"
parameters = ["Note"]
stacks = ["networking"]

[[stages]]
name = "dev"
environments = ["dev"]

[[stages]]
name = "after-dev"
environments = ["staging"]
after = ["dev"]
[stages.gates]
approvals = { count = 1, from = ["acme/platform"] }
"#;

#[test]
fn strata_run_applies_the_stages_it_may_and_stops_at_a_gate_a_terminal_cannot_pass() {
    let moto = start_moto();
    let mut repo = repository();
    repo.write(
        "environments/staging.toml",
        &dev(7, false).replace("development", "staging"),
    );
    repo.write("workflows/rollout.toml", ROLLOUT);
    repo.commit("staging, and a workflow");

    let typo = strata(&repo, &moto, &["run", "rolout", "--yes"]);
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(
        typo.stderr.contains("did you mean `rollout`?"),
        "{}",
        typo.stderr
    );
    let bad = strata(
        &repo,
        &moto,
        &["run", "rollout", "--input", "note=NO!", "--yes"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("`note`"), "{}", bad.stderr);
    let unknown = strata(
        &repo,
        &moto,
        &["run", "rollout", "--input", "nope=1", "--yes"],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);

    let run = strata(&repo, &moto, &["run", "rollout", "--yes"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("==> stage `dev`"), "{}", run.stderr);
    assert!(
        run.stderr.contains("stopped: stage `after-dev`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("acme/platform"), "{}", run.stderr);
    let exists = |name: &str| {
        moto.python(&format!(
            "print(len([s for s in cf.list_stacks()['StackSummaries'] if s['StackName'] == '{name}' and s['StackStatus'] != 'DELETE_COMPLETE']))"
        ))
    };
    assert_eq!(exists("shop-development-networking").as_deref(), Ok("1"));
    assert_eq!(exists("shop-staging-networking").as_deref(), Ok("0"));
}
