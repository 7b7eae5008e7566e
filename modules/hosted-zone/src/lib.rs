//! The `hosted-zone` stack type: a Route 53 public hosted zone (or an
//! existing one, adopted by id) and records in it.
//!
//! - [`config`] validates the stack's table: the domain, the zone id, and
//!   each record's name (resolved against the domain), type and values.
//! - [`dns`] holds the DNS rules behind those checks and quotes TXT values.
//! - This file adds the zone (retained in production: a new zone gets new
//!   name servers, and every delegation to the old ones breaks), one record
//!   set per record, and the alias record sets (`A`, and `AAAA` where the
//!   target serves IPv6) of each alias.
//!
//! The `certificate` stack imports `zone-id` to validate certificates by
//! DNS, and `zone-name` as its default domain; see [`EXPORTS`]. Aliases
//! import a compute stack's `alb-dns-name` and `alb-hosted-zone-id`, or a
//! frontend stack's `distribution-domain-name`; with `zone_stack`, the zone
//! id comes from another hosted-zone stack.

pub mod config;
pub mod dns;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{ALB_ZONE_OUTPUT, API_ZONE_OUTPUT, AliasKind, AliasSet, CLOUDFRONT_ZONE_ID, Settings};

/// The outputs this stack exports, in order. Other modules import them by
/// these names.
pub const EXPORTS: [&str; 2] = ["zone-id", "zone-name"];

const ZONE: &str = "HostedZone";

/// Render a hosted-zone stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let description = match (&settings.existing_zone_id, &settings.zone_stack) {
        (None, Some(stack)) => format!(
            "{}: {} record set(s) and {} alias(es) in the zone of stack {stack} ({})",
            ctx.name(&ctx.stack),
            settings.records.len(),
            settings.aliases.len(),
            settings.domain
        ),
        (None, None) => format!(
            "{}: Route 53 hosted zone {} with {} record set(s)",
            ctx.name("hosted-zone"),
            settings.domain,
            settings.records.len()
        ),
        (Some(id), _) => format!(
            "{}: {} record set(s) in the existing hosted zone {id} ({})",
            ctx.name("hosted-zone"),
            settings.records.len(),
            settings.domain
        ),
    };
    let mut template = Template::new(ctx, description);
    template.warn_all(warnings);

    let zone_id = match (&settings.existing_zone_id, &settings.zone_stack) {
        (Some(id), _) => Value::String(id.clone()),
        (None, Some(stack)) => template.import(stack, "zone-id"),
        (None, None) => add_zone(&mut template, ctx, &settings),
    };
    add_records(&mut template, &settings, &zone_id);
    for alias in &settings.aliases {
        add_alias(&mut template, alias, &zone_id);
    }
    if !template.has_resource(ZONE) && settings.records.is_empty() && settings.aliases.is_empty() {
        // A template needs a resource; an adopted zone without records
        // has nothing else to hold its exports.
        template.resource(
            "Placeholder",
            Resource::new("AWS::CloudFormation::WaitConditionHandle", json!({})),
        );
    }

    // A stack writing into another stack's zone exports nothing: its
    // importers read the zone from the stack that owns it (re-exporting an
    // import would chain the two stacks' exports).
    if settings.zone_stack.is_none() {
        template.export("zone-id", zone_id, "Id of the Route 53 hosted zone");
        template.export(
            "zone-name",
            Value::String(settings.domain.clone()),
            "Domain name of the hosted zone",
        );
    }
    Ok(template)
}

fn add_zone(template: &mut Template, ctx: &Context, settings: &Settings) -> Value {
    let zone = template.resource(
        ZONE,
        Resource::new(
            "AWS::Route53::HostedZone",
            json!({
                "Name": settings.domain,
                "HostedZoneConfig": { "Comment": settings.comment },
                "HostedZoneTags": ctx.tags(),
            }),
        )
        .retain_as(aws::retain_if(ctx.is_production())),
    );
    template.output(
        "NameServers",
        // `NameServers` is a list; `Fn::Join` takes it whole.
        json!({ "Fn::Join": [",", cfn::get_att(ZONE, "NameServers")] }),
        "Name servers of the zone: delegate the domain to them at its registrar or parent zone",
    );
    zone
}

fn add_records(template: &mut Template, settings: &Settings, zone_id: &Value) {
    for record in &settings.records {
        template.resource(
            &record.logical_id,
            Resource::new(
                "AWS::Route53::RecordSet",
                json!({
                    "HostedZoneId": zone_id,
                    "Name": record.name,
                    "Type": record.kind,
                    "TTL": record.ttl.to_string(),
                    "ResourceRecords": record.values,
                }),
            ),
        );
    }
}

/// An alias's record sets: `A`, and `AAAA` when it asks for IPv6. A load
/// balancer's health decides its answers (`EvaluateTargetHealth`);
/// CloudFront's cannot be evaluated.
fn add_alias(template: &mut Template, alias: &AliasSet, zone_id: &Value) {
    let dns_name = template.import(&alias.stack, &alias.dns_name_output);
    let (target_zone, evaluate_health) = match alias.kind {
        AliasKind::LoadBalancer => (template.import(&alias.stack, ALB_ZONE_OUTPUT), true),
        AliasKind::Cloudfront => (Value::String(CLOUDFRONT_ZONE_ID.into()), false),
        AliasKind::ApiGateway => (template.import(&alias.stack, API_ZONE_OUTPUT), false),
    };
    let record = |kind: &str| {
        Resource::new(
            "AWS::Route53::RecordSet",
            json!({
                "HostedZoneId": zone_id,
                "Name": alias.name,
                "Type": kind,
                "AliasTarget": {
                    "DNSName": dns_name,
                    "HostedZoneId": target_zone,
                    "EvaluateTargetHealth": evaluate_health,
                },
            }),
        )
    };
    template.resource(&alias.logical_id, record("A"));
    if alias.ipv6 {
        template.resource(&alias.ipv6_logical_id(), record("AAAA"));
    }
}

strata_sdk::module! {
    name: "hosted-zone",
    description: "Route 53 public hosted zone (or an existing one) with its records and alias records to load balancers and CloudFront, retained in prod",
    config: Config,
    render: render,
}
