//! The `efs` stack type: an encrypted EFS file system that ECS tasks mount.
//!
//! - [`config`] validates the stack's table: modes, lifecycle, the stacks to
//!   import from, and the access points.
//! - This file adds the resources: the file system (encrypted, backed up,
//!   its policy refusing unencrypted NFS and mounts from outside the mount
//!   targets; retained in production), a security group for the mount
//!   targets admitting NFS (TCP 2049) only from the source group, the
//!   matching egress rule on the source group, one mount target per private
//!   subnet, and the access points.
//!
//! It imports `vpc-id` and `private-subnet-ids` from the networking stack
//! and the source group (by default `security`'s `ecs-security-group-id`);
//! the compute stack imports what it exports (see [`exports`]) to mount the
//! file system in its tasks, with transit encryption.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{Settings, ThroughputMode};

const FILE_SYSTEM: &str = "FileSystem";
const SECURITY_GROUP: &str = "MountTargetSecurityGroup";
const NFS_PORT: u16 = 2049;

/// The export names of a config's access points (by short name), in order.
pub fn exports(access_points: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = ["file-system-id", "file-system-arn", "security-group-id"]
        .map(String::from)
        .to_vec();
    for name in access_points {
        names.push(format!("access-point-{name}-id"));
        names.push(format!("access-point-{name}-arn"));
    }
    names
}

/// Render an efs stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let settings = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: encrypted EFS file system, {} mount target(s), {} access point(s)",
            ctx.name(&ctx.stack),
            settings.availability_zones,
            settings.access_points.len()
        ),
    );
    add_file_system(&mut template, ctx, &settings);
    add_network(&mut template, ctx, &settings);
    add_access_points(&mut template, ctx, &settings);

    template.export(
        "file-system-id",
        cfn::reference(FILE_SYSTEM),
        "Id of the EFS file system",
    );
    template.export(
        "file-system-arn",
        cfn::get_att(FILE_SYSTEM, "Arn"),
        "ARN of the EFS file system",
    );
    template.export(
        "security-group-id",
        cfn::get_att(SECURITY_GROUP, "GroupId"),
        "Security group of the mount targets",
    );
    for point in &settings.access_points {
        let name = &point.name;
        template.export(
            &format!("access-point-{name}-id"),
            cfn::reference(&point.logical_id),
            &format!("Id of the {name} access point"),
        );
        template.export(
            &format!("access-point-{name}-arn"),
            cfn::get_att(&point.logical_id, "Arn"),
            &format!("ARN of the {name} access point"),
        );
    }
    Ok(template)
}

fn add_file_system(template: &mut Template, ctx: &Context, settings: &Settings) {
    let mut lifecycle = Vec::new();
    if let Some(days) = settings.transition_to_ia_days {
        lifecycle.push(json!({ "TransitionToIA": format!("AFTER_{days}_DAYS") }));
    }
    if let Some(days) = settings.transition_to_archive_days {
        lifecycle.push(json!({ "TransitionToArchive": format!("AFTER_{days}_DAYS") }));
    }
    if settings.transition_to_primary_on_access {
        lifecycle.push(json!({ "TransitionToPrimaryStorageClass": "AFTER_1_ACCESS" }));
    }
    let mut client_actions = vec![
        "elasticfilesystem:ClientMount",
        "elasticfilesystem:ClientWrite",
    ];
    if settings.allow_root_access {
        client_actions.push("elasticfilesystem:ClientRootAccess");
    }
    let policy = aws::policy_document(vec![
        // Clients reach the file system through its mount targets only (the
        // security group decides who may), never by a public path.
        json!({
            "Sid": "ClientsMountThroughTheMountTargets",
            "Effect": "Allow",
            "Principal": { "AWS": "*" },
            "Action": client_actions,
            "Condition": { "Bool": { "elasticfilesystem:AccessedViaMountTarget": "true" } },
        }),
        json!({
            "Sid": "DenyUnencryptedTransport",
            "Effect": "Deny",
            "Principal": { "AWS": "*" },
            "Action": "*",
            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
        }),
    ]);
    let mut properties = json!({
        "Encrypted": true,
        "PerformanceMode": settings.performance_mode.as_cfn(),
        "ThroughputMode": settings.throughput_mode.as_cfn(),
        "BackupPolicy": { "Status": if settings.backup { "ENABLED" } else { "DISABLED" } },
        "FileSystemPolicy": policy,
        "FileSystemTags": ctx.tags_named(&ctx.name(&ctx.stack)),
    });
    if !lifecycle.is_empty() {
        properties["LifecyclePolicies"] = Value::Array(lifecycle);
    }
    if let Some(key) = &settings.kms_key {
        properties["KmsKeyId"] = key.resolve(template);
    }
    if settings.throughput_mode == ThroughputMode::Provisioned
        && let Some(mibps) = settings.provisioned_throughput_mibps
    {
        properties["ProvisionedThroughputInMibps"] = mibps.into();
    }
    template.resource(
        FILE_SYSTEM,
        Resource::new("AWS::EFS::FileSystem", properties)
            .retain_as(aws::retain_if(ctx.is_production())),
    );
}

/// The mount targets' group, its one ingress rule from the source group,
/// the source group's egress rule to it, and a mount target per subnet.
fn add_network(template: &mut Template, ctx: &Context, settings: &Settings) {
    let vpc = template.import(&settings.networking_stack, "vpc-id");
    let (stack, output) = &settings.source;
    let source = template.import(stack, output);
    let name = ctx.name(&format!("{}-mount-targets", ctx.stack));
    template.resource(
        SECURITY_GROUP,
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("EFS mount targets of {}, reached on NFS from {stack}.{output} only", ctx.name(&ctx.stack)),
                "VpcId": vpc,
                // Mount targets answer; they never start a connection.
                "SecurityGroupEgress": [aws::disallow_all_egress()],
                "Tags": ctx.tags_named(&name),
            }),
        ),
    );
    let group = cfn::get_att(SECURITY_GROUP, "GroupId");
    template.resource(
        "MountTargetFromSourceIngress",
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "GroupId": group,
                "IpProtocol": "tcp",
                "FromPort": NFS_PORT,
                "ToPort": NFS_PORT,
                "SourceSecurityGroupId": source,
                "Description": format!("NFS from {stack}.{output}"),
            }),
        ),
    );
    if settings.source_egress {
        template.resource(
            "SourceToMountTargetEgress",
            Resource::new(
                "AWS::EC2::SecurityGroupEgress",
                json!({
                    "GroupId": source,
                    "IpProtocol": "tcp",
                    "FromPort": NFS_PORT,
                    "ToPort": NFS_PORT,
                    "DestinationSecurityGroupId": group,
                    "Description": format!("NFS to the EFS mount targets of {}", ctx.name(&ctx.stack)),
                }),
            ),
        );
    }
    let subnets = template.import(&settings.networking_stack, "private-subnet-ids");
    for index in 0..settings.availability_zones {
        template.resource(
            &format!("MountTarget{}", index + 1),
            Resource::new(
                "AWS::EFS::MountTarget",
                json!({
                    "FileSystemId": cfn::reference(FILE_SYSTEM),
                    "SubnetId": cfn::select(index, cfn::split(",", subnets.clone())),
                    "SecurityGroups": [group],
                }),
            ),
        );
    }
}

fn add_access_points(template: &mut Template, ctx: &Context, settings: &Settings) {
    for point in &settings.access_points {
        template.resource(
            &point.logical_id,
            Resource::new(
                "AWS::EFS::AccessPoint",
                json!({
                    "FileSystemId": cfn::reference(FILE_SYSTEM),
                    "PosixUser": { "Uid": point.uid.to_string(), "Gid": point.gid.to_string() },
                    "RootDirectory": {
                        "Path": point.path,
                        "CreationInfo": {
                            "OwnerUid": point.uid.to_string(),
                            "OwnerGid": point.gid.to_string(),
                            "Permissions": point.permissions,
                        },
                    },
                    "AccessPointTags": ctx.tags_named(&ctx.name(&point.name)),
                }),
            ),
        );
    }
}

strata_sdk::module! {
    name: "efs",
    description: "Encrypted EFS file system with mount targets in every private subnet, NFS from one security group, access points, backups",
    config: Config,
    render: render,
}
