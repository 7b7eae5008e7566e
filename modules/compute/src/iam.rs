//! The roles the task definitions use:
//!
//! - one *execution role*, which ECS assumes to start a task: pull the
//!   image and write logs (AWS's managed policy), and read the injected
//!   secrets (only those, and only through Secrets Manager's use of their
//!   keys);
//! - per service a *task role*, which the service's code runs as: only the
//!   queues (and their key), the assets bucket and the EFS file systems
//!   that service is given, so a compromised worker cannot read what only
//!   the api needs.
//!
//! All trust only ECS tasks of this account and region, and are unnamed
//! (CloudFormation names them), so the stack needs only `CAPABILITY_IAM`.

use strata_sdk::{Context, Resource, Template, Value, aws, cfn, json};

use crate::config::Service;
use crate::wiring::Grants;

/// Logical id of the execution role.
pub const EXECUTION_ROLE: &str = "TaskExecutionRole";

/// Logical id of a service's task role: `ApiTaskRole`.
pub fn task_role_id(service: &Service) -> String {
    format!("{}TaskRole", service.id)
}

/// Add the execution role (reading the secrets of every service) and each
/// service's task role; `grants` are the services' in order.
pub fn add(template: &mut Template, ctx: &Context, services: &[(&Service, &Grants)]) {
    let mut execution = json!({
        "Description": format!("Starts the ECS tasks of {}: image pulls, logs, secrets", ctx.name("cluster")),
        "AssumeRolePolicyDocument": trust_policy(),
        "ManagedPolicyArns": [cfn::sub(
            "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        )],
        "Tags": ctx.tags(),
    });
    let statements = execution_statements(services.iter().map(|(_, grants)| *grants));
    if !statements.is_empty() {
        execution["Policies"] = json!([aws::inline_policy("read-injected-secrets", statements)]);
    }
    template.resource(EXECUTION_ROLE, Resource::new("AWS::IAM::Role", execution));

    for (service, grants) in services {
        let mut task = json!({
            "Description": format!("Runs the application code of {}", ctx.name(&service.name)),
            "AssumeRolePolicyDocument": trust_policy(),
            "Tags": ctx.tags(),
        });
        let statements = task_statements(grants);
        if !statements.is_empty() {
            task["Policies"] = json!([aws::inline_policy("application-access", statements)]);
        }
        template.resource(
            &task_role_id(service),
            Resource::new("AWS::IAM::Role", task),
        );
    }
}

/// ECS tasks of this account, started in this region (the source
/// conditions stop a confused deputy).
fn trust_policy() -> Value {
    aws::assume_role_policy(
        "ecs-tasks.amazonaws.com",
        Some(cfn::sub(
            "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:*",
        )),
    )
}

fn execution_statements<'a>(all: impl Iterator<Item = &'a Grants>) -> Vec<Value> {
    let (mut secrets, mut keys, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for grants in all {
        for arn in grants.secrets.values() {
            push_unique(&mut secrets, arn);
        }
        for key in &grants.secret_keys {
            push_unique(&mut keys, key);
        }
        for arn in &grants.other_secrets {
            push_unique(&mut others, arn);
        }
    }
    let mut statements = Vec::new();
    if !secrets.is_empty() {
        statements.push(json!({
            "Sid": "ReadInjectedSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secrets,
        }));
    }
    let via_secrets_manager = cfn::sub("secretsmanager.${AWS::Region}.amazonaws.com");
    if !keys.is_empty() {
        statements.push(json!({
            "Sid": "DecryptInjectedSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": keys,
            "Condition": { "StringEquals": { "kms:ViaService": via_secrets_manager } },
        }));
    }
    if !others.is_empty() {
        // These secrets' keys live in other stacks (or are AWS managed):
        // any key, but only through Secrets Manager and only for them.
        statements.push(json!({
            "Sid": "DecryptOtherInjectedSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": via_secrets_manager,
                    "kms:EncryptionContext:SecretARN": others,
                },
            },
        }));
    }
    statements
}

fn push_unique(values: &mut Vec<Value>, value: &Value) {
    if !values.contains(value) {
        values.push(value.clone());
    }
}

fn task_statements(wiring: &Grants) -> Vec<Value> {
    let mut statements = Vec::new();
    if !wiring.queue_arns.is_empty() {
        statements.push(json!({
            "Sid": "UseQueues",
            "Effect": "Allow",
            "Action": [
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility",
            ],
            "Resource": wiring.queue_arns,
        }));
    }
    if let Some(key) = &wiring.queue_key {
        statements.push(json!({
            "Sid": "UseQueueKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": key,
        }));
    }
    if let Some(bucket) = &wiring.assets_bucket_arn {
        statements.push(json!({
            "Sid": "ListAssets",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
        }));
        statements.push(json!({
            "Sid": "ReadWriteAssets",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": cfn::join("", [bucket.clone(), json!("/*")]),
        }));
    }
    for (i, mount) in wiring.mounts.iter().enumerate() {
        let mut actions = vec!["elasticfilesystem:ClientMount"];
        if mount.writable {
            actions.push("elasticfilesystem:ClientWrite");
        }
        let mut statement = json!({
            "Sid": format!("MountFileSystem{}", i + 1),
            "Effect": "Allow",
            "Action": actions,
            "Resource": mount.file_system_arn,
        });
        if let Some(point) = &mount.access_point_arn {
            statement["Condition"] =
                json!({ "StringEquals": { "elasticfilesystem:AccessPointArn": point } });
        }
        statements.push(statement);
    }
    statements
}
