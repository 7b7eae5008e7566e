//! The deploy engine against the scripted CloudFormation double: what moto
//! cannot show. Rollbacks with per-resource reasons, a failure stopping the
//! dependents, throttling, a stack already busy, an export in use blocking
//! a delete, the account check, and the order of waves; the `strata:commit`
//! tag, stacks known to be unchanged, and code-only deploys that change
//! parameters and keep the deployed template.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use strata::cloud::scripted::{Happening, ScriptedCloud};
use strata::cloud::{Cloud, Parameter, RetryPolicy, Retrying};
use strata::deploy::progress::{ProgressEvent, Recorder};
use strata::deploy::{self, ApplyError, Deletion, Deployment, Options, Outcome, Report, Target};
use strata::modules::sha256_hex;

const PREFIX: &str = "shop-dev";

fn network() -> serde_json::Value {
    json!({
        "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}},
        "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": "shop-dev-network-vpc-id"}}}
    })
}

fn database(class: &str) -> serde_json::Value {
    json!({
        "Resources": {
            "Subnets": {"Type": "AWS::RDS::DBSubnetGroup", "Properties": {
                "DBSubnetGroupDescription": {"Fn::ImportValue": "shop-dev-network-vpc-id"}}},
            "DBInstance": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceClass": class}}
        },
        "Outputs": {"Endpoint": {"Value": {"Fn::GetAtt": ["DBInstance", "Endpoint.Address"]},
            "Export": {"Name": "shop-dev-database-endpoint"}}}
    })
}

fn app() -> serde_json::Value {
    json!({
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "Tags": [{"Key": "Db", "Value": {"Fn::ImportValue": "shop-dev-database-endpoint"}}]}}}
    })
}

fn cache() -> serde_json::Value {
    json!({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}})
}

fn target(stack: &str, template: &serde_json::Value, depends_on: &[&str]) -> Target {
    let text = template.to_string();
    Target {
        stack: stack.to_owned(),
        stack_name: format!("{PREFIX}-{stack}"),
        template_sha256: sha256_hex(text.as_bytes()),
        template: text,
        capabilities: Vec::new(),
        depends_on: depends_on.iter().map(|d| (*d).to_owned()).collect(),
        reviewed_change_set: None,
        parameters: Vec::new(),
        keep_template: false,
        unchanged: false,
    }
}

fn deployment(waves: Vec<Vec<Target>>) -> Deployment {
    Deployment {
        environment: "dev".into(),
        account: Some("123456789012".into()),
        tags: vec![("Owner".into(), "platform".into())],
        protected: false,
        waves,
        deletions: Vec::new(),
        change_set_prefix: "strata-1a2b3c4".into(),
        commit: None,
    }
}

fn three_waves(class: &str) -> Deployment {
    deployment(vec![
        vec![target("network", &network(), &[])],
        vec![target("database", &database(class), &["network"])],
        vec![target("app", &app(), &["database"])],
    ])
}

fn options(concurrency: usize) -> Options {
    Options {
        concurrency,
        poll: (Duration::from_millis(1), Duration::from_millis(4)),
        ..Options::default()
    }
}

async fn apply(
    cloud: &ScriptedCloud,
    deployment: Deployment,
    concurrency: usize,
) -> Result<(Report, Arc<Recorder>), ApplyError> {
    let recorder = Arc::new(Recorder::default());
    let report = deploy::apply(
        Arc::new(cloud.clone()),
        deployment,
        options(concurrency),
        recorder.clone(),
    )
    .await?;
    Ok((report, recorder))
}

fn outcome(report: &Report, stack: &str) -> Option<Outcome> {
    report
        .stacks
        .iter()
        .find(|s| s.stack == stack)
        .map(|s| s.outcome)
}

fn position(history: &[Happening], wanted: impl Fn(&Happening) -> bool) -> Option<usize> {
    history.iter().position(wanted)
}

fn started(stack: &str) -> impl Fn(&Happening) -> bool + '_ {
    move |h| matches!(h, Happening::Started { stack: s, .. } if s == &format!("{PREFIX}-{stack}"))
}

fn settled(stack: &str) -> impl Fn(&Happening) -> bool + '_ {
    move |h| matches!(h, Happening::Settled { stack: s, .. } if s == &format!("{PREFIX}-{stack}"))
}

#[tokio::test]
async fn dependents_never_start_before_their_dependencies_settle()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new()
        .with_steps(4)
        .with_latency(Duration::from_millis(1));
    let mut deployment = three_waves("db.t4g.micro");
    deployment.waves[0].push(target("cache", &cache(), &[]));
    let (report, _) = apply(&cloud, deployment, 4).await?;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.waves, 3);
    let history = cloud.history();
    let network_settled = position(&history, settled("network")).ok_or("network never settled")?;
    let database_started =
        position(&history, started("database")).ok_or("database never started")?;
    let database_settled =
        position(&history, settled("database")).ok_or("database never settled")?;
    let app_started = position(&history, started("app")).ok_or("app never started")?;
    assert!(network_settled < database_started, "{history:#?}");
    assert!(database_settled < app_started, "{history:#?}");
    // Stacks of one wave run at the same time.
    let cache_started = position(&history, started("cache")).ok_or("cache never started")?;
    assert!(cache_started < network_settled, "{history:#?}");
    Ok(())
}

#[tokio::test]
async fn a_failed_create_rolls_back_names_the_resource_and_stops_its_dependents()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(3);
    cloud.fail_resource(
        "shop-dev-database",
        "DBInstance",
        "DB instance class db.x9.huge is not available in us-east-1",
    );
    let (report, recorder) = apply(&cloud, three_waves("db.x9.huge"), 4).await?;
    assert!(!report.succeeded());
    assert_eq!(outcome(&report, "network"), Some(Outcome::Created));
    assert_eq!(outcome(&report, "database"), Some(Outcome::RolledBack));
    assert_eq!(outcome(&report, "app"), Some(Outcome::Skipped));
    let database = report
        .stacks
        .iter()
        .find(|s| s.stack == "database")
        .ok_or("no database")?;
    assert_eq!(
        database.resource.as_deref(),
        Some("DBInstance (AWS::RDS::DBInstance)")
    );
    assert_eq!(
        database.reason.as_deref(),
        Some(
            "DBInstance CREATE_FAILED: DB instance class db.x9.huge is not available in us-east-1"
        )
    );
    let app = report
        .stacks
        .iter()
        .find(|s| s.stack == "app")
        .ok_or("no app")?;
    assert_eq!(
        app.reason.as_deref(),
        Some("not started: it needs `database`, which failed")
    );
    assert_eq!(position(&cloud.history(), started("app")), None);
    assert_eq!(
        cloud
            .stack("shop-dev-database")
            .map(|s| s.status.to_string())
            .as_deref(),
        Some("ROLLBACK_COMPLETE")
    );
    // The failing event streamed as it happened, with its reason.
    assert!(recorder.events().iter().any(|e| matches!(e,
        ProgressEvent::Cloud { stack, event } if stack == "database" && event.status == "CREATE_FAILED"
            && event.reason.as_deref().is_some_and(|r| r.contains("db.x9.huge")))));
    Ok(())
}

#[tokio::test]
async fn a_failed_update_ends_update_rollback_complete_and_the_next_apply_recreates_nothing()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (first, _) = apply(&cloud, three_waves("db.t4g.micro"), 4).await?;
    assert!(first.succeeded(), "{first:#?}");

    cloud.fail_resource("shop-dev-database", "DBInstance", "Storage quota exceeded");
    let (second, _) = apply(&cloud, three_waves("db.r6g.large"), 4).await?;
    assert_eq!(outcome(&second, "network"), Some(Outcome::Unchanged));
    assert_eq!(outcome(&second, "database"), Some(Outcome::RolledBack));
    assert_eq!(outcome(&second, "app"), Some(Outcome::Skipped));
    assert_eq!(
        cloud
            .stack("shop-dev-database")
            .map(|s| s.status.to_string())
            .as_deref(),
        Some("UPDATE_ROLLBACK_COMPLETE")
    );
    let database = second
        .stacks
        .iter()
        .find(|s| s.stack == "database")
        .ok_or("no database")?;
    assert_eq!(
        database.reason.as_deref(),
        Some("DBInstance UPDATE_FAILED: Storage quota exceeded")
    );

    // Once the cause is gone, the update goes through the same way.
    let (third, _) = apply(&cloud, three_waves("db.r6g.large"), 4).await?;
    assert_eq!(
        outcome(&third, "database"),
        Some(Outcome::Updated),
        "{third:#?}"
    );
    assert_eq!(outcome(&third, "app"), Some(Outcome::Unchanged));
    Ok(())
}

#[tokio::test]
async fn running_stacks_of_a_failing_wave_finish_and_queued_ones_never_start()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(3);
    cloud.fail_resource(
        "shop-dev-network",
        "Vpc",
        "The maximum number of VPCs has been reached.",
    );
    let wave = vec![
        target("network", &network(), &[]),
        target("cache", &cache(), &[]),
        target("queue", &cache(), &[]),
    ];
    // One at a time: the failure stops the two still queued.
    let (report, _) = apply(&cloud, deployment(vec![wave.clone()]), 1).await?;
    assert_eq!(outcome(&report, "network"), Some(Outcome::RolledBack));
    assert_eq!(outcome(&report, "cache"), Some(Outcome::Skipped));
    assert_eq!(outcome(&report, "queue"), Some(Outcome::Skipped));

    // All at once: the others were already running, and finish.
    let cloud = ScriptedCloud::new().with_steps(3);
    cloud.fail_resource(
        "shop-dev-network",
        "Vpc",
        "The maximum number of VPCs has been reached.",
    );
    let (report, _) = apply(&cloud, deployment(vec![wave]), 3).await?;
    assert_eq!(outcome(&report, "network"), Some(Outcome::RolledBack));
    assert_eq!(outcome(&report, "cache"), Some(Outcome::Created));
    assert_eq!(outcome(&report, "queue"), Some(Outcome::Created));
    Ok(())
}

#[tokio::test]
async fn throttled_calls_are_retried_with_backoff() -> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    cloud.throttle("CreateStack", 2);
    cloud.throttle("DescribeStacks", 3);
    let retrying: Arc<dyn Cloud> = Arc::new(Retrying::new(
        cloud.clone(),
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
    ));
    let report = deploy::apply(
        retrying,
        three_waves("db.t4g.micro"),
        options(4),
        Arc::new(Recorder::default()),
    )
    .await?;
    assert!(report.succeeded(), "{report:#?}");
    let creates = cloud
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateStack" && c.subject == "shop-dev-network")
        .count();
    assert_eq!(
        creates, 3,
        "two throttled attempts, then the one that worked"
    );
    Ok(())
}

#[tokio::test]
async fn a_stack_already_in_progress_is_waited_for_before_it_is_updated()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (first, _) = apply(&cloud, three_waves("db.t4g.micro"), 4).await?;
    assert!(first.succeeded());
    cloud.busy("shop-dev-database", 3)?;
    let (report, recorder) = apply(&cloud, three_waves("db.r6g.large"), 4).await?;
    assert_eq!(
        outcome(&report, "database"),
        Some(Outcome::Updated),
        "{report:#?}"
    );
    assert!(recorder.events().iter().any(|e| matches!(e,
        ProgressEvent::Note { stack, message } if stack == "database" && message.contains("waiting for that operation to finish first"))));
    Ok(())
}

#[tokio::test]
async fn deleting_a_stack_whose_export_is_in_use_ends_delete_failed_with_the_reason()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (first, _) = apply(&cloud, three_waves("db.t4g.micro"), 4).await?;
    assert!(first.succeeded());
    // `database` leaves the file, but `app` (elsewhere) still imports it.
    let mut deployment = deployment(vec![vec![target("network", &network(), &[])]]);
    deployment.deletions = vec![Deletion {
        stack: "database".into(),
        stack_name: "shop-dev-database".into(),
    }];
    let (report, _) = apply(&cloud, deployment, 4).await?;
    assert_eq!(
        outcome(&report, "database"),
        Some(Outcome::Failed),
        "{report:#?}"
    );
    let reason = report
        .stacks
        .iter()
        .find(|s| s.stack == "database")
        .and_then(|s| s.reason.clone())
        .unwrap_or_default();
    assert!(
        reason.contains("shop-dev-database-endpoint") && reason.contains("in use"),
        "{reason}"
    );
    assert_eq!(
        cloud
            .stack("shop-dev-database")
            .map(|s| s.status.to_string())
            .as_deref(),
        Some("DELETE_FAILED")
    );
    Ok(())
}

#[tokio::test]
async fn credentials_of_another_account_change_nothing() -> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_account("210987654321");
    let error = apply(&cloud, three_waves("db.t4g.micro"), 4)
        .await
        .err()
        .ok_or("applied anyway")?;
    assert_eq!(
        error.to_string(),
        "the credentials are for account 210987654321, but environment `dev` deploys to account 123456789012"
    );
    let operations: Vec<&str> = cloud.calls().iter().map(|c| c.operation).collect();
    assert_eq!(operations, ["GetCallerIdentity"]);
    Ok(())
}

#[tokio::test]
async fn a_reviewed_change_set_that_is_gone_is_refused() -> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (first, _) = apply(&cloud, three_waves("db.t4g.micro"), 4).await?;
    assert!(first.succeeded());
    let mut deployment = three_waves("db.r6g.large");
    deployment.waves[1][0].reviewed_change_set = Some("strata-0000000-deadbeef".into());
    let (report, _) = apply(&cloud, deployment, 4).await?;
    assert_eq!(outcome(&report, "database"), Some(Outcome::Failed));
    let reason = report
        .stacks
        .iter()
        .find(|s| s.stack == "database")
        .and_then(|s| s.reason.clone());
    assert_eq!(
        reason.as_deref(),
        Some(
            "the reviewed change set `strata-0000000-deadbeef` no longer exists; plan again with `strata plan --cloud`"
        )
    );
    Ok(())
}

#[tokio::test]
async fn protected_environments_get_termination_protection()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let mut deployment = three_waves("db.t4g.micro");
    deployment.protected = true;
    let (report, _) = apply(&cloud, deployment, 4).await?;
    assert!(report.succeeded());
    assert_eq!(
        cloud
            .stack("shop-dev-app")
            .map(|s| s.termination_protection),
        Some(true)
    );
    Ok(())
}

#[tokio::test]
async fn large_templates_go_through_the_template_bucket() -> Result<(), Box<dyn std::error::Error>>
{
    let cloud = ScriptedCloud::new().with_steps(2);
    let mut big = cache();
    big["Description"] = json!("x".repeat(60_000));
    let make = || deployment(vec![vec![target("big", &big, &[])]]);
    let (without, _) = apply(&cloud, make(), 1).await?;
    let reason = without.stacks[0].reason.clone().unwrap_or_default();
    assert!(
        reason.contains("over CloudFormation's 51200-byte inline limit"),
        "{reason}"
    );

    let recorder = Arc::new(Recorder::default());
    let mut with_bucket = options(1);
    with_bucket.template_bucket = Some("shop-templates".into());
    let report = deploy::apply(Arc::new(cloud.clone()), make(), with_bucket, recorder).await?;
    assert!(report.succeeded(), "{report:#?}");
    assert!(cloud.calls().iter().any(|c| c.operation == "PutObject"
        && c.subject.starts_with("s3://shop-templates/strata/dev/big/")));
    Ok(())
}

const FIRST: &str = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
const SECOND: &str = "2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e";

fn tag(cloud: &ScriptedCloud, stack: &str, key: &str) -> Option<String> {
    cloud.stack(&format!("{PREFIX}-{stack}")).and_then(|s| {
        s.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    })
}

fn at(commit: Option<&str>, mut deployment: Deployment) -> Deployment {
    deployment.commit = commit.map(str::to_owned);
    deployment
}

#[tokio::test]
async fn created_and_updated_stacks_are_tagged_with_the_full_commit()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (first, _) = apply(&cloud, at(Some(FIRST), three_waves("db.t4g.micro")), 4).await?;
    assert!(first.succeeded(), "{first:#?}");
    for stack in ["network", "database", "app"] {
        assert_eq!(tag(&cloud, stack, "strata:commit").as_deref(), Some(FIRST));
        assert_eq!(tag(&cloud, stack, "strata:stack").as_deref(), Some(stack));
    }

    let (second, _) = apply(&cloud, at(Some(SECOND), three_waves("db.r6g.large")), 4).await?;
    assert_eq!(
        outcome(&second, "database"),
        Some(Outcome::Updated),
        "{second:#?}"
    );
    assert_eq!(
        tag(&cloud, "database", "strata:commit").as_deref(),
        Some(SECOND)
    );
    Ok(())
}

#[tokio::test]
async fn an_uncommitted_deploy_claims_no_commit() -> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (report, _) = apply(&cloud, at(None, three_waves("db.t4g.micro")), 4).await?;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(tag(&cloud, "network", "strata:commit"), None);
    assert_eq!(
        tag(&cloud, "network", "strata:environment").as_deref(),
        Some("dev")
    );
    Ok(())
}

#[tokio::test]
async fn an_unchanged_target_is_only_described_and_a_missing_one_is_created()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (first, _) = apply(&cloud, at(Some(FIRST), three_waves("db.t4g.micro")), 4).await?;
    assert!(first.succeeded(), "{first:#?}");
    let calls_before = cloud.calls().len();

    let mut deployment = at(Some(SECOND), three_waves("db.t4g.micro"));
    deployment.waves[0].push(target("cache", &cache(), &[]));
    for target in deployment.waves.iter_mut().flatten() {
        target.unchanged = true;
    }
    let (report, _) = apply(&cloud, deployment, 4).await?;
    assert!(report.succeeded(), "{report:#?}");
    for stack in ["network", "database", "app"] {
        assert_eq!(outcome(&report, stack), Some(Outcome::Unchanged));
        // No tags-only update: the stack still names the commit it came from.
        assert_eq!(tag(&cloud, stack, "strata:commit").as_deref(), Some(FIRST));
    }
    assert_eq!(outcome(&report, "cache"), Some(Outcome::Created));
    assert_eq!(
        tag(&cloud, "cache", "strata:commit").as_deref(),
        Some(SECOND)
    );
    let change_sets = cloud.calls()[calls_before..]
        .iter()
        .filter(|c| c.operation == "CreateChangeSet")
        .count();
    assert_eq!(change_sets, 0);
    Ok(())
}

#[tokio::test]
async fn a_stack_already_running_its_template_gets_no_change_set_and_keeps_its_commit()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let (first, _) = apply(&cloud, at(Some(FIRST), three_waves("db.t4g.micro")), 4).await?;
    assert!(first.succeeded(), "{first:#?}");
    let calls_before = cloud.calls().len();

    // A later commit that changes only the database: nobody said the other
    // stacks are unchanged, but their deployed templates say so.
    let (second, _) = apply(&cloud, at(Some(SECOND), three_waves("db.r6g.large")), 4).await?;
    assert_eq!(outcome(&second, "network"), Some(Outcome::Unchanged));
    assert_eq!(outcome(&second, "app"), Some(Outcome::Unchanged));
    assert_eq!(outcome(&second, "database"), Some(Outcome::Updated));
    assert_eq!(
        tag(&cloud, "network", "strata:commit").as_deref(),
        Some(FIRST)
    );
    assert_eq!(
        tag(&cloud, "database", "strata:commit").as_deref(),
        Some(SECOND)
    );
    let change_sets: Vec<String> = cloud.calls()[calls_before..]
        .iter()
        .filter(|c| c.operation == "CreateChangeSet")
        .map(|c| c.subject.clone())
        .collect();
    assert_eq!(change_sets.len(), 1, "{change_sets:?}");
    assert!(change_sets[0].contains("database"), "{change_sets:?}");
    Ok(())
}

/// Two services whose image tags are parameters, as the compute module
/// renders them.
fn compute(replicas: u32) -> serde_json::Value {
    json!({
        "Parameters": {
            "ApiImageTag": {"Type": "String", "Default": "1.0"},
            "WorkerImageTag": {"Type": "String", "Default": "1.0"},
        },
        "Resources": {
            "ApiTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "ContainerDefinitions": [{"Name": "api", "Image": {"Fn::Sub": "repo/api:${ApiImageTag}"}}]}},
            "WorkerTaskDefinition": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "ContainerDefinitions": [{"Name": "worker", "Image": {"Fn::Sub": "repo/worker:${WorkerImageTag}"}}]}},
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterSettings": [{"Name": "containerInsights", "Value": replicas.to_string()}]}},
        },
    })
}

fn parameters_of(cloud: &ScriptedCloud, stack: &str) -> Vec<(String, String)> {
    let mut parameters = cloud
        .stack(&format!("{PREFIX}-{stack}"))
        .map(|s| s.parameters)
        .unwrap_or_default();
    parameters.sort();
    parameters
}

fn code_only_target(template: &serde_json::Value, parameters: Vec<Parameter>) -> Target {
    Target {
        parameters,
        keep_template: true,
        ..target("compute", template, &[])
    }
}

#[tokio::test]
async fn a_code_only_deploy_changes_only_the_image_parameter_and_keeps_the_template()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    // Deployed once with the worker pinned to 0.9 by an earlier code-only deploy.
    let mut first = target("compute", &compute(1), &[]);
    first.parameters = vec![Parameter::value("WorkerImageTag", "0.9")];
    let (report, _) = apply(&cloud, at(Some(FIRST), deployment(vec![vec![first]])), 1).await?;
    assert!(report.succeeded(), "{report:#?}");
    let deployed = cloud.template("shop-dev-compute");
    let calls_before = cloud.calls().len();

    // The file has moved on (another property changed): the template stays.
    let code_only = code_only_target(
        &compute(2),
        vec![
            Parameter::value("ApiImageTag", "abc"),
            Parameter::use_previous("WorkerImageTag"),
        ],
    );
    let (report, _) = apply(
        &cloud,
        at(Some(SECOND), deployment(vec![vec![code_only]])),
        1,
    )
    .await?;
    assert_eq!(
        outcome(&report, "compute"),
        Some(Outcome::Updated),
        "{report:#?}"
    );
    assert_eq!(
        parameters_of(&cloud, "compute"),
        [
            ("ApiImageTag".to_owned(), "abc".to_owned()),
            ("WorkerImageTag".to_owned(), "0.9".to_owned()),
        ]
    );
    assert_eq!(cloud.template("shop-dev-compute"), deployed);
    // The template still comes from the first commit.
    assert_eq!(
        tag(&cloud, "compute", "strata:commit").as_deref(),
        Some(FIRST)
    );
    let operations: Vec<&str> = cloud.calls()[calls_before..]
        .iter()
        .map(|c| c.operation)
        .filter(|o| *o == "CreateChangeSet" || *o == "ExecuteChangeSet" || *o == "CreateStack")
        .collect();
    assert_eq!(operations, ["CreateChangeSet", "ExecuteChangeSet"]);

    // The same values again: nothing to do.
    let again = code_only_target(&compute(2), vec![Parameter::value("ApiImageTag", "abc")]);
    let (report, _) = apply(&cloud, at(Some(SECOND), deployment(vec![vec![again]])), 1).await?;
    assert_eq!(
        outcome(&report, "compute"),
        Some(Outcome::Unchanged),
        "{report:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_code_only_deploy_fills_in_every_other_parameter_of_the_deployed_template()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let mut first = target("compute", &compute(1), &[]);
    first.parameters = vec![Parameter::value("WorkerImageTag", "0.9")];
    apply(&cloud, deployment(vec![vec![first]]), 1).await?;

    // Only the api's tag is named: the worker's is kept, not reset to `1.0`.
    let code_only = code_only_target(&compute(1), vec![Parameter::value("ApiImageTag", "abc")]);
    let (report, _) = apply(&cloud, deployment(vec![vec![code_only]]), 1).await?;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        parameters_of(&cloud, "compute"),
        [
            ("ApiImageTag".to_owned(), "abc".to_owned()),
            ("WorkerImageTag".to_owned(), "0.9".to_owned()),
        ]
    );

    // A parameter the deployed template lacks is refused before any change.
    let unknown = code_only_target(&compute(1), vec![Parameter::value("JobsImageTag", "abc")]);
    let (report, _) = apply(&cloud, deployment(vec![vec![unknown]]), 1).await?;
    assert_eq!(outcome(&report, "compute"), Some(Outcome::Failed));
    assert_eq!(
        report.stacks[0].reason.as_deref(),
        Some(
            "the deployed template of `compute` has no parameter `JobsImageTag` (it declares `ApiImageTag`, `WorkerImageTag`); apply the environment first so that it does"
        )
    );
    Ok(())
}

#[tokio::test]
async fn a_code_only_deploy_of_a_stack_not_deployed_yet_fails_with_the_reason()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let code_only = code_only_target(&compute(1), vec![Parameter::value("ApiImageTag", "abc")]);
    let (report, _) = apply(&cloud, deployment(vec![vec![code_only]]), 1).await?;
    assert_eq!(outcome(&report, "compute"), Some(Outcome::Failed));
    assert_eq!(
        report.stacks[0].reason.as_deref(),
        Some(
            "`compute` does not exist yet: a code-only deploy changes parameters of a deployed stack; apply the environment first"
        )
    );
    assert!(
        !cloud
            .calls()
            .iter()
            .any(|c| c.operation == "CreateStack" || c.operation == "CreateChangeSet")
    );
    Ok(())
}

/// The repository's own `dev` environment, rendered by the built-in modules.
fn rendered_dev() -> strata::render::RenderedEnvironment {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    let host =
        strata::host::Host::new(strata::host::Limits::default(), Some(cache)).expect("host starts");
    let workspace = strata::workspace::Workspace::load(&root).expect("the repository loads");
    let (environment, _) = workspace.environment("dev").expect("dev is valid");
    strata::render::render_environment(&host, &workspace.registry, &environment)
        .into_rendered()
        .expect("dev renders")
}

#[tokio::test]
async fn a_code_only_deploy_of_the_rendered_compute_stack_changes_only_the_api_image()
-> Result<(), Box<dyn std::error::Error>> {
    let rendered = rendered_dev();
    let plan = strata::plan::plan_environment("dev", None, Some(&rendered));
    let cloud = ScriptedCloud::new().with_steps(1);
    let full = deploy::deployment(
        &rendered,
        &plan,
        Some("1a2b3c4"),
        Some(FIRST),
        false,
        |_| None,
    );
    let (report, _) = apply(&cloud, full, 4).await?;
    assert!(report.succeeded(), "{report:#?}");
    let compute = rendered.stack_name("compute");
    let deployed = cloud.template(&compute);
    let calls_before = cloud.calls().len();

    let code_only = deploy::code_only(
        &rendered,
        &["compute".to_owned()],
        &[(
            "compute".to_owned(),
            vec![Parameter::value("ApiImageTag", "1.42.0-def4567")],
        )],
        Some(SECOND),
    );
    let targets: Vec<&Target> = code_only.waves.iter().flatten().collect();
    assert_eq!(targets.len(), 1);
    assert!(targets[0].keep_template);
    assert_eq!(
        targets[0].parameters,
        [
            Parameter::value("ApiImageTag", "1.42.0-def4567"),
            Parameter::use_previous("SchedulerImageTag"),
            Parameter::use_previous("WorkerImageTag"),
        ]
    );
    assert!(code_only.deletions.is_empty());
    let (report, _) = apply(&cloud, code_only, 4).await?;
    assert_eq!(
        outcome(&report, "compute"),
        Some(Outcome::Updated),
        "{report:#?}"
    );

    let mut parameters = cloud
        .stack(&compute)
        .map(|s| s.parameters)
        .unwrap_or_default();
    parameters.sort();
    let expected: Vec<(String, String)> = [
        ("ApiImageTag", "1.42.0-def4567"),
        ("SchedulerImageTag", "1.41.8-abc123d"),
        ("WorkerImageTag", "1.41.8-abc123d"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(parameters, expected);
    assert_eq!(cloud.template(&compute), deployed);
    let change_sets: Vec<String> = cloud.calls()[calls_before..]
        .iter()
        .filter(|c| c.operation == "CreateChangeSet")
        .map(|c| c.subject.clone())
        .collect();
    assert_eq!(change_sets.len(), 1, "{change_sets:?}");
    assert!(change_sets[0].starts_with(&format!("{compute}/strata-2b3c4d5-")));
    Ok(())
}

#[tokio::test]
async fn a_code_only_deploy_of_a_parameter_no_resource_uses_still_records_its_value()
-> Result<(), Box<dyn std::error::Error>> {
    let cloud = ScriptedCloud::new().with_steps(2);
    let template = json!({
        "Parameters": {"ReleaseLabel": {"Type": "String", "Default": "1.0"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}},
        "Outputs": {"Release": {"Value": {"Ref": "ReleaseLabel"}}},
    });
    let (report, _) = apply(
        &cloud,
        deployment(vec![vec![target("release", &template, &[])]]),
        1,
    )
    .await?;
    assert!(report.succeeded(), "{report:#?}");

    // No resource changes, as moto shows every parameter-only change set:
    // it still runs, and the stack shows the new value.
    let code_only = Target {
        parameters: vec![Parameter::value("ReleaseLabel", "2.0")],
        keep_template: true,
        ..target("release", &template, &[])
    };
    let (report, _) = apply(&cloud, deployment(vec![vec![code_only]]), 1).await?;
    assert_eq!(
        outcome(&report, "release"),
        Some(Outcome::Updated),
        "{report:#?}"
    );
    let stack = cloud.stack("shop-dev-release").ok_or("release vanished")?;
    assert_eq!(
        stack.parameters,
        [("ReleaseLabel".to_owned(), "2.0".to_owned())]
    );
    assert_eq!(stack.outputs.first().map(|o| o.value.as_str()), Some("2.0"));
    Ok(())
}
