//! The `security` stack type: the security groups of a three-tier service.
//!
//! ```text
//! clients ──443/80──▶ ALB ──app_port──▶ ECS tasks ──database_port──▶ database
//!                                          └──443──▶ VPC endpoints, AWS APIs (via NAT)
//! ```
//!
//! Each group admits traffic only from the group in front of it, and sends
//! traffic only to the group behind it. Rules between groups are separate
//! `AWS::EC2::SecurityGroupIngress`/`Egress` resources, so no group's
//! definition refers to another's (which would be a circular reference for
//! ECS ⇄ database). Groups that should send nothing keep a single rule that
//! matches no traffic, which replaces the allow-all egress EC2 adds to a
//! group defined without egress rules.
//!
//! It imports `vpc-id` and `endpoint-security-group-id` from the
//! `networking` stack (and admits the ECS tasks to the endpoints' group),
//! and exports the three group ids: see [`EXPORTS`].

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::cidr::Cidr;
use strata_sdk::{Context, Diagnostics, Resource, Template, Value, aws, cfn, json};

use config::Checked;
pub use config::Config;

/// The outputs this stack exports, in order. The compute and database
/// stacks import them by these names.
pub const EXPORTS: [&str; 3] = [
    "alb-security-group-id",
    "ecs-security-group-id",
    "database-security-group-id",
];

const ALB: &str = "AlbSecurityGroup";
const ECS: &str = "EcsSecurityGroup";
const DATABASE: &str = "DatabaseSecurityGroup";

/// Render a security stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let config = config.validate()?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: security groups of the ALB, ECS tasks and database",
            ctx.name("security")
        ),
    );
    let vpc_id = template.import(&config.networking_stack, "vpc-id");
    let endpoint_group = template.import(&config.networking_stack, "endpoint-security-group-id");

    add_alb_group(&mut template, ctx, &config, &vpc_id);
    add_group(
        &mut template,
        ctx,
        ECS,
        "ecs",
        "ECS tasks, reached from the load balancer only",
        &vpc_id,
        // Image pulls, logs and AWS APIs, through the VPC endpoints or NAT.
        vec![cidr_rule(
            "CidrIp",
            "0.0.0.0/0",
            443,
            "HTTPS to AWS APIs and container registries",
        )],
    );
    add_group(
        &mut template,
        ctx,
        DATABASE,
        "database",
        "database, reached from ECS tasks only",
        &vpc_id,
        vec![aws::disallow_all_egress()],
    );

    let app = config.app_port;
    let database = config.database_port;
    link(
        &mut template,
        "AlbToEcs",
        ALB,
        ECS,
        app,
        "load balancer to ECS tasks",
    );
    link(
        &mut template,
        "EcsToDatabase",
        ECS,
        DATABASE,
        database,
        "ECS tasks to the database",
    );
    template.resource(
        "EndpointFromEcsIngress",
        ingress(
            endpoint_group,
            group_id(ECS),
            443,
            "HTTPS from ECS tasks to the VPC endpoints",
        ),
    );

    template.export(
        "alb-security-group-id",
        group_id(ALB),
        "ID of the load balancer's security group",
    );
    template.export(
        "ecs-security-group-id",
        group_id(ECS),
        "ID of the ECS tasks' security group",
    );
    template.export(
        "database-security-group-id",
        group_id(DATABASE),
        "ID of the database's security group",
    );
    Ok(template)
}

fn group_id(logical_id: &str) -> Value {
    cfn::get_att(logical_id, "GroupId")
}

/// The load balancer admits HTTPS (and HTTP, to redirect it) from the
/// configured blocks; it may send only to the ECS tasks, through [`link`].
fn add_alb_group(template: &mut Template, ctx: &Context, config: &Checked, vpc_id: &Value) {
    let mut ports = vec![(443, "HTTPS")];
    if config.allow_http_redirect {
        ports.push((80, "HTTP, redirected to HTTPS"));
    }
    let ingress: Vec<Value> = config
        .alb_ingress_cidrs
        .iter()
        .flat_map(|cidr| {
            ports.iter().map(move |(port, what)| {
                cidr_rule(
                    rule_key(*cidr),
                    &cidr.to_string(),
                    *port,
                    &format!("{what} from {cidr}"),
                )
            })
        })
        .collect();
    let name = ctx.name("alb");
    template.resource(
        ALB,
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{name}: load balancer, HTTPS from clients"),
                "VpcId": vpc_id,
                "SecurityGroupIngress": ingress,
                "SecurityGroupEgress": [aws::disallow_all_egress()],
                "Tags": ctx.tags_named(&name),
            }),
        ),
    );
}

/// A group with no ingress of its own (rules from other groups are added
/// by [`link`]) and the given inline egress.
fn add_group(
    template: &mut Template,
    ctx: &Context,
    logical_id: &str,
    suffix: &str,
    purpose: &str,
    vpc_id: &Value,
    egress: Vec<Value>,
) {
    let name = ctx.name(suffix);
    template.resource(
        logical_id,
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{name}: {purpose}"),
                "VpcId": vpc_id,
                "SecurityGroupEgress": egress,
                "Tags": ctx.tags_named(&name),
            }),
        ),
    );
}

/// Let `from` open TCP connections to `to` on `port`: an egress rule on
/// `from` and the matching ingress rule on `to`.
fn link(template: &mut Template, name: &str, from: &str, to: &str, port: u16, what: &str) {
    template.resource(
        &format!("{name}Egress"),
        Resource::new(
            "AWS::EC2::SecurityGroupEgress",
            json!({
                "GroupId": group_id(from),
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "DestinationSecurityGroupId": group_id(to),
                "Description": format!("To {what}"),
            }),
        ),
    );
    template.resource(
        &format!("{name}Ingress"),
        ingress(group_id(to), group_id(from), port, &format!("From {what}")),
    );
}

fn ingress(group: Value, source: Value, port: u16, description: &str) -> Resource {
    Resource::new(
        "AWS::EC2::SecurityGroupIngress",
        json!({
            "GroupId": group,
            "IpProtocol": "tcp",
            "FromPort": port,
            "ToPort": port,
            "SourceSecurityGroupId": source,
            "Description": description,
        }),
    )
}

/// The property of a security group rule that holds `cidr`.
fn rule_key(cidr: Cidr) -> &'static str {
    if cidr.is_ipv6() { "CidrIpv6" } else { "CidrIp" }
}

/// An inline TCP rule for one port and one CIDR block (`key` is `CidrIp`
/// or `CidrIpv6`).
fn cidr_rule(key: &str, cidr: &str, port: u16, description: &str) -> Value {
    json!({ "IpProtocol": "tcp", "FromPort": port, "ToPort": port, key: cidr, "Description": description })
}

strata_sdk::module! {
    name: "security",
    description: "Security groups for the ALB, ECS tasks and database, each open only to the tier in front of it",
    config: Config,
    render: render,
}
