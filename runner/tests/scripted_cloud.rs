//! The scripted cloud against CloudFormation's documented state machine:
//! creates, change sets, updates and deletes that take several polls, the
//! rollbacks and failures moto cannot show, throttling, busy stacks, client
//! tokens and the record tests read.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata::cloud::scripted::{Happening, ScriptedCloud};
use strata::cloud::{
    Capability, ChangeAction, ChangeSet, ChangeSetStatus, Cloud, CreateChangeSet, CreateStack,
    ErrorKind, ExecutionStatus, Parameter, Replacement, RetryPolicy, Retrying, Stack,
    TemplateSource,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A VPC and a subnet; exports `{stack}-VpcId`.
fn network() -> Value {
    json!({
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
            }},
        },
        "Outputs": {
            "VpcId": {
                "Value": {"Ref": "Vpc"},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-VpcId"}},
            },
            "SubnetArn": {"Value": {"Fn::GetAtt": ["Subnet", "Arn"]}},
        },
    })
}

/// A queue that imports `network-VpcId`.
fn app() -> Value {
    json!({
        "Resources": {
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
                "Tags": [{"Key": "vpc", "Value": {"Fn::ImportValue": "network-VpcId"}}],
            }},
        },
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}}},
    })
}

fn create(name: &str, template: &Value) -> CreateStack {
    CreateStack {
        name: name.to_owned(),
        template: TemplateSource::Body(template.to_string()),
        parameters: Vec::new(),
        tags: vec![("team".to_owned(), "platform".to_owned())],
        capabilities: Vec::new(),
        termination_protection: false,
        client_token: format!("create-{name}"),
    }
}

fn change_set(stack: &str, name: &str, template: &Value) -> CreateChangeSet {
    CreateChangeSet {
        stack: stack.to_owned(),
        change_set: name.to_owned(),
        template: TemplateSource::Body(template.to_string()),
        parameters: Vec::new(),
        tags: vec![("team".to_owned(), "platform".to_owned())],
        capabilities: Vec::new(),
        description: "strata".to_owned(),
        client_token: format!("change-set-{stack}-{name}"),
    }
}

/// Poll the stack until it settles; `None` once it is gone.
async fn settle(
    cloud: &impl Cloud,
    name: &str,
) -> Result<Option<Stack>, Box<dyn std::error::Error>> {
    for _ in 0..50 {
        match cloud.describe_stack(name).await? {
            Some(stack) if stack.status.is_in_progress() => {}
            settled => return Ok(settled),
        }
    }
    Err(format!("stack `{name}` never settled").into())
}

/// Create a stack and wait for it.
async fn created(
    cloud: &impl Cloud,
    name: &str,
    template: &Value,
) -> Result<Stack, Box<dyn std::error::Error>> {
    cloud.create_stack(&create(name, template)).await?;
    settle(cloud, name)
        .await?
        .ok_or_else(|| format!("stack `{name}` vanished").into())
}

/// The status `stack` shows on each of `polls` describes in a row.
async fn polled(
    cloud: &impl Cloud,
    stack: &str,
    polls: usize,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut statuses = Vec::new();
    for _ in 0..polls {
        let found = cloud.describe_stack(stack).await?.ok_or("stack vanished")?;
        statuses.push(found.status.0);
    }
    Ok(statuses)
}

/// Describe a change set until CloudFormation finished creating it.
async fn described(
    cloud: &impl Cloud,
    stack: &str,
    name: &str,
) -> Result<ChangeSet, Box<dyn std::error::Error>> {
    for _ in 0..10 {
        match cloud.describe_change_set(stack, name).await? {
            Some(change_set) if change_set.status == ChangeSetStatus::Pending => {}
            Some(change_set) => return Ok(change_set),
            None => return Err(format!("change set `{name}` is missing").into()),
        }
    }
    Err(format!("change set `{name}` stayed pending").into())
}

/// A service whose image tag and queue delay are parameters, with a
/// `NoEcho` password.
fn service() -> Value {
    json!({
        "Parameters": {
            "ImageTag": {"Type": "String", "Default": "1.0", "AllowedPattern": "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"},
            "Delay": {"Type": "Number", "Default": "2"},
            "Password": {"Type": "String", "NoEcho": true, "Default": "hunter2"},
        },
        "Resources": {
            "Task": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "ContainerDefinitions": [{"Name": "api", "Image": {"Fn::Sub": "repo/api:${ImageTag}"}}],
            }},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"DelaySeconds": {"Ref": "Delay"}}},
        },
        "Outputs": {"Image": {"Value": {"Fn::Sub": "repo/api:${ImageTag}"}}},
    })
}

/// The stack's parameters as `DescribeStacks` shows them, sorted.
fn parameters(stack: &Stack) -> Vec<(String, String)> {
    let mut parameters = stack.parameters.clone();
    parameters.sort();
    parameters
}

fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn output(stack: &Stack, key: &str) -> Option<String> {
    stack
        .outputs
        .iter()
        .find(|o| o.key == key)
        .map(|o| o.value.clone())
}

fn started(stack: &str, operation: &'static str) -> Happening {
    Happening::Started {
        stack: stack.to_owned(),
        operation,
    }
}

fn settled(stack: &str, status: &str) -> Happening {
    Happening::Settled {
        stack: stack.to_owned(),
        status: status.into(),
    }
}

#[tokio::test]
async fn a_create_returns_in_progress_and_settles_with_outputs_and_exports() -> TestResult {
    let cloud = ScriptedCloud::new().with_steps(3);
    let id = cloud.create_stack(&create("network", &network())).await?;
    assert!(id.starts_with("arn:aws:cloudformation:us-east-1:123456789012:stack/network/"));
    let stack = cloud.stack("network").ok_or("no stack after create")?;
    assert_eq!(stack.status.as_str(), "CREATE_IN_PROGRESS");
    assert!(stack.outputs.is_empty());

    let statuses = polled(&cloud, "network", 3).await?;
    assert_eq!(
        statuses,
        [
            "CREATE_IN_PROGRESS",
            "CREATE_IN_PROGRESS",
            "CREATE_COMPLETE"
        ]
    );

    let stack = cloud.stack("network").ok_or("stack vanished")?;
    let vpc = output(&stack, "VpcId").ok_or("no VpcId output")?;
    assert!(vpc.starts_with("Vpc-"), "{vpc}");
    let subnet_arn = output(&stack, "SubnetArn").ok_or("no SubnetArn output")?;
    assert!(subnet_arn.starts_with("Subnet-") && subnet_arn.ends_with(".Arn"));
    assert_eq!(stack.tags, [("team".to_owned(), "platform".to_owned())]);

    let exports = cloud.exports().await?;
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].name, "network-VpcId");
    assert_eq!(exports[0].value, vpc);
    assert_eq!(exports[0].exporting_stack, id);

    let events = cloud.stack_events("network").await?;
    assert_eq!(
        events.first().map(|e| e.status.as_str()),
        Some("CREATE_COMPLETE")
    );
    assert!(events.first().is_some_and(|e| e.is_stack_event()));
    let resource_order: Vec<(&str, &str)> = events
        .iter()
        .rev()
        .filter(|e| !e.is_stack_event())
        .map(|e| (e.logical_id.as_str(), e.status.as_str()))
        .collect();
    assert_eq!(
        resource_order,
        [
            ("Vpc", "CREATE_IN_PROGRESS"),
            ("Vpc", "CREATE_COMPLETE"),
            ("Subnet", "CREATE_IN_PROGRESS"),
            ("Subnet", "CREATE_COMPLETE"),
        ],
        "the subnet refers to the VPC, so the VPC comes first"
    );
    assert_eq!(
        cloud.history(),
        [
            started("network", "CreateStack"),
            settled("network", "CREATE_COMPLETE")
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_resource_rolls_the_create_back_with_its_reason_in_the_events() -> TestResult {
    let cloud = ScriptedCloud::new();
    cloud.fail_resource("network", "Subnet", "The CIDR '10.0.1.0/24' is invalid.");
    let stack = created(&cloud, "network", &network()).await?;

    assert_eq!(stack.status.as_str(), "ROLLBACK_COMPLETE");
    assert_eq!(
        stack.status_reason.as_deref(),
        Some("The following resource(s) failed to create: [Subnet]. Rollback requested by user.")
    );
    assert!(stack.status.needs_delete_before_create());
    assert!(stack.outputs.is_empty());
    assert!(cloud.exports().await?.is_empty());

    let events = cloud.stack_events("network").await?;
    let failed = events
        .iter()
        .find(|e| e.status == "CREATE_FAILED")
        .ok_or("no CREATE_FAILED event")?;
    assert_eq!(failed.logical_id, "Subnet");
    assert_eq!(
        failed.reason.as_deref(),
        Some("The CIDR '10.0.1.0/24' is invalid.")
    );
    assert!(
        events
            .iter()
            .any(|e| e.logical_id == "Vpc" && e.status == "DELETE_COMPLETE"),
        "the VPC created before the failure is deleted again"
    );
    let stack_statuses: Vec<&str> = events
        .iter()
        .rev()
        .filter(|e| e.is_stack_event())
        .map(|e| e.status.as_str())
        .collect();
    assert_eq!(
        stack_statuses,
        [
            "CREATE_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "ROLLBACK_COMPLETE"
        ]
    );

    let mut again = create("network", &network());
    again.client_token = "create-network-again".to_owned();
    let refused = cloud.create_stack(&again).await;
    assert_eq!(
        refused.map_err(|e| e.kind),
        Err(ErrorKind::AlreadyExists),
        "a rolled-back stack must be deleted before it is created again"
    );
    Ok(())
}

#[tokio::test]
async fn a_change_set_adds_modifies_and_removes_then_executes() -> TestResult {
    let cloud = ScriptedCloud::new();
    let before = created(&cloud, "network", &network()).await?;
    let old_vpc = output(&before, "VpcId").ok_or("no VpcId output")?;
    cloud.replacement("network", "Vpc", Replacement::True);
    let next = json!({
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.1.0.0/16"}},
            "Gateway": {"Type": "AWS::EC2::InternetGateway", "Properties": {}},
        },
        "Outputs": {
            "VpcId": {
                "Value": {"Ref": "Vpc"},
                "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-VpcId"}},
            },
        },
    });
    cloud
        .create_change_set(&change_set("network", "strata-1", &next))
        .await?;

    let pending = cloud
        .describe_change_set("network", "strata-1")
        .await?
        .ok_or("no change set")?;
    assert_eq!(pending.status, ChangeSetStatus::Pending);
    assert_eq!(pending.execution_status, ExecutionStatus::Unavailable);
    let ready = described(&cloud, "network", "strata-1").await?;
    assert_eq!(ready.status, ChangeSetStatus::Complete);
    assert_eq!(ready.execution_status, ExecutionStatus::Available);
    assert!(!ready.has_no_changes());
    let changes: Vec<(ChangeAction, &str, Option<Replacement>)> = ready
        .changes
        .iter()
        .map(|c| (c.action, c.logical_id.as_str(), c.replacement))
        .collect();
    assert_eq!(
        changes,
        [
            (ChangeAction::Add, "Gateway", None),
            (ChangeAction::Remove, "Subnet", None),
            (ChangeAction::Modify, "Vpc", Some(Replacement::True)),
        ]
    );
    let vpc_change = &ready.changes[2];
    assert_eq!(vpc_change.scope, ["Properties"]);
    assert_eq!(vpc_change.physical_id.as_deref(), Some(old_vpc.as_str()));
    assert_eq!(vpc_change.resource_type, "AWS::EC2::VPC");

    cloud
        .execute_change_set("network", "strata-1", "execute-1")
        .await?;
    let updating = cloud.stack("network").ok_or("stack vanished")?;
    assert_eq!(updating.status.as_str(), "UPDATE_IN_PROGRESS");
    assert_eq!(output(&updating, "VpcId"), Some(old_vpc.clone()));

    let after = settle(&cloud, "network").await?.ok_or("stack vanished")?;
    assert_eq!(after.status.as_str(), "UPDATE_COMPLETE");
    let new_vpc = output(&after, "VpcId").ok_or("no VpcId output")?;
    assert_ne!(new_vpc, old_vpc, "a replaced VPC has a new physical id");
    assert_eq!(output(&after, "SubnetArn"), None);
    let exports = cloud.exports().await?;
    assert_eq!(
        exports.first().map(|e| e.value.as_str()),
        Some(new_vpc.as_str())
    );

    let events = cloud.stack_events("network").await?;
    let stack_statuses: Vec<&str> = events
        .iter()
        .rev()
        .filter(|e| e.is_stack_event())
        .map(|e| e.status.as_str())
        .collect();
    assert_eq!(
        stack_statuses,
        [
            "CREATE_IN_PROGRESS",
            "CREATE_COMPLETE",
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_COMPLETE",
        ]
    );
    let deleted: Vec<Option<&str>> = events
        .iter()
        .filter(|e| e.status == "DELETE_COMPLETE")
        .map(|e| e.physical_id.as_deref())
        .collect();
    assert_eq!(deleted.len(), 2, "the old VPC and the subnet: {deleted:?}");
    assert!(deleted.contains(&Some(old_vpc.as_str())));

    let executed = cloud
        .describe_change_set("network", "strata-1")
        .await?
        .ok_or("executed change set is gone")?;
    assert_eq!(executed.execution_status, ExecutionStatus::Complete);
    assert_eq!(
        cloud.template("network"),
        Some(next),
        "the new template is the stack's"
    );
    assert!(
        cloud
            .history()
            .contains(&started("network", "ExecuteChangeSet"))
    );
    Ok(())
}

#[tokio::test]
async fn a_change_set_without_changes_fails_with_cloudformations_reason() -> TestResult {
    let cloud = ScriptedCloud::new();
    created(&cloud, "network", &network()).await?;
    cloud
        .create_change_set(&change_set("network", "strata-1", &network()))
        .await?;
    let change_set = described(&cloud, "network", "strata-1").await?;
    assert_eq!(change_set.status, ChangeSetStatus::Failed);
    assert_eq!(
        change_set.status_reason.as_deref(),
        Some(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        )
    );
    assert!(change_set.has_no_changes());
    let executed = cloud
        .execute_change_set("network", "strata-1", "execute-1")
        .await;
    assert_eq!(executed.map_err(|e| e.kind), Err(ErrorKind::Validation));
    assert_eq!(
        cloud.stack("network").map(|s| s.status.0),
        Some("CREATE_COMPLETE".to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_update_rolls_back_and_keeps_the_old_outputs() -> TestResult {
    let cloud = ScriptedCloud::new();
    let before = created(&cloud, "network", &network()).await?;
    let exports_before = cloud.exports().await?;
    let mut next = network();
    next["Resources"]["Vpc"]["Properties"]["CidrBlock"] = json!("10.9.0.0/16");
    next["Resources"]["Extra"] = json!({"Type": "AWS::EC2::InternetGateway", "Properties": {}});
    cloud.replacement("network", "Vpc", Replacement::True);
    cloud.fail_resource("network", "Vpc", "The CIDR '10.9.0.0/16' conflicts.");
    cloud
        .create_change_set(&change_set("network", "strata-1", &next))
        .await?;
    described(&cloud, "network", "strata-1").await?;
    cloud
        .execute_change_set("network", "strata-1", "execute-1")
        .await?;
    let after = settle(&cloud, "network").await?.ok_or("stack vanished")?;

    assert_eq!(after.status.as_str(), "UPDATE_ROLLBACK_COMPLETE");
    assert!(after.status.is_rolled_back());
    assert_eq!(
        after.status_reason.as_deref(),
        Some("The following resource(s) failed to update: [Vpc].")
    );
    assert_eq!(after.outputs, before.outputs);
    assert_eq!(cloud.exports().await?, exports_before);
    assert_eq!(cloud.template("network"), Some(network()));

    let events = cloud.stack_events("network").await?;
    let failed = events
        .iter()
        .find(|e| e.status == "UPDATE_FAILED")
        .ok_or("no UPDATE_FAILED event")?;
    assert_eq!(failed.logical_id, "Vpc");
    assert_eq!(
        failed.reason.as_deref(),
        Some("The CIDR '10.9.0.0/16' conflicts.")
    );
    let stack_statuses: Vec<&str> = events
        .iter()
        .filter(|e| e.is_stack_event())
        .take(4)
        .map(|e| e.status.as_str())
        .collect();
    assert_eq!(
        stack_statuses,
        [
            "UPDATE_ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
        ]
    );
    assert!(
        events
            .iter()
            .any(|e| e.logical_id == "Extra" && e.status == "DELETE_COMPLETE"),
        "the gateway added before the failure is cleaned up"
    );
    let change_set = cloud
        .describe_change_set("network", "strata-1")
        .await?
        .ok_or("no change set")?;
    assert_eq!(change_set.execution_status, ExecutionStatus::Failed);
    Ok(())
}

#[tokio::test]
async fn deleting_a_stack_whose_export_is_imported_ends_delete_failed() -> TestResult {
    let cloud = ScriptedCloud::new();
    created(&cloud, "network", &network()).await?;
    let app_stack = created(&cloud, "app", &app()).await?;
    assert_eq!(app_stack.status.as_str(), "CREATE_COMPLETE");

    cloud.delete_stack("network", "delete-network-1").await?;
    assert_eq!(
        cloud.stack("network").map(|s| s.status.0),
        Some("DELETE_IN_PROGRESS".to_owned())
    );
    let refused = settle(&cloud, "network").await?.ok_or("stack vanished")?;
    assert_eq!(refused.status.as_str(), "DELETE_FAILED");
    assert_eq!(
        refused.status_reason.as_deref(),
        Some("Export network-VpcId cannot be deleted as it is in use by app")
    );
    assert!(!refused.outputs.is_empty(), "the stack keeps its resources");
    assert_eq!(cloud.exports().await?.len(), 1);

    cloud.delete_stack("app", "delete-app").await?;
    assert_eq!(settle(&cloud, "app").await?, None);
    cloud.delete_stack("network", "delete-network-2").await?;
    assert_eq!(settle(&cloud, "network").await?, None);
    assert!(cloud.exports().await?.is_empty());
    let events = cloud.stack_events("network").await;
    assert_eq!(events.map_err(|e| e.kind), Err(ErrorKind::NotFound));
    assert_eq!(
        cloud.history(),
        [
            started("network", "CreateStack"),
            settled("network", "CREATE_COMPLETE"),
            started("app", "CreateStack"),
            settled("app", "CREATE_COMPLETE"),
            started("network", "DeleteStack"),
            settled("network", "DELETE_FAILED"),
            started("app", "DeleteStack"),
            settled("app", "DELETE_COMPLETE"),
            started("network", "DeleteStack"),
            settled("network", "DELETE_COMPLETE"),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn termination_protection_refuses_delete() -> TestResult {
    let cloud = ScriptedCloud::new();
    let mut request = create("network", &network());
    request.termination_protection = true;
    cloud.create_stack(&request).await?;
    settle(&cloud, "network").await?;

    let refused = cloud
        .delete_stack("network", "delete-1")
        .await
        .err()
        .ok_or("delete went through")?;
    assert_eq!(refused.kind, ErrorKind::Validation);
    assert_eq!(
        refused.message,
        "Stack [network] cannot be deleted while TerminationProtection is enabled"
    );
    assert_eq!(
        cloud.stack("network").map(|s| s.status.0),
        Some("CREATE_COMPLETE".to_owned())
    );

    cloud.set_termination_protection("network", false).await?;
    cloud.delete_stack("network", "delete-2").await?;
    assert_eq!(settle(&cloud, "network").await?, None);
    Ok(())
}

#[tokio::test]
async fn throttled_calls_fail_the_scripted_number_of_times_and_retrying_gets_through() -> TestResult
{
    let cloud = ScriptedCloud::new();
    cloud.throttle("DescribeStacks", 2);
    for _ in 0..2 {
        let throttled = cloud
            .describe_stack("network")
            .await
            .err()
            .ok_or("not throttled")?;
        assert_eq!(throttled.kind, ErrorKind::Throttled);
        assert_eq!(throttled.message, "Rate exceeded");
    }
    assert_eq!(cloud.describe_stack("network").await?, None);

    cloud.throttle("CreateStack", 3);
    let retrying = Retrying::new(
        cloud.clone(),
        RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
        },
    );
    retrying
        .create_stack(&create("network", &network()))
        .await?;
    let creates = cloud
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateStack")
        .count();
    assert_eq!(creates, 4, "three throttled, one accepted");
    assert_eq!(cloud.history(), [started("network", "CreateStack")]);
    assert_eq!(
        settle(&retrying, "network").await?.map(|s| s.status.0),
        Some("CREATE_COMPLETE".to_owned())
    );

    cloud.throttle("ListExports", 9);
    let gave_up = retrying.exports().await.err().ok_or("not throttled")?;
    assert_eq!(
        gave_up.kind,
        ErrorKind::Throttled,
        "five attempts, all throttled"
    );
    Ok(())
}

#[tokio::test]
async fn a_busy_stack_refuses_updates_then_settles() -> TestResult {
    let cloud = ScriptedCloud::new();
    let stack = created(&cloud, "network", &network()).await?;
    cloud.busy("network", 2)?;
    let mut next = network();
    next["Resources"]["Vpc"]["Properties"]["CidrBlock"] = json!("10.1.0.0/16");

    let refused = cloud
        .create_change_set(&change_set("network", "strata-1", &next))
        .await
        .err()
        .ok_or("change set accepted on a busy stack")?;
    assert_eq!(refused.kind, ErrorKind::InProgress);
    assert_eq!(
        refused.message,
        format!(
            "Stack:{} is in UPDATE_IN_PROGRESS state and can not be updated.",
            stack.id
        )
    );
    let delete = cloud.delete_stack("network", "delete-1").await;
    assert_eq!(delete.map_err(|e| e.kind), Err(ErrorKind::InProgress));

    let statuses = polled(&cloud, "network", 3).await?;
    assert_eq!(
        statuses,
        [
            "UPDATE_IN_PROGRESS",
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE"
        ]
    );
    cloud
        .create_change_set(&change_set("network", "strata-1", &next))
        .await?;
    assert_eq!(
        described(&cloud, "network", "strata-1").await?.status,
        ChangeSetStatus::Complete
    );
    Ok(())
}

#[tokio::test]
async fn a_repeated_client_token_is_not_applied_twice() -> TestResult {
    let cloud = ScriptedCloud::new();
    let request = create("network", &network());
    let first = cloud.create_stack(&request).await?;
    let again = cloud.create_stack(&request).await?;
    assert_eq!(first, again, "a retry returns the same stack");
    settle(&cloud, "network").await?;

    let mut next = network();
    next["Resources"]["Vpc"]["Properties"]["CidrBlock"] = json!("10.1.0.0/16");
    let request = change_set("network", "strata-1", &next);
    cloud.create_change_set(&request).await?;
    cloud.create_change_set(&request).await?;
    described(&cloud, "network", "strata-1").await?;
    cloud
        .execute_change_set("network", "strata-1", "execute-1")
        .await?;
    cloud
        .execute_change_set("network", "strata-1", "execute-1")
        .await?;
    settle(&cloud, "network").await?;
    cloud.delete_stack("network", "delete-1").await?;
    cloud.delete_stack("network", "delete-1").await?;
    settle(&cloud, "network").await?;

    assert_eq!(
        cloud.history(),
        [
            started("network", "CreateStack"),
            settled("network", "CREATE_COMPLETE"),
            started("network", "ExecuteChangeSet"),
            settled("network", "UPDATE_COMPLETE"),
            started("network", "DeleteStack"),
            settled("network", "DELETE_COMPLETE"),
        ]
    );
    let reused = cloud.delete_stack("other", "execute-1").await;
    assert_eq!(reused.map_err(|e| e.kind), Err(ErrorKind::TokenAlreadyUsed));
    Ok(())
}

#[tokio::test]
async fn an_import_of_a_missing_export_is_refused() -> TestResult {
    let cloud = ScriptedCloud::new();
    let refused = cloud
        .create_stack(&create("app", &app()))
        .await
        .err()
        .ok_or("create accepted")?;
    assert_eq!(refused.kind, ErrorKind::Validation);
    assert_eq!(refused.message, "No export named network-VpcId found.");
    assert_eq!(cloud.describe_stack("app").await?, None);
    assert!(cloud.history().is_empty());

    let queue = json!({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}}});
    created(&cloud, "app", &queue).await?;
    cloud
        .create_change_set(&change_set("app", "strata-1", &app()))
        .await?;
    let change_set = described(&cloud, "app", "strata-1").await?;
    assert_eq!(change_set.status, ChangeSetStatus::Failed);
    assert_eq!(
        change_set.status_reason.as_deref(),
        Some("No export named network-VpcId found.")
    );
    assert!(!change_set.has_no_changes());
    Ok(())
}

#[tokio::test]
async fn iam_resources_without_the_capability_are_refused() -> TestResult {
    let cloud = ScriptedCloud::new();
    let template = json!({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "deployer", "AssumeRolePolicyDocument": {},
    }}}});
    let mut request = create("roles", &template);
    request.capabilities = vec![Capability::Iam];
    let refused = cloud
        .create_stack(&request)
        .await
        .err()
        .ok_or("create accepted")?;
    assert_eq!(refused.kind, ErrorKind::InsufficientCapabilities);
    assert_eq!(
        refused.message,
        "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    );

    request.capabilities = vec![Capability::NamedIam];
    cloud.create_stack(&request).await?;
    assert_eq!(
        settle(&cloud, "roles").await?.map(|s| s.status.0),
        Some("CREATE_COMPLETE".to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn a_change_set_for_a_missing_stack_is_refused() -> TestResult {
    let cloud = ScriptedCloud::new();
    let refused = cloud
        .create_change_set(&change_set("network", "strata-1", &network()))
        .await
        .err()
        .ok_or("change set accepted")?;
    assert_eq!(refused.kind, ErrorKind::NotFound);
    assert_eq!(refused.message, "Stack [network] does not exist");
    assert_eq!(
        cloud.describe_change_set("network", "strata-1").await?,
        None
    );
    cloud.delete_stack("network", "delete-missing").await?;
    Ok(())
}

#[tokio::test]
async fn executing_a_change_set_deletes_the_stacks_other_change_sets() -> TestResult {
    let cloud = ScriptedCloud::new();
    created(&cloud, "network", &network()).await?;
    let mut first = network();
    first["Resources"]["Vpc"]["Properties"]["CidrBlock"] = json!("10.1.0.0/16");
    let mut second = network();
    second["Resources"]["Vpc"]["Properties"]["CidrBlock"] = json!("10.2.0.0/16");
    cloud
        .create_change_set(&change_set("network", "strata-1", &first))
        .await?;
    cloud
        .create_change_set(&change_set("network", "strata-2", &second))
        .await?;
    described(&cloud, "network", "strata-1").await?;
    assert_eq!(cloud.list_change_sets("network").await?.len(), 2);

    cloud
        .execute_change_set("network", "strata-1", "execute-1")
        .await?;
    let names: Vec<String> = cloud
        .list_change_sets("network")
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["strata-1"]);
    assert_eq!(
        cloud.describe_change_set("network", "strata-2").await?,
        None
    );
    Ok(())
}

#[tokio::test]
async fn seeded_stacks_register_their_exports_for_importers() -> TestResult {
    let cloud = ScriptedCloud::new();
    cloud.seed_stack("network", &network().to_string(), "UPDATE_COMPLETE")?;
    let stack = cloud.stack("network").ok_or("no seeded stack")?;
    assert_eq!(stack.status.as_str(), "UPDATE_COMPLETE");
    assert_eq!(cloud.exports().await?.len(), 1);
    assert_eq!(
        created(&cloud, "app", &app()).await?.status.as_str(),
        "CREATE_COMPLETE"
    );

    cloud.seed_stack("failed", &network().to_string(), "ROLLBACK_COMPLETE")?;
    let refused = cloud
        .create_change_set(&change_set("failed", "strata-1", &network()))
        .await;
    assert_eq!(refused.map_err(|e| e.kind), Err(ErrorKind::Validation));
    Ok(())
}

#[tokio::test]
async fn templates_uploaded_to_s3_are_read_back_by_url() -> TestResult {
    let cloud = ScriptedCloud::new();
    let url = cloud
        .upload_template(
            "strata-templates",
            "network/abc.json",
            &network().to_string(),
        )
        .await?;
    assert_eq!(
        url,
        "https://strata-templates.s3.amazonaws.com/network/abc.json"
    );
    let mut request = create("network", &network());
    request.template = TemplateSource::Url(url);
    cloud.create_stack(&request).await?;
    assert_eq!(cloud.template("network"), Some(network()));

    request.name = "other".to_owned();
    request.client_token = "create-other".to_owned();
    request.template =
        TemplateSource::Url("https://strata-templates.s3.amazonaws.com/missing.json".to_owned());
    let refused = cloud.create_stack(&request).await;
    assert_eq!(refused.map_err(|e| e.kind), Err(ErrorKind::Validation));
    Ok(())
}

#[tokio::test]
async fn calls_are_recorded_in_order_with_their_subjects() -> TestResult {
    let cloud = ScriptedCloud::new();
    assert_eq!(cloud.account().await?, "123456789012");
    cloud.create_stack(&create("network", &network())).await?;
    cloud.describe_change_set("network", "strata-1").await?;
    let calls: Vec<(u64, &str, String)> = cloud
        .calls()
        .into_iter()
        .map(|c| (c.seq, c.operation, c.subject))
        .collect();
    assert_eq!(
        calls,
        [
            (1, "GetCallerIdentity", String::new()),
            (2, "CreateStack", "network".to_owned()),
            (3, "DescribeChangeSet", "network/strata-1".to_owned()),
        ]
    );
    let other = ScriptedCloud::new().with_account("210987654321");
    assert_eq!(other.account().await?, "210987654321");
    Ok(())
}

#[tokio::test]
async fn latency_lets_concurrent_calls_overlap() -> TestResult {
    let cloud = ScriptedCloud::new().with_latency(Duration::from_millis(100));
    let begin = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let cloud = cloud.clone();
        tasks.spawn(async move { cloud.describe_stack("network").await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result??, None);
    }
    let elapsed = begin.elapsed();
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(600),
        "ten calls of 100 ms in a row would take a second: {elapsed:?}"
    );
    assert_eq!(cloud.calls().len(), 10);
    Ok(())
}

#[tokio::test]
async fn parameters_take_given_values_or_defaults_and_no_echo_ones_show_masked() -> TestResult {
    let cloud = ScriptedCloud::new();
    let mut request = create("api", &service());
    request.parameters = vec![Parameter::value("ImageTag", "2.0")];
    cloud.create_stack(&request).await?;
    let stack = settle(&cloud, "api").await?.ok_or("api vanished")?;
    assert_eq!(
        parameters(&stack),
        pairs(&[("Delay", "2"), ("ImageTag", "2.0"), ("Password", "****")])
    );
    assert_eq!(output(&stack, "Image").as_deref(), Some("repo/api:2.0"));
    Ok(())
}

#[tokio::test]
async fn an_unknown_parameter_or_a_missing_value_is_refused_like_cloudformation() -> TestResult {
    let cloud = ScriptedCloud::new();
    let mut request = create("api", &service());
    request.parameters = vec![Parameter::value("Bogus", "1")];
    let error = cloud
        .create_stack(&request)
        .await
        .err()
        .ok_or("created anyway")?;
    assert_eq!(error.kind, ErrorKind::Validation);
    assert_eq!(
        error.message,
        "Parameters: [Bogus] do not exist in the template"
    );

    let mut required = service();
    required["Parameters"]["Delay"] = json!({"Type": "Number"});
    let error = cloud
        .create_stack(&create("api", &required))
        .await
        .err()
        .ok_or("created anyway")?;
    assert_eq!(error.kind, ErrorKind::Validation);
    assert_eq!(error.message, "Parameters: [Delay] must have values");

    let mut request = create("api", &service());
    request.parameters = vec![Parameter::value("ImageTag", "-bad tag")];
    let error = cloud
        .create_stack(&request)
        .await
        .err()
        .ok_or("created anyway")?;
    assert_eq!(error.kind, ErrorKind::Validation);
    assert!(
        error
            .message
            .starts_with("Parameter 'ImageTag' must match pattern"),
        "{error}"
    );

    let mut request = create("api", &service());
    request.parameters = vec![Parameter::use_previous("ImageTag")];
    let error = cloud
        .create_stack(&request)
        .await
        .err()
        .ok_or("created anyway")?;
    assert_eq!(error.kind, ErrorKind::Validation);
    assert_eq!(cloud.stack("api"), None);
    Ok(())
}

#[tokio::test]
async fn create_stack_refuses_to_keep_a_previous_template() -> TestResult {
    let cloud = ScriptedCloud::new();
    let mut request = create("api", &service());
    request.template = TemplateSource::UsePrevious;
    let error = cloud
        .create_stack(&request)
        .await
        .err()
        .ok_or("created anyway")?;
    assert_eq!(error.kind, ErrorKind::Validation);
    assert!(error.message.contains("no previous template"), "{error}");
    Ok(())
}

#[tokio::test]
async fn a_parameter_only_change_set_keeps_the_template_and_modifies_what_refers_to_it()
-> TestResult {
    let cloud = ScriptedCloud::new();
    let mut request = create("api", &service());
    request.parameters = vec![
        Parameter::value("ImageTag", "1.1"),
        Parameter::value("Delay", "5"),
    ];
    cloud.create_stack(&request).await?;
    settle(&cloud, "api").await?;
    let submitted = cloud.get_template("api").await?.ok_or("no template")?;

    let mut request = change_set("api", "strata-image", &json!({}));
    request.template = TemplateSource::UsePrevious;
    request.parameters = vec![
        Parameter::value("ImageTag", "1.2"),
        Parameter::use_previous("Delay"),
        Parameter::use_previous("Password"),
    ];
    cloud.create_change_set(&request).await?;
    let change_set = described(&cloud, "api", "strata-image").await?;
    assert_eq!(
        change_set.status,
        ChangeSetStatus::Complete,
        "{change_set:?}"
    );
    let modified: Vec<(&str, ChangeAction)> = change_set
        .changes
        .iter()
        .map(|c| (c.logical_id.as_str(), c.action))
        .collect();
    assert_eq!(modified, [("Task", ChangeAction::Modify)]);
    assert_eq!(change_set.changes[0].scope, ["Properties"]);

    cloud
        .execute_change_set("api", "strata-image", "execute-image")
        .await?;
    let stack = settle(&cloud, "api").await?.ok_or("api vanished")?;
    assert_eq!(stack.status.as_str(), "UPDATE_COMPLETE");
    assert_eq!(
        parameters(&stack),
        pairs(&[("Delay", "5"), ("ImageTag", "1.2"), ("Password", "****")])
    );
    assert_eq!(output(&stack, "Image").as_deref(), Some("repo/api:1.2"));
    assert_eq!(cloud.get_template("api").await?, Some(submitted));
    Ok(())
}

#[tokio::test]
async fn a_parameter_left_out_of_an_update_takes_its_default_not_its_value() -> TestResult {
    let cloud = ScriptedCloud::new();
    let mut request = create("api", &service());
    request.parameters = vec![Parameter::value("Delay", "5")];
    cloud.create_stack(&request).await?;
    settle(&cloud, "api").await?;

    let mut request = change_set("api", "strata-image", &json!({}));
    request.template = TemplateSource::UsePrevious;
    request.parameters = vec![Parameter::value("ImageTag", "1.2")];
    cloud.create_change_set(&request).await?;
    let change_set = described(&cloud, "api", "strata-image").await?;
    let mut modified: Vec<&str> = change_set
        .changes
        .iter()
        .map(|c| c.logical_id.as_str())
        .collect();
    modified.sort_unstable();
    assert_eq!(modified, ["Queue", "Task"]);
    Ok(())
}

#[tokio::test]
async fn the_same_template_and_parameter_values_are_no_change() -> TestResult {
    let cloud = ScriptedCloud::new();
    let mut request = create("api", &service());
    request.parameters = vec![Parameter::value("ImageTag", "1.1")];
    cloud.create_stack(&request).await?;
    settle(&cloud, "api").await?;

    let mut request = change_set("api", "strata-same", &json!({}));
    request.template = TemplateSource::UsePrevious;
    request.parameters = vec![
        Parameter::value("ImageTag", "1.1"),
        Parameter::use_previous("Delay"),
        Parameter::use_previous("Password"),
    ];
    cloud.create_change_set(&request).await?;
    let change_set = described(&cloud, "api", "strata-same").await?;
    assert!(change_set.has_no_changes(), "{change_set:?}");
    Ok(())
}

#[tokio::test]
async fn get_template_returns_the_template_as_submitted_and_none_for_a_missing_stack() -> TestResult
{
    let cloud = ScriptedCloud::new();
    let body = "{\"Resources\": {\"Queue\": {\"Type\": \"AWS::SQS::Queue\", \"Properties\": {}}}}";
    let request = CreateStack {
        template: TemplateSource::Body(body.to_owned()),
        ..create("queue", &json!({}))
    };
    cloud.create_stack(&request).await?;
    assert_eq!(cloud.get_template("queue").await?.as_deref(), Some(body));
    assert_eq!(cloud.get_template("missing").await?, None);
    Ok(())
}
