//! The CloudFront side: the origin access control, a cache policy per kind
//! of content (HTML, hashed assets, everything else), the security headers
//! and the distribution.

use strata_sdk::{Context, Resource, Template, Value, cfn, json};

use crate::bucket::BUCKET;
use crate::config::{Certificate, Settings};

/// Logical id of the distribution.
pub const DISTRIBUTION: &str = "Distribution";
const ORIGIN_ACCESS_CONTROL: &str = "OriginAccessControl";
const HEADERS_POLICY: &str = "SecurityHeadersPolicy";
const ORIGIN: &str = "bucket";
/// Pattern of the HTML behaviour.
const HTML_PATTERN: &str = "*.html";
/// Seconds CloudFront caches an error response (the SPA's `index.html`
/// for a missing path).
const ERROR_CACHING_SECONDS: u32 = 10;

/// One cache policy and the behaviour it serves.
struct CachePolicy {
    logical_id: &'static str,
    /// Suffix of its name, `{project}-{environment}-frontend-{suffix}`.
    suffix: &'static str,
    what: &'static str,
    ttl: u32,
}

/// Add the origin access control, the policies and the distribution;
/// `certificate_arn` is the resolved certificate of the aliases.
pub fn add(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    certificate_arn: Option<Value>,
) {
    template.resource(
        ORIGIN_ACCESS_CONTROL,
        Resource::new(
            "AWS::CloudFront::OriginAccessControl",
            json!({
                "OriginAccessControlConfig": {
                    "Name": ctx.name("frontend"),
                    "Description": format!("CloudFront signs its requests to the bucket of {}", ctx.name("frontend")),
                    "OriginAccessControlOriginType": "s3",
                    "SigningBehavior": "always",
                    "SigningProtocol": "sigv4",
                },
            }),
        ),
    );
    let [html, assets, default] = [
        CachePolicy {
            logical_id: "HtmlCachePolicy",
            suffix: "html",
            what: "HTML pages",
            ttl: settings.html_ttl_seconds,
        },
        CachePolicy {
            logical_id: "AssetsCachePolicy",
            suffix: "assets",
            what: "content-hashed assets",
            ttl: settings.assets_ttl_seconds,
        },
        CachePolicy {
            logical_id: "DefaultCachePolicy",
            suffix: "default",
            what: "everything else",
            ttl: settings.default_ttl_seconds,
        },
    ]
    .map(|policy| add_cache_policy(template, ctx, &policy));
    add_headers_policy(template, ctx, settings);

    let behaviour = |cache_policy: &Value| {
        json!({
            "TargetOriginId": ORIGIN,
            "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": ["GET", "HEAD"],
            "CachedMethods": ["GET", "HEAD"],
            "Compress": true,
            "CachePolicyId": cache_policy,
            "ResponseHeadersPolicyId": cfn::reference(HEADERS_POLICY),
        })
    };
    let mut html_behaviour = behaviour(&html);
    html_behaviour["PathPattern"] = HTML_PATTERN.into();
    let mut assets_behaviour = behaviour(&assets);
    assets_behaviour["PathPattern"] = settings.assets_path_pattern.clone().into();

    let mut config = json!({
        "Comment": ctx.name("frontend"),
        "Enabled": true,
        "DefaultRootObject": "index.html",
        "HttpVersion": "http2and3",
        "IPV6Enabled": true,
        "PriceClass": settings.price_class,
        "Origins": [{
            "Id": ORIGIN,
            "DomainName": cfn::get_att(BUCKET, "RegionalDomainName"),
            "OriginAccessControlId": cfn::get_att(ORIGIN_ACCESS_CONTROL, "Id"),
            // Empty: the origin access control signs instead of a legacy
            // origin access identity.
            "S3OriginConfig": { "OriginAccessIdentity": "" },
        }],
        "DefaultCacheBehavior": behaviour(&default),
        // First match wins: HTML (short-lived) before the assets.
        "CacheBehaviors": [html_behaviour, assets_behaviour],
    });
    if settings.spa {
        // Without `s3:ListBucket`, S3 answers a missing key with 403.
        config["CustomErrorResponses"] = json!([403, 404].map(|code| json!({
            "ErrorCode": code,
            "ResponseCode": 200,
            "ResponsePagePath": "/index.html",
            "ErrorCachingMinTTL": ERROR_CACHING_SECONDS,
        })));
    }
    match certificate_arn {
        Some(arn) => {
            config["Aliases"] = json!(settings.domain_names);
            config["ViewerCertificate"] = json!({
                "AcmCertificateArn": arn,
                "SslSupportMethod": "sni-only",
                "MinimumProtocolVersion": "TLSv1.2_2021",
            });
        }
        None => config["ViewerCertificate"] = json!({ "CloudFrontDefaultCertificate": true }),
    }
    if let Some(web_acl) = &settings.web_acl_arn {
        config["WebACLId"] = web_acl.clone().into();
    }
    if let Some(stack) = &settings.access_logs_stack {
        // Standard logging writes with ACLs: the `s3` stack's logs bucket
        // keeps them enabled (`BucketOwnerPreferred`) for such deliveries.
        let bucket = template.import(stack, "logs-bucket-name");
        config["Logging"] = json!({
            "Bucket": cfn::join("", [bucket, json!(".s3.amazonaws.com")]),
            "Prefix": "cloudfront/",
            "IncludeCookies": false,
        });
    }
    template.resource(
        DISTRIBUTION,
        Resource::new(
            "AWS::CloudFront::Distribution",
            json!({ "DistributionConfig": config, "Tags": ctx.tags() }),
        ),
    );
}

/// The certificate's ARN: imported, or as written.
pub fn certificate_arn(template: &mut Template, certificate: &Certificate) -> Value {
    match certificate {
        Certificate::Import(stack) => template.import(stack, "certificate-arn"),
        Certificate::Arn(arn) => Value::String(arn.clone()),
    }
}

/// Nothing but the path and the compression in the cache key: the bucket
/// serves the same bytes whatever the cookies, headers or query strings.
/// Returns the policy's id.
fn add_cache_policy(template: &mut Template, ctx: &Context, policy: &CachePolicy) -> Value {
    // A policy with every TTL at 0 caches nothing, and CloudFront then
    // refuses the compression settings.
    let caches = policy.ttl > 0;
    template.resource(
        policy.logical_id,
        Resource::new(
            "AWS::CloudFront::CachePolicy",
            json!({
                "CachePolicyConfig": {
                    "Name": ctx.name(&format!("frontend-{}", policy.suffix)),
                    "Comment": format!("{}: {} seconds", policy.what, policy.ttl),
                    "MinTTL": 0,
                    "DefaultTTL": policy.ttl,
                    "MaxTTL": policy.ttl,
                    "ParametersInCacheKeyAndForwardedToOrigin": {
                        "CookiesConfig": { "CookieBehavior": "none" },
                        "HeadersConfig": { "HeaderBehavior": "none" },
                        "QueryStringsConfig": { "QueryStringBehavior": "none" },
                        "EnableAcceptEncodingGzip": caches,
                        "EnableAcceptEncodingBrotli": caches,
                    },
                },
            }),
        ),
    )
}

fn add_headers_policy(template: &mut Template, ctx: &Context, settings: &Settings) {
    let mut security = json!({
        "StrictTransportSecurity": {
            "AccessControlMaxAgeSec": 63_072_000,
            "IncludeSubdomains": true,
            "Preload": true,
            "Override": true,
        },
        "ContentTypeOptions": { "Override": true },
        "FrameOptions": { "FrameOption": "DENY", "Override": true },
        "ReferrerPolicy": { "ReferrerPolicy": "strict-origin-when-cross-origin", "Override": true },
    });
    if let Some(csp) = &settings.content_security_policy {
        security["ContentSecurityPolicy"] =
            json!({ "ContentSecurityPolicy": csp, "Override": true });
    }
    template.resource(
        HEADERS_POLICY,
        Resource::new(
            "AWS::CloudFront::ResponseHeadersPolicy",
            json!({
                "ResponseHeadersPolicyConfig": {
                    "Name": ctx.name("frontend-security-headers"),
                    "Comment": "HSTS, nosniff, no framing, strict referrer, content security policy",
                    "SecurityHeadersConfig": security,
                },
            }),
        ),
    );
}
