//! `strata plan --cloud`: ask CloudFormation what it would do, and merge
//! its answers into the git plan.
//!
//! For every changed stack that exists, a change set named after the head
//! commit and the template's hash (the same name `strata apply` looks for)
//! gives each resource's `Action`, `Replacement` and `Scope`; CloudFormation's
//! `Replacement` overrides the plan's own table. A stack that does not exist
//! yet plans as all-Add from its template. A stack importing exports that do
//! not exist yet keeps the git plan and says so. Older Strata change sets of
//! the stack are deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::cloud::{
    ChangeAction, Cloud, CloudError, CreateChangeSet, ErrorKind, Replacement,
    reason_means_no_changes,
};
use crate::host::ResourceTraits;
use crate::plan::{
    Action, CloudPreview, CloudResourceChange, EnvironmentPlan, ResourceChange, risk,
};
use crate::render::RenderedEnvironment;

use super::{change_set_name, wait_for_change_set};

/// Ask CloudFormation about every changed stack of `plan` (rendered at the
/// head as `rendered`), and merge the answers in. `commit` is the full SHA
/// of the head (`None` for an uncommitted working tree): the change sets
/// carry the `strata:commit` tag an apply would, since an apply of a
/// reviewed plan executes them as they are.
pub async fn preview(
    cloud: &dyn Cloud,
    plan: &mut EnvironmentPlan,
    rendered: &RenderedEnvironment,
    change_set_prefix: &str,
    commit: Option<&str>,
    poll: (Duration, Duration),
) -> Result<(), CloudError> {
    let exports: BTreeSet<String> = cloud.exports().await?.into_iter().map(|e| e.name).collect();
    for change in &mut plan.stacks {
        if change.action == Action::Remove {
            continue;
        }
        let Some(stack) = rendered.stacks.get(change.name.as_str()) else {
            continue;
        };
        let stack_name = rendered.stack_name(&change.name);
        let existing = cloud.describe_stack(&stack_name).await?;
        let Some(existing) = existing else {
            // Not deployed yet: everything is new, whatever git says.
            if change.action != Action::Add {
                change.action = Action::Add;
                change.resources = all_added(&stack.template(), &stack.resource_traits);
            }
            change.cloud = Some(CloudPreview::NewStack);
            continue;
        };
        if change.action == Action::None && change.affected_by.is_empty() {
            continue;
        }
        let missing: Vec<String> = stack
            .imports
            .iter()
            .filter(|i| !exports.contains(&i.name))
            .map(|i| i.name.clone())
            .collect();
        if !missing.is_empty() {
            change.cloud = Some(CloudPreview::MissingImports { exports: missing });
            continue;
        }
        if existing.status.is_in_progress() {
            change.cloud = Some(CloudPreview::Unavailable {
                reason: format!(
                    "{stack_name} is {}; plan again once it settles",
                    existing.status
                ),
            });
            continue;
        }
        let name = change_set_name(change_set_prefix, &stack.sha256);
        let change_set = match cloud.describe_change_set(&stack_name, &name).await? {
            Some(found) => found,
            None => {
                let request = CreateChangeSet {
                    stack: stack_name.clone(),
                    change_set: name.clone(),
                    template: crate::cloud::TemplateSource::Body(stack.compact().to_owned()),
                    parameters: Vec::new(),
                    tags: super::stack_tags(
                        &rendered
                            .environment
                            .tags
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect::<Vec<_>>(),
                        &rendered.environment.name,
                        &change.name,
                        commit,
                    ),
                    capabilities: crate::cloud::capabilities_for(&stack.template()),
                    description: format!("strata plan of `{}`", change.name),
                    client_token: crate::cloud::client_token(&[
                        "change-set",
                        &stack_name,
                        &name,
                        &format!("{:016x}", fastrand::u64(..)),
                    ]),
                };
                match cloud.create_change_set(&request).await {
                    Ok(()) => wait_for_change_set(cloud, &stack_name, &name, poll).await?,
                    Err(e)
                        if e.kind == ErrorKind::Validation
                            && reason_means_no_changes(&e.message) =>
                    {
                        change.cloud = Some(CloudPreview::NoChanges);
                        continue;
                    }
                    Err(e) => {
                        change.cloud = Some(CloudPreview::Unavailable {
                            reason: e.to_string(),
                        });
                        continue;
                    }
                }
            }
        };
        // Older change sets of ours would only confuse a later apply.
        for summary in cloud
            .list_change_sets(&stack_name)
            .await
            .unwrap_or_default()
        {
            if summary.name != name && summary.name.starts_with("strata-") {
                let _ = cloud.delete_change_set(&stack_name, &summary.name).await;
            }
        }
        if change_set.has_no_changes() {
            let _ = cloud.delete_change_set(&stack_name, &name).await;
            change.cloud = Some(CloudPreview::NoChanges);
            continue;
        }
        if change_set.status == crate::cloud::ChangeSetStatus::Failed {
            change.cloud = Some(CloudPreview::Unavailable {
                reason: change_set
                    .status_reason
                    .unwrap_or_else(|| "the change set failed".into()),
            });
            continue;
        }
        for resource in &change_set.changes {
            merge(&mut change.resources, resource, &stack.resource_traits);
        }
        if change.action == Action::None {
            change.action = Action::Modify;
        }
        change.cloud = Some(CloudPreview::ChangeSet { change_set: name });
    }
    plan.refresh_risks();
    Ok(())
}

fn all_added(
    template: &serde_json::Value,
    declared: &BTreeMap<String, ResourceTraits>,
) -> Vec<ResourceChange> {
    let Some(resources) = template.get("Resources").and_then(|r| r.as_object()) else {
        return Vec::new();
    };
    resources
        .iter()
        .map(|(id, resource)| {
            let kind = resource
                .get("Type")
                .and_then(|t| t.as_str())
                .unwrap_or_default()
                .to_owned();
            ResourceChange {
                logical_id: id.clone(),
                stateful: risk::is_stateful_declared(&kind, declared.get(id)),
                kind,
                action: Action::Add,
                replacement: false,
                properties: Vec::new(),
                kept_by: None,
                cloud: None,
            }
        })
        .collect()
}

/// Fold one change-set change into the plan's resources. `declared` is
/// what the stack's module declared about its resources, for resources the
/// plan did not have yet.
fn merge(
    resources: &mut Vec<ResourceChange>,
    change: &crate::cloud::ResourceChange,
    declared: &BTreeMap<String, ResourceTraits>,
) {
    let cloud = CloudResourceChange {
        action: format!("{:?}", change.action),
        replacement: change.replacement.map(|r| format!("{r:?}")),
        scope: change.scope.clone(),
    };
    let replaced = change
        .replacement
        .map(|r| matches!(r, Replacement::True | Replacement::Conditional));
    match resources
        .iter_mut()
        .find(|r| r.logical_id == change.logical_id)
    {
        Some(resource) => {
            if let Some(replaced) = replaced {
                resource.replacement = replaced;
            }
            resource.cloud = Some(cloud);
        }
        None => resources.push(ResourceChange {
            logical_id: change.logical_id.clone(),
            kind: change.resource_type.clone(),
            action: match change.action {
                ChangeAction::Add | ChangeAction::Import => Action::Add,
                ChangeAction::Remove => Action::Remove,
                ChangeAction::Modify | ChangeAction::Dynamic => Action::Modify,
            },
            replacement: replaced.unwrap_or(false),
            stateful: risk::is_stateful_declared(
                &change.resource_type,
                declared.get(&change.logical_id),
            ),
            properties: Vec::new(),
            kept_by: None,
            cloud: Some(cloud),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::ResourceChange as CloudChange;

    fn git_modify(id: &str, kind: &str) -> ResourceChange {
        ResourceChange {
            logical_id: id.into(),
            kind: kind.into(),
            action: Action::Modify,
            replacement: false,
            stateful: risk::is_stateful(kind),
            properties: Vec::new(),
            kept_by: None,
            cloud: None,
        }
    }

    fn cloud_change(id: &str, kind: &str, replacement: Option<Replacement>) -> CloudChange {
        CloudChange {
            action: ChangeAction::Modify,
            logical_id: id.into(),
            physical_id: Some(format!("{id}-1234")),
            resource_type: kind.into(),
            replacement,
            scope: vec!["Properties".into()],
        }
    }

    #[test]
    fn cloudformations_replacement_true_overrides_the_table() {
        let mut resources = vec![git_modify("DBInstance", "AWS::RDS::DBInstance")];
        merge(
            &mut resources,
            &cloud_change(
                "DBInstance",
                "AWS::RDS::DBInstance",
                Some(Replacement::True),
            ),
            &BTreeMap::new(),
        );
        assert!(resources[0].replacement);
        assert_eq!(
            resources[0].cloud,
            Some(CloudResourceChange {
                action: "Modify".into(),
                replacement: Some("True".into()),
                scope: vec!["Properties".into()],
            })
        );
    }

    #[test]
    fn moto_without_replacement_keeps_the_tables_answer() {
        let mut resources = vec![git_modify("Bucket", "AWS::S3::Bucket")];
        resources[0].replacement = true;
        merge(
            &mut resources,
            &cloud_change("Bucket", "AWS::S3::Bucket", None),
            &BTreeMap::new(),
        );
        assert!(resources[0].replacement);
    }

    #[test]
    fn a_change_git_did_not_see_is_added() {
        let mut resources = Vec::new();
        merge(
            &mut resources,
            &cloud_change("Queue", "AWS::SQS::Queue", Some(Replacement::Conditional)),
            &BTreeMap::new(),
        );
        assert_eq!(resources.len(), 1);
        assert!(resources[0].replacement && resources[0].stateful);
    }
}
