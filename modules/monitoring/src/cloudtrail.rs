//! An optional CloudTrail trail (seed 002): every region's management
//! events, log files validated by digest and encrypted with the trail's own
//! rotating KMS key, delivered to a bucket of their own
//! (`{project}-{environment}-cloudtrail-<account>`) that blocks public
//! access, takes only TLS, lets only this trail write, and expires logs
//! after `cloudtrail_retention_days`. The key and the bucket are retained
//! when the stack goes: they are the audit record.

use strata_sdk::{Context, DeletionPolicy, Resource, Template, Value, cfn, json};

use crate::config::{Settings, cloudtrail_bucket_prefix};

/// Logical id of the trail's key.
pub const KEY: &str = "TrailKey";
/// Logical id of the trail's bucket.
pub const BUCKET: &str = "TrailBucket";
/// Logical id of the trail.
pub const TRAIL: &str = "Trail";

/// Add the key, the bucket, its policy and the trail.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    let trail_name = ctx.name("cloudtrail");
    let trail_arn = cfn::sub(&format!(
        "arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{trail_name}"
    ));
    add_key(template, ctx, &trail_name, &trail_arn);
    add_bucket(template, ctx, settings, &trail_arn);
    template.resource(
        TRAIL,
        Resource::new(
            "AWS::CloudTrail::Trail",
            json!({
                "TrailName": trail_name,
                "S3BucketName": cfn::reference(BUCKET),
                "IsLogging": true,
                "IsMultiRegionTrail": true,
                "IncludeGlobalServiceEvents": true,
                "EnableLogFileValidation": true,
                "KMSKeyId": cfn::get_att(KEY, "Arn"),
                "Tags": ctx.tags(),
            }),
        )
        // CloudTrail checks that it may write before it creates the trail.
        .depends_on("TrailBucketPolicy"),
    );
}

fn add_key(template: &mut Template, ctx: &Context, trail_name: &str, trail_arn: &Value) {
    let trails_of_this_account =
        cfn::sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*");
    template.resource(
        KEY,
        Resource::new(
            "AWS::KMS::Key",
            json!({
                "Description": format!("Encrypts the log files of the CloudTrail trail {trail_name}"),
                "EnableKeyRotation": true,
                "PendingWindowInDays": 30,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministersTheKey",
                            "Effect": "Allow",
                            "Principal": { "AWS": cfn::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "CloudTrailEncryptsLogs",
                            "Effect": "Allow",
                            "Principal": { "Service": "cloudtrail.amazonaws.com" },
                            "Action": "kms:GenerateDataKey*",
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": { "aws:SourceArn": trail_arn },
                                "StringLike": { "kms:EncryptionContext:aws:cloudtrail:arn": trails_of_this_account },
                            },
                        },
                        {
                            "Sid": "CloudTrailDescribesTheKey",
                            "Effect": "Allow",
                            "Principal": { "Service": "cloudtrail.amazonaws.com" },
                            "Action": "kms:DescribeKey",
                            "Resource": "*",
                            "Condition": { "StringEquals": { "aws:SourceArn": trail_arn } },
                        },
                        {
                            "Sid": "AccountReadsLogs",
                            "Effect": "Allow",
                            "Principal": { "AWS": "*" },
                            "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
                            "Resource": "*",
                            "Condition": {
                                "StringEquals": { "kms:CallerAccount": cfn::account_id() },
                                "StringLike": { "kms:EncryptionContext:aws:cloudtrail:arn": trails_of_this_account },
                            },
                        },
                    ],
                },
                "Tags": ctx.tags_named(trail_name),
            }),
        )
        .retain_as(DeletionPolicy::Retain),
    );
    template.resource(
        "TrailKeyAlias",
        Resource::new(
            "AWS::KMS::Alias",
            json!({
                "AliasName": format!("alias/{trail_name}"),
                "TargetKeyId": cfn::reference(KEY),
            }),
        ),
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
        Resource::new(
            "AWS::S3::Bucket",
            json!({
                "BucketName": cfn::sub(&format!("{}-${{AWS::AccountId}}", cloudtrail_bucket_prefix(ctx))),
                // Log files carry the trail's KMS encryption; digests and
                // anything else get S3's. (A KMS default here would need
                // CloudTrail's digest writes to pass the key's encryption
                // context condition, which they do not.)
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{
                        "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" },
                    }],
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true,
                },
                "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
                "VersioningConfiguration": { "Status": "Enabled" },
                "LifecycleConfiguration": {
                    "Rules": [{
                        "Id": "expire-trail-logs",
                        "Status": "Enabled",
                        "ExpirationInDays": settings.cloudtrail_retention_days,
                        "NoncurrentVersionExpiration": { "NoncurrentDays": 30 },
                        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 },
                    }],
                },
                "Tags": ctx.tags(),
            }),
        )
        .retain_as(DeletionPolicy::Retain),
    );
    template.resource(
        "TrailBucketPolicy",
        Resource::new(
            "AWS::S3::BucketPolicy",
            json!({
                "Bucket": cfn::reference(BUCKET),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [bucket_arn, objects],
                            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                        },
                        {
                            "Sid": "CloudTrailChecksTheAcl",
                            "Effect": "Allow",
                            "Principal": { "Service": "cloudtrail.amazonaws.com" },
                            "Action": "s3:GetBucketAcl",
                            "Resource": cfn::get_att(BUCKET, "Arn"),
                            "Condition": { "StringEquals": { "aws:SourceArn": trail_arn } },
                        },
                        {
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
                        },
                    ],
                },
            }),
        ),
    );
}
