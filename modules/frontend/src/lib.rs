//! The `frontend` stack type: a private S3 bucket served by CloudFront, for
//! a single-page application or a static site.
//!
//! - [`config`] validates the stack's table: the aliases and their
//!   certificate (which CloudFront takes from `us-east-1` only), cache
//!   lifetimes, the content security policy, the bucket's lifecycle.
//! - [`bucket`] adds the bucket (private, encrypted, versioned, retained)
//!   and its policy, which lets only this distribution read it, over TLS.
//! - [`distribution`] adds the origin access control, the cache policies
//!   (HTML 5 minutes, hashed assets a year, the rest an hour), the security
//!   headers and the distribution (HTTPS only, HTTP/2 and 3, IPv6).
//!
//! With `domain_names`, the certificate comes from the `certificate` stack
//! (imported) or from `certificate_arn`. Deployments upload to the bucket
//! and invalidate the distribution, by the names in [`EXPORTS`].

pub mod bucket;
pub mod config;
pub mod distribution;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Template, cfn};

pub use config::Config;

/// The outputs this stack exports, in order. Other modules import them by
/// these names.
pub const EXPORTS: [&str; 4] = [
    "distribution-id",
    "distribution-domain-name",
    "bucket-name",
    "bucket-arn",
];

/// Render a frontend stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let served_as = if settings.domain_names.is_empty() {
        "its cloudfront.net name".to_owned()
    } else {
        settings.domain_names.join(", ")
    };
    let mut template = Template::new(
        ctx,
        format!(
            "{}: private S3 bucket served by CloudFront as {served_as}",
            ctx.name("frontend")
        ),
    );
    template.warn_all(warnings);

    bucket::add(&mut template, ctx, &settings);
    let certificate_arn = settings
        .certificate
        .as_ref()
        .map(|certificate| distribution::certificate_arn(&mut template, certificate));
    distribution::add(&mut template, ctx, &settings, certificate_arn);
    bucket::add_policy(&mut template);

    template.export(
        "distribution-id",
        cfn::reference(distribution::DISTRIBUTION),
        "Id of the CloudFront distribution (for invalidations)",
    );
    template.export(
        "distribution-domain-name",
        cfn::get_att(distribution::DISTRIBUTION, "DomainName"),
        "Domain name of the distribution, e.g. d111111abcdef8.cloudfront.net (for DNS aliases)",
    );
    template.export(
        "bucket-name",
        cfn::reference(bucket::BUCKET),
        "Name of the bucket the site is uploaded to",
    );
    template.export(
        "bucket-arn",
        cfn::get_att(bucket::BUCKET, "Arn"),
        "ARN of the bucket the site is uploaded to",
    );
    Ok(template)
}

strata_sdk::module! {
    name: "frontend",
    description: "Private S3 bucket served by CloudFront over HTTPS: cache policies, security headers, SPA routing",
    config: Config,
    render: render,
}
