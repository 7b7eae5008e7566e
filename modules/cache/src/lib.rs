//! The `cache` stack type: an ElastiCache replication group (Redis OSS or
//! Valkey, cluster mode disabled) for the application's ECS tasks.
//!
//! - [`config`] validates the stack's table and resolves the defaults that
//!   depend on the environment (multi-AZ with 2 nodes and a week of
//!   snapshots in production, where neither may be turned down, nor TLS off).
//! - This file adds the resources: a subnet group over the `networking`
//!   stack's private subnets, the cache's own security group (admitting the
//!   `security` stack's ECS tasks' group on the cache port, and nothing
//!   else), an optional parameter group, a KMS key for encryption at rest,
//!   and the replication group.
//!
//! The stack wires both directions of the one path it opens: an ingress
//! rule on the cache's group from the ECS tasks' group, and an egress rule
//! on the ECS tasks' group (imported from the `security` stack, which only
//! lets the tasks send on 443 and the database port) to the cache's group.
//! The exports ([`EXPORTS`]) are what the compute stack needs to connect.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, DeletionPolicy, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::Settings;

/// The outputs this stack exports, in order. Other modules import them by
/// these names.
pub const EXPORTS: [&str; 4] = [
    "primary-endpoint-address",
    "primary-endpoint-port",
    "reader-endpoint-address",
    "security-group-id",
];

const KEY: &str = "CacheKey";
const SUBNET_GROUP: &str = "CacheSubnetGroup";
const SECURITY_GROUP: &str = "CacheSecurityGroup";
const PARAMETER_GROUP: &str = "CacheParameterGroup";
const REPLICATION_GROUP: &str = "Cache";

/// Render a cache stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: {} {} on {} x {}",
            settings.identifier,
            if settings.engine == "valkey" {
                "Valkey"
            } else {
                "Redis OSS"
            },
            settings.engine_version,
            settings.num_cache_clusters,
            settings.node_type
        ),
    );
    template.warn_all(warnings);

    add_key(&mut template, ctx, &settings);
    add_subnet_group(&mut template, ctx, &settings);
    add_security_group(&mut template, ctx, &settings);
    if !settings.parameters.is_empty() {
        add_parameter_group(&mut template, ctx, &settings);
    }
    add_replication_group(&mut template, ctx, &settings);

    template.export(
        "primary-endpoint-address",
        cfn::get_att(REPLICATION_GROUP, "PrimaryEndPoint.Address"),
        "Hostname of the cache's primary (read and write)",
    );
    template.export(
        "primary-endpoint-port",
        cfn::get_att(REPLICATION_GROUP, "PrimaryEndPoint.Port"),
        "Port of the cache",
    );
    template.export(
        "reader-endpoint-address",
        cfn::get_att(REPLICATION_GROUP, "ReaderEndPoint.Address"),
        "Hostname of the cache's reader endpoint (spread over the replicas)",
    );
    template.export(
        "security-group-id",
        cfn::get_att(SECURITY_GROUP, "GroupId"),
        "ID of the cache's security group",
    );
    Ok(template)
}

fn key_arn() -> Value {
    cfn::get_att(KEY, "Arn")
}

/// The key outlives the stack: the final snapshot taken when the cache is
/// deleted is encrypted with it, and would be lost with the key. The account
/// administers the key; IAM policies (of the deploying role, of
/// ElastiCache's grants) decide who uses it.
fn add_key(template: &mut Template, ctx: &Context, settings: &Settings) {
    aws::add_kms_key(
        template,
        ctx,
        aws::KmsKey {
            logical_id: KEY,
            alias: &settings.identifier,
            description: format!("Encrypts {} at rest: data, snapshots", settings.identifier),
            statements: Vec::new(),
        },
        DeletionPolicy::Retain,
    );
}

/// The private subnets: the cache has no route from the internet, and the
/// ECS tasks it serves run there.
fn add_subnet_group(template: &mut Template, ctx: &Context, settings: &Settings) {
    let subnets = cfn::split(
        ",",
        template.import(&settings.networking_stack, "private-subnet-ids"),
    );
    template.resource(
        SUBNET_GROUP,
        Resource::new(
            "AWS::ElastiCache::SubnetGroup",
            json!({
                // ElastiCache stores subnet group names in lowercase.
                "CacheSubnetGroupName": settings.identifier,
                "Description": format!("Private subnets of {}", settings.identifier),
                "SubnetIds": subnets,
                "Tags": ctx.tags(),
            }),
        ),
    );
}

/// The cache's own group admits the ECS tasks' group on the cache port
/// (through a separate ingress resource, as the security stack links its
/// groups) and sends nothing: its one egress rule matches no traffic,
/// replacing the allow-all rule EC2 adds to a group defined without egress.
/// The ECS tasks' group gets the matching egress rule, without which the
/// tasks could not open a connection to the cache.
fn add_security_group(template: &mut Template, ctx: &Context, settings: &Settings) {
    let vpc_id = template.import(&settings.networking_stack, "vpc-id");
    let ecs_group = template.import(&settings.security_stack, "ecs-security-group-id");
    template.resource(
        SECURITY_GROUP,
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{}: cache, reached from ECS tasks only", settings.identifier),
                "VpcId": vpc_id,
                "SecurityGroupEgress": [aws::disallow_all_egress()],
                "Tags": ctx.tags_named(&settings.identifier),
            }),
        ),
    );
    template.resource(
        "CacheFromEcsIngress",
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "GroupId": cfn::get_att(SECURITY_GROUP, "GroupId"),
                "SourceSecurityGroupId": ecs_group,
                "IpProtocol": "tcp",
                "FromPort": settings.port,
                "ToPort": settings.port,
                "Description": "ECS tasks to the cache",
            }),
        ),
    );
    template.resource(
        "EcsToCacheEgress",
        Resource::new(
            "AWS::EC2::SecurityGroupEgress",
            json!({
                "GroupId": ecs_group,
                "DestinationSecurityGroupId": cfn::get_att(SECURITY_GROUP, "GroupId"),
                "IpProtocol": "tcp",
                "FromPort": settings.port,
                "ToPort": settings.port,
                "Description": "ECS tasks to the cache",
            }),
        ),
    );
}

/// Unnamed, so a major version upgrade (a new family) can replace it.
fn add_parameter_group(template: &mut Template, ctx: &Context, settings: &Settings) {
    template.resource(
        PARAMETER_GROUP,
        Resource::new(
            "AWS::ElastiCache::ParameterGroup",
            json!({
                "CacheParameterGroupFamily": settings.family,
                "Description": format!("{}: engine parameters", settings.identifier),
                "Properties": settings.parameters,
                "Tags": ctx.tags(),
            }),
        ),
    );
}

/// Deleting or replacing the group takes a final snapshot, unless it keeps
/// no snapshots at all (then there is nothing to restore it from anyway,
/// and it goes with the stack; a warning says so).
fn add_replication_group(template: &mut Template, ctx: &Context, settings: &Settings) {
    let failover = settings.num_cache_clusters >= 2;
    let mut properties = json!({
        "ReplicationGroupId": settings.identifier,
        "ReplicationGroupDescription": format!("{}: application cache", settings.identifier),
        "Engine": settings.engine,
        "EngineVersion": settings.engine_version,
        "AutoMinorVersionUpgrade": true,
        "CacheNodeType": settings.node_type,
        "NumCacheClusters": settings.num_cache_clusters,
        "AutomaticFailoverEnabled": failover,
        "MultiAZEnabled": settings.multi_az,
        "AtRestEncryptionEnabled": true,
        "KmsKeyId": key_arn(),
        "TransitEncryptionEnabled": settings.transit_encryption,
        "SnapshotRetentionLimit": settings.snapshot_retention_days,
        "CacheSubnetGroupName": cfn::reference(SUBNET_GROUP),
        "SecurityGroupIds": [cfn::get_att(SECURITY_GROUP, "GroupId")],
        "Port": settings.port,
        "Tags": ctx.tags_named(&settings.identifier),
    });
    if !settings.parameters.is_empty() {
        properties["CacheParameterGroupName"] = cfn::reference(PARAMETER_GROUP);
    }
    if let Some(window) = &settings.maintenance_window {
        properties["PreferredMaintenanceWindow"] = window.as_str().into();
    }
    if let Some(window) = &settings.snapshot_window {
        properties["SnapshotWindow"] = window.as_str().into();
    }
    let policy = if settings.snapshot_retention_days == 0 {
        template.warn(
            "snapshot_retention_days",
            "`0` days of snapshots: the cache keeps no snapshots and is deleted without a final one",
            Some("keep at least `1` day of snapshots if its data is worth restoring"),
        );
        DeletionPolicy::Delete
    } else {
        DeletionPolicy::Snapshot
    };
    template.resource(
        REPLICATION_GROUP,
        Resource::new("AWS::ElastiCache::ReplicationGroup", properties).retain_as(policy),
    );
}

strata_sdk::module! {
    name: "cache",
    description: "ElastiCache Redis OSS or Valkey in private subnets: KMS-encrypted, TLS, reachable from ECS tasks only, multi-AZ in prod",
    config: Config,
    render: render,
}
