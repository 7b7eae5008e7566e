//! The `networking` stack type: a VPC with public, private and isolated
//! subnets over N availability zones, NAT gateways, VPC endpoints, a DB
//! subnet group and flow logs.
//!
//! - [`config`] holds the stack's table and validates it into a layout
//!   (subnet blocks are computed here, in Rust, so plans show literal CIDRs).
//! - [`network`] adds the VPC, subnets, gateways and route tables.
//! - [`endpoints`] adds the S3 gateway endpoint, the interface endpoints and
//!   their security group (whose ingress the `security` stack adds).
//! - [`flow_logs`] adds the flow log, its log group and delivery role.
//!
//! Every stack that runs inside the VPC imports this stack's exports
//! (`vpc-id`, the subnet lists, `db-subnet-group-name`, ...), so their names
//! are a contract: see [`EXPORTS`].

pub mod config;
pub mod endpoints;
pub mod flow_logs;
pub mod network;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, cfn, json};

pub use config::Config;
use config::Layout;
use network::Tier;

/// The outputs this stack exports, in order. Other modules import them by
/// these names.
pub const EXPORTS: [&str; 8] = [
    "vpc-id",
    "vpc-cidr",
    "public-subnet-ids",
    "private-subnet-ids",
    "isolated-subnet-ids",
    "availability-zones",
    "db-subnet-group-name",
    "endpoint-security-group-id",
];

const DB_SUBNET_GROUP: &str = "DatabaseSubnetGroup";

/// Render a networking stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (layout, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: VPC {} over {} availability zones with {} NAT gateway(s)",
            ctx.name("networking"),
            layout.vpc,
            layout.zones,
            layout.nat_gateways
        ),
    );
    template.warn_all(warnings);

    network::add(&mut template, ctx, &layout);
    endpoints::add(
        &mut template,
        ctx,
        &layout,
        &config.interface_endpoints,
        config.s3_gateway_endpoint,
    );
    add_db_subnet_group(&mut template, ctx, &layout);
    if config.flow_logs {
        flow_logs::add(&mut template, ctx, config.flow_log_retention_days);
    }
    add_exports(&mut template, &layout);
    Ok(template)
}

/// RDS places databases by subnet group; it spans the isolated subnets, so
/// a database has no route to or from the internet.
fn add_db_subnet_group(template: &mut Template, ctx: &Context, layout: &Layout) {
    template.resource(
        DB_SUBNET_GROUP,
        Resource::new(
            "AWS::RDS::DBSubnetGroup",
            json!({
                // RDS stores subnet group names in lowercase.
                "DBSubnetGroupName": ctx.name("database").to_lowercase(),
                "DBSubnetGroupDescription": format!("Isolated subnets of {} for databases", ctx.name("vpc")),
                "SubnetIds": subnet_refs(Tier::Isolated, layout),
                "Tags": ctx.tags(),
            }),
        ),
    );
}

fn subnet_refs(tier: Tier, layout: &Layout) -> Vec<strata_sdk::Value> {
    (0..layout.zones)
        .map(|zone| cfn::reference(&network::subnet_id(tier, zone)))
        .collect()
}

/// Lists are exported comma-joined; importers `Fn::Split` them back.
fn add_exports(template: &mut Template, layout: &Layout) {
    template.export("vpc-id", cfn::reference(network::VPC), "ID of the VPC");
    template.export(
        "vpc-cidr",
        cfn::get_att(network::VPC, "CidrBlock"),
        "IPv4 block of the VPC",
    );
    for tier in Tier::ALL {
        let name = tier.name();
        template.export(
            &format!("{name}-subnet-ids"),
            cfn::join(",", subnet_refs(tier, layout)),
            &format!("Comma-separated IDs of the {name} subnets, one per availability zone"),
        );
    }
    let zones = (0..layout.zones)
        .map(|zone| cfn::get_att(&network::subnet_id(Tier::Public, zone), "AvailabilityZone"));
    template.export(
        "availability-zones",
        cfn::join(",", zones),
        "Comma-separated availability zones, in subnet order",
    );
    template.export(
        "db-subnet-group-name",
        cfn::reference(DB_SUBNET_GROUP),
        "Name of the DB subnet group",
    );
    template.export(
        "endpoint-security-group-id",
        cfn::get_att(endpoints::SECURITY_GROUP, "GroupId"),
        "ID of the interface VPC endpoints' security group",
    );
}

strata_sdk::module! {
    name: "networking",
    description: "VPC with public, private and isolated subnets over N AZs, NAT gateways, VPC endpoints and flow logs",
    config: Config,
    render: render,
}
