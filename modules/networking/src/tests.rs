//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, count_of, error_paths, has_resource, resource, resources};
use strata_sdk::{Severity, Value};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "networking");

#[test]
fn renders_an_empty_table_with_defaults() {
    let rendered = rendered("{}");
    assert_eq!(count_of(&rendered, "AWS::EC2::VPC"), 1);
    assert_eq!(count_of(&rendered, "AWS::EC2::Subnet"), 6);
    assert_eq!(count_of(&rendered, "AWS::EC2::NatGateway"), 1);
    assert_eq!(count_of(&rendered, "AWS::EC2::VPCEndpoint"), 4);
    assert_eq!(count_of(&rendered, "AWS::EC2::FlowLog"), 1);
    assert_eq!(resources(&rendered).count(), 33);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let vpc = resource(&rendered, "Vpc");
    assert_eq!(vpc["Properties"]["CidrBlock"], "10.0.0.0/16");
    assert_eq!(vpc["Properties"]["EnableDnsSupport"], true);
    assert_eq!(vpc["Properties"]["EnableDnsHostnames"], true);
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
}

#[test]
fn imports_nothing() {
    assert!(rendered("{}").imports.is_empty());
}

#[test]
fn carves_subnets_tier_major_from_the_vpc_block() {
    let rendered =
        rendered(r#"{"cidr": "10.20.0.0/16", "availability_zones": 3, "subnet_prefix": 22}"#);
    let block = |id: &str| resource(&rendered, id)["Properties"]["CidrBlock"].clone();
    assert_eq!(block("PublicSubnet1"), "10.20.0.0/22");
    assert_eq!(block("PublicSubnet2"), "10.20.4.0/22");
    assert_eq!(block("PublicSubnet3"), "10.20.8.0/22");
    assert_eq!(block("PrivateSubnet1"), "10.20.12.0/22");
    assert_eq!(block("IsolatedSubnet3"), "10.20.32.0/22");
    let zone = &resource(&rendered, "PrivateSubnet3")["Properties"]["AvailabilityZone"];
    assert_eq!(
        zone.to_string(),
        r#"{"Fn::Select":["2",{"Fn::GetAZs":""}]}"#
    );
}

#[test]
fn exports_subnet_lists_comma_joined() {
    let rendered = rendered("{}");
    let value = &rendered.template["Outputs"]["PrivateSubnetIds"]["Value"];
    assert_eq!(
        value.to_string(),
        r#"{"Fn::Join":[",",[{"Ref":"PrivateSubnet1"},{"Ref":"PrivateSubnet2"}]]}"#
    );
}

#[test]
fn routes_public_subnets_to_the_internet_gateway() {
    let rendered = rendered("{}");
    let route = resource(&rendered, "PublicDefaultRoute");
    assert_eq!(route["Properties"]["GatewayId"]["Ref"], "InternetGateway");
    assert_eq!(route["Properties"]["DestinationCidrBlock"], "0.0.0.0/0");
    assert_eq!(route["DependsOn"], "InternetGatewayAttachment");
    let association = resource(&rendered, "PublicSubnet2RouteTableAssociation");
    assert_eq!(
        association["Properties"]["RouteTableId"]["Ref"],
        "PublicRouteTable"
    );
}

#[test]
fn renders_three_nat_gateways_in_prod() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"availability_zones": 3, "nat_gateways": 3}"#,
    );
    assert_eq!(count_of(&rendered, "AWS::EC2::NatGateway"), 3);
    assert_eq!(count_of(&rendered, "AWS::EC2::EIP"), 3);
    for zone in 1..=3 {
        let route = resource(&rendered, &format!("PrivateDefaultRoute{zone}"));
        assert_eq!(
            route["Properties"]["NatGatewayId"]["Ref"],
            format!("NatGateway{zone}")
        );
        let gateway = resource(&rendered, &format!("NatGateway{zone}"));
        assert_eq!(
            gateway["Properties"]["SubnetId"]["Ref"],
            format!("PublicSubnet{zone}")
        );
    }
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    assert_eq!(resources(&rendered).count(), 45);
}

#[test]
fn shares_nat_gateways_between_zones_round_robin() {
    let rendered = rendered(r#"{"availability_zones": 3, "nat_gateways": 2}"#);
    let target = |zone: usize| {
        resource(&rendered, &format!("PrivateDefaultRoute{zone}"))["Properties"]["NatGatewayId"]["Ref"].clone()
    };
    assert_eq!(target(1), "NatGateway1");
    assert_eq!(target(2), "NatGateway2");
    assert_eq!(target(3), "NatGateway1");
}

#[test]
fn warns_when_production_has_fewer_nat_gateways_than_zones() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"availability_zones": 3, "nat_gateways": 1}"#,
    );
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "nat_gateways");
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
    assert!(
        rendered.warnings[0]
            .message
            .contains("single point of failure")
    );
    assert_eq!(
        rendered.warnings[0].help.as_deref(),
        Some("use `nat_gateways = 3` in production, one per zone")
    );
}

#[test]
fn accepts_a_single_nat_gateway_outside_production() {
    let rendered = rendered(r#"{"availability_zones": 3, "nat_gateways": 1}"#);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
}

#[test]
fn renders_no_default_route_and_warns_without_nat_gateways() {
    let rendered = rendered(r#"{"nat_gateways": 0}"#);
    assert_eq!(count_of(&rendered, "AWS::EC2::NatGateway"), 0);
    assert_eq!(count_of(&rendered, "AWS::EC2::EIP"), 0);
    assert_eq!(
        count_of(&rendered, "AWS::EC2::Route"),
        1,
        "only the public default route"
    );
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "nat_gateways");
}

#[test]
fn gives_isolated_subnets_no_internet_route() {
    let rendered = rendered("{}");
    for (_, route) in resources(&rendered).filter(|(_, r)| r["Type"] == "AWS::EC2::Route") {
        assert_ne!(
            route["Properties"]["RouteTableId"]["Ref"],
            "IsolatedRouteTable"
        );
    }
    let association = resource(&rendered, "IsolatedSubnet1RouteTableAssociation");
    assert_eq!(
        association["Properties"]["RouteTableId"]["Ref"],
        "IsolatedRouteTable"
    );
}

#[test]
fn places_the_db_subnet_group_in_isolated_subnets() {
    let rendered = rendered("{}");
    let group = &resource(&rendered, "DatabaseSubnetGroup")["Properties"];
    assert_eq!(
        group["SubnetIds"].to_string(),
        r#"[{"Ref":"IsolatedSubnet1"},{"Ref":"IsolatedSubnet2"}]"#
    );
    assert_eq!(group["DBSubnetGroupName"], "acme-test-database");
}

#[test]
fn attaches_the_s3_gateway_to_private_and_isolated_route_tables() {
    let rendered = rendered("{}");
    let endpoint = &resource(&rendered, "S3GatewayEndpoint")["Properties"];
    assert_eq!(endpoint["VpcEndpointType"], "Gateway");
    assert_eq!(
        endpoint["RouteTableIds"].to_string(),
        r#"[{"Ref":"PrivateRouteTable1"},{"Ref":"PrivateRouteTable2"},{"Ref":"IsolatedRouteTable"}]"#
    );
    assert_eq!(
        endpoint["ServiceName"].to_string(),
        r#"{"Fn::Sub":"com.amazonaws.${AWS::Region}.s3"}"#
    );
}

#[test]
fn omits_the_s3_gateway_when_disabled() {
    let rendered = rendered(r#"{"s3_gateway_endpoint": false}"#);
    assert!(!has_resource(&rendered, "S3GatewayEndpoint"));
}

#[test]
fn puts_interface_endpoints_in_private_subnets_with_private_dns() {
    let rendered = rendered("{}");
    let endpoint = &resource(&rendered, "EcrApiEndpoint")["Properties"];
    assert_eq!(
        endpoint["ServiceName"].to_string(),
        r#"{"Fn::Sub":"com.amazonaws.${AWS::Region}.ecr.api"}"#
    );
    assert_eq!(endpoint["PrivateDnsEnabled"], true);
    assert_eq!(
        endpoint["SubnetIds"].to_string(),
        r#"[{"Ref":"PrivateSubnet1"},{"Ref":"PrivateSubnet2"}]"#
    );
    assert_eq!(
        endpoint["SecurityGroupIds"].to_string(),
        r#"[{"Fn::GetAtt":["EndpointSecurityGroup","GroupId"]}]"#
    );
    assert!(has_resource(&rendered, "EcrDkrEndpoint"));
    assert!(has_resource(&rendered, "LogsEndpoint"));
}

#[test]
fn keeps_the_endpoint_security_group_without_interface_endpoints() {
    let rendered = rendered(r#"{"interface_endpoints": []}"#);
    assert_eq!(count_of(&rendered, "AWS::EC2::VPCEndpoint"), 1);
    assert!(has_resource(&rendered, "EndpointSecurityGroup"));
    assert_eq!(rendered.exports, EXPORTS);
}

#[test]
fn leaves_endpoint_ingress_to_the_security_stack_and_blocks_egress() {
    let rendered = rendered("{}");
    let group = &resource(&rendered, "EndpointSecurityGroup")["Properties"];
    assert!(group.get("SecurityGroupIngress").is_none());
    let egress = group["SecurityGroupEgress"]
        .as_array()
        .expect("egress rules");
    assert_eq!(egress.len(), 1);
    assert_eq!(egress[0]["CidrIp"], "255.255.255.255/32");
}

#[test]
fn writes_flow_logs_with_a_least_privilege_role() {
    let rendered = rendered(r#"{"flow_log_retention_days": 30}"#);
    assert_eq!(
        resource(&rendered, "FlowLogGroup")["Properties"]["RetentionInDays"],
        30
    );
    let role = &resource(&rendered, "FlowLogRole")["Properties"];
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], "vpc-flow-logs.amazonaws.com");
    assert!(trust["Condition"]["StringEquals"]["aws:SourceAccount"].is_object());
    let statement = &role["Policies"][0]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        statement["Resource"].to_string(),
        r#"{"Fn::GetAtt":["FlowLogGroup","Arn"]}"#
    );
    let flow_log = &resource(&rendered, "FlowLog")["Properties"];
    assert_eq!(flow_log["ResourceId"]["Ref"], "Vpc");
    assert_eq!(flow_log["TrafficType"], "ALL");
}

#[test]
fn retains_the_flow_log_group_in_production_only() {
    // The catalogue's one rule for log groups: Retain in production,
    // Delete elsewhere.
    let production = rendered_in(
        &production_ctx(),
        r#"{"availability_zones": 3, "nat_gateways": 3}"#,
    );
    let group = resource(&production, "FlowLogGroup");
    assert_eq!(group["DeletionPolicy"], "Retain");
    assert_eq!(group["UpdateReplacePolicy"], "Retain");
    let development = rendered("{}");
    let group = resource(&development, "FlowLogGroup");
    assert_eq!(group["DeletionPolicy"], "Delete");
    assert_eq!(group["UpdateReplacePolicy"], "Delete");
}

#[test]
fn omits_flow_logs_when_disabled() {
    let rendered = rendered(r#"{"flow_logs": false}"#);
    for id in ["FlowLog", "FlowLogGroup", "FlowLogRole"] {
        assert!(!has_resource(&rendered, id), "{id}");
    }
}

#[test]
fn tags_every_taggable_resource() {
    let ctx = production_ctx();
    let rendered = rendered_in(&ctx, r#"{"availability_zones": 3, "nat_gateways": 3}"#);
    for (id, resource) in resources(&rendered) {
        assert!(resource["Properties"].is_object(), "{id} has Properties");
    }
    testing::assert_tagged(&rendered, &ctx);
}

#[test]
fn names_resources_after_project_and_environment() {
    let rendered = rendered("{}");
    let tags = &resource(&rendered, "PrivateSubnet2")["Properties"]["Tags"];
    assert_eq!(tags[0]["Key"], "Name");
    assert_eq!(tags[0]["Value"], "acme-test-private-2");
}

#[test]
fn rejects_one_availability_zone() {
    let error = error_at(
        r#"{"availability_zones": 1, "nat_gateways": 1}"#,
        "availability_zones",
    );
    assert_eq!(error.message, "expected 2 to 6 availability zones, got `1`");
    assert!(error.help.as_deref().unwrap_or_default().contains("RDS"));
}

#[test]
fn rejects_seven_availability_zones() {
    error_at(r#"{"availability_zones": 7}"#, "availability_zones");
}

#[test]
fn rejects_more_nat_gateways_than_zones() {
    let error = error_at(
        r#"{"availability_zones": 2, "nat_gateways": 3}"#,
        "nat_gateways",
    );
    assert_eq!(error.message, "`3` NAT gateways for `2` availability zones");
}

#[test]
fn rejects_a_malformed_cidr() {
    let error = error_at(r#"{"cidr": "10.0.0/16"}"#, "cidr");
    assert_eq!(error.message, "`10.0.0/16` is not an IPv4 CIDR block");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("`10.0.0.0/16`")
    );
}

#[test]
fn rejects_a_cidr_with_host_bits_set() {
    let error = error_at(r#"{"cidr": "10.1.2.0/16"}"#, "cidr");
    assert_eq!(error.help.as_deref(), Some("did you mean `10.1.0.0/16`?"));
}

#[test]
fn rejects_a_vpc_larger_than_slash_sixteen() {
    let error = error_at(r#"{"cidr": "10.0.0.0/8"}"#, "cidr");
    assert!(error.message.contains("`/8`"), "{}", error.message);
}

#[test]
fn rejects_a_vpc_smaller_than_slash_twenty_four() {
    error_at(r#"{"cidr": "10.0.0.0/25"}"#, "cidr");
}

#[test]
fn rejects_subnets_that_do_not_fit_in_the_vpc() {
    let error = error_at(
        r#"{"availability_zones": 6, "nat_gateways": 1}"#,
        "subnet_prefix",
    );
    assert_eq!(
        error.message,
        "`18` subnets of `/20` (3 tiers × 6 zones) do not fit in `10.0.0.0/16`; only 16 do"
    );
    assert_eq!(
        error.help.as_deref(),
        Some("use `subnet_prefix = 21`, or a larger VPC block")
    );
}

#[test]
fn rejects_a_subnet_prefix_not_longer_than_the_vpc_prefix() {
    let error = error_at(
        r#"{"cidr": "10.0.0.0/20", "subnet_prefix": 20}"#,
        "subnet_prefix",
    );
    assert_eq!(
        error.help.as_deref(),
        Some("use `subnet_prefix = 23`, or a larger VPC block")
    );
}

#[test]
fn rejects_a_subnet_prefix_aws_does_not_allow() {
    error_at(r#"{"subnet_prefix": 29}"#, "subnet_prefix");
}

#[test]
fn rejects_a_flow_log_retention_cloudwatch_does_not_offer() {
    let error = error_at(
        r#"{"flow_log_retention_days": 10}"#,
        "flow_log_retention_days",
    );
    assert_eq!(
        error.message,
        "`10` is not a CloudWatch Logs retention period"
    );
    assert_eq!(
        error.help.as_deref(),
        Some("CloudWatch Logs keeps logs for set periods; use `7` or `14`")
    );
}

#[test]
fn suggests_the_closest_interface_endpoint_service() {
    let error = error_at(
        r#"{"interface_endpoints": ["ecr.api", "secretmanager"]}"#,
        "interface_endpoints.1",
    );
    assert_eq!(
        error.message,
        "unknown interface endpoint service `secretmanager`"
    );
    assert_eq!(
        error.help.as_deref(),
        Some("did you mean `secretsmanager`?")
    );
}

#[test]
fn points_s3_interface_endpoints_to_the_gateway() {
    let error = error_at(
        r#"{"interface_endpoints": ["s3"]}"#,
        "interface_endpoints.0",
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("s3_gateway_endpoint")
    );
}

#[test]
fn rejects_a_duplicate_interface_endpoint() {
    error_at(
        r#"{"interface_endpoints": ["logs", "ecr.api", "logs"]}"#,
        "interface_endpoints.2",
    );
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"cidr": "nope", "availability_zones": 9, "nat_gateways": 10, "flow_log_retention_days": 2,
            "interface_endpoints": ["sqs", "sqs"]}"#,
    );
    assert_eq!(
        error_paths(&errors),
        [
            "cidr",
            "availability_zones",
            "nat_gateways",
            "flow_log_retention_days",
            "interface_endpoints.1"
        ]
    );
}

#[test]
fn rejects_unknown_keys() {
    let error = error_at(r#"{"nat_gateway": 2}"#, "nat_gateway");
    assert!(
        error.message.contains("unknown field `nat_gateway`"),
        "{}",
        error.message
    );
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(r#"{"availability_zones": "three"}"#, "availability_zones");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(9);
}

#[test]
fn renders_the_same_bytes_every_time() {
    let config = r#"{"availability_zones": 3, "nat_gateways": 2}"#;
    assert_eq!(
        rendered(config).template.to_string(),
        rendered(config).template.to_string()
    );
}

// An existing VPC.

const EXISTING: &str = r#""existing_vpc": {
    "vpc_id": "vpc-0123456789abcdef0",
    "cidr": "172.31.0.0/16",
    "public_subnet_ids": ["subnet-0a0a0a0a", "subnet-0b0b0b0b"],
    "private_subnet_ids": ["subnet-1a1a1a1a", "subnet-1b1b1b1b"],
    "availability_zones": ["us-east-1a", "us-east-1b"]
}"#;

fn existing(extra: &str) -> String {
    if extra.is_empty() {
        format!("{{{EXISTING}}}")
    } else {
        format!("{{{EXISTING}, {extra}}}")
    }
}

/// The config of an existing VPC with `key` of `existing_vpc` replaced.
fn existing_with(key: &str, value: &str) -> String {
    let mut config: Value = strata_sdk::serde_json::from_str(&existing("")).expect("json");
    config["existing_vpc"][key] = strata_sdk::serde_json::from_str(value).expect("json value");
    config.to_string()
}

#[test]
fn adopts_an_existing_vpc_without_creating_network_resources() {
    let rendered = rendered(&existing(""));
    let kinds: Vec<&str> = resources(&rendered)
        .map(|(_, r)| r["Type"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        [
            "AWS::RDS::DBSubnetGroup",
            "AWS::EC2::SecurityGroup",
            "AWS::EC2::FlowLog",
            "AWS::Logs::LogGroup",
            "AWS::IAM::Role",
        ]
    );
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    assert!(rendered.imports.is_empty());
    assert_eq!(
        resource(&rendered, "EndpointSecurityGroup")["Properties"]["VpcId"],
        "vpc-0123456789abcdef0"
    );
    assert_eq!(
        resource(&rendered, "FlowLog")["Properties"]["ResourceId"],
        "vpc-0123456789abcdef0"
    );
}

#[test]
fn exports_the_contract_names_with_literal_values_for_an_existing_vpc() {
    let rendered = rendered(&existing(""));
    assert_eq!(rendered.exports, EXPORTS);
    let value = |id: &str| rendered.template["Outputs"][id]["Value"].clone();
    assert_eq!(value("VpcId"), "vpc-0123456789abcdef0");
    assert_eq!(value("VpcCidr"), "172.31.0.0/16");
    assert_eq!(value("PublicSubnetIds"), "subnet-0a0a0a0a,subnet-0b0b0b0b");
    assert_eq!(value("PrivateSubnetIds"), "subnet-1a1a1a1a,subnet-1b1b1b1b");
    assert_eq!(
        value("IsolatedSubnetIds"),
        "subnet-1a1a1a1a,subnet-1b1b1b1b"
    );
    assert_eq!(value("AvailabilityZones"), "us-east-1a,us-east-1b");
    assert_eq!(
        value("DbSubnetGroupName").to_string(),
        r#"{"Ref":"DatabaseSubnetGroup"}"#
    );
    assert_eq!(
        value("EndpointSecurityGroupId").to_string(),
        r#"{"Fn::GetAtt":["EndpointSecurityGroup","GroupId"]}"#
    );
}

#[test]
fn puts_the_db_subnet_group_in_the_private_subnets_of_an_existing_vpc_by_default() {
    let rendered = rendered(&existing(""));
    let group = &resource(&rendered, "DatabaseSubnetGroup")["Properties"];
    assert_eq!(
        group["SubnetIds"].to_string(),
        r#"["subnet-1a1a1a1a","subnet-1b1b1b1b"]"#
    );
    assert_eq!(group["DBSubnetGroupName"], "acme-test-database");
}

#[test]
fn puts_the_db_subnet_group_in_the_given_isolated_subnets_of_an_existing_vpc() {
    let rendered = rendered(&existing_with(
        "isolated_subnet_ids",
        r#"["subnet-2a2a2a2a", "subnet-2b2b2b2b", "subnet-2c2c2c2c"]"#,
    ));
    let group = &resource(&rendered, "DatabaseSubnetGroup")["Properties"];
    assert_eq!(
        group["SubnetIds"].to_string(),
        r#"["subnet-2a2a2a2a","subnet-2b2b2b2b","subnet-2c2c2c2c"]"#
    );
    assert_eq!(
        rendered.template["Outputs"]["IsolatedSubnetIds"]["Value"],
        "subnet-2a2a2a2a,subnet-2b2b2b2b,subnet-2c2c2c2c"
    );
}

#[test]
fn omits_flow_logs_of_an_existing_vpc_when_disabled() {
    let rendered = rendered(&existing(r#""flow_logs": false"#));
    assert_eq!(resources(&rendered).count(), 2);
}

#[test]
fn tags_every_resource_of_an_existing_vpc() {
    let ctx = production_ctx();
    testing::assert_tagged(&rendered_in(&ctx, &existing("")), &ctx);
}

#[test]
fn rejects_every_key_of_a_new_vpc_with_an_existing_one() {
    let errors = errors(&existing(
        r#""cidr": "10.0.0.0/16", "availability_zones": 2, "nat_gateways": 1, "subnet_prefix": 20,
           "interface_endpoints": [], "s3_gateway_endpoint": true"#,
    ));
    assert_eq!(
        error_paths(&errors),
        [
            "cidr",
            "availability_zones",
            "nat_gateways",
            "subnet_prefix",
            "interface_endpoints",
            "s3_gateway_endpoint"
        ]
    );
    assert_eq!(
        errors[0].message,
        "`cidr` does not apply to an existing VPC"
    );
    assert!(errors.iter().all(|e| e.help.is_some()));
}

#[test]
fn rejects_a_malformed_vpc_id() {
    for id in [
        "vpc-123",
        "vpc-0123456789ABCDEF0",
        "0123456789abcdef0",
        "subnet-0a1b2c3d",
    ] {
        let error = error_at(
            &existing_with("vpc_id", &format!("{id:?}")),
            "existing_vpc.vpc_id",
        );
        assert_eq!(error.message, format!("`{id}` is not a VPC id"));
    }
}

#[test]
fn rejects_a_malformed_existing_vpc_block() {
    error_at(
        &existing_with("cidr", r#""172.31.0.0""#),
        "existing_vpc.cidr",
    );
    let error = error_at(
        &existing_with("cidr", r#""172.31.5.0/16""#),
        "existing_vpc.cidr",
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `172.31.0.0/16`?"));
}

#[test]
fn rejects_fewer_than_two_subnets_of_an_existing_vpc() {
    let error = error_at(
        &existing_with("public_subnet_ids", r#"["subnet-0a0a0a0a"]"#),
        "existing_vpc.public_subnet_ids",
    );
    assert_eq!(error.message, "`1` subnet(s) listed, expected at least 2");
    error_at(
        &existing_with("isolated_subnet_ids", "[]"),
        "existing_vpc.isolated_subnet_ids",
    );
}

#[test]
fn rejects_malformed_duplicate_and_public_private_subnets() {
    error_at(
        &existing_with("private_subnet_ids", r#"["subnet-1a1a1a1a", "subnet-xyz"]"#),
        "existing_vpc.private_subnet_ids.1",
    );
    let error = error_at(
        &existing_with(
            "private_subnet_ids",
            r#"["subnet-1a1a1a1a", "subnet-1a1a1a1a"]"#,
        ),
        "existing_vpc.private_subnet_ids.1",
    );
    assert_eq!(error.message, "subnet `subnet-1a1a1a1a` is listed twice");
    let error = error_at(
        &existing_with(
            "private_subnet_ids",
            r#"["subnet-0b0b0b0b", "subnet-1b1b1b1b"]"#,
        ),
        "existing_vpc.private_subnet_ids.0",
    );
    assert_eq!(
        error.message,
        "subnet `subnet-0b0b0b0b` is also in `existing_vpc.public_subnet_ids`"
    );
}

#[test]
fn rejects_a_zone_per_private_subnet_mismatch() {
    let error = error_at(
        &existing_with(
            "availability_zones",
            r#"["us-east-1a", "us-east-1b", "us-east-1c"]"#,
        ),
        "existing_vpc.availability_zones",
    );
    assert_eq!(
        error.message,
        "`3` availability zone(s) for `2` private subnet(s)"
    );
}

#[test]
fn rejects_zones_of_another_region_or_malformed() {
    let error = error_at(
        &existing_with("availability_zones", r#"["us-east-1a", "eu-west-1b"]"#),
        "existing_vpc.availability_zones.1",
    );
    assert_eq!(
        error.message,
        "availability zone `eu-west-1b` is not in region `us-east-1`"
    );
    let error = error_at(
        &existing_with("availability_zones", r#"["us-east-1", "us-east-1b"]"#),
        "existing_vpc.availability_zones.0",
    );
    assert_eq!(
        error.message,
        "`us-east-1` is not an availability zone name"
    );
}

#[test]
fn rejects_private_subnets_all_in_one_zone() {
    let error = error_at(
        &existing_with("availability_zones", r#"["us-east-1a", "us-east-1a"]"#),
        "existing_vpc.availability_zones",
    );
    assert_eq!(error.message, "every private subnet is in `us-east-1a`");
}

#[test]
fn requires_the_keys_of_an_existing_vpc() {
    let errors = errors(r#"{"existing_vpc": {"vpc_id": "vpc-0a1b2c3d"}}"#);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("missing field"),
        "{}",
        errors[0].message
    );
}

#[test]
fn rejects_unknown_keys_of_an_existing_vpc() {
    let config = existing_with("subnets", "[]");
    error_at(&config, "existing_vpc.subnets");
}

#[test]
fn reports_every_existing_vpc_error_at_once() {
    let config = r#"{"nat_gateways": 2, "flow_log_retention_days": 2, "existing_vpc": {
        "vpc_id": "vpc-1", "cidr": "nope", "public_subnet_ids": ["subnet-0a0a0a0a"],
        "private_subnet_ids": ["subnet-1a1a1a1a", "subnet-1b1b1b1b"], "availability_zones": ["us-east-1a"]}}"#;
    let errors = errors(config);
    assert_eq!(
        error_paths(&errors),
        [
            "nat_gateways",
            "existing_vpc.vpc_id",
            "existing_vpc.cidr",
            "existing_vpc.public_subnet_ids",
            "existing_vpc.availability_zones",
            "flow_log_retention_days",
        ]
    );
}

#[test]
fn renders_the_defaults_of_absent_keys_exactly_as_when_written() {
    let written = r#"{"cidr": "10.0.0.0/16", "availability_zones": 2, "nat_gateways": 1, "subnet_prefix": 20,
        "interface_endpoints": ["ecr.api", "ecr.dkr", "logs"], "s3_gateway_endpoint": true}"#;
    assert_eq!(
        rendered(written).template.to_string(),
        rendered("{}").template.to_string()
    );
}
