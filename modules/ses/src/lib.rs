//! The `ses` stack type: an SES domain identity that can send mail.
//!
//! - [`config`] validates the stack's table: the domain, the MAIL FROM
//!   subdomain, the configuration set's options and event types.
//! - This file adds the resources: the configuration set (reputation
//!   metrics, TLS policy, suppression; optionally an event destination
//!   publishing CloudWatch metrics), the identity with Easy DKIM signing
//!   through that set, its three DKIM CNAME records in the hosted zone,
//!   with a MAIL FROM domain its MX and SPF records, optionally the domain's
//!   DMARC record, and identities for single addresses (sandbox testing).
//!
//! It imports `zone-id` (and, when `domain` is not set, `zone-name`) from
//! the hosted-zone stack; the compute stack's tasks send with the identity
//! and configuration set it exports (see [`EXPORTS`]).

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, cfn, json};

pub use config::Config;
use config::Settings;

/// The outputs this stack exports, in order.
pub const EXPORTS: [&str; 3] = ["identity-name", "identity-arn", "configuration-set-name"];

const IDENTITY: &str = "EmailIdentity";
const CONFIGURATION_SET: &str = "ConfigurationSet";
/// The priority of the MAIL FROM domain's MX record (it has one).
const MAIL_FROM_MX_PRIORITY: u32 = 10;

/// Render an ses stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: SES identity {} with Easy DKIM and a configuration set",
            ctx.name(&ctx.stack),
            settings
                .domain
                .as_deref()
                .unwrap_or("of the hosted zone's domain")
        ),
    );
    template.warn_all(warnings);
    let zone_id = template.import(&settings.hosted_zone_stack, "zone-id");
    let domain = match &settings.domain {
        Some(domain) => Value::String(domain.clone()),
        None => template.import(&settings.hosted_zone_stack, "zone-name"),
    };

    let set_name = ctx.name(&ctx.stack);
    add_configuration_set(&mut template, ctx, &settings, &set_name);
    add_identity(&mut template, ctx, &settings, &domain);
    add_dkim_records(&mut template, &settings, &zone_id);
    if let Some(sub) = &settings.mail_from_subdomain {
        add_mail_from_records(&mut template, &settings, &zone_id, &subdomain(sub, &domain));
    }
    if let Some(dmarc) = &settings.dmarc {
        template.resource(
            "DmarcRecord",
            Resource::new(
                "AWS::Route53::RecordSet",
                json!({
                    "HostedZoneId": zone_id,
                    "Name": subdomain("_dmarc", &domain),
                    "Type": "TXT",
                    "TTL": settings.record_ttl.to_string(),
                    "ResourceRecords": [dmarc],
                }),
            ),
        );
    }
    for (address, logical_id) in &settings.verified_addresses {
        template.resource(
            logical_id,
            Resource::new(
                "AWS::SES::EmailIdentity",
                json!({ "EmailIdentity": address, "Tags": ctx.tags() }),
            ),
        );
    }

    template.export(
        "identity-name",
        cfn::reference(IDENTITY),
        "The SES identity (the domain mail is sent from)",
    );
    template.export(
        "identity-arn",
        cfn::join(
            "",
            [
                cfn::sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/"),
                cfn::reference(IDENTITY),
            ],
        ),
        "ARN of the SES identity (for ses:SendEmail grants)",
    );
    template.export(
        "configuration-set-name",
        cfn::reference(CONFIGURATION_SET),
        "Name of the configuration set to send through",
    );
    Ok(template)
}

/// `sub.domain`: a literal when the domain is, else joined in the template.
fn subdomain(sub: &str, domain: &Value) -> Value {
    match domain {
        Value::String(domain) => Value::String(format!("{sub}.{domain}")),
        imported => cfn::join(".", [Value::String(sub.to_owned()), imported.clone()]),
    }
}

fn add_configuration_set(template: &mut Template, ctx: &Context, settings: &Settings, name: &str) {
    let mut properties = json!({
        "Name": name,
        "ReputationOptions": { "ReputationMetricsEnabled": settings.reputation_metrics },
        "SendingOptions": { "SendingEnabled": true },
        "DeliveryOptions": { "TlsPolicy": settings.tls_policy },
        "Tags": ctx.tags(),
    });
    if settings.suppress_bounces_and_complaints {
        properties["SuppressionOptions"] = json!({ "SuppressedReasons": ["BOUNCE", "COMPLAINT"] });
    }
    template.resource(
        CONFIGURATION_SET,
        Resource::new("AWS::SES::ConfigurationSet", properties),
    );
    if !settings.cloudwatch_events.is_empty() {
        template.resource(
            "CloudWatchEventDestination",
            Resource::new(
                "AWS::SES::ConfigurationSetEventDestination",
                json!({
                    "ConfigurationSetName": cfn::reference(CONFIGURATION_SET),
                    "EventDestination": {
                        "Name": "cloudwatch",
                        "Enabled": true,
                        "MatchingEventTypes": settings.cloudwatch_events,
                        "CloudWatchDestination": {
                            "DimensionConfigurations": [{
                                // SES sets this tag on every message to the
                                // set's name: metrics per configuration set.
                                "DimensionName": "ses:configuration-set",
                                "DimensionValueSource": "messageTag",
                                "DefaultDimensionValue": name,
                            }],
                        },
                    },
                }),
            ),
        );
    }
}

fn add_identity(template: &mut Template, ctx: &Context, settings: &Settings, domain: &Value) {
    let mut properties = json!({
        "EmailIdentity": domain,
        "DkimAttributes": { "SigningEnabled": true },
        "DkimSigningAttributes": { "NextSigningKeyLength": settings.dkim_key_length },
        "ConfigurationSetAttributes": { "ConfigurationSetName": cfn::reference(CONFIGURATION_SET) },
        "FeedbackAttributes": { "EmailForwardingEnabled": true },
        "Tags": ctx.tags(),
    });
    if let Some(sub) = &settings.mail_from_subdomain {
        properties["MailFromAttributes"] = json!({
            "MailFromDomain": subdomain(sub, domain),
            // Until the MX record resolves, send with SES's own MAIL FROM.
            "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",
        });
    }
    template.resource(
        IDENTITY,
        Resource::new("AWS::SES::EmailIdentity", properties),
    );
}

/// Easy DKIM's three CNAME records, named and valued by the identity.
fn add_dkim_records(template: &mut Template, settings: &Settings, zone_id: &Value) {
    for n in 1..=3 {
        template.resource(
            &format!("DkimRecord{n}"),
            Resource::new(
                "AWS::Route53::RecordSet",
                json!({
                    "HostedZoneId": zone_id,
                    "Name": cfn::get_att(IDENTITY, &format!("DkimDNSTokenName{n}")),
                    "Type": "CNAME",
                    "TTL": settings.record_ttl.to_string(),
                    "ResourceRecords": [cfn::get_att(IDENTITY, &format!("DkimDNSTokenValue{n}"))],
                }),
            ),
        );
    }
}

/// The MAIL FROM domain's MX record (bounces go to SES's feedback
/// endpoint of this region) and its SPF record (SES may send for it).
fn add_mail_from_records(
    template: &mut Template,
    settings: &Settings,
    zone_id: &Value,
    name: &Value,
) {
    let ttl = settings.record_ttl.to_string();
    template.resource(
        "MailFromMxRecord",
        Resource::new(
            "AWS::Route53::RecordSet",
            json!({
                "HostedZoneId": zone_id,
                "Name": name,
                "Type": "MX",
                "TTL": ttl,
                "ResourceRecords": [cfn::sub(&format!(
                    "{MAIL_FROM_MX_PRIORITY} feedback-smtp.${{AWS::Region}}.amazonses.com"
                ))],
            }),
        ),
    );
    template.resource(
        "MailFromSpfRecord",
        Resource::new(
            "AWS::Route53::RecordSet",
            json!({
                "HostedZoneId": zone_id,
                "Name": name,
                "Type": "TXT",
                "TTL": ttl,
                "ResourceRecords": ["\"v=spf1 include:amazonses.com ~all\""],
            }),
        ),
    );
}

strata_sdk::module! {
    name: "ses",
    description: "SES domain identity with Easy DKIM records in the hosted zone, a configuration set with reputation metrics, optional MAIL FROM domain",
    config: Config,
    render: render,
}
