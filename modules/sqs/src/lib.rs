//! The `sqs` stack type: work queues, each with a dead-letter queue.
//!
//! - [`config`] validates the stack's table: queue names (each becomes a
//!   physical name, logical ids and export names) and SQS's limits.
//! - This file adds the resources: a customer-managed KMS key and its alias,
//!   per queue a dead-letter queue and the queue redriving to it, and one
//!   queue policy refusing plain HTTP on all of them.
//!
//! The compute stack imports the queue URLs and ARNs (see [`exports`]). Its
//! tasks need only SQS permissions on the queues: the key policy lets any
//! principal of the account use the key through SQS.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, DeletionPolicy, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{Queue, Settings};

const KEY: &str = "QueueKey";
const POLICY: &str = "QueuePolicy";
/// How long SQS reuses a data key before asking KMS again: SQS's default,
/// 5 minutes, balancing KMS calls against key exposure.
const DATA_KEY_REUSE_SECONDS: u32 = 300;

/// The export names of a config's queues, in order.
pub fn exports(queues: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = queues
        .iter()
        .flat_map(|queue| {
            [
                format!("{queue}-queue-url"),
                format!("{queue}-queue-arn"),
                format!("{queue}-dlq-arn"),
            ]
        })
        .collect();
    names.push("kms-key-arn".into());
    names
}

/// Render an sqs stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let settings = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: {} {}queue(s) with dead-letter queues, KMS-encrypted",
            ctx.name(&ctx.stack),
            settings.queues.len(),
            if settings.fifo { "FIFO " } else { "" }
        ),
    );

    add_key(&mut template, ctx);
    let retention = aws::retain_if(ctx.is_production());
    for queue in &settings.queues {
        add_queue(&mut template, ctx, &settings, queue, retention);
    }
    add_policy(&mut template, &settings);

    for queue in &settings.queues {
        let key = &queue.key;
        template.export(
            &format!("{key}-queue-url"),
            cfn::reference(&queue.logical_id),
            &format!("URL of the {key} queue"),
        );
        template.export(
            &format!("{key}-queue-arn"),
            cfn::get_att(&queue.logical_id, "Arn"),
            &format!("ARN of the {key} queue"),
        );
        template.export(
            &format!("{key}-dlq-arn"),
            cfn::get_att(&queue.dlq_logical_id(), "Arn"),
            &format!("ARN of the {key} queue's dead-letter queue"),
        );
    }
    template.export(
        "kms-key-arn",
        cfn::get_att(KEY, "Arn"),
        "ARN of the KMS key encrypting the queues",
    );
    Ok(template)
}

/// The key outlives the stack: messages of retained queues (production)
/// are unreadable without it.
fn add_key(template: &mut Template, ctx: &Context) {
    let alias = ctx.name(&ctx.stack);
    let statements = vec![
        // Whoever may send to or receive from a queue (an SQS permission)
        // may use the key for it, and only through SQS, as with SQS's
        // AWS-managed key.
        aws::key_use_via_service(
            "AccountUsesTheKeyThroughSqs",
            &["kms:GenerateDataKey*", "kms:Decrypt", "kms:DescribeKey"],
            "sqs",
        ),
        // SQS itself, for this account's queues only.
        json!({
            "Sid": "SqsUsesTheKey",
            "Effect": "Allow",
            "Principal": { "Service": "sqs.amazonaws.com" },
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:SourceAccount": cfn::account_id() } },
        }),
    ];
    aws::add_kms_key(
        template,
        ctx,
        aws::KmsKey {
            logical_id: KEY,
            alias: &alias,
            description: format!("Encrypts the queues of {alias}"),
            statements,
        },
        DeletionPolicy::Retain,
    );
}

fn add_queue(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    queue: &Queue,
    retention: DeletionPolicy,
) {
    let dlq = queue.dlq_logical_id();
    let mut dead_letter = encrypted_queue(ctx, settings, &queue.dlq_name);
    dead_letter["MessageRetentionPeriod"] = settings.dlq_retention_seconds.into();
    template.resource(
        &dlq,
        Resource::new("AWS::SQS::Queue", dead_letter).retain_as(retention),
    );

    let mut properties = encrypted_queue(ctx, settings, &queue.name);
    properties["MessageRetentionPeriod"] = settings.message_retention_seconds.into();
    properties["VisibilityTimeout"] = settings.visibility_timeout_seconds.into();
    properties["RedrivePolicy"] = json!({
        "deadLetterTargetArn": cfn::get_att(&dlq, "Arn"),
        "maxReceiveCount": settings.max_receive_count,
    });
    template.resource(
        &queue.logical_id,
        Resource::new("AWS::SQS::Queue", properties).retain_as(retention),
    );
}

/// What a queue and its dead-letter queue share: the name's form, FIFO,
/// the key, the tags.
fn encrypted_queue(ctx: &Context, settings: &Settings, name: &str) -> Value {
    let mut properties = json!({
        "QueueName": name,
        "KmsMasterKeyId": cfn::get_att(KEY, "Arn"),
        "KmsDataKeyReusePeriodSeconds": DATA_KEY_REUSE_SECONDS,
        "Tags": ctx.tags(),
    });
    if settings.fifo {
        properties["FifoQueue"] = true.into();
        properties["ContentBasedDeduplication"] = true.into();
    }
    properties
}

/// One policy over every queue and dead-letter queue: requests over plain
/// HTTP are refused. Access itself is granted by IAM policies.
fn add_policy(template: &mut Template, settings: &Settings) {
    let ids: Vec<String> = settings
        .queues
        .iter()
        .flat_map(|queue| [queue.logical_id.clone(), queue.dlq_logical_id()])
        .collect();
    template.resource(
        POLICY,
        Resource::new(
            "AWS::SQS::QueuePolicy",
            json!({
                "Queues": ids.iter().map(|id| cfn::reference(id)).collect::<Vec<_>>(),
                "PolicyDocument": aws::policy_document(vec![aws::deny_insecure_transport(
                    "sqs:*",
                    ids.iter().map(|id| cfn::get_att(id, "Arn")).collect(),
                )]),
            }),
        ),
    );
}

strata_sdk::module! {
    name: "sqs",
    description: "Work queues with dead-letter queues and redrive, encrypted with a rotating KMS key, HTTPS only",
    config: Config,
    render: render,
}
