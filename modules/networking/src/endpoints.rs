//! VPC endpoints: the free S3 gateway endpoint, and interface endpoints that
//! keep AWS API traffic (ECR pulls, log shipping) off the NAT gateways.

use strata_sdk::{Context, Resource, Template, Value, aws, cfn, json};

use crate::config::Layout;
use crate::network::{ISOLATED_ROUTE_TABLE, Tier, VPC, private_route_table_id, subnet_id};

/// Logical id of the interface endpoints' security group.
pub const SECURITY_GROUP: &str = "EndpointSecurityGroup";

/// Add the endpoints' security group (always: the security stack imports
/// it), the S3 gateway endpoint and the interface endpoints of a new VPC.
pub fn add(template: &mut Template, ctx: &Context, layout: &Layout) {
    add_security_group(template, ctx, cfn::reference(VPC));
    if layout.s3_gateway_endpoint {
        add_s3_gateway(template, ctx, layout);
    }
    for service in &layout.interface_endpoints {
        add_interface_endpoint(template, ctx, layout, service);
    }
}

/// The group starts with no ingress: the security stack admits HTTPS from
/// the ECS tasks' group, which lives there. Endpoints never open
/// connections, so egress gets CloudFormation's usual "disallow all"
/// placeholder instead of the default allow-all rule. `vpc_id` is a `Ref`
/// to the new VPC, or an existing VPC's id.
pub fn add_security_group(template: &mut Template, ctx: &Context, vpc_id: Value) {
    let name = ctx.name("vpc-endpoints");
    template.resource(
        SECURITY_GROUP,
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{name}: interface VPC endpoints, HTTPS from ECS tasks only"),
                "VpcId": vpc_id,
                "SecurityGroupEgress": [aws::disallow_all_egress()],
                "Tags": ctx.tags_named(&name),
            }),
        ),
    );
}

fn service_name(service: &str) -> Value {
    cfn::sub(&format!("com.amazonaws.${{AWS::Region}}.{service}"))
}

/// Gateway endpoints are free and route by prefix list, so private and
/// isolated subnets reach S3 without NAT (and isolated ones at all).
fn add_s3_gateway(template: &mut Template, ctx: &Context, layout: &Layout) {
    let route_tables: Vec<Value> = (0..layout.zones)
        .map(|zone| cfn::reference(&private_route_table_id(zone)))
        .chain([cfn::reference(ISOLATED_ROUTE_TABLE)])
        .collect();
    template.resource(
        "S3GatewayEndpoint",
        Resource::new(
            "AWS::EC2::VPCEndpoint",
            json!({
                "VpcId": cfn::reference(VPC),
                "ServiceName": service_name("s3"),
                "VpcEndpointType": "Gateway",
                "RouteTableIds": route_tables,
                "Tags": ctx.tags_named(&ctx.name("s3-endpoint")),
            }),
        ),
    );
}

/// An interface endpoint in every private subnet, with private DNS so the
/// SDKs' default hostnames resolve to it.
fn add_interface_endpoint(template: &mut Template, ctx: &Context, layout: &Layout, service: &str) {
    let subnets: Vec<Value> = (0..layout.zones)
        .map(|zone| cfn::reference(&subnet_id(Tier::Private, zone)))
        .collect();
    let slug = service.replace('.', "-");
    template.resource(
        &format!("{}Endpoint", cfn::logical_id(service)),
        Resource::new(
            "AWS::EC2::VPCEndpoint",
            json!({
                "VpcId": cfn::reference(VPC),
                "ServiceName": service_name(service),
                "VpcEndpointType": "Interface",
                "PrivateDnsEnabled": true,
                "SubnetIds": subnets,
                "SecurityGroupIds": [cfn::get_att(SECURITY_GROUP, "GroupId")],
                "Tags": ctx.tags_named(&ctx.name(&format!("{slug}-endpoint"))),
            }),
        ),
    );
}
