//! The two alarm topics (`critical`, `warning`), their email subscriptions,
//! and the key that encrypts them.
//!
//! The topics are encrypted with a customer-managed key, not SNS's AWS
//! managed `alias/aws/sns`: that key's policy cannot be changed and does
//! not let CloudWatch use it, so alarms could not publish to a topic
//! encrypted with it. This key lets CloudWatch alarms of this account
//! encrypt messages, and rotates yearly.

use strata_sdk::{Context, Resource, Template, Value, aws, cfn, json};

use crate::config::Settings;

/// Logical id of the topics' key.
pub const KEY: &str = "AlarmTopicKey";

/// One of the two topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Pages: the service is down or failing.
    Critical,
    /// Looks at it today: the database is strained.
    Warning,
}

impl Severity {
    /// Both, critical first.
    pub const ALL: [Self; 2] = [Self::Critical, Self::Warning];

    /// `critical` or `warning`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Warning => "warning",
        }
    }

    /// Logical id of the topic.
    pub fn topic_id(self) -> &'static str {
        match self {
            Self::Critical => "CriticalTopic",
            Self::Warning => "WarningTopic",
        }
    }

    /// `{"Ref": topic}`, the topic's ARN.
    pub fn topic_arn(self) -> Value {
        cfn::reference(self.topic_id())
    }
}

/// Add the key, the topics, their policies and the subscriptions.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    add_key(template, ctx);
    for severity in Severity::ALL {
        let name = ctx.name(severity.name());
        template.resource(
            severity.topic_id(),
            Resource::new(
                "AWS::SNS::Topic",
                json!({
                    "TopicName": name,
                    "DisplayName": name,
                    "KmsMasterKeyId": cfn::reference(KEY),
                    "Tags": ctx.tags(),
                }),
            ),
        );
        template.resource(
            &format!("{}Policy", severity.topic_id()),
            Resource::new(
                "AWS::SNS::TopicPolicy",
                json!({
                    "Topics": [severity.topic_arn()],
                    "PolicyDocument": topic_policy(severity),
                }),
            ),
        );
        let emails = match severity {
            Severity::Critical => &settings.critical_emails,
            Severity::Warning => &settings.warning_emails,
        };
        for email in emails {
            template.resource(
                &subscription_id(severity, email),
                Resource::new(
                    "AWS::SNS::Subscription",
                    json!({
                        "TopicArn": severity.topic_arn(),
                        "Protocol": "email",
                        "Endpoint": email,
                    }),
                ),
            );
        }
    }
}

/// `CriticalEmail<hash of the address>`: removing one address leaves the
/// others' subscriptions (and their confirmations) alone.
pub fn subscription_id(severity: Severity, email: &str) -> String {
    let hash = email
        .to_ascii_lowercase()
        .bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
    format!("{}Email{hash:08X}", cfn::logical_id(severity.name()))
}

/// CloudWatch alarms of this account may publish; nobody may publish
/// without TLS.
fn topic_policy(severity: Severity) -> Value {
    aws::policy_document(vec![
        json!({
            "Sid": "AllowCloudWatchAlarms",
            "Effect": "Allow",
            "Principal": { "Service": "cloudwatch.amazonaws.com" },
            "Action": "sns:Publish",
            "Resource": severity.topic_arn(),
            "Condition": {
                "StringEquals": { "aws:SourceAccount": cfn::account_id() },
                "ArnLike": {
                    "aws:SourceArn": cfn::sub("arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"),
                },
            },
        }),
        aws::deny_insecure_transport("sns:Publish", severity.topic_arn()),
    ])
}

/// Retained in production; elsewhere deleted with the stack (after KMS's
/// 30-day waiting period), said explicitly.
fn add_key(template: &mut Template, ctx: &Context) {
    let alias = ctx.name("alarms");
    aws::add_kms_key(
        template,
        ctx,
        aws::KmsKey {
            logical_id: KEY,
            alias: &alias,
            description: format!("Encrypts the alarm topics of {}", ctx.name("monitoring")),
            statements: vec![json!({
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": { "StringEquals": { "aws:SourceAccount": cfn::account_id() } },
            })],
        },
        aws::retain_if(ctx.is_production()),
    );
}
