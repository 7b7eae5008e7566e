//! One contract, two clouds: the same scenario runs against moto's server
//! (through the real AWS SDK implementation) and against the scripted
//! double, so the double cannot drift from what CloudFormation does on the
//! happy path: create, outputs and exports, imports, change sets (modify,
//! no changes), execute, already-exists, events, delete; parameters, a
//! parameter-only change set that keeps the template, `GetTemplate`; listing
//! every stack with its tags; drift detection, which moto does not
//! implement (its case asserts the `Unsupported` error instead).

use std::time::Duration;

use serde_json::json;
use strata::cloud::cloudformation::CloudFormation;
use strata::cloud::scripted::ScriptedCloud;
use strata::cloud::{
    ChangeAction, ChangeSetStatus, Cloud, CreateChangeSet, CreateStack, DetectionStatus, ErrorKind,
    Parameter, ResourceDrift, ResourceDriftStatus, Stack, StackDriftStatus, TemplateSource,
    reason_means_no_changes,
};
use strata_tests::Moto;

fn queue(prefix: &str, visibility: u32) -> String {
    json!({
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": visibility}}},
        "Outputs": {"QueueUrl": {"Value": {"Ref": "Queue"}, "Export": {"Name": format!("{prefix}-queue-url")}}}
    })
    .to_string()
}

/// A queue whose visibility timeout and delay are parameters.
fn tunable_queue() -> String {
    json!({
        "Parameters": {
            "Visibility": {"Type": "Number", "Default": "30"},
            "Delay": {"Type": "Number", "Default": "0"}
        },
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": {"Ref": "Visibility"},
            "DelaySeconds": {"Ref": "Delay"}
        }}}
    })
    .to_string()
}

fn topic(prefix: &str) -> String {
    json!({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {
            "DisplayName": "contract",
            "Tags": [{"Key": "Queue", "Value": {"Fn::ImportValue": format!("{prefix}-queue-url")}}]
        }}}
    })
    .to_string()
}

async fn settle(cloud: &dyn Cloud, name: &str) -> Result<Option<Stack>, String> {
    for _ in 0..200 {
        match cloud
            .describe_stack(name)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(stack) if stack.status.is_in_progress() => {}
            other => return Ok(other),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(format!("{name} never settled"))
}

fn create(name: &str, template: String, token: &str) -> CreateStack {
    CreateStack {
        name: name.to_owned(),
        template: TemplateSource::Body(template),
        parameters: Vec::new(),
        tags: vec![("Owner".into(), "contract".into())],
        capabilities: Vec::new(),
        termination_protection: false,
        client_token: token.to_owned(),
    }
}

fn change_set(stack: &str, name: &str, template: String) -> CreateChangeSet {
    CreateChangeSet {
        stack: stack.to_owned(),
        change_set: name.to_owned(),
        template: TemplateSource::Body(template),
        parameters: Vec::new(),
        tags: vec![("Owner".into(), "contract".into())],
        capabilities: Vec::new(),
        description: "contract".into(),
        client_token: format!("token-{name}"),
    }
}

/// The scenario. Every step says what it expected when it fails.
async fn contract(cloud: &dyn Cloud, prefix: &str) -> Result<(), String> {
    let queue_stack = format!("{prefix}-queue");
    let topic_stack = format!("{prefix}-topic");
    let e = |e: strata::cloud::CloudError| e.to_string();

    assert_eq!(cloud.account().await.map_err(e)?, "123456789012");
    assert_eq!(cloud.describe_stack(&queue_stack).await.map_err(e)?, None);

    // Create: settles CREATE_COMPLETE with its output and export.
    cloud
        .create_stack(&create(&queue_stack, queue(prefix, 30), "create-queue"))
        .await
        .map_err(e)?;
    let stack = settle(cloud, &queue_stack)
        .await?
        .ok_or("the queue stack vanished")?;
    assert_eq!(stack.status.as_str(), "CREATE_COMPLETE");
    let output = stack
        .outputs
        .iter()
        .find(|o| o.key == "QueueUrl")
        .ok_or("no QueueUrl output")?;
    assert_eq!(
        output.export_name.as_deref(),
        Some(format!("{prefix}-queue-url").as_str())
    );
    let exports = cloud.exports().await.map_err(e)?;
    let export = exports
        .iter()
        .find(|x| x.name == format!("{prefix}-queue-url"))
        .ok_or("the export is not listed")?;
    assert_eq!(export.value, output.value);
    assert!(stack.tags.contains(&("Owner".into(), "contract".into())));

    // Creating it again is refused.
    let again = cloud
        .create_stack(&create(
            &queue_stack,
            queue(prefix, 30),
            "create-queue-again",
        ))
        .await;
    assert_eq!(again.map_err(|e| e.kind), Err(ErrorKind::AlreadyExists));

    // An importer resolves the export.
    cloud
        .create_stack(&create(&topic_stack, topic(prefix), "create-topic"))
        .await
        .map_err(e)?;
    let topic_status = settle(cloud, &topic_stack).await?.map(|s| s.status);
    assert_eq!(
        topic_status.as_ref().map(|s| s.as_str()),
        Some("CREATE_COMPLETE")
    );

    // A change set that modifies the queue, executed.
    cloud
        .create_change_set(&change_set(
            &queue_stack,
            "strata-contract-1",
            queue(prefix, 60),
        ))
        .await
        .map_err(e)?;
    let described = strata::deploy::wait_for_change_set(
        cloud,
        &queue_stack,
        "strata-contract-1",
        (Duration::from_millis(10), Duration::from_millis(50)),
    )
    .await
    .map_err(e)?;
    assert_eq!(described.status, ChangeSetStatus::Complete, "{described:?}");
    assert!(
        described
            .changes
            .iter()
            .any(|c| c.logical_id == "Queue" && c.action == ChangeAction::Modify),
        "{described:?}"
    );
    let listed = cloud.list_change_sets(&queue_stack).await.map_err(e)?;
    assert!(
        listed.iter().any(|c| c.name == "strata-contract-1"),
        "{listed:?}"
    );
    cloud
        .execute_change_set(&queue_stack, "strata-contract-1", "execute-1")
        .await
        .map_err(e)?;
    let updated = settle(cloud, &queue_stack).await?.map(|s| s.status);
    assert_eq!(
        updated.as_ref().map(|s| s.as_str()),
        Some("UPDATE_COMPLETE")
    );

    // The same template again: "no changes", in whichever shape.
    match cloud
        .create_change_set(&change_set(
            &queue_stack,
            "strata-contract-2",
            queue(prefix, 60),
        ))
        .await
    {
        Err(error) => assert!(reason_means_no_changes(&error.message), "{error}"),
        Ok(()) => {
            let described = strata::deploy::wait_for_change_set(
                cloud,
                &queue_stack,
                "strata-contract-2",
                (Duration::from_millis(10), Duration::from_millis(50)),
            )
            .await
            .map_err(e)?;
            assert!(described.has_no_changes(), "{described:?}");
            cloud
                .delete_change_set(&queue_stack, "strata-contract-2")
                .await
                .map_err(e)?;
        }
    }

    // Events: newest first, the stack's own among them.
    let events = cloud.stack_events(&queue_stack).await.map_err(e)?;
    assert!(
        events.iter().any(|event| event.is_stack_event()),
        "{events:?}"
    );

    parameters(cloud, prefix).await?;

    // Delete, importer first: both gone.
    cloud
        .delete_stack(&topic_stack, "delete-topic")
        .await
        .map_err(e)?;
    assert_eq!(settle(cloud, &topic_stack).await?, None);
    cloud
        .delete_stack(&queue_stack, "delete-queue")
        .await
        .map_err(e)?;
    assert_eq!(settle(cloud, &queue_stack).await?, None);
    Ok(())
}

#[tokio::test]
async fn moto_keeps_the_contract() -> Result<(), String> {
    let moto = Moto::start()?;
    let cloud = CloudFormation::at_endpoint("us-east-1", &moto.url(), "testing", "testing").await;
    contract(&cloud, "contract").await
}

#[tokio::test]
async fn the_scripted_double_keeps_the_contract() -> Result<(), String> {
    let cloud = ScriptedCloud::new().with_steps(3);
    contract(&cloud, "contract").await
}

/// The value of parameter `key` as `DescribeStacks` shows it.
fn parameter<'a>(stack: &'a Stack, key: &str) -> Option<&'a str> {
    stack
        .parameters
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Parameters: given and default values show; a change set that keeps the
/// template and changes one value (the other kept) executes; the template
/// stays as submitted.
async fn parameters(cloud: &dyn Cloud, prefix: &str) -> Result<(), String> {
    let name = format!("{prefix}-tunable");
    let e = |e: strata::cloud::CloudError| e.to_string();
    let body = tunable_queue();
    let mut request = create(&name, body.clone(), "create-tunable");
    request.parameters = vec![Parameter::value("Visibility", "45")];
    cloud.create_stack(&request).await.map_err(e)?;
    let stack = settle(cloud, &name)
        .await?
        .ok_or("the tunable stack vanished")?;
    assert_eq!(stack.status.as_str(), "CREATE_COMPLETE");
    assert_eq!(parameter(&stack, "Visibility"), Some("45"), "{stack:?}");
    assert_eq!(parameter(&stack, "Delay"), Some("0"), "{stack:?}");
    assert_eq!(
        cloud.get_template(&name).await.map_err(e)?.as_deref(),
        Some(body.as_str())
    );
    assert_eq!(
        cloud
            .get_template(&format!("{prefix}-missing"))
            .await
            .map_err(e)?,
        None
    );

    let mut request = change_set(&name, "strata-tunable-1", String::new());
    request.template = TemplateSource::UsePrevious;
    request.parameters = vec![
        Parameter::value("Visibility", "60"),
        Parameter::use_previous("Delay"),
    ];
    cloud.create_change_set(&request).await.map_err(e)?;
    let described = strata::deploy::wait_for_change_set(
        cloud,
        &name,
        "strata-tunable-1",
        (Duration::from_millis(10), Duration::from_millis(50)),
    )
    .await
    .map_err(e)?;
    assert_eq!(described.status, ChangeSetStatus::Complete, "{described:?}");
    cloud
        .execute_change_set(&name, "strata-tunable-1", "execute-tunable-1")
        .await
        .map_err(e)?;
    let stack = settle(cloud, &name)
        .await?
        .ok_or("the tunable stack vanished")?;
    assert_eq!(stack.status.as_str(), "UPDATE_COMPLETE");
    assert_eq!(parameter(&stack, "Visibility"), Some("60"), "{stack:?}");
    assert_eq!(parameter(&stack, "Delay"), Some("0"), "{stack:?}");
    assert_eq!(
        cloud.get_template(&name).await.map_err(e)?.as_deref(),
        Some(body.as_str())
    );

    cloud
        .delete_stack(&name, "delete-tunable")
        .await
        .map_err(e)?;
    assert_eq!(settle(cloud, &name).await?, None);
    Ok(())
}

/// What drift detection does on each cloud.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detection {
    /// It works (CloudFormation, the double).
    Works,
    /// The endpoint has none (moto 5.2.5 answers an HTML 500 with "The
    /// detect_stack_drift action has not been implemented" in its log).
    Unsupported,
}

/// `DescribeStacks` without a name lists the stack with its tags and
/// outputs, and not once deleted; drift detection completes in sync (or,
/// on moto, every drift call fails as `Unsupported`, never retried).
async fn listing_and_drift(
    cloud: &dyn Cloud,
    prefix: &str,
    detection: Detection,
) -> Result<(), String> {
    let name = format!("{prefix}-listed");
    let e = |e: strata::cloud::CloudError| e.to_string();
    let mut request = create(&name, queue(prefix, 30), "create-listed");
    request
        .tags
        .push(("strata:environment".into(), "contract".into()));
    cloud.create_stack(&request).await.map_err(e)?;
    settle(cloud, &name).await?.ok_or("the stack vanished")?;
    let listed = cloud.list_stacks().await.map_err(e)?;
    let stack = listed
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| format!("{name} is not listed: {listed:?}"))?;
    assert!(
        stack
            .tags
            .contains(&("strata:environment".into(), "contract".into())),
        "{stack:?}"
    );
    assert!(
        stack.outputs.iter().any(|o| o.key == "QueueUrl"),
        "{stack:?}"
    );

    match detection {
        Detection::Works => {
            let id = cloud.detect_drift(&name).await.map_err(e)?;
            let mut polls = 0;
            let found = loop {
                let found = cloud.drift_detection(&id).await.map_err(e)?;
                if found.status != DetectionStatus::InProgress || polls > 100 {
                    break found;
                }
                polls += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            assert_eq!(found.status, DetectionStatus::Complete, "{found:?}");
            assert_eq!(found.stack_drift, StackDriftStatus::InSync, "{found:?}");
            assert_eq!(found.drifted_resources, Some(0));
            assert_eq!(cloud.resource_drifts(&name).await.map_err(e)?, Vec::new());
        }
        Detection::Unsupported => {
            let started = std::time::Instant::now();
            let refused = cloud
                .detect_drift(&name)
                .await
                .expect_err("moto has no drift detection");
            assert_eq!(refused.kind, ErrorKind::Unsupported, "{refused}");
            assert!(!refused.kind.is_retryable());
            let refused = cloud
                .resource_drifts(&name)
                .await
                .expect_err("moto has no drift detection");
            assert_eq!(refused.kind, ErrorKind::Unsupported, "{refused}");
            let refused = cloud
                .drift_detection("made-up")
                .await
                .expect_err("moto has no drift detection");
            assert_eq!(refused.kind, ErrorKind::Unsupported, "{refused}");
            assert!(started.elapsed() < Duration::from_secs(5), "retried?");
        }
    }

    cloud
        .delete_stack(&name, "delete-listed")
        .await
        .map_err(e)?;
    assert_eq!(settle(cloud, &name).await?, None);
    let listed = cloud.list_stacks().await.map_err(e)?;
    assert!(listed.iter().all(|s| s.name != name), "{listed:?}");
    Ok(())
}

#[tokio::test]
async fn moto_lists_stacks_and_has_no_drift_detection() -> Result<(), String> {
    let moto = Moto::start()?;
    let cloud = CloudFormation::at_endpoint("us-east-1", &moto.url(), "testing", "testing").await;
    let retrying = strata::cloud::Retrying::new(cloud, strata::cloud::RetryPolicy::default());
    listing_and_drift(&retrying, "drift", Detection::Unsupported).await
}

#[tokio::test]
async fn the_scripted_double_lists_stacks_and_detects_drift() -> Result<(), String> {
    let cloud = ScriptedCloud::new().with_steps(3);
    listing_and_drift(&cloud, "drift", Detection::Works).await
}

#[tokio::test]
async fn the_scripted_double_without_drift_detection_answers_as_moto() -> Result<(), String> {
    let cloud = ScriptedCloud::new().without_drift_detection();
    listing_and_drift(&cloud, "drift", Detection::Unsupported).await
}

/// Scripted resource drift shows after a detection that is first in
/// progress; cleared, the stack is in sync again.
#[tokio::test]
async fn the_scripted_double_reports_scripted_resource_drift() -> Result<(), String> {
    let cloud = ScriptedCloud::new();
    let e = |e: strata::cloud::CloudError| e.to_string();
    cloud
        .create_stack(&create("drifty", queue("drifty", 30), "create-drifty"))
        .await
        .map_err(e)?;
    settle(&cloud, "drifty").await?;
    let deleted = ResourceDrift {
        logical_id: "Queue".into(),
        physical_id: "Queue-1".into(),
        resource_type: "AWS::SQS::Queue".into(),
        status: ResourceDriftStatus::Deleted,
        differences: Vec::new(),
    };
    cloud.set_resource_drift("drifty", vec![deleted.clone()]);
    let id = cloud.detect_drift("drifty").await.map_err(e)?;
    let first = cloud.drift_detection(&id).await.map_err(e)?;
    assert_eq!(first.status, DetectionStatus::InProgress);
    let mut found = first;
    while found.status == DetectionStatus::InProgress {
        found = cloud.drift_detection(&id).await.map_err(e)?;
    }
    assert_eq!(found.stack_drift, StackDriftStatus::Drifted);
    assert_eq!(found.drifted_resources, Some(1));
    assert_eq!(
        cloud.resource_drifts("drifty").await.map_err(e)?,
        vec![deleted]
    );

    cloud.set_resource_drift("drifty", Vec::new());
    let id = cloud.detect_drift("drifty").await.map_err(e)?;
    let mut found = cloud.drift_detection(&id).await.map_err(e)?;
    while found.status == DetectionStatus::InProgress {
        found = cloud.drift_detection(&id).await.map_err(e)?;
    }
    assert_eq!(found.stack_drift, StackDriftStatus::InSync);
    assert_eq!(
        cloud.resource_drifts("drifty").await.map_err(e)?,
        Vec::new()
    );

    // Out of band: the template and a parameter change without a deploy.
    cloud
        .edit_out_of_band("drifty", Some(&queue("drifty", 99)), &[])
        .map_err(e)?;
    assert_eq!(
        cloud.get_template("drifty").await.map_err(e)?,
        Some(queue("drifty", 99))
    );
    Ok(())
}
