//! The `[stacks.<name>]` table of a certificate stack, and its validation
//! into [`Settings`]: the names to certify (literal, or built on the hosted
//! zone's imported name), or an existing certificate to adopt.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, check};

/// ACM's hard limit of names on one certificate.
const MAX_NAMES: usize = 100;
/// ACM's default quota of names on one certificate (raised on request).
const DEFAULT_NAME_QUOTA: usize = 10;
/// How this module words problems with names.
const WORDING: check::DomainWording = check::DomainWording {
    single_label: "it is a single label (a top-level domain)",
    misplaced_wildcard: " (a wildcard is `*.` at the start only)",
    help: "write a domain name such as `example.com`, `api.example.com` or `*.example.com`",
};

/// An ACM certificate validated by DNS in the hosted-zone stack's zone, or
/// an existing certificate adopted by ARN.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of the hosted-zone stack whose zone validates the certificate
    /// (and whose domain is the default `domain`).
    pub hosted_zone_stack: String,
    /// The certificate's main name, e.g. `example.com` or `*.example.com`.
    /// Defaults to the hosted zone's domain. Every name must be in that zone.
    pub domain: Option<String>,
    /// More names on the certificate, e.g. `["api.example.com"]`. Defaults to
    /// the wildcard of `domain` (`*.example.com`), or to the apex when
    /// `domain` is itself a wildcard; `[]` for none.
    pub subject_alternative_names: Option<Vec<String>>,
    /// Adopt an existing certificate instead of requesting one:
    /// `arn:aws:acm:<region>:<account>:certificate/<id>`. Nothing is created
    /// and nothing imported; the ARN is exported as is.
    pub existing_certificate_arn: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hosted_zone_stack: "hosted-zone".into(),
            domain: None,
            subject_alternative_names: None,
            existing_certificate_arn: None,
        }
    }
}

/// A name on the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    /// Written in the config (or derived from a written name).
    Literal(String),
    /// The hosted zone's domain, imported.
    Zone,
    /// `*.` and the hosted zone's domain, imported.
    WildcardOfZone,
}

/// A validated config.
#[derive(Debug, Clone)]
pub enum Settings {
    /// Adopt this certificate.
    Existing {
        /// Its ARN.
        arn: String,
    },
    /// Request a certificate.
    Request {
        /// Stack to import the zone from.
        hosted_zone_stack: String,
        /// The main name.
        domain: Name,
        /// The other names.
        subject_alternative_names: Vec<Name>,
    },
}

impl Config {
    /// Check every key, reporting all problems at once. On success, also
    /// returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        if let Some(arn) = &self.existing_certificate_arn {
            check_certificate_arn(ctx, arn, &mut diagnostics);
            for (key, set) in [
                ("domain", self.domain.is_some()),
                (
                    "subject_alternative_names",
                    self.subject_alternative_names.is_some(),
                ),
            ] {
                if set {
                    diagnostics
                        .warning(key, format!("`{key}` is ignored when adopting an existing certificate"))
                        .help("remove it, or remove `existing_certificate_arn` to request a certificate");
                }
            }
            diagnostics.check()?;
            let settings = Settings::Existing { arn: arn.clone() };
            return Ok((settings, diagnostics));
        }

        check::stack_name(
            "hosted_zone_stack",
            &self.hosted_zone_stack,
            &mut diagnostics,
        );
        let domain = match &self.domain {
            None => Some(Name::Zone),
            Some(raw) => check_name("domain", raw, &mut diagnostics).map(Name::Literal),
        };
        let subject_alternative_names = match &self.subject_alternative_names {
            None => domain
                .as_ref()
                .map(default_alternative_names)
                .unwrap_or_default(),
            Some(names) => check_alternative_names(names, domain.as_ref(), &mut diagnostics),
        };
        diagnostics.check()?;

        let settings = Settings::Request {
            hosted_zone_stack: self.hosted_zone_stack,
            domain: domain.unwrap_or(Name::Zone),
            subject_alternative_names,
        };
        Ok((settings, diagnostics))
    }
}

/// `*.example.com` for `example.com`; `example.com` for `*.example.com`.
fn default_alternative_names(domain: &Name) -> Vec<Name> {
    match domain {
        Name::Zone | Name::WildcardOfZone => vec![Name::WildcardOfZone],
        Name::Literal(name) => match name.strip_prefix("*.") {
            Some(apex) => vec![Name::Literal(apex.to_owned())],
            None => vec![Name::Literal(format!("*.{name}"))],
        },
    }
}

fn check_alternative_names(
    names: &[String],
    domain: Option<&Name>,
    diagnostics: &mut Diagnostics,
) -> Vec<Name> {
    if names.len() >= MAX_NAMES {
        diagnostics
            .error(
                "subject_alternative_names",
                format!("{} names, ACM puts at most 99 beside `domain` on one certificate", names.len()),
            )
            .help("split them over several certificate stacks, or use a wildcard such as `*.example.com`");
    } else if names.len() >= DEFAULT_NAME_QUOTA {
        diagnostics
            .warning(
                "subject_alternative_names",
                format!("{} names beside `domain`, above ACM's default quota of 10 names per certificate", names.len()),
            )
            .help("request a quota increase (ACM, \"Domain names per certificate\") before deploying");
    }
    let mut valid = Vec::new();
    for (index, raw) in names.iter().enumerate() {
        let path = format!("subject_alternative_names.{index}");
        let Some(name) = check_name(&path, raw, diagnostics) else {
            continue;
        };
        let name = Name::Literal(name);
        if domain == Some(&name) {
            diagnostics
                .error(
                    path,
                    format!("`{raw}` is already the certificate's `domain`"),
                )
                .help("remove it");
        } else if valid.contains(&name) {
            diagnostics
                .error(path, format!("`{raw}` is listed twice"))
                .help("remove the duplicate");
        } else {
            valid.push(name);
        }
    }
    valid
}

/// A name for a certificate, without a trailing dot (dropped with a
/// warning), or `None` (with an error).
fn check_name(path: &str, raw: &str, diagnostics: &mut Diagnostics) -> Option<String> {
    check::domain_name(path, raw, &WORDING, diagnostics).map(str::to_owned)
}

/// The parts of an ACM certificate ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateArn<'a> {
    /// Region of the certificate, e.g. `us-east-1`.
    pub region: &'a str,
    /// Account that owns it.
    pub account: &'a str,
}

/// `arn:<partition>:acm:<region>:<12 digits>:certificate/<uuid>`, or what
/// is wrong with it.
pub fn parse_certificate_arn(arn: &str) -> Result<CertificateArn<'_>, String> {
    let Some(check::Arn {
        service,
        region,
        account,
        resource,
        ..
    }) = check::parse_arn(arn)
    else {
        return Err("it is not an ARN".into());
    };
    if service != "acm" {
        return Err(format!("it is an ARN of `{service}`, not of ACM"));
    }
    if !check::is_region(region) {
        return Err(format!("`{region}` is not a region"));
    }
    if !check::is_account_id(account) {
        return Err(format!("`{account}` is not a 12-digit account id"));
    }
    let id = resource
        .strip_prefix("certificate/")
        .ok_or("it is not the ARN of a certificate")?;
    if !check::is_uuid(id) {
        return Err(format!("`{id}` is not a certificate id (a UUID)"));
    }
    Ok(CertificateArn { region, account })
}

fn check_certificate_arn(ctx: &Context, arn: &str, diagnostics: &mut Diagnostics) {
    let parsed = match parse_certificate_arn(arn) {
        Ok(parsed) => parsed,
        Err(problem) => {
            diagnostics
                .error(
                    "existing_certificate_arn",
                    format!("`{arn}` is not an ACM certificate ARN: {problem}"),
                )
                .help("copy the ARN from ACM, e.g. `arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789`");
            return;
        }
    };
    if parsed.region != ctx.region {
        diagnostics
            .warning(
                "existing_certificate_arn",
                format!("the certificate is in `{}`, this environment deploys to `{}`", parsed.region, ctx.region),
            )
            .help("load balancers use certificates of their own region only (CloudFront: of `us-east-1`)");
    }
    if let Some(account) = ctx
        .account
        .as_deref()
        .filter(|account| *account != parsed.account)
    {
        diagnostics
            .warning(
                "existing_certificate_arn",
                format!("the certificate belongs to account `{}`, this environment deploys to `{account}`", parsed.account),
            )
            .help("AWS services use certificates of their own account only; request or import it in this account");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_certificate_arns() {
        let arn =
            "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
        assert_eq!(
            parse_certificate_arn(arn),
            Ok(CertificateArn {
                region: "eu-west-1",
                account: "123456789012"
            })
        );
        let gov = "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
        assert!(parse_certificate_arn(gov).is_ok());
    }

    #[test]
    fn names_what_is_wrong_with_an_arn() {
        let problem = |arn: &str| parse_certificate_arn(arn).expect_err(arn);
        let id = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
        assert_eq!(problem("nope"), "it is not an ARN");
        assert_eq!(
            problem(&format!(
                "arn:aws:iam:us-east-1:123456789012:certificate/{id}"
            )),
            "it is an ARN of `iam`, not of ACM"
        );
        assert_eq!(
            problem(&format!(
                "arn:aws:acm:useast1:123456789012:certificate/{id}"
            )),
            "`useast1` is not a region"
        );
        assert_eq!(
            problem(&format!("arn:aws:acm:us-east-1:1234:certificate/{id}")),
            "`1234` is not a 12-digit account id"
        );
        assert_eq!(
            problem(&format!("arn:aws:acm:us-east-1:123456789012:cert/{id}")),
            "it is not the ARN of a certificate"
        );
        assert_eq!(
            problem("arn:aws:acm:us-east-1:123456789012:certificate/xyz"),
            "`xyz` is not a certificate id (a UUID)"
        );
    }

    #[test]
    fn accepts_wildcards_only_as_the_first_label() {
        let name_problem = |name| check::domain_name_problem(name, &WORDING);
        assert_eq!(name_problem("*.example.com"), None);
        assert!(
            name_problem("api.*.example.com")
                .unwrap_or_default()
                .contains("wildcard")
        );
        assert!(name_problem("*example.com").is_some());
        assert!(name_problem("*.com").is_some());
        assert!(name_problem("localhost").is_some());
    }
}
