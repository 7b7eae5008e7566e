//! Aurora: a cluster (the storage, endpoints, backups and master user) and
//! its instances (the compute: `db.serverless` for Serverless v2, or a
//! provisioned class). The cluster parameter group forces TLS and logs slow
//! statements, as the RDS parameter group does.
//!
//! The first instance is the writer; the others are readers Aurora spreads
//! over the subnet group's zones and promotes if the writer's zone fails.

use strata_sdk::{Context, DeletionPolicy, Resource, Template, cfn, json};

use crate::access;
use crate::config::Settings;
use crate::{add_key, key_arn};

const PARAMETER_GROUP: &str = "DatabaseClusterParameterGroup";
const CLUSTER: &str = "DatabaseCluster";

/// Logical id of the `n`th instance (1-based), e.g. `DatabaseInstance1`.
pub fn instance_id(n: u32) -> String {
    format!("DatabaseInstance{n}")
}

/// Render an Aurora stack: key, cluster parameter group, cluster,
/// instances, and the Aurora exports.
pub fn render(ctx: &Context, settings: &Settings) -> Template {
    let compute = match settings.capacity {
        Some((min, max)) => format!("Serverless v2 from {min} to {max} ACU"),
        None => settings.instance_class.clone(),
    };
    let mut template = Template::new(
        ctx,
        format!(
            "{}: {} {}, {}, {} instance(s)",
            settings.identifier,
            settings.engine.title(),
            settings.engine_version,
            compute,
            settings.instances
        ),
    );
    add_key(&mut template, ctx, settings);
    add_parameter_group(&mut template, ctx, settings);
    let log_groups = access::add_log_groups(&mut template, ctx, settings);
    if settings.enhanced_monitoring_seconds > 0 {
        access::add_monitoring_role(&mut template, ctx);
    }
    add_cluster(&mut template, ctx, settings, &log_groups);
    for n in 1..=settings.instances {
        add_instance(&mut template, ctx, settings, n);
    }

    template.export(
        "endpoint-address",
        cfn::get_att(CLUSTER, "Endpoint.Address"),
        "Hostname of the cluster's writer endpoint",
    );
    template.export(
        "reader-endpoint-address",
        cfn::get_att(CLUSTER, "ReadEndpoint.Address"),
        "Hostname of the cluster's reader endpoint (load-balanced over the readers)",
    );
    template.export(
        "endpoint-port",
        cfn::get_att(CLUSTER, "Endpoint.Port"),
        "Port of the cluster",
    );
    template.export(
        "secret-arn",
        cfn::get_att(CLUSTER, "MasterUserSecret.SecretArn"),
        "ARN of the Secrets Manager secret holding the master user's credentials",
    );
    template.export(
        "cluster-id",
        cfn::reference(CLUSTER),
        "Aurora cluster identifier",
    );
    template.export(
        "kms-key-arn",
        key_arn(),
        "ARN of the KMS key encrypting the database and its secrets",
    );
    access::add_app_user(
        &mut template,
        ctx,
        settings,
        CLUSTER,
        cfn::get_att(CLUSTER, "MasterUserSecret.SecretArn"),
    );
    template
}

/// Unnamed, so a major version upgrade (a new family) can replace it.
fn add_parameter_group(template: &mut Template, ctx: &Context, settings: &Settings) {
    template.resource(
        PARAMETER_GROUP,
        Resource::new(
            "AWS::RDS::DBClusterParameterGroup",
            json!({
                "Family": settings.family,
                "Description": format!("{}: TLS only, slow statement logging", settings.identifier),
                "Parameters": settings.engine.parameters(settings.log_min_duration_statement_ms),
                "Tags": ctx.tags(),
            }),
        ),
    );
}

/// Deleting or replacing the cluster takes a final snapshot of its volume.
/// The cluster waits for its log groups, so RDS finds them declared.
fn add_cluster(template: &mut Template, ctx: &Context, settings: &Settings, log_groups: &[String]) {
    let subnet_group = template.import(&settings.networking_stack, "db-subnet-group-name");
    let security_group = template.import(&settings.security_stack, "database-security-group-id");
    let mut properties = json!({
        "DBClusterIdentifier": settings.identifier,
        "Engine": settings.engine.name(),
        "EngineVersion": settings.engine_version,
        "DBClusterParameterGroupName": cfn::reference(PARAMETER_GROUP),
        "DatabaseName": settings.database_name,
        "MasterUsername": settings.master_username,
        // RDS generates the password, keeps it in Secrets Manager encrypted
        // with the database's key, and rotates it (every 7 days unless
        // changed in Secrets Manager); it never enters the template.
        "ManageMasterUserPassword": true,
        "MasterUserSecret": { "KmsKeyId": key_arn() },
        "StorageEncrypted": true,
        "KmsKeyId": key_arn(),
        "DBSubnetGroupName": subnet_group,
        "VpcSecurityGroupIds": [security_group],
        "BackupRetentionPeriod": settings.backup_retention_days,
        "CopyTagsToSnapshot": true,
        "DeletionProtection": settings.deletion_protection,
        "EnableCloudwatchLogsExports": settings.engine.log_exports(),
        "Tags": ctx.tags_named(&settings.identifier),
    });
    if let Some((min, max)) = settings.capacity {
        properties["ServerlessV2ScalingConfiguration"] =
            json!({ "MinCapacity": min, "MaxCapacity": max });
    }
    if let Some(port) = settings.port {
        properties["Port"] = port.into();
    }
    let mut cluster =
        Resource::new("AWS::RDS::DBCluster", properties).retain_as(DeletionPolicy::Snapshot);
    for log_group in log_groups {
        cluster = cluster.depends_on(log_group);
    }
    template.resource(CLUSTER, cluster);
}

/// An instance holds no data (the cluster volume does, and the cluster
/// takes the final snapshot), and CloudFormation cannot snapshot a cluster
/// member: it goes with the stack, said explicitly.
fn add_instance(template: &mut Template, ctx: &Context, settings: &Settings, n: u32) {
    let identifier = format!("{}-{n}", settings.identifier);
    let mut properties = json!({
        "DBInstanceIdentifier": identifier,
        "DBClusterIdentifier": cfn::reference(CLUSTER),
        "Engine": settings.engine.name(),
        "DBInstanceClass": settings.instance_class,
        "PubliclyAccessible": false,
        "AutoMinorVersionUpgrade": true,
        "EnablePerformanceInsights": settings.performance_insights,
        "Tags": ctx.tags_named(&identifier),
    });
    if settings.performance_insights {
        // 7 days is the free tier.
        properties["PerformanceInsightsKMSKeyId"] = key_arn();
        properties["PerformanceInsightsRetentionPeriod"] = 7.into();
    }
    if settings.enhanced_monitoring_seconds > 0 {
        properties["MonitoringInterval"] = settings.enhanced_monitoring_seconds.into();
        properties["MonitoringRoleArn"] = cfn::get_att(access::MONITORING_ROLE, "Arn");
    }
    template.resource(
        &instance_id(n),
        Resource::new("AWS::RDS::DBInstance", properties).retain_as(DeletionPolicy::Delete),
    );
}
