//! The two roles every task definition uses:
//!
//! - the *execution role*, which ECS assumes to start a task: pull the
//!   image and write logs (AWS's managed policy), and read the injected
//!   secrets (only those, and only through Secrets Manager's use of their
//!   keys);
//! - the *task role*, which the application's code runs as: use the
//!   queues (and their key) and read and write the assets bucket.
//!
//! Both trust only ECS tasks of this account and region, and are unnamed
//! (CloudFormation names them), so the stack needs only `CAPABILITY_IAM`.

use strata_sdk::{Context, Resource, Template, Value, aws, cfn, json};

use crate::wiring::Wiring;

/// Logical id of the execution role.
pub const EXECUTION_ROLE: &str = "TaskExecutionRole";
/// Logical id of the task role.
pub const TASK_ROLE: &str = "TaskRole";

/// Add both roles.
pub fn add(template: &mut Template, ctx: &Context, wiring: &Wiring) {
    let mut execution = json!({
        "Description": format!("Starts the ECS tasks of {}: image pulls, logs, secrets", ctx.name("cluster")),
        "AssumeRolePolicyDocument": trust_policy(),
        "ManagedPolicyArns": [cfn::sub(
            "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        )],
        "Tags": ctx.tags(),
    });
    let statements = execution_statements(wiring);
    if !statements.is_empty() {
        execution["Policies"] = json!([aws::inline_policy("read-injected-secrets", statements)]);
    }
    template.resource(EXECUTION_ROLE, Resource::new("AWS::IAM::Role", execution));

    let mut task = json!({
        "Description": format!("Runs the application code of {}", ctx.name("cluster")),
        "AssumeRolePolicyDocument": trust_policy(),
        "Tags": ctx.tags(),
    });
    let statements = task_statements(wiring);
    if !statements.is_empty() {
        task["Policies"] = json!([aws::inline_policy("application-access", statements)]);
    }
    template.resource(TASK_ROLE, Resource::new("AWS::IAM::Role", task));
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

fn execution_statements(wiring: &Wiring) -> Vec<Value> {
    let mut statements = Vec::new();
    if !wiring.secrets.is_empty() {
        statements.push(json!({
            "Sid": "ReadInjectedSecrets",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": wiring.secrets.values().cloned().collect::<Vec<_>>(),
        }));
    }
    if !wiring.secret_keys.is_empty() {
        statements.push(json!({
            "Sid": "DecryptInjectedSecrets",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": wiring.secret_keys,
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": cfn::sub("secretsmanager.${AWS::Region}.amazonaws.com"),
                },
            },
        }));
    }
    statements
}

fn task_statements(wiring: &Wiring) -> Vec<Value> {
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
    statements
}
