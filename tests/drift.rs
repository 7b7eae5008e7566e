//! `strata drift` against moto's server on 127.0.0.1: an environment
//! deployed with `strata apply`, then changed behind Strata's back through
//! boto3 (a stack's template edited, a stack deleted, a stack created with
//! Strata's tags). moto has no drift detection (`DetectStackDrift`), so
//! resource drift is reported as not checked here; it is covered on the
//! scripted cloud (`runner/src/drift/tests.rs`, `tests/cloud_contract.rs`).

use serde_json::Value;
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

const DEV: &str = r#"project = "shop"
environment = "development"
region = "us-east-1"
account = "123456789012"

[tags]
CostCenter = "engineering"
Owner = "platform"

[stacks.networking]
type = "networking"
cidr = "10.2.0.0/16"
availability_zones = 2
nat_gateways = 1
flow_log_retention_days = 7

[stacks.security]
type = "security"
app_port = 8080

[stacks.s3]
type = "s3"
"#;

fn start_moto() -> Moto {
    Moto::start().unwrap_or_else(|message| panic!("{message}"))
}

fn python(moto: &Moto, snippet: &str) -> String {
    moto.python(snippet).unwrap_or_else(|e| panic!("{e}"))
}

/// `strata drift --format json`: the exit code and the document.
fn drift(repo: &GitFixture, moto: &Moto) -> (i32, Value) {
    let run = strata(repo, moto, &["drift", "--env", "dev", "--format", "json"]);
    let document = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
            run.stdout, run.stderr
        )
    });
    (run.code, document)
}

/// (stack, kind) of every drifted entry of the first environment.
fn drifted(document: &Value) -> Vec<(String, String)> {
    document["environments"][0]["drifted"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["stack"].as_str().unwrap_or_default().to_owned(),
                d["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn drift_is_found_after_changes_outside_strata_and_named_by_stack_and_path() {
    let moto = start_moto();
    let mut repo = GitFixture::new();
    repo.write("environments/dev.toml", DEV);
    repo.commit("dev: networking, security, s3");
    let commit = repo.head_id();
    let applied = strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);

    // In sync: exit 0, an empty `drifted` list, resource drift not checked.
    let (code, document) = drift(&repo, &moto);
    assert_eq!(code, 0, "{document:#}");
    let environment = &document["environments"][0];
    assert_eq!(environment["drifted"], serde_json::json!([]));
    assert_eq!(environment["commit"], commit.as_str());
    assert_eq!(environment["stacks_checked"], 3);
    assert_eq!(environment["errors"], serde_json::json!([]));
    assert_eq!(environment["resource_drift"]["status"], "unavailable");
    assert!(
        environment["resource_drift"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("DetectStackDrift")),
        "{environment:#}"
    );
    let in_sync = environment["fingerprint"].clone();

    // Someone edits a tag of the s3 stack's first tagged resource.
    let edited = python(
        &moto,
        r#"name = 'shop-development-s3'
body = cf.get_template(StackName=name)['TemplateBody']
t = body if isinstance(body, dict) else json.loads(body)
for logical, r in sorted(t['Resources'].items()):
    tags = r.get('Properties', {}).get('Tags')
    if isinstance(tags, list) and tags:
        tags[0]['Value'] = 'changed-by-hand'
        print(logical + ' ' + tags[0]['Key'])
        break
stack = cf.describe_stacks(StackName=name)['Stacks'][0]
cf.update_stack(StackName=name, TemplateBody=json.dumps(t), Tags=stack['Tags'], Capabilities=['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'])"#,
    );
    let (resource, key) = edited
        .split_once(' ')
        .unwrap_or_else(|| panic!("no tagged resource in the s3 stack: {edited}"));
    let (code, document) = drift(&repo, &moto);
    assert_eq!(code, 3, "{document:#}");
    assert_eq!(drifted(&document), vec![("s3".into(), "template".into())]);
    let change = &document["environments"][0]["drifted"][0]["changes"][0];
    assert_eq!(change["resource"], resource, "{change:#}");
    assert_eq!(
        change["path"],
        format!("Properties.Tags.{key}"),
        "{change:#}"
    );
    assert_eq!(change["actual"], "changed-by-hand", "{change:#}");
    assert_ne!(document["environments"][0]["fingerprint"], in_sync);

    // A stack deleted, another created with Strata's tags for dev.
    python(
        &moto,
        r#"cf.delete_stack(StackName='shop-development-security')
cf.create_stack(StackName='shop-development-stray', TemplateBody=json.dumps({'Resources': {'Queue': {'Type': 'AWS::SQS::Queue', 'Properties': {}}}}), Tags=[{'Key': 'strata:environment', 'Value': 'dev'}, {'Key': 'strata:stack', 'Value': 'stray'}])
cf.create_stack(StackName='shop-development-elsewhere', TemplateBody=json.dumps({'Resources': {'Queue': {'Type': 'AWS::SQS::Queue', 'Properties': {}}}}), Tags=[{'Key': 'strata:environment', 'Value': 'prod'}])"#,
    );
    let (code, document) = drift(&repo, &moto);
    assert_eq!(code, 3, "{document:#}");
    assert_eq!(
        drifted(&document),
        vec![
            ("s3".into(), "template".into()),
            ("security".into(), "missing".into()),
            ("stray".into(), "extra".into()),
        ]
    );

    // The same drift, for a terminal and as an issue body.
    let text = strata(&repo, &moto, &["drift", "--env", "dev"]);
    assert_eq!(text.code, 3);
    let line = format!("{resource}.Properties.Tags.{key}: ");
    assert!(
        text.stdout
            .lines()
            .any(|l| l.trim_start().starts_with(&line) && l.ends_with(" → changed-by-hand")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains(
            "note: resource drift not checked: the endpoint does not implement DetectStackDrift"
        ),
        "{}",
        text.stdout
    );
    let markdown = strata(
        &repo,
        &moto,
        &["drift", "--env", "dev", "--format", "markdown"],
    );
    assert_eq!(markdown.code, 3);
    assert!(
        markdown
            .stdout
            .contains("### `security` — missing: in git, not in the cloud"),
        "{}",
        markdown.stdout
    );
}

#[test]
fn an_unknown_environment_is_bad_input() {
    let moto = start_moto();
    let mut repo = GitFixture::new();
    repo.write("environments/dev.toml", DEV);
    repo.commit("dev");
    let run = strata(&repo, &moto, &["drift", "--env", "nope"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("no environment `nope`"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_state_database_names_the_commit_to_compare_with() {
    let moto = start_moto();
    let mut repo = GitFixture::new();
    repo.write(
        "environments/dev.toml",
        DEV.trim_end()
            .trim_end_matches("type = \"s3\"")
            .trim_end()
            .trim_end_matches("[stacks.s3]"),
    );
    repo.commit("dev: networking, security");
    let applied = strata(&repo, &moto, &["apply", "--env", "dev", "--yes"]);
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);
    // A later commit adds a stack; recorded as deployed, but never applied.
    repo.write("environments/dev.toml", DEV);
    repo.commit("dev: an s3 stack");
    let later = repo.head_id();

    // Without state: the stacks' tags say what runs, and it matches.
    let (code, document) = drift(&repo, &moto);
    assert_eq!(code, 0, "{document:#}");

    // The state database says the later commit runs: s3 is missing. Each
    // stack is still compared with its template at its own `strata:commit`.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let state = strata::state::State::open(&path).expect("state");
    state
        .record_deployed(
            "acme/infra",
            "dev",
            &later,
            &std::collections::BTreeMap::new(),
            &[],
            &[],
            true,
            None,
            std::time::SystemTime::now(),
        )
        .expect("record");
    drop(state);
    let path = path.to_string_lossy().into_owned();
    let run = strata(
        &repo,
        &moto,
        &[
            "drift",
            "--format",
            "json",
            "--state",
            &path,
            "--state-repo",
            "acme/infra",
        ],
    );
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    let document: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(document["environments"][0]["commit"], later.as_str());
    assert_eq!(drifted(&document), vec![("s3".into(), "missing".into())]);

    // A state file that does not exist is bad input, not an empty state.
    let missing = dir.path().join("nope.db").to_string_lossy().into_owned();
    let run = strata(
        &repo,
        &moto,
        &["drift", "--state", &missing, "--state-repo", "acme/infra"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no state database"), "{}", run.stderr);
}
