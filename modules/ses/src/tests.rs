//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::Severity;
use strata_sdk::testing::{self, count_of, has_resource, import_value, properties, resources};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "ses");

#[test]
fn renders_an_empty_table_as_the_zones_domain_with_dkim_records() {
    let ctx = test_ctx();
    let rendered = rendered("{}");
    let identity = properties(&rendered, "EmailIdentity");
    assert_eq!(
        identity["EmailIdentity"].to_string(),
        import_value(&ctx, "hosted-zone", "zone-name")
    );
    assert_eq!(identity["DkimAttributes"]["SigningEnabled"], true);
    assert_eq!(
        identity["DkimSigningAttributes"]["NextSigningKeyLength"],
        "RSA_2048_BIT"
    );
    assert_eq!(
        identity["ConfigurationSetAttributes"]["ConfigurationSetName"].to_string(),
        r#"{"Ref":"ConfigurationSet"}"#
    );
    assert!(identity.get("MailFromAttributes").is_none());
    assert_eq!(count_of(&rendered, "AWS::Route53::RecordSet"), 3);
    assert_eq!(resources(&rendered).count(), 5);
    assert!(rendered.warnings.is_empty());
}

#[test]
fn writes_the_three_dkim_cnames_into_the_hosted_zone() {
    let rendered = rendered(r#"{"domain": "mail.example.com", "record_ttl": 600}"#);
    let zone = import_value(&test_ctx(), "hosted-zone", "zone-id");
    for n in 1..=3 {
        let record = properties(&rendered, &format!("DkimRecord{n}"));
        assert_eq!(record["HostedZoneId"].to_string(), zone);
        assert_eq!(record["Type"], "CNAME");
        assert_eq!(record["TTL"], "600");
        assert_eq!(
            record["Name"].to_string(),
            format!(r#"{{"Fn::GetAtt":["EmailIdentity","DkimDNSTokenName{n}"]}}"#)
        );
        assert_eq!(
            record["ResourceRecords"].to_string(),
            format!(r#"[{{"Fn::GetAtt":["EmailIdentity","DkimDNSTokenValue{n}"]}}]"#)
        );
    }
    assert_eq!(
        properties(&rendered, "EmailIdentity")["EmailIdentity"],
        "mail.example.com"
    );
    testing::assert_imports(&rendered, &[("hosted-zone", "zone-id")]);
}

#[test]
fn names_the_configuration_set_and_turns_on_reputation_metrics() {
    let set = properties(&rendered("{}"), "ConfigurationSet").clone();
    assert_eq!(set["Name"], "acme-test-ses");
    assert_eq!(set["ReputationOptions"]["ReputationMetricsEnabled"], true);
    assert_eq!(set["DeliveryOptions"]["TlsPolicy"], "REQUIRE");
    assert_eq!(
        set["SuppressionOptions"]["SuppressedReasons"].to_string(),
        r#"["BOUNCE","COMPLAINT"]"#
    );
    let relaxed = rendered(
        r#"{"tls_policy": "optional", "reputation_metrics": false, "suppress_bounces_and_complaints": false}"#,
    );
    let set = properties(&relaxed, "ConfigurationSet");
    assert_eq!(set["DeliveryOptions"]["TlsPolicy"], "OPTIONAL");
    assert_eq!(set["ReputationOptions"]["ReputationMetricsEnabled"], false);
    assert!(set.get("SuppressionOptions").is_none());
}

#[test]
fn publishes_chosen_events_to_cloudwatch() {
    let with_events = rendered(r#"{"cloudwatch_events": ["send", "bounce", "delivery-delay"]}"#);
    let destination = &properties(&with_events, "CloudWatchEventDestination")["EventDestination"];
    assert_eq!(
        destination["MatchingEventTypes"].to_string(),
        r#"["send","bounce","deliveryDelay"]"#
    );
    assert_eq!(destination["Enabled"], true);
    let dimension = &destination["CloudWatchDestination"]["DimensionConfigurations"][0];
    assert_eq!(dimension["DimensionName"], "ses:configuration-set");
    assert_eq!(dimension["DefaultDimensionValue"], "acme-test-ses");
    assert!(!has_resource(&rendered("{}"), "CloudWatchEventDestination"));
}

#[test]
fn adds_a_mail_from_domain_with_its_mx_and_spf_records() {
    let with_mail_from = rendered(r#"{"domain": "example.com", "mail_from_subdomain": "bounce"}"#);
    let identity = properties(&with_mail_from, "EmailIdentity");
    assert_eq!(
        identity["MailFromAttributes"]["MailFromDomain"],
        "bounce.example.com"
    );
    assert_eq!(
        identity["MailFromAttributes"]["BehaviorOnMxFailure"],
        "USE_DEFAULT_VALUE"
    );
    let mx = properties(&with_mail_from, "MailFromMxRecord");
    assert_eq!(mx["Name"], "bounce.example.com");
    assert_eq!(mx["Type"], "MX");
    assert_eq!(
        mx["ResourceRecords"][0]["Fn::Sub"],
        "10 feedback-smtp.${AWS::Region}.amazonses.com"
    );
    let spf = properties(&with_mail_from, "MailFromSpfRecord");
    assert_eq!(spf["Type"], "TXT");
    assert_eq!(
        spf["ResourceRecords"][0],
        "\"v=spf1 include:amazonses.com ~all\""
    );
    // On the zone's imported domain, the names are joined in the template.
    let imported = rendered(r#"{"mail_from_subdomain": "bounce"}"#);
    assert_eq!(
        properties(&imported, "MailFromMxRecord")["Name"].to_string(),
        format!(
            r#"{{"Fn::Join":[".",["bounce",{}]]}}"#,
            import_value(&test_ctx(), "hosted-zone", "zone-name")
        )
    );
}

#[test]
fn reads_the_zone_from_the_configured_stack() {
    let rendered = rendered(r#"{"hosted_zone_stack": "dns"}"#);
    testing::assert_imports(&rendered, &[("dns", "zone-id"), ("dns", "zone-name")]);
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    testing::assert_output_values(
        &rendered,
        &[
            ("IdentityName", r#"{"Ref":"EmailIdentity"}"#),
            (
                "IdentityArn",
                r#"{"Fn::Join":["",[{"Fn::Sub":"arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/"},{"Ref":"EmailIdentity"}]]}"#,
            ),
            ("ConfigurationSetName", r#"{"Ref":"ConfigurationSet"}"#),
        ],
    );
}

#[test]
fn tags_every_taggable_resource() {
    let config = r#"{"mail_from_subdomain": "bounce", "cloudwatch_events": ["send"]}"#;
    assert_tagged_in(&test_ctx(), config);
    assert_tagged_in(&production_ctx(), config);
}

#[test]
fn drops_a_trailing_dot_of_the_domain_with_a_warning() {
    let rendered = rendered(r#"{"domain": "example.com."}"#);
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
    assert_eq!(rendered.warnings[0].path, "domain");
}

#[test]
fn rejects_a_domain_that_is_not_one() {
    for domain in ["Example.com", "localhost", "*.example.com", "a..b"] {
        error_at(&format!(r#"{{"domain": "{domain}"}}"#), "domain");
    }
}

#[test]
fn rejects_bad_keys_at_their_path() {
    error_at(r#"{"dkim_key_bits": 4096}"#, "dkim_key_bits");
    error_at(
        r#"{"mail_from_subdomain": "Bounce"}"#,
        "mail_from_subdomain",
    );
    error_at(r#"{"mail_from_subdomain": ""}"#, "mail_from_subdomain");
    error_at(r#"{"record_ttl": 0}"#, "record_ttl");
    error_at(r#"{"hosted_zone_stack": "Zone"}"#, "hosted_zone_stack");
    error_at(r#"{"tls_policy": "always"}"#, "tls_policy");
    let error = error_at(
        r#"{"cloudwatch_events": ["bounce", "bounces"]}"#,
        "cloudwatch_events.1",
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `bounce`?"));
    error_at(
        r#"{"cloudwatch_events": ["send", "send"]}"#,
        "cloudwatch_events.1",
    );
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"domain": "Bad", "dkim_key_bits": 512, "mail_from_subdomain": "-x", "record_ttl": 0,
            "cloudwatch_events": ["nope"]}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "domain",
            "dkim_key_bits",
            "mail_from_subdomain",
            "record_ttl",
            "cloudwatch_events.0",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"dkim": true}"#, "dkim");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(12);
}

#[test]
fn publishes_a_dmarc_policy_with_its_report_address() {
    let with_dmarc = rendered(
        r#"{"domain": "example.com", "dmarc_policy": "quarantine", "dmarc_report_address": "dmarc@example.com"}"#,
    );
    let record = properties(&with_dmarc, "DmarcRecord");
    assert_eq!(record["Name"], "_dmarc.example.com");
    assert_eq!(record["Type"], "TXT");
    assert_eq!(
        record["ResourceRecords"][0],
        "\"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com\""
    );
    let monitor = rendered(r#"{"dmarc_policy": "none"}"#);
    assert_eq!(
        properties(&monitor, "DmarcRecord")["ResourceRecords"][0],
        "\"v=DMARC1; p=none\""
    );
    assert!(!has_resource(&rendered("{}"), "DmarcRecord"));
    error_at(
        r#"{"dmarc_report_address": "dmarc@example.com"}"#,
        "dmarc_report_address",
    );
    error_at(
        r#"{"dmarc_policy": "none", "dmarc_report_address": "dmarc"}"#,
        "dmarc_report_address",
    );
}

#[test]
fn verifies_single_addresses_as_identities() {
    let with_addresses =
        rendered(r#"{"verified_addresses": ["qa@example.com", "Ops.Team+ses@example.org"]}"#);
    assert_eq!(
        properties(&with_addresses, "QaExampleComAddressIdentity")["EmailIdentity"],
        "qa@example.com"
    );
    assert!(has_resource(
        &with_addresses,
        "OpsTeamSesExampleOrgAddressIdentity"
    ));
    assert_eq!(count_of(&with_addresses, "AWS::SES::EmailIdentity"), 3);
    assert_tagged_in(
        &production_ctx(),
        r#"{"verified_addresses": ["qa@example.com"]}"#,
    );
    error_at(r#"{"verified_addresses": ["qa"]}"#, "verified_addresses.0");
    error_at(
        r#"{"verified_addresses": ["qa@example"]}"#,
        "verified_addresses.0",
    );
    let error = error_at(
        r#"{"verified_addresses": ["a.b@example.com", "a-b@example.com"]}"#,
        "verified_addresses.1",
    );
    assert!(error.message.contains("logical id"), "{}", error.message);
    error_at(
        r#"{"verified_addresses": ["a@example.com", "a@example.com"]}"#,
        "verified_addresses.1",
    );
}
