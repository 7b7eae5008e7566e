//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, resources};
use strata_sdk::{Rendered, Value};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "certificate");

const ARN: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";

fn certificate(rendered: &Rendered) -> &Value {
    &rendered.template["Resources"]["Certificate"]["Properties"]
}

const ZONE_NAME: &str = r#"{"Fn::ImportValue":"acme-test-hosted-zone-zone-name"}"#;
const ZONE_ID: &str = r#"{"Fn::ImportValue":"acme-test-hosted-zone-zone-id"}"#;

#[test]
fn certifies_the_zone_and_its_wildcard_by_default() {
    let rendered = rendered("{}");
    assert_eq!(resources(&rendered).count(), 1);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let cert = certificate(&rendered);
    assert_eq!(cert["DomainName"].to_string(), ZONE_NAME);
    assert_eq!(
        cert["SubjectAlternativeNames"].to_string(),
        format!(r#"[{{"Fn::Join":["",["*.",{ZONE_NAME}]]}}]"#)
    );
    assert_eq!(cert["ValidationMethod"], "DNS");
    assert_eq!(cert["CertificateTransparencyLoggingPreference"], "ENABLED");
    assert_eq!(cert["KeyAlgorithm"], "RSA_2048");
    // The wildcard validates through the apex's CNAME: one option.
    assert_eq!(
        cert["DomainValidationOptions"].to_string(),
        format!(r#"[{{"DomainName":{ZONE_NAME},"HostedZoneId":{ZONE_ID}}}]"#)
    );
}

#[test]
fn imports_the_zone_id_and_name_from_the_hosted_zone_stack() {
    testing::assert_imports(
        &rendered("{}"),
        &[("hosted-zone", "zone-id"), ("hosted-zone", "zone-name")],
    );
}

#[test]
fn imports_only_the_zone_id_when_the_domain_is_written() {
    let rendered = rendered(r#"{"domain": "api.example.com", "hosted_zone_stack": "dns"}"#);
    testing::assert_imports(&rendered, &[("dns", "zone-id")]);
    let cert = certificate(&rendered);
    assert_eq!(cert["DomainName"], "api.example.com");
    assert_eq!(
        cert["SubjectAlternativeNames"].to_string(),
        r#"["*.api.example.com"]"#
    );
    assert_eq!(
        cert["DomainValidationOptions"].to_string(),
        r#"[{"DomainName":"api.example.com","HostedZoneId":{"Fn::ImportValue":"acme-test-dns-zone-id"}}]"#
    );
}

#[test]
fn validates_every_name_not_covered_by_its_base() {
    let rendered = rendered(
        r#"{"domain": "example.com", "subject_alternative_names": ["*.example.com", "api.example.com", "*.dev.example.com"]}"#,
    );
    let options = certificate(&rendered)["DomainValidationOptions"]
        .as_array()
        .expect("options")
        .iter()
        .map(|option| option["DomainName"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        options,
        ["example.com", "api.example.com", "*.dev.example.com"]
    );
}

#[test]
fn certifies_the_apex_beside_a_wildcard_domain() {
    let rendered = rendered(r#"{"domain": "*.example.com"}"#);
    let cert = certificate(&rendered);
    assert_eq!(
        cert["SubjectAlternativeNames"].to_string(),
        r#"["example.com"]"#
    );
    assert_eq!(
        cert["DomainValidationOptions"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        cert["DomainValidationOptions"][0]["DomainName"],
        "example.com"
    );
}

#[test]
fn leaves_out_alternative_names_when_given_none() {
    let rendered = rendered(r#"{"subject_alternative_names": []}"#);
    assert!(
        certificate(&rendered)
            .get("SubjectAlternativeNames")
            .is_none()
    );
}

#[test]
fn adds_literal_alternative_names_beside_an_imported_domain() {
    let rendered = rendered(r#"{"subject_alternative_names": ["www.example.com"]}"#);
    let cert = certificate(&rendered);
    assert_eq!(
        cert["SubjectAlternativeNames"].to_string(),
        r#"["www.example.com"]"#
    );
    assert_eq!(
        cert["DomainValidationOptions"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    let outputs = testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    assert_eq!(
        outputs["CertificateArn"]["Value"].to_string(),
        r#"{"Ref":"Certificate"}"#
    );
}

#[test]
fn tags_the_certificate() {
    let rendered = rendered("{}");
    testing::assert_tagged(&rendered, &test_ctx());
    assert_eq!(
        certificate(&rendered)["Tags"][0]["Value"],
        "acme-test-certificate"
    );
}

#[test]
fn renders_the_same_certificate_in_production() {
    let ctx = testing::production_context("certificate");
    let rendered = rendered_in(&ctx, "{}");
    assert_eq!(resources(&rendered).count(), 1);
    testing::assert_tagged(&rendered, &ctx);
}

#[test]
fn adopts_an_existing_certificate_without_importing() {
    let rendered = rendered(&format!(r#"{{"existing_certificate_arn": "{ARN}"}}"#));
    assert!(rendered.imports.is_empty());
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let ids: Vec<&str> = resources(&rendered).map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["Placeholder"]);
    assert_eq!(rendered.exports, EXPORTS);
    assert_eq!(rendered.template["Outputs"]["CertificateArn"]["Value"], ARN);
    testing::assert_tagged(&rendered, &test_ctx());
}

#[test]
fn warns_that_names_are_ignored_when_adopting() {
    let rendered = rendered(&format!(
        r#"{{"existing_certificate_arn": "{ARN}", "domain": "example.com", "subject_alternative_names": []}}"#
    ));
    let paths: Vec<&str> = rendered.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["domain", "subject_alternative_names"]);
}

#[test]
fn warns_about_a_certificate_of_another_region_or_account() {
    let arn = "arn:aws:acm:eu-west-1:210987654321:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789";
    let rendered = rendered(&format!(r#"{{"existing_certificate_arn": "{arn}"}}"#));
    let messages: Vec<&str> = rendered
        .warnings
        .iter()
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "the certificate is in `eu-west-1`, this environment deploys to `us-east-1`",
            "the certificate belongs to account `210987654321`, this environment deploys to `123456789012`",
        ]
    );
}

#[test]
fn rejects_malformed_certificate_arns() {
    for arn in [
        "",
        "arn:aws:acm:us-east-1:123456789012:certificate/nope",
        "arn:aws:iam::123456789012:server-certificate/site",
        "arn:aws:acm:us-east-1:12345:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    ] {
        let error = error_at(
            &format!(r#"{{"existing_certificate_arn": "{arn}"}}"#),
            "existing_certificate_arn",
        );
        assert!(
            error
                .message
                .starts_with(&format!("`{arn}` is not an ACM certificate ARN: "))
        );
    }
}

#[test]
fn rejects_malformed_domains() {
    for domain in [
        "Example.com",
        "example..com",
        "api.*.example.com",
        "localhost",
        "-a.example.com",
        "",
    ] {
        error_at(&format!(r#"{{"domain": "{domain}"}}"#), "domain");
    }
}

#[test]
fn suggests_a_lowercase_domain() {
    let error = error_at(r#"{"domain": "API.Example.com"}"#, "domain");
    assert_eq!(error.help.as_deref(), Some("write `api.example.com`"));
}

#[test]
fn drops_a_trailing_dot_with_a_warning() {
    let rendered = rendered(
        r#"{"domain": "example.com.", "subject_alternative_names": ["www.example.com."]}"#,
    );
    assert_eq!(certificate(&rendered)["DomainName"], "example.com");
    assert_eq!(
        certificate(&rendered)["SubjectAlternativeNames"].to_string(),
        r#"["www.example.com"]"#
    );
    let paths: Vec<&str> = rendered.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["domain", "subject_alternative_names.0"]);
}

#[test]
fn rejects_bad_and_repeated_alternative_names() {
    error_at(
        r#"{"subject_alternative_names": ["www.example.com", "WWW.example.com"]}"#,
        "subject_alternative_names.1",
    );
    let error = error_at(
        r#"{"subject_alternative_names": ["www.example.com", "www.example.com"]}"#,
        "subject_alternative_names.1",
    );
    assert_eq!(error.message, "`www.example.com` is listed twice");
    let error = error_at(
        r#"{"domain": "example.com", "subject_alternative_names": ["example.com"]}"#,
        "subject_alternative_names.0",
    );
    assert_eq!(
        error.message,
        "`example.com` is already the certificate's `domain`"
    );
}

#[test]
fn warns_above_the_default_quota_and_rejects_above_acm_limit() {
    let names = |n: usize| {
        (0..n)
            .map(|i| format!(r#""n{i}.example.com""#))
            .collect::<Vec<_>>()
            .join(",")
    };
    let rendered = rendered(&format!(
        r#"{{"subject_alternative_names": [{}]}}"#,
        names(10)
    ));
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "subject_alternative_names");
    error_at(
        &format!(r#"{{"subject_alternative_names": [{}]}}"#, names(100)),
        "subject_alternative_names",
    );
}

#[test]
fn rejects_a_hosted_zone_stack_that_is_not_a_stack_name() {
    let error = error_at(
        r#"{"hosted_zone_stack": "Hosted Zone"}"#,
        "hosted_zone_stack",
    );
    assert!(
        error
            .help
            .unwrap_or_default()
            .ends_with("e.g. `hosted-zone`")
    );
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"hosted_zone_stack": "", "domain": "Example.com", "subject_alternative_names": ["a..b", "ok.example.com", "ok.example.com"]}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "hosted_zone_stack",
            "domain",
            "subject_alternative_names.0",
            "subject_alternative_names.2",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"domains": ["example.com"]}"#, "domains");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(4);
}
