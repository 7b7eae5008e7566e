//! The `s3` stack type: the logs, assets and backups buckets.
//!
//! - [`config`] validates the stack's table, resolves the retention defaults
//!   that depend on the environment and checks the lifecycle against S3's
//!   rules (STANDARD_IA no earlier than day 30, GLACIER 30 days after that).
//! - This file adds the resources: optionally a customer-managed KMS key,
//!   then per bucket the bucket (private, encrypted, versioned, with its
//!   lifecycle rule) and a bucket policy refusing plain HTTP.
//!
//! The buckets hold data no stack can recreate, so they are always retained
//! when removed from the template or the stack is deleted. Other stacks
//! import their names and ARNs ([`EXPORTS`]): the compute stack writes its
//! load balancer's access logs under `alb/` in the logs bucket, whose policy
//! lets Elastic Load Balancing deliver there (its log delivery service, and
//! in Regions opened before August 2022 also the Region's ELB account).

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, DeletionPolicy, Diagnostics, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{BUCKETS, Settings};

/// The outputs this stack exports, in order. Other modules import them by
/// these names.
pub const EXPORTS: [&str; 6] = [
    "logs-bucket-name",
    "logs-bucket-arn",
    "assets-bucket-name",
    "assets-bucket-arn",
    "backups-bucket-name",
    "backups-bucket-arn",
];

const KEY: &str = "BucketKey";
/// Where load balancers write access logs in the logs bucket (their
/// `access_logs.s3.prefix`).
pub const ALB_LOG_PREFIX: &str = "alb";
/// Key prefix of the S3 server access logs in the logs bucket (then the
/// logged bucket's kind, e.g. `s3-access/assets/`).
pub const S3_ACCESS_LOG_PREFIX: &str = "s3-access";
/// Days before S3 cleans up the parts of an upload that never completed.
const ABORT_INCOMPLETE_UPLOAD_DAYS: u32 = 7;

/// The Elastic Load Balancing account of each Region opened before August
/// 2022. Load balancers there write access logs as this account, not as the
/// `logdelivery.elasticloadbalancing.amazonaws.com` service principal, which
/// only Regions opened since accept.
const ELB_ACCOUNTS: [(&str, &str); 24] = [
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
];

/// The root of `region`'s Elastic Load Balancing account, for Regions older
/// than the log delivery service principal; `None` for newer Regions.
pub fn elb_account_root(region: &str) -> Option<String> {
    let (_, account) = ELB_ACCOUNTS.iter().find(|(name, _)| *name == region)?;
    let partition = if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    Some(format!("arn:{partition}:iam::{account}:root"))
}

/// Render an s3 stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: logs, assets and backups buckets ({} encryption)",
            ctx.name(&ctx.stack),
            if settings.kms { "KMS" } else { "S3-managed" }
        ),
    );
    template.warn_all(warnings);

    if settings.kms {
        add_key(&mut template, ctx);
    }
    for bucket in BUCKETS {
        add_bucket(&mut template, ctx, &settings, bucket);
        add_bucket_policy(&mut template, ctx, bucket);
        let id = bucket_id(bucket);
        template.export(
            &format!("{bucket}-bucket-name"),
            cfn::reference(&id),
            &format!("Name of the {bucket} bucket"),
        );
        template.export(
            &format!("{bucket}-bucket-arn"),
            cfn::get_att(&id, "Arn"),
            &format!("ARN of the {bucket} bucket"),
        );
    }
    Ok(template)
}

/// The logical id of a bucket: `logs` → `LogsBucket`.
pub fn bucket_id(bucket: &str) -> String {
    format!("{}Bucket", cfn::logical_id(bucket))
}

/// The key outlives the stack, like the buckets it encrypts: objects in a
/// retained bucket are unreadable without it. The account administers the
/// key; IAM policies decide who reads and writes the buckets (and so uses
/// the key).
fn add_key(template: &mut Template, ctx: &Context) {
    let alias = ctx.name(&ctx.stack);
    aws::add_kms_key(
        template,
        ctx,
        aws::KmsKey {
            logical_id: KEY,
            alias: &alias,
            description: format!("Encrypts the assets and backups buckets of {alias}"),
            statements: Vec::new(),
        },
        DeletionPolicy::Retain,
    );
}

fn add_bucket(template: &mut Template, ctx: &Context, settings: &Settings, bucket: &str) {
    let is_logs = bucket == "logs";
    // Load balancers deliver access logs only to buckets with S3-managed
    // keys, and CloudFront's standard logs need ACLs (`BucketOwnerPreferred`).
    let encryption = if settings.kms && !is_logs {
        json!({
            "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": cfn::get_att(KEY, "Arn") },
            "BucketKeyEnabled": true,
        })
    } else {
        aws::sse_s3()
    };
    let ownership = if is_logs {
        "BucketOwnerPreferred"
    } else {
        "BucketOwnerEnforced"
    };
    let mut resource = aws::secure_bucket(
        ctx,
        aws::SecureBucket {
            name: settings.bucket_name(ctx, bucket),
            encryption,
            ownership,
            versioned: settings.versioning,
            lifecycle_rule: lifecycle_rule(settings, bucket),
        },
    );
    if !is_logs {
        // Server access logs of the assets and backups buckets go to the
        // logs bucket (which does not log itself: that would loop).
        resource = resource.property(
            "LoggingConfiguration",
            json!({
                "DestinationBucketName": cfn::reference(&bucket_id("logs")),
                "LogFilePrefix": format!("{S3_ACCESS_LOG_PREFIX}/{bucket}/"),
            }),
        );
    }
    template.resource(&bucket_id(bucket), resource);
}

/// One rule per bucket, over the whole bucket. Every rule expires previous
/// versions and cleans up abandoned multipart uploads; logs and backups also
/// move to cheaper storage and expire. A transition on or after the
/// expiration day would never happen (and S3 refuses it), so it is left out.
fn lifecycle_rule(settings: &Settings, bucket: &str) -> Value {
    let mut rule = json!({
        "Id": format!("{bucket}-lifecycle"),
        "Status": "Enabled",
        "NoncurrentVersionExpiration": { "NoncurrentDays": settings.noncurrent_version_expiration_days },
        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": ABORT_INCOMPLETE_UPLOAD_DAYS },
    });
    let (transitions, expiration): (Vec<(&str, u32)>, Option<u32>) = match bucket {
        "logs" => (
            vec![
                ("STANDARD_IA", settings.transition_to_ia_days),
                ("GLACIER", settings.transition_to_glacier_days),
            ],
            Some(settings.log_retention_days),
        ),
        "backups" => (
            vec![("GLACIER", settings.transition_to_glacier_days)],
            Some(settings.backup_retention_days),
        ),
        _ => (Vec::new(), None),
    };
    let transitions: Vec<Value> = transitions
        .into_iter()
        .filter(|(_, days)| expiration.is_none_or(|expires| *days < expires))
        .map(|(class, days)| json!({ "StorageClass": class, "TransitionInDays": days }))
        .collect();
    if !transitions.is_empty() {
        rule["Transitions"] = Value::Array(transitions);
    }
    match expiration {
        Some(days) => rule["ExpirationInDays"] = days.into(),
        // Without an expiration, remove the delete markers left once every
        // previous version has expired.
        None => rule["ExpiredObjectDeleteMarker"] = true.into(),
    }
    rule
}

/// Every bucket refuses requests over plain HTTP; the logs bucket also
/// lets Elastic Load Balancing write access logs under `alb/`: the log
/// delivery service everywhere, and in Regions older than that service
/// principal the Region's ELB account as well.
fn add_bucket_policy(template: &mut Template, ctx: &Context, bucket: &str) {
    let id = bucket_id(bucket);
    let mut statements = vec![aws::deny_insecure_transport(
        "s3:*",
        json!([
            cfn::get_att(&id, "Arn"),
            cfn::sub(&format!("${{{id}.Arn}}/*"))
        ]),
    )];
    if bucket == "logs" {
        let alb_logs = cfn::sub(&format!("${{{id}.Arn}}/{ALB_LOG_PREFIX}/*"));
        statements.push(json!({
            "Sid": "AllowLoadBalancerAccessLogs",
            "Effect": "Allow",
            "Principal": { "Service": "logdelivery.elasticloadbalancing.amazonaws.com" },
            "Action": "s3:PutObject",
            "Resource": alb_logs,
        }));
        if let Some(root) = elb_account_root(&ctx.region) {
            statements.push(json!({
                "Sid": "AllowRegionalLoadBalancerAccountAccessLogs",
                "Effect": "Allow",
                "Principal": { "AWS": root },
                "Action": "s3:PutObject",
                "Resource": alb_logs,
            }));
        }
        statements.push(json!({
            "Sid": "AllowS3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": { "Service": "logging.s3.amazonaws.com" },
            "Action": "s3:PutObject",
            "Resource": cfn::sub(&format!("${{{id}.Arn}}/{S3_ACCESS_LOG_PREFIX}/*")),
            "Condition": { "StringEquals": { "aws:SourceAccount": cfn::account_id() } },
        }));
    }
    template.resource(&format!("{id}Policy"), aws::bucket_policy(&id, statements));
}

strata_sdk::module! {
    name: "s3",
    description: "Logs, assets and backups buckets: private, encrypted, versioned, HTTPS only, lifecycle rules, retained",
    config: Config,
    render: render,
}
