//! The private bucket the site is uploaded to, and its policy: only this
//! stack's distribution may read it, and only over TLS.

use strata_sdk::{Context, Template, aws, cfn, json};

use crate::config::Settings;
use crate::distribution::DISTRIBUTION;

/// Logical id of the bucket.
pub const BUCKET: &str = "Bucket";

/// Add the bucket. Retained always: it holds the site's versions, and a
/// bucket with objects cannot be deleted by CloudFormation anyway.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    template.resource(
        BUCKET,
        aws::secure_bucket(
            ctx,
            aws::SecureBucket {
                // The account id makes the name unique across accounts
                // (bucket names are global).
                name: cfn::sub(&format!("{}-${{AWS::AccountId}}", ctx.name("frontend"))),
                // SSE-S3: CloudFront's origin access control reads it
                // without a key policy (SSE-KMS would need one naming the
                // distribution).
                encryption: aws::sse_s3(),
                ownership: "BucketOwnerEnforced",
                versioned: true,
                lifecycle_rule: json!({
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
                }),
            },
        ),
    );
}

/// Add the bucket policy: CloudFront reads objects on behalf of this
/// distribution only (`AWS:SourceArn`), and nobody reaches the bucket
/// without TLS.
pub fn add_policy(template: &mut Template) {
    let objects = cfn::sub(&format!("arn:${{AWS::Partition}}:s3:::${{{BUCKET}}}/*"));
    template.resource(
        "BucketPolicy",
        aws::bucket_policy(
            BUCKET,
            vec![
                json!({
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
                }),
                aws::deny_insecure_transport(
                    "s3:*",
                    json!([cfn::get_att(BUCKET, "Arn"), objects]),
                ),
            ],
        ),
    );
}
