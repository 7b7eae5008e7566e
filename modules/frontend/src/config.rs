//! The `[stacks.<name>]` table of a frontend stack, and its validation into
//! [`Settings`]: the aliases and where their certificate comes from, the
//! cache lifetimes, the headers and the bucket's lifecycle.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, check};

/// CloudFront takes certificates from this region only.
pub const CLOUDFRONT_REGION: &str = "us-east-1";
/// Price classes: edge locations CloudFront serves from.
const PRICE_CLASSES: [&str; 3] = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];
/// Longest cache lifetime this module sets: a year.
const MAX_TTL: u32 = 31_536_000;
/// CloudFront's limit on the `Content-Security-Policy` value.
const MAX_CSP: usize = 1783;
/// Longest cache behaviour path pattern.
const MAX_PATH_PATTERN: usize = 255;
/// Characters CloudFront allows in a path pattern.
const PATH_PATTERN_SYMBOLS: &str = "_-.*$/~\"'@:+&";
/// Longest name before the bucket's `-{account id}` suffix (S3: 63).
const MAX_BUCKET_PREFIX: usize = 63 - 13;
/// CloudFront's default quota of alternate domain names per distribution.
const MAX_ALIASES: usize = 100;
/// How this module words problems with domain names.
const WORDING: check::DomainWording = check::DomainWording {
    single_label: "it is a single label",
    misplaced_wildcard: "",
    help: "write a domain name such as `app.example.com` or `*.example.com`",
};

/// A private S3 bucket served by CloudFront over HTTPS, for a single-page
/// application or static site.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Alternate domain names the distribution answers to, e.g.
    /// `["app.example.com"]`; each must be on the certificate. Empty: only
    /// the `*.cloudfront.net` name, with CloudFront's certificate.
    pub domain_names: Vec<String>,
    /// Name of the certificate stack whose `certificate-arn` covers
    /// `domain_names` (used only with domain names and without
    /// `certificate_arn`). CloudFront needs the certificate in `us-east-1`.
    pub certificate_stack: String,
    /// ARN of an ACM certificate in `us-east-1` for `domain_names`, instead of
    /// the certificate stack's (for environments outside `us-east-1`).
    pub certificate_arn: Option<String>,
    /// Edge locations to serve from: `PriceClass_100` (North America,
    /// Europe), `PriceClass_200` (and most of Asia, Middle East, Africa) or
    /// `PriceClass_All`.
    pub price_class: String,
    /// Seconds CloudFront caches `*.html` (at most 31536000).
    pub html_ttl_seconds: u32,
    /// Path pattern of content-hashed assets, cached for
    /// `assets_ttl_seconds`, e.g. `/assets/*` or `/static/*`.
    pub assets_path_pattern: String,
    /// Seconds CloudFront caches the assets (at most 31536000, a year).
    pub assets_ttl_seconds: u32,
    /// Seconds CloudFront caches everything else, including `/` (at most
    /// 31536000).
    pub default_ttl_seconds: u32,
    /// The `Content-Security-Policy` header sent with every response (at
    /// most 1783 characters); `""` sends none.
    pub content_security_policy: String,
    /// Serve `/index.html` (status 200) for paths S3 does not have, so a
    /// single-page application's client-side routes load.
    pub spa: bool,
    /// Days to keep versions of objects after they are overwritten or
    /// deleted (at least 1).
    pub noncurrent_version_expiration_days: u32,
    /// Days after which objects move to S3 Intelligent-Tiering.
    pub intelligent_tiering_days: u32,
    /// ARN of a WAF web ACL of scope `CLOUDFRONT` (created in `us-east-1`)
    /// to protect the distribution with.
    pub web_acl_arn: Option<String>,
    /// Name of an `s3` stack whose logs bucket receives CloudFront's access
    /// logs (under `cloudfront/`); `""` logs nothing (a warning in
    /// production).
    pub access_logs_stack: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            domain_names: Vec::new(),
            certificate_stack: "certificate".into(),
            certificate_arn: None,
            price_class: "PriceClass_100".into(),
            html_ttl_seconds: 300,
            assets_path_pattern: "/assets/*".into(),
            assets_ttl_seconds: 31_536_000,
            default_ttl_seconds: 3600,
            content_security_policy:
                "default-src 'self'; img-src 'self' data:; script-src 'self'; \
                                      style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
                    .into(),
            spa: true,
            noncurrent_version_expiration_days: 90,
            intelligent_tiering_days: 30,
            web_acl_arn: None,
            access_logs_stack: String::new(),
        }
    }
}

/// Where the certificate for the aliases comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// `certificate-arn` of this stack.
    Import(String),
    /// This ARN.
    Arn(String),
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Aliases, without trailing dots.
    pub domain_names: Vec<String>,
    /// The aliases' certificate; `None` without aliases.
    pub certificate: Option<Certificate>,
    /// Price class.
    pub price_class: String,
    /// Cache lifetime of `*.html`, seconds.
    pub html_ttl_seconds: u32,
    /// Cache lifetime of the assets, seconds.
    pub assets_ttl_seconds: u32,
    /// Cache lifetime of everything else, seconds.
    pub default_ttl_seconds: u32,
    /// Path pattern of the assets.
    pub assets_path_pattern: String,
    /// The CSP header, or `None` for none.
    pub content_security_policy: Option<String>,
    /// SPA error responses.
    pub spa: bool,
    /// Days old versions are kept.
    pub noncurrent_version_expiration_days: u32,
    /// Days before objects move to Intelligent-Tiering.
    pub intelligent_tiering_days: u32,
    /// Web ACL to attach.
    pub web_acl_arn: Option<String>,
    /// Stack of the access logs bucket, when logging.
    pub access_logs_stack: Option<String>,
}

impl Config {
    /// Check every key, reporting all problems at once. On success, also
    /// returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let domain_names = self.check_domain_names(&mut diagnostics);
        if self.access_logs_stack.is_empty() {
            if ctx.is_production() {
                diagnostics
                    .warning("access_logs_stack", "CloudFront's access logs are off in production")
                    .help("name the `s3` stack whose logs bucket should keep them, e.g. `access_logs_stack = \"s3\"`");
            }
        } else {
            check::stack_name(
                "access_logs_stack",
                &self.access_logs_stack,
                &mut diagnostics,
            );
        }
        if !self.certificate_stack.is_empty() {
            check::stack_name(
                "certificate_stack",
                &self.certificate_stack,
                &mut diagnostics,
            );
        }
        let certificate = self.check_certificate(ctx, &mut diagnostics);
        self.check_price_class(&mut diagnostics);
        for (key, ttl) in [
            ("html_ttl_seconds", self.html_ttl_seconds),
            ("assets_ttl_seconds", self.assets_ttl_seconds),
            ("default_ttl_seconds", self.default_ttl_seconds),
        ] {
            if ttl > MAX_TTL {
                diagnostics
                    .error(key, format!("`{ttl}` seconds is more than a year"))
                    .help("use at most `31536000`; content-hashed assets never need longer");
            }
        }
        self.check_assets_path_pattern(&mut diagnostics);
        self.check_content_security_policy(&mut diagnostics);
        if self.noncurrent_version_expiration_days == 0 {
            diagnostics
                .error(
                    "noncurrent_version_expiration_days",
                    "`0` days: S3 keeps old versions at least a day",
                )
                .help("use e.g. `90`; old versions let you roll a release back");
        }
        if let Some(arn) = &self.web_acl_arn {
            check_web_acl_arn(arn, &mut diagnostics);
        }
        check_bucket_name(ctx, &mut diagnostics);
        diagnostics.check()?;

        let settings = Settings {
            domain_names,
            certificate,
            price_class: self.price_class,
            html_ttl_seconds: self.html_ttl_seconds,
            assets_ttl_seconds: self.assets_ttl_seconds,
            default_ttl_seconds: self.default_ttl_seconds,
            assets_path_pattern: self.assets_path_pattern,
            content_security_policy: Some(self.content_security_policy)
                .filter(|csp| !csp.is_empty()),
            spa: self.spa,
            noncurrent_version_expiration_days: self.noncurrent_version_expiration_days,
            intelligent_tiering_days: self.intelligent_tiering_days,
            web_acl_arn: self.web_acl_arn,
            access_logs_stack: Some(self.access_logs_stack).filter(|stack| !stack.is_empty()),
        };
        Ok((settings, diagnostics))
    }

    fn check_domain_names(&self, diagnostics: &mut Diagnostics) -> Vec<String> {
        if self.domain_names.len() > MAX_ALIASES {
            diagnostics
                .error(
                    "domain_names",
                    format!("{} domain names, CloudFront's quota is 100 per distribution", self.domain_names.len()),
                )
                .help("use a wildcard such as `*.example.com`, or request a quota increase and split the list");
        }
        let mut names: Vec<String> = Vec::new();
        for (index, raw) in self.domain_names.iter().enumerate() {
            let path = format!("domain_names.{index}");
            let Some(name) = check::domain_name(&path, raw, &WORDING, diagnostics) else {
                continue;
            };
            if names.iter().any(|n| n == name) {
                diagnostics
                    .error(path, format!("`{name}` is listed twice"))
                    .help("remove the duplicate");
            } else {
                names.push(name.to_owned());
            }
        }
        names
    }

    fn check_certificate(
        &self,
        ctx: &Context,
        diagnostics: &mut Diagnostics,
    ) -> Option<Certificate> {
        if self.domain_names.is_empty() {
            if self.certificate_arn.is_some() {
                diagnostics
                    .warning("certificate_arn", "`certificate_arn` is ignored without `domain_names`")
                    .help("add the names the certificate covers to `domain_names`, or remove `certificate_arn`");
            }
            return None;
        }
        if let Some(arn) = &self.certificate_arn {
            return check_certificate_arn(arn, diagnostics).then(|| Certificate::Arn(arn.clone()));
        }
        if self.certificate_stack.is_empty() {
            diagnostics
                .error("domain_names", "domain names need a certificate, and `certificate_stack` is `\"\"`")
                .help("set `certificate_arn` to an ACM certificate in `us-east-1`, or `certificate_stack` to the stack that requests one");
            return None;
        }
        if ctx.region != CLOUDFRONT_REGION {
            diagnostics
                .error(
                    "domain_names",
                    format!(
                        "domain names need a certificate in `us-east-1`, and the `{}` stack's is in `{}`",
                        self.certificate_stack, ctx.region
                    ),
                )
                .help(
                    "CloudFront only uses ACM certificates of `us-east-1`: request one there (e.g. a `certificate` \
                     stack of an environment in `us-east-1`) and set `certificate_arn` to its ARN",
                );
            return None;
        }
        Some(Certificate::Import(self.certificate_stack.clone()))
    }

    fn check_price_class(&self, diagnostics: &mut Diagnostics) {
        let class = &self.price_class;
        if PRICE_CLASSES.contains(&class.as_str()) {
            return;
        }
        let prefixed = format!("PriceClass_{class}");
        let suggestion = PRICE_CLASSES
            .iter()
            .find(|known| known.eq_ignore_ascii_case(&prefixed))
            .copied()
            .or_else(|| check::did_you_mean(class, &PRICE_CLASSES));
        let help = match suggestion {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => "use `PriceClass_100`, `PriceClass_200` or `PriceClass_All`".to_owned(),
        };
        diagnostics
            .error(
                "price_class",
                format!("`{class}` is not a CloudFront price class"),
            )
            .help(help);
    }

    fn check_assets_path_pattern(&self, diagnostics: &mut Diagnostics) {
        let pattern = &self.assets_path_pattern;
        let problem = if pattern.is_empty() {
            Some("it is empty".to_owned())
        } else if pattern.len() > MAX_PATH_PATTERN {
            Some(format!(
                "it is {} characters long, CloudFront takes at most 255",
                pattern.len()
            ))
        } else if let Some(bad) = pattern
            .chars()
            .find(|c| !c.is_ascii_alphanumeric() && !PATH_PATTERN_SYMBOLS.contains(*c))
        {
            Some(format!(
                "CloudFront does not allow `{bad}` in a path pattern"
            ))
        } else if matches!(pattern.as_str(), "*" | "/*") {
            Some("it matches every path, like the default behaviour".to_owned())
        } else if matches!(pattern.as_str(), "*.html" | "/*.html") {
            Some("it is the HTML behaviour's pattern".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            diagnostics
                .error("assets_path_pattern", format!("`{pattern}` cannot be the assets' path pattern: {problem}"))
                .help("use the folder of your build's content-hashed files, e.g. `/assets/*` or `/static/*`");
        }
    }

    fn check_content_security_policy(&self, diagnostics: &mut Diagnostics) {
        let csp = &self.content_security_policy;
        if csp.chars().count() > MAX_CSP {
            diagnostics
                .error(
                    "content_security_policy",
                    format!(
                        "the policy is {} characters long, CloudFront sends at most 1783",
                        csp.chars().count()
                    ),
                )
                .help("shorten it, e.g. with `default-src` for directives that share sources");
        } else if csp.chars().any(|c| c.is_control() || !c.is_ascii()) {
            diagnostics
                .error(
                    "content_security_policy",
                    "the policy has line breaks, control or non-ASCII characters",
                )
                .help("write it on one line, directives separated by `; `");
        }
    }
}

/// `arn:aws:acm:us-east-1:<account>:certificate/<uuid>`; returns whether it
/// is one.
fn check_certificate_arn(arn: &str, diagnostics: &mut Diagnostics) -> bool {
    let parts = check::parse_arn(arn);
    let shaped = parts.is_some_and(|arn| {
        arn.service == "acm"
            && check::is_account_id(arn.account)
            && arn
                .resource
                .strip_prefix("certificate/")
                .is_some_and(check::is_uuid)
    });
    if !shaped {
        diagnostics
            .error("certificate_arn", format!("`{arn}` is not an ACM certificate ARN"))
            .help("copy the ARN from ACM in `us-east-1`, e.g. `arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789`");
        return false;
    }
    let region = parts.map(|arn| arn.region).unwrap_or_default();
    if region != CLOUDFRONT_REGION {
        diagnostics
            .error("certificate_arn", format!("the certificate is in `{region}`, CloudFront only uses certificates of `us-east-1`"))
            .help("request or import the certificate in ACM in `us-east-1` and use that ARN");
        return false;
    }
    true
}

/// `arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>`.
fn check_web_acl_arn(arn: &str, diagnostics: &mut Diagnostics) {
    let Some(check::Arn {
        service,
        region,
        account,
        resource,
        ..
    }) = check::parse_arn(arn)
    else {
        diagnostics
            .error("web_acl_arn", format!("`{arn}` is not a WAF web ACL ARN"))
            .help("copy the ARN of a web ACL of scope `CLOUDFRONT`, e.g. `arn:aws:wafv2:us-east-1:123456789012:global/webacl/site/a1b2c3d4-...`");
        return;
    };
    let mut path = resource.split('/');
    let (scope, kind, name, id) = (path.next(), path.next(), path.next(), path.next());
    let shaped = service == "wafv2"
        && check::is_account_id(account)
        && kind == Some("webacl")
        && name.is_some_and(|n| !n.is_empty())
        && id.is_some_and(check::is_uuid)
        && path.next().is_none();
    if !shaped {
        diagnostics
            .error("web_acl_arn", format!("`{arn}` is not a WAF web ACL ARN"))
            .help("copy the ARN of a web ACL of scope `CLOUDFRONT` from the WAF console (region `us-east-1`, \"Global\")");
    } else if scope != Some("global") || region != CLOUDFRONT_REGION {
        diagnostics
            .error("web_acl_arn", "the web ACL has scope `REGIONAL`; CloudFront takes only web ACLs of scope `CLOUDFRONT`")
            .help("create a web ACL of scope `CLOUDFRONT` in `us-east-1` (the `waf` stack's is regional, for the load balancer)");
    }
}

/// The bucket is `{project}-{environment}-frontend-{account id}`: S3 wants
/// at most 63 lowercase letters, digits and single hyphens. The name comes
/// from the project and environment, so problems point at the stack.
fn check_bucket_name(ctx: &Context, diagnostics: &mut Diagnostics) {
    let prefix = ctx.name("frontend");
    let valid = prefix.len() <= MAX_BUCKET_PREFIX
        && prefix.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !prefix.contains("--");
    if !valid {
        diagnostics
            .error("", format!("`{prefix}-<account id>` is not a valid S3 bucket name"))
            .help("S3 needs at most 63 lowercase letters, digits and single hyphens; shorten or lowercase the project or environment name");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_wildcard_aliases_only_at_the_start() {
        let name_problem = |name| check::domain_name_problem(name, &WORDING);
        assert_eq!(name_problem("*.example.com"), None);
        assert_eq!(name_problem("app.example.com"), None);
        assert!(name_problem("app.*.example.com").is_some());
        assert!(name_problem("localhost").is_some());
        assert!(name_problem("192.0.2.1").is_some());
    }
}
