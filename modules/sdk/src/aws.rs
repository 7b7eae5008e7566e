//! Building blocks that several stack modules render the same way (KMS keys,
//! secure buckets, log groups, ...), so every module gets them right once.
//!
//! Each helper returns the JSON or the [`Resource`] a module would otherwise
//! write out by hand; modules add their own statements, rules and deletion
//! policies around them.
//!
//! ```
//! use strata_module_sdk::{aws, cfn, Context, DeletionPolicy, Template};
//!
//! let ctx = Context::for_tests("queues");
//! let mut template = Template::new(&ctx, "Queues");
//! let alias = ctx.name(&ctx.stack);
//! aws::add_kms_key(
//!     &mut template,
//!     &ctx,
//!     aws::KmsKey {
//!         logical_id: "QueueKey",
//!         alias: &alias,
//!         description: format!("Encrypts the queues of {alias}"),
//!         statements: vec![aws::key_use_via_service(
//!             "AccountUsesTheKeyThroughSqs",
//!             &["kms:Decrypt"],
//!             "sqs",
//!         )],
//!     },
//!     DeletionPolicy::Retain,
//! );
//! let deny = aws::deny_insecure_transport("sqs:*", cfn::get_att("Queue", "Arn"));
//! assert_eq!(deny["Effect"], "Deny");
//! ```

use serde_json::{Value, json};

use crate::{Context, DeletionPolicy, Resource, Template, cfn};

/// `Retain` when `keep` (typically `ctx.is_production()`), else `Delete`:
/// what the environment keeps when a stack goes, said explicitly either way.
///
/// ```
/// use strata_module_sdk::{aws, DeletionPolicy};
/// assert_eq!(aws::retain_if(true), DeletionPolicy::Retain);
/// assert_eq!(aws::retain_if(false), DeletionPolicy::Delete);
/// ```
pub fn retain_if(keep: bool) -> DeletionPolicy {
    if keep {
        DeletionPolicy::Retain
    } else {
        DeletionPolicy::Delete
    }
}

/// An IAM policy document: `{"Version": "2012-10-17", "Statement": statements}`.
pub fn policy_document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// An inline policy of an `AWS::IAM::Role` (an entry of its `Policies`):
/// `{"PolicyName": name, "PolicyDocument": ...}`.
pub fn inline_policy(name: &str, statements: Vec<Value>) -> Value {
    json!({ "PolicyName": name, "PolicyDocument": policy_document(statements) })
}

/// A role's trust policy (`AssumeRolePolicyDocument`) letting the AWS
/// service `principal` (e.g. `lambda.amazonaws.com`) assume the role.
///
/// With `source_arn`, only on behalf of this account and of resources
/// matching that ARN pattern (`aws:SourceAccount`, `aws:SourceArn`), which
/// stops a confused deputy.
pub fn assume_role_policy(principal: &str, source_arn: Option<Value>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": { "Service": principal },
        "Action": "sts:AssumeRole",
    });
    if let Some(source_arn) = source_arn {
        statement["Condition"] = json!({
            "StringEquals": { "aws:SourceAccount": cfn::account_id() },
            "ArnLike": { "aws:SourceArn": source_arn },
        });
    }
    policy_document(vec![statement])
}

/// The statement refusing every request made without TLS:
/// `Deny` `action` on `resource` to `*` when `aws:SecureTransport` is false
/// (Sid `DenyInsecureTransport`). For bucket, queue and topic policies.
pub fn deny_insecure_transport(action: &str, resource: Value) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
    })
}

/// A customer-managed KMS key, for [`add_kms_key`].
#[derive(Debug, Clone)]
pub struct KmsKey<'a> {
    /// Logical id of the key; its alias is `{logical_id}Alias`.
    pub logical_id: &'a str,
    /// The alias's name without `alias/`, also the key's `Name` tag.
    pub alias: &'a str,
    /// The key's description.
    pub description: String,
    /// Key policy statements after `AccountAdministersTheKey` (the account
    /// administers the key; IAM policies decide who uses it).
    pub statements: Vec<Value>,
}

/// Add a customer-managed KMS key (`AWS::KMS::Key`, yearly rotation, 30-day
/// deletion window, the account administering it plus `key.statements`,
/// kept under `policy`) and its alias `alias/{key.alias}` (`AWS::KMS::Alias`
/// `{logical_id}Alias`). Returns a `Ref` to the key.
pub fn add_kms_key(
    template: &mut Template,
    ctx: &Context,
    key: KmsKey<'_>,
    policy: DeletionPolicy,
) -> Value {
    let mut statements = vec![json!({
        "Sid": "AccountAdministersTheKey",
        "Effect": "Allow",
        "Principal": { "AWS": cfn::sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root") },
        "Action": "kms:*",
        "Resource": "*",
    })];
    statements.extend(key.statements);
    let reference = template.resource(
        key.logical_id,
        Resource::new(
            "AWS::KMS::Key",
            json!({
                "Description": key.description,
                "EnableKeyRotation": true,
                "PendingWindowInDays": 30,
                "KeyPolicy": policy_document(statements),
                "Tags": ctx.tags_named(key.alias),
            }),
        )
        .retain_as(policy),
    );
    template.resource(
        &format!("{}Alias", key.logical_id),
        Resource::new(
            "AWS::KMS::Alias",
            json!({
                "AliasName": format!("alias/{}", key.alias),
                "TargetKeyId": cfn::reference(key.logical_id),
            }),
        ),
    );
    reference
}

/// A key policy statement (Sid `sid`) letting any principal of this account
/// use the key for `actions`, only through the AWS service `service` (e.g.
/// `sqs`, `secretsmanager`) in this region, as with the service's
/// AWS-managed key. Whoever may use the service's resources may use the key
/// for them.
pub fn key_use_via_service(sid: &str, actions: &[&str], service: &str) -> Value {
    json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": { "AWS": "*" },
        "Action": actions,
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:CallerAccount": cfn::account_id(),
                "kms:ViaService": cfn::sub(&format!("{service}.${{AWS::Region}}.amazonaws.com")),
            },
        },
    })
}

/// A bucket's default encryption with S3-managed keys (SSE-S3, `AES256`),
/// for [`SecureBucket::encryption`].
pub fn sse_s3() -> Value {
    json!({ "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } })
}

/// A private S3 bucket, for [`secure_bucket`].
#[derive(Debug, Clone)]
pub struct SecureBucket {
    /// `BucketName` (a string or an `Fn::Sub`).
    pub name: Value,
    /// The one rule of `ServerSideEncryptionConfiguration`, e.g. [`sse_s3`].
    pub encryption: Value,
    /// `ObjectOwnership`: `BucketOwnerEnforced` (no ACLs), or
    /// `BucketOwnerPreferred` for log deliveries that need ACLs.
    pub ownership: &'static str,
    /// Versioning `Enabled` (else `Suspended`).
    pub versioned: bool,
    /// The bucket's one lifecycle rule.
    pub lifecycle_rule: Value,
}

/// An `AWS::S3::Bucket` that blocks all public access, encrypts by default,
/// sets object ownership, versioning and one lifecycle rule, is tagged, and
/// is always retained (it holds data no stack can recreate, and a bucket
/// with objects cannot be deleted by CloudFormation anyway). Pair it with a
/// [`bucket_policy`] holding [`deny_insecure_transport`].
pub fn secure_bucket(ctx: &Context, bucket: SecureBucket) -> Resource {
    Resource::new(
        "AWS::S3::Bucket",
        json!({
            "BucketName": bucket.name,
            "BucketEncryption": { "ServerSideEncryptionConfiguration": [bucket.encryption] },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true,
            },
            "OwnershipControls": { "Rules": [{ "ObjectOwnership": bucket.ownership }] },
            "VersioningConfiguration": {
                "Status": if bucket.versioned { "Enabled" } else { "Suspended" },
            },
            "LifecycleConfiguration": { "Rules": [bucket.lifecycle_rule] },
            "Tags": ctx.tags(),
        }),
    )
    .retain_as(DeletionPolicy::Retain)
}

/// An `AWS::S3::BucketPolicy` on the bucket `bucket_id` (a logical id) with
/// `statements`.
pub fn bucket_policy(bucket_id: &str, statements: Vec<Value>) -> Resource {
    Resource::new(
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": cfn::reference(bucket_id),
            "PolicyDocument": policy_document(statements),
        }),
    )
}

/// An `AWS::Logs::LogGroup` named `name`, keeping events `retention_days`,
/// tagged, and retained when the stack goes only if `retain` (see
/// [`retain_if`]). CloudWatch Logs encrypts log data at rest with its own
/// key.
pub fn log_group(ctx: &Context, name: String, retention_days: u32, retain: bool) -> Resource {
    Resource::new(
        "AWS::Logs::LogGroup",
        json!({
            "LogGroupName": name,
            "RetentionInDays": retention_days,
            "Tags": ctx.tags(),
        }),
    )
    .retain_as(retain_if(retain))
}

/// A security group egress rule that matches no traffic (ICMP type 252
/// code 86 to the broadcast address, as the AWS CDK writes it). A group
/// that should send nothing keeps this one rule, which replaces the
/// allow-all egress EC2 adds to a group defined without egress rules.
pub fn disallow_all_egress() -> Value {
    json!({
        "IpProtocol": "icmp",
        "FromPort": 252,
        "ToPort": 86,
        "CidrIp": "255.255.255.255/32",
        "Description": "Disallow all traffic",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policy_without_source_has_no_condition() {
        let policy = assume_role_policy("lambda.amazonaws.com", None);
        assert_eq!(policy["Statement"][0].get("Condition"), None);
        let policy = assume_role_policy("ecs-tasks.amazonaws.com", Some(json!("arn")));
        assert_eq!(
            policy["Statement"][0]["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn"
        );
    }

    #[test]
    fn kms_key_adds_key_and_alias() {
        let ctx = Context::for_tests("s");
        let mut template = Template::new(&ctx, "t");
        let key = add_kms_key(
            &mut template,
            &ctx,
            KmsKey {
                logical_id: "Key",
                alias: "a",
                description: "d".into(),
                statements: Vec::new(),
            },
            DeletionPolicy::Retain,
        );
        assert_eq!(key, cfn::reference("Key"));
    }
}
