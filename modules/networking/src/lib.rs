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
//! - [`existing`] checks the `existing_vpc` table: with it, the stack adopts
//!   a VPC created elsewhere and creates only the DB subnet group, the
//!   endpoints' security group and the flow logs, exporting the given ids.
//!
//! Every stack that runs inside the VPC imports this stack's exports
//! (`vpc-id`, the subnet lists, `db-subnet-group-name`, ...), so their names
//! are a contract: see [`EXPORTS`].

pub mod config;
pub mod endpoints;
pub mod existing;
pub mod flow_logs;
pub mod network;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, cfn, json};

pub use config::Config;
use config::{Existing, Layout, Network};
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
    let (network, warnings) = config.validate(ctx)?;
    let mut template = match network {
        Network::New(layout) => render_new(ctx, &config, &layout),
        Network::Existing(existing) => render_existing(ctx, &config, &existing),
    };
    template.warn_all(warnings);
    Ok(template)
}

fn render_new(ctx: &Context, config: &Config, layout: &Layout) -> Template {
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
    network::add(&mut template, ctx, layout);
    endpoints::add(&mut template, ctx, layout);
    add_db_subnet_group(
        &mut template,
        ctx,
        format!("Isolated subnets of {} for databases", ctx.name("vpc")),
        subnet_refs(Tier::Isolated, layout),
    );
    if config.flow_logs {
        flow_logs::add(
            &mut template,
            ctx,
            cfn::reference(network::VPC),
            config.flow_log_retention_days,
        );
    }
    add_exports(&mut template, layout);
    template
}

/// In an existing VPC only what the other stacks import from this one is
/// created (the DB subnet group and the endpoints' security group), plus
/// the flow logs; every export is the literal id from the config.
fn render_existing(ctx: &Context, config: &Config, existing: &Existing) -> Template {
    let mut template = Template::new(
        ctx,
        format!(
            "{}: existing VPC {} ({}) over {} availability zones",
            ctx.name("networking"),
            existing.vpc_id,
            existing.cidr,
            existing.availability_zones.len()
        ),
    );
    let vpc_id = Value::String(existing.vpc_id.clone());
    endpoints::add_security_group(&mut template, ctx, vpc_id.clone());
    let isolated_are_private = existing.isolated_subnet_ids == existing.private_subnet_ids;
    let tier = if isolated_are_private {
        "Private"
    } else {
        "Isolated"
    };
    add_db_subnet_group(
        &mut template,
        ctx,
        format!("{tier} subnets of {} for databases", existing.vpc_id),
        existing
            .isolated_subnet_ids
            .iter()
            .map(|id| Value::String(id.clone()))
            .collect(),
    );
    if config.flow_logs {
        flow_logs::add(
            &mut template,
            ctx,
            vpc_id.clone(),
            config.flow_log_retention_days,
        );
    }

    let joined = |ids: &[String]| Value::String(ids.join(","));
    template.export("vpc-id", vpc_id, "ID of the VPC");
    template.export(
        "vpc-cidr",
        Value::String(existing.cidr.to_string()),
        "IPv4 block of the VPC",
    );
    for (name, ids) in [
        ("public", &existing.public_subnet_ids),
        ("private", &existing.private_subnet_ids),
        ("isolated", &existing.isolated_subnet_ids),
    ] {
        template.export(
            &format!("{name}-subnet-ids"),
            joined(ids),
            &format!("Comma-separated IDs of the {name} subnets"),
        );
    }
    template.export(
        "availability-zones",
        joined(&existing.availability_zones),
        "Comma-separated availability zones, in private subnet order",
    );
    add_shared_exports(&mut template);
    template
}

/// RDS places databases by subnet group; for a new VPC it spans the
/// isolated subnets, so a database has no route to or from the internet.
fn add_db_subnet_group(
    template: &mut Template,
    ctx: &Context,
    description: String,
    subnets: Vec<Value>,
) {
    template.resource(
        DB_SUBNET_GROUP,
        Resource::new(
            "AWS::RDS::DBSubnetGroup",
            json!({
                // RDS stores subnet group names in lowercase.
                "DBSubnetGroupName": ctx.name("database").to_lowercase(),
                "DBSubnetGroupDescription": description,
                "SubnetIds": subnets,
                "Tags": ctx.tags(),
            }),
        ),
    );
}

fn subnet_refs(tier: Tier, layout: &Layout) -> Vec<Value> {
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
    add_shared_exports(template);
}

/// The exports of the resources both kinds of stack create.
fn add_shared_exports(template: &mut Template) {
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
    description: "VPC with public, private and isolated subnets over N AZs, NAT gateways, VPC endpoints and flow logs; or an existing VPC adopted by id",
    config: Config,
    render: render,
}
