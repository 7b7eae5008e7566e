//! The VPC itself: three tiers of subnets, the internet gateway, NAT
//! gateways and the route tables that make a tier public, private or
//! isolated.

use strata_sdk::{Context, Resource, Template, cfn, json};

use crate::config::Layout;

/// Logical id of the VPC.
pub const VPC: &str = "Vpc";
const INTERNET_GATEWAY: &str = "InternetGateway";
const GATEWAY_ATTACHMENT: &str = "InternetGatewayAttachment";
const PUBLIC_ROUTE_TABLE: &str = "PublicRouteTable";
/// Logical id of the one route table the isolated subnets share.
pub const ISOLATED_ROUTE_TABLE: &str = "IsolatedRouteTable";

/// How a subnet reaches the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Routes to the internet gateway: load balancers and NAT gateways.
    Public,
    /// Routes out through a NAT gateway: ECS tasks and other compute.
    Private,
    /// No route out at all: databases.
    Isolated,
}

impl Tier {
    /// The tiers in the order their blocks are carved from the VPC.
    pub const ALL: [Tier; 3] = [Tier::Public, Tier::Private, Tier::Isolated];

    /// Position in [`Tier::ALL`], which is also the tier's index in
    /// [`Layout::subnets`].
    pub fn index(self) -> usize {
        match self {
            Tier::Public => 0,
            Tier::Private => 1,
            Tier::Isolated => 2,
        }
    }

    /// Lowercase name used in physical names, e.g. `acme-prod-private-1`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
            Tier::Isolated => "isolated",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Tier::Public => "Public",
            Tier::Private => "Private",
            Tier::Isolated => "Isolated",
        }
    }
}

/// Logical id of the subnet of `tier` in zone `zone` (0-based), e.g.
/// `PrivateSubnet2` for the second zone.
pub fn subnet_id(tier: Tier, zone: usize) -> String {
    format!("{}Subnet{}", tier.title(), zone + 1)
}

/// Logical id of the private route table of zone `zone` (0-based).
pub fn private_route_table_id(zone: usize) -> String {
    format!("PrivateRouteTable{}", zone + 1)
}

/// Add the VPC, its subnets, gateways and routing.
pub fn add(template: &mut Template, ctx: &Context, layout: &Layout) {
    template.resource(
        VPC,
        Resource::new(
            "AWS::EC2::VPC",
            json!({
                "CidrBlock": layout.vpc.to_string(),
                // Both are needed for interface endpoints' private DNS names.
                "EnableDnsSupport": true,
                "EnableDnsHostnames": true,
                "Tags": ctx.tags_named(&ctx.name("vpc")),
            }),
        ),
    );
    add_internet_gateway(template, ctx);
    for tier in Tier::ALL {
        add_subnets(template, ctx, layout, tier);
    }
    add_public_routing(template, ctx, layout);
    add_nat_gateways(template, ctx, layout);
    add_private_routing(template, ctx, layout);
    add_isolated_routing(template, ctx, layout);
}

fn add_internet_gateway(template: &mut Template, ctx: &Context) {
    template.resource(
        INTERNET_GATEWAY,
        Resource::new(
            "AWS::EC2::InternetGateway",
            json!({ "Tags": ctx.tags_named(&ctx.name("igw")) }),
        ),
    );
    template.resource(
        GATEWAY_ATTACHMENT,
        Resource::new(
            "AWS::EC2::VPCGatewayAttachment",
            json!({ "VpcId": cfn::reference(VPC), "InternetGatewayId": cfn::reference(INTERNET_GATEWAY) }),
        ),
    );
}

fn add_subnets(template: &mut Template, ctx: &Context, layout: &Layout, tier: Tier) {
    for (zone, block) in layout.subnets[tier.index()].iter().enumerate() {
        template.resource(
            &subnet_id(tier, zone),
            Resource::new(
                "AWS::EC2::Subnet",
                json!({
                    "VpcId": cfn::reference(VPC),
                    "CidrBlock": block.to_string(),
                    "AvailabilityZone": cfn::availability_zone(zone),
                    // Nothing launched here should get a public address by
                    // accident: load balancers and NAT gateways bring their own.
                    "MapPublicIpOnLaunch": false,
                    "Tags": ctx.tags_named(&ctx.name(&format!("{}-{}", tier.name(), zone + 1))),
                }),
            ),
        );
    }
}

fn add_route_table(template: &mut Template, ctx: &Context, logical_id: &str, name: &str) {
    template.resource(
        logical_id,
        Resource::new(
            "AWS::EC2::RouteTable",
            json!({ "VpcId": cfn::reference(VPC), "Tags": ctx.tags_named(&ctx.name(name)) }),
        ),
    );
}

fn associate(template: &mut Template, subnet: &str, route_table: &str) {
    template.resource(
        &format!("{subnet}RouteTableAssociation"),
        Resource::new(
            "AWS::EC2::SubnetRouteTableAssociation",
            json!({ "SubnetId": cfn::reference(subnet), "RouteTableId": cfn::reference(route_table) }),
        ),
    );
}

fn add_public_routing(template: &mut Template, ctx: &Context, layout: &Layout) {
    add_route_table(template, ctx, PUBLIC_ROUTE_TABLE, "public");
    // A route to the gateway fails until the gateway is attached.
    template.resource(
        "PublicDefaultRoute",
        Resource::new(
            "AWS::EC2::Route",
            json!({
                "RouteTableId": cfn::reference(PUBLIC_ROUTE_TABLE),
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": cfn::reference(INTERNET_GATEWAY),
            }),
        )
        .depends_on(GATEWAY_ATTACHMENT),
    );
    for zone in 0..layout.zones {
        associate(template, &subnet_id(Tier::Public, zone), PUBLIC_ROUTE_TABLE);
    }
}

fn nat_gateway_id(index: usize) -> String {
    format!("NatGateway{}", index + 1)
}

/// One Elastic IP and NAT gateway in each of the first `nat_gateways`
/// public subnets.
fn add_nat_gateways(template: &mut Template, ctx: &Context, layout: &Layout) {
    for index in 0..layout.nat_gateways {
        let gateway = nat_gateway_id(index);
        let eip = format!("{gateway}Eip");
        let name = ctx.name(&format!("nat-{}", index + 1));
        template.resource(
            &eip,
            Resource::new(
                "AWS::EC2::EIP",
                json!({ "Domain": "vpc", "Tags": ctx.tags_named(&name) }),
            )
            .depends_on(GATEWAY_ATTACHMENT),
        );
        template.resource(
            &gateway,
            Resource::new(
                "AWS::EC2::NatGateway",
                json!({
                    "AllocationId": cfn::get_att(&eip, "AllocationId"),
                    "SubnetId": cfn::reference(&subnet_id(Tier::Public, index)),
                    "Tags": ctx.tags_named(&name),
                }),
            ),
        );
    }
}

/// A route table per zone, so each zone can use its own NAT gateway (zone
/// `i` uses gateway `i % nat_gateways`). With no NAT gateways there is no
/// default route at all.
fn add_private_routing(template: &mut Template, ctx: &Context, layout: &Layout) {
    for zone in 0..layout.zones {
        let route_table = private_route_table_id(zone);
        add_route_table(
            template,
            ctx,
            &route_table,
            &format!("private-{}", zone + 1),
        );
        if layout.nat_gateways > 0 {
            template.resource(
                &format!("PrivateDefaultRoute{}", zone + 1),
                Resource::new(
                    "AWS::EC2::Route",
                    json!({
                        "RouteTableId": cfn::reference(&route_table),
                        "DestinationCidrBlock": "0.0.0.0/0",
                        "NatGatewayId": cfn::reference(&nat_gateway_id(zone % layout.nat_gateways)),
                    }),
                ),
            );
        }
        associate(template, &subnet_id(Tier::Private, zone), &route_table);
    }
}

/// One route table for every isolated subnet: only the VPC's local route
/// (and the S3 gateway endpoint's, when enabled).
fn add_isolated_routing(template: &mut Template, ctx: &Context, layout: &Layout) {
    add_route_table(template, ctx, ISOLATED_ROUTE_TABLE, "isolated");
    for zone in 0..layout.zones {
        associate(
            template,
            &subnet_id(Tier::Isolated, zone),
            ISOLATED_ROUTE_TABLE,
        );
    }
}
