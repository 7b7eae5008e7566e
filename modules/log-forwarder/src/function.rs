//! The function, its log group and its role.
//!
//! The role may write the function's own log streams, put objects under
//! `<prefix>/` in the logs bucket, and send X-Ray traces (`TracingConfig`
//! is active); nothing else. The function's code is [`HANDLER`], inline.

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
