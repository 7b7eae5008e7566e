//! An optional CloudTrail trail (seed 002): every region's management
//! events, log files validated by digest and encrypted with the trail's own
//! rotating KMS key, delivered to a bucket of their own
//! (`{project}-{environment}-cloudtrail-<account>`) that blocks public
//! access, takes only TLS, lets only this trail write, and expires logs
//! after `cloudtrail_retention_days`. The key and the bucket are retained
//! when the stack goes: they are the audit record. By default the trail
//! also sends its events to a CloudWatch Logs group (through a role that may
//! only write there), and optionally records S3 data events.

use strata_sdk::{Context, DeletionPolicy, Resource, Template, Value, aws, cfn, json};

use crate::config::{Settings, cloudtrail_bucket_prefix};

/// Logical id of the trail's key.
pub const KEY: &str = "TrailKey";
/// Logical id of the trail's bucket.
pub const BUCKET: &str = "TrailBucket";
/// Logical id of the trail.
pub const TRAIL: &str = "Trail";
/// Logical id of the trail's CloudWatch Logs group.
pub const LOG_GROUP: &str = "TrailLogGroup";
const LOG_ROLE: &str = "TrailLogRole";

/// Add the key, the bucket, its policy and the trail.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    let trail_name = ctx.name("cloudtrail");
    let trail_arn = cfn::sub(&format!(
        "arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{trail_name}"
    ));
    add_key(template, ctx, &trail_name, &trail_arn);
    add_bucket(template, ctx, settings, &trail_arn);
    let mut properties = json!({
        "TrailName": trail_name,
        "S3BucketName": cfn::reference(BUCKET),
        "IsLogging": true,
        "IsMultiRegionTrail": true,
        "IncludeGlobalServiceEvents": true,
        "EnableLogFileValidation": true,
        "KMSKeyId": cfn::get_att(KEY, "Arn"),
        "Tags": ctx.tags(),
    });
    if let Some(days) = settings.cloudtrail_log_retention_days {
        add_log_group(template, ctx, &trail_name, days);
        properties["CloudWatchLogsLogGroupArn"] = cfn::get_att(LOG_GROUP, "Arn");
        properties["CloudWatchLogsRoleArn"] = cfn::get_att(LOG_ROLE, "Arn");
    }
    if settings.cloudtrail_s3_data_events {
        properties["EventSelectors"] = json!([{
            "ReadWriteType": "All",
            "IncludeManagementEvents": true,
            "DataResources": [{
                "Type": "AWS::S3::Object",
                "Values": [cfn::sub("arn:${AWS::Partition}:s3")],
            }],
        }]);
    }
    template.resource(
        TRAIL,
        Resource::new("AWS::CloudTrail::Trail", properties)
            // CloudTrail checks that it may write before it creates the trail.
            .depends_on("TrailBucketPolicy"),
    );
}

/// The trail's CloudWatch Logs group (the catalogue's one rule: retained in
/// production, deleted elsewhere) and the role CloudTrail writes it with.
fn add_log_group(template: &mut Template, ctx: &Context, trail_name: &str, days: u32) {
    template.resource(
        LOG_GROUP,
        aws::log_group(
            ctx,
            format!("/aws/cloudtrail/{trail_name}"),
            days,
            ctx.is_production(),
        ),
    );
    template.resource(
        LOG_ROLE,
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "AssumeRolePolicyDocument": aws::assume_role_policy("cloudtrail.amazonaws.com", None),
                "Policies": [aws::inline_policy(
                    "write-trail-log-group",
                    vec![json!({
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": cfn::get_att(LOG_GROUP, "Arn"),
                    })],
                )],
                "Tags": ctx.tags(),
            }),
        ),
    );
}

fn add_key(template: &mut Template, ctx: &Context, trail_name: &str, trail_arn: &Value) {
    let trails_of_this_account =
        cfn::sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*");
    let statements = vec![
        json!({
            "Sid": "CloudTrailEncryptsLogs",
            "Effect": "Allow",
            "Principal": { "Service": "cloudtrail.amazonaws.com" },
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
            "Condition": {
                "StringEquals": { "aws:SourceArn": trail_arn },
                "StringLike": { "kms:EncryptionContext:aws:cloudtrail:arn": trails_of_this_account },
            },
        }),
        json!({
            "Sid": "CloudTrailDescribesTheKey",
            "Effect": "Allow",
            "Principal": { "Service": "cloudtrail.amazonaws.com" },
            "Action": "kms:DescribeKey",
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:SourceArn": trail_arn } },
        }),
        json!({
            "Sid": "AccountReadsLogs",
            "Effect": "Allow",
            "Principal": { "AWS": "*" },
            "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
            "Resource": "*",
            "Condition": {
                "StringEquals": { "kms:CallerAccount": cfn::account_id() },
                "StringLike": { "kms:EncryptionContext:aws:cloudtrail:arn": trails_of_this_account },
            },
        }),
    ];
    aws::add_kms_key(
        template,
        ctx,
        aws::KmsKey {
            logical_id: KEY,
            alias: trail_name,
            description: format!("Encrypts the log files of the CloudTrail trail {trail_name}"),
            statements,
        },
        DeletionPolicy::Retain,
    );
}

fn add_bucket(template: &mut Template, ctx: &Context, settings: &Settings, trail_arn: &Value) {
    let bucket_arn = cfn::get_att(BUCKET, "Arn");
    let objects = cfn::join("", [bucket_arn.clone(), json!("/*")]);
    let log_files = cfn::join(
        "",
        [bucket_arn.clone(), cfn::sub("/AWSLogs/${AWS::AccountId}/*")],
    );
    template.resource(
        BUCKET,
        aws::secure_bucket(
            ctx,
            aws::SecureBucket {
                name: cfn::sub(&format!(
                    "{}-${{AWS::AccountId}}",
                    cloudtrail_bucket_prefix(ctx)
                )),
                // Log files carry the trail's KMS encryption; digests and
                // anything else get S3's. (A KMS default here would need
                // CloudTrail's digest writes to pass the key's encryption
                // context condition, which they do not.)
                encryption: aws::sse_s3(),
                ownership: "BucketOwnerEnforced",
                versioned: true,
                lifecycle_rule: json!({
                    "Id": "expire-trail-logs",
                    "Status": "Enabled",
                    "ExpirationInDays": settings.cloudtrail_retention_days,
                    "NoncurrentVersionExpiration": { "NoncurrentDays": 30 },
                    "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 },
                }),
            },
        ),
    );
    template.resource(
        "TrailBucketPolicy",
        aws::bucket_policy(
            BUCKET,
            vec![
                aws::deny_insecure_transport("s3:*", json!([bucket_arn, objects])),
                json!({
                    "Sid": "CloudTrailChecksTheAcl",
                    "Effect": "Allow",
                    "Principal": { "Service": "cloudtrail.amazonaws.com" },
                    "Action": "s3:GetBucketAcl",
                    "Resource": cfn::get_att(BUCKET, "Arn"),
                    "Condition": { "StringEquals": { "aws:SourceArn": trail_arn } },
                }),
                json!({
                    "Sid": "CloudTrailWritesLogs",
                    "Effect": "Allow",
                    "Principal": { "Service": "cloudtrail.amazonaws.com" },
                    "Action": "s3:PutObject",
                    "Resource": log_files,
                    "Condition": {
                        "StringEquals": {
                            "aws:SourceArn": trail_arn,
                            "s3:x-amz-acl": "bucket-owner-full-control",
                        },
                    },
                }),
            ],
        ),
    );
}
