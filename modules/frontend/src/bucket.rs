//! The private bucket the site is uploaded to, and its policy: only this
//! stack's distribution may read it, and only over TLS.

use strata_sdk::{Context, DeletionPolicy, Resource, Template, cfn, json};

use crate::config::Settings;
use crate::distribution::DISTRIBUTION;

/// Logical id of the bucket.
pub const BUCKET: &str = "Bucket";

/// Add the bucket. Retained always: it holds the site's versions, and a
/// bucket with objects cannot be deleted by CloudFormation anyway.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    template.resource(
        BUCKET,
        Resource::new(
            "AWS::S3::Bucket",
            json!({
                // The account id makes the name unique across accounts
                // (bucket names are global).
                "BucketName": cfn::sub(&format!("{}-${{AWS::AccountId}}", ctx.name("frontend"))),
                // SSE-S3: CloudFront's origin access control reads it without
                // a key policy (SSE-KMS would need one naming the
                // distribution).
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
                        "Id": "intelligent-tiering-and-old-versions",
                        "Status": "Enabled",
                        "Transitions": [{
                            "StorageClass": "INTELLIGENT_TIERING",
                            "TransitionInDays": settings.intelligent_tiering_days,
                        }],
                        "NoncurrentVersionExpiration": {
                            "NoncurrentDays": settings.noncurrent_version_expiration_days,
                        },
                        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 },
                    }],
                },
                "Tags": ctx.tags(),
            }),
        )
        .retain_as(DeletionPolicy::Retain),
    );
}

/// Add the bucket policy: CloudFront reads objects on behalf of this
/// distribution only (`AWS:SourceArn`), and nobody reaches the bucket
/// without TLS.
pub fn add_policy(template: &mut Template) {
    let objects = cfn::sub(&format!("arn:${{AWS::Partition}}:s3:::${{{BUCKET}}}/*"));
    template.resource(
        "BucketPolicy",
        Resource::new(
            "AWS::S3::BucketPolicy",
            json!({
                "Bucket": cfn::reference(BUCKET),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CloudFrontReadsObjects",
                            "Effect": "Allow",
                            "Principal": { "Service": "cloudfront.amazonaws.com" },
                            "Action": "s3:GetObject",
                            "Resource": objects.clone(),
                            "Condition": {
                                "StringEquals": {
                                    "AWS:SourceArn": cfn::sub(&format!(
                                        "arn:${{AWS::Partition}}:cloudfront::${{AWS::AccountId}}:distribution/${{{DISTRIBUTION}}}"
                                    )),
                                },
                            },
                        },
                        {
                            "Sid": "DenyInsecureTransport",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [cfn::get_att(BUCKET, "Arn"), objects],
                            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                        },
                    ],
                },
            }),
        ),
    );
}
