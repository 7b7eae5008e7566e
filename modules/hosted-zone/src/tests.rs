//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::Severity;
use strata_sdk::testing::{self, error_paths, properties, resource, resources};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "hosted-zone");

/// A config of `example.com` with these records (a JSON list).
fn with_records(records: &str) -> String {
    format!(r#"{{"domain": "example.com", "records": {records}}}"#)
}

#[test]
fn asks_for_a_domain_when_the_table_is_empty() {
    let error = error_at("{}", "domain");
    assert_eq!(error.message, "a hosted zone needs a `domain`");
    assert!(error.help.is_some());
}

#[test]
fn renders_a_zone_for_a_domain_with_development_defaults() {
    let rendered = rendered(r#"{"domain": "example.com"}"#);
    assert_eq!(resources(&rendered).count(), 1);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let zone = resource(&rendered, "HostedZone");
    assert_eq!(zone["Type"], "AWS::Route53::HostedZone");
    assert_eq!(zone["DeletionPolicy"], "Delete");
    assert_eq!(zone["UpdateReplacePolicy"], "Delete");
    assert_eq!(zone["Properties"]["Name"], "example.com");
    assert_eq!(
        zone["Properties"]["HostedZoneConfig"]["Comment"],
        "acme-test DNS, managed by Strata"
    );
}

#[test]
fn retains_the_zone_in_production() {
    let rendered = rendered_in(&production_ctx(), r#"{"domain": "example.com"}"#);
    let zone = resource(&rendered, "HostedZone");
    assert_eq!(zone["DeletionPolicy"], "Retain");
    assert_eq!(zone["UpdateReplacePolicy"], "Retain");
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered(r#"{"domain": "example.com"}"#);
    let outputs = testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    testing::assert_output_values(
        &rendered,
        &[
            ("ZoneId", r#"{"Ref":"HostedZone"}"#),
            (
                "NameServers",
                r#"{"Fn::Join":[",",{"Fn::GetAtt":["HostedZone","NameServers"]}]}"#,
            ),
        ],
    );
    assert_eq!(outputs["ZoneName"]["Value"], "example.com");
    assert!(outputs["NameServers"].get("Export").is_none());
}

#[test]
fn imports_nothing() {
    assert!(rendered(r#"{"domain": "example.com"}"#).imports.is_empty());
}

#[test]
fn tags_the_zone_and_every_record() {
    let config = with_records(r#"[{"name": "www", "type": "A", "values": ["192.0.2.10"]}]"#);
    let rendered = rendered(&config);
    testing::assert_tagged(&rendered, &test_ctx());
    assert!(resource(&rendered, "HostedZone")["Properties"]["HostedZoneTags"].is_array());
}

#[test]
fn drops_a_trailing_dot_with_a_warning() {
    let rendered = rendered(r#"{"domain": "example.com."}"#);
    assert_eq!(
        resource(&rendered, "HostedZone")["Properties"]["Name"],
        "example.com"
    );
    assert_eq!(
        rendered.template["Outputs"]["ZoneName"]["Value"],
        "example.com"
    );
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "domain");
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
    assert_eq!(
        rendered.warnings[0].message,
        "the trailing dot of `example.com.` is dropped"
    );
}

#[test]
fn rejects_an_uppercase_domain_suggesting_it_in_lowercase() {
    let error = error_at(r#"{"domain": "Example.COM"}"#, "domain");
    assert_eq!(
        error.message,
        "`Example.COM` is not a valid domain name: it has uppercase letters"
    );
    assert_eq!(error.help.as_deref(), Some("write `example.com`"));
}

#[test]
fn rejects_malformed_domains() {
    for domain in [
        "example..com",
        ".example.com",
        "exa mple.com",
        "-example.com",
        "*.example.com",
        "_dmarc.example.com",
        "10.0.0.1",
        "example.com..",
    ] {
        error_at(&format!(r#"{{"domain": "{domain}"}}"#), "domain");
    }
}

#[test]
fn rejects_a_top_level_domain() {
    let error = error_at(r#"{"domain": "com"}"#, "domain");
    assert_eq!(error.message, "`com` is a top-level domain");
}

#[test]
fn adopts_an_existing_zone_without_creating_one() {
    let rendered = rendered(
        r#"{"domain": "example.com", "existing_zone_id": "Z0123456789ABC",
            "records": [{"name": "www", "type": "CNAME", "values": ["example.com"]}]}"#,
    );
    assert_eq!(resources(&rendered).count(), 1);
    let record = resource(&rendered, "RecordWwwCname");
    assert_eq!(record["Properties"]["HostedZoneId"], "Z0123456789ABC");
    let outputs = &rendered.template["Outputs"];
    assert_eq!(outputs["ZoneId"]["Value"], "Z0123456789ABC");
    assert_eq!(outputs["ZoneName"]["Value"], "example.com");
    assert!(outputs.get("NameServers").is_none());
    assert_eq!(rendered.exports, EXPORTS);
}

#[test]
fn holds_an_adopted_zone_without_records_with_a_placeholder() {
    let rendered = rendered(r#"{"domain": "example.com", "existing_zone_id": "Z0123456789ABC"}"#);
    let ids: Vec<&str> = resources(&rendered).map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["Placeholder"]);
    assert_eq!(
        resource(&rendered, "Placeholder")["Type"],
        "AWS::CloudFormation::WaitConditionHandle"
    );
    testing::assert_tagged(&rendered, &test_ctx());
}

#[test]
fn rejects_malformed_zone_ids() {
    for id in [
        "",
        "Z",
        "z0123456789abc",
        "ABC123",
        "Z0123-456",
        &format!("Z{}", "1".repeat(32)),
    ] {
        error_at(
            &format!(r#"{{"domain": "example.com", "existing_zone_id": "{id}"}}"#),
            "existing_zone_id",
        );
    }
}

#[test]
fn suggests_the_bare_id_of_a_hostedzone_path() {
    let error = error_at(
        r#"{"domain": "example.com", "existing_zone_id": "/hostedzone/Z0123456789ABC"}"#,
        "existing_zone_id",
    );
    assert_eq!(
        error.help.as_deref(),
        Some("write the bare id, `Z0123456789ABC`")
    );
}

#[test]
fn warns_that_a_comment_is_ignored_when_adopting() {
    let rendered = rendered(
        r#"{"domain": "example.com", "existing_zone_id": "Z0123456789ABC", "comment": "main zone"}"#,
    );
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "comment");
}

#[test]
fn uses_the_configured_comment() {
    let rendered = rendered(r#"{"domain": "example.com", "comment": "public DNS"}"#);
    assert_eq!(
        resource(&rendered, "HostedZone")["Properties"]["HostedZoneConfig"]["Comment"],
        "public DNS"
    );
}

#[test]
fn rejects_a_comment_longer_than_route_53_keeps() {
    let long = "c".repeat(257);
    error_at(
        &format!(r#"{{"domain": "example.com", "comment": "{long}"}}"#),
        "comment",
    );
}

#[test]
fn resolves_relative_apex_and_absolute_record_names() {
    let rendered = rendered(&with_records(
        r#"[{"name": "api", "type": "A", "values": ["192.0.2.10"]},
            {"name": "@", "type": "MX", "values": ["10 mail.example.com"]},
            {"name": "www.example.com.", "type": "AAAA", "values": ["2001:db8::10"]},
            {"name": "example.com", "type": "TXT", "values": ["v=spf1 -all"]},
            {"name": "*.dev", "type": "CNAME", "values": ["dev.example.com"]},
            {"name": "_dmarc", "type": "TXT", "values": ["v=DMARC1; p=reject"]}]"#,
    ));
    let name_of = |id: &str| resource(&rendered, id)["Properties"]["Name"].clone();
    assert_eq!(name_of("RecordApiA"), "api.example.com");
    assert_eq!(name_of("RecordApexMx"), "example.com");
    assert_eq!(name_of("RecordWwwAaaa"), "www.example.com");
    assert_eq!(name_of("RecordApexTxt"), "example.com");
    assert_eq!(name_of("RecordWildcardDevCname"), "*.dev.example.com");
    assert_eq!(name_of("RecordDmarcTxt"), "_dmarc.example.com");
    assert_eq!(resources(&rendered).count(), 7);
}

#[test]
fn renders_record_sets_in_the_zone_with_a_string_ttl() {
    let rendered = rendered(&with_records(
        r#"[{"name": "api", "type": "A", "values": ["192.0.2.10", "192.0.2.11"]},
            {"name": "www", "type": "CNAME", "values": ["api.example.com"], "ttl": 60}]"#,
    ));
    let api = &resource(&rendered, "RecordApiA")["Properties"];
    assert_eq!(api["HostedZoneId"].to_string(), r#"{"Ref":"HostedZone"}"#);
    assert_eq!(api["Type"], "A");
    assert_eq!(api["TTL"], "300");
    assert_eq!(
        api["ResourceRecords"].to_string(),
        r#"["192.0.2.10","192.0.2.11"]"#
    );
    assert_eq!(
        resource(&rendered, "RecordWwwCname")["Properties"]["TTL"],
        "60"
    );
}

#[test]
fn numbers_the_ids_of_names_that_fold_together() {
    let rendered = rendered(&with_records(
        r#"[{"name": "a-b", "type": "A", "values": ["192.0.2.1"]},
            {"name": "a.b", "type": "A", "values": ["192.0.2.2"]}]"#,
    ));
    assert_eq!(
        resource(&rendered, "RecordABA")["Properties"]["Name"],
        "a-b.example.com"
    );
    assert_eq!(
        resource(&rendered, "RecordAN1")["Properties"]["Name"],
        "a.b.example.com"
    );
}

#[test]
fn quotes_txt_values_unless_already_quoted() {
    let rendered = rendered(&with_records(
        r#"[{"name": "@", "type": "TXT", "values": ["v=spf1 include:amazonses.com -all", "\"google-site-verification=abc\""]}]"#,
    ));
    assert_eq!(
        resource(&rendered, "RecordApexTxt")["Properties"]["ResourceRecords"].to_string(),
        r#"["\"v=spf1 include:amazonses.com -all\"","\"google-site-verification=abc\""]"#
    );
}

#[test]
fn rejects_an_unknown_record_type_suggesting_the_closest() {
    let error = error_at(
        &with_records(r#"[{"name": "www", "type": "CNAM", "values": ["example.com"]}]"#),
        "records.0.type",
    );
    assert_eq!(
        error.message,
        "`CNAM` is not a record type this module writes"
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `CNAME`?"));
    let error = error_at(
        &with_records(r#"[{"name": "www", "type": "cname", "values": ["example.com"]}]"#),
        "records.0.type",
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `CNAME`?"));
    let error = error_at(
        &with_records(
            r#"[{"name": "_sip._tcp", "type": "SRV", "values": ["0 5 5060 sip.example.com"]}]"#,
        ),
        "records.0.type",
    );
    assert!(error.help.unwrap_or_default().starts_with("one of"));
}

#[test]
fn rejects_a_record_without_name_type_or_values() {
    let errors = errors(&with_records("[{}]"));
    assert_eq!(
        error_paths(&errors),
        ["records.0.type", "records.0.name", "records.0.values"]
    );
}

#[test]
fn rejects_a_record_name_outside_the_zone() {
    let error = error_at(
        &with_records(r#"[{"name": "www.example.org.", "type": "A", "values": ["192.0.2.1"]}]"#),
        "records.0.name",
    );
    assert_eq!(
        error.message,
        "`www.example.org.` is outside the zone `example.com`"
    );
}

#[test]
fn rejects_malformed_record_names() {
    for name in ["WWW", "a..b", "api.*", "-api", "a b"] {
        error_at(
            &with_records(&format!(
                r#"[{{"name": "{name}", "type": "A", "values": ["192.0.2.1"]}}]"#
            )),
            "records.0.name",
        );
    }
}

#[test]
fn checks_values_by_record_type() {
    for (kind, value) in [
        ("A", "2001:db8::1"),
        ("A", "example.com"),
        ("AAAA", "192.0.2.1"),
        ("CNAME", "not a host"),
        ("MX", "mail.example.com"),
        ("CAA", "0 issue amazon.com"),
        ("NS", "ns 1.example.com"),
    ] {
        let name = if kind == "NS" { "dev" } else { "www" };
        error_at(
            &with_records(&format!(
                r#"[{{"name": "{name}", "type": "{kind}", "values": ["{value}"]}}]"#
            )),
            "records.0.values.0",
        );
    }
}

#[test]
fn suggests_the_other_address_family() {
    let error = error_at(
        &with_records(r#"[{"name": "www", "type": "A", "values": ["192.0.2.1", "2001:db8::1"]}]"#),
        "records.0.values.1",
    );
    assert_eq!(
        error.message,
        "`2001:db8::1` is an IPv6 address; put it in an `AAAA` record"
    );
}

#[test]
fn rejects_a_cname_with_several_values() {
    error_at(
        &with_records(
            r#"[{"name": "www", "type": "CNAME", "values": ["a.example.com", "b.example.com"]}]"#,
        ),
        "records.0.values",
    );
}

#[test]
fn rejects_duplicate_values() {
    error_at(
        &with_records(r#"[{"name": "www", "type": "A", "values": ["192.0.2.1", "192.0.2.1"]}]"#),
        "records.0.values.1",
    );
}

#[test]
fn rejects_a_cname_or_ns_record_at_the_apex() {
    error_at(
        &with_records(r#"[{"name": "@", "type": "CNAME", "values": ["other.example.net"]}]"#),
        "records.0.name",
    );
    error_at(
        &with_records(r#"[{"name": "@", "type": "NS", "values": ["ns1.example.net"]}]"#),
        "records.0.name",
    );
}

#[test]
fn delegates_a_subdomain_with_ns_records() {
    let rendered = rendered(&with_records(
        r#"[{"name": "dev", "type": "NS", "values": ["ns-1.awsdns-01.org.", "ns-2.awsdns-02.com."], "ttl": 172800}]"#,
    ));
    let ns = &resource(&rendered, "RecordDevNs")["Properties"];
    assert_eq!(ns["Name"], "dev.example.com");
    assert_eq!(ns["TTL"], "172800");
}

#[test]
fn rejects_a_record_listed_twice() {
    let error = error_at(
        &with_records(
            r#"[{"name": "www", "type": "A", "values": ["192.0.2.1"]},
                {"name": "www.example.com", "type": "A", "values": ["192.0.2.2"]}]"#,
        ),
        "records.1.name",
    );
    assert_eq!(
        error.message,
        "`A` record `www.example.com` is listed twice (first as record 0)"
    );
}

#[test]
fn rejects_a_cname_beside_other_records_of_its_name() {
    error_at(
        &with_records(
            r#"[{"name": "www", "type": "TXT", "values": ["hello"]},
                {"name": "www", "type": "CNAME", "values": ["example.com"]}]"#,
        ),
        "records.1.name",
    );
}

#[test]
fn rejects_a_ttl_above_route_53_limit() {
    error_at(
        &with_records(
            r#"[{"name": "www", "type": "A", "values": ["192.0.2.1"], "ttl": 3000000000}]"#,
        ),
        "records.0.ttl",
    );
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"domain": "Example.com", "existing_zone_id": "bad", "comment": "warned",
            "records": [{"name": "www", "type": "SOA", "values": []},
                        {"name": "www", "type": "A", "values": ["nope"], "ttl": 4000000000}]}"#,
    );
    let found: Vec<(&str, Severity)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.severity))
        .collect();
    assert_eq!(
        found,
        [
            ("domain", Severity::Error),
            ("existing_zone_id", Severity::Error),
            ("comment", Severity::Warning),
            ("records.0.type", Severity::Error),
            ("records.0.values", Severity::Error),
            ("records.1.values.0", Severity::Error),
            ("records.1.ttl", Severity::Error),
        ]
    );
}

#[test]
fn rejects_unknown_keys_at_their_path() {
    error_at(r#"{"domain": "example.com", "zone_id": "Z1"}"#, "zone_id");
    error_at(
        &with_records(r#"[{"name": "www", "type": "A", "values": ["192.0.2.1"], "tll": 60}]"#),
        "records.0.tll",
    );
}

#[test]
fn describes_every_option_in_the_schema() {
    let schema = testing::assert_documented::<Config>(6);
    let record = schema["$defs"]["Record"]["properties"].as_object();
    assert_eq!(record.map(|properties| properties.len()), Some(4));
}

/// A config of `example.com` with these aliases (a JSON list).
fn with_aliases(aliases: &str) -> String {
    format!(r#"{{"domain": "example.com", "aliases": {aliases}}}"#)
}

#[test]
fn points_an_alias_at_a_compute_stacks_load_balancer() {
    let rendered = rendered(&with_aliases(
        r#"[{"name": "api", "target": {"stack": "app", "kind": "load-balancer"}}]"#,
    ));
    let record = properties(&rendered, "AliasApiA");
    assert_eq!(record["Name"], "api.example.com");
    assert_eq!(record["Type"], "A");
    assert_eq!(
        record["HostedZoneId"].to_string(),
        r#"{"Ref":"HostedZone"}"#
    );
    let target = &record["AliasTarget"];
    assert_eq!(
        target["DNSName"].to_string(),
        testing::import_value(&test_ctx(), "app", "alb-dns-name")
    );
    assert_eq!(
        target["HostedZoneId"].to_string(),
        testing::import_value(&test_ctx(), "app", "alb-hosted-zone-id")
    );
    assert_eq!(target["EvaluateTargetHealth"], true);
    assert!(record.get("TTL").is_none() && record.get("ResourceRecords").is_none());
    assert!(
        !testing::has_resource(&rendered, "AliasApiAaaa"),
        "the load balancer is IPv4-only"
    );
    testing::assert_imports(
        &rendered,
        &[("app", "alb-dns-name"), ("app", "alb-hosted-zone-id")],
    );
}

#[test]
fn points_a_and_aaaa_aliases_at_a_cloudfront_distribution() {
    let rendered = rendered(&with_aliases(
        r#"[{"name": "@", "target": {"stack": "frontend", "kind": "cloudfront"}}]"#,
    ));
    for (id, kind) in [("AliasApexA", "A"), ("AliasApexAaaa", "AAAA")] {
        let record = properties(&rendered, id);
        assert_eq!(record["Name"], "example.com");
        assert_eq!(record["Type"], kind);
        let target = &record["AliasTarget"];
        assert_eq!(target["HostedZoneId"], "Z2FDTNDATAQYW2");
        assert_eq!(target["EvaluateTargetHealth"], false);
        assert_eq!(
            target["DNSName"].to_string(),
            testing::import_value(&test_ctx(), "frontend", "distribution-domain-name")
        );
    }
    testing::assert_imports(&rendered, &[("frontend", "distribution-domain-name")]);
}

#[test]
fn writes_an_aaaa_alias_to_a_load_balancer_when_asked_and_reads_another_output() {
    let rendered = rendered(&with_aliases(
        r#"[{"name": "api", "ipv6": true, "target": {"stack": "app", "kind": "load-balancer"}},
            {"name": "login", "ipv6": false, "target": {"stack": "auth", "kind": "cloudfront", "output": "domain-cloudfront-name"}}]"#,
    ));
    assert_eq!(properties(&rendered, "AliasApiAaaa")["Type"], "AAAA");
    assert!(!testing::has_resource(&rendered, "AliasLoginAaaa"));
    assert_eq!(
        properties(&rendered, "AliasLoginA")["AliasTarget"]["DNSName"].to_string(),
        testing::import_value(&test_ctx(), "auth", "domain-cloudfront-name")
    );
}

#[test]
fn puts_aliases_in_the_zone_of_another_hosted_zone_stack() {
    let rendered = rendered(
        r#"{"domain": "example.com", "zone_stack": "zone",
            "aliases": [{"name": "app", "target": {"stack": "frontend", "kind": "cloudfront"}}]}"#,
    );
    assert!(!testing::has_resource(&rendered, "HostedZone"));
    let zone = testing::import_value(&test_ctx(), "zone", "zone-id");
    assert_eq!(
        properties(&rendered, "AliasAppA")["HostedZoneId"].to_string(),
        zone
    );
    assert!(
        rendered.exports.is_empty(),
        "importers read the owning stack"
    );
    assert_eq!(resources(&rendered).count(), 2);
    assert_eq!(rendered.imports[0], testing::import("zone", "zone-id"));
}

#[test]
fn tags_every_taggable_resource_with_aliases() {
    let config =
        with_aliases(r#"[{"name": "api", "target": {"stack": "app", "kind": "load-balancer"}}]"#);
    assert_tagged_in(&test_ctx(), &config);
    assert_tagged_in(&production_ctx(), &config);
}

#[test]
fn rejects_a_zone_stack_beside_an_existing_zone_id() {
    let error = error_at(
        r#"{"domain": "example.com", "zone_stack": "zone", "existing_zone_id": "Z0123456789ABC"}"#,
        "zone_stack",
    );
    assert!(
        error.message.contains("both name the zone"),
        "{}",
        error.message
    );
    error_at(
        r#"{"domain": "example.com", "zone_stack": "Zone"}"#,
        "zone_stack",
    );
}

#[test]
fn rejects_an_alias_without_a_stack_or_with_an_unknown_kind() {
    error_at(
        &with_aliases(r#"[{"name": "api", "target": {"kind": "cloudfront"}}]"#),
        "aliases.0.target.stack",
    );
    error_at(
        &with_aliases(r#"[{"name": "api", "target": {"stack": "app", "kind": "alb"}}]"#),
        "aliases.0.target.kind",
    );
    error_at(
        &with_aliases(r#"[{"name": "api", "target": {"stack": "app", "output": "DNS"}}]"#),
        "aliases.0.target.output",
    );
}

#[test]
fn rejects_an_alias_name_outside_the_zone_or_beside_a_record_of_its_type() {
    error_at(
        &with_aliases(r#"[{"name": "api.example.org.", "target": {"stack": "app"}}]"#),
        "aliases.0.name",
    );
    let config = r#"{"domain": "example.com",
        "records": [{"name": "api", "type": "CNAME", "values": ["x.example.net"]}],
        "aliases": [{"name": "api", "target": {"stack": "app"}}, {"name": "api", "target": {"stack": "web"}}]}"#;
    let errors = errors(config);
    testing::assert_errors_at(&errors, &["aliases.0.name", "aliases.1.name"]);
    assert!(
        errors[0].message.contains("`CNAME`"),
        "{}",
        errors[0].message
    );
    // An AAAA record beside an IPv4-only alias is fine.
    rendered(
        r#"{"domain": "example.com",
            "records": [{"name": "api", "type": "AAAA", "values": ["2001:db8::1"]}],
            "aliases": [{"name": "api", "target": {"stack": "app"}}]}"#,
    );
}

#[test]
fn rejects_a_zone_stack_or_alias_target_naming_this_stack() {
    error_at(
        r#"{"domain": "example.com", "zone_stack": "hosted-zone"}"#,
        "zone_stack",
    );
    error_at(
        &with_aliases(r#"[{"name": "api", "target": {"stack": "hosted-zone"}}]"#),
        "aliases.0.target.stack",
    );
}

#[test]
fn warns_that_a_comment_is_ignored_in_another_stacks_zone() {
    let rendered =
        rendered(r#"{"domain": "example.com", "zone_stack": "zone", "comment": "mine"}"#);
    assert_eq!(error_paths(&rendered.warnings), ["comment"]);
    assert!(testing::has_resource(&rendered, "Placeholder"));
}

#[test]
fn points_an_a_alias_at_an_http_apis_custom_domain() {
    let rendered = rendered(&with_aliases(
        r#"[{"name": "api", "target": {"stack": "api-gateway", "kind": "api-gateway"}}]"#,
    ));
    let record = properties(&rendered, "AliasApiA");
    assert_eq!(record["Name"], "api.example.com");
    assert_eq!(record["Type"], "A");
    let target = &record["AliasTarget"];
    assert_eq!(
        target["DNSName"].to_string(),
        testing::import_value(&test_ctx(), "api-gateway", "domain-target")
    );
    assert_eq!(
        target["HostedZoneId"].to_string(),
        testing::import_value(&test_ctx(), "api-gateway", "domain-hosted-zone-id")
    );
    assert_eq!(target["EvaluateTargetHealth"], false);
    assert_eq!(testing::count_of(&rendered, "AWS::Route53::RecordSet"), 1);
}
