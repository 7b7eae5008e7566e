//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, error_paths, import, properties, resources};
use strata_sdk::{Rendered, Value};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "security");

/// Every rule of the template that admits or sends traffic to a CIDR block,
/// as (group, direction, rule).
fn cidr_rules(rendered: &Rendered) -> Vec<(String, &'static str, Value)> {
    let mut rules = Vec::new();
    for (id, resource) in
        resources(rendered).filter(|(_, r)| r["Type"] == "AWS::EC2::SecurityGroup")
    {
        for (key, direction) in [
            ("SecurityGroupIngress", "ingress"),
            ("SecurityGroupEgress", "egress"),
        ] {
            for rule in resource["Properties"][key].as_array().into_iter().flatten() {
                rules.push((id.clone(), direction, rule.clone()));
            }
        }
    }
    rules
}

#[test]
fn renders_an_empty_table_with_defaults() {
    let rendered = rendered("{}");
    assert_eq!(resources(&rendered).count(), 8);
    assert!(rendered.warnings.is_empty());
    let alb = properties(&rendered, "AlbSecurityGroup");
    let ports: Vec<&Value> = alb["SecurityGroupIngress"]
        .as_array()
        .expect("ingress")
        .iter()
        .map(|r| &r["FromPort"])
        .collect();
    assert_eq!(ports, [443, 80]);
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
}

#[test]
fn imports_the_vpc_and_endpoint_group_from_networking() {
    let rendered = rendered("{}");
    testing::assert_imports(
        &rendered,
        &[
            ("networking", "vpc-id"),
            ("networking", "endpoint-security-group-id"),
        ],
    );
    assert_eq!(
        properties(&rendered, "EcsSecurityGroup")["VpcId"].to_string(),
        r#"{"Fn::ImportValue":"acme-test-networking-vpc-id"}"#
    );
}

#[test]
fn imports_from_the_configured_networking_stack() {
    let rendered = rendered(r#"{"networking_stack": "network-eu"}"#);
    assert_eq!(rendered.imports[0], import("network-eu", "vpc-id"));
}

#[test]
fn opens_only_the_load_balancer_to_the_internet_and_only_on_80_and_443() {
    let rendered = rendered(r#"{"alb_ingress_cidrs": ["0.0.0.0/0", "::/0"]}"#);
    let open: Vec<_> = cidr_rules(&rendered)
        .into_iter()
        .filter(|(_, direction, rule)| {
            *direction == "ingress" && (rule["CidrIp"] == "0.0.0.0/0" || rule["CidrIpv6"] == "::/0")
        })
        .collect();
    assert_eq!(open.len(), 4);
    for (group, _, rule) in open {
        assert_eq!(group, "AlbSecurityGroup");
        assert!(rule["FromPort"] == 443 || rule["FromPort"] == 80, "{rule}");
        assert_eq!(rule["FromPort"], rule["ToPort"]);
    }
}

#[test]
fn admits_http_only_for_the_redirect() {
    let rendered = rendered(r#"{"allow_http_redirect": false}"#);
    let ingress = properties(&rendered, "AlbSecurityGroup")["SecurityGroupIngress"]
        .as_array()
        .expect("ingress")
        .clone();
    assert_eq!(ingress.len(), 1);
    assert_eq!(ingress[0]["FromPort"], 443);
}

#[test]
fn lets_the_load_balancer_reach_only_the_ecs_tasks_on_the_app_port() {
    let rendered = rendered(r#"{"app_port": 3000}"#);
    let egress = properties(&rendered, "AlbToEcsEgress");
    assert_eq!(
        egress["GroupId"].to_string(),
        r#"{"Fn::GetAtt":["AlbSecurityGroup","GroupId"]}"#
    );
    assert_eq!(
        egress["DestinationSecurityGroupId"].to_string(),
        r#"{"Fn::GetAtt":["EcsSecurityGroup","GroupId"]}"#
    );
    assert_eq!(egress["FromPort"], 3000);
    let ingress = properties(&rendered, "AlbToEcsIngress");
    assert_eq!(
        ingress["GroupId"].to_string(),
        r#"{"Fn::GetAtt":["EcsSecurityGroup","GroupId"]}"#
    );
    assert_eq!(
        ingress["SourceSecurityGroupId"].to_string(),
        r#"{"Fn::GetAtt":["AlbSecurityGroup","GroupId"]}"#
    );
    assert_eq!(ingress["ToPort"], 3000);
    let inline_egress = properties(&rendered, "AlbSecurityGroup")["SecurityGroupEgress"]
        .as_array()
        .expect("egress")
        .clone();
    assert_eq!(inline_egress.len(), 1);
    assert_eq!(inline_egress[0]["CidrIp"], "255.255.255.255/32");
}

#[test]
fn lets_only_ecs_tasks_reach_the_database_port() {
    let rendered = rendered(r#"{"database_port": 6543}"#);
    let ingress = properties(&rendered, "EcsToDatabaseIngress");
    assert_eq!(
        ingress["GroupId"].to_string(),
        r#"{"Fn::GetAtt":["DatabaseSecurityGroup","GroupId"]}"#
    );
    assert_eq!(
        ingress["SourceSecurityGroupId"].to_string(),
        r#"{"Fn::GetAtt":["EcsSecurityGroup","GroupId"]}"#
    );
    assert_eq!(ingress["FromPort"], 6543);
    assert_eq!(properties(&rendered, "EcsToDatabaseEgress")["ToPort"], 6543);
    let database = properties(&rendered, "DatabaseSecurityGroup");
    assert!(database.get("SecurityGroupIngress").is_none());
}

#[test]
fn blocks_all_egress_from_the_database() {
    let rendered = rendered("{}");
    let egress = properties(&rendered, "DatabaseSecurityGroup")["SecurityGroupEgress"]
        .as_array()
        .expect("egress")
        .clone();
    assert_eq!(egress.len(), 1);
    assert_eq!(egress[0]["IpProtocol"], "icmp");
    assert_eq!(egress[0]["CidrIp"], "255.255.255.255/32");
    let sends_from_database = resources(&rendered)
        .filter(|(_, r)| r["Type"] == "AWS::EC2::SecurityGroupEgress")
        .any(|(_, r)| r["Properties"]["GroupId"]["Fn::GetAtt"][0] == "DatabaseSecurityGroup");
    assert!(!sends_from_database);
}

#[test]
fn lets_ecs_tasks_call_aws_apis_over_https_only() {
    let rendered = rendered("{}");
    let egress = properties(&rendered, "EcsSecurityGroup")["SecurityGroupEgress"]
        .as_array()
        .expect("egress")
        .clone();
    assert_eq!(egress.len(), 1);
    assert_eq!(egress[0]["CidrIp"], "0.0.0.0/0");
    assert_eq!(egress[0]["FromPort"], 443);
    assert_eq!(egress[0]["ToPort"], 443);
}

#[test]
fn admits_ecs_tasks_to_the_vpc_endpoints() {
    let rendered = rendered("{}");
    let ingress = properties(&rendered, "EndpointFromEcsIngress");
    assert_eq!(
        ingress["GroupId"].to_string(),
        r#"{"Fn::ImportValue":"acme-test-networking-endpoint-security-group-id"}"#
    );
    assert_eq!(
        ingress["SourceSecurityGroupId"].to_string(),
        r#"{"Fn::GetAtt":["EcsSecurityGroup","GroupId"]}"#
    );
    assert_eq!(ingress["FromPort"], 443);
}

#[test]
fn tags_every_security_group_with_its_name() {
    let rendered = rendered("{}");
    testing::assert_tagged(&rendered, &test_ctx());
    for (id, name) in [
        ("AlbSecurityGroup", "acme-test-alb"),
        ("EcsSecurityGroup", "acme-test-ecs"),
        ("DatabaseSecurityGroup", "acme-test-database"),
    ] {
        let tags = &properties(&rendered, id)["Tags"];
        assert_eq!(tags[0]["Key"], "Name", "{id}");
        assert_eq!(tags[0]["Value"], name, "{id}");
    }
}

#[test]
fn restricts_the_load_balancer_to_configured_blocks() {
    let rendered =
        rendered(r#"{"alb_ingress_cidrs": ["203.0.113.0/24"], "allow_http_redirect": false}"#);
    let ingress = &properties(&rendered, "AlbSecurityGroup")["SecurityGroupIngress"];
    assert_eq!(ingress[0]["CidrIp"], "203.0.113.0/24");
    assert!(
        cidr_rules(&rendered)
            .iter()
            .all(|(_, _, rule)| rule["CidrIp"] != "0.0.0.0/0" || rule["FromPort"] == 443)
    );
}

#[test]
fn rejects_an_app_port_of_zero() {
    let error = error_at(r#"{"app_port": 0}"#, "app_port");
    assert_eq!(error.message, "port `0` is outside 1 to 65535");
}

#[test]
fn rejects_a_database_port_above_65535() {
    error_at(r#"{"database_port": 70000}"#, "database_port");
}

#[test]
fn rejects_a_malformed_ingress_cidr() {
    let error = error_at(
        r#"{"alb_ingress_cidrs": ["0.0.0.0/0", "everyone"]}"#,
        "alb_ingress_cidrs.1",
    );
    assert_eq!(error.message, "`everyone` is not a CIDR block");
}

#[test]
fn rejects_an_ingress_cidr_with_host_bits_set() {
    let error = error_at(
        r#"{"alb_ingress_cidrs": ["203.0.113.9/24"]}"#,
        "alb_ingress_cidrs.0",
    );
    assert_eq!(
        error.help.as_deref(),
        Some("did you mean `203.0.113.0/24`?")
    );
}

#[test]
fn rejects_a_duplicate_ingress_cidr() {
    error_at(
        r#"{"alb_ingress_cidrs": ["0.0.0.0/0", "0.0.0.0/0"]}"#,
        "alb_ingress_cidrs.1",
    );
}

#[test]
fn rejects_an_empty_ingress_list() {
    error_at(r#"{"alb_ingress_cidrs": []}"#, "alb_ingress_cidrs");
}

#[test]
fn rejects_a_networking_stack_that_is_not_a_stack_name() {
    error_at(r#"{"networking_stack": ""}"#, "networking_stack");
    error_at(
        r#"{"networking_stack": "my networking"}"#,
        "networking_stack",
    );
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"networking_stack": "", "app_port": 0, "database_port": 99999, "alb_ingress_cidrs": ["x"]}"#,
    );
    assert_eq!(
        error_paths(&errors),
        [
            "networking_stack",
            "app_port",
            "database_port",
            "alb_ingress_cidrs.0"
        ]
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"app_prot": 8080}"#, "app_prot");
}

#[test]
fn rejects_a_negative_port_at_its_key() {
    error_at(r#"{"app_port": -1}"#, "app_port");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(5);
}
