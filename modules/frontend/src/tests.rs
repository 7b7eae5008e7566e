//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, resource, resources};
use strata_sdk::{Context, Rendered, Value};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "frontend");

const CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
const WEB_ACL: &str =
    "arn:aws:wafv2:us-east-1:123456789012:global/webacl/site/0a1b2c3d-4e5f-6789-abcd-ef0123456789";

fn context_in(region: &str) -> Context {
    Context {
        region: region.into(),
        ..test_ctx()
    }
}

fn distribution(rendered: &Rendered) -> &Value {
    &resource(rendered, "Distribution")["Properties"]["DistributionConfig"]
}

fn cache_policy<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &resource(rendered, id)["Properties"]["CachePolicyConfig"]
}

fn security_headers(rendered: &Rendered) -> &Value {
    &resource(rendered, "SecurityHeadersPolicy")["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
}

#[test]
fn renders_an_empty_table_with_defaults() {
    let rendered = rendered("{}");
    let ids: Vec<&str> = resources(&rendered).map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "AssetsCachePolicy",
            "Bucket",
            "BucketPolicy",
            "DefaultCachePolicy",
            "Distribution",
            "HtmlCachePolicy",
            "OriginAccessControl",
            "SecurityHeadersPolicy",
        ]
    );
    assert!(rendered.imports.is_empty());
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
}

#[test]
fn keeps_the_bucket_private_encrypted_versioned_and_retained() {
    let rendered = rendered("{}");
    let bucket = resource(&rendered, "Bucket");
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    assert_eq!(bucket["UpdateReplacePolicy"], "Retain");
    let properties = &bucket["Properties"];
    assert_eq!(
        properties["BucketName"].to_string(),
        r#"{"Fn::Sub":"acme-test-frontend-${AWS::AccountId}"}"#
    );
    assert_eq!(
        properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    let block = &properties["PublicAccessBlockConfiguration"];
    for key in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[key], true, "{key}");
    }
    assert_eq!(
        properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
        "BucketOwnerEnforced"
    );
    assert_eq!(properties["VersioningConfiguration"]["Status"], "Enabled");
    let rule = &properties["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(
        rule["Transitions"][0]["StorageClass"],
        "INTELLIGENT_TIERING"
    );
    assert_eq!(rule["Transitions"][0]["TransitionInDays"], 30);
    assert_eq!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 90);
}

#[test]
fn sets_the_lifecycle_from_the_config() {
    let rendered =
        rendered(r#"{"intelligent_tiering_days": 0, "noncurrent_version_expiration_days": 7}"#);
    let rule = &resource(&rendered, "Bucket")["Properties"]["LifecycleConfiguration"]["Rules"][0];
    assert_eq!(rule["Transitions"][0]["TransitionInDays"], 0);
    assert_eq!(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 7);
}

#[test]
fn lets_only_this_distribution_read_the_bucket_over_tls() {
    let rendered = rendered("{}");
    let policy = &resource(&rendered, "BucketPolicy")["Properties"];
    assert_eq!(policy["Bucket"].to_string(), r#"{"Ref":"Bucket"}"#);
    let [allow, deny] = [0, 1].map(|i| &policy["PolicyDocument"]["Statement"][i]);
    assert_eq!(allow["Effect"], "Allow");
    assert_eq!(allow["Principal"]["Service"], "cloudfront.amazonaws.com");
    assert_eq!(allow["Action"], "s3:GetObject");
    assert_eq!(
        allow["Resource"].to_string(),
        r#"{"Fn::Sub":"arn:${AWS::Partition}:s3:::${Bucket}/*"}"#
    );
    assert_eq!(
        allow["Condition"]["StringEquals"]["AWS:SourceArn"].to_string(),
        r#"{"Fn::Sub":"arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"}"#
    );
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Principal"], "*");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
}

#[test]
fn serves_the_bucket_over_https_through_origin_access_control() {
    let rendered = rendered("{}");
    let config = distribution(&rendered);
    assert_eq!(config["Enabled"], true);
    assert_eq!(config["DefaultRootObject"], "index.html");
    assert_eq!(config["HttpVersion"], "http2and3");
    assert_eq!(config["IPV6Enabled"], true);
    assert_eq!(config["PriceClass"], "PriceClass_100");
    let origin = &config["Origins"][0];
    assert_eq!(
        origin["DomainName"].to_string(),
        r#"{"Fn::GetAtt":["Bucket","RegionalDomainName"]}"#
    );
    assert_eq!(
        origin["OriginAccessControlId"].to_string(),
        r#"{"Fn::GetAtt":["OriginAccessControl","Id"]}"#
    );
    assert_eq!(origin["S3OriginConfig"]["OriginAccessIdentity"], "");
    let behaviours = std::iter::once(&config["DefaultCacheBehavior"])
        .chain(config["CacheBehaviors"].as_array().expect("behaviours"));
    for behaviour in behaviours {
        assert_eq!(behaviour["ViewerProtocolPolicy"], "redirect-to-https");
        assert_eq!(behaviour["Compress"], true);
        assert_eq!(behaviour["TargetOriginId"], origin["Id"]);
        assert_eq!(
            behaviour["ResponseHeadersPolicyId"].to_string(),
            r#"{"Ref":"SecurityHeadersPolicy"}"#
        );
    }
    assert_eq!(
        config["ViewerCertificate"].to_string(),
        r#"{"CloudFrontDefaultCertificate":true}"#
    );
    assert!(config.get("Aliases").is_none());
    let oac =
        &resource(&rendered, "OriginAccessControl")["Properties"]["OriginAccessControlConfig"];
    assert_eq!(oac["SigningBehavior"], "always");
    assert_eq!(oac["SigningProtocol"], "sigv4");
    assert_eq!(oac["OriginAccessControlOriginType"], "s3");
}

#[test]
fn caches_html_assets_and_the_rest_for_their_own_time() {
    let rendered = rendered("{}");
    let config = distribution(&rendered);
    assert_eq!(
        config["DefaultCacheBehavior"]["CachePolicyId"].to_string(),
        r#"{"Ref":"DefaultCachePolicy"}"#
    );
    let [html, assets] = [0, 1].map(|i| &config["CacheBehaviors"][i]);
    assert_eq!(html["PathPattern"], "*.html");
    assert_eq!(
        html["CachePolicyId"].to_string(),
        r#"{"Ref":"HtmlCachePolicy"}"#
    );
    assert_eq!(assets["PathPattern"], "/assets/*");
    assert_eq!(
        assets["CachePolicyId"].to_string(),
        r#"{"Ref":"AssetsCachePolicy"}"#
    );
    for (id, name, ttl) in [
        ("HtmlCachePolicy", "acme-test-frontend-html", 300),
        ("AssetsCachePolicy", "acme-test-frontend-assets", 31_536_000),
        ("DefaultCachePolicy", "acme-test-frontend-default", 3600),
    ] {
        let policy = cache_policy(&rendered, id);
        assert_eq!(policy["Name"], name);
        assert_eq!(policy["MinTTL"], 0);
        assert_eq!(policy["DefaultTTL"], ttl);
        assert_eq!(policy["MaxTTL"], ttl);
        let parameters = &policy["ParametersInCacheKeyAndForwardedToOrigin"];
        assert_eq!(parameters["EnableAcceptEncodingGzip"], true);
        assert_eq!(parameters["EnableAcceptEncodingBrotli"], true);
        assert_eq!(
            parameters["QueryStringsConfig"]["QueryStringBehavior"],
            "none"
        );
    }
}

#[test]
fn takes_cache_times_and_the_assets_pattern_from_the_config() {
    let rendered = rendered(
        r#"{"html_ttl_seconds": 0, "assets_ttl_seconds": 86400, "default_ttl_seconds": 60, "assets_path_pattern": "/static/*"}"#,
    );
    assert_eq!(
        distribution(&rendered)["CacheBehaviors"][1]["PathPattern"],
        "/static/*"
    );
    let html = cache_policy(&rendered, "HtmlCachePolicy");
    assert_eq!(html["MaxTTL"], 0);
    // Caching off: CloudFront refuses the compression settings then.
    assert_eq!(
        html["ParametersInCacheKeyAndForwardedToOrigin"]["EnableAcceptEncodingGzip"],
        false
    );
    assert_eq!(
        cache_policy(&rendered, "AssetsCachePolicy")["DefaultTTL"],
        86400
    );
    assert_eq!(
        cache_policy(&rendered, "DefaultCachePolicy")["DefaultTTL"],
        60
    );
}

#[test]
fn routes_missing_paths_to_the_single_page_app() {
    let rendered = rendered("{}");
    assert_eq!(
        distribution(&rendered)["CustomErrorResponses"].to_string(),
        r#"[{"ErrorCachingMinTTL":10,"ErrorCode":403,"ResponseCode":200,"ResponsePagePath":"/index.html"},{"ErrorCachingMinTTL":10,"ErrorCode":404,"ResponseCode":200,"ResponsePagePath":"/index.html"}]"#
    );
    let rendered = self::rendered(r#"{"spa": false}"#);
    assert!(
        distribution(&rendered)
            .get("CustomErrorResponses")
            .is_none()
    );
}

#[test]
fn sends_security_headers() {
    let rendered = rendered("{}");
    let headers = security_headers(&rendered);
    let hsts = &headers["StrictTransportSecurity"];
    assert_eq!(hsts["AccessControlMaxAgeSec"], 63_072_000);
    assert_eq!(hsts["IncludeSubdomains"], true);
    assert_eq!(hsts["Preload"], true);
    assert_eq!(headers["ContentTypeOptions"]["Override"], true);
    assert_eq!(headers["FrameOptions"]["FrameOption"], "DENY");
    assert_eq!(
        headers["ReferrerPolicy"]["ReferrerPolicy"],
        "strict-origin-when-cross-origin"
    );
    assert_eq!(
        headers["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    );
}

#[test]
fn sends_the_configured_content_security_policy_or_none() {
    let rendered =
        rendered(r#"{"content_security_policy": "default-src 'self' https://api.example.com"}"#);
    assert_eq!(
        security_headers(&rendered)["ContentSecurityPolicy"]["ContentSecurityPolicy"],
        "default-src 'self' https://api.example.com"
    );
    let rendered = self::rendered(r#"{"content_security_policy": ""}"#);
    assert!(
        security_headers(&rendered)
            .get("ContentSecurityPolicy")
            .is_none()
    );
}

#[test]
fn serves_domain_names_with_the_certificate_stacks_certificate() {
    let rendered = rendered(r#"{"domain_names": ["app.example.com", "www.example.com"]}"#);
    testing::assert_imports(&rendered, &[("certificate", "certificate-arn")]);
    let config = distribution(&rendered);
    assert_eq!(
        config["Aliases"].to_string(),
        r#"["app.example.com","www.example.com"]"#
    );
    assert_eq!(
        config["ViewerCertificate"].to_string(),
        r#"{"AcmCertificateArn":{"Fn::ImportValue":"acme-test-certificate-certificate-arn"},"MinimumProtocolVersion":"TLSv1.2_2021","SslSupportMethod":"sni-only"}"#
    );
}

#[test]
fn imports_from_the_configured_certificate_stack() {
    let rendered =
        rendered(r#"{"domain_names": ["app.example.com"], "certificate_stack": "edge-cert"}"#);
    assert_eq!(rendered.imports[0].stack, "edge-cert");
}

#[test]
fn prefers_a_written_certificate_arn_over_the_import() {
    let rendered = rendered(&format!(
        r#"{{"domain_names": ["app.example.com"], "certificate_arn": "{CERTIFICATE}"}}"#
    ));
    assert!(rendered.imports.is_empty());
    assert_eq!(
        distribution(&rendered)["ViewerCertificate"]["AcmCertificateArn"],
        CERTIFICATE
    );
}

#[test]
fn rejects_domain_names_outside_us_east_1_without_a_certificate_arn() {
    let error = error_in(
        &context_in("eu-west-1"),
        r#"{"domain_names": ["app.example.com"]}"#,
        "domain_names",
    );
    assert_eq!(
        error.message,
        "domain names need a certificate in `us-east-1`, and the `certificate` stack's is in `eu-west-1`"
    );
    assert!(error.help.unwrap_or_default().contains("`certificate_arn`"));
}

#[test]
fn serves_domain_names_outside_us_east_1_with_a_certificate_arn() {
    let rendered = rendered_in(
        &context_in("eu-west-1"),
        &format!(r#"{{"domain_names": ["app.example.com"], "certificate_arn": "{CERTIFICATE}"}}"#),
    );
    assert!(rendered.imports.is_empty());
    assert_eq!(distribution(&rendered)["Aliases"][0], "app.example.com");
}

#[test]
fn serves_without_domain_names_in_any_region() {
    let rendered = rendered_in(&context_in("eu-west-1"), "{}");
    assert!(rendered.imports.is_empty());
}

#[test]
fn rejects_a_certificate_outside_us_east_1() {
    let arn = CERTIFICATE.replace("us-east-1", "eu-west-1");
    let error = error_at(
        &format!(r#"{{"domain_names": ["app.example.com"], "certificate_arn": "{arn}"}}"#),
        "certificate_arn",
    );
    assert_eq!(
        error.message,
        "the certificate is in `eu-west-1`, CloudFront only uses certificates of `us-east-1`"
    );
}

#[test]
fn rejects_a_malformed_certificate_arn() {
    for arn in [
        "",
        "arn:aws:acm:us-east-1:123456789012:certificate/nope",
        "arn:aws:iam::123456789012:server-certificate/x",
    ] {
        error_at(
            &format!(r#"{{"domain_names": ["app.example.com"], "certificate_arn": "{arn}"}}"#),
            "certificate_arn",
        );
    }
}

#[test]
fn warns_that_a_certificate_arn_without_domain_names_is_ignored() {
    let rendered = rendered(&format!(r#"{{"certificate_arn": "{CERTIFICATE}"}}"#));
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "certificate_arn");
    assert_eq!(
        distribution(&rendered)["ViewerCertificate"].to_string(),
        r#"{"CloudFrontDefaultCertificate":true}"#
    );
}

#[test]
fn rejects_domain_names_without_any_certificate() {
    error_at(
        r#"{"domain_names": ["app.example.com"], "certificate_stack": ""}"#,
        "domain_names",
    );
}

#[test]
fn rejects_bad_and_repeated_domain_names() {
    let error = error_at(r#"{"domain_names": ["App.example.com"]}"#, "domain_names.0");
    assert_eq!(error.help.as_deref(), Some("write `app.example.com`"));
    for name in ["", "app..example.com", "app.*.example.com", "localhost"] {
        error_at(
            &format!(r#"{{"domain_names": ["{name}"]}}"#),
            "domain_names.0",
        );
    }
    error_at(
        r#"{"domain_names": ["a.example.com", "a.example.com"]}"#,
        "domain_names.1",
    );
}

#[test]
fn drops_a_trailing_dot_of_a_domain_name_with_a_warning() {
    let rendered = rendered(r#"{"domain_names": ["app.example.com."]}"#);
    assert_eq!(distribution(&rendered)["Aliases"][0], "app.example.com");
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "domain_names.0");
}

#[test]
fn attaches_a_cloudfront_web_acl() {
    let rendered = rendered(&format!(r#"{{"web_acl_arn": "{WEB_ACL}"}}"#));
    assert_eq!(distribution(&rendered)["WebACLId"], WEB_ACL);
    assert!(
        distribution(&self::rendered("{}"))
            .get("WebACLId")
            .is_none()
    );
}

#[test]
fn rejects_a_regional_web_acl() {
    let arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/site/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
    let error = error_at(&format!(r#"{{"web_acl_arn": "{arn}"}}"#), "web_acl_arn");
    assert!(error.message.contains("scope `REGIONAL`"));
    for arn in [
        "site",
        "arn:aws:wafv2:us-east-1:123456789012:global/ipset/x/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ] {
        error_at(&format!(r#"{{"web_acl_arn": "{arn}"}}"#), "web_acl_arn");
    }
}

#[test]
fn suggests_the_price_class_meant() {
    for (written, meant) in [
        ("PriceClass100", "PriceClass_100"),
        ("100", "PriceClass_100"),
        ("all", "PriceClass_All"),
        ("priceclass_200", "PriceClass_200"),
    ] {
        let error = error_at(&format!(r#"{{"price_class": "{written}"}}"#), "price_class");
        assert_eq!(
            error.help,
            Some(format!("did you mean `{meant}`?")),
            "{written}"
        );
    }
    let error = error_at(r#"{"price_class": "cheapest"}"#, "price_class");
    assert_eq!(
        error.help.as_deref(),
        Some("use `PriceClass_100`, `PriceClass_200` or `PriceClass_All`")
    );
}

#[test]
fn renders_every_price_class() {
    for class in ["PriceClass_100", "PriceClass_200", "PriceClass_All"] {
        let rendered = rendered(&format!(r#"{{"price_class": "{class}"}}"#));
        assert_eq!(distribution(&rendered)["PriceClass"], class);
    }
}

#[test]
fn rejects_cache_times_above_a_year() {
    for key in [
        "html_ttl_seconds",
        "assets_ttl_seconds",
        "default_ttl_seconds",
    ] {
        error_at(&format!(r#"{{"{key}": 31536001}}"#), key);
    }
}

#[test]
fn rejects_assets_patterns_cloudfront_refuses_or_that_shadow_others() {
    for pattern in [
        "",
        "*",
        "/*",
        "*.html",
        "/assets/<x>",
        "/assets/ *",
        &format!("/{}", "a".repeat(255)),
    ] {
        error_at(
            &format!(r#"{{"assets_path_pattern": "{pattern}"}}"#),
            "assets_path_pattern",
        );
    }
}

#[test]
fn rejects_a_content_security_policy_cloudfront_cannot_send() {
    let long = "a".repeat(1784);
    error_at(
        &format!(r#"{{"content_security_policy": "{long}"}}"#),
        "content_security_policy",
    );
    error_at(
        r#"{"content_security_policy": "default-src 'self';\nimg-src *"}"#,
        "content_security_policy",
    );
}

#[test]
fn rejects_expiring_old_versions_at_once() {
    error_at(
        r#"{"noncurrent_version_expiration_days": 0}"#,
        "noncurrent_version_expiration_days",
    );
}

#[test]
fn rejects_a_bucket_name_s3_would_refuse() {
    let ctx = Context {
        project: "a-project-name-long-enough-to-overflow".into(),
        ..test_ctx()
    };
    let error = error_in(&ctx, "{}", "");
    assert!(error.message.contains("S3 bucket name"));
    let ctx = Context {
        project: "Acme".into(),
        ..test_ctx()
    };
    error_in(&ctx, "{}", "");
}

#[test]
fn rejects_a_certificate_stack_that_is_not_a_stack_name() {
    error_at(r#"{"certificate_stack": "Cert"}"#, "certificate_stack");
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    testing::assert_output_values(
        &rendered,
        &[
            ("DistributionId", r#"{"Ref":"Distribution"}"#),
            (
                "DistributionDomainName",
                r#"{"Fn::GetAtt":["Distribution","DomainName"]}"#,
            ),
            ("BucketName", r#"{"Ref":"Bucket"}"#),
            ("BucketArn", r#"{"Fn::GetAtt":["Bucket","Arn"]}"#),
        ],
    );
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), "{}");
    let production = testing::production_context("frontend");
    let rendered = rendered_in(&production, r#"{"domain_names": ["app.example.com"]}"#);
    testing::assert_tagged(&rendered, &production);
}

#[test]
fn renders_production_like_development() {
    let production = testing::production_context("frontend");
    let rendered = rendered_in(&production, r#"{"access_logs_stack": "s3"}"#);
    assert_eq!(resources(&rendered).count(), 8);
    assert_eq!(resource(&rendered, "Bucket")["DeletionPolicy"], "Retain");
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let silent = rendered_in(&production, "{}");
    assert_eq!(silent.warnings.len(), 1);
    assert_eq!(silent.warnings[0].path, "access_logs_stack");
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &context_in("eu-west-1"),
        r#"{"domain_names": ["Bad..name"], "certificate_stack": "X", "price_class": "cheap",
            "html_ttl_seconds": 99999999, "assets_path_pattern": "*", "content_security_policy": "a\tb",
            "noncurrent_version_expiration_days": 0, "web_acl_arn": "nope"}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "domain_names.0",
            "certificate_stack",
            "domain_names",
            "price_class",
            "html_ttl_seconds",
            "assets_path_pattern",
            "content_security_policy",
            "noncurrent_version_expiration_days",
            "web_acl_arn",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"domains": []}"#, "domains");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(14);
}

#[test]
fn logs_access_to_the_logs_bucket_of_an_s3_stack_on_request() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"access_logs_stack": "s3"}"#);
    let logging = &rendered.template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
        ["Logging"];
    assert_eq!(
        logging["Bucket"].to_string(),
        format!(
            r#"{{"Fn::Join":["",[{},".s3.amazonaws.com"]]}}"#,
            testing::import_value(&ctx, "s3", "logs-bucket-name")
        )
    );
    assert_eq!(logging["Prefix"], "cloudfront/");
    let without = rendered_in(&ctx, "{}");
    assert!(
        without.template["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
            .get("Logging")
            .is_none()
    );
}
