//! The function, its log group and its role.
//!
//! The role may write the function's own log streams, put objects under
//! `<prefix>/` in the logs bucket, and send X-Ray traces (`TracingConfig`
//! is active), and send a batch that exhausted its retries to the failure
//! queue; nothing else. The function's code is [`HANDLER`], inline.
//!
//! CloudWatch Logs invokes the function asynchronously: Lambda retries a
//! failed batch twice, then (`AWS::Lambda::EventInvokeConfig`) sends it to
//! the failure queue instead of dropping it. Alarms on the function's
//! errors and on the failure queue notify the monitoring stack's critical
//! topic.

use strata_sdk::{Context, Resource, Template, Value, aws, cfn, json};

use crate::config::Settings;

/// The Python handler, inlined as `index.py` (`Code.ZipFile`).
pub const HANDLER: &str = include_str!("handler.py");
/// Logical id of the function.
pub const FUNCTION: &str = "Function";
/// Logical id of the function's log group.
pub const LOG_GROUP: &str = "FunctionLogGroup";
/// Logical id of the function's role.
pub const ROLE: &str = "FunctionRole";
/// Logical id of the queue failed batches go to.
pub const FAILURE_QUEUE: &str = "FailureQueue";

/// Add the log group, the role and the function.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    let name = ctx.name("log-forwarder");
    let bucket_name = template.import(&settings.s3_stack, "logs-bucket-name");
    let bucket_arn = template.import(&settings.s3_stack, "logs-bucket-arn");

    // Lambda would create the group on first run, without retention; it
    // exists first here. Production keeps it when the stack goes.
    template.resource(
        LOG_GROUP,
        aws::log_group(
            ctx,
            format!("/aws/lambda/{name}"),
            settings.log_retention_days,
            settings.retain_logs,
        ),
    );
    template.resource(
        FAILURE_QUEUE,
        Resource::new(
            "AWS::SQS::Queue",
            json!({
                "QueueName": ctx.name("log-forwarder-failures"),
                "SqsManagedSseEnabled": true,
                // The longest SQS keeps a message: two weeks to replay it.
                "MessageRetentionPeriod": 1_209_600,
                "Tags": ctx.tags(),
            }),
        )
        .retain_as(aws::retain_if(ctx.is_production())),
    );
    template.resource(
        ROLE,
        Resource::new(
            "AWS::IAM::Role",
            role_properties(ctx, settings, &name, bucket_arn),
        ),
    );

    let mut properties = json!({
        "FunctionName": name,
        "Description": format!("Copies the {} services' logs to the logs bucket", ctx.name("compute")),
        "Runtime": "python3.12",
        "Handler": "index.handler",
        "Role": cfn::get_att(ROLE, "Arn"),
        "Code": { "ZipFile": HANDLER },
        "MemorySize": settings.memory_mb,
        "Timeout": settings.timeout_seconds,
        "Environment": {
            "Variables": { "BUCKET": bucket_name, "PREFIX": settings.prefix },
        },
        "TracingConfig": { "Mode": "Active" },
        "Tags": ctx.tags(),
    });
    if let Some(reserved) = settings.reserved_concurrency {
        properties["ReservedConcurrentExecutions"] = json!(reserved);
    }
    template.resource(
        FUNCTION,
        Resource::new("AWS::Lambda::Function", properties).depends_on(LOG_GROUP),
    );
    template.resource(
        "FunctionInvokeConfig",
        Resource::new(
            "AWS::Lambda::EventInvokeConfig",
            json!({
                "FunctionName": cfn::reference(FUNCTION),
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "DestinationConfig": {
                    "OnFailure": { "Destination": cfn::get_att(FAILURE_QUEUE, "Arn") },
                },
            }),
        ),
    );
    if let Some(monitoring) = &settings.monitoring_stack {
        add_alarms(template, ctx, monitoring);
    }
}

/// The function's errors, and a batch in the failure queue, page the
/// critical topic.
fn add_alarms(template: &mut Template, ctx: &Context, monitoring: &str) {
    let topic = template.import(monitoring, "critical-topic-arn");
    let alarms = [
        (
            "ErrorsAlarm",
            "log-forwarder-errors",
            "The log forwarding function failed a batch (it is retried, then queued)",
            json!({
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [{ "Name": "FunctionName", "Value": cfn::reference(FUNCTION) }],
                "Statistic": "Sum",
            }),
        ),
        (
            "FailureQueueAlarm",
            "log-forwarder-failures",
            "A batch of logs exhausted its retries and waits in the failure queue",
            json!({
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{ "Name": "QueueName", "Value": cfn::get_att(FAILURE_QUEUE, "QueueName") }],
                "Statistic": "Maximum",
            }),
        ),
    ];
    for (id, suffix, description, metric) in alarms {
        let mut properties = json!({
            "AlarmName": ctx.name(suffix),
            "AlarmDescription": format!("{description} (critical)"),
            "ActionsEnabled": true,
            "AlarmActions": [topic.clone()],
            "OKActions": [topic.clone()],
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "Period": 300,
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
            "Tags": ctx.tags(),
        });
        if let (Some(target), Value::Object(metric)) = (properties.as_object_mut(), metric) {
            target.extend(metric);
        }
        template.resource(id, Resource::new("AWS::CloudWatch::Alarm", properties));
    }
}

fn role_properties(ctx: &Context, settings: &Settings, name: &str, bucket_arn: Value) -> Value {
    json!({
        "Description": format!("Runs {name}: its own logs, writes under {}/ in the logs bucket", settings.prefix),
        "AssumeRolePolicyDocument": aws::assume_role_policy("lambda.amazonaws.com", None),
        "Policies": [aws::inline_policy("forward-logs", vec![
            json!({
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                // The group's `Arn` ends in `:*`, which covers its streams.
                "Resource": cfn::get_att(LOG_GROUP, "Arn"),
            }),
            json!({
                "Sid": "WriteForwardedLogs",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": cfn::join("", [bucket_arn, json!(format!("/{}/*", settings.prefix))]),
            }),
            json!({
                "Sid": "QueueFailedBatches",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": cfn::get_att(FAILURE_QUEUE, "Arn"),
            }),
            json!({
                // X-Ray has no resource-level permissions.
                "Sid": "SendTraces",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }),
        ])],
        "Tags": ctx.tags(),
    })
}
