//! The `certificate` stack type: an ACM certificate validated by DNS in the
//! hosted-zone stack's zone, or an existing certificate adopted by ARN.
//!
//! - [`config`] validates the stack's table: the names (literal, or the
//!   imported zone name and its wildcard by default) or the adopted ARN.
//! - This file adds the certificate. CloudFormation writes the validation
//!   CNAMEs into the zone itself (`DomainValidationOptions` with the zone
//!   id) and waits until ACM issues the certificate.
//!
//! The `compute` stack's HTTPS listener (and a `frontend` in `us-east-1`)
//! import `certificate-arn`; see [`EXPORTS`].

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, cfn, json};

pub use config::Config;
use config::{Name, Settings};

/// The outputs this stack exports, in order. Other modules import them by
/// these names.
pub const EXPORTS: [&str; 1] = ["certificate-arn"];

const CERTIFICATE: &str = "Certificate";

/// Render a certificate stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(ctx, description(ctx, &settings));
    template.warn_all(warnings);
    let arn = match settings {
        Settings::Existing { arn } => {
            // A template needs a resource; this one only holds the export.
            template.resource(
                "Placeholder",
                Resource::new("AWS::CloudFormation::WaitConditionHandle", json!({})),
            );
            Value::String(arn)
        }
        Settings::Request {
            hosted_zone_stack,
            domain,
            subject_alternative_names,
        } => add_certificate(
            &mut template,
            ctx,
            &hosted_zone_stack,
            &domain,
            &subject_alternative_names,
        ),
    };
    template.export("certificate-arn", arn, "ARN of the ACM certificate");
    Ok(template)
}

fn description(ctx: &Context, settings: &Settings) -> String {
    let name = ctx.name("certificate");
    let (domain, alternative_names) = match settings {
        Settings::Existing { arn } => return format!("{name}: the existing ACM certificate {arn}"),
        Settings::Request {
            domain,
            subject_alternative_names,
            ..
        } => (domain, subject_alternative_names),
    };
    let shown = |name: &Name| match name {
        Name::Literal(name) => name.clone(),
        Name::Zone => "the hosted zone's domain".to_owned(),
        Name::WildcardOfZone => "its wildcard".to_owned(),
    };
    let mut names = vec![shown(domain)];
    names.extend(alternative_names.iter().map(shown));
    format!(
        "{name}: ACM certificate for {}, validated by DNS",
        names.join(", ")
    )
}

fn add_certificate(
    template: &mut Template,
    ctx: &Context,
    hosted_zone_stack: &str,
    domain: &Name,
    alternative_names: &[Name],
) -> Value {
    let zone_id = template.import(hosted_zone_stack, "zone-id");
    let mut value_of = |name: &Name| match name {
        Name::Literal(name) => Value::String(name.clone()),
        Name::Zone => template.import(hosted_zone_stack, "zone-name"),
        Name::WildcardOfZone => cfn::join(
            "",
            [
                Value::String("*.".into()),
                template.import(hosted_zone_stack, "zone-name"),
            ],
        ),
    };
    let domain_name = value_of(domain);
    let alternatives: Vec<Value> = alternative_names.iter().map(&mut value_of).collect();
    let validation: Vec<Value> = validated_names(domain, alternative_names)
        .into_iter()
        .map(|name| json!({ "DomainName": value_of(name), "HostedZoneId": zone_id }))
        .collect();

    let mut properties = json!({
        "DomainName": domain_name,
        "ValidationMethod": "DNS",
        "DomainValidationOptions": validation,
        "CertificateTransparencyLoggingPreference": "ENABLED",
        "KeyAlgorithm": "RSA_2048",
        "Tags": ctx.tags_named(&ctx.name("certificate")),
    });
    if !alternatives.is_empty() {
        properties["SubjectAlternativeNames"] = Value::Array(alternatives);
    }
    template.resource(
        CERTIFICATE,
        Resource::new("AWS::CertificateManager::Certificate", properties),
    )
}

/// The names that need a validation option: all of them, except a wildcard
/// whose base name is also on the certificate (ACM validates `*.x` and `x`
/// with the same CNAME, and CloudFormation fails writing it twice).
fn validated_names<'a>(domain: &'a Name, alternative_names: &'a [Name]) -> Vec<&'a Name> {
    let all: Vec<&Name> = std::iter::once(domain).chain(alternative_names).collect();
    let has = |name: Name| all.contains(&&name);
    all.iter()
        .copied()
        .filter(|name| match name {
            Name::WildcardOfZone => !has(Name::Zone),
            Name::Literal(name) => name
                .strip_prefix("*.")
                .is_none_or(|base| !has(Name::Literal(base.to_owned()))),
            Name::Zone => true,
        })
        .collect()
}

strata_sdk::module! {
    name: "certificate",
    description: "ACM certificate validated by DNS in the hosted zone (or an existing one, by ARN)",
    config: Config,
    render: render,
}
